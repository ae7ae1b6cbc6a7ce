/* mbsyncrc.c — see mbsyncrc.h for the grammar and the rules.
 *
 * One pass over the lines.  Each line is split into words (quotes and
 * backslashes resolved), its keyword looked up in one table that says in
 * which sections it is valid, and its handler fills the object of the
 * current section.  The parser's state is just "which section are we in":
 * before the first section (global options allowed), between sections
 * (only section keywords allowed), or inside one.
 *
 * Checks that need a whole section (an account has Host or Tunnel, a channel
 * has Far and Near) run when the section ends; checks that need the whole
 * file (Account and Far/Near references, group members) run at the end, and
 * report the line of the reference.
 *
 * The public structs are the first member of private ones that carry what
 * only the parser needs (reference names and their lines), so a finished
 * config holds resolved pointers and nothing half-done.
 *
 * Every word of every line is wiped from memory when the line is done,
 * because one of them may be a Pass value.
 */
#include "mbsyncrc.h"

#include <stdarg.h>
#include <string.h>

#include "mailbox-name.h"
#include "ms-error.h"
#include "ms-path.h"

/* How much of a user's word a message quotes. */
#define QUOTE_MAX 80

struct MsMbsyncSecret {
  char *data;
  gsize len;
};

typedef struct {
  MsMbsyncAccount pub;
  gboolean tls_type_set;
  gboolean port_set;
} Account;

typedef struct {
  MsMbsyncStore pub;
  Account *inline_account;   /* owned; becomes pub.account when no Account line */
  guint first_inline_line;   /* 0 when no account key was given inline */
  char *account_ref;
  guint account_ref_line;
  gboolean info_delimiter_set;
} Store;

typedef struct {
  MsMbsyncChannel pub;
  char *far_ref, *near_ref;
  guint far_line, near_line;
} Channel;

typedef enum {
  SEC_GLOBAL,  /* before the first section */
  SEC_BETWEEN, /* after a section ended */
  SEC_ACCOUNT,
  SEC_IMAPSTORE,
  SEC_MAILDIRSTORE,
  SEC_CHANNEL,
  SEC_GROUP,
} Section;

/* Where a key is valid (bit per Section). */
enum {
  IN_GLOBAL = 1 << SEC_GLOBAL,
  IN_ACCOUNT = 1 << SEC_ACCOUNT,
  IN_IMAPSTORE = 1 << SEC_IMAPSTORE,
  IN_MAILDIRSTORE = 1 << SEC_MAILDIRSTORE,
  IN_CHANNEL = 1 << SEC_CHANNEL,
  IN_GROUP = 1 << SEC_GROUP,
};
#define IN_ANY_ACCOUNT (IN_ACCOUNT | IN_IMAPSTORE)
#define IN_ANY_STORE (IN_IMAPSTORE | IN_MAILDIRSTORE)
#define IN_CHANNEL_OR_GLOBAL (IN_CHANNEL | IN_GLOBAL)

typedef struct {
  const char *file;
  guint line;
  MsMbsyncConfig *cfg;
  Section sec;
  Account *account;  /* IMAPAccount section, or an IMAPStore's inline account */
  Store *store;
  Channel *channel;  /* the Channel section, or `defaults` before any section */
  MsMbsyncGroup *group;
  Channel defaults;  /* Channel options given before any section */
  GPtrArray *patterns; /* char*, collected for the current channel */
  guint nsections;
} Parser;

typedef struct KeyDef KeyDef;
typedef gboolean (*KeyHandler) (Parser *p, const KeyDef *k, GPtrArray *args, GError **error);
struct KeyDef {
  const char *name;
  guint where;
  KeyHandler handle;
};

/* ---- messages ----------------------------------------------------------- */

static char *
quote (const char *word)
{
  return ms_mailbox_name_for_log (word, strlen (word), QUOTE_MAX);
}

static const char *
section_name (Section sec)
{
  switch (sec) {
  case SEC_ACCOUNT: return "IMAPAccount";
  case SEC_IMAPSTORE: return "IMAPStore";
  case SEC_MAILDIRSTORE: return "MaildirStore";
  case SEC_CHANNEL: return "Channel";
  case SEC_GROUP: return "Group";
  case SEC_GLOBAL:
  case SEC_BETWEEN:
  default: return "global";
  }
}

G_GNUC_PRINTF (4, 5) static gboolean
fail_at (Parser *p, guint line, GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, MS_ERROR, MS_ERROR_CONFIG, "%s:%u: %s", p->file, line, msg);
  return FALSE;
}

#define fail(p, error, ...) fail_at ((p), (p)->line, (error), __VA_ARGS__)

G_GNUC_PRINTF (3, 4) static void
warn_at (Parser *p, guint line, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_ptr_array_add (p->cfg->warnings, g_strdup_printf ("%s:%u: warning: %s", p->file, line, msg));
}

static void
warn_unsupported (Parser *p, const char *what)
{
  warn_at (p, p->line, "%s is not supported by sync_imap and is ignored", what);
}

/* ---- memory --------------------------------------------------------------- */

static void
wipe_free (gpointer data)
{
  char *s = data;
  if (s == NULL)
    return;
  explicit_bzero (s, strlen (s));
  g_free (s);
}

static void
secret_free (MsMbsyncSecret *secret)
{
  if (secret == NULL)
    return;
  explicit_bzero (secret->data, secret->len);
  g_free (secret->data);
  g_free (secret);
}

const char *
ms_mbsync_secret_peek (const MsMbsyncSecret *secret)
{
  g_return_val_if_fail (secret != NULL, NULL);
  return secret->data;
}

static void
account_free (Account *a)
{
  if (a == NULL)
    return;
  MsMbsyncAccount *pub = &a->pub;
  g_free (pub->name);
  g_free (pub->host);
  g_free (pub->user);
  g_free (pub->user_cmd);
  secret_free (pub->pass);
  g_free (pub->pass_cmd);
  g_free (pub->tunnel);
  g_strfreev (pub->auth_mechs);
  g_free (pub->certificate_file);
  g_free (pub->cipher_string);
  g_strfreev (pub->disabled_extensions);
  g_free (a);
}

static void
store_free (Store *s)
{
  if (s == NULL)
    return;
  g_free (s->pub.name);
  g_free (s->pub.path);
  g_free (s->pub.map_inbox);
  g_free (s->pub.flatten);
  g_free (s->pub.inbox);
  account_free (s->inline_account);
  g_free (s->account_ref);
  g_free (s);
}

static void
channel_clear (Channel *c)
{
  g_free (c->pub.name);
  g_free (c->pub.far.box);
  g_free (c->pub.near.box);
  g_strfreev (c->pub.patterns);
  g_free (c->pub.sync_state);
  g_free (c->far_ref);
  g_free (c->near_ref);
}

static void
channel_free (Channel *c)
{
  if (c == NULL)
    return;
  channel_clear (c);
  g_free (c);
}

static void
member_free (MsMbsyncGroupMember *m)
{
  if (m == NULL)
    return;
  g_free (m->channel_name);
  g_strfreev (m->boxes);
  g_free (m);
}

static void
group_free (MsMbsyncGroup *g)
{
  if (g == NULL)
    return;
  g_free (g->name);
  g_ptr_array_unref (g->members);
  g_free (g);
}

void
ms_mbsync_config_free (MsMbsyncConfig *cfg)
{
  if (cfg == NULL)
    return;
  g_free (cfg->filename);
  g_free (cfg->sync_state);
  g_clear_pointer (&cfg->account_index, g_hash_table_unref);
  g_clear_pointer (&cfg->store_index, g_hash_table_unref);
  g_clear_pointer (&cfg->channel_index, g_hash_table_unref);
  g_clear_pointer (&cfg->group_index, g_hash_table_unref);
  g_ptr_array_unref (cfg->accounts);
  g_ptr_array_unref (cfg->stores);
  g_ptr_array_unref (cfg->channels);
  g_ptr_array_unref (cfg->groups);
  g_ptr_array_unref (cfg->warnings);
  g_free (cfg);
}

void
ms_mbsync_target_free (MsMbsyncTarget *target)
{
  if (target == NULL)
    return;
  g_strfreev (target->boxes);
  g_free (target);
}

/* ---- words ---------------------------------------------------------------- */

/* C isspace() in the C locale, as mbsync uses: unlike g_ascii_isspace(),
 * it includes the vertical tab. */
