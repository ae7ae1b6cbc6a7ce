/* test-ssh-keys.c — fingerprints as ssh-keygen prints them, key type
 * labels, public key lines, and which private key files have a passphrase.
 *
 * The private key files are built here from their documented layout, with
 * filler where the key material would be: only the unencrypted header is
 * ever read, and no key needs to live in the tree. */
#include <glib.h>
#include <string.h>

#include "ssh-keys.h"

/* Made with ssh-keygen -t ed25519 / -t ecdsa; the fingerprints are what
 * `ssh-keygen -l` printed for them. */
#define ED25519_LINE "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGOTdf62iBVJ2tZAemEaW+fd/hfwAfOFRGofGEzQ2fdk fixture"
#define ED25519_FP "SHA256:aHHpxPhNYyj7HJPKZffDr0vLiRW4Q6MLh3M6+lbPBpA"
#define ECDSA_LINE                                                                                \
  "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBGGXDaXgM+qASFUF63Xc4e" \
  "nFWe5TOtRQ5K7oeQA2galFHCkoIDapwcwNT3TNGBrveKhhoU+bMdObzZXSKiQp6x4="
#define ECDSA_FP "SHA256:TlUy5+x25NaeUFk+MyhAsjrg08LBepTCzz6VL9eN8i4"

static GBytes *
parse (const char *line)
{
  return ms_ssh_public_key_parse (line, strlen (line));
}

static void
put_string (GByteArray *b, const void *data, guint32 len)
{
  guint8 n[4] = { len >> 24, len >> 16, len >> 8, len };
  g_byte_array_append (b, n, 4);
  g_byte_array_append (b, data, len);
}

static void
put_cstring (GByteArray *b, const char *s)
{
  put_string (b, s, (guint32) strlen (s));
}

/* An OpenSSH-format private key file around `pub`, with cipher `cipher`. */
static char *
openssh_file (const char *cipher, GBytes *pub)
{
  g_autoptr (GByteArray) b = g_byte_array_new ();
  g_byte_array_append (b, (const guint8 *) "openssh-key-v1", sizeof "openssh-key-v1");
  put_cstring (b, cipher);
  put_cstring (b, strcmp (cipher, "none") == 0 ? "none" : "bcrypt");
  put_cstring (b, "");
  guint8 one[4] = { 0, 0, 0, 1 };
  g_byte_array_append (b, one, 4);
  gsize pub_len;
  const void *pub_data = g_bytes_get_data (pub, &pub_len);
  put_string (b, pub_data, (guint32) pub_len);
  put_cstring (b, "filler where the private part would be");
  g_autofree char *b64 = g_base64_encode (b->data, b->len);
  GString *text = g_string_new ("-----BEGIN OPENSSH PRIVATE KEY-----\n");
  for (gsize i = 0; i < strlen (b64); i += 70)
    g_string_append_printf (text, "%.70s\n", b64 + i);
  g_string_append (text, "-----END OPENSSH PRIVATE KEY-----\n");
  return g_string_free (text, FALSE);
}

static MsSshKeyFileKind
inspect (const char *text, GBytes **pub)
{
  return ms_ssh_key_file_inspect (text, strlen (text), pub);
}

static void
test_fingerprint (void)
{
  g_autoptr (GBytes) ed = parse (ED25519_LINE);
  g_autoptr (GBytes) ec = parse (ECDSA_LINE);
  g_assert_nonnull (ed);
  g_assert_nonnull (ec);
  gsize n;
  const guint8 *d = g_bytes_get_data (ed, &n);
  g_autofree char *fp_ed = ms_ssh_key_fingerprint (d, n);
  d = g_bytes_get_data (ec, &n);
  g_autofree char *fp_ec = ms_ssh_key_fingerprint (d, n);
  g_assert_cmpstr (fp_ed, ==, ED25519_FP);
  g_assert_cmpstr (fp_ec, ==, ECDSA_FP);
}

static char *
label_of (const void *blob, gsize len)
{
  return ms_ssh_key_type_label (blob, len);
}

static void
test_type_label (void)
{
  g_autoptr (GBytes) ed = parse (ED25519_LINE);
  g_autoptr (GBytes) ec = parse (ECDSA_LINE);
  gsize n;
  const void *d = g_bytes_get_data (ed, &n);
  g_autofree char *a = label_of (d, n);
  d = g_bytes_get_data (ec, &n);
  g_autofree char *b = label_of (d, n);
  g_autofree char *c = label_of ("\0\0\0\7ssh-rsa", 11);
  g_autofree char *e = label_of ("\0\0\0\7ssh-dss", 11);
  g_autofree char *f = label_of ("\0\0\0\x1ask-ssh-ed25519@openssh.com", 30);
  g_autofree char *g = label_of ("\0\0\0\5fo\no\x7f", 9);
  g_autofree char *h = label_of ("\0\0\0\x09ssh-rsa", 11);  /* length past the end */
  g_autofree char *i = label_of ("\0\0", 2);
  g_autofree char *j = label_of ("\0\0\0\x0bssh-rsa-xyz", 15); /* not ssh-rsa */
  g_assert_cmpstr (a, ==, "ED25519");
  g_assert_cmpstr (b, ==, "ECDSA");
  g_assert_cmpstr (c, ==, "RSA");
  g_assert_cmpstr (e, ==, "DSA");
  g_assert_cmpstr (f, ==, "ED25519-SK");
  g_assert_cmpstr (g, ==, "fo\\x0ao\\x7f");
  g_assert_cmpstr (h, ==, "unknown");
  g_assert_cmpstr (i, ==, "unknown");
  g_assert_cmpstr (j, ==, "ssh-rsa-xyz");
}

