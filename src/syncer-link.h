/* syncer-link.h — the coordinator's side of the resident syncer protocol
 * (docs/protocol.md): one long-running syncer child, its greeting, tagged
 * requests and their answers.
 *
 * The syncer is started once (the `syncer` argv, no shell) with its stdin
 * and stdout piped to us and its stderr inherited, so its log lines appear
 * in mswatch's stderr.  States:
 *
 *   STOPPED ─start()─► GREETING ─"* MSWATCH-SYNCER 1"─► RUNNING
 *      ▲                   │ (any failure)                 │ (any failure)
 *      └── free()     RESTARTING ◄─────────────────────────┘
 *                          │ old child reaped, backoff delay passed
 *                          └──────────────► GREETING
 *
 * A failure is: no greeting within MS_SYNCER_GREETING_TIMEOUT_MS, a first
 * line that is not a version-1 greeting, EOF on its stdout, its exit, an
 * error writing its stdin, or a request left unanswered for `sync_timeout`.
 * Every outstanding request then fails with RETRY, the child is stopped
 * (stdin closed, SIGTERM, SIGKILL after MS_CHILD_STOP_GRACE_MS), and a new
 * one is started once the old one is reaped and the next delay of the
 * backoff series (inter_delay, 2×, 2×, 4× … up to max_delay, the series of
 * watcher start failures, at least MS_DISPATCH_MIN_RETRY_MS) has passed.
 * The series starts again once a syncer has answered a request.  The owner
 * hears of every successful greeting through the `ready` callback, and
 * decides what a restart means (dispatch.c: a sync of all mailboxes).
 *
 * Requests are sent while RUNNING, at most MS_SYNCER_MAX_INFLIGHT at a time
 * (the rest wait in order); each gets exactly one answer callback: the
 * syncer's final line, or a RETRY made up here when the link fails.  Writes
 * go out from the main loop as the pipe takes them, so a syncer that reads
 * slowly never blocks us.  Lines the syncer sends that break the protocol
 * are reported once each on stderr and ignored; a line whose only fault is
 * its free text (not UTF-8, control characters) is reported too, and then
 * taken, with the text escaped.
 *
 * The pure part, ms_syncer_line_parse(), reads one line of syncer output
 * without I/O; it is unit-tested and fuzzed on its own.
 *
 * Ownership: the caller owns the link; callbacks get borrowed data, valid
 * during the call.  Callbacks must not free the link.
 */
#pragma once

#include <glib.h>

#include "config.h"
#include "syncer-progress.h"

/* The protocol version this coordinator speaks. */
#define MS_SYNCER_PROTOCOL_VERSION 1

/* The longest line either side may send, without its '\n'.  A request line
 * is at most a tag, " SYNC " and a mailbox name (MS_MAILBOX_NAME_MAX, 4095
 * bytes), so twice that leaves room for the syncer's free text; a longer
 * line is a protocol error for that line only. */
#define MS_SYNCER_LINE_MAX 8192

/* Tags are 1 to 16 letters and digits: enough for a counter, short enough
 * to keep lines readable. */
#define MS_SYNCER_TAG_MAX 16

/* A count in an OK line has at most 18 digits, so it fits a gint64 without
 * overflow checks; nobody moves 10^18 messages. */
#define MS_SYNCER_COUNT_DIGITS_MAX 18

/* The greeting's version has at most 9 digits (it fits a guint). */
#define MS_SYNCER_VERSION_DIGITS_MAX 9

/* Requests outstanding at once.  A batch is sent whole so that the syncer
 * can pipeline its IMAP work; the cap bounds our write buffer (at most this
 * many request lines) and the syncer's queue. */
#define MS_SYNCER_MAX_INFLIGHT 256

/* How long a started syncer has to greet: it may log in to its server
 * first, which over a slow link or with a PassCmd can take seconds. */
#define MS_SYNCER_GREETING_TIMEOUT_MS 30000

/* --- one line of syncer output (pure) -------------------------------------- */

typedef enum {
  MS_SYNCER_LINE_GREETING, /* "* MSWATCH-SYNCER VERSION[ text]" */
  MS_SYNCER_LINE_INFO,     /* "*[ text]" */
  MS_SYNCER_LINE_CONNECTION, /* "* CONNECTION[ text]": how its connections are */
  MS_SYNCER_LINE_PROGRESS, /* "TAG PROGRESS[ text]" */
  MS_SYNCER_LINE_OK,       /* "TAG OK IN OUT[ text]" */
  MS_SYNCER_LINE_RETRY,    /* "TAG RETRY[ reason]" */
  MS_SYNCER_LINE_FAIL,     /* "TAG FAIL[ reason]" */
} MsSyncerLineKind;

typedef struct {
  MsSyncerLineKind kind;
  char tag[MS_SYNCER_TAG_MAX + 1]; /* "" for GREETING and INFO */
  guint version;                   /* GREETING */
  gint64 in, out;                  /* OK: changes applied locally, on the server */
  const char *text;                /* into the parsed line, not NUL-terminated; may be empty */
  gsize text_len;
  const char *text_error;          /* why the text is unfit to print, or NULL (static) */
} MsSyncerLine;

