/* AVX2 kernels for x86. The file is compiled with plain flags: every function
 * carries target("avx2") and ttc_kernels_avx2() checks the CPU at run time.
 *
 * Results are bit-identical to kernels_generic.c: the int8 dot products are
 * exact, and the float work is done lane by lane in the reference's order,
 * one multiply then one add (AVX2 has no FMA; the pragma in kernels.h keeps the
 * compiler from fusing anything even when the build flags would allow it). */
#include "kernels.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#define TARGET __attribute__((target("avx2")))
#define INLINE static inline __attribute__((target("avx2"), always_inline))

static int min_int(int a, int b)
{
    return a < b ? a : b;
}

INLINE __m256i load32(const int8_t *p)
{
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

/* The products of 32 int8 pairs, summed into 8 int32 lanes. maddubs
 * multiplies unsigned by signed bytes, so x's sign moves onto w:
 * |x| * (w * sign(x)). With values in [-127, 127] its int16 sums of two
 * products (at most 2 * 127 * 127) cannot saturate. */
INLINE __m256i dot32(__m256i x, __m256i w)
{
    const __m256i p16 = _mm256_maddubs_epi16(_mm256_abs_epi8(x), _mm256_sign_epi8(w, x));
    return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

/* Lane i of the result is the sum of the 8 lanes of a[i]. */
INLINE __m256i sum8(const __m256i a[8])
{
    const __m256i h0 = _mm256_hadd_epi32(_mm256_hadd_epi32(a[0], a[1]),
                                         _mm256_hadd_epi32(a[2], a[3]));
    const __m256i h1 = _mm256_hadd_epi32(_mm256_hadd_epi32(a[4], a[5]),
                                         _mm256_hadd_epi32(a[6], a[7]));
    /* h0 holds the sums of a[0..3] per 128-bit half, h1 those of a[4..7]. */
    return _mm256_add_epi32(_mm256_permute2x128_si256(h0, h1, 0x20),
                            _mm256_permute2x128_si256(h0, h1, 0x31));
}

/* ---- matmul_q8 ----
 * Tiles of one token x 8 weight rows, all 8 against the same chunk of the
 * token. Prefill takes every token of a block through a tile before moving
 * on, so that the tile's weights come from memory once per block and its
 * weight scales are transposed once. (Register tiles of two tokens x 4 rows
 * were measured too: slower, 16 registers being too few for them.) A tile at
 * the end of the rows repeats the last row; only valid lanes are stored. */

/* In-place transpose of the 8 x 8 matrix r[row] lane column. */
INLINE void transpose8(__m256 r[8])
{
    __m256 t[8], u[8];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* Then u[4i + c]'s 128-bit half k holds column 4k + c of rows 4i..4i+3. */
#pragma GCC unroll 2
    for (int i = 0; i < 2; i++) {
        u[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
        r[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
    }
}

/* wsT[j], lane i: the scale of group g0 + j in weight row i (scales at
 * ws_row[i]), for ng <= 8 groups. Loading along the rows and transposing
 * beats gathers, which are slow on some CPUs. */
INLINE void transposed_scales(__m256 wsT[8], const float *const ws_row[8], int g0, int ng)
{
    const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(ng),
                                         _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        wsT[i] = _mm256_maskload_ps(ws_row[i] + g0, m);
    transpose8(wsT);
}

/* The products of the 32-byte chunk at c of token x and of the 8 weight rows. */
INLINE void products_1x8(__m256i p[8], const int8_t *x, const int8_t *const wr[8], int c)
{
    const __m256i xv = load32(x + c);
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        p[i] = dot32(xv, load32(wr[i] + c));
}

/* acc plus the contributions of groups g0 .. g0+ng-1 of one token x against
 * the weight rows wr, lane i for row i. */
INLINE __m256 tile_1x8(__m256 acc, const int8_t *x, const float *xs, const int8_t *const wr[8],
                       const __m256 wsT[8], int g0, int ng, int group_size)
{
    for (int g = g0; g < g0 + ng; g++) {
        __m256i d[8], p[8];
        products_1x8(d, x, wr, g * group_size);
        for (int c = g * group_size + 32; c < (g + 1) * group_size; c += 32) {
            products_1x8(p, x, wr, c);
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++)
                d[i] = _mm256_add_epi32(d[i], p[i]);
        }
        /* acc + (float)dot * (ws * xs), in the reference's order */
        const __m256 scales = _mm256_mul_ps(wsT[g - g0], _mm256_set1_ps(xs[g]));
        acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_cvtepi32_ps(sum8(d)), scales));
    }
    return acc;
}

static void copy_floats(float *dst, const float *src, int n)
{
    for (int i = 0; i < n; i++)
        dst[i] = src[i];
}

/* Tokens are taken in blocks of this many. */
enum { TOKEN_BLOCK = 64 };

static TARGET void matmul_q8(float *out, const int8_t *x, const float *xs, int n_tokens,
                             const int8_t *w, const float *ws, int rows, int cols,
                             int group_size)
{
    const int groups = cols / group_size;
    __m256 partial[TOKEN_BLOCK]; /* a tile's sums between chunks of 8 groups */

    for (int t0 = 0; t0 < n_tokens; t0 += TOKEN_BLOCK) {
        const int t_end = min_int(t0 + TOKEN_BLOCK, n_tokens);
        for (int r = 0; r < rows; r += 8) {
            const int n = min_int(8, rows - r);
            const int8_t *wr[8];
            const float *ws_row[8];
            for (int i = 0; i < 8; i++) {
                const int row = r + min_int(i, n - 1);
                wr[i] = w + (size_t)row * cols;
                ws_row[i] = ws + (size_t)row * groups;
            }
            for (int g0 = 0; g0 < groups; g0 += 8) {
                const int ng = min_int(8, groups - g0);
                __m256 wsT[8];
                transposed_scales(wsT, ws_row, g0, ng);
                for (int t = t0; t < t_end; t++) {
                    __m256 acc = g0 == 0 ? _mm256_setzero_ps() : partial[t - t0];
                    acc = tile_1x8(acc, x + (size_t)t * cols, xs + (size_t)t * groups, wr, wsT,
                                   g0, ng, group_size);
                    float *o = out + (size_t)t * rows + r;
                    if (g0 + ng < groups) {
                        partial[t - t0] = acc;
                    } else if (n == 8) {
                        _mm256_storeu_ps(o, acc);
                    } else {
                        float lanes[8];
                        _mm256_storeu_ps(lanes, acc);
                        copy_floats(o, lanes, n);
                    }
                }
            }
        }
    }
}

/* ---- attention ---- */

/* n = 32, 16 or 8 bytes from p, zero-extended to 32. */
INLINE __m256i load_part(const int8_t *p, int n)
{
    if (n == 32)
        return load32(p);
    const __m128i v = n == 16 ? _mm_loadu_si128((const __m128i *)(const void *)p)
                              : _mm_loadl_epi64((const __m128i *)(const void *)p);
    return _mm256_inserti128_si256(_mm256_setzero_si256(), v, 0);
}

/* d[j] += the products of q[i .. i+n) and k[j][i .. i+n). */
INLINE void dot_keys_part(__m256i d[8], const int8_t *q, const int8_t *const k[8], int i, int n)
{
    const __m256i qv = load_part(q + i, n);
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        d[j] = _mm256_add_epi32(d[j], dot32(qv, load_part(k[j] + i, n)));
}

static int32_t dot_i8(const int8_t *a, const int8_t *b, int n)
{
    int32_t sum = 0;
    for (int i = 0; i < n; i++)
        sum += (int32_t)a[i] * (int32_t)b[i];
    return sum;
}

/* Lane j: the dot product of q and k[j] over head_dim bytes. */
INLINE __m256i dot_keys(const int8_t *q, const int8_t *const k[8], int head_dim)
{
    __m256i d[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        d[j] = _mm256_setzero_si256();
    int i = 0;
    for (; i + 32 <= head_dim; i += 32)
        dot_keys_part(d, q, k, i, 32);
    if (i + 16 <= head_dim) {
        dot_keys_part(d, q, k, i, 16);
        i += 16;
    }
    if (i + 8 <= head_dim) {
        dot_keys_part(d, q, k, i, 8);
        i += 8;
    }
    __m256i dots = sum8(d);
    if (i < head_dim) {
        int32_t tail[8];
        for (int j = 0; j < 8; j++)
            tail[j] = dot_i8(q + i, k[j] + i, head_dim - i);
        dots = _mm256_add_epi32(dots, _mm256_loadu_si256((const __m256i *)(const void *)tail));
    }
    return dots;
}

/* Keys are taken 8 at a time; the last block repeats its last key. */
static TARGET void attention_scores_q8(float *out, const int8_t *q, float q_scale,
                                       const int8_t *keys, const float *key_scales,
                                       int n_keys, int head_dim, int key_stride)
{
    const __m256 qs = _mm256_set1_ps(q_scale);
    for (int t = 0; t < n_keys; t += 8) {
        const int n = min_int(8, n_keys - t);
        const int8_t *k[8];
        float last_scales[8];
        const float *ks = key_scales + t;
        for (int j = 0; j < 8; j++)
            k[j] = keys + (size_t)(t + min_int(j, n - 1)) * key_stride;
        if (n < 8) {
            for (int j = 0; j < 8; j++)
                last_scales[j] = key_scales[t + min_int(j, n - 1)];
            ks = last_scales;
        }
        const __m256 dots = _mm256_cvtepi32_ps(dot_keys(q, k, head_dim));
        const __m256 y = _mm256_mul_ps(dots, _mm256_mul_ps(qs, _mm256_loadu_ps(ks)));
        if (n == 8) {
            _mm256_storeu_ps(out + t, y);
        } else {
            float lanes[8];
            _mm256_storeu_ps(lanes, y);
            copy_floats(out + t, lanes, n);
        }
    }
}

/* 8 int8 values at p as floats. */
INLINE __m256 load8_ps(const int8_t *p)
{
    const __m128i v = _mm_loadl_epi64((const __m128i *)(const void *)p);
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v));
}

