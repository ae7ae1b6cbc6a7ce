/* sync-job.c — see sync-job.h for the steps.
 *
 * Line ends: a Maildir holds messages with LF line ends (as mbsync writes
 * them); IMAP wants CRLF.  Pulled bodies are converted CRLF -> LF as they
 * stream to disk, pushed ones LF -> CRLF as they stream out; the APPEND
 * literal's size is counted first by a pass over the file.
 */
#include "sync-job.h"

#include <errno.h>
#include <gio/gio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "imap-utf7.h"
#include "mailbox-name.h"
#include "ms-error.h"
#include "sync-state.h"

/* UIDs per UID STORE / UID EXPUNGE command are bounded by the command
 * length (MS_IMAP_COMMAND_MAX); this is the room left for the set. */
#define UID_SET_MAX_CHARS 800

/* APPENDs in flight at once (with LITERAL+): enough to fill the pipe on a
 * slow link, few enough that a failure wastes little. */
#define APPENDS_IN_FLIGHT 32

/* --- flags ------------------------------------------------------------------ */

static const struct {
  MsFlags flag;
  const char *imap;
} flag_names[] = {
  { MS_FLAG_DRAFT, "\\Draft" },      { MS_FLAG_FLAGGED, "\\Flagged" },
  { MS_FLAG_FORWARDED, "$Forwarded" }, { MS_FLAG_ANSWERED, "\\Answered" },
  { MS_FLAG_SEEN, "\\Seen" },        { MS_FLAG_DELETED, "\\Deleted" },
};

static MsFlags
flags_from_imap (const MsImapValue *list)
{
  MsFlags f = 0;
  for (guint i = 0; i < ms_imap_value_get_n_items (list); i++) {
    const MsImapValue *v = ms_imap_value_get_item (list, i);
    for (gsize j = 0; j < G_N_ELEMENTS (flag_names); j++)
      if (ms_imap_value_is_atom (v, flag_names[j].imap))
        f |= flag_names[j].flag;
  }
  return f;
}

static char *
flags_to_imap (MsFlags f)
{
  GString *s = g_string_new (NULL);
  for (gsize j = 0; j < G_N_ELEMENTS (flag_names); j++)
    if (f & flag_names[j].flag)
      g_string_append_printf (s, "%s%s", s->len ? " " : "", flag_names[j].imap);
  return g_string_free (s, FALSE);
}

/* --- names ------------------------------------------------------------------ */

char *
ms_sync_far_name (const MsSyncContext *ctx, char delim, const char *box, GError **error)
{
  if (!ms_mailbox_name_check (box, strlen (box), error))
    return NULL;
  if (g_ascii_strcasecmp (box, "INBOX") == 0)
    return g_strdup ("INBOX");
  g_autofree char *local = g_strdup (box);
  if (delim != '\0' && delim != '/') {
    if (strchr (box, delim) != NULL) {
      g_set_error (error, MS_ERROR, MS_ERROR_BAD_NAME,
                   "mailbox \"%s\" contains the server's hierarchy delimiter '%c'", box, delim);
      return NULL;
    }
    g_strdelimit (local, "/", delim);
  }
  g_autofree char *full = g_strconcat (ctx->far_prefix ? ctx->far_prefix : "", local, NULL);
  if (!ms_imap_utf7_is_valid (full)) {
    /* mbsync 1.4 keeps server names as they are, so a Maildir folder it
     * made for a server folder with accents is named in modified UTF-7;
     * a folder named in UTF-8 has no server folder it could stand for. */
    g_autofree char *suggest = ms_imap_utf7_encode (box, -1, NULL);
    if (suggest != NULL)
      g_set_error (error, MS_ERROR, MS_ERROR_BAD_NAME,
                   "mailbox \"%s\" is not named in modified UTF-7, as server names are kept in the Maildir "
                   "(by mbsync too): rename the folder to \"%s\"",
                   box, suggest);
    else
      g_set_error (error, MS_ERROR, MS_ERROR_BAD_NAME, "mailbox \"%s\" is not a name an IMAP server can have",
                   box);
    return NULL;
  }
  return g_steal_pointer (&full);
}

char *
ms_sync_box_from_far (const MsSyncContext *ctx, char delim, const char *far_name, GError **error)
{
  if (g_ascii_strcasecmp (far_name, "INBOX") == 0)
    return g_strdup ("INBOX");
  const char *prefix = ctx->far_prefix ? ctx->far_prefix : "";
  if (!g_str_has_prefix (far_name, prefix) || far_name[strlen (prefix)] == '\0')
    return NULL;
  char *box = g_strdup (far_name + strlen (prefix));
  if (delim != '\0' && delim != '/') {
    if (strchr (box, '/') != NULL) {
      g_free (box);
      return NULL; /* a '/' in a server name cannot be represented locally */
    }
    g_strdelimit (box, (char[]) { delim, '\0' }, '/');
  }
  /* 8-bit names come only from servers that send UTF-8 (UTF8=ACCEPT). */
  if (!g_utf8_validate (box, -1, NULL)) {
    g_set_error (error, MS_ERROR, MS_ERROR_BAD_NAME, "the name is neither modified UTF-7 nor UTF-8");
    g_free (box);
    return NULL;
  }
  return box;
}

/* --- the job state ------------------------------------------------------------ */

typedef struct {
  MsSyncContext *ctx;
  const char *box;
  char *far_name;
  char *far_quoted;
  MsSyncStateFile *state_file;
  gboolean shelved;           /* state_file was taken from the shelf */
  MsSyncShelfNote note;       /* directories to sync before a commit; how long shelved */
  MsMaildirScan *scan;
  MsSyncCounts *counts;

  /* SELECT results */
  guint32 uidvalidity, uidnext, exists;
  guint64 highestmodseq;
  gboolean nonexistent;

  /* listing */
  MsFarListing listing;

  /* pulls in progress */
  GHashTable *pull_near_uid;  /* far uid -> near uid */
  GHashTable *pull_flags;     /* far uid -> flags */
  MsMaildirDelivery *delivery;
  gboolean pending_cr;        /* the last streamed byte was a CR */
  GArray *held;               /* HeldPull: body in tmp/, not yet synced or renamed */
  GArray *ahead;              /* HeldPull without a Maildir UID: fetched before the plan */
  guint32 ahead_from, ahead_to; /* the UIDs asked for ahead */
  gboolean journal_synced;    /* the pulls' journal entries are durable */
  guint32 numbered_max;       /* highest UID given to a message that had none */
  guint32 pulled_max;         /* highest Maildir UID of a pulled message */
  GArray *delivered;          /* DeliveredPull: in place, pair not yet recorded */
  GError *deferred;           /* first error inside a callback */
  MsSyncProgress progress;
  gint64 progress_at_us;      /* last report, or the start of the download */
  gboolean progress_said;     /* a report went out */
} Job;

/* A pulled message whose file is in place but whose directory is not yet
 * synced: its pair is recorded only after ms_maildir_sync_folder(), or a
 * crash could leave a pair whose Maildir side never reached the disk (and
 * the next run would take it for a deletion). */
typedef struct {
  guint32 far_uid, near_uid;
  MsFlags flags;
} DeliveredPull;

/* A pulled message whose body is complete in tmp/ and whose file waits
 * for the journal sync that makes its reserved UID safe to use. */
typedef struct {
  MsMaildirDelivery *delivery;
  guint32 far_uid, near_uid;
  MsFlags flags;
} HeldPull;

/* Bodies held in tmp/ (each with its file open) before they are synced and
 * renamed together: the journal and their data then reach the disk in one
 * go instead of one sync each, while the open files stay few. */
#define PULL_HOLD_MAX 32

/* New server messages fetched together with SELECT (fetch_ahead()), each
 * held open in tmp/ until the plan wants it: bounded for the open files,
 * and because a body the plan turns down was fetched for nothing. */
#define FETCH_AHEAD_MAX 16

/* Deliveries between directory syncs: one sync of new/ and cur/ per this
 * many messages instead of one per message, while a crash loses at most
 * this many downloads (they are fetched again). */
#define PULL_SYNC_BATCH 256

/* The pulls' (below), used by the listing's fetch ahead too. */
static const MsImapLiteralSink pull_sink;
static void on_ahead_fetch (const MsImapResponse *r, gpointer data);
static void drop_ahead (Job *job);

static void
defer_error (Job *job, GError *error)
{
  if (job->deferred == NULL)
    job->deferred = error;
  else
    g_error_free (error);
}

static void
on_select (const MsImapResponse *r, gpointer data)
{
  Job *job = data;
  const char *kw = ms_imap_response_get_keyword (r);
  guint64 n;
  if (kw != NULL && g_str_equal (kw, "EXISTS") && ms_imap_response_get_number (r, &n))
    job->exists = (guint32) n;
  const char *code = ms_imap_response_get_code (r);
  const MsImapValue *arg = code ? ms_imap_value_get_item (ms_imap_response_get_code_args (r), 0) : NULL;
  if (code == NULL || arg == NULL || !ms_imap_value_get_number (arg, &n))
    return;
  if (g_str_equal (code, "UIDVALIDITY"))
    job->uidvalidity = (guint32) n;
  else if (g_str_equal (code, "UIDNEXT"))
    job->uidnext = (guint32) n;
  else if (g_str_equal (code, "HIGHESTMODSEQ"))
    job->highestmodseq = n;
}

/* SELECT, creating the mailbox first if it is missing and Create allows.
 * A mailbox that Dovecot's mailbox list index has missed (an update that
 * raced with another session's) gets "doesn't exist" from SELECT while
 * CREATE says it exists: a LIST of the name makes the server look again,
 * and the SELECT is tried once more. */
static gboolean
select_box (Job *job, GError **error)
{
  MsImapClient *imap = job->ctx->imap;
  gboolean condstore = ms_imap_client_has_cap (imap, "CONDSTORE");
  gboolean may_create = job->ctx->create_far, listed = FALSE;
  for (;;) {
    g_autoptr (GError) local = NULL;
    g_autoptr (MsImapResponse) r = ms_imap_client_run (imap, on_select, job, &local, "SELECT %s%s",
                                                        job->far_quoted, condstore ? " (CONDSTORE)" : "");
    if (r != NULL)
      return TRUE;
    /* MS_ERROR_PROTOCOL: the server answered NO or BAD; anything else is
     * the connection, where another command cannot help. */
    if (g_error_matches (local, MS_ERROR, MS_ERROR_PROTOCOL) && (may_create || !listed)) {
      g_autoptr (MsImapResponse) again = NULL;
      if (may_create)
        again = ms_imap_client_run (imap, NULL, NULL, NULL, "CREATE %s", job->far_quoted);
      else
        again = ms_imap_client_run (imap, NULL, NULL, NULL, "LIST \"\" %s", job->far_quoted);
      listed = listed || !may_create;
      may_create = FALSE;
      continue;
    }
    g_propagate_prefixed_error (error, g_steal_pointer (&local), "selecting %s: ", job->far_name);
    return FALSE;
  }
}

static void
on_listing (const MsImapResponse *r, gpointer data)
{
  Job *job = data;
  const char *kw = ms_imap_response_get_keyword (r);
  if (kw == NULL)
    return;
  if (g_str_equal (kw, "VANISHED")) {
    const MsImapValue *d = ms_imap_response_get_data (r);
    const MsImapValue *set = ms_imap_value_get_item (d, ms_imap_value_get_n_items (d) - 1);
    g_autoptr (GArray) ranges = NULL;
    if (set == NULL || !ms_imap_value_get_seq_set (set, G_MAXUINT32, &ranges, NULL))
      return;
    for (guint i = 0; i < ranges->len; i++) {
      MsImapRange *rg = &g_array_index (ranges, MsImapRange, i);
      for (guint64 u = rg->first; u <= rg->last && u < job->uidnext + 1ULL; u++) {
        guint32 uid = (guint32) u;
        g_array_append_val (job->listing.vanished, uid);
      }
    }
    return;
  }
  if (!g_str_equal (kw, "FETCH"))
    return;
  const MsImapValue *uid = ms_imap_response_get_fetch_attr (r, "UID");
  const MsImapValue *flags = ms_imap_response_get_fetch_attr (r, "FLAGS");
  const MsImapValue *size = ms_imap_response_get_fetch_attr (r, "RFC822.SIZE");
  guint64 u = 0, sz = 0;
  if (uid == NULL || !ms_imap_value_get_number (uid, &u) || u == 0 || u > G_MAXUINT32 || flags == NULL)
    return;
  if (size != NULL)
    ms_imap_value_get_number (size, &sz);
  MsFarMessage m = { (guint32) u, flags_from_imap (flags), sz };
  g_array_append_val (job->listing.messages, m);
}

