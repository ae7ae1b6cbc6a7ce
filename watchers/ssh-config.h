/* ssh-config.h — the options of an ssh_config(5) file that watch_ssh uses,
 * resolved for one host.
 *
 * A watch line written for ssh names a Host alias of ~/.ssh/config
 * (`watch ssh myalias inputkill watch_maildirs`); watch_ssh reads the same
 * file so that the line keeps working.  This module is the pure part: text
 * in, the options for one host out.  The one piece of I/O, finding and
 * reading the files an Include names, is done by the caller's
 * MsSshConfigFiles; the caller also reads the top file.
 *
 * Grammar, as OpenSSH 9 reads it:
 *   - A line is a keyword and its arguments.  Keywords are case-insensitive;
 *     the keyword ends at white space or at one '=' ("Port=22",
 *     "Port = 22" and "Port 22" are the same).  Blank lines and lines whose
 *     first word starts with '#' are comments; so is the rest of a line
 *     from an argument that starts with an unquoted '#'.
 *   - Arguments are separated by white space.  Double or single quotes
 *     group words ("a b"); a backslash takes a following quote or backslash
 *     literally, and outside quotes also a following space.  An unterminated
 *     quote is an error.
 *   - "Host PATTERN..." starts a block that applies when the host as given
 *     on the command line matches one of the patterns (glob(7) '*' and '?',
 *     case-insensitive) and none of the patterns negated with '!'.  Lines
 *     before the first Host or Match line apply to every host.
 *   - "Match ..." blocks are not evaluated: a Match block is treated as not
 *     matching and its options are skipped, except "Match all", which
 *     matches every host, as in ssh.  A ProxyJump or ProxyCommand in one
 *     is not skipped silently: the check below refuses it.
 *   - "Include FILE..." reads other files in place (glob(7) wildcards; "~"
 *     is the home directory; a relative name is relative to ~/.ssh).  A file
 *     that does not exist is skipped.  Host and Match lines in an included
 *     file end at its end; from a block that does not apply, nothing of an
 *     included file applies.
 *   - For each option the first value obtained wins, except IdentityFile,
 *     whose lines add files in order.
 *
 * Options understood: HostName (with %h and %%), Port, User, IdentityFile,
 * IdentitiesOnly (a flag: yes or no, or true or false, as ssh takes it),
 * UserKnownHostsFile, GlobalKnownHostsFile, HostKeyAlias, ConnectTimeout,
 * ServerAliveInterval, ServerAliveCountMax (times in ssh's form: "90",
 * "1m30s"), ProxyJump and ProxyCommand (reported, so that the caller can
 * refuse them).  Their values are checked on every line, whether the block
 * applies or not, as ssh does.  Other keywords are not checked and have no
 * effect.  File names keep their "~" and %-tokens: ms_ssh_config_expand()
 * expands them once the caller knows the host, user and port.
 *
 * Errors are MS_ERROR_CONFIG (MS_ERROR_LIMIT for a limit below) with a
 * message "FILE:LINE: what is wrong"; the first one stops the parse.
 *
 * Ownership: an MsSshHostConfig owns everything reachable from it.
 */
#pragma once

#include <glib.h>

/* The largest configuration file read, included files each on their own.
 * Hand-written files are a few KiB; one generated for hundreds of hosts
 * stays far below this.  The whole text is held in memory. */
#define MS_SSH_CONFIG_FILE_MAX (1024 * 1024)

/* The longest line.  Real lines are under 200 bytes; a long ProxyCommand
 * fits with room to spare, and the bound caps the work on one line. */
#define MS_SSH_CONFIG_LINE_MAX 16384

/* How deep Include may nest: OpenSSH's own limit (READCONF_MAX_DEPTH), so
 * that a file that includes itself ends with an error, in both. */
#define MS_SSH_CONFIG_INCLUDE_DEPTH_MAX 16

/* How many files one resolution reads.  A depth limit alone still lets
 * files that include several others multiply the work at each level;
 * a real configuration has a handful. */
#define MS_SSH_CONFIG_FILES_MAX 256

/* IdentityFile lines that can apply to one host: OpenSSH's own limit
 * (SSH_MAX_IDENTITY_FILES). */
#define MS_SSH_CONFIG_IDENTITIES_MAX 100

/* Files in one UserKnownHostsFile or GlobalKnownHostsFile line: OpenSSH's
 * own limit (SSH_MAX_HOSTS_FILES). */
#define MS_SSH_CONFIG_KNOWN_HOSTS_MAX 32

/* The largest number or time (in seconds) taken.  Every range the caller
 * checks is far below it, and the arithmetic stays clear of overflow. */
#define MS_SSH_CONFIG_NUMBER_MAX G_MAXINT32

