/* AVX2 kernels for x86. The file is compiled with plain flags: every function
 * carries target("avx2") and ttc_kernels_avx2() checks the CPU at run time.
 *
 * Results are bit-identical to kernels_generic.c: the int8 dot products are
 * exact, and the float work is done lane by lane in the reference's order,
 * one multiply then one add (AVX2 has no FMA; the pragma in kernels.h keeps the
 * compiler from fusing anything even when the build flags would allow it). */
#include "kernels.h"
#include "ttc_math.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#define TARGET __attribute__((target("avx2")))
#define INLINE static inline __attribute__((target("avx2"), always_inline))

/* Lane i of the result is set where i < n. */
INLINE __m256i first_lanes(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
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

/* Tokens are taken in blocks of this many. */
enum { TOKEN_BLOCK = 64 };

static TARGET void matmul_q8(float *out, const int8_t *x, const float *xs, int n_tokens,
                             const int8_t *w, const float *ws, int rows, int cols,
                             int group_size)
{
    const int groups = cols / group_size;
    __m256 partial[TOKEN_BLOCK]; /* a tile's sums between chunks of 8 groups */

    for (int t0 = 0; t0 < n_tokens; t0 += TOKEN_BLOCK) {
        const int t_end = ttc_min_int(t0 + TOKEN_BLOCK, n_tokens);
        for (int r = 0; r < rows; r += 8) {
            const int n = ttc_min_int(8, rows - r);
            const int8_t *wr[8];
            const float *ws_row[8];
            ttc_tile_rows(wr, ws_row, 8, w, ws, rows, r, cols, groups);
            for (int g0 = 0; g0 < groups; g0 += 8) {
                const int ng = ttc_min_int(8, groups - g0);
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
                        ttc_copy_floats(o, lanes, n);
                    }
                }
            }
        }
    }
}

/* ---- matmul_q8 from packed weights ----
 * The x86 sets' packed layout (ttc_pack16_q8, kernels.h): a chunk of 4
 * columns of 8 rows fills a register, row i's 4 bytes in lane i, so that the
 * products add up in each row's own lane, with no sums across lanes per group
 * and the weight scales already side by side. The token's 4 bytes go to every
 * lane; its sign moves onto the weights as in dot32. Tiles of 16 rows (two
 * registers), tokens one or two at a time: registers for more are lacking. */

/* The products of 4 bytes of a token (xb: in every lane; ax: their absolute
 * values) and a chunk of 8 rows, summed in each row's lane. */
INLINE __m256i dot4x8(__m256i ax, __m256i xb, __m256i w)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(w, xb)),
                             _mm256_set1_epi16(1));
}

/* out for rows r .. r + 15 (those below rows) of the tile at `tile` and tokens
 * t0 .. t0 + n_block - 1 (n_block 1 or 2, a constant where inlined); the
 * weights of the tile at `ahead`, unless NULL, are fetched into the cache. */
INLINE void tile_tokens(float *out, const int8_t *x, const float *xs, int t0, int n_block,
                        const uint8_t *tile, const float *scales, int r, int rows, int cols,
                        int group_size, const uint8_t *ahead)
{
    const int groups = cols / group_size;
    __m256 acc[2][2];
#pragma GCC unroll 2
    for (int t = 0; t < n_block; t++)
        acc[t][0] = acc[t][1] = _mm256_setzero_ps();
    for (int g = 0; g < groups; g++) {
        __m256i d[2][2];
#pragma GCC unroll 2
        for (int t = 0; t < n_block; t++)
            d[t][0] = d[t][1] = _mm256_setzero_si256();
        for (int c = g * group_size; c < (g + 1) * group_size; c += 4) {
            const __m256i w0 = load32((const int8_t *)tile + (size_t)c * 16);
            const __m256i w1 = load32((const int8_t *)tile + (size_t)c * 16 + 32);
            if (ahead)
                _mm_prefetch((const char *)(ahead + (size_t)c * 16), _MM_HINT_T0);
#pragma GCC unroll 2
            for (int t = 0; t < n_block; t++) {
                int32_t four;
                __builtin_memcpy(&four, x + (size_t)(t0 + t) * cols + c, sizeof four);
                const __m256i xb = _mm256_set1_epi32(four);
                const __m256i ax = _mm256_abs_epi8(xb);
                d[t][0] = _mm256_add_epi32(d[t][0], dot4x8(ax, xb, w0));
                d[t][1] = _mm256_add_epi32(d[t][1], dot4x8(ax, xb, w1));
            }
        }
        /* acc + (float)dot * (ws * xs), in the reference's order */
#pragma GCC unroll 2
        for (int t = 0; t < n_block; t++) {
            const __m256 token_scale = _mm256_set1_ps(xs[(size_t)(t0 + t) * groups + g]);
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++) {
                const __m256 scale =
                    _mm256_mul_ps(_mm256_loadu_ps(scales + g * 16 + 8 * h), token_scale);
                acc[t][h] =
                    _mm256_add_ps(acc[t][h], _mm256_mul_ps(_mm256_cvtepi32_ps(d[t][h]), scale));
            }
        }
    }
    const int n = ttc_min_int(16, rows - r);
