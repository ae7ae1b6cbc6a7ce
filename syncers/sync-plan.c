/* sync-plan.c — see sync-plan.h for the rules.
 *
 * The planner walks the saved pairs once (flags, deletions, removals), then
 * the unpaired server messages (pulls, server expunges), then the unpaired
 * Maildir messages (pushes, Maildir removals).  Lookups go through hash
 * tables built once, so a plan is linear in the number of messages.
 *
 * Each side of a pair is classified first (PRESENT, GONE, ABSENT); what the
 * pair becomes follows from the two classes, the flags and the policy, in
 * one place (plan_pair), so that every combination has exactly one rule.
 */
#include "sync-plan.h"

#include "ms-error.h"

void
ms_sync_plan_free (MsSyncPlan *plan)
{
  if (plan == NULL)
    return;
  g_array_unref (plan->actions);
  g_free (plan);
}

typedef enum {
  SIDE_ABSENT,  /* UID 0: gone, deletion dealt with */
  SIDE_GONE,    /* UID not there any more */
  SIDE_PRESENT,
} Side;

typedef struct {
  const MsFarListing *far;
  const MsMaildirScan *near;
  const MsSyncState *state;
  const MsSyncPolicy *policy;
  GHashTable *far_by_uid;   /* uid -> MsFarMessage* */
  GHashTable *near_by_uid;  /* uid -> index + 1 */
  GHashTable *vanished;     /* uid set */
  GHashTable *paired_far;   /* far uids in pairs */
  GHashTable *paired_near;  /* near uids in pairs */
  MsSyncPlan *plan;
  /* Deletions on a side caused by the other side (the guard's count). */
  guint far_deleted, near_deleted;
} Planner;

static void
add (Planner *p, MsSyncAction action)
{
  g_array_append_val (p->plan->actions, action);
}

/* The merged flags of a pair: a bit changed on one side only takes that
 * side's value (when both changed, they agree). */
static MsFlags
merge (MsFlags base, MsFlags far, MsFlags near)
{
  MsFlags far_changed = far ^ base, near_changed = near ^ base;
  return (base & ~far_changed & ~near_changed) | (far & far_changed) | (near & near_changed);
}

/* `flags` with the bits in `mask` taken from `base`: changes there are not
 * carried to the other side. */
static MsFlags
unchanged_bits (MsFlags flags, MsFlags base, MsFlags mask)
{
  return (flags & ~mask) | (base & mask);
}

static const MsFarMessage *
far_lookup (Planner *p, guint32 uid)
{
  return g_hash_table_lookup (p->far_by_uid, GUINT_TO_POINTER (uid));
}

