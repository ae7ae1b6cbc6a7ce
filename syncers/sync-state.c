/* sync-state.c — see sync-state.h for the formats and the recovery rules. */
#include "sync-state.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms-error.h"

/* --- the test knob ------------------------------------------------------- */

static guint die_after;
static guint steps_done;

void
ms_sync_set_die_after (guint steps)
{
  die_after = steps;
  steps_done = 0;
}

void
ms_sync_step (void)
{
  if (die_after != 0 && steps_done++ >= die_after)
    _exit (MS_SYNC_DIE_STATUS);
}

/* --- pure state ------------------------------------------------------------ */

MsSyncState *
ms_sync_state_new (void)
{
  MsSyncState *s = g_new0 (MsSyncState, 1);
  s->pairs = g_array_new (FALSE, TRUE, sizeof (MsSyncPair));
  s->extra_header = g_ptr_array_new_with_free_func (g_free);
  return s;
}

void
ms_sync_state_free (MsSyncState *s)
{
  if (s == NULL)
    return;
  g_array_unref (s->pairs);
  g_ptr_array_unref (s->extra_header);
  g_free (s);
}

static gint
pair_cmp (gconstpointer a, gconstpointer b)
{
  const MsSyncPair *x = a, *y = b;
  if (x->far_uid != y->far_uid)
    return x->far_uid < y->far_uid ? -1 : 1;
  return x->near_uid < y->near_uid ? -1 : x->near_uid > y->near_uid;
}

MsSyncPair *
ms_sync_state_find_far (MsSyncState *s, guint32 far_uid)
{
  if (far_uid == 0)
    return NULL;
  guint lo = 0, hi = s->pairs->len;
  while (lo < hi) {
    guint mid = (lo + hi) / 2;
    MsSyncPair *p = &g_array_index (s->pairs, MsSyncPair, mid);
    if (p->far_uid < far_uid)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < s->pairs->len && g_array_index (s->pairs, MsSyncPair, lo).far_uid == far_uid)
    return &g_array_index (s->pairs, MsSyncPair, lo);
  return NULL;
}

MsSyncPair *
ms_sync_state_find_near (MsSyncState *s, guint32 near_uid)
{
  if (near_uid == 0)
    return NULL;
  for (guint i = 0; i < s->pairs->len; i++)
    if (g_array_index (s->pairs, MsSyncPair, i).near_uid == near_uid)
      return &g_array_index (s->pairs, MsSyncPair, i);
  return NULL;
}

