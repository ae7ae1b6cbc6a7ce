/* config.c — the mswatchrc parser: a hand-written lexer and a
 * recursive-descent parser over one in-memory buffer.
 *
 * mswatch 1.2 used flex and bison; this file reproduces the language they
 * accepted (spec §3) rather than their code.  The lexer turns bytes into
 * tokens: NEWLINE (directives are line-oriented), "{" and "}" (only when
 * they stand alone, so `x{y` is a word), keywords (only when written
 * without any backslash, so `\sync` is the plain word "sync"), numbers
 * (`[0-9]+`, again without backslashes) and words.  A number is also
 * accepted wherever a word is, as in 1.2.
 *
 * The parser reads one line at a time: a blank line, or a directive that
 * must end at a newline or at the end of the input.  `store` is the only
 * directive that spans lines; inside its braces only `watch` lines and blank
 * lines may appear, and nothing but a comment may follow its "}".
 *
 * Errors: the first one stops the parse.  diag->error gets 1.2's message
 * word for word (main.c prints it), diag->echo the directive 1.2 echoed on
 * stdout, and diag->location a "FILE:LINE: explanation" line, which 1.2
 * never gave.  A line number is 1-based; a NEWLINE token belongs to the line
 * it ends.
 *
 * Two departures from 1.2, both in the direction 1.2's own messages point:
 *
 *  - An unrecognized character (`"`, or a `\` just before a newline or the
 *    end of the input) gets 1.2's "Unrecognized characters: ... Ignoring."
 *    warning and then a syntax error at that point.  1.2 printed the same
 *    warning and, in every case observed, failed with a syntax error
 *    (spec §3.1, §12 item 10); stopping right there lets us say where and
 *    why instead of failing somewhere later.
 *
 *  - The extension directives `syncer`, `sync_timeout` and `on_synced` are
 *    recognized only as the first word of a line.  1.2 knew nothing of them,
 *    so a 1.2 config that used one of these words as an argument (say,
 *    `watch foo syncer`) must still mean what it meant.
 *
 * Every count in here (words, directives, ignored names) is bounded by the
 * input size, which MS_CONFIG_MAX_BYTES caps, and the parser never recurses,
 * so no further limits are needed.
 */
#include "config.h"

#include <string.h>

/* Word text quoted in a location message is cut after this many bytes: the
 * line must stay readable, and the full word is in the file anyway. */
#define SHOWN_WORD_MAX 60

#define SYNTAX_ERROR "Error parsing configuration: syntax error."
#define DUPLICATE_ERROR "More than one entry of the same type. Error on:"

typedef enum {
  TOK_EOF,
  TOK_NEWLINE,
  TOK_LBRACE,
  TOK_RBRACE,
  TOK_KEYWORD,
  TOK_NUMBER,
  TOK_WORD,
} TokenType;

/* mswatch 1.2's reserved words (spec §3.1), reserved everywhere. */
typedef enum {
  KW_NONE,
  KW_SYNC,
  KW_MAILBOX_PREFIX,
  KW_BASE_DELAY,
  KW_INTER_DELAY,
  KW_MAX_DELAY,
  KW_POLL_PERIOD,
  KW_IGNORE,
  KW_STORE,
  KW_WATCH,
} Keyword;

static const char *const keyword_names[] = {
  [KW_SYNC] = "sync",
  [KW_MAILBOX_PREFIX] = "mailbox_prefix",
  [KW_BASE_DELAY] = "base_delay",
  [KW_INTER_DELAY] = "inter_delay",
  [KW_MAX_DELAY] = "max_delay",
  [KW_POLL_PERIOD] = "poll_period",
  [KW_IGNORE] = "ignore",
  [KW_STORE] = "store",
  [KW_WATCH] = "watch",
};

/* The extensions, directives only at the start of a line (see above). */
#define EXT_SYNCER "syncer"
#define EXT_SYNC_TIMEOUT "sync_timeout"
#define EXT_ON_SYNCED "on_synced"

typedef struct {
  TokenType type;
  Keyword keyword;  /* TOK_KEYWORD */
  char *text;       /* TOK_KEYWORD, TOK_NUMBER, TOK_WORD: the word after escapes */
  gboolean escaped; /* the word contained a backslash escape */
  gint64 number;    /* TOK_NUMBER, saturated at MS_CONFIG_MAX_SECONDS */
  guint line;
} Token;

