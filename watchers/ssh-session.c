/* ssh-session.c — see ssh-session.h for the phases and the liveness rule.
 *
 * libssh2 runs in non-blocking mode throughout.  A call that cannot finish
 * returns LIBSSH2_ERROR_EAGAIN (or NULL with that as the session's last
 * error) and must be repeated with the same arguments once the socket is
 * ready in the direction(s) libssh2_session_block_directions() names; each
 * phase below is written as "call again until it stops saying EAGAIN".
 *
 * Host keys.  The name looked up in known_hosts is the alias or the host,
 * lower-cased, as "[name]:port" for a port other than 22 — exactly the form
 * ssh writes, so hashed entries match too.  It is passed to
 * libssh2_knownhost_checkp() with no port, because given a port that
 * function also accepts a plain "name" entry, which vouches only for port
 * 22.  Before the handshake, the key types known_hosts holds for the host
 * are put first in the host key algorithms we offer, as ssh does: libssh2
 * asks for ECDSA first, so a server with an ED25519 key we know and an
 * ECDSA key we don't would otherwise be refused.  "@revoked" lines are honoured (their key is refused for any
 * host); "@cert-authority" lines are skipped, since libssh2 cannot check
 * host certificates, which errs on the side of refusing.
 *
 * Liveness.  Every byte read from the socket passes through on_recv(),
 * which notes the time.  The question we ask a silent server is a channel
 * "env" request with want-reply: sshd answers a request it will not honour
 * on a running session with a failure message, and libssh2 consumes that
 * answer.  libssh2's own keepalive (libssh2_keepalive_send() with
 * want_reply) cannot be used for this in libssh2 1.10: the server's answers
 * to it are queued in the session and never freed, so an idle watcher would
 * grow by some 100 bytes per interval for as long as it runs (libssh2 issue
 * #623), and every read would walk the growing queue.
 */
#include "ssh-session.h"

#include <errno.h>
#include <libssh2.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ssh-keys.h"

/* How often we look whether an asynchronous name lookup has finished.
 * Lookups take milliseconds to seconds; 10 ms adds little to either and
 * costs nothing worth measuring, and it saves a notification thread. */
#define RESOLVE_POLL_MS 10

/* The largest known_hosts file we read.  A line is some 100-700 bytes, so
 * this is tens of thousands of hosts; a larger file is not a known_hosts
 * file and reading it whole would only waste memory. */
#define KNOWN_HOSTS_FILE_MAX (16 * 1024 * 1024)

/* Read size for channel data.  Watcher lines are short; this only sets how
 * many calls a burst of them costs. */
#define READ_CHUNK 16384

/* Channel data handled in one step before the caller's loop gets its turn
 * (to write what we passed on, and to notice a signal).  The remote end can
 * send as fast as loopback allows; without a bound one step could last as
 * long as it keeps sending. */
#define STEP_READ_MAX (256 * 1024)

/* After the remote command's output ends, how long we wait for the server
 * to report its exit status before saying that it ended without one.  The
 * status follows the end of output at once unless the link died with it. */
#define REMOTE_END_TIMEOUT_MS 2000

/* The first libssh2 release that signs and verifies with RSA keys using
 * SHA-2 (rsa-sha2-256/512).  Before it only SHA-1 "ssh-rsa" is spoken,
 * which OpenSSH 8.8 and later refuse by default, so RSA keys, host or
 * user, fail against them; the messages then say so. */
#define LIBSSH2_RSA_SHA2_VERSION 0x010b00

/* The environment variable named in the liveness question (see the top).
 * Servers refuse it on a running session; the name says whose it is in a
 * server's debug log. */
#define PING_VARIABLE "MSWATCH_KEEPALIVE"

typedef enum {
  PHASE_CONNECT,
  PHASE_HANDSHAKE,
  PHASE_AUTH_LIST,
  PHASE_AUTH_AGENT,
  PHASE_AUTH_FILES,
  PHASE_OPEN,
  PHASE_EXEC,
  PHASE_RUNNING,
  PHASE_ENDING,  /* the remote command's output ended: collect its status */
  PHASE_CLOSING, /* ms_ssh_session_close() was called */
  PHASE_DONE,
} Phase;

typedef enum {
  CLOSE_SEND_EOF,
  CLOSE_CHANNEL,
  CLOSE_DISCONNECT,
} CloseStep;

/* What a sub-step of a phase came to. */
typedef enum {
  STEP_DONE, /* finished: on to the next phase */
  STEP_WAIT, /* *wait says what to wait for */
  STEP_NEXT, /* this way did not work: try the next one */
  STEP_FAIL, /* the error says why */
} StepResult;

/* A name lookup in progress.  glibc's getaddrinfo_a() keeps using the
 * request until it is done, so the request lives on its own, and is leaked
 * on purpose if the session ends while a lookup cannot be cancelled. */
typedef struct {
  struct gaicb cb;
  struct addrinfo hints;
  char *name;
  char *service;
} Lookup;

/* The key types known_hosts can hold, the host key algorithms that use
 * each, and the names OpenSSH prints for them. */
static const struct {
  int known_bit;
  int hostkey_type;
  const char *algorithms;
  const char *label;
} key_types[] = {
  { LIBSSH2_KNOWNHOST_KEY_ED25519, LIBSSH2_HOSTKEY_TYPE_ED25519, "ssh-ed25519", "ED25519" },
  { LIBSSH2_KNOWNHOST_KEY_ECDSA_256, LIBSSH2_HOSTKEY_TYPE_ECDSA_256, "ecdsa-sha2-nistp256", "ECDSA" },
  { LIBSSH2_KNOWNHOST_KEY_ECDSA_384, LIBSSH2_HOSTKEY_TYPE_ECDSA_384, "ecdsa-sha2-nistp384", "ECDSA" },
  { LIBSSH2_KNOWNHOST_KEY_ECDSA_521, LIBSSH2_HOSTKEY_TYPE_ECDSA_521, "ecdsa-sha2-nistp521", "ECDSA" },
  { LIBSSH2_KNOWNHOST_KEY_SSHRSA, LIBSSH2_HOSTKEY_TYPE_RSA, "rsa-sha2-512,rsa-sha2-256,ssh-rsa", "RSA" },
  { LIBSSH2_KNOWNHOST_KEY_SSHDSS, LIBSSH2_HOSTKEY_TYPE_DSS, "ssh-dss", "DSA" },
};

