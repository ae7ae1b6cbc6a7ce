/* ms-child.h — reaping a child that the caller spawned without GLib's child
 * watch (G_SPAWN_DO_NOT_REAP_CHILD, or its own fork): a bounded wait, then
 * SIGKILL; and a clean signal mask for children spawned from threads. */
#pragma once

#include <glib.h>
#include <sys/types.h>

/* Waits for `pid` to exit until deadline_us (monotonic; one already past
 * kills at once), then SIGKILLs it and waits for that.  Polls every 10 ms:
 * a child gives no fd to wait on.  Returns the wait status, or -1 when
 * there is none (not our child); *killed (may be NULL) tells whether it
 * had to be killed. */
int ms_child_reap (pid_t pid, gint64 deadline_us, gboolean *killed);

/* A GSpawnChildSetupFunc: the child starts with no signal blocked.  A
 * thread spawning it may block some (sync_imap --serve keeps SIGTERM for
 * one thread), and a blocked mask survives exec: a Tunnel command would
 * then ignore SIGTERM. */
void ms_child_unblock_signals (gpointer unused);
