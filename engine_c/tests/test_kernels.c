/* Every fast kernel set this machine supports must give exactly the generic
 * (reference) kernels' results: the outputs are compared bit for bit with
 * memcmp on many random shapes, and every output element beyond the
 * requested ones must be left untouched. The generic attention_values_q8 is
 * also checked against a literal transcription of its definition, the
 * generic quantize_q8 on known values, and ttc_expf and ttc_softmax_expf
 * (which softmax is built on) against exp().
 *
 * Run with `make -C engine_c test-kernels` (or test-kernels-sanitize).
 * An optional argument sets the random seed. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "ttc_math.h"

/* ---- deterministic random numbers (splitmix64) ---- */

static uint64_t rng_state = 0x7474636b65726e65u;

static uint64_t next_u64(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static int rand_int(int lo, int hi)
{
    return lo + (int)(next_u64() % (uint64_t)(hi - lo + 1));
}

/* A float with random sign (when signed_ok), mantissa and exponent in
 * [2^min_exp, 2^(max_exp+1)), built from its bits so that rounding
 * differences show up in every bit position. */
static float rand_float(int min_exp, int max_exp, int signed_ok)
{
    const uint32_t sign = signed_ok && (next_u64() & 1) ? 0x80000000u : 0;
    const uint32_t exponent = (uint32_t)(rand_int(min_exp, max_exp) + 127);
    const uint32_t bits = sign | exponent << 23 | (uint32_t)(next_u64() & 0x7fffff);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* int8 data in [-127, 127] in one of several styles: uniform, only the
 * extremes (largest products, sign handling), or mostly zeros. */
static void fill_i8(int8_t *p, size_t n, int style)
{
    for (size_t i = 0; i < n; i++) {
        int v;
        if (style == 1)
            v = (next_u64() & 1) ? 127 : -127;
        else if (style == 2)
            v = rand_int(0, 3) == 0 ? rand_int(-127, 127) : 0;
        else
            v = rand_int(-127, 127);
        p[i] = (int8_t)v;
    }
}

static void fill_scales(float *p, size_t n, int min_exp, int max_exp, int signed_ok)
{
    for (size_t i = 0; i < n; i++)
        p[i] = rand_float(min_exp, max_exp, signed_ok);
}

/* ---- buffers ----
 * Inputs are allocated at their exact size (so that AddressSanitizer sees any
 * read past them) and int8 data starts at a random misalignment. Outputs get
 * GUARD extra elements filled with a marker that must survive. */

enum { GUARD = 16 };
static const uint32_t MARKER = 0x7fc0dead; /* a NaN the kernels never produce */

typedef struct {
    void *block;
    int8_t *p;
} i8_buffer;

static i8_buffer new_i8(size_t n, int style)
{
    const size_t offset = (size_t)rand_int(0, 3);
    i8_buffer b;
    b.block = malloc(n + offset);
    if (b.block == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    b.p = (int8_t *)b.block + offset;
    fill_i8(b.p, n, style);
    return b;
}

static float *new_floats(size_t n)
{
    float *p = malloc(n * sizeof *p);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static float *new_output(size_t n)
{
    float *p = new_floats(n + GUARD);
    for (size_t i = 0; i < n + GUARD; i++)
        memcpy(&p[i], &MARKER, sizeof MARKER);
    return p;
}

static int guard_intact(const float *p, size_t n)
{
    for (size_t i = n; i < n + GUARD; i++)
        if (memcmp(&p[i], &MARKER, sizeof MARKER) != 0)
            return 0;
    return 1;
}

/* ---- the kernel sets under test ---- */

typedef struct {
    const char *name;
    const ttc_kernels *k;
    int passed, failed;
} kernel_set;

static const char *const SET_NAMES[] = {"avx2", "avx512", "avx512vnni", "neon", "wasm"};
enum { MAX_SETS = sizeof SET_NAMES / sizeof SET_NAMES[0] };

static kernel_set sets[MAX_SETS];
static int n_sets;

/* Compares a set's output with the reference; prints the first few failures. */
static void check(kernel_set *s, const char *kernel, const char *shape, const float *want,
                  const float *got, size_t n)
{
    const int same = memcmp(want, got, n * sizeof *got) == 0;
    if (same && guard_intact(got, n)) {
        s->passed++;
        return;
    }
    if (++s->failed > 5)
        return;
    if (same) {
        printf("FAIL %s %s %s: wrote past the end of the output\n", s->name, kernel, shape);
        return;
    }
    size_t i = 0;
    while (memcmp(&want[i], &got[i], sizeof *got) == 0)
        i++;
    uint32_t want_bits, got_bits;
    memcpy(&want_bits, &want[i], sizeof want_bits);
    memcpy(&got_bits, &got[i], sizeof got_bits);
    printf("FAIL %s %s %s: out[%zu] = %.9g (0x%08x), generic %.9g (0x%08x)\n", s->name, kernel,
           shape, i, (double)got[i], (unsigned)got_bits, (double)want[i], (unsigned)want_bits);
}

/* ---- one random case per kernel ---- */

static void case_matmul(int n_tokens, int rows, int cols, int group_size)
{
    const int groups = cols / group_size;
    const size_t n_out = (size_t)n_tokens * rows;
    const int style = rand_int(0, 5) < 4 ? 0 : rand_int(1, 2);
    i8_buffer x = new_i8((size_t)n_tokens * cols, style);
    i8_buffer w = new_i8((size_t)rows * cols, style);
    float *xs = new_floats((size_t)n_tokens * groups);
    float *ws = new_floats((size_t)rows * groups);
    fill_scales(xs, (size_t)n_tokens * groups, -12, 0, 1);
    fill_scales(ws, (size_t)rows * groups, -16, -4, 1);

    float *want = new_output(n_out);
    ttc_kernels_generic.matmul_q8(want, x.p, xs, n_tokens, w.p, ws, rows, cols, group_size);
    char shape[96];
    snprintf(shape, sizeof shape, "n_tokens=%d rows=%d cols=%d group_size=%d", n_tokens, rows,
             cols, group_size);
    for (int s = 0; s < n_sets; s++) {
        float *got = new_output(n_out);
        sets[s].k->matmul_q8(got, x.p, xs, n_tokens, w.p, ws, rows, cols, group_size);
        check(&sets[s], "matmul_q8", shape, want, got, n_out);
        if (sets[s].k->pack_q8) {
            void *packed = malloc(sets[s].k->packed_q8_size(rows, cols, group_size));
            sets[s].k->pack_q8(packed, w.p, ws, rows, cols, group_size);
            free(got);
            got = new_output(n_out);
            sets[s].k->matmul_packed_q8(got, x.p, xs, n_tokens, packed, rows, cols, group_size);
            check(&sets[s], "matmul_packed_q8", shape, want, got, n_out);
            free(packed);
        }
        free(got);
    }
    free(want);
    free(x.block);
    free(w.block);
    free(xs);
    free(ws);
}

static int rand_stride(int head_dim)
{
    return rand_int(0, 3) == 0 ? head_dim : head_dim + rand_int(1, 40);
}

static void case_scores(int n_keys, int head_dim)
{
    const int stride = rand_stride(head_dim);
    const int style = rand_int(0, 5) < 4 ? 0 : rand_int(1, 2);
    i8_buffer q = new_i8((size_t)head_dim, style);
    i8_buffer keys = new_i8((size_t)(n_keys - 1) * stride + head_dim, style);
    float *key_scales = new_floats((size_t)n_keys);
    fill_scales(key_scales, (size_t)n_keys, -12, 0, 1);
    const float q_scale = rand_float(-10, -2, 1);

    float *want = new_output((size_t)n_keys);
    ttc_kernels_generic.attention_scores_q8(want, q.p, q_scale, keys.p, key_scales, n_keys,
                                            head_dim, stride);
    char shape[96];
    snprintf(shape, sizeof shape, "n_keys=%d head_dim=%d key_stride=%d", n_keys, head_dim,
             stride);
    for (int s = 0; s < n_sets; s++) {
        float *got = new_output((size_t)n_keys);
        sets[s].k->attention_scores_q8(got, q.p, q_scale, keys.p, key_scales, n_keys, head_dim,
                                       stride);
        check(&sets[s], "attention_scores_q8", shape, want, got, (size_t)n_keys);
        free(got);
    }
    free(want);
    free(q.block);
    free(keys.block);
    free(key_scales);
}

/* attention_scores_packed_q8 against the generic attention_scores_q8 of each
 * query: keys packed in a random order into a copy with room for more
 * positions (their bytes random: the kernel may read them, they must not
 * matter), rows of out further apart than n_keys (the gaps must survive). */
static void case_packed_scores(int n_queries, int n_keys, int head_dim)
{
    const int style = rand_int(0, 5) < 4 ? 0 : rand_int(1, 2);
    const int positions = n_keys + rand_int(0, 40), out_stride = n_keys + rand_int(0, 5);
    i8_buffer queries = new_i8((size_t)n_queries * head_dim, style);
    i8_buffer keys = new_i8((size_t)positions * head_dim, style);
    float *key_scales = new_floats((size_t)n_keys);
    float *query_scales = new_floats((size_t)n_queries);
    fill_scales(key_scales, (size_t)n_keys, -12, 0, 1);
    fill_scales(query_scales, (size_t)n_queries, -10, -2, 1);
    int *order = malloc(sizeof(int) * (size_t)positions);
    for (int t = 0; t < positions; t++)
        order[t] = t;
    for (int t = positions - 1; t > 0; t--) {
        const int other = rand_int(0, t), kept = order[t];
        order[t] = order[other];
        order[other] = kept;
    }
    const size_t n_out = (size_t)(n_queries - 1) * out_stride + n_keys;
    float *want = new_output(n_out);
    for (int j = 0; j < n_queries; j++)
        ttc_kernels_generic.attention_scores_q8(want + (size_t)j * out_stride,
                                                queries.p + (size_t)j * head_dim,
                                                query_scales[j], keys.p, key_scales, n_keys,
                                                head_dim, head_dim);
    char shape[96];
    snprintf(shape, sizeof shape, "n_queries=%d n_keys=%d head_dim=%d out_stride=%d", n_queries,
             n_keys, head_dim, out_stride);
    for (int s = 0; s < n_sets; s++) {
        const ttc_kernels *k = sets[s].k;
        if (!k->pack_key)
            continue;
        const size_t size = k->packed_keys_size(positions, head_dim);
        uint8_t *packed = malloc(size);
        for (size_t i = 0; i < size; i++)
            packed[i] = (uint8_t)next_u64();
        for (int t = 0; t < positions; t++)
            k->pack_key(packed, order[t], keys.p + (size_t)order[t] * head_dim, head_dim);
        float *got = new_output(n_out);
        k->attention_scores_packed_q8(got, out_stride, queries.p, query_scales, n_queries, packed,
                                      key_scales, n_keys, head_dim);
        check(&sets[s], "attention_scores_packed_q8", shape, want, got, n_out);
        free(got);
        free(packed);
    }
    free(want);
    free(order);
    free(queries.block);
    free(keys.block);
    free(key_scales);
    free(query_scales);
}

/* attention_values_q8's inputs (kernels.h): the values of n_values keys in
 * groups of 4 (with the missing keys' bytes of a last group that is not
 * whole set to anything but 0, which must not matter), at exactly their
 * size, and weights and value scales in one of several styles: softmax-like
 * weights with positive scales (the engine's case), larger, all equal (every
 * quantised weight then 16383, the largest sums), products below the floor
 * of w_max (2^-100), or softmax-like with many zeros. */
typedef struct {
    i8_buffer values;
    float *weights, *value_scales;
} values_input;

static values_input new_values_input(int n_values, int head_dim, int style)
{
    const int group = TTC_VALUES_KEY_GROUP;
    const size_t groups = (size_t)(n_values + group - 1) / group;
    const int value_style = rand_int(0, 5) < 4 ? 0 : rand_int(1, 2);
    values_input in;
    in.values = new_i8(groups * group * head_dim, value_style);
    for (int t = n_values; t < (int)groups * group; t++)
        for (int i = 0; i < head_dim; i++)
            in.values.p[ttc_value_offset(t, i, head_dim)] =
                (int8_t)(rand_int(0, 1) ? -128 : rand_int(1, 127));
    in.weights = new_floats((size_t)n_values);
    in.value_scales = new_floats((size_t)n_values);
    switch (style) {
    case 0:
        fill_scales(in.weights, (size_t)n_values, -14, -1, 0);
        fill_scales(in.value_scales, (size_t)n_values, -12, 0, 0);
        break;
    case 1:
        fill_scales(in.weights, (size_t)n_values, -14, 3, 0);
        fill_scales(in.value_scales, (size_t)n_values, -12, 0, 0);
        break;
    case 2: {
        const float w = rand_float(-14, 0, 0), scale = rand_float(-12, 0, 0);
        for (int t = 0; t < n_values; t++) {
            in.weights[t] = w;
            in.value_scales[t] = scale;
        }
        break;
    }
    case 3:
        fill_scales(in.weights, (size_t)n_values, -60, -45, 0);
        fill_scales(in.value_scales, (size_t)n_values, -60, -50, 0);
        break;
    default:
        fill_scales(in.weights, (size_t)n_values, -14, -1, 0);
        fill_scales(in.value_scales, (size_t)n_values, -12, 0, 0);
        for (int t = 0; t < n_values; t++)
            if (rand_int(0, 2) == 0)
                in.weights[t] = rand_int(0, 1) ? 0.0f : -0.0f;
        break;
    }
    return in;
}

static void free_values_input(values_input *in)
{
    free(in->values.block);
    free(in->weights);
    free(in->value_scales);
}

enum { VALUES_STYLES = 5 };

static void case_values(int n_values, int head_dim)
{
    const int style = rand_int(0, VALUES_STYLES - 1);
    values_input in = new_values_input(n_values, head_dim, style);
    float *want = new_output((size_t)head_dim);
    ttc_kernels_generic.attention_values_q8(want, in.weights, in.values.p, in.value_scales,
                                            n_values, head_dim);
    char shape[96];
    snprintf(shape, sizeof shape, "n_values=%d head_dim=%d style=%d", n_values, head_dim,
             style);
    for (int s = 0; s < n_sets; s++) {
        float *got = new_output((size_t)head_dim);
        sets[s].k->attention_values_q8(got, in.weights, in.values.p, in.value_scales, n_values,
                                       head_dim);
        check(&sets[s], "attention_values_q8", shape, want, got, (size_t)head_dim);
        free(got);
    }
    free(want);
    free_values_input(&in);
}

/* The definition of attention_values_q8 (kernels.h), transcribed literally:
 * every output on its own, its blocks' sums in int64 (which must not exceed
 * int32's range) and every quantised weight computed afresh. The generic
 * kernel must give exactly this. */
static int values_by_definition(float *out, const float *weights, const int8_t *values,
                                const float *value_scales, int n_values, int head_dim)
{
    int overflow = 0;
    float w_max = 0x1p-100f;
    for (int t = 0; t < n_values; t++)
        w_max = fmaxf(w_max, weights[t] * value_scales[t]);
    const float inverse = 16383.0f / w_max;
    const float unit = w_max / 16383.0f;
    for (int i = 0; i < head_dim; i++) {
        out[i] = 0.0f;
        for (int t0 = 0; t0 < n_values; t0 += 256) {
            int64_t sum = 0;
            for (int t = t0; t < t0 + 256 && t < n_values; t++) {
                const int32_t wq = (int32_t)ttc_round_even(weights[t] * value_scales[t] * inverse);
                if (wq < 0 || wq > 16383)
                    overflow = 1;
                sum += (int64_t)wq * values[(size_t)(t - t % 4) * head_dim + 4 * i + t % 4];
            }
            if (sum < INT32_MIN || sum > INT32_MAX)
                overflow = 1;
            out[i] = out[i] + (float)(int32_t)sum;
        }
        out[i] = out[i] * unit;
    }
    return overflow;
}

static int definition_failures;

static void case_values_definition(int n_values, int head_dim, int style)
{
    values_input in = new_values_input(n_values, head_dim, style);
    float *want = new_output((size_t)head_dim);
    float *got = new_output((size_t)head_dim);
    const int overflow = values_by_definition(want, in.weights, in.values.p, in.value_scales,
                                              n_values, head_dim);
    ttc_kernels_generic.attention_values_q8(got, in.weights, in.values.p, in.value_scales,
                                            n_values, head_dim);
    if (overflow || memcmp(want, got, (size_t)head_dim * sizeof *got) != 0 ||
        !guard_intact(got, (size_t)head_dim)) {
        if (++definition_failures <= 5)
            printf("FAIL generic attention_values_q8 n_values=%d head_dim=%d style=%d %s\n",
                   n_values, head_dim, style,
                   overflow ? "leaves int16 or int32" : "differs from its definition");
    }
    free(want);
    free(got);
    free_values_input(&in);
}

/* Softmax inputs in one of several styles: scattered over [-200, 50] (so
 * that many x - max fall below -87 and give 0), scores-like in [-8, 8], all
 * equal, zeros of both signs with values near max - 87, or one large value
 * among small ones. */
static void fill_softmax(float *x, int n, int style)
{
    const float equal = (float)rand_int(-3000, 3000) / 16.0f;
    for (int i = 0; i < n; i++) {
        float v;
        switch (style) {
        case 0:
            v = -200.0f + 250.0f * (float)(next_u64() >> 40) / (float)(1 << 24);
            break;
        case 1:
            v = -8.0f + 16.0f * (float)(next_u64() >> 40) / (float)(1 << 24);
            break;
        case 2:
            v = equal;
            break;
        case 3: {
            /* max is 0 (of either sign); -87 and its neighbours are the edge
             * of ttc_softmax_expf's zero branch */
            static const float edge[] = {0.0f, -0.0f, -87.0f, -87.000008f, -86.999992f,
                                         -86.5f, -87.5f, -1e-30f, -1.0f};
            v = edge[rand_int(0, (int)(sizeof edge / sizeof *edge) - 1)];
            break;
        }
        default:
            v = rand_int(0, 50) == 0 ? 40.0f : rand_float(-20, 2, 1);
            break;
        }
        x[i] = v;
    }
}

static void case_softmax(int n, int style)
{
    float *input = new_floats((size_t)n);
    fill_softmax(input, n, style);
    float *want = new_output((size_t)n);
    memcpy(want, input, (size_t)n * sizeof *input);
    ttc_kernels_generic.softmax(want, n);
    char shape[64];
    snprintf(shape, sizeof shape, "n=%d style=%d", n, style);
    for (int s = 0; s < n_sets; s++) {
        /* In place: either with guard elements after the n values, or (for
         * AddressSanitizer) in a buffer of exactly n. */
        float *got = new_output((size_t)n);
        if (rand_int(0, 1) == 0) {
            memcpy(got, input, (size_t)n * sizeof *input);
            sets[s].k->softmax(got, n);
        } else {
            float *exact = new_floats((size_t)n);
            memcpy(exact, input, (size_t)n * sizeof *input);
            sets[s].k->softmax(exact, n);
            memcpy(got, exact, (size_t)n * sizeof *exact);
            free(exact);
        }
        check(&sets[s], "softmax", shape, want, got, (size_t)n);
        free(got);
    }
    free(want);
    free(input);
}

/* silu_times on gates from every region of ttc_expf(-gate): ordinary
 * activations, large ones of either sign (the clamp above 88, the 0 below
 * -87 and the edges themselves), tiny ones and zeros of both signs; in place,
 * in buffers of exactly n (AddressSanitizer) with the up values beside. */
static void case_silu(int n)
{
    static const float edges[] = {87.0f, -87.0f, 88.0f, -88.0f, 87.5f, -88.5f, 0.0f, -0.0f,
                                  1e-30f, -1e-30f, 100.0f, -100.0f, 1e6f, -1e6f};
    float *gates = new_floats((size_t)n), *up = new_floats((size_t)n);
    for (int i = 0; i < n; i++) {
        const int style = rand_int(0, 9);
        gates[i] = style < 6   ? rand_float(-8, 3, 1)
                   : style < 8 ? rand_float(4, 7, 1)
                               : edges[rand_int(0, (int)(sizeof edges / sizeof *edges) - 1)];
        up[i] = rand_float(-8, 3, 1);
    }
    float *want = new_output((size_t)n);
    memcpy(want, gates, (size_t)n * sizeof *gates);
    ttc_kernels_generic.silu_times(want, up, n);
    char shape[32];
    snprintf(shape, sizeof shape, "n=%d", n);
    for (int s = 0; s < n_sets; s++) {
        float *exact = new_floats((size_t)n), *got = new_output((size_t)n);
        memcpy(exact, gates, (size_t)n * sizeof *gates);
        sets[s].k->silu_times(exact, up, n);
        memcpy(got, exact, (size_t)n * sizeof *exact);
        check(&sets[s], "silu_times", shape, want, got, (size_t)n);
        free(exact);
        free(got);
    }
    free(want);
    free(gates);
    free(up);
}

/* quantize_q8's inputs, group by group in one of several styles: like
 * activations, huge (up to FLT_MAX), tiny (subnormals among values down to
 * the smallest largest |x| allowed, 2^-121), zeros of both signs, ties
 * (max_abs 127 * 2^k, so that x * inverse lands on halves), or anything from
 * subnormal to huge. Zeros of both signs are sprinkled in everywhere. */
static void fill_quantize(float *x, int n, int group_size)
{
    const float smallest_max = 0x1p-121f; /* kernels.h */
    for (int g0 = 0; g0 < n; g0 += group_size) {
        float *xg = x + g0;
        const int style = rand_int(0, 5);
        const float tie_unit = (float)(1 << rand_int(0, 2)) / 4.0f;
        float max_abs = 0.0f;
        for (int i = 0; i < group_size; i++) {
            float v;
            switch (style) {
            case 0: v = rand_float(-12, 4, 1); break;
            case 1: v = rand_int(0, 15) == 0 ? FLT_MAX : rand_float(100, 127, 1); break;
            case 2: v = rand_float(-127, -115, 1); break; /* -127: subnormal */
            case 3: v = 0.0f; break;
            case 4: v = (float)rand_int(-254, 254) * tie_unit; break;
            default: v = rand_float(-127, 127, 1); break;
            }
            if (rand_int(0, 7) == 0)
                v = 0.0f;
            xg[i] = (next_u64() & 1) ? -v : v;
            max_abs = fabsf(v) > max_abs ? fabsf(v) : max_abs;
        }
        float *pick = &xg[rand_int(0, group_size - 1)];
        if (style == 4)
            *pick = 254.0f * tie_unit; /* max_abs, inverse a power of 2 */
        else if (max_abs > 0.0f && max_abs < smallest_max)
            *pick = rand_int(0, 1) ? smallest_max : rand_float(-121, -115, 0);
        if (style == 4 || style == 2)
            *pick = (next_u64() & 1) ? -*pick : *pick;
    }
}

/* As check(), for quantize_q8's int8 output, whose guard bytes hold -128 (a
 * value it never produces). */
static void check_q(kernel_set *s, const char *shape, const int8_t *want, const int8_t *got,
                    size_t n)
{
    size_t i = 0;
    while (i < n + GUARD && want[i] == got[i] && (i < n || got[i] == -128))
        i++;
    if (i == n + GUARD) {
        s->passed++;
    } else if (++s->failed <= 5) {
        if (i < n)
            printf("FAIL %s quantize_q8 %s: q[%zu] = %d, generic %d\n", s->name, shape, i,
                   got[i], want[i]);
        else
            printf("FAIL %s quantize_q8 %s: wrote past the end of q\n", s->name, shape);
    }
}

static int8_t *new_q(size_t n)
{
    int8_t *p = malloc(n + GUARD);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    memset(p, 0x80, n + GUARD);
    return p;
}

static void case_quantize(int n, int group_size)
{
    const int groups = n / group_size;
    /* x ends where its allocation does, at a random misalignment */
    const int offset = rand_int(0, 7);
    float *block = new_floats((size_t)n + offset);
    float *x = block + offset;
    fill_quantize(x, n, group_size);

    int8_t *want_q = new_q((size_t)n);
    float *want_scales = new_output((size_t)groups);
    ttc_kernels_generic.quantize_q8(want_q, want_scales, x, n, group_size);
    char shape[64];
    snprintf(shape, sizeof shape, "n=%d group_size=%d", n, group_size);
    for (int s = 0; s < n_sets; s++) {
        const int q_offset = rand_int(0, 3);
        int8_t *got_block = new_q((size_t)n + q_offset);
        float *got_scales = new_output((size_t)groups);
        sets[s].k->quantize_q8(got_block + q_offset, got_scales, x, n, group_size);
        check_q(&sets[s], shape, want_q, got_block + q_offset, (size_t)n);
        check(&sets[s], "quantize_q8 scales", shape, want_scales, got_scales, (size_t)groups);
        free(got_block);
        free(got_scales);
    }
    free(want_q);
    free(want_scales);
    free(block);
}

/* ---- the shapes ---- */

static void run_matmul_cases(void)
{
    static const int group_sizes[] = {32, 64, 128};
    static const int group_counts[] = {1, 2, 3, 9};
    static const int tokens[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 37, 64};
    for (size_t g = 0; g < sizeof group_sizes / sizeof *group_sizes; g++)
        for (size_t c = 0; c < sizeof group_counts / sizeof *group_counts; c++)
            for (size_t t = 0; t < sizeof tokens / sizeof *tokens; t++) {
                const int cols = group_sizes[g] * group_counts[c];
                /* Every row count up to 70 for few tokens; a sample for many. */
                const int step = tokens[t] > 9 ? 7 : 1;
                for (int rows = 1; rows <= 70; rows += step)
                    case_matmul(tokens[t], rows, cols, group_sizes[g]);
            }
    /* A few larger random shapes. */
    for (int i = 0; i < 20; i++) {
        const int group_size = 32 << rand_int(0, 2);
        case_matmul(rand_int(1, 80), rand_int(1, 300), group_size * rand_int(1, 12), group_size);
    }
}

static void run_attention_cases(void)
{
    static const int head_dims[] = {1, 3, 16, 31, 32, 33, 48, 64, 80, 127};
    static const int lengths[] = {1,  2,  3,  4,  5,  6,   7,   8,   9,   15,  16,
                                  17, 31, 32, 33, 63, 64, 65, 100, 255, 256, 300};
    for (size_t h = 0; h < sizeof head_dims / sizeof *head_dims; h++)
        for (size_t n = 0; n < sizeof lengths / sizeof *lengths; n++)
            case_scores(lengths[n], head_dims[h]);
    for (int i = 0; i < 200; i++)
        case_scores(rand_int(1, 300), rand_int(1, 160));
    /* several queries from packed keys: every count of a block of 8 and past it */
    static const int packed_head_dims[] = {1, 3, 4, 5, 16, 47, 48, 64, 127};
    static const int packed_lengths[] = {1, 2, 15, 16, 17, 33, 100, 300};
    for (int queries = 1; queries <= 17; queries++)
        for (size_t h = 0; h < sizeof packed_head_dims / sizeof *packed_head_dims; h++)
            for (size_t n = 0; n < sizeof packed_lengths / sizeof *packed_lengths; n++)
                case_packed_scores(queries, packed_lengths[n], packed_head_dims[h]);
    for (int i = 0; i < 200; i++)
        case_packed_scores(rand_int(1, 20), rand_int(1, 600), rand_int(1, 160));

    /* values: every head_dim to 70 (the kernels' chunks of 4, 8 and 16
     * outputs and their tails), lengths around the blocks of 256 keys */
    static const int value_lengths[] = {1,   2,   3,   4,   5,   7,   8,    9,    16,  17,
                                        31,  32,  33,  64,  65,  100, 255,  256,  257, 258,
                                        511, 512, 513, 767, 1499, 1500, 2047, 2048};
    for (int head_dim = 1; head_dim <= 70; head_dim++)
        for (size_t n = 0; n < sizeof value_lengths / sizeof *value_lengths; n++)
            if (value_lengths[n] <= 300 || head_dim % 16 == 0 || head_dim % 16 == 1)
                case_values(value_lengths[n], head_dim);
    for (int i = 0; i < 300; i++)
        case_values(rand_int(1, 1100), rand_int(1, 160));
}

static void run_values_definition_cases(void)
{
    static const int head_dims[] = {1, 7, 8, 48, 63, 64, 65, 127, 128, 129, 160};
    static const int lengths[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 33, 255, 256, 257, 300, 513, 1500};
    for (size_t h = 0; h < sizeof head_dims / sizeof *head_dims; h++)
        for (size_t n = 0; n < sizeof lengths / sizeof *lengths; n++)
            for (int style = 0; style < VALUES_STYLES; style++)
                case_values_definition(lengths[n], head_dims[h], style);
    printf("generic attention_values_q8 against its definition: %s\n",
           definition_failures ? "FAILED" : "ok");
}

/* The definitions of matmul_q8, softmax and quantize_q8 (kernels.h), transcribed
 * literally, each float operation rounding once; the generic kernels must give
 * exactly these, bit for bit. */
static void matmul_by_definition(float *out, const int8_t *x, const float *xs, int n_tokens,
                                 const int8_t *w, const float *ws, int rows, int cols,
                                 int group_size)
{
    const int groups = cols / group_size;
    for (int t = 0; t < n_tokens; t++)
        for (int r = 0; r < rows; r++) {
            float acc = 0.0f;
            for (int g = 0; g < groups; g++) {
                int32_t dot = 0;
                for (int i = g * group_size; i < (g + 1) * group_size; i++)
                    dot += (int32_t)x[(size_t)t * cols + i] * w[(size_t)r * cols + i];
                const float scale = ws[(size_t)r * groups + g] * xs[(size_t)t * groups + g];
                acc = acc + (float)dot * scale;
            }
            out[(size_t)t * rows + r] = acc;
        }
}

static void softmax_by_definition(float *x, int n)
{
    float max = x[0];
    for (int i = 1; i < n; i++)
        max = x[i] > max ? x[i] : max;
    float lane[8] = {0};
    for (int i = 0; i < n; i++) {
        x[i] = ttc_softmax_expf(x[i] - max);
        lane[i % 8] = lane[i % 8] + x[i];
    }
    const float sum = ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
                      ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    const float inverse = 1.0f / sum;
    for (int i = 0; i < n; i++)
        x[i] = x[i] * inverse;
}

static void quantize_by_definition(int8_t *q, float *scales, const float *x, int n,
                                   int group_size)
{
    for (int g = 0; g < n / group_size; g++) {
        float max_abs = 0.0f;
        for (int i = g * group_size; i < (g + 1) * group_size; i++)
            max_abs = fabsf(x[i]) > max_abs ? fabsf(x[i]) : max_abs;
        const float inverse = max_abs > 0.0f ? 127.0f / max_abs : 0.0f;
        scales[g] = max_abs / 127.0f;
        for (int i = g * group_size; i < (g + 1) * group_size; i++)
            q[i] = (int8_t)ttc_round_even(x[i] * inverse);
    }
}

/* Counts a generic kernel's output that differs from its definition's. */
static void compare_to_definition(const char *kernel, const char *shape, const void *want,
                                  const void *got, size_t bytes)
{
    if (memcmp(want, got, bytes) != 0 && ++definition_failures <= 5)
        printf("FAIL generic %s %s differs from its definition\n", kernel, shape);
}

static void run_other_definition_cases(void)
{
    const int before = definition_failures;
    char shape[96];
    static const int matmul_shapes[][4] = {{1, 1, 32, 32}, {3, 11, 96, 32}, {5, 7, 64, 64},
                                           {2, 33, 288, 32}, {4, 9, 768, 256}};
    for (size_t c = 0; c < sizeof matmul_shapes / sizeof *matmul_shapes; c++) {
        const int *m = matmul_shapes[c];
        const int n_tokens = m[0], rows = m[1], cols = m[2], group_size = m[3];
        const int groups = cols / group_size;
        i8_buffer x = new_i8((size_t)n_tokens * cols, 0);
        i8_buffer w = new_i8((size_t)rows * cols, 0);
        float *xs = new_floats((size_t)n_tokens * groups);
        float *ws = new_floats((size_t)rows * groups);
        fill_scales(xs, (size_t)n_tokens * groups, -12, 0, 1);
        fill_scales(ws, (size_t)rows * groups, -16, -4, 1);
        float *want = new_floats((size_t)n_tokens * rows);
        float *got = new_floats((size_t)n_tokens * rows);
        matmul_by_definition(want, x.p, xs, n_tokens, w.p, ws, rows, cols, group_size);
        ttc_kernels_generic.matmul_q8(got, x.p, xs, n_tokens, w.p, ws, rows, cols, group_size);
        snprintf(shape, sizeof shape, "n_tokens=%d rows=%d cols=%d", n_tokens, rows, cols);
        compare_to_definition("matmul_q8", shape, want, got, (size_t)n_tokens * rows * 4);
        free(want);
        free(got);
        free(x.block);
        free(w.block);
        free(xs);
        free(ws);
    }
    static const int softmax_lengths[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40,
                                          100, 300, 1000, 1500, 4096};
    for (size_t l = 0; l < sizeof softmax_lengths / sizeof *softmax_lengths; l++)
        for (int style = 0; style < 5; style++) {
            const int n = softmax_lengths[l];
            float *want = new_floats((size_t)n);
            float *got = new_floats((size_t)n);
            fill_softmax(want, n, style);
            memcpy(got, want, (size_t)n * sizeof *want);
            softmax_by_definition(want, n);
            ttc_kernels_generic.softmax(got, n);
            snprintf(shape, sizeof shape, "n=%d style=%d", n, style);
            compare_to_definition("softmax", shape, want, got, (size_t)n * sizeof *got);
            free(want);
            free(got);
        }
    static const int quantize_shapes[][2] = {{1, 1}, {7, 7}, {48, 48}, {64, 64}, {99, 33},
                                             {288, 32}, {768, 32}, {1024, 256}};
    for (size_t c = 0; c < sizeof quantize_shapes / sizeof *quantize_shapes; c++)
        for (int repeat = 0; repeat < 20; repeat++) {
            const int n = quantize_shapes[c][0], group_size = quantize_shapes[c][1];
            float *x = new_floats((size_t)n);
            fill_quantize(x, n, group_size);
            int8_t *want_q = new_q((size_t)n), *got_q = new_q((size_t)n);
            float *want_scales = new_floats((size_t)(n / group_size));
            float *got_scales = new_floats((size_t)(n / group_size));
            quantize_by_definition(want_q, want_scales, x, n, group_size);
            ttc_kernels_generic.quantize_q8(got_q, got_scales, x, n, group_size);
            snprintf(shape, sizeof shape, "n=%d group_size=%d", n, group_size);
            compare_to_definition("quantize_q8", shape, want_q, got_q, (size_t)n);
            compare_to_definition("quantize_q8 scales", shape, want_scales, got_scales,
                                  (size_t)(n / group_size) * sizeof *got_scales);
            free(x);
            free(want_q);
            free(got_q);
            free(want_scales);
            free(got_scales);
        }
    printf("generic matmul_q8, softmax and quantize_q8 against their definitions: %s\n",
           definition_failures > before ? "FAILED" : "ok");
}

static void run_quantize_cases(void)
{
    /* activations: the model's group sizes, 1 to 12 groups */
    static const int group_sizes[] = {32, 64, 128, 256};
    for (size_t g = 0; g < sizeof group_sizes / sizeof *group_sizes; g++)
        for (int groups = 1; groups <= 12; groups++)
            for (int repeat = 0; repeat < 4; repeat++)
                case_quantize(group_sizes[g] * groups, group_sizes[g]);
    /* attention heads: one group, every size up to 300 */
    for (int n = 1; n <= 300; n++)
        for (int repeat = 0; repeat < 3; repeat++)
            case_quantize(n, n);
    for (int i = 0; i < 1000; i++) {
        const int group_size = rand_int(1, 300);
        case_quantize(group_size * rand_int(1, 10), group_size);
    }
}

/* The generic quantize_q8 on groups worked out by hand: round half to even,
 * ±0, a group of zeros. Returns the number of failures. */
static int check_quantize_examples(void)
{
    static const float x[16] = {127.0f, -63.5f, 0.5f, 1.5f, -2.5f, -0.0f, 3.25f, -127.0f,
                                254.0f, 1.0f, 3.0f, -5.0f, /* inverse 0.5 */
                                0.0f, -0.0f, -0.0f, 0.0f};
    static const int8_t want_q[16] = {127, -64, 0, 2, -2, 0, 3, -127, 127, 0, 2, -2, 0, 0, 0, 0};
    static const float want_scales[3] = {1.0f, 2.0f, 0.0f};
    int8_t q[16];
    float scales[3];
    ttc_kernels_generic.quantize_q8(q, scales, x, 8, 8);
    ttc_kernels_generic.quantize_q8(q + 8, scales + 1, x + 8, 8, 4);
    const int failed =
        memcmp(q, want_q, sizeof q) != 0 || memcmp(scales, want_scales, sizeof scales) != 0;
    printf("generic quantize_q8 on known values: %s\n", failed ? "FAILED" : "ok");
    return failed;
}

static void run_silu_cases(void)
{
    for (int n = 1; n <= 70; n++)
        case_silu(n);
    for (int i = 0; i < 100; i++)
        case_silu(rand_int(1, 3000));
}

static void run_softmax_cases(void)
{
    for (int n = 1; n <= 300; n++)
        for (int style = 0; style < 5; style++)
            case_softmax(n, style);
    static const int larger[] = {511, 512, 513, 1000, 1500, 1501, 2048, 4096, 5003};
    for (size_t i = 0; i < sizeof larger / sizeof *larger; i++)
        for (int style = 0; style < 5; style++)
            case_softmax(larger[i], style);
    for (int i = 0; i < 50; i++)
        case_softmax(rand_int(1, 3000), rand_int(0, 4));
}

/* The error tally of an exponential against exp(). */
typedef struct {
    const char *name;
    float (*fn)(float);
    double limit, worst;
    float worst_x;
    long checked;
    int failed;
} expf_tally;

static void check_expf_at(expf_tally *t, float x)
{
    const double want = exp((double)x);
    const double got = (double)t->fn(x);
    const double error = fabs(got - want) / want;
    t->checked++;
    if (error > t->worst) {
        t->worst = error;
        t->worst_x = x;
    }
    if (error > t->limit && ++t->failed <= 5)
        printf("FAIL %s(%.9g) = %.9g, exp() %.9g: relative error %.3g\n", t->name, (double)x,
               got, want, error);
}

/* Every 331st float of the sign from 0 up to the magnitude of end (all
 * exponents, many mantissas), end itself, and a grid of step 1e-4 over
 * [lowest, highest]. */
static void check_expf_range(expf_tally *t, float end, float lowest, float highest)
{
    uint32_t end_bits;
    memcpy(&end_bits, &end, sizeof end_bits);
    const uint32_t sign = end_bits & 0x80000000u, top = end_bits & 0x7fffffffu;
    for (uint32_t b = 0;; b += 331) {
        const int last = b >= top;
        const uint32_t bits = sign | (last ? top : b);
        float x;
        memcpy(&x, &bits, sizeof x);
        check_expf_at(t, x);
        if (last)
            break;
    }
    for (int i = 0;; i++) {
        const float x = lowest + (float)i * 1e-4f;
        if (x > highest)
            break;
        check_expf_at(t, x);
    }
}

static int report_expf(const expf_tally *t, const char *range)
{
    printf("%s: %ld values in %s, worst relative error %.3g at %.9g (limit %.0e): %s\n",
           t->name, t->checked, range, t->worst, (double)t->worst_x, t->limit,
           t->failed ? "FAILED" : "ok");
    return t->failed;
}

static float expf_accurate(float x)
{
    return ttc_expf(x);
}

static float expf_softmax(float x)
{
    return ttc_softmax_expf(x);
}

/* ttc_expf within 3e-7 relative error of exp() over [-87, 88], 0 below -87
 * and clamped above 88; ttc_softmax_expf within 5e-6 over [-87, 0] and 3e-7
 * over [-1, 0], 1 at 0 and 0 below -87 or for NaN. Returns the number of
 * failures. */
static int check_expf(void)
{
    expf_tally accurate = {.name = "ttc_expf", .fn = expf_accurate, .limit = 3e-7};
    check_expf_range(&accurate, TTC_EXP_HIGHEST, -87.0f, 88.0f);
    check_expf_range(&accurate, TTC_EXP_LOWEST, 1.0f, 0.0f); /* the negative floats; no grid */
    if (ttc_expf(-87.000008f) != 0.0f || ttc_expf(-1000.0f) != 0.0f ||
        ttc_expf(100.0f) != ttc_expf(88.0f)) {
        printf("FAIL ttc_expf: 0 below -87 and clamped above 88\n");
        accurate.failed++;
    }
    int failed = report_expf(&accurate, "[-87, 88]");

    expf_tally softmax = {.name = "ttc_softmax_expf", .fn = expf_softmax, .limit = 5e-6};
    check_expf_range(&softmax, TTC_EXP_LOWEST, -87.0f, 0.0f);
    expf_tally near_zero = {.name = "ttc_softmax_expf", .fn = expf_softmax, .limit = 3e-7};
    check_expf_range(&near_zero, -1.0f, -1.0f, 0.0f);
    if (ttc_softmax_expf(0.0f) != 1.0f || ttc_softmax_expf(-0.0f) != 1.0f ||
        ttc_softmax_expf(-87.000008f) != 0.0f || ttc_softmax_expf(-1000.0f) != 0.0f ||
        ttc_softmax_expf(-__builtin_inff()) != 0.0f || ttc_softmax_expf(__builtin_nanf("")) != 0.0f) {
        printf("FAIL ttc_softmax_expf: 1 at 0, 0 below -87 and for NaN\n");
        softmax.failed++;
    }
    failed += report_expf(&softmax, "[-87, 0]");
    return failed + report_expf(&near_zero, "[-1, 0]");
}

/* The selection functions: names, fallbacks and the best set. */
static int check_selection(void)
{
    int failed = 0;
    const ttc_kernels *best = ttc_kernels_best();
    if (best == NULL || ttc_kernels_by_name(best->name) != best) {
        printf("FAIL ttc_kernels_best() is not a supported set\n");
        failed++;
    }
    if (ttc_kernels_by_name("generic") != &ttc_kernels_generic) {
        printf("FAIL ttc_kernels_by_name(\"generic\")\n");
        failed++;
    }
    static const char *const unknown[] = {"", "avx", "avx5", "avx512vnnix", "Generic", "generi"};
    for (size_t i = 0; i < sizeof unknown / sizeof *unknown; i++)
        if (ttc_kernels_by_name(unknown[i]) != NULL) {
            printf("FAIL ttc_kernels_by_name(\"%s\") is not NULL\n", unknown[i]);
            failed++;
        }
    if (ttc_kernels_by_name(NULL) != NULL) {
        printf("FAIL ttc_kernels_by_name(NULL) is not NULL\n");
        failed++;
    }
    for (int s = 0; s < n_sets; s++)
        if (strcmp(sets[s].k->name, sets[s].name) != 0) {
            printf("FAIL ttc_kernels_by_name(\"%s\") has name \"%s\"\n", sets[s].name,
                   sets[s].k->name);
            failed++;
        }
    for (int s = 0; s < n_sets; s++)
        if (!ttc_kernels_self_check(sets[s].k)) {
            printf("FAIL %s does not pass ttc_kernels_self_check\n", sets[s].name);
            failed++;
        }
    printf("selection: best is %s, %s\n", best != NULL ? best->name : "(none)",
           failed ? "FAILED" : "ok");
    return failed;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        rng_state = strtoull(argv[1], NULL, 0);

    for (int i = 0; i < MAX_SETS; i++) {
        const ttc_kernels *k = ttc_kernels_by_name(SET_NAMES[i]);
        if (k == NULL) {
            printf("%s: skipped, not supported by this CPU or build\n", SET_NAMES[i]);
            continue;
        }
        sets[n_sets].name = SET_NAMES[i];
        sets[n_sets].k = k;
        n_sets++;
    }

    int failed = check_selection();
    failed += check_expf();
    int passed = failed == 0;
    run_matmul_cases();
    run_attention_cases();
    run_values_definition_cases();
    run_other_definition_cases();
    failed += definition_failures;
    run_softmax_cases();
    run_silu_cases();
    failed += check_quantize_examples();
    run_quantize_cases();

    for (int s = 0; s < n_sets; s++) {
        printf("%s: %d passed, %d failed\n", sets[s].name, sets[s].passed, sets[s].failed);
        passed += sets[s].passed;
        failed += sets[s].failed;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