/* A body fetched ahead (streamed into job->delivery), or a listed message. */
static void
on_listing_or_body (const MsImapResponse *r, gpointer data)
{
  Job *job = data;
  if (job->delivery != NULL)
    on_ahead_fetch (r, data);
  else
    on_listing (r, data);
}

static gint
far_cmp (gconstpointer a, gconstpointer b)
{
  const MsFarMessage *x = a, *y = b;
  return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static void
listing_reset (Job *job)
{
  g_clear_pointer (&job->listing.messages, g_array_unref);
  g_clear_pointer (&job->listing.vanished, g_array_unref);
  job->listing.messages = g_array_new (FALSE, TRUE, sizeof (MsFarMessage));
  job->listing.vanished = g_array_new (FALSE, TRUE, sizeof (guint32));
  job->listing.partial = FALSE;
}

/* Whether the last run left what an incremental listing starts from. */
static gboolean
can_list_changes (Job *job, const MsSyncState *state)
{
  return state->far_uidvalidity != 0 && state->far_highestmodseq != 0
         && ms_imap_client_has_cap (job->ctx->imap, "QRESYNC");
}

static char *
send_changes_listing (Job *job, const MsSyncState *state, GError **error)
{
  return ms_imap_client_send (job->ctx->imap, error,
                              "UID FETCH 1:* (UID FLAGS RFC822.SIZE) (CHANGEDSINCE %" G_GUINT64_FORMAT " VANISHED)",
                              state->far_highestmodseq);
}

/* SELECT and, when the last run left a HIGHESTMODSEQ, the listing of what
 * changed since then sent right behind it, both before the Maildir folder
 * is scanned: the server answers while the scan runs, and a mailbox that
 * changed costs one round trip instead of two.  Behind them goes a FETCH of
 * the bodies of the first FETCH_AHEAD_MAX UIDs above those the last run
 * knew, which are new messages that the plan will most likely pull: new
 * mail then costs no round trip of its own.  (A UID range, not "N:*",
 * which would answer with the last message when there is nothing new.)
 * Without the listing (a first sync, no QRESYNC) SELECT goes out alone,
 * after the scan, where a failed one can still create the mailbox
 * (select_box()). */
typedef struct {
  char *select_tag; /* NULL: nothing was sent ahead */
  char *list_tag;
  char *fetch_tag;  /* NULL: no bodies asked for */
} SelectAhead;

static char *
fetch_ahead (Job *job, const MsSyncState *state, GError **error)
{
  guint32 known = state->max_pulled;
  if (state->pairs->len > 0)
    known = MAX (known, g_array_index (state->pairs, MsSyncPair, state->pairs->len - 1).far_uid);
  if (!job->ctx->policy.pull_new || known > G_MAXUINT32 - FETCH_AHEAD_MAX)
    return NULL;
  job->ahead_from = known + 1;
  job->ahead_to = known + FETCH_AHEAD_MAX;
  return ms_imap_client_send (job->ctx->imap, error, "UID FETCH %u:%u (UID BODY.PEEK[])", job->ahead_from,
                              job->ahead_to);
}

static gboolean
select_send (Job *job, const MsSyncState *state, SelectAhead *ahead, GError **error)
{
  listing_reset (job);
  if (!can_list_changes (job, state))
    return TRUE;
  MsImapClient *imap = job->ctx->imap;
  ahead->select_tag = ms_imap_client_send (imap, error, "SELECT %s (CONDSTORE)", job->far_quoted);
  ahead->list_tag = ahead->select_tag ? send_changes_listing (job, state, error) : NULL;
  if (ahead->list_tag == NULL)
    return FALSE;
  ahead->fetch_tag = fetch_ahead (job, state, error);
  return (error == NULL || *error == NULL) && ms_imap_client_flush (imap, error);
}

/* Reads the answers to select_send(), or selects now if it sent nothing.
 * *listed tells whether the listing holds (the UIDVALIDITY is still the one
 * it is relative to); else it is discarded and list_far() asks again.
 * With `error` NULL (the scan failed) the answers are only drained. */
static gboolean
select_finish (Job *job, const MsSyncState *state, SelectAhead *ahead, gboolean *listed, GError **error)
{
  *listed = FALSE;
  g_autofree char *select_tag = g_steal_pointer (&ahead->select_tag);
  g_autofree char *list_tag = g_steal_pointer (&ahead->list_tag);
  g_autofree char *fetch_tag = g_steal_pointer (&ahead->fetch_tag);
  if (select_tag == NULL)
    return error != NULL && select_box (job, error);
  MsImapClient *imap = job->ctx->imap;
  g_autoptr (GError) select_error = NULL, list_error = NULL, fetch_error = NULL;
  /* The server may answer the listing and the fetch ahead interleaved. */
  MsImapParser *parser = ms_imap_client_parser (imap);
  if (fetch_tag != NULL)
    ms_imap_parser_set_literal_sink (parser, &pull_sink, job);
  g_autoptr (MsImapResponse) selected = ms_imap_client_wait (imap, select_tag, on_select, job, &select_error);
  g_autoptr (MsImapResponse) list = ms_imap_client_wait (imap, list_tag, on_listing_or_body, job, &list_error);
  if (fetch_tag != NULL) {
    /* Only a guess: whatever goes wrong with it, the pulls fetch again. */
    g_autoptr (MsImapResponse) fetched = ms_imap_client_wait (imap, fetch_tag, on_listing_or_body, job, &fetch_error);
    ms_imap_parser_set_literal_sink (parser, NULL, NULL);
    if (job->delivery != NULL)
      ms_maildir_delivery_abort (g_steal_pointer (&job->delivery));
    g_clear_error (&job->deferred);
    if (fetched == NULL || selected == NULL || job->uidvalidity != state->far_uidvalidity)
      drop_ahead (job);
  }
  if (error == NULL)
    return FALSE;
  if (selected == NULL) {
    /* The listing failed with it (nothing is selected after a failed
     * SELECT); the plain path creates the mailbox if it may. */
    listing_reset (job);
    return select_box (job, error);
  }
  if (list != NULL && job->uidvalidity == state->far_uidvalidity && job->highestmodseq != 0) {
    *listed = TRUE;
    job->listing.partial = TRUE;
  } else {
    listing_reset (job);
  }
  return TRUE;
}

/* Fills job->listing (unless select_finish() did); TRUE if the server
 * side could be skipped entirely. */
static gboolean
list_far (Job *job, const MsSyncState *state, gboolean listed, GError **error)
{
  MsImapClient *imap = job->ctx->imap;
  job->listing.uidnext = job->uidnext;

  gboolean same_validity = state->far_uidvalidity == job->uidvalidity;
  if (same_validity && job->highestmodseq != 0 && state->far_highestmodseq == job->highestmodseq
      && state->far_uidnext == job->uidnext && state->far_messages == job->exists) {
    listing_reset (job);
    job->listing.partial = TRUE;
    return TRUE;
  }
  if (job->exists == 0) {
    listing_reset (job);
    return FALSE;
  }
  if (!listed) {
    listing_reset (job);
    g_autoptr (MsImapResponse) r = NULL;
    if (same_validity && job->highestmodseq != 0 && can_list_changes (job, state)) {
      job->listing.partial = TRUE;
      g_autofree char *tag = send_changes_listing (job, state, error);
      if (tag != NULL)
        r = ms_imap_client_wait (imap, tag, on_listing, job, error);
    } else {
      r = ms_imap_client_run (imap, on_listing, job, error, "UID FETCH 1:* (UID FLAGS RFC822.SIZE)");
    }
    if (r == NULL) {
      g_prefix_error (error, "listing %s: ", job->far_name);
      return FALSE;
    }
  }
  g_array_sort (job->listing.messages, far_cmp);
  return FALSE;
}

/* --- UID sets ---------------------------------------------------------------- */

static gint
u32_cmp (gconstpointer a, gconstpointer b)
{
  guint32 x = *(const guint32 *) a, y = *(const guint32 *) b;
  return x < y ? -1 : x > y;
}

/* Splits sorted UIDs into sets of at most UID_SET_MAX_CHARS ("1:5,7"). */
static GPtrArray *
uid_sets (GArray *uids)
{
  GPtrArray *sets = g_ptr_array_new_with_free_func (g_free);
  GString *cur = g_string_new (NULL);
  g_array_sort (uids, u32_cmp);
  for (guint i = 0; i < uids->len;) {
    guint32 first = g_array_index (uids, guint32, i), last = first;
    guint j = i + 1;
    while (j < uids->len && g_array_index (uids, guint32, j) <= last + 1)
      last = g_array_index (uids, guint32, j++);
    char piece[32];
    if (first == last)
      g_snprintf (piece, sizeof piece, "%u", first);
    else
      g_snprintf (piece, sizeof piece, "%u:%u", first, last);
    if (cur->len + strlen (piece) + 1 > UID_SET_MAX_CHARS) {
      g_ptr_array_add (sets, g_string_free (cur, FALSE));
      cur = g_string_new (NULL);
    }
    g_string_append_printf (cur, "%s%s", cur->len ? "," : "", piece);
    i = j;
  }
  if (cur->len)
    g_ptr_array_add (sets, g_string_free (cur, FALSE));
  else
    g_string_free (cur, TRUE);
  return sets;
}

/* Sends "COMMAND SET SUFFIX" once per UID set, adding the tags to `tags`. */
static gboolean
send_per_set (MsImapClient *imap, GArray *uids, const char *command, const char *suffix, GPtrArray *tags,
              GError **error)
{
  g_autoptr (GPtrArray) sets = uid_sets (uids);
  for (guint i = 0; i < sets->len; i++) {
    char *tag = ms_imap_client_send (imap, error, "%s %s %s", command,
                                     (const char *) g_ptr_array_index (sets, i), suffix);
    if (tag == NULL)
      return FALSE;
    g_ptr_array_add (tags, tag);
  }
  return TRUE;
}

/* Waits for every command in `tags`; untagged responses go to `handler`.
 * Fails with the first failure, having waited for all. */
static gboolean
wait_all (MsImapClient *imap, GPtrArray *tags, MsImapUntagged handler, gpointer data, GError **error)
{
  gboolean ok = TRUE;
  for (guint i = 0; i < tags->len; i++) {
    g_autoptr (GError) local = NULL;
    g_autoptr (MsImapResponse) r = ms_imap_client_wait (imap, g_ptr_array_index (tags, i), handler, data, &local);
    if (r == NULL && ok) {
      ok = FALSE;
      g_propagate_error (error, g_steal_pointer (&local));
    }
  }
  return ok;
}

/* Runs "COMMAND SET SUFFIX" once per UID set, pipelined. */
static gboolean
run_per_set (MsImapClient *imap, GArray *uids, const char *command, const char *suffix,
             MsImapUntagged handler, gpointer data, GError **error)
{
  g_autoptr (GPtrArray) tags = g_ptr_array_new_with_free_func (g_free);
  /* What was sent is waited for even when a later send failed. */
  gboolean sent = send_per_set (imap, uids, command, suffix, tags, error);
  return wait_all (imap, tags, handler, data, sent ? error : NULL) && sent;
}

/* --- pulls ------------------------------------------------------------------- */

static gboolean
sink_begin (const MsImapLiteralInfo *info, gpointer data)
{
  Job *job = data;
  if (info->attribute == NULL || g_ascii_strcasecmp (info->attribute, "BODY[]") != 0)
    return FALSE;
  if (job->delivery != NULL)
    ms_maildir_delivery_abort (g_steal_pointer (&job->delivery));
  GError *error = NULL;
  job->delivery = ms_maildir_delivery_begin (job->ctx->maildir, job->box, &error);
  job->pending_cr = FALSE;
  if (job->delivery == NULL)
    defer_error (job, error);
  return TRUE;
}

static void
sink_data (const char *bytes, gsize len, gpointer data)
{
  Job *job = data;
  job->progress.bytes_done += len;
  if (job->delivery == NULL)
    return;
  /* CRLF -> LF, with a CR held back across chunk boundaries. */
  char out[65536 + 1];
  gsize o = 0;
  GError *error = NULL;
  for (gsize i = 0; i < len; i++) {
    char ch = bytes[i];
    if (job->pending_cr) {
      job->pending_cr = FALSE;
      if (ch != '\n')
        out[o++] = '\r';
    }
    if (ch == '\r') {
      job->pending_cr = TRUE;
    } else {
      out[o++] = ch;
    }
    if (o >= sizeof out - 1) {
      if (!ms_maildir_delivery_write (job->delivery, out, o, &error))
        goto fail;
      o = 0;
    }
  }
  if (o > 0 && !ms_maildir_delivery_write (job->delivery, out, o, &error))
    goto fail;
  return;
fail:
  ms_maildir_delivery_abort (g_steal_pointer (&job->delivery));
  defer_error (job, error);
}

static void
sink_end (gpointer data)
{
  Job *job = data;
  if (job->delivery != NULL && job->pending_cr) {
    GError *error = NULL;
    job->pending_cr = FALSE;
    if (!ms_maildir_delivery_write (job->delivery, "\r", 1, &error)) {
      ms_maildir_delivery_abort (g_steal_pointer (&job->delivery));
      defer_error (job, error);
    }
  }
}

static const MsImapLiteralSink pull_sink = { sink_begin, sink_data, sink_end };

static guint progress_interval_ms = MS_SYNC_PROGRESS_INTERVAL_MS;

void
ms_sync_set_progress_interval (guint ms)
{
  progress_interval_ms = ms;
}

/* Tells the context's progress function how far the download is, at most
 * every progress_interval_ms, and at the end if it said anything. */
static void
report_progress (Job *job)
{
  if (job->ctx->progress == NULL)
    return;
  gint64 now = g_get_monotonic_time ();
  gboolean end = job->progress.done == job->progress.total;
  if (end ? !job->progress_said && progress_interval_ms > 0
          : now - job->progress_at_us < (gint64) progress_interval_ms * 1000)
    return;
  job->progress_at_us = now;
  job->progress_said = TRUE;
  job->ctx->progress (job->ctx->progress_data, &job->progress);
}

/* Commits the state, syncing the folder directories first that the
 * messages it records as paired were renamed into. */
static gboolean
commit_state (Job *job, GError **error)
{
  if (!ms_maildir_sync_dirs (job->ctx->maildir, job->box, job->note.new_dir, job->note.cur_dir, error))
    return FALSE;
  job->note = (MsSyncShelfNote) { FALSE, FALSE, 0 };
  return ms_sync_state_file_commit (job->state_file, error);
}

/* Makes the deliveries so far durable, then records their pairs.  With a
 * shelf, neither: the pairs go into the state in memory only, and their
 * directories are synced before it is committed (commit_state()); until
 * then their journal lines ('<', synced before the renames) stand for
 * them, and an open that replays those finds the files. */
static gboolean
record_deliveries (Job *job, GError **error)
{
  if (job->delivered->len == 0)
    return TRUE;
  /* Deliveries go to new/, or to cur/ when already seen (see on_pull_fetch). */
  gboolean to_new = FALSE, to_cur = FALSE;
  for (guint i = 0; i < job->delivered->len; i++) {
    gboolean seen = (g_array_index (job->delivered, DeliveredPull, i).flags & MS_FLAG_SEEN) != 0;
    to_cur = to_cur || seen;
    to_new = to_new || !seen;
  }
  gboolean shelf = job->ctx->shelf != NULL;
  if (shelf) {
    job->note.new_dir = job->note.new_dir || to_new;
    job->note.cur_dir = job->note.cur_dir || to_cur;
  } else if (!ms_maildir_sync_dirs (job->ctx->maildir, job->box, to_new, to_cur, error)) {
    return FALSE;
  }
  for (guint i = 0; i < job->delivered->len; i++) {
    const DeliveredPull *dp = &g_array_index (job->delivered, DeliveredPull, i);
    if (shelf)
      ms_sync_state_add_pair (ms_sync_state_file_state (job->state_file), dp->far_uid, dp->near_uid, dp->flags);
    else if (!ms_sync_state_file_pair (job->state_file, dp->far_uid, dp->near_uid, dp->flags, error))
      return FALSE;
    job->pulled_max = MAX (job->pulled_max, dp->near_uid);
    job->counts->pulled++;
  }
  g_array_set_size (job->delivered, 0);
  return TRUE;
}

/* Drops the held bodies (unlinked from tmp/): they count as not pulled. */
static void
drop_held (Job *job)
{
  for (guint i = 0; i < job->held->len; i++) {
    HeldPull *hp = &g_array_index (job->held, HeldPull, i);
    ms_maildir_delivery_abort (g_steal_pointer (&hp->delivery));
    g_hash_table_insert (job->pull_near_uid, GUINT_TO_POINTER (hp->far_uid), GUINT_TO_POINTER (hp->near_uid));
  }
  g_array_set_size (job->held, 0);
}

/* Drops the bodies fetched ahead that no pull took. */
static void
drop_ahead (Job *job)
{
  for (guint i = 0; i < job->ahead->len; i++)
    ms_maildir_delivery_abort (g_steal_pointer (&g_array_index (job->ahead, HeldPull, i).delivery));
  g_array_set_size (job->ahead, 0);
}

/* Moves the held bodies into place: the journal naming their UIDs is made
 * durable first (once per pull run; nothing may carry a reserved UID
 * before), then each is synced and renamed, then recorded in batches.
 * A body that cannot be placed is dropped (fetched again next time); the
 * first error is returned after the others were placed. */
static gboolean
place_held (Job *job, GError **error)
{
  if (job->held->len == 0)
    return TRUE;
  GError *first = NULL;
  if (!job->journal_synced && !ms_sync_journal_sync (job->state_file, &first)) {
    drop_held (job);
    g_propagate_error (error, first);
    return FALSE;
  }
  job->journal_synced = TRUE;
  for (guint i = 0; i < job->held->len; i++) {
    HeldPull *hp = &g_array_index (job->held, HeldPull, i);
    GError *local = NULL;
    ms_sync_step ();
    g_autofree char *name = ms_maildir_delivery_commit (g_steal_pointer (&hp->delivery), hp->near_uid, hp->flags,
                                                        !(hp->flags & MS_FLAG_SEEN), &local);
    if (name == NULL) {
      /* Not pulled after all (see carry_out()). */
      g_hash_table_insert (job->pull_near_uid, GUINT_TO_POINTER (hp->far_uid), GUINT_TO_POINTER (hp->near_uid));
      if (first == NULL)
        first = local;
      else
        g_error_free (local);
      continue;
    }
    DeliveredPull dp = { hp->far_uid, hp->near_uid, hp->flags };
    g_array_append_val (job->delivered, dp);
  }
  g_array_set_size (job->held, 0);
  if (first == NULL && job->delivered->len >= PULL_SYNC_BATCH)
    record_deliveries (job, &first);
  if (first != NULL) {
    g_propagate_error (error, first);
    return FALSE;
  }
  return TRUE;
}

/* For a FETCH response whose BODY[] was streamed into job->delivery: that
 * delivery (the job's is cleared) and the response's UID in *uid (0 if it
 * has none); NULL for any other response. */
static MsMaildirDelivery *
take_body (Job *job, const MsImapResponse *r, guint32 *uid)
{
  const char *kw = ms_imap_response_get_keyword (r);
  if (kw == NULL || !g_str_equal (kw, "FETCH") || job->delivery == NULL)
    return NULL;
  const MsImapValue *uidv = ms_imap_response_get_fetch_attr (r, "UID");
  guint64 u = 0;
  *uid = uidv != NULL && ms_imap_value_get_number (uidv, &u) && u <= G_MAXUINT32 ? (guint32) u : 0;
  return g_steal_pointer (&job->delivery);
}

static void
on_pull_fetch (const MsImapResponse *r, gpointer data)
{
  Job *job = data;
  guint32 far_uid = 0;
  g_autoptr (MsMaildirDelivery) d = take_body (job, r, &far_uid);
  if (d == NULL)
    return;
  job->progress.done = MIN (job->progress.done + 1, job->progress.total);
  report_progress (job);
  gpointer near;
  if (far_uid == 0 || !g_hash_table_lookup_extended (job->pull_near_uid, GUINT_TO_POINTER (far_uid), NULL, &near)) {
    ms_maildir_delivery_abort (g_steal_pointer (&d));
    return; /* not one we asked for */
  }
  guint32 near_uid = GPOINTER_TO_UINT (near);
  MsFlags flags = GPOINTER_TO_UINT (g_hash_table_lookup (job->pull_flags, GUINT_TO_POINTER (far_uid)));
  /* A UID asked for twice is delivered once. */
  g_hash_table_remove (job->pull_near_uid, GUINT_TO_POINTER (far_uid));
  ms_maildir_delivery_start_writeback (d);
  HeldPull hp = { g_steal_pointer (&d), far_uid, near_uid, flags };
  g_array_append_val (job->held, hp);
  GError *error = NULL;
  if (job->held->len >= PULL_HOLD_MAX && !place_held (job, &error))
    defer_error (job, error);
}

/* A body fetched ahead: held without a Maildir UID until the plan. */
static void
on_ahead_fetch (const MsImapResponse *r, gpointer data)
{
  Job *job = data;
  guint32 u = 0;
  g_autoptr (MsMaildirDelivery) d = take_body (job, r, &u);
  if (d == NULL)
    return;
  gboolean wanted = u != 0 && u >= job->ahead_from && u <= job->ahead_to;
  for (guint i = 0; wanted && i < job->ahead->len; i++)
    wanted = g_array_index (job->ahead, HeldPull, i).far_uid != u; /* once */
  if (!wanted) {
    ms_maildir_delivery_abort (g_steal_pointer (&d));
    return;
  }
  ms_maildir_delivery_start_writeback (d);
  HeldPull hp = { g_steal_pointer (&d), u, 0, 0 };
  g_array_append_val (job->ahead, hp);
}

/* Takes the body of `far_uid` fetched ahead, if there is one, into the held
 * ones with its reserved Maildir UID. */
static gboolean
adopt_ahead (Job *job, guint32 far_uid, guint32 near_uid, MsFlags flags)
{
  for (guint i = 0; i < job->ahead->len; i++) {
    HeldPull *hp = &g_array_index (job->ahead, HeldPull, i);
    if (hp->far_uid != far_uid)
      continue;
    HeldPull taken = { g_steal_pointer (&hp->delivery), far_uid, near_uid, flags };
    g_array_remove_index_fast (job->ahead, i);
    g_array_append_val (job->held, taken);
    return TRUE;
  }
  return FALSE;
}

/* Reserves `n` Maildir UIDs above everything in use; returns the first.
 * The caller syncs the journal before the UIDs are used. */
static guint32
reserve_near_uids (Job *job, guint n, GError **error)
{
  MsMaildirScan *scan = job->scan;
  guint32 first = scan->max_uid + 1;
  for (guint i = 0; i < scan->messages->len; i++) {
    const MsMaildirMessage *m = g_ptr_array_index (scan->messages, i);
    first = MAX (first, m->uid + 1);
  }
  MsSyncState *state = ms_sync_state_file_state (job->state_file);
  first = MAX (first, state->max_pushed + 1);
  if (!ms_sync_journal_reserve (job->state_file, first + n - 1, error))
    return 0;
  /* .uidvalidity is rewritten without a sync of its own: the reservation
   * is in the journal, which the caller makes durable before any file
   * carries one of these UIDs.  Should a crash lose the rewrite, the next
   * reservation still starts above every UID that the Maildir's files and
   * the state hold (above). */
  MsMaildirStore lazy = *job->ctx->maildir;
  lazy.fsync = FALSE;
  ms_sync_step ();
  if (!ms_maildir_write_uidvalidity (&lazy, job->box, scan->uidvalidity, first + n - 1, error))
    return 0;
  scan->max_uid = first + n - 1;
  return first;
}

/* The size the listing gave for a server message (0: not listed). */
static guint64
listed_size (Job *job, guint32 uid)
{
  MsFarMessage key = { .uid = uid };
  const MsFarMessage *m = bsearch (&key, job->listing.messages->data, job->listing.messages->len, sizeof key, far_cmp);
  return m ? m->size : 0;
}

static gboolean
do_pulls (Job *job, const MsSyncPlan *plan, GError **error)
{
  g_autoptr (GArray) uids = g_array_new (FALSE, FALSE, sizeof (guint32));
  for (guint i = 0; i < plan->actions->len; i++) {
    const MsSyncAction *a = &g_array_index (plan->actions, MsSyncAction, i);
    if (a->kind == MS_ACTION_PULL)
      g_array_append_val (uids, a->far_uid);
  }
  if (uids->len == 0)
    return TRUE;
  guint32 near = reserve_near_uids (job, uids->len, error);
  if (near == 0)
    return FALSE;
  /* The caller set the message total (start_progress()); the bytes are
   * counted as the pulls are listed. */
  for (guint i = 0; i < uids->len; i++)
    job->progress.bytes_total += listed_size (job, g_array_index (uids, guint32, i));
  for (guint i = 0; i < plan->actions->len; i++) {
    const MsSyncAction *a = &g_array_index (plan->actions, MsSyncAction, i);
    if (a->kind != MS_ACTION_PULL)
      continue;
    if (!ms_sync_journal_pull (job->state_file, a->far_uid, near, a->flags, error))
      return FALSE;
    g_hash_table_insert (job->pull_near_uid, GUINT_TO_POINTER (a->far_uid), GUINT_TO_POINTER (near));
    g_hash_table_insert (job->pull_flags, GUINT_TO_POINTER (a->far_uid), GUINT_TO_POINTER (a->flags));
    near++;
  }
  /* The journal is synced only once bodies have arrived (place_held()):
   * that one sync then carries the journal and their data to the disk. */
  job->journal_synced = FALSE;
  /* Bodies fetched ahead are taken first; only the others are asked for. */
  gboolean ok = TRUE;
  for (guint i = uids->len; ok && job->ahead->len > 0 && i-- > 0;) {
    guint32 far_uid = g_array_index (uids, guint32, i);
    gpointer near_uid = NULL;
    if (!g_hash_table_lookup_extended (job->pull_near_uid, GUINT_TO_POINTER (far_uid), NULL, &near_uid))
      continue; /* listed twice (an unsolicited FETCH): taken already */
    MsFlags flags = GPOINTER_TO_UINT (g_hash_table_lookup (job->pull_flags, GUINT_TO_POINTER (far_uid)));
    if (!adopt_ahead (job, far_uid, GPOINTER_TO_UINT (near_uid), flags))
      continue;
    g_hash_table_remove (job->pull_near_uid, GUINT_TO_POINTER (far_uid));
    g_array_remove_index (uids, i);
    job->progress.done++;
    job->progress.bytes_done += listed_size (job, far_uid);
    if (job->held->len >= PULL_HOLD_MAX && !place_held (job, error))
      ok = FALSE;
  }
  drop_ahead (job);
  MsImapParser *parser = ms_imap_client_parser (job->ctx->imap);
  g_autoptr (GPtrArray) tags = g_ptr_array_new_with_free_func (g_free);
  GError *send_error = NULL;
  gboolean sent = TRUE;
  if (ok && uids->len > 0) {
    sent = send_per_set (job->ctx->imap, uids, "UID FETCH", "(UID BODY.PEEK[])", tags, &send_error);
    ms_imap_parser_set_literal_sink (parser, &pull_sink, job);
    /* What was sent is waited for even when a later send failed. */
    ok = wait_all (job->ctx->imap, tags, on_pull_fetch, job, sent ? error : NULL) && sent;
    ms_imap_parser_set_literal_sink (parser, NULL, NULL);
  }
  if (send_error != NULL)
    g_propagate_error (error, send_error);
  if (job->delivery != NULL)
    ms_maildir_delivery_abort (g_steal_pointer (&job->delivery));
  /* What arrived is kept even when the FETCH failed halfway. */
  g_autoptr (GError) place_error = NULL, record_error = NULL;
  gboolean placed = place_held (job, &place_error);
  gboolean recorded = record_deliveries (job, &record_error);
  if (!placed) {
    g_clear_error (error);
    g_propagate_error (error, g_steal_pointer (&place_error));
    return FALSE;
  }
  if (!ok)
    return FALSE;
  if (job->deferred != NULL) {
    g_propagate_error (error, g_steal_pointer (&job->deferred));
    return FALSE;
  }
  if (!recorded) {
    g_propagate_error (error, g_steal_pointer (&record_error));
    return FALSE;
  }
  return TRUE;
}

/* --- finding server messages by content ----------------------------------------- */

/* What identifies a message across UIDVALIDITY changes and lost APPEND
 * replies: its Message-ID and its size on the server (CRLF line ends). */
static char *
content_key (const char *message_id, guint64 size)
{
  return g_strdup_printf ("%s %" G_GUINT64_FORMAT, message_id ? message_id : "", size);
}

/* The Message-ID of a header block ("<x@y>"), unfolded; NULL if none. */
static char *
header_message_id (const char *text, gsize len)
{
  const char *end = text + len;
  for (const char *p = text; p < end;) {
    const char *eol = memchr (p, '\n', (gsize) (end - p));
    const char *line_end = eol ? eol : end;
    if (line_end == p || (line_end == p + 1 && *p == '\r'))
      break; /* end of the header */
    if ((gsize) (line_end - p) > 11 && g_ascii_strncasecmp (p, "Message-ID:", 11) == 0) {
      GString *v = g_string_new_len (p + 11, line_end - p - 11);
      /* Continuation lines start with white space. */
      for (const char *q = eol ? eol + 1 : end; q < end && (*q == ' ' || *q == '\t');) {
        const char *qe = memchr (q, '\n', (gsize) (end - q));
        g_string_append_len (v, q, (qe ? qe : end) - q);
        q = qe ? qe + 1 : end;
      }
      char *id = g_strstrip (g_string_free (v, FALSE));
      g_strdelimit (id, "\r\n\t", ' ');
      return id;
    }
    p = eol ? eol + 1 : end;
  }
  return NULL;
}

/* A message header is read this far for its Message-ID; real headers are
 * a few kilobytes, and a Message-ID beyond this is not worth the memory. */
#define HEADER_READ_MAX (256 * 1024)

/* A server message without a Message-ID: found again by its size and its
 * place in the order of appends, if at all. */
typedef struct {
  guint32 uid;
  guint64 size;
} FarAnonymous;

/* Server messages at or above a UID, by content. */
typedef struct {
  guint32 from;
  GHashTable *by_key;  /* content key -> far uid */
  GArray *anonymous;   /* FarAnonymous, by UID */
  guint anonymous_pos; /* the next one far_index_take_anonymous() looks at */
} FarIndex;

static void
far_index_free (FarIndex *index)
{
  if (index == NULL)
    return;
  g_hash_table_unref (index->by_key);
  g_array_unref (index->anonymous);
  g_free (index);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FarIndex, far_index_free)

static void
on_index_fetch (const MsImapResponse *r, gpointer data)
{
  FarIndex *index = data;
  const char *kw = ms_imap_response_get_keyword (r);
  if (kw == NULL || !g_str_equal (kw, "FETCH"))
    return;
  const MsImapValue *uidv = ms_imap_response_get_fetch_attr (r, "UID");
  const MsImapValue *sizev = ms_imap_response_get_fetch_attr (r, "RFC822.SIZE");
  const MsImapValue *hdr = ms_imap_response_get_fetch_attr (r, "BODY[HEADER.FIELDS (MESSAGE-ID)]");
  guint64 uid = 0, size = 0;
  if (uidv == NULL || sizev == NULL || !ms_imap_value_get_number (uidv, &uid)
      || !ms_imap_value_get_number (sizev, &size) || uid == 0 || uid > G_MAXUINT32)
    return;
  /* "N:*" also names the last message when every UID is below N. */
  if (uid < index->from)
    return;
  gsize hlen = 0;
  const char *htext = hdr ? ms_imap_value_get_bytes (hdr, &hlen) : NULL;
  g_autofree char *id = htext ? header_message_id (htext, hlen) : NULL;
  if (id == NULL) {
    FarAnonymous a = { (guint32) uid, size };
    g_array_append_val (index->anonymous, a);
    return;
  }
  g_hash_table_insert (index->by_key, content_key (id, size), GUINT_TO_POINTER ((guint32) uid));
}

static gint
anonymous_cmp (gconstpointer a, gconstpointer b)
{
  const FarAnonymous *x = a, *y = b;
  return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* Indexes the server messages with UID >= from by content. */
static FarIndex *
index_far (Job *job, guint32 from, GError **error)
{
  g_autoptr (FarIndex) index = g_new0 (FarIndex, 1);
  index->from = MAX (from, 1);
  index->by_key = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  index->anonymous = g_array_new (FALSE, FALSE, sizeof (FarAnonymous));
  g_autoptr (MsImapResponse) r = ms_imap_client_run (
    job->ctx->imap, on_index_fetch, index, error,
    "UID FETCH %u:* (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])", index->from);
  if (r == NULL)
    return NULL;
  g_array_sort (index->anonymous, anonymous_cmp);
  return g_steal_pointer (&index);
}

/* The server UID of a message with a Message-ID (its content key), taken
 * out of the index; 0 if none, or if the state pairs it already (a match
 * made before an interruption). */
static guint32
far_index_take_key (FarIndex *index, MsSyncState *state, const char *key)
{
  gpointer far;
  if (!g_hash_table_lookup_extended (index->by_key, key, NULL, &far))
    return 0;
  g_hash_table_remove (index->by_key, key);
  return ms_sync_state_find_far (state, GPOINTER_TO_UINT (far)) == NULL ? GPOINTER_TO_UINT (far) : 0;
}

/* The server UID of a message without a Message-ID that we appended: the
 * server numbers appends in the order they come, so asked in that order,
 * this is the next message without a Message-ID that has the size and
 * that no pair holds yet (another client's append in between, of another
 * size, is skipped).  0 if none. */
static guint32
far_index_take_anonymous (FarIndex *index, MsSyncState *state, guint64 size)
{
  for (guint i = index->anonymous_pos; i < index->anonymous->len; i++) {
    const FarAnonymous *a = &g_array_index (index->anonymous, FarAnonymous, i);
    if (a->size == size && ms_sync_state_find_far (state, a->uid) == NULL) {
      index->anonymous_pos = i + 1;
      return a->uid;
    }
  }
  return 0;
}

/* --- pushes ------------------------------------------------------------------- */

/* Reads a Maildir file as IMAP wants it: bare LF becomes CRLF. */
typedef struct {
  int fd;
  gboolean last_cr;
  char in[32768];
} PushReader;

static gssize
push_read (gpointer data, char *buf, gsize len, GError **error)
{
  PushReader *pr = data;
  /* Each input byte becomes at most two output bytes. */
  gsize want = MIN (sizeof pr->in, len / 2);
  if (want == 0)
    want = 1;
  gssize n;
  do
    n = read (pr->fd, pr->in, want);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    int e = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "reading a message: %s", g_strerror (e));
    return -1;
  }
  gsize o = 0;
  for (gssize i = 0; i < n; i++) {
    char ch = pr->in[i];
    if (ch == '\n' && !pr->last_cr)
      buf[o++] = '\r';
    buf[o++] = ch;
    pr->last_cr = ch == '\r';
  }
  return (gssize) o;
}

