/* test-imap-watch.c — watch_imap's decisions (watchers/imap-watch-plan.c):
 * options, the method ladder, IDLE planning, name mapping from server names
 * to the lines watch_maildirs would print, what each server response means,
 * STATUS diffing and the mailbox table, coalescing, and the timers driven
 * by a fake clock. */
#include <glib.h>
#include <string.h>

#include "channel.h"
#include "imap-parser.h"
#include "imap-watch-plan.h"
#include "maildir.h"
#include "mbsyncrc.h"
#include "ms-error.h"

/* ---- utilities ---------------------------------------------------------------- */

/* One whole response from `len` bytes (with its CRLF). */
static MsImapResponse *
parse_bytes (const char *text, gsize len)
{
  g_autoptr (MsImapParser) p = ms_imap_parser_new ();
  gsize consumed = 0;
  MsImapResponse *r = NULL;
  g_autoptr (GError) error = NULL;
  MsImapParseResult res = ms_imap_parser_feed (p, text, len, &consumed, &r, &error);
  g_assert_no_error (error);
  g_assert_cmpint (res, ==, MS_IMAP_COMPLETE);
  g_assert_cmpuint (consumed, ==, len);
  return r;
}

/* One whole response from a line (CRLF added). */
static MsImapResponse *
parse1 (const char *line)
{
  g_autofree char *text = g_strconcat (line, "\r\n", NULL);
  return parse_bytes (text, strlen (text));
}

typedef struct {
  MsMbsyncConfig *config;
  MsChannelSetup *setup;
} Channel;

static void
channel_clear (Channel *ch)
{
  g_clear_pointer (&ch->setup, ms_channel_setup_free);
  g_clear_pointer (&ch->config, ms_mbsync_config_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Channel, channel_clear)

/* A channel "c" from an IMAP store (with `imap_path` as its Path, or none)
 * to a Maildir store in `layout` ("Maildir++" or "Verbatim"), with the
 * channel lines given (Patterns ...).  SyncState * keeps the setup from
 * creating a state directory. */
static void
channel_init (Channel *ch, const char *imap_path, const char *layout, const char *channel_lines)
{
  g_autofree char *text = g_strdup_printf (
    "SyncState *\n\n"
    "IMAPAccount acct\nHost imap.example.org\nUser u\nPass secret\nTLSType IMAPS\n\n"
    "IMAPStore far\nAccount acct\n%s%s%s\n"
    "MaildirStore near\n%sInbox /mail/INBOX\nSubFolders %s\n\n"
    "Channel c\nFar :far:\nNear :near:\n%s\n",
    imap_path ? "Path " : "", imap_path ? imap_path : "", imap_path ? "\n" : "",
    /* mbsync puts Maildir++ folders below the Inbox and refuses a Path. */
    g_str_equal (layout, "Verbatim") ? "Path /mail/\n" : "", layout, channel_lines);
  g_autoptr (GError) error = NULL;
  ch->config = ms_mbsync_config_parse ("rc", text, strlen (text), &error);
  g_assert_no_error (error);
  ch->setup = ms_channel_setup_new (ch->config, ms_mbsync_config_find_channel (ch->config, "c"), "/home/u", &error);
  g_assert_no_error (error);
}

/* The line for a server name, or "-" when it gets none. */
static char *
line_for (const Channel *ch, char delim, const char *far)
{
  char *line = NULL;
  g_autofree char *box = NULL;
  if (!ms_imap_watch_map_far (ch->setup, delim, far, &box, &line))
    return g_strdup ("-");
  g_assert_nonnull (box);
  /* Whatever is printed maps back to the same folder. */
  g_autofree char *back = ms_maildir_name_from_watcher (&ch->setup->maildir, line, NULL);
  g_assert_cmpstr (back, ==, box);
  return line;
}

static GPtrArray *
strv_array (const char *const *v)
{
  GPtrArray *a = g_ptr_array_new_with_free_func (g_free);
  for (; *v; v++)
    g_ptr_array_add (a, g_strdup (*v));
  return a;
}

static char *
joined (const GPtrArray *a)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < a->len; i++)
    g_string_append_printf (s, "%s%s", i ? " " : "", (const char *) g_ptr_array_index (a, i));
  return g_string_free (s, FALSE);
}

/* ---- options and method ------------------------------------------------------------ */

