/* sync-state.c — see sync-state.h for the formats and the recovery rules.
 *
 * Parsing is strict where a wrong reading would cost mail (a state that
 * silently reads as "no pairs" makes the next run copy everything again) and
 * as lenient as mbsync's sscanf where that is harmless (runs of blanks
 * between fields).  Lines are looked at in place, never copied whole, so a
 * state near MS_SYNC_STATE_MAX_BYTES costs little beyond the pairs array.
 */
#include "sync-state.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms-error.h"
#include "ms-fd.h"

/* mbsync unlinks STATE.lock when it finishes, so the file we opened may be
 * gone by the time we hold its lock; each such finish replaces the file at
 * most once, so a few attempts suffice unless something replaces it in a
 * loop. */
#define LOCK_ATTEMPTS 8

/* Error messages quote at most this much of a bad line: enough to see what
 * is wrong, never megabytes of a corrupt file. */
#define QUOTE_MAX 80

/* --- the test knob ------------------------------------------------------- */

static guint die_after;
static gint steps_done; /* atomic: mailboxes are synced on several threads */

void
ms_sync_set_die_after (guint steps)
{
  die_after = steps;
  g_atomic_int_set (&steps_done, 0);
}

void
ms_sync_step (void)
{
  if (die_after != 0 && (guint) g_atomic_int_add (&steps_done, 1) >= die_after)
    _exit (MS_SYNC_DIE_STATUS);
}

/* --- pure state ------------------------------------------------------------ */

MsSyncState *
ms_sync_state_new (void)
{
  MsSyncState *s = g_new0 (MsSyncState, 1);
  s->pairs = g_array_new (FALSE, TRUE, sizeof (MsSyncPair));
  s->extra_header = g_ptr_array_new_with_free_func (g_free);
  return s;
}

void
ms_sync_state_free (MsSyncState *s)
{
  if (s == NULL)
    return;
  g_array_unref (s->pairs);
  g_ptr_array_unref (s->extra_header);
  g_free (s);
}

static gint
pair_cmp (gconstpointer a, gconstpointer b)
{
  const MsSyncPair *x = a, *y = b;
  if (x->far_uid != y->far_uid)
    return x->far_uid < y->far_uid ? -1 : 1;
  return x->near_uid < y->near_uid ? -1 : x->near_uid > y->near_uid;
}

