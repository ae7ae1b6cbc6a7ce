/* ms-error.h — the one GError domain shared by every mswatch-ng program. */
#pragma once

#include <glib.h>

#define MS_ERROR (ms_error_quark ())
GQuark ms_error_quark (void);

typedef enum {
  MS_ERROR_FAILED,       /* anything without a more specific code */
  MS_ERROR_CONFIG,       /* a configuration file is wrong; message names file:line */
  MS_ERROR_BAD_NAME,     /* a mailbox name that is unsafe or malformed */
  MS_ERROR_PROTOCOL,     /* a peer (watcher, syncer, server) broke its protocol */
  MS_ERROR_LIMIT,        /* a hard limit was hit; the message names it */
  MS_ERROR_BUSY,         /* another process holds it (a lock): try again later */
  MS_ERROR_AUTH,         /* a server refused the credentials */
} MsError;
