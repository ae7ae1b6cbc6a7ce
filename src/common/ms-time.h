/* ms-time.h — the clocks as the programs use them, and wall-clock
 * formatting for their messages. */
#pragma once

#include <glib.h>

/* Formats `t` (seconds since the epoch) as mswatch 1.2 did: strftime "%F %X"
 * in the C locale, e.g. "2026-11-22 04:40:05".  (transfer full) */
char *ms_time_format (gint64 t);

/* The monotonic clock in milliseconds: for delays and deadlines. */
gint64 ms_time_mono_ms (void);

/* The wall clock in seconds since the epoch: for what messages and the
 * status report show. */
gint64 ms_time_wall_now (void);
