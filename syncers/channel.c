/* channel.c — see channel.h. */
#include "channel.h"

#include <errno.h>
#include <gio/gio.h>
#include <poll.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ms-child.h"
#include "ms-error.h"
#include "ms-fd.h"

static void
warn (MsChannelSetup *s, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
warn (MsChannelSetup *s, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *text = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_ptr_array_add (s->warnings, g_strdup_printf ("channel %s: %s", s->channel->name, text));
}

static void
wipe_secret (char *s)
{
  if (s == NULL)
    return;
  explicit_bzero (s, strlen (s));
  g_free (s);
}

void
ms_channel_setup_free (MsChannelSetup *s)
{
  if (s == NULL)
    return;
  g_free (s->maildir.root);
  g_free (s->maildir.inbox);
  g_free ((char *) s->imap.transport.tls.ca_file);
  g_free (s->far_prefix);
  g_free (s->state_prefix);
  g_free (s->single_box);
  wipe_secret (s->secret);
  g_ptr_array_unref (s->warnings);
  g_free (s);
}

static gboolean
setup_maildir (MsChannelSetup *s, const MsMbsyncConfig *config, const MsMbsyncStore *store, const char *home,
               GError **error)
{
  if (store->type != MS_MBSYNC_STORE_MAILDIR) {
    g_set_error (error, MS_ERROR, MS_ERROR_CONFIG,
                 "%s: channel %s: the Near side must be a MaildirStore (sync_imap syncs IMAP with a Maildir)",
                 config->filename, s->channel->name);
    return FALSE;
  }
  if (store->path != NULL && (s->maildir.root = ms_mbsync_expand_path (store->path, home, NULL, error)) == NULL)
    return FALSE;
  const char *inbox = store->inbox ? store->inbox : "~/Maildir";
  if ((s->maildir.inbox = ms_mbsync_expand_path (inbox, home, NULL, error)) == NULL)
    return FALSE;
  /* A trailing '/' on Path is mbsync's habit; the folder paths add their own. */
  if (s->maildir.root != NULL && strlen (s->maildir.root) > 1 && g_str_has_suffix (s->maildir.root, "/"))
    s->maildir.root[strlen (s->maildir.root) - 1] = '\0';
  switch (store->subfolders) {
  case MS_MBSYNC_SUBFOLDERS_MAILDIRPP:
    s->maildir.layout = MS_MAILDIR_LAYOUT_MAILDIRPP;
    break;
  case MS_MBSYNC_SUBFOLDERS_VERBATIM:
  case MS_MBSYNC_SUBFOLDERS_UNSET:
    s->maildir.layout = MS_MAILDIR_LAYOUT_VERBATIM;
    break;
  case MS_MBSYNC_SUBFOLDERS_LEGACY:
    g_set_error (error, MS_ERROR, MS_ERROR_CONFIG, "%s:%u: SubFolders Legacy is not supported; use Verbatim or Maildir++",
                 config->filename, store->line);
    return FALSE;
  }
  s->maildir.fsync = config->fsync;
  /* sync-job.c syncs new/ and cur/ once per batch, before the state
   * records what depends on them. */
  s->maildir.defer_dir_sync = TRUE;
  s->maildir.info_delimiter = store->info_delimiter ? store->info_delimiter : ':';
  if (store->map_inbox != NULL)
    warn (s, "MapInbox is not supported and is ignored");
  if (store->flatten != NULL)
    warn (s, "Flatten is not supported and is ignored");
  return TRUE;
}

static gboolean
setup_imap (MsChannelSetup *s, const MsMbsyncConfig *config, const MsMbsyncStore *store, const char *home,
            GError **error)
{
  if (store->type != MS_MBSYNC_STORE_IMAP) {
    g_set_error (error, MS_ERROR, MS_ERROR_CONFIG,
                 "%s: channel %s: the Far side must be an IMAPStore (sync_imap syncs IMAP with a Maildir)",
                 config->filename, s->channel->name);
    return FALSE;
  }
  const MsMbsyncAccount *a = store->account;
  s->account = a;
  if (a->host == NULL && a->tunnel == NULL) {
    g_set_error (error, MS_ERROR, MS_ERROR_CONFIG, "%s:%u: account has neither Host nor Tunnel",
                 config->filename, a->line);
    return FALSE;
  }
  MsTransportOptions *t = &s->imap.transport;
  t->host = a->host;
  t->port = a->port;
  t->tunnel = a->tunnel;
  t->kind = a->tls_type == MS_MBSYNC_TLS_IMAPS ? MS_TRANSPORT_IMAPS : MS_TRANSPORT_PLAIN;
  t->timeout_s = a->timeout;
  t->tls.system_certs = a->system_certificates;
  t->tls.ciphers = a->cipher_string;
  if (a->certificate_file != NULL
      && (t->tls.ca_file = ms_mbsync_expand_path (a->certificate_file, home, NULL, error)) == NULL)
    return FALSE;
  s->imap.starttls = a->tls_type == MS_MBSYNC_TLS_STARTTLS && a->tunnel == NULL;
  s->imap.user = a->user;
  s->imap.auth_mechs = (const char *const *) a->auth_mechs;
  s->imap.disabled_extensions = (const char *const *) a->disabled_extensions;
  if (a->user_cmd != NULL)
    warn (s, "UserCmd is not supported; User is used");
  if (a->pass != NULL)
    s->secret = g_strdup (ms_mbsync_secret_peek (a->pass));
  s->imap.secret = s->secret;

  const char *far_box = s->channel->patterns ? s->channel->far.box : NULL;
  s->far_prefix = g_strconcat (store->path ? store->path : "", far_box ? far_box : "", NULL);
  return TRUE;
}

static gboolean
setup_state (MsChannelSetup *s, const MsMbsyncConfig *config, const char *home, GError **error)
{
  const char *where = s->channel->sync_state ? s->channel->sync_state
                      : config->sync_state      ? config->sync_state
                                                : "~/.mbsync/";
  if (g_str_equal (where, "*"))
    return TRUE;
  s->state_prefix = ms_mbsync_expand_path (where, home, NULL, error);
  if (s->state_prefix == NULL)
    return FALSE;
  /* The prefix's directory part must exist, as mbsync makes it. */
  g_autofree char *dir = g_path_get_dirname (s->state_prefix);
  if (g_str_has_suffix (s->state_prefix, "/")) {
    g_free (dir);
    dir = g_strdup (s->state_prefix);
  }
  if (g_mkdir_with_parents (dir, 0700) < 0) {
    int e = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "cannot create %s: %s", dir, g_strerror (e));
    return FALSE;
  }
  return TRUE;
}

