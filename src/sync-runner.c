/* sync-runner.c — see sync-runner.h.
 *
 * A run ends through finish(), exactly once, always from the main loop:
 * the program's exit, the last answer of the syncer, or an idle (dry runs,
 * a program that could not be executed, a syncer that was not running).
 */
#include "sync-runner.h"

#include <stdio.h>

#include "messages.h"
#include "supervisor.h"
#include "ms-time.h"

struct MsSyncRun {
  const MsConfig *config;
  gint n_mailboxes; /* -1: all */
  GPtrArray *names; /* char* (owned), or NULL: all */
  GHashTable *outcomes; /* name ("" for all) -> MsNameOutcome (owned) */
  gint64 started_mono;
  gint64 started_wall;
  MsSyncDone done;
  gpointer user_data;
  guint idle_source; /* dry runs complete from an idle, like real ones */

  /* The `sync` program. */
  MsChild *child;
  gboolean timed_out;
  char *spawn_error;   /* why it could not be executed, or NULL */

  /* The resident syncer. */
  MsSyncerLink *link;
  guint outstanding;   /* requests not answered yet */
  GHashTable *retry;   /* names answered RETRY (or never answered) */
  gboolean retry_all;  /* the syncer was not running: everything is to be retried */
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

gboolean
ms_sync_result_retries (const MsSyncResult *result, const char *name)
{
  if (!result->failed)
    return FALSE;
  return result->retry == NULL || g_hash_table_contains (result->retry, name);
}

static void
outcome_free (MsNameOutcome *o)
{
  g_free (o->reason);
  g_free (o);
}

/* Records what became of `name` (NULL or "": all mailboxes). */
static void
set_outcome (MsSyncRun *run, const char *name, MsSyncerOutcome outcome, const char *reason)
{
  MsNameOutcome *o = g_new0 (MsNameOutcome, 1);
  o->outcome = outcome;
  o->reason = outcome == MS_SYNCER_OK ? NULL : g_strdup (reason ? reason : "");
  o->when = ms_time_wall_now ();
  g_hash_table_insert (run->outcomes, g_strdup (name ? name : ""), o);
}

/* The same outcome for every name of the batch. */
static void
set_all_outcomes (MsSyncRun *run, MsSyncerOutcome outcome, const char *reason)
{
  if (run->names == NULL) {
    set_outcome (run, "", outcome, reason);
    return;
  }
  for (guint i = 0; i < run->names->len; i++)
    set_outcome (run, g_ptr_array_index (run->names, i), outcome, reason);
}

/* Measured on the monotonic clock, so that a wall-clock step during a sync
 * cannot make it look shorter than sync_timeout or negative. */
static gint64
elapsed_secs (const MsSyncRun *run)
{
  return (ms_time_mono_ms () - run->started_mono) / 1000;
}

/* --- the `sync` program ------------------------------------------------------ */

/* Why a run of the `sync` program failed, for the status report. */
static char *
program_failure (const MsSyncRun *run, const MsChildExit *st)
{
  const char *prog = run->config->sync_argv[0];

  if (run->spawn_error != NULL)
    return g_strdup_printf ("%s could not be executed: %s", prog, run->spawn_error);
  if (run->timed_out)
    return g_strdup_printf ("%s ran longer than sync_timeout (%" G_GINT64_FORMAT "s)", prog,
                            run->config->sync_timeout);
  g_autofree char *how = ms_child_exit_describe (st);
  return g_strdup_printf ("%s%s", prog, how);
}

static void
finish_program (MsSyncRun *run, const MsChildExit *st)
{
  gboolean ok = !st->signaled && st->code == 0;
  g_autofree char *why = ok ? NULL : program_failure (run, st);

  set_all_outcomes (run, ok ? MS_SYNCER_OK : MS_SYNCER_RETRY, why);
  const MsSyncResult result = { !ok, NULL, run->outcomes };

  if (ok)
    ms_msg_sync_completed (elapsed_secs (run), ms_time_wall_now (), run->n_mailboxes);
  else
    ms_msg_sync_errored (run->config->sync_argv[0], st, elapsed_secs (run), ms_time_wall_now (),
                         run->n_mailboxes);
  /* Last: the callback may free the run. */
  run->done (run->user_data, &result);
}

static void
on_exited (gpointer data, const MsChildExit *st)
{
  finish_program (data, st);
}

static gboolean
on_spawn_failed (gpointer data)
{
  MsSyncRun *run = data;
  const MsChildExit st = { .code = 1 };
  run->idle_source = 0;
  finish_program (run, &st);
  return G_SOURCE_REMOVE;
}

static void
on_expired (gpointer data)
{
  MsSyncRun *run = data;
  run->timed_out = TRUE;
  ms_msg_sync_timed_out (run->config->sync_argv[0], run->config->sync_timeout);
}

/* args: the mailbox arguments (ms_sync_args()). */
static void
start_program (MsSyncRun *run, char **args)
{
  static const MsChildHandlers handlers = { NULL, on_exited };
  const MsConfig *config = run->config;
  g_autoptr (GError) error = NULL;

  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  g_strv_builder_addv (b, (const char **) config->sync_argv);
  g_strv_builder_addv (b, (const char **) args);
  g_auto (GStrv) argv = g_strv_builder_end (b);

  run->child = ms_child_spawn ((const char *const *) argv, 0, &handlers, run, &error);
  if (run->child == NULL) {
    /* 1.2's child printed this and exited 1. */
    ms_msg_sync_spawn_failed (argv[0], ms_child_spawn_strerror (error));
    run->spawn_error = g_strdup (ms_child_spawn_strerror (error));
    run->idle_source = g_idle_add (on_spawn_failed, run);
    return;
  }
  if (config->sync_timeout > 0)
    ms_child_stop_after (run->child, config->sync_timeout * 1000, on_expired);
}

/* --- the resident syncer ------------------------------------------------------ */

static void
finish_syncer (MsSyncRun *run)
{
  g_autoptr (GHashTable) retry = g_steal_pointer (&run->retry);
  guint n_retry = g_hash_table_size (retry);
  /* A batch of all mailboxes is one request: its failure covers every name
   * the owner handed over with it. */
  gboolean all = run->retry_all || run->n_mailboxes < 0;
  if (run->retry_all)
    set_all_outcomes (run, MS_SYNCER_RETRY, "the syncer was not running");
  MsSyncResult result = { run->retry_all || n_retry > 0, all ? NULL : retry, run->outcomes };
  gint n_failed = all ? run->n_mailboxes : (gint) n_retry;

  if (result.failed)
    ms_msg_syncer_errored (run->config->syncer_argv[0], n_failed, elapsed_secs (run), ms_time_wall_now (),
                           run->n_mailboxes);
  else
    ms_msg_sync_completed (elapsed_secs (run), ms_time_wall_now (), run->n_mailboxes);
  /* Last: the callback may free the run. */
  run->done (run->user_data, &result);
}

static void
on_answer (gpointer data, const char *name, const MsSyncerAnswer *answer)
{
  MsSyncRun *run = data;

  set_outcome (run, name, answer->outcome, answer->text);
  switch (answer->outcome) {
  case MS_SYNCER_OK:
    break;
  case MS_SYNCER_RETRY:
    /* A failed link has said why already, once for all its requests. */
    if (!answer->link_failed)
      ms_msg_sync_retry (name, answer->text);
    g_hash_table_add (run->retry, g_strdup (name ? name : ""));
    break;
  case MS_SYNCER_FAIL:
    ms_msg_sync_failed (name, answer->text);
    break;
  }
  if (--run->outstanding == 0)
    finish_syncer (run); /* last: it may free the run */
}

static gboolean
on_syncer_down (gpointer data)
{
  MsSyncRun *run = data;
  run->idle_source = 0;
  finish_syncer (run);
  return G_SOURCE_REMOVE;
}

static void
start_requests (MsSyncRun *run, GPtrArray *names)
{
  run->retry = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint n = names ? names->len : 1;

  for (guint i = 0; i < n; i++) {
    const char *name = names ? g_ptr_array_index (names, i) : NULL;
    if (!ms_syncer_link_request (run->link, name, on_answer, run)) {
      /* Not running (dispatch waits for it, so this is a race at most):
       * nothing was sent; retry everything. */
      ms_syncer_link_forget (run->link, run);
      run->retry_all = TRUE;
      run->idle_source = g_idle_add (on_syncer_down, run);
      return;
    }
    run->outstanding++;
  }
  if (n == 0)
    run->idle_source = g_idle_add (on_syncer_down, run);
}

/* --- both ------------------------------------------------------------------------ */

static gboolean
on_dry_done (gpointer data)
{
  MsSyncRun *run = data;

  set_all_outcomes (run, MS_SYNCER_OK, NULL);
  const MsSyncResult result = { FALSE, NULL, run->outcomes };
  run->idle_source = 0;
  ms_msg_sync_completed (elapsed_secs (run), ms_time_wall_now (), run->n_mailboxes);
  run->done (run->user_data, &result);
  return G_SOURCE_REMOVE;
}

MsSyncRun *
ms_sync_run_start (const MsConfig *config, gboolean dry, MsSyncerLink *link, GPtrArray *names,
                   MsSyncDone done, gpointer user_data)
{
  MsSyncRun *run = g_new0 (MsSyncRun, 1);

  run->config = config;
  run->n_mailboxes = names ? (gint) names->len : -1;
  run->outcomes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) outcome_free);
  if (names != NULL) {
    run->names = g_ptr_array_new_full (names->len, g_free);
    for (guint i = 0; i < names->len; i++)
      g_ptr_array_add (run->names, g_strdup (g_ptr_array_index (names, i)));
  }
  run->started_mono = ms_time_mono_ms ();
  run->started_wall = ms_time_wall_now ();
  run->done = done;
  run->user_data = user_data;

  g_auto (GStrv) args = link == NULL && config->sync_argv != NULL ? ms_sync_args (config, names) : NULL;

  ms_msg_sync_started (run->started_wall, run->n_mailboxes);
  if (args != NULL)
    ms_msg_argv ((const char *const *) config->sync_argv, (const char *const *) args);
  fflush (stdout);

  if (dry) {
    run->idle_source = g_idle_add (on_dry_done, run);
  } else if (link != NULL) {
    run->link = link;
    start_requests (run, names);
  } else {
    start_program (run, args);
  }
  return run;
}

void
ms_sync_run_free (MsSyncRun *run)
{
  if (run == NULL)
    return;
  g_clear_handle_id (&run->idle_source, g_source_remove);
  g_clear_pointer (&run->child, ms_child_free);
  if (run->link != NULL)
    ms_syncer_link_forget (run->link, run);
  g_clear_pointer (&run->retry, g_hash_table_unref);
  g_clear_pointer (&run->outcomes, g_hash_table_unref);
  g_clear_pointer (&run->names, g_ptr_array_unref);
  g_free (run->spawn_error);
  g_free (run);
}

gint64
ms_sync_run_started (const MsSyncRun *run)
{
  return run->started_mono;
}

GPtrArray *
ms_sync_run_names (const MsSyncRun *run)
{
  return run->names;
}

GHashTable *
ms_sync_run_outcomes (const MsSyncRun *run)
{
  return run->outcomes;
}
