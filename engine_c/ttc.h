/* ttc — Tiny Transformer Code completion engine. The one public header.
 *
 * A ttc_model holds read-only int8 weights and may be shared by any number of
 * sessions. A ttc_session holds the state of one document: the tokens it has
 * run, their key/value cache and scratch memory. Nothing here prints, exits or
 * touches files; every function that can fail returns a ttc_status, and
 * ttc_strerror() turns it into text. Free functions accept NULL.
 *
 * Text crosses this interface as UTF-8 bytes. Each character becomes one
 * token: tab, newline and printable ASCII stand for themselves, "\r\n" reads
 * as "\n", every other character (invalid bytes included, one per byte)
 * becomes UNK. Suggestions are plain ASCII. */
#ifndef TTC_H
#define TTC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this interface: a new MAJOR may break callers, a new MINOR adds to it.
 * The tooling section at the end is outside this promise. */
#define TTC_VERSION_MAJOR 0
#define TTC_VERSION_MINOR 3
#define TTC_VERSION_PATCH 0

/* "MAJOR.MINOR.PATCH" of the engine that was built. */
const char *ttc_version(void);

typedef enum {
    TTC_OK = 0,
    TTC_ERR_INVALID_ARGUMENT,
    TTC_ERR_OUT_OF_MEMORY,
    TTC_ERR_TRUNCATED,     /* the buffer ends before the header or the declared size */
    TTC_ERR_BAD_MAGIC,     /* not a ttc model file */
    TTC_ERR_BAD_VERSION,   /* a format version this engine does not read */
    TTC_ERR_BAD_HEADER,    /* dimensions out of range or inconsistent */
    TTC_ERR_BAD_LAYOUT,    /* sizes or offsets disagree with the dimensions */
    TTC_ERR_BAD_CHECKSUM,  /* the file is damaged */
    TTC_ERR_BAD_WEIGHTS,   /* a scale that is not finite, an int8 of -128 */
    TTC_ERR_BUFFER_TOO_SMALL,
    TTC_ERR_UNSUPPORTED,   /* an option this build or CPU cannot honour */
    TTC_STATUS_COUNT
} ttc_status;

const char *ttc_strerror(ttc_status status);

/* ---- model ------------------------------------------------------------ */

typedef struct ttc_model ttc_model;

typedef struct {
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, window, group_size;
    int tied_classifier;
    size_t parameters;  /* weights, embeddings and norms, counted once */
    size_t file_size;
} ttc_model_info;

/* Validates and copies the model file in data[0..size); the caller may free it afterwards. */
ttc_status ttc_model_load(const void *data, size_t size, ttc_model **out);
void ttc_model_free(ttc_model *model);
void ttc_model_get_info(const ttc_model *model, ttc_model_info *info);
/* The metadata JSON text (not NUL-terminated) and its length. */
const char *ttc_model_metadata(const ttc_model *model, size_t *length);

/* ---- session ---------------------------------------------------------- */

typedef struct ttc_session ttc_session;

typedef enum { TTC_KV_INT8 = 0, TTC_KV_F32 = 1 } ttc_kv_precision;

typedef struct {
    ttc_kv_precision kv_precision; /* int8 (default) or the llama2.c-style fp32 cache */
    const char *kernels;           /* NULL: the fastest this CPU has; or a name, e.g. "generic" */
    int max_batch;                 /* tokens per forward pass when prefilling; 1 = token by token */
    int draft_tokens;              /* while decoding, a pass may check this many tokens at once:
                                    * the greedy token and what followed it where the document
                                    * memory last saw the same text (0..max_batch; 1: one token
                                    * a pass). Default 0: by the kernels, 4 with AVX-512 VNNI
                                    * (a pass of several tokens costs little more than one),
                                    * else 1 (docs/RESULTS.md).
                                    * Suggestions are the same for every value, bit for bit. */
} ttc_session_options;

