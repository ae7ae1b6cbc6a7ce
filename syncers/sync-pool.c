/* sync-pool.c — a channel's IMAP connections, and the syncs of a list of
 * mailboxes run on several of them at once (see sync-pool.h). */
#include "sync-pool.h"

#include <string.h>

#include "ms-error.h"

typedef struct {
  MsImapClient *imap; /* NULL: not connected */
  char *selected;     /* the mailbox left selected on it */
  gboolean served;    /* a sync ran on it (else it is newly opened) */
} Conn;

struct MsSyncPool {
  MsChannelSetup *setup;
  gboolean force;
  guint n_conns;     /* connections to use; lowered when the server refuses more */
  guint n_conns_max; /* what was asked for */
  gint64 lowered_us; /* monotonic: when n_conns was last lowered */
  Conn conns[MS_SYNC_POOL_CONNECTIONS_MAX];

  /* Guards the setup's secret.  Not `lock`: PassCmd runs under it and may
   * take up to MS_CHANNEL_PASS_CMD_TIMEOUT_S (a pinentry prompt), and the
   * workers that finished a sync meanwhile must not wait for it to report. */
  GMutex secret_lock;
  GMutex lock; /* guards what follows */
  GHashTable *fingerprints; /* box -> MsSyncFingerprint* */
  GHashTable *verify;       /* box -> Verify* */
  GHashTable *affinity;     /* box -> index + 1 of the connection that last opened it */
  guint connect_failures;   /* in a row */
  gint64 next_connect_us;   /* monotonic; no attempt before */
  GError *connect_error;    /* the last failure, repeated during the backoff */

  MsSyncShelf *shelf; /* NULL: each sync commits its state */
};

/* A mailbox to sync once more when idle, to leave a fingerprint behind. */
typedef struct {
  gint64 due_us;         /* monotonic; not before */
  guint tries;           /* such syncs taken since the last that changed something */
  gboolean status_first; /* a recheck: synced only if STATUS shows a change */
} Verify;

/* Such syncs before a mailbox is left without a fingerprint: enough for a
 * file system with whole-second timestamps (where the first finds the
 * mtimes still unsettled), few enough that a folder written to without
 * pause, or one whose sync keeps failing, costs no endless syncs. */
#define MS_SYNC_POOL_VERIFY_TRIES 3

/* Seconds after the server refused one connection more before a run asks
 * for all of them again: the limit it hit may have been other clients'
 * connections, since closed, or the failure a passing one.  One refused
 * attempt per ten minutes is what a real limit costs. */
#define MS_SYNC_POOL_REGROW_S 600
static guint regrow_s = MS_SYNC_POOL_REGROW_S;

void
ms_sync_pool_set_regrow_s (guint seconds)
{
  regrow_s = seconds;
}

static void conn_drop (Conn *c);

MsSyncPool *
ms_sync_pool_new (MsChannelSetup *setup, guint connections, gboolean force)
{
  MsSyncPool *pool = g_new0 (MsSyncPool, 1);
  pool->setup = setup;
  pool->force = force;
  pool->n_conns = pool->n_conns_max = CLAMP (connections, 1, MS_SYNC_POOL_CONNECTIONS_MAX);
  g_mutex_init (&pool->lock);
  g_mutex_init (&pool->secret_lock);
  pool->fingerprints = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  pool->verify = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  pool->affinity = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return pool;
}

void
ms_sync_pool_free (MsSyncPool *pool)
{
  if (pool == NULL)
    return;
  ms_sync_shelf_free (pool->shelf); /* before the setup: it uses its store */
  for (guint i = 0; i < MS_SYNC_POOL_CONNECTIONS_MAX; i++)
    conn_drop (&pool->conns[i]);
  ms_channel_setup_free (pool->setup);
  g_hash_table_unref (pool->fingerprints);
  g_hash_table_unref (pool->verify);
  g_hash_table_unref (pool->affinity);
  g_clear_error (&pool->connect_error);
  g_mutex_clear (&pool->lock);
  g_mutex_clear (&pool->secret_lock);
  g_free (pool);
}

