/* sync-plan.c — see sync-plan.h for the rules.
 *
 * The planner walks the saved pairs once (flags, deletions), then the
 * server messages above max_pulled (pulls), then the unpaired Maildir
 * messages (pushes).  Lookups go through hash tables built once, so a plan
 * is linear in the number of messages.
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

static void
add (MsSyncPlan *plan, MsSyncAction action)
{
  g_array_append_val (plan->actions, action);
}

/* The merged flags of a pair: a bit changed on one side only takes that
 * side's value (when both changed, they agree). */
static MsFlags
merge (MsFlags base, MsFlags far, MsFlags near)
{
  MsFlags far_changed = far ^ base, near_changed = near ^ base;
  return (base & ~far_changed & ~near_changed) | (far & far_changed) | (near & near_changed);
}

typedef struct {
  const MsFarListing *far;
  const MsMaildirScan *near;
  const MsSyncState *state;
  const MsSyncPolicy *policy;
  GHashTable *far_by_uid;   /* uid -> MsFarMessage* */
  GHashTable *near_by_uid;  /* uid -> index + 1 */
  GHashTable *vanished;     /* uid set */
  GHashTable *paired_near;  /* near uids in pairs */
  MsSyncPlan *plan;
  guint far_removed, near_removed;
} Planner;

static const MsFarMessage *
far_lookup (Planner *p, guint32 uid)
{
  return g_hash_table_lookup (p->far_by_uid, GUINT_TO_POINTER (uid));
}

/* TRUE if the server no longer has a paired message. */
static gboolean
far_gone (Planner *p, guint32 uid)
{
  if (uid == 0)
    return TRUE;
  if (!p->far->partial)
    return far_lookup (p, uid) == NULL;
  return g_hash_table_contains (p->vanished, GUINT_TO_POINTER (uid));
}

static gint
near_index (Planner *p, guint32 uid)
{
  if (uid == 0)
    return -1;
  return GPOINTER_TO_INT (g_hash_table_lookup (p->near_by_uid, GUINT_TO_POINTER (uid))) - 1;
}

static void
plan_pair (Planner *p, const MsSyncPair *pair)
{
  const MsSyncPolicy *pol = p->policy;
  gboolean fgone = far_gone (p, pair->far_uid);
  gint ni = near_index (p, pair->near_uid);
  gboolean ngone = ni < 0;
  const MsMaildirMessage *nm = ngone ? NULL : g_ptr_array_index (p->near->messages, ni);

  if (fgone && ngone) {
    add (p->plan, (MsSyncAction) { MS_ACTION_UNPAIR, pair->far_uid, pair->near_uid });
    return;
  }
  if (fgone) {
    if (!pol->pull_delete)
      return;
    if (pol->expunge_near) {
      add (p->plan, (MsSyncAction) { MS_ACTION_REMOVE_NEAR, pair->far_uid, pair->near_uid, (guint) ni });
      add (p->plan, (MsSyncAction) { MS_ACTION_UNPAIR, pair->far_uid, pair->near_uid });
      p->plan->n_remove_near++;
      p->near_removed++;
    } else if (!(nm->flags & MS_FLAG_DELETED)) {
      add (p->plan, (MsSyncAction) { MS_ACTION_FLAGS_NEAR, pair->far_uid, pair->near_uid, (guint) ni,
                                      nm->flags | MS_FLAG_DELETED });
      p->plan->n_flags_near++;
    }
    return;
  }

  const MsFarMessage *fm = far_lookup (p, pair->far_uid);
  if (ngone) {
    if (!pol->push_delete)
      return;
    MsFlags fflags = fm ? fm->flags : pair->flags;
    if (fm == NULL || !(fflags & MS_FLAG_DELETED)) {
      add (p->plan, (MsSyncAction) { .kind = MS_ACTION_FLAGS_FAR, .far_uid = pair->far_uid,
                                      .near_uid = pair->near_uid, .add = MS_FLAG_DELETED });
      p->plan->n_flags_far++;
    }
    if (pol->expunge_far) {
      add (p->plan, (MsSyncAction) { MS_ACTION_EXPUNGE_FAR, pair->far_uid, pair->near_uid });
      add (p->plan, (MsSyncAction) { MS_ACTION_UNPAIR, pair->far_uid, pair->near_uid });
      p->plan->n_expunge_far++;
      p->far_removed++;
    }
    return;
  }

  /* Both present.  In a partial listing an absent server message is unchanged. */
  MsFlags far_flags = fm ? fm->flags : pair->flags;
  MsFlags near_flags = nm->flags;
  MsFlags merged = merge (pair->flags, far_flags, near_flags);
  MsFlags want_near = pol->pull_flags ? merged : near_flags;
  MsFlags want_far = pol->push_flags ? merged : far_flags;

  if (want_far != far_flags) {
    add (p->plan, (MsSyncAction) { .kind = MS_ACTION_FLAGS_FAR, .far_uid = pair->far_uid,
                                    .near_uid = pair->near_uid, .add = want_far & ~far_flags,
                                    .remove = far_flags & ~want_far });
    p->plan->n_flags_far++;
  }
  if (want_near != near_flags) {
    add (p->plan, (MsSyncAction) { MS_ACTION_FLAGS_NEAR, pair->far_uid, pair->near_uid, (guint) ni,
                                    want_near });
    p->plan->n_flags_near++;
  }
  /* With one direction off, the base is the side that is not updated, so
   * that the other side's differences are never mistaken for its changes. */
  MsFlags synced = !pol->pull_flags ? want_near : !pol->push_flags ? want_far : merged;
  if (synced != pair->flags)
    add (p->plan, (MsSyncAction) { MS_ACTION_PAIR_FLAGS, pair->far_uid, pair->near_uid, 0, synced });

  /* Expunge propagation of a flag-deleted pair. */
  if ((want_far & MS_FLAG_DELETED) && pol->expunge_far) {
    add (p->plan, (MsSyncAction) { MS_ACTION_EXPUNGE_FAR, pair->far_uid, pair->near_uid });
    p->plan->n_expunge_far++;
    p->far_removed++;
  }
  if ((want_near & MS_FLAG_DELETED) && pol->expunge_near) {
    add (p->plan, (MsSyncAction) { MS_ACTION_REMOVE_NEAR, pair->far_uid, pair->near_uid, (guint) ni });
    p->plan->n_remove_near++;
    p->near_removed++;
  }
  if ((want_far & MS_FLAG_DELETED) && (want_near & MS_FLAG_DELETED) && pol->expunge_far
      && pol->expunge_near)
    add (p->plan, (MsSyncAction) { MS_ACTION_UNPAIR, pair->far_uid, pair->near_uid });
}

