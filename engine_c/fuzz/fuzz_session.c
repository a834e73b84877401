/* libFuzzer target: the session API (ttc.h) driven by arbitrary sequences of
 * edits and requests on one document, with a small valid model
 * (loader_corpus/session.ttc, loaded once).
 *
 * The input is a program: an opcode byte, then that operation's arguments,
 * again and again; bytes past the end read as 0. Edits type, delete and
 * replace arbitrary bytes (NUL, CR, invalid UTF-8 included) in a document
 * with a cursor, or paste the whole document into itself so that it soon
 * outgrows the window and the document memory's limits. Requests complete
 * at the cursor with options taken from the input, score text, or ask for
 * logits. Two sessions with different options serve them, and are freed and
 * recreated on request; after each completion the one that served it does its
 * idle work (ttc_session_prepare: running ahead of the window's next move, the
 * requests after the likeliest next characters).
 *
 * Besides the sanitizers, the target checks what ttc.h promises and abort()s
 * when a promise is broken, so that a logic bug is a crash too. Above all,
 * reuse is invisible: each result of a long-lived session must equal a fresh
 * session's for the same request, the fresh one running the generic kernels
 * and another batch size (kernels.h and forward.c say neither changes a bit).
 *
 * Built and run by scripts/fuzz.sh; see engine_c/fuzz/README.md. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ttc.h"

#ifndef FUZZ_MODEL
#error "define FUZZ_MODEL, the path of the model as a string: engine_c/Makefile does"
#endif

enum {
    /* long enough to cut the prefix and the suffix at their memory limits */
    DOCUMENT_LIMIT = TTC_MEMORY_PREFIX_BYTES + TTC_MEMORY_SUFFIX_BYTES + 4096,
    SCORED_LIMIT = 512, /* bytes scored by one logprobs request */
    PIECE_LIMIT = 64,   /* bytes of each text ttc_retyped_length gets */
};

enum {
    OP_TYPE,          /* n, n bytes: insert at the cursor, which moves past them */
    OP_BACKSPACE,     /* n: delete up to n bytes before the cursor */
    OP_REPLACE,       /* position (2 bytes), deleted, n, n bytes: an edit elsewhere */
    OP_MOVE,          /* position (2 bytes): move the cursor */
    OP_PASTE,         /* paste a copy of the whole document at the cursor */
    OP_COMPLETE,      /* flags, max_chars - 1, min_confidence * 255, [memory_text start] */
    OP_SCORE,         /* flags, start, length (2 bytes each): logprobs or memory features */
    OP_LOGITS,        /* session, n - 1, rows - 1, n tokens (at most 256) */
    OP_RECREATE,      /* session, options: free a session and create it again */
    OP_RETYPED,       /* n, n bytes, m, m bytes: ttc_retyped_length(suggestion, suffix) */
    OP_COUNT
};

static void check(int condition)
{
    if (!condition)
        abort();
}

/* ---- reading the program ---- */

typedef struct {
    const uint8_t *data;
    size_t size, at;
} program;

static unsigned next_byte(program *p)
{
    return p->at < p->size ? p->data[p->at++] : 0;
}

static unsigned next_u16(program *p)
{
    const unsigned low = next_byte(p);
    return low | next_byte(p) << 8;
}

/* The next n bytes of the program (fewer at its end) as text. */
static const char *next_text(program *p, size_t n, size_t *length)
{
    const char *text = (const char *)p->data + p->at;
    *length = n < p->size - p->at ? n : p->size - p->at;
    p->at += *length;
    return text;
}

/* ---- the document ---- */

typedef struct {
    char *text;
    size_t length, cursor;
} document;

/* A position 0..length read from 2 bytes, spread over the whole document. */
static size_t next_position(program *p, const document *d)
{
    return (size_t)((uint64_t)next_u16(p) * (d->length + 1) >> 16);
}

static size_t insert(document *d, size_t at, const char *text, size_t n)
{
    if (n > DOCUMENT_LIMIT - d->length)
        n = DOCUMENT_LIMIT - d->length;
    memmove(d->text + at + n, d->text + at, d->length - at);
    memcpy(d->text + at, text, n);
    d->length += n;
    return n;
}

static void erase(document *d, size_t at, size_t n)
{
    memmove(d->text + at, d->text + at + n, d->length - at - n);
    d->length -= n;
}

static void op_type(program *p, document *d)
{
    size_t n;
    const char *text = next_text(p, next_byte(p), &n);
    d->cursor += insert(d, d->cursor, text, n);
}

static void op_paste(document *d)
{
    static char copy[DOCUMENT_LIMIT];
    memcpy(copy, d->text, d->length);
    d->cursor += insert(d, d->cursor, copy, d->length);
}

