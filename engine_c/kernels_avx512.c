/* AVX-512 kernels for x86, in two sets: "avx512" (F, BW, VL) and
 * "avx512vnni" (the same plus VNNI's vpdpbusd and vpdpwssd). The file is
 * compiled with plain flags: functions carry target attributes and the
 * ttc_kernels_avx512() and ttc_kernels_avx512vnni() check the CPU at run time.
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

/* ---- int8 products: where the two sets differ (and madd_add below) ----
 * Both add the products of 64 int8 pairs to 16 int32 lanes, 4 per lane. The
 * shared code below takes one of them as a parameter; every call is inlined
 * with a constant argument, so each set gets its own straight-line code (a
 * VNNI function cannot be inlined into one compiled without VNNI, hence a
 * parameter rather than a shared helper). */
typedef __m512i dot_add_fn(__m512i acc, __m512i x, __m512i w);

/* VNNI's two instructions, accumulating in place. GCC 12 compiles their
 * intrinsics, once unrolled over several sums, into a copy of every sum to
 * another register and back around each instruction (and spills under that
 * pressure), so for GCC they are written as assembly (GCC 12 on an AMD
 * EPYC: a pass of 8 tokens through the packed matrix product 1.2x faster).
 * With clang the assembly measured slower than its intrinsics. The same
 * instructions either way, so the same sums. */
#if defined(__GNUC__) && !defined(__clang__)
INLINE_VNNI __m512i dpbusd(__m512i acc, __m512i unsigned_bytes, __m512i signed_bytes)
{
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(unsigned_bytes), "vm"(signed_bytes));
    return acc;
}

