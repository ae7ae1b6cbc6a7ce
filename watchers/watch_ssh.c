/* watch_ssh.c — run a watcher on another machine over SSH and pass on the
 * mailbox names it prints.
 *
 *   watch_ssh [OPTION...] [USER@]HOST [--] COMMAND...
 *
 * The SSH-speaking replacement for `ssh HOST inputkill watch_maildirs` in a
 * `watch` line: COMMAND runs on HOST (joined by spaces and given to the
 * remote user's shell, as ssh does), and its standard output comes back to
 * our standard output — but only the lines that are watcher protocol, so
 * that a compromised server cannot feed the coordinator a name that escapes
 * the Maildir (ssh-relay.h).  The remote command's standard error comes to
 * ours, each line prefixed with "HOST: ".  ssh-session.c holds the SSH
 * connection; this file holds the options, the loop and the exit status.
 *
 * Nothing is passed on before the remote watcher's start line (an empty
 * line): a shell start-up file that prints "Welcome" would otherwise hand
 * the coordinator a first line that is not the start line, which it takes
 * for a broken watcher.  Such lines are dropped, with one message.
 *
 * Options are named after ssh's where ssh has them (-p, -l, -i, -o
 * NAME=VALUE, -F); everything is non-interactive: host keys are checked
 * against known_hosts and never accepted on the fly, keys with a passphrase
 * are used only through ssh-agent, and there are no passwords.  As with
 * ssh, HOST may be a Host alias of ~/.ssh/config (or the -F file): the
 * command line decides first, and the file (ssh-config.h) fills in what it
 * left unset.  A ProxyJump or ProxyCommand there is refused, since we make
 * our own connection and must not silently bypass the proxy.
 *
 * The loop.  One poll() over the SSH socket (as the session asks), our
 * stdin, our stdout and a signalfd, with the session's deadline as the
 * timeout.  SIGTERM, SIGINT and SIGHUP are blocked from the start, before
 * the resolver thread of getaddrinfo_a() can exist, so they arrive only
 * through the signalfd.  Output is queued and written when stdout is
 * writable, at most PIPE_BUF bytes per write(2), as watch_maildirs does.
 *
 * When we stop, and with what status:
 *   0  we were told to: stdin reached EOF (the coordinator went away),
 *      stdout's reader went away (EPIPE or POLLERR/POLLHUP), or SIGTERM,
 *      SIGINT or SIGHUP.  The channel is closed cleanly first: EOF to the
 *      remote command, so that inputkill there stops the watcher.
 *   1  something that retrying will not fix: bad options, an unknown,
 *      changed or revoked host key, no key accepted, an unreadable
 *      known_hosts file, the server refusing the command.
 *   2  the connection failed or ended: the host could not be reached, a
 *      set-up phase timed out (--connect-timeout), the server stopped
 *      answering (--keepalive × --keepalive-count), the remote command
 *      ended, or our reader fell more than OUTPUT_BACKLOG_MAX behind.
 * The coordinator restarts a watcher that exits, with backoff, and follows
 * the restart with a full sync, so no change is lost either way.
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gunixinputstream.h>
#include <glib.h>
#include <glob.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailbox-name.h"
#include "ms-error.h"
#include "ms-fd.h"
#include "ms-path.h"
#include "ssh-config.h"
#include "ssh-relay.h"
#include "ssh-session.h"

/* Bytes of output held for a reader that is not reading; as in
 * watch_maildirs: far more than any burst of names, and a reader further
 * behind than this is better served by a restart and a full sync. */
#define OUTPUT_BACKLOG_MAX (1024 * 1024)

/* When the remote command has ended or we were told to stop, how long we
 * keep trying to hand the last names to our reader.  It reads continuously;
 * a reader that takes longer has gone away or is stuck. */
#define FLUSH_TIMEOUT_MS 1000

/* Read size for stdin, whose bytes are thrown away. */
#define STDIN_CHUNK 4096

/* Defaults, as documented in watch_ssh(1).  20 s to set up: a slow server
 * over a mobile link takes a few seconds, a dead one takes forever.  A dead
 * link is noticed within 10 s × 3 = 30 s of its last sign of life, like
 * ssh with ServerAliveInterval 10, ServerAliveCountMax 3: quick enough for
 * mail, and too slow to mistake a short stall for a dead link. */
#define DEFAULT_CONNECT_TIMEOUT_S 20
#define DEFAULT_KEEPALIVE_S 10
#define DEFAULT_KEEPALIVE_COUNT 3

/* Upper bounds for the time options: beyond an hour a deadline protects
 * nothing, and the bounds keep the microsecond arithmetic far from
 * overflow.  The count bound likewise. */
#define TIME_OPTION_MAX_S 3600
#define KEEPALIVE_COUNT_MAX 100

#define DEFAULT_GLOBAL_KNOWN_HOSTS "/etc/ssh/ssh_known_hosts"

