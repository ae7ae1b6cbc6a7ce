/* mbsyncrc.h — reads an mbsync (isync 1.4/1.5) configuration file, unchanged.
 *
 * sync_imap takes the user's existing ~/.mbsyncrc, so an mbsync user changes
 * nothing.  This module is the pure part: text in, an immutable
 * MsMbsyncConfig out, no I/O, no environment.  The caller reads the file,
 * expands "~" and relative paths (ms_mbsync_expand_path), runs PassCmd and
 * UserCmd, and prints the warnings.
 *
 * Grammar (as mbsync reads it; checked against mbsync 1.4.4):
 *   - A line is a keyword and its arguments, separated by white space.  Keywords,
 *     and the keywords used as arguments (yes, IMAPS, Pull, Both...), are
 *     case-insensitive; object names are case-sensitive.
 *   - Double quotes may open and close anywhere in an argument (ab"c d"e is
 *     "abc de"); a backslash takes the next character literally, inside quotes
 *     or not.  An unquoted argument starting with '#' begins a comment that
 *     runs to the end of the line; a line whose first word starts with '#' is
 *     a comment line.
 *   - IMAPAccount, IMAPStore, MaildirStore, Channel and Group start a
 *     section; an empty (or all-blank) line ends it.  Comment lines do not.
 *   - Global options (FSync, FieldDelimiter, BufferLimit and the Channel
 *     defaults Sync, Create, Remove, Expunge, ExpungeSolo, MaxMessages,
 *     ExpireUnread, ExpireSide, CopyArrivalDate, SyncState) come before the
 *     first section.
 *   - A section keyword inside a section (without the empty line) is an
 *     error, except Channel/Channels inside a Group, which add members.
 *
 * Where this reader is stricter than mbsync, it refuses what mbsync would
 * misread or refuse later anyway: two objects of one class with the same
 * name, negative or out-of-range numbers, lines longer than
 * MS_MBSYNCRC_MAX_LINE (mbsync silently splits them).  References (Account,
 * Far/Near stores) may point forward; mbsync wants them defined first, so
 * every config mbsync accepts is accepted here.
 *
 * Keys that mbsync knows but sync_imap does not implement (UseKeychain,
 * ClientCertificate, Trash, AltMap, SubscribedOnly, MaxMessages, the pre-1.2
 * SSL switches...) are kept out of the structures and named in a warning
 * "FILE:LINE: warning: KEY is not supported by sync_imap and is ignored",
 * unless their value is the default (e.g. "AltMap no"), which asks for
 * nothing.  Keys mbsync does not know are errors, as in mbsync.
 *
 * Errors are MS_ERROR_CONFIG with a message "FILE:LINE: what is wrong"; the
 * first error stops the parse.
 *
 * Secrets: a Pass value lives only in an opaque MsMbsyncSecret, which has
 * no printing function and is wiped when freed; parse errors never quote it,
 * and the parser wipes its own copies of every word.  The caller wipes the
 * text it read from the file.
 *
 * Ownership: an MsMbsyncConfig owns everything reachable from it; all
 * pointers handed out are borrowed and stay valid until
 * ms_mbsync_config_free().  Nothing is changed after parsing.
 */
#pragma once

#include <glib.h>

/* A real mbsyncrc is a few kilobytes; the whole text is held in memory. */
#define MS_MBSYNCRC_MAX_BYTES (1024 * 1024)

/* mbsync reads configuration lines into a 1 KiB buffer and splits longer
 * ones, so no working config has longer lines; 4 KiB leaves room for a long
 * PassCmd while bounding the per-line work. */
#define MS_MBSYNCRC_MAX_LINE 4096

/* Accounts + stores + channels + groups.  People have tens; the cap keeps a
 * generated or corrupt file from building huge lookup tables. */
#define MS_MBSYNCRC_MAX_SECTIONS 4096