#pragma GCC unroll 2
    for (int t = 0; t < n_block; t++) {
        float *o = out + (size_t)(t0 + t) * rows + r;
        if (n == 16) {
            _mm256_storeu_ps(o, acc[t][0]);
            _mm256_storeu_ps(o + 8, acc[t][1]);
        } else {
            float lanes[16];
            _mm256_storeu_ps(lanes, acc[t][0]);
            _mm256_storeu_ps(lanes + 8, acc[t][1]);
            ttc_copy_floats(o, lanes, n);
        }
    }
}

/* Every token goes through a tile before the next tile: its weights come from
 * memory once per call, fetched while the tile AHEAD_TILES before them is
 * worked on (bench_kernels, Zen 3: a one-token product 1.3-1.5x faster than
 * without; 1 and 4 tiles ahead measured about the same as 2). */
enum { AHEAD_TILES = 2 };

static TARGET void matmul_packed_q8(float *out, const int8_t *x, const float *xs, int n_tokens,
                                    const void *packed, int rows, int cols, int group_size)
{
    const ttc_packed16_layout layout = ttc_packed16_tile(cols, group_size);
    for (int r = 0; r < rows; r += 16) {
        const uint8_t *tile = (const uint8_t *)packed + (size_t)(r / 16) * layout.bytes;
        const float *scales = (const float *)(const void *)(tile + layout.scales);
        const uint8_t *ahead =
            r + 16 * AHEAD_TILES < rows ? tile + AHEAD_TILES * layout.bytes : NULL;
        int t = 0;
        for (; t + 2 <= n_tokens; t += 2, ahead = NULL)
            tile_tokens(out, x, xs, t, 2, tile, scales, r, rows, cols, group_size, ahead);
        if (t < n_tokens)
            tile_tokens(out, x, xs, t, 1, tile, scales, r, rows, cols, group_size, ahead);
    }
}

/* ---- attention_scores_q8 ----
 * Keys are taken 8 at a time, in 16-byte chunks, two keys to a register: a
 * chunk of key 2p in the low 128-bit half of d[p], the same chunk of key
 * 2p + 1 in the high half, against the query's chunk in both. Every byte of
 * the register is used whatever head_dim (48 is three chunks), and one
 * reduction at the end serves all 8 keys. */

/* [n = 16 or 8 bytes at lo, zeros above | the same at hi] */
INLINE __m256i load_2x16(const int8_t *lo, const int8_t *hi, int n)
{
    const __m128i a = n == 16 ? _mm_loadu_si128((const __m128i *)(const void *)lo)
                              : _mm_loadl_epi64((const __m128i *)(const void *)lo);
    const __m128i b = n == 16 ? _mm_loadu_si128((const __m128i *)(const void *)hi)
                              : _mm_loadl_epi64((const __m128i *)(const void *)hi);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(a), b, 1);
}

/* d[p] += the products of q[i .. i+n) and those of keys 2p and 2p + 1. */
INLINE void dot_keys_chunk(__m256i d[4], const int8_t *q, const int8_t *const k[8], int i, int n)
{
    const __m256i qv = load_2x16(q + i, q + i, n);
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++)
        d[p] = _mm256_add_epi32(d[p], dot32(qv, load_2x16(k[2 * p] + i, k[2 * p + 1] + i, n)));
}