/* How Include finds and reads files: the only I/O of a resolution. */
typedef struct {
  /* The files `pattern` names (an absolute path, possibly with glob(7)
   * wildcards), sorted, as a NULL-terminated array (transfer full): empty
   * when none exists. */
  char **(*expand) (gpointer user_data, const char *pattern, GError **error);
  /* Reads a file whole.  At most MS_SSH_CONFIG_FILE_MAX + 1 bytes need be
   * read: enough to tell that the file is too large.  Fails with
   * G_FILE_ERROR_NOENT for a file that does not exist, which is skipped. */
  gboolean (*read) (gpointer user_data, const char *path, char **text, gsize *len,
                    GError **error);
  gpointer user_data;
} MsSshConfigFiles;

typedef struct {
  char *value; /* NULL: not set */
  char *where; /* "FILE:LINE" of the line that set it, for messages */
} MsSshConfigString;

/* Frees an MsSshConfigString made with g_new0() (a GDestroyNotify). */
void ms_ssh_config_string_free (gpointer string);

typedef struct {
  int value;   /* -1: not set */
  char *where;
} MsSshConfigNumber;

typedef struct {
  char **values; /* NULL: not set; else NULL-terminated, "none" left out */
  char *where;
} MsSshConfigList;

typedef struct {
  MsSshConfigString host_name; /* %h and %% expanded */
  MsSshConfigString user;
  MsSshConfigNumber port;
  MsSshConfigString host_key_alias;
  MsSshConfigList user_known_hosts;   /* as written: "~" and tokens kept */
  MsSshConfigList global_known_hosts; /* as written */
  GPtrArray *identities;              /* MsSshConfigString *, in order, as written */
  MsSshConfigNumber identities_only;  /* 1: yes, 0: no */
  MsSshConfigNumber connect_timeout;  /* seconds */
  MsSshConfigNumber server_alive_interval;
  MsSshConfigNumber server_alive_count_max;
  /* The first ProxyJump or ProxyCommand obtained (whichever comes first
   * decides, as in ssh), "none" included; proxy_keyword names which. */
  MsSshConfigString proxy;
  const char *proxy_keyword; /* static; NULL when proxy is not set */
  /* One in a Match block that is not evaluated, before any that applies:
   * ssh might take it for this host. */
  MsSshConfigString unevaluated_proxy;
  const char *unevaluated_proxy_keyword;
} MsSshHostConfig;

/* Resolves the options for `host` (as given on the command line) from the
 * configuration text[0..len) of the file named `file` (used in messages
 * and nothing else).  `home` is for "~" and relative Include names.
 * `files` may be NULL when there is nothing to include: an Include line is
 * then an error.  (transfer full) */
MsSshHostConfig *ms_ssh_config_resolve (const char *file, const char *text, gsize len,
                                        const char *host, const char *home,
                                        const MsSshConfigFiles *files, GError **error);
void ms_ssh_host_config_free (MsSshHostConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsSshHostConfig, ms_ssh_host_config_free)

/* Fails, naming the file and line, when a ProxyJump or ProxyCommand other
 * than "none" applies to the host, or may apply (it is in a Match block
 * ahead of any that applies): watch_ssh makes its own TCP connection, and
 * connecting directly where ssh would go through another host must never
 * happen silently. */
gboolean ms_ssh_host_config_check_proxy (const MsSshHostConfig *config, GError **error);

/* A flag's value as ssh takes it: "yes" or "true" (*out = 1), "no" or
 * "false" (*out = 0), in any case.  FALSE for anything else, *out
 * untouched; the caller says where the value came from. */
gboolean ms_ssh_config_parse_flag (const char *value, int *out);

/* HostName's tokens: %h (the host as given on the command line) and %%.
 * Anything else is MS_ERROR_CONFIG.  (transfer full) */
char *ms_ssh_config_expand_host_name (const char *value, const char *host, GError **error);

/* What the %-tokens of a file name stand for. */
typedef struct {
  const char *home;           /* ~ and %d */
  const char *local_user;     /* %u */
  const char *local_host;     /* %l; %L is its first label */
  const char *host;           /* %h: the host connected to (HostName) */
  const char *original_host;  /* %n: the host as given on the command line */
  const char *remote_user;    /* %r */
  const char *host_key_alias; /* %k; NULL: the original host */
  guint port;                 /* %p */
  guint uid;                  /* %i */
} MsSshTokens;

/* Expands a file name as ssh does for IdentityFile and the known_hosts
 * files: "~" or "~/" at the start, then %%, %d, %h, %i, %k, %L, %l, %n, %p,
 * %r and %u.  An unknown token, a lone '%' at the end and "~USER" are
 * MS_ERROR_CONFIG (the caller adds where the name came from).
 * (transfer full) */
char *ms_ssh_config_expand (const char *value, const MsSshTokens *tokens, GError **error);
