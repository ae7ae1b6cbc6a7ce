/* fuzz-ssh-relay.c — whatever a remote end sends, no line passes that is
 * not a safe mailbox name, and no stderr line we print carries a control
 * character, however the input is cut into chunks.  The first input byte
 * picks the chunk size. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "mailbox-name.h"
#include "ssh-relay.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_log_line (char *line)
{
  g_assert_true (g_str_has_prefix (line, "remote: "));
  g_assert_cmpuint (strlen (line), <=, strlen ("remote: ") + 4 * MS_SSH_LOG_LINE_MAX + 3);
  for (const char *p = line; *p != '\0'; p++)
    g_assert_true ((guchar) *p >= 0x20 && *p != 0x7f);
  g_free (line);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  gsize chunk = 1 + data[0];
  data++;
  size--;

  g_autoptr (MsSshRelay) relay = ms_ssh_relay_new ();
  g_autoptr (MsSshLogLines) lines = ms_ssh_log_lines_new ("remote");
  for (gsize off = 0; off < size; off += chunk) {
    gsize n = MIN (chunk, size - off);
    ms_ssh_relay_feed (relay, (const char *) data + off, n);
    ms_ssh_log_lines_feed (lines, (const char *) data + off, n);
    for (;;) {
      const char *line;
      gsize len;
      char *reason = NULL;
      MsSshRelayResult r = ms_ssh_relay_next (relay, &line, &len, &reason);
      if (r == MS_SSH_RELAY_NEED_MORE)
        break;
      if (r == MS_SSH_RELAY_PASS) {
        g_assert_true (ms_mailbox_name_check (line, len, NULL));
        g_assert_null (memchr (line, '\n', len));
      } else {
        g_assert_nonnull (reason);
        g_free (reason);
      }
    }
    char *l;
    while ((l = ms_ssh_log_lines_next (lines)) != NULL)
      check_log_line (l);
  }
  char *last = ms_ssh_log_lines_finish (lines);
  if (last != NULL)
    check_log_line (last);
  return 0;
}
