/* NEON kernels for AArch64, where NEON is always present. The int8 dot
 * product instructions (vdotq_s32) are used when the build targets them
 * (__ARM_FEATURE_DOTPROD: -march=armv8.2-a+dotprod and later, Apple
 * silicon); otherwise widening multiplies do the same exact sums.
 *
 * Results are bit-identical to kernels_generic.c: the int8 dot products are
 * exact, and the float work is done lane by lane in the reference's order,
 * one multiply then one add (never vfmaq; the pragma in kernels.h keeps the compiler
 * from fusing them either). */
#include "kernels.h"
#include "ttc_math.h"

#if defined(__aarch64__)

#include <arm_neon.h>

#define INLINE static inline __attribute__((always_inline))

/* acc plus the products of 16 int8 pairs, 4 to each int32 lane. */
INLINE int32x4_t dot16(int32x4_t acc, int8x16_t x, int8x16_t w)
{
#if defined(__ARM_FEATURE_DOTPROD)
    return vdotq_s32(acc, x, w);
#else
    /* The int16 sums of two products (at most 2 * 127 * 127) cannot overflow. */
    int16x8_t p = vmull_s8(vget_low_s8(x), vget_low_s8(w));
    p = vmlal_high_s8(p, x, w);
    return vpadalq_s16(acc, p);
#endif
}

/* The same for 8 pairs. */
INLINE int32x4_t dot8(int32x4_t acc, int8x8_t x, int8x8_t w)
{
    return vpadalq_s16(acc, vmull_s8(x, w));
}

/* Lane i of the result is the sum of the 4 lanes of a[i]. */
INLINE int32x4_t sum4(const int32x4_t a[4])
{
    return vpaddq_s32(vpaddq_s32(a[0], a[1]), vpaddq_s32(a[2], a[3]));
}

/* ---- matmul_q8 ----
 * Tiles of one token x 8 weight rows, all 8 against the same chunk of the
 * token. Prefill takes every token of a block through a tile before moving
 * on, so that the tile's weights come from memory once per block and its
 * weight scales are rearranged once. A tile at the end of the rows repeats
 * the last row; only valid lanes are stored. */

/* Groups are taken in chunks of this many, tokens in blocks of that many. */
enum { GROUP_CHUNK = 16, TOKEN_BLOCK = 64 };

/* wsT[j][h], lane i: the scale of group g0 + j in weight row 4h + i (scales
 * at ws_row[4h + i]), for ng <= GROUP_CHUNK groups. */
static void transposed_scales(float32x4_t wsT[GROUP_CHUNK][2], const float *const ws_row[8],
                              int g0, int ng)
{
    for (int j = 0; j < ng; j++)
        for (int h = 0; h < 2; h++) {
            const float lanes[4] = {ws_row[4 * h][g0 + j], ws_row[4 * h + 1][g0 + j],
                                    ws_row[4 * h + 2][g0 + j], ws_row[4 * h + 3][g0 + j]};
            wsT[j][h] = vld1q_f32(lanes);
        }
}

/* acc (rows 0-3, 4-7) plus the contributions of groups g0 .. g0+ng-1 of one
 * token x against the weight rows wr. */
INLINE void tile_1x8(float32x4_t acc[2], const int8_t *x, const float *xs,
                     const int8_t *const wr[8], float32x4_t wsT[][2], int g0, int ng,
                     int group_size)
{
    for (int g = g0; g < g0 + ng; g++) {
        int32x4_t d[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++)
            d[i] = vdupq_n_s32(0);
        for (int c = g * group_size; c < (g + 1) * group_size; c += 16) {
            const int8x16_t xv = vld1q_s8(x + c);
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++)
                d[i] = dot16(d[i], xv, vld1q_s8(wr[i] + c));
        }
        /* acc + (float)dot * (ws * xs), in the reference's order */
        const float32x4_t xsv = vdupq_n_f32(xs[g]);
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            const float32x4_t scales = vmulq_f32(wsT[g - g0][h], xsv);
            acc[h] = vaddq_f32(acc[h], vmulq_f32(vcvtq_f32_s32(sum4(d + 4 * h)), scales));
        }
    }
}

