/* test-status-report.c — the `mswatch --status` report (status.h) as text
 * and as JSON from a fixed MsStatus, its size bound, the duration format,
 * and the per-mailbox history behind it (sync-history.h). */
#include <glib.h>
#include <string.h>

#include "ms-time.h"
#include "status.h"
#include "sync-history.h"

/* 2026-01-02 03:04:05 UTC is 1767323045; ms_time_format() uses local
 * time, so the expected strings are built with it too. */
#define T0 1767323045

static GPtrArray *
names (const char *first, ...)
{
  GPtrArray *a = g_ptr_array_new ();
  va_list ap;
  va_start (ap, first);
  for (const char *n = first; n != NULL; n = va_arg (ap, const char *))
    g_ptr_array_add (a, (gpointer) n);
  va_end (ap);
  return a;
}

static void
test_duration (void)
{
  static const struct { gint64 s; const char *want; } cases[] = {
    { -5, "0s" }, { 0, "0s" }, { 59, "59s" }, { 60, "1m00s" }, { 65, "1m05s" },
    { 3600, "1h00m00s" }, { 3725, "1h02m05s" }, { 86400, "1d00h00m00s" },
    { 2 * 86400 + 3 * 3600 + 4 * 60 + 5, "2d03h04m05s" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *got = ms_status_duration (cases[i].s);
    g_assert_cmpstr (got, ==, cases[i].want);
  }
}

/* A busy moment: b restarting, a pending name with its due time, a failed
 * mailbox, the syncer with a request in progress and one waiting, a hook
 * running with names queued, after a resume. */
static void
fill_busy (MsStatus *s, GArray *requests, GArray *mailboxes, GPtrArray *pa, GPtrArray *pb,
           GPtrArray *hook, GPtrArray *queued)
{
  *s = (MsStatus) { 0 };
  s->now = T0;
  s->started = T0 - 3725;
  s->pid = 4242;
  s->config = "/home/me/.mswatchrc";
  s->watchers[0] = (MsStatusWatcher) { "local", "running", T0 - 65, 0 };
  s->watchers[1] = (MsStatusWatcher) { "server", "restarting", 0, T0 + 8 };
  s->watcher_failures = 2;
  s->has_syncer = TRUE;
  s->syncer_state = "running";
  s->syncer_since = T0 - 300;
  s->syncer_failures = 0;
  s->syncer_connection = "2 of 4 connections open to imap.example.org";
  s->syncer_connection_since = T0 - 40;
  /* One mailbox's download, and a sync of all with one under way. */
  static MsSyncerProgress one, all;
  ms_syncer_progress_clear (&one);
  ms_syncer_progress_clear (&all);
  const char *lines[] = { "120/5000 messages, 3145728/90177536 bytes", "2/50 mailboxes",
                          "Lists: 1/4 messages, 500/2000 bytes" };
  ms_syncer_progress_take (&one, lines[0], strlen (lines[0]));
  ms_syncer_progress_take (&all, lines[1], strlen (lines[1]));
  ms_syncer_progress_take (&all, lines[2], strlen (lines[2]));
  MsStatusRequest r1 = { "m12", "INBOX", T0 - 3, &one };
  MsStatusRequest r2 = { "", "Lists.foo", 0, NULL };
  MsStatusRequest r3 = { "m13", NULL, T0 - 1, &all };
  g_array_append_val (requests, r1);
  g_array_append_val (requests, r2);
  g_array_append_val (requests, r3);
  s->requests = requests;
  s->sync_kind = "changes";
  s->sync_started = T0 - 12;
  s->sync_names = hook; /* any list will do */
  s->pending[0] = pa;
  s->pending[1] = pb;
  s->next_sync = "changes";
  s->next_sync_at = T0 + 5;
  s->next_poll_at = 0;
  s->change_failures = 3;
  s->change_delay = 8;
  MsStatusMailbox m1 = { "INBOX", T0 - 60, "ok", NULL };
  MsStatusMailbox m2 = { "Spam", T0 - 30, "failed", "mailbox \"Spam\" does not exist" };
  MsStatusMailbox m3 = { "caf\351", T0 - 20, "retry", "connection lost" };
  g_array_append_val (mailboxes, m1);
  g_array_append_val (mailboxes, m2);
  g_array_append_val (mailboxes, m3);
  s->mailboxes = mailboxes;
  s->have_all = TRUE;
  s->all = (MsStatusMailbox) { NULL, T0 - 100, "ok", NULL };
  s->has_hook = TRUE;
  s->hook_running = TRUE;
  s->hook_since = T0 - 3;
  s->hook_running_long = 2; /* as with --hook-warn-after=2 */
  s->hook_names = hook;
  s->hook_queued = TRUE;
  s->hook_queued_names = queued;
  s->hook_last_ended = T0 - 50;
  s->hook_last_failure = "exited with error 2";
  s->wake_reason = "resumed";
  s->wake_at = T0 - 2;
  s->wake_slept = 3600;
}

static void
test_text (void)
{
  g_autoptr (GArray) requests = g_array_new (FALSE, TRUE, sizeof (MsStatusRequest));
  g_autoptr (GArray) mailboxes = g_array_new (FALSE, TRUE, sizeof (MsStatusMailbox));
  g_autoptr (GPtrArray) pa = names ("a b", "x", NULL);
  g_autoptr (GPtrArray) pb = g_ptr_array_new ();
  g_autoptr (GPtrArray) hook = names ("INBOX", "Sent", NULL);
  g_autoptr (GPtrArray) queued = names ("Drafts", NULL);
  MsStatus s;
  g_autofree char *t0 = ms_time_format (T0);
  g_autofree char *t_all = ms_time_format (T0 - 100);
  g_autofree char *t_inbox = ms_time_format (T0 - 60);
  g_autofree char *t_spam = ms_time_format (T0 - 30);
  g_autofree char *t_cafe = ms_time_format (T0 - 20);
  g_autofree char *t_b = ms_time_format (T0 + 8);
  g_autofree char *t_next = ms_time_format (T0 + 5);
  g_autofree char *t_hook = ms_time_format (T0 - 50);
  g_autofree char *t_wake = ms_time_format (T0 - 2);
  g_autofree char *t_conn = ms_time_format (T0 - 40);

  fill_busy (&s, requests, mailboxes, pa, pb, hook, queued);
  g_autofree char *got = ms_status_format_text (&s);
  g_autofree char *want = g_strdup_printf (
    "mswatch status at %s\n"
    "Process: pid 4242, up 1h02m05s, config /home/me/.mswatchrc\n"
    "Watcher local: running for 1m05s\n"
    "Watcher server: restarting at %s (in 8s)\n"
    "Watcher failures: 2\n"
    "Syncer: running for 5m00s, 3 requests in flight\n"
    "Syncer failures: 0\n"
    "Syncer connection: 2 of 4 connections open to imap.example.org (since %s)\n"
    "Request m12: INBOX, sent 3s ago, progress: 120/5000 messages, 3.1 MB of 90.2 MB\n"
    "Request -: Lists.foo, waiting to be sent\n"
    "Request m13: all mailboxes, sent 1s ago, progress: 2/50 mailboxes; Lists: 1/4 messages, 500 bytes of 2.0 kB\n"
    "Sync: running for 12s (2 mailboxes): INBOX Sent\n"
    "Pending local: a b x\n"
    "Pending server:\n"
    "Next sync: changes at %s (in 5s)\n"
    "Next poll: off\n"
    "Backoff changes: 3 failures, retry delay 8s\n"
    "Backoff all mailboxes: none\n"
    "Mailbox INBOX: ok at %s\n"
    "Mailbox Spam: failed at %s: mailbox \"Spam\" does not exist\n"
    "Mailbox caf\\xe9: retry at %s: connection lost\n"
    "All mailboxes: ok at %s\n"
    "Hook: running for 3s (2 mailboxes): INBOX Sent\n"
    "Hook warning: running longer than 2s; later runs are queued until it ends\n"
    "Hook queued: Drafts\n"
    "Hook last run: failed at %s: exited with error 2\n"
    "Wake-up: resumed at %s after 1h00m00s asleep\n",
    t0, t_b, t_conn, t_next, t_inbox, t_spam, t_cafe, t_all, t_hook, t_wake);
  g_assert_cmpstr (got, ==, want);
}

static void
test_text_quiet (void)
{
  g_autoptr (GPtrArray) none = g_ptr_array_new ();
  MsStatus s = { 0 };
  g_autofree char *t0 = ms_time_format (T0);
  g_autofree char *t_poll = ms_time_format (T0 + 3600);

  s.now = T0;
  s.started = T0;
  s.pid = 1;
  s.config = "rc";
  s.watchers[0] = (MsStatusWatcher) { "a", "starting", 0, 0 };
  s.watchers[1] = (MsStatusWatcher) { "b", "stopped", 0, 0 };
  s.pending[0] = none;
  s.pending[1] = none;
  s.next_sync = "inbox";
  s.waiting_for = "watchers";
  s.next_poll_at = T0 + 3600;
  g_autofree char *got = ms_status_format_text (&s);
  g_autofree char *want = g_strdup_printf (
    "mswatch status at %s\n"
    "Process: pid 1, up 0s, config rc\n"
    "Watcher a: starting\n"
    "Watcher b: stopped\n"
    "Watcher failures: 0\n"
    "Sync: idle\n"
    "Pending a:\n"
    "Pending b:\n"
    "Next sync: INBOX when the watchers are running\n"
    "Next poll: at %s (in 1h00m00s)\n"
    "Backoff changes: none\n"
    "Backoff all mailboxes: none\n"
    "All mailboxes: never synced\n"
    "Hook: off\n"
    "Wake-up: none\n",
    t0, t_poll);
  g_assert_cmpstr (got, ==, want);

  /* Polling on, but no sync of all mailboxes yet to count from. */
  s.next_poll_at = 0;
  s.polling = TRUE;
  g_autofree char *first = ms_status_format_text (&s);
  g_assert_nonnull (strstr (first, "\nNext poll: poll_period after the next sync of all mailboxes\n"));
}

static void
test_json (void)
{
  g_autoptr (GArray) requests = g_array_new (FALSE, TRUE, sizeof (MsStatusRequest));
  g_autoptr (GArray) mailboxes = g_array_new (FALSE, TRUE, sizeof (MsStatusMailbox));
  g_autoptr (GPtrArray) pa = names ("a b", "x", NULL);
  g_autoptr (GPtrArray) pb = g_ptr_array_new ();
  g_autoptr (GPtrArray) hook = names ("INBOX", "Sent", NULL);
  g_autoptr (GPtrArray) queued = names ("Drafts", NULL);
  MsStatus s;

  fill_busy (&s, requests, mailboxes, pa, pb, hook, queued);
  g_autofree char *got = ms_status_format_json (&s);
  g_autofree char *want = g_strdup_printf (
    "{\"version\":1,\"now\":%d,\"started\":%d,\"pid\":4242,\"config\":\"/home/me/.mswatchrc\","
    "\"watchers\":[{\"store\":\"local\",\"state\":\"running\",\"since\":%d,\"restart_at\":null},"
    "{\"store\":\"server\",\"state\":\"restarting\",\"since\":null,\"restart_at\":%d}],"
    "\"watcher_failures\":2,"
    "\"syncer\":{\"state\":\"running\",\"since\":%d,\"restart_at\":null,\"failures\":0,"
    "\"connection\":\"2 of 4 connections open to imap.example.org\",\"connection_since\":%d,\"requests\":["
    "{\"tag\":\"m12\",\"mailbox\":\"INBOX\",\"sent\":%d,"
    "\"progress\":\"120/5000 messages, 3.1 MB of 90.2 MB\",\"mailboxes_done\":null,\"mailboxes_total\":null,"
    "\"downloads\":[{\"mailbox\":null,\"messages_done\":120,\"messages_total\":5000,"
    "\"bytes_done\":3145728,\"bytes_total\":90177536}]},"
    "{\"tag\":null,\"mailbox\":\"Lists.foo\",\"sent\":null,\"progress\":null,"
    "\"mailboxes_done\":null,\"mailboxes_total\":null,\"downloads\":[]},"
    "{\"tag\":\"m13\",\"mailbox\":null,\"sent\":%d,"
    "\"progress\":\"2/50 mailboxes; Lists: 1/4 messages, 500 bytes of 2.0 kB\",\"mailboxes_done\":2,"
    "\"mailboxes_total\":50,\"downloads\":[{\"mailbox\":\"Lists\",\"messages_done\":1,\"messages_total\":4,"
    "\"bytes_done\":500,\"bytes_total\":2000}]}]},"
    "\"sync\":{\"kind\":\"changes\",\"started\":%d,\"mailboxes\":[\"INBOX\",\"Sent\"]},"
    "\"pending\":[{\"store\":\"local\",\"mailboxes\":[\"a b\",\"x\"]},{\"store\":\"server\",\"mailboxes\":[]}],"
    "\"next_sync\":{\"kind\":\"changes\",\"at\":%d,\"waiting_for\":null},\"next_poll\":null,\"polling\":false,"
    "\"backoff\":{\"changes\":{\"failures\":3,\"delay\":8},\"all_mailboxes\":{\"failures\":0,\"retry_at\":null}},"
    "\"mailboxes\":[{\"mailbox\":\"INBOX\",\"time\":%d,\"result\":\"ok\",\"reason\":null},"
    "{\"mailbox\":\"Spam\",\"time\":%d,\"result\":\"failed\",\"reason\":\"mailbox \\\"Spam\\\" does not exist\"},"
    "{\"mailbox\":\"caf\\\\xe9\",\"time\":%d,\"result\":\"retry\",\"reason\":\"connection lost\"}],"
    "\"all_mailboxes\":{\"time\":%d,\"result\":\"ok\",\"reason\":null},"
    "\"hook\":{\"state\":\"running\",\"since\":%d,\"running_long\":2,\"all\":false,\"mailboxes\":[\"INBOX\",\"Sent\"],"
    "\"queued\":true,\"queued_all\":false,\"queued_mailboxes\":[\"Drafts\"],"
    "\"last\":{\"time\":%d,\"result\":\"failed\",\"reason\":\"exited with error 2\"}},"
    "\"wake\":{\"reason\":\"resumed\",\"time\":%d,\"slept\":3600},"
    "\"truncated\":false}\n",
    T0, T0 - 3725, T0 - 65, T0 + 8, T0 - 300, T0 - 40, T0 - 3, T0 - 1, T0 - 12, T0 + 5, T0 - 60, T0 - 30,
    T0 - 20, T0 - 100, T0 - 3, T0 - 50, T0 - 2);
  g_assert_cmpstr (got, ==, want);
}

/* A pending set far larger than the cap: the report stays near it, says
 * how many names it left out, and the JSON says it was truncated. */
static void
test_bounded (void)
{
  g_autoptr (GPtrArray) many = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) none = g_ptr_array_new ();
  g_autofree char *long_name = g_strnfill (4000, 'n');
  MsStatus s = { 0 };

  for (int i = 0; i < 1000; i++)
    g_ptr_array_add (many, g_strdup_printf ("%04d%s", i, long_name));
  s.now = T0;
  s.started = T0;
  s.config = "rc";
  s.watchers[0] = (MsStatusWatcher) { "a", "running", T0, 0 };
  s.watchers[1] = (MsStatusWatcher) { "b", "running", T0, 0 };
  s.pending[0] = many;
  s.pending[1] = many;
  s.hook_queued_names = many;

  g_autofree char *text = ms_status_format_text (&s);
  g_assert_cmpuint (strlen (text), <, MS_STATUS_MAX_BYTES + 3 * 5000);
  g_assert_nonnull (strstr (text, " more)\nPending b: ... (1000 more)\n"));

  g_autofree char *json = ms_status_format_json (&s);
  g_assert_cmpuint (strlen (json), <, MS_STATUS_MAX_BYTES + 3 * 5000);
  g_assert_true (g_str_has_suffix (json, "\"truncated\":true}\n"));
  g_assert_nonnull (strstr (json, "{\"store\":\"b\",\"mailboxes\":[]}"));
}

