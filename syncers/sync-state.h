/* sync-state.h — what sync_imap remembers about one mailbox pair between
 * runs, and the journal that makes a run crash-safe.
 *
 * The state file uses mbsync 1.4's format, so a pair mbsync synced is adopted
 * as it is, and mbsync can take over again.  What mbsync 1.4.4 writes:
 *
 *     FarUidValidity 1700000000
 *     NearUidValidity 1700000001
 *     MaxPulledUid 42
 *     MaxPushedUid 17
 *     MaxExpiredFarUid 12            (only with MaxMessages; kept verbatim)
 *                                    (blank line: the header ends)
 *     FAR NEAR [<|>][^|~]FLAGS       (one line per pair)
 *
 * FAR is the IMAP UID, NEAR the Maildir UID (the ,U= value, which is the
 * Maildir's own numbering from its .uidvalidity counter, as in mbsync), FLAGS
 * the flags both sides had when last synced (letters DFPRST in that order,
 * possibly none; the space before them is always written): the base of the
 * three-way flag merge.  A UID of 0 means that side's message is gone and its
 * deletion has been dealt with (mbsync "orphans" a pair that way; see
 * sync-plan.h).  The markers before the flags are mbsync's, kept in
 * MsSyncPair.status and written back as read:
 *     <  the server copy is only a placeholder (MaxSize)
 *     >  the Maildir copy is only a placeholder (MaxSize)
 *     ^  pre-1.4: the message was not copied at all (too big)
 *     ~  the Maildir copy was expired (MaxMessages)
 * mbsync writes at most one of '<' '>' and one of '^' '~'.
 *
 * Older forms mbsync 1.4 still reads are read too, and written back in the
 * form above: MasterUidValidity / SlaveUidValidity / MaxExpiredMasterUid
 * (pre-1.4 names), MaxExpiredSlaveUid (pre-1.3, kept verbatim), the pre-1.1
 * one-line header "FARVAL:MAXPULLED NEARVAL:MAXEXPIRED:MAXPUSHED", the
 * pre-1.3 UID "-1" (not copied: read as 0 with the '^' marker) and marker
 * 'X' (for '~').  Fields may be separated by more than one space, as
 * mbsync's sscanf allows.
 *
 * Header keys we do not know are kept and written back (after the four we
 * write ourselves), but each header line must be "KEY NUMBER" as mbsync reads
 * it (KEY letters and digits, starting with a letter; NUMBER below 2^32);
 * anything else, a header without its blank line, a pair line that is
 * not "UID UID [MARKERS FLAGS]", a NUL byte or a missing final newline is
 * refused: a state read wrongly would pair nothing and copy every message
 * again.
 *
 * Our own extra knowledge (server HIGHESTMODSEQ, UIDNEXT and EXISTS, for
 * skipping unchanged mailboxes) goes in a sidecar file STATE.sync_imap, which
 * mbsync ignores.  It names the server UIDVALIDITY it belongs to; a sidecar
 * whose UIDVALIDITY differs from the state's (or that is missing, malformed
 * or oversized) is ignored: its values read as 0, "unknown".
 *
 * Crash safety (the journal, STATE.journal-ng): before each step that creates
 * or destroys a pair, one line is appended:
 *
 *     < FAR NEAR          about to store server message FAR as Maildir UID NEAR
 *     > NEAR UIDNEXT SIZE about to APPEND Maildir message NEAR; server UIDNEXT was UIDNEXT
 *     + FAR NEAR FLAGS    pair created (both sides hold the message)
 *     = FAR NEAR FLAGS    pair recorded with new flags (created if missing,
 *                         replacing the pair it is left of: see add_pair)
 *     - FAR NEAR          pair removed
 *     U NEAR              Maildir UID counter reserved up to NEAR
 *
 * The state is committed at the end of a run by writing STATE.new-ng, fsync,
 * rename over STATE, fsync of the directory, then the sidecar rewritten in
 * place (without fsync), and last emptying the journal (kept, so that the
 * next run need not create it).  A journal with lines in it found at load
 * time means the last run was interrupted: its lines are replayed onto the
 * state, and the `<` and `>` lines without a matching `+` are returned as
 * "unresolved" for the sync job to look up (a delivered file with that
 * Maildir UID; a server message at or above UIDNEXT with the same size and
 * Message-ID) before it plans anything, so nothing is fetched or appended
 * twice.  Flag updates need no recovery: the three-way merge converges from
 * any mix of applied and unapplied flag changes.  A torn last journal line
 * (no '\n') was never acted upon: replay ignores it and opening the file
 * cuts it off, so that new lines do not append to it.
 *
 * mbsync's own journal (STATE.journal) together with STATE.new means an
 * interrupted mbsync run: opening refuses then, because mbsync must replay
 * it (we would copy again what it already copied).  Without STATE.new mbsync
 * itself ignores that journal, and so do we.  The other way round, while
 * our journal announces copies, STATE.new and a STATE.journal holding
 * MS_SYNC_FENCE_LINE (the fence, see sync-state.c) make mbsync refuse the
 * mailbox; opening knows that line, and the next commit takes them down.
 *
 * A lock (fcntl on STATE.lock, non-blocking; the file mbsync locks too)
 * keeps two runs off one pair, mbsync included.  It is an open file
 * description lock, so a second open of the same state in one process
 * fails too.  mbsync unlinks the lock file when it ends; the lock is taken
 * again if the file we locked is no longer the one at STATE.lock.
 *
 * Errors: a malformed state or journal gives MS_ERROR_PROTOCOL naming
 * "FILE:LINE"; a file over its limit MS_ERROR_LIMIT; a lock held elsewhere
 * MS_ERROR_BUSY ("... is locked ..."); an interrupted mbsync run
 * MS_ERROR_FAILED; system calls G_IO_ERROR with the path and strerror.
 *
 * The parsers are pure (ms_sync_state_parse, ms_sync_journal_replay); the
 * file functions do the I/O around them.  Nothing here logs.
 *
 * Ownership: returned structs and strings belong to the caller unless a
 * prototype says otherwise.
 */