typedef struct {
  const char *host;              /* for messages */
  MsSshRelay *relay;             /* remote stdout → lines we pass on */
  gboolean ready;                /* the remote watcher's start line has come */
  gboolean early_warned;         /* we said that we drop lines before it */
  MsSshLogLines *remote_errors;  /* remote stderr → our stderr */
  GString *out;                  /* bytes not yet written to stdout */
  gsize out_done;
  gboolean stdin_done;
  gboolean stdout_gone;
  gboolean stop;                 /* we are stopping, with `status` */
  gboolean closing;              /* ms_ssh_session_close() was called */
  int status;
} Watch;

/* Everything the options decide: the command line first, then the
 * configuration file fills what it left unset, as with ssh. */
typedef struct {
  int port;               /* -1: not set */
  char *user;
  char *host_name;        /* the host to connect to; NULL: HOST */
  char *host_key_alias;
  GPtrArray *known_hosts; /* MsSshConfigString: file names; NULL: not set */
  GPtrArray *global_known_hosts;
  GPtrArray *identities;  /* MsSshConfigString: file names */
  int identities_only;    /* IdentitiesOnly: 1 yes, 0 no, -1 not set */
  int connect_timeout_s;  /* -1: not set */
  int keepalive_s;
  int keepalive_count;
  gboolean direct;        /* -o ProxyJump=none or ProxyCommand=none */
} Settings;

/* Prints a message of ours, one "watch_ssh: " per line. */
static void
say (const char *format, ...) G_GNUC_PRINTF (1, 2);

static void
say (const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_auto (GStrv) lines = g_strsplit (msg, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    fprintf (stderr, "watch_ssh: %s\n", *l);
}

static void
request_stop (Watch *w, int status)
{
  if (w->stop)
    return;
  w->stop = TRUE;
  w->status = status;
}

/* --- output ----------------------------------------------------------------------- */

static void
queue_line (Watch *w, const char *line, gsize len)
{
  if (w->stdout_gone || w->stop)
    return;
  if (w->out->len - w->out_done + len + 1 > OUTPUT_BACKLOG_MAX) {
    say ("more than %d bytes of output are waiting for a reader that does not read; exiting so "
         "that a restart syncs everything",
         OUTPUT_BACKLOG_MAX);
    request_stop (w, 2);
    return;
  }
  g_string_append_len (w->out, line, (gssize) len);
  g_string_append_c (w->out, '\n');
}

/* Writes what poll() said stdout can take. */
static void
write_output (Watch *w)
{
  gsize left = w->out->len - w->out_done;
  ssize_t n = write (STDOUT_FILENO, w->out->str + w->out_done, MIN (left, (gsize) PIPE_BUF));
  if (n < 0) {
    int e = errno;
    if (e == EAGAIN || e == EINTR)
      return;
    if (e != EPIPE)
      say ("writing to stdout: %s", g_strerror (e));
    w->stdout_gone = TRUE;
    g_string_truncate (w->out, 0);
    w->out_done = 0;
    request_stop (w, e == EPIPE ? 0 : 2);
    return;
  }
  w->out_done += (gsize) n;
  if (w->out_done == w->out->len) {
    g_string_truncate (w->out, 0);
    w->out_done = 0;
  } else if (w->out_done >= w->out->len / 2) {
    /* Drop what is written once it is half the buffer, so that the buffer
     * does not grow while a reader keeps up only partly. */
    g_string_erase (w->out, 0, (gssize) w->out_done);
    w->out_done = 0;
  }
}

/* A line the remote end printed before its start line: a login message
 * from the user's shell start-up files, say.  Passed on, it would be the
 * first thing our reader sees, which the coordinator takes for a broken
 * watcher; so it is dropped, and said once. */
static void
drop_early_line (Watch *w, const char *line, gsize len, const char *reason)
{
  if (w->early_warned)
    return;
  w->early_warned = TRUE;
  g_autofree char *shown = NULL;
  if (reason != NULL) {
    shown = g_strdup (reason);
  } else {
    g_autofree char *name = ms_mailbox_name_for_log (line, len, MS_SSH_DROPPED_SHOWN_MAX);
    shown = g_strdup_printf ("\"%s\"", name);
  }
  say ("%s: dropping what the remote command prints before its start line (an empty line), "
       "beginning with %s",
       w->host, shown);
}

static void
on_output (gpointer data, const char *bytes, gsize len)
{
  Watch *w = data;
  ms_ssh_relay_feed (w->relay, bytes, len);
  for (;;) {
    const char *line = NULL;
    gsize n = 0;
    g_autofree char *reason = NULL;
    MsSshRelayResult r = ms_ssh_relay_next (w->relay, &line, &n, &reason);
    if (r == MS_SSH_RELAY_NEED_MORE)
      break;
    if (!w->ready && (r == MS_SSH_RELAY_DROP || n > 0)) {
      drop_early_line (w, line, n, reason);
      continue;
    }
    w->ready = TRUE;
    if (r == MS_SSH_RELAY_DROP)
      say ("%s: dropped a line that is not a mailbox name: %s", w->host, reason);
    else
      queue_line (w, line, n);
  }
}

static void
on_errors (gpointer data, const char *bytes, gsize len)
{
  Watch *w = data;
  ms_ssh_log_lines_feed (w->remote_errors, bytes, len);
  char *line;
  while ((line = ms_ssh_log_lines_next (w->remote_errors)) != NULL) {
    fprintf (stderr, "%s\n", line);
    g_free (line);
  }
}

static void
on_notice (gpointer data, const char *message)
{
  say ("%s", message);
}

/* --- the loop ------------------------------------------------------------------- */

static int
timeout_ms (gint64 deadline, gint64 now)
{
  if (deadline == G_MAXINT64)
    return -1;
  if (deadline <= now)
    return 0;
  gint64 ms = (deadline - now + 999) / 1000;
  return ms > INT_MAX ? INT_MAX : (int) ms;
}

static int
status_for (const GError *error)
{
  if (error->domain == MS_SSH_ERROR &&
      (error->code == MS_SSH_ERROR_CONFIG || error->code == MS_SSH_ERROR_HOST_KEY ||
       error->code == MS_SSH_ERROR_AUTH))
    return 1;
  return 2;
}

/* Handles what poll() reported on our own descriptors. */
static void
handle_own_fds (Watch *w, const struct pollfd *in, const struct pollfd *out,
                const struct pollfd *sig)
{
  if (sig->revents & POLLIN) {
    struct signalfd_siginfo info;
    if (read (sig->fd, &info, sizeof info) == (ssize_t) sizeof info)
      request_stop (w, 0);
  }
  if (in != NULL && in->revents != 0) {
    char buf[STDIN_CHUNK];
    ssize_t n = read (STDIN_FILENO, buf, sizeof buf);
    /* EOF, or an error after which no more input will come: either way our
     * reader is gone. */
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
      w->stdin_done = TRUE;
      request_stop (w, 0);
    }
  }
  if (out != NULL && out->revents != 0) {
    if (out->revents & (POLLERR | POLLHUP | POLLNVAL)) {
      w->stdout_gone = TRUE;
      g_string_truncate (w->out, 0);
      w->out_done = 0;
      request_stop (w, 0);
    } else if (out->revents & POLLOUT) {
      write_output (w);
    }
  }
}

