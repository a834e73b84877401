/* The transformer forward pass over a batch of tokens: every matrix product
 * takes the whole batch at once (matrix-matrix), attention takes the batch's
 * query heads of each kv head a few at a time against the key/value cache.
 * The results for a token do not depend on how the tokens were batched, so a
 * reused session equals a fresh one bit for bit. */
#include "internal.h"

static void rmsnorm(float *out, const float *x, const float *weight, int dim, float eps)
{
    float sum_squares = 0.0f;
    for (int i = 0; i < dim; i++)
        sum_squares += x[i] * x[i];
    float inverse_rms = 1.0f / __builtin_sqrtf(sum_squares / (float)dim + eps);
    for (int i = 0; i < dim; i++)
        out[i] = weight[i] * (x[i] * inverse_rms);
}

/* Quantises n rows of cols activations into the scratch buffers, once for
 * every matrix that reads them. */
static void quantize_rows(ttc_session *s, const float *in, int n, int cols)
{
    const int group_size = s->model->info.group_size;
    for (int t = 0; t < n; t++)
        s->kernels->quantize_q8(s->scratch.xq + (size_t)t * cols,
                                s->scratch.xs + (size_t)t * (cols / group_size),
                                in + (size_t)t * cols, cols, group_size);
}

void ttc_matmul(ttc_session *s, float *out, int n, const ttc_q8_matrix *m)
{
    const int group_size = s->model->info.group_size;
    if (m->packed && s->kernels->pack_q8 == s->model->weights_packed_by)
        s->kernels->matmul_packed_q8(out, s->scratch.xq, s->scratch.xs, n, m->packed, m->rows,
                                     m->cols, group_size);
    else
        s->kernels->matmul_q8(out, s->scratch.xq, s->scratch.xs, n, m->values, m->scales,
                              m->rows, m->cols, group_size);
}

/* Rotates the interleaved pairs (2i, 2i+1) of each head of one token. */
static void rope(float *vec, int n_heads, int head_dim, const float *cos_t, const float *sin_t)
{
    for (int h = 0; h < n_heads; h++) {
        float *head = vec + h * head_dim;
        for (int i = 0; i < head_dim / 2; i++) {
            float a = head[2 * i], b = head[2 * i + 1];
            head[2 * i] = a * cos_t[i] - b * sin_t[i];
            head[2 * i + 1] = a * sin_t[i] + b * cos_t[i];
        }
    }
}

/* The int8 key cache of one (layer, kv head): its positions one after the
 * other, head_dim bytes each, so that attention reads one contiguous array. */
static int8_t *head_keys(const ttc_session *s, int layer, int kv_head)
{
    const ttc_model *m = s->model;
    return s->state.cache.keys_q8 +
           ((size_t)layer * m->info.n_kv_heads + kv_head) * m->info.window * m->head_dim;
}

/* The int8 value cache of one (layer, kv head): its positions in groups, as
 * attention_values_q8 takes them (kernels.h). */
static int8_t *head_values(const ttc_session *s, int layer, int kv_head)
{
    const ttc_model *m = s->model;
    return s->state.cache.values_q8 + ((size_t)layer * m->info.n_kv_heads + kv_head) *
                                    ttc_value_cache_positions(m->info.window) * m->head_dim;
}

/* The packed copy of one (layer, kv head)'s keys (ttc_kv_cache.keys_packed). */
static uint8_t *head_packed_keys(const ttc_session *s, int layer, int kv_head)
{
    return (uint8_t *)s->state.cache.keys_packed +
           ((size_t)layer * s->model->info.n_kv_heads + kv_head) * s->state.cache.packed_key_bytes;
}

static void store_kv(ttc_session *s, int layer, int pos, const float *k, const float *v)
{
    const ttc_model *m = s->model;
    ttc_kv_cache *c = &s->state.cache;
    const int window = m->info.window, kv_dim = m->kv_dim, head_dim = m->head_dim;
    const size_t row = ((size_t)layer * window + pos) * kv_dim;
    if (c->precision == TTC_KV_F32) {
        ttc_memcpy(c->keys_f32 + row, k, sizeof(float) * kv_dim);
        ttc_memcpy(c->values_f32 + row, v, sizeof(float) * kv_dim);
        return;
    }
    int8_t *value = s->scratch.head_q; /* free until attention */
    for (int h = 0; h < m->info.n_kv_heads; h++) {
        const size_t scale = ((size_t)layer * m->info.n_kv_heads + h) * window + pos;
        int8_t *key = head_keys(s, layer, h) + (size_t)pos * head_dim;
        s->kernels->quantize_q8(key, c->key_scales + scale, k + h * head_dim, head_dim, head_dim);
        if (c->keys_packed)
            c->keys_packed_by(head_packed_keys(s, layer, h), pos, key, head_dim);
        s->kernels->quantize_q8(value, c->value_scales + scale, v + h * head_dim, head_dim,
                                head_dim);
        /* A group's positions after the last cached one keep whatever they
         * held (zeros from the allocation, or an earlier pass's): the kernels
         * multiply them by 0 (kernels.h). */
        int8_t *values = head_values(s, layer, h);
        for (int i = 0; i < head_dim; i++)
            values[ttc_value_offset(pos, i, head_dim)] = value[i];
    }
}

