/* ms-path.c — see ms-path.h. */
#include "ms-path.h"

#include <string.h>

#include "mailbox-name.h"
#include "ms-error.h"

/* How much of a refused path a message shows. */
#define MS_PATH_SHOWN_MAX 256

char *
ms_path_expand_tilde (const char *path, const char *home, GError **error)
{
  g_return_val_if_fail (path != NULL && home != NULL, NULL);
  if (path[0] != '~')
    return g_strdup (path);
  if (path[1] != '\0' && path[1] != '/') {
    g_autofree char *shown = ms_mailbox_name_for_log (path, strlen (path), MS_PATH_SHOWN_MAX);
    g_set_error (error, MS_ERROR, MS_ERROR_CONFIG,
                 "\"%s\": only ~ (your own home directory) is understood, not ~USER; write the directory out",
                 shown);
    return NULL;
  }
  return g_strconcat (home, path + 1, NULL);
}
