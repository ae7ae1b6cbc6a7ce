/* test-mbsyncrc.c — the mbsync configuration reader: a realistic config,
 * the grammar details mbsync 1.4 showed, every error and warning with its
 * exact text, legacy spellings, limits, argument expansion, patterns. */
#include <glib.h>
#include <string.h>

#include "mbsyncrc.h"
#include "ms-error.h"

static MsMbsyncConfig *
parse_ok (const char *text)
{
  g_autoptr (GError) error = NULL;
  MsMbsyncConfig *cfg = ms_mbsync_config_parse ("rc", text, strlen (text), &error);
  g_assert_no_error (error);
  g_assert_nonnull (cfg);
  return cfg;
}

/* Returns the error message (transfer full). */
static char *
parse_error (const char *text)
{
  GError *error = NULL;
  MsMbsyncConfig *cfg = ms_mbsync_config_parse ("rc", text, strlen (text), &error);
  g_assert_null (cfg);
  g_assert_error (error, MS_ERROR, MS_ERROR_CONFIG);
  char *msg = g_strdup (error->message);
  g_error_free (error);
  return msg;
}

static void
assert_no_warnings (const MsMbsyncConfig *cfg)
{
  for (guint i = 0; i < cfg->warnings->len; i++)
    g_test_message ("unexpected warning: %s", (char *) g_ptr_array_index (cfg->warnings, i));
  g_assert_cmpuint (cfg->warnings->len, ==, 0);
}

/* Two Maildir stores and a channel between them, for tests that only care
 * about one part. */
#define TWO_STORES "MaildirStore a\nPath /m/a/\n\nMaildirStore b\nPath /m/b/\n\n"

/* ---- a realistic file ------------------------------------------------------- */

static const char realistic[] =
  "# ~/.mbsyncrc\n"
  "Create Both\n"
  "Expunge Both\n"
  "SyncState *\n"
  "\n"
  "IMAPAccount gmail\n"
  "Host imap.gmail.com\n"
  "User someone@gmail.com\n"
  "PassCmd \"pass show mail/gmail | head -n1\"\n"
  "TLSType IMAPS\n"
  "CertificateFile /etc/ssl/certs/ca-certificates.crt\n"
  "AuthMechs LOGIN\n"
  "PipelineDepth 50\n"
  "\n"
  "IMAPStore gmail-remote\n"
  "Account gmail\n"
  "\n"
  "MaildirStore gmail-local\n"
  "Path ~/Mail/gmail/\n"
  "Inbox ~/Mail/gmail/INBOX\n"
  "SubFolders Verbatim\n"
  "\n"
  "Channel gmail\n"
  "Far :gmail-remote:\n"
  "Near :gmail-local:\n"
  "Patterns * ![Gmail]* \"[Gmail]/Sent Mail\" \"[Gmail]/Starred\"\n"
  "Pattern \"[Gmail]/All Mail\"\n"
  "Sync Pull New Flags\n"
  "\n"
  "# Dovecot over ssh: no TLS needed, the tunnel is the transport.\n"
  "IMAPStore work\n"
  "Tunnel \"ssh -q mail.example.org /usr/lib/dovecot/imap\"\n"
  "Pass \"s3cret \\\"quoted\\\"\"\n"
  "\n"
  "MaildirStore work-local\n"
  "Inbox ~/Maildir\n"
  "SubFolders Maildir++\n"
  "\n"
  "Channel work\n"
  "Far :work:\n"
  "Near :work-local:\n"
  "Patterns % !Trash\n"
  "Create Near\n"
  "SyncState ~/.mbsync/work/\n"
  "CopyArrivalDate yes\n"
  "\n"
  "Channel work-archive\n"
  "Far :work:Archive\n"
  "Near :work-local:archive\n"
  "MaxSize 200k\n"
  "\n"
  "Group all gmail\n"
  "Channel work\n"
  "Channels work-archive\n"
  "\n"
  "Group inboxes gmail:INBOX work:INBOX\n";

static void
test_realistic (void)
{
  g_autoptr (MsMbsyncConfig) cfg = parse_ok (realistic);
  assert_no_warnings (cfg);

  g_assert_cmpuint (cfg->accounts->len, ==, 1);
  g_assert_cmpuint (cfg->stores->len, ==, 4);
  g_assert_cmpuint (cfg->channels->len, ==, 3);
  g_assert_cmpuint (cfg->groups->len, ==, 2);
  g_assert_cmpstr (cfg->sync_state, ==, "*");
  g_assert_true (cfg->fsync);

  const MsMbsyncAccount *gmail = ms_mbsync_config_find_account (cfg, "gmail");
  g_assert_nonnull (gmail);
  g_assert_cmpuint (gmail->line, ==, 6);
  g_assert_cmpstr (gmail->host, ==, "imap.gmail.com");
  g_assert_cmpuint (gmail->port, ==, 993);
  g_assert_cmpint (gmail->tls_type, ==, MS_MBSYNC_TLS_IMAPS);
  g_assert_cmpstr (gmail->user, ==, "someone@gmail.com");
  g_assert_cmpstr (gmail->pass_cmd, ==, "pass show mail/gmail | head -n1");
  g_assert_false (gmail->pass_cmd_tty);
  g_assert_null (gmail->pass);
  g_assert_cmpstr (gmail->certificate_file, ==, "/etc/ssl/certs/ca-certificates.crt");
  g_assert_nonnull (gmail->auth_mechs);
  g_assert_cmpstr (gmail->auth_mechs[0], ==, "LOGIN");
  g_assert_null (gmail->auth_mechs[1]);
  g_assert_cmpuint (gmail->pipeline_depth, ==, 50);
  g_assert_cmpuint (gmail->timeout, ==, 20);
  g_assert_cmpuint (gmail->tls_versions, ==, MS_MBSYNC_TLS_1_2 | MS_MBSYNC_TLS_1_3);
  g_assert_true (gmail->system_certificates);

  const MsMbsyncStore *remote = ms_mbsync_config_find_store (cfg, "gmail-remote");
  g_assert_cmpint (remote->type, ==, MS_MBSYNC_STORE_IMAP);
  g_assert_true (remote->account == gmail);
  g_assert_true (remote->use_namespace);
  g_assert_cmpint (remote->path_delimiter, ==, '\0');

  const MsMbsyncStore *local = ms_mbsync_config_find_store (cfg, "gmail-local");
  g_assert_cmpint (local->type, ==, MS_MBSYNC_STORE_MAILDIR);
  g_assert_cmpstr (local->path, ==, "~/Mail/gmail/");
  g_assert_cmpstr (local->inbox, ==, "~/Mail/gmail/INBOX");
  g_assert_cmpint (local->subfolders, ==, MS_MBSYNC_SUBFOLDERS_VERBATIM);
  g_assert_cmpint (local->info_delimiter, ==, ':');

  const MsMbsyncChannel *ch = ms_mbsync_config_find_channel (cfg, "gmail");
  g_assert_true (ch->far.store == remote);
  g_assert_true (ch->near.store == local);
  g_assert_null (ch->far.box);
  g_assert_null (ch->near.box);
  const char *const want_patterns[] = { "*", "![Gmail]*", "[Gmail]/Sent Mail", "[Gmail]/Starred",
                                        "[Gmail]/All Mail", NULL };
  g_assert_cmpstrv (ch->patterns, want_patterns);
  g_assert_cmpuint (ch->ops[MS_MBSYNC_PULL], ==, MS_MBSYNC_OP_NEW | MS_MBSYNC_OP_FLAGS);
  g_assert_cmpuint (ch->ops[MS_MBSYNC_PUSH], ==, 0);
  g_assert_cmpuint (ch->create, ==, MS_MBSYNC_SIDE_BOTH);   /* global default */
  g_assert_cmpuint (ch->expunge, ==, MS_MBSYNC_SIDE_BOTH);  /* global default */
  g_assert_cmpuint (ch->remove, ==, 0);
  g_assert_null (ch->sync_state);
  g_assert_false (ch->copy_arrival_date);
  g_assert_true (ms_mbsync_patterns_select ((const char *const *) ch->patterns, "INBOX", TRUE));
  g_assert_true (ms_mbsync_patterns_select ((const char *const *) ch->patterns, "[Gmail]/Sent Mail", TRUE));
  g_assert_false (ms_mbsync_patterns_select ((const char *const *) ch->patterns, "[Gmail]/Spam", TRUE));

  const MsMbsyncStore *work = ms_mbsync_config_find_store (cfg, "work");
  g_assert_nonnull (work->account);
  g_assert_true (work->account->inline_in_store);
  g_assert_cmpstr (work->account->name, ==, "work");
  g_assert_cmpstr (work->account->tunnel, ==, "ssh -q mail.example.org /usr/lib/dovecot/imap");
  g_assert_null (work->account->host);
  g_assert_cmpint (work->account->tls_type, ==, MS_MBSYNC_TLS_NONE);
  g_assert_cmpuint (work->account->port, ==, 143);
  g_assert_cmpstr (ms_mbsync_secret_peek (work->account->pass), ==, "s3cret \"quoted\"");
  g_assert_null (ms_mbsync_config_find_account (cfg, "work")); /* inline accounts are not listed */

  const MsMbsyncStore *wl = ms_mbsync_config_find_store (cfg, "work-local");
  g_assert_null (wl->path);
  g_assert_cmpstr (wl->inbox, ==, "~/Maildir");
  g_assert_cmpint (wl->subfolders, ==, MS_MBSYNC_SUBFOLDERS_MAILDIRPP);

  const MsMbsyncChannel *wc = ms_mbsync_config_find_channel (cfg, "work");
  g_assert_cmpuint (wc->create, ==, MS_MBSYNC_SIDE_NEAR);
  g_assert_cmpuint (wc->expunge, ==, MS_MBSYNC_SIDE_BOTH);
  g_assert_cmpstr (wc->sync_state, ==, "~/.mbsync/work/");
  g_assert_true (wc->copy_arrival_date);
  g_assert_cmpuint (wc->ops[MS_MBSYNC_PULL], ==, MS_MBSYNC_OPS_FULL);
  g_assert_cmpuint (wc->ops[MS_MBSYNC_PUSH], ==, MS_MBSYNC_OPS_FULL);

  const MsMbsyncChannel *arch = ms_mbsync_config_find_channel (cfg, "work-archive");
  g_assert_cmpstr (arch->far.box, ==, "Archive");
  g_assert_cmpstr (arch->near.box, ==, "archive");
  g_assert_null (arch->patterns);
  g_assert_cmpuint (arch->max_size, ==, 200 * 1024);

  const MsMbsyncGroup *all = ms_mbsync_config_find_group (cfg, "all");
  g_assert_cmpuint (all->members->len, ==, 3);
  const MsMbsyncGroupMember *m0 = g_ptr_array_index (all->members, 0);
  const MsMbsyncGroupMember *m2 = g_ptr_array_index (all->members, 2);
  g_assert_true (m0->channel == ch);
  g_assert_null (m0->boxes);
  g_assert_true (m2->channel == arch);
  g_assert_cmpuint (m2->line, ==, 54);

  const MsMbsyncGroup *inboxes = ms_mbsync_config_find_group (cfg, "inboxes");
  const MsMbsyncGroupMember *i1 = g_ptr_array_index (inboxes->members, 1);
  g_assert_true (i1->channel == wc);
  g_assert_cmpstr (i1->boxes[0], ==, "INBOX");
  g_assert_null (i1->boxes[1]);
}

