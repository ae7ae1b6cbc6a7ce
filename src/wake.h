/* wake.h — when to act as if the machine had just woken up: the pure
 * decisions.
 *
 * After a suspend, or when the network comes back after an outage, the
 * watchers hold dead TCP connections (ssh, IMAP IDLE) that may take many
 * minutes to time out, and retries are waiting out backoff delays that
 * were meant for a server that was down, not for a laptop that was shut.
 * So both events are a "wake-up": dispatch.c then cuts every such wait
 * short and restarts the watchers at once.
 *
 * Two sources, decided here without I/O or clock reads (wake-monitor.c
 * feeds them):
 *
 *  - A suspend shows as CLOCK_BOOTTIME running ahead of CLOCK_MONOTONIC:
 *    both advance together while the machine runs, but only BOOTTIME counts
 *    the time spent suspended.  Samples are taken on a periodic timer; a
 *    growth of (BOOTTIME - MONOTONIC) by more than MS_WAKE_SUSPEND_MIN_MS
 *    between two samples is a suspend.
 *  - GNetworkMonitor's "network-changed": only a change from unavailable to
 *    available counts (not the first report, not a route change while the
 *    network stays available, which the netlink monitor reports often).
 */
#pragma once

#include <glib.h>

/* How often the clocks are compared.  The wake-up is noticed at most this
 * long after the machine resumes; the timer costs one wake-up per period. */
#define MS_WAKE_CHECK_PERIOD_S 10

/* A suspend shorter than this is not acted on.  The two clocks never drift
 * apart while the machine runs (both are the same counter, one of them
 * paused during suspend), so "a few seconds" is a safe margin. */
#define MS_WAKE_SUSPEND_MIN_MS 3000

typedef enum {
  MS_WAKE_NONE,
  MS_WAKE_RESUMED,      /* the machine was suspended */
  MS_WAKE_NETWORK_BACK, /* connectivity returned */
  MS_WAKE_SIGNAL,       /* asked for with SIGUSR2 (a sleep or network hook) */
} MsWakeReason;

typedef struct {
  gboolean have_sample;
  gint64 offset; /* BOOTTIME - MONOTONIC at the last sample, ms */
  gboolean network_known;
  gboolean network_available;
} MsWakeState;

void ms_wake_init (MsWakeState *state);

/* A sample of both clocks, in ms.  Returns MS_WAKE_RESUMED if the machine
 * was suspended for at least MS_WAKE_SUSPEND_MIN_MS since the previous
 * sample, and then sets *slept_ms (if not NULL) to how long. */
MsWakeReason ms_wake_clock_sample (MsWakeState *state, gint64 boottime_ms, gint64 monotonic_ms,
                                   gint64 *slept_ms);

/* A "network-changed" report.  Returns MS_WAKE_NETWORK_BACK when the
 * network went from unavailable to available; sets *gone (if not NULL) to
 * whether it went from available to unavailable, which is no wake-up but
 * is worth a line in the log. */
MsWakeReason ms_wake_network_changed (MsWakeState *state, gboolean available, gboolean *gone);

/* "resumed", "network" or "signal" (for the status report). */
const char *ms_wake_reason_name (MsWakeReason reason);
