/* maildir.c — the Maildir side of sync_imap (contract in maildir.h).
 *
 * Names.  A message file name is BASE[DELIM INFO].  BASE is the writer's
 * unique part plus optional ",X=value" fields; mbsync adds ",U=N" (our
 * UID), Dovecot ",S=size,W=vsize", offlineimap ",U=remote,FMD5=hash".  The
 * KEY, the identity we find a message by after someone renamed it, is BASE
 * less the ",U=N" field: flag renames change INFO, the UID rename changes
 * only that field, and moving new/ -> cur/ changes neither.  Parsing is pure
 * (split_name) and allocates only the two strings a message keeps.
 *
 * The UID field is the first ",U=" followed by 1..10 digits that ends at a
 * ',' or at the end of BASE; anything else that merely looks like one
 * (",U=abc") is ordinary text of the key.  mbsync finds it with strstr and
 * reads what digits follow, which agrees on every name mbsync or we write.
 *
 * Scanning.  mbsync stats new/ and cur/, sleeps a second if either changed
 * in the current second, lists, and stats again.  We never sleep: the
 * fingerprints (the two directory mtimes) are read before listing and
 * handed to the caller, who compares them later; a change made while we
 * listed moves an mtime, so the caller sees a difference and rescans.  The
 * gap mbsync's sleep covered — a later change that leaves the same mtime
 * because the file system clock has not ticked yet — is covered by
 * reporting such a fresh mtime as MS_MAILDIR_FINGERPRINT_UNSETTLED, which
 * never compares equal.  "Fresh" means within the timestamp granule: the
 * kernel stamps directories from its coarse clock (a few milliseconds per
 * tick), and an mtime with zero nanoseconds suggests a file system that
 * keeps whole seconds only.
 *
 * Delivery.  tmp/KEY is created with O_EXCL, written in the caller's chunks,
 * fsynced, then renamed into new/ or cur/ with RENAME_NOREPLACE, so a KEY
 * collision (PID reuse within one second, a clock step back) can never
 * replace someone's message: we pick a fresh KEY and try again.  The
 * directory is fsynced after the rename, which is the point where the
 * message exists.  The tmp file's mtime is only set (to INTERNALDATE) just
 * before that rename, so a stale-tmp sweep (ours or another program's,
 * which go by age) cannot mistake a delivery in progress for a leftover.
 *
 * .uidvalidity is made with tmp + rename, and then rewritten in place, as
 * mbsync does: its two numbers are far smaller than a disk sector, which a
 * crash leaves old or new, and a new inode per sync is what costs most in
 * a small sync (see sync-state.c).  Two programs handing out UIDs in one
 * folder at once must be kept apart by the caller (the sync state's lock),
 * not here.
 *
 * Renames (flags, UID) race with MUAs renaming the same file.  rename(2) is
 * atomic, so either we win or we get ENOENT; then we look the KEY up again
 * in new/ and cur/ and retry once on the name we find.  Every rename is made
 * durable (directory fsync) when the store asks for fsync: a lost flag
 * rename would later read as the user undoing the flag, and a lost UID
 * rename as a deleted message.
 *
 * Paths follow mbsync's SubFolders mapping (see maildir.h).  A name is
 * checked before any path is built, and the listing only reports a
 * directory whose name maps back to that same directory, so every listed
 * name is one ms_maildir_folder_path() accepts and no folder is listed
 * twice under two names.
 */
#include "maildir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mailbox-name.h"
#include "ms-error.h"
#include "ms-fd.h"

/* A .uidvalidity holds two 10-digit numbers and two newlines; anything
 * longer than this is not one, and we do not read further. */
#define UIDVALIDITY_MAX_BYTES 64

/* Host names are at most 64 bytes (HOST_NAME_MAX); escaped they could grow
 * fourfold.  Capping the escaped form keeps every name we make below 160
 * bytes, far from NAME_MAX (255) even after ",U=" and every flag. */
#define KEY_HOST_MAX 64

/* O_EXCL/RENAME_NOREPLACE collisions need a KEY that someone else already
 * used; each retry takes a new counter value, so two failures in a row are
 * already unheard of.  The bound only stops a loop on a broken file system. */
#define KEY_ATTEMPTS 16

/* Deepest Verbatim folder we list, counting ROOT as 0; the same bound as
 * watch_maildirs, so the two agree on which folders exist.  Real
 * hierarchies are a handful of levels deep. */
#define LIST_MAX_DEPTH 64

/* More folders than this is a loop or a mistake, not a mail account (IMAP
 * servers cap far lower); we refuse rather than list without bound. */
#define LIST_MAX_FOLDERS 100000

#define NS_PER_SEC G_GINT64_CONSTANT (1000000000)

static const char flag_letters[] = "DFPRST";

/* ---- errors ---------------------------------------------------------- */

static void errno_error (GError **error, int e, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

/* "WHAT: strerror" in G_IO_ERROR with the code errno maps to. */
static void
errno_error (GError **error, int e, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "%s: %s", what, g_strerror (e));
}

/* ---- flags ----------------------------------------------------------- */

static int
flag_index (char c)
{
  if (c == '\0')
    return -1;
  const char *p = strchr (flag_letters, c);
  return p ? (int) (p - flag_letters) : -1;
}

MsFlags
ms_flags_from_letters (const char *letters, gsize len)
{
  g_return_val_if_fail (letters != NULL || len == 0, 0);

  MsFlags flags = 0;
  for (gsize i = 0; i < len; i++) {
    int bit = flag_index (letters[i]);
    if (bit >= 0)
      flags |= 1u << bit;
  }
  return flags;
}

char *
ms_flags_to_letters (MsFlags flags)
{
  char buf[sizeof flag_letters];
  gsize n = 0;
  for (gsize i = 0; i < sizeof flag_letters - 1; i++)
    if (flags & (1u << i))
      buf[n++] = flag_letters[i];
  buf[n] = '\0';
  return g_strdup (buf);
}

/* ---- names (pure) ---------------------------------------------------- */

typedef struct {
  gsize base_len;     /* bytes before the info delimiter (all if none) */
  gboolean info_v2;   /* the info part is "2,LETTERS" */
  gsize uid_start;    /* the ",U=N" field within BASE; start == end: none */
  gsize uid_end;
  guint32 uid;
} NameParts;

/* Finds the first ",X=DIGITS" field of base[0..len) that ends at ',' or at
 * the end and whose value fits `max`. */
static gboolean
find_field (const char *base, gsize len, char letter, guint64 max, gsize *start, gsize *end,
            guint64 *value)
{
  for (gsize i = 0; i + 3 < len; i++) {
    if (base[i] != ',' || base[i + 1] != letter || base[i + 2] != '=')
      continue;
    gsize j = i + 3;
    guint64 v = 0;
    gboolean fits = TRUE;
    while (j < len && g_ascii_isdigit (base[j])) {
      guint d = (guint) (base[j] - '0');
      if (v > (max - d) / 10)
        fits = FALSE;
      else
        v = v * 10 + d;
      j++;
    }
    if (j == i + 3 || !fits || (j < len && base[j] != ','))
      continue;
    *start = i;
    *end = j;
    *value = v;
    return TRUE;
  }
  return FALSE;
}

static void
split_name (const char *name, char delim, NameParts *p)
{
  const char *info = strchr (name, delim);
  memset (p, 0, sizeof *p);
  p->base_len = info ? (gsize) (info - name) : strlen (name);
  p->info_v2 = info != NULL && info[1] == '2' && info[2] == ',';
  guint64 uid = 0;
  if (find_field (name, p->base_len, 'U', G_MAXUINT32, &p->uid_start, &p->uid_end, &uid))
    p->uid = (guint32) uid;
}