/* Parses line[0..len), without its '\n'.  On success fills *out (whose
 * text points into `line`); on failure sets MS_ERROR_PROTOCOL with a reason
 * that does not repeat the line.  Free text must be UTF-8 without ASCII
 * control characters but tab; text that is not still parses (the line's
 * meaning is intact), with the reason in text_error. */
gboolean ms_syncer_line_parse (const char *line, gsize len, MsSyncerLine *out, GError **error);

/* --- the link ------------------------------------------------------------------ */

typedef enum {
  MS_SYNCER_STOPPED,
  MS_SYNCER_GREETING,   /* started, waiting for its greeting */
  MS_SYNCER_RUNNING,
  MS_SYNCER_RESTARTING, /* stopping the old child and/or waiting out the backoff */
} MsSyncerState;

typedef enum {
  MS_SYNCER_OK,
  MS_SYNCER_RETRY, /* temporary: try again later */
  MS_SYNCER_FAIL,  /* permanent: do not retry until the mailbox changes again */
} MsSyncerOutcome;

typedef struct {
  MsSyncerOutcome outcome;
  gint64 in, out;      /* OK only */
  const char *text;    /* the syncer's text or reason; "" if none */
  gboolean link_failed; /* no answer came: the link failed (and said so) */
} MsSyncerAnswer;

/* The answer to one request; name is as it was requested. */
typedef void (*MsSyncerAnswerFunc) (gpointer user_data, const char *name,
                                    const MsSyncerAnswer *answer);

/* A syncer greeted: the link is RUNNING. */
typedef void (*MsSyncerReadyFunc) (gpointer user_data);

typedef struct MsSyncerLink MsSyncerLink;

/* config (its syncer_argv, sync_timeout, inter_delay and max_delay) is
 * borrowed and must outlive the link.  Nothing starts before start(). */
MsSyncerLink *ms_syncer_link_new (const MsConfig *config, MsSyncerReadyFunc ready,
                                  gpointer user_data);

/* Stops the syncer (stdin closed, SIGTERM, SIGKILL after the grace period,
 * in the background: see ms_child_notify_all_stopped()).  No callback
 * follows, not even for outstanding requests. */
void ms_syncer_link_free (MsSyncerLink *link);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsSyncerLink, ms_syncer_link_free)

/* Prints "Starting syncer" and its argv, and spawns it (STOPPED only). */
void ms_syncer_link_start (MsSyncerLink *link);

MsSyncerState ms_syncer_link_state (const MsSyncerLink *link);
/* "stopped", "greeting", "running" or "restarting". */
const char *ms_syncer_state_name (MsSyncerState state);

/* Requests not answered yet, sent or waiting to be sent. */
guint ms_syncer_link_outstanding (const MsSyncerLink *link);

/* Asks for a sync of `name` (NULL or "": all mailboxes; the name is
 * copied).  Only while RUNNING: returns FALSE otherwise, and no callback
 * follows.  The answer never comes from within this call. */
gboolean ms_syncer_link_request (MsSyncerLink *link, const char *name, MsSyncerAnswerFunc answer,
                                 gpointer user_data);

/* Drops the callbacks of every outstanding request made with user_data; the
 * syncer's answers to them will be ignored. */
void ms_syncer_link_forget (MsSyncerLink *link, gpointer user_data);

/* --- for the status report ------------------------------------------------ */

/* One outstanding request.  tag is "" and sent -1 while it waits to be
 * sent; name is NULL for all mailboxes; progress is the text of its last
 * PROGRESS line, or NULL.  All borrowed, valid during the call. */
typedef void (*MsSyncerRequestFunc) (gpointer user_data, const char *tag, const char *name,
                                     gint64 sent, const MsSyncerProgress *progress);

/* Calls `func` for every outstanding request, in the order they were made.
 * `sent` is monotonic ms; `progress` stays valid until the link runs
 * again (the main loop, or another call on it). */
void ms_syncer_link_foreach_request (MsSyncerLink *link, MsSyncerRequestFunc func,
                                     gpointer user_data);

/* Monotonic ms since which the syncer has been RUNNING (it greeted); -1
 * when it is not running. */
gint64 ms_syncer_link_since (const MsSyncerLink *link);

/* Monotonic ms at which a RESTARTING link starts its next syncer (once the
 * old one is reaped); -1 in any other state. */
gint64 ms_syncer_link_restart_due (const MsSyncerLink *link);

/* Restarts (at backoff count) since the last answered request. */
guint ms_syncer_link_failures (const MsSyncerLink *link);
/* The running syncer's last "* CONNECTION" text and when (monotonic ms) it
 * came; NULL when it sent none. */
const char *ms_syncer_link_connection (const MsSyncerLink *link, gint64 *since);

/* A wake-up (wake.h): the syncer is restarted now (as soon as the old
 * child is gone), and the backoff series starts again.  A running syncer
 * is restarted too: its connections are as likely dead as the watchers',
 * and its outstanding requests are answered RETRY. */
void ms_syncer_link_wake (MsSyncerLink *link);