void
ms_sync_state_add_pair (MsSyncState *s, guint32 far_uid, guint32 near_uid, MsFlags flags)
{
  MsSyncPair pair = { far_uid, near_uid, flags };
  guint lo = 0, hi = s->pairs->len;
  while (lo < hi) {
    guint mid = (lo + hi) / 2;
    if (pair_cmp (&g_array_index (s->pairs, MsSyncPair, mid), &pair) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < s->pairs->len && pair_cmp (&g_array_index (s->pairs, MsSyncPair, lo), &pair) == 0) {
    g_array_index (s->pairs, MsSyncPair, lo).flags = flags;
  } else {
    g_array_insert_val (s->pairs, lo, pair);
  }
  /* max_pulled / max_pushed are not touched: a pushed message's new server
   * UID says nothing about server messages below it that we have not seen.
   * The sync job raises them to what its listings covered. */
}

void
ms_sync_state_remove_pair (MsSyncState *s, guint32 far_uid, guint32 near_uid)
{
  for (guint i = 0; i < s->pairs->len; i++) {
    MsSyncPair *p = &g_array_index (s->pairs, MsSyncPair, i);
    if (p->far_uid == far_uid && p->near_uid == near_uid) {
      g_array_remove_index (s->pairs, i);
      return;
    }
  }
}

static gboolean
parse_u32 (const char *s, guint32 *out)
{
  guint64 v;
  if (!g_ascii_string_to_unsigned (s, 10, 0, G_MAXUINT32, &v, NULL))
    return FALSE;
  *out = (guint32) v;
  return TRUE;
}

/* Splits text into lines (without '\n'); a last line without '\n' is
 * returned only when `keep_torn`. */
static GPtrArray *
split_lines (const char *text, gsize len, gboolean keep_torn)
{
  GPtrArray *lines = g_ptr_array_new_with_free_func (g_free);
  gsize start = 0;
  for (gsize i = 0; i < len; i++) {
    if (text[i] == '\n') {
      g_ptr_array_add (lines, g_strndup (text + start, i - start));
      start = i + 1;
    }
  }
  if (start < len && keep_torn)
    g_ptr_array_add (lines, g_strndup (text + start, len - start));
  return lines;
}

MsSyncState *
ms_sync_state_parse (const char *filename, const char *text, gsize len, const char *sidecar,
                     gsize sidecar_len, GError **error)
{
  g_autoptr (MsSyncState) s = ms_sync_state_new ();
  g_autoptr (GPtrArray) lines = split_lines (text, len, TRUE);
  guint i = 0;

  if (len > MS_SYNC_STATE_MAX_BYTES) {
    g_set_error (error, MS_ERROR, MS_ERROR_LIMIT, "%s: larger than %d bytes", filename,
                 MS_SYNC_STATE_MAX_BYTES);
    return NULL;
  }
  for (; i < lines->len; i++) {
    const char *line = g_ptr_array_index (lines, i);
    if (*line == '\0') {
      i++;
      break;
    }
    g_auto (GStrv) kv = g_strsplit (line, " ", 2);
    guint32 *field = NULL;
    if (g_str_equal (kv[0], "FarUidValidity") || g_str_equal (kv[0], "MasterUidValidity"))
      field = &s->far_uidvalidity;
    else if (g_str_equal (kv[0], "NearUidValidity") || g_str_equal (kv[0], "SlaveUidValidity"))
      field = &s->near_uidvalidity;
    else if (g_str_equal (kv[0], "MaxPulledUid"))
      field = &s->max_pulled;
    else if (g_str_equal (kv[0], "MaxPushedUid"))
      field = &s->max_pushed;
    if (field == NULL) {
      g_ptr_array_add (s->extra_header, g_strdup (line));
      continue;
    }
    if (kv[1] == NULL || !parse_u32 (kv[1], field)) {
      g_set_error (error, MS_ERROR, MS_ERROR_PROTOCOL, "%s:%u: bad header line \"%s\"", filename, i + 1, line);
      return NULL;
    }
  }
  for (; i < lines->len; i++) {
    const char *line = g_ptr_array_index (lines, i);
    if (*line == '\0')
      continue;
    g_auto (GStrv) f = g_strsplit (line, " ", 3);
    MsSyncPair pair = { 0 };
    if (f[0] == NULL || f[1] == NULL || !parse_u32 (f[0], &pair.far_uid) || !parse_u32 (f[1], &pair.near_uid)) {
      g_set_error (error, MS_ERROR, MS_ERROR_PROTOCOL, "%s:%u: bad entry \"%s\"", filename, i + 1, line);
      return NULL;
    }
    const char *flags = f[2] ? f[2] : "";
    /* mbsync markers (<, >, ^, ~) precede the flags: placeholders and
     * expired entries, which we treat as plain pairs. */
    while (*flags && strchr ("<>^~", *flags))
      flags++;
    pair.flags = ms_flags_from_letters (flags, strlen (flags));
    g_array_append_val (s->pairs, pair);
  }
  g_array_sort (s->pairs, pair_cmp);

  if (sidecar != NULL) {
    g_autoptr (GPtrArray) sl = split_lines (sidecar, sidecar_len, TRUE);
    for (guint j = 0; j < sl->len; j++) {
      g_auto (GStrv) kv = g_strsplit (g_ptr_array_index (sl, j), " ", 2);
      if (kv[0] == NULL || kv[1] == NULL)
        continue;
      /* The sidecar is an optimisation: a bad value just means "unknown". */
      if (g_str_equal (kv[0], "HighestModSeq"))
        s->far_highestmodseq = g_ascii_strtoull (kv[1], NULL, 10);
      else if (g_str_equal (kv[0], "UidNext"))
        parse_u32 (kv[1], &s->far_uidnext);
      else if (g_str_equal (kv[0], "Messages"))
        parse_u32 (kv[1], &s->far_messages);
    }
  }
  return g_steal_pointer (&s);
}

char *
ms_sync_state_format (const MsSyncState *s)
{
  GString *out = g_string_new (NULL);
  g_string_append_printf (out, "FarUidValidity %u\nNearUidValidity %u\nMaxPulledUid %u\nMaxPushedUid %u\n",
                          s->far_uidvalidity, s->near_uidvalidity, s->max_pulled, s->max_pushed);
  for (guint i = 0; i < s->extra_header->len; i++)
    g_string_append_printf (out, "%s\n", (const char *) g_ptr_array_index (s->extra_header, i));
  g_string_append_c (out, '\n');
  for (guint i = 0; i < s->pairs->len; i++) {
    const MsSyncPair *p = &g_array_index (s->pairs, MsSyncPair, i);
    g_autofree char *letters = ms_flags_to_letters (p->flags);
    g_string_append_printf (out, "%u %u %s\n", p->far_uid, p->near_uid, letters);
  }
  return g_string_free (out, FALSE);
}

char *
ms_sync_state_format_sidecar (const MsSyncState *s)
{
  return g_strdup_printf ("HighestModSeq %" G_GUINT64_FORMAT "\nUidNext %u\nMessages %u\n",
                          s->far_highestmodseq, s->far_uidnext, s->far_messages);
}

GPtrArray *
ms_sync_journal_replay (MsSyncState *s, const char *filename, const char *text, gsize len, GError **error)
{
  g_autoptr (GPtrArray) lines = split_lines (text, len, FALSE);
  g_autoptr (GPtrArray) pending = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < lines->len; i++) {
    const char *line = g_ptr_array_index (lines, i);
    g_auto (GStrv) f = g_strsplit (line, " ", 5);
    guint n = g_strv_length (f);
    guint32 a = 0, b = 0, c = 0;
    gboolean ok = n >= 2 && strlen (f[0]) == 1 && parse_u32 (f[1], &a)
                  && (n < 3 || parse_u32 (f[2], &b) || f[0][0] == '+' || f[0][0] == '=');
    if (!ok) {
      g_set_error (error, MS_ERROR, MS_ERROR_PROTOCOL, "%s:%u: bad journal line \"%s\"", filename, i + 1, line);
      return NULL;
    }
    switch (f[0][0]) {
    case '<': {
      MsSyncPending *p = g_new0 (MsSyncPending, 1);
      *p = (MsSyncPending) { MS_SYNC_PENDING_PULL, a, b };
      g_ptr_array_add (pending, p);
      break;
    }
    case '>': {
      MsSyncPending *p = g_new0 (MsSyncPending, 1);
      *p = (MsSyncPending) { MS_SYNC_PENDING_PUSH, 0, a, b,
                             n >= 4 ? g_ascii_strtoull (f[3], NULL, 10) : 0 };
      g_ptr_array_add (pending, p);
      break;
    }
    case '+':
    case '=': {
      const char *letters = n >= 4 ? f[3] : "";
      if (n < 3 || !parse_u32 (f[2], &b)) {
        g_set_error (error, MS_ERROR, MS_ERROR_PROTOCOL, "%s:%u: bad journal line \"%s\"", filename, i + 1, line);
        return NULL;
      }
      ms_sync_state_add_pair (s, a, b, ms_flags_from_letters (letters, strlen (letters)));
      /* A pair resolves the pending entry that announced it. */
      for (guint j = 0; j < pending->len; j++) {
        MsSyncPending *p = g_ptr_array_index (pending, j);
        if ((p->kind == MS_SYNC_PENDING_PULL && p->far_uid == a)
            || (p->kind == MS_SYNC_PENDING_PUSH && p->near_uid == b)) {
          g_ptr_array_remove_index (pending, j);
          break;
        }
      }
      break;
    }
    case '-':
      ms_sync_state_remove_pair (s, a, b);
      break;
    case 'U':
      (void) c;
      break; /* the counter lives in .uidvalidity; the line only documents it */
    default:
      g_set_error (error, MS_ERROR, MS_ERROR_PROTOCOL, "%s:%u: unknown journal entry \"%s\"", filename,
                   i + 1, line);
      return NULL;
    }
  }
  return g_steal_pointer (&pending);
}