struct MsSshSession {
  /* the configuration, copied */
  char *host;
  guint16 port;
  char *user;
  char *lookup_name; /* the name in known_hosts */
  char **known_hosts;
  char **identities;
  gboolean identities_named;
  gboolean identities_only;
  gboolean use_agent;
  guint connect_timeout_s;
  guint keepalive_s;
  guint keepalive_count;
  char *command;
  MsSshHandlers handlers;
  gpointer user_data;

  Phase phase;
  gint64 deadline; /* of the current set-up phase, or of closing */

  /* connect */
  Lookup *lookup;
  struct addrinfo *addrs;
  struct addrinfo *addr; /* being tried */
  int connect_errno;
  int fd;

  LIBSSH2_SESSION *ssh;
  LIBSSH2_KNOWNHOSTS *known;
  GPtrArray *revoked;  /* GBytes: key blobs from "@revoked" lines */
  char *known_types;   /* labels of the key types known for the host, or NULL */

  /* auth */
  LIBSSH2_AGENT *agent;
  struct libssh2_agent_publickey *agent_key; /* being tried, or the last one */
  gboolean agent_key_busy;
  GPtrArray *agent_blobs; /* GBytes: the agent's public keys we offered */
  GPtrArray *identity_blobs; /* GBytes: the identities' public keys, for identities_only */
  guint identity;         /* index into identities */
  gboolean identity_busy;
  gboolean identity_rsa; /* the identity being tried is an RSA key */
  guint keys_tried;

  LIBSSH2_CHANNEL *channel;

  /* running */
  gint64 last_rx;
  gboolean ping_pending;

  /* ending / closing */
  CloseStep close_step;
  gboolean ending_closed; /* the server closed the channel after the command */
};

G_DEFINE_QUARK (ms-ssh-error-quark, ms_ssh_error)

static const char *
last_error (MsSshSession *s)
{
  char *msg = NULL;
  libssh2_session_last_error (s->ssh, &msg, NULL, 0);
  return msg != NULL && msg[0] != '\0' ? msg : "unknown error";
}

/* Every byte that arrives passes here: this is the liveness clock. */
static LIBSSH2_RECV_FUNC (on_recv)
{
  MsSshSession *s = *abstract;
  ssize_t n = recv (socket, buffer, length, flags);
  if (n < 0) {
    int e = errno;
    return e == EINTR || e == EAGAIN || e == EWOULDBLOCK ? -EAGAIN : -e;
  }
  if (n > 0)
    s->last_rx = g_get_monotonic_time ();
  return n;
}

static void
notice (MsSshSession *s, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
notice (MsSshSession *s, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *msg = g_strdup_vprintf (format, args);
  va_end (args);
  if (s->handlers.notice != NULL)
    s->handlers.notice (s->user_data, msg);
}

static void
enter (MsSshSession *s, Phase phase, gint64 now)
{
  s->phase = phase;
  s->deadline = now + (gint64) s->connect_timeout_s * G_USEC_PER_SEC;
}

/* What a set-up phase is doing, for a timeout message. */
static const char *
phase_doing (Phase phase)
{
  switch (phase) {
  case PHASE_CONNECT:
    return "connecting";
  case PHASE_HANDSHAKE:
    return "in the SSH handshake";
  case PHASE_AUTH_LIST:
  case PHASE_AUTH_AGENT:
  case PHASE_AUTH_FILES:
    return "authenticating";
  case PHASE_OPEN:
  case PHASE_EXEC:
    return "starting the remote command";
  default:
    return "setting up";
  }
}

/* Fills *wait for a call that said EAGAIN. */
static void
wait_socket (MsSshSession *s, MsSshWait *wait, gint64 deadline)
{
  int dir = libssh2_session_block_directions (s->ssh);
  wait->fd = s->fd;
  wait->events = 0;
  if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
    wait->events |= POLLIN;
  if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
    wait->events |= POLLOUT;
  if (wait->events == 0)
    wait->events = POLLIN;
  wait->deadline = deadline;
}

static gboolean
is_eagain (MsSshSession *s)
{
  return libssh2_session_last_errno (s->ssh) == LIBSSH2_ERROR_EAGAIN;
}

/* --- known_hosts ---------------------------------------------------------- */

/* Feeds one known_hosts line to libssh2, or keeps its key if it is a
 * "@revoked" line.  Lines libssh2 cannot read are skipped, as ssh skips
 * what it cannot parse. */
static void
add_known_line (MsSshSession *s, const char *line, gsize len)
{
  while (len > 0 && (*line == ' ' || *line == '\t')) {
    line++;
    len--;
  }
  if (len == 0 || *line == '#')
    return;
  if (*line == '@') {
    const char *p = line, *end = line + len;
    while (p < end && !g_ascii_isspace (*p))
      p++;
    if ((gsize) (p - line) != strlen ("@revoked") || strncmp (line, "@revoked", p - line) != 0)
      return; /* @cert-authority: see the top */
    while (p < end && g_ascii_isspace (*p))
      p++;
    while (p < end && !g_ascii_isspace (*p)) /* the host patterns */
      p++;
    GBytes *blob = ms_ssh_public_key_parse (p, (gsize) (end - p));
    if (blob != NULL)
      g_ptr_array_add (s->revoked, blob);
    return;
  }
  /* libssh2 wants the line NUL-terminated and with its newline: given a
   * length, it still looks at the byte after the line for one. */
  g_autofree char *copy = g_strdup_printf ("%.*s\n", (int) len, line);
  libssh2_knownhost_readline (s->known, copy, len + 1, LIBSSH2_KNOWNHOST_FILE_OPENSSH);
}

static gboolean
load_known_hosts (MsSshSession *s, const char *path, GError **error)
{
  struct stat st;
  if (stat (path, &st) == 0 && S_ISREG (st.st_mode) && st.st_size > KNOWN_HOSTS_FILE_MAX) {
    g_set_error (error, MS_SSH_ERROR, MS_SSH_ERROR_CONFIG,
                 "%s is larger than %d bytes; is it really a known_hosts file?", path,
                 KNOWN_HOSTS_FILE_MAX);
    return FALSE;
  }
  g_autofree char *text = NULL;
  gsize len = 0;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (path, &text, &len, &local)) {
    if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return TRUE;
    g_set_error (error, MS_SSH_ERROR, MS_SSH_ERROR_CONFIG, "known_hosts: %s", local->message);
    return FALSE;
  }
  const char *p = text, *end = text + len;
  while (p < end) {
    const char *nl = memchr (p, '\n', (gsize) (end - p));
    const char *line_end = nl != NULL ? nl : end;
    gsize n = (gsize) (line_end - p);
    while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
      n--;
    add_known_line (s, p, n);
    p = nl != NULL ? nl + 1 : end;
  }
  return TRUE;
}