void ttc_session_options_init(ttc_session_options *options);
/* options may be NULL for the defaults. */
ttc_status ttc_session_create(const ttc_model *model, const ttc_session_options *options,
                              ttc_session **out);
void ttc_session_free(ttc_session *session);

/* Where a suggestion may end (ttc_complete_options.multiline). AUTO suggests the
 * block only right after a block opener: the text before the cursor ends in ':' or
 * '{' (blanks and line ends aside) and nothing but blanks follows on the cursor's line. */
enum { TTC_MULTILINE_OFF = 0, TTC_MULTILINE_BLOCK = 1, TTC_MULTILINE_AUTO = 2 };

typedef struct {
    int multiline;        /* TTC_MULTILINE_OFF: at the end of the line;
                           * TTC_MULTILINE_BLOCK: at the end of the enclosing block;
                           * TTC_MULTILINE_AUTO (default): the block after a block opener,
                           * else the line */
    int max_chars;        /* longest suggestion, 1..TTC_MAX_SUGGESTION (default 64) */
    float min_confidence; /* stop when the cumulative probability would fall below this
                           * (default 0.65) */
    int document_memory;  /* 1 (default): blend in what followed earlier occurrences of the
                           * text before the cursor in the document (prefix, suffix and
                           * memory_text); 0: the model alone */
    const char *memory_text;   /* more text for the memory, e.g. other open files; may be NULL */
    size_t memory_text_length;
} ttc_complete_options;

/* The document memory reads at most this many bytes of each part: the end of
 * the prefix (its start moves in steps of a quarter of this), the start of the
 * suffix, the start of memory_text. */
enum {
    TTC_MEMORY_PREFIX_BYTES = 1048576, /* 1 MiB */
    TTC_MEMORY_SUFFIX_BYTES = 262144,  /* 256 KiB */
    TTC_MEMORY_TEXT_BYTES = 262144,
};

enum { TTC_MAX_SUGGESTION = 256 };

/* The defaults: what editors get unless their user changes them. The bindings
 * (ttcc/engine.py, web_demo/engine.js) start from these too. */
void ttc_complete_options_init(ttc_complete_options *options);

/* Suggests the text to insert at the cursor, given the document text before
 * (prefix) and after (suffix) the cursor. Writes the suggestion into out
 * (NUL-terminated; out_capacity >= TTC_MAX_SUGGESTION + 1 always suffices)
 * and its length into *out_length. Reuses what the session ran for the
 * previous request: only tokens that differ are run through the model.
 * A suggestion never ends in a line end, is never only blanks or a lone closing
 * bracket, and never leaves unbalanced the brackets and quotes of a balanced line
 * that goes on after the cursor (docs/DESIGN.md, "Decoding"). */
ttc_status ttc_session_complete(ttc_session *session,
                                const char *prefix, size_t prefix_length,
                                const char *suffix, size_t suffix_length,
                                const ttc_complete_options *options,
                                char *out, size_t out_capacity, size_t *out_length);

/* Tokens a call of ttc_session_prepare may run, as the server and the demo run
 * it: a request that comes meanwhile waits for at most that many, decoded one
 * pass each when idle work rehearses a suggestion (a call took at most 1.5 ms
 * with a shipped model on an AVX2 machine, docs/RESULTS.md). */
enum { TTC_PREPARE_TOKENS = 8 };

/* Work for idle time between requests, for the document (prefix before the
 * cursor, suffix after it) and options of the request just answered (NULL: the
 * defaults), so that the next keystroke's request runs less; suggestions are
 * the same with or without it. Runs up to max_tokens (>= 1;
 * TTC_PREPARE_TOKENS) tokens a call and writes how many ran to *run: 0 when
 * nothing is left to run (callers loop while it is not 0 and they are idle).
 * In order:
 * - once the document is within window/16 characters of outgrowing the
 *   model's window, the prompt the session will need after that, so that the
 *   request which moves the window runs only what was typed since;
 * - while the session holds what that request ran, the requests after the
 *   four likeliest next characters (the suggestion's first, when one was
 *   shown, and three others), suggestion included, so that typing one of them
 *   runs nothing.
 * The likeliest runs in the session's own cache, each other in a cache of its
 * own, allocated by the first call that runs anything in it (up to 4 more
 * caches: ttc_session_memory). */