typedef struct {
  const char *filename;
  const char *p;   /* next unread byte */
  const char *end;
  guint line;      /* line of *p */
  guint comment_line; /* line of the last comment, for a hint */
  Token tok;       /* the current token: one token of lookahead */
  MsConfigDiag *diag;
  MsConfig *config;
  guint n_stores;

  /* Line of the first entry of each single-entry directive; 0 = not seen. */
  guint sync_line, syncer_line, prefix_line, base_line, inter_line, max_line, poll_line,
      timeout_line, on_synced_line;
  /* Mailbox name -> line of the per-mailbox inter_delay entry that won. */
  GHashTable *inter_lines;
} Parser;

/* --- diagnostics ---------------------------------------------------------- */

static void
add_warning (Parser *ps, char *message)
{
  if (ps->diag->warnings == NULL)
    ps->diag->warnings = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (ps->diag->warnings, message);
}

/* Records the error (only the first counts) and returns FALSE, so that
 * callers can `return fail (...)`.  line 0 means "no particular line". */
G_GNUC_PRINTF (4, 5) static gboolean
fail (Parser *ps, const char *error, guint line, const char *fmt, ...)
{
  va_list ap;

  if (ps->diag->error != NULL)
    return FALSE;
  ps->diag->error = g_strdup (error);
  va_start (ap, fmt);
  g_autofree char *what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (line > 0)
    ps->diag->location = g_strdup_printf ("%s:%u: %s", ps->filename, line, what);
  else
    ps->diag->location = g_strdup_printf ("%s: %s", ps->filename, what);
  return FALSE;
}

/* A word as it appears in a message: in double quotes, with control bytes,
 * quotes and backslashes escaped, and cut at SHOWN_WORD_MAX bytes. */
static char *
show_word (const char *word)
{
  GString *s = g_string_new ("\"");
  gsize n = 0;

  for (const char *p = word; *p != '\0'; p++, n++) {
    guchar c = (guchar) *p;
    if (n == SHOWN_WORD_MAX) {
      g_string_append (s, "...");
      break;
    }
    if (c == '"' || c == '\\')
      g_string_append_printf (s, "\\%c", c);
    else if (c < 0x20 || c == 0x7f)
      g_string_append_printf (s, "\\x%02x", c);
    else
      g_string_append_c (s, (char) c);
  }
  g_string_append_c (s, '"');
  return g_string_free (s, FALSE);
}

static char *
show_token (const Token *t)
{
  switch (t->type) {
  case TOK_EOF:
    return g_strdup ("end of file");
  case TOK_NEWLINE:
    return g_strdup ("end of line");
  case TOK_LBRACE:
    return g_strdup ("\"{\"");
  case TOK_RBRACE:
    return g_strdup ("\"}\"");
  case TOK_KEYWORD:
  case TOK_NUMBER:
  case TOK_WORD:
    break;
  }
  return show_word (t->text);
}

/* --- lexer ---------------------------------------------------------------- */

static gboolean
is_digits (const char *s)
{
  if (*s == '\0')
    return FALSE;
  for (; *s != '\0'; s++)
    if (!g_ascii_isdigit (*s))
      return FALSE;
  return TRUE;
}

/* `[0-9]+` to a number; values past MS_CONFIG_MAX_SECONDS saturate. */
static gint64
digits_value (const char *s)
{
  gint64 v = 0;

  for (; *s != '\0'; s++) {
    v = v * 10 + (*s - '0');
    if (v > MS_CONFIG_MAX_SECONDS)
      return MS_CONFIG_MAX_SECONDS;
  }
  return v;
}

/* 1.2's warning for a character its lexer had no rule for, word for word. */
static void
warn_unrecognized (Parser *ps, char c)
{
  add_warning (ps, g_strdup_printf ("Unrecognized characters: '%c' (%d)%s. Ignoring.", c,
                                    (int) (guchar) c, c == '\t' ? " [is tab]" : ""));
}

/* Gives the word a type: "{", "}", keyword, number, or plain word.  Any
 * backslash in it makes it a plain word, as in 1.2. */
static void
classify_word (Token *t)
{
  t->type = TOK_WORD;
  if (t->escaped)
    return;
  if (strcmp (t->text, "{") == 0) {
    t->type = TOK_LBRACE;
    return;
  }
  if (strcmp (t->text, "}") == 0) {
    t->type = TOK_RBRACE;
    return;
  }
  if (is_digits (t->text)) {
    t->type = TOK_NUMBER;
    t->number = digits_value (t->text);
    return;
  }
  for (gsize k = 1; k < G_N_ELEMENTS (keyword_names); k++) {
    if (strcmp (t->text, keyword_names[k]) == 0) {
      t->type = TOK_KEYWORD;
      t->keyword = (Keyword) k;
      return;
    }
  }
}

