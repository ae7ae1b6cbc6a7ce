/* supervisor.c — see supervisor.h.
 *
 * A freed child that is still running is handed to a small "reaper" record
 * that owns the GSubprocess, the wait and the SIGKILL timer, so that freeing
 * never blocks and never leaves a zombie.  The live MsChild and the reaper
 * never share state: the wait callback of a live child checks the
 * cancellable first, because the child may have been freed meanwhile.
 */
#include "supervisor.h"
#include "ms-time.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <glib-unix.h>
#include <signal.h>
#include <unistd.h>

struct MsChild {
  GSubprocess *proc;
  MsChildHandlers handlers;
  gpointer user_data;
  GCancellable *cancellable; /* cancels the wait when the child is freed */
  guint out_source;
  int out_fd;                /* borrowed from the stdout stream */
  guint err_source;
  int err_fd;                /* borrowed from the stderr stream (MS_CHILD_CAPTURE_OUTPUT) */
  guint kill_source;
  gboolean running;
  gint64 deadline_ms;        /* monotonic: ms_child_stop_after() */
  guint deadline_source;
  void (*expired) (gpointer user_data);
};

typedef struct {
  GSubprocess *proc;
  guint kill_source;
} Reaper;

static guint n_stopping;
static GSourceFunc all_stopped_notify;
static gpointer all_stopped_data;

gboolean
ms_child_running (const MsChild *child)
{
  return child->running;
}

static void
status_from (GSubprocess *proc, MsChildExit *st)
{
  *st = (MsChildExit) { 0 };
  if (g_subprocess_get_if_signaled (proc)) {
    st->signaled = TRUE;
    st->signal = g_subprocess_get_term_sig (proc);
  } else {
    st->code = g_subprocess_get_exit_status (proc);
  }
}

static gboolean
on_kill_timeout (gpointer data)
{
  MsChild *child = data;
  child->kill_source = 0;
  if (child->running)
    g_subprocess_send_signal (child->proc, SIGKILL);
  return G_SOURCE_REMOVE;
}

static void
on_waited (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GError) error = NULL;

  if (!g_subprocess_wait_finish (G_SUBPROCESS (source), res, &error)
      && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return; /* freed: `data` is gone, the reaper owns the process now */

  MsChild *child = data;
  MsChildExit st;
  child->running = FALSE;
  g_clear_handle_id (&child->kill_source, g_source_remove);
  g_clear_handle_id (&child->deadline_source, g_source_remove);
  status_from (child->proc, &st);
  if (child->handlers.exited)
    child->handlers.exited (child->user_data, &st);
}

