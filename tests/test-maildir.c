/* test-maildir.c — the Maildir side of sync_imap: names, flags, deliveries,
 * scans, layouts, .uidvalidity, rename races, and files real mbsync wrote.
 *
 * Every case works in its own directory from g_dir_make_tmp() and removes it
 * afterwards.  The mbsync case runs the installed mbsync (skipped without
 * it) to check that both programs read each other's files. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "maildir.h"
#include "ms-error.h"

/* ---- fixture ------------------------------------------------------------ */

typedef struct {
  char *dir;
  MsMaildirStore store;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->dir = g_dir_make_tmp ("test-maildir-XXXXXX", &error);
  g_assert_no_error (error);
  f->store.root = g_build_filename (f->dir, "Mail", NULL);
  f->store.inbox = NULL;
  f->store.layout = GPOINTER_TO_INT (data);
  f->store.fsync = TRUE;
  f->store.info_delimiter = ':';
}

static int
rm_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  return remove (path);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_assert_cmpint (nftw (f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), ==, 0);
  g_free (f->dir);
  g_free (f->store.root);
  g_free (f->store.inbox);
}

#define MAILDIRPP GINT_TO_POINTER (MS_MAILDIR_LAYOUT_MAILDIRPP)
#define VERBATIM GINT_TO_POINTER (MS_MAILDIR_LAYOUT_VERBATIM)

/* ---- helpers ------------------------------------------------------------- */

static void
write_file (const char *path, const char *text)
{
  g_autoptr (GError) error = NULL;
  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

static char *
path_of (const char *a, const char *b, const char *c)
{
  return g_build_filename (a, b, c, NULL);
}

static void
make_folder (Fixture *f, const char *box)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (ms_maildir_create (&f->store, box, &error));
  g_assert_no_error (error);
}

static char *
folder (Fixture *f, const char *box)
{
  g_autoptr (GError) error = NULL;
  char *p = ms_maildir_folder_path (&f->store, box, &error);
  g_assert_no_error (error);
  return p;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Sorted entry names of a directory, joined with spaces. */
static char *
listing (const char *dir)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  const char *n;
  while ((n = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (n));
  g_ptr_array_sort (names, compare_strings);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **) names->pdata);
}

static char *
joined (GPtrArray *names)
{
  g_autoptr (GString) s = g_string_new (NULL);
  for (guint i = 0; i < names->len; i++)
    g_string_append_printf (s, "%s%s", i ? " " : "", (const char *) g_ptr_array_index (names, i));
  return g_strdup (s->str);
}

static MsMaildirScan *
scan_ok (Fixture *f, const char *box, GPtrArray **dups)
{
  g_autoptr (GError) error = NULL;
  MsMaildirScan *scan = ms_maildir_scan (&f->store, box, dups, &error);
  g_assert_no_error (error);
  g_assert_nonnull (scan);
  return scan;
}

static MsMaildirMessage *
msg_at (MsMaildirScan *scan, guint i)
{
  g_assert_cmpuint (i, <, scan->messages->len);
  return g_ptr_array_index (scan->messages, i);
}

static char *
deliver (Fixture *f, const char *box, const char *body, guint32 uid, MsFlags flags, gboolean to_new)
{
  g_autoptr (GError) error = NULL;
  MsMaildirDelivery *d = ms_maildir_delivery_begin (&f->store, box, &error);
  g_assert_no_error (error);
  g_assert_true (ms_maildir_delivery_write (d, body, strlen (body), &error));
  char *name = ms_maildir_delivery_commit (d, uid, flags, to_new, &error);
  g_assert_no_error (error);
  g_assert_nonnull (name);
  return name;
}

static void
set_mtime (const char *path, time_t t)
{
  struct timespec ts[2] = { { t, 0 }, { t, 0 } };
  g_assert_cmpint (utimensat (AT_FDCWD, path, ts, 0), ==, 0);
}

/* ---- flags and names (pure) --------------------------------------------- */

static void
test_flags_round_trip (void)
{
  for (guint bits = 0; bits <= MS_FLAGS_ALL; bits++) {
    g_autofree char *letters = ms_flags_to_letters (bits);
    g_assert_cmpuint (ms_flags_from_letters (letters, strlen (letters)), ==, bits);
  }
  g_autofree char *all = ms_flags_to_letters (MS_FLAGS_ALL);
  g_assert_cmpstr (all, ==, "DFPRST");
  g_assert_cmpuint (ms_flags_from_letters ("SabZ,x", 6), ==, MS_FLAG_SEEN);
  g_assert_cmpuint (ms_flags_from_letters ("TS", 1), ==, MS_FLAG_DELETED);
  g_assert_cmpuint (ms_flags_from_letters ("", 0), ==, 0);
}

typedef struct {
  const char *name;
  char delim;
  const char *key;
  guint32 uid;
  MsFlags flags;
  guint64 size;
} ParseCase;