/* Reads the next token into ps->tok, replacing the current one.  Returns
 * FALSE, with the error recorded, on a character no token may contain. */
static gboolean
advance (Parser *ps)
{
  Token *t = &ps->tok;

  g_clear_pointer (&t->text, g_free);
  *t = (Token) { .type = TOK_EOF };

  /* Blanks and a comment, which runs to the end of the line. */
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t'))
    ps->p++;
  if (ps->p < ps->end && *ps->p == '#') {
    ps->comment_line = ps->line;
    const char *nl = memchr (ps->p, '\n', (gsize) (ps->end - ps->p));
    ps->p = nl ? nl : ps->end;
  }

  t->line = ps->line;
  if (ps->p == ps->end)
    return TRUE;

  switch (*ps->p) {
  case '\n':
    t->type = TOK_NEWLINE;
    ps->p++;
    ps->line++;
    return TRUE;
  case '\r':
    return fail (ps, SYNTAX_ERROR, ps->line,
                 "carriage return character: the file has DOS (CRLF) line endings; "
                 "convert it to Unix (LF) line endings");
  case '"':
    warn_unrecognized (ps, '"');
    return fail (ps, SYNTAX_ERROR, ps->line,
                 "quotes are not supported; write \\\" for a literal quote and \"\\ \" "
                 "for a space inside a word");
  default:
    break;
  }

  /* A word: everything up to a blank, newline, comment or quote, with `\c`
   * standing for c. */
  GString *word = g_string_new (NULL);
  while (ps->p < ps->end) {
    char c = *ps->p;
    if (c == ' ' || c == '\t' || c == '\n' || c == '#' || c == '"' || c == '\r')
      break;
    if (c == '\0') {
      g_string_free (word, TRUE);
      return fail (ps, SYNTAX_ERROR, ps->line, "NUL byte in the file");
    }
    if (c == '\\') {
      if (ps->p + 1 == ps->end || ps->p[1] == '\n') {
        g_string_free (word, TRUE);
        warn_unrecognized (ps, '\\');
        return fail (ps, SYNTAX_ERROR, ps->line,
                     "backslash at the end of a line; lines cannot be continued");
      }
      if (ps->p[1] == '\0') {
        g_string_free (word, TRUE);
        return fail (ps, SYNTAX_ERROR, ps->line, "NUL byte in the file");
      }
      g_string_append_c (word, ps->p[1]);
      t->escaped = TRUE;
      ps->p += 2;
      continue;
    }
    g_string_append_c (word, c);
    ps->p++;
  }
  /* A word is never empty: the only bytes that end one at its start were
   * dealt with above. */
  t->text = g_string_free (word, FALSE);
  classify_word (t);
  return TRUE;
}

/* --- parser helpers ------------------------------------------------------- */

static gboolean
tok_is_word (const Token *t)
{
  return t->type == TOK_WORD || t->type == TOK_NUMBER;
}

static gboolean
tok_ends_line (const Token *t)
{
  return t->type == TOK_NEWLINE || t->type == TOK_EOF;
}

/* The error for a token that may not appear where it is. */
static gboolean
fail_unexpected (Parser *ps, const char *context)
{
  g_autofree char *shown = show_token (&ps->tok);

  if (ps->tok.type == TOK_KEYWORD)
    return fail (ps, SYNTAX_ERROR, ps->tok.line,
                 "%s is a keyword and cannot be used %s; write \\%s to use it as a word", shown,
                 context, ps->tok.text);
  if (ps->tok.type == TOK_LBRACE || ps->tok.type == TOK_RBRACE)
    return fail (ps, SYNTAX_ERROR, ps->tok.line,
                 "unexpected %s %s; write \\%c to use it as a word", shown, context,
                 ps->tok.type == TOK_LBRACE ? '{' : '}');
  return fail (ps, SYNTAX_ERROR, ps->tok.line, "unexpected %s %s", shown, context);
}

/* Collects the words from the current token up to the end of the line (or
 * a "}" when `in_store`), at least one.  Returns a NULL-terminated vector
 * (transfer full), or NULL with the error recorded. */