/* --- files ---------------------------------------------------------------- */

struct MsSyncStateFile {
  char *path;
  char *journal_path;
  int lock_fd;
  int journal_fd;
  gboolean fsync;
  MsSyncState *state;
};

static char *
read_file_opt (const char *path, gsize *len, GError **error)
{
  g_autoptr (GError) local = NULL;
  char *text = NULL;
  if (!g_file_get_contents (path, &text, len, &local)) {
    if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return NULL;
    g_propagate_error (error, g_steal_pointer (&local));
  }
  return text;
}

MsSyncStateFile *
ms_sync_state_file_open (const char *path, gboolean fsync_enabled, GPtrArray **pending, GError **error)
{
  g_autofree char *lock_path = g_strconcat (path, ".lock", NULL);
  g_autofree char *dir = g_path_get_dirname (path);

  if (g_mkdir_with_parents (dir, 0700) < 0) {
    int e = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "cannot create %s: %s", dir, g_strerror (e));
    return NULL;
  }
  int lock_fd = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) {
    int e = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "cannot open %s: %s", lock_path, g_strerror (e));
    return NULL;
  }
  struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
  if (fcntl (lock_fd, F_SETLK, &fl) < 0) {
    close (lock_fd);
    g_set_error (error, MS_ERROR, MS_ERROR_FAILED,
                 "%s is locked: another sync_imap or mbsync is working on this mailbox", path);
    return NULL;
  }

  g_autoptr (GError) local = NULL;
  gsize len = 0, slen = 0, jlen = 0;
  g_autofree char *sidecar_path = g_strconcat (path, ".sync_imap", NULL);
  g_autofree char *journal_path = g_strconcat (path, ".journal-ng", NULL);
  g_autofree char *text = read_file_opt (path, &len, &local);
  g_autofree char *sidecar = local ? NULL : read_file_opt (sidecar_path, &slen, &local);
  g_autofree char *journal = local ? NULL : read_file_opt (journal_path, &jlen, &local);
  if (local != NULL) {
    close (lock_fd);
    g_propagate_error (error, g_steal_pointer (&local));
    return NULL;
  }
  g_autoptr (MsSyncState) state = text ? ms_sync_state_parse (path, text, len, sidecar, slen, error)
                                       : ms_sync_state_new ();
  g_autoptr (GPtrArray) unresolved = NULL;
  if (state != NULL && journal != NULL)
    unresolved = ms_sync_journal_replay (state, journal_path, journal, jlen, error);
  if (state == NULL || (journal != NULL && unresolved == NULL)) {
    close (lock_fd);
    return NULL;
  }

  MsSyncStateFile *f = g_new0 (MsSyncStateFile, 1);
  f->path = g_strdup (path);
  f->journal_path = g_steal_pointer (&journal_path);
  f->lock_fd = lock_fd;
  f->journal_fd = -1;
  f->fsync = fsync_enabled;
  f->state = g_steal_pointer (&state);
  if (pending != NULL)
    *pending = unresolved ? g_steal_pointer (&unresolved) : g_ptr_array_new_with_free_func (g_free);
  return f;
}