static gboolean
delimiter_ok (char delim)
{
  /* '/' cannot be in a file name and '\0' would end it. */
  return delim != '\0' && delim != '/';
}

MsMaildirMessage *
ms_maildir_message_parse (const char *name, char info_delimiter, gboolean in_new)
{
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (delimiter_ok (info_delimiter), NULL);

  NameParts p;
  split_name (name, info_delimiter, &p);

  MsMaildirMessage *msg = g_new0 (MsMaildirMessage, 1);
  msg->name = g_strdup (name);
  gsize tail = p.base_len - p.uid_end;
  msg->key = g_malloc (p.uid_start + tail + 1);
  memcpy (msg->key, name, p.uid_start);
  memcpy (msg->key + p.uid_start, name + p.uid_end, tail);
  msg->key[p.uid_start + tail] = '\0';
  msg->uid = p.uid;
  msg->in_new = in_new;
  if (p.info_v2) {
    const char *letters = name + p.base_len + 3;
    msg->flags = ms_flags_from_letters (letters, strlen (letters));
  }
  gsize s, e;
  guint64 size;
  if (find_field (name, p.base_len, 'S', G_MAXUINT64, &s, &e, &size))
    msg->size = size;
  return msg;
}

/* Whether `name` has key `key`, without allocating (for the lookups after
 * a lost rename race, which read a whole directory). */
static gboolean
name_has_key (const char *name, char delim, const char *key, gsize key_len)
{
  NameParts p;
  split_name (name, delim, &p);
  gsize tail = p.base_len - p.uid_end;
  return p.uid_start + tail == key_len && memcmp (name, key, p.uid_start) == 0
         && memcmp (name + p.uid_end, key + p.uid_start, tail) == 0;
}

/* The info letters for `flags`, keeping the letters of `old` we do not
 * know in their place: both runs are in ASCII order when `old` was, as the
 * Maildir convention asks. */
static void
append_letters (GString *out, MsFlags flags, const char *old)
{
  g_autofree char *known = ms_flags_to_letters (flags);
  const char *k = known;
  for (const char *o = old; o && *o; o++) {
    if (flag_index (*o) >= 0)
      continue;
    while (*k && *k < *o)
      g_string_append_c (out, *k++);
    g_string_append_c (out, *o);
  }
  g_string_append (out, k);
}

char *
ms_maildir_rename_name (const char *name, char info_delimiter, guint32 uid, MsFlags flags)
{
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (delimiter_ok (info_delimiter), NULL);

  NameParts p;
  split_name (name, info_delimiter, &p);
  flags &= MS_FLAGS_ALL;

  GString *out = g_string_sized_new (strlen (name) + 24);
  if (uid == 0) {
    g_string_append_len (out, name, p.base_len);
  } else if (p.uid_start != p.uid_end) {
    g_string_append_len (out, name, p.uid_start);
    g_string_append_printf (out, ",U=%u", uid);
    g_string_append_len (out, name + p.uid_end, p.base_len - p.uid_end);
  } else {
    g_string_append_len (out, name, p.base_len);
    g_string_append_printf (out, ",U=%u", uid);
  }

  const char *info = name + p.base_len;
  if (p.info_v2) {
    g_string_append_c (out, info_delimiter);
    g_string_append (out, "2,");
    append_letters (out, flags, info + 3);
  } else if (flags != 0) {
    /* No info, or another version of it (the never-used "1,"): flags need
     * the "2," form. */
    g_string_append_c (out, info_delimiter);
    g_string_append (out, "2,");
    append_letters (out, flags, NULL);
  } else {
    g_string_append (out, info);
  }
  return g_string_free (out, FALSE);
}

char *
ms_maildir_make_key (gint64 seconds, guint32 pid, guint32 counter, const char *hostname,
                     char info_delimiter)
{
  GString *key = g_string_sized_new (40 + KEY_HOST_MAX);
  g_string_append_printf (key, "%" G_GINT64_FORMAT ".%u_%u.", seconds, pid, counter);
  if (hostname == NULL || *hostname == '\0')
    hostname = "localhost";
  gsize host_start = key->len;
  for (const char *h = hostname; *h; h++) {
    guchar c = (guchar) *h;
    gboolean escape = c == '/' || c == ':' || c == ',' || c == '\\' || c == (guchar) info_delimiter
                      || c <= 0x20 || c >= 0x7f;
    if (key->len - host_start + (escape ? 4 : 1) > KEY_HOST_MAX)
      break;
    if (escape)
      g_string_append_printf (key, "\\%03o", c);
    else
      g_string_append_c (key, (char) c);
  }
  return g_string_free (key, FALSE);
}

/* ---- messages and scans ---------------------------------------------- */

void
ms_maildir_message_free (MsMaildirMessage *msg)
{
  if (msg == NULL)
    return;
  g_free (msg->name);
  g_free (msg->key);
  g_free (msg);
}

void
ms_maildir_scan_free (MsMaildirScan *scan)
{
  if (scan == NULL)
    return;
  g_free (scan->path);
  g_clear_pointer (&scan->messages, g_ptr_array_unref);
  g_free (scan);
}

/* ---- paths ----------------------------------------------------------- */

static gboolean
is_within (const char *path, const char *dir)
{
  gsize n = strlen (dir);
  if (strncmp (path, dir, n) != 0)
    return FALSE;
  return path[n] == '\0' || path[n] == '/' || (n > 0 && dir[n - 1] == '/');
}

/* The layout rules beyond ms_mailbox_name_check(); see maildir.h.  Like it,
 * the reasons never repeat the (possibly hostile) name. */
static gboolean
check_box_name (const MsMaildirStore *store, const char *box, GError **error)
{
  gsize len = strlen (box);
  if (!ms_mailbox_name_check (box, len, error))
    return FALSE;
  if (len == 0) {
    g_set_error_literal (error, MS_ERROR, MS_ERROR_BAD_NAME,
                         "the empty mailbox name means every mailbox, not a folder");
    return FALSE;
  }
  const char *comp = box;
  for (;;) {
    const char *slash = strchr (comp, '/');
    gsize n = slash ? (gsize) (slash - comp) : strlen (comp);
    if (n == 0) {
      g_set_error_literal (error, MS_ERROR, MS_ERROR_BAD_NAME, "mailbox name has an empty path component");
      return FALSE;
    }
    if (comp[0] == '.') {
      g_set_error_literal (error, MS_ERROR, MS_ERROR_BAD_NAME,
                           "mailbox name has a component starting with \".\" (a hidden directory)");
      return FALSE;
    }
    if (store->layout == MS_MAILDIR_LAYOUT_MAILDIRPP && memchr (comp, '.', n) != NULL) {
      g_set_error_literal (error, MS_ERROR, MS_ERROR_BAD_NAME,
                           "mailbox name contains \".\", the folder separator of the Maildir++ layout");
      return FALSE;
    }
    if (store->layout == MS_MAILDIR_LAYOUT_VERBATIM && n == 3
        && (memcmp (comp, "cur", 3) == 0 || memcmp (comp, "new", 3) == 0 || memcmp (comp, "tmp", 3) == 0)) {
      g_set_error_literal (error, MS_ERROR, MS_ERROR_BAD_NAME,
                           "mailbox name has a component cur, new or tmp (a folder's own directories)");
      return FALSE;
    }
    if (slash == NULL)
      return TRUE;
    comp = slash + 1;
  }
}

/* Path may be unset (mbsync allows that), but then the Inbox must be set. */
static gboolean
store_ok (const MsMaildirStore *store)
{
  return store != NULL && (store->root != NULL || store->inbox != NULL)
         && delimiter_ok (store->info_delimiter);
}

