/* sync-state.h — what sync_imap remembers about one mailbox pair between
 * runs, and the journal that makes a run crash-safe.
 *
 * The state file uses mbsync 1.4's format, so a pair mbsync synced is adopted
 * as it is, and mbsync can take over again:
 *
 *     FarUidValidity 1700000000
 *     NearUidValidity 1700000001
 *     MaxPulledUid 42
 *     MaxPushedUid 17
 *                                    (blank line)
 *     FAR NEAR FLAGS                 (one line per pair; 0 = missing side)
 *
 * FAR is the IMAP UID, NEAR the Maildir UID (the ,U= value, which is the
 * Maildir's own numbering from its .uidvalidity counter, as in mbsync), FLAGS
 * the flags both sides had when last synced (letters DFPRST): the base of
 * the three-way flag merge.  Header keys we do not know are kept and written
 * back.  Our own extra knowledge (server HIGHESTMODSEQ and UIDNEXT, for
 * skipping unchanged mailboxes) goes in a sidecar file STATE.sync_imap, which
 * mbsync ignores.
 *
 * Crash safety (the journal, STATE.journal-ng): before each step that creates
 * or destroys a pair, one line is appended:
 *
 *     < FAR NEAR          about to store server message FAR as Maildir UID NEAR
 *     > NEAR UIDNEXT SIZE about to APPEND Maildir message NEAR; server UIDNEXT was UIDNEXT
 *     + FAR NEAR FLAGS    pair created (both sides hold the message)
 *     = FAR NEAR FLAGS    pair flags updated
 *     - FAR NEAR          pair removed
 *     U NEAR              Maildir UID counter reserved up to NEAR
 *
 * and the state is committed at the end of a run by writing STATE.new,
 * fsync, rename over STATE, then unlinking the journal.  A journal found at
 * load time means the last run was interrupted: its lines are replayed onto
 * the state, and the `<` and `>` lines without a matching `+` are returned
 * as "unresolved" for the sync job to look up (a delivered file with that
 * Maildir UID; a server message at or above UIDNEXT with the same size and
 * Message-ID) before it plans anything, so nothing is fetched or appended
 * twice.  Flag updates need no recovery: the three-way merge converges from
 * any mix of applied and unapplied flag changes.
 *
 * A lock (fcntl on STATE.lock, non-blocking) keeps two runs off one pair.
 *
 * The parser is pure (ms_sync_state_parse, ms_sync_journal_replay); the file
 * functions do the I/O around it.
 */
#pragma once

#include <glib.h>

#include "maildir.h"

/* State files are small (one line per message); refuse absurd ones rather
 * than read them whole: 64 MiB is ~2 million pairs. */
#define MS_SYNC_STATE_MAX_BYTES (64 * 1024 * 1024)

typedef struct {
  guint32 far_uid;   /* 0: not on the server (anymore) */
  guint32 near_uid;  /* 0: not in the Maildir (anymore) */
  MsFlags flags;     /* last synced */
} MsSyncPair;

typedef struct {
  guint32 far_uidvalidity;
  guint32 near_uidvalidity;
  guint32 max_pulled;  /* highest server UID considered (new ones are above) */
  guint32 max_pushed;  /* highest Maildir UID considered */
  GArray *pairs;       /* MsSyncPair, sorted by far_uid then near_uid */
  GPtrArray *extra_header; /* char*: header lines we keep verbatim */

  /* Sidecar (ours): the server's state after our last run; 0 = unknown. */
  guint64 far_highestmodseq;
  guint32 far_uidnext;
  guint32 far_messages;
} MsSyncState;

typedef enum {
  MS_SYNC_PENDING_PULL,  /* '<' FAR NEAR */
  MS_SYNC_PENDING_PUSH,  /* '>' NEAR UIDNEXT SIZE */
} MsSyncPendingKind;

typedef struct {
  MsSyncPendingKind kind;
  guint32 far_uid;   /* PULL */
  guint32 near_uid;
  guint32 uidnext;   /* PUSH */
  guint64 size;      /* PUSH */
} MsSyncPending;