static void
test_parse_table (void)
{
  const MsFlags S = MS_FLAG_SEEN, F = MS_FLAG_FLAGGED, R = MS_FLAG_ANSWERED, T = MS_FLAG_DELETED;
  static const char md5[] = "d41d8cd98f00b204e9800998ecf8427e";
  g_autofree char *oimap = g_strdup_printf ("1700000000_0.4321.host,U=42,FMD5=%s:2,S", md5);
  g_autofree char *oimap_key = g_strdup_printf ("1700000000_0.4321.host,FMD5=%s", md5);
  const ParseCase cases[] = {
    /* mbsync, in cur/ and in new/ (it writes ":2," there too), and a far
     * side file it gave a UID without an info part. */
    { "1700000000.1234_1.host,U=7:2,FS", ':', "1700000000.1234_1.host", 7, F | S, 0 },
    { "1795396005.25504_1.vm,U=1:2,", ':', "1795396005.25504_1.vm", 1, 0, 0 },
    { "1700000000.1_1.farhost,U=1", ':', "1700000000.1_1.farhost", 1, 0, 0 },
    /* mutt, neomutt, notmuch insert. */
    { "1700000000.R1234567890.host:2,S", ':', "1700000000.R1234567890.host", 0, S, 0 },
    { "1700000000.R3426897213938582113.mx.example.org:2,RS", ':',
      "1700000000.R3426897213938582113.mx.example.org", 0, R | S, 0 },
    { "1700000000.12345_1.host", ':', "1700000000.12345_1.host", 0, 0, 0 },
    /* Dovecot: size fields, keywords as lowercase letters. */
    { "1700000000.M123456P1234.host,S=1234,W=1260:2,ST", ':', "1700000000.M123456P1234.host,S=1234,W=1260",
      0, S | T, 1234 },
    { "1700000000.M1P2.host,S=99,W=101:2,Sab", ':', "1700000000.M1P2.host,S=99,W=101", 0, S, 99 },
    { "1700000000.M1P2.host,S=99,W=101", ':', "1700000000.M1P2.host,S=99,W=101", 0, 0, 99 },
    /* Dovecot after mbsync added its UID. */
    { "1700000000.M1P2.host,S=99,W=101,U=12:2,S", ':', "1700000000.M1P2.host,S=99,W=101", 12, S, 99 },
    /* Courier. */
    { "1700000000.M123P456V000000000000FD00I0000000000123456_0.host,S=1234:2,", ':',
      "1700000000.M123P456V000000000000FD00I0000000000123456_0.host,S=1234", 0, 0, 1234 },
    /* offlineimap: its ,U= is the server's, but the field is the same. */
    { oimap, ':', oimap_key, 42, S, 0 },
    /* Another info delimiter (mbsync's InfoDelimiter ';'). */
    { "1700000000.1_1.host,U=3;2,S", ';', "1700000000.1_1.host", 3, S, 0 },
    /* Read with the wrong delimiter, ":2,S" is part of the key, and a UID
     * field must end at ',' or at the end: none here. */
    { "1700000000.1_1.host,U=3:2,S", ';', "1700000000.1_1.host,U=3:2,S", 0, 0, 0 },
    /* Things that only look like fields stay in the key. */
    { "k,U=abc:2,S", ':', "k,U=abc", 0, S, 0 },
    { "k,U=12x:2,", ':', "k,U=12x", 0, 0, 0 },
    { "k,U=:2,", ':', "k,U=", 0, 0, 0 },
    { "k,U=4294967296:2,", ':', "k,U=4294967296", 0, 0, 0 },
    { "k,U=4294967295", ':', "k", 4294967295u, 0, 0 },
    { "k,U=5,U=6:2,", ':', "k,U=6", 5, 0, 0 },
    { "k,S=99999999999999999999999:2,", ':', "k,S=99999999999999999999999", 0, 0, 0 },
    { "k,S=18446744073709551615", ':', "k,S=18446744073709551615", 0, 0, G_MAXUINT64 },
    /* Other info versions carry no flags. */
    { "k:1,FS", ':', "k", 0, 0, 0 },
    { "k2,S", ':', "k2,S", 0, 0, 0 },
    { "k:2,Zxa", ':', "k", 0, 0, 0 },
    { "k:", ':', "k", 0, 0, 0 },
    { ":2,S", ':', "", 0, S, 0 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    const ParseCase *c = &cases[i];
    g_autoptr (MsMaildirMessage) m = ms_maildir_message_parse (c->name, c->delim, i % 2 == 0);
    g_test_message ("case %zu: %s", i, c->name);
    g_assert_cmpstr (m->name, ==, c->name);
    g_assert_cmpstr (m->key, ==, c->key);
    g_assert_cmpuint (m->uid, ==, c->uid);
    g_assert_cmpuint (m->flags, ==, c->flags);
    g_assert_cmpuint (m->size, ==, c->size);
    g_assert_cmpint (m->in_new, ==, i % 2 == 0);
  }
}

typedef struct {
  const char *name;
  char delim;
  guint32 uid;
  MsFlags flags;
  const char *expect;
} RenameCase;

static void
test_rename_table (void)
{
  const MsFlags S = MS_FLAG_SEEN, F = MS_FLAG_FLAGGED, R = MS_FLAG_ANSWERED, D = MS_FLAG_DRAFT,
                T = MS_FLAG_DELETED;
  const RenameCase cases[] = {
    { "k:2,S", ':', 5, S, "k,U=5:2,S" },
    { "k,U=5:2,S", ':', 0, S | F, "k,U=5:2,FS" },
    { "k,U=5:2,S", ':', 9, S, "k,U=9:2,S" },
    { "k,U=5:2,FS", ':', 0, 0, "k,U=5:2," },
    { "k,U=42,FMD5=abc:2,S", ':', 7, S, "k,U=7,FMD5=abc:2,S" },
    { "k,S=1,W=2:2,S", ':', 3, S, "k,S=1,W=2,U=3:2,S" },
    /* Letters we do not know survive, in order. */
    { "k,S=1:2,Sab", ':', 0, F | S, "k,S=1:2,FSab" },
    { "k,S=1:2,FSab", ':', 0, F, "k,S=1:2,Fab" },
    { "k:2,Sa", ':', 0, F | R | S | T, "k:2,FRSTa" },
    { "k:2,FSx", ':', 0, D, "k:2,Dx" },
    { "k:2,ES", ':', 0, D | S, "k:2,DES" },
    /* No info part: one only when there are flags (mbsync's far files). */
    { "k", ':', 3, 0, "k,U=3" },
    { "k", ':', 0, S, "k:2,S" },
    { "k,U=1", ':', 0, F, "k,U=1:2,F" },
    /* Another info version: replaced when flags are set, else kept. */
    { "k:1,xyz", ':', 0, F, "k:2,F" },
    { "k:1,xyz", ':', 4, 0, "k,U=4:1,xyz" },
    { "k;2,S", ';', 2, R | S, "k,U=2;2,RS" },
    { "k:2,", ':', 0, MS_FLAGS_ALL, "k:2,DFPRST" },
    { "k,U=abc:2,", ':', 8, 0, "k,U=abc,U=8:2," },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    const RenameCase *c = &cases[i];
    g_autofree char *got = ms_maildir_rename_name (c->name, c->delim, c->uid, c->flags);
    g_test_message ("case %zu: %s", i, c->name);
    g_assert_cmpstr (got, ==, c->expect);
    /* The key survives every rename. */
    g_autoptr (MsMaildirMessage) before = ms_maildir_message_parse (c->name, c->delim, FALSE);
    g_autoptr (MsMaildirMessage) after = ms_maildir_message_parse (got, c->delim, FALSE);
    g_assert_cmpstr (before->key, ==, after->key);
    if (c->uid)
      g_assert_cmpuint (after->uid, ==, c->uid);
  }
}

static void
test_make_key (void)
{
  g_autofree char *a = ms_maildir_make_key (1700000000, 42, 7, "a/b:c,d\\e", ':');
  g_assert_cmpstr (a, ==, "1700000000.42_7.a\\057b\\072c\\054d\\134e");
  g_autofree char *b = ms_maildir_make_key (1700000000, 1, 2, "h;x y", ';');
  g_assert_cmpstr (b, ==, "1700000000.1_2.h\\073x\\040y");
  g_autofree char *c = ms_maildir_make_key (5, 1, 2, "", ':');
  g_assert_cmpstr (c, ==, "5.1_2.localhost");
  g_autofree char *d = ms_maildir_make_key (5, 1, 2, "mx.example.org", ':');
  g_assert_cmpstr (d, ==, "5.1_2.mx.example.org");
  /* An absurd host name is capped, and never cut inside an escape. */
  g_autofree char *slashes = g_strnfill (200, '/');
  g_autofree char *e = ms_maildir_make_key (5, 1, 2, slashes, ':');
  g_assert_cmpuint (strlen (e), ==, strlen ("5.1_2.") + 64);
  g_assert_true (g_str_has_suffix (e, "\\057"));
  /* The key parses back as itself: no field or delimiter inside. */
  g_autoptr (MsMaildirMessage) m = ms_maildir_message_parse (a, ':', FALSE);
  g_assert_cmpstr (m->key, ==, a);
}

/* ---- folders and names --------------------------------------------------- */

static void
assert_bad_name (Fixture *f, const char *box)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *shown = g_strescape (box, NULL);
  g_test_message ("refusing \"%s\"", shown);
  g_assert_null (ms_maildir_folder_path (&f->store, box, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_BAD_NAME);
  g_clear_error (&error);
  g_assert_false (ms_maildir_create (&f->store, box, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_BAD_NAME);
}

static void
test_unsafe_names (Fixture *f, gconstpointer data)
{
  const char *bad[] = { "", "/etc", "..", "../x", "a/../b", "a/./b", "a//b", "a/", ".hidden", "a/.b",
                        "INBOX/.x", "tab\there", "nl\nx", NULL };
  for (const char **n = bad; *n; n++)
    assert_bad_name (f, *n);
  if (f->store.layout == MS_MAILDIR_LAYOUT_MAILDIRPP) {
    assert_bad_name (f, "a.b");
    assert_bad_name (f, "INBOX/a.b");
    assert_bad_name (f, "a/b.");
  } else {
    assert_bad_name (f, "a/cur");
    assert_bad_name (f, "new");
    assert_bad_name (f, "tmp/x");
    g_autofree char *ok = folder (f, "a.b");
    g_assert_true (g_str_has_suffix (ok, "/Mail/a.b"));
  }
  const char *good[] = { "INBOX", "INBOX/x", "a b", "Entw&APw-rfe", "Ünïcödé", "a/b/c", "a&b", NULL };
  for (const char **n = good; *n; n++) {
    g_autofree char *p = folder (f, *n);
    g_assert_true (g_str_has_prefix (p, f->store.root));
  }
  g_autofree char *long_name = g_strnfill (5000, 'x');
  assert_bad_name (f, long_name);
  /* Nothing was created by the refused names. */
  g_assert_false (g_file_test (f->store.root, G_FILE_TEST_EXISTS));
}

static void
test_maildirpp_paths (Fixture *f, gconstpointer data)
{
  g_autofree char *inbox = folder (f, "INBOX");
  g_autofree char *ab = folder (f, "a/b");
  g_autofree char *ix = folder (f, "INBOX/x/y");
  g_autofree char *e_ab = path_of (f->store.root, ".a.b", NULL);
  g_autofree char *e_ix = path_of (f->store.root, "..x.y", NULL);
  g_assert_cmpstr (inbox, ==, f->store.root);
  g_assert_cmpstr (ab, ==, e_ab);
  g_assert_cmpstr (ix, ==, e_ix);

  /* mbsync keeps Maildir++ subfolders below Inbox and ignores Path. */
  f->store.inbox = g_build_filename (f->dir, "Inbox", "", NULL);
  g_autofree char *inbox2 = folder (f, "INBOX");
  g_autofree char *a2 = folder (f, "a");
  g_autofree char *e_inbox2 = path_of (f->dir, "Inbox", NULL);
  g_autofree char *e_a2 = path_of (f->dir, "Inbox", ".a");
  g_assert_cmpstr (inbox2, ==, e_inbox2);
  g_assert_cmpstr (a2, ==, e_a2);
}

static void
test_maildirpp_list (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) empty = ms_maildir_list (&f->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (empty->len, ==, 0);

  const char *boxes[] = { "lists/gnome", "INBOX", "a", "INBOX/x", "Sent Items", "Entw&APw-rfe", NULL };
  for (const char **b = boxes; *b; b++)
    make_folder (f, *b);
  make_folder (f, "a"); /* again: fine */
  /* Directories that are no folders of this layout. */
  const char *junk[] = { ".a..b", ".INBOX", ".INBOX.y", ".trailing.", "...z", NULL };
  for (const char **j = junk; *j; j++) {
    g_autofree char *cur = path_of (f->store.root, *j, "cur");
    g_autofree char *new_dir = path_of (f->store.root, *j, "new");
    g_assert_cmpint (g_mkdir_with_parents (cur, 0700), ==, 0);
    g_assert_cmpint (g_mkdir_with_parents (new_dir, 0700), ==, 0);
  }
  g_autofree char *half = path_of (f->store.root, ".half", "cur");
  g_assert_cmpint (g_mkdir_with_parents (half, 0700), ==, 0);
  g_autofree char *plain = path_of (f->store.root, "plain", "cur");
  g_assert_cmpint (g_mkdir_with_parents (plain, 0700), ==, 0);
  g_autofree char *file = path_of (f->store.root, ".file", NULL);
  write_file (file, "x");

  g_autoptr (GPtrArray) names = ms_maildir_list (&f->store, &error);
  g_assert_no_error (error);
  g_autofree char *got = joined (names);
  g_assert_cmpstr (got, ==, "INBOX Entw&APw-rfe INBOX/x Sent Items a lists/gnome");
  g_autofree char *on_disk = listing (f->store.root);
  g_assert_cmpstr (on_disk, ==,
                   "...z ..x .Entw&APw-rfe .INBOX .INBOX.y .Sent Items .a .a..b .file .half .lists.gnome "
                   ".trailing. cur new plain tmp");
  /* Every listed name maps back to its directory. */
  for (guint i = 0; i < names->len; i++) {
    g_autofree char *p = folder (f, g_ptr_array_index (names, i));
    g_assert_true (g_file_test (p, G_FILE_TEST_IS_DIR));
  }
}

static void
test_verbatim_list (Fixture *f, gconstpointer data)
{
  const char *boxes[] = { "INBOX", "INBOX/x", "a", "a/b", "a/b/c", "deep/x", "Sent Items", NULL };
  for (const char **b = boxes; *b; b++)
    make_folder (f, *b);
  g_autofree char *inbox = folder (f, "INBOX");
  g_autofree char *e_inbox = path_of (f->store.root, "INBOX", NULL);
  g_assert_cmpstr (inbox, ==, e_inbox);

  /* Hidden directories, a folder's own subdirectories, symbolic links. */
  g_autofree char *notmuch = path_of (f->store.root, ".notmuch", "cur");
  g_autofree char *notmuch_new = path_of (f->store.root, ".notmuch", "new");
  g_assert_cmpint (g_mkdir_with_parents (notmuch, 0700), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (notmuch_new, 0700), ==, 0);
  g_autofree char *in_cur = path_of (f->store.root, "a/cur", "sub/cur");
  g_assert_cmpint (g_mkdir_with_parents (in_cur, 0700), ==, 0);
  g_autofree char *loop = path_of (f->store.root, "a/b", "loop");
  g_assert_cmpint (symlink ("..", loop), ==, 0);
  g_autofree char *alias = path_of (f->store.root, "alias", NULL);
  g_assert_cmpint (symlink ("a/b", alias), ==, 0);
  g_autofree char *outside = path_of (f->dir, "outside", NULL);
  g_autofree char *outside_cur = path_of (outside, "cur", NULL);
  g_autofree char *outside_new = path_of (outside, "new", NULL);
  g_assert_cmpint (g_mkdir_with_parents (outside_cur, 0700), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (outside_new, 0700), ==, 0);
  g_autofree char *ext = path_of (f->store.root, "archive", NULL);
  g_assert_cmpint (symlink (outside, ext), ==, 0);

  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) names = ms_maildir_list (&f->store, &error);
  g_assert_no_error (error);
  g_autofree char *got = joined (names);
  /* "alias" is a/b again and the loop leads back: neither is listed. */
  g_assert_cmpstr (got, ==, "INBOX INBOX/x Sent Items a a/b a/b/c archive deep/x");
}

static void
test_verbatim_inbox_override (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  /* mbsync's common setup: Path ~/Mail/ Inbox ~/Mail/INBOX. */
  f->store.inbox = g_build_filename (f->store.root, "INBOX", NULL);
  g_autofree char *root_slash = g_strconcat (f->store.root, "/", NULL);
  g_free (f->store.root);
  f->store.root = g_strdup (root_slash);
  make_folder (f, "INBOX");
  make_folder (f, "INBOX/x");
  make_folder (f, "a");
  g_autoptr (GPtrArray) n1 = ms_maildir_list (&f->store, &error);
  g_assert_no_error (error);
  g_autofree char *got1 = joined (n1);
  g_assert_cmpstr (got1, ==, "INBOX INBOX/x a");

  /* The Inbox inside ROOT under another name: that directory is INBOX's. */
  g_free (f->store.inbox);
  f->store.inbox = g_build_filename (f->store.root, "Local Inbox", NULL);
  make_folder (f, "INBOX");
  make_folder (f, "INBOX/y");
  assert_bad_name (f, "Local Inbox");
  assert_bad_name (f, "Local Inbox/y");
  g_autofree char *y = folder (f, "INBOX/y");
  g_autofree char *e_y = path_of (f->store.root, "Local Inbox", "y");
  g_assert_cmpstr (y, ==, e_y);
  g_autofree char *w = ms_maildir_name_from_watcher (&f->store, "Local Inbox/y", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (w, ==, "INBOX/y");
  g_autofree char *w2 = ms_maildir_name_from_watcher (&f->store, "Local Inbox", &error);
  g_assert_cmpstr (w2, ==, "INBOX");
  g_autoptr (GPtrArray) n2 = ms_maildir_list (&f->store, &error);
  g_assert_no_error (error);
  g_autofree char *got2 = joined (n2);
  /* The old ROOT/INBOX is no folder now (mbsync ignores it too). */
  g_assert_cmpstr (got2, ==, "INBOX INBOX/y a");

  /* The Inbox outside ROOT. */
  g_free (f->store.inbox);
  f->store.inbox = g_build_filename (f->dir, "spool", NULL);
  make_folder (f, "INBOX");
  g_autofree char *spool = path_of (f->dir, "spool", NULL);
  g_autofree char *inbox = folder (f, "INBOX");
  g_assert_cmpstr (inbox, ==, spool);
  g_autoptr (GPtrArray) n3 = ms_maildir_list (&f->store, &error);
  g_autofree char *got3 = joined (n3);
  /* ROOT's "Local Inbox" is an ordinary folder again. */
  g_assert_cmpstr (got3, ==, "INBOX Local Inbox Local Inbox/y a");

  /* The Inbox is ROOT (what watch_maildirs --layout verbatim assumes):
   * subfolders are named from ROOT, so "INBOX/a" would be a second name. */
  g_free (f->store.inbox);
  f->store.inbox = g_strdup (f->store.root);
  make_folder (f, "INBOX");
  assert_bad_name (f, "INBOX/a");
  g_autofree char *a = folder (f, "a");
  g_autofree char *e_a = path_of (f->store.root, "a", NULL);
  g_assert_cmpstr (a, ==, e_a);
  g_autoptr (GPtrArray) n4 = ms_maildir_list (&f->store, &error);
  g_autofree char *got4 = joined (n4);
  g_assert_cmpstr (got4, ==, "INBOX Local Inbox Local Inbox/y a");
}

/* mbsync allows a store with Inbox but no Path. */
static void
test_no_path (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->store.inbox = g_build_filename (f->dir, "Maildir", NULL);
  g_clear_pointer (&f->store.root, g_free);

  f->store.layout = MS_MAILDIR_LAYOUT_MAILDIRPP;
  make_folder (f, "INBOX");
  make_folder (f, "a/b");
  g_autofree char *ab = folder (f, "a/b");
  g_autofree char *e_ab = path_of (f->store.inbox, ".a.b", NULL);
  g_assert_cmpstr (ab, ==, e_ab);
  g_autoptr (GPtrArray) n1 = ms_maildir_list (&f->store, &error);
  g_assert_no_error (error);
  g_autofree char *got1 = joined (n1);
  g_assert_cmpstr (got1, ==, "INBOX a/b");

  f->store.layout = MS_MAILDIR_LAYOUT_VERBATIM;
  make_folder (f, "INBOX/x");
  g_autofree char *x = folder (f, "INBOX/x");
  g_autofree char *e_x = path_of (f->store.inbox, "x", NULL);
  g_assert_cmpstr (x, ==, e_x);
  g_assert_null (ms_maildir_folder_path (&f->store, "a", &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "no Path"));
  g_clear_error (&error);
  g_autoptr (GPtrArray) n2 = ms_maildir_list (&f->store, &error);
  g_assert_no_error (error);
  g_autofree char *got2 = joined (n2);
  g_assert_cmpstr (got2, ==, "INBOX INBOX/x");
}

static void
test_watcher_names (Fixture *f, gconstpointer data)
{
  struct {
    const char *in, *out;
  } pp[] = { { "", "" },          { "INBOX", "INBOX" }, { "foo.bar", "foo/bar" }, { "foo", "foo" },
             { ".x", "INBOX/x" }, { ".x.y", "INBOX/x/y" }, { "with space", "with space" },
             { "a&b", "a&b" },    { "foo..bar", NULL },  { "a/b", NULL },           { "INBOX.x", NULL },
             { "..x", NULL },     { "trail.", NULL },    { "..", NULL },            { "x\ty", NULL } },
    vb[] = { { "", "" },       { "INBOX", "INBOX" }, { "a/b", "a/b" },    { "a.b", "a.b" },
             { "INBOX/x", "INBOX/x" }, { "a/cur", NULL }, { "../x", NULL }, { ".hidden", NULL } };
  for (int layout = 0; layout < 2; layout++) {
    f->store.layout = layout == 0 ? MS_MAILDIR_LAYOUT_MAILDIRPP : MS_MAILDIR_LAYOUT_VERBATIM;
    gsize n = layout == 0 ? G_N_ELEMENTS (pp) : G_N_ELEMENTS (vb);
    for (gsize i = 0; i < n; i++) {
      const char *in = layout == 0 ? pp[i].in : vb[i].in;
      const char *out = layout == 0 ? pp[i].out : vb[i].out;
      g_autoptr (GError) error = NULL;
      g_autofree char *got = ms_maildir_name_from_watcher (&f->store, in, &error);
      g_autofree char *shown = g_strescape (in, NULL);
      g_test_message ("layout %d: \"%s\"", layout, shown);
      g_assert_cmpstr (got, ==, out);
      if (out == NULL)
        g_assert_error (error, MS_ERROR, MS_ERROR_BAD_NAME);
    }
  }
}

/* ---- deliveries ------------------------------------------------------------ */

static char *
read_file (const char *path)
{
  char *text = NULL;
  g_autoptr (GError) error = NULL;
  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  return text;
}

static void
test_delivery_commit (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  make_folder (f, "INBOX");
  g_autofree char *dir = folder (f, "INBOX");
  g_autofree char *tmp = path_of (dir, "tmp", NULL);

  /* A body in many chunks, as it streams from the server. */
  MsMaildirDelivery *d = ms_maildir_delivery_begin (&f->store, "INBOX", &error);
  g_assert_no_error (error);
  g_autofree char *in_tmp = listing (tmp);
  g_assert_cmpstr (in_tmp, !=, "");
  g_autoptr (GString) body = g_string_new (NULL);
  for (int i = 0; i < 1000; i++) {
    g_autofree char *line = g_strdup_printf ("Line %d of a long message body\r\n", i);
    g_string_append (body, line);
    g_assert_true (ms_maildir_delivery_write (d, line, strlen (line), &error));
  }
  g_assert_true (ms_maildir_delivery_write (d, "", 0, &error));
  ms_maildir_delivery_set_mtime (d, 1234567890);
  g_autofree char *name = ms_maildir_delivery_commit (d, 5, 0, TRUE, &error);
  g_assert_no_error (error);
  g_autoptr (MsMaildirMessage) m = ms_maildir_message_parse (name, ':', TRUE);
  g_assert_cmpuint (m->uid, ==, 5);
  g_assert_true (g_str_has_suffix (name, ",U=5:2,"));
  g_autofree char *host_pid = g_strdup_printf (".%u_", (guint) getpid ());
  g_assert_nonnull (strstr (name, host_pid));
  g_autofree char *path = path_of (dir, "new", name);
  g_autofree char *text = read_file (path);
  g_assert_cmpstr (text, ==, body->str);
  struct stat st;
  g_assert_cmpint (stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mtime, ==, 1234567890);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_autofree char *tmp_after = listing (tmp);
  g_assert_cmpstr (tmp_after, ==, "");

  /* Seen goes to cur/ even when new/ was asked for; other flags stay in new/. */
  g_autofree char *seen = deliver (f, "INBOX", "x", 6, MS_FLAG_SEEN | MS_FLAG_FLAGGED, TRUE);
  g_assert_true (g_str_has_suffix (seen, ",U=6:2,FS"));
  g_autofree char *seen_path = path_of (dir, "cur", seen);
  g_assert_true (g_file_test (seen_path, G_FILE_TEST_IS_REGULAR));
  g_autofree char *flagged = deliver (f, "INBOX", "x", 0, MS_FLAG_FLAGGED, TRUE);
  g_assert_true (g_str_has_suffix (flagged, ":2,F"));
  g_assert_null (strstr (flagged, ",U="));
  g_autofree char *flagged_path = path_of (dir, "new", flagged);
  g_assert_true (g_file_test (flagged_path, G_FILE_TEST_IS_REGULAR));
  g_autofree char *cur_asked = deliver (f, "INBOX", "x", 7, 0, FALSE);
  g_autofree char *cur_path = path_of (dir, "cur", cur_asked);
  g_assert_true (g_file_test (cur_path, G_FILE_TEST_IS_REGULAR));

  /* Another delimiter, without fsync. */
  f->store.info_delimiter = ';';
  f->store.fsync = FALSE;
  g_autofree char *semi = deliver (f, "INBOX", "x", 8, MS_FLAG_SEEN, TRUE);
  g_assert_true (g_str_has_suffix (semi, ",U=8;2,S"));
  g_autofree char *tmp_end = listing (tmp);
  g_assert_cmpstr (tmp_end, ==, "");
}

static void
test_delivery_abort (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  make_folder (f, "a");
  g_autofree char *dir = folder (f, "a");
  g_autofree char *tmp = path_of (dir, "tmp", NULL);

  MsMaildirDelivery *d = ms_maildir_delivery_begin (&f->store, "a", &error);
  g_assert_no_error (error);
  g_assert_true (ms_maildir_delivery_write (d, "partial", 7, &error));
  ms_maildir_delivery_abort (d);
  ms_maildir_delivery_abort (NULL);
  {
    g_autoptr (MsMaildirDelivery) dropped = ms_maildir_delivery_begin (&f->store, "a", &error);
    g_assert_no_error (error);
    g_assert_true (ms_maildir_delivery_write (dropped, "x", 1, &error));
  }
  g_autofree char *left = listing (tmp);
  g_assert_cmpstr (left, ==, "");
  g_autofree char *new_dir = path_of (dir, "new", NULL);
  g_autofree char *cur_dir = path_of (dir, "cur", NULL);
  g_autofree char *in_new = listing (new_dir);
  g_autofree char *in_cur = listing (cur_dir);
  g_assert_cmpstr (in_new, ==, "");
  g_assert_cmpstr (in_cur, ==, "");

  /* A folder that does not exist: the error names the path. */
  d = ms_maildir_delivery_begin (&f->store, "missing", &error);
  g_assert_null (d);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "/.missing/tmp/"));

  /* A commit that cannot rename (cur/ is gone) leaves nothing in tmp/. */
  g_clear_error (&error);
  d = ms_maildir_delivery_begin (&f->store, "a", &error);
  g_assert_no_error (error);
  g_assert_cmpint (rmdir (cur_dir), ==, 0);
  g_autofree char *name = ms_maildir_delivery_commit (d, 1, MS_FLAG_SEEN, FALSE, &error);
  g_assert_null (name);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "renaming"));
  g_autofree char *left2 = listing (tmp);
  g_assert_cmpstr (left2, ==, "");
}

