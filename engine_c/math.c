/* Deterministic double math for tables built once (RoPE frequencies and
 * angles): the engine computes its own exponentials, logarithms and sines from
 * IEEE additions and multiplications only, so that native builds (whatever
 * their libm) and WebAssembly give bit-identical results. The float functions
 * of the hot path are in ttc_math.h. */
#include "internal.h"

static double double_from_bits(uint64_t bits)
{
    double d;
    ttc_memcpy(&d, &bits, sizeof d);
    return d;
}

static uint64_t bits_from_double(double d)
{
    uint64_t bits;
    ttc_memcpy(&bits, &d, sizeof bits);
    return bits;
}

static const double LN2 = 0.69314718055994530942;

static double round_even_double(double x)
{
    const double magic = 6755399441055744.0; /* 1.5 * 2^52 */
    return (x + magic) - magic;
}

double ttc_exp(double x)
{
    if (x < -700.0)
        return 0.0;
    if (x > 700.0)
        x = 700.0;
    double n = round_even_double(x / LN2);
    double r = x - n * LN2;
    double term = 1.0, sum = 1.0;
    for (int k = 1; k < 20; k++) {
        term = term * r / k;
        sum += term;
    }
    return sum * double_from_bits((uint64_t)((int64_t)n + 1023) << 52);
}

double ttc_log(double x)
{
    /* x = m * 2^e with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh((m-1)/(m+1)). */
    uint64_t bits = bits_from_double(x);
    int e = (int)((bits >> 52) & 0x7FF) - 1023;
    double m = double_from_bits((bits & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull);
    if (m > 1.4142135623730951) {
        m /= 2.0;
        e += 1;
    }
    double s = (m - 1.0) / (m + 1.0), s2 = s * s, term = s, sum = 0.0;
    for (int k = 1; k < 40; k += 2) {
        sum += term / k;
        term *= s2;
    }
    return 2.0 * sum + e * LN2;
}

void ttc_sincos(double x, double *sin_out, double *cos_out)
{
    /* Reduce by multiples of pi/2 (split in two parts), then Taylor series. */
    const double half_pi_hi = 1.5707963267341256, half_pi_lo = 6.077100506506192e-11;
    double k = round_even_double(x / (half_pi_hi + half_pi_lo));
    double r = (x - k * half_pi_hi) - k * half_pi_lo;
    double r2 = r * r, s = r, c = 1.0, st = r, ct = 1.0;
    for (int i = 1; i < 12; i++) {
        st = -st * r2 / ((2 * i) * (2 * i + 1));
        ct = -ct * r2 / ((2 * i - 1) * (2 * i));
        s += st;
        c += ct;
    }
    switch ((int64_t)k & 3) {
    case 0: *sin_out = s; *cos_out = c; break;
    case 1: *sin_out = c; *cos_out = -s; break;
    case 2: *sin_out = -s; *cos_out = -c; break;
    default: *sin_out = -c; *cos_out = s; break;
    }
}
