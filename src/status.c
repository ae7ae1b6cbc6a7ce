/* status.c — see status.h.  The text and JSON forms walk the same MsStatus
 * in the same order, so that a field added to one is easy to add to the
 * other. */
#include "status.h"

#include <string.h>

#include "json-writer.h"
#include "mailbox-name.h"
#include "messages.h"
#include "ms-time.h"

char *
ms_status_pending_report (gint64 now_wall, const MsStatusStore *stores, guint n_stores)
{
  g_autofree char *t = ms_time_format (now_wall);
  GString *out = g_string_new (NULL);

  g_string_append_printf (out, "Pending mailboxes at %s:\n", t);
  for (guint i = 0; i < n_stores; i++) {
    g_string_append_printf (out, "\t%s:", stores[i].store);
    for (guint j = 0; j < stores[i].names->len; j++)
      g_string_append_printf (out, " %s", (const char *) g_ptr_array_index (stores[i].names, j));
    g_string_append_c (out, '\n');
  }
  return g_string_free (out, FALSE);
}

char *
ms_status_syncer_report (const char *state, guint in_flight)
{
  return g_strdup_printf ("Syncer state: %s, %u request%s in flight\n", state, in_flight,
                          in_flight == 1 ? "" : "s");
}

/* --- the full status: helpers ------------------------------------------------ */

char *
ms_status_duration (gint64 s)
{
  if (s < 0)
    s = 0;
  gint64 d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
  if (d > 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT "d%02" G_GINT64_FORMAT "h%02" G_GINT64_FORMAT
                            "m%02" G_GINT64_FORMAT "s", d, h, m, sec);
  if (h > 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT "h%02" G_GINT64_FORMAT "m%02" G_GINT64_FORMAT "s",
                            h, m, sec);
  if (m > 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT "m%02" G_GINT64_FORMAT "s", m, sec);
  return g_strdup_printf ("%" G_GINT64_FORMAT "s", sec);
}

static gboolean
full (const GString *out)
{
  return out->len >= MS_STATUS_MAX_BYTES;
}

/* A name as the logs show it: control characters and bytes that are not
 * UTF-8 escaped. */
static void
append_name (GString *out, const char *name)
{
  g_autofree char *shown = ms_mailbox_name_for_log (name, strlen (name), MS_MAILBOX_NAME_MAX);
  g_string_append (out, shown);
}

/* " a b c", or " a b ... (N more)" once the report is full. */
static void
append_names (GString *out, GPtrArray *names)
{
  for (guint i = 0; names != NULL && i < names->len; i++) {
    if (full (out)) {
      g_string_append_printf (out, " ... (%u more)", names->len - i);
      return;
    }
    g_string_append_c (out, ' ');
    append_name (out, g_ptr_array_index (names, i));
  }
}

/* " at TIME (in D)" */
static void
append_at (GString *out, gint64 at, gint64 now)
{
  g_autofree char *t = ms_time_format (at);
  g_autofree char *in = ms_status_duration (at - now);
  g_string_append_printf (out, " at %s (in %s)", t, in);
}

static const char *
sync_what (const char *kind)
{
  if (g_strcmp0 (kind, "inbox") == 0)
    return "INBOX";
  if (g_strcmp0 (kind, "all") == 0)
    return "all mailboxes";
  return "changes";
}

static const char *
waiting_for_text (const char *waiting_for)
{
  if (g_strcmp0 (waiting_for, "sync") == 0)
    return "after the running sync";
  if (g_strcmp0 (waiting_for, "watchers") == 0)
    return "when the watchers are running";
  if (g_strcmp0 (waiting_for, "syncer") == 0)
    return "when the syncer is running";
  return "later";
}