/* Scores of query heads j < n_queries (quantised in scratch.head_q, their
 * scales query_scales[j]) against keys 0 .. n_keys[j] - 1 of one (layer, kv
 * head), query j's in scratch.scores + j * window: all at once where the
 * session's kernels read its packed keys (the rows of earlier queries then
 * hold scores of keys they do not see, never read), else one by one. */
static void attention_scores(ttc_session *s, int layer, int kv_head, int n_queries,
                             const float *query_scales, const int *n_keys)
{
    const ttc_model *m = s->model;
    const ttc_kv_cache *c = &s->state.cache;
    const int head_dim = m->head_dim, window = m->info.window;
    const float *key_scales =
        c->key_scales + ((size_t)layer * m->info.n_kv_heads + kv_head) * window;
    if (c->keys_packed && s->kernels->pack_key == c->keys_packed_by) {
        s->kernels->attention_scores_packed_q8(s->scratch.scores, window, s->scratch.head_q,
                                               query_scales, n_queries,
                                               head_packed_keys(s, layer, kv_head), key_scales,
                                               n_keys[n_queries - 1], head_dim);
        return;
    }
    for (int j = 0; j < n_queries; j++)
        s->kernels->attention_scores_q8(s->scratch.scores + (size_t)j * window,
                                        s->scratch.head_q + (size_t)j * head_dim,
                                        query_scales[j], head_keys(s, layer, kv_head),
                                        key_scales, n_keys[j], head_dim, head_dim);
}

/* The attention of every query head of kv head kv_head for the pass's n
 * tokens (int8 cache), TTC_ATTENTION_QUERIES of them at a time in order of
 * token, then head; token t sees the keys 0 .. start + t. */
static void attend_q8(ttc_session *s, int layer, int kv_head, int n, int start)
{
    const ttc_model *m = s->model;
    ttc_scratch *x = &s->scratch;
    const int head_dim = m->head_dim, window = m->info.window;
    const int heads_per_kv = m->info.n_heads / m->info.n_kv_heads, total = n * heads_per_kv;
    const size_t scales = ((size_t)layer * m->info.n_kv_heads + kv_head) * window;
    /* The 1/sqrt(head_dim) of scaled dot-product attention rides on the queries' scales. */
    const float inverse_sqrt = 1.0f / __builtin_sqrtf((float)head_dim);
    for (int first = 0; first < total; first += TTC_ATTENTION_QUERIES) {
        const int count = ttc_min_int(TTC_ATTENTION_QUERIES, total - first);
        size_t head[TTC_ATTENTION_QUERIES]; /* of each query in x->q and x->attention */
        int n_keys[TTC_ATTENTION_QUERIES];
        float query_scales[TTC_ATTENTION_QUERIES];
        for (int j = 0; j < count; j++) {
            const int t = (first + j) / heads_per_kv;
            const int h = kv_head * heads_per_kv + (first + j) % heads_per_kv;
            head[j] = (size_t)t * m->info.dim + (size_t)h * head_dim;
            n_keys[j] = start + t + 1;
            s->kernels->quantize_q8(x->head_q + (size_t)j * head_dim, &query_scales[j],
                                    x->q + head[j], head_dim, head_dim);
            query_scales[j] *= inverse_sqrt;
        }
        attention_scores(s, layer, kv_head, count, query_scales, n_keys);
        for (int j = 0; j < count; j++) {
            float *scores = x->scores + (size_t)j * window;
            s->kernels->softmax(scores, n_keys[j]);
            s->kernels->attention_values_q8(x->attention + head[j], scores,
                                            head_values(s, layer, kv_head),
                                            s->state.cache.value_scales + scales, n_keys[j],
                                            head_dim);
        }
    }
}

/* The same in fp32 with plain loops: llama2.c's way, the reference path. */
static void attend_f32(ttc_session *s, float *out, const float *q, int layer, int kv_head,
                       int n_keys)
{
    const ttc_model *m = s->model;
    const int window = m->info.window, kv_dim = m->kv_dim, head_dim = m->head_dim;
    const size_t base = (size_t)layer * window * kv_dim + (size_t)kv_head * head_dim;
    const float *keys = s->state.cache.keys_f32 + base, *values = s->state.cache.values_f32 + base;
    float *scores = s->scratch.scores;
    const float inverse_sqrt = 1.0f / __builtin_sqrtf((float)head_dim);
    for (int t = 0; t < n_keys; t++) {
        float dot = 0.0f;
        for (int i = 0; i < head_dim; i++)
            dot += q[i] * keys[(size_t)t * kv_dim + i];
        scores[t] = dot * inverse_sqrt;
    }
    ttc_kernels_generic.softmax(scores, n_keys);
    for (int i = 0; i < head_dim; i++)
        out[i] = 0.0f;
    for (int t = 0; t < n_keys; t++)
        for (int i = 0; i < head_dim; i++)
            out[i] += scores[t] * values[(size_t)t * kv_dim + i];
}

