/* main.c — mswatch: options, config file, signals, and the main loop.
 *
 * Everything that decides lives in dispatch.c; this file only wires the
 * process up: it reads ~/.mswatchrc (or -c FILE) and prints the parser's
 * diagnostics in mswatch 1.2's words, turns SIGUSR1 into the pending report
 * and SIGINT/SIGTERM/SIGHUP into an orderly exit (status 0) that stops the
 * watchers, a running sync and a resident syncer — 1.2 left the sync
 * running.  It also serves the status socket (status-socket.h), and turns
 * suspends, the network coming back (wake-monitor.h) and SIGUSR2 into
 * wake-ups.  `mswatch --status` is the status socket's client
 * (status-client.h) and runs no loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "dispatch.h"
#include "hook.h"
#include "messages.h"
#include "ms-fd.h"
#include "status-client.h"
#include "status-socket.h"
#include "supervisor.h"
#include "wake-monitor.h"

typedef struct {
  GMainLoop *loop;
  MsDispatch *dispatch;
  MsStatusServer *status;
  MsWakeMonitor *wake;
  int exit_status;
  gboolean exiting;
} App;

/* Reads the config file into memory, refusing files over the parser's cap.
 * Errors carry 1.2's message. */
static char *
read_config (const char *path, gsize *len, GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e),
                 "Unable to open configuration file \"%s\": %s", path, g_strerror (e));
    return NULL;
  }
  g_autoptr (GByteArray) buf = g_byte_array_new ();
  char chunk[8192];
  for (;;) {
    ssize_t n = read (fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno;
      close (fd);
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e),
                   "Unable to load configuration file \"%s\": %s", path, g_strerror (e));
      return NULL;
    }
    if (n == 0)
      break;
    if (buf->len + (gsize) n > MS_CONFIG_MAX_BYTES) {
      close (fd);
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                   "Unable to load configuration file \"%s\": larger than %d bytes", path,
                   MS_CONFIG_MAX_BYTES);
      return NULL;
    }
    g_byte_array_append (buf, (const guint8 *) chunk, (guint) n);
  }
  close (fd);
  *len = buf->len;
  g_byte_array_append (buf, (const guint8 *) "", 1);
  return (char *) g_byte_array_free (g_steal_pointer (&buf), FALSE);
}

static MsConfig *
load_config (const char *path)
{
  g_autoptr (GError) error = NULL;
  gsize len = 0;
  g_autofree char *text = read_config (path, &len, &error);
  MsConfigDiag diag;

  if (text == NULL) {
    fprintf (stderr, "%s\n", error->message);
    return NULL;
  }
  ms_config_diag_init (&diag);
  MsConfig *config = ms_config_parse (path, text, len, &diag);
  for (guint i = 0; diag.warnings && i < diag.warnings->len; i++)
    fprintf (stderr, "%s\n", (const char *) g_ptr_array_index (diag.warnings, i));
  if (config == NULL) {
    fprintf (stderr, "%s\n", diag.error);
    if (diag.echo != NULL) {
      fflush (stderr);
      printf ("%s\n", diag.echo);
      fflush (stdout);
    }
    if (diag.location != NULL)
      fprintf (stderr, "%s\n", diag.location);
  } else if (config->syncer_argv != NULL && config->mailbox_prefix != NULL) {
    /* A syncer reads its own configuration (mbsync channels): it gets the
     * names bare, so a prefix meant for a `sync` program must not creep in. */
    ms_msg_syncer_prefix_ignored (path);
  }
  ms_config_diag_clear (&diag);
  return config;
}

static gboolean
on_all_stopped (gpointer data)
{
  App *app = data;
  g_main_loop_quit (app->loop);
  return G_SOURCE_REMOVE;
}

/* Stops everything and leaves the loop once every child is reaped; the
 * supervisor's SIGKILL after its grace period bounds the wait. */
static void
shut_down (App *app, int status)
{
  if (app->exiting)
    return;
  app->exiting = TRUE;
  app->exit_status = status;
  g_clear_pointer (&app->status, ms_status_server_free);
  g_clear_pointer (&app->wake, ms_wake_monitor_free);
  g_clear_pointer (&app->dispatch, ms_dispatch_free);
  ms_child_notify_all_stopped (on_all_stopped, app);
}