/* ---- grammar ------------------------------------------------------------------ */

static void
test_quoting (void)
{
  g_autoptr (MsMbsyncConfig) cfg = parse_ok (
    TWO_STORES "Channel c\nFar :a:\nNear :b:\n"
    "Patterns \"a b\" \"x\\\"y\" ab\"cd ef\"gh c\\d \"c\\\\d\" a\\ b \"\" \"#x\" INBOX#x\n"
    "Patterns one # two three\n"
    "Patterns \\#lit\n");
  const char *const want[] = { "a b", "x\"y", "abcd efgh", "cd", "c\\d", "a b", "", "#x",
                               "INBOX#x", "one", "#lit", NULL };
  g_assert_cmpstrv (ms_mbsync_config_find_channel (cfg, "c")->patterns, want);
}

static void
test_whitespace_and_case (void)
{
  /* Tabs, CR (CRLF files), vertical tab and form feed separate words, as
   * with mbsync's isspace(); keywords and keyword arguments ignore case;
   * the last line needs no newline. */
  g_autoptr (MsMbsyncConfig) cfg = parse_ok (
    "maildirstore\ta\r\n\tPATH /m/a/\r\nsubfolders\vVERBATIM\r\n\r\n"
    "MAILDIRSTORE b\n  path /m/b/\n \t \n"
    "cHaNnEl c\nfar :a:\nNEAR :b:\nsync\fpullnew PUSHFLAGS\ncreate nEaR");
  const MsMbsyncChannel *c = ms_mbsync_config_find_channel (cfg, "c");
  g_assert_nonnull (c);
  g_assert_cmpuint (c->ops[MS_MBSYNC_PULL], ==, MS_MBSYNC_OP_NEW);
  g_assert_cmpuint (c->ops[MS_MBSYNC_PUSH], ==, MS_MBSYNC_OP_FLAGS);
  g_assert_cmpuint (c->create, ==, MS_MBSYNC_SIDE_NEAR);
  g_assert_cmpstr (ms_mbsync_config_find_store (cfg, "a")->path, ==, "/m/a/");
  g_assert_cmpint (ms_mbsync_config_find_store (cfg, "a")->subfolders, ==, MS_MBSYNC_SUBFOLDERS_VERBATIM);
  /* Names keep their case. */
  g_assert_null (ms_mbsync_config_find_channel (cfg, "C"));
}

static void
test_sections (void)
{
  /* A comment line does not end a section; a blank or all-white line does. */
  g_autoptr (MsMbsyncConfig) cfg = parse_ok (
    "# top\n\n\nFSync no\n\nSync Pull\n  \nCreate Near\n\n"
    "MaildirStore a\n# inside\n   # indented comment\nPath /m/a/\n   \n"
    "MaildirStore b\nPath /m/b/\n\n\n\n"
    "Channel c\nFar :a:\n# between\nNear :b:\n");
  g_assert_false (cfg->fsync);
  /* blank lines among the global options do not end them */
  g_assert_cmphex (ms_mbsync_config_find_channel (cfg, "c")->ops[MS_MBSYNC_PUSH], ==, 0);
  g_assert_cmpuint (ms_mbsync_config_find_channel (cfg, "c")->create, ==, MS_MBSYNC_SIDE_NEAR);
  g_assert_cmpstr (ms_mbsync_config_find_store (cfg, "a")->path, ==, "/m/a/");
  g_assert_nonnull (ms_mbsync_config_find_channel (cfg, "c"));
  assert_no_warnings (cfg);
}

static void
test_booleans (void)
{
  static const struct {
    const char *word;
    gboolean value;
  } cases[] = { { "yes", TRUE },   { "YES", TRUE },  { "true", TRUE }, { "On", TRUE },
                { "1", TRUE },     { "no", FALSE },  { "No", FALSE },  { "false", FALSE },
                { "off", FALSE },  { "0", FALSE } };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    /* as a global default, and in the channel itself */
    g_autofree char *global = g_strdup_printf ("CopyArrivalDate %s\n\n" TWO_STORES
                                               "Channel c\nFar :a:\nNear :b:\n", cases[i].word);
    g_autofree char *local = g_strdup_printf (TWO_STORES "Channel c\nFar :a:\nNear :b:\n"
                                              "CopyArrivalDate %s\n", cases[i].word);
    g_autoptr (MsMbsyncConfig) c1 = parse_ok (global);
    g_autoptr (MsMbsyncConfig) c2 = parse_ok (local);
    g_assert_cmpint (ms_mbsync_config_find_channel (c1, "c")->copy_arrival_date, ==, cases[i].value);
    g_assert_cmpint (ms_mbsync_config_find_channel (c2, "c")->copy_arrival_date, ==, cases[i].value);
  }
}

