/* dispatch.h — the coordinator's state machine: watchers in, syncs out.
 *
 * Owns the two watchers, the per-store pending sets, the sync timer
 * (queue.h), the poll deadline, the one running sync and, with `syncer`,
 * the link to the resident syncer (syncer-link.h).  Everything is
 * event-driven on the GLib main loop; nothing here blocks, so SIGUSR1 and
 * watcher output are handled while a sync runs or a retry waits.
 *
 * The observable behaviour is mswatch 1.2's (spec §5): the restart
 * procedure (start every stopped watcher in config order, print "Watching
 * mailstores", sync INBOX, then sync all mailboxes until that succeeds),
 * the sync timer, polling, and the backoff series.  Differences, each a fix:
 *
 *  - Names that arrive while a sync runs are kept for the next sync, even
 *    when the running sync succeeds (1.2 read them only afterwards, which
 *    comes to the same thing; we just don't block meanwhile).
 *  - A timer that fires with nothing pending does nothing (1.2 then synced
 *    all mailboxes, bug §10.1 9).
 *  - Retry delays are at least MS_DISPATCH_MIN_RETRY_MS, so a watcher that
 *    dies in a loop with inter_delay 0 cannot spin the CPU.
 *
 * With a resident syncer, syncs wait until it has greeted, names it answers
 * RETRY are kept and retried like a failed sync, names it answers FAIL are
 * dropped, and every restart of it is followed by a sync of all mailboxes.
 *
 * Extensions: the names each sync synced go to the on_synced hook
 * (hook.h); every result is kept for the status report; and a wake-up
 * (wake.h) restarts the watchers and cuts every backoff wait short.
 */
#pragma once

#include <glib.h>

#include "config.h"
#include "wake.h"

/* The floor under every retry delay; see above. */
#define MS_DISPATCH_MIN_RETRY_MS 1000

typedef struct MsDispatch MsDispatch;

/* Called when the coordinator must end: a watcher sent a wrong start byte
 * (exit status 1).  The dispatcher has stopped everything by then. */
typedef void (*MsDispatchFatal) (gpointer user_data, int exit_status);

/* config is borrowed and must outlive the dispatcher. */
MsDispatch *ms_dispatch_new (const MsConfig *config, gboolean dry, MsDispatchFatal fatal,
                             gpointer user_data);
/* Stops the watchers, any running sync and the syncer (in the background:
 * see ms_child_notify_all_stopped()). */
void ms_dispatch_free (MsDispatch *dispatch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsDispatch, ms_dispatch_free)

/* Starts the syncer, if any, and the watchers: the first restart procedure. */
void ms_dispatch_start (MsDispatch *dispatch);

/* The SIGUSR1 report. (transfer full) */
char *ms_dispatch_pending_report (MsDispatch *dispatch);

/* The `mswatch --status` report (status.h), as text or JSON.
 * (transfer full) */
char *ms_dispatch_status_report (MsDispatch *dispatch, gboolean json);

/* The machine woke up, the network came back, or SIGUSR2 asked (wake.h):
 * restart every watcher now and cut short every backoff wait.  slept_ms:
 * for MS_WAKE_RESUMED, how long the machine was suspended. */
void ms_dispatch_wake (MsDispatch *dispatch, MsWakeReason reason, gint64 slept_ms);
