/* test-config.c — unit tests for the mswatchrc parser (src/config.c).
 *
 * The cases follow spec §3 (grammar, messages) and §12 items 5–11.  Every
 * failing case checks the exact 1.2 message in diag.error, the echoed
 * directive in diag.echo where 1.2 echoed one, and that diag.location
 * names the file and the right line.
 */
#include <string.h>

#include "config.h"

#define FILENAME "test.rc"

/* Two stores, enough to make a config complete around a directive under
 * test. */
#define STORES "store a { watch wa }\nstore b { watch wb }\n"

static MsConfig *
parse (const char *text, MsConfigDiag *diag)
{
  ms_config_diag_init (diag);
  return ms_config_parse (FILENAME, text, strlen (text), diag);
}

/* Parses text that must be valid and produce no warnings. */
static MsConfig *
parse_ok (const char *text)
{
  MsConfigDiag diag;
  MsConfig *config = parse (text, &diag);

  if (config == NULL)
    g_test_message ("unexpected failure: %s / %s", diag.error, diag.location);
  g_assert_nonnull (config);
  g_assert_null (diag.error);
  g_assert_null (diag.location);
  g_assert_null (diag.echo);
  g_assert_cmpuint (diag.warnings->len, ==, 0);
  ms_config_diag_clear (&diag);
  return config;
}

/* Parses text that must fail with `error`; location must start with
 * "test.rc:LINE: " (or "test.rc: " when line is 0) and contain `hint`
 * (when not NULL); echo must equal `echo` (NULL: no echo).  Returns the
 * number of warnings. */
static guint
parse_fails (const char *text, const char *error, guint line, const char *hint, const char *echo)
{
  MsConfigDiag diag;
  MsConfig *config = parse (text, &diag);
  g_autofree char *prefix = line > 0 ? g_strdup_printf (FILENAME ":%u: ", line)
                                     : g_strdup (FILENAME ": ");

  g_assert_null (config);
  g_assert_cmpstr (diag.error, ==, error);
  g_assert_nonnull (diag.location);
  g_test_message ("location: %s", diag.location);
  g_assert_true (g_str_has_prefix (diag.location, prefix));
  if (hint != NULL)
    g_assert_nonnull (strstr (diag.location, hint));
  g_assert_cmpstr (diag.echo, ==, echo);
  guint n = diag.warnings->len;
  ms_config_diag_clear (&diag);
  return n;
}

#define SYNTAX "Error parsing configuration: syntax error."
#define DUP "More than one entry of the same type. Error on:"

static void
syntax_error (const char *text, guint line, const char *hint)
{
  g_assert_cmpuint (parse_fails (text, SYNTAX, line, hint, NULL), ==, 0);
}

static void
assert_strv (char **got, const char *const *want)
{
  g_assert_nonnull (got);
  g_assert_cmpuint (g_strv_length (got), ==, g_strv_length ((char **) want));
  for (guint i = 0; want[i] != NULL; i++)
    g_assert_cmpstr (got[i], ==, want[i]);
}

/* --- basics ---------------------------------------------------------------- */

static void
test_defaults (void)
{
  g_autoptr (MsConfig) c = parse_ok ("sync mbsync -a\n" STORES);

  g_assert_cmpstr (c->filename, ==, FILENAME);
  assert_strv (c->sync_argv, (const char *[]) { "mbsync", "-a", NULL });
  g_assert_null (c->syncer_argv);
  g_assert_null (c->on_synced_argv);
  g_assert_null (c->mailbox_prefix);
  g_assert_null (c->mailbox_separator);
  g_assert_cmpint (c->base_delay, ==, 10);
  g_assert_cmpint (c->inter_delay, ==, 60);
  g_assert_cmpint (c->max_delay, ==, 600);
  g_assert_cmpint (c->poll_period, ==, 86400);
  g_assert_cmpint (c->sync_timeout, ==, 0);
  g_assert_cmpuint (g_hash_table_size (c->mailbox_inter_delay), ==, 0);
  g_assert_cmpuint (g_hash_table_size (c->ignore), ==, 0);
  g_assert_cmpstr (c->stores[0].name, ==, "a");
  assert_strv (c->stores[0].watch_argv, (const char *[]) { "wa", NULL });
  g_assert_cmpuint (c->stores[0].line, ==, 2);
  g_assert_cmpstr (c->stores[1].name, ==, "b");
  assert_strv (c->stores[1].watch_argv, (const char *[]) { "wb", NULL });
  g_assert_cmpuint (c->stores[1].line, ==, 3);
  g_assert_cmpint (ms_config_inter_delay_for (c, "INBOX"), ==, 60);
  g_assert_false (ms_config_is_ignored (c, "INBOX"));
}

static void
test_all_directives (void)
{
  g_autoptr (MsConfig) c = parse_ok ("sync mbsync chan\n"
                                     "mailbox_prefix chan :\n"
                                     "base_delay 2\n"
                                     "inter_delay 5\n"
                                     "inter_delay 30 slow\n"
                                     "max_delay 100\n"
                                     "poll_period 3600\n"
                                     "ignore Trash Spam\n"
                                     "sync_timeout 300\n"
                                     "on_synced notmuch new\n"
                                     "store local { watch watch_maildirs ~/Maildir }\n"
                                     "store remote { watch ssh host inputkill watch_maildirs }\n");

  assert_strv (c->sync_argv, (const char *[]) { "mbsync", "chan", NULL });
  g_assert_cmpstr (c->mailbox_prefix, ==, "chan");
  g_assert_cmpstr (c->mailbox_separator, ==, ":");
  g_assert_cmpint (c->base_delay, ==, 2);
  g_assert_cmpint (c->inter_delay, ==, 5);
  g_assert_cmpint (c->max_delay, ==, 100);
  g_assert_cmpint (c->poll_period, ==, 3600);
  g_assert_cmpint (c->sync_timeout, ==, 300);
  g_assert_cmpint (ms_config_inter_delay_for (c, "slow"), ==, 30);
  g_assert_cmpint (ms_config_inter_delay_for (c, "fast"), ==, 5);
  g_assert_true (ms_config_is_ignored (c, "Trash"));
  g_assert_true (ms_config_is_ignored (c, "Spam"));
  g_assert_false (ms_config_is_ignored (c, "trash"));
  assert_strv (c->on_synced_argv, (const char *[]) { "notmuch", "new", NULL });
  assert_strv (c->stores[0].watch_argv, (const char *[]) { "watch_maildirs", "~/Maildir", NULL });
  assert_strv (c->stores[1].watch_argv,
               (const char *[]) { "ssh", "host", "inputkill", "watch_maildirs", NULL });
}

