/* test-sync-state.c — the sync state: mbsync's state file format (files
 * real mbsync 1.4.4 wrote, every older form it reads, exact error texts,
 * limits), the sidecar, pair bookkeeping, the journal and its replay, and
 * the files: lock (held by another process), commit by rename, torn journal
 * lines, mbsync's own journal, the die-after test knob.
 *
 * The files in tests/data/sync-state were written by mbsync 1.4.4 syncing a
 * Dovecot server (tests/lib/dovecot.sh, far side IMAP) into a Maildir:
 *   pulled          first run, five server messages pulled
 *   pushed          two Maildir messages pushed
 *   flags           flags changed on both sides
 *   deleted         one expunged on the server, one file removed, no Expunge:
 *                   the pairs lose a side ("0 4", "5 0")
 *   expunged        the same with Expunge Both: those pairs gone
 *   placeholders    MaxSize 1k on both sides ('<' and '>')
 *   expired         MaxMessages 2 (MaxExpiredFarUid, '~')
 *   expired-expunged  the expired copies expunged
 *   unsorted        after an interrupted run: pairs not in UID order
 *   interrupted.journal  mbsync's journal of an interrupted run (-Tj8)
 * The last case runs the installed mbsync (skipped without it) on a Maildir
 * to Maildir channel to check that it reads the state we write.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ms-error.h"
#include "sync-state.h"

/* ---- helpers ------------------------------------------------------------------ */

