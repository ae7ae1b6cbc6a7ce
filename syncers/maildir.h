/* maildir.h — the Maildir side of sync_imap: folders, messages, flags, UIDs.
 *
 * File names follow mbsync's convention so that a tree mbsync synced is
 * adopted as it is:  KEY[,U=UID]:2,FLAGS  where KEY is the unique part
 * (time.pid_n.host style), UID the Maildir's own number for the message
 * (handed out from the folder's `.uidvalidity` counter, as mbsync does; the
 * sync state pairs it with the server's UID), FLAGS letters in ASCII order
 * from "DFPRST".  The info delimiter is ':' (configurable: mbsync's
 * InfoDelimiter, ';' on some file systems).  Other writers' names are read
 * as they are: no ",U=" (uid 0), extra ",S=size" / ",W=" / ",FMD5=" fields
 * (kept), no info part at all (flags 0), flag letters we do not know
 * (Dovecot keywords 'a'..'z'; kept on every rename).
 * Each folder holds mbsync's `.uidvalidity` file ("UIDVALIDITY\nMAXUID\n"),
 * which we read and write compatibly.
 *
 * Mailbox names here are canonical: '/' is the hierarchy separator
 * ("INBOX", "lists/gnome").  The layout decides the directory, exactly as
 * mbsync's SubFolders does:
 *   Maildir++: the base is the Inbox path if set, else ROOT (mbsync puts
 *              Maildir++ subfolders below Inbox and ignores Path);
 *              INBOX = BASE, "a/b" = BASE/.a.b, "INBOX/x" = BASE/..x
 *   Verbatim:  INBOX = Inbox path (default ROOT/INBOX), "INBOX/x" =
 *              INBOX/x, "a/b" = ROOT/a/b
 * Names are checked with ms_mailbox_name_check() before any path is built,
 * and further refused (MS_ERROR_BAD_NAME) when they would alias another
 * folder or leave their place: the empty name (it means "every mailbox"),
 * empty components ("a//b", "a/"), components starting with '.', any '.'
 * in Maildir++ (it is the on-disk separator), components "cur", "new" and
 * "tmp" in Verbatim (they are a folder's own directories), and in Verbatim
 * a name other than INBOX that lands on or below the Inbox directory.
 *
 * Deliveries are crash-safe: write to tmp/, fsync (unless disabled), rename
 * into new/ or cur/ without replacing anything, fsync the directory.  A
 * crash leaves at most a file in tmp/, which a later scan removes when older
 * than MS_MAILDIR_TMP_STALE_SECS.
 *
 * Errors: system calls fail with G_IO_ERROR (code from errno) and a message
 * naming the path and strerror; unsafe names with MS_ERROR_BAD_NAME; limits
 * with MS_ERROR_LIMIT; a malformed .uidvalidity with MS_ERROR_FAILED.  A
 * message that vanished (renamed away by a MUA and not found again by its
 * KEY) gives G_IO_ERROR_NOT_FOUND.  Nothing here logs.
 *
 * Not thread-safe per folder; two processes must not write one folder's
 * .uidvalidity at once (the sync state lock keeps runs apart).
 *
 * Ownership: returned structs are owned by the caller and freed with the
 * matching _free function; strings inside belong to the struct.
 */
#pragma once

#include <glib.h>

/* Message flags, as bits; the order is the Maildir letter order. */
typedef enum {
  MS_FLAG_DRAFT = 1 << 0,     /* D  \Draft */
  MS_FLAG_FLAGGED = 1 << 1,   /* F  \Flagged */
  MS_FLAG_FORWARDED = 1 << 2, /* P  $Forwarded (Passed) */
  MS_FLAG_ANSWERED = 1 << 3,  /* R  \Answered (Replied) */
  MS_FLAG_SEEN = 1 << 4,      /* S  \Seen */
  MS_FLAG_DELETED = 1 << 5,   /* T  \Deleted (Trashed) */
} MsFlags;
#define MS_FLAGS_ALL 0x3f