static void op_backspace(program *p, document *d)
{
    size_t n = next_byte(p);
    n = n < d->cursor ? n : d->cursor;
    d->cursor -= n;
    erase(d, d->cursor, n);
}

static void op_replace(program *p, document *d)
{
    const size_t at = next_position(p, d), deleted = next_byte(p), n = next_byte(p);
    erase(d, at, deleted < d->length - at ? deleted : d->length - at);
    size_t length;
    const char *text = next_text(p, n, &length);
    insert(d, at, text, length);
    d->cursor = d->cursor < d->length ? d->cursor : d->length;
}

/* ---- sessions ---- */

static ttc_model *model;
static int window;

typedef struct {
    ttc_session *session;
    ttc_session_options options;
} slot;

/* Options from one byte: bit 0 the cache precision, bits 1-3 the kernels
 * (those this machine lacks fall back to the best), bits 4-7 the batch size; an odd
 * batch size checks drafts of up to 8 tokens a pass, an even one as many as the
 * engine chooses (draft_tokens 0). */
static void create(slot *s, unsigned choice)
{
    static const char *const kernels[] = {NULL, "generic", "avx2", "avx512", "avx512vnni",
                                          "neon", "wasm", "generic"};
    ttc_session_options_init(&s->options);
    s->options.kv_precision = choice & 1 ? TTC_KV_F32 : TTC_KV_INT8;
    s->options.kernels = kernels[(choice >> 1) & 7];
    s->options.max_batch = 1 + (int)(choice >> 4) * 5;
    if (s->options.max_batch % 2)
        s->options.draft_tokens = s->options.max_batch < 8 ? s->options.max_batch : 8;
    int status = ttc_session_create(model, &s->options, &s->session);
    if (status == TTC_ERR_UNSUPPORTED) {
        s->options.kernels = NULL;
        status = ttc_session_create(model, &s->options, &s->session);
    }
    check(status == TTC_OK);
}

/* A fresh session that must give the same results as s, decoding one token a pass. */
static ttc_session *fresh_like(const slot *s)
{
    ttc_session_options options = s->options;
    options.kernels = "generic";
    options.max_batch = s->options.max_batch == 64 ? 7 : 64;
    options.draft_tokens = 1;
    ttc_session *fresh = NULL;
    check(ttc_session_create(model, &options, &fresh) == TTC_OK);
    return fresh;
}

static void op_recreate(program *p, slot *slots)
{
    slot *s = &slots[next_byte(p) & 1];
    ttc_session_free(s->session);
    create(s, next_byte(p));
}

/* ---- completions ---- */

enum {
    MULTILINE = 1,    /* block mode for an odd max_chars, automatic for an even one */
    NO_MEMORY = 2,
    MEMORY_TEXT = 4,  /* a slice of the document as other text for the memory */
    NO_SUFFIX = 8,    /* the cursor at the end of the file */
    SECOND_SESSION = 16,
    MISUSE = 32,      /* break the request in the way bits 6-7 say */
};

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void check_suggestion(const char *out, size_t length, const ttc_complete_options *o,
                             const char *suffix, size_t suffix_length)
{
    check(length <= (size_t)o->max_chars && out[length] == '\0' && strlen(out) == length);
    int has_text = 0;
    for (size_t i = 0; i < length; i++) {
        const char c = out[i];
        check(c == '\t' || (c == '\n' && o->multiline) || (c >= 32 && c < 127));
        has_text |= !is_blank(c);
    }
    /* more than blanks, and no line end at the end (blanks after the text may stay) */
    check(length == 0 || (has_text && out[length - 1] != '\n'));
    check(length == 0 || suffix_length < length || memcmp(suffix, out, length) != 0);
    check(ttc_retyped_length(out, length, suffix, suffix_length) <= length);
}

static int complete(ttc_session *session, const document *d, const char *suffix,
                    size_t suffix_length, const ttc_complete_options *o, char *out,
                    size_t capacity, size_t *length)
{
    return ttc_session_complete(session, d->text, d->cursor, suffix, suffix_length, o, out,
                                capacity, length);
}

/* A broken request must fail with the status ttc.h gives, and change nothing
 * that later requests could see (they are compared with fresh sessions). */
