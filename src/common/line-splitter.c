/* line-splitter.c — see line-splitter.h.
 *
 * The buffer holds [start, end) of unconsumed bytes.  Consumed bytes are
 * dropped lazily at the next feed, so a returned line stays valid until then.
 * While `skipping` is set we are inside an over-long line: bytes are thrown
 * away until the next '\n', which ends the skip.
 */
#include "line-splitter.h"

#include <string.h>

struct MsLineSplitter {
  GByteArray *buf;
  gsize start;
  gsize max_line;
  gboolean skipping;
};

MsLineSplitter *
ms_line_splitter_new (gsize max_line)
{
  g_return_val_if_fail (max_line >= 1, NULL);
  MsLineSplitter *s = g_new0 (MsLineSplitter, 1);
  s->buf = g_byte_array_new ();
  s->max_line = max_line;
  return s;
}

void
ms_line_splitter_free (MsLineSplitter *splitter)
{
  if (splitter == NULL)
    return;
  g_byte_array_unref (splitter->buf);
  g_free (splitter);
}

void
ms_line_splitter_feed (MsLineSplitter *s, const char *data, gsize len)
{
  g_return_if_fail (s != NULL);
  if (s->start > 0) {
    g_byte_array_remove_range (s->buf, 0, s->start);
    s->start = 0;
  }
  g_byte_array_append (s->buf, (const guint8 *) data, len);
}

MsLineStatus
ms_line_splitter_next (MsLineSplitter *s, const char **line, gsize *len)
{
  g_return_val_if_fail (s != NULL, MS_LINE_NEED_MORE);

  for (;;) {
    const char *base = (const char *) s->buf->data + s->start;
    gsize avail = s->buf->len - s->start;
    const char *nl = avail ? memchr (base, '\n', avail) : NULL;

    if (s->skipping) {
      if (nl == NULL) {
        s->start = s->buf->len;
        return MS_LINE_NEED_MORE;
      }
      s->skipping = FALSE;
      s->start += (gsize) (nl - base) + 1;
      continue;
    }

    if (nl != NULL) {
      gsize n = (gsize) (nl - base);
      s->start += n + 1;
      if (n > s->max_line)
        return MS_LINE_TOO_LONG;
      *line = base;
      *len = n;
      return MS_LINE_COMPLETE;
    }

    if (avail > s->max_line) {
      s->skipping = TRUE;
      s->start = s->buf->len;
      return MS_LINE_TOO_LONG;
    }
    return MS_LINE_NEED_MORE;
  }
}

gsize
ms_line_splitter_pending (const MsLineSplitter *s)
{
  g_return_val_if_fail (s != NULL, 0);
  return s->skipping ? 0 : s->buf->len - s->start;
}
