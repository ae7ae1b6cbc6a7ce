/* sync-shelf.c — the resident syncer's mailbox states kept open between
 * syncs, committed once it is idle (see sync-shelf.h). */
#include "sync-shelf.h"

typedef struct {
  char *box;
  MsSyncStateFile *file;
  MsSyncShelfNote note;
} Shelved;

struct MsSyncShelf {
  const MsMaildirStore *maildir;
  GMutex lock;
  GHashTable *by_path; /* state path (the file's own string) -> Shelved* */
};

static void
shelved_free (Shelved *s)
{
  ms_sync_state_file_close (s->file);
  g_free (s->box);
  g_free (s);
}

MsSyncShelf *
ms_sync_shelf_new (const MsMaildirStore *maildir)
{
  MsSyncShelf *shelf = g_new0 (MsSyncShelf, 1);
  shelf->maildir = maildir;
  g_mutex_init (&shelf->lock);
  shelf->by_path = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) shelved_free);
  return shelf;
}

void
ms_sync_shelf_free (MsSyncShelf *shelf)
{
  if (shelf == NULL)
    return;
  ms_sync_shelf_commit (shelf, NULL, NULL);
  g_hash_table_unref (shelf->by_path);
  g_mutex_clear (&shelf->lock);
  g_free (shelf);
}

void
ms_sync_shelf_put (MsSyncShelf *shelf, const char *box, MsSyncStateFile *f, const MsSyncShelfNote *note)
{
  Shelved *s = g_new (Shelved, 1);
  *s = (Shelved) { g_strdup (box), f, *note };
  if (s->note.since_us == 0)
    s->note.since_us = g_get_monotonic_time ();
  g_mutex_lock (&shelf->lock);
  /* Keyed by the file's own path string, which lives as long as it does.
   * A state is taken off before it is synced again, so none is replaced. */
  g_hash_table_replace (shelf->by_path, (gpointer) ms_sync_state_file_path (f), s);
  g_mutex_unlock (&shelf->lock);
}

MsSyncStateFile *
ms_sync_shelf_take (MsSyncShelf *shelf, const char *path, MsSyncShelfNote *note)
{
  gpointer key = NULL, value = NULL;
  g_mutex_lock (&shelf->lock);
  gboolean found = g_hash_table_lookup_extended (shelf->by_path, path, &key, &value);
  if (found)
    g_hash_table_steal (shelf->by_path, key);
  g_mutex_unlock (&shelf->lock);
  if (!found)
    return NULL;
  Shelved *s = value;
  MsSyncStateFile *f = s->file;
  *note = s->note;
  g_free (s->box);
  g_free (s);
  return f;
}

gint64
ms_sync_shelf_oldest (MsSyncShelf *shelf)
{
  gint64 oldest = G_MAXINT64;
  GHashTableIter it;
  gpointer value;
  g_mutex_lock (&shelf->lock);
  g_hash_table_iter_init (&it, shelf->by_path);
  while (g_hash_table_iter_next (&it, NULL, &value))
    oldest = MIN (oldest, ((Shelved *) value)->note.since_us);
  g_mutex_unlock (&shelf->lock);
  return oldest;
}

/* Takes any one state off the shelf; NULL when it is empty. */
static Shelved *
take_any (MsSyncShelf *shelf)
{
  GHashTableIter it;
  gpointer key, value = NULL;
  g_mutex_lock (&shelf->lock);
  g_hash_table_iter_init (&it, shelf->by_path);
  if (g_hash_table_iter_next (&it, &key, &value))
    g_hash_table_iter_steal (&it);
  g_mutex_unlock (&shelf->lock);
  return value;
}

guint
ms_sync_shelf_commit (MsSyncShelf *shelf, gboolean (*stop) (gpointer data), gpointer data)
{
  guint n = 0;
  Shelved *s;
  while ((stop == NULL || !stop (data)) && (s = take_any (shelf)) != NULL) {
    g_autoptr (GError) error = NULL;
    /* The renames first: the state records their messages as paired. */
    if (!ms_maildir_sync_dirs (shelf->maildir, s->box, s->note.new_dir, s->note.cur_dir, &error)
        || !ms_sync_state_file_commit (s->file, &error))
      g_warning ("%s: %s (the next sync of it finishes the commit)", s->box, error->message);
    shelved_free (s);
    n++;
  }
  return n;
}