static void matmul_q8(float *out, const int8_t *x, const float *xs, int n_tokens,
                      const int8_t *w, const float *ws, int rows, int cols, int group_size)
{
    const int groups = cols / group_size;
    float32x4_t partial[TOKEN_BLOCK][2]; /* a tile's sums between chunks of groups */

    for (int t0 = 0; t0 < n_tokens; t0 += TOKEN_BLOCK) {
        const int t_end = ttc_min_int(t0 + TOKEN_BLOCK, n_tokens);
        for (int r = 0; r < rows; r += 8) {
            const int n = ttc_min_int(8, rows - r);
            const int8_t *wr[8];
            const float *ws_row[8];
            ttc_tile_rows(wr, ws_row, 8, w, ws, rows, r, cols, groups);
            for (int g0 = 0; g0 < groups; g0 += GROUP_CHUNK) {
                const int ng = ttc_min_int(GROUP_CHUNK, groups - g0);
                float32x4_t wsT[GROUP_CHUNK][2];
                transposed_scales(wsT, ws_row, g0, ng);
                for (int t = t0; t < t_end; t++) {
                    float32x4_t acc[2];
                    for (int h = 0; h < 2; h++)
                        acc[h] = g0 == 0 ? vdupq_n_f32(0.0f) : partial[t - t0][h];
                    tile_1x8(acc, x + (size_t)t * cols, xs + (size_t)t * groups, wr, wsT, g0,
                             ng, group_size);
                    if (g0 + ng < groups) {
                        partial[t - t0][0] = acc[0];
                        partial[t - t0][1] = acc[1];
                    } else {
                        float lanes[8];
                        vst1q_f32(lanes, acc[0]);
                        vst1q_f32(lanes + 4, acc[1]);
                        ttc_copy_floats(out + (size_t)t * rows + r, lanes, n);
                    }
                }
            }
        }
    }
}

/* ---- attention ---- */

/* dots[h], lane i: the dot product of q and k[4h + i] over head_dim bytes. */
INLINE void dot_keys(int32x4_t dots[2], const int8_t *q, const int8_t *const k[8], int head_dim)
{
    int32x4_t d[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        d[j] = vdupq_n_s32(0);
    int i = 0;
    for (; i + 16 <= head_dim; i += 16) {
        const int8x16_t qv = vld1q_s8(q + i);
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++)
            d[j] = dot16(d[j], qv, vld1q_s8(k[j] + i));
    }
    if (i + 8 <= head_dim) {
        const int8x8_t qv = vld1_s8(q + i);
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++)
            d[j] = dot8(d[j], qv, vld1_s8(k[j] + i));
        i += 8;
    }
    dots[0] = sum4(d);
    dots[1] = sum4(d + 4);
    if (i < head_dim) {
        int32_t tail[8];
        for (int j = 0; j < 8; j++)
            tail[j] = ttc_dot_i8(q + i, k[j] + i, head_dim - i);
        dots[0] = vaddq_s32(dots[0], vld1q_s32(tail));
        dots[1] = vaddq_s32(dots[1], vld1q_s32(tail + 4));
    }
}

/* out[0 .. n) for the 8 keys k (n <= 8 of them wanted; ks: their 8 scales). */
INLINE void scores_block(float *out, const int8_t *q, float32x4_t qs, const int8_t *const k[8],
                         const float *ks, int n, int head_dim)
{
    int32x4_t dots[2];
    dot_keys(dots, q, k, head_dim);
    float lanes[8];
    for (int h = 0; h < 2; h++) {
        const float32x4_t scales = vmulq_f32(qs, vld1q_f32(ks + 4 * h));
        vst1q_f32(lanes + 4 * h, vmulq_f32(vcvtq_f32_s32(dots[h]), scales));
    }
    ttc_copy_floats(out, lanes, n);
}

