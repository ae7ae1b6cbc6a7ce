/* ms-time.c — see ms-time.h. */
#include "ms-time.h"

#include <time.h>

char *
ms_time_format (gint64 t)
{
  time_t tt = (time_t) t;
  struct tm tm;
  char buf[64];

  /* %X without setlocale() is the C locale's %H:%M:%S; spell it out so a
   * locale set by a library can never change the format. */
  if (localtime_r (&tt, &tm) == NULL || strftime (buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm) == 0)
    return g_strdup_printf ("@%" G_GINT64_FORMAT, t);
  return g_strdup (buf);
}

gint64
ms_time_mono_ms (void)
{
  return g_get_monotonic_time () / 1000;
}

gint64
ms_time_wall_now (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}
