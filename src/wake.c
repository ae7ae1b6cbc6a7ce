/* wake.c — see wake.h. */
#include "wake.h"

void
ms_wake_init (MsWakeState *s)
{
  *s = (MsWakeState) { 0 };
}

MsWakeReason
ms_wake_clock_sample (MsWakeState *s, gint64 boottime_ms, gint64 monotonic_ms, gint64 *slept_ms)
{
  gint64 offset = boottime_ms - monotonic_ms;
  gboolean had = s->have_sample;
  gint64 grown = offset - s->offset;

  s->have_sample = TRUE;
  s->offset = offset;
  if (!had || grown < MS_WAKE_SUSPEND_MIN_MS)
    return MS_WAKE_NONE;
  if (slept_ms != NULL)
    *slept_ms = grown;
  return MS_WAKE_RESUMED;
}

MsWakeReason
ms_wake_network_changed (MsWakeState *s, gboolean available, gboolean *gone)
{
  gboolean back = s->network_known && !s->network_available && available;
  if (gone != NULL)
    *gone = s->network_known && s->network_available && !available;

  s->network_known = TRUE;
  s->network_available = available;
  return back ? MS_WAKE_NETWORK_BACK : MS_WAKE_NONE;
}

const char *
ms_wake_reason_name (MsWakeReason reason)
{
  switch (reason) {
  case MS_WAKE_NONE:
    return "none";
  case MS_WAKE_RESUMED:
    return "resumed";
  case MS_WAKE_NETWORK_BACK:
    return "network";
  case MS_WAKE_SIGNAL:
    return "signal";
  }
  return "?";
}
