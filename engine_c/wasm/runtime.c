/* The few libc functions the engine needs in WebAssembly, where there is no
 * libc (web_demo/build_wasm.sh): malloc and free over the module's linear
 * memory, and memcpy, memmove, memset and memcmp.
 *
 * The heap is one run of blocks from __heap_base to heap_end, in address
 * order. Each block is a 16-byte header followed by its payload; block sizes
 * are multiples of 16, so every payload is 16-byte aligned:
 *
 *     | size|used  prev_size  (8 bytes unused) | payload ... | next block ...
 *
 * malloc takes the first free block that is large enough (splitting off the
 * rest), or else extends the heap, growing the memory with memory.grow.
 * free merges a block with free neighbours on both sides, so the memory of a
 * freed session or model is one free block again, ready for the next one.
 * The engine keeps few blocks alive (about two dozen per session), so a walk
 * over all of them is cheap and keeps this simple. Memory is never given back
 * to the host (WebAssembly cannot shrink it), only reused. */
#include <stddef.h>
#include <stdint.h>

#define ALIGN 16u
#define HEADER 16u
#define USED ((size_t)1)
#define PAGE 65536u

typedef struct {
    size_t size;      /* of the whole block, header included; bit 0 set while in use */
    size_t prev_size; /* of the block just below, 0 for the first block */
    size_t unused[2]; /* padding to 16 bytes */
} block;

extern unsigned char __heap_base; /* set by wasm-ld: the end of the stack and data */

static uintptr_t heap_start, heap_end; /* the blocks lie in [heap_start, heap_end) */

static size_t size_of(const block *b)
{
    return b->size & ~USED;
}

static block *next_of(block *b)
{
    return (block *)((uintptr_t)b + size_of(b));
}

static int is_last(block *b)
{
    return (uintptr_t)next_of(b) == heap_end;
}

/* Makes the memory hold at least end bytes; 0 when it cannot grow. */
static int reserve(uint64_t end)
{
    const uint64_t have = (uint64_t)__builtin_wasm_memory_size(0) * PAGE;
    if (end <= have)
        return 1;
    const uint64_t pages = (end - have + PAGE - 1) / PAGE;
    return __builtin_wasm_memory_grow(0, (size_t)pages) != (size_t)-1;
}

/* Cuts b down to size bytes when the rest can stand as a block of its own. */
static void split(block *b, size_t size)
{
    const size_t rest = size_of(b) - size;
    if (rest < 2 * HEADER)
        return;
    const int last = is_last(b);
    b->size = size | (b->size & USED);
    block *r = next_of(b);
    r->size = rest;
    r->prev_size = size;
    if (!last)
        next_of(r)->prev_size = rest;
}

void *malloc(size_t n)
{
    if (heap_start == 0)
        heap_start = heap_end = ((uintptr_t)&__heap_base + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
    if (n > SIZE_MAX - HEADER - 2 * ALIGN)
        return NULL;
    const size_t size = HEADER + (n == 0 ? ALIGN : (n + ALIGN - 1) & ~(size_t)(ALIGN - 1));

    block *last = NULL;
    for (uintptr_t p = heap_start; p < heap_end; p += size_of((block *)p)) {
        block *b = (block *)p;
        last = b;
        if (!(b->size & USED) && size_of(b) >= size) {
            b->size |= USED;
            split(b, size);
            return (unsigned char *)b + HEADER;
        }
    }

    /* Nothing fits: extend the last block when it is free, else add one at the end. */
    const int extend = last != NULL && !(last->size & USED);
    block *b = extend ? last : (block *)heap_end;
    const uint64_t end = (uint64_t)(uintptr_t)b + size;
    if (end > (uint64_t)UINTPTR_MAX + 1 - ALIGN || !reserve(end))
        return NULL;
    if (!extend)
        b->prev_size = last != NULL ? size_of(last) : 0;
    b->size = size | USED;
    heap_end = (uintptr_t)end;
    return (unsigned char *)b + HEADER;
}

void free(void *pointer)
{
    if (pointer == NULL)
        return;
    block *b = (block *)((unsigned char *)pointer - HEADER);
    b->size &= ~USED;
    if (!is_last(b) && !(next_of(b)->size & USED))
        b->size += size_of(next_of(b));
    if (b->prev_size != 0) {
        block *prev = (block *)((uintptr_t)b - b->prev_size);
        if (!(prev->size & USED)) {
            prev->size += size_of(b);
            b = prev;
        }
    }
    if (!is_last(b))
        next_of(b)->prev_size = size_of(b);
}

/* With -mbulk-memory, clang turns these builtins into the memory.copy and
 * memory.fill instructions, not into calls back to the functions below. */

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    __builtin_memcpy(dst, src, n);
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    __builtin_memmove(dst, src, n); /* memory.copy allows overlap */
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    __builtin_memset(dst, c, n);
    return dst;
}

/* no_builtin: a byte loop that clang must not turn into a call to itself. */
__attribute__((no_builtin)) int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}