static char **
take_words (Parser *ps, const char *directive, gboolean in_store)
{
  g_autoptr (GPtrArray) words = g_ptr_array_new_with_free_func (g_free);

  while (tok_is_word (&ps->tok)) {
    g_ptr_array_add (words, g_steal_pointer (&ps->tok.text));
    if (!advance (ps))
      return NULL;
  }
  if (!tok_ends_line (&ps->tok) && !(in_store && ps->tok.type == TOK_RBRACE)) {
    g_autofree char *context = g_strdup_printf ("in the arguments of %s", directive);
    fail_unexpected (ps, context);
    return NULL;
  }
  if (words->len == 0) {
    g_autofree char *shown = show_token (&ps->tok);
    fail (ps, SYNTAX_ERROR, ps->tok.line, "%s needs at least one word, found %s", directive,
          shown);
    return NULL;
  }
  g_ptr_array_add (words, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&words), FALSE);
}

/* A directive taking one number must end after it: at a newline or the end
 * of the input. */
static gboolean
expect_line_end (Parser *ps, const char *directive)
{
  if (tok_ends_line (&ps->tok))
    return TRUE;
  g_autofree char *shown = show_token (&ps->tok);
  return fail (ps, SYNTAX_ERROR, ps->tok.line, "%s takes one number, but %s follows it",
               directive, shown);
}

/* "sync c d ": 1.2 echoed a word list with a space after every word. */
static char *
echo_words (const char *directive, char **words)
{
  GString *s = g_string_new (directive);

  g_string_append_c (s, ' ');
  for (char **w = words; *w != NULL; w++) {
    g_string_append (s, *w);
    g_string_append_c (s, ' ');
  }
  return g_string_free (s, FALSE);
}

static gboolean
fail_duplicate (Parser *ps, const char *directive, guint line, guint first_line, char *echo)
{
  fail (ps, DUPLICATE_ERROR, line, "a second %s line; the first one is on line %u", directive,
        first_line);
  if (ps->diag->echo == NULL)
    ps->diag->echo = echo;
  else
    g_free (echo);
  return FALSE;
}

/* --- directives ----------------------------------------------------------- */

/* sync, syncer, on_synced: a command and its arguments, one entry only. */
static gboolean
parse_command (Parser *ps, const char *directive, char ***slot, guint *seen_line)
{
  guint line = ps->tok.line;

  if (!advance (ps))
    return FALSE;
  g_auto (GStrv) words = take_words (ps, directive, FALSE);
  if (words == NULL)
    return FALSE;
  if (*seen_line != 0)
    return fail_duplicate (ps, directive, line, *seen_line, echo_words (directive, words));
  *slot = g_steal_pointer (&words);
  *seen_line = line;
  return TRUE;
}

static gboolean
parse_mailbox_prefix (Parser *ps)
{
  guint line = ps->tok.line;

  if (!advance (ps))
    return FALSE;
  g_auto (GStrv) words = NULL;
  if (!tok_ends_line (&ps->tok) && (words = take_words (ps, "mailbox_prefix", FALSE)) == NULL)
    return FALSE;
  guint n = words != NULL ? g_strv_length (words) : 0;
  if (n != 2)
    return fail (ps, SYNTAX_ERROR, line,
                 "mailbox_prefix takes exactly two words (PREFIX SEPARATOR), found %u", n);
  if (ps->prefix_line != 0)
    return fail_duplicate (ps, "mailbox_prefix", line, ps->prefix_line,
                           g_strdup_printf ("mailbox_prefix %s %s", words[0], words[1]));
  ps->config->mailbox_prefix = g_strdup (words[0]);
  ps->config->mailbox_separator = g_strdup (words[1]);
  ps->prefix_line = line;
  return TRUE;
}

/* The number that must follow `directive`; leaves it as the current token. */
static gboolean
expect_number (Parser *ps, const char *directive)
{
  if (ps->tok.type == TOK_NUMBER)
    return TRUE;
  g_autofree char *shown = show_token (&ps->tok);
  return fail (ps, SYNTAX_ERROR, ps->tok.line,
               "expected a number of seconds after %s, found %s", directive, shown);
}

/* base_delay, max_delay, poll_period, sync_timeout: one number, one entry. */
static gboolean
parse_seconds (Parser *ps, const char *directive, gint64 *slot, guint *seen_line)
{
  guint line = ps->tok.line;

  if (!advance (ps) || !expect_number (ps, directive))
    return FALSE;
  gint64 value = ps->tok.number;
  if (!advance (ps) || !expect_line_end (ps, directive))
    return FALSE;
  if (*seen_line != 0)
    return fail_duplicate (ps, directive, line, *seen_line,
                           g_strdup_printf ("%s %" G_GINT64_FORMAT, directive, value));
  *slot = value;
  *seen_line = line;
  return TRUE;
}

