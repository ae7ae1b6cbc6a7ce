/* test-sync-plan.c — the sync planner, as tables: each row gives the server
 * listing, the Maildir scan, the saved state and the policy, and the exact
 * list of actions expected (or the mass-deletion error).
 *
 * Notation, so that a row reads like the situation it describes:
 *   far     "1 2:S 3:FT"         UID[:FLAGS] per server message
 *   vanish  "4 5" or ""          non-NULL makes the listing partial (QRESYNC)
 *   near    "1:S 0:R 7"          UID[:FLAGS] per Maildir message; the scan
 *                                index is the position (n0, n1, ...)
 *   state   "PULLED PUSHED | F N [MARKERS]FLAGS, ..."  (mbsync's pair lines)
 *   policy  words: all (every Sync operation), pull-new push-new pull-flags
 *           push-flags pull-delete push-delete expunge-far expunge-near
 *           expunge (both) force
 *   expect  actions joined by "; ":
 *           pull F FLAGS | push nI FLAGS | far F +ADD-REMOVE | near nI FLAGS
 *           | pair F N FLAGS | remove nI | expunge F | unpair F N
 *           ("-" for no flags), then optionally "| max PULLED PUSHED".
 */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "ms-error.h"
#include "sync-plan.h"

/* ---- building the inputs ---------------------------------------------------- */

static MsFlags
letters (const char *s)
{
  return ms_flags_from_letters (s, strlen (s));
}

/* "UID[:FLAGS]" */
static void
parse_item (const char *item, guint32 *uid, MsFlags *flags)
{
  g_auto (GStrv) kv = g_strsplit (item, ":", 2);
  guint64 v;
  g_assert_true (g_ascii_string_to_unsigned (kv[0], 10, 0, G_MAXUINT32, &v, NULL));
  *uid = (guint32) v;
  *flags = kv[1] ? letters (kv[1]) : 0;
}

static MsFarListing
make_far (const char *far, const char *vanished)
{
  MsFarListing l = { g_array_new (FALSE, TRUE, sizeof (MsFarMessage)), vanished != NULL, NULL, 0 };
  g_auto (GStrv) items = g_strsplit (far, " ", -1);
  for (guint i = 0; items[i]; i++) {
    if (*items[i] == '\0')
      continue;
    MsFarMessage m = { 0 };
    parse_item (items[i], &m.uid, &m.flags);
    g_array_append_val (l.messages, m);
  }
  if (vanished != NULL) {
    l.vanished = g_array_new (FALSE, TRUE, sizeof (guint32));
    g_auto (GStrv) v = g_strsplit (vanished, " ", -1);
    for (guint i = 0; v[i]; i++) {
      guint64 u;
      if (*v[i] == '\0')
        continue;
      g_assert_true (g_ascii_string_to_unsigned (v[i], 10, 1, G_MAXUINT32, &u, NULL));
      guint32 uid = (guint32) u;
      g_array_append_val (l.vanished, uid);
    }
  }
  return l;
}

static void
far_clear (MsFarListing *l)
{
  g_array_unref (l->messages);
  if (l->vanished)
    g_array_unref (l->vanished);
}

static MsMaildirScan *
make_near (const char *near)
{
  MsMaildirScan *scan = g_new0 (MsMaildirScan, 1);
  scan->path = g_strdup ("/nonexistent");
  scan->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) ms_maildir_message_free);
  g_auto (GStrv) items = g_strsplit (near, " ", -1);
  for (guint i = 0; items[i]; i++) {
    if (*items[i] == '\0')
      continue;
    MsMaildirMessage *m = g_new0 (MsMaildirMessage, 1);
    parse_item (items[i], &m->uid, &m->flags);
    m->key = g_strdup_printf ("key%u", i);
    m->name = g_strdup_printf ("%s,U=%u:2,", m->key, m->uid);
    g_ptr_array_add (scan->messages, m);
    scan->max_uid = MAX (scan->max_uid, m->uid);
  }
  scan->uidvalidity = 1;
  return scan;
}

/* "PULLED PUSHED | F N FLAGS, ..." through the real parser. */
static MsSyncState *
make_state (const char *state)
{
  g_auto (GStrv) parts = g_strsplit (state, "|", 2);
  guint max_pulled = 0, max_pushed = 0;
  g_assert_cmpint (sscanf (parts[0], "%u %u", &max_pulled, &max_pushed), ==, 2);
  GString *text = g_string_new (NULL);
  g_string_append_printf (text, "FarUidValidity 1\nNearUidValidity 1\nMaxPulledUid %u\nMaxPushedUid %u\n\n",
                          max_pulled, max_pushed);
  if (parts[1] != NULL) {
    g_auto (GStrv) pairs = g_strsplit (parts[1], ",", -1);
    for (guint i = 0; pairs[i]; i++) {
      g_autofree char *p = g_strstrip (g_strdup (pairs[i]));
      if (*p != '\0')
        g_string_append_printf (text, "%s\n", p);
    }
  }
  g_autoptr (GError) error = NULL;
  MsSyncState *s = ms_sync_state_parse ("state", text->str, text->len, NULL, 0, &error);
  g_assert_no_error (error);
  g_string_free (text, TRUE);
  return s;
}

