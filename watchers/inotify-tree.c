/* inotify-tree.c — the watch descriptor ↔ folder map, and the rules that
 * turn inotify events into folder reports.  The only file that includes
 * <sys/inotify.h>.
 *
 * Model.  The tree is a set of nodes, one per directory that is or may
 * become a folder: the base directory (INBOX), every ".NAME" directly below
 * it (Maildir++), or every non-hidden directory at any depth (verbatim).
 * Each node has up to three watches, one per role: its own directory (to see
 * subdirectories and its cur/ and new/ come and go), cur/ and new/ (to see
 * messages come and go).  A node is a folder ("complete") while both cur/
 * and new/ are watched; only then do events in them count, and becoming or
 * ceasing to be complete is itself reported, so that the reader syncs a
 * folder that appeared with messages in it, or one that went away.  tmp/ is
 * never watched: a delivery becomes visible when it is renamed into new/.
 *
 * `by_wd` maps each watch descriptor to its node; the role is whichever of
 * the node's three descriptors matches.  Every event is looked up afresh, so
 * an event for a watch we have already given up (a folder renamed away
 * while its events were still queued) finds nothing and is dropped.  This
 * relies on Linux handing out watch descriptors cyclically: one we gave up
 * is not reused for a new watch while its last events (ending with
 * IN_IGNORED) may still be queued.
 *
 * Each event goes through classify(), which only reads the map and decides
 * what the event means, then apply(), which does the system calls and the
 * reporting.  The rules:
 *
 *   - an entry created, deleted or renamed in a folder's cur/ or new/ is a
 *     change of that folder (no deduplication: a move from new/ to cur/ is
 *     two changes, as in mswatch 1.2);
 *   - "cur" or "new" appearing in a node's directory is re-watched, and
 *     dropped when it goes; the node may become or stop being a folder;
 *   - a possible subfolder appearing in a node's directory is watched and
 *     scanned; one that goes away is dropped with everything below it.  A
 *     rename is a removal followed by an addition, so `mv .a .b` reports
 *     "a" and then "b";
 *   - IN_DELETE_SELF on a directory we watch drops it the same way; on the
 *     base directory it ends the tree.  IN_MOVE_SELF is ignored: the
 *     parent's IN_MOVED_FROM says the same thing, and a renamed base keeps
 *     being watched where it went, as in 1.2;
 *   - IN_Q_OVERFLOW means changes were lost, and IN_IGNORED or IN_UNMOUNT
 *     for a watch we still hold means the kernel dropped it behind our back:
 *     both end the tree, so that the caller restarts and resyncs everything.
 *
 * Races.  A new directory is watched first and listed afterwards, so that
 * anything created in between is seen by one or the other (or both: adding
 * a watch that we already hold returns the same descriptor and is a no-op).
 * A folder is reported as appeared only once its watches are in place, so
 * messages that arrived before the watches are covered by that report.
 *
 * The same directory reached by two paths (a symlinked folder) would have
 * its changes reported under one name only; the kernel tells us, because
 * adding the second watch returns a descriptor we already hold for another
 * node, and that is an error, as it was in 1.2.  While running it can also
 * mean that a directory was renamed to a place we scanned before we read
 * the rename event; either way the caller restarts.
 *
 * Costs: three watches per folder, one readdir per directory that may hold
 * subfolders (Maildir++ folders themselves are never listed: their cur/ and
 * new/ are added by name), and a stat() only for symlinks and file systems
 * without d_type.  The number of nodes has no cap of its own: each holds a
 * watch, so the kernel's fs.inotify.max_user_watches bounds it, and running
 * into that limit is an error (ENOSPC) rather than a silently unwatched
 * folder.
 */
#include "inotify-tree.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailbox-name.h"

/* One read() takes at most this much of the kernel's queue.  An event is a
 * struct inotify_event (16 bytes) plus its name padded to at most
 * NAME_MAX + 1 bytes, so 64 KiB holds at least 240 events even with the
 * longest names and over a thousand typical ones: a burst such as a sync
 * delivering a batch of messages is drained in a few reads.  It must hold at
 * least one maximal event, or read() fails with EINVAL; a larger buffer
 * would only cost memory, since we read again while the descriptor is
 * readable. */