/* inter_delay N: the default (one entry); inter_delay N MB...: per mailbox,
 * any number of times, a later line winning for a mailbox it repeats. */
static gboolean
parse_inter_delay (Parser *ps)
{
  guint line = ps->tok.line;

  if (!advance (ps) || !expect_number (ps, "inter_delay"))
    return FALSE;
  gint64 value = ps->tok.number;
  if (!advance (ps))
    return FALSE;

  if (tok_ends_line (&ps->tok)) {
    if (ps->inter_line != 0)
      return fail_duplicate (ps, "inter_delay", line, ps->inter_line,
                             g_strdup_printf ("inter_delay %" G_GINT64_FORMAT, value));
    ps->config->inter_delay = value;
    ps->inter_line = line;
    return TRUE;
  }

  g_auto (GStrv) names = take_words (ps, "inter_delay", FALSE);
  if (names == NULL)
    return FALSE;
  for (char **n = names; *n != NULL; n++) {
    gint64 *v = g_new (gint64, 1);
    *v = value;
    g_hash_table_replace (ps->config->mailbox_inter_delay, g_strdup (*n), v);
    g_hash_table_replace (ps->inter_lines, g_strdup (*n), GUINT_TO_POINTER (line));
  }
  return TRUE;
}

static gboolean
parse_ignore (Parser *ps)
{
  if (!advance (ps))
    return FALSE;
  g_auto (GStrv) names = take_words (ps, "ignore", FALSE);
  if (names == NULL)
    return FALSE;
  for (char **n = names; *n != NULL; n++)
    g_hash_table_add (ps->config->ignore, g_strdup (*n));
  return TRUE;
}

static gboolean
skip_newlines (Parser *ps)
{
  while (ps->tok.type == TOK_NEWLINE)
    if (!advance (ps))
      return FALSE;
  return TRUE;
}

/* store NAME { watch PROG ARG... }, where NAME and "{" may be separated by
 * newlines, and the body holds exactly one watch line among blank ones. */
static gboolean
parse_store (Parser *ps)
{
  guint line = ps->tok.line;

  if (!advance (ps))
    return FALSE;
  if (!tok_is_word (&ps->tok)) {
    g_autofree char *shown = show_token (&ps->tok);
    return fail (ps, SYNTAX_ERROR, ps->tok.line, "expected a store name after store, found %s",
                 shown);
  }
  g_autofree char *name = g_steal_pointer (&ps->tok.text);
  g_autofree char *shown_name = show_word (name);
  if (!advance (ps) || !skip_newlines (ps))
    return FALSE;
  if (ps->tok.type != TOK_LBRACE) {
    g_autofree char *shown = show_token (&ps->tok);
    return fail (ps, SYNTAX_ERROR, ps->tok.line, "expected \"{\" after store %s, found %s",
                 shown_name, shown);
  }
  if (!advance (ps))
    return FALSE;

  g_auto (GStrv) watch = NULL;
  guint watch_line = 0;
  /* A "#" on a watch line hides a "}" after it (`watch w x#y }`); the
   * resulting error is easier to understand with a word about it. */
  g_autofree char *hint = g_strdup ("");
  for (;;) {
    if (!skip_newlines (ps))
      return FALSE;
    if (ps->tok.type == TOK_RBRACE)
      break;
    if (ps->tok.type == TOK_EOF)
      return fail (ps, SYNTAX_ERROR, ps->tok.line,
                   "the file ends inside store %s (line %u): \"}\" is missing%s", shown_name,
                   line, hint);
    if (ps->tok.type != TOK_KEYWORD || ps->tok.keyword != KW_WATCH) {
      g_autofree char *shown = show_token (&ps->tok);
      return fail (ps, SYNTAX_ERROR, ps->tok.line,
                   "found %s in store %s, where only watch lines and \"}\" may appear%s",
                   shown, shown_name, hint);
    }
    guint this_line = ps->tok.line;
    if (!advance (ps))
      return FALSE;
    g_auto (GStrv) words = take_words (ps, "watch", TRUE);
    if (words == NULL)
      return FALSE;
    if (watch != NULL)
      return fail (ps, "Multiple store entries of the same type", this_line,
                   "a second watch line in store %s; the first one is on line %u", shown_name,
                   watch_line);
    watch = g_steal_pointer (&words);
    watch_line = this_line;
    if (ps->comment_line == this_line) {
      g_free (hint);
      hint = g_strdup_printf (" (the \"#\" on line %u starts a comment that runs to the end "
                              "of that line; write \\# for a literal \"#\")", this_line);
    }
  }
  if (watch == NULL)
    return fail (ps, SYNTAX_ERROR, ps->tok.line,
                 "store %s has no watch line (store NAME { watch PROGRAM ARG... })", shown_name);

  /* The "}" must end its line. */
  if (!advance (ps))
    return FALSE;
  if (!tok_ends_line (&ps->tok)) {
    g_autofree char *shown = show_token (&ps->tok);
    return fail (ps, SYNTAX_ERROR, ps->tok.line,
                 "unexpected %s after the \"}\" that closes store %s; only a comment may "
                 "follow it on its line", shown, shown_name);
  }

  if (ps->n_stores == G_N_ELEMENTS (ps->config->stores)) {
    fail (ps, "More than two store entries. Error on:", line,
          "a third store, %s; exactly two are allowed (lines %u and %u define the others)",
          shown_name, ps->config->stores[0].line, ps->config->stores[1].line);
    if (ps->diag->echo == NULL)
      ps->diag->echo = echo_words ("watch", watch);
    return FALSE;
  }
  MsStoreConfig *store = &ps->config->stores[ps->n_stores++];
  store->name = g_steal_pointer (&name);
  store->watch_argv = g_steal_pointer (&watch);
  store->line = line;
  return TRUE;
}

