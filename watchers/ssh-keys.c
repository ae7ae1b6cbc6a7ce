/* ssh-keys.c — see ssh-keys.h.
 *
 * Blobs use the SSH wire encoding (RFC 4251 §5): a string is a 32-bit
 * big-endian length and that many bytes.  The reader below never trusts a
 * length: it fails when fewer bytes are left than a length claims.
 *
 * OpenSSH's private key format (PROTOCOL.key in OpenSSH's sources) is PEM
 * armour around base64 of:
 *
 *   "openssh-key-v1" NUL, string cipher, string kdf, string kdf options,
 *   uint32 number of keys, string public key 1 ... , string private part
 *
 * The cipher is "none" for a key without a passphrase.  The older PEM
 * formats say so in their armour: "BEGIN ENCRYPTED PRIVATE KEY" (PKCS #8)
 * or a "Proc-Type: 4,ENCRYPTED" header (OpenSSL's traditional format).
 */
#include "ssh-keys.h"

#include <string.h>

/* Key files hold a handful of keys at most; ssh-keygen writes one.  More
 * is not a key file we should spend time on. */
#define KEY_FILE_KEYS_MAX 16

#define OPENSSH_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----"
#define OPENSSH_END "-----END OPENSSH PRIVATE KEY-----"
#define OPENSSH_MAGIC "openssh-key-v1"

typedef struct {
  const guint8 *p;
  gsize left;
} Reader;

static gboolean
read_u32 (Reader *r, guint32 *value)
{
  if (r->left < 4)
    return FALSE;
  *value = ((guint32) r->p[0] << 24) | ((guint32) r->p[1] << 16) | ((guint32) r->p[2] << 8) |
           (guint32) r->p[3];
  r->p += 4;
  r->left -= 4;
  return TRUE;
}

static gboolean
read_string (Reader *r, const guint8 **data, gsize *len)
{
  guint32 n;
  if (!read_u32 (r, &n) || n > r->left)
    return FALSE;
  *data = r->p;
  *len = n;
  r->p += n;
  r->left -= n;
  return TRUE;
}

static gboolean
string_is (const guint8 *data, gsize len, const char *s)
{
  return len == strlen (s) && memcmp (data, s, len) == 0;
}

char *
ms_ssh_key_fingerprint (const guint8 *blob, gsize len)
{
  guint8 digest[32];
  gsize digest_len = sizeof digest;
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);

  g_checksum_update (sum, blob, len);
  g_checksum_get_digest (sum, digest, &digest_len);
  g_autofree char *b64 = g_base64_encode (digest, digest_len);
  gsize n = strlen (b64);
  while (n > 0 && b64[n - 1] == '=')
    n--;
  return g_strdup_printf ("SHA256:%.*s", (int) n, b64);
}

char *
ms_ssh_key_type_label (const guint8 *blob, gsize len)
{
  static const struct {
    const char *prefix;
    const char *label;
  } labels[] = {
    { "ssh-ed25519", "ED25519" },
    { "ecdsa-sha2-", "ECDSA" },
    { "ssh-rsa", "RSA" },
    { "ssh-dss", "DSA" },
    { "sk-ssh-ed25519@", "ED25519-SK" },
    { "sk-ecdsa-sha2-", "ECDSA-SK" },
  };
  Reader r = { blob, len };
  const guint8 *name;
  gsize name_len;

  if (!read_string (&r, &name, &name_len) || name_len == 0)
    return g_strdup ("unknown");
  for (guint i = 0; i < G_N_ELEMENTS (labels); i++) {
    gsize n = strlen (labels[i].prefix);
    /* "ssh-ed25519" exactly, or a family prefix such as "ecdsa-sha2-" */
    gboolean family = labels[i].prefix[n - 1] == '-' || labels[i].prefix[n - 1] == '@';
    if (family ? (name_len > n && memcmp (name, labels[i].prefix, n) == 0)
               : string_is (name, name_len, labels[i].prefix))
      return g_strdup (labels[i].label);
  }
  /* An unknown name from the server: shown, but never raw. */
  GString *out = g_string_new (NULL);
  for (gsize i = 0; i < name_len && i < 64; i++) {
    if (g_ascii_isgraph (name[i]))
      g_string_append_c (out, (char) name[i]);
    else
      g_string_append_printf (out, "\\x%02x", name[i]);
  }
  return g_string_free (out, FALSE);
}

/* Decodes the base64 characters of text[0..len), skipping line breaks and
 * other whitespace.  Returns NULL if anything else is in the way. */
static GBytes *
decode_base64 (const char *text, gsize len)
{
  g_autoptr (GString) clean = g_string_sized_new (len);
  for (gsize i = 0; i < len; i++) {
    char c = text[i];
    if (g_ascii_isalnum (c) || c == '+' || c == '/' || c == '=')
      g_string_append_c (clean, c);
    else if (!g_ascii_isspace (c))
      return NULL;
  }
  if (clean->len == 0 || clean->len % 4 != 0)
    return NULL;
  gsize out_len = 0;
  guchar *out = g_base64_decode (clean->str, &out_len);
  return g_bytes_new_take (out, out_len);
}