static gboolean
is_space (char c)
{
  return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Splits one line into words.  Sets *blank when the line has neither words
 * nor a comment (such a line ends a section). */
static gboolean
split_line (Parser *p, const char *line, gsize len, GPtrArray *words, gboolean *blank,
            GError **error)
{
  /* Sized for the whole line so it never moves: a reallocation would leave
   * a copy of a password behind in freed memory. */
  g_autoptr (GString) word = g_string_sized_new (len + 1);
  gboolean comment = FALSE;
  gsize i = 0;
  gboolean ok = TRUE;

  while (ok) {
    while (i < len && is_space (line[i]))
      i++;
    if (i >= len)
      break;
    if (line[i] == '#') {
      comment = TRUE;
      break;
    }
    gboolean quoted = FALSE;
    g_string_truncate (word, 0);
    while (i < len) {
      char c = line[i];
      if (c == '\\') {
        if (i + 1 >= len) {
          ok = fail (p, error, "unterminated escape sequence (a backslash ends the line)");
          break;
        }
        g_string_append_c (word, line[i + 1]);
        i += 2;
      } else if (c == '"') {
        quoted = !quoted;
        i++;
      } else if (!quoted && is_space (c)) {
        break;
      } else {
        g_string_append_c (word, c);
        i++;
      }
    }
    if (ok && quoted)
      ok = fail (p, error, "missing closing quote");
    if (ok)
      g_ptr_array_add (words, g_strndup (word->str, word->len));
    explicit_bzero (word->str, word->allocated_len);
  }
  *blank = words->len == 0 && !comment;
  return ok;
}

static const char *
arg (GPtrArray *args, guint i)
{
  return g_ptr_array_index (args, i);
}

/* Exactly one argument. */
static gboolean
need_one (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  if (args->len == 0)
    return fail (p, error, "%s: parameter missing", k->name);
  if (args->len > 1) {
    /* Never quote a password back, not even a piece of it. */
    if (g_ascii_strcasecmp (k->name, "Pass") == 0)
      return fail (p, error, "Pass takes one argument (quote a password that contains spaces)");
    g_autofree char *q = quote (arg (args, 1));
    return fail (p, error, "%s: excess argument '%s'", k->name, q);
  }
  return TRUE;
}

static gboolean
need_some (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  if (args->len == 0)
    return fail (p, error, "%s: parameter missing", k->name);
  return TRUE;
}

static gboolean
parse_bool (Parser *p, const KeyDef *k, GPtrArray *args, gboolean *out, GError **error)
{
  static const char *const yes[] = { "yes", "true", "on", "1" };
  static const char *const no[] = { "no", "false", "off", "0" };

  if (!need_one (p, k, args, error))
    return FALSE;
  const char *v = arg (args, 0);
  for (guint i = 0; i < G_N_ELEMENTS (yes); i++) {
    if (g_ascii_strcasecmp (v, yes[i]) == 0) {
      *out = TRUE;
      return TRUE;
    }
    if (g_ascii_strcasecmp (v, no[i]) == 0) {
      *out = FALSE;
      return TRUE;
    }
  }
  g_autofree char *q = quote (v);
  return fail (p, error, "%s: invalid boolean value '%s' (use yes or no)", k->name, q);
}

/* A decimal number in [min, max]; no sign, no suffix. */
static gboolean
parse_uint (Parser *p, const KeyDef *k, GPtrArray *args, guint64 min, guint64 max, guint64 *out,
            GError **error)
{
  if (!need_one (p, k, args, error))
    return FALSE;
  const char *v = arg (args, 0);
  guint64 n = 0;
  gboolean digits = v[0] != '\0';
  for (const char *c = v; *c && digits; c++) {
    if (!g_ascii_isdigit (*c) || n > (G_MAXUINT64 - 9) / 10)
      digits = FALSE;
    else
      n = n * 10 + (guint64) (*c - '0');
  }
  g_autofree char *q = quote (v);
  if (!digits)
    return fail (p, error, "%s: invalid number '%s'", k->name, q);
  if (n < min || n > max)
    return fail (p, error, "%s: %s is out of range (%" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT ")",
                 k->name, q, min, max);
  *out = n;
  return TRUE;
}

/* SIZE[k|m][b], case-insensitive, as mbsync's MaxSize and BufferLimit. */
static gboolean
parse_size (Parser *p, const KeyDef *k, GPtrArray *args, guint64 *out, GError **error)
{
  /* 1 TiB: far above any message or buffer, far below overflow. */
  const guint64 max = G_GUINT64_CONSTANT (1) << 40;

  if (!need_one (p, k, args, error))
    return FALSE;
  const char *v = arg (args, 0);
  const char *c = v;
  guint64 n = 0;
  gboolean ok = g_ascii_isdigit (*c);
  for (; ok && g_ascii_isdigit (*c); c++) {
    n = n * 10 + (guint64) (*c - '0');
    if (n > max)
      ok = FALSE;
  }
  if (ok && (*c == 'k' || *c == 'K')) {
    n *= 1024;
    c++;
  } else if (ok && (*c == 'm' || *c == 'M')) {
    n *= 1024 * 1024;
    c++;
  }
  if (ok && (*c == 'b' || *c == 'B'))
    c++;
  if (!ok || *c != '\0' || n > max) {
    g_autofree char *q = quote (v);
    return fail (p, error, "%s: invalid size '%s' (use a number with an optional k or m suffix)",
                 k->name, q);
  }
  *out = n;
  return TRUE;
}

static gboolean
parse_char (Parser *p, const KeyDef *k, GPtrArray *args, char *out, GError **error)
{
  if (!need_one (p, k, args, error))
    return FALSE;
  if (strlen (arg (args, 0)) != 1)
    return fail (p, error, "%s must be exactly one character long", k->name);
  *out = arg (args, 0)[0];
  return TRUE;
}

static gboolean
set_string (Parser *p, const KeyDef *k, GPtrArray *args, char **field, GError **error)
{
  if (!need_one (p, k, args, error))
    return FALSE;
  g_free (*field);
  *field = g_strdup (arg (args, 0));
  return TRUE;
}

/* "+command": the command needs the terminal. */
static gboolean
set_command (Parser *p, const KeyDef *k, GPtrArray *args, char **field, gboolean *tty,
             GError **error)
{
  if (!need_one (p, k, args, error))
    return FALSE;
  const char *v = arg (args, 0);
  *tty = v[0] == '+';
  if (*tty)
    v++;
  if (*v == '\0')
    return fail (p, error, "%s: the command is empty", k->name);
  g_free (*field);
  *field = g_strdup (v);
  return TRUE;
}

/* Appends the words to a NULL-terminated list, upper-cased when asked. */
static gboolean
append_words (Parser *p, const KeyDef *k, GPtrArray *args, char ***list, gboolean upper,
              GError **error)
{
  if (!need_some (p, k, args, error))
    return FALSE;
  guint have = *list ? g_strv_length (*list) : 0;
  if (have + args->len > MS_MBSYNCRC_MAX_LIST)
    return fail (p, error, "%s: more than %d entries", k->name, MS_MBSYNCRC_MAX_LIST);
  *list = g_renew (char *, *list, have + args->len + 1);
  for (guint i = 0; i < args->len; i++)
    (*list)[have + i] = upper ? g_ascii_strup (arg (args, i), -1) : g_strdup (arg (args, i));
  (*list)[have + args->len] = NULL;
  return TRUE;
}

/* ---- IMAPAccount keys (also inline in an IMAPStore) ------------------------- */

static gboolean
key_host (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  if (!need_one (p, k, args, error))
    return FALSE;
  const char *v = arg (args, 0);
  /* Pre-1.2 URL notation, still accepted by mbsync. */
  if (g_ascii_strncasecmp (v, "imaps:", 6) == 0) {
    v += 6;
    if (!p->account->tls_type_set) {
      p->account->pub.tls_type = MS_MBSYNC_TLS_IMAPS;
      p->account->tls_type_set = TRUE;
    }
  } else if (g_ascii_strncasecmp (v, "imap:", 5) == 0) {
    v += 5;
  }
  while (*v == '/')
    v++;
  if (*v == '\0')
    return fail (p, error, "Host: the host name is empty");
  g_free (p->account->pub.host);
  p->account->pub.host = g_strdup (v);
  return TRUE;
}

static gboolean
key_port (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  guint64 n;
  if (!parse_uint (p, k, args, 1, 65535, &n, error))
    return FALSE;
  p->account->pub.port = (guint16) n;
  p->account->port_set = TRUE;
  return TRUE;
}

static gboolean
key_user (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  return set_string (p, k, args, &p->account->pub.user, error);
}

static gboolean
key_user_cmd (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  return set_command (p, k, args, &p->account->pub.user_cmd, &p->account->pub.user_cmd_tty, error);
}

static gboolean
key_pass (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  if (!need_one (p, k, args, error))
    return FALSE;
  MsMbsyncSecret *s = g_new0 (MsMbsyncSecret, 1);
  s->data = g_strdup (arg (args, 0));
  s->len = strlen (s->data);
  secret_free (p->account->pub.pass);
  p->account->pub.pass = s;
  return TRUE;
}

static gboolean
key_pass_cmd (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  return set_command (p, k, args, &p->account->pub.pass_cmd, &p->account->pub.pass_cmd_tty, error);
}

static gboolean
key_tunnel (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  return set_string (p, k, args, &p->account->pub.tunnel, error);
}

static gboolean
key_auth_mechs (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  g_clear_pointer (&p->account->pub.auth_mechs, g_strfreev);
  return append_words (p, k, args, &p->account->pub.auth_mechs, TRUE, error);
}

static gboolean
key_tls_type (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  static const struct {
    const char *name;
    MsMbsyncTlsType type;
  } types[] = { { "None", MS_MBSYNC_TLS_NONE },
                { "STARTTLS", MS_MBSYNC_TLS_STARTTLS },
                { "IMAPS", MS_MBSYNC_TLS_IMAPS } };

  if (!need_one (p, k, args, error))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (types); i++) {
    if (g_ascii_strcasecmp (arg (args, 0), types[i].name) == 0) {
      p->account->pub.tls_type = types[i].type;
      p->account->tls_type_set = TRUE;
      return TRUE;
    }
  }
  g_autofree char *q = quote (arg (args, 0));
  return fail (p, error, "%s: invalid value '%s' (use None, STARTTLS or IMAPS)", k->name, q);
}

