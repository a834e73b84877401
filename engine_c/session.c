/* Sessions: the per-document state, the prompt layout (docs/DESIGN.md, "Prompt layout"),
 * reuse of what was already run, and greedy decoding with its stop rules. */
#include "internal.h"

/* ---- creation ----------------------------------------------------------- */

void ttc_session_options_init(ttc_session_options *options)
{
    options->kv_precision = TTC_KV_INT8;
    options->kernels = NULL;
    options->max_batch = 64;
    options->draft_tokens = 0;
}

void ttc_complete_options_init(ttc_complete_options *options)
{
    options->multiline = TTC_MULTILINE_AUTO;
    options->max_chars = 64;
    options->min_confidence = 0.65f;
    options->document_memory = 1;
    options->memory_text = NULL;
    options->memory_text_length = 0;
}

/* The memory's pieces: other text, suffix and prefix, their separators, and
 * room for a suggestion; logprobs scores up to the prefix's share alone. */
enum {
    MEMORY_SPARE = TTC_MAX_SUGGESTION,
    MEMORY_LIMIT = TTC_MEMORY_TEXT_BYTES + TTC_MEMORY_SUFFIX_BYTES + TTC_MEMORY_PREFIX_BYTES +
                   TTC_MEMORY_MAX_PIECES + MEMORY_SPARE,
};

/* Zeroed: the memory is resident from the start, as ttc_session_memory counts
 * it (a process watching its memory sees it once, not page by page as a cache
 * fills), and no byte a kernel reads past the cached positions (the packed
 * scores kernel reads whole blocks) is uninitialised. */
static void *allocate(ttc_session *s, size_t count, size_t size, int *failed)
{
    void *p = malloc(count * size);
    if (!p) {
        *failed = 1;
        return NULL;
    }
    ttc_memset(p, 0, count * size);
    s->memory_bytes += count * size;
    return p;
}

/* A cache of the session's precision for the whole window, the tokens that
 * made it and their logits. */
static void allocate_state(ttc_session *s, ttc_state *state, int *failed)
{
    const ttc_model *m = s->model;
    const size_t window = (size_t)m->info.window;
    const size_t cache = (size_t)m->info.n_layers * window * (size_t)m->kv_dim;
    const size_t cache_scales = (size_t)m->info.n_layers * m->info.n_kv_heads * window;
    const size_t value_cache = (size_t)m->info.n_layers * m->info.n_kv_heads *
                               ttc_value_cache_positions(m->info.window) * (size_t)m->head_dim;
    ttc_kv_cache *c = &state->cache;
    if (c->precision == TTC_KV_F32) {
        c->keys_f32 = allocate(s, cache, sizeof(float), failed);
        c->values_f32 = allocate(s, cache, sizeof(float), failed);
    } else {
        c->keys_q8 = allocate(s, cache, 1, failed);
        c->values_q8 = allocate(s, value_cache, 1, failed);
        c->key_scales = allocate(s, cache_scales, sizeof(float), failed);
        c->value_scales = allocate(s, cache_scales, sizeof(float), failed);
    }
    if (c->precision == TTC_KV_INT8 && s->kernels->pack_key) {
        c->packed_key_bytes = s->kernels->packed_keys_size(m->info.window, m->head_dim);
        const size_t copies = (size_t)m->info.n_layers * m->info.n_kv_heads;
        c->keys_packed = allocate(s, copies, c->packed_key_bytes, failed);
        c->keys_packed_by = s->kernels->pack_key;
    }
    state->tokens = allocate(s, window, sizeof(int), failed);
    state->logits = allocate(s, window * (size_t)m->info.vocab_size, sizeof(float), failed);
}

static void free_state(ttc_state *state)
{
    void *buffers[] = {
        state->cache.keys_q8, state->cache.values_q8, state->cache.key_scales,
        state->cache.value_scales, state->cache.keys_f32, state->cache.values_f32,
        state->cache.keys_packed, state->tokens, state->logits,
    };
    for (size_t i = 0; i < sizeof buffers / sizeof *buffers; i++)
        free(buffers[i]);
}

static int allocate_buffers(ttc_session *s)
{
    const ttc_model *m = s->model;
    const size_t batch = (size_t)s->max_batch, window = (size_t)m->info.window;
    const size_t dim = (size_t)m->info.dim, hidden = (size_t)m->info.hidden_dim;
    const size_t kv_dim = (size_t)m->kv_dim, widest = hidden > dim ? hidden : dim;
    int failed = 0;
    ttc_scratch *x = &s->scratch;

    allocate_state(s, &s->state, &failed);
    x->x = allocate(s, batch * dim, sizeof(float), &failed);
    x->normed = allocate(s, batch * dim, sizeof(float), &failed);
    x->q = allocate(s, batch * dim, sizeof(float), &failed);
    x->k = allocate(s, batch * kv_dim, sizeof(float), &failed);
    x->v = allocate(s, batch * kv_dim, sizeof(float), &failed);
    x->attention = allocate(s, batch * dim, sizeof(float), &failed);
    x->gate = allocate(s, batch * hidden, sizeof(float), &failed);
    x->up = allocate(s, batch * hidden, sizeof(float), &failed);
    x->scores = allocate(s, TTC_ATTENTION_QUERIES * window, sizeof(float), &failed);
    x->xq = allocate(s, batch * widest, 1, &failed);
    x->xs = allocate(s, batch * widest / (size_t)m->info.group_size, sizeof(float), &failed);
    x->head_q = allocate(s, TTC_ATTENTION_QUERIES * (size_t)m->head_dim, 1, &failed);
    s->prompt = allocate(s, window, sizeof(int), &failed);
    s->probabilities = allocate(s, (size_t)m->info.vocab_size, sizeof(float), &failed);
    if (!failed && ttc_memory_init(&s->memory, MEMORY_LIMIT, MEMORY_SPARE) != TTC_OK)
        failed = 1;
    return failed ? TTC_ERR_OUT_OF_MEMORY : TTC_OK;
}