/* Items in one list: patterns of a channel, members of a group, mailboxes in
 * one CHANNEL:BOX,BOX argument, AuthMechs, DisableExtensions.  Matching is
 * linear in the number of patterns, so this bounds the work per mailbox. */
#define MS_MBSYNCRC_MAX_LIST 1024

/* Defaults that mbsync documents. */
#define MS_MBSYNC_DEFAULT_TIMEOUT 20                        /* seconds */
#define MS_MBSYNC_DEFAULT_BUFFER_LIMIT (10 * 1024 * 1024)   /* bytes */
#define MS_MBSYNC_DEFAULT_IMAP_PORT 143
#define MS_MBSYNC_DEFAULT_IMAPS_PORT 993

typedef enum {
  MS_MBSYNC_TLS_NONE,
  MS_MBSYNC_TLS_STARTTLS,
  MS_MBSYNC_TLS_IMAPS,
} MsMbsyncTlsType;

/* Bits of MsMbsyncAccount.tls_versions. */
typedef enum {
  MS_MBSYNC_TLS_1_0 = 1 << 0,
  MS_MBSYNC_TLS_1_1 = 1 << 1,
  MS_MBSYNC_TLS_1_2 = 1 << 2,
  MS_MBSYNC_TLS_1_3 = 1 << 3,
} MsMbsyncTlsVersion;
/* mbsync 1.5's default, and the floor the design asks for. */
#define MS_MBSYNC_TLS_DEFAULT_VERSIONS (MS_MBSYNC_TLS_1_2 | MS_MBSYNC_TLS_1_3)

typedef struct MsMbsyncSecret MsMbsyncSecret;

/* The password, for handing to the authenticator and nothing else. */
const char *ms_mbsync_secret_peek (const MsMbsyncSecret *secret);

typedef struct {
  char *name;   /* the IMAPStore's name for an account given inline */
  guint line;   /* line of the section keyword */
  gboolean inline_in_store;

  char *host;   /* NULL when absent; a legacy "imaps:" prefix is removed */
  guint16 port; /* resolved: explicit, or 993 for IMAPS, else 143 */
  char *user;
  char *user_cmd;        /* without the leading '+' */
  gboolean user_cmd_tty; /* UserCmd had a '+': the command talks to the TTY */
  MsMbsyncSecret *pass;  /* NULL when absent */
  char *pass_cmd;
  gboolean pass_cmd_tty;
  char *tunnel;                 /* shell command, or NULL */
  char **auth_mechs;            /* upper-cased; NULL means "*" */
  MsMbsyncTlsType tls_type;     /* resolved: None when Tunnel is set, else STARTTLS */
  guint tls_versions;           /* MsMbsyncTlsVersion bits */
  gboolean system_certificates; /* default TRUE */
  char *certificate_file;       /* local path, not yet expanded */
  char *cipher_string;
  guint pipeline_depth;         /* 0 = unlimited (the default) */
  char **disabled_extensions;   /* upper-cased capability names, or NULL */
  guint timeout;                /* seconds, 0 = none; default 20 */
} MsMbsyncAccount;

typedef enum {
  MS_MBSYNC_STORE_IMAP,
  MS_MBSYNC_STORE_MAILDIR,
} MsMbsyncStoreType;

typedef enum {
  MS_MBSYNC_SUBFOLDERS_UNSET, /* mbsync refuses hierarchical names then */
  MS_MBSYNC_SUBFOLDERS_VERBATIM,
  MS_MBSYNC_SUBFOLDERS_MAILDIRPP,
  MS_MBSYNC_SUBFOLDERS_LEGACY,
} MsMbsyncSubFolders;

