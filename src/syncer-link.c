/* syncer-link.c — see syncer-link.h for the states and docs/protocol.md for
 * the protocol.
 *
 * Requests live in one of three places: `waiting` (made, not yet sent,
 * because MS_SYNCER_MAX_INFLIGHT are out), `inflight` (sent, by tag) and,
 * for the length of a failure, `dying` (being answered with RETRY).  An
 * answer callback may make new requests or forget old ones (the owner's
 * batch ended), so a request is always taken out of its table before its
 * callback runs, and forget() clears callbacks in all three places.
 *
 * Re-entrancy: a failure can be detected in the middle of reading a chunk
 * of output (a bad greeting), in a callback of the supervisor that is about
 * to touch the child again (ms_child_drain_output), or while answering.  So
 * a failure never frees the child: it closes both pipes, asks the child to
 * stop and bumps `generation`, which every loop over syncer output checks
 * before it goes on.  The old child is freed only by the restart timer, once
 * its exit has been seen.
 *
 * Writes: request lines are appended to `out` and written by a G_IO_OUT
 * watch, never from within request(), so that a broken pipe is found in
 * the main loop and not in the middle of an owner's callback.  `out` holds
 * at most MS_SYNCER_MAX_INFLIGHT lines.
 */
#include "syncer-link.h"

#include <errno.h>
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dispatch.h"
#include "line-splitter.h"
#include "mailbox-name.h"
#include "messages.h"
#include "ms-error.h"
#include "queue.h"
#include "supervisor.h"
#include "ms-time.h"

#define GREETING_WORD "MSWATCH-SYNCER"
#define CONNECTION_WORD "CONNECTION"

/* A syncer that closes its stdout is nearly always exiting: waiting this
 * long for its exit lets us report its status, not just the EOF. */
#define EOF_GRACE_MS 1000

/* The longest request line, "TAG SYNC NAME", must fit the protocol's limit. */
G_STATIC_ASSERT (MS_SYNCER_TAG_MAX + sizeof " SYNC " + MS_MAILBOX_NAME_MAX <= MS_SYNCER_LINE_MAX);

/* --- parsing one line (pure) ------------------------------------------------- */

static gboolean
protocol_error (GError **error, const char *why)
{
  g_set_error_literal (error, MS_ERROR, MS_ERROR_PROTOCOL, why);
  return FALSE;
}

/* Text for humans must be UTF-8 without ASCII control characters but tab
 * (a syncer must not drive our terminal or split our log lines).  Returns
 * what is wrong with it, or NULL. */
static const char *
check_text (const char *text, gsize len)
{
  if (!g_utf8_validate_len (text, len, NULL))
    return "not valid UTF-8";
  for (gsize i = 0; i < len; i++)
    if (((guchar) text[i] < 0x20 && text[i] != '\t') || text[i] == 0x7f)
      return "contains a control character";
  return NULL;
}

/* Splits off the word at *p (up to a space or `end`): *p moves past the
 * word and the one space after it, if any.  `spaced` tells whether that
 * space was there. */
static void
next_word (const char **p, const char *end, const char **word, gsize *word_len, gboolean *spaced)
{
  const char *sp = memchr (*p, ' ', (gsize) (end - *p));
  *word = *p;
  *word_len = (gsize) ((sp ? sp : end) - *p);
  *spaced = sp != NULL;
  *p = sp ? sp + 1 : end;
}

