/* ms-child.c — see ms-child.h. */
#include "ms-child.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

/* How often a child that has not exited yet is looked at again. */
#define MS_CHILD_POLL_MS 10

int
ms_child_reap (pid_t pid, gint64 deadline_us, gboolean *killed)
{
  if (killed != NULL)
    *killed = FALSE;
  int status = 0;
  for (;;) {
    pid_t r = waitpid (pid, &status, WNOHANG);
    if (r == pid)
      return status;
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return -1;
    if (g_get_monotonic_time () >= deadline_us)
      break;
    g_usleep (MS_CHILD_POLL_MS * 1000);
  }
  kill (pid, SIGKILL);
  if (killed != NULL)
    *killed = TRUE;
  pid_t r;
  while ((r = waitpid (pid, &status, 0)) < 0 && errno == EINTR)
    ;
  return r == pid ? status : -1;
}

void
ms_child_unblock_signals (gpointer unused)
{
  (void) unused;
  sigset_t none;
  sigemptyset (&none);
  pthread_sigmask (SIG_SETMASK, &none, NULL);
}