#define EVENT_BUFFER_SIZE (64 * 1024)
G_STATIC_ASSERT (EVENT_BUFFER_SIZE >= sizeof (struct inotify_event) + NAME_MAX + 1);

/* Deepest verbatim folder we follow, counting the base as 0.  Scanning
 * recurses once per level with a directory open at each, so the bound keeps
 * both the stack and the open descriptors small.  Real mail hierarchies are
 * a handful of levels deep; a deeper directory is reported as skipped. */
#define TREE_MAX_DEPTH 64

/* What each watch asks for.  IN_ONLYDIR makes adding a watch on a "cur"
 * that is a plain file fail (ENOTDIR), which we read as "not there".
 * IN_MODIFY, IN_ATTRIB and the rest are left out on purpose: a message's
 * contents and timestamps do not matter to a sync, only names do. */
#define WATCH_MASK \
  (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_ONLYDIR)

enum { ROLE_DIR, ROLE_CUR, ROLE_NEW, N_ROLES };

static const char *const role_suffix[N_ROLES] = { "", "/cur", "/new" };

typedef struct Node Node;
struct Node {
  Node *parent;          /* NULL for the base */
  GHashTable *children;  /* entry → Node *; NULL until the first child */
  const char *entry;     /* last component of relpath: the key in parent->children */
  const char *name;      /* folder name: "INBOX", or a suffix of relpath */
  int wd[N_ROLES];       /* watch descriptors; -1 when not watched */
  guint depth;           /* 0 for the base */
  gboolean complete;     /* cur/ and new/ are both watched: this is a folder */
  char relpath[];        /* "" for the base, ".foo" (Maildir++) or "a/b" (verbatim) */
};

struct MsInotifyTree {
  int fd;
  MsTreeLayout layout;
  char *root;            /* the base directory as given; every path starts with it */
  Node *top;             /* the base directory's node */
  GHashTable *by_wd;     /* watch descriptor → Node * */
  MsTreeReportFunc report;
  gpointer report_data;
  gboolean started;      /* the initial scan is over: report appearances */
  guint n_folders;
  GString *path;         /* scratch space for building paths */
  union {
    struct inotify_event event; /* for alignment */
    char bytes[EVENT_BUFFER_SIZE];
  } *buf;
};

G_DEFINE_QUARK (ms-tree-error-quark, ms_tree_error)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DIR, closedir)

/* ---- nodes ------------------------------------------------------------ */

static Node *
node_new (const MsInotifyTree *tree, Node *parent, const char *entry)
{
  g_autofree char *relpath = NULL;

  if (parent == NULL)
    relpath = g_strdup ("");
  else if (tree->layout == MS_TREE_LAYOUT_VERBATIM && parent->relpath[0] != '\0')
    relpath = g_strconcat (parent->relpath, "/", entry, NULL);
  else
    relpath = g_strdup (entry);

  gsize len = strlen (relpath);
  Node *node = g_malloc0 (sizeof *node + len + 1);
  memcpy (node->relpath, relpath, len + 1);
  node->parent = parent;
  node->depth = parent == NULL ? 0 : parent->depth + 1;
  node->entry = node->relpath + len - strlen (entry);
  if (parent == NULL)
    node->name = "INBOX";
  else if (tree->layout == MS_TREE_LAYOUT_MAILDIRPP)
    node->name = node->relpath + 1; /* ".foo.bar" is folder "foo.bar" */
  else
    node->name = node->relpath;
  for (int role = 0; role < N_ROLES; role++)
    node->wd[role] = -1;
  return node;
}

/* Frees a node and everything below it without touching the kernel: for
 * teardown, where closing the inotify descriptor drops every watch. */
static void
node_free_all (Node *node)
{
  if (node->children != NULL) {
    GHashTableIter iter;
    gpointer child;
    g_hash_table_iter_init (&iter, node->children);
    while (g_hash_table_iter_next (&iter, NULL, &child))
      node_free_all (child);
    g_hash_table_destroy (node->children);
  }
  g_free (node);
}

/* The path of a node's directory, or of its cur/ or new/.  Points into the
 * tree's scratch buffer: valid until the next call. */