/* The index of the first pair not below (far_uid, near_uid). */
static guint
lower_bound (const MsSyncState *s, guint32 far_uid, guint32 near_uid)
{
  MsSyncPair key = { far_uid, near_uid };
  guint lo = 0, hi = s->pairs->len;
  while (lo < hi) {
    guint mid = lo + (hi - lo) / 2;
    if (pair_cmp (&g_array_index (s->pairs, MsSyncPair, mid), &key) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

MsSyncPair *
ms_sync_state_find_far (MsSyncState *s, guint32 far_uid)
{
  g_return_val_if_fail (s != NULL, NULL);
  if (far_uid == 0)
    return NULL;
  guint i = lower_bound (s, far_uid, 0);
  if (i < s->pairs->len && g_array_index (s->pairs, MsSyncPair, i).far_uid == far_uid)
    return &g_array_index (s->pairs, MsSyncPair, i);
  return NULL;
}

MsSyncPair *
ms_sync_state_find_near (MsSyncState *s, guint32 near_uid)
{
  g_return_val_if_fail (s != NULL, NULL);
  if (near_uid == 0)
    return NULL;
  for (guint i = 0; i < s->pairs->len; i++)
    if (g_array_index (s->pairs, MsSyncPair, i).near_uid == near_uid)
      return &g_array_index (s->pairs, MsSyncPair, i);
  return NULL;
}

void
ms_sync_state_add_pair (MsSyncState *s, guint32 far_uid, guint32 near_uid, MsFlags flags)
{
  g_return_if_fail (s != NULL);
  guint i = lower_bound (s, far_uid, near_uid);
  if (i < s->pairs->len) {
    MsSyncPair *p = &g_array_index (s->pairs, MsSyncPair, i);
    if (p->far_uid == far_uid && p->near_uid == near_uid) {
      p->flags = flags;
      return;
    }
  }

  /* Drop the pairs this one replaces, keeping the first one's status.  The
   * far UID is found by binary search; the near UID only needs a scan when
   * there is no far UID (a pair losing its server side), which is rare. */
  MsSyncPair pair = { far_uid, near_uid, flags, 0 };
  gboolean inherited = FALSE;
  if (far_uid != 0) {
    guint j = lower_bound (s, far_uid, 0);
    while (j < s->pairs->len && g_array_index (s->pairs, MsSyncPair, j).far_uid == far_uid) {
      if (!inherited)
        pair.status = g_array_index (s->pairs, MsSyncPair, j).status, inherited = TRUE;
      g_array_remove_index (s->pairs, j);
    }
  } else if (near_uid != 0) {
    for (guint j = s->pairs->len; j-- > 0;) {
      const MsSyncPair *p = &g_array_index (s->pairs, MsSyncPair, j);
      if (p->near_uid != near_uid)
        continue;
      if (!inherited)
        pair.status = p->status, inherited = TRUE;
      g_array_remove_index (s->pairs, j);
    }
  }
  g_array_insert_val (s->pairs, lower_bound (s, far_uid, near_uid), pair);
  /* max_pulled / max_pushed are not touched: a pushed message's new server
   * UID says nothing about server messages below it that we have not seen.
   * The sync job raises them from the plan once its copies are done. */
}

void
ms_sync_state_remove_pair (MsSyncState *s, guint32 far_uid, guint32 near_uid)
{
  g_return_if_fail (s != NULL);
  guint i = lower_bound (s, far_uid, near_uid);
  if (i < s->pairs->len) {
    const MsSyncPair *p = &g_array_index (s->pairs, MsSyncPair, i);
    if (p->far_uid == far_uid && p->near_uid == near_uid)
      g_array_remove_index (s->pairs, i);
  }
}

/* --- lexing ----------------------------------------------------------------- */

/* A line of the text, in place. */
typedef struct {
  const char *p;
  gsize len;
} Line;

/* Splits text into lines (without '\n'); a last line without '\n' is
 * reported through `torn` (its length; 0: none) and not returned. */
static GArray *
split_lines (const char *text, gsize len, gsize *torn)
{
  GArray *lines = g_array_new (FALSE, FALSE, sizeof (Line));
  gsize start = 0;
  for (;;) {
    const char *nl = len > start ? memchr (text + start, '\n', len - start) : NULL;
    if (nl == NULL)
      break;
    Line l = { text + start, (gsize) (nl - (text + start)) };
    g_array_append_val (lines, l);
    start = (gsize) (nl - text) + 1;
  }
  *torn = len - start;
  return lines;
}

/* Splits a line into at most `max` fields separated by runs of blanks (as
 * mbsync's sscanf reads them); returns the number of fields, or max + 1 if
 * there are more. */
static guint
split_fields (Line line, Line *fields, guint max)
{
  guint n = 0;
  gsize i = 0;
  while (i < line.len) {
    while (i < line.len && (line.p[i] == ' ' || line.p[i] == '\t'))
      i++;
    if (i == line.len)
      break;
    gsize start = i;
    while (i < line.len && line.p[i] != ' ' && line.p[i] != '\t')
      i++;
    if (n == max)
      return max + 1;
    fields[n++] = (Line) { line.p + start, i - start };
  }
  return n;
}

static gboolean
field_is (Line f, const char *word)
{
  return f.len == strlen (word) && memcmp (f.p, word, f.len) == 0;
}

static gboolean
parse_u64 (Line f, guint64 max, guint64 *out)
{
  if (f.len == 0 || f.len > 20)
    return FALSE;
  guint64 v = 0;
  for (gsize i = 0; i < f.len; i++) {
    if (!g_ascii_isdigit (f.p[i]))
      return FALSE;
    guint d = (guint) (f.p[i] - '0');
    if (v > (max - d) / 10)
      return FALSE;
    v = v * 10 + d;
  }
  *out = v;
  return TRUE;
}

static gboolean
parse_u32 (Line f, guint32 *out)
{
  guint64 v;
  if (!parse_u64 (f, G_MAXUINT32, &v))
    return FALSE;
  *out = (guint32) v;
  return TRUE;
}

/* Flag letters only (DFPRST, any order, possibly none). */
static gboolean
parse_flags (const char *p, gsize len, MsFlags *out)
{
  for (gsize i = 0; i < len; i++)
    if (p[i] == '\0' || strchr ("DFPRST", p[i]) == NULL)
      return FALSE;
  *out = ms_flags_from_letters (p, len);
  return TRUE;
}

/* The start of a line, printable, for an error message. (transfer full) */
static char *
quote_line (Line l)
{
  g_autofree char *head = g_strndup (l.p, MIN (l.len, QUOTE_MAX));
  g_autofree char *esc = g_strescape (head, NULL);
  return g_strconcat ("\"", esc, l.len > QUOTE_MAX ? "\"..." : "\"", NULL);
}

static void
set_line_error (GError **error, const char *filename, guint line_no, const char *what, Line l)
{
  g_autofree char *q = quote_line (l);
  g_set_error (error, MS_ERROR, MS_ERROR_PROTOCOL, "%s:%u: %s %s", filename, line_no, what, q);
}

/* --- the state file ---------------------------------------------------------- */

/* The pre-1.1 header: "FARVAL:MAXPULLED NEARVAL:MAXEXPIRED:MAXPUSHED". */
static gboolean
parse_legacy_header (Line line, MsSyncState *s)
{
  Line f[2], part[3];
  if (split_fields (line, f, 2) != 2)
    return FALSE;
  guint n1 = 0, n2 = 0;
  for (gsize i = 0, start = 0; i <= f[0].len; i++) {
    if (i == f[0].len || f[0].p[i] == ':') {
      if (n1 == 2)
        return FALSE;
      part[n1++] = (Line) { f[0].p + start, i - start };
      start = i + 1;
    }
  }
  if (n1 != 2 || !parse_u32 (part[0], &s->far_uidvalidity) || !parse_u32 (part[1], &s->max_pulled))
    return FALSE;
  for (gsize i = 0, start = 0; i <= f[1].len; i++) {
    if (i == f[1].len || f[1].p[i] == ':') {
      if (n2 == 3)
        return FALSE;
      part[n2++] = (Line) { f[1].p + start, i - start };
      start = i + 1;
    }
  }
  guint32 max_expired_near;
  if (n2 != 3 || !parse_u32 (part[0], &s->near_uidvalidity) || !parse_u32 (part[1], &max_expired_near)
      || !parse_u32 (part[2], &s->max_pushed))
    return FALSE;
  /* mbsync 1.4 turns this into its far-side expiry bound; keeping the old
   * key lets it do so when it reads our file. */
  if (max_expired_near != 0)
    g_ptr_array_add (s->extra_header, g_strdup_printf ("MaxExpiredSlaveUid %u", max_expired_near));
  return TRUE;
}

/* One "KEY NUMBER" header line. */
static gboolean
parse_header_line (Line line, MsSyncState *s)
{
  Line f[2];
  guint32 value;
  if (split_fields (line, f, 2) != 2 || !parse_u32 (f[1], &value) || !g_ascii_isalpha (f[0].p[0]))
    return FALSE;
  for (gsize i = 0; i < f[0].len; i++)
    if (!g_ascii_isalnum (f[0].p[i]))
      return FALSE;
  if (field_is (f[0], "FarUidValidity") || field_is (f[0], "MasterUidValidity"))
    s->far_uidvalidity = value;
  else if (field_is (f[0], "NearUidValidity") || field_is (f[0], "SlaveUidValidity"))
    s->near_uidvalidity = value;
  else if (field_is (f[0], "MaxPulledUid"))
    s->max_pulled = value;
  else if (field_is (f[0], "MaxPushedUid"))
    s->max_pushed = value;
  else if (field_is (f[0], "MaxExpiredMasterUid"))
    g_ptr_array_add (s->extra_header, g_strdup_printf ("MaxExpiredFarUid %u", value));
  else
    g_ptr_array_add (s->extra_header, g_strdup_printf ("%.*s %u", (int) f[0].len, f[0].p, value));
  return TRUE;
}

/* One "FAR NEAR [MARKERS FLAGS]" line. */
static gboolean
parse_pair_line (Line line, MsSyncPair *pair)
{
  Line f[3];
  guint n = split_fields (line, f, 3);
  if (n < 2 || n > 3)
    return FALSE;
  *pair = (MsSyncPair) { 0 };
  guint32 *uids[2] = { &pair->far_uid, &pair->near_uid };
  gboolean never_copied = FALSE;
  for (int i = 0; i < 2; i++) {
    if (field_is (f[i], "-1"))
      never_copied = TRUE; /* pre-1.3: that side never got the message */
    else if (!parse_u32 (f[i], uids[i]))
      return FALSE;
  }
  const char *p = n == 3 ? f[2].p : "", *end = n == 3 ? f[2].p + f[2].len : p;
  if (p < end && (*p == '<' || *p == '>'))
    pair->status |= *p++ == '<' ? MS_SYNC_PAIR_PLACEHOLDER_FAR : MS_SYNC_PAIR_PLACEHOLDER_NEAR;
  if (p < end && *p == '^')
    pair->status |= MS_SYNC_PAIR_SKIPPED, p++;
  else if (p < end && (*p == '~' || *p == 'X'))
    pair->status |= MS_SYNC_PAIR_EXPIRED, p++;
  /* mbsync writes one of '^' and '~'; the old UID -1 is its '^'. */
  if (never_copied && !(pair->status & MS_SYNC_PAIR_EXPIRED))
    pair->status |= MS_SYNC_PAIR_SKIPPED;
  return parse_flags (p, (gsize) (end - p), &pair->flags);
}

static void
parse_sidecar (MsSyncState *s, const char *text, gsize len)
{
  if (text == NULL || len > MS_SYNC_SIDECAR_MAX_BYTES || memchr (text, '\0', len) != NULL)
    return;
  gsize torn;
  g_autoptr (GArray) lines = split_lines (text, len, &torn);
  guint64 validity = 0, modseq = 0, uidnext = 0, messages = 0;
  for (guint i = 0; i < lines->len; i++) {
    Line f[2];
    guint64 v;
    if (split_fields (g_array_index (lines, Line, i), f, 2) != 2 || !parse_u64 (f[1], G_MAXUINT64, &v))
      return;
    if (field_is (f[0], "UidValidity") && v <= G_MAXUINT32)
      validity = v;
    else if (field_is (f[0], "HighestModSeq"))
      modseq = v;
    else if (field_is (f[0], "UidNext") && v <= G_MAXUINT32)
      uidnext = v;
    else if (field_is (f[0], "Messages") && v <= G_MAXUINT32)
      messages = v;
  }
  /* The sidecar is an optimisation: one that is not about this mailbox
   * incarnation just means "unknown". */
  if (validity == 0 || validity != s->far_uidvalidity)
    return;
  s->far_highestmodseq = modseq;
  s->far_uidnext = (guint32) uidnext;
  s->far_messages = (guint32) messages;
}

MsSyncState *
ms_sync_state_parse (const char *filename, const char *text, gsize len, const char *sidecar,
                     gsize sidecar_len, GError **error)
{
  g_return_val_if_fail (filename != NULL && (text != NULL || len == 0), NULL);

  if (len > MS_SYNC_STATE_MAX_BYTES) {
    g_set_error (error, MS_ERROR, MS_ERROR_LIMIT, "%s: larger than %d bytes", filename,
                 MS_SYNC_STATE_MAX_BYTES);
    return NULL;
  }
  const char *nul = len > 0 ? memchr (text, '\0', len) : NULL;
  if (nul != NULL) {
    guint line_no = 1;
    for (const char *p = text; p < nul; p++)
      line_no += *p == '\n';
    g_set_error (error, MS_ERROR, MS_ERROR_PROTOCOL, "%s:%u: NUL byte", filename, line_no);
    return NULL;
  }

  g_autoptr (MsSyncState) s = ms_sync_state_new ();
  gsize torn;
  g_autoptr (GArray) lines = split_lines (text, len, &torn);
  if (torn > 0) {
    g_set_error (error, MS_ERROR, MS_ERROR_PROTOCOL, "%s:%u: incomplete last line (no newline)",
                 filename, lines->len + 1);
    return NULL;
  }

  guint i = 0;
  gboolean header_done = FALSE;
  if (lines->len > 0 && g_ascii_isdigit (g_array_index (lines, Line, 0).p[0])) {
    /* pre-1.1: the one header line, then the pairs at once */
    if (!parse_legacy_header (g_array_index (lines, Line, 0), s)) {
      set_line_error (error, filename, 1, "bad header line", g_array_index (lines, Line, 0));
      return NULL;
    }
    i = 1;
    header_done = TRUE;
  }
  for (; !header_done && i < lines->len; i++) {
    Line line = g_array_index (lines, Line, i);
    if (line.len == 0) {
      header_done = TRUE;
    } else if (!parse_header_line (line, s)) {
      set_line_error (error, filename, i + 1, "bad header line", line);
      return NULL;
    }
  }
  if (!header_done) {
    g_set_error (error, MS_ERROR, MS_ERROR_PROTOCOL, "%s:%u: the header does not end (no blank line)",
                 filename, lines->len + 1);
    return NULL;
  }

  gboolean sorted = TRUE;
  g_array_set_size (s->pairs, lines->len - i);
  for (guint k = 0; i < lines->len; i++, k++) {
    MsSyncPair *pair = &g_array_index (s->pairs, MsSyncPair, k);
    if (!parse_pair_line (g_array_index (lines, Line, i), pair)) {
      set_line_error (error, filename, i + 1, "bad entry", g_array_index (lines, Line, i));
      return NULL;
    }
    if (k > 0 && pair_cmp (pair - 1, pair) > 0)
      sorted = FALSE;
  }
  if (!sorted)
    g_array_sort (s->pairs, pair_cmp);

  parse_sidecar (s, sidecar, sidecar_len);
  return g_steal_pointer (&s);
}

/* The state's text goes out in pieces of about this many bytes: a state of
 * 100,000 pairs is some 2 MB of text, never held whole. */
#define STATE_FORMAT_PIECE (64 * 1024)

typedef gboolean (*EmitFn) (const char *text, gsize len, gpointer data);

/* Formats the state in mbsync's layout, handing it to emit() piece by
 * piece; FALSE as soon as emit() does. */
static gboolean
format_pieces (const MsSyncState *s, EmitFn emit, gpointer data)
{
  g_autoptr (GString) out = g_string_sized_new (STATE_FORMAT_PIECE + 256);
  g_string_append_printf (out, "FarUidValidity %u\nNearUidValidity %u\nMaxPulledUid %u\nMaxPushedUid %u\n",
                          s->far_uidvalidity, s->near_uidvalidity, s->max_pulled, s->max_pushed);
  for (guint i = 0; i < s->extra_header->len; i++)
    g_string_append_printf (out, "%s\n", (const char *) g_ptr_array_index (s->extra_header, i));
  g_string_append_c (out, '\n');
  for (guint i = 0; i < s->pairs->len; i++) {
    const MsSyncPair *p = &g_array_index (s->pairs, MsSyncPair, i);
    g_autofree char *letters = ms_flags_to_letters (p->flags);
    /* mbsync's order: a placeholder mark, then a skip/expiry mark. */
    const char *dummy = (p->status & MS_SYNC_PAIR_PLACEHOLDER_FAR) ? "<"
                        : (p->status & MS_SYNC_PAIR_PLACEHOLDER_NEAR) ? ">" : "";
    const char *mark = (p->status & MS_SYNC_PAIR_SKIPPED) ? "^"
                       : (p->status & MS_SYNC_PAIR_EXPIRED) ? "~" : "";
    g_string_append_printf (out, "%u %u %s%s%s\n", p->far_uid, p->near_uid, dummy, mark, letters);
    if (out->len >= STATE_FORMAT_PIECE) {
      if (!emit (out->str, out->len, data))
        return FALSE;
      g_string_truncate (out, 0);
    }
  }
  return emit (out->str, out->len, data);
}

static gboolean
emit_to_string (const char *text, gsize len, gpointer data)
{
  g_string_append_len (data, text, (gssize) len);
  return TRUE;
}

char *
ms_sync_state_format (const MsSyncState *s)
{
  g_return_val_if_fail (s != NULL, NULL);
  GString *out = g_string_sized_new (128 + 16 * s->pairs->len);
  format_pieces (s, emit_to_string, out);
  return g_string_free (out, FALSE);
}

char *
ms_sync_state_format_sidecar (const MsSyncState *s)
{
  g_return_val_if_fail (s != NULL, NULL);
  return g_strdup_printf ("UidValidity %u\nHighestModSeq %" G_GUINT64_FORMAT "\nUidNext %u\nMessages %u\n",
                          s->far_uidvalidity, s->far_highestmodseq, s->far_uidnext, s->far_messages);
}

/* --- the journal ---------------------------------------------------------------- */

/* Drops the pending entry a new pair resolves: the pull of that server
 * message, or the push of that Maildir message. */
static void
resolve_pending (GPtrArray *pending, guint32 far_uid, guint32 near_uid)
{
  for (guint j = 0; j < pending->len; j++) {
    const MsSyncPending *p = g_ptr_array_index (pending, j);
    if ((p->kind == MS_SYNC_PENDING_PULL && p->far_uid == far_uid && p->near_uid == near_uid)
        || (p->kind == MS_SYNC_PENDING_PUSH && p->near_uid == near_uid)) {
      g_ptr_array_remove_index (pending, j);
      return;
    }
  }
}

GPtrArray *
ms_sync_journal_replay (MsSyncState *s, const char *filename, const char *text, gsize len, GError **error)
{
  g_return_val_if_fail (s != NULL && filename != NULL && (text != NULL || len == 0), NULL);

  if (len > MS_SYNC_JOURNAL_MAX_BYTES) {
    g_set_error (error, MS_ERROR, MS_ERROR_LIMIT, "%s: larger than %d bytes", filename,
                 MS_SYNC_JOURNAL_MAX_BYTES);
    return NULL;
  }
  gsize torn;
  g_autoptr (GArray) lines = split_lines (text, len, &torn);
  g_autoptr (GPtrArray) pending = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < lines->len; i++) {
    Line line = g_array_index (lines, Line, i);
    Line f[5];
    guint n = split_fields (line, f, 5);
    guint32 a = 0, b = 0, c = 0;
    guint64 size = 0;
    MsFlags flags = 0;
    char kind = n > 0 && f[0].len == 1 ? f[0].p[0] : '\0';
    gboolean ok;
    if (memchr (line.p, '\0', line.len) != NULL) {
      ok = FALSE;
    } else {
      switch (kind) {
      case '<':
        /* The flags it is delivered with: "-" for none; older lines have
         * no such field. */
        ok = (n == 3 || n == 4) && parse_u32 (f[1], &a) && parse_u32 (f[2], &b)
             && (n == 3 || field_is (f[3], "-") || parse_flags (f[3].p, f[3].len, &flags));
        break;
      case '-':
        ok = n == 3 && parse_u32 (f[1], &a) && parse_u32 (f[2], &b);
        break;
      case '>':
        ok = n == 4 && parse_u32 (f[1], &a) && parse_u32 (f[2], &b) && parse_u64 (f[3], G_MAXUINT64, &size);
        break;
      case '+':
      case '=':
        ok = (n == 3 || n == 4) && parse_u32 (f[1], &a) && parse_u32 (f[2], &b)
             && (n == 3 || parse_flags (f[3].p, f[3].len, &flags));
        break;
      case 'U':
        ok = n == 2 && parse_u32 (f[1], &c);
        break;
      default:
        if (n > 0 && f[0].len == 1) {
          set_line_error (error, filename, i + 1, "unknown journal entry", line);
          return NULL;
        }
        ok = FALSE;
        break;
      }
    }
    if (!ok) {
      set_line_error (error, filename, i + 1, "bad journal line", line);
      return NULL;
    }

    MsSyncPending *p;
    switch (kind) {
    case '<':
      p = g_new0 (MsSyncPending, 1);
      *p = (MsSyncPending) { .kind = MS_SYNC_PENDING_PULL, .far_uid = a, .near_uid = b, .flags = flags,
                             .has_flags = n == 4 };
      g_ptr_array_add (pending, p);
      break;
    case '>':
      p = g_new0 (MsSyncPending, 1);
      *p = (MsSyncPending) { .kind = MS_SYNC_PENDING_PUSH, .near_uid = a, .uidnext = b, .size = size };
      g_ptr_array_add (pending, p);
      break;
    case '+':
      ms_sync_state_add_pair (s, a, b, flags);
      resolve_pending (pending, a, b);
      break;
    case '=':
      ms_sync_state_add_pair (s, a, b, flags);
      break;
    case '-':
      ms_sync_state_remove_pair (s, a, b);
      break;
    default:
      break; /* 'U': the counter lives in .uidvalidity; the line documents it */
    }
  }
  return g_steal_pointer (&pending);
}

/* --- files ---------------------------------------------------------------- */

struct MsSyncStateFile {
  char *path;
  char *journal_path;
  int lock_fd;
  int journal_fd;
  gboolean journal_dir_unsynced; /* the journal was (maybe) created since the last sync */
  gboolean journal_had_entries;  /* a crashed run left some */
  gboolean journal_unsynced;     /* lines were written since the last sync */
  gboolean fenced;               /* mbsync's STATE.new and STATE.journal hold it off */
  gboolean fsync;
  MsSyncState *state;
};

static void
set_errno_error (GError **error, int e, const char *what, const char *path)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "%s %s: %s", what, path, g_strerror (e));
}

