/* Reference kernels: plain C, the definition every fast kernel must match bit for bit. */
#include "kernels.h"
#include "ttc_math.h"

static void matmul_q8(float *out, const int8_t *x, const float *xs, int n_tokens,
                      const int8_t *w, const float *ws, int rows, int cols, int group_size)
{
    const int groups = cols / group_size;
    for (int t = 0; t < n_tokens; t++) {
        const int8_t *xt = x + (size_t)t * cols;
        const float *xst = xs + (size_t)t * groups;
        for (int r = 0; r < rows; r++) {
            const int8_t *wr = w + (size_t)r * cols;
            const float *wsr = ws + (size_t)r * groups;
            float acc = 0.0f;
            for (int g = 0; g < groups; g++) {
                int32_t d = ttc_dot_i8(xt + g * group_size, wr + g * group_size, group_size);
                acc += (float)d * (wsr[g] * xst[g]);
            }
            out[(size_t)t * rows + r] = acc;
        }
    }
}

static void attention_scores_q8(float *out, const int8_t *q, float q_scale,
                                const int8_t *keys, const float *key_scales,
                                int n_keys, int head_dim, int key_stride)
{
    for (int t = 0; t < n_keys; t++) {
        int32_t d = ttc_dot_i8(q, keys + (size_t)t * key_stride, head_dim);
        out[t] = (float)d * (q_scale * key_scales[t]);
    }
}

/* Outputs are taken in chunks of this many, so that their integer sums fit
 * on the stack. */
enum { VALUES_CHUNK = 64 };

static void attention_values_q8(float *out, const float *weights, const int8_t *values,
                                const float *value_scales, int n_values, int head_dim)
{
    float w_max = TTC_VALUES_WEIGHT_FLOOR;
    for (int t = 0; t < n_values; t++) {
        const float w = weights[t] * value_scales[t];
        w_max = w > w_max ? w : w_max;
    }
    const float inverse = TTC_VALUES_WEIGHT_MAX / w_max;
    const float unit = w_max / TTC_VALUES_WEIGHT_MAX;

    for (int i = 0; i < head_dim; i++)
        out[i] = 0.0f;
    for (int t0 = 0; t0 < n_values; t0 += TTC_VALUES_KEY_BLOCK) {
        const int n_keys = n_values - t0 < TTC_VALUES_KEY_BLOCK ? n_values - t0
                                                                : TTC_VALUES_KEY_BLOCK;
        int32_t wq[TTC_VALUES_KEY_BLOCK];
        for (int k = 0; k < n_keys; k++)
            wq[k] = ttc_round_clamped(weights[t0 + k] * value_scales[t0 + k] * inverse,
                                      TTC_VALUES_WEIGHT_MAX);
        for (int i0 = 0; i0 < head_dim; i0 += VALUES_CHUNK) {
            const int n = head_dim - i0 < VALUES_CHUNK ? head_dim - i0 : VALUES_CHUNK;
            int32_t acc[VALUES_CHUNK];
            for (int i = 0; i < n; i++)
                acc[i] = 0;
            for (int k = 0; k < n_keys; k++) {
                const int8_t *v = values + ttc_value_offset(t0 + k, i0, head_dim);
                for (int i = 0; i < n; i++)
                    acc[i] += wq[k] * (int32_t)v[TTC_VALUES_KEY_GROUP * i];
            }
            for (int i = 0; i < n; i++)
                out[i0 + i] = out[i0 + i] + (float)acc[i];
        }
    }
    for (int i = 0; i < head_dim; i++)
        out[i] = out[i] * unit;
}

static void softmax(float *x, int n)
{
    float max = x[0];
    for (int i = 1; i < n; i++)
        max = x[i] > max ? x[i] : max;
    for (int i = 0; i < n; i++)
        x[i] = ttc_softmax_expf(x[i] - max);
    float lane[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    for (int i = 0; i < n; i++)
        lane[i % 8] = lane[i % 8] + x[i];
    const float sum = ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
                      ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    const float inverse = 1.0f / sum;
    for (int i = 0; i < n; i++)
        x[i] = x[i] * inverse;
}

static void silu_times(float *gate, const float *up, int n)
{
    for (int i = 0; i < n; i++)
        gate[i] = ttc_silu_times(gate[i], up[i]);
}

static void quantize_q8(int8_t *q, float *scales, const float *x, int n, int group_size)
{
    for (int g = 0; g < n / group_size; g++) {
        const float *xg = x + (size_t)g * group_size;
        float max_abs = 0.0f;
        for (int i = 0; i < group_size; i++) {
            const float a = xg[i] < 0.0f ? -xg[i] : xg[i];
            max_abs = a > max_abs ? a : max_abs;
        }
        const float inverse = max_abs > 0.0f ? 127.0f / max_abs : 0.0f;
        scales[g] = max_abs / 127.0f;
        for (int i = 0; i < group_size; i++)
            q[(size_t)g * group_size + i] = (int8_t)ttc_round_clamped(xg[i] * inverse, 127.0f);
    }
}

const ttc_kernels ttc_kernels_generic = {
    .name = "generic",
    .matmul_q8 = matmul_q8,
    .attention_scores_q8 = attention_scores_q8,
    .attention_values_q8 = attention_values_q8,
    .softmax = softmax,
    .silu_times = silu_times,
    .quantize_q8 = quantize_q8,
};
