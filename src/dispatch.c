/* dispatch.c — see dispatch.h for what it decides and how that differs
 * from mswatch 1.2.
 *
 * Structure: every event (watcher started / failed / died / sent names, a
 * sync finished, the timer fired) updates state and then calls step(),
 * which makes the next decision from the state alone and finally arms the
 * single timer for the earliest deadline.  step() is the loop body of 1.2's
 * main loop, without its blocking waits.
 *
 * Pending names live in two sets per store: `pending` (not yet handed to a
 * sync) and `inflight` (handed to the running sync).  When the sync ends,
 * the names its result asks to retry (all of them when the `sync` program
 * failed; the RETRY answers of a resident syncer) go back to `pending`, and
 * the rest of the inflight set is dropped.  Names that arrive while a sync
 * runs only arm the timer once the sync's result has updated it
 * (`deferred_inter`), exactly as if 1.2 had read them after the sync.
 *
 * With a resident syncer (`syncer`), the link to it (syncer-link.h) keeps
 * itself running; syncs wait while it is not RUNNING, exactly as they wait
 * for the watchers' restart procedure.  Every greeting after the first means
 * a new syncer whose state we don't know, so a sync of all mailboxes
 * follows, like after a watcher restart.
 *
 * Every sync result also goes to the per-mailbox history (sync-history.h)
 * for the status report, and its synced names to the on_synced hook
 * (hook.h), which runs on its own and never holds a sync back.
 *
 * A wake-up (wake.h: a resume from suspend, the network coming back, or
 * SIGUSR2) stops every watcher and starts the restart procedure at once,
 * and cuts short every wait that is a backoff: watcher starts, the retry of
 * a failed sync, the restart of the syncer.  The restart procedure then
 * syncs all mailboxes, as after any watcher restart.
 */
#include "dispatch.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hook.h"
#include "messages.h"
#include "queue.h"
#include "status.h"
#include "sync-history.h"
#include "sync-runner.h"
#include "syncer-link.h"
#include "watcher.h"
#include "ms-time.h"

#define N_STORES 2

typedef enum {
  RESTART_IDLE,        /* every watcher is running */
  RESTART_WAITING,     /* backoff before starting stopped watchers */
  RESTART_STARTING,    /* a watcher is starting */
  RESTART_RETRY_WAIT,  /* a start failed; waiting to try it again */
} RestartState;

typedef enum {
  RUN_NONE,
  RUN_INBOX,   /* the restart procedure's INBOX sync (result ignored) */
  RUN_FULL,    /* all mailboxes, after a restart or for a poll */
  RUN_CHANGES, /* the pending names */
} RunKind;

typedef struct {
  MsDispatch *dispatch;
  guint index;
} StoreRef;

struct MsDispatch {
  const MsConfig *config;
  gboolean dry;
  MsDispatchFatal fatal;
  gpointer fatal_data;

  MsWatcher *watchers[N_STORES];
  StoreRef refs[N_STORES];
  GTree *pending[N_STORES];  /* char* -> NULL, bytewise order */
  GTree *inflight[N_STORES];

  MsSyncTimer timer;
  gint64 deferred_inter;  /* -1: nothing arrived during the running sync */
  gint64 last_fail;       /* when the last change sync failed */

  RestartState restart;
  gint64 restart_due;
  MsBackoff restart_backoff; /* between restart procedures */
  MsBackoff start_backoff;   /* between attempts to start one watcher */
  gboolean clean;            /* an event was handled with all watchers up */

  gboolean need_inbox;
  gboolean need_full;
  gboolean full_is_poll;
  gint64 full_due;           /* -1: no retry wait */
  MsBackoff full_backoff;
  gint64 poll_due;           /* -1: polling off */

  MsSyncRun *run;
  RunKind run_kind;
  MsSyncerLink *syncer;      /* NULL with `sync`, or with -d */
  gboolean syncer_greeted;   /* it has been RUNNING before */
  guint timer_source;
  gboolean dead;             /* a fatal error ended it */

