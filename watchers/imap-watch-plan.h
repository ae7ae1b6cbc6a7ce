/* imap-watch-plan.h — the decisions of watch_imap, without I/O or clock:
 * which detection method a server allows, which mailboxes get an IDLE
 * connection, what a server response says changed, how a server's mailbox
 * name is printed, and when the next poll or keepalive is due.
 *
 * watch_imap.c owns the connections, threads and stdout; everything it has
 * to decide about what it reads lives here, so that it can be unit-tested
 * with hand-made responses and a fake clock (tests/test-imap-watch.c).
 *
 * The method ladder:
 *   NOTIFY (RFC 5465)  one connection; the server pushes an untagged STATUS
 *                      for every change in a mailbox that is not selected,
 *                      so nothing is selected at all;
 *   IDLE (RFC 2177)    one connection per "hot" mailbox, each with the
 *                      mailbox EXAMINEd and idling (EXISTS, EXPUNGE, FETCH,
 *                      VANISHED arrive as they happen), plus STATUS polling
 *                      of the others on one more connection;
 *   POLL               STATUS polling only.
 *
 * Change detection by STATUS compares the items a server gave with the ones
 * it gave last time (MsImapWatchTable).  UIDNEXT and MESSAGES change with
 * every arrival and expunge, UIDVALIDITY with a rebuilt mailbox, and
 * HIGHESTMODSEQ (CONDSTORE) with every flag change; without CONDSTORE only
 * \Seen changes show, through UNSEEN.
 *
 * Ownership (the default for this file): results marked (transfer full)
 * belong to the caller; strings passed in are borrowed and copied when kept.
 */
#pragma once

#include <glib.h>

#include "channel.h"
#include "imap-parser.h"
#include "maildir.h"

/* ---- Limits and defaults ----------------------------------------------- */

/* IDLE connections at most.  Dovecot allows 10 connections per user and
 * address by default (mail_max_userip_connections), other servers fewer;
 * the polling connection and a resident syncer need one each, and a MUA
 * may want a few more. */
#define MS_IMAP_WATCH_MAX_IDLE_LIMIT 8
#define MS_IMAP_WATCH_DEFAULT_MAX_IDLE 3

/* RFC 2177: servers may log out a client idle for 30 minutes, so IDLE is
 * re-issued at least this often. */
#define MS_IMAP_WATCH_IDLE_RENEW_MAX_S (29 * 60)

#define MS_IMAP_WATCH_DEFAULT_POLL_S 60
#define MS_IMAP_WATCH_DEFAULT_KEEPALIVE_S 60

/* The longest period any option takes: a day.  Longer ones only hide
 * dead connections and missed mail. */
#define MS_IMAP_WATCH_PERIOD_MAX_S (24 * 3600)

/* Mailboxes whose STATUS is remembered.  Accounts have tens or hundreds;
 * a server listing more than this is not a mail account we can watch
 * sensibly, and the table must not grow without bound.  Beyond the cap a
 * mailbox is not remembered, and each STATUS of it counts as a change. */
#define MS_IMAP_WATCH_MAILBOXES_MAX 100000

/* ---- Options -------------------------------------------------------------- */

typedef struct {
  guint max_idle;     /* IDLE connections (0 .. MS_IMAP_WATCH_MAX_IDLE_LIMIT) */
  guint poll_s;       /* seconds between STATUS rounds */
  guint keepalive_s;  /* seconds between NOOPs (or IDLE re-issues) */
  guint idle_renew_s; /* seconds an IDLE may run at most */
} MsImapWatchOptions;

/* Fails with G_OPTION_ERROR_BAD_VALUE naming the option that is out of range. */
gboolean ms_imap_watch_options_check (const MsImapWatchOptions *options, GError **error);

/* ---- The method ---------------------------------------------------------- */

typedef enum {
  MS_IMAP_WATCH_NOTIFY,
  MS_IMAP_WATCH_IDLE,
  MS_IMAP_WATCH_POLL,
} MsImapWatchMethod;

/* The best method the server's capabilities allow; IDLE with max_idle 0
 * is no IDLE at all. */
MsImapWatchMethod ms_imap_watch_choose_method (gboolean has_notify, gboolean has_idle, guint max_idle);
/* "NOTIFY", "IDLE", "STATUS polling", for messages. */
const char *ms_imap_watch_method_name (MsImapWatchMethod method);