static void
text_mailbox (GString *out, const MsStatusMailbox *m)
{
  g_autofree char *t = ms_time_format (m->when);
  g_string_append_printf (out, "%s at %s", m->result, t);
  if (m->reason != NULL) {
    g_autofree char *reason = ms_mailbox_name_for_log (m->reason, strlen (m->reason), MS_MAILBOX_NAME_MAX);
    g_string_append_printf (out, ": %s", reason);
  }
  g_string_append_c (out, '\n');
}

/* --- the full status as text ------------------------------------------------------ */

char *
ms_status_format_text (const MsStatus *s)
{
  GString *out = g_string_new (NULL);
  g_autofree char *now = ms_time_format (s->now);
  g_autofree char *up = ms_status_duration (s->now - s->started);

  g_string_append_printf (out, "mswatch status at %s\n", now);
  g_string_append_printf (out, "Process: pid %" G_GINT64_FORMAT ", up %s, config ", s->pid, up);
  append_name (out, s->config);
  g_string_append_c (out, '\n');

  for (guint i = 0; i < MS_STATUS_N_STORES; i++) {
    const MsStatusWatcher *w = &s->watchers[i];
    g_string_append (out, "Watcher ");
    append_name (out, w->store);
    g_string_append_printf (out, ": %s", w->state);
    if (g_str_equal (w->state, "running")) {
      g_autofree char *d = ms_status_duration (s->now - w->since);
      g_string_append_printf (out, " for %s", d);
    } else if (g_str_equal (w->state, "restarting")) {
      append_at (out, w->restart_at, s->now);
    }
    g_string_append_c (out, '\n');
  }
  g_string_append_printf (out, "Watcher failures: %u\n", s->watcher_failures);

  if (s->has_syncer) {
    guint n = s->requests ? s->requests->len : 0;
    g_string_append_printf (out, "Syncer: %s", s->syncer_state);
    if (g_str_equal (s->syncer_state, "running")) {
      g_autofree char *d = ms_status_duration (s->now - s->syncer_since);
      g_string_append_printf (out, " for %s", d);
    } else if (g_str_equal (s->syncer_state, "restarting") && s->syncer_restart_at > 0) {
      append_at (out, s->syncer_restart_at, s->now);
    }
    g_string_append_printf (out, ", %u request%s in flight\n", n, n == 1 ? "" : "s");
    g_string_append_printf (out, "Syncer failures: %u\n", s->syncer_failures);
    if (s->syncer_connection != NULL) {
      g_autofree char *c = ms_mailbox_name_for_log (s->syncer_connection, strlen (s->syncer_connection), MS_MAILBOX_NAME_MAX);
      g_autofree char *t = ms_time_format (s->syncer_connection_since);
      g_string_append_printf (out, "Syncer connection: %s (since %s)\n", c, t);
    }
    for (guint i = 0; i < n; i++) {
      const MsStatusRequest *r = &g_array_index (s->requests, MsStatusRequest, i);
      if (full (out)) {
        g_string_append_printf (out, "Requests: %u more not shown\n", n - i);
        break;
      }
      g_string_append_printf (out, "Request %s: ", *r->tag ? r->tag : "-");
      if (r->mailbox != NULL)
        append_name (out, r->mailbox);
      else
        g_string_append (out, "all mailboxes");
      if (r->sent == 0) {
        g_string_append (out, ", waiting to be sent\n");
        continue;
      }
      g_autofree char *ago = ms_status_duration (s->now - r->sent);
      g_string_append_printf (out, ", sent %s ago", ago);
      g_autofree char *summary = r->progress ? ms_syncer_progress_summary (r->progress) : NULL;
      if (summary != NULL) {
        g_autofree char *p = ms_mailbox_name_for_log (summary, strlen (summary), MS_MAILBOX_NAME_MAX);
        g_string_append_printf (out, ", progress: %s", p);
      }
      g_string_append_c (out, '\n');
    }
  }

  if (s->sync_kind == NULL) {
    g_string_append (out, "Sync: idle\n");
  } else {
    g_autofree char *d = ms_status_duration (s->now - s->sync_started);
    g_autofree char *what = ms_messages_what (s->sync_names ? (gint) s->sync_names->len : -1);
    g_string_append_printf (out, "Sync: running for %s (%s)", d, what);
    if (s->sync_names != NULL) {
      g_string_append_c (out, ':');
      append_names (out, s->sync_names);
    }
    g_string_append_c (out, '\n');
  }

  for (guint i = 0; i < MS_STATUS_N_STORES; i++) {
    g_string_append (out, "Pending ");
    append_name (out, s->watchers[i].store);
    g_string_append_c (out, ':');
    append_names (out, s->pending[i]);
    g_string_append_c (out, '\n');
  }
  if (s->next_sync == NULL) {
    g_string_append (out, "Next sync: none\n");
  } else {
    g_string_append_printf (out, "Next sync: %s", sync_what (s->next_sync));
    if (s->next_sync_at > 0)
      append_at (out, s->next_sync_at, s->now);
    else
      g_string_append_printf (out, " %s", waiting_for_text (s->waiting_for));
    g_string_append_c (out, '\n');
  }
  g_string_append (out, "Next poll:");
  if (s->next_poll_at > 0)
    append_at (out, s->next_poll_at, s->now);
  else if (s->polling)
    g_string_append (out, " poll_period after the next sync of all mailboxes");
  else
    g_string_append (out, " off");
  g_string_append_c (out, '\n');

  if (s->change_failures == 0) {
    g_string_append (out, "Backoff changes: none\n");
  } else {
    g_autofree char *d = ms_status_duration (s->change_delay);
    g_string_append_printf (out, "Backoff changes: %u failure%s, retry delay %s\n", s->change_failures,
                            s->change_failures == 1 ? "" : "s", d);
  }
  if (s->full_failures == 0) {
    g_string_append (out, "Backoff all mailboxes: none\n");
  } else {
    g_string_append_printf (out, "Backoff all mailboxes: %u failure%s, retry", s->full_failures,
                            s->full_failures == 1 ? "" : "s");
    if (s->full_retry_at > 0)
      append_at (out, s->full_retry_at, s->now);
    else
      g_string_append_printf (out, " %s", waiting_for_text (s->waiting_for));
    g_string_append_c (out, '\n');
  }

  for (guint i = 0; s->mailboxes != NULL && i < s->mailboxes->len; i++) {
    const MsStatusMailbox *m = &g_array_index (s->mailboxes, MsStatusMailbox, i);
    if (full (out)) {
      g_string_append_printf (out, "Mailboxes: %u more not shown\n", s->mailboxes->len - i);
      break;
    }
    g_string_append (out, "Mailbox ");
    append_name (out, m->mailbox);
    g_string_append (out, ": ");
    text_mailbox (out, m);
  }
  g_string_append (out, "All mailboxes: ");
  if (s->have_all)
    text_mailbox (out, &s->all);
  else
    g_string_append (out, "never synced\n");

  if (!s->has_hook) {
    g_string_append (out, "Hook: off\n");
  } else {
    if (s->hook_running) {
      g_autofree char *d = ms_status_duration (s->now - s->hook_since);
      g_autofree char *what = ms_messages_what (s->hook_all ? -1 : (gint) s->hook_names->len);
      g_string_append_printf (out, "Hook: running for %s (%s)", d, what);
      if (!s->hook_all) {
        g_string_append_c (out, ':');
        append_names (out, s->hook_names);
      }
      g_string_append_c (out, '\n');
      if (s->hook_running_long > 0)
        g_string_append_printf (out, "Hook warning: running longer than %us; "
                                "later runs are queued until it ends\n", s->hook_running_long);
    } else {
      g_string_append (out, "Hook: idle\n");
    }
    g_string_append (out, "Hook queued:");
    if (!s->hook_queued)
      g_string_append (out, " none");
    else if (s->hook_queued_all)
      g_string_append (out, " all mailboxes");
    else
      append_names (out, s->hook_queued_names);
    g_string_append_c (out, '\n');
    if (s->hook_last_ended == 0) {
      g_string_append (out, "Hook last run: none\n");
    } else {
      g_autofree char *t = ms_time_format (s->hook_last_ended);
      if (s->hook_last_failure == NULL)
        g_string_append_printf (out, "Hook last run: ok at %s\n", t);
      else
        g_string_append_printf (out, "Hook last run: failed at %s: %s\n", t, s->hook_last_failure);
    }
  }

  if (s->wake_reason == NULL) {
    g_string_append (out, "Wake-up: none\n");
  } else {
    g_autofree char *t = ms_time_format (s->wake_at);
    g_string_append_printf (out, "Wake-up: %s at %s", s->wake_reason, t);
    if (s->wake_slept > 0) {
      g_autofree char *d = ms_status_duration (s->wake_slept);
      g_string_append_printf (out, " after %s asleep", d);
    }
    g_string_append_c (out, '\n');
  }
  return g_string_free (out, FALSE);
}