INLINE_VNNI __m512i dpwssd(__m512i acc, __m512i a, __m512i b)
{
    __asm__("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a), "vm"(b));
    return acc;
}
#else
#define dpbusd _mm512_dpbusd_epi32
#define dpwssd _mm512_dpwssd_epi32
#endif

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
    return dpbusd(acc, _mm512_abs_epi8(x), sign_of_x_on_w(w, x));
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

/* The first n <= 64 bytes. */
static __mmask64 bytes_mask(int n)
{
    return n == 64 ? ~(__mmask64)0 : ((__mmask64)1 << n) - 1;
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
        const int t_end = ttc_min_int(t0 + TOKEN_BLOCK, n_tokens);
        for (int r = 0; r < rows; r += 16) {
            const int n = ttc_min_int(16, rows - r);
            const int8_t *wr[16];
            const float *ws_row[16];
            ttc_tile_rows(wr, ws_row, 16, w, ws, rows, r, cols, groups);
            for (int g0 = 0; g0 < groups; g0 += 16) {
                const int ng = ttc_min_int(16, groups - g0);
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

/* ---- matmul_q8 from packed weights (the VNNI set) ----
 * The layout (ttc_pack16_q8, kernels.h) puts 16 weight rows side by side, 4
 * bytes of each to a register, so that one vpdpbusd adds 4 products to each
 * row's own lane: no sums across lanes per group, and the weights of a tile
 * are loaded once for up to 8 tokens. vpdpbusd multiplies unsigned bytes by
 * signed ones: the token's bytes go in as x + 128 (a flipped top bit), and the
 * group's sum then holds 128 * the sum of the weights too, which the tile
 * keeps per group and row, subtracted exactly as an integer. */

size_t ttc_packed16_q8_size(int rows, int cols, int group_size)
{
    return (size_t)((rows + 15) / 16) * ttc_packed16_tile(cols, group_size).bytes;
}

void ttc_pack16_q8(void *packed, const int8_t *w, const float *ws, int rows, int cols,
                   int group_size)
{
    const int groups = cols / group_size;
    const ttc_packed16_layout layout = ttc_packed16_tile(cols, group_size);
    for (int r = 0; r < rows; r += 16) {
        uint8_t *tile = (uint8_t *)packed + (size_t)(r / 16) * layout.bytes;
        float *scales = (float *)(void *)(tile + layout.scales);
        int32_t *sums = (int32_t *)(void *)(tile + layout.sums);
        const int8_t *rows16[16];
        const float *scale_rows[16];
        ttc_tile_rows(rows16, scale_rows, 16, w, ws, rows, r, cols, groups);
        for (int i = 0; i < 16; i++) {
            for (int c = 0; c < cols; c++)
                tile[(size_t)(c / 4) * 64 + 4 * i + c % 4] = (uint8_t)rows16[i][c];
            for (int g = 0; g < groups; g++) {
                int32_t sum = 0;
                for (int c = g * group_size; c < (g + 1) * group_size; c++)
                    sum += rows16[i][c];
                scales[g * 16 + i] = scale_rows[i][g];
                sums[g * 16 + i] = 128 * sum;
            }
        }
    }
}

/* 4 int8 at p in every lane, as x + 128 (the top bit flipped): the unsigned
 * side of vpdpbusd. */
INLINE __m512i broadcast_flipped(const int8_t *p)
{
    int32_t four;
    __builtin_memcpy(&four, p, sizeof four);
    return _mm512_xor_si512(_mm512_set1_epi32(four), _mm512_set1_epi32((int)0x80808080u));
}

/* BLOCK(n) for n = the smaller of 8 and remaining, as a constant: one copy of
 * a block per count of tokens (or queries), so that its loops unroll and its
 * sums stay in registers. */
#define BLOCK_OF_UP_TO_8(remaining, BLOCK)   \
    switch (ttc_min_int(8, remaining)) {     \
    case 1: BLOCK(1); break;                 \
    case 2: BLOCK(2); break;                 \
    case 3: BLOCK(3); break;                 \
    case 4: BLOCK(4); break;                 \
    case 5: BLOCK(5); break;                 \
    case 6: BLOCK(6); break;                 \
    case 7: BLOCK(7); break;                 \
    default: BLOCK(8); break;                \
    }

/* Tokens t0 .. t0 + n_block - 1 (n_block <= 8, a constant where inlined). */
INLINE_VNNI void packed_block(float *out, const int8_t *x, const float *xs, int t0, int n_block,
                              const uint8_t *packed, int rows, int cols, int group_size)
{
    const int groups = cols / group_size;
    const ttc_packed16_layout layout = ttc_packed16_tile(cols, group_size);
    for (int r = 0; r < rows; r += 16) {
        const uint8_t *tile = packed + (size_t)(r / 16) * layout.bytes;
        const float *scales = (const float *)(const void *)(tile + layout.scales);
        const int32_t *sums = (const int32_t *)(const void *)(tile + layout.sums);
        __m512 acc[8];
#pragma GCC unroll 8
        for (int t = 0; t < n_block; t++)
            acc[t] = _mm512_setzero_ps();
        for (int g = 0; g < groups; g++) {
            __m512i d[8];
#pragma GCC unroll 8
            for (int t = 0; t < n_block; t++)
                d[t] = _mm512_setzero_si512();
            for (int c = g * group_size; c < (g + 1) * group_size; c += 4) {
                const __m512i wv = _mm512_loadu_si512((const void *)(tile + (size_t)c * 16));
#pragma GCC unroll 8
                for (int t = 0; t < n_block; t++)
                    d[t] = dpbusd(d[t], broadcast_flipped(x + (size_t)(t0 + t) * cols + c), wv);
            }
            const __m512i bias = _mm512_loadu_si512((const void *)(sums + g * 16));
            const __m512 ws = _mm512_loadu_ps(scales + g * 16);
            /* acc + (float)dot * (ws * xs), in the reference's order */
#pragma GCC unroll 8
            for (int t = 0; t < n_block; t++) {
                const __m512 scale = _mm512_mul_ps(ws, _mm512_set1_ps(xs[(size_t)(t0 + t) * groups + g]));
                const __m512 dot = _mm512_cvtepi32_ps(_mm512_sub_epi32(d[t], bias));
                acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(dot, scale));
            }
        }
        const __mmask16 valid = first_lanes(ttc_min_int(16, rows - r));
#pragma GCC unroll 8
        for (int t = 0; t < n_block; t++)
            _mm512_mask_storeu_ps(out + (size_t)(t0 + t) * rows + r, valid, acc[t]);
    }
}

static TARGET_VNNI void matmul_packed_q8(float *out, const int8_t *x, const float *xs,
                                         int n_tokens, const void *packed, int rows, int cols,
                                         int group_size)
{
#define BLOCK(n) packed_block(out, x, xs, t0, n, packed, rows, cols, group_size)
    for (int t0 = 0; t0 < n_tokens; t0 += 8)
        BLOCK_OF_UP_TO_8(n_tokens - t0, BLOCK);
#undef BLOCK
}

/* ---- attention ---- */

/* Keys are taken 16 at a time, each in a register of its own, up to 64
 * bytes at a time (masked loads: a head_dim of 48 leaves a quarter of the
 * products zero, yet this measured faster than four 16-byte chunks of four
 * keys to a register, whose inserts cost more); one reduction at the end
 * serves all 16 keys. The last block of keys repeats its last key. */

/* Lane j: the sum of the 16 lanes of d[j]. Pairs of registers are added
 * lane-half to lane-half, then pairs of pairs, then the 128-bit blocks of
 * four: after each step the sums sit in the order the next one needs. */
INLINE __m512i sum16x16(const __m512i d[16])
{
    __m512i a[8], b[4];
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        a[j] = _mm512_add_epi32(_mm512_unpacklo_epi32(d[2 * j], d[2 * j + 1]),
                                _mm512_unpackhi_epi32(d[2 * j], d[2 * j + 1]));
    /* b[j], block c, lane g: the block c sum of d[4j + g] */
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++)
        b[j] = _mm512_add_epi32(_mm512_unpacklo_epi64(a[2 * j], a[2 * j + 1]),
                                _mm512_unpackhi_epi64(a[2 * j], a[2 * j + 1]));
    /* u0's blocks: the sums of blocks 0+1 and 2+3 of b[0], then of b[1]; u1 of b[2], b[3] */
    const __m512i u0 = _mm512_add_epi32(_mm512_shuffle_i32x4(b[0], b[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                        _mm512_shuffle_i32x4(b[0], b[1], _MM_SHUFFLE(3, 1, 3, 1)));
    const __m512i u1 = _mm512_add_epi32(_mm512_shuffle_i32x4(b[2], b[3], _MM_SHUFFLE(2, 0, 2, 0)),
                                        _mm512_shuffle_i32x4(b[2], b[3], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm512_add_epi32(_mm512_shuffle_i32x4(u0, u1, _MM_SHUFFLE(2, 0, 2, 0)),
                            _mm512_shuffle_i32x4(u0, u1, _MM_SHUFFLE(3, 1, 3, 1)));
}

/* out[0 .. n) for the 16 keys k (n <= 16 of them wanted). Each key has a
 * register of its own, against 64 bytes of the query at a time (masked
 * loads: zeros past head_dim, nothing read there). */
INLINE void scores_block(float *out, const int8_t *q, __m512 qs, const int8_t *const k[16],
                         const float *key_scales, int n, int head_dim, dot_add_fn *dot_add)
{
    __m512i d[16];
    /* the first 64 bytes apart, so that a head_dim up to 64 (the usual
     * case) has no loop around the sums */
    const __mmask64 m = bytes_mask(ttc_min_int(64, head_dim));
    const __m512i qv = _mm512_maskz_loadu_epi8(m, q);
#pragma GCC unroll 16
    for (int j = 0; j < 16; j++)
        d[j] = dot_add(_mm512_setzero_si512(), qv, _mm512_maskz_loadu_epi8(m, k[j]));
    for (int i = 64; i < head_dim; i += 64) {
        const __mmask64 mi = bytes_mask(ttc_min_int(64, head_dim - i));
        const __m512i qi = _mm512_maskz_loadu_epi8(mi, q + i);
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++)
            d[j] = dot_add(d[j], qi, _mm512_maskz_loadu_epi8(mi, k[j] + i));
    }
    const __m512 dots = _mm512_cvtepi32_ps(sum16x16(d));
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
    const size_t extent = (size_t)(n_keys - 1) * s + (size_t)head_dim; /* bytes of keys */
    int t = 0;
    for (; t + 16 <= n_keys; t += 16) {
        const int8_t *b = keys + (size_t)t * s;
        const int8_t *const k[16] = {
            b,          b + s,      b + 2 * s,  b + 3 * s,  b + 4 * s,  b + 5 * s,
            b + 6 * s,  b + 7 * s,  b + 8 * s,  b + 9 * s,  b + 10 * s, b + 11 * s,
            b + 12 * s, b + 13 * s, b + 14 * s, b + 15 * s};
        if ((size_t)(t + 16) * s + TTC_KEYS_PREFETCH_BYTES <= extent)
            for (size_t o = 0; o < 16 * s; o += 64)
                _mm_prefetch((const char *)(b + TTC_KEYS_PREFETCH_BYTES + o), _MM_HINT_T0);
        scores_block(out + t, q, qs, k, key_scales + t, 16, head_dim, dot_add);
    }
    if (t < n_keys) {
        const int n = n_keys - t;
        const int8_t *k[16];
        for (int j = 0; j < 16; j++)
            k[j] = keys + (size_t)(t + ttc_min_int(j, n - 1)) * s;
        scores_block(out + t, q, qs, k, key_scales + t, n, head_dim, dot_add);
    }
}

/* ---- attention scores from packed keys (the VNNI set) ----
 * The key cache's copy in the packed weights' layout (ttc_pack16_key,
 * kernels.h): 16 positions side by side, 4 bytes of each to a register, so
 * that one vpdpbusd adds to 16 keys' own lanes, and up to 8 queries share each
 * load of a block. The queries' bytes go in as x + 128, as the tokens' do for
 * the weights, and the block's int32 take 128 * each key's sum back. */

size_t ttc_packed16_keys_size(int positions, int head_dim)
{
    return (size_t)((positions + 15) / 16) * ttc_packed16_key_block(head_dim);
}

void ttc_pack16_key(void *packed_keys, int position, const int8_t *key, int head_dim)
{
    uint8_t *block =
        (uint8_t *)packed_keys + (size_t)(position / 16) * ttc_packed16_key_block(head_dim);
    const int lane = position % 16, chunks = (head_dim + 3) / 4;
    int32_t sum = 0;
    for (int i = 0; i < 4 * chunks; i++) {
        const int8_t byte = i < head_dim ? key[i] : 0;
        block[(size_t)(i / 4) * 64 + 4 * lane + i % 4] = (uint8_t)byte;
        sum += byte;
    }
    sum *= 128;
    __builtin_memcpy(block + (size_t)chunks * 64 + 4 * lane, &sum, sizeof sum);
}

/* Queries q0 .. q0 + n_block - 1 (n_block <= 8, a constant where inlined)
 * against keys 0 .. n_keys - 1. */
INLINE_VNNI void packed_scores_block(float *out, int out_stride, const int8_t *queries,
                                     const float *query_scales, int q0, int n_block,
                                     const uint8_t *packed_keys, const float *key_scales,
                                     int n_keys, int head_dim)
{
    const int whole = head_dim / 4, chunks = (head_dim + 3) / 4;
    const size_t block_bytes = ttc_packed16_key_block(head_dim);
    const int8_t *q = queries + (size_t)q0 * head_dim;
    const size_t extent = (size_t)((n_keys + 15) / 16) * block_bytes;
    /* each query's bytes of the last chunk, the missing ones 0 (their keys' are 0 too) */
    int8_t tails[8][4] = {{0}};
    if (whole < chunks)
#pragma GCC unroll 8
        for (int j = 0; j < n_block; j++)
            __builtin_memcpy(tails[j], q + (size_t)j * head_dim + 4 * whole,
                             (size_t)(head_dim - 4 * whole));
    for (int t = 0; t < n_keys; t += 16) {
        const uint8_t *block = packed_keys + (size_t)(t / 16) * block_bytes;
        if ((size_t)(t / 16) * block_bytes + TTC_KEYS_PREFETCH_BYTES + block_bytes <= extent)
            for (size_t o = 0; o < block_bytes; o += 64)
                _mm_prefetch((const char *)(block + TTC_KEYS_PREFETCH_BYTES + o), _MM_HINT_T0);
        __m512i d[8];
#pragma GCC unroll 8
        for (int j = 0; j < n_block; j++)
            d[j] = _mm512_setzero_si512();
        for (int c = 0; c < whole; c++) {
            const __m512i kv = _mm512_loadu_si512((const void *)(block + (size_t)c * 64));
#pragma GCC unroll 8
            for (int j = 0; j < n_block; j++)
                d[j] = dpbusd(d[j], broadcast_flipped(q + (size_t)j * head_dim + 4 * c), kv);
        }
        if (whole < chunks) {
            const __m512i kv = _mm512_loadu_si512((const void *)(block + (size_t)whole * 64));
#pragma GCC unroll 8
            for (int j = 0; j < n_block; j++)
                d[j] = dpbusd(d[j], broadcast_flipped(tails[j]), kv);
        }
        const __m512i bias = _mm512_loadu_si512((const void *)(block + (size_t)chunks * 64));
        const __mmask16 valid = first_lanes(ttc_min_int(16, n_keys - t));
        const __m512 ks = _mm512_maskz_loadu_ps(valid, key_scales + t);
        /* (float)dot * (q_scale * key_scale), as attention_scores_q8 */
#pragma GCC unroll 8
        for (int j = 0; j < n_block; j++) {
            const __m512 scale = _mm512_mul_ps(_mm512_set1_ps(query_scales[q0 + j]), ks);
            const __m512 dot = _mm512_cvtepi32_ps(_mm512_sub_epi32(d[j], bias));
            _mm512_mask_storeu_ps(out + (size_t)(q0 + j) * out_stride + t, valid,
                                  _mm512_mul_ps(dot, scale));
        }
    }
}

static TARGET_VNNI void attention_scores_packed_q8(float *out, int out_stride,
                                                   const int8_t *queries,
                                                   const float *query_scales, int n_queries,
                                                   const void *packed_keys,
                                                   const float *key_scales, int n_keys,
                                                   int head_dim)
{
#define BLOCK(n)                                                                          \
    packed_scores_block(out, out_stride, queries, query_scales, q0, n, packed_keys,       \
                        key_scales, n_keys, head_dim)
    for (int q0 = 0; q0 < n_queries; q0 += 8)
        BLOCK_OF_UP_TO_8(n_queries - q0, BLOCK);
#undef BLOCK
}

/* ---- attention_values_q8 ----
 * Per block of keys, the quantised weights go to a stack array, four int16 to
 * each group of keys; then every group adds its four keys' products to the
 * outputs' int32 sums at once: 32 bytes of a group (8 outputs of four keys),
 * widened to int16, times the group's four weights broadcast, summed in pairs
 * (vpmaddwd, vpdpwssd). Each int32 lane thus holds half of one output's sum,
 * over the group's first two keys or its last two; the halves are added once
 * per block. Integer sums are exact in any order: the groups alternate
 * between two sets of sums so that VNNI's additions are not one chain of
 * dependent ones. */

typedef __m512i madd_add_fn(__m512i acc, __m512i v, __m512i w);

INLINE __m512i madd_add_bw(__m512i acc, __m512i v, __m512i w)
{
    return _mm512_add_epi32(acc, _mm512_madd_epi16(v, w));
}

INLINE_VNNI __m512i madd_add_vnni(__m512i acc, __m512i v, __m512i w)
{
    return dpwssd(acc, v, w);
}

/* The largest of the floor and the weights[t] * value_scales[t] (never
 * negative, kernels.h). */
INLINE float values_weight_max(const float *weights, const float *value_scales, int n)
{
    __m512 m = _mm512_set1_ps(TTC_VALUES_WEIGHT_FLOOR);
    for (int t = 0; t < n; t += 16) {
        const __mmask16 k = first_lanes(ttc_min_int(16, n - t));
        const __m512 w = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, weights + t),
                                       _mm512_maskz_loadu_ps(k, value_scales + t));
        m = _mm512_max_ps(m, w);
    }
    return _mm512_reduce_max_ps(m);
}

/* wq[0 .. n) for n <= 256 keys, then zeros up to the next multiple of 16
 * (which covers the missing keys of a last group that is not whole). */
INLINE void values_quantize_weights(int16_t *wq, const float *weights,
                                    const float *value_scales, int n, float inverse)
{
    const __m512 iv = _mm512_set1_ps(inverse);
    const __m512i magic = _mm512_castps_si512(_mm512_set1_ps(TTC_ROUND_MAGIC));
    for (int t = 0; t < n; t += 16) {
        const __mmask16 k = first_lanes(ttc_min_int(16, n - t));
        const __m512 w = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, weights + t),
                                       _mm512_maskz_loadu_ps(k, value_scales + t));
        /* ttc_round_even with the magic number's subtraction on the bits, as
         * in quantize16 */
        const __m512 r = _mm512_add_ps(_mm512_mul_ps(w, iv), _mm512_castsi512_ps(magic));
        const __m512i q = _mm512_sub_epi32(_mm512_castps_si512(r), magic);
        _mm256_storeu_si256((__m256i *)(void *)(wq + t), _mm512_cvtepi32_epi16(q));
    }
}

/* 8 outputs of a group as int16: 32 bytes at p, or the first 4n (n < 8) by
 * a masked load when last is set. */
INLINE __m512i load_group8(const int8_t *p, int last, __mmask32 last_mask)
{
    const __m256i bytes = last ? _mm256_maskz_loadu_epi8(last_mask, p)
                               : _mm256_loadu_si256((const __m256i *)(const void *)p);
    return _mm512_cvtepi8_epi16(bytes);
}

/* acc[0 .. nb) + the products of one group at v (8 outputs to a register,
 * the last register's n_last of them selected by last_mask) with its weights
 * ws. */
INLINE void group_add(__m512i acc[8], const int8_t *v, __m512i ws, int nb, __mmask32 last_mask,
                      madd_add_fn *madd_add)
{
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        if (j < nb)
            acc[j] = madd_add(acc[j], load_group8(v + 32 * j, j == nb - 1, last_mask), ws);
}

/* The group's four weights at w, repeated in every 64-bit lane. */
INLINE __m512i group_weights(const int16_t *w)
{
    int64_t four;
    __builtin_memcpy(&four, w, sizeof four);
    return _mm512_set1_epi64(four);
}

/* out[0 .. n) of one block of n_groups groups (group g at groups + g *
 * group_bytes, its weights at wq + 4g), 8 * (nb - 1) < n <= 8 * nb: stored
 * when first, else added to out. nb is a constant after inlining; the loops
 * run to literal bounds and test j < nb so that both gcc and clang unroll
 * them and keep the 2 * nb sums in registers. */
INLINE void values_block(float *out, const int16_t *wq, const int8_t *groups, int n_groups,
                         int group_bytes, int n, int nb, int first, madd_add_fn *madd_add)
{
    const int n_last = n - 8 * (nb - 1);
    const __mmask32 last_mask = (__mmask32)(n_last == 8 ? 0xffffffffu : (1u << 4 * n_last) - 1);
    __m512i acc0[8], acc1[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        acc0[j] = acc1[j] = _mm512_setzero_si512();
    const int8_t *v = groups;
    int g = 0;
    for (; g + 2 <= n_groups; g += 2, v += 2 * (size_t)group_bytes) {
        group_add(acc0, v, group_weights(wq + 4 * g), nb, last_mask, madd_add);
        group_add(acc1, v + group_bytes, group_weights(wq + 4 * g + 4), nb, last_mask, madd_add);
    }
    if (g < n_groups)
        group_add(acc0, v, group_weights(wq + 4 * g), nb, last_mask, madd_add);
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        if (j < nb) {
            /* an output's halves share a 64-bit lane: its low 32 bits get the sum */
            const __m512i s = _mm512_add_epi32(acc0[j], acc1[j]);
            const __m512i halves = _mm512_add_epi32(s, _mm512_srli_epi64(s, 32));
            const __m256i sums = _mm512_cvtepi64_epi32(halves);
            const __mmask8 k = (__mmask8)first_lanes(ttc_min_int(8, n - 8 * j));
            __m256 sum = _mm256_cvtepi32_ps(sums);
            if (!first)
                sum = _mm256_add_ps(_mm256_maskz_loadu_ps(k, out + 8 * j), sum);
            _mm256_mask_storeu_ps(out + 8 * j, k, sum);
        }
}

INLINE void attention_values_q8(float *out, const float *weights, const int8_t *values,
                                const float *value_scales, int n_values, int head_dim,
                                madd_add_fn *madd_add)
{
    const float w_max = values_weight_max(weights, value_scales, n_values);
    const float inverse = TTC_VALUES_WEIGHT_MAX / w_max;
    const float unit = w_max / TTC_VALUES_WEIGHT_MAX;
    const int group_bytes = TTC_VALUES_KEY_GROUP * head_dim;
    _Alignas(64) int16_t wq[TTC_VALUES_KEY_BLOCK]; /* 256: a multiple of 16 */

    for (int t0 = 0; t0 < n_values; t0 += TTC_VALUES_KEY_BLOCK) {
        const int n_keys = ttc_min_int(TTC_VALUES_KEY_BLOCK, n_values - t0);
        values_quantize_weights(wq, weights + t0, value_scales + t0, n_keys, inverse);
        const int n_groups = (n_keys + TTC_VALUES_KEY_GROUP - 1) / TTC_VALUES_KEY_GROUP;
        const int first = t0 == 0;
        for (int i = 0; i < head_dim; i += 64) {
            const int n = ttc_min_int(64, head_dim - i);
            float *o = out + i;
            const int8_t *v = values + ttc_value_offset(t0, i, head_dim);
            switch ((n + 7) / 8) {
            case 1: values_block(o, wq, v, n_groups, group_bytes, n, 1, first, madd_add); break;
            case 2: values_block(o, wq, v, n_groups, group_bytes, n, 2, first, madd_add); break;
            case 3: values_block(o, wq, v, n_groups, group_bytes, n, 3, first, madd_add); break;
            case 4: values_block(o, wq, v, n_groups, group_bytes, n, 4, first, madd_add); break;
            case 5: values_block(o, wq, v, n_groups, group_bytes, n, 5, first, madd_add); break;
            case 6: values_block(o, wq, v, n_groups, group_bytes, n, 6, first, madd_add); break;
            case 7: values_block(o, wq, v, n_groups, group_bytes, n, 7, first, madd_add); break;
            default: values_block(o, wq, v, n_groups, group_bytes, n, 8, first, madd_add); break;
            }
        }
    }
    const __m512 u = _mm512_set1_ps(unit);
    for (int i = 0; i < head_dim; i += 16) {
        const __mmask16 k = first_lanes(ttc_min_int(16, head_dim - i));
        _mm512_mask_storeu_ps(out + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, out + i), u));
    }
}

