/* test-queue.c — the timing rules of spec §5.2–5.4 against a fake clock.
 *
 * Times are written in seconds (S()) to read like the spec's worked
 * examples; the module itself works in milliseconds.
 */
#include <glib.h>

#include "queue.h"

#define S(x) ((gint64) (x) * 1000)

/* When the pending changes are due, as an absolute time in seconds. */
static gint64
due (const MsSyncTimer *t, gint64 now_s)
{
  gint64 r = ms_sync_timer_remaining (t, S (now_s));
  return r < 0 ? -1 : now_s + r / 1000;
}

static void
test_nothing_queued (void)
{
  MsSyncTimer t;
  ms_sync_timer_init (&t, S (2), S (5), S (40));
  g_assert_cmpint (ms_sync_timer_remaining (&t, S (100)), ==, -1);
}

/* base=2, inter=5: change at 409, more at 410, sync at 411. */
static void
test_base_delay (void)
{
  MsSyncTimer t;
  ms_sync_timer_init (&t, S (2), S (5), S (40));
  ms_sync_timer_queue (&t, S (5), S (409));
  g_assert_cmpint (due (&t, 409), ==, 411);
  ms_sync_timer_queue (&t, S (5), S (410));
  g_assert_cmpint (due (&t, 410), ==, 411);
  g_assert_cmpint (ms_sync_timer_remaining (&t, S (412)), ==, 0);
}

/* Later changes never postpone a scheduled sync (§12 14). */
static void
test_no_postpone (void)
{
  MsSyncTimer t;
  ms_sync_timer_init (&t, S (2), S (5), S (40));
  ms_sync_timer_queue (&t, S (5), S (100));
  for (int i = 0; i < 10; i++)
    ms_sync_timer_queue (&t, S (5), S (101));
  g_assert_cmpint (due (&t, 101), ==, 102);
}

/* base=2, inter=5, last sync at 437, changes at 438: sync at 442. */
static void
test_inter_delay (void)
{
  MsSyncTimer t;
  ms_sync_timer_init (&t, S (2), S (5), S (40));
  ms_sync_timer_reset (&t, S (437));
  ms_sync_timer_queue (&t, S (5), S (438));
  g_assert_cmpint (due (&t, 438), ==, 442);
}

/* A change long after the last sync waits base_delay only (§12 15 inverse). */
static void
test_inter_elapsed (void)
{
  MsSyncTimer t;
  ms_sync_timer_init (&t, S (2), S (5), S (40));
  ms_sync_timer_reset (&t, S (100));
  ms_sync_timer_queue (&t, S (5), S (200));
  g_assert_cmpint (due (&t, 200), ==, 202);
}

/* base=1, inter=3, slow=20: sync at 874, slow at 877 → 894; fast at 877 → 878. */
static void
test_per_mailbox (void)
{
  MsSyncTimer t;
  ms_sync_timer_init (&t, S (1), S (3), S (600));
  ms_sync_timer_reset (&t, S (874));
  ms_sync_timer_queue (&t, S (20), S (877));
  g_assert_cmpint (due (&t, 877), ==, 894);
  ms_sync_timer_queue (&t, S (3), S (877));
  g_assert_cmpint (due (&t, 877), ==, 878);
}

/* §12 16: inter=3, slow=20, sync at S=0; slow alone at S+1 syncs at S+20,
 * slow and fast at S+3 sync at S+4 (base 1). */
static void
test_per_mailbox_spec16 (void)
{
  MsSyncTimer t;
  ms_sync_timer_init (&t, S (1), S (3), S (600));
  ms_sync_timer_reset (&t, S (1000));
  ms_sync_timer_queue (&t, S (20), S (1001));
  g_assert_cmpint (due (&t, 1001), ==, 1020);

  ms_sync_timer_reset (&t, S (2000));
  ms_sync_timer_queue (&t, S (20), S (2003));
  ms_sync_timer_queue (&t, S (3), S (2003));
  g_assert_cmpint (due (&t, 2003), ==, 2004);
}

/* A larger inter_delay arriving later does not move the sync. */
static void
test_larger_delay_ignored (void)
{
  MsSyncTimer t;
  ms_sync_timer_init (&t, S (1), S (3), S (600));
  ms_sync_timer_reset (&t, S (0 + 100));
  ms_sync_timer_queue (&t, S (3), S (101));
  ms_sync_timer_queue (&t, S (20), S (101));
  g_assert_cmpint (due (&t, 101), ==, 103);
}

