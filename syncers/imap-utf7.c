/* imap-utf7.c — see imap-utf7.h.
 *
 * The BASE64 runs are handled as a bit accumulator: the encoder pushes 16
 * bits per UTF-16 unit and pulls 6 per digit; the decoder does the reverse.
 * At most 6 + 15 bits are ever pending, so a 32-bit accumulator is enough;
 * it is masked after every pull so no stale high bits survive.
 *
 * The decoder enforces canonical form as it goes rather than by re-encoding
 * and comparing, so each refusal can say what exactly was wrong.
 */
#include "imap-utf7.h"

#include <string.h>

#include "ms-error.h"

static const char b64_digits[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/* The digit's value, or -1 for a byte that is not a modified BASE64 digit
 * (in particular '/', which plain BASE64 would accept, and '='). */
static int
b64_value (guchar c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == ',')
    return 63;
  return -1;
}

static gboolean
is_direct (guint32 c)
{
  return c >= 0x20 && c <= 0x7e;
}

static gboolean
check_length (gssize *len, const char *s, GError **error)
{
  if (*len < 0)
    *len = (gssize) strnlen (s, MS_IMAP_UTF7_MAX_INPUT + 1);
  if ((gsize) *len > MS_IMAP_UTF7_MAX_INPUT) {
    g_set_error (error, MS_ERROR, MS_ERROR_BAD_NAME,
                 "mailbox name is longer than %d bytes", MS_IMAP_UTF7_MAX_INPUT);
    return FALSE;
  }
  return TRUE;
}

/* Appends one UTF-16 code unit to the run being encoded. */
static void
push_unit (GString *out, guint32 *bits, guint *nbits, guint16 unit)
{
  *bits = (*bits << 16) | unit;
  *nbits += 16;
  while (*nbits >= 6) {
    *nbits -= 6;
    g_string_append_c (out, b64_digits[(*bits >> *nbits) & 0x3f]);
  }
  *bits &= (1u << *nbits) - 1;
}