static MsSyncState *
parse_ok (const char *text)
{
  g_autoptr (GError) error = NULL;
  MsSyncState *s = ms_sync_state_parse ("state", text, strlen (text), NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_nonnull (s);
  return s;
}

/* The error message (transfer full). */
static char *
parse_error (const char *text, gsize len)
{
  GError *error = NULL;
  MsSyncState *s = ms_sync_state_parse ("state", text, len, NULL, 0, &error);
  g_assert_null (s);
  g_assert_nonnull (error);
  g_assert_true (error->domain == MS_ERROR);
  char *msg = g_strdup (error->message);
  g_error_free (error);
  return msg;
}

static char *
format (const MsSyncState *s)
{
  return ms_sync_state_format (s);
}

static const MsSyncPair *
pair_at (const MsSyncState *s, guint i)
{
  g_assert_cmpuint (i, <, s->pairs->len);
  return &g_array_index (s->pairs, MsSyncPair, i);
}

/* "F N FLAGS STATUS; ..." for comparisons (STATUS as bits, in hex). */
static char *
pairs_str (const MsSyncState *s)
{
  GString *out = g_string_new (NULL);
  for (guint i = 0; i < s->pairs->len; i++) {
    const MsSyncPair *p = pair_at (s, i);
    g_autofree char *l = ms_flags_to_letters (p->flags);
    g_string_append_printf (out, "%s%u %u %s", i ? "; " : "", p->far_uid, p->near_uid, l);
    if (p->status)
      g_string_append_printf (out, " #%x", p->status);
  }
  return g_string_free (out, FALSE);
}

static char *
read_text (const char *path)
{
  g_autoptr (GError) error = NULL;
  char *text = NULL;
  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  return text;
}

static void
write_text (const char *path, const char *text)
{
  g_autoptr (GError) error = NULL;
  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

static char *
data_file (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "data", "sync-state", name, NULL);
}

/* ---- mbsync's files --------------------------------------------------------------- */

/* The pair lines of a state text sorted by (far, near), as numbers: what
 * our formatter must give back for a file mbsync wrote. */
static char *
sorted_by_uid (const char *text)
{
  const char *body = strstr (text, "\n\n");
  g_assert_nonnull (body);
  g_auto (GStrv) lines = g_strsplit (body + 2, "\n", -1);
  guint n = g_strv_length (lines);
  g_assert_cmpstr (lines[n - 1], ==, "");
  /* insertion sort: the files are tiny */
  for (guint i = 1; i + 1 < n; i++) {
    for (guint j = i; j > 0; j--) {
      guint a1, a2, b1, b2;
      g_assert_cmpint (sscanf (lines[j - 1], "%u %u", &a1, &a2), ==, 2);
      g_assert_cmpint (sscanf (lines[j], "%u %u", &b1, &b2), ==, 2);
      if (a1 < b1 || (a1 == b1 && a2 <= b2))
        break;
      char *t = lines[j];
      lines[j] = lines[j - 1];
      lines[j - 1] = t;
    }
  }
  g_autofree char *pairs = g_strjoinv ("\n", lines);
  g_autofree char *head = g_strndup (text, (gsize) (body - text) + 2);
  return g_strconcat (head, pairs, NULL);
}

static void
test_mbsync_files (void)
{
  static const struct {
    const char *name;
    guint32 max_pulled, max_pushed;
    const char *pairs;
  } files[] = {
    { "mbsync-1.4.4-pulled.state", 5, 5, "1 1 ; 2 2 ; 3 3 ; 4 4 ; 5 5 " },
    { "mbsync-1.4.4-pushed.state", 7, 7, "1 1 ; 2 2 ; 3 3 ; 4 4 ; 5 5 ; 6 6 ; 7 7 S" },
    { "mbsync-1.4.4-flags.state", 7, 7, "1 1 FS; 2 2 R; 3 3 DS; 4 4 ; 5 5 ; 6 6 ; 7 7 S" },
    { "mbsync-1.4.4-deleted.state", 7, 7, "0 4 ; 1 1 FS; 2 2 R; 3 3 DS; 5 0 ; 6 6 ; 7 7 S" },
    { "mbsync-1.4.4-expunged.state", 7, 7, "1 1 FS; 2 2 R; 3 3 DS; 6 6 ; 7 7 S" },
    { "mbsync-1.4.4-placeholders.state", 5, 5, "1 2  #2; 2 3  #2; 3 4  #2; 4 5 S #2; 5 1 S #1" },
    { "mbsync-1.4.4-expired.state", 5, 5, "1 2 S #a; 2 3 S #a; 3 4 S #a; 4 5  #2; 5 1  #1" },
    { "mbsync-1.4.4-expired-expunged.state", 5, 5, "4 5  #2; 5 1  #1" },
    { "mbsync-1.4.4-unsorted.state", 9, 9, "4 5  #2; 5 1  #1; 6 7 ; 7 8 ; 8 9 ; 9 6 " },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++) {
    g_test_message ("%s", files[i].name);
    g_autofree char *path = data_file (files[i].name);
    g_autofree char *text = read_text (path);
    g_autoptr (MsSyncState) s = parse_ok (text);
    g_assert_cmpuint (s->far_uidvalidity, >, 1700000000);
    g_assert_cmpuint (s->near_uidvalidity, >, 1700000000);
    g_assert_cmpuint (s->max_pulled, ==, files[i].max_pulled);
    g_assert_cmpuint (s->max_pushed, ==, files[i].max_pushed);
    g_autofree char *pairs = pairs_str (s);
    g_assert_cmpstr (pairs, ==, files[i].pairs);
    /* What we write back is what mbsync wrote, in UID order. */
    g_autofree char *out = format (s);
    g_autofree char *want = sorted_by_uid (text);
    g_assert_cmpstr (out, ==, want);
  }

  /* MaxExpiredFarUid is kept in its place. */
  g_autofree char *path = data_file ("mbsync-1.4.4-expired.state");
  g_autofree char *text = read_text (path);
  g_autoptr (MsSyncState) s = parse_ok (text);
  g_assert_cmpuint (s->extra_header->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (s->extra_header, 0), ==, "MaxExpiredFarUid 3");
}

/* ---- the format, by hand ------------------------------------------------------------ */

static void
test_round_trip (void)
{
  g_autoptr (MsSyncState) s = ms_sync_state_new ();
  s->far_uidvalidity = 1700000000;
  s->near_uidvalidity = 4000000000u;
  s->max_pulled = 42;
  s->max_pushed = 17;
  g_ptr_array_add (s->extra_header, g_strdup ("MaxExpiredFarUid 12"));
  g_ptr_array_add (s->extra_header, g_strdup ("FutureKey 7"));
  ms_sync_state_add_pair (s, 3, 0, MS_FLAG_SEEN);
  ms_sync_state_add_pair (s, 1, 1, MS_FLAGS_ALL);
  ms_sync_state_add_pair (s, 0, 9, 0);
  ms_sync_state_add_pair (s, 4294967295u, 4294967295u, MS_FLAG_DRAFT | MS_FLAG_DELETED);
  ms_sync_state_add_pair (s, 5, 6, MS_FLAG_FLAGGED);
  ms_sync_state_add_pair (s, 7, 8, 0);
  ms_sync_state_add_pair (s, 9, 10, MS_FLAG_ANSWERED);
  ms_sync_state_add_pair (s, 11, 12, 0);
  ms_sync_state_find_far (s, 5)->status = MS_SYNC_PAIR_PLACEHOLDER_FAR;
  ms_sync_state_find_far (s, 7)->status = MS_SYNC_PAIR_PLACEHOLDER_NEAR | MS_SYNC_PAIR_EXPIRED;
  ms_sync_state_find_far (s, 9)->status = MS_SYNC_PAIR_SKIPPED;
  ms_sync_state_find_far (s, 11)->status = MS_SYNC_PAIR_EXPIRED;

  static const char want[] = "FarUidValidity 1700000000\n"
                             "NearUidValidity 4000000000\n"
                             "MaxPulledUid 42\n"
                             "MaxPushedUid 17\n"
                             "MaxExpiredFarUid 12\n"
                             "FutureKey 7\n"
                             "\n"
                             "0 9 \n"
                             "1 1 DFPRST\n"
                             "3 0 S\n"
                             "5 6 <F\n"
                             "7 8 >~\n"
                             "9 10 ^R\n"
                             "11 12 ~\n"
                             "4294967295 4294967295 DT\n";
  g_autofree char *out = format (s);
  g_assert_cmpstr (out, ==, want);

  g_autoptr (MsSyncState) back = parse_ok (out);
  g_autofree char *again = format (back);
  g_assert_cmpstr (again, ==, want);
  g_autofree char *p1 = pairs_str (s), *p2 = pairs_str (back);
  g_assert_cmpstr (p1, ==, p2);
  g_assert_cmpuint (back->extra_header->len, ==, 2);

  /* An empty state: the header and its blank line. */
  g_autoptr (MsSyncState) empty = ms_sync_state_new ();
  g_autofree char *e = format (empty);
  g_assert_cmpstr (e, ==, "FarUidValidity 0\nNearUidValidity 0\nMaxPulledUid 0\nMaxPushedUid 0\n\n");
  g_autoptr (MsSyncState) eb = parse_ok (e);
  g_assert_cmpuint (eb->pairs->len, ==, 0);
}

/* Everything mbsync 1.4 reads besides what it writes. */
static void
test_legacy (void)
{
  /* pre-1.4 header names */
  g_autoptr (MsSyncState) a = parse_ok ("MasterUidValidity 11\nSlaveUidValidity 12\nMaxPulledUid 3\n"
                                        "MaxPushedUid 4\nMaxExpiredMasterUid 2\n\n1 1 S\n");
  g_assert_cmpuint (a->far_uidvalidity, ==, 11);
  g_assert_cmpuint (a->near_uidvalidity, ==, 12);
  g_autofree char *ao = format (a);
  g_assert_cmpstr (ao, ==, "FarUidValidity 11\nNearUidValidity 12\nMaxPulledUid 3\nMaxPushedUid 4\n"
                           "MaxExpiredFarUid 2\n\n1 1 S\n");

  /* pre-1.1: one header line, the pairs right after it */
  g_autoptr (MsSyncState) b = parse_ok ("11:3 12:5:4\n1 1 S\n2 2 \n");
  g_assert_cmpuint (b->far_uidvalidity, ==, 11);
  g_assert_cmpuint (b->max_pulled, ==, 3);
  g_assert_cmpuint (b->near_uidvalidity, ==, 12);
  g_assert_cmpuint (b->max_pushed, ==, 4);
  g_autofree char *bo = format (b);
  g_assert_cmpstr (bo, ==, "FarUidValidity 11\nNearUidValidity 12\nMaxPulledUid 3\nMaxPushedUid 4\n"
                           "MaxExpiredSlaveUid 5\n\n1 1 S\n2 2 \n");
  g_autoptr (MsSyncState) b0 = parse_ok ("11:3 12:0:4\n");
  g_assert_cmpuint (b0->extra_header->len, ==, 0);

  /* pre-1.3: UID -1 (never copied) and the 'X' expiry mark */
  g_autoptr (MsSyncState) c = parse_ok ("MaxPulledUid 3\n\n-1 5 S\n6 -1 \n7 7 XF\n8 -1 ~\n");
  g_autofree char *cp = pairs_str (c);
  g_assert_cmpstr (cp, ==, "0 5 S #4; 6 0  #4; 7 7 F #8; 8 0  #8");
  g_autofree char *co = format (c);
  g_assert_true (g_str_has_suffix (co, "\n\n0 5 ^S\n6 0 ^\n7 7 ~F\n8 0 ~\n"));
}

/* Runs of blanks, as mbsync's sscanf allows; no flags field at all. */
static void
test_blanks (void)
{
  g_autoptr (MsSyncState) d = parse_ok ("MaxPulledUid  3\nMaxPushedUid\t4\n\n1  2   S\n3\t4\n5 6 \n");
  g_assert_cmpuint (d->max_pulled, ==, 3);
  g_assert_cmpuint (d->max_pushed, ==, 4);
  g_autofree char *dp = pairs_str (d);
  g_assert_cmpstr (dp, ==, "1 2 S; 3 4 ; 5 6 ");
}

static void
test_unknown_header (void)
{
  g_autoptr (MsSyncState) s = parse_ok ("Zeta 5\nFarUidValidity 1\nAlpha 0\nMaxPushedUid 2\nAlpha 9\n\n");
  g_assert_cmpuint (s->extra_header->len, ==, 3);
  g_autofree char *out = format (s);
  g_assert_cmpstr (out, ==, "FarUidValidity 1\nNearUidValidity 0\nMaxPulledUid 0\nMaxPushedUid 2\n"
                            "Zeta 5\nAlpha 0\nAlpha 9\n\n");
}

static void
test_parse_errors (void)
{
  static const struct {
    const char *text;
    const char *message;
  } cases[] = {
    { "", "state:1: the header does not end (no blank line)" },
    { "FarUidValidity 1\n", "state:2: the header does not end (no blank line)" },
    { "FarUidValidity 1\nMaxPulledUid 3\n\n1 1 S", "state:4: incomplete last line (no newline)" },
    { "FarUidValidity\n\n", "state:1: bad header line \"FarUidValidity\"" },
    { "FarUidValidity x\n\n", "state:1: bad header line \"FarUidValidity x\"" },
    { "FarUidValidity 1 2\n\n", "state:1: bad header line \"FarUidValidity 1 2\"" },
    { "FarUidValidity 4294967296\n\n", "state:1: bad header line \"FarUidValidity 4294967296\"" },
    { "FarUidValidity -1\n\n", "state:1: bad header line \"FarUidValidity -1\"" },
    { "Far-Uid 1\n\n", "state:1: bad header line \"Far-Uid 1\"" },
    { "FarUidValidity 1\n2 2 \n\n3 3 \n", "state:2: bad header line \"2 2 \"" },
    { "FarUidValidity 1\r\n\r\n1 1 S\r\n", "state:1: bad header line \"FarUidValidity 1\\r\"" },
    { "MaxPulledUid 1\n\n1\n", "state:3: bad entry \"1\"" },
    { "MaxPulledUid 1\n\n1 x S\n", "state:3: bad entry \"1 x S\"" },
    { "MaxPulledUid 1\n\n1 2 S junk\n", "state:3: bad entry \"1 2 S junk\"" },
    { "MaxPulledUid 1\n\n1 2 SX\n", "state:3: bad entry \"1 2 SX\"" },
    { "MaxPulledUid 1\n\n1 2 S<\n", "state:3: bad entry \"1 2 S<\"" },
    { "MaxPulledUid 1\n\n1 2 ~<S\n", "state:3: bad entry \"1 2 ~<S\"" },
    { "MaxPulledUid 1\n\n1 2 S\n\n", "state:4: bad entry \"\"" },
    { "MaxPulledUid 1\n\n-2 2 S\n", "state:3: bad entry \"-2 2 S\"" },
    { "11:3 12:4\n", "state:1: bad header line \"11:3 12:4\"" },
    { "11:3:1 12:5:4\n", "state:1: bad header line \"11:3:1 12:5:4\"" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *msg = parse_error (cases[i].text, strlen (cases[i].text));
    g_assert_cmpstr (msg, ==, cases[i].message);
  }

  /* A NUL byte, with the line it is on. */
  static const char nul[] = "MaxPulledUid 1\n\n1 1 S\0\n";
  g_autofree char *msg = parse_error (nul, sizeof nul - 1);
  g_assert_cmpstr (msg, ==, "state:3: NUL byte");

  /* A long bad line is quoted only in part. */
  g_autofree char *long_line = g_strdup_printf ("MaxPulledUid 1\n\n1 %0200d\n", 7);
  g_autofree char *lmsg = parse_error (long_line, strlen (long_line));
  g_assert_true (g_str_has_suffix (lmsg, "...\"") || g_str_has_suffix (lmsg, "\"..."));
  g_assert_cmpuint (strlen (lmsg), <, 140);
}

/* A state cut short anywhere but at a line end is refused, never read as a
 * smaller state. */
static void
test_every_prefix (void)
{
  g_autofree char *path = data_file ("mbsync-1.4.4-flags.state");
  g_autofree char *text = read_text (path);
  gsize len = strlen (text);
  const char *body = strstr (text, "\n\n") + 2;
  for (gsize n = 0; n < len; n++) {
    GError *error = NULL;
    MsSyncState *s = ms_sync_state_parse ("state", text, n, NULL, 0, &error);
    gboolean at_line_end = n > 0 && text[n - 1] == '\n' && text + n >= body;
    if (at_line_end) {
      g_assert_no_error (error);
      ms_sync_state_free (s);
    } else {
      g_assert_null (s);
      g_assert_error (error, MS_ERROR, MS_ERROR_PROTOCOL);
      g_error_free (error);
    }
  }
}

static void
test_parse_limit (void)
{
  gsize len = (gsize) MS_SYNC_STATE_MAX_BYTES + 1;
  g_autofree char *big = g_malloc0 (len);
  GError *error = NULL;
  g_assert_null (ms_sync_state_parse ("state", big, len, NULL, 0, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_LIMIT);
  g_assert_cmpstr (error->message, ==, "state: larger than 67108864 bytes");
  g_clear_error (&error);

  /* Never touched: the limit comes first (the pages stay unmapped). */
  gsize jlen = (gsize) MS_SYNC_JOURNAL_MAX_BYTES + 1;
  g_autofree char *bigger = g_malloc0 (jlen);
  g_autoptr (MsSyncState) s = ms_sync_state_new ();
  g_assert_null (ms_sync_journal_replay (s, "j", bigger, jlen, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_LIMIT);
  g_assert_cmpstr (error->message, ==, "j: larger than 268435456 bytes");
  g_clear_error (&error);
}

/* ---- the sidecar -------------------------------------------------------------------- */

static void
test_sidecar (void)
{
  static const char state[] = "FarUidValidity 77\n\n";
  static const struct {
    const char *sidecar;
    guint64 modseq;
    guint32 uidnext, messages;
  } cases[] = {
    { "UidValidity 77\nHighestModSeq 18446744073709551615\nUidNext 4294967295\nMessages 3\n",
      G_MAXUINT64, G_MAXUINT32, 3 },
    { "UidValidity 78\nHighestModSeq 9\nUidNext 10\nMessages 3\n", 0, 0, 0 },   /* another mailbox */
    { "HighestModSeq 9\nUidNext 10\nMessages 3\n", 0, 0, 0 },                   /* whose? */
    { "UidValidity 77\nHighestModSeq x\n", 0, 0, 0 },                          /* malformed */
    { "UidValidity 77\nHighestModSeq 9\nOther 5\n", 9, 0, 0 },                 /* unknown keys */
    { "UidValidity 77\nUidNext 4294967296\n", 0, 0, 0 },                      /* out of range */
    { "", 0, 0, 0 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (MsSyncState) s = ms_sync_state_parse ("state", state, strlen (state), cases[i].sidecar,
                                                     strlen (cases[i].sidecar), &error);
    g_assert_no_error (error);
    g_assert_cmpuint (s->far_highestmodseq, ==, cases[i].modseq);
    g_assert_cmpuint (s->far_uidnext, ==, cases[i].uidnext);
    g_assert_cmpuint (s->far_messages, ==, cases[i].messages);
  }

  /* What we write, we read; a state without UIDVALIDITY has no sidecar. */
  g_autoptr (MsSyncState) s = parse_ok (state);
  s->far_highestmodseq = 123456789012345;
  s->far_uidnext = 99;
  s->far_messages = 98;
  g_autofree char *side = ms_sync_state_format_sidecar (s);
  g_assert_cmpstr (side, ==, "UidValidity 77\nHighestModSeq 123456789012345\nUidNext 99\nMessages 98\n");
  g_autoptr (MsSyncState) back = ms_sync_state_parse ("state", state, strlen (state), side, strlen (side), NULL);
  g_assert_cmpuint (back->far_highestmodseq, ==, 123456789012345);
  g_assert_cmpuint (back->far_uidnext, ==, 99);
  g_assert_cmpuint (back->far_messages, ==, 98);
  static const char no_validity[] = "MaxPulledUid 1\n\n";
  g_autoptr (MsSyncState) nv = ms_sync_state_parse ("state", no_validity, strlen (no_validity), "UidValidity 0\n"
                                                    "HighestModSeq 5\n", 30, NULL);
  g_assert_cmpuint (nv->far_highestmodseq, ==, 0);

  /* Oversized: ignored. */
  g_autofree char *huge = g_strnfill (MS_SYNC_SIDECAR_MAX_BYTES + 1, '\n');
  memcpy (huge, "UidValidity 77\nHighestModSeq 9\n", 31);
  g_autoptr (MsSyncState) h = ms_sync_state_parse ("state", state, strlen (state), huge, strlen (huge), NULL);
  g_assert_cmpuint (h->far_highestmodseq, ==, 0);
}

/* ---- pairs ----------------------------------------------------------------------------- */

static void
test_pairs (void)
{
  g_autoptr (MsSyncState) s = parse_ok ("MaxPulledUid 9\n\n5 6 <S\n1 2 \n3 4 ~F\n0 8 \n");
  g_autofree char *p0 = pairs_str (s);
  g_assert_cmpstr (p0, ==, "0 8 ; 1 2 ; 3 4 F #8; 5 6 S #1");

  g_assert_true (ms_sync_state_find_far (s, 3) == pair_at (s, 2));
  g_assert_null (ms_sync_state_find_far (s, 4));
  g_assert_null (ms_sync_state_find_far (s, 0));
  g_assert_true (ms_sync_state_find_near (s, 8) == pair_at (s, 0));
  g_assert_null (ms_sync_state_find_near (s, 0));
  g_assert_null (ms_sync_state_find_near (s, 5));

  /* The same pair again: only the flags change, the status stays. */
  ms_sync_state_add_pair (s, 5, 6, MS_FLAG_ANSWERED);
  g_autofree char *p1 = pairs_str (s);
  g_assert_cmpstr (p1, ==, "0 8 ; 1 2 ; 3 4 F #8; 5 6 R #1");

  /* A pair losing a side takes over the old pair and its status. */
  ms_sync_state_add_pair (s, 5, 0, MS_FLAG_SEEN);
  ms_sync_state_add_pair (s, 0, 4, MS_FLAG_FLAGGED);
  g_autofree char *p2 = pairs_str (s);
  g_assert_cmpstr (p2, ==, "0 4 F #8; 0 8 ; 1 2 ; 5 0 S #1");

  /* A far UID is in one pair only. */
  ms_sync_state_add_pair (s, 1, 7, 0);
  g_autofree char *p3 = pairs_str (s);
  g_assert_cmpstr (p3, ==, "0 4 F #8; 0 8 ; 1 7 ; 5 0 S #1");

  /* New pairs keep the order. */
  ms_sync_state_add_pair (s, 9, 9, 0);
  ms_sync_state_add_pair (s, 2, 3, 0);
  g_autofree char *p4 = pairs_str (s);
  g_assert_cmpstr (p4, ==, "0 4 F #8; 0 8 ; 1 7 ; 2 3 ; 5 0 S #1; 9 9 ");

  ms_sync_state_remove_pair (s, 0, 8);
  ms_sync_state_remove_pair (s, 2, 4); /* not there: nothing happens */
  ms_sync_state_remove_pair (s, 9, 9);
  g_autofree char *p5 = pairs_str (s);
  g_assert_cmpstr (p5, ==, "0 4 F #8; 1 7 ; 2 3 ; 5 0 S #1");
  /* max_pulled / max_pushed are the sync job's. */
  g_assert_cmpuint (s->max_pulled, ==, 9);
  g_assert_cmpuint (s->max_pushed, ==, 0);
}

/* ---- the journal --------------------------------------------------------------------------- */

static GPtrArray *
replay_ok (MsSyncState *s, const char *journal)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *pending = ms_sync_journal_replay (s, "j", journal, strlen (journal), &error);
  g_assert_no_error (error);
  g_assert_nonnull (pending);
  return pending;
}

static char *
pending_str (GPtrArray *pending)
{
  GString *out = g_string_new (NULL);
  for (guint i = 0; i < pending->len; i++) {
    const MsSyncPending *p = g_ptr_array_index (pending, i);
    if (p->kind == MS_SYNC_PENDING_PULL) {
      g_autofree char *letters = ms_flags_to_letters (p->flags);
      g_string_append_printf (out, "%spull %u %u%s%s", i ? "; " : "", p->far_uid, p->near_uid,
                              p->has_flags ? " " : "", p->has_flags ? (*letters ? letters : "-") : "");
    } else
      g_string_append_printf (out, "%spush %u %u %" G_GUINT64_FORMAT, i ? "; " : "", p->near_uid, p->uidnext,
                              p->size);
  }
  return g_string_free (out, FALSE);
}

static void
test_journal_replay (void)
{
  g_autoptr (MsSyncState) s = parse_ok ("MaxPulledUid 3\n\n1 1 S\n2 2 \n3 3 ~F\n");
  g_autoptr (GPtrArray) pending = replay_ok (s,
    "U 9\n"                     /* reserved Maildir UIDs: only documented */
    "< 4 5\n"                   /* pull announced ... */
    "+ 4 5 S\n"                 /* ... and done */
    "< 6 7\n"                   /* pull announced, not done */
    "> 8 100 2048\n"            /* push announced ... */
    "+ 101 8 \n"                /* ... and done (no flags) */
    "> 9 100 18446744073709551615\n" /* push announced, not done */
    "= 1 1 FS\n"                /* flags recorded */
    "= 6 7 R\n"                 /* '=' records a pair, but resolves nothing */
    "- 2 2\n"                   /* pair dropped */
    "- 2 99\n"                  /* not there: nothing happens */
    "= 3 0 F\n"                 /* a pair losing its Maildir side keeps its mark */
    "+ 4 5 DS\n");              /* a repeated line just repeats */
  g_autofree char *ps = pairs_str (s);
  g_assert_cmpstr (ps, ==, "1 1 FS; 3 0 F #8; 4 5 DS; 6 7 R; 101 8 ");
  g_autofree char *pend = pending_str (pending);
  g_assert_cmpstr (pend, ==, "pull 6 7; push 9 100 18446744073709551615");
  /* The header is not the journal's business. */
  g_assert_cmpuint (s->max_pulled, ==, 3);

  /* A pull is resolved by its own pair only. */
  g_autoptr (MsSyncState) t = ms_sync_state_new ();
  g_autoptr (GPtrArray) p2 = replay_ok (t, "< 4 5\n< 4 6\n+ 4 6 \n");
  g_autofree char *p2s = pending_str (p2);
  g_assert_cmpstr (p2s, ==, "pull 4 5");

  /* A pull's line carries the flags it is delivered with ("-": none);
   * a line without them (older journals) still replays. */
  g_autoptr (MsSyncState) v = ms_sync_state_new ();
  g_autoptr (GPtrArray) p4 = replay_ok (v, "< 4 5 FS\n< 6 7 -\n< 8 9\n");
  g_autofree char *p4s = pending_str (p4);
  g_assert_cmpstr (p4s, ==, "pull 4 5 FS; pull 6 7 -; pull 8 9");

  /* An empty journal changes nothing. */
  g_autoptr (MsSyncState) u = ms_sync_state_new ();
  g_autoptr (GPtrArray) p3 = replay_ok (u, "");
  g_assert_cmpuint (p3->len, ==, 0);
}

static void
test_journal_torn (void)
{
  /* The torn last line was never acted upon, whatever it says. */
  static const char *const torn[] = { "+ 7 7 S", "+ 7", "garbage", "- 1 1", "<" };
  for (gsize i = 0; i < G_N_ELEMENTS (torn); i++) {
    g_autoptr (MsSyncState) s = parse_ok ("MaxPulledUid 3\n\n1 1 S\n");
    g_autofree char *j = g_strconcat ("< 5 6\n", torn[i], NULL);
    g_autoptr (GPtrArray) pending = replay_ok (s, j);
    g_autofree char *ps = pairs_str (s);
    g_assert_cmpstr (ps, ==, "1 1 S");
    g_assert_cmpuint (pending->len, ==, 1);
  }
}

static void
test_journal_errors (void)
{
  static const struct {
    const char *text;
    const char *message;
  } cases[] = {
    { "\n", "j:1: bad journal line \"\"" },
    { "< 1\n", "j:1: bad journal line \"< 1\"" },
    { "< 1 2 3\n", "j:1: bad journal line \"< 1 2 3\"" },
    { "> 1 2\n", "j:1: bad journal line \"> 1 2\"" },
    { "> 1 2 x\n", "j:1: bad journal line \"> 1 2 x\"" },
    { "+ 1\n", "j:1: bad journal line \"+ 1\"" },
    { "+ 1 2 S X\n", "j:1: bad journal line \"+ 1 2 S X\"" },
    { "+ 1 2 SX\n", "j:1: bad journal line \"+ 1 2 SX\"" },
    { "+ 1 2 <S\n", "j:1: bad journal line \"+ 1 2 <S\"" },
    { "= 1 x S\n", "j:1: bad journal line \"= 1 x S\"" },
    { "- 1\n", "j:1: bad journal line \"- 1\"" },
    { "U\n", "j:1: bad journal line \"U\"" },
    { "U 1 2\n", "j:1: bad journal line \"U 1 2\"" },
    { "U 4294967296\n", "j:1: bad journal line \"U 4294967296\"" },
    { "+ 1 2 S\n? 1 2\n", "j:2: unknown journal entry \"? 1 2\"" },
    { "4\n+ 0 6\n", "j:1: unknown journal entry \"4\"" }, /* mbsync's journal is not ours */
    { "<< 1 2\n", "j:1: bad journal line \"<< 1 2\"" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (MsSyncState) s = ms_sync_state_new ();
    GError *error = NULL;
    g_assert_null (ms_sync_journal_replay (s, "j", cases[i].text, strlen (cases[i].text), &error));
    g_assert_error (error, MS_ERROR, MS_ERROR_PROTOCOL);
    g_assert_cmpstr (error->message, ==, cases[i].message);
    g_error_free (error);
  }
  static const char nul[] = "+ 1 2 S\0\n";
  g_autoptr (MsSyncState) s = ms_sync_state_new ();
  GError *error = NULL;
  g_assert_null (ms_sync_journal_replay (s, "j", nul, sizeof nul - 1, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_PROTOCOL);
  g_error_free (error);
}

/* ---- files ---------------------------------------------------------------------------------- */

typedef struct {
  char *dir;
  char *path; /* DIR/box/.mbsyncstate: the parent is created on open */
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->dir = g_dir_make_tmp ("test-sync-state-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "box", ".mbsyncstate", NULL);
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
  g_free (f->path);
}

static char *
sibling (const Fixture *f, const char *suffix)
{
  return g_strconcat (f->path, suffix, NULL);
}

static MsSyncStateFile *
open_ok (const Fixture *f, GPtrArray **pending)
{
  g_autoptr (GError) error = NULL;
  MsSyncStateFile *file = ms_sync_state_file_open (f->path, TRUE, pending, &error);
  g_assert_no_error (error);
  g_assert_nonnull (file);
  return file;
}

/* A committed state leaves its journal empty (or absent). */
static gboolean
journal_empty (const char *path)
{
  struct stat st;
  return stat (path, &st) < 0 ? errno == ENOENT : st.st_size == 0;
}

static char *
open_error (const Fixture *f, GQuark domain, gint code)
{
  GError *error = NULL;
  g_assert_null (ms_sync_state_file_open (f->path, TRUE, NULL, &error));
  g_assert_error (error, domain, code);
  char *msg = g_strdup (error->message);
  g_error_free (error);
  return msg;
}

static void
test_file_fresh (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) pending = NULL;
  g_autoptr (MsSyncStateFile) file = open_ok (f, &pending);
  g_assert_nonnull (pending);
  g_assert_cmpuint (pending->len, ==, 0);
  MsSyncState *s = ms_sync_state_file_state (file);
  g_assert_cmpuint (s->pairs->len, ==, 0);
  g_autofree char *lock = sibling (f, ".lock");
  g_assert_true (g_file_test (lock, G_FILE_TEST_IS_REGULAR));
  g_assert_false (g_file_test (f->path, G_FILE_TEST_EXISTS));

  s->far_uidvalidity = 5;
  s->near_uidvalidity = 6;
  s->max_pulled = 2;
  s->max_pushed = 1;
  s->far_highestmodseq = 77;
  s->far_uidnext = 3;
  s->far_messages = 2;
  g_autoptr (GError) error = NULL;
  g_assert_true (ms_sync_state_file_pair (file, 2, 1, MS_FLAG_SEEN, &error));
  g_assert_true (ms_sync_journal_sync (file, &error));
  g_assert_no_error (error);
  g_autofree char *journal = sibling (f, ".journal-ng");
  g_assert_true (g_file_test (journal, G_FILE_TEST_IS_REGULAR));
  g_assert_true (ms_sync_state_file_commit (file, &error));
  g_assert_no_error (error);

  g_autofree char *text = read_text (f->path);
  g_assert_cmpstr (text, ==, "FarUidValidity 5\nNearUidValidity 6\nMaxPulledUid 2\nMaxPushedUid 1\n\n2 1 S\n");
  g_autofree char *sidecar_path = sibling (f, ".sync_imap");
  g_autofree char *sidecar = read_text (sidecar_path);
  g_assert_cmpstr (sidecar, ==, "UidValidity 5\nHighestModSeq 77\nUidNext 3\nMessages 2\n");
  g_assert_true (journal_empty (journal));
  g_autofree char *tmp = sibling (f, ".new-ng");
  g_assert_false (g_file_test (tmp, G_FILE_TEST_EXISTS));
  g_autofree char *mbsync_new = sibling (f, ".new");
  g_assert_false (g_file_test (mbsync_new, G_FILE_TEST_EXISTS));
  g_clear_pointer (&file, ms_sync_state_file_close);

  /* And it reads back, sidecar included. */
  g_autoptr (MsSyncStateFile) again = open_ok (f, NULL);
  MsSyncState *t = ms_sync_state_file_state (again);
  g_assert_cmpuint (t->far_highestmodseq, ==, 77);
  g_assert_cmpuint (t->pairs->len, ==, 1);
  g_clear_pointer (&again, ms_sync_state_file_close);

  /* Without fsync everything is the same but for the syncs. */
  GError *e2 = NULL;
  MsSyncStateFile *nofsync = ms_sync_state_file_open (f->path, FALSE, NULL, &e2);
  g_assert_no_error (e2);
  g_assert_true (ms_sync_state_file_pair (nofsync, 3, 2, 0, &e2));
  g_assert_true (ms_sync_journal_sync (nofsync, &e2));
  g_assert_true (ms_sync_state_file_commit (nofsync, &e2));
  g_assert_no_error (e2);
  ms_sync_state_file_close (nofsync);
  ms_sync_state_file_close (NULL);
  g_autofree char *text2 = read_text (f->path);
  g_assert_true (g_str_has_suffix (text2, "\n\n2 1 S\n3 2 \n"));
}

/* Every kind of line through the file API, a "crash" (close without
 * commit), and the replay on the next open. */
static void
test_file_journal (Fixture *f, gconstpointer data)
{
  g_autofree char *journal = sibling (f, ".journal-ng");
  g_autoptr (GError) error = NULL;
  {
    g_autoptr (MsSyncStateFile) file = open_ok (f, NULL);
    MsSyncState *s = ms_sync_state_file_state (file);
    s->max_pulled = 10; /* not journalled: lost without a commit */
    g_assert_true (ms_sync_journal_reserve (file, 12, &error));
    g_assert_true (ms_sync_journal_pull (file, 20, 11, MS_FLAG_SEEN, &error));
    g_assert_true (ms_sync_journal_pull (file, 21, 12, 0, &error));
    g_assert_true (ms_sync_journal_sync (file, &error));
    g_assert_true (ms_sync_state_file_pair (file, 20, 11, MS_FLAG_SEEN, &error));
    g_assert_true (ms_sync_journal_push (file, 3, 22, 1234, &error));
    g_assert_true (ms_sync_journal_push (file, 4, 22, 99, &error));
    g_assert_true (ms_sync_state_file_pair (file, 22, 3, 0, &error));
    g_assert_true (ms_sync_state_file_set_flags (file, 20, 11, MS_FLAG_SEEN | MS_FLAG_FLAGGED, &error));
    g_assert_true (ms_sync_state_file_pair (file, 30, 31, 0, &error));
    g_assert_true (ms_sync_state_file_unpair (file, 30, 31, &error));
    g_assert_no_error (error);
    g_autofree char *mem = pairs_str (s);
    g_assert_cmpstr (mem, ==, "20 11 FS; 22 3 ");
  }
  g_autofree char *jtext = read_text (journal);
  g_assert_cmpstr (jtext, ==, "U 12\n< 20 11 S\n< 21 12 -\n+ 20 11 S\n> 3 22 1234\n> 4 22 99\n+ 22 3 \n"
                              "= 20 11 FS\n+ 30 31 \n- 30 31\n");

  g_autoptr (GPtrArray) pending = NULL;
  g_autoptr (MsSyncStateFile) file = open_ok (f, &pending);
  MsSyncState *s = ms_sync_state_file_state (file);
  g_autofree char *ps = pairs_str (s);
  g_assert_cmpstr (ps, ==, "20 11 FS; 22 3 ");
  g_assert_cmpuint (s->max_pulled, ==, 0);
  g_autofree char *pend = pending_str (pending);
  g_assert_cmpstr (pend, ==, "pull 21 12 -; push 4 22 99");

  /* Lines after a replay go on the same journal; the commit ends it. */
  g_assert_true (ms_sync_state_file_pair (file, 21, 12, 0, &error));
  g_autofree char *jtext2 = read_text (journal);
  g_assert_true (g_str_has_prefix (jtext2, jtext));
  g_assert_true (g_str_has_suffix (jtext2, "- 30 31\n+ 21 12 \n"));
  g_assert_true (ms_sync_state_file_commit (file, &error));
  g_assert_no_error (error);
  g_assert_true (journal_empty (journal));
  g_autofree char *text = read_text (f->path);
  g_assert_true (g_str_has_suffix (text, "\n\n20 11 FS\n21 12 \n22 3 \n"));

  /* A second run on the same open file journals afresh. */
  g_assert_true (ms_sync_state_file_unpair (file, 21, 12, &error));
  g_autofree char *jtext3 = read_text (journal);
  g_assert_cmpstr (jtext3, ==, "- 21 12\n");
}

/* A torn last line is cut off when the file is opened, so the next line
 * does not glue onto it. */
static void
test_file_torn_journal (Fixture *f, gconstpointer data)
{
  g_autofree char *journal = sibling (f, ".journal-ng");
  g_autofree char *dir = g_path_get_dirname (f->path);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  write_text (journal, "+ 1 1 S\n< 2 2\n+ 2 2 F");
  g_autoptr (GError) error = NULL;
  {
    g_autoptr (GPtrArray) pending = NULL;
    g_autoptr (MsSyncStateFile) file = open_ok (f, &pending);
    g_autofree char *ps = pairs_str (ms_sync_state_file_state (file));
    g_assert_cmpstr (ps, ==, "1 1 S");
    g_assert_cmpuint (pending->len, ==, 1);
    g_autofree char *cut = read_text (journal);
    g_assert_cmpstr (cut, ==, "+ 1 1 S\n< 2 2\n");
    g_assert_true (ms_sync_state_file_pair (file, 2, 2, 0, &error));
    g_assert_no_error (error);
  }
  g_autofree char *after = read_text (journal);
  g_assert_cmpstr (after, ==, "+ 1 1 S\n< 2 2\n+ 2 2 \n");
  g_autoptr (GPtrArray) pending = NULL;
  g_autoptr (MsSyncStateFile) file = open_ok (f, &pending);
  g_autofree char *ps = pairs_str (ms_sync_state_file_state (file));
  g_assert_cmpstr (ps, ==, "1 1 S; 2 2 ");
  g_assert_cmpuint (pending->len, ==, 0);

  /* A journal that is only a torn line becomes empty. */
  g_clear_pointer (&file, ms_sync_state_file_close);
  write_text (journal, "+ 9 9");
  g_autoptr (MsSyncStateFile) file2 = open_ok (f, NULL);
  g_autofree char *empty = read_text (journal);
  g_assert_cmpstr (empty, ==, "");
}

/* A commit that cannot write leaves the old state and the journal. */
static void
test_file_commit_atomic (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *journal = sibling (f, ".journal-ng");
  g_autofree char *tmp = sibling (f, ".new-ng");
  {
    g_autoptr (MsSyncStateFile) file = open_ok (f, NULL);
    g_assert_true (ms_sync_state_file_pair (file, 1, 1, 0, &error));
    g_assert_true (ms_sync_state_file_commit (file, &error));
    g_assert_no_error (error);
  }
  g_autofree char *before = read_text (f->path);

  g_autoptr (MsSyncStateFile) file = open_ok (f, NULL);
  g_assert_true (ms_sync_state_file_pair (file, 2, 2, 0, &error));
  g_assert_cmpint (g_mkdir (tmp, 0700), ==, 0); /* the temporary file cannot be created */
  g_assert_false (ms_sync_state_file_commit (file, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY);
  g_assert_nonnull (strstr (error->message, ".new-ng"));
  g_clear_error (&error);
  g_autofree char *same = read_text (f->path);
  g_assert_cmpstr (same, ==, before);
  g_autofree char *jtext = read_text (journal);
  g_assert_cmpstr (jtext, ==, "+ 2 2 \n");

  g_assert_cmpint (g_rmdir (tmp), ==, 0);
  g_assert_true (ms_sync_state_file_commit (file, &error));
  g_assert_no_error (error);
  g_autofree char *now = read_text (f->path);
  g_assert_true (g_str_has_suffix (now, "\n\n1 1 \n2 2 \n"));
  /* The old state was swapped out into the scratch file, for the next
   * commit to overwrite. */
  g_autofree char *scratch = read_text (tmp);
  g_assert_cmpstr (scratch, ==, before);
  g_assert_true (journal_empty (journal));

  /* The next commit overwrites the scratch file in place: what was longer
   * there is cut off. */
  g_autofree char *junk = g_strnfill (8192, 'x');
  g_assert_true (g_file_set_contents (tmp, junk, -1, NULL));
  g_assert_true (ms_sync_state_file_pair (file, 3, 3, 0, &error));
  g_assert_true (ms_sync_state_file_commit (file, &error));
  g_assert_no_error (error);
  g_autofree char *last = read_text (f->path);
  g_assert_true (g_str_has_suffix (last, "\n\n1 1 \n2 2 \n3 3 \n"));
  g_assert_null (strstr (last, "xxx"));
}

/* A state far longer than the pieces the commit writes it in: the file
 * holds exactly what the formatter gives, and a later, shorter one is cut
 * to its length. */
static void
test_file_commit_large (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MsSyncStateFile) file = open_ok (f, NULL);
  for (guint32 uid = 1; uid <= 20000; uid++)
    g_assert_true (ms_sync_state_file_pair (file, uid, uid + 7, uid % 3 ? MS_FLAG_SEEN : 0, &error));
  g_assert_true (ms_sync_state_file_commit (file, &error));
  g_assert_no_error (error);
  g_autofree char *want = ms_sync_state_format (ms_sync_state_file_state (file));
  g_assert_cmpuint (strlen (want), >, 200000);
  g_autofree char *got = read_text (f->path);
  g_assert_cmpstr (got, ==, want);

  MsSyncState *state = ms_sync_state_file_state (file);
  g_array_set_size (state->pairs, 10);
  g_assert_true (ms_sync_state_file_commit (file, &error));
  g_assert_no_error (error);
  g_autofree char *want_short = ms_sync_state_format (state);
  g_autofree char *got_short = read_text (f->path);
  g_assert_cmpstr (got_short, ==, want_short);
}

/* Another process holds the lock: opening fails at once, and works once it
 * is gone. */
static void
test_file_locked (Fixture *f, gconstpointer data)
{
  int ready[2], go[2];
  g_assert_cmpint (pipe (ready), ==, 0);
  g_assert_cmpint (pipe (go), ==, 0);
  pid_t pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0) {
    MsSyncStateFile *file = ms_sync_state_file_open (f->path, FALSE, NULL, NULL);
    char c = file ? 'y' : 'n';
    if (write (ready[1], &c, 1) != 1 || read (go[0], &c, 1) != 1)
      _exit (2);
    _exit (file ? 0 : 1);
  }
  close (ready[1]);
  close (go[0]);
  char c = 0;
  g_assert_cmpint (read (ready[0], &c, 1), ==, 1);
  g_assert_cmpint (c, ==, 'y');

  g_autofree char *msg = open_error (f, MS_ERROR, MS_ERROR_BUSY);
  g_autofree char *want = g_strdup_printf ("%s is locked: another sync_imap or mbsync is working on this mailbox",
                                           f->path);
  g_assert_cmpstr (msg, ==, want);

  g_assert_cmpint (write (go[1], "x", 1), ==, 1);
  int status = 0;
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  close (ready[0]);
  close (go[1]);

  /* A second open in this process fails too, and closing it keeps the
   * first one's lock. */
  g_autoptr (MsSyncStateFile) file = open_ok (f, NULL);
  g_autofree char *again = open_error (f, MS_ERROR, MS_ERROR_BUSY);
  g_assert_cmpstr (again, ==, want);
  g_autofree char *still = open_error (f, MS_ERROR, MS_ERROR_BUSY);
  g_assert_cmpstr (still, ==, want);

  /* mbsync unlinks the lock file when it ends: the file is made again. */
  g_clear_pointer (&file, ms_sync_state_file_close);
  g_autofree char *lock = sibling (f, ".lock");
  g_assert_cmpint (g_unlink (lock), ==, 0);
  g_autoptr (MsSyncStateFile) file2 = open_ok (f, NULL);
  g_assert_true (g_file_test (lock, G_FILE_TEST_IS_REGULAR));
}

/* mbsync's own journal: with STATE.new it is an interrupted mbsync run,
 * without it mbsync ignores it too. */
static void
test_file_mbsync_journal (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = g_path_get_dirname (f->path);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_autofree char *src_state = data_file ("mbsync-1.4.4-expired-expunged.state");
  g_autofree char *src_journal = data_file ("mbsync-1.4.4-interrupted.journal");
  g_autofree char *state_text = read_text (src_state), *journal_text = read_text (src_journal);
  write_text (f->path, state_text);
  g_autofree char *mj = sibling (f, ".journal"), *mn = sibling (f, ".new");
  write_text (mj, journal_text);
  write_text (mn, "");

  g_autofree char *msg = open_error (f, MS_ERROR, MS_ERROR_FAILED);
  g_autofree char *want = g_strdup_printf ("%s: an interrupted mbsync run left its journal; run mbsync once on "
                                           "this channel to finish it", mj);
  g_assert_cmpstr (msg, ==, want);

  g_assert_cmpint (g_unlink (mn), ==, 0);
  g_autoptr (MsSyncStateFile) file = open_ok (f, NULL);
  g_autofree char *ps = pairs_str (ms_sync_state_file_state (file));
  g_assert_cmpstr (ps, ==, "4 5  #2; 5 1  #1");
  /* Our commit never creates STATE.new, and leaves mbsync's journal. */
  g_autoptr (GError) error = NULL;
  g_assert_true (ms_sync_state_file_commit (file, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (mn, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (mj, G_FILE_TEST_EXISTS));
  g_autofree char *out = read_text (f->path);
  g_autofree char *want_text = sorted_by_uid (state_text);
  g_assert_cmpstr (out, ==, want_text);
}

static void
make_sparse (const char *path, gsize size)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, (off_t) size), ==, 0);
  close (fd);
}

static void
test_file_limits (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = g_path_get_dirname (f->path);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);

  make_sparse (f->path, (gsize) MS_SYNC_STATE_MAX_BYTES + 1);
  g_autofree char *msg = open_error (f, MS_ERROR, MS_ERROR_LIMIT);
  g_autofree char *want = g_strdup_printf ("%s: larger than %d bytes", f->path, MS_SYNC_STATE_MAX_BYTES);
  g_assert_cmpstr (msg, ==, want);
  g_assert_cmpint (g_unlink (f->path), ==, 0);

  g_autofree char *journal = sibling (f, ".journal-ng");
  make_sparse (journal, (gsize) MS_SYNC_JOURNAL_MAX_BYTES + 1);
  g_autofree char *jmsg = open_error (f, MS_ERROR, MS_ERROR_LIMIT);
  g_assert_true (g_str_has_prefix (jmsg, journal));
  g_assert_cmpint (g_unlink (journal), ==, 0);

  /* An oversized sidecar is ignored. */
  write_text (f->path, "FarUidValidity 5\n\n1 1 \n");
  g_autofree char *sidecar = sibling (f, ".sync_imap");
  make_sparse (sidecar, MS_SYNC_SIDECAR_MAX_BYTES + 1);
  g_autoptr (MsSyncStateFile) file = open_ok (f, NULL);
  g_assert_cmpuint (ms_sync_state_file_state (file)->pairs->len, ==, 1);
  g_clear_pointer (&file, ms_sync_state_file_close);

  /* A malformed state names itself; the lock is released again. */
  write_text (f->path, "FarUidValidity 5\n1 1 \n");
  g_autofree char *bad = open_error (f, MS_ERROR, MS_ERROR_PROTOCOL);
  g_autofree char *bad_want = g_strdup_printf ("%s:2: bad header line \"1 1 \"", f->path);
  g_assert_cmpstr (bad, ==, bad_want);
  write_text (f->path, "FarUidValidity 5\n\n");
  g_autofree char *bad_journal = sibling (f, ".journal-ng");
  write_text (bad_journal, "+ 1\n");
  g_autofree char *jbad = open_error (f, MS_ERROR, MS_ERROR_PROTOCOL);
  g_assert_true (g_str_has_suffix (jbad, ".journal-ng:1: bad journal line \"+ 1\""));
  g_assert_cmpint (g_unlink (bad_journal), ==, 0);
  g_autoptr (MsSyncStateFile) ok = open_ok (f, NULL);
}

/* ms_sync_step: the (N+1)th step exits with MS_SYNC_DIE_STATUS. */
static void
test_die_after (Fixture *f, gconstpointer data)
{
  pid_t pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0) {
    MsSyncStateFile *file = ms_sync_state_file_open (f->path, FALSE, NULL, NULL);
    if (file == NULL)
      _exit (2);
    ms_sync_set_die_after (3);
    for (guint32 i = 1; i <= 5; i++)
      ms_sync_journal_pull (file, i, i, 0, NULL);
    _exit (0);
  }
  int status = 0;
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, MS_SYNC_DIE_STATUS);
  g_autofree char *journal = sibling (f, ".journal-ng");
  g_autofree char *text = read_text (journal);
  g_assert_cmpstr (text, ==, "< 1 1 -\n< 2 2 -\n< 3 3 -\n");
  g_autoptr (GPtrArray) pending = NULL;
  g_autoptr (MsSyncStateFile) file = open_ok (f, &pending);
  g_assert_cmpuint (pending->len, ==, 3);

  /* 0 is off; setting it again restarts the count. */
  ms_sync_set_die_after (0);
  for (int i = 0; i < 100; i++)
    ms_sync_step ();
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0) {
    ms_sync_set_die_after (1);
    ms_sync_step ();
    ms_sync_set_die_after (1);
    ms_sync_step ();
    ms_sync_step ();
    _exit (0);
  }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_cmpint (WEXITSTATUS (status), ==, MS_SYNC_DIE_STATUS);
}

