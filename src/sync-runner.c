/* sync-runner.c — see sync-runner.h. */
#include "sync-runner.h"

#include <stdio.h>

#include "messages.h"
#include "supervisor.h"

struct MsSyncRun {
  const MsConfig *config;
  MsChild *child;
  gint n_mailboxes; /* -1: all */
  gint64 started_mono;
  gint64 started_wall;
  guint timeout_source;
  guint idle_source; /* dry runs complete from an idle, like real ones */
  MsSyncDone done;
  gpointer user_data;
};

char **
ms_sync_args (const MsConfig *config, GPtrArray *names)
{
  GPtrArray *args = g_ptr_array_new ();
  const char *prefix = config->mailbox_prefix;

  if (names == NULL) {
    g_ptr_array_add (args, g_strdup (prefix ? prefix : ""));
  } else {
    for (guint i = 0; i < names->len; i++) {
      const char *name = g_ptr_array_index (names, i);
      g_ptr_array_add (args, prefix ? g_strconcat (prefix, config->mailbox_separator, name, NULL)
                                    : g_strdup (name));
    }
  }
  g_ptr_array_add (args, NULL);
  return (char **) g_ptr_array_free (args, FALSE);
}

static gint64
elapsed_secs (const MsSyncRun *run)
{
  return g_get_real_time () / G_USEC_PER_SEC - run->started_wall;
}

static void
finish (MsSyncRun *run, const MsChildExit *st)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gboolean ok = !st->signaled && st->code == 0;

  g_clear_handle_id (&run->timeout_source, g_source_remove);
  if (ok)
    ms_msg_sync_completed (elapsed_secs (run), now, run->n_mailboxes);
  else
    ms_msg_sync_errored (run->config->sync_argv[0], st, elapsed_secs (run), now, run->n_mailboxes);
  /* Last: the callback may free the run. */
  run->done (run->user_data, ok);
}

static void
on_exited (gpointer data, const MsChildExit *st)
{
  finish (data, st);
}

static gboolean
on_dry_done (gpointer data)
{
  MsSyncRun *run = data;
  const MsChildExit st = { 0 };
  run->idle_source = 0;
  finish (run, &st);
  return G_SOURCE_REMOVE;
}

static gboolean
on_spawn_failed (gpointer data)
{
  MsSyncRun *run = data;
  const MsChildExit st = { .code = 1 };
  run->idle_source = 0;
  finish (run, &st);
  return G_SOURCE_REMOVE;
}

static gboolean
on_timeout (gpointer data)
{
  MsSyncRun *run = data;
  run->timeout_source = 0;
  ms_msg_sync_timed_out (run->config->sync_argv[0], run->config->sync_timeout);
  ms_child_stop (run->child, MS_CHILD_STOP_GRACE_MS);
  return G_SOURCE_REMOVE;
}

MsSyncRun *
ms_sync_run_start (const MsConfig *config, gboolean dry, GPtrArray *names, MsSyncDone done,
                   gpointer user_data)
{
  static const MsChildHandlers handlers = { NULL, on_exited };
  g_auto (GStrv) args = ms_sync_args (config, names);
  g_autoptr (GError) error = NULL;
  MsSyncRun *run = g_new0 (MsSyncRun, 1);

  run->config = config;
  run->n_mailboxes = names ? (gint) names->len : -1;
  run->started_mono = g_get_monotonic_time () / 1000;
  run->started_wall = g_get_real_time () / G_USEC_PER_SEC;
  run->done = done;
  run->user_data = user_data;

  ms_msg_sync_started (run->started_wall, run->n_mailboxes);
  ms_msg_argv ((const char *const *) config->sync_argv, (const char *const *) args);
  fflush (stdout);

  if (dry) {
    run->idle_source = g_idle_add (on_dry_done, run);
    return run;
  }

  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  g_strv_builder_addv (b, (const char **) config->sync_argv);
  g_strv_builder_addv (b, (const char **) args);
  g_auto (GStrv) argv = g_strv_builder_end (b);

  run->child = ms_child_spawn ((const char *const *) argv, 0, &handlers, run, &error);
  if (run->child == NULL) {
    /* 1.2's child printed this and exited 1. */
    ms_msg_sync_spawn_failed (argv[0], ms_child_spawn_strerror (error));
    run->idle_source = g_idle_add (on_spawn_failed, run);
    return run;
  }
  if (config->sync_timeout > 0)
    run->timeout_source = g_timeout_add_seconds ((guint) MIN (config->sync_timeout, G_MAXUINT / 2),
                                                 on_timeout, run);
  return run;
}

void
ms_sync_run_free (MsSyncRun *run)
{
  if (run == NULL)
    return;
  g_clear_handle_id (&run->timeout_source, g_source_remove);
  g_clear_handle_id (&run->idle_source, g_source_remove);
  g_clear_pointer (&run->child, ms_child_free);
  g_free (run);
}

gint64
ms_sync_run_started (const MsSyncRun *run)
{
  return run->started_mono;
}