/* ---- Sync --------------------------------------------------------------------------- */

static void
test_sync_ops (void)
{
  const guint F = MS_MBSYNC_OPS_FULL, N = MS_MBSYNC_OP_NEW, O = MS_MBSYNC_OP_OLD,
              U = MS_MBSYNC_OP_UPGRADE, G = MS_MBSYNC_OP_GONE, L = MS_MBSYNC_OP_FLAGS;
  static const char *const words[] = {
    "All", "Full", "None", "Pull", "Push", "Pull Push", "New", "Pull New Flags", "New Delete",
    "New Gone", "ReNew", "Upgrade", "Old", "Pull Old", "PullNew Push", "PullNew PullNew",
    "PullNew PushFlags Delete", "PullNew Flags", "Pull Pull", "New New", "All Pull",
    "Flags Full", "PullOld", "PushReNew PullUpgrade", "PullNew Push Push",
  };
  const guint want[][2] = {
    { F, F }, { F, F }, { 0, 0 }, { F, 0 }, { 0, F }, { F, F }, { N, N }, { N | L, 0 }, { N | G, N | G },
    { N | G, N | G }, { U, U }, { U, U }, { O, O }, { O, 0 }, { N, F }, { N, 0 },
    { N | G, L | G }, { N | L, L }, { F, 0 }, { N, N }, { F, 0 },
    { F, F }, { O, 0 }, { U, U }, { N, F },
  };
  G_STATIC_ASSERT (G_N_ELEMENTS (words) == G_N_ELEMENTS (want));

  for (guint i = 0; i < G_N_ELEMENTS (words); i++) {
    g_autofree char *text = g_strdup_printf (TWO_STORES "Channel c\nFar :a:\nNear :b:\nSync %s\n", words[i]);
    g_autoptr (MsMbsyncConfig) cfg = parse_ok (text);
    const MsMbsyncChannel *c = ms_mbsync_config_find_channel (cfg, "c");
    g_test_message ("Sync %s", words[i]);
    g_assert_cmphex (c->ops[MS_MBSYNC_PULL], ==, want[i][0]);
    g_assert_cmphex (c->ops[MS_MBSYNC_PUSH], ==, want[i][1]);
  }
}

