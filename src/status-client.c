/* status-client.c — see status-client.h.
 *
 * A plain blocking client with one deadline for the whole exchange (poll(2)
 * on a non-blocking socket): it runs instead of the main loop, and must
 * end even if the mswatch it asks is wedged.
 *
 * Where to look: where a server started with our environment listens
 * (ms_status_socket_path); if nobody listens there and that is in
 * $XDG_RUNTIME_DIR, the /tmp fallback as well, for a server started
 * without the variable (runit, cron), provided the directory and the
 * socket there are ours and closed to everyone else.  "Not running" names
 * every place looked at.
 */
#include "status-client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "status-socket.h"
#include "ms-time.h"

/* Waits until `fd` is ready for `events` or the deadline passes. */
static gboolean
wait_ready (int fd, short events, gint64 deadline)
{
  for (;;) {
    gint64 left = deadline - ms_time_mono_ms ();
    if (left <= 0)
      return FALSE;
    struct pollfd p = { .fd = fd, .events = events };
    int r = poll (&p, 1, (int) MIN (left, G_MAXINT));
    if (r > 0)
      return TRUE;
    if (r < 0 && errno != EINTR)
      return FALSE;
  }
}

static int
fail (const char *fmt, ...) G_GNUC_PRINTF (1, 2);

static int
fail (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  fprintf (stderr, "mswatch: %s\n", msg);
  return 1;
}

/* Connects to `path`: the socket, or -1 with the errno in *err.  ENOENT
 * and ECONNREFUSED (a stale socket) mean that nobody listens there. */
static int
connect_to (const char *path, int *err)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX };

  g_strlcpy (sun.sun_path, path, sizeof sun.sun_path);
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    *err = errno;
    return -1;
  }
  if (connect (fd, (const struct sockaddr *) &sun, sizeof sun) != 0) {
    *err = errno;
    close (fd);
    return -1;
  }
  return fd;
}

static gboolean
nobody_listens (int err)
{
  return err == ENOENT || err == ECONNREFUSED;
}

int
ms_status_client_run (const char *config_path, gboolean json)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = ms_status_socket_path (config_path, FALSE, &error);
  g_autofree char *fallback = ms_status_socket_fallback_path (config_path);
  gint64 deadline = ms_time_mono_ms () + MS_STATUS_CLIENT_DEADLINE_MS;
  int connect_err = 0;

  if (path == NULL) {
    /* Without $XDG_RUNTIME_DIR the fallback is the only place, and its
     * directory is missing. */
    if (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return fail ("no mswatch is running with configuration %s (nothing listens on %s)",
                   config_path, fallback);
    return fail ("no status socket: %s", error->message);
  }

  int fd = connect_to (path, &connect_err);
  if (fd < 0 && nobody_listens (connect_err) && strcmp (path, fallback) != 0) {
    /* `path` is in $XDG_RUNTIME_DIR; the server may run without it. */
    g_autoptr (GError) why = NULL;
    if (!ms_status_socket_check_fallback (fallback, &why)) {
      if (g_error_matches (why, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return fail ("no mswatch is running with configuration %s (nothing listens on %s nor on %s)",
                     config_path, path, fallback);
      return fail ("no mswatch is running with configuration %s (nothing listens on %s; "
                   "%s not tried: %s)", config_path, path, fallback, why->message);
    }
    int fe = 0;
    fd = connect_to (fallback, &fe);
    if (fd < 0 && nobody_listens (fe))
      return fail ("no mswatch is running with configuration %s (nothing listens on %s nor on %s)",
                   config_path, path, fallback);
    /* Connected there, or an error worth showing about that socket. */
    g_free (path);
    path = g_strdup (fallback);
    connect_err = fe;
  }
  if (fd < 0) {
    if (nobody_listens (connect_err))
      return fail ("no mswatch is running with configuration %s (nothing listens on %s)",
                   config_path, path);
    if (connect_err == EAGAIN)
      return fail ("busy: too many status clients at once; try again");
    return fail ("cannot connect to %s: %s", path, g_strerror (connect_err));
  }

  const char *request = json ? "STATUS JSON\n" : "STATUS\n";
  gsize sent = 0;
  while (sent < strlen (request)) {
    ssize_t n = send (fd, request + sent, strlen (request) - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN && wait_ready (fd, POLLOUT, deadline))
      continue;
    if (n <= 0) {
      int e = n < 0 ? errno : EPIPE;
      close (fd);
      return fail ("sending to %s: %s", path, e == EAGAIN ? "timed out" : g_strerror (e));
    }
    sent += (gsize) n;
  }

  g_autoptr (GString) reply = g_string_new (NULL);
  char buf[16384];
  for (;;) {
    ssize_t n = recv (fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN) {
      if (wait_ready (fd, POLLIN, deadline))
        continue;
      close (fd);
      return fail ("no complete answer from %s within %d s", path, MS_STATUS_CLIENT_DEADLINE_MS / 1000);
    }
    if (n < 0) {
      int e = errno;
      close (fd);
      return fail ("reading from %s: %s", path, g_strerror (e));
    }
    if (n == 0)
      break;
    if (reply->len + (gsize) n > MS_STATUS_CLIENT_MAX_BYTES) {
      close (fd);
      return fail ("the answer from %s is larger than %d bytes", path, MS_STATUS_CLIENT_MAX_BYTES);
    }
    g_string_append_len (reply, buf, n);
  }
  close (fd);

  if (g_str_has_prefix (reply->str, "ERROR ")) {
    g_strchomp (reply->str);
    return fail ("%s", reply->str + strlen ("ERROR "));
  }
  if (reply->len == 0)
    return fail ("%s closed the connection without an answer", path);
  fwrite (reply->str, 1, reply->len, stdout);
  fflush (stdout);
  return ferror (stdout) ? 1 : 0;
}
