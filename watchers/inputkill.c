/* inputkill.c — run a program until our stdin is closed.
 *
 * The remote half of `watch ssh host inputkill watch_maildirs`: when the ssh
 * connection goes away, sshd closes the session's stdin, and we stop the
 * program, which would otherwise watch a Maildir for nobody until the next
 * reboot.  The program itself gets no stdin at all (fd 0 closed, as in 1.2,
 * not /dev/null) and keeps our stdout; we give our stdout up, so that the
 * channel's output end belongs to the program alone and closes when it exits.
 *
 * States of the parent:
 *   RUNNING   reading and discarding stdin.  The program exiting first ends
 *             us with its status (1 if a signal killed it).
 *   STOPPING  stdin reached EOF (or we got SIGTERM, SIGINT or SIGHUP): the
 *             program was sent SIGTERM; after the grace period it is sent
 *             SIGKILL, and after a short reap deadline we exit whatever
 *             happened.  We exit 0 as soon as it is gone.  1.2 sent SIGTERM
 *             and exited at once, so a program ignoring SIGTERM survived it.
 *
 * Everything waits in one GLib main loop with deadlines; nothing blocks.
 *
 * The program is started with a plain fork and execvp, not GSubprocess:
 * GLib's spawn functions always give a child some fd 0 (/dev/null at
 * least), and 1.2's contract is that there is none.  The fork happens
 * before GLib starts its worker thread (the first child watch or signal
 * source does that), so the child runs in a single-threaded copy and may
 * use stdio to report an exec failure.  SIGTERM, SIGINT and SIGHUP are
 * blocked across the fork and unblocked only once their GLib sources exist,
 * so a signal arriving in between is delivered late rather than killing us
 * and orphaning the program.  One our parent set to be ignored (nohup)
 * stays ignored.  Before the loop starts we wait, on a close-on-exec pipe,
 * for the child to exec or to report why it could not, so that an early EOF
 * cannot kill the child before it has said so.
 *
 * File descriptors: the parent execs nothing, and every descriptor it opens
 * itself (the exec report pipe, a temporary /dev/null) is close-on-exec;
 * GLib's own are too.  The program inherits exactly what we inherited,
 * minus fd 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Seconds between SIGTERM and SIGKILL.  Long enough for a watcher to finish
 * writing a line and exit cleanly; short enough that a dropped ssh session
 * does not leave a program behind for long.  It matches the coordinator's
 * own grace period for its children.  --grace changes it (tests shorten it). */
#define INPUTKILL_GRACE_S 5

/* Upper bound for --grace.  A longer grace would keep a dead session's
 * program around for hours, which is never what anyone wants; the bound also
 * keeps the millisecond arithmetic far from overflow. */
#define INPUTKILL_GRACE_MAX_S 3600

/* After SIGKILL, how long we wait for the kernel to let us reap the program.
 * SIGKILL cannot be caught, so this only matters for a process stuck in an
 * uninterruptible sleep (a hung network file system); we would rather exit
 * and leave it to init than hang the ssh session with it. */
#define INPUTKILL_REAP_MS 1000

/* Read size for stdin.  What arrives is thrown away, so the size only sets
 * how many reads a chatty peer costs us. */
#define INPUTKILL_READ_CHUNK 4096

typedef struct {
  GMainLoop *loop;
  GPid child;
  gboolean child_gone;
  gboolean stopping;
  guint grace_ms;
  guint stdin_watch;
  guint timer;
  int exit_status;
} Inputkill;

/* Opens /dev/null on any of fds 0, 1 and 2 that is closed, so that no
 * descriptor we or GLib open later lands there and is taken for stdio (and,
 * for fd 0, so that a closed stdin reads as EOF, which is what it means). */
static gboolean
sanitise_stdio (void)
{
  for (int fd = 0; fd <= 2; fd++) {
    if (fcntl (fd, F_GETFD) != -1 || errno != EBADF)
      continue;
    int nul = open ("/dev/null", O_RDWR);
    if (nul < 0)
      return FALSE;
    if (nul != fd) {
      /* A lower fd was closed too and took it; the loop fills that in order,
       * so this cannot happen, but do not leak it if it does. */
      close (nul);
      return FALSE;
    }
  }
  return TRUE;
}

/* Sends sig to the program.  A program already reaped by GLib, whose exit
 * callback has not run yet, is not an error: that callback is on its way. */