/* Reads a whole regular file of at most `max` bytes.  A missing file gives
 * TRUE with *text NULL. */
static gboolean
read_bounded (const char *path, gsize max, char **text, gsize *len, GError **error)
{
  *text = NULL;
  *len = 0;
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT)
      return TRUE;
    set_errno_error (error, errno, "cannot open", path);
    return FALSE;
  }
  struct stat st;
  if (fstat (fd, &st) < 0) {
    int e = errno;
    close (fd);
    set_errno_error (error, e, "cannot stat", path);
    return FALSE;
  }
  if (!S_ISREG (st.st_mode)) {
    close (fd);
    g_set_error (error, MS_ERROR, MS_ERROR_FAILED, "%s: not a regular file", path);
    return FALSE;
  }
  if ((guint64) st.st_size > max) {
    close (fd);
    g_set_error (error, MS_ERROR, MS_ERROR_LIMIT, "%s: larger than %" G_GSIZE_FORMAT " bytes", path, max);
    return FALSE;
  }
  /* The file may grow while we read; never past the limit. */
  gsize cap = (gsize) st.st_size + 1, used = 0;
  g_autofree char *buf = g_malloc (cap + 1);
  for (;;) {
    if (used == cap) {
      if (cap > max) {
        close (fd);
        g_set_error (error, MS_ERROR, MS_ERROR_LIMIT, "%s: larger than %" G_GSIZE_FORMAT " bytes", path, max);
        return FALSE;
      }
      cap = MIN (cap * 2, max + 1);
      buf = g_realloc (buf, cap + 1);
    }
    ssize_t n = read (fd, buf + used, cap - used);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno;
      close (fd);
      set_errno_error (error, e, "cannot read", path);
      return FALSE;
    }
    if (n == 0)
      break;
    used += (gsize) n;
  }
  close (fd);
  buf[used] = '\0';
  *text = g_steal_pointer (&buf);
  *len = used;
  return TRUE;
}

