/* test-imap-parser.c — the IMAP response parser: values, responses, literals
 * streamed and in memory, every limit, exact error texts, sequence sets,
 * and the seed corpus fed whole and one byte at a time. */
#include <glib.h>
#include <string.h>

#include "imap-parser.h"
#include "ms-error.h"

/* ---- Helpers --------------------------------------------------------------- */

/* A sink that streams literals chosen by `mode` and keeps what it got. */
typedef struct {
  enum { STREAM_NONE, STREAM_BODY, STREAM_ALL } mode;
  GByteArray *bytes;    /* all streamed bytes */
  GString *log;         /* "begin <info>|", "end|" */
  guint begins, streams, ends;
  guint64 max_chunk;
} TestSink;

static gboolean
test_sink_begin (const MsImapLiteralInfo *info, gpointer user_data)
{
  TestSink *s = user_data;
  gboolean stream = s->mode == STREAM_ALL
                    || (s->mode == STREAM_BODY && info->attribute != NULL
                        && g_str_has_prefix (info->attribute, "BODY["));
  s->begins++;
  s->streams += stream;
  g_autofree char *number = info->has_number ? g_strdup_printf ("n=%" G_GUINT64_FORMAT, info->number)
                                              : g_strdup ("-");
  g_string_append_printf (s->log, "begin %" G_GUINT64_FORMAT " #%u %s %s %s %s%s|",
                          info->size, info->index, info->binary ? "bin" : "txt",
                          info->keyword ? info->keyword : "(code)", number,
                          info->attribute ? info->attribute : "(none)", stream ? " stream" : "");
  return stream;
}

static void
test_sink_data (const char *bytes, gsize len, gpointer user_data)
{
  TestSink *s = user_data;
  g_byte_array_append (s->bytes, (const guint8 *) bytes, (guint) len);
  s->max_chunk = MAX (s->max_chunk, len);
}

static void
test_sink_end (gpointer user_data)
{
  TestSink *s = user_data;
  s->ends++;
  g_string_append (s->log, "end|");
}

static const MsImapLiteralSink test_sink_funcs = { test_sink_begin, test_sink_data, test_sink_end };

static TestSink *
test_sink_new (int mode)
{
  TestSink *s = g_new0 (TestSink, 1);
  s->mode = mode;
  s->bytes = g_byte_array_new ();
  s->log = g_string_new (NULL);
  return s;
}

static void
test_sink_free (TestSink *s)
{
  g_byte_array_unref (s->bytes);
  g_string_free (s->log, TRUE);
  g_free (s);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestSink, test_sink_free)

/* Feeds input[0 .. len) in chunks of `chunk` bytes (0: all at once) and
 * returns one line per response ("R: <to_string>"), then "need more" or
 * "error <code>: <message>". */
static char *
run (const char *input, gsize len, gsize chunk, TestSink *sink)
{
  g_autoptr (MsImapParser) p = ms_imap_parser_new ();
  GString *out = g_string_new (NULL);
  gsize off = 0;

  if (sink != NULL)
    ms_imap_parser_set_literal_sink (p, &test_sink_funcs, sink);
  while (off < len) {
    gsize end = chunk == 0 ? len : MIN (len, off + chunk);
    while (off < end) {
      g_autoptr (MsImapResponse) r = NULL;
      g_autoptr (GError) error = NULL;
      gsize used = 0;
      MsImapParseResult res = ms_imap_parser_feed (p, input + off, end - off, &used, &r, &error);
      if (res == MS_IMAP_ERROR) {
        g_string_append_printf (out, "error %d: %s", error->code, error->message);
        return g_string_free (out, FALSE);
      }
      off += used;
      if (res == MS_IMAP_COMPLETE) {
        g_autofree char *s = ms_imap_response_to_string (r);
        g_string_append_printf (out, "R: %s\n", s);
      } else {
        g_assert_cmpuint (off, ==, end);
      }
    }
  }
  g_string_append (out, "need more");
  return g_string_free (out, FALSE);
}

/* Parses input, which must be exactly one response. */
static MsImapResponse *
parse1 (const char *input)
{
  g_autoptr (MsImapParser) p = ms_imap_parser_new ();
  g_autoptr (GError) error = NULL;
  MsImapResponse *r = NULL;
  gsize used = 0;

  MsImapParseResult res = ms_imap_parser_feed (p, input, strlen (input), &used, &r, &error);
  g_assert_no_error (error);
  g_assert_cmpint (res, ==, MS_IMAP_COMPLETE);
  g_assert_cmpuint (used, ==, strlen (input));
  return r;
}

/* The one-line rendering of one response. */
static char *
render1 (const char *input)
{
  g_autoptr (MsImapResponse) r = parse1 (input);
  return ms_imap_response_to_string (r);
}

/* The input fails with exactly this error, whole and in every chunking. */
static void
check_error (const char *input, gsize len, gint code, const char *message)
{
  g_autofree char *want = g_strdup_printf ("error %d: %s", code, message);
  for (gsize chunk = 0; chunk <= MIN (len, 40); chunk++) {
    g_autofree char *got = run (input, len, chunk, NULL);
    /* Responses before the bad one may come out first. */
    const char *last = strrchr (got, '\n');
    g_assert_cmpstr (last ? last + 1 : got, ==, want);
  }
}

/* Table rows whose input may contain NUL bytes: its length comes from sizeof. */
#define ROW(input, ...) { input, sizeof (input) - 1, __VA_ARGS__ }

#define CHECK_ERROR(input, code, message) check_error (input, sizeof (input) - 1, code, message)

static char *
value_str (const MsImapValue *v)
{
  return v ? ms_imap_value_to_string (v) : g_strdup ("(null)");
}

/* ---- The corpus ----------------------------------------------------------------- */

/* Reads every seed file whose name starts with prefix; the first byte is the
 * fuzzer's feeding choice and is dropped. */
static GPtrArray *
read_corpus (const char *prefix)
{
  g_autofree char *dir = g_test_build_filename (G_TEST_DIST, "fuzz", "corpus", "imap-parser", NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  GPtrArray *files = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  const char *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL) {
    if (!g_str_has_prefix (name, prefix))
      continue;
    g_autofree char *path = g_build_filename (dir, name, NULL);
    char *data;
    gsize len;
    g_assert_true (g_file_get_contents (path, &data, &len, NULL));
    g_assert_cmpuint (len, >, 1);
    memmove (data, data + 1, len - 1);
    g_ptr_array_add (files, g_bytes_new_take (data, len - 1));
  }
  return files;
}

/* Every valid seed parses completely; fed one byte at a time, each byte but
 * the last of a response gives NEED_MORE, the last gives COMPLETE, and the
 * responses and streamed bytes are those of feeding the whole file. */
static void
check_bytewise (int mode)
{
  g_autoptr (GPtrArray) files = read_corpus ("ok-");
  g_assert_cmpuint (files->len, >=, 20);

  for (guint f = 0; f < files->len; f++) {
    gsize len;
    const char *data = g_bytes_get_data (g_ptr_array_index (files, f), &len);
    g_autoptr (TestSink) whole_sink = test_sink_new (mode);
    g_autofree char *whole = run (data, len, 0, whole_sink);
    g_auto (GStrv) want = g_strsplit (whole, "\n", -1);
    guint n_want = g_strv_length (want);

    g_assert_cmpstr (want[n_want - 1], ==, "need more");
    g_assert_cmpuint (n_want, >=, 2);

    g_autoptr (MsImapParser) p = ms_imap_parser_new ();
    g_autoptr (TestSink) sink = test_sink_new (mode);
    guint k = 0;
    ms_imap_parser_set_literal_sink (p, &test_sink_funcs, sink);
    for (gsize i = 0; i < len; i++) {
      g_autoptr (MsImapResponse) r = NULL;
      gsize used = 0;
      MsImapParseResult res = ms_imap_parser_feed (p, data + i, 1, &used, &r, NULL);
      g_assert_cmpuint (used, ==, 1);
      if (res == MS_IMAP_COMPLETE) {
        g_autofree char *s = ms_imap_response_to_string (r);
        g_autofree char *line = g_strdup_printf ("R: %s", s);
        g_assert_cmpuint (k, <, n_want - 1);
        g_assert_cmpstr (line, ==, want[k]);
        k++;
      } else {
        g_assert_cmpint (res, ==, MS_IMAP_NEED_MORE);
      }
      if (i == len - 1)
        g_assert_cmpint (res, ==, MS_IMAP_COMPLETE);
    }
    g_assert_cmpuint (k, ==, n_want - 1);
    g_assert_cmpmem (sink->bytes->data, sink->bytes->len, whole_sink->bytes->data, whole_sink->bytes->len);
    g_assert_cmpstr (sink->log->str, ==, whole_sink->log->str);
    g_assert_cmpuint (sink->streams, ==, sink->ends);
  }
}

static void
test_corpus_bytewise (void)
{
  check_bytewise (STREAM_NONE);
}

static void
test_corpus_bytewise_streamed (void)
{
  check_bytewise (STREAM_ALL);
}

/* Every malformed seed fails, whole and in small chunks, with the same error. */
static void
test_corpus_malformed (void)
{
  g_autoptr (GPtrArray) files = read_corpus ("bad-");
  g_assert_cmpuint (files->len, >=, 10);
  for (guint f = 0; f < files->len; f++) {
    gsize len;
    const char *data = g_bytes_get_data (g_ptr_array_index (files, f), &len);
    g_autofree char *whole = run (data, len, 0, NULL);
    g_assert_nonnull (strstr (whole, "error "));
    for (gsize chunk = 1; chunk < 8; chunk++) {
      g_autofree char *got = run (data, len, chunk, NULL);
      g_assert_cmpstr (got, ==, whole);
    }
  }
}

/* ---- Responses ------------------------------------------------------------------- */