char *
ms_imap_utf7_encode (const char *utf8, gssize len, GError **error)
{
  g_return_val_if_fail (utf8 != NULL || len == 0, NULL);

  if (!check_length (&len, utf8, error))
    return NULL;
  if (len == 0)
    return g_strdup ("");

  const char *nul = memchr (utf8, '\0', len);
  if (nul != NULL) {
    g_set_error (error, MS_ERROR, MS_ERROR_BAD_NAME, "mailbox name contains NUL at byte %zd",
                 (gssize) (nul - utf8));
    return NULL;
  }
  const char *bad = NULL;
  if (!g_utf8_validate_len (utf8, len, &bad)) {
    g_set_error (error, MS_ERROR, MS_ERROR_BAD_NAME, "mailbox name is not valid UTF-8 at byte %zd",
                 (gssize) (bad - utf8));
    return NULL;
  }

  g_autoptr (GString) out = g_string_sized_new (len + 8);
  const char *p = utf8;
  const char *end = utf8 + len;

  while (p < end) {
    guchar c = (guchar) *p;
    if (is_direct (c)) {
      g_string_append_c (out, (char) c);
      if (c == '&')
        g_string_append_c (out, '-');
      p++;
      continue;
    }
    /* One run covers every character up to the next printable ASCII one:
     * splitting it would be a null shift, which the RFC forbids. */
    guint32 bits = 0;
    guint nbits = 0;
    g_string_append_c (out, '&');
    while (p < end && !is_direct ((guchar) *p)) {
      gunichar ch = g_utf8_get_char (p);
      p = g_utf8_next_char (p);
      if (ch >= 0x10000) {
        ch -= 0x10000;
        push_unit (out, &bits, &nbits, (guint16) (0xd800 | (ch >> 10)));
        push_unit (out, &bits, &nbits, (guint16) (0xdc00 | (ch & 0x3ff)));
      } else {
        push_unit (out, &bits, &nbits, (guint16) ch);
      }
    }
    if (nbits > 0)
      g_string_append_c (out, b64_digits[(bits << (6 - nbits)) & 0x3f]);
    g_string_append_c (out, '-');
  }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* Decodes the run that starts after the '&' at in[*pos - 1], up to and
 * including its closing '-'; *pos ends just past the '-'. */
static gboolean
decode_run (const char *in, gsize len, gsize *pos, GString *out, GError **error)
{
  gsize start = *pos - 1;
  guint32 bits = 0;
  guint nbits = 0;
  guint16 high = 0; /* a high surrogate waiting for its partner */
  gsize i = *pos;

  for (; i < len && in[i] != '-'; i++) {
    int v = b64_value ((guchar) in[i]);
    if (v < 0) {
      g_set_error (error, MS_ERROR, MS_ERROR_BAD_NAME,
                   "bad modified UTF-7 at byte %zu: byte 0x%02x is not a BASE64 digit", i,
                   (guchar) in[i]);
      return FALSE;
    }
    bits = (bits << 6) | (guint32) v;
    nbits += 6;
    if (nbits < 16)
      continue;
    nbits -= 16;
    guint16 unit = (guint16) (bits >> nbits);
    bits &= (1u << nbits) - 1;

    if (high != 0) {
      if (unit < 0xdc00 || unit > 0xdfff) {
        g_set_error (error, MS_ERROR, MS_ERROR_BAD_NAME,
                     "bad modified UTF-7 at byte %zu: high surrogate without a low surrogate", i);
        return FALSE;
      }
      gunichar ch = 0x10000 + (((gunichar) (high - 0xd800) << 10) | (unit - 0xdc00));
      g_string_append_unichar (out, ch);
      high = 0;
    } else if (unit >= 0xd800 && unit <= 0xdbff) {
      high = unit;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      g_set_error (error, MS_ERROR, MS_ERROR_BAD_NAME,
                   "bad modified UTF-7 at byte %zu: low surrogate without a high surrogate", i);
      return FALSE;
    } else if (unit == 0) {
      g_set_error (error, MS_ERROR, MS_ERROR_BAD_NAME,
                   "bad modified UTF-7 at byte %zu: encodes NUL", i);
      return FALSE;
    } else if (is_direct (unit)) {
      g_set_error (error, MS_ERROR, MS_ERROR_BAD_NAME,
                   "bad modified UTF-7 at byte %zu: printable ASCII 0x%02x must not be BASE64-encoded",
                   i, unit);
      return FALSE;
    } else {
      g_string_append_unichar (out, unit);
    }
  }

  if (i >= len) {
    g_set_error (error, MS_ERROR, MS_ERROR_BAD_NAME,
                 "bad modified UTF-7 at byte %zu: '&' sequence is not closed with '-'", start);
    return FALSE;
  }
  if (high != 0) {
    g_set_error (error, MS_ERROR, MS_ERROR_BAD_NAME,
                 "bad modified UTF-7 at byte %zu: high surrogate without a low surrogate", i);
    return FALSE;
  }
  /* A canonical run has just enough digits for its units: the 0, 2 or 4
   * bits left over are padding and must be zero. */
  if (nbits >= 6 || bits != 0) {
    g_set_error (error, MS_ERROR, MS_ERROR_BAD_NAME,
                 "bad modified UTF-7 at byte %zu: BASE64 sequence does not end on a character boundary",
                 i);
    return FALSE;
  }
  i++; /* the '-' */
  if (i < len && in[i] == '&' && !(i + 1 < len && in[i + 1] == '-')) {
    g_set_error (error, MS_ERROR, MS_ERROR_BAD_NAME,
                 "bad modified UTF-7 at byte %zu: two BASE64 sequences back to back", i);
    return FALSE;
  }
  *pos = i;
  return TRUE;
}

char *
ms_imap_utf7_decode (const char *mutf7, gssize len, GError **error)
{
  g_return_val_if_fail (mutf7 != NULL || len == 0, NULL);

  if (!check_length (&len, mutf7, error))
    return NULL;
  if (len == 0)
    return g_strdup ("");

  g_autoptr (GString) out = g_string_sized_new (len + 8);
  gsize i = 0;

  while (i < (gsize) len) {
    guchar c = (guchar) mutf7[i];
    if (!is_direct (c)) {
      g_set_error (error, MS_ERROR, MS_ERROR_BAD_NAME,
                   "bad modified UTF-7 at byte %zu: byte 0x%02x is not printable ASCII", i, c);
      return NULL;
    }
    i++;
    if (c != '&') {
      g_string_append_c (out, (char) c);
      continue;
    }
    if (i < (gsize) len && mutf7[i] == '-') {
      g_string_append_c (out, '&');
      i++;
      continue;
    }
    if (!decode_run (mutf7, len, &i, out, error))
      return NULL;
  }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

gboolean
ms_imap_utf7_is_valid (const char *s)
{
  g_autofree char *decoded = ms_imap_utf7_decode (s, -1, NULL);
  return decoded != NULL;
}