/* mbsync 1.4: SSLVersions [SSLv3] [TLSv1] [TLSv1.1] [TLSv1.2] [TLSv1.3] — the exact set. */
static gboolean
key_ssl_versions (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  static const struct {
    const char *name;
    guint bit;
  } names[] = { { "TLSv1", MS_MBSYNC_TLS_1_0 }, { "TLSv1.1", MS_MBSYNC_TLS_1_1 },
                { "TLSv1.2", MS_MBSYNC_TLS_1_2 }, { "TLSv1.3", MS_MBSYNC_TLS_1_3 } };
  guint set = 0;

  if (!need_some (p, k, args, error))
    return FALSE;
  for (guint i = 0; i < args->len; i++) {
    const char *v = arg (args, i);
    gboolean known = FALSE;
    if (g_ascii_strcasecmp (v, "SSLv3") == 0) {
      warn_unsupported (p, "SSLv3");
      continue;
    }
    for (guint j = 0; j < G_N_ELEMENTS (names) && !known; j++) {
      if (g_ascii_strcasecmp (v, names[j].name) == 0) {
        set |= names[j].bit;
        known = TRUE;
      }
    }
    if (!known) {
      g_autofree char *q = quote (v);
      return fail (p, error, "%s: unrecognized TLS version '%s'", k->name, q);
    }
  }
  p->account->pub.tls_versions = set;
  return TRUE;
}

/* mbsync 1.5: TLSVersions {+|-}{1.0|1.1|1.2|1.3} ... adds to or removes from
 * the default set.  A first word without a sign starts from the empty set,
 * so "TLSVersions 1.3" means exactly TLS 1.3. */
static gboolean
key_tls_versions (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  static const struct {
    const char *name;
    guint bit;
  } names[] = { { "1.0", MS_MBSYNC_TLS_1_0 }, { "1.1", MS_MBSYNC_TLS_1_1 },
                { "1.2", MS_MBSYNC_TLS_1_2 }, { "1.3", MS_MBSYNC_TLS_1_3 } };
  guint set = MS_MBSYNC_TLS_DEFAULT_VERSIONS;

  if (!need_some (p, k, args, error))
    return FALSE;
  for (guint i = 0; i < args->len; i++) {
    const char *v = arg (args, i);
    char sign = (v[0] == '+' || v[0] == '-') ? v[0] : 0;
    const char *ver = sign ? v + 1 : v;
    guint bit = 0;
    for (guint j = 0; j < G_N_ELEMENTS (names); j++)
      if (strcmp (ver, names[j].name) == 0)
        bit = names[j].bit;
    if (bit == 0) {
      g_autofree char *q = quote (v);
      return fail (p, error, "%s: unrecognized TLS version '%s' (use +1.2, -1.3 ...)", k->name, q);
    }
    if (!sign && i == 0)
      set = 0;
    if (sign == '-')
      set &= ~bit;
    else
      set |= bit;
  }
  p->account->pub.tls_versions = set;
  return TRUE;
}

static gboolean
key_system_certificates (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  return parse_bool (p, k, args, &p->account->pub.system_certificates, error);
}

static gboolean
key_certificate_file (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  return set_string (p, k, args, &p->account->pub.certificate_file, error);
}

static gboolean
key_cipher_string (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  return set_string (p, k, args, &p->account->pub.cipher_string, error);
}

static gboolean
key_pipeline_depth (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  guint64 n;
  if (!parse_uint (p, k, args, 1, G_MAXINT32, &n, error))
    return FALSE;
  p->account->pub.pipeline_depth = (guint) n;
  return TRUE;
}

static gboolean
key_disable_extensions (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  return append_words (p, k, args, &p->account->pub.disabled_extensions, TRUE, error);
}

static gboolean
key_timeout (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  guint64 n;
  if (!parse_uint (p, k, args, 0, G_MAXINT32, &n, error))
    return FALSE;
  p->account->pub.timeout = (guint) n;
  return TRUE;
}

/* Pre-1.2 "UseIMAPS yes" is the same as "TLSType IMAPS". */
static gboolean
key_use_imaps (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  gboolean yes;
  if (!parse_bool (p, k, args, &yes, error))
    return FALSE;
  if (yes && !p->account->tls_type_set) {
    p->account->pub.tls_type = MS_MBSYNC_TLS_IMAPS;
    p->account->tls_type_set = TRUE;
  }
  return TRUE;
}

/* A boolean key we do not implement: warned about when it asks for
 * something other than its default. */
static gboolean
bool_unsupported (Parser *p, const KeyDef *k, GPtrArray *args, gboolean dflt, GError **error)
{
  gboolean v;
  if (!parse_bool (p, k, args, &v, error))
    return FALSE;
  if (v != dflt)
    warn_unsupported (p, k->name);
  return TRUE;
}

static gboolean
key_unsupported_if_yes (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  return bool_unsupported (p, k, args, FALSE, error);
}

/* Legacy SSL switches whose meaning changed in mbsync 1.2; any value is
 * warned about, since we cannot honour the old semantics. */
static gboolean
key_legacy_bool (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  gboolean v;
  if (!parse_bool (p, k, args, &v, error))
    return FALSE;
  warn_unsupported (p, k->name);
  return TRUE;
}

static gboolean
key_unsupported_value (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  if (!need_one (p, k, args, error))
    return FALSE;
  warn_unsupported (p, k->name);
  return TRUE;
}

/* ---- store keys ------------------------------------------------------------ */

static gboolean
key_path (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  return set_string (p, k, args, &p->store->pub.path, error);
}

static gboolean
key_max_size (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  if (p->sec == SEC_CHANNEL)
    return parse_size (p, k, args, &p->channel->pub.max_size, error);
  return parse_size (p, k, args, &p->store->pub.max_size, error);
}

static gboolean
key_map_inbox (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  return set_string (p, k, args, &p->store->pub.map_inbox, error);
}

static gboolean
key_flatten (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  if (!set_string (p, k, args, &p->store->pub.flatten, error))
    return FALSE;
  if (p->store->pub.flatten[0] == '\0')
    return fail (p, error, "Flatten: the delimiter is empty");
  return TRUE;
}

static gboolean
key_account (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  if (!set_string (p, k, args, &p->store->account_ref, error))
    return FALSE;
  p->store->account_ref_line = p->line;
  return TRUE;
}

static gboolean
key_use_namespace (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  return parse_bool (p, k, args, &p->store->pub.use_namespace, error);
}

static gboolean
key_path_delimiter (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  return parse_char (p, k, args, &p->store->pub.path_delimiter, error);
}

static gboolean
key_inbox (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  return set_string (p, k, args, &p->store->pub.inbox, error);
}

static gboolean
key_info_delimiter (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  if (!parse_char (p, k, args, &p->store->pub.info_delimiter, error))
    return FALSE;
  p->store->info_delimiter_set = TRUE;
  return TRUE;
}

