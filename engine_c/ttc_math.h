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

#endif
