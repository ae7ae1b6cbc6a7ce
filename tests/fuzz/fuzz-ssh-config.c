/* fuzz-ssh-config.c — an ssh_config of any content resolves or fails with
 * a message naming where, never reads past its end, and every
 * Include it names (each one reads the same bytes again) stops at the
 * depth limit.  What a resolution returns is checked for the promises of
 * ssh-config.h: strings say where they were set, the port is in range,
 * and ProxyJump/ProxyCommand is named when set. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "ms-error.h"
#include "ssh-config.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

typedef struct {
  const char *text;
  gsize len;
} Input;

/* Every pattern names one file, whose content is the input again. */
static char **
expand (gpointer user_data, const char *pattern, GError **error)
{
  (void) user_data;
  (void) error;
  char **files = g_new0 (char *, 2);
  files[0] = g_strdup (pattern);
  return files;
}

static gboolean
read_file (gpointer user_data, const char *path, char **text, gsize *len, GError **error)
{
  const Input *in = user_data;
  (void) path;
  (void) error;
  *text = g_memdup2 (in->text, in->len + 1);
  (*text)[in->len] = '\0';
  *len = in->len;
  return TRUE;
}

static void
check_string (const MsSshConfigString *s)
{
  if (s->value != NULL)
    g_assert_nonnull (s->where);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* A NUL-terminated copy, as the readers hand it over. */
  g_autofree char *text = g_malloc (size + 1);
  memcpy (text, data, size);
  text[size] = '\0';
  Input in = { text, size };
  const MsSshConfigFiles files = { expand, read_file, &in };

  const char *hosts[] = { "host", "a.example.org", "" };
  for (guint i = 0; i < G_N_ELEMENTS (hosts); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (MsSshHostConfig) c =
      ms_ssh_config_resolve ("cfg", text, size, hosts[i], "/home/u", &files, &error);
    if (c == NULL) {
      g_assert_nonnull (error);
      /* "FILE:LINE: ...", of the top file or of an included one. */
      g_assert_nonnull (strchr (error->message, ':'));
      continue;
    }
    g_assert_null (error);
    check_string (&c->host_name);
    check_string (&c->user);
    check_string (&c->host_key_alias);
    if (c->port.value != -1)
      g_assert_nonnull (c->port.where);
    for (guint j = 0; c->identities != NULL && j < c->identities->len; j++)
      check_string (g_ptr_array_index (c->identities, j));
    g_assert_true ((c->proxy.value == NULL) == (c->proxy_keyword == NULL));
    g_autoptr (GError) proxy_error = NULL;
    if (!ms_ssh_host_config_check_proxy (c, &proxy_error))
      g_assert_nonnull (proxy_error);
  }
  return 0;
}
