/* line-splitter.h — split a byte stream into bounded '\n'-terminated lines.
 *
 * Pure: no I/O.  The caller feeds whatever it read and then pulls lines
 * until MS_LINE_NEED_MORE.  Memory is bounded by max_line plus the largest
 * chunk fed at once: a line longer than max_line is reported once as
 * MS_LINE_TOO_LONG and the rest of it, up to and including its '\n', is
 * discarded as it arrives, so its tail can never be mistaken for a line of
 * its own (mswatch 1.2 did that, spec §4.2).
 *
 * Ownership: a line returned by ms_line_splitter_next() points into the
 * splitter and stays valid until the next call on it.
 */
#pragma once

#include <glib.h>

typedef enum {
  MS_LINE_COMPLETE,  /* *line / *len hold one line, without its '\n' */
  MS_LINE_NEED_MORE, /* no complete line buffered: feed more */
  MS_LINE_TOO_LONG,  /* a line exceeded max_line; it is being skipped */
} MsLineStatus;

typedef struct MsLineSplitter MsLineSplitter;

/* max_line counts the bytes of a line without its '\n'; must be ≥ 1. */
MsLineSplitter *ms_line_splitter_new (gsize max_line);
void ms_line_splitter_free (MsLineSplitter *splitter);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsLineSplitter, ms_line_splitter_free)

void ms_line_splitter_feed (MsLineSplitter *splitter, const char *data, gsize len);
MsLineStatus ms_line_splitter_next (MsLineSplitter *splitter, const char **line, gsize *len);

/* Bytes of an unfinished line held back (0 while skipping a long line). */
gsize ms_line_splitter_pending (const MsLineSplitter *splitter);