static void attention_block(ttc_session *s, const ttc_layer *w, int layer, int n, int start)
{
    const ttc_model *m = s->model;
    ttc_scratch *x = &s->scratch;
    const int dim = m->info.dim, kv_dim = m->kv_dim, head_dim = m->head_dim;
    const int pairs = head_dim / 2, heads_per_kv = m->info.n_heads / m->info.n_kv_heads;

    for (int t = 0; t < n; t++)
        rmsnorm(x->normed + (size_t)t * dim, x->x + (size_t)t * dim, w->attention_norm, dim,
                m->norm_eps);
    quantize_rows(s, x->normed, n, dim);
    ttc_matmul(s, x->q, n, &w->wq);
    ttc_matmul(s, x->k, n, &w->wk);
    ttc_matmul(s, x->v, n, &w->wv);
    for (int t = 0; t < n; t++) {
        const size_t rotation = (size_t)(start + t) * pairs;
        const float *cos_t = m->rope_cos + rotation, *sin_t = m->rope_sin + rotation;
        rope(x->q + (size_t)t * dim, m->info.n_heads, head_dim, cos_t, sin_t);
        rope(x->k + (size_t)t * kv_dim, m->info.n_kv_heads, head_dim, cos_t, sin_t);
        store_kv(s, layer, start + t, x->k + (size_t)t * kv_dim, x->v + (size_t)t * kv_dim);
    }
    if (s->state.cache.precision == TTC_KV_F32) {
        for (int t = 0; t < n; t++)
            for (int h = 0; h < m->info.n_heads; h++) {
                const size_t head = (size_t)t * dim + (size_t)h * head_dim;
                attend_f32(s, x->attention + head, x->q + head, layer, h / heads_per_kv,
                           start + t + 1);
            }
    } else {
        for (int kv_head = 0; kv_head < m->info.n_kv_heads; kv_head++)
            attend_q8(s, layer, kv_head, n, start);
    }
    quantize_rows(s, x->attention, n, dim);
    ttc_matmul(s, x->normed, n, &w->wo);
    for (size_t i = 0; i < (size_t)n * dim; i++)
        x->x[i] += x->normed[i];
}

static void feed_forward_block(ttc_session *s, const ttc_layer *w, int n)
{
    const ttc_model *m = s->model;
    ttc_scratch *x = &s->scratch;
    const int dim = m->info.dim, hidden = m->info.hidden_dim;

    for (int t = 0; t < n; t++)
        rmsnorm(x->normed + (size_t)t * dim, x->x + (size_t)t * dim, w->ffn_norm, dim,
                m->norm_eps);
    quantize_rows(s, x->normed, n, dim);
    ttc_matmul(s, x->gate, n, &w->w1);
    ttc_matmul(s, x->up, n, &w->w3);
    s->kernels->silu_times(x->gate, x->up, n * hidden);
    quantize_rows(s, x->gate, n, hidden);
    ttc_matmul(s, x->normed, n, &w->w2);
    for (size_t i = 0; i < (size_t)n * dim; i++)
        x->x[i] += x->normed[i];
}

static void embed(ttc_session *s, const int *tokens, int n)
{
    const ttc_q8_matrix *e = &s->model->token_embedding;
    const int dim = e->cols, group_size = s->model->info.group_size;
    for (int t = 0; t < n; t++) {
        const int8_t *row = e->values + (size_t)tokens[t] * dim;
        const float *scales = e->scales + (size_t)tokens[t] * (dim / group_size);
        float *out = s->scratch.x + (size_t)t * dim;
        for (int i = 0; i < dim; i++)
            out[i] = (float)row[i] * scales[i / group_size];
    }
}

static void forward_batch(ttc_session *s, const int *tokens, int n, int start)
{
    const ttc_model *m = s->model;
    const int dim = m->info.dim;
    embed(s, tokens, n);
    for (int l = 0; l < m->info.n_layers; l++) {
        attention_block(s, &m->layers[l], l, n, start);
        feed_forward_block(s, &m->layers[l], n);
    }
    for (int t = 0; t < n; t++)
        rmsnorm(s->scratch.normed + (size_t)t * dim, s->scratch.x + (size_t)t * dim,
                m->final_norm, dim, m->norm_eps);
    quantize_rows(s, s->scratch.normed, n, dim);
    ttc_matmul(s, s->state.logits + (size_t)start * m->info.vocab_size, n, &m->classifier);
    s->forwarded_tokens += (uint64_t)n;
}

void ttc_forward(ttc_session *s, const int *tokens, int n, int start)
{
    for (int done = 0; done < n; done += s->max_batch) {
        int batch = n - done < s->max_batch ? n - done : s->max_batch;
        forward_batch(s, tokens + done, batch, start + done);
    }
}
