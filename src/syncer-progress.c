/* syncer-progress.c — see syncer-progress.h. */
#include "syncer-progress.h"

#include <string.h>

/* The most digits a count may have: 18 keeps it below G_MAXINT64 (as the
 * counts of OK lines, protocol.md). */
#define COUNT_DIGITS_MAX 18

void
ms_syncer_progress_init (MsSyncerProgress *p)
{
  *p = (MsSyncerProgress) { NULL, -1, -1, NULL };
}

static void
download_free (gpointer data)
{
  MsSyncerDownload *d = data;
  g_free (d->mailbox);
  g_free (d);
}

void
ms_syncer_progress_clear (MsSyncerProgress *p)
{
  g_free (p->text);
  g_clear_pointer (&p->downloads, g_ptr_array_unref);
  ms_syncer_progress_init (p);
}

/* Reads "DONE/TOTAL" ending at `end` (exclusive), backwards; on success
 * sets *start to its first byte. */
static gboolean
counts_before (const char *text, const char *end, guint64 *done, guint64 *total, const char **start)
{
  const char *p = end;
  guint64 v[2] = { 0, 0 };
  for (int i = 1; i >= 0; i--) {
    const char *digits_end = p;
    while (p > text && g_ascii_isdigit (p[-1]))
      p--;
    gsize n = (gsize) (digits_end - p);
    if (n == 0 || n > COUNT_DIGITS_MAX)
      return FALSE;
    for (const char *q = p; q < digits_end; q++)
      v[i] = v[i] * 10 + (guint64) (*q - '0');
    if (i == 1) {
      if (p == text || p[-1] != '/')
        return FALSE;
      p--;
    }
  }
  if (v[0] > v[1])
    return FALSE;
  *done = v[0];
  *total = v[1];
  *start = p;
  return TRUE;
}

static gboolean
ends_with (const char *text, const char *end, const char *suffix)
{
  gsize n = strlen (suffix);
  return (gsize) (end - text) >= n && memcmp (end - n, suffix, n) == 0;
}

void
ms_syncer_progress_parse (const char *text, gsize len, MsSyncerProgressLine *out)
{
  const char *end = text + len, *start;
  *out = (MsSyncerProgressLine) { MS_SYNCER_PROGRESS_FREE, 0, 0, 0, 0, 0 };

  if (ends_with (text, end, " mailboxes")) {
    if (counts_before (text, end - strlen (" mailboxes"), &out->done, &out->total, &start) && start == text)
      out->kind = MS_SYNCER_PROGRESS_MAILBOXES;
    return;
  }
  if (!ends_with (text, end, " bytes")
      || !counts_before (text, end - strlen (" bytes"), &out->bytes_done, &out->bytes_total, &start)
      || !ends_with (text, start, " messages, ")
      || !counts_before (text, start - strlen (" messages, "), &out->done, &out->total, &start))
    return;
  if (start != text) {
    /* "NAME: " before the counts; a name may hold ": " itself. */
    if (!ends_with (text, start, ": ") || start - text == 2)
      return;
    out->name_len = (gsize) (start - text) - 2;
  }
  out->kind = MS_SYNCER_PROGRESS_DOWNLOAD;
}

/* "500 bytes", "2.0 kB", "3.1 MB": decimal units, as g_format_size(),
 * but with a plain space and a '.' whatever the locale (log lines are
 * grepped). */
static char *
format_size (guint64 bytes)
{
  static const char *const units[] = { "kB", "MB", "GB", "TB", "PB" };
  if (bytes < 1000)
    return g_strdup_printf ("%" G_GUINT64_FORMAT " bytes", bytes);
  double v = (double) bytes;
  guint u = 0;
  for (v /= 1000.0; v >= 1000.0 && u + 1 < G_N_ELEMENTS (units); v /= 1000.0)
    u++;
  char number[G_ASCII_DTOSTR_BUF_SIZE];
  return g_strdup_printf ("%s %s", g_ascii_formatd (number, sizeof number, "%.1f", v), units[u]);
}

char *
ms_syncer_download_describe (const MsSyncerDownload *d)
{
  g_autofree char *done = format_size (d->bytes_done), *total = format_size (d->bytes_total);
  return g_strdup_printf ("%s%s%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT " messages, %s of %s",
                          d->mailbox ? d->mailbox : "", d->mailbox ? ": " : "", d->messages_done,
                          d->messages_total, done, total);
}

char *
ms_syncer_progress_summary (const MsSyncerProgress *p)
{
  guint n = p->downloads ? p->downloads->len : 0;
  if (p->mailboxes_done < 0 && n == 0)
    return g_strdup (p->text);
  GString *s = g_string_new (NULL);
  if (p->mailboxes_done >= 0)
    g_string_append_printf (s, "%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT " mailboxes", p->mailboxes_done,
                            p->mailboxes_total);
  for (guint i = 0; i < n; i++) {
    g_autofree char *d = ms_syncer_download_describe (g_ptr_array_index (p->downloads, i));
    g_string_append_printf (s, "%s%s", s->len > 0 ? "; " : "", d);
  }
  return g_string_free (s, FALSE);
}

static MsSyncerDownload *
find_download (MsSyncerProgress *p, const char *name, gsize name_len, guint *index)
{
  for (guint i = 0; i < p->downloads->len; i++) {
    MsSyncerDownload *d = g_ptr_array_index (p->downloads, i);
    gboolean same = name_len == 0 ? d->mailbox == NULL
                                  : d->mailbox != NULL && strlen (d->mailbox) == name_len
                                      && memcmp (d->mailbox, name, name_len) == 0;
    if (same) {
      *index = i;
      return d;
    }
  }
  return NULL;
}

const char *
ms_syncer_progress_take (MsSyncerProgress *p, const char *text, gsize len)
{
  MsSyncerProgressLine line;
  ms_syncer_progress_parse (text, len, &line);
  g_free (p->text);
  p->text = NULL;

  switch (line.kind) {
  case MS_SYNCER_PROGRESS_FREE:
    p->text = g_strndup (text, len);
    break;
  case MS_SYNCER_PROGRESS_MAILBOXES:
    p->mailboxes_done = (gint64) line.done;
    p->mailboxes_total = (gint64) line.total;
    p->text = g_strndup (text, len);
    break;
  case MS_SYNCER_PROGRESS_DOWNLOAD: {
    if (p->downloads == NULL)
      p->downloads = g_ptr_array_new_with_free_func (download_free);
    guint index;
    MsSyncerDownload *d = find_download (p, text, line.name_len, &index);
    if (d != NULL) {
      g_ptr_array_steal_index (p->downloads, index);
    } else {
      d = g_new0 (MsSyncerDownload, 1);
      d->mailbox = line.name_len > 0 ? g_strndup (text, line.name_len) : NULL;
    }
    d->messages_done = line.done;
    d->messages_total = line.total;
    d->bytes_done = line.bytes_done;
    d->bytes_total = line.bytes_total;
    p->text = ms_syncer_download_describe (d);
    if (d->messages_done == d->messages_total) {
      download_free (d);
    } else {
      g_ptr_array_add (p->downloads, d);
      if (p->downloads->len > MS_SYNCER_PROGRESS_DOWNLOADS_MAX)
        g_ptr_array_remove_index (p->downloads, 0);
    }
    break;
  }
  }
  return p->text;
}