static const char *
node_path (MsInotifyTree *tree, const Node *node, int role)
{
  g_string_assign (tree->path, tree->root);
  if (node->relpath[0] != '\0') {
    g_string_append_c (tree->path, '/');
    g_string_append (tree->path, node->relpath);
  }
  g_string_append (tree->path, role_suffix[role]);
  return tree->path->str;
}

static int
node_role_of (const Node *node, int wd)
{
  for (int role = 0; role < N_ROLES; role++)
    if (node->wd[role] == wd)
      return role;
  g_return_val_if_reached (ROLE_DIR);
}

static Node *
node_child (const Node *node, const char *entry)
{
  return node->children != NULL ? g_hash_table_lookup (node->children, entry) : NULL;
}

/* "cur" and "new" are roles of their directory, never folders of their own. */
static int
maildir_role (const char *entry)
{
  if (strcmp (entry, "cur") == 0)
    return ROLE_CUR;
  if (strcmp (entry, "new") == 0)
    return ROLE_NEW;
  return -1;
}

/* Whether directory `entry` of `parent` may be a folder, by name alone. */
static gboolean
is_candidate (MsTreeLayout layout, const Node *parent, const char *entry)
{
  if (strcmp (entry, ".") == 0 || strcmp (entry, "..") == 0)
    return FALSE;
  if (layout == MS_TREE_LAYOUT_MAILDIRPP)
    return parent->parent == NULL && entry[0] == '.';
  /* Verbatim: hidden entries (.notmuch, .git, editors' state) are not
   * folders, and a Maildir's own cur/new/tmp hold messages, not folders. */
  return entry[0] != '.' && maildir_role (entry) < 0 && strcmp (entry, "tmp") != 0;
}

static void
report (MsInotifyTree *tree, MsTreeReport what, const char *folder, const char *detail)
{
  tree->report (what, folder, detail, tree->report_data);
}

/* ---- watches ---------------------------------------------------------- */

/* Gives up the watch for `role` of `node`.  `in_kernel` is FALSE when the
 * kernel has already dropped it (IN_DELETE_SELF); removing a watch the
 * kernel dropped meanwhile fails harmlessly with EINVAL. */
static void
watch_drop (MsInotifyTree *tree, Node *node, int role, gboolean in_kernel)
{
  int wd = node->wd[role];

  if (wd < 0)
    return;
  g_hash_table_remove (tree->by_wd, GINT_TO_POINTER (wd));
  if (in_kernel)
    inotify_rm_watch (tree->fd, wd);
  node->wd[role] = -1;
}

/* Watches `role` of `node`.  Returns TRUE with node->wd[role] set, or TRUE
 * with nothing changed when the directory is not there (it went away again,
 * or "cur" is a file or a dangling symlink): its event follows or already
 * came.  The base directory itself must be there. */
static gboolean
watch_add (MsInotifyTree *tree, Node *node, int role, GError **error)
{
  const char *path = node_path (tree, node, role);
  int wd = inotify_add_watch (tree->fd, path, WATCH_MASK);

  if (wd < 0) {
    int e = errno;
    gboolean base_dir = node == tree->top && role == ROLE_DIR;
    if (!base_dir && (e == ENOENT || e == ENOTDIR || e == ELOOP))
      return TRUE;
    g_set_error (error, MS_TREE_ERROR, MS_TREE_ERROR_WATCH, "inotify_add_watch(\"%s\"): %s%s",
                 path, g_strerror (e),
                 e == ENOSPC ? " (raise the limit fs.inotify.max_user_watches)" : "");
    return FALSE;
  }

  Node *owner = g_hash_table_lookup (tree->by_wd, GINT_TO_POINTER (wd));
  if (owner == node && node->wd[role] == wd)
    return TRUE; /* already ours: a scan and an event both found it */
  if (owner != NULL) {
    g_set_error (error, MS_TREE_ERROR, MS_TREE_ERROR_SAME_INODE,
                 "Encountered the same inode multiple times, while starting to watch IMAP "
                 "folder \"%s\". Either there are multiple paths to the inode (not supported) "
                 "or the underlying filesystem is quickly changing (restart).",
                 node->name);
    return FALSE;
  }
  watch_drop (tree, node, role, TRUE); /* a directory renamed over the old one */
  g_hash_table_insert (tree->by_wd, GINT_TO_POINTER (wd), node);
  node->wd[role] = wd;
  return TRUE;
}

