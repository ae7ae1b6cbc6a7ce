/* mailbox-name.c — see mailbox-name.h for the rules and their reasons. */
#include "mailbox-name.h"

#include <string.h>

#include "ms-error.h"

static gboolean
is_dot_component (const char *p, gsize n)
{
  return (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.');
}

gboolean
ms_mailbox_name_check (const char *name, gsize len, GError **error)
{
  g_return_val_if_fail (name != NULL || len == 0, FALSE);

  if (len > MS_MAILBOX_NAME_MAX) {
    g_set_error (error, MS_ERROR, MS_ERROR_BAD_NAME,
                 "mailbox name is %zu bytes long (the limit is %d)", len, MS_MAILBOX_NAME_MAX);
    return FALSE;
  }
  for (gsize i = 0; i < len; i++) {
    guchar c = (guchar) name[i];
    if (c < 0x20 || c == 0x7f) {
      g_set_error (error, MS_ERROR, MS_ERROR_BAD_NAME,
                   "mailbox name contains control character 0x%02x at byte %zu", c, i);
      return FALSE;
    }
  }
  if (len > 0 && name[0] == '/') {
    g_set_error_literal (error, MS_ERROR, MS_ERROR_BAD_NAME, "mailbox name is an absolute path");
    return FALSE;
  }
  gsize start = 0;
  for (gsize i = 0; i <= len; i++) {
    if (i == len || name[i] == '/') {
      if (is_dot_component (name + start, i - start)) {
        g_set_error_literal (error, MS_ERROR, MS_ERROR_BAD_NAME,
                             "mailbox name has a \".\" or \"..\" path component");
        return FALSE;
      }
      start = i + 1;
    }
  }
  return TRUE;
}

char *
ms_mailbox_name_for_log (const char *name, gsize len, gsize max)
{
  GString *out = g_string_sized_new (MIN (len, max) + 8);
  const char *p = name;
  const char *end = name + MIN (len, max);

  while (p < end) {
    gunichar ch = g_utf8_get_char_validated (p, end - p);
    if (ch == (gunichar) -1 || ch == (gunichar) -2 || ch < 0x20 || ch == 0x7f) {
      g_string_append_printf (out, "\\x%02x", (guchar) *p);
      p++;
    } else {
      const char *next = g_utf8_next_char (p);
      g_string_append_len (out, p, next - p);
      p = next;
    }
  }
  if (len > max)
    g_string_append (out, "...");
  return g_string_free (out, FALSE);
}
