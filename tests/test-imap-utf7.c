/* test-imap-utf7.c — modified UTF-7: known pairs, every refusal, round trips. */
#include <glib.h>
#include <string.h>

#include "imap-utf7.h"
#include "ms-error.h"

/* Names and their wire form.  The RFC 3501 example, German, Japanese, an
 * emoji (a surrogate pair), '&' in all positions, hierarchy separators. */
static const struct {
  const char *utf8;
  const char *mutf7;
} pairs[] = {
  { "", "" },
  { "INBOX", "INBOX" },
  { "Entwürfe", "Entw&APw-rfe" },
  { "Gelöschte Elemente", "Gel&APY-schte Elemente" },
  { "Papierkorb/Übersicht", "Papierkorb/&ANw-bersicht" },
  { "~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
  { "下書き", "&Tgtm+DBN-" },
  { "送信済みメール", "&kAFP4W4IMH8w4TD8MOs-" },
  { "📧", "&2D3c5w-" },
  { "a📧b", "a&2D3c5w-b" },
  { "😀🎉", "&2D3eANg834k-" },
  { "&", "&-" },
  { "&&", "&-&-" },
  { "A&B", "A&-B" },
  { "ä&", "&AOQ-&-" },
  { "&ä", "&-&AOQ-" },
  { "äö", "&AOQA9g-" },
  { "äöü", "&AOQA9gD8-" },
  { "ä-", "&AOQ--" },
  { "-&-", "-&--" },
  { "[Gmail]/Sent Mail", "[Gmail]/Sent Mail" },
  { "INBOX.Entwürfe.Alt", "INBOX.Entw&APw-rfe.Alt" },
  { "tab\there", "tab&AAk-here" },
  { "del\x7f", "del&AH8-" },
  { "\xc2\x80", "&AIA-" },
  { "\xef\xbf\xbd", "&,,0-" },
  { "\xf4\x8f\xbf\xbf", "&2,,f,w-" },
};

static void
test_pairs (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (pairs); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *enc = ms_imap_utf7_encode (pairs[i].utf8, -1, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (enc, ==, pairs[i].mutf7);
    g_autofree char *dec = ms_imap_utf7_decode (pairs[i].mutf7, -1, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (dec, ==, pairs[i].utf8);
  }
}

static void
test_explicit_length (void)
{
  g_autofree char *enc = ms_imap_utf7_encode ("Entwürfe-and-more", 8, NULL);
  g_autofree char *dec = ms_imap_utf7_decode ("Entw&APw-rfeXYZ", 12, NULL);
  g_assert_cmpstr (enc, ==, "Entw&APw-rf");
  g_assert_cmpstr (dec, ==, "Entwürfe");
}

/* Each refused spelling and the reason given for it. */
static const struct {
  const char *mutf7;
  const char *message;
} bad_mutf7[] = {
  { "&", "bad modified UTF-7 at byte 0: '&' sequence is not closed with '-'" },
  { "a&AOQ", "bad modified UTF-7 at byte 1: '&' sequence is not closed with '-'" },
  { "&AGE-", "bad modified UTF-7 at byte 3: printable ASCII 0x61 must not be BASE64-encoded" },
  { "&ACY-", "bad modified UTF-7 at byte 3: printable ASCII 0x26 must not be BASE64-encoded" },
  { "&AOQ-&APY-", "bad modified UTF-7 at byte 5: two BASE64 sequences back to back" },
  { "&AOQ/-", "bad modified UTF-7 at byte 4: byte 0x2f is not a BASE64 digit" },
  { "&AOQ=-", "bad modified UTF-7 at byte 4: byte 0x3d is not a BASE64 digit" },
  { "&A-", "bad modified UTF-7 at byte 2: BASE64 sequence does not end on a character boundary" },
  { "&AO-", "bad modified UTF-7 at byte 3: BASE64 sequence does not end on a character boundary" },
  { "&AOR-", "bad modified UTF-7 at byte 4: BASE64 sequence does not end on a character boundary" },
  { "&AOQA-", "bad modified UTF-7 at byte 5: BASE64 sequence does not end on a character boundary" },
  { "&2D0-", "bad modified UTF-7 at byte 4: high surrogate without a low surrogate" },
  { "&2D0AYQ-", "bad modified UTF-7 at byte 6: high surrogate without a low surrogate" },
  { "&3Mc-", "bad modified UTF-7 at byte 3: low surrogate without a high surrogate" },
  { "&AAA-", "bad modified UTF-7 at byte 3: encodes NUL" },
  { "caf\xc3\xa9", "bad modified UTF-7 at byte 3: byte 0xc3 is not printable ASCII" },
  { "a\tb", "bad modified UTF-7 at byte 1: byte 0x09 is not printable ASCII" },
  { "&AOQ\x7f-", "bad modified UTF-7 at byte 4: byte 0x7f is not a BASE64 digit" },
};

static void
test_decode_refuses (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (bad_mutf7); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *dec = ms_imap_utf7_decode (bad_mutf7[i].mutf7, -1, &error);
    g_assert_null (dec);
    g_assert_error (error, MS_ERROR, MS_ERROR_BAD_NAME);
    g_assert_cmpstr (error->message, ==, bad_mutf7[i].message);
  }
}

static void
test_decode_nul_byte (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dec = ms_imap_utf7_decode ("a\0b", 3, &error);
  g_assert_null (dec);
  g_assert_cmpstr (error->message, ==, "bad modified UTF-7 at byte 1: byte 0x00 is not printable ASCII");
}

static void
test_encode_refuses (void)
{
  static const struct {
    const char *utf8;
    gssize len;
    const char *message;
  } bad[] = {
    { "caf\xe9", -1, "mailbox name is not valid UTF-8 at byte 3" },
    { "\xed\xa0\x80", -1, "mailbox name is not valid UTF-8 at byte 0" }, /* a surrogate in UTF-8 */
    { "\xc0\x80", -1, "mailbox name is not valid UTF-8 at byte 0" },     /* overlong NUL */
    { "\xf4\x90\x80\x80", -1, "mailbox name is not valid UTF-8 at byte 0" }, /* above U+10FFFF */
    { "ab\xc3", -1, "mailbox name is not valid UTF-8 at byte 2" },      /* truncated */
    { "a\0b", 3, "mailbox name contains NUL at byte 1" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *enc = ms_imap_utf7_encode (bad[i].utf8, bad[i].len, &error);
    g_assert_null (enc);
    g_assert_error (error, MS_ERROR, MS_ERROR_BAD_NAME);
    g_assert_cmpstr (error->message, ==, bad[i].message);
  }
}

static void
test_length_limit (void)
{
  g_autofree char *max = g_strnfill (MS_IMAP_UTF7_MAX_INPUT, 'x');
  g_autofree char *over = g_strnfill (MS_IMAP_UTF7_MAX_INPUT + 1, 'x');
  g_autoptr (GError) e1 = NULL;
  g_autoptr (GError) e2 = NULL;
  g_autofree char *a = ms_imap_utf7_encode (max, -1, NULL);
  g_autofree char *b = ms_imap_utf7_decode (max, -1, NULL);
  g_autofree char *c = ms_imap_utf7_encode (over, -1, &e1);
  g_autofree char *d = ms_imap_utf7_decode (over, -1, &e2);

  g_assert_cmpstr (a, ==, max);
  g_assert_cmpstr (b, ==, max);
  g_assert_null (c);
  g_assert_null (d);
  g_assert_error (e1, MS_ERROR, MS_ERROR_BAD_NAME);
  g_assert_error (e2, MS_ERROR, MS_ERROR_BAD_NAME);
  g_assert_true (strstr (e1->message, "longer than") != NULL);

  /* The worst case expansion of a name within MS_MAILBOX_NAME_MAX still
   * decodes: a single control character between ASCII letters. */
  GString *s = g_string_new (NULL);
  while (s->len + 2 <= MS_MAILBOX_NAME_MAX)
    g_string_append (s, "a\x01");
  g_autofree char *enc = ms_imap_utf7_encode (s->str, -1, NULL);
  g_assert_nonnull (enc);
  g_autofree char *dec = ms_imap_utf7_decode (enc, -1, NULL);
  g_assert_cmpstr (dec, ==, s->str);
  g_string_free (s, TRUE);
}

/* Random names from a pool of interesting characters: every one must
 * survive encode -> decode, and its encoding must be the only spelling
 * (encode (decode (x)) == x). */
static void
test_round_trip_random (void)
{
  static const gunichar pool[] = {
    'a', 'Z', '0', ' ', '&', '-', '/', '.', '+', ',', '~', '[', ']', '%', '*',
    0x01, 0x7f, 0x80, 0xe4, 0xf6, 0xfc, 0xdf, 0x20ac, 0x65e5, 0x672c, 0x8a9e, 0x30e1,
    0xfffd, 0xfeff, 0x10000, 0x1f4e7, 0x1f600, 0x1f389, 0x10ffff,
  };
  GRand *rand = g_rand_new_with_seed (20240801);

  for (int n = 0; n < 20000; n++) {
    GString *s = g_string_new (NULL);
    int len = g_rand_int_range (rand, 0, 24);
    for (int i = 0; i < len; i++)
      g_string_append_unichar (s, pool[g_rand_int_range (rand, 0, G_N_ELEMENTS (pool))]);

    g_autoptr (GError) error = NULL;
    g_autofree char *enc = ms_imap_utf7_encode (s->str, s->len, &error);
    g_assert_no_error (error);
    for (const char *c = enc; *c; c++)
      g_assert_true (*c >= 0x20 && *c <= 0x7e);
    g_autofree char *dec = ms_imap_utf7_decode (enc, -1, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (dec, ==, s->str);
    g_string_free (s, TRUE);
  }
  g_rand_free (rand);
}

/* Random printable strings as candidate encodings: most are refused, and
 * any that decode must be canonical. */
static void
test_decode_only_canonical (void)
{
  static const char alphabet[] = "&-AaBb09+,/=DcEw2D3";
  GRand *rand = g_rand_new_with_seed (7);
  guint accepted = 0;

  for (int n = 0; n < 50000; n++) {
    char buf[16];
    int len = g_rand_int_range (rand, 0, sizeof buf);
    for (int i = 0; i < len; i++)
      buf[i] = alphabet[g_rand_int_range (rand, 0, sizeof alphabet - 1)];

    g_autofree char *dec = ms_imap_utf7_decode (buf, len, NULL);
    if (dec == NULL)
      continue;
    accepted++;
    g_autofree char *enc = ms_imap_utf7_encode (dec, -1, NULL);
    g_assert_cmpmem (enc, strlen (enc), buf, len);
  }
  g_assert_cmpuint (accepted, >, 1000);
  g_rand_free (rand);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/imap-utf7/pairs", test_pairs);
  g_test_add_func ("/imap-utf7/explicit-length", test_explicit_length);
  g_test_add_func ("/imap-utf7/decode-refuses", test_decode_refuses);
  g_test_add_func ("/imap-utf7/decode-nul-byte", test_decode_nul_byte);
  g_test_add_func ("/imap-utf7/encode-refuses", test_encode_refuses);
  g_test_add_func ("/imap-utf7/length-limit", test_length_limit);
  g_test_add_func ("/imap-utf7/round-trip-random", test_round_trip_random);
  g_test_add_func ("/imap-utf7/decode-only-canonical", test_decode_only_canonical);
  return g_test_run ();
}