static gboolean
exists (const char *path)
{
  struct stat st;
  return lstat (path, &st) == 0;
}

static gboolean
fsync_dir_of (const char *path, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fsync (fd) < 0) {
    int e = errno;
    if (fd >= 0)
      close (fd);
    set_errno_error (error, e, "cannot sync directory", dir);
    return FALSE;
  }
  close (fd);
  return TRUE;
}

/* Takes the lock on path.lock; returns the fd or -1. */
static int
take_lock (const char *path, GError **error)
{
  g_autofree char *lock_path = g_strconcat (path, ".lock", NULL);
  for (int attempt = 0; attempt < LOCK_ATTEMPTS; attempt++) {
    int fd = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) {
      set_errno_error (error, errno, "cannot open", lock_path);
      return -1;
    }
    /* An open file description lock conflicts with mbsync's process lock
     * and also with a second open in this process (a resident syncer);
     * kernels without it (before 3.15) get mbsync's kind. */
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    int r = fcntl (fd, F_OFD_SETLK, &fl);
    if (r < 0 && errno == EINVAL)
      r = fcntl (fd, F_SETLK, &fl);
    if (r < 0) {
      int e = errno;
      close (fd);
      if (e == EACCES || e == EAGAIN)
        g_set_error (error, MS_ERROR, MS_ERROR_BUSY,
                     "%s is locked: another sync_imap or mbsync is working on this mailbox", path);
      else
        set_errno_error (error, e, "cannot lock", lock_path);
      return -1;
    }
    /* Is the file we locked still the lock file? */
    struct stat held, now;
    if (fstat (fd, &held) == 0 && stat (lock_path, &now) == 0 && held.st_dev == now.st_dev
        && held.st_ino == now.st_ino)
      return fd;
    close (fd);
  }
  g_set_error (error, MS_ERROR, MS_ERROR_FAILED, "cannot lock %s: the file keeps being replaced", lock_path);
  return -1;
}

