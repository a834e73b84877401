/* AVX-512 kernels for x86, in two sets: "avx512" (F, BW, VL) and
 * "avx512vnni" (the same plus VNNI's vpdpbusd). The file is compiled with
 * plain flags: functions carry target attributes and the ttc_kernels_avx512*
 * functions check the CPU at run time.
 *
 * Results are bit-identical to kernels_generic.c: the int8 dot products are
 * exact, and the float work is done lane by lane in the reference's order,
 * one multiply then one add. AVX-512 implies FMA, so the pragma in kernels.h stops
 * the compiler from fusing them whatever the build flags say. */
#include "kernels.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#define ISA "avx512f,avx512bw,avx512vl"
#define TARGET __attribute__((target(ISA)))
#define TARGET_VNNI __attribute__((target(ISA ",avx512vnni")))
#define INLINE static inline __attribute__((target(ISA), always_inline))
#define INLINE_VNNI static inline __attribute__((target(ISA ",avx512vnni"), always_inline))

static int min_int(int a, int b)
{
    return a < b ? a : b;
}

/* ---- int8 products: the only place where the two sets differ ----
 * Both add the products of 64 int8 pairs to 16 int32 lanes, 4 per lane. The
 * shared code below takes one of them as a parameter; every call is inlined
 * with a constant argument, so each set gets its own straight-line code (a
 * VNNI function cannot be inlined into one compiled without VNNI, hence a
 * parameter rather than a shared helper). */
typedef __m512i dot_add_fn(__m512i acc, __m512i x, __m512i w);

/* w * sign(x): the unsigned x signed byte products then see |x|. */
INLINE __m512i sign_of_x_on_w(__m512i w, __m512i x)
{
    return _mm512_mask_sub_epi8(w, _mm512_movepi8_mask(x), _mm512_setzero_si512(), w);
}

/* vpmaddubsw's int16 sums of two products (at most 2 * 127 * 127, values
 * being in [-127, 127]) cannot saturate. */
INLINE __m512i dot_add_bw(__m512i acc, __m512i x, __m512i w)
{
    const __m512i p16 = _mm512_maddubs_epi16(_mm512_abs_epi8(x), sign_of_x_on_w(w, x));
    return _mm512_add_epi32(acc, _mm512_madd_epi16(p16, _mm512_set1_epi16(1)));
}

INLINE_VNNI __m512i dot_add_vnni(__m512i acc, __m512i x, __m512i w)
{
    return _mm512_dpbusd_epi32(acc, _mm512_abs_epi8(x), sign_of_x_on_w(w, x));
}

/* ---- loads and reductions ----
 * Int8 data is handled in 32-byte chunks (a group is 32 bytes or a multiple),
 * two to a register: each 256-bit half belongs to a different
 * (token, row) or (query, key) pair. */

INLINE __m256i load32(const int8_t *p)
{
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

/* [32 bytes at lo | 32 bytes at hi] */
INLINE __m512i load_pair(const int8_t *lo, const int8_t *hi)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(load32(lo)), load32(hi), 1);
}

/* The same with only the first n < 32 bytes of each, zeros above. */
INLINE __m512i load_pair_first(const int8_t *lo, const int8_t *hi, int n)
{
    const __mmask32 m = (__mmask32)((1ull << n) - 1);
    const __m256i a = _mm256_maskz_loadu_epi8(m, lo), b = _mm256_maskz_loadu_epi8(m, hi);
    return _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
}

/* [32 bytes at p | the same 32 bytes] */
INLINE __m512i load_twice(const int8_t *p)
{
    return _mm512_broadcast_i64x4(load32(p));
}

/* Sums per 256-bit half of d[0..7]. The result's 128-bit blocks are: low
 * halves of d[0..3], high halves of d[0..3], low halves of d[4..7], high
 * halves of d[4..7]; within a block, lane j belongs to d[j] or d[4 + j]. */