/* Many deliveries in one second, from several processes at once: every
 * name is distinct and nothing is replaced. */
static void
test_delivery_unique (Fixture *f, gconstpointer data)
{
  enum { CHILDREN = 4, EACH = 150 };
  make_folder (f, "INBOX");
  f->store.fsync = FALSE;
  pid_t pids[CHILDREN];
  for (int c = 0; c < CHILDREN; c++) {
    pids[c] = fork ();
    g_assert_cmpint (pids[c], >=, 0);
    if (pids[c] == 0) {
      for (int i = 0; i < EACH; i++) {
        MsMaildirDelivery *d = ms_maildir_delivery_begin (&f->store, "INBOX", NULL);
        if (d == NULL || !ms_maildir_delivery_write (d, "x", 1, NULL))
          _exit (1);
        char *name = ms_maildir_delivery_commit (d, 0, 0, TRUE, NULL);
        if (name == NULL)
          _exit (1);
        g_free (name);
      }
      _exit (0);
    }
  }
  for (int i = 0; i < EACH; i++)
    g_free (deliver (f, "INBOX", "y", 0, 0, TRUE));
  for (int c = 0; c < CHILDREN; c++) {
    int status;
    g_assert_cmpint (waitpid (pids[c], &status, 0), ==, pids[c]);
    g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  }
  g_autoptr (MsMaildirScan) scan = scan_ok (f, "INBOX", NULL);
  g_assert_cmpuint (scan->messages->len, ==, (CHILDREN + 1) * EACH);
  g_autoptr (GHashTable) keys = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < scan->messages->len; i++)
    g_assert_true (g_hash_table_add (keys, msg_at (scan, i)->key));
}