static void
test_order_free (void)
{
  g_autoptr (MsConfig) c = parse_ok (STORES "base_delay 1\nsync s\n");
  assert_strv (c->sync_argv, (const char *[]) { "s", NULL });
  g_assert_cmpint (c->base_delay, ==, 1);
}

static void
test_empty_input (void)
{
  MsConfigDiag diag;

  ms_config_diag_init (&diag);
  g_assert_null (ms_config_parse (FILENAME, NULL, 0, &diag));
  g_assert_cmpstr (diag.error, ==, "Configuration file is missing field sync");
  ms_config_diag_clear (&diag);
}

static void
test_null_diag (void)
{
  const char *text = "sync s\n" STORES;
  g_autoptr (MsConfig) c = ms_config_parse (FILENAME, text, strlen (text), NULL);
  g_assert_nonnull (c);
  g_assert_null (ms_config_parse (FILENAME, "x", 1, NULL));
}

static void
test_free_null (void)
{
  ms_config_free (NULL);
}

/* --- lexical rules (spec §3.1, §12 item 10) ---------------------------------- */

static void
test_lex_backslash (void)
{
  g_autoptr (MsConfig) c =
      parse_ok ("sync s\nstore a { watch w a\\ b c\\d e\\\\f }\nstore b { watch w }\n");
  assert_strv (c->stores[0].watch_argv, (const char *[]) { "w", "a b", "cd", "e\\f", NULL });
}

static void
test_lex_backslash_specials (void)
{
  /* \# \{ \} \" and an escaped tab are word characters. */
  g_autoptr (MsConfig) c = parse_ok ("sync p \\#x \\{ \\} a\\\"b t\\\tu\n" STORES);
  assert_strv (c->sync_argv, (const char *[]) { "p", "#x", "{", "}", "a\"b", "t\tu", NULL });
}

static void
test_lex_backslash_keyword (void)
{
  /* An escaped keyword is a plain word, anywhere. */
  g_autoptr (MsConfig) c = parse_ok ("sync prog \\store \\sync \\watch s\\ync\n"
                                     "store \\store { watch w \\sync }\n"
                                     "store b { watch w }\n");
  assert_strv (c->sync_argv, (const char *[]) { "prog", "store", "sync", "watch", "sync", NULL });
  g_assert_cmpstr (c->stores[0].name, ==, "store");
  assert_strv (c->stores[0].watch_argv, (const char *[]) { "w", "sync", NULL });
}

static void
test_lex_escaped_keyword_directive (void)
{
  /* ...so it cannot start a directive either. */
  syntax_error ("\\sync prog\n" STORES, 1, "unknown directive \"sync\"");
}

static void
test_lex_escaped_number (void)
{
  /* An escaped digit makes a word, not a number. */
  syntax_error ("sync s\nbase_delay \\10\n" STORES, 2, "expected a number");
}

static void
test_lex_backslash_newline (void)
{
  const char *text = "sync prog \\\n  arg\n" STORES;
  g_assert_cmpuint (parse_fails (text, SYNTAX, 1, "backslash at the end of a line", NULL), ==, 1);

  MsConfigDiag diag;
  g_assert_null (parse (text, &diag));
  g_assert_cmpstr (g_ptr_array_index (diag.warnings, 0), ==,
                   "Unrecognized characters: '\\' (92). Ignoring.");
  ms_config_diag_clear (&diag);
}

static void
test_lex_backslash_eof (void)
{
  g_assert_cmpuint (parse_fails (STORES "sync prog\\", SYNTAX, 3, "backslash", NULL), ==, 1);
}

static void
test_lex_quote (void)
{
  MsConfigDiag diag;

  g_assert_null (parse ("sync s\nmailbox_prefix \"p\" \":\"\n" STORES, &diag));
  g_assert_cmpstr (diag.error, ==, SYNTAX);
  g_assert_cmpuint (diag.warnings->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (diag.warnings, 0), ==,
                   "Unrecognized characters: '\"' (34). Ignoring.");
  g_assert_true (g_str_has_prefix (diag.location, FILENAME ":2: "));
  g_assert_nonnull (strstr (diag.location, "quotes are not supported"));
  ms_config_diag_clear (&diag);
}

static void
test_lex_quote_mid_word (void)
{
  g_assert_cmpuint (parse_fails ("sync a\"b\n" STORES, SYNTAX, 1, "quotes", NULL), ==, 1);
}

static void
test_lex_apostrophe (void)
{
  g_autoptr (MsConfig) c = parse_ok ("sync it's 'x'\n" STORES);
  assert_strv (c->sync_argv, (const char *[]) { "it's", "'x'", NULL });
}

static void
test_lex_comments (void)
{
  g_autoptr (MsConfig) c = parse_ok ("# leading comment\n"
                                     "   # indented comment \"quotes\" \\ are fine here\n"
                                     "sync a#b c\n"
                                     "#\n"
                                     "ignore x # trailing comment\n" STORES "# last line");
  assert_strv (c->sync_argv, (const char *[]) { "a", NULL });
  g_assert_true (ms_config_is_ignored (c, "x"));
  g_assert_cmpuint (g_hash_table_size (c->ignore), ==, 1);
}

static void
test_lex_comment_in_watch (void)
{
  /* spec §12 item 10: the comment swallows the closing brace. */
  syntax_error ("sync s\nstore a { watch w x#y z }\nstore b { watch w }\n", 3,
                "the \"#\" on line 2 starts a comment");
  syntax_error ("sync s\nstore b { watch w }\nstore a { watch w x#y z }\n", 4,
                "the \"#\" on line 3 starts a comment");
}

static void
test_lex_blank_lines (void)
{
  g_autoptr (MsConfig) c = parse_ok ("\n\n   \n\t\nsync s\n\n" STORES "\n\n");
  assert_strv (c->sync_argv, (const char *[]) { "s", NULL });
}

static void
test_lex_tabs (void)
{
  g_autoptr (MsConfig) c = parse_ok ("sync\ts\t\ta\nbase_delay\t3\n"
                                     "store\ta\t{\twatch\tw\t}\n"
                                     "store b { watch w }\n");
  assert_strv (c->sync_argv, (const char *[]) { "s", "a", NULL });
  g_assert_cmpint (c->base_delay, ==, 3);
}

