/* imap-watch-plan.c — see imap-watch-plan.h. */
#include "imap-watch-plan.h"

#include <string.h>

#include "imap-utf7.h"
#include "mbsyncrc.h"
#include "ms-error.h"
#include "sync-job.h"

/* ---- options -------------------------------------------------------------- */

static gboolean
check_period (const char *option, guint value, guint max, GError **error)
{
  if (value >= 1 && value <= max)
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "%s must be between 1 and %u seconds", option,
               max);
  return FALSE;
}

gboolean
ms_imap_watch_options_check (const MsImapWatchOptions *o, GError **error)
{
  if (o->max_idle > MS_IMAP_WATCH_MAX_IDLE_LIMIT) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--max-idle must be at most %d",
                 MS_IMAP_WATCH_MAX_IDLE_LIMIT);
    return FALSE;
  }
  return check_period ("--poll", o->poll_s, MS_IMAP_WATCH_PERIOD_MAX_S, error)
         && check_period ("--keepalive", o->keepalive_s, MS_IMAP_WATCH_PERIOD_MAX_S, error)
         && check_period ("--idle-renew", o->idle_renew_s, MS_IMAP_WATCH_IDLE_RENEW_MAX_S, error);
}

/* ---- the method ------------------------------------------------------------ */

MsImapWatchMethod
ms_imap_watch_choose_method (gboolean has_notify, gboolean has_idle, guint max_idle)
{
  if (has_notify)
    return MS_IMAP_WATCH_NOTIFY;
  if (has_idle && max_idle > 0)
    return MS_IMAP_WATCH_IDLE;
  return MS_IMAP_WATCH_POLL;
}

const char *
ms_imap_watch_method_name (MsImapWatchMethod method)
{
  switch (method) {
  case MS_IMAP_WATCH_NOTIFY:
    return "NOTIFY";
  case MS_IMAP_WATCH_IDLE:
    return "IDLE";
  case MS_IMAP_WATCH_POLL:
    break;
  }
  return "STATUS polling";
}

/* FlagChange needs MessageNew and MessageExpunge beside it (RFC 5465
 * section 5); MailboxName reports folders created, deleted and renamed. */
#define NOTIFY_EVENTS "(MessageNew MessageExpunge FlagChange MailboxName)"

char *
ms_imap_watch_notify_command (const char *single_quoted)
{
  if (single_quoted != NULL)
    return g_strdup_printf ("NOTIFY SET STATUS (mailboxes %s " NOTIFY_EVENTS ")", single_quoted);
  return g_strdup ("NOTIFY SET STATUS (personal " NOTIFY_EVENTS ")");
}

const char *
ms_imap_watch_status_items (gboolean has_condstore)
{
  return has_condstore ? "(MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)" : "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)";
}

/* ---- IDLE planning ------------------------------------------------------------ */

static gboolean
array_has (const GPtrArray *a, const char *s)
{
  for (guint i = 0; i < a->len; i++)
    if (g_str_equal (g_ptr_array_index (a, i), s))
      return TRUE;
  return FALSE;
}

static void
plan_add (GPtrArray *out, const GPtrArray *boxes, const char *box, guint max_idle)
{
  if (out->len < max_idle && array_has (boxes, box) && !array_has (out, box))
    g_ptr_array_add (out, g_strdup (box));
}

GPtrArray *
ms_imap_watch_plan_idle (const GPtrArray *boxes, const char *single_box, const char *const *hot, guint max_idle)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  if (single_box != NULL) {
    plan_add (out, boxes, single_box, max_idle);
    return out;
  }
  plan_add (out, boxes, "INBOX", max_idle);
  for (const char *const *h = hot; h != NULL && *h != NULL; h++)
    plan_add (out, boxes, *h, max_idle);
  return out;
}

guint
ms_imap_watch_idle_period (guint keepalive_s, guint idle_renew_s)
{
  return MIN (keepalive_s, idle_renew_s);
}

/* ---- names --------------------------------------------------------------------- */