/* ---- scans ----------------------------------------------------------------- */

static void
put (const char *dir, const char *sub, const char *name)
{
  g_autofree char *p = path_of (dir, sub, name);
  write_file (p, "Subject: x\n\nbody\n");
}

static void
test_scan_tree (Fixture *f, gconstpointer data)
{
  make_folder (f, "a");
  g_autofree char *dir = folder (f, "a");
  g_autofree char *uv = path_of (dir, ".uidvalidity", NULL);
  write_file (uv, "1700000000\n10\n");
  put (dir, "new", "1700000003.9_1.h");
  put (dir, "new", "1700000001.9_1.h,U=4:2,");
  put (dir, "cur", "1700000002.9_1.h,U=2:2,RS");
  put (dir, "cur", "1700000000.M1P2.host,S=321,W=330:2,Sab");
  put (dir, "cur", ".hidden-editor-file");
  put (dir, "cur", "1600000000.1_1.h,U=10:2,T");
  g_autofree char *subdir = path_of (dir, "cur", "not-a-message");
  g_assert_cmpint (g_mkdir (subdir, 0700), ==, 0);
  g_autofree char *target = path_of (dir, "cur", "1700000002.9_1.h,U=2:2,RS");
  g_autofree char *link = path_of (dir, "cur", "1700000005.9_1.h:2,F");
  g_assert_cmpint (symlink (target, link), ==, 0);
  g_autofree char *dangling = path_of (dir, "cur", "1700000006.9_1.h:2,");
  g_assert_cmpint (symlink ("/nonexistent/file", dangling), ==, 0);

  g_autoptr (GPtrArray) dups = NULL;
  g_autoptr (MsMaildirScan) scan = scan_ok (f, "a", &dups);
  g_assert_cmpstr (scan->path, ==, dir);
  g_assert_cmpuint (scan->uidvalidity, ==, 1700000000);
  g_assert_cmpuint (scan->max_uid, ==, 10);
  g_assert_cmpuint (dups->len, ==, 0);
  g_assert_cmpuint (scan->messages->len, ==, 6);
  /* uid 0 first (by key), then by uid. */
  g_assert_cmpstr (msg_at (scan, 0)->key, ==, "1700000000.M1P2.host,S=321,W=330");
  g_assert_cmpuint (msg_at (scan, 0)->size, ==, 321);
  g_assert_cmpuint (msg_at (scan, 0)->flags, ==, MS_FLAG_SEEN);
  g_assert_cmpstr (msg_at (scan, 1)->name, ==, "1700000003.9_1.h");
  g_assert_true (msg_at (scan, 1)->in_new);
  g_assert_cmpstr (msg_at (scan, 2)->name, ==, "1700000005.9_1.h:2,F");
  g_assert_cmpuint (msg_at (scan, 3)->uid, ==, 2);
  g_assert_cmpuint (msg_at (scan, 3)->flags, ==, MS_FLAG_ANSWERED | MS_FLAG_SEEN);
  g_assert_false (msg_at (scan, 3)->in_new);
  g_assert_cmpuint (msg_at (scan, 4)->uid, ==, 4);
  g_assert_true (msg_at (scan, 4)->in_new);
  g_assert_cmpuint (msg_at (scan, 5)->uid, ==, 10);
  g_assert_cmpuint (msg_at (scan, 5)->flags, ==, MS_FLAG_DELETED);

  /* A folder without cur/ is no folder. */
  g_autofree char *cur = path_of (dir, "cur", NULL);
  g_autofree char *moved = path_of (dir, "cur.gone", NULL);
  g_assert_cmpint (rename (cur, moved), ==, 0);
  g_autoptr (GError) error = NULL;
  g_assert_null (ms_maildir_scan (&f->store, "a", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "/.a/cur"));
}