static void
test_options (void)
{
  MsImapWatchOptions o = { MS_IMAP_WATCH_DEFAULT_MAX_IDLE, MS_IMAP_WATCH_DEFAULT_POLL_S,
                           MS_IMAP_WATCH_DEFAULT_KEEPALIVE_S, MS_IMAP_WATCH_IDLE_RENEW_MAX_S };
  g_autoptr (GError) error = NULL;
  g_assert_true (ms_imap_watch_options_check (&o, &error));
  g_assert_no_error (error);

  MsImapWatchOptions bad = o;
  bad.max_idle = MS_IMAP_WATCH_MAX_IDLE_LIMIT + 1;
  g_assert_false (ms_imap_watch_options_check (&bad, &error));
  g_assert_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE);
  g_assert_cmpstr (error->message, ==, "--max-idle must be at most 8");
  g_clear_error (&error);

  bad = o;
  bad.max_idle = 0; /* no IDLE at all is a choice */
  g_assert_true (ms_imap_watch_options_check (&bad, NULL));

  bad = o;
  bad.poll_s = 0;
  g_assert_false (ms_imap_watch_options_check (&bad, &error));
  g_assert_cmpstr (error->message, ==, "--poll must be between 1 and 86400 seconds");
  g_clear_error (&error);

  bad = o;
  bad.keepalive_s = 86401;
  g_assert_false (ms_imap_watch_options_check (&bad, &error));
  g_assert_cmpstr (error->message, ==, "--keepalive must be between 1 and 86400 seconds");
  g_clear_error (&error);

  bad = o;
  bad.idle_renew_s = 29 * 60 + 1;
  g_assert_false (ms_imap_watch_options_check (&bad, &error));
  g_assert_cmpstr (error->message, ==, "--idle-renew must be between 1 and 1740 seconds");
}

static void
test_method (void)
{
  g_assert_cmpint (ms_imap_watch_choose_method (TRUE, TRUE, 3), ==, MS_IMAP_WATCH_NOTIFY);
  g_assert_cmpint (ms_imap_watch_choose_method (TRUE, FALSE, 0), ==, MS_IMAP_WATCH_NOTIFY);
  g_assert_cmpint (ms_imap_watch_choose_method (FALSE, TRUE, 3), ==, MS_IMAP_WATCH_IDLE);
  g_assert_cmpint (ms_imap_watch_choose_method (FALSE, TRUE, 0), ==, MS_IMAP_WATCH_POLL);
  g_assert_cmpint (ms_imap_watch_choose_method (FALSE, FALSE, 3), ==, MS_IMAP_WATCH_POLL);
  g_assert_cmpstr (ms_imap_watch_method_name (MS_IMAP_WATCH_POLL), ==, "STATUS polling");
  g_assert_cmpstr (ms_imap_watch_method_name (MS_IMAP_WATCH_NOTIFY), ==, "NOTIFY");
}

static void
test_commands (void)
{
  g_autofree char *all = ms_imap_watch_notify_command (NULL);
  g_autofree char *one = ms_imap_watch_notify_command ("\"Lists.gnome\"");
  g_assert_cmpstr (all, ==, "NOTIFY SET STATUS (personal (MessageNew MessageExpunge FlagChange MailboxName))");
  g_assert_cmpstr (one, ==,
                   "NOTIFY SET STATUS (mailboxes \"Lists.gnome\" (MessageNew MessageExpunge FlagChange MailboxName))");
  g_assert_cmpstr (ms_imap_watch_status_items (TRUE), ==, "(MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)");
  g_assert_cmpstr (ms_imap_watch_status_items (FALSE), ==, "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)");
}

/* ---- IDLE planning ------------------------------------------------------------------- */

