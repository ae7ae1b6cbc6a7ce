/* json-writer.c — see json-writer.h.
 *
 * State: the nesting depth, and per level one bit saying whether the level
 * has had a member yet (so the next needs a comma) and one saying whether
 * it is an object (so values need a key first).  `want_value` is set
 * between a key and its value.
 */
#include "json-writer.h"

#include <string.h>

struct MsJsonWriter {
  GString *out;
  guint depth;
  guint32 has_member; /* bit d: level d has a member already */
  guint32 is_object;  /* bit d: level d is an object */
  gboolean want_value;  /* a key was written; its value comes next */
  gboolean done;        /* a complete top-level value was written */
};

G_STATIC_ASSERT (MS_JSON_MAX_DEPTH <= 32);

MsJsonWriter *
ms_json_writer_new (void)
{
  MsJsonWriter *w = g_new0 (MsJsonWriter, 1);
  w->out = g_string_new (NULL);
  return w;
}

void
ms_json_writer_free (MsJsonWriter *w)
{
  if (w == NULL)
    return;
  g_string_free (w->out, TRUE);
  g_free (w);
}

static gboolean
in_object (const MsJsonWriter *w)
{
  return w->depth > 0 && (w->is_object & (1u << (w->depth - 1)));
}

/* Before any value: the comma, and checks that a value may go here. */
static gboolean
before_value (MsJsonWriter *w)
{
  g_return_val_if_fail (!w->done, FALSE);
  if (in_object (w)) {
    g_return_val_if_fail (w->want_value, FALSE);
    w->want_value = FALSE;
    return TRUE;
  }
  if (w->depth > 0) {
    guint32 bit = 1u << (w->depth - 1);
    if (w->has_member & bit)
      g_string_append_c (w->out, ',');
    w->has_member |= bit;
  }
  return TRUE;
}

static void
after_value (MsJsonWriter *w)
{
  if (w->depth == 0)
    w->done = TRUE;
}

static void
begin (MsJsonWriter *w, char open, gboolean object)
{
  g_return_if_fail (w->depth < MS_JSON_MAX_DEPTH);
  if (!before_value (w))
    return;
  g_string_append_c (w->out, open);
  guint32 bit = 1u << w->depth;
  w->has_member &= ~bit;
  if (object)
    w->is_object |= bit;
  else
    w->is_object &= ~bit;
  w->depth++;
}

static void
end (MsJsonWriter *w, char close, gboolean object)
{
  g_return_if_fail (w->depth > 0);
  g_return_if_fail (in_object (w) == object);
  g_return_if_fail (!w->want_value);
  w->depth--;
  g_string_append_c (w->out, close);
  after_value (w);
}

void
ms_json_begin_object (MsJsonWriter *w)
{
  begin (w, '{', TRUE);
}

void
ms_json_end_object (MsJsonWriter *w)
{
  end (w, '}', TRUE);
}

void
ms_json_begin_array (MsJsonWriter *w)
{
  begin (w, '[', FALSE);
}

void
ms_json_end_array (MsJsonWriter *w)
{
  end (w, ']', FALSE);
}

void
ms_json_key (MsJsonWriter *w, const char *key)
{
  g_return_if_fail (key != NULL);
  g_return_if_fail (in_object (w) && !w->want_value);

  guint32 bit = 1u << (w->depth - 1);
  if (w->has_member & bit)
    g_string_append_c (w->out, ',');
  w->has_member |= bit;
  ms_json_append_string (w->out, key, strlen (key));
  g_string_append_c (w->out, ':');
  w->want_value = TRUE;
}

void
ms_json_append_string (GString *out, const char *s, gsize len)
{
  const char *p = s, *end = s + len;

  g_string_append_c (out, '"');
  while (p < end) {
    guchar c = (guchar) *p;
    if (c >= 0x80) {
      gunichar u = g_utf8_get_char_validated (p, end - p);
      if (u == (gunichar) -1 || u == (gunichar) -2) {
        g_string_append_printf (out, "\\\\x%02x", c); /* the text \xNN */
        p++;
      } else {
        const char *next = g_utf8_next_char (p);
        if (u == 0x2028 || u == 0x2029)
          g_string_append_printf (out, "\\u%04x", u);
        else
          g_string_append_len (out, p, next - p);
        p = next;
      }
      continue;
    }
    switch (c) {
    case '"': g_string_append (out, "\\\""); break;
    case '\\': g_string_append (out, "\\\\"); break;
    case '\b': g_string_append (out, "\\b"); break;
    case '\f': g_string_append (out, "\\f"); break;
    case '\n': g_string_append (out, "\\n"); break;
    case '\r': g_string_append (out, "\\r"); break;
    case '\t': g_string_append (out, "\\t"); break;
    default:
      if (c < 0x20 || c == 0x7f)
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_c (out, (char) c);
    }
    p++;
  }
  g_string_append_c (out, '"');
}

void
ms_json_string_len (MsJsonWriter *w, const char *value, gsize len)
{
  g_return_if_fail (value != NULL || len == 0);
  if (!before_value (w))
    return;
  ms_json_append_string (w->out, value ? value : "", len);
  after_value (w);
}

void
ms_json_string (MsJsonWriter *w, const char *value)
{
  if (value == NULL)
    ms_json_null (w);
  else
    ms_json_string_len (w, value, strlen (value));
}

void
ms_json_int (MsJsonWriter *w, gint64 value)
{
  if (!before_value (w))
    return;
  g_string_append_printf (w->out, "%" G_GINT64_FORMAT, value);
  after_value (w);
}

void
ms_json_bool (MsJsonWriter *w, gboolean value)
{
  if (!before_value (w))
    return;
  g_string_append (w->out, value ? "true" : "false");
  after_value (w);
}

void
ms_json_null (MsJsonWriter *w)
{
  if (!before_value (w))
    return;
  g_string_append (w->out, "null");
  after_value (w);
}

gsize
ms_json_writer_length (const MsJsonWriter *w)
{
  return w->out->len;
}

char *
ms_json_writer_finish (MsJsonWriter *w)
{
  g_return_val_if_fail (w->done && w->depth == 0, NULL);
  char *text = g_string_free (g_steal_pointer (&w->out), FALSE);
  g_free (w);
  return text;
}