/* Files in tmp/ whose mtime is older than this are leftovers of an
 * interrupted delivery (Maildir convention: 36 hours). */
#define MS_MAILDIR_TMP_STALE_SECS (36 * 3600)

/* A folder with more messages than this is refused rather than scanned into
 * memory without bound; 10 million is far beyond any real mailbox. */
#define MS_MAILDIR_MAX_MESSAGES 10000000

typedef enum {
  MS_MAILDIR_LAYOUT_MAILDIRPP,
  MS_MAILDIR_LAYOUT_VERBATIM,
} MsMaildirLayout;

typedef struct {
  char *root;            /* Path, with ~ already expanded; may be NULL (as
                          * in mbsync) when inbox is set: then Verbatim has
                          * no folders but INBOX and those below it */
  char *inbox;           /* Inbox path; NULL: the layout's default */
  MsMaildirLayout layout;
  gboolean fsync;        /* mbsync's FSync, default TRUE */
  char info_delimiter;   /* ':' unless InfoDelimiter says otherwise */
  gboolean defer_dir_sync; /* with fsync: deliveries, renames and unlinks
                          * leave the directory sync to the caller's
                          * ms_maildir_sync_folder(), so a batch of them costs
                          * one sync of new/ and cur/ instead of one each */
} MsMaildirStore;

/* "DFS" <-> bits; letters outside DFPRST are ignored on parse (and kept by
 * ms_maildir_update(), which rewrites only the letters it knows). */
MsFlags ms_flags_from_letters (const char *letters, gsize len);
/* Letters in ASCII order. (transfer full) */
char *ms_flags_to_letters (MsFlags flags);

/* The directory of a mailbox; fails for unsafe names. (transfer full) */
char *ms_maildir_folder_path (const MsMaildirStore *store, const char *box, GError **error);

/* A watcher's name (Maildir++: "foo.bar" -> "foo/bar", ".x" -> "INBOX/x";
 * Verbatim: as is; "INBOX" stays) to a canonical name.  "" (every mailbox)
 * is returned as "".  Fails for names no folder of the layout could have.
 * (transfer full) */
char *ms_maildir_name_from_watcher (const MsMaildirStore *store, const char *name, GError **error);

/* Canonical names of every folder that has cur/ and new/ (INBOX first,
 * then sorted bytewise).  Verbatim recurses below ROOT and the Inbox, never
 * into cur/, new/, tmp/ or hidden directories, and follows a symbolic link
 * to a directory unless it leads back to one of its own ancestors.
 * Directories whose names no canonical name maps back to (".a..b", a
 * Maildir++ ".INBOX") are left out.  (transfer full: GPtrArray of char*) */
GPtrArray *ms_maildir_list (const MsMaildirStore *store, GError **error);

/* Creates the folder (cur/ new/ tmp/, and parents for Verbatim); succeeds
 * if it exists. */
gboolean ms_maildir_create (const MsMaildirStore *store, const char *box, GError **error);

typedef struct {
  char *name;     /* file name (in new/ or cur/) */
  char *key;      /* the name up to the info delimiter, less its ",U=N"
                   * field: what stays the same when a MUA or we rename */
  guint32 uid;    /* 0: no ,U= yet (a message not yet on the server) */
  MsFlags flags;
  gboolean in_new;
  guint64 size;   /* from ,S= in the name if present, else 0 (not stat()ed) */
} MsMaildirMessage;

typedef struct {
  char *path;            /* the folder directory */
  GPtrArray *messages;   /* MsMaildirMessage*, sorted by uid then key */
  guint32 uidvalidity;   /* from .uidvalidity; 0 if the file is missing */
  guint32 max_uid;       /* from .uidvalidity */
  gint64 mtime_new_ns;   /* fingerprints: st_mtim of new/ and cur/, taken */
  gint64 mtime_cur_ns;   /* before listing; see ms_maildir_fingerprint() */
} MsMaildirScan;