static MsSyncPolicy
make_policy (const char *words)
{
  MsSyncPolicy p = { 0 };
  g_auto (GStrv) w = g_strsplit (words, " ", -1);
  for (guint i = 0; w[i]; i++) {
    const char *x = w[i];
    if (g_str_equal (x, "all"))
      p.pull_new = p.push_new = p.pull_flags = p.push_flags = p.pull_delete = p.push_delete = TRUE;
    else if (g_str_equal (x, "pull-new"))
      p.pull_new = TRUE;
    else if (g_str_equal (x, "push-new"))
      p.push_new = TRUE;
    else if (g_str_equal (x, "pull-flags"))
      p.pull_flags = TRUE;
    else if (g_str_equal (x, "push-flags"))
      p.push_flags = TRUE;
    else if (g_str_equal (x, "pull-delete"))
      p.pull_delete = TRUE;
    else if (g_str_equal (x, "push-delete"))
      p.push_delete = TRUE;
    else if (g_str_equal (x, "expunge-far"))
      p.expunge_far = TRUE;
    else if (g_str_equal (x, "expunge-near"))
      p.expunge_near = TRUE;
    else if (g_str_equal (x, "expunge"))
      p.expunge_far = p.expunge_near = TRUE;
    else if (g_str_equal (x, "force"))
      p.force = TRUE;
    else if (*x != '\0')
      g_error ("unknown policy word %s", x);
  }
  return p;
}

/* ---- rendering the plan ------------------------------------------------------ */

static char *
flag_str (MsFlags f)
{
  return f ? ms_flags_to_letters (f) : g_strdup ("-");
}

/* Checks what the rendering leaves out: the near index and UID agree with
 * the scan, and the counters with the actions. */
static char *
render (const MsSyncPlan *plan, const MsMaildirScan *scan, gboolean with_max)
{
  GString *out = g_string_new (NULL);
  guint n[8] = { 0 };
  for (guint i = 0; i < plan->actions->len; i++) {
    const MsSyncAction *a = &g_array_index (plan->actions, MsSyncAction, i);
    g_autofree char *f = flag_str (a->flags);
    if (out->len)
      g_string_append (out, "; ");
    n[a->kind]++;
    if (a->kind == MS_ACTION_PUSH || a->kind == MS_ACTION_FLAGS_NEAR || a->kind == MS_ACTION_REMOVE_NEAR) {
      g_assert_cmpuint (a->near_index, <, scan->messages->len);
      const MsMaildirMessage *m = g_ptr_array_index (scan->messages, a->near_index);
      g_assert_cmpuint (a->near_uid, ==, m->uid);
    }
    switch (a->kind) {
    case MS_ACTION_PULL:
      g_string_append_printf (out, "pull %u %s", a->far_uid, f);
      break;
    case MS_ACTION_PUSH:
      g_string_append_printf (out, "push n%u %s", a->near_index, f);
      break;
    case MS_ACTION_FLAGS_FAR: {
      g_assert_cmpuint (a->add & a->remove, ==, 0);
      g_assert_cmpuint (a->add | a->remove, !=, 0);
      g_autofree char *ad = ms_flags_to_letters (a->add), *rm = ms_flags_to_letters (a->remove);
      g_string_append_printf (out, "far %u %s%s%s%s", a->far_uid, *ad ? "+" : "", ad, *rm ? "-" : "", rm);
      break;
    }
    case MS_ACTION_FLAGS_NEAR:
      g_string_append_printf (out, "near n%u %s", a->near_index, f);
      break;
    case MS_ACTION_PAIR_FLAGS:
      g_string_append_printf (out, "pair %u %u %s", a->far_uid, a->near_uid, f);
      break;
    case MS_ACTION_REMOVE_NEAR:
      g_string_append_printf (out, "remove n%u", a->near_index);
      break;
    case MS_ACTION_EXPUNGE_FAR:
      g_string_append_printf (out, "expunge %u", a->far_uid);
      break;
    case MS_ACTION_UNPAIR:
      g_string_append_printf (out, "unpair %u %u", a->far_uid, a->near_uid);
      break;
    }
  }
  g_assert_cmpuint (plan->n_pull, ==, n[MS_ACTION_PULL]);
  g_assert_cmpuint (plan->n_push, ==, n[MS_ACTION_PUSH]);
  g_assert_cmpuint (plan->n_flags_far, ==, n[MS_ACTION_FLAGS_FAR]);
  g_assert_cmpuint (plan->n_flags_near, ==, n[MS_ACTION_FLAGS_NEAR]);
  g_assert_cmpuint (plan->n_remove_near, ==, n[MS_ACTION_REMOVE_NEAR]);
  g_assert_cmpuint (plan->n_expunge_far, ==, n[MS_ACTION_EXPUNGE_FAR]);
  if (with_max)
    g_string_append_printf (out, "%smax %u %u", out->len ? " | " : "| ", plan->max_pulled, plan->max_pushed);
  if (with_max && plan->near_hold != 0)
    g_string_append_printf (out, " hold %u", plan->near_hold);
  return g_string_free (out, FALSE);
}

typedef struct {
  const char *name;
  const char *far, *vanished, *near, *state, *policy;
  const char *expect; /* or "error: TEXT" (a substring of the message) */
} PlanCase;

