/* ms-time.h — wall-clock formatting shared by the programs' messages. */
#pragma once

#include <glib.h>

/* Formats `t` (seconds since the epoch) as mswatch 1.2 did: strftime "%F %X"
 * in the C locale, e.g. "2026-11-22 04:40:05".  (transfer full) */
char *ms_time_format (gint64 t);
