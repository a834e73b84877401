/* Choosing a kernel set at run time. Each architecture file reports whether
 * the running CPU can use its set; this file only asks the ones built for
 * this architecture. No state is kept and no libc is needed (the file is
 * also compiled freestanding for wasm32). */
#include "kernels.h"
#include "ttc_math.h"

#if defined(__x86_64__) || defined(__i386__)
#define TTC_X86 1
#endif

static int same_name(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

const ttc_kernels *ttc_kernels_best(void)
{
    const ttc_kernels *k = NULL;
#if defined(TTC_X86)
    k = ttc_kernels_avx512vnni();
    if (k == NULL)
        k = ttc_kernels_avx512();
    if (k == NULL)
        k = ttc_kernels_avx2();
#elif defined(__aarch64__)
    k = ttc_kernels_neon();
#elif defined(__wasm__)
    k = ttc_kernels_wasm();
#endif
    return k != NULL ? k : &ttc_kernels_generic;
}

const ttc_kernels *ttc_kernels_by_name(const char *name)
{
    if (name == NULL)
        return NULL;
    const ttc_kernels *k = NULL;
    if (same_name(name, "generic"))
        return &ttc_kernels_generic;
#if defined(TTC_X86)
    if (same_name(name, "avx2"))
        k = ttc_kernels_avx2();
    else if (same_name(name, "avx512"))
        k = ttc_kernels_avx512();
    else if (same_name(name, "avx512vnni"))
        k = ttc_kernels_avx512vnni();
#elif defined(__aarch64__)
    if (same_name(name, "neon"))
        k = ttc_kernels_neon();
#elif defined(__wasm__)
    if (same_name(name, "wasm"))
        k = ttc_kernels_wasm();
#endif
    return k;
}

/* ---- self-check (kernels.h) ---- */

/* Outputs get this many extra elements, which must keep their marker. */
enum { CHECK_GUARD = 4 };

static uint32_t check_next(uint32_t *state) /* xorshift32 */
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

/* int8 in [-127, 127]; style 0: uniform with one in 4 at +-127; style 1:
 * +-127 only (the largest sums). */
static void check_int8(int8_t *a, int n, uint32_t *state, int style)
{
    for (int i = 0; i < n; i++) {
        const uint32_t r = check_next(state);
        if (style == 1 || r % 4 == 0)
            a[i] = (r >> 8) % 2 ? 127 : -127;
        else
            a[i] = (int8_t)((int)((r >> 8) % 255) - 127);
    }
}

/* floats with random mantissas, exponents in [min_exp, max_exp]. */
static void check_floats(float *a, int n, uint32_t *state, int min_exp, int max_exp, int sign)
{
    for (int i = 0; i < n; i++) {
        const uint32_t r = check_next(state);
        const uint32_t e = (uint32_t)(min_exp + (int)((r >> 23) % (uint32_t)(max_exp - min_exp + 1)));
        const uint32_t bits = (sign && (r & 1) ? 0x80000000u : 0u) | ((e + 127u) << 23) |
                              (check_next(state) & 0x7fffffu);
        __builtin_memcpy(&a[i], &bits, sizeof bits);
    }
}

static void check_mark(void *a, int n_bytes)
{
    unsigned char *b = a;
    for (int i = 0; i < n_bytes; i++)
        b[i] = (unsigned char)(0xa5 ^ i);
}

static int check_same(const void *a, const void *b, int n_bytes)
{
    const unsigned char *x = a, *y = b;
    int differ = 0;
    for (int i = 0; i < n_bytes; i++)
        differ |= x[i] ^ y[i];
    return differ == 0;
}

/* Room for the checks' shapes in a set's packed copies (weights, keys). */
static unsigned char packed[4096];

static int check_matmul(const ttc_kernels *k, int n_tokens, int rows, int cols, int group_size,
                        int style, uint32_t seed)
{
    int8_t x[4 * 128], w[11 * 128];
    float xs[4 * 4], ws[11 * 4], want[4 * 11 + CHECK_GUARD], got[4 * 11 + CHECK_GUARD];
    const int groups = cols / group_size, n_out = n_tokens * rows;
    uint32_t state = seed;
    check_int8(x, n_tokens * cols, &state, style);
    check_int8(w, rows * cols, &state, style);
    check_floats(xs, n_tokens * groups, &state, -10, -4, 0);
    check_floats(ws, rows * groups, &state, -10, -4, 0);
    check_mark(want, (int)sizeof want);
    check_mark(got, (int)sizeof got);
    ttc_kernels_generic.matmul_q8(want, x, xs, n_tokens, w, ws, rows, cols, group_size);
    k->matmul_q8(got, x, xs, n_tokens, w, ws, rows, cols, group_size);
    int ok = check_same(want, got, (n_out + CHECK_GUARD) * (int)sizeof(float));
    if (k->pack_q8) {
        if (k->packed_q8_size(rows, cols, group_size) > sizeof packed)
            return 0;
        k->pack_q8(packed, w, ws, rows, cols, group_size);
        check_mark(got, (int)sizeof got);
        k->matmul_packed_q8(got, x, xs, n_tokens, packed, rows, cols, group_size);
        ok &= check_same(want, got, (n_out + CHECK_GUARD) * (int)sizeof(float));
    }
    return ok;
}

static int check_scores(const ttc_kernels *k, int n_keys, int head_dim, int style, uint32_t seed)
{
    enum { STRIDE = 64, KEYS = 19 };
    int8_t q[STRIDE], keys[KEYS * STRIDE];
    float key_scales[KEYS], want[KEYS + CHECK_GUARD], got[KEYS + CHECK_GUARD];
    uint32_t state = seed;
    check_int8(q, STRIDE, &state, style);
    check_int8(keys, KEYS * STRIDE, &state, style);
    check_floats(key_scales, KEYS, &state, -10, -4, 0);
    check_mark(want, (int)sizeof want);
    check_mark(got, (int)sizeof got);
    ttc_kernels_generic.attention_scores_q8(want, q, 0.0123f, keys, key_scales, n_keys, head_dim,
                                           STRIDE);
    k->attention_scores_q8(got, q, 0.0123f, keys, key_scales, n_keys, head_dim, STRIDE);
    int ok = check_same(want, got, (n_keys + CHECK_GUARD) * (int)sizeof(float));
    if (k->pack_key) {
        /* two queries, the second the last key's bytes, both rows in want and got */
        int8_t queries[2 * STRIDE];
        const float query_scales[2] = {0.0123f, -0.5f};
        float want2[2 * KEYS + CHECK_GUARD], got2[2 * KEYS + CHECK_GUARD];
        if (k->packed_keys_size(n_keys, head_dim) > sizeof packed)
            return 0;
        for (int i = 0; i < head_dim; i++) {
            queries[i] = q[i];
            queries[head_dim + i] = keys[(n_keys - 1) * STRIDE + i];
        }
        check_mark(want2, (int)sizeof want2);
        check_mark(got2, (int)sizeof got2);
        for (int j = 0; j < 2; j++)
            ttc_kernels_generic.attention_scores_q8(want2 + j * n_keys, queries + j * head_dim,
                                                   query_scales[j], keys, key_scales, n_keys,
                                                   head_dim, STRIDE);
        for (int t = 0; t < n_keys; t++)
            k->pack_key(packed, t, keys + t * STRIDE, head_dim);
        k->attention_scores_packed_q8(got2, n_keys, queries, query_scales, 2, packed, key_scales,
                                      n_keys, head_dim);
        ok &= check_same(want2, got2, (2 * n_keys + CHECK_GUARD) * (int)sizeof(float));
    }
    return ok;
}

static int check_values(const ttc_kernels *k, int n_values, int head_dim, int style,
                        uint32_t seed)
{
    enum { VALUES = 301, DIM = 48 };
    int8_t values[(VALUES + TTC_VALUES_KEY_GROUP - 1) * DIM];
    float weights[VALUES], value_scales[VALUES], want[DIM + CHECK_GUARD], got[DIM + CHECK_GUARD];
    uint32_t state = seed;
    const int groups = (n_values + TTC_VALUES_KEY_GROUP - 1) / TTC_VALUES_KEY_GROUP;
    check_int8(values, groups * TTC_VALUES_KEY_GROUP * head_dim, &state, style);
    check_floats(weights, n_values, &state, -12, -1, 0);
    check_floats(value_scales, n_values, &state, -8, -4, 0);
    check_mark(want, (int)sizeof want);
    check_mark(got, (int)sizeof got);
    ttc_kernels_generic.attention_values_q8(want, weights, values, value_scales, n_values,
                                           head_dim);
    k->attention_values_q8(got, weights, values, value_scales, n_values, head_dim);
    return check_same(want, got, (head_dim + CHECK_GUARD) * (int)sizeof(float));
}

static int check_softmax_quantize(const ttc_kernels *k, uint32_t seed)
{
    enum { N = 37, QN = 96, QG = 32 };
    float want[N + CHECK_GUARD], got[N + CHECK_GUARD], x[QN];
    float want_scales[QN / QG], got_scales[QN / QG];
    int8_t want_q[QN], got_q[QN];
    uint32_t state = seed;
    check_mark(want, (int)sizeof want);
    check_floats(want, N, &state, -4, 4, 1);
    __builtin_memcpy(got, want, sizeof got);
    ttc_kernels_generic.softmax(want, N);
    k->softmax(got, N);
    int ok = check_same(want, got, (int)sizeof want);

    /* silu_times on the same inputs as gates (-4 .. 4 in magnitude), and the
     * edges of ttc_expf's range */
    float up[N];
    check_floats(up, N, &state, -4, 4, 1);
    check_mark(want, (int)sizeof want);
    check_floats(want, N, &state, -4, 4, 1);
    want[0] = 87.5f;
    want[1] = -88.5f;
    __builtin_memcpy(got, want, sizeof got);
    ttc_kernels_generic.silu_times(want, up, N);
    k->silu_times(got, up, N);
    ok &= check_same(want, got, (int)sizeof want);

    check_floats(x, QN, &state, -6, 3, 1);
    for (int i = QG; i < 2 * QG; i++)
        x[i] = 0.0f; /* a group of zeros */
    x[2 * QG + 3] = 0.5f * (float)(1 << 20); /* a large value among small ones */
    ttc_kernels_generic.quantize_q8(want_q, want_scales, x, QN, QG);
    k->quantize_q8(got_q, got_scales, x, QN, QG);
    ok &= check_same(want_q, got_q, QN);
    ok &= check_same(want_scales, got_scales, (int)sizeof want_scales);
    return ok;
}

int ttc_kernels_self_check(const ttc_kernels *k)
{
    if (k == NULL)
        return 0;
    int ok = 1;
    for (int style = 0; style < 2; style++) {
        const uint32_t seed = 0x9e3779b9u + 0x1000u * (uint32_t)style;
        ok &= check_matmul(k, 3, 11, 96, 32, style, seed + 1);
        ok &= check_matmul(k, 4, 9, 128, 64, style, seed + 2);
        ok &= check_matmul(k, 1, 8, 32, 32, style, seed + 3);
        ok &= check_scores(k, 19, 61, style, seed + 4); /* 16s, then 8, then 5 bytes */
        ok &= check_scores(k, 8, 48, style, seed + 5);
        ok &= check_scores(k, 3, 7, style, seed + 6);
        ok &= check_values(k, 301, 29, style, seed + 7); /* two blocks, a part group, a tail */
        ok &= check_values(k, 64, 48, style, seed + 8);
    }
    ok &= check_softmax_quantize(k, 0x2545f491u);
    return ok;
}