static void
check_fail_series (gint64 inter, gint64 max, const gint64 *want, gsize n)
{
  MsSyncTimer t;
  gint64 now = 1000;
  ms_sync_timer_init (&t, S (1), S (inter), S (max));
  ms_sync_timer_queue (&t, S (inter), S (now));
  for (gsize i = 0; i < n; i++) {
    ms_sync_timer_fail (&t, S (now));
    gint64 next = due (&t, now);
    g_assert_cmpint (next - now, ==, want[i]);
    /* A new change in between does not bring the retry forward. */
    ms_sync_timer_queue (&t, S (1), S (now + 1));
    g_assert_cmpint (due (&t, now + 1), ==, next);
    now = next;
  }
  ms_sync_timer_reset (&t, S (now));
  ms_sync_timer_queue (&t, S (inter), S (now + 1000));
  g_assert_cmpint (due (&t, now + 1000), ==, now + 1001);
}

static void
test_fail_backoff (void)
{
  const gint64 a[] = { 5, 10, 10, 20, 20, 40, 40, 40 };
  const gint64 b[] = { 2, 4, 4, 8, 8, 16 };
  const gint64 c[] = { 4, 4, 4, 4 };
  check_fail_series (5, 40, a, G_N_ELEMENTS (a));
  check_fail_series (2, 100, b, G_N_ELEMENTS (b));
  check_fail_series (4, 2, c, G_N_ELEMENTS (c));
}

/* A success after failures resets the spacing to inter (§12 17). */
static void
test_success_resets (void)
{
  MsSyncTimer t;
  ms_sync_timer_init (&t, S (1), S (2), S (100));
  ms_sync_timer_queue (&t, S (2), S (10));
  ms_sync_timer_fail (&t, S (11));
  ms_sync_timer_fail (&t, S (13));
  ms_sync_timer_fail (&t, S (17));
  ms_sync_timer_reset (&t, S (21));
  ms_sync_timer_queue (&t, S (2), S (21));
  g_assert_cmpint (due (&t, 21), ==, 23);
  ms_sync_timer_fail (&t, S (23));
  g_assert_cmpint (due (&t, 23), ==, 25);
}

static void
test_unqueue (void)
{
  MsSyncTimer t;
  ms_sync_timer_init (&t, S (1), S (3), S (600));
  ms_sync_timer_reset (&t, S (10));
  ms_sync_timer_queue (&t, S (3), S (11));
  ms_sync_timer_unqueue (&t);
  g_assert_cmpint (ms_sync_timer_remaining (&t, S (11)), ==, -1);
  /* last_ok survives: a new change still waits for last_ok + inter. */
  ms_sync_timer_queue (&t, S (3), S (12));
  g_assert_cmpint (due (&t, 12), ==, 13);
}

static void
test_backoff_series (void)
{
  MsBackoff b;
  const gint64 want[] = { 2, 4, 4, 8, 8, 8, 8 };
  ms_backoff_init (&b, 2, 8);
  for (gsize i = 0; i < G_N_ELEMENTS (want); i++)
    g_assert_cmpint (ms_backoff_next (&b), ==, want[i]);
  ms_backoff_reset (&b);
  g_assert_cmpint (ms_backoff_next (&b), ==, 2);

  ms_backoff_init (&b, 4, 2);
  g_assert_cmpint (ms_backoff_next (&b), ==, 4);
  g_assert_cmpint (ms_backoff_next (&b), ==, 4);

  /* Thousands of failures neither overflow nor exceed max. */
  ms_backoff_init (&b, 1, G_MAXINT64 / 4);
  for (int i = 0; i < 10000; i++)
    g_assert_cmpint (ms_backoff_next (&b), <=, G_MAXINT64 / 4);
}

static void
test_poll_jitter (void)
{
  g_assert_cmpint (ms_poll_next (S (100), 0, 7), ==, -1);
  for (guint32 r = 0; r < 100000; r += 37) {
    gint64 next = ms_poll_next (S (100), S (10), r);
    g_assert_cmpint (next, >=, S (100) + S (9));
    g_assert_cmpint (next, <, S (100) + S (11));
  }
  /* 10% of a tiny period is zero: no jitter, no division by zero. */
  g_assert_cmpint (ms_poll_next (0, 5, 12345), ==, 5);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/queue/nothing-queued", test_nothing_queued);
  g_test_add_func ("/queue/base-delay", test_base_delay);
  g_test_add_func ("/queue/burst-does-not-postpone", test_no_postpone);
  g_test_add_func ("/queue/inter-delay-after-sync", test_inter_delay);
  g_test_add_func ("/queue/inter-delay-elapsed", test_inter_elapsed);
  g_test_add_func ("/queue/per-mailbox-worked-example", test_per_mailbox);
  g_test_add_func ("/queue/per-mailbox-spec-case-16", test_per_mailbox_spec16);
  g_test_add_func ("/queue/larger-delay-ignored", test_larger_delay_ignored);
  g_test_add_func ("/queue/fail-backoff-series", test_fail_backoff);
  g_test_add_func ("/queue/success-resets-backoff", test_success_resets);
  g_test_add_func ("/queue/unqueue-keeps-last-ok", test_unqueue);
  g_test_add_func ("/backoff/series", test_backoff_series);
  g_test_add_func ("/poll/jitter", test_poll_jitter);
  return g_test_run ();
}
