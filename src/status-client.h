/* status-client.h — `mswatch --status`: the client end of the status
 * socket (status-socket.h describes the conversation). */
#pragma once

#include <glib.h>

/* How long `mswatch --status` waits for the whole report: the server
 * answers in milliseconds unless it is wedged, which this bounds. */
#define MS_STATUS_CLIENT_DEADLINE_MS 10000

/* The most a report may be: the server's cap (MS_STATUS_MAX_BYTES) plus
 * room for the entries that cross it. */
#define MS_STATUS_CLIENT_MAX_BYTES (1024 * 1024)

/* Asks the mswatch running the configuration `config_path` for its status
 * (as JSON with `json`), prints it on stdout, or why not on stderr, and
 * returns the exit status: 0, or 1 when no mswatch runs that configuration
 * or it refused. */
int ms_status_client_run (const char *config_path, gboolean json);