/* Runs one row; returns the plan's rendering or "error: MESSAGE". */
static char *
run_case (const PlanCase *c)
{
  MsFarListing far = make_far (c->far, c->vanished);
  g_autoptr (MsMaildirScan) near = make_near (c->near);
  g_autoptr (MsSyncState) state = make_state (c->state);
  MsSyncPolicy policy = make_policy (c->policy);
  g_autofree char *before = ms_sync_state_format (state);
  g_autoptr (GError) error = NULL;
  g_autoptr (MsSyncPlan) plan = ms_sync_plan_make (&far, near, state, &policy, &error);
  /* The planner never changes its inputs. */
  g_autofree char *after = ms_sync_state_format (state);
  g_assert_cmpstr (before, ==, after);
  far_clear (&far);
  if (plan == NULL) {
    g_assert_error (error, MS_ERROR, MS_ERROR_LIMIT);
    return g_strdup_printf ("error: %s", error->message);
  }
  g_assert_no_error (error);
  return render (plan, near, strstr (c->expect, "max ") != NULL);
}

static void
check_cases (const PlanCase *cases, gsize n)
{
  for (gsize i = 0; i < n; i++) {
    const PlanCase *c = &cases[i];
    g_test_message ("case %s", c->name);
    g_autofree char *got = run_case (c);
    if (g_str_has_prefix (c->expect, "error: ")) {
      if (strstr (got, c->expect + 7) == NULL)
        g_error ("case %s: got \"%s\", want an error with \"%s\"", c->name, got, c->expect + 7);
    } else if (!g_str_equal (got, c->expect)) {
      g_error ("case %s:\n  got:  %s\n  want: %s", c->name, got, c->expect);
    }
  }
}

#define N_ELEMENTS(a) G_N_ELEMENTS (a)

/* ---- new messages ----------------------------------------------------------------- */

static const PlanCase new_cases[] = {
  { "nothing at all", "", NULL, "", "0 0", "all", "| max 0 0" },
  { "empty state: everything is new both ways", "1 2:S 3:T", NULL, "0 5:F 6:T", "0 0", "all",
    "pull 1 -; pull 2 S; pull 3 T; push n0 -; push n1 F | max 3 5 hold 6" },
  { "new on the server, above max_pulled", "1 2 3:FS", NULL, "1 2", "2 2 | 1 1 ,2 2 ", "all",
    "pull 3 FS | max 3 2" },
  { "at or below max_pulled and unpaired: never pulled again (mbsync)", "1 2 3", NULL, "1", "3 1 | 1 1 ",
    "all", "| max 3 1" },
  { "max_pulled boundary: UID max_pulled+1 is new", "4 5", NULL, "", "4 0", "pull-new", "pull 5 - | max 5 0" },
  { "new in the Maildir: no UID, or above max_pushed", "1", NULL, "1 0:S 0 4:R", "1 3 | 1 1 ", "all",
    "push n1 S; push n2 -; push n3 R | max 1 4" },
  { "at or below max_pushed and unpaired: not pushed again", "1", NULL, "1 2 3", "1 3 | 1 1 ", "all",
    "| max 1 3" },
  { "Deleted-flag Maildir messages are not pushed", "", NULL, "0:T 0:ST 0:S", "0 0", "all",
    "push n2 S | max 0 0" },
  { "a kept T message with a UID holds max_pushed below it", "", NULL, "4:T 5 6", "0 3", "all",
    "push n1 -; push n2 - | max 0 3 hold 4" },
  { "expunge-near removes unpaired T messages, new or old", "", NULL, "0:T 2:T 5:ST 6", "0 3", "all expunge-near",
    "remove n0; remove n1; remove n2; push n3 - | max 0 6" },
  { "a \\Deleted server message is pulled when nothing is expunged", "5:T", NULL, "", "4 0", "all",
    "pull 5 T | max 5 0" },
  { "... not when the Maildir is expunged (mbsync), and max_pulled passes it", "5:T 6", NULL, "", "4 0",
    "all expunge-near", "pull 6 - | max 6 0" },
  { "... nor when the server is: it is expunged instead", "5:T 6", NULL, "", "4 0", "all expunge-far",
    "expunge 5; pull 6 - | max 6 0" },
  { "expunge-far removes old unpaired \\Deleted server messages too", "2:T 3", NULL, "", "5 0", "all expunge-far",
    "expunge 2 | max 5 0" },
  { "without Pull New: no pulls, max_pulled stays", "1 2", NULL, "", "0 0", "push-new pull-flags",
    "| max 0 0" },
  { "without Push New: no pushes, max_pushed stays", "", NULL, "0 3", "0 0", "pull-new", "| max 0 0" },
  { "paired messages above the maxima still raise them (mbsync)", "9", NULL, "8", "5 5 | 9 8 ", "all",
    "| max 9 8" },
  { "a pushed message's server UID is paired: not pulled back", "1 7", NULL, "1 2", "5 2 | 1 1 ,7 2 ", "all",
    "| max 7 2" },
  { "an orphaned server message (F 0) is not pulled again", "7", NULL, "", "5 0 | 7 0 ", "all",
    "| max 7 0" },
  { "partial listing: new messages are in it", "8 9:S", "", "1", "7 1 | 1 1 ", "all", "pull 8 -; pull 9 S" },
};

static void
test_new (void)
{
  check_cases (new_cases, N_ELEMENTS (new_cases));
}

/* ---- flags ----------------------------------------------------------------------------- */

