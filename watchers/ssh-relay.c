/* ssh-relay.c — see ssh-relay.h.
 *
 * Both halves are a bounded line splitter with a rule on top.  For standard
 * output the splitter's bound is the name limit itself, so an over-long line
 * is reported (once) before it is even complete and its tail is discarded as
 * it arrives: it can never turn into a name of its own.
 */
#include "ssh-relay.h"

#include "line-splitter.h"
#include "mailbox-name.h"

struct MsSshRelay {
  MsLineSplitter *lines;
};

struct MsSshLogLines {
  MsLineSplitter *lines;
  char *prefix;
};

MsSshRelay *
ms_ssh_relay_new (void)
{
  MsSshRelay *relay = g_new0 (MsSshRelay, 1);
  relay->lines = ms_line_splitter_new (MS_MAILBOX_NAME_MAX);
  return relay;
}

void
ms_ssh_relay_free (MsSshRelay *relay)
{
  if (relay == NULL)
    return;
  ms_line_splitter_free (relay->lines);
  g_free (relay);
}

void
ms_ssh_relay_feed (MsSshRelay *relay, const char *data, gsize len)
{
  g_return_if_fail (relay != NULL);
  ms_line_splitter_feed (relay->lines, data, len);
}

MsSshRelayResult
ms_ssh_relay_next (MsSshRelay *relay, const char **line, gsize *len, char **reason)
{
  g_return_val_if_fail (relay != NULL && line != NULL && len != NULL && reason != NULL,
                        MS_SSH_RELAY_NEED_MORE);
  const char *l;
  gsize n;

  switch (ms_line_splitter_next (relay->lines, &l, &n)) {
  case MS_LINE_NEED_MORE:
    return MS_SSH_RELAY_NEED_MORE;
  case MS_LINE_TOO_LONG:
    *reason = g_strdup_printf ("a line longer than %d bytes (the limit for a mailbox name)",
                               MS_MAILBOX_NAME_MAX);
    return MS_SSH_RELAY_DROP;
  case MS_LINE_COMPLETE:
    break;
  }

  g_autoptr (GError) error = NULL;
  if (!ms_mailbox_name_check (l, n, &error)) {
    g_autofree char *shown = ms_mailbox_name_for_log (l, n, MS_SSH_DROPPED_SHOWN_MAX);
    *reason = g_strdup_printf ("\"%s\": %s", shown, error->message);
    return MS_SSH_RELAY_DROP;
  }
  *line = l;
  *len = n;
  return MS_SSH_RELAY_PASS;
}

MsSshLogLines *
ms_ssh_log_lines_new (const char *prefix)
{
  g_return_val_if_fail (prefix != NULL, NULL);
  MsSshLogLines *lines = g_new0 (MsSshLogLines, 1);
  lines->lines = ms_line_splitter_new (MS_SSH_LOG_LINE_MAX);
  lines->prefix = g_strdup (prefix);
  return lines;
}

void
ms_ssh_log_lines_free (MsSshLogLines *lines)
{
  if (lines == NULL)
    return;
  ms_line_splitter_free (lines->lines);
  g_free (lines->prefix);
  g_free (lines);
}

void
ms_ssh_log_lines_feed (MsSshLogLines *lines, const char *data, gsize len)
{
  g_return_if_fail (lines != NULL);
  ms_line_splitter_feed (lines->lines, data, len);
}

char *
ms_ssh_log_lines_next (MsSshLogLines *lines)
{
  g_return_val_if_fail (lines != NULL, NULL);
  const char *l;
  gsize n;

  switch (ms_line_splitter_next (lines->lines, &l, &n)) {
  case MS_LINE_NEED_MORE:
    return NULL;
  case MS_LINE_TOO_LONG:
    return g_strdup_printf ("%s: [a line of more than %d bytes, not shown]", lines->prefix,
                            MS_SSH_LOG_LINE_MAX);
  case MS_LINE_COMPLETE:
    break;
  }
  g_autofree char *shown = ms_mailbox_name_for_log (l, n, MS_SSH_LOG_LINE_MAX);
  return g_strdup_printf ("%s: %s", lines->prefix, shown);
}

char *
ms_ssh_log_lines_finish (MsSshLogLines *lines)
{
  g_return_val_if_fail (lines != NULL, NULL);
  if (ms_line_splitter_pending (lines->lines) == 0)
    return NULL;
  ms_line_splitter_feed (lines->lines, "\n", 1);
  return ms_ssh_log_lines_next (lines);
}
