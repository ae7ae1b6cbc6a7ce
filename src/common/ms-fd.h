/* ms-fd.h — small file-descriptor helpers shared by the programs: waiting
 * on one descriptor with a deadline, keeping fds 0-2 occupied, and
 * rewriting a small file in place. */
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

/* Replaces the whole content of the file open for writing on fd with
 * `len` bytes of `text`, in place (pwrite at 0, then truncate; no new
 * inode), fdatasync()s it when `datasync`, and closes fd in every case.
 * For files of a few dozen bytes, which a crash leaves old or new (a disk
 * writes a sector whole), and for scratch files of any size that are
 * renamed into place only after it returned 0 (their blocks are reused,
 * none freed and allocated again).  Returns 0 or the errno of the first
 * failure. */
int ms_fd_rewrite_and_close (int fd, const char *text, gsize len, gboolean datasync);

/* The two halves of ms_fd_rewrite_and_close(), for content written in
 * pieces: ms_fd_pwrite_all() writes `len` bytes at `offset` (0 or an
 * errno); ms_fd_finish_and_close() cuts the file to `len`, fdatasync()s it
 * when `datasync` and closes fd in every case (0 or the first errno). */
int ms_fd_pwrite_all (int fd, const char *buf, gsize len, goffset offset);
int ms_fd_finish_and_close (int fd, goffset len, gboolean datasync);