static void
test_sync_errors (void)
{
  static const struct {
    const char *words;
    const char *message;
  } cases[] = {
    { "bogus", "rc:10: Sync: invalid operation 'bogus'" },
    { "PullAll", "rc:10: Sync: invalid operation 'PullAll'" },
    { "PushNone", "rc:10: Sync: invalid operation 'PushNone'" },
    { "Pulling", "rc:10: Sync: invalid operation 'Pulling'" },
    { "None Pull", "rc:10: Sync: None cannot be combined with other operations" },
    { "PullNew None", "rc:10: Sync: None cannot be combined with other operations" },
    { "PullNew Pull", "rc:10: Sync: conflicting operations (a cell is asserted twice, e.g. PullNew together with Pull or New)" },
    { "PullNew New", "rc:10: Sync: conflicting operations (a cell is asserted twice, e.g. PullNew together with Pull or New)" },
    { "PullNew All", "rc:10: Sync: conflicting operations (a cell is asserted twice, e.g. PullNew together with Pull or New)" },
    { "PullNew Delete Push", "rc:10: Sync: conflicting operations (a cell is asserted twice, e.g. PullNew together with Pull or New)" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *text = g_strdup_printf (TWO_STORES "Channel c\nFar :a:\nNear :b:\nSync %s\n", cases[i].words);
    g_autofree char *msg = parse_error (text);
    g_assert_cmpstr (msg, ==, cases[i].message);
  }
}

static void
test_sides (void)
{
  g_autoptr (MsMbsyncConfig) cfg = parse_ok (
    "Create Master\nRemove slave\nExpunge Far Near\nExpungeSolo None\nExpireSide Far\n\n"
    TWO_STORES
    "Channel c\nFar :a:\nNear :b:\n\n"
    "Channel d\nFar :a:\nNear :b:\nCreate None\nExpunge Near\nExpungeSolo Far\nExpireSide near\nExpireUnread yes\n");
  const MsMbsyncChannel *c = ms_mbsync_config_find_channel (cfg, "c");
  const MsMbsyncChannel *d = ms_mbsync_config_find_channel (cfg, "d");
  g_assert_cmpuint (c->create, ==, MS_MBSYNC_SIDE_FAR);
  g_assert_cmpuint (c->remove, ==, MS_MBSYNC_SIDE_NEAR);
  g_assert_cmpuint (c->expunge, ==, MS_MBSYNC_SIDE_BOTH);
  g_assert_cmpuint (c->expunge_solo, ==, 0);
  g_assert_cmpuint (c->expire_side, ==, MS_MBSYNC_SIDE_FAR);
  g_assert_false (c->expire_unread);
  g_assert_cmpuint (d->create, ==, 0);
  g_assert_cmpuint (d->remove, ==, MS_MBSYNC_SIDE_NEAR);
  g_assert_cmpuint (d->expunge, ==, MS_MBSYNC_SIDE_NEAR);
  g_assert_cmpuint (d->expunge_solo, ==, MS_MBSYNC_SIDE_FAR);
  g_assert_cmpuint (d->expire_side, ==, MS_MBSYNC_SIDE_NEAR);
  g_assert_true (d->expire_unread);
}

/* ---- legacy spellings ----------------------------------------------------------------- */

static void
test_legacy (void)
{
  g_autoptr (MsMbsyncConfig) cfg = parse_ok (
    "IMAPAccount old\nHost imaps:mail.example.org\nSSLVersions TLSv1.2 TLSv1.3\n\n"
    "IMAPAccount starttls\nHost imap.example.org\nSSLType STARTTLS\nPort 1143\n\n"
    "IMAPAccount u\nHost h\nUseIMAPS yes\n\n"
    "IMAPAccount plain\nHost h\nSSLType none\n\n"
    "IMAPStore s\nAccount old\n\n"
    "MaildirStore m\nPath /m/\n\n"
    "Channel c\nMaster :s:\nSlave :m:\nCreate Slave\nSync PullNew PushReNew Delete\n");
  assert_no_warnings (cfg);

  const MsMbsyncAccount *old = ms_mbsync_config_find_account (cfg, "old");
  g_assert_cmpstr (old->host, ==, "mail.example.org");
  g_assert_cmpint (old->tls_type, ==, MS_MBSYNC_TLS_IMAPS);
  g_assert_cmpuint (old->port, ==, 993);
  g_assert_cmpuint (old->tls_versions, ==, MS_MBSYNC_TLS_1_2 | MS_MBSYNC_TLS_1_3);

  const MsMbsyncAccount *st = ms_mbsync_config_find_account (cfg, "starttls");
  g_assert_cmpint (st->tls_type, ==, MS_MBSYNC_TLS_STARTTLS);
  g_assert_cmpuint (st->port, ==, 1143);
  g_assert_cmpint (ms_mbsync_config_find_account (cfg, "u")->tls_type, ==, MS_MBSYNC_TLS_IMAPS);
  g_assert_cmpint (ms_mbsync_config_find_account (cfg, "plain")->tls_type, ==, MS_MBSYNC_TLS_NONE);
  g_assert_cmpuint (ms_mbsync_config_find_account (cfg, "plain")->port, ==, 143);

  const MsMbsyncChannel *c = ms_mbsync_config_find_channel (cfg, "c");
  g_assert_cmpstr (c->far.store->name, ==, "s");
  g_assert_cmpstr (c->near.store->name, ==, "m");
  g_assert_cmpuint (c->create, ==, MS_MBSYNC_SIDE_NEAR);
  g_assert_cmphex (c->ops[MS_MBSYNC_PULL], ==, MS_MBSYNC_OP_NEW | MS_MBSYNC_OP_GONE);
  g_assert_cmphex (c->ops[MS_MBSYNC_PUSH], ==, MS_MBSYNC_OP_UPGRADE | MS_MBSYNC_OP_GONE);
}

static void
test_tls_versions (void)
{
  static const struct {
    const char *line;
    guint want;
  } cases[] = {
    { "TLSVersions +1.1", MS_MBSYNC_TLS_1_1 | MS_MBSYNC_TLS_1_2 | MS_MBSYNC_TLS_1_3 },
    { "TLSVersions -1.3", MS_MBSYNC_TLS_1_2 },
    { "TLSVersions 1.3", MS_MBSYNC_TLS_1_3 },
    { "TLSVersions 1.2 +1.3", MS_MBSYNC_TLS_1_2 | MS_MBSYNC_TLS_1_3 },
    { "TLSVersions -1.2 -1.3 +1.0", MS_MBSYNC_TLS_1_0 },
    { "SSLVersions TLSv1 tlsv1.1", MS_MBSYNC_TLS_1_0 | MS_MBSYNC_TLS_1_1 },
    { "SSLVersions TLSv1.3", MS_MBSYNC_TLS_1_3 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *text = g_strdup_printf ("IMAPAccount a\nHost h\n%s\n", cases[i].line);
    g_autoptr (MsMbsyncConfig) cfg = parse_ok (text);
    g_assert_cmphex (ms_mbsync_config_find_account (cfg, "a")->tls_versions, ==, cases[i].want);
  }
}

/* ---- defaults and values ------------------------------------------------------------ */

static void
test_defaults (void)
{
  g_autoptr (MsMbsyncConfig) cfg = parse_ok (
    "FieldDelimiter ;\nBufferLimit 5m\nSync Push\nMaxMessages 0\n\n"
    "IMAPAccount a\nHost h\nTLSType IMAPS\nPort 10993\nTimeout 0\nSystemCertificates no\n"
    "CipherString HIGH:!aNULL\nDisableExtensions move literal+\nDisableExtension COMPRESS=DEFLATE\n"
    "UserCmd +\"secret-tool lookup user x\"\nPassCmd +pinentry-get\n\n"
    "IMAPStore s\nAccount a\nPath INBOX.\nPathDelimiter .\nUseNamespace no\nMapInbox inbox\n"
    "Flatten .\nMaxSize 1M\n\n"
    "MaildirStore m\nPath /m/\nSubFolders legacy\nInfoDelimiter !\n\n"
    "MaildirStore n\nPath /n/\n\n"
    "Channel c\nFar :s:\nNear :m:\n\n"
    "Channel d\nFar :s:x\nNear :n:\nSync Pull\n");
  assert_no_warnings (cfg);
  g_assert_cmpint (cfg->field_delimiter, ==, ';');
  g_assert_cmpuint (cfg->buffer_limit, ==, 5 * 1024 * 1024);

  const MsMbsyncAccount *a = ms_mbsync_config_find_account (cfg, "a");
  g_assert_cmpuint (a->port, ==, 10993);
  g_assert_cmpuint (a->timeout, ==, 0);
  g_assert_false (a->system_certificates);
  g_assert_cmpstr (a->cipher_string, ==, "HIGH:!aNULL");
  const char *const ext[] = { "MOVE", "LITERAL+", "COMPRESS=DEFLATE", NULL };
  g_assert_cmpstrv (a->disabled_extensions, ext);
  g_assert_null (a->auth_mechs);
  g_assert_cmpuint (a->pipeline_depth, ==, 0);
  g_assert_cmpstr (a->user_cmd, ==, "secret-tool lookup user x");
  g_assert_true (a->user_cmd_tty);
  g_assert_cmpstr (a->pass_cmd, ==, "pinentry-get");
  g_assert_true (a->pass_cmd_tty);

  const MsMbsyncStore *s = ms_mbsync_config_find_store (cfg, "s");
  g_assert_cmpstr (s->path, ==, "INBOX.");
  g_assert_cmpint (s->path_delimiter, ==, '.');
  g_assert_false (s->use_namespace);
  g_assert_cmpstr (s->map_inbox, ==, "inbox");
  g_assert_cmpstr (s->flatten, ==, ".");
  g_assert_cmpuint (s->max_size, ==, 1024 * 1024);

  const MsMbsyncStore *m = ms_mbsync_config_find_store (cfg, "m");
  g_assert_cmpint (m->subfolders, ==, MS_MBSYNC_SUBFOLDERS_LEGACY);
  g_assert_cmpint (m->info_delimiter, ==, '!');
  g_assert_cmpstr (m->inbox, ==, "~/Maildir");
  const MsMbsyncStore *n = ms_mbsync_config_find_store (cfg, "n");
  g_assert_cmpint (n->subfolders, ==, MS_MBSYNC_SUBFOLDERS_UNSET);
  g_assert_cmpint (n->info_delimiter, ==, ';'); /* from FieldDelimiter */

  /* The global Sync applies until a channel gives its own. */
  const MsMbsyncChannel *c = ms_mbsync_config_find_channel (cfg, "c");
  const MsMbsyncChannel *d = ms_mbsync_config_find_channel (cfg, "d");
  g_assert_cmphex (c->ops[MS_MBSYNC_PULL], ==, 0);
  g_assert_cmphex (c->ops[MS_MBSYNC_PUSH], ==, MS_MBSYNC_OPS_FULL);
  g_assert_cmphex (d->ops[MS_MBSYNC_PULL], ==, MS_MBSYNC_OPS_FULL);
  g_assert_cmphex (d->ops[MS_MBSYNC_PUSH], ==, 0);
  g_assert_cmpstr (d->far.box, ==, "x");
  g_assert_cmpuint (c->expire_side, ==, MS_MBSYNC_SIDE_NEAR);
  g_assert_null (cfg->sync_state);
}

static void
test_sizes (void)
{
  static const struct {
    const char *word;
    guint64 bytes;
  } cases[] = { { "0", 0 },         { "100", 100 },  { "10k", 10240 },          { "10K", 10240 },
                { "10kb", 10240 },  { "10KB", 10240 }, { "2m", 2097152 },       { "2Mb", 2097152 },
                { "7b", 7 } };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *text = g_strdup_printf ("MaildirStore a\nMaxSize %s\n", cases[i].word);
    g_autoptr (MsMbsyncConfig) cfg = parse_ok (text);
    g_assert_cmpuint (ms_mbsync_config_find_store (cfg, "a")->max_size, ==, cases[i].bytes);
  }
}

static void
test_forward_references (void)
{
  /* mbsync needs definitions first; reading them in any order is harmless. */
  g_autoptr (MsMbsyncConfig) cfg = parse_ok (
    "Group g c\n\nChannel c\nFar :s:\nNear :m:\n\nIMAPStore s\nAccount a\n\n"
    "IMAPAccount a\nHost h\n\nMaildirStore m\nPath /m/\n");
  assert_no_warnings (cfg);
  const MsMbsyncChannel *c = ms_mbsync_config_find_channel (cfg, "c");
  g_assert_true (c->far.store->account == ms_mbsync_config_find_account (cfg, "a"));
  const MsMbsyncGroupMember *m = g_ptr_array_index (ms_mbsync_config_find_group (cfg, "g")->members, 0);
  g_assert_true (m->channel == c);
}

static void
test_same_name_different_classes (void)
{
  /* Accounts, stores, channels and groups are separate namespaces. */
  g_autoptr (MsMbsyncConfig) cfg = parse_ok (
    "IMAPAccount x\nHost h\n\nIMAPStore x\nAccount x\n\nMaildirStore y\nPath /y/\n\n"
    "Channel x\nFar :x:\nNear :y:\n\nGroup x x\n");
  g_assert_nonnull (ms_mbsync_config_find_account (cfg, "x"));
  g_assert_nonnull (ms_mbsync_config_find_store (cfg, "x"));
  g_assert_nonnull (ms_mbsync_config_find_channel (cfg, "x"));
  g_assert_nonnull (ms_mbsync_config_find_group (cfg, "x"));
}

/* ---- errors --------------------------------------------------------------------------- */

static const struct {
  const char *text;
  const char *message;
} errors[] = {
  /* words */
  { "MaildirStore a\nPath \"/m/a\n", "rc:2: missing closing quote" },
  { "MaildirStore a\nPath /m/a\\\n", "rc:2: unterminated escape sequence (a backslash ends the line)" },
  { "MaildirStore a\nPath\n", "rc:2: Path: parameter missing" },
  { "MaildirStore a\nPath # comment\n", "rc:2: Path: parameter missing" },
  { "MaildirStore a\nPath /a /b\n", "rc:2: Path: excess argument '/b'" },
  /* structure */
  { "Bogus 1\n", "rc:1: 'Bogus' is not a recognized section-starting or global keyword" },
  { "MaxSize 1k\n", "rc:1: 'MaxSize' is not a recognized section-starting or global keyword" },
  { "Patterns *\n", "rc:1: 'Patterns' is not a recognized section-starting or global keyword" },
  { "MaildirStore a\nPath /a/\n\nSync Pull\n", "rc:4: global option Sync must come before the first section" },
  { "MaildirStore a\nPath /a/\n\nFSync no\n", "rc:4: global option FSync must come before the first section" },
  { "MaildirStore a\nPath /a/\n\nPath /b/\n", "rc:4: 'Path' is not a recognized section-starting or global keyword" },
  { "MaildirStore a\nHost h\n", "rc:2: keyword 'Host' is not recognized in MaildirStore sections" },
  { "MaildirStore a\nBogus x\n", "rc:2: keyword 'Bogus' is not recognized in MaildirStore sections" },
  { "IMAPStore a\nHost h\nInfoDelimiter ;\n", "rc:3: keyword 'InfoDelimiter' is not recognized in IMAPStore sections" },
  { "IMAPAccount a\nHost h\nPath x\n", "rc:3: keyword 'Path' is not recognized in IMAPAccount sections" },
  { "IMAPAccount a\nHost h\nAccount x\n", "rc:3: keyword 'Account' is not recognized in IMAPAccount sections" },
  { TWO_STORES "Channel c\nFar :a:\nNear :b:\nFSync no\n", "rc:10: keyword 'FSync' is not recognized in Channel sections" },
  { TWO_STORES "Channel c\nFar :a:\nNear :b:\nPipelineDepth 1\n", "rc:10: keyword 'PipelineDepth' is not recognized in Channel sections" },
  { "Group g\nPatterns *\n", "rc:2: keyword 'Patterns' is not recognized in Group sections" },
  { "MaildirStore a\nPath /a/\nChannel c\n", "rc:3: Channel starts a new section: end the MaildirStore section with an empty line first" },
  { "Group g\nChannel c\nGroup h\n", "rc:3: Group starts a new section: end the Group section with an empty line first" },
  { "MaildirStore\n", "rc:1: MaildirStore: parameter missing" },
  { "MaildirStore a b\n", "rc:1: MaildirStore: excess argument 'b' (quote a name that contains spaces)" },
  { "Channel\n", "rc:1: Channel: parameter missing" },
  /* duplicates */
  { "MaildirStore a\n\nMaildirStore a\n", "rc:3: duplicate store name 'a' (first defined at line 1)" },
  { "MaildirStore a\n\nIMAPStore a\nHost h\n", "rc:3: duplicate store name 'a' (first defined at line 1)" },
  { "IMAPAccount a\nHost h\n\nIMAPAccount a\nHost h\n", "rc:4: duplicate IMAPAccount name 'a' (first defined at line 1)" },
  { TWO_STORES "Channel c\nFar :a:\nNear :b:\n\nChannel c\nFar :a:\nNear :b:\n", "rc:11: duplicate Channel name 'c' (first defined at line 7)" },
  { "Group g\n\nGroup g\n", "rc:3: duplicate Group name 'g' (first defined at line 1)" },
  /* accounts */
  { "IMAPAccount a\nUser u\n", "rc:1: IMAP account 'a' has neither Tunnel nor Host" },
  { "IMAPStore s\nUser u\n", "rc:1: IMAP store 's' has neither Tunnel nor Host" },
  { "IMAPStore s\n", "rc:1: IMAP store 's' has neither Tunnel nor Host" },
  { "IMAPAccount a\nHost h\n\nIMAPStore s\nAccount a\nPort 5\n", "rc:6: IMAP store 's' has both Account and account-specific options" },
  { "IMAPAccount a\nHost h\n\nIMAPStore s\nPort 5\nAccount a\n", "rc:5: IMAP store 's' has both Account and account-specific options" },
  { "IMAPStore s\nAccount zz\n", "rc:2: unknown IMAP account 'zz'" },
  { "IMAPAccount a\nHost imaps:\n", "rc:2: Host: the host name is empty" },
  { "IMAPAccount a\nHost h\nPort 0\n", "rc:3: Port: 0 is out of range (1..65535)" },
  { "IMAPAccount a\nHost h\nPort 99999\n", "rc:3: Port: 99999 is out of range (1..65535)" },
  { "IMAPAccount a\nHost h\nPort abc\n", "rc:3: Port: invalid number 'abc'" },
  { "IMAPAccount a\nHost h\nPort -1\n", "rc:3: Port: invalid number '-1'" },
  { "IMAPAccount a\nHost h\nPort 99999999999999999999999\n", "rc:3: Port: invalid number '99999999999999999999999'" },
  { "IMAPAccount a\nHost h\nPipelineDepth 0\n", "rc:3: PipelineDepth: 0 is out of range (1..2147483647)" },
  { "IMAPAccount a\nHost h\nTimeout 1.5\n", "rc:3: Timeout: invalid number '1.5'" },
  { "IMAPAccount a\nHost h\nTLSType SSL\n", "rc:3: TLSType: invalid value 'SSL' (use None, STARTTLS or IMAPS)" },
  { "IMAPAccount a\nHost h\nSSLType bogus\n", "rc:3: SSLType: invalid value 'bogus' (use None, STARTTLS or IMAPS)" },
  { "IMAPAccount a\nHost h\nSSLVersions TLSv9\n", "rc:3: SSLVersions: unrecognized TLS version 'TLSv9'" },
  { "IMAPAccount a\nHost h\nTLSVersions +2.0\n", "rc:3: TLSVersions: unrecognized TLS version '+2.0' (use +1.2, -1.3 ...)" },
  { "IMAPAccount a\nHost h\nAuthMechs\n", "rc:3: AuthMechs: parameter missing" },
  { "IMAPAccount a\nHost h\nSystemCertificates maybe\n", "rc:3: SystemCertificates: invalid boolean value 'maybe' (use yes or no)" },
  { "IMAPAccount a\nHost h\nPassCmd +\n", "rc:3: PassCmd: the command is empty" },
  /* stores */
  { "MaildirStore m\nPath /m/\nSubFolders Maildir++\n", "rc:1: Maildir store 'm': setting Path is incompatible with 'SubFolders Maildir++'" },
  { "MaildirStore m\nSubFolders bogus\n", "rc:2: SubFolders: unrecognized style 'bogus' (use Verbatim, Maildir++ or Legacy)" },
  { "MaildirStore m\nInfoDelimiter ab\n", "rc:2: InfoDelimiter must be exactly one character long" },
  { "IMAPStore s\nHost h\nPathDelimiter ab\n", "rc:3: PathDelimiter must be exactly one character long" },
  { "MaildirStore m\nFlatten \"\"\n", "rc:2: Flatten: the delimiter is empty" },
  { "MaildirStore m\nMaxSize 10q\n", "rc:2: MaxSize: invalid size '10q' (use a number with an optional k or m suffix)" },
  { "MaildirStore m\nMaxSize k\n", "rc:2: MaxSize: invalid size 'k' (use a number with an optional k or m suffix)" },
  { "MaildirStore m\nMaxSize 99999999999999m\n", "rc:2: MaxSize: invalid size '99999999999999m' (use a number with an optional k or m suffix)" },
  { "FieldDelimiter ab\n", "rc:1: FieldDelimiter must be exactly one character long" },
  { "BufferLimit 0\n", "rc:1: BufferLimit cannot be zero" },
  /* channels */
  { TWO_STORES "Channel c\nNear :b:\n", "rc:7: channel 'c' has no Far store" },
  { TWO_STORES "Channel c\nFar :a:\n", "rc:7: channel 'c' has no Near store" },
  { TWO_STORES "Channel c\nFar :nope:\nNear :b:\n", "rc:8: unknown store 'nope'" },
  { TWO_STORES "Channel c\nFar :a:\nNear :B:\n", "rc:9: unknown store 'B'" },
  { TWO_STORES "Channel c\nFar a\nNear :b:\n", "rc:8: Far: malformed store reference 'a' (use :STORE: or :STORE:MAILBOX)" },
  { TWO_STORES "Channel c\nFar :a\nNear :b:\n", "rc:8: Far: malformed store reference ':a' (use :STORE: or :STORE:MAILBOX)" },
  { TWO_STORES "Channel c\nFar ::\nNear :b:\n", "rc:8: Far: malformed store reference '::' (use :STORE: or :STORE:MAILBOX)" },
  { TWO_STORES "Channel c\nFar :a:\nNear :b:\nPatterns\n", "rc:10: Patterns: parameter missing" },
  { TWO_STORES "Channel c\nFar :a:\nNear :b:\nCreate x\n", "rc:10: Create: invalid value 'x' (use None, Far, Near or Both)" },
  { TWO_STORES "Channel c\nFar :a:\nNear :b:\nExpireSide Both\n", "rc:10: ExpireSide: invalid value 'Both' (use Far or Near)" },
  { TWO_STORES "Channel c\nFar :a:\nNear :b:\nCopyArrivalDate 2\n", "rc:10: CopyArrivalDate: invalid boolean value '2' (use yes or no)" },
  { TWO_STORES "Channel c\nFar :a:\nNear :b:\nCopyArrivalDate off extra\n", "rc:10: CopyArrivalDate: excess argument 'extra'" },
  { TWO_STORES "Channel c\nFar :a:\nNear :b:\nMaxMessages 12x\n", "rc:10: MaxMessages: invalid number '12x'" },
  { TWO_STORES "Channel c\nFar :a:\nNear :b:\nSyncState\n", "rc:10: SyncState: parameter missing" },
  { TWO_STORES "Channel c\nFar :a:\nNear :b:\nExpunge Both\nExpungeSolo Near\n", "rc:7: channel 'c': Expunge and ExpungeSolo are mutually exclusive for one side" },
  /* groups */
  { "Group g c:\n", "rc:1: empty mailbox name in 'c:'" },
  { "Group g c:a,,b\n", "rc:1: empty mailbox name in 'c:a,,b'" },
  { "Group g :a\n", "rc:1: Group: ':a' names no channel" },
  /* a hostile name is escaped, not printed raw */
  { "Bo\x1bgus\n", "rc:1: 'Bo\\x1bgus' is not a recognized section-starting or global keyword" },
};

static void
test_errors (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (errors); i++) {
    g_test_message ("%s", errors[i].text);
    g_autofree char *msg = parse_error (errors[i].text);
    g_assert_cmpstr (msg, ==, errors[i].message);
  }
}