char *
ms_imap_watch_output_name (MsMaildirLayout layout, const char *box)
{
  if (layout == MS_MAILDIR_LAYOUT_VERBATIM || g_str_equal (box, "INBOX"))
    return g_strdup (box);
  /* Maildir++: "a/b" lives in .a.b and "INBOX/x" in ..x; watch_maildirs
   * prints the directory name without its first dot. */
  char *name = g_str_has_prefix (box, "INBOX/") ? g_strconcat (".", box + 6, NULL) : g_strdup (box);
  g_strdelimit (name, "/", '.');
  return name;
}

gboolean
ms_imap_watch_map_far (const MsChannelSetup *setup, char delim, const char *far_name, char **box_out,
                       char **line_out)
{
  /* Only the prefix matters to the name mapping. */
  MsSyncContext ctx = { .far_prefix = setup->far_prefix };
  /* Dovecot 2.3's NOTIFY names mailboxes in its STATUS and LIST
   * notifications in UTF-8 (imap-notify.c hands the UTF-8 name to code
   * that expects modified UTF-7), as a server with UTF8=ACCEPT enabled
   * would; folders are named in modified UTF-7 (ms_sync_far_name).  So a
   * name that is not modified UTF-7 but is UTF-8 is encoded first.  Only
   * Dovecot's UTF-8 names that happen to be valid modified UTF-7
   * ("a&AOk-" for a folder so named) are misread, as one more folder. */
  g_autofree char *encoded = !ms_imap_utf7_is_valid (far_name) && g_utf8_validate (far_name, -1, NULL)
                               ? ms_imap_utf7_encode (far_name, -1, NULL)
                               : NULL;
  g_autofree char *box = ms_sync_box_from_far (&ctx, delim, encoded != NULL ? encoded : far_name, NULL);
  if (box == NULL || !ms_channel_setup_selects (setup, box))
    return FALSE;
  /* A name no folder can have (a '.' in a Maildir++ component, a control
   * character) cannot be synced, so it is not worth a line either; and no
   * line may carry such a name. */
  g_autofree char *path = ms_maildir_folder_path (&setup->maildir, box, NULL);
  if (path == NULL)
    return FALSE;
  if (line_out != NULL)
    *line_out = ms_imap_watch_output_name (setup->maildir.layout, box);
  if (box_out != NULL)
    *box_out = g_steal_pointer (&box);
  return TRUE;
}

/* ---- what a response says ------------------------------------------------------- */

/* The parser's accessors want a value; server data may lack any item. */
static gboolean
is_list (const MsImapValue *v)
{
  return v != NULL && ms_imap_value_get_kind (v) == MS_IMAP_VALUE_LIST;
}

static const MsImapValue *
item (const MsImapValue *list, guint index)
{
  return is_list (list) ? ms_imap_value_get_item (list, index) : NULL;
}

/* The bytes of a value that names a mailbox (not a list, not NIL). */
static const char *
mailbox_bytes (const MsImapValue *v)
{
  if (v == NULL || ms_imap_value_is_nil (v) || ms_imap_value_get_kind (v) == MS_IMAP_VALUE_LIST)
    return NULL;
  gsize len = 0;
  const char *s = ms_imap_value_get_bytes (v, &len);
  /* A name with a NUL in it is not one we can handle. */
  return s != NULL && strlen (s) == len ? s : NULL;
}

/* The OLDNAME of a LIST's extended data: ("OLDNAME" ("old")).  The tag is
 * a string, which ms_imap_value_lookup() (for atoms) does not match. */
static const char *
list_old_name (const MsImapValue *ext)
{
  for (guint i = 0; is_list (ext) && i + 1 < ms_imap_value_get_n_items (ext); i += 2) {
    const MsImapValue *tag = item (ext, i);
    const char *bytes = tag != NULL && !is_list (tag) ? ms_imap_value_get_bytes (tag, NULL) : NULL;
    if (bytes != NULL && g_ascii_strcasecmp (bytes, "OLDNAME") == 0)
      return mailbox_bytes (item (item (ext, i + 1), 0));
  }
  return NULL;
}

