/* transport.c — see transport.h. */
#include "transport.h"

#include <errno.h>
#include <gio/gio.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ms-child.h"
#include "ms-error.h"
#include "ms-fd.h"

/* How long a Tunnel command gets to exit after SIGTERM. */
#define MS_TRANSPORT_TUNNEL_GRACE_MS 2000

/* Writes are kept back up to one TLS record's payload (16 KiB) and sent
 * before the next read: a pipelined burst of commands costs the server one
 * record to decrypt and one read, not one per command. */
#define MS_TRANSPORT_OUT_MAX 16384

struct MsTransport {
  int fd;
  MsTls *tls;
  GPid tunnel_pid;   /* 0 if not a tunnel */
  char *host;
  MsTlsOptions tls_options;
  char *ca_file;
  char *ciphers;
  guint timeout_s;
  gsize out_len;
  char out[MS_TRANSPORT_OUT_MAX];
};

/* When a wait that starts now gives up (never, with mbsync's Timeout 0). */
static gint64
deadline (const MsTransport *t)
{
  if (t->timeout_s == 0)
    return G_MAXINT64;
  return g_get_monotonic_time () + (gint64) t->timeout_s * G_USEC_PER_SEC;
}

static gboolean
set_nonblocking (int fd, GError **error)
{
  int flags = fcntl (fd, F_GETFL);
  if (flags < 0 || fcntl (fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    int e = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "fcntl: %s", g_strerror (e));
    return FALSE;
  }
  return TRUE;
}

static int
connect_tcp (const char *host, guint16 port, gint64 deadline_us, GError **error)
{
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC };
  struct addrinfo *res = NULL;
  char portstr[8];
  g_autoptr (GError) last = NULL;

  g_snprintf (portstr, sizeof portstr, "%u", port);
  int r = getaddrinfo (host, portstr, &hints, &res);
  if (r != 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_HOST_NOT_FOUND, "cannot resolve %s: %s", host,
                 gai_strerror (r));
    return -1;
  }
  for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
    int fd = socket (ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0)
      continue;
    if (connect (fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
      int soerr = 0;
      socklen_t len = sizeof soerr;
      g_clear_error (&last);
      if (ms_fd_wait (fd, POLLOUT, deadline_us, &last)
          && getsockopt (fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0) {
        freeaddrinfo (res);
        return fd;
      }
      if (last == NULL)
        g_set_error (&last, G_IO_ERROR, g_io_error_from_errno (soerr), "%s", g_strerror (soerr));
    } else {
      int e = errno;
      g_clear_error (&last);
      g_set_error (&last, G_IO_ERROR, g_io_error_from_errno (e), "%s", g_strerror (e));
    }
    close (fd);
  }
  freeaddrinfo (res);
  if (last == NULL)
    g_set_error (&last, G_IO_ERROR, G_IO_ERROR_FAILED, "no usable address");
  g_propagate_prefixed_error (error, g_steal_pointer (&last), "cannot connect to %s port %u: ", host, port);
  return -1;
}

static int
spawn_tunnel (const char *command, GPid *pid, GError **error)
{
  int sv[2];
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
    int e = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "socketpair: %s", g_strerror (e));
    return -1;
  }
  const char *argv[] = { "/bin/sh", "-c", command, NULL };
  /* g_spawn's dup2 of sv[1] to 0 and 1 clears close-on-exec on those. */
  if (!g_spawn_async_with_fds (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, ms_child_unblock_signals, NULL, pid,
                               sv[1], sv[1], -1, error)) {
    close (sv[0]);
    close (sv[1]);
    g_prefix_error (error, "cannot run Tunnel command: ");
    return -1;
  }
  close (sv[1]);
  return sv[0];
}

MsTransport *
ms_transport_connect (const MsTransportOptions *o, GError **error)
{
  MsTransport *t = g_new0 (MsTransport, 1);
  t->fd = -1;
  t->timeout_s = o->timeout_s;
  t->host = g_strdup (o->host);
  t->ca_file = g_strdup (o->tls.ca_file);
  t->ciphers = g_strdup (o->tls.ciphers);
  t->tls_options = (MsTlsOptions) { t->ca_file, o->tls.system_certs, t->ciphers };

  if (o->tunnel != NULL) {
    t->fd = spawn_tunnel (o->tunnel, &t->tunnel_pid, error);
  } else {
    t->fd = connect_tcp (o->host, o->port, deadline (t), error);
  }
  if (t->fd < 0 || !set_nonblocking (t->fd, error)) {
    ms_transport_free (t);
    return NULL;
  }
  if (o->tunnel == NULL && o->kind == MS_TRANSPORT_IMAPS && !ms_transport_start_tls (t, error)) {
    ms_transport_free (t);
    return NULL;
  }
  return t;
}