static void
test_scan_duplicates (Fixture *f, gconstpointer data)
{
  make_folder (f, "INBOX");
  g_autofree char *dir = folder (f, "INBOX");
  g_autoptr (GError) error = NULL;
  g_assert_true (ms_maildir_write_uidvalidity (&f->store, "INBOX", 77, 10, &error));
  put (dir, "cur", "1700000001.1_1.h,U=3:2,S");
  put (dir, "new", "1700000002.1_1.h,U=3:2,");  /* a copy by a MUA */
  put (dir, "cur", "1700000000.1_1.h,U=3:2,F"); /* and another */
  put (dir, "cur", "1700000003.1_1.h,U=99:2,S"); /* moved in from elsewhere */
  put (dir, "cur", "1700000004.1_1.h,U=10:2,S");
  g_autoptr (GPtrArray) dups = NULL;
  g_autoptr (MsMaildirScan) scan = scan_ok (f, "INBOX", &dups);
  g_assert_cmpuint (scan->messages->len, ==, 5);
  g_autofree char *d = joined (dups);
  g_assert_cmpstr (d, ==, "1700000001.1_1.h,U=3:2,S 1700000002.1_1.h,U=3:2, 1700000003.1_1.h,U=99:2,S");
  /* The first by key keeps UID 3; the others are new messages now. */
  g_assert_cmpuint (msg_at (scan, 0)->uid, ==, 0);
  g_assert_cmpuint (msg_at (scan, 1)->uid, ==, 0);
  g_assert_cmpuint (msg_at (scan, 2)->uid, ==, 0);
  g_assert_cmpuint (msg_at (scan, 3)->uid, ==, 3);
  g_assert_cmpstr (msg_at (scan, 3)->name, ==, "1700000000.1_1.h,U=3:2,F");
  g_assert_cmpuint (msg_at (scan, 4)->uid, ==, 10);

  /* Giving a dropped message a fresh UID replaces its old ,U= field. */
  MsMaildirMessage *copy = msg_at (scan, 1);
  g_assert_true (ms_maildir_update (&f->store, "INBOX", copy, copy->flags, 11, &error));
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (copy->name, copy->key));
  g_assert_true (g_str_has_suffix (copy->name, ",U=11:2,"));

  /* One KEY in new/ and in cur/ is one message that a MUA moved while the
   * scan read the two directories: listed once, as it is in cur/, and no
   * duplicate (else it would be pushed again). */
  put (dir, "new", "1700000005.1_1.h,U=4:2,");
  put (dir, "cur", "1700000005.1_1.h,U=4:2,S");
  put (dir, "new", "1700000006.1_1.h");
  put (dir, "cur", "1700000006.1_1.h:2,S");
  g_autoptr (GPtrArray) dups3 = NULL;
  g_autoptr (MsMaildirScan) scan3 = scan_ok (f, "INBOX", &dups3);
  g_assert_cmpuint (scan3->messages->len, ==, 7);
  guint found = 0;
  for (guint i = 0; i < scan3->messages->len; i++) {
    const MsMaildirMessage *m = msg_at (scan3, i);
    if (g_str_has_prefix (m->name, "1700000005.")) {
      g_assert_cmpstr (m->name, ==, "1700000005.1_1.h,U=4:2,S");
      g_assert_cmpuint (m->uid, ==, 4);
      found++;
    } else if (g_str_has_prefix (m->name, "1700000006.")) {
      g_assert_cmpstr (m->name, ==, "1700000006.1_1.h:2,S");
      g_assert_false (m->in_new);
      found++;
    }
  }
  g_assert_cmpuint (found, ==, 2);
  g_autofree char *d3 = joined (dups3);
  g_assert_null (strstr (d3, "1700000005"));

  /* No .uidvalidity: no ,U= means anything. */
  g_autofree char *uv = path_of (dir, ".uidvalidity", NULL);
  g_assert_cmpint (unlink (uv), ==, 0);
  g_autoptr (GPtrArray) dups2 = NULL;
  g_autoptr (MsMaildirScan) scan2 = scan_ok (f, "INBOX", &dups2);
  g_assert_cmpuint (scan2->uidvalidity, ==, 0);
  g_assert_cmpuint (dups2->len, ==, 0);
  for (guint i = 0; i < scan2->messages->len; i++)
    g_assert_cmpuint (msg_at (scan2, i)->uid, ==, 0);
}

