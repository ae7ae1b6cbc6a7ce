/* test-mailbox-name.c — which names pass, which are refused and why. */
#include <glib.h>
#include <string.h>

#include "mailbox-name.h"
#include "ms-error.h"

static gboolean
ok (const char *name)
{
  return ms_mailbox_name_check (name, strlen (name), NULL);
}

static void
test_accepts_what_1_2_passed (void)
{
  const char *good[] = { "", "INBOX", "  sp x ", "a.b/c", "with space", "a&b", "foo.bar",
                         "Entw&APw-rfe", "Ünïcödé", "a..b", "...", ".hidden", "a/.b", NULL };
  for (const char **n = good; *n; n++)
    g_assert_true (ok (*n));
}

static void
test_refuses_escapes (void)
{
  const char *bad[] = { "/etc", "..", ".", "../x", "a/../b", "a/..", "./a", "a/./b", "tab\there",
                        "nl\nx", "del\x7f", "esc\x1b[0m", NULL };
  for (const char **n = bad; *n; n++) {
    g_autoptr (GError) error = NULL;
    g_assert_false (ms_mailbox_name_check (*n, strlen (*n), &error));
    g_assert_error (error, MS_ERROR, MS_ERROR_BAD_NAME);
  }
}

static void
test_nul (void)
{
  g_assert_false (ms_mailbox_name_check ("a\0b", 3, NULL));
}

static void
test_length (void)
{
  g_autofree char *max = g_strnfill (MS_MAILBOX_NAME_MAX, 'x');
  g_autofree char *over = g_strnfill (MS_MAILBOX_NAME_MAX + 1, 'x');
  g_assert_true (ok (max));
  g_assert_false (ok (over));
}

static void
test_for_log (void)
{
  g_autofree char *a = ms_mailbox_name_for_log ("a\x1b" "b\xff", 4, 100);
  g_autofree char *b = ms_mailbox_name_for_log ("abcdef", 6, 3);
  g_autofree char *c = ms_mailbox_name_for_log ("Ü", strlen ("Ü"), 100);
  g_assert_cmpstr (a, ==, "a\\x1bb\\xff");
  g_assert_cmpstr (b, ==, "abc...");
  g_assert_cmpstr (c, ==, "Ü");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mailbox-name/accepts-1.2-names", test_accepts_what_1_2_passed);
  g_test_add_func ("/mailbox-name/refuses-escapes", test_refuses_escapes);
  g_test_add_func ("/mailbox-name/nul", test_nul);
  g_test_add_func ("/mailbox-name/length", test_length);
  g_test_add_func ("/mailbox-name/for-log", test_for_log);
  return g_test_run ();
}