/* Whether known_hosts has a key of this type for the host: a key that
 * cannot be anybody's is checked, and "mismatch" means the host and the
 * type are there. */
static gboolean
host_has_key_type (MsSshSession *s, int known_bit)
{
  static const char impossible_key[] = { 0 };
  return libssh2_knownhost_checkp (s->known, s->lookup_name, -1, impossible_key,
                                   sizeof impossible_key,
                                   LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | known_bit,
                                   NULL) == LIBSSH2_KNOWNHOST_CHECK_MISMATCH;
}

static gboolean
algorithm_in (const char *list, const char *algorithm)
{
  g_auto (GStrv) names = g_strsplit (list, ",", -1);
  return g_strv_contains ((const char *const *) names, algorithm);
}

/* Offers the host key algorithms of the key types known for the host first
 * (see the top), and remembers those types for messages. */
static void
prefer_known_key_types (MsSshSession *s)
{
  g_autoptr (GString) known_algorithms = g_string_new (NULL);
  g_autoptr (GString) labels = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (key_types); i++) {
    if (!host_has_key_type (s, key_types[i].known_bit))
      continue;
    g_string_append_printf (known_algorithms, ",%s", key_types[i].algorithms);
    if (strstr (labels->str, key_types[i].label) == NULL)
      g_string_append_printf (labels, "%s%s", labels->len ? ", " : "", key_types[i].label);
  }
  if (labels->len == 0)
    return;
  s->known_types = g_strdup (labels->str);

  const char **supported = NULL;
  int n = libssh2_session_supported_algs (s->ssh, LIBSSH2_METHOD_HOSTKEY, &supported);
  if (n <= 0)
    return;
  g_autoptr (GString) prefs = g_string_new (NULL);
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < n; i++) {
      if (algorithm_in (known_algorithms->str, supported[i]) == (pass == 0))
        g_string_append_printf (prefs, "%s%s", prefs->len ? "," : "", supported[i]);
    }
  }
  libssh2_free (s->ssh, supported);
  /* A failure leaves libssh2's default order, which still works when the
   * server's first choice is a key we know. */
  libssh2_session_method_pref (s->ssh, LIBSSH2_METHOD_HOSTKEY, prefs->str);
}

static int
known_bit_for (int hostkey_type)
{
  for (guint i = 0; i < G_N_ELEMENTS (key_types); i++)
    if (key_types[i].hostkey_type == hostkey_type)
      return key_types[i].known_bit;
  return 0;
}

static gboolean
check_host_key (MsSshSession *s, GError **error)
{
  size_t len = 0;
  int type = LIBSSH2_HOSTKEY_TYPE_UNKNOWN;
  const char *key = libssh2_session_hostkey (s->ssh, &len, &type);
  if (key == NULL) {
    g_set_error (error, MS_SSH_ERROR, MS_SSH_ERROR_CONNECT, "%s sent no host key: %s", s->host,
                 last_error (s));
    return FALSE;
  }
  g_autofree char *fingerprint = ms_ssh_key_fingerprint ((const guint8 *) key, len);
  g_autofree char *label = ms_ssh_key_type_label ((const guint8 *) key, len);

  for (guint i = 0; i < s->revoked->len; i++) {
    gsize n;
    const void *blob = g_bytes_get_data (s->revoked->pdata[i], &n);
    if (n == len && memcmp (blob, key, len) == 0) {
      g_set_error (error, MS_SSH_ERROR, MS_SSH_ERROR_HOST_KEY,
                   "the %s host key of %s (%s) is marked @revoked in known_hosts; refusing to "
                   "connect",
                   label, s->lookup_name, fingerprint);
      return FALSE;
    }
  }

  int bit = known_bit_for (type);
  struct libssh2_knownhost *found = NULL;
  int rc = bit == 0 ? LIBSSH2_KNOWNHOST_CHECK_NOTFOUND
                    : libssh2_knownhost_checkp (s->known, s->lookup_name, -1, key, len,
                                                LIBSSH2_KNOWNHOST_TYPE_PLAIN |
                                                  LIBSSH2_KNOWNHOST_KEYENC_RAW | bit,
                                                &found);
  g_autofree char *files = g_strjoinv (", ", s->known_hosts);
  switch (rc) {
  case LIBSSH2_KNOWNHOST_CHECK_MATCH:
    return TRUE;
  case LIBSSH2_KNOWNHOST_CHECK_MISMATCH: {
    g_autofree char *old = NULL;
    if (found != NULL && found->key != NULL) {
      gsize old_len = 0;
      g_autofree guchar *old_blob = g_base64_decode (found->key, &old_len);
      old = ms_ssh_key_fingerprint (old_blob, old_len);
    }
    g_set_error (error, MS_SSH_ERROR, MS_SSH_ERROR_HOST_KEY,
                 "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
                 "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n"
                 "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
                 "IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n"
                 "Someone could be eavesdropping on you right now (man-in-the-middle attack),\n"
                 "or the host key of %s has just been changed.\n"
                 "The host offered %s key %s;\n"
                 "known_hosts (%s) has %s%s for it.\n"
                 "If the change is expected, remove the old key (ssh-keygen -R '%s') and\n"
                 "add the new one.  Refusing to connect.",
                 s->lookup_name, label, fingerprint, files, old != NULL ? "the key " : "another key",
                 old != NULL ? old : "", s->lookup_name);
    return FALSE;
  }
  case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND: {
    g_autofree char *others = NULL;
    if (s->known_types != NULL)
      others = g_strdup_printf (
        "\nknown_hosts has a key of another type (%s) for it: the host no longer offers that one, "
        "or is not the host you know%s.",
        s->known_types,
        strstr (s->known_types, "RSA") != NULL && libssh2_version (LIBSSH2_RSA_SHA2_VERSION) == NULL
          ? " (or it is an RSA key: this libssh2 cannot check one from a server that refuses "
            "SHA-1 signatures, as OpenSSH 8.8 and later do)"
          : "");
    g_set_error (error, MS_SSH_ERROR, MS_SSH_ERROR_HOST_KEY,
                 "the host key of %s is not known: the host offered %s key %s.%s\n"
                 "If that is the right key, add it to %s (for example by logging in once with "
                 "ssh and checking the fingerprint).  Refusing to connect.",
                 s->lookup_name, label, fingerprint, others != NULL ? others : "",
                 s->known_hosts[0] != NULL ? s->known_hosts[0] : "known_hosts");
    return FALSE;
  }
  default:
    g_set_error (error, MS_SSH_ERROR, MS_SSH_ERROR_HOST_KEY, "checking the host key of %s: %s",
                 s->lookup_name, last_error (s));
    return FALSE;
  }
}

