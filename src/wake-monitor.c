/* wake-monitor.c — see wake-monitor.h.
 *
 * GNetworkMonitor's default implementation is picked by GIO: NetworkManager
 * over D-Bus where it runs, else netlink.  Either may report
 * "network-changed" many times for one change; wake.c keeps only the
 * transitions to available.
 */
#include "wake-monitor.h"

#include <gio/gio.h>
#include <time.h>

#include "messages.h"

struct MsWakeMonitor {
  MsWakeFunc func;
  gpointer user_data;
  MsWakeState state;
  GNetworkMonitor *network; /* the default monitor (a ref) */
  gulong network_handler;
  guint clock_source;
};

static gint64
clock_ms (clockid_t id)
{
  struct timespec ts;
  if (clock_gettime (id, &ts) != 0)
    return 0;
  return (gint64) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static gboolean
on_clock_check (gpointer data)
{
  MsWakeMonitor *m = data;
  gint64 slept = 0;

  /* Sample MONOTONIC first: a sample that straddles a suspend then shows
   * it, rather than a negative sleep. */
  gint64 mono = clock_ms (CLOCK_MONOTONIC);
  gint64 boot = clock_ms (CLOCK_BOOTTIME);
  if (ms_wake_clock_sample (&m->state, boot, mono, &slept) == MS_WAKE_RESUMED)
    m->func (m->user_data, MS_WAKE_RESUMED, slept);
  return G_SOURCE_CONTINUE;
}

static void
on_network_changed (GNetworkMonitor *network, gboolean available, gpointer data)
{
  MsWakeMonitor *m = data;
  gboolean gone = FALSE;

  if (ms_wake_network_changed (&m->state, available, &gone) == MS_WAKE_NETWORK_BACK)
    m->func (m->user_data, MS_WAKE_NETWORK_BACK, 0);
  if (gone)
    ms_msg_network_gone ();
}

MsWakeMonitor *
ms_wake_monitor_new (MsWakeFunc func, gpointer user_data)
{
  MsWakeMonitor *m = g_new0 (MsWakeMonitor, 1);

  m->func = func;
  m->user_data = user_data;
  ms_wake_init (&m->state);
  on_clock_check (m); /* the first sample */
  m->clock_source = g_timeout_add_seconds (MS_WAKE_CHECK_PERIOD_S, on_clock_check, m);

  m->network = g_object_ref (g_network_monitor_get_default ());
  ms_wake_network_changed (&m->state, g_network_monitor_get_network_available (m->network), NULL);
  m->network_handler = g_signal_connect (m->network, "network-changed",
                                         G_CALLBACK (on_network_changed), m);
  return m;
}

void
ms_wake_monitor_free (MsWakeMonitor *m)
{
  if (m == NULL)
    return;
  g_clear_handle_id (&m->clock_source, g_source_remove);
  g_clear_signal_handler (&m->network_handler, m->network);
  g_clear_object (&m->network);
  g_free (m);
}
