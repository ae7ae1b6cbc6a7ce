/* imap-client.c — see imap-client.h. */
#include "imap-client.h"

#include <errno.h>
#include <gio/gio.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "ms-error.h"

/* Read buffer for the connection: one TLS record is at most 16 KiB, and the
 * parser streams literals, so a larger buffer buys nothing. */
#define MS_IMAP_READ_BUFFER 65536

struct MsImapClient {
  MsTransport *transport;
  MsImapParser *parser;
  GHashTable *caps; /* upper-case capability names */
  char **disabled;
  guint next_tag;
  char buf[MS_IMAP_READ_BUFFER];
  gsize buf_pos, buf_len;
  gboolean broken;  /* a protocol error or BYE: nothing more can be read */
  gboolean have_delim;
  char delim;
};

gboolean
ms_imap_client_has_cap (const MsImapClient *c, const char *cap)
{
  return g_hash_table_contains (c->caps, cap);
}

MsImapParser *
ms_imap_client_parser (MsImapClient *c)
{
  return c->parser;
}

char *
ms_imap_quote (const char *s)
{
  GString *out = g_string_new ("\"");
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      g_string_append_c (out, '\\');
    g_string_append_c (out, *s);
  }
  g_string_append_c (out, '"');
  return g_string_free (out, FALSE);
}

static void
set_caps_from_list (MsImapClient *c, const MsImapValue *list, guint start)
{
  g_hash_table_remove_all (c->caps);
  for (guint i = start; i < ms_imap_value_get_n_items (list); i++) {
    const char *cap = ms_imap_value_get_bytes (ms_imap_value_get_item (list, i), NULL);
    if (cap == NULL)
      continue;
    g_autofree char *up = g_ascii_strup (cap, -1);
    if (c->disabled && g_strv_contains ((const char *const *) c->disabled, up))
      continue;
    g_hash_table_add (c->caps, g_steal_pointer (&up));
  }
}

/* Picks up capabilities from "* CAPABILITY ..." or a [CAPABILITY ...] code. */
static void
note_caps (MsImapClient *c, const MsImapResponse *r)
{
  const char *kw = ms_imap_response_get_keyword (r);
  if (kw != NULL && g_str_equal (kw, "CAPABILITY"))
    set_caps_from_list (c, ms_imap_response_get_data (r), 0);
  const char *code = ms_imap_response_get_code (r);
  if (code != NULL && g_str_equal (code, "CAPABILITY"))
    set_caps_from_list (c, ms_imap_response_get_code_args (r), 0);
}

/* Reads one response; NULL with no error set means timeout (only when
 * timeout_ms >= 0). */
static MsImapResponse *
read_response (MsImapClient *c, gint timeout_ms, GError **error)
{
  if (c->broken) {
    g_set_error_literal (error, MS_ERROR, MS_ERROR_PROTOCOL, "the connection is no longer usable");
    return NULL;
  }
  for (;;) {
    if (c->buf_pos < c->buf_len) {
      gsize consumed = 0;
      MsImapResponse *r = NULL;
      MsImapParseResult res = ms_imap_parser_feed (c->parser, c->buf + c->buf_pos, c->buf_len - c->buf_pos,
                                                   &consumed, &r, error);
      if (res == MS_IMAP_ERROR) {
        c->broken = TRUE;
        g_prefix_error (error, "server response: ");
        return NULL;
      }
      c->buf_pos += consumed;
      if (res == MS_IMAP_COMPLETE) {
        note_caps (c, r);
        if (ms_imap_response_get_kind (r) == MS_IMAP_RESPONSE_UNTAGGED
            && ms_imap_response_get_condition (r) == MS_IMAP_CONDITION_BYE)
          c->broken = TRUE; /* the caller still sees the BYE */
        return r;
      }
    }
    gssize n = ms_transport_read_wait (c->transport, c->buf, sizeof c->buf, timeout_ms, error);
    if (n == -2)
      return NULL;
    if (n <= 0) {
      c->broken = TRUE;
      if (n == 0)
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "the server closed the connection");
      return NULL;
    }
    c->buf_pos = 0;
    c->buf_len = (gsize) n;
  }
}

MsImapResponse *
ms_imap_client_read_one (MsImapClient *c, gint timeout_ms, GError **error)
{
  return read_response (c, timeout_ms, error);
}

gboolean
ms_imap_client_send_raw (MsImapClient *c, const char *line, GError **error)
{
  return ms_transport_write (c->transport, line, strlen (line), error);
}