/* --- connect ---------------------------------------------------------------- */

static void
lookup_free (Lookup *lookup)
{
  if (lookup == NULL)
    return;
  if (gai_cancel (&lookup->cb) == EAI_NOTCANCELED)
    return; /* still in use by glibc: leaked on purpose (see Lookup) */
  if (lookup->cb.ar_result != NULL)
    freeaddrinfo (lookup->cb.ar_result);
  g_free (lookup->name);
  g_free (lookup->service);
  g_free (lookup);
}

/* Starts resolving the host: a numeric address at once, a name in the
 * background. */
static gboolean
start_lookup (MsSshSession *s, GError **error)
{
  g_autofree char *service = g_strdup_printf ("%u", (guint) s->port);
  struct addrinfo hints = {
    .ai_family = AF_UNSPEC,
    .ai_socktype = SOCK_STREAM,
    .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
  };
  if (getaddrinfo (s->host, service, &hints, &s->addrs) == 0) {
    s->addr = s->addrs;
    return TRUE;
  }
  s->addrs = NULL;

  Lookup *lookup = g_new0 (Lookup, 1);
  lookup->name = g_strdup (s->host);
  lookup->service = g_steal_pointer (&service);
  lookup->hints = (struct addrinfo) {
    .ai_family = AF_UNSPEC,
    .ai_socktype = SOCK_STREAM,
    .ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV,
  };
  lookup->cb.ar_name = lookup->name;
  lookup->cb.ar_service = lookup->service;
  lookup->cb.ar_request = &lookup->hints;
  struct gaicb *list[] = { &lookup->cb };
  int rc = getaddrinfo_a (GAI_NOWAIT, list, 1, NULL);
  if (rc != 0) {
    g_set_error (error, MS_SSH_ERROR, MS_SSH_ERROR_CONNECT, "looking up %s: %s", s->host,
                 gai_strerror (rc));
    g_free (lookup->name);
    g_free (lookup->service);
    g_free (lookup);
    return FALSE;
  }
  s->lookup = lookup;
  return TRUE;
}

static void
close_fd (MsSshSession *s)
{
  if (s->fd >= 0)
    close (s->fd);
  s->fd = -1;
}