static gboolean
parse_number (const char *s, gsize len, guint max_digits, gint64 *out, const char *what,
              GError **error)
{
  gint64 v = 0;

  if (len == 0) {
    g_set_error (error, MS_ERROR, MS_ERROR_PROTOCOL, "%s is missing", what);
    return FALSE;
  }
  if (len > max_digits) {
    g_set_error (error, MS_ERROR, MS_ERROR_PROTOCOL, "%s has more than %u digits", what, max_digits);
    return FALSE;
  }
  for (gsize i = 0; i < len; i++) {
    if (!g_ascii_isdigit (s[i])) {
      g_set_error (error, MS_ERROR, MS_ERROR_PROTOCOL, "%s is not a decimal number", what);
      return FALSE;
    }
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return TRUE;
}

/* Whether [p, end) starts with the word `word`, alone or followed by a space. */
static gboolean
has_word (const char *p, const char *end, const char *word)
{
  gsize len = strlen (word);
  return (gsize) (end - p) >= len && memcmp (p, word, len) == 0 && (p + len == end || p[len] == ' ');
}

static gboolean
parse_star (const char *p, const char *end, MsSyncerLine *line, GError **error)
{
  /* p is just past the '*'. */
  if (p == end) {
    line->kind = MS_SYNCER_LINE_INFO;
    line->text = p;
    line->text_len = 0;
    return TRUE;
  }
  if (*p != ' ')
    return protocol_error (error, "'*' is not followed by a space");
  p++;

  if (has_word (p, end, GREETING_WORD)) {
    const char *word;
    gsize word_len;
    gboolean spaced;
    gint64 version;

    p += strlen (GREETING_WORD);
    if (p == end)
      return protocol_error (error, "greeting without a version");
    p++;
    next_word (&p, end, &word, &word_len, &spaced);
    if (!parse_number (word, word_len, MS_SYNCER_VERSION_DIGITS_MAX, &version, "greeting version",
                       error))
      return FALSE;
    line->kind = MS_SYNCER_LINE_GREETING;
    line->version = (guint) version;
  } else if (has_word (p, end, CONNECTION_WORD)) {
    line->kind = MS_SYNCER_LINE_CONNECTION;
    p += strlen (CONNECTION_WORD) + (p + strlen (CONNECTION_WORD) < end);
  } else {
    line->kind = MS_SYNCER_LINE_INFO;
  }
  line->text = p;
  line->text_len = (gsize) (end - p);
  line->text_error = check_text (line->text, line->text_len);
  return TRUE;
}

gboolean
ms_syncer_line_parse (const char *text, gsize len, MsSyncerLine *out, GError **error)
{
  const char *p = text, *end = text + len;
  const char *word;
  gsize word_len;
  gboolean spaced;
  MsSyncerLine line = { 0 };

  g_return_val_if_fail (text != NULL || len == 0, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  if (len == 0)
    return protocol_error (error, "empty line");

  if (*p == '*') {
    if (!parse_star (p + 1, end, &line, error))
      return FALSE;
    *out = line;
    return TRUE;
  }

  next_word (&p, end, &word, &word_len, &spaced);
  if (word_len == 0)
    return protocol_error (error, "empty tag");
  if (word_len > MS_SYNCER_TAG_MAX)
    return protocol_error (error, "tag longer than 16 characters");
  for (gsize i = 0; i < word_len; i++)
    if (!g_ascii_isalnum (word[i]))
      return protocol_error (error, "tag has a character other than A-Z, a-z and 0-9");
  memcpy (line.tag, word, word_len);
  line.tag[word_len] = '\0';

  if (!spaced)
    return protocol_error (error, "no keyword after the tag");
  next_word (&p, end, &word, &word_len, &spaced);
#define IS(kw) (word_len == strlen (kw) && memcmp (word, kw, word_len) == 0)
  if (IS ("OK")) {
    line.kind = MS_SYNCER_LINE_OK;
    if (!spaced)
      return protocol_error (error, "OK without its two counts");
    next_word (&p, end, &word, &word_len, &spaced);
    if (!parse_number (word, word_len, MS_SYNCER_COUNT_DIGITS_MAX, &line.in, "IN count", error))
      return FALSE;
    if (!spaced)
      return protocol_error (error, "OK without its OUT count");
    next_word (&p, end, &word, &word_len, &spaced);
    if (!parse_number (word, word_len, MS_SYNCER_COUNT_DIGITS_MAX, &line.out, "OUT count", error))
      return FALSE;
  } else if (IS ("RETRY")) {
    line.kind = MS_SYNCER_LINE_RETRY;
  } else if (IS ("FAIL")) {
    line.kind = MS_SYNCER_LINE_FAIL;
  } else if (IS ("PROGRESS")) {
    line.kind = MS_SYNCER_LINE_PROGRESS;
  } else if (word_len == 0) {
    return protocol_error (error, "no keyword after the tag");
  } else {
    return protocol_error (error, "unknown keyword");
  }
#undef IS
  line.text = p;
  line.text_len = (gsize) (end - p);
  line.text_error = check_text (line.text, line.text_len);
  *out = line;
  return TRUE;
}

/* --- the link ------------------------------------------------------------------ */

typedef struct {
  guint64 seq;      /* order of the request() calls */
  char tag[MS_SYNCER_TAG_MAX + 1];
  char *name;       /* as requested; NULL or "" for all mailboxes */
  gint64 sent;      /* monotonic ms when its line was queued for writing */
  MsSyncerProgress progress; /* what its PROGRESS lines said */
  MsSyncerAnswerFunc answer; /* NULL once forgotten */
  gpointer user_data;
} Request;

struct MsSyncerLink {
  const MsConfig *config;
  MsSyncerReadyFunc ready;
  gpointer ready_data;

  MsSyncerState state;
  guint generation;      /* bumped by every failure; see the top of this file */
  MsChild *child;        /* also while RESTARTING, until the restart timer frees it */
  MsLineSplitter *lines;
  GString *out;          /* request lines not yet written */
  guint write_source;
  guint greeting_source;
  guint eof_source;      /* EOF seen on its stdout; waiting for its exit */
  guint timeout_source;  /* sync_timeout of the oldest request in flight */
  guint restart_source;
  gint64 restart_due;
  gint64 since;          /* monotonic ms of the greeting, while RUNNING */
  char *connection;      /* the running syncer's last "* CONNECTION" text, or NULL */
  gint64 connection_since; /* monotonic ms it came */
  MsBackoff backoff;
  guint32 next_tag;
  guint64 next_seq;

  GHashTable *inflight;  /* tag -> Request (owned) */
  GQueue waiting;        /* Request (owned), in request order */
  GPtrArray *dying;      /* Request (owned), being answered with RETRY */
};

static void request_free (Request *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Request, request_free)

static void
request_free (Request *r)
{
  g_free (r->name);
  ms_syncer_progress_clear (&r->progress);
  g_free (r);
}

static const char *
prog (const MsSyncerLink *link)
{
  return link->config->syncer_argv[0];
}

const char *
ms_syncer_state_name (MsSyncerState state)
{
  switch (state) {
  case MS_SYNCER_STOPPED:
    return "stopped";
  case MS_SYNCER_GREETING:
    return "greeting";
  case MS_SYNCER_RUNNING:
    return "running";
  case MS_SYNCER_RESTARTING:
    return "restarting";
  }
  return "?";
}

MsSyncerState
ms_syncer_link_state (const MsSyncerLink *link)
{
  return link->state;
}

guint
ms_syncer_link_outstanding (const MsSyncerLink *link)
{
  return g_hash_table_size (link->inflight) + link->waiting.length;
}

static void start_child (MsSyncerLink *link);

/* --- failure and restart ---------------------------------------------------- */

static gboolean
on_restart (gpointer data)
{
  MsSyncerLink *link = data;
  link->restart_source = 0;
  g_clear_pointer (&link->child, ms_child_free); /* reaped already */
  start_child (link);
  return G_SOURCE_REMOVE;
}

/* Arms the restart once the old child is gone. */
static void
arm_restart (MsSyncerLink *link)
{
  g_clear_handle_id (&link->restart_source, g_source_remove);
  gint64 delay = MAX (link->restart_due - ms_time_mono_ms (), 0);
  link->restart_source = g_timeout_add ((guint) MIN (delay, G_MAXINT32), on_restart, link);
}

static gint
compare_seq (gconstpointer a, gconstpointer b)
{
  const Request *ra = *(Request *const *) a, *rb = *(Request *const *) b;
  return ra->seq < rb->seq ? -1 : ra->seq > rb->seq;
}

/* Stops the child, answers every outstanding request with RETRY (in the
 * order they were made) and arms the restart for after the backoff delay. */
static void
fail_link (MsSyncerLink *link, const char *reason)
{
  gint64 delay = ms_backoff_next (&link->backoff);

  link->generation++;
  link->state = MS_SYNCER_RESTARTING;
  g_clear_pointer (&link->connection, g_free); /* the next one's is unknown */
  g_clear_handle_id (&link->write_source, g_source_remove);
  g_clear_handle_id (&link->greeting_source, g_source_remove);
  g_clear_handle_id (&link->eof_source, g_source_remove);
  g_clear_handle_id (&link->timeout_source, g_source_remove);
  g_clear_pointer (&link->lines, ms_line_splitter_free);
  g_string_truncate (link->out, 0);
  link->restart_due = ms_time_mono_ms () + MAX (delay, MS_DISPATCH_MIN_RETRY_MS);

  if (link->child != NULL) {
    ms_child_close_output (link->child);
    ms_child_close_input (link->child);
    ms_child_stop (link->child, MS_CHILD_STOP_GRACE_MS);
  }
  if (link->child == NULL || !ms_child_running (link->child))
    arm_restart (link);

  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, link->inflight);
  while (g_hash_table_iter_next (&it, NULL, &value)) {
    g_ptr_array_add (link->dying, value);
    g_hash_table_iter_steal (&it);
  }
  Request *r;
  while ((r = g_queue_pop_head (&link->waiting)) != NULL)
    g_ptr_array_add (link->dying, r);
  g_ptr_array_sort (link->dying, compare_seq);

  const MsSyncerAnswer answer = { MS_SYNCER_RETRY, 0, 0, reason, TRUE };
  while (link->dying->len > 0) {
    g_autoptr (Request) d = g_ptr_array_steal_index (link->dying, 0);
    if (d->answer != NULL)
      d->answer (d->user_data, d->name, &answer);
  }
}

/* --- writing ------------------------------------------------------------------ */

static gboolean
on_writable (int fd, GIOCondition cond, gpointer data)
{
  MsSyncerLink *link = data;

  while (link->out->len > 0) {
    ssize_t n = write (fd, link->out->str, link->out->len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return G_SOURCE_CONTINUE;
    if (n < 0) {
      link->write_source = 0;
      ms_msg_syncer_write_failed (g_strerror (errno));
      fail_link (link, "the syncer stopped reading");
      return G_SOURCE_REMOVE;
    }
    g_string_erase (link->out, 0, n);
  }
  link->write_source = 0;
  return G_SOURCE_REMOVE;
}

static void
want_write (MsSyncerLink *link)
{
  int fd = link->child ? ms_child_input_fd (link->child) : -1;

  if (link->write_source != 0 || link->out->len == 0 || fd < 0)
    return;
  link->write_source = g_unix_fd_add (fd, G_IO_OUT | G_IO_ERR | G_IO_HUP, on_writable, link);
}

/* --- sync_timeout ---------------------------------------------------------- */

static gboolean on_timeout (gpointer data);

static Request *
oldest_inflight (MsSyncerLink *link)
{
  GHashTableIter it;
  gpointer value;
  Request *oldest = NULL;

  g_hash_table_iter_init (&it, link->inflight);
  while (g_hash_table_iter_next (&it, NULL, &value)) {
    Request *r = value;
    /* Requests are sent in the order they were made. */
    if (oldest == NULL || r->seq < oldest->seq)
      oldest = r;
  }
  return oldest;
}

static void
arm_timeout (MsSyncerLink *link)
{
  g_clear_handle_id (&link->timeout_source, g_source_remove);
  if (link->config->sync_timeout <= 0)
    return;
  Request *oldest = oldest_inflight (link);
  if (oldest == NULL)
    return;
  gint64 due = oldest->sent + link->config->sync_timeout * 1000;
  gint64 delay = CLAMP (due - ms_time_mono_ms (), 0, G_MAXINT32);
  link->timeout_source = g_timeout_add ((guint) delay, on_timeout, link);
}

static gboolean
on_timeout (gpointer data)
{
  MsSyncerLink *link = data;
  Request *oldest = oldest_inflight (link);

  link->timeout_source = 0;
  if (oldest == NULL)
    return G_SOURCE_REMOVE;
  if (ms_time_mono_ms () < oldest->sent + link->config->sync_timeout * 1000) {
    arm_timeout (link); /* woke early */
    return G_SOURCE_REMOVE;
  }
  ms_msg_syncer_timed_out (prog (link), oldest->name, link->config->sync_timeout);
  fail_link (link, "no answer within sync_timeout; the syncer was restarted");
  return G_SOURCE_REMOVE;
}

/* --- requests -------------------------------------------------------------- */

static void
next_tag (MsSyncerLink *link, char *tag)
{
  /* Unique among requests in flight: a counter, skipping any tag that an
   * unanswered request from four billion requests ago still holds. */
  do {
    link->next_tag = link->next_tag == G_MAXUINT32 ? 1 : link->next_tag + 1;
    g_snprintf (tag, MS_SYNCER_TAG_MAX + 1, "m%" G_GUINT32_FORMAT, link->next_tag);
  } while (g_hash_table_contains (link->inflight, tag));
}

static void
send_request (MsSyncerLink *link, Request *r)
{
  next_tag (link, r->tag);
  r->sent = ms_time_mono_ms ();
  g_hash_table_insert (link->inflight, r->tag, r);
  if (r->name == NULL || *r->name == '\0')
    g_string_append_printf (link->out, "%s SYNC\n", r->tag);
  else
    g_string_append_printf (link->out, "%s SYNC %s\n", r->tag, r->name);
}

/* Moves waiting requests into flight while there is room. */
static void
flush_waiting (MsSyncerLink *link)
{
  gboolean sent = FALSE;

  while (link->waiting.length > 0 && g_hash_table_size (link->inflight) < MS_SYNCER_MAX_INFLIGHT) {
    send_request (link, g_queue_pop_head (&link->waiting));
    sent = TRUE;
  }
  if (sent) {
    want_write (link);
    if (link->timeout_source == 0)
      arm_timeout (link);
  }
}

gboolean
ms_syncer_link_request (MsSyncerLink *link, const char *name, MsSyncerAnswerFunc answer,
                        gpointer user_data)
{
  g_return_val_if_fail (answer != NULL, FALSE);
  g_return_val_if_fail (name == NULL || strchr (name, '\n') == NULL, FALSE);
  g_return_val_if_fail (name == NULL || strlen (name) <= MS_MAILBOX_NAME_MAX, FALSE);

  if (link->state != MS_SYNCER_RUNNING)
    return FALSE;
  Request *r = g_new0 (Request, 1);
  ms_syncer_progress_init (&r->progress);
  r->seq = link->next_seq++;
  r->name = g_strdup (name);
  r->answer = answer;
  r->user_data = user_data;
  g_queue_push_tail (&link->waiting, r);
  flush_waiting (link);
  return TRUE;
}

void
ms_syncer_link_forget (MsSyncerLink *link, gpointer user_data)
{
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, link->inflight);
  while (g_hash_table_iter_next (&it, NULL, &value))
    if (((Request *) value)->user_data == user_data)
      ((Request *) value)->answer = NULL;
  for (GList *l = link->waiting.head; l != NULL; l = l->next)
    if (((Request *) l->data)->user_data == user_data)
      ((Request *) l->data)->answer = NULL;
  for (guint i = 0; i < link->dying->len; i++)
    if (((Request *) g_ptr_array_index (link->dying, i))->user_data == user_data)
      ((Request *) g_ptr_array_index (link->dying, i))->answer = NULL;
}

/* --- reading -------------------------------------------------------------------- */

static void
take_greeting (MsSyncerLink *link, const char *text, gsize len)
{
  g_autoptr (GError) error = NULL;
  MsSyncerLine line;

  if (!ms_syncer_line_parse (text, len, &line, &error) || line.kind != MS_SYNCER_LINE_GREETING) {
    g_autofree char *shown = ms_mailbox_name_for_log (text, len, 80);
    g_autofree char *why = g_strdup_printf ("expected \"* %s %d\", received \"%s\"", GREETING_WORD,
                                            MS_SYNCER_PROTOCOL_VERSION, shown);
    ms_msg_syncer_bad_greeting (why);
    fail_link (link, "the syncer did not start");
    return;
  }
  if (line.version != MS_SYNCER_PROTOCOL_VERSION) {
    g_autofree char *why = g_strdup_printf ("it speaks protocol version %u; mswatch speaks version %d",
                                            line.version, MS_SYNCER_PROTOCOL_VERSION);
    ms_msg_syncer_bad_greeting (why);
    fail_link (link, "the syncer speaks another protocol version");
    return;
  }
  g_clear_handle_id (&link->greeting_source, g_source_remove);
  link->state = MS_SYNCER_RUNNING;
  link->since = ms_time_mono_ms ();
  link->ready (link->ready_data);
}

static void
take_answer (MsSyncerLink *link, const MsSyncerLine *line)
{
  Request *r = g_hash_table_lookup (link->inflight, line->tag);

  if (r == NULL) {
    ms_msg_syncer_unknown_tag (line->tag);
    return;
  }
  if (line->kind == MS_SYNCER_LINE_PROGRESS) {
    const char *shown = ms_syncer_progress_take (&r->progress, line->text, line->text_len);
    if (r->answer != NULL)
      ms_msg_syncer_progress (r->name, shown, strlen (shown));
    return;
  }

  g_hash_table_steal (link->inflight, line->tag);
  g_autoptr (Request) done = r;
  g_autofree char *text = g_strndup (line->text, line->text_len);
  MsSyncerAnswer answer = { MS_SYNCER_OK, line->in, line->out, text, FALSE };
  if (line->kind == MS_SYNCER_LINE_RETRY)
    answer.outcome = MS_SYNCER_RETRY;
  else if (line->kind == MS_SYNCER_LINE_FAIL)
    answer.outcome = MS_SYNCER_FAIL;

  /* A syncer that answers is working: its next failure starts a new series. */
  ms_backoff_reset (&link->backoff);
  arm_timeout (link);
  guint generation = link->generation;
  if (done->answer != NULL)
    done->answer (done->user_data, done->name, &answer);
  if (link->generation == generation)
    flush_waiting (link);
}

static void
take_line (MsSyncerLink *link, const char *text, gsize len)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *escaped = NULL;
  MsSyncerLine line;

  if (link->state == MS_SYNCER_GREETING) {
    take_greeting (link, text, len);
    return;
  }
  if (!ms_syncer_line_parse (text, len, &line, &error)) {
    ms_msg_syncer_bad_line (error->message, text, len);
    return;
  }
  if (line.text_error != NULL) {
    /* The line means what it says; only its text is unfit to print.  An
     * answer must not be lost over a server message in Latin-1. */
    ms_msg_syncer_bad_text (line.text_error, text, len);
    escaped = ms_mailbox_name_for_log (line.text, line.text_len, line.text_len);
    line.text = escaped;
    line.text_len = strlen (escaped);
  }
  switch (line.kind) {
  case MS_SYNCER_LINE_GREETING:
    ms_msg_syncer_bad_line ("a second greeting", text, len);
    break;
  case MS_SYNCER_LINE_INFO:
    ms_msg_syncer_info (line.text, line.text_len);
    break;
  case MS_SYNCER_LINE_CONNECTION:
    g_free (link->connection);
    link->connection = g_strndup (line.text, line.text_len);
    link->connection_since = ms_time_mono_ms ();
    ms_msg_syncer_connection (line.text, line.text_len);
    break;
  case MS_SYNCER_LINE_PROGRESS:
  case MS_SYNCER_LINE_OK:
  case MS_SYNCER_LINE_RETRY:
  case MS_SYNCER_LINE_FAIL:
    take_answer (link, &line);
    break;
  }
}

