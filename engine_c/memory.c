/* Document memory: a cache model over the text of the document being completed.
 *
 * The memory holds the document outside the completion point, laid out as
 *     [other documents] SEP [suffix] SEP [prefix] [generated tokens]
 * so that typing at the cursor only appends. Every position whose last three
 * tokens are text is chained to the previous position whose last three tokens
 * hash alike. To predict what follows the end, the newest candidates of that
 * chain are compared backwards with the end; those with the longest match vote
 * with the token that followed them, and the vote is blended into the model's
 * distribution with a weight that grows with the match length and the votes
 * (while decoding, the length of the match's part that the user wrote).
 *
 * Syncing compares the new text with the bytes of the last sync (memcmp, the
 * only work proportional to the document) and re-reads only from the first
 * difference. Truncating undoes appends in reverse order, so after any edits
 * the index equals one built from scratch: reuse stays invisible. */
#include "internal.h"

enum {
    SEPARATOR = TTC_TOKEN_PAD, /* never a text token, never matched */
    SEPARATOR_BYTE = 0,        /* the separator among the stored bytes; text NULs are stored as 1 */
    MIN_ORDER = 3,             /* tokens hashed into the chains */
    MAX_ORDER = 32,            /* longest match measured */
    CANDIDATES = 64,           /* newest chain entries compared per prediction */
    HASH_BITS = 16,
    FIRST_CAPACITY = 4096,
};

const float ttc_memory_default_blend[TTC_MEMORY_BLEND_PARAMS] = {-3.0f, 1.5f, 0.5f, -2.0f, 2.0f};

/* ---- the chained index over the tokens ----------------------------------- */

static uint32_t hash_at(const uint8_t *text, int32_t p)
{
    uint32_t v = (uint32_t)text[p - 2] << 14 | (uint32_t)text[p - 1] << 7 | text[p];
    return (v * 2654435761u) >> (32 - HASH_BITS);
}

static int indexable(const uint8_t *text, int32_t p)
{
    return p >= MIN_ORDER - 1 && text[p] != SEPARATOR && text[p - 1] != SEPARATOR &&
           text[p - 2] != SEPARATOR;
}

int ttc_memory_init(ttc_memory *m, int32_t limit, int32_t spare)
{
    ttc_memset(m, 0, sizeof *m);
    m->limit = limit;
    m->spare = spare;
    m->heads = malloc(sizeof(int32_t) << HASH_BITS);
    if (!m->heads)
        return TTC_ERR_OUT_OF_MEMORY;
    for (int32_t i = 0; i < (1 << HASH_BITS); i++)
        m->heads[i] = -1;
    return TTC_OK;
}

void ttc_memory_free(ttc_memory *m)
{
    free(m->raw);
    free(m->text);
    free(m->previous);
    free(m->heads);
    ttc_memset(m, 0, sizeof *m);
}

size_t ttc_memory_bytes(const ttc_memory *m)
{
    return (sizeof(int32_t) << HASH_BITS) + (size_t)m->capacity * (2 + sizeof(int32_t));
}

/* Room for `needed` tokens (and as many stored bytes): capacity doubles, so
 * growing is rare. */
static int reserve(ttc_memory *m, int32_t needed)
{
    if (needed <= m->capacity)
        return TTC_OK;
    if (needed > m->limit)
        return TTC_ERR_BUFFER_TOO_SMALL;
    int32_t capacity = m->capacity ? m->capacity : FIRST_CAPACITY;
    while (capacity < needed)
        capacity = capacity > m->limit / 2 ? m->limit : capacity * 2;
    uint8_t *raw = malloc((size_t)capacity);
    uint8_t *text = malloc((size_t)capacity);
    int32_t *previous = malloc(sizeof(int32_t) * (size_t)capacity);
    if (!raw || !text || !previous) {
        free(raw);
        free(text);
        free(previous);
        return TTC_ERR_OUT_OF_MEMORY;
    }
    if (m->capacity) {
        ttc_memcpy(raw, m->raw, (size_t)m->raw_length);
        ttc_memcpy(text, m->text, (size_t)m->length);
        ttc_memcpy(previous, m->previous, sizeof(int32_t) * (size_t)m->length);
    }
    free(m->raw);
    free(m->text);
    free(m->previous);
    m->raw = raw;
    m->text = text;
    m->previous = previous;
    m->capacity = capacity;
    return TTC_OK;
}