/* Cuts a torn last line off the journal, so that new lines start afresh. */
static gboolean
cut_torn_line (const char *journal_path, const char *text, gsize len, GError **error)
{
  gsize keep = len;
  while (keep > 0 && text[keep - 1] != '\n')
    keep--;
  if (keep == len)
    return TRUE;
  if (truncate (journal_path, (off_t) keep) < 0) {
    set_errno_error (error, errno, "cannot truncate", journal_path);
    return FALSE;
  }
  return TRUE;
}

/* --- the fence -----------------------------------------------------------
 *
 * mbsync does not know our journal: run after a crash that left messages
 * in it but not in STATE, it would take them for new and copy them again.
 * So while the journal announces copies, the state carries what mbsync
 * takes for an interrupted run of its own, STATE.new and STATE.journal,
 * the journal holding one line (MS_SYNC_FENCE_LINE) in place of mbsync's
 * version number.  mbsync 1.4 then refuses the mailbox, quoting that line
 * ("incompatible journal version (got ..., expected 4)"), and syncs the
 * others; we know the line and take the fence down at the next commit.
 * It goes up before the first announcement of a pull or push (flag lines
 * need none: the three-way merge converges) and is not synced to disk: a
 * power failure may lose it, a crash does not. */

static gboolean
is_our_fence (const char *mbsync_journal)
{
  char buf[sizeof MS_SYNC_FENCE_LINE];
  int fd = open (mbsync_journal, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return FALSE;
  ssize_t n = read (fd, buf, sizeof buf);
  close (fd);
  return n == (ssize_t) strlen (MS_SYNC_FENCE_LINE) && memcmp (buf, MS_SYNC_FENCE_LINE, (gsize) n) == 0;
}

/* The fence's two files: where mbsync looks, and where they wait between
 * uses.  Moved, not created and deleted, each time: a rename allocates no
 * inode, and four cost a fifteenth of two creates and two unlinks. */
static gboolean rewrite_file (const char *path, const char *text, GError **error);

static const char *const FENCE_LIVE[] = { ".new", ".journal" };
static const char *const FENCE_PARKED[] = { ".fence-new-ng", ".fence-journal-ng" };
static const char *const FENCE_TEXT[] = { "", MS_SYNC_FENCE_LINE };

static gboolean
fence_up (MsSyncStateFile *f, GError **error)
{
  if (f->fenced)
    return TRUE;
  /* mbsync looks at its journal only when STATE.new exists: that first,
   * so the journal line is never found alone and taken for mbsync's. */
  for (guint i = 0; i < G_N_ELEMENTS (FENCE_LIVE); i++) {
    g_autofree char *live = g_strconcat (f->path, FENCE_LIVE[i], NULL);
    g_autofree char *parked = g_strconcat (f->path, FENCE_PARKED[i], NULL);
    if (rename (parked, live) == 0)
      continue;
    if (errno != ENOENT) {
      set_errno_error (error, errno, "cannot rename", parked);
      return FALSE;
    }
    if (!rewrite_file (live, FENCE_TEXT[i], error))
      return FALSE;
  }
  f->fenced = TRUE;
  return TRUE;
}

static gboolean
fence_down (MsSyncStateFile *f, GError **error)
{
  if (!f->fenced)
    return TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (FENCE_LIVE); i++) {
    g_autofree char *live = g_strconcat (f->path, FENCE_LIVE[i], NULL);
    g_autofree char *parked = g_strconcat (f->path, FENCE_PARKED[i], NULL);
    if (rename (live, parked) < 0 && errno != ENOENT) {
      set_errno_error (error, errno, "cannot rename", live);
      return FALSE;
    }
  }
  f->fenced = FALSE;
  return TRUE;
}