/* The size of a file once bare LFs become CRLF, and its Message-ID. */
static gboolean
measure_message (int fd, guint64 *size, char **message_id, GError **error)
{
  char buf[65536];
  guint64 total = 0;
  gboolean last_cr = FALSE;
  g_autoptr (GString) header = g_string_new (NULL);
  gboolean in_header = TRUE;
  for (;;) {
    gssize n = read (fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "reading a message: %s", g_strerror (e));
      return FALSE;
    }
    if (n == 0)
      break;
    for (gssize i = 0; i < n; i++) {
      if (buf[i] == '\n' && !last_cr)
        total++;
      last_cr = buf[i] == '\r';
    }
    total += (guint64) n;
    if (in_header) {
      g_string_append_len (header, buf, n);
      if (strstr (header->str, "\n\n") != NULL || strstr (header->str, "\r\n\r\n") != NULL
          || header->len > HEADER_READ_MAX)
        in_header = FALSE;
    }
  }
  *size = total;
  if (message_id != NULL)
    *message_id = header_message_id (header->str, header->len);
  if (lseek (fd, 0, SEEK_SET) < 0) {
    int e = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "seeking a message: %s", g_strerror (e));
    return FALSE;
  }
  return TRUE;
}

typedef struct {
  char *tag;
  guint32 near_uid;
  MsFlags flags;
  guint64 size;
  char *key; /* content key, for matching without APPENDUID; NULL without a Message-ID */
} Append;

