/* sync_imap.c — the IMAP⇄Maildir syncer: options, one-shot runs in mbsync's
 * argv shape, and the resident `--serve` mode that speaks mswatch's syncer
 * protocol (docs/protocol.md) on stdin/stdout.
 *
 * Threads in --serve mode: the main thread only reads requests from stdin
 * and queues them; one connection thread takes them in order, keeps the
 * IMAP connection open between them, and writes every answer.  A request
 * for a mailbox that is queued several times is synced once and answered
 * for each.  A dropped connection is reopened on the next request (and a
 * request that finds its reused connection dead is retried once on a fresh
 * one), so an idle night does not cost a failed sync in the morning.
 */
#include <errno.h>
#include <gio/gio.h>
#include <glib.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "imap-client.h"
#include "line-splitter.h"
#include "mbsyncrc.h"
#include "ms-error.h"
#include "sync-job.h"
#include "sync-state.h"

/* docs/protocol.md: no line is longer than this. */
#define SERVE_LINE_MAX 8192
/* Request tags: 1-16 letters and digits. */
#define SERVE_TAG_MAX 16

typedef struct {
  const MsMbsyncConfig *config;
  MsChannelSetup *setup;
  MsImapClient *imap;
  gboolean force;

  /* The resident's memory (--serve): what each mailbox looked like after
   * the last sync that changed nothing, for the one-round-trip check; the
   * mailboxes whose last sync changed something, to be synced once more
   * when nothing else is waiting (that sync establishes the fingerprint,
   * so the watchers' echo of our own writes finds nothing to do); and the
   * mailbox left selected, which STATUS must not be asked about. */
  GHashTable *fingerprints; /* box -> MsSyncFingerprint* */
  GHashTable *verify;       /* set of boxes */
  char *selected;
} Session;

typedef struct {
  guint pulled_side; /* changes applied to the Maildir */
  guint pushed_side; /* changes applied to the server */
} Totals;

/* --- output ------------------------------------------------------------------ */

static GMutex out_lock;

static void
say (const char *format, ...) G_GNUC_PRINTF (1, 2);

static void
say (const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *line = g_strdup_vprintf (format, ap);
  va_end (ap);
  /* Answers are single lines: fold anything a server put in a message. */
  g_strdelimit (line, "\r\n", ' ');
  /* ... and keep within the protocol's line limit (a longer answer would be
   * dropped, leaving its request unanswered), cut at a character boundary. */
  if (strlen (line) >= SERVE_LINE_MAX) {
    const char *end = NULL;
    g_utf8_validate (line, SERVE_LINE_MAX - 1, &end);
    line[end - line] = '\0';
  }
  g_mutex_lock (&out_lock);
  fputs (line, stdout);
  fputc ('\n', stdout);
  fflush (stdout);
  g_mutex_unlock (&out_lock);
}

static void
log_handler (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  (void) domain, (void) data;
  if ((level & G_LOG_LEVEL_DEBUG) && g_getenv ("G_MESSAGES_DEBUG") == NULL)
    return;
  fprintf (stderr, "sync_imap: %s%s\n", (level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL)) ? "warning: " : "",
           message);
}

/* --- one session: a channel and its connection ---------------------------------- */

static void
session_clear (Session *s)
{
  g_clear_pointer (&s->selected, g_free);
  g_clear_pointer (&s->imap, ms_imap_client_free);
  g_clear_pointer (&s->setup, ms_channel_setup_free);
}

static gboolean
session_open (Session *s, const MsMbsyncChannel *channel, GError **error)
{
  if (s->setup != NULL && s->setup->channel == channel)
    return TRUE;
  session_clear (s);
  s->setup = ms_channel_setup_new (s->config, channel, g_get_home_dir (), error);
  if (s->setup == NULL)
    return FALSE;
  for (guint i = 0; i < s->setup->warnings->len; i++)
    g_warning ("%s", (const char *) g_ptr_array_index (s->setup->warnings, i));
  return TRUE;
}

