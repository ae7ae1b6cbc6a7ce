/* ssh-config.c — see ssh-config.h for the grammar and the rules.
 *
 * One pass over the lines of each file, Include reading the named files in
 * place.  The state of a pass is where we are (file, line, depth) and
 * whether the current block applies: `active`, set by every Host and Match
 * line, and `never_match`, set for a file included from a block that does
 * not apply, in which no Host line can make anything apply (ssh's
 * SSHCONF_NEVERMATCH).  Each included file gets a state of its own, so its
 * Host and Match lines end with it.
 *
 * Every line is split into words and every value of the options we use is
 * checked whether the block applies or not, so that a mistake is reported
 * on the day it is written, not on the day a host first matches it.
 * Token expansion (HostName's %h; the file names' tokens) is checked only
 * when a value is taken, as ssh does.
 */
#include "ssh-config.h"

#include <string.h>

#include "mailbox-name.h"
#include "ms-error.h"
#include "ms-path.h"

/* How much of a user's word a message quotes. */
#define QUOTE_MAX 80

typedef enum {
  KEY_OTHER,
  KEY_HOST,
  KEY_MATCH,
  KEY_INCLUDE,
  KEY_HOST_NAME,
  KEY_PORT,
  KEY_USER,
  KEY_IDENTITY_FILE,
  KEY_IDENTITIES_ONLY,
  KEY_USER_KNOWN_HOSTS,
  KEY_GLOBAL_KNOWN_HOSTS,
  KEY_HOST_KEY_ALIAS,
  KEY_CONNECT_TIMEOUT,
  KEY_SERVER_ALIVE_INTERVAL,
  KEY_SERVER_ALIVE_COUNT_MAX,
  KEY_PROXY_JUMP,
  KEY_PROXY_COMMAND,
} Key;

static const struct {
  const char *name; /* as ssh_config(5) spells it, for messages */
  Key key;
} keywords[] = {
  { "Host", KEY_HOST },
  { "Match", KEY_MATCH },
  { "Include", KEY_INCLUDE },
  { "HostName", KEY_HOST_NAME },
  { "Port", KEY_PORT },
  { "User", KEY_USER },
  { "IdentityFile", KEY_IDENTITY_FILE },
  { "IdentitiesOnly", KEY_IDENTITIES_ONLY },
  { "UserKnownHostsFile", KEY_USER_KNOWN_HOSTS },
  { "GlobalKnownHostsFile", KEY_GLOBAL_KNOWN_HOSTS },
  { "HostKeyAlias", KEY_HOST_KEY_ALIAS },
  { "ConnectTimeout", KEY_CONNECT_TIMEOUT },
  { "ServerAliveInterval", KEY_SERVER_ALIVE_INTERVAL },
  { "ServerAliveCountMax", KEY_SERVER_ALIVE_COUNT_MAX },
  { "ProxyJump", KEY_PROXY_JUMP },
  { "ProxyCommand", KEY_PROXY_COMMAND },
};

/* What one resolution shares across files. */
typedef struct {
  const MsSshConfigFiles *files;
  const char *host;
  char *host_lower; /* for matching: patterns are case-insensitive */
  const char *home;
  MsSshHostConfig *cfg;
  guint files_read;
} Resolver;

/* Where a pass is, in one file. */
typedef struct {
  const char *file;
  guint line;
  guint depth;       /* 0 for the top file */
  gboolean active;   /* the current block applies */
  gboolean never_match;
  gboolean unevaluated; /* the current block is a Match block not evaluated */
} Place;

/* --- messages ------------------------------------------------------------ */

G_GNUC_PRINTF (4, 5) static gboolean
fail (const Place *at, int code, GError **error, const char *fmt, ...)
{
  va_list args;
  va_start (args, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, args);
  va_end (args);
  g_set_error (error, MS_ERROR, code, "%s:%u: %s", at->file, at->line, msg);
  return FALSE;
}

static char *
quote (const char *word)
{
  return ms_mailbox_name_for_log (word, strlen (word), QUOTE_MAX);
}

static char *
where (const Place *at)
{
  return g_strdup_printf ("%s:%u", at->file, at->line);
}

