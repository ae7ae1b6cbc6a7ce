/* sync-runner.h — one run of the classic `sync` program (spec §6).
 *
 * Builds the argv (the `sync` words, then one argument per mailbox, or the
 * single "all mailboxes" argument), prints 1.2's "Sync started", "+ argv"
 * and "Sync completed"/"Sync errored" lines, runs the program without
 * blocking, and enforces `sync_timeout` (SIGTERM, then SIGKILL; a timeout is
 * a failure).  With -d nothing is executed and every run succeeds.
 */
#pragma once

#include <glib.h>

#include "config.h"

/* The mailbox arguments for a sync: with `mailbox_prefix P S`, "P" + "S" +
 * name each, or "P" alone for all; without it, the names verbatim, or ""
 * alone for all (the intent 1.2 documented but crashed on).
 * names == NULL means all mailboxes. (transfer full) */
char **ms_sync_args (const MsConfig *config, GPtrArray *names);

typedef struct MsSyncRun MsSyncRun;

/* ok: the program exited 0.  Called once, from the main loop; may free the run. */
typedef void (*MsSyncDone) (gpointer user_data, gboolean ok);

/* Starts a run; names (char*) is borrowed, NULL for all mailboxes. */
MsSyncRun *ms_sync_run_start (const MsConfig *config, gboolean dry, GPtrArray *names,
                              MsSyncDone done, gpointer user_data);

/* Stops a run that is still going (SIGTERM, SIGKILL after a grace period,
 * in the background); no callback follows. */
void ms_sync_run_free (MsSyncRun *run);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsSyncRun, ms_sync_run_free)

/* Monotonic ms at which the run started. */
gint64 ms_sync_run_started (const MsSyncRun *run);