static void
test_lex_keyword_case (void)
{
  syntax_error ("Sync s\n" STORES, 1, "unknown directive \"Sync\" (directives are lower case)");
  syntax_error ("sync s\nBASE_DELAY 3\n" STORES, 2, "unknown directive");
}

static void
test_lex_keyword_whole_word (void)
{
  g_autoptr (MsConfig) c = parse_ok ("sync syncx storey xwatch\n" STORES);
  assert_strv (c->sync_argv, (const char *[]) { "syncx", "storey", "xwatch", NULL });
  syntax_error ("syncx s\n" STORES, 1, "unknown directive \"syncx\"");
}

static void
test_lex_keyword_as_argument (void)
{
  syntax_error ("sync prog store\n" STORES, 1, "\"store\" is a keyword");
  syntax_error ("sync s\nstore a { watch prog sync }\nstore b { watch w }\n", 2,
                "\"sync\" is a keyword");
  syntax_error ("sync s\nignore a base_delay\n" STORES, 2, "keyword");
  syntax_error ("sync s\ninter_delay 5 watch\n" STORES, 2, "keyword");
  syntax_error ("sync s\nmailbox_prefix ignore x\n" STORES, 2, "keyword");
}

static void
test_lex_braces_in_words (void)
{
  g_autoptr (MsConfig) c = parse_ok ("sync x{y z}w {{ }} {a b}\n" STORES);
  assert_strv (c->sync_argv, (const char *[]) { "x{y", "z}w", "{{", "}}", "{a", "b}", NULL });
}

static void
test_lex_brace_as_argument (void)
{
  syntax_error ("sync prog {\n" STORES, 1, "\"{\"");
  syntax_error ("sync prog }\n" STORES, 1, "\"}\"");
  syntax_error ("sync s\n{\n" STORES, 2, "outside a store block");
  syntax_error ("sync s\n}\n" STORES, 2, "outside a store block");
}

static void
test_lex_numbers (void)
{
  g_autoptr (MsConfig) c = parse_ok ("sync s\nbase_delay 010\ninter_delay 0012\n"
                                     "max_delay 0\n" STORES);
  g_assert_cmpint (c->base_delay, ==, 10);
  g_assert_cmpint (c->inter_delay, ==, 12);
  g_assert_cmpint (c->max_delay, ==, 0);
}

static void
test_lex_bad_numbers (void)
{
  const char *bad[] = { "-5", "1.5", "0x10", "10s", "+1", "1e3", "ten" };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autofree char *text = g_strdup_printf ("sync s\nbase_delay %s\n" STORES, bad[i]);
    g_autofree char *hint = g_strdup_printf ("expected a number of seconds after base_delay, "
                                             "found \"%s\"", bad[i]);
    syntax_error (text, 2, hint);
  }
  syntax_error ("sync s\nbase_delay\n" STORES, 2, "found end of line");
  syntax_error ("sync s\n" STORES "max_delay", 4, "found end of file");
  syntax_error ("sync s\nbase_delay 5 6\n" STORES, 2, "takes one number");
  syntax_error ("sync s\npoll_period 5 x\n" STORES, 2, "takes one number");
}

static void
test_lex_number_as_word (void)
{
  g_autoptr (MsConfig) c = parse_ok ("sync s 123\nmailbox_prefix 1 2\nignore 7\n"
                                     "inter_delay 20 8\n"
                                     "store 1 { watch 2 3 }\nstore b { watch w }\n");
  assert_strv (c->sync_argv, (const char *[]) { "s", "123", NULL });
  g_assert_cmpstr (c->mailbox_prefix, ==, "1");
  g_assert_cmpstr (c->mailbox_separator, ==, "2");
  g_assert_true (ms_config_is_ignored (c, "7"));
  g_assert_cmpint (ms_config_inter_delay_for (c, "8"), ==, 20);
  g_assert_cmpstr (c->stores[0].name, ==, "1");
  assert_strv (c->stores[0].watch_argv, (const char *[]) { "2", "3", NULL });
}

static void
test_lex_crlf (void)
{
  syntax_error ("sync s\r\n" "store a { watch wa }\r\nstore b { watch wb }\r\n", 1, "CRLF");
  syntax_error ("sync s\nbase_delay 5\r\n" STORES, 2, "CRLF");
}

static void
test_lex_no_trailing_newline (void)
{
  g_autoptr (MsConfig) c1 = parse_ok (STORES "sync s");
  assert_strv (c1->sync_argv, (const char *[]) { "s", NULL });
  g_autoptr (MsConfig) c2 = parse_ok ("sync s\nstore a { watch wa }\nstore b { watch wb }");
  g_assert_cmpstr (c2->stores[1].name, ==, "b");
  g_autoptr (MsConfig) c3 = parse_ok ("sync s\n" STORES "base_delay 7");
  g_assert_cmpint (c3->base_delay, ==, 7);
  g_autoptr (MsConfig) c4 = parse_ok ("sync s\n" STORES "# comment, no newline");
  g_assert_nonnull (c4);
}

static void
test_lex_utf8 (void)
{
  g_autoptr (MsConfig) c = parse_ok ("sync s\nignore Entw\xc3\xbc" "rfe \xe2\x9c\x89\n" STORES);
  g_assert_true (ms_config_is_ignored (c, "Entw\xc3\xbc" "rfe"));
  g_assert_true (ms_config_is_ignored (c, "\xe2\x9c\x89"));
}

static void
test_lex_nul (void)
{
  static const char text[] = "sync s\0x\n" STORES;
  MsConfigDiag diag;

  ms_config_diag_init (&diag);
  g_assert_null (ms_config_parse (FILENAME, text, sizeof text - 1, &diag));
  g_assert_cmpstr (diag.error, ==, SYNTAX);
  g_assert_true (g_str_has_prefix (diag.location, FILENAME ":1: "));
  g_assert_nonnull (strstr (diag.location, "NUL"));
  ms_config_diag_clear (&diag);
}