INLINE __m512i sum8x2(const __m512i d[8])
{
    __m512i e[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++)
        e[j] = _mm512_add_epi32(_mm512_unpacklo_epi32(d[2 * j], d[2 * j + 1]),
                                _mm512_unpackhi_epi32(d[2 * j], d[2 * j + 1]));
    /* Per 128-bit block, f0 = the block sums of d[0..3] and f1 of d[4..7]. */
    const __m512i f0 = _mm512_add_epi32(_mm512_unpacklo_epi64(e[0], e[1]),
                                        _mm512_unpackhi_epi64(e[0], e[1]));
    const __m512i f1 = _mm512_add_epi32(_mm512_unpacklo_epi64(e[2], e[3]),
                                        _mm512_unpackhi_epi64(e[2], e[3]));
    return _mm512_add_epi32(_mm512_shuffle_i32x4(f0, f1, _MM_SHUFFLE(2, 0, 2, 0)),
                            _mm512_shuffle_i32x4(f0, f1, _MM_SHUFFLE(3, 1, 3, 1)));
}

static __mmask16 first_lanes(int n)
{
    return (__mmask16)((1u << n) - 1);
}

/* ---- matmul_q8 ----
 * Tiles of one token x 16 weight rows: the rows' chunks are taken two to a
 * register, all against the same chunk of the token. Prefill takes every
 * token of a block through a tile before moving on, so that the tile's
 * weights come from memory once per block and its weight scales are
 * transposed once. (Register tiles of several tokens x fewer rows were
 * measured too: no faster, the integer units rather than loads being the
 * limit.) A tile at the end of the rows repeats the last row; only valid
 * lanes are stored. */

/* In-place transpose of the 16 x 16 matrix r[row] lane column. */
INLINE void transpose16(__m512 r[16])
{
    __m512 t[16], u[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* Then u[4i + c]'s 128-bit block k holds column 4k + c of rows 4i..4i+3. */
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        u[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        const __m512 even0 = _mm512_shuffle_f32x4(u[c], u[4 + c], _MM_SHUFFLE(2, 0, 2, 0));
        const __m512 odd0 = _mm512_shuffle_f32x4(u[c], u[4 + c], _MM_SHUFFLE(3, 1, 3, 1));
        const __m512 even1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], _MM_SHUFFLE(2, 0, 2, 0));
        const __m512 odd1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], _MM_SHUFFLE(3, 1, 3, 1));
        r[c] = _mm512_shuffle_f32x4(even0, even1, _MM_SHUFFLE(2, 0, 2, 0));
        r[4 + c] = _mm512_shuffle_f32x4(odd0, odd1, _MM_SHUFFLE(2, 0, 2, 0));
        r[8 + c] = _mm512_shuffle_f32x4(even0, even1, _MM_SHUFFLE(3, 1, 3, 1));
        r[12 + c] = _mm512_shuffle_f32x4(odd0, odd1, _MM_SHUFFLE(3, 1, 3, 1));
    }
}

/* wsT[j], lane i: the scale of group g0 + j in weight row i (scales at
 * ws_row[i]), for ng <= 16 groups. Loading along the rows and transposing
 * beats gathers, which are slow on some CPUs. */
INLINE void transposed_scales(__m512 wsT[16], const float *const ws_row[16], int g0, int ng)
{
    const __mmask16 m = first_lanes(ng);
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
        wsT[i] = _mm512_maskz_loadu_ps(m, ws_row[i] + g0);
    transpose16(wsT);
}

/* acc plus the contributions of groups g0 .. g0+ng-1 of one token x against
 * the weight rows wr, lane i for row i. */
INLINE __m512 tile_1x16(__m512 acc, const int8_t *x, const float *xs, const int8_t *const wr[16],
                        const __m512 wsT[16], int g0, int ng, int group_size,
                        dot_add_fn *dot_add)
{
    for (int g = g0; g < g0 + ng; g++) {
        /* d[j] pairs row j with row j + 4 (j < 4), row j + 4 with row j + 8
         * (j >= 4): sum8x2 then puts the rows in order. */
        __m512i d[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++)
            d[j] = _mm512_setzero_si512();
        for (int c = g * group_size; c < (g + 1) * group_size; c += 32) {
            const __m512i xv = load_twice(x + c);
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++) {
                const int lo = j < 4 ? j : j + 4;
                d[j] = dot_add(d[j], xv, load_pair(wr[lo] + c, wr[lo + 4] + c));
            }
        }
        /* acc + (float)dot * (ws * xs), in the reference's order */
        const __m512 scales = _mm512_mul_ps(wsT[g - g0], _mm512_set1_ps(xs[g]));
        acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_cvtepi32_ps(sum8x2(d)), scales));
    }
    return acc;
}

