/* test-json-writer.c — the JSON emitter: structure, commas, and string
 * escaping, including bytes that are not UTF-8. */
#include <glib.h>
#include <string.h>

#include "json-writer.h"

static char *
quoted (const char *s, gsize len)
{
  GString *out = g_string_new (NULL);
  ms_json_append_string (out, s, len);
  return g_string_free (out, FALSE);
}

static void
check_quoted (const char *in, gsize len, const char *want)
{
  g_autofree char *got = quoted (in, len);
  g_assert_cmpstr (got, ==, want);
}

static void
test_escapes (void)
{
  check_quoted ("plain", 5, "\"plain\"");
  check_quoted ("", 0, "\"\"");
  check_quoted ("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
  check_quoted ("\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\"");
  check_quoted ("\001\037\177", 3, "\"\\u0001\\u001f\\u007f\"");
  check_quoted ("/", 1, "\"/\"");
}

static void
test_utf8 (void)
{
  /* Valid UTF-8 passes through; U+2028 and U+2029 are escaped. */
  check_quoted ("caf\303\251 \342\202\254", 9, "\"caf\303\251 \342\202\254\"");
  check_quoted ("\342\200\250x\342\200\251", 7, "\"\\u2028x\\u2029\"");
  /* Bytes that are not UTF-8 become the text \xNN. */
  check_quoted ("caf\351", 4, "\"caf\\\\xe9\"");
  check_quoted ("\377\376", 2, "\"\\\\xff\\\\xfe\"");
  /* A truncated sequence at the end. */
  check_quoted ("a\303", 2, "\"a\\\\xc3\"");
  /* An overlong encoding of '/' is not UTF-8. */
  check_quoted ("\300\257", 2, "\"\\\\xc0\\\\xaf\"");
}

static void
test_document (void)
{
  g_autoptr (MsJsonWriter) j = ms_json_writer_new ();

  ms_json_begin_object (j);
  ms_json_key (j, "a");
  ms_json_int (j, 1);
  ms_json_key (j, "b");
  ms_json_begin_array (j);
  ms_json_string (j, "x");
  ms_json_null (j);
  ms_json_bool (j, TRUE);
  ms_json_bool (j, FALSE);
  ms_json_begin_object (j);
  ms_json_end_object (j);
  ms_json_begin_array (j);
  ms_json_end_array (j);
  ms_json_int (j, -42);
  ms_json_end_array (j);
  ms_json_key (j, "c\n");
  ms_json_string (j, NULL);
  ms_json_key (j, "d");
  ms_json_string_len (j, "ab\0c", 4);
  ms_json_end_object (j);

  g_autofree char *text = ms_json_writer_finish (g_steal_pointer (&j));
  g_assert_cmpstr (text, ==,
                   "{\"a\":1,\"b\":[\"x\",null,true,false,{},[],-42],\"c\\n\":null,\"d\":\"ab\\u0000c\"}");
}

static void
test_scalar_top (void)
{
  MsJsonWriter *j = ms_json_writer_new ();
  ms_json_int (j, G_MAXINT64);
  g_autofree char *text = ms_json_writer_finish (j);
  g_assert_cmpstr (text, ==, "9223372036854775807");
}

/* Misuse is refused without corrupting the output. */
static void
test_misuse (void)
{
  if (g_test_subprocess ()) {
    g_autoptr (MsJsonWriter) j = ms_json_writer_new ();
    ms_json_begin_object (j);
    ms_json_int (j, 1); /* a value without a key */
    return;
  }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_stderr ("*CRITICAL*want_value*");
}

static void
test_unfinished (void)
{
  if (g_test_subprocess ()) {
    MsJsonWriter *j = ms_json_writer_new ();
    ms_json_begin_array (j);
    g_assert_null (ms_json_writer_finish (j));
    return;
  }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_stderr ("*CRITICAL*");
}

static void
test_depth (void)
{
  g_autoptr (MsJsonWriter) j = ms_json_writer_new ();
  for (int i = 0; i < MS_JSON_MAX_DEPTH; i++)
    ms_json_begin_array (j);
  for (int i = 0; i < MS_JSON_MAX_DEPTH; i++)
    ms_json_end_array (j);
  g_assert_cmpuint (ms_json_writer_length (j), ==, 2 * MS_JSON_MAX_DEPTH);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/json/escapes", test_escapes);
  g_test_add_func ("/json/utf8", test_utf8);
  g_test_add_func ("/json/document", test_document);
  g_test_add_func ("/json/scalar-top", test_scalar_top);
  g_test_add_func ("/json/misuse", test_misuse);
  g_test_add_func ("/json/unfinished", test_unfinished);
  g_test_add_func ("/json/depth", test_depth);
  return g_test_run ();
}