/* --- words ------------------------------------------------------------------ */

static gboolean
is_blank (char c)
{
  return c == ' ' || c == '\t';
}

/* Splits text[0..end) into words as ssh does (see ssh-config.h). */
static gboolean
split_words (const Place *at, const char *p, const char *end, GPtrArray *words, GError **error)
{
  for (;;) {
    while (p < end && is_blank (*p))
      p++;
    if (p == end || *p == '#')
      return TRUE;
    g_autoptr (GString) word = g_string_new (NULL);
    char quote_char = 0;
    for (; p < end && (quote_char != 0 || !is_blank (*p)); p++) {
      if (*p == '\\' && p + 1 < end &&
          (p[1] == '"' || p[1] == '\'' || p[1] == '\\' || (quote_char == 0 && p[1] == ' ')))
        g_string_append_c (word, *++p);
      else if (quote_char == 0 && (*p == '"' || *p == '\''))
        quote_char = *p;
      else if (quote_char != 0 && *p == quote_char)
        quote_char = 0;
      else
        g_string_append_c (word, *p);
    }
    if (quote_char != 0)
      return fail (at, MS_ERROR_CONFIG, error, "unterminated %s quote",
                   quote_char == '"' ? "double" : "single");
    g_ptr_array_add (words, g_string_free (g_steal_pointer (&word), FALSE));
  }
}

/* --- values ---------------------------------------------------------------- */

static gboolean
one_value (const Place *at, const char *name, const GPtrArray *words, GError **error)
{
  if (words->len != 1)
    return fail (at, MS_ERROR_CONFIG, error, "%s takes one value, not %u", name, words->len);
  if (((const char *) words->pdata[0])[0] == '\0')
    return fail (at, MS_ERROR_CONFIG, error, "%s: the value is empty", name);
  return TRUE;
}

static gboolean
parse_count (const Place *at, const char *name, const char *value, int min, int max, int *out,
             GError **error)
{
  guint64 n;
  if (!g_ascii_string_to_unsigned (value, 10, (guint64) min, (guint64) max, &n, NULL)) {
    g_autofree char *shown = quote (value);
    return fail (at, MS_ERROR_CONFIG, error, "%s must be a number from %d to %d, not \"%s\"", name,
                 min, max, shown);
  }
  *out = (int) n;
  return TRUE;
}

gboolean
ms_ssh_config_parse_flag (const char *value, int *out)
{
  static const struct {
    const char *word;
    int value;
  } flags[] = { { "yes", 1 }, { "no", 0 }, { "true", 1 }, { "false", 0 } };
  g_return_val_if_fail (value != NULL && out != NULL, FALSE);
  for (guint i = 0; i < G_N_ELEMENTS (flags); i++) {
    if (g_ascii_strcasecmp (value, flags[i].word) == 0) {
      *out = flags[i].value;
      return TRUE;
    }
  }
  return FALSE;
}

/* A time as ssh takes it: one or more NUMBER[UNIT], UNIT one of s, m, h,
 * d, w (either case; none: seconds), added up ("1m30s" is 90). */
static gboolean
parse_time (const Place *at, const char *name, const char *value, int *out, GError **error)
{
  gint64 total = 0;
  const char *p = value;
  gboolean good = *p != '\0';
  while (good && *p != '\0') {
    gint64 n = 0;
    if (!g_ascii_isdigit (*p)) {
      good = FALSE;
      break;
    }
    for (; g_ascii_isdigit (*p) && n <= MS_SSH_CONFIG_NUMBER_MAX; p++)
      n = n * 10 + (*p - '0');
    gint64 unit = 1;
    switch (g_ascii_tolower (*p)) {
    case '\0':
      break;
    case 's':
      p++;
      break;
    case 'm':
      unit = 60;
      p++;
      break;
    case 'h':
      unit = 60 * 60;
      p++;
      break;
    case 'd':
      unit = 24 * 60 * 60;
      p++;
      break;
    case 'w':
      unit = 7 * 24 * 60 * 60;
      p++;
      break;
    default:
      good = FALSE;
      break;
    }
    if (n > MS_SSH_CONFIG_NUMBER_MAX || n * unit > MS_SSH_CONFIG_NUMBER_MAX - total) {
      g_autofree char *shown = quote (value);
      return fail (at, MS_ERROR_CONFIG, error, "%s \"%s\" is more than %d seconds", name, shown,
                   MS_SSH_CONFIG_NUMBER_MAX);
    }
    total += n * unit;
  }
  if (!good) {
    g_autofree char *shown = quote (value);
    return fail (at, MS_ERROR_CONFIG, error,
                 "%s must be a time such as 30, 30s, 5m or 1h30m, not \"%s\"", name, shown);
  }
  *out = (int) total;
  return TRUE;
}