static void
append_free (gpointer p)
{
  Append *a = p;
  g_free (a->tag);
  g_free (a->key);
  g_free (a);
}

/* Gives Maildir messages that have no UID yet one each (renaming them). */
static gboolean
number_new_messages (Job *job, const MsSyncPlan *plan, GError **error)
{
  guint n = 0;
  for (guint i = 0; i < plan->actions->len; i++) {
    const MsSyncAction *a = &g_array_index (plan->actions, MsSyncAction, i);
    n += a->kind == MS_ACTION_PUSH && a->near_uid == 0;
  }
  if (n == 0)
    return TRUE;
  guint32 uid = reserve_near_uids (job, n, error);
  if (uid == 0 || !ms_sync_journal_sync (job->state_file, error))
    return FALSE;
  for (guint i = 0; i < plan->actions->len; i++) {
    MsSyncAction *a = &g_array_index (plan->actions, MsSyncAction, i);
    if (a->kind != MS_ACTION_PUSH || a->near_uid != 0)
      continue;
    MsMaildirMessage *m = g_ptr_array_index (job->scan->messages, a->near_index);
    ms_sync_step ();
    if (!ms_maildir_update (job->ctx->maildir, job->box, m, m->flags, uid, error))
      return FALSE;
    job->numbered_max = uid;
    a->near_uid = uid++;
  }
  /* The journal's '>' lines name these UIDs: they must be on disk first. */
  return ms_maildir_sync_folder (job->ctx->maildir, job->box, error);
}