/* Finds `needle` in text[0..len). */
static const char *
find (const char *text, gsize len, const char *needle)
{
  return memmem (text, len, needle, strlen (needle));
}

static MsSshKeyFileKind
inspect_openssh (const char *body, gsize len, GBytes **public_blob)
{
  g_autoptr (GBytes) raw = decode_base64 (body, len);
  if (raw == NULL)
    return MS_SSH_KEY_FILE_UNKNOWN;
  gsize raw_len;
  const guint8 *data = g_bytes_get_data (raw, &raw_len);
  gsize magic_len = sizeof OPENSSH_MAGIC; /* with its NUL */
  if (raw_len < magic_len || memcmp (data, OPENSSH_MAGIC, magic_len) != 0)
    return MS_SSH_KEY_FILE_UNKNOWN;

  Reader r = { data + magic_len, raw_len - magic_len };
  const guint8 *cipher, *kdf, *kdf_options, *pub;
  gsize cipher_len, kdf_len, kdf_options_len, pub_len;
  guint32 keys;
  if (!read_string (&r, &cipher, &cipher_len) || !read_string (&r, &kdf, &kdf_len) ||
      !read_string (&r, &kdf_options, &kdf_options_len) || !read_u32 (&r, &keys) || keys == 0 ||
      keys > KEY_FILE_KEYS_MAX || !read_string (&r, &pub, &pub_len) || pub_len == 0)
    return MS_SSH_KEY_FILE_UNKNOWN;
  if (public_blob != NULL)
    *public_blob = g_bytes_new (pub, pub_len);
  return string_is (cipher, cipher_len, "none") ? MS_SSH_KEY_FILE_PLAIN : MS_SSH_KEY_FILE_ENCRYPTED;
}

MsSshKeyFileKind
ms_ssh_key_file_inspect (const char *text, gsize len, GBytes **public_blob)
{
  g_return_val_if_fail (text != NULL || len == 0, MS_SSH_KEY_FILE_UNKNOWN);
  if (public_blob != NULL)
    *public_blob = NULL;

  const char *begin = find (text, len, OPENSSH_BEGIN);
  if (begin != NULL) {
    const char *body = begin + strlen (OPENSSH_BEGIN);
    const char *end = find (body, (gsize) (text + len - body), OPENSSH_END);
    if (end == NULL)
      return MS_SSH_KEY_FILE_UNKNOWN;
    return inspect_openssh (body, (gsize) (end - body), public_blob);
  }
  /* PEM armour: "-----BEGIN <what> PRIVATE KEY-----" on a line of its own. */
  const char *armour = find (text, len, "-----BEGIN ");
  if (armour == NULL)
    return MS_SSH_KEY_FILE_UNKNOWN;
  const char *eol = memchr (armour, '\n', (gsize) (text + len - armour));
  const char *headers = eol != NULL ? eol : text + len;
  gsize armour_len = (gsize) (headers - armour);
  if (find (armour, armour_len, "PRIVATE KEY-----") == NULL)
    return MS_SSH_KEY_FILE_UNKNOWN;
  if (find (armour, armour_len, "-----BEGIN ENCRYPTED PRIVATE KEY-----") != NULL)
    return MS_SSH_KEY_FILE_ENCRYPTED;
  /* OpenSSL's traditional format: headers, if any, run up to the first
   * empty line after the armour. */
  const char *blank = find (headers, (gsize) (text + len - headers), "\n\n");
  gsize header_len = blank != NULL ? (gsize) (blank - headers) : (gsize) (text + len - headers);
  if (find (headers, header_len, "Proc-Type:") != NULL && find (headers, header_len, "ENCRYPTED") != NULL)
    return MS_SSH_KEY_FILE_ENCRYPTED;
  return MS_SSH_KEY_FILE_PLAIN;
}

GBytes *
ms_ssh_public_key_parse (const char *text, gsize len)
{
  g_return_val_if_fail (text != NULL || len == 0, NULL);
  const char *p = text, *end = text + len;

  while (p < end && g_ascii_isspace (*p))
    p++;
  const char *alg = p;
  while (p < end && !g_ascii_isspace (*p))
    p++;
  gsize alg_len = (gsize) (p - alg);
  while (p < end && g_ascii_isspace (*p))
    p++;
  const char *b64 = p;
  while (p < end && !g_ascii_isspace (*p))
    p++;
  if (alg_len == 0 || p == b64)
    return NULL;

  g_autoptr (GBytes) blob = decode_base64 (b64, (gsize) (p - b64));
  if (blob == NULL)
    return NULL;
  gsize blob_len;
  Reader r = { g_bytes_get_data (blob, &blob_len), 0 };
  r.left = blob_len;
  const guint8 *name;
  gsize name_len;
  if (!read_string (&r, &name, &name_len) || name_len != alg_len || memcmp (name, alg, alg_len) != 0)
    return NULL;
  return g_steal_pointer (&blob);
}