static gboolean
on_eof_timeout (gpointer data)
{
  MsSyncerLink *link = data;
  link->eof_source = 0;
  ms_msg_syncer_closed (ms_time_wall_now ());
  fail_link (link, "the syncer closed its output");
  return G_SOURCE_REMOVE;
}

static void
on_output (gpointer data, const char *buf, gsize len)
{
  MsSyncerLink *link = data;
  guint generation = link->generation;
  const char *text;
  gsize n;
  MsLineStatus st;

  if (link->state != MS_SYNCER_GREETING && link->state != MS_SYNCER_RUNNING)
    return;
  if (len == 0) {
    /* EOF.  If it has exited, on_exited is draining and reports the exit;
     * if it is about to, let it report that. */
    if (ms_child_running (link->child) && link->eof_source == 0)
      link->eof_source = g_timeout_add (EOF_GRACE_MS, on_eof_timeout, link);
    return;
  }
  ms_line_splitter_feed (link->lines, buf, len);
  while (link->generation == generation
         && (st = ms_line_splitter_next (link->lines, &text, &n)) != MS_LINE_NEED_MORE) {
    if (st == MS_LINE_TOO_LONG) {
      if (link->state == MS_SYNCER_GREETING) {
        ms_msg_syncer_bad_greeting ("its first line is too long");
        fail_link (link, "the syncer did not start");
      } else {
        ms_msg_syncer_line_too_long (MS_SYNCER_LINE_MAX);
      }
      continue;
    }
    take_line (link, text, n);
  }
}