/* Keys are taken 8 at a time; a last block of fewer repeats its last key. */
static void attention_scores_q8(float *out, const int8_t *q, float q_scale, const int8_t *keys,
                                const float *key_scales, int n_keys, int head_dim,
                                int key_stride)
{
    const float32x4_t qs = vdupq_n_f32(q_scale);
    const size_t s = (size_t)key_stride;
    int t = 0;
    for (; t + 8 <= n_keys; t += 8) {
        const int8_t *b = keys + (size_t)t * s;
        const int8_t *const k[8] = {b,         b + s,     b + 2 * s, b + 3 * s,
                                    b + 4 * s, b + 5 * s, b + 6 * s, b + 7 * s};
        scores_block(out + t, q, qs, k, key_scales + t, 8, head_dim);
    }
    if (t < n_keys) {
        const int n = n_keys - t;
        const int8_t *k[8];
        float ks[8];
        for (int j = 0; j < 8; j++) {
            k[j] = keys + (size_t)(t + ttc_min_int(j, n - 1)) * s;
            ks[j] = key_scales[t + ttc_min_int(j, n - 1)];
        }
        scores_block(out + t, q, qs, k, ks, n, head_dim);
    }
}

/* ---- attention_values_q8 ----
 * Per block of keys, the quantised weights go to stack arrays; then every
 * group of 4 keys adds its keys' products to int32 sums, 16 bytes at a time:
 * 4 outputs x the group's 4 keys, multiplied by the group's 4 weights
 * repeated. The sums of 4 outputs become floats once per block. */

_Static_assert(TTC_VALUES_KEY_GROUP == 4, "16 bytes of values are 4 outputs x 4 keys");

#if defined(__ARM_FEATURE_DOTPROD)
/* vdotq_s32 multiplies int8 by int8, so each weight goes in two 7-bit parts,
 * wq = 128 * hi + lo (both in [0, 127]), with a sum for each part: lane i of
 * the dot product of 16 bytes with a group's 4 hi (or lo) parts, repeated,
 * is output i's part over the group, and the block's sum is 128 * hi + lo,
 * exact like the parts (128 * 256 * 127 * 128 < 2^31). */
enum { VALUES_SUMS = 2 }; /* int32x4 sums per 4 outputs: hi, lo */

typedef struct {
    int16_t wq[TTC_VALUES_KEY_BLOCK];       /* whole, for the tail */
    int8_t parts[2 * TTC_VALUES_KEY_BLOCK]; /* group g: 4 hi at 8g, then 4 lo */
} values_weights;

typedef struct {
    int8x16_t hi, lo;
} group_weights;

/* Group g's quantised weights q. */
INLINE void store_group_weights(values_weights *w, int g, int32x4_t q)
{
    vst1_s16(w->wq + 4 * g, vmovn_s32(q));
    const int16x8_t parts = vcombine_s16(vmovn_s32(vshrq_n_s32(q, 7)),
                                         vmovn_s32(vandq_s32(q, vdupq_n_s32(127))));
    vst1_s8(w->parts + 8 * g, vmovn_s16(parts));
}

INLINE group_weights load_group_weights(const values_weights *w, int g)
{
    const int32x2_t parts = vreinterpret_s32_s8(vld1_s8(w->parts + 8 * g));
    group_weights gw;
    gw.hi = vreinterpretq_s8_s32(vdupq_lane_s32(parts, 0));
    gw.lo = vreinterpretq_s8_s32(vdupq_lane_s32(parts, 1));
    return gw;
}

/* sums plus the products of one group's 16 bytes for 4 outputs. */
INLINE void group_madd(int32x4_t sums[VALUES_SUMS], int8x16_t v, group_weights w)
{
    sums[0] = vdotq_s32(sums[0], v, w.hi);
    sums[1] = vdotq_s32(sums[1], v, w.lo);
}

/* Lane i: output i's sum over the block. */
INLINE int32x4_t block_sums(const int32x4_t sums[VALUES_SUMS])
{
    return vaddq_s32(vshlq_n_s32(sums[0], 7), sums[1]);
}
#else
/* Without dot products the 16 bytes are widened to int16 and multiplied by
 * the group's 4 int16 weights, repeated, by widening multiply-adds: one
 * int32x4 per output, whose lanes keep the 4 keys' products apart; the lanes
 * are added once per block. */
enum { VALUES_SUMS = 4 }; /* int32x4 sums per 4 outputs: one per output */

typedef struct {
    int16_t wq[TTC_VALUES_KEY_BLOCK];
} values_weights;

typedef int16x8_t group_weights; /* w0 .. w3, w0 .. w3 */

/* Group g's quantised weights q. */
INLINE void store_group_weights(values_weights *w, int g, int32x4_t q)
{
    vst1_s16(w->wq + 4 * g, vmovn_s32(q));
}