static void
test_scan_stale_tmp (Fixture *f, gconstpointer data)
{
  make_folder (f, "INBOX");
  g_autofree char *dir = folder (f, "INBOX");
  put (dir, "tmp", "old");
  put (dir, "tmp", "fresh");
  put (dir, "tmp", "almost");
  g_autofree char *old = path_of (dir, "tmp", "old");
  g_autofree char *almost = path_of (dir, "tmp", "almost");
  time_t now = time (NULL);
  set_mtime (old, now - MS_MAILDIR_TMP_STALE_SECS - 60);
  set_mtime (almost, now - MS_MAILDIR_TMP_STALE_SECS + 600);
  g_autofree char *subdir = path_of (dir, "tmp", "olddir");
  g_assert_cmpint (g_mkdir (subdir, 0700), ==, 0);
  set_mtime (subdir, now - MS_MAILDIR_TMP_STALE_SECS - 60);
  g_autoptr (MsMaildirScan) scan = scan_ok (f, "INBOX", NULL);
  g_assert_cmpuint (scan->messages->len, ==, 0);
  g_autofree char *tmp = path_of (dir, "tmp", NULL);
  g_autofree char *left = listing (tmp);
  g_assert_cmpstr (left, ==, "almost fresh olddir");
}

static void
test_fingerprints (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  make_folder (f, "INBOX");
  g_autofree char *dir = folder (f, "INBOX");
  g_autofree char *new_dir = path_of (dir, "new", NULL);
  g_autofree char *cur_dir = path_of (dir, "cur", NULL);
  time_t old = time (NULL) - 3600;
  set_mtime (new_dir, old);
  set_mtime (cur_dir, old);

  gint64 n1, c1, n2, c2;
  g_assert_true (ms_maildir_fingerprint (&f->store, "INBOX", &n1, &c1, &error));
  g_assert_no_error (error);
  g_assert_cmpint (n1, ==, (gint64) old * 1000000000);
  g_assert_true (ms_maildir_fingerprint_same (n1, n1) && ms_maildir_fingerprint_same (c1, c1));
  {
    g_autoptr (MsMaildirScan) scan = scan_ok (f, "INBOX", NULL);
    g_assert_true (ms_maildir_fingerprint_same (n1, scan->mtime_new_ns));
    g_assert_true (ms_maildir_fingerprint_same (c1, scan->mtime_cur_ns));
  }

  g_free (deliver (f, "INBOX", "x", 1, 0, TRUE));
  g_assert_true (ms_maildir_fingerprint (&f->store, "INBOX", &n2, &c2, &error));
  g_assert_false (ms_maildir_fingerprint_same (n1, n2));
  g_assert_true (ms_maildir_fingerprint_same (c1, c2));

  /* A fresh mtime is unsettled: a further change might not move it. */
  set_mtime (cur_dir, time (NULL) + 30);
  g_assert_true (ms_maildir_fingerprint (&f->store, "INBOX", &n2, &c2, &error));
  g_assert_cmpint (c2, ==, MS_MAILDIR_FINGERPRINT_UNSETTLED);
  g_assert_false (ms_maildir_fingerprint_same (c2, c2));
  /* Whole seconds (zero nanoseconds) settle only after a full second.  The
   * clock may reach the next second between setting and looking (then
   * the mtime is settled): look again, in a later second. */
  gboolean looked_within_the_second = FALSE;
  for (int attempt = 0; attempt < 5 && !looked_within_the_second; attempt++) {
    gint64 second = g_get_real_time () / G_USEC_PER_SEC;
    set_mtime (cur_dir, (time_t) second);
    g_assert_true (ms_maildir_fingerprint (&f->store, "INBOX", &n2, &c2, &error));
    looked_within_the_second = g_get_real_time () / G_USEC_PER_SEC == second;
    if (looked_within_the_second)
      g_assert_cmpint (c2, ==, MS_MAILDIR_FINGERPRINT_UNSETTLED);
  }
  g_assert_true (looked_within_the_second);

  g_assert_false (ms_maildir_fingerprint (&f->store, "nothere", &n2, &c2, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
}

/* ---- .uidvalidity ------------------------------------------------------------ */

static void
test_uidvalidity (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  make_folder (f, "INBOX");
  g_autofree char *dir = folder (f, "INBOX");
  g_autofree char *uv = path_of (dir, ".uidvalidity", NULL);
  guint32 v = 1, m = 1;

  g_assert_true (ms_maildir_read_uidvalidity (&f->store, "INBOX", &v, &m, &error));
  g_assert_cmpuint (v, ==, 0);
  g_assert_cmpuint (m, ==, 0);
  write_file (uv, "");
  g_assert_true (ms_maildir_read_uidvalidity (&f->store, "INBOX", &v, &m, &error));
  g_assert_cmpuint (v, ==, 0);

  g_assert_true (ms_maildir_write_uidvalidity (&f->store, "INBOX", 1700000000, 4294967295u, &error));
  g_assert_no_error (error);
  g_autofree char *text = read_file (uv);
  g_assert_cmpstr (text, ==, "1700000000\n4294967295\n");
  g_assert_true (ms_maildir_read_uidvalidity (&f->store, "INBOX", &v, &m, &error));
  g_assert_cmpuint (v, ==, 1700000000);
  g_assert_cmpuint (m, ==, 4294967295u);
  f->store.fsync = FALSE;
  g_assert_true (ms_maildir_write_uidvalidity (&f->store, "INBOX", 9, 0, &error));
  g_assert_true (ms_maildir_read_uidvalidity (&f->store, "INBOX", &v, &m, &error));
  g_assert_cmpuint (v, ==, 9);
  g_assert_cmpuint (m, ==, 0);
  g_autofree char *files = listing (dir);
  g_assert_cmpstr (files, ==, ".uidvalidity cur new tmp");

  /* What mbsync's sscanf("%u\n%u") accepts. */
  write_file (uv, "12 34");
  g_assert_true (ms_maildir_read_uidvalidity (&f->store, "INBOX", &v, &m, &error));
  g_assert_cmpuint (v, ==, 12);
  g_assert_cmpuint (m, ==, 34);
  write_file (uv, "\n12\r\n34\r\n");
  g_assert_true (ms_maildir_read_uidvalidity (&f->store, "INBOX", &v, &m, &error));
  g_assert_no_error (error);

  const char *bad[] = { "abc", "12", "12\n", "0\n5\n", "12\n34\nxx", "99999999999\n1\n", "-1\n2\n",
                        "12\n+3\n", "   \n", NULL };
  for (const char **b = bad; *b; b++) {
    write_file (uv, *b);
    v = 7;
    g_assert_false (ms_maildir_read_uidvalidity (&f->store, "INBOX", &v, &m, &error));
    g_assert_error (error, MS_ERROR, MS_ERROR_FAILED);
    g_assert_nonnull (strstr (error->message, ".uidvalidity"));
    g_assert_cmpuint (v, ==, 7);
    g_clear_error (&error);
    g_assert_null (ms_maildir_scan (&f->store, "INBOX", NULL, &error));
    g_assert_error (error, MS_ERROR, MS_ERROR_FAILED);
    g_clear_error (&error);
  }
  g_autofree char *big = g_strnfill (100, '1');
  write_file (uv, big);
  g_assert_false (ms_maildir_read_uidvalidity (&f->store, "INBOX", &v, &m, &error));
}

/* ---- updates, removal, reading ------------------------------------------------ */

static void
test_update (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  make_folder (f, "INBOX");
  g_autofree char *dir = folder (f, "INBOX");
  g_assert_true (ms_maildir_write_uidvalidity (&f->store, "INBOX", 1, 5, &error));
  g_free (deliver (f, "INBOX", "one", 0, 0, TRUE));
  put (dir, "cur", "1700000000.M1P2.host,S=5:2,Sab");
  g_autoptr (MsMaildirScan) scan = scan_ok (f, "INBOX", NULL);
  MsMaildirMessage *dov = msg_at (scan, 0);
  MsMaildirMessage *mine = msg_at (scan, 1);
  g_assert_true (mine->in_new);

  /* A UID alone keeps a message in new/. */
  g_autofree char *key = g_strdup (mine->key);
  g_assert_true (ms_maildir_update (&f->store, "INBOX", mine, 0, 1, &error));
  g_assert_no_error (error);
  g_assert_true (mine->in_new);
  g_assert_cmpuint (mine->uid, ==, 1);
  g_autofree char *e1 = g_strdup_printf ("%s,U=1:2,", key);
  g_assert_cmpstr (mine->name, ==, e1);
  g_autofree char *p1 = path_of (dir, "new", e1);
  g_assert_true (g_file_test (p1, G_FILE_TEST_IS_REGULAR));

  /* Nothing to do is no rename. */
  g_assert_true (ms_maildir_update (&f->store, "INBOX", mine, 0, 0, &error));
  g_assert_true (ms_maildir_update (&f->store, "INBOX", mine, 0, 1, &error));
  g_assert_true (g_file_test (p1, G_FILE_TEST_IS_REGULAR));

  /* Flags move it to cur/. */
  g_assert_true (ms_maildir_update (&f->store, "INBOX", mine, MS_FLAG_SEEN, 0, &error));
  g_assert_false (mine->in_new);
  g_autofree char *e2 = g_strdup_printf ("%s,U=1:2,S", key);
  g_assert_cmpstr (mine->name, ==, e2);
  g_autofree char *p2 = path_of (dir, "cur", e2);
  g_assert_true (g_file_test (p2, G_FILE_TEST_IS_REGULAR));
  g_assert_false (g_file_test (p1, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (mine->flags, ==, MS_FLAG_SEEN);

  /* Dovecot's keyword letters are kept; the UID goes after its fields. */
  g_assert_true (ms_maildir_update (&f->store, "INBOX", dov, MS_FLAG_FLAGGED | MS_FLAG_SEEN, 2, &error));
  g_assert_cmpstr (dov->name, ==, "1700000000.M1P2.host,S=5,U=2:2,FSab");
  g_autoptr (MsMaildirScan) again = scan_ok (f, "INBOX", NULL);
  g_assert_cmpuint (again->messages->len, ==, 2);
  g_assert_cmpstr (msg_at (again, 0)->name, ==, e2);
  g_assert_cmpstr (msg_at (again, 1)->name, ==, "1700000000.M1P2.host,S=5,U=2:2,FSab");
}

static void
test_update_race (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  make_folder (f, "INBOX");
  g_autofree char *dir = folder (f, "INBOX");
  g_assert_true (ms_maildir_write_uidvalidity (&f->store, "INBOX", 1, 5, &error));
  put (dir, "cur", "1700000000.1_1.h,U=1:2,S");
  put (dir, "new", "1700000001.1_1.h");
  put (dir, "cur", "1700000002.1_1.h,U=2:2,");
  g_autoptr (MsMaildirScan) scan = scan_ok (f, "INBOX", NULL);
  MsMaildirMessage *fresh = msg_at (scan, 0), *one = msg_at (scan, 1), *two = msg_at (scan, 2);

  /* The MUA marks message 1 answered while we add flagged: both survive. */
  g_autofree char *a = path_of (dir, "cur", "1700000000.1_1.h,U=1:2,S");
  g_autofree char *b = path_of (dir, "cur", "1700000000.1_1.h,U=1:2,RSx");
  g_assert_cmpint (rename (a, b), ==, 0);
  g_assert_true (ms_maildir_update (&f->store, "INBOX", one, MS_FLAG_SEEN | MS_FLAG_FLAGGED, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (one->name, ==, "1700000000.1_1.h,U=1:2,FRSx");
  g_assert_cmpuint (one->flags, ==, MS_FLAG_SEEN | MS_FLAG_FLAGGED | MS_FLAG_ANSWERED);
  g_autofree char *c = path_of (dir, "cur", one->name);
  g_assert_true (g_file_test (c, G_FILE_TEST_IS_REGULAR));

  /* The MUA read the new message (new/ -> cur/) while we give it a UID. */
  g_autofree char *n = path_of (dir, "new", "1700000001.1_1.h");
  g_autofree char *m = path_of (dir, "cur", "1700000001.1_1.h:2,S");
  g_assert_cmpint (rename (n, m), ==, 0);
  g_assert_true (ms_maildir_update (&f->store, "INBOX", fresh, 0, 3, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (fresh->name, ==, "1700000001.1_1.h,U=3:2,S");
  g_assert_false (fresh->in_new);
  g_assert_cmpuint (fresh->flags, ==, MS_FLAG_SEEN);
  g_assert_cmpuint (fresh->uid, ==, 3);

  /* Opening and removing find a renamed message too. */
  g_autofree char *t1 = path_of (dir, "cur", "1700000002.1_1.h,U=2:2,");
  g_autofree char *t2 = path_of (dir, "cur", "1700000002.1_1.h,U=2:2,T");
  g_assert_cmpint (rename (t1, t2), ==, 0);
  int fd = ms_maildir_open_message (&f->store, "INBOX", two, &error);
  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  char buf[64];
  ssize_t got = read (fd, buf, sizeof buf - 1);
  g_assert_cmpint (got, >, 0);
  buf[got] = '\0';
  g_assert_cmpstr (buf, ==, "Subject: x\n\nbody\n");
  close (fd);
  g_assert_true (ms_maildir_remove (&f->store, "INBOX", two, &error));
  g_assert_false (g_file_test (t2, G_FILE_TEST_EXISTS));
  /* Gone already: removed is removed. */
  g_assert_true (ms_maildir_remove (&f->store, "INBOX", two, &error));
  g_assert_no_error (error);

  /* Gone for good: a clear, specific error. */
  g_assert_cmpint (unlink (c), ==, 0);
  g_assert_false (ms_maildir_update (&f->store, "INBOX", one, MS_FLAG_SEEN, 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "gone"));
  g_clear_error (&error);
  g_assert_cmpint (ms_maildir_open_message (&f->store, "INBOX", one, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  /* The struct still names the last file it had. */
  g_assert_cmpstr (one->name, ==, "1700000000.1_1.h,U=1:2,FRSx");

  g_autoptr (MsMaildirScan) end = scan_ok (f, "INBOX", NULL);
  g_assert_cmpuint (end->messages->len, ==, 1);
  g_assert_cmpstr (msg_at (end, 0)->name, ==, "1700000001.1_1.h,U=3:2,S");
}

/* ---- interoperation with the real mbsync ------------------------------------------ */

static gboolean
run_mbsync (const char *rc)
{
  const char *argv[] = { "mbsync", "-q", "-c", rc, "-a", NULL };
  g_autofree char *out = NULL, *err = NULL;
  int status = -1;
  g_autoptr (GError) error = NULL;
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL)) {
    g_test_message ("mbsync failed: %s%s", out, err);
    return FALSE;
  }
  return TRUE;
}

static void
test_real_mbsync (Fixture *f, gconstpointer data)
{
  g_autofree char *mbsync = g_find_program_in_path ("mbsync");
  if (mbsync == NULL) {
    g_test_skip ("mbsync is not installed");
    return;
  }
  g_autoptr (GError) error = NULL;
  /* far: a plain Maildir++ tree with two messages; near: ours. */
  MsMaildirStore far = {
    g_build_filename (f->dir, "far", NULL), NULL, MS_MAILDIR_LAYOUT_MAILDIRPP, TRUE, ':',
  };
  g_assert_true (ms_maildir_create (&far, "INBOX", &error));
  put (far.root, "new", "1700000000.1_1.farhost");
  put (far.root, "cur", "1700000001.1_2.farhost:2,FS");
  make_folder (f, "INBOX");
  g_autofree char *near = folder (f, "INBOX");
  g_autofree char *rc = path_of (f->dir, "mbsyncrc", NULL);
  g_autofree char *conf = g_strdup_printf ("MaildirStore far\nInbox %s\nSubFolders Maildir++\n\n"
                                           "MaildirStore near\nInbox %s\nSubFolders Maildir++\n\n"
                                           "Channel c\nFar :far:\nNear :near:\nPatterns *\n"
                                           "Create Both\nSyncState *\n",
                                           far.root, near);
  write_file (rc, conf);
  g_assert_true (run_mbsync (rc));

  /* What mbsync wrote, read by us. */
  guint32 v, m;
  g_assert_true (ms_maildir_read_uidvalidity (&f->store, "INBOX", &v, &m, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (v, >, 1600000000);
  g_assert_cmpuint (m, ==, 2);
  g_autoptr (GPtrArray) dups = NULL;
  g_autoptr (MsMaildirScan) scan = scan_ok (f, "INBOX", &dups);
  g_assert_cmpuint (dups->len, ==, 0);
  g_assert_cmpuint (scan->uidvalidity, ==, v);
  g_assert_cmpuint (scan->messages->len, ==, 2);
  MsMaildirMessage *m1 = msg_at (scan, 0), *m2 = msg_at (scan, 1);
  g_assert_cmpuint (m1->uid, ==, 1);
  g_assert_true (m1->in_new);
  g_assert_cmpuint (m1->flags, ==, 0);
  g_assert_cmpuint (m2->uid, ==, 2);
  g_assert_false (m2->in_new);
  g_assert_cmpuint (m2->flags, ==, MS_FLAG_FLAGGED | MS_FLAG_SEEN);
  g_autoptr (MsMaildirScan) far_scan = ms_maildir_scan (&far, "INBOX", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (far_scan->messages->len, ==, 2);
  g_assert_cmpuint (msg_at (far_scan, 0)->uid, ==, 1);
  g_assert_cmpstr (msg_at (far_scan, 0)->name, ==, "1700000000.1_1.farhost,U=1");

  /* What we write, read by mbsync: a flag change and a new message with
   * the next UID from the counter. */
  g_assert_true (ms_maildir_update (&f->store, "INBOX", m1, MS_FLAG_SEEN | MS_FLAG_ANSWERED, 0, &error));
  g_assert_no_error (error);
  g_assert_true (ms_maildir_write_uidvalidity (&f->store, "INBOX", v, 3, &error));
  g_autofree char *ours = deliver (f, "INBOX", "Subject: ours\n\nhello\n", 3, MS_FLAG_FLAGGED, TRUE);
  g_assert_true (run_mbsync (rc));

  g_autoptr (MsMaildirScan) far2 = ms_maildir_scan (&far, "INBOX", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (far2->messages->len, ==, 3);
  g_assert_cmpstr (msg_at (far2, 0)->name, ==, "1700000000.1_1.farhost,U=1:2,RS");
  g_assert_cmpuint (msg_at (far2, 2)->uid, ==, 3);
  g_assert_cmpuint (msg_at (far2, 2)->flags, ==, MS_FLAG_FLAGGED);
  g_autofree char *far_new = path_of (far.root, "new", msg_at (far2, 2)->name);
  g_autofree char *body = read_file (far_new);
  g_assert_true (g_str_has_suffix (body, "hello\n"));
  /* mbsync left our names alone. */
  g_autoptr (MsMaildirScan) near2 = scan_ok (f, "INBOX", NULL);
  g_assert_cmpuint (near2->messages->len, ==, 3);
  g_assert_cmpstr (msg_at (near2, 2)->name, ==, ours);
  g_free (far.root);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/maildir/flags/round-trip", test_flags_round_trip);
  g_test_add_func ("/maildir/name/parse-table", test_parse_table);
  g_test_add_func ("/maildir/name/rename-table", test_rename_table);
  g_test_add_func ("/maildir/name/make-key", test_make_key);
#define ADD(path, layout, fn) g_test_add (path, Fixture, layout, fixture_setup, fn, fixture_teardown)
  ADD ("/maildir/folder/unsafe-names-maildir++", MAILDIRPP, test_unsafe_names);
  ADD ("/maildir/folder/unsafe-names-verbatim", VERBATIM, test_unsafe_names);
  ADD ("/maildir/folder/maildir++-paths", MAILDIRPP, test_maildirpp_paths);
  ADD ("/maildir/folder/maildir++-list", MAILDIRPP, test_maildirpp_list);
  ADD ("/maildir/folder/verbatim-list", VERBATIM, test_verbatim_list);
  ADD ("/maildir/folder/verbatim-inbox-override", VERBATIM, test_verbatim_inbox_override);
  ADD ("/maildir/folder/no-path", VERBATIM, test_no_path);
  ADD ("/maildir/folder/watcher-names", MAILDIRPP, test_watcher_names);
  ADD ("/maildir/delivery/commit", MAILDIRPP, test_delivery_commit);
  ADD ("/maildir/delivery/abort", MAILDIRPP, test_delivery_abort);
  ADD ("/maildir/delivery/unique", MAILDIRPP, test_delivery_unique);
  ADD ("/maildir/scan/tree", MAILDIRPP, test_scan_tree);
  ADD ("/maildir/scan/duplicates", MAILDIRPP, test_scan_duplicates);
  ADD ("/maildir/scan/stale-tmp", MAILDIRPP, test_scan_stale_tmp);
  ADD ("/maildir/scan/fingerprints", MAILDIRPP, test_fingerprints);
  ADD ("/maildir/uidvalidity/round-trip", MAILDIRPP, test_uidvalidity);
  ADD ("/maildir/update/flags-and-uid", MAILDIRPP, test_update);
  ADD ("/maildir/update/race", MAILDIRPP, test_update_race);
  ADD ("/maildir/mbsync/interoperate", VERBATIM, test_real_mbsync);
#undef ADD
  return g_test_run ();
}
