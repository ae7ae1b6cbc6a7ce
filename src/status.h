/* status.h — the SIGUSR1 "Pending mailboxes" report (spec §2.3), as text.
 *
 * Pure formatting: dispatch.c hands over what is pending per store.
 */
#pragma once

#include <glib.h>

typedef struct {
  const char *store;
  GPtrArray *names; /* char*, sorted bytewise, no duplicates */
} MsStatusStore;

/* "Pending mailboxes at T:\n\tS1: a b\n\tS2:\n". (transfer full) */
char *ms_status_pending_report (gint64 now_wall, const MsStatusStore *stores, guint n_stores);