static void
plan_pair (Planner *p, const MsSyncPair *pair)
{
  const MsSyncPolicy *pol = p->policy;
  MsSyncPlan *plan = p->plan;

  /* Classify both sides. */
  const MsFarMessage *fm = NULL;
  gboolean far_vanished = FALSE;
  Side fs;
  if (pair->far_uid == 0) {
    fs = SIDE_ABSENT;
  } else if (p->far->partial && g_hash_table_contains (p->vanished, GUINT_TO_POINTER (pair->far_uid))) {
    fs = SIDE_GONE;
    far_vanished = TRUE;
  } else {
    fm = far_lookup (p, pair->far_uid);
    /* In a partial listing an unlisted message is there, unchanged. */
    fs = fm != NULL || p->far->partial ? SIDE_PRESENT : SIDE_GONE;
  }
  gint ni = pair->near_uid == 0
              ? -1
              : GPOINTER_TO_INT (g_hash_table_lookup (p->near_by_uid, GUINT_TO_POINTER (pair->near_uid))) - 1;
  Side ns = pair->near_uid == 0 ? SIDE_ABSENT : ni < 0 ? SIDE_GONE : SIDE_PRESENT;
  const MsMaildirMessage *nm = ni < 0 ? NULL : g_ptr_array_index (p->near->messages, ni);

  if (fs != SIDE_PRESENT && ns != SIDE_PRESENT) {
    add (p, (MsSyncAction) { .kind = MS_ACTION_UNPAIR, .far_uid = pair->far_uid, .near_uid = pair->near_uid });
    return;
  }

  const MsFlags base = pair->flags;
  const MsFlags far_flags = fs == SIDE_PRESENT ? (fm ? fm->flags : base) : 0;
  const MsFlags near_flags = nm ? nm->flags : 0;
  MsFlags want_far = far_flags, want_near = near_flags, synced = base;
  guint32 new_far = pair->far_uid, new_near = pair->near_uid;
  gboolean far_deleted = FALSE, near_deleted = FALSE; /* by the other side */

  if (fs == SIDE_PRESENT && ns == SIDE_PRESENT) {
    /* What each side contributes to the other. */
    MsFlags far_src = far_flags, near_src = near_flags;
    if (pair->status & MS_SYNC_PAIR_PLACEHOLDER_FAR)
      far_src = unchanged_bits (far_src, base, MS_FLAG_SEEN | MS_FLAG_FLAGGED);
    if (pair->status & MS_SYNC_PAIR_PLACEHOLDER_NEAR)
      near_src = unchanged_bits (near_src, base, MS_FLAG_SEEN | MS_FLAG_FLAGGED);
    if (pair->status & MS_SYNC_PAIR_EXPIRED)
      near_src = unchanged_bits (near_src, base, MS_FLAG_DELETED);
    if (pol->pull_flags)
      want_near = merge (base, far_src, near_flags);
    if (pol->push_flags)
      want_far = merge (base, far_flags, near_src);
    synced = merge (base, pol->pull_flags ? far_src : base, pol->push_flags ? near_src : base);
  } else if (fs == SIDE_PRESENT) {
    if (ns == SIDE_GONE && (pair->status & MS_SYNC_PAIR_EXPIRED)) {
      new_near = 0; /* expired, not deleted: nothing to propagate */
    } else if (ns == SIDE_GONE && pol->push_delete) {
      want_far |= MS_FLAG_DELETED;
      far_deleted = !(far_flags & MS_FLAG_DELETED);
      new_near = 0;
    }
  } else {
    if (fs == SIDE_GONE && pol->pull_delete) {
      want_near |= MS_FLAG_DELETED;
      near_deleted = !(near_flags & MS_FLAG_DELETED);
      new_far = 0;
    } else if (far_vanished) {
      new_far = 0; /* the server will not report it again */
    }
  }

  gboolean remove_far = fs == SIDE_PRESENT && (want_far & MS_FLAG_DELETED) && pol->expunge_far;
  gboolean remove_near = ns == SIDE_PRESENT && (want_near & MS_FLAG_DELETED) && pol->expunge_near;
  if (fs == SIDE_PRESENT && ns == SIDE_PRESENT) {
    /* \Deleted from the other side, expunged here. */
    far_deleted = remove_far && !(far_flags & MS_FLAG_DELETED);
    near_deleted = remove_near && !(near_flags & MS_FLAG_DELETED);
  }
  p->far_deleted += far_deleted;
  p->near_deleted += near_deleted;

  /* A message about to be removed gets only its deletion (as in mbsync). */
  if (remove_far)
    want_far = far_flags | MS_FLAG_DELETED;
  if (fs == SIDE_PRESENT && want_far != far_flags) {
    add (p, (MsSyncAction) { .kind = MS_ACTION_FLAGS_FAR, .far_uid = pair->far_uid, .near_uid = pair->near_uid,
                             .add = want_far & ~far_flags, .remove = far_flags & ~want_far });
    plan->n_flags_far++;
  }
  if (remove_near) {
    add (p, (MsSyncAction) { .kind = MS_ACTION_REMOVE_NEAR, .far_uid = pair->far_uid,
                             .near_uid = pair->near_uid, .near_index = (guint) ni });
    plan->n_remove_near++;
    new_near = 0;
  } else if (ns == SIDE_PRESENT && want_near != near_flags) {
    add (p, (MsSyncAction) { .kind = MS_ACTION_FLAGS_NEAR, .far_uid = pair->far_uid,
                             .near_uid = pair->near_uid, .near_index = (guint) ni, .flags = want_near });
    plan->n_flags_near++;
  }
  if (remove_far) {
    add (p, (MsSyncAction) { .kind = MS_ACTION_EXPUNGE_FAR, .far_uid = pair->far_uid, .near_uid = pair->near_uid });
    plan->n_expunge_far++;
    new_far = 0;
  }

  /* What the pair becomes. */
  gboolean far_stays = fs == SIDE_PRESENT && !remove_far;
  gboolean near_stays = ns == SIDE_PRESENT && !remove_near;
  if (!far_stays && !near_stays) {
    add (p, (MsSyncAction) { .kind = MS_ACTION_UNPAIR, .far_uid = pair->far_uid, .near_uid = pair->near_uid });
  } else if (new_far != pair->far_uid || new_near != pair->near_uid) {
    /* One journal line that replaces the pair: no crash can lose it. */
    add (p, (MsSyncAction) { .kind = MS_ACTION_PAIR_FLAGS, .far_uid = new_far, .near_uid = new_near,
                             .flags = synced });
  } else if (synced != base) {
    add (p, (MsSyncAction) { .kind = MS_ACTION_PAIR_FLAGS, .far_uid = pair->far_uid,
                             .near_uid = pair->near_uid, .flags = synced });
  }
}