char *
ms_channel_missing_message (const MsMbsyncConfig *config, const char *name)
{
  const MsMbsyncGroup *group = ms_mbsync_config_find_group (config, name);
  if (group == NULL || group->members->len == 0)
    return g_strdup_printf ("%s: no channel %s", config->filename, name);
  /* Each channel once, in file order (a group may name one twice). */
  g_autoptr (GPtrArray) seen = g_ptr_array_new ();
  for (guint i = 0; i < group->members->len; i++) {
    const MsMbsyncGroupMember *m = g_ptr_array_index (group->members, i);
    if (!g_ptr_array_find_with_equal_func (seen, m->channel_name, g_str_equal, NULL))
      g_ptr_array_add (seen, m->channel_name);
  }
  g_ptr_array_add (seen, NULL);
  g_autofree char *members = g_strjoinv (", ", (char **) seen->pdata);
  return g_strdup_printf ("%s: %s is a Group (of %s); give one channel, and run one per channel",
                          config->filename, name, members);
}

MsMbsyncConfig *
ms_channel_load_config (const char *path, GError **error)
{
  g_autofree char *default_path = path ? NULL : g_build_filename (g_get_home_dir (), ".mbsyncrc", NULL);
  if (path == NULL)
    path = default_path;
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &text, &len, error))
    return NULL;
  MsMbsyncConfig *config = ms_mbsync_config_parse (path, text, len, error);
  for (guint i = 0; config != NULL && i < config->warnings->len; i++)
    g_printerr ("%s\n", (const char *) g_ptr_array_index (config->warnings, i));
  return config;
}

