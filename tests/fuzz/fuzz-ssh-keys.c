/* fuzz-ssh-keys.c — key files and key blobs of any content are read
 * without reading past their end: a public blob found in a key file lies
 * within the input, a fingerprint always has its fixed form, and a key
 * type label is printable. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "ssh-keys.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* The same bytes as a key file, a public key line, and a blob. */
  g_autoptr (GBytes) pub = NULL;
  MsSshKeyFileKind kind = ms_ssh_key_file_inspect ((const char *) data, size, &pub);
  if (kind == MS_SSH_KEY_FILE_UNKNOWN)
    g_assert_null (pub);
  if (pub != NULL)
    g_assert_cmpuint (g_bytes_get_size (pub), <=, size);

  g_autoptr (GBytes) line_blob = ms_ssh_public_key_parse ((const char *) data, size);
  if (line_blob != NULL)
    g_assert_cmpuint (g_bytes_get_size (line_blob), <=, size);

  g_autofree char *fp = ms_ssh_key_fingerprint (data, size);
  g_assert_true (g_str_has_prefix (fp, "SHA256:"));
  g_assert_cmpuint (strlen (fp), ==, strlen ("SHA256:") + 43);

  g_autofree char *label = ms_ssh_key_type_label (data, size);
  for (const char *p = label; *p != '\0'; p++)
    g_assert_true (g_ascii_isgraph (*p));
  return 0;
}
