/* supervisor.h — one child process: spawn, read its stdout (and stderr),
 * watch it exit, stop it with SIGTERM and then SIGKILL.
 *
 * A child's stdout (when piped) is read with plain non-blocking read(2) from
 * a GLib fd source and handed over in chunks of at most MS_CHILD_READ_CHUNK
 * bytes; line splitting is the caller's business, with a bounded splitter
 * (GDataInputStream would buffer a line without bound).  Its stderr, when
 * captured too (MS_CHILD_CAPTURE_OUTPUT), is read the same way.  The exit is watched
 * with g_subprocess_wait_async().  Every descriptor the child gets beyond
 * 0, 1 and 2 is closed by GSubprocess, so nothing of ours leaks into it.
 *
 * Children stay in mswatch's process group: a watcher such as `ssh host …`
 * or a sync program such as mbsync may ask for a password on the terminal,
 * as they could under mswatch 1.2.
 *
 * Ownership: the caller owns an MsChild.  Freeing it never blocks: a child
 * still running is sent SIGTERM, and SIGKILL after MS_CHILD_STOP_GRACE_MS,
 * in the background; ms_child_stopping() counts those, so that a program
 * can wait for them before it exits.  No handler is called after free.
 */
#pragma once

#include <glib.h>

/* Read size for a child's stdout.  1.2 read 4095 bytes at a time; larger
 * reads only help a watcher that floods us, and we drain in a loop anyway. */
#define MS_CHILD_READ_CHUNK 65536

/* How long a child gets between SIGTERM and SIGKILL.  1.2 waited up to 5 s
 * before its first SIGKILL; remote watchers over ssh need about that long to
 * tear down cleanly. */
#define MS_CHILD_STOP_GRACE_MS 5000

typedef enum {
  /* stdin: a pipe, EOF when we close it or die (a watcher's is never
   * written; a resident syncer's carries requests); stdout: piped to us */
  MS_CHILD_PIPE_STDIO = 1 << 0,
  /* stdin: /dev/null; stdout and stderr: piped to us (a hook, whose output
   * is relayed under its name) */
  MS_CHILD_CAPTURE_OUTPUT = 1 << 1,
} MsChildFlags;

typedef struct {
  gboolean signaled; /* killed by a signal, then `signal` is set */
  int code;          /* exit status when !signaled */
  int signal;
} MsChildExit;

typedef struct {
  /* A chunk of stdout; len == 0 means EOF.  Only with MS_CHILD_PIPE_STDIO. */
  void (*output) (gpointer user_data, const char *data, gsize len);
  /* The process has ended and been reaped. */
  void (*exited) (gpointer user_data, const MsChildExit *status);
  /* A chunk of stderr; len == 0 means EOF.  Only with MS_CHILD_CAPTURE_OUTPUT;
   * it must not free the child. */
  void (*error_output) (gpointer user_data, const char *data, gsize len);
} MsChildHandlers;

typedef struct MsChild MsChild;

/* Spawns argv (PATH searched, no shell).  The handlers are called from the
 * main loop; either may free the child. (transfer full) */
MsChild *ms_child_spawn (const char *const *argv, MsChildFlags flags,
                         const MsChildHandlers *handlers, gpointer user_data, GError **error);

gboolean ms_child_running (const MsChild *child);

/* Sends SIGTERM now and SIGKILL after grace_ms if the child is still alive.
 * Handlers keep being called. */
void ms_child_stop (MsChild *child, guint grace_ms);

/* Stops the child (ms_child_stop with MS_CHILD_STOP_GRACE_MS) when it still
 * runs `timeout_ms` from now, calling `expired` (user_data) just before, for
 * its message.  Counted in milliseconds on the monotonic clock, not with
 * g_timeout_add_seconds(), which may fire up to a second early; a delay too
 * long for one timer is covered by re-arming.  sync_timeout, for syncs and
 * hooks alike. */
void ms_child_stop_after (MsChild *child, gint64 timeout_ms, void (*expired) (gpointer user_data));

/* Reads whatever its stdout holds right now, without waiting, and hands it
 * to the output handler in one call; then, if the writer side is closed,
 * calls it once more with len 0.  For a child that has exited: whatever it
 * wrote before it died is not lost.  Returns TRUE if EOF was reached.  A
 * captured stderr is drained first, the same way, through error_output. */
gboolean ms_child_drain_output (MsChild *child);

/* Stops reading its stdout and captured stderr (closing our ends), without
 * stopping the child. */
void ms_child_close_output (MsChild *child);

/* The write end of its stdin pipe, non-blocking, for a caller that speaks a
 * protocol to the child; -1 without MS_CHILD_PIPE_STDIO or once closed.  The
 * descriptor belongs to the child: valid until ms_child_close_input() or
 * ms_child_free(). */
int ms_child_input_fd (MsChild *child);

/* Closes our end of its stdin, so that it reads EOF; it is not stopped. */
void ms_child_close_input (MsChild *child);

void ms_child_free (MsChild *child);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsChild, ms_child_free)

/* Number of freed children not yet reaped. */
guint ms_child_stopping (void);

/* Calls `notify` (once) when ms_child_stopping() drops to zero, or at once
 * from an idle if it already is zero. */
void ms_child_notify_all_stopped (GSourceFunc notify, gpointer user_data);

/* The strerror() text of a spawn failure where there is one (1.2 printed
 * "execvp(prog): No such file or directory"), else the GError's message. */
const char *ms_child_spawn_strerror (const GError *error);

/* " exited", " exited with error N" or " killed (by signal N)", as 1.2
 * words it in "Error: S watcher exited … by T". (transfer full) */
char *ms_child_exit_describe (const MsChildExit *status);