INLINE group_weights load_group_weights(const values_weights *w, int g)
{
    const int16x4_t wq = vld1_s16(w->wq + 4 * g);
    return vcombine_s16(wq, wq);
}

INLINE void group_madd(int32x4_t sums[VALUES_SUMS], int8x16_t v, group_weights w)
{
    const int16x8_t lo = vmovl_s8(vget_low_s8(v)); /* outputs 0 and 1 of the 4 */
    const int16x8_t hi = vmovl_high_s8(v);         /* outputs 2 and 3 */
    sums[0] = vmlal_s16(sums[0], vget_low_s16(lo), vget_low_s16(w));
    sums[1] = vmlal_high_s16(sums[1], lo, w);
    sums[2] = vmlal_s16(sums[2], vget_low_s16(hi), vget_low_s16(w));
    sums[3] = vmlal_high_s16(sums[3], hi, w);
}

INLINE int32x4_t block_sums(const int32x4_t sums[VALUES_SUMS])
{
    return sum4(sums);
}
#endif

/* The largest of the floor and the weights[t] * value_scales[t] (never
 * negative, kernels.h). */
static float values_weight_max(const float *weights, const float *value_scales, int n)
{
    float32x4_t m = vdupq_n_f32(TTC_VALUES_WEIGHT_FLOOR);
    int t = 0;
    for (; t + 4 <= n; t += 4)
        m = vmaxq_f32(m, vmulq_f32(vld1q_f32(weights + t), vld1q_f32(value_scales + t)));
    float w_max = vmaxvq_f32(m);
    for (; t < n; t++) {
        const float w = weights[t] * value_scales[t];
        w_max = w > w_max ? w : w_max;
    }
    return w_max;
}

/* The weights of n <= 256 keys, and 0 for the missing keys of a last group
 * that is not whole. */
static void values_quantize_weights(values_weights *w, const float *weights,
                                    const float *value_scales, int n, float inverse)
{
    const float32x4_t iv = vdupq_n_f32(inverse);
    const float32x4_t magic = vdupq_n_f32(TTC_ROUND_MAGIC);
    int t = 0;
    for (; t + 4 <= n; t += 4) {
        const float32x4_t p = vmulq_f32(vld1q_f32(weights + t), vld1q_f32(value_scales + t));
        /* ttc_round_even with the magic number's subtraction on the bits (kernels.h) */
        const float32x4_t r = vaddq_f32(vmulq_f32(p, iv), magic);
        store_group_weights(w, t / 4,
                            vsubq_s32(vreinterpretq_s32_f32(r), vreinterpretq_s32_f32(magic)));
    }
    if (t < n) {
        int32_t last[4] = {0, 0, 0, 0};
        for (int k = 0; k < n - t; k++)
            last[k] = ttc_round_clamped(weights[t + k] * value_scales[t + k] * inverse,
                                        TTC_VALUES_WEIGHT_MAX);
        store_group_weights(w, t / 4, vld1q_s32(last));
    }
}

/* out[0 .. 4*nb) of one block of n_groups groups (group g at groups + g *
 * group_bytes), nb <= 4: stored when first, else added to out. nb is a
 * constant after inlining; the loops run to literal bounds and test j < nb so
 * that both gcc and clang unroll them and keep the sums in registers. */
INLINE void values_block(float *out, const values_weights *w, const int8_t *groups,
                         int n_groups, int group_bytes, int nb, int first)
{
    int32x4_t sums[4 * VALUES_SUMS];
#pragma GCC unroll 16
    for (int j = 0; j < 4 * VALUES_SUMS; j++)
        sums[j] = vdupq_n_s32(0);
    for (int g = 0; g < n_groups; g++) {
        const group_weights gw = load_group_weights(w, g);
        const int8_t *v = groups + (size_t)g * group_bytes;
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
            if (j < nb)
                group_madd(sums + VALUES_SUMS * j, vld1q_s8(v + 16 * j), gw);
    }
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++)
        if (j < nb) {
            float32x4_t sum = vcvtq_f32_s32(block_sums(sums + VALUES_SUMS * j));
            if (!first)
                sum = vaddq_f32(vld1q_f32(out + 4 * j), sum);
            vst1q_f32(out + 4 * j, sum);
        }
}

