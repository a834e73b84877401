/* Shared internals of the engine: the model and session structures and the
 * helpers the source files use among themselves. Not part of the public API. */
#ifndef TTC_INTERNAL_H
#define TTC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h"
#include "ttc_math.h"
#include "ttc.h"
#include "ttc_tokens.h"

#if defined(__wasm__)
/* The WebAssembly build has no libc; web_demo's runtime file provides these. */
void *malloc(size_t size);
void free(void *pointer);
#else
#include <stdlib.h>
#endif

#define ttc_memcpy __builtin_memcpy
#define ttc_memset __builtin_memset

enum { TTC_MEMORY_BLEND_PARAMS = 5, TTC_MEMORY_MAX_PIECES = 3, TTC_MEMORY_VOCAB = 128 };

/* The model file (FORMAT.md): the size of the header's part common to every
 * format version, and where the checksum sits. */
enum { TTC_FILE_HEADER_SIZE = 128, TTC_FILE_CHECKSUM_OFFSET = 96 };

/* The CRC-32 a model file of size >= TTC_FILE_HEADER_SIZE must hold at
 * TTC_FILE_CHECKSUM_OFFSET: the whole file's, with those 4 bytes read as 0. */
uint32_t ttc_file_checksum(const uint8_t *data, size_t size);

/* An int8 matrix with one float scale per group of group_size columns. */
typedef struct {
    const int8_t *values; /* rows x cols */
    const float *scales;  /* rows x (cols / group_size) */
    int rows, cols;
    const void *packed;   /* the same rearranged by the model's weights_packed_by, or NULL */
} ttc_q8_matrix;

typedef struct {
    const float *attention_norm; /* (dim) */
    ttc_q8_matrix wq;            /* (q_dim, dim) */
    ttc_q8_matrix wk;            /* (kv_dim, dim) */
    ttc_q8_matrix wv;            /* (kv_dim, dim) */
    ttc_q8_matrix wo;            /* (dim, q_dim) */
    const float *ffn_norm;       /* (dim) */
    ttc_q8_matrix w1;            /* (hidden_dim, dim) gate */
    ttc_q8_matrix w2;            /* (dim, hidden_dim) down */
    ttc_q8_matrix w3;            /* (hidden_dim, dim) up */
} ttc_layer;

struct ttc_model {
    ttc_model_info info;
    int head_dim;         /* dim / n_heads */
    int kv_dim;           /* n_kv_heads * head_dim */
    float norm_eps;
    float memory_blend[TTC_MEMORY_BLEND_PARAMS]; /* from the file, or the defaults */
    float *rope_cos;      /* (window, head_dim / 2): each position's rotation of each pair */
    float *rope_sin;

    void *allocation;     /* owns the aligned copy of the file below */
    const uint8_t *file;
    const char *metadata;
    size_t metadata_size;

    ttc_q8_matrix token_embedding; /* (vocab_size, dim) */
    ttc_layer *layers;             /* (n_layers) */
    const float *final_norm;       /* (dim) */
    ttc_q8_matrix classifier;      /* (vocab_size, dim), the embedding when tied */

    /* The matrices' packed copies (ttc_kernels.pack_q8 of this CPU's best
     * kernels, when they have one; else NULL): sessions whose kernels share
     * that pack_q8 multiply by these. */
    void *packed_allocation;
    ttc_pack_q8_fn *weights_packed_by;
};

/* Scratch memory for one forward pass over up to max_batch tokens. */
typedef struct {
    float *x;          /* (batch, dim) residual stream */
    float *normed;     /* (batch, dim) */
    float *q;          /* (batch, q_dim) */
    float *k;          /* (batch, kv_dim) */
    float *v;          /* (batch, kv_dim) */
    float *attention;  /* (batch, q_dim) attention output */
    float *gate;       /* (batch, hidden_dim) */
    float *up;         /* (batch, hidden_dim) */
    float *scores;     /* (TTC_ATTENTION_QUERIES, window) attention scores of query heads */
    int8_t *xq;        /* (batch, max(dim, q_dim, hidden_dim)) quantised activations */
    float *xs;         /* their group scales */
    int8_t *head_q;    /* (TTC_ATTENTION_QUERIES, head_dim) quantised query heads */
} ttc_scratch;

