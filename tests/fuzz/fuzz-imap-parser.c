/* fuzz-imap-parser.c — the IMAP response parser gives the same responses,
 * the same streamed literal bytes and the same error however its input is
 * cut into chunks, never crashes or leaks, and can be reset after an error.
 *
 * Input format: the first byte chooses how to feed, the rest is what a
 * server sent.  Bits 0-2 pick the chunk size (1, 2, 3, 7, 16, 61, 512 or
 * 65536 bytes), bits 3-4 the literal sink: 0 none, 1 streams literals after
 * a BODY[...] or BINARY[...] attribute, 2 streams every literal, 3 streams
 * literals over 8 bytes.  Seeds start with a letter for this: '@' to 'G'
 * feed 1 ... 65536 bytes at a time without a sink, 'H' to 'O' stream
 * BODY[] literals, 'P' to 'W' stream all, 'X' to '_' stream those over 8
 * bytes.  Seeds named ok-* are valid server output (the unit test replays
 * them byte by byte), bad-* are malformed.
 */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "imap-parser.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

typedef struct {
  guint mode;
  gboolean open;      /* between begin and end */
  guint64 expected;   /* size announced by begin */
  GString *streamed;  /* every streamed byte, with a marker per literal */
  guint64 got;
} Sink;

static gboolean
sink_begin (const MsImapLiteralInfo *info, gpointer user_data)
{
  Sink *s = user_data;
  gboolean stream = FALSE;

  g_assert_false (s->open);
  switch (s->mode) {
  case 1:
    stream = info->attribute != NULL
             && (g_ascii_strncasecmp (info->attribute, "BODY[", 5) == 0
                 || g_ascii_strncasecmp (info->attribute, "BINARY[", 7) == 0);
    break;
  case 2:
    stream = TRUE;
    break;
  case 3:
    stream = info->size > 8;
    break;
  }
  if (stream) {
    s->open = TRUE;
    s->expected = info->size;
    s->got = 0;
    g_string_append_printf (s->streamed, "<%u:%" G_GUINT64_FORMAT ">", info->index, info->size);
  }
  return stream;
}

static void
sink_data (const char *bytes, gsize len, gpointer user_data)
{
  Sink *s = user_data;
  g_assert_true (s->open);
  g_assert_cmpuint (len, >, 0);
  s->got += len;
  g_assert_cmpuint (s->got, <=, s->expected);
  g_string_append_len (s->streamed, bytes, (gssize) len);
}

static void
sink_end (gpointer user_data)
{
  Sink *s = user_data;
  g_assert_true (s->open);
  g_assert_cmpuint (s->got, ==, s->expected);
  s->open = FALSE;
  g_string_append_c (s->streamed, '|');
}

static const MsImapLiteralSink sink_funcs = { sink_begin, sink_data, sink_end };

/* Calls every accessor on a value tree, so that each is run on odd input. */
static void
exercise (const MsImapValue *v, guint *budget)
{
  gsize len = 0;
  guint64 n;
  const char *bytes = ms_imap_value_get_bytes (v, &len);

  if (*budget == 0)
    return;
  (*budget)--;
  if (bytes != NULL)
    g_assert_cmpint (bytes[len], ==, '\0');
  if (ms_imap_value_get_number (v, &n))
    g_assert_true (g_ascii_isdigit (bytes[0]));
  (void) ms_imap_value_is_nil (v);
  (void) ms_imap_value_is_atom (v, "UID");
  (void) ms_imap_value_get_literal_size (v);
  (void) ms_imap_value_is_streamed (v);
  (void) ms_imap_value_is_binary (v);
  (void) ms_imap_value_get_literal_index (v);
  if (ms_imap_value_get_kind (v) == MS_IMAP_VALUE_ATOM || ms_imap_value_get_kind (v) == MS_IMAP_VALUE_NUMBER) {
    g_autoptr (GArray) ranges = NULL;
    g_autoptr (GError) error = NULL;
    if (ms_imap_value_get_seq_set (v, 1000, &ranges, &error)) {
      for (guint i = 0; i < ranges->len; i++) {
        MsImapRange *r = &g_array_index (ranges, MsImapRange, i);
        g_assert_cmpuint (r->first, >=, 1);
        g_assert_cmpuint (r->first, <=, r->last);
      }
    } else {
      g_assert_nonnull (error);
    }
  }
  (void) ms_imap_value_lookup (v, 0, "FLAGS");
  for (guint i = 0; i < ms_imap_value_get_n_items (v); i++)
    exercise (ms_imap_value_get_item (v, i), budget);
}