/* Server messages that no pair holds: pulls, and expunges of \Deleted ones. */
static void
plan_far_unpaired (Planner *p)
{
  const MsSyncPolicy *pol = p->policy;
  MsSyncPlan *plan = p->plan;
  guint32 max_pulled = p->state->max_pulled;
  guint32 considered = max_pulled;

  for (guint i = 0; i < p->far->messages->len; i++) {
    const MsFarMessage *m = &g_array_index (p->far->messages, MsFarMessage, i);
    gboolean is_new = m->uid > max_pulled && pol->pull_new;
    if (is_new)
      considered = MAX (considered, m->uid);
    if (g_hash_table_contains (p->paired_far, GUINT_TO_POINTER (m->uid)))
      continue;
    if (m->flags & MS_FLAG_DELETED) {
      if (is_new && !pol->expunge_far && !pol->expunge_near) {
        add (p, (MsSyncAction) { .kind = MS_ACTION_PULL, .far_uid = m->uid, .flags = m->flags });
        plan->n_pull++;
      }
      if (pol->expunge_far) {
        add (p, (MsSyncAction) { .kind = MS_ACTION_EXPUNGE_FAR, .far_uid = m->uid });
        plan->n_expunge_far++;
      }
    } else if (is_new) {
      add (p, (MsSyncAction) { .kind = MS_ACTION_PULL, .far_uid = m->uid, .flags = m->flags });
      plan->n_pull++;
    }
  }
  plan->max_pulled = considered;
}

/* Maildir messages that no pair holds: pushes, and removals of T ones. */
static void
plan_near_unpaired (Planner *p)
{
  const MsSyncPolicy *pol = p->policy;
  MsSyncPlan *plan = p->plan;
  guint32 max_pushed = p->state->max_pushed;
  guint32 considered = max_pushed, hold = 0; /* 0: nothing held back */

  for (guint i = 0; i < p->near->messages->len; i++) {
    const MsMaildirMessage *m = g_ptr_array_index (p->near->messages, i);
    gboolean is_new = m->uid == 0 || m->uid > max_pushed;
    if (m->uid != 0 && g_hash_table_contains (p->paired_near, GUINT_TO_POINTER (m->uid))) {
      if (is_new && pol->push_new)
        considered = MAX (considered, m->uid);
      continue;
    }
    if (m->flags & MS_FLAG_DELETED) {
      if (pol->expunge_near) {
        add (p, (MsSyncAction) { .kind = MS_ACTION_REMOVE_NEAR, .near_uid = m->uid, .near_index = i });
        plan->n_remove_near++;
        if (is_new && pol->push_new)
          considered = MAX (considered, m->uid);
      } else if (is_new && m->uid != 0) {
        hold = hold ? MIN (hold, m->uid) : m->uid; /* pushed once undeleted */
      }
      continue;
    }
    if (!is_new || !pol->push_new)
      continue;
    add (p, (MsSyncAction) { .kind = MS_ACTION_PUSH, .near_uid = m->uid, .near_index = i, .flags = m->flags });
    plan->n_push++;
    considered = MAX (considered, m->uid);
  }
  plan->max_pushed = hold ? MAX (max_pushed, MIN (considered, hold - 1)) : considered;
  plan->near_hold = hold;
}

