/* sync-history.h — the last sync result of each mailbox, for
 * `mswatch --status`.
 *
 * Pure: times come from the caller.  Bounded: at most `max` mailboxes are
 * remembered; recording one more forgets the one recorded longest ago
 * (a mailbox that has not been synced for the longest time is the least
 * interesting line of a status report).  The name "" stands for "all
 * mailboxes".
 *
 * Ownership: the history owns its entries; ms_sync_history_entries()
 * lends them until the next record().
 */
#pragma once

#include <glib.h>

/* Mailboxes remembered by the coordinator.  A large IMAP account has a few
 * hundred folders; the cap bounds memory against a watcher that reports a
 * flood of distinct names. */
#define MS_SYNC_HISTORY_MAX 1024

typedef enum {
  MS_HISTORY_OK,
  MS_HISTORY_RETRY,  /* failed; will be retried */
  MS_HISTORY_FAILED, /* failed permanently (a syncer's FAIL) */
} MsHistoryResult;

typedef struct {
  char *name;
  gint64 when;        /* wall-clock seconds of the result */
  MsHistoryResult result;
  char *reason;       /* NULL when OK or when none was given */
  guint64 seq;        /* order of recording */
} MsHistoryEntry;

typedef struct MsSyncHistory MsSyncHistory;

MsSyncHistory *ms_sync_history_new (guint max);
void ms_sync_history_free (MsSyncHistory *history);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsSyncHistory, ms_sync_history_free)

/* reason may be NULL; both strings are copied. */
void ms_sync_history_record (MsSyncHistory *history, const char *name, gint64 when,
                             MsHistoryResult result, const char *reason);

/* The entry for `name`, or NULL. (transfer none) */
const MsHistoryEntry *ms_sync_history_lookup (MsSyncHistory *history, const char *name);

/* Every entry but "" (all mailboxes), sorted bytewise by name.
 * (transfer container) */
GPtrArray *ms_sync_history_entries (MsSyncHistory *history);

/* "ok", "retry" or "failed". */
const char *ms_history_result_name (MsHistoryResult result);