/* An extension directive, recognized only as the first word of a line. */
static gboolean
parse_extension (Parser *ps, gboolean *handled)
{
  const char *w = ps->tok.text;
  MsConfig *c = ps->config;

  *handled = TRUE;
  if (strcmp (w, EXT_SYNCER) == 0)
    return parse_command (ps, EXT_SYNCER, &c->syncer_argv, &ps->syncer_line);
  if (strcmp (w, EXT_ON_SYNCED) == 0)
    return parse_command (ps, EXT_ON_SYNCED, &c->on_synced_argv, &ps->on_synced_line);
  if (strcmp (w, EXT_SYNC_TIMEOUT) == 0)
    return parse_seconds (ps, EXT_SYNC_TIMEOUT, &c->sync_timeout, &ps->timeout_line);
  *handled = FALSE;
  return TRUE;
}

/* A 1.2 directive, named by its keyword. */
static gboolean
parse_keyword_directive (Parser *ps)
{
  MsConfig *c = ps->config;

  switch (ps->tok.keyword) {
  case KW_SYNC:
    return parse_command (ps, "sync", &c->sync_argv, &ps->sync_line);
  case KW_MAILBOX_PREFIX:
    return parse_mailbox_prefix (ps);
  case KW_BASE_DELAY:
    return parse_seconds (ps, "base_delay", &c->base_delay, &ps->base_line);
  case KW_INTER_DELAY:
    return parse_inter_delay (ps);
  case KW_MAX_DELAY:
    return parse_seconds (ps, "max_delay", &c->max_delay, &ps->max_line);
  case KW_POLL_PERIOD:
    return parse_seconds (ps, "poll_period", &c->poll_period, &ps->poll_line);
  case KW_IGNORE:
    return parse_ignore (ps);
  case KW_STORE:
    return parse_store (ps);
  case KW_WATCH:
    return fail (ps, SYNTAX_ERROR, ps->tok.line,
                 "watch outside a store block (store NAME { watch PROGRAM ARG... })");
  case KW_NONE:
  default:
    break;
  }
  g_assert_not_reached ();
}

static gboolean
is_directive_name (const char *w)
{
  for (gsize k = 1; k < G_N_ELEMENTS (keyword_names); k++)
    if (k != KW_WATCH && strcmp (w, keyword_names[k]) == 0)
      return TRUE;
  return strcmp (w, EXT_SYNCER) == 0 || strcmp (w, EXT_SYNC_TIMEOUT) == 0
         || strcmp (w, EXT_ON_SYNCED) == 0;
}

/* The error for a line starting with a word that names no directive, with a
 * hint when it nearly does. */
static gboolean
fail_unknown_directive (Parser *ps)
{
  g_autofree char *shown = show_token (&ps->tok);
  g_autofree char *lower = g_ascii_strdown (ps->tok.text, -1);
  const char *hint = "";

  if (ps->tok.escaped && is_directive_name (ps->tok.text))
    hint = " (a backslash makes it a plain word)";
  else if (is_directive_name (lower))
    hint = " (directives are lower case)";
  return fail (ps, SYNTAX_ERROR, ps->tok.line, "unknown directive %s%s", shown, hint);
}