ttc_status ttc_session_create(const ttc_model *model,
                              const ttc_session_options *options, ttc_session **out)
{
    if (!out)
        return TTC_ERR_INVALID_ARGUMENT;
    *out = NULL;
    ttc_session_options defaults;
    ttc_session_options_init(&defaults);
    if (!options)
        options = &defaults;
    if (!model || options->max_batch < 1 || options->max_batch > 4096 ||
        options->draft_tokens < 0 || options->draft_tokens > options->max_batch ||
        (options->kv_precision != TTC_KV_INT8 && options->kv_precision != TTC_KV_F32))
        return TTC_ERR_INVALID_ARGUMENT;
    const ttc_kernels *kernels =
        options->kernels ? ttc_kernels_by_name(options->kernels) : ttc_kernels_best();
    if (!kernels)
        return TTC_ERR_UNSUPPORTED;

    ttc_session *s = malloc(sizeof *s);
    if (!s)
        return TTC_ERR_OUT_OF_MEMORY;
    ttc_memset(s, 0, sizeof *s);
    s->model = model;
    s->kernels = kernels;
    s->max_batch = options->max_batch;
    s->draft_tokens = options->draft_tokens;
    if (s->draft_tokens == 0)
        s->draft_tokens =
            kernels->draft_tokens > 1 ? ttc_min_int(kernels->draft_tokens, options->max_batch) : 1;
    s->state.cache.precision = options->kv_precision;
    for (int i = 0; i < TTC_SPARE_STATES; i++)
        s->spares[i].cache.precision = options->kv_precision;
    if (allocate_buffers(s) != TTC_OK) {
        ttc_session_free(s);
        return TTC_ERR_OUT_OF_MEMORY;
    }
    *out = s;
    return TTC_OK;
}

void ttc_session_free(ttc_session *s)
{
    if (!s)
        return;
    free_state(&s->state);
    for (int i = 0; i < TTC_SPARE_STATES; i++)
        free_state(&s->spares[i]);
    void *buffers[] = {
        s->scratch.x, s->scratch.normed, s->scratch.q, s->scratch.k, s->scratch.v,
        s->scratch.attention, s->scratch.gate, s->scratch.up, s->scratch.scores,
        s->scratch.xq, s->scratch.xs, s->scratch.head_q, s->prompt, s->probabilities,
        s->typed,
    };
    for (size_t i = 0; i < sizeof buffers / sizeof *buffers; i++)
        free(buffers[i]);
    ttc_memory_free(&s->memory);
    free(s);
}

size_t ttc_session_memory(const ttc_session *s)
{
    return s ? s->memory_bytes + sizeof *s + ttc_memory_bytes(&s->memory) + s->typed_capacity
             : 0;
}

uint64_t ttc_session_forwarded_tokens(const ttc_session *s)
{
    return s ? s->forwarded_tokens : 0;
}

const char *ttc_session_kernels(const ttc_session *s)
{
    return s ? s->kernels->name : NULL;
}

/* ---- running tokens, reusing the cache ---------------------------------- */

static int common_length(const ttc_state *state, const int *tokens, int n)
{
    int common = 0;
    while (common < n && common < state->n_tokens && state->tokens[common] == tokens[common])
        common++;
    return common;
}

/* Runs tokens[common..end) in s->state, which holds tokens[0..common). Tokens
 * it held beyond end stay when there is nothing to run: they are what decoding
 * generated last time and may be generated again for free. */
static void extend(ttc_session *s, const int *tokens, int common, int end)
{
    if (common == end)
        return;
    ttc_memcpy(s->state.tokens + common, tokens + common, sizeof(int) * (size_t)(end - common));
    ttc_forward(s, tokens + common, end - common, common);
    s->state.n_tokens = end;
}

static void swap_states(ttc_session *s, int spare)
{
    const ttc_state held = s->state;
    s->state = s->spares[spare];
    s->spares[spare] = held;
}

/* Makes s->state hold tokens[0..n) (n <= window), from whichever of it and the
 * spare states holds most of them, running only what differs. */
static void feed(ttc_session *s, const int *tokens, int n)
{
    int common = common_length(&s->state, tokens, n);
    for (int i = 0; i < TTC_SPARE_STATES && common < n; i++) {
        const int held = common_length(&s->spares[i], tokens, n); /* 0 until allocated */
        if (held > common) {
            swap_states(s, i);
            common = held;
        }
    }
    extend(s, tokens, common, n);
}