MsSyncStateFile *
ms_sync_state_file_open (const char *path, gboolean fsync_enabled, GPtrArray **pending, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_autofree char *dir = g_path_get_dirname (path);

  if (g_mkdir_with_parents (dir, 0700) < 0) {
    set_errno_error (error, errno, "cannot create", dir);
    return NULL;
  }
  int lock_fd = take_lock (path, error);
  if (lock_fd < 0)
    return NULL;

  g_autofree char *mbsync_journal = g_strconcat (path, ".journal", NULL);
  g_autofree char *mbsync_new = g_strconcat (path, ".new", NULL);
  gboolean fenced = is_our_fence (mbsync_journal);
  if (!fenced && exists (mbsync_journal) && exists (mbsync_new)) {
    close (lock_fd);
    g_set_error (error, MS_ERROR, MS_ERROR_FAILED,
                 "%s: an interrupted mbsync run left its journal; run mbsync once on this "
                 "channel to finish it", mbsync_journal);
    return NULL;
  }

  gsize len = 0, slen = 0, jlen = 0;
  g_autofree char *sidecar_path = g_strconcat (path, ".sync_imap", NULL);
  g_autofree char *journal_path = g_strconcat (path, ".journal-ng", NULL);
  g_autofree char *text = NULL, *sidecar = NULL, *journal = NULL;
  g_autoptr (GError) sidecar_error = NULL;
  if (!read_bounded (path, MS_SYNC_STATE_MAX_BYTES, &text, &len, error)
      || !read_bounded (journal_path, MS_SYNC_JOURNAL_MAX_BYTES, &journal, &jlen, error)) {
    close (lock_fd);
    return NULL;
  }
  /* An unreadable sidecar only means "unknown". */
  read_bounded (sidecar_path, MS_SYNC_SIDECAR_MAX_BYTES, &sidecar, &slen, &sidecar_error);

  g_autoptr (MsSyncState) state = text ? ms_sync_state_parse (path, text, len, sidecar, slen, error)
                                       : ms_sync_state_new ();
  g_autoptr (GPtrArray) unresolved = NULL;
  if (state != NULL && journal != NULL) {
    unresolved = ms_sync_journal_replay (state, journal_path, journal, jlen, error);
    if (unresolved != NULL && !cut_torn_line (journal_path, journal, jlen, error))
      g_clear_pointer (&unresolved, g_ptr_array_unref);
  }
  if (state == NULL || (journal != NULL && unresolved == NULL)) {
    close (lock_fd);
    return NULL;
  }

  MsSyncStateFile *f = g_new0 (MsSyncStateFile, 1);
  f->path = g_strdup (path);
  f->journal_path = g_steal_pointer (&journal_path);
  f->lock_fd = lock_fd;
  f->journal_fd = -1;
  f->journal_had_entries = jlen > 0;
  f->fenced = fenced;
  f->fsync = fsync_enabled;
  f->state = g_steal_pointer (&state);
  if (pending != NULL)
    *pending = unresolved ? g_steal_pointer (&unresolved) : g_ptr_array_new_with_free_func (g_free);
  return f;
}