/* The same for the last head_dim % 4 outputs (n < 4), one at a time. */
static void values_tail(float *out, const int16_t *wq, const int8_t *groups, int n_groups,
                        int group_bytes, int n, int first)
{
    int32_t acc[3] = {0, 0, 0};
    for (int g = 0; g < n_groups; g++) {
        const int8_t *v = groups + (size_t)g * group_bytes;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < 4; k++)
                acc[i] += wq[4 * g + k] * (int32_t)v[4 * i + k];
    }
    for (int i = 0; i < n; i++)
        out[i] = first ? (float)acc[i] : out[i] + (float)acc[i];
}

/* Outputs go 16 at a time, then 8, then 4, then the tail. */
static void attention_values_q8(float *out, const float *weights, const int8_t *values,
                                const float *value_scales, int n_values, int head_dim)
{
    const float w_max = values_weight_max(weights, value_scales, n_values);
    const float inverse = TTC_VALUES_WEIGHT_MAX / w_max;
    const float unit = w_max / TTC_VALUES_WEIGHT_MAX;
    const int group_bytes = 4 * head_dim;
    values_weights w;

    for (int t0 = 0; t0 < n_values; t0 += TTC_VALUES_KEY_BLOCK) {
        const int n_keys = ttc_min_int(TTC_VALUES_KEY_BLOCK, n_values - t0);
        values_quantize_weights(&w, weights + t0, value_scales + t0, n_keys, inverse);
        const int n_groups = (n_keys + 3) / 4;
        const int8_t *groups = values + (size_t)t0 * head_dim; /* group t0 / 4 */
        const int first = t0 == 0;
        int i = 0;
        for (; head_dim - i >= 16; i += 16)
            values_block(out + i, &w, groups + 4 * i, n_groups, group_bytes, 4, first);
        if (head_dim - i >= 8) {
            values_block(out + i, &w, groups + 4 * i, n_groups, group_bytes, 2, first);
            i += 8;
        }
        if (head_dim - i >= 4) {
            values_block(out + i, &w, groups + 4 * i, n_groups, group_bytes, 1, first);
            i += 4;
        }
        if (i < head_dim)
            values_tail(out + i, w.wq, groups + 4 * i, n_groups, group_bytes, head_dim - i,
                        first);
    }
    const float32x4_t u = vdupq_n_f32(unit);
    int i = 0;
    for (; i + 4 <= head_dim; i += 4)
        vst1q_f32(out + i, vmulq_f32(vld1q_f32(out + i), u));
    for (; i < head_dim; i++)
        out[i] = out[i] * unit;
}

/* ---- softmax ---- */

/* ttc_softmax_expf (ttc_math.h) on 4 lanes, with exactly its steps: its
 * branch becomes a select (lanes not >= -87, NaN included, give 0), its
 * rounding the same magic-number add and subtract, and 2^n the same integer
 * shift of shifted's bits by 23 plus the bias 127 << 23. */
INLINE float32x4_t exp4(float32x4_t x)
{
    const uint32x4_t keep = vcgeq_f32(x, vdupq_n_f32(TTC_EXP_LOWEST)); /* false for NaN */
    const float32x4_t magic = vdupq_n_f32(TTC_ROUND_MAGIC);
    const float32x4_t y = vmulq_f32(x, vdupq_n_f32(TTC_EXP_LOG2E));
    const float32x4_t shifted = vaddq_f32(y, magic);
    const float32x4_t f = vsubq_f32(y, vsubq_f32(shifted, magic));
    float32x4_t p = vdupq_n_f32(TTC_EXP2_C5);
    p = vaddq_f32(vmulq_f32(p, f), vdupq_n_f32(TTC_EXP2_C4));
    p = vaddq_f32(vmulq_f32(p, f), vdupq_n_f32(TTC_EXP2_C3));
    p = vaddq_f32(vmulq_f32(p, f), vdupq_n_f32(TTC_EXP2_C2));
    p = vaddq_f32(vmulq_f32(p, f), vdupq_n_f32(TTC_EXP2_C1));
    p = vaddq_f32(vmulq_f32(p, f), vdupq_n_f32(1.0f));
    const uint32x4_t bits = vaddq_u32(vshlq_n_u32(vreinterpretq_u32_f32(shifted), 23),
                                      vdupq_n_u32(127u << 23));
    const float32x4_t e = vmulq_f32(p, vreinterpretq_f32_u32(bits));
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(e), keep));
}