MsChannelSetup *
ms_sync_pool_setup (MsSyncPool *pool)
{
  return pool->setup;
}

void
ms_sync_pool_shelve (MsSyncPool *pool)
{
  if (pool->shelf == NULL)
    pool->shelf = ms_sync_shelf_new (&pool->setup->maildir);
}

gint64
ms_sync_pool_shelved_since (MsSyncPool *pool)
{
  return pool->shelf != NULL ? ms_sync_shelf_oldest (pool->shelf) : G_MAXINT64;
}

guint
ms_sync_pool_commit_shelved (MsSyncPool *pool, gboolean (*stop) (gpointer data), gpointer data)
{
  return pool->shelf != NULL ? ms_sync_shelf_commit (pool->shelf, stop, data) : 0;
}

/* --- connections ------------------------------------------------------------------ */

static void
conn_drop (Conn *c)
{
  /* Only its own worker writes c->imap; other workers count the open
   * connections (open_conns), so the pointer is set and read atomically. */
  MsImapClient *imap = g_atomic_pointer_exchange (&c->imap, NULL);
  if (imap != NULL)
    ms_imap_client_free (imap);
  g_clear_pointer (&c->selected, g_free);
  c->served = FALSE;
}

static guint
open_conns (MsSyncPool *pool)
{
  guint n = 0;
  for (guint i = 0; i < MS_SYNC_POOL_CONNECTIONS_MAX; i++)
    n += g_atomic_pointer_get (&pool->conns[i].imap) != NULL;
  return n;
}

/* Connects `c` unless it is.  During the backoff after a failure it fails
 * without trying, with *waiting (may be NULL) set. */
