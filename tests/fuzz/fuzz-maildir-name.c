/* fuzz-maildir-name.c — fuzz target for the Maildir file name functions:
 * the parser, the renamer and the key of a new delivery.  File names come
 * from whatever wrote into the Maildir (a MUA, a script, another syncer),
 * so any name must parse, and what we rename it to must say what we meant.
 *
 * Input: byte 0 picks the info delimiter (':', ';' or '!'), bytes 1-4 a UID
 * (little-endian; 0 keeps the name's own), byte 5 the flags; the rest is
 * the file name (up to a NUL; names with '/' are skipped, no file has one)
 * and also the host name of a new key.
 *
 * Checked, beyond the sanitizers: a renamed name parses back to the UID and
 * flags it was given and to the same key, size and unknown flag letters; a
 * second rename with the same values changes nothing; a name without ,U=
 * keeps its key after one is added; a new key holds neither '/' nor the
 * info delimiter nor ',' and parses back to itself with no UID.
 */
#include <stdint.h>
#include <string.h>

#include "maildir.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define HEADER 6

/* The bytes of the info part after "2," that are not flags we know. */
static char *
unknown_letters (const char *name, char delim)
{
  const char *info = strchr (name, delim);
  GString *out = g_string_new (NULL);
  if (info != NULL && info[1] == '2' && info[2] == ',')
    for (const char *p = info + 3; *p; p++)
      if (ms_flags_from_letters (p, 1) == 0)
        g_string_append_c (out, *p);
  return g_string_free (out, FALSE);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < HEADER)
    return 0;
  static const char delims[] = ":;!";
  char delim = delims[data[0] % 3];
  guint32 uid = (guint32) data[1] | (guint32) data[2] << 8 | (guint32) data[3] << 16 | (guint32) data[4] << 24;
  MsFlags flags = data[5] & MS_FLAGS_ALL;
  g_autofree char *name = g_strndup ((const char *) data + HEADER, size - HEADER);
  if (strchr (name, '/') != NULL)
    return 0;

  g_autoptr (MsMaildirMessage) before = ms_maildir_message_parse (name, delim, FALSE);
  g_assert_cmpstr (before->name, ==, name);
  g_assert_cmpuint (strlen (before->key), <=, strlen (name));

  g_autofree char *renamed = ms_maildir_rename_name (name, delim, uid, flags);
  g_assert_null (strchr (renamed, '/'));
  g_autoptr (MsMaildirMessage) after = ms_maildir_message_parse (renamed, delim, TRUE);
  g_assert_cmpuint (after->uid, ==, uid != 0 ? uid : before->uid);
  g_assert_cmpstr (after->key, ==, before->key);
  g_assert_cmpuint (after->size, ==, before->size);
  g_assert_true (after->in_new);
  /* Flags are written when there are any, or when the name had "2," info. */
  const char *info = strchr (name, delim);
  gboolean had_v2 = info != NULL && info[1] == '2' && info[2] == ',';
  if (flags != 0 || had_v2) {
    g_assert_cmpuint (after->flags, ==, flags);
    g_autofree char *kept_before = unknown_letters (name, delim);
    g_autofree char *kept_after = unknown_letters (renamed, delim);
    if (had_v2)
      g_assert_cmpstr (kept_after, ==, kept_before);
  } else {
    g_assert_cmpuint (after->flags, ==, before->flags);
  }

  /* The same rename again is no change. */
  g_autofree char *again = ms_maildir_rename_name (renamed, delim, uid, flags);
  g_assert_cmpstr (again, ==, renamed);

  /* A new delivery's key, with the input as the host name. */
  g_autofree char *key = ms_maildir_make_key (1700000000, 4242, uid, name, delim);
  g_assert_null (strchr (key, '/'));
  g_assert_null (strchr (key, delim));
  g_assert_null (strchr (key, ','));
  g_autoptr (MsMaildirMessage) fresh = ms_maildir_message_parse (key, delim, TRUE);
  g_assert_cmpstr (fresh->key, ==, key);
  g_assert_cmpuint (fresh->uid, ==, 0);
  g_assert_cmpuint (fresh->flags, ==, 0);
  return 0;
}