void ttc_memory_truncate(ttc_memory *m, int32_t length)
{
    while (m->length > length) {
        const int32_t p = --m->length;
        if (indexable(m->text, p))
            m->heads[hash_at(m->text, p)] = m->previous[p];
    }
    if (m->text_tokens > length)
        m->text_tokens = length;
}

/* Appends one token; the caller has reserved room. */
static void push(ttc_memory *m, int token)
{
    const int32_t p = m->length++;
    m->text[p] = (uint8_t)token;
    m->previous[p] = -1;
    if (indexable(m->text, p)) {
        const uint32_t h = hash_at(m->text, p);
        m->previous[p] = m->heads[h];
        m->heads[h] = p;
    }
}

int ttc_memory_append(ttc_memory *m, int token)
{
    int status = reserve(m, m->length + 1);
    if (status == TTC_OK)
        push(m, token);
    return status;
}

void ttc_memory_clear(ttc_memory *m)
{
    ttc_memory_truncate(m, 0);
    m->raw_length = 0;
    m->n_pieces = 0;
}

/* ---- syncing with the document ------------------------------------------- */

/* Whether stored byte q starts a token: not a UTF-8 continuation byte and not
 * the '\r' of a "\r\n" (text.c reads the pair as one '\n'). */
static int starts_token(const uint8_t *raw, int32_t q, int32_t end)
{
    if (ttc_is_continuation(raw[q]))
        return 0;
    return !(raw[q] == '\r' && q + 1 < end && raw[q + 1] == '\n');
}

static int token_of_stored(uint8_t byte)
{
    return byte == SEPARATOR_BYTE ? SEPARATOR : ttc_token_of_byte(byte);
}

/* The first of n bytes where `bytes` differs from what is stored (a text NUL
 * is stored as 1), or n when none does. */
static size_t first_difference(const uint8_t *stored, const uint8_t *bytes, size_t n)
{
    size_t i = 0;
    while (i < n) {
        const size_t end = n - i < 4096 ? n : i + 4096;
        if (__builtin_memcmp(stored + i, bytes + i, end - i) == 0) {
            i = end;
            continue;
        }
        for (; i < end; i++)
            if (stored[i] != (bytes[i] ? bytes[i] : 1))
                return i;
    }
    return n;
}

/* Stores bytes[0..n) at raw[at..], text NULs as 1. */
static void store(uint8_t *raw, int32_t at, const uint8_t *bytes, size_t n)
{
    if (n == 0)
        return; /* bytes may be NULL */
    ttc_memcpy(raw + at, bytes, n);
    for (size_t i = 0; i < n; i++)
        raw[at + (int32_t)i] += raw[at + (int32_t)i] == 0;
}

int ttc_memory_sync(ttc_memory *m, const ttc_memory_piece *pieces, int n_pieces)
{
    if (n_pieces < 1 || n_pieces > TTC_MEMORY_MAX_PIECES)
        return TTC_ERR_INVALID_ARGUMENT;
    int64_t total = n_pieces - 1;
    for (int i = 0; i < n_pieces; i++)
        total += (int64_t)pieces[i].length;
    if (total + m->spare > m->limit)
        return TTC_ERR_INVALID_ARGUMENT;

    /* Where the new bytes first differ from the stored ones. */
    int32_t differ = 0;
    int same = n_pieces == m->n_pieces;
    for (int i = 0; i < n_pieces && same; i++) {
        const size_t n = pieces[i].length < m->piece_lengths[i] ? pieces[i].length
                                                                : m->piece_lengths[i];
        const size_t d = first_difference(m->raw + differ, (const uint8_t *)pieces[i].text, n);
        differ += (int32_t)d;
        same = d == n && pieces[i].length == m->piece_lengths[i];
        if (same && i + 1 < n_pieces)
            differ++; /* the separator */
    }
    if (same) {
        ttc_memory_truncate(m, m->text_tokens); /* drop what decoding appended */
        return TTC_OK;
    }

    /* Drop the tokens that start at or after the difference, and the one
     * before it: it may read differently now ("\r" then "\n", a cut character). */
    int32_t keep = m->text_tokens, from = m->raw_length;
    while (from > differ) {
        from--;
        keep -= starts_token(m->raw, from, m->raw_length);
    }
    while (from > 0) {
        from--;
        if (starts_token(m->raw, from, m->raw_length)) {
            keep--;
            break;
        }
    }
    ttc_memory_truncate(m, keep);
    int status = reserve(m, (int32_t)total + m->spare);
    if (status != TTC_OK) {
        ttc_memory_clear(m);
        return status;
    }

    /* Store the new bytes from `from` on, then read their tokens. */
    int32_t start = 0;
    for (int i = 0; i < n_pieces; i++) {
        const int32_t length = (int32_t)pieces[i].length, end = start + length;
        if (end > from) {
            const int32_t skip = from > start ? from - start : 0;
            store(m->raw, start + skip, (const uint8_t *)pieces[i].text + skip,
                  (size_t)(length - skip));
        }
        if (i + 1 < n_pieces && end >= from)
            m->raw[end] = SEPARATOR_BYTE;
        m->piece_lengths[i] = pieces[i].length;
        start = end + 1;
    }
    m->raw_length = start - 1;
    m->n_pieces = n_pieces;
    for (int32_t q = from; q < m->raw_length; q++)
        if (starts_token(m->raw, q, m->raw_length))
            push(m, token_of_stored(m->raw[q]));
    m->text_tokens = m->length;
    return TTC_OK;
}

