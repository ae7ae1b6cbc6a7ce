/* fuzz-line-splitter.c — the line splitter never returns a line over its
 * limit or containing '\n', never holds more than the limit, and loses no
 * byte of a short line, however the input is cut into chunks.  The first
 * input byte picks the chunk size and the limit. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "line-splitter.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  gsize chunk = 1 + (data[0] & 0x0f);
  gsize max = 1 + (data[0] >> 4) * 4;
  data++;
  size--;

  g_autoptr (MsLineSplitter) s = ms_line_splitter_new (max);
  gsize lines = 0, newlines = 0;
  for (gsize off = 0; off < size; off += chunk) {
    const char *line;
    gsize n;
    MsLineStatus st;
    ms_line_splitter_feed (s, (const char *) data + off, MIN (chunk, size - off));
    while ((st = ms_line_splitter_next (s, &line, &n)) != MS_LINE_NEED_MORE) {
      lines++;
      if (st == MS_LINE_COMPLETE) {
        g_assert_cmpuint (n, <=, max);
        g_assert_null (memchr (line, '\n', n));
      }
    }
    g_assert_cmpuint (ms_line_splitter_pending (s), <=, max);
  }
  for (gsize i = 0; i < size; i++)
    newlines += data[i] == '\n';
  /* Each '\n' ends at most one line; a too-long report may precede its '\n'. */
  g_assert_cmpuint (lines, <=, newlines + size / (max + 1) + 1);
  return 0;
}