MsSyncPlan *
ms_sync_plan_make (const MsFarListing *far, const MsMaildirScan *near, const MsSyncState *state,
                   const MsSyncPolicy *policy, GError **error)
{
  g_return_val_if_fail (far != NULL && far->messages != NULL, NULL);
  g_return_val_if_fail (near != NULL && near->messages != NULL, NULL);
  g_return_val_if_fail (state != NULL && policy != NULL, NULL);

  Planner p = { far, near, state, policy };
  g_autoptr (MsSyncPlan) plan = g_new0 (MsSyncPlan, 1);
  plan->actions = g_array_new (FALSE, TRUE, sizeof (MsSyncAction));
  p.plan = plan;
  p.far_by_uid = g_hash_table_new (NULL, NULL);
  p.near_by_uid = g_hash_table_new (NULL, NULL);
  p.vanished = g_hash_table_new (NULL, NULL);
  p.paired_far = g_hash_table_new (NULL, NULL);
  p.paired_near = g_hash_table_new (NULL, NULL);

  for (guint i = 0; i < far->messages->len; i++) {
    MsFarMessage *m = &g_array_index (far->messages, MsFarMessage, i);
    g_hash_table_insert (p.far_by_uid, GUINT_TO_POINTER (m->uid), m);
  }
  for (guint i = 0; far->vanished && i < far->vanished->len; i++)
    g_hash_table_add (p.vanished, GUINT_TO_POINTER (g_array_index (far->vanished, guint32, i)));
  for (guint i = 0; i < near->messages->len; i++) {
    const MsMaildirMessage *m = g_ptr_array_index (near->messages, i);
    if (m->uid != 0)
      g_hash_table_insert (p.near_by_uid, GUINT_TO_POINTER (m->uid), GINT_TO_POINTER (i + 1));
  }
  guint far_paired = 0;
  for (guint i = 0; i < state->pairs->len; i++) {
    const MsSyncPair *pair = &g_array_index (state->pairs, MsSyncPair, i);
    if (pair->far_uid)
      g_hash_table_add (p.paired_far, GUINT_TO_POINTER (pair->far_uid)), far_paired++;
    if (pair->near_uid)
      g_hash_table_add (p.paired_near, GUINT_TO_POINTER (pair->near_uid));
  }

  for (guint i = 0; i < state->pairs->len; i++)
    plan_pair (&p, &g_array_index (state->pairs, MsSyncPair, i));
  plan_far_unpaired (&p);
  plan_near_unpaired (&p);

  g_hash_table_unref (p.far_by_uid);
  g_hash_table_unref (p.near_by_uid);
  g_hash_table_unref (p.vanished);
  g_hash_table_unref (p.paired_far);
  g_hash_table_unref (p.paired_near);

  /* The mass-deletion guard.  A partial listing does not show every server
   * message; the pairs stand in for the unlisted ones. */
  guint far_total = far->partial ? MAX (far_paired, far->messages->len) : far->messages->len;
  guint near_total = near->messages->len;
  const char *side = NULL;
  guint deleted = 0, total = 0;
  if (p.far_deleted > MS_SYNC_PLAN_MASS_DELETE_MIN && p.far_deleted * 2 > far_total)
    side = "server", deleted = p.far_deleted, total = far_total;
  else if (p.near_deleted > MS_SYNC_PLAN_MASS_DELETE_MIN && p.near_deleted * 2 > near_total)
    side = "Maildir", deleted = p.near_deleted, total = near_total;
  if (side != NULL && !policy->force) {
    g_set_error (error, MS_ERROR, MS_ERROR_LIMIT,
                 "refusing to remove %u of %u messages on the %s side (more than half), because they "
                 "are gone or deleted on the other side; if this is intended, run once with --force",
                 deleted, total, side);
    return NULL;
  }
  return g_steal_pointer (&plan);
}