static const PlanCase flag_cases[] = {
  { "unchanged", "1:S", NULL, "1:S", "1 1 | 1 1 S", "all", "" },
  { "changed on the server only", "1:FS", NULL, "1:S", "1 1 | 1 1 S", "all", "near n0 FS; pair 1 1 FS" },
  { "changed in the Maildir only", "1:S", NULL, "1:RS", "1 1 | 1 1 S", "all", "far 1 +R; pair 1 1 RS" },
  { "a flag removed on the server", "1:-", NULL, "1:S", "1 1 | 1 1 S", "all", "near n0 -; pair 1 1 -" },
  { "a flag removed in the Maildir", "1:FS", NULL, "1:F", "1 1 | 1 1 FS", "all", "far 1 -S; pair 1 1 F" },
  { "both sides made the same change", "1:FS", NULL, "1:FS", "1 1 | 1 1 S", "all", "pair 1 1 FS" },
  { "both sides changed different bits: each gets the other's", "1:FS", NULL, "1:R", "1 1 | 1 1 S", "all",
    "far 1 +R-S; near n0 FR; pair 1 1 FR" },
  { "per bit: added here, removed there, kept, all at once", "1:DS", NULL, "1:FP", "1 1 | 1 1 PS", "all",
    "far 1 +F-S; near n0 DF; pair 1 1 DF" },
  { "Pull Flags only: the Maildir follows, the base becomes the server's", "1:FS", NULL, "1:R",
    "1 1 | 1 1 S", "pull-flags", "near n0 FR; pair 1 1 FS" },
  { "Push Flags only: the server follows, the base becomes the Maildir's", "1:FS", NULL, "1:R",
    "1 1 | 1 1 S", "push-flags", "far 1 +R-S; pair 1 1 R" },
  { "no flag sync: nothing changes, not even the base", "1:FS", NULL, "1:R", "1 1 | 1 1 S", "pull-new push-new",
    "" },
  { "T is a flag like the others (no expunge)", "1:S", NULL, "1:ST", "1 1 | 1 1 S", "all",
    "far 1 +T; pair 1 1 ST" },
  { "partial listing: an unlisted message is unchanged", "", "", "1:FS", "1 1 | 1 1 S", "all",
    "far 1 +F; pair 1 1 FS" },
  { "partial listing: a listed one has its flags", "1:R", "", "1:S", "1 1 | 1 1 S", "all",
    "near n0 R; pair 1 1 R" },
  { "placeholder on the server: its S and F do not reach the Maildir", "1:FRS", NULL, "1", "1 1 | 1 1 <", "all",
    "near n0 R; pair 1 1 R" },
  { "placeholder in the Maildir: its S and F do not reach the server", "1", NULL, "1:DFS", "1 1 | 1 1 >",
    "all", "far 1 +D; pair 1 1 D" },
  { "... but the real message's flags reach the placeholder", "1:FS", NULL, "1", "1 1 | 1 1 >", "all",
    "near n0 FS; pair 1 1 FS" },
  { "expired Maildir copy flagged T: not a deletion for the server", "1:S", NULL, "1:ST", "1 1 | 1 1 ~S",
    "all", "" },
  { "... and expunging the Maildir removes it, the server copy stays", "1:S", NULL, "1:ST", "1 1 | 1 1 ~S",
    "all expunge", "remove n0; pair 1 0 S" },
};

/* PAIR_FLAGS carries no markers: the state keeps a pair's status when the
 * pair is recorded again (see test-sync-state.c). */
static void
test_flags (void)
{
  check_cases (flag_cases, N_ELEMENTS (flag_cases));
}

/* ---- deletions ----------------------------------------------------------------------- */