#pragma once

#include <glib.h>

#include "maildir.h"

/* State files are small (one line per message); refuse absurd ones rather
 * than read them whole: 64 MiB is ~2 million pairs. */
#define MS_SYNC_STATE_MAX_BYTES (64 * 1024 * 1024)

/* A journal holds a few lines per message of one run (announce, pair,
 * flags), each about as long as a state line; four times the state's cap
 * covers a first run over the largest state we accept. */
#define MS_SYNC_JOURNAL_MAX_BYTES (4 * MS_SYNC_STATE_MAX_BYTES)

/* The sidecar is three short lines; anything much larger is not ours. */
#define MS_SYNC_SIDECAR_MAX_BYTES 4096

/* mbsync's markers before a pair's flags (see above). */
typedef enum {
  MS_SYNC_PAIR_PLACEHOLDER_FAR = 1 << 0,  /* '<' */
  MS_SYNC_PAIR_PLACEHOLDER_NEAR = 1 << 1, /* '>' */
  MS_SYNC_PAIR_SKIPPED = 1 << 2,          /* '^' (and pre-1.3 UID -1) */
  MS_SYNC_PAIR_EXPIRED = 1 << 3,          /* '~' (pre-1.3 'X') */
} MsSyncPairStatus;

typedef struct {
  guint32 far_uid;   /* 0: not on the server (anymore) */
  guint32 near_uid;  /* 0: not in the Maildir (anymore) */
  MsFlags flags;     /* last synced */
  MsSyncPairStatus status; /* mbsync's markers, kept as read */
} MsSyncPair;

typedef struct {
  guint32 far_uidvalidity;  /* 0: unknown (never a real UIDVALIDITY) */
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
  MS_SYNC_PENDING_PULL,  /* '<' FAR NEAR [FLAGS] */
  MS_SYNC_PENDING_PUSH,  /* '>' NEAR UIDNEXT SIZE */
} MsSyncPendingKind;

typedef struct {
  MsSyncPendingKind kind;
  guint32 far_uid;   /* PULL */
  guint32 near_uid;
  guint32 uidnext;   /* PUSH */
  guint64 size;      /* PUSH */
  MsFlags flags;     /* PULL: delivered with them, if has_flags */
  gboolean has_flags;
} MsSyncPending;

MsSyncState *ms_sync_state_new (void);
void ms_sync_state_free (MsSyncState *state);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsSyncState, ms_sync_state_free)

/* Pure: parse a state file's text (and the sidecar's, may be NULL).  An
 * empty text (len 0) is refused like any header without its blank line;
 * a missing file is the caller's "no state yet".  Errors name `filename`
 * and the line. */
MsSyncState *ms_sync_state_parse (const char *filename, const char *text, gsize len,
                                  const char *sidecar, gsize sidecar_len, GError **error);
/* Pure: the state file text and the sidecar text. (transfer full) */
char *ms_sync_state_format (const MsSyncState *state);
char *ms_sync_state_format_sidecar (const MsSyncState *state);

