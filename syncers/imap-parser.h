/* imap-parser.h — incremental parser for IMAP server responses (RFC 9051 /
 * RFC 3501 and the extensions a syncer meets: LITERAL+, BINARY, CONDSTORE,
 * QRESYNC, ESEARCH, NOTIFY, UIDPLUS, ID).
 *
 * Pure: no I/O, no clock, no logging.  The caller feeds whatever it read from
 * the connection, in any chunking, and gets back MS_IMAP_COMPLETE (one whole
 * response is available), MS_IMAP_NEED_MORE (a normal return: feed more) or
 * MS_IMAP_ERROR (the server broke the protocol or a hard limit was hit).  One
 * call parses at most one response and says how many bytes it used, so the
 * caller keeps the rest: that matters after a tagged OK to STARTTLS or
 * COMPRESS, when the bytes that follow are no longer plain IMAP.
 *
 * A response becomes a small tree of values (atoms, numbers, quoted strings,
 * literals, NIL, lists) plus the fields every response has: its kind (tagged,
 * untagged, continuation), tag, condition (OK/NO/BAD/BYE/PREAUTH), the number
 * of "* 12 EXISTS", the keyword, the response code "[CODE args]" and the
 * human-readable text.
 *
 * Literals up to MS_IMAP_INLINE_LITERAL_MAX are kept in memory.  For every
 * literal the caller's sink (if any) is asked whether to stream it; a streamed
 * literal goes to the sink in chunks as it arrives and the tree keeps only its
 * size, so a 50 MB message body never sits in memory.  A literal larger than
 * MS_IMAP_INLINE_LITERAL_MAX that nobody streams is an error.
 *
 * Line ends: servers send CRLF.  A bare LF is accepted as a line end too (it
 * costs nothing and cannot be ambiguous, since LF never appears inside a line);
 * a CR anywhere but right before the LF is an error.
 *
 * Errors are in the MS_ERROR domain: MS_ERROR_PROTOCOL for malformed input,
 * MS_ERROR_LIMIT when a hard limit below was hit.  The message names the
 * problem, the byte offset counted from the first byte of the response
 * (literal bytes included) and the bytes near it, e.g.
 *   unexpected ')' (at byte 17, near "* 3 FETCH (UID 5))")
 * After an error the stream cannot be resynchronised: the caller drops the
 * connection and may reuse the parser after ms_imap_parser_reset().
 *
 * Ownership (the default for this file): a parser owns its partial response;
 * a completed MsImapResponse is transfer full to the caller and owns every
 * value and string reachable from it.  Every `const MsImapValue *` and
 * `const char *` returned by an accessor points into its response and lives
 * exactly as long as it.  Exceptions are noted at the prototypes.
 */
#pragma once

#include <glib.h>

/* ---- Limits ---------------------------------------------------------------
 * Each hard limit has its own error message; see the reasons. */

/* Bytes of one response line, outside literals, without its CRLF.  The long
 * lines a syncer sees are SEARCH answers and VANISHED (EARLIER) sets, which
 * list UIDs: every UID of a 100k-message mailbox (the scale sync_imap is
 * designed for) with 10-digit UIDs is about 1.1 MB.  Twice that is the cap;
 * the syncer prefers ESEARCH and UID ranges, so only fallbacks get near it. */
#define MS_IMAP_LINE_MAX (2u * 1024 * 1024)

/* Nesting of parenthesised lists.  The answers to the syncer's own requests
 * nest at most 3 deep (NAMESPACE); a BODYSTRUCTURE, about three levels per
 * message forwarded as an attachment, still fits for a chain of ten.  The
 * cap also bounds the recursion of the tree walkers (free, to_string). */
#define MS_IMAP_DEPTH_MAX 32

/* Values (atoms, numbers, strings, literals, NILs, lists) in one response.  A
 * plain SEARCH listing every message of a 100k-message mailbox, with room to
 * spare.  At 32 bytes per value this bounds a tree at 8 MB however many tiny
 * values a hostile server packs into a line. */
#define MS_IMAP_VALUES_MAX (256u * 1024)