gboolean
ms_sync_state_file_has_journal (MsSyncStateFile *f)
{
  g_return_val_if_fail (f != NULL, TRUE);
  /* A fence left up by a crash is taken down by the next commit. */
  return f->journal_fd >= 0 || f->journal_had_entries || f->fenced;
}

const char *
ms_sync_state_file_path (MsSyncStateFile *f)
{
  g_return_val_if_fail (f != NULL, NULL);
  return f->path;
}

MsSyncState *
ms_sync_state_file_state (MsSyncStateFile *f)
{
  g_return_val_if_fail (f != NULL, NULL);
  return f->state;
}

static gboolean
journal_write (MsSyncStateFile *f, const char *line, GError **error)
{
  ms_sync_step ();
  if (f->journal_fd < 0) {
    /* The journal is emptied, not removed, at each commit: creating and
     * deleting a file in every sync costs more than the rest of a small
     * one (ext4 without a journal scans for recently deleted inodes on
     * every create), and only a new file needs its directory synced. */
    f->journal_fd = open (f->journal_path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
    if (f->journal_fd < 0 && errno == ENOENT) {
      f->journal_fd = open (f->journal_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
      f->journal_dir_unsynced = TRUE;
    }
    if (f->journal_fd < 0) {
      set_errno_error (error, errno, "cannot open", f->journal_path);
      return FALSE;
    }
  }
  /* One write(2) per line: a crash leaves a whole line or a torn last one,
   * which replay ignores. */
  gsize len = strlen (line);
  ssize_t n;
  do
    n = write (f->journal_fd, line, len);
  while (n < 0 && errno == EINTR);
  if (n != (ssize_t) len) {
    set_errno_error (error, n < 0 ? errno : EIO, "writing", f->journal_path);
    return FALSE;
  }
  f->journal_unsynced = TRUE;
  return TRUE;
}

gboolean
ms_sync_journal_pull (MsSyncStateFile *f, guint32 far_uid, guint32 near_uid, MsFlags flags, GError **error)
{
  if (!fence_up (f, error))
    return FALSE;
  g_autofree char *letters = ms_flags_to_letters (flags);
  g_autofree char *line = g_strdup_printf ("< %u %u %s\n", far_uid, near_uid, *letters ? letters : "-");
  return journal_write (f, line, error);
}

gboolean
ms_sync_journal_push (MsSyncStateFile *f, guint32 near_uid, guint32 uidnext, guint64 size, GError **error)
{
  if (!fence_up (f, error))
    return FALSE;
  g_autofree char *line = g_strdup_printf ("> %u %u %" G_GUINT64_FORMAT "\n", near_uid, uidnext, size);
  return journal_write (f, line, error);
}

gboolean
ms_sync_journal_reserve (MsSyncStateFile *f, guint32 near_uid_max, GError **error)
{
  g_autofree char *line = g_strdup_printf ("U %u\n", near_uid_max);
  return journal_write (f, line, error);
}

gboolean
ms_sync_journal_sync (MsSyncStateFile *f, GError **error)
{
  if (!f->fsync || f->journal_fd < 0 || !f->journal_unsynced)
    return TRUE;
  if (fdatasync (f->journal_fd) < 0) {
    set_errno_error (error, errno, "cannot sync", f->journal_path);
    return FALSE;
  }
  if (f->journal_dir_unsynced) {
    if (!fsync_dir_of (f->journal_path, error))
      return FALSE;
    f->journal_dir_unsynced = FALSE;
  }
  f->journal_unsynced = FALSE;
  return TRUE;
}

gboolean
ms_sync_state_file_pair (MsSyncStateFile *f, guint32 far_uid, guint32 near_uid, MsFlags flags, GError **error)
{
  g_autofree char *letters = ms_flags_to_letters (flags);
  g_autofree char *line = g_strdup_printf ("+ %u %u %s\n", far_uid, near_uid, letters);
  if (!journal_write (f, line, error))
    return FALSE;
  ms_sync_state_add_pair (f->state, far_uid, near_uid, flags);
  return TRUE;
}

gboolean
ms_sync_state_file_set_flags (MsSyncStateFile *f, guint32 far_uid, guint32 near_uid, MsFlags flags,
                              GError **error)
{
  g_autofree char *letters = ms_flags_to_letters (flags);
  g_autofree char *line = g_strdup_printf ("= %u %u %s\n", far_uid, near_uid, letters);
  if (!journal_write (f, line, error))
    return FALSE;
  ms_sync_state_add_pair (f->state, far_uid, near_uid, flags);
  return TRUE;
}

gboolean
ms_sync_state_file_unpair (MsSyncStateFile *f, guint32 far_uid, guint32 near_uid, GError **error)
{
  g_autofree char *line = g_strdup_printf ("- %u %u\n", far_uid, near_uid);
  if (!journal_write (f, line, error))
    return FALSE;
  ms_sync_state_remove_pair (f->state, far_uid, near_uid);
  return TRUE;
}

/* Where format_pieces() writes a state file: the offset reached, or the
 * first error. */
typedef struct {
  int fd;
  goffset at;
  int error;
} FileSink;

static gboolean
emit_to_file (const char *text, gsize len, gpointer data)
{
  FileSink *sink = data;
  sink->error = ms_fd_pwrite_all (sink->fd, text, len, sink->at);
  sink->at += (goffset) len;
  return sink->error == 0;
}

/* Writes the state to path via path.new-ng, with fsync of the file and of the
 * directory when asked.  Not ".new": that is mbsync's name, and its
 * presence next to an mbsync journal means something to mbsync.
 *
 * The new file is swapped with the old one (RENAME_EXCHANGE), which is as
 * atomic as a rename over it, and the old one stays behind as path.new-ng
 * for the next commit to overwrite: no inode is created or freed (see
 * journal_write for why that matters).  Where the file system cannot swap,
 * or there is no old file yet, a plain rename. */
static gboolean
replace_state_file (const char *path, const MsSyncState *state, gboolean do_fsync, GError **error)
{
  g_autofree char *tmp = g_strconcat (path, ".new-ng", NULL);
  /* Overwritten, not truncated first: the blocks it has are reused. */
  int fd = open (tmp, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0) {
    set_errno_error (error, errno, "cannot write", tmp);
    return FALSE;
  }
  FileSink sink = { fd, 0, 0 };
  int e;
  if (format_pieces (state, emit_to_file, &sink)) {
    e = ms_fd_finish_and_close (fd, sink.at, do_fsync);
  } else {
    close (fd);
    e = sink.error;
  }
  if (e != 0) {
    unlink (tmp);
    set_errno_error (error, e, "writing", tmp);
    return FALSE;
  }
  int r = renameat2 (AT_FDCWD, tmp, AT_FDCWD, path, RENAME_EXCHANGE);
  if (r < 0 && (errno == ENOENT || errno == EINVAL || errno == ENOSYS))
    r = rename (tmp, path);
  if (r < 0) {
    e = errno;
    unlink (tmp);
    set_errno_error (error, e, "cannot commit", path);
    return FALSE;
  }
  return !do_fsync || fsync_dir_of (path, error);
}

/* Overwrites a small file in place (no new inode: see journal_write).
 * Only for the sidecar, which is not synced and whose loss or damage only
 * costs a wider listing (a file the parser cannot read means "unknown"). */
static gboolean
rewrite_file (const char *path, const char *text, GError **error)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0) {
    set_errno_error (error, errno, "cannot write", path);
    return FALSE;
  }
  int e = ms_fd_rewrite_and_close (fd, text, strlen (text), FALSE);
  if (e != 0) {
    set_errno_error (error, e, "writing", path);
    return FALSE;
  }
  return TRUE;
}

