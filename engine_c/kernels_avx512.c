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
#include "ttc_math.h"

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

/* ---- loads and reductions for matmul_q8 ----
 * Int8 data is handled in 32-byte chunks (a group is 32 bytes or a multiple),
 * two to a register: each 256-bit half belongs to a different (token, row)
 * pair. */

INLINE __m256i load32(const int8_t *p)
{
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

/* [32 bytes at lo | 32 bytes at hi] */
INLINE __m512i load_pair(const int8_t *lo, const int8_t *hi)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(load32(lo)), load32(hi), 1);
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

/* Keys are taken 16 at a time, in 16-byte chunks, four keys to a register:
 * 128-bit block b of d[g] holds a chunk of key 4g + b, against the query's
 * chunk in all four blocks. Every byte of the register is used when head_dim
 * is a multiple of 16 (48 is three chunks), and one reduction at the end
 * serves all 16 keys. The last block of keys repeats its last key. */

/* The first n <= 16 bytes at p (zeros above) in each 128-bit block: p[0]
 * for block 0, ..., p[3] for block 3. */
INLINE __m512i load_4x16(const int8_t *const p[4], int i, int n)
{
    const __mmask16 m = first_lanes(n);
    __m512i r = _mm512_castsi128_si512(_mm_maskz_loadu_epi8(m, p[0] + i));
    r = _mm512_inserti32x4(r, _mm_maskz_loadu_epi8(m, p[1] + i), 1);
    r = _mm512_inserti32x4(r, _mm_maskz_loadu_epi8(m, p[2] + i), 2);
    return _mm512_inserti32x4(r, _mm_maskz_loadu_epi8(m, p[3] + i), 3);
}

/* d[g] += the products of q[i .. i+n) and those of keys 4g .. 4g+3. */
INLINE void dot_keys_chunk(__m512i d[4], const int8_t *q, const int8_t *const k[16], int i,
                           int n, dot_add_fn *dot_add)
{
    const __m512i qv = _mm512_broadcast_i32x4(_mm_maskz_loadu_epi8(first_lanes(n), q + i));
#pragma GCC unroll 4
    for (int g = 0; g < 4; g++)
        d[g] = dot_add(d[g], qv, load_4x16(k + 4 * g, i, n));
}

/* out[0 .. n) for the 16 keys k (n <= 16 of them wanted). */
INLINE void scores_block(float *out, const int8_t *q, __m512 qs, const int8_t *const k[16],
                         const float *key_scales, int n, int head_dim, dot_add_fn *dot_add)
{
    __m512i d[4];
#pragma GCC unroll 4
    for (int g = 0; g < 4; g++)
        d[g] = _mm512_setzero_si512();
    int i = 0;
    for (; i + 16 <= head_dim; i += 16)
        dot_keys_chunk(d, q, k, i, 16, dot_add);
    if (i < head_dim)
        dot_keys_chunk(d, q, k, i, head_dim - i, dot_add);

    /* Per 128-bit block b, e0 = [d0 lanes 0+1, d1 lanes 0+1, d0 lanes 2+3,
     * d1 lanes 2+3] and e1 the same of d2, d3; then f's lane 4b + g is the
     * sum of key 4g + b, and the permutation puts the keys in order. */
    const __m512i e0 = _mm512_add_epi32(_mm512_unpacklo_epi32(d[0], d[1]),
                                        _mm512_unpackhi_epi32(d[0], d[1]));
    const __m512i e1 = _mm512_add_epi32(_mm512_unpacklo_epi32(d[2], d[3]),
                                        _mm512_unpackhi_epi32(d[2], d[3]));
    const __m512i f = _mm512_add_epi32(_mm512_unpacklo_epi64(e0, e1),
                                       _mm512_unpackhi_epi64(e0, e1));
    const __m512i order =
        _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const __m512 dots = _mm512_cvtepi32_ps(_mm512_permutexvar_epi32(order, f));
    const __m512 ks = _mm512_maskz_loadu_ps(first_lanes(n), key_scales);
    _mm512_mask_storeu_ps(out, first_lanes(n), _mm512_mul_ps(dots, _mm512_mul_ps(qs, ks)));
}