/* Waits for the APPEND at the head of `inflight` and pairs its message. */
static gboolean
finish_append (Job *job, GQueue *inflight, GPtrArray *unmatched, GError **error)
{
  Append *a = g_queue_pop_head (inflight);
  g_autoptr (MsImapResponse) r = ms_imap_client_wait (job->ctx->imap, a->tag, NULL, NULL, error);
  if (r == NULL) {
    append_free (a);
    return FALSE;
  }
  job->counts->pushed++;
  const char *code = ms_imap_response_get_code (r);
  const MsImapValue *args = ms_imap_response_get_code_args (r);
  guint64 validity = 0, uid = 0;
  if (code != NULL && g_ascii_strcasecmp (code, "APPENDUID") == 0 && ms_imap_value_get_n_items (args) == 2
      && ms_imap_value_get_number (ms_imap_value_get_item (args, 0), &validity)
      && ms_imap_value_get_number (ms_imap_value_get_item (args, 1), &uid) && validity == job->uidvalidity
      && uid > 0 && uid <= G_MAXUINT32) {
    gboolean ok = ms_sync_state_file_pair (job->state_file, (guint32) uid, a->near_uid, a->flags, error);
    append_free (a);
    return ok;
  }
  g_ptr_array_add (unmatched, a);
  return TRUE;
}

/* Without APPENDUID: find the appended messages by content, or by size
 * and order for those without a Message-ID.  One not found stays unpaired:
 * its server copy is then pulled as a new message. */
static gboolean
match_appends (Job *job, GPtrArray *unmatched, GError **error)
{
  if (unmatched->len == 0)
    return TRUE;
  g_autoptr (FarIndex) index = index_far (job, job->uidnext, error);
  if (index == NULL)
    return FALSE;
  for (guint i = 0; i < unmatched->len; i++) {
    Append *a = g_ptr_array_index (unmatched, i);
    MsSyncState *state = ms_sync_state_file_state (job->state_file);
    guint32 far = a->key ? far_index_take_key (index, state, a->key)
                         : far_index_take_anonymous (index, state, a->size);
    if (far != 0 && !ms_sync_state_file_pair (job->state_file, far, a->near_uid, a->flags, error))
      return FALSE;
  }
  return TRUE;
}

/* A message to append, as the first pass of do_pushes() measured it. */
typedef struct {
  const MsSyncAction *action;
  guint64 size;
  char *key; /* content key; NULL without a Message-ID */
} PushItem;

static void
push_item_clear (gpointer p)
{
  g_free (((PushItem *) p)->key);
}

/* Opens a message to push: an fd, or -1 with *gone set if it was deleted
 * meanwhile, or -1 with an error. */
static int
open_push (Job *job, const MsSyncAction *a, gboolean *gone, GError **error)
{
  const MsMaildirMessage *m = g_ptr_array_index (job->scan->messages, a->near_index);
  g_autoptr (GError) local = NULL;
  int fd = ms_maildir_open_message (job->ctx->maildir, job->box, m, &local);
  *gone = fd < 0 && g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  if (fd < 0 && !*gone)
    g_propagate_error (error, g_steal_pointer (&local));
  return fd;
}

/* Two passes: the first measures every message and announces it in the
 * journal ('>'), then the journal is made durable once; the second sends
 * the APPENDs.  (Announcing and syncing one message at a time would cost an
 * fdatasync per message.) */
static gboolean
do_pushes (Job *job, const MsSyncPlan *plan, GError **error)
{
  if (plan->n_push == 0)
    return TRUE;
  if (!number_new_messages (job, plan, error))
    return FALSE;
  MsImapClient *imap = job->ctx->imap;
  gboolean pipelined = ms_imap_client_has_cap (imap, "LITERAL+");

  g_autoptr (GArray) items = g_array_new (FALSE, TRUE, sizeof (PushItem));
  g_array_set_clear_func (items, push_item_clear);
  for (guint i = 0; i < plan->actions->len; i++) {
    const MsSyncAction *a = &g_array_index (plan->actions, MsSyncAction, i);
    if (a->kind != MS_ACTION_PUSH)
      continue;
    gboolean gone;
    int fd = open_push (job, a, &gone, error);
    if (fd < 0) {
      if (!gone)
        return FALSE;
      continue; /* deleted meanwhile: nothing to push */
    }
    PushItem item = { a, 0, NULL };
    g_autofree char *message_id = NULL;
    gboolean measured = measure_message (fd, &item.size, &message_id, error);
    close (fd);
    if (!measured || !ms_sync_journal_push (job->state_file, a->near_uid, job->uidnext, item.size, error))
      return FALSE;
    item.key = message_id ? content_key (message_id, item.size) : NULL;
    g_array_append_val (items, item);
  }
  if (items->len == 0)
    return TRUE;
  if (!ms_sync_journal_sync (job->state_file, error))
    return FALSE;

  g_autoptr (GPtrArray) unmatched = g_ptr_array_new_with_free_func (append_free);
  GQueue inflight = G_QUEUE_INIT;
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < items->len; i++) {
    PushItem *item = &g_array_index (items, PushItem, i);
    const MsSyncAction *a = item->action;
    gboolean gone;
    int fd = open_push (job, a, &gone, error);
    if (fd < 0) {
      ok = gone; /* gone since: its '>' line finds nothing next time */
      continue;
    }
    PushReader reader = { .fd = fd };
    g_autofree char *flags = flags_to_imap (a->flags & ~MS_FLAG_DELETED);
    ms_sync_step ();
    char *tag = ms_imap_client_send_append (imap, job->far_quoted, flags, item->size, push_read, &reader, error);
    close (fd);
    if (tag == NULL) {
      ok = FALSE;
      break;
    }
    Append *ap = g_new0 (Append, 1);
    ap->tag = tag;
    ap->near_uid = a->near_uid;
    ap->flags = a->flags & ~MS_FLAG_DELETED;
    ap->size = item->size;
    ap->key = g_steal_pointer (&item->key);
    g_queue_push_tail (&inflight, ap);
    if (!pipelined || inflight.length >= APPENDS_IN_FLIGHT)
      ok = finish_append (job, &inflight, unmatched, error);
  }
  /* Drain what is in flight even after a failure, so that the replies are
   * read and the connection stays in step. */
  while (!g_queue_is_empty (&inflight)) {
    g_autoptr (GError) local = NULL;
    if (!finish_append (job, &inflight, unmatched, ok ? error : &local))
      ok = FALSE;
  }
  return ok && match_appends (job, unmatched, error);
}

/* --- flags and removals --------------------------------------------------------- */

/* One UID STORE per distinct change, over every UID that gets it. */
static gboolean
store_far_flags (Job *job, const MsSyncPlan *plan, GError **error)
{
  g_autoptr (GHashTable) groups = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) g_array_unref);
  for (guint i = 0; i < plan->actions->len; i++) {
    const MsSyncAction *a = &g_array_index (plan->actions, MsSyncAction, i);
    if (a->kind != MS_ACTION_FLAGS_FAR)
      continue;
    for (int sign = 0; sign < 2; sign++) {
      MsFlags f = sign ? a->remove : a->add;
      if (f == 0)
        continue;
      gpointer key = GUINT_TO_POINTER ((guint) f | (sign ? 0x100u : 0u));
      GArray *uids = g_hash_table_lookup (groups, key);
      if (uids == NULL) {
        uids = g_array_new (FALSE, FALSE, sizeof (guint32));
        g_hash_table_insert (groups, key, uids);
      }
      g_array_append_val (uids, a->far_uid);
    }
  }
  /* Every group's STOREs in one round trip. */
  g_autoptr (GPtrArray) tags = g_ptr_array_new_with_free_func (g_free);
  gboolean sent = TRUE;
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init (&it, groups);
  while (sent && g_hash_table_iter_next (&it, &key, &value)) {
    guint k = GPOINTER_TO_UINT (key);
    g_autofree char *names = flags_to_imap ((MsFlags) (k & 0xff));
    g_autofree char *suffix = g_strdup_printf ("%cFLAGS.SILENT (%s)", (k & 0x100) ? '-' : '+', names);
    ms_sync_step ();
    sent = send_per_set (job->ctx->imap, value, "UID STORE", suffix, tags, error);
  }
  if (!wait_all (job->ctx->imap, tags, NULL, NULL, sent ? error : NULL) || !sent)
    return FALSE;
  job->counts->flags_far += plan->n_flags_far;
  return TRUE;
}

static gboolean
expunge_far (Job *job, GArray *uids, GError **error)
{
  if (uids->len == 0)
    return TRUE;
  MsImapClient *imap = job->ctx->imap;
  ms_sync_step ();
  if (!run_per_set (imap, uids, "UID STORE", "+FLAGS.SILENT (\\Deleted)", NULL, NULL, error))
    return FALSE;
  ms_sync_step ();
  if (ms_imap_client_has_cap (imap, "UIDPLUS")) {
    if (!run_per_set (imap, uids, "UID EXPUNGE", "", NULL, NULL, error))
      return FALSE;
  } else {
    /* Removes every \Deleted message, as mbsync does with Expunge Far. */
    g_autoptr (MsImapResponse) r = ms_imap_client_run (imap, NULL, NULL, error, "EXPUNGE");
    if (r == NULL)
      return FALSE;
  }
  job->counts->expunged_far += uids->len;
  return TRUE;
}

/* Records a pair change (UNPAIR or PAIR_FLAGS) in the state. */
static gboolean
apply_pair_change (Job *job, const MsSyncAction *a, GError **error)
{
  if (a->kind == MS_ACTION_UNPAIR)
    return ms_sync_state_file_unpair (job->state_file, a->far_uid, a->near_uid, error);
  return ms_sync_state_file_set_flags (job->state_file, a->far_uid, a->near_uid, a->flags, error);
}