MsSyncState *ms_sync_state_new (void);
void ms_sync_state_free (MsSyncState *state);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsSyncState, ms_sync_state_free)

/* Pure: parse a state file's text (and the sidecar's, may be NULL).
 * Errors name `filename` and the line. */
MsSyncState *ms_sync_state_parse (const char *filename, const char *text, gsize len,
                                  const char *sidecar, gsize sidecar_len, GError **error);
/* Pure: the state file text and the sidecar text. (transfer full) */
char *ms_sync_state_format (const MsSyncState *state);
char *ms_sync_state_format_sidecar (const MsSyncState *state);

/* Pure: applies journal text to `state`; returns the unresolved pending
 * entries (MsSyncPending*, transfer full).  A torn last line (no '\n') is
 * ignored: it was never acted upon. */
GPtrArray *ms_sync_journal_replay (MsSyncState *state, const char *filename, const char *text,
                                   gsize len, GError **error);

/* Pair lookups (binary search / linear where needed). */
MsSyncPair *ms_sync_state_find_far (MsSyncState *state, guint32 far_uid);
MsSyncPair *ms_sync_state_find_near (MsSyncState *state, guint32 near_uid);
void ms_sync_state_add_pair (MsSyncState *state, guint32 far_uid, guint32 near_uid, MsFlags flags);
void ms_sync_state_remove_pair (MsSyncState *state, guint32 far_uid, guint32 near_uid);

/* --- files ------------------------------------------------------------- */

typedef struct MsSyncStateFile MsSyncStateFile;

/* Locks STATE.lock (fails at once with a clear "is locked" error if another
 * run holds it), loads STATE (+ sidecar) or starts empty, replays a journal
 * if there is one.  `pending` receives the unresolved entries. */
MsSyncStateFile *ms_sync_state_file_open (const char *path, gboolean fsync_enabled,
                                          GPtrArray **pending, GError **error);
MsSyncState *ms_sync_state_file_state (MsSyncStateFile *file);

/* Journal lines (each written with one write(2) before the step it
 * announces; the file is created on first use). */
gboolean ms_sync_journal_pull (MsSyncStateFile *f, guint32 far_uid, guint32 near_uid, GError **error);
gboolean ms_sync_journal_push (MsSyncStateFile *f, guint32 near_uid, guint32 uidnext, guint64 size,
                               GError **error);
gboolean ms_sync_journal_reserve (MsSyncStateFile *f, guint32 near_uid_max, GError **error);
/* These also update the in-memory state. */
gboolean ms_sync_state_file_pair (MsSyncStateFile *f, guint32 far_uid, guint32 near_uid, MsFlags flags,
                                  GError **error);
gboolean ms_sync_state_file_set_flags (MsSyncStateFile *f, guint32 far_uid, guint32 near_uid,
                                       MsFlags flags, GError **error);
gboolean ms_sync_state_file_unpair (MsSyncStateFile *f, guint32 far_uid, guint32 near_uid,
                                    GError **error);

/* Writes STATE.new (+ sidecar), fsyncs, renames, unlinks the journal. */
gboolean ms_sync_state_file_commit (MsSyncStateFile *f, GError **error);
/* Releases the lock; uncommitted changes stay in the journal. */
void ms_sync_state_file_close (MsSyncStateFile *f);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsSyncStateFile, ms_sync_state_file_close)

/* Test knob: every state-changing step (each journal line, each commit, and
 * each side effect the sync job performs: a delivery, an APPEND, a flag
 * store, a rename, an unlink) first calls ms_sync_step().  With
 * ms_sync_set_die_after (N), the (N+1)th call does _exit(MS_SYNC_DIE_STATUS)
 * instead, so a test can kill sync_imap at every step of a sync.  0 = off.
 * Set from sync_imap's --die-after option. */
#define MS_SYNC_DIE_STATUS 99
void ms_sync_set_die_after (guint steps);
void ms_sync_step (void);
