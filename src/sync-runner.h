/* sync-runner.h — one sync batch, run by the classic `sync` program (spec
 * §6) or by the resident syncer (syncer-link.h).
 *
 * Either way it prints 1.2's "Sync started" and "Sync completed"/"Sync
 * errored" lines for the batch, never blocks, and hands the owner one
 * MsSyncResult: which names must be retried.  That result is the one seam
 * between dispatch.c and the two ways of syncing.
 *
 * The `sync` program: builds the argv (the `sync` words, then one argument
 * per mailbox, or the single "all mailboxes" argument), prints "+ argv",
 * runs it, and enforces `sync_timeout` (SIGTERM, then SIGKILL; a timeout is
 * a failure).  Exit status 0 means every name is done (synced), anything
 * else that every name is to be retried.
 *
 * The resident syncer: one request per name ("" and "all mailboxes" are a
 * request for all), all sent at once; the batch ends when each has its
 * answer.  OK names are done, RETRY names are to be retried, FAIL names are
 * reported ("Sync of NAME failed permanently") and dropped.  The batch is a
 * failure for the backoff only if something is to be retried.
 * `sync_timeout` is the link's business.
 *
 * With -d nothing is executed and every run succeeds.
 */
#pragma once

#include <glib.h>

#include "config.h"
#include "syncer-link.h"

/* The mailbox arguments for a sync: with `mailbox_prefix P S`, "P" + "S" +
 * name each, or "P" alone for all; without it, the names verbatim, or ""
 * alone for all (the intent 1.2 documented but crashed on).
 * names == NULL means all mailboxes. (transfer full) */
char **ms_sync_args (const MsConfig *config, GPtrArray *names);

/* What became of one name of a batch. */
typedef struct {
  MsSyncerOutcome outcome; /* OK, RETRY (to be retried) or FAIL (dropped) */
  char *reason;            /* why it failed; NULL for OK */
  gint64 when;             /* wall-clock seconds of the answer */
} MsNameOutcome;

/* What a finished batch asks of its owner. */
typedef struct {
  gboolean failed;   /* something is to be retried: a failure for the backoff */
  GHashTable *retry; /* the names to retry (char* set), or NULL: all of them if failed */
  /* Every name of the batch -> MsNameOutcome*; a batch of all mailboxes
   * has the one name "".  The OK names are the synced ones (the on_synced
   * hook's); the rest feed the status report.  Never NULL. */
  GHashTable *outcomes;
} MsSyncResult;

/* Whether `name`, one of the batch's names (or any name, for a batch of
 * all mailboxes), is to be retried. */
gboolean ms_sync_result_retries (const MsSyncResult *result, const char *name);

typedef struct MsSyncRun MsSyncRun;

/* Called once, from the main loop; may free the run.  result is borrowed. */
typedef void (*MsSyncDone) (gpointer user_data, const MsSyncResult *result);

/* Starts a batch; names (char*) is borrowed, NULL for all mailboxes.  With
 * a link (borrowed; must outlive the run) the resident syncer runs it, else
 * the `sync` program; with -d neither. */
MsSyncRun *ms_sync_run_start (const MsConfig *config, gboolean dry, MsSyncerLink *link,
                              GPtrArray *names, MsSyncDone done, gpointer user_data);

/* Stops a run that is still going (the `sync` program: SIGTERM, SIGKILL
 * after a grace period, in the background; the syncer: its answers are
 * ignored); no callback follows. */
void ms_sync_run_free (MsSyncRun *run);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsSyncRun, ms_sync_run_free)

/* Monotonic ms at which the run started. */
gint64 ms_sync_run_started (const MsSyncRun *run);

/* The names of the batch (char*, sorted), or NULL for all mailboxes.
 * (transfer none) */
GPtrArray *ms_sync_run_names (const MsSyncRun *run);

/* The outcomes known so far (see MsSyncResult): a resident syncer answers
 * name by name, before the batch ends. (transfer none) */
GHashTable *ms_sync_run_outcomes (const MsSyncRun *run);