MsImapWatchEvent
ms_imap_watch_classify (const MsImapResponse *r, const char **name, const char **old_name)
{
  const char *n = NULL, *o = NULL;
  MsImapWatchEvent ev = MS_IMAP_WATCH_EVENT_NONE;

  if (ms_imap_response_get_kind (r) == MS_IMAP_RESPONSE_UNTAGGED) {
    MsImapCondition cond = ms_imap_response_get_condition (r);
    const char *kw = ms_imap_response_get_keyword (r);
    const char *code = ms_imap_response_get_code (r);
    const char *text = ms_imap_response_get_text (r);
    const MsImapValue *data = ms_imap_response_get_data (r);

    if (cond == MS_IMAP_CONDITION_BYE || g_strcmp0 (code, "NOTIFICATIONOVERFLOW") == 0
        || (cond == MS_IMAP_CONDITION_NO && text != NULL && g_ascii_strncasecmp (text, "NOTIFY", 6) == 0)) {
      ev = MS_IMAP_WATCH_EVENT_LOST;
    } else if (cond != MS_IMAP_CONDITION_NONE || kw == NULL) {
      ev = MS_IMAP_WATCH_EVENT_NONE;
    } else if (g_str_equal (kw, "STATUS")) {
      n = mailbox_bytes (item (data, 0));
      ev = n ? MS_IMAP_WATCH_EVENT_STATUS : MS_IMAP_WATCH_EVENT_NONE;
    } else if (g_str_equal (kw, "LIST")) {
      n = mailbox_bytes (item (data, 2));
      o = n ? list_old_name (item (data, 3)) : NULL;
      ev = n ? MS_IMAP_WATCH_EVENT_LIST : MS_IMAP_WATCH_EVENT_NONE;
    } else if (g_str_equal (kw, "EXISTS") || g_str_equal (kw, "EXPUNGE") || g_str_equal (kw, "FETCH")) {
      ev = MS_IMAP_WATCH_EVENT_SELECTED;
    } else if (g_str_equal (kw, "VANISHED")) {
      /* VANISHED (EARLIER) only answers a client's own SELECT or FETCH. */
      const MsImapValue *tag = item (item (data, 0), 0);
      gboolean earlier = tag != NULL && ms_imap_value_is_atom (tag, "EARLIER");
      ev = earlier ? MS_IMAP_WATCH_EVENT_NONE : MS_IMAP_WATCH_EVENT_SELECTED;
    }
  }
  if (name != NULL)
    *name = n;
  if (old_name != NULL)
    *old_name = o;
  return ev;
}

/* ---- STATUS values ------------------------------------------------------------ */

static const struct {
  const char *item;
  MsImapWatchHave bit;
  gsize offset;
} status_items[] = {
  { "MESSAGES", MS_IMAP_WATCH_HAVE_MESSAGES, G_STRUCT_OFFSET (MsImapWatchStatus, messages) },
  { "UIDNEXT", MS_IMAP_WATCH_HAVE_UIDNEXT, G_STRUCT_OFFSET (MsImapWatchStatus, uidnext) },
  { "UIDVALIDITY", MS_IMAP_WATCH_HAVE_UIDVALIDITY, G_STRUCT_OFFSET (MsImapWatchStatus, uidvalidity) },
  { "UNSEEN", MS_IMAP_WATCH_HAVE_UNSEEN, G_STRUCT_OFFSET (MsImapWatchStatus, unseen) },
  { "HIGHESTMODSEQ", MS_IMAP_WATCH_HAVE_HIGHESTMODSEQ, G_STRUCT_OFFSET (MsImapWatchStatus, highestmodseq) },
};

#define STATUS_FIELD(st, i) (*(guint64 *) ((char *) (st) + status_items[i].offset))
#define STATUS_FIELD_C(st, i) (*(const guint64 *) ((const char *) (st) + status_items[i].offset))