static gboolean
key_subfolders (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  static const struct {
    const char *name;
    MsMbsyncSubFolders style;
  } styles[] = { { "Verbatim", MS_MBSYNC_SUBFOLDERS_VERBATIM },
                 { "Maildir++", MS_MBSYNC_SUBFOLDERS_MAILDIRPP },
                 { "Legacy", MS_MBSYNC_SUBFOLDERS_LEGACY } };

  if (!need_one (p, k, args, error))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (styles); i++) {
    if (g_ascii_strcasecmp (arg (args, 0), styles[i].name) == 0) {
      p->store->pub.subfolders = styles[i].style;
      return TRUE;
    }
  }
  g_autofree char *q = quote (arg (args, 0));
  return fail (p, error, "SubFolders: unrecognized style '%s' (use Verbatim, Maildir++ or Legacy)",
               q);
}

/* ---- channel keys (most also as global defaults) ----------------------------- */

/* Far/Near :STORE: or :STORE:MAILBOX; Master/Slave are the old names. */
static gboolean
key_endpoint (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  if (!need_one (p, k, args, error))
    return FALSE;
  const char *v = arg (args, 0);
  const char *colon = v[0] == ':' ? strchr (v + 1, ':') : NULL;
  if (colon == NULL || colon == v + 1) {
    g_autofree char *q = quote (v);
    return fail (p, error, "%s: malformed store reference '%s' (use :STORE: or :STORE:MAILBOX)",
                 k->name, q);
  }
  gboolean far = g_ascii_strcasecmp (k->name, "Far") == 0 || g_ascii_strcasecmp (k->name, "Master") == 0;
  Channel *c = p->channel;
  char **ref = far ? &c->far_ref : &c->near_ref;
  char **box = far ? &c->pub.far.box : &c->pub.near.box;
  g_free (*ref);
  *ref = g_strndup (v + 1, colon - v - 1);
  g_free (*box);
  *box = colon[1] ? g_strdup (colon + 1) : NULL;
  if (far)
    c->far_line = p->line;
  else
    c->near_line = p->line;
  return TRUE;
}

static gboolean
key_patterns (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  if (!need_some (p, k, args, error))
    return FALSE;
  if (p->patterns->len + args->len > MS_MBSYNCRC_MAX_LIST)
    return fail (p, error, "%s: more than %d patterns in one channel", k->name, MS_MBSYNCRC_MAX_LIST);
  for (guint i = 0; i < args->len; i++)
    g_ptr_array_add (p->patterns, g_strdup (arg (args, i)));
  return TRUE;
}

static gboolean
key_max_messages (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  guint64 n;
  if (!parse_uint (p, k, args, 0, G_MAXINT32, &n, error))
    return FALSE;
  if (n > 0)
    warn_unsupported (p, k->name);
  return TRUE;
}

static gboolean
key_expire_unread (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  return parse_bool (p, k, args, &p->channel->pub.expire_unread, error);
}

/* Words for Create, Remove, Expunge, ExpungeSolo (any number, OR-ed) and
 * ExpireSide (exactly one of Far and Near). */
static gboolean
parse_sides (Parser *p, const KeyDef *k, GPtrArray *args, gboolean single, guint *out,
             GError **error)
{
  static const struct {
    const char *name;
    guint sides;
  } words[] = { { "None", 0 },
                { "Far", MS_MBSYNC_SIDE_FAR },
                { "Near", MS_MBSYNC_SIDE_NEAR },
                { "Both", MS_MBSYNC_SIDE_BOTH },
                { "Master", MS_MBSYNC_SIDE_FAR },
                { "Slave", MS_MBSYNC_SIDE_NEAR } };
  guint sides = 0;

  if (single ? !need_one (p, k, args, error) : !need_some (p, k, args, error))
    return FALSE;
  for (guint i = 0; i < args->len; i++) {
    gboolean known = FALSE;
    for (guint j = 0; j < G_N_ELEMENTS (words) && !known; j++) {
      if (g_ascii_strcasecmp (arg (args, i), words[j].name) == 0) {
        sides |= words[j].sides;
        known = TRUE;
      }
    }
    if (!known || (single && (sides == 0 || sides == MS_MBSYNC_SIDE_BOTH))) {
      g_autofree char *q = quote (arg (args, i));
      return fail (p, error, "%s: invalid value '%s' (use %s)", k->name, q,
                   single ? "Far or Near" : "None, Far, Near or Both");
    }
  }
  *out = sides;
  return TRUE;
}

static gboolean
key_expire_side (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  guint side;
  if (!parse_sides (p, k, args, TRUE, &side, error))
    return FALSE;
  p->channel->pub.expire_side = side;
  return TRUE;
}

static gboolean
key_create (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  return parse_sides (p, k, args, FALSE, &p->channel->pub.create, error);
}

static gboolean
key_remove (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  return parse_sides (p, k, args, FALSE, &p->channel->pub.remove, error);
}

static gboolean
key_expunge (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  return parse_sides (p, k, args, FALSE, &p->channel->pub.expunge, error);
}

static gboolean
key_expunge_solo (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  return parse_sides (p, k, args, FALSE, &p->channel->pub.expunge_solo, error);
}

static gboolean
key_copy_arrival_date (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  return parse_bool (p, k, args, &p->channel->pub.copy_arrival_date, error);
}

static gboolean
key_sync_state (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  /* Outside a channel it names the global state directory, whose file
   * names are built differently (mbsync(1), SyncState). */
  if (p->sec == SEC_GLOBAL)
    return set_string (p, k, args, &p->cfg->sync_state, error);
  return set_string (p, k, args, &p->channel->pub.sync_state, error);
}

/* Sync: the direction x operation matrix of mbsync(1).  Plain words select
 * whole rows and columns ("Pull New" = the one cell); once a compound word
 * (PullNew) is present, every word asserts cells directly, and asserting a
 * cell twice in different ways is an error, as in mbsync. */
static gboolean
key_sync (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  static const struct {
    const char *name;
    guint op;
  } ops[] = { { "New", MS_MBSYNC_OP_NEW },         { "Old", MS_MBSYNC_OP_OLD },
              { "Upgrade", MS_MBSYNC_OP_UPGRADE }, { "ReNew", MS_MBSYNC_OP_UPGRADE },
              { "Gone", MS_MBSYNC_OP_GONE },       { "Delete", MS_MBSYNC_OP_GONE },
              { "Flags", MS_MBSYNC_OP_FLAGS } };
  static const char *const dir_names[2] = { "Pull", "Push" };
  gboolean none = FALSE, compound = FALSE;
  guint dirs = 0, types = 0, cells[2] = { 0, 0 };

  if (!need_some (p, k, args, error))
    return FALSE;
  for (guint i = 0; i < args->len; i++) {
    const char *w = arg (args, i);
    int dir = -1;
    gboolean known = FALSE;

    if (g_ascii_strcasecmp (w, "None") == 0) {
      none = known = TRUE;
    } else if (g_ascii_strcasecmp (w, "Full") == 0 || g_ascii_strcasecmp (w, "All") == 0) {
      types |= MS_MBSYNC_OPS_FULL;
      known = TRUE;
    }
    for (int d = 0; d < 2 && !known; d++) {
      gsize n = strlen (dir_names[d]);
      if (g_ascii_strncasecmp (w, dir_names[d], n) == 0) {
        dir = d;
        if (w[n] == '\0') {
          dirs |= 1u << d;
          known = TRUE;
        }
        w += n;
      }
    }
    for (guint j = 0; j < G_N_ELEMENTS (ops) && !known; j++) {
      if (g_ascii_strcasecmp (w, ops[j].name) == 0) {
        if (dir >= 0) {
          cells[dir] |= ops[j].op;
          compound = TRUE;
        } else {
          types |= ops[j].op;
        }
        known = TRUE;
      }
    }
    if (!known) {
      g_autofree char *q = quote (arg (args, i));
      return fail (p, error, "Sync: invalid operation '%s'", q);
    }
  }

  guint result[2];
  if (none) {
    if (dirs || types || compound)
      return fail (p, error, "Sync: None cannot be combined with other operations");
    result[0] = result[1] = 0;
  } else if (compound) {
    for (int d = 0; d < 2; d++) {
      guint row = (dirs & (1u << d)) ? MS_MBSYNC_OPS_FULL : 0;
      if ((cells[d] & row) || (cells[d] & types) || (row & types))
        return fail (p, error, "Sync: conflicting operations (a cell is asserted twice, e.g. "
                               "PullNew together with Pull or New)");
      result[d] = cells[d] | row | types;
    }
  } else {
    guint d_mask = dirs ? dirs : 3;
    guint t = types ? types : MS_MBSYNC_OPS_FULL;
    for (int d = 0; d < 2; d++)
      result[d] = (d_mask & (1u << d)) ? t : 0;
  }
  p->channel->pub.ops[MS_MBSYNC_PULL] = result[0];
  p->channel->pub.ops[MS_MBSYNC_PUSH] = result[1];
  return TRUE;
}

