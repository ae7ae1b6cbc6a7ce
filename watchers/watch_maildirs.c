/* watch_maildirs.c — print the name of each Maildir folder as it changes.
 *
 * The local watcher of mswatch, compatible with mswatch 1.2's program of the
 * same name: once every watch is in place it prints one empty line, then one
 * folder name per line for every message created, deleted or renamed in a
 * folder's new/ or cur/, and for every folder that appears or goes away.
 * inotify-tree.c does the watching and decides what each event means; this
 * file chooses the Maildir, writes the lines, and decides when to stop.
 *
 * Output.  Lines are queued and written as soon as stdout is writable, at
 * most PIPE_BUF bytes per write(2): after poll() says a pipe is writable, a
 * write of that size does not block, so a reader that stops reading never
 * stalls the loop.  The queue is bounded (OUTPUT_BACKLOG_MAX); a reader that
 * falls that far behind gets exit status 2 instead, which tells it to
 * restart us and sync everything — cheaper than remembering every line.
 *
 * Exit status:
 *   0  our reader has gone: a write failed with EPIPE, or poll() reported
 *      POLLERR/POLLHUP on stdout while idle.  That is how a watcher is told
 *      to stop, so it is not an error.
 *   1  an error, as in 1.2: bad options, -V, a missing or non-Maildir base,
 *      an INBOX name collision, a directory reachable by two paths at
 *      start-up, or the base directory deleted (silently, as in 1.2).
 *   2  changes may have been missed: the kernel's event queue overflowed, a
 *      watch could not be added or was dropped by the kernel, the tree
 *      changed faster than we could follow it, or the output backlog
 *      overflowed.  The coordinator restarts a watcher that exits, and a
 *      restart includes a full sync, so nothing stays unsynced.
 *
 * stdin is ignored, as in 1.2 (inputkill handles remote use).  SIGPIPE is
 * ignored so that a vanished reader shows up as EPIPE.  Everything runs in
 * one GLib main loop and nothing in it blocks.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inotify-tree.h"
#include "mailbox-name.h"
#include "ms-fd.h"

/* Bytes of output we hold for a reader that is not reading.  The
 * coordinator reads continuously, so in practice the queue is empty; 1 MiB
 * is some 50,000 typical lines, far more than any sync produces while the
 * reader is busy for a moment.  A reader further behind than that has lost
 * track anyway: a restart with a full sync is the cheaper way back. */
#define OUTPUT_BACKLOG_MAX (1024 * 1024)

/* Longest folder name shown in a warning about a skipped directory. */
#define LOG_NAME_MAX 200

typedef struct {
  GMainLoop *loop;
  MsInotifyTree *tree;
  GString *out;      /* bytes not yet written to stdout */
  gsize out_done;    /* how much of `out` has been written */
  guint out_watch;   /* G_IO_OUT source, present while `out` has bytes left */
  int status;        /* exit status, once `finished` */
  gboolean finished;
} Watcher;

/* Ends the main loop with `status`, printing `message` (if any) first.
 * Only the first call counts. */
static void
finish (Watcher *w, int status, const char *message)
{
  if (w->finished)
    return;
  w->finished = TRUE;
  w->status = status;
  if (message != NULL)
    fprintf (stderr, "%s\n", message);
  g_main_loop_quit (w->loop);
}

static gboolean
on_stdout_writable (int fd, GIOCondition cond, gpointer data)
{
  Watcher *w = data;

  if (cond & (G_IO_ERR | G_IO_HUP | G_IO_NVAL)) {
    finish (w, 0, NULL);
    w->out_watch = 0;
    return G_SOURCE_REMOVE;
  }
  gsize left = w->out->len - w->out_done;
  ssize_t n = write (fd, w->out->str + w->out_done, MIN (left, (gsize) PIPE_BUF));
  if (n < 0) {
    int e = errno;
    if (e == EAGAIN || e == EINTR)
      return G_SOURCE_CONTINUE;
    if (e == EPIPE) {
      finish (w, 0, NULL);
    } else {
      g_autofree char *msg = g_strdup_printf ("watch_maildirs: writing to stdout: %s",
                                              g_strerror (e));
      finish (w, 1, msg);
    }
    w->out_watch = 0;
    return G_SOURCE_REMOVE;
  }
  w->out_done += (gsize) n;
  if (w->out_done < w->out->len) {
    /* Drop what is written once it is half the buffer, so that a reader
     * that keeps up only partly cannot make the buffer grow without bound;
     * the copy costs no more than the bytes written since the last one. */
    if (w->out_done >= w->out->len / 2) {
      g_string_erase (w->out, 0, (gssize) w->out_done);
      w->out_done = 0;
    }
    return G_SOURCE_CONTINUE;
  }
  g_string_truncate (w->out, 0);
  w->out_done = 0;
  w->out_watch = 0;
  return G_SOURCE_REMOVE;
}

/* Queues one line for stdout. */
static void
emit_line (Watcher *w, const char *line)
{
  gsize len = strlen (line) + 1;

  if (w->finished)
    return;
  if (w->out->len - w->out_done + len > OUTPUT_BACKLOG_MAX) {
    g_autofree char *msg = g_strdup_printf (
      "watch_maildirs: more than %d bytes of output are waiting for a reader that does not "
      "read; exiting so that a restart syncs everything", OUTPUT_BACKLOG_MAX);
    finish (w, 2, msg);
    return;
  }
  g_string_append_len (w->out, line, (gssize) len - 1);
  g_string_append_c (w->out, '\n');
  if (w->out_watch == 0)
    w->out_watch = g_unix_fd_add (STDOUT_FILENO, G_IO_OUT, on_stdout_writable, w);
}