void ms_maildir_message_free (MsMaildirMessage *msg);
void ms_maildir_scan_free (MsMaildirScan *scan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsMaildirMessage, ms_maildir_message_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsMaildirScan, ms_maildir_scan_free)

/* Parses a file name (pure, never fails: any name is a message).
 * (transfer full) */
MsMaildirMessage *ms_maildir_message_parse (const char *name, char info_delimiter, gboolean in_new);

/* The name `name` gets for a new UID (0: keep the one it has; an existing
 * ",U=" field is replaced in place, else ",U=N" goes before the info
 * delimiter) and new flags (letters we do not know are kept; a name without
 * an info part gets one only if flags is not 0).  Pure.  (transfer full) */
char *ms_maildir_rename_name (const char *name, char info_delimiter, guint32 uid, MsFlags flags);

/* The unique part of a new delivery's name, SECONDS.PID_COUNTER.HOST, with
 * '/', ':', ',', '\\', the info delimiter and non-printable bytes of the host
 * name written as \NNN (octal, as in "\057"), and the host part capped so
 * the whole file name stays far below NAME_MAX.  Pure.  (transfer full) */
char *ms_maildir_make_key (gint64 seconds, guint32 pid, guint32 counter, const char *hostname,
                           char info_delimiter);

/* Lists new/ and cur/ of a folder.  Two files with the same ,U= value: the
 * later one (by key, then name) loses its UID (uid = 0).  A UID above the
 * folder's counter (max_uid) was not handed out here — a MUA moved the file
 * in from another folder without renaming it — and is dropped the same way.
 * mbsync stopped the whole sync in both cases; here such a message is new.
 * Their file names go to `duplicates` (may be NULL; GPtrArray of char*,
 * transfer full, never NULL when asked for).  Without a .uidvalidity file
 * no ,U= value means anything (mbsync renumbers then) and every uid is 0.
 * Also removes stale files from tmp/ (best effort: failures are ignored).
 * Never sleeps: instead of mbsync's one-second wait, the fingerprints are
 * taken before listing, so a change during the listing shows as a changed
 * fingerprint later.  Fails if cur/ or new/ is missing. */
MsMaildirScan *ms_maildir_scan (const MsMaildirStore *store, const char *box,
                                GPtrArray **duplicates, GError **error);

/* A fingerprint that could still hide a change: the directory was modified
 * so recently (within the file system's timestamp granularity, measured
 * against the clock read before the stat) that a further change could
 * leave the same mtime.  It never equals anything, not even itself. */
#define MS_MAILDIR_FINGERPRINT_UNSETTLED ((gint64) -1)

/* Only the fingerprints (two stat calls): for echo detection.  Each value
 * is st_mtim in nanoseconds, or MS_MAILDIR_FINGERPRINT_UNSETTLED. */
gboolean ms_maildir_fingerprint (const MsMaildirStore *store, const char *box,
                                 gint64 *mtime_new_ns, gint64 *mtime_cur_ns, GError **error);

/* How long after a change a directory's mtime stays unsettled on a file
 * system with sub-second timestamps (one with whole seconds: a second). */
gint64 ms_maildir_fingerprint_settle_ns (void);

/* Whether a directory is unchanged between two fingerprints; compare with
 * this, never with ==. */
static inline gboolean
ms_maildir_fingerprint_same (gint64 before, gint64 now)
{
  return before == now && before != MS_MAILDIR_FINGERPRINT_UNSETTLED;
}

/* .uidvalidity read: a missing or empty file gives 0 and 0 (mbsync then
 * starts afresh); anything but two decimal numbers is an error. */
gboolean ms_maildir_read_uidvalidity (const MsMaildirStore *store, const char *box,
                                      guint32 *uidvalidity, guint32 *max_uid, GError **error);
/* .uidvalidity write: in place (+ fdatasync) when the file exists, else
 * tmp + fsync + rename + directory fsync (the syncs only with
 * store->fsync).  uidvalidity must not be 0. */
gboolean ms_maildir_write_uidvalidity (const MsMaildirStore *store, const char *box,
                                       guint32 uidvalidity, guint32 max_uid, GError **error);