static gboolean
session_connect (Session *s, GError **error)
{
  if (s->imap != NULL)
    return TRUE;
  if (!ms_channel_setup_fetch_secret (s->setup, error))
    return FALSE;
  s->imap = ms_imap_client_connect (&s->setup->imap, error);
  return s->imap != NULL;
}

/* Errors that another attempt cannot fix: the request fails for good. */
static gboolean
error_is_permanent (const GError *error)
{
  return error->domain == MS_ERROR
         && (error->code == MS_ERROR_BAD_NAME || error->code == MS_ERROR_LIMIT || error->code == MS_ERROR_CONFIG
             || (error->code == MS_ERROR_FAILED && strstr (error->message, " is locked") == NULL));
}

static gboolean
sync_one (Session *s, const char *box, Totals *totals, GError **error)
{
  MsSyncContext ctx;
  MsSyncCounts counts;
  ms_channel_setup_context (s->setup, s->imap, &ctx);
  ctx.policy.force = s->force;
  g_clear_pointer (&s->selected, g_free);
  if (!ms_sync_box (&ctx, box, &counts, error)) {
    g_hash_table_remove (s->fingerprints, box);
    return FALSE;
  }
  s->selected = g_strdup (box);
  g_hash_table_remove (s->verify, box);
  if (counts.have_fingerprint) {
    g_hash_table_insert (s->fingerprints, g_strdup (box), g_memdup2 (&counts.fingerprint, sizeof counts.fingerprint));
  } else {
    g_hash_table_remove (s->fingerprints, box);
    g_hash_table_add (s->verify, g_strdup (box));
  }
  totals->pulled_side += counts.pulled + counts.flags_near + counts.removed_near;
  totals->pushed_side += counts.pushed + counts.flags_far + counts.expunged_far;
  g_debug ("%s: %u pulled, %u pushed, %u/%u flags, %u removed, %u expunged%s", box, counts.pulled,
           counts.pushed, counts.flags_near, counts.flags_far, counts.removed_near, counts.expunged_far,
           counts.far_unchanged ? " (server unchanged)" : "");
  return TRUE;
}

/* The channel's mailboxes: its one box, or what its Patterns select among
 * the server's and the Maildir's folders. */
static GPtrArray *
channel_boxes (Session *s, GError **error)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  if (s->setup->single_box != NULL) {
    g_ptr_array_add (out, g_strdup (s->setup->single_box));
    return out;
  }
  MsSyncContext ctx;
  ms_channel_setup_context (s->setup, s->imap, &ctx);
  g_autoptr (GPtrArray) all = ms_sync_list_boxes (&ctx, error);
  if (all == NULL) {
    g_ptr_array_unref (out);
    return NULL;
  }
  for (guint i = 0; i < all->len; i++)
    if (ms_channel_setup_selects (s->setup, g_ptr_array_index (all, i)))
      g_ptr_array_add (out, g_strdup (g_ptr_array_index (all, i)));
  return out;
}

typedef void (*ProgressFn) (gpointer data, guint done, guint total);

/* Syncs `boxes` (canonical names; NULL = the channel's selection), going on
 * after a mailbox fails so that one bad folder does not hold up the rest.
 * Returns the first error; *permanent tells whether every failure was one
 * that retrying cannot fix. */
