/* watch_imap.c — print the name of each IMAP mailbox of an mbsync channel as
 * it changes on the server.
 *
 * The remote watcher of mswatch for an IMAP account: it reads the channel
 * from ~/.mbsyncrc as sync_imap does, connects with the same TLS and
 * authentication code, and speaks the watcher protocol (mswatch 1.2 spec
 * section 4): one empty line once it is watching, then one mailbox name per
 * line, in the form the local watcher of the channel's Maildir prints
 * (watch_maildirs: "foo.bar" for a Maildir++ store, "foo/bar" for a
 * Verbatim one), so that both stores name a folder alike.
 *
 * Detection climbs down a ladder (imap-watch-plan.h has the details):
 *   - NOTIFY: one connection with no mailbox selected; the server sends an
 *     untagged STATUS for each change anywhere in the account.  Nothing is
 *     selected because a server reports the selected mailbox differently
 *     (EXISTS/FETCH, and Dovecot watches it again only a second after each
 *     command, so every keepalive NOOP would open a blind second), while
 *     all others are reported alike.
 *   - IDLE: one connection per hot mailbox (INBOX and --hot ones, at most
 *     --max-idle), each EXAMINEd and idling, plus STATUS polling of the
 *     others every --poll seconds on one more connection.
 *   - STATUS polling alone.
 * The initial STATUS of every mailbox is taken before the start line, so a
 * change is a difference from what was seen, and a change made while the
 * start line is on its way is reported, never lost.
 *
 * Threads: the main thread runs a GLib main loop that owns stdin and stdout
 * and does nothing that blocks; each IMAP connection has a thread of its own
 * doing blocking I/O with deadlines (transport.h), which hands finished
 * lines to the output queue.  The queue is written by the main loop when
 * stdout is writable, so a slow reader never stalls a connection; it is
 * bounded (OUTPUT_BACKLOG_MAX).  All of this is set up, and the initial
 * state taken, on the main thread before the start line; the connection
 * threads start after it.
 *
 * Dead connections: every connection sends something at least every
 * --keepalive seconds (NOOP, or DONE and a new IDLE, which also renews an
 * IDLE before servers drop it at 30 minutes) and waits for the answer with
 * the account's Timeout (the default where it is 0, "none").  Any lost
 * connection ends the program with status 2: the coordinator restarts a
 * watcher that exits, and a restart brings a full sync, which no
 * reconnecting watcher could promise.
 *
 * Exit status: 0 when stdin reaches EOF or stdout's reader goes away (that
 * is how a watcher is told to stop; a closed stdin, as inputkill gives its
 * program, is not watched); 1 for errors before the start line
 * (options, configuration, connecting, logging in); 2 once running, when a
 * connection is lost or changes may have been missed.  The process ends
 * with _exit(): connection threads may be blocked in a read, and exit()
 * would tear down OpenSSL under them.
 *
 * Secrets: the password (Pass, or PassCmd's first line) is fetched once and
 * handed to the login code only; it is never printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "imap-client.h"
#include "ms-fd.h"
#include "imap-watch-plan.h"
#include "mbsyncrc.h"
#include "ms-error.h"
#include "sync-job.h"

/* Bytes of output held for a reader that does not read (as watch_maildirs):
 * tens of thousands of lines, far beyond any burst; a reader that far
 * behind is better served by a restart and a full sync. */
#define OUTPUT_BACKLOG_MAX (1024 * 1024)

/* STATUS commands in flight at once on the polling connection.  Their
 * answers queue up in the socket while we are still sending; 64 answers
 * of about 100 bytes fit any socket buffer, so sending never waits for a
 * reader that is itself waiting to send. */
#define POLL_PIPELINE_MAX 64

/* Bytes read from stdin at a time; what it says is ignored, only its EOF
 * matters. */
#define STDIN_CHUNK 4096

/* ---- options ---------------------------------------------------------------- */

static MsImapWatchOptions opts = {
  .max_idle = MS_IMAP_WATCH_DEFAULT_MAX_IDLE,
  .poll_s = MS_IMAP_WATCH_DEFAULT_POLL_S,
  .keepalive_s = MS_IMAP_WATCH_DEFAULT_KEEPALIVE_S,
  .idle_renew_s = MS_IMAP_WATCH_IDLE_RENEW_MAX_S,
};

/* ---- output: the queue, stdout, and the end -------------------------------- */

typedef struct {
  GMutex lock;
  GMainLoop *loop;
  GString *buf;      /* bytes not yet written */
  gsize done;        /* how much of buf is written */
  guint watch;       /* G_IO_OUT source while buf has bytes left */
  gboolean started;  /* the start line is queued */
  gboolean finished;
  int status;
} Output;

static Output out;

/* --verbose: say on stderr what each connection hears. */
static gboolean verbose;

static gboolean
on_finished (gpointer data)
{
  g_main_loop_quit (out.loop);
  return G_SOURCE_REMOVE;
}

