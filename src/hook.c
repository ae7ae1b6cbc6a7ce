/* hook.c — see hook.h.
 *
 * One run at a time: `child` is set from the spawn until the exit has been
 * seen and the last of its output relayed.  The queue is a sorted name set
 * plus an "all mailboxes" flag; a run takes the whole queue.  A run that
 * could not be spawned ends from an idle, like one that exited with status
 * 1, so that its end is always reported from the main loop.  A spawned
 * run arms `warn_source`, which reports a run still going after
 * ms_hook_warn_after() seconds; the end of the run disarms it.
 */
#include "hook.h"

#include <string.h>

#include "line-splitter.h"
#include "messages.h"
#include "supervisor.h"
#include "ms-time.h"

static guint warn_after_s = MS_HOOK_WARN_AFTER_S;

void
ms_hook_set_warn_after (guint seconds)
{
  g_return_if_fail (seconds > 0);
  warn_after_s = seconds;
}

guint
ms_hook_warn_after (void)
{
  return warn_after_s;
}

struct MsHook {
  const MsConfig *config;

  /* The run. */
  gboolean running;
  MsChild *child;           /* NULL when the spawn failed */
  gint64 started;           /* monotonic ms */
  gboolean run_all;
  GPtrArray *run_names;     /* char* (owned), sorted; NULL for all */
  MsLineSplitter *lines[2]; /* its stdout, its stderr */
  guint failed_source;      /* a spawn failure ends the run from an idle */
  gboolean timed_out;
  guint warn_source;        /* reports a run going on too long; 0 once fired */
  guint running_long;       /* it fired: after this many seconds */

  /* The queued run. */
  gboolean queued;
  gboolean queued_all;
  GTree *queued_names;      /* char* (owned) -> NULL */
  gsize queued_bytes;       /* their lengths plus one each */

  gint64 last_ended;
  char *last_failure;
};

static gint
compare_names (gconstpointer a, gconstpointer b, gpointer unused)
{
  return strcmp (a, b);
}

MsHook *
ms_hook_new (const MsConfig *config)
{
  g_return_val_if_fail (config->on_synced_argv != NULL && config->on_synced_argv[0] != NULL, NULL);

  MsHook *h = g_new0 (MsHook, 1);
  h->config = config;
  h->queued_names = g_tree_new_full (compare_names, NULL, g_free, NULL);
  return h;
}

static void
clear_run (MsHook *h)
{
  g_clear_handle_id (&h->failed_source, g_source_remove);
  g_clear_handle_id (&h->warn_source, g_source_remove);
  h->running_long = 0;
  g_clear_pointer (&h->child, ms_child_free);
  g_clear_pointer (&h->run_names, g_ptr_array_unref);
  g_clear_pointer (&h->lines[0], ms_line_splitter_free);
  g_clear_pointer (&h->lines[1], ms_line_splitter_free);
  h->running = FALSE;
  h->timed_out = FALSE;
}

void
ms_hook_free (MsHook *h)
{
  if (h == NULL)
    return;
  clear_run (h);
  g_tree_unref (h->queued_names);
  g_free (h->last_failure);
  g_free (h);
}

/* --- output ------------------------------------------------------------------ */

static void
relay (MsHook *h, guint stream)
{
  const char *line;
  gsize n;
  MsLineStatus st;

  while ((st = ms_line_splitter_next (h->lines[stream], &line, &n)) != MS_LINE_NEED_MORE) {
    if (st == MS_LINE_TOO_LONG)
      ms_msg_hook_line_too_long (stream == 1, MS_HOOK_LINE_MAX);
    else
      ms_msg_hook_output (stream == 1, line, n);
  }
}

static void
take_output (MsHook *h, guint stream, const char *buf, gsize len)
{
  if (len == 0 || h->lines[stream] == NULL)
    return; /* EOF: the exit ends the run */
  ms_line_splitter_feed (h->lines[stream], buf, len);
  relay (h, stream);
}

static void
on_output (gpointer data, const char *buf, gsize len)
{
  take_output (data, 0, buf, len);
}

static void
on_error_output (gpointer data, const char *buf, gsize len)
{
  take_output (data, 1, buf, len);
}

/* A last line without its newline is still a line. */
static void
flush_partial (MsHook *h, guint stream)
{
  if (h->lines[stream] != NULL && ms_line_splitter_pending (h->lines[stream]) > 0) {
    ms_line_splitter_feed (h->lines[stream], "\n", 1);
    relay (h, stream);
  }
}

/* --- runs ---------------------------------------------------------------------- */

static void start_run (MsHook *h);

static void
finish_run (MsHook *h, const MsChildExit *st)
{
  const char *prog = h->config->on_synced_argv[0];
  gboolean ok = !st->signaled && st->code == 0;
  gint64 secs = (ms_time_mono_ms () - h->started) / 1000;
  gint n = h->run_all ? -1 : (gint) h->run_names->len;

  if (h->child != NULL)
    ms_child_drain_output (h->child);
  flush_partial (h, 0);
  flush_partial (h, 1);

  g_clear_pointer (&h->last_failure, g_free);
  if (!ok) {
    ms_msg_hook_errored (prog, st, secs, ms_time_wall_now (), n);
    if (h->timed_out) {
      h->last_failure = g_strdup_printf ("ran longer than sync_timeout (%" G_GINT64_FORMAT "s)",
                                         h->config->sync_timeout);
    } else {
      g_autofree char *how = ms_child_exit_describe (st);
      h->last_failure = g_strdup (how + 1); /* without its leading space */
    }
  }
  h->last_ended = ms_time_wall_now ();
  clear_run (h);
  if (h->queued)
    start_run (h);
}