static int
run (Watch *w, MsSshSession *session, int sig_fd)
{
  for (;;) {
    gint64 now = g_get_monotonic_time ();
    if (w->stop && !w->closing) {
      ms_ssh_session_close (session, now);
      w->closing = TRUE;
    }
    MsSshWait wait;
    g_autoptr (GError) error = NULL;
    MsSshState state = ms_ssh_session_step (session, now, &wait, &error);
    if (state == MS_SSH_CLOSED)
      return w->status;
    if (state == MS_SSH_FAILED) {
      if (w->closing)
        return w->status;
      say ("%s", error->message);
      return status_for (error);
    }
    if (w->stop && !w->closing)
      continue; /* a handler asked us to stop: close at once */

    struct pollfd fds[4];
    nfds_t n = 0;
    struct pollfd *ssh = NULL, *in = NULL, *out = NULL, *sig;
    if (wait.fd >= 0) {
      ssh = &fds[n++];
      *ssh = (struct pollfd) { .fd = wait.fd, .events = wait.events };
    }
    if (!w->stdin_done && !w->stop) {
      in = &fds[n++];
      *in = (struct pollfd) { .fd = STDIN_FILENO, .events = POLLIN };
    }
    if (!w->stdout_gone) {
      /* With no events, poll() still reports POLLERR and POLLHUP: a reader
       * that leaves while nothing changes is noticed at once. */
      out = &fds[n++];
      *out = (struct pollfd) { .fd = STDOUT_FILENO,
                               .events = w->out->len > w->out_done ? POLLOUT : 0 };
    }
    sig = &fds[n++];
    *sig = (struct pollfd) { .fd = sig_fd, .events = POLLIN };

    if (poll (fds, n, timeout_ms (wait.deadline, now)) < 0) {
      if (errno == EINTR)
        continue;
      say ("poll: %s", g_strerror (errno));
      return 2;
    }
    handle_own_fds (w, in, out, sig);
  }
}

/* Hands the last queued names to our reader, for at most FLUSH_TIMEOUT_MS. */
static void
flush_output (Watch *w)
{
  gint64 deadline = g_get_monotonic_time () + FLUSH_TIMEOUT_MS * 1000;
  while (!w->stdout_gone && w->out->len > w->out_done) {
    gint64 now = g_get_monotonic_time ();
    if (now >= deadline)
      return;
    struct pollfd out = { .fd = STDOUT_FILENO, .events = POLLOUT };
    if (poll (&out, 1, timeout_ms (deadline, now)) <= 0)
      continue;
    if (out.revents & (POLLERR | POLLHUP | POLLNVAL))
      return;
    write_output (w);
  }
}

/* --- options ----------------------------------------------------------------------- */

/* File names are kept as given, as MsSshConfigString: the value, and
 * where it was given ("-i", "FILE:LINE: IdentityFile"...) for messages,
 * until the host, user and port are known, which "~" and the %-tokens
 * need. */
static GPtrArray *
file_names_new (void)
{
  return g_ptr_array_new_with_free_func (ms_ssh_config_string_free);
}

