/* tls.h — TLS client sessions over a connected socket (the only file that
 * includes OpenSSL).
 *
 * Verification is on by default and cannot be turned off by accident: the
 * peer certificate must chain to a trusted CA (the system store unless
 * `system_certs` is FALSE, plus `ca_file` if given) and match the host name
 * (SSL_set1_host) or IP address; SNI is sent for host names; TLS 1.2 is the
 * minimum.
 *
 * I/O is blocking from the caller's point of view but never waits without a
 * deadline: the socket is non-blocking and every WANT_READ/WANT_WRITE waits in
 * poll() for at most the remaining time.  sync_imap runs this on its worker
 * thread, never on a thread with a main loop.
 */
#pragma once

#include <glib.h>

typedef struct {
  const char *ca_file;    /* extra trusted certificates (mbsync CertificateFile), or NULL */
  gboolean system_certs;  /* trust the system store (mbsync SystemCertificates, default yes) */
  const char *ciphers;    /* OpenSSL cipher string (mbsync CipherString), or NULL */
} MsTlsOptions;

typedef struct MsTls MsTls;

/* Performs the handshake on `fd` (connected, owned by the caller, which keeps
 * it open until ms_tls_free) and verifies the peer against `host`. */
MsTls *ms_tls_connect (int fd, const char *host, const MsTlsOptions *options, gint64 deadline_us,
                       GError **error);

/* Reads up to len bytes; 0 means the peer closed.  -1 with error set on
 * failure or when deadline_us (monotonic) passes. */
gssize ms_tls_read (MsTls *tls, void *buf, gsize len, gint64 deadline_us, GError **error);
gboolean ms_tls_write_all (MsTls *tls, const void *buf, gsize len, gint64 deadline_us, GError **error);
/* TRUE if decrypted bytes are buffered (poll on the fd would not show them). */
gboolean ms_tls_pending (MsTls *tls);

void ms_tls_free (MsTls *tls);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsTls, ms_tls_free)
