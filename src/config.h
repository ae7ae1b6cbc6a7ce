/* config.h — the mswatchrc parser: text in, immutable MsConfig out.
 *
 * Pure: no I/O, no clock.  main.c reads the file and prints the diagnostics;
 * the parser only produces them.  The grammar, defaults, cross-field checks
 * and every message are mswatch 1.2's (spec §3); each fatal error also gets a
 * second line naming FILE:LINE, which 1.2 never gave.
 *
 * Ownership: an MsConfig owns everything reachable from it and is never
 * changed after ms_config_parse() returns.
 */
#pragma once

#include <glib.h>

/* Values saturate here instead of overflowing: 68 years is "never" for a
 * delay, and it keeps all second arithmetic inside gint64 without care. */
#define MS_CONFIG_MAX_SECONDS G_MAXINT32

/* A config file larger than this is refused: a real mswatchrc is a few
 * hundred bytes, and the parser keeps the whole text in memory. */
#define MS_CONFIG_MAX_BYTES (1024 * 1024)

#define MS_CONFIG_DEFAULT_BASE_DELAY 10
#define MS_CONFIG_DEFAULT_INTER_DELAY 60
#define MS_CONFIG_DEFAULT_MAX_DELAY 600
#define MS_CONFIG_DEFAULT_POLL_PERIOD 86400

typedef struct {
  char *name;        /* used only in messages; two stores may share it */
  char **watch_argv; /* NULL-terminated, at least one word */
  guint line;        /* line of the `store` keyword, for messages */
} MsStoreConfig;

typedef struct {
  char *filename;

  /* Exactly one of sync_argv and syncer_argv is set: `sync` runs a program
   * per batch (1.2), `syncer` keeps one resident syncer (extension). */
  char **sync_argv;
  char **syncer_argv;

  /* mailbox_prefix PREFIX SEP; both NULL when absent (names go bare, and
   * "all mailboxes" is the single argument ""). */
  char *mailbox_prefix;
  char *mailbox_separator;

  gint64 base_delay;
  gint64 inter_delay; /* the default one */
  gint64 max_delay;
  gint64 poll_period; /* 0 disables polling */
  gint64 sync_timeout; /* 0 = off (extension) */

  GHashTable *mailbox_inter_delay; /* char* name -> gint64* seconds; later lines win */
  GHashTable *ignore;              /* set of char* names */

  char **on_synced_argv; /* NULL when absent (extension) */

  MsStoreConfig stores[2];
} MsConfig;

/* What the parser wants printed.  1.2 prints some warnings and carries on
 * (unrecognized characters), and echoes the offending directive on stdout
 * after some errors; this keeps that split without the parser printing. */
typedef struct {
  GPtrArray *warnings; /* char*: stderr lines, printed whether or not parsing succeeds */
  char *error;         /* stderr: the 1.2 message, e.g. "Configuration file is missing field sync" */
  char *location;      /* stderr: "FILE:LINE: what was wrong", or NULL */
  char *echo;          /* stdout: the echoed directive ("sync c d "), or NULL */
} MsConfigDiag;

void ms_config_diag_init (MsConfigDiag *diag);
void ms_config_diag_clear (MsConfigDiag *diag);

/* Parses `len` bytes of `text` (need not be NUL-terminated).  On success
 * returns a config (transfer full) and diag->error is NULL; on failure
 * returns NULL with diag->error set.  diag->warnings may be set either way. */
MsConfig *ms_config_parse (const char *filename, const char *text, gsize len, MsConfigDiag *diag);

void ms_config_free (MsConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsConfig, ms_config_free)

/* The inter_delay that applies to `name`: its own, or the default. */
gint64 ms_config_inter_delay_for (const MsConfig *config, const char *name);
gboolean ms_config_is_ignored (const MsConfig *config, const char *name);