static void
test_lex_not_nul_terminated (void)
{
  /* Only `len` bytes count: what follows must not be read. */
  const char *full = "sync s\n" STORES "base_delay 99999";
  gsize len = strlen (full) - strlen ("99999");
  g_autofree char *copy = g_memdup2 (full, len); /* no terminator at all */
  MsConfigDiag diag;

  ms_config_diag_init (&diag);
  g_assert_null (ms_config_parse (FILENAME, copy, len, &diag));
  g_assert_cmpstr (diag.error, ==, SYNTAX);
  g_assert_nonnull (strstr (diag.location, "found end of file"));
  ms_config_diag_clear (&diag);

  len = strlen (full) - strlen ("base_delay 99999");
  g_autofree char *copy2 = g_memdup2 (full, len);
  ms_config_diag_init (&diag);
  g_autoptr (MsConfig) c = ms_config_parse (FILENAME, copy2, len, &diag);
  g_assert_nonnull (c);
  g_assert_cmpint (c->base_delay, ==, 10);
  ms_config_diag_clear (&diag);
}

static void
test_lex_long_word_in_message (void)
{
  /* A huge word is cut in the message, and control bytes are escaped. */
  g_autoptr (GString) text = g_string_new ("sync s\nbase_delay \x01");
  for (int i = 0; i < 1000; i++)
    g_string_append_c (text, 'x');
  g_string_append (text, "\n" STORES);
  MsConfigDiag diag;
  g_assert_null (parse (text->str, &diag));
  g_assert_nonnull (strstr (diag.location, "\"\\x01xxx"));
  g_assert_nonnull (strstr (diag.location, "...\""));
  g_assert_cmpuint (strlen (diag.location), <, 200);
  ms_config_diag_clear (&diag);
}

/* --- stores (spec §3.2, §3.4, §12 items 6 and 11) ---------------------------- */

static void
test_store_one_line (void)
{
  g_autoptr (MsConfig) c = parse_ok ("sync s\nstore a { watch w }\nstore b { watch x y }\n");
  assert_strv (c->stores[0].watch_argv, (const char *[]) { "w", NULL });
  assert_strv (c->stores[1].watch_argv, (const char *[]) { "x", "y", NULL });
}

static void
test_store_multi_line (void)
{
  g_autoptr (MsConfig) c = parse_ok ("sync s\n"
                                     "store a\n"
                                     "\n"
                                     "# the brace may come later\n"
                                     "{\n"
                                     "\n"
                                     "    # a comment inside\n"
                                     "    watch w1 arg\n"
                                     "\n"
                                     "}\n"
                                     "store\tc\\ d {\n"
                                     "  watch w2 }   # a comment after the brace\n");
  assert_strv (c->stores[0].watch_argv, (const char *[]) { "w1", "arg", NULL });
  g_assert_cmpstr (c->stores[1].name, ==, "c d");
  assert_strv (c->stores[1].watch_argv, (const char *[]) { "w2", NULL });
}

static void
test_store_layouts (void)
{
  g_autoptr (MsConfig) c = parse_ok ("sync s\n"
                                     "store a\n"
                                     "{\n"
                                     "    watch w1 arg\n"
                                     "}\n"
                                     "store b { watch w2\n"
                                     "}\n");
  g_assert_cmpstr (c->stores[0].name, ==, "a");
  g_assert_cmpuint (c->stores[0].line, ==, 2);
  assert_strv (c->stores[0].watch_argv, (const char *[]) { "w1", "arg", NULL });
  g_assert_cmpstr (c->stores[1].name, ==, "b");
  g_assert_cmpuint (c->stores[1].line, ==, 6);
  assert_strv (c->stores[1].watch_argv, (const char *[]) { "w2", NULL });
}

static void
test_store_escaped_name (void)
{
  g_autoptr (MsConfig) c =
      parse_ok ("sync s\nstore my\\ laptop { watch w }\nstore b { watch w }\n");
  g_assert_cmpstr (c->stores[0].name, ==, "my laptop");
}

static void
test_store_same_name (void)
{
  g_autoptr (MsConfig) c = parse_ok ("sync s\nstore a { watch w }\nstore a { watch w }\n");
  g_assert_cmpstr (c->stores[0].name, ==, "a");
  g_assert_cmpstr (c->stores[1].name, ==, "a");
}

static void
test_store_two_on_one_line (void)
{
  syntax_error ("sync s\nstore a { watch w } store b { watch w }\n", 2,
                "only a comment may follow");
  syntax_error ("sync s\nstore a { watch w\n} store b { watch w }\n", 3, "only a comment");
  syntax_error ("sync s\nstore a { watch w } }\nstore b { watch w }\n", 2, "only a comment");
}

static void
test_store_empty (void)
{
  syntax_error ("sync s\nstore a { }\nstore b { watch w }\n", 2, "no watch line");
  syntax_error ("sync s\nstore a {\n\n}\nstore b { watch w }\n", 4, "no watch line");
}

static void
test_store_watch_no_program (void)
{
  syntax_error ("sync s\nstore a { watch }\nstore b { watch w }\n", 2, "watch needs");
}

static void
test_store_bad_body (void)
{
  syntax_error ("sync s\nstore a { watch w\nsync x\n}\nstore b { watch w }\n", 3,
                "only watch lines");
  syntax_error ("sync s\nstore a { foo }\nstore b { watch w }\n", 2, "only watch lines");
  syntax_error ("sync s\nstore a { watch w { }\nstore b { watch w }\n", 2,
                "in the arguments of watch");
}

static void
test_store_no_name (void)
{
  syntax_error ("sync s\nstore { watch w }\n" STORES, 2, "expected a store name");
  syntax_error ("sync s\nstore\na { watch w }\n" STORES, 2, "expected a store name");
  syntax_error ("sync s\nstore sync { watch w }\n" STORES, 2, "expected a store name");
}

static void
test_store_no_brace (void)
{
  syntax_error ("sync s\nstore a watch w }\n" STORES, 2, "expected \"{\" after store \"a\"");
  syntax_error ("sync s\nstore a {watch w}\n" STORES, 2, "found \"{watch\"");
  syntax_error ("sync s\nstore a\n\n", 4, "found end of file");
}

static void
test_store_unclosed (void)
{
  syntax_error ("sync s\nstore a { watch w }\nstore b {\n  watch w\n\n", 6,
                "\"}\" is missing");
  syntax_error ("sync s\nstore a { watch w }\nstore b { watch w", 3, "\"}\" is missing");
}

static void
test_store_watch_outside (void)
{
  syntax_error ("sync s\nwatch w\n" STORES, 2, "outside a store");
}