/* A last block of fewer than 16 keys repeats its last key. */
INLINE void attention_scores_q8(float *out, const int8_t *q, float q_scale, const int8_t *keys,
                                const float *key_scales, int n_keys, int head_dim,
                                int key_stride, dot_add_fn *dot_add)
{
    const __m512 qs = _mm512_set1_ps(q_scale);
    const size_t s = (size_t)key_stride;
    int t = 0;
    for (; t + 16 <= n_keys; t += 16) {
        const int8_t *b = keys + (size_t)t * s;
        const int8_t *const k[16] = {
            b,          b + s,      b + 2 * s,  b + 3 * s,  b + 4 * s,  b + 5 * s,
            b + 6 * s,  b + 7 * s,  b + 8 * s,  b + 9 * s,  b + 10 * s, b + 11 * s,
            b + 12 * s, b + 13 * s, b + 14 * s, b + 15 * s};
        scores_block(out + t, q, qs, k, key_scales + t, 16, head_dim, dot_add);
    }
    if (t < n_keys) {
        const int n = n_keys - t;
        const int8_t *k[16];
        for (int j = 0; j < 16; j++)
            k[j] = keys + (size_t)(t + min_int(j, n - 1)) * s;
        scores_block(out + t, q, qs, k, key_scales + t, n, head_dim, dot_add);
    }
}

/* The int8 values at p selected by m, as floats. */
INLINE __m512 load16_ps(const int8_t *p, __mmask16 m)
{
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, p)));
}

/* acc[j] + a * (the values at v + 16 * j selected by m[j]), for j < nb. */
INLINE void values_add(__m512 acc[4], __m512 a, const int8_t *v, const __mmask16 m[4], int nb)
{
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++)
        if (j < nb)
            acc[j] = _mm512_add_ps(acc[j], _mm512_mul_ps(a, load16_ps(v + 16 * j, m[j])));
}

/* out[0 .. n) over all values, n <= 16 * nb, nb <= 4, in the reference's four
 * partial sums: acc[k] holds part[k], the keys t with t % 4 == k. nb is a
 * constant after inlining; the loops run to literal bounds and test j < nb so
 * that both gcc and clang unroll them and keep the 4 * nb sums in registers. */
INLINE void values_block(float *out, const float *weights, const int8_t *values,
                         const float *value_scales, int n_values, int value_stride, int n,
                         int nb)
{
    __mmask16 m[4];
    __m512 acc[4][4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        const int left = n - 16 * j; /* outputs from 16 * j on */
        m[j] = first_lanes(left >= 16 ? 16 : left > 0 ? left : 0);
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++)
            acc[k][j] = _mm512_setzero_ps();
    }
    int t = 0;
    for (; t + 4 <= n_values; t += 4) {
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++)
            values_add(acc[k], _mm512_set1_ps(weights[t + k] * value_scales[t + k]),
                       values + (size_t)(t + k) * value_stride, m, nb);
    }
    const int left = n_values - t; /* 0 to 3 keys, into part[0 .. left) */
#pragma GCC unroll 3
    for (int k = 0; k < 3; k++)
        if (k < left)
            values_add(acc[k], _mm512_set1_ps(weights[t + k] * value_scales[t + k]),
                       values + (size_t)(t + k) * value_stride, m, nb);
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++)
        if (j < nb) {
            const __m512 sum = _mm512_add_ps(_mm512_add_ps(acc[0][j], acc[1][j]),
                                             _mm512_add_ps(acc[2][j], acc[3][j]));
            _mm512_mask_storeu_ps(out + 16 * j, m[j], sum);
        }
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

/* ---- softmax (no int8 products: one function serves both sets) ---- */

/* ttc_expf (ttc_math.h) on 16 lanes, with exactly its steps: its branches
 * become selects, its rounding the same magic-number add and subtract. */
INLINE __m512 exp16(__m512 x)
{
    /* the lanes that are not below -87 (NaN included, as in ttc_expf) */
    const __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(TTC_EXP_LOWEST), _CMP_NLT_UQ);
    x = _mm512_min_ps(_mm512_set1_ps(TTC_EXP_HIGHEST), x); /* x > 88 ? 88 : x */
    const __m512 magic = _mm512_set1_ps(TTC_ROUND_MAGIC);
    const __m512 n = _mm512_sub_ps(
        _mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(TTC_EXP_LOG2E)), magic), magic);
    __m512 r = _mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(TTC_EXP_LN2_HI)));
    r = _mm512_sub_ps(r, _mm512_mul_ps(n, _mm512_set1_ps(TTC_EXP_LN2_LO)));
    __m512 p = _mm512_set1_ps(TTC_EXP_C6);
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(TTC_EXP_C5));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(TTC_EXP_C4));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(TTC_EXP_C3));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(0.5f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.0f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.0f));
    const __m512i bits = _mm512_slli_epi32(
        _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_maskz_mul_ps(keep, p, _mm512_castsi512_ps(bits));
}

/* acc + the low 8 lanes of e, then + its high 8 lanes: lane j of acc adds
 * x[i + j] before x[i + 8 + j], the reference's order. */
