/* status.c — see status.h. */
#include "status.h"

#include "ms-time.h"

char *
ms_status_pending_report (gint64 now_wall, const MsStatusStore *stores, guint n_stores)
{
  g_autofree char *t = ms_time_format (now_wall);
  GString *out = g_string_new (NULL);

  g_string_append_printf (out, "Pending mailboxes at %s:\n", t);
  for (guint i = 0; i < n_stores; i++) {
    g_string_append_printf (out, "\t%s:", stores[i].store);
    for (guint j = 0; j < stores[i].names->len; j++)
      g_string_append_printf (out, " %s", (const char *) g_ptr_array_index (stores[i].names, j));
    g_string_append_c (out, '\n');
  }
  return g_string_free (out, FALSE);
}

char *
ms_status_syncer_report (const char *state, guint in_flight)
{
  return g_strdup_printf ("Syncer state: %s, %u request%s in flight\n", state, in_flight,
                          in_flight == 1 ? "" : "s");
}
