/* syncer-progress.h — what a resident syncer's PROGRESS lines say (pure).
 *
 * docs/protocol.md leaves the text of a PROGRESS line free, and names two
 * forms mswatch understands:
 *
 *   "DONE/TOTAL mailboxes"                             a sync of all mailboxes
 *   "[NAME: ]DONE/TOTAL messages, DONE/TOTAL bytes"    a download
 *
 * A request's MsSyncerProgress keeps what its lines said: the last text (as
 * it is shown: a download's sizes in words for people), the count of
 * mailboxes done, and the downloads under way.  A sync of all mailboxes
 * downloads several at once (sync_imap: one per connection), and its
 * lines interleave; kept per mailbox, none hides another.  The status
 * report shows them (status.h).
 */
#pragma once

#include <glib.h>

/* Downloads kept per request: one per connection of sync_imap at most
 * (its -j maximum).  Beyond that the one not heard of for longest goes. */
#define MS_SYNCER_PROGRESS_DOWNLOADS_MAX 8

typedef struct {
  char *mailbox; /* as the syncer named it; NULL: the request's own mailbox */
  guint64 messages_done, messages_total;
  guint64 bytes_done, bytes_total;
} MsSyncerDownload;

typedef struct {
  char *text;                  /* the last line, as shown; NULL: none yet */
  gint64 mailboxes_done;       /* -1: never said */
  gint64 mailboxes_total;
  GPtrArray *downloads;        /* MsSyncerDownload *, the last heard of last */
} MsSyncerProgress;

void ms_syncer_progress_init (MsSyncerProgress *p);
void ms_syncer_progress_clear (MsSyncerProgress *p);

/* Takes the text of one PROGRESS line (UTF-8, checked by the line parser)
 * and returns it as it is to be shown (owned by `p`, valid until the next
 * call).  A download whose messages are all done is no longer kept. */
const char *ms_syncer_progress_take (MsSyncerProgress *p, const char *text, gsize len);

/* The parts of one line, for tests: kind, and for a download the name
 * (text[0..name_len), or name_len 0 without one) and the counts. */
typedef enum {
  MS_SYNCER_PROGRESS_FREE,
  MS_SYNCER_PROGRESS_MAILBOXES,
  MS_SYNCER_PROGRESS_DOWNLOAD,
} MsSyncerProgressKind;

typedef struct {
  MsSyncerProgressKind kind;
  gsize name_len;
  guint64 done, total;             /* mailboxes or messages */
  guint64 bytes_done, bytes_total; /* a download */
} MsSyncerProgressLine;

void ms_syncer_progress_parse (const char *text, gsize len, MsSyncerProgressLine *out);

/* "NAME: 120/5000 messages, 3.1 MB of 86.0 MB" (without "NAME: " when the
 * download has no name).  (transfer full) */
char *ms_syncer_download_describe (const MsSyncerDownload *d);

/* One line for people: "3/50 mailboxes; INBOX: 120/5000 messages, 3.1 MB
 * of 86.0 MB; ..." from the counts and downloads, else the last text;
 * NULL when nothing was said.  (transfer full) */
char *ms_syncer_progress_summary (const MsSyncerProgress *p);