/* A delivery in progress: write the body with ms_maildir_delivery_write()
 * (in chunks, as it arrives; nothing is buffered here), then commit (fsync +
 * rename into cur/ or new/) or abort (unlink).  The tmp file is created
 * O_EXCL|O_CLOEXEC under a fresh KEY. */
typedef struct MsMaildirDelivery MsMaildirDelivery;
MsMaildirDelivery *ms_maildir_delivery_begin (const MsMaildirStore *store, const char *box, GError **error);
/* Writes all of data (short writes and EINTR are retried).  After a failed
 * write the delivery can only be aborted. */
gboolean ms_maildir_delivery_write (MsMaildirDelivery *d, const void *data, gsize len, GError **error);
/* Sets the file's access and modification time at commit (the server's
 * INTERNALDATE, as mbsync does, so MUAs sorting by date see arrival). */
void ms_maildir_delivery_set_mtime (MsMaildirDelivery *d, gint64 unix_seconds);
/* Starts writing what was written so far to the disk, without waiting
 * (the body is complete): when several deliveries are committed one after
 * the other, the first commit's sync finds the others' data on its way and
 * the file system can make them durable together (ext4: one journal commit
 * instead of one each).  Nothing is promised before the commit. */
void ms_maildir_delivery_start_writeback (MsMaildirDelivery *d);
/* Into new/ when flags lack SEEN and `to_new`, else cur/ (mbsync's rule);
 * the name is KEY[,U=uid]:2,FLAGS in both (uid 0: no ,U=).  Returns the
 * final file name (transfer full).  Frees d in every case; on failure
 * nothing is left in tmp/ (only a failed directory fsync after the rename
 * leaves the message in place, since it may not survive a crash). */
char *ms_maildir_delivery_commit (MsMaildirDelivery *d, guint32 uid, MsFlags flags,
                                  gboolean to_new, GError **error);
/* Unlinks the tmp file and frees d.  NULL is fine. */
void ms_maildir_delivery_abort (MsMaildirDelivery *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsMaildirDelivery, ms_maildir_delivery_abort)

/* Renames a message for new flags and/or a new UID (uid 0: keep).  A flag
 * change moves a message from new/ to cur/ (as mbsync does: a message whose
 * flags were touched has been seen by someone); a UID alone keeps it where
 * it is.  Updates msg->name/flags/uid/in_new once the file is renamed
 * (even if the directory fsync after it fails).
 * If the file is gone (a MUA renamed it meanwhile), new/ and cur/ are
 * searched once for msg->key and the rename is retried on the current name,
 * applying only the flag bits that differ between msg->flags and `flags`,
 * so the MUA's own change survives; not found: G_IO_ERROR_NOT_FOUND. */
gboolean ms_maildir_update (const MsMaildirStore *store, const char *box, MsMaildirMessage *msg,
                            MsFlags flags, guint32 uid, GError **error);

/* Makes the renames, deliveries and unlinks in a folder's new/ and cur/
 * durable (fsync of both directories; nothing without store->fsync).  With
 * defer_dir_sync, call it before recording anything that depends on them. */
gboolean ms_maildir_sync_folder (const MsMaildirStore *store, const char *box, GError **error);
/* The same for new/ and/or cur/ only, when the caller knows which changed
 * (an fsync costs CPU time here even for an unchanged directory). */
gboolean ms_maildir_sync_dirs (const MsMaildirStore *store, const char *box, gboolean new_dir,
                               gboolean cur_dir, GError **error);

/* Removes a message file (expunge), found again by key if it was renamed.
 * A message that is gone already counts as removed. */
gboolean ms_maildir_remove (const MsMaildirStore *store, const char *box,
                            const MsMaildirMessage *msg, GError **error);

/* Opens a message for reading (O_CLOEXEC), found again by key if it was
 * renamed.  Returns an fd or -1. */
int ms_maildir_open_message (const MsMaildirStore *store, const char *box,
                             const MsMaildirMessage *msg, GError **error);