/* ---- interoperation with the real mbsync ---------------------------------------------- */

static gboolean
run_mbsync (const char *rc, char **output)
{
  const char *argv[] = { "mbsync", "-c", rc, "-a", NULL };
  g_autofree char *out = NULL, *err = NULL;
  int status = -1;
  g_autoptr (GError) error = NULL;
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &error);
  g_assert_no_error (error);
  *output = g_strconcat (out, err, NULL);
  return g_spawn_check_wait_status (status, NULL);
}

/* mbsync sleeps a second when a Maildir was modified within the last one;
 * dating the directories back spares that. */
static void
backdate (const char *maildir)
{
  static const char *const subs[] = { "", "cur", "new", "tmp" };
  struct timespec ts[2] = { { time (NULL) - 10, 0 }, { time (NULL) - 10, 0 } };
  for (gsize i = 0; i < G_N_ELEMENTS (subs); i++) {
    g_autofree char *d = g_build_filename (maildir, subs[i], NULL);
    utimensat (AT_FDCWD, d, ts, 0);
  }
}

static guint
count_messages (const char *maildir)
{
  guint n = 0;
  static const char *const subs[] = { "cur", "new" };
  for (gsize i = 0; i < G_N_ELEMENTS (subs); i++) {
    g_autofree char *d = g_build_filename (maildir, subs[i], NULL);
    g_autoptr (GDir) dir = g_dir_open (d, 0, NULL);
    while (dir && g_dir_read_name (dir))
      n++;
  }
  return n;
}

