/* sync_imap.c — the IMAP⇄Maildir syncer: options, one-shot runs in mbsync's
 * argv shape, and the resident `--serve` mode that speaks mswatch's syncer
 * protocol (docs/protocol.md) on stdin/stdout.
 *
 * Threads in --serve mode: the main thread only reads requests from stdin
 * and queues them; one request thread takes what is queued, answers at once
 * what is unchanged since its last sync (one STATUS round trip), and hands
 * the named mailboxes left to the connection pool (sync-pool.c), which
 * syncs several at a time and answers each as it finishes.  A mailbox
 * queued several times is synced once and answered for each request.
 */
#include <errno.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <glib.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "imap-client.h"
#include "line-splitter.h"
#include "mbsyncrc.h"
#include "ms-error.h"
#include "ms-fd.h"
#include "sync-job.h"
#include "sync-pool.h"
#include "sync-state.h"

/* docs/protocol.md: no line is longer than this. */
#define SERVE_LINE_MAX 8192
/* Request tags: 1-16 letters and digits. */
#define SERVE_TAG_MAX 16

typedef struct {
  const MsMbsyncConfig *config;
  guint connections;
  gboolean force;
  gboolean list;    /* mbsync's -l: print the mailboxes instead of syncing */
  MsSyncPool *pool; /* the channel in use, with its connections */
} Syncer;

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

/* --- the channel in use ------------------------------------------------------- */

static gboolean
syncer_use_channel (Syncer *s, const MsMbsyncChannel *channel, GError **error)
{
  if (s->pool != NULL && ms_sync_pool_setup (s->pool)->channel == channel)
    return TRUE;
  g_clear_pointer (&s->pool, ms_sync_pool_free);
  MsChannelSetup *setup = ms_channel_setup_new (s->config, channel, g_get_home_dir (), error);
  if (setup == NULL)
    return FALSE;
  for (guint i = 0; i < setup->warnings->len; i++)
    g_warning ("%s", (const char *) g_ptr_array_index (setup->warnings, i));
  s->pool = ms_sync_pool_new (setup, s->connections, s->force);
  return TRUE;
}

/* The sum of a run over several mailboxes. */
typedef struct {
  GPtrArray *boxes; /* the run's mailboxes */
  guint done;
  guint near_changes, far_changes;
  GError *first;          /* the first failure */
  gboolean all_permanent; /* every failure was one that retrying cannot fix */
  gboolean print_errors;  /* one-shot: failures on stderr, not the first one again */
  const char *progress_tag; /* --serve: a PROGRESS line per mailbox */
  GArray *downloads;      /* --serve: MsSyncProgress per mailbox, the last one
                           * sent (total 0: none), for the closing line */
} Tally;

/* "120/5000 messages, 3145728/90177536 bytes": the form of a download
 * that mswatch reads (protocol.md), and shows with the sizes in words.
 * The total is the server's RFC822.SIZE sum, which some servers give low;
 * what came in is never shown as more than the total.  (transfer full) */
static char *
progress_text (const MsSyncProgress *p)
{
  return g_strdup_printf ("%u/%u messages, %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT " bytes", p->done,
                          MAX (p->done, p->total), (guint64) p->bytes_done,
                          (guint64) MAX (p->bytes_done, p->bytes_total));
}