static gboolean
on_quit_signal (gpointer data)
{
  shut_down (data, 0);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_usr1 (gpointer data)
{
  App *app = data;
  if (app->dispatch != NULL) {
    g_autofree char *report = ms_dispatch_pending_report (app->dispatch);
    fputs (report, stdout);
    fflush (stdout);
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_usr2 (gpointer data)
{
  App *app = data;
  if (app->dispatch != NULL)
    ms_dispatch_wake (app->dispatch, MS_WAKE_SIGNAL, 0);
  return G_SOURCE_CONTINUE;
}

static void
on_wake (gpointer data, MsWakeReason reason, gint64 slept_ms)
{
  App *app = data;
  if (app->dispatch != NULL)
    ms_dispatch_wake (app->dispatch, reason, slept_ms);
}

static char *
on_status_request (gpointer data, gboolean json)
{
  App *app = data;
  if (app->dispatch == NULL)
    return g_strdup ("ERROR mswatch is shutting down\n");
  return ms_dispatch_status_report (app->dispatch, json);
}

/* Serves `mswatch --status`; without the socket mswatch still runs. */
static void
start_status_server (App *app, const char *config_path)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = ms_status_socket_path (config_path, TRUE, &error);

  if (path != NULL)
    app->status = ms_status_server_new (path, on_status_request, app, &error);
  if (app->status == NULL)
    ms_msg_status_unavailable (error->message);
}

static void
on_fatal (gpointer data, int status)
{
  shut_down (data, status);
}

static gboolean
signal_ignored (int sig)
{
  struct sigaction sa;
  return sigaction (sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
}

int
main (int argc, char **argv)
{
  /* Started with a standard descriptor closed (from cron, `2>&-`), a pipe
   * or socket of ours would land there and get our messages. */
  ms_fd_fill_std (TRUE);
  g_autofree char *config_path = NULL;
  gboolean dry = FALSE, quiet = FALSE, version = FALSE, status = FALSE, json = FALSE;
  gint hook_warn_after_s = 0;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
      "Read an alternate config file (default: ~/.mswatchrc)", "FILE" },
    { "dry", 'd', 0, G_OPTION_ARG_NONE, &dry, "Only watch, do not sync, mailstores", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Do not print success status messages", NULL },
    { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Display version", NULL },
    { "status", 0, 0, G_OPTION_ARG_NONE, &status,
      "Print the status of the mswatch running this config file, and exit", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "With --status: print it as JSON", NULL },
    { "hook-warn-after", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &hook_warn_after_s,
      "Test knob: report an on_synced hook still running after S seconds", "S" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx =
    g_option_context_new ("- watch mailstores for changes and initiate mailbox syncs");
  g_autoptr (GError) error = NULL;

  setvbuf (stdout, NULL, _IOLBF, 0);
  signal (SIGPIPE, SIG_IGN);

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    fprintf (stderr, "mswatch: %s\nUse -h or --help for help.\n", error->message);
    return 1;
  }
  if (version) {
    /* 1.2 printed its version and exited 1; scripts may rely on either. */
    printf ("mswatch %s\n", MS_VERSION);
    return 1;
  }
  if (argc > 1) {
    fprintf (stderr, "Unknown arguments starting with \"%s\"\n", argv[1]);
    return 1;
  }
  if (json && !status) {
    fprintf (stderr, "mswatch: --json goes with --status\nUse -h or --help for help.\n");
    return 1;
  }
  if (config_path == NULL)
    config_path = g_build_filename (g_get_home_dir (), ".mswatchrc", NULL);
  if (status)
    return ms_status_client_run (config_path, json);

  g_autoptr (MsConfig) config = load_config (config_path);
  if (config == NULL)
    return 1;

  ms_messages_set_quiet (quiet);
  if (hook_warn_after_s > 0)
    ms_hook_set_warn_after ((guint) hook_warn_after_s);
  App app = { .loop = g_main_loop_new (NULL, FALSE) };

  /* A SIGINT ignored by our parent (a background job) stays ignored, as in 1.2. */
  if (!signal_ignored (SIGINT))
    g_unix_signal_add (SIGINT, on_quit_signal, &app);
  g_unix_signal_add (SIGTERM, on_quit_signal, &app);
  g_unix_signal_add (SIGHUP, on_quit_signal, &app);
  g_unix_signal_add (SIGUSR1, on_usr1, &app);
  g_unix_signal_add (SIGUSR2, on_usr2, &app);

  app.dispatch = ms_dispatch_new (config, dry, on_fatal, &app);
  start_status_server (&app, config_path);
  app.wake = ms_wake_monitor_new (on_wake, &app);
  ms_dispatch_start (app.dispatch);
  g_main_loop_run (app.loop);

  g_clear_pointer (&app.status, ms_status_server_free);
  g_clear_pointer (&app.wake, ms_wake_monitor_free);
  g_clear_pointer (&app.dispatch, ms_dispatch_free);
  g_main_loop_unref (app.loop);
  return app.exit_status;
}