static void
on_exited (gpointer data, const MsChildExit *st)
{
  MsSyncerLink *link = data;
  guint generation = link->generation;

  if (link->state == MS_SYNCER_RESTARTING) {
    arm_restart (link); /* the old child is gone */
    return;
  }
  /* Answers written just before it died are still in the pipe. */
  ms_child_drain_output (link->child);
  if (link->generation != generation)
    return; /* the drained output failed the link already */
  if (link->state == MS_SYNCER_GREETING || link->state == MS_SYNCER_RUNNING) {
    ms_msg_syncer_exited (st, ms_time_wall_now ());
    fail_link (link, "the syncer exited");
  }
}

static gboolean
on_greeting_timeout (gpointer data)
{
  MsSyncerLink *link = data;
  link->greeting_source = 0;
  g_autofree char *why =
    g_strdup_printf ("no greeting within %d s", MS_SYNCER_GREETING_TIMEOUT_MS / 1000);
  ms_msg_syncer_bad_greeting (why);
  fail_link (link, "the syncer did not start");
  return G_SOURCE_REMOVE;
}

static void
start_child (MsSyncerLink *link)
{
  static const MsChildHandlers handlers = { on_output, on_exited };
  const char *const *argv = (const char *const *) link->config->syncer_argv;
  g_autoptr (GError) error = NULL;

  ms_msg_starting_syncer ();
  ms_msg_argv (argv, NULL);
  fflush (stdout);
  link->state = MS_SYNCER_GREETING;
  link->child = ms_child_spawn (argv, MS_CHILD_PIPE_STDIO, &handlers, link, &error);
  if (link->child == NULL) {
    ms_msg_syncer_spawn_failed (argv[0], ms_child_spawn_strerror (error));
    fail_link (link, "the syncer could not be started");
    return;
  }
  link->lines = ms_line_splitter_new (MS_SYNCER_LINE_MAX);
  link->next_tag = 0;
  link->greeting_source = g_timeout_add (MS_SYNCER_GREETING_TIMEOUT_MS, on_greeting_timeout, link);
}