/* The reference's 8 lane sums are two registers: lanes 0-3 in acc[0], 4-7 in
 * acc[1], each adding x[i] for its i % 8 in increasing i. */
static void softmax(float *x, int n)
{
    float max = x[0];
    int i = 0;
    if (n >= 8) {
        float32x4_t m0 = vld1q_f32(x), m1 = vld1q_f32(x + 4);
        for (i = 8; i + 8 <= n; i += 8) {
            m0 = vmaxq_f32(m0, vld1q_f32(x + i));
            m1 = vmaxq_f32(m1, vld1q_f32(x + i + 4));
        }
        max = vmaxvq_f32(vmaxq_f32(m0, m1));
    }
    for (; i < n; i++)
        max = x[i] > max ? x[i] : max;

    const float32x4_t mv = vdupq_n_f32(max);
    float32x4_t acc[2] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    for (i = 0; i + 8 <= n; i += 8) {
        const float32x4_t e0 = exp4(vsubq_f32(vld1q_f32(x + i), mv));
        const float32x4_t e1 = exp4(vsubq_f32(vld1q_f32(x + i + 4), mv));
        vst1q_f32(x + i, e0);
        vst1q_f32(x + i + 4, e1);
        acc[0] = vaddq_f32(acc[0], e0);
        acc[1] = vaddq_f32(acc[1], e1);
    }
    if (i < n) {
        /* The last n - i < 8 values; lanes past the end get -inf - max, whose
         * exponential 0 leaves their sums as they are. */
        float last[8];
        for (int j = 0; j < 8; j++)
            last[j] = i + j < n ? x[i + j] - max : -__builtin_inff();
        const float32x4_t e0 = exp4(vld1q_f32(last));
        const float32x4_t e1 = exp4(vld1q_f32(last + 4));
        vst1q_f32(last, e0);
        vst1q_f32(last + 4, e1);
        ttc_copy_floats(x + i, last, n - i);
        acc[0] = vaddq_f32(acc[0], e0);
        acc[1] = vaddq_f32(acc[1], e1);
    }
    float lane[8];
    vst1q_f32(lane, acc[0]);
    vst1q_f32(lane + 4, acc[1]);
    const float sum = ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
                      ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    const float inverse = 1.0f / sum;

    const float32x4_t iv = vdupq_n_f32(inverse);
    for (i = 0; i + 4 <= n; i += 4)
        vst1q_f32(x + i, vmulq_f32(vld1q_f32(x + i), iv));
    for (; i < n; i++)
        x[i] = x[i] * inverse;
}

/* ---- silu_times ---- */

/* ttc_expf (ttc_math.h) on 4 lanes with exactly its steps: lanes not >= -87
 * (NaN included) give 0, the clamp is a minimum, n's bits go to the exponent
 * field as an integer. */
INLINE float32x4_t expf4(float32x4_t x)
{
    const uint32x4_t keep = vcgeq_f32(x, vdupq_n_f32(TTC_EXP_LOWEST)); /* false for NaN */
    x = vminq_f32(x, vdupq_n_f32(TTC_EXP_HIGHEST));
    const float32x4_t magic = vdupq_n_f32(TTC_ROUND_MAGIC);
    const float32x4_t n =
        vsubq_f32(vaddq_f32(vmulq_f32(x, vdupq_n_f32(TTC_EXP_LOG2E)), magic), magic);
    float32x4_t r = vsubq_f32(x, vmulq_f32(n, vdupq_n_f32(TTC_EXP_LN2_HI)));
    r = vsubq_f32(r, vmulq_f32(n, vdupq_n_f32(TTC_EXP_LN2_LO)));
    float32x4_t p = vdupq_n_f32(TTC_EXP_C6);
    p = vaddq_f32(vmulq_f32(p, r), vdupq_n_f32(TTC_EXP_C5));
    p = vaddq_f32(vmulq_f32(p, r), vdupq_n_f32(TTC_EXP_C4));
    p = vaddq_f32(vmulq_f32(p, r), vdupq_n_f32(TTC_EXP_C3));
    p = vaddq_f32(vmulq_f32(p, r), vdupq_n_f32(0.5f));
    p = vaddq_f32(vmulq_f32(p, r), vdupq_n_f32(1.0f));
    p = vaddq_f32(vmulq_f32(p, r), vdupq_n_f32(1.0f));
    const int32x4_t bits = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    const float32x4_t e = vmulq_f32(p, vreinterpretq_f32_s32(bits));
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(e), keep));
}