static gboolean
conn_connect (MsSyncPool *pool, Conn *c, gboolean *waiting, GError **error)
{
  if (waiting != NULL)
    *waiting = FALSE;
  if (c->imap != NULL)
    return TRUE;
  g_mutex_lock (&pool->lock);
  gint64 now = g_get_monotonic_time ();
  if (now < pool->next_connect_us && pool->connect_error != NULL) {
    if (waiting != NULL)
      *waiting = TRUE;
    g_set_error (error, MS_ERROR, MS_ERROR_FAILED, "%s: %s (next attempt in %d s)",
                 pool->setup->channel->name, pool->connect_error->message,
                 (int) ((pool->next_connect_us - now + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC));
    g_mutex_unlock (&pool->lock);
    return FALSE;
  }
  g_mutex_unlock (&pool->lock);
  g_autoptr (GError) local = NULL;
  MsImapClient *imap = NULL;
  /* A secret PassCmd printed a while ago may have expired (an OAuth token
   * lives an hour): when the server refuses it, PassCmd runs once more. */
  g_mutex_lock (&pool->secret_lock);
  gboolean cached = pool->setup->secret != NULL;
  for (int attempt = 0; attempt < 2 && imap == NULL; attempt++) {
    g_clear_error (&local);
    MsImapClientOptions options = pool->setup->imap;
    gboolean ok = ms_channel_setup_fetch_secret (pool->setup, &local);
    /* A copy: another worker may forget the setup's while this one logs in. */
    char *secret = ok ? g_strdup (pool->setup->imap.secret) : NULL;
    options.secret = secret;
    g_mutex_unlock (&pool->secret_lock);
    imap = ok ? ms_imap_client_connect (&options, &local) : NULL;
    if (secret != NULL)
      explicit_bzero (secret, strlen (secret));
    g_free (secret);
    g_mutex_lock (&pool->secret_lock);
    if (imap != NULL || !g_error_matches (local, MS_ERROR, MS_ERROR_AUTH) || !cached
        || !ms_channel_setup_forget_secret (pool->setup))
      break;
    cached = FALSE;
    g_message ("%s: the server refused the secret PassCmd printed earlier; running PassCmd again",
               pool->setup->channel->name);
  }
  g_mutex_unlock (&pool->secret_lock);

  g_mutex_lock (&pool->lock);
  g_atomic_pointer_set (&c->imap, imap); /* see conn_drop */
  if (c->imap != NULL) {
    pool->connect_failures = 0;
    pool->next_connect_us = 0;
    g_clear_error (&pool->connect_error);
  } else {
    pool->connect_failures++;
    guint shift = MIN (pool->connect_failures - 1, 5u);
    gint64 delay_s = MIN ((gint64) 1 << shift, (gint64) MS_SYNC_POOL_BACKOFF_MAX_S);
    pool->next_connect_us = g_get_monotonic_time () + delay_s * G_USEC_PER_SEC;
    g_clear_error (&pool->connect_error);
    pool->connect_error = g_error_copy (local);
    g_propagate_prefixed_error (error, g_steal_pointer (&local), "%s: ", pool->setup->channel->name);
  }
  g_mutex_unlock (&pool->lock);
  return c->imap != NULL;
}

guint
ms_sync_pool_drop_gone (MsSyncPool *pool)
{
  for (guint i = 0; i < MS_SYNC_POOL_CONNECTIONS_MAX; i++) {
    Conn *c = &pool->conns[i];
    if (c->imap != NULL && ms_imap_client_peer_gone (c->imap))
      conn_drop (c);
  }
  return open_conns (pool);
}

char *
ms_sync_pool_describe (MsSyncPool *pool)
{
  const MsTransportOptions *t = &pool->setup->imap.transport;
  g_autofree char *server = t->tunnel != NULL ? g_strdup ("the tunnel") : g_strdup (t->host);
  g_mutex_lock (&pool->lock);
  char *text;
  guint open = open_conns (pool);
  /* With some open, a failed attempt at one more is no outage. */
  if (open == 0 && pool->connect_error != NULL)
    text = g_strdup_printf ("down: %s (%u failed attempt%s in a row)", pool->connect_error->message,
                            pool->connect_failures, pool->connect_failures == 1 ? "" : "s");
  else
    /* One that was connecting when the others were cut back may be open. */
    text = g_strdup_printf ("%u of %u connections open to %s", open, MAX (open, pool->n_conns), server);
  g_mutex_unlock (&pool->lock);
  return text;
}

/* A lock held by another sync, a name that cannot be, a limit, a config
 * error or a mailbox the sync refuses: another attempt cannot fix these (a
 * lock can, but it says nothing about the connection either). */
static gboolean
error_is_permanent (const GError *error)
{
  return error->domain == MS_ERROR
         && (error->code == MS_ERROR_BAD_NAME || error->code == MS_ERROR_LIMIT || error->code == MS_ERROR_CONFIG
             || error->code == MS_ERROR_FAILED);
}

static gboolean
error_is_busy (const GError *error)
{
  return g_error_matches (error, MS_ERROR, MS_ERROR_BUSY);
}

/* --- one mailbox --------------------------------------------------------------------- */

/* Where a mailbox's progress goes: its run and its place in the list. */
typedef struct Run Run;
typedef struct {
  Run *run;
  guint index;
} Place;

static void on_progress (gpointer data, const MsSyncProgress *progress);

/* Remembers that the server process behind `c` opened `box` last: it keeps
 * the mailbox's index open for a while, so the next sync of it costs the
 * server less there.  Called with the lock held. */
static void
set_affinity (MsSyncPool *pool, Conn *c, const char *box)
{
  g_hash_table_insert (pool->affinity, g_strdup (box), GUINT_TO_POINTER ((guint) (c - pool->conns) + 1));
}

/* After a sync that left no fingerprint: synced once more when idle, once
 * the Maildir's mtimes have settled.  Only after a sync that changed
 * something or found the Maildir unsettled (one that changed nothing and
 * still left none will not do better a moment later), and only where there
 * can be one (the server has CONDSTORE).  Called with the lock held. */
static void
schedule_verify (MsSyncPool *pool, Conn *c, const char *box, const MsSyncCounts *counts)
{
  gboolean changed = counts->pulled || counts->pushed || counts->flags_near || counts->flags_far
                     || counts->removed_near || counts->expunged_far;
  Verify *v = g_hash_table_lookup (pool->verify, box);
  if (!(changed || counts->fingerprint_unsettled) || !ms_imap_client_has_cap (c->imap, "CONDSTORE")) {
    g_hash_table_remove (pool->verify, box);
    return;
  }
  guint tries = v != NULL && !changed ? v->tries : 0;
  /* The first waits for the mtimes to settle; a whole-second file system
   * still shows them unsettled then, so the later ones wait a second. */
  gint64 wait_us = tries == 0 ? ms_maildir_fingerprint_settle_ns () / 1000 : G_USEC_PER_SEC;
  v = g_new (Verify, 1);
  *v = (Verify) { g_get_monotonic_time () + wait_us, tries, FALSE };
  g_hash_table_insert (pool->verify, g_strdup (box), v);
}

gint64
ms_sync_pool_settled_at (MsSyncPool *pool, GPtrArray *boxes)
{
  gint64 at = 0;
  g_mutex_lock (&pool->lock);
  for (guint i = 0; i < boxes->len; i++) {
    const Verify *v = g_hash_table_lookup (pool->verify, g_ptr_array_index (boxes, i));
    if (v != NULL && v->tries == 0 && !v->status_first)
      at = MAX (at, v->due_us);
  }
  g_mutex_unlock (&pool->lock);
  return at;
}

static guint recheck_ms = MS_SYNC_POOL_RECHECK_MS;

void
ms_sync_pool_set_recheck_ms (guint ms)
{
  recheck_ms = ms;
}

void
ms_sync_pool_recheck (MsSyncPool *pool, const char *box)
{
  g_mutex_lock (&pool->lock);
  if (!g_hash_table_contains (pool->verify, box)) {
    Verify *v = g_new (Verify, 1);
    *v = (Verify) { g_get_monotonic_time () + (gint64) recheck_ms * 1000, 0, TRUE };
    g_hash_table_insert (pool->verify, g_strdup (box), v);
  }
  g_mutex_unlock (&pool->lock);
}

static gboolean
sync_one (MsSyncPool *pool, Conn *c, const char *box, Place *place, MsSyncResult *result, GError **error)
{
  MsSyncContext ctx;
  MsSyncCounts counts;
  ms_channel_setup_context (pool->setup, c->imap, &ctx);
  ctx.policy.force = pool->force;
  ctx.progress = on_progress;
  ctx.progress_data = place;
  ctx.shelf = pool->shelf;
  g_clear_pointer (&c->selected, g_free);
  gboolean ok = ms_sync_box (&ctx, box, &counts, error);
  g_mutex_lock (&pool->lock);
  set_affinity (pool, c, box);
  if (!ok) {
    g_hash_table_remove (pool->fingerprints, box);
  } else if (counts.have_fingerprint) {
    g_hash_table_remove (pool->verify, box);
    g_hash_table_insert (pool->fingerprints, g_strdup (box),
                         g_memdup2 (&counts.fingerprint, sizeof counts.fingerprint));
  } else {
    g_hash_table_remove (pool->fingerprints, box);
    schedule_verify (pool, c, box, &counts);
  }
  g_mutex_unlock (&pool->lock);
  c->served = TRUE;
  if (!ok)
    return FALSE;
  c->selected = g_strdup (box);
  result->near_changes = counts.pulled + counts.flags_near + counts.removed_near;
  result->far_changes = counts.pushed + counts.flags_far + counts.expunged_far;
  g_debug ("%s: %u pulled, %u pushed, %u/%u flags, %u removed, %u expunged%s%s", box, counts.pulled,
           counts.pushed, counts.flags_near, counts.flags_far, counts.removed_near, counts.expunged_far,
           counts.far_unchanged ? " (server unchanged)" : "", counts.have_fingerprint ? " [fingerprint]" : "");
  return TRUE;
}

/* Syncs one mailbox on `c`, once more on a fresh connection when one that
 * had served before turns out to be dead (an idle night must not cost a
 * failed sync in the morning).  If that reconnect fails too, what broke the
 * first attempt is the error to report. */
static void
run_box (MsSyncPool *pool, Conn *c, const char *box, Place *place, MsSyncResult *result)
{
  gboolean reused = c->imap != NULL && c->served;
  if (!conn_connect (pool, c, NULL, &result->error))
    return;
  if (sync_one (pool, c, box, place, result, &result->error)) {
    result->ok = TRUE;
    return;
  }
  result->permanent = error_is_permanent (result->error);
  /* A NO or BAD from a server that is still talking is the mailbox's
   * trouble: another connection would hear the same. */
  if (result->permanent || error_is_busy (result->error) || !ms_imap_client_is_broken (c->imap))
    return;
  /* Not the mailbox's fault: the connection is suspect. */
  conn_drop (c);
  if (!reused || !conn_connect (pool, c, NULL, NULL))
    return;
  g_clear_error (&result->error);
  if (sync_one (pool, c, box, place, result, &result->error)) {
    result->ok = TRUE;
    return;
  }
  result->permanent = error_is_permanent (result->error);
  if (!result->permanent && !error_is_busy (result->error) && ms_imap_client_is_broken (c->imap))
    conn_drop (c);
}

/* --- runs ------------------------------------------------------------------------------ */

/* Runs fn on n items (item k at base + k * size), the first on this thread
 * and each other on a thread of its own, and returns when all are done. */
static void
side_by_side (GThreadFunc fn, gpointer base, gsize size, guint n, const char *name)
{
  GThread *threads[MS_SYNC_POOL_CONNECTIONS_MAX];
  g_assert (n <= MS_SYNC_POOL_CONNECTIONS_MAX);
  for (guint k = 1; k < n; k++)
    threads[k] = g_thread_new (name, fn, (char *) base + k * size);
  if (n > 0)
    fn (base);
  for (guint k = 1; k < n; k++)
    g_thread_join (threads[k]);
}

struct Run {
  MsSyncPool *pool;
  GPtrArray *boxes;
  GAsyncQueue *todo; /* indices + 1 into boxes, for any connection */
  GAsyncQueue *near[MS_SYNC_POOL_CONNECTIONS_MAX]; /* the same, best synced on connection i */
  MsSyncDoneFn done;
  MsSyncProgressFn progress;
  gpointer data;
  GMutex done_lock;  /* one callback at a time */
  gboolean parallel; /* more than one worker */
};

typedef struct {
  Run *run;
  Conn *conn;
} Worker;

static void
on_progress (gpointer data, const MsSyncProgress *progress)
{
  Place *place = data;
  Run *run = place->run;
  if (run->progress == NULL)
    return;
  g_mutex_lock (&run->done_lock);
  run->progress (run->data, place->index, progress);
  g_mutex_unlock (&run->done_lock);
}

static void
report (Run *run, guint index, MsSyncResult *result)
{
  g_mutex_lock (&run->done_lock);
  run->done (run->data, index, result);
  g_mutex_unlock (&run->done_lock);
  g_clear_error (&result->error);
}

/* The next mailbox for the worker on `c`: its own first, then any, then
 * another connection's. */
static gpointer
next_item (Run *run, Conn *c)
{
  guint mine = (guint) (c - run->pool->conns);
  gpointer item = g_async_queue_try_pop (run->near[mine]);
  if (item == NULL)
    item = g_async_queue_try_pop (run->todo);
  for (guint i = 0; item == NULL && i < MS_SYNC_POOL_CONNECTIONS_MAX; i++)
    item = g_async_queue_try_pop (run->near[i]);
  return item;
}

static gpointer
worker_main (gpointer data)
{
  Worker *w = data;
  Run *run = w->run;
  MsSyncPool *pool = run->pool;
  for (gpointer item; (item = next_item (run, w->conn)) != NULL;) {
    guint index = GPOINTER_TO_UINT (item) - 1;
    if (w->conn->imap == NULL && run->parallel) {
      /* When the server refuses one connection more, the work goes back to
       * the others (or to the end of the run), and while another one is
       * open no later run asks for more. */
      g_autoptr (GError) error = NULL;
      gboolean waiting;
      if (!conn_connect (pool, w->conn, &waiting, &error)) {
        g_async_queue_push (run->todo, item);
        if (waiting)
          return NULL; /* another worker's attempt failed; this one made none */
        g_mutex_lock (&pool->lock);
        guint open = open_conns (pool);
        if (open > 0 && open < pool->n_conns) {
          g_message ("%s; syncing on %u connection%s", error->message, open, open == 1 ? "" : "s");
          pool->n_conns = open;
          pool->lowered_us = g_get_monotonic_time ();
          pool->connect_failures = 0;
          pool->next_connect_us = 0;
          g_clear_error (&pool->connect_error);
        }
        g_mutex_unlock (&pool->lock);
        return NULL;
      }
    }
    MsSyncResult result = { 0 };
    Place place = { run, index };
    run_box (pool, w->conn, g_ptr_array_index (run->boxes, index), &place, &result);
    report (run, index, &result);
  }
  return NULL;
}

/* The first open connection, else the first one. */
static Conn *
main_conn (MsSyncPool *pool)
{
  for (guint i = 0; i < MS_SYNC_POOL_CONNECTIONS_MAX; i++)
    if (pool->conns[i].imap != NULL)
      return &pool->conns[i];
  return &pool->conns[0];
}

void
ms_sync_pool_run (MsSyncPool *pool, GPtrArray *boxes, MsSyncDoneFn done, MsSyncProgressFn progress,
                  gpointer data)
{
  if (boxes->len == 0)
    return;
  Run run = { pool, boxes, g_async_queue_new (), { NULL }, done, progress, data, { 0 }, FALSE };
  g_mutex_init (&run.done_lock);
  for (guint i = 0; i < MS_SYNC_POOL_CONNECTIONS_MAX; i++)
    run.near[i] = g_async_queue_new ();
  /* Open connections first: they cost nothing to use. */
  Worker workers[MS_SYNC_POOL_CONNECTIONS_MAX];
  guint n = 0;
  g_mutex_lock (&pool->lock);
  if (pool->n_conns < pool->n_conns_max
      && g_get_monotonic_time () - pool->lowered_us >= (gint64) regrow_s * G_USEC_PER_SEC)
    pool->n_conns = pool->n_conns_max;
  guint want = MIN (pool->n_conns, boxes->len);
  g_mutex_unlock (&pool->lock);
  for (guint pass = 0; pass < 2 && n < want; pass++)
    for (guint i = 0; i < MS_SYNC_POOL_CONNECTIONS_MAX && n < want; i++)
      if ((pool->conns[i].imap != NULL) == (pass == 0))
        workers[n++] = (Worker) { &run, &pool->conns[i] };
  run.parallel = n > 1;
  /* A mailbox goes to the connection that opened it last, if that one
   * works in this run. */
  gboolean working[MS_SYNC_POOL_CONNECTIONS_MAX] = { FALSE };
  for (guint k = 0; k < n; k++)
    working[workers[k].conn - pool->conns] = TRUE;
  g_mutex_lock (&pool->lock);
  for (guint i = 0; i < boxes->len; i++) {
    guint at = GPOINTER_TO_UINT (g_hash_table_lookup (pool->affinity, g_ptr_array_index (boxes, i)));
    gboolean near = at != 0 && working[at - 1];
    g_async_queue_push (near ? run.near[at - 1] : run.todo, GUINT_TO_POINTER (i + 1));
  }
  g_mutex_unlock (&pool->lock);
  side_by_side (worker_main, workers, sizeof workers[0], n, "sync");
  /* What refused connections gave back and nobody took: one at a time on
   * the connection that works, if any. */
  Worker last = { &run, main_conn (pool) };
  run.parallel = FALSE;
  worker_main (&last);
  g_async_queue_unref (run.todo);
  for (guint i = 0; i < MS_SYNC_POOL_CONNECTIONS_MAX; i++)
    g_async_queue_unref (run.near[i]);
  g_mutex_clear (&run.done_lock);
}

/* --- the channel's mailboxes ------------------------------------------------------------- */

GPtrArray *
ms_sync_pool_channel_boxes (MsSyncPool *pool, GError **error)
{
  MsChannelSetup *setup = pool->setup;
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  if (setup->single_box != NULL) {
    g_ptr_array_add (out, g_strdup (setup->single_box));
    return out;
  }
  g_autoptr (GPtrArray) all = NULL;
  g_autoptr (GError) local = NULL;
  for (int attempt = 0; attempt < 2 && all == NULL; attempt++) {
    Conn *c = main_conn (pool);
    gboolean reused = c->imap != NULL;
    g_clear_error (&local);
    if (!conn_connect (pool, c, NULL, &local)) {
      g_ptr_array_unref (out);
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
    MsSyncContext ctx;
    ms_channel_setup_context (setup, c->imap, &ctx);
    all = ms_sync_list_boxes (&ctx, &local);
    if (all == NULL) {
      conn_drop (c);
      if (!reused)
        break;
    }
  }
  if (all == NULL) {
    g_ptr_array_unref (out);
    g_propagate_prefixed_error (error, g_steal_pointer (&local), "%s: listing mailboxes: ", setup->channel->name);
    return NULL;
  }
  for (guint i = 0; i < all->len; i++)
    if (ms_channel_setup_selects (setup, g_ptr_array_index (all, i)))
      g_ptr_array_add (out, g_strdup (g_ptr_array_index (all, i)));
  return out;
}

/* --- the resident's memory ---------------------------------------------------------------- */

/* One connection's share of a STATUS check. */
typedef struct {
  MsSyncPool *pool;
  Conn *conn;
  gboolean server_only;
  GPtrArray *boxes; /* borrowed names */
  GPtrArray *known; /* their fingerprints, owned (NULL: left out) */
  GArray *at;       /* guint: where each is in the caller's list */
  GArray *same;     /* the answer; NULL: this share could not be checked */
} CheckShare;

static gpointer
check_share (gpointer data)
{
  CheckShare *share = data;
  Conn *c = share->conn;
  if (!conn_connect (share->pool, c, NULL, NULL))
    return NULL;
  /* STATUS of the mailbox selected on this connection is not reliable:
   * it is closed first where the server can, else left out. */
  gboolean can_unselect = ms_imap_client_has_cap (c->imap, "UNSELECT"), unselect = FALSE;
  for (guint i = 0; c->selected != NULL && i < share->boxes->len; i++) {
    if (g_ptr_array_index (share->known, i) != NULL && g_str_equal (g_ptr_array_index (share->boxes, i), c->selected)) {
      unselect = can_unselect;
      if (!can_unselect)
        g_clear_pointer (&g_ptr_array_index (share->known, i), g_free);
    }
  }
  MsSyncContext ctx;
  ms_channel_setup_context (share->pool->setup, c->imap, &ctx);
  g_autoptr (GError) error = NULL;
  share->same = ms_sync_fingerprint_check (&ctx, share->boxes, share->known, unselect, share->server_only, &error);
  g_mutex_lock (&share->pool->lock);
  for (guint i = 0; share->same != NULL && i < share->boxes->len; i++)
    if (g_ptr_array_index (share->known, i) != NULL)
      set_affinity (share->pool, c, g_ptr_array_index (share->boxes, i));
  g_mutex_unlock (&share->pool->lock);
  if (share->same == NULL) {
    g_debug ("fingerprint check: %s", error->message);
    conn_drop (c);
  } else if (unselect) {
    g_clear_pointer (&c->selected, g_free);
  }
  return NULL;
}

/* The boxes with a fingerprint are shared out among the open connections
 * (or the first, opened for it), each share checked by one pipelined
 * STATUS round trip on its own connection, the shares at the same time:
 * the server opens each mailbox, and one connection would leave it
 * working on one core. */
GArray *
ms_sync_pool_unchanged (MsSyncPool *pool, GPtrArray *boxes, gboolean server_only)
{
  Conn *open[MS_SYNC_POOL_CONNECTIONS_MAX];
  guint n_open = 0;
  for (guint i = 0; i < MS_SYNC_POOL_CONNECTIONS_MAX; i++)
    if (pool->conns[i].imap != NULL)
      open[n_open++] = &pool->conns[i];
  if (n_open == 0)
    open[n_open++] = main_conn (pool);

  /* The i-th box with a fingerprint goes to share i mod n, so every share
   * gets as many. */
  CheckShare shares[MS_SYNC_POOL_CONNECTIONS_MAX];
  for (guint k = 0; k < n_open; k++)
    shares[k] = (CheckShare) { pool, open[k], server_only, g_ptr_array_new (),
                               g_ptr_array_new_with_free_func (g_free), g_array_new (FALSE, FALSE, sizeof (guint)),
                               NULL };
  guint n_known = 0;
  g_mutex_lock (&pool->lock);
  for (guint i = 0; i < boxes->len; i++) {
    MsSyncFingerprint *f = g_hash_table_lookup (pool->fingerprints, g_ptr_array_index (boxes, i));
    if (f == NULL)
      continue;
    CheckShare *sh = &shares[n_known++ % n_open];
    g_ptr_array_add (sh->boxes, g_ptr_array_index (boxes, i));
    g_ptr_array_add (sh->known, g_memdup2 (f, sizeof *f));
    g_array_append_val (sh->at, i);
  }
  g_mutex_unlock (&pool->lock);

  side_by_side (check_share, shares, sizeof shares[0], MIN (n_open, n_known), "check");
  /* A share that could not be checked leaves its boxes to a sync. */
  GArray *same = NULL;
  for (guint k = 0; k < n_open; k++) {
    CheckShare *sh = &shares[k];
    if (sh->same != NULL && same == NULL) {
      same = g_array_sized_new (FALSE, TRUE, sizeof (gboolean), boxes->len);
      g_array_set_size (same, boxes->len);
    }
    for (guint j = 0; sh->same != NULL && j < sh->at->len; j++)
      g_array_index (same, gboolean, g_array_index (sh->at, guint, j)) = g_array_index (sh->same, gboolean, j);
    g_ptr_array_unref (sh->boxes);
    g_ptr_array_unref (sh->known);
    g_array_unref (sh->at);
    if (sh->same != NULL)
      g_array_unref (sh->same);
  }
  return same;
}

char *
ms_sync_pool_take_verify (MsSyncPool *pool, gboolean *status_first, gint64 *next_due_us)
{
  gint64 now = g_get_monotonic_time ();
  char *due = NULL;
  *next_due_us = G_MAXINT64;
  g_mutex_lock (&pool->lock);
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init (&it, pool->verify);
  while (due == NULL && g_hash_table_iter_next (&it, &key, &value)) {
    Verify *v = value;
    if (v->due_us > now) {
      *next_due_us = MIN (*next_due_us, v->due_us);
    } else if (v->status_first) {
      *status_first = TRUE;
      due = g_strdup (key);
      g_hash_table_iter_remove (&it); /* once */
    } else if (v->tries >= MS_SYNC_POOL_VERIFY_TRIES) {
      g_hash_table_iter_remove (&it);
    } else {
      /* Left in the set: the sync's outcome reschedules or removes it;
       * if it never gets that far, this is the retry. */
      v->tries++;
      v->due_us = now + G_USEC_PER_SEC;
      *status_first = FALSE;
      due = g_strdup (key);
    }
  }
  g_mutex_unlock (&pool->lock);
  return due;
}