/* --- public ------------------------------------------------------------------- */

MsSyncerLink *
ms_syncer_link_new (const MsConfig *config, MsSyncerReadyFunc ready, gpointer user_data)
{
  g_return_val_if_fail (config->syncer_argv != NULL && config->syncer_argv[0] != NULL, NULL);

  MsSyncerLink *link = g_new0 (MsSyncerLink, 1);
  link->config = config;
  link->ready = ready;
  link->ready_data = user_data;
  link->state = MS_SYNCER_STOPPED;
  link->out = g_string_new (NULL);
  link->inflight = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) request_free);
  g_queue_init (&link->waiting);
  link->dying = g_ptr_array_new_with_free_func ((GDestroyNotify) request_free);
  ms_backoff_init (&link->backoff, config->inter_delay * 1000, config->max_delay * 1000);
  return link;
}

void
ms_syncer_link_free (MsSyncerLink *link)
{
  if (link == NULL)
    return;
  g_clear_handle_id (&link->write_source, g_source_remove);
  g_clear_handle_id (&link->greeting_source, g_source_remove);
  g_clear_handle_id (&link->eof_source, g_source_remove);
  g_clear_handle_id (&link->timeout_source, g_source_remove);
  g_clear_handle_id (&link->restart_source, g_source_remove);
  g_clear_pointer (&link->child, ms_child_free);
  g_clear_pointer (&link->lines, ms_line_splitter_free);
  g_free (link->connection);
  g_string_free (link->out, TRUE);
  g_hash_table_unref (link->inflight);
  g_queue_clear_full (&link->waiting, (GDestroyNotify) request_free);
  g_ptr_array_unref (link->dying);
  g_free (link);
}