static StepResult
connect_step (MsSshSession *s, gint64 now, MsSshWait *wait, GError **error)
{
  if (s->lookup != NULL) {
    int rc = gai_error (&s->lookup->cb);
    if (rc == EAI_INPROGRESS) {
      wait->fd = -1;
      wait->deadline = MIN (s->deadline, now + RESOLVE_POLL_MS * 1000);
      return STEP_WAIT;
    }
    if (rc != 0) {
      g_set_error (error, MS_SSH_ERROR, MS_SSH_ERROR_CONNECT, "looking up %s: %s", s->host,
                   rc == EAI_SYSTEM ? g_strerror (errno) : gai_strerror (rc));
      return STEP_FAIL;
    }
    s->addrs = s->lookup->cb.ar_result;
    s->lookup->cb.ar_result = NULL;
    g_clear_pointer (&s->lookup, lookup_free);
    s->addr = s->addrs;
  }

  while (s->addr != NULL) {
    struct addrinfo *a = s->addr;
    if (s->fd < 0) {
      s->fd = socket (a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
      if (s->fd < 0) {
        s->connect_errno = errno;
        s->addr = a->ai_next;
        continue;
      }
      if (connect (s->fd, a->ai_addr, a->ai_addrlen) == 0)
        return STEP_DONE;
      if (errno != EINPROGRESS) {
        s->connect_errno = errno;
        close_fd (s);
        s->addr = a->ai_next;
        continue;
      }
    } else {
      struct pollfd p = { .fd = s->fd, .events = POLLOUT };
      if (poll (&p, 1, 0) > 0) {
        int err = 0;
        socklen_t err_len = sizeof err;
        if (getsockopt (s->fd, SOL_SOCKET, SO_ERROR, &err, &err_len) < 0)
          err = errno;
        if (err == 0)
          return STEP_DONE;
        s->connect_errno = err;
        close_fd (s);
        s->addr = a->ai_next;
        continue;
      }
    }
    wait->fd = s->fd;
    wait->events = POLLOUT;
    wait->deadline = s->deadline;
    return STEP_WAIT;
  }
  g_set_error (error, MS_SSH_ERROR, MS_SSH_ERROR_CONNECT, "cannot connect to %s port %u: %s",
               s->host, (guint) s->port,
               g_strerror (s->connect_errno ? s->connect_errno : EHOSTUNREACH));
  return STEP_FAIL;
}

/* --- authentication -------------------------------------------------------------- */

/* libssh2 errors that mean "this key did not work", as opposed to "the
 * connection is broken". */
static gboolean
is_key_failure (int rc)
{
  return rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED || rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED ||
         rc == LIBSSH2_ERROR_FILE || rc == LIBSSH2_ERROR_AGENT_PROTOCOL ||
         rc == LIBSSH2_ERROR_METHOD_NOT_SUPPORTED || rc == LIBSSH2_ERROR_KEYFILE_AUTH_FAILED ||
         rc == LIBSSH2_ERROR_INVAL || rc == LIBSSH2_ERROR_PUBLICKEY_PROTOCOL ||
         rc == LIBSSH2_ERROR_HOSTKEY_INIT || rc == LIBSSH2_ERROR_HOSTKEY_SIGN;
}

/* After a refused login: what to say about the keys offered.  The server
 * may end the connection at its MaxAuthTries, or (depending on when its
 * disconnect is read) refuse the keys that follow. */
static const char *
keys_hint (const MsSshSession *s)
{
  if (s->keys_tried == 0)
    return "";
  if (s->use_agent && !s->identities_only)
    return "; too many keys tried?  sshd's MaxAuthTries allows 6 by default (with IdentitiesOnly "
           "yes, only the agent's keys of the IdentityFile files are offered)";
  return "; too many keys tried?  sshd's MaxAuthTries allows 6 by default";
}

static void
auth_broken (MsSshSession *s, GError **error)
{
  g_set_error (error, MS_SSH_ERROR, MS_SSH_ERROR_CONNECT, "%s closed the connection while authenticating (%s)%s",
               s->host, last_error (s), keys_hint (s));
}

/* Is `blob` (NULL: an unknown key) one of `blobs`? */
static gboolean
blob_in (const GPtrArray *blobs, GBytes *blob)
{
  for (guint i = 0; blob != NULL && i < blobs->len; i++)
    if (g_bytes_equal (blob, blobs->pdata[i]))
      return TRUE;
  return FALSE;
}

static void
agent_drop (MsSshSession *s)
{
  if (s->agent == NULL)
    return;
  libssh2_agent_disconnect (s->agent);
  libssh2_agent_free (s->agent);
  s->agent = NULL;
  s->agent_key = NULL;
}

/* The public half of a key file: inside it (OpenSSH's format) or in
 * FILE.pub.  NULL if neither says. */
static GBytes *
identity_public_blob (const char *path, GBytes *inside)
{
  if (inside != NULL)
    return g_bytes_ref (inside);
  g_autofree char *pub_path = g_strconcat (path, ".pub", NULL);
  g_autofree char *pub = NULL;
  gsize pub_len = 0;
  if (!g_file_get_contents (pub_path, &pub, &pub_len, NULL) || pub_len > MS_SSH_KEY_FILE_MAX)
    return NULL;
  return ms_ssh_public_key_parse (pub, pub_len);
}

/* Notes the identities' public keys, which decide the agent's keys to
 * offer with identities_only.  A file that cannot be read is left to the
 * key files' phase to report.  Without a public key, the agent's copy of
 * a key cannot be recognised: worth a word for a key file that is usable
 * only through the agent (one with a passphrase, in a PEM format, without
 * FILE.pub); a plain one is still tried from its file. */
static void
load_identity_blobs (MsSshSession *s)
{
  for (char **path = s->identities; *path != NULL; path++) {
    struct stat st;
    g_autofree char *text = NULL;
    gsize len = 0;
    g_autoptr (GBytes) inside = NULL;
    MsSshKeyFileKind kind = MS_SSH_KEY_FILE_UNKNOWN;
    if (stat (*path, &st) == 0 && S_ISREG (st.st_mode) && st.st_size <= MS_SSH_KEY_FILE_MAX &&
        g_file_get_contents (*path, &text, &len, NULL))
      kind = ms_ssh_key_file_inspect (text, len, &inside);
    GBytes *blob = identity_public_blob (*path, inside);
    if (blob != NULL)
      g_ptr_array_add (s->identity_blobs, blob);
    else if (kind == MS_SSH_KEY_FILE_ENCRYPTED)
      notice (s,
              "identity file %s: its public key is not in %s.pub, so with IdentitiesOnly its "
              "copy in ssh-agent cannot be recognised",
              *path, *path);
  }
}

/* Tries the agent's keys in turn; with identities_only, only those of the
 * identities.  DONE: authenticated; NEXT: on to the key files.  Talking to
 * the agent itself blocks, but the agent is a local process that answers
 * at once. */
static StepResult
auth_agent (MsSshSession *s, MsSshWait *wait, GError **error)
{
  if (s->agent == NULL) {
    s->agent = libssh2_agent_init (s->ssh);
    if (s->agent == NULL || libssh2_agent_connect (s->agent) != 0 ||
        libssh2_agent_list_identities (s->agent) != 0) {
      notice (s, "cannot use ssh-agent: %s", last_error (s));
      agent_drop (s);
      return STEP_NEXT;
    }
    if (s->identities_only)
      load_identity_blobs (s);
  }
  for (;;) {
    if (!s->agent_key_busy) {
      struct libssh2_agent_publickey *next = NULL;
      int rc = libssh2_agent_get_identity (s->agent, &next, s->agent_key);
      if (rc != 0) /* 1: no more keys; < 0: cannot happen after listing */
        return STEP_NEXT;
      s->agent_key = next;
      g_autoptr (GBytes) blob = g_bytes_new (next->blob, next->blob_len);
      if (s->identities_only && !blob_in (s->identity_blobs, blob))
        continue; /* not offered, not counted */
      s->agent_key_busy = TRUE;
      s->keys_tried++;
      g_ptr_array_add (s->agent_blobs, g_steal_pointer (&blob));
    }
    int rc = libssh2_agent_userauth (s->agent, s->user, s->agent_key);
    if (rc == LIBSSH2_ERROR_EAGAIN) {
      wait_socket (s, wait, s->deadline);
      return STEP_WAIT;
    }
    s->agent_key_busy = FALSE;
    if (rc == 0)
      return STEP_DONE;
    if (!is_key_failure (rc)) {
      auth_broken (s, error);
      return STEP_FAIL;
    }
  }
}

/* Reads and inspects identity file `path`.  Returns FALSE (after a notice,
 * if one is due) when it is to be skipped; *is_rsa says whether it holds
 * an RSA key, as far as we can tell. */
static gboolean
identity_usable (MsSshSession *s, const char *path, gboolean *is_rsa)
{
  *is_rsa = FALSE;
  struct stat st;
  if (stat (path, &st) < 0) {
    int e = errno;
    if (s->identities_named || e != ENOENT)
      notice (s, "identity file %s: %s; skipped", path, g_strerror (e));
    return FALSE;
  }
  if (!S_ISREG (st.st_mode) || st.st_size > MS_SSH_KEY_FILE_MAX) {
    notice (s, "identity file %s is not a key file; skipped", path);
    return FALSE;
  }
  g_autofree char *text = NULL;
  gsize len = 0;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (path, &text, &len, &local)) {
    notice (s, "%s; skipped", local->message);
    return FALSE;
  }
  g_autoptr (GBytes) inside = NULL;
  MsSshKeyFileKind kind = ms_ssh_key_file_inspect (text, len, &inside);
  g_autoptr (GBytes) public_blob = identity_public_blob (path, inside);
  if (public_blob != NULL) {
    gsize blob_len;
    const guint8 *blob = g_bytes_get_data (public_blob, &blob_len);
    g_autofree char *label = ms_ssh_key_type_label (blob, blob_len);
    *is_rsa = strcmp (label, "RSA") == 0;
  }
  if (kind != MS_SSH_KEY_FILE_ENCRYPTED)
    return TRUE;
  /* The agent has offered it already, unlocked. */
  if (!blob_in (s->agent_blobs, public_blob))
    notice (s,
            "identity file %s is protected by a passphrase; skipped (watch_ssh never asks for "
            "one: add the key to ssh-agent)",
            path);
  return FALSE;
}