gboolean
ms_imap_watch_parse_status (const MsImapResponse *r, const char **far_name, MsImapWatchStatus *status)
{
  const char *name = NULL;
  if (ms_imap_watch_classify (r, &name, NULL) != MS_IMAP_WATCH_EVENT_STATUS)
    return FALSE;
  const MsImapValue *list = item (ms_imap_response_get_data (r), 1);
  if (!is_list (list))
    return FALSE;
  MsImapWatchStatus st = { 0 };
  for (guint i = 0; i + 1 < ms_imap_value_get_n_items (list); i += 2) {
    const MsImapValue *key = item (list, i), *value = item (list, i + 1);
    guint64 n;
    if (key == NULL || value == NULL || !ms_imap_value_get_number (value, &n))
      continue;
    for (gsize j = 0; j < G_N_ELEMENTS (status_items); j++) {
      if (ms_imap_value_is_atom (key, status_items[j].item)) {
        st.have |= status_items[j].bit;
        STATUS_FIELD (&st, j) = n;
      }
    }
  }
  *far_name = name;
  *status = st;
  return TRUE;
}

gboolean
ms_imap_watch_status_changed (const MsImapWatchStatus *before, const MsImapWatchStatus *now)
{
  guint common = before->have & now->have;
  if (common == 0)
    return TRUE;
  for (gsize j = 0; j < G_N_ELEMENTS (status_items); j++)
    if ((common & status_items[j].bit) && STATUS_FIELD_C (before, j) != STATUS_FIELD_C (now, j))
      return TRUE;
  return FALSE;
}

static void
status_merge (MsImapWatchStatus *into, const MsImapWatchStatus *from)
{
  for (gsize j = 0; j < G_N_ELEMENTS (status_items); j++)
    if (from->have & status_items[j].bit)
      STATUS_FIELD (into, j) = STATUS_FIELD_C (from, j);
  into->have |= from->have;
}

/* ---- the table ------------------------------------------------------------------ */

typedef struct {
  MsImapWatchStatus status;
  guint round; /* the last round that saw the mailbox */
} Entry;

struct MsImapWatchTable {
  GHashTable *boxes; /* char* -> Entry* */
  guint round;
};

MsImapWatchTable *
ms_imap_watch_table_new (void)
{
  MsImapWatchTable *t = g_new0 (MsImapWatchTable, 1);
  t->boxes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return t;
}

void
ms_imap_watch_table_free (MsImapWatchTable *t)
{
  if (t == NULL)
    return;
  g_hash_table_unref (t->boxes);
  g_free (t);
}

gboolean
ms_imap_watch_table_update (MsImapWatchTable *t, const char *box, const MsImapWatchStatus *status, gboolean initial)
{
  Entry *e = g_hash_table_lookup (t->boxes, box);
  if (e == NULL) {
    if (g_hash_table_size (t->boxes) >= MS_IMAP_WATCH_MAILBOXES_MAX)
      return TRUE; /* not remembered: every sight of it counts */
    e = g_new0 (Entry, 1);
    e->status = *status;
    e->round = t->round;
    g_hash_table_insert (t->boxes, g_strdup (box), e);
    return !initial;
  }
  gboolean changed = ms_imap_watch_status_changed (&e->status, status);
  status_merge (&e->status, status);
  e->round = t->round;
  return changed;
}

gboolean
ms_imap_watch_table_remove (MsImapWatchTable *t, const char *box)
{
  return g_hash_table_remove (t->boxes, box);
}

gboolean
ms_imap_watch_table_contains (const MsImapWatchTable *t, const char *box)
{
  return g_hash_table_contains (t->boxes, box);
}

guint
ms_imap_watch_table_size (const MsImapWatchTable *t)
{
  return g_hash_table_size (t->boxes);
}