  MsHook *hook;              /* NULL without on_synced, or with -d */
  MsSyncHistory *history;
  gint64 started_wall;
  MsWakeReason wake_reason;  /* the last wake-up; MS_WAKE_NONE: none yet */
  gint64 wake_at;            /* wall-clock seconds */
  gint64 wake_slept;         /* ms */
};

static void step (MsDispatch *d);

static gint64
secs (gint64 s)
{
  return s * 1000;
}

static gint
compare_names (gconstpointer a, gconstpointer b, gpointer unused)
{
  return strcmp (a, b);
}

/* For g_ptr_array_sort() of char*. */
static gint
compare_strv_entries (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static GTree *
name_set_new (void)
{
  return g_tree_new_full (compare_names, NULL, g_free, NULL);
}

/* Syncs can be handed over: always with `sync`, while RUNNING with `syncer`. */
static gboolean
syncer_ready (const MsDispatch *d)
{
  return d->syncer == NULL || ms_syncer_link_state (d->syncer) == MS_SYNCER_RUNNING;
}

static gboolean
all_running (const MsDispatch *d)
{
  for (guint i = 0; i < N_STORES; i++)
    if (ms_watcher_state (d->watchers[i]) != MS_WATCHER_RUNNING)
      return FALSE;
  return TRUE;
}

static gint64
retry_delay (MsBackoff *b)
{
  gint64 delay = ms_backoff_next (b);
  return MAX (delay, MS_DISPATCH_MIN_RETRY_MS);
}

/* --- name sets --------------------------------------------------------- */

static gboolean
add_to_set (gpointer key, gpointer value, gpointer data)
{
  GTree *into = data;
  if (g_tree_lookup_extended (into, key, NULL, NULL) == FALSE)
    g_tree_insert (into, g_strdup (key), NULL);
  return FALSE;
}

static gboolean
append_name (gpointer key, gpointer value, gpointer data)
{
  g_ptr_array_add (data, key);
  return FALSE;
}

/* Moves every pending name into the inflight sets. */
static void
take_pending (MsDispatch *d)
{
  for (guint i = 0; i < N_STORES; i++) {
    g_tree_foreach (d->pending[i], add_to_set, d->inflight[i]);
    g_clear_pointer (&d->pending[i], g_tree_unref);
    d->pending[i] = name_set_new ();
  }
}

typedef struct {
  const MsSyncResult *result;
  GTree *into;
} RetryFilter;

static gboolean
add_if_retried (gpointer key, gpointer value, gpointer data)
{
  RetryFilter *f = data;
  if (ms_sync_result_retries (f->result, key))
    add_to_set (key, value, f->into);
  return FALSE;
}

/* Names the result asks to retry go back to pending; the rest are done. */
static void
settle_inflight (MsDispatch *d, const MsSyncResult *result)
{
  for (guint i = 0; i < N_STORES; i++) {
    RetryFilter f = { result, d->pending[i] };
    g_tree_foreach (d->inflight[i], add_if_retried, &f);
    g_clear_pointer (&d->inflight[i], g_tree_unref);
    d->inflight[i] = name_set_new ();
  }
}

static gboolean
insert_borrowed (gpointer key, gpointer value, gpointer data)
{
  g_tree_insert (data, key, NULL);
  return FALSE;
}

/* The sorted, deduplicated union of `n` name sets (borrowed strings). */
static GPtrArray *
name_union (GTree *const *sets, guint n)
{
  g_autoptr (GTree) all = g_tree_new_full (compare_names, NULL, NULL, NULL);
  GPtrArray *names = g_ptr_array_new ();

  for (guint i = 0; i < n; i++)
    g_tree_foreach (sets[i], insert_borrowed, all);
  g_tree_foreach (all, append_name, names);
  return names;
}

static gboolean
anything_pending (MsDispatch *d)
{
  for (guint i = 0; i < N_STORES; i++)
    if (g_tree_nnodes (d->pending[i]) > 0)
      return TRUE;
  return FALSE;
}

/* --- syncs --------------------------------------------------------------- */

static void
queue_change (MsDispatch *d, gint64 inter)
{
  if (d->run != NULL)
    d->deferred_inter = d->deferred_inter < 0 ? inter : MIN (d->deferred_inter, inter);
  else
    ms_sync_timer_queue (&d->timer, inter, ms_time_mono_ms ());
}

static MsHistoryResult
history_result (MsSyncerOutcome outcome)
{
  switch (outcome) {
  case MS_SYNCER_OK:
    return MS_HISTORY_OK;
  case MS_SYNCER_RETRY:
    return MS_HISTORY_RETRY;
  case MS_SYNCER_FAIL:
    break;
  }
  return MS_HISTORY_FAILED;
}

/* The per-mailbox history, and the synced names to the hook. */
static void
note_outcomes (MsDispatch *d, const MsSyncResult *result)
{
  g_autoptr (GPtrArray) synced = g_ptr_array_new ();
  gboolean all_synced = FALSE;
  GHashTableIter it;
  gpointer key, value;

  g_hash_table_iter_init (&it, result->outcomes);
  while (g_hash_table_iter_next (&it, &key, &value)) {
    const char *name = key;
    const MsNameOutcome *o = value;
    ms_sync_history_record (d->history, name, o->when, history_result (o->outcome), o->reason);
    if (o->outcome != MS_SYNCER_OK)
      continue;
    if (*name == '\0')
      all_synced = TRUE;
    else
      g_ptr_array_add (synced, (gpointer) name);
  }
  if (d->hook == NULL)
    return;
  if (all_synced) {
    ms_hook_synced (d->hook, NULL);
  } else if (synced->len > 0) {
    g_ptr_array_sort (synced, compare_strv_entries);
    ms_hook_synced (d->hook, synced);
  }
}

static void
on_sync_done (gpointer data, const MsSyncResult *result)
{
  MsDispatch *d = data;
  gint64 now = ms_time_mono_ms ();
  RunKind kind = d->run_kind;
  gboolean ok = !result->failed;

  note_outcomes (d, result);

  g_clear_pointer (&d->run, ms_sync_run_free);
  d->run_kind = RUN_NONE;

  switch (kind) {
  case RUN_INBOX:
    d->need_inbox = FALSE; /* 1.2 ignores its result */
    break;
  case RUN_FULL:
    settle_inflight (d, result);
    if (ok) {
      d->need_full = FALSE;
      d->full_due = -1;
      if (d->full_is_poll)
        ms_sync_timer_reset (&d->timer, now);
      if (d->config->poll_period > 0)
        d->poll_due = ms_poll_next (now, secs (d->config->poll_period), g_random_int ());
    } else {
      d->full_due = now + retry_delay (&d->full_backoff);
    }
    break;
  case RUN_CHANGES:
    settle_inflight (d, result);
    if (ok) {
      ms_sync_timer_reset (&d->timer, now);
    } else {
      ms_sync_timer_fail (&d->timer, now);
      d->last_fail = now;
    }
    break;
  case RUN_NONE:
    g_assert_not_reached ();
  }

  if (d->deferred_inter >= 0) {
    ms_sync_timer_queue (&d->timer, d->deferred_inter, now);
    d->deferred_inter = -1;
  }
  step (d);
}

static void
run_sync (MsDispatch *d, RunKind kind, GPtrArray *names)
{
  d->run_kind = kind;
  d->run = ms_sync_run_start (d->config, d->dry, d->syncer, names, on_sync_done, d);
}

static void
start_full (MsDispatch *d)
{
  take_pending (d);
  run_sync (d, RUN_FULL, NULL);
}

static void
start_changes (MsDispatch *d)
{
  if (!anything_pending (d)) {
    ms_sync_timer_unqueue (&d->timer);
    return;
  }
  take_pending (d);
  g_autoptr (GPtrArray) names = name_union (d->inflight, N_STORES);
  run_sync (d, RUN_CHANGES, names);
}

/* --- watchers and the restart procedure ---------------------------------- */

static void
start_next_watcher (MsDispatch *d)
{
  for (guint i = 0; i < N_STORES; i++) {
    if (ms_watcher_state (d->watchers[i]) == MS_WATCHER_STOPPED) {
      d->restart = RESTART_STARTING;
      ms_msg_starting_watcher (d->config->stores[i].name);
      ms_watcher_start (d->watchers[i]);
      return; /* the result arrives through started / start_failed */
    }
  }
  /* Everything is up: the rest of 1.2's restart procedure. */
  d->restart = RESTART_IDLE;
  ms_msg_watching ();
  d->need_inbox = TRUE;
  d->need_full = TRUE;
  d->full_is_poll = FALSE;
  d->full_due = -1;
  ms_backoff_reset (&d->full_backoff);
}

static void
begin_restart (MsDispatch *d, gint64 now)
{
  /* 1.2 waits before a restart only if nothing happened since the last
   * one; the first restart of a series is immediate. */
  if (d->clean)
    ms_backoff_reset (&d->restart_backoff);
  d->clean = FALSE;
  gint64 delay = retry_delay (&d->restart_backoff);
  ms_backoff_reset (&d->start_backoff);
  if (d->restart_backoff.count == 1) {
    start_next_watcher (d);
  } else {
    d->restart = RESTART_WAITING;
    d->restart_due = now + delay;
  }
}

static void
on_started (gpointer data)
{
  StoreRef *ref = data;
  MsDispatch *d = ref->dispatch;
  ms_backoff_reset (&d->start_backoff);
  start_next_watcher (d);
  step (d);
}

static void
on_start_failed (gpointer data)
{
  StoreRef *ref = data;
  MsDispatch *d = ref->dispatch;
  d->restart = RESTART_RETRY_WAIT;
  d->restart_due = ms_time_mono_ms () + retry_delay (&d->start_backoff);
  step (d);
}

static void
on_bad_start (gpointer data)
{
  StoreRef *ref = data;
  MsDispatch *d = ref->dispatch;
  d->dead = TRUE;
  g_clear_handle_id (&d->timer_source, g_source_remove);
  d->fatal (d->fatal_data, 1);
}

static void
add_names (MsDispatch *d, guint store, GPtrArray *names)
{
  gint64 min_inter = -1;

  for (guint i = 0; i < names->len; i++) {
    const char *name = g_ptr_array_index (names, i);
    if (ms_config_is_ignored (d->config, name))
      continue;
    if (!g_tree_lookup_extended (d->pending[store], name, NULL, NULL))
      g_tree_insert (d->pending[store], g_strdup (name), NULL);
    gint64 inter = secs (ms_config_inter_delay_for (d->config, name));
    min_inter = min_inter < 0 ? inter : MIN (min_inter, inter);
  }
  if (min_inter >= 0)
    queue_change (d, min_inter);
  if (d->restart == RESTART_IDLE && all_running (d))
    d->clean = TRUE;
  step (d);
}

static void
on_names (gpointer data, GPtrArray *names)
{
  StoreRef *ref = data;
  add_names (ref->dispatch, ref->index, names);
}

static void
on_name_too_long (gpointer data)
{
  StoreRef *ref = data;
  g_autoptr (GPtrArray) all = g_ptr_array_new ();
  g_ptr_array_add (all, (gpointer) "");
  add_names (ref->dispatch, ref->index, all);
}

static void
on_died (gpointer data)
{
  StoreRef *ref = data;
  step (ref->dispatch);
}

/* --- the resident syncer ------------------------------------------------------ */

static void
on_syncer_ready (gpointer data)
{
  MsDispatch *d = data;

  if (d->syncer_greeted) {
    /* A restarted syncer: what the old one did last is unknown. */
    d->need_full = TRUE;
    d->full_is_poll = FALSE;
    d->full_due = -1;
    ms_backoff_reset (&d->full_backoff);
  }
  d->syncer_greeted = TRUE;
  step (d);
}

/* --- the loop body --------------------------------------------------------- */

static gboolean on_timer (gpointer data);

static void
arm_timer (MsDispatch *d, gint64 now)
{
  gint64 due = -1;
#define CONSIDER(t) do { gint64 t_ = (t); if (t_ >= 0 && (due < 0 || t_ < due)) due = t_; } while (0)

  g_clear_handle_id (&d->timer_source, g_source_remove);
  if (d->restart == RESTART_WAITING || d->restart == RESTART_RETRY_WAIT)
    CONSIDER (d->restart_due);
  if (d->run == NULL && d->restart == RESTART_IDLE && syncer_ready (d)) {
    if (d->need_full)
      CONSIDER (d->full_due);
    CONSIDER (d->poll_due);
    gint64 rem = ms_sync_timer_remaining (&d->timer, now);
    if (rem >= 0) {
      gint64 t = now + rem;
      if (d->timer.err)
        t = MAX (t, d->last_fail + MS_DISPATCH_MIN_RETRY_MS);
      CONSIDER (t);
    }
  }
#undef CONSIDER
  if (due >= 0)
    d->timer_source = g_timeout_add ((guint) CLAMP (due - now, 0, G_MAXINT32), on_timer, d);
}

static void
step (MsDispatch *d)
{
  gint64 now = ms_time_mono_ms ();

  if (d->dead)
    return;

  if (d->restart == RESTART_IDLE && !all_running (d))
    begin_restart (d, now);
  if ((d->restart == RESTART_WAITING || d->restart == RESTART_RETRY_WAIT) && now >= d->restart_due)
    start_next_watcher (d);
  if (d->dead)
    return;

  if (d->run == NULL && d->restart == RESTART_IDLE && syncer_ready (d)) {
    gint64 rem = ms_sync_timer_remaining (&d->timer, now);
    gboolean timer_due = rem == 0 && !(d->timer.err && now < d->last_fail + MS_DISPATCH_MIN_RETRY_MS);

    if (d->need_inbox) {
      g_autoptr (GPtrArray) inbox = g_ptr_array_new ();
      g_ptr_array_add (inbox, (gpointer) "INBOX");
      run_sync (d, RUN_INBOX, inbox);
    } else if (d->need_full) {
      if (d->full_due < 0 || now >= d->full_due)
        start_full (d);
    } else if (d->poll_due >= 0 && now >= d->poll_due) {
      /* Ties with the sync timer go to polling, as in 1.2. */
      d->need_full = TRUE;
      d->full_is_poll = TRUE;
      d->full_due = -1;
      d->poll_due = -1;
      ms_backoff_reset (&d->full_backoff);
      start_full (d);
    } else if (timer_due) {
      d->clean = TRUE;
      start_changes (d);
    }
  }
  arm_timer (d, now);
}

static gboolean
on_timer (gpointer data)
{
  MsDispatch *d = data;
  d->timer_source = 0;
  step (d);
  return G_SOURCE_REMOVE;
}

/* --- public ---------------------------------------------------------------- */

MsDispatch *
ms_dispatch_new (const MsConfig *config, gboolean dry, MsDispatchFatal fatal, gpointer user_data)
{
  static const MsWatcherHandlers handlers = {
    on_started, on_start_failed, on_bad_start, on_names, on_name_too_long, on_died,
  };
  MsDispatch *d = g_new0 (MsDispatch, 1);
  gint64 inter = secs (config->inter_delay), max = secs (config->max_delay);

  d->config = config;
  d->dry = dry;
  d->fatal = fatal;
  d->fatal_data = user_data;
  ms_sync_timer_init (&d->timer, secs (config->base_delay), inter, max);
  ms_backoff_init (&d->restart_backoff, inter, max);
  ms_backoff_init (&d->start_backoff, inter, max);
  ms_backoff_init (&d->full_backoff, inter, max);
  d->deferred_inter = -1;
  d->full_due = -1;
  d->poll_due = -1;
  d->restart = RESTART_IDLE;
  d->history = ms_sync_history_new (MS_SYNC_HISTORY_MAX);
  d->started_wall = ms_time_wall_now ();
  if (config->on_synced_argv != NULL && !dry)
    d->hook = ms_hook_new (config);
  if (config->syncer_argv != NULL && !dry)
    d->syncer = ms_syncer_link_new (config, on_syncer_ready, d);
  for (guint i = 0; i < N_STORES; i++) {
    d->refs[i] = (StoreRef) { d, i };
    d->pending[i] = name_set_new ();
    d->inflight[i] = name_set_new ();
    d->watchers[i] = ms_watcher_new (config->stores[i].name,
                                     (const char *const *) config->stores[i].watch_argv,
                                     &handlers, &d->refs[i]);
  }
  return d;
}

void
ms_dispatch_free (MsDispatch *d)
{
  if (d == NULL)
    return;
  g_clear_handle_id (&d->timer_source, g_source_remove);
  g_clear_pointer (&d->run, ms_sync_run_free);
  g_clear_pointer (&d->syncer, ms_syncer_link_free);
  g_clear_pointer (&d->hook, ms_hook_free);
  g_clear_pointer (&d->history, ms_sync_history_free);
  for (guint i = 0; i < N_STORES; i++) {
    g_clear_pointer (&d->watchers[i], ms_watcher_free);
    g_clear_pointer (&d->pending[i], g_tree_unref);
    g_clear_pointer (&d->inflight[i], g_tree_unref);
  }
  g_free (d);
}

void
ms_dispatch_start (MsDispatch *d)
{
  if (d->syncer != NULL)
    ms_syncer_link_start (d->syncer);
  step (d);
}

char *
ms_dispatch_pending_report (MsDispatch *d)
{
  MsStatusStore stores[N_STORES];
  GPtrArray *lists[N_STORES];

  for (guint i = 0; i < N_STORES; i++) {
    GTree *sets[] = { d->pending[i], d->inflight[i] };
    lists[i] = name_union (sets, G_N_ELEMENTS (sets));
    stores[i] = (MsStatusStore) { d->config->stores[i].name, lists[i] };
  }
  if (d->restart == RESTART_IDLE && all_running (d))
    d->clean = TRUE;
  char *report = ms_status_pending_report (ms_time_wall_now (), stores, N_STORES);
  for (guint i = 0; i < N_STORES; i++)
    g_ptr_array_unref (lists[i]);
  if (d->syncer != NULL) {
    g_autofree char *pending = report;
    g_autofree char *syncer =
      ms_status_syncer_report (ms_syncer_state_name (ms_syncer_link_state (d->syncer)),
                               ms_syncer_link_outstanding (d->syncer));
    report = g_strconcat (pending, syncer, NULL);
  }
  return report;
}

/* --- wake-ups ------------------------------------------------------------------ */

void
ms_dispatch_wake (MsDispatch *d, MsWakeReason reason, gint64 slept_ms)
{
  gint64 now = ms_time_mono_ms ();
  g_autofree char *why = NULL;

  if (d->dead)
    return;
  d->wake_reason = reason;
  d->wake_at = ms_time_wall_now ();
  d->wake_slept = reason == MS_WAKE_RESUMED ? slept_ms : 0;
  switch (reason) {
  case MS_WAKE_RESUMED: {
    g_autofree char *slept = ms_status_duration (slept_ms / 1000);
    why = g_strdup_printf ("resumed after %s asleep", slept);
    break;
  }
  case MS_WAKE_NETWORK_BACK:
    why = g_strdup ("the network is back");
    break;
  case MS_WAKE_SIGNAL:
  case MS_WAKE_NONE:
    why = g_strdup ("SIGUSR2");
    break;
  }
  ms_msg_wake (why);

  /* Their connections are likely dead: restart them all, at once.  The
   * syncer first: what it had in flight comes back as failed, to be
   * retried without the backoff that is cut short below. */
  if (d->syncer != NULL)
    ms_syncer_link_wake (d->syncer);
  for (guint i = 0; i < N_STORES; i++)
    if (ms_watcher_state (d->watchers[i]) != MS_WATCHER_STOPPED)
      ms_watcher_stop (d->watchers[i]);
  d->restart = RESTART_IDLE;
  d->clean = TRUE; /* begin_restart() then starts at once */
  ms_backoff_reset (&d->restart_backoff);
  ms_backoff_reset (&d->start_backoff);

  ms_sync_timer_expedite (&d->timer, now);
  ms_backoff_reset (&d->full_backoff);
  if (d->full_due >= 0)
    d->full_due = now;
  step (d);
}

/* --- the status report ------------------------------------------------------ */

/* Wall-clock seconds for a monotonic time in ms. */
static gint64
wall_of (gint64 mono_ms)
{
  return (g_get_real_time () / 1000 + (mono_ms - ms_time_mono_ms ())) / 1000;
}

typedef struct {
  GArray *requests;
  GPtrArray *strings; /* copies the requests point to */
} RequestCollector;

static void
collect_request (gpointer data, const char *tag, const char *name, gint64 sent, const MsSyncerProgress *progress)
{
  RequestCollector *c = data;
  MsStatusRequest r = { 0 };

#define KEEP(x) ((x) == NULL ? NULL : (g_ptr_array_add (c->strings, g_strdup (x)), \
                                      (const char *) g_ptr_array_index (c->strings, c->strings->len - 1)))
  r.tag = KEEP (tag);
  r.mailbox = name != NULL && *name != '\0' ? KEEP (name) : NULL;
  r.sent = sent >= 0 ? wall_of (sent) : 0;
  r.progress = progress; /* valid while the report is made */