static char *
store_base (const MsMaildirStore *store)
{
  return g_canonicalize_filename (store->inbox ? store->inbox : store->root, NULL);
}

/* ROOT canonical, or NULL when Path is unset. */
static char *
store_root (const MsMaildirStore *store)
{
  return store->root ? g_canonicalize_filename (store->root, NULL) : NULL;
}

static char *
verbatim_inbox (const MsMaildirStore *store, const char *root)
{
  return store->inbox ? g_canonicalize_filename (store->inbox, NULL) : g_build_filename (root, "INBOX", NULL);
}

/* "a/b" -> "a.b" appended after `prefix`. */
static char *
dotted_path (const char *base, const char *prefix, const char *rest)
{
  g_autofree char *dots = g_strdup (rest);
  g_strdelimit (dots, "/", '.');
  g_autofree char *entry = g_strconcat (prefix, dots, NULL);
  return g_build_filename (base, entry, NULL);
}

char *
ms_maildir_folder_path (const MsMaildirStore *store, const char *box, GError **error)
{
  g_return_val_if_fail (store_ok (store), NULL);
  g_return_val_if_fail (box != NULL, NULL);

  if (!check_box_name (store, box, error))
    return NULL;
  gboolean is_inbox = strcmp (box, "INBOX") == 0;
  gboolean in_inbox = g_str_has_prefix (box, "INBOX/");

  if (store->layout == MS_MAILDIR_LAYOUT_MAILDIRPP) {
    g_autofree char *base = store_base (store);
    if (is_inbox)
      return g_steal_pointer (&base);
    /* mbsync's mapping: "a/b" is .a.b and "INBOX/x" is ..x. */
    return in_inbox ? dotted_path (base, "..", box + 6) : dotted_path (base, ".", box);
  }

  g_autofree char *root = store_root (store);
  g_autofree char *inbox = verbatim_inbox (store, root);
  if (is_inbox)
    return g_steal_pointer (&inbox);
  /* Where ROOT and the Inbox overlap, a directory in the overlap must have
   * one name only: the deeper of the two trees names it. */
  if (in_inbox) {
    char *path = g_build_filename (inbox, box + 6, NULL);
    if (root && is_within (root, inbox) && is_within (path, root)) {
      g_free (path);
      g_set_error_literal (error, MS_ERROR, MS_ERROR_BAD_NAME,
                           "mailbox name below INBOX lands in the Path tree, which names it otherwise");
      return NULL;
    }
    return path;
  }
  if (root == NULL) {
    g_set_error_literal (error, MS_ERROR, MS_ERROR_FAILED,
                         "the Maildir store has no Path, so it has no folders besides INBOX");
    return NULL;
  }
  char *path = g_build_filename (root, box, NULL);
  if (is_within (path, inbox) && !is_within (root, inbox)) {
    g_free (path);
    g_set_error_literal (error, MS_ERROR, MS_ERROR_BAD_NAME,
                         "mailbox name lands in the Inbox directory, which is INBOX's");
    return NULL;
  }
  return path;
}

char *
ms_maildir_name_from_watcher (const MsMaildirStore *store, const char *name, GError **error)
{
  g_return_val_if_fail (store_ok (store) && name != NULL, NULL);

  if (*name == '\0')
    return g_strdup ("");
  if (!ms_mailbox_name_check (name, strlen (name), error))
    return NULL;
  if (strcmp (name, "INBOX") == 0)
    return g_strdup (name);

  g_autofree char *box = NULL;
  if (store->layout == MS_MAILDIR_LAYOUT_MAILDIRPP) {
    if (strchr (name, '/') != NULL) {
      g_set_error_literal (error, MS_ERROR, MS_ERROR_BAD_NAME,
                           "a Maildir++ folder name cannot contain \"/\"");
      return NULL;
    }
    /* mbsync ignores .INBOX and .INBOX.x: they would collide with INBOX. */
    if (g_str_has_prefix (name, "INBOX.")) {
      g_set_error_literal (error, MS_ERROR, MS_ERROR_BAD_NAME,
                           "a Maildir++ directory .INBOX... is no folder (its name collides with INBOX)");
      return NULL;
    }
    /* The watcher drops the leading dot of ".a.b"; "..x" arrives as ".x". */
    box = name[0] == '.' ? g_strconcat ("INBOX/", name + 1, NULL) : g_strdup (name);
    g_strdelimit (box + (name[0] == '.' ? 6 : 0), ".", '/');
  } else {
    box = g_strdup (name);
    /* A watcher on ROOT names an Inbox inside ROOT by its directory. */
    g_autofree char *root = store_root (store);
    g_autofree char *inbox = verbatim_inbox (store, root);
    g_autofree char *path = root ? g_build_filename (root, name, NULL) : NULL;
    if (path && !is_within (root, inbox) && is_within (path, inbox)) {
      g_free (box);
      box = g_strconcat ("INBOX", path + strlen (inbox), NULL);
    }
  }
  if (!check_box_name (store, box, error))
    return NULL;
  return g_steal_pointer (&box);
}

/* ---- small I/O helpers ------------------------------------------------ */

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DIR, closedir)

static gboolean
is_dir (const char *path)
{
  struct stat st;
  return stat (path, &st) == 0 && S_ISDIR (st.st_mode);
}

static gboolean
is_maildir (const char *path)
{
  g_autofree char *cur = g_build_filename (path, "cur", NULL);
  g_autofree char *new_dir = g_build_filename (path, "new", NULL);
  return is_dir (cur) && is_dir (new_dir);
}

static gboolean
fsync_dir (const char *path, GError **error)
{
  int fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    errno_error (error, errno, "opening directory %s", path);
    return FALSE;
  }
  if (fsync (fd) < 0) {
    int e = errno;
    close (fd);
    errno_error (error, e, "syncing directory %s", path);
    return FALSE;
  }
  close (fd);
  return TRUE;
}

static gboolean
write_all (int fd, const char *data, gsize len, const char *path, GError **error)
{
  while (len > 0) {
    ssize_t n = write (fd, data, MIN (len, (gsize) G_MAXSSIZE));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      errno_error (error, errno, "writing %s", path);
      return FALSE;
    }
    if (n == 0) {
      errno_error (error, ENOSPC, "writing %s", path);
      return FALSE;
    }
    data += n;
    len -= (gsize) n;
  }
  return TRUE;
}

/* rename(2) that never replaces an existing file.  Where the file system
 * cannot refuse (some network and FUSE file systems answer EINVAL), we check
 * first: the window between check and rename is what every Maildir writer
 * lives with there, and unique KEYs keep it theoretical. */
static int
rename_noreplace (const char *src, const char *dst)
{
  if (renameat2 (AT_FDCWD, src, AT_FDCWD, dst, RENAME_NOREPLACE) == 0)
    return 0;
  if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
    return -1;
  struct stat st;
  if (lstat (dst, &st) == 0) {
    errno = EEXIST;
    return -1;
  }
  return rename (src, dst);
}

static gint64
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  return (gint64) ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/* How long after a change another change may still get the same directory
 * mtime: two ticks of the coarse clock the kernel stamps with (one could be
 * in progress, one more absorbs jitter). */
gint64
ms_maildir_fingerprint_settle_ns (void)
{
  static gsize granule;
  if (g_once_init_enter (&granule)) {
    struct timespec res;
    gint64 g = 10 * 1000 * 1000; /* HZ=100, the coarsest common tick */
    if (clock_getres (CLOCK_REALTIME_COARSE, &res) == 0)
      g = (gint64) res.tv_sec * NS_PER_SEC + res.tv_nsec;
    g_once_init_leave (&granule, (gsize) MAX (2 * g, 1000000));
  }
  return (gint64) granule;
}

