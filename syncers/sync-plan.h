/* sync-plan.h — what to do for one mailbox pair: a pure function of the
 * server's listing, the Maildir's listing, the saved state and the policy.
 *
 * No I/O and no clock: sync-job.c gathers the inputs, calls
 * ms_sync_plan_make(), and carries the actions out in order.  Tests feed
 * tables of inputs and compare the action lists.
 *
 * Rules (mbsync's semantics; see mbsync(1) "Sync", "Expunge"):
 *  - Pairing: a server message and a Maildir message are the same when the
 *    state pairs their UIDs.
 *  - New on the server: UID > max_pulled and not paired -> PULL (Sync Pull New).
 *  - New in the Maildir: no UID, or UID > max_pushed and not paired -> PUSH
 *    (Sync Push New).  Messages flagged T (deleted) are not pushed.
 *  - Flags, for a pair present on both sides: three-way merge against the
 *    pair's last synced flags, bit by bit: a bit changed on one side only
 *    takes that side's value; changed on both sides, both agree.  The result
 *    goes to each side that differs, where the policy allows (Pull Flags for
 *    the Maildir, Push Flags for the server).
 *  - Gone on the server (paired, FAR missing from a full listing, or VANISHED):
 *    with Pull Delete the Maildir copy is flagged T, or removed when Expunge
 *    includes Near; the pair is dropped once neither side holds the message.
 *  - Gone in the Maildir: with Push Delete the server copy gets \Deleted, and
 *    is expunged when Expunge includes Far.
 *  - Expunge on a side also removes that side's unpaired T/\Deleted messages.
 *  - Safety: if the actions would remove more than half of a side's messages
 *    (and more than MS_SYNC_PLAN_MASS_DELETE_MIN), the plan is refused with an
 *    error saying why, unless `force` is set.
 */
#pragma once

#include <glib.h>

#include "maildir.h"
#include "sync-state.h"

/* Below this many removals a mailbox is never considered mass-deleted:
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
   * messages absent from both are unchanged. */
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
  MS_ACTION_PAIR_FLAGS,    /* state: record `flags` as synced for the pair */
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
} MsSyncPlan;

void ms_sync_plan_free (MsSyncPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsSyncPlan, ms_sync_plan_free)

/* far: the server listing; near: the Maildir scan; state: saved state (not
 * modified).  Fails only for the mass-deletion guard (MS_ERROR_LIMIT). */
MsSyncPlan *ms_sync_plan_make (const MsFarListing *far, const MsMaildirScan *near,
                               const MsSyncState *state, const MsSyncPolicy *policy, GError **error);