static gboolean
sync_boxes (Session *s, GPtrArray *boxes, Totals *totals, gboolean *permanent, ProgressFn progress,
            gpointer progress_data, GError **error)
{
  *permanent = FALSE;
  g_autoptr (GError) first = NULL;
  gboolean all_permanent = TRUE;
  for (int attempt = 0; attempt < 2; attempt++) {
    gboolean reused = s->imap != NULL;
    g_autoptr (GError) local = NULL;
    if (!session_connect (s, &local)) {
      g_propagate_prefixed_error (error, g_steal_pointer (&local), "%s: ", s->setup->channel->name);
      return FALSE;
    }
    g_autoptr (GPtrArray) selected = boxes ? g_ptr_array_ref (boxes) : channel_boxes (s, &local);
    if (selected == NULL) {
      g_clear_pointer (&s->imap, ms_imap_client_free);
      if (reused && attempt == 0)
        continue;
      g_propagate_prefixed_error (error, g_steal_pointer (&local), "%s: listing mailboxes: ",
                                  s->setup->channel->name);
      return FALSE;
    }
    gboolean connection_failed = FALSE;
    for (guint i = 0; i < selected->len; i++) {
      const char *box = g_ptr_array_index (selected, i);
      g_autoptr (GError) box_error = NULL;
      /* Connect again only when a mailbox is left to sync after a dropped
       * connection; if that fails, the rest waits for another run, and the
       * error that dropped it is the one to report. */
      if (s->imap == NULL && !session_connect (s, &box_error)) {
        all_permanent = FALSE;
        if (first == NULL)
          first = g_steal_pointer (&box_error);
        break;
      }
      if (sync_one (s, box, totals, &box_error)) {
        if (progress)
          progress (progress_data, i + 1, selected->len);
        continue;
      }
      if (!error_is_permanent (box_error)) {
        all_permanent = FALSE;
        /* Not the mailbox's fault: the connection is suspect. */
        g_clear_pointer (&s->imap, ms_imap_client_free);
        if (reused && attempt == 0 && i == 0) {
          connection_failed = TRUE;
          break;
        }
      }
      if (first == NULL)
        first = g_steal_pointer (&box_error);
    }
    if (connection_failed)
      continue;
    break;
  }
  if (first != NULL) {
    *permanent = all_permanent;
    g_propagate_error (error, g_steal_pointer (&first));
    return FALSE;
  }
  return TRUE;
}

/* --- one-shot mode ------------------------------------------------------------- */

static int
run_once (Session *s, char **args)
{
  int status = 0;
  for (char **arg = args; *arg != NULL; arg++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) targets = ms_mbsync_config_expand_arg (s->config, *arg, &error);
    if (targets == NULL) {
      g_printerr ("sync_imap: %s\n", error->message);
      status = 1;
      continue;
    }
    for (guint t = 0; t < targets->len; t++) {
      const MsMbsyncTarget *target = g_ptr_array_index (targets, t);
      g_autoptr (GError) local = NULL;
      if (!session_open (s, target->channel, &local)) {
        g_printerr ("sync_imap: %s\n", local->message);
        status = 1;
        continue;
      }
      g_autoptr (GPtrArray) boxes = NULL;
      if (target->boxes != NULL) {
        boxes = g_ptr_array_new_with_free_func (g_free);
        for (char **b = target->boxes; *b != NULL && local == NULL; b++) {
          char *box = ms_channel_setup_box_from_name (s->setup, *b, &local);
          if (box != NULL)
            g_ptr_array_add (boxes, box);
          else
            g_prefix_error (&local, "%s: \"%s\": ", target->channel->name, *b);
        }
      }
      Totals totals = { 0 };
      gboolean permanent;
      if (local != NULL || !sync_boxes (s, boxes, &totals, &permanent, NULL, NULL, &local)) {
        g_printerr ("sync_imap: %s\n", local->message);
        status = 1;
      }
    }
  }
  return status;
}

/* --- serve mode --------------------------------------------------------------- */

typedef struct {
  char *tag;
  char *name;       /* NULL: every mailbox */
  gboolean checked; /* went through the unchanged check once already */
} Request;

static void
request_free (Request *r)
{
  g_free (r->tag);
  g_free (r->name);
  g_free (r);
}

/* The end of input, queued after the last request. */
static Request end_of_input;

typedef struct {
  Session *session;
  GAsyncQueue *queue;
  GQueue held; /* requests taken from the queue while coalescing */
} Server;

static void
on_progress (gpointer data, guint done, guint total)
{
  const Request *r = data;
  say ("%s PROGRESS %u/%u mailboxes", r->tag, done, total);
}