/* One fingerprint; `now` was read before the stat, so a change at or after
 * it shows up as a fresh mtime (see the comment at the top). */
static gboolean
fingerprint_dir (const char *folder, const char *sub, gint64 now, gint64 *out, GError **error)
{
  g_autofree char *dir = g_build_filename (folder, sub, NULL);
  struct stat st;
  if (stat (dir, &st) < 0) {
    errno_error (error, errno, "examining %s", dir);
    return FALSE;
  }
  if (!S_ISDIR (st.st_mode)) {
    errno_error (error, ENOTDIR, "examining %s", dir);
    return FALSE;
  }
  gint64 mtime = (gint64) st.st_mtim.tv_sec * NS_PER_SEC + st.st_mtim.tv_nsec;
  gint64 granule = st.st_mtim.tv_nsec == 0 ? NS_PER_SEC : ms_maildir_fingerprint_settle_ns ();
  *out = mtime > now - granule ? MS_MAILDIR_FINGERPRINT_UNSETTLED : mtime;
  return TRUE;
}

static gboolean
fingerprint_folder (const char *folder, gint64 *mtime_new_ns, gint64 *mtime_cur_ns, GError **error)
{
  gint64 now = now_ns ();
  gint64 n, c;
  if (!fingerprint_dir (folder, "new", now, &n, error) || !fingerprint_dir (folder, "cur", now, &c, error))
    return FALSE;
  *mtime_new_ns = n;
  *mtime_cur_ns = c;
  return TRUE;
}

gboolean
ms_maildir_fingerprint (const MsMaildirStore *store, const char *box, gint64 *mtime_new_ns,
                        gint64 *mtime_cur_ns, GError **error)
{
  g_return_val_if_fail (mtime_new_ns != NULL && mtime_cur_ns != NULL, FALSE);

  g_autofree char *folder = ms_maildir_folder_path (store, box, error);
  return folder != NULL && fingerprint_folder (folder, mtime_new_ns, mtime_cur_ns, error);
}

/* ---- .uidvalidity ----------------------------------------------------- */

static const char *
parse_u32 (const char *p, const char *end, guint32 *out)
{
  guint64 v = 0;
  const char *start = p;
  while (p < end && g_ascii_isdigit (*p)) {
    v = v * 10 + (guint64) (*p - '0');
    if (v > G_MAXUINT32)
      return NULL;
    p++;
  }
  if (p == start)
    return NULL;
  *out = (guint32) v;
  return p;
}

static const char *
skip_space (const char *p, const char *end)
{
  while (p < end && g_ascii_isspace (*p))
    p++;
  return p;
}

/* Two decimal numbers separated and followed by white space: what mbsync
 * writes ("%u\n%u\n") and what its sscanf("%u\n%u") reads.  Pure. */
static gboolean
parse_uidvalidity (const char *text, gsize len, guint32 *uidvalidity, guint32 *max_uid)
{
  const char *end = text + len;
  guint32 uv, max;
  const char *p = parse_u32 (skip_space (text, end), end, &uv);
  if (p == NULL || p == end || !g_ascii_isspace (*p))
    return FALSE;
  p = parse_u32 (skip_space (p, end), end, &max);
  if (p == NULL || skip_space (p, end) != end || uv == 0)
    return FALSE;
  *uidvalidity = uv;
  *max_uid = max;
  return TRUE;
}

static gboolean
read_uidvalidity_at (const char *folder, guint32 *uidvalidity, guint32 *max_uid, GError **error)
{
  g_autofree char *path = g_build_filename (folder, ".uidvalidity", NULL);
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      *uidvalidity = *max_uid = 0;
      return TRUE;
    }
    errno_error (error, errno, "opening %s", path);
    return FALSE;
  }
  char buf[UIDVALIDITY_MAX_BYTES + 1];
  gsize len = 0;
  while (len < sizeof buf) {
    ssize_t n = read (fd, buf + len, sizeof buf - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno;
      close (fd);
      errno_error (error, e, "reading %s", path);
      return FALSE;
    }
    if (n == 0)
      break;
    len += (gsize) n;
  }
  close (fd);
  if (len == 0) {
    /* mbsync creates the file first and fills it later: empty = missing. */
    *uidvalidity = *max_uid = 0;
    return TRUE;
  }
  if (len > UIDVALIDITY_MAX_BYTES || !parse_uidvalidity (buf, len, uidvalidity, max_uid)) {
    g_set_error (error, MS_ERROR, MS_ERROR_FAILED,
                 "%s is malformed (expected the UIDVALIDITY and the highest UID, one per line)", path);
    return FALSE;
  }
  return TRUE;
}

gboolean
ms_maildir_read_uidvalidity (const MsMaildirStore *store, const char *box, guint32 *uidvalidity,
                             guint32 *max_uid, GError **error)
{
  g_return_val_if_fail (uidvalidity != NULL && max_uid != NULL, FALSE);

  g_autofree char *folder = ms_maildir_folder_path (store, box, error);
  return folder != NULL && read_uidvalidity_at (folder, uidvalidity, max_uid, error);
}

gboolean
ms_maildir_write_uidvalidity (const MsMaildirStore *store, const char *box, guint32 uidvalidity,
                              guint32 max_uid, GError **error)
{
  g_return_val_if_fail (uidvalidity != 0, FALSE);

  g_autofree char *folder = ms_maildir_folder_path (store, box, error);
  if (folder == NULL)
    return FALSE;
  g_autofree char *path = g_build_filename (folder, ".uidvalidity", NULL);
  g_autofree char *text = g_strdup_printf ("%u\n%u\n", uidvalidity, max_uid);

  int fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    int e = ms_fd_rewrite_and_close (fd, text, strlen (text), store->fsync);
    if (e != 0)
      errno_error (error, e, "writing %s", path);
    return e == 0;
  }
  if (errno != ENOENT) {
    errno_error (error, errno, "opening %s", path);
    return FALSE;
  }
  /* A fixed tmp name: a crash leaves one file that the next write reuses. */
  g_autofree char *tmp = g_build_filename (folder, ".uidvalidity.tmp", NULL);
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    errno_error (error, errno, "creating %s", tmp);
    return FALSE;
  }
  gboolean ok = write_all (fd, text, strlen (text), tmp, error);
  if (ok && store->fsync && fsync (fd) < 0) {
    errno_error (error, errno, "syncing %s", tmp);
    ok = FALSE;
  }
  if (close (fd) < 0 && ok) {
    errno_error (error, errno, "writing %s", tmp);
    ok = FALSE;
  }
  if (ok && rename (tmp, path) < 0) {
    errno_error (error, errno, "renaming %s to %s", tmp, path);
    ok = FALSE;
  }
  if (!ok) {
    unlink (tmp);
    return FALSE;
  }
  return !store->fsync || fsync_dir (folder, error);
}

/* ---- scanning --------------------------------------------------------- */

/* Removes files from tmp/ whose mtime is older than the Maildir limit.
 * Best effort: a sweep that fails is retried by the next scan, and nothing
 * depends on it. */