/* One line: blank, or one directive and its newline (or the end). */
static gboolean
parse_line (Parser *ps)
{
  gboolean handled = FALSE;
  gboolean ok;

  switch (ps->tok.type) {
  case TOK_NEWLINE:
    return advance (ps);
  case TOK_EOF:
    return TRUE;
  case TOK_KEYWORD:
    ok = parse_keyword_directive (ps);
    break;
  case TOK_WORD:
  case TOK_NUMBER:
    ok = TRUE;
    if (ps->tok.type == TOK_WORD && !ps->tok.escaped)
      ok = parse_extension (ps, &handled);
    if (!handled)
      return fail_unknown_directive (ps);
    break;
  case TOK_LBRACE:
  case TOK_RBRACE:
  default: {
    g_autofree char *shown = show_token (&ps->tok);
    return fail (ps, SYNTAX_ERROR, ps->tok.line,
                 "unexpected %s outside a store block (store NAME { watch PROGRAM ARG... })",
                 shown);
  }
  }

  /* A directive stops at its newline (or the end of the input), leaving it
   * as the current token, so that its own checks (duplicates) come before
   * any error on the next line, as in 1.2. */
  if (!ok)
    return FALSE;
  return ps->tok.type == TOK_EOF || advance (ps);
}

/* --- checks after the whole file was read --------------------------------- */

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static gboolean
check_config (Parser *ps)
{
  MsConfig *c = ps->config;

  if (c->sync_argv != NULL && c->syncer_argv != NULL)
    return fail (ps, "Configuration error: both sync and syncer are set", ps->syncer_line,
                 "syncer conflicts with the sync on line %u; keep only one of them",
                 ps->sync_line);
  if (c->sync_argv == NULL && c->syncer_argv == NULL)
    return fail (ps, "Configuration file is missing field sync", 0,
                 "no sync line; add one such as \"sync mbsync\" (or \"syncer COMMAND ARG...\")");
  if (ps->n_stores == 0)
    return fail (ps, "Configuration file has no stores", 0,
                 "no store blocks; two are required (store NAME { watch PROGRAM ARG... })");
  if (ps->n_stores == 1) {
    g_autofree char *error = g_strdup_printf (
        "Configuration file has only one store (%s); two are required", c->stores[0].name);
    return fail (ps, error, c->stores[0].line,
                 "this is the only store block; a second one is required");
  }

  if (c->base_delay > c->inter_delay) {
    g_autofree char *error = g_strdup_printf (
        "Configuration error: base_delay (%" G_GINT64_FORMAT ") > default inter_delay (%"
        G_GINT64_FORMAT ")", c->base_delay, c->inter_delay);
    if (ps->base_line != 0 && ps->inter_line != 0)
      return fail (ps, error, ps->base_line,
                   "base_delay must not exceed the default inter_delay set on line %u",
                   ps->inter_line);
    if (ps->base_line != 0)
      return fail (ps, error, ps->base_line,
                   "base_delay must not exceed the default inter_delay (%d if not set)",
                   MS_CONFIG_DEFAULT_INTER_DELAY);
    return fail (ps, error, ps->inter_line,
                 "the default inter_delay must not be below base_delay (%d if not set)",
                 MS_CONFIG_DEFAULT_BASE_DELAY);
  }

  /* Per-mailbox delays are checked in name order, so the mailbox named is
   * the same every time. */
  g_autofree gpointer *names = g_hash_table_get_keys_as_array (c->mailbox_inter_delay, NULL);
  guint n = g_hash_table_size (c->mailbox_inter_delay);
  qsort (names, n, sizeof *names, compare_strings);
  for (guint i = 0; i < n; i++) {
    const char *name = names[i];
    gint64 inter = *(const gint64 *) g_hash_table_lookup (c->mailbox_inter_delay, name);
    if (c->base_delay <= inter)
      continue;
    g_autofree char *error = g_strdup_printf (
        "Configuration error: base_delay (%" G_GINT64_FORMAT ") > inter_delay for mailbox "
        "\"%s\" (%" G_GINT64_FORMAT ")", c->base_delay, name, inter);
    g_autofree char *shown = show_word (name);
    guint line = GPOINTER_TO_UINT (g_hash_table_lookup (ps->inter_lines, name));
    if (ps->base_line != 0)
      return fail (ps, error, line,
                   "the inter_delay for %s must not be below the base_delay set on line %u",
                   shown, ps->base_line);
    return fail (ps, error, line,
                 "the inter_delay for %s must not be below base_delay (%d if not set)", shown,
                 MS_CONFIG_DEFAULT_BASE_DELAY);
  }
  return TRUE;
}

