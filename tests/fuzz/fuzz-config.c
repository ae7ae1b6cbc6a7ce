/* fuzz-config.c — fuzz target for the mswatchrc parser.
 *
 * Any byte string goes to ms_config_parse().  Beyond "no crash, no leak,
 * no read past the buffer" (the sanitizers' job), it checks the parser's
 * contract: success means a complete, consistent config and no error;
 * failure means an error message and a location naming the file.  The input
 * is copied into a buffer of exactly its size, so a read of the byte after
 * the end is caught by AddressSanitizer (the parser must not expect a NUL).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_config (const MsConfig *c)
{
  g_assert_true ((c->sync_argv != NULL) != (c->syncer_argv != NULL));
  g_assert_true (c->sync_argv == NULL || c->sync_argv[0] != NULL);
  g_assert_true (c->syncer_argv == NULL || c->syncer_argv[0] != NULL);
  g_assert_true (c->on_synced_argv == NULL || c->on_synced_argv[0] != NULL);
  g_assert_true ((c->mailbox_prefix == NULL) == (c->mailbox_separator == NULL));
  for (gsize i = 0; i < G_N_ELEMENTS (c->stores); i++) {
    g_assert_nonnull (c->stores[i].name);
    g_assert_nonnull (c->stores[i].watch_argv);
    g_assert_nonnull (c->stores[i].watch_argv[0]);
  }
  const gint64 values[] = { c->base_delay, c->inter_delay, c->max_delay, c->poll_period,
                            c->sync_timeout };
  for (gsize i = 0; i < G_N_ELEMENTS (values); i++)
    g_assert_true (values[i] >= 0 && values[i] <= MS_CONFIG_MAX_SECONDS);
  g_assert_cmpint (c->base_delay, <=, c->inter_delay);

  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init (&iter, c->mailbox_inter_delay);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    g_assert_cmpint (ms_config_inter_delay_for (c, key), ==, *(gint64 *) value);
    g_assert_cmpint (c->base_delay, <=, *(gint64 *) value);
  }
  g_hash_table_iter_init (&iter, c->ignore);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_assert_true (ms_config_is_ignored (c, key));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *text = malloc (size > 0 ? size : 1);
  MsConfigDiag diag;

  g_assert_nonnull (text);
  if (size > 0)
    memcpy (text, data, size);
  ms_config_diag_init (&diag);
  MsConfig *config = ms_config_parse ("fuzz.rc", text, size, &diag);
  if (config != NULL) {
    g_assert_null (diag.error);
    g_assert_null (diag.location);
    g_assert_null (diag.echo);
    check_config (config);
  } else {
    g_assert_nonnull (diag.error);
    g_assert_nonnull (diag.location);
    g_assert_true (g_str_has_prefix (diag.location, "fuzz.rc:"));
  }
  for (guint i = 0; i < diag.warnings->len; i++)
    g_assert_true (g_str_has_prefix (g_ptr_array_index (diag.warnings, i),
                                     "Unrecognized characters: "));
  ms_config_free (config);
  ms_config_diag_clear (&diag);
  free (text);
  return 0;
}