static void
answer (const Request *r, gboolean ok, const Totals *t, gboolean permanent, const GError *error)
{
  if (ok)
    say ("%s OK %u %u", r->tag, t->pulled_side, t->pushed_side);
  else
    say ("%s %s %s", r->tag, permanent ? "FAIL" : "RETRY", error->message);
}

static gboolean
same_target (const Request *a, const Request *b)
{
  return (a->name == NULL && b->name == NULL) || (a->name && b->name && g_str_equal (a->name, b->name));
}

/* Answers every queued request whose mailbox is unchanged on both sides
 * since its last sync, with one pipelined STATUS round trip for all. */
static void
answer_unchanged (Server *srv)
{
  Session *s = srv->session;
  g_autoptr (GPtrArray) boxes = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) known = g_ptr_array_new ();
  for (GList *l = srv->held.head; l != NULL; l = l->next) {
    Request *r = l->data;
    /* Each request is checked once, when it arrives: a check costs a round
     * trip, and what was changed then is synced anyway. */
    gboolean fresh = r != &end_of_input && !r->checked;
    if (fresh)
      r->checked = TRUE;
    char *box = fresh && r->name ? ms_channel_setup_box_from_name (s->setup, r->name, NULL) : NULL;
    MsSyncFingerprint *f = box ? g_hash_table_lookup (s->fingerprints, box) : NULL;
    if (f != NULL && s->selected != NULL && g_str_equal (box, s->selected))
      f = NULL;
    g_ptr_array_add (boxes, box ? box : g_strdup (""));
    g_ptr_array_add (known, f);
  }
  guint n_known = 0;
  for (guint i = 0; i < known->len; i++)
    n_known += g_ptr_array_index (known, i) != NULL;
  if (n_known == 0 || !session_connect (s, NULL))
    return;
  MsSyncContext ctx;
  ms_channel_setup_context (s->setup, s->imap, &ctx);
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) same = ms_sync_fingerprint_check (&ctx, boxes, known, &error);
  if (same == NULL) {
    g_debug ("fingerprint check: %s", error->message);
    g_clear_pointer (&s->imap, ms_imap_client_free);
    return;
  }
  const Totals none = { 0 };
  GList *l = srv->held.head;
  for (guint i = 0; l != NULL; i++) {
    GList *next = l->next;
    if (g_array_index (same, gboolean, i)) {
      answer (l->data, TRUE, &none, FALSE, NULL);
      request_free (l->data);
      g_queue_delete_link (&srv->held, l);
    }
    l = next;
  }
}

/* With nothing waiting: syncs once more a mailbox whose last sync changed
 * something, answering nobody. */
static void
verify_one (Server *srv)
{
  Session *s = srv->session;
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, s->verify);
  if (!g_hash_table_iter_next (&it, &key, NULL))
    return;
  g_autoptr (GPtrArray) boxes = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (boxes, g_strdup (key));
  g_hash_table_iter_remove (&it);
  Totals totals = { 0 };
  gboolean permanent;
  g_autoptr (GError) error = NULL;
  if (!sync_boxes (s, boxes, &totals, &permanent, NULL, NULL, &error))
    g_debug ("%s", error->message);
}