/* Query heads (of a pass's tokens, sharing a kv head) whose attention scores
 * are taken together: ttc_kernels.attention_scores_packed_q8 reads each key
 * once for all of them. */
enum { TTC_ATTENTION_QUERIES = 8 };

/* Positions held per (layer, kv head) in the int8 value cache: the window
 * rounded up to whole groups of attention_values_q8 (kernels.h). */
static inline size_t ttc_value_cache_positions(int window)
{
    const size_t group = TTC_VALUES_KEY_GROUP;
    return ((size_t)window + group - 1) / group * group;
}

/* The key/value cache of every layer: int8 with one scale per (position,
 * kv head), or fp32 for the reference path. */
typedef struct {
    ttc_kv_precision precision;
    int8_t *keys_q8;   /* (layers, n_kv_heads, window, head_dim) */
    int8_t *values_q8; /* (layers, n_kv_heads, ttc_value_cache_positions, head_dim), with
                        * positions in groups of 4 interleaved byte by byte (kernels.h) */
    float *key_scales, *value_scales; /* (layers, n_kv_heads, window) */
    float *keys_f32, *values_f32;    /* (layers, window, kv_dim) */
    /* The int8 keys again, packed by the session's kernels' pack_key when they
     * have one (else NULL): (layers, n_kv_heads) copies of packed_key_bytes. */
    void *keys_packed;
    size_t packed_key_bytes;
    ttc_pack_key_fn *keys_packed_by;
} ttc_kv_cache;

/* memory.c: the document memory, a cache model over the document's own text. */

typedef struct {
    const char *text;
    size_t length;
} ttc_memory_piece;

typedef struct {
    uint8_t *raw;          /* the bytes of the last sync, pieces joined by a 0 byte */
    uint8_t *text;         /* the tokens: those of raw, then any appended after it */
    int32_t *previous;     /* per token: the previous position whose 3-gram hashes alike */
    int32_t *heads;        /* per hash: the newest position, or -1 */
    int32_t length;        /* tokens held */
    int32_t text_tokens;   /* how many of them come from raw */
    int32_t raw_length;
    int32_t capacity;      /* of raw, text and previous */
    int32_t limit;         /* the most tokens (and bytes) the memory may hold */
    int32_t spare;         /* room kept after a sync for appending without allocating */
    size_t piece_lengths[TTC_MEMORY_MAX_PIECES];
    int n_pieces;
} ttc_memory;

typedef struct {
    int match_length; /* longest earlier match of the text's end, 0 when none */
    int votes;        /* earlier occurrences with that match length */
    int counts[TTC_MEMORY_VOCAB]; /* which token followed them */
    int32_t continuation; /* where the newest of them went on (what followed it), -1 when none */
} ttc_memory_prediction;

extern const float ttc_memory_default_blend[TTC_MEMORY_BLEND_PARAMS];

int ttc_memory_init(ttc_memory *memory, int32_t limit, int32_t spare);
void ttc_memory_free(ttc_memory *memory);
size_t ttc_memory_bytes(const ttc_memory *memory);
/* Makes the memory hold the pieces joined by separators, re-reading only from
 * the first byte that differs from the last sync; drops appended tokens. */
int ttc_memory_sync(ttc_memory *memory, const ttc_memory_piece *pieces, int n_pieces);
int ttc_memory_append(ttc_memory *memory, int token);
void ttc_memory_truncate(ttc_memory *memory, int32_t length);
void ttc_memory_clear(ttc_memory *memory);
/* What followed the longest earlier matches of the memory's end. The last
 * `suggested` tokens are the engine's own suggestion: the match length counts
 * only the part of the match before them (at least 1). */
void ttc_memory_predict(const ttc_memory *memory, int suggested, ttc_memory_prediction *out);
/* Copies up to max tokens of the memory from position `from` into out, up to the end of
 * its piece; returns how many. */
int ttc_memory_continuation(const ttc_memory *memory, int32_t from, int *out, int max);
/* The share of the blend that goes to the memory, 0 when it has no vote. */
float ttc_memory_weight(const ttc_memory_prediction *prediction, float model_top,
                        const float *params);
/* probabilities = (1 - w) probabilities + w memory, w from ttc_memory_weight. */
void ttc_memory_blend(const ttc_memory_prediction *prediction, const float *params,
                      float *probabilities, int vocab);