gboolean
ms_sync_state_file_commit (MsSyncStateFile *f, GError **error)
{
  g_return_val_if_fail (f != NULL, FALSE);
  g_autofree char *sidecar = ms_sync_state_format_sidecar (f->state);
  g_autofree char *sidecar_path = g_strconcat (f->path, ".sync_imap", NULL);

  ms_sync_step ();
  /* The state first, durably, and only then the journal goes: a journal
   * without its state would lose this run's pairs.  The sidecar after the
   * state: if a crash comes between them, the old sidecar describes the
   * server before this run, which only costs a wider listing next time (the
   * other order could make the next run skip a server it has not seen). */
  if (!replace_state_file (f->path, f->state, f->fsync, error) || !rewrite_file (sidecar_path, sidecar, error))
    return FALSE;
  /* Emptied (see journal_write); like the unlink it replaces, not synced:
   * a journal that survives a crash is replayed onto the state that
   * already holds it, which changes nothing. */
  int r = f->journal_fd >= 0 ? ftruncate (f->journal_fd, 0)
          : f->journal_had_entries ? truncate (f->journal_path, 0) : 0;
  if (f->journal_fd >= 0) {
    close (f->journal_fd);
    f->journal_fd = -1;
  }
  f->journal_unsynced = FALSE; /* nothing in it is needed any more */
  if (r < 0 && errno != ENOENT) {
    set_errno_error (error, errno, "cannot empty", f->journal_path);
    return FALSE;
  }
  f->journal_had_entries = FALSE;
  return fence_down (f, error);
}

void
ms_sync_state_file_close (MsSyncStateFile *f)
{
  if (f == NULL)
    return;
  if (f->journal_fd >= 0)
    close (f->journal_fd);
  close (f->lock_fd);
  ms_sync_state_free (f->state);
  g_free (f->path);
  g_free (f->journal_path);
  g_free (f);
}