/* --- public API ----------------------------------------------------------- */

void
ms_config_diag_init (MsConfigDiag *diag)
{
  g_return_if_fail (diag != NULL);
  *diag = (MsConfigDiag) { .warnings = g_ptr_array_new_with_free_func (g_free) };
}

void
ms_config_diag_clear (MsConfigDiag *diag)
{
  g_return_if_fail (diag != NULL);
  g_clear_pointer (&diag->warnings, g_ptr_array_unref);
  g_clear_pointer (&diag->error, g_free);
  g_clear_pointer (&diag->location, g_free);
  g_clear_pointer (&diag->echo, g_free);
}

static MsConfig *
config_new (const char *filename)
{
  MsConfig *c = g_new0 (MsConfig, 1);

  c->filename = g_strdup (filename);
  c->base_delay = MS_CONFIG_DEFAULT_BASE_DELAY;
  c->inter_delay = MS_CONFIG_DEFAULT_INTER_DELAY;
  c->max_delay = MS_CONFIG_DEFAULT_MAX_DELAY;
  c->poll_period = MS_CONFIG_DEFAULT_POLL_PERIOD;
  c->sync_timeout = 0;
  c->mailbox_inter_delay = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  c->ignore = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return c;
}

MsConfig *
ms_config_parse (const char *filename, const char *text, gsize len, MsConfigDiag *diag)
{
  MsConfigDiag own_diag;

  g_return_val_if_fail (filename != NULL, NULL);
  g_return_val_if_fail (text != NULL || len == 0, NULL);
  g_return_val_if_fail (diag == NULL || diag->error == NULL, NULL);

  if (diag == NULL) {
    ms_config_diag_init (&own_diag);
    diag = &own_diag;
  }

  Parser ps = {
    .filename = filename,
    .p = text,
    .end = text + len,
    .line = 1,
    .diag = diag,
  };

  if (len > MS_CONFIG_MAX_BYTES) {
    g_autofree char *error = g_strdup_printf (
        "Unable to load configuration file \"%s\": larger than %d bytes", filename,
        MS_CONFIG_MAX_BYTES);
    fail (&ps, error, 0, "the file is %" G_GSIZE_FORMAT " bytes long; the limit is %d bytes",
          len, MS_CONFIG_MAX_BYTES);
  } else {
    ps.config = config_new (filename);
    ps.inter_lines = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    gboolean ok = advance (&ps);
    while (ok && ps.tok.type != TOK_EOF)
      ok = parse_line (&ps);
    if (ok)
      check_config (&ps);
    g_clear_pointer (&ps.tok.text, g_free);
    g_clear_pointer (&ps.inter_lines, g_hash_table_unref);
    if (diag->error != NULL)
      g_clear_pointer (&ps.config, ms_config_free);
  }

  if (diag == &own_diag)
    ms_config_diag_clear (&own_diag);
  return ps.config;
}

void
ms_config_free (MsConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->filename);
  g_strfreev (config->sync_argv);
  g_strfreev (config->syncer_argv);
  g_free (config->mailbox_prefix);
  g_free (config->mailbox_separator);
  g_clear_pointer (&config->mailbox_inter_delay, g_hash_table_unref);
  g_clear_pointer (&config->ignore, g_hash_table_unref);
  g_strfreev (config->on_synced_argv);
  for (gsize i = 0; i < G_N_ELEMENTS (config->stores); i++) {
    g_free (config->stores[i].name);
    g_strfreev (config->stores[i].watch_argv);
  }
  g_free (config);
}

gint64
ms_config_inter_delay_for (const MsConfig *config, const char *name)
{
  g_return_val_if_fail (config != NULL, MS_CONFIG_DEFAULT_INTER_DELAY);
  g_return_val_if_fail (name != NULL, config->inter_delay);

  const gint64 *v = g_hash_table_lookup (config->mailbox_inter_delay, name);
  return v != NULL ? *v : config->inter_delay;
}

gboolean
ms_config_is_ignored (const MsConfig *config, const char *name)
{
  g_return_val_if_fail (config != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  return g_hash_table_contains (config->ignore, name);
}
