/* queue.h — mswatch's timing rules, as pure functions of time.
 *
 * Nothing here reads a clock or arms a timer: callers pass `now` and get
 * back how long to wait.  dispatch.c turns the answers into GLib timeouts;
 * the unit tests drive a fake clock.  All times are in milliseconds of a
 * monotonic clock (1.2 used whole seconds from time(), which made syncs fire
 * up to a second early or late; the rules are otherwise the same).
 *
 * MsSyncTimer is the sync timer of spec §5.2, rule for rule:
 *
 *   queue(d)     a change whose mailbox has inter_delay d arrived;
 *   remaining()  how long until the pending changes are due (-1: nothing due);
 *   fail()       the sync failed: retry after err_delay, which doubles on
 *                every second failure (1.2's I, 2I, 2I, 4I … series) up to max;
 *   reset()      the sync succeeded.
 *
 * MsBackoff is the same series for the other retry loops (watcher starts and
 * restarts, the all-mailboxes sync): d_k = min(I * 2^floor(k/2), max), except
 * that a max below I leaves the delay at I.
 */
#pragma once

#include <glib.h>

typedef struct {
  gint64 base;   /* base_delay */
  gint64 inter;  /* default inter_delay */
  gint64 max;    /* max_delay */

  gint64 queued_at;  /* valid while `queued` */
  gboolean queued;
  gint64 cur_inter;
  gint64 last_ok;    /* valid while `have_last_ok` */
  gboolean have_last_ok;
  gboolean err;
  guint nfail;
  gint64 err_delay;
} MsSyncTimer;

void ms_sync_timer_init (MsSyncTimer *timer, gint64 base, gint64 inter, gint64 max);
void ms_sync_timer_queue (MsSyncTimer *timer, gint64 inter_delay, gint64 now);
/* Returns -1 when nothing is queued, else the wait (≥ 0) from `now`. */
gint64 ms_sync_timer_remaining (const MsSyncTimer *timer, gint64 now);
void ms_sync_timer_fail (MsSyncTimer *timer, gint64 now);
void ms_sync_timer_reset (MsSyncTimer *timer, gint64 now);
/* Forgets what is queued without touching last_ok or the error state: used
 * when the pending set became empty (1.2 synced "all mailboxes" then). */
void ms_sync_timer_unqueue (MsSyncTimer *timer);
/* A wake-up (wake.h): a retry waiting out the failure backoff is due now,
 * and the failure series starts again from inter_delay (the failures were
 * the outage's).  A sync waiting base_delay or inter_delay after a success
 * is left alone: that wait is not a backoff. */
void ms_sync_timer_expedite (MsSyncTimer *timer, gint64 now);

typedef struct {
  gint64 inter;
  gint64 max;
  guint count; /* delays handed out since the last reset */
} MsBackoff;

void ms_backoff_init (MsBackoff *backoff, gint64 inter, gint64 max);
/* The next delay of the series (the first call returns inter). */
gint64 ms_backoff_next (MsBackoff *backoff);
void ms_backoff_reset (MsBackoff *backoff);

/* When the next poll is due: now + period + j, j uniform in [-J, J-1] with
 * J = period / 10 (1.2's ±10% jitter), drawn from `random` (any 32 bits).
 * Returns -1 when period is 0 (polling disabled). */
gint64 ms_poll_next (gint64 now, gint64 period, guint32 random);
