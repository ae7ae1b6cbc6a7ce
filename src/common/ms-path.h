/* ms-path.h — file names written in configuration files.
 *
 * mbsyncrc, ssh_config and mswatchrc lines are not run by a shell, so the
 * programs that read them expand "~" themselves, the same way.
 */
#pragma once

#include <glib.h>

/* "~" or "~/..." at the start of `path` as `home`; another path is returned
 * as it is.  "~USER" is MS_ERROR_CONFIG: only our own home directory is
 * known.  (transfer full) */
char *ms_path_expand_tilde (const char *path, const char *home, GError **error);