static void
test_greeting (void)
{
  g_autoptr (MsImapResponse) r = parse1 (
    "* OK [CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN] Dovecot ready.\r\n");
  const MsImapValue *args = ms_imap_response_get_code_args (r);

  g_assert_cmpint (ms_imap_response_get_kind (r), ==, MS_IMAP_RESPONSE_UNTAGGED);
  g_assert_cmpint (ms_imap_response_get_condition (r), ==, MS_IMAP_CONDITION_OK);
  g_assert_null (ms_imap_response_get_tag (r));
  g_assert_false (ms_imap_response_get_number (r, NULL));
  g_assert_cmpstr (ms_imap_response_get_keyword (r), ==, "OK");
  g_assert_cmpstr (ms_imap_response_get_code (r), ==, "CAPABILITY");
  g_assert_cmpuint (ms_imap_value_get_n_items (args), ==, 3);
  g_assert_true (ms_imap_value_is_atom (ms_imap_value_get_item (args, 1), "literal+"));
  g_assert_cmpstr (ms_imap_value_get_bytes (ms_imap_value_get_item (args, 2), NULL), ==, "AUTH=PLAIN");
  g_assert_cmpstr (ms_imap_response_get_text (r), ==, "Dovecot ready.");
  g_assert_cmpuint (ms_imap_value_get_n_items (ms_imap_response_get_data (r)), ==, 0);
}