/* Appends the generated token at position pos, for free when the cache already holds
 * it; else runs it in one pass with up to `room` - 1 drafted tokens after it: what
 * followed it where the memory last saw the same text (`memory`, NULL when off), up to
 * the end of its line when `one_line` (decoding never runs a line end then). A
 * drafted token the decoding then picks costs nothing more; one it does not pick is
 * run again like any other (the cache keeps what the tokens before a position make, so
 * what a wrong draft left there is never read), and suggestions stay what decoding one
 * token a pass gives, bit for bit (forward.c: batching changes no result). */
static void feed_generated(ttc_session *s, int token, int pos, int room,
                           const ttc_memory_prediction *memory, int one_line)
{
    if (pos < s->state.n_tokens && s->state.tokens[pos] == token)
        return;
    int *batch = s->state.tokens + pos, n = 1;
    batch[0] = token;
    int32_t next = memory ? memory->continuation : -1;
    if (next >= 0 && next < s->memory.length && s->memory.text[next] == token) {
        int limit = room < s->draft_tokens ? room : s->draft_tokens;
        int drafted = ttc_memory_continuation(&s->memory, next + 1, batch + 1, limit - 1);
        for (int i = 0; i < drafted && !(one_line && batch[1 + i] == '\n'); i++)
            n++;
    }
    ttc_forward(s, batch, n, pos);
    s->state.n_tokens = pos + n;
}

static float log_sum_exp(const float *logits, int n)
{
    float max = logits[0];
    for (int i = 1; i < n; i++)
        max = logits[i] > max ? logits[i] : max;
    float sum = 0.0f;
    for (int i = 0; i < n; i++)
        sum += ttc_expf(logits[i] - max);
    return max + (float)ttc_log((double)sum);
}

/* probabilities = softmax(logits), blended with the document memory when
 * use_memory; the memory's last `suggested` tokens are the suggestion so far.
 * The memory's prediction goes to *prediction when it is not NULL. */
static void next_distribution(ttc_session *s, const float *logits, int use_memory,
                              int suggested, ttc_memory_prediction *prediction)
{
    const int vocab = s->model->info.vocab_size;
    const float normaliser = log_sum_exp(logits, vocab);
    for (int t = 0; t < vocab; t++)
        s->probabilities[t] = ttc_expf(logits[t] - normaliser);
    if (use_memory) {
        ttc_memory_prediction own;
        if (!prediction)
            prediction = &own;
        ttc_memory_predict(&s->memory, suggested, prediction);
        ttc_memory_blend(prediction, s->model->memory_blend, s->probabilities, vocab);
    }
}

/* ---- the prompt --------------------------------------------------------- */

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int has_text(const char *text, size_t length)
{
    for (size_t i = 0; i < length; i++)
        if (!is_blank(text[i]))
            return 1;
    return 0;
}

/* Lays out the prompt in s->prompt and returns its length. With text after the
 * cursor: PRE SUF suffix MID prefix (SPM order, so typing at the cursor only
 * appends) when the suffix's first window/8 bytes, all of it that is kept,
 * hold more than whitespace; otherwise BOS prefix.
 * the prefix keeps its end, starting at a multiple of window/4 bytes so that
 * the start moves rarely as the document grows. Room for a full suggestion is
 * always left. Every count here is in bytes, which bound the tokens.
 * With `ahead`, the prompt once the start moves on, when that is within
 * window/16 more bytes of prefix (else no prompt: 0). */
static int build_prompt(ttc_session *s, const char *prefix, size_t prefix_length,
                        const char *suffix, size_t suffix_length, int ahead)
{
    const size_t window = (size_t)s->model->info.window;
    const size_t suggestion_room = window / 8 < TTC_MAX_SUGGESTION ? window / 8
                                                                   : TTC_MAX_SUGGESTION;
    const size_t step = window / 4;
    int *prompt = s->prompt;
    size_t n = 0;

    const size_t kept = suffix_length < window / 8 ? suffix_length : window / 8;
    if (has_text(suffix, kept)) {
        prompt[n++] = TTC_TOKEN_FIM_PREFIX;
        prompt[n++] = TTC_TOKEN_FIM_SUFFIX;
        n += ttc_text_to_tokens(suffix, kept, prompt + n, kept);
        prompt[n++] = TTC_TOKEN_FIM_MIDDLE;
    } else {
        prompt[n++] = TTC_TOKEN_BOS;
    }
    const size_t budget = window - suggestion_room - n;
    size_t start = 0;
    if (prefix_length > budget)
        start = (prefix_length - budget + step - 1) / step * step;
    if (ahead) {
        /* the start moves once the prefix outgrows start + budget */
        if (start + budget - prefix_length >= window / 16)
            return 0;
        start += step;
    }
    n += ttc_text_to_tokens(prefix + start, prefix_length - start, prompt + n,
                            prefix_length - start);
    return (int)n;
}

/* ---- decoding ------------------------------------------------------------ */

typedef struct {
    char *text;
    int length;
    int depth;          /* bracket depth relative to the cursor */
    int base_indent;    /* indentation of the block, -1 until known */
    int line_start;     /* where the current suggestion line starts, after a newline */
    int in_indent;      /* still inside the leading whitespace of a later line */
    int indent;         /* width of that whitespace so far */
} suggestion;

enum { KEEP_GOING, STOP_BEFORE, STOP_AT_LINE_START };

static int is_suggestable(int token)
{
    return token == '\t' || token == '\n' || (token >= 32 && token <= 126);
}

