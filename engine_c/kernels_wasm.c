/* WebAssembly SIMD128 kernels (built with clang --target=wasm32 -msimd128).
 *
 * Results are bit-identical to kernels_generic.c: the int8 dot products are
 * exact, and the float work is done lane by lane in the reference's order,
 * one multiply then one add (SIMD128 has no fused multiply-add, and the
 * pragma in kernels.h keeps the compiler from fusing scalar code either).
 *
 * Built with -mrelaxed-simd as well (web_demo/engine-relaxed.wasm), matmul_q8,
 * attention_scores_q8 and attention_values_q8 take their int8 dot products
 * with relaxed SIMD's i32x4.relaxed_dot_i8x16_i7x16_add_s, whose result is
 * only defined when the second operand's bytes lie in [0, 127] and no sum of
 * two products leaves int16. Both hold here: in the matrix product and the
 * scores x's sign moves to w (below), |x| <= 127 since the quantised
 * activations lie in [-127, 127]; the values' weights come in 7-bit parts;
 * and a pair of products is at most 2 * 128 * 127 = 32512. The module still
 * checks at load time that the engine implements it that way
 * (ttc_kernels_self_check, kernels_select.c). */
#include "kernels.h"
#include "ttc_math.h"

#if defined(__wasm_simd128__)

#include <wasm_simd128.h>

#define INLINE static inline __attribute__((always_inline))

/* ttc_round_even of 4 floats (|x| < 2^22) as int32 lanes: the magic number's
 * subtraction done on the bits (kernels.h). */
INLINE v128_t round_to_int4(v128_t x)
{
    const v128_t magic = wasm_f32x4_splat(TTC_ROUND_MAGIC);
    return wasm_i32x4_sub(wasm_f32x4_add(x, magic), magic);
}

#if defined(__wasm_relaxed_simd__)
/* acc plus the products of 16 int8 pairs, 4 to each int32 lane, for x given
 * as xa = |x| (bytes in [0, 127]) and xm = x >> 7 (0 or -1 in each byte),
 * less the sum of the |x| where x < 0 (see sign_fix):
 *   (w ^ xm) is w where x >= 0 and ~w = -w - 1 where x < 0, so
 *   |x| * (w ^ xm) = x * w, or x * w - |x| where x < 0. */
INLINE v128_t rdot16(v128_t acc, v128_t xa, v128_t xm, v128_t w)
{
    return (v128_t)__builtin_wasm_relaxed_dot_i8x16_i7x16_add_s_i32x4(
        (__i8x16)wasm_v128_xor(w, xm), (__i8x16)xa, (__i32x4)acc);
}

/* acc minus what rdot16 takes off for these 16 bytes of x: the sum of the
 * |x| where x < 0, 4 bytes to each lane (dot of xm, all -1 or 0, with |x|). */
INLINE v128_t sign_fix(v128_t acc, v128_t xa, v128_t xm)
{
    return (v128_t)__builtin_wasm_relaxed_dot_i8x16_i7x16_add_s_i32x4((__i8x16)xm, (__i8x16)xa,
                                                                      (__i32x4)acc);
}
#else
/* acc plus the products of 16 int8 pairs, 4 to each int32 lane. */
INLINE v128_t dot16(v128_t acc, v128_t x, v128_t w)
{
    /* The int16 sums of two products (at most 2 * 127 * 127) cannot overflow. */
    const v128_t p = wasm_i16x8_add(wasm_i16x8_extmul_low_i8x16(x, w),
                                    wasm_i16x8_extmul_high_i8x16(x, w));
    return wasm_i32x4_add(acc, wasm_i32x4_extadd_pairwise_i16x8(p));
}
#endif

/* Lane i of the result is the sum of the 4 lanes of a[i]. */
INLINE v128_t sum4(const v128_t a[4])
{
    /* ab = [a0+a2, b0+b2, a1+a3, b1+b3] for a = a[0], b = a[1]; cd likewise. */
    const v128_t ab = wasm_i32x4_add(wasm_i32x4_shuffle(a[0], a[1], 0, 4, 1, 5),
                                     wasm_i32x4_shuffle(a[0], a[1], 2, 6, 3, 7));
    const v128_t cd = wasm_i32x4_add(wasm_i32x4_shuffle(a[2], a[3], 0, 4, 1, 5),
                                     wasm_i32x4_shuffle(a[2], a[3], 2, 6, 3, 7));
    return wasm_i32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 1, 4, 5),
                          wasm_i32x4_shuffle(ab, cd, 2, 3, 6, 7));
}

/* ---- matmul_q8 ----
 * Tiles of one token x 8 weight rows, all 8 against the same chunk of the
 * token. Prefill takes every token of a block through a tile before moving
 * on, so that the tile's weights come from memory once per block and its
 * weight scales are rearranged once. A tile at the end of the rows repeats
 * the last row; only valid lanes are stored. The rows' sums wait in out
 * between chunks of groups. */

