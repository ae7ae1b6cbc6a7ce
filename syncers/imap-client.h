/* imap-client.h — one IMAP connection: greeting, TLS, login, capabilities,
 * and tagged commands with their untagged responses.
 *
 * Blocking with deadlines, like the transport under it: sync_imap runs one
 * client per account on its connection thread.  Commands may be pipelined:
 * ms_imap_client_send() writes a command and returns its tag at once;
 * ms_imap_client_wait() reads responses until that tag completes, handing
 * every untagged response that arrives meanwhile to the handler (responses
 * to pipelined commands arrive in order, so waiting for tags in the order
 * they were sent attributes each untagged response to the right command).
 *
 * Literals: APPEND bodies go out as LITERAL+ ({N+}) when the server offers
 * it, else after the server's continuation.  Incoming literals can be
 * streamed by setting a sink (see imap-parser.h) around a FETCH of bodies.
 *
 * Security: with STARTTLS configured, a server that does not offer it gets
 * no credentials (the connection fails); LOGIN is not used when the server
 * says LOGINDISABLED; passwords and tokens never appear in error messages.
 *
 * Commands are bounded by MS_IMAP_COMMAND_MAX bytes (without literals):
 * Exchange rejects longer lines, and callers split UID sets to fit.
 */
#pragma once

#include <glib.h>

#include "imap-parser.h"
#include "transport.h"

/* mbsync keeps commands under about 1000 bytes for the same reason. */
#define MS_IMAP_COMMAND_MAX 1000

typedef struct {
  MsTransportOptions transport;
  gboolean starttls;      /* TLSType STARTTLS on a plain connection */
  const char *user;
  const char *secret;     /* password, or OAuth token for XOAUTH2/OAUTHBEARER */
  const char *const *auth_mechs; /* upper case; NULL = any we support */
  const char *const *disabled_extensions; /* capabilities to ignore */
} MsImapClientOptions;

typedef struct MsImapClient MsImapClient;

/* Connects, reads the greeting, upgrades to TLS if asked, authenticates
 * (unless PREAUTH), refreshes capabilities and ENABLEs QRESYNC when offered. */
MsImapClient *ms_imap_client_connect (const MsImapClientOptions *options, GError **error);
/* Whether the connection is unusable (a read or write failed, the server
 * said BYE, or its answer could not be parsed).  A command the server
 * answered NO or BAD leaves it usable. */
gboolean ms_imap_client_is_broken (const MsImapClient *c);

/* Whether the server has closed the connection, seen without reading: a
 * connection idle between syncs is not read from. */
gboolean ms_imap_client_peer_gone (MsImapClient *c);

void ms_imap_client_free (MsImapClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsImapClient, ms_imap_client_free)

gboolean ms_imap_client_has_cap (const MsImapClient *client, const char *cap);
/* The hierarchy delimiter from LIST "" "" ('\0' if flat). */
char ms_imap_client_delimiter (MsImapClient *client, GError **error);
MsImapParser *ms_imap_client_parser (MsImapClient *client);

/* Handler for untagged responses; the response is borrowed. */
typedef void (*MsImapUntagged) (const MsImapResponse *response, gpointer user_data);

/* Sends "TAG <command>\r\n"; returns the tag (transfer full) or NULL. */
char *ms_imap_client_send (MsImapClient *client, GError **error, const char *format, ...) G_GNUC_PRINTF (3, 4);
/* Sends the commands so far now instead of at the next read (see
 * transport.h), so the server works on them while the caller does. */
gboolean ms_imap_client_flush (MsImapClient *client, GError **error);
/* Produces the next bytes of an APPEND literal: returns the count (0 at
 * the end) or -1 with error set. */
typedef gssize (*MsImapReader) (gpointer user_data, char *buf, gsize len, GError **error);

/* Sends an APPEND with a literal of exactly `size` bytes from `reader`:
 * "TAG APPEND mailbox (flags) {size[+]}" then the bytes.  Without LITERAL+
 * it waits for the server's continuation first, so only with LITERAL+ may
 * several APPENDs be in flight. */
char *ms_imap_client_send_append (MsImapClient *client, const char *mailbox_quoted, const char *flags,
                                  guint64 size, MsImapReader reader, gpointer reader_data, GError **error);
/* Reads until `tag` completes.  OK returns the tagged response (transfer
 * full, for its response code); NO/BAD fail with the server's text. */
MsImapResponse *ms_imap_client_wait (MsImapClient *client, const char *tag, MsImapUntagged handler,
                                     gpointer user_data, GError **error);
/* send + wait. */
MsImapResponse *ms_imap_client_run (MsImapClient *client, MsImapUntagged handler, gpointer user_data,
                                    GError **error, const char *format, ...) G_GNUC_PRINTF (5, 6);

/* Waits up to timeout_ms for one unsolicited response (IDLE, NOTIFY);
 * returns NULL with no error on timeout. */
MsImapResponse *ms_imap_client_read_one (MsImapClient *client, gint timeout_ms, GError **error);
/* Sends raw bytes (e.g. "DONE\r\n" to end IDLE). */
gboolean ms_imap_client_send_raw (MsImapClient *client, const char *line, GError **error);

/* An IMAP string for a command: quoted with escapes, or a literal marker is
 * never needed for names we produce (control characters are refused).
 * (transfer full) */
char *ms_imap_quote (const char *s);