/* Bytes of text kept in memory for one response: atoms, strings, the response
 * text and in-memory literals, each counted with its terminating NUL.  A real
 * response holds one message's metadata and a few small literals (headers),
 * or one long line; 8 MiB is four maximal lines.  Without this cap a hostile
 * server could send millions of literals, each under the inline limit.
 * mbsync's whole-connection buffer limit is 10 MB for comparison. */
#define MS_IMAP_RESPONSE_BYTES_MAX (8u * 1024 * 1024)

/* Largest literal kept in memory rather than streamed.  Flags, dates, mailbox
 * names and header fields are far smaller; message bodies are larger and go
 * to a sink.  64 KiB keeps at most 128 in-memory literals per response within
 * MS_IMAP_RESPONSE_BYTES_MAX. */
#define MS_IMAP_INLINE_LITERAL_MAX (64u * 1024)

/* Largest literal at all, streamed or not.  Hosted services cap a message at
 * tens of megabytes (Office 365 at 150 MB); self-hosted servers can allow
 * more, but 1 GiB is far beyond any mail and bounds how long one literal can
 * keep us reading (and how much disk one temporary file can take). */
#define MS_IMAP_LITERAL_MAX (1024u * 1024 * 1024)

/* ---- Values --------------------------------------------------------------- */

typedef enum {
  MS_IMAP_VALUE_ATOM,    /* a bare token: FLAGS, \Seen, \*, BODY[HEADER]<0>, 1:5,7 */
  MS_IMAP_VALUE_NUMBER,  /* a bare token of digits that fits in 64 bits */
  MS_IMAP_VALUE_STRING,  /* a quoted string, unescaped */
  MS_IMAP_VALUE_LITERAL, /* {N} or ~{N} (literal8); bytes in memory or streamed */
  MS_IMAP_VALUE_NIL,     /* the bare token NIL, in any case */
  MS_IMAP_VALUE_LIST,    /* ( ... ) */
} MsImapValueKind;

typedef struct _MsImapValue MsImapValue;

MsImapValueKind ms_imap_value_get_kind (const MsImapValue *value);

/* The bytes of any value that has some: ATOM, NUMBER and NIL as sent (a
 * mailbox may be called "007" or even NIL), STRING unescaped, LITERAL when
 * kept in memory.  A terminating NUL follows them, but literals may contain
 * NULs, so use *len (may be NULL).  Returns NULL for a LIST and for a
 * streamed LITERAL.  For an nstring, test ms_imap_value_is_nil() first. */
const char *ms_imap_value_get_bytes (const MsImapValue *value, gsize *len);

/* TRUE and *number set for a NUMBER; FALSE (and *number untouched) else. */
gboolean ms_imap_value_get_number (const MsImapValue *value, guint64 *number);

gboolean ms_imap_value_is_nil (const MsImapValue *value);

/* TRUE if value is an ATOM equal to name, ignoring ASCII case. */
gboolean ms_imap_value_is_atom (const MsImapValue *value, const char *name);

/* For a LITERAL: its declared size, whether it went to the sink instead of
 * memory, whether it was a literal8 (~{N}), and its index among the
 * response's literals in wire order (the one MsImapLiteralInfo.index gave). */
guint64 ms_imap_value_get_literal_size (const MsImapValue *value);
gboolean ms_imap_value_is_streamed (const MsImapValue *value);
gboolean ms_imap_value_is_binary (const MsImapValue *value);
guint ms_imap_value_get_literal_index (const MsImapValue *value);

/* Items of a LIST; 0 and NULL for any other value or an index past the end. */
guint ms_imap_value_get_n_items (const MsImapValue *value);
const MsImapValue *ms_imap_value_get_item (const MsImapValue *value, guint index);

/* In a LIST of name/value pairs such as a FETCH list "(UID 7 FLAGS (\Seen))"
 * or a STATUS list, the value after the first ATOM equal to name (ignoring
 * ASCII case) among items start, start + 2, start + 4 ...; NULL if absent.
 * A section is part of the name: "BODY[]", "BODY[HEADER.FIELDS (X)]". */
const MsImapValue *ms_imap_value_lookup (const MsImapValue *list, guint start, const char *name);

