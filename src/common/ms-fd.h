/* ms-fd.h — small file-descriptor helpers shared by the programs: waiting
 * on one descriptor with a deadline, and keeping fds 0-2 occupied. */
#pragma once

#include <glib.h>

/* poll()s fd for `events` until it is ready or deadline_us (monotonic)
 * passes; a deadline already past times out without polling.  Fails with
 * G_IO_ERROR_TIMED_OUT, or the poll error. */
gboolean ms_fd_wait (int fd, short events, gint64 deadline_us, GError **error);

/* Opens /dev/null on fds 0 and 2 (and 1 with stdout_too) where they are
 * closed, so that no descriptor a program opens lands there (to be read as
 * stdin or to receive error messages).  Returns whether stdin was open. */
gboolean ms_fd_fill_std (gboolean stdout_too);
