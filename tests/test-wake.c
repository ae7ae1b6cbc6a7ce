/* test-wake.c — the wake-up decisions (wake.h) against fake clocks and
 * fake network reports, and what a wake-up does to the sync timer's
 * failure backoff (ms_sync_timer_expedite). */
#include <glib.h>

#include "queue.h"
#include "wake.h"

#define S(x) ((gint64) (x) * 1000)

static void
test_first_sample (void)
{
  MsWakeState w;
  ms_wake_init (&w);
  /* The first sample only sets the reference, whatever the offset. */
  g_assert_cmpint (ms_wake_clock_sample (&w, S (100000), S (10), NULL), ==, MS_WAKE_NONE);
}

static void
test_running_machine (void)
{
  MsWakeState w;
  ms_wake_init (&w);
  ms_wake_clock_sample (&w, S (1000), S (500), NULL);
  /* Both clocks advance together: no suspend, however long the gap. */
  for (int i = 1; i <= 100; i++)
    g_assert_cmpint (ms_wake_clock_sample (&w, S (1000 + 10 * i), S (500 + 10 * i), NULL), ==,
                     MS_WAKE_NONE);
  /* A timer that fired late (a loaded machine) moves both clocks too. */
  g_assert_cmpint (ms_wake_clock_sample (&w, S (5000), S (4500), NULL), ==, MS_WAKE_NONE);
}

static void
test_suspend (void)
{
  MsWakeState w;
  gint64 slept = -1;

  ms_wake_init (&w);
  ms_wake_clock_sample (&w, S (1000), S (500), NULL);
  /* 10 s of running, then a one-hour suspend: BOOTTIME ran 3600 s ahead. */
  g_assert_cmpint (ms_wake_clock_sample (&w, S (1010 + 3600), S (510), &slept), ==, MS_WAKE_RESUMED);
  g_assert_cmpint (slept, ==, S (3600));
  /* The next sample compares against the new offset. */
  g_assert_cmpint (ms_wake_clock_sample (&w, S (4620), S (520), NULL), ==, MS_WAKE_NONE);
}

static void
test_suspend_threshold (void)
{
  MsWakeState w;

  ms_wake_init (&w);
  ms_wake_clock_sample (&w, 1000000, 500000, NULL);
  /* Just under the threshold: ignored (and absorbed). */
  g_assert_cmpint (ms_wake_clock_sample (&w, 1000000 + MS_WAKE_SUSPEND_MIN_MS - 1, 500000, NULL), ==,
                   MS_WAKE_NONE);
  /* Exactly the threshold counts. */
  g_assert_cmpint (ms_wake_clock_sample (&w, 1000000 + 2 * MS_WAKE_SUSPEND_MIN_MS - 1, 500000, NULL),
                   ==, MS_WAKE_RESUMED);
  /* The offset shrinking (it never does on Linux) is not a suspend. */
  g_assert_cmpint (ms_wake_clock_sample (&w, 1000000, 500000, NULL), ==, MS_WAKE_NONE);
}

static void
test_network (void)
{
  MsWakeState w;
  ms_wake_init (&w);

  /* The first report sets the state, whatever it is. */
  g_assert_cmpint (ms_wake_network_changed (&w, TRUE, NULL), ==, MS_WAKE_NONE);
  /* Route changes while available: nothing. */
  g_assert_cmpint (ms_wake_network_changed (&w, TRUE, NULL), ==, MS_WAKE_NONE);
  g_assert_cmpint (ms_wake_network_changed (&w, FALSE, NULL), ==, MS_WAKE_NONE);
  g_assert_cmpint (ms_wake_network_changed (&w, FALSE, NULL), ==, MS_WAKE_NONE);
  /* Back: once. */
  g_assert_cmpint (ms_wake_network_changed (&w, TRUE, NULL), ==, MS_WAKE_NETWORK_BACK);
  g_assert_cmpint (ms_wake_network_changed (&w, TRUE, NULL), ==, MS_WAKE_NONE);

  /* Gone: said once, when it was known to be there. */
  gboolean gone = TRUE;
  ms_wake_init (&w);
  ms_wake_network_changed (&w, FALSE, &gone);
  g_assert_false (gone);
  ms_wake_network_changed (&w, TRUE, &gone);
  g_assert_false (gone);
  ms_wake_network_changed (&w, FALSE, &gone);
  g_assert_true (gone);
  ms_wake_network_changed (&w, FALSE, &gone);
  g_assert_false (gone);

  /* Starting without a network, then getting one, is a return. */
  ms_wake_init (&w);
  g_assert_cmpint (ms_wake_network_changed (&w, FALSE, NULL), ==, MS_WAKE_NONE);
  g_assert_cmpint (ms_wake_network_changed (&w, TRUE, NULL), ==, MS_WAKE_NETWORK_BACK);
}