/* Tries the key files in turn.  DONE: authenticated; NEXT: none worked. */
static StepResult
auth_files (MsSshSession *s, MsSshWait *wait, GError **error)
{
  for (; s->identities[s->identity] != NULL; s->identity++) {
    const char *path = s->identities[s->identity];
    if (!s->identity_busy) {
      if (!identity_usable (s, path, &s->identity_rsa))
        continue;
      s->identity_busy = TRUE;
      s->keys_tried++;
    }
    /* No public key file: libssh2 derives it from the private key.  An
     * empty passphrase rather than NULL: libssh2 hands NULL on to OpenSSL,
     * which would then prompt on the terminal. */
    int rc = libssh2_userauth_publickey_fromfile_ex (s->ssh, s->user, (unsigned) strlen (s->user),
                                                     NULL, path, "");
    if (rc == LIBSSH2_ERROR_EAGAIN) {
      wait_socket (s, wait, s->deadline);
      return STEP_WAIT;
    }
    s->identity_busy = FALSE;
    if (rc == 0)
      return STEP_DONE;
    if (!is_key_failure (rc)) {
      auth_broken (s, error);
      return STEP_FAIL;
    }
    if (rc != LIBSSH2_ERROR_AUTHENTICATION_FAILED && rc != LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED)
      notice (s, "cannot use identity file %s: %s", path, last_error (s));
    else if (s->identity_rsa && libssh2_version (LIBSSH2_RSA_SHA2_VERSION) == NULL)
      notice (s,
              "the RSA key %s was refused; this libssh2 signs with SHA-1, which OpenSSH 8.8 and "
              "later refuse: use an ED25519 or ECDSA key",
              path);
  }
  return STEP_NEXT;
}

/* --- running ------------------------------------------------------------------- */

static void
fail_connection (MsSshSession *s, GError **error)
{
  int code = libssh2_session_last_errno (s->ssh);
  if (code == LIBSSH2_ERROR_SOCKET_DISCONNECT || code == LIBSSH2_ERROR_SOCKET_RECV)
    g_set_error (error, MS_SSH_ERROR, MS_SSH_ERROR_CLOSED, "connection to %s closed by the server",
                 s->host);
  else
    g_set_error (error, MS_SSH_ERROR, MS_SSH_ERROR_CLOSED, "connection to %s failed: %s", s->host,
                 last_error (s));
}

/* Reads what has arrived on one of the channel's streams.  FALSE with an
 * error if the connection broke. */
static gboolean
read_stream (MsSshSession *s, int stream, gsize *budget, GError **error)
{
  char buf[READ_CHUNK];
  while (*budget > 0) {
    ssize_t n = libssh2_channel_read_ex (s->channel, stream, buf, MIN (sizeof buf, *budget));
    if (n == LIBSSH2_ERROR_EAGAIN || n == 0)
      return TRUE;
    if (n < 0) {
      fail_connection (s, error);
      return FALSE;
    }
    *budget -= (gsize) n;
    if (stream == 0)
      s->handlers.output (s->user_data, buf, (gsize) n);
    else
      s->handlers.errors (s->user_data, buf, (gsize) n);
  }
  return TRUE;
}

/* Moves the liveness question along: asks it once the server has been
 * silent for an interval, and collects the answer.  FALSE with an error if
 * the connection broke. */
static gboolean
ping_step (MsSshSession *s, gint64 now, GError **error)
{
  if (s->keepalive_s == 0)
    return TRUE;
  if (!s->ping_pending && now >= s->last_rx + (gint64) s->keepalive_s * G_USEC_PER_SEC)
    s->ping_pending = TRUE;
  if (!s->ping_pending)
    return TRUE;
  int rc = libssh2_channel_setenv (s->channel, PING_VARIABLE, "1");
  if (rc == 0 || rc == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED) {
    s->ping_pending = FALSE; /* answered; on_recv has noted the time */
    return TRUE;
  }
  /* LIBSSH2_ERROR_TIMEOUT: libssh2 stops waiting for an answer after 60 s
   * of its own, which only a bound longer than that reaches; the check
   * below will say the connection is lost. */
  if (rc == LIBSSH2_ERROR_EAGAIN || rc == LIBSSH2_ERROR_TIMEOUT)
    return TRUE;
  fail_connection (s, error);
  return FALSE;
}

/* The liveness rule (see ssh-session.h): FALSE with an error when nothing
 * has arrived for too long; otherwise *deadline is when to look again. */
static gboolean
check_alive (MsSshSession *s, gint64 now, gint64 *deadline, GError **error)
{
  *deadline = G_MAXINT64;
  if (s->keepalive_s == 0)
    return TRUE;
  gint64 interval = (gint64) s->keepalive_s * G_USEC_PER_SEC;
  gint64 give_up = s->last_rx + interval * s->keepalive_count;
  if (now >= give_up) {
    g_set_error (error, MS_SSH_ERROR, MS_SSH_ERROR_LOST, "connection to %s lost (no answer for %u s)",
                 s->host, s->keepalive_s * s->keepalive_count);
    return FALSE;
  }
  *deadline = s->ping_pending ? give_up : MIN (give_up, s->last_rx + interval);
  return TRUE;
}

static MsSshState ending_step (MsSshSession *s, gint64 now, MsSshWait *wait, GError **error);

static MsSshState
running_step (MsSshSession *s, gint64 now, MsSshWait *wait, GError **error)
{
  /* The question first: waiting for its answer reads the socket, and what
   * else arrives with it is queued for the reads below. */
  if (!ping_step (s, now, error))
    return MS_SSH_FAILED;

  /* Reading one stream reads the socket too and queues what it finds for
   * the other; so read until neither has anything queued, or poll() would
   * not wake us for data that is already here. */
  gsize budget = STEP_READ_MAX;
  do {
    if (!read_stream (s, 0, &budget, error) ||
        !read_stream (s, SSH_EXTENDED_DATA_STDERR, &budget, error))
      return MS_SSH_FAILED;
    if (budget == 0) {
      /* More may be waiting: come back at once, after the caller's turn. */
      wait->fd = -1;
      wait->deadline = now;
      return MS_SSH_RUNNING;
    }
  } while (libssh2_poll_channel_read (s->channel, 1) == 1);

  if (libssh2_channel_eof (s->channel)) {
    s->phase = PHASE_ENDING;
    s->deadline = now + REMOTE_END_TIMEOUT_MS * 1000;
    return ending_step (s, now, wait, error);
  }
  gint64 deadline;
  if (!check_alive (s, now, &deadline, error))
    return MS_SSH_FAILED;
  wait_socket (s, wait, deadline);
  wait->events |= POLLIN; /* data can always come */
  return MS_SSH_RUNNING;
}

