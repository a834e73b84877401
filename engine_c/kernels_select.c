/* Choosing a kernel set at run time. Each architecture file reports whether
 * the running CPU can use its set; this file only asks the ones built for
 * this architecture. No state is kept and no libc is needed (the file is
 * also compiled freestanding for wasm32). */
#include "kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#define TTC_X86 1
#endif

static int same_name(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

const ttc_kernels *ttc_kernels_best(void)
{
    const ttc_kernels *k = NULL;
#if defined(TTC_X86)
    k = ttc_kernels_avx512(); /* the VNNI set where there is one */
    if (k == NULL)
        k = ttc_kernels_avx2();
#elif defined(__aarch64__)
    k = ttc_kernels_neon();
#elif defined(__wasm__)
    k = ttc_kernels_wasm();
#endif
    return k != NULL ? k : &ttc_kernels_generic;
}

const ttc_kernels *ttc_kernels_by_name(const char *name)
{
    if (name == NULL)
        return NULL;
    const ttc_kernels *k = NULL;
    if (same_name(name, "generic"))
        return &ttc_kernels_generic;
#if defined(TTC_X86)
    if (same_name(name, "avx2"))
        k = ttc_kernels_avx2();
    else if (same_name(name, "avx512"))
        k = ttc_kernels_avx512_novnni();
    else if (same_name(name, "avx512vnni"))
        k = ttc_kernels_avx512();
#elif defined(__aarch64__)
    if (same_name(name, "neon"))
        k = ttc_kernels_neon();
#elif defined(__wasm__)
    if (same_name(name, "wasm"))
        k = ttc_kernels_wasm();
#endif
    /* ttc_kernels_avx512() falls back to the plain set: check the name. */
    return k != NULL && same_name(k->name, name) ? k : NULL;
}