/* A folder called INBOX besides the base Maildir would make "INBOX"
 * ambiguous.  Checked whenever either of the two becomes a folder. */
static gboolean
check_collision (MsInotifyTree *tree, GError **error)
{
  const char *entry = tree->layout == MS_TREE_LAYOUT_MAILDIRPP ? ".INBOX" : "INBOX";
  Node *other = node_child (tree->top, entry);

  if (tree->top->complete && other != NULL && other->complete) {
    g_set_error (error, MS_TREE_ERROR, MS_TREE_ERROR_COLLISION,
                 "IMAP folder name collision between INBOX and the Maildir %s", other->relpath);
    return FALSE;
  }
  return TRUE;
}

/* Re-derives whether `node` is a folder after one of its cur/new watches
 * came or went, and reports the change once start-up is over. */
static gboolean
node_update (MsInotifyTree *tree, Node *node, GError **error)
{
  gboolean complete = node->wd[ROLE_CUR] >= 0 && node->wd[ROLE_NEW] >= 0;

  if (complete == node->complete)
    return TRUE;
  node->complete = complete;
  if (complete) {
    tree->n_folders++;
    if (!check_collision (tree, error))
      return FALSE;
  } else {
    tree->n_folders--;
  }
  if (tree->started)
    report (tree, complete ? MS_TREE_APPEARED : MS_TREE_VANISHED, node->name, NULL);
  return TRUE;
}

/* Stops watching `node` and everything below it, reporting each folder
 * among them as vanished (parents before children).  `unlink` is FALSE only
 * when the parent is dropping all its children at once. */
static void
node_detach (MsInotifyTree *tree, Node *node, gboolean unlink)
{
  if (node->complete) {
    node->complete = FALSE;
    tree->n_folders--;
    report (tree, MS_TREE_VANISHED, node->name, NULL);
  }
  if (node->children != NULL) {
    GHashTableIter iter;
    gpointer child;
    g_hash_table_iter_init (&iter, node->children);
    while (g_hash_table_iter_next (&iter, NULL, &child))
      node_detach (tree, child, FALSE);
    g_clear_pointer (&node->children, g_hash_table_destroy);
  }
  for (int role = 0; role < N_ROLES; role++)
    watch_drop (tree, node, role, TRUE);
  if (unlink && node->parent != NULL)
    g_hash_table_remove (node->parent->children, node->entry);
  g_free (node);
}

static gboolean node_attach (MsInotifyTree *tree, Node *parent, const char *entry,
                             GError **error);

/* Lists the directory of `node` and attaches every possible subfolder.
 * Directories are recognised from d_type; only symlinks and file systems
 * that do not fill d_type cost a stat(). */
static gboolean
node_scan (MsInotifyTree *tree, Node *node, GError **error)
{
  const char *path = node_path (tree, node, ROLE_DIR);
  g_autoptr (DIR) dir = opendir (path);
  struct dirent *de;

  if (dir == NULL) {
    int e = errno;
    if (e == ENOENT || e == ENOTDIR)
      return TRUE; /* removed since we watched it: its event follows */
    g_set_error (error, MS_TREE_ERROR, MS_TREE_ERROR_WATCH, "opendir(\"%s\"): %s", path,
                 g_strerror (e));
    return FALSE;
  }
  for (errno = 0; (de = readdir (dir)) != NULL; errno = 0) {
    if (!is_candidate (tree->layout, node, de->d_name))
      continue;
    if (de->d_type == DT_LNK || de->d_type == DT_UNKNOWN) {
      struct stat st;
      if (fstatat (dirfd (dir), de->d_name, &st, 0) != 0 || !S_ISDIR (st.st_mode))
        continue;
    } else if (de->d_type != DT_DIR) {
      continue;
    }
    if (!node_attach (tree, node, de->d_name, error))
      return FALSE;
  }
  if (errno != 0) {
    int e = errno;
    g_set_error (error, MS_TREE_ERROR, MS_TREE_ERROR_WATCH, "readdir(\"%s\"): %s",
                 node_path (tree, node, ROLE_DIR), g_strerror (e));
    return FALSE;
  }
  return TRUE;
}