/* The command's output has ended: wait (briefly) for the server to close
 * the channel, which comes after the exit status, and report it. */
static MsSshState
ending_step (MsSshSession *s, gint64 now, MsSshWait *wait, GError **error)
{
  if (!s->ending_closed && now < s->deadline) {
    int rc = libssh2_channel_close (s->channel);
    if (rc == LIBSSH2_ERROR_EAGAIN) {
      wait_socket (s, wait, s->deadline);
      return MS_SSH_RUNNING;
    }
    s->ending_closed = rc == 0;
  }
  char *signal_name = NULL;
  libssh2_channel_get_exit_signal (s->channel, &signal_name, NULL, NULL, NULL, NULL, NULL);
  if (signal_name != NULL) {
    g_autofree char *shown = g_strescape (signal_name, NULL);
    libssh2_free (s->ssh, signal_name);
    g_set_error (error, MS_SSH_ERROR, MS_SSH_ERROR_CLOSED,
                 "%s: the remote command was killed by signal %s", s->host, shown);
  } else if (s->ending_closed) {
    g_set_error (error, MS_SSH_ERROR, MS_SSH_ERROR_CLOSED,
                 "%s: the remote command exited with status %d", s->host,
                 libssh2_channel_get_exit_status (s->channel));
  } else {
    g_set_error (error, MS_SSH_ERROR, MS_SSH_ERROR_CLOSED,
                 "%s: the remote command's output ended", s->host);
  }
  s->phase = PHASE_DONE;
  return MS_SSH_FAILED;
}

/* Our own close.  Whatever fails, we are done: the connection is dropped
 * when the session is freed. */
static MsSshState
closing_step (MsSshSession *s, gint64 now, MsSshWait *wait)
{
  while (now < s->deadline) {
    int rc;
    switch (s->close_step) {
    case CLOSE_SEND_EOF:
      rc = libssh2_channel_send_eof (s->channel);
      break;
    case CLOSE_CHANNEL:
      rc = libssh2_channel_close (s->channel);
      break;
    case CLOSE_DISCONNECT:
    default:
      rc = libssh2_session_disconnect (s->ssh, "watcher stopped");
      break;
    }
    if (rc == LIBSSH2_ERROR_EAGAIN) {
      wait_socket (s, wait, s->deadline);
      return MS_SSH_RUNNING;
    }
    /* A step that fails (the channel or the link is already gone) is no
     * reason to skip the next one. */
    if (s->close_step == CLOSE_DISCONNECT)
      break;
    s->close_step++;
  }
  s->phase = PHASE_DONE;
  return MS_SSH_CLOSED;
}

/* --- the state machine ---------------------------------------------------------- */

MsSshState
ms_ssh_session_step (MsSshSession *s, gint64 now, MsSshWait *wait, GError **error)
{
  g_return_val_if_fail (s != NULL && wait != NULL, MS_SSH_FAILED);
  *wait = (MsSshWait) { .fd = -1, .events = 0, .deadline = G_MAXINT64 };

  for (;;) {
    if (s->phase < PHASE_RUNNING && now >= s->deadline) {
      g_set_error (error, MS_SSH_ERROR, MS_SSH_ERROR_CONNECT, "%s: timed out after %u s %s",
                   s->host, s->connect_timeout_s, phase_doing (s->phase));
      return MS_SSH_FAILED;
    }
    switch (s->phase) {
    case PHASE_CONNECT:
      switch (connect_step (s, now, wait, error)) {
      case STEP_WAIT:
        return MS_SSH_STARTING;
      case STEP_DONE:
        enter (s, PHASE_HANDSHAKE, now);
        continue;
      default:
        return MS_SSH_FAILED;
      }

    case PHASE_HANDSHAKE: {
      int rc = libssh2_session_handshake (s->ssh, s->fd);
      if (rc == LIBSSH2_ERROR_EAGAIN) {
        wait_socket (s, wait, s->deadline);
        return MS_SSH_STARTING;
      }
      if (rc != 0) {
        g_set_error (error, MS_SSH_ERROR, MS_SSH_ERROR_CONNECT, "SSH handshake with %s failed: %s",
                     s->host, last_error (s));
        return MS_SSH_FAILED;
      }
      if (!check_host_key (s, error))
        return MS_SSH_FAILED;
      enter (s, PHASE_AUTH_LIST, now);
      continue;
    }

    case PHASE_AUTH_LIST: {
      const char *methods = libssh2_userauth_list (s->ssh, s->user, (unsigned) strlen (s->user));
      if (methods == NULL) {
        if (libssh2_userauth_authenticated (s->ssh)) { /* "none" was enough */
          enter (s, PHASE_OPEN, now);
          continue;
        }
        if (is_eagain (s)) {
          wait_socket (s, wait, s->deadline);
          return MS_SSH_STARTING;
        }
        auth_broken (s, error);
        return MS_SSH_FAILED;
      }
      g_auto (GStrv) list = g_strsplit (methods, ",", -1);
      if (!g_strv_contains ((const char *const *) list, "publickey")) {
        g_set_error (error, MS_SSH_ERROR, MS_SSH_ERROR_AUTH,
                     "%s does not accept public keys for %s (it offers: %s); watch_ssh uses keys "
                     "only",
                     s->host, s->user, methods);
        return MS_SSH_FAILED;
      }
      s->phase = s->use_agent ? PHASE_AUTH_AGENT : PHASE_AUTH_FILES;
      continue;
    }

    case PHASE_AUTH_AGENT:
    case PHASE_AUTH_FILES: {
      StepResult r = s->phase == PHASE_AUTH_AGENT ? auth_agent (s, wait, error)
                                                  : auth_files (s, wait, error);
      if (r == STEP_WAIT)
        return MS_SSH_STARTING;
      if (r == STEP_FAIL)
        return MS_SSH_FAILED;
      if (r == STEP_DONE) {
        agent_drop (s);
        enter (s, PHASE_OPEN, now);
        continue;
      }
      if (s->phase == PHASE_AUTH_AGENT) {
        agent_drop (s); /* its public keys are remembered in agent_blobs */
        s->phase = PHASE_AUTH_FILES;
        continue;
      }
      g_set_error (error, MS_SSH_ERROR, MS_SSH_ERROR_AUTH,
                   "no key was accepted for %s@%s (%u tried%s)%s", s->user, s->host, s->keys_tried,
                   s->use_agent ? ", from ssh-agent and key files" : ", from key files",
                   s->keys_tried > 1 ? keys_hint (s) : "");
      return MS_SSH_FAILED;
    }

    case PHASE_OPEN:
      s->channel = libssh2_channel_open_session (s->ssh);
      if (s->channel == NULL) {
        if (is_eagain (s)) {
          wait_socket (s, wait, s->deadline);
          return MS_SSH_STARTING;
        }
        g_set_error (error, MS_SSH_ERROR, MS_SSH_ERROR_CONNECT, "opening a session on %s: %s",
                     s->host, last_error (s));
        return MS_SSH_FAILED;
      }
      enter (s, PHASE_EXEC, now);
      continue;

    case PHASE_EXEC: {
      int rc = libssh2_channel_exec (s->channel, s->command);
      if (rc == LIBSSH2_ERROR_EAGAIN) {
        wait_socket (s, wait, s->deadline);
        return MS_SSH_STARTING;
      }
      if (rc != 0) {
        g_set_error (error, MS_SSH_ERROR,
                     rc == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED ? MS_SSH_ERROR_CONFIG
                                                                : MS_SSH_ERROR_CONNECT,
                     "%s refused to run the command: %s", s->host, last_error (s));
        return MS_SSH_FAILED;
      }
      s->phase = PHASE_RUNNING;
      s->last_rx = now;
      continue;
    }

    case PHASE_RUNNING:
      return running_step (s, now, wait, error);

    case PHASE_ENDING:
      return ending_step (s, now, wait, error);

    case PHASE_CLOSING:
      return closing_step (s, now, wait);

    case PHASE_DONE:
    default:
      return MS_SSH_CLOSED;
    }
  }
}

