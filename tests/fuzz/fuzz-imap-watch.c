/* fuzz-imap-watch.c — fuzz target for what watch_imap makes of a server's
 * untagged responses: the event a response is (ms_imap_watch_classify), a
 * STATUS response's values (ms_imap_watch_parse_status) and the line a
 * server mailbox name becomes (ms_imap_watch_map_far).  The server is
 * untrusted: whatever it sends, a name that gets a line must map back to
 * the same folder, and that folder must lie inside the Maildir root.
 *
 * Input: byte 0 picks the Maildir layout (bit 0: Maildir++ or Verbatim)
 * and the server's hierarchy delimiter (bits 1-2: '.', '/', '\\' or NUL
 * for "flat"); the rest is server output, parsed response by response.
 * Seeds are NOTIFY, IDLE and STATUS output as Dovecot sends it.
 */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "channel.h"
#include "imap-parser.h"
#include "imap-watch-plan.h"
#include "maildir.h"
#include "mbsyncrc.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define ROOT "/mail/"

/* One channel per layout, made once: their parse is not what is fuzzed. */
static MsChannelSetup *
channel (gboolean verbatim)
{
  static MsMbsyncConfig *configs[2];
  static MsChannelSetup *setups[2];
  guint i = verbatim ? 1 : 0;
  if (setups[i] == NULL) {
    g_autofree char *text = g_strdup_printf (
      "SyncState *\n\n"
      "IMAPAccount acct\nHost imap.example.org\nUser u\nPass secret\nTLSType IMAPS\n\n"
      "IMAPStore far\nAccount acct\n\n"
      "MaildirStore near\n%sInbox " ROOT "INBOX\nSubFolders %s\n\n"
      "Channel c\nFar :far:\nNear :near:\nPatterns * !Trash\n",
      verbatim ? "Path " ROOT "\n" : "", verbatim ? "Verbatim" : "Maildir++");
    g_autoptr (GError) error = NULL;
    configs[i] = ms_mbsync_config_parse ("rc", text, strlen (text), &error);
    g_assert_no_error (error);
    setups[i] = ms_channel_setup_new (configs[i], ms_mbsync_config_find_channel (configs[i], "c"), "/home/u",
                                      &error);
    g_assert_no_error (error);
  }
  return setups[i];
}

static void
check_name (const MsChannelSetup *setup, char delim, const char *far)
{
  g_autofree char *box = NULL, *line = NULL;
  if (far == NULL || !ms_imap_watch_map_far (setup, delim, far, &box, &line))
    return;
  g_assert_nonnull (box);
  g_assert_nonnull (line);
  g_assert_null (strchr (line, '\n'));
  g_assert_true (g_utf8_validate (line, -1, NULL));
  /* The line names the same folder ... */
  g_autoptr (GError) error = NULL;
  g_autofree char *back = ms_maildir_name_from_watcher (&setup->maildir, line, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back, ==, box);
  /* ... which is inside the Maildir root. */
  g_autofree char *path = ms_maildir_folder_path (&setup->maildir, box, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (path, ROOT));
  g_assert_null (strstr (path, "/../"));
  g_assert_false (g_str_has_suffix (path, "/.."));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const char delims[] = { '.', '/', '\\', '\0' };
  if (size < 1)
    return 0;
  const MsChannelSetup *setup = channel (data[0] & 1);
  char delim = delims[(data[0] >> 1) & 3];
  const char *input = (const char *) data + 1;
  gsize left = size - 1;

  g_autoptr (MsImapParser) parser = ms_imap_parser_new ();
  MsImapWatchStatus last = { 0 };
  while (left > 0) {
    g_autoptr (MsImapResponse) response = NULL;
    gsize used = 0;
    MsImapParseResult res = ms_imap_parser_feed (parser, input, left, &used, &response, NULL);
    if (res != MS_IMAP_COMPLETE)
      break;
    input += used;
    left -= used;
    if (ms_imap_response_get_kind (response) != MS_IMAP_RESPONSE_UNTAGGED)
      continue;

    const char *name = "", *old_name = "";
    MsImapWatchEvent event = ms_imap_watch_classify (response, &name, &old_name);
    switch (event) {
    case MS_IMAP_WATCH_EVENT_STATUS:
      g_assert_nonnull (name);
      break;
    case MS_IMAP_WATCH_EVENT_LIST:
      g_assert_nonnull (name);
      break;
    default:
      g_assert_null (name);
      g_assert_null (old_name);
      break;
    }
    check_name (setup, delim, name);
    check_name (setup, delim, old_name);

    const char *far = NULL;
    MsImapWatchStatus status = { 0 };
    if (ms_imap_watch_parse_status (response, &far, &status)) {
      g_assert_nonnull (far);
      g_assert_cmpuint (status.have & ~0x1fu, ==, 0);
      check_name (setup, delim, far);
      /* A status compared with itself shows no change, unless it has no
       * value to compare. */
      g_assert_true (ms_imap_watch_status_changed (&status, &status) == (status.have == 0));
      (void) ms_imap_watch_status_changed (&last, &status);
      last = status;
    }
  }
  return 0;
}