/* Watches cur/ and new/ of a node whose own directory is already watched,
 * then (where the layout allows subfolders) everything below it. */
static gboolean
node_fill (MsInotifyTree *tree, Node *node, GError **error)
{
  if (!watch_add (tree, node, ROLE_CUR, error) || !watch_add (tree, node, ROLE_NEW, error) ||
      !node_update (tree, node, error))
    return FALSE;
  if (tree->layout == MS_TREE_LAYOUT_VERBATIM)
    return node_scan (tree, node, error);
  return TRUE;
}

/* Starts watching directory `entry` of `parent`, which may be a folder, and
 * everything below it.  Nothing happens if it is no longer there. */
static gboolean
node_attach (MsInotifyTree *tree, Node *parent, const char *entry, GError **error)
{
  Node *node = node_new (tree, parent, entry);
  g_autoptr (GError) bad_name = NULL;

  if (!ms_mailbox_name_check (node->name, strlen (node->name), &bad_name)) {
    report (tree, MS_TREE_SKIPPED, node->relpath, bad_name->message);
    g_free (node);
    return TRUE;
  }
  if (node->depth > TREE_MAX_DEPTH) {
    g_autofree char *why = g_strdup_printf ("more than %d levels deep", TREE_MAX_DEPTH);
    report (tree, MS_TREE_SKIPPED, node->relpath, why);
    g_free (node);
    return TRUE;
  }
  if (!watch_add (tree, node, ROLE_DIR, error)) {
    g_free (node); /* no watch of it is in the map */
    return FALSE;
  }
  if (node->wd[ROLE_DIR] < 0) {
    g_free (node); /* gone again already */
    return TRUE;
  }
  if (parent->children == NULL)
    parent->children = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (parent->children, (gpointer) node->entry, node);
  return node_fill (tree, node, error);
}

/* `entry` appeared in the directory of `parent` and may be a folder.  If we
 * already hold a node by that name it is either the same directory (found
 * by the scan that followed the parent's creation) or one that has been
 * replaced; only the latter is redone. */
static gboolean
child_added (MsInotifyTree *tree, Node *parent, const char *entry, gboolean is_dir,
             GError **error)
{
  Node *old = node_child (parent, entry);

  if (old != NULL) {
    int wd = inotify_add_watch (tree->fd, node_path (tree, old, ROLE_DIR), WATCH_MASK);
    if (wd < 0 || wd == old->wd[ROLE_DIR])
      return TRUE;
    node_detach (tree, old, TRUE);
  } else if (!is_dir) {
    /* Not a directory itself, but possibly a symlink to one, which 1.2
     * followed too. */
    g_autofree char *path = g_strconcat (node_path (tree, parent, ROLE_DIR), "/", entry, NULL);
    struct stat st;
    if (stat (path, &st) != 0 || !S_ISDIR (st.st_mode))
      return TRUE;
  }
  return node_attach (tree, parent, entry, error);
}

/* ---- events ----------------------------------------------------------- */

typedef enum {
  ACT_NONE,
  ACT_CHANGED,       /* report `node` as changed */
  ACT_ROLE_ADDED,    /* "cur" or "new" (`role`) appeared in node's directory */
  ACT_ROLE_REMOVED,  /* "cur" or "new" (`role`) was deleted or renamed away */
  ACT_ROLE_GONE,     /* the kernel dropped node's `role` watch: it was deleted */
  ACT_CHILD_ADDED,   /* `entry` appeared in node's directory and may be a folder */
  ACT_CHILD_REMOVED, /* subfolder `child` of node was deleted or renamed away */
  ACT_NODE_GONE,     /* node's own directory was deleted */
  ACT_ROOT_GONE,     /* the base directory was deleted */
  ACT_OVERFLOW,      /* the kernel's queue overflowed */
  ACT_LOST,          /* the kernel dropped a watch we still hold */
} ActionKind;

typedef struct {
  ActionKind kind;
  Node *node;
  Node *child;
  int role;
  const char *entry;
  gboolean entry_is_dir;
} Action;

/* Decides what one event means.  Reads the map only: no system calls, no
 * reports.  `name` is NULL for events about the watched directory itself. */
