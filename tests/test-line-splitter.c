/* test-line-splitter.c — the bounded line splitter, fed whole and byte by byte. */
#include <glib.h>
#include <string.h>

#include "line-splitter.h"

/* Feeds `input` in chunks of `chunk` bytes and collects "line" for complete
 * lines and "!" for each too-long report. */
static char *
split (const char *input, gsize len, gsize max, gsize chunk)
{
  g_autoptr (MsLineSplitter) s = ms_line_splitter_new (max);
  GString *out = g_string_new (NULL);

  for (gsize off = 0; off < len; off += chunk) {
    const char *line;
    gsize n;
    MsLineStatus st;
    ms_line_splitter_feed (s, input + off, MIN (chunk, len - off));
    while ((st = ms_line_splitter_next (s, &line, &n)) != MS_LINE_NEED_MORE) {
      if (st == MS_LINE_TOO_LONG)
        g_string_append (out, "!|");
      else
        g_string_append_printf (out, "%.*s|", (int) n, line);
    }
  }
  return g_string_free (out, FALSE);
}

static void
check_all_chunkings (const char *input, gsize max, const char *want)
{
  gsize len = strlen (input);
  for (gsize chunk = 1; chunk <= len + 1; chunk++) {
    g_autofree char *got = split (input, len, max, chunk);
    g_assert_cmpstr (got, ==, want);
  }
}

static void
test_simple (void)
{
  check_all_chunkings ("INBOX\nfoo.bar\n", 100, "INBOX|foo.bar|");
}

static void
test_empty_line (void)
{
  check_all_chunkings ("\n\nx\n", 100, "||x|");
}

static void
test_partial_kept (void)
{
  check_all_chunkings ("abc\nde", 100, "abc|");
}

/* Spaces and other bytes are kept verbatim. */
static void
test_verbatim (void)
{
  check_all_chunkings ("  sp x \na\tb\n", 100, "  sp x |a\tb|");
}

/* A line of exactly max bytes passes; one byte more is too long, reported
 * once, and its tail never shows up as a line (mswatch 1.2's bug). */
static void
test_limit (void)
{
  check_all_chunkings ("12345\n123456\nok\n", 5, "12345|!|ok|");
  check_all_chunkings ("1234567890123\nok\n", 5, "!|ok|");
}

/* Every prefix of a valid input yields only complete lines seen so far. */
static void
test_prefixes (void)
{
  const char *input = "INBOX\nfoo\nbar.baz\n";
  gsize len = strlen (input);
  for (gsize p = 0; p <= len; p++) {
    g_autofree char *got = split (input, p, 100, 1);
    gsize lines = 0;
    for (gsize i = 0; i < p; i++)
      lines += input[i] == '\n';
    gsize bars = 0;
    for (const char *c = got; *c; c++)
      bars += *c == '|';
    g_assert_cmpuint (bars, ==, lines);
  }
}

/* Memory stays bounded while a huge line streams through. */
static void
test_bounded (void)
{
  g_autoptr (MsLineSplitter) s = ms_line_splitter_new (4095);
  char chunk[4096];
  const char *line;
  gsize n;
  guint too_long = 0;

  memset (chunk, 'L', sizeof chunk);
  for (int i = 0; i < 256; i++) {
    ms_line_splitter_feed (s, chunk, sizeof chunk);
    while (ms_line_splitter_next (s, &line, &n) == MS_LINE_TOO_LONG)
      too_long++;
    g_assert_cmpuint (ms_line_splitter_pending (s), <=, 4095);
  }
  g_assert_cmpuint (too_long, ==, 1);
  ms_line_splitter_feed (s, "\nnext\n", 6);
  g_assert_cmpint (ms_line_splitter_next (s, &line, &n), ==, MS_LINE_COMPLETE);
  g_assert_cmpmem (line, n, "next", 4);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/line-splitter/simple", test_simple);
  g_test_add_func ("/line-splitter/empty-line", test_empty_line);
  g_test_add_func ("/line-splitter/partial-kept", test_partial_kept);
  g_test_add_func ("/line-splitter/verbatim", test_verbatim);
  g_test_add_func ("/line-splitter/limit", test_limit);
  g_test_add_func ("/line-splitter/prefixes", test_prefixes);
  g_test_add_func ("/line-splitter/bounded", test_bounded);
  return g_test_run ();
}
