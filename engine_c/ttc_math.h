/* Deterministic float math used on the hot path, inline so that loops over it
 * compile to straight code. The engine computes exp from IEEE additions and
 * multiplications only, so native builds (whatever their libm) and
 * WebAssembly give bit-identical results; SIMD kernels (kernels_*.c) repeat
 * exactly these steps lane by lane. */
#ifndef TTC_MATH_H
#define TTC_MATH_H

#include <stdint.h>

/* Rounds to an integer, ties to even, for |x| < 2^22: adding and removing
 * 1.5 * 2^23 leaves no fraction bits. */
#define TTC_ROUND_MAGIC 12582912.0f

static inline float ttc_round_even(float x)
{
    return (x + TTC_ROUND_MAGIC) - TTC_ROUND_MAGIC;
}

/* ttc_round_even(x) as an integer, clamped to [-limit, limit] (limit < 2^22),
 * and 0 for NaN: a plain cast of NaN or of a value out of range is undefined.
 * Activations stay in range for any sane model, but a damaged file whose
 * checksum is right can hold weights huge or tiny enough to overflow them. */
static inline int32_t ttc_round_clamped(float x, float limit)
{
    const float r = ttc_round_even(x);
    if (r > limit)
        return (int32_t)limit;
    if (r < -limit)
        return (int32_t)-limit;
    return r == r ? (int32_t)r : 0;
}

/* e^x: x = n ln2 + r with |r| <= ln2/2 (ln 2 split in two parts so that r is
 * exact), e^r by its degree-6 Taylor polynomial, 2^n through the exponent
 * bits. Relative error below 3e-7; 0 below -87 (and for NaN), clamped above 88. */
#define TTC_EXP_LOWEST (-87.0f)
#define TTC_EXP_HIGHEST 88.0f
#define TTC_EXP_LOG2E 1.44269504f
#define TTC_EXP_LN2_HI 0.693359375f
#define TTC_EXP_LN2_LO (-2.12194440e-4f)
#define TTC_EXP_C6 0.00138888892f /* 1/720 */
#define TTC_EXP_C5 0.00833333377f /* 1/120 */
#define TTC_EXP_C4 0.0416666679f  /* 1/24 */
#define TTC_EXP_C3 0.166666672f   /* 1/6 */

static inline float ttc_expf(float x)
{
    if (!(x >= TTC_EXP_LOWEST)) /* NaN too: converting it to an integer is undefined */
        return 0.0f;
    if (x > TTC_EXP_HIGHEST)
        x = TTC_EXP_HIGHEST;
    float n = ttc_round_even(x * TTC_EXP_LOG2E);
    float r = x - n * TTC_EXP_LN2_HI;
    r = r - n * TTC_EXP_LN2_LO;
    float p = TTC_EXP_C6;
    p = p * r + TTC_EXP_C5;
    p = p * r + TTC_EXP_C4;
    p = p * r + TTC_EXP_C3;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float scale;
    __builtin_memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* The feed-forward block's gated activation of one element: silu(gate) * up. */
static inline float ttc_silu_times(float gate, float up)
{
    return gate / (1.0f + ttc_expf(-gate)) * up;
}

/* e^x for softmax, whose x - max is never above 0 and whose weights are
 * quantised to 14 bits (kernels.h): a cheaper cousin of ttc_expf, about 40 %
 * fewer operations. e^x = 2^y for y = x log2(e) rounded to a float: y = n + f
 * with n = round(y), f in [-1/2, 1/2], 2^f by a degree-5 polynomial (fitted
 * for the smallest relative error), 2^n through the exponent bits. Relative
 * error below 5e-6 (below 3e-7 for x in [-1, 0]; the rest comes from rounding
 * y); 1 at 0; 0 below -87 (and for NaN). For x <= 0 only. */
#define TTC_EXP2_C5 0.00133088243f
#define TTC_EXP2_C4 0.00967151672f
#define TTC_EXP2_C3 0.0555058233f
#define TTC_EXP2_C2 0.240222424f
#define TTC_EXP2_C1 0.693147063f

static inline float ttc_softmax_expf(float x)
{
    if (!(x >= TTC_EXP_LOWEST))
        return 0.0f;
    const float y = x * TTC_EXP_LOG2E;
    /* n = round(y) lies in the low mantissa bits of y + 1.5 * 2^23 */
    const float shifted = y + TTC_ROUND_MAGIC;
    const float f = y - (shifted - TTC_ROUND_MAGIC);
    float p = TTC_EXP2_C5;
    p = p * f + TTC_EXP2_C4;
    p = p * f + TTC_EXP2_C3;
    p = p * f + TTC_EXP2_C2;
    p = p * f + TTC_EXP2_C1;
    p = p * f + 1.0f;
    /* shifted's bits moved up by 23 are n's, in the exponent field (the
     * magic number's own bits move out); + 127 biases them */
    uint32_t bits;
    __builtin_memcpy(&bits, &shifted, sizeof bits);
    bits = (bits << 23) + (127u << 23);
    float scale;
    __builtin_memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

#endif