/* --- the full status as JSON ------------------------------------------------------ */

static gboolean
json_full (const MsJsonWriter *j)
{
  return ms_json_writer_length (j) >= MS_STATUS_MAX_BYTES;
}

/* A time, or null for 0. */
static void
json_time (MsJsonWriter *j, const char *key, gint64 t)
{
  ms_json_key (j, key);
  if (t > 0)
    ms_json_int (j, t);
  else
    ms_json_null (j);
}

/* A request's progress: the line for people, and what it counts. */
static void
json_progress (MsJsonWriter *j, const MsSyncerProgress *p)
{
  g_autofree char *summary = p ? ms_syncer_progress_summary (p) : NULL;
  ms_json_key (j, "progress");
  ms_json_string (j, summary);
  gboolean counted = p != NULL && p->mailboxes_done >= 0;
  ms_json_key (j, "mailboxes_done");
  if (counted)
    ms_json_int (j, p->mailboxes_done);
  else
    ms_json_null (j);
  ms_json_key (j, "mailboxes_total");
  if (counted)
    ms_json_int (j, p->mailboxes_total);
  else
    ms_json_null (j);
  ms_json_key (j, "downloads");
  ms_json_begin_array (j);
  for (guint i = 0; p != NULL && p->downloads != NULL && i < p->downloads->len; i++) {
    const MsSyncerDownload *d = g_ptr_array_index (p->downloads, i);
    ms_json_begin_object (j);
    ms_json_key (j, "mailbox");
    ms_json_string (j, d->mailbox);
    ms_json_key (j, "messages_done");
    ms_json_int (j, (gint64) d->messages_done);
    ms_json_key (j, "messages_total");
    ms_json_int (j, (gint64) d->messages_total);
    ms_json_key (j, "bytes_done");
    ms_json_int (j, (gint64) d->bytes_done);
    ms_json_key (j, "bytes_total");
    ms_json_int (j, (gint64) d->bytes_total);
    ms_json_end_object (j);
  }
  ms_json_end_array (j);
}

