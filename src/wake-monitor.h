/* wake-monitor.h — watches for suspends and for the network coming back,
 * and reports them as wake-ups (the decisions are wake.h's).
 *
 * It samples CLOCK_BOOTTIME and CLOCK_MONOTONIC every
 * MS_WAKE_CHECK_PERIOD_S seconds and listens to the default
 * GNetworkMonitor's "network-changed" signal.  It never probes a host
 * (no g_network_monitor_can_reach()): whether a server is reachable is the
 * watchers' and the syncer's business.
 */
#pragma once

#include <glib.h>

#include "wake.h"

/* slept_ms: for MS_WAKE_RESUMED, how long the machine was suspended. */
typedef void (*MsWakeFunc) (gpointer user_data, MsWakeReason reason, gint64 slept_ms);

typedef struct MsWakeMonitor MsWakeMonitor;

/* Starts watching; `func` is called from the main loop for each wake-up. */
MsWakeMonitor *ms_wake_monitor_new (MsWakeFunc func, gpointer user_data);
void ms_wake_monitor_free (MsWakeMonitor *monitor);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsWakeMonitor, ms_wake_monitor_free)