static void
test_conditions (void)
{
  static const struct {
    const char *input;
    MsImapResponseKind kind;
    MsImapCondition cond;
    const char *text;
  } cases[] = {
    { "* OK hi\r\n", MS_IMAP_RESPONSE_UNTAGGED, MS_IMAP_CONDITION_OK, "hi" },
    { "* NO [ALERT] disk full\r\n", MS_IMAP_RESPONSE_UNTAGGED, MS_IMAP_CONDITION_NO, "disk full" },
    { "* BAD what\r\n", MS_IMAP_RESPONSE_UNTAGGED, MS_IMAP_CONDITION_BAD, "what" },
    { "* BYE Logging out\r\n", MS_IMAP_RESPONSE_UNTAGGED, MS_IMAP_CONDITION_BYE, "Logging out" },
    { "* PREAUTH [CAPABILITY IMAP4rev1] Logged in\r\n", MS_IMAP_RESPONSE_UNTAGGED, MS_IMAP_CONDITION_PREAUTH, "Logged in" },
    { "a1 OK done\r\n", MS_IMAP_RESPONSE_TAGGED, MS_IMAP_CONDITION_OK, "done" },
    { "a1 no nope\r\n", MS_IMAP_RESPONSE_TAGGED, MS_IMAP_CONDITION_NO, "nope" },
    { "A]1 BAD x\r\n", MS_IMAP_RESPONSE_TAGGED, MS_IMAP_CONDITION_BAD, "x" },
    { "a1 OK\r\n", MS_IMAP_RESPONSE_TAGGED, MS_IMAP_CONDITION_OK, "" },
    { "a1 OK [READ-WRITE]\r\n", MS_IMAP_RESPONSE_TAGGED, MS_IMAP_CONDITION_OK, "" },
    { "a1 OK [READ-WRITE]text\r\n", MS_IMAP_RESPONSE_TAGGED, MS_IMAP_CONDITION_OK, "text" },
    { "* OK  two  spaces \r\n", MS_IMAP_RESPONSE_UNTAGGED, MS_IMAP_CONDITION_OK, " two  spaces " },
    { "* OK [ALERT]  two\r\n", MS_IMAP_RESPONSE_UNTAGGED, MS_IMAP_CONDITION_OK, " two" },
    { "* OK (not [a code]) {5}\r\n", MS_IMAP_RESPONSE_UNTAGGED, MS_IMAP_CONDITION_OK, "(not [a code]) {5}" },
    { "* OK caf\xc3\xa9\r\n", MS_IMAP_RESPONSE_UNTAGGED, MS_IMAP_CONDITION_OK, "caf\xc3\xa9" },
    { "+ idling\r\n", MS_IMAP_RESPONSE_CONTINUATION, MS_IMAP_CONDITION_NONE, "idling" },
    { "+\r\n", MS_IMAP_RESPONSE_CONTINUATION, MS_IMAP_CONDITION_NONE, "" },
    { "+ \r\n", MS_IMAP_RESPONSE_CONTINUATION, MS_IMAP_CONDITION_NONE, "" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (MsImapResponse) r = parse1 (cases[i].input);
    g_assert_cmpint (ms_imap_response_get_kind (r), ==, cases[i].kind);
    g_assert_cmpint (ms_imap_response_get_condition (r), ==, cases[i].cond);
    g_assert_cmpstr (ms_imap_response_get_text (r), ==, cases[i].text);
  }
}

static void
test_tagged (void)
{
  g_autoptr (MsImapResponse) r = parse1 ("a14 OK [APPENDUID 1700000001 4392] Append completed.\r\n");
  const MsImapValue *args = ms_imap_response_get_code_args (r);
  guint64 n = 0;

  g_assert_cmpint (ms_imap_response_get_kind (r), ==, MS_IMAP_RESPONSE_TAGGED);
  g_assert_cmpstr (ms_imap_response_get_tag (r), ==, "a14");
  g_assert_cmpstr (ms_imap_response_get_keyword (r), ==, "OK");
  g_assert_cmpstr (ms_imap_response_get_code (r), ==, "APPENDUID");
  g_assert_cmpuint (ms_imap_value_get_n_items (args), ==, 2);
  g_assert_true (ms_imap_value_get_number (ms_imap_value_get_item (args, 0), &n));
  g_assert_cmpuint (n, ==, 1700000001);
  g_assert_true (ms_imap_value_get_number (ms_imap_value_get_item (args, 1), &n));
  g_assert_cmpuint (n, ==, 4392);
  g_assert_cmpstr (ms_imap_response_get_text (r), ==, "Append completed.");
  g_assert_null (ms_imap_response_get_fetch_attr (r, "UID"));
}

static void
test_copyuid (void)
{
  g_autoptr (MsImapResponse) r = parse1 ("a1 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n");
  const MsImapValue *args = ms_imap_response_get_code_args (r);
  g_autoptr (GArray) src = NULL;
  g_autoptr (GArray) dst = NULL;

  g_assert_cmpstr (ms_imap_response_get_code (r), ==, "COPYUID");
  g_assert_cmpint (ms_imap_value_get_kind (ms_imap_value_get_item (args, 1)), ==, MS_IMAP_VALUE_ATOM);
  g_assert_true (ms_imap_value_get_seq_set (ms_imap_value_get_item (args, 1), G_MAXUINT32, &src, NULL));
  g_assert_true (ms_imap_value_get_seq_set (ms_imap_value_get_item (args, 2), G_MAXUINT32, &dst, NULL));
  g_assert_cmpuint (src->len, ==, 2);
  g_assert_cmpuint (g_array_index (src, MsImapRange, 0).first, ==, 304);
  g_assert_cmpuint (g_array_index (src, MsImapRange, 0).last, ==, 304);
  g_assert_cmpuint (g_array_index (src, MsImapRange, 1).first, ==, 319);
  g_assert_cmpuint (g_array_index (src, MsImapRange, 1).last, ==, 320);
  g_assert_cmpuint (dst->len, ==, 1);
  g_assert_cmpuint (g_array_index (dst, MsImapRange, 0).first, ==, 3956);
  g_assert_cmpuint (g_array_index (dst, MsImapRange, 0).last, ==, 3958);
}

static void
test_permanentflags (void)
{
  g_autoptr (MsImapResponse) r = parse1 ("* OK [PERMANENTFLAGS (\\Seen \\Deleted $Junk \\*)] Flags permitted.\r\n");
  const MsImapValue *args = ms_imap_response_get_code_args (r);
  const MsImapValue *flags = ms_imap_value_get_item (args, 0);

  g_assert_cmpuint (ms_imap_value_get_n_items (args), ==, 1);
  g_assert_cmpint (ms_imap_value_get_kind (flags), ==, MS_IMAP_VALUE_LIST);
  g_assert_cmpuint (ms_imap_value_get_n_items (flags), ==, 4);
  g_assert_true (ms_imap_value_is_atom (ms_imap_value_get_item (flags, 0), "\\seen"));
  g_assert_true (ms_imap_value_is_atom (ms_imap_value_get_item (flags, 3), "\\*"));
  g_assert_cmpstr (ms_imap_response_get_text (r), ==, "Flags permitted.");

  g_autoptr (MsImapResponse) empty = parse1 ("* OK [PERMANENTFLAGS ()] None\r\n");
  g_assert_cmpuint (ms_imap_value_get_n_items (ms_imap_value_get_item (ms_imap_response_get_code_args (empty), 0)), ==, 0);
}

static void
test_select_codes (void)
{
  static const struct { const char *input, *code; guint64 value; } cases[] = {
    { "* OK [UIDVALIDITY 1700000001] UIDs valid\r\n", "UIDVALIDITY", 1700000001 },
    { "* OK [UIDNEXT 4392] Predicted next UID\r\n", "UIDNEXT", 4392 },
    { "* OK [HIGHESTMODSEQ 9223372036854775807] Highest\r\n", "HIGHESTMODSEQ", G_GUINT64_CONSTANT (9223372036854775807) },
    { "* OK [UNSEEN 12] First unseen.\r\n", "UNSEEN", 12 },
    { "* ok [uidnext 5] lower case\r\n", "UIDNEXT", 5 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (MsImapResponse) r = parse1 (cases[i].input);
    guint64 n = 0;
    g_assert_cmpstr (ms_imap_response_get_code (r), ==, cases[i].code);
    g_assert_true (ms_imap_value_get_number (ms_imap_value_get_item (ms_imap_response_get_code_args (r), 0), &n));
    g_assert_cmpuint (n, ==, cases[i].value);
  }
  g_autoptr (MsImapResponse) r = parse1 ("* 172 EXISTS\r\n");
  guint64 n = 0;
  g_assert_true (ms_imap_response_get_number (r, &n));
  g_assert_cmpuint (n, ==, 172);
  g_assert_cmpstr (ms_imap_response_get_keyword (r), ==, "EXISTS");
  g_assert_cmpint (ms_imap_response_get_condition (r), ==, MS_IMAP_CONDITION_NONE);
  g_assert_null (ms_imap_response_get_text (r));
  g_assert_null (ms_imap_response_get_code (r));
  g_assert_null (ms_imap_response_get_code_args (r));
}

static void
test_fetch (void)
{
  g_autoptr (MsImapResponse) r = parse1 (
    "* 12 FETCH (UID 4 RFC822.SIZE 2048 FLAGS (\\Seen $Junk) INTERNALDATE \" 5-Jan-2024 10:00:00 +0100\" "
    "MODSEQ (12345678901234) BODY[HEADER.FIELDS (MESSAGE-ID)] {7}\r\nMID: x\n BODY[]<0> \"\")\r\n");
  guint64 n = 0;
  g_autofree char *flags = value_str (ms_imap_response_get_fetch_attr (r, "flags"));
  g_autofree char *modseq = value_str (ms_imap_response_get_fetch_attr (r, "MODSEQ"));
  const MsImapValue *date = ms_imap_response_get_fetch_attr (r, "INTERNALDATE");
  const MsImapValue *hdr = ms_imap_response_get_fetch_attr (r, "BODY[HEADER.FIELDS (MESSAGE-ID)]");
  const MsImapValue *part = ms_imap_response_get_fetch_attr (r, "body[]<0>");
  gsize len = 0;

  g_assert_true (ms_imap_response_get_number (r, &n));
  g_assert_cmpuint (n, ==, 12);
  g_assert_cmpstr (ms_imap_response_get_keyword (r), ==, "FETCH");
  g_assert_true (ms_imap_value_get_number (ms_imap_response_get_fetch_attr (r, "UID"), &n));
  g_assert_cmpuint (n, ==, 4);
  g_assert_true (ms_imap_value_get_number (ms_imap_response_get_fetch_attr (r, "RFC822.SIZE"), &n));
  g_assert_cmpuint (n, ==, 2048);
  g_assert_cmpstr (flags, ==, "(\\Seen $Junk)");
  g_assert_cmpstr (modseq, ==, "(12345678901234)");
  g_assert_cmpint (ms_imap_value_get_kind (date), ==, MS_IMAP_VALUE_STRING);
  g_assert_cmpstr (ms_imap_value_get_bytes (date, NULL), ==, " 5-Jan-2024 10:00:00 +0100");
  g_assert_cmpint (ms_imap_value_get_kind (hdr), ==, MS_IMAP_VALUE_LITERAL);
  g_assert_cmpstr (ms_imap_value_get_bytes (hdr, &len), ==, "MID: x\n");
  g_assert_cmpuint (len, ==, 7);
  g_assert_cmpuint (ms_imap_value_get_literal_size (hdr), ==, 7);
  g_assert_false (ms_imap_value_is_streamed (hdr));
  g_assert_cmpint (ms_imap_value_get_kind (part), ==, MS_IMAP_VALUE_STRING);
  g_assert_cmpstr (ms_imap_value_get_bytes (part, &len), ==, "");
  g_assert_null (ms_imap_response_get_fetch_attr (r, "BODY[]"));
  g_assert_null (ms_imap_response_get_fetch_attr (r, "X-GM-LABELS"));
  /* Values are never taken for names. */
  g_assert_null (ms_imap_response_get_fetch_attr (r, "4"));
}

/* BODY[...]<origin> and friends are one atom; '[' without ']' is ordinary. */
static void
test_sections (void)
{
  static const struct { const char *input, *want; } cases[] = {
    { "* 1 FETCH (BODY[HEADER.FIELDS (MESSAGE-ID SUBJECT)]<0> NIL)\r\n",
      "* 1 FETCH (BODY[HEADER.FIELDS (MESSAGE-ID SUBJECT)]<0> NIL)" },
    { "* 1 FETCH (BODY[HEADER.FIELDS (\"X-A]B\")] NIL)\r\n", "* 1 FETCH (BODY[HEADER.FIELDS (\"X-A]B\")] NIL)" },
    { "* 1 FETCH (BINARY[1.2] ~{2}\r\nab BINARY.SIZE[1.2] 2)\r\n", "* 1 FETCH (BINARY[1.2] ~{2}\"ab\" BINARY.SIZE[1.2] 2)" },
    { "* 1 FETCH (BODY[] {1}\r\nx)\r\n", "* 1 FETCH (BODY[] {1}\"x\")" },
    { "* LIST () \"/\" [Gmail]/Sent\r\n", "* LIST () \"/\" [Gmail]/Sent" },
    { "* LIST () \"/\" foo[bar\r\n", "* LIST () \"/\" foo[bar" },
    { "* STATUS a[b (MESSAGES 1)\r\n", "* STATUS a[b (MESSAGES 1)" },
    { "* STATUS a[b (MESSAGES 1) c[d]\r\n", "* STATUS a[b (MESSAGES 1) c[d]" },
    { "* X a] ]b\r\n", "* X a] ]b" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *got = render1 (cases[i].input);
    g_assert_cmpstr (got, ==, cases[i].want);
  }
  g_autoptr (MsImapResponse) r = parse1 ("* 1 FETCH (BODY[HEADER.FIELDS (MESSAGE-ID)]<0> NIL UID 3)\r\n");
  g_assert_cmpuint (ms_imap_value_get_n_items (ms_imap_value_get_item (ms_imap_response_get_data (r), 0)), ==, 4);
  g_assert_true (ms_imap_value_is_nil (ms_imap_response_get_fetch_attr (r, "BODY[HEADER.FIELDS (MESSAGE-ID)]<0>")));
}

static void
test_numbers (void)
{
  g_autoptr (MsImapResponse) r = parse1 (
    "* X 0 007 9223372036854775807 18446744073709551615 18446744073709551616 12a -1\r\n");
  const MsImapValue *d = ms_imap_response_get_data (r);
  static const struct { MsImapValueKind kind; guint64 value; const char *text; } want[] = {
    { MS_IMAP_VALUE_NUMBER, 0, "0" },
    { MS_IMAP_VALUE_NUMBER, 7, "007" },
    { MS_IMAP_VALUE_NUMBER, G_GUINT64_CONSTANT (9223372036854775807), "9223372036854775807" },
    { MS_IMAP_VALUE_NUMBER, G_MAXUINT64, "18446744073709551615" },
    { MS_IMAP_VALUE_ATOM, 0, "18446744073709551616" },
    { MS_IMAP_VALUE_ATOM, 0, "12a" },
    { MS_IMAP_VALUE_ATOM, 0, "-1" },
  };
  g_assert_cmpuint (ms_imap_value_get_n_items (d), ==, G_N_ELEMENTS (want));
  for (guint i = 0; i < G_N_ELEMENTS (want); i++) {
    const MsImapValue *v = ms_imap_value_get_item (d, i);
    guint64 n = 42;
    g_assert_cmpint (ms_imap_value_get_kind (v), ==, want[i].kind);
    g_assert_cmpstr (ms_imap_value_get_bytes (v, NULL), ==, want[i].text);
    g_assert_cmpint (ms_imap_value_get_number (v, &n), ==, want[i].kind == MS_IMAP_VALUE_NUMBER);
    g_assert_cmpuint (n, ==, want[i].kind == MS_IMAP_VALUE_NUMBER ? want[i].value : 42);
  }
  /* A message number does not overflow silently. */
  CHECK_ERROR ("* 18446744073709551616 EXISTS\r\n", MS_ERROR_PROTOCOL,
               "number too large (at byte 2, near \"* 1844674407370955\")");
}

static void
test_strings_and_nil (void)
{
  g_autoptr (MsImapResponse) r = parse1 ("* X \"a \\\"q\\\" \\\\ b\" \"\" NIL nil \"NIL\" NILS (\"caf\xc3\xa9\")\r\n");
  const MsImapValue *d = ms_imap_response_get_data (r);
  gsize len = 99;

  g_assert_cmpint (ms_imap_value_get_kind (ms_imap_value_get_item (d, 0)), ==, MS_IMAP_VALUE_STRING);
  g_assert_cmpstr (ms_imap_value_get_bytes (ms_imap_value_get_item (d, 0), &len), ==, "a \"q\" \\ b");
  g_assert_cmpuint (len, ==, 9);
  g_assert_cmpstr (ms_imap_value_get_bytes (ms_imap_value_get_item (d, 1), &len), ==, "");
  g_assert_cmpuint (len, ==, 0);
  g_assert_true (ms_imap_value_is_nil (ms_imap_value_get_item (d, 2)));
  g_assert_true (ms_imap_value_is_nil (ms_imap_value_get_item (d, 3)));
  /* NIL keeps its text, for a mailbox that is really called that. */
  g_assert_cmpstr (ms_imap_value_get_bytes (ms_imap_value_get_item (d, 3), NULL), ==, "nil");
  g_assert_false (ms_imap_value_is_nil (ms_imap_value_get_item (d, 4)));
  g_assert_cmpint (ms_imap_value_get_kind (ms_imap_value_get_item (d, 5)), ==, MS_IMAP_VALUE_ATOM);
  g_assert_cmpstr (ms_imap_value_get_bytes (ms_imap_value_get_item (ms_imap_value_get_item (d, 6), 0), NULL), ==,
                   "caf\xc3\xa9");
  g_assert_null (ms_imap_value_get_bytes (ms_imap_value_get_item (d, 6), NULL));
  g_assert_null (ms_imap_value_get_item (d, 7));
  g_assert_null (ms_imap_value_get_item (ms_imap_value_get_item (d, 0), 0));
  g_assert_cmpuint (ms_imap_value_get_n_items (ms_imap_value_get_item (d, 0)), ==, 0);
}

static void
test_lists (void)
{
  g_autoptr (MsImapResponse) r = parse1 ("* NAMESPACE ((\"\" \"/\")) NIL ((\"#shared/\" \"/\")(\"~\" \"/\"))\r\n");
  const MsImapValue *d = ms_imap_response_get_data (r);
  const MsImapValue *shared = ms_imap_value_get_item (d, 2);

  g_assert_cmpuint (ms_imap_value_get_n_items (d), ==, 3);
  g_assert_cmpuint (ms_imap_value_get_n_items (shared), ==, 2);
  g_assert_cmpstr (ms_imap_value_get_bytes (ms_imap_value_get_item (ms_imap_value_get_item (shared, 1), 0), NULL), ==,
                   "~");

  g_autoptr (MsImapResponse) s = parse1 ("* STATUS \"Sent Items\" (MESSAGES 3 UIDNEXT 44 HIGHESTMODSEQ 9)\r\n");
  const MsImapValue *sd = ms_imap_response_get_data (s);
  guint64 n = 0;
  g_assert_cmpstr (ms_imap_value_get_bytes (ms_imap_value_get_item (sd, 0), NULL), ==, "Sent Items");
  g_assert_true (ms_imap_value_get_number (ms_imap_value_lookup (ms_imap_value_get_item (sd, 1), 0, "uidnext"), &n));
  g_assert_cmpuint (n, ==, 44);
  g_assert_null (ms_imap_value_lookup (ms_imap_value_get_item (sd, 1), 0, "UNSEEN"));
  g_assert_null (ms_imap_value_lookup (ms_imap_value_get_item (sd, 1), 1, "UIDNEXT"));
  g_assert_null (ms_imap_value_lookup (ms_imap_value_get_item (sd, 0), 0, "UIDNEXT"));

  /* ESEARCH: pairs after the correlator. */
  g_autoptr (MsImapResponse) e = parse1 ("* ESEARCH (TAG \"a1\") UID COUNT 17 ALL 4:18,21,28\r\n");
  const MsImapValue *ed = ms_imap_response_get_data (e);
  g_autoptr (GArray) all = NULL;
  g_assert_true (ms_imap_value_get_seq_set (ms_imap_value_lookup (ed, 2, "ALL"), G_MAXUINT32, &all, NULL));
  g_assert_cmpuint (all->len, ==, 3);
}

static void
test_vanished (void)
{
  g_autoptr (MsImapResponse) r = parse1 ("* VANISHED (EARLIER) 300:310,405,411\r\n");
  const MsImapValue *d = ms_imap_response_get_data (r);
  g_autoptr (GArray) uids = NULL;

  g_assert_cmpstr (ms_imap_response_get_keyword (r), ==, "VANISHED");
  g_assert_true (ms_imap_value_is_atom (ms_imap_value_get_item (ms_imap_value_get_item (d, 0), 0), "EARLIER"));
  g_assert_true (ms_imap_value_get_seq_set (ms_imap_value_get_item (d, 1), G_MAXUINT32, &uids, NULL));
  g_assert_cmpuint (uids->len, ==, 3);
  g_assert_cmpuint (g_array_index (uids, MsImapRange, 0).last, ==, 310);
}

static void
test_list_response (void)
{
  g_autoptr (MsImapResponse) r = parse1 ("* LIST (\\HasNoChildren) \".\" {11}\r\nfoo bar baz\r\n");
  const MsImapValue *d = ms_imap_response_get_data (r);
  g_autoptr (MsImapResponse) n = parse1 ("* LIST (\\Noselect) NIL \"\"\r\n");

  g_assert_cmpstr (ms_imap_value_get_bytes (ms_imap_value_get_item (d, 2), NULL), ==, "foo bar baz");
  g_assert_true (ms_imap_value_is_atom (ms_imap_value_get_item (ms_imap_value_get_item (d, 0), 0), "\\hasnochildren"));
  g_assert_true (ms_imap_value_is_nil (ms_imap_value_get_item (ms_imap_response_get_data (n), 1)));
}

static void
test_case_insensitive (void)
{
  g_autoptr (MsImapResponse) r = parse1 ("* 3 fetch (uid 7 flags (\\seen))\r\n");
  g_autoptr (MsImapResponse) t = parse1 ("a1 bad [alert] x\r\n");

  g_assert_cmpstr (ms_imap_response_get_keyword (r), ==, "FETCH");
  g_assert_nonnull (ms_imap_response_get_fetch_attr (r, "UID"));
  g_assert_cmpint (ms_imap_response_get_condition (t), ==, MS_IMAP_CONDITION_BAD);
  g_assert_cmpstr (ms_imap_response_get_code (t), ==, "ALERT");
}

static void
test_lenient_spaces (void)
{
  static const struct { const char *input, *want; } cases[] = {
    { "* SEARCH 5 7 \r\n", "* SEARCH 5 7" },
    { "* SEARCH \r\n", "* SEARCH" },
    { "* SEARCH\r\n", "* SEARCH" },
    { "* X ( a  b )  c\r\n", "* X (a b) c" },
    { "* X ()()\r\n", "* X () ()" },
    { "* X (a)(b)\r\n", "* X (a) (b)" },
    { "* X ((a)(b)(c))\r\n", "* X ((a) (b) (c))" },
    { "* OK [BADCHARSET  (a)  ] x\r\n", "* OK [BADCHARSET (a)] x" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *got = render1 (cases[i].input);
    g_assert_cmpstr (got, ==, cases[i].want);
  }
}

static void
test_to_string (void)
{
  static const struct { const char *input; gsize len; const char *want; } cases[] = {
    ROW ("* 1 FETCH (FLAGS (\\Seen) X \"q\\\"\\\\\x01\xc3\xa9\" NIL Y {3}\r\na\0b)\r\n",
         "* 1 FETCH (FLAGS (\\Seen) X \"q\\\"\\\\\\x01\\xc3\\xa9\" NIL Y {3}\"a\\x00b\")"),
    ROW ("a1 OK [APPENDUID 1 2] done\r\n", "a1 OK [APPENDUID 1 2] done"),
    ROW ("+ [ALERT] hey\r\n", "+ [ALERT] hey"),
    ROW ("+\r\n", "+"),
    ROW ("* OK tab\there\r\n", "* OK tab\\x09here"),
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *got = run (cases[i].input, cases[i].len, 0, NULL);
    g_autofree char *want = g_strdup_printf ("R: %s\nneed more", cases[i].want);
    g_assert_cmpstr (got, ==, want);
  }
}

/* Servers send CRLF; a bare LF is accepted; a CR elsewhere is an error. */
static void
test_crlf (void)
{
  g_autofree char *lf = run ("* OK a\n* 2 EXISTS\n", 18, 0, NULL);
  g_autofree char *split = run ("* OK a\r\n* 2 EXISTS\r\n", 20, 7, NULL);
  g_autofree char *cr = run ("* OK a\r", 7, 0, NULL);

  g_assert_cmpstr (lf, ==, "R: * OK a\nR: * 2 EXISTS\nneed more");
  g_assert_cmpstr (split, ==, "R: * OK a\nR: * 2 EXISTS\nneed more");
  g_assert_cmpstr (cr, ==, "need more");
  CHECK_ERROR ("* OK a\rb\r\n", MS_ERROR_PROTOCOL, "CR in response text (at byte 6, near \"* OK a\\x0db\")");
  CHECK_ERROR ("* OK a\r\r\n", MS_ERROR_PROTOCOL, "CR in response text (at byte 6, near \"* OK a\\x0d\")");
  CHECK_ERROR ("* 1 EXISTS\r\r\n", MS_ERROR_PROTOCOL, "expected a space after the response keyword, got byte 0x0d (at byte 10, near \"* 1 EXISTS\\x0d\")");
}

/* One call returns one response and leaves the rest to the caller: after a
 * tagged OK to STARTTLS the next bytes are TLS, not IMAP. */
static void
test_consumed (void)
{
  static const char input[] = "* 1 EXISTS\r\na1 OK Begin TLS negotiation now.\r\n\x16\x03\x01\x02\x00";
  g_autoptr (MsImapParser) p = ms_imap_parser_new ();
  gsize used = 0, off = 0;

  for (guint i = 0; i < 2; i++) {
    g_autoptr (MsImapResponse) r = NULL;
    g_assert_cmpint (ms_imap_parser_feed (p, input + off, sizeof input - 1 - off, &used, &r, NULL), ==,
                     MS_IMAP_COMPLETE);
    off += used;
  }
  g_assert_cmpuint (off, ==, strlen ("* 1 EXISTS\r\na1 OK Begin TLS negotiation now.\r\n"));

  /* Feeding nothing is fine. */
  g_autoptr (MsImapResponse) r = NULL;
  g_assert_cmpint (ms_imap_parser_feed (p, NULL, 0, &used, &r, NULL), ==, MS_IMAP_NEED_MORE);
  g_assert_cmpuint (used, ==, 0);
  g_assert_null (r);
}

/* ---- Literals ------------------------------------------------------------- */

static void
test_literal_inline (void)
{
  static const char input[] = "* 1 FETCH (BODY[] {5}\r\na\0b\r\n)\r\n";
  g_autoptr (MsImapParser) p = ms_imap_parser_new ();
  g_autoptr (MsImapResponse) r = NULL;
  gsize used = 0, len = 0;

  g_assert_cmpint (ms_imap_parser_feed (p, input, sizeof input - 1, &used, &r, NULL), ==, MS_IMAP_COMPLETE);
  const MsImapValue *body = ms_imap_response_get_fetch_attr (r, "BODY[]");
  const char *bytes = ms_imap_value_get_bytes (body, &len);
  g_assert_cmpmem (bytes, len, "a\0b\r\n", 5);
  g_assert_cmpint (bytes[5], ==, '\0');
  g_assert_false (ms_imap_value_is_binary (body));
  g_assert_cmpuint (ms_imap_value_get_literal_index (body), ==, 0);
}

static void
test_literal_forms (void)
{
  static const struct { const char *input; gsize len; const char *want; } cases[] = {
    ROW ("* 1 FETCH (BODY[] {0}\r\n)\r\n", "* 1 FETCH (BODY[] {0}\"\")"),
    ROW ("* LIST () \"/\" {3+}\r\nabc\r\n", "* LIST () \"/\" {3}\"abc\""),
    ROW ("* 1 FETCH (BINARY[] ~{3}\r\n\0\1\2)\r\n", "* 1 FETCH (BINARY[] ~{3}\"\\x00\\x01\\x02\")"),
    ROW ("* X {1}\r\n(\r\n", "* X {1}\"(\""),
    ROW ("* X ({1}\r\n) {2}\r\n\r\n)\r\n", "* X ({1}\")\" {2}\"\\x0d\\x0a\")"),
    ROW ("a1 NO [BADCHARSET ({5}\r\nUTF-8 {2}\r\n]))] bad\r\n", "a1 NO [BADCHARSET ({5}\"UTF-8\" {2}\"])\")] bad"),
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    gsize len = cases[i].len;
    for (gsize chunk = 0; chunk < 6; chunk++) {
      g_autofree char *got = run (cases[i].input, len, chunk, NULL);
      g_autofree char *want = g_strdup_printf ("R: %s\nneed more", cases[i].want);
      g_assert_cmpstr (got, ==, want);
    }
  }
}

/* Literals inside a code are streamed too if asked; the sink sees no keyword. */
static void
test_literal_in_code (void)
{
  static const char input[] = "a1 NO [BADCHARSET ({5}\r\nUTF-8)] unsupported\r\n";
  g_autoptr (MsImapResponse) r = parse1 (input);
  const MsImapValue *list = ms_imap_value_get_item (ms_imap_response_get_code_args (r), 0);
  g_autoptr (TestSink) sink = test_sink_new (STREAM_ALL);
  g_autofree char *got = run (input, sizeof input - 1, 3, sink);

  g_assert_cmpstr (ms_imap_value_get_bytes (ms_imap_value_get_item (list, 0), NULL), ==, "UTF-8");
  g_assert_cmpstr (ms_imap_response_get_text (r), ==, "unsupported");
  g_assert_cmpstr (sink->log->str, ==, "begin 5 #0 txt (code) - (none) stream|end|");
  g_assert_cmpstr (got, ==, "R: a1 NO [BADCHARSET ({5}<streamed #0>)] unsupported\nneed more");
}

/* A big body goes to the sink in the chunks it arrives in; the tree keeps
 * only its size; the bytes concatenate to the original. */
static void
test_streaming (void)
{
  const gsize body_len = 5 * 1024 * 1024 + 17;
  g_autoptr (GByteArray) body = g_byte_array_sized_new ((guint) body_len);
  g_autoptr (GString) input = g_string_new ("* 42 FETCH (UID 9 BODY[] ");
  g_autoptr (MsImapParser) p = ms_imap_parser_new ();
  g_autoptr (TestSink) sink = test_sink_new (STREAM_BODY);
  g_autoptr (MsImapResponse) r = NULL;
  gsize off = 0;
  guint feeds = 0;

  for (gsize i = 0; i < body_len; i++) {
    static const char alphabet[] = "abc )(\"{}\r\n*\0";
    guint8 ch = (guint8) alphabet[g_test_rand_int_range (0, sizeof alphabet - 1)];
    g_byte_array_append (body, &ch, 1);
  }
  g_string_append_printf (input, "{%" G_GSIZE_FORMAT "}\r\n", body_len);
  g_string_append_len (input, (const char *) body->data, (gssize) body_len);
  g_string_append (input, " FLAGS (\\Seen) BODY[HEADER] {4}\r\nX: y)\r\n");

  ms_imap_parser_set_literal_sink (p, &test_sink_funcs, sink);
  while (r == NULL) {
    gsize n = MIN ((gsize) g_test_rand_int_range (1, 300000), input->len - off), used = 0;
    MsImapParseResult res = ms_imap_parser_feed (p, input->str + off, n, &used, &r, NULL);
    g_assert_cmpint (res, !=, MS_IMAP_ERROR);
    off += used;
    feeds++;
  }
  g_assert_cmpuint (off, ==, input->len);
  g_assert_cmpuint (feeds, >, 10);
  /* The body, then the 4 bytes of BODY[HEADER]. */
  g_byte_array_append (body, (const guint8 *) "X: y", 4);
  g_assert_cmpmem (sink->bytes->data, sink->bytes->len, body->data, body->len);
  g_assert_cmpuint (sink->max_chunk, <, 300000);
  g_autofree char *want_log = g_strdup_printf ("begin %" G_GSIZE_FORMAT " #0 txt FETCH n=42 BODY[] stream|end|"
                                               "begin 4 #1 txt FETCH n=42 BODY[HEADER] stream|end|",
                                               body_len);
  g_assert_cmpstr (sink->log->str, ==, want_log);

  const MsImapValue *v = ms_imap_response_get_fetch_attr (r, "BODY[]");
  g_assert_cmpint (ms_imap_value_get_kind (v), ==, MS_IMAP_VALUE_LITERAL);
  g_assert_true (ms_imap_value_is_streamed (v));
  g_assert_cmpuint (ms_imap_value_get_literal_size (v), ==, body_len);
  g_assert_null (ms_imap_value_get_bytes (v, NULL));
  g_assert_cmpuint (ms_imap_value_get_literal_index (v), ==, 0);
  g_assert_cmpuint (ms_imap_value_get_literal_index (ms_imap_response_get_fetch_attr (r, "BODY[HEADER]")), ==, 1);
  g_autofree char *s = ms_imap_response_to_string (r);
  g_autofree char *want = g_strdup_printf ("* 42 FETCH (UID 9 BODY[] {%" G_GSIZE_FORMAT "}<streamed #0> FLAGS (\\Seen) "
                                           "BODY[HEADER] {4}<streamed #1>)", body_len);
  g_assert_cmpstr (s, ==, want);
}

/* The sink chooses per literal: here only BODY[] goes to it, the others stay. */
static void
test_sink_choice (void)
{
  static const char input[] = "* 3 FETCH (X-A {2}\r\nab BODY[] {3}\r\nxyz (BODY[] {1}\r\nq) ~{1}\r\nr)\r\n";
  g_autoptr (TestSink) sink = test_sink_new (STREAM_BODY);
  g_autofree char *got = run (input, sizeof input - 1, 1, sink);

  g_assert_cmpstr (got, ==, "R: * 3 FETCH (X-A {2}\"ab\" BODY[] {3}<streamed #1> (BODY[] {1}<streamed #2>) ~{1}\"r\")\n"
                            "need more");
  g_assert_cmpstr (sink->log->str, ==,
                   "begin 2 #0 txt FETCH n=3 X-A|"
                   "begin 3 #1 txt FETCH n=3 BODY[] stream|end|"
                   "begin 1 #2 txt FETCH n=3 BODY[] stream|end|"
                   "begin 1 #3 bin FETCH n=3 (none)|");
  g_assert_cmpmem (sink->bytes->data, sink->bytes->len, "xyzq", 4);

  /* An empty streamed literal still gets begin and end. */
  g_autoptr (TestSink) all = test_sink_new (STREAM_ALL);
  g_autofree char *empty = run ("* 1 FETCH (BODY[] {0}\r\n)\r\n", 26, 0, all);
  g_assert_cmpstr (empty, ==, "R: * 1 FETCH (BODY[] {0}<streamed #0>)\nneed more");
  g_assert_cmpstr (all->log->str, ==, "begin 0 #0 txt FETCH n=1 BODY[] stream|end|");
  g_assert_cmpuint (all->bytes->len, ==, 0);
}

/* The sink given when a literal began receives all of it. */
static void
test_sink_change_mid_literal (void)
{
  static const char head[] = "* 1 FETCH (BODY[] {6}\r\nabc";
  static const char tail[] = "def)\r\n";
  g_autoptr (MsImapParser) p = ms_imap_parser_new ();
  g_autoptr (TestSink) first = test_sink_new (STREAM_ALL);
  g_autoptr (MsImapResponse) r = NULL;
  gsize used;

  ms_imap_parser_set_literal_sink (p, &test_sink_funcs, first);
  g_assert_cmpint (ms_imap_parser_feed (p, head, sizeof head - 1, &used, &r, NULL), ==, MS_IMAP_NEED_MORE);
  ms_imap_parser_set_literal_sink (p, NULL, NULL);
  g_assert_cmpint (ms_imap_parser_feed (p, tail, sizeof tail - 1, &used, &r, NULL), ==, MS_IMAP_COMPLETE);
  g_assert_cmpmem (first->bytes->data, first->bytes->len, "abcdef", 6);
  g_assert_cmpuint (first->ends, ==, 1);
}

/* ---- Errors and reset ---------------------------------------------------------- */

static void
test_errors (void)
{
  static const struct { const char *input; gsize len; gint code; const char *message; } cases[] = {
    ROW ("* 3 FETCH (UID 5))\r\n", MS_ERROR_PROTOCOL, "unexpected ')' (at byte 17, near \"* 3 FETCH (UID 5))\")"),
    ROW ("* 3 FETCH (UID 5\r\n", MS_ERROR_PROTOCOL,
      "end of line inside the list opened at byte 10 (at byte 16, near \"* 3 FETCH (UID 5\")"),
    ROW ("a1 FOO bar\r\n", MS_ERROR_PROTOCOL, "expected OK, NO or BAD after the tag (at byte 3, near \"a1 FOO bar\")"),
    ROW ("a1 BYE bar\r\n", MS_ERROR_PROTOCOL, "expected OK, NO or BAD after the tag (at byte 3, near \"a1 BYE bar\")"),
    ROW ("a1\r\n", MS_ERROR_PROTOCOL, "expected a space after the tag, got end of line (at byte 2, near \"a1\")"),
    ROW ("a(1 OK\r\n", MS_ERROR_PROTOCOL, "expected a space after the tag, got '(' (at byte 1, near \"a(1 OK\")"),
    ROW ("a+ OK\r\n", MS_ERROR_PROTOCOL, "expected a space after the tag, got '+' (at byte 1, near \"a+ OK\")"),
    ROW ("(x)\r\n", MS_ERROR_PROTOCOL, "expected '*', '+' or a tag, got '(' (at byte 0, near \"(x)\")"),
    ROW (" * OK\r\n", MS_ERROR_PROTOCOL, "expected '*', '+' or a tag, got byte 0x20 (at byte 0, near \" * OK\")"),
    ROW ("\r\n", MS_ERROR_PROTOCOL, "empty response line (at byte 0, near \"\")"),
    ROW ("*OK\r\n", MS_ERROR_PROTOCOL, "expected a space after '*', got 'O' (at byte 1, near \"*OK\")"),
    ROW ("*\r\n", MS_ERROR_PROTOCOL, "expected a space after '*', got end of line (at byte 1, near \"*\")"),
    ROW ("* \r\n", MS_ERROR_PROTOCOL, "expected a response keyword, got end of line (at byte 2, near \"* \")"),
    ROW ("* (\r\n", MS_ERROR_PROTOCOL, "expected a response keyword, got '(' (at byte 2, near \"* (\")"),
    ROW ("* 12\r\n", MS_ERROR_PROTOCOL, "expected a space after the number, got end of line (at byte 4, near \"* 12\")"),
    ROW ("* 12 34\r\n", MS_ERROR_PROTOCOL, "expected a response keyword, got '3' (at byte 5, near \"* 12 34\")"),
    ROW ("* FLAGS(\\Seen)\r\n", MS_ERROR_PROTOCOL,
      "expected a space after the response keyword, got '(' (at byte 7, near \"* FLAGS(\\\\Seen)\")"),
    ROW ("* OK[ALERT] x\r\n", MS_ERROR_PROTOCOL,
      "expected a space after the response keyword, got '[' (at byte 4, near \"* OK[ALERT] x\")"),
    ROW ("+x\r\n", MS_ERROR_PROTOCOL, "expected a space after '+', got 'x' (at byte 1, near \"+x\")"),
    ROW ("* OK [ALERT\r\n", MS_ERROR_PROTOCOL,
      "expected ' ' or ']' after the response code, got end of line (at byte 11, near \"* OK [ALERT\")"),
    ROW ("* OK [ALERT(x)] y\r\n", MS_ERROR_PROTOCOL,
      "expected ' ' or ']' after the response code, got '(' (at byte 11, near \"* OK [ALERT(x)] y\")"),
    ROW ("* OK [] x\r\n", MS_ERROR_PROTOCOL, "expected a response code after '[', got ']' (at byte 6, near \"* OK [] x\")"),
    ROW ("* OK [UIDNEXT 5\r\n", MS_ERROR_PROTOCOL,
      "end of line inside the response code opened at byte 5 (at byte 15, near \"* OK [UIDNEXT 5\")"),
    ROW ("* OK [PERMANENTFLAGS (\\Seen] x\r\n", MS_ERROR_PROTOCOL,
      "unexpected ']' inside the list opened at byte 21 (at byte 27, near \"K [PERMANENTFLAGS (\\\\Seen] x\")"),
    ROW ("* OK [X a)] x\r\n", MS_ERROR_PROTOCOL, "unexpected ')' (at byte 9, near \"* OK [X a)] x\")"),
    ROW ("* OK te\0xt\r\n", MS_ERROR_PROTOCOL, "NUL in response text (at byte 7, near \"* OK te\\x00xt\")"),
    ROW ("* 3 FETCH (BODY[] {abc}\r\n", MS_ERROR_PROTOCOL,
      "expected the literal size, got 'a' (at byte 19, near \"* 3 FETCH (BODY[] {abc}\")"),
    ROW ("* 3 FETCH (BODY[] {}\r\n", MS_ERROR_PROTOCOL,
      "expected the literal size, got '}' (at byte 19, near \"* 3 FETCH (BODY[] {}\")"),
    ROW ("* 3 FETCH (BODY[] {5 }\r\n", MS_ERROR_PROTOCOL,
      "expected '}' after the literal size, got byte 0x20 (at byte 20, near \"* 3 FETCH (BODY[] {5 }\")"),
    ROW ("* 3 FETCH (BODY[] {5\r\n", MS_ERROR_PROTOCOL,
      "expected '}' after the literal size, got end of line (at byte 20, near \"* 3 FETCH (BODY[] {5\")"),
    ROW ("* 3 FETCH (BODY[] {5}x\r\n", MS_ERROR_PROTOCOL,
      "expected the end of line after a literal header, got 'x' (at byte 21, near \"* 3 FETCH (BODY[] {5}x\")"),
    ROW ("* 3 FETCH (BODY[] ~5\r\n", MS_ERROR_PROTOCOL, "end of line inside the list opened at byte 10 (at byte 20, near \"* 3 FETCH (BODY[] ~5\")"),
    ROW ("* LIST () \"/\" \"unterminated\r\n", MS_ERROR_PROTOCOL,
      "unterminated quoted string (at byte 14, near \"* LIST () \\\"/\\\" \\\"unterminated\")"),
    ROW ("* LIST () \"/\" \"a\\\r\n", MS_ERROR_PROTOCOL, "unterminated quoted string (at byte 14, near \"* LIST () \\\"/\\\" \\\"a\\\\\")"),
    ROW ("* X \"a\0\"\r\n", MS_ERROR_PROTOCOL, "NUL in quoted string (at byte 6, near \"* X \\\"a\\x00\\\"\")"),
    ROW ("* X \"a\\\0\"\r\n", MS_ERROR_PROTOCOL, "NUL in quoted string (at byte 7, near \"* X \\\"a\\\\\\x00\\\"\")"),
    ROW ("* X \"a\rb\"\r\n", MS_ERROR_PROTOCOL, "CR in quoted string (at byte 6, near \"* X \\\"a\\x0db\\\"\")"),
    ROW ("* LIST () \"/\"\"x\"\r\n", MS_ERROR_PROTOCOL,
      "expected a space before '\"' (at byte 13, near \"* LIST () \\\"/\\\"\\\"x\\\"\")"),
    ROW ("* X a{1}\r\nb\r\n", MS_ERROR_PROTOCOL, "expected a space before '{' (at byte 5, near \"* X a{1}\")"),
    ROW ("* X (a)b\r\n", MS_ERROR_PROTOCOL, "expected a space before 'b' (at byte 7, near \"* X (a)b\")"),
    ROW ("* X (a)\"b\"\r\n", MS_ERROR_PROTOCOL, "expected a space before '\"' (at byte 7, near \"* X (a)\\\"b\\\"\")"),
    ROW ("* X \"a\"(b)\r\n", MS_ERROR_PROTOCOL, "expected a space before '(' (at byte 7, near \"* X \\\"a\\\"(b)\")"),
    ROW ("* X a(b)\r\n", MS_ERROR_PROTOCOL, "expected a space before '(' (at byte 5, near \"* X a(b)\")"),
    ROW ("* X {1}\r\nab\r\n", MS_ERROR_PROTOCOL, "expected a space before 'b' (at byte 10, near \"b\")"),
    ROW ("* X a\x01\r\n", MS_ERROR_PROTOCOL, "unexpected byte 0x01 (at byte 5, near \"* X a\\x01\")"),
    ROW ("* X a\x7f\r\n", MS_ERROR_PROTOCOL, "unexpected byte 0x7f (at byte 5, near \"* X a\\x7f\")"),
    ROW ("* X (a)) b\r\n", MS_ERROR_PROTOCOL, "unexpected ')' (at byte 7, near \"* X (a)) b\")"),
    ROW ("* X a ) b\r\n", MS_ERROR_PROTOCOL, "unexpected ')' (at byte 6, near \"* X a ) b\")"),
    ROW ("* 1 FETCH (X {2}\r\nab\r\n", MS_ERROR_PROTOCOL,
      "end of line inside the list opened at byte 10 (at byte 20, near \"\")"),
    ROW ("a1 OK [X {2}\r\nab\r\n", MS_ERROR_PROTOCOL,
      "end of line inside the response code opened at byte 6 (at byte 16, near \"\")"),
    ROW ("* OK ok\r\na2 OK [ALERT\r\n", MS_ERROR_PROTOCOL,
      "expected ' ' or ']' after the response code, got end of line (at byte 12, near \"a2 OK [ALERT\")"),
    ROW ("* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT FROM DATE MESSAGE-ID)] \"x\"\0)\r\n", MS_ERROR_PROTOCOL,
      "unexpected byte 0x00 (at byte 65, near \"OM DATE MESSAGE-ID)] \\\"x\\\"\\x00)\")"),
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    check_error (cases[i].input, cases[i].len, cases[i].code, cases[i].message);
}

/* After an error, reset gives a parser as good as new; so does a reset in
 * the middle of a literal. */
static void
test_reset (void)
{
  static const char bad[] = "* 3 FETCH (UID 5))\r\n";
  static const char mid[] = "* 1 FETCH (BODY[] {100}\r\nabc";
  static const char good[] = "* 2 EXISTS\r\n";
  g_autoptr (MsImapParser) p = ms_imap_parser_new ();
  g_autoptr (TestSink) sink = test_sink_new (STREAM_ALL);
  gsize used = 0;

  {
    g_autoptr (GError) error = NULL;
    g_autoptr (MsImapResponse) r = NULL;
    g_assert_cmpint (ms_imap_parser_feed (p, bad, sizeof bad - 1, &used, &r, &error), ==, MS_IMAP_ERROR);
    g_assert_error (error, MS_ERROR, MS_ERROR_PROTOCOL);
    g_assert_null (r);
  }
  ms_imap_parser_reset (p);
  {
    g_autoptr (MsImapResponse) r = NULL;
    g_assert_cmpint (ms_imap_parser_feed (p, good, sizeof good - 1, &used, &r, NULL), ==, MS_IMAP_COMPLETE);
  }
  ms_imap_parser_set_literal_sink (p, &test_sink_funcs, sink);
  {
    g_autoptr (MsImapResponse) r = NULL;
    g_assert_cmpint (ms_imap_parser_feed (p, mid, sizeof mid - 1, &used, &r, NULL), ==, MS_IMAP_NEED_MORE);
  }
  ms_imap_parser_reset (p);
  g_assert_cmpuint (sink->ends, ==, 0);
  {
    g_autoptr (MsImapResponse) r = NULL;
    g_assert_cmpint (ms_imap_parser_feed (p, good, sizeof good - 1, &used, &r, NULL), ==, MS_IMAP_COMPLETE);
    g_assert_cmpuint (used, ==, sizeof good - 1);
  }
  /* A parser freed with a partial response does not leak (checked by valgrind/ASan). */
  {
    g_autoptr (MsImapParser) q = ms_imap_parser_new ();
    g_autoptr (MsImapResponse) r = NULL;
    g_assert_cmpint (ms_imap_parser_feed (q, "* X ((a {3}\r\nab", 15, &used, &r, NULL), ==, MS_IMAP_NEED_MORE);
  }
  ms_imap_parser_free (NULL);
  ms_imap_response_free (NULL);
}

/* ---- Limits ------------------------------------------------------------------- */

static void
test_limit_line (void)
{
  /* "* X " + atom + CRLF: a line of exactly MS_IMAP_LINE_MAX bytes passes. */
  g_autoptr (GString) s = g_string_new ("* X ");
  while (s->len < MS_IMAP_LINE_MAX)
    g_string_append_c (s, 'a');
  g_string_append (s, "\r\n");
  for (gsize chunk = 0; chunk < 3; chunk++) {
    g_autofree char *ok = run (s->str, s->len, chunk == 0 ? 0 : chunk == 1 ? 4096 : 1 << 20, NULL);
    g_assert_true (g_str_has_suffix (ok, "\nneed more"));
  }

  /* One more byte is too long, found as soon as it arrives or at the LF. */
  g_string_insert_c (s, 4, 'a');
  g_autofree char *want = g_strdup_printf ("error %d: line longer than %u bytes (at byte %u)", MS_ERROR_LIMIT,
                                           MS_IMAP_LINE_MAX, MS_IMAP_LINE_MAX);
  g_autofree char *whole = run (s->str, s->len, 0, NULL);
  g_autofree char *pieces = run (s->str, s->len, 4096, NULL);
  g_autofree char *no_lf = run (s->str, s->len - 1, 4096, NULL);
  g_assert_cmpstr (whole, ==, want);
  g_assert_cmpstr (pieces, ==, want);
  g_assert_cmpstr (no_lf, ==, want);

  /* The limit is per line: lines joined by literals may add up to more.  The
   * byte offset counts from the start of the response. */
  g_autoptr (GString) two = g_string_new ("* X ");
  while (two->len < MS_IMAP_LINE_MAX - 4)
    g_string_append_c (two, 'b');
  g_string_append (two, " {1}\r\nc ");
  while (two->len < 2 * MS_IMAP_LINE_MAX)
    g_string_append_c (two, 'd');
  g_string_append (two, "\r\n");
  g_autofree char *joined = run (two->str, two->len, 0, NULL);
  g_assert_true (g_str_has_suffix (joined, "\nneed more"));
  g_string_insert (two, MS_IMAP_LINE_MAX + 10, "dddd");
  g_autofree char *too_long = run (two->str, two->len, 65536, NULL);
  g_autofree char *want2 = g_strdup_printf ("error %d: line longer than %u bytes (at byte %u)", MS_ERROR_LIMIT,
                                            MS_IMAP_LINE_MAX, MS_IMAP_LINE_MAX + 3 + MS_IMAP_LINE_MAX);
  g_assert_cmpstr (too_long, ==, want2);
}

static void
test_limit_depth (void)
{
  g_autoptr (GString) ok = g_string_new ("* X ");
  for (guint i = 0; i < MS_IMAP_DEPTH_MAX; i++)
    g_string_append_c (ok, '(');
  for (guint i = 0; i < MS_IMAP_DEPTH_MAX; i++)
    g_string_append_c (ok, ')');
  g_string_append (ok, "\r\n");
  g_autofree char *got = run (ok->str, ok->len, 0, NULL);
  g_assert_true (g_str_has_prefix (got, "R: * X (((("));

  /* Nesting counts across literals, and depth returns as lists close. */
  g_autofree char *again = run ("* X ((a) (b {1}\r\nc) (d))\r\n", 26, 0, NULL);
  g_assert_cmpstr (again, ==, "R: * X ((a) (b {1}\"c\") (d))\nneed more");

  g_string_insert_c (ok, 4, '(');
  g_string_insert_c (ok, ok->len - 2, ')');
  g_autofree char *want = g_strdup_printf ("lists nested deeper than %d levels (at byte %d, near \"%s\")",
                                           MS_IMAP_DEPTH_MAX, 4 + MS_IMAP_DEPTH_MAX, "((((((((((((((((((((((((()))))))))))))))");
  check_error (ok->str, ok->len, MS_ERROR_LIMIT, want);

  /* Inside a response code too. */
  g_autoptr (GString) code = g_string_new ("* OK [X ");
  for (guint i = 0; i <= MS_IMAP_DEPTH_MAX; i++)
    g_string_append_c (code, '(');
  g_string_append (code, "\r\n");
  g_autofree char *got_code = run (code->str, code->len, 0, NULL);
  g_assert_true (g_str_has_prefix (got_code, "error 4: lists nested deeper than 32 levels (at byte 40, "));
}

static void
test_limit_values (void)
{
  g_autoptr (GString) s = g_string_new ("* SEARCH");
  for (guint i = 0; i < MS_IMAP_VALUES_MAX; i++)
    g_string_append (s, " 1");
  g_string_append (s, "\r\n");
  g_autoptr (MsImapResponse) r = parse1 (s->str);
  g_assert_cmpuint (ms_imap_value_get_n_items (ms_imap_response_get_data (r)), ==, MS_IMAP_VALUES_MAX);

  /* Lists count as values too. */
  g_string_insert (s, 9, "() ");
  g_autofree char *got = run (s->str, s->len, 0, NULL);
  g_autofree char *want = g_strdup_printf ("error %d: more than %u values in one response (at byte %u, near \"1 1 1 1 1 1 1 1 1 1 1 1 1\")",
                                           MS_ERROR_LIMIT, MS_IMAP_VALUES_MAX, 2 * MS_IMAP_VALUES_MAX + 10);
  g_assert_cmpstr (got, ==, want);

  /* Whichever kind of value is the one too many. */
  static const char *const extra[] = { "\"x\"\r\n", "{1}\r\nx\r\n", "NIL\r\n", "(\r\n", "abc\r\n" };
  for (guint k = 0; k < G_N_ELEMENTS (extra); k++) {
    g_autoptr (GString) t = g_string_new ("* SEARCH");
    for (guint i = 0; i < MS_IMAP_VALUES_MAX; i++)
      g_string_append (t, " 1");
    g_string_append_printf (t, " %s", extra[k]);
    g_autofree char *one_more = run (t->str, t->len, 0, NULL);
    g_autofree char *prefix = g_strdup_printf ("error 4: more than %u values in one response (at byte %u, ",
                                               MS_IMAP_VALUES_MAX, 9 + 2 * MS_IMAP_VALUES_MAX);
    g_assert_true (g_str_has_prefix (one_more, prefix));
  }

  /* The count is per response. */
  g_autoptr (GString) twice = g_string_new (NULL);
  for (guint k = 0; k < 2; k++) {
    g_string_append (twice, "* SEARCH");
    for (guint i = 0; i < MS_IMAP_VALUES_MAX; i++)
      g_string_append (twice, " 1");
    g_string_append (twice, "\r\n");
  }
  g_autofree char *both = run (twice->str, twice->len, 100000, NULL);
  g_assert_true (g_str_has_suffix (both, "\nneed more"));
}

/* Many small in-memory literals cannot add up to more than the byte cap. */
static void
test_limit_bytes (void)
{
  g_autoptr (GString) s = g_string_new ("* 1 FETCH (");
  g_autofree char *chunk = g_strnfill (MS_IMAP_INLINE_LITERAL_MAX, 'z');
  guint n = MS_IMAP_RESPONSE_BYTES_MAX / (MS_IMAP_INLINE_LITERAL_MAX + 1);
  gsize at = 0;

  for (guint i = 0; i <= n; i++) {
    g_string_append_printf (s, "X%u {%u}\r\n", i, MS_IMAP_INLINE_LITERAL_MAX);
    at = s->len - 2 - strlen ("{65536}");
    g_string_append (s, chunk);
    g_string_append_c (s, ' ');
  }
  g_string_append (s, ")\r\n");
  g_autofree char *got = run (s->str, s->len, 0, NULL);
  g_autofree char *want = g_strdup_printf ("error %d: more than %u bytes of text in one response (at byte %" G_GSIZE_FORMAT ", near \" X%u {65536}\")",
                                           MS_ERROR_LIMIT, MS_IMAP_RESPONSE_BYTES_MAX, at, n);
  g_assert_cmpstr (got, ==, want);

  /* The same bytes streamed are fine. */
  g_autoptr (TestSink) sink = test_sink_new (STREAM_ALL);
  g_autofree char *streamed = run (s->str, s->len, 0, sink);
  g_assert_true (g_str_has_suffix (streamed, "\nneed more"));
  g_assert_cmpuint (sink->bytes->len, ==, (n + 1) * (gsize) MS_IMAP_INLINE_LITERAL_MAX);

  /* Quoted strings and atoms count too (lines joined by empty literals). */
  for (guint quoted = 0; quoted < 2; quoted++) {
    g_autoptr (GString) q = g_string_new ("* X");
    while (q->len < MS_IMAP_RESPONSE_BYTES_MAX + 100) {
      g_string_append (q, quoted ? " \"" : " ");
      g_string_append_len (q, chunk, 60000);
      g_string_append (q, quoted ? "\" {0}\r\n" : " {0}\r\n");
    }
    g_string_append (q, "\r\n");
    g_autofree char *got_q = run (q->str, q->len, 0, NULL);
    g_assert_true (g_str_has_prefix (got_q, "error 4: more than 8388608 bytes of text in one response (at byte "));
  }
}

static void
test_limit_literal (void)
{
  g_autoptr (TestSink) sink = test_sink_new (STREAM_ALL);
  g_autofree char *big = g_strdup_printf ("* 1 FETCH (BODY[] {%u}\r\n", MS_IMAP_LITERAL_MAX + 1);
  g_autofree char *got = run (big, strlen (big), 0, sink);
  g_autofree char *want = g_strdup_printf ("error %d: literal of %u bytes is larger than the limit of %u bytes (at byte 18, near \"* 1 FETCH (BODY[] {1073741825}\")",
                                           MS_ERROR_LIMIT, MS_IMAP_LITERAL_MAX + 1, MS_IMAP_LITERAL_MAX);
  g_assert_cmpstr (got, ==, want);
  g_assert_cmpuint (sink->begins, ==, 0);

  /* Exactly the limit is accepted (and streamed). */
  g_autofree char *max = g_strdup_printf ("* 1 FETCH (BODY[] {%u}\r\nabc", MS_IMAP_LITERAL_MAX);
  g_autofree char *max_got = run (max, strlen (max), 0, sink);
  g_assert_cmpstr (max_got, ==, "need more");
  g_assert_cmpuint (sink->bytes->len, ==, 3);

  CHECK_ERROR ("* 1 FETCH (BODY[] {99999999999999999999999}\r\n", MS_ERROR_LIMIT,
               "literal of 99999999999999999999999 bytes is larger than the limit of 1073741824 bytes (at byte 18, near \"* 1 FETCH (BODY[] {999999999999999\")");
}

static void
test_limit_inline_literal (void)
{
  g_autofree char *over = g_strdup_printf ("* 1 FETCH (BODY[] {%u}\r\n", MS_IMAP_INLINE_LITERAL_MAX + 1);
  g_autofree char *want = g_strdup_printf ("literal of %u bytes is larger than the in-memory limit of %u bytes and is not streamed (at byte 18, near \"* 1 FETCH (BODY[] {65537}\")",
                                           MS_IMAP_INLINE_LITERAL_MAX + 1, MS_IMAP_INLINE_LITERAL_MAX);
  check_error (over, strlen (over), MS_ERROR_LIMIT, want);

  /* A sink that declines is the same as none. */
  g_autoptr (TestSink) sink = test_sink_new (STREAM_BODY);
  g_autofree char *x = g_strdup_printf ("* 1 FETCH (X {%u}\r\n", MS_IMAP_INLINE_LITERAL_MAX + 1);
  g_autofree char *got = run (x, strlen (x), 0, sink);
  g_assert_true (g_str_has_prefix (got, "error 4: literal of 65537 bytes is larger than the in-memory limit"));

  /* Exactly the inline limit stays in memory. */
  g_autoptr (GString) s = g_string_new (NULL);
  g_autofree char *body = g_strnfill (MS_IMAP_INLINE_LITERAL_MAX, 'q');
  g_string_printf (s, "* 1 FETCH (BODY[] {%u}\r\n%s)\r\n", MS_IMAP_INLINE_LITERAL_MAX, body);
  g_autoptr (MsImapResponse) r = parse1 (s->str);
  gsize len = 0;
  g_assert_cmpstr (ms_imap_value_get_bytes (ms_imap_response_get_fetch_attr (r, "BODY[]"), &len), ==, body);
}

/* ---- Sequence sets ---------------------------------------------------------------- */

static char *
seq_str (const char *text, guint32 star)
{
  g_autoptr (GArray) ranges = NULL;
  g_autoptr (GError) error = NULL;
  GString *out = g_string_new (NULL);

  if (!ms_imap_seq_set_parse (text, strlen (text), star, &ranges, &error)) {
    g_assert_null (ranges);
    g_string_append_printf (out, "error %d: %s", error->code, error->message);
    return g_string_free (out, FALSE);
  }
  for (guint i = 0; i < ranges->len; i++) {
    MsImapRange *r = &g_array_index (ranges, MsImapRange, i);
    g_string_append_printf (out, "%s%u-%u", i ? "," : "", r->first, r->last);
  }
  return g_string_free (out, FALSE);
}

static void
test_seq_set (void)
{
  static const struct { const char *text; guint32 star; const char *want; } cases[] = {
    { "1", 10, "1-1" },
    { "1:5,7,9:*", 20, "1-5,7-7,9-20" },
    { "9:*", G_MAXUINT32, "9-4294967295" },
    { "*", 3, "3-3" },
    { "*:4", 3, "3-4" },
    { "7:3", 10, "3-7" },
    { "4294967295", 1, "4294967295-4294967295" },
    { "1,1,1", 1, "1-1,1-1,1-1" },
    { "300:310,405,411", 1, "300-310,405-405,411-411" },
    { "", 1, "error 3: empty sequence set" },
    { "0", 1, "error 3: sequence number 0 in sequence set (at offset 0, near \"0\")" },
    { "1:0", 1, "error 3: sequence number 0 in sequence set (at offset 2, near \"1:0\")" },
    { "4294967296", 1, "error 3: sequence number larger than 4294967295 in sequence set (at offset 0, near \"4294967296\")" },
    { "1,,2", 1, "error 3: expected a number or '*' in sequence set (at offset 2, near \"1,,2\")" },
    { "1,", 1, "error 3: expected a number or '*' in sequence set (at offset 2, near \"1,\")" },
    { ",1", 1, "error 3: expected a number or '*' in sequence set (at offset 0, near \",1\")" },
    { "1:", 1, "error 3: expected a number or '*' in sequence set (at offset 2, near \"1:\")" },
    { "1:2:3", 1, "error 3: expected ',' or ':' in sequence set (at offset 3, near \"1:2:3\")" },
    { "1 2", 1, "error 3: expected ',' or ':' in sequence set (at offset 1, near \"1 2\")" },
    { "-1", 1, "error 3: expected a number or '*' in sequence set (at offset 0, near \"-1\")" },
    { "1:**", 1, "error 3: expected ',' or ':' in sequence set (at offset 3, near \"1:**\")" },
    { "$", 1, "error 3: expected a number or '*' in sequence set (at offset 0, near \"$\")" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *got = seq_str (cases[i].text, cases[i].star);
    g_assert_cmpstr (got, ==, cases[i].want);
  }

  /* From values: atoms and numbers only. */
  g_autoptr (MsImapResponse) r = parse1 ("* X 5 \"1:2\" (3)\r\n");
  const MsImapValue *d = ms_imap_response_get_data (r);
  g_autoptr (GArray) ranges = NULL;
  g_autoptr (GError) error = NULL;
  g_assert_true (ms_imap_value_get_seq_set (ms_imap_value_get_item (d, 0), 9, &ranges, NULL));
  g_assert_cmpuint (ranges->len, ==, 1);
  g_assert_false (ms_imap_value_get_seq_set (ms_imap_value_get_item (d, 1), 9, &ranges, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_PROTOCOL);
  g_assert_cmpstr (error->message, ==, "expected a sequence set, got a quoted string");
  g_clear_error (&error);
  g_assert_false (ms_imap_value_get_seq_set (ms_imap_value_get_item (d, 2), 9, &ranges, &error));
  g_assert_cmpstr (error->message, ==, "expected a sequence set, got a list");
}

static void
test_seq_set_limit (void)
{
  g_autoptr (GString) s = g_string_new ("1");
  for (guint i = 1; i < MS_IMAP_SEQ_SET_RANGES_MAX; i++)
    g_string_append (s, ",1");
  g_autoptr (GArray) ranges = NULL;
  g_autoptr (GError) error = NULL;
  g_assert_true (ms_imap_seq_set_parse (s->str, s->len, 1, &ranges, NULL));
  g_assert_cmpuint (ranges->len, ==, MS_IMAP_SEQ_SET_RANGES_MAX);
  g_clear_pointer (&ranges, g_array_unref);

  g_string_append (s, ",2");
  g_assert_false (ms_imap_seq_set_parse (s->str, s->len, 1, &ranges, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_LIMIT);
  g_autofree char *want = g_strdup_printf ("more than %u ranges in a sequence set (at offset %" G_GSIZE_FORMAT ", near \"1,1,1,1,1,1,1,1,1,1,1,1,2\")",
                                           MS_IMAP_SEQ_SET_RANGES_MAX, s->len - 1);
  g_assert_cmpstr (error->message, ==, want);
  g_assert_null (ranges);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/imap-parser/corpus/bytewise", test_corpus_bytewise);
  g_test_add_func ("/imap-parser/corpus/bytewise-streamed", test_corpus_bytewise_streamed);
  g_test_add_func ("/imap-parser/corpus/malformed", test_corpus_malformed);
  g_test_add_func ("/imap-parser/greeting", test_greeting);
  g_test_add_func ("/imap-parser/conditions", test_conditions);
  g_test_add_func ("/imap-parser/tagged", test_tagged);
  g_test_add_func ("/imap-parser/copyuid", test_copyuid);
  g_test_add_func ("/imap-parser/permanentflags", test_permanentflags);
  g_test_add_func ("/imap-parser/select-codes", test_select_codes);
  g_test_add_func ("/imap-parser/fetch", test_fetch);
  g_test_add_func ("/imap-parser/sections", test_sections);
  g_test_add_func ("/imap-parser/numbers", test_numbers);
  g_test_add_func ("/imap-parser/strings-and-nil", test_strings_and_nil);
  g_test_add_func ("/imap-parser/lists", test_lists);
  g_test_add_func ("/imap-parser/vanished", test_vanished);
  g_test_add_func ("/imap-parser/list-response", test_list_response);
  g_test_add_func ("/imap-parser/case-insensitive", test_case_insensitive);
  g_test_add_func ("/imap-parser/lenient-spaces", test_lenient_spaces);
  g_test_add_func ("/imap-parser/to-string", test_to_string);
  g_test_add_func ("/imap-parser/crlf", test_crlf);
  g_test_add_func ("/imap-parser/consumed", test_consumed);
  g_test_add_func ("/imap-parser/literal/inline", test_literal_inline);
  g_test_add_func ("/imap-parser/literal/forms", test_literal_forms);
  g_test_add_func ("/imap-parser/literal/in-code", test_literal_in_code);
  g_test_add_func ("/imap-parser/literal/streaming", test_streaming);
  g_test_add_func ("/imap-parser/literal/sink-choice", test_sink_choice);
  g_test_add_func ("/imap-parser/literal/sink-change", test_sink_change_mid_literal);
  g_test_add_func ("/imap-parser/errors", test_errors);
  g_test_add_func ("/imap-parser/reset", test_reset);
  g_test_add_func ("/imap-parser/limit/line", test_limit_line);
  g_test_add_func ("/imap-parser/limit/depth", test_limit_depth);
  g_test_add_func ("/imap-parser/limit/values", test_limit_values);
  g_test_add_func ("/imap-parser/limit/bytes", test_limit_bytes);
  g_test_add_func ("/imap-parser/limit/literal", test_limit_literal);
  g_test_add_func ("/imap-parser/limit/inline-literal", test_limit_inline_literal);
  g_test_add_func ("/imap-parser/seq-set/parse", test_seq_set);
  g_test_add_func ("/imap-parser/seq-set/limit", test_seq_set_limit);

  return g_test_run ();
}