static int is_stop_token(int token)
{
    return token == TTC_TOKEN_EOS || token == TTC_TOKEN_FIM_END;
}

/* The most likely token that may be suggested or that ends the suggestion. */
static int pick_token(const float *logits, int vocab)
{
    int best = -1;
    for (int t = 0; t < vocab; t++)
        if ((is_suggestable(t) || is_stop_token(t)) && (best < 0 || logits[t] > logits[best]))
            best = t;
    return best;
}

/* The block starts at the cursor's line: its indentation is the base, unless
 * that line is still blank, when the first suggested line sets it. */
static void start_block(suggestion *g, const char *prefix, size_t length)
{
    size_t line = length;
    while (line > 0 && prefix[line - 1] != '\n')
        line--;
    int indent = 0;
    while (line + (size_t)indent < length &&
           (prefix[line + indent] == ' ' || prefix[line + indent] == '\t'))
        indent++;
    int blank = line + (size_t)indent == length;
    g->base_indent = blank ? -1 : indent;
    g->in_indent = blank;
    g->indent = indent;
}

/* Multi-line mode: the block ends at a bracket that closes one opened before
 * the cursor, or at a later line indented less than the cursor's line. */
static int block_rule(suggestion *g, int c)
{
    if (c == '(' || c == '[' || c == '{')
        g->depth++;
    if (c == ')' || c == ']' || c == '}') {
        if (--g->depth < 0)
            return STOP_BEFORE;
    }
    if (c == '\n') {
        g->line_start = g->length + 1;
        g->in_indent = 1;
        g->indent = 0;
    } else if (g->in_indent && (c == ' ' || c == '\t')) {
        g->indent++;
    } else if (g->in_indent) {
        g->in_indent = 0;
        if (g->base_indent < 0)
            g->base_indent = g->indent; /* the cursor was on a blank line */
        else if (g->indent < g->base_indent)
            return STOP_AT_LINE_START;
    }
    return KEEP_GOING;
}

static int check_options(const ttc_complete_options *o)
{
    if (o->multiline < TTC_MULTILINE_OFF || o->multiline > TTC_MULTILINE_AUTO)
        return TTC_ERR_INVALID_ARGUMENT;
    if (o->max_chars < 1 || o->max_chars > TTC_MAX_SUGGESTION)
        return TTC_ERR_INVALID_ARGUMENT;
    if (!(o->min_confidence >= 0.0f && o->min_confidence <= 1.0f))
        return TTC_ERR_INVALID_ARGUMENT;
    if (o->memory_text_length && !o->memory_text)
        return TTC_ERR_INVALID_ARGUMENT;
    return TTC_OK;
}

/* Greedy decoding: the suggestion ends where the product of its characters'
 * probabilities would fall below min_confidence. With `features`, it runs to the
 * end of its line (or block) instead and writes what a stop rule could know at
 * each character there (ttc_session_stop_features). Runs at most `budget`
 * tokens: idle work stops there, unfinished, and goes on at its next call. */
static void decode(ttc_session *s, int pos, const ttc_complete_options *o, suggestion *g,
                   ttc_stop_context *context, float *features, int budget)
{
    const int vocab = s->model->info.vocab_size, window = s->model->info.window;
    const uint64_t limit = s->forwarded_tokens + (uint64_t)budget;
    float confidence = 1.0f;
    while (g->length < o->max_chars) {
        ttc_memory_prediction prediction;
        next_distribution(s, s->state.logits + (size_t)(pos - 1) * vocab, o->document_memory,
                          g->length, &prediction);
        int token = pick_token(s->probabilities, vocab);
        confidence *= s->probabilities[token];
        if ((confidence < o->min_confidence && !features) || is_stop_token(token))
            break;
        if (token == '\n' && !o->multiline)
            break;
        if (o->multiline) {
            int rule = block_rule(g, token);
            if (rule == STOP_AT_LINE_START)
                g->length = g->line_start > 0 ? g->line_start - 1 : 0;
            if (rule != KEEP_GOING)
                break;
        }
        if (features) {
            ttc_stop_features(context, s->probabilities, vocab, token,
                              o->document_memory ? &prediction : NULL,
                              features + (size_t)g->length * TTC_STOP_FEATURES);
            ttc_stop_context_advance(context, token, s->probabilities[token]);
        }
        g->text[g->length++] = (char)token;
        if (pos >= window || s->forwarded_tokens == limit)
            break;
        /* tokens the suggestion may still feed, this one included */
        int room = o->max_chars - g->length + 1 < window - pos
                       ? o->max_chars - g->length + 1 : window - pos;
        room = (uint64_t)room < limit - s->forwarded_tokens ? room
                                                            : (int)(limit - s->forwarded_tokens);
        feed_generated(s, token, pos++, room, o->document_memory ? &prediction : NULL,
                       !o->multiline);
        if (o->document_memory)
            ttc_memory_append(&s->memory, token); /* never allocates: the sync kept room */
    }
}

/* Makes the memory hold [memory_text] SEP [suffix] SEP [prefix], each cut to
 * its share (ttc.h); the prefix's start moves in steps of a quarter share. */