/* Everything after the transfers, in the plan's order; server expunges are
 * batched.  A pair change that follows the expunge of its server message
 * (its UNPAIR, and the PAIR_FLAGS that keeps the Maildir side as (0, NEAR))
 * waits until the expunge is done: recorded earlier, a crash in between
 * would leave a \Deleted server message that no pair leads to. */
static gboolean
apply_rest (Job *job, const MsSyncPlan *plan, GError **error)
{
  const MsMaildirStore *store = job->ctx->maildir;
  g_autoptr (GArray) expunge = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr (GHashTable) expunging = g_hash_table_new (NULL, NULL);   /* far uids */
  g_autoptr (GHashTable) late_near = g_hash_table_new (NULL, NULL);   /* near uids of late UNPAIRs */
  g_autoptr (GArray) late = g_array_new (FALSE, FALSE, sizeof (MsSyncAction));
  /* Pair changes wait for the Maildir changes before them to be durable
   * (one directory sync for all), so the state never runs ahead of the disk. */
  g_autoptr (GArray) now = g_array_new (FALSE, FALSE, sizeof (MsSyncAction));

  for (guint i = 0; i < plan->actions->len; i++) {
    const MsSyncAction *a = &g_array_index (plan->actions, MsSyncAction, i);
    switch (a->kind) {
    case MS_ACTION_FLAGS_NEAR: {
      MsMaildirMessage *m = g_ptr_array_index (job->scan->messages, a->near_index);
      g_autoptr (GError) local = NULL;
      ms_sync_step ();
      if (!ms_maildir_update (store, job->box, m, a->flags, 0, &local)) {
        if (!g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)) {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
        continue; /* removed meanwhile: the next run sees that */
      }
      job->counts->flags_near++;
      break;
    }
    case MS_ACTION_REMOVE_NEAR: {
      const MsMaildirMessage *m = g_ptr_array_index (job->scan->messages, a->near_index);
      ms_sync_step ();
      if (!ms_maildir_remove (store, job->box, m, error))
        return FALSE;
      job->counts->removed_near++;
      break;
    }
    case MS_ACTION_EXPUNGE_FAR:
      g_array_append_val (expunge, a->far_uid);
      g_hash_table_add (expunging, GUINT_TO_POINTER (a->far_uid));
      break;
    case MS_ACTION_UNPAIR:
    case MS_ACTION_PAIR_FLAGS:
      if ((a->far_uid != 0 && g_hash_table_contains (expunging, GUINT_TO_POINTER (a->far_uid)))
          || (a->kind == MS_ACTION_PAIR_FLAGS && a->near_uid != 0
              && g_hash_table_contains (late_near, GUINT_TO_POINTER (a->near_uid)))) {
        if (a->kind == MS_ACTION_UNPAIR && a->near_uid != 0)
          g_hash_table_add (late_near, GUINT_TO_POINTER (a->near_uid));
        g_array_append_val (late, *a);
      } else {
        g_array_append_val (now, *a);
      }
      break;
    case MS_ACTION_PULL:
    case MS_ACTION_PUSH:
    case MS_ACTION_FLAGS_FAR:
      break; /* done in their own passes */
    }
  }
  if ((job->counts->flags_near > 0 || job->counts->removed_near > 0)
      && !ms_maildir_sync_folder (store, job->box, error))
    return FALSE;
  for (guint i = 0; i < now->len; i++)
    if (!apply_pair_change (job, &g_array_index (now, MsSyncAction, i), error))
      return FALSE;
  if (!expunge_far (job, expunge, error))
    return FALSE;
  for (guint i = 0; i < late->len; i++)
    if (!apply_pair_change (job, &g_array_index (late, MsSyncAction, i), error))
      return FALSE;
  return TRUE;
}

/* --- recovery and re-pairing ------------------------------------------------------- */

static const MsMaildirMessage *
near_by_uid (Job *job, guint32 uid)
{
  for (guint i = 0; i < job->scan->messages->len; i++) {
    const MsMaildirMessage *m = g_ptr_array_index (job->scan->messages, i);
    if (m->uid == uid)
      return m;
  }
  return NULL;
}

/* The content key of a Maildir message; NULL (no error) if it has no
 * Message-ID or is gone (*gone tells which; may be NULL). */