/* Groups are taken in chunks of this many, tokens in blocks of that many. */
enum { GROUP_CHUNK = 16, TOKEN_BLOCK = 64 };

/* wsT[j][h], lane i: the scale of group g0 + j in weight row 4h + i (scales
 * at ws_row[4h + i]), for ng <= GROUP_CHUNK groups. */
static void transposed_scales(v128_t wsT[GROUP_CHUNK][2], const float *const ws_row[8], int g0,
                              int ng)
{
    for (int j = 0; j < ng; j++)
        for (int h = 0; h < 2; h++)
            wsT[j][h] = wasm_f32x4_make(ws_row[4 * h][g0 + j], ws_row[4 * h + 1][g0 + j],
                                        ws_row[4 * h + 2][g0 + j], ws_row[4 * h + 3][g0 + j]);
}

#if defined(__wasm_relaxed_simd__)
/* start[t][j]: what rdot16 takes off group g0 + j of token t0 + t (minus its
 * sign_fix), where that group's dot products start so that they end exact;
 * the same for every tile of weight rows, so worked out once. */
static void dot_starts(v128_t start[TOKEN_BLOCK][GROUP_CHUNK], const int8_t *x, int n_tokens,
                       int cols, int g0, int ng, int group_size)
{
    for (int t = 0; t < n_tokens; t++)
        for (int j = 0; j < ng; j++) {
            const int8_t *group = x + (size_t)t * cols + (size_t)(g0 + j) * group_size;
            v128_t fix = wasm_i32x4_splat(0);
            for (int c = 0; c < group_size; c += 16) {
                const v128_t xv = wasm_v128_load(group + c);
                fix = sign_fix(fix, wasm_i8x16_abs(xv), wasm_i8x16_shr(xv, 7));
            }
            start[t][j] = wasm_i32x4_neg(fix);
        }
}
#endif

/* acc (rows 0-3, 4-7) plus the contributions of groups g0 .. g0+ng-1 of one
 * token x against the weight rows wr; start[j]: where group g0 + j's dot
 * products start (dot_starts; unused without relaxed SIMD). */
INLINE void tile_1x8(v128_t acc[2], const int8_t *x, const float *xs, const int8_t *const wr[8],
                     v128_t wsT[][2], const v128_t *start, int g0, int ng, int group_size)
{
    for (int g = g0; g < g0 + ng; g++) {
        v128_t d[8];
#if defined(__wasm_relaxed_simd__)
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++)
            d[i] = start[g - g0];
        for (int c = g * group_size; c < (g + 1) * group_size; c += 16) {
            const v128_t xv = wasm_v128_load(x + c);
            const v128_t xa = wasm_i8x16_abs(xv), xm = wasm_i8x16_shr(xv, 7);
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++)
                d[i] = rdot16(d[i], xa, xm, wasm_v128_load(wr[i] + c));
        }
#else
        (void)start;
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++)
            d[i] = wasm_i32x4_splat(0);
        for (int c = g * group_size; c < (g + 1) * group_size; c += 16) {
            const v128_t xv = wasm_v128_load(x + c);
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++)
                d[i] = dot16(d[i], xv, wasm_v128_load(wr[i] + c));
        }
#endif
        /* acc + (float)dot * (ws * xs), in the reference's order */
        const v128_t xsv = wasm_f32x4_splat(xs[g]);
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            const v128_t scales = wasm_f32x4_mul(wsT[g - g0][h], xsv);
            const v128_t dots = wasm_f32x4_convert_i32x4(sum4(d + 4 * h));
            acc[h] = wasm_f32x4_add(acc[h], wasm_f32x4_mul(dots, scales));
        }
    }
}

