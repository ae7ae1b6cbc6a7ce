/* watcher.c — see watcher.h for the states and the protocol. */
#include "watcher.h"

#include "line-splitter.h"
#include "mailbox-name.h"
#include "messages.h"
#include "supervisor.h"
#include "ms-time.h"

#include <stdio.h>

struct MsWatcher {
  char *store;
  const char *const *argv;
  MsWatcherHandlers handlers;
  gpointer user_data;

  MsWatcherState state;
  MsChild *child;
  MsLineSplitter *lines;
  guint bad_start_source;
  char bad_byte;
  gint64 since;
};

MsWatcher *
ms_watcher_new (const char *store, const char *const *argv, const MsWatcherHandlers *handlers,
                gpointer user_data)
{
  MsWatcher *w = g_new0 (MsWatcher, 1);
  w->store = g_strdup (store);
  w->argv = argv;
  w->handlers = *handlers;
  w->user_data = user_data;
  return w;
}

/* Back to STOPPED; the child, if alive, is stopped in the background. */
static void
reset (MsWatcher *w)
{
  g_clear_handle_id (&w->bad_start_source, g_source_remove);
  g_clear_pointer (&w->child, ms_child_free);
  g_clear_pointer (&w->lines, ms_line_splitter_free);
  w->state = MS_WATCHER_STOPPED;
}

void
ms_watcher_free (MsWatcher *w)
{
  if (w == NULL)
    return;
  reset (w);
  g_free (w->store);
  g_free (w);
}

void
ms_watcher_stop (MsWatcher *w)
{
  reset (w);
}

MsWatcherState
ms_watcher_state (const MsWatcher *w)
{
  return w->state;
}

const char *
ms_watcher_store (const MsWatcher *w)
{
  return w->store;
}

gint64
ms_watcher_since (const MsWatcher *w)
{
  return w->since;
}

static void
start_failed (MsWatcher *w)
{
  reset (w);
  w->handlers.start_failed (w->user_data);
}

static void
died (MsWatcher *w)
{
  reset (w);
  w->handlers.died (w->user_data);
}

/* Splits `len` bytes into names and hands the batch over. */
static void
take_lines (MsWatcher *w, const char *data, gsize len)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *line;
  gsize n;
  MsLineStatus st;

  ms_line_splitter_feed (w->lines, data, len);
  while ((st = ms_line_splitter_next (w->lines, &line, &n)) != MS_LINE_NEED_MORE) {
    if (st == MS_LINE_TOO_LONG) {
      ms_msg_name_too_large ();
      w->handlers.name_too_long (w->user_data);
      continue;
    }
    g_autoptr (GError) error = NULL;
    if (!ms_mailbox_name_check (line, n, &error)) {
      ms_msg_bad_name (w->store, error->message);
      continue;
    }
    g_ptr_array_add (names, g_strndup (line, n));
  }
  if (names->len > 0)
    w->handlers.names (w->user_data, names);
}

static gboolean
on_bad_start_timeout (gpointer data)
{
  MsWatcher *w = data;
  w->bad_start_source = 0;
  ms_msg_bad_start (w->store, w->bad_byte);
  reset (w);
  w->handlers.bad_start (w->user_data);
  return G_SOURCE_REMOVE;
}

static void
on_output (gpointer data, const char *buf, gsize len)
{
  MsWatcher *w = data;

  if (w->bad_start_source != 0)
    return; /* waiting to see whether it exits; its output no longer counts */

  if (len == 0) {
    if (w->state == MS_WATCHER_STARTING) {
      ms_msg_watcher_closed_at (w->store, ms_time_wall_now ());
      start_failed (w);
    } else {
      ms_msg_watcher_closed_by (w->store, ms_time_wall_now ());
      died (w);
    }
    return;
  }

  if (w->state == MS_WATCHER_STARTING) {
    if (buf[0] != '\n') {
      w->bad_byte = buf[0];
      w->bad_start_source = g_timeout_add (MS_WATCHER_BAD_START_GRACE_MS, on_bad_start_timeout, w);
      return;
    }
    w->state = MS_WATCHER_RUNNING;
    w->since = ms_time_mono_ms ();
    w->lines = ms_line_splitter_new (MS_MAILBOX_NAME_MAX);
    buf++;
    len--;
    w->handlers.started (w->user_data);
    if (w->state != MS_WATCHER_RUNNING)
      return;
  }
  if (len > 0)
    take_lines (w, buf, len);
}

static void
on_exited (gpointer data, const MsChildExit *st)
{
  MsWatcher *w = data;

  /* Whatever it wrote before dying is still in the pipe: take it first.  If
   * that reaches EOF, on_output has already reported the end. */
  if (w->bad_start_source == 0 && w->child != NULL && ms_child_drain_output (w->child))
    return;

  if (w->bad_start_source != 0) {
    /* A wrong first byte, then an exit within the grace period: 1.2 counted
     * that as a failed start, not a fatal one. */
    start_failed (w);
  } else if (w->state == MS_WATCHER_STARTING) {
    ms_msg_watcher_closed_at (w->store, ms_time_wall_now ());
    start_failed (w);
  } else if (w->state == MS_WATCHER_RUNNING) {
    /* Exited while something else (a grandchild) still holds its stdout. */
    ms_msg_watcher_exited (w->store, st, ms_time_wall_now ());
    died (w);
  }
}

void
ms_watcher_start (MsWatcher *w)
{
  static const MsChildHandlers child_handlers = { on_output, on_exited };
  g_autoptr (GError) error = NULL;

  g_return_if_fail (w->state == MS_WATCHER_STOPPED);
  ms_msg_argv (w->argv, NULL);
  fflush (stdout);
  w->child = ms_child_spawn (w->argv, MS_CHILD_PIPE_STDIO, &child_handlers, w, &error);
  if (w->child == NULL) {
    /* 1.2's child printed this and exited 1, so the parent saw EOF. */
    ms_msg_watcher_spawn_failed (w->argv[0], ms_child_spawn_strerror (error));
    ms_msg_watcher_closed_at (w->store, ms_time_wall_now ());
    w->handlers.start_failed (w->user_data);
    return;
  }
  w->state = MS_WATCHER_STARTING;
}