static void
test_store_two_watch_lines (void)
{
  g_assert_cmpuint (parse_fails ("sync s\nstore a {\n  watch w1\n  watch w2\n}\n"
                                 "store b { watch w }\n",
                                 "Multiple store entries of the same type", 4,
                                 "second watch line in store \"a\"; the first one is on line 3",
                                 NULL),
                    ==, 0);
}

static void
test_store_third (void)
{
  parse_fails ("sync s\n" STORES "store c {\n watch w3 x  y\n}\n",
               "More than two store entries. Error on:", 4,
               "third store, \"c\"", "watch w3 x y ");
}

static void
test_store_none (void)
{
  parse_fails ("sync s\n", "Configuration file has no stores", 0, "no store", NULL);
  parse_fails ("sync s", "Configuration file has no stores", 0, NULL, NULL);
}

static void
test_store_only_one (void)
{
  parse_fails ("sync s\n\nstore a { watch w }\n",
               "Configuration file has only one store (a); two are required", 3, NULL, NULL);
  parse_fails ("sync s\nstore my\\ box { watch w }\n",
               "Configuration file has only one store (my box); two are required", 2, NULL,
               NULL);
}

/* --- directives and their errors (spec §3.2–3.5, §12 items 5–9) ------------- */

static void
test_missing_sync (void)
{
  parse_fails (STORES, "Configuration file is missing field sync", 0, "no sync line", NULL);
  parse_fails ("", "Configuration file is missing field sync", 0, NULL, NULL);
  parse_fails ("# only a comment\n", "Configuration file is missing field sync", 0, NULL, NULL);
}

static void
test_sync_needs_words (void)
{
  syntax_error ("sync\n" STORES, 1, "sync needs at least one word");
  syntax_error ("sync # comment\n" STORES, 1, "sync needs at least one word");
}

static void
test_unknown_directive (void)
{
  syntax_error ("sync s\nfoo bar\n" STORES, 2, "unknown directive \"foo\"");
  syntax_error ("sync s\n42\n" STORES, 2, "unknown directive \"42\"");
}

static void
test_mailbox_prefix_count (void)
{
  syntax_error ("sync s\nmailbox_prefix p\n" STORES, 2, "exactly two words");
  syntax_error ("sync s\nmailbox_prefix p : x\n" STORES, 2, "found 3");
  syntax_error ("sync s\nmailbox_prefix\n" STORES, 2,
                "exactly two words (PREFIX SEPARATOR), found 0");
}

static void
test_ignore_needs_words (void)
{
  syntax_error ("sync s\nignore\n" STORES, 2, "ignore needs at least one word");
}

static void
test_ignore_accumulates (void)
{
  g_autoptr (MsConfig) c = parse_ok ("sync s\nignore a b\nignore c\n" STORES "ignore a d\n");
  g_assert_cmpuint (g_hash_table_size (c->ignore), ==, 4);
  g_assert_true (ms_config_is_ignored (c, "a"));
  g_assert_true (ms_config_is_ignored (c, "b"));
  g_assert_true (ms_config_is_ignored (c, "c"));
  g_assert_true (ms_config_is_ignored (c, "d"));
  g_assert_false (ms_config_is_ignored (c, "e"));
}

static void
test_inter_delay_per_mailbox (void)
{
  g_autoptr (MsConfig) c = parse_ok ("sync s\ninter_delay 30 slow\ninter_delay 120 big huge\n"
                                     "inter_delay 45\n" STORES);
  g_assert_cmpint (c->inter_delay, ==, 45);
  g_assert_cmpint (ms_config_inter_delay_for (c, "slow"), ==, 30);
  g_assert_cmpint (ms_config_inter_delay_for (c, "big"), ==, 120);
  g_assert_cmpint (ms_config_inter_delay_for (c, "huge"), ==, 120);
  g_assert_cmpint (ms_config_inter_delay_for (c, "other"), ==, 45);
  g_assert_cmpuint (g_hash_table_size (c->mailbox_inter_delay), ==, 3);
}

static void
test_inter_delay_later_wins (void)
{
  g_autoptr (MsConfig) c1 = parse_ok ("sync s\ninter_delay 30 x\ninter_delay 20 x\n" STORES);
  g_assert_cmpint (ms_config_inter_delay_for (c1, "x"), ==, 20);
  g_autoptr (MsConfig) c2 = parse_ok ("sync s\ninter_delay 20 x\ninter_delay 30 x\n" STORES);
  g_assert_cmpint (ms_config_inter_delay_for (c2, "x"), ==, 30);
  /* The default inter_delay line does not touch per-mailbox entries. */
  g_autoptr (MsConfig) c3 = parse_ok ("sync s\ninter_delay 20 x\ninter_delay 90\n" STORES);
  g_assert_cmpint (ms_config_inter_delay_for (c3, "x"), ==, 20);
}

static void
test_poll_period_zero (void)
{
  g_autoptr (MsConfig) c = parse_ok ("sync s\npoll_period 0\n" STORES);
  g_assert_cmpint (c->poll_period, ==, 0);
}

static void
test_saturation (void)
{
  g_autoptr (MsConfig) c = parse_ok ("sync s\nbase_delay 2147483647\ninter_delay 2147483648\n"
                                     "max_delay 99999999999999999999999999999999999999\n"
                                     "poll_period 2147483646\n"
                                     "inter_delay 18446744073709551616 x\n" STORES);
  g_assert_cmpint (c->base_delay, ==, MS_CONFIG_MAX_SECONDS);
  g_assert_cmpint (c->inter_delay, ==, MS_CONFIG_MAX_SECONDS);
  g_assert_cmpint (c->max_delay, ==, MS_CONFIG_MAX_SECONDS);
  g_assert_cmpint (c->poll_period, ==, MS_CONFIG_MAX_SECONDS - 1);
  g_assert_cmpint (ms_config_inter_delay_for (c, "x"), ==, MS_CONFIG_MAX_SECONDS);
}