/* ---- softmax (no int8 products: one function serves both sets) ---- */

/* ttc_softmax_expf (ttc_math.h) on 16 lanes, with exactly its steps: its
 * branch becomes a zero-masked multiply, its 2^n the same shift of shifted's
 * bits. */
INLINE __m512 exp16(__m512 x)
{
    /* the lanes that are >= -87 (not NaN, which gives 0 as in
     * ttc_softmax_expf) */
    const __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(TTC_EXP_LOWEST), _CMP_GE_OQ);
    const __m512 magic = _mm512_set1_ps(TTC_ROUND_MAGIC);
    const __m512 y = _mm512_mul_ps(x, _mm512_set1_ps(TTC_EXP_LOG2E));
    const __m512 shifted = _mm512_add_ps(y, magic);
    const __m512 f = _mm512_sub_ps(y, _mm512_sub_ps(shifted, magic));
    __m512 p = _mm512_set1_ps(TTC_EXP2_C5);
    p = _mm512_add_ps(_mm512_mul_ps(p, f), _mm512_set1_ps(TTC_EXP2_C4));
    p = _mm512_add_ps(_mm512_mul_ps(p, f), _mm512_set1_ps(TTC_EXP2_C3));
    p = _mm512_add_ps(_mm512_mul_ps(p, f), _mm512_set1_ps(TTC_EXP2_C2));
    p = _mm512_add_ps(_mm512_mul_ps(p, f), _mm512_set1_ps(TTC_EXP2_C1));
    p = _mm512_add_ps(_mm512_mul_ps(p, f), _mm512_set1_ps(1.0f));
    const __m512i bits = _mm512_add_epi32(_mm512_slli_epi32(_mm512_castps_si512(shifted), 23),
                                          _mm512_set1_epi32(127 << 23));
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
        const __mmask16 k = first_lanes(ttc_min_int(16, n - i));
        _mm512_mask_storeu_ps(x + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), iv));
    }
}