gboolean
ms_transport_start_tls (MsTransport *t, GError **error)
{
  g_return_val_if_fail (t->tls == NULL && t->out_len == 0, FALSE);
  t->tls = ms_tls_connect (t->fd, t->host, &t->tls_options, deadline (t), error);
  return t->tls != NULL;
}

gboolean
ms_transport_is_encrypted (const MsTransport *t)
{
  return t->tls != NULL;
}

gboolean
ms_transport_is_tunnel (const MsTransport *t)
{
  return t->tunnel_pid != 0;
}

gssize
ms_transport_read_wait (MsTransport *t, void *buf, gsize len, gint timeout_ms, GError **error)
{
  if (!ms_transport_flush (t, error))
    return -1;
  gint64 until = timeout_ms < 0 ? deadline (t) : g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  if (t->tls != NULL && !ms_tls_pending (t->tls)) {
    g_autoptr (GError) local = NULL;
    if (!ms_fd_wait (t->fd, POLLIN, until, &local)) {
      if (timeout_ms >= 0 && g_error_matches (local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        return -2;
      g_propagate_error (error, g_steal_pointer (&local));
      return -1;
    }
  }
  if (t->tls != NULL)
    return ms_tls_read (t->tls, buf, len, deadline (t), error);

  for (;;) {
    ssize_t n = read (t->fd, buf, len);
    if (n >= 0)
      return n;
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN) {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "read: %s", g_strerror (e));
      return -1;
    }
    g_autoptr (GError) local = NULL;
    if (!ms_fd_wait (t->fd, POLLIN, until, &local)) {
      if (timeout_ms >= 0 && g_error_matches (local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        return -2;
      g_propagate_error (error, g_steal_pointer (&local));
      return -1;
    }
  }
}

gssize
ms_transport_read (MsTransport *t, void *buf, gsize len, GError **error)
{
  return ms_transport_read_wait (t, buf, len, -1, error);
}

/* Sends buf now, waiting up to the transport's timeout. */
static gboolean
write_now (MsTransport *t, const void *buf, gsize len, GError **error)
{
  if (t->tls != NULL)
    return ms_tls_write_all (t->tls, buf, len, deadline (t), error);

  const char *p = buf;
  gint64 until = deadline (t);
  while (len > 0) {
    ssize_t n = send (t->fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK)
      n = write (t->fd, p, len);
    if (n > 0) {
      p += n;
      len -= (gsize) n;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno != EAGAIN) {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "write: %s", g_strerror (e));
      return FALSE;
    }
    if (!ms_fd_wait (t->fd, POLLOUT, until, error))
      return FALSE;
  }
  return TRUE;
}

/* After a failure the connection is unusable and the rest is dropped. */
gboolean
ms_transport_flush (MsTransport *t, GError **error)
{
  gsize n = t->out_len;
  t->out_len = 0;
  return n == 0 || write_now (t, t->out, n, error);
}

gboolean
ms_transport_write (MsTransport *t, const void *buf, gsize len, GError **error)
{
  if (t->out_len + len > sizeof t->out && !ms_transport_flush (t, error))
    return FALSE;
  if (len >= sizeof t->out)
    return write_now (t, buf, len, error);
  memcpy (t->out + t->out_len, buf, len);
  t->out_len += len;
  return TRUE;
}

void
ms_transport_free (MsTransport *t)
{
  if (t == NULL)
    return;
  g_clear_pointer (&t->tls, ms_tls_free);
  if (t->fd >= 0)
    close (t->fd);
  if (t->tunnel_pid != 0) {
    /* Closing the socket ends a well-behaved tunnel; SIGTERM the rest, and
     * SIGKILL one that is still there after MS_TRANSPORT_TUNNEL_GRACE_MS. */
    kill (t->tunnel_pid, SIGTERM);
    ms_child_reap (t->tunnel_pid, g_get_monotonic_time () + MS_TRANSPORT_TUNNEL_GRACE_MS * 1000, NULL);
  }
  g_free (t->host);
  g_free (t->ca_file);
  g_free (t->ciphers);
  g_free (t);
}

gboolean
ms_transport_peer_gone (MsTransport *t)
{
  struct pollfd p = { .fd = t->fd, .events = POLLIN | POLLRDHUP };
  int n;
  do
    n = poll (&p, 1, 0);
  while (n < 0 && errno == EINTR);
  return n > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}
