/* fuzz-syncer-line.c — fuzz target for the parser of syncer output lines.
 *
 * The input is split into lines by the bounded line splitter, as the link
 * does with a syncer's stdout, and each line is copied into a buffer of
 * exactly its size (a read past it is caught by AddressSanitizer) and
 * parsed.  Beyond "no crash", it checks the parser's contract: a parsed
 * line has a well-formed tag exactly when it is an answer, its text lies
 * inside the line and is printable unless text_error says otherwise, and a
 * failure is a protocol error with a message.  The text of every PROGRESS
 * line then goes to one MsSyncerProgress (syncer-progress.h), as the link
 * keeps it for a request: no download shows more done than its total, a
 * finished one is not kept, and no more than the limit are.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "line-splitter.h"
#include "ms-error.h"
#include "syncer-link.h"
#include "syncer-progress.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_progress (MsSyncerProgress *p, const char *text, gsize len)
{
  const char *shown = ms_syncer_progress_take (p, text, len);
  g_assert_nonnull (shown);
  g_assert_true (shown == p->text);
  g_assert_true (p->mailboxes_done <= p->mailboxes_total);
  guint n = p->downloads ? p->downloads->len : 0;
  g_assert_cmpuint (n, <=, MS_SYNCER_PROGRESS_DOWNLOADS_MAX);
  for (guint i = 0; i < n; i++) {
    const MsSyncerDownload *d = g_ptr_array_index (p->downloads, i);
    g_assert_cmpuint (d->messages_done, <, d->messages_total);
    g_assert_cmpuint (d->bytes_done, <=, d->bytes_total);
  }
  g_free (ms_syncer_progress_summary (p));
}

static void
check_line (MsSyncerProgress *progress, const char *text, gsize len)
{
  g_autoptr (GError) error = NULL;
  MsSyncerLine line;
  char *copy = g_memdup2 (text, len);

  if (ms_syncer_line_parse (copy, len, &line, &error)) {
    g_assert_no_error (error);
    gsize tag_len = strlen (line.tag);
    gboolean answer = line.kind != MS_SYNCER_LINE_GREETING && line.kind != MS_SYNCER_LINE_INFO
                      && line.kind != MS_SYNCER_LINE_CONNECTION;
    g_assert_true (answer == (tag_len > 0));
    g_assert_cmpuint (tag_len, <=, MS_SYNCER_TAG_MAX);
    for (gsize i = 0; i < tag_len; i++)
      g_assert_true (g_ascii_isalnum (line.tag[i]));
    g_assert_true (line.text >= copy && line.text + line.text_len == copy + len);
    g_assert_true (line.in >= 0 && line.out >= 0);
    if (line.text_error == NULL) {
      g_assert_true (g_utf8_validate_len (line.text, line.text_len, NULL));
      for (gsize i = 0; i < line.text_len; i++)
        g_assert_true (((guchar) line.text[i] >= 0x20 || line.text[i] == '\t') && line.text[i] != 0x7f);
      if (line.kind == MS_SYNCER_LINE_PROGRESS)
        check_progress (progress, line.text, line.text_len);
    }
  } else {
    g_assert_error (error, MS_ERROR, MS_ERROR_PROTOCOL);
    g_assert_true (error->message[0] != '\0');
  }
  g_free (copy);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (MsLineSplitter) lines = ms_line_splitter_new (MS_SYNCER_LINE_MAX);
  MsSyncerProgress progress;
  ms_syncer_progress_init (&progress);
  const char *text;
  gsize len;
  MsLineStatus st;

  ms_line_splitter_feed (lines, (const char *) data, size);
  /* An unfinished last line is parsed too: fuzzed input rarely ends in '\n'. */
  if (size > 0 && data[size - 1] != '\n')
    ms_line_splitter_feed (lines, "\n", 1);
  while ((st = ms_line_splitter_next (lines, &text, &len)) != MS_LINE_NEED_MORE)
    if (st == MS_LINE_COMPLETE)
      check_line (&progress, text, len);
  ms_syncer_progress_clear (&progress);
  return 0;
}