static void
on_tally (gpointer data, guint index, const MsSyncResult *r)
{
  Tally *t = data;
  t->done++;
  if (r->ok) {
    t->near_changes += r->near_changes;
    t->far_changes += r->far_changes;
  } else {
    t->all_permanent = t->all_permanent && r->permanent;
    if (t->print_errors && (t->first == NULL || !g_str_equal (t->first->message, r->error->message)))
      g_printerr ("sync_imap: %s\n", r->error->message);
    else if (!t->print_errors)
      g_message ("%s", r->error->message);
    if (t->first == NULL)
      t->first = g_error_copy (r->error);
  }
  if (t->progress_tag == NULL)
    return;
  /* A download that ended short of its total (messages expunged meanwhile,
   * a failure) is closed at what it got, so that mswatch stops showing it
   * as under way. */
  MsSyncProgress *last = t->downloads ? &g_array_index (t->downloads, MsSyncProgress, index) : NULL;
  if (last != NULL && last->total > 0 && (last->done < last->total || last->bytes_done < last->bytes_total)) {
    MsSyncProgress closed = { last->done, last->done, last->bytes_done, last->bytes_done };
    g_autofree char *text = progress_text (&closed);
    say ("%s PROGRESS %s: %s", t->progress_tag, (const char *) g_ptr_array_index (t->boxes, index), text);
  }
  say ("%s PROGRESS %u/%u mailboxes", t->progress_tag, t->done, t->boxes->len);
}

static void
on_tally_progress (gpointer data, guint index, const MsSyncProgress *progress)
{
  Tally *t = data;
  if (t->downloads == NULL)
    t->downloads = g_array_set_size (g_array_new (FALSE, TRUE, sizeof (MsSyncProgress)), t->boxes->len);
  g_array_index (t->downloads, MsSyncProgress, index) = *progress;
  g_autofree char *text = progress_text (progress);
  say ("%s PROGRESS %s: %s", t->progress_tag, (const char *) g_ptr_array_index (t->boxes, index), text);
}

/* --- one-shot mode ------------------------------------------------------------- */

