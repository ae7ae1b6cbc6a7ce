/* transport.h — a byte stream to an IMAP server: TCP, TLS on TCP (IMAPS or
 * after STARTTLS), or a Tunnel command (mbsync's `Tunnel`, a shell command
 * whose stdin/stdout speak IMAP, e.g. `ssh host /usr/lib/dovecot/imap`).
 *
 * Writes are buffered: what ms_transport_write() accepts goes out at the
 * latest when the buffer is full or the caller reads, so pipelined commands
 * leave together and a reply is never awaited for a command still held.
 *
 * Calls block the calling thread but every wait is bounded by the
 * transport's timeout (mbsync's `Timeout`, default MS_TRANSPORT_TIMEOUT_S,
 * and like mbsync's, 0 means none);
 * the fd is non-blocking underneath and waits happen in poll().  Meant for
 * sync_imap's and watch_imap's connection threads, not for a main loop.
 *
 * The tunnel child is spawned with a socketpair as its stdin and stdout (as
 * mbsync does), inherits stderr, and is killed when the transport is freed.
 */
#pragma once

#include <glib.h>

#include "tls.h"

/* mbsync's default Timeout is 20 s; a server slower than that is broken or
 * the link is dead. */
#define MS_TRANSPORT_TIMEOUT_S 20

typedef enum {
  MS_TRANSPORT_PLAIN,    /* no TLS (or STARTTLS later) */
  MS_TRANSPORT_IMAPS,    /* TLS from the first byte */
} MsTransportKind;

typedef struct {
  const char *host;
  guint16 port;
  MsTransportKind kind;
  const char *tunnel;    /* if set, host/port/kind are not used */
  MsTlsOptions tls;
  guint timeout_s;       /* 0: no timeout */
} MsTransportOptions;

typedef struct MsTransport MsTransport;

MsTransport *ms_transport_connect (const MsTransportOptions *options, GError **error);
/* Upgrades a plain TCP connection (after the server's OK to STARTTLS). */
gboolean ms_transport_start_tls (MsTransport *t, GError **error);
gboolean ms_transport_is_encrypted (const MsTransport *t);
gboolean ms_transport_is_tunnel (const MsTransport *t);

/* Reads what is available (at least 1 byte), waiting up to the timeout;
 * 0 = the server closed the connection. */
gssize ms_transport_read (MsTransport *t, void *buf, gsize len, GError **error);
/* Like ms_transport_read, but waits at most timeout_ms (-1: the transport's
 * timeout); returns -2 (no error set) when nothing arrived in time. */
gssize ms_transport_read_wait (MsTransport *t, void *buf, gsize len, gint timeout_ms, GError **error);
/* Whether the peer has closed the connection (or it failed), without
 * reading or waiting: for a connection left idle between uses. */
gboolean ms_transport_peer_gone (MsTransport *t);
gboolean ms_transport_write (MsTransport *t, const void *buf, gsize len, GError **error);
/* Sends what writes kept back now, for a caller that works on something
 * else (a disk sync) before it reads the reply. */
gboolean ms_transport_flush (MsTransport *t, GError **error);

void ms_transport_free (MsTransport *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsTransport, ms_transport_free)
