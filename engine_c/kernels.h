/* The compute kernels: every kernel exists once as a generic (scalar) version
 * that is always built and is the reference; per-architecture files provide
 * faster versions of the same functions.
 *
 * Every fast kernel must return results bit-identical to the generic one, so
 * that a suggestion never depends on the CPU (or on native vs WebAssembly):
 * integer dot products are exact, and the float work around them is done in
 * the same order, one multiply then one add (the engine is compiled with
 * -ffp-contract=off, so no fused multiply-add changes the rounding). */
#ifndef TTC_KERNELS_H
#define TTC_KERNELS_H

/* No fused multiply-add anywhere in the engine, even where the build flags or
 * the compiler's defaults would allow it (this header comes first in every
 * engine source file). Builds still pass -ffp-contract=off, which clang needs. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <stddef.h>
#include <stdint.h>

/* attention_values_q8's constants (below): keys per exact integer block, keys
 * interleaved in the value cache, the largest quantised weight (14 bits:
 * 127 * 128 + 127, two 7-bit parts), and the floor of the largest weight. */
#define TTC_VALUES_KEY_BLOCK 256
#define TTC_VALUES_KEY_GROUP 4
#define TTC_VALUES_WEIGHT_MAX 16383.0f
#define TTC_VALUES_WEIGHT_FLOOR 0x1p-100f

/* Where value i of key t lies in attention_values_q8's values array: keys
 * come in groups of TTC_VALUES_KEY_GROUP, interleaved byte by byte. */
static inline size_t ttc_value_offset(int t, int i, int head_dim)
{
    const int in_group = t % TTC_VALUES_KEY_GROUP;
    return (size_t)(t - in_group) * (size_t)head_dim + (size_t)TTC_VALUES_KEY_GROUP * (size_t)i +
           (size_t)in_group;
}

/* Scalar helpers the kernel sets share, for the tails their vectors leave. */
static inline int ttc_min_int(int a, int b)
{
    return a < b ? a : b;
}

static inline void ttc_copy_floats(float *dst, const float *src, int n)
{
    for (int i = 0; i < n; i++)
        dst[i] = src[i];
}

/* The exact int8 dot product of n pairs (the reference's, kernels_generic.c). */
static inline int32_t ttc_dot_i8(const int8_t *a, const int8_t *b, int n)
{
    int32_t sum = 0;
    for (int i = 0; i < n; i++)
        sum += (int32_t)a[i] * (int32_t)b[i];
    return sum;
}

/* The weight rows of one of matmul_q8's tiles in the fast kernels, rows r ..
 * r + tile - 1 with their scales; rows past the end repeat the last one, so
 * that a tile's code needs no bounds (only its valid outputs are stored). */
static inline void ttc_tile_rows(const int8_t **tile_rows, const float **tile_scales, int tile,
                                 const int8_t *w, const float *ws, int rows, int r, int cols,
                                 int groups)
{
    for (int i = 0; i < tile; i++) {
        const int row = r + i < rows ? r + i : rows - 1;
        tile_rows[i] = w + (size_t)row * (size_t)cols;
        tile_scales[i] = ws + (size_t)row * (size_t)groups;
    }
}

/* ttc_kernels.pack_q8 (below): rearranges a matrix for a set's matmul_packed_q8. */
typedef void ttc_pack_q8_fn(void *packed, const int8_t *w, const float *ws, int rows, int cols,
                            int group_size);

/* The packed weights' layout of the x86 sets (AVX-512 VNNI and AVX2 share it):
 * 16 weight rows to a tile (the last tile repeating the last row), each tile
 *   cols / 4 chunks of 64 bytes: chunk c, row i at 4 i: w[row][4 c .. 4 c + 3]
 *   per group, 16 weight scales (row i in lane i)
 *   per group, 16 int32: 128 * the sum of the row's weights in the group
 * at these byte offsets. Rows 0-7 of a chunk fill 32 bytes, rows 8-15 the next
 * 32. ttc_pack16_q8 and ttc_packed16_q8_size (kernels_avx512.c) are the two
 * sets' pack_q8 and packed_q8_size. */
typedef struct {
    size_t scales, sums, bytes;
} ttc_packed16_layout;

static inline ttc_packed16_layout ttc_packed16_tile(int cols, int group_size)
{
    const size_t group_bytes = (size_t)(cols / group_size) * 16 * sizeof(float);
    const size_t scales = 16 * (size_t)cols;
    return (ttc_packed16_layout){.scales = scales, .sums = scales + group_bytes,
                                 .bytes = scales + 2 * group_bytes}; /* int32 sums: as many */
}

size_t ttc_packed16_q8_size(int rows, int cols, int group_size);
ttc_pack_q8_fn ttc_pack16_q8;

/* ttc_kernels.pack_key (below): writes one position's key into a set's packed key cache. */
typedef void ttc_pack_key_fn(void *packed_keys, int position, const int8_t *key, int head_dim);