static void
add_file_name (GPtrArray *to, const char *name, const char *where)
{
  MsSshConfigString *f = g_new (MsSshConfigString, 1);
  f->value = g_strdup (name);
  f->where = g_strdup (where);
  g_ptr_array_add (to, f);
}

/* A list of files as ssh takes it in -o: separated by whitespace, "none"
 * for none. */
static GPtrArray *
file_list (const char *value, const char *from)
{
  GPtrArray *files = file_names_new ();
  g_auto (GStrv) words = g_strsplit_set (value, " \t", -1);
  for (char **w = words; *w != NULL; w++) {
    if (**w == '\0' || g_ascii_strcasecmp (*w, "none") == 0)
      continue;
    add_file_name (files, *w, from);
  }
  return files;
}

/* The same from the configuration file, which has split the words. */
static GPtrArray *
config_file_list (const MsSshConfigList *list, const char *keyword)
{
  g_autofree char *from = g_strdup_printf ("%s: %s", list->where, keyword);
  GPtrArray *files = file_names_new ();
  for (char **v = list->values; *v != NULL; v++)
    add_file_name (files, *v, from);
  return files;
}

/* Expands the names in `from` (see ms_ssh_config_expand) onto `to`. */
static gboolean
expand_files (GPtrArray *to, const GPtrArray *from, const MsSshTokens *tokens, GError **error)
{
  for (guint i = 0; i < from->len; i++) {
    const MsSshConfigString *f = from->pdata[i];
    char *path = ms_ssh_config_expand (f->value, tokens, error);
    if (path == NULL) {
      g_prefix_error (error, "%s: ", f->where);
      return FALSE;
    }
    g_ptr_array_add (to, path);
  }
  return TRUE;
}

static gboolean
parse_number (const char *what, const char *value, guint64 min, guint64 max, int *out,
              GError **error)
{
  guint64 n;
  g_autoptr (GError) local = NULL;
  if (!g_ascii_string_to_unsigned (value, 10, min, max, &n, &local)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "%s must be a number from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT
                 " (got \"%s\")",
                 what, min, max, value);
    return FALSE;
  }
  /* The first value given wins, as with ssh; later ones are still
   * checked. */
  if (*out == -1)
    *out = (int) n;
  return TRUE;
}

static void
set_once (char **slot, const char *value)
{
  if (*slot == NULL)
    *slot = g_strdup (value);
}

static gboolean
is_yes (const char *value)
{
  return g_ascii_strcasecmp (value, "yes") == 0;
}

/* Applies one -o NAME=VALUE (or "NAME VALUE", as ssh also takes it).  As
 * with ssh, the first value given for a name wins, and IdentityFile adds
 * a file each time. */
static gboolean
apply_o_option (Settings *st, const char *option, GError **error)
{
  const char *p = option;
  while (*p != '\0' && *p != '=' && !g_ascii_isspace (*p))
    p++;
  g_autofree char *name = g_strndup (option, (gsize) (p - option));
  while (*p == '=' || g_ascii_isspace (*p))
    p++;
  g_autofree char *value = g_strstrip (g_strdup (p));
  if (*name == '\0' || *value == '\0') {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "-o \"%s\": expected NAME=VALUE", option);
    return FALSE;
  }

  if (g_ascii_strcasecmp (name, "Port") == 0)
    return parse_number ("Port", value, 1, 65535, &st->port, error);
  if (g_ascii_strcasecmp (name, "User") == 0) {
    set_once (&st->user, value);
  } else if (g_ascii_strcasecmp (name, "HostName") == 0) {
    set_once (&st->host_name, value);
  } else if (g_ascii_strcasecmp (name, "HostKeyAlias") == 0) {
    set_once (&st->host_key_alias, value);
  } else if (g_ascii_strcasecmp (name, "IdentityFile") == 0) {
    add_file_name (st->identities, value, "-o IdentityFile");
  } else if (g_ascii_strcasecmp (name, "IdentitiesOnly") == 0) {
    int flag;
    if (!ms_ssh_config_parse_flag (value, &flag)) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "-o IdentitiesOnly must be yes or no (got \"%s\")", value);
      return FALSE;
    }
    if (st->identities_only == -1)
      st->identities_only = flag;
  } else if (g_ascii_strcasecmp (name, "UserKnownHostsFile") == 0) {
    if (st->known_hosts == NULL)
      st->known_hosts = file_list (value, "-o UserKnownHostsFile");
  } else if (g_ascii_strcasecmp (name, "GlobalKnownHostsFile") == 0) {
    if (st->global_known_hosts == NULL)
      st->global_known_hosts = file_list (value, "-o GlobalKnownHostsFile");
  } else if (g_ascii_strcasecmp (name, "ConnectTimeout") == 0) {
    return parse_number ("ConnectTimeout", value, 1, TIME_OPTION_MAX_S, &st->connect_timeout_s,
                         error);
  } else if (g_ascii_strcasecmp (name, "ServerAliveInterval") == 0) {
    return parse_number ("ServerAliveInterval", value, 0, TIME_OPTION_MAX_S, &st->keepalive_s,
                         error);
  } else if (g_ascii_strcasecmp (name, "ServerAliveCountMax") == 0) {
    return parse_number ("ServerAliveCountMax", value, 1, KEEPALIVE_COUNT_MAX,
                         &st->keepalive_count, error);
  } else if (g_ascii_strcasecmp (name, "ProxyJump") == 0 ||
             g_ascii_strcasecmp (name, "ProxyCommand") == 0) {
    if (g_ascii_strcasecmp (value, "none") != 0) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "-o %s=%s is not supported: watch_ssh cannot connect through another host or "
                   "a command (only %s=none, to connect directly)",
                   name, value, name);
      return FALSE;
    }
    st->direct = TRUE;
  } else if (g_ascii_strcasecmp (name, "BatchMode") == 0) {
    /* Always in batch mode: nothing to do. */
  } else if (g_ascii_strcasecmp (name, "StrictHostKeyChecking") == 0) {
    if (!is_yes (value)) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "StrictHostKeyChecking=%s is not supported: watch_ssh always checks host keys "
                   "and never adds them",
                   value);
      return FALSE;
    }
  } else {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION,
                 "-o %s is not supported (known: HostName, Port, User, IdentityFile, "
                 "IdentitiesOnly, UserKnownHostsFile, GlobalKnownHostsFile, HostKeyAlias, ConnectTimeout, "
                 "ServerAliveInterval, ServerAliveCountMax, ProxyJump=none, ProxyCommand=none, "
                 "BatchMode, StrictHostKeyChecking)",
                 name);
    return FALSE;
  }
  return TRUE;
}

