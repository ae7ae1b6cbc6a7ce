/* status.h — mswatch's reports, as text: the SIGUSR1 "Pending mailboxes"
 * report (spec §2.3), and the full status that `mswatch --status` prints,
 * as text or as JSON.
 *
 * Pure formatting: dispatch.c fills an MsStatus with what it knows, and
 * these functions turn it into text; no clock is read here (`now` is a
 * field).  Every time in an MsStatus is wall-clock seconds since the
 * epoch, 0 meaning "none".
 *
 * The full report is bounded: once it is MS_STATUS_MAX_BYTES long, the
 * remaining entries of each list are counted instead of shown (and the
 * JSON says "truncated": true), so that a huge pending set cannot make a
 * status client cost us unbounded memory.
 */
#pragma once

#include <glib.h>

#include "syncer-progress.h"

/* See above.  A few hundred mailboxes with reasons fit comfortably. */
#define MS_STATUS_MAX_BYTES (256 * 1024)

typedef struct {
  const char *store;
  GPtrArray *names; /* char*, sorted bytewise, no duplicates */
} MsStatusStore;

/* "Pending mailboxes at T:\n\tS1: a b\n\tS2:\n". (transfer full) */
char *ms_status_pending_report (gint64 now_wall, const MsStatusStore *stores, guint n_stores);

/* The line added after the report when a resident syncer is configured:
 * "Syncer state: running, 3 requests in flight\n" (sent or waiting to be).
 * It does not start with a tab, so scripts that read the store lines of
 * 1.2's report are not misled. (transfer full) */
char *ms_status_syncer_report (const char *state, guint in_flight);

/* --- the full status (mswatch --status) -------------------------------------- */

#define MS_STATUS_N_STORES 2

typedef struct {
  const char *store;
  const char *state;  /* "starting", "running", "restarting" or "stopped" */
  gint64 since;       /* running: when it started running */
  gint64 restart_at;  /* restarting: when it is started again */
} MsStatusWatcher;

typedef struct {
  const char *tag;      /* "" while waiting to be sent */
  const char *mailbox;  /* NULL: all mailboxes */
  gint64 sent;          /* 0 while waiting to be sent */
  const MsSyncerProgress *progress; /* what its PROGRESS lines said; NULL: nothing */
} MsStatusRequest;

typedef struct {
  const char *mailbox;  /* NULL for the all-mailboxes entry */
  gint64 when;
  const char *result;   /* "ok", "retry" or "failed" */
  const char *reason;   /* NULL when none */
} MsStatusMailbox;

typedef struct {
  gint64 now;
  gint64 started;       /* when mswatch started */
  gint64 pid;
  const char *config;   /* the configuration file */

  MsStatusWatcher watchers[MS_STATUS_N_STORES];
  guint watcher_failures;   /* failed watcher starts in the current series */

  gboolean has_syncer;
  const char *syncer_state; /* "greeting", "running", "restarting" or "stopped" */
  gint64 syncer_since;      /* running: when it greeted */
  gint64 syncer_restart_at; /* restarting: when the next one starts */
  guint syncer_failures;
  const char *syncer_connection;  /* its last "* CONNECTION" text, or NULL */
  gint64 syncer_connection_since;
  GArray *requests;         /* MsStatusRequest, in the order they were made */

  const char *sync_kind;    /* the running sync: "inbox", "all" or "changes"; NULL: none */
  gint64 sync_started;
  GPtrArray *sync_names;    /* char*; NULL with "all" */

  GPtrArray *pending[MS_STATUS_N_STORES]; /* char*: names waiting for a sync */
  const char *next_sync;    /* what syncs next: "inbox", "all" or "changes"; NULL: nothing */
  gint64 next_sync_at;      /* when; 0 when it waits for `waiting_for` */
  const char *waiting_for;  /* NULL, "sync" (the running one), "watchers" or "syncer" */
  gint64 next_poll_at;      /* 0: none scheduled */
  gboolean polling;         /* poll_period is not 0: with next_poll_at 0, the
                             * first poll is set by the next sync of all */

  guint change_failures;    /* failed change syncs in a row */
  gint64 change_delay;      /* the retry delay they have reached, seconds */
  guint full_failures;      /* failed all-mailboxes syncs in a row */
  gint64 full_retry_at;

  GArray *mailboxes;        /* MsStatusMailbox, sorted by mailbox */
  gboolean have_all;
  MsStatusMailbox all;      /* the last sync of all mailboxes */

  gboolean has_hook;
  gboolean hook_running;
  gint64 hook_since;
  gboolean hook_all;            /* the running hook is for all mailboxes */
  GPtrArray *hook_names;        /* char*, the running hook's */
  gboolean hook_queued;
  gboolean hook_queued_all;
  GPtrArray *hook_queued_names; /* char* */
  gint64 hook_last_ended;       /* 0: no run ended yet */
  const char *hook_last_failure; /* NULL: the last run succeeded */
  guint hook_running_long;      /* the running hook was reported as running
                                 * longer than this many seconds; 0: not */

  const char *wake_reason;  /* the last wake-up (wake.h), or NULL */
  gint64 wake_at;
  gint64 wake_slept;        /* seconds, for "resumed" */
} MsStatus;

/* The report of `mswatch --status`: one "Key: value" line per fact, as
 * documented in mswatch(1). (transfer full) */
char *ms_status_format_text (const MsStatus *status);

/* The same as one JSON object on one line, ending in a newline; its
 * members are documented in mswatch(1). (transfer full) */
char *ms_status_format_json (const MsStatus *status);

/* "5s", "1m05s", "2h03m04s", "3d02h03m04s"; negative counts as 0.
 * (transfer full) */
char *ms_status_duration (gint64 secs);
