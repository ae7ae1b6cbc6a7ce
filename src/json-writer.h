/* json-writer.h — a small streaming JSON emitter, for `mswatch --status --json`.
 *
 * Pure: it appends to a growing string and does no I/O.  The caller emits
 * values in document order (begin an object, a key, its value, ...); the
 * writer puts the commas and colons in and escapes strings, so the output is
 * always valid JSON (RFC 8259) if the calls are balanced.  Unbalanced calls
 * are programmer errors (g_return_if_fail).
 *
 * Strings: JSON text is Unicode, but a mailbox name is bytes and need not be
 * UTF-8.  Bytes that are not valid UTF-8 are written as the four characters
 * \xNN (a backslash, 'x' and two hex digits), which is how mswatch's log
 * lines show them too; control characters, '"' and '\' get JSON escapes, and
 * so do U+2028 and U+2029 (so the output is also a safe JavaScript literal).
 */
#pragma once

#include <glib.h>

/* Objects and arrays nest at most this deep: the status document needs four
 * levels; the cap keeps the writer's state a fixed-size bit set. */
#define MS_JSON_MAX_DEPTH 32

typedef struct MsJsonWriter MsJsonWriter;

MsJsonWriter *ms_json_writer_new (void);
void ms_json_writer_free (MsJsonWriter *writer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsJsonWriter, ms_json_writer_free)

void ms_json_begin_object (MsJsonWriter *writer);
void ms_json_end_object (MsJsonWriter *writer);
void ms_json_begin_array (MsJsonWriter *writer);
void ms_json_end_array (MsJsonWriter *writer);

/* The key of the next member; only directly inside an object. */
void ms_json_key (MsJsonWriter *writer, const char *key);

/* A string value; NULL writes null. */
void ms_json_string (MsJsonWriter *writer, const char *value);
/* A string value of `len` bytes (need not be NUL-terminated). */
void ms_json_string_len (MsJsonWriter *writer, const char *value, gsize len);
void ms_json_int (MsJsonWriter *writer, gint64 value);
void ms_json_bool (MsJsonWriter *writer, gboolean value);
void ms_json_null (MsJsonWriter *writer);

/* Bytes written so far. */
gsize ms_json_writer_length (const MsJsonWriter *writer);

/* The document, once every object and array is closed; frees the writer.
 * (transfer full) */
char *ms_json_writer_finish (MsJsonWriter *writer);

/* Appends `s` (len bytes) to `out` as a JSON string literal, quotes
 * included.  Exposed for the unit tests and for callers that build small
 * documents by hand. */
void ms_json_append_string (GString *out, const char *s, gsize len);