static void
test_nul_byte (void)
{
  static const char text[] = "MaildirStore a\nPath /a\0/b\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (MsMbsyncConfig) cfg = ms_mbsync_config_parse ("rc", text, sizeof text - 1, &error);
  g_assert_null (cfg);
  g_assert_cmpstr (error->message, ==, "rc:2: line contains a NUL byte");
}

static void
test_limits (void)
{
  /* file size */
  g_autofree char *big = g_strnfill (MS_MBSYNCRC_MAX_BYTES + 1, '\n');
  g_autoptr (GError) e1 = NULL;
  g_assert_null (ms_mbsync_config_parse ("rc", big, MS_MBSYNCRC_MAX_BYTES + 1, &e1));
  g_assert_cmpstr (e1->message, ==, "rc:1: the file is larger than 1048576 bytes");
  big[MS_MBSYNCRC_MAX_BYTES] = '\0';
  g_autoptr (MsMbsyncConfig) ok = parse_ok (big);
  g_assert_cmpuint (ok->stores->len, ==, 0);

  /* line length: the limit itself is fine */
  g_autofree char *path = g_strnfill (MS_MBSYNCRC_MAX_LINE - 5, 'p');
  g_autofree char *fits = g_strdup_printf ("MaildirStore a\nPath %s\n", path);
  g_autoptr (MsMbsyncConfig) cfg = parse_ok (fits);
  g_assert_cmpuint (strlen (ms_mbsync_config_find_store (cfg, "a")->path), ==, MS_MBSYNCRC_MAX_LINE - 5);
  g_autofree char *too_long = g_strdup_printf ("MaildirStore a\nPath %sp\n", path);
  g_autofree char *m1 = parse_error (too_long);
  g_assert_cmpstr (m1, ==, "rc:2: line is longer than 4096 bytes");

  /* sections */
  GString *s = g_string_new (NULL);
  for (int i = 0; i <= MS_MBSYNCRC_MAX_SECTIONS; i++)
    g_string_append_printf (s, "MaildirStore s%d\n\n", i);
  g_autofree char *m2 = parse_error (s->str);
  g_assert_cmpstr (m2, ==, "rc:8193: more than 4096 sections");
  g_string_free (s, TRUE);

  /* patterns per channel, across lines */
  s = g_string_new (TWO_STORES "Channel c\nFar :a:\nNear :b:\n");
  for (int i = 0; i < MS_MBSYNCRC_MAX_LIST / 4; i++)
    g_string_append (s, "Patterns a b c d\n");
  g_autoptr (MsMbsyncConfig) full = parse_ok (s->str);
  g_assert_cmpuint (g_strv_length (ms_mbsync_config_find_channel (full, "c")->patterns), ==, MS_MBSYNCRC_MAX_LIST);
  g_string_append (s, "Pattern e\n");
  g_autofree char *m3 = parse_error (s->str);
  g_assert_cmpstr (m3, ==, "rc:266: Pattern: more than 1024 patterns in one channel");
  g_string_free (s, TRUE);
}