static void
on_report (MsTreeReport what, const char *folder, const char *detail, gpointer data)
{
  Watcher *w = data;

  if (what == MS_TREE_SKIPPED) {
    g_autofree char *shown = ms_mailbox_name_for_log (folder, strlen (folder), LOG_NAME_MAX);
    fprintf (stderr, "watch_maildirs: not watching \"%s\": %s\n", shown, detail);
    return;
  }
  emit_line (w, folder);
}

/* The exit status for a tree that stopped while running; see the top. */
static int
runtime_status (const GError *error)
{
  if (g_error_matches (error, MS_TREE_ERROR, MS_TREE_ERROR_ROOT_GONE) ||
      g_error_matches (error, MS_TREE_ERROR, MS_TREE_ERROR_COLLISION))
    return 1;
  return 2;
}

static gboolean
on_inotify (int fd, GIOCondition cond, gpointer data)
{
  Watcher *w = data;
  g_autoptr (GError) error = NULL;

  if (ms_inotify_tree_process (w->tree, &error))
    return G_SOURCE_CONTINUE;
  /* The base directory going away ends us silently, as in 1.2. */
  gboolean silent = g_error_matches (error, MS_TREE_ERROR, MS_TREE_ERROR_ROOT_GONE);
  g_autofree char *msg = NULL;
  if (!silent && g_error_matches (error, MS_TREE_ERROR, MS_TREE_ERROR_COLLISION))
    msg = g_strdup (error->message); /* 1.2's words, as at start-up */
  else if (!silent)
    msg = g_strdup_printf ("watch_maildirs: %s; exiting so that a restart syncs everything",
                           error->message);
  finish (w, runtime_status (error), msg);
  return G_SOURCE_REMOVE;
}

static gboolean
on_stdout_gone (int fd, GIOCondition cond, gpointer data)
{
  finish (data, 0, NULL);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  g_autofree char *maildir = NULL;
  g_autofree char *layout_name = NULL;
  gboolean version = FALSE;
  GOptionEntry entries[] = {
    { "maildir", 'm', 0, G_OPTION_ARG_FILENAME, &maildir,
      "Watch the Maildir DIR (default: $MAILDIR, else ~/Maildir)", "DIR" },
    { "layout", 0, 0, G_OPTION_ARG_STRING, &layout_name,
      "Folder layout: maildir++ (.a.b, the default) or verbatim (a/b)", "LAYOUT" },
    { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Display version", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx =
    g_option_context_new ("- print the names of Maildir folders as they change");
  g_autoptr (GError) error = NULL;

  signal (SIGPIPE, SIG_IGN);

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    fprintf (stderr, "watch_maildirs: %s\nUse -h or --help for help.\n", error->message);
    return 1;
  }
  if (version) {
    /* 1.2 printed the backend and the version, and exited 1. */
    printf ("watch_maildirs (inotify)\nmswatch-ng %s\n", MS_VERSION);
    return 1;
  }
  if (argc > 1) {
    fprintf (stderr, "Unknown arguments starting with \"%s\"\n", argv[1]);
    return 1;
  }

  MsTreeLayout layout = MS_TREE_LAYOUT_MAILDIRPP;
  if (layout_name == NULL || g_ascii_strcasecmp (layout_name, "maildir++") == 0)
    layout = MS_TREE_LAYOUT_MAILDIRPP;
  else if (g_ascii_strcasecmp (layout_name, "verbatim") == 0)
    layout = MS_TREE_LAYOUT_VERBATIM;
  else {
    fprintf (stderr,
             "watch_maildirs: unknown layout \"%s\" (expected maildir++ or verbatim)\n"
             "Use -h or --help for help.\n",
             layout_name);
    return 1;
  }

  if (maildir == NULL) {
    const char *env = g_getenv ("MAILDIR");
    maildir = env != NULL && env[0] != '\0' ? g_strdup (env)
                                            : g_build_filename (g_get_home_dir (), "Maildir", NULL);
  }

  /* With stdout closed nobody can hear us: behave as if the reader left. */
  if (fcntl (STDOUT_FILENO, F_GETFD) < 0)
    return 0;
  ms_fd_fill_std (FALSE);

  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr (GString) out = g_string_new (NULL);
  Watcher w = { .loop = loop, .out = out };
  g_autoptr (MsInotifyTree) tree = ms_inotify_tree_new (maildir, layout, on_report, &w, &error);
  if (tree == NULL) {
    fprintf (stderr, "%s\n", error->message);
    return 1;
  }
  w.tree = tree;

  emit_line (&w, ""); /* the start message: every watch is in place */
  g_unix_fd_add (ms_inotify_tree_get_fd (tree), G_IO_IN, on_inotify, &w);
  /* Polls for POLLERR/POLLHUP only, so that a reader that leaves while
   * nothing changes is noticed at once rather than at our next write. */
  g_unix_fd_add (STDOUT_FILENO, G_IO_ERR | G_IO_HUP, on_stdout_gone, &w);

  g_main_loop_run (w.loop);
  return w.status;
}