static void
test_names (void)
{
  g_assert_cmpstr (ms_wake_reason_name (MS_WAKE_RESUMED), ==, "resumed");
  g_assert_cmpstr (ms_wake_reason_name (MS_WAKE_NETWORK_BACK), ==, "network");
  g_assert_cmpstr (ms_wake_reason_name (MS_WAKE_SIGNAL), ==, "signal");
}

/* base 2, inter 5, max 40: four failures leave the retry 10 s away; a
 * wake-up makes it due now and restarts the series at inter_delay. */
static void
test_expedite_backoff (void)
{
  MsSyncTimer t;
  ms_sync_timer_init (&t, S (2), S (5), S (40));
  ms_sync_timer_queue (&t, S (5), S (100));
  ms_sync_timer_fail (&t, S (102));
  ms_sync_timer_fail (&t, S (107));
  ms_sync_timer_fail (&t, S (117));
  ms_sync_timer_fail (&t, S (127));
  g_assert_cmpint (ms_sync_timer_remaining (&t, S (128)), ==, S (19));

  ms_sync_timer_expedite (&t, S (128));
  g_assert_cmpint (ms_sync_timer_remaining (&t, S (128)), ==, 0);
  /* It fails again: the retry is inter_delay away, not 20 s. */
  ms_sync_timer_fail (&t, S (129));
  g_assert_cmpint (ms_sync_timer_remaining (&t, S (129)), ==, S (5));
  ms_sync_timer_fail (&t, S (134));
  g_assert_cmpint (ms_sync_timer_remaining (&t, S (134)), ==, S (10));
}

/* Waits that are not a backoff are left alone. */
static void
test_expedite_no_backoff (void)
{
  MsSyncTimer t;
  ms_sync_timer_init (&t, S (2), S (5), S (40));
  ms_sync_timer_reset (&t, S (100));
  ms_sync_timer_queue (&t, S (5), S (101));
  g_assert_cmpint (ms_sync_timer_remaining (&t, S (101)), ==, S (4));
  ms_sync_timer_expedite (&t, S (101));
  g_assert_cmpint (ms_sync_timer_remaining (&t, S (101)), ==, S (4));

  /* Nothing queued stays nothing queued. */
  MsSyncTimer idle;
  ms_sync_timer_init (&idle, S (2), S (5), S (40));
  ms_sync_timer_expedite (&idle, S (50));
  g_assert_cmpint (ms_sync_timer_remaining (&idle, S (50)), ==, -1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/wake/first-sample", test_first_sample);
  g_test_add_func ("/wake/running-machine", test_running_machine);
  g_test_add_func ("/wake/suspend", test_suspend);
  g_test_add_func ("/wake/suspend-threshold", test_suspend_threshold);
  g_test_add_func ("/wake/network", test_network);
  g_test_add_func ("/wake/names", test_names);
  g_test_add_func ("/wake/expedite-backoff", test_expedite_backoff);
  g_test_add_func ("/wake/expedite-no-backoff", test_expedite_no_backoff);
  return g_test_run ();
}