static int sync_memory(ttc_session *s, const char *prefix, size_t prefix_length,
                       const char *suffix, size_t suffix_length, const ttc_complete_options *o)
{
    const size_t step = TTC_MEMORY_PREFIX_BYTES / 4;
    size_t start = 0;
    if (prefix_length > TTC_MEMORY_PREFIX_BYTES)
        start = (prefix_length - TTC_MEMORY_PREFIX_BYTES + step - 1) / step * step;
    const ttc_memory_piece pieces[TTC_MEMORY_MAX_PIECES] = {
        {o->memory_text, o->memory_text_length < TTC_MEMORY_TEXT_BYTES
                             ? o->memory_text_length : TTC_MEMORY_TEXT_BYTES},
        {suffix, suffix_length < TTC_MEMORY_SUFFIX_BYTES ? suffix_length
                                                         : TTC_MEMORY_SUFFIX_BYTES},
        {prefix + start, prefix_length - start},
    };
    return ttc_memory_sync(&s->memory, pieces, TTC_MEMORY_MAX_PIECES);
}

static int starts_with(const char *text, size_t length, const char *head, size_t head_length)
{
    if (head_length > length)
        return 0;
    for (size_t i = 0; i < head_length; i++)
        if (text[i] != head[i])
            return 0;
    return 1;
}

size_t ttc_retyped_length(const char *suggestion, size_t suggestion_length,
                          const char *suffix, size_t suffix_length)
{
    if (!suggestion || !suffix)
        return 0;
    size_t line = 0; /* a '\r' before the newline never matches: suggestions have none */
    while (line < suffix_length && line < suggestion_length && suffix[line] != '\n')
        line++;
    for (size_t k = line; k > 0; k--)
        if (starts_with(suggestion + suggestion_length - k, k, suffix, k))
            return k;
    return 0;
}

/* Whether the cursor sits right after a block opener (TTC_MULTILINE_AUTO, ttc.h). */
static int opens_block(const char *prefix, size_t prefix_length, const char *suffix,
                       size_t suffix_length)
{
    size_t line = 0;
    while (line < suffix_length && suffix[line] != '\n')
        line++;
    if (has_text(suffix, line))
        return 0;
    size_t end = prefix_length;
    while (end > 0 && is_blank(prefix[end - 1]))
        end--;
    return end > 0 && (prefix[end - 1] == ':' || prefix[end - 1] == '{');
}

/* ---- brackets and quotes ------------------------------------------------ */

/* Lines longer than this, or nested deeper, are left as they are (minified code). */
enum { BALANCE_MAX_LINE = 4096, BALANCE_MAX_DEPTH = 128 };

typedef struct {
    char open[BALANCE_MAX_DEPTH]; /* the brackets open so far, innermost last */
    int depth;
    char quote;                   /* the quote of the string literal we are in, or 0 */
    int broken;                   /* a closing bracket that closes nothing, or too deep */
} bracket_scan;

static char opening_of(char c)
{
    return c == ')' ? '(' : c == ']' ? '[' : c == '}' ? '{' : 0;
}

static void scan_brackets(bracket_scan *b, const char *text, size_t length)
{
    for (size_t i = 0; i < length && !b->broken; i++) {
        const char c = text[i];
        if (b->quote) {
            if (c == '\\')
                i++;
            else if (c == b->quote)
                b->quote = 0;
        } else if (c == '"' || c == '\'' || c == '`') {
            b->quote = c;
        } else if (c == '(' || c == '[' || c == '{') {
            if (b->depth == BALANCE_MAX_DEPTH)
                b->broken = 1;
            else
                b->open[b->depth++] = c;
        } else if (opening_of(c)) {
            if (b->depth == 0 || b->open[b->depth - 1] != opening_of(c))
                b->broken = 1;
            else
                b->depth--;
        }
    }
}

static int is_balanced(const bracket_scan *b)
{
    return !b->broken && b->depth == 0 && !b->quote;
}

/* The longest start of the suggestion that, accepted (replacing what it types again),
 * leaves the cursor's line balanced: brackets matched and string literals closed.
 * Only where the line was balanced and goes on after the cursor; elsewhere the
 * whole suggestion. */
static size_t balanced_length(const char *prefix, size_t prefix_length, const char *suffix,
                              size_t suffix_length, const char *suggestion, size_t length)
{
    size_t line = prefix_length, after = 0;
    while (line > 0 && prefix[line - 1] != '\n')
        line--;
    while (after < suffix_length && suffix[after] != '\n')
        after++;
    if (after > 0 && suffix[after - 1] == '\r')
        after--;
    if (prefix_length - line > BALANCE_MAX_LINE || after > BALANCE_MAX_LINE ||
        !has_text(suffix, after))
        return length;
    bracket_scan before = {.depth = 0}, whole;
    scan_brackets(&before, prefix + line, prefix_length - line);
    whole = before;
    scan_brackets(&whole, suffix, after);
    if (!is_balanced(&whole))
        return length;
    for (size_t n = length; n > 0; n--) {
        bracket_scan accepted = before;
        const size_t retyped = ttc_retyped_length(suggestion, n, suffix, after);
        scan_brackets(&accepted, suggestion, n);
        scan_brackets(&accepted, suffix + retyped, after - retyped);
        if (is_balanced(&accepted))
            return n;
    }
    return 0;
}

/* How much of a decoded suggestion is shown: up to its last character that is not
 * blank, and the spaces and tabs right after it (accepting "return " saves typing the
 * space too), but no line end or blank line after it; nothing when that is no more
 * than blanks or a lone closing bracket, which would save nothing. */