MsSyncPlan *
ms_sync_plan_make (const MsFarListing *far, const MsMaildirScan *near, const MsSyncState *state,
                   const MsSyncPolicy *policy, GError **error)
{
  Planner p = { far, near, state, policy };
  g_autoptr (MsSyncPlan) plan = g_new0 (MsSyncPlan, 1);
  plan->actions = g_array_new (FALSE, TRUE, sizeof (MsSyncAction));
  p.plan = plan;
  p.far_by_uid = g_hash_table_new (NULL, NULL);
  p.near_by_uid = g_hash_table_new (NULL, NULL);
  p.vanished = g_hash_table_new (NULL, NULL);
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

  /* 1. Pairs: flags and deletions. */
  GHashTable *paired_far = g_hash_table_new (NULL, NULL);
  for (guint i = 0; i < state->pairs->len; i++) {
    const MsSyncPair *pair = &g_array_index (state->pairs, MsSyncPair, i);
    if (pair->far_uid)
      g_hash_table_add (paired_far, GUINT_TO_POINTER (pair->far_uid));
    if (pair->near_uid)
      g_hash_table_add (p.paired_near, GUINT_TO_POINTER (pair->near_uid));
    plan_pair (&p, pair);
  }

  /* 2. New on the server. */
  for (guint i = 0; i < far->messages->len; i++) {
    const MsFarMessage *m = &g_array_index (far->messages, MsFarMessage, i);
    if (m->uid <= state->max_pulled || g_hash_table_contains (paired_far, GUINT_TO_POINTER (m->uid)))
      continue;
    if ((m->flags & MS_FLAG_DELETED) && policy->expunge_near)
      continue; /* would be removed again right away */
    if (policy->pull_new) {
      add (plan, (MsSyncAction) { MS_ACTION_PULL, m->uid, 0, 0, m->flags });
      plan->n_pull++;
    }
  }

  /* 3. New in the Maildir; unpaired deleted ones go when expunging. */
  for (guint i = 0; i < near->messages->len; i++) {
    const MsMaildirMessage *m = g_ptr_array_index (near->messages, i);
    if (m->uid != 0 && (m->uid <= state->max_pushed || g_hash_table_contains (p.paired_near, GUINT_TO_POINTER (m->uid))))
      continue;
    if (m->flags & MS_FLAG_DELETED) {
      if (policy->expunge_near) {
        add (plan, (MsSyncAction) { MS_ACTION_REMOVE_NEAR, 0, m->uid, i });
        plan->n_remove_near++;
        p.near_removed++;
      }
      continue;
    }
    if (policy->push_new) {
      add (plan, (MsSyncAction) { MS_ACTION_PUSH, 0, m->uid, i, m->flags });
      plan->n_push++;
    }
  }
  g_hash_table_unref (paired_far);

  /* 4. The mass-deletion guard. */
  guint far_total = far->partial ? MAX (state->pairs->len, far->messages->len) : far->messages->len;
  guint near_total = near->messages->len;
  gboolean refuse = FALSE;
  const char *side = NULL;
  guint removed = 0, total = 0;
  if (p.far_removed > MS_SYNC_PLAN_MASS_DELETE_MIN && p.far_removed * 2 > far_total) {
    refuse = TRUE, side = "server", removed = p.far_removed, total = far_total;
  } else if (p.near_removed > MS_SYNC_PLAN_MASS_DELETE_MIN && p.near_removed * 2 > near_total) {
    refuse = TRUE, side = "Maildir", removed = p.near_removed, total = near_total;
  }

  g_hash_table_unref (p.far_by_uid);
  g_hash_table_unref (p.near_by_uid);
  g_hash_table_unref (p.vanished);
  g_hash_table_unref (p.paired_near);

  if (refuse && !policy->force) {
    g_set_error (error, MS_ERROR, MS_ERROR_LIMIT,
                 "refusing to remove %u of %u messages on the %s side (more than half); "
                 "if this is intended, run once with --force", removed, total, side);
    return NULL;
  }
  return g_steal_pointer (&plan);
}