MsSyncState *
ms_sync_state_file_state (MsSyncStateFile *f)
{
  return f->state;
}

static gboolean
journal_write (MsSyncStateFile *f, const char *line, GError **error)
{
  ms_sync_step ();
  if (f->journal_fd < 0) {
    f->journal_fd = open (f->journal_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (f->journal_fd < 0) {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "cannot open %s: %s", f->journal_path,
                   g_strerror (e));
      return FALSE;
    }
  }
  /* One write(2) per line: a crash leaves a whole line or a torn last one,
   * which replay ignores. */
  gsize len = strlen (line);
  ssize_t n;
  do
    n = write (f->journal_fd, line, len);
  while (n < 0 && errno == EINTR);
  if (n != (ssize_t) len) {
    int e = n < 0 ? errno : EIO;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "writing %s: %s", f->journal_path,
                 g_strerror (e));
    return FALSE;
  }
  return TRUE;
}

gboolean
ms_sync_journal_pull (MsSyncStateFile *f, guint32 far_uid, guint32 near_uid, GError **error)
{
  g_autofree char *line = g_strdup_printf ("< %u %u\n", far_uid, near_uid);
  return journal_write (f, line, error);
}

gboolean
ms_sync_journal_push (MsSyncStateFile *f, guint32 near_uid, guint32 uidnext, guint64 size, GError **error)
{
  g_autofree char *line = g_strdup_printf ("> %u %u %" G_GUINT64_FORMAT "\n", near_uid, uidnext, size);
  return journal_write (f, line, error);
}

