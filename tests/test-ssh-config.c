/* test-ssh-config.c — ssh_config(5) as watch_ssh reads it: Host patterns
 * and negation, first value wins, the line forms and quoting, Include
 * (against fake files), Match, ProxyJump/ProxyCommand, IdentitiesOnly,
 * the file name tokens, and every error with its file and line. */
#include <glib.h>
#include <string.h>

#include "ms-error.h"
#include "ssh-config.h"

#define HOME "/home/me"

/* Files for Include: path → text.  A pattern without wildcards names its
 * path whether it exists or not, so that a missing file reaches read(). */
typedef struct {
  GHashTable *files;
  guint reads;
} FakeFiles;

static char **
fake_expand (gpointer data, const char *pattern, GError **error)
{
  FakeFiles *fake = data;
  if (strstr (pattern, "unlistable") != NULL) {
    g_set_error_literal (error, G_FILE_ERROR, G_FILE_ERROR_ACCES, "permission denied");
    return NULL;
  }
  GPtrArray *paths = g_ptr_array_new ();
  if (strpbrk (pattern, "*?") == NULL) {
    g_ptr_array_add (paths, g_strdup (pattern));
  } else {
    g_autoptr (GList) keys = g_hash_table_get_keys (fake->files);
    keys = g_list_sort (keys, (GCompareFunc) strcmp);
    for (GList *k = keys; k != NULL; k = k->next)
      if (g_pattern_match_simple (pattern, k->data))
        g_ptr_array_add (paths, g_strdup (k->data));
  }
  g_ptr_array_add (paths, NULL);
  return (char **) g_ptr_array_free (paths, FALSE);
}

static gboolean
fake_read (gpointer data, const char *path, char **text, gsize *len, GError **error)
{
  FakeFiles *fake = data;
  fake->reads++;
  const char *found = g_hash_table_lookup (fake->files, path);
  if (found == NULL) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s: no such file", path);
    return FALSE;
  }
  if (strcmp (found, "UNREADABLE") == 0) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_ACCES, "cannot read %s: denied", path);
    return FALSE;
  }
  *text = g_strdup (found);
  *len = strlen (found);
  return TRUE;
}

static FakeFiles fake;
static const MsSshConfigFiles fake_files = { fake_expand, fake_read, &fake };

static void
fake_reset (void)
{
  g_clear_pointer (&fake.files, g_hash_table_unref);
  fake.files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  fake.reads = 0;
}

static void
fake_add (const char *path, const char *text)
{
  g_hash_table_insert (fake.files, g_strdup (path), g_strdup (text));
}

static MsSshHostConfig *
resolve (const char *text, const char *host)
{
  g_autoptr (GError) error = NULL;
  MsSshHostConfig *cfg =
    ms_ssh_config_resolve ("cfg", text, strlen (text), host, HOME, &fake_files, &error);
  g_assert_no_error (error);
  g_assert_nonnull (cfg);
  return cfg;
}

static void
assert_error_len (const char *text, gsize len, const char *host, int code, const char *message)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MsSshHostConfig) cfg =
    ms_ssh_config_resolve ("cfg", text, len, host, HOME, &fake_files, &error);
  g_assert_null (cfg);
  g_assert_error (error, MS_ERROR, code);
  g_assert_cmpstr (error->message, ==, message);
}

static void
assert_error (const char *text, const char *host, int code, const char *message)
{
  assert_error_len (text, strlen (text), host, code, message);
}

static const char *
identity (const MsSshHostConfig *cfg, guint i)
{
  g_assert_cmpuint (i, <, cfg->identities->len);
  return ((const MsSshConfigString *) cfg->identities->pdata[i])->value;
}

/* --- Host ---------------------------------------------------------------- */

