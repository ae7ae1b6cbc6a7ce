/* fuzz-sync-state.c — fuzz target for the sync state parser and the journal
 * replay.
 *
 * The input is a state file, optionally followed by a line "--journal--"
 * and a journal; without that line the whole input is also replayed as a
 * journal onto an empty state.  Beyond "no crash, no leak, no read past the
 * buffer" (the sanitizers' job), it checks the contract: a failure is one
 * MS_ERROR_PROTOCOL naming "fuzz.state:LINE" (or "fuzz.journal:LINE"); a
 * parsed state has its pairs sorted, formats to text that parses back to
 * the same state and formats to the same text again (so what we write is
 * what we read); a replay, even a failed one, leaves the pairs sorted, and
 * returns well-formed pending entries.  The sidecar parser gets the input
 * too: it must never fail, only ignore.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ms-error.h"
#include "sync-state.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define SEPARATOR "\n--journal--\n"

static void
check_sorted (const MsSyncState *s, gboolean unique_far)
{
  for (guint i = 1; i < s->pairs->len; i++) {
    const MsSyncPair *a = &g_array_index (s->pairs, MsSyncPair, i - 1);
    const MsSyncPair *b = &g_array_index (s->pairs, MsSyncPair, i);
    g_assert_true (a->far_uid < b->far_uid || (a->far_uid == b->far_uid && a->near_uid <= b->near_uid));
    if (unique_far && a->far_uid != 0)
      g_assert_cmpuint (a->far_uid, !=, b->far_uid);
  }
}

static void
check_same (const MsSyncState *a, const MsSyncState *b)
{
  g_assert_cmpuint (a->far_uidvalidity, ==, b->far_uidvalidity);
  g_assert_cmpuint (a->near_uidvalidity, ==, b->near_uidvalidity);
  g_assert_cmpuint (a->max_pulled, ==, b->max_pulled);
  g_assert_cmpuint (a->max_pushed, ==, b->max_pushed);
  g_assert_cmpuint (a->extra_header->len, ==, b->extra_header->len);
  for (guint i = 0; i < a->extra_header->len; i++)
    g_assert_cmpstr (g_ptr_array_index (a->extra_header, i), ==, g_ptr_array_index (b->extra_header, i));
  g_assert_cmpuint (a->pairs->len, ==, b->pairs->len);
  for (guint i = 0; i < a->pairs->len; i++) {
    const MsSyncPair *x = &g_array_index (a->pairs, MsSyncPair, i);
    const MsSyncPair *y = &g_array_index (b->pairs, MsSyncPair, i);
    g_assert_cmpuint (x->far_uid, ==, y->far_uid);
    g_assert_cmpuint (x->near_uid, ==, y->near_uid);
    g_assert_cmpuint (x->flags, ==, y->flags);
    g_assert_cmpuint (x->status, ==, y->status);
  }
}

static void
replay (MsSyncState *state, const char *text, gsize len)
{
  GError *error = NULL;
  GPtrArray *pending = ms_sync_journal_replay (state, "fuzz.journal", text, len, &error);
  if (pending == NULL) {
    g_assert_error (error, MS_ERROR, MS_ERROR_PROTOCOL);
    g_assert_true (g_str_has_prefix (error->message, "fuzz.journal:"));
    g_clear_error (&error);
  } else {
    g_assert_no_error (error);
    for (guint i = 0; i < pending->len; i++) {
      const MsSyncPending *p = g_ptr_array_index (pending, i);
      g_assert_true (p->kind == MS_SYNC_PENDING_PULL || p->kind == MS_SYNC_PENDING_PUSH);
      if (p->kind == MS_SYNC_PENDING_PULL)
        g_assert_cmpuint (p->uidnext, ==, 0);
      else
        g_assert_cmpuint (p->far_uid, ==, 0);
    }
    g_ptr_array_unref (pending);
  }
  /* Even a failed replay leaves a consistent state behind. */
  check_sorted (state, FALSE);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *text = malloc (size > 0 ? size : 1);
  g_assert_nonnull (text);
  if (size > 0)
    memcpy (text, data, size);

  const char *sep = size >= strlen (SEPARATOR) ? g_strstr_len (text, (gssize) size, SEPARATOR) : NULL;
  gsize state_len = sep ? (gsize) (sep - text) + 1 : size;
  const char *journal = sep ? sep + strlen (SEPARATOR) : text;
  gsize journal_len = sep ? size - (gsize) (journal - text) : size;

  GError *error = NULL;
  MsSyncState *state = ms_sync_state_parse ("fuzz.state", text, state_len, text, size, &error);
  if (state == NULL) {
    g_assert_true (g_error_matches (error, MS_ERROR, MS_ERROR_PROTOCOL)
                   || g_error_matches (error, MS_ERROR, MS_ERROR_LIMIT));
    g_assert_true (g_str_has_prefix (error->message, "fuzz.state"));
    g_clear_error (&error);
  } else {
    g_assert_no_error (error);
    check_sorted (state, FALSE);
    char *out = ms_sync_state_format (state);
    MsSyncState *again = ms_sync_state_parse ("fuzz.state", out, strlen (out), NULL, 0, &error);
    g_assert_no_error (error);
    check_same (state, again);
    char *out2 = ms_sync_state_format (again);
    g_assert_cmpstr (out, ==, out2);
    g_free (out2);
    g_free (out);
    ms_sync_state_free (again);

    char *sidecar = ms_sync_state_format_sidecar (state);
    MsSyncState *with_sidecar = ms_sync_state_parse ("fuzz.state", text, state_len, sidecar, strlen (sidecar),
                                                     &error);
    g_assert_no_error (error);
    g_assert_cmpuint (with_sidecar->far_highestmodseq, ==,
                      state->far_uidvalidity ? state->far_highestmodseq : 0);
    g_free (sidecar);
    ms_sync_state_free (with_sidecar);

    if (sep != NULL)
      replay (state, journal, journal_len);
    ms_sync_state_free (state);
  }

  if (sep == NULL) {
    MsSyncState *empty = ms_sync_state_new ();
    replay (empty, journal, journal_len);
    ms_sync_state_free (empty);
  }

  free (text);
  return 0;
}