static void
take_string (MsSshConfigString *slot, const Place *at, const char *value)
{
  if (!at->active || slot->value != NULL)
    return;
  slot->value = g_strdup (value);
  slot->where = where (at);
}

static void
take_number (MsSshConfigNumber *slot, const Place *at, int value)
{
  if (!at->active || slot->value != -1)
    return;
  slot->value = value;
  slot->where = where (at);
}

static void
string_clear (MsSshConfigString *s)
{
  g_clear_pointer (&s->value, g_free);
  g_clear_pointer (&s->where, g_free);
}

void
ms_ssh_config_string_free (gpointer data)
{
  string_clear (data);
  g_free (data);
}

/* --- tokens ----------------------------------------------------------------- */

/* Expands the %-tokens of `value` that `allowed` lists (as "dhn..."). */
static char *
expand_tokens (const char *value, const char *allowed, const MsSshTokens *t, GError **error)
{
  g_autofree char *uid = g_strdup_printf ("%u", t->uid);
  g_autofree char *port = g_strdup_printf ("%u", t->port);
  g_autofree char *short_host =
    t->local_host != NULL ? g_strndup (t->local_host, strcspn (t->local_host, ".")) : NULL;
  const struct {
    char token;
    const char *value;
  } values[] = {
    { 'd', t->home },
    { 'h', t->host },
    { 'i', uid },
    { 'k', t->host_key_alias != NULL ? t->host_key_alias : t->original_host },
    { 'L', short_host },
    { 'l', t->local_host },
    { 'n', t->original_host },
    { 'p', port },
    { 'r', t->remote_user },
    { 'u', t->local_user },
  };

  g_autoptr (GString) out = g_string_new (NULL);
  for (const char *p = value; *p != '\0'; p++) {
    if (*p != '%') {
      g_string_append_c (out, *p);
      continue;
    }
    char token = *++p;
    if (token == '\0') {
      g_set_error (error, MS_ERROR, MS_ERROR_CONFIG,
                   "\"%s\" ends with a lone %% (write %%%% for a %% sign)", value);
      return NULL;
    }
    if (token == '%') {
      g_string_append_c (out, '%');
      continue;
    }
    const char *replacement = NULL;
    for (guint i = 0; i < G_N_ELEMENTS (values); i++)
      if (values[i].token == token && strchr (allowed, token) != NULL)
        replacement = values[i].value;
    if (replacement == NULL) {
      g_autofree char *shown = g_ascii_isgraph (token)
                                 ? g_strdup_printf ("%c", token)
                                 : g_strdup_printf ("\\x%02x", (guchar) token);
      g_set_error (error, MS_ERROR, MS_ERROR_CONFIG, "\"%s\": unknown token %%%s", value, shown);
      return NULL;
    }
    g_string_append (out, replacement);
  }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

char *
ms_ssh_config_expand_host_name (const char *value, const char *host, GError **error)
{
  g_return_val_if_fail (value != NULL && host != NULL, NULL);
  MsSshTokens t = { .host = host };
  return expand_tokens (value, "h", &t, error);
}

char *
ms_ssh_config_expand (const char *value, const MsSshTokens *t, GError **error)
{
  g_return_val_if_fail (value != NULL && t != NULL && t->home != NULL && t->local_user != NULL &&
                          t->local_host != NULL && t->host != NULL && t->original_host != NULL &&
                          t->remote_user != NULL,
                        NULL);
  /* "~" first, as ssh does; the home directory is not subject to token
   * expansion, so its '%' signs are escaped. */
  g_auto (GStrv) parts = g_strsplit (t->home, "%", -1);
  g_autofree char *home = g_strjoinv ("%%", parts);
  g_autofree char *tilde = ms_path_expand_tilde (value, home, error);
  if (tilde == NULL)
    return NULL;
  return expand_tokens (tilde, "dhikLlnpru", t, error);
}

/* --- the lines ---------------------------------------------------------------- */

static gboolean parse_file (Resolver *r, const char *file, const char *text, gsize len,
                            const Place *from, GError **error);

/* ssh's pattern matching: '*' any run of bytes, '?' one byte, every
 * other byte itself; on bytes, not characters (GLib's matcher asserts on a
 * pattern that is not UTF-8, and a configuration file may hold anything).
 * Both strings are lower case already. */
static gboolean
glob_match (const char *pattern, const char *s)
{
  const char *star = NULL, *resume = NULL;
  while (*s != '\0') {
    if (*pattern == '*') {
      star = pattern++;
      resume = s;
    } else if (*pattern != '\0' && (*pattern == '?' || *pattern == *s)) {
      pattern++;
      s++;
    } else if (star != NULL) {
      pattern = star + 1;
      s = ++resume;
    } else {
      return FALSE;
    }
  }
  while (*pattern == '*')
    pattern++;
  return *pattern == '\0';
}

/* Does the host match this Host line's patterns? */
static gboolean
host_matches (const Resolver *r, const GPtrArray *patterns)
{
  gboolean matched = FALSE;
  for (guint i = 0; i < patterns->len; i++) {
    const char *pattern = patterns->pdata[i];
    gboolean negated = pattern[0] == '!';
    g_autofree char *lower = g_ascii_strdown (pattern + (negated ? 1 : 0), -1);
    if (!glob_match (lower, r->host_lower))
      continue;
    if (negated)
      return FALSE; /* a negated match wins over every other pattern */
    matched = TRUE;
  }
  return matched;
}

static gboolean
include_files (Resolver *r, const Place *at, const GPtrArray *words, GError **error)
{
  for (guint i = 0; i < words->len; i++) {
    const char *word = words->pdata[i];
    g_autoptr (GError) local = NULL;
    g_autofree char *pattern = ms_path_expand_tilde (word, r->home, &local);
    if (pattern == NULL)
      return fail (at, MS_ERROR_CONFIG, error, "Include %s", local->message);
    if (!g_path_is_absolute (pattern)) {
      g_autofree char *relative = g_steal_pointer (&pattern);
      pattern = g_build_filename (r->home, ".ssh", relative, NULL);
    }

    if (at->depth >= MS_SSH_CONFIG_INCLUDE_DEPTH_MAX)
      return fail (at, MS_ERROR_LIMIT, error,
                   "Include nested more than %d deep (does a file include itself?)",
                   MS_SSH_CONFIG_INCLUDE_DEPTH_MAX);
    if (r->files == NULL)
      return fail (at, MS_ERROR_CONFIG, error, "Include is not possible here");

    g_auto (GStrv) paths = r->files->expand (r->files->user_data, pattern, &local);
    if (paths == NULL)
      return fail (at, MS_ERROR_CONFIG, error, "Include %s: %s", pattern, local->message);
    for (char **path = paths; *path != NULL; path++) {
      if (++r->files_read > MS_SSH_CONFIG_FILES_MAX)
        return fail (at, MS_ERROR_LIMIT, error,
                     "Include %s: more than %d configuration files in all", *path,
                     MS_SSH_CONFIG_FILES_MAX);
      g_autofree char *text = NULL;
      gsize len = 0;
      if (!r->files->read (r->files->user_data, *path, &text, &len, &local)) {
        if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
          g_clear_error (&local);
          continue; /* gone since the glob, or a dangling link: as ssh */
        }
        return fail (at, MS_ERROR_CONFIG, error, "Include %s: %s", *path, local->message);
      }
      /* The included file starts in the includer's block; nothing in it
       * applies if that block does not. */
      if (!parse_file (r, *path, text, len, at, error))
        return FALSE;
    }
  }
  return TRUE;
}