static void
test_host_patterns (void)
{
  const char *text = "Host mail*.example.org ?ox\n"
                     "  User a\n"
                     "Host *\n"
                     "  User z\n";
  static const struct {
    const char *host, *user;
  } cases[] = {
    { "mail.example.org", "a" },  { "mail2.example.org", "a" }, { "MAIL.Example.ORG", "a" },
    { "box", "a" },               { "fox", "a" },               { "boxes", "z" },
    { "ox", "z" },                { "mail.example.com", "z" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (MsSshHostConfig) cfg = resolve (text, cases[i].host);
    g_assert_cmpstr (cfg->user.value, ==, cases[i].user);
  }
}

static void
test_host_negation (void)
{
  const char *text = "Host *.example.org !secret.example.org\n"
                     "  Port 2222\n"
                     "Host !nothing\n"
                     "  User negated-only\n"
                     "Host !*.internal *\n"
                     "  HostKeyAlias outside\n";
  g_autoptr (MsSshHostConfig) a = resolve (text, "a.example.org");
  g_assert_cmpint (a->port.value, ==, 2222);
  g_assert_cmpstr (a->host_key_alias.value, ==, "outside");
  g_autoptr (MsSshHostConfig) secret = resolve (text, "Secret.Example.Org");
  g_assert_cmpint (secret->port.value, ==, -1);
  g_assert_null (secret->port.where);
  /* A Host line of negated patterns only never matches. */
  g_assert_null (a->user.value);
  g_assert_null (secret->user.value);
  g_autoptr (MsSshHostConfig) inside = resolve (text, "db.internal");
  g_assert_null (inside->host_key_alias.value);
}

/* '*' and '?' on bytes: several stars, backtracking, and a pattern that
 * is not UTF-8 (GLib's matcher aborts on one; the fuzzer found that). */
static void
test_host_globs (void)
{
  const char *text = "Host a*b*c\n"
                     "  Port 1001\n"
                     "Host h?st\n"
                     "  User one-char\n"
                     "Host caf\351* *\377\n"
                     "  HostKeyAlias latin1\n";
  g_autoptr (MsSshHostConfig) abc = resolve (text, "aXbYbZc");
  g_assert_cmpint (abc->port.value, ==, 1001);
  g_autoptr (MsSshHostConfig) abx = resolve (text, "abcx");
  g_assert_cmpint (abx->port.value, ==, -1);
  g_autoptr (MsSshHostConfig) host = resolve (text, "HOST");
  g_assert_cmpstr (host->user.value, ==, "one-char");
  g_autoptr (MsSshHostConfig) hoost = resolve (text, "hoost");
  g_assert_null (hoost->user.value);
  g_assert_null (hoost->host_key_alias.value);
  g_autoptr (MsSshHostConfig) latin1 = resolve (text, "caf\351.example");
  g_assert_cmpstr (latin1->host_key_alias.value, ==, "latin1");
}

static void
test_first_value_wins (void)
{
  const char *text = "Port 1\n"
                     "Host a\n"
                     "  Port 2\n"
                     "  HostName first\n"
                     "  HostName second\n"
                     "Host *\n"
                     "  HostName third\n"
                     "  User u\n"
                     "  UserKnownHostsFile /kh/1\n"
                     "  UserKnownHostsFile /kh/2\n";
  g_autoptr (MsSshHostConfig) a = resolve (text, "a");
  g_assert_cmpint (a->port.value, ==, 1);
  g_assert_cmpstr (a->port.where, ==, "cfg:1");
  g_assert_cmpstr (a->host_name.value, ==, "first");
  g_assert_cmpstr (a->host_name.where, ==, "cfg:4");
  g_assert_cmpstr (a->user.value, ==, "u");
  g_assert_cmpstr (a->user_known_hosts.values[0], ==, "/kh/1");
  g_assert_null (a->user_known_hosts.values[1]);
  g_assert_cmpstr (a->user_known_hosts.where, ==, "cfg:9");
  g_autoptr (MsSshHostConfig) b = resolve (text, "b");
  g_assert_cmpstr (b->host_name.value, ==, "third");
}

/* --- the forms of a line ---------------------------------------------------- */

static void
test_line_forms (void)
{
  const char *text = "hOsTnAmE=h1\n"
                     "PORT = 22\n"
                     "user =bob\n"
                     "ServerAliveInterval= 1m30s\n"
                     "  \t ConnectTimeout \t 10\n"
                     "ServerAliveCountMax\t0\n"
                     "\t# a comment\n"
                     "#Port 99\n"
                     "\n"
                     "   \n"
                     "NoSuchKeyword is ignored \"entirely\"\n"
                     "HostKeyAlias alias # a comment after the value\n";
  g_autoptr (MsSshHostConfig) cfg = resolve (text, "x");
  g_assert_cmpstr (cfg->host_name.value, ==, "h1");
  g_assert_cmpint (cfg->port.value, ==, 22);
  g_assert_cmpstr (cfg->user.value, ==, "bob");
  g_assert_cmpint (cfg->server_alive_interval.value, ==, 90);
  g_assert_cmpint (cfg->connect_timeout.value, ==, 10);
  g_assert_cmpstr (cfg->connect_timeout.where, ==, "cfg:5");
  g_assert_cmpint (cfg->server_alive_count_max.value, ==, 0);
  g_assert_cmpstr (cfg->host_key_alias.value, ==, "alias");
}

static void
test_crlf_and_no_final_newline (void)
{
  g_autoptr (MsSshHostConfig) cfg = resolve ("Host a\r\n  Port 2\r\n  User last", "a");
  g_assert_cmpint (cfg->port.value, ==, 2);
  g_assert_cmpstr (cfg->user.value, ==, "last");
}

static void
test_quoting (void)
{
  const char *text = "IdentityFile \"~/.ssh/my key\"\n"
                     "IdentityFile '/k/a \"b\"'\n"
                     "IdentityFile /k/back\\ slash\n"
                     "IdentityFile /k/#not-a-comment # a comment\n"
                     "IdentityFile \"/k/q\\\"x\"\n"
                     "IdentityFile /k/keep\\n\\\\\n"
                     "IdentityFile /k/\"mid\"dle\n"
                     "UserKnownHostsFile \"/k/one file\" /k/two none\n"
                     "Host \"quoted host\" other\n"
                     "  User in-quoted-block\n";
  g_autoptr (MsSshHostConfig) cfg = resolve (text, "x");
  g_assert_cmpuint (cfg->identities->len, ==, 7);
  g_assert_cmpstr (identity (cfg, 0), ==, "~/.ssh/my key");
  g_assert_cmpstr (identity (cfg, 1), ==, "/k/a \"b\"");
  g_assert_cmpstr (identity (cfg, 2), ==, "/k/back slash");
  g_assert_cmpstr (identity (cfg, 3), ==, "/k/#not-a-comment");
  g_assert_cmpstr (identity (cfg, 4), ==, "/k/q\"x");
  g_assert_cmpstr (identity (cfg, 5), ==, "/k/keep\\n\\");
  g_assert_cmpstr (identity (cfg, 6), ==, "/k/middle");
  g_assert_cmpstr (cfg->user_known_hosts.values[0], ==, "/k/one file");
  g_assert_cmpstr (cfg->user_known_hosts.values[1], ==, "/k/two");
  g_assert_null (cfg->user_known_hosts.values[2]);
  g_assert_null (cfg->user.value);
  g_autoptr (MsSshHostConfig) quoted = resolve (text, "quoted host");
  g_assert_cmpstr (quoted->user.value, ==, "in-quoted-block");
}

static void
test_known_hosts_none (void)
{
  g_autoptr (MsSshHostConfig) cfg = resolve ("GlobalKnownHostsFile none\n", "x");
  g_assert_nonnull (cfg->global_known_hosts.values);
  g_assert_null (cfg->global_known_hosts.values[0]);
  g_assert_cmpstr (cfg->global_known_hosts.where, ==, "cfg:1");
  g_assert_null (cfg->user_known_hosts.values);
}

static void
test_identities_accumulate (void)
{
  const char *text = "IdentityFile /k/a\n"
                     "Host x\n"
                     "  IdentityFile /k/b\n"
                     "Host *\n"
                     "  IdentityFile /k/c\n"
                     "Host y\n"
                     "  IdentityFile /k/not-for-x\n";
  g_autoptr (MsSshHostConfig) cfg = resolve (text, "x");
  g_assert_cmpuint (cfg->identities->len, ==, 3);
  g_assert_cmpstr (identity (cfg, 0), ==, "/k/a");
  g_assert_cmpstr (identity (cfg, 1), ==, "/k/b");
  g_assert_cmpstr (identity (cfg, 2), ==, "/k/c");
  g_assert_cmpstr (((MsSshConfigString *) cfg->identities->pdata[2])->where, ==, "cfg:5");
}

static void
test_identities_only (void)
{
  g_autoptr (MsSshHostConfig) unset = resolve ("IdentityFile /k/a\n", "x");
  g_assert_cmpint (unset->identities_only.value, ==, -1);
  g_assert_null (unset->identities_only.where);

  /* The keyword in any case, and the first value obtained wins. */
  const char *text = "Host work\n"
                     "  identitiesONLY yes\n"
                     "Host *\n"
                     "  IdentitiesOnly=no\n"
                     "  IdentitiesOnly yes\n";
  static const struct {
    const char *host, *where;
    int value;
  } wins[] = { { "work", "cfg:2", 1 }, { "other", "cfg:4", 0 } };
  for (guint i = 0; i < G_N_ELEMENTS (wins); i++) {
    g_autoptr (MsSshHostConfig) cfg = resolve (text, wins[i].host);
    g_assert_cmpint (cfg->identities_only.value, ==, wins[i].value);
    g_assert_cmpstr (cfg->identities_only.where, ==, wins[i].where);
  }

  /* ssh's flag words, in any case. */
  static const struct {
    const char *word;
    int value;
  } flags[] = { { "yes", 1 }, { "YES", 1 }, { "True", 1 }, { "no", 0 }, { "No", 0 },
                { "false", 0 } };
  for (guint i = 0; i < G_N_ELEMENTS (flags); i++) {
    g_autofree char *line = g_strdup_printf ("IdentitiesOnly %s\n", flags[i].word);
    g_autoptr (MsSshHostConfig) cfg = resolve (line, "x");
    g_assert_cmpint (cfg->identities_only.value, ==, flags[i].value);
    int out = -1;
    g_assert_true (ms_ssh_config_parse_flag (flags[i].word, &out));
    g_assert_cmpint (out, ==, flags[i].value);
  }
  int untouched = 7;
  g_assert_false (ms_ssh_config_parse_flag ("y", &untouched));
  g_assert_false (ms_ssh_config_parse_flag ("", &untouched));
  g_assert_false (ms_ssh_config_parse_flag ("yes ", &untouched));
  g_assert_cmpint (untouched, ==, 7);

  /* A bad value is an error naming the line, in a block that does not
   * apply as well. */
  assert_error ("User a\nIdentitiesOnly maybe\n", "x", MS_ERROR_CONFIG,
                "cfg:2: IdentitiesOnly must be yes or no, not \"maybe\"");
  assert_error ("Host elsewhere\n  IdentitiesOnly 1\n", "x", MS_ERROR_CONFIG,
                "cfg:2: IdentitiesOnly must be yes or no, not \"1\"");
  assert_error ("IdentitiesOnly yes no\n", "x", MS_ERROR_CONFIG,
                "cfg:1: IdentitiesOnly takes one value, not 2");
  assert_error ("IdentitiesOnly\n", "x", MS_ERROR_CONFIG, "cfg:1: IdentitiesOnly has no value");
  /* After the value that won, too: every line is checked. */
  assert_error ("IdentitiesOnly yes\nIdentitiesOnly sure\n", "x", MS_ERROR_CONFIG,
                "cfg:2: IdentitiesOnly must be yes or no, not \"sure\"");
}

static void
test_times (void)
{
  static const struct {
    const char *value;
    int seconds;
  } cases[] = {
    { "0", 0 },        { "45", 45 },      { "45s", 45 },     { "1m30s", 90 },  { "1h", 3600 },
    { "2W", 1209600 }, { "1d1S", 86401 }, { "10m10", 610 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *text = g_strdup_printf ("ConnectTimeout %s\n", cases[i].value);
    g_autoptr (MsSshHostConfig) cfg = resolve (text, "x");
    g_assert_cmpint (cfg->connect_timeout.value, ==, cases[i].seconds);
  }
}

/* --- HostName and the file name tokens -------------------------------------------- */

static void
test_host_name_tokens (void)
{
  g_autoptr (MsSshHostConfig) cfg = resolve ("Host web\n  HostName %h.internal.100%%\n", "web");
  g_assert_cmpstr (cfg->host_name.value, ==, "web.internal.100%");
  /* Tokens are checked when the value is taken, as ssh does. */
  g_autoptr (MsSshHostConfig) other = resolve ("Host web\n  HostName %r\n", "mail");
  g_assert_null (other->host_name.value);
  assert_error ("Host web\n  HostName %r\n", "web", MS_ERROR_CONFIG,
                "cfg:2: HostName \"%r\": unknown token %r");
}

static void
test_expand (void)
{
  MsSshTokens t = {
    .home = "/home/me",
    .local_user = "me",
    .local_host = "laptop.example.net",
    .host = "real.example.org",
    .original_host = "alias",
    .remote_user = "bob",
    .host_key_alias = NULL,
    .port = 2222,
    .uid = 1000,
  };
  static const struct {
    const char *value, *expanded;
  } cases[] = {
    { "~", "/home/me" },
    { "~/.ssh/id_%r@%h:%p", "/home/me/.ssh/id_bob@real.example.org:2222" },
    { "%d/%u/%n/%k", "/home/me/me/alias/alias" },
    { "/k/%l/%L/%i/100%%", "/k/laptop.example.net/laptop/1000/100%" },
    { "relative/~/x", "relative/~/x" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *got = ms_ssh_config_expand (cases[i].value, &t, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (got, ==, cases[i].expanded);
  }

  t.host_key_alias = "keyalias";
  g_autofree char *k = ms_ssh_config_expand ("%k", &t, NULL);
  g_assert_cmpstr (k, ==, "keyalias");

  /* The home directory is not expanded again. */
  t.home = "/home/100%d";
  g_autofree char *home = ms_ssh_config_expand ("~/x", &t, NULL);
  g_assert_cmpstr (home, ==, "/home/100%d/x");

  static const struct {
    const char *value, *message;
  } errors[] = {
    { "/k/%x", "\"/k/%x\": unknown token %x" },
    { "/k/%C", "\"/k/%C\": unknown token %C" },
    { "/k/100%", "\"/k/100%\" ends with a lone % (write %% for a % sign)" },
    { "~other/.ssh/id",
      "\"~other/.ssh/id\": only ~ (your own home directory) is understood, not ~USER; "
      "write the directory out" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (errors); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *got = ms_ssh_config_expand (errors[i].value, &t, &error);
    g_assert_null (got);
    g_assert_error (error, MS_ERROR, MS_ERROR_CONFIG);
    g_assert_cmpstr (error->message, ==, errors[i].message);
  }
}

/* --- Include ------------------------------------------------------------------------ */

static void
test_include (void)
{
  fake_reset ();
  fake_add (HOME "/.ssh/conf.d/a.conf", "Host inc\n  HostName from-a\n");
  fake_add (HOME "/.ssh/conf.d/b.conf", "HostName from-b\nUser from-b\n");
  fake_add (HOME "/.ssh/conf.d/skipped.txt", "User never\n");
  const char *text = "Include conf.d/*.conf\n"
                     "ServerAliveCountMax 5\n"
                     "Host inc\n"
                     "  Port 2200\n";

  g_autoptr (MsSshHostConfig) inc = resolve (text, "inc");
  g_assert_cmpstr (inc->host_name.value, ==, "from-a");
  g_assert_cmpstr (inc->host_name.where, ==, HOME "/.ssh/conf.d/a.conf:2");
  g_assert_cmpstr (inc->user.value, ==, "from-b");
  g_assert_cmpint (inc->port.value, ==, 2200);
  g_assert_cmpint (inc->server_alive_count_max.value, ==, 5);

  /* The Host line in a.conf ends with a.conf: b.conf and the lines after
   * the Include apply to every host again. */
  g_autoptr (MsSshHostConfig) other = resolve (text, "other");
  g_assert_cmpstr (other->host_name.value, ==, "from-b");
  g_assert_cmpstr (other->user.value, ==, "from-b");
  g_assert_cmpint (other->server_alive_count_max.value, ==, 5);
  g_assert_cmpint (other->port.value, ==, -1);
}

static void
test_include_in_block (void)
{
  fake_reset ();
  fake_add (HOME "/.ssh/inner.conf", "User inner\nHost *\n  Port 2300\n");
  fake_add ("/etc/abs.conf", "HostKeyAlias abs\n");
  const char *text = "Host wanted\n"
                     "  Include ~/.ssh/inner.conf\n"
                     "Host *\n"
                     "  Include /etc/abs.conf\n"
                     "  Include ~/.ssh/missing.conf /nowhere/*.conf\n";

  g_autoptr (MsSshHostConfig) wanted = resolve (text, "wanted");
  g_assert_cmpstr (wanted->user.value, ==, "inner");
  g_assert_cmpint (wanted->port.value, ==, 2300);
  g_assert_cmpstr (wanted->host_key_alias.value, ==, "abs");

  /* From a block that does not apply, nothing of the included file does,
   * not even after a Host line that would match.  It is read all the
   * same, so that its mistakes show. */
  fake.reads = 0;
  g_autoptr (MsSshHostConfig) other = resolve (text, "other");
  g_assert_null (other->user.value);
  g_assert_cmpint (other->port.value, ==, -1);
  g_assert_cmpstr (other->host_key_alias.value, ==, "abs");
  g_assert_cmpuint (fake.reads, ==, 3); /* inner, abs, and the missing one */
}

static void
test_include_errors (void)
{
  fake_reset ();
  fake_add (HOME "/.ssh/bad.conf", "# fine\n\nPort x\n");
  fake_add (HOME "/.ssh/loop", "Include loop\n");
  g_autoptr (GString) fan = g_string_new ("Include");
  for (guint i = 0; i < MS_SSH_CONFIG_FILES_MAX; i++)
    g_string_append (fan, " leaf");
  fake_add (HOME "/.ssh/fan", fan->str);
  fake_add (HOME "/.ssh/leaf", "");
  fake_add (HOME "/.ssh/locked", "UNREADABLE");

  assert_error ("Host nomatch\n  Include bad.conf\n", "x", MS_ERROR_CONFIG,
                HOME "/.ssh/bad.conf:3: Port must be a number from 1 to 65535, not \"x\"");
  assert_error ("\nInclude loop\n", "x", MS_ERROR_LIMIT,
                HOME "/.ssh/loop:1: Include nested more than 16 deep "
                     "(does a file include itself?)");
  /* fan and 255 leaves are read; the next is one too many. */
  assert_error ("Include fan\n", "x", MS_ERROR_LIMIT,
                HOME "/.ssh/fan:1: Include " HOME
                "/.ssh/leaf: more than 256 configuration files in all");
  assert_error ("User a\nInclude locked\n", "x", MS_ERROR_CONFIG,
                "cfg:2: Include " HOME "/.ssh/locked: cannot read " HOME "/.ssh/locked: denied");
  assert_error ("Include unlistable/*\n", "x", MS_ERROR_CONFIG,
                "cfg:1: Include " HOME "/.ssh/unlistable/*: permission denied");
  assert_error ("Include ~other/config\n", "x", MS_ERROR_CONFIG,
                "cfg:1: Include \"~other/config\": only ~ (your own home directory) is "
                "understood, not ~USER; write the directory out");

  g_autoptr (GError) error = NULL;
  const char *text = "Include x\n";
  g_assert_null (ms_ssh_config_resolve ("cfg", text, strlen (text), "x", HOME, NULL, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_CONFIG);
  g_assert_cmpstr (error->message, ==, "cfg:1: Include is not possible here");
}

/* --- Match, proxies ------------------------------------------------------------------ */

static void
test_match (void)
{
  const char *text = "Match host x\n"
                     "  User matched\n"
                     "  ProxyJump jump.example.org\n"
                     "Host *\n"
                     "  Port 23\n"
                     "Match all\n"
                     "  HostKeyAlias from-match-all\n"
                     "Match exec \"true\"\n"
                     "  ProxyCommand nc %h %p\n"
                     "  Port 99\n";
  g_autoptr (MsSshHostConfig) cfg = resolve (text, "x");
  g_assert_null (cfg->user.value);
  g_assert_cmpint (cfg->port.value, ==, 23);
  g_assert_cmpstr (cfg->host_key_alias.value, ==, "from-match-all");
  g_assert_null (cfg->proxy.value);
  /* But a proxy in a Match block ssh might apply is never skipped
   * silently: the first one is refused, naming its line. */
  g_autoptr (GError) error = NULL;
  g_assert_false (ms_ssh_host_config_check_proxy (cfg, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_CONFIG);
  g_assert_cmpstr (error->message, ==,
                   "cfg:3: ProxyJump jump.example.org is in a Match block, which watch_ssh does not "
                   "evaluate; it may apply to this host, and watch_ssh cannot connect through another "
                   "host or a command (give -o ProxyJump=none if this host is reached directly)");

  /* Decided before it (first value wins), or "none": no refusal. */
  const char *decided = "Host x\n  ProxyJump none\nMatch host x\n  ProxyJump jump\n";
  g_autoptr (MsSshHostConfig) d = resolve (decided, "x");
  g_assert_true (ms_ssh_host_config_check_proxy (d, NULL));
  const char *none = "Match host x\n  ProxyCommand none\n";
  g_autoptr (MsSshHostConfig) n = resolve (none, "x");
  g_assert_true (ms_ssh_host_config_check_proxy (n, NULL));
  /* One in a Host block that does not apply is not a Match block. */
  const char *other_host = "Host y\n  ProxyJump jump\nMatch all\n  User u\n";
  g_autoptr (MsSshHostConfig) o = resolve (other_host, "x");
  g_assert_true (ms_ssh_host_config_check_proxy (o, NULL));
  /* A Host line ends the Match block. */
  const char *after = "Match user me\n  User u\nHost *\n  Port 22\n";
  g_autoptr (MsSshHostConfig) a = resolve (after, "x");
  g_assert_true (ms_ssh_host_config_check_proxy (a, NULL));
}

static void
test_proxy (void)
{
  const char *text = "Host direct\n"
                     "  ProxyJump none\n"
                     "Host jumpy\n"
                     "  ProxyJump jump.example.org\n"
                     "Host cmd\n"
                     "  ProxyCommand ssh -W %h:%p gw\n"
                     "Host *\n"
                     "  ProxyCommand nc %h %p\n"
                     "  ProxyJump later\n";
  static const struct {
    const char *host, *message;
  } cases[] = {
    { "direct", NULL },
    { "jumpy", "cfg:4: ProxyJump jump.example.org: watch_ssh cannot connect through another "
               "host or a command; it makes its own connection (reach the host directly, or "
               "give -o ProxyJump=none to connect directly on purpose)" },
    { "cmd", "cfg:6: ProxyCommand ssh -W %h:%p gw: watch_ssh cannot connect through another "
             "host or a command; it makes its own connection (reach the host directly, or give "
             "-o ProxyCommand=none to connect directly on purpose)" },
    { "other", "cfg:8: ProxyCommand nc %h %p: watch_ssh cannot connect through another host or "
               "a command; it makes its own connection (reach the host directly, or give -o "
               "ProxyCommand=none to connect directly on purpose)" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (MsSshHostConfig) cfg = resolve (text, cases[i].host);
    g_autoptr (GError) error = NULL;
    gboolean ok = ms_ssh_host_config_check_proxy (cfg, &error);
    if (cases[i].message == NULL) {
      g_assert_no_error (error);
      g_assert_true (ok);
    } else {
      g_assert_false (ok);
      g_assert_error (error, MS_ERROR, MS_ERROR_CONFIG);
      g_assert_cmpstr (error->message, ==, cases[i].message);
    }
  }
}

/* --- errors ---------------------------------------------------------------------------- */

static void
test_errors (void)
{
  static const struct {
    const char *text, *message;
  } cases[] = {
    { "Port\n", "cfg:1: Port has no value" },
    { "Port=\n", "cfg:1: Port has no value" },
    { "User a\nPort # comment\n", "cfg:2: Port has no value" },
    { "SomeOption\n", "cfg:1: SomeOption has no value" },
    { "Host\n", "cfg:1: Host has no value" },
    { "=value\n", "cfg:1: a line without a keyword" },
    { "Port 0\n", "cfg:1: Port must be a number from 1 to 65535, not \"0\"" },
    { "Port 22 23\n", "cfg:1: Port takes one value, not 2" },
    /* Values are checked in blocks that do not apply too. */
    { "Host elsewhere\n  Port ssh\n", "cfg:2: Port must be a number from 1 to 65535, not \"ssh\"" },
    { "User \"bob\n", "cfg:1: unterminated double quote" },
    { "SomeOption 'x\n", "cfg:1: unterminated single quote" },
    { "User \"\"\n", "cfg:1: User: the value is empty" },
    { "IdentityFile a b\n", "cfg:1: IdentityFile takes one value, not 2" },
    { "ServerAliveInterval 10x\n",
      "cfg:1: ServerAliveInterval must be a time such as 30, 30s, 5m or 1h30m, not \"10x\"" },
    { "ConnectTimeout s\n",
      "cfg:1: ConnectTimeout must be a time such as 30, 30s, 5m or 1h30m, not \"s\"" },
    { "ConnectTimeout 1.5\n",
      "cfg:1: ConnectTimeout must be a time such as 30, 30s, 5m or 1h30m, not \"1.5\"" },
    { "ConnectTimeout 99999999999\n",
      "cfg:1: ConnectTimeout \"99999999999\" is more than 2147483647 seconds" },
    { "ServerAliveInterval 9999w\n",
      "cfg:1: ServerAliveInterval \"9999w\" is more than 2147483647 seconds" },
    { "ServerAliveCountMax -1\n",
      "cfg:1: ServerAliveCountMax must be a number from 0 to 2147483647, not \"-1\"" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    assert_error (cases[i].text, "x", MS_ERROR_CONFIG, cases[i].message);

  static const char nul[] = "User a\nUser b\0c\n";
  assert_error_len (nul, sizeof nul - 1, "x", MS_ERROR_CONFIG, "cfg:2: a NUL byte");
}

static void
test_limits (void)
{
  /* The longest line taken, and one byte more. */
  g_autoptr (GString) line = g_string_new ("User ");
  while (line->len < MS_SSH_CONFIG_LINE_MAX)
    g_string_append_c (line, 'u');
  g_autoptr (MsSshHostConfig) longest = resolve (line->str, "x");
  g_assert_cmpuint (strlen (longest->user.value), ==, MS_SSH_CONFIG_LINE_MAX - 5);
  g_string_append (line, "u\n");
  assert_error (line->str, "x", MS_ERROR_LIMIT, "cfg:1: a line longer than 16384 bytes");

  g_autoptr (GString) big = g_string_new (NULL);
  while (big->len <= MS_SSH_CONFIG_FILE_MAX)
    g_string_append (big, "# padding padding padding padding padding padding padding\n");
  assert_error (big->str, "x", MS_ERROR_LIMIT, "cfg: larger than 1048576 bytes");

  g_autoptr (GString) ids = g_string_new (NULL);
  for (guint i = 0; i < MS_SSH_CONFIG_IDENTITIES_MAX; i++)
    g_string_append_printf (ids, "IdentityFile /k/%u\n", i);
  g_autoptr (MsSshHostConfig) most = resolve (ids->str, "x");
  g_assert_cmpuint (most->identities->len, ==, MS_SSH_CONFIG_IDENTITIES_MAX);
  g_string_append (ids, "IdentityFile /k/one-too-many\n");
  assert_error (ids->str, "x", MS_ERROR_LIMIT, "cfg:101: more than 100 IdentityFile lines apply");

  g_autoptr (GString) kh = g_string_new ("UserKnownHostsFile");
  for (guint i = 0; i <= MS_SSH_CONFIG_KNOWN_HOSTS_MAX; i++)
    g_string_append_printf (kh, " /kh/%u", i);
  assert_error (kh->str, "x", MS_ERROR_LIMIT, "cfg:1: UserKnownHostsFile names more than 32 files");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  fake_reset ();
  g_test_add_func ("/ssh-config/host/patterns", test_host_patterns);
  g_test_add_func ("/ssh-config/host/negation", test_host_negation);
  g_test_add_func ("/ssh-config/host/globs", test_host_globs);
  g_test_add_func ("/ssh-config/first-value-wins", test_first_value_wins);
  g_test_add_func ("/ssh-config/line/forms", test_line_forms);
  g_test_add_func ("/ssh-config/line/crlf", test_crlf_and_no_final_newline);
  g_test_add_func ("/ssh-config/line/quoting", test_quoting);
  g_test_add_func ("/ssh-config/known-hosts-none", test_known_hosts_none);
  g_test_add_func ("/ssh-config/identities-accumulate", test_identities_accumulate);
  g_test_add_func ("/ssh-config/identities-only", test_identities_only);
  g_test_add_func ("/ssh-config/times", test_times);
  g_test_add_func ("/ssh-config/tokens/host-name", test_host_name_tokens);
  g_test_add_func ("/ssh-config/tokens/files", test_expand);
  g_test_add_func ("/ssh-config/include/glob-and-scope", test_include);
  g_test_add_func ("/ssh-config/include/in-block", test_include_in_block);
  g_test_add_func ("/ssh-config/include/errors", test_include_errors);
  g_test_add_func ("/ssh-config/match", test_match);
  g_test_add_func ("/ssh-config/proxy", test_proxy);
  g_test_add_func ("/ssh-config/errors", test_errors);
  g_test_add_func ("/ssh-config/limits", test_limits);
  int rc = g_test_run ();
  g_clear_pointer (&fake.files, g_hash_table_unref);
  return rc;
}