/* Lane j: the dot product of q and k[j] over head_dim bytes. */
INLINE __m256i dot_keys(const int8_t *q, const int8_t *const k[8], int head_dim)
{
    __m256i d[4];
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++)
        d[p] = _mm256_setzero_si256();
    int i = 0;
    for (; i + 16 <= head_dim; i += 16)
        dot_keys_chunk(d, q, k, i, 16);
    if (i + 8 <= head_dim) {
        dot_keys_chunk(d, q, k, i, 8);
        i += 8;
    }
    /* Per 128-bit half, lanes 0-3: the sums of d[0..3]'s halves, that is of
     * keys 0, 2, 4, 6 in the low half and 1, 3, 5, 7 in the high one. */
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(d[0], d[1]),
                                        _mm256_hadd_epi32(d[2], d[3]));
    __m256i dots = _mm256_permutevar8x32_epi32(h, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    if (i < head_dim) {
        int32_t tail[8];
        for (int j = 0; j < 8; j++)
            tail[j] = ttc_dot_i8(q + i, k[j] + i, head_dim - i);
        dots = _mm256_add_epi32(dots, _mm256_loadu_si256((const __m256i *)(const void *)tail));
    }
    return dots;
}

/* Keys are taken 8 at a time; a last block of fewer repeats its last key. */
static TARGET void attention_scores_q8(float *out, const int8_t *q, float q_scale,
                                       const int8_t *keys, const float *key_scales,
                                       int n_keys, int head_dim, int key_stride)
{
    const __m256 qs = _mm256_set1_ps(q_scale);
    const size_t s = (size_t)key_stride;
    int t = 0;
    for (; t + 8 <= n_keys; t += 8) {
        const int8_t *b = keys + (size_t)t * s;
        const int8_t *const k[8] = {b,         b + s,     b + 2 * s, b + 3 * s,
                                    b + 4 * s, b + 5 * s, b + 6 * s, b + 7 * s};
        const __m256 dots = _mm256_cvtepi32_ps(dot_keys(q, k, head_dim));
        const __m256 scales = _mm256_mul_ps(qs, _mm256_loadu_ps(key_scales + t));
        _mm256_storeu_ps(out + t, _mm256_mul_ps(dots, scales));
    }
    if (t < n_keys) {
        const int n = n_keys - t;
        const int8_t *k[8];
        float ks[8];
        for (int j = 0; j < 8; j++) {
            k[j] = keys + (size_t)(t + ttc_min_int(j, n - 1)) * s;
            ks[j] = key_scales[t + ttc_min_int(j, n - 1)];
        }
        const __m256 dots = _mm256_cvtepi32_ps(dot_keys(q, k, head_dim));
        float lanes[8];
        _mm256_storeu_ps(lanes, _mm256_mul_ps(dots, _mm256_mul_ps(qs, _mm256_loadu_ps(ks))));
        ttc_copy_floats(out + t, lanes, n);
    }
}

/* ---- attention scores from packed keys ----
 * The x86 sets' packed key cache (ttc_pack16_key, kernels.h): a chunk of 4
 * bytes of 8 positions fills a register, as a chunk of 8 weight rows does, so
 * that each key's products add up in its own lane (dot4x8), and the queries of
 * a block share each load of the keys. Up to 4 queries: their 8 sums, the two
 * key registers and the query's bytes fill AVX2's 16 registers. */

/* d[j] += the products of the 4 bytes at q + j * stride and a chunk of 16 keys. */
INLINE void scores_chunk(__m256i d[4][2], int n_block, const int8_t *chunk, const int8_t *q,
                         size_t stride)
{
    const __m256i k0 = load32(chunk), k1 = load32(chunk + 32);
#pragma GCC unroll 4
    for (int j = 0; j < n_block; j++) {
        int32_t four;
        __builtin_memcpy(&four, q + (size_t)j * stride, sizeof four);
        const __m256i qb = _mm256_set1_epi32(four);
        const __m256i aq = _mm256_abs_epi8(qb);
        d[j][0] = _mm256_add_epi32(d[j][0], dot4x8(aq, qb, k0));
        d[j][1] = _mm256_add_epi32(d[j][1], dot4x8(aq, qb, k1));
    }
}

/* Queries q0 .. q0 + n_block - 1 (n_block <= 4, a constant where inlined)
 * against keys 0 .. n_keys - 1. */