static gboolean
known_hosts_line (const Place *at, const char *name, MsSshConfigList *slot,
                  const GPtrArray *words, GError **error)
{
  if (words->len > MS_SSH_CONFIG_KNOWN_HOSTS_MAX)
    return fail (at, MS_ERROR_LIMIT, error, "%s names more than %d files", name,
                 MS_SSH_CONFIG_KNOWN_HOSTS_MAX);
  if (!at->active || slot->where != NULL)
    return TRUE;
  GPtrArray *files = g_ptr_array_new ();
  for (guint i = 0; i < words->len; i++) {
    const char *w = words->pdata[i];
    if (*w != '\0' && g_ascii_strcasecmp (w, "none") != 0)
      g_ptr_array_add (files, g_strdup (w));
  }
  g_ptr_array_add (files, NULL);
  slot->values = (char **) g_ptr_array_free (files, FALSE);
  slot->where = where (at);
  return TRUE;
}

static gboolean
option_line (Resolver *r, Place *at, Key key, const char *name, const GPtrArray *words,
             GError **error)
{
  MsSshHostConfig *cfg = r->cfg;
  const char *value = words->pdata[0];
  int n = 0;

  switch (key) {
  case KEY_HOST:
    at->active = !at->never_match && host_matches (r, words);
    at->unevaluated = FALSE;
    return TRUE;

  case KEY_MATCH:
    /* Not evaluated (see ssh-config.h), but "Match all" is plain. */
    at->active = !at->never_match && words->len == 1 && g_ascii_strcasecmp (value, "all") == 0;
    at->unevaluated = !at->active && !at->never_match;
    return TRUE;

  case KEY_INCLUDE:
    return include_files (r, at, words, error);

  case KEY_HOST_NAME:
    if (!one_value (at, name, words, error))
      return FALSE;
    if (at->active && cfg->host_name.value == NULL) {
      g_autoptr (GError) local = NULL;
      g_autofree char *expanded = ms_ssh_config_expand_host_name (value, r->host, &local);
      if (expanded == NULL)
        return fail (at, MS_ERROR_CONFIG, error, "%s %s", name, local->message);
      take_string (&cfg->host_name, at, expanded);
    }
    return TRUE;

  case KEY_PORT:
    if (!one_value (at, name, words, error) || !parse_count (at, name, value, 1, 65535, &n, error))
      return FALSE;
    take_number (&cfg->port, at, n);
    return TRUE;

  case KEY_USER:
  case KEY_HOST_KEY_ALIAS:
    if (!one_value (at, name, words, error))
      return FALSE;
    take_string (key == KEY_USER ? &cfg->user : &cfg->host_key_alias, at, value);
    return TRUE;

  case KEY_IDENTITY_FILE:
    if (!one_value (at, name, words, error))
      return FALSE;
    if (at->active) {
      if (cfg->identities->len >= MS_SSH_CONFIG_IDENTITIES_MAX)
        return fail (at, MS_ERROR_LIMIT, error, "more than %d IdentityFile lines apply",
                     MS_SSH_CONFIG_IDENTITIES_MAX);
      MsSshConfigString *id = g_new0 (MsSshConfigString, 1);
      take_string (id, at, value);
      g_ptr_array_add (cfg->identities, id);
    }
    return TRUE;

  case KEY_IDENTITIES_ONLY:
    if (!one_value (at, name, words, error))
      return FALSE;
    if (!ms_ssh_config_parse_flag (value, &n)) {
      g_autofree char *shown = quote (value);
      return fail (at, MS_ERROR_CONFIG, error, "%s must be yes or no, not \"%s\"", name, shown);
    }
    take_number (&cfg->identities_only, at, n);
    return TRUE;

  case KEY_USER_KNOWN_HOSTS:
    return known_hosts_line (at, name, &cfg->user_known_hosts, words, error);
  case KEY_GLOBAL_KNOWN_HOSTS:
    return known_hosts_line (at, name, &cfg->global_known_hosts, words, error);

  case KEY_CONNECT_TIMEOUT:
  case KEY_SERVER_ALIVE_INTERVAL:
    if (!one_value (at, name, words, error) || !parse_time (at, name, value, &n, error))
      return FALSE;
    take_number (key == KEY_CONNECT_TIMEOUT ? &cfg->connect_timeout : &cfg->server_alive_interval,
                 at, n);
    return TRUE;

  case KEY_SERVER_ALIVE_COUNT_MAX:
    if (!one_value (at, name, words, error) ||
        !parse_count (at, name, value, 0, MS_SSH_CONFIG_NUMBER_MAX, &n, error))
      return FALSE;
    take_number (&cfg->server_alive_count_max, at, n);
    return TRUE;

  case KEY_PROXY_JUMP:
  case KEY_PROXY_COMMAND:
    /* Whichever of the two comes first decides, "none" included.  One in
     * a Match block ssh might apply is kept aside, if nothing decided
     * before it. */
    if ((at->active || at->unevaluated) && cfg->proxy.value == NULL && cfg->unevaluated_proxy.value == NULL) {
      g_autofree char *joined = g_strjoinv (" ", (char **) words->pdata);
      if (at->active) {
        take_string (&cfg->proxy, at, joined);
        cfg->proxy_keyword = key == KEY_PROXY_JUMP ? "ProxyJump" : "ProxyCommand";
      } else if (g_ascii_strcasecmp (joined, "none") != 0) {
        cfg->unevaluated_proxy.value = g_steal_pointer (&joined);
        cfg->unevaluated_proxy.where = where (at);
        cfg->unevaluated_proxy_keyword = key == KEY_PROXY_JUMP ? "ProxyJump" : "ProxyCommand";
      }
    }
    return TRUE;

  case KEY_OTHER:
  default:
    return TRUE;
  }
}