/* out[0 .. 8*nb) over all values, kept in nb <= 8 registers. nb is a
 * constant after inlining; the loops run to a literal 8 and test j < nb so
 * that both gcc and clang unroll them and keep acc in registers. */
INLINE void values_block(float *out, const float *weights, const int8_t *values,
                         const float *value_scales, int n_values, int value_stride, int nb)
{
    __m256 acc[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        acc[j] = _mm256_setzero_ps();
    for (int t = 0; t < n_values; t++) {
        const int8_t *v = values + (size_t)t * value_stride;
        const __m256 a = _mm256_set1_ps(weights[t] * value_scales[t]);
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++)
            if (j < nb)
                acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(a, load8_ps(v + 8 * j)));
    }
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        if (j < nb)
            _mm256_storeu_ps(out + 8 * j, acc[j]);
}

/* The last head_dim % 8 outputs, one at a time. */
static void values_tail(float *out, const float *weights, const int8_t *values,
                        const float *value_scales, int n_values, int value_stride, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = 0.0f;
    for (int t = 0; t < n_values; t++) {
        const int8_t *v = values + (size_t)t * value_stride;
        const float a = weights[t] * value_scales[t];
        for (int i = 0; i < n; i++) {
            const float p = a * (float)v[i];
            out[i] = out[i] + p;
        }
    }
}