INLINE void packed_scores_block(float *out, int out_stride, const int8_t *queries,
                                const float *query_scales, int q0, int n_block,
                                const uint8_t *packed_keys, const float *key_scales, int n_keys,
                                int head_dim)
{
    const int whole = head_dim / 4;
    const size_t block_bytes = ttc_packed16_key_block(head_dim);
    const int8_t *q = queries + (size_t)q0 * head_dim;
    /* each query's bytes of the last chunk, the missing ones 0 (their keys' are 0 too) */
    int8_t tails[4][4] = {{0}};
#pragma GCC unroll 4
    for (int j = 0; j < n_block; j++)
        __builtin_memcpy(tails[j], q + (size_t)j * head_dim + 4 * whole,
                         (size_t)(head_dim - 4 * whole));
    const size_t extent = (size_t)((n_keys + 15) / 16) * block_bytes;
    for (int t = 0; t < n_keys; t += 16) {
        const int8_t *block = (const int8_t *)packed_keys + (size_t)(t / 16) * block_bytes;
        if ((size_t)(t / 16) * block_bytes + TTC_KEYS_PREFETCH_BYTES + block_bytes <= extent)
            for (size_t o = 0; o < block_bytes; o += 64)
                _mm_prefetch((const char *)(block + TTC_KEYS_PREFETCH_BYTES + o), _MM_HINT_T0);
        __m256i d[4][2];
#pragma GCC unroll 4
        for (int j = 0; j < n_block; j++)
            d[j][0] = d[j][1] = _mm256_setzero_si256();
        for (int c = 0; c < whole; c++)
            scores_chunk(d, n_block, block + (size_t)c * 64, q + 4 * c, (size_t)head_dim);
        if (whole * 4 < head_dim)
            scores_chunk(d, n_block, block + (size_t)whole * 64, tails[0], 4);
        const int n = ttc_min_int(16, n_keys - t);
        const __m256 ks[2] = {_mm256_maskload_ps(key_scales + t, first_lanes(n)),
                              _mm256_maskload_ps(key_scales + t + 8, first_lanes(n - 8))};
        /* (float)dot * (q_scale * key_scale), as attention_scores_q8 */
#pragma GCC unroll 4
        for (int j = 0; j < n_block; j++) {
            const __m256 qs = _mm256_set1_ps(query_scales[q0 + j]);
            float *o = out + (size_t)(q0 + j) * out_stride + t;
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++) {
                const __m256 scores = _mm256_mul_ps(_mm256_cvtepi32_ps(d[j][h]),
                                                    _mm256_mul_ps(qs, ks[h]));
                _mm256_maskstore_ps(o + 8 * h, first_lanes(n - 8 * h), scores);
            }
        }
    }
}

static TARGET void attention_scores_packed_q8(float *out, int out_stride, const int8_t *queries,
                                              const float *query_scales, int n_queries,
                                              const void *packed_keys, const float *key_scales,
                                              int n_keys, int head_dim)
{
    int q0 = 0;
#define BLOCK(n)                                                                            \
    packed_scores_block(out, out_stride, queries, query_scales, q0, n, packed_keys,         \
                        key_scales, n_keys, head_dim)
    for (; q0 + 4 <= n_queries; q0 += 4)
        BLOCK(4);
    switch (n_queries - q0) {
    case 3: BLOCK(3); break;
    case 2: BLOCK(2); break;
    case 1: BLOCK(1); break;
    default: break;
    }
#undef BLOCK
}

/* ---- attention_values_q8 ----
 * Per block of keys, the quantised weights go to a stack array, four int16 to
 * each group of keys, in the order w0 w2 w1 w3; then every group adds its four
 * keys' products to the outputs' int32 sums at once. 32 bytes of a group hold
 * 8 outputs of four keys; read as int16, an output is two words, keys 0 and 1
 * then keys 2 and 3. Their low bytes (keys 0 and 2), sign-extended by
 * vpmaddubsw against the unsigned bytes 1, 0, times w0 w2, and their high
 * bytes (keys 1 and 3), sign-extended by a shift, times w1 w3, both summed in
 * pairs by vpmaddwd, add up to each output's sum in one int32 lane: 8 outputs
 * to a register. (Widening 16 bytes with vpmovsxbw instead, times w0 w1 w2
 * w3, saves the vpmaddubsw but leaves an output's two half sums in two lanes:
 * 4 outputs to a register, too few registers for 48 outputs in one pass over
 * the values, and two passes measured some 10% slower at head_dim 48.) */

