/* sync-job.h — synchronising one mailbox pair: gather both listings, plan,
 * carry the plan out with the journal, commit the state.
 *
 * Runs on sync_imap's connection thread with a connected MsImapClient; it
 * blocks that thread (with the transport's deadlines), never a main loop.
 *
 * Steps for one box:
 *   1. lock and load the state, replaying a journal left by a crash, and
 *      resolve what the journal left pending (a pulled file already in the
 *      Maildir; an APPEND that reached the server);
 *   2. SELECT the server mailbox; if UIDVALIDITY, UIDNEXT, MESSAGES and
 *      HIGHESTMODSEQ are all as the last run left them, the server side is
 *      unchanged and costs nothing more; else list it — only what changed
 *      since the last HIGHESTMODSEQ when QRESYNC is on, all of it otherwise;
 *   3. scan the Maildir folder;
 *   4. plan (sync-plan.c) and execute: pulls in one UID FETCH whose bodies
 *      stream into tmp/ files, pushes as pipelined APPENDs, flag changes as
 *      grouped UID STOREs, Maildir renames and unlinks;
 *   5. commit the state by rename and drop the journal, or leave the state
 *      on the context's shelf for a resident syncer to commit when idle.
 */
#pragma once

#include <glib.h>

#include "imap-client.h"
#include "maildir.h"
#include "sync-plan.h"
#include "sync-shelf.h"

/* How far one mailbox's download has come. */
typedef struct {
  guint done, total;              /* messages */
  guint64 bytes_done, bytes_total; /* as the server counts them (CRLF) */
} MsSyncProgress;

/* A long download reports its progress at most this often (and once more
 * when it ends, if it reported at all); shorter ones say nothing. */
#define MS_SYNC_PROGRESS_INTERVAL_MS 500

/* Test knob: report progress at most every `ms` milliseconds instead (0:
 * after every message). */
void ms_sync_set_progress_interval (guint ms);

/* A first download of a mailbox with more messages than this goes in
 * slices of this many, each committed on its own (see first_download() in
 * sync-job.c): 5000 keep a slice's listing and plan near 250 KB. */
#define MS_SYNC_FIRST_SLICE 5000

/* Test knob: slices of `messages` instead. */
void ms_sync_set_first_slice (guint messages);

typedef struct {
  MsImapClient *imap;            /* connected; borrowed */
  const MsMaildirStore *maildir; /* borrowed */
  const char *far_prefix;        /* IMAPStore Path ("" for none) */
  const char *state_path_prefix; /* NULL: the state lives in the folder as .mbsyncstate;
                                  * else the state file is prefix + mangled names */
  const char *far_store_name, *near_store_name;
  MsSyncPolicy policy;
  gboolean create_far, create_near; /* mbsync Create */
  gboolean fsync;
  /* A resident syncer's shelf (sync-shelf.h): the state is taken from it
   * when there, and left on it instead of committed.  NULL: each sync
   * opens and commits its state. */
  MsSyncShelf *shelf;
  /* Called on the syncing thread during long downloads; may be NULL. */
  void (*progress) (gpointer data, const MsSyncProgress *progress);
  gpointer progress_data;
} MsSyncContext;

/* What a mailbox pair looked like after a sync that changed nothing: the
 * server's STATUS values and the Maildir folder's directory times. */
typedef struct {
  guint32 uidvalidity, uidnext, messages;
  guint64 highestmodseq;
  gint64 mtime_new_ns, mtime_cur_ns;
} MsSyncFingerprint;

typedef struct {
  guint pulled, pushed;
  guint flags_far, flags_near;
  guint removed_near, expunged_far;
  gboolean far_unchanged;  /* the server side was skipped by its fingerprint */
  /* Set when the run changed neither side: then both sides are, as far as
   * anyone can tell, exactly as this describes them, and a later request
   * that finds them so (ms_sync_fingerprint_check) needs no sync at all. */
  gboolean have_fingerprint;
  MsSyncFingerprint fingerprint;
  /* Changed neither side, but a Maildir directory was modified too
   * recently to be fingerprinted (MS_MAILDIR_FINGERPRINT_UNSETTLED): a
   * sync a moment later can leave one. */
  gboolean fingerprint_unsettled;
} MsSyncCounts;

/* The IMAP name of a canonical mailbox name: "INBOX" stays, others get the
 * store's Path prefix and the server's hierarchy delimiter.  Names are not
 * transcoded, as mbsync 1.4 does not: a server folder "Entw&APw-rfe"
 * (Entwürfe) is the Maildir folder "Entw&APw-rfe", so that either program
 * can take over the other's Maildir.  A name that is not valid modified
 * UTF-7 (a folder made in UTF-8) fails, naming the folder it should have.
 * (transfer full) */
char *ms_sync_far_name (const MsSyncContext *ctx, char delim, const char *box, GError **error);
/* The reverse, for LIST results; NULL if outside the prefix or, with
 * `error` set, neither 7-bit nor UTF-8.  Whether a folder can have the
 * name is for ms_maildir_folder_path() to say. (transfer full) */
char *ms_sync_box_from_far (const MsSyncContext *ctx, char delim, const char *far_name, GError **error);

/* The LIST pattern for every mailbox below the store's Path prefix
 * (`far_prefix`, may be NULL), quoted. (transfer full) */
char *ms_sync_list_pattern (const char *far_prefix);

/* Lists the canonical names on both sides (sorted, deduplicated). */
GPtrArray *ms_sync_list_boxes (MsSyncContext *ctx, GError **error);

gboolean ms_sync_box (MsSyncContext *ctx, const char *box, MsSyncCounts *counts, GError **error);

/* The fast path of a resident syncer: asks the server for the STATUS of
 * every box in `boxes` (canonical names) in one pipelined round trip and
 * stats their Maildir folders; `fingerprints` holds what the last sync that
 * changed nothing saw (NULL entries: unknown).  Returns a new array of
 * gboolean, TRUE where both sides are unchanged, so that the box needs no
 * sync.  STATUS of the selected mailbox is not reliable: with `unselect`
 * (the server must offer UNSELECT) the mailbox is closed first, in the
 * same round trip; else the caller must leave it out.  With `server_only`
 * the Maildir folders are not looked at. */
GArray *ms_sync_fingerprint_check (MsSyncContext *ctx, GPtrArray *boxes, GPtrArray *fingerprints,
                                   gboolean unselect, gboolean server_only, GError **error);