/* Tokens are taken in blocks of this many. */
enum { TOKEN_BLOCK = 64 };

INLINE void matmul_q8(float *out, const int8_t *x, const float *xs, int n_tokens,
                      const int8_t *w, const float *ws, int rows, int cols, int group_size,
                      dot_add_fn *dot_add)
{
    const int groups = cols / group_size;
    __m512 partial[TOKEN_BLOCK]; /* a tile's sums between chunks of 16 groups */

    for (int t0 = 0; t0 < n_tokens; t0 += TOKEN_BLOCK) {
        const int t_end = min_int(t0 + TOKEN_BLOCK, n_tokens);
        for (int r = 0; r < rows; r += 16) {
            const int n = min_int(16, rows - r);
            const int8_t *wr[16];
            const float *ws_row[16];
            for (int i = 0; i < 16; i++) {
                const int row = r + min_int(i, n - 1);
                wr[i] = w + (size_t)row * cols;
                ws_row[i] = ws + (size_t)row * groups;
            }
            for (int g0 = 0; g0 < groups; g0 += 16) {
                const int ng = min_int(16, groups - g0);
                __m512 wsT[16];
                transposed_scales(wsT, ws_row, g0, ng);
                for (int t = t0; t < t_end; t++) {
                    __m512 acc = g0 == 0 ? _mm512_setzero_ps() : partial[t - t0];
                    acc = tile_1x16(acc, x + (size_t)t * cols, xs + (size_t)t * groups, wr, wsT,
                                    g0, ng, group_size, dot_add);
                    if (g0 + ng < groups)
                        partial[t - t0] = acc;
                    else
                        _mm512_mask_storeu_ps(out + (size_t)t * rows + r, first_lanes(n), acc);
                }
            }
        }
    }
}

/* ---- attention ---- */

/* d[j] += the products of q[i .. i+n) and those of its keys (n <= 32; the
 * pairing of keys is the one of tile_1x16). */
INLINE void dot_keys_chunk(__m512i d[8], const int8_t *q, const int8_t *const k[16], int i,
                           int n, dot_add_fn *dot_add)
{
    const __m512i qv = n == 32 ? load_twice(q + i) : load_pair_first(q + i, q + i, n);
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) {
        const int lo = j < 4 ? j : j + 4;
        const __m512i kv = n == 32 ? load_pair(k[lo] + i, k[lo + 4] + i)
                                   : load_pair_first(k[lo] + i, k[lo + 4] + i, n);
        d[j] = dot_add(d[j], qv, kv);
    }
}

/* Keys are taken 16 at a time; the last block repeats its last key. */
INLINE void attention_scores_q8(float *out, const int8_t *q, float q_scale, const int8_t *keys,
                                const float *key_scales, int n_keys, int head_dim,
                                int key_stride, dot_add_fn *dot_add)
{
    const __m512 qs = _mm512_set1_ps(q_scale);
    for (int t = 0; t < n_keys; t += 16) {
        const int n = min_int(16, n_keys - t);
        const int8_t *k[16];
        for (int j = 0; j < 16; j++)
            k[j] = keys + (size_t)(t + min_int(j, n - 1)) * key_stride;

        __m512i d[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++)
            d[j] = _mm512_setzero_si512();
        int i = 0;
        for (; i + 32 <= head_dim; i += 32)
            dot_keys_chunk(d, q, k, i, 32, dot_add);
        if (i < head_dim)
            dot_keys_chunk(d, q, k, i, head_dim - i, dot_add);

        const __m512 dots = _mm512_cvtepi32_ps(sum8x2(d));
        const __m512 ks = _mm512_maskz_loadu_ps(first_lanes(n), key_scales + t);
        const __m512 y = _mm512_mul_ps(dots, _mm512_mul_ps(qs, ks));
        _mm512_mask_storeu_ps(out + t, first_lanes(n), y);
    }
}

/* The int8 values at p selected by m, as floats. */
INLINE __m512 load16_ps(const int8_t *p, __mmask16 m)
{
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, p)));
}

/* out[0 .. n) over all values, n <= 16 * nb, kept in nb <= 4 registers. nb
 * is a constant after inlining; the loops run to a literal 4 and test j < nb
 * so that both gcc and clang unroll them and keep acc in registers. */