/* The largest of the floor and the weights[t] * value_scales[t] (never
 * negative, kernels.h). */
static TARGET float values_weight_max(const float *weights, const float *value_scales, int n)
{
    __m256 m = _mm256_set1_ps(TTC_VALUES_WEIGHT_FLOOR);
    for (int t = 0; t < n; t += 8) {
        const __m256i k = first_lanes(n - t);
        const __m256 w = _mm256_mul_ps(_mm256_maskload_ps(weights + t, k),
                                       _mm256_maskload_ps(value_scales + t, k));
        m = _mm256_max_ps(m, w);
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    return _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
}

/* The quantised weights of keys t .. t+7 (zeros past n) as int32. */
INLINE __m256i quantize_weights8(const float *weights, const float *value_scales, int t, int n,
                                 __m256 inverse)
{
    const __m256i k = first_lanes(n - t);
    const __m256 w = _mm256_mul_ps(_mm256_maskload_ps(weights + t, k),
                                   _mm256_maskload_ps(value_scales + t, k));
    /* ttc_round_even with the magic number's subtraction on the bits (kernels.h) */
    const __m256i magic = _mm256_castps_si256(_mm256_set1_ps(TTC_ROUND_MAGIC));
    const __m256 r = _mm256_add_ps(_mm256_mul_ps(w, inverse), _mm256_castsi256_ps(magic));
    return _mm256_sub_epi32(_mm256_castps_si256(r), magic);
}

/* wq[0 .. n) for n <= 256 keys, each group's four in the order w0 w2 w1 w3,
 * then zeros up to the next multiple of 16 (which covers the missing keys of
 * a last group that is not whole). */
static TARGET void values_quantize_weights(int16_t *wq, const float *weights,
                                           const float *value_scales, int n, float inverse)
{
    const __m256 iv = _mm256_set1_ps(inverse);
    for (int t = 0; t < n; t += 16) {
        const __m256i lo = quantize_weights8(weights, value_scales, t, n, iv);
        const __m256i hi = quantize_weights8(weights, value_scales, t + 8, n, iv);
        /* packs works per 128-bit half (and never saturates here): put the
         * four 64-bit quarters, one group each, back in order, then swap the
         * middle two words of each (w0 w1 w2 w3 to w0 w2 w1 w3) */
        const __m256i packed = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xd8);
        const __m256i swapped = _mm256_shufflehi_epi16(_mm256_shufflelo_epi16(packed, 0xd8), 0xd8);
        _mm256_storeu_si256((__m256i *)(void *)(wq + t), swapped);
    }
}

/* The two int16 at p, repeated in every 32-bit lane. */
INLINE __m256i broadcast_words2(const int16_t *p)
{
    int32_t w;
    __builtin_memcpy(&w, p, sizeof w);
    return _mm256_set1_epi32(w);
}

/* out[0 .. 8*nb) of one block of n_groups groups (group g at groups + g *
 * group_bytes, its weights at wq + 4g), nb <= 8: stored when first, else added
 * to out. The sums' only chain is vpaddd's, one cycle: one set suffices. nb is
 * a constant after inlining; the loops run to literal bounds and test j < nb
 * so that both gcc and clang unroll them. gcc keeps the sums in registers up
 * to nb = 6 and spills a few beyond, which still measured faster than two
 * passes over the values. */
INLINE void values_block(float *out, const int16_t *wq, const int8_t *groups, int n_groups,
                         int group_bytes, int nb, int first)
{
    const __m256i low_byte = _mm256_set1_epi16(1); /* bytes 1, 0 */
    __m256i acc[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        acc[j] = _mm256_setzero_si256();
    for (int g = 0; g < n_groups; g++) {
        const __m256i w02 = broadcast_words2(wq + 4 * g);
        const __m256i w13 = broadcast_words2(wq + 4 * g + 2);
        const int8_t *v = groups + (size_t)g * group_bytes;
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++)
            if (j < nb) {
                /* lddqu: a load that gcc does not fold into vpmaddubsw, which
                 * would then read the bytes twice */
                const __m256i x = _mm256_lddqu_si256((const __m256i *)(const void *)(v + 32 * j));
                const __m256i keys02 = _mm256_maddubs_epi16(low_byte, x);
                const __m256i keys13 = _mm256_srai_epi16(x, 8);
                acc[j] = _mm256_add_epi32(acc[j],
                                          _mm256_add_epi32(_mm256_madd_epi16(keys02, w02),
                                                           _mm256_madd_epi16(keys13, w13)));
            }
    }
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        if (j < nb) {
            __m256 sum = _mm256_cvtepi32_ps(acc[j]);
            if (!first)
                sum = _mm256_add_ps(_mm256_loadu_ps(out + 8 * j), sum);
            _mm256_storeu_ps(out + 8 * j, sum);
        }
}