gboolean
ms_imap_client_flush (MsImapClient *c, GError **error)
{
  if (ms_transport_flush (c->transport, error))
    return TRUE;
  c->broken = TRUE;
  return FALSE;
}

static char *
send_va (MsImapClient *c, GError **error, const char *format, va_list ap)
{
  g_autofree char *cmd = g_strdup_vprintf (format, ap);
  if (strlen (cmd) > MS_IMAP_COMMAND_MAX) {
    g_set_error (error, MS_ERROR, MS_ERROR_LIMIT, "IMAP command longer than %d bytes", MS_IMAP_COMMAND_MAX);
    return NULL;
  }
  char *tag = g_strdup_printf ("a%u", ++c->next_tag);
  g_autofree char *line = g_strdup_printf ("%s %s\r\n", tag, cmd);
  if (!ms_transport_write (c->transport, line, strlen (line), error)) {
    c->broken = TRUE;
    g_free (tag);
    return NULL;
  }
  return tag;
}

char *
ms_imap_client_send (MsImapClient *c, GError **error, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  char *tag = send_va (c, error, format, ap);
  va_end (ap);
  return tag;
}

/* Waits for a continuation request ("+ ...") before a synchronising literal. */
static gboolean
wait_continuation (MsImapClient *c, const char *tag, MsImapUntagged handler, gpointer data, GError **error)
{
  for (;;) {
    g_autoptr (MsImapResponse) r = read_response (c, -1, error);
    if (r == NULL)
      return FALSE;
    MsImapResponseKind kind = ms_imap_response_get_kind (r);
    if (kind == MS_IMAP_RESPONSE_CONTINUATION)
      return TRUE;
    if (kind == MS_IMAP_RESPONSE_TAGGED && g_strcmp0 (ms_imap_response_get_tag (r), tag) == 0) {
      g_set_error (error, MS_ERROR, MS_ERROR_PROTOCOL, "server refused: %s", ms_imap_response_get_text (r));
      return FALSE;
    }
    if (handler)
      handler (r, data);
  }
}

char *
ms_imap_client_send_append (MsImapClient *c, const char *mailbox_quoted, const char *flags, guint64 size,
                            MsImapReader reader, gpointer reader_data, GError **error)
{
  gboolean plus = ms_imap_client_has_cap (c, "LITERAL+");
  g_autofree char *tag = ms_imap_client_send (c, error, "APPEND %s (%s) {%" G_GUINT64_FORMAT "%s}",
                                              mailbox_quoted, flags, size, plus ? "+" : "");
  if (tag == NULL)
    return NULL;
  if (!plus && !wait_continuation (c, tag, NULL, NULL, error))
    return NULL;
  char buf[65536];
  guint64 left = size;
  while (left > 0) {
    gssize n = reader (reader_data, buf, MIN (sizeof buf, left), error);
    if (n <= 0) {
      /* The literal's size is promised: the connection cannot be saved. */
      c->broken = TRUE;
      if (n == 0)
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "message shrank while appending");
      return NULL;
    }
    if (!ms_transport_write (c->transport, buf, (gsize) n, error)) {
      c->broken = TRUE;
      return NULL;
    }
    left -= (guint64) n;
  }
  if (!ms_transport_write (c->transport, "\r\n", 2, error)) {
    c->broken = TRUE;
    return NULL;
  }
  return g_steal_pointer (&tag);
}

MsImapResponse *
ms_imap_client_wait (MsImapClient *c, const char *tag, MsImapUntagged handler, gpointer data, GError **error)
{
  for (;;) {
    MsImapResponse *r = read_response (c, -1, error);
    if (r == NULL)
      return NULL;
    if (ms_imap_response_get_kind (r) == MS_IMAP_RESPONSE_TAGGED) {
      if (g_strcmp0 (ms_imap_response_get_tag (r), tag) != 0) {
        g_set_error (error, MS_ERROR, MS_ERROR_PROTOCOL, "unexpected tag %s while waiting for %s",
                     ms_imap_response_get_tag (r), tag);
        c->broken = TRUE;
        ms_imap_response_free (r);
        return NULL;
      }
      if (ms_imap_response_get_condition (r) != MS_IMAP_CONDITION_OK) {
        g_set_error (error, MS_ERROR, MS_ERROR_PROTOCOL, "server said %s: %s",
                     ms_imap_response_get_keyword (r), ms_imap_response_get_text (r));
        ms_imap_response_free (r);
        return NULL;
      }
      return r;
    }
    if (ms_imap_response_get_kind (r) == MS_IMAP_RESPONSE_UNTAGGED
        && ms_imap_response_get_condition (r) == MS_IMAP_CONDITION_BYE) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "server closed the connection: %s",
                   ms_imap_response_get_text (r));
      ms_imap_response_free (r);
      return NULL;
    }
    if (handler != NULL && ms_imap_response_get_kind (r) == MS_IMAP_RESPONSE_UNTAGGED)
      handler (r, data);
    ms_imap_response_free (r);
  }
}