static void
test_public_key_parse (void)
{
  g_autoptr (GBytes) plain = parse (ED25519_LINE);
  g_autoptr (GBytes) spaced = parse ("  \t" ED25519_LINE "\n");
  g_autoptr (GBytes) no_comment = parse ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGOTdf62iBVJ2tZAemEaW+fd/hfwAfOFRGofGEzQ2fdk");
  g_assert_nonnull (plain);
  g_assert_true (g_bytes_equal (plain, spaced));
  g_assert_true (g_bytes_equal (plain, no_comment));
  g_assert_cmpuint (g_bytes_get_size (plain), ==, 51);

  const char *bad[] = {
    "",
    "ssh-ed25519",
    "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIGOTdf62iBVJ2tZAemEaW+fd/hfwAfOFRGofGEzQ2fdk", /* wrong name */
    "ssh-ed25519 AAAAC3Nz*C1lZDI1NTE5AAAAIGOTdf62iBVJ2tZAemEaW+fd/hfwAfOFRGofGEzQ2fdk",
    "ssh-ed25519 AAA",  /* not a whole number of base64 quads */
    "ssh-ed25519 AAAA", /* decodes to too little for a name */
    NULL,
  };
  for (const char **b = bad; *b != NULL; b++) {
    g_autoptr (GBytes) blob = parse (*b);
    g_assert_null (blob);
  }
}

static void
test_openssh_files (void)
{
  g_autoptr (GBytes) pub = parse (ED25519_LINE);
  g_autofree char *plain = openssh_file ("none", pub);
  g_autofree char *locked = openssh_file ("aes256-ctr", pub);
  g_autoptr (GBytes) got_plain = NULL;
  g_autoptr (GBytes) got_locked = NULL;

  g_assert_cmpint (inspect (plain, &got_plain), ==, MS_SSH_KEY_FILE_PLAIN);
  g_assert_cmpint (inspect (locked, &got_locked), ==, MS_SSH_KEY_FILE_ENCRYPTED);
  g_assert_true (g_bytes_equal (got_plain, pub));
  g_assert_true (g_bytes_equal (got_locked, pub));
  g_assert_cmpint (inspect (locked, NULL), ==, MS_SSH_KEY_FILE_ENCRYPTED);
}

/* Every cut of a valid file is refused or read, never misread. */
static void
test_openssh_truncated (void)
{
  g_autoptr (GBytes) pub = parse (ED25519_LINE);
  g_autofree char *locked = openssh_file ("aes256-ctr", pub);
  gsize len = strlen (locked);
  for (gsize n = 0; n < len; n++) {
    g_autoptr (GBytes) got = NULL;
    MsSshKeyFileKind kind = ms_ssh_key_file_inspect (locked, n, &got);
    if (kind == MS_SSH_KEY_FILE_UNKNOWN)
      g_assert_null (got);
    else
      g_assert_true (g_bytes_equal (got, pub));
  }
}

static void
test_pem_files (void)
{
  const char *traditional_locked = "-----BEGIN RSA PRIVATE KEY-----\n"
                                   "Proc-Type: 4,ENCRYPTED\n"
                                   "DEK-Info: AES-128-CBC,0123456789ABCDEF0123456789ABCDEF\n"
                                   "\n"
                                   "AAAA\n"
                                   "-----END RSA PRIVATE KEY-----\n";
  const char *traditional = "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
  const char *pkcs8_locked = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n"
                             "-----END ENCRYPTED PRIVATE KEY-----\n";
  const char *pkcs8 = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
  g_autoptr (GBytes) pub = NULL;

  g_assert_cmpint (inspect (traditional_locked, &pub), ==, MS_SSH_KEY_FILE_ENCRYPTED);
  g_assert_null (pub);
  g_assert_cmpint (inspect (traditional, NULL), ==, MS_SSH_KEY_FILE_PLAIN);
  g_assert_cmpint (inspect (pkcs8_locked, NULL), ==, MS_SSH_KEY_FILE_ENCRYPTED);
  g_assert_cmpint (inspect (pkcs8, NULL), ==, MS_SSH_KEY_FILE_PLAIN);
}

static void
test_unknown_files (void)
{
  const char *unknown[] = {
    "",
    "PuTTY-User-Key-File-3: ssh-ed25519\n",
    "-----BEGIN OPENSSH PRIVATE KEY-----\nnot base64 at all!\n-----END OPENSSH PRIVATE KEY-----\n",
    "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA\n", /* no end */
    "-----END RSA PRIVATE KEY-----\n-----BEGIN RSA PUBLIC KEY-----\n",
    NULL,
  };
  for (const char **u = unknown; *u != NULL; u++) {
    g_autoptr (GBytes) pub = NULL;
    g_assert_cmpint (inspect (*u, &pub), ==, MS_SSH_KEY_FILE_UNKNOWN);
    g_assert_null (pub);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ssh-keys/fingerprint-as-ssh-keygen", test_fingerprint);
  g_test_add_func ("/ssh-keys/type-label", test_type_label);
  g_test_add_func ("/ssh-keys/public-key-parse", test_public_key_parse);
  g_test_add_func ("/ssh-keys/openssh-files", test_openssh_files);
  g_test_add_func ("/ssh-keys/openssh-truncated", test_openssh_truncated);
  g_test_add_func ("/ssh-keys/pem-files", test_pem_files);
  g_test_add_func ("/ssh-keys/unknown-files", test_unknown_files);
  return g_test_run ();
}