static int shown_length(const char *text, int length)
{
    int last = length;
    while (last > 0 && is_blank(text[last - 1]))
        last--;
    if (last == 0 || (last == 1 && opening_of(text[0])))
        return 0;
    while (last < length && (text[last] == ' ' || text[last] == '\t'))
        last++;
    return last;
}

/* Syncs the document memory with a request whose options are checked, and
 * makes their multiline choice: *chosen is what decoding follows. */
static int start_request(ttc_session *s, const char *prefix, size_t prefix_length,
                         const char *suffix, size_t suffix_length,
                         const ttc_complete_options *options, ttc_complete_options *chosen)
{
    *chosen = *options;
    if (chosen->document_memory) {
        const int status = sync_memory(s, prefix, prefix_length, suffix, suffix_length, chosen);
        if (status != TTC_OK)
            return status;
    }
    if (chosen->multiline == TTC_MULTILINE_AUTO)
        chosen->multiline = opens_block(prefix, prefix_length, suffix, suffix_length)
                                ? TTC_MULTILINE_BLOCK : TTC_MULTILINE_OFF;
    return TTC_OK;
}

static ttc_status complete(ttc_session *s, const char *prefix, size_t prefix_length,
                           const char *suffix, size_t suffix_length,
                           const ttc_complete_options *options, char *out, size_t out_capacity,
                           size_t *out_length, float *features)
{
    ttc_complete_options defaults;
    ttc_complete_options_init(&defaults);
    if (!options)
        options = &defaults;
    if (!s || !out || !out_length || (!prefix && prefix_length) || (!suffix && suffix_length))
        return TTC_ERR_INVALID_ARGUMENT;
    int status = check_options(options);
    if (status != TTC_OK)
        return status;
    if (out_capacity < (size_t)options->max_chars + 1)
        return TTC_ERR_BUFFER_TOO_SMALL;
    ttc_complete_options chosen;
    status = start_request(s, prefix, prefix_length, suffix, suffix_length, options, &chosen);
    if (status != TTC_OK)
        return status;

    int n = build_prompt(s, prefix, prefix_length, suffix, suffix_length, 0);
    feed(s, s->prompt, n);
    suggestion g = {.text = out};
    start_block(&g, prefix, prefix_length);
    ttc_stop_context context;
    if (features)
        ttc_stop_context_init(&context, prefix, prefix_length);
    decode(s, n, &chosen, &g, &context, features, __INT_MAX__);

    if (!features) {
        g.length = (int)balanced_length(prefix, prefix_length, suffix, suffix_length, out,
                                        (size_t)g.length);
        g.length = shown_length(out, g.length);
        if (starts_with(suffix, suffix_length, out, (size_t)g.length))
            g.length = 0; /* it only repeats what follows the cursor */
    }
    out[g.length] = '\0';
    *out_length = (size_t)g.length;
    return TTC_OK;
}

ttc_status ttc_session_complete(ttc_session *s, const char *prefix,
                                size_t prefix_length, const char *suffix, size_t suffix_length,
                                const ttc_complete_options *options, char *out,
                                size_t out_capacity, size_t *out_length)
{
    return complete(s, prefix, prefix_length, suffix, suffix_length, options, out,
                    out_capacity, out_length, NULL);
}

/* ---- idle work ------------------------------------------------------------ */

/* Runs up to budget tokens of tokens[0..n) in spare state `spare`, allocating
 * it when there is anything to run. */
static ttc_status extend_spare(ttc_session *s, int spare, const int *tokens, int n, int budget)
{
    ttc_state *state = &s->spares[spare];
    const int common = common_length(state, tokens, n);
    if (common == n)
        return TTC_OK;
    if (!state->tokens) {
        const size_t held = s->memory_bytes;
        int failed = 0;
        allocate_state(s, state, &failed);
        if (failed) {
            free_state(state);
            *state = (ttc_state){.cache.precision = s->state.cache.precision};
            s->memory_bytes = held;
            return TTC_ERR_OUT_OF_MEMORY;
        }
    }
    swap_states(s, spare);
    extend(s, tokens, common, n - common > budget ? common + budget : n);
    swap_states(s, spare);
    return TTC_OK;
}

/* Runs up to budget tokens of tokens[0..n) in s->state, unless that would
 * overwrite tokens it holds: 1 when it then holds them all. */
static int extend_in_place(ttc_session *s, const int *tokens, int n, int budget)
{
    const int common = common_length(&s->state, tokens, n);
    if (common < n && common < s->state.n_tokens)
        return 0;
    extend(s, tokens, common, n - common > budget ? common + budget : n);
    return s->state.n_tokens >= n;
}

/* Runs what the request for the document with a guessed character typed
 * (s->typed, typed_length bytes, before suffix) would run, up to budget tokens:
 * in spare state `spare`, or with spare TTC_IN_PLACE in s->state, where it runs
 * nothing that would overwrite what s->state holds. The suggestion is not kept,
 * its tokens are. */