static void
settings_clear (Settings *st)
{
  g_free (st->user);
  g_free (st->host_name);
  g_free (st->host_key_alias);
  g_clear_pointer (&st->known_hosts, g_ptr_array_unref);
  g_clear_pointer (&st->global_known_hosts, g_ptr_array_unref);
  g_clear_pointer (&st->identities, g_ptr_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Settings, settings_clear)

/* --- the ssh configuration file ------------------------------------------------------ */

/* Reads a configuration file whole, or enough of it to tell that it is too
 * large (MS_SSH_CONFIG_FILE_MAX).  With check_owner, refuses a file that
 * anyone but us or root owns or can write, as ssh does for ~/.ssh/config
 * and the files it includes: such a file could send us to another host
 * with another key. */
static gboolean
read_config_file (const char *path, gboolean check_owner, char **text, gsize *len, GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  struct stat sb;
  if (fd < 0 || fstat (fd, &sb) < 0) {
    int e = errno;
    if (fd >= 0)
      close (fd);
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "cannot read %s: %s", path,
                 g_strerror (e));
    return FALSE;
  }
  if (S_ISDIR (sb.st_mode)) {
    close (fd);
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_ISDIR, "%s is a directory", path);
    return FALSE;
  }
  if (check_owner && ((sb.st_uid != 0 && sb.st_uid != getuid ()) || (sb.st_mode & 022) != 0)) {
    close (fd);
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_PERM,
                 "bad owner or permissions on %s: it must be yours (or root's) and writable by "
                 "its owner only, as ssh requires",
                 path);
    return FALSE;
  }
  /* One more byte than the limit, to tell a file that is too large; the
   * buffer is given back as soon as the file is parsed. */
  g_autoptr (GInputStream) in = g_unix_input_stream_new (fd, TRUE);
  g_autofree char *buf = g_malloc (MS_SSH_CONFIG_FILE_MAX + 1);
  gsize n = 0;
  g_autoptr (GError) local = NULL;
  if (!g_input_stream_read_all (in, buf, MS_SSH_CONFIG_FILE_MAX + 1, &n, NULL, &local)) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_IO, "cannot read %s: %s", path, local->message);
    return FALSE;
  }
  *len = n;
  *text = g_realloc (g_steal_pointer (&buf), n + 1);
  (*text)[n] = '\0';
  return TRUE;
}

/* MsSshConfigFiles.read for Include.  A directory that a pattern names
 * counts as an empty file, as ssh reads it. */
static gboolean
read_included (gpointer user_data, const char *path, char **text, gsize *len, GError **error)
{
  g_autoptr (GError) local = NULL;
  (void) user_data;
  if (read_config_file (path, TRUE, text, len, &local))
    return TRUE;
  if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_ISDIR)) {
    *text = g_strdup ("");
    *len = 0;
    return TRUE;
  }
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

/* MsSshConfigFiles.expand for Include: glob(3), which sorts. */
static char **
glob_included (gpointer user_data, const char *pattern, GError **error)
{
  glob_t found;
  (void) user_data;
  int rc = glob (pattern, 0, NULL, &found);
  if (rc == GLOB_NOMATCH)
    return g_new0 (char *, 1);
  if (rc != 0) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "cannot list the files it names (%s)",
                 rc == GLOB_NOSPACE ? "out of memory" : "a directory could not be read");
    return NULL;
  }
  char **paths = g_new0 (char *, found.gl_pathc + 1);
  for (size_t i = 0; i < found.gl_pathc; i++)
    paths[i] = g_strdup (found.gl_pathv[i]);
  globfree (&found);
  return paths;
}

/* The options that ~/.ssh/config, or the -F file, gives for `host`.  A
 * missing ~/.ssh/config counts as empty; a missing -F file is an error,
 * and "-F none" reads nothing, as with ssh. */