MsChannelSetup *
ms_channel_setup_new (const MsMbsyncConfig *config, const MsMbsyncChannel *channel, const char *home,
                      GError **error)
{
  g_autoptr (MsChannelSetup) s = g_new0 (MsChannelSetup, 1);
  s->channel = channel;
  s->warnings = g_ptr_array_new_with_free_func (g_free);
  if (!setup_imap (s, config, channel->far.store, home, error)
      || !setup_maildir (s, config, channel->near.store, home, error) || !setup_state (s, config, home, error))
    return NULL;

  if (channel->patterns == NULL) {
    const char *far = channel->far.box ? channel->far.box : "INBOX";
    const char *near = channel->near.box ? channel->near.box : "INBOX";
    if (!g_str_equal (far, near)) {
      g_set_error (error, MS_ERROR, MS_ERROR_CONFIG,
                   "%s:%u: channel %s pairs different mailboxes (%s and %s); sync_imap needs the same name on both sides",
                   config->filename, channel->line, channel->name, far, near);
      return NULL;
    }
    s->single_box = g_strdup (far);
  } else if (channel->near.box != NULL) {
    warn (s, "a Near mailbox prefix (%s) is not supported; folders are named as on the server",
          channel->near.box);
  }

  const guint *ops = channel->ops;
  s->policy.pull_new = (ops[MS_MBSYNC_PULL] & MS_MBSYNC_OP_NEW) != 0;
  s->policy.push_new = (ops[MS_MBSYNC_PUSH] & MS_MBSYNC_OP_NEW) != 0;
  s->policy.pull_flags = (ops[MS_MBSYNC_PULL] & MS_MBSYNC_OP_FLAGS) != 0;
  s->policy.push_flags = (ops[MS_MBSYNC_PUSH] & MS_MBSYNC_OP_FLAGS) != 0;
  s->policy.pull_delete = (ops[MS_MBSYNC_PULL] & MS_MBSYNC_OP_GONE) != 0;
  s->policy.push_delete = (ops[MS_MBSYNC_PUSH] & MS_MBSYNC_OP_GONE) != 0;
  s->policy.expunge_far = (channel->expunge & MS_MBSYNC_SIDE_FAR) != 0;
  s->policy.expunge_near = (channel->expunge & MS_MBSYNC_SIDE_NEAR) != 0;
  s->create_far = (channel->create & MS_MBSYNC_SIDE_FAR) != 0;
  s->create_near = (channel->create & MS_MBSYNC_SIDE_NEAR) != 0;
  if (channel->remove != 0)
    warn (s, "Remove is not supported: mailboxes are never deleted");
  if ((ops[MS_MBSYNC_PULL] | ops[MS_MBSYNC_PUSH]) & MS_MBSYNC_OP_OLD)
    warn (s, "Sync Old is not supported and is ignored");
  if (channel->max_size != 0 || channel->far.store->max_size != 0 || channel->near.store->max_size != 0)
    warn (s, "MaxSize is not supported: every message is synced");
  if (channel->copy_arrival_date)
    warn (s, "CopyArrivalDate is not supported and is ignored");
  return g_steal_pointer (&s);
}

/* Wipes and frees what PassCmd printed (an empty array has no data). */
static void
wipe_output (GByteArray *out)
{
  if (out->len > 0)
    explicit_bzero (out->data, out->len);
  g_byte_array_unref (out);
}

static guint pass_cmd_timeout_s = MS_CHANNEL_PASS_CMD_TIMEOUT_S;

void
ms_channel_set_pass_cmd_timeout (guint seconds)
{
  pass_cmd_timeout_s = seconds;
}

static gboolean pass_cmd_terminal;

void
ms_channel_set_pass_cmd_terminal (gboolean allowed)
{
  /* Only the foreground process group may read the terminal: a PassCmd
   * of a run in the background would stop on SIGTTIN. */
  pass_cmd_terminal = allowed && isatty (STDIN_FILENO) && tcgetpgrp (STDIN_FILENO) == getpgrp ();
}

/* Runs `cmd` through /bin/sh with stdout captured (at most `max` + 1
 * bytes, the rest unread) and stderr inherited; kills it at the deadline.
 * Its stdin is ours where ms_channel_set_pass_cmd_terminal() allowed it,
 * else /dev/null.  *ok: it exited 0 in time. */
