/* status-socket.c — see status-socket.h.
 *
 * Raw sockets on GLib fd sources, as the supervisor reads its children:
 * every descriptor is non-blocking and close-on-exec, and every client has
 * its own deadline.  A client moves through READING (its request line),
 * WRITING (the report) and is then closed; nothing is kept between
 * clients.
 */
#include "status-socket.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "messages.h"
#include "ms-error.h"

/* Hex digits of the config path's hash in the socket's name: 64 bits make
 * a collision between two configurations of one user implausible. */
#define NAME_HASH_CHARS 16

/* --- the path -------------------------------------------------------------------- */

/* `path` must be a file of `type` (S_IFDIR, S_IFSOCK; not a symlink)
 * owned by us that nobody else may use; `what` names the type. */
static gboolean
check_private (const char *path, mode_t type, const char *what, GError **error)
{
  struct stat st;

  if (lstat (path, &st) != 0) {
    int e = errno;
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "%s: %s", path, g_strerror (e));
    return FALSE;
  }
  if ((st.st_mode & S_IFMT) != type || st.st_uid != getuid () || (st.st_mode & 077) != 0) {
    g_set_error (error, MS_ERROR, MS_ERROR_FAILED, "%s is not a %s of uid %u that only its owner may use",
                 path, what, (unsigned) getuid ());
    return FALSE;
  }
  return TRUE;
}

/* `dir` must be a directory of ours that nobody else may enter, or a
 * socket in it could be swapped under us. */
static gboolean
check_private_dir (const char *dir, GError **error)
{
  return check_private (dir, S_IFDIR, "directory", error);
}

static char *
fallback_dir (void)
{
  return g_strdup_printf ("/tmp/mswatch-%u", (unsigned) getuid ());
}

/* DIR/mswatch-HASH.sock for `config_path`; the length is not checked. */
static char *
path_in (const char *dir, const char *config_path)
{
  /* Both ends must name the same file however they were given its path. */
  char *real = realpath (config_path, NULL);
  g_autofree char *canonical = real ? g_strdup (real) : g_canonicalize_filename (config_path, NULL);
  free (real);
  g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, canonical, -1);
  hash[NAME_HASH_CHARS] = '\0';
  return g_strdup_printf ("%s/mswatch-%s.sock", dir, hash);
}

char *
ms_status_socket_path (const char *config_path, gboolean create_dir, GError **error)
{
  g_autofree char *dir = NULL;
  const char *runtime = g_getenv ("XDG_RUNTIME_DIR");

  if (runtime != NULL && g_path_is_absolute (runtime)) {
    dir = g_strdup (runtime);
  } else {
    dir = fallback_dir ();
    if (create_dir && mkdir (dir, 0700) != 0 && errno != EEXIST) {
      int e = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "creating %s: %s", dir,
                   g_strerror (e));
      return NULL;
    }
    if (!check_private_dir (dir, error))
      return NULL;
  }

  char *path = path_in (dir, config_path);
  struct sockaddr_un sun;
  if (strlen (path) >= sizeof sun.sun_path) {
    g_set_error (error, MS_ERROR, MS_ERROR_LIMIT, "socket path %s is longer than %zu bytes", path,
                 sizeof sun.sun_path - 1);
    g_free (path);
    return NULL;
  }
  return path;
}

char *
ms_status_socket_fallback_path (const char *config_path)
{
  /* "/tmp/mswatch-" + 10 digits + "/mswatch-" + 16 + ".sock": always
   * short enough for sun_path. */
  g_autofree char *dir = fallback_dir ();
  return path_in (dir, config_path);
}

gboolean
ms_status_socket_check_fallback (const char *path, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);

  /* The server binds the socket with umask 0177: 0600. */
  return check_private_dir (dir, error) && check_private (path, S_IFSOCK, "socket", error);
}

/* --- the server ------------------------------------------------------------------ */

typedef struct Client Client;

struct MsStatusServer {
  int fd;
  char *path;
  dev_t dev;          /* the socket file we made, to remove only that one */
  ino_t ino;
  guint accept_source; /* 0 while MS_STATUS_MAX_CLIENTS are being served */
  MsStatusReportFunc report;
  gpointer report_data;
  GList *clients;     /* Client* */
  guint n_clients;
};

struct Client {
  MsStatusServer *server;
  int fd;
  char request[MS_STATUS_REQUEST_MAX + 1];
  gsize request_len;
  char *refusal;      /* the answer to give whatever it asks, or NULL */
  GString *out;       /* NULL while reading the request */
  gsize written;
  guint io_source;
  guint timeout_source;
};