static ttc_status rehearse(ttc_session *s, int spare, size_t typed_length, const char *suffix,
                           size_t suffix_length, const ttc_complete_options *options, int budget)
{
    ttc_complete_options chosen;
    ttc_status status =
        start_request(s, s->typed, typed_length, suffix, suffix_length, options, &chosen);
    if (status != TTC_OK)
        return status;
    const int n = build_prompt(s, s->typed, typed_length, suffix, suffix_length, 0);
    const uint64_t before = s->forwarded_tokens;
    if (spare == TTC_IN_PLACE) {
        if (!extend_in_place(s, s->prompt, n, budget))
            return TTC_OK;
    } else {
        status = extend_spare(s, spare, s->prompt, n, budget);
        if (status != TTC_OK || s->spares[spare].n_tokens < n)
            return status; /* the prompt is not all run yet */
        swap_states(s, spare);
    }
    char text[TTC_MAX_SUGGESTION + 1];
    suggestion g = {.text = text};
    start_block(&g, s->typed, typed_length);
    decode(s, n, &chosen, &g, NULL, NULL, budget - (int)(s->forwarded_tokens - before));
    if (spare != TTC_IN_PLACE)
        swap_states(s, spare);
    return TTC_OK;
}

/* The `count` likeliest tokens a user may type, likeliest first. */
static void likeliest(const float *probabilities, int vocab, int *out, int count)
{
    for (int i = 0; i < count; i++) {
        out[i] = -1;
        for (int t = 0; t < vocab; t++) {
            int taken = !is_suggestable(t);
            for (int j = 0; j < i && !taken; j++)
                taken = out[j] == t;
            if (!taken && (out[i] < 0 || probabilities[t] > probabilities[out[i]]))
                out[i] = t;
        }
    }
}

/* Idle work after a request: the requests after the 1 + TTC_NEXT_GUESSES
 * likeliest next characters, likeliest first. The likeliest, the first of the
 * suggestion when one was shown, extends the request's own prompt and runs in
 * s->state (typing it then runs nothing, even where the suggestion, shorter by
 * that character, now goes on further); each other in a spare state of its
 * own. Only while the session holds the request's prompt, whose logits say
 * what comes next. */
static ttc_status guess_next(ttc_session *s, const char *prefix, size_t prefix_length,
                             const char *suffix, size_t suffix_length,
                             const ttc_complete_options *options, int budget)
{
    const int n = build_prompt(s, prefix, prefix_length, suffix, suffix_length, 0);
    if (common_length(&s->state, s->prompt, n) < n)
        return TTC_OK;
    ttc_complete_options chosen;
    ttc_status status =
        start_request(s, prefix, prefix_length, suffix, suffix_length, options, &chosen);
    if (status != TTC_OK)
        return status;
    const int vocab = s->model->info.vocab_size;
    next_distribution(s, s->state.logits + (size_t)(n - 1) * vocab, chosen.document_memory, 0,
                      NULL);
    int guesses[1 + TTC_NEXT_GUESSES];
    likeliest(s->probabilities, vocab, guesses, 1 + TTC_NEXT_GUESSES);

    if (prefix_length + 1 > s->typed_capacity) {
        const size_t capacity = 2 * (prefix_length + 1);
        char *typed = malloc(capacity);
        if (!typed)
            return TTC_ERR_OUT_OF_MEMORY;
        free(s->typed);
        s->typed = typed;
        s->typed_capacity = capacity;
    }
    if (prefix_length)
        ttc_memcpy(s->typed, prefix, prefix_length);
    for (int i = 0; i < 1 + TTC_NEXT_GUESSES && guesses[i] >= 0; i++) {
        s->typed[prefix_length] = (char)guesses[i];
        const uint64_t before = s->forwarded_tokens;
        status = rehearse(s, i == 0 ? TTC_IN_PLACE : TTC_SPARE_AHEAD + i, prefix_length + 1,
                          suffix, suffix_length, options, budget);
        if (status != TTC_OK || s->forwarded_tokens != before)
            return status;
    }
    return TTC_OK;
}

ttc_status ttc_session_prepare(ttc_session *s, const char *prefix, size_t prefix_length,
                               const char *suffix, size_t suffix_length,
                               const ttc_complete_options *options, size_t max_tokens,
                               size_t *run)
{
    ttc_complete_options defaults;
    ttc_complete_options_init(&defaults);
    if (!options)
        options = &defaults;
    if (!s || !run || max_tokens == 0 || (!prefix && prefix_length) || (!suffix && suffix_length))
        return TTC_ERR_INVALID_ARGUMENT;
    *run = 0;
    ttc_status status = check_options(options);
    if (status != TTC_OK)
        return status;
    const int budget = max_tokens < (size_t)__INT_MAX__ ? (int)max_tokens : __INT_MAX__;
    const uint64_t before = s->forwarded_tokens;
    /* first the prompt the document will need once the window's start moves, when near */
    const int n = build_prompt(s, prefix, prefix_length, suffix, suffix_length, 1);
    status = extend_spare(s, TTC_SPARE_AHEAD, s->prompt, n, budget);
    if (status == TTC_OK && s->forwarded_tokens == before)
        status = guess_next(s, prefix, prefix_length, suffix, suffix_length, options, budget);
    *run = (size_t)(s->forwarded_tokens - before);
    return status;
}

ttc_status ttc_session_stop_features(ttc_session *s, const char *prefix,
                                     size_t prefix_length, const char *suffix,
                                     size_t suffix_length, const ttc_complete_options *options,
                                     char *out, size_t out_capacity, size_t *out_length,
                                     float *features)
{
    if (!features)
        return TTC_ERR_INVALID_ARGUMENT;
    return complete(s, prefix, prefix_length, suffix, suffix_length, options, out,
                    out_capacity, out_length, features);
}