/* The sums of n <= 8 rows at p as a tile's acc (lanes past n: 0), and back. */
static void load_rows(v128_t acc[2], const float *p, int n)
{
    float lanes[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    ttc_copy_floats(lanes, p, n);
    acc[0] = wasm_v128_load(lanes);
    acc[1] = wasm_v128_load(lanes + 4);
}

static void store_rows(float *p, const v128_t acc[2], int n)
{
    float lanes[8];
    wasm_v128_store(lanes, acc[0]);
    wasm_v128_store(lanes + 4, acc[1]);
    ttc_copy_floats(p, lanes, n);
}

static void matmul_q8(float *out, const int8_t *x, const float *xs, int n_tokens,
                      const int8_t *w, const float *ws, int rows, int cols, int group_size)
{
    const int groups = cols / group_size;
#if defined(__wasm_relaxed_simd__)
    v128_t start[TOKEN_BLOCK][GROUP_CHUNK];
#endif

    for (int t0 = 0; t0 < n_tokens; t0 += TOKEN_BLOCK) {
        const int t_end = ttc_min_int(t0 + TOKEN_BLOCK, n_tokens);
        for (int g0 = 0; g0 < groups; g0 += GROUP_CHUNK) {
            const int ng = ttc_min_int(GROUP_CHUNK, groups - g0);
#if defined(__wasm_relaxed_simd__)
            dot_starts(start, x + (size_t)t0 * cols, t_end - t0, cols, g0, ng, group_size);
#endif
            for (int r = 0; r < rows; r += 8) {
                const int n = ttc_min_int(8, rows - r);
                const int8_t *wr[8];
                const float *ws_row[8];
                ttc_tile_rows(wr, ws_row, 8, w, ws, rows, r, cols, groups);
                v128_t wsT[GROUP_CHUNK][2];
                transposed_scales(wsT, ws_row, g0, ng);
                for (int t = t0; t < t_end; t++) {
                    float *o = out + (size_t)t * rows + r;
                    v128_t acc[2];
                    if (g0 == 0)
                        acc[0] = acc[1] = wasm_f32x4_splat(0.0f);
                    else if (n == 8) {
                        acc[0] = wasm_v128_load(o);
                        acc[1] = wasm_v128_load(o + 4);
                    } else
                        load_rows(acc, o, n);
#if defined(__wasm_relaxed_simd__)
                    const v128_t *token_start = start[t - t0];
#else
                    const v128_t *token_start = NULL;
#endif
                    tile_1x8(acc, x + (size_t)t * cols, xs + (size_t)t * groups, wr, wsT,
                             token_start, g0, ng, group_size);
                    if (n == 8) {
                        wasm_v128_store(o, acc[0]);
                        wasm_v128_store(o + 4, acc[1]);
                    } else
                        store_rows(o, acc, n);
                }
            }
        }
    }
}

/* ---- attention ---- */

#if defined(__wasm_relaxed_simd__)
/* What dot_keys' d[j] start from: minus the sign_fix of q's vector chunks
 * (16 bytes, then 8 bytes zero above), the same for every key. */
static v128_t keys_start(const int8_t *q, int head_dim)
{
    v128_t fix = wasm_i32x4_splat(0);
    int i = 0;
    for (; i + 16 <= head_dim; i += 16) {
        const v128_t qv = wasm_v128_load(q + i);
        fix = sign_fix(fix, wasm_i8x16_abs(qv), wasm_i8x16_shr(qv, 7));
    }
    if (i + 8 <= head_dim) {
        const v128_t qv = wasm_v128_load64_zero(q + i);
        fix = sign_fix(fix, wasm_i8x16_abs(qv), wasm_i8x16_shr(qv, 7));
    }
    return wasm_i32x4_neg(fix);
}

/* acc plus the products of q's and k's 16 bytes (rdot16). */
#define KEY_DOT(acc, qv, kv) rdot16(acc, qa, qm, kv)
#define KEY_Q(qv) const v128_t qa = wasm_i8x16_abs(qv), qm = wasm_i8x16_shr(qv, 7)
#else
static v128_t keys_start(const int8_t *q, int head_dim)
{
    (void)q;
    (void)head_dim;
    return wasm_i32x4_splat(0);
}

#define KEY_DOT(acc, qv, kv) dot16(acc, qv, kv)
#define KEY_Q(qv) (void)0
#endif

/* dots[h], lane i: the dot product of q and k[4h + i] over head_dim bytes;
 * start: keys_start(q, head_dim). */
INLINE void dot_keys(v128_t dots[2], const int8_t *q, v128_t start, const int8_t *const k[8],
                     int head_dim)
{
    v128_t d[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        d[j] = start;
    int i = 0;
    for (; i + 16 <= head_dim; i += 16) {
        const v128_t qv = wasm_v128_load(q + i);
        KEY_Q(qv);
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++)
            d[j] = KEY_DOT(d[j], qv, wasm_v128_load(k[j] + i));
    }
    if (i + 8 <= head_dim) {
        /* 8 bytes, zero above: the upper products are zero */
        const v128_t qv = wasm_v128_load64_zero(q + i);
        KEY_Q(qv);
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++)
            d[j] = KEY_DOT(d[j], qv, wasm_v128_load64_zero(k[j] + i));
        i += 8;
    }
    dots[0] = sum4(d);
    dots[1] = sum4(d + 4);
    if (i < head_dim) {
        int32_t tail[8];
        for (int j = 0; j < 8; j++)
            tail[j] = ttc_dot_i8(q + i, k[j] + i, head_dim - i);
        dots[0] = wasm_i32x4_add(dots[0], wasm_v128_load(tail));
        dots[1] = wasm_i32x4_add(dots[1], wasm_v128_load(tail + 4));
    }
}