static int
run_once (Syncer *s, char **args)
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
      if (!syncer_use_channel (s, target->channel, &local)) {
        g_printerr ("sync_imap: %s\n", local->message);
        status = 1;
        continue;
      }
      MsChannelSetup *setup = ms_sync_pool_setup (s->pool);
      g_autoptr (GPtrArray) boxes = NULL;
      if (target->boxes != NULL) {
        boxes = g_ptr_array_new_with_free_func (g_free);
        for (char **b = target->boxes; *b != NULL && local == NULL; b++) {
          char *box = ms_channel_setup_box_from_name (setup, *b, &local);
          if (box != NULL)
            g_ptr_array_add (boxes, box);
          else
            g_prefix_error (&local, "%s: \"%s\": ", target->channel->name, *b);
        }
      } else {
        boxes = ms_sync_pool_channel_boxes (s->pool, &local);
      }
      if (local != NULL) {
        g_printerr ("sync_imap: %s\n", local->message);
        status = 1;
        continue;
      }
      if (s->list) {
        for (guint i = 0; i < boxes->len; i++)
          printf ("%s\n", (const char *) g_ptr_array_index (boxes, i));
        continue;
      }
      Tally tally = { .boxes = boxes, .all_permanent = TRUE, .print_errors = TRUE };
      ms_sync_pool_run (s->pool, boxes, on_tally, NULL, &tally);
      if (tally.first != NULL) {
        status = 1;
        g_error_free (tally.first);
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

/* The signal that asked the resident to stop, or 0, and a pipe the
 * handler writes to, to wake the thread reading stdin whichever thread
 * it ran on. */
static volatile sig_atomic_t stop_signal;
static int stop_pipe[2] = { -1, -1 };
/* Set by the request thread when it is done, before it writes to the pipe. */
static gint serve_done;

/* Wakes the thread reading stdin (async-signal-safe). */
static void
poke_stop_pipe (void)
{
  if (write (stop_pipe[1], "", 1) < 0) {
    /* full: a wake-up is pending already */
  }
}

/* The end of input, queued after the last request. */
static Request end_of_input;

typedef struct {
  MsSyncPool *pool;
  GAsyncQueue *queue;
  GQueue held;         /* requests taken from the queue while coalescing */
  gint64 idle_since_us; /* monotonic: the end of the last sync */
  char *connection;    /* the last "* CONNECTION" text sent */
} Server;

/* Tells mswatch how the connections are, when that changed (protocol.md:
 * its status report shows the last one). */
static void
report_connection (Server *srv)
{
  g_autofree char *text = ms_sync_pool_describe (srv->pool);
  if (g_strcmp0 (text, srv->connection) == 0)
    return;
  say ("* CONNECTION %s", text);
  g_free (srv->connection);
  srv->connection = g_steal_pointer (&text);
}

/* The states that syncs leave open (sync-shelf.h) are committed once no
 * sync has run for this long: a burst of new mail syncs a mailbox several
 * times within a fraction of a second, and its state is written once after
 * it rather than each time. */
#define SERVE_COMMIT_IDLE_MS 200
/* ... and in any case this long after the first sync they hold, so that
 * a mailbox that is never left alone gets its journal emptied (it must
 * stay far below MS_SYNC_JOURNAL_MAX_BYTES, which an open refuses). */
#define SERVE_COMMIT_MAX_DELAY_MS 5000
/* While idle, the connections are looked at this often for a server that
 * hung up, so that the CONNECTION line (and mswatch --status) says so
 * within a second or two rather than at the next sync. */
#define SERVE_LINK_CHECK_MS 1000
static guint commit_idle_ms = SERVE_COMMIT_IDLE_MS;

/* When the shelved states are due for their commit (monotonic): after
 * the idle time, or once the oldest has waited the longest allowed. */
static gint64
commit_due_us (Server *srv, gboolean idle)
{
  gint64 since = ms_sync_pool_shelved_since (srv->pool);
  if (since == G_MAXINT64)
    return G_MAXINT64;
  gint64 due = since + (gint64) MAX (commit_idle_ms, SERVE_COMMIT_MAX_DELAY_MS) * 1000;
  return idle ? MIN (due, srv->idle_since_us + (gint64) commit_idle_ms * 1000) : due;
}

static void
answer (const Request *r, gboolean ok, guint near_changes, guint far_changes, gboolean permanent,
        const GError *error)
{
  if (ok)
    say ("%s OK %u %u", r->tag, near_changes, far_changes);
  else
    say ("%s %s %s", r->tag, permanent ? "FAIL" : "RETRY", error->message);
}

/* Answers every queued request whose mailbox is unchanged on both sides
 * since its last sync, with one pipelined STATUS round trip for all. */
static void
answer_unchanged (Server *srv)
{
  MsChannelSetup *setup = ms_sync_pool_setup (srv->pool);
  g_autoptr (GPtrArray) boxes = g_ptr_array_new_with_free_func (g_free);
  gboolean any = FALSE;
  for (GList *l = srv->held.head; l != NULL; l = l->next) {
    Request *r = l->data;
    /* Each request is checked once, when it arrives: a check costs a round
     * trip, and what was changed then is synced anyway. */
    gboolean fresh = r != &end_of_input && !r->checked;
    if (fresh)
      r->checked = TRUE;
    char *box = fresh && r->name ? ms_channel_setup_box_from_name (setup, r->name, NULL) : NULL;
    any = any || box != NULL;
    g_ptr_array_add (boxes, box ? box : g_strdup (""));
  }
  if (!any)
    return;
  g_autoptr (GArray) same = ms_sync_pool_unchanged (srv->pool, boxes, FALSE);
  if (same == NULL)
    return;
  GList *l = srv->held.head;
  for (guint i = 0; l != NULL; i++) {
    GList *next = l->next;
    if (g_array_index (same, gboolean, i)) {
      /* Something was reported changed and STATUS says nothing did: the
       * server may not show it yet (see MS_SYNC_POOL_RECHECK_MS). */
      ms_sync_pool_recheck (srv->pool, g_ptr_array_index (boxes, i));
      answer (l->data, TRUE, 0, 0, FALSE, NULL);
      request_free (l->data);
      g_queue_delete_link (&srv->held, l);
    }
    l = next;
  }
}

/* With nothing waiting: syncs once more a mailbox whose last sync left no
 * fingerprint, answering nobody.  FALSE when none is due before
 * `*next_due_us` (monotonic). */
static gboolean
verify_one (Server *srv, gint64 *next_due_us)
{
  gboolean status_first = FALSE;
  char *box = ms_sync_pool_take_verify (srv->pool, &status_first, next_due_us);
  if (box == NULL)
    return FALSE;
  g_autoptr (GPtrArray) boxes = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (boxes, box);
  if (status_first) {
    /* The Maildir side reports its own changes. */
    g_autoptr (GArray) same = ms_sync_pool_unchanged (srv->pool, boxes, TRUE);
    gboolean changed = same == NULL || !g_array_index (same, gboolean, 0);
    g_debug ("%s: looked at once more: %s", box, changed ? "changed" : "unchanged");
    if (!changed)
      return TRUE;
  }
  Tally tally = { .boxes = boxes, .all_permanent = TRUE };
  ms_sync_pool_run (srv->pool, boxes, on_tally, NULL, &tally);
  g_clear_error (&tally.first);
  return TRUE;
}

/* Syncs the whole channel for `r` and every other such request held. */
static void
serve_all (Server *srv, Request *r)
{
  g_autoptr (GPtrArray) same = g_ptr_array_new_with_free_func ((GDestroyNotify) request_free);
  g_ptr_array_add (same, r);
  for (GList *l = srv->held.head; l != NULL;) {
    GList *next = l->next;
    Request *other = l->data;
    if (other != &end_of_input && other->name == NULL) {
      g_ptr_array_add (same, other);
      g_queue_delete_link (&srv->held, l);
    }
    l = next;
  }
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) boxes = ms_sync_pool_channel_boxes (srv->pool, &error);
  Tally tally = { .all_permanent = TRUE, .progress_tag = r->tag };
  if (boxes != NULL) {
    /* What is unchanged since its last sync needs none (one STATUS round
     * trip for all): a periodic sync of an idle account costs two. */
    g_autoptr (GArray) unchanged = ms_sync_pool_unchanged (srv->pool, boxes, FALSE);
    guint all = boxes->len;
    for (guint i = boxes->len; unchanged != NULL && i-- > 0;)
      if (g_array_index (unchanged, gboolean, i))
        g_ptr_array_remove_index (boxes, i);
    g_debug ("all mailboxes: %u of %u unchanged", all - boxes->len, all);
    tally.boxes = boxes;
    ms_sync_pool_run (srv->pool, boxes, on_tally, on_tally_progress, &tally);
    error = g_steal_pointer (&tally.first);
    g_clear_pointer (&tally.downloads, g_array_unref);
  } else {
    g_message ("%s", error->message);
    tally.all_permanent = FALSE;
  }
  for (guint i = 0; i < same->len; i++)
    answer (g_ptr_array_index (same, i), error == NULL, tally.near_changes, tally.far_changes,
            tally.all_permanent, error);
}

