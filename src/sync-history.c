/* sync-history.c — see sync-history.h.  A hash table by name; evicting the
 * oldest entry is a linear scan, done only when the table is full. */
#include "sync-history.h"

#include <string.h>

struct MsSyncHistory {
  GHashTable *entries; /* name -> MsHistoryEntry (owned; the key is entry->name) */
  guint max;
  guint64 next_seq;
};

static void
entry_free (MsHistoryEntry *e)
{
  g_free (e->name);
  g_free (e->reason);
  g_free (e);
}

MsSyncHistory *
ms_sync_history_new (guint max)
{
  g_return_val_if_fail (max > 0, NULL);
  MsSyncHistory *h = g_new0 (MsSyncHistory, 1);
  h->entries = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) entry_free);
  h->max = max;
  return h;
}

void
ms_sync_history_free (MsSyncHistory *h)
{
  if (h == NULL)
    return;
  g_hash_table_unref (h->entries);
  g_free (h);
}

static void
evict_oldest (MsSyncHistory *h)
{
  GHashTableIter it;
  gpointer value;
  MsHistoryEntry *oldest = NULL;

  g_hash_table_iter_init (&it, h->entries);
  while (g_hash_table_iter_next (&it, NULL, &value)) {
    MsHistoryEntry *e = value;
    if (oldest == NULL || e->seq < oldest->seq)
      oldest = e;
  }
  if (oldest != NULL)
    g_hash_table_remove (h->entries, oldest->name);
}

void
ms_sync_history_record (MsSyncHistory *h, const char *name, gint64 when, MsHistoryResult result,
                        const char *reason)
{
  g_return_if_fail (name != NULL);

  MsHistoryEntry *e = g_hash_table_lookup (h->entries, name);
  if (e == NULL) {
    if (g_hash_table_size (h->entries) >= h->max)
      evict_oldest (h);
    e = g_new0 (MsHistoryEntry, 1);
    e->name = g_strdup (name);
    g_hash_table_insert (h->entries, e->name, e);
  }
  e->when = when;
  e->result = result;
  g_free (e->reason);
  e->reason = g_strdup (reason);
  e->seq = h->next_seq++;
}

const MsHistoryEntry *
ms_sync_history_lookup (MsSyncHistory *h, const char *name)
{
  return g_hash_table_lookup (h->entries, name);
}

static gint
compare_entries (gconstpointer a, gconstpointer b)
{
  const MsHistoryEntry *ea = *(MsHistoryEntry *const *) a, *eb = *(MsHistoryEntry *const *) b;
  return strcmp (ea->name, eb->name);
}

GPtrArray *
ms_sync_history_entries (MsSyncHistory *h)
{
  GPtrArray *out = g_ptr_array_new ();
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, h->entries);
  while (g_hash_table_iter_next (&it, NULL, &value))
    if (*((MsHistoryEntry *) value)->name != '\0')
      g_ptr_array_add (out, value);
  g_ptr_array_sort (out, compare_entries);
  return out;
}

const char *
ms_history_result_name (MsHistoryResult result)
{
  switch (result) {
  case MS_HISTORY_OK:
    return "ok";
  case MS_HISTORY_RETRY:
    return "retry";
  case MS_HISTORY_FAILED:
    return "failed";
  }
  return "?";
}
