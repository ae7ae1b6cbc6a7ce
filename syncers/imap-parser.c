/* imap-parser.c — see imap-parser.h.
 *
 * The parser works a line at a time.  Bytes are collected up to the next LF
 * (at most MS_IMAP_LINE_MAX of them); a line that arrived whole in one feed
 * is parsed in place, without a copy.  A complete line is tokenised in one
 * go.  If it ends with a literal header "{N}", the parser switches to the
 * literal phase, which hands exactly N bytes to memory or to the sink, and
 * then collects the next line, which continues the same response where the
 * literal left it.  Since only literals cross line ends, no token is ever
 * half-parsed: the state that survives between lines is just the stack of
 * open lists, whether the next value needs a separating space first, and
 * whether we are inside a response code.  A response's grammar (tag,
 * condition, keyword, code, text) always fits on its first line, except for
 * the values inside lists and codes, which is where literals are allowed.
 *
 * Values under construction live on one stack, `pending`; each open list (a
 * frame) records where its items start.  Closing a list moves its items
 * into an exactly sized array owned by a new LIST value, which is pushed in
 * their place.  The root frame holds a data response's values; the code
 * frame holds the arguments of "[CODE args]".  Every string is copied into
 * an arena owned by the response; its blocks never move, so the pointers in
 * values (and the ones handed to the sink) stay valid while it grows.
 *
 * Deliberate leniencies, each harmless for a client:
 * - a bare LF ends a line (see the header);
 * - any run of spaces separates values, and spaces may follow "(" or end a
 *   line ("* SEARCH 1 2 \r\n"); but two values must
 *   be separated ("a"b is an error), except that a list may follow a list
 *   at once, as the grammar of NAMESPACE and multipart BODYSTRUCTURE says;
 * - "+" alone is a continuation; a status without text ("* OK",
 *   "A1 OK [READ-WRITE]") has the text "";
 * - bare tokens may contain '*', '%', '\\' and 8-bit bytes, so sequence sets
 *   ("1:*"), flags ("\Seen", "\*") and UTF-8 atoms are single ATOMs;
 * - '[' inside a bare token opens a bracketed part that may hold spaces,
 *   parentheses and quoted strings up to its ']', so
 *   BODY[HEADER.FIELDS (MESSAGE-ID)]<0> is one ATOM.  If no ']' follows on
 *   the line, '[' is an ordinary character (a mailbox may be called
 *   "foo[bar") and no later '[' on that line opens a section, which keeps
 *   the scan linear.  A literal inside a section is not supported;
 * - outside response codes ']' is an ordinary token character (ASTRING-CHAR
 *   allows it); inside a code it ends the code.
 */
#include "imap-parser.h"

#include <stdarg.h>
#include <string.h>

#include "ms-error.h"

/* ---- Values -------------------------------------------------------------- */

enum {
  VALUE_STREAMED = 1 << 0, /* LITERAL: the bytes went to the sink */
  VALUE_BINARY = 1 << 1,   /* LITERAL: a literal8 */
};

struct _MsImapValue {
  guint8 kind;
  guint8 flags;
  gsize len; /* bytes of str; items of a LIST; a LITERAL's size */
  union {
    char *str;           /* NUL-terminated, in the response's arena */
    MsImapValue *items;  /* LIST: owned array of len values */
  } u;
  guint64 number;        /* NUMBER: its value; LITERAL: its index */
};

static void
value_clear (MsImapValue *v)
{
  if (v->kind == MS_IMAP_VALUE_LIST) {
    for (gsize i = 0; i < v->len; i++)
      value_clear (&v->u.items[i]);
    g_free (v->u.items);
    v->u.items = NULL;
    v->len = 0;
  }
}

MsImapValueKind
ms_imap_value_get_kind (const MsImapValue *value)
{
  g_return_val_if_fail (value != NULL, MS_IMAP_VALUE_NIL);
  return value->kind;
}

const char *
ms_imap_value_get_bytes (const MsImapValue *value, gsize *len)
{
  g_return_val_if_fail (value != NULL, NULL);
  if (value->kind == MS_IMAP_VALUE_LIST || value->u.str == NULL)
    return NULL;
  if (len != NULL)
    *len = value->len;
  return value->u.str;
}

gboolean
ms_imap_value_get_number (const MsImapValue *value, guint64 *number)
{
  g_return_val_if_fail (value != NULL, FALSE);
  if (value->kind != MS_IMAP_VALUE_NUMBER)
    return FALSE;
  if (number != NULL)
    *number = value->number;
  return TRUE;
}

gboolean
ms_imap_value_is_nil (const MsImapValue *value)
{
  g_return_val_if_fail (value != NULL, FALSE);
  return value->kind == MS_IMAP_VALUE_NIL;
}

gboolean
ms_imap_value_is_atom (const MsImapValue *value, const char *name)
{
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  return value->kind == MS_IMAP_VALUE_ATOM && g_ascii_strcasecmp (value->u.str, name) == 0;
}

guint64
ms_imap_value_get_literal_size (const MsImapValue *value)
{
  g_return_val_if_fail (value != NULL, 0);
  return value->kind == MS_IMAP_VALUE_LITERAL ? value->len : 0;
}

gboolean
ms_imap_value_is_streamed (const MsImapValue *value)
{
  g_return_val_if_fail (value != NULL, FALSE);
  return value->kind == MS_IMAP_VALUE_LITERAL && (value->flags & VALUE_STREAMED);
}

gboolean
ms_imap_value_is_binary (const MsImapValue *value)
{
  g_return_val_if_fail (value != NULL, FALSE);
  return value->kind == MS_IMAP_VALUE_LITERAL && (value->flags & VALUE_BINARY);
}

guint
ms_imap_value_get_literal_index (const MsImapValue *value)
{
  g_return_val_if_fail (value != NULL, 0);
  return value->kind == MS_IMAP_VALUE_LITERAL ? (guint) value->number : 0;
}

guint
ms_imap_value_get_n_items (const MsImapValue *value)
{
  g_return_val_if_fail (value != NULL, 0);
  return value->kind == MS_IMAP_VALUE_LIST ? (guint) value->len : 0;
}

const MsImapValue *
ms_imap_value_get_item (const MsImapValue *value, guint index)
{
  g_return_val_if_fail (value != NULL, NULL);
  if (value->kind != MS_IMAP_VALUE_LIST || index >= value->len)
    return NULL;
  return &value->u.items[index];
}