/* One line, without its end of line. */
static gboolean
parse_line (Resolver *r, Place *at, const char *p, const char *end, GError **error)
{
  if (memchr (p, '\0', (gsize) (end - p)) != NULL)
    return fail (at, MS_ERROR_CONFIG, error, "a NUL byte");
  if (end - p > MS_SSH_CONFIG_LINE_MAX)
    return fail (at, MS_ERROR_LIMIT, error, "a line longer than %d bytes", MS_SSH_CONFIG_LINE_MAX);
  while (end > p && g_ascii_isspace (end[-1]))
    end--;
  while (p < end && is_blank (*p))
    p++;
  if (p == end || *p == '#')
    return TRUE;

  /* The keyword ends at white space or at one '=', which may have white
   * space on either side. */
  const char *kw = p;
  while (p < end && !is_blank (*p) && *p != '=')
    p++;
  g_autofree char *keyword = g_strndup (kw, (gsize) (p - kw));
  while (p < end && is_blank (*p))
    p++;
  if (p < end && *p == '=') {
    p++;
    while (p < end && is_blank (*p))
      p++;
  }
  if (*keyword == '\0')
    return fail (at, MS_ERROR_CONFIG, error, "a line without a keyword");

  Key key = KEY_OTHER;
  const char *name = keyword;
  for (guint i = 0; i < G_N_ELEMENTS (keywords); i++) {
    if (g_ascii_strcasecmp (keyword, keywords[i].name) == 0) {
      key = keywords[i].key;
      name = keywords[i].name;
      break;
    }
  }

  /* NULL-terminated, for g_strjoinv(). */
  g_autoptr (GPtrArray) words = g_ptr_array_new_null_terminated (0, g_free, TRUE);
  if (!split_words (at, p, end, words, error))
    return FALSE;
  if (words->len == 0) {
    g_autofree char *shown = quote (name);
    return fail (at, MS_ERROR_CONFIG, error, "%s has no value", shown);
  }
  return option_line (r, at, key, name, words, error);
}