/* ---- global keys ------------------------------------------------------------- */

static gboolean
key_fsync (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  return parse_bool (p, k, args, &p->cfg->fsync, error);
}

static gboolean
key_field_delimiter (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  return parse_char (p, k, args, &p->cfg->field_delimiter, error);
}

static gboolean
key_buffer_limit (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  guint64 n;
  if (!parse_size (p, k, args, &n, error))
    return FALSE;
  if (n == 0)
    return fail (p, error, "BufferLimit cannot be zero");
  p->cfg->buffer_limit = n;
  return TRUE;
}

/* ---- groups ------------------------------------------------------------------ */

/* Splits "a,b" (or with newlines on the command line) into a box list. */
static char **
split_boxes (const char *list, const char *seps, const char *whole, GError **error)
{
  g_autoptr (GPtrArray) boxes = g_ptr_array_new_with_free_func (g_free);
  const char *s = list;

  for (;;) {
    gsize n = strcspn (s, seps);
    if (n == 0) {
      g_autofree char *q = quote (whole);
      g_set_error (error, MS_ERROR, MS_ERROR_CONFIG, "empty mailbox name in '%s'", q);
      return NULL;
    }
    if (boxes->len >= MS_MBSYNCRC_MAX_LIST) {
      g_set_error (error, MS_ERROR, MS_ERROR_CONFIG, "more than %d mailboxes in one argument",
                   MS_MBSYNCRC_MAX_LIST);
      return NULL;
    }
    g_ptr_array_add (boxes, g_strndup (s, n));
    if (s[n] == '\0')
      break;
    s += n + 1;
  }
  g_ptr_array_add (boxes, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&boxes), FALSE);
}

static gboolean
add_members (Parser *p, GPtrArray *args, guint first, GError **error)
{
  MsMbsyncGroup *g = p->group;
  if (g->members->len + (args->len - first) > MS_MBSYNCRC_MAX_LIST) {
    g_autofree char *qg = quote (g->name);
    return fail (p, error, "group '%s' has more than %d members", qg, MS_MBSYNCRC_MAX_LIST);
  }
  for (guint i = first; i < args->len; i++) {
    const char *spec = arg (args, i);
    const char *colon = strchr (spec, ':');
    g_autoptr (GError) local = NULL;
    char **boxes = NULL;

    if (colon == spec) {
      g_autofree char *q = quote (spec);
      return fail (p, error, "Group: '%s' names no channel", q);
    }
    if (colon != NULL && (boxes = split_boxes (colon + 1, ",", spec, &local)) == NULL)
      return fail (p, error, "%s", local->message);
    MsMbsyncGroupMember *m = g_new0 (MsMbsyncGroupMember, 1);
    m->channel_name = colon ? g_strndup (spec, colon - spec) : g_strdup (spec);
    m->boxes = boxes;
    m->line = p->line;
    g_ptr_array_add (g->members, m);
  }
  return TRUE;
}

static gboolean
key_group_channels (Parser *p, const KeyDef *k, GPtrArray *args, GError **error)
{
  if (!need_some (p, k, args, error))
    return FALSE;
  return add_members (p, args, 0, error);
}

/* ---- the key table --------------------------------------------------------------- */

static const KeyDef keys[] = {
  /* IMAPAccount, or inline in an IMAPStore */
  { "Host", IN_ANY_ACCOUNT, key_host },
  { "Port", IN_ANY_ACCOUNT, key_port },
  { "User", IN_ANY_ACCOUNT, key_user },
  { "UserCmd", IN_ANY_ACCOUNT, key_user_cmd },
  { "Pass", IN_ANY_ACCOUNT, key_pass },
  { "PassCmd", IN_ANY_ACCOUNT, key_pass_cmd },
  { "UseKeychain", IN_ANY_ACCOUNT, key_unsupported_if_yes },
  { "Tunnel", IN_ANY_ACCOUNT, key_tunnel },
  { "AuthMechs", IN_ANY_ACCOUNT, key_auth_mechs },
  { "TLSType", IN_ANY_ACCOUNT, key_tls_type },
  { "SSLType", IN_ANY_ACCOUNT, key_tls_type },
  { "TLSVersions", IN_ANY_ACCOUNT, key_tls_versions },
  { "SSLVersions", IN_ANY_ACCOUNT, key_ssl_versions },
  { "SystemCertificates", IN_ANY_ACCOUNT, key_system_certificates },
  { "CertificateFile", IN_ANY_ACCOUNT, key_certificate_file },
  { "ClientCertificate", IN_ANY_ACCOUNT, key_unsupported_value },
  { "ClientKey", IN_ANY_ACCOUNT, key_unsupported_value },
  { "CipherString", IN_ANY_ACCOUNT, key_cipher_string },
  { "PipelineDepth", IN_ANY_ACCOUNT, key_pipeline_depth },
  { "DisableExtension", IN_ANY_ACCOUNT, key_disable_extensions },
  { "DisableExtensions", IN_ANY_ACCOUNT, key_disable_extensions },
  { "Timeout", IN_ANY_ACCOUNT, key_timeout },
  /* before mbsync 1.2 */
  { "UseIMAPS", IN_ANY_ACCOUNT, key_use_imaps },
  { "RequireSSL", IN_ANY_ACCOUNT, key_legacy_bool },
  { "UseSSLv2", IN_ANY_ACCOUNT, key_legacy_bool },
  { "UseSSLv3", IN_ANY_ACCOUNT, key_legacy_bool },
  { "UseTLSv1", IN_ANY_ACCOUNT, key_legacy_bool },
  { "UseTLSv1.1", IN_ANY_ACCOUNT, key_legacy_bool },
  { "UseTLSv1.2", IN_ANY_ACCOUNT, key_legacy_bool },
  { "UseTLSv1.3", IN_ANY_ACCOUNT, key_legacy_bool },
  { "RequireCRAM", IN_ANY_ACCOUNT, key_legacy_bool },

  /* every store */
  { "Path", IN_ANY_STORE, key_path },
  { "MaxSize", IN_ANY_STORE | IN_CHANNEL, key_max_size },
  { "MapInbox", IN_ANY_STORE, key_map_inbox },
  { "Flatten", IN_ANY_STORE, key_flatten },
  { "Trash", IN_ANY_STORE, key_unsupported_value },
  { "TrashNewOnly", IN_ANY_STORE, key_unsupported_if_yes },
  { "TrashRemoteNew", IN_ANY_STORE, key_unsupported_if_yes },

  /* IMAPStore */
  { "Account", IN_IMAPSTORE, key_account },
  { "UseNamespace", IN_IMAPSTORE, key_use_namespace },
  { "PathDelimiter", IN_IMAPSTORE, key_path_delimiter },
  { "SubscribedOnly", IN_IMAPSTORE, key_unsupported_if_yes },

  /* MaildirStore */
  { "AltMap", IN_MAILDIRSTORE, key_unsupported_if_yes },
  { "Inbox", IN_MAILDIRSTORE, key_inbox },
  { "InfoDelimiter", IN_MAILDIRSTORE, key_info_delimiter },
  { "SubFolders", IN_MAILDIRSTORE, key_subfolders },

  /* Channel */
  { "Far", IN_CHANNEL, key_endpoint },
  { "Near", IN_CHANNEL, key_endpoint },
  { "Master", IN_CHANNEL, key_endpoint },
  { "Slave", IN_CHANNEL, key_endpoint },
  { "Pattern", IN_CHANNEL, key_patterns },
  { "Patterns", IN_CHANNEL, key_patterns },
  { "MaxMessages", IN_CHANNEL_OR_GLOBAL, key_max_messages },
  { "ExpireUnread", IN_CHANNEL_OR_GLOBAL, key_expire_unread },
  { "ExpireSide", IN_CHANNEL_OR_GLOBAL, key_expire_side },
  { "Sync", IN_CHANNEL_OR_GLOBAL, key_sync },
  { "Create", IN_CHANNEL_OR_GLOBAL, key_create },
  { "Remove", IN_CHANNEL_OR_GLOBAL, key_remove },
  { "Expunge", IN_CHANNEL_OR_GLOBAL, key_expunge },
  { "ExpungeSolo", IN_CHANNEL_OR_GLOBAL, key_expunge_solo },
  { "CopyArrivalDate", IN_CHANNEL_OR_GLOBAL, key_copy_arrival_date },
  { "SyncState", IN_CHANNEL_OR_GLOBAL, key_sync_state },

  /* Group */
  { "Channel", IN_GROUP, key_group_channels },
  { "Channels", IN_GROUP, key_group_channels },

  /* global */
  { "FSync", IN_GLOBAL, key_fsync },
  { "FieldDelimiter", IN_GLOBAL, key_field_delimiter },
  { "BufferLimit", IN_GLOBAL, key_buffer_limit },
};