void
ms_syncer_link_start (MsSyncerLink *link)
{
  g_return_if_fail (link->state == MS_SYNCER_STOPPED);
  start_child (link);
}

/* --- for the status report ------------------------------------------------ */

void
ms_syncer_link_foreach_request (MsSyncerLink *link, MsSyncerRequestFunc func, gpointer user_data)
{
  g_autoptr (GPtrArray) sent = g_ptr_array_new ();
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, link->inflight);
  while (g_hash_table_iter_next (&it, NULL, &value))
    g_ptr_array_add (sent, value);
  g_ptr_array_sort (sent, compare_seq);
  for (guint i = 0; i < sent->len; i++) {
    Request *r = g_ptr_array_index (sent, i);
    func (user_data, r->tag, r->name, r->sent, &r->progress);
  }
  for (GList *l = link->waiting.head; l != NULL; l = l->next) {
    Request *r = l->data;
    func (user_data, "", r->name, -1, &r->progress);
  }
}

gint64
ms_syncer_link_since (const MsSyncerLink *link)
{
  return link->state == MS_SYNCER_RUNNING ? link->since : -1;
}

gint64
ms_syncer_link_restart_due (const MsSyncerLink *link)
{
  return link->state == MS_SYNCER_RESTARTING ? link->restart_due : -1;
}

const char *
ms_syncer_link_connection (const MsSyncerLink *link, gint64 *since)
{
  *since = link->connection_since;
  return link->connection;
}

guint
ms_syncer_link_failures (const MsSyncerLink *link)
{
  return link->backoff.count;
}

void
ms_syncer_link_wake (MsSyncerLink *link)
{
  if (link->state == MS_SYNCER_STOPPED)
    return;
  /* A running syncer's connections are likely dead as well, and a sync on
   * one of them would wait out the syncer's own timeout: it is replaced,
   * and the new one is asked for what this one had in flight. */
  if (link->state != MS_SYNCER_RESTARTING)
    fail_link (link, "the syncer is restarted after the wake-up");
  ms_backoff_reset (&link->backoff);
  link->restart_due = ms_time_mono_ms ();
  if (link->restart_source != 0)
    arm_restart (link); /* the old child is gone: restart now */
}