/* Parses a file included from `from`, whose block it starts in (the top
 * file: `from` NULL). */
static gboolean
parse_file (Resolver *r, const char *file, const char *text, gsize len, const Place *from,
            GError **error)
{
  Place at = { .file = file, .line = 0, .depth = 0, .active = TRUE, .never_match = FALSE,
               .unevaluated = FALSE };
  if (from != NULL) {
    at.depth = from->depth + 1;
    at.active = from->active;
    at.never_match = from->never_match || !from->active;
    at.unevaluated = from->unevaluated;
  }
  if (len > MS_SSH_CONFIG_FILE_MAX) {
    g_set_error (error, MS_ERROR, MS_ERROR_LIMIT, "%s: larger than %d bytes", file,
                 MS_SSH_CONFIG_FILE_MAX);
    return FALSE;
  }
  const char *p = text, *end = text + len;
  while (p < end) {
    const char *eol = memchr (p, '\n', (gsize) (end - p));
    const char *line_end = eol != NULL ? eol : end;
    at.line++;
    if (!parse_line (r, &at, p, line_end, error))
      return FALSE;
    p = eol != NULL ? eol + 1 : end;
  }
  return TRUE;
}

/* --- the whole ------------------------------------------------------------------ */

MsSshHostConfig *
ms_ssh_config_resolve (const char *file, const char *text, gsize len, const char *host,
                       const char *home, const MsSshConfigFiles *files, GError **error)
{
  g_return_val_if_fail (file != NULL && (text != NULL || len == 0) && host != NULL && home != NULL,
                        NULL);
  g_autoptr (MsSshHostConfig) cfg = g_new0 (MsSshHostConfig, 1);
  cfg->port.value = -1;
  cfg->connect_timeout.value = -1;
  cfg->server_alive_interval.value = -1;
  cfg->server_alive_count_max.value = -1;
  cfg->identities_only.value = -1;
  cfg->identities = g_ptr_array_new_with_free_func (ms_ssh_config_string_free);

  g_autofree char *host_lower = g_ascii_strdown (host, -1);
  Resolver r = { .files = files, .host = host, .host_lower = host_lower, .home = home,
                 .cfg = cfg };
  if (!parse_file (&r, file, text, len, NULL, error))
    return NULL;
  return g_steal_pointer (&cfg);
}