static gboolean
signal_child (Inputkill *ik, int sig)
{
  if (ik->child_gone)
    return TRUE;
  if (kill (ik->child, sig) == 0 || errno == ESRCH)
    return TRUE;
  int e = errno;
  fprintf (stderr, "inputkill: Unable to kill %d (%s)\n", (int) ik->child, g_strerror (e));
  return FALSE;
}

static void
finish (Inputkill *ik, int status)
{
  ik->exit_status = status;
  g_main_loop_quit (ik->loop);
}

static gboolean
on_reap_deadline (gpointer data)
{
  Inputkill *ik = data;
  ik->timer = 0;
  fprintf (stderr, "inputkill: process %d did not exit after SIGKILL; leaving it\n",
           (int) ik->child);
  finish (ik, 0);
  return G_SOURCE_REMOVE;
}

static gboolean
on_grace_over (gpointer data)
{
  Inputkill *ik = data;
  ik->timer = 0;
  if (!signal_child (ik, SIGKILL)) {
    finish (ik, 1);
    return G_SOURCE_REMOVE;
  }
  ik->timer = g_timeout_add (INPUTKILL_REAP_MS, on_reap_deadline, ik);
  return G_SOURCE_REMOVE;
}

/* Enters STOPPING: SIGTERM now, SIGKILL after the grace period. */
static void
stop_child (Inputkill *ik)
{
  if (ik->stopping)
    return;
  ik->stopping = TRUE;
  g_clear_handle_id (&ik->stdin_watch, g_source_remove);
  if (!signal_child (ik, SIGTERM)) {
    finish (ik, 1);
    return;
  }
  ik->timer = g_timeout_add (ik->grace_ms, on_grace_over, ik);
}

static gboolean
on_stdin (int fd, GIOCondition cond, gpointer data)
{
  Inputkill *ik = data;
  char buf[INPUTKILL_READ_CHUNK];
  ssize_t n = read (fd, buf, sizeof buf);

  if (n > 0 || (n < 0 && (errno == EINTR || errno == EAGAIN)))
    return G_SOURCE_CONTINUE;
  /* EOF, or an error that means no more input will ever come: either way
   * the peer is gone. */
  ik->stdin_watch = 0;
  stop_child (ik);
  return G_SOURCE_REMOVE;
}

static void
on_child_exit (GPid pid, int wait_status, gpointer data)
{
  Inputkill *ik = data;
  ik->child_gone = TRUE;
  g_spawn_close_pid (pid);
  g_clear_handle_id (&ik->timer, g_source_remove);
  if (ik->stopping)
    finish (ik, 0);
  else if (WIFEXITED (wait_status))
    finish (ik, WEXITSTATUS (wait_status));
  else
    finish (ik, 1);
}

static gboolean
on_quit_signal (gpointer data)
{
  stop_child (data);
  return G_SOURCE_CONTINUE;
}

