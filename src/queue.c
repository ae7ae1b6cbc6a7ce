/* queue.c — see queue.h; the rules are spec §5.2–5.4 transcribed. */
#include "queue.h"

void
ms_sync_timer_init (MsSyncTimer *t, gint64 base, gint64 inter, gint64 max)
{
  *t = (MsSyncTimer) {
    .base = base, .inter = inter, .max = max,
    .cur_inter = inter, .err_delay = inter,
  };
}

/* 1.2's remaining(), with the "nothing queued" case left to the caller. */
static gint64
remaining_for (const MsSyncTimer *t, gint64 queued_at, gint64 cur_inter, gint64 now)
{
  gint64 wait;

  if (t->err)
    wait = t->err_delay;
  else if (t->have_last_ok && queued_at - t->last_ok < cur_inter)
    wait = cur_inter - (queued_at - t->last_ok);
  else
    wait = t->base;
  return MAX (0, wait - (now - queued_at));
}

void
ms_sync_timer_queue (MsSyncTimer *t, gint64 d, gint64 now)
{
  if (!t->queued) {
    t->queued = TRUE;
    t->queued_at = now;
    t->cur_inter = d;
    return;
  }
  /* A shorter inter_delay may bring the sync forward, never push it back. */
  if (d < t->cur_inter
      && remaining_for (t, now, d, now) <= remaining_for (t, t->queued_at, t->cur_inter, now)) {
    t->queued_at = now;
    t->cur_inter = d;
  }
}

gint64
ms_sync_timer_remaining (const MsSyncTimer *t, gint64 now)
{
  if (!t->queued)
    return -1;
  return remaining_for (t, t->queued_at, t->cur_inter, now);
}

void
ms_sync_timer_fail (MsSyncTimer *t, gint64 now)
{
  t->err = TRUE;
  t->queued = TRUE;
  t->queued_at = now;
  t->nfail++;
  if (t->err_delay < t->max && t->nfail % 2 == 0)
    t->err_delay = MIN (2 * t->err_delay, t->max);
}

void
ms_sync_timer_reset (MsSyncTimer *t, gint64 now)
{
  t->queued = FALSE;
  t->cur_inter = t->inter;
  t->last_ok = now;
  t->have_last_ok = TRUE;
  t->err = FALSE;
  t->nfail = 0;
  t->err_delay = t->inter;
}

void
ms_sync_timer_unqueue (MsSyncTimer *t)
{
  t->queued = FALSE;
  t->cur_inter = t->inter;
}

void
ms_sync_timer_expedite (MsSyncTimer *t, gint64 now)
{
  if (!t->err)
    return;
  t->nfail = 0;
  t->err_delay = t->inter;
  t->queued = TRUE;
  t->queued_at = now - t->err_delay; /* remaining() is 0 from now on */
}

void
ms_backoff_init (MsBackoff *b, gint64 inter, gint64 max)
{
  *b = (MsBackoff) { .inter = inter, .max = max };
}

gint64
ms_backoff_next (MsBackoff *b)
{
  guint k = ++b->count;
  gint64 d = b->inter;

  if (b->inter >= b->max)
    return b->inter;
  /* Double floor(k/2) times, stopping at max; the loop is bounded by the
   * number of doublings that fit below max, so k never overflows a shift. */
  for (guint i = 0; i < k / 2 && d < b->max; i++)
    d = MIN (2 * d, b->max);
  return d;
}

void
ms_backoff_reset (MsBackoff *b)
{
  b->count = 0;
}

gint64
ms_poll_next (gint64 now, gint64 period, guint32 random)
{
  if (period <= 0)
    return -1;
  gint64 j_max = period / 10;
  gint64 j = j_max > 0 ? (gint64) (random % (guint64) (2 * j_max)) - j_max : 0;
  return now + period + j;
}
