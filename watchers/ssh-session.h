/* ssh-session.h — one SSH connection that runs one remote command, without
 * ever blocking.  The only file of the project that includes <libssh2.h>.
 *
 * The session is a state machine driven from the program's poll loop:
 * ms_ssh_session_step() does everything that can be done now and says what
 * to wait for next (a descriptor, its events, and a deadline).  It goes
 * through these phases, each set-up phase with its own deadline
 * (connect_timeout_s):
 *
 *   connect     resolve the host (asynchronously) and connect over TCP
 *   handshake   SSH key exchange, then the host key check against
 *               known_hosts (a refusal is final: MS_SSH_ERROR_HOST_KEY)
 *   auth        public keys only: ssh-agent's (with identities_only, only
 *               those of the key files), then the key files
 *   start       open a session channel and exec the command
 *   running     remote output goes to the handlers; liveness is checked
 *   closing     after ms_ssh_session_close(): EOF to the command, close the
 *               channel and disconnect, bounded by MS_SSH_CLOSE_TIMEOUT_MS
 *
 * Liveness.  While running, the session notes the time of every byte that
 * arrives.  After keepalive_s seconds without one it asks the server for an
 * answer, and it gives up (MS_SSH_ERROR_LOST) when nothing at all has
 * arrived for keepalive_s × keepalive_count seconds.  A frozen server or a
 * dead link is therefore noticed within that bound of its last sign of life.
 *
 * Messages about skipped keys and the like go to the notice handler; errors
 * are returned.  This module prints nothing.
 *
 * Ownership: the caller owns the session; the config is copied.
 */
#pragma once

#include <glib.h>

/* How long a clean close may take: EOF to the remote command, the channel
 * closed (the server confirms once the command has exited, which for
 * inputkill is at once), and the disconnect message.  On a live link that
 * is a round trip or two; a dead link must not hold up our exit for long. */
#define MS_SSH_CLOSE_TIMEOUT_MS 2000

#define MS_SSH_ERROR (ms_ssh_error_quark ())
GQuark ms_ssh_error_quark (void);

typedef enum {
  MS_SSH_ERROR_CONFIG,   /* a file or setting we were given cannot work */
  MS_SSH_ERROR_HOST_KEY, /* the host key is unknown, has changed, or is revoked */
  MS_SSH_ERROR_AUTH,     /* no key was accepted */
  MS_SSH_ERROR_CONNECT,  /* the host could not be reached, or a set-up phase timed out */
  MS_SSH_ERROR_LOST,     /* a running connection stopped answering */
  MS_SSH_ERROR_CLOSED,   /* the connection or the remote command ended */
} MsSshError;

typedef struct {
  const char *host;           /* name or address to connect to */
  guint16 port;
  const char *user;
  const char *host_key_alias; /* name to look up in known_hosts; NULL: host */
  /* known_hosts files; a missing one counts as empty */
  const char *const *known_hosts;
  /* private key files, tried in order after the agent's keys */
  const char *const *identities;
  /* TRUE if the identities were named by the user: then a missing one is
   * worth a notice (the defaults usually do not all exist) */
  gboolean identities_named;
  /* ssh's IdentitiesOnly: of the agent's keys, offer only those whose
   * public key is one of the identities' (found inside the file, or in
   * FILE.pub, which is enough when the private key is in the agent only);
   * the others are neither offered nor counted, so that an agent full of
   * keys does not use up the server's MaxAuthTries */
  gboolean identities_only;
  gboolean use_agent; /* try ssh-agent ($SSH_AUTH_SOCK) first */
  guint connect_timeout_s;
  guint keepalive_s; /* 0: no liveness check */
  guint keepalive_count;
  const char *command; /* run by the remote user's shell */
} MsSshConfig;

typedef struct {
  /* A chunk of the command's standard output / standard error. */
  void (*output) (gpointer user_data, const char *data, gsize len);
  void (*errors) (gpointer user_data, const char *data, gsize len);
  /* Something the user should know that is not (yet) an error. */
  void (*notice) (gpointer user_data, const char *message);
} MsSshHandlers;

typedef enum {
  MS_SSH_STARTING, /* setting up; wait as told */
  MS_SSH_RUNNING,  /* the command runs; wait as told */
  MS_SSH_CLOSED,   /* closed after ms_ssh_session_close() */
  MS_SSH_FAILED,   /* failed or ended; the error says why */
} MsSshState;

typedef struct {
  int fd;          /* -1: no descriptor, only the deadline */
  short events;    /* for poll(2) */
  gint64 deadline; /* monotonic µs; G_MAXINT64 for none */
} MsSshWait;

typedef struct MsSshSession MsSshSession;

/* Reads the known_hosts files and starts resolving the host.  Fails with
 * MS_SSH_ERROR_CONFIG (an unreadable known_hosts file) or
 * MS_SSH_ERROR_CONNECT.  `now` is g_get_monotonic_time(). (transfer full) */
MsSshSession *ms_ssh_session_new (const MsSshConfig *config, const MsSshHandlers *handlers,
                                  gpointer user_data, gint64 now, GError **error);
void ms_ssh_session_free (MsSshSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsSshSession, ms_ssh_session_free)

/* Does what can be done now.  For STARTING and RUNNING, *wait says what to
 * wait for before the next call (call again early at will: a step that
 * finds nothing to do costs little).  Handlers are called from here. */
MsSshState ms_ssh_session_step (MsSshSession *session, gint64 now, MsSshWait *wait, GError **error);

/* Starts a clean close; the following steps end in MS_SSH_CLOSED.  While
 * still setting up, there is nothing to close cleanly: the connection is
 * simply dropped. */
void ms_ssh_session_close (MsSshSession *session, gint64 now);