/* out[0 .. n) for the 8 keys k (n <= 8 of them wanted; ks: their 8 scales). */
INLINE void scores_block(float *out, const int8_t *q, v128_t start, v128_t qs,
                         const int8_t *const k[8], const float *ks, int n, int head_dim)
{
    v128_t dots[2];
    dot_keys(dots, q, start, k, head_dim);
    float lanes[8];
    float *to = n == 8 ? out : lanes; /* n is a constant after inlining */
    for (int h = 0; h < 2; h++) {
        const v128_t scales = wasm_f32x4_mul(qs, wasm_v128_load(ks + 4 * h));
        wasm_v128_store(to + 4 * h, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(dots[h]), scales));
    }
    if (n < 8)
        ttc_copy_floats(out, lanes, n);
}

/* Keys are taken 8 at a time; a last block of fewer repeats its last key. */
static void attention_scores_q8(float *out, const int8_t *q, float q_scale, const int8_t *keys,
                                const float *key_scales, int n_keys, int head_dim,
                                int key_stride)
{
    const v128_t qs = wasm_f32x4_splat(q_scale);
    const v128_t start = keys_start(q, head_dim);
    const size_t s = (size_t)key_stride;
    int t = 0;
    for (; t + 8 <= n_keys; t += 8) {
        const int8_t *b = keys + (size_t)t * s;
        const int8_t *const k[8] = {b,         b + s,     b + 2 * s, b + 3 * s,
                                    b + 4 * s, b + 5 * s, b + 6 * s, b + 7 * s};
        scores_block(out + t, q, start, qs, k, key_scales + t, 8, head_dim);
    }
    if (t < n_keys) {
        const int n = n_keys - t;
        const int8_t *k[8];
        float ks[8];
        for (int j = 0; j < 8; j++) {
            k[j] = keys + (size_t)(t + ttc_min_int(j, n - 1)) * s;
            ks[j] = key_scales[t + ttc_min_int(j, n - 1)];
        }
        scores_block(out + t, q, start, qs, k, ks, n, head_dim);
    }
}

/* ---- attention_values_q8 ----
 * Per block of keys, the quantised weights go to a stack array; then every
 * group of 4 keys adds its keys' products to the outputs' int32 sums at once,
 * 16 bytes (4 outputs of the 4 keys) at a time.
 *
 * SIMD128: the bytes widened to int16 dot the group's 4 weights
 * (i32x4.dot_i16x8_s), so that each int32 lane sums 2 keys of one output; the
 * two halves of every output are added once per block.
 *
 * Relaxed SIMD: the weights in two 7-bit parts, w = 128 * hi + lo, each part
 * dot the bytes with i32x4.relaxed_dot_i8x16_i7x16_add_s (twice the products
 * per instruction, and no widening); hi and lo keep their own sums, joined
 * once per block. The second operand's bytes lie in [0, 127], and a sum of
 * two products is at most 2 * 128 * 127, as that instruction needs. */

/* Outputs are taken in passes of up to 4 * VALUES_UNITS: 2 * VALUES_UNITS
 * sums, and the rest of x86-64's 16 vector registers for V8. */
enum { VALUES_UNITS = 4, VALUES_GROUP_BYTES = 4 * TTC_VALUES_KEY_GROUP };

/* The largest of the floor and the weights[t] * value_scales[t]. */
static float values_weight_max(const float *weights, const float *value_scales, int n)
{
    v128_t m = wasm_f32x4_splat(TTC_VALUES_WEIGHT_FLOOR);
    int t = 0;
    for (; t + 4 <= n; t += 4)
        m = wasm_f32x4_pmax(m, wasm_f32x4_mul(wasm_v128_load(weights + t),
                                              wasm_v128_load(value_scales + t)));
    float lane[4];
    wasm_v128_store(lane, m);
    float w_max = lane[0];
    for (int j = 1; j < 4; j++)
        w_max = lane[j] > w_max ? lane[j] : w_max;
    for (; t < n; t++) {
        const float w = weights[t] * value_scales[t];
        w_max = w > w_max ? w : w_max;
    }
    return w_max;
}

/* The quantised weights of the 4 keys at t as int32. */
INLINE v128_t values_quantize4(const float *weights, const float *value_scales, int t,
                               v128_t inverse)
{
    const v128_t w = wasm_f32x4_mul(wasm_v128_load(weights + t), wasm_v128_load(value_scales + t));
    return round_to_int4(wasm_f32x4_mul(w, inverse));
}

#if defined(__wasm_relaxed_simd__)
/* The weights of keys 0 .. n-1 (n <= 256), as two 7-bit parts: hi[t] =
 * wq[t] >> 7, lo[t] = wq[t] & 127; both 0 from n up to a whole group. */
typedef struct {
    uint8_t hi[TTC_VALUES_KEY_BLOCK], lo[TTC_VALUES_KEY_BLOCK];
} values_weights;