/* ---- warnings --------------------------------------------------------------------------- */

static void
test_warnings (void)
{
  static const struct {
    const char *line;
    const char *section; /* inside which the line is tried */
    const char *warning; /* NULL: none expected */
  } cases[] = {
    { "UseKeychain yes", "IMAPAccount a\nHost h\n", "rc:3: warning: UseKeychain is not supported by sync_imap and is ignored" },
    { "UseKeychain no", "IMAPAccount a\nHost h\n", NULL },
    { "ClientCertificate /c.pem", "IMAPAccount a\nHost h\n", "rc:3: warning: ClientCertificate is not supported by sync_imap and is ignored" },
    { "ClientKey /k.pem", "IMAPAccount a\nHost h\n", "rc:3: warning: ClientKey is not supported by sync_imap and is ignored" },
    { "RequireSSL yes", "IMAPAccount a\nHost h\n", "rc:3: warning: RequireSSL is not supported by sync_imap and is ignored" },
    { "UseTLSv1 no", "IMAPAccount a\nHost h\n", "rc:3: warning: UseTLSv1 is not supported by sync_imap and is ignored" },
    { "RequireCRAM yes", "IMAPAccount a\nHost h\n", "rc:3: warning: RequireCRAM is not supported by sync_imap and is ignored" },
    { "SSLVersions SSLv3 TLSv1.2", "IMAPAccount a\nHost h\n", "rc:3: warning: SSLv3 is not supported by sync_imap and is ignored" },
    { "SubscribedOnly yes", "IMAPStore s\nHost h\n", "rc:3: warning: SubscribedOnly is not supported by sync_imap and is ignored" },
    { "SubscribedOnly no", "IMAPStore s\nHost h\n", NULL },
    { "Trash Trash", "IMAPStore s\nHost h\n", "rc:3: warning: Trash is not supported by sync_imap and is ignored" },
    { "TrashNewOnly yes", "MaildirStore m\n", "rc:2: warning: TrashNewOnly is not supported by sync_imap and is ignored" },
    { "TrashRemoteNew yes", "MaildirStore m\n", "rc:2: warning: TrashRemoteNew is not supported by sync_imap and is ignored" },
    { "TrashRemoteNew no", "MaildirStore m\n", NULL },
    { "AltMap yes", "MaildirStore m\n", "rc:2: warning: AltMap is not supported by sync_imap and is ignored" },
    { "AltMap no", "MaildirStore m\n", NULL },
    { "MaxMessages 150", TWO_STORES "Channel c\nFar :a:\nNear :b:\n", "rc:10: warning: MaxMessages is not supported by sync_imap and is ignored" },
    { "MaxMessages 0", TWO_STORES "Channel c\nFar :a:\nNear :b:\n", NULL },
    { "Channel nope", "Group g\n", "rc:2: warning: group 'g' refers to unknown channel 'nope'" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *text = g_strdup_printf ("%s%s\n", cases[i].section, cases[i].line);
    g_test_message ("%s", text);
    g_autoptr (MsMbsyncConfig) cfg = parse_ok (text);
    if (cases[i].warning == NULL) {
      assert_no_warnings (cfg);
    } else {
      g_assert_cmpuint (cfg->warnings->len, ==, 1);
      g_assert_cmpstr (g_ptr_array_index (cfg->warnings, 0), ==, cases[i].warning);
    }
  }

  /* A global MaxMessages is warned about where it is written. */
  g_autoptr (MsMbsyncConfig) cfg = parse_ok ("MaxMessages 10\n\n" TWO_STORES);
  g_assert_cmpuint (cfg->warnings->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (cfg->warnings, 0), ==,
                   "rc:1: warning: MaxMessages is not supported by sync_imap and is ignored");
}

/* ---- secrets --------------------------------------------------------------------------- */

static void
test_password_never_echoed (void)
{
  static const char *const texts[] = {
    "IMAPAccount a\nHost h\nPass hunter2 swordfish\n",
    "IMAPAccount a\nHost h\nPass \"hunter2\n",
    "IMAPAccount a\nHost h\nPass hunter2\\\n",
  };
  for (guint i = 0; i < G_N_ELEMENTS (texts); i++) {
    g_autofree char *msg = parse_error (texts[i]);
    g_test_message ("%s", msg);
    g_assert_null (strstr (msg, "hunter2"));
    g_assert_null (strstr (msg, "swordfish"));
    g_assert_true (g_str_has_prefix (msg, "rc:3: "));
  }
  g_autofree char *m = parse_error (texts[0]);
  g_assert_cmpstr (m, ==, "rc:3: Pass takes one argument (quote a password that contains spaces)");

  g_autoptr (MsMbsyncConfig) cfg = parse_ok ("IMAPAccount a\nHost h\nPass \"\"\nPass 'x\\ y'z\n");
  g_assert_cmpstr (ms_mbsync_secret_peek (ms_mbsync_config_find_account (cfg, "a")->pass), ==, "'x y'z");
}

/* ---- command-line arguments ---------------------------------------------------------------- */

static const char expand_rc[] =
  TWO_STORES
  "Channel pat\nFar :a:\nNear :b:\nPatterns *\n\n"
  "Channel one\nFar :a:box\nNear :b:box\n\n"
  "Channel both\nFar :a:\nNear :b:\nPatterns %\n\n"
  "Group g pat one\nChannel pat:INBOX,Sent\n\n"
  "Group both pat\n\n"
  "Group broken pat nope\n\n"
  "Group needs one:x\n";

/* Renders targets as "chan[box,box] chan ..." for compact comparison. */
static char *
render (GPtrArray *targets)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < targets->len; i++) {
    const MsMbsyncTarget *t = g_ptr_array_index (targets, i);
    if (i > 0)
      g_string_append_c (s, ' ');
    g_string_append (s, t->channel->name);
    if (t->boxes != NULL) {
      g_autofree char *boxes = g_strjoinv (",", t->boxes);
      g_string_append_printf (s, "[%s]", boxes);
    }
  }
  return g_string_free (s, FALSE);
}

