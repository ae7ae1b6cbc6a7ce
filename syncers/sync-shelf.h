/* sync-shelf.h — the resident syncer's mailbox states kept open between
 * syncs, to be committed once it is idle.
 *
 * A sync's last steps are disk syncs that protect nothing the journal does
 * not protect already: the Maildir directories it renamed new messages
 * into (their journal lines, synced before the renames, let the next open
 * find them), and the state commit (two syncs and a rename).  In a
 * resident syncer they are left to a quiet moment: the sync is answered
 * as soon as its journal holds it, and a second sync of the same mailbox
 * before then picks the state up where the first left it, still locked
 * and without reading it again.  A crash in between costs what a crash
 * during the sync would: the next open replays the journal.
 *
 * The lock stays taken while a state is on the shelf, so an mbsync run
 * that comes then is told the mailbox is locked instead of missing this
 * syncer's journal.  Thread-safe. */
#pragma once
#include <glib.h>

#include "maildir.h"
#include "sync-state.h"

typedef struct MsSyncShelf MsSyncShelf;

/* What a shelved state still owes. */
typedef struct {
  gboolean new_dir, cur_dir; /* folder directories renamed into, not synced yet */
  gint64 since_us;           /* monotonic: when it was first shelved uncommitted; 0: not yet */
} MsSyncShelfNote;

/* `maildir` (borrowed) is the store the shelved mailboxes live in. */
MsSyncShelf *ms_sync_shelf_new (const MsMaildirStore *maildir);
/* Commits every shelved state (see ms_sync_shelf_commit) and frees. */
void ms_sync_shelf_free (MsSyncShelf *shelf);

/* Shelves mailbox `box`'s open state file `f` with its note (since_us is
 * set to now if 0).  Takes `f`. */
void ms_sync_shelf_put (MsSyncShelf *shelf, const char *box, MsSyncStateFile *f, const MsSyncShelfNote *note);
/* The state file shelved for state path `path`, taken off the shelf, with
 * its note in *note; NULL (and *note left alone) if there is none. */
MsSyncStateFile *ms_sync_shelf_take (MsSyncShelf *shelf, const char *path, MsSyncShelfNote *note);

/* The oldest since_us on the shelf; G_MAXINT64 when it is empty. */
gint64 ms_sync_shelf_oldest (MsSyncShelf *shelf);
/* Commits shelved states one at a time (folder syncs first, then the
 * state), until none is left or `stop` (may be NULL) returns TRUE.  A
 * failed commit is logged and its journal left for the next open.
 * Returns how many were committed or failed. */
guint ms_sync_shelf_commit (MsSyncShelf *shelf, gboolean (*stop) (gpointer data), gpointer data);