static void misuse(ttc_session *session, const document *d, ttc_complete_options o,
                   unsigned how)
{
    char out[TTC_MAX_SUGGESTION + 1];
    size_t length, capacity = sizeof out;
    int expected = TTC_ERR_INVALID_ARGUMENT;
    if (how == 0)
        o.max_chars = o.max_chars % 2 ? 0 : TTC_MAX_SUGGESTION + 1;
    else if (how == 1)
        o.min_confidence = o.multiline ? __builtin_nanf("") : -o.min_confidence - 0.5f;
    else if (how == 2) {
        o.memory_text = NULL;
        o.memory_text_length = 1 + d->length;
    } else {
        capacity = (size_t)o.max_chars;
        expected = TTC_ERR_BUFFER_TOO_SMALL;
    }
    check(complete(session, d, d->text + d->cursor, d->length - d->cursor, &o, out, capacity,
                   &length) == expected);
}

static void op_complete(program *p, const document *d, slot *slots)
{
    const unsigned flags = next_byte(p);
    ttc_complete_options o;
    ttc_complete_options_init(&o);
    o.document_memory = !(flags & NO_MEMORY);
    o.max_chars = 1 + (int)next_byte(p);
    if (flags & MULTILINE)
        o.multiline = o.max_chars % 2 ? TTC_MULTILINE_BLOCK : TTC_MULTILINE_AUTO;
    else
        o.multiline = TTC_MULTILINE_OFF;
    o.min_confidence = (float)next_byte(p) / 255.0f;
    if (flags & MEMORY_TEXT) {
        const size_t start = next_position(p, d);
        o.memory_text = d->text + start;
        o.memory_text_length = d->length - start;
    }
    const slot *s = &slots[(flags & SECOND_SESSION) != 0];
    if (flags & MISUSE) {
        misuse(s->session, d, o, flags >> 6);
        return;
    }
    const char *suffix = d->text + d->cursor;
    const size_t suffix_length = flags & NO_SUFFIX ? 0 : d->length - d->cursor;

    char out[TTC_MAX_SUGGESTION + 1], fresh_out[TTC_MAX_SUGGESTION + 1];
    size_t length = 0, fresh_length = 0;
    const uint64_t forwarded = ttc_session_forwarded_tokens(s->session);
    check(complete(s->session, d, suffix, suffix_length, &o, out, sizeof out, &length) ==
          TTC_OK);
    check_suggestion(out, length, &o, suffix, suffix_length);

    ttc_session *fresh = fresh_like(s);
    check(complete(fresh, d, suffix, suffix_length, &o, fresh_out, sizeof fresh_out,
                   &fresh_length) == TTC_OK);
    check(length == fresh_length && memcmp(out, fresh_out, length) == 0);
    /* reuse never runs more tokens than starting afresh (a drafted token run with each
     * token the fresh session runs aside) */
    /* draft_tokens 0: the engine's choice, at most max_batch */
    const int drafts = s->options.draft_tokens ? s->options.draft_tokens : s->options.max_batch;
    check(ttc_session_forwarded_tokens(s->session) - forwarded <=
          ttc_session_forwarded_tokens(fresh) * (uint64_t)drafts);
    ttc_session_free(fresh);
    /* idle time after the request, a few calls of it: what it runs must change no later
     * result */
    size_t run = 1;
    for (int call = 0; call < 3 && run; call++) {
        check(ttc_session_prepare(s->session, d->text, d->cursor, suffix, suffix_length, &o,
                                  (size_t)o.max_chars, &run) == TTC_OK);
        check(run <= (size_t)o.max_chars);
    }
}

/* ---- scoring and logits ---- */

enum { FEATURES = 1, SCORE_MEMORY = 2, SCORE_SECOND_SESSION = 4, TOO_SMALL = 8 };

/* Tokens in text, by the rule ttc.h gives: one per character, "\r\n" one. */
static size_t tokens_in(const char *text, size_t length)
{
    size_t count = 0;
    for (size_t i = 0; i < length; i++) {
        const unsigned char c = (unsigned char)text[i];
        if ((c & 0xC0) == 0x80 || (c == '\r' && i + 1 < length && text[i + 1] == '\n'))
            continue;
        count++;
    }
    return count;
}

static int score(ttc_session *session, unsigned flags, const char *text, size_t length,
                 float *out, size_t capacity, size_t *count)
{
    if (flags & FEATURES)
        return ttc_session_memory_features(session, text, length, out, capacity, count);
    return ttc_session_logprobs(session, text, length, (flags & SCORE_MEMORY) != 0, out,
                                capacity, count);
}

static void check_scores(const float *out, size_t count, unsigned flags)
{
    for (size_t i = 0; i < count; i++) {
        if (!(flags & FEATURES)) {
            check(out[i] <= 0.0f && out[i] > -1000.0f);
            continue;
        }
        const float *f = out + i * TTC_MEMORY_FEATURES;
        check(f[0] >= 0.0f && f[0] <= 1.0f && f[1] >= 0.0f && f[1] <= 1.0f);
        check(f[2] >= 0.0f && f[2] <= 32.0f && (f[2] == 0.0f) == (f[3] == 0.0f));
        check(f[4] > 0.0f && f[4] <= 1.0f && f[5] >= 0.0f && f[5] <= 1.0f);
    }
}