static void
test_max_bytes (void)
{
  gsize len = MS_CONFIG_MAX_BYTES + 1;
  g_autofree char *text = g_malloc (len);
  MsConfigDiag diag;

  /* A valid config padded with comment lines up to one byte over. */
  memset (text, '\n', len);
  const char *head = "sync s\n" STORES "#";
  memcpy (text, head, strlen (head));
  memset (text + strlen (head), 'x', len - strlen (head) - 1);

  ms_config_diag_init (&diag);
  g_assert_null (ms_config_parse (FILENAME, text, len, &diag));
  g_assert_cmpstr (diag.error, ==,
                   "Unable to load configuration file \"" FILENAME "\": larger than 1048576 bytes");
  g_assert_nonnull (strstr (diag.location, "1048576"));
  ms_config_diag_clear (&diag);

  /* Exactly at the limit is fine. */
  ms_config_diag_init (&diag);
  g_autoptr (MsConfig) c = ms_config_parse (FILENAME, text, len - 1, &diag);
  g_assert_nonnull (c);
  ms_config_diag_clear (&diag);
}

static void
test_duplicate_sync (void)
{
  parse_fails ("sync a b\n" STORES "sync c d\n", DUP, 4, "first one is on line 1", "sync c d ");
}

static void
test_duplicate_mailbox_prefix (void)
{
  parse_fails ("sync s\nmailbox_prefix a :\nmailbox_prefix b .\n" STORES, DUP, 3, "line 2",
               "mailbox_prefix b .");
}

static void
test_duplicate_numbers (void)
{
  const char *names[] = { "base_delay", "inter_delay", "max_delay", "poll_period",
                          "sync_timeout" };

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autofree char *text = g_strdup_printf ("sync s\n%s 1\n" STORES "\n%s 02\n", names[i],
                                             names[i]);
    g_autofree char *echo = g_strdup_printf ("%s 2", names[i]);
    g_autofree char *hint = g_strdup_printf ("a second %s line; the first one is on line 2",
                                             names[i]);
    parse_fails (text, DUP, 6, hint, echo);
  }
}

static void
test_duplicate_before_later_error (void)
{
  /* The duplicate is reported before a syntax error on a later line. */
  parse_fails ("sync a\nsync b\nfoo\n", DUP, 2, NULL, "sync b ");
}

static void
test_base_gt_inter (void)
{
  parse_fails ("sync s\nbase_delay 61\n" STORES,
               "Configuration error: base_delay (61) > default inter_delay (60)", 2,
               "default inter_delay", NULL);
  g_autoptr (MsConfig) c = parse_ok ("sync s\nbase_delay 60\n" STORES);
  g_assert_cmpint (c->base_delay, ==, 60);
  parse_fails ("sync s\nbase_delay 6\ninter_delay 5\n" STORES,
               "Configuration error: base_delay (6) > default inter_delay (5)", 2,
               "set on line 3", NULL);
  /* Only inter_delay is set: its line is the one to blame. */
  parse_fails ("sync s\n\ninter_delay 9\n" STORES,
               "Configuration error: base_delay (10) > default inter_delay (9)", 3, NULL, NULL);
}

static void
test_base_gt_mailbox_inter (void)
{
  parse_fails ("sync s\nbase_delay 6\ninter_delay 5 box1\n" STORES,
               "Configuration error: base_delay (6) > inter_delay for mailbox \"box1\" (5)", 3,
               "\"box1\"", NULL);
  g_autoptr (MsConfig) c = parse_ok ("sync s\nbase_delay 6\ninter_delay 6 box1\n" STORES);
  g_assert_nonnull (c);
  /* Only the winning entry counts. */
  g_autoptr (MsConfig) c2 = parse_ok ("sync s\ninter_delay 1 x\ninter_delay 10 x\n" STORES);
  g_assert_nonnull (c2);
  parse_fails ("sync s\ninter_delay 10 x\ninter_delay 1 x\n" STORES,
               "Configuration error: base_delay (10) > inter_delay for mailbox \"x\" (1)", 3,
               NULL, NULL);
  /* Several offenders: the first by name is reported. */
  parse_fails ("sync s\ninter_delay 2 zz\ninter_delay 3 aa mm\n" STORES,
               "Configuration error: base_delay (10) > inter_delay for mailbox \"aa\" (3)", 3,
               NULL, NULL);
}

static void
test_default_check_first (void)
{
  parse_fails ("sync s\nbase_delay 70\ninter_delay 5 x\n" STORES,
               "Configuration error: base_delay (70) > default inter_delay (60)", 2, NULL, NULL);
}

/* --- extensions --------------------------------------------------------------- */

static void
test_ext_sync_timeout (void)
{
  g_autoptr (MsConfig) c = parse_ok ("sync s\nsync_timeout 900\n" STORES);
  g_assert_cmpint (c->sync_timeout, ==, 900);
  g_autoptr (MsConfig) c0 = parse_ok ("sync s\nsync_timeout 0\n" STORES);
  g_assert_cmpint (c0->sync_timeout, ==, 0);
  syntax_error ("sync s\nsync_timeout 5m\n" STORES, 2, "after sync_timeout, found \"5m\"");
}

static void
test_ext_syncer (void)
{
  g_autoptr (MsConfig) c = parse_ok ("syncer sync_imap --serve\n" STORES);
  g_assert_null (c->sync_argv);
  assert_strv (c->syncer_argv, (const char *[]) { "sync_imap", "--serve", NULL });
  syntax_error ("syncer\n" STORES, 1, "syncer needs at least one word");
  parse_fails ("syncer a\nsyncer b c\n" STORES, DUP, 2, NULL, "syncer b c ");
}

static void
test_ext_sync_and_syncer (void)
{
  parse_fails ("sync mbsync -a\n" STORES "syncer sync_imap --serve\n",
               "Configuration error: both sync and syncer are set", 4, "line 1", NULL);
}

static void
test_ext_on_synced (void)
{
  g_autoptr (MsConfig) c = parse_ok ("sync s\non_synced emacsclient -e (x)\n" STORES);
  assert_strv (c->on_synced_argv, (const char *[]) { "emacsclient", "-e", "(x)", NULL });
  syntax_error ("sync s\non_synced\n" STORES, 2, "on_synced needs");
  parse_fails ("sync s\non_synced a\non_synced b\n" STORES, DUP, 3, NULL, "on_synced b ");
}