static const KeyDef *
find_key (const char *word)
{
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    if (g_ascii_strcasecmp (word, keys[i].name) == 0)
      return &keys[i];
  return NULL;
}

static const char *const section_keywords[] = {
  [SEC_ACCOUNT] = "IMAPAccount", [SEC_IMAPSTORE] = "IMAPStore",
  [SEC_MAILDIRSTORE] = "MaildirStore", [SEC_CHANNEL] = "Channel", [SEC_GROUP] = "Group",
};

static Section
find_section (const char *word)
{
  for (guint s = SEC_ACCOUNT; s < G_N_ELEMENTS (section_keywords); s++)
    if (g_ascii_strcasecmp (word, section_keywords[s]) == 0)
      return (Section) s;
  return SEC_GLOBAL;
}

/* ---- sections ---------------------------------------------------------------- */

static void
account_init (Account *a, const char *name, guint line)
{
  a->pub.name = g_strdup (name);
  a->pub.line = line;
  a->pub.tls_type = MS_MBSYNC_TLS_STARTTLS;
  a->pub.tls_versions = MS_MBSYNC_TLS_DEFAULT_VERSIONS;
  a->pub.system_certificates = TRUE;
  a->pub.timeout = MS_MBSYNC_DEFAULT_TIMEOUT;
}

/* Defaults that depend on other keys, and the one required key. */
static gboolean
account_finish (Parser *p, Account *a, const char *what, GError **error)
{
  if (a->pub.host == NULL && a->pub.tunnel == NULL) {
    g_autofree char *q = quote (a->pub.name);
    return fail_at (p, a->pub.line, error, "%s '%s' has neither Tunnel nor Host", what, q);
  }
  if (!a->tls_type_set && a->pub.tunnel != NULL)
    a->pub.tls_type = MS_MBSYNC_TLS_NONE; /* tunnels are assumed secure, as in mbsync */
  if (!a->port_set)
    a->pub.port = a->pub.tls_type == MS_MBSYNC_TLS_IMAPS ? MS_MBSYNC_DEFAULT_IMAPS_PORT
                                                         : MS_MBSYNC_DEFAULT_IMAP_PORT;
  return TRUE;
}

static gboolean
store_finish (Parser *p, Store *s, GError **error)
{
  g_autofree char *q = quote (s->pub.name);

  if (s->pub.type == MS_MBSYNC_STORE_IMAP) {
    if (s->account_ref != NULL && s->first_inline_line != 0)
      return fail_at (p, s->first_inline_line, error,
                      "IMAP store '%s' has both Account and account-specific options", q);
    if (s->account_ref == NULL) {
      if (!account_finish (p, s->inline_account, "IMAP store", error))
        return FALSE;
      s->pub.account = &s->inline_account->pub;
    } else {
      g_clear_pointer (&s->inline_account, account_free);
    }
  } else {
    if (s->pub.subfolders == MS_MBSYNC_SUBFOLDERS_MAILDIRPP && s->pub.path != NULL)
      return fail_at (p, s->pub.line, error,
                      "Maildir store '%s': setting Path is incompatible with 'SubFolders Maildir++'",
                      q);
    if (s->pub.inbox == NULL)
      s->pub.inbox = g_strdup ("~/Maildir");
    if (!s->info_delimiter_set)
      s->pub.info_delimiter = p->cfg->field_delimiter;
  }
  return TRUE;
}

static gboolean
channel_finish (Parser *p, Channel *c, GError **error)
{
  g_autofree char *q = quote (c->pub.name);

  if (c->far_ref == NULL)
    return fail_at (p, c->pub.line, error, "channel '%s' has no Far store", q);
  if (c->near_ref == NULL)
    return fail_at (p, c->pub.line, error, "channel '%s' has no Near store", q);
  if (c->pub.expunge & c->pub.expunge_solo)
    return fail_at (p, c->pub.line, error,
                    "channel '%s': Expunge and ExpungeSolo are mutually exclusive for one side", q);
  if (p->patterns->len > 0) {
    g_ptr_array_add (p->patterns, NULL);
    c->pub.patterns = (char **) g_ptr_array_steal (p->patterns, NULL);
    g_ptr_array_set_free_func (p->patterns, g_free);
  }
  return TRUE;
}

static gboolean
end_section (Parser *p, GError **error)
{
  gboolean ok = TRUE;

  /* Blank lines among the global options end nothing; p->channel keeps
   * pointing at the defaults there. */
  if (p->sec == SEC_GLOBAL)
    return TRUE;
  switch (p->sec) {
  case SEC_ACCOUNT:
    ok = account_finish (p, p->account, "IMAP account", error);
    break;
  case SEC_IMAPSTORE:
  case SEC_MAILDIRSTORE:
    ok = store_finish (p, p->store, error);
    break;
  case SEC_CHANNEL:
    ok = channel_finish (p, p->channel, error);
    break;
  case SEC_GROUP:
  case SEC_GLOBAL:
  case SEC_BETWEEN:
  default:
    break;
  }
  p->sec = SEC_BETWEEN;
  p->account = NULL;
  p->store = NULL;
  p->channel = NULL;
  p->group = NULL;
  return ok;
}

/* Registers a new object's name; the index doubles as the duplicate check.
 * Accounts, stores (both kinds), channels and groups are four namespaces. */
static gboolean
claim_name (Parser *p, GHashTable *index, const char *kind, const char *name, gpointer obj,
            guint (*line_of) (gconstpointer), GError **error)
{
  gconstpointer old = g_hash_table_lookup (index, name);
  if (old != NULL) {
    g_autofree char *q = quote (name);
    return fail (p, error, "duplicate %s name '%s' (first defined at line %u)", kind, q,
                 line_of (old));
  }
  g_hash_table_insert (index, (gpointer) name, obj);
  return TRUE;
}

static guint
account_line (gconstpointer a)
{
  return ((const MsMbsyncAccount *) a)->line;
}

static guint
store_line (gconstpointer s)
{
  return ((const MsMbsyncStore *) s)->line;
}

static guint
channel_line (gconstpointer c)
{
  return ((const MsMbsyncChannel *) c)->line;
}

static guint
group_line (gconstpointer g)
{
  return ((const MsMbsyncGroup *) g)->line;
}

static gboolean
begin_section (Parser *p, Section sec, GPtrArray *words, GError **error)
{
  const char *kw = section_keywords[sec];
  MsMbsyncConfig *cfg = p->cfg;

  if (words->len < 2)
    return fail (p, error, "%s: parameter missing", kw);
  if (words->len > 2 && sec != SEC_GROUP) {
    g_autofree char *q = quote (g_ptr_array_index (words, 2));
    return fail (p, error, "%s: excess argument '%s' (quote a name that contains spaces)", kw, q);
  }
  if (++p->nsections > MS_MBSYNCRC_MAX_SECTIONS)
    return fail (p, error, "more than %d sections", MS_MBSYNCRC_MAX_SECTIONS);

  const char *name = g_ptr_array_index (words, 1);
  p->sec = sec;
  switch (sec) {
  case SEC_ACCOUNT: {
    Account *a = g_new0 (Account, 1);
    account_init (a, name, p->line);
    g_ptr_array_add (cfg->accounts, a);
    p->account = a;
    return claim_name (p, cfg->account_index, "IMAPAccount", a->pub.name, a, account_line, error);
  }
  case SEC_IMAPSTORE:
  case SEC_MAILDIRSTORE: {
    Store *s = g_new0 (Store, 1);
    s->pub.name = g_strdup (name);
    s->pub.line = p->line;
    s->pub.type = sec == SEC_IMAPSTORE ? MS_MBSYNC_STORE_IMAP : MS_MBSYNC_STORE_MAILDIR;
    s->pub.use_namespace = TRUE;
    if (sec == SEC_IMAPSTORE) {
      s->inline_account = g_new0 (Account, 1);
      account_init (s->inline_account, name, p->line);
      s->inline_account->pub.inline_in_store = TRUE;
    }
    g_ptr_array_add (cfg->stores, s);
    p->store = s;
    p->account = s->inline_account;
    return claim_name (p, cfg->store_index, "store", s->pub.name, s, store_line, error);
  }
  case SEC_CHANNEL: {
    Channel *c = g_new0 (Channel, 1);
    c->pub = p->defaults.pub; /* scalars only; the strings are set below */
    c->pub.name = g_strdup (name);
    c->pub.line = p->line;
    c->pub.far = (MsMbsyncEndpoint) { 0 };
    c->pub.near = (MsMbsyncEndpoint) { 0 };
    c->pub.patterns = NULL;
    c->pub.sync_state = NULL;
    g_ptr_array_add (cfg->channels, c);
    p->channel = c;
    return claim_name (p, cfg->channel_index, "Channel", c->pub.name, c, channel_line, error);
  }
  case SEC_GROUP: {
    MsMbsyncGroup *g = g_new0 (MsMbsyncGroup, 1);
    g->name = g_strdup (name);
    g->line = p->line;
    g->members = g_ptr_array_new_with_free_func ((GDestroyNotify) member_free);
    g_ptr_array_add (cfg->groups, g);
    p->group = g;
    if (!claim_name (p, cfg->group_index, "Group", g->name, g, group_line, error))
      return FALSE;
    return add_members (p, words, 2, error);
  }
  case SEC_GLOBAL:
  case SEC_BETWEEN:
  default:
    g_assert_not_reached ();
  }
}

