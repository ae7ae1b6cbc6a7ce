/* fuzz-mbsyncrc.c — fuzz target for the mbsync configuration reader.
 *
 * Any byte string goes to ms_mbsync_config_parse().  Beyond "no crash, no
 * leak, no read past the buffer" (the sanitizers' job), it checks the
 * contract: failure is one MS_ERROR_CONFIG naming "fuzz.rc:LINE"; success
 * means every reference is resolved, every object is found by its name, and
 * every warning names the file.  A successful config is then exercised: each
 * channel and group name is expanded as a command-line argument (alone and
 * with a box list), and each pattern is matched against a few names.
 *
 * The input is also split at its first newline into a pattern and a name
 * for the matcher, and given to the path expander, so those get arbitrary
 * bytes too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mbsyncrc.h"
#include "ms-error.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* The matcher is O(pattern x name); keep each iteration fast. */
#define MATCH_MAX 512

static void
expand (const MsMbsyncConfig *cfg, const char *arg)
{
  GError *error = NULL;
  GPtrArray *targets = ms_mbsync_config_expand_arg (cfg, arg, &error);
  if (targets != NULL) {
    g_assert_no_error (error);
    for (guint i = 0; i < targets->len; i++) {
      const MsMbsyncTarget *t = g_ptr_array_index (targets, i);
      g_assert_nonnull (t->channel);
      g_assert_true (t->boxes == NULL || t->channel->patterns != NULL);
    }
    g_ptr_array_unref (targets);
  } else {
    g_assert_error (error, MS_ERROR, MS_ERROR_CONFIG);
    g_clear_error (&error);
  }
}

static void
check_config (const MsMbsyncConfig *cfg)
{
  static const char *const names[] = { "INBOX", "INBOX/a", "a", "a/b", "Sent Mail", "" };

  for (guint i = 0; i < cfg->accounts->len; i++) {
    const MsMbsyncAccount *a = g_ptr_array_index (cfg->accounts, i);
    g_assert_true (ms_mbsync_config_find_account (cfg, a->name) == a);
    g_assert_true (a->host != NULL || a->tunnel != NULL);
    g_assert_cmpuint (a->port, >, 0);
    if (a->pass != NULL)
      g_assert_nonnull (ms_mbsync_secret_peek (a->pass));
  }
  for (guint i = 0; i < cfg->stores->len; i++) {
    const MsMbsyncStore *s = g_ptr_array_index (cfg->stores, i);
    g_assert_true (ms_mbsync_config_find_store (cfg, s->name) == s);
    if (s->type == MS_MBSYNC_STORE_IMAP) {
      g_assert_nonnull (s->account);
      g_assert_true (s->account->host != NULL || s->account->tunnel != NULL);
    } else {
      g_assert_nonnull (s->inbox);
      g_assert_cmpint (s->info_delimiter, !=, 0);
    }
  }
  for (guint i = 0; i < cfg->channels->len; i++) {
    const MsMbsyncChannel *c = g_ptr_array_index (cfg->channels, i);
    g_assert_true (ms_mbsync_config_find_channel (cfg, c->name) == c);
    g_assert_nonnull (c->far.store);
    g_assert_nonnull (c->near.store);
    g_assert_cmpuint (c->expunge & c->expunge_solo, ==, 0);
    for (guint j = 0; j < G_N_ELEMENTS (names); j++)
      (void) ms_mbsync_patterns_select ((const char *const *) c->patterns, names[j], j % 2);
    expand (cfg, c->name);
    g_autofree char *with_boxes = g_strconcat (c->name, ":INBOX,a/b", NULL);
    expand (cfg, with_boxes);
  }
  for (guint i = 0; i < cfg->groups->len; i++) {
    const MsMbsyncGroup *g = g_ptr_array_index (cfg->groups, i);
    g_assert_true (ms_mbsync_config_find_group (cfg, g->name) == g);
    expand (cfg, g->name);
    for (guint j = 0; j < g->members->len; j++) {
      const MsMbsyncGroupMember *m = g_ptr_array_index (g->members, j);
      g_autofree char *sel = g_strconcat (g->name, ":", m->channel_name, NULL);
      expand (cfg, sel);
    }
  }
  for (guint i = 0; i < cfg->warnings->len; i++)
    g_assert_true (g_str_has_prefix (g_ptr_array_index (cfg->warnings, i), "fuzz.rc:"));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *text = malloc (size > 0 ? size : 1);
  GError *error = NULL;

  g_assert_nonnull (text);
  if (size > 0)
    memcpy (text, data, size);

  MsMbsyncConfig *cfg = ms_mbsync_config_parse ("fuzz.rc", text, size, &error);
  if (cfg != NULL) {
    g_assert_no_error (error);
    check_config (cfg);
    ms_mbsync_config_free (cfg);
  } else {
    g_assert_error (error, MS_ERROR, MS_ERROR_CONFIG);
    g_assert_true (g_str_has_prefix (error->message, "fuzz.rc:"));
    g_clear_error (&error);
  }

  /* pattern "\n" name, both NUL-terminated copies */
  const char *nl = memchr (text, '\n', size);
  if (nl != NULL && (gsize) (nl - text) <= MATCH_MAX && size - (nl - text) - 1 <= MATCH_MAX) {
    char *pattern = g_strndup (text, nl - text);
    char *name = g_strndup (nl + 1, size - (nl - text) - 1);
    gboolean a = ms_mbsync_pattern_match (pattern, name, TRUE);
    gboolean b = ms_mbsync_pattern_match (pattern, name, FALSE);
    /* Forbidding wildcards to match INBOX can only remove matches. */
    g_assert_true (a || !b);
    char *path = ms_mbsync_expand_path (name, "/home/u", "/etc/cfg", &error);
    g_assert_true ((path != NULL) == (error == NULL));
    g_clear_error (&error);
    g_free (path);
    g_free (pattern);
    g_free (name);
  }

  free (text);
  return 0;
}
