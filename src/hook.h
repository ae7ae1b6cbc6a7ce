/* hook.h — the `on_synced` hook: after each successful sync, run the
 * configured command with the synced mailboxes appended.
 *
 * Asynchronous and never concurrent: the hook runs in the background, so a
 * slow one never delays a sync.  Mailboxes synced while it runs are merged
 * into one queued run that starts when it ends: never two runs at once,
 * never a lost name.  "All mailboxes" (a sync of everything) is a run with
 * no names appended, and absorbs any names queued with it.  A queue whose
 * names would make an argv larger than MS_HOOK_MAX_ARG_BYTES also becomes
 * "all mailboxes".
 *
 * The command runs with the words of `on_synced` as its argv (no shell),
 * stdin /dev/null, and its stdout and stderr captured: each line is relayed
 * to mswatch's stdout (unless -q) or stderr as "on_synced: LINE", escaped
 * like any text from a child and cut at MS_HOOK_LINE_MAX bytes.  With
 * `sync_timeout` a hook that runs longer is stopped (SIGTERM, then
 * SIGKILL).  A failure is reported on stderr and changes nothing else: the
 * names of that run are not retried.
 *
 * A run that hangs holds every later run back (they queue and merge behind
 * it) while syncs go on; with no sync_timeout, for ever.  So that this is
 * not silent, a run still going after ms_hook_warn_after() seconds is
 * reported once on stderr, unless sync_timeout stops it first; the status
 * report shows the same.
 *
 * Ownership: the caller owns the hook and the config, which must outlive it.
 */
#pragma once

#include <glib.h>

#include "config.h"

/* Lines of hook output longer than this are not relayed (a notice says so):
 * a hook's output is for a human reading a log. */
#define MS_HOOK_LINE_MAX 4096

/* The mailbox names of one run add up to at most this many bytes; more
 * becomes a run for all mailboxes.  Linux allows 2 MiB of argv and
 * environment; this leaves most of it to the environment. */
#define MS_HOOK_MAX_ARG_BYTES (128 * 1024)

/* After this many seconds a running hook is reported as holding later runs
 * back.  A hook indexes or pokes a mail reader and ends within seconds; a
 * `notmuch new` over a large first download can take minutes.  Five
 * minutes lets such a run end unreported, and still tells a user whose
 * index stopped updating why, long before anyone would guess. */
#define MS_HOOK_WARN_AFTER_S 300

/* Test knob (mswatch's hidden --hook-warn-after=S): the delay of that
 * report, in seconds (> 0), for every hook made afterwards. */
void ms_hook_set_warn_after (guint seconds);
/* The delay in use: MS_HOOK_WARN_AFTER_S unless the knob changed it. */
guint ms_hook_warn_after (void);

typedef struct MsHook MsHook;

/* config->on_synced_argv must be set. */
MsHook *ms_hook_new (const MsConfig *config);
/* Stops a running hook (SIGTERM, SIGKILL after the grace period, in the
 * background); a queued run is dropped. */
void ms_hook_free (MsHook *hook);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsHook, ms_hook_free)

/* `names` (char*, borrowed) were synced; NULL means all mailboxes.  Starts
 * a run now, or merges them into the queued run. */
void ms_hook_synced (MsHook *hook, GPtrArray *names);

/* What it is doing, for the status report.  Pointers are borrowed and valid
 * until the next call on the hook. */
typedef struct {
  gboolean running;
  gint64 started;           /* monotonic ms, while running */
  gboolean running_all;     /* the run is for all mailboxes */
  GPtrArray *running_names; /* char*, sorted; NULL when not running or all */
  gboolean queued;
  gboolean queued_all;
  GPtrArray *queued_names;  /* char*, sorted, or NULL (transfer full) */
  gint64 last_ended;        /* wall-clock seconds; 0: no run has ended yet */
  const char *last_failure; /* why the last run failed; NULL if it succeeded */
  guint running_long;       /* the run was reported as running longer than
                             * this many seconds (ms_hook_warn_after()); 0: not */
} MsHookState;

/* Fills *state; free state->queued_names with g_ptr_array_unref when set. */
void ms_hook_get_state (MsHook *hook, MsHookState *state);
