/* WebAssembly SIMD128 kernels (built with clang --target=wasm32 -msimd128).
 *
 * Results are bit-identical to kernels_generic.c: the int8 dot products are
 * exact, and the float work is done lane by lane in the reference's order,
 * one multiply then one add (SIMD128 has no fused multiply-add, and the
 * pragma in kernels.h keeps the compiler from fusing scalar code either). */
#include "kernels.h"

#if defined(__wasm_simd128__)

#include <wasm_simd128.h>

#define INLINE static inline __attribute__((always_inline))

static int min_int(int a, int b)
{
    return a < b ? a : b;
}

static void copy_floats(float *dst, const float *src, int n)
{
    for (int i = 0; i < n; i++)
        dst[i] = src[i];
}

static int32_t dot_i8(const int8_t *a, const int8_t *b, int n)
{
    int32_t sum = 0;
    for (int i = 0; i < n; i++)
        sum += (int32_t)a[i] * (int32_t)b[i];
    return sum;
}

/* acc plus the products of 16 int8 pairs, 4 to each int32 lane. */
INLINE v128_t dot16(v128_t acc, v128_t x, v128_t w)
{
    /* The int16 sums of two products (at most 2 * 127 * 127) cannot overflow. */
    const v128_t p = wasm_i16x8_add(wasm_i16x8_extmul_low_i8x16(x, w),
                                    wasm_i16x8_extmul_high_i8x16(x, w));
    return wasm_i32x4_add(acc, wasm_i32x4_extadd_pairwise_i16x8(p));
}

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
 * the last row; only valid lanes are stored. */

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

/* acc (rows 0-3, 4-7) plus the contributions of groups g0 .. g0+ng-1 of one
 * token x against the weight rows wr. */
INLINE void tile_1x8(v128_t acc[2], const int8_t *x, const float *xs, const int8_t *const wr[8],
                     v128_t wsT[][2], int g0, int ng, int group_size)
{
    for (int g = g0; g < g0 + ng; g++) {
        v128_t d[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++)
            d[i] = wasm_i32x4_splat(0);
        for (int c = g * group_size; c < (g + 1) * group_size; c += 16) {
            const v128_t xv = wasm_v128_load(x + c);
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++)
                d[i] = dot16(d[i], xv, wasm_v128_load(wr[i] + c));
        }
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

static void matmul_q8(float *out, const int8_t *x, const float *xs, int n_tokens,
                      const int8_t *w, const float *ws, int rows, int cols, int group_size)
{
    const int groups = cols / group_size;
    v128_t partial[TOKEN_BLOCK][2]; /* a tile's sums between chunks of groups */

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
            for (int g0 = 0; g0 < groups; g0 += GROUP_CHUNK) {
                const int ng = min_int(GROUP_CHUNK, groups - g0);
                v128_t wsT[GROUP_CHUNK][2];
                transposed_scales(wsT, ws_row, g0, ng);
                for (int t = t0; t < t_end; t++) {
                    v128_t acc[2];
                    for (int h = 0; h < 2; h++)
                        acc[h] = g0 == 0 ? wasm_f32x4_splat(0.0f) : partial[t - t0][h];
                    tile_1x8(acc, x + (size_t)t * cols, xs + (size_t)t * groups, wr, wsT, g0,
                             ng, group_size);
                    if (g0 + ng < groups) {
                        partial[t - t0][0] = acc[0];
                        partial[t - t0][1] = acc[1];
                    } else {
                        float lanes[8];
                        wasm_v128_store(lanes, acc[0]);
                        wasm_v128_store(lanes + 4, acc[1]);
                        copy_floats(out + (size_t)t * rows + r, lanes, n);
                    }
                }
            }
        }
    }
}

/* ---- attention ---- */

/* dots[h], lane i: the dot product of q and k[4h + i] over head_dim bytes. */
INLINE void dot_keys(v128_t dots[2], const int8_t *q, const int8_t *const k[8], int head_dim)
{
    v128_t d[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        d[j] = wasm_i32x4_splat(0);
    int i = 0;
    for (; i + 16 <= head_dim; i += 16) {
        const v128_t qv = wasm_v128_load(q + i);
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++)
            d[j] = dot16(d[j], qv, wasm_v128_load(k[j] + i));
    }
    if (i + 8 <= head_dim) {
        /* 8 bytes, zero above: the upper products are zero */
        const v128_t qv = wasm_v128_load64_zero(q + i);
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++)
            d[j] = dot16(d[j], qv, wasm_v128_load64_zero(k[j] + i));
        i += 8;
    }
    dots[0] = sum4(d);
    dots[1] = sum4(d + 4);
    if (i < head_dim) {
        int32_t tail[8];
        for (int j = 0; j < 8; j++)
            tail[j] = dot_i8(q + i, k[j] + i, head_dim - i);
        dots[0] = wasm_i32x4_add(dots[0], wasm_v128_load(tail));
        dots[1] = wasm_i32x4_add(dots[1], wasm_v128_load(tail + 4));
    }
}

/* Keys are taken 8 at a time; the last block repeats its last key. */
static void attention_scores_q8(float *out, const int8_t *q, float q_scale, const int8_t *keys,
                                const float *key_scales, int n_keys, int head_dim,
                                int key_stride)
{
    const v128_t qs = wasm_f32x4_splat(q_scale);
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
        v128_t dots[2];
        dot_keys(dots, q, k, head_dim);
        float lanes[8];
        for (int h = 0; h < 2; h++) {
            const v128_t scales = wasm_f32x4_mul(qs, wasm_v128_load(ks + 4 * h));
            wasm_v128_store(lanes + 4 * h,
                            wasm_f32x4_mul(wasm_f32x4_convert_i32x4(dots[h]), scales));
        }
        copy_floats(out + t, lanes, n);
    }
}

/* out[0 .. 8*nb) over all values, kept in 2*nb <= 16 registers. nb is a
 * constant after inlining; the loops run to a literal 8 and test j < nb so
 * that the compiler unrolls them and keeps acc in locals. */
INLINE void values_block(float *out, const float *weights, const int8_t *values,
                         const float *value_scales, int n_values, int value_stride, int nb)
{
    v128_t acc[16];
#pragma GCC unroll 16
    for (int j = 0; j < 16; j++)
        acc[j] = wasm_f32x4_splat(0.0f);
    for (int t = 0; t < n_values; t++) {
        const int8_t *v = values + (size_t)t * value_stride;
        const v128_t a = wasm_f32x4_splat(weights[t] * value_scales[t]);
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++)
            if (j < nb) {
                const v128_t v16 = wasm_i16x8_load8x8(v + 8 * j);
                const v128_t lo = wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(v16));
                const v128_t hi = wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(v16));
                acc[2 * j] = wasm_f32x4_add(acc[2 * j], wasm_f32x4_mul(a, lo));
                acc[2 * j + 1] = wasm_f32x4_add(acc[2 * j + 1], wasm_f32x4_mul(a, hi));
            }
    }
#pragma GCC unroll 16
    for (int j = 0; j < 16; j++)
        if (j < 2 * nb)
            wasm_v128_store(out + 4 * j, acc[j]);
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

static void attention_values_q8(float *out, const float *weights, const int8_t *values,
                                const float *value_scales, int n_values, int head_dim,
                                int value_stride)
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

static const ttc_kernels kernels_wasm = {
    .name = "wasm",
    .matmul_q8 = matmul_q8,
    .attention_scores_q8 = attention_scores_q8,
    .attention_values_q8 = attention_values_q8,
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