static GByteArray *
run_pass_cmd (const char *cmd, gsize max, gboolean *ok, GError **error)
{
  *ok = FALSE;
  const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
  GPid pid;
  int out_fd = -1;
  GSpawnFlags stdin_flag = pass_cmd_terminal ? G_SPAWN_CHILD_INHERITS_STDIN : G_SPAWN_STDIN_FROM_DEV_NULL;
  if (!g_spawn_async_with_pipes (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD | stdin_flag,
                                 ms_child_unblock_signals, NULL,
                                 &pid, NULL, &out_fd, NULL, error))
    return NULL;
  gint64 deadline = g_get_monotonic_time () + (gint64) pass_cmd_timeout_s * G_USEC_PER_SEC;
  GByteArray *out = g_byte_array_new ();
  gboolean timed_out = FALSE;
  while (out->len <= max) {
    g_autoptr (GError) local = NULL;
    if (!ms_fd_wait (out_fd, POLLIN, deadline, &local)) {
      timed_out = g_error_matches (local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
      break;
    }
    guint8 buf[4096];
    ssize_t n = read (out_fd, buf, MIN (sizeof buf, max + 1 - out->len));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    g_byte_array_append (out, buf, (guint) n);
  }
  close (out_fd);
  /* It may have closed its output and kept going: waited for up to the
   * same deadline. */
  gboolean killed;
  int status = ms_child_reap (pid, timed_out ? 0 : deadline, &killed);
  g_spawn_close_pid (pid);
  if (timed_out || killed) {
    wipe_output (out);
    g_set_error (error, MS_ERROR, MS_ERROR_FAILED, "did not finish within %u s", pass_cmd_timeout_s);
    return NULL;
  }
  *ok = status >= 0 && WIFEXITED (status) && WEXITSTATUS (status) == 0;
  return out;
}

gboolean
ms_channel_setup_fetch_secret (MsChannelSetup *s, GError **error)
{
  if (s->secret != NULL || s->account->pass_cmd == NULL) {
    s->imap.secret = s->secret;
    return TRUE;
  }
  gboolean ok;
  g_autoptr (GError) local = NULL;
  GByteArray *out = run_pass_cmd (s->account->pass_cmd, MS_CHANNEL_SECRET_MAX, &ok, &local);
  if (out == NULL) {
    g_set_error (error, MS_ERROR, MS_ERROR_FAILED, "PassCmd of account %s %s", s->account->name, local->message);
    return FALSE;
  }
  gsize len = out->len;
  const char *data = (const char *) out->data;
  if (!ok || len == 0 || len > MS_CHANNEL_SECRET_MAX) {
    /* The output is never shown: it may be the secret itself. */
    g_set_error (error, MS_ERROR, MS_ERROR_FAILED, "PassCmd of account %s %s", s->account->name,
                 !ok ? "failed" : len == 0 ? "printed nothing" : "printed too much");
    wipe_output (out);
    return FALSE;
  }
  const char *nl = memchr (data, '\n', len);
  s->secret = g_strndup (data, nl ? (gsize) (nl - data) : len);
  s->secret_from_cmd = TRUE;
  wipe_output (out);
  s->imap.secret = s->secret;
  return TRUE;
}

gboolean
ms_channel_setup_forget_secret (MsChannelSetup *s)
{
  if (!s->secret_from_cmd || s->secret == NULL)
    return FALSE;
  wipe_secret (g_steal_pointer (&s->secret));
  s->imap.secret = NULL;
  s->secret_from_cmd = FALSE;
  return TRUE;
}

void
ms_channel_setup_context (MsChannelSetup *s, MsImapClient *imap, MsSyncContext *ctx)
{
  *ctx = (MsSyncContext) {
    .imap = imap,
    .maildir = &s->maildir,
    .far_prefix = s->far_prefix,
    .state_path_prefix = s->state_prefix,
    .far_store_name = s->channel->far.store->name,
    .near_store_name = s->channel->near.store->name,
    .policy = s->policy,
    .create_far = s->create_far,
    .create_near = s->create_near,
    .fsync = s->maildir.fsync,
  };
}

gboolean
ms_channel_setup_selects (const MsChannelSetup *s, const char *box)
{
  if (s->single_box != NULL)
    return g_str_equal (box, s->single_box);
  return ms_mbsync_patterns_select ((const char *const *) s->channel->patterns, box, TRUE);
}

char *
ms_channel_setup_box_from_name (const MsChannelSetup *s, const char *name, GError **error)
{
  /* A name with '/' is canonical already; anything else is a watcher's. */
  if (strchr (name, '/') != NULL) {
    g_autofree char *path = ms_maildir_folder_path (&s->maildir, name, error);
    return path ? g_strdup (name) : NULL;
  }
  return ms_maildir_name_from_watcher (&s->maildir, name, error);
}