void
ms_imap_watch_table_begin_round (MsImapWatchTable *t)
{
  t->round++;
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

GPtrArray *
ms_imap_watch_table_end_round (MsImapWatchTable *t)
{
  GPtrArray *gone = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init (&it, t->boxes);
  while (g_hash_table_iter_next (&it, &key, &value)) {
    if (((Entry *) value)->round != t->round) {
      g_ptr_array_add (gone, g_strdup (key));
      g_hash_table_iter_remove (&it);
    }
  }
  g_ptr_array_sort (gone, compare_strings);
  return gone;
}

/* ---- coalescing --------------------------------------------------------------------- */

struct MsImapWatchBatch {
  GPtrArray *lines; /* char*, in order; owns them */
  GHashTable *seen; /* the same strings, borrowed */
};

MsImapWatchBatch *
ms_imap_watch_batch_new (void)
{
  MsImapWatchBatch *b = g_new0 (MsImapWatchBatch, 1);
  b->lines = g_ptr_array_new_with_free_func (g_free);
  b->seen = g_hash_table_new (g_str_hash, g_str_equal);
  return b;
}

void
ms_imap_watch_batch_free (MsImapWatchBatch *b)
{
  if (b == NULL)
    return;
  g_hash_table_unref (b->seen);
  g_ptr_array_unref (b->lines);
  g_free (b);
}

void
ms_imap_watch_batch_add (MsImapWatchBatch *b, const char *line)
{
  if (g_hash_table_contains (b->seen, line))
    return;
  char *copy = g_strdup (line);
  g_ptr_array_add (b->lines, copy);
  g_hash_table_add (b->seen, copy);
}

guint
ms_imap_watch_batch_size (const MsImapWatchBatch *b)
{
  return b->lines->len;
}

char *
ms_imap_watch_batch_take (MsImapWatchBatch *b)
{
  if (b->lines->len == 0)
    return NULL;
  GString *out = g_string_new (NULL);
  for (guint i = 0; i < b->lines->len; i++) {
    g_string_append (out, g_ptr_array_index (b->lines, i));
    g_string_append_c (out, '\n');
  }
  g_hash_table_remove_all (b->seen);
  g_ptr_array_set_size (b->lines, 0);
  return g_string_free (out, FALSE);
}

/* ---- timing ------------------------------------------------------------------------ */

void
ms_imap_watch_timer_init (MsImapWatchTimer *t, guint poll_s, guint keepalive_s, gint64 now_us)
{
  t->poll_us = (gint64) poll_s * G_USEC_PER_SEC;
  t->keepalive_us = (gint64) keepalive_s * G_USEC_PER_SEC;
  t->next_poll_us = now_us + t->poll_us;
  t->next_keepalive_us = now_us + t->keepalive_us;
}

MsImapWatchDue
ms_imap_watch_timer_due (const MsImapWatchTimer *t, gint64 now_us, gint *wait_ms)
{
  if (t->poll_us > 0 && now_us >= t->next_poll_us)
    return MS_IMAP_WATCH_DUE_POLL;
  if (t->keepalive_us > 0 && now_us >= t->next_keepalive_us)
    return MS_IMAP_WATCH_DUE_KEEPALIVE;
  gint64 next = G_MAXINT64;
  if (t->poll_us > 0)
    next = t->next_poll_us;
  if (t->keepalive_us > 0)
    next = MIN (next, t->next_keepalive_us);
  if (next == G_MAXINT64) {
    *wait_ms = G_MAXINT;
  } else {
    gint64 ms = (next - now_us + 999) / 1000;
    *wait_ms = (gint) CLAMP (ms, 1, G_MAXINT);
  }
  return MS_IMAP_WATCH_DUE_NOTHING;
}

void
ms_imap_watch_timer_done (MsImapWatchTimer *t, MsImapWatchDue what, gint64 now_us)
{
  if (what == MS_IMAP_WATCH_DUE_POLL)
    t->next_poll_us = now_us + t->poll_us;
  if (what != MS_IMAP_WATCH_DUE_NOTHING)
    t->next_keepalive_us = now_us + t->keepalive_us;
}
