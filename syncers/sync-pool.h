/* sync-pool.h — a channel's IMAP connections, and the syncs of a list of
 * mailboxes run on several of them at once.
 *
 * Mailboxes are independent (each has its own folder, state file, journal
 * and lock), so a list of them is shared out among up to `connections`
 * threads, each on its own IMAP connection.  What that buys is mostly the
 * waiting: a sync is a chain of round trips and fsyncs, and while one
 * mailbox waits for the server or the disk another one's work goes on (the
 * file system commits their fsyncs together).
 *
 * The pool keeps its connections open between runs, retries a mailbox once
 * on a fresh connection when its reused one turns out to be dead, and after
 * a failed connect waits before the next attempt (backoff) so that a server
 * that is down is not hammered by every request.  It also keeps the
 * resident's memory of each mailbox: the fingerprint a sync that changed
 * nothing left behind, and which mailboxes to sync once more when idle.
 */
#pragma once

#include <glib.h>

#include "channel.h"
#include "sync-job.h"

/* More connections than this buy nothing (the disk and the server are the
 * limits) and servers cap connections per user (Dovecot: 10 per address). */
#define MS_SYNC_POOL_CONNECTIONS_MAX 8
/* The default: leaves room under such caps for watch_imap's connections
 * (3 IDLE at most by default), and on two cores four keep both the server
 * and the disk busy where three left them waiting on each other. */
#define MS_SYNC_POOL_CONNECTIONS_DEFAULT 4

/* After a failed connect, the next attempt waits 1 s, doubling up to this
 * (a returning network is noticed by the coordinator, which asks again). */
#define MS_SYNC_POOL_BACKOFF_MAX_S 30

typedef struct MsSyncPool MsSyncPool;

typedef struct {
  gboolean ok;
  gboolean permanent;   /* failed, and another attempt cannot fix it */
  GError *error;        /* when !ok */
  guint near_changes;   /* changes applied to the Maildir */
  guint far_changes;    /* changes applied to the server */
} MsSyncResult;

/* Called once per mailbox as it finishes, from one of the pool's threads,
 * never two at a time; `index` is the mailbox's place in the list. */
typedef void (*MsSyncDoneFn) (gpointer data, guint index, const MsSyncResult *result);

/* Called from the syncing thread while mailbox `index` downloads (see
 * MS_SYNC_PROGRESS_INTERVAL_MS), never two at a time. */
typedef void (*MsSyncProgressFn) (gpointer data, guint index, const MsSyncProgress *progress);

/* Takes the setup. */
MsSyncPool *ms_sync_pool_new (MsChannelSetup *setup, guint connections, gboolean force);
/* From now on, a sync leaves its state on a shelf (sync-shelf.h) instead
 * of committing it: for a resident syncer, which commits them when idle
 * (ms_sync_pool_commit_shelved) and when the pool is freed. */
void ms_sync_pool_shelve (MsSyncPool *pool);
/* Commits shelved states until none is left or `stop` (may be NULL) says
 * so; returns how many it took. */
guint ms_sync_pool_commit_shelved (MsSyncPool *pool, gboolean (*stop) (gpointer data), gpointer data);
/* The connections in a line for people: how many are open, or why none
 * can be ("down: ..."). */
char *ms_sync_pool_describe (MsSyncPool *pool);
/* Since when (monotonic) the oldest shelved state waits for its commit;
 * G_MAXINT64 if none does. */
gint64 ms_sync_pool_shelved_since (MsSyncPool *pool);
void ms_sync_pool_free (MsSyncPool *pool);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsSyncPool, ms_sync_pool_free)

MsChannelSetup *ms_sync_pool_setup (MsSyncPool *pool);

/* The channel's mailboxes: its one box, or what its Patterns select among
 * the server's and the Maildir's folders (canonical names). */
GPtrArray *ms_sync_pool_channel_boxes (MsSyncPool *pool, GError **error);

/* Syncs `boxes` (canonical names, distinct) and returns when all are done;
 * one that fails does not hold up the rest.  `progress` may be NULL. */
void ms_sync_pool_run (MsSyncPool *pool, GPtrArray *boxes, MsSyncDoneFn done, MsSyncProgressFn progress,
                       gpointer data);

/* The resident's fast path: for each of `boxes` (canonical names; "" for
 * none), TRUE when its fingerprint is known and both sides still match it
 * (with `server_only`: the server's side), found with one pipelined STATUS
 * round trip, the boxes shared out among the open connections.  FALSE for
 * a box whose share could not be checked; NULL when nothing could be (then
 * every box needs a sync). */
GArray *ms_sync_pool_unchanged (MsSyncPool *pool, GPtrArray *boxes, gboolean server_only);

/* A mailbox to look at once more when nothing else is waiting, due now:
 * one whose last sync left no fingerprint (it changed something, or found
 * the Maildir too freshly modified), to be synced; or one asked for by
 * ms_sync_pool_recheck, then `*status_first` is set: to be synced only if
 * ms_sync_pool_unchanged says it changed.  NULL when none is due yet, and
 * then `next_due_us` is when the next one will be (monotonic; G_MAXINT64
 * for none). (transfer full) */
char *ms_sync_pool_take_verify (MsSyncPool *pool, gboolean *status_first, gint64 *next_due_us);

/* When the Maildir folders of `boxes` that a sync changed a moment ago
 * will have settled (the latest due time of their first idle-time sync;
 * monotonic), or 0.  A request for one of them waits until then, so that
 * its sync leaves the fingerprint and the idle-time sync is not needed:
 * the watchers' echo of a sync usually arrives within that moment. */
gint64 ms_sync_pool_settled_at (MsSyncPool *pool, GPtrArray *boxes);

/* How long after a request found `box` unchanged by STATUS to look once
 * more (ms_sync_pool_recheck): a server can answer STATUS from an index
 * that lags a few milliseconds behind a change another session is
 * committing (Dovecot's mailbox list index), while a watcher of the
 * server's Maildir already reported the new file.  Well above that lag,
 * well below what a user would notice as a delay. */
#define MS_SYNC_POOL_RECHECK_MS 200

/* Looks at `box` once more MS_SYNC_POOL_RECHECK_MS from now, when idle,
 * unless something is already due for it. */
void ms_sync_pool_recheck (MsSyncPool *pool, const char *box);

/* Closes the connections whose server has hung up (a restart, an idle
 * timeout), seen without reading, so that what ms_sync_pool_describe says
 * is true while no sync runs.  Only between runs.  Returns how many are
 * still open. */
guint ms_sync_pool_drop_gone (MsSyncPool *pool);

/* Test knob: the delay of ms_sync_pool_recheck, for every pool. */
void ms_sync_pool_set_recheck_ms (guint ms);
/* Test knob: how long a pool whose server refused one connection more
 * keeps to fewer (normally ten minutes), for every pool. */
void ms_sync_pool_set_regrow_s (guint seconds);
