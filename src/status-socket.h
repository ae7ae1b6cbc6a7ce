/* status-socket.h — the Unix socket through which `mswatch --status` asks a
 * running mswatch for its status: where it lives, and the server side
 * (status-client.h is the other end).
 *
 * Where: $XDG_RUNTIME_DIR, or else /tmp/mswatch-UID (a directory of our
 * own, mode 0700, created by the server and checked by both ends), holds
 * mswatch-HASH.sock, HASH being the first 16 hex digits of the SHA-256 of
 * the configuration file's canonical path: one socket per configuration,
 * so several instances coexist and `mswatch --status -c FILE` finds the
 * one that runs FILE.  The socket is mode 0600.
 *
 * A server started without $XDG_RUNTIME_DIR (runit, cron) listens in the
 * /tmp fallback while the user's login shell has the variable set; the
 * client therefore looks in the fallback too when nothing listens in
 * $XDG_RUNTIME_DIR, but only at a directory and a socket exactly as the
 * server makes them: ours, and closed to everyone else.
 *
 * The conversation: the client sends one line, "STATUS" or "STATUS JSON";
 * the server answers with the report (status.h) and closes.  A refusal is
 * one line starting with "ERROR " (no report starts so): a peer whose uid
 * (SO_PEERCRED) is not ours gets one whatever it asks.  At most
 * MS_STATUS_MAX_CLIENTS are served at once; more wait in the listen
 * backlog (as long again), and beyond that the kernel refuses them.
 *
 * The server never blocks the main loop: the listening socket and every
 * client are non-blocking and served from fd sources; a report is built
 * once (bounded, MS_STATUS_MAX_BYTES) and written as the client reads it;
 * a client that has not sent its request and read its answer within
 * MS_STATUS_CLIENT_TIMEOUT_MS is dropped.
 */
#pragma once

#include <glib.h>

/* The request line, without its newline, is at most this long. */
#define MS_STATUS_REQUEST_MAX 64

/* Clients served at once, and the listen backlog.  `mswatch --status`
 * takes milliseconds; more than a handful at once is a runaway script,
 * whose clients wait or are refused. */
#define MS_STATUS_MAX_CLIENTS 8

/* How long a client may take to send its request and read the report. */
#define MS_STATUS_CLIENT_TIMEOUT_MS 5000

/* The socket's path for the configuration file `config_path`.  With
 * `create_dir` the /tmp fallback directory is created if missing; either
 * way it must be a directory of ours that only we can enter.
 * (transfer full) */
char *ms_status_socket_path (const char *config_path, gboolean create_dir, GError **error);

/* The socket's path for `config_path` in the /tmp fallback directory,
 * whatever $XDG_RUNTIME_DIR says; nothing is checked.  The client's second
 * place to look (and a name for the first one when the directory is
 * missing).  (transfer full) */
char *ms_status_socket_fallback_path (const char *config_path);

/* Whether `path`, a socket in the /tmp fallback directory, is as the
 * server makes it: the directory ours, not a symlink, closed to group and
 * others (0700); the socket ours and closed to them too (0600).  A missing
 * directory or socket is G_FILE_ERROR_NOENT; anything else wrong is
 * MS_ERROR_FAILED saying what. */
gboolean ms_status_socket_check_fallback (const char *path, GError **error);

/* Builds the report asked for. (transfer full) */
typedef char *(*MsStatusReportFunc) (gpointer user_data, gboolean json);

typedef struct MsStatusServer MsStatusServer;

/* Listens on `path`.  A stale socket there (nobody accepts on it) is
 * replaced; a live one means another mswatch runs this configuration, and
 * is an error, as is any other file there. */
MsStatusServer *ms_status_server_new (const char *path, MsStatusReportFunc report,
                                      gpointer user_data, GError **error);
/* Drops every client, closes the socket and removes it (if it is still
 * the one we made). */
void ms_status_server_free (MsStatusServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsStatusServer, ms_status_server_free)