static const PlanCase delete_cases[] = {
  /* Gone on the server. */
  { "server gone, Pull Delete: Maildir copy flagged T, pair loses its server UID", "", NULL, "1:S",
    "1 1 | 1 1 S", "all", "near n0 ST; pair 0 1 S" },
  { "server gone, Pull Delete + Expunge Near: removed, pair dropped", "", NULL, "1:S", "1 1 | 1 1 S",
    "all expunge-near", "remove n0; unpair 1 1" },
  { "server gone, no Pull Delete: pair kept as it is (full listing)", "", NULL, "1:S", "1 1 | 1 1 S",
    "pull-new push-new pull-flags push-flags push-delete expunge", "" },
  { "server gone, no Pull Delete, VANISHED: server UID dropped, Maildir untouched", "", "1", "1:S",
    "1 1 | 1 1 S", "pull-new push-new pull-flags push-flags push-delete", "pair 0 1 S" },
  { "server gone (VANISHED), Pull Delete", "2", "1", "1:S 2", "2 2 | 1 1 S,2 2 ", "all",
    "near n0 ST; pair 0 1 S" },
  { "server gone but the Maildir copy was already T", "", NULL, "1:ST", "1 1 | 1 1 S", "all",
    "pair 0 1 S" },
  { "server gone, no Pull Delete, own T in the Maildir, Expunge Near: removed", "", NULL, "1:ST",
    "1 1 | 1 1 S", "pull-new expunge-near", "remove n0; unpair 1 1" },
  /* Gone in the Maildir. */
  { "Maildir gone, Push Delete: server copy gets \\Deleted, pair loses its Maildir UID", "1:S", NULL, "",
    "1 1 | 1 1 S", "all", "far 1 +T; pair 1 0 S" },
  { "Maildir gone, Push Delete + Expunge Far: expunged, pair dropped", "1:S", NULL, "", "1 1 | 1 1 S",
    "all expunge-far", "far 1 +T; expunge 1; unpair 1 1" },
  { "Maildir gone, no Push Delete: pair kept", "1:S", NULL, "", "1 1 | 1 1 S",
    "pull-new push-new pull-flags push-flags pull-delete expunge", "" },
  { "Maildir gone, server copy already \\Deleted", "1:ST", NULL, "", "1 1 | 1 1 S", "all",
    "pair 1 0 S" },
  { "Maildir gone, partial listing: the unlisted server copy gets \\Deleted", "", "", "", "1 1 | 1 1 S",
    "all", "far 1 +T; pair 1 0 S" },
  { "expired Maildir copy gone: no deletion, the pair just loses its Maildir UID", "1:S", NULL, "",
    "1 1 | 1 1 ~S", "all expunge", "pair 1 0 S" },
  /* Gone on both sides. */
  { "gone on both sides: pair dropped", "", NULL, "", "1 1 | 1 1 S", "all", "unpair 1 1" },
  { "gone on both sides, no policy at all: still dropped", "", NULL, "", "1 1 | 1 1 S", "", "unpair 1 1" },
  /* Orphans (UID 0), as mbsync leaves them. */
  { "orphan 0 N: nothing is propagated, even with Pull Delete", "", NULL, "4", "7 7 | 0 4 ", "all", "" },
  { "orphan 0 N, undeleted in the Maildir: not deleted again", "", NULL, "4:S", "7 7 | 0 4 T",
    "all expunge", "" },
  { "orphan 0 N, still T, Expunge Near: removed, pair dropped", "", NULL, "4:T", "7 7 | 0 4 ", "all expunge",
    "remove n0; unpair 0 4" },
  { "orphan F 0: nothing is propagated, even with Push Delete", "5", NULL, "", "7 7 | 5 0 ", "all", "" },
  { "orphan F 0, \\Deleted, Expunge Far: expunged, pair dropped", "5:T", NULL, "", "7 7 | 5 0 ",
    "all expunge", "expunge 5; unpair 5 0" },
  { "orphan whose message is gone too: dropped", "", NULL, "", "7 7 | 5 0 ,0 4 ", "all",
    "unpair 0 4; unpair 5 0" },
  { "pair 0 0: dropped", "", NULL, "", "7 7 | 0 0 ", "all", "unpair 0 0" },
  /* Expunge of paired messages. */
  { "\\Deleted on the server, both expunged: both removed, pair dropped", "1:ST", NULL, "1:S", "1 1 | 1 1 S",
    "all expunge", "remove n0; expunge 1; unpair 1 1" },
  { "T in the Maildir, Expunge Far only: the server copy goes, pair keeps the Maildir side", "1:S", NULL,
    "1:ST", "1 1 | 1 1 S", "all expunge-far", "far 1 +T; expunge 1; pair 0 1 ST" },
  { "T in the Maildir, Expunge Near only: removed here, \\Deleted there, pair keeps the server side", "1:S",
    NULL, "1:ST", "1 1 | 1 1 S", "all expunge-near", "far 1 +T; remove n0; pair 1 0 ST" },
  { "a message about to be removed gets only its deletion", "1:FST", NULL, "1:S", "1 1 | 1 1 S",
    "all expunge", "remove n0; expunge 1; unpair 1 1" },
  { "own \\Deleted on the server, no Pull Flags, Expunge Far: server copy goes", "1:ST", NULL, "1:S",
    "1 1 | 1 1 S", "push-flags expunge-far", "expunge 1; pair 0 1 S" },
  { "expunge without delete propagation leaves the other side's T alone", "1:S", NULL, "1:ST", "1 1 | 1 1 S",
    "pull-new expunge-far", "" },
};

static void
test_delete (void)
{
  check_cases (delete_cases, N_ELEMENTS (delete_cases));
}

/* ---- the mass-deletion guard ----------------------------------------------------------------- */

/* N pairs 1..N present on both sides, with `gone_far` missing from the
 * server listing and `gone_near` missing from the Maildir. */
static PlanCase
mass_case (guint n, guint gone_far, guint gone_near, const char *policy, char **bufs)
{
  GString *far = g_string_new (NULL), *near = g_string_new (NULL), *state = g_string_new (NULL);
  g_string_append_printf (state, "%u %u |", n, n);
  for (guint i = 1; i <= n; i++) {
    if (i > gone_far)
      g_string_append_printf (far, "%u ", i);
    if (i > gone_near)
      g_string_append_printf (near, "%u ", i);
    g_string_append_printf (state, "%u %u ,", i, i);
  }
  bufs[0] = g_string_free (far, FALSE);
  bufs[1] = g_string_free (near, FALSE);
  bufs[2] = g_string_free (state, FALSE);
  return (PlanCase) { "mass", bufs[0], NULL, bufs[1], bufs[2], policy, "" };
}

static guint
count_kind (const MsSyncPlan *plan, MsSyncActionKind kind)
{
  guint n = 0;
  for (guint i = 0; i < plan->actions->len; i++)
    n += g_array_index (plan->actions, MsSyncAction, i).kind == kind;
  return n;
}

static MsSyncPlan *
run_mass (guint n, guint gone_far, guint gone_near, const char *policy, GError **error)
{
  char *bufs[3];
  PlanCase c = mass_case (n, gone_far, gone_near, policy, bufs);
  MsFarListing far = make_far (c.far, NULL);
  g_autoptr (MsMaildirScan) near = make_near (c.near);
  g_autoptr (MsSyncState) state = make_state (c.state);
  MsSyncPolicy pol = make_policy (policy);
  MsSyncPlan *plan = ms_sync_plan_make (&far, near, state, &pol, error);
  far_clear (&far);
  for (int i = 0; i < 3; i++)
    g_free (bufs[i]);
  return plan;
}

