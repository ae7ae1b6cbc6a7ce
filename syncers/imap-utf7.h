/* imap-utf7.h — IMAP mailbox names in modified UTF-7 (RFC 3501 §5.1.3).
 *
 * IMAP servers without UTF8=ACCEPT name mailboxes in "modified UTF-7":
 * printable US-ASCII other than '&' stands for itself, '&' is written "&-",
 * and every other character goes into a "&...-" run that holds its UTF-16
 * code units in BASE64 with ',' in place of '/'.  "Entwürfe" is
 * "Entw&APw-rfe" on the wire.
 *
 * Both directions are strict.  The RFC allows exactly one spelling of each
 * name, and the decoder refuses every other one: BASE64 that encodes a
 * printable ASCII character, two runs back to back ("-&" inside a run is a
 * forbidden null shift), leftover bits that are not zero or that make up a
 * whole BASE64 digit, unpaired surrogates, an unterminated run, and bytes
 * outside 0x20..0x7e.  So whenever decode (s) succeeds, encode (decode (s))
 * gives back s byte for byte, and the sync state can key mailboxes by either
 * form without two spellings of one name ever meeting.
 *
 * Pure functions: no I/O, no locale.  Errors are MS_ERROR_BAD_NAME; the
 * message gives the byte offset and the reason, never the (untrusted) name.
 * NUL is refused both ways, because the results are C strings.
 *
 * Ownership: results are newly allocated (transfer full), freed with g_free.
 */
#pragma once

#include <glib.h>

#include "mailbox-name.h"

/* Longest input, in bytes, either function accepts.  A mailbox name is at
 * most MS_MAILBOX_NAME_MAX bytes of UTF-8, and no name grows by more than a
 * factor of five when encoded (a lone control character becomes the five
 * bytes "&AAE-"), so every acceptable name fits in both directions.  The cap
 * keeps a hostile server's LIST reply from making us allocate without
 * bound. */
#define MS_IMAP_UTF7_MAX_INPUT (5 * MS_MAILBOX_NAME_MAX)

/* Encodes `len` bytes of UTF-8 (len < 0: NUL-terminated) as modified UTF-7.
 * Fails on invalid UTF-8, NUL or over-long input. */
char *ms_imap_utf7_encode (const char *utf8, gssize len, GError **error);

/* Decodes `len` bytes of modified UTF-7 (len < 0: NUL-terminated) to UTF-8.
 * Fails on any input that is not the one canonical encoding of a name. */
char *ms_imap_utf7_decode (const char *mutf7, gssize len, GError **error);

/* Whether NUL-terminated `s` is the canonical modified UTF-7 of a name,
 * i.e. ms_imap_utf7_decode() takes it. */
gboolean ms_imap_utf7_is_valid (const char *s);