static void
test_ext_words_as_arguments (void)
{
  /* The extension words are keywords only at the start of a line. */
  g_autoptr (MsConfig) c = parse_ok ("sync prog syncer sync_timeout on_synced\n"
                                     "ignore syncer\n"
                                     "inter_delay 30 on_synced\n"
                                     "mailbox_prefix syncer on_synced\n"
                                     "store syncer { watch foo syncer }\n"
                                     "store sync_timeout { watch on_synced }\n");
  assert_strv (c->sync_argv,
               (const char *[]) { "prog", "syncer", "sync_timeout", "on_synced", NULL });
  g_assert_null (c->syncer_argv);
  g_assert_true (ms_config_is_ignored (c, "syncer"));
  g_assert_cmpint (ms_config_inter_delay_for (c, "on_synced"), ==, 30);
  g_assert_cmpstr (c->mailbox_prefix, ==, "syncer");
  g_assert_cmpstr (c->stores[0].name, ==, "syncer");
  assert_strv (c->stores[0].watch_argv, (const char *[]) { "foo", "syncer", NULL });
  assert_strv (c->stores[1].watch_argv, (const char *[]) { "on_synced", NULL });
  g_assert_cmpint (c->sync_timeout, ==, 0);
}

static void
test_ext_not_in_store (void)
{
  syntax_error ("sync s\nstore a {\n syncer x\n}\nstore b { watch w }\n", 3,
                "only watch lines");
}

static void
test_ext_escaped (void)
{
  syntax_error ("sync s\n\\syncer x\n" STORES, 2,
                "unknown directive \"syncer\" (a backslash makes it a plain word)");
  syntax_error ("sync s\nSyncer x\n" STORES, 2, "unknown directive");
}

/* --- robustness ----------------------------------------------------------------- */

static const char valid_config[] =
    "# a complete config\n"
    "sync mbsync -q chan\n"
    "mailbox_prefix chan :\n"
    "base_delay 5\n"
    "inter_delay 30\n"
    "inter_delay 120 Archive Lists/big\n"
    "max_delay 900\n"
    "poll_period 0\n"
    "ignore Trash Junk\n"
    "sync_timeout 600\n"
    "on_synced notmuch new\n"
    "store local\n"
    "{\n"
    "  # comment inside\n"
    "  watch watch_maildirs -m ~/Mail\n"
    "}\n"
    "store remote { watch ssh mail.example.org inputkill watch_maildirs my\\ mail }\n";

/* Every proper prefix either parses or fails with a message and a location;
 * and the prefix must be read as exactly `len` bytes. */
static void
test_every_prefix (void)
{
  gsize n = sizeof valid_config - 1;
  guint parsed = 0;

  for (gsize len = 0; len < n; len++) {
    g_autofree char *copy = g_memdup2 (valid_config, len);
    MsConfigDiag diag;
    ms_config_diag_init (&diag);
    MsConfig *c = ms_config_parse (FILENAME, copy, len, &diag);
    if (c != NULL) {
      g_assert_null (diag.error);
      parsed++;
      ms_config_free (c);
    } else {
      g_assert_nonnull (diag.error);
      g_assert_nonnull (diag.location);
      g_assert_true (g_str_has_prefix (diag.location, FILENAME ":"));
    }
    ms_config_diag_clear (&diag);
  }
  /* The last store ends only with the final "}". */
  g_assert_cmpuint (parsed, ==, 1);

  g_autoptr (MsConfig) c = parse_ok (valid_config);
  g_assert_cmpint (c->poll_period, ==, 0);
  assert_strv (c->stores[1].watch_argv, (const char *[]) { "ssh", "mail.example.org",
                                                           "inputkill", "watch_maildirs",
                                                           "my mail", NULL });
}

static void
test_line_numbers (void)
{
  /* Comment and blank lines count; a newline belongs to the line it ends. */
  syntax_error ("# 1\n\nsync s\n# 4\n\n\nbase_delay x\n" STORES, 7, NULL);
  syntax_error ("sync s\nstore a {\n\n# 4\n\n watch\n}\n", 6, NULL);
}

static void
test_diag_reuse (void)
{
  MsConfigDiag diag;

  g_assert_null (parse ("bad\n", &diag));
  ms_config_diag_clear (&diag);
  g_assert_null (diag.error);
  g_assert_null (diag.warnings);
  /* A cleared diag can be passed straight back in. */
  g_autoptr (MsConfig) c = ms_config_parse (FILENAME, valid_config, sizeof valid_config - 1,
                                            &diag);
  g_assert_nonnull (c);
  ms_config_diag_clear (&diag);
}

static void
test_example_file (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "..", "mswatchrc.example", NULL);
  g_autofree char *text = NULL;
  gsize len = 0;
  g_autoptr (GError) error = NULL;
  MsConfigDiag diag;

  g_assert_true (g_file_get_contents (path, &text, &len, &error));
  g_assert_no_error (error);
  ms_config_diag_init (&diag);
  g_autoptr (MsConfig) c = ms_config_parse ("mswatchrc.example", text, len, &diag);
  if (c == NULL)
    g_test_message ("%s / %s", diag.error, diag.location);
  g_assert_nonnull (c);
  g_assert_cmpuint (diag.warnings->len, ==, 0);
  ms_config_diag_clear (&diag);
  g_assert_nonnull (c->sync_argv);
  g_assert_nonnull (c->stores[1].watch_argv);
}

/* The fuzz seeds are named for what they are: valid-* must parse and
 * invalid-* must fail, so the corpus cannot drift away from the grammar. */