/* The same for the last head_dim % 8 outputs (n < 8), one at a time. */
static void values_tail(float *out, const int16_t *wq, const int8_t *groups, int n_groups,
                        int group_bytes, int n, int first)
{
    int32_t acc[8] = {0};
    for (int g = 0; g < n_groups; g++) {
        const int8_t *v = groups + (size_t)g * group_bytes;
        const int16_t *w = wq + 4 * g; /* w0 w2 w1 w3 */
        for (int i = 0; i < n; i++)
            acc[i] += w[0] * (int32_t)v[4 * i] + w[2] * (int32_t)v[4 * i + 1] +
                      w[1] * (int32_t)v[4 * i + 2] + w[3] * (int32_t)v[4 * i + 3];
    }
    for (int i = 0; i < n; i++)
        out[i] = first ? (float)acc[i] : out[i] + (float)acc[i];
}

static TARGET void attention_values_q8(float *out, const float *weights,
                                       const int8_t *values, const float *value_scales,
                                       int n_values, int head_dim)
{
    const float w_max = values_weight_max(weights, value_scales, n_values);
    const float inverse = TTC_VALUES_WEIGHT_MAX / w_max;
    const float unit = w_max / TTC_VALUES_WEIGHT_MAX;
    const int group_bytes = TTC_VALUES_KEY_GROUP * head_dim;
    _Alignas(32) int16_t wq[TTC_VALUES_KEY_BLOCK]; /* 256: a multiple of 16 */

    for (int t0 = 0; t0 < n_values; t0 += TTC_VALUES_KEY_BLOCK) {
        const int n_keys = ttc_min_int(TTC_VALUES_KEY_BLOCK, n_values - t0);
        values_quantize_weights(wq, weights + t0, value_scales + t0, n_keys, inverse);
        const int n_groups = (n_keys + TTC_VALUES_KEY_GROUP - 1) / TTC_VALUES_KEY_GROUP;
        const int first = t0 == 0;
        int i = 0;
        while (head_dim - i >= 8) {
            const int nb = ttc_min_int(8, (head_dim - i) / 8);
            float *o = out + i;
            const int8_t *v = values + ttc_value_offset(t0, i, head_dim);
            switch (nb) {
            case 1: values_block(o, wq, v, n_groups, group_bytes, 1, first); break;
            case 2: values_block(o, wq, v, n_groups, group_bytes, 2, first); break;
            case 3: values_block(o, wq, v, n_groups, group_bytes, 3, first); break;
            case 4: values_block(o, wq, v, n_groups, group_bytes, 4, first); break;
            case 5: values_block(o, wq, v, n_groups, group_bytes, 5, first); break;
            case 6: values_block(o, wq, v, n_groups, group_bytes, 6, first); break;
            case 7: values_block(o, wq, v, n_groups, group_bytes, 7, first); break;
            default: values_block(o, wq, v, n_groups, group_bytes, 8, first); break;
            }
            i += 8 * nb;
        }
        if (i < head_dim)
            values_tail(out + i, wq, values + ttc_value_offset(t0, i, head_dim), n_groups,
                        group_bytes, head_dim - i, first);
    }
    const __m256 u = _mm256_set1_ps(unit);
    int i = 0;
    for (; i + 8 <= head_dim; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(out + i), u));
    for (; i < head_dim; i++)
        out[i] = out[i] * unit;
}

/* ---- softmax ---- */

/* ttc_softmax_expf (ttc_math.h) on 8 lanes, with exactly its steps: its
 * branch becomes a select, its 2^n the same shift of shifted's bits. */
