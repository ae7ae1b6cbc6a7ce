/* ms-fd.c — see ms-fd.h. */
#include "ms-fd.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <poll.h>
#include <unistd.h>

gboolean
ms_fd_wait (int fd, short events, gint64 deadline_us, GError **error)
{
  for (;;) {
    gint64 left = deadline_us - g_get_monotonic_time ();
    if (left <= 0) {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "timed out");
      return FALSE;
    }
    struct pollfd p = { .fd = fd, .events = events };
    int r = poll (&p, 1, (int) MIN ((left + 999) / 1000, G_MAXINT));
    if (r > 0)
      return TRUE;
    if (r < 0 && errno != EINTR) {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "poll: %s", g_strerror (e));
      return FALSE;
    }
  }
}

gboolean
ms_fd_fill_std (gboolean stdout_too)
{
  gboolean stdin_open = fcntl (STDIN_FILENO, F_GETFD) >= 0;
  for (int fd = 0; fd <= 2; fd += stdout_too ? 1 : 2) {
    if (fcntl (fd, F_GETFD) < 0 && errno == EBADF) {
      int nul = open ("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
      if (nul >= 0 && nul != fd) {
        dup2 (nul, fd);
        close (nul);
      }
    }
  }
  return stdin_open;
}

int
ms_fd_pwrite_all (int fd, const char *buf, gsize len, goffset offset)
{
  for (gsize done = 0; done < len;) {
    ssize_t n = pwrite (fd, buf + done, len - done, (off_t) (offset + (goffset) done));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n < 0 ? errno : EIO;
    done += (gsize) n;
  }
  return 0;
}

int
ms_fd_finish_and_close (int fd, goffset len, gboolean datasync)
{
  int e = 0;
  if (ftruncate (fd, (off_t) len) < 0)
    e = errno;
  if (e == 0 && datasync && fdatasync (fd) < 0)
    e = errno;
  if (close (fd) < 0 && e == 0)
    e = errno;
  return e;
}

int
ms_fd_rewrite_and_close (int fd, const char *text, gsize len, gboolean datasync)
{
  int e = ms_fd_pwrite_all (fd, text, len, 0);
  if (e != 0) {
    close (fd);
    return e;
  }
  return ms_fd_finish_and_close (fd, (goffset) len, datasync);
}