static void
test_history (void)
{
  g_autoptr (MsSyncHistory) h = ms_sync_history_new (3);

  ms_sync_history_record (h, "b", 10, MS_HISTORY_OK, NULL);
  ms_sync_history_record (h, "", 11, MS_HISTORY_RETRY, "PROG exited with error 1");
  ms_sync_history_record (h, "a", 12, MS_HISTORY_FAILED, "no such mailbox");
  ms_sync_history_record (h, "b", 13, MS_HISTORY_RETRY, "lost");

  g_autoptr (GPtrArray) e = ms_sync_history_entries (h);
  g_assert_cmpuint (e->len, ==, 2); /* "" is not listed */
  const MsHistoryEntry *a = g_ptr_array_index (e, 0), *b = g_ptr_array_index (e, 1);
  g_assert_cmpstr (a->name, ==, "a");
  g_assert_cmpstr (ms_history_result_name (a->result), ==, "failed");
  g_assert_cmpstr (b->name, ==, "b");
  g_assert_cmpint (b->when, ==, 13);
  g_assert_cmpstr (b->reason, ==, "lost");
  g_assert_cmpstr (ms_sync_history_lookup (h, "")->reason, ==, "PROG exited with error 1");

  /* Full (3): a new name evicts the one recorded longest ago, "". */
  ms_sync_history_record (h, "c", 14, MS_HISTORY_OK, NULL);
  g_assert_null (ms_sync_history_lookup (h, ""));
  g_assert_nonnull (ms_sync_history_lookup (h, "a"));
  /* Then "a" (12), as "b" was recorded again at 13. */
  ms_sync_history_record (h, "d", 15, MS_HISTORY_OK, NULL);
  g_assert_null (ms_sync_history_lookup (h, "a"));
  g_assert_nonnull (ms_sync_history_lookup (h, "b"));
  g_assert_null (ms_sync_history_lookup (h, "c")->reason);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/status/duration", test_duration);
  g_test_add_func ("/status/text", test_text);
  g_test_add_func ("/status/text-quiet", test_text_quiet);
  g_test_add_func ("/status/json", test_json);
  g_test_add_func ("/status/bounded", test_bounded);
  g_test_add_func ("/status/history", test_history);
  return g_test_run ();
}