INLINE __m256 exp8(__m256 x)
{
    /* the lanes that are >= -87 (false for NaN, which gives 0 as in
     * ttc_softmax_expf) */
    const __m256 keep = _mm256_cmp_ps(x, _mm256_set1_ps(TTC_EXP_LOWEST), _CMP_GE_OQ);
    const __m256 magic = _mm256_set1_ps(TTC_ROUND_MAGIC);
    const __m256 y = _mm256_mul_ps(x, _mm256_set1_ps(TTC_EXP_LOG2E));
    const __m256 shifted = _mm256_add_ps(y, magic);
    const __m256 f = _mm256_sub_ps(y, _mm256_sub_ps(shifted, magic));
    __m256 p = _mm256_set1_ps(TTC_EXP2_C5);
    p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(TTC_EXP2_C4));
    p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(TTC_EXP2_C3));
    p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(TTC_EXP2_C2));
    p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(TTC_EXP2_C1));
    p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(1.0f));
    const __m256i bits = _mm256_add_epi32(_mm256_slli_epi32(_mm256_castps_si256(shifted), 23),
                                          _mm256_set1_epi32(127 << 23));
    return _mm256_and_ps(keep, _mm256_mul_ps(p, _mm256_castsi256_ps(bits)));
}

/* The reference's sum of its 8 lanes, in its order. */
static float sum_lanes(const float lane[8])
{
    return ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
           ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

/* The lane sums are one register: lane j holds lane[j] of the reference,
 * adding x[i] for i % 8 == j in increasing i. */
static TARGET void softmax(float *x, int n)
{
    float max = x[0];
    int i = 0;
    if (n >= 16) {
        __m256 m0 = _mm256_loadu_ps(x), m1 = _mm256_loadu_ps(x + 8);
        for (i = 16; i + 16 <= n; i += 16) {
            m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + i));
            m1 = _mm256_max_ps(m1, _mm256_loadu_ps(x + i + 8));
        }
        float lanes[8];
        _mm256_storeu_ps(lanes, _mm256_max_ps(m0, m1));
        for (int j = 0; j < 8; j++)
            max = lanes[j] > max ? lanes[j] : max;
    }
    for (; i < n; i++)
        max = x[i] > max ? x[i] : max;

    const __m256 mv = _mm256_set1_ps(max);
    __m256 acc = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), mv));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    if (i < n) {
        /* Lanes past the end hold 0, which leaves their sums as they are. */
        const __m256i m = first_lanes(n - i);
        const __m256 e = _mm256_and_ps(exp8(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), mv)),
                                       _mm256_castsi256_ps(m));
        _mm256_maskstore_ps(x + i, m, e);
        acc = _mm256_add_ps(acc, e);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, acc);
    const float inverse = 1.0f / sum_lanes(lanes);

    const __m256 iv = _mm256_set1_ps(inverse);
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), iv));
    for (; i < n; i++)
        x[i] = x[i] * inverse;
}

/* ---- silu_times ---- */

/* ttc_expf (ttc_math.h) on 8 lanes with exactly its steps: lanes not >= -87
 * (NaN included) give 0, the clamp is a minimum, n's bits go to the exponent
 * field as an integer. */
INLINE __m256 expf8(__m256 x)
{
    const __m256 keep = _mm256_cmp_ps(x, _mm256_set1_ps(TTC_EXP_LOWEST), _CMP_GE_OQ);
    x = _mm256_min_ps(x, _mm256_set1_ps(TTC_EXP_HIGHEST));
    const __m256 magic = _mm256_set1_ps(TTC_ROUND_MAGIC);
    const __m256 n = _mm256_sub_ps(
        _mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(TTC_EXP_LOG2E)), magic), magic);
    __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(TTC_EXP_LN2_HI)));
    r = _mm256_sub_ps(r, _mm256_mul_ps(n, _mm256_set1_ps(TTC_EXP_LN2_LO)));
    __m256 p = _mm256_set1_ps(TTC_EXP_C6);
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(TTC_EXP_C5));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(TTC_EXP_C4));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(TTC_EXP_C3));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(0.5f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f));
    const __m256i bits =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_and_ps(keep, _mm256_mul_ps(p, _mm256_castsi256_ps(bits)));
}