static void op_score(program *p, const document *d, slot *slots)
{
    static float out[SCORED_LIMIT * TTC_MEMORY_FEATURES], fresh_out[sizeof out / sizeof *out];
    const unsigned flags = next_byte(p);
    const size_t start = next_position(p, d), wanted = next_u16(p) % (SCORED_LIMIT + 1);
    const size_t length = wanted < d->length - start ? wanted : d->length - start;
    const char *text = d->text + start;
    const size_t tokens = tokens_in(text, length);
    const slot *s = &slots[(flags & SCORE_SECOND_SESSION) != 0];
    size_t count = 0, fresh_count = 0;
    if ((flags & TOO_SMALL) && tokens > 0) {
        check(score(s->session, flags, text, length, out, tokens - 1, &count) ==
              TTC_ERR_BUFFER_TOO_SMALL);
        return;
    }
    check(score(s->session, flags, text, length, out, SCORED_LIMIT, &count) == TTC_OK);
    check(count == tokens);
    check_scores(out, count, flags);

    ttc_session *fresh = fresh_like(s);
    check(score(fresh, flags, text, length, fresh_out, SCORED_LIMIT, &fresh_count) == TTC_OK);
    ttc_session_free(fresh);
    const size_t floats = flags & FEATURES ? TTC_MEMORY_FEATURES : 1;
    check(memcmp(out, fresh_out, sizeof(float) * floats * count) == 0);
}

static void op_logits(program *p, slot *slots)
{
    static int tokens[256];
    static float out[256 * 128], fresh_out[256 * 128];
    const slot *s = &slots[next_byte(p) & 1];
    const size_t n = 1 + next_byte(p) % window, rows = 1 + next_byte(p) % n;
    for (size_t i = 0; i < n; i++)
        tokens[i] = (int)(next_byte(p) & 127);
    check(ttc_session_logits(s->session, tokens, n, out, rows) == TTC_OK);
    for (size_t i = 0; i < rows * 128; i++)
        check(out[i] - out[i] == 0.0f); /* finite */

    ttc_session *fresh = fresh_like(s);
    check(ttc_session_logits(fresh, tokens, n, fresh_out, rows) == TTC_OK);
    ttc_session_free(fresh);
    check(memcmp(out, fresh_out, sizeof(float) * rows * 128) == 0);
}

static void op_retyped(program *p)
{
    size_t n, m;
    const char *suggestion = next_text(p, next_byte(p) % (PIECE_LIMIT + 1), &n);
    const char *suffix = next_text(p, next_byte(p) % (PIECE_LIMIT + 1), &m);
    size_t line = 0;
    while (line < m && suffix[line] != '\n')
        line++;
    const size_t k = ttc_retyped_length(suggestion, n, suffix, m);
    check(k <= n && k <= line && memcmp(suggestion + n - k, suffix, k) == 0);
}

/* ---- libFuzzer's entry points ---- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FILE *file = fopen(FUZZ_MODEL, "rb");
    static uint8_t bytes[1 << 20];
    const size_t size = file ? fread(bytes, 1, sizeof bytes, file) : 0;
    if (!file || ttc_model_load(bytes, size, &model) != TTC_OK) {
        fprintf(stderr, "fuzz_session: cannot load the model %s\n", FUZZ_MODEL);
        exit(2);
    }
    fclose(file);
    ttc_model_info info;
    ttc_model_get_info(model, &info);
    window = info.window;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[DOCUMENT_LIMIT];
    document d = {.text = text};
    program p = {.data = data, .size = size};
    slot slots[2];
    create(&slots[0], 0x30);
    create(&slots[1], 0x01);
    while (p.at < p.size) {
        switch (next_byte(&p) % OP_COUNT) {
        case OP_TYPE: op_type(&p, &d); break;
        case OP_BACKSPACE: op_backspace(&p, &d); break;
        case OP_REPLACE: op_replace(&p, &d); break;
        case OP_MOVE: d.cursor = next_position(&p, &d); break;
        case OP_PASTE: op_paste(&d); break;
        case OP_COMPLETE: op_complete(&p, &d, slots); break;
        case OP_SCORE: op_score(&p, &d, slots); break;
        case OP_LOGITS: op_logits(&p, slots); break;
        case OP_RECREATE: op_recreate(&p, slots); break;
        case OP_RETYPED: op_retyped(&p); break;
        }
    }
    ttc_session_free(slots[0].session);
    ttc_session_free(slots[1].session);
    return 0;
}