MsImapResponse *
ms_imap_client_run (MsImapClient *c, MsImapUntagged handler, gpointer data, GError **error, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *tag = send_va (c, error, format, ap);
  va_end (ap);
  if (tag == NULL)
    return NULL;
  return ms_imap_client_wait (c, tag, handler, data, error);
}

/* --- authentication ------------------------------------------------------ */

static char *
b64 (const char *data, gsize len)
{
  return g_base64_encode ((const guchar *) data, len);
}

/* Wipes a string that held a secret before freeing it. */
static void
free_secret (char *s)
{
  if (s == NULL)
    return;
  explicit_bzero (s, strlen (s));
  g_free (s);
}
typedef char *MsSecretStr;
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (MsSecretStr, free_secret, NULL)

/* Runs AUTHENTICATE with an initial response (a secret).  With SASL-IR the
 * response rides on the command line, unless that would make the line
 * longer than MS_IMAP_COMMAND_MAX (OAuth tokens can be kilobytes: Office 365
 * issues ones over 1,500 bytes); otherwise it follows the server's first
 * "+".  The lines are built here, not through send_va, so that they are
 * wiped and never end up in an error message. */
static gboolean
authenticate (MsImapClient *c, const char *mech, const char *initial, GError **error)
{
  gboolean ir = ms_imap_client_has_cap (c, "SASL-IR")
                && strlen ("AUTHENTICATE  ") + strlen (mech) + strlen (initial) <= MS_IMAP_COMMAND_MAX;
  g_autofree char *tag = g_strdup_printf ("a%u", ++c->next_tag);
  {
    g_auto (MsSecretStr) line = ir ? g_strdup_printf ("%s AUTHENTICATE %s %s\r\n", tag, mech, initial)
                                   : g_strdup_printf ("%s AUTHENTICATE %s\r\n", tag, mech);
    if (!ms_transport_write (c->transport, line, strlen (line), error)) {
      c->broken = TRUE;
      return FALSE;
    }
  }
  gboolean sent = ir;
  for (;;) {
    g_autoptr (MsImapResponse) r = read_response (c, -1, error);
    if (r == NULL)
      return FALSE;
    MsImapResponseKind kind = ms_imap_response_get_kind (r);
    if (kind == MS_IMAP_RESPONSE_CONTINUATION) {
      /* The first "+" asks for the initial response; a later one carries an
       * error (XOAUTH2 sends JSON), to which the client answers empty. */
      const char *reply = sent ? "\r\n" : NULL;
      g_auto (MsSecretStr) line = reply ? NULL : g_strdup_printf ("%s\r\n", initial);
      sent = TRUE;
      if (!ms_transport_write (c->transport, reply ? reply : line, strlen (reply ? reply : line), error)) {
        c->broken = TRUE;
        return FALSE;
      }
      continue;
    }
    if (kind == MS_IMAP_RESPONSE_TAGGED) {
      if (g_strcmp0 (ms_imap_response_get_tag (r), tag) != 0) {
        g_set_error (error, MS_ERROR, MS_ERROR_PROTOCOL, "unexpected tag %s while authenticating",
                     ms_imap_response_get_tag (r));
        c->broken = TRUE;
        return FALSE;
      }
      if (ms_imap_response_get_condition (r) == MS_IMAP_CONDITION_OK)
        return TRUE;
      g_set_error (error, MS_ERROR, MS_ERROR_AUTH, "authentication (%s) failed: %s", mech,
                   ms_imap_response_get_text (r));
      return FALSE;
    }
  }
}

/* A SASL authorization identity for a GS2 header (RFC 5801 saslname):
 * ',' and '=' are written =2C and =3D. (transfer full) */