static void values_quantize_weights(values_weights *wq, const float *weights,
                                    const float *value_scales, int n, float inverse)
{
    const v128_t iv = wasm_f32x4_splat(inverse);
    const v128_t low_bits = wasm_i32x4_splat(127);
    int t = 0;
    for (; t + 8 <= n; t += 8) {
        const v128_t q0 = values_quantize4(weights, value_scales, t, iv);
        const v128_t q1 = values_quantize4(weights, value_scales, t + 4, iv);
        const v128_t hi = wasm_i16x8_narrow_i32x4(wasm_i32x4_shr(q0, 7), wasm_i32x4_shr(q1, 7));
        const v128_t lo = wasm_i16x8_narrow_i32x4(wasm_v128_and(q0, low_bits),
                                                  wasm_v128_and(q1, low_bits));
        wasm_v128_store64_lane(wq->hi + t, wasm_u8x16_narrow_i16x8(hi, hi), 0);
        wasm_v128_store64_lane(wq->lo + t, wasm_u8x16_narrow_i16x8(lo, lo), 0);
    }
    for (; t < n; t++) {
        const int32_t q = ttc_round_clamped(weights[t] * value_scales[t] * inverse,
                                            TTC_VALUES_WEIGHT_MAX);
        wq->hi[t] = (uint8_t)(q >> 7);
        wq->lo[t] = (uint8_t)(q & 127);
    }
    for (; t % TTC_VALUES_KEY_GROUP != 0; t++)
        wq->hi[t] = wq->lo[t] = 0;
}

/* out[0 .. 4*nu) of one block of n_groups groups (group g at groups + g *
 * group_bytes, its weights at 4g of wq's parts), nu <= VALUES_UNITS: stored
 * when first, else added to out. nu is a constant after inlining; the loops
 * run to constant bounds and test j < nu so that the compiler unrolls them
 * and keeps the sums in locals. */
INLINE void values_block(float *out, const values_weights *wq, const int8_t *groups,
                         int n_groups, int group_bytes, int nu, int first)
{
    v128_t acc_hi[VALUES_UNITS], acc_lo[VALUES_UNITS];
#pragma GCC unroll 4
    for (int j = 0; j < VALUES_UNITS; j++)
        acc_hi[j] = acc_lo[j] = wasm_i32x4_splat(0);
    for (int g = 0; g < n_groups; g++) {
        int32_t hi, lo;
        __builtin_memcpy(&hi, wq->hi + 4 * g, sizeof hi);
        __builtin_memcpy(&lo, wq->lo + 4 * g, sizeof lo);
        const v128_t hs = wasm_i32x4_splat(hi), ls = wasm_i32x4_splat(lo);
        const int8_t *v = groups + (size_t)g * group_bytes;
#pragma GCC unroll 4
        for (int j = 0; j < VALUES_UNITS; j++)
            if (j < nu) {
                const __i8x16 bytes = (__i8x16)wasm_v128_load(v + VALUES_GROUP_BYTES * j);
                acc_hi[j] = (v128_t)__builtin_wasm_relaxed_dot_i8x16_i7x16_add_s_i32x4(
                    bytes, (__i8x16)hs, (__i32x4)acc_hi[j]);
                acc_lo[j] = (v128_t)__builtin_wasm_relaxed_dot_i8x16_i7x16_add_s_i32x4(
                    bytes, (__i8x16)ls, (__i32x4)acc_lo[j]);
            }
    }
#pragma GCC unroll 4
    for (int j = 0; j < VALUES_UNITS; j++)
        if (j < nu) {
            const v128_t sums = wasm_i32x4_add(wasm_i32x4_shl(acc_hi[j], 7), acc_lo[j]);
            v128_t sum = wasm_f32x4_convert_i32x4(sums);
            if (!first)
                sum = wasm_f32x4_add(wasm_v128_load(out + 4 * j), sum);
            wasm_v128_store(out + 4 * j, sum);
        }
}

/* wq's weight of key t */
INLINE int32_t values_weight(const values_weights *wq, int t)
{
    return 128 * (int32_t)wq->hi[t] + (int32_t)wq->lo[t];
}
#else
/* The weights of keys 0 .. n-1 (n <= 256) as int16; 0 from n up to a whole
 * group. */
typedef struct {
    int16_t w[TTC_VALUES_KEY_BLOCK];
} values_weights;

static void values_quantize_weights(values_weights *wq, const float *weights,
                                    const float *value_scales, int n, float inverse)
{
    const v128_t iv = wasm_f32x4_splat(inverse);
    int t = 0;
    for (; t + 8 <= n; t += 8)
        wasm_v128_store(wq->w + t,
                        wasm_i16x8_narrow_i32x4(values_quantize4(weights, value_scales, t, iv),
                                                values_quantize4(weights, value_scales, t + 4, iv)));
    for (; t < n; t++)
        wq->w[t] = (int16_t)ttc_round_clamped(weights[t] * value_scales[t] * inverse,
                                               TTC_VALUES_WEIGHT_MAX);
    for (; t % TTC_VALUES_KEY_GROUP != 0; t++)
        wq->w[t] = 0;
}