/* A readable, IMAP-like rendering for logs and tests: bare tokens as sent,
 * strings quoted with \" \\ and \xNN escapes, in-memory literals as
 * {N}"escaped bytes", streamed ones as {N}<streamed #index>, lists in
 * parentheses.  Its length is proportional to the value's (bounded by the
 * limits above).  Transfer full. */
char *ms_imap_value_to_string (const MsImapValue *value);

/* ---- Responses ------------------------------------------------------------ */

typedef enum {
  MS_IMAP_RESPONSE_TAGGED,       /* "A1 OK ..." */
  MS_IMAP_RESPONSE_UNTAGGED,     /* "* ..." */
  MS_IMAP_RESPONSE_CONTINUATION, /* "+ ..." */
} MsImapResponseKind;

typedef enum {
  MS_IMAP_CONDITION_NONE, /* a data response ("* 3 FETCH ...") or a continuation */
  MS_IMAP_CONDITION_OK,
  MS_IMAP_CONDITION_NO,
  MS_IMAP_CONDITION_BAD,
  MS_IMAP_CONDITION_BYE,
  MS_IMAP_CONDITION_PREAUTH,
} MsImapCondition;

typedef struct _MsImapResponse MsImapResponse;

void ms_imap_response_free (MsImapResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsImapResponse, ms_imap_response_free)

MsImapResponseKind ms_imap_response_get_kind (const MsImapResponse *response);

/* The tag of a tagged response; NULL otherwise. */
const char *ms_imap_response_get_tag (const MsImapResponse *response);

/* OK, NO, BAD for tagged responses; OK, NO, BAD, BYE, PREAUTH for untagged
 * status responses; NONE for data responses and continuations. */
MsImapCondition ms_imap_response_get_condition (const MsImapResponse *response);

/* TRUE and *number set for "* N KEYWORD ..." (EXISTS, EXPUNGE, FETCH ...). */
gboolean ms_imap_response_get_number (const MsImapResponse *response, guint64 *number);

/* The keyword in ASCII upper case: "FETCH", "EXISTS", "CAPABILITY", or the
 * condition ("OK", "BYE" ...) of a status response.  NULL for a
 * continuation. */
const char *ms_imap_response_get_keyword (const MsImapResponse *response);

/* The response code of "[CODE args]" in ASCII upper case ("APPENDUID"), or
 * NULL when there is none.  Its arguments, after the code name, as a LIST
 * (empty for "[ALERT]"): "[APPENDUID 38505 3955]" gives (38505 3955),
 * "[PERMANENTFLAGS (\Seen \*)]" gives ((\Seen \*)), and the uid-sets of
 * COPYUID are ATOMs or NUMBERs (see ms_imap_value_get_seq_set()).  The
 * arguments of every code, known or not, are parsed as values, so a code
 * whose free-form text has an unbalanced '(' or '"' is a protocol error.
 * get_code_args returns NULL when there is no code. */
const char *ms_imap_response_get_code (const MsImapResponse *response);
const MsImapValue *ms_imap_response_get_code_args (const MsImapResponse *response);

/* The text after the condition and code of a status response or after "+ "
 * ("" if there is none); NULL for a data response. */
const char *ms_imap_response_get_text (const MsImapResponse *response);

/* The values after the keyword of a data response as a LIST, e.g.
 * ((UID 7 FLAGS (\Seen))) for "* 3 FETCH (UID 7 FLAGS (\Seen))".  Empty for
 * status responses and continuations; never NULL. */
const MsImapValue *ms_imap_response_get_data (const MsImapResponse *response);

/* In "* N FETCH (...)", the value of the attribute called name (ignoring
 * ASCII case), e.g. "UID", "FLAGS", "MODSEQ", "BODY[]"; NULL if absent or if
 * this is not a FETCH response. */
const MsImapValue *ms_imap_response_get_fetch_attr (const MsImapResponse *response, const char *name);

/* The whole response in the style of ms_imap_value_to_string(), on one
 * line, without CRLF.  Transfer full. */
char *ms_imap_response_to_string (const MsImapResponse *response);

/* ---- Sequence sets ---------------------------------------------------------- */

typedef struct {
  guint32 first; /* first <= last; "7:3" becomes 3..7 */
  guint32 last;
} MsImapRange;

