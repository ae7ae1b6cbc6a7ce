/* sync-plan.h — what to do for one mailbox pair: a pure function of the
 * server's listing, the Maildir's listing, the saved state and the policy.
 *
 * No I/O and no clock: sync-job.c gathers the inputs, calls
 * ms_sync_plan_make(), and carries the actions out in order.  Tests feed
 * tables of inputs and compare the action lists.
 *
 * Rules (mbsync 1.4's semantics; see mbsync(1) "Sync", "Expunge"):
 *  - Pairing: a server message and a Maildir message are the same when the
 *    state pairs their UIDs.  A side of a pair is PRESENT (listed; in a
 *    partial listing also when neither listed nor VANISHED: unchanged, with
 *    the pair's flags), GONE (its UID is not there any more: a deletion not
 *    yet dealt with) or ABSENT (UID 0: gone, and its deletion already dealt
 *    with; mbsync "orphans" pairs that way, and so do we).
 *  - New on the server: UID > max_pulled and not paired -> PULL (Sync Pull
 *    New).  A server message at or below max_pulled that is not paired is
 *    never pulled again (it was pulled and its pair dropped, or skipped).
 *    One flagged \Deleted is not pulled when either side is expunged (it
 *    would be removed right away, and a pair with an expunged UID would be
 *    left behind); mbsync skips it only when the Maildir is expunged.
 *  - New in the Maildir: no UID, or UID > max_pushed and not paired -> PUSH
 *    (Sync Push New).  Messages flagged T (deleted) are not pushed; one
 *    without a UID is pushed once it is undeleted (mbsync pushes T messages
 *    unless the server is expunged).
 *  - Flags, for a pair present on both sides: three-way merge against the
 *    pair's last synced flags, bit by bit: a bit changed on one side only
 *    takes that side's value; changed on both sides, both agree.  The result
 *    goes to each side that differs, where the policy allows (Pull Flags for
 *    the Maildir, Push Flags for the server), and becomes the new base; with
 *    one direction off the base is the side that is not updated, with both
 *    off it stays.  T / \Deleted is a flag like the others.  mbsync's
 *    markers: the S and F bits of a placeholder ('<' '>') are not carried to
 *    the real message, and the T of an expired Maildir copy ('~') is not
 *    carried to the server.
 *  - Gone on the server: with Pull Delete the Maildir copy is flagged T (or
 *    removed, when Expunge includes Near) and the pair loses its server UID.
 *    Without Pull Delete the pair is kept as it is, so that a listing that
 *    came back empty by mistake breaks nothing, unless the evidence is a
 *    VANISHED report (it will not come again): then the server UID is
 *    dropped without touching the Maildir.
 *  - Gone in the Maildir: with Push Delete the server copy gets \Deleted
 *    (and is expunged when Expunge includes Far) and the pair loses its
 *    Maildir UID; without, the pair is kept.  An expired Maildir copy ('~')
 *    is not a deletion: the pair just loses its Maildir UID.
 *  - Expunge on a side removes every message of that side that is, or is
 *    about to be, flagged T / \Deleted: paired or not, old or new.
 *  - A pair none of whose messages stays is dropped; one whose message on
 *    one side is removed keeps the other (UID 0 for the removed side).
 *  - Safety: if the plan would delete (flag T or remove) more than half of a
 *    side's messages because of what happened on the other side (messages
 *    gone there, or \Deleted there and expunged here) and more than
 *    MS_SYNC_PLAN_MASS_DELETE_MIN of them, it is refused with an error
 *    saying why, unless `force` is set.  A side's own T messages being
 *    expunged do not count: that is what its user asked for.
 *  - An empty state (first run) pairs nothing: every message on either side
 *    is new and copied to the other side.  Re-pairing after a UIDVALIDITY
 *    change is the sync job's work, before it calls the planner.
 *
 * Action order: for each pair its flag changes, removals and state update;
 * then the pulls and the server expunges of unpaired \Deleted messages; then
 * the pushes and the Maildir removals of unpaired T messages.  A FLAGS_FAR must be carried out before the PAIR_FLAGS or UNPAIR
 * that follows it for the same pair: a server message whose pair is gone is
 * then at least \Deleted, and a later run with Expunge Far removes it (an
 * EXPUNGE_FAR may come after, as its \Deleted store is repeated).
 */