gboolean
ms_sync_journal_reserve (MsSyncStateFile *f, guint32 near_uid_max, GError **error)
{
  g_autofree char *line = g_strdup_printf ("U %u\n", near_uid_max);
  return journal_write (f, line, error);
}

gboolean
ms_sync_state_file_pair (MsSyncStateFile *f, guint32 far_uid, guint32 near_uid, MsFlags flags, GError **error)
{
  g_autofree char *letters = ms_flags_to_letters (flags);
  g_autofree char *line = g_strdup_printf ("+ %u %u %s\n", far_uid, near_uid, letters);
  if (!journal_write (f, line, error))
    return FALSE;
  ms_sync_state_add_pair (f->state, far_uid, near_uid, flags);
  return TRUE;
}

gboolean
ms_sync_state_file_set_flags (MsSyncStateFile *f, guint32 far_uid, guint32 near_uid, MsFlags flags,
                              GError **error)
{
  g_autofree char *letters = ms_flags_to_letters (flags);
  g_autofree char *line = g_strdup_printf ("= %u %u %s\n", far_uid, near_uid, letters);
  if (!journal_write (f, line, error))
    return FALSE;
  ms_sync_state_add_pair (f->state, far_uid, near_uid, flags);
  return TRUE;
}

gboolean
ms_sync_state_file_unpair (MsSyncStateFile *f, guint32 far_uid, guint32 near_uid, GError **error)
{
  g_autofree char *line = g_strdup_printf ("- %u %u\n", far_uid, near_uid);
  if (!journal_write (f, line, error))
    return FALSE;
  ms_sync_state_remove_pair (f->state, far_uid, near_uid);
  return TRUE;
}

/* Writes `text` to path via path.new + fsync + rename. */
static gboolean
replace_file (const char *path, const char *text, gboolean do_fsync, GError **error)
{
  g_autofree char *tmp = g_strconcat (path, ".new", NULL);
  int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    int e = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "cannot write %s: %s", tmp, g_strerror (e));
    return FALSE;
  }
  gsize len = strlen (text);
  const char *p = text;
  while (len > 0) {
    ssize_t n = write (fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      int e = n < 0 ? errno : EIO;
      close (fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "writing %s: %s", tmp, g_strerror (e));
      return FALSE;
    }
    p += n;
    len -= (gsize) n;
  }
  if ((do_fsync && fdatasync (fd) < 0) || close (fd) < 0 || rename (tmp, path) < 0) {
    int e = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "committing %s: %s", path, g_strerror (e));
    return FALSE;
  }
  return TRUE;
}

gboolean
ms_sync_state_file_commit (MsSyncStateFile *f, GError **error)
{
  g_autofree char *text = ms_sync_state_format (f->state);
  g_autofree char *sidecar = ms_sync_state_format_sidecar (f->state);
  g_autofree char *sidecar_path = g_strconcat (f->path, ".sync_imap", NULL);

  ms_sync_step ();
  /* The sidecar first: a crash between the two leaves a newer sidecar with
   * an older state, which only costs a full listing next time (the sidecar
   * is checked against the state's max UIDs). */
  if (!replace_file (sidecar_path, sidecar, FALSE, error) || !replace_file (f->path, text, f->fsync, error))
    return FALSE;
  if (f->journal_fd >= 0) {
    close (f->journal_fd);
    f->journal_fd = -1;
  }
  if (unlink (f->journal_path) < 0 && errno != ENOENT) {
    int e = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "removing %s: %s", f->journal_path,
                 g_strerror (e));
    return FALSE;
  }
  return TRUE;
}

void
ms_sync_state_file_close (MsSyncStateFile *f)
{
  if (f == NULL)
    return;
  if (f->journal_fd >= 0)
    close (f->journal_fd);
  close (f->lock_fd);
  ms_sync_state_free (f->state);
  g_free (f->path);
  g_free (f->journal_path);
  g_free (f);
}