static gboolean on_acceptable (int fd, GIOCondition cond, gpointer data);

/* How much unread input is drained before a client is closed: closing a
 * socket with unread data resets the connection, and the peer could lose
 * the answer we wrote. */
#define DRAIN_MAX 4096

static void
client_free (Client *c)
{
  g_clear_handle_id (&c->io_source, g_source_remove);
  g_clear_handle_id (&c->timeout_source, g_source_remove);
  if (c->fd >= 0) {
    char buf[512];
    gsize drained = 0;
    ssize_t n;
    while (drained < DRAIN_MAX && (n = recv (c->fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
      drained += (gsize) n;
    close (c->fd);
  }
  if (c->out != NULL)
    g_string_free (c->out, TRUE);
  g_free (c->refusal);
  g_free (c);
}

static void
client_drop (Client *c)
{
  MsStatusServer *s = c->server;
  s->clients = g_list_remove (s->clients, c);
  s->n_clients--;
  client_free (c);
  /* A slot is free: take the connections waiting in the backlog. */
  if (s->accept_source == 0)
    s->accept_source = g_unix_fd_add (s->fd, G_IO_IN, on_acceptable, s);
}

static gboolean
on_client_timeout (gpointer data)
{
  Client *c = data;
  c->timeout_source = 0;
  client_drop (c);
  return G_SOURCE_REMOVE;
}

static gboolean on_client_writable (int fd, GIOCondition cond, gpointer data);

/* Queues `text` as the answer and switches the client to writing. */
static void
client_answer (Client *c, char *text)
{
  g_clear_handle_id (&c->io_source, g_source_remove);
  c->out = g_string_new (text);
  g_free (text);
  c->io_source = g_unix_fd_add (c->fd, G_IO_OUT, on_client_writable, c);
}

static gboolean
on_client_writable (int fd, GIOCondition cond, gpointer data)
{
  Client *c = data;

  while (c->written < c->out->len) {
    ssize_t n = send (fd, c->out->str + c->written, c->out->len - c->written, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return G_SOURCE_CONTINUE;
    if (n <= 0)
      break; /* the client went away: nothing to tell anyone */
    c->written += (gsize) n;
  }
  c->io_source = 0;
  client_drop (c);
  return G_SOURCE_REMOVE;
}

static void
take_request (Client *c)
{
  MsStatusServer *s = c->server;
  const char *req = c->request;

  if (c->refusal != NULL)
    client_answer (c, g_strdup_printf ("ERROR %s\n", c->refusal));
  else if (strcmp (req, "STATUS") == 0)
    client_answer (c, s->report (s->report_data, FALSE));
  else if (strcmp (req, "STATUS JSON") == 0)
    client_answer (c, s->report (s->report_data, TRUE));
  else
    client_answer (c, g_strdup ("ERROR unknown request; send \"STATUS\" or \"STATUS JSON\"\n"));
}

static gboolean
on_client_readable (int fd, GIOCondition cond, gpointer data)
{
  Client *c = data;
  char buf[MS_STATUS_REQUEST_MAX + 1];

  for (;;) {
    ssize_t n = recv (fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return G_SOURCE_CONTINUE;
    if (n <= 0) {
      /* Gone, or closed before its request ended: nothing to answer. */
      c->io_source = 0;
      client_drop (c);
      return G_SOURCE_REMOVE;
    }
    for (ssize_t i = 0; i < n; i++) {
      if (buf[i] == '\n') {
        c->request[c->request_len] = '\0';
        c->io_source = 0;
        take_request (c); /* installs the write source */
        return G_SOURCE_REMOVE;
      }
      if (c->request_len == MS_STATUS_REQUEST_MAX) {
        c->io_source = 0;
        client_answer (c, g_strdup ("ERROR request line too long\n"));
        return G_SOURCE_REMOVE;
      }
      c->request[c->request_len++] = buf[i];
    }
  }
}

static void
take_client (MsStatusServer *s, int fd)
{
  struct ucred cred;
  socklen_t len = sizeof cred;
  Client *c = g_new0 (Client, 1);

  /* A peer of another uid is served the refusal, after its request so
   * that it reads it (closing on an unread request would reset the
   * connection and lose the message). */
  if (getsockopt (fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred
      || cred.uid != getuid ()) {
    ms_msg_status_refused (len == sizeof cred ? (gint64) cred.uid : -1);
    c->refusal = g_strdup_printf ("refused: this mswatch answers only uid %u", (unsigned) getuid ());
  }
  c->server = s;
  c->fd = fd;
  c->io_source = g_unix_fd_add (fd, G_IO_IN, on_client_readable, c);
  c->timeout_source = g_timeout_add (MS_STATUS_CLIENT_TIMEOUT_MS, on_client_timeout, c);
  s->clients = g_list_prepend (s->clients, c);
  s->n_clients++;
}

static gboolean
on_acceptable (int fd, GIOCondition cond, gpointer data)
{
  MsStatusServer *s = data;

  while (s->n_clients < MS_STATUS_MAX_CLIENTS) {
    int cfd = accept4 (fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0) {
      /* EAGAIN: all taken.  Anything else (ECONNABORTED, EMFILE) costs
       * that one client only; the next readiness tries again. */
      return G_SOURCE_CONTINUE;
    }
    take_client (s, cfd);
  }
  /* Full: the rest wait in the listen backlog (and beyond it are refused
   * by the kernel) until a client is done. */
  s->accept_source = 0;
  return G_SOURCE_REMOVE;
}

static gboolean
fill_address (struct sockaddr_un *sun, const char *path, GError **error)
{
  memset (sun, 0, sizeof *sun);
  sun->sun_family = AF_UNIX;
  if (strlen (path) >= sizeof sun->sun_path) {
    g_set_error (error, MS_ERROR, MS_ERROR_LIMIT, "socket path %s is too long", path);
    return FALSE;
  }
  strcpy (sun->sun_path, path);
  return TRUE;
}

/* Removes a socket nobody listens on; fails if one does, or if `path` is
 * something else than a socket. */
static gboolean
clear_stale (const char *path, const struct sockaddr_un *sun, GError **error)
{
  struct stat st;

  if (lstat (path, &st) != 0)
    return TRUE; /* nothing there */
  if (!S_ISSOCK (st.st_mode)) {
    g_set_error (error, MS_ERROR, MS_ERROR_FAILED, "%s exists and is not a socket", path);
    return FALSE;
  }
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int e = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "socket: %s", g_strerror (e));
    return FALSE;
  }
  /* Connecting to a Unix socket never waits: someone accepts, or it is
   * refused at once. */
  int r = connect (fd, (const struct sockaddr *) sun, sizeof *sun);
  close (fd);
  if (r == 0) {
    g_set_error (error, MS_ERROR, MS_ERROR_FAILED,
                 "another mswatch with this configuration is listening on %s", path);
    return FALSE;
  }
  if (unlink (path) != 0 && errno != ENOENT) {
    int e = errno;
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "removing stale %s: %s", path,
                 g_strerror (e));
    return FALSE;
  }
  return TRUE;
}

MsStatusServer *
ms_status_server_new (const char *path, MsStatusReportFunc report, gpointer user_data,
                      GError **error)
{
  struct sockaddr_un sun;
  struct stat st;

  if (!fill_address (&sun, path, error) || !clear_stale (path, &sun, error))
    return NULL;

  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int e = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "socket: %s", g_strerror (e));
    return NULL;
  }
  /* Created 0600 from the start: connecting needs write permission. */
  mode_t old = umask (0177);
  int r = bind (fd, (const struct sockaddr *) &sun, sizeof sun);
  int e = errno;
  umask (old);
  if (r != 0 || listen (fd, MS_STATUS_MAX_CLIENTS) != 0 || stat (path, &st) != 0) {
    if (r == 0)
      e = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "listening on %s: %s", path,
                 g_strerror (e));
    close (fd);
    return NULL;
  }

  MsStatusServer *s = g_new0 (MsStatusServer, 1);
  s->fd = fd;
  s->path = g_strdup (path);
  s->dev = st.st_dev;
  s->ino = st.st_ino;
  s->report = report;
  s->report_data = user_data;
  s->accept_source = g_unix_fd_add (fd, G_IO_IN, on_acceptable, s);
  return s;
}

void
ms_status_server_free (MsStatusServer *s)
{
  struct stat st;

  if (s == NULL)
    return;
  g_list_free_full (s->clients, (GDestroyNotify) client_free);
  g_clear_handle_id (&s->accept_source, g_source_remove);
  if (lstat (s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
    unlink (s->path);
  close (s->fd);
  g_free (s->path);
  g_free (s);
}