static gpointer
serve_thread (gpointer data)
{
  Server *srv = data;
  Session *s = srv->session;
  for (;;) {
    /* Take everything that is queued, then answer what is unchanged. */
    Request *r;
    if (g_queue_is_empty (&srv->held)) {
      if (g_hash_table_size (s->verify) > 0) {
        r = g_async_queue_try_pop (srv->queue);
        if (r == NULL) {
          verify_one (srv);
          continue;
        }
      } else {
        r = g_async_queue_pop (srv->queue);
      }
      g_queue_push_tail (&srv->held, r);
    }
    for (Request *next; (next = g_async_queue_try_pop (srv->queue)) != NULL;)
      g_queue_push_tail (&srv->held, next);
    answer_unchanged (srv);
    r = g_queue_pop_head (&srv->held);
    if (r == NULL)
      continue;
    if (r == &end_of_input)
      break;
    /* Everything queued for the same mailbox rides along. */
    g_autoptr (GPtrArray) same = g_ptr_array_new_with_free_func ((GDestroyNotify) request_free);
    g_ptr_array_add (same, r);
    for (GList *l = srv->held.head; l != NULL;) {
      GList *next = l->next;
      if (l->data != &end_of_input && same_target (r, l->data)) {
        g_ptr_array_add (same, l->data);
        g_queue_delete_link (&srv->held, l);
      }
      l = next;
    }

    Totals totals = { 0 };
    gboolean permanent = FALSE, ok;
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) boxes = NULL;
    if (r->name != NULL) {
      char *box = ms_channel_setup_box_from_name (s->setup, r->name, &error);
      if (box == NULL) {
        permanent = TRUE;
      } else if (!ms_channel_setup_selects (s->setup, box)) {
        g_set_error (&error, MS_ERROR, MS_ERROR_BAD_NAME, "%s is not covered by channel %s", box,
                     s->setup->channel->name);
        g_free (box);
        permanent = TRUE;
      } else {
        boxes = g_ptr_array_new_with_free_func (g_free);
        g_ptr_array_add (boxes, box);
      }
    }
    if (error == NULL)
      ok = sync_boxes (s, boxes, &totals, &permanent, r->name ? NULL : on_progress, r, &error);
    else
      ok = FALSE;
    if (!ok)
      g_message ("%s", error->message);
    for (guint i = 0; i < same->len; i++)
      answer (g_ptr_array_index (same, i), ok, &totals, permanent, error);
  }
  return NULL;
}

static gboolean
valid_tag (const char *tag, gsize len)
{
  if (len == 0 || len > SERVE_TAG_MAX)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (tag[i]))
      return FALSE;
  return TRUE;
}

/* Parses "TAG SYNC" / "TAG SYNC NAME"; bad lines are answered at once. */
static Request *
parse_request (const char *line, gsize len)
{
  const char *sp = memchr (line, ' ', len);
  gsize tag_len = sp ? (gsize) (sp - line) : len;
  if (!valid_tag (line, tag_len)) {
    say ("* BAD malformed request line");
    return NULL;
  }
  g_autofree char *tag = g_strndup (line, tag_len);
  const char *rest = sp ? sp + 1 : line + len;
  gsize rest_len = (gsize) (line + len - rest);
  if (memchr (rest, '\0', rest_len) != NULL) {
    say ("%s FAIL a NUL byte in the request", tag);
    return NULL;
  }
  if (rest_len < 4 || strncmp (rest, "SYNC", 4) != 0 || (rest_len > 4 && rest[4] != ' ')) {
    say ("%s FAIL unknown command", tag);
    return NULL;
  }
  Request *r = g_new0 (Request, 1);
  r->tag = g_steal_pointer (&tag);
  if (rest_len > 5)
    r->name = g_strndup (rest + 5, rest_len - 5);
  return r;
}