/* The NOTIFY command (without tag) that asks for every change to messages
 * and mailbox names, and one STATUS per mailbox at once (the initial
 * state): for the `personal` namespace, or for just the one mailbox whose
 * quoted IMAP name is `single_quoted` (non-NULL) — a channel without
 * Patterns.  (transfer full) */
char *ms_imap_watch_notify_command (const char *single_quoted);

/* The STATUS items that reveal changes: HIGHESTMODSEQ when the server has
 * CONDSTORE, else UNSEEN; as "(A B C D)". */
const char *ms_imap_watch_status_items (gboolean has_condstore);

/* ---- IDLE planning ----------------------------------------------------------- */

/* The mailboxes that get an IDLE connection, in order (transfer full, a
 * GPtrArray of char*): `single_box` alone if the channel has one mailbox;
 * else INBOX, then each of `hot` (canonical names) in order; each only if
 * it is in `boxes`, each once, at most max_idle of them. */
GPtrArray *ms_imap_watch_plan_idle (const GPtrArray *boxes, const char *single_box,
                                    const char *const *hot, guint max_idle);

/* Seconds between two IDLE commands on a connection: the keepalive (DONE
 * and a fresh IDLE also prove the connection alive), but never more than
 * idle_renew_s. */
guint ms_imap_watch_idle_period (guint keepalive_s, guint idle_renew_s);

/* ---- Names ------------------------------------------------------------------- */

/* How the paired local watcher (watch_maildirs) names a canonical mailbox
 * in this layout: Maildir++ "INBOX", "a.b" for "a/b", ".x" for "INBOX/x";
 * Verbatim the canonical name itself.  ms_maildir_name_from_watcher() maps
 * it back.  (transfer full) */
char *ms_imap_watch_output_name (MsMaildirLayout layout, const char *box);

/* The canonical name of a server mailbox (`far_name` as the server sends
 * it, modified UTF-7, which folders are named in too — or UTF-8 where that
 * does not decode, as Dovecot's NOTIFY sends it, then encoded — and `delim`
 * its hierarchy delimiter) and the line to
 * print for it, when the channel covers it and its Maildir folder could
 * exist; else FALSE.  *box and *line are transfer full, either may be
 * NULL. */
gboolean ms_imap_watch_map_far (const MsChannelSetup *setup, char delim, const char *far_name, char **box,
                                char **line);

/* ---- What a response says ------------------------------------------------------ */

typedef enum {
  MS_IMAP_WATCH_EVENT_NONE,     /* nothing about mailbox contents */
  MS_IMAP_WATCH_EVENT_STATUS,   /* "* STATUS name (...)": *name set */
  MS_IMAP_WATCH_EVENT_LIST,     /* "* LIST ... name": a mailbox created,
                                 * deleted or renamed; *name, and *old_name
                                 * for a rename (OLDNAME) */
  MS_IMAP_WATCH_EVENT_SELECTED, /* EXISTS, EXPUNGE, FETCH or VANISHED: the
                                 * selected mailbox changed */
  MS_IMAP_WATCH_EVENT_LOST,     /* BYE, or the server stopped notifying
                                 * ([NOTIFICATIONOVERFLOW], Dovecot's
                                 * "* NO NOTIFY error"): changes may be lost */
} MsImapWatchEvent;

/* Classifies an untagged response.  *name and *old_name (may be NULL)
 * point into the response; unset ones are set to NULL. */
MsImapWatchEvent ms_imap_watch_classify (const MsImapResponse *response, const char **name,
                                         const char **old_name);

/* ---- STATUS values ----------------------------------------------------------- */

typedef enum {
  MS_IMAP_WATCH_HAVE_MESSAGES = 1 << 0,
  MS_IMAP_WATCH_HAVE_UIDNEXT = 1 << 1,
  MS_IMAP_WATCH_HAVE_UIDVALIDITY = 1 << 2,
  MS_IMAP_WATCH_HAVE_UNSEEN = 1 << 3,
  MS_IMAP_WATCH_HAVE_HIGHESTMODSEQ = 1 << 4,
} MsImapWatchHave;

