/* test-ssh-relay.c — which remote lines pass, which are dropped and why,
 * one byte at a time as well as whole; and how remote stderr is shown. */
#include <glib.h>
#include <string.h>

#include "mailbox-name.h"
#include "ssh-relay.h"

/* Feeds `input` in chunks of `chunk` bytes and returns what came out, one
 * entry per result: "+NAME" for a line that passed, "-REASON" for a drop. */
static GPtrArray *
relay_all (const char *input, gsize len, gsize chunk)
{
  g_autoptr (MsSshRelay) relay = ms_ssh_relay_new ();
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  for (gsize off = 0; off < len; off += chunk) {
    ms_ssh_relay_feed (relay, input + off, MIN (chunk, len - off));
    for (;;) {
      const char *line;
      gsize n;
      char *reason = NULL;
      MsSshRelayResult r = ms_ssh_relay_next (relay, &line, &n, &reason);
      if (r == MS_SSH_RELAY_NEED_MORE) {
        g_assert_null (reason);
        break;
      }
      if (r == MS_SSH_RELAY_PASS) {
        g_assert_null (reason);
        g_ptr_array_add (out, g_strdup_printf ("+%.*s", (int) n, line));
      } else {
        g_assert_nonnull (reason);
        g_ptr_array_add (out, g_strconcat ("-", reason, NULL));
        g_free (reason);
      }
    }
  }
  return out;
}

static void
assert_results (GPtrArray *got, const char *const *want)
{
  guint i = 0;
  for (; want[i] != NULL; i++) {
    g_assert_cmpuint (i, <, got->len);
    g_assert_cmpstr (got->pdata[i], ==, want[i]);
  }
  g_assert_cmpuint (got->len, ==, i);
}

static void
test_passes_protocol (void)
{
  const char input[] = "\nINBOX\n  sp x \nlists/Ünï\n\nEntw&APw-rfe\n";
  const char *const want[] = { "+", "+INBOX", "+  sp x ", "+lists/Ünï", "+", "+Entw&APw-rfe", NULL };
  for (gsize chunk = 1; chunk <= sizeof input; chunk++) {
    g_autoptr (GPtrArray) got = relay_all (input, sizeof input - 1, chunk);
    assert_results (got, want);
  }
}

/* Every prefix without its '\n' is "need more", never a line. */
static void
test_unterminated (void)
{
  g_autoptr (GPtrArray) got = relay_all ("INBOX", 5, 1);
  g_assert_cmpuint (got->len, ==, 0);
}

static void
test_drops_unsafe_names (void)
{
  const char input[] = "../x\n/etc\na\001b\nok\ndel\x7f\na/./b\nlast\n";
  const char *const want[] = {
    "-\"../x\": mailbox name has a \".\" or \"..\" path component",
    "-\"/etc\": mailbox name is an absolute path",
    "-\"a\\x01b\": mailbox name contains control character 0x01 at byte 1",
    "+ok",
    "-\"del\\x7f\": mailbox name contains control character 0x7f at byte 3",
    "-\"a/./b\": mailbox name has a \".\" or \"..\" path component",
    "+last",
    NULL,
  };
  g_autoptr (GPtrArray) got = relay_all (input, sizeof input - 1, 3);
  assert_results (got, want);
}

static void
test_drops_nul (void)
{
  const char input[] = "a\0b\nc\n";
  g_autoptr (GPtrArray) got = relay_all (input, sizeof input - 1, 1);
  g_assert_cmpuint (got->len, ==, 2);
  g_assert_cmpstr (got->pdata[0], ==, "-\"a\\x00b\": mailbox name contains control character 0x00 at byte 1");
  g_assert_cmpstr (got->pdata[1], ==, "+c");
}

/* A line over the limit is dropped once, and its tail never becomes a
 * name of its own, however it is cut into chunks. */