static void
test_mass_delete (void)
{
  g_autoptr (GError) error = NULL;

  /* The Maildir lost 12 of 20: 12 server messages would be deleted. */
  MsSyncPlan *plan = run_mass (20, 0, 12, "all expunge", &error);
  g_assert_null (plan);
  g_assert_error (error, MS_ERROR, MS_ERROR_LIMIT);
  g_assert_cmpstr (error->message, ==,
                   "refusing to remove 12 of 20 messages on the server side (more than half), because they "
                   "are gone or deleted on the other side; if this is intended, run once with --force");
  g_clear_error (&error);

  /* Flagging \Deleted counts even without Expunge: the next expunge by
   * anyone would remove them. */
  g_assert_null (run_mass (20, 0, 12, "all", &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_LIMIT);
  g_clear_error (&error);

  /* The server listing lost 12 of 20: the Maildir side is protected. */
  g_assert_null (run_mass (20, 12, 0, "all", &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_LIMIT);
  g_assert_nonnull (strstr (error->message, "12 of 20 messages on the Maildir side"));
  g_clear_error (&error);

  /* With force it goes through. */
  g_autoptr (MsSyncPlan) forced = run_mass (20, 0, 12, "all expunge force", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (forced->n_expunge_far, ==, 12);

  /* Exactly half is not more than half. */
  g_autoptr (MsSyncPlan) half = run_mass (24, 0, 12, "all expunge", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (half->n_expunge_far, ==, 12);

  /* MS_SYNC_PLAN_MASS_DELETE_MIN or fewer is never refused, even all. */
  g_autoptr (MsSyncPlan) small = run_mass (MS_SYNC_PLAN_MASS_DELETE_MIN, 0, MS_SYNC_PLAN_MASS_DELETE_MIN,
                                           "all expunge", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (small->n_expunge_far, ==, MS_SYNC_PLAN_MASS_DELETE_MIN);
  g_assert_null (run_mass (MS_SYNC_PLAN_MASS_DELETE_MIN + 1, 0, MS_SYNC_PLAN_MASS_DELETE_MIN + 1, "all expunge",
                           &error));
  g_clear_error (&error);

  /* Without delete propagation nothing is deleted, so nothing is refused:
   * an empty listing by mistake keeps every pair. */
  g_autoptr (MsSyncPlan) nodel = run_mass (20, 20, 0, "pull-new push-new pull-flags push-flags", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (nodel->actions->len, ==, 0);

  /* Gone on both sides is not a deletion. */
  g_autoptr (MsSyncPlan) both = run_mass (20, 15, 15, "all expunge", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (count_kind (both, MS_ACTION_UNPAIR), ==, 15);

  /* A side's own T messages being expunged are not counted. */
  {
    GString *near = g_string_new (NULL);
    for (guint i = 1; i <= 20; i++)
      g_string_append_printf (near, "%u:%s ", i, i <= 15 ? "T" : "");
    g_autoptr (MsMaildirScan) scan = make_near (near->str);
    g_autoptr (MsSyncState) st = make_state ("20 20");
    MsFarListing far = make_far ("", NULL);
    MsSyncPolicy pol = make_policy ("all expunge");
    g_autoptr (MsSyncPlan) own = ms_sync_plan_make (&far, scan, st, &pol, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (own->n_remove_near, ==, 15);
    far_clear (&far);
    g_string_free (near, TRUE);
  }

  /* \Deleted on the server, expunged in the Maildir: counted. */
  {
    GString *far = g_string_new (NULL), *near = g_string_new (NULL), *state = g_string_new ("20 20 |");
    for (guint i = 1; i <= 20; i++) {
      g_string_append_printf (far, "%u:%s ", i, i <= 12 ? "T" : "");
      g_string_append_printf (near, "%u ", i);
      g_string_append_printf (state, "%u %u ,", i, i);
    }
    g_autoptr (MsMaildirScan) scan = make_near (near->str);
    g_autoptr (MsSyncState) st = make_state (state->str);
    MsFarListing fl = make_far (far->str, NULL);
    MsSyncPolicy pol = make_policy ("all expunge");
    g_assert_null (ms_sync_plan_make (&fl, scan, st, &pol, &error));
    g_assert_error (error, MS_ERROR, MS_ERROR_LIMIT);
    g_assert_nonnull (strstr (error->message, "on the Maildir side"));
    g_clear_error (&error);
    far_clear (&fl);
    g_string_free (far, TRUE);
    g_string_free (near, TRUE);
    g_string_free (state, TRUE);
  }

  /* Partial listing: the pairs stand for the unlisted server messages. */
  {
    GString *near = g_string_new (NULL), *state = g_string_new ("30 30 |");
    for (guint i = 1; i <= 30; i++) {
      if (i > 12)
        g_string_append_printf (near, "%u ", i);
      g_string_append_printf (state, "%u %u ,", i, i);
    }
    g_autoptr (MsMaildirScan) scan = make_near (near->str);
    g_autoptr (MsSyncState) st = make_state (state->str);
    MsFarListing fl = make_far ("", "");
    MsSyncPolicy pol = make_policy ("all");
    g_autoptr (MsSyncPlan) partial = ms_sync_plan_make (&fl, scan, st, &pol, &error);
    g_assert_no_error (error); /* 12 of 30 */
    g_assert_cmpuint (partial->n_flags_far, ==, 12);
    far_clear (&fl);
    g_string_free (near, TRUE);
    g_string_free (state, TRUE);
  }
}

/* ---- a full cycle: the plan applied, then planned again ------------------------------------- */

static gint
uint_cmp (gconstpointer a, gconstpointer b)
{
  guint x = *(const guint *) a, y = *(const guint *) b;
  return x < y ? -1 : x > y;
}

/* Carrying out a plan by hand on the inputs and planning again must give
 * nothing to do: the rules converge. */
static void
apply (const MsSyncPlan *plan, MsFarListing *far, MsMaildirScan *near, MsSyncState *state)
{
  /* New Maildir UIDs go above every one in use, in the scan or the state. */
  guint32 next_far = far->uidnext ? far->uidnext : 1000;
  guint32 next_near = MAX (near->max_uid, state->max_pushed);
  for (guint i = 0; i < state->pairs->len; i++)
    next_near = MAX (next_near, g_array_index (state->pairs, MsSyncPair, i).near_uid);
  next_near++;
  GArray *removed_near = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint i = 0; i < plan->actions->len; i++) {
    const MsSyncAction *a = &g_array_index (plan->actions, MsSyncAction, i);
    switch (a->kind) {
    case MS_ACTION_PULL: {
      MsMaildirMessage *m = g_new0 (MsMaildirMessage, 1);
      m->uid = next_near++;
      m->flags = a->flags;
      m->key = g_strdup_printf ("pulled%u", a->far_uid);
      m->name = g_strdup (m->key);
      g_ptr_array_add (near->messages, m);
      ms_sync_state_add_pair (state, a->far_uid, m->uid, a->flags);
      break;
    }
    case MS_ACTION_PUSH: {
      MsMaildirMessage *m = g_ptr_array_index (near->messages, a->near_index);
      if (m->uid == 0)
        m->uid = next_near++;
      MsFarMessage fm = { next_far++, a->flags, 0 };
      g_array_append_val (far->messages, fm);
      ms_sync_state_add_pair (state, fm.uid, m->uid, a->flags);
      break;
    }
    case MS_ACTION_FLAGS_FAR:
      for (guint j = 0; j < far->messages->len; j++) {
        MsFarMessage *fm = &g_array_index (far->messages, MsFarMessage, j);
        if (fm->uid == a->far_uid)
          fm->flags = (fm->flags | a->add) & ~a->remove;
      }
      break;
    case MS_ACTION_FLAGS_NEAR:
      ((MsMaildirMessage *) g_ptr_array_index (near->messages, a->near_index))->flags = a->flags;
      break;
    case MS_ACTION_PAIR_FLAGS:
      ms_sync_state_add_pair (state, a->far_uid, a->near_uid, a->flags);
      break;
    case MS_ACTION_REMOVE_NEAR:
      g_array_append_val (removed_near, a->near_index);
      break;
    case MS_ACTION_EXPUNGE_FAR:
      for (guint j = 0; j < far->messages->len; j++)
        if (g_array_index (far->messages, MsFarMessage, j).uid == a->far_uid)
          g_array_remove_index (far->messages, j--);
      break;
    case MS_ACTION_UNPAIR:
      ms_sync_state_remove_pair (state, a->far_uid, a->near_uid);
      break;
    }
  }
  /* Remove from the back so the indices stay right. */
  g_array_sort (removed_near, uint_cmp);
  for (guint i = removed_near->len; i-- > 0;)
    g_ptr_array_remove_index (near->messages, g_array_index (removed_near, guint, i));
  g_array_unref (removed_near);
  state->max_pulled = plan->max_pulled;
  state->max_pushed = MAX (plan->max_pushed, next_near - 1);
  near->max_uid = next_near - 1;
}

static void
test_converges (void)
{
  static const struct {
    const char *far, *near, *state, *policy;
  } rows[] = {
    { "1:S 2:FS 3 4:T 9", "1:R 2:S 0:D 5 6:T", "4 6 | 1 1 S,2 2 S,3 3 ,7 4 ,0 6 ", "all" },
    { "1:S 2:FS 3 4:T 9", "1:R 2:S 0:D 5 6:T", "4 6 | 1 1 S,2 2 S,3 3 ,7 4 ,0 6 ", "all expunge" },
    { "1:S 2:FS 3 4:T 9", "1:R 2:S 0:D 5 6:T", "4 6 | 1 1 S,2 2 S,3 3 ,7 4 ,0 6 ", "all expunge-far" },
    { "1:S 2:FS 3 4:T 9", "1:R 2:S 0:D 5 6:T", "4 6 | 1 1 S,2 2 S,3 3 ,7 4 ,0 6 ", "all expunge-near" },
    { "1:S 2:FS 3 4:T 9", "1:R 2:S 0:D 5 6:T", "4 6 | 1 1 S,2 2 S,3 3 ,7 4 ,0 6 ", "pull-new pull-flags" },
    { "1:S 2:FS 3 4:T 9", "1:R 2:S 0:D 5 6:T", "4 6 | 1 1 S,2 2 S,3 3 ,7 4 ,0 6 ", "push-new push-flags" },
    { "1:ST 2:T", "1 2:T 3:T", "2 3 | 1 1 ,2 2 ,3 3 ", "all expunge" },
  };
  for (gsize r = 0; r < G_N_ELEMENTS (rows); r++) {
    g_test_message ("row %" G_GSIZE_FORMAT, r);
    MsFarListing far = make_far (rows[r].far, NULL);
    g_autoptr (MsMaildirScan) near = make_near (rows[r].near);
    g_autoptr (MsSyncState) state = make_state (rows[r].state);
    MsSyncPolicy pol = make_policy (rows[r].policy);
    g_autoptr (GError) error = NULL;
    g_autoptr (MsSyncPlan) first = ms_sync_plan_make (&far, near, state, &pol, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (first->actions->len, >, 0);
    apply (first, &far, near, state);
    g_autoptr (MsSyncPlan) second = ms_sync_plan_make (&far, near, state, &pol, &error);
    g_assert_no_error (error);
    g_autofree char *rest = render (second, near, FALSE);
    g_assert_cmpstr (rest, ==, "");
    /* The maxima settle too (pushed messages' server UIDs raise max_pulled
     * once, as in mbsync). */
    state->max_pulled = second->max_pulled;
    state->max_pushed = second->max_pushed;
    g_autoptr (MsSyncPlan) third = ms_sync_plan_make (&far, near, state, &pol, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (third->actions->len, ==, 0);
    g_assert_cmpuint (third->max_pulled, ==, second->max_pulled);
    g_assert_cmpuint (third->max_pushed, ==, second->max_pushed);
    far_clear (&far);
  }
}

/* Random situations (reproducible with --seed): whatever the inputs, the
 * plan carried out and planned again leaves nothing to do, and no plan
 * pushes a T message or pulls a paired one. */
static void
test_random_converges (void)
{
  static const char *const policies[] = {
    "all", "all expunge", "all expunge-far", "all expunge-near", "pull-new pull-flags pull-delete",
    "push-new push-flags push-delete expunge", "pull-new push-new", "pull-flags push-flags expunge",
  };
  static const char *const marks[] = { "", "", "", "", "<", ">", "~", "^", ">~" };
  for (int round = 0; round < 3000; round++) {
    GString *far = g_string_new (NULL), *near = g_string_new (NULL), *state = g_string_new (NULL);
    guint32 max_pulled = (guint32) g_test_rand_int_range (0, 12);
    guint32 max_pushed = (guint32) g_test_rand_int_range (0, 12);
    g_string_append_printf (state, "%u %u |", max_pulled, max_pushed);
    /* Server UIDs 1..15 and Maildir UIDs 1..15, each there or not, each
     * paired at most once. */
    gboolean far_paired[16] = { 0 }, near_paired[16] = { 0 };
    for (guint32 u = 1; u <= 15; u++) {
      if (g_test_rand_bit ())
        g_string_append_printf (far, "%u:%s ", u, g_test_rand_bit () ? "S" : g_test_rand_bit () ? "FT" : "R");
      if (g_test_rand_bit ())
        g_string_append_printf (near, "%u:%s ", u, g_test_rand_bit () ? "S" : g_test_rand_bit () ? "FT" : "D");
    }
    for (int i = 0; i < 3; i++)
      if (g_test_rand_bit ())
        g_string_append_printf (near, "0:%s ", g_test_rand_bit () ? "S" : "T");
    for (int i = g_test_rand_int_range (0, 12); i > 0; i--) {
      guint32 f = (guint32) g_test_rand_int_range (0, 16), n = (guint32) g_test_rand_int_range (0, 16);
      if ((f && far_paired[f]) || (n && near_paired[n]))
        continue;
      far_paired[f] = f != 0;
      near_paired[n] = n != 0;
      g_string_append_printf (state, "%u %u %s%s,", f, n, marks[g_test_rand_int_range (0, G_N_ELEMENTS (marks))],
                              g_test_rand_bit () ? "S" : "FT");
    }
    const char *policy = policies[g_test_rand_int_range (0, G_N_ELEMENTS (policies))];
    g_autofree char *desc = g_strdup_printf ("far \"%s\" near \"%s\" state \"%s\" policy \"%s\"", far->str,
                                             near->str, state->str, policy);

    MsFarListing fl = make_far (far->str, NULL);
    g_autoptr (MsMaildirScan) scan = make_near (near->str);
    g_autoptr (MsSyncState) st = make_state (state->str);
    g_autofree char *forced = g_strconcat (policy, " force", NULL);
    MsSyncPolicy pol = make_policy (forced);
    g_autoptr (GError) error = NULL;
    g_autoptr (MsSyncPlan) first = ms_sync_plan_make (&fl, scan, st, &pol, &error);
    g_assert_no_error (error);
    for (guint i = 0; i < first->actions->len; i++) {
      const MsSyncAction *a = &g_array_index (first->actions, MsSyncAction, i);
      if (a->kind == MS_ACTION_PUSH && (a->flags & MS_FLAG_DELETED))
        g_error ("pushes a T message: %s", desc);
      if (a->kind == MS_ACTION_PULL && ms_sync_state_find_far (st, a->far_uid) != NULL)
        g_error ("pulls a paired message: %s", desc);
    }
    apply (first, &fl, scan, st);
    g_autoptr (MsSyncPlan) second = ms_sync_plan_make (&fl, scan, st, &pol, &error);
    g_assert_no_error (error);
    g_autofree char *rest = render (second, scan, FALSE);
    if (*rest != '\0')
      g_error ("does not converge: %s\n  left: %s", desc, rest);
    far_clear (&fl);
    g_string_free (far, TRUE);
    g_string_free (near, TRUE);
    g_string_free (state, TRUE);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sync-plan/new", test_new);
  g_test_add_func ("/sync-plan/flags", test_flags);
  g_test_add_func ("/sync-plan/delete", test_delete);
  g_test_add_func ("/sync-plan/mass-delete", test_mass_delete);
  g_test_add_func ("/sync-plan/converges", test_converges);
  g_test_add_func ("/sync-plan/random-converges", test_random_converges);
  return g_test_run ();
}