#undef KEEP
  g_array_append_val (c->requests, r);
}

static const char *
watcher_state (const MsDispatch *d, guint i, MsStatusWatcher *w)
{
  switch (ms_watcher_state (d->watchers[i])) {
  case MS_WATCHER_RUNNING:
    w->since = wall_of (ms_watcher_since (d->watchers[i]));
    return "running";
  case MS_WATCHER_STARTING:
    return "starting";
  case MS_WATCHER_STOPPED:
    break;
  }
  if (d->restart == RESTART_WAITING || d->restart == RESTART_RETRY_WAIT) {
    w->restart_at = wall_of (d->restart_due);
    return "restarting";
  }
  return "stopped";
}

/* What syncs next, and when (see MsStatus). */
static void
next_sync (MsDispatch *d, MsStatus *s)
{
  gint64 now = ms_time_mono_ms ();
  gboolean restarting = d->restart != RESTART_IDLE || !all_running (d);
  gint64 rem = ms_sync_timer_remaining (&d->timer, now);

  if (restarting)
    s->next_sync = "inbox";
  else if (d->need_inbox)
    s->next_sync = "inbox";
  else if (d->need_full)
    s->next_sync = "all";
  else if ((rem >= 0 && d->run == NULL) || anything_pending (d))
    s->next_sync = "changes"; /* while a sync runs, the timer is its own */
  else
    return;

  if (d->run != NULL) {
    s->waiting_for = "sync";
  } else if (restarting) {
    s->waiting_for = "watchers";
  } else if (!syncer_ready (d)) {
    s->waiting_for = "syncer";
  } else if (g_str_equal (s->next_sync, "all")) {
    s->next_sync_at = wall_of (d->full_due >= 0 ? MAX (d->full_due, now) : now);
  } else if (g_str_equal (s->next_sync, "changes") && rem >= 0) {
    gint64 t = now + rem;
    if (d->timer.err)
      t = MAX (t, d->last_fail + MS_DISPATCH_MIN_RETRY_MS);
    s->next_sync_at = wall_of (t);
  } else {
    s->next_sync_at = wall_of (now);
  }
}