static void
test_fuzz_corpus (void)
{
  g_autofree char *dir = g_test_build_filename (G_TEST_DIST, "fuzz", "corpus", "config", NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint valid = 0, invalid = 0;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL) {
    g_autofree char *path = g_build_filename (dir, name, NULL);
    g_autofree char *text = NULL;
    gsize len = 0;
    MsConfigDiag diag;

    g_assert_true (g_file_get_contents (path, &text, &len, NULL));
    ms_config_diag_init (&diag);
    g_autoptr (MsConfig) c = ms_config_parse (name, text, len, &diag);
    g_test_message ("%s: %s %s", name, diag.error ? diag.error : "ok",
                    diag.location ? diag.location : "");
    if (g_str_has_prefix (name, "valid-")) {
      g_assert_nonnull (c);
      valid++;
    } else if (g_str_has_prefix (name, "invalid-")) {
      g_assert_null (c);
      invalid++;
    }
    ms_config_diag_clear (&diag);
  }
  g_assert_cmpuint (valid, >=, 3);
  g_assert_cmpuint (invalid, >=, 10);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/config/defaults", test_defaults);
  g_test_add_func ("/config/all-directives", test_all_directives);
  g_test_add_func ("/config/order-free", test_order_free);
  g_test_add_func ("/config/empty-input", test_empty_input);
  g_test_add_func ("/config/null-diag", test_null_diag);
  g_test_add_func ("/config/free-null", test_free_null);

  g_test_add_func ("/config/lex/backslash", test_lex_backslash);
  g_test_add_func ("/config/lex/backslash-specials", test_lex_backslash_specials);
  g_test_add_func ("/config/lex/backslash-keyword", test_lex_backslash_keyword);
  g_test_add_func ("/config/lex/escaped-keyword-directive", test_lex_escaped_keyword_directive);
  g_test_add_func ("/config/lex/escaped-number", test_lex_escaped_number);
  g_test_add_func ("/config/lex/backslash-newline", test_lex_backslash_newline);
  g_test_add_func ("/config/lex/backslash-eof", test_lex_backslash_eof);
  g_test_add_func ("/config/lex/quote", test_lex_quote);
  g_test_add_func ("/config/lex/quote-mid-word", test_lex_quote_mid_word);
  g_test_add_func ("/config/lex/apostrophe", test_lex_apostrophe);
  g_test_add_func ("/config/lex/comments", test_lex_comments);
  g_test_add_func ("/config/lex/comment-in-watch", test_lex_comment_in_watch);
  g_test_add_func ("/config/lex/blank-lines", test_lex_blank_lines);
  g_test_add_func ("/config/lex/tabs", test_lex_tabs);
  g_test_add_func ("/config/lex/keyword-case", test_lex_keyword_case);
  g_test_add_func ("/config/lex/keyword-whole-word", test_lex_keyword_whole_word);
  g_test_add_func ("/config/lex/keyword-as-argument", test_lex_keyword_as_argument);
  g_test_add_func ("/config/lex/braces-in-words", test_lex_braces_in_words);
  g_test_add_func ("/config/lex/brace-as-argument", test_lex_brace_as_argument);
  g_test_add_func ("/config/lex/numbers", test_lex_numbers);
  g_test_add_func ("/config/lex/bad-numbers", test_lex_bad_numbers);
  g_test_add_func ("/config/lex/number-as-word", test_lex_number_as_word);
  g_test_add_func ("/config/lex/crlf", test_lex_crlf);
  g_test_add_func ("/config/lex/no-trailing-newline", test_lex_no_trailing_newline);
  g_test_add_func ("/config/lex/utf8", test_lex_utf8);
  g_test_add_func ("/config/lex/nul", test_lex_nul);
  g_test_add_func ("/config/lex/not-nul-terminated", test_lex_not_nul_terminated);
  g_test_add_func ("/config/lex/long-word-in-message", test_lex_long_word_in_message);

  g_test_add_func ("/config/store/one-line", test_store_one_line);
  g_test_add_func ("/config/store/multi-line", test_store_multi_line);
  g_test_add_func ("/config/store/layouts", test_store_layouts);
  g_test_add_func ("/config/store/escaped-name", test_store_escaped_name);
  g_test_add_func ("/config/store/same-name", test_store_same_name);
  g_test_add_func ("/config/store/two-on-one-line", test_store_two_on_one_line);
  g_test_add_func ("/config/store/empty", test_store_empty);
  g_test_add_func ("/config/store/watch-no-program", test_store_watch_no_program);
  g_test_add_func ("/config/store/bad-body", test_store_bad_body);
  g_test_add_func ("/config/store/no-name", test_store_no_name);
  g_test_add_func ("/config/store/no-brace", test_store_no_brace);
  g_test_add_func ("/config/store/unclosed", test_store_unclosed);
  g_test_add_func ("/config/store/watch-outside", test_store_watch_outside);
  g_test_add_func ("/config/store/two-watch-lines", test_store_two_watch_lines);
  g_test_add_func ("/config/store/third", test_store_third);
  g_test_add_func ("/config/store/none", test_store_none);
  g_test_add_func ("/config/store/only-one", test_store_only_one);

  g_test_add_func ("/config/error/missing-sync", test_missing_sync);
  g_test_add_func ("/config/error/sync-needs-words", test_sync_needs_words);
  g_test_add_func ("/config/error/unknown-directive", test_unknown_directive);
  g_test_add_func ("/config/error/mailbox-prefix-count", test_mailbox_prefix_count);
  g_test_add_func ("/config/error/ignore-needs-words", test_ignore_needs_words);
  g_test_add_func ("/config/error/duplicate-sync", test_duplicate_sync);
  g_test_add_func ("/config/error/duplicate-mailbox-prefix", test_duplicate_mailbox_prefix);
  g_test_add_func ("/config/error/duplicate-numbers", test_duplicate_numbers);
  g_test_add_func ("/config/error/duplicate-before-later-error",
                   test_duplicate_before_later_error);
  g_test_add_func ("/config/error/base-gt-inter", test_base_gt_inter);
  g_test_add_func ("/config/error/base-gt-mailbox-inter", test_base_gt_mailbox_inter);
  g_test_add_func ("/config/error/default-check-first", test_default_check_first);

  g_test_add_func ("/config/ignore/accumulates", test_ignore_accumulates);
  g_test_add_func ("/config/inter-delay/per-mailbox", test_inter_delay_per_mailbox);
  g_test_add_func ("/config/inter-delay/later-wins", test_inter_delay_later_wins);
  g_test_add_func ("/config/poll-period-zero", test_poll_period_zero);
  g_test_add_func ("/config/saturation", test_saturation);
  g_test_add_func ("/config/max-bytes", test_max_bytes);

  g_test_add_func ("/config/ext/sync-timeout", test_ext_sync_timeout);
  g_test_add_func ("/config/ext/syncer", test_ext_syncer);
  g_test_add_func ("/config/ext/sync-and-syncer", test_ext_sync_and_syncer);
  g_test_add_func ("/config/ext/on-synced", test_ext_on_synced);
  g_test_add_func ("/config/ext/words-as-arguments", test_ext_words_as_arguments);
  g_test_add_func ("/config/ext/not-in-store", test_ext_not_in_store);
  g_test_add_func ("/config/ext/escaped", test_ext_escaped);

  g_test_add_func ("/config/every-prefix", test_every_prefix);
  g_test_add_func ("/config/line-numbers", test_line_numbers);
  g_test_add_func ("/config/diag-reuse", test_diag_reuse);
  g_test_add_func ("/config/example-file", test_example_file);
  g_test_add_func ("/config/fuzz-corpus", test_fuzz_corpus);

  return g_test_run ();
}