/* ---- prediction and blending ------------------------------------------------ */

/* How many tokens up to a and up to b (inclusive) agree, at most MAX_ORDER. */
static int match_length(const uint8_t *text, int32_t a, int32_t b)
{
    int n = 0;
    while (n < MAX_ORDER && a - n >= 0 && text[a - n] == text[b - n] &&
           text[a - n] != SEPARATOR)
        n++;
    return n;
}

void ttc_memory_predict(const ttc_memory *m, int suggested, ttc_memory_prediction *out)
{
    ttc_memset(out, 0, sizeof *out);
    out->continuation = -1;
    const int32_t end = m->length - 1;
    if (end < 0 || !indexable(m->text, end))
        return;
    /* The end itself heads its chain: the candidates are the older entries. */
    int seen = 0;
    for (int32_t p = m->previous[end]; p >= 0 && seen < CANDIDATES; p = m->previous[p], seen++) {
        const int next = m->text[p + 1];
        if (next == SEPARATOR)
            continue;
        const int length = match_length(m->text, p, end);
        if (length < MIN_ORDER || length < out->match_length)
            continue;
        if (length > out->match_length) {
            out->match_length = length;
            out->votes = 0;
            ttc_memset(out->counts, 0, sizeof out->counts);
            out->continuation = p + 1; /* the chain runs newest first */
        }
        out->counts[next]++;
        out->votes++;
    }
    /* A suggestion that copies an earlier occurrence matches it ever longer,
     * but only the part the user wrote is evidence that the copy is right. */
    if (out->votes)
        out->match_length = out->match_length > suggested ? out->match_length - suggested : 1;
}

int ttc_memory_continuation(const ttc_memory *m, int32_t from, int *out, int max)
{
    int n = 0;
    while (n < max && from + n < m->length && m->text[from + n] != SEPARATOR) {
        out[n] = m->text[from + n];
        n++;
    }
    return n;
}

float ttc_memory_weight(const ttc_memory_prediction *prediction, float model_top,
                        const float *params)
{
    if (prediction->votes == 0)
        return 0.0f;
    int top_votes = 0;
    for (int t = 0; t < TTC_MEMORY_VOCAB; t++)
        top_votes = prediction->counts[t] > top_votes ? prediction->counts[t] : top_votes;
    const float x = params[0] + params[1] * (float)ttc_log((double)prediction->match_length) +
                    params[2] * (float)ttc_log((double)prediction->votes) +
                    params[3] * model_top +
                    params[4] * (float)top_votes / (float)prediction->votes;
    return 1.0f / (1.0f + ttc_expf(-x));
}

void ttc_memory_blend(const ttc_memory_prediction *prediction, const float *params,
                      float *probabilities, int vocab)
{
    float model_top = 0.0f;
    for (int t = 0; t < vocab; t++)
        model_top = probabilities[t] > model_top ? probabilities[t] : model_top;
    const float weight = ttc_memory_weight(prediction, model_top, params);
    if (weight == 0.0f)
        return;
    const float share = weight / (float)prediction->votes;
    for (int t = 0; t < vocab; t++)
        probabilities[t] = (1.0f - weight) * probabilities[t] +
                           (t < TTC_MEMORY_VOCAB ? share * (float)prediction->counts[t] : 0.0f);
}