/* As the relaxed version above; each unit of 4 outputs has two sums, lanes
 * (output 0 keys 0-1, output 0 keys 2-3, output 1 keys 0-1, ...) of its
 * first and second 8 bytes. */
INLINE void values_block(float *out, const values_weights *wq, const int8_t *groups,
                         int n_groups, int group_bytes, int nu, int first)
{
    v128_t acc[2 * VALUES_UNITS];
#pragma GCC unroll 8
    for (int j = 0; j < 2 * VALUES_UNITS; j++)
        acc[j] = wasm_i32x4_splat(0);
    for (int g = 0; g < n_groups; g++) {
        int64_t w;
        __builtin_memcpy(&w, wq->w + 4 * g, sizeof w);
        const v128_t ws = wasm_i64x2_splat(w); /* w0, w1, w2, w3, w0, ... as int16 */
        const int8_t *v = groups + (size_t)g * group_bytes;
#pragma GCC unroll 8
        for (int j = 0; j < 2 * VALUES_UNITS; j++)
            if (j < 2 * nu)
                acc[j] = wasm_i32x4_add(acc[j],
                                        wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(v + 8 * j), ws));
    }
#pragma GCC unroll 4
    for (int j = 0; j < VALUES_UNITS; j++)
        if (j < nu) {
            const v128_t a = acc[2 * j], b = acc[2 * j + 1];
            const v128_t sums = wasm_i32x4_add(wasm_i32x4_shuffle(a, b, 0, 2, 4, 6),
                                               wasm_i32x4_shuffle(a, b, 1, 3, 5, 7));
            v128_t sum = wasm_f32x4_convert_i32x4(sums);
            if (!first)
                sum = wasm_f32x4_add(wasm_v128_load(out + 4 * j), sum);
            wasm_v128_store(out + 4 * j, sum);
        }
}

/* wq's weight of key t */
INLINE int32_t values_weight(const values_weights *wq, int t)
{
    return wq->w[t];
}
#endif

/* The last head_dim % 4 outputs (n < 4), one at a time. */
static void values_tail(float *out, const values_weights *wq, const int8_t *groups,
                        int n_groups, int group_bytes, int n, int first)
{
    int32_t acc[4] = {0, 0, 0, 0};
    for (int g = 0; g < n_groups; g++) {
        const int8_t *v = groups + (size_t)g * group_bytes;
        for (int k = 0; k < TTC_VALUES_KEY_GROUP; k++) {
            const int32_t w = values_weight(wq, TTC_VALUES_KEY_GROUP * g + k);
            for (int i = 0; i < n; i++)
                acc[i] += w * (int32_t)v[TTC_VALUES_KEY_GROUP * i + k];
        }
    }
    for (int i = 0; i < n; i++)
        out[i] = first ? (float)acc[i] : out[i] + (float)acc[i];
}

static void attention_values_q8(float *out, const float *weights, const int8_t *values,
                                const float *value_scales, int n_values, int head_dim)
{
    const float w_max = values_weight_max(weights, value_scales, n_values);
    const float inverse = TTC_VALUES_WEIGHT_MAX / w_max;
    const float unit = w_max / TTC_VALUES_WEIGHT_MAX;
    const int group_bytes = TTC_VALUES_KEY_GROUP * head_dim;
    values_weights wq;

    for (int t0 = 0; t0 < n_values; t0 += TTC_VALUES_KEY_BLOCK) {
        const int n_keys = ttc_min_int(TTC_VALUES_KEY_BLOCK, n_values - t0);
        values_quantize_weights(&wq, weights + t0, value_scales + t0, n_keys, inverse);
        const int n_groups = (n_keys + TTC_VALUES_KEY_GROUP - 1) / TTC_VALUES_KEY_GROUP;
        const int8_t *groups = values + (size_t)t0 * head_dim; /* group t0 / 4 */
        const int first = t0 == 0;
        int i = 0;
        while (head_dim - i >= 4) {
            const int nu = ttc_min_int(VALUES_UNITS, (head_dim - i) / 4);
            float *o = out + i;
            const int8_t *v = groups + TTC_VALUES_KEY_GROUP * i;
            switch (nu) {
            case 1: values_block(o, &wq, v, n_groups, group_bytes, 1, first); break;
            case 2: values_block(o, &wq, v, n_groups, group_bytes, 2, first); break;
            case 3: values_block(o, &wq, v, n_groups, group_bytes, 3, first); break;
            default: values_block(o, &wq, v, n_groups, group_bytes, VALUES_UNITS, first); break;
            }
            i += 4 * nu;
        }
        if (i < head_dim)
            values_tail(out + i, &wq, groups + TTC_VALUES_KEY_GROUP * i, n_groups, group_bytes,
                        head_dim - i, first);
    }
    const v128_t u = wasm_f32x4_splat(unit);
    int i = 0;
    for (; i + 4 <= head_dim; i += 4)
        wasm_v128_store(out + i, wasm_f32x4_mul(wasm_v128_load(out + i), u));
    for (; i < head_dim; i++)
        out[i] = out[i] * unit;
}