/* The file name of the message with ",U=uid" in a Maildir (transfer full). */
static char *
find_uid (const char *maildir, guint32 uid)
{
  g_autofree char *needle = g_strdup_printf (",U=%u:", uid);
  static const char *const subs[] = { "cur", "new" };
  for (gsize i = 0; i < G_N_ELEMENTS (subs); i++) {
    g_autofree char *d = g_build_filename (maildir, subs[i], NULL);
    g_autoptr (GDir) dir = g_dir_open (d, 0, NULL);
    const char *name;
    while (dir && (name = g_dir_read_name (dir)) != NULL)
      if (strstr (name, needle) != NULL)
        return g_build_filename (d, name, NULL);
  }
  return NULL;
}

static void
put_message (const char *maildir, const char *name, const char *subject)
{
  g_autofree char *path = g_build_filename (maildir, "cur", name, NULL);
  g_autofree char *text = g_strdup_printf ("From: a@example.org\nSubject: %s\nMessage-ID: <%s@example.org>\n\n"
                                           "body\n", subject, subject);
  write_text (path, text);
}

static void
test_real_mbsync (Fixture *f, gconstpointer data)
{
  g_autofree char *mbsync = g_find_program_in_path ("mbsync");
  if (mbsync == NULL) {
    g_test_skip ("mbsync is not installed");
    return;
  }
  g_autofree char *far = g_build_filename (f->dir, "far", NULL);
  g_autofree char *near = g_build_filename (f->dir, "near", NULL);
  static const char *const subs[] = { "cur", "new", "tmp" };
  for (gsize i = 0; i < G_N_ELEMENTS (subs); i++) {
    g_autofree char *d = g_build_filename (far, subs[i], NULL);
    g_assert_cmpint (g_mkdir_with_parents (d, 0700), ==, 0);
  }
  put_message (far, "1700000000.1_1.farhost:2,S", "one");
  put_message (far, "1700000000.1_2.farhost:2,", "two");
  put_message (far, "1700000000.1_3.farhost:2,F", "three");
  g_autofree char *rc = g_build_filename (f->dir, "mbsyncrc", NULL);
  g_autofree char *conf = g_strdup_printf ("MaildirStore far\nInbox %s\nSubFolders Maildir++\n\n"
                                           "MaildirStore near\nInbox %s\nSubFolders Maildir++\n\n"
                                           "Channel c\nFar :far:\nNear :near:\nPatterns *\n"
                                           "Create Both\nSyncState *\nSync All\nExpunge Both\n",
                                           far, near);
  write_text (rc, conf);
  backdate (far);
  g_autofree char *out1 = NULL;
  gboolean ok1 = run_mbsync (rc, &out1);
  g_test_message ("mbsync: %s", out1);
  g_assert_true (ok1);

  /* What mbsync wrote, read by us, and written back byte for byte. */
  g_autofree char *state_path = g_build_filename (near, ".mbsyncstate", NULL);
  g_autofree char *text = read_text (state_path);
  g_autoptr (MsSyncState) s = parse_ok (text);
  g_autofree char *ps = pairs_str (s);
  g_assert_cmpstr (ps, ==, "1 1 S; 2 2 ; 3 3 F");
  g_assert_cmpuint (s->max_pulled, ==, 3);
  g_assert_cmpuint (s->max_pushed, ==, 3);
  g_autofree char *ours = format (s);
  g_assert_cmpstr (ours, ==, text);

  /* What we write, read by mbsync: our commit (with a sidecar next to the
   * state) recording pair 1 as synced with FS, and both copies of it set to
   * FS on the server, S in the Maildir.  Against our base, the Maildir
   * dropped F and mbsync must drop it on the server too (against its own
   * base S it would instead give the Maildir F).  Plus a change in the
   * Maildir and a new server message. */
  {
    g_autoptr (GError) error = NULL;
    MsSyncStateFile *file = ms_sync_state_file_open (state_path, TRUE, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (ms_sync_state_file_set_flags (file, 1, 1, MS_FLAG_SEEN | MS_FLAG_FLAGGED, &error));
    g_assert_true (ms_sync_state_file_commit (file, &error));
    g_assert_no_error (error);
    ms_sync_state_file_close (file);
  }
  g_autofree char *far1 = find_uid (far, 1);
  g_assert_nonnull (far1);
  g_autofree char *far1_base = g_strndup (far1, strstr (far1, ":2,") - far1);
  g_autofree char *far1_new = g_strconcat (far1_base, ":2,FS", NULL);
  g_assert_cmpint (g_rename (far1, far1_new), ==, 0);
  g_autofree char *near2 = find_uid (near, 2);
  g_assert_nonnull (near2);
  g_autofree char *near2_base = g_strndup (near2, strstr (near2, ":2,") - near2);
  g_autofree char *near2_name = g_path_get_basename (near2_base);
  g_autofree char *near2_new = g_strconcat (near, "/cur/", near2_name, ":2,R", NULL);
  g_assert_cmpint (g_rename (near2, near2_new), ==, 0);
  put_message (far, "1700000001.1_4.farhost:2,", "four");
  backdate (far);
  backdate (near);

  g_autofree char *out2 = NULL;
  gboolean ok2 = run_mbsync (rc, &out2);
  g_test_message ("mbsync: %s", out2);
  g_assert_true (ok2);
  g_assert_null (strstr (out2, "Error"));
  g_assert_null (strstr (out2, "Warning"));
  g_autofree char *sidecar = g_strconcat (state_path, ".sync_imap", NULL);
  g_assert_true (g_file_test (sidecar, G_FILE_TEST_IS_REGULAR));

  /* No message copied twice, the new one pulled, the flags merged against
   * our base. */
  g_assert_cmpuint (count_messages (far), ==, 4);
  g_assert_cmpuint (count_messages (near), ==, 4);
  g_autofree char *text2 = read_text (state_path);
  g_autoptr (MsSyncState) s2 = parse_ok (text2);
  g_autofree char *ps2 = pairs_str (s2);
  g_assert_cmpstr (ps2, ==, "1 1 S; 2 2 R; 3 3 F; 4 4 ");
  g_assert_cmpuint (s2->max_pulled, ==, 4);
  g_autofree char *far1_now = find_uid (far, 1);
  g_assert_true (g_str_has_suffix (far1_now, ":2,S"));
  g_autofree char *far2 = find_uid (far, 2);
  g_assert_true (g_str_has_suffix (far2, ":2,R"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sync-state/parse/mbsync-files", test_mbsync_files);
  g_test_add_func ("/sync-state/parse/round-trip", test_round_trip);
  g_test_add_func ("/sync-state/parse/legacy", test_legacy);
  g_test_add_func ("/sync-state/parse/blanks", test_blanks);
  g_test_add_func ("/sync-state/parse/unknown-header-kept", test_unknown_header);
  g_test_add_func ("/sync-state/parse/errors", test_parse_errors);
  g_test_add_func ("/sync-state/parse/every-prefix", test_every_prefix);
  g_test_add_func ("/sync-state/parse/limit", test_parse_limit);
  g_test_add_func ("/sync-state/sidecar", test_sidecar);
  g_test_add_func ("/sync-state/pairs", test_pairs);
  g_test_add_func ("/sync-state/journal/replay", test_journal_replay);
  g_test_add_func ("/sync-state/journal/torn", test_journal_torn);
  g_test_add_func ("/sync-state/journal/errors", test_journal_errors);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/sync-state/file/fresh", test_file_fresh);
  ADD ("/sync-state/file/journal", test_file_journal);
  ADD ("/sync-state/file/torn-journal", test_file_torn_journal);
  ADD ("/sync-state/file/commit-atomic", test_file_commit_atomic);
  ADD ("/sync-state/file/commit-large", test_file_commit_large);
  ADD ("/sync-state/file/locked", test_file_locked);
  ADD ("/sync-state/file/mbsync-journal", test_file_mbsync_journal);
  ADD ("/sync-state/file/limits", test_file_limits);
  ADD ("/sync-state/file/die-after", test_die_after);
  ADD ("/sync-state/mbsync/interoperate", test_real_mbsync);
  return g_test_run ();
}