INLINE void values_block(float *out, const float *weights, const int8_t *values,
                         const float *value_scales, int n_values, int value_stride, int n,
                         int nb)
{
    __mmask16 m[4];
    __m512 acc[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        const int left = n - 16 * j; /* outputs from 16 * j on */
        m[j] = first_lanes(left >= 16 ? 16 : left > 0 ? left : 0);
        acc[j] = _mm512_setzero_ps();
    }
    for (int t = 0; t < n_values; t++) {
        const int8_t *v = values + (size_t)t * value_stride;
        const __m512 a = _mm512_set1_ps(weights[t] * value_scales[t]);
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
            if (j < nb)
                acc[j] = _mm512_add_ps(acc[j], _mm512_mul_ps(a, load16_ps(v + 16 * j, m[j])));
    }
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++)
        if (j < nb)
            _mm512_mask_storeu_ps(out + 16 * j, m[j], acc[j]);
}

/* No int8 products here: one function serves both sets. */
static TARGET void attention_values_q8(float *out, const float *weights, const int8_t *values,
                                       const float *value_scales, int n_values, int head_dim,
                                       int value_stride)
{
    for (int i = 0; i < head_dim; i += 64) {
        const int n = min_int(64, head_dim - i);
        float *o = out + i;
        const int8_t *v = values + i;
        switch ((n + 15) / 16) {
        case 1: values_block(o, weights, v, value_scales, n_values, value_stride, n, 1); break;
        case 2: values_block(o, weights, v, value_scales, n_values, value_stride, n, 2); break;
        case 3: values_block(o, weights, v, value_scales, n_values, value_stride, n, 3); break;
        default: values_block(o, weights, v, value_scales, n_values, value_stride, n, 4); break;
        }
    }
}

/* ---- the two sets ---- */

static TARGET void matmul_q8_bw(float *out, const int8_t *x, const float *xs, int n_tokens,
                                const int8_t *w, const float *ws, int rows, int cols,
                                int group_size)
{
    matmul_q8(out, x, xs, n_tokens, w, ws, rows, cols, group_size, dot_add_bw);
}

static TARGET void attention_scores_q8_bw(float *out, const int8_t *q, float q_scale,
                                          const int8_t *keys, const float *key_scales,
                                          int n_keys, int head_dim, int key_stride)
{
    attention_scores_q8(out, q, q_scale, keys, key_scales, n_keys, head_dim, key_stride,
                        dot_add_bw);
}

static TARGET_VNNI void matmul_q8_vnni(float *out, const int8_t *x, const float *xs,
                                       int n_tokens, const int8_t *w, const float *ws, int rows,
                                       int cols, int group_size)
{
    matmul_q8(out, x, xs, n_tokens, w, ws, rows, cols, group_size, dot_add_vnni);
}

static TARGET_VNNI void attention_scores_q8_vnni(float *out, const int8_t *q, float q_scale,
                                                 const int8_t *keys, const float *key_scales,
                                                 int n_keys, int head_dim, int key_stride)
{
    attention_scores_q8(out, q, q_scale, keys, key_scales, n_keys, head_dim, key_stride,
                        dot_add_vnni);
}

static const ttc_kernels kernels_avx512 = {
    .name = "avx512",
    .matmul_q8 = matmul_q8_bw,
    .attention_scores_q8 = attention_scores_q8_bw,
    .attention_values_q8 = attention_values_q8,
};

static const ttc_kernels kernels_avx512vnni = {
    .name = "avx512vnni",
    .matmul_q8 = matmul_q8_vnni,
    .attention_scores_q8 = attention_scores_q8_vnni,
    .attention_values_q8 = attention_values_q8,
};

static int cpu_has_avx512(void)
{
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
}

const ttc_kernels *ttc_kernels_avx512_novnni(void)
{
    return cpu_has_avx512() ? &kernels_avx512 : NULL;
}

const ttc_kernels *ttc_kernels_avx512(void)
{
    if (!cpu_has_avx512())
        return NULL;
    return __builtin_cpu_supports("avx512vnni") ? &kernels_avx512vnni : &kernels_avx512;
}

#else

const ttc_kernels *ttc_kernels_avx512_novnni(void)
{
    return NULL;
}

const ttc_kernels *ttc_kernels_avx512(void)
{
    return NULL;
}

#endif