static char *
near_content_key (Job *job, const MsMaildirMessage *m, gboolean *gone, GError **error)
{
  g_autoptr (GError) local = NULL;
  int fd = ms_maildir_open_message (job->ctx->maildir, job->box, m, &local);
  if (gone != NULL)
    *gone = fd < 0 && g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  if (fd < 0) {
    if (!g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
      g_propagate_error (error, g_steal_pointer (&local));
    return NULL;
  }
  guint64 size = 0;
  g_autofree char *id = NULL;
  gboolean ok = measure_message (fd, &size, &id, error);
  close (fd);
  return ok && id != NULL ? content_key (id, size) : NULL;
}

/* Settles what an interrupted run left half done: a download whose file
 * made it into the Maildir, an APPEND that reached the server. */
static gboolean
resolve_pending (Job *job, GPtrArray *pending, GError **error)
{
  g_autoptr (FarIndex) index = NULL;
  gboolean synced_dirs = FALSE;
  for (guint i = 0; pending && i < pending->len; i++) {
    const MsSyncPending *p = g_ptr_array_index (pending, i);
    const MsMaildirMessage *m = near_by_uid (job, p->near_uid);
    if (m == NULL)
      continue; /* never arrived (pull) or gone since (push): plan afresh */
    /* Paired already: committed (a journal whose emptying was lost), or
     * recorded by a later line ('=' after the server expunged it). */
    if (ms_sync_state_find_near (ms_sync_state_file_state (job->state_file), p->near_uid) != NULL)
      continue;
    /* The interrupted run's renames may not be durable yet: synced before
     * the first pair that records one. */
    if (!synced_dirs && !ms_maildir_sync_folder (job->ctx->maildir, job->box, error))
      return FALSE;
    synced_dirs = TRUE;
    if (p->kind == MS_SYNC_PENDING_PULL) {
      /* The base is what it was delivered with: flags changed in the
       * Maildir since then are a change to sync. */
      MsFlags base = p->has_flags ? p->flags : m->flags;
      if (!ms_sync_state_file_pair (job->state_file, p->far_uid, p->near_uid, base, error))
        return FALSE;
      continue;
    }
    if (index == NULL && (index = index_far (job, p->uidnext, error)) == NULL)
      return FALSE;
    g_autoptr (GError) local = NULL;
    gboolean gone = FALSE;
    g_autofree char *key = near_content_key (job, m, &gone, &local);
    if (local != NULL) {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
    if (gone)
      continue;
    /* The '>' lines are in the order of the APPENDs. */
    MsSyncState *state = ms_sync_state_file_state (job->state_file);
    guint32 far = key ? far_index_take_key (index, state, key) : far_index_take_anonymous (index, state, p->size);
    if (far != 0 && !ms_sync_state_file_pair (job->state_file, far, p->near_uid, m->flags, error))
      return FALSE;
  }
  return TRUE;
}

/* The server's UIDVALIDITY changed (mailbox recreated, server migrated):
 * pair the Maildir's messages again with the server's by Message-ID and
 * size instead of downloading everything again.  Every Maildir message is
 * looked at, so that a message still on its way (a download or an APPEND
 * an interrupted run left pending) is found too.  A message keeps its old
 * pair's flags as the base of the merge; one that had no pair takes its
 * own.  Messages found on neither side keep their files; unmatched server
 * messages are pulled as new.
 *
 * The pairs change in memory only, not through the journal: the caller
 * commits the state right after, so that the re-pairing is durable all at
 * once.  Interrupted before that, the next run finds the old state and the
 * old UIDVALIDITY, and starts over; journaled, it would find some old pairs
 * gone and the flags they held with them. */
static gboolean
repair_uidvalidity (Job *job, MsSyncState *state, GError **error)
{
  g_message ("%s: server UIDVALIDITY changed (%u -> %u); pairing messages again by Message-ID and size",
             job->far_name, state->far_uidvalidity, job->uidvalidity);
  g_autoptr (FarIndex) index = index_far (job, 1, error);
  if (index == NULL)
    return FALSE;
  /* Every old pair goes first: the new UIDs overlap the old ones. */
  g_autoptr (GHashTable) base = g_hash_table_new (NULL, NULL); /* near uid -> flags + 1 */
  g_autoptr (GArray) old = g_array_copy (state->pairs);
  for (guint i = 0; i < old->len; i++) {
    const MsSyncPair *pair = &g_array_index (old, MsSyncPair, i);
    if (pair->near_uid != 0)
      g_hash_table_insert (base, GUINT_TO_POINTER (pair->near_uid), GUINT_TO_POINTER (pair->flags + 1));
    ms_sync_state_remove_pair (state, pair->far_uid, pair->near_uid);
  }
  for (guint i = 0; i < job->scan->messages->len; i++) {
    const MsMaildirMessage *m = g_ptr_array_index (job->scan->messages, i);
    if (m->uid == 0)
      continue;
    g_autoptr (GError) local = NULL;
    g_autofree char *key = near_content_key (job, m, NULL, &local);
    if (local != NULL) {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
    /* Without a Message-ID, size and order are too weak across a whole
     * mailbox: such a message is downloaded again. */
    guint32 far = key ? far_index_take_key (index, state, key) : 0;
    if (far == 0)
      continue;
    guint flags = GPOINTER_TO_UINT (g_hash_table_lookup (base, GUINT_TO_POINTER (m->uid)));
    ms_sync_state_add_pair (state, far, m->uid, flags ? (MsFlags) (flags - 1) : m->flags);
  }
  state->far_uidvalidity = job->uidvalidity;
  state->max_pulled = 0;
  state->far_highestmodseq = 0;
  state->far_uidnext = 0;
  state->far_messages = 0;
  return TRUE;
}

/* --- carrying out a plan ---------------------------------------------------------- */

/* A download's progress starts: `total` messages, no bytes yet. */
static void
start_progress (Job *job, guint total)
{
  job->progress = (MsSyncProgress) { 0, total, 0, 0 };
  job->progress_at_us = g_get_monotonic_time ();
}

/* Carries out `plan` and, when every copy succeeded, raises MaxPulledUid
 * to the plan's mark; a server message that the FETCH did not return
 * (expunged meanwhile, or a server's whim) keeps it below, so that it is
 * tried again if it is still there. */
static gboolean
carry_out (Job *job, MsSyncState *state, const MsSyncPlan *plan, GError **error)
{
  if (!do_pulls (job, plan, error) || !do_pushes (job, plan, error) || !store_far_flags (job, plan, error)
      || !apply_rest (job, plan, error))
    return FALSE;
  state->max_pulled = plan->max_pulled;
  GHashTableIter it;
  gpointer far_uid;
  g_hash_table_iter_init (&it, job->pull_near_uid);
  while (g_hash_table_iter_next (&it, &far_uid, NULL))
    state->max_pulled = MIN (state->max_pulled, GPOINTER_TO_UINT (far_uid) - 1);
  return TRUE;
}

static guint first_slice = MS_SYNC_FIRST_SLICE;

void
ms_sync_set_first_slice (guint messages)
{
  first_slice = MAX (messages, 1);
}

/* A first download (nothing paired, nothing in the Maildir folder, no
 * journal) of a mailbox larger than one slice. */
static gboolean
wants_slices (Job *job, const MsSyncState *state)
{
  return job->ctx->policy.pull_new && state->pairs->len == 0 && job->scan->messages->len == 0
         && !ms_sync_state_file_has_journal (job->state_file) && job->exists > first_slice;
}

static void
on_uid_of (const MsImapResponse *r, gpointer data)
{
  const char *kw = ms_imap_response_get_keyword (r);
  const MsImapValue *uid = kw && g_str_equal (kw, "FETCH") ? ms_imap_response_get_fetch_attr (r, "UID") : NULL;
  guint64 u = 0;
  if (uid != NULL && ms_imap_value_get_number (uid, &u) && u <= G_MAXUINT32)
    *(guint32 *) data = (guint32) u;
}

/* A first download in slices of first_slice messages by UID, each listed,
 * planned, fetched and committed on its own: memory stays flat in the
 * mailbox's size (the listing and the plan take some 50 bytes a message,
 * the state 16), and an interrupted download keeps what it committed.
 * With nothing paired and an empty folder, a slice's listing is all its
 * plan needs.  The commits leave HIGHESTMODSEQ unknown: a run after an
 * interruption lists every message.  Returns the last slice's plan. */
static MsSyncPlan *
first_download (Job *job, MsSyncState *state, GError **error)
{
  MsImapClient *imap = job->ctx->imap;
  start_progress (job, job->exists); /* the mailbox's, across the slices */
  g_autoptr (GArray) no_pairs = g_array_new (FALSE, FALSE, sizeof (MsSyncPair));
  guint32 from = 1;
  guint64 listed = 0;
  for (;;) {
    /* The slice ends at the UID of the message first_slice further on, or
     * with the mailbox.  (Should someone's expunge have made that sequence
     * number stale, the slice is only a little larger.) */
    guint32 to = 0;
    guint64 last = listed + first_slice;
    if (last < job->exists) {
      g_autoptr (MsImapResponse) r =
        ms_imap_client_run (imap, on_uid_of, &to, error, "FETCH %" G_GUINT64_FORMAT " (UID)", last);
      if (r == NULL)
        return NULL;
      if (to < from)
        to = 0;
    }
    listing_reset (job);
    job->listing.partial = TRUE;
    g_autoptr (MsImapResponse) r =
      to != 0 ? ms_imap_client_run (imap, on_listing, job, error, "UID FETCH %u:%u (UID FLAGS RFC822.SIZE)", from, to)
              : ms_imap_client_run (imap, on_listing, job, error, "UID FETCH %u:* (UID FLAGS RFC822.SIZE)", from);
    if (r == NULL) {
      g_prefix_error (error, "listing %s: ", job->far_name);
      return NULL;
    }
    /* "UID FETCH from:*" answers with the last message even when its UID
     * is below `from`. */
    GArray *m = job->listing.messages;
    for (guint i = m->len; i-- > 0;)
      if (g_array_index (m, MsFarMessage, i).uid < from)
        g_array_remove_index_fast (m, i);
    g_array_sort (m, far_cmp);
    char upto[16] = "*";
    if (to != 0)
      g_snprintf (upto, sizeof upto, "%u", to);
    g_debug ("%s: first download, UIDs %u:%s, %u messages", job->box, from, upto, m->len);
    /* The plan sees the state without the earlier slices' pairs: they are
     * neither in this listing nor in the scan taken before the first. */
    MsSyncState view = *state;
    view.pairs = no_pairs;
    g_autoptr (MsSyncPlan) plan = ms_sync_plan_make (&job->listing, job->scan, &view, &job->ctx->policy, error);
    if (plan == NULL || !carry_out (job, state, plan, error))
      return NULL;
    g_hash_table_remove_all (job->pull_flags);
    listed += m->len;
    if (to == 0)
      return g_steal_pointer (&plan);
    from = to + 1;
    ms_sync_step ();
    if (!commit_state (job, error))
      return NULL;
  }
}

/* --- one mailbox --------------------------------------------------------------------- */

/* mbsync's state file name: in the folder for "SyncState *", else the
 * prefix followed by ":FARSTORE:FARBOX_:NEARSTORE:NEARBOX" with '/' as '!'. */
static char *
state_path (const MsSyncContext *ctx, const char *folder, const char *far_box, const char *box)
{
  if (ctx->state_path_prefix == NULL)
    return g_build_filename (folder, ".mbsyncstate", NULL);
  g_autofree char *f = g_strdup (far_box), *n = g_strdup (box);
  g_strdelimit (f, "/", '!');
  g_strdelimit (n, "/", '!');
  return g_strdup_printf ("%s:%s:%s_:%s:%s", ctx->state_path_prefix, ctx->far_store_name, f,
                          ctx->near_store_name, n);
}

static void
job_clear (Job *job)
{
  g_free (job->far_name);
  g_free (job->far_quoted);
  if (job->held != NULL)
    drop_held (job);
  g_clear_pointer (&job->held, g_array_unref);
  if (job->ahead != NULL)
    drop_ahead (job);
  g_clear_pointer (&job->ahead, g_array_unref);
  g_clear_pointer (&job->scan, ms_maildir_scan_free);
  g_clear_pointer (&job->state_file, ms_sync_state_file_close);
  g_clear_pointer (&job->listing.messages, g_array_unref);
  g_clear_pointer (&job->listing.vanished, g_array_unref);
  g_clear_pointer (&job->pull_near_uid, g_hash_table_unref);
  g_clear_pointer (&job->pull_flags, g_hash_table_unref);
  g_clear_pointer (&job->delivered, g_array_unref);
  if (job->delivery != NULL)
    ms_maildir_delivery_abort (g_steal_pointer (&job->delivery));
  g_clear_error (&job->deferred);
}

/* Makes sure the Maildir folder exists, refusing where a missing folder
 * more likely means a lost disk than a wish to delete. */
static gboolean
prepare_folder (Job *job, const char *folder, gboolean had_state, GError **error)
{
  const MsMaildirStore *store = job->ctx->maildir;
  if (store->root != NULL && !g_file_test (store->root, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, MS_ERROR, MS_ERROR_FAILED,
                 "the Maildir root %s is missing; refusing to sync (every message would look deleted)",
                 store->root);
    return FALSE;
  }
  g_autofree char *cur = g_build_filename (folder, "cur", NULL);
  if (g_file_test (cur, G_FILE_TEST_IS_DIR))
    return TRUE;
  if (had_state) {
    g_set_error (error, MS_ERROR, MS_ERROR_FAILED,
                 "the Maildir folder %s was synced before and is gone now; refusing to sync it", folder);
    return FALSE;
  }
  if (!job->ctx->create_near) {
    g_set_error (error, MS_ERROR, MS_ERROR_FAILED,
                 "the Maildir folder %s does not exist and Create does not include Near", folder);
    return FALSE;
  }
  return ms_maildir_create (store, job->box, error);
}

static gboolean
scan_folder (Job *job, MsSyncState *state, GError **error)
{
  const MsMaildirStore *store = job->ctx->maildir;
  guint32 validity = 0, max_uid = 0;
  if (!ms_maildir_read_uidvalidity (store, job->box, &validity, &max_uid, error))
    return FALSE;
  if (validity == 0) {
    validity = state->near_uidvalidity ? state->near_uidvalidity : (guint32) (g_get_real_time () / G_USEC_PER_SEC);
    ms_sync_step ();
    if (!ms_maildir_write_uidvalidity (store, job->box, validity, MAX (max_uid, state->max_pushed), error))
      return FALSE;
  }
  g_autoptr (GPtrArray) duplicates = NULL;
  job->scan = ms_maildir_scan (store, job->box, &duplicates, error);
  if (job->scan == NULL)
    return FALSE;
  for (guint i = 0; i < duplicates->len; i++)
    g_message ("%s: %s has a UID another message holds; it is treated as new", job->box,
               (const char *) g_ptr_array_index (duplicates, i));
  if (state->near_uidvalidity != 0 && state->near_uidvalidity != job->scan->uidvalidity) {
    g_set_error (error, MS_ERROR, MS_ERROR_FAILED,
                 "the UIDVALIDITY of Maildir folder %s changed (%u -> %u); refusing to sync it",
                 job->scan->path, state->near_uidvalidity, job->scan->uidvalidity);
    return FALSE;
  }
  state->near_uidvalidity = job->scan->uidvalidity;
  return TRUE;
}

static gboolean
sync_box (Job *job, GError **error)
{
  MsSyncContext *ctx = job->ctx;
  char delim = ms_imap_client_delimiter (ctx->imap, error);
  if (error && *error)
    return FALSE;
  job->far_name = ms_sync_far_name (ctx, delim, job->box, error);
  if (job->far_name == NULL)
    return FALSE;
  job->far_quoted = ms_imap_quote (job->far_name);
  g_autofree char *folder = ms_maildir_folder_path (ctx->maildir, job->box, error);
  if (folder == NULL)
    return FALSE;
  g_autofree char *far_box = g_strdup (job->box);
  g_autofree char *spath = state_path (ctx, folder, far_box, job->box);

  g_autoptr (GPtrArray) pending = NULL;
  if (ctx->shelf != NULL)
    job->state_file = ms_sync_shelf_take (ctx->shelf, spath, &job->note);
  job->shelved = job->state_file != NULL; /* what it left pending was resolved */
  /* A shelved state is one synced before, even if its file is not yet. */
  gboolean had_state = job->shelved || (ctx->state_path_prefix != NULL && g_file_test (spath, G_FILE_TEST_EXISTS));
  if (!prepare_folder (job, folder, had_state, error)) {
    /* Back on the shelf: the next request is refused the same way. */
    if (job->shelved)
      ms_sync_shelf_put (ctx->shelf, job->box, g_steal_pointer (&job->state_file), &job->note);
    return FALSE;
  }
  /* The pairs its pulls left in memory may get '=' or '-' lines now, which
   * must not reach the disk before the files' renames do. */
  if (job->shelved) {
    if (!ms_maildir_sync_dirs (ctx->maildir, job->box, job->note.new_dir, job->note.cur_dir, error))
      return FALSE;
    job->note.new_dir = job->note.cur_dir = FALSE;
  }
  if (job->state_file == NULL)
    job->state_file = ms_sync_state_file_open (spath, ctx->fsync, &pending, error);
  if (job->state_file == NULL)
    return FALSE;
  MsSyncState *state = ms_sync_state_file_state (job->state_file);
  const MsSyncState before = *state; /* the scalars, to see whether a commit is needed */
  gboolean listed;
  SelectAhead ahead = { NULL, NULL, NULL };
  if (!select_send (job, state, &ahead, error)) {
    g_free (ahead.select_tag);
    g_free (ahead.list_tag);
    g_free (ahead.fetch_tag);
    return FALSE;
  }
  g_autoptr (GError) scan_error = NULL;
  gboolean scanned = scan_folder (job, state, &scan_error);
  if (!select_finish (job, state, &ahead, &listed, scanned ? error : NULL)) {
    if (!scanned)
      g_propagate_error (error, g_steal_pointer (&scan_error));
    return FALSE;
  }
  if (state->far_uidvalidity != 0 && state->far_uidvalidity != job->uidvalidity) {
    /* What an interrupted run left pending is found by the re-pairing,
     * which looks at every message; its journal goes with the commit. */
    job->note.new_dir = job->note.cur_dir = TRUE; /* what it re-pairs may have been renamed unsynced */
    if (!repair_uidvalidity (job, state, error) || !commit_state (job, error))
      return FALSE;
    g_clear_pointer (&pending, g_ptr_array_unref);
  }
  state->far_uidvalidity = job->uidvalidity;
  if (!resolve_pending (job, pending, error))
    return FALSE;

  g_autoptr (MsSyncPlan) plan = NULL;
  if (wants_slices (job, state)) {
    plan = first_download (job, state, error);
    if (plan == NULL)
      return FALSE;
  } else {
    job->counts->far_unchanged = list_far (job, state, listed, error);
    if (error && *error)
      return FALSE;
    plan = ms_sync_plan_make (&job->listing, job->scan, state, &ctx->policy, error);
    if (plan == NULL)
      return FALSE;
    start_progress (job, plan->n_pull);
    if (!carry_out (job, state, plan, error))
      return FALSE;
  }

  /* Where the next run's plan would put MaxPushedUid, so that it need not
   * commit again for that alone. */
  guint32 raise = MAX (job->numbered_max, ctx->policy.push_new ? job->pulled_max : 0);
  if (plan->near_hold != 0)
    raise = MIN (raise, plan->near_hold - 1);
  state->max_pushed = MAX (plan->max_pushed, raise);
  /* What SELECT saw, before our own changes: the next run lists from there,
   * so no change by anyone else in between can be missed. */
  state->far_highestmodseq = job->highestmodseq;
  state->far_uidnext = job->uidnext;
  state->far_messages = job->exists;

  MsSyncCounts *c = job->counts;
  gboolean near_changed = c->pulled || c->flags_near || c->removed_near || job->numbered_max;
  gboolean far_changed = c->pushed || c->flags_far || c->expunged_far;
  gboolean settled = job->scan->mtime_new_ns != MS_MAILDIR_FINGERPRINT_UNSETTLED
                     && job->scan->mtime_cur_ns != MS_MAILDIR_FINGERPRINT_UNSETTLED;
  c->fingerprint_unsettled = !near_changed && !far_changed && job->highestmodseq != 0 && !settled;
  if (!near_changed && !far_changed && job->highestmodseq != 0 && settled) {
    c->have_fingerprint = TRUE;
    c->fingerprint = (MsSyncFingerprint) { job->uidvalidity, job->uidnext, job->exists, job->highestmodseq,
                                           job->scan->mtime_new_ns, job->scan->mtime_cur_ns };
  }
  /* Nothing to record: leave the files alone (a rewrite costs two new
   * inodes, an fdatasync and renames for every unchanged mailbox). */
  if (plan->actions->len == 0 && !job->shelved && !ms_sync_state_file_has_journal (job->state_file)
      && before.far_uidvalidity == state->far_uidvalidity && before.near_uidvalidity == state->near_uidvalidity
      && before.max_pulled == state->max_pulled && before.max_pushed == state->max_pushed
      && before.far_highestmodseq == state->far_highestmodseq && before.far_uidnext == state->far_uidnext
      && before.far_messages == state->far_messages)
    return TRUE;
  ms_sync_step ();
  if (ctx->shelf != NULL) {
    /* Lines written after their step ('=', '-') go to the disk before the
     * answer: a flag change whose base was lost could be undone by the
     * user's next one.  The pulls' lines were synced already. */
    if (!ms_sync_journal_sync (job->state_file, error))
      return FALSE;
    ms_sync_shelf_put (ctx->shelf, job->box, g_steal_pointer (&job->state_file), &job->note);
    return TRUE;
  }
  return commit_state (job, error);
}

/* --- the resident's fast path ----------------------------------------------------- */

typedef struct {
  GHashTable *by_name;   /* far name -> index into the check */
  MsSyncFingerprint *now; /* what STATUS said, per index */
  gboolean *answered;
} StatusCheck;

static void
on_status (const MsImapResponse *r, gpointer data)
{
  StatusCheck *sc = data;
  const char *kw = ms_imap_response_get_keyword (r);
  if (kw == NULL || !g_str_equal (kw, "STATUS"))
    return;
  const MsImapValue *d = ms_imap_response_get_data (r);
  gsize len = 0;
  const char *name = ms_imap_value_get_bytes (ms_imap_value_get_item (d, 0), &len);
  const MsImapValue *items = ms_imap_value_get_item (d, 1);
  if (name == NULL || items == NULL || memchr (name, '\0', len) != NULL)
    return;
  g_autofree char *key = g_strndup (name, len);
  gpointer idx;
  if (!g_hash_table_lookup_extended (sc->by_name, key, NULL, &idx))
    return;
  guint i = GPOINTER_TO_UINT (idx);
  MsSyncFingerprint *f = &sc->now[i];
  guint seen = 0;
  for (guint k = 0; k + 1 < ms_imap_value_get_n_items (items); k += 2) {
    const MsImapValue *item = ms_imap_value_get_item (items, k);
    guint64 n = 0;
    if (!ms_imap_value_get_number (ms_imap_value_get_item (items, k + 1), &n))
      continue;
    if (ms_imap_value_is_atom (item, "UIDVALIDITY"))
      f->uidvalidity = (guint32) n, seen |= 1;
    else if (ms_imap_value_is_atom (item, "UIDNEXT"))
      f->uidnext = (guint32) n, seen |= 2;
    else if (ms_imap_value_is_atom (item, "MESSAGES"))
      f->messages = (guint32) n, seen |= 4;
    else if (ms_imap_value_is_atom (item, "HIGHESTMODSEQ"))
      f->highestmodseq = n, seen |= 8;
  }
  sc->answered[i] = seen == 15;
}

GArray *
ms_sync_fingerprint_check (MsSyncContext *ctx, GPtrArray *boxes, GPtrArray *fingerprints, gboolean unselect,
                           gboolean server_only, GError **error)
{
  GArray *same = g_array_sized_new (FALSE, TRUE, sizeof (gboolean), boxes->len);
  g_array_set_size (same, boxes->len);
  if (!ms_imap_client_has_cap (ctx->imap, "CONDSTORE"))
    return same; /* without HIGHESTMODSEQ a flag change is invisible to STATUS */
  char delim = ms_imap_client_delimiter (ctx->imap, error);
  if (error && *error) {
    g_array_unref (same);
    return NULL;
  }
  StatusCheck sc = { g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
                     g_new0 (MsSyncFingerprint, boxes->len), g_new0 (gboolean, boxes->len) };
  g_autoptr (GPtrArray) tags = g_ptr_array_new_with_free_func (g_free);
  gboolean ok = TRUE;
  /* In the same round trip: STATUS of a selected mailbox is not reliable. */
  if (unselect) {
    char *tag = ms_imap_client_send (ctx->imap, error, "UNSELECT");
    if (tag == NULL)
      ok = FALSE;
    else
      g_ptr_array_add (tags, tag);
  }
  for (guint i = 0; ok && i < boxes->len; i++) {
    const MsSyncFingerprint *was = g_ptr_array_index (fingerprints, i);
    if (was == NULL)
      continue;
    /* A Maildir folder that changed needs a sync whatever the server says:
     * no STATUS for it.  (A change after this look is reported by the
     * watcher as a request of its own.) */
    gint64 mtime_new, mtime_cur;
    if (!server_only
        && (!ms_maildir_fingerprint (ctx->maildir, g_ptr_array_index (boxes, i), &mtime_new, &mtime_cur, NULL)
            || !ms_maildir_fingerprint_same (was->mtime_new_ns, mtime_new)
            || !ms_maildir_fingerprint_same (was->mtime_cur_ns, mtime_cur)))
      continue;
    g_autoptr (GError) local = NULL;
    char *far = ms_sync_far_name (ctx, delim, g_ptr_array_index (boxes, i), &local);
    if (far == NULL || g_hash_table_contains (sc.by_name, far)) {
      g_free (far);
      continue;
    }
    g_autofree char *quoted = ms_imap_quote (far);
    g_hash_table_insert (sc.by_name, far, GUINT_TO_POINTER (i));
    char *tag = ms_imap_client_send (ctx->imap, error, "STATUS %s (UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ)",
                                     quoted);
    if (tag == NULL)
      ok = FALSE;
    else
      g_ptr_array_add (tags, tag);
  }
  for (guint i = 0; i < tags->len; i++) {
    g_autoptr (GError) local = NULL;
    g_autoptr (MsImapResponse) r = ms_imap_client_wait (ctx->imap, g_ptr_array_index (tags, i), on_status, &sc,
                                                        ok ? &local : NULL);
    if (r == NULL && local != NULL && ok) {
      ok = FALSE;
      g_propagate_error (error, g_steal_pointer (&local));
    }
  }
  for (guint i = 0; ok && i < boxes->len; i++) {
    const MsSyncFingerprint *was = g_ptr_array_index (fingerprints, i);
    const MsSyncFingerprint *now = &sc.now[i];
    /* Answered: asked for, so its Maildir folder was found unchanged (or
     * not looked at). */
    g_array_index (same, gboolean, i) = was != NULL && sc.answered[i] && now->uidvalidity == was->uidvalidity
                                        && now->uidnext == was->uidnext && now->messages == was->messages
                                        && now->highestmodseq == was->highestmodseq;
  }
  g_hash_table_unref (sc.by_name);
  g_free (sc.now);
  g_free (sc.answered);
  if (!ok) {
    g_array_unref (same);
    return NULL;
  }
  return same;
}

gboolean
ms_sync_box (MsSyncContext *ctx, const char *box, MsSyncCounts *counts, GError **error)
{
  memset (counts, 0, sizeof *counts);
  Job job = { .ctx = ctx, .box = box, .counts = counts };
  job.pull_near_uid = g_hash_table_new (NULL, NULL);
  job.pull_flags = g_hash_table_new (NULL, NULL);
  job.delivered = g_array_new (FALSE, FALSE, sizeof (DeliveredPull));
  job.held = g_array_new (FALSE, FALSE, sizeof (HeldPull));
  job.ahead = g_array_new (FALSE, FALSE, sizeof (HeldPull));
  gboolean ok = sync_box (&job, error);
  if (!ok)
    g_prefix_error (error, "%s: ", box);
  job_clear (&job);
  return ok;
}

/* --- listing mailboxes ------------------------------------------------------------- */

typedef struct {
  const MsSyncContext *ctx;
  char delim;
  GPtrArray *names;
} BoxList;

static void
on_list (const MsImapResponse *r, gpointer data)
{
  BoxList *bl = data;
  const char *kw = ms_imap_response_get_keyword (r);
  if (kw == NULL || !g_str_equal (kw, "LIST"))
    return;
  const MsImapValue *d = ms_imap_response_get_data (r);
  if (ms_imap_value_get_n_items (d) < 3)
    return;
  const MsImapValue *attrs = ms_imap_value_get_item (d, 0);
  for (guint i = 0; i < ms_imap_value_get_n_items (attrs); i++) {
    const MsImapValue *a = ms_imap_value_get_item (attrs, i);
    if (ms_imap_value_is_atom (a, "\\Noselect") || ms_imap_value_is_atom (a, "\\NonExistent"))
      return;
  }
  gsize len = 0;
  const char *name = ms_imap_value_get_bytes (ms_imap_value_get_item (d, 2), &len);
  if (name == NULL || memchr (name, '\0', len) != NULL)
    return;
  g_autofree char *far = g_strndup (name, len);
  g_autoptr (GError) error = NULL;
  char *box = ms_sync_box_from_far (bl->ctx, bl->delim, far, &error);
  if (box == NULL) {
    if (error != NULL)
      g_message ("server mailbox \"%s\" left out: %s", far, error->message);
    return;
  }
  g_ptr_array_add (bl->names, box);
}

static gint
box_cmp (gconstpointer a, gconstpointer b)
{
  const char *x = *(const char *const *) a, *y = *(const char *const *) b;
  gboolean xi = g_str_equal (x, "INBOX"), yi = g_str_equal (y, "INBOX");
  if (xi || yi)
    return yi - xi;
  return strcmp (x, y);
}

char *
ms_sync_list_pattern (const char *far_prefix)
{
  g_autofree char *with_star = g_strconcat (far_prefix ? far_prefix : "", "*", NULL);
  return ms_imap_quote (with_star);
}

GPtrArray *
ms_sync_list_boxes (MsSyncContext *ctx, GError **error)
{
  char delim = ms_imap_client_delimiter (ctx->imap, error);
  if (error && *error)
    return NULL;
  BoxList bl = { ctx, delim, g_ptr_array_new_with_free_func (g_free) };
  g_autofree char *pattern = ms_sync_list_pattern (ctx->far_prefix);
  g_autoptr (MsImapResponse) r = ms_imap_client_run (ctx->imap, on_list, &bl, error, "LIST \"\" %s", pattern);
  g_autoptr (MsImapResponse) ri = r ? ms_imap_client_run (ctx->imap, on_list, &bl, error, "LIST \"\" INBOX") : NULL;
  if (ri == NULL) {
    g_ptr_array_unref (bl.names);
    return NULL;
  }
  g_autoptr (GPtrArray) local = ms_maildir_list (ctx->maildir, error);
  if (local == NULL) {
    g_ptr_array_unref (bl.names);
    return NULL;
  }
  for (guint i = 0; i < local->len; i++)
    g_ptr_array_add (bl.names, g_strdup (g_ptr_array_index (local, i)));
  g_ptr_array_sort (bl.names, box_cmp);
  /* Deduplicate the sorted list. */
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < bl.names->len; i++) {
    const char *n = g_ptr_array_index (bl.names, i);
    if (out->len == 0 || !g_str_equal (g_ptr_array_index (out, out->len - 1), n))
      g_ptr_array_add (out, g_strdup (n));
  }
  g_ptr_array_unref (bl.names);
  return out;
}