/* Ranges in one sequence set.  Each range takes at least two bytes ("1,"), so
 * a set that fit in one response line has fewer; the cap keeps the function
 * safe on input that came from anywhere. */
#define MS_IMAP_SEQ_SET_RANGES_MAX (MS_IMAP_LINE_MAX / 2)

/* Parses a sequence-set or uid-set such as "1:5,7,9:*" into *ranges (a GArray
 * of MsImapRange, in the order written, transfer full).  `star` is the value
 * "*" stands for: the highest number in use if the caller knows it, else
 * G_MAXUINT32.  Numbers are 1 .. 4294967295. */
gboolean ms_imap_seq_set_parse (const char *text, gsize len, guint32 star,
                                GArray **ranges, GError **error);

/* The same for a value, which must be an ATOM or a NUMBER. */
gboolean ms_imap_value_get_seq_set (const MsImapValue *value, guint32 star,
                                    GArray **ranges, GError **error);

/* ---- The parser -------------------------------------------------------------- */

typedef struct _MsImapParser MsImapParser;

typedef enum {
  MS_IMAP_COMPLETE,  /* *response holds one whole response */
  MS_IMAP_NEED_MORE, /* every byte was used; feed more */
  MS_IMAP_ERROR,     /* *error is set; reset the parser before reusing it */
} MsImapParseResult;

/* What the sink is told when a literal begins.  The strings point into the
 * response being parsed and are valid only during the begin callback. */
typedef struct {
  guint64 size;          /* bytes that will follow */
  guint index;           /* 0 for the response's first literal, then 1 ... */
  gboolean binary;       /* a literal8 (~{N}) */
  const char *keyword;   /* response keyword in upper case ("FETCH"), or NULL
                          * if the literal is inside a response code */
  gboolean has_number;   /* "* N FETCH": */
  guint64 number;        /*   N */
  const char *attribute; /* the ATOM just before the literal in the same list,
                          * e.g. "BODY[]" or "BINARY[1]", else NULL */
} MsImapLiteralInfo;

/* Callbacks for literals; user_data is the pointer given with the sink.
 * They must not call back into the parser (no feed, reset or free).
 *
 * begin is called for every literal once its size is known.  TRUE streams
 * the literal: data then gets its bytes in order, in chunks of any size
 * (pointers into the caller's buffer, valid only during the call), and end
 * is called once after the last byte (at once for a literal of size 0).
 * FALSE keeps the literal in memory, which is an error if it is larger than
 * MS_IMAP_INLINE_LITERAL_MAX.  A sink cannot stop the parser: the bytes are
 * on the wire anyway, so a sink that fails (disk full) remembers it, drops
 * the rest, and its owner looks when the response completes.  If the parser
 * is reset or freed in the middle of a streamed literal, end is not called. */
typedef struct {
  gboolean (*begin) (const MsImapLiteralInfo *info, gpointer user_data);
  void (*data) (const char *bytes, gsize len, gpointer user_data);
  void (*end) (gpointer user_data);
} MsImapLiteralSink;

MsImapParser *ms_imap_parser_new (void);
void ms_imap_parser_free (MsImapParser *parser);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsImapParser, ms_imap_parser_free)

/* The sink is copied; NULL removes it (every literal is then kept in memory,
 * within the limits).  user_data is not owned. */
void ms_imap_parser_set_literal_sink (MsImapParser *parser, const MsImapLiteralSink *sink,
                                      gpointer user_data);

/* Parses up to one response from data[0 .. len).
 * MS_IMAP_COMPLETE: *response is the response (transfer full) and *consumed
 *   counts the bytes used up to and including its final line end; feed the
 *   rest (data + *consumed) in the next call.
 * MS_IMAP_NEED_MORE: *consumed == len; part of a response may be buffered.
 * MS_IMAP_ERROR: *error is set; *consumed and *response are untouched.  The
 *   parser refuses to feed again until ms_imap_parser_reset(). */
MsImapParseResult ms_imap_parser_feed (MsImapParser *parser, const char *data, gsize len,
                                       gsize *consumed, MsImapResponse **response,
                                       GError **error);

/* Forgets any partial response and any error, as for a new connection.  The
 * sink stays set. */
void ms_imap_parser_reset (MsImapParser *parser);