/* An array of names (null for NULL); sets *truncated when it stops early. */
static void
json_names (MsJsonWriter *j, const char *key, GPtrArray *names, gboolean *truncated)
{
  ms_json_key (j, key);
  if (names == NULL) {
    ms_json_null (j);
    return;
  }
  ms_json_begin_array (j);
  for (guint i = 0; i < names->len; i++) {
    if (json_full (j)) {
      *truncated = TRUE;
      break;
    }
    ms_json_string (j, g_ptr_array_index (names, i));
  }
  ms_json_end_array (j);
}

static void
json_mailbox (MsJsonWriter *j, const MsStatusMailbox *m)
{
  ms_json_begin_object (j);
  if (m->mailbox != NULL) {
    ms_json_key (j, "mailbox");
    ms_json_string (j, m->mailbox);
  }
  json_time (j, "time", m->when);
  ms_json_key (j, "result");
  ms_json_string (j, m->result);
  ms_json_key (j, "reason");
  ms_json_string (j, m->reason);
  ms_json_end_object (j);
}

char *
ms_status_format_json (const MsStatus *s)
{
  g_autoptr (MsJsonWriter) j = ms_json_writer_new ();
  gboolean truncated = FALSE;

  ms_json_begin_object (j);
  ms_json_key (j, "version");
  ms_json_int (j, 1);
  json_time (j, "now", s->now);
  json_time (j, "started", s->started);
  ms_json_key (j, "pid");
  ms_json_int (j, s->pid);
  ms_json_key (j, "config");
  ms_json_string (j, s->config);

  ms_json_key (j, "watchers");
  ms_json_begin_array (j);
  for (guint i = 0; i < MS_STATUS_N_STORES; i++) {
    const MsStatusWatcher *w = &s->watchers[i];
    ms_json_begin_object (j);
    ms_json_key (j, "store");
    ms_json_string (j, w->store);
    ms_json_key (j, "state");
    ms_json_string (j, w->state);
    json_time (j, "since", w->since);
    json_time (j, "restart_at", w->restart_at);
    ms_json_end_object (j);
  }
  ms_json_end_array (j);
  ms_json_key (j, "watcher_failures");
  ms_json_int (j, s->watcher_failures);

  ms_json_key (j, "syncer");
  if (!s->has_syncer) {
    ms_json_null (j);
  } else {
    ms_json_begin_object (j);
    ms_json_key (j, "state");
    ms_json_string (j, s->syncer_state);
    json_time (j, "since", s->syncer_since);
    json_time (j, "restart_at", s->syncer_restart_at);
    ms_json_key (j, "failures");
    ms_json_int (j, s->syncer_failures);
    ms_json_key (j, "connection");
    ms_json_string (j, s->syncer_connection);
    json_time (j, "connection_since", s->syncer_connection_since);
    ms_json_key (j, "requests");
    ms_json_begin_array (j);
    for (guint i = 0; s->requests != NULL && i < s->requests->len; i++) {
      const MsStatusRequest *r = &g_array_index (s->requests, MsStatusRequest, i);
      if (json_full (j)) {
        truncated = TRUE;
        break;
      }
      ms_json_begin_object (j);
      ms_json_key (j, "tag");
      ms_json_string (j, *r->tag ? r->tag : NULL);
      ms_json_key (j, "mailbox");
      ms_json_string (j, r->mailbox);
      json_time (j, "sent", r->sent);
      json_progress (j, r->progress);
      ms_json_end_object (j);
    }
    ms_json_end_array (j);
    ms_json_end_object (j);
  }

  ms_json_key (j, "sync");
  if (s->sync_kind == NULL) {
    ms_json_null (j);
  } else {
    ms_json_begin_object (j);
    ms_json_key (j, "kind");
    ms_json_string (j, s->sync_kind);
    json_time (j, "started", s->sync_started);
    json_names (j, "mailboxes", s->sync_names, &truncated);
    ms_json_end_object (j);
  }

  ms_json_key (j, "pending");
  ms_json_begin_array (j);
  for (guint i = 0; i < MS_STATUS_N_STORES; i++) {
    ms_json_begin_object (j);
    ms_json_key (j, "store");
    ms_json_string (j, s->watchers[i].store);
    json_names (j, "mailboxes", s->pending[i], &truncated);
    ms_json_end_object (j);
  }
  ms_json_end_array (j);

  ms_json_key (j, "next_sync");
  if (s->next_sync == NULL) {
    ms_json_null (j);
  } else {
    ms_json_begin_object (j);
    ms_json_key (j, "kind");
    ms_json_string (j, s->next_sync);
    json_time (j, "at", s->next_sync_at);
    ms_json_key (j, "waiting_for");
    ms_json_string (j, s->next_sync_at > 0 ? NULL : s->waiting_for);
    ms_json_end_object (j);
  }
  json_time (j, "next_poll", s->next_poll_at);
  ms_json_key (j, "polling");
  ms_json_bool (j, s->polling);

  ms_json_key (j, "backoff");
  ms_json_begin_object (j);
  ms_json_key (j, "changes");
  ms_json_begin_object (j);
  ms_json_key (j, "failures");
  ms_json_int (j, s->change_failures);
  ms_json_key (j, "delay");
  if (s->change_failures > 0)
    ms_json_int (j, s->change_delay);
  else
    ms_json_null (j);
  ms_json_end_object (j);
  ms_json_key (j, "all_mailboxes");
  ms_json_begin_object (j);
  ms_json_key (j, "failures");
  ms_json_int (j, s->full_failures);
  json_time (j, "retry_at", s->full_failures > 0 ? s->full_retry_at : 0);
  ms_json_end_object (j);
  ms_json_end_object (j);

  ms_json_key (j, "mailboxes");
  ms_json_begin_array (j);
  for (guint i = 0; s->mailboxes != NULL && i < s->mailboxes->len; i++) {
    if (json_full (j)) {
      truncated = TRUE;
      break;
    }
    json_mailbox (j, &g_array_index (s->mailboxes, MsStatusMailbox, i));
  }
  ms_json_end_array (j);
  ms_json_key (j, "all_mailboxes");
  if (s->have_all)
    json_mailbox (j, &s->all);
  else
    ms_json_null (j);

  ms_json_key (j, "hook");
  if (!s->has_hook) {
    ms_json_null (j);
  } else {
    ms_json_begin_object (j);
    ms_json_key (j, "state");
    ms_json_string (j, s->hook_running ? "running" : "idle");
    json_time (j, "since", s->hook_running ? s->hook_since : 0);
    ms_json_key (j, "running_long");
    if (s->hook_running && s->hook_running_long > 0)
      ms_json_int (j, s->hook_running_long);
    else
      ms_json_null (j);
    ms_json_key (j, "all");
    ms_json_bool (j, s->hook_running && s->hook_all);
    json_names (j, "mailboxes", s->hook_running && !s->hook_all ? s->hook_names : NULL, &truncated);
    ms_json_key (j, "queued");
    ms_json_bool (j, s->hook_queued);
    ms_json_key (j, "queued_all");
    ms_json_bool (j, s->hook_queued && s->hook_queued_all);
    json_names (j, "queued_mailboxes", s->hook_queued && !s->hook_queued_all ? s->hook_queued_names : NULL,
                &truncated);
    ms_json_key (j, "last");
    if (s->hook_last_ended == 0) {
      ms_json_null (j);
    } else {
      ms_json_begin_object (j);
      json_time (j, "time", s->hook_last_ended);
      ms_json_key (j, "result");
      ms_json_string (j, s->hook_last_failure ? "failed" : "ok");
      ms_json_key (j, "reason");
      ms_json_string (j, s->hook_last_failure);
      ms_json_end_object (j);
    }
    ms_json_end_object (j);
  }

  ms_json_key (j, "wake");
  if (s->wake_reason == NULL) {
    ms_json_null (j);
  } else {
    ms_json_begin_object (j);
    ms_json_key (j, "reason");
    ms_json_string (j, s->wake_reason);
    json_time (j, "time", s->wake_at);
    ms_json_key (j, "slept");
    if (s->wake_slept > 0)
      ms_json_int (j, s->wake_slept);
    else
      ms_json_null (j);
    ms_json_end_object (j);
  }

  ms_json_key (j, "truncated");
  ms_json_bool (j, truncated);
  ms_json_end_object (j);

  char *text = ms_json_writer_finish (g_steal_pointer (&j));
  char *line = g_strconcat (text, "\n", NULL);
  g_free (text);
  return line;
}