static void silu_times(float *gate, const float *up, int n)
{
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t g = vld1q_f32(gate + i);
        const float32x4_t s = vdivq_f32(g, vaddq_f32(vdupq_n_f32(1.0f), expf4(vnegq_f32(g))));
        vst1q_f32(gate + i, vmulq_f32(s, vld1q_f32(up + i)));
    }
    for (; i < n; i++)
        gate[i] = ttc_silu_times(gate[i], up[i]);
}

/* ---- quantize_q8 ---- */

/* ttc_round_even(x * inverse) on the 4 values at x, as int32 (kernels.h: the
 * magic number's subtraction done on the bits). */
INLINE int32x4_t quantize4(const float *x, float32x4_t inverse)
{
    const float32x4_t magic = vdupq_n_f32(TTC_ROUND_MAGIC);
    const float32x4_t r = vaddq_f32(vmulq_f32(vld1q_f32(x), inverse), magic);
    return vsubq_s32(vreinterpretq_s32_f32(r), vreinterpretq_s32_f32(magic));
}

/* The 8 values at x, quantised to bytes. */
INLINE int8x8_t quantize8(const float *x, float32x4_t inverse)
{
    const int16x8_t w = vcombine_s16(vqmovn_s32(quantize4(x, inverse)),
                                     vqmovn_s32(quantize4(x + 4, inverse)));
    return vqmovn_s16(w);
}

/* The last group_size % 4 values of a group go one at a time. */
static void quantize_q8(int8_t *q, float *scales, const float *x, int n, int group_size)
{
    for (int g = 0; g < n / group_size; g++) {
        const float *xg = x + (size_t)g * group_size;
        int8_t *qg = q + (size_t)g * group_size;
        float32x4_t m0 = vdupq_n_f32(0.0f), m1 = vdupq_n_f32(0.0f);
        int i = 0;
        for (; i + 8 <= group_size; i += 8) {
            m0 = vmaxq_f32(m0, vabsq_f32(vld1q_f32(xg + i)));
            m1 = vmaxq_f32(m1, vabsq_f32(vld1q_f32(xg + i + 4)));
        }
        if (i + 4 <= group_size) {
            m0 = vmaxq_f32(m0, vabsq_f32(vld1q_f32(xg + i)));
            i += 4;
        }
        float max_abs = vmaxvq_f32(vmaxq_f32(m0, m1));
        for (; i < group_size; i++) {
            const float a = xg[i] < 0.0f ? -xg[i] : xg[i];
            max_abs = a > max_abs ? a : max_abs;
        }
        const float inverse = max_abs > 0.0f ? 127.0f / max_abs : 0.0f;
        scales[g] = max_abs / 127.0f;

        const float32x4_t iv = vdupq_n_f32(inverse);
        for (i = 0; i + 16 <= group_size; i += 16)
            vst1q_s8(qg + i, vcombine_s8(quantize8(xg + i, iv), quantize8(xg + i + 8, iv)));
        for (; i + 8 <= group_size; i += 8)
            vst1_s8(qg + i, quantize8(xg + i, iv));
        for (; i < group_size; i++)
            qg[i] = (int8_t)ttc_round_clamped(xg[i] * inverse, 127.0f);
    }
}

static const ttc_kernels kernels_neon = {
    .name = "neon",
    .matmul_q8 = matmul_q8,
    .attention_scores_q8 = attention_scores_q8,
    .attention_values_q8 = attention_values_q8,
    .softmax = softmax,
    .silu_times = silu_times,
    .quantize_q8 = quantize_q8,
};

const ttc_kernels *ttc_kernels_neon(void)
{
    return &kernels_neon;
}

#else

const ttc_kernels *ttc_kernels_neon(void)
{
    return NULL;
}

#endif