typedef struct {
  char *name;
  guint line;
  MsMbsyncStoreType type;

  char *path;      /* prefix of every mailbox; NULL when unset (Maildir: local path) */
  guint64 max_size; /* bytes, 0 = unlimited */
  char *map_inbox;
  char *flatten;   /* hierarchy delimiter replacement, or NULL */

  /* IMAP only. */
  const MsMbsyncAccount *account; /* referenced or inline; never NULL for IMAP */
  char path_delimiter;            /* '\0': take it from the server's NAMESPACE */
  gboolean use_namespace;         /* default TRUE */

  /* Maildir only. */
  char *inbox;                    /* local path, not yet expanded; default "~/Maildir" */
  MsMbsyncSubFolders subfolders;
  char info_delimiter;            /* resolved: explicit, else the global FieldDelimiter */
} MsMbsyncStore;

/* Sync operations, one set per direction (MsMbsyncChannel.ops). */
typedef enum {
  MS_MBSYNC_OP_NEW = 1 << 0,
  MS_MBSYNC_OP_OLD = 1 << 1,
  MS_MBSYNC_OP_UPGRADE = 1 << 2, /* "ReNew" before 1.5 */
  MS_MBSYNC_OP_GONE = 1 << 3,    /* "Delete" before 1.5 */
  MS_MBSYNC_OP_FLAGS = 1 << 4,
} MsMbsyncOp;
/* "Full" (and 1.4's "All"); Old must always be asked for by name. */
#define MS_MBSYNC_OPS_FULL \
  (MS_MBSYNC_OP_NEW | MS_MBSYNC_OP_UPGRADE | MS_MBSYNC_OP_GONE | MS_MBSYNC_OP_FLAGS)

typedef enum {
  MS_MBSYNC_PULL = 0, /* far -> near */
  MS_MBSYNC_PUSH = 1, /* near -> far */
} MsMbsyncDirection;

/* Bits for Create, Remove, Expunge, ExpungeSolo and ExpireSide. */
typedef enum {
  MS_MBSYNC_SIDE_FAR = 1 << 0,  /* legacy spelling: Master */
  MS_MBSYNC_SIDE_NEAR = 1 << 1, /* legacy spelling: Slave */
} MsMbsyncSide;
#define MS_MBSYNC_SIDE_BOTH (MS_MBSYNC_SIDE_FAR | MS_MBSYNC_SIDE_NEAR)

typedef struct {
  const MsMbsyncStore *store;
  char *box; /* the part after ":store:", NULL when empty.  With Patterns it is
              * a prefix that patterns do not see; without, the one mailbox
              * (NULL meaning INBOX). */
} MsMbsyncEndpoint;

typedef struct {
  char *name;
  guint line;

  MsMbsyncEndpoint far, near;
  char **patterns;         /* NULL when the channel has no Patterns */
  guint64 max_size;        /* bytes, 0 = unset (the stores' own limits apply) */
  gboolean expire_unread;
  MsMbsyncSide expire_side; /* MS_MBSYNC_SIDE_NEAR by default */
  guint ops[2];            /* MsMbsyncOp bits, indexed by MsMbsyncDirection */
  guint create, remove, expunge, expunge_solo; /* MsMbsyncSide bits */
  gboolean copy_arrival_date;
  char *sync_state;        /* "*", a path prefix, or NULL for the global one */
} MsMbsyncChannel;

typedef struct {
  char *channel_name;
  const MsMbsyncChannel *channel; /* NULL if no such channel (warned at parse) */
  char **boxes;                   /* NULL: the channel's own selection */
  guint line;
} MsMbsyncGroupMember;

typedef struct {
  char *name;
  guint line;
  GPtrArray *members; /* MsMbsyncGroupMember*, in file order; may repeat a channel */
} MsMbsyncGroup;

typedef struct {
  char *filename;

  gboolean fsync;         /* default TRUE */
  char field_delimiter;   /* default ':' */
  guint64 buffer_limit;   /* bytes, default MS_MBSYNC_DEFAULT_BUFFER_LIMIT */
  char *sync_state;       /* global SyncState, or NULL for mbsync's default directory */

  /* All in file order.  Inline accounts are not listed in `accounts`. */
  GPtrArray *accounts; /* MsMbsyncAccount* */
  GPtrArray *stores;   /* MsMbsyncStore* */
  GPtrArray *channels; /* MsMbsyncChannel* */
  GPtrArray *groups;   /* MsMbsyncGroup* */

  /* "FILE:LINE: warning: ..." lines for the program to print. */
  GPtrArray *warnings; /* char* */

  /* Internal lookup tables; use the functions below. */
  GHashTable *account_index, *store_index, *channel_index, *group_index;
} MsMbsyncConfig;