/* The named requests of one run: the distinct mailboxes, and per mailbox
 * the requests that asked for it. */
typedef struct {
  GPtrArray *boxes;    /* canonical names */
  GPtrArray *requests; /* per box: GPtrArray of Request */
} Batch;

static void
on_batch_done (gpointer data, guint index, const MsSyncResult *result)
{
  Batch *b = data;
  GPtrArray *requests = g_ptr_array_index (b->requests, index);
  if (!result->ok)
    g_message ("%s", result->error->message);
  for (guint i = 0; i < requests->len; i++)
    answer (g_ptr_array_index (requests, i), result->ok, result->near_changes, result->far_changes,
            result->permanent, result->error);
}

static void
on_batch_progress (gpointer data, guint index, const MsSyncProgress *progress)
{
  Batch *b = data;
  GPtrArray *requests = g_ptr_array_index (b->requests, index);
  g_autofree char *text = progress_text (progress);
  for (guint i = 0; i < requests->len; i++)
    say ("%s PROGRESS %s", ((const Request *) g_ptr_array_index (requests, i))->tag, text);
}

/* Syncs the mailboxes of every named request held, several at a time;
 * a name the channel cannot have is answered at once. */
static void
serve_named (Server *srv)
{
  MsChannelSetup *setup = ms_sync_pool_setup (srv->pool);
  Batch batch = { g_ptr_array_new_with_free_func (g_free),
                  g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref) };
  g_autoptr (GHashTable) index = g_hash_table_new (g_str_hash, g_str_equal);
  for (GList *l = srv->held.head; l != NULL;) {
    GList *next = l->next;
    Request *r = l->data;
    if (r == &end_of_input || r->name == NULL) {
      l = next;
      continue;
    }
    g_queue_delete_link (&srv->held, l);
    l = next;
    g_autoptr (GError) error = NULL;
    char *box = ms_channel_setup_box_from_name (setup, r->name, &error);
    if (box != NULL && !ms_channel_setup_selects (setup, box)) {
      g_set_error (&error, MS_ERROR, MS_ERROR_BAD_NAME, "%s is not covered by channel %s", box,
                   setup->channel->name);
      g_clear_pointer (&box, g_free);
    }
    if (box == NULL) {
      g_message ("%s", error->message);
      answer (r, FALSE, 0, 0, TRUE, error);
      request_free (r);
      continue;
    }
    gpointer at;
    if (!g_hash_table_lookup_extended (index, box, NULL, &at)) {
      at = GUINT_TO_POINTER (batch.boxes->len);
      g_ptr_array_add (batch.boxes, box);
      g_ptr_array_add (batch.requests, g_ptr_array_new_with_free_func ((GDestroyNotify) request_free));
      g_hash_table_insert (index, box, at);
    } else {
      g_free (box);
    }
    g_ptr_array_add (g_ptr_array_index (batch.requests, GPOINTER_TO_UINT (at)), r);
  }
  gint64 wait_us = ms_sync_pool_settled_at (srv->pool, batch.boxes) - g_get_monotonic_time ();
  if (wait_us > 0)
    g_usleep ((gulong) wait_us);
  ms_sync_pool_run (srv->pool, batch.boxes, on_batch_done, on_batch_progress, &batch);
  g_hash_table_remove_all (index);
  g_ptr_array_unref (batch.requests);
  g_ptr_array_unref (batch.boxes);
}