static void
test_expand (void)
{
  static const struct {
    const char *arg;
    const char *want;
  } cases[] = {
    { "pat", "pat" },
    { "one", "one" },
    { "pat:INBOX", "pat[INBOX]" },
    { "pat:a/b,Sent Mail", "pat[a/b,Sent Mail]" },
    { "pat:a\nb", "pat[a,b]" },
    { "pat:*", "pat[*]" },
    { "g", "pat one pat[INBOX,Sent]" },
    { "g:one", "one" },
    { "g:pat", "pat pat[INBOX,Sent]" },
    { "g:one,pat", "one pat pat[INBOX,Sent]" },
    { "both", "pat" },          /* the group hides the channel of the same name */
    { "both:INBOX", "both[INBOX]" }, /* but CHANNEL:BOX always means the channel */
  };
  g_autoptr (MsMbsyncConfig) cfg = parse_ok (expand_rc);
  g_assert_cmpuint (cfg->warnings->len, ==, 1); /* group 'broken' */

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) targets = ms_mbsync_config_expand_arg (cfg, cases[i].arg, &error);
    g_assert_no_error (error);
    g_autofree char *got = render (targets);
    g_assert_cmpstr (got, ==, cases[i].want);
  }
}

static void
test_expand_errors (void)
{
  static const struct {
    const char *arg;
    const char *message;
  } cases[] = {
    { "", "empty channel name" },
    { ":INBOX", "empty channel name" },
    { "zz", "No channel or group named 'zz' defined" },
    { "zz:INBOX", "No channel or group named 'zz' defined" },
    { "Pat", "No channel or group named 'Pat' defined" },
    { "one:INBOX", "Cannot override mailbox in channel 'one' - no Patterns" },
    { "needs", "Cannot override mailbox in channel 'one' - no Patterns" },
    { "pat:", "empty mailbox name in 'pat:'" },
    { "pat:a,", "empty mailbox name in 'pat:a,'" },
    { "pat:a,,b", "empty mailbox name in 'pat:a,,b'" },
    { "broken", "group 'broken' refers to unknown channel 'nope'" },
    { "g:zz", "group 'g' has no channel 'zz'" },
    { "g:", "empty mailbox name in 'g:'" },
  };
  g_autoptr (MsMbsyncConfig) cfg = parse_ok (expand_rc);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) targets = ms_mbsync_config_expand_arg (cfg, cases[i].arg, &error);
    g_assert_null (targets);
    g_assert_error (error, MS_ERROR, MS_ERROR_CONFIG);
    g_assert_cmpstr (error->message, ==, cases[i].message);
  }

  /* One argument holds at most MS_MBSYNCRC_MAX_LIST mailboxes. */
  GString *s = g_string_new ("pat:x");
  for (int i = 1; i < MS_MBSYNCRC_MAX_LIST; i++)
    g_string_append (s, ",x");
  g_autoptr (GPtrArray) t = ms_mbsync_config_expand_arg (cfg, s->str, NULL);
  g_assert_nonnull (t);
  g_string_append (s, ",x");
  g_autoptr (GError) error = NULL;
  g_assert_null (ms_mbsync_config_expand_arg (cfg, s->str, &error));
  g_assert_cmpstr (error->message, ==, "more than 1024 mailboxes in one argument");
  g_string_free (s, TRUE);
}