static gboolean
signal_ignored (int sig)
{
  struct sigaction sa;
  return sigaction (sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
}

/* In the forked child: no stdin, the signal state we were started with, and
 * the program.  An exec failure is reported on stderr, as in 1.2, and its
 * errno on report_fd, which exec closes on success. */
static G_GNUC_NORETURN void
exec_child (char **argv, const sigset_t *old_mask, const struct sigaction *old_pipe,
            int report_fd)
{
  close (0);
  sigaction (SIGPIPE, old_pipe, NULL);
  sigprocmask (SIG_SETMASK, old_mask, NULL);
  execvp (argv[0], argv);
  int e = errno;
  fprintf (stderr, "inputkill: Unable to execute \"%s\": %s\n", argv[0], g_strerror (e));
  while (write (report_fd, &e, sizeof e) < 0 && errno == EINTR)
    ;
  _exit (1);
}

/* Waits until the child has either exec'd (the report pipe closes empty) or
 * failed to (its errno arrives).  Both happen right away, so this short
 * blocking read is safe; it keeps us from sending SIGTERM to a child that
 * has not yet reported why its exec failed. */
static gboolean
exec_succeeded (int report_fd)
{
  int e;
  ssize_t n;
  do
    n = read (report_fd, &e, sizeof e);
  while (n < 0 && errno == EINTR);
  return n == 0;
}

int
main (int argc, char **argv)
{
  gboolean version = FALSE;
  int grace_s = INPUTKILL_GRACE_S;
  GOptionEntry entries[] = {
    { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Display version", NULL },
    { "grace", 0, 0, G_OPTION_ARG_INT, &grace_s,
      "Seconds between SIGTERM and SIGKILL when stopping PROGRAM (default: 5)", "SECONDS" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx =
    g_option_context_new ("<PROGRAM> [ARGUMENT...] - run PROGRAM until stdin is closed");
  g_autoptr (GError) error = NULL;

  /* Only the first word that is not an option ends our options, so that
   * `inputkill watch_maildirs -m DIR` passes -m on (1.2 needed `--`). */
  g_option_context_set_strict_posix (ctx, TRUE);
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    fprintf (stderr, "inputkill: %s\nUse -? or --help for help.\n", error->message);
    return 1;
  }
  if (version) {
    /* 1.2 printed its version and exited 1; kept for scripts that rely on it. */
    printf ("inputkill\nmswatch-ng %s\n", MS_VERSION);
    return 1;
  }
  if (grace_s < 0 || grace_s > INPUTKILL_GRACE_MAX_S) {
    fprintf (stderr, "inputkill: --grace must be between 0 and %d seconds\n",
             INPUTKILL_GRACE_MAX_S);
    return 1;
  }
  /* GOption leaves a "--" that ended the options in argv; it is ours. */
  char **child_argv = argv + 1;
  if (argc > 1 && strcmp (argv[1], "--") == 0)
    child_argv++;
  if (*child_argv == NULL) {
    fprintf (stderr, "No child command arguments. Use -? or --help for help.\n");
    return 1;
  }

  if (!sanitise_stdio ()) {
    fprintf (stderr, "inputkill: Unable to open /dev/null: %s\n", g_strerror (errno));
    return 1;
  }

  /* A program that writes to a closed channel should die of SIGPIPE as it
   * would have without us, so the child gets back the disposition we had. */
  struct sigaction ignore = { .sa_handler = SIG_IGN }, old_pipe;
  sigemptyset (&ignore.sa_mask);
  sigaction (SIGPIPE, &ignore, &old_pipe);

  /* A signal our parent set to be ignored stays ignored (nohup, a
   * background job), for us and for the program. */
  static const int quit_signals_list[] = { SIGTERM, SIGINT, SIGHUP };
  gboolean quit_ignored[G_N_ELEMENTS (quit_signals_list)];
  sigset_t quit_signals, old_mask;
  sigemptyset (&quit_signals);
  for (guint i = 0; i < G_N_ELEMENTS (quit_signals_list); i++) {
    quit_ignored[i] = signal_ignored (quit_signals_list[i]);
    if (!quit_ignored[i])
      sigaddset (&quit_signals, quit_signals_list[i]);
  }
  sigprocmask (SIG_BLOCK, &quit_signals, &old_mask);

  int report[2];
  if (pipe2 (report, O_CLOEXEC) < 0) {
    fprintf (stderr, "inputkill: Unable to create a pipe: %s\n", g_strerror (errno));
    return 1;
  }
  fflush (NULL);
  pid_t pid = fork ();
  if (pid < 0) {
    fprintf (stderr, "inputkill: Unable to fork: %s\n", g_strerror (errno));
    return 1;
  }
  if (pid == 0) {
    close (report[0]);
    exec_child (child_argv, &old_mask, &old_pipe, report[1]);
  }
  close (report[1]);
  gboolean exec_ok = exec_succeeded (report[0]);
  close (report[0]);
  if (!exec_ok) {
    /* The child has printed the reason and exits 1 right after. */
    int wait_status;
    while (waitpid (pid, &wait_status, 0) < 0 && errno == EINTR)
      ;
    return 1;
  }

  /* Give up our stdout: the program holds the channel alone, and its
   * reader sees EOF when the program ends.  /dev/null rather than a plain
   * close keeps fd 1 from being reused by a descriptor of ours. */
  int nul = open ("/dev/null", O_WRONLY | O_CLOEXEC);
  if (nul >= 0) {
    dup2 (nul, STDOUT_FILENO);
    close (nul);
  } else {
    close (STDOUT_FILENO);
  }

  Inputkill ik = {
    .loop = g_main_loop_new (NULL, FALSE),
    .child = pid,
    .grace_ms = (guint) grace_s * 1000,
  };
  g_child_watch_add (pid, on_child_exit, &ik);
  for (guint i = 0; i < G_N_ELEMENTS (quit_signals_list); i++)
    if (!quit_ignored[i])
      g_unix_signal_add (quit_signals_list[i], on_quit_signal, &ik);
  ik.stdin_watch = g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR | G_IO_NVAL,
                                  on_stdin, &ik);
  pthread_sigmask (SIG_SETMASK, &old_mask, NULL);

  g_main_loop_run (ik.loop);
  g_main_loop_unref (ik.loop);
  return ik.exit_status;
}