static gboolean
request_waiting (gpointer data)
{
  Server *srv = data;
  return g_async_queue_length (srv->queue) > 0;
}

static gpointer
serve_thread (gpointer data)
{
  Server *srv = data;
  for (;;) {
    /* Take everything that is queued, then answer what is unchanged. */
    if (g_queue_is_empty (&srv->held)) {
      Request *r = g_async_queue_try_pop (srv->queue);
      if (r == NULL) {
        /* Idle: the mailboxes to look at once more, the states the syncs
         * left open (until a request comes), then wait. */
        gint64 next_due_us;
        if (verify_one (srv, &next_due_us)) {
          srv->idle_since_us = g_get_monotonic_time ();
          continue;
        }
        gint64 commit_due = commit_due_us (srv, TRUE);
        if (commit_due <= g_get_monotonic_time ()) {
          ms_sync_pool_commit_shelved (srv->pool, request_waiting, srv);
          continue;
        }
        next_due_us = MIN (next_due_us, commit_due);
        guint open = ms_sync_pool_drop_gone (srv->pool);
        report_connection (srv);
        if (open > 0)
          next_due_us = MIN (next_due_us, g_get_monotonic_time () + (gint64) SERVE_LINK_CHECK_MS * 1000);
        if (next_due_us == G_MAXINT64)
          r = g_async_queue_pop (srv->queue);
        else
          r = g_async_queue_timeout_pop (srv->queue, (guint64) MAX (next_due_us - g_get_monotonic_time (), 0));
        if (r == NULL)
          continue;
      }
      g_queue_push_tail (&srv->held, r);
    }
    for (Request *next; (next = g_async_queue_try_pop (srv->queue)) != NULL;)
      g_queue_push_tail (&srv->held, next);
    answer_unchanged (srv);
    Request *r = g_queue_peek_head (&srv->held);
    if (r == NULL)
      continue;
    if (r == &end_of_input) {
      g_atomic_int_set (&serve_done, 1);
      poke_stop_pipe ();
      break;
    }
    if (r->name == NULL)
      serve_all (srv, g_queue_pop_head (&srv->held));
    else
      serve_named (srv);
    report_connection (srv);
    srv->idle_since_us = g_get_monotonic_time ();
    /* Never idle for long enough: the overdue ones now, between batches. */
    if (commit_due_us (srv, FALSE) <= srv->idle_since_us)
      ms_sync_pool_commit_shelved (srv->pool, NULL, NULL);
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

static void
on_stop_signal (int sig)
{
  int saved = errno;
  stop_signal = sig;
  poke_stop_pipe ();
  errno = saved;
}

/* SIGTERM, SIGINT and SIGHUP end the resident as they would without a
 * handler, but with the states its syncs left open committed first (see
 * sync-shelf.h).  They stay blocked but while the thread reading stdin
 * waits in ppoll(2), so that none comes between its check and the wait;
 * the pipe wakes it should one reach another thread all the same. */
static gboolean
catch_stop_signals (sigset_t *set, sigset_t *wait_mask, GError **error)
{
  if (!g_unix_open_pipe (stop_pipe, FD_CLOEXEC, error)
      || !g_unix_set_fd_nonblocking (stop_pipe[0], TRUE, error)
      || !g_unix_set_fd_nonblocking (stop_pipe[1], TRUE, error))
    return FALSE;
  const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
  struct sigaction sa = { .sa_handler = on_stop_signal }; /* no SA_RESTART */
  sigemptyset (&sa.sa_mask);
  sigemptyset (set);
  for (guint i = 0; i < G_N_ELEMENTS (sigs); i++) {
    sigaddset (set, sigs[i]);
    sigaction (sigs[i], &sa, NULL);
  }
  /* Blocked from now on (threads started later inherit that), unblocked
   * in `wait_mask`, the mask for ppoll. */
  pthread_sigmask (SIG_BLOCK, set, wait_mask);
  for (guint i = 0; i < G_N_ELEMENTS (sigs); i++)
    sigdelset (wait_mask, sigs[i]);
  return TRUE;
}

/* If a stop signal came, ends the process by it: syncs in progress are
 * cut off, as by a crash (their journals stay), and what the finished ones
 * left open is committed first. */
static void
stop_if_signalled (MsSyncPool *pool, const sigset_t *stop_set)
{
  if (!stop_signal)
    return;
  ms_sync_pool_commit_shelved (pool, NULL, NULL);
  signal (stop_signal, SIG_DFL);
  raise (stop_signal);
  pthread_sigmask (SIG_UNBLOCK, stop_set, NULL);
  _exit (128 + stop_signal);
}

/* Waits (stop signals unblocked) until the pipe or `fd` (-1: none) is
 * readable; then ends the process if a stop signal came. */
static int
wait_input (MsSyncPool *pool, int fd, const sigset_t *stop_set, const sigset_t *wait_mask)
{
  struct pollfd in[2] = { { .fd = stop_pipe[0], .events = POLLIN }, { .fd = fd, .events = POLLIN } };
  int ready = ppoll (in, fd >= 0 ? 2 : 1, NULL, wait_mask);
  int saved = errno;
  char drain[64];
  while (read (stop_pipe[0], drain, sizeof drain) > 0)
    ;
  errno = saved;
  stop_if_signalled (pool, stop_set);
  return ready;
}

static int
serve (Syncer *s, const char *channel_name)
{
  const MsMbsyncChannel *channel = ms_mbsync_config_find_channel (s->config, channel_name);
  g_autoptr (GError) error = NULL;
  if (channel == NULL) {
    g_autofree char *why = ms_channel_missing_message (s->config, channel_name);
    g_printerr ("sync_imap: %s\n", why);
    return 1;
  }
  if (!syncer_use_channel (s, channel, &error)) {
    g_printerr ("sync_imap: %s\n", error->message);
    return 1;
  }
  say ("* MSWATCH-SYNCER 1 sync_imap %s", MS_VERSION);
  ms_sync_pool_shelve (s->pool);

  Server srv = { s->pool, g_async_queue_new (), G_QUEUE_INIT, 0, NULL };
  sigset_t stop_set, wait_mask;
  if (!catch_stop_signals (&stop_set, &wait_mask, &error)) {
    g_printerr ("sync_imap: %s\n", error->message);
    return 1;
  }
  report_connection (&srv);
  GThread *thread = g_thread_new ("requests", serve_thread, &srv);
  g_autoptr (MsLineSplitter) splitter = ms_line_splitter_new (SERVE_LINE_MAX);
  char buf[16384];
  for (;;) {
    gssize n = wait_input (s->pool, STDIN_FILENO, &stop_set, &wait_mask) < 0 ? -1
                                                                           : read (STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    ms_line_splitter_feed (splitter, buf, (gsize) n);
    const char *line;
    gsize len;
    MsLineStatus st;
    /* The requests of one read are queued together, so that the request
     * thread takes them as one batch (synced side by side), not the first
     * alone and the rest after it. */
    g_autoptr (GPtrArray) batch = g_ptr_array_new ();
    while ((st = ms_line_splitter_next (splitter, &line, &len)) != MS_LINE_NEED_MORE) {
      if (st == MS_LINE_TOO_LONG) {
        say ("* BAD request line longer than %d bytes", SERVE_LINE_MAX);
        continue;
      }
      Request *r = parse_request (line, len);
      if (r != NULL)
        g_ptr_array_add (batch, r);
    }
    g_async_queue_lock (srv.queue);
    for (guint i = 0; i < batch->len; i++)
      g_async_queue_push_unlocked (srv.queue, g_ptr_array_index (batch, i));
    g_async_queue_unlock (srv.queue);
  }
  /* stdin closed: the coordinator is gone or wants us to stop.  The
   * request thread finishes what it has; a stop signal meanwhile (mswatch
   * sends SIGTERM right after closing) still ends it at once. */
  g_async_queue_push (srv.queue, &end_of_input);
  while (!g_atomic_int_get (&serve_done))
    wait_input (s->pool, -1, &stop_set, &wait_mask);
  g_thread_join (thread);
  for (Request *r; (r = g_queue_pop_head (&srv.held)) != NULL;)
    if (r != &end_of_input)
      request_free (r);
  for (Request *r; (r = g_async_queue_try_pop (srv.queue)) != NULL;)
    if (r != &end_of_input)
      request_free (r);
  g_async_queue_unref (srv.queue);
  g_free (srv.connection);
  /* The last commit, with stop signals still blocked; one that came
   * during it ends the process by that signal after it, as at any other
   * time. */
  ms_sync_pool_commit_shelved (s->pool, NULL, NULL);
  const struct timespec now = { 0, 0 };
  int sig = sigtimedwait (&stop_set, NULL, &now);
  if (sig > 0)
    stop_signal = sig;
  stop_if_signalled (s->pool, &stop_set);
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
  /* Started with stderr closed, the first connection would be fd 2, and
   * every log line a command to the server. */
  ms_fd_fill_std (TRUE);

  g_autofree char *config_path = NULL;
  g_autofree char *serve_channel = NULL;
  gboolean force = FALSE, version = FALSE, quiet = FALSE, verbose = FALSE, all = FALSE, list = FALSE;
  gint die_after = -1;
  gint progress_ms = -1;
  gint recheck_ms = -1;
  gint regrow_s = -1;
  gint pass_cmd_timeout_s = -1;
  gint first_slice = -1;
  gint commit_after_ms = -1;
  gint connections = MS_SYNC_POOL_CONNECTIONS_DEFAULT;
  g_auto (GStrv) args = NULL;
  const GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Read FILE instead of ~/.mbsyncrc", "FILE" },
    { "serve", 0, 0, G_OPTION_ARG_STRING, &serve_channel, "Stay resident and sync CHANNEL on request (docs/protocol.md)", "CHANNEL" },
    { "connections", 'j', 0, G_OPTION_ARG_INT, &connections, "Sync up to N mailboxes at once, each on its own IMAP connection (default 4)", "N" },
    { "all", 'a', 0, G_OPTION_ARG_NONE, &all, "Sync every channel of the configuration (as mbsync -a)", NULL },
    { "list", 'l', 0, G_OPTION_ARG_NONE, &list, "Print the channels' mailboxes instead of syncing them (as mbsync -l)", NULL },
    { "force", 0, 0, G_OPTION_ARG_NONE, &force, "Allow a sync that removes more than half of a mailbox", NULL },
    { "die-after", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &die_after, "Test knob: exit 99 before state-changing step N+1", "N" },
    { "progress-interval", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &progress_ms, "Test knob: report a download's progress every MS milliseconds (0: every message)", "MS" },
    { "regrow-after", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &regrow_s, "Test knob: ask for every connection again SECONDS after the server refused one", "SECONDS" },
    { "recheck-after", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &recheck_ms, "Test knob: look at a mailbox found unchanged once more after MS milliseconds", "MS" },
    { "pass-cmd-timeout", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &pass_cmd_timeout_s, "Test knob: give PassCmd S seconds to finish", "S" },
    { "first-slice", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &first_slice, "Test knob: download a new mailbox in slices of N messages", "N" },
    { "commit-after", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &commit_after_ms, "Test knob: --serve commits the syncs' states after MS idle milliseconds", "MS" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print only errors (the default; for mbsync's argv)", NULL },
    { "verbose", 'V', 0, G_OPTION_ARG_NONE, &verbose, "Print what each mailbox's sync did", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &args, NULL, "CHANNEL[:BOX,...]|GROUP...|-a" },
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
  gboolean named = args != NULL && args[0] != NULL;
  if (serve_channel != NULL ? named || all || list : named == all) {
    g_printerr ("sync_imap: give either --serve CHANNEL, the channels to sync, or -a\nTry 'sync_imap --help'.\n");
    return 1;
  }
  if (connections < 1 || connections > MS_SYNC_POOL_CONNECTIONS_MAX) {
    g_printerr ("sync_imap: --connections takes 1 to %d\n", MS_SYNC_POOL_CONNECTIONS_MAX);
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
  if (progress_ms >= 0)
    ms_sync_set_progress_interval ((guint) progress_ms);
  if (recheck_ms >= 0)
    ms_sync_pool_set_recheck_ms ((guint) recheck_ms);
  if (regrow_s >= 0)
    ms_sync_pool_set_regrow_s ((guint) regrow_s);
  if (pass_cmd_timeout_s > 0)
    ms_channel_set_pass_cmd_timeout ((guint) pass_cmd_timeout_s);
  if (first_slice > 0)
    ms_sync_set_first_slice ((guint) first_slice);
  if (commit_after_ms >= 0)
    commit_idle_ms = (guint) commit_after_ms;
  g_autoptr (MsMbsyncConfig) config = ms_channel_load_config (config_path, &error);
  if (config == NULL) {
    g_printerr ("sync_imap: %s\n", error->message);
    return 1;
  }
  if (all) {
    /* -a: every channel, in the order of the file. */
    if (config->channels->len == 0) {
      g_printerr ("sync_imap: %s: no channels defined\n", config->filename);
      return 1;
    }
    g_strfreev (args);
    args = g_new0 (char *, config->channels->len + 1);
    for (guint i = 0; i < config->channels->len; i++)
      args[i] = g_strdup (((const MsMbsyncChannel *) g_ptr_array_index (config->channels, i))->name);
  }
  Syncer syncer = { .config = config, .connections = (guint) connections, .force = force, .list = list };
  ms_channel_set_pass_cmd_terminal (serve_channel == NULL);
  int status = serve_channel ? serve (&syncer, serve_channel) : run_once (&syncer, args);
  g_clear_pointer (&syncer.pool, ms_sync_pool_free);
  return status;
}