static gboolean
on_output (int fd, GIOCondition cond, gpointer data)
{
  MsChild *child = data;
  char buf[MS_CHILD_READ_CHUNK];

  ssize_t n = read (fd, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return G_SOURCE_CONTINUE;
  if (n <= 0) {
    /* EOF, or an error that means the same to us. */
    child->out_source = 0;
    if (child->handlers.output)
      child->handlers.output (child->user_data, "", 0);
    return G_SOURCE_REMOVE;
  }
  if (child->handlers.output)
    child->handlers.output (child->user_data, buf, (gsize) n);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_error_output (int fd, GIOCondition cond, gpointer data)
{
  MsChild *child = data;
  char buf[MS_CHILD_READ_CHUNK];

  ssize_t n = read (fd, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return G_SOURCE_CONTINUE;
  if (n <= 0) {
    child->err_source = 0;
    child->handlers.error_output (child->user_data, "", 0);
    return G_SOURCE_REMOVE;
  }
  child->handlers.error_output (child->user_data, buf, (gsize) n);
  return G_SOURCE_CONTINUE;
}

/* Reads what `fd` holds now, bounded: a pipe holds 64 KiB, but a grandchild
 * may still be writing, so stop after a bounded amount and let the fd
 * source read the rest.  *eof tells whether the writer side is closed. */
static GByteArray *
drain_fd (int fd, gboolean *eof)
{
  GByteArray *all = g_byte_array_new ();
  char buf[MS_CHILD_READ_CHUNK];

  *eof = FALSE;
  while (all->len < 16 * MS_CHILD_READ_CHUNK) {
    ssize_t n = read (fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n == 0 || (n < 0 && errno != EAGAIN))
      *eof = TRUE;
    if (n <= 0)
      break;
    g_byte_array_append (all, (const guint8 *) buf, (guint) n);
  }
  return all;
}

gboolean
ms_child_drain_output (MsChild *child)
{
  gboolean eof = FALSE;

  if (child->err_fd >= 0 && child->err_source != 0) {
    g_autoptr (GByteArray) err = drain_fd (child->err_fd, &eof);
    if (err->len > 0)
      child->handlers.error_output (child->user_data, (const char *) err->data, err->len);
    if (eof) {
      g_clear_handle_id (&child->err_source, g_source_remove);
      child->handlers.error_output (child->user_data, "", 0);
    }
  }
  if (child->out_fd < 0 || child->out_source == 0)
    return FALSE;
  g_autoptr (GByteArray) all = drain_fd (child->out_fd, &eof);
  if (all->len > 0 && child->handlers.output)
    child->handlers.output (child->user_data, (const char *) all->data, all->len);
  if (eof) {
    g_clear_handle_id (&child->out_source, g_source_remove);
    /* Last call: the handler may free the child. */
    if (child->handlers.output)
      child->handlers.output (child->user_data, "", 0);
  }
  return eof;
}

MsChild *
ms_child_spawn (const char *const *argv, MsChildFlags flags, const MsChildHandlers *handlers,
                gpointer user_data, GError **error)
{
  g_return_val_if_fail (argv != NULL && argv[0] != NULL, NULL);
  g_return_val_if_fail (!(flags & MS_CHILD_CAPTURE_OUTPUT) || handlers->error_output != NULL, NULL);

  GSubprocessFlags sflags = G_SUBPROCESS_FLAGS_STDIN_INHERIT;
  if (flags & MS_CHILD_PIPE_STDIO)
    sflags = G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE;
  else if (flags & MS_CHILD_CAPTURE_OUTPUT)
    /* No stdin flag: GSubprocess gives the child /dev/null. */
    sflags = G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE;
  g_autoptr (GSubprocess) proc = g_subprocess_newv (argv, sflags, error);
  if (proc == NULL)
    return NULL;

  MsChild *child = g_new0 (MsChild, 1);
  child->proc = g_steal_pointer (&proc);
  child->handlers = *handlers;
  child->user_data = user_data;
  child->cancellable = g_cancellable_new ();
  child->running = TRUE;
  child->out_fd = -1;
  child->err_fd = -1;

  if (flags & (MS_CHILD_PIPE_STDIO | MS_CHILD_CAPTURE_OUTPUT)) {
    GInputStream *out = g_subprocess_get_stdout_pipe (child->proc);
    child->out_fd = g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (out));
    g_unix_set_fd_nonblocking (child->out_fd, TRUE, NULL);
    child->out_source = g_unix_fd_add (child->out_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_output, child);
  }
  if (flags & MS_CHILD_PIPE_STDIO)
    g_unix_set_fd_nonblocking (ms_child_input_fd (child), TRUE, NULL);
  if (flags & MS_CHILD_CAPTURE_OUTPUT) {
    GInputStream *err = g_subprocess_get_stderr_pipe (child->proc);
    child->err_fd = g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (err));
    g_unix_set_fd_nonblocking (child->err_fd, TRUE, NULL);
    child->err_source = g_unix_fd_add (child->err_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_error_output,
                                       child);
  }
  g_subprocess_wait_async (child->proc, child->cancellable, on_waited, child);
  return child;
}

void
ms_child_stop (MsChild *child, guint grace_ms)
{
  if (!child->running)
    return;
  g_subprocess_send_signal (child->proc, SIGTERM);
  if (child->kill_source == 0)
    child->kill_source = g_timeout_add (grace_ms, on_kill_timeout, child);
}

static gboolean on_deadline (gpointer data);

static void
arm_deadline (MsChild *child)
{
  gint64 left = child->deadline_ms - ms_time_mono_ms ();
  child->deadline_source = g_timeout_add ((guint) CLAMP (left, 0, G_MAXINT32), on_deadline, child);
}

static gboolean
on_deadline (gpointer data)
{
  MsChild *child = data;
  child->deadline_source = 0;
  if (ms_time_mono_ms () < child->deadline_ms) {
    arm_deadline (child);
    return G_SOURCE_REMOVE;
  }
  if (child->expired != NULL)
    child->expired (child->user_data);
  ms_child_stop (child, MS_CHILD_STOP_GRACE_MS);
  return G_SOURCE_REMOVE;
}

void
ms_child_stop_after (MsChild *child, gint64 timeout_ms, void (*expired) (gpointer user_data))
{
  g_clear_handle_id (&child->deadline_source, g_source_remove);
  if (!child->running)
    return;
  child->deadline_ms = ms_time_mono_ms () + timeout_ms;
  child->expired = expired;
  arm_deadline (child);
}

void
ms_child_close_output (MsChild *child)
{
  g_clear_handle_id (&child->out_source, g_source_remove);
  if (child->out_fd >= 0) {
    g_input_stream_close (g_subprocess_get_stdout_pipe (child->proc), NULL, NULL);
    child->out_fd = -1;
  }
  g_clear_handle_id (&child->err_source, g_source_remove);
  if (child->err_fd >= 0) {
    g_input_stream_close (g_subprocess_get_stderr_pipe (child->proc), NULL, NULL);
    child->err_fd = -1;
  }
}

int
ms_child_input_fd (MsChild *child)
{
  GOutputStream *in = child->proc ? g_subprocess_get_stdin_pipe (child->proc) : NULL;

  if (in == NULL || g_output_stream_is_closed (in))
    return -1;
  return g_unix_output_stream_get_fd (G_UNIX_OUTPUT_STREAM (in));
}

void
ms_child_close_input (MsChild *child)
{
  GOutputStream *in = child->proc ? g_subprocess_get_stdin_pipe (child->proc) : NULL;

  if (in != NULL)
    g_output_stream_close (in, NULL, NULL);
}

static gboolean
on_reaper_kill (gpointer data)
{
  Reaper *r = data;
  r->kill_source = 0;
  g_subprocess_send_signal (r->proc, SIGKILL);
  return G_SOURCE_REMOVE;
}

static void
on_reaped (GObject *source, GAsyncResult *res, gpointer data)
{
  Reaper *r = data;
  g_subprocess_wait_finish (G_SUBPROCESS (source), res, NULL);
  g_clear_handle_id (&r->kill_source, g_source_remove);
  g_object_unref (r->proc);
  g_free (r);
  if (--n_stopping == 0 && all_stopped_notify != NULL) {
    GSourceFunc notify = g_steal_pointer (&all_stopped_notify);
    notify (all_stopped_data);
  }
}

void
ms_child_free (MsChild *child)
{
  if (child == NULL)
    return;
  ms_child_close_output (child);
  g_clear_handle_id (&child->kill_source, g_source_remove);
  g_clear_handle_id (&child->deadline_source, g_source_remove);
  g_cancellable_cancel (child->cancellable);
  g_object_unref (child->cancellable);

  if (child->running) {
    /* Closing its stdin (with our stdout end above) tells a well-behaved
     * watcher to go; SIGTERM tells the rest. */
    GOutputStream *in = g_subprocess_get_stdin_pipe (child->proc);
    if (in != NULL)
      g_output_stream_close (in, NULL, NULL);
    Reaper *r = g_new0 (Reaper, 1);
    r->proc = g_steal_pointer (&child->proc);
    g_subprocess_send_signal (r->proc, SIGTERM);
    r->kill_source = g_timeout_add (MS_CHILD_STOP_GRACE_MS, on_reaper_kill, r);
    n_stopping++;
    g_subprocess_wait_async (r->proc, NULL, on_reaped, r);
  } else {
    g_clear_object (&child->proc);
  }
  g_free (child);
}

guint
ms_child_stopping (void)
{
  return n_stopping;
}

void
ms_child_notify_all_stopped (GSourceFunc notify, gpointer user_data)
{
  if (n_stopping == 0) {
    g_idle_add (notify, user_data); /* notify returns G_SOURCE_REMOVE */
    return;
  }
  all_stopped_notify = notify;
  all_stopped_data = user_data;
}

char *
ms_child_exit_describe (const MsChildExit *st)
{
  if (st->signaled)
    return g_strdup_printf (" killed (by signal %d)", st->signal);
  if (st->code != 0)
    return g_strdup_printf (" exited with error %d", st->code);
  return g_strdup (" exited");
}

const char *
ms_child_spawn_strerror (const GError *error)
{
  static const struct { GSpawnError code; int err; } map[] = {
    { G_SPAWN_ERROR_NOENT, ENOENT }, { G_SPAWN_ERROR_ACCES, EACCES },
    { G_SPAWN_ERROR_NOEXEC, ENOEXEC }, { G_SPAWN_ERROR_ISDIR, EISDIR },
    { G_SPAWN_ERROR_PERM, EPERM }, { G_SPAWN_ERROR_NOTDIR, ENOTDIR },
    { G_SPAWN_ERROR_TOO_BIG, E2BIG }, { G_SPAWN_ERROR_NOMEM, ENOMEM },
  };
  if (error->domain == G_SPAWN_ERROR)
    for (gsize i = 0; i < G_N_ELEMENTS (map); i++)
      if (error->code == (int) map[i].code)
        return g_strerror (map[i].err);
  return error->message;
}