gboolean
ms_ssh_host_config_check_proxy (const MsSshHostConfig *cfg, GError **error)
{
  g_return_val_if_fail (cfg != NULL, FALSE);
  if (cfg->proxy.value == NULL && cfg->unevaluated_proxy.value != NULL) {
    g_autofree char *shown = quote (cfg->unevaluated_proxy.value);
    g_set_error (error, MS_ERROR, MS_ERROR_CONFIG,
                 "%s: %s %s is in a Match block, which watch_ssh does not evaluate; it may apply to "
                 "this host, and watch_ssh cannot connect through another host or a command (give "
                 "-o %s=none if this host is reached directly)",
                 cfg->unevaluated_proxy.where, cfg->unevaluated_proxy_keyword, shown,
                 cfg->unevaluated_proxy_keyword);
    return FALSE;
  }
  if (cfg->proxy.value == NULL || g_ascii_strcasecmp (cfg->proxy.value, "none") == 0)
    return TRUE;
  g_autofree char *shown = quote (cfg->proxy.value);
  g_set_error (error, MS_ERROR, MS_ERROR_CONFIG,
               "%s: %s %s: watch_ssh cannot connect through another host or a command; it makes "
               "its own connection (reach the host directly, or give -o %s=none to connect "
               "directly on purpose)",
               cfg->proxy.where, cfg->proxy_keyword, shown, cfg->proxy_keyword);
  return FALSE;
}

void
ms_ssh_host_config_free (MsSshHostConfig *cfg)
{
  if (cfg == NULL)
    return;
  string_clear (&cfg->host_name);
  string_clear (&cfg->user);
  string_clear (&cfg->host_key_alias);
  string_clear (&cfg->proxy);
  string_clear (&cfg->unevaluated_proxy);
  g_strfreev (cfg->user_known_hosts.values);
  g_free (cfg->user_known_hosts.where);
  g_strfreev (cfg->global_known_hosts.values);
  g_free (cfg->global_known_hosts.where);
  g_free (cfg->port.where);
  g_free (cfg->connect_timeout.where);
  g_free (cfg->server_alive_interval.where);
  g_free (cfg->server_alive_count_max.where);
  g_free (cfg->identities_only.where);
  g_clear_pointer (&cfg->identities, g_ptr_array_unref);
  g_free (cfg);
}