static Action
classify (const MsInotifyTree *tree, int wd, guint32 mask, const char *name)
{
  Action a = { .kind = ACT_NONE };

  if (mask & IN_Q_OVERFLOW) {
    a.kind = ACT_OVERFLOW;
    return a;
  }
  a.node = g_hash_table_lookup (tree->by_wd, GINT_TO_POINTER (wd));
  if (a.node == NULL)
    return a; /* a watch we gave up; its last events are still trickling in */
  int role = node_role_of (a.node, wd);

  if (mask & (IN_IGNORED | IN_UNMOUNT)) {
    /* Deletion sends IN_DELETE_SELF first, which drops the watch from the
     * map; still holding it means the kernel dropped it for another reason. */
    a.kind = ACT_LOST;
    a.role = role;
    return a;
  }
  if (mask & IN_DELETE_SELF) {
    if (role != ROLE_DIR)
      a.kind = ACT_ROLE_GONE;
    else
      a.kind = a.node == tree->top ? ACT_ROOT_GONE : ACT_NODE_GONE;
    a.role = role;
    return a;
  }

  gboolean added = (mask & (IN_CREATE | IN_MOVED_TO)) != 0;
  gboolean removed = (mask & (IN_DELETE | IN_MOVED_FROM)) != 0;
  if (!added && !removed)
    return a; /* IN_MOVE_SELF: the parent's IN_MOVED_FROM tells us more */

  if (role != ROLE_DIR) {
    if (a.node->complete)
      a.kind = ACT_CHANGED;
    return a;
  }
  if (name == NULL)
    return a;

  int sub = maildir_role (name);
  if (sub >= 0) {
    a.kind = added ? ACT_ROLE_ADDED : ACT_ROLE_REMOVED;
    a.role = sub;
    return a;
  }
  if (!is_candidate (tree->layout, a.node, name))
    return a; /* tmp/, dovecot-uidlist and other files */
  if (added) {
    a.kind = ACT_CHILD_ADDED;
    a.entry = name;
    a.entry_is_dir = (mask & IN_ISDIR) != 0;
  } else if ((a.child = node_child (a.node, name)) != NULL) {
    a.kind = ACT_CHILD_REMOVED;
  }
  return a;
}

/* Carries out what classify() decided. */
static gboolean
apply (MsInotifyTree *tree, const Action *a, GError **error)
{
  switch (a->kind) {
  case ACT_NONE:
    return TRUE;
  case ACT_CHANGED:
    report (tree, MS_TREE_CHANGED, a->node->name, NULL);
    return TRUE;
  case ACT_ROLE_ADDED:
    return watch_add (tree, a->node, a->role, error) && node_update (tree, a->node, error);
  case ACT_ROLE_REMOVED:
  case ACT_ROLE_GONE:
    watch_drop (tree, a->node, a->role, a->kind == ACT_ROLE_REMOVED);
    return node_update (tree, a->node, error);
  case ACT_CHILD_ADDED:
    return child_added (tree, a->node, a->entry, a->entry_is_dir, error);
  case ACT_CHILD_REMOVED:
    node_detach (tree, a->child, TRUE);
    return TRUE;
  case ACT_NODE_GONE:
    node_detach (tree, a->node, TRUE);
    return TRUE;
  case ACT_ROOT_GONE:
    g_set_error (error, MS_TREE_ERROR, MS_TREE_ERROR_ROOT_GONE,
                 "the Maildir \"%s\" was deleted", tree->root);
    return FALSE;
  case ACT_OVERFLOW:
    g_set_error_literal (error, MS_TREE_ERROR, MS_TREE_ERROR_OVERFLOW,
                         "the inotify event queue overflowed, so changes were lost "
                         "(the queue's size is fs.inotify.max_queued_events)");
    return FALSE;
  case ACT_LOST:
    g_set_error (error, MS_TREE_ERROR, MS_TREE_ERROR_LOST,
                 "the kernel dropped the inotify watch on \"%s\" (was it unmounted?)",
                 node_path (tree, a->node, a->role));
    return FALSE;
  }
  g_return_val_if_reached (TRUE);
}

/* ---- public ----------------------------------------------------------- */