static void
test_plan_idle (void)
{
  static const char *const list[] = { "INBOX", "Sent", "lists/gnome", "work", NULL };
  g_autoptr (GPtrArray) boxes = strv_array (list);
  static const char *const hot[] = { "work", "nonexistent", "INBOX", "work", "Sent", NULL };
  struct {
    guint max;
    const char *single;
    const char *const *hot;
    const char *want;
  } cases[] = {
    { 3, NULL, NULL, "INBOX" },
    { 3, NULL, hot, "INBOX work Sent" }, /* INBOX first, absent and repeated names skipped */
    { 2, NULL, hot, "INBOX work" },
    { 0, NULL, hot, "" },
    { 3, "lists/gnome", hot, "lists/gnome" }, /* a one-mailbox channel idles on it */
    { 3, "elsewhere", hot, "" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GPtrArray) plan = ms_imap_watch_plan_idle (boxes, cases[i].single, cases[i].hot, cases[i].max);
    g_autofree char *got = joined (plan);
    g_assert_cmpstr (got, ==, cases[i].want);
  }

  /* Without INBOX on the server (Patterns leave it out), hot ones still count. */
  static const char *const no_inbox[] = { "a", "b", NULL };
  static const char *const hot_b[] = { "b", NULL };
  g_autoptr (GPtrArray) boxes2 = strv_array (no_inbox);
  g_autoptr (GPtrArray) plan = ms_imap_watch_plan_idle (boxes2, NULL, hot_b, 3);
  g_autofree char *got = joined (plan);
  g_assert_cmpstr (got, ==, "b");

  g_assert_cmpuint (ms_imap_watch_idle_period (60, 1740), ==, 60);
  g_assert_cmpuint (ms_imap_watch_idle_period (3600, 1740), ==, 1740);
}

/* ---- names ----------------------------------------------------------------------------- */