static void
on_exited (gpointer data, const MsChildExit *st)
{
  finish_run (data, st);
}

static gboolean
on_spawn_failed (gpointer data)
{
  MsHook *h = data;
  const MsChildExit st = { .code = 1 };

  h->failed_source = 0;
  finish_run (h, &st);
  return G_SOURCE_REMOVE;
}

static void
on_expired (gpointer data)
{
  MsHook *h = data;
  h->timed_out = TRUE;
  ms_msg_hook_timed_out (h->config->on_synced_argv[0], h->config->sync_timeout);
}

/* The run goes on: later runs are held back, silently unless told. */
static gboolean
on_running_long (gpointer data)
{
  MsHook *h = data;

  h->warn_source = 0;
  h->running_long = warn_after_s;
  ms_msg_hook_running_long (h->config->on_synced_argv[0], (ms_time_mono_ms () - h->started) / 1000);
  return G_SOURCE_REMOVE;
}

static gboolean
append_name (gpointer key, gpointer value, gpointer data)
{
  g_ptr_array_add (data, g_strdup (key));
  return FALSE;
}

/* Takes the queue and starts it. */
static void
start_run (MsHook *h)
{
  static const MsChildHandlers handlers = { on_output, on_exited, on_error_output };
  g_autoptr (GError) error = NULL;

  h->running = TRUE;
  h->started = ms_time_mono_ms ();
  h->run_all = h->queued_all;
  if (!h->run_all) {
    h->run_names = g_ptr_array_new_full (g_tree_nnodes (h->queued_names), g_free);
    g_tree_foreach (h->queued_names, append_name, h->run_names);
  }
  h->queued = FALSE;
  h->queued_all = FALSE;
  h->queued_bytes = 0;
  g_clear_pointer (&h->queued_names, g_tree_unref);
  h->queued_names = g_tree_new_full (compare_names, NULL, g_free, NULL);

  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  g_strv_builder_addv (b, (const char **) h->config->on_synced_argv);
  for (guint i = 0; h->run_names != NULL && i < h->run_names->len; i++)
    g_strv_builder_add (b, g_ptr_array_index (h->run_names, i));
  g_auto (GStrv) argv = g_strv_builder_end (b);

  h->lines[0] = ms_line_splitter_new (MS_HOOK_LINE_MAX);
  h->lines[1] = ms_line_splitter_new (MS_HOOK_LINE_MAX);
  h->child = ms_child_spawn ((const char *const *) argv, MS_CHILD_CAPTURE_OUTPUT, &handlers, h, &error);
  if (h->child == NULL) {
    ms_msg_sync_spawn_failed (argv[0], ms_child_spawn_strerror (error));
    h->failed_source = g_idle_add (on_spawn_failed, h);
    return;
  }
  if (h->config->sync_timeout > 0)
    ms_child_stop_after (h->child, h->config->sync_timeout * 1000, on_expired);
  /* A sync_timeout no longer than the delay stops the run before anyone
   * needs to be told. */
  if (h->config->sync_timeout == 0 || h->config->sync_timeout > (gint64) warn_after_s)
    h->warn_source = g_timeout_add ((guint) MIN ((guint64) warn_after_s * 1000, G_MAXUINT),
                                    on_running_long, h);
}

void
ms_hook_synced (MsHook *h, GPtrArray *names)
{
  if (names != NULL && names->len == 0)
    return;
  h->queued = TRUE;
  if (names == NULL) {
    h->queued_all = TRUE;
  } else if (!h->queued_all) {
    for (guint i = 0; i < names->len; i++) {
      const char *name = g_ptr_array_index (names, i);
      if (!g_tree_lookup_extended (h->queued_names, name, NULL, NULL)) {
        g_tree_insert (h->queued_names, g_strdup (name), NULL);
        h->queued_bytes += strlen (name) + 1;
      }
    }
    if (h->queued_bytes > MS_HOOK_MAX_ARG_BYTES)
      h->queued_all = TRUE;
  }
  if (h->queued_all) {
    g_clear_pointer (&h->queued_names, g_tree_unref);
    h->queued_names = g_tree_new_full (compare_names, NULL, g_free, NULL);
    h->queued_bytes = 0;
  }
  if (!h->running)
    start_run (h);
}

void
ms_hook_get_state (MsHook *h, MsHookState *state)
{
  *state = (MsHookState) { 0 };
  state->running = h->running;
  state->started = h->started;
  state->running_all = h->running && h->run_all;
  state->running_names = h->running ? h->run_names : NULL;
  state->queued = h->queued;
  state->queued_all = h->queued_all;
  if (h->queued && !h->queued_all) {
    state->queued_names = g_ptr_array_new_with_free_func (g_free);
    g_tree_foreach (h->queued_names, append_name, state->queued_names);
  }
  state->last_ended = h->last_ended;
  state->last_failure = h->last_failure;
  state->running_long = h->running ? h->running_long : 0;
}
