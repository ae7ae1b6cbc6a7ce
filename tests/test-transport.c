/* test-transport.c — the transport's write buffer: what is written waits
 * for the next read, a flush or a full buffer, leaves in one piece, and in
 * order.
 * A plain TCP connection to a listening socket of the test on 127.0.0.1. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include "transport.h"

typedef struct {
  int listener;
  int peer; /* the server's end of the connection */
  MsTransport *t;
} Link;

static void
link_open (Link *l)
{
  l->listener = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (l->listener, >=, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  g_assert_cmpint (bind (l->listener, (struct sockaddr *) &a, sizeof a), ==, 0);
  g_assert_cmpint (listen (l->listener, 1), ==, 0);
  socklen_t len = sizeof a;
  g_assert_cmpint (getsockname (l->listener, (struct sockaddr *) &a, &len), ==, 0);

  MsTransportOptions o = { .host = "127.0.0.1", .port = ntohs (a.sin_port), .kind = MS_TRANSPORT_PLAIN,
                           .timeout_s = 5 };
  g_autoptr (GError) error = NULL;
  l->t = ms_transport_connect (&o, &error);
  g_assert_no_error (error);
  l->peer = accept (l->listener, NULL, NULL);
  g_assert_cmpint (l->peer, >=, 0);
}

static void
link_close (Link *l)
{
  ms_transport_free (l->t);
  close (l->peer);
  close (l->listener);
}

/* What the server has received so far, without waiting. */
static GString *
peer_drain (Link *l, GString *into)
{
  char buf[65536];
  for (;;) {
    ssize_t n = recv (l->peer, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      g_string_append_len (into, buf, n);
      continue;
    }
    g_assert_true (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    return into;
  }
}

/* Waits (up to 5 s) until the server has `want` bytes in all. */
static void
peer_wait_for (Link *l, GString *into, gsize want)
{
  while (into->len < want) {
    struct pollfd p = { l->peer, POLLIN, 0 };
    g_assert_cmpint (poll (&p, 1, 5000), ==, 1);
    peer_drain (l, into);
  }
  g_assert_cmpuint (into->len, ==, want);
}

/* A read that finds nothing (no wait) still sends what was held. */
static void
client_read_nothing (Link *l)
{
  char buf[16];
  g_autoptr (GError) error = NULL;
  g_assert_cmpint (ms_transport_read_wait (l->t, buf, sizeof buf, 0, &error), ==, -2);
  g_assert_no_error (error);
}

static void
test_held_until_read (void)
{
  Link l;
  link_open (&l);
  g_autoptr (GString) want = g_string_new (NULL);
  for (guint i = 1; i <= 50; i++) {
    g_autofree char *cmd = g_strdup_printf ("a%u STATUS box%02u (UIDNEXT MESSAGES)\r\n", i, i);
    g_assert_true (ms_transport_write (l.t, cmd, strlen (cmd), NULL));
    g_string_append (want, cmd);
  }
  g_autoptr (GString) got = g_string_new (NULL);
  /* Loopback delivers at once what was sent: nothing was. */
  peer_drain (&l, got);
  g_assert_cmpuint (got->len, ==, 0);
  client_read_nothing (&l);
  peer_wait_for (&l, got, want->len);
  g_assert_cmpstr (got->str, ==, want->str);

  /* The server's answer is read as before. */
  const char answer[] = "a1 OK done\r\n";
  g_assert_cmpint (send (l.peer, answer, strlen (answer), 0), ==, (ssize_t) strlen (answer));
  char buf[64];
  g_autoptr (GError) error = NULL;
  gssize n = ms_transport_read (l.t, buf, sizeof buf, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (buf, n, answer, strlen (answer));
  link_close (&l);
}

/* A flush sends what was held without any read, and only once. */
static void
test_flush_without_read (void)
{
  Link l;
  link_open (&l);
  const char cmd[] = "a1 UID FETCH 7:8 (UID BODY.PEEK[])\r\n";
  g_assert_true (ms_transport_write (l.t, cmd, strlen (cmd), NULL));
  g_autoptr (GString) got = g_string_new (NULL);
  peer_drain (&l, got);
  g_assert_cmpuint (got->len, ==, 0);
  g_autoptr (GError) error = NULL;
  g_assert_true (ms_transport_flush (l.t, &error));
  g_assert_no_error (error);
  peer_wait_for (&l, got, strlen (cmd));
  g_assert_cmpstr (got->str, ==, cmd);
  /* Neither a second flush nor the next read sends it again. */
  g_assert_true (ms_transport_flush (l.t, NULL));
  client_read_nothing (&l);
  peer_drain (&l, got);
  g_assert_cmpuint (got->len, ==, strlen (cmd));
  link_close (&l);
}

/* Fills `len` bytes with a pattern that differs per `seed`. */
static char *
pattern (gsize len, char seed)
{
  char *p = g_malloc (len);
  for (gsize i = 0; i < len; i++)
    p[i] = (char) ('a' + (seed + i) % 26);
  return p;
}

static void
test_overflow_keeps_order (void)
{
  Link l;
  link_open (&l);
  g_autofree char *a = pattern (10000, 0), *b = pattern (10000, 7), *big = pattern (40000, 13);
  g_autoptr (GString) got = g_string_new (NULL);

  g_assert_true (ms_transport_write (l.t, a, 10000, NULL));
  peer_drain (&l, got);
  g_assert_cmpuint (got->len, ==, 0);
  /* b does not fit behind a: a leaves, b waits. */
  g_assert_true (ms_transport_write (l.t, b, 10000, NULL));
  peer_wait_for (&l, got, 10000);
  g_assert_cmpmem (got->str, 10000, a, 10000);
  /* Larger than the buffer: b leaves first, then big itself. */
  g_assert_true (ms_transport_write (l.t, big, 40000, NULL));
  peer_wait_for (&l, got, 60000);
  g_assert_cmpmem (got->str + 10000, 10000, b, 10000);
  g_assert_cmpmem (got->str + 20000, 40000, big, 40000);
  /* Nothing is left behind for the next read. */
  client_read_nothing (&l);
  peer_drain (&l, got);
  g_assert_cmpuint (got->len, ==, 60000);
  link_close (&l);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/transport/held-until-read", test_held_until_read);
  g_test_add_func ("/transport/overflow-keeps-order", test_overflow_keeps_order);
  g_test_add_func ("/transport/flush-without-read", test_flush_without_read);
  return g_test_run ();
}