/* The packed key cache of the x86 sets (AVX-512 VNNI and AVX2 share it), the
 * packed weights' layout with positions for rows: 16 positions to a block,
 * each block
 *   (head_dim + 3) / 4 chunks of 64 bytes: chunk c, position i at 4 i:
 *     key[4 c .. 4 c + 3] (zeros past head_dim)
 *   16 int32: 128 * the sum of each position's key bytes
 * in ttc_packed16_key_block(head_dim) bytes. ttc_pack16_key and
 * ttc_packed16_keys_size (kernels_avx512.c) are the two sets' pack_key and
 * packed_keys_size. */
static inline size_t ttc_packed16_key_block(int head_dim)
{
    return (size_t)(head_dim + 3) / 4 * 64 + 16 * sizeof(int32_t);
}

size_t ttc_packed16_keys_size(int positions, int head_dim);
ttc_pack_key_fn ttc_pack16_key;

/* Keys come from memory (the cache of a long context outgrows L2): the x86
 * sets' scores ask for the lines this far ahead of the block they work on.
 * AVX-512: some 5% faster decoding at 1500 keys, the packed keys' scores some
 * 20% faster at 2000 (the values, read in order, gained nothing from it);
 * AVX2's packed scores of one query 1.2x faster (bench_kernels, Zen 3). */
enum { TTC_KEYS_PREFETCH_BYTES = 3072 };

typedef struct ttc_kernels {
    const char *name;
    /* Tokens a decoding pass checks at once when a session leaves it to the
     * engine (ttc_session_options.draft_tokens 0): more than one only where a
     * pass of several tokens costs little more than one, as bench_drafts.py
     * measures it (docs/RESULTS.md, "Drafted decoding"); 0 means one. */
    int draft_tokens;

    /* Quantised matrix product, many tokens at once:
     *   out[t*rows + r] = sum over groups g, in order, of
     *                     (float)dot(x[t] group g, w[r] group g) * (ws[r][g] * xs[t][g])
     * x: n_tokens x cols int8 (row stride cols), xs: n_tokens x cols/group_size scales;
     * w: rows x cols int8, ws: rows x cols/group_size scales.
     * cols and group_size are multiples of 32; rows and n_tokens are any size >= 1. */
    void (*matmul_q8)(float *out, const int8_t *x, const float *xs, int n_tokens,
                      const int8_t *w, const float *ws, int rows, int cols,
                      int group_size);

    /* Attention scores against an int8 key cache:
     *   out[t] = (float)dot(q, keys + t*key_stride) * (q_scale * key_scales[t])
     * for t in 0..n_keys-1; head_dim is any size >= 1. */
    void (*attention_scores_q8)(float *out, const int8_t *q, float q_scale,
                                const int8_t *keys, const float *key_scales,
                                int n_keys, int head_dim, int key_stride);

    /* Attention output from one kv head's int8 value cache. The weights are
     * quantised to 14 bits, so that the sums over the keys are exact integer
     * dot products (the fast kernels multiply the weights, whole as int16 or
     * in two 7-bit parts, by int8 values), taken in blocks of 256 keys
     * (TTC_VALUES_KEY_BLOCK; 16383 is TTC_VALUES_WEIGHT_MAX, 2^-100
     * TTC_VALUES_WEIGHT_FLOOR):
     *   w[t] = weights[t] * value_scales[t]
     *   w_max = the largest of 2^-100 and the w[t] (any order gives the same;
     *           the floor keeps inverse finite)
     *   inverse = 16383.0f / w_max;  unit = w_max / 16383.0f
     *   wq[t] = (int32_t)ttc_round_even(w[t] * inverse)      in [0, 16383]
     *   out[i] = 0
     *   for each block of keys t0 .. t0 + 255 (t0 = 0, 256, 512, ...; the last
     *   block ends at n_values - 1), in order:
     *     out[i] = out[i] + (float)(sum over the block of wq[t] * v[t][i])
     *   out[i] = out[i] * unit
     * The block sums are exact in int32: 256 * 16383 * 128 < 2^31.
     *
     * The values come in groups of 4 keys (TTC_VALUES_KEY_GROUP): group g
     * interleaves keys 4g .. 4g + 3 byte by byte, so that
     *   v[t][i] = values[ttc_value_offset(t, i, head_dim)]
     * and the four int8 values of output i for a group sit side by side. When
     * n_values is not a multiple of 4, the last group's missing keys (t >=
     * n_values) are not part of the sum and their bytes may hold anything:
     * kernels may read them (the array always holds whole groups) but only
     * multiply them by a weight of exactly 0; weights[t] and value_scales[t]
     * are never read for them. weights and value_scales must be finite and
     * not negative (softmax weights and quantisation scales are), and so must
     * their products; head_dim is any size >= 1. */
    void (*attention_values_q8)(float *out, const float *weights,
                                const int8_t *values, const float *value_scales,
                                int n_values, int head_dim);

    /* Softmax in place, n >= 1:
     *   max = the largest x[i] (without NaNs, any order gives the same);
     *   x[i] = ttc_softmax_expf(x[i] - max)               (ttc_math.h)
     *   lane[0..7] = 0; for i in order: lane[i % 8] = lane[i % 8] + x[i]
     *   sum = ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
     *         ((lane[4] + lane[5]) + (lane[6] + lane[7]))
     *   inverse = 1.0f / sum; x[i] = x[i] * inverse
     * Fast kernels compute ttc_softmax_expf lane by lane with exactly its
     * steps. */
    void (*softmax)(float *x, int n);

    /* The feed-forward block's gated activation in place, n >= 1:
     *   gate[i] = ttc_silu_times(gate[i], up[i])             (ttc_math.h)
     * Fast kernels compute its ttc_expf lane by lane with exactly its steps
     * (its branches a select and a minimum), then the same division and
     * multiplication. */
    void (*silu_times)(float *gate, const float *up, int n);

    /* Activation quantisation, group by group (n is a multiple of group_size,
     * group_size any size >= 1): for group g of x,
     *   max_abs = the largest |x[i]| (0 for a group of zeros; any order gives the same)
     *   inverse = max_abs > 0 ? 127.0f / max_abs : 0.0f
     *   scales[g] = max_abs / 127.0f
     *   q[i] = (int8_t)ttc_round_even(x[i] * inverse)       (ttc_math.h)
     * x must be finite, and each group's max_abs 0 or at least 2^-121 (so that
     * inverse is finite); q then lies in [-127, 127]. Fast kernels compute
     * inverse and scales[g] with the same scalar divisions, then the multiply
     * and the rounding's magic add lane by lane; they may subtract the magic
     * number on the bits, as integers: the sum lies in [2^23, 2^24), where
     * floats are the integers in order, so its bits minus the magic number's
     * are exactly the rounded value. */
    void (*quantize_q8)(int8_t *q, float *scales, const float *x, int n, int group_size);

    /* Optional, NULL in a set without them: matmul_q8 from weights this set
     * rearranged once, when its fastest layout is not the file's. pack_q8
     * writes packed_q8_size(rows, cols, group_size) bytes (any alignment) from
     * w and ws as matmul_q8 takes them; matmul_packed_q8 then gives exactly
     * matmul_q8's out. Two sets with the same pack_q8 share the layout. */
    size_t (*packed_q8_size)(int rows, int cols, int group_size);
    ttc_pack_q8_fn *pack_q8;
    void (*matmul_packed_q8)(float *out, const int8_t *x, const float *xs, int n_tokens,
                             const void *packed, int rows, int cols, int group_size);

    /* Optional, NULL in a set without them: attention_scores_q8 for several
     * queries at once, from a copy of a key cache in this set's own layout.
     * packed_keys_size(positions, head_dim) is the size in bytes (any
     * alignment) of a copy for positions 0 .. positions - 1; pack_key writes
     * one position's head_dim int8 key into it (positions in any order).
     * attention_scores_packed_q8 then gives, for each query j < n_queries
     * (head_dim int8 at queries + j * head_dim, its scale query_scales[j]),
     *   out[j * out_stride + t] = attention_scores_q8's out[t] for that query
     * for t < n_keys (out_stride >= n_keys), exactly, once positions 0 ..
     * n_keys - 1 are packed. It may read the bytes of later positions in the
     * copy, whatever they hold, but they never reach out. Two sets with the
     * same pack_key share the layout. */
    size_t (*packed_keys_size)(int positions, int head_dim);
    ttc_pack_key_fn *pack_key;
    void (*attention_scores_packed_q8)(float *out, int out_stride, const int8_t *queries,
                                       const float *query_scales, int n_queries,
                                       const void *packed_keys, const float *key_scales,
                                       int n_keys, int head_dim);
} ttc_kernels;

