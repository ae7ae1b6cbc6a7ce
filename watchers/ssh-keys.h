/* ssh-keys.h — SSH key blobs and key files, read without libssh2.
 *
 * watch_ssh names host keys the way OpenSSH does ("ED25519 key
 * SHA256:<base64>"), so that a user can compare what we print with what
 * `ssh-keygen -l` prints for the server's key.  It also looks into a private
 * key file before handing it to libssh2: a key protected by a passphrase
 * cannot be used without a prompt, which a watcher never shows, so such a key
 * is skipped with a message — unless ssh-agent holds the same key, which we
 * recognise by its public half (stored unencrypted in OpenSSH's own format,
 * and in FILE.pub for the older PEM formats).
 *
 * A host key blob comes from the server, so it is untrusted input: every
 * length in it is checked against what is left.  Pure: no I/O; callers read
 * the files.
 *
 * Ownership: strings and GBytes returned are (transfer full).
 */
#pragma once

#include <glib.h>

/* The largest key file we read.  An OpenSSH private key for a 16384-bit RSA
 * key is about 12 KiB; anything much larger is not a key file. */
#define MS_SSH_KEY_FILE_MAX (64 * 1024)

/* OpenSSH's fingerprint of a public key blob: "SHA256:" and the unpadded
 * base64 of the blob's SHA-256 digest. */
char *ms_ssh_key_fingerprint (const guint8 *blob, gsize len);

/* The key type as OpenSSH prints it in fingerprints ("ED25519", "ECDSA",
 * "RSA", "DSA", "ED25519-SK", "ECDSA-SK"), from the algorithm name that
 * starts the blob; another name is returned as it is (escaped), and a blob
 * that does not start with a name gives "unknown". */
char *ms_ssh_key_type_label (const guint8 *blob, gsize len);

typedef enum {
  MS_SSH_KEY_FILE_PLAIN,     /* a private key usable without a passphrase */
  MS_SSH_KEY_FILE_ENCRYPTED, /* a private key protected by a passphrase */
  MS_SSH_KEY_FILE_UNKNOWN,   /* not a format we recognise: let libssh2 try */
} MsSshKeyFileKind;

/* Says what kind of private key file `text` is.  For OpenSSH's own format
 * ("BEGIN OPENSSH PRIVATE KEY"), *public_blob is set to the key's public
 * blob when public_blob is not NULL; otherwise it is left NULL. */
MsSshKeyFileKind ms_ssh_key_file_inspect (const char *text, gsize len, GBytes **public_blob);

/* Parses a public key as written in FILE.pub and known_hosts:
 * "ALGORITHM BASE64 [COMMENT]".  Returns the blob, or NULL when the text is
 * not such a line or the blob does not start with ALGORITHM. */
GBytes *ms_ssh_public_key_parse (const char *text, gsize len);