/* Parses `len` bytes of `text` (need not be NUL-terminated).  `filename` is
 * used in messages only.  Returns a config (transfer full) or NULL with
 * MS_ERROR_CONFIG set. */
MsMbsyncConfig *ms_mbsync_config_parse (const char *filename, const char *text, gsize len,
                                        GError **error);

void ms_mbsync_config_free (MsMbsyncConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsMbsyncConfig, ms_mbsync_config_free)

/* Lookups by exact (case-sensitive) name; NULL when absent. */
const MsMbsyncAccount *ms_mbsync_config_find_account (const MsMbsyncConfig *config, const char *name);
const MsMbsyncStore *ms_mbsync_config_find_store (const MsMbsyncConfig *config, const char *name);
const MsMbsyncChannel *ms_mbsync_config_find_channel (const MsMbsyncConfig *config, const char *name);
const MsMbsyncGroup *ms_mbsync_config_find_group (const MsMbsyncConfig *config, const char *name);

/* One unit of work selected on the command line. */
typedef struct {
  const MsMbsyncChannel *channel;
  char **boxes; /* NULL: the channel's configured selection */
} MsMbsyncTarget;

void ms_mbsync_target_free (MsMbsyncTarget *target);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsMbsyncTarget, ms_mbsync_target_free)

/* Expands one command-line argument the way mbsync does:
 *   GROUP            every member of the group (a group hides a channel of
 *                    the same name, as in mbsync);
 *   CHANNEL          the channel with its Patterns or its one mailbox;
 *   CHANNEL:BOX,...  the channel with these mailboxes instead of its
 *                    Patterns (',' or newline separate them; the channel
 *                    must have Patterns, as mbsync requires);
 *   GROUP:CHANNEL,...  (extension; mbsync refuses it) only these members of
 *                    the group, with the boxes the group gives them.
 * Returns MsMbsyncTarget* (transfer full, with a free function), or NULL with
 * MS_ERROR_CONFIG naming the unknown or malformed part. */
GPtrArray *ms_mbsync_config_expand_arg (const MsMbsyncConfig *config, const char *arg,
                                        GError **error);

/* Whether one IMAP-style pattern matches a mailbox name (canonical names,
 * '/' as hierarchy delimiter).  '*' matches anything, '%' anything but '/'.
 * When `wildcards_match_inbox` is FALSE, INBOX and its children match only
 * patterns that spell out a leading "INBOX" (mbsync: "INBOX is not matched
 * by wildcards, unless it lives under Path").  Names and patterns are
 * compared byte for byte; the caller gives INBOX in upper case.  Runs in
 * O(pattern length x name length). */
gboolean ms_mbsync_pattern_match (const char *pattern, const char *name,
                                  gboolean wildcards_match_inbox);

/* Whether a channel's Patterns select `name`: patterns are tried in order,
 * a leading '!' makes one exclude, and the last one that matches decides.
 * No match, or NULL patterns, selects nothing. */
gboolean ms_mbsync_patterns_select (const char *const *patterns, const char *name,
                                    gboolean wildcards_match_inbox);

/* Expands a local path from the config: "~" and "~/..." against `home`; a
 * relative path against `base_dir` when that is non-NULL (mbsync 1.5 takes
 * the config file's directory, 1.4 the working directory).  "~user/" is not
 * supported here (it needs the password database) and gives MS_ERROR_CONFIG.
 * (transfer full) */
char *ms_mbsync_expand_path (const char *path, const char *home, const char *base_dir,
                             GError **error);