static char *
gs2_saslname (const char *user)
{
  GString *s = g_string_new (NULL);
  for (const char *p = user; *p; p++) {
    if (*p == ',')
      g_string_append (s, "=2C");
    else if (*p == '=')
      g_string_append (s, "=3D");
    else
      g_string_append_c (s, *p);
  }
  return g_string_free (s, FALSE);
}

static gboolean
mech_allowed (const MsImapClientOptions *o, const char *mech)
{
  return o->auth_mechs == NULL || g_strv_contains (o->auth_mechs, mech)
         || g_strv_contains (o->auth_mechs, "*");
}

static gboolean
login (MsImapClient *c, const MsImapClientOptions *o, GError **error)
{
  const char *user = o->user ? o->user : "";
  const char *secret = o->secret ? o->secret : "";

  /* Token mechanisms first when asked for: Gmail and Office 365 take nothing else. */
  if (o->auth_mechs != NULL && g_strv_contains (o->auth_mechs, "XOAUTH2")
      && ms_imap_client_has_cap (c, "AUTH=XOAUTH2")) {
    g_auto (MsSecretStr) raw = g_strdup_printf ("user=%s\001auth=Bearer %s\001\001", user, secret);
    g_auto (MsSecretStr) enc = b64 (raw, strlen (raw));
    return authenticate (c, "XOAUTH2", enc, error);
  }
  if (o->auth_mechs != NULL && g_strv_contains (o->auth_mechs, "OAUTHBEARER")
      && ms_imap_client_has_cap (c, "AUTH=OAUTHBEARER")) {
    /* RFC 7628: host and port name where the client connected; a Tunnel
     * has neither, and the fields are optional. */
    g_autofree char *authzid = gs2_saslname (user);
    g_autofree char *where = o->transport.tunnel == NULL && o->transport.host != NULL
                               ? g_strdup_printf ("host=%s\001port=%u\001", o->transport.host, o->transport.port)
                               : g_strdup ("");
    g_auto (MsSecretStr) raw = g_strdup_printf ("n,a=%s,\001%sauth=Bearer %s\001\001", authzid, where, secret);
    g_auto (MsSecretStr) enc = b64 (raw, strlen (raw));
    return authenticate (c, "OAUTHBEARER", enc, error);
  }
  if (mech_allowed (o, "PLAIN") && ms_imap_client_has_cap (c, "AUTH=PLAIN")) {
    gsize ulen = strlen (user), slen = strlen (secret);
    g_auto (MsSecretStr) raw = g_malloc (ulen + slen + 3);
    raw[0] = '\0';
    memcpy (raw + 1, user, ulen);
    raw[ulen + 1] = '\0';
    memcpy (raw + ulen + 2, secret, slen);
    raw[ulen + slen + 2] = '\0';
    g_auto (MsSecretStr) enc = b64 (raw, ulen + slen + 2);
    explicit_bzero (raw, ulen + slen + 2);
    return authenticate (c, "PLAIN", enc, error);
  }
  if (mech_allowed (o, "LOGIN") && !ms_imap_client_has_cap (c, "LOGINDISABLED")) {
    g_autofree char *quser = ms_imap_quote (user);
    g_auto (MsSecretStr) qpass = ms_imap_quote (secret);
    g_autofree char *tag = NULL;
    {
      /* Not through send_va: the line holds the password and must not be
       * kept in any error message. */
      tag = g_strdup_printf ("a%u", ++c->next_tag);
      g_auto (MsSecretStr) line = g_strdup_printf ("%s LOGIN %s %s\r\n", tag, quser, qpass);
      if (!ms_transport_write (c->transport, line, strlen (line), error))
        return FALSE;
    }
    g_autoptr (MsImapResponse) r = ms_imap_client_wait (c, tag, NULL, NULL, error);
    if (r == NULL) {
      /* The server answered (NO or BAD): it refused the credentials. */
      if (!c->broken && g_error_matches (*error, MS_ERROR, MS_ERROR_PROTOCOL))
        (*error)->code = MS_ERROR_AUTH;
      g_prefix_error (error, "login failed: ");
      return FALSE;
    }
    return TRUE;
  }
  g_set_error_literal (error, MS_ERROR, MS_ERROR_FAILED,
                       "no authentication mechanism in common with the server (check AuthMechs)");
  return FALSE;
}

