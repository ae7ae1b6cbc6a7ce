/* watcher.h — the watcher protocol (spec §4) over one supervised child.
 *
 * States: STOPPED → start() → STARTING → first byte '\n' → RUNNING.  In
 * RUNNING every '\n'-terminated line is one mailbox name, taken verbatim
 * but checked against the mailbox-name rules (a remote watcher is untrusted
 * input); a line longer than MS_MAILBOX_NAME_MAX is reported as too long and
 * never leaks a tail as a name.  Any end — EOF, exit, a failed start — brings
 * it back to STOPPED after printing 1.2's message, and the owner decides
 * what to do next (dispatch.c restarts it).
 *
 * A first byte other than '\n' is fatal in 1.2 unless the watcher exits
 * within a second; we keep that, without blocking: a timer decides.
 *
 * Handlers may call ms_watcher_stop() or free the watcher, except from
 * `names` and `name_too_long`.
 */
#pragma once

#include <glib.h>

typedef enum {
  MS_WATCHER_STOPPED,
  MS_WATCHER_STARTING,
  MS_WATCHER_RUNNING,
} MsWatcherState;

/* How long a watcher that sent a wrong first byte has to exit before that
 * is fatal (1.2 slept 1 s and then looked). */
#define MS_WATCHER_BAD_START_GRACE_MS 1000

typedef struct {
  void (*started) (gpointer user_data);
  void (*start_failed) (gpointer user_data);
  void (*bad_start) (gpointer user_data); /* fatal: the message is printed */
  /* One read's worth of valid names (char*, in arrival order, may repeat). */
  void (*names) (gpointer user_data, GPtrArray *names);
  void (*name_too_long) (gpointer user_data);
  void (*died) (gpointer user_data); /* was RUNNING; now STOPPED */
} MsWatcherHandlers;

typedef struct MsWatcher MsWatcher;

/* store: the name used in messages; argv: the `watch` command.  Both are
 * borrowed and must outlive the watcher. */
MsWatcher *ms_watcher_new (const char *store, const char *const *argv,
                           const MsWatcherHandlers *handlers, gpointer user_data);
void ms_watcher_free (MsWatcher *watcher);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsWatcher, ms_watcher_free)

/* Prints "+ argv " and spawns the watcher; the result comes through
 * started / start_failed / bad_start. */
void ms_watcher_start (MsWatcher *watcher);
/* Stops the child (SIGTERM, then SIGKILL) in the background; no handler is
 * called for it. */
void ms_watcher_stop (MsWatcher *watcher);

MsWatcherState ms_watcher_state (const MsWatcher *watcher);
const char *ms_watcher_store (const MsWatcher *watcher);
/* Monotonic ms at which it last became RUNNING (valid while RUNNING). */
gint64 ms_watcher_since (const MsWatcher *watcher);
