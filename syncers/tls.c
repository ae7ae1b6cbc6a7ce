/* tls.c — see tls.h.  One SSL_CTX per session: sessions are few (one or two
 * connections per account) and this keeps ownership trivial. */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gio/gio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include "ms-error.h"
#include "ms-fd.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SSL_CTX, SSL_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SSL, SSL_free)

struct MsTls {
  SSL_CTX *ctx;
  SSL *ssl;
  int fd;
};

/* The OpenSSL error queue as one line, emptied. (transfer full) */
static char *
ssl_errors (void)
{
  GString *s = g_string_new (NULL);
  unsigned long e;
  char buf[256];
  while ((e = ERR_get_error ()) != 0) {
    ERR_error_string_n (e, buf, sizeof buf);
    if (s->len)
      g_string_append (s, "; ");
    g_string_append (s, buf);
  }
  if (s->len == 0)
    g_string_append (s, "unknown TLS error");
  return g_string_free (s, FALSE);
}

/* Handles the result of an SSL_* call: TRUE to retry after waiting. */
static gboolean
retry_after (MsTls *tls, int ret, const char *what, gint64 deadline_us, GError **error)
{
  int err = SSL_get_error (tls->ssl, ret);
  switch (err) {
  case SSL_ERROR_WANT_READ:
    return ms_fd_wait (tls->fd, POLLIN, deadline_us, error);
  case SSL_ERROR_WANT_WRITE:
    return ms_fd_wait (tls->fd, POLLOUT, deadline_us, error);
  case SSL_ERROR_SYSCALL:
    if (errno == EINTR)
      return TRUE;
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "TLS %s: %s", what,
                 errno ? g_strerror (errno) : "connection closed");
    return FALSE;
  default: {
    g_autofree char *msg = ssl_errors ();
    g_set_error (error, MS_ERROR, MS_ERROR_PROTOCOL, "TLS %s: %s", what, msg);
    return FALSE;
  }
  }
}

static gboolean
is_ip_address (const char *host)
{
  unsigned char buf[16];
  return inet_pton (AF_INET, host, buf) == 1 || inet_pton (AF_INET6, host, buf) == 1;
}

MsTls *
ms_tls_connect (int fd, const char *host, const MsTlsOptions *options, gint64 deadline_us, GError **error)
{
  g_autoptr (SSL_CTX) ctx = SSL_CTX_new (TLS_client_method ());
  if (ctx == NULL) {
    g_autofree char *msg = ssl_errors ();
    g_set_error (error, MS_ERROR, MS_ERROR_FAILED, "cannot create a TLS context: %s", msg);
    return NULL;
  }
  SSL_CTX_set_min_proto_version (ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify (ctx, SSL_VERIFY_PEER, NULL);
  if (options->system_certs && SSL_CTX_set_default_verify_paths (ctx) != 1) {
    g_autofree char *msg = ssl_errors ();
    g_set_error (error, MS_ERROR, MS_ERROR_FAILED, "cannot load the system certificates: %s", msg);
    return NULL;
  }
  if (options->ca_file != NULL && SSL_CTX_load_verify_locations (ctx, options->ca_file, NULL) != 1) {
    g_autofree char *msg = ssl_errors ();
    g_set_error (error, MS_ERROR, MS_ERROR_FAILED, "cannot load CertificateFile %s: %s",
                 options->ca_file, msg);
    return NULL;
  }
  if (options->ciphers != NULL && SSL_CTX_set_cipher_list (ctx, options->ciphers) != 1) {
    g_set_error (error, MS_ERROR, MS_ERROR_FAILED, "bad CipherString \"%s\"", options->ciphers);
    return NULL;
  }

  g_autoptr (SSL) ssl = SSL_new (ctx);
  if (ssl == NULL || SSL_set_fd (ssl, fd) != 1) {
    g_autofree char *msg = ssl_errors ();
    g_set_error (error, MS_ERROR, MS_ERROR_FAILED, "cannot set up TLS: %s", msg);
    return NULL;
  }
  if (is_ip_address (host)) {
    if (X509_VERIFY_PARAM_set1_ip_asc (SSL_get0_param (ssl), host) != 1) {
      g_set_error (error, MS_ERROR, MS_ERROR_FAILED, "bad IP address %s", host);
      return NULL;
    }
  } else {
    SSL_set_tlsext_host_name (ssl, host);
    if (SSL_set1_host (ssl, host) != 1) {
      g_set_error (error, MS_ERROR, MS_ERROR_FAILED, "bad host name %s", host);
      return NULL;
    }
  }

  MsTls *tls = g_new0 (MsTls, 1);
  tls->fd = fd;
  tls->ctx = g_steal_pointer (&ctx);
  tls->ssl = g_steal_pointer (&ssl);
  for (;;) {
    ERR_clear_error ();
    int r = SSL_connect (tls->ssl);
    if (r == 1)
      break;
    long verify = SSL_get_verify_result (tls->ssl);
    if (verify != X509_V_OK) {
      g_set_error (error, MS_ERROR, MS_ERROR_PROTOCOL,
                   "certificate of %s not accepted: %s", host, X509_verify_cert_error_string (verify));
      ms_tls_free (tls);
      return NULL;
    }
    if (!retry_after (tls, r, "handshake", deadline_us, error)) {
      g_prefix_error (error, "%s: ", host);
      ms_tls_free (tls);
      return NULL;
    }
  }
  return tls;
}

gssize
ms_tls_read (MsTls *tls, void *buf, gsize len, gint64 deadline_us, GError **error)
{
  for (;;) {
    size_t got = 0;
    ERR_clear_error ();
    int r = SSL_read_ex (tls->ssl, buf, len, &got);
    if (r == 1)
      return (gssize) got;
    if (SSL_get_error (tls->ssl, r) == SSL_ERROR_ZERO_RETURN)
      return 0;
    if (!retry_after (tls, r, "read", deadline_us, error))
      return -1;
  }
}

gboolean
ms_tls_write_all (MsTls *tls, const void *buf, gsize len, gint64 deadline_us, GError **error)
{
  const char *p = buf;
  while (len > 0) {
    size_t done = 0;
    ERR_clear_error ();
    int r = SSL_write_ex (tls->ssl, p, len, &done);
    if (r == 1) {
      p += done;
      len -= done;
      continue;
    }
    if (!retry_after (tls, r, "write", deadline_us, error))
      return FALSE;
  }
  return TRUE;
}

gboolean
ms_tls_pending (MsTls *tls)
{
  return SSL_pending (tls->ssl) > 0;
}

void
ms_tls_free (MsTls *tls)
{
  if (tls == NULL)
    return;
  SSL_free (tls->ssl);
  SSL_CTX_free (tls->ctx);
  g_free (tls);
}