/* ---- patterns ------------------------------------------------------------------------------ */

static void
test_pattern_match (void)
{
  /* Checked against mbsync 1.4.4 listing a Maildir tree with INBOX outside
   * Path (so wildcards do not match INBOX). */
  static const struct {
    const char *pattern;
    const char *name;
    gboolean inbox_under_path;
    gboolean match;
  } cases[] = {
    { "*", "a", FALSE, TRUE },
    { "*", "a/b", FALSE, TRUE },
    { "*", "", FALSE, TRUE },
    { "%", "a", FALSE, TRUE },
    { "%", "a/b", FALSE, FALSE },
    { "%", "a b", FALSE, TRUE },
    { "a", "a", FALSE, TRUE },
    { "a", "a/b", FALSE, FALSE },
    { "a", "A", FALSE, FALSE },
    { "a*", "abcd efgh", FALSE, TRUE },
    { "a*", "a/b", FALSE, TRUE },
    { "a%", "a/b", FALSE, FALSE },
    { "a%", "a b", FALSE, TRUE },
    { "a/%", "a/b", FALSE, TRUE },
    { "a/%", "a/b/c", FALSE, FALSE },
    { "%/b", "a/b", FALSE, TRUE },
    { "%/%", "a/b", FALSE, TRUE },
    { "*b", "a b", FALSE, TRUE },
    { "*b", "a/b", FALSE, TRUE },
    { "a*b", "a/b", FALSE, TRUE },
    { "*/*", "a/b", FALSE, TRUE },
    { "*/*", "a", FALSE, FALSE },
    { "**", "a/b", FALSE, TRUE },
    { "%%", "ab", FALSE, TRUE },
    { "%*%", "a/b/c", FALSE, TRUE },
    { "[Gmail]*", "[Gmail]/Sent Mail", FALSE, TRUE },
    { "", "", FALSE, TRUE },
    { "", "a", FALSE, FALSE },
    /* INBOX outside Path: only patterns spelling out INBOX reach it */
    { "*", "INBOX", FALSE, FALSE },
    { "%", "INBOX", FALSE, FALSE },
    { "IN*", "INBOX", FALSE, FALSE },
    { "INBOX", "INBOX", FALSE, TRUE },
    { "INBOX*", "INBOX", FALSE, TRUE },
    { "INBOX/*", "INBOX", FALSE, FALSE },
    { "INBOX/*", "INBOX/x", FALSE, TRUE },
    { "*", "INBOX/x", FALSE, FALSE },
    { "inbox", "INBOX", FALSE, FALSE },
    { "*", "INBOXES", FALSE, TRUE },
    /* INBOX under Path: an ordinary name */
    { "*", "INBOX", TRUE, TRUE },
    { "%", "INBOX", TRUE, TRUE },
    { "IN*", "INBOX", TRUE, TRUE },
    { "%", "INBOX/x", TRUE, FALSE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_test_message ("'%s' vs '%s'", cases[i].pattern, cases[i].name);
    g_assert_cmpint (ms_mbsync_pattern_match (cases[i].pattern, cases[i].name, cases[i].inbox_under_path),
                     ==, cases[i].match);
  }
}

static void
test_patterns_select (void)
{
  static const struct {
    const char *const patterns[4];
    const char *name;
    gboolean selected;
  } cases[] = {
    { { "*", "!a", NULL }, "a", FALSE },
    { { "*", "!a", NULL }, "a/b", TRUE },
    { { "!a", "*", NULL }, "a", TRUE },   /* later matches take precedence */
    { { "!a", NULL }, "a", FALSE },
    { { "!a", NULL }, "b", FALSE },       /* nothing matched positively */
    { { "%", "!Trash", NULL }, "Trash", FALSE },
    { { "%", "!Trash", NULL }, "Sent", TRUE },
    { { "*", "!*/*", "a/b", NULL }, "a/b", TRUE },
    { { "*", "!*/*", "a/b", NULL }, "a/c", FALSE },
    { { "*", "!INBOX", NULL }, "INBOX", FALSE },
    { { NULL }, "x", FALSE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_assert_cmpint (ms_mbsync_patterns_select (cases[i].patterns, cases[i].name, TRUE), ==,
                     cases[i].selected);
  g_assert_false (ms_mbsync_patterns_select (NULL, "x", TRUE));
}

static void
test_pattern_worst_case (void)
{
  /* A backtracking matcher takes exponential time here. */
  g_autofree char *name = g_strnfill (4000, 'a');
  GString *pat = g_string_new (NULL);
  for (int i = 0; i < 100; i++)
    g_string_append (pat, "*a");
  g_string_append (pat, "b");
  gint64 start = g_get_monotonic_time ();
  g_assert_false (ms_mbsync_pattern_match (pat->str, name, TRUE));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
  g_string_free (pat, TRUE);
}

/* ---- paths --------------------------------------------------------------------------------- */

static void
test_expand_path (void)
{
  static const struct {
    const char *path;
    const char *base;
    const char *want;
  } cases[] = {
    { "~", NULL, "/home/u" },
    { "~/Mail/", NULL, "/home/u/Mail/" },
    { "/abs/x", "/cfg", "/abs/x" },
    { "rel/", "/cfg", "/cfg/rel/" },
    { "rel/", "/cfg/", "/cfg/rel/" },
    { "rel", NULL, "rel" },
    { "", "/cfg", "" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *got = ms_mbsync_expand_path (cases[i].path, "/home/u", cases[i].base, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (got, ==, cases[i].want);
  }
  g_autoptr (GError) error = NULL;
  g_assert_null (ms_mbsync_expand_path ("~bob/Mail", "/home/u", NULL, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_CONFIG);
  g_assert_cmpstr (error->message, ==, "\"~bob/Mail\": only ~ (your own home directory) is understood, not ~USER; write the directory out");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mbsyncrc/realistic", test_realistic);
  g_test_add_func ("/mbsyncrc/grammar/quoting", test_quoting);
  g_test_add_func ("/mbsyncrc/grammar/whitespace-and-case", test_whitespace_and_case);
  g_test_add_func ("/mbsyncrc/grammar/sections", test_sections);
  g_test_add_func ("/mbsyncrc/grammar/booleans", test_booleans);
  g_test_add_func ("/mbsyncrc/sync/ops", test_sync_ops);
  g_test_add_func ("/mbsyncrc/sync/errors", test_sync_errors);
  g_test_add_func ("/mbsyncrc/sides", test_sides);
  g_test_add_func ("/mbsyncrc/legacy", test_legacy);
  g_test_add_func ("/mbsyncrc/tls-versions", test_tls_versions);
  g_test_add_func ("/mbsyncrc/defaults", test_defaults);
  g_test_add_func ("/mbsyncrc/sizes", test_sizes);
  g_test_add_func ("/mbsyncrc/forward-references", test_forward_references);
  g_test_add_func ("/mbsyncrc/namespaces", test_same_name_different_classes);
  g_test_add_func ("/mbsyncrc/errors", test_errors);
  g_test_add_func ("/mbsyncrc/errors/nul-byte", test_nul_byte);
  g_test_add_func ("/mbsyncrc/limits", test_limits);
  g_test_add_func ("/mbsyncrc/warnings", test_warnings);
  g_test_add_func ("/mbsyncrc/password-never-echoed", test_password_never_echoed);
  g_test_add_func ("/mbsyncrc/expand", test_expand);
  g_test_add_func ("/mbsyncrc/expand/errors", test_expand_errors);
  g_test_add_func ("/mbsyncrc/pattern/match", test_pattern_match);
  g_test_add_func ("/mbsyncrc/pattern/select", test_patterns_select);
  g_test_add_func ("/mbsyncrc/pattern/worst-case", test_pattern_worst_case);
  g_test_add_func ("/mbsyncrc/expand-path", test_expand_path);
  return g_test_run ();
}