typedef struct {
  guint have; /* MsImapWatchHave bits: which fields are set */
  guint64 messages, uidnext, uidvalidity, unseen, highestmodseq;
} MsImapWatchStatus;

/* Parses "* STATUS name (ITEM n ...)": *far_name points into the response.
 * Items other than the five above are skipped; FALSE for anything but a
 * STATUS response with a name and a list. */
gboolean ms_imap_watch_parse_status (const MsImapResponse *response, const char **far_name,
                                     MsImapWatchStatus *status);

/* Whether `now` tells of a change since `before`: an item both have
 * differs, or they have no item in common (then nothing can be ruled out). */
gboolean ms_imap_watch_status_changed (const MsImapWatchStatus *before, const MsImapWatchStatus *now);

/* ---- The table of known mailboxes -------------------------------------------- */

typedef struct MsImapWatchTable MsImapWatchTable;

MsImapWatchTable *ms_imap_watch_table_new (void);
void ms_imap_watch_table_free (MsImapWatchTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsImapWatchTable, ms_imap_watch_table_free)

/* Records a mailbox's STATUS (merged into what is known: a partial STATUS
 * keeps the other items).  Returns TRUE if it is a change: the mailbox was
 * unknown (unless `initial`, for the state captured at start) or
 * ms_imap_watch_status_changed() says so.  Marks the mailbox as seen in the
 * current round. */
gboolean ms_imap_watch_table_update (MsImapWatchTable *table, const char *box, const MsImapWatchStatus *status,
                                     gboolean initial);
/* Forgets a mailbox; TRUE if it was known. */
gboolean ms_imap_watch_table_remove (MsImapWatchTable *table, const char *box);
gboolean ms_imap_watch_table_contains (const MsImapWatchTable *table, const char *box);
guint ms_imap_watch_table_size (const MsImapWatchTable *table);

/* A polling round: begin, then update every mailbox the server still
 * lists; end forgets the others and returns their names (transfer full,
 * a GPtrArray of char*, sorted): mailboxes that went away. */
void ms_imap_watch_table_begin_round (MsImapWatchTable *table);
GPtrArray *ms_imap_watch_table_end_round (MsImapWatchTable *table);

/* ---- Coalescing ---------------------------------------------------------------- */

/* The lines to print for one read: each once, in first-seen order. */
typedef struct MsImapWatchBatch MsImapWatchBatch;

MsImapWatchBatch *ms_imap_watch_batch_new (void);
void ms_imap_watch_batch_free (MsImapWatchBatch *batch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsImapWatchBatch, ms_imap_watch_batch_free)
/* Adds a line unless it is there already; the string is copied. */
void ms_imap_watch_batch_add (MsImapWatchBatch *batch, const char *line);
guint ms_imap_watch_batch_size (const MsImapWatchBatch *batch);
/* The lines, "\n"-terminated, in one string, and empties the batch;
 * NULL when empty.  (transfer full) */
char *ms_imap_watch_batch_take (MsImapWatchBatch *batch);

/* ---- Timing ---------------------------------------------------------------------- */

typedef enum {
  MS_IMAP_WATCH_DUE_NOTHING,
  MS_IMAP_WATCH_DUE_POLL,
  MS_IMAP_WATCH_DUE_KEEPALIVE,
} MsImapWatchDue;

/* The timers of one connection, in monotonic microseconds given by the
 * caller.  A poll is traffic too, so it also restarts the keepalive. */
typedef struct {
  gint64 poll_us, keepalive_us;           /* periods; 0: never */
  gint64 next_poll_us, next_keepalive_us;
} MsImapWatchTimer;

void ms_imap_watch_timer_init (MsImapWatchTimer *timer, guint poll_s, guint keepalive_s, gint64 now_us);
/* What is due at now_us (a poll before a keepalive); when nothing is,
 * *wait_ms is how long until something is (G_MAXINT if never, else at
 * least 1 and rounded up, so that waking up early cannot spin). */
MsImapWatchDue ms_imap_watch_timer_due (const MsImapWatchTimer *timer, gint64 now_us, gint *wait_ms);
/* Records that `what` was done at now_us. */
void ms_imap_watch_timer_done (MsImapWatchTimer *timer, MsImapWatchDue what, gint64 now_us);