static gboolean
handle_line (Parser *p, GPtrArray *words, GError **error)
{
  const char *kw = g_ptr_array_index (words, 0);
  Section sec = find_section (kw);
  const KeyDef *k;

  /* "Channel" inside a Group adds members; anywhere else it opens a section. */
  if (sec != SEC_GLOBAL && !(p->sec == SEC_GROUP && sec == SEC_CHANNEL)) {
    if (p->sec != SEC_GLOBAL && p->sec != SEC_BETWEEN)
      return fail (p, error, "%s starts a new section: end the %s section with an empty line first",
                   section_keywords[sec], section_name (p->sec));
    return begin_section (p, sec, words, error);
  }

  k = find_key (kw);
  if (p->sec == SEC_BETWEEN && k != NULL && (k->where & IN_GLOBAL))
    return fail (p, error, "global option %s must come before the first section", k->name);
  if (k == NULL || !(k->where & (1u << p->sec))) {
    g_autofree char *q = quote (kw);
    if (p->sec == SEC_GLOBAL || p->sec == SEC_BETWEEN)
      return fail (p, error, "'%s' is not a recognized section-starting or global keyword", q);
    return fail (p, error, "keyword '%s' is not recognized in %s sections", q, section_name (p->sec));
  }

  /* Account keys inside an IMAPStore make its inline account. */
  if (p->sec == SEC_IMAPSTORE && (k->where & IN_ACCOUNT) && p->store->first_inline_line == 0)
    p->store->first_inline_line = p->line;

  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  for (guint i = 1; i < words->len; i++)
    g_ptr_array_add (args, g_ptr_array_index (words, i));
  return k->handle (p, k, args, error);
}

/* ---- whole-file checks --------------------------------------------------------- */

static gboolean
resolve (Parser *p, GError **error)
{
  MsMbsyncConfig *cfg = p->cfg;

  for (guint i = 0; i < cfg->stores->len; i++) {
    Store *s = g_ptr_array_index (cfg->stores, i);
    if (s->pub.type != MS_MBSYNC_STORE_IMAP || s->account_ref == NULL)
      continue;
    s->pub.account = g_hash_table_lookup (cfg->account_index, s->account_ref);
    if (s->pub.account == NULL) {
      g_autofree char *q = quote (s->account_ref);
      return fail_at (p, s->account_ref_line, error, "unknown IMAP account '%s'", q);
    }
  }
  for (guint i = 0; i < cfg->channels->len; i++) {
    Channel *c = g_ptr_array_index (cfg->channels, i);
    c->pub.far.store = g_hash_table_lookup (cfg->store_index, c->far_ref);
    if (c->pub.far.store == NULL) {
      g_autofree char *q = quote (c->far_ref);
      return fail_at (p, c->far_line, error, "unknown store '%s'", q);
    }
    c->pub.near.store = g_hash_table_lookup (cfg->store_index, c->near_ref);
    if (c->pub.near.store == NULL) {
      g_autofree char *q = quote (c->near_ref);
      return fail_at (p, c->near_line, error, "unknown store '%s'", q);
    }
  }
  /* mbsync only complains when such a group is used; so do we (in
   * ms_mbsync_config_expand_arg), after a warning now. */
  for (guint i = 0; i < cfg->groups->len; i++) {
    MsMbsyncGroup *g = g_ptr_array_index (cfg->groups, i);
    for (guint j = 0; j < g->members->len; j++) {
      MsMbsyncGroupMember *m = g_ptr_array_index (g->members, j);
      m->channel = g_hash_table_lookup (cfg->channel_index, m->channel_name);
      if (m->channel == NULL) {
        g_autofree char *qg = quote (g->name);
        g_autofree char *q = quote (m->channel_name);
        warn_at (p, m->line, "group '%s' refers to unknown channel '%s'", qg, q);
      }
    }
  }
  return TRUE;
}

/* ---- entry points ------------------------------------------------------------------ */

static MsMbsyncConfig *
config_new (const char *filename)
{
  MsMbsyncConfig *cfg = g_new0 (MsMbsyncConfig, 1);
  cfg->filename = g_strdup (filename);
  cfg->fsync = TRUE;
  cfg->field_delimiter = ':';
  cfg->buffer_limit = MS_MBSYNC_DEFAULT_BUFFER_LIMIT;
  cfg->accounts = g_ptr_array_new_with_free_func ((GDestroyNotify) account_free);
  cfg->stores = g_ptr_array_new_with_free_func ((GDestroyNotify) store_free);
  cfg->channels = g_ptr_array_new_with_free_func ((GDestroyNotify) channel_free);
  cfg->groups = g_ptr_array_new_with_free_func ((GDestroyNotify) group_free);
  cfg->warnings = g_ptr_array_new_with_free_func (g_free);
  /* Keys are the objects' own name strings. */
  cfg->account_index = g_hash_table_new (g_str_hash, g_str_equal);
  cfg->store_index = g_hash_table_new (g_str_hash, g_str_equal);
  cfg->channel_index = g_hash_table_new (g_str_hash, g_str_equal);
  cfg->group_index = g_hash_table_new (g_str_hash, g_str_equal);
  return cfg;
}

static gboolean
parse_text (Parser *p, const char *text, gsize len, GError **error)
{
  gsize pos = 0;

  if (len > MS_MBSYNCRC_MAX_BYTES) {
    p->line = 1;
    return fail (p, error, "the file is larger than %d bytes", MS_MBSYNCRC_MAX_BYTES);
  }
  while (pos < len) {
    const char *line = text + pos;
    const char *nl = memchr (line, '\n', len - pos);
    gsize n = nl ? (gsize) (nl - line) : len - pos;
    pos += n + (nl ? 1 : 0);
    p->line++;

    if (n > MS_MBSYNCRC_MAX_LINE)
      return fail (p, error, "line is longer than %d bytes", MS_MBSYNCRC_MAX_LINE);
    if (memchr (line, '\0', n) != NULL)
      return fail (p, error, "line contains a NUL byte");

    g_autoptr (GPtrArray) words = g_ptr_array_new_with_free_func (wipe_free);
    gboolean blank;
    if (!split_line (p, line, n, words, &blank, error))
      return FALSE;
    if (blank) {
      if (!end_section (p, error))
        return FALSE;
      continue;
    }
    if (words->len > 0 && !handle_line (p, words, error))
      return FALSE;
  }
  p->line++; /* errors found at the end point just past the last line */
  if (!end_section (p, error))
    return FALSE;
  return resolve (p, error);
}

MsMbsyncConfig *
ms_mbsync_config_parse (const char *filename, const char *text, gsize len, GError **error)
{
  g_return_val_if_fail (filename != NULL, NULL);
  g_return_val_if_fail (text != NULL || len == 0, NULL);

  g_autoptr (MsMbsyncConfig) cfg = config_new (filename);
  Parser p = { .file = cfg->filename, .cfg = cfg, .sec = SEC_GLOBAL };
  p.defaults.pub.ops[MS_MBSYNC_PULL] = MS_MBSYNC_OPS_FULL;
  p.defaults.pub.ops[MS_MBSYNC_PUSH] = MS_MBSYNC_OPS_FULL;
  p.defaults.pub.expire_side = MS_MBSYNC_SIDE_NEAR;
  p.channel = &p.defaults;
  p.patterns = g_ptr_array_new_with_free_func (g_free);

  gboolean ok = parse_text (&p, text, len, error);
  channel_clear (&p.defaults);
  g_ptr_array_unref (p.patterns);
  return ok ? g_steal_pointer (&cfg) : NULL;
}