/* The reference kernels, always available. */
extern const ttc_kernels ttc_kernels_generic;

/* Fast kernels for this build's architecture; each returns NULL when the
 * running CPU (or the build) lacks the instructions. */
const ttc_kernels *ttc_kernels_avx2(void);
const ttc_kernels *ttc_kernels_avx512(void);      /* AVX-512 (F, BW, VL) without VNNI */
const ttc_kernels *ttc_kernels_avx512vnni(void);  /* AVX-512 with VNNI's int8 dot products */
const ttc_kernels *ttc_kernels_neon(void);
const ttc_kernels *ttc_kernels_wasm(void);

/* The fastest kernels the running CPU supports. */
const ttc_kernels *ttc_kernels_best(void);

/* Kernels by name ("generic", "avx2", "avx512", "avx512vnni", "neon", "wasm"); NULL when
 * unknown or not supported here. */
const ttc_kernels *ttc_kernels_by_name(const char *name);

/* 1 when k gives exactly the generic kernels' results (bit for bit, and no
 * write past the outputs) on a fixed set of pseudo-random inputs, shapes that
 * take every path of the fast kernels and the edge values +-127; else 0. A
 * quick check at load time, for kernels whose instructions the running
 * machine may implement differently (WebAssembly's relaxed SIMD). No libc. */
int ttc_kernels_self_check(const ttc_kernels *k);

#endif