const MsImapValue *
ms_imap_value_lookup (const MsImapValue *list, guint start, const char *name)
{
  g_return_val_if_fail (list != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  if (list->kind != MS_IMAP_VALUE_LIST)
    return NULL;
  for (gsize i = start; i + 1 < list->len; i += 2)
    if (ms_imap_value_is_atom (&list->u.items[i], name))
      return &list->u.items[i + 1];
  return NULL;
}

/* Appends bytes readably: printable ASCII as is, except that a quote and a
 * backslash are escaped when `quoting`; everything else as \xNN. */
static void
append_escaped (GString *out, const char *s, gsize len, gboolean quoting)
{
  for (gsize i = 0; i < len; i++) {
    guchar ch = (guchar) s[i];
    if (ch < 0x20 || ch >= 0x7f)
      g_string_append_printf (out, "\\x%02x", ch);
    else if (quoting && (ch == '"' || ch == '\\'))
      g_string_append_c (out, '\\'), g_string_append_c (out, (char) ch);
    else
      g_string_append_c (out, (char) ch);
  }
}

static void
append_value (GString *out, const MsImapValue *v)
{
  switch ((MsImapValueKind) v->kind) {
  case MS_IMAP_VALUE_ATOM:
  case MS_IMAP_VALUE_NUMBER:
  case MS_IMAP_VALUE_NIL:
    append_escaped (out, v->u.str, v->len, FALSE);
    break;
  case MS_IMAP_VALUE_STRING:
    g_string_append_c (out, '"');
    append_escaped (out, v->u.str, v->len, TRUE);
    g_string_append_c (out, '"');
    break;
  case MS_IMAP_VALUE_LITERAL:
    g_string_append_printf (out, "%s{%" G_GSIZE_FORMAT "}", (v->flags & VALUE_BINARY) ? "~" : "", v->len);
    if (v->flags & VALUE_STREAMED) {
      g_string_append_printf (out, "<streamed #%u>", (guint) v->number);
    } else {
      g_string_append_c (out, '"');
      append_escaped (out, v->u.str, v->len, TRUE);
      g_string_append_c (out, '"');
    }
    break;
  case MS_IMAP_VALUE_LIST:
    g_string_append_c (out, '(');
    for (gsize i = 0; i < v->len; i++) {
      if (i > 0)
        g_string_append_c (out, ' ');
      append_value (out, &v->u.items[i]);
    }
    g_string_append_c (out, ')');
    break;
  }
}

char *
ms_imap_value_to_string (const MsImapValue *value)
{
  g_return_val_if_fail (value != NULL, NULL);
  GString *out = g_string_new (NULL);
  append_value (out, value);
  return g_string_free (out, FALSE);
}

/* ---- The arena: one response's strings ----------------------------------- */

/* Blocks start small, since most responses are one short line, and double
 * up to a size where malloc overhead no longer matters.  A request larger
 * than half a block gets a block of its own. */
#define ARENA_FIRST_BLOCK 256
#define ARENA_MAX_BLOCK (64 * 1024)

typedef struct ArenaBlock {
  struct ArenaBlock *next;
  gsize size;
  gsize used;
  char data[];
} ArenaBlock;

typedef struct {
  ArenaBlock *head; /* the block being filled; private blocks follow it */
  gsize next_size;
  gsize total;      /* bytes handed out, for MS_IMAP_RESPONSE_BYTES_MAX */
} Arena;

static char *
arena_alloc (Arena *a, gsize len)
{
  if (a->head != NULL && a->head->size - a->head->used >= len) {
    char *p = a->head->data + a->head->used;
    a->head->used += len;
    a->total += len;
    return p;
  }
  if (a->next_size == 0)
    a->next_size = ARENA_FIRST_BLOCK;
  gsize size = len > a->next_size / 2 ? len : a->next_size;
  ArenaBlock *b = g_malloc (sizeof (ArenaBlock) + size);
  b->size = size;
  b->used = len;
  if (size == len && a->head != NULL) {
    /* A private block: keep filling the current one. */
    b->next = a->head->next;
    a->head->next = b;
  } else {
    b->next = a->head;
    a->head = b;
    a->next_size = MIN (a->next_size * 2, ARENA_MAX_BLOCK);
  }
  a->total += len;
  return b->data;
}

static void
arena_clear (Arena *a)
{
  while (a->head != NULL) {
    ArenaBlock *next = a->head->next;
    g_free (a->head);
    a->head = next;
  }
  a->total = 0;
  a->next_size = 0;
}

/* ---- Responses ------------------------------------------------------------ */

struct _MsImapResponse {
  MsImapResponseKind kind;
  MsImapCondition condition;
  gboolean has_number;
  guint64 number;
  char *tag;
  char *keyword;
  char *code;
  char *text;
  MsImapValue code_args; /* a LIST, meaningful only when code != NULL */
  MsImapValue data;      /* a LIST */
  Arena arena;
};

static MsImapResponse *
response_new (void)
{
  MsImapResponse *r = g_new0 (MsImapResponse, 1);
  r->code_args.kind = MS_IMAP_VALUE_LIST;
  r->data.kind = MS_IMAP_VALUE_LIST;
  return r;
}

void
ms_imap_response_free (MsImapResponse *response)
{
  if (response == NULL)
    return;
  value_clear (&response->code_args);
  value_clear (&response->data);
  arena_clear (&response->arena);
  g_free (response);
}

MsImapResponseKind
ms_imap_response_get_kind (const MsImapResponse *response)
{
  g_return_val_if_fail (response != NULL, MS_IMAP_RESPONSE_UNTAGGED);
  return response->kind;
}

const char *
ms_imap_response_get_tag (const MsImapResponse *response)
{
  g_return_val_if_fail (response != NULL, NULL);
  return response->tag;
}

MsImapCondition
ms_imap_response_get_condition (const MsImapResponse *response)
{
  g_return_val_if_fail (response != NULL, MS_IMAP_CONDITION_NONE);
  return response->condition;
}

gboolean
ms_imap_response_get_number (const MsImapResponse *response, guint64 *number)
{
  g_return_val_if_fail (response != NULL, FALSE);
  if (!response->has_number)
    return FALSE;
  if (number != NULL)
    *number = response->number;
  return TRUE;
}

const char *
ms_imap_response_get_keyword (const MsImapResponse *response)
{
  g_return_val_if_fail (response != NULL, NULL);
  return response->keyword;
}

const char *
ms_imap_response_get_code (const MsImapResponse *response)
{
  g_return_val_if_fail (response != NULL, NULL);
  return response->code;
}

const MsImapValue *
ms_imap_response_get_code_args (const MsImapResponse *response)
{
  g_return_val_if_fail (response != NULL, NULL);
  return response->code != NULL ? &response->code_args : NULL;
}

const char *
ms_imap_response_get_text (const MsImapResponse *response)
{
  g_return_val_if_fail (response != NULL, NULL);
  return response->text;
}

const MsImapValue *
ms_imap_response_get_data (const MsImapResponse *response)
{
  g_return_val_if_fail (response != NULL, NULL);
  return &response->data;
}

const MsImapValue *
ms_imap_response_get_fetch_attr (const MsImapResponse *response, const char *name)
{
  g_return_val_if_fail (response != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  if (response->kind != MS_IMAP_RESPONSE_UNTAGGED || !response->has_number
      || g_strcmp0 (response->keyword, "FETCH") != 0 || response->data.len < 1
      || response->data.u.items[0].kind != MS_IMAP_VALUE_LIST)
    return NULL;
  return ms_imap_value_lookup (&response->data.u.items[0], 0, name);
}

char *
ms_imap_response_to_string (const MsImapResponse *response)
{
  g_return_val_if_fail (response != NULL, NULL);
  GString *out = g_string_new (NULL);

  switch (response->kind) {
  case MS_IMAP_RESPONSE_TAGGED:
    g_string_append (out, response->tag);
    break;
  case MS_IMAP_RESPONSE_UNTAGGED:
    g_string_append_c (out, '*');
    break;
  case MS_IMAP_RESPONSE_CONTINUATION:
    g_string_append_c (out, '+');
    break;
  }
  if (response->has_number)
    g_string_append_printf (out, " %" G_GUINT64_FORMAT, response->number);
  if (response->keyword != NULL)
    g_string_append_printf (out, " %s", response->keyword);
  for (gsize i = 0; i < response->data.len; i++) {
    g_string_append_c (out, ' ');
    append_value (out, &response->data.u.items[i]);
  }
  if (response->code != NULL) {
    g_string_append_printf (out, " [%s", response->code);
    for (gsize i = 0; i < response->code_args.len; i++) {
      g_string_append_c (out, ' ');
      append_value (out, &response->code_args.u.items[i]);
    }
    g_string_append_c (out, ']');
  }
  if (response->text != NULL && response->text[0] != '\0') {
    g_string_append_c (out, ' ');
    append_escaped (out, response->text, strlen (response->text), FALSE);
  }
  return g_string_free (out, FALSE);
}

/* ---- Errors ---------------------------------------------------------------- */

/* Bytes shown before and after the offending byte in an error message:
 * enough to recognise the response, short enough that a log line does not
 * carry much of a message's content. */
#define CONTEXT_BEFORE 24
#define CONTEXT_AFTER 16

/* Sets *error to "WHAT (at WHERE OFFSET, near "CONTEXT")", where the context
 * is s[0 .. n) around index i. */
static void G_GNUC_PRINTF (8, 0)
set_error_va (GError **error, gint code, const char *where, gsize offset, const char *s, gsize n,
              gsize i, const char *fmt, va_list ap)
{
  g_autofree char *what = g_strdup_vprintf (fmt, ap);
  g_autoptr (GString) near = g_string_new (NULL);
  gsize from = i > CONTEXT_BEFORE ? i - CONTEXT_BEFORE : 0;
  gsize to = MIN (n, i + CONTEXT_AFTER);

  if (from < to)
    append_escaped (near, s + from, to - from, TRUE);
  g_set_error (error, MS_ERROR, code, "%s (at %s %" G_GSIZE_FORMAT ", near \"%s\")", what, where,
               offset, near->str);
}

/* ---- Sequence sets ----------------------------------------------------------- */

static gboolean G_GNUC_PRINTF (6, 7)
seq_fail (GError **error, gint code, const char *s, gsize n, gsize i, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  set_error_va (error, code, "offset", i, s, n, i, fmt, ap);
  va_end (ap);
  return FALSE;
}

static gboolean
seq_number (const char *s, gsize n, gsize *i, guint32 star, guint32 *out, GError **error)
{
  if (*i < n && s[*i] == '*') {
    (*i)++;
    *out = star;
    return TRUE;
  }
  gsize start = *i;
  guint64 v = 0;
  while (*i < n && g_ascii_isdigit (s[*i])) {
    v = v * 10 + (guint64) (s[*i] - '0');
    if (v > G_MAXUINT32)
      return seq_fail (error, MS_ERROR_PROTOCOL, s, n, start,
                       "sequence number larger than %u in sequence set", G_MAXUINT32);
    (*i)++;
  }
  if (*i == start)
    return seq_fail (error, MS_ERROR_PROTOCOL, s, n, start,
                     "expected a number or '*' in sequence set");
  if (v == 0)
    return seq_fail (error, MS_ERROR_PROTOCOL, s, n, start, "sequence number 0 in sequence set");
  *out = (guint32) v;
  return TRUE;
}

gboolean
ms_imap_seq_set_parse (const char *text, gsize len, guint32 star, GArray **ranges, GError **error)
{
  g_return_val_if_fail (text != NULL || len == 0, FALSE);
  g_return_val_if_fail (star >= 1, FALSE);
  g_return_val_if_fail (ranges != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (MsImapRange));
  gsize i = 0;

  if (len == 0) {
    g_set_error_literal (error, MS_ERROR, MS_ERROR_PROTOCOL, "empty sequence set");
    return FALSE;
  }
  for (;;) {
    gsize start = i;
    guint32 a, b;
    if (!seq_number (text, len, &i, star, &a, error))
      return FALSE;
    b = a;
    if (i < len && text[i] == ':') {
      i++;
      if (!seq_number (text, len, &i, star, &b, error))
        return FALSE;
    }
    if (out->len >= MS_IMAP_SEQ_SET_RANGES_MAX)
      return seq_fail (error, MS_ERROR_LIMIT, text, len, start, "more than %u ranges in a sequence set",
                       (guint) MS_IMAP_SEQ_SET_RANGES_MAX);
    MsImapRange r = { MIN (a, b), MAX (a, b) };
    g_array_append_val (out, r);
    if (i == len)
      break;
    if (text[i] != ',')
      return seq_fail (error, MS_ERROR_PROTOCOL, text, len, i,
                       "expected ',' or ':' in sequence set");
    i++;
  }
  *ranges = g_steal_pointer (&out);
  return TRUE;
}

gboolean
ms_imap_value_get_seq_set (const MsImapValue *value, guint32 star, GArray **ranges, GError **error)
{
  g_return_val_if_fail (value != NULL, FALSE);
  if (value->kind != MS_IMAP_VALUE_ATOM && value->kind != MS_IMAP_VALUE_NUMBER) {
    static const char *const kinds[] = {
      [MS_IMAP_VALUE_STRING] = "a quoted string",
      [MS_IMAP_VALUE_LITERAL] = "a literal",
      [MS_IMAP_VALUE_NIL] = "NIL",
      [MS_IMAP_VALUE_LIST] = "a list",
    };
    g_set_error (error, MS_ERROR, MS_ERROR_PROTOCOL, "expected a sequence set, got %s", kinds[value->kind]);
    return FALSE;
  }
  return ms_imap_seq_set_parse (value->u.str, value->len, star, ranges, error);
}

/* ---- The parser ---------------------------------------------------------------- */

typedef enum {
  FRAME_ROOT, /* a data response's values */
  FRAME_CODE, /* the arguments of [CODE args] */
  FRAME_LIST, /* ( ... ) */
} FrameKind;

typedef struct {
  FrameKind kind;
  guint start;     /* index in pending of the frame's first item */
  gsize opened_at; /* response byte offset of its '(' or '[', for errors */
} Frame;

typedef enum {
  PHASE_LINE,    /* collecting a line */
  PHASE_LITERAL, /* passing literal bytes on */
} Phase;

/* A line buffer that had to grow beyond this is freed after use rather
 * than kept for the next line, so one huge line does not pin memory for the
 * life of the connection. */
#define LINE_BUFFER_KEEP (64 * 1024)
/* Likewise for the stack of values under construction, in values. */
#define PENDING_KEEP 4096

struct _MsImapParser {
  Phase phase;
  gboolean failed;
  gboolean in_callback;

  GByteArray *line;    /* the start of a line that arrived in pieces */
  gsize line_peak;     /* the most it held since it was last allocated */
  gsize resp_off;      /* bytes of this response before the current line */

  MsImapResponse *resp; /* the response being parsed, or NULL between them */
  GArray *pending;      /* MsImapValue: items of the open frames */
  guint pending_peak;   /* the most it held since it was last allocated */
  Frame frames[MS_IMAP_DEPTH_MAX + 2]; /* root or code, then lists */
  guint n_frames;
  guint depth;          /* FRAME_LIST frames */
  gboolean need_sep;    /* a value was just completed: a space or a closer must follow */
  gboolean after_list;  /* ... and it was a list, which another list may follow at once */
  gboolean in_code;
  guint n_values;
  guint n_literals;

  /* The literal being read. */
  guint64 lit_remaining;
  char *lit_dest;       /* where the next in-memory byte goes; NULL if streamed */
  gboolean lit_streamed;
  MsImapLiteralSink lit_sink; /* the sink as it was when the literal began */
  gpointer lit_sink_data;

  MsImapLiteralSink sink;
  gpointer sink_data;
};

MsImapParser *
ms_imap_parser_new (void)
{
  MsImapParser *p = g_new0 (MsImapParser, 1);
  p->line = g_byte_array_new ();
  p->pending = g_array_new (FALSE, FALSE, sizeof (MsImapValue));
  return p;
}

static void
line_clear (MsImapParser *p)
{
  if (p->line_peak > LINE_BUFFER_KEEP) {
    g_byte_array_unref (p->line);
    p->line = g_byte_array_new ();
    p->line_peak = 0;
  } else {
    g_byte_array_set_size (p->line, 0);
  }
}

static void
line_append (MsImapParser *p, const char *data, gsize len)
{
  g_byte_array_append (p->line, (const guint8 *) data, (guint) len);
  p->line_peak = MAX (p->line_peak, p->line->len);
}

/* Drops the partial response: everything but the sink. */
static void
parser_clear (MsImapParser *p)
{
  for (guint i = 0; i < p->pending->len; i++)
    value_clear (&g_array_index (p->pending, MsImapValue, i));
  if (p->pending_peak > PENDING_KEEP) {
    g_array_unref (p->pending);
    p->pending = g_array_new (FALSE, FALSE, sizeof (MsImapValue));
    p->pending_peak = 0;
  } else {
    g_array_set_size (p->pending, 0);
  }
  line_clear (p);
  g_clear_pointer (&p->resp, ms_imap_response_free);
  p->phase = PHASE_LINE;
  p->failed = FALSE;
  p->resp_off = 0;
  p->n_frames = 0;
  p->depth = 0;
  p->need_sep = FALSE;
  p->after_list = FALSE;
  p->in_code = FALSE;
  p->n_values = 0;
  p->n_literals = 0;
  p->lit_remaining = 0;
  p->lit_dest = NULL;
  p->lit_streamed = FALSE;
}

void
ms_imap_parser_free (MsImapParser *parser)
{
  if (parser == NULL)
    return;
  g_return_if_fail (!parser->in_callback);
  parser_clear (parser);
  g_array_unref (parser->pending);
  g_byte_array_unref (parser->line);
  g_free (parser);
}

void
ms_imap_parser_reset (MsImapParser *parser)
{
  g_return_if_fail (parser != NULL);
  g_return_if_fail (!parser->in_callback);
  parser_clear (parser);
}

void
ms_imap_parser_set_literal_sink (MsImapParser *parser, const MsImapLiteralSink *sink,
                                 gpointer user_data)
{
  g_return_if_fail (parser != NULL);
  g_return_if_fail (!parser->in_callback);
  if (sink != NULL)
    parser->sink = *sink;
  else
    memset (&parser->sink, 0, sizeof parser->sink);
  parser->sink_data = user_data;
}

/* One complete line being parsed: s[0 .. n), cursor i. */
typedef struct {
  MsImapParser *p;
  const char *s;
  gsize n;
  gsize i;
  gboolean no_sections; /* a '[' on this line found no ']': no more sections */
  GError **error;
} Cur;

typedef enum {
  LINE_DONE,    /* the response is complete */
  LINE_LITERAL, /* a literal follows */
  LINE_ERROR,
} LineResult;

/* Fails at c->s[at]. Always returns FALSE. */
static gboolean G_GNUC_PRINTF (4, 5)
fail_at (Cur *c, gsize at, gint code, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  set_error_va (c->error, code, "byte", c->p->resp_off + at, c->s, c->n, at, fmt, ap);
  va_end (ap);
  return FALSE;
}

/* Describes the byte at s[i] (or the line end) for an error message. */
static const char *
describe (const Cur *c, gsize i, char buf[static 16])
{
  if (i >= c->n)
    return "end of line";
  guchar ch = (guchar) c->s[i];
  if (ch > 0x20 && ch < 0x7f && ch != '\'')
    g_snprintf (buf, 16, "'%c'", ch);
  else
    g_snprintf (buf, 16, "byte 0x%02x", ch);
  return buf;
}

/* RFC 9051 ATOM-CHAR: CHAR except atom-specials and CTLs. */
static gboolean
is_atom_char (guchar ch)
{
  if (ch <= 0x20 || ch >= 0x7f)
    return FALSE;
  return strchr ("(){%*\"\\]", ch) == NULL;
}

/* A character of a bare value token (lenient, see the top of the file). */
static gboolean
is_token_char (guchar ch, gboolean in_code)
{
  if (ch <= 0x20 || ch == 0x7f)
    return FALSE;
  switch (ch) {
  case '(':
  case ')':
  case '{':
  case '"':
    return FALSE;
  case ']':
    return !in_code;
  default:
    return TRUE;
  }
}

static char *
copy_text (Cur *c, gsize at, const char *s, gsize len)
{
  MsImapParser *p = c->p;
  if (len + 1 > MS_IMAP_RESPONSE_BYTES_MAX - p->resp->arena.total) {
    fail_at (c, at, MS_ERROR_LIMIT, "more than %u bytes of text in one response",
             MS_IMAP_RESPONSE_BYTES_MAX);
    return NULL;
  }
  char *dst = arena_alloc (&p->resp->arena, len + 1);
  memcpy (dst, s, len);
  dst[len] = '\0';
  return dst;
}

static char *
copy_upper (Cur *c, gsize at, gsize len)
{
  char *dst = copy_text (c, at, c->s + at, len);
  if (dst != NULL)
    for (gsize i = 0; i < len; i++)
      dst[i] = g_ascii_toupper (dst[i]);
  return dst;
}

static gboolean
count_value (Cur *c, gsize at)
{
  if (c->p->n_values >= MS_IMAP_VALUES_MAX)
    return fail_at (c, at, MS_ERROR_LIMIT, "more than %u values in one response", MS_IMAP_VALUES_MAX);
  c->p->n_values++;
  return TRUE;
}

static gsize
scan_atom_chars (const Cur *c, gsize i)
{
  while (i < c->n && is_atom_char ((guchar) c->s[i]) && c->s[i] != '[')
    i++;
  return i;
}

/* Index of the ']' closing the section that opens at s[i] == '[', or 0 if
 * there is none on this line. */
static gsize
scan_section (const Cur *c, gsize i)
{
  for (gsize j = i + 1; j < c->n; j++) {
    guchar ch = (guchar) c->s[j];
    if (ch == ']')
      return j;
    if (ch == '"') {
      for (j++; j < c->n && c->s[j] != '"'; j++)
        if (c->s[j] == '\\')
          j++;
      if (j >= c->n)
        return 0;
    } else if (ch < 0x20 || ch == 0x7f) {
      return 0;
    }
  }
  return 0;
}

/* End of the bare token starting at c->i. */
static gsize
scan_token (Cur *c)
{
  gsize i = c->i;
  while (i < c->n) {
    guchar ch = (guchar) c->s[i];
    if (ch == '[' && !c->p->in_code && !c->no_sections) {
      gsize close = scan_section (c, i);
      if (close != 0) {
        i = close + 1;
        continue;
      }
      c->no_sections = TRUE;
    }
    if (!is_token_char (ch, c->p->in_code))
      break;
    i++;
  }
  return i;
}

static gboolean
push_value (Cur *c, const MsImapValue *v)
{
  g_array_append_vals (c->p->pending, v, 1);
  c->p->pending_peak = MAX (c->p->pending_peak, c->p->pending->len);
  c->p->need_sep = TRUE;
  c->p->after_list = FALSE;
  return TRUE;
}

static gboolean
parse_bare (Cur *c)
{
  gsize start = c->i, end = scan_token (c), len = end - start;
  MsImapValue v = { .kind = MS_IMAP_VALUE_ATOM };
  char buf[16];

  if (len == 0)
    return fail_at (c, start, MS_ERROR_PROTOCOL, "unexpected %s", describe (c, start, buf));
  if (!count_value (c, start))
    return FALSE;
  if (len == 3 && g_ascii_strncasecmp (c->s + start, "NIL", 3) == 0) {
    v.kind = MS_IMAP_VALUE_NIL;
  } else if (len <= 20) {
    guint64 n = 0;
    gsize i;
    for (i = start; i < end && g_ascii_isdigit (c->s[i]); i++) {
      guint d = (guint) (c->s[i] - '0');
      if (n > (G_MAXUINT64 - d) / 10)
        break;
      n = n * 10 + d;
    }
    if (i == end) {
      v.kind = MS_IMAP_VALUE_NUMBER;
      v.number = n;
    }
  }
  v.len = len;
  v.u.str = copy_text (c, start, c->s + start, len);
  if (v.u.str == NULL)
    return FALSE;
  c->i = end;
  return push_value (c, &v);
}

static gboolean
parse_quoted (Cur *c)
{
  gsize open = c->i, j = open + 1, escapes = 0;

  for (;;) {
    if (j >= c->n)
      return fail_at (c, open, MS_ERROR_PROTOCOL, "unterminated quoted string");
    guchar ch = (guchar) c->s[j];
    if (ch == '"')
      break;
    if (ch == '\\') {
      escapes++;
      if (++j >= c->n)
        continue;
      ch = (guchar) c->s[j];
    }
    if (ch == '\0' || ch == '\r')
      return fail_at (c, j, MS_ERROR_PROTOCOL, "%s in quoted string", ch ? "CR" : "NUL");
    j++;
  }
  if (!count_value (c, open))
    return FALSE;

  MsImapValue v = { .kind = MS_IMAP_VALUE_STRING, .len = j - open - 1 - escapes };
  v.u.str = copy_text (c, open, c->s + open + 1, j - open - 1);
  if (v.u.str == NULL)
    return FALSE;
  /* Unescape in place; the result is never longer. */
  gsize w = 0;
  for (gsize r = 0; r < j - open - 1; r++) {
    if (v.u.str[r] == '\\')
      r++;
    v.u.str[w++] = v.u.str[r];
  }
  v.u.str[w] = '\0';
  c->i = j + 1;
  return push_value (c, &v);
}

/* A literal header "{N}", "{N+}" or "~{N}" at c->i, which must end the line. */
static gboolean
parse_literal (Cur *c)
{
  MsImapParser *p = c->p;
  gsize open = c->i;
  gboolean binary = c->s[open] == '~';
  gsize j = open + (binary ? 2 : 1), digits = j;
  guint64 size = 0;
  gboolean too_big = FALSE;
  char buf[16];

  for (; j < c->n && g_ascii_isdigit (c->s[j]); j++) {
    guint d = (guint) (c->s[j] - '0');
    if (size > (G_MAXUINT64 - d) / 10)
      too_big = TRUE;
    else
      size = size * 10 + d;
  }
  if (j == digits)
    return fail_at (c, j, MS_ERROR_PROTOCOL, "expected the literal size, got %s", describe (c, j, buf));
  if (j < c->n && c->s[j] == '+')
    j++;
  if (j >= c->n || c->s[j] != '}')
    return fail_at (c, j, MS_ERROR_PROTOCOL, "expected '}' after the literal size, got %s",
                    describe (c, j, buf));
  if (j + 1 != c->n)
    return fail_at (c, j + 1, MS_ERROR_PROTOCOL, "expected the end of line after a literal header, got %s",
                    describe (c, j + 1, buf));
  if (too_big || size > MS_IMAP_LITERAL_MAX)
    return fail_at (c, open, MS_ERROR_LIMIT, "literal of %.*s bytes is larger than the limit of %u bytes",
                    (int) MIN (j - digits, 24), c->s + digits, MS_IMAP_LITERAL_MAX);
  if (!count_value (c, open))
    return FALSE;

  MsImapLiteralInfo info = {
    .size = size,
    .index = p->n_literals,
    .binary = binary,
    .keyword = p->in_code ? NULL : p->resp->keyword,
    .has_number = p->resp->has_number,
    .number = p->resp->number,
  };
  const Frame *top = &p->frames[p->n_frames - 1];
  if (p->pending->len > top->start) {
    const MsImapValue *prev = &g_array_index (p->pending, MsImapValue, p->pending->len - 1);
    if (prev->kind == MS_IMAP_VALUE_ATOM)
      info.attribute = prev->u.str;
  }
  gboolean streamed = FALSE;
  if (p->sink.begin != NULL) {
    p->in_callback = TRUE;
    streamed = p->sink.begin (&info, p->sink_data);
    p->in_callback = FALSE;
  }

  MsImapValue v = {
    .kind = MS_IMAP_VALUE_LITERAL,
    .flags = (guint8) ((streamed ? VALUE_STREAMED : 0) | (binary ? VALUE_BINARY : 0)),
    .len = size,
    .number = p->n_literals,
  };
  if (!streamed) {
    if (size > MS_IMAP_INLINE_LITERAL_MAX)
      return fail_at (c, open, MS_ERROR_LIMIT,
                      "literal of %" G_GUINT64_FORMAT " bytes is larger than the in-memory limit of %u bytes and is not streamed",
                      size, MS_IMAP_INLINE_LITERAL_MAX);
    if (size + 1 > MS_IMAP_RESPONSE_BYTES_MAX - p->resp->arena.total)
      return fail_at (c, open, MS_ERROR_LIMIT, "more than %u bytes of text in one response",
                      MS_IMAP_RESPONSE_BYTES_MAX);
    v.u.str = arena_alloc (&p->resp->arena, size + 1);
    v.u.str[size] = '\0';
  }
  p->n_literals++;
  p->lit_remaining = size;
  p->lit_dest = v.u.str;
  p->lit_streamed = streamed;
  p->lit_sink = p->sink;
  p->lit_sink_data = p->sink_data;
  c->i = c->n;
  return push_value (c, &v);
}

static void
push_frame (MsImapParser *p, FrameKind kind, gsize opened_at)
{
  Frame *f = &p->frames[p->n_frames++];
  f->kind = kind;
  f->start = p->pending->len;
  f->opened_at = opened_at;
  if (kind == FRAME_LIST)
    p->depth++;
  p->need_sep = FALSE;
  p->after_list = FALSE;
}

/* Pops the top frame into *list (a LIST value owning its items). */
static void
pop_frame (MsImapParser *p, MsImapValue *list)
{
  Frame *f = &p->frames[--p->n_frames];
  gsize n = p->pending->len - f->start;

  list->kind = MS_IMAP_VALUE_LIST;
  list->len = n;
  list->u.items = n ? g_memdup2 (&g_array_index (p->pending, MsImapValue, f->start), n * sizeof (MsImapValue))
                    : NULL;
  g_array_set_size (p->pending, f->start);
  if (f->kind == FRAME_LIST)
    p->depth--;
  p->need_sep = TRUE;
}

/* The human-readable text that ends a status response or continuation. */
static LineResult
parse_text (Cur *c)
{
  for (gsize j = c->i; j < c->n; j++)
    if (c->s[j] == '\0' || c->s[j] == '\r') {
      fail_at (c, j, MS_ERROR_PROTOCOL, "%s in response text", c->s[j] ? "CR" : "NUL");
      return LINE_ERROR;
    }
  c->p->resp->text = copy_text (c, c->i, c->s + c->i, c->n - c->i);
  return c->p->resp->text != NULL ? LINE_DONE : LINE_ERROR;
}

static LineResult parse_values (Cur *c);

/* resp-text: an optional "[CODE args]", then text.  c->i is past the space
 * that follows the condition or "+". */
static LineResult
parse_resp_text (Cur *c)
{
  MsImapParser *p = c->p;
  char buf[16];

  if (c->i >= c->n || c->s[c->i] != '[')
    return parse_text (c);

  gsize open = c->i++;
  gsize end = scan_atom_chars (c, c->i);
  if (end == c->i) {
    fail_at (c, c->i, MS_ERROR_PROTOCOL, "expected a response code after '[', got %s",
             describe (c, c->i, buf));
    return LINE_ERROR;
  }
  p->resp->code = copy_upper (c, c->i, end - c->i);
  if (p->resp->code == NULL)
    return LINE_ERROR;
  c->i = end;
  if (c->i < c->n && c->s[c->i] == ']') {
    c->i++;
    if (c->i < c->n && c->s[c->i] == ' ')
      c->i++;
    return parse_text (c);
  }
  if (c->i >= c->n || c->s[c->i] != ' ') {
    fail_at (c, c->i, MS_ERROR_PROTOCOL, "expected ' ' or ']' after the response code, got %s",
             describe (c, c->i, buf));
    return LINE_ERROR;
  }
  c->i++;
  push_frame (p, FRAME_CODE, p->resp_off + open);
  p->in_code = TRUE;
  return parse_values (c);
}

/* Values until the line ends, a literal header ends it, or ']' closes the
 * response code. */
static LineResult
parse_values (Cur *c)
{
  MsImapParser *p = c->p;
  char buf[16];

  for (;;) {
    Frame *top = &p->frames[p->n_frames - 1];

    if (c->i >= c->n) {
      if (top->kind == FRAME_ROOT)
        return LINE_DONE;
      fail_at (c, c->i, MS_ERROR_PROTOCOL, "end of line inside the %s opened at byte %" G_GSIZE_FORMAT,
               top->kind == FRAME_LIST ? "list" : "response code", top->opened_at);
      return LINE_ERROR;
    }

    guchar ch = (guchar) c->s[c->i];
    if (ch == ' ') {
      c->i++;
      p->need_sep = FALSE;
      p->after_list = FALSE;
      continue;
    }
    if (ch < 0x20 || ch == 0x7f) {
      fail_at (c, c->i, MS_ERROR_PROTOCOL, "unexpected %s", describe (c, c->i, buf));
      return LINE_ERROR;
    }
    if (ch == ')') {
      if (top->kind != FRAME_LIST) {
        fail_at (c, c->i, MS_ERROR_PROTOCOL, "unexpected ')'");
        return LINE_ERROR;
      }
      MsImapValue list;
      pop_frame (p, &list);
      g_array_append_val (p->pending, list);
      p->after_list = TRUE;
      c->i++;
      continue;
    }
    if (ch == ']' && p->in_code) {
      if (top->kind != FRAME_CODE) {
        fail_at (c, c->i, MS_ERROR_PROTOCOL, "unexpected ']' inside the list opened at byte %" G_GSIZE_FORMAT,
                 top->opened_at);
        return LINE_ERROR;
      }
      pop_frame (p, &p->resp->code_args);
      p->in_code = FALSE;
      c->i++;
      if (c->i < c->n && c->s[c->i] == ' ')
        c->i++;
      return parse_text (c);
    }
    if (p->need_sep && !(ch == '(' && p->after_list)) {
      fail_at (c, c->i, MS_ERROR_PROTOCOL, "expected a space before %s", describe (c, c->i, buf));
      return LINE_ERROR;
    }

    gboolean ok;
    if (ch == '(') {
      if (p->depth >= MS_IMAP_DEPTH_MAX) {
        fail_at (c, c->i, MS_ERROR_LIMIT, "lists nested deeper than %d levels", MS_IMAP_DEPTH_MAX);
        return LINE_ERROR;
      }
      ok = count_value (c, c->i);
      if (ok) {
        push_frame (p, FRAME_LIST, p->resp_off + c->i);
        c->i++;
      }
    } else if (ch == '"') {
      ok = parse_quoted (c);
    } else if (ch == '{' || (ch == '~' && c->i + 1 < c->n && c->s[c->i + 1] == '{')) {
      if (!parse_literal (c))
        return LINE_ERROR;
      return LINE_LITERAL;
    } else {
      ok = parse_bare (c);
    }
    if (!ok)
      return LINE_ERROR;
  }
}

static gboolean
all_digits (const char *s, gsize len)
{
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isdigit (s[i]))
      return FALSE;
  return len > 0;
}

static MsImapCondition
condition_from (const char *word)
{
  static const char *const names[] = { "OK", "NO", "BAD", "BYE", "PREAUTH" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (strcmp (word, names[i]) == 0)
      return (MsImapCondition) (MS_IMAP_CONDITION_OK + i);
  return MS_IMAP_CONDITION_NONE;
}

/* The first line of a response: what kind it is, then its values or text. */
static LineResult
parse_start (Cur *c)
{
  MsImapParser *p = c->p;
  MsImapResponse *r = p->resp = response_new ();
  char buf[16];
  gsize end;

  push_frame (p, FRAME_ROOT, 0);
  if (c->n == 0) {
    fail_at (c, 0, MS_ERROR_PROTOCOL, "empty response line");
    return LINE_ERROR;
  }

  if (c->s[0] == '+') {
    r->kind = MS_IMAP_RESPONSE_CONTINUATION;
    c->i = 1;
    if (c->i < c->n) {
      if (c->s[c->i] != ' ') {
        fail_at (c, c->i, MS_ERROR_PROTOCOL, "expected a space after '+', got %s", describe (c, c->i, buf));
        return LINE_ERROR;
      }
      c->i++;
    }
    return parse_resp_text (c);
  }

  if (c->s[0] == '*') {
    r->kind = MS_IMAP_RESPONSE_UNTAGGED;
    if (c->n < 2 || c->s[1] != ' ') {
      fail_at (c, 1, MS_ERROR_PROTOCOL, "expected a space after '*', got %s", describe (c, 1, buf));
      return LINE_ERROR;
    }
    c->i = 2;
    end = scan_atom_chars (c, c->i);
    if (end > c->i && all_digits (c->s + c->i, end - c->i)) {
      guint64 n = 0;
      for (gsize i = c->i; i < end; i++) {
        guint d = (guint) (c->s[i] - '0');
        if (n > (G_MAXUINT64 - d) / 10) {
          fail_at (c, c->i, MS_ERROR_PROTOCOL, "number too large");
          return LINE_ERROR;
        }
        n = n * 10 + d;
      }
      r->has_number = TRUE;
      r->number = n;
      if (end >= c->n || c->s[end] != ' ') {
        fail_at (c, end, MS_ERROR_PROTOCOL, "expected a space after the number, got %s", describe (c, end, buf));
        return LINE_ERROR;
      }
      c->i = end + 1;
      end = scan_atom_chars (c, c->i);
    }
    if (end == c->i || all_digits (c->s + c->i, end - c->i)) {
      fail_at (c, c->i, MS_ERROR_PROTOCOL, "expected a response keyword, got %s", describe (c, c->i, buf));
      return LINE_ERROR;
    }
  } else {
    r->kind = MS_IMAP_RESPONSE_TAGGED;
    end = 0;
    while (end < c->n && c->s[end] != '+' && (is_atom_char ((guchar) c->s[end]) || c->s[end] == ']'))
      end++;
    if (end == 0) {
      fail_at (c, 0, MS_ERROR_PROTOCOL, "expected '*', '+' or a tag, got %s", describe (c, 0, buf));
      return LINE_ERROR;
    }
    if (end >= c->n || c->s[end] != ' ') {
      fail_at (c, end, MS_ERROR_PROTOCOL, "expected a space after the tag, got %s", describe (c, end, buf));
      return LINE_ERROR;
    }
    r->tag = copy_text (c, 0, c->s, end);
    if (r->tag == NULL)
      return LINE_ERROR;
    c->i = end + 1;
    end = scan_atom_chars (c, c->i);
  }

  r->keyword = copy_upper (c, c->i, end - c->i);
  if (r->keyword == NULL)
    return LINE_ERROR;
  if (!r->has_number)
    r->condition = condition_from (r->keyword);
  if (r->kind == MS_IMAP_RESPONSE_TAGGED && (r->condition == MS_IMAP_CONDITION_NONE
                                             || r->condition == MS_IMAP_CONDITION_BYE
                                             || r->condition == MS_IMAP_CONDITION_PREAUTH)) {
    fail_at (c, c->i, MS_ERROR_PROTOCOL, "expected OK, NO or BAD after the tag");
    return LINE_ERROR;
  }
  if (end < c->n && c->s[end] != ' ') {
    fail_at (c, end, MS_ERROR_PROTOCOL, "expected a space after the response keyword, got %s",
             describe (c, end, buf));
    return LINE_ERROR;
  }
  c->i = MIN (end + 1, c->n);
  if (r->condition != MS_IMAP_CONDITION_NONE)
    return parse_resp_text (c);
  return parse_values (c);
}

/* Parses one complete line (without its line end). */
static LineResult
parse_line (MsImapParser *p, const char *s, gsize n, GError **error)
{
  Cur c = { .p = p, .s = s, .n = n, .error = error };

  if (p->resp == NULL)
    return parse_start (&c);
  return parse_values (&c);
}

/* Moves the root frame's values into the response and hands it out. */
static MsImapResponse *
finish_response (MsImapParser *p)
{
  MsImapResponse *r = g_steal_pointer (&p->resp);

  g_assert (p->n_frames == 1 && p->frames[0].kind == FRAME_ROOT && p->frames[0].start == 0);
  if (p->pending->len > PENDING_KEEP) {
    /* Hand the whole stack over instead of copying it; parser_clear()
     * gives the next response a fresh, small one. */
    guint n = p->pending->len;
    r->data.len = n;
    r->data.u.items = g_renew (MsImapValue, g_array_steal (p->pending, NULL), n);
    p->n_frames = 0;
  } else {
    pop_frame (p, &r->data);
  }
  parser_clear (p);
  return r;
}

static void
finish_literal (MsImapParser *p)
{
  p->phase = PHASE_LINE;
  p->lit_dest = NULL;
  if (p->lit_streamed && p->lit_sink.end != NULL) {
    p->in_callback = TRUE;
    p->lit_sink.end (p->lit_sink_data);
    p->in_callback = FALSE;
  }
  p->lit_streamed = FALSE;
}

static MsImapParseResult
line_too_long (MsImapParser *p, GError **error)
{
  g_set_error (error, MS_ERROR, MS_ERROR_LIMIT, "line longer than %u bytes (at byte %" G_GSIZE_FORMAT ")",
               MS_IMAP_LINE_MAX, p->resp_off + MS_IMAP_LINE_MAX);
  p->failed = TRUE;
  return MS_IMAP_ERROR;
}

MsImapParseResult
ms_imap_parser_feed (MsImapParser *parser, const char *data, gsize len, gsize *consumed,
                     MsImapResponse **response, GError **error)
{
  MsImapParser *p = parser;
  gsize pos = 0;

  g_return_val_if_fail (p != NULL, MS_IMAP_ERROR);
  g_return_val_if_fail (!p->failed, MS_IMAP_ERROR);
  g_return_val_if_fail (!p->in_callback, MS_IMAP_ERROR);
  g_return_val_if_fail (data != NULL || len == 0, MS_IMAP_ERROR);
  g_return_val_if_fail (consumed != NULL && response != NULL, MS_IMAP_ERROR);
  g_return_val_if_fail (error == NULL || *error == NULL, MS_IMAP_ERROR);

  while (pos < len) {
    if (p->phase == PHASE_LITERAL) {
      gsize n = (gsize) MIN (p->lit_remaining, (guint64) (len - pos));
      if (!p->lit_streamed) {
        memcpy (p->lit_dest, data + pos, n);
        p->lit_dest += n;
      } else if (p->lit_sink.data != NULL) {
        p->in_callback = TRUE;
        p->lit_sink.data (data + pos, n, p->lit_sink_data);
        p->in_callback = FALSE;
      }
      pos += n;
      p->resp_off += n;
      p->lit_remaining -= n;
      if (p->lit_remaining == 0)
        finish_literal (p);
      continue;
    }

    const char *lf = memchr (data + pos, '\n', len - pos);
    gsize avail = lf != NULL ? (gsize) (lf - (data + pos)) : len - pos;
    gsize total = p->line->len + avail;

    if (lf == NULL) {
      /* The line may still end in CR LF: one byte over is allowed if it is CR. */
      if (total > MS_IMAP_LINE_MAX + 1 || (total == MS_IMAP_LINE_MAX + 1 && data[len - 1] != '\r'))
        return line_too_long (p, error);
      line_append (p, data + pos, avail);
      pos = len;
      break;
    }

    gboolean cr = avail > 0 ? data[pos + avail - 1] == '\r'
                            : p->line->len > 0 && p->line->data[p->line->len - 1] == '\r';
    if (total - (cr ? 1 : 0) > MS_IMAP_LINE_MAX)
      return line_too_long (p, error);

    const char *s;
    gsize n;
    if (p->line->len == 0) {
      s = data + pos;
      n = avail;
    } else {
      line_append (p, data + pos, avail);
      s = (const char *) p->line->data;
      n = p->line->len;
    }
    if (cr)
      n--;
    pos += avail + 1;

    LineResult res = parse_line (p, s, n, error);
    if (res == LINE_ERROR) {
      p->failed = TRUE;
      return MS_IMAP_ERROR;
    }
    if (res == LINE_DONE) {
      *response = finish_response (p);
      *consumed = pos;
      return MS_IMAP_COMPLETE;
    }
    p->resp_off += total + 1;
    line_clear (p);
    p->phase = PHASE_LITERAL;
    if (p->lit_remaining == 0)
      finish_literal (p);
  }
  *consumed = len;
  return MS_IMAP_NEED_MORE;
}