/* ---- evaluation ---------------------------------------------------------- */

ttc_status ttc_session_logits(ttc_session *s, const int *tokens, size_t n_tokens,
                              float *out, size_t out_rows)
{
    if (!s || !tokens || !out || n_tokens == 0 || n_tokens > (size_t)s->model->info.window ||
        out_rows == 0 || out_rows > n_tokens)
        return TTC_ERR_INVALID_ARGUMENT;
    const int vocab = s->model->info.vocab_size;
    for (size_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= vocab)
            return TTC_ERR_INVALID_ARGUMENT;
    feed(s, tokens, (int)n_tokens);
    ttc_memcpy(out, s->state.logits + (n_tokens - out_rows) * (size_t)vocab,
               sizeof(float) * out_rows * (size_t)vocab);
    return TTC_OK;
}

typedef enum { SCORE_MODEL, SCORE_BLENDED, SCORE_FEATURES } score_kind;

/* Writes what `kind` asks about token i, given the logits before it; the
 * memory (for the kinds that use it) holds the tokens before i. */
static void score_token(ttc_session *s, const float *logits, int token, score_kind kind,
                        float *out)
{
    const int vocab = s->model->info.vocab_size;
    if (kind == SCORE_MODEL) {
        out[0] = logits[token] - log_sum_exp(logits, vocab);
        return;
    }
    if (kind == SCORE_BLENDED) {
        next_distribution(s, logits, 1, 0, NULL);
        out[0] = (float)ttc_log((double)s->probabilities[token]);
        return;
    }
    next_distribution(s, logits, 0, 0, NULL);
    ttc_memory_prediction p;
    ttc_memory_predict(&s->memory, 0, &p);
    float model_top = 0.0f;
    int top_votes = 0;
    for (int t = 0; t < vocab; t++)
        model_top = s->probabilities[t] > model_top ? s->probabilities[t] : model_top;
    for (int t = 0; t < TTC_MEMORY_VOCAB; t++)
        top_votes = p.counts[t] > top_votes ? p.counts[t] : top_votes;
    const float votes = (float)p.votes;
    out[0] = s->probabilities[token];
    out[1] = p.votes ? (float)p.counts[token] / votes : 0.0f;
    out[2] = (float)p.match_length;
    out[3] = votes;
    out[4] = model_top;
    out[5] = p.votes ? (float)top_votes / votes : 0.0f;
}

/* Scores text[from..to) with context text[context..from), after BOS. */
static void score_span(ttc_session *s, const int *text, int context, int from, int to,
                       score_kind kind, float *out, int stride)
{
    const int vocab = s->model->info.vocab_size;
    int *prompt = s->prompt;
    int n = 0;
    prompt[n++] = TTC_TOKEN_BOS;
    for (int i = context; i < to; i++)
        prompt[n++] = text[i];
    feed(s, prompt, n);
    for (int i = from; i < to; i++) {
        const float *logits = s->state.logits + (size_t)(i - context) * vocab;
        score_token(s, logits, text[i], kind, out + (size_t)i * stride);
        if (kind != SCORE_MODEL && s->memory.length < TTC_MEMORY_PREFIX_BYTES)
            ttc_memory_append(&s->memory, text[i]);
    }
}

/* Scores every token of text in windows: each crossing of the window keeps
 * the nearest window/2 tokens as context. */
static int score_text(ttc_session *s, const char *text, size_t text_length, score_kind kind,
                      float *out, size_t out_capacity, size_t *out_count, int stride)
{
    if (!s || !out_count || (!text && text_length) || (!out && out_capacity))
        return TTC_ERR_INVALID_ARGUMENT;
    int *tokens = malloc(sizeof(int) * (text_length ? text_length : 1));
    if (!tokens)
        return TTC_ERR_OUT_OF_MEMORY;
    size_t n = ttc_text_to_tokens(text, text_length, tokens, text_length);
    *out_count = n;
    if (n > out_capacity) {
        free(tokens);
        return TTC_ERR_BUFFER_TOO_SMALL;
    }
    if (kind != SCORE_MODEL)
        ttc_memory_clear(&s->memory);
    const size_t window = (size_t)s->model->info.window;
    size_t from = 0, context = 0;
    while (from < n) {
        size_t to = context + window - 1 < n ? context + window - 1 : n;
        score_span(s, tokens, (int)context, (int)from, (int)to, kind, out, stride);
        from = to;
        context = from - window / 2;
    }
    free(tokens);
    return TTC_OK;
}

ttc_status ttc_session_logprobs(ttc_session *s, const char *text, size_t text_length,
                                int document_memory, float *out, size_t out_capacity,
                                size_t *out_count)
{
    return score_text(s, text, text_length, document_memory ? SCORE_BLENDED : SCORE_MODEL, out,
                      out_capacity, out_count, 1);
}

ttc_status ttc_session_memory_features(ttc_session *s, const char *text,
                                       size_t text_length, float *out, size_t out_capacity,
                                       size_t *out_count)
{
    return score_text(s, text, text_length, SCORE_FEATURES, out, out_capacity, out_count,
                      TTC_MEMORY_FEATURES);
}
