/* The WebAssembly module's exports, for web_demo/engine.js: thin wrappers
 * over the public API (ttc.h) that take and return only numbers and
 * pointers into the module's memory. They only marshal: every decision
 * stays in the engine. Functions that hand back a handle or a length write
 * it through a pointer that JavaScript allocated with buffer_alloc. */
#include <stddef.h>
#include <stdint.h>

#include "../kernels.h"
#include "../ttc.h"

void *malloc(size_t size);
void free(void *pointer);

#define EXPORT(name) __attribute__((export_name(name)))

/* ---- memory for JavaScript's buffers ---- */

EXPORT("buffer_alloc") void *buffer_alloc(size_t size)
{
    return malloc(size);
}

EXPORT("buffer_free") void buffer_free(void *pointer)
{
    free(pointer);
}

/* ---- errors and constants ---- */

EXPORT("strerror") const char *strerror_export(int status)
{
    return ttc_strerror(status);
}

EXPORT("max_suggestion") int max_suggestion(void)
{
    return TTC_MAX_SUGGESTION;
}

/* ---- models ---- */

EXPORT("model_load") int model_load(const void *data, size_t size, ttc_model **out)
{
    return ttc_model_load(data, size, out);
}

EXPORT("model_free") void model_free(ttc_model *model)
{
    ttc_model_free(model);
}

static ttc_model_info info_of(const ttc_model *model)
{
    ttc_model_info info = {0};
    ttc_model_get_info(model, &info);
    return info;
}

#define INFO_GETTER(name, type, field)                                 \
    EXPORT("model_" name) type model_##field(const ttc_model *model) \
    {                                                                \
        return (type)info_of(model).field;                           \
    }

INFO_GETTER("dim", int, dim)
INFO_GETTER("hidden_dim", int, hidden_dim)
INFO_GETTER("n_layers", int, n_layers)
INFO_GETTER("n_heads", int, n_heads)
INFO_GETTER("n_kv_heads", int, n_kv_heads)
INFO_GETTER("vocab_size", int, vocab_size)
INFO_GETTER("window", int, window)
INFO_GETTER("group_size", int, group_size)
INFO_GETTER("tied_classifier", int, tied_classifier)
INFO_GETTER("parameters", double, parameters)
INFO_GETTER("file_size", double, file_size)

EXPORT("model_metadata") const char *model_metadata(const ttc_model *model)
{
    return ttc_model_metadata(model, NULL);
}

EXPORT("model_metadata_length") size_t model_metadata_length(const ttc_model *model)
{
    size_t length = 0;
    ttc_model_metadata(model, &length);
    return length;
}

/* ---- sessions ---- */

/* draft_tokens: ttc_session_options.draft_tokens, 0 for the default. */
EXPORT("session_create") int session_create(const ttc_model *model, int draft_tokens,
                                            ttc_session **out)
{
    ttc_session_options options;
    ttc_session_options_init(&options);
    if (draft_tokens)
        options.draft_tokens = draft_tokens;
    return ttc_session_create(model, &options, out);
}

EXPORT("session_free") void session_free(ttc_session *session)
{
    ttc_session_free(session);
}

/* ttc_complete_options_init's defaults, for engine.js's options left out. */
EXPORT("complete_defaults")
void complete_defaults(int *multiline, int *max_chars, float *min_confidence,
                       int *document_memory)
{
    ttc_complete_options options;
    ttc_complete_options_init(&options);
    *multiline = options.multiline;
    *max_chars = options.max_chars;
    *min_confidence = options.min_confidence;
    *document_memory = options.document_memory;
}

/* The options as session_complete and session_prepare take them, one by one. */
static ttc_complete_options complete_options(int multiline, int max_chars, float min_confidence,
                                             int document_memory, const char *memory_text,
                                             size_t memory_text_length)
{
    const ttc_complete_options options = {
        .multiline = multiline,
        .max_chars = max_chars,
        .min_confidence = min_confidence,
        .document_memory = document_memory,
        .memory_text = memory_text,
        .memory_text_length = memory_text_length,
    };
    return options;
}

EXPORT("session_complete")
int session_complete(ttc_session *session, const char *prefix, size_t prefix_length,
                     const char *suffix, size_t suffix_length, int multiline, int max_chars,
                     float min_confidence, int document_memory, const char *memory_text,
                     size_t memory_text_length, char *out, size_t out_capacity,
                     size_t *out_length)
{
    const ttc_complete_options options = complete_options(
        multiline, max_chars, min_confidence, document_memory, memory_text, memory_text_length);
    return ttc_session_complete(session, prefix, prefix_length, suffix, suffix_length, &options,
                                out, out_capacity, out_length);
}

EXPORT("prepare_tokens") int prepare_tokens(void)
{
    return TTC_PREPARE_TOKENS;
}

EXPORT("session_prepare")
int session_prepare(ttc_session *session, const char *prefix, size_t prefix_length,
                    const char *suffix, size_t suffix_length, int multiline, int max_chars,
                    float min_confidence, int document_memory, const char *memory_text,
                    size_t memory_text_length, size_t max_tokens, size_t *run)
{
    const ttc_complete_options options = complete_options(
        multiline, max_chars, min_confidence, document_memory, memory_text, memory_text_length);
    return ttc_session_prepare(session, prefix, prefix_length, suffix, suffix_length, &options,
                               max_tokens, run);
}

EXPORT("retyped_length")
size_t retyped_length(const char *suggestion, size_t suggestion_length, const char *suffix,
                      size_t suffix_length)
{
    return ttc_retyped_length(suggestion, suggestion_length, suffix, suffix_length);
}

/* Runs tokens (int32, 0..vocab-1) from position 0, reusing what the session
 * holds, and writes the vocab_size logits after the last token into out. For
 * benchmarks and tests (bench/bench_web.py). */
EXPORT("session_last_logits")
int session_last_logits(ttc_session *session, const int *tokens, size_t n_tokens, float *out)
{
    return ttc_session_logits(session, tokens, n_tokens, out, 1);
}

EXPORT("session_forwarded_tokens") double session_forwarded_tokens(const ttc_session *session)
{
    return (double)ttc_session_forwarded_tokens(session);
}

EXPORT("session_memory") double session_memory(const ttc_session *session)
{
    return (double)ttc_session_memory(session);
}

EXPORT("session_kernels") const char *session_kernels(const ttc_session *session)
{
    return ttc_session_kernels(session);
}

/* ---- the module's kernels ---- */

/* "relaxed-simd" for the module built with -mrelaxed-simd (engine-relaxed.wasm),
 * else "simd128" (engine.wasm). */
EXPORT("engine_variant") const char *engine_variant(void)
{
#if defined(__wasm_relaxed_simd__)
    return "relaxed-simd";
#else
    return "simd128";
#endif
}

/* 1 when this module's SIMD kernels give exactly the generic kernels' results
 * on the running engine (ttc_kernels_self_check), else 0: relaxed SIMD's
 * instructions may differ between engines, and engine.js then loads
 * engine.wasm instead. */
EXPORT("kernels_self_check") int kernels_self_check(void)
{
    return ttc_kernels_self_check(ttc_kernels_best());
}
