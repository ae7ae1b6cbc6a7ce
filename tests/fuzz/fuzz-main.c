/* fuzz-main.c — replays a fuzz target's seed corpus, printing TAP.
 *
 * Linked instead of libFuzzer in normal builds, so that `make check` runs
 * every fuzz target over tests/fuzz/corpus/FUZZ_NAME/.  A crash or a
 * sanitizer report fails the test; the target's own assertions decide what
 * is wrong.  Files named on the command line are replayed instead (to
 * reproduce a crash found by a real fuzzer).
 */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static gint
compare_paths (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(char *const *) a, *(char *const *) b);
}

static int
replay (const char *path, guint n)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr (GError) error = NULL;

  if (!g_file_get_contents (path, &data, &len, &error)) {
    printf ("not ok %u - %s: %s\n", n, path, error->message);
    return 1;
  }
  LLVMFuzzerTestOneInput ((const uint8_t *) data, len);
  printf ("ok %u - %s\n", n, path);
  return 0;
}

int
main (int argc, char **argv)
{
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  int failed = 0;

  if (argc > 1) {
    for (int i = 1; i < argc; i++)
      g_ptr_array_add (files, g_strdup (argv[i]));
  } else {
    const char *srcdir = g_getenv ("G_TEST_SRCDIR");
    g_autofree char *dir = g_build_filename (srcdir ? srcdir : "tests", "fuzz", "corpus", FUZZ_NAME, NULL);
    g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
    const char *name;
    if (d == NULL) {
      printf ("1..0 # SKIP no corpus at %s\n", dir);
      return 0;
    }
    while ((name = g_dir_read_name (d)) != NULL)
      g_ptr_array_add (files, g_build_filename (dir, name, NULL));
    g_ptr_array_sort (files, compare_paths);
  }

  printf ("1..%u\n", files->len);
  for (guint i = 0; i < files->len; i++)
    failed |= replay (g_ptr_array_index (files, i), i + 1);
  return failed;
}