static MsSshHostConfig *
load_ssh_config (const char *option_file, const char *host, GError **error)
{
  const char *home = g_get_home_dir ();
  MsSshConfigFiles files = { glob_included, read_included, NULL };
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  gsize len = 0;

  if (option_file != NULL && strcmp (option_file, "none") == 0) {
    path = g_strdup (option_file);
  } else if (option_file != NULL) {
    path = ms_path_expand_tilde (option_file, home, error);
    if (path == NULL) {
      g_prefix_error (error, "-F: ");
      return NULL;
    }
    if (!read_config_file (path, FALSE, &text, &len, error))
      return NULL;
  } else {
    g_autoptr (GError) local = NULL;
    path = g_build_filename (home, ".ssh", "config", NULL);
    if (!read_config_file (path, TRUE, &text, &len, &local) &&
        !g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  }
  return ms_ssh_config_resolve (path, text != NULL ? text : "", len, host, home, &files, error);
}

static gboolean
take_number (int *slot, const MsSshConfigNumber *from, const char *name, int min, int max,
             GError **error)
{
  if (*slot != -1 || from->value == -1)
    return TRUE;
  if (from->value < min || from->value > max) {
    g_set_error (error, MS_ERROR, MS_ERROR_CONFIG, "%s: %s must be from %d to %d (got %d)",
                 from->where, name, min, max, from->value);
    return FALSE;
  }
  *slot = from->value;
  return TRUE;
}

/* Fills what the command line left unset from the configuration file;
 * refuses a proxy there unless -o ProxyJump=none (or ProxyCommand) said to
 * connect directly. */
static gboolean
take_config (Settings *st, const MsSshHostConfig *cfg, GError **error)
{
  if (!st->direct && !ms_ssh_host_config_check_proxy (cfg, error))
    return FALSE;
  set_once (&st->host_name, cfg->host_name.value);
  set_once (&st->user, cfg->user.value);
  set_once (&st->host_key_alias, cfg->host_key_alias.value);
  if (st->known_hosts == NULL && cfg->user_known_hosts.values != NULL)
    st->known_hosts = config_file_list (&cfg->user_known_hosts, "UserKnownHostsFile");
  if (st->global_known_hosts == NULL && cfg->global_known_hosts.values != NULL)
    st->global_known_hosts = config_file_list (&cfg->global_known_hosts, "GlobalKnownHostsFile");
  for (guint i = 0; i < cfg->identities->len; i++) {
    const MsSshConfigString *id = cfg->identities->pdata[i];
    g_autofree char *from = g_strdup_printf ("%s: IdentityFile", id->where);
    add_file_name (st->identities, id->value, from);
  }
  if (st->identities_only == -1)
    st->identities_only = cfg->identities_only.value;
  return take_number (&st->port, &cfg->port, "Port", 1, 65535, error) &&
         take_number (&st->connect_timeout_s, &cfg->connect_timeout, "ConnectTimeout", 1,
                      TIME_OPTION_MAX_S, error) &&
         take_number (&st->keepalive_s, &cfg->server_alive_interval, "ServerAliveInterval", 0,
                      TIME_OPTION_MAX_S, error) &&
         take_number (&st->keepalive_count, &cfg->server_alive_count_max, "ServerAliveCountMax",
                      1, KEEPALIVE_COUNT_MAX, error);
}

int
main (int argc, char **argv)
{
  int port = -1, keepalive = -1, keepalive_count = -1, connect_timeout = -1;
  g_autofree char *login = NULL;
  g_autofree char *config_file = NULL;
  g_auto (GStrv) identities = NULL;
  g_auto (GStrv) o_options = NULL;
  g_auto (GStrv) known_hosts = NULL;
  gboolean version = FALSE;
  GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, "Port to connect to (default: 22)", "PORT" },
    { "login-name", 'l', 0, G_OPTION_ARG_STRING, &login,
      "User to log in as (default: USER@ in HOST, else the local user)", "USER" },
    { "identity", 'i', 0, G_OPTION_ARG_FILENAME_ARRAY, &identities,
      "Private key file to try after ssh-agent's keys; repeatable (default: ~/.ssh/id_ed25519, "
      "id_ecdsa, id_rsa)",
      "FILE" },
    { "option", 'o', 0, G_OPTION_ARG_STRING_ARRAY, &o_options,
      "An ssh option, NAME=VALUE; see watch_ssh(1) for the names understood", "OPTION" },
    { "config", 'F', 0, G_OPTION_ARG_FILENAME, &config_file,
      "ssh configuration file to read (default: ~/.ssh/config; none: none)", "FILE" },
    { "known-hosts", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &known_hosts,
      "known_hosts file to check the host key against; repeatable (default: "
      "~/.ssh/known_hosts)",
      "FILE" },
    { "connect-timeout", 0, 0, G_OPTION_ARG_INT, &connect_timeout,
      "Seconds each set-up step may take: connect, handshake, authentication, starting the "
      "command (default: 20)",
      "SECONDS" },
    { "keepalive", 0, 0, G_OPTION_ARG_INT, &keepalive,
      "Ask a silent server for an answer every SECONDS; 0: never (default: 10)", "SECONDS" },
    { "keepalive-count", 0, 0, G_OPTION_ARG_INT, &keepalive_count,
      "Give the connection up after N intervals without an answer (default: 3)", "N" },
    { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Display version", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx =
    g_option_context_new ("[USER@]HOST [--] COMMAND... - run a watcher on HOST over SSH");
  g_autoptr (GError) error = NULL;

  signal (SIGPIPE, SIG_IGN);
  /* Before anything can start a thread (see the top). */
  sigset_t quit_signals;
  sigemptyset (&quit_signals);
  sigaddset (&quit_signals, SIGTERM);
  sigaddset (&quit_signals, SIGINT);
  sigaddset (&quit_signals, SIGHUP);
  sigprocmask (SIG_BLOCK, &quit_signals, NULL);

  /* Options end at HOST, as they do for ssh before its command, so that
   * the command's own options are left alone. */
  g_option_context_set_strict_posix (ctx, TRUE);
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_description (
    ctx, "Exit status: 0 when told to stop (stdin EOF, stdout closed, SIGTERM), 1 for a problem "
         "that retrying will not fix (options, host key, authentication), 2 when the connection "
         "failed or ended.  See watch_ssh(1).");
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    fprintf (stderr, "watch_ssh: %s\nUse -h or --help for help.\n", error->message);
    return 1;
  }
  if (version) {
    printf ("watch_ssh\nmswatch-ng %s\n", MS_VERSION);
    return 0;
  }
  if (argc < 2) {
    fprintf (stderr, "watch_ssh: no HOST given\nUse -h or --help for help.\n");
    return 1;
  }
  char **command = argv + 2;
  if (*command != NULL && strcmp (*command, "--") == 0)
    command++;
  else if (*command != NULL && (*command)[0] == '-') {
    fprintf (stderr,
             "watch_ssh: \"%s\" after HOST: options go before HOST (the command follows HOST "
             "or --)\n",
             *command);
    return 1;
  }
  if (*command == NULL) {
    fprintf (stderr, "watch_ssh: no COMMAND given\nUse -h or --help for help.\n");
    return 1;
  }

  /* The command line: -o first; the dedicated options win over it. */
  g_auto (Settings) st = {
    .port = -1, .identities_only = -1, .connect_timeout_s = -1, .keepalive_s = -1,
    .keepalive_count = -1
  };
  st.identities = file_names_new ();
  for (char **i = identities; i != NULL && *i != NULL; i++)
    add_file_name (st.identities, *i, "-i");
  for (char **o = o_options; o != NULL && *o != NULL; o++) {
    if (!apply_o_option (&st, *o, &error)) {
      fprintf (stderr, "watch_ssh: %s\n", error->message);
      return 1;
    }
  }
  if (port != -1)
    st.port = port;
  if (connect_timeout != -1)
    st.connect_timeout_s = connect_timeout;
  if (keepalive != -1)
    st.keepalive_s = keepalive;
  if (keepalive_count != -1)
    st.keepalive_count = keepalive_count;
  const char *range_error = NULL;
  if (st.port != -1 && (st.port < 1 || st.port > 65535))
    range_error = "the port must be from 1 to 65535";
  else if (st.connect_timeout_s != -1 &&
           (st.connect_timeout_s < 1 || st.connect_timeout_s > TIME_OPTION_MAX_S))
    range_error = "--connect-timeout must be from 1 to 3600 seconds";
  else if (st.keepalive_s != -1 && (st.keepalive_s < 0 || st.keepalive_s > TIME_OPTION_MAX_S))
    range_error = "--keepalive must be from 0 (never) to 3600 seconds";
  else if (st.keepalive_count != -1 &&
           (st.keepalive_count < 1 || st.keepalive_count > KEEPALIVE_COUNT_MAX))
    range_error = "--keepalive-count must be from 1 to 100";
  if (range_error != NULL) {
    fprintf (stderr, "watch_ssh: %s\n", range_error);
    return 1;
  }

  /* [USER@]HOST; -l wins over USER@, as with ssh. */
  g_autofree char *host = g_strdup (argv[1]);
  char *at = strrchr (host, '@');
  if (at != NULL) {
    *at = '\0';
    if (st.user == NULL)
      st.user = g_strdup (host);
    memmove (host, at + 1, strlen (at + 1) + 1);
  }
  if (login != NULL) {
    g_free (st.user);
    st.user = g_strdup (login);
  }
  if (host[0] == '\0' || (st.user != NULL && st.user[0] == '\0')) {
    fprintf (stderr, "watch_ssh: \"%s\" is not [USER@]HOST\n", argv[1]);
    return 1;
  }
  if (st.host_name != NULL) {
    char *expanded = ms_ssh_config_expand_host_name (st.host_name, host, &error);
    if (expanded == NULL) {
      fprintf (stderr, "watch_ssh: -o HostName: %s\n", error->message);
      return 1;
    }
    g_free (st.host_name);
    st.host_name = expanded;
  }

  /* Then the configuration file, for HOST as given; then the defaults. */
  g_autoptr (MsSshHostConfig) file_config = load_ssh_config (config_file, host, &error);
  if (file_config == NULL || !take_config (&st, file_config, &error)) {
    fprintf (stderr, "watch_ssh: %s\n", error->message);
    return 1;
  }
  if (st.host_name == NULL)
    st.host_name = g_strdup (host);
  if (st.user == NULL)
    st.user = g_strdup (g_get_user_name ());
  if (st.port == -1)
    st.port = 22;
  if (st.connect_timeout_s == -1)
    st.connect_timeout_s = DEFAULT_CONNECT_TIMEOUT_S;
  if (st.keepalive_s == -1)
    st.keepalive_s = DEFAULT_KEEPALIVE_S;
  if (st.keepalive_count == -1)
    st.keepalive_count = DEFAULT_KEEPALIVE_COUNT;

  /* Files: the given ones, or ssh's defaults; "~" and tokens expanded now
   * that the host, user and port are known. */
  MsSshTokens tokens = {
    .home = g_get_home_dir (),
    .local_user = g_get_user_name (),
    .local_host = g_get_host_name (),
    .host = st.host_name,
    .original_host = host,
    .remote_user = st.user,
    .host_key_alias = st.host_key_alias,
    .port = (guint) st.port,
    .uid = (guint) getuid (),
  };
  gboolean keys_named = st.identities->len > 0;
  if (!keys_named) {
    static const char *const defaults[] = { "~/.ssh/id_ed25519", "~/.ssh/id_ecdsa",
                                            "~/.ssh/id_rsa" };
    for (guint i = 0; i < G_N_ELEMENTS (defaults); i++)
      add_file_name (st.identities, defaults[i], "default");
  }
  g_autoptr (GPtrArray) hosts_names = file_names_new ();
  for (char **k = known_hosts; k != NULL && *k != NULL; k++)
    add_file_name (hosts_names, *k, "--known-hosts");
  if (known_hosts == NULL && st.known_hosts != NULL)
    g_ptr_array_extend_and_steal (hosts_names, g_steal_pointer (&st.known_hosts));
  else if (known_hosts == NULL)
    add_file_name (hosts_names, "~/.ssh/known_hosts", "default");
  if (st.global_known_hosts != NULL)
    g_ptr_array_extend_and_steal (hosts_names, g_steal_pointer (&st.global_known_hosts));
  else
    add_file_name (hosts_names, DEFAULT_GLOBAL_KNOWN_HOSTS, "default");

  g_autoptr (GPtrArray) key_files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) hosts_files = g_ptr_array_new_with_free_func (g_free);
  if (!expand_files (key_files, st.identities, &tokens, &error) ||
      !expand_files (hosts_files, hosts_names, &tokens, &error)) {
    fprintf (stderr, "watch_ssh: %s\n", error->message);
    return 1;
  }
  g_ptr_array_add (key_files, NULL);
  g_ptr_array_add (hosts_files, NULL);

  g_autofree char *remote_command = g_strjoinv (" ", command);
  const char *agent_socket = g_getenv ("SSH_AUTH_SOCK");
  MsSshConfig config = {
    .host = st.host_name,
    .port = (guint16) st.port,
    .user = st.user,
    .host_key_alias = st.host_key_alias,
    .known_hosts = (const char *const *) hosts_files->pdata,
    .identities = (const char *const *) key_files->pdata,
    .identities_named = keys_named,
    .identities_only = st.identities_only == 1,
    .use_agent = agent_socket != NULL && agent_socket[0] != '\0',
    .connect_timeout_s = (guint) st.connect_timeout_s,
    .keepalive_s = (guint) st.keepalive_s,
    .keepalive_count = (guint) st.keepalive_count,
    .command = remote_command,
  };

  /* With stdout closed nobody can hear us: as if our reader had left. */
  if (fcntl (STDOUT_FILENO, F_GETFD) < 0)
    return 0;
  ms_fd_fill_std (FALSE);
  int sig_fd = signalfd (-1, &quit_signals, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sig_fd < 0) {
    say ("signalfd: %s", g_strerror (errno));
    return 2;
  }

  g_autoptr (MsSshRelay) relay = ms_ssh_relay_new ();
  g_autofree char *prefix = g_strdup (host);
  g_autoptr (MsSshLogLines) remote_errors = ms_ssh_log_lines_new (prefix);
  g_autoptr (GString) out = g_string_new (NULL);
  Watch w = { .host = host, .relay = relay, .remote_errors = remote_errors, .out = out };
  static const MsSshHandlers handlers = { on_output, on_errors, on_notice };

  g_autoptr (MsSshSession) session =
    ms_ssh_session_new (&config, &handlers, &w, g_get_monotonic_time (), &error);
  if (session == NULL) {
    say ("%s", error->message);
    return status_for (error);
  }
  int status = run (&w, session, sig_fd);
  g_clear_pointer (&session, ms_ssh_session_free);

  g_autofree char *last = ms_ssh_log_lines_finish (remote_errors);
  if (last != NULL)
    fprintf (stderr, "%s\n", last);
  flush_output (&w);
  close (sig_fd);
  return status;
}