static void
clean_tmp (const char *folder, gint64 now_secs)
{
  g_autofree char *tmp = g_build_filename (folder, "tmp", NULL);
  g_autoptr (DIR) d = opendir (tmp);
  if (d == NULL)
    return;
  struct dirent *de;
  while ((de = readdir (d)) != NULL) {
    if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
      continue;
    if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
      continue;
    struct stat st;
    if (fstatat (dirfd (d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG (st.st_mode)
        && now_secs - (gint64) st.st_mtime > MS_MAILDIR_TMP_STALE_SECS)
      unlinkat (dirfd (d), de->d_name, 0);
  }
}

/* Whether a directory entry is a message file: a regular file, or a link
 * to one.  Entries that vanish meanwhile are not. */
static gboolean
is_message_entry (DIR *d, const struct dirent *de)
{
  if (de->d_type == DT_REG)
    return TRUE;
  if (de->d_type != DT_UNKNOWN && de->d_type != DT_LNK)
    return FALSE;
  struct stat st;
  if (fstatat (dirfd (d), de->d_name, &st, 0) < 0)
    return errno != ENOENT; /* let a later open report anything else */
  return S_ISREG (st.st_mode);
}

static gboolean
list_messages (const char *folder, gboolean in_new, char delim, GPtrArray *out, GError **error)
{
  g_autofree char *dir = g_build_filename (folder, in_new ? "new" : "cur", NULL);
  g_autoptr (DIR) d = opendir (dir);
  if (d == NULL) {
    errno_error (error, errno, "listing %s", dir);
    return FALSE;
  }
  for (;;) {
    errno = 0;
    struct dirent *de = readdir (d);
    if (de == NULL) {
      if (errno != 0) {
        errno_error (error, errno, "listing %s", dir);
        return FALSE;
      }
      return TRUE;
    }
    /* Dot files are no messages (mbsync skips them too), nor "." and "..". */
    if (de->d_name[0] == '.' || !is_message_entry (d, de))
      continue;
    if (out->len >= MS_MAILDIR_MAX_MESSAGES) {
      g_set_error (error, MS_ERROR, MS_ERROR_LIMIT, "%s holds more than %d messages", folder,
                   MS_MAILDIR_MAX_MESSAGES);
      return FALSE;
    }
    g_ptr_array_add (out, ms_maildir_message_parse (de->d_name, delim, in_new));
  }
}

static int
compare_messages (gconstpointer a, gconstpointer b)
{
  const MsMaildirMessage *x = *(const MsMaildirMessage *const *) a;
  const MsMaildirMessage *y = *(const MsMaildirMessage *const *) b;
  if (x->uid != y->uid)
    return x->uid < y->uid ? -1 : 1;
  int c = strcmp (x->key, y->key);
  return c != 0 ? c : strcmp (x->name, y->name);
}

static int
compare_keys (gconstpointer a, gconstpointer b)
{
  const MsMaildirMessage *x = *(const MsMaildirMessage *const *) a;
  const MsMaildirMessage *y = *(const MsMaildirMessage *const *) b;
  int c = strcmp (x->key, y->key);
  /* cur/ first: the later place of a message a MUA moves */
  return c != 0 ? c : x->in_new - y->in_new;
}

static gboolean
message_exists (const char *folder, const MsMaildirMessage *m)
{
  g_autofree char *path = g_build_filename (folder, m->in_new ? "new" : "cur", m->name, NULL);
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* Maildir's KEY names one message: entries that share it are one message
 * listed twice, because a MUA moved it from new/ to cur/, or renamed it to
 * change its flags, while the directories were being read.  Keeping both
 * would push it again as a new message.  The one kept is the one in cur/
 * if there is one, else the one that still exists. */
static void
drop_twins (const char *folder, GPtrArray *messages)
{
  g_ptr_array_sort (messages, compare_keys);
  for (guint i = 0; i + 1 < messages->len;) {
    const MsMaildirMessage *a = g_ptr_array_index (messages, i), *b = g_ptr_array_index (messages, i + 1);
    if (!g_str_equal (a->key, b->key)) {
      i++;
      continue;
    }
    gboolean keep_a = a->in_new == b->in_new ? message_exists (folder, a) : !a->in_new;
    g_ptr_array_remove_index (messages, keep_a ? i + 1 : i);
  }
}

MsMaildirScan *
ms_maildir_scan (const MsMaildirStore *store, const char *box, GPtrArray **duplicates, GError **error)
{
  g_return_val_if_fail (store_ok (store), NULL);

  g_autofree char *folder = ms_maildir_folder_path (store, box, error);
  if (folder == NULL)
    return NULL;

  g_autoptr (MsMaildirScan) scan = g_new0 (MsMaildirScan, 1);
  scan->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) ms_maildir_message_free);
  if (!read_uidvalidity_at (folder, &scan->uidvalidity, &scan->max_uid, error))
    return NULL;
  clean_tmp (folder, g_get_real_time () / G_USEC_PER_SEC);
  if (!fingerprint_folder (folder, &scan->mtime_new_ns, &scan->mtime_cur_ns, error))
    return NULL;
  if (!list_messages (folder, TRUE, store->info_delimiter, scan->messages, error)
      || !list_messages (folder, FALSE, store->info_delimiter, scan->messages, error))
    return NULL;
  drop_twins (folder, scan->messages);

  g_autoptr (GPtrArray) dups = g_ptr_array_new_with_free_func (g_free);
  if (scan->uidvalidity == 0) {
    for (guint i = 0; i < scan->messages->len; i++)
      ((MsMaildirMessage *) g_ptr_array_index (scan->messages, i))->uid = 0;
  }
  g_ptr_array_sort (scan->messages, compare_messages);
  guint32 last = 0;
  for (guint i = 0; i < scan->messages->len; i++) {
    MsMaildirMessage *m = g_ptr_array_index (scan->messages, i);
    if (m->uid == 0)
      continue;
    if (m->uid == last || m->uid > scan->max_uid) {
      g_ptr_array_add (dups, g_strdup (m->name));
      m->uid = 0;
    } else {
      last = m->uid;
    }
  }
  if (dups->len > 0)
    g_ptr_array_sort (scan->messages, compare_messages);

  scan->path = g_steal_pointer (&folder);
  if (duplicates)
    *duplicates = g_steal_pointer (&dups);
  return g_steal_pointer (&scan);
}

/* Looks a message up by KEY in cur/ then new/, after a rename race.
 * Returns 1 and the current name if found, 0 if not, -1 on error. */
static int
find_by_key (const char *folder, const char *key, char delim, char **name, gboolean *in_new,
             GError **error)
{
  gsize key_len = strlen (key);
  for (int pass = 0; pass < 2; pass++) {
    gboolean new_dir = pass == 1;
    g_autofree char *dir = g_build_filename (folder, new_dir ? "new" : "cur", NULL);
    g_autoptr (DIR) d = opendir (dir);
    if (d == NULL) {
      errno_error (error, errno, "listing %s", dir);
      return -1;
    }
    struct dirent *de;
    while ((de = readdir (d)) != NULL) {
      if (de->d_name[0] != '.' && name_has_key (de->d_name, delim, key, key_len)) {
        *name = g_strdup (de->d_name);
        *in_new = new_dir;
        return 1;
      }
    }
  }
  return 0;
}

/* ---- folders ---------------------------------------------------------- */

gboolean
ms_maildir_create (const MsMaildirStore *store, const char *box, GError **error)
{
  g_autofree char *folder = ms_maildir_folder_path (store, box, error);
  if (folder == NULL)
    return FALSE;
  g_autofree char *parent = g_path_get_dirname (folder);

  /* Maildir++ folders are flat below the base, which must exist; Verbatim
   * creates the intermediate directories (plain ones, not folders). */
  gboolean flat = store->layout == MS_MAILDIR_LAYOUT_MAILDIRPP && strcmp (box, "INBOX") != 0;
  const char *make = flat ? parent : folder;
  if (g_mkdir_with_parents (make, 0700) < 0) {
    errno_error (error, errno, "creating %s", make);
    return FALSE;
  }
  if (mkdir (folder, 0700) < 0 && errno != EEXIST) {
    errno_error (error, errno, "creating %s", folder);
    return FALSE;
  }
  /* cur/ last: mbsync takes it as the sign of a folder, so a folder cut
   * short by a crash does not count as one. */
  static const char *const subdirs[] = { "tmp", "new", "cur" };
  for (gsize i = 0; i < G_N_ELEMENTS (subdirs); i++) {
    g_autofree char *sub = g_build_filename (folder, subdirs[i], NULL);
    if (mkdir (sub, 0700) < 0 && errno != EEXIST) {
      errno_error (error, errno, "creating %s", sub);
      return FALSE;
    }
    if (!is_dir (sub)) {
      errno_error (error, ENOTDIR, "creating %s", sub);
      return FALSE;
    }
  }
  if (store->fsync)
    return fsync_dir (folder, error) && fsync_dir (parent, error);
  return TRUE;
}

typedef struct {
  dev_t dev;
  ino_t ino;
} DirId;

typedef struct {
  char *name;
  DirId id;
  gboolean via_link;  /* reached through a symbolic link */
} Folder;

typedef struct {
  const MsMaildirStore *store;
  GArray *folders;    /* Folder */
  GArray *ancestors;  /* DirId of every directory on the current path */
} Lister;

static void
folder_clear (gpointer p)
{
  g_free (((Folder *) p)->name);
}

static gboolean
add_folder (Lister *l, const char *name, const struct stat *st, gboolean via_link, GError **error)
{
  if (l->folders->len >= LIST_MAX_FOLDERS) {
    g_set_error (error, MS_ERROR, MS_ERROR_LIMIT, "more than %d folders in the Maildir store",
                 LIST_MAX_FOLDERS);
    return FALSE;
  }
  Folder f = { g_strdup (name), { st->st_dev, st->st_ino }, via_link };
  g_array_append_val (l->folders, f);
  return TRUE;
}

static gboolean
is_ancestor (const Lister *l, const struct stat *st)
{
  for (guint i = 0; i < l->ancestors->len; i++) {
    const DirId *id = &g_array_index (l->ancestors, DirId, i);
    if (id->dev == st->st_dev && id->ino == st->st_ino)
      return TRUE;
  }
  return FALSE;
}

/* Whether canonical name `box` is the name of directory `path`. */
static gboolean
names_dir (const Lister *l, const char *box, const char *path)
{
  g_autofree char *mapped = ms_maildir_folder_path (l->store, box, NULL);
  return mapped != NULL && strcmp (mapped, path) == 0;
}

/* Opens a directory to list; one that is missing lists as empty. */
static gboolean
open_listing (const char *dir, DIR **out, GError **error)
{
  *out = opendir (dir);
  if (*out == NULL && errno != ENOENT && errno != ENOTDIR) {
    errno_error (error, errno, "listing %s", dir);
    return FALSE;
  }
  return TRUE;
}

/* stat() of a directory entry that may be a folder, and whether it is a
 * symbolic link.  FALSE for anything that is not a directory. */
static gboolean
stat_dir_entry (DIR *d, const struct dirent *de, struct stat *st, gboolean *is_link)
{
  if (de->d_type != DT_DIR && de->d_type != DT_LNK && de->d_type != DT_UNKNOWN)
    return FALSE;
  struct stat lst;
  if (fstatat (dirfd (d), de->d_name, &lst, AT_SYMLINK_NOFOLLOW) < 0)
    return FALSE;
  *is_link = S_ISLNK (lst.st_mode);
  if (*is_link && fstatat (dirfd (d), de->d_name, st, 0) < 0)
    return FALSE;
  if (!*is_link)
    *st = lst;
  return S_ISDIR (st->st_mode);
}

static gboolean
list_verbatim (Lister *l, const char *dir, const char *prefix, gboolean via_link, guint depth,
               GError **error)
{
  if (depth >= LIST_MAX_DEPTH)
    return TRUE;
  g_autoptr (DIR) d = NULL;
  if (!open_listing (dir, &d, error))
    return FALSE;
  if (d == NULL)
    return TRUE;
  struct dirent *de;
  while ((de = readdir (d)) != NULL) {
    const char *entry = de->d_name;
    if (entry[0] == '.' || strcmp (entry, "cur") == 0 || strcmp (entry, "new") == 0
        || strcmp (entry, "tmp") == 0)
      continue;
    /* INBOX and everything below it are listed from the Inbox path. */
    if (*prefix == '\0' && strcmp (entry, "INBOX") == 0)
      continue;
    struct stat st;
    gboolean is_link;
    if (!stat_dir_entry (d, de, &st, &is_link) || is_ancestor (l, &st))
      continue;
    g_autofree char *path = g_build_filename (dir, entry, NULL);
    g_autofree char *box = *prefix ? g_strconcat (prefix, "/", entry, NULL) : g_strdup (entry);
    /* A directory another name owns (the Inbox inside ROOT, ROOT inside the
     * Inbox) is listed under that name, from the other tree. */
    if (!names_dir (l, box, path))
      continue;
    if (is_maildir (path) && !add_folder (l, box, &st, via_link || is_link, error))
      return FALSE;
    DirId id = { st.st_dev, st.st_ino };
    g_array_append_val (l->ancestors, id);
    gboolean ok = list_verbatim (l, path, box, via_link || is_link, depth + 1, error);
    g_array_set_size (l->ancestors, l->ancestors->len - 1);
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

/* Lists a Verbatim tree starting at `top` (ROOT or the Inbox). */
static gboolean
list_verbatim_top (Lister *l, const char *top, const char *prefix, GError **error)
{
  struct stat st;
  if (stat (top, &st) < 0 || !S_ISDIR (st.st_mode))
    return TRUE;
  g_array_set_size (l->ancestors, 0);
  DirId id = { st.st_dev, st.st_ino };
  g_array_append_val (l->ancestors, id);
  return list_verbatim (l, top, prefix, FALSE, 1, error);
}

static gboolean
list_maildirpp (Lister *l, const char *base, GError **error)
{
  g_autoptr (DIR) d = NULL;
  if (!open_listing (base, &d, error))
    return FALSE;
  if (d == NULL)
    return TRUE;
  struct dirent *de;
  while ((de = readdir (d)) != NULL) {
    const char *entry = de->d_name;
    if (entry[0] != '.' || strcmp (entry, ".") == 0 || strcmp (entry, "..") == 0)
      continue;
    struct stat st;
    gboolean is_link;
    if (!stat_dir_entry (d, de, &st, &is_link))
      continue;
    g_autofree char *path = g_build_filename (base, entry, NULL);
    g_autofree char *box = ms_maildir_name_from_watcher (l->store, entry + 1, NULL);
    /* ".a..b", ".INBOX" and the like map to no name or to another folder. */
    if (box == NULL || !names_dir (l, box, path) || !is_maildir (path))
      continue;
    if (!add_folder (l, box, &st, is_link, error))
      return FALSE;
  }
  return TRUE;
}

/* One directory, one name: where symbolic links reach a folder twice, the
 * name reached without a link wins, then the bytewise smaller one. */
static int
compare_by_dir (gconstpointer a, gconstpointer b)
{
  const Folder *x = a, *y = b;
  if (x->id.dev != y->id.dev)
    return x->id.dev < y->id.dev ? -1 : 1;
  if (x->id.ino != y->id.ino)
    return x->id.ino < y->id.ino ? -1 : 1;
  if (x->via_link != y->via_link)
    return x->via_link ? 1 : -1;
  return strcmp (x->name, y->name);
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  const char *x = *(const char *const *) a;
  const char *y = *(const char *const *) b;
  gboolean xi = strcmp (x, "INBOX") == 0, yi = strcmp (y, "INBOX") == 0;
  if (xi != yi)
    return xi ? -1 : 1;
  return strcmp (x, y);
}

GPtrArray *
ms_maildir_list (const MsMaildirStore *store, GError **error)
{
  g_return_val_if_fail (store_ok (store), NULL);

  g_autoptr (GArray) folders = g_array_new (FALSE, FALSE, sizeof (Folder));
  g_array_set_clear_func (folders, folder_clear);
  g_autoptr (GArray) ancestors = g_array_new (FALSE, FALSE, sizeof (DirId));
  Lister l = { store, folders, ancestors };

  g_autofree char *inbox = ms_maildir_folder_path (store, "INBOX", error);
  if (inbox == NULL)
    return NULL;
  struct stat st;
  if (is_maildir (inbox) && stat (inbox, &st) == 0 && !add_folder (&l, "INBOX", &st, FALSE, error))
    return NULL;

  if (store->layout == MS_MAILDIR_LAYOUT_MAILDIRPP) {
    if (!list_maildirpp (&l, inbox, error))
      return NULL;
  } else {
    g_autofree char *root = store_root (store);
    if ((root && !list_verbatim_top (&l, root, "", error)) || !list_verbatim_top (&l, inbox, "INBOX", error))
      return NULL;
  }

  g_array_sort (folders, compare_by_dir);
  GPtrArray *names = g_ptr_array_new_full (folders->len, g_free);
  for (guint i = 0; i < folders->len; i++) {
    Folder *f = &g_array_index (folders, Folder, i);
    if (i > 0) {
      const Folder *prev = &g_array_index (folders, Folder, i - 1);
      if (prev->id.dev == f->id.dev && prev->id.ino == f->id.ino)
        continue;
    }
    g_ptr_array_add (names, g_steal_pointer (&f->name));
  }
  g_ptr_array_sort (names, compare_names);
  return names;
}

/* ---- deliveries ------------------------------------------------------- */

struct MsMaildirDelivery {
  char *folder;
  char *tmp_path;
  int fd;
  gboolean fsync;
  gboolean sync_dir;   /* fsync the directory after the rename */
  char delim;
  gboolean failed;     /* a write failed: the file is incomplete */
  gboolean set_times;
  gint64 mtime;
};

/* Per-process delivery counter: with the PID and the second it makes the
 * KEY unique on this host. */
static gint key_counter;

static char *
new_key (char delim)
{
  guint32 n = (guint32) g_atomic_int_add (&key_counter, 1) + 1;
  return ms_maildir_make_key (g_get_real_time () / G_USEC_PER_SEC, (guint32) getpid (), n,
                              g_get_host_name (), delim);
}

MsMaildirDelivery *
ms_maildir_delivery_begin (const MsMaildirStore *store, const char *box, GError **error)
{
  g_return_val_if_fail (store_ok (store), NULL);

  g_autofree char *folder = ms_maildir_folder_path (store, box, error);
  if (folder == NULL)
    return NULL;
  for (int attempt = 0; attempt < KEY_ATTEMPTS; attempt++) {
    g_autofree char *key = new_key (store->info_delimiter);
    g_autofree char *tmp = g_build_filename (folder, "tmp", key, NULL);
    int fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EEXIST || errno == EINTR))
      continue;
    if (fd < 0) {
      errno_error (error, errno, "creating %s", tmp);
      return NULL;
    }
    MsMaildirDelivery *d = g_new0 (MsMaildirDelivery, 1);
    d->folder = g_steal_pointer (&folder);
    d->tmp_path = g_steal_pointer (&tmp);
    d->fd = fd;
    d->fsync = store->fsync;
    d->sync_dir = store->fsync && !store->defer_dir_sync;
    d->delim = store->info_delimiter;
    return d;
  }
  g_set_error (error, MS_ERROR, MS_ERROR_LIMIT, "no unused file name in %s/tmp after %d attempts", folder,
               KEY_ATTEMPTS);
  return NULL;
}

gboolean
ms_maildir_delivery_write (MsMaildirDelivery *d, const void *data, gsize len, GError **error)
{
  g_return_val_if_fail (d != NULL && d->fd >= 0, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);

  if (d->failed) {
    g_set_error (error, MS_ERROR, MS_ERROR_FAILED, "%s: an earlier write failed", d->tmp_path);
    return FALSE;
  }
  if (!write_all (d->fd, data, len, d->tmp_path, error)) {
    d->failed = TRUE;
    return FALSE;
  }
  return TRUE;
}

void
ms_maildir_delivery_set_mtime (MsMaildirDelivery *d, gint64 unix_seconds)
{
  g_return_if_fail (d != NULL);
  d->set_times = TRUE;
  d->mtime = unix_seconds;
}

void
ms_maildir_delivery_abort (MsMaildirDelivery *d)
{
  if (d == NULL)
    return;
  if (d->fd >= 0)
    close (d->fd);
  if (d->tmp_path)
    unlink (d->tmp_path);
  g_free (d->folder);
  g_free (d->tmp_path);
  g_free (d);
}

void
ms_maildir_delivery_start_writeback (MsMaildirDelivery *d)
{
  g_return_if_fail (d != NULL);
  /* Advice only: a failure here shows again in the commit's fsync. */
  if (d->fsync && d->fd >= 0 && !d->failed)
    (void) sync_file_range (d->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

/* Everything before the rename: data on disk, times set, fd closed. */
static gboolean
finish_tmp (MsMaildirDelivery *d, GError **error)
{
  if (d->failed) {
    g_set_error (error, MS_ERROR, MS_ERROR_FAILED, "%s: an earlier write failed", d->tmp_path);
    return FALSE;
  }
  if (d->fsync) {
    int r;
    while ((r = fsync (d->fd)) < 0 && errno == EINTR)
      ;
    if (r < 0) {
      errno_error (error, errno, "syncing %s", d->tmp_path);
      return FALSE;
    }
  }
  if (d->set_times) {
    struct timespec ts[2] = { { (time_t) d->mtime, 0 }, { (time_t) d->mtime, 0 } };
    if (futimens (d->fd, ts) < 0) {
      errno_error (error, errno, "setting the times of %s", d->tmp_path);
      return FALSE;
    }
  }
  int fd = d->fd;
  d->fd = -1;
  /* close() reports quota and NFS write errors; never retried on Linux. */
  if (close (fd) < 0) {
    errno_error (error, errno, "writing %s", d->tmp_path);
    return FALSE;
  }
  return TRUE;
}

/* Renames the finished tmp file into new/ or cur/; returns the name. */
static char *
move_into_place (MsMaildirDelivery *d, guint32 uid, MsFlags flags, gboolean to_new, GError **error)
{
  g_autofree char *letters = ms_flags_to_letters (flags & MS_FLAGS_ALL);
  const char *sub = to_new && !(flags & MS_FLAG_SEEN) ? "new" : "cur";
  g_autofree char *dir = g_build_filename (d->folder, sub, NULL);
  g_autofree char *key = g_path_get_basename (d->tmp_path);
  g_autofree char *name = NULL;
  for (int attempt = 0;; attempt++) {
    g_free (name);
    name = uid ? g_strdup_printf ("%s,U=%u%c2,%s", key, uid, d->delim, letters)
               : g_strdup_printf ("%s%c2,%s", key, d->delim, letters);
    g_autofree char *dst = g_build_filename (dir, name, NULL);
    if (rename_noreplace (d->tmp_path, dst) == 0)
      break;
    if (errno != EEXIST || attempt + 1 >= KEY_ATTEMPTS) {
      errno_error (error, errno, "renaming %s to %s", d->tmp_path, dst);
      return NULL;
    }
    /* Someone has this name: a fresh KEY (the tmp name may stay). */
    g_free (key);
    key = new_key (d->delim);
  }
  /* The message is in place and nothing of it is left in tmp/; a failing
   * directory sync is still reported, since the message may not survive a
   * crash. */
  g_clear_pointer (&d->tmp_path, g_free);
  if (d->sync_dir && !fsync_dir (dir, error))
    return NULL;
  return g_steal_pointer (&name);
}

char *
ms_maildir_delivery_commit (MsMaildirDelivery *d, guint32 uid, MsFlags flags, gboolean to_new,
                            GError **error)
{
  g_return_val_if_fail (d != NULL, NULL);

  char *name = finish_tmp (d, error) ? move_into_place (d, uid, flags, to_new, error) : NULL;
  /* Frees d, and unlinks the tmp file unless the rename took it away. */
  ms_maildir_delivery_abort (d);
  return name;
}

/* ---- changing and removing messages ------------------------------------ */

gboolean
ms_maildir_update (const MsMaildirStore *store, const char *box, MsMaildirMessage *msg, MsFlags flags,
                   guint32 uid, GError **error)
{
  g_return_val_if_fail (store_ok (store), FALSE);
  g_return_val_if_fail (msg != NULL && msg->name != NULL && msg->key != NULL, FALSE);

  flags &= MS_FLAGS_ALL;
  if (flags == msg->flags && (uid == 0 || uid == msg->uid))
    return TRUE;
  g_autofree char *folder = ms_maildir_folder_path (store, box, error);
  if (folder == NULL)
    return FALSE;

  g_autofree char *found = NULL;
  const char *name = msg->name;
  gboolean in_new = msg->in_new;
  MsFlags on_disk = msg->flags;
  MsFlags want = flags;
  g_autofree char *new_name = NULL;
  gboolean to_new, renamed = FALSE, moved = FALSE;
  for (int attempt = 0;; attempt++) {
    /* mbsync's rule: touching the flags takes a message out of new/. */
    to_new = in_new && want == on_disk;
    g_free (new_name);
    new_name = ms_maildir_rename_name (name, store->info_delimiter, uid, want);
    if (to_new == in_new && strcmp (new_name, name) == 0)
      break;
    g_autofree char *src = g_build_filename (folder, in_new ? "new" : "cur", name, NULL);
    g_autofree char *dst = g_build_filename (folder, to_new ? "new" : "cur", new_name, NULL);
    if (rename_noreplace (src, dst) == 0) {
      renamed = TRUE;
      moved = in_new != to_new;
      break;
    }
    int e = errno;
    if (e != ENOENT || attempt > 0) {
      errno_error (error, e, "renaming %s to %s", src, dst);
      return FALSE;
    }
    int r = find_by_key (folder, msg->key, store->info_delimiter, &found, &in_new, error);
    if (r < 0)
      return FALSE;
    if (r == 0) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "%s: message is gone (no file with its key in new/ or cur/)", src);
      return FALSE;
    }
    /* Apply only what the caller changed; the rest is the MUA's now. */
    name = found;
    g_autoptr (MsMaildirMessage) current = ms_maildir_message_parse (found, store->info_delimiter, in_new);
    on_disk = current->flags;
    MsFlags changed = msg->flags ^ flags;
    want = (on_disk & ~changed) | (flags & changed);
  }

  g_free (msg->name);
  msg->name = g_steal_pointer (&new_name);
  msg->flags = want;
  msg->in_new = to_new;
  if (uid != 0)
    msg->uid = uid;
  /* msg names the file as it is now, even if making that durable fails. */
  if (renamed && store->fsync && !store->defer_dir_sync) {
    g_autofree char *dst_dir = g_build_filename (folder, to_new ? "new" : "cur", NULL);
    g_autofree char *src_dir = g_build_filename (folder, to_new ? "cur" : "new", NULL);
    return fsync_dir (dst_dir, error) && (!moved || fsync_dir (src_dir, error));
  }
  return TRUE;
}

gboolean
ms_maildir_remove (const MsMaildirStore *store, const char *box, const MsMaildirMessage *msg, GError **error)
{
  g_return_val_if_fail (store_ok (store), FALSE);
  g_return_val_if_fail (msg != NULL && msg->name != NULL && msg->key != NULL, FALSE);

  g_autofree char *folder = ms_maildir_folder_path (store, box, error);
  if (folder == NULL)
    return FALSE;
  g_autofree char *path = g_build_filename (folder, msg->in_new ? "new" : "cur", msg->name, NULL);
  if (unlink (path) < 0) {
    if (errno != ENOENT) {
      errno_error (error, errno, "removing %s", path);
      return FALSE;
    }
    g_autofree char *found = NULL;
    gboolean in_new;
    int r = find_by_key (folder, msg->key, store->info_delimiter, &found, &in_new, error);
    if (r <= 0)
      return r == 0; /* gone already */
    g_free (path);
    path = g_build_filename (folder, in_new ? "new" : "cur", found, NULL);
    if (unlink (path) < 0 && errno != ENOENT) {
      errno_error (error, errno, "removing %s", path);
      return FALSE;
    }
  }
  if (store->fsync && !store->defer_dir_sync) {
    g_autofree char *dir = g_path_get_dirname (path);
    return fsync_dir (dir, error);
  }
  return TRUE;
}

gboolean
ms_maildir_sync_dirs (const MsMaildirStore *store, const char *box, gboolean new_dir, gboolean cur_dir,
                      GError **error)
{
  g_return_val_if_fail (store_ok (store), FALSE);
  if (!store->fsync || (!new_dir && !cur_dir))
    return TRUE;
  g_autofree char *folder = ms_maildir_folder_path (store, box, error);
  if (folder == NULL)
    return FALSE;
  g_autofree char *new_path = g_build_filename (folder, "new", NULL);
  g_autofree char *cur_path = g_build_filename (folder, "cur", NULL);
  return (!new_dir || fsync_dir (new_path, error)) && (!cur_dir || fsync_dir (cur_path, error));
}

gboolean
ms_maildir_sync_folder (const MsMaildirStore *store, const char *box, GError **error)
{
  return ms_maildir_sync_dirs (store, box, TRUE, TRUE, error);
}

int
ms_maildir_open_message (const MsMaildirStore *store, const char *box, const MsMaildirMessage *msg,
                         GError **error)
{
  g_return_val_if_fail (store_ok (store), -1);
  g_return_val_if_fail (msg != NULL && msg->name != NULL && msg->key != NULL, -1);

  g_autofree char *folder = ms_maildir_folder_path (store, box, error);
  if (folder == NULL)
    return -1;
  g_autofree char *path = g_build_filename (folder, msg->in_new ? "new" : "cur", msg->name, NULL);
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0)
    return fd;
  if (errno != ENOENT) {
    errno_error (error, errno, "opening %s", path);
    return -1;
  }
  g_autofree char *found = NULL;
  gboolean in_new;
  int r = find_by_key (folder, msg->key, store->info_delimiter, &found, &in_new, error);
  if (r < 0)
    return -1;
  if (r == 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "%s: message is gone (no file with its key in new/ or cur/)", path);
    return -1;
  }
  g_autofree char *again = g_build_filename (folder, in_new ? "new" : "cur", found, NULL);
  fd = open (again, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    errno_error (error, errno, "opening %s", again);
  return fd;
}