#pragma once

#include <glib.h>

#include "maildir.h"
#include "sync-state.h"

/* Below this many deletions a mailbox is never considered mass-deleted:
 * emptying a small folder is ordinary. */
#define MS_SYNC_PLAN_MASS_DELETE_MIN 10

typedef struct {
  gboolean pull_new, push_new;
  gboolean pull_flags, push_flags;
  gboolean pull_delete, push_delete;
  gboolean expunge_far, expunge_near;
  gboolean force; /* allow mass deletion */
} MsSyncPolicy;

/* A server message as listed (UID FETCH … (UID FLAGS RFC822.SIZE)). */
typedef struct {
  guint32 uid;
  MsFlags flags;
  guint64 size;
} MsFarMessage;

typedef struct {
  /* Sorted by uid.  When `partial` is set (QRESYNC/CHANGEDSINCE), it holds
   * only changed messages, `vanished` lists expunged UIDs, and paired
   * messages absent from both are unchanged.  For that to hold, the
   * HIGHESTMODSEQ the listing starts from must be one taken before the
   * previous run's own changes (from its SELECT), so that they are listed
   * (and its expunges reported VANISHED) once more. */
  GArray *messages; /* MsFarMessage */
  gboolean partial;
  GArray *vanished; /* guint32, may be NULL */
  guint32 uidnext;
} MsFarListing;

typedef enum {
  MS_ACTION_PULL,          /* fetch far_uid, deliver with `flags` */
  MS_ACTION_PUSH,          /* append the Maildir message near (index into scan) with `flags` */
  MS_ACTION_FLAGS_FAR,     /* server: +add / -remove on far_uid */
  MS_ACTION_FLAGS_NEAR,    /* Maildir: set `flags` on near message */
  MS_ACTION_PAIR_FLAGS,    /* state: record the pair (far_uid, near_uid) with `flags` as synced
                            * (ms_sync_state_file_set_flags).  With far_uid or near_uid 0 it
                            * is a pair that lost that side, and it replaces the old pair in
                            * the same step (see ms_sync_state_add_pair) */
  MS_ACTION_REMOVE_NEAR,   /* unlink the Maildir message */
  MS_ACTION_EXPUNGE_FAR,   /* server: UID EXPUNGE far_uid (after \Deleted) */
  MS_ACTION_UNPAIR,        /* state: drop the pair */
} MsSyncActionKind;

typedef struct {
  MsSyncActionKind kind;
  guint32 far_uid;
  guint32 near_uid;
  guint near_index;        /* index in the scan's messages (PUSH, FLAGS_NEAR, REMOVE_NEAR) */
  MsFlags flags;           /* PULL, PUSH, FLAGS_NEAR, PAIR_FLAGS: the flags to set */
  MsFlags add, remove;     /* FLAGS_FAR */
} MsSyncAction;

typedef struct {
  GArray *actions; /* MsSyncAction, in the order to carry them out */
  guint n_pull, n_push, n_flags_far, n_flags_near, n_remove_near, n_expunge_far;
  /* What the state's MaxPulledUid / MaxPushedUid become once every PULL and
   * PUSH of the plan has succeeded (mbsync raises them only then, so that an
   * interrupted run tries again): the highest UID considered for copying,
   * kept below a T message that stays unpushed in the Maildir.  Unchanged
   * without Pull New / Push New.  The sync job also raises max_pushed over
   * the UIDs it gives messages that had none and, with Push New, over
   * those of the messages it pulls (as the next run's plan would, seeing
   * them paired), but never to near_hold or above. */
  guint32 max_pulled, max_pushed;
  guint32 near_hold; /* the lowest such T message's UID; 0: none */
} MsSyncPlan;

void ms_sync_plan_free (MsSyncPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsSyncPlan, ms_sync_plan_free)

/* far: the server listing; near: the Maildir scan; state: saved state (not
 * modified).  Fails only for the mass-deletion guard (MS_ERROR_LIMIT). */
MsSyncPlan *ms_sync_plan_make (const MsFarListing *far, const MsMaildirScan *near,
                               const MsSyncState *state, const MsSyncPolicy *policy, GError **error);