/* ---- softmax ---- */

/* ttc_softmax_expf (ttc_math.h) on 4 lanes, with exactly its steps: its
 * branch becomes a select, its bit moves the same integer shift and add. */
INLINE v128_t exp4(v128_t x)
{
    const v128_t zero = wasm_v128_not(wasm_f32x4_ge(x, wasm_f32x4_splat(TTC_EXP_LOWEST)));
    const v128_t magic = wasm_f32x4_splat(TTC_ROUND_MAGIC);
    const v128_t y = wasm_f32x4_mul(x, wasm_f32x4_splat(TTC_EXP_LOG2E));
    const v128_t shifted = wasm_f32x4_add(y, magic);
    const v128_t f = wasm_f32x4_sub(y, wasm_f32x4_sub(shifted, magic));
    v128_t p = wasm_f32x4_splat(TTC_EXP2_C5);
    p = wasm_f32x4_add(wasm_f32x4_mul(p, f), wasm_f32x4_splat(TTC_EXP2_C4));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, f), wasm_f32x4_splat(TTC_EXP2_C3));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, f), wasm_f32x4_splat(TTC_EXP2_C2));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, f), wasm_f32x4_splat(TTC_EXP2_C1));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, f), wasm_f32x4_splat(1.0f));
    const v128_t scale =
        wasm_i32x4_add(wasm_i32x4_shl(shifted, 23), wasm_i32x4_splat(127 << 23));
    return wasm_v128_andnot(wasm_f32x4_mul(p, scale), zero);
}

/* The reference's 8 lane sums are two registers: lanes 0-3 in acc0, 4-7 in
 * acc1, each adding x[i] for its i % 8 in increasing i. */
static void softmax(float *x, int n)
{
    float max = x[0];
    int i = 0;
    if (n >= 8) {
        v128_t m0 = wasm_v128_load(x), m1 = wasm_v128_load(x + 4);
        for (i = 8; i + 8 <= n; i += 8) {
            m0 = wasm_f32x4_pmax(m0, wasm_v128_load(x + i));
            m1 = wasm_f32x4_pmax(m1, wasm_v128_load(x + i + 4));
        }
        float lanes[4];
        wasm_v128_store(lanes, wasm_f32x4_pmax(m0, m1));
        for (int j = 0; j < 4; j++)
            max = lanes[j] > max ? lanes[j] : max;
    }
    for (; i < n; i++)
        max = x[i] > max ? x[i] : max;

    const v128_t mv = wasm_f32x4_splat(max);
    v128_t acc0 = wasm_f32x4_splat(0.0f), acc1 = wasm_f32x4_splat(0.0f);
    for (i = 0; i + 8 <= n; i += 8) {
        const v128_t e0 = exp4(wasm_f32x4_sub(wasm_v128_load(x + i), mv));
        const v128_t e1 = exp4(wasm_f32x4_sub(wasm_v128_load(x + i + 4), mv));
        wasm_v128_store(x + i, e0);
        wasm_v128_store(x + i + 4, e1);
        acc0 = wasm_f32x4_add(acc0, e0);
        acc1 = wasm_f32x4_add(acc1, e1);
    }
    if (i < n) {
        /* The last n - i < 8 values; lanes past the end get -inf - max, whose
         * exponential 0 leaves their sums as they are. */
        float last[8];
        for (int j = 0; j < 8; j++)
            last[j] = i + j < n ? x[i + j] - max : -__builtin_inff();
        const v128_t e0 = exp4(wasm_v128_load(last));
        const v128_t e1 = exp4(wasm_v128_load(last + 4));
        wasm_v128_store(last, e0);
        wasm_v128_store(last + 4, e1);
        ttc_copy_floats(x + i, last, n - i);
        acc0 = wasm_f32x4_add(acc0, e0);
        acc1 = wasm_f32x4_add(acc1, e1);
    }
    float lane[8];
    wasm_v128_store(lane, acc0);
    wasm_v128_store(lane + 4, acc1);
    const float sum = ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
                      ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    const float inverse = 1.0f / sum;

    const v128_t iv = wasm_f32x4_splat(inverse);
    for (i = 0; i + 4 <= n; i += 4)
        wasm_v128_store(x + i, wasm_f32x4_mul(wasm_v128_load(x + i), iv));
    for (; i < n; i++)
        x[i] = x[i] * inverse;
}

/* ---- silu_times ---- */

/* ttc_expf (ttc_math.h) on 4 lanes with exactly its steps: lanes not >= -87
 * (NaN included) give 0, the clamp is a minimum (pmin: x where x is not
 * above 88), n's bits go to the exponent field as an integer. */
