/* inotify-tree.h — follow a Maildir tree with inotify and say which folder
 * changed.
 *
 * A tree is created on the base directory of a Maildir tree (the INBOX) and
 * keeps one inotify watch on every folder directory and on each folder's
 * cur/ and new/.  The caller polls ms_inotify_tree_get_fd() for input and
 * calls ms_inotify_tree_process(), which reads the pending kernel events and
 * turns them into reports through the callback given at creation:
 *
 *   MS_TREE_CHANGED   an entry in the folder's cur/ or new/ was created,
 *                     deleted or renamed (one report per kernel event);
 *   MS_TREE_APPEARED  a directory became a folder (it has both cur/ and new/)
 *                     after start-up: it was created, renamed into the tree,
 *                     or got its missing cur/ or new/;
 *   MS_TREE_VANISHED  a folder stopped being one: deleted, renamed away, or
 *                     lost its cur/ or new/;
 *   MS_TREE_SKIPPED   a directory that would be a folder is left unwatched;
 *                     `detail` says why (an unsafe name, too deep).
 *
 * Folder names: the base directory is "INBOX".  In the Maildir++ layout the
 * folder NAME is the directory ".NAME" directly below the base (dots kept,
 * nothing decoded).  In the verbatim layout the folder "a/b" is the
 * directory a/b below the base, at any depth; hidden entries and the
 * cur/new/tmp directories themselves are never descended into.
 *
 * Ownership: the tree owns everything it allocates; names passed to the
 * callback are valid only during the call.  The callback must not call back
 * into the tree.
 */
#pragma once

#include <glib.h>

typedef enum {
  MS_TREE_LAYOUT_MAILDIRPP, /* Maildir++: .NAME directly below the base */
  MS_TREE_LAYOUT_VERBATIM,  /* mbsync's "SubFolders Verbatim": a/b is a/b */
} MsTreeLayout;

typedef enum {
  MS_TREE_CHANGED,
  MS_TREE_APPEARED,
  MS_TREE_VANISHED,
  MS_TREE_SKIPPED,
} MsTreeReport;

/* `folder` is the folder's name (for MS_TREE_SKIPPED, the directory's path
 * relative to the base, which may hold any byte but NUL).  `detail` is NULL
 * except for MS_TREE_SKIPPED. */
typedef void (*MsTreeReportFunc) (MsTreeReport what, const char *folder, const char *detail,
                                  gpointer user_data);

#define MS_TREE_ERROR (ms_tree_error_quark ())
GQuark ms_tree_error_quark (void);

typedef enum {
  MS_TREE_ERROR_INIT,         /* inotify_init1 failed */
  MS_TREE_ERROR_WATCH,        /* inotify_add_watch (or opendir) failed: message names the path */
  MS_TREE_ERROR_NOT_MAILDIR,  /* the base directory has no cur/ and new/ */
  MS_TREE_ERROR_COLLISION,    /* a folder named INBOX besides the base Maildir */
  MS_TREE_ERROR_SAME_INODE,   /* one directory reached by two paths, or the tree moved under us */
  MS_TREE_ERROR_OVERFLOW,     /* the kernel's event queue overflowed: changes were lost */
  MS_TREE_ERROR_LOST,         /* the kernel dropped a watch we did not give up (unmount) */
  MS_TREE_ERROR_ROOT_GONE,    /* the base directory was deleted */
  MS_TREE_ERROR_READ,         /* read(2) on the inotify descriptor failed */
} MsTreeError;

typedef struct MsInotifyTree MsInotifyTree;

/* Watches `root` and everything below it.  No report other than
 * MS_TREE_SKIPPED is made during the initial scan: every folder then present
 * is simply being watched when this returns.  The messages of
 * MS_TREE_ERROR_WATCH, _NOT_MAILDIR, _COLLISION and _SAME_INODE are mswatch
 * 1.2's, word for word.  In the verbatim layout the base need not be a
 * Maildir itself. */
MsInotifyTree *ms_inotify_tree_new (const char *root, MsTreeLayout layout,
                                    MsTreeReportFunc report, gpointer user_data,
                                    GError **error);
void ms_inotify_tree_free (MsInotifyTree *tree);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsInotifyTree, ms_inotify_tree_free)

/* The non-blocking, close-on-exec inotify descriptor to poll for input. */
int ms_inotify_tree_get_fd (const MsInotifyTree *tree);

/* Reads what the kernel has queued (nothing if nothing is) and reports it.
 * FALSE with an error means the tree can no longer be trusted to see every
 * change; the caller should stop. */
gboolean ms_inotify_tree_process (MsInotifyTree *tree, GError **error);

/* Folders currently watched (directories with both cur/ and new/), and
 * inotify watches in use: for diagnostics and benchmarks. */
guint ms_inotify_tree_n_folders (const MsInotifyTree *tree);
guint ms_inotify_tree_n_watches (const MsInotifyTree *tree);