/* Feeds the input in chunks of `chunk` bytes (0: all that is left at once)
 * and describes every response and the final outcome in *log. */
static void
run (const char *input, gsize size, gsize chunk, guint mode, GString *log)
{
  g_autoptr (MsImapParser) parser = ms_imap_parser_new ();
  Sink sink = { .mode = mode, .streamed = g_string_new (NULL) };
  gsize off = 0;
  gboolean failed = FALSE;

  if (mode != 0)
    ms_imap_parser_set_literal_sink (parser, &sink_funcs, &sink);

  while (off < size && !failed) {
    gsize end = chunk == 0 ? size : MIN (size, off + chunk);
    while (off < end) {
      g_autoptr (MsImapResponse) response = NULL;
      g_autoptr (GError) error = NULL;
      gsize used = 0;
      MsImapParseResult res = ms_imap_parser_feed (parser, input + off, end - off, &used, &response, &error);

      if (res == MS_IMAP_ERROR) {
        g_assert_nonnull (error);
        g_assert_null (response);
        g_string_append_printf (log, "error %d: %s\n", error->code, error->message);
        failed = TRUE;
        break;
      }
      g_assert_null (error);
      g_assert_cmpuint (used, <=, end - off);
      off += used;
      if (res == MS_IMAP_NEED_MORE) {
        g_assert_cmpuint (off, ==, end);
        g_assert_null (response);
        continue;
      }
      g_assert_cmpuint (used, >, 0);
      g_assert_false (sink.open);

      g_autofree char *text = ms_imap_response_to_string (response);
      guint budget = 2000;
      guint64 number;
      g_string_append_printf (log, "%s\n", text);
      g_string_append_printf (log, "streamed %s\n", sink.streamed->str);
      g_string_truncate (sink.streamed, 0);
      exercise (ms_imap_response_get_data (response), &budget);
      if (ms_imap_response_get_code_args (response) != NULL)
        exercise (ms_imap_response_get_code_args (response), &budget);
      (void) ms_imap_response_get_fetch_attr (response, "UID");
      (void) ms_imap_response_get_fetch_attr (response, "BODY[]");
      (void) ms_imap_response_get_number (response, &number);
      (void) ms_imap_response_get_tag (response);
      (void) ms_imap_response_get_text (response);
      (void) ms_imap_response_get_keyword (response);
      (void) ms_imap_response_get_condition (response);
    }
  }
  if (!failed)
    g_string_append_printf (log, "need more\n");

  /* Whatever happened, a reset parser reads a fresh response. */
  ms_imap_parser_reset (parser);
  {
    static const char ok[] = "* OK still here\r\n";
    g_autoptr (MsImapResponse) response = NULL;
    gsize used = 0;
    g_assert_cmpint (ms_imap_parser_feed (parser, ok, strlen (ok), &used, &response, NULL), ==,
                     MS_IMAP_COMPLETE);
    g_assert_cmpuint (used, ==, strlen (ok));
  }
  g_string_free (sink.streamed, TRUE);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const gsize chunks[] = { 1, 2, 3, 7, 16, 61, 512, 65536 };

  if (size < 1)
    return 0;
  gsize chunk = chunks[data[0] & 7];
  guint mode = (data[0] >> 3) & 3;
  const char *input = (const char *) data + 1;
  size--;

  g_autoptr (GString) whole = g_string_new (NULL);
  g_autoptr (GString) pieces = g_string_new (NULL);
  run (input, size, 0, mode, whole);
  run (input, size, chunk, mode, pieces);
  g_assert_cmpstr (whole->str, ==, pieces->str);
  return 0;
}
