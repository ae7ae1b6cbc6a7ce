/* channel.h — one mbsync Channel made ready to run: the Maildir store, the
 * IMAP connection options, the sync policy, where the state lives, and which
 * mailboxes the channel covers.
 *
 * sync_imap syncs an IMAP store (the channel's Far side) with a Maildir store
 * (its Near side), as nearly every mbsync setup does.  Keys that change what
 * a sync does and that are not supported here are named in a warning when
 * the setup is made, never silently ignored.
 *
 * The secret (Pass, or the first line PassCmd prints) is fetched only when a
 * connection is made, kept in memory wiped on free, and never logged.
 */
#pragma once

#include <glib.h>

#include "imap-client.h"
#include "maildir.h"
#include "mbsyncrc.h"
#include "sync-job.h"

/* A PassCmd that prints more than this is not printing a password or an
 * OAuth token (tokens are a few kilobytes). */
#define MS_CHANNEL_SECRET_MAX (64 * 1024)

/* PassCmd may wait for a person (a pinentry prompt for the key that holds
 * the password) but not forever: a resident syncer stuck in it would sync
 * nothing and say nothing.  mbsync waits without end. */
#define MS_CHANNEL_PASS_CMD_TIMEOUT_S 120

/* Whether PassCmd may have our stdin, when that is the terminal of the
 * foreground (a one-shot run from a shell, where it may prompt, as with
 * mbsync); else, and by default, its stdin is /dev/null (the resident's
 * stdin carries the protocol). */
void ms_channel_set_pass_cmd_terminal (gboolean allowed);
/* Test knob: the PassCmd bound in seconds, for every setup. */
void ms_channel_set_pass_cmd_timeout (guint seconds);

typedef struct {
  const MsMbsyncChannel *channel; /* borrowed from the config */
  const MsMbsyncAccount *account;
  MsMaildirStore maildir;
  MsImapClientOptions imap;       /* strings owned by the setup */
  char *far_prefix;               /* IMAP Path + the channel's far box prefix */
  char *state_prefix;             /* NULL: state in each folder ("SyncState *") */
  char *single_box;               /* channel without Patterns: its one mailbox */
  MsSyncPolicy policy;
  gboolean create_far, create_near;
  char *secret;                   /* wiped on free */
  gboolean secret_from_cmd;       /* secret is what PassCmd printed */
  GPtrArray *warnings;            /* char*: for the program to print */
} MsChannelSetup;

/* Reads and parses an mbsync configuration (`path`, or ~/.mbsyncrc when
 * NULL) and prints its warnings on stderr. (transfer full) */
MsMbsyncConfig *ms_channel_load_config (const char *path, GError **error);

/* Why `name` is no channel of `config`, for a message: "FILE: no channel
 * NAME", or, when a Group is so named, which channels it holds (sync_imap
 * --serve and watch_imap take one channel).  (transfer full) */
char *ms_channel_missing_message (const MsMbsyncConfig *config, const char *name);

MsChannelSetup *ms_channel_setup_new (const MsMbsyncConfig *config, const MsMbsyncChannel *channel,
                                      const char *home, GError **error);
void ms_channel_setup_free (MsChannelSetup *setup);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsChannelSetup, ms_channel_setup_free)

/* Runs PassCmd (through /bin/sh, stdout captured, first line kept, within
 * MS_CHANNEL_PASS_CMD_TIMEOUT_S) unless the secret is known already; fills
 * setup->imap.secret. */
gboolean ms_channel_setup_fetch_secret (MsChannelSetup *setup, GError **error);
/* After the server refused the secret: forgets it if PassCmd printed it,
 * so that the next fetch runs PassCmd again (an OAuth token expires within
 * the hour; a resident syncer keeps going for days).  TRUE if it did. */
gboolean ms_channel_setup_forget_secret (MsChannelSetup *setup);

/* A sync context for a connected client (borrowed by the context). */
void ms_channel_setup_context (MsChannelSetup *setup, MsImapClient *imap, MsSyncContext *ctx);

/* Whether the channel covers a canonical mailbox name. */
gboolean ms_channel_setup_selects (const MsChannelSetup *setup, const char *box);

/* A mailbox name as a watcher, a user or mswatch gives it ("foo.bar" in a
 * Maildir++ tree, "foo/bar", "INBOX") to the canonical name; fails for
 * names no folder could have. (transfer full) */
char *ms_channel_setup_box_from_name (const MsChannelSetup *setup, const char *name, GError **error);