static void
test_long_line (void)
{
  g_autoptr (GString) input = g_string_new (NULL);
  g_autofree char *longest = g_strnfill (MS_MAILBOX_NAME_MAX, 'x');
  g_string_append (input, longest);
  g_string_append (input, "\nINBOX\n");
  for (int i = 0; i < 5000; i++)
    g_string_append_c (input, 'L');
  g_string_append (input, "\nafter\n");

  for (gsize chunk = 1; chunk < 6000; chunk = chunk * 3 + 1) {
    g_autoptr (GPtrArray) got = relay_all (input->str, input->len, chunk);
    g_assert_cmpuint (got->len, ==, 4);
    g_assert_cmpuint (strlen (got->pdata[0]), ==, MS_MAILBOX_NAME_MAX + 1);
    g_assert_cmpstr (got->pdata[1], ==, "+INBOX");
    g_assert_cmpstr (got->pdata[2], ==,
                     "-a line longer than 4095 bytes (the limit for a mailbox name)");
    g_assert_cmpstr (got->pdata[3], ==, "+after");
  }
}

/* A hostile name gets a bounded place in the log. */
static void
test_reason_is_bounded (void)
{
  g_autoptr (GString) input = g_string_new ("\033");
  for (int i = 0; i < 4000; i++)
    g_string_append_c (input, 'A');
  g_string_append_c (input, '\n');
  g_autoptr (GPtrArray) got = relay_all (input->str, input->len, 4096);
  g_assert_cmpuint (got->len, ==, 1);
  g_assert_true (g_str_has_prefix (got->pdata[0], "-\"\\x1bAAA"));
  g_assert_nonnull (strstr (got->pdata[0], "...\": "));
  g_assert_cmpuint (strlen (got->pdata[0]), <, MS_SSH_DROPPED_SHOWN_MAX + 100);
}

static void
test_log_lines (void)
{
  g_autoptr (MsSshLogLines) lines = ms_ssh_log_lines_new ("mail.example.org");
  const char input[] = "plain\n\033[31mred\tand \xff\n\npartial";
  for (gsize i = 0; i < sizeof input - 1; i++) /* a byte at a time */
    ms_ssh_log_lines_feed (lines, input + i, 1);

  g_autofree char *a = ms_ssh_log_lines_next (lines);
  g_autofree char *b = ms_ssh_log_lines_next (lines);
  g_autofree char *c = ms_ssh_log_lines_next (lines);
  g_autofree char *none = ms_ssh_log_lines_next (lines);
  g_autofree char *last = ms_ssh_log_lines_finish (lines);
  g_assert_cmpstr (a, ==, "mail.example.org: plain");
  g_assert_cmpstr (b, ==, "mail.example.org: \\x1b[31mred\\x09and \\xff");
  g_assert_cmpstr (c, ==, "mail.example.org: ");
  g_assert_null (none);
  g_assert_cmpstr (last, ==, "mail.example.org: partial");
}

static void
test_log_lines_long (void)
{
  g_autoptr (MsSshLogLines) lines = ms_ssh_log_lines_new ("h");
  g_autofree char *junk = g_strnfill (MS_SSH_LOG_LINE_MAX * 3, 'j');
  ms_ssh_log_lines_feed (lines, junk, strlen (junk));
  ms_ssh_log_lines_feed (lines, "\nnext\n", 6);
  g_autofree char *a = ms_ssh_log_lines_next (lines);
  g_autofree char *b = ms_ssh_log_lines_next (lines);
  g_autofree char *none = ms_ssh_log_lines_next (lines);
  g_autofree char *last = ms_ssh_log_lines_finish (lines);
  g_assert_cmpstr (a, ==, "h: [a line of more than 2048 bytes, not shown]");
  g_assert_cmpstr (b, ==, "h: next");
  g_assert_null (none);
  g_assert_null (last);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ssh-relay/passes-protocol-in-any-chunks", test_passes_protocol);
  g_test_add_func ("/ssh-relay/unterminated-never-passes", test_unterminated);
  g_test_add_func ("/ssh-relay/drops-unsafe-names", test_drops_unsafe_names);
  g_test_add_func ("/ssh-relay/drops-nul", test_drops_nul);
  g_test_add_func ("/ssh-relay/long-line-dropped-once", test_long_line);
  g_test_add_func ("/ssh-relay/reason-is-bounded", test_reason_is_bounded);
  g_test_add_func ("/ssh-log-lines/prefix-and-escapes", test_log_lines);
  g_test_add_func ("/ssh-log-lines/long-line", test_log_lines_long);
  return g_test_run ();
}