MsInotifyTree *
ms_inotify_tree_new (const char *root, MsTreeLayout layout, MsTreeReportFunc report_func,
                     gpointer user_data, GError **error)
{
  g_return_val_if_fail (root != NULL, NULL);
  g_return_val_if_fail (report_func != NULL, NULL);

  int fd = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    g_set_error (error, MS_TREE_ERROR, MS_TREE_ERROR_INIT, "inotify_init1: %s%s", g_strerror (e),
                 e == EMFILE ? " (raise the limit fs.inotify.max_user_instances)" : "");
    return NULL;
  }

  g_autoptr (MsInotifyTree) tree = g_new0 (MsInotifyTree, 1);
  tree->fd = fd;
  tree->layout = layout;
  tree->root = g_strdup (root);
  tree->by_wd = g_hash_table_new (g_direct_hash, g_direct_equal);
  tree->report = report_func;
  tree->report_data = user_data;
  tree->path = g_string_sized_new (256);
  tree->buf = g_malloc (sizeof *tree->buf);
  tree->top = node_new (tree, NULL, "");

  if (!watch_add (tree, tree->top, ROLE_DIR, error) ||
      !watch_add (tree, tree->top, ROLE_CUR, error) ||
      !watch_add (tree, tree->top, ROLE_NEW, error) || !node_update (tree, tree->top, error))
    return NULL;
  if (layout == MS_TREE_LAYOUT_MAILDIRPP && !tree->top->complete) {
    g_set_error (error, MS_TREE_ERROR, MS_TREE_ERROR_NOT_MAILDIR, "Error: \"%s\" is not a Maildir",
                 root);
    return NULL;
  }
  if (!node_scan (tree, tree->top, error))
    return NULL;
  tree->started = TRUE;
  return g_steal_pointer (&tree);
}

void
ms_inotify_tree_free (MsInotifyTree *tree)
{
  if (tree == NULL)
    return;
  if (tree->fd >= 0)
    close (tree->fd); /* drops every watch at once */
  if (tree->top != NULL)
    node_free_all (tree->top);
  g_hash_table_destroy (tree->by_wd);
  g_string_free (tree->path, TRUE);
  g_free (tree->buf);
  g_free (tree->root);
  g_free (tree);
}

int
ms_inotify_tree_get_fd (const MsInotifyTree *tree)
{
  g_return_val_if_fail (tree != NULL, -1);
  return tree->fd;
}

gboolean
ms_inotify_tree_process (MsInotifyTree *tree, GError **error)
{
  g_return_val_if_fail (tree != NULL, FALSE);

  ssize_t n = read (tree->fd, tree->buf->bytes, sizeof tree->buf->bytes);
  if (n < 0) {
    int e = errno;
    if (e == EAGAIN || e == EINTR)
      return TRUE;
    g_set_error (error, MS_TREE_ERROR, MS_TREE_ERROR_READ, "reading inotify events: %s",
                 g_strerror (e));
    return FALSE;
  }

  /* The kernel hands out whole events only, each padded so that the next
   * is aligned; the checks guard against trusting a length blindly. */
  gsize off = 0;
  while (off < (gsize) n) {
    const struct inotify_event *ev = (const void *) (tree->buf->bytes + off);
    gsize left = (gsize) n - off;
    if (left < sizeof *ev || ev->len > left - sizeof *ev ||
        (ev->len > 0 && memchr (ev->name, '\0', ev->len) == NULL)) {
      g_set_error_literal (error, MS_TREE_ERROR, MS_TREE_ERROR_READ,
                           "reading inotify events: malformed event");
      return FALSE;
    }
    const char *name = ev->len > 0 && ev->name[0] != '\0' ? ev->name : NULL;
    Action a = classify (tree, ev->wd, ev->mask, name);
    if (!apply (tree, &a, error))
      return FALSE;
    off += sizeof *ev + ev->len;
  }
  return TRUE;
}

guint
ms_inotify_tree_n_folders (const MsInotifyTree *tree)
{
  g_return_val_if_fail (tree != NULL, 0);
  return tree->n_folders;
}

guint
ms_inotify_tree_n_watches (const MsInotifyTree *tree)
{
  g_return_val_if_fail (tree != NULL, 0);
  return g_hash_table_size (tree->by_wd);
}