INLINE __m256 add_halves(__m256 acc, __m512 e)
{
    acc = _mm256_add_ps(acc, _mm512_castps512_ps256(e));
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1));
    return _mm256_add_ps(acc, hi);
}

static TARGET void softmax(float *x, int n)
{
    __m512 m = _mm512_set1_ps(x[0]);
    int i = 0;
    for (; i + 16 <= n; i += 16)
        m = _mm512_max_ps(m, _mm512_loadu_ps(x + i));
    if (i < n) {
        const __mmask16 k = first_lanes(n - i);
        m = _mm512_mask_max_ps(m, k, m, _mm512_maskz_loadu_ps(k, x + i));
    }
    const float max = _mm512_reduce_max_ps(m);

    const __m512 mv = _mm512_set1_ps(max);
    __m256 acc = _mm256_setzero_ps(); /* the reference's 8 lane sums */
    for (i = 0; i + 16 <= n; i += 16) {
        const __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), mv));
        _mm512_storeu_ps(x + i, e);
        acc = add_halves(acc, e);
    }
    if (i < n) {
        /* Lanes past the end hold 0, which leaves their sums as they are. */
        const __mmask16 k = first_lanes(n - i);
        const __m512 e =
            _mm512_maskz_mov_ps(k, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), mv)));
        _mm512_mask_storeu_ps(x + i, k, e);
        acc = add_halves(acc, e);
    }
    float lane[8];
    _mm256_storeu_ps(lane, acc);
    const float sum = ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
                      ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    const float inverse = 1.0f / sum;

    const __m512 iv = _mm512_set1_ps(inverse);
    for (i = 0; i < n; i += 16) {
        const __mmask16 k = first_lanes(min_int(16, n - i));
        _mm512_mask_storeu_ps(x + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), iv));
    }
}

/* ---- quantize_q8 (one function serves both sets) ---- */

/* ttc_round_even(x * inverse) on 16 lanes, as bytes (kernels.h: the magic
 * number's subtraction done on the bits). */
INLINE __m128i quantize16(__m512 x, __m512 inverse)
{
    const __m512i magic = _mm512_castps_si512(_mm512_set1_ps(TTC_ROUND_MAGIC));
    const __m512 r = _mm512_add_ps(_mm512_mul_ps(x, inverse), _mm512_castsi512_ps(magic));
    return _mm512_cvtsepi32_epi8(_mm512_sub_epi32(_mm512_castps_si512(r), magic));
}

/* A group is taken 16 values at a time, its last chunk masked: lanes past
 * the end load 0 and are not stored. */
static TARGET void quantize_q8(int8_t *q, float *scales, const float *x, int n, int group_size)
{
    for (int g = 0; g < n / group_size; g++) {
        const float *xg = x + (size_t)g * group_size;
        int8_t *qg = q + (size_t)g * group_size;
        __m512 m0 = _mm512_setzero_ps(), m1 = _mm512_setzero_ps();
        int i = 0;
        for (; i + 32 <= group_size; i += 32) {
            m0 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(xg + i)), m0);
            m1 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(xg + i + 16)), m1);
        }
        for (; i < group_size; i += 16) {
            const __mmask16 k = first_lanes(min_int(16, group_size - i));
            m0 = _mm512_max_ps(_mm512_abs_ps(_mm512_maskz_loadu_ps(k, xg + i)), m0);
        }
        m0 = _mm512_max_ps(m0, m1);
        const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(m0), 1));
        const __m256 m8 = _mm256_max_ps(_mm512_castps512_ps256(m0), hi);
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(m8), _mm256_extractf128_ps(m8, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        const float max_abs = _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
        const float inverse = max_abs > 0.0f ? 127.0f / max_abs : 0.0f;
        scales[g] = max_abs / 127.0f;

        const __m512 iv = _mm512_set1_ps(inverse);
        for (i = 0; i + 16 <= group_size; i += 16)
            _mm_storeu_si128((__m128i *)(void *)(qg + i), quantize16(_mm512_loadu_ps(xg + i), iv));
        if (i < group_size) {
            const __mmask16 k = first_lanes(group_size - i);
            _mm_mask_storeu_epi8(qg + i, k, quantize16(_mm512_maskz_loadu_ps(k, xg + i), iv));
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
    .softmax = softmax,
    .quantize_q8 = quantize_q8,
};

static const ttc_kernels kernels_avx512vnni = {
    .name = "avx512vnni",
    .matmul_q8 = matmul_q8_vnni,
    .attention_scores_q8 = attention_scores_q8_vnni,
    .attention_values_q8 = attention_values_q8,
    .softmax = softmax,
    .quantize_q8 = quantize_q8,
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