/* ---- silu_times (one function serves both sets) ---- */

/* ttc_expf (ttc_math.h) on 16 lanes with exactly its steps: lanes not >= -87
 * (NaN included) give 0, the clamp is a minimum, n's bits go to the exponent
 * field as an integer. */
INLINE __m512 expf16(__m512 x)
{
    const __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(TTC_EXP_LOWEST), _CMP_GE_OQ);
    x = _mm512_min_ps(x, _mm512_set1_ps(TTC_EXP_HIGHEST));
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
    const __m512i bits =
        _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_maskz_mul_ps(keep, p, _mm512_castsi512_ps(bits));
}

/* The last chunk masked: lanes past the end load 0 and are not stored. */
static TARGET void silu_times(float *gate, const float *up, int n)
{
    for (int i = 0; i < n; i += 16) {
        const __mmask16 k = first_lanes(ttc_min_int(16, n - i));
        const __m512 g = _mm512_maskz_loadu_ps(k, gate + i);
        const __m512 minus_g = _mm512_castsi512_ps(
            _mm512_xor_si512(_mm512_castps_si512(g), _mm512_set1_epi32((int)0x80000000u)));
        const __m512 e = expf16(minus_g);
        const __m512 s = _mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
        _mm512_mask_storeu_ps(gate + i, k, _mm512_mul_ps(s, _mm512_maskz_loadu_ps(k, up + i)));
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
            const __mmask16 k = first_lanes(ttc_min_int(16, group_size - i));
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

static TARGET void attention_values_q8_bw(float *out, const float *weights,
                                          const int8_t *values, const float *value_scales,
                                          int n_values, int head_dim)
{
    attention_values_q8(out, weights, values, value_scales, n_values, head_dim, madd_add_bw);
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

static TARGET_VNNI void attention_values_q8_vnni(float *out, const float *weights,
                                                 const int8_t *values, const float *value_scales,
                                                 int n_values, int head_dim)
{
    attention_values_q8(out, weights, values, value_scales, n_values, head_dim,
                        madd_add_vnni);
}

static const ttc_kernels kernels_avx512 = {
    .name = "avx512",
    .matmul_q8 = matmul_q8_bw,
    .attention_scores_q8 = attention_scores_q8_bw,
    .attention_values_q8 = attention_values_q8_bw,
    .softmax = softmax,
    .silu_times = silu_times,
    .quantize_q8 = quantize_q8,
};

static const ttc_kernels kernels_avx512vnni = {
    .name = "avx512vnni",
    .draft_tokens = 4,
    .matmul_q8 = matmul_q8_vnni,
    .attention_scores_q8 = attention_scores_q8_vnni,
    .attention_values_q8 = attention_values_q8_vnni,
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

static int cpu_has_avx512(void)
{
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
}

const ttc_kernels *ttc_kernels_avx512(void)
{
    return cpu_has_avx512() ? &kernels_avx512 : NULL;
}

const ttc_kernels *ttc_kernels_avx512vnni(void)
{
    return cpu_has_avx512() && __builtin_cpu_supports("avx512vnni") ? &kernels_avx512vnni : NULL;
}

#else

const ttc_kernels *ttc_kernels_avx512(void)
{
    return NULL;
}

const ttc_kernels *ttc_kernels_avx512vnni(void)
{
    return NULL;
}

#endif
