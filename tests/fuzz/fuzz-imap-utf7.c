/* fuzz-imap-utf7.c — fuzz target for the modified UTF-7 codec.
 *
 * The input is tried both ways.  As modified UTF-7: when it decodes, the
 * result must be valid UTF-8 and must encode back to exactly the input (the
 * decoder accepts only canonical spellings).  As UTF-8: when it encodes, the
 * result must be printable ASCII and must decode back to the input.  The
 * input is copied into a buffer of exactly its size, so reading past the end
 * is caught by AddressSanitizer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap-utf7.h"
#include "ms-error.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *text = malloc (size > 0 ? size : 1);
  g_assert_nonnull (text);
  if (size > 0)
    memcpy (text, data, size);

  GError *error = NULL;
  char *utf8 = ms_imap_utf7_decode (text, (gssize) size, &error);
  if (utf8 != NULL) {
    g_assert_no_error (error);
    g_assert_true (g_utf8_validate (utf8, -1, NULL));
    char *again = ms_imap_utf7_encode (utf8, -1, &error);
    g_assert_no_error (error);
    g_assert_cmpmem (again, strlen (again), text, size);
    g_free (again);
    g_free (utf8);
  } else {
    g_assert_error (error, MS_ERROR, MS_ERROR_BAD_NAME);
    g_clear_error (&error);
  }

  char *mutf7 = ms_imap_utf7_encode (text, (gssize) size, &error);
  if (mutf7 != NULL) {
    g_assert_no_error (error);
    for (const char *c = mutf7; *c; c++)
      g_assert_true (*c >= 0x20 && *c <= 0x7e);
    char *back = ms_imap_utf7_decode (mutf7, -1, &error);
    g_assert_no_error (error);
    g_assert_cmpmem (back, strlen (back), text, size);
    g_free (back);
    g_free (mutf7);
  } else {
    g_assert_error (error, MS_ERROR, MS_ERROR_BAD_NAME);
    g_clear_error (&error);
  }

  free (text);
  return 0;
}