static TARGET void attention_values_q8(float *out, const float *weights,
                                       const int8_t *values, const float *value_scales,
                                       int n_values, int head_dim, int value_stride)
{
    int i = 0;
    while (head_dim - i >= 8) {
        const int nb = min_int(8, (head_dim - i) / 8);
        float *o = out + i;
        const int8_t *v = values + i;
        switch (nb) {
        case 1: values_block(o, weights, v, value_scales, n_values, value_stride, 1); break;
        case 2: values_block(o, weights, v, value_scales, n_values, value_stride, 2); break;
        case 3: values_block(o, weights, v, value_scales, n_values, value_stride, 3); break;
        case 4: values_block(o, weights, v, value_scales, n_values, value_stride, 4); break;
        case 5: values_block(o, weights, v, value_scales, n_values, value_stride, 5); break;
        case 6: values_block(o, weights, v, value_scales, n_values, value_stride, 6); break;
        case 7: values_block(o, weights, v, value_scales, n_values, value_stride, 7); break;
        default: values_block(o, weights, v, value_scales, n_values, value_stride, 8); break;
        }
        i += 8 * nb;
    }
    if (i < head_dim)
        values_tail(out + i, weights, values + i, value_scales, n_values, value_stride,
                    head_dim - i);
}

static const ttc_kernels kernels_avx2 = {
    .name = "avx2",
    .matmul_q8 = matmul_q8,
    .attention_scores_q8 = attention_scores_q8,
    .attention_values_q8 = attention_values_q8,
};

const ttc_kernels *ttc_kernels_avx2(void)
{
    return __builtin_cpu_supports("avx2") ? &kernels_avx2 : NULL;
}

#else

const ttc_kernels *ttc_kernels_avx2(void)
{
    return NULL;
}

#endif
