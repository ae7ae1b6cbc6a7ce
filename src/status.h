/* status.h — the SIGUSR1 "Pending mailboxes" report (spec §2.3), as text.
 *
 * Pure formatting: dispatch.c hands over what is pending per store, and,
 * with a resident syncer, its state.
 */
#pragma once

#include <glib.h>

typedef struct {
  const char *store;
  GPtrArray *names; /* char*, sorted bytewise, no duplicates */
} MsStatusStore;

/* "Pending mailboxes at T:\n\tS1: a b\n\tS2:\n". (transfer full) */
char *ms_status_pending_report (gint64 now_wall, const MsStatusStore *stores, guint n_stores);

/* The line added after the report when a resident syncer is configured:
 * "Syncer state: running, 3 requests in flight\n" (sent or waiting to be).
 * It does not start with a tab, so scripts that read the store lines of
 * 1.2's report are not misled. (transfer full) */
char *ms_status_syncer_report (const char *state, guint in_flight);