static TARGET void silu_times(float *gate, const float *up, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 g = _mm256_loadu_ps(gate + i);
        const __m256 e = expf8(_mm256_xor_ps(g, _mm256_set1_ps(-0.0f)));
        const __m256 s = _mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(s, _mm256_loadu_ps(up + i)));
    }
    for (; i < n; i++)
        gate[i] = ttc_silu_times(gate[i], up[i]);
}

/* ---- quantize_q8 ---- */

/* The largest |x[i]| of a group of n >= 1 values; lanes past the end load 0. */
static TARGET float group_max_abs(const float *x, int n)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m0 = _mm256_setzero_ps(), m1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        m0 = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)), m0);
        m1 = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + i + 8)), m1);
    }
    for (; i < n; i += 8)
        m0 = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_maskload_ps(x + i, first_lanes(n - i))),
                           m0);
    m0 = _mm256_max_ps(m0, m1);
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(m0), _mm256_extractf128_ps(m0, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* ttc_round_even(x * inverse) on 8 lanes, as int32 (kernels.h: the magic
 * number's subtraction done on the bits). */
INLINE __m256i quantize8(__m256 x, __m256 inverse)
{
    const __m256i magic = _mm256_castps_si256(_mm256_set1_ps(TTC_ROUND_MAGIC));
    const __m256 r = _mm256_add_ps(_mm256_mul_ps(x, inverse), _mm256_castsi256_ps(magic));
    return _mm256_sub_epi32(_mm256_castps_si256(r), magic);
}

/* The same for the 8 values at x. */
INLINE __m256i quantize8_at(const float *x, __m256 inverse)
{
    return quantize8(_mm256_loadu_ps(x), inverse);
}

/* 8 int32 lanes in [-127, 127] as 8 bytes, in the low half of the result. */
INLINE __m128i narrow8(__m256i v)
{
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return _mm_packs_epi16(w, w);
}

static TARGET void quantize_q8(int8_t *q, float *scales, const float *x, int n, int group_size)
{
    for (int g = 0; g < n / group_size; g++) {
        const float *xg = x + (size_t)g * group_size;
        int8_t *qg = q + (size_t)g * group_size;
        const float max_abs = group_max_abs(xg, group_size);
        const float inverse = max_abs > 0.0f ? 127.0f / max_abs : 0.0f;
        scales[g] = max_abs / 127.0f;

        const __m256 iv = _mm256_set1_ps(inverse);
        int i = 0;
        for (; i + 32 <= group_size; i += 32) {
            const __m256i a =
                _mm256_packs_epi32(quantize8_at(xg + i, iv), quantize8_at(xg + i + 8, iv));
            const __m256i b =
                _mm256_packs_epi32(quantize8_at(xg + i + 16, iv), quantize8_at(xg + i + 24, iv));
            /* The packs work within 128-bit halves, leaving runs of 4 bytes in
             * the order 0, 2, 4, 6, 1, 3, 5, 7. */
            const __m256i bytes = _mm256_permutevar8x32_epi32(
                _mm256_packs_epi16(a, b), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(void *)(qg + i), bytes);
        }
        for (; i + 8 <= group_size; i += 8)
            _mm_storel_epi64((__m128i *)(void *)(qg + i), narrow8(quantize8_at(xg + i, iv)));
        if (i < group_size) {
            const int left = group_size - i;
            const __m256 v = _mm256_maskload_ps(xg + i, first_lanes(left));
            int8_t bytes[16];
            _mm_storeu_si128((__m128i *)(void *)bytes, narrow8(quantize8(v, iv)));
            for (int j = 0; j < left; j++)
                qg[i + j] = bytes[j];
        }
    }
}

static const ttc_kernels kernels_avx2 = {
    .name = "avx2",
    .matmul_q8 = matmul_q8,
    .attention_scores_q8 = attention_scores_q8,
    .attention_values_q8 = attention_values_q8,
    .softmax = softmax,
    .silu_times = silu_times,
    .quantize_q8 = quantize_q8,
    .packed_q8_size = ttc_packed16_q8_size,
    .pack_q8 = ttc_pack16_q8,
    .matmul_packed_q8 = matmul_packed_q8,
    .packed_keys_size = ttc_packed16_keys_size,
    .pack_key = ttc_pack16_key,
    .attention_scores_packed_q8 = attention_scores_packed_q8,
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