static gboolean
append_status_mailbox (gpointer key, gpointer value, gpointer data)
{
  g_array_append_vals (data, value, 1);
  return FALSE;
}

char *
ms_dispatch_status_report (MsDispatch *d, gboolean json)
{
  MsStatus s = { 0 };
  g_autoptr (GPtrArray) strings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) requests = g_array_new (FALSE, TRUE, sizeof (MsStatusRequest));
  g_autoptr (GArray) mailboxes = g_array_new (FALSE, TRUE, sizeof (MsStatusMailbox));
  g_autoptr (GPtrArray) entries = ms_sync_history_entries (d->history);
  g_autoptr (GPtrArray) pending0 = name_union (&d->pending[0], 1);
  g_autoptr (GPtrArray) pending1 = name_union (&d->pending[1], 1);
  MsHookState hook = { 0 };

  s.now = ms_time_wall_now ();
  s.started = d->started_wall;
  s.pid = getpid ();
  s.config = d->config->filename;

  for (guint i = 0; i < N_STORES; i++) {
    s.watchers[i].store = d->config->stores[i].name;
    s.watchers[i].state = watcher_state (d, i, &s.watchers[i]);
  }
  s.watcher_failures = d->start_backoff.count;

  if (d->syncer != NULL) {
    RequestCollector c = { requests, strings };
    gint64 since = ms_syncer_link_since (d->syncer), due = ms_syncer_link_restart_due (d->syncer);
    s.has_syncer = TRUE;
    s.syncer_state = ms_syncer_state_name (ms_syncer_link_state (d->syncer));
    s.syncer_since = since >= 0 ? wall_of (since) : 0;
    s.syncer_restart_at = due >= 0 ? wall_of (due) : 0;
    s.syncer_failures = ms_syncer_link_failures (d->syncer);
    gint64 connection_since;
    s.syncer_connection = ms_syncer_link_connection (d->syncer, &connection_since);
    s.syncer_connection_since = s.syncer_connection ? wall_of (connection_since) : 0;
    ms_syncer_link_foreach_request (d->syncer, collect_request, &c);
    s.requests = requests;
  }

  if (d->run != NULL) {
    s.sync_kind = d->run_kind == RUN_INBOX ? "inbox" : d->run_kind == RUN_FULL ? "all" : "changes";
    s.sync_started = wall_of (ms_sync_run_started (d->run));
    s.sync_names = ms_sync_run_names (d->run);
  }

  s.pending[0] = pending0;
  s.pending[1] = pending1;
  next_sync (d, &s);
  s.next_poll_at = d->poll_due >= 0 ? wall_of (d->poll_due) : 0;
  s.polling = d->config->poll_period > 0;

  if (d->timer.err) {
    s.change_failures = d->timer.nfail;
    s.change_delay = d->timer.err_delay / 1000;
  }
  if (d->need_full && d->full_due >= 0) {
    s.full_failures = d->full_backoff.count;
    s.full_retry_at = wall_of (d->full_due);
  }

  /* The history, with the answers the running batch has had so far on
   * top (they reach the history when the batch ends). */
  g_autoptr (GTree) latest = g_tree_new_full (compare_names, NULL, NULL, g_free);
  for (guint i = 0; i < entries->len; i++) {
    const MsHistoryEntry *e = g_ptr_array_index (entries, i);
    MsStatusMailbox *m = g_new (MsStatusMailbox, 1);
    *m = (MsStatusMailbox) { e->name, e->when, ms_history_result_name (e->result), e->reason };
    g_tree_insert (latest, (gpointer) e->name, m);
  }
  const MsHistoryEntry *all = ms_sync_history_lookup (d->history, "");
  if (all != NULL) {
    s.have_all = TRUE;
    s.all = (MsStatusMailbox) { NULL, all->when, ms_history_result_name (all->result), all->reason };
  }
  if (d->run != NULL) {
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init (&it, ms_sync_run_outcomes (d->run));
    while (g_hash_table_iter_next (&it, &key, &value)) {
      const MsNameOutcome *o = value;
      MsStatusMailbox m = { key, o->when, ms_history_result_name (history_result (o->outcome)), o->reason };
      if (*(const char *) key == '\0') {
        s.have_all = TRUE;
        s.all = m;
        s.all.mailbox = NULL;
      } else {
        g_tree_insert (latest, key, g_memdup2 (&m, sizeof m));
      }
    }
  }
  g_tree_foreach (latest, append_status_mailbox, mailboxes);
  s.mailboxes = mailboxes;

  if (d->hook != NULL) {
    ms_hook_get_state (d->hook, &hook);
    s.has_hook = TRUE;
    s.hook_running = hook.running;
    s.hook_since = hook.running ? wall_of (hook.started) : 0;
    s.hook_all = hook.running_all;
    s.hook_names = hook.running_names;
    s.hook_queued = hook.queued;
    s.hook_queued_all = hook.queued_all;
    s.hook_queued_names = hook.queued_names;
    s.hook_last_ended = hook.last_ended;
    s.hook_last_failure = hook.last_failure;
    s.hook_running_long = hook.running_long;
  }

  if (d->wake_reason != MS_WAKE_NONE) {
    s.wake_reason = ms_wake_reason_name (d->wake_reason);
    s.wake_at = d->wake_at;
    s.wake_slept = d->wake_slept / 1000;
  }

  char *text = json ? ms_status_format_json (&s) : ms_status_format_text (&s);
  g_clear_pointer (&hook.queued_names, g_ptr_array_unref);
  return text;
}