static void
test_output_name (void)
{
  static const struct {
    MsMaildirLayout layout;
    const char *box, *want;
  } cases[] = {
    { MS_MAILDIR_LAYOUT_MAILDIRPP, "INBOX", "INBOX" },
    { MS_MAILDIR_LAYOUT_MAILDIRPP, "Sent", "Sent" },
    { MS_MAILDIR_LAYOUT_MAILDIRPP, "lists/debian/devel", "lists.debian.devel" },
    { MS_MAILDIR_LAYOUT_MAILDIRPP, "INBOX/x", ".x" },
    { MS_MAILDIR_LAYOUT_MAILDIRPP, "INBOX/x/y", ".x.y" },
    { MS_MAILDIR_LAYOUT_MAILDIRPP, "été à", "été à" },
    { MS_MAILDIR_LAYOUT_VERBATIM, "INBOX", "INBOX" },
    { MS_MAILDIR_LAYOUT_VERBATIM, "lists/debian", "lists/debian" },
    { MS_MAILDIR_LAYOUT_VERBATIM, "INBOX/x", "INBOX/x" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *got = ms_imap_watch_output_name (cases[i].layout, cases[i].box);
    g_assert_cmpstr (got, ==, cases[i].want);
    /* watch_maildirs' name maps back to the folder. */
    MsMaildirStore store = { (char *) "/mail", (char *) "/mail/INBOX", cases[i].layout, TRUE, ':' };
    g_autofree char *back = ms_maildir_name_from_watcher (&store, got, NULL);
    g_assert_cmpstr (back, ==, cases[i].box);
  }
}

static void
test_map_far_maildirpp (void)
{
  g_auto (Channel) ch = { 0 };
  channel_init (&ch, NULL, "Maildir++", "Patterns * !Trash !Junk*");
  static const struct {
    const char *far, *want;
  } cases[] = {
    { "INBOX", "INBOX" },
    { "inbox", "INBOX" },
    { "Sent", "Sent" },
    { "lists.debian", "lists.debian" },
    /* Folders are named as the server names them (mbsync 1.4 does not
     * transcode either): "été" is the folder "&AOk-t&AOk-". */
    { "&AOk-t&AOk-", "&AOk-t&AOk-" },
    { "lists.&AOk-t&AOk-", "lists.&AOk-t&AOk-" },
    { "INBOX.x", ".x" },
    { "Trash", "-" },                   /* excluded by the Patterns */
    { "Junk.spam", "-" },
    { "a/b", "-" },                     /* '/' cannot be represented locally */
    { "a&AAE-b", "a&AAE-b" },           /* stands for a control character: as named */
    /* UTF-8, as Dovecot's NOTIFY sends it: encoded to the server's name. */
    { "\xc3\xa9t\xc3\xa9", "&AOk-t&AOk-" },
    { "lists.\xc3\xa9t\xc3\xa9", "lists.&AOk-t&AOk-" },
    { "a&b", "a&-b" },                  /* the same for a raw '&' */
    { "&Jjo", "&-Jjo" },
    { "x\x01y", "x&AAE-y" },
    { "a&-b", "a&-b" },                 /* valid modified UTF-7 wins */
    { "\xc3", "-" },                    /* broken UTF-8 */
    { ".hidden", "-" },                 /* an empty first component */
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *got = line_for (&ch, '.', cases[i].far);
    g_assert_cmpstr (got, ==, cases[i].want);
  }
  /* NULL out-parameters are fine. */
  g_assert_true (ms_imap_watch_map_far (ch.setup, '.', "Sent", NULL, NULL));
}

static void
test_map_far_verbatim (void)
{
  g_auto (Channel) ch = { 0 };
  channel_init (&ch, NULL, "Verbatim", "Patterns *");
  static const struct {
    char delim;
    const char *far, *want;
  } cases[] = {
    { '.', "INBOX", "INBOX" },
    { '.', "lists.debian", "lists/debian" },
    { '/', "lists/debian", "lists/debian" },
    { '/', "dotted.name/x", "dotted.name/x" }, /* fine in Verbatim */
    { '.', "&AOk-t&AOk-.x", "&AOk-t&AOk-/x" },
    { '/', "a/cur", "-" },                     /* a folder's own directory */
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *got = line_for (&ch, cases[i].delim, cases[i].far);
    g_assert_cmpstr (got, ==, cases[i].want);
  }
}

static void
test_map_far_prefix_and_single (void)
{
  /* An IMAPStore Path: only names below it, without it. */
  g_auto (Channel) pre = { 0 };
  channel_init (&pre, "Archive.", "Maildir++", "Patterns *");
  g_autofree char *a = line_for (&pre, '.', "Archive.2024");
  g_autofree char *b = line_for (&pre, '.', "Other");
  g_autofree char *c = line_for (&pre, '.', "INBOX");
  g_assert_cmpstr (a, ==, "2024");
  g_assert_cmpstr (b, ==, "-");
  g_assert_cmpstr (c, ==, "INBOX");

  /* A channel without Patterns covers its one mailbox. */
  g_auto (Channel) one = { 0 };
  channel_init (&one, NULL, "Maildir++", "");
  g_autofree char *d = line_for (&one, '.', "INBOX");
  g_autofree char *e = line_for (&one, '.', "Sent");
  g_assert_cmpstr (d, ==, "INBOX");
  g_assert_cmpstr (e, ==, "-");
  g_assert_cmpstr (one.setup->single_box, ==, "INBOX");
}

/* ---- responses ------------------------------------------------------------------------- */

static void
test_classify (void)
{
  static const struct {
    const char *line;
    MsImapWatchEvent want;
    const char *name, *old_name;
  } cases[] = {
    { "* STATUS \"Sent Items\" (MESSAGES 3 UIDNEXT 44)", MS_IMAP_WATCH_EVENT_STATUS, "Sent Items", NULL },
    { "* STATUS {5}\r\nIN BX (MESSAGES 3)", MS_IMAP_WATCH_EVENT_STATUS, "IN BX", NULL },
    { "* LIST () \".\" c.d", MS_IMAP_WATCH_EVENT_LIST, "c.d", NULL },
    { "* LIST (\\NonExistent) \".\" gone", MS_IMAP_WATCH_EVENT_LIST, "gone", NULL },
    { "* LIST () \".\" new (\"OLDNAME\" (\"old\"))", MS_IMAP_WATCH_EVENT_LIST, "new", "old" },
    { "* LIST () \".\" new (\"CHILDINFO\" (\"SUBSCRIBED\"))", MS_IMAP_WATCH_EVENT_LIST, "new", NULL },
    { "* 5 EXISTS", MS_IMAP_WATCH_EVENT_SELECTED, NULL, NULL },
    { "* 3 EXPUNGE", MS_IMAP_WATCH_EVENT_SELECTED, NULL, NULL },
    { "* 3 FETCH (FLAGS (\\Seen) MODSEQ (12))", MS_IMAP_WATCH_EVENT_SELECTED, NULL, NULL },
    { "* VANISHED 7:9", MS_IMAP_WATCH_EVENT_SELECTED, NULL, NULL },
    { "* VANISHED (EARLIER) 7:9", MS_IMAP_WATCH_EVENT_NONE, NULL, NULL },
    { "* 1 RECENT", MS_IMAP_WATCH_EVENT_NONE, NULL, NULL },
    { "* OK Still here", MS_IMAP_WATCH_EVENT_NONE, NULL, NULL },
    { "* NO [ALERT] quota nearly full", MS_IMAP_WATCH_EVENT_NONE, NULL, NULL },
    { "* BYE Server shutting down.", MS_IMAP_WATCH_EVENT_LOST, NULL, NULL },
    { "* OK [NOTIFICATIONOVERFLOW] too many", MS_IMAP_WATCH_EVENT_LOST, NULL, NULL },
    { "* NO NOTIFY error, some events may have got lost", MS_IMAP_WATCH_EVENT_LOST, NULL, NULL },
    /* Hostile or broken shapes: nothing to report, and no crash. */
    { "* STATUS NIL (MESSAGES 1)", MS_IMAP_WATCH_EVENT_NONE, NULL, NULL },
    { "* STATUS", MS_IMAP_WATCH_EVENT_NONE, NULL, NULL },
    { "* STATUS ((a)) (MESSAGES 1)", MS_IMAP_WATCH_EVENT_NONE, NULL, NULL },
    { "* LIST () \".\"", MS_IMAP_WATCH_EVENT_NONE, NULL, NULL },
    { "* LIST", MS_IMAP_WATCH_EVENT_NONE, NULL, NULL },
    { "* LIST () \".\" x (OLDNAME)", MS_IMAP_WATCH_EVENT_LIST, "x", NULL },
    { "* LIST () \".\" x (\"OLDNAME\")", MS_IMAP_WATCH_EVENT_LIST, "x", NULL },
    { "* LIST () \".\" x (\"OLDNAME\" old)", MS_IMAP_WATCH_EVENT_LIST, "x", NULL },
    { "* LIST () \".\" x ((\"OLDNAME\") (\"old\"))", MS_IMAP_WATCH_EVENT_LIST, "x", NULL },
    { "* LIST () \".\" x foo", MS_IMAP_WATCH_EVENT_LIST, "x", NULL },
    { "* VANISHED", MS_IMAP_WATCH_EVENT_SELECTED, NULL, NULL },
    { "* VANISHED ()", MS_IMAP_WATCH_EVENT_SELECTED, NULL, NULL },
    { "a1 OK done", MS_IMAP_WATCH_EVENT_NONE, NULL, NULL },
    { "+ idling", MS_IMAP_WATCH_EVENT_NONE, NULL, NULL },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (MsImapResponse) r = parse1 (cases[i].line);
    const char *name = "unset", *old_name = "unset";
    g_test_message ("%s", cases[i].line);
    g_assert_cmpint (ms_imap_watch_classify (r, &name, &old_name), ==, cases[i].want);
    g_assert_cmpstr (name, ==, cases[i].name);
    g_assert_cmpstr (old_name, ==, cases[i].old_name);
  }
}

static void
test_classify_nul (void)
{
  /* A literal can carry a NUL, which no C string of a name can. */
  static const char line[] = "* STATUS {3}\r\na\0b (MESSAGES 1)\r\n";
  g_autoptr (MsImapResponse) r = parse_bytes (line, sizeof line - 1);
  const char *name = "unset";
  g_assert_cmpint (ms_imap_watch_classify (r, &name, NULL), ==, MS_IMAP_WATCH_EVENT_NONE);
  g_assert_null (name);
}

static void
test_parse_status (void)
{
  g_autoptr (MsImapResponse) r
    = parse1 ("* STATUS box (MESSAGES 3 UIDNEXT 44 UIDVALIDITY 7 UNSEEN 1 HIGHESTMODSEQ 900000000000 SIZE 5)");
  const char *name = NULL;
  MsImapWatchStatus st;
  g_assert_true (ms_imap_watch_parse_status (r, &name, &st));
  g_assert_cmpstr (name, ==, "box");
  g_assert_cmpuint (st.have, ==, 0x1f);
  g_assert_cmpuint (st.messages, ==, 3);
  g_assert_cmpuint (st.uidnext, ==, 44);
  g_assert_cmpuint (st.uidvalidity, ==, 7);
  g_assert_cmpuint (st.unseen, ==, 1);
  g_assert_cmpuint (st.highestmodseq, ==, G_GUINT64_CONSTANT (900000000000));

  /* A partial STATUS (Dovecot's NOTIFY sends what changed). */
  g_autoptr (MsImapResponse) p = parse1 ("* STATUS b (HIGHESTMODSEQ 3)");
  g_assert_true (ms_imap_watch_parse_status (p, &name, &st));
  g_assert_cmpuint (st.have, ==, MS_IMAP_WATCH_HAVE_HIGHESTMODSEQ);

  /* Items that are not numbers are skipped; case does not matter. */
  g_autoptr (MsImapResponse) q = parse1 ("* status b (messages x uidnext 5 X-ODD (1 2))");
  g_assert_true (ms_imap_watch_parse_status (q, &name, &st));
  g_assert_cmpuint (st.have, ==, MS_IMAP_WATCH_HAVE_UIDNEXT);
  g_assert_cmpuint (st.uidnext, ==, 5);

  g_autoptr (MsImapResponse) n = parse1 ("* STATUS b MESSAGES");
  g_assert_false (ms_imap_watch_parse_status (n, &name, &st));
  g_autoptr (MsImapResponse) odd = parse1 ("* STATUS b (MESSAGES)");
  g_assert_true (ms_imap_watch_parse_status (odd, &name, &st));
  g_assert_cmpuint (st.have, ==, 0);
  g_autoptr (MsImapResponse) nested = parse1 ("* STATUS b ((MESSAGES 1) UIDNEXT 2)");
  g_assert_true (ms_imap_watch_parse_status (nested, &name, &st));
  g_assert_cmpuint (st.have, ==, 0); /* pairs are misaligned: nothing trusted */
  g_autoptr (MsImapResponse) e = parse1 ("* 3 EXISTS");
  g_assert_false (ms_imap_watch_parse_status (e, &name, &st));
}

static void
test_status_changed (void)
{
  MsImapWatchStatus full = { 0x1f, 3, 44, 7, 1, 100 };
  MsImapWatchStatus same = full;
  g_assert_false (ms_imap_watch_status_changed (&full, &same));

  MsImapWatchStatus modseq = { MS_IMAP_WATCH_HAVE_HIGHESTMODSEQ, .highestmodseq = 101 };
  g_assert_true (ms_imap_watch_status_changed (&full, &modseq));
  modseq.highestmodseq = 100;
  g_assert_false (ms_imap_watch_status_changed (&full, &modseq));

  /* Nothing in common: nothing can be ruled out. */
  MsImapWatchStatus unseen_only = { MS_IMAP_WATCH_HAVE_UNSEEN, .unseen = 1 };
  MsImapWatchStatus counts = { MS_IMAP_WATCH_HAVE_MESSAGES | MS_IMAP_WATCH_HAVE_UIDNEXT, 3, 44 };
  g_assert_true (ms_imap_watch_status_changed (&counts, &unseen_only));
  g_assert_false (ms_imap_watch_status_changed (&full, &unseen_only));

  /* An append and an expunge together: MESSAGES stays, UIDNEXT moves. */
  MsImapWatchStatus swap = { MS_IMAP_WATCH_HAVE_MESSAGES | MS_IMAP_WATCH_HAVE_UIDNEXT, 3, 45 };
  g_assert_true (ms_imap_watch_status_changed (&full, &swap));
  /* A new UIDVALIDITY alone. */
  MsImapWatchStatus reset = full;
  reset.uidvalidity = 8;
  g_assert_true (ms_imap_watch_status_changed (&full, &reset));
}

static void
test_table (void)
{
  g_autoptr (MsImapWatchTable) t = ms_imap_watch_table_new ();
  MsImapWatchStatus a = { MS_IMAP_WATCH_HAVE_MESSAGES | MS_IMAP_WATCH_HAVE_UIDNEXT | MS_IMAP_WATCH_HAVE_HIGHESTMODSEQ,
                          2, 3, 0, 0, 10 };

  /* The initial state is not news; a mailbox first seen later is. */
  g_assert_false (ms_imap_watch_table_update (t, "INBOX", &a, TRUE));
  g_assert_true (ms_imap_watch_table_update (t, "new", &a, FALSE));
  g_assert_false (ms_imap_watch_table_update (t, "new", &a, FALSE));
  g_assert_cmpuint (ms_imap_watch_table_size (t), ==, 2);

  /* A partial STATUS is merged: the other items are kept. */
  MsImapWatchStatus flag = { MS_IMAP_WATCH_HAVE_HIGHESTMODSEQ, .highestmodseq = 11 };
  g_assert_true (ms_imap_watch_table_update (t, "INBOX", &flag, FALSE));
  g_assert_false (ms_imap_watch_table_update (t, "INBOX", &flag, FALSE));
  MsImapWatchStatus counts = { MS_IMAP_WATCH_HAVE_MESSAGES | MS_IMAP_WATCH_HAVE_UIDNEXT, 2, 3 };
  g_assert_false (ms_imap_watch_table_update (t, "INBOX", &counts, FALSE));
  MsImapWatchStatus back = a; /* HIGHESTMODSEQ 10 again would be news */
  g_assert_true (ms_imap_watch_table_update (t, "INBOX", &back, FALSE));

  /* Rounds: what is not seen in a round went away. */
  ms_imap_watch_table_begin_round (t);
  g_assert_false (ms_imap_watch_table_update (t, "INBOX", &back, FALSE));
  g_autoptr (GPtrArray) gone = ms_imap_watch_table_end_round (t);
  g_autofree char *got = joined (gone);
  g_assert_cmpstr (got, ==, "new");
  g_assert_false (ms_imap_watch_table_contains (t, "new"));
  g_assert_true (ms_imap_watch_table_contains (t, "INBOX"));
  ms_imap_watch_table_begin_round (t);
  g_autoptr (GPtrArray) all_gone = ms_imap_watch_table_end_round (t);
  g_assert_cmpuint (all_gone->len, ==, 1);
  g_assert_cmpuint (ms_imap_watch_table_size (t), ==, 0);

  g_assert_false (ms_imap_watch_table_update (t, "x", &a, TRUE));
  g_assert_true (ms_imap_watch_table_remove (t, "x"));
  g_assert_false (ms_imap_watch_table_remove (t, "x"));
}

static void
test_table_cap (void)
{
  g_autoptr (MsImapWatchTable) t = ms_imap_watch_table_new ();
  MsImapWatchStatus a = { MS_IMAP_WATCH_HAVE_MESSAGES, 1 };
  for (guint i = 0; i < MS_IMAP_WATCH_MAILBOXES_MAX; i++) {
    char name[16];
    g_snprintf (name, sizeof name, "b%u", i);
    ms_imap_watch_table_update (t, name, &a, TRUE);
  }
  g_assert_cmpuint (ms_imap_watch_table_size (t), ==, MS_IMAP_WATCH_MAILBOXES_MAX);
  /* Past the cap nothing is remembered, and every sight is news. */
  g_assert_true (ms_imap_watch_table_update (t, "one more", &a, TRUE));
  g_assert_true (ms_imap_watch_table_update (t, "one more", &a, FALSE));
  g_assert_cmpuint (ms_imap_watch_table_size (t), ==, MS_IMAP_WATCH_MAILBOXES_MAX);
}

static void
test_batch (void)
{
  g_autoptr (MsImapWatchBatch) b = ms_imap_watch_batch_new ();
  g_assert_null (ms_imap_watch_batch_take (b));
  ms_imap_watch_batch_add (b, "INBOX");
  ms_imap_watch_batch_add (b, "lists.debian");
  ms_imap_watch_batch_add (b, "INBOX");
  ms_imap_watch_batch_add (b, "été");
  g_assert_cmpuint (ms_imap_watch_batch_size (b), ==, 3);
  g_autofree char *lines = ms_imap_watch_batch_take (b);
  g_assert_cmpstr (lines, ==, "INBOX\nlists.debian\nété\n");
  g_assert_cmpuint (ms_imap_watch_batch_size (b), ==, 0);
  /* After a take, a name is news again. */
  ms_imap_watch_batch_add (b, "INBOX");
  g_autofree char *again = ms_imap_watch_batch_take (b);
  g_assert_cmpstr (again, ==, "INBOX\n");
}

/* ---- timing ----------------------------------------------------------------------------- */

#define S(x) ((gint64) (x) * G_USEC_PER_SEC)

static void
test_timer (void)
{
  MsImapWatchTimer t;
  gint wait = 0;
  gint64 now = S (1000);

  /* Poll every 60 s, keepalive every 25 s. */
  ms_imap_watch_timer_init (&t, 60, 25, now);
  g_assert_cmpint (ms_imap_watch_timer_due (&t, now, &wait), ==, MS_IMAP_WATCH_DUE_NOTHING);
  g_assert_cmpint (wait, ==, 25000);
  now += S (25);
  g_assert_cmpint (ms_imap_watch_timer_due (&t, now, &wait), ==, MS_IMAP_WATCH_DUE_KEEPALIVE);
  ms_imap_watch_timer_done (&t, MS_IMAP_WATCH_DUE_KEEPALIVE, now);
  g_assert_cmpint (ms_imap_watch_timer_due (&t, now + 1, &wait), ==, MS_IMAP_WATCH_DUE_NOTHING);
  g_assert_cmpint (wait, ==, 25000); /* 24.999999 s, rounded up */
  now += S (25);
  g_assert_cmpint (ms_imap_watch_timer_due (&t, now, &wait), ==, MS_IMAP_WATCH_DUE_KEEPALIVE);
  ms_imap_watch_timer_done (&t, MS_IMAP_WATCH_DUE_KEEPALIVE, now);
  g_assert_cmpint (ms_imap_watch_timer_due (&t, now, &wait), ==, MS_IMAP_WATCH_DUE_NOTHING);
  g_assert_cmpint (wait, ==, 10000); /* the poll at 1060 comes first */
  now += S (10);
  /* Both due: the poll wins, and it counts as traffic. */
  now += S (20);
  g_assert_cmpint (ms_imap_watch_timer_due (&t, now, &wait), ==, MS_IMAP_WATCH_DUE_POLL);
  ms_imap_watch_timer_done (&t, MS_IMAP_WATCH_DUE_POLL, now);
  g_assert_cmpint (ms_imap_watch_timer_due (&t, now, &wait), ==, MS_IMAP_WATCH_DUE_NOTHING);
  g_assert_cmpint (wait, ==, 25000);

  /* No polling: only keepalives; a late wake-up finds it due at once. */
  ms_imap_watch_timer_init (&t, 0, 60, now);
  g_assert_cmpint (ms_imap_watch_timer_due (&t, now + S (59), &wait), ==, MS_IMAP_WATCH_DUE_NOTHING);
  g_assert_cmpint (wait, ==, 1000);
  g_assert_cmpint (ms_imap_watch_timer_due (&t, now + S (600), &wait), ==, MS_IMAP_WATCH_DUE_KEEPALIVE);
  /* Never spin: a wait is at least 1 ms. */
  g_assert_cmpint (ms_imap_watch_timer_due (&t, now + S (60) - 1, &wait), ==, MS_IMAP_WATCH_DUE_NOTHING);
  g_assert_cmpint (wait, ==, 1);

  /* Neither: wait for ever. */
  ms_imap_watch_timer_init (&t, 0, 0, now);
  g_assert_cmpint (ms_imap_watch_timer_due (&t, now + S (100000), &wait), ==, MS_IMAP_WATCH_DUE_NOTHING);
  g_assert_cmpint (wait, ==, G_MAXINT);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/imap-watch/options", test_options);
  g_test_add_func ("/imap-watch/method", test_method);
  g_test_add_func ("/imap-watch/commands", test_commands);
  g_test_add_func ("/imap-watch/plan-idle", test_plan_idle);
  g_test_add_func ("/imap-watch/output-name", test_output_name);
  g_test_add_func ("/imap-watch/map-far/maildirpp", test_map_far_maildirpp);
  g_test_add_func ("/imap-watch/map-far/verbatim", test_map_far_verbatim);
  g_test_add_func ("/imap-watch/map-far/prefix-and-single", test_map_far_prefix_and_single);
  g_test_add_func ("/imap-watch/classify", test_classify);
  g_test_add_func ("/imap-watch/classify-nul", test_classify_nul);
  g_test_add_func ("/imap-watch/parse-status", test_parse_status);
  g_test_add_func ("/imap-watch/status-changed", test_status_changed);
  g_test_add_func ("/imap-watch/table", test_table);
  g_test_add_func ("/imap-watch/table-cap", test_table_cap);
  g_test_add_func ("/imap-watch/batch", test_batch);
  g_test_add_func ("/imap-watch/timer", test_timer);
  return g_test_run ();
}