MsImapClient *
ms_imap_client_connect (const MsImapClientOptions *o, GError **error)
{
  g_autoptr (MsImapClient) c = g_new0 (MsImapClient, 1);
  c->parser = ms_imap_parser_new ();
  c->caps = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  c->disabled = g_strdupv ((char **) o->disabled_extensions);
  c->transport = ms_transport_connect (&o->transport, error);
  if (c->transport == NULL)
    return NULL;

  g_autoptr (MsImapResponse) greeting = read_response (c, -1, error);
  if (greeting == NULL) {
    g_prefix_error (error, "reading the greeting: ");
    return NULL;
  }
  MsImapCondition cond = ms_imap_response_get_condition (greeting);
  if (cond != MS_IMAP_CONDITION_OK && cond != MS_IMAP_CONDITION_PREAUTH) {
    g_set_error (error, MS_ERROR, MS_ERROR_PROTOCOL, "server greeting: %s",
                 ms_imap_response_get_text (greeting) ? ms_imap_response_get_text (greeting) : "not IMAP");
    return NULL;
  }
  if (g_hash_table_size (c->caps) == 0) {
    g_autoptr (MsImapResponse) r = ms_imap_client_run (c, NULL, NULL, error, "CAPABILITY");
    if (r == NULL)
      return NULL;
  }

  if (o->starttls && cond != MS_IMAP_CONDITION_PREAUTH && !ms_transport_is_encrypted (c->transport)) {
    if (!ms_imap_client_has_cap (c, "STARTTLS")) {
      g_set_error_literal (error, MS_ERROR, MS_ERROR_FAILED,
                           "STARTTLS is configured but the server does not offer it; not sending credentials");
      return NULL;
    }
    g_autoptr (MsImapResponse) r = ms_imap_client_run (c, NULL, NULL, error, "STARTTLS");
    if (r == NULL)
      return NULL;
    if (c->buf_pos != c->buf_len) {
      /* Bytes after the OK were sent in clear text: an injection attempt. */
      g_set_error_literal (error, MS_ERROR, MS_ERROR_PROTOCOL, "server sent data after STARTTLS's OK");
      return NULL;
    }
    if (!ms_transport_start_tls (c->transport, error))
      return NULL;
    g_hash_table_remove_all (c->caps);
    g_autoptr (MsImapResponse) r2 = ms_imap_client_run (c, NULL, NULL, error, "CAPABILITY");
    if (r2 == NULL)
      return NULL;
  }

  if (cond != MS_IMAP_CONDITION_PREAUTH) {
    if (!login (c, o, error))
      return NULL;
    g_hash_table_remove_all (c->caps);
    g_autoptr (MsImapResponse) r = ms_imap_client_run (c, NULL, NULL, error, "CAPABILITY");
    if (r == NULL)
      return NULL;
  }
  if (ms_imap_client_has_cap (c, "QRESYNC") && ms_imap_client_has_cap (c, "ENABLE")) {
    g_autoptr (MsImapResponse) r = ms_imap_client_run (c, NULL, NULL, error, "ENABLE QRESYNC");
    if (r == NULL)
      return NULL;
  }
  return g_steal_pointer (&c);
}

static void
on_list_delim (const MsImapResponse *r, gpointer data)
{
  MsImapClient *c = data;
  const char *kw = ms_imap_response_get_keyword (r);
  if (kw == NULL || !g_str_equal (kw, "LIST"))
    return;
  const MsImapValue *d = ms_imap_value_get_item (ms_imap_response_get_data (r), 1);
  gsize len = 0;
  const char *s = d && !ms_imap_value_is_nil (d) ? ms_imap_value_get_bytes (d, &len) : NULL;
  c->delim = s && len == 1 ? s[0] : '\0';
  c->have_delim = TRUE;
}

char
ms_imap_client_delimiter (MsImapClient *c, GError **error)
{
  if (!c->have_delim) {
    g_autoptr (MsImapResponse) r = ms_imap_client_run (c, on_list_delim, c, error, "LIST \"\" \"\"");
    if (r == NULL)
      return '\0';
    c->have_delim = TRUE;
  }
  return c->delim;
}

gboolean
ms_imap_client_is_broken (const MsImapClient *c)
{
  return c->broken;
}

gboolean
ms_imap_client_peer_gone (MsImapClient *c)
{
  return ms_transport_peer_gone (c->transport);
}

void
ms_imap_client_free (MsImapClient *c)
{
  if (c == NULL)
    return;
  g_clear_pointer (&c->transport, ms_transport_free);
  g_clear_pointer (&c->parser, ms_imap_parser_free);
  g_clear_pointer (&c->caps, g_hash_table_unref);
  g_strfreev (c->disabled);
  g_free (c);
}