/* stop_features.c: what decoding knows of the suggestion so far. */
typedef struct {
    float log_confidence;  /* ln of the product of the suggested characters' probabilities */
    int position;          /* characters suggested so far */
    int previous;          /* the character before the next one */
    int column;            /* of the next character in its line */
    int indent;            /* leading blanks of that line so far */
    int in_indent;         /* the line holds only blanks so far */
} ttc_stop_context;

void ttc_stop_context_init(ttc_stop_context *context, const char *prefix, size_t prefix_length);
/* Moves past token, suggested with the given probability. */
void ttc_stop_context_advance(ttc_stop_context *context, int token, float probability);
/* The TTC_STOP_FEATURES features (ttc.h) of suggesting token next, given the
 * distribution it was picked from and the memory's prediction (NULL when off). */
void ttc_stop_features(const ttc_stop_context *context, const float *probabilities, int vocab,
                       int token, const ttc_memory_prediction *memory, float *out);

/* Idle work guesses the requests after the likeliest next character, in the
 * session's own state (TTC_IN_PLACE), and after this many next likeliest, in
 * spare states. */
enum {
    TTC_NEXT_GUESSES = 3,
    TTC_IN_PLACE = -1,
    TTC_SPARE_AHEAD = 0,
    TTC_SPARE_STATES = 1 + TTC_NEXT_GUESSES
};

/* A cache and what made it. */
typedef struct {
    ttc_kv_cache cache;
    int *tokens;       /* (window) the tokens whose state the cache holds */
    int n_tokens;      /* how many of them are valid */
    float *logits;     /* (window, vocab) the logits after each cached token */
} ttc_state;

struct ttc_session {
    const ttc_model *model;
    const ttc_kernels *kernels;
    int max_batch;
    int draft_tokens;  /* tokens a decoding pass may check at once (ttc_session_options) */
    ttc_state state;   /* what the forward pass extends and decoding reads */
    /* Idle work's states (ttc_session_prepare), each allocated by the first
     * call that runs anything in it (tokens NULL until then): at
     * TTC_SPARE_AHEAD the prompt the document will need once the window's
     * start moves, after it the requests that follow the next characters
     * likeliest after the first (guess_next in session.c), one each.
     * Whichever of these and state holds most of a request's tokens serves
     * it. */
    ttc_state spares[TTC_SPARE_STATES];
    char *typed;          /* the document's prefix and one guessed character */
    size_t typed_capacity;
    ttc_scratch scratch;
    uint64_t forwarded_tokens;
    size_t memory_bytes; /* allocated for this session */

    int *prompt;       /* (window) the prompt being built for a request */
    float *probabilities; /* (vocab) the next-token distribution being decoded */
    ttc_memory memory;    /* the document memory (memory.c) */
};

/* forward.c: runs tokens[0..n) at positions start..start+n-1 in session->state
 * (its cache must hold positions 0..start-1) and writes their logits there. */
void ttc_forward(ttc_session *session, const int *tokens, int n, int start);

/* model.c: the matrices forward.c multiplies by, index 0 .. count - 1: layer by
 * layer (wq, wk, wv, wo, w1, w2, w3), then the classifier. */
int ttc_multiplied_count(const ttc_model *model);
const ttc_q8_matrix *ttc_multiplied_matrix(const ttc_model *model, int index);

/* forward.c: out (n x m.rows) = the session's quantised activations
 * (scratch.xq and .xs, n x m.cols) times m transposed; from the packed copy
 * where the session's kernels packed it (the same result). */
void ttc_matmul(ttc_session *session, float *out, int n, const ttc_q8_matrix *m);

/* math.c: deterministic functions, identical on every platform and build. */
double ttc_exp(double x);
double ttc_log(double x);      /* x > 0 */
void ttc_sincos(double x, double *sin_out, double *cos_out);

/* text.c: UTF-8 text to tokens, at most capacity of them (never more than
 * length are needed). Returns how many were written. */
size_t ttc_text_to_tokens(const char *text, size_t length, int *tokens, size_t capacity);
int ttc_token_of_byte(unsigned char byte);
int ttc_is_continuation(unsigned char byte);

#endif