ttc_status ttc_session_prepare(ttc_session *session,
                               const char *prefix, size_t prefix_length,
                               const char *suffix, size_t suffix_length,
                               const ttc_complete_options *options,
                               size_t max_tokens, size_t *run);

/* How many characters right after the cursor a suggestion types again: the
 * longest start of the rest of the cursor's line (suffix up to its first
 * newline) that the suggestion ends with. Accepting the suggestion should
 * replace them rather than repeat them. At most suggestion_length, so callers
 * may pass only that much of the suffix. */
size_t ttc_retyped_length(const char *suggestion, size_t suggestion_length,
                          const char *suffix, size_t suffix_length);

/* Bytes of memory the session holds (its caches and scratch). */
size_t ttc_session_memory(const ttc_session *session);
/* Tokens run through the model since the session was created. */
uint64_t ttc_session_forwarded_tokens(const ttc_session *session);
/* Name of the kernel set the session computes with. */
const char *ttc_session_kernels(const ttc_session *session);

/* ==== Tooling ==========================================================
 * For fitting, evaluation, tests and benchmarks (training/, bench/, tests/);
 * editors need none of it, and it may change without a new major version. */

/* Natural-log probability of each character of text given the characters
 * before it (after BOS). Writes one value per token into out (at most
 * out_capacity) and the count into *out_count; texts longer than the window
 * keep the nearest window/2 characters as context when they cross it. With
 * document_memory, the memory of all the text before each character (up to
 * TTC_MEMORY_PREFIX_BYTES) is blended in as when completing. */
ttc_status ttc_session_logprobs(ttc_session *session, const char *text, size_t text_length,
                                int document_memory, float *out, size_t out_capacity,
                                size_t *out_count);

/* What the document memory saw at each character of text, for fitting the
 * blend (training/fit_memory.py): TTC_MEMORY_FEATURES floats per token, in
 * this order: the model's probability of the character, the memory's
 * probability of it (0 without a match), the match length, the votes, the
 * model's highest probability, the memory's highest share. Same contexts as
 * ttc_session_logprobs with memory; writes *out_count tokens. */
enum { TTC_MEMORY_FEATURES = 6 };
ttc_status ttc_session_memory_features(ttc_session *session, const char *text,
                                       size_t text_length, float *out, size_t out_capacity,
                                       size_t *out_count);

/* What decoding knows at each character of the greedy suggestion, for studying
 * stop rules (engine_c/stop_features.c lists the features; training/stop_study.py):
 * decodes as ttc_session_complete does but ignores min_confidence, so the
 * suggestion runs to the end of its line (or block) or max_chars. Trailing blanks
 * are kept.
 * Writes it into out (NUL-terminated) and its length into *out_length, and
 * TTC_STOP_FEATURES floats per character into features, which must hold
 * options->max_chars rows. */
enum { TTC_STOP_FEATURES = 19 };
ttc_status ttc_session_stop_features(ttc_session *session,
                                     const char *prefix, size_t prefix_length,
                                     const char *suffix, size_t suffix_length,
                                     const ttc_complete_options *options,
                                     char *out, size_t out_capacity, size_t *out_length,
                                     float *features);

/* Runs tokens (0..vocab-1) from position 0 (reusing what the session holds)
 * and writes the vocab_size logits after each of the last out_rows tokens
 * into out (out_rows * vocab_size floats, 1 <= out_rows <= n_tokens). For
 * tests, evaluation and benchmarks. */
ttc_status ttc_session_logits(ttc_session *session, const int *tokens, size_t n_tokens,
                              float *out, size_t out_rows);

#ifdef __cplusplus
}
#endif

#endif
