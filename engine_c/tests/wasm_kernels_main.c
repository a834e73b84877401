/* A tiny harness that lets JavaScript call the kernels inside a wasm32
 * module: tests/node/kernel_checks.mjs fills buffers in the module's memory
 * and compares the SIMD kernels with the generic ones (in node through
 * tests/node/wasm_kernels.test.mjs; in Chromium for the relaxed SIMD build,
 * through tests/web/test_wasm_relaxed_kernels.py). Built freestanding, without
 * libc: SIMD128 (`make wasm-kernels-test`) and SIMD128 + relaxed SIMD
 * (`make wasm-kernels-test-relaxed`). */
#include <stddef.h>
#include <stdint.h>

#include "kernels.h"

#define EXPORT(name) __attribute__((export_name(name)))

/* clang may emit calls to these even in freestanding code. */
void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

/* ---- a bump allocator over the memory above the stack and data ---- */

extern unsigned char __heap_base;
static uintptr_t heap_top;

EXPORT("heap_reset") void heap_reset(void)
{
    heap_top = (uintptr_t)&__heap_base;
}

/* n bytes aligned to 16, growing the memory as needed; 0 when it cannot. */
EXPORT("heap_alloc") void *heap_alloc(size_t n)
{
    if (heap_top == 0)
        heap_reset();
    const uintptr_t p = (heap_top + 15) & ~(uintptr_t)15;
    const uintptr_t end = p + n;
    const uintptr_t have = __builtin_wasm_memory_size(0) * 65536;
    if (end > have && __builtin_wasm_memory_grow(0, (end - have + 65535) / 65536) == (size_t)-1)
        return 0;
    heap_top = end;
    return (void *)p;
}

/* ---- the kernels: set 0 is the generic one, 1 the SIMD one ("wasm") ---- */

static const ttc_kernels *kernel_set(int set)
{
    return set == 0 ? &ttc_kernels_generic : ttc_kernels_by_name("wasm");
}

EXPORT("has_simd") int has_simd(void)
{
    return kernel_set(1) != NULL;
}

EXPORT("best_name") const char *best_name(void)
{
    return ttc_kernels_best()->name;
}

EXPORT("matmul_q8") int matmul_q8(int set, float *out, const int8_t *x, const float *xs,
                                  int n_tokens, const int8_t *w, const float *ws, int rows,
                                  int cols, int group_size)
{
    const ttc_kernels *k = kernel_set(set);
    if (k == NULL)
        return -1;
    k->matmul_q8(out, x, xs, n_tokens, w, ws, rows, cols, group_size);
    return 0;
}

EXPORT("attention_scores_q8")
int attention_scores_q8(int set, float *out, const int8_t *q, float q_scale, const int8_t *keys,
                        const float *key_scales, int n_keys, int head_dim, int key_stride)
{
    const ttc_kernels *k = kernel_set(set);
    if (k == NULL)
        return -1;
    k->attention_scores_q8(out, q, q_scale, keys, key_scales, n_keys, head_dim, key_stride);
    return 0;
}

EXPORT("attention_values_q8")
int attention_values_q8(int set, float *out, const float *weights, const int8_t *values,
                        const float *value_scales, int n_values, int head_dim)
{
    const ttc_kernels *k = kernel_set(set);
    if (k == NULL)
        return -1;
    k->attention_values_q8(out, weights, values, value_scales, n_values, head_dim);
    return 0;
}

EXPORT("softmax") int softmax(int set, float *x, int n)
{
    const ttc_kernels *k = kernel_set(set);
    if (k == NULL)
        return -1;
    k->softmax(x, n);
    return 0;
}

EXPORT("quantize_q8")
int quantize_q8(int set, int8_t *q, float *scales, const float *x, int n, int group_size)
{
    const ttc_kernels *k = kernel_set(set);
    if (k == NULL)
        return -1;
    k->quantize_q8(q, scales, x, n, group_size);
    return 0;
}
