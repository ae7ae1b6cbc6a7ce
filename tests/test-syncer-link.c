/* test-syncer-link.c — the pure part of the syncer link: parsing one line
 * of syncer output (docs/protocol.md), every kind, every error, and text
 * that is unfit to print. */
#include <glib.h>
#include <string.h>

#include "ms-error.h"
#include "syncer-link.h"

static MsSyncerLine
parse_ok (const char *text)
{
  g_autoptr (GError) error = NULL;
  MsSyncerLine line;

  gboolean ok = ms_syncer_line_parse (text, strlen (text), &line, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_null (line.text_error);
  return line;
}

static void
assert_text (const MsSyncerLine *line, const char *want)
{
  g_autofree char *got = g_strndup (line->text, line->text_len);
  g_assert_cmpstr (got, ==, want);
}

/* Parses line[0..len) expecting MS_ERROR_PROTOCOL with exactly `why`, and
 * *out left alone. */
static void
parse_bad_len (const char *text, gsize len, const char *why)
{
  g_autoptr (GError) error = NULL;
  MsSyncerLine line = { .kind = MS_SYNCER_LINE_FAIL, .tag = "untouched" };

  g_assert_false (ms_syncer_line_parse (text, len, &line, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_PROTOCOL);
  g_assert_cmpstr (error->message, ==, why);
  g_assert_cmpstr (line.tag, ==, "untouched");
}

static void
parse_bad (const char *text, const char *why)
{
  parse_bad_len (text, strlen (text), why);
}

static void
test_greeting (void)
{
  MsSyncerLine l = parse_ok ("* MSWATCH-SYNCER 1 sync_imap 0.1 ready");
  g_assert_cmpint (l.kind, ==, MS_SYNCER_LINE_GREETING);
  g_assert_cmpuint (l.version, ==, 1);
  g_assert_cmpstr (l.tag, ==, "");
  assert_text (&l, "sync_imap 0.1 ready");

  l = parse_ok ("* MSWATCH-SYNCER 1");
  g_assert_cmpint (l.kind, ==, MS_SYNCER_LINE_GREETING);
  assert_text (&l, "");

  /* Another version parses; the link decides what it means. */
  l = parse_ok ("* MSWATCH-SYNCER 2 future");
  g_assert_cmpuint (l.version, ==, 2);
  l = parse_ok ("* MSWATCH-SYNCER 999999999");
  g_assert_cmpuint (l.version, ==, 999999999);
}

static void
test_greeting_bad (void)
{
  parse_bad ("* MSWATCH-SYNCER", "greeting without a version");
  parse_bad ("* MSWATCH-SYNCER ", "greeting version is missing");
  parse_bad ("* MSWATCH-SYNCER one", "greeting version is not a decimal number");
  parse_bad ("* MSWATCH-SYNCER 1.0", "greeting version is not a decimal number");
  parse_bad ("* MSWATCH-SYNCER -1", "greeting version is not a decimal number");
  parse_bad ("* MSWATCH-SYNCER 1234567890", "greeting version has more than 9 digits");
}

static void
test_info (void)
{
  MsSyncerLine l = parse_ok ("* connection lost, reconnecting");
  g_assert_cmpint (l.kind, ==, MS_SYNCER_LINE_INFO);
  assert_text (&l, "connection lost, reconnecting");

  l = parse_ok ("*");
  g_assert_cmpint (l.kind, ==, MS_SYNCER_LINE_INFO);
  assert_text (&l, "");

  /* Only the exact word is a greeting. */
  l = parse_ok ("* MSWATCH-SYNCERS 1");
  g_assert_cmpint (l.kind, ==, MS_SYNCER_LINE_INFO);
  assert_text (&l, "MSWATCH-SYNCERS 1");
  l = parse_ok ("* mswatch-syncer 1");
  g_assert_cmpint (l.kind, ==, MS_SYNCER_LINE_INFO);

  parse_bad ("*x", "'*' is not followed by a space");
}

static void
test_connection (void)
{
  MsSyncerLine l = parse_ok ("* CONNECTION 2 of 4 connections open to imap.example.org");
  g_assert_cmpint (l.kind, ==, MS_SYNCER_LINE_CONNECTION);
  assert_text (&l, "2 of 4 connections open to imap.example.org");

  l = parse_ok ("* CONNECTION");
  g_assert_cmpint (l.kind, ==, MS_SYNCER_LINE_CONNECTION);
  assert_text (&l, "");

  /* Only the exact word, in capitals. */
  l = parse_ok ("* CONNECTIONS lost");
  g_assert_cmpint (l.kind, ==, MS_SYNCER_LINE_INFO);
  assert_text (&l, "CONNECTIONS lost");
  l = parse_ok ("* connection lost");
  g_assert_cmpint (l.kind, ==, MS_SYNCER_LINE_INFO);

}

static void
test_ok (void)
{
  MsSyncerLine l = parse_ok ("a1 OK 3 0");
  g_assert_cmpint (l.kind, ==, MS_SYNCER_LINE_OK);
  g_assert_cmpstr (l.tag, ==, "a1");
  g_assert_cmpint (l.in, ==, 3);
  g_assert_cmpint (l.out, ==, 0);
  assert_text (&l, "");

  l = parse_ok ("Z9 OK 120 7 fetched 120 messages, 3.1 MB");
  g_assert_cmpint (l.in, ==, 120);
  g_assert_cmpint (l.out, ==, 7);
  assert_text (&l, "fetched 120 messages, 3.1 MB");

  l = parse_ok ("abcdefghijklmnop OK 999999999999999999 000000000000000001");
  g_assert_cmpstr (l.tag, ==, "abcdefghijklmnop");
  g_assert_cmpint (l.in, ==, G_GINT64_CONSTANT (999999999999999999));
  g_assert_cmpint (l.out, ==, 1);
}

static void
test_ok_bad (void)
{
  parse_bad ("a1 OK", "OK without its two counts");
  parse_bad ("a1 OK 3", "OK without its OUT count");
  parse_bad ("a1 OK 3 ", "OUT count is missing");
  parse_bad ("a1 OK  3 0", "IN count is missing");
  parse_bad ("a1 OK x 0", "IN count is not a decimal number");
  parse_bad ("a1 OK 3 0x", "OUT count is not a decimal number");
  parse_bad ("a1 OK +3 0", "IN count is not a decimal number");
  parse_bad ("a1 OK 1000000000000000000 0", "IN count has more than 18 digits");
}

static void
test_retry_fail_progress (void)
{
  MsSyncerLine l = parse_ok ("a2 RETRY connection to imap.example.org lost");
  g_assert_cmpint (l.kind, ==, MS_SYNCER_LINE_RETRY);
  g_assert_cmpstr (l.tag, ==, "a2");
  assert_text (&l, "connection to imap.example.org lost");

  l = parse_ok ("a3 FAIL mailbox \"Spam\" does not exist");
  g_assert_cmpint (l.kind, ==, MS_SYNCER_LINE_FAIL);
  assert_text (&l, "mailbox \"Spam\" does not exist");

  l = parse_ok ("a4 PROGRESS 120/5000 messages\t3.1 MB");
  g_assert_cmpint (l.kind, ==, MS_SYNCER_LINE_PROGRESS);
  assert_text (&l, "120/5000 messages\t3.1 MB");

  /* The reason may be missing or empty. */
  l = parse_ok ("a5 RETRY");
  g_assert_cmpint (l.kind, ==, MS_SYNCER_LINE_RETRY);
  assert_text (&l, "");
  l = parse_ok ("a5 FAIL ");
  g_assert_cmpint (l.kind, ==, MS_SYNCER_LINE_FAIL);
  assert_text (&l, "");

  /* UTF-8 text passes as is. */
  l = parse_ok ("a6 RETRY Boîte « Envoyés » verrouillée");
  assert_text (&l, "Boîte « Envoyés » verrouillée");
}

static void
test_tag_and_keyword_bad (void)
{
  parse_bad ("", "empty line");
  parse_bad (" OK 1 2", "empty tag");
  parse_bad ("abcdefghijklmnopq OK 1 2", "tag longer than 16 characters");
  parse_bad ("a-1 OK 1 2", "tag has a character other than A-Z, a-z and 0-9");
  parse_bad ("a_1 OK 1 2", "tag has a character other than A-Z, a-z and 0-9");
  parse_bad ("é OK 1 2", "tag has a character other than A-Z, a-z and 0-9");
  parse_bad ("a1", "no keyword after the tag");
  parse_bad ("a1 ", "no keyword after the tag");
  parse_bad ("a1  OK 1 2", "no keyword after the tag");
  parse_bad ("a1 ok 1 2", "unknown keyword");
  parse_bad ("a1 DONE", "unknown keyword");
  parse_bad ("a1 SYNC INBOX", "unknown keyword");
  parse_bad ("a1 OKAY 1 2", "unknown keyword");
}

/* Parses text[0..len) expecting success with text_error == why. */
static void
parse_text_bad_len (const char *text, gsize len, MsSyncerLineKind kind, const char *why)
{
  g_autoptr (GError) error = NULL;
  MsSyncerLine line;

  g_assert_true (ms_syncer_line_parse (text, len, &line, &error));
  g_assert_no_error (error);
  g_assert_cmpint (line.kind, ==, kind);
  g_assert_cmpstr (line.text_error, ==, why);
}

static void
parse_text_bad (const char *text, MsSyncerLineKind kind, const char *why)
{
  parse_text_bad_len (text, strlen (text), kind, why);
}

/* Bad free text does not lose the line's meaning: it parses, and says
 * what is wrong with the text. */
static void
test_text_rules (void)
{
  const char *control = "contains a control character", *utf8 = "not valid UTF-8";

  parse_text_bad ("a1 RETRY bad\001char", MS_SYNCER_LINE_RETRY, control);
  parse_text_bad ("* CONNECTION down: \033[2J", MS_SYNCER_LINE_CONNECTION, control);
  parse_text_bad ("a1 FAIL carriage return\r", MS_SYNCER_LINE_FAIL, control);
  parse_text_bad ("* escape \033[2J", MS_SYNCER_LINE_INFO, control);
  parse_text_bad ("a1 PROGRESS del\177", MS_SYNCER_LINE_PROGRESS, control);
  parse_text_bad ("a1 OK 1 2 caf\351", MS_SYNCER_LINE_OK, utf8);
  parse_text_bad ("a1 RETRY caf\303", MS_SYNCER_LINE_RETRY, utf8);
  parse_text_bad_len ("a1 RETRY nul\0here", 16, MS_SYNCER_LINE_RETRY, utf8);
  parse_text_bad ("* MSWATCH-SYNCER 1 \377", MS_SYNCER_LINE_GREETING, utf8);

  /* Tab, and non-ASCII characters of any kind, are fine. */
  MsSyncerLine l = parse_ok ("a1 RETRY tab\there, C1 \302\233 too");
  g_assert_null (l.text_error);

  /* Outside the text, a stray byte breaks the line itself. */
  parse_bad ("\377\376", "tag has a character other than A-Z, a-z and 0-9");
  parse_bad ("a1 OK 1\001 2", "IN count is not a decimal number");
  parse_bad ("a1 RETRY\001", "unknown keyword");
}

/* The parser reads exactly len bytes: what follows is not its business. */
static void
test_length_respected (void)
{
  g_autoptr (GError) error = NULL;
  MsSyncerLine l;
  const char *buf = "a1 OK 1 2 text\nnext line";

  g_assert_true (ms_syncer_line_parse (buf, strlen ("a1 OK 1 2 text"), &l, &error));
  assert_text (&l, "text");
  g_assert_true (ms_syncer_line_parse (buf, strlen ("a1 OK 1 2"), &l, &error));
  assert_text (&l, "");
  g_assert_cmpint (l.out, ==, 2);
}

/* Every prefix of a valid line either parses or fails cleanly. */
static void
test_prefixes (void)
{
  const char *lines[] = {
    "* MSWATCH-SYNCER 1 hi", "abc OK 12 34 done", "x RETRY later", "y PROGRESS 1/2",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (lines); i++) {
    for (gsize n = 0; n <= strlen (lines[i]); n++) {
      g_autoptr (GError) error = NULL;
      MsSyncerLine l;
      if (ms_syncer_line_parse (lines[i], n, &l, &error))
        g_assert_cmpuint (l.text_len, <=, n);
      else
        g_assert_error (error, MS_ERROR, MS_ERROR_PROTOCOL);
    }
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/syncer-line/greeting", test_greeting);
  g_test_add_func ("/syncer-line/greeting-bad", test_greeting_bad);
  g_test_add_func ("/syncer-line/info", test_info);
  g_test_add_func ("/syncer-line/connection", test_connection);
  g_test_add_func ("/syncer-line/ok", test_ok);
  g_test_add_func ("/syncer-line/ok-bad", test_ok_bad);
  g_test_add_func ("/syncer-line/retry-fail-progress", test_retry_fail_progress);
  g_test_add_func ("/syncer-line/tag-and-keyword-bad", test_tag_and_keyword_bad);
  g_test_add_func ("/syncer-line/text-rules", test_text_rules);
  g_test_add_func ("/syncer-line/length-respected", test_length_respected);
  g_test_add_func ("/syncer-line/prefixes", test_prefixes);
  return g_test_run ();
}
