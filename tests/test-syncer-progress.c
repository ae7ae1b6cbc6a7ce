/* test-syncer-progress.c — the PROGRESS forms mswatch reads, and what a
 * request keeps of them (src/syncer-progress.h). */
#include <glib.h>
#include <locale.h>
#include <string.h>

#include "syncer-progress.h"

static MsSyncerProgressLine
parse (const char *text)
{
  MsSyncerProgressLine l;
  ms_syncer_progress_parse (text, strlen (text), &l);
  return l;
}

static void
test_parse (void)
{
  MsSyncerProgressLine l = parse ("3/50 mailboxes");
  g_assert_cmpint (l.kind, ==, MS_SYNCER_PROGRESS_MAILBOXES);
  g_assert_cmpuint (l.done, ==, 3);
  g_assert_cmpuint (l.total, ==, 50);

  l = parse ("INBOX: 120/5000 messages, 3145728/90177536 bytes");
  g_assert_cmpint (l.kind, ==, MS_SYNCER_PROGRESS_DOWNLOAD);
  g_assert_cmpuint (l.name_len, ==, 5);
  g_assert_cmpuint (l.done, ==, 120);
  g_assert_cmpuint (l.total, ==, 5000);
  g_assert_cmpuint (l.bytes_done, ==, 3145728);
  g_assert_cmpuint (l.bytes_total, ==, 90177536);

  l = parse ("0/7 messages, 0/900 bytes");
  g_assert_cmpint (l.kind, ==, MS_SYNCER_PROGRESS_DOWNLOAD);
  g_assert_cmpuint (l.name_len, ==, 0);

  /* A name may hold ": " itself; the counts are read from the end. */
  l = parse ("Lists: 2024: 1/2 messages, 10/20 bytes");
  g_assert_cmpint (l.kind, ==, MS_SYNCER_PROGRESS_DOWNLOAD);
  g_assert_cmpuint (l.name_len, ==, strlen ("Lists: 2024"));

  /* Anything else is free text. */
  const char *free_forms[] = {
    "1/2 messages",                               /* no bytes */
    "5/3 mailboxes",                              /* more done than there are */
    "about 3/50 mailboxes",                       /* words before */
    ": 1/2 messages, 1/2 bytes",                  /* an empty name */
    "INBOX 1/2 messages, 1/2 bytes",              /* no ": " */
    "1/2 messages, 3/2 bytes",
    "1/2 messages,  1/2 bytes",
    "/2 mailboxes",
    "1/ mailboxes",
    "1234567890123456789/1234567890123456789 mailboxes", /* 19 digits */
    "",
    "mailboxes",
  };
  for (guint i = 0; i < G_N_ELEMENTS (free_forms); i++) {
    l = parse (free_forms[i]);
    if (l.kind != MS_SYNCER_PROGRESS_FREE)
      g_error ("'%s' was read as a form", free_forms[i]);
  }
}

static const char *
take (MsSyncerProgress *p, const char *text)
{
  return ms_syncer_progress_take (p, text, strlen (text));
}

static void
test_take (void)
{
  MsSyncerProgress p;
  ms_syncer_progress_init (&p);
  g_assert_null (ms_syncer_progress_summary (&p));

  /* Free text is kept and shown as it came. */
  g_assert_cmpstr (take (&p, "connecting"), ==, "connecting");
  g_autofree char *s0 = ms_syncer_progress_summary (&p);
  g_assert_cmpstr (s0, ==, "connecting");

  /* A sync of all mailboxes: two downloads interleave with the count. */
  g_assert_cmpstr (take (&p, "INBOX: 10/100 messages, 1000000/10000000 bytes"), ==,
                   "INBOX: 10/100 messages, 1.0 MB of 10.0 MB");
  take (&p, "Lists: 1/4 messages, 500/2000 bytes");
  take (&p, "2/50 mailboxes");
  take (&p, "INBOX: 20/100 messages, 2000000/10000000 bytes");
  g_assert_cmpint (p.mailboxes_done, ==, 2);
  g_assert_cmpint (p.mailboxes_total, ==, 50);
  g_assert_cmpuint (p.downloads->len, ==, 2);
  g_autofree char *s1 = ms_syncer_progress_summary (&p);
  g_assert_cmpstr (s1, ==, "2/50 mailboxes; Lists: 1/4 messages, 500 bytes of 2.0 kB; "
                           "INBOX: 20/100 messages, 2.0 MB of 10.0 MB");
  const MsSyncerDownload *inbox = g_ptr_array_index (p.downloads, 1);
  g_assert_cmpstr (inbox->mailbox, ==, "INBOX");
  g_assert_cmpuint (inbox->messages_done, ==, 20);
  g_assert_cmpuint (inbox->bytes_total, ==, 10000000);

  /* A finished download is no longer kept. */
  take (&p, "Lists: 4/4 messages, 2000/2000 bytes");
  g_assert_cmpuint (p.downloads->len, ==, 1);

  /* At most MS_SYNCER_PROGRESS_DOWNLOADS_MAX: the one not heard of for
   * longest goes (INBOX, heard of before the nine below). */
  for (guint i = 0; i < MS_SYNCER_PROGRESS_DOWNLOADS_MAX; i++) {
    g_autofree char *line = g_strdup_printf ("box%u: 1/9 messages, 1/9 bytes", i);
    take (&p, line);
  }
  g_assert_cmpuint (p.downloads->len, ==, MS_SYNCER_PROGRESS_DOWNLOADS_MAX);
  for (guint i = 0; i < p.downloads->len; i++)
    g_assert_cmpstr (((const MsSyncerDownload *) g_ptr_array_index (p.downloads, i))->mailbox, !=, "INBOX");
  ms_syncer_progress_clear (&p);
  g_assert_null (p.text);
  g_assert_null (p.downloads);

  /* One mailbox's request: a download without a name. */
  g_assert_cmpstr (take (&p, "3/5 messages, 300/500 bytes"), ==, "3/5 messages, 300 bytes of 500 bytes");
  g_autofree char *s2 = ms_syncer_progress_summary (&p);
  g_assert_cmpstr (s2, ==, "3/5 messages, 300 bytes of 500 bytes");
  ms_syncer_progress_clear (&p);
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "C");
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/syncer-progress/parse", test_parse);
  g_test_add_func ("/syncer-progress/take", test_take);
  return g_test_run ();
}