INLINE v128_t expf4(v128_t x)
{
    const v128_t zero = wasm_v128_not(wasm_f32x4_ge(x, wasm_f32x4_splat(TTC_EXP_LOWEST)));
    x = wasm_f32x4_pmin(x, wasm_f32x4_splat(TTC_EXP_HIGHEST));
    const v128_t magic = wasm_f32x4_splat(TTC_ROUND_MAGIC);
    const v128_t n = wasm_f32x4_sub(
        wasm_f32x4_add(wasm_f32x4_mul(x, wasm_f32x4_splat(TTC_EXP_LOG2E)), magic), magic);
    v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(TTC_EXP_LN2_HI)));
    r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, wasm_f32x4_splat(TTC_EXP_LN2_LO)));
    v128_t p = wasm_f32x4_splat(TTC_EXP_C6);
    p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(TTC_EXP_C5));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(TTC_EXP_C4));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(TTC_EXP_C3));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(0.5f));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f));
    const v128_t scale = wasm_i32x4_shl(
        wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n), wasm_i32x4_splat(127)), 23);
    return wasm_v128_andnot(wasm_f32x4_mul(p, scale), zero);
}

static void silu_times(float *gate, const float *up, int n)
{
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        const v128_t g = wasm_v128_load(gate + i);
        const v128_t s =
            wasm_f32x4_div(g, wasm_f32x4_add(wasm_f32x4_splat(1.0f), expf4(wasm_f32x4_neg(g))));
        wasm_v128_store(gate + i, wasm_f32x4_mul(s, wasm_v128_load(up + i)));
    }
    for (; i < n; i++)
        gate[i] = ttc_silu_times(gate[i], up[i]);
}

/* ---- quantize_q8 ---- */

/* ttc_round_even(x * inverse) on the 4 values at x, as int32. */
INLINE v128_t quantize4(const float *x, v128_t inverse)
{
    return round_to_int4(wasm_f32x4_mul(wasm_v128_load(x), inverse));
}

/* The 8 values at x, quantised to 8 int16 lanes. */
INLINE v128_t quantize8(const float *x, v128_t inverse)
{
    return wasm_i16x8_narrow_i32x4(quantize4(x, inverse), quantize4(x + 4, inverse));
}

/* The last group_size % 4 values of a group go one at a time. */
static void quantize_q8(int8_t *q, float *scales, const float *x, int n, int group_size)
{
    for (int g = 0; g < n / group_size; g++) {
        const float *xg = x + (size_t)g * group_size;
        int8_t *qg = q + (size_t)g * group_size;
        v128_t m0 = wasm_f32x4_splat(0.0f), m1 = wasm_f32x4_splat(0.0f);
        int i = 0;
        for (; i + 8 <= group_size; i += 8) {
            m0 = wasm_f32x4_pmax(m0, wasm_f32x4_abs(wasm_v128_load(xg + i)));
            m1 = wasm_f32x4_pmax(m1, wasm_f32x4_abs(wasm_v128_load(xg + i + 4)));
        }
        if (i + 4 <= group_size) {
            m0 = wasm_f32x4_pmax(m0, wasm_f32x4_abs(wasm_v128_load(xg + i)));
            i += 4;
        }
        float lanes[4];
        wasm_v128_store(lanes, wasm_f32x4_pmax(m0, m1));
        float max_abs = 0.0f;
        for (int j = 0; j < 4; j++)
            max_abs = lanes[j] > max_abs ? lanes[j] : max_abs;
        for (; i < group_size; i++) {
            const float a = xg[i] < 0.0f ? -xg[i] : xg[i];
            max_abs = a > max_abs ? a : max_abs;
        }
        const float inverse = max_abs > 0.0f ? 127.0f / max_abs : 0.0f;
        scales[g] = max_abs / 127.0f;

        const v128_t iv = wasm_f32x4_splat(inverse);
        for (i = 0; i + 16 <= group_size; i += 16)
            wasm_v128_store(qg + i, wasm_i8x16_narrow_i16x8(quantize8(xg + i, iv),
                                                            quantize8(xg + i + 8, iv)));
        for (; i + 8 <= group_size; i += 8) {
            const v128_t w = quantize8(xg + i, iv);
            wasm_v128_store64_lane(qg + i, wasm_i8x16_narrow_i16x8(w, w), 0);
        }
        for (; i < group_size; i++)
            qg[i] = (int8_t)ttc_round_clamped(xg[i] * inverse, 127.0f);
    }
}

static const ttc_kernels kernels_wasm = {
    .name = "wasm",
    .matmul_q8 = matmul_q8,
    .attention_scores_q8 = attention_scores_q8,
    .attention_values_q8 = attention_values_q8,
    .softmax = softmax,
    .silu_times = silu_times,
    .quantize_q8 = quantize_q8,
};

const ttc_kernels *ttc_kernels_wasm(void)
{
    return &kernels_wasm;
}

#else

const ttc_kernels *ttc_kernels_wasm(void)
{
    return NULL;
}

#endif