/* Ends the program with `status`, printing the message (if any) first.
 * Only the first call counts.  Any thread; out.lock must not be held. */
static void
finish (int status, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
finish (int status, const char *format, ...)
{
  g_mutex_lock (&out.lock);
  if (!out.finished) {
    out.finished = TRUE;
    out.status = status;
    if (format != NULL) {
      va_list ap;
      va_start (ap, format);
      g_autofree char *msg = g_strdup_vprintf (format, ap);
      va_end (ap);
      fprintf (stderr, "watch_imap: %s\n", msg);
    }
    /* From the main loop itself, so that a quit before it runs is not lost. */
    g_idle_add (on_finished, NULL);
  }
  g_mutex_unlock (&out.lock);
}

static gboolean
on_stdout_writable (int fd, GIOCondition cond, gpointer data)
{
  int gone_status = -1;
  int error_errno = 0;

  g_mutex_lock (&out.lock);
  if (cond & (G_IO_ERR | G_IO_HUP | G_IO_NVAL)) {
    gone_status = 0;
  } else {
    gsize left = out.buf->len - out.done;
    ssize_t n = write (fd, out.buf->str + out.done, MIN (left, (gsize) PIPE_BUF));
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      if (errno == EPIPE)
        gone_status = 0;
      else
        error_errno = errno;
    } else if (n > 0) {
      out.done += (gsize) n;
      if (out.done == out.buf->len) {
        g_string_truncate (out.buf, 0);
        out.done = 0;
      } else if (out.done >= out.buf->len / 2) {
        /* Drop what is written once it is half the buffer (see
         * watch_maildirs.c): the copy costs no more than the bytes
         * written since the last one. */
        g_string_erase (out.buf, 0, (gssize) out.done);
        out.done = 0;
      }
    }
  }
  gboolean more = gone_status < 0 && error_errno == 0 && out.buf->len > out.done;
  if (!more)
    out.watch = 0;
  g_mutex_unlock (&out.lock);

  if (gone_status >= 0)
    finish (gone_status, NULL);
  else if (error_errno != 0)
    finish (1, "writing to stdout: %s", g_strerror (error_errno));
  return more ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* Arms the stdout watch if there is something to write.  Locked. */
static void
output_kick_locked (void)
{
  if (out.started && out.watch == 0 && out.buf->len > out.done)
    out.watch = g_unix_fd_add (STDOUT_FILENO, G_IO_OUT, on_stdout_writable, NULL);
}

/* Queues lines ("\n"-terminated).  Any thread. */
static void
emit (const char *lines)
{
  gsize len = strlen (lines);
  gboolean overflow = FALSE;

  g_mutex_lock (&out.lock);
  if (!out.finished) {
    if (out.buf->len - out.done + len > OUTPUT_BACKLOG_MAX) {
      overflow = TRUE;
    } else {
      g_string_append_len (out.buf, lines, (gssize) len);
      output_kick_locked ();
    }
  }
  g_mutex_unlock (&out.lock);
  if (overflow)
    finish (2, "more than %d bytes of output are waiting for a reader that does not read; "
               "exiting so that a restart syncs everything",
            OUTPUT_BACKLOG_MAX);
}

/* Queues the start line before anything else. */
static void
emit_start (void)
{
  g_mutex_lock (&out.lock);
  g_string_insert_c (out.buf, (gssize) out.done, '\n');
  out.started = TRUE;
  output_kick_locked ();
  g_mutex_unlock (&out.lock);
}

static gboolean
on_stdin (int fd, GIOCondition cond, gpointer data)
{
  char buf[STDIN_CHUNK];
  ssize_t n = read (fd, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return G_SOURCE_CONTINUE;
  if (n > 0)
    return G_SOURCE_CONTINUE; /* nothing is said on stdin; only EOF counts */
  finish (0, NULL);
  return G_SOURCE_REMOVE;
}

static gboolean
on_stdout_gone (int fd, GIOCondition cond, gpointer data)
{
  finish (0, NULL);
  return G_SOURCE_REMOVE;
}

static void
log_handler (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  if ((level & G_LOG_LEVEL_DEBUG) && g_getenv ("G_MESSAGES_DEBUG") == NULL)
    return;
  fprintf (stderr, "watch_imap: %s%s\n", (level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL)) ? "warning: " : "",
           message);
}

/* ---- one connection ------------------------------------------------------------- */

typedef struct {
  MsChannelSetup *setup;   /* shared; nobody changes it once threads run */
  MsImapClient *imap;
  char *what;              /* for messages: "NOTIFY connection to HOST" ... */
  char delim;
  gboolean condstore;
  MsImapWatchBatch *batch; /* lines found in the current read */
  MsImapWatchTable *table; /* NOTIFY and polling: STATUS seen */
  gboolean initial;        /* taking the initial state: nothing is a change */
  gboolean polling;        /* STATUS rounds every --poll seconds */
  GPtrArray *listing;      /* during our LIST: canonical names found */
  const GPtrArray *idle_boxes; /* polling: mailboxes an IDLE connection has */
  char *idle_line;         /* IDLE: the line of its mailbox */
  char *idle_tag;          /* IDLE: the tag of the running IDLE */
} Conn;

static void
conn_free (Conn *c)
{
  if (c == NULL)
    return;
  g_clear_pointer (&c->imap, ms_imap_client_free);
  g_free (c->what);
  g_clear_pointer (&c->batch, ms_imap_watch_batch_free);
  g_clear_pointer (&c->table, ms_imap_watch_table_free);
  g_free (c->idle_line);
  g_free (c->idle_tag);
  g_free (c);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Conn, conn_free)

static Conn *
conn_open (MsChannelSetup *setup, const char *what, GError **error)
{
  g_autoptr (Conn) c = g_new0 (Conn, 1);
  c->setup = setup;
  c->what = g_strdup (what);
  c->batch = ms_imap_watch_batch_new ();
  c->imap = ms_imap_client_connect (&setup->imap, error);
  if (c->imap == NULL)
    return NULL;
  GError *local = NULL;
  c->delim = ms_imap_client_delimiter (c->imap, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return NULL;
  }
  c->condstore = ms_imap_client_has_cap (c->imap, "CONDSTORE");
  return g_steal_pointer (&c);
}

static void
conn_flush (Conn *c)
{
  g_autofree char *lines = ms_imap_watch_batch_take (c->batch);
  if (lines != NULL)
    emit (lines);
}

/* A server name's line, if the channel covers it. */
static void
batch_far (Conn *c, const char *far_name)
{
  g_autofree char *line = NULL, *box = NULL;
  if (!ms_imap_watch_map_far (c->setup, c->delim, far_name, &box, &line))
    return;
  /* Its STATUS starts afresh: the next one counts as news. */
  if (c->table != NULL)
    ms_imap_watch_table_remove (c->table, box);
  ms_imap_watch_batch_add (c->batch, line);
}

static gboolean
is_idle_box (const Conn *c, const char *box)
{
  return c->idle_boxes != NULL
         && g_ptr_array_find_with_equal_func ((GPtrArray *) c->idle_boxes, box, g_str_equal, NULL);
}

static void
on_status (Conn *c, const MsImapResponse *r)
{
  const char *far_name;
  MsImapWatchStatus st;
  g_autofree char *box = NULL, *line = NULL;
  if (c->table == NULL || !ms_imap_watch_parse_status (r, &far_name, &st)
      || !ms_imap_watch_map_far (c->setup, c->delim, far_name, &box, &line))
    return;
  if (is_idle_box (c, box))
    return;
  if (ms_imap_watch_table_update (c->table, box, &st, c->initial))
    ms_imap_watch_batch_add (c->batch, line);
}

static gboolean
list_flags_selectable (const MsImapValue *flags)
{
  /* classify() found a name at item 2, so the flags are there; a server
   * that sends no list there gets the benefit of the doubt. */
  if (ms_imap_value_get_kind (flags) != MS_IMAP_VALUE_LIST)
    return TRUE;
  for (guint i = 0; i < ms_imap_value_get_n_items (flags); i++) {
    const MsImapValue *f = ms_imap_value_get_item (flags, i);
    if (ms_imap_value_is_atom (f, "\\Noselect") || ms_imap_value_is_atom (f, "\\NonExistent"))
      return FALSE;
  }
  return TRUE;
}

static void
on_listing (Conn *c, const MsImapResponse *r, const char *far_name)
{
  const MsImapValue *flags = ms_imap_value_get_item (ms_imap_response_get_data (r), 0);
  g_autofree char *box = NULL;
  if (!list_flags_selectable (flags) || !ms_imap_watch_map_far (c->setup, c->delim, far_name, &box, NULL))
    return;
  if (!g_ptr_array_find_with_equal_func (c->listing, box, g_str_equal, NULL))
    g_ptr_array_add (c->listing, g_steal_pointer (&box));
}

/* Handles one untagged response; FALSE (with error) when it says the
 * connection or the notifications are gone. */
static gboolean
conn_handle (Conn *c, const MsImapResponse *r, GError **error)
{
  const char *name = NULL, *old_name = NULL;
  if (verbose) {
    g_autofree char *text = ms_imap_response_to_string (r);
    g_debug ("%s: %s", c->what, text);
  }
  switch (ms_imap_watch_classify (r, &name, &old_name)) {
  case MS_IMAP_WATCH_EVENT_LOST: {
    const char *code = ms_imap_response_get_code (r);
    g_set_error (error, MS_ERROR, MS_ERROR_PROTOCOL, "server said %s%s%s%s: %s", ms_imap_response_get_keyword (r),
                 code ? " [" : "", code ? code : "", code ? "]" : "", ms_imap_response_get_text (r));
    return FALSE;
  }
  case MS_IMAP_WATCH_EVENT_STATUS:
    on_status (c, r);
    break;
  case MS_IMAP_WATCH_EVENT_LIST:
    if (c->listing != NULL) {
      on_listing (c, r, name);
    } else {
      batch_far (c, name);
      if (old_name != NULL)
        batch_far (c, old_name);
    }
    break;
  case MS_IMAP_WATCH_EVENT_SELECTED:
    if (c->idle_line != NULL)
      ms_imap_watch_batch_add (c->batch, c->idle_line);
    break;
  case MS_IMAP_WATCH_EVENT_NONE:
    break;
  }
  return TRUE;
}

/* Reads until `tag` completes, handling untagged responses; *cond is its
 * condition and *text (may be NULL) its text (transfer full). */
static gboolean
conn_wait_tag (Conn *c, const char *tag, MsImapCondition *cond, char **text, GError **error)
{
  for (;;) {
    g_autoptr (MsImapResponse) r = ms_imap_client_read_one (c->imap, -1, error);
    if (r == NULL)
      return FALSE;
    switch (ms_imap_response_get_kind (r)) {
    case MS_IMAP_RESPONSE_TAGGED:
      if (g_strcmp0 (ms_imap_response_get_tag (r), tag) != 0) {
        g_set_error (error, MS_ERROR, MS_ERROR_PROTOCOL, "unexpected tag %s while waiting for %s",
                     ms_imap_response_get_tag (r), tag);
        return FALSE;
      }
      *cond = ms_imap_response_get_condition (r);
      if (text != NULL)
        *text = g_strdup (ms_imap_response_get_text (r));
      return TRUE;
    case MS_IMAP_RESPONSE_UNTAGGED:
      if (!conn_handle (c, r, error))
        return FALSE;
      break;
    case MS_IMAP_RESPONSE_CONTINUATION:
      g_set_error (error, MS_ERROR, MS_ERROR_PROTOCOL, "unexpected continuation while waiting for %s", tag);
      return FALSE;
    }
  }
}

/* Runs a command to completion; NO or BAD fail with the server's text. */
static gboolean
conn_run (Conn *c, GError **error, const char *format, ...) G_GNUC_PRINTF (3, 4);

static gboolean
conn_run (Conn *c, GError **error, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *cmd = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_autofree char *tag = ms_imap_client_send (c->imap, error, "%s", cmd);
  if (tag == NULL)
    return FALSE;
  MsImapCondition cond;
  g_autofree char *text = NULL;
  if (!conn_wait_tag (c, tag, &cond, &text, error))
    return FALSE;
  if (cond != MS_IMAP_CONDITION_OK) {
    /* Only the command word: a mailbox name is the server's business. */
    g_autofree char *word = g_strndup (cmd, strcspn (cmd, " "));
    g_set_error (error, MS_ERROR, MS_ERROR_PROTOCOL, "server refused %s: %s", word, text ? text : "");
    return FALSE;
  }
  return TRUE;
}

/* Waits up to timeout_ms for unsolicited responses, handles them and
 * everything that came with them, and queues their lines at once. */
static gboolean
conn_read_events (Conn *c, gint timeout_ms, GError **error)
{
  /* The first wait may be long; then, as a burst, whatever came in the
   * same read (timeout 0): one line per mailbox for all of it. */
  for (gint wait = timeout_ms;; wait = 0) {
    GError *local = NULL;
    g_autoptr (MsImapResponse) r = ms_imap_client_read_one (c->imap, wait, &local);
    if (r == NULL) {
      if (local != NULL) {
        g_propagate_error (error, local);
        return FALSE;
      }
      break; /* nothing (more) in time */
    }
    if (ms_imap_response_get_kind (r) != MS_IMAP_RESPONSE_UNTAGGED) {
      g_set_error_literal (error, MS_ERROR, MS_ERROR_PROTOCOL, "unexpected response with no command running");
      return FALSE;
    }
    if (!conn_handle (c, r, error))
      return FALSE;
  }
  conn_flush (c);
  return TRUE;
}

static void
connection_lost (Conn *c, const GError *error)
{
  finish (2, "%s: connection lost: %s; exiting so that a restart syncs everything", c->what,
          error ? error->message : "unknown error");
}

/* ---- listing and polling ------------------------------------------------------- */

/* The channel's mailboxes on the server (canonical names), as
 * ms_sync_list_boxes() finds them but without the Maildir's. */
static GPtrArray *
conn_list (Conn *c, GError **error)
{
  g_autoptr (GPtrArray) boxes = g_ptr_array_new_with_free_func (g_free);
  if (c->setup->single_box != NULL) {
    g_ptr_array_add (boxes, g_strdup (c->setup->single_box));
    return g_steal_pointer (&boxes);
  }
  g_autofree char *pattern = ms_sync_list_pattern (c->setup->far_prefix);
  c->listing = boxes;
  gboolean ok = conn_run (c, error, "LIST \"\" %s", pattern) && conn_run (c, error, "LIST \"\" INBOX");
  c->listing = NULL;
  return ok ? g_steal_pointer (&boxes) : NULL;
}

/* One STATUS round over the channel's mailboxes (less those an IDLE
 * connection watches); mailboxes gone since the last round are changes. */
static gboolean
conn_poll (Conn *c, GError **error)
{
  g_autoptr (GPtrArray) boxes = conn_list (c, error);
  if (boxes == NULL)
    return FALSE;
  const char *items = ms_imap_watch_status_items (c->condstore);
  MsSyncContext ctx = { .far_prefix = c->setup->far_prefix };

  ms_imap_watch_table_begin_round (c->table);
  for (guint i = 0; i < boxes->len;) {
    g_autoptr (GPtrArray) tags = g_ptr_array_new_with_free_func (g_free);
    for (; i < boxes->len && tags->len < POLL_PIPELINE_MAX; i++) {
      const char *box = g_ptr_array_index (boxes, i);
      if (is_idle_box (c, box))
        continue;
      g_autofree char *far = ms_sync_far_name (&ctx, c->delim, box, NULL);
      if (far == NULL)
        continue;
      g_autofree char *quoted = ms_imap_quote (far);
      char *tag = ms_imap_client_send (c->imap, error, "STATUS %s %s", quoted, items);
      if (tag == NULL)
        return FALSE;
      g_ptr_array_add (tags, tag);
    }
    for (guint t = 0; t < tags->len; t++) {
      MsImapCondition cond;
      /* NO: the mailbox went away since the LIST; the sweep reports it. */
      if (!conn_wait_tag (c, g_ptr_array_index (tags, t), &cond, NULL, error))
        return FALSE;
    }
  }
  g_autoptr (GPtrArray) gone = ms_imap_watch_table_end_round (c->table);
  if (!c->initial) {
    for (guint i = 0; i < gone->len; i++) {
      g_autofree char *line = ms_imap_watch_output_name (c->setup->maildir.layout, g_ptr_array_index (gone, i));
      ms_imap_watch_batch_add (c->batch, line);
    }
  }
  conn_flush (c);
  return TRUE;
}

/* ---- the connection threads ------------------------------------------------------ */

/* NOTIFY, or polling: NOOPs and STATUS rounds by the timer, and whatever
 * the server sends in between. */
static gpointer
status_thread (gpointer data)
{
  Conn *c = data;
  MsImapWatchTimer timer;
  g_autoptr (GError) error = NULL;

  ms_imap_watch_timer_init (&timer, c->polling ? opts.poll_s : 0, opts.keepalive_s, g_get_monotonic_time ());
  for (;;) {
    gint wait_ms;
    MsImapWatchDue due = ms_imap_watch_timer_due (&timer, g_get_monotonic_time (), &wait_ms);
    if (due == MS_IMAP_WATCH_DUE_POLL) {
      if (!conn_poll (c, &error))
        break;
    } else if (due == MS_IMAP_WATCH_DUE_KEEPALIVE) {
      if (!conn_run (c, &error, "NOOP"))
        break;
      g_debug ("%s: alive", c->what);
      conn_flush (c);
    } else {
      if (!conn_read_events (c, wait_ms, &error))
        break;
      continue;
    }
    ms_imap_watch_timer_done (&timer, due, g_get_monotonic_time ());
  }
  connection_lost (c, error);
  return NULL;
}

/* Sends IDLE and reads until the server's continuation. */
static gboolean
idle_start (Conn *c, GError **error)
{
  g_free (c->idle_tag);
  c->idle_tag = ms_imap_client_send (c->imap, error, "IDLE");
  if (c->idle_tag == NULL)
    return FALSE;
  for (;;) {
    g_autoptr (MsImapResponse) r = ms_imap_client_read_one (c->imap, -1, error);
    if (r == NULL)
      return FALSE;
    switch (ms_imap_response_get_kind (r)) {
    case MS_IMAP_RESPONSE_CONTINUATION:
      conn_flush (c);
      return TRUE;
    case MS_IMAP_RESPONSE_TAGGED:
      g_set_error (error, MS_ERROR, MS_ERROR_PROTOCOL, "server refused IDLE: %s", ms_imap_response_get_text (r));
      return FALSE;
    case MS_IMAP_RESPONSE_UNTAGGED:
      if (!conn_handle (c, r, error))
        return FALSE;
      break;
    }
  }
}

/* Ends the running IDLE (DONE and its tagged OK prove the connection
 * alive), and starts the next one. */
static gboolean
idle_renew (Conn *c, GError **error)
{
  MsImapCondition cond;
  g_autofree char *text = NULL;
  if (!ms_imap_client_send_raw (c->imap, "DONE\r\n", error) || !conn_wait_tag (c, c->idle_tag, &cond, &text, error))
    return FALSE;
  if (cond != MS_IMAP_CONDITION_OK) {
    g_set_error (error, MS_ERROR, MS_ERROR_PROTOCOL, "server ended IDLE with: %s", text ? text : "");
    return FALSE;
  }
  conn_flush (c);
  if (!idle_start (c, error))
    return FALSE;
  g_debug ("%s: IDLE renewed", c->what);
  return TRUE;
}

static gpointer
idle_thread (gpointer data)
{
  Conn *c = data;
  MsImapWatchTimer timer;
  g_autoptr (GError) error = NULL;

  ms_imap_watch_timer_init (&timer, 0, ms_imap_watch_idle_period (opts.keepalive_s, opts.idle_renew_s),
                            g_get_monotonic_time ());
  for (;;) {
    gint wait_ms;
    MsImapWatchDue due = ms_imap_watch_timer_due (&timer, g_get_monotonic_time (), &wait_ms);
    if (due == MS_IMAP_WATCH_DUE_NOTHING) {
      if (!conn_read_events (c, wait_ms, &error))
        break;
      continue;
    }
    if (!idle_renew (c, &error))
      break;
    ms_imap_watch_timer_done (&timer, due, g_get_monotonic_time ());
  }
  connection_lost (c, error);
  return NULL;
}

/* ---- setting up --------------------------------------------------------------------- */

/* Where the connections go, for messages. */
static const char *
server_name (const MsChannelSetup *setup)
{
  return setup->imap.transport.tunnel ? "the Tunnel" : setup->imap.transport.host;
}

/* Opens an IDLE connection on `box`, with the mailbox examined and IDLE
 * running; NULL (error set) if the server will not. */
static Conn *
idle_open (MsChannelSetup *setup, const char *box, GError **error)
{
  g_autofree char *what = g_strdup_printf ("IDLE connection to %s for %s", server_name (setup), box);
  g_autoptr (Conn) c = conn_open (setup, what, error);
  if (c == NULL)
    return NULL;
  MsSyncContext ctx = { .far_prefix = setup->far_prefix };
  g_autofree char *far = ms_sync_far_name (&ctx, c->delim, box, error);
  if (far == NULL)
    return NULL;
  g_autofree char *quoted = ms_imap_quote (far);
  if (!conn_run (c, error, "EXAMINE %s", quoted) || !idle_start (c, error))
    return NULL;
  c->idle_line = ms_imap_watch_output_name (setup->maildir.layout, box);
  return g_steal_pointer (&c);
}

/* NOTIFY on the first connection: the initial STATUS of every mailbox
 * comes with it.  FALSE with no error when the server refuses (then the
 * next rung is tried). */
static gboolean
notify_setup (Conn *c, GError **error)
{
  /* Dovecot sends HIGHESTMODSEQ, the only sign of most flag changes, in
   * NOTIFY's STATUS only once CONDSTORE is enabled (QRESYNC enables it,
   * and ms_imap_client_connect() enables QRESYNC when it can). */
  if (c->condstore && !ms_imap_client_has_cap (c->imap, "QRESYNC") && ms_imap_client_has_cap (c->imap, "ENABLE")
      && !conn_run (c, error, "ENABLE CONDSTORE"))
    return FALSE;
  g_autofree char *quoted = NULL;
  if (c->setup->single_box != NULL) {
    MsSyncContext ctx = { .far_prefix = c->setup->far_prefix };
    g_autofree char *far = ms_sync_far_name (&ctx, c->delim, c->setup->single_box, error);
    if (far == NULL)
      return FALSE;
    quoted = ms_imap_quote (far);
  }
  g_autofree char *cmd = ms_imap_watch_notify_command (quoted);
  g_autofree char *tag = ms_imap_client_send (c->imap, error, "%s", cmd);
  if (tag == NULL)
    return FALSE;
  MsImapCondition cond;
  g_autofree char *text = NULL;
  c->initial = TRUE;
  gboolean ok = conn_wait_tag (c, tag, &cond, &text, error);
  c->initial = FALSE;
  if (!ok)
    return FALSE;
  if (cond != MS_IMAP_CONDITION_OK) {
    g_message ("the server refused NOTIFY (%s); trying the next method", text ? text : "");
    return FALSE;
  }
  return TRUE;
}

static int G_GNUC_NORETURN
quit (int status)
{
  fflush (stdout);
  fflush (stderr);
  _exit (status);
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  signal (SIGPIPE, SIG_IGN);
  g_log_set_default_handler (log_handler, NULL);

  g_autofree char *config_path = NULL;
  g_auto (GStrv) hot = NULL;
  g_auto (GStrv) args = NULL;
  gint max_idle = MS_IMAP_WATCH_DEFAULT_MAX_IDLE, poll_s = MS_IMAP_WATCH_DEFAULT_POLL_S,
       keepalive_s = MS_IMAP_WATCH_DEFAULT_KEEPALIVE_S, idle_renew_s = MS_IMAP_WATCH_IDLE_RENEW_MAX_S;
  gboolean version = FALSE;
  const GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Read FILE instead of ~/.mbsyncrc", "FILE" },
    { "hot", 0, 0, G_OPTION_ARG_STRING_ARRAY, &hot, "Watch NAME with IDLE besides INBOX (repeatable)", "NAME" },
    { "max-idle", 0, 0, G_OPTION_ARG_INT, &max_idle, "At most N IDLE connections (default 3)", "N" },
    { "poll", 0, 0, G_OPTION_ARG_INT, &poll_s, "Poll the other mailboxes every SECONDS (default 60)", "SECONDS" },
    { "keepalive", 0, 0, G_OPTION_ARG_INT, &keepalive_s, "Check each connection every SECONDS (default 60)",
      "SECONDS" },
    { "idle-renew", 0, 0, G_OPTION_ARG_INT, &idle_renew_s, "Re-issue IDLE after SECONDS at most (default 1740)",
      "SECONDS" },
    { "verbose", 'V', 0, G_OPTION_ARG_NONE, &verbose, "Say on stderr how the account is watched", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &args, NULL, "CHANNEL" },
    { NULL },
  };
  g_autoptr (GOptionContext) octx = g_option_context_new ("- print the names of IMAP mailboxes as they change");
  g_option_context_add_main_entries (octx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (octx, &argc, &argv, &error)) {
    g_printerr ("watch_imap: %s\nTry 'watch_imap --help'.\n", error->message);
    return 1;
  }
  if (version) {
    printf ("watch_imap %s\n", MS_VERSION);
    return 0;
  }
  if (args == NULL || args[0] == NULL || args[1] != NULL) {
    g_printerr ("watch_imap: give exactly one CHANNEL\nTry 'watch_imap --help'.\n");
    return 1;
  }
  if (max_idle < 0 || poll_s < 0 || keepalive_s < 0 || idle_renew_s < 0) {
    g_printerr ("watch_imap: numbers must not be negative\nTry 'watch_imap --help'.\n");
    return 1;
  }
  opts = (MsImapWatchOptions) { (guint) max_idle, (guint) poll_s, (guint) keepalive_s, (guint) idle_renew_s };
  if (!ms_imap_watch_options_check (&opts, &error)) {
    g_printerr ("watch_imap: %s\nTry 'watch_imap --help'.\n", error->message);
    return 1;
  }
  if (verbose)
    g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);

  /* With stdout closed nobody can hear us: behave as if the reader left. */
  if (fcntl (STDOUT_FILENO, F_GETFD) < 0)
    return 0;
  gboolean stdin_open = ms_fd_fill_std (TRUE);

  g_autoptr (MsMbsyncConfig) config = ms_channel_load_config (config_path, &error);
  if (config == NULL) {
    g_printerr ("watch_imap: %s\n", error->message);
    return 1;
  }
  const MsMbsyncChannel *channel = ms_mbsync_config_find_channel (config, args[0]);
  if (channel == NULL) {
    g_autofree char *why = ms_channel_missing_message (config, args[0]);
    g_printerr ("watch_imap: %s\n", why);
    return 1;
  }
  g_autoptr (MsChannelSetup) setup = ms_channel_setup_new (config, channel, g_get_home_dir (), &error);
  if (setup == NULL) {
    g_printerr ("watch_imap: %s\n", error->message);
    return 1;
  }
  for (guint i = 0; i < setup->warnings->len; i++)
    g_warning ("%s", (const char *) g_ptr_array_index (setup->warnings, i));
  /* A watcher that waits forever for an answer cannot notice a dead link:
   * mbsync's Timeout 0 ("none") gets the default bound here. */
  if (setup->imap.transport.timeout_s == 0)
    setup->imap.transport.timeout_s = MS_TRANSPORT_TIMEOUT_S;

  /* Hot mailboxes may be named as either watcher names them, or canonically. */
  g_autoptr (GPtrArray) hot_boxes = g_ptr_array_new_with_free_func (g_free);
  for (char **h = hot; h != NULL && *h != NULL; h++) {
    char *box = ms_channel_setup_box_from_name (setup, *h, &error);
    if (box == NULL) {
      g_printerr ("watch_imap: --hot %s: %s\n", *h, error->message);
      return 1;
    }
    g_ptr_array_add (hot_boxes, box);
  }
  g_ptr_array_add (hot_boxes, NULL);

  if (!ms_channel_setup_fetch_secret (setup, &error)) {
    g_printerr ("watch_imap: %s: %s\n", channel->name, error->message);
    return 1;
  }

  /* The first connection: NOTIFY, or the polling one. */
  g_autofree char *first_what = g_strdup_printf ("connection to %s", server_name (setup));
  g_autoptr (Conn) main_conn = conn_open (setup, first_what, &error);
  if (main_conn == NULL) {
    g_printerr ("watch_imap: %s: %s\n", channel->name, error->message);
    return 1;
  }
  main_conn->table = ms_imap_watch_table_new ();
  MsImapWatchMethod method
    = ms_imap_watch_choose_method (ms_imap_client_has_cap (main_conn->imap, "NOTIFY"),
                                   ms_imap_client_has_cap (main_conn->imap, "IDLE"), opts.max_idle);
  if (method == MS_IMAP_WATCH_NOTIFY && !notify_setup (main_conn, &error)) {
    if (error != NULL) {
      g_printerr ("watch_imap: %s: %s\n", channel->name, error->message);
      return 1;
    }
    g_clear_pointer (&main_conn->table, ms_imap_watch_table_free);
    main_conn->table = ms_imap_watch_table_new ();
    method = ms_imap_watch_choose_method (FALSE, ms_imap_client_has_cap (main_conn->imap, "IDLE"), opts.max_idle);
  }

  g_autoptr (GPtrArray) idle_conns = g_ptr_array_new_with_free_func ((GDestroyNotify) conn_free);
  g_autoptr (GPtrArray) idle_boxes = g_ptr_array_new_with_free_func (g_free);
  if (method == MS_IMAP_WATCH_IDLE) {
    g_autoptr (GPtrArray) boxes = conn_list (main_conn, &error);
    if (boxes == NULL) {
      g_printerr ("watch_imap: %s: %s\n", channel->name, error->message);
      return 1;
    }
    g_autoptr (GPtrArray) plan = ms_imap_watch_plan_idle (boxes, setup->single_box,
                                                          (const char *const *) hot_boxes->pdata, opts.max_idle);
    for (guint i = 0; i < plan->len; i++) {
      const char *box = g_ptr_array_index (plan, i);
      Conn *c = idle_open (setup, box, &error);
      if (c == NULL) {
        /* A mailbox the server will not examine is polled like the rest. */
        g_message ("no IDLE for %s: %s", box, error->message);
        g_clear_error (&error);
        continue;
      }
      g_ptr_array_add (idle_conns, c);
      g_ptr_array_add (idle_boxes, g_strdup (box));
    }
    main_conn->idle_boxes = idle_boxes;
    if (idle_conns->len == 0)
      method = MS_IMAP_WATCH_POLL;
  }
  if (method != MS_IMAP_WATCH_NOTIFY) {
    main_conn->polling = TRUE;
    main_conn->initial = TRUE;
    gboolean ok = conn_poll (main_conn, &error);
    main_conn->initial = FALSE;
    if (!ok) {
      g_printerr ("watch_imap: %s: %s\n", channel->name, error->message);
      return 1;
    }
  }
  g_free (main_conn->what);
  main_conn->what = method == MS_IMAP_WATCH_NOTIFY
                      ? g_strdup_printf ("NOTIFY connection to %s", server_name (setup))
                      : g_strdup_printf ("polling connection to %s", server_name (setup));
  guint known = ms_imap_watch_table_size (main_conn->table);
  g_debug ("channel %s: watching %s by %s, %u mailbox%s known%s", channel->name, server_name (setup),
           ms_imap_watch_method_name (method), known, known == 1 ? "" : "es",
           method == MS_IMAP_WATCH_IDLE ? " besides the IDLE ones" : "");
  for (guint i = 0; i < idle_boxes->len; i++)
    g_debug ("IDLE on %s", (const char *) g_ptr_array_index (idle_boxes, i));

  /* Running: the start line, then the threads and the main loop. */
  out.loop = g_main_loop_new (NULL, FALSE);
  out.buf = g_string_new (NULL);
  emit_start ();
  if (stdin_open)
    g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, NULL);
  /* POLLERR/POLLHUP only: a reader that leaves while nothing changes is
   * noticed at once rather than at our next write. */
  g_unix_fd_add (STDOUT_FILENO, G_IO_ERR | G_IO_HUP, on_stdout_gone, NULL);

  /* The threads own their connections from here, and borrow setup,
   * config and idle_boxes, which live in this frame: main() never returns,
   * the process ends with _exit() (quit()) while threads may still be
   * blocked in a read. */
  while (idle_conns->len > 0)
    g_thread_unref (g_thread_new ("idle", idle_thread, g_ptr_array_steal_index (idle_conns, idle_conns->len - 1)));
  g_thread_unref (g_thread_new ("status", status_thread, g_steal_pointer (&main_conn)));

  g_main_loop_run (out.loop);
  g_mutex_lock (&out.lock);
  int status = out.status;
  g_mutex_unlock (&out.lock);
  quit (status);
}