const MsMbsyncAccount *
ms_mbsync_config_find_account (const MsMbsyncConfig *config, const char *name)
{
  g_return_val_if_fail (config != NULL && name != NULL, NULL);
  return g_hash_table_lookup (config->account_index, name);
}

const MsMbsyncStore *
ms_mbsync_config_find_store (const MsMbsyncConfig *config, const char *name)
{
  g_return_val_if_fail (config != NULL && name != NULL, NULL);
  return g_hash_table_lookup (config->store_index, name);
}

const MsMbsyncChannel *
ms_mbsync_config_find_channel (const MsMbsyncConfig *config, const char *name)
{
  g_return_val_if_fail (config != NULL && name != NULL, NULL);
  return g_hash_table_lookup (config->channel_index, name);
}

const MsMbsyncGroup *
ms_mbsync_config_find_group (const MsMbsyncConfig *config, const char *name)
{
  g_return_val_if_fail (config != NULL && name != NULL, NULL);
  return g_hash_table_lookup (config->group_index, name);
}

/* ---- command-line selection ------------------------------------------------------- */

static gboolean
add_target (GPtrArray *out, const MsMbsyncChannel *channel, char *const *boxes, GError **error)
{
  if (boxes != NULL && channel->patterns == NULL) {
    g_autofree char *q = quote (channel->name);
    g_set_error (error, MS_ERROR, MS_ERROR_CONFIG,
                 "Cannot override mailbox in channel '%s' - no Patterns", q);
    return FALSE;
  }
  MsMbsyncTarget *t = g_new0 (MsMbsyncTarget, 1);
  t->channel = channel;
  t->boxes = g_strdupv ((char **) boxes);
  g_ptr_array_add (out, t);
  return TRUE;
}

static gboolean
add_member (GPtrArray *out, const MsMbsyncGroup *g, const MsMbsyncGroupMember *m, GError **error)
{
  if (m->channel == NULL) {
    g_autofree char *qg = quote (g->name);
    g_autofree char *q = quote (m->channel_name);
    g_set_error (error, MS_ERROR, MS_ERROR_CONFIG, "group '%s' refers to unknown channel '%s'",
                 qg, q);
    return FALSE;
  }
  return add_target (out, m->channel, m->boxes, error);
}

GPtrArray *
ms_mbsync_config_expand_arg (const MsMbsyncConfig *config, const char *arg_, GError **error)
{
  g_return_val_if_fail (config != NULL && arg_ != NULL, NULL);

  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) ms_mbsync_target_free);
  const char *colon = strchr (arg_, ':');
  g_autofree char *name = colon ? g_strndup (arg_, colon - arg_) : g_strdup (arg_);
  g_autofree char *q = quote (name);

  if (name[0] == '\0') {
    g_set_error_literal (error, MS_ERROR, MS_ERROR_CONFIG, "empty channel name");
    return NULL;
  }

  if (colon == NULL) {
    const MsMbsyncGroup *g = ms_mbsync_config_find_group (config, name);
    const MsMbsyncChannel *c = ms_mbsync_config_find_channel (config, name);
    if (g != NULL) {
      for (guint i = 0; i < g->members->len; i++)
        if (!add_member (out, g, g_ptr_array_index (g->members, i), error))
          return NULL;
    } else if (c != NULL) {
      if (!add_target (out, c, NULL, error))
        return NULL;
    } else {
      g_set_error (error, MS_ERROR, MS_ERROR_CONFIG, "No channel or group named '%s' defined", q);
      return NULL;
    }
    return g_steal_pointer (&out);
  }

  const MsMbsyncChannel *c = ms_mbsync_config_find_channel (config, name);
  if (c != NULL) {
    g_auto (GStrv) boxes = split_boxes (colon + 1, ",\n", arg_, error);
    if (boxes == NULL || !add_target (out, c, boxes, error))
      return NULL;
    return g_steal_pointer (&out);
  }

  const MsMbsyncGroup *g = ms_mbsync_config_find_group (config, name);
  if (g == NULL) {
    g_set_error (error, MS_ERROR, MS_ERROR_CONFIG, "No channel or group named '%s' defined", q);
    return NULL;
  }
  /* GROUP:CHANNEL[,CHANNEL...]: the named members, with their group boxes. */
  g_auto (GStrv) wanted = split_boxes (colon + 1, ",\n", arg_, error);
  if (wanted == NULL)
    return NULL;
  for (char **w = wanted; *w; w++) {
    gboolean found = FALSE;
    for (guint i = 0; i < g->members->len; i++) {
      const MsMbsyncGroupMember *m = g_ptr_array_index (g->members, i);
      if (strcmp (m->channel_name, *w) != 0)
        continue;
      found = TRUE;
      if (!add_member (out, g, m, error))
        return NULL;
    }
    if (!found) {
      g_autofree char *qg = quote (g->name);
      g_autofree char *qw = quote (*w);
      g_set_error (error, MS_ERROR, MS_ERROR_CONFIG, "group '%s' has no channel '%s'", qg, qw);
      return NULL;
    }
  }
  return g_steal_pointer (&out);
}

/* ---- patterns ----------------------------------------------------------------------- */

/* Dynamic programming over (pattern prefix, name prefix): row[j] says
 * whether the pattern so far matches name[0..j).  Linear memory, and no
 * backtracking blow-up on patterns like "*a*a*a*b". */
static gboolean
wildcard_match (const char *pattern, const char *name)
{
  gsize n = strlen (name);
  g_autofree guint8 *prev = g_new0 (guint8, n + 1);
  g_autofree guint8 *cur = g_new0 (guint8, n + 1);

  prev[0] = 1;
  for (const char *pc = pattern; *pc; pc++) {
    gboolean any = FALSE;
    if (*pc == '*') {
      guint8 acc = 0;
      for (gsize j = 0; j <= n; j++) {
        acc |= prev[j];
        cur[j] = acc;
      }
    } else if (*pc == '%') {
      cur[0] = prev[0];
      for (gsize j = 1; j <= n; j++)
        cur[j] = prev[j] || (cur[j - 1] && name[j - 1] != '/');
    } else {
      cur[0] = 0;
      for (gsize j = 1; j <= n; j++)
        cur[j] = prev[j - 1] && name[j - 1] == *pc;
    }
    for (gsize j = 0; j <= n && !any; j++)
      any = cur[j];
    if (!any)
      return FALSE;
    guint8 *t = prev;
    prev = cur;
    cur = t;
  }
  return prev[n];
}

static gboolean
in_inbox_tree (const char *name)
{
  return strncmp (name, "INBOX", 5) == 0 && (name[5] == '\0' || name[5] == '/');
}

gboolean
ms_mbsync_pattern_match (const char *pattern, const char *name, gboolean wildcards_match_inbox)
{
  g_return_val_if_fail (pattern != NULL && name != NULL, FALSE);

  if (!wildcards_match_inbox && in_inbox_tree (name)) {
    if (strncmp (pattern, "INBOX", 5) != 0)
      return FALSE;
    return wildcard_match (pattern + 5, name + 5);
  }
  return wildcard_match (pattern, name);
}

gboolean
ms_mbsync_patterns_select (const char *const *patterns, const char *name,
                           gboolean wildcards_match_inbox)
{
  gboolean selected = FALSE;

  g_return_val_if_fail (name != NULL, FALSE);
  for (const char *const *pat = patterns; pat && *pat; pat++) {
    gboolean negate = (*pat)[0] == '!';
    if (ms_mbsync_pattern_match (*pat + (negate ? 1 : 0), name, wildcards_match_inbox))
      selected = !negate;
  }
  return selected;
}

/* ---- paths --------------------------------------------------------------------------- */

char *
ms_mbsync_expand_path (const char *path, const char *home, const char *base_dir, GError **error)
{
  g_return_val_if_fail (path != NULL && home != NULL, NULL);

  if (path[0] == '~')
    return ms_path_expand_tilde (path, home, error);
  if (path[0] == '/' || base_dir == NULL || path[0] == '\0')
    return g_strdup (path);
  gsize bl = strlen (base_dir);
  gboolean slash = bl > 0 && base_dir[bl - 1] == '/';
  return g_strconcat (base_dir, slash ? "" : "/", path, NULL);
}