static int
serve (Session *s, const char *channel_name)
{
  const MsMbsyncChannel *channel = ms_mbsync_config_find_channel (s->config, channel_name);
  g_autoptr (GError) error = NULL;
  if (channel == NULL) {
    g_printerr ("sync_imap: %s: no channel %s\n", s->config->filename, channel_name);
    return 1;
  }
  if (!session_open (s, channel, &error)) {
    g_printerr ("sync_imap: %s\n", error->message);
    return 1;
  }
  say ("* MSWATCH-SYNCER 1 sync_imap %s", MS_VERSION);

  Server srv = { s, g_async_queue_new (), G_QUEUE_INIT };
  GThread *thread = g_thread_new ("connection", serve_thread, &srv);
  g_autoptr (MsLineSplitter) splitter = ms_line_splitter_new (SERVE_LINE_MAX);
  char buf[16384];
  for (;;) {
    gssize n = read (STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    ms_line_splitter_feed (splitter, buf, (gsize) n);
    const char *line;
    gsize len;
    MsLineStatus st;
    while ((st = ms_line_splitter_next (splitter, &line, &len)) != MS_LINE_NEED_MORE) {
      if (st == MS_LINE_TOO_LONG) {
        say ("* BAD request line longer than %d bytes", SERVE_LINE_MAX);
        continue;
      }
      Request *r = parse_request (line, len);
      if (r != NULL)
        g_async_queue_push (srv.queue, r);
    }
  }
  /* stdin closed: the coordinator is gone or wants us to stop. */
  g_async_queue_push (srv.queue, &end_of_input);
  g_thread_join (thread);
  for (Request *r; (r = g_queue_pop_head (&srv.held)) != NULL;)
    if (r != &end_of_input)
      request_free (r);
  for (Request *r; (r = g_async_queue_try_pop (srv.queue)) != NULL;)
    if (r != &end_of_input)
      request_free (r);
  g_async_queue_unref (srv.queue);
  return 0;
}

/* --- main --------------------------------------------------------------------- */

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  g_log_set_default_handler (log_handler, NULL);
  /* A peer that hangs up must be an error on the write, not the end of the
   * process: OpenSSL writes to the socket with write(2), and in --serve
   * mode stdout is a pipe to mswatch.  GLib does not do this for us. */
  signal (SIGPIPE, SIG_IGN);

  g_autofree char *config_path = NULL;
  g_autofree char *serve_channel = NULL;
  gboolean force = FALSE, version = FALSE, quiet = FALSE, verbose = FALSE;
  gint die_after = -1;
  g_auto (GStrv) args = NULL;
  const GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Read FILE instead of ~/.mbsyncrc", "FILE" },
    { "serve", 0, 0, G_OPTION_ARG_STRING, &serve_channel, "Stay resident and sync CHANNEL on request (docs/protocol.md)", "CHANNEL" },
    { "force", 0, 0, G_OPTION_ARG_NONE, &force, "Allow a sync that removes more than half of a mailbox", NULL },
    { "die-after", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &die_after, "Test knob: exit 99 before state-changing step N+1", "N" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print only errors (the default; for mbsync's argv)", NULL },
    { "verbose", 'V', 0, G_OPTION_ARG_NONE, &verbose, "Print what each mailbox's sync did", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &args, NULL, "CHANNEL[:BOX,...]|GROUP..." },
    { NULL },
  };
  g_autoptr (GOptionContext) octx = g_option_context_new ("- sync IMAP with a Maildir, reading ~/.mbsyncrc");
  g_option_context_add_main_entries (octx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (octx, &argc, &argv, &error)) {
    g_printerr ("sync_imap: %s\nTry 'sync_imap --help'.\n", error->message);
    return 1;
  }
  if (version) {
    printf ("sync_imap %s\n", MS_VERSION);
    return 0;
  }
  if ((serve_channel == NULL) == (args == NULL || args[0] == NULL)) {
    g_printerr ("sync_imap: give either --serve CHANNEL or the channels to sync\nTry 'sync_imap --help'.\n");
    return 1;
  }
  if (verbose)
    g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
  /* ms_sync_set_die_after (0) means "never"; dying before the first
   * state-changing step is dying before doing anything. */
  if (die_after == 0)
    _exit (MS_SYNC_DIE_STATUS);
  if (die_after > 0)
    ms_sync_set_die_after ((guint) die_after);
  g_autoptr (MsMbsyncConfig) config = ms_channel_load_config (config_path, &error);
  if (config == NULL) {
    g_printerr ("sync_imap: %s\n", error->message);
    return 1;
  }
  Session session = { .config = config, .force = force };
  session.fingerprints = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  session.verify = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  int status = serve_channel ? serve (&session, serve_channel) : run_once (&session, args);
  session_clear (&session);
  g_hash_table_unref (session.fingerprints);
  g_hash_table_unref (session.verify);
  return status;
}