/* Pure: applies journal text to `state`; returns the unresolved pending
 * entries (MsSyncPending*, transfer full).  A torn last line (no '\n') is
 * ignored: it was never acted upon.  On error `state` may hold the lines
 * before the bad one. */
GPtrArray *ms_sync_journal_replay (MsSyncState *state, const char *filename, const char *text,
                                   gsize len, GError **error);

/* Pair lookups (binary search / linear where needed).  The pointers stay
 * valid until the next change to the pairs. */
MsSyncPair *ms_sync_state_find_far (MsSyncState *state, guint32 far_uid);
MsSyncPair *ms_sync_state_find_near (MsSyncState *state, guint32 near_uid);
/* Records the pair with `flags`.  An existing (far_uid, near_uid) pair just
 * gets the flags.  Otherwise the pairs it replaces are dropped and the new
 * one takes over the first one's status: those with the same far UID when
 * far_uid is not 0, else those with the same near UID.  This is how a pair
 * loses a side, (F, N) becoming (F, 0) or (0, N), and how a server UID stays
 * in one pair.  (A Maildir UID is only looked for in the second case: that
 * takes a scan of the pairs.) */
void ms_sync_state_add_pair (MsSyncState *state, guint32 far_uid, guint32 near_uid, MsFlags flags);
void ms_sync_state_remove_pair (MsSyncState *state, guint32 far_uid, guint32 near_uid);

/* The line mbsync finds in STATE.journal while our journal holds copies it
 * must not make again (see the fence in sync-state.c); mbsync 1.4 quotes it
 * when it refuses the mailbox. */
#define MS_SYNC_FENCE_LINE "mswatch-ng: sync_imap was interrupted here; let sync_imap finish it\n"

/* --- files ------------------------------------------------------------- */

typedef struct MsSyncStateFile MsSyncStateFile;

/* Locks STATE.lock (fails at once with a clear "is locked" error if another
 * run holds it), loads STATE (+ sidecar) or starts empty, replays a journal
 * if there is one (cutting off a torn last line).  `pending` (may be NULL)
 * receives the unresolved entries, never NULL on success. */
MsSyncStateFile *ms_sync_state_file_open (const char *path, gboolean fsync_enabled,
                                          GPtrArray **pending, GError **error);
/* (transfer none) */
MsSyncState *ms_sync_state_file_state (MsSyncStateFile *file);
/* The STATE path it was opened with. */
const char *ms_sync_state_file_path (MsSyncStateFile *file);

/* Journal lines (each written with one write(2) before the step it
 * announces; the file is created on first use). */
gboolean ms_sync_journal_pull (MsSyncStateFile *f, guint32 far_uid, guint32 near_uid, MsFlags flags,
                               GError **error);
gboolean ms_sync_journal_push (MsSyncStateFile *f, guint32 near_uid, guint32 uidnext, guint64 size,
                               GError **error);
gboolean ms_sync_journal_reserve (MsSyncStateFile *f, guint32 near_uid_max, GError **error);
/* Makes the journal lines written so far durable (fdatasync, and the
 * directory once after the journal was created) when fsync is enabled and
 * lines were written since the last time; a no-op otherwise.  Call it after a batch of `<`, `>` and `U` lines and
 * before the steps they announce: an announcement lost in a power failure
 * while its step survived would copy that message again.  Lines written
 * after their step (`+`, `=`, `-`) need no sync. */
gboolean ms_sync_journal_sync (MsSyncStateFile *f, GError **error);
/* These also update the in-memory state (see ms_sync_state_add_pair). */
gboolean ms_sync_state_file_pair (MsSyncStateFile *f, guint32 far_uid, guint32 near_uid, MsFlags flags,
                                  GError **error);
gboolean ms_sync_state_file_set_flags (MsSyncStateFile *f, guint32 far_uid, guint32 near_uid,
                                       MsFlags flags, GError **error);
gboolean ms_sync_state_file_unpair (MsSyncStateFile *f, guint32 far_uid, guint32 near_uid,
                                    GError **error);

/* Writes the state to a temporary file renamed over the old one (fsynced
 * with its directory when fsync is enabled), rewrites the sidecar in place,
 * then empties the journal.  On failure the old state and the journal are
 * left as they were. */
gboolean ms_sync_state_file_commit (MsSyncStateFile *f, GError **error);
/* Whether a journal has lines (left by an interrupted run, or written since
 * the open): then the state must be committed even if nothing else changed. */
gboolean ms_sync_state_file_has_journal (MsSyncStateFile *f);
/* Releases the lock; uncommitted changes stay in the journal.  NULL is
 * fine. */
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