void
ms_ssh_session_close (MsSshSession *s, gint64 now)
{
  g_return_if_fail (s != NULL);
  if (s->phase == PHASE_RUNNING || s->phase == PHASE_ENDING) {
    s->phase = PHASE_CLOSING;
    s->close_step = CLOSE_SEND_EOF;
    s->deadline = now + MS_SSH_CLOSE_TIMEOUT_MS * 1000;
  } else {
    s->phase = PHASE_DONE;
  }
}

/* --- life cycle ------------------------------------------------------------------ */

MsSshSession *
ms_ssh_session_new (const MsSshConfig *config, const MsSshHandlers *handlers, gpointer user_data,
                    gint64 now, GError **error)
{
  static gboolean initialised;
  g_return_val_if_fail (config != NULL && config->host != NULL && config->user != NULL &&
                          config->command != NULL && handlers != NULL,
                        NULL);

  if (!initialised) {
    if (libssh2_init (0) != 0) {
      g_set_error_literal (error, MS_SSH_ERROR, MS_SSH_ERROR_CONFIG, "libssh2 failed to initialise");
      return NULL;
    }
    initialised = TRUE;
  }

  g_autoptr (MsSshSession) s = g_new0 (MsSshSession, 1);
  s->fd = -1;
  s->host = g_strdup (config->host);
  s->port = config->port;
  s->user = g_strdup (config->user);
  s->known_hosts = g_strdupv ((char **) config->known_hosts);
  s->identities = g_strdupv ((char **) config->identities);
  if (s->known_hosts == NULL)
    s->known_hosts = g_new0 (char *, 1);
  if (s->identities == NULL)
    s->identities = g_new0 (char *, 1);
  s->identities_named = config->identities_named;
  s->identities_only = config->identities_only;
  s->use_agent = config->use_agent;
  s->connect_timeout_s = config->connect_timeout_s;
  s->keepalive_s = config->keepalive_s;
  s->keepalive_count = MAX (config->keepalive_count, 1);
  s->command = g_strdup (config->command);
  s->handlers = *handlers;
  s->user_data = user_data;
  s->revoked = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  s->agent_blobs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  s->identity_blobs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);

  g_autofree char *name = g_ascii_strdown (config->host_key_alias ? config->host_key_alias
                                                                  : config->host, -1);
  s->lookup_name = s->port == 22 ? g_steal_pointer (&name)
                                 : g_strdup_printf ("[%s]:%u", name, (guint) s->port);

  s->ssh = libssh2_session_init_ex (NULL, NULL, NULL, s);
  if (s->ssh == NULL) {
    g_set_error_literal (error, MS_SSH_ERROR, MS_SSH_ERROR_CONFIG, "cannot create an SSH session");
    return NULL;
  }
  libssh2_session_set_blocking (s->ssh, 0);
  libssh2_session_callback_set (s->ssh, LIBSSH2_CALLBACK_RECV, (void *) on_recv);

  s->known = libssh2_knownhost_init (s->ssh);
  if (s->known == NULL) {
    g_set_error (error, MS_SSH_ERROR, MS_SSH_ERROR_CONFIG, "known_hosts: %s", last_error (s));
    return NULL;
  }
  for (char **f = s->known_hosts; *f != NULL; f++)
    if (!load_known_hosts (s, *f, error))
      return NULL;
  prefer_known_key_types (s);

  enter (s, PHASE_CONNECT, now);
  if (!start_lookup (s, error))
    return NULL;
  return g_steal_pointer (&s);
}

void
ms_ssh_session_free (MsSshSession *s)
{
  if (s == NULL)
    return;
  g_clear_pointer (&s->lookup, lookup_free);
  if (s->addrs != NULL)
    freeaddrinfo (s->addrs);
  agent_drop (s);
  if (s->known != NULL)
    libssh2_knownhost_free (s->known);
  if (s->ssh != NULL) {
    /* Whatever libssh2 still wants to send (a channel close) must fail at
     * once rather than wait: shut the socket down first, then let it free
     * everything in blocking mode, which no longer can block. */
    if (s->fd >= 0)
      shutdown (s->fd, SHUT_RDWR);
    libssh2_session_set_blocking (s->ssh, 1);
    libssh2_session_free (s->ssh);
  }
  close_fd (s);
  g_free (s->host);
  g_free (s->user);
  g_free (s->lookup_name);
  g_strfreev (s->known_hosts);
  g_strfreev (s->identities);
  g_free (s->command);
  g_free (s->known_types);
  g_ptr_array_unref (s->revoked);
  g_ptr_array_unref (s->agent_blobs);
  g_ptr_array_unref (s->identity_blobs);
  g_free (s);
}
