/* Where a forward pass's time goes: each kernel call of passes of TOKENS new
 * tokens (1: a decode step; more: the verify pass of drafted decoding) at one
 * KV-cache position, timed, natively or in WebAssembly (bench/bench_kernels.py
 * builds and runs both).
 *
 *   native:  kernel_profile MODEL KERNELS POSITION REPEATS [TOKENS]   prints one
 *            JSON object, {"kernels": name, "fields": [...]}; KERNELS "" is the
 *            best of this CPU; TOKENS 1 unless given
 *   wasm:    the export kernel_profile(data, size, kernels, position, repeats, tokens)
 *            returns a pointer to PROFILE_FIELDS doubles (below); the clock is
 *            the import env.now (milliseconds)
 *
 * The fields, each in milliseconds per pass: the whole pass (with its kernels
 * unwrapped, so without the timer's own cost), then the time inside each
 * kernel (wrapped: every call timed) and the rest of the wrapped pass. Where
 * the kernels keep packed copies (the x86 sets: the weights, the keys), the
 * same again without them (the weights in the file's layout, the scores one
 * query at a time): "unpacked" in the JSON (else null). Natively, "products"
 * adds the one-token matrix products measured alone (measure_product_rates). */
#ifndef __wasm__
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#endif

#include "../internal.h"

enum { MATMUL, SCORES, VALUES, SOFTMAX, SILU, QUANTIZE, N_KERNELS };
enum { STEP, KERNEL_TIMES, REST = KERNEL_TIMES + N_KERNELS, PROFILE_FIELDS };

#ifdef __wasm__
#define EXPORT(name) __attribute__((export_name(name)))
__attribute__((import_module("env"), import_name("now"))) double now_ms(void);
void *malloc(size_t size); /* engine_c/wasm/runtime.c */
void free(void *pointer);
#else
#define EXPORT(name)
static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}
#endif

static const ttc_kernels *timed; /* the kernels the wrappers call, and the last profiled */
static double *spent; /* the timed kernels' sums, per profiled set */

#define TIMED(index, name, params, args)   \
    static void timed_##name params        \
    {                                      \
        const double start = now_ms();     \
        timed->name args;                  \
        spent[index] += now_ms() - start;  \
    }

TIMED(MATMUL, matmul_q8,
      (float *out, const int8_t *x, const float *xs, int n, const int8_t *w, const float *ws,
       int rows, int cols, int group_size),
      (out, x, xs, n, w, ws, rows, cols, group_size))
TIMED(MATMUL, matmul_packed_q8,
      (float *out, const int8_t *x, const float *xs, int n, const void *packed, int rows,
       int cols, int group_size),
      (out, x, xs, n, packed, rows, cols, group_size))
TIMED(SCORES, attention_scores_q8,
      (float *out, const int8_t *q, float q_scale, const int8_t *keys, const float *key_scales,
       int n_keys, int head_dim, int key_stride),
      (out, q, q_scale, keys, key_scales, n_keys, head_dim, key_stride))
TIMED(SCORES, attention_scores_packed_q8,
      (float *out, int out_stride, const int8_t *queries, const float *query_scales,
       int n_queries, const void *packed_keys, const float *key_scales, int n_keys, int head_dim),
      (out, out_stride, queries, query_scales, n_queries, packed_keys, key_scales, n_keys,
       head_dim))
TIMED(VALUES, attention_values_q8,
      (float *out, const float *weights, const int8_t *values, const float *value_scales,
       int n_values, int head_dim),
      (out, weights, values, value_scales, n_values, head_dim))
TIMED(SOFTMAX, softmax, (float *x, int n), (x, n))
TIMED(SILU, silu_times, (float *gate, const float *up, int n), (gate, up, n))
TIMED(QUANTIZE, quantize_q8, (int8_t *q, float *scales, const float *x, int n, int group_size),
      (q, scales, x, n, group_size))

/* Milliseconds of one pass of tokens new tokens at positions position ..
 * position + tokens - 1 (the first of them alternates between two characters
 * from one call to the next, so that each call runs them all again). */
static double pass_ms(ttc_session *session, int *ids, int position, int tokens)
{
    static float logits[TTC_VOCAB_SIZE];
    static int calls;
    ids[position] = "xy"[calls++ % 2];
    const double start = now_ms();
    ttc_session_logits(session, ids, (size_t)position + (size_t)tokens, logits, 1);
    return now_ms() - start;
}

/* A kernel set to profile, its copy with every kernel timed, and where its
 * PROFILE_FIELDS go. */
typedef struct {
    const ttc_kernels *kernels;
    ttc_kernels wrapped;
    double *fields;
    double spent[N_KERNELS];
} profiled;

static void wrap(profiled *p)
{
    p->wrapped = *p->kernels;
    p->wrapped.matmul_q8 = timed_matmul_q8;
    if (p->wrapped.matmul_packed_q8)
        p->wrapped.matmul_packed_q8 = timed_matmul_packed_q8;
    p->wrapped.attention_scores_q8 = timed_attention_scores_q8;
    if (p->wrapped.attention_scores_packed_q8)
        p->wrapped.attention_scores_packed_q8 = timed_attention_scores_packed_q8;
    p->wrapped.attention_values_q8 = timed_attention_values_q8;
    p->wrapped.softmax = timed_softmax;
    p->wrapped.silu_times = timed_silu_times;
    p->wrapped.quantize_q8 = timed_quantize_q8;
}

/* The fields of n_sets kernel sets for session's passes: the whole pass, then
 * (every kernel call timed) each kernel's time and the rest. The sets take
 * turns pass by pass, in alternating order, so that the shared machine's
 * changes of pace fall on them alike. */
static void profile(ttc_session *session, profiled *sets, int n_sets, int *ids, int position,
                    int tokens, int repeats)
{
    for (int i = 0; i < n_sets; i++) {
        wrap(&sets[i]);
        for (int f = 0; f < PROFILE_FIELDS; f++)
            sets[i].fields[f] = 0.0;
        for (int k = 0; k < N_KERNELS; k++)
            sets[i].spent[k] = 0.0;
    }
    for (int timed_run = 0; timed_run < 2; timed_run++)
        for (int r = 0; r < repeats; r++)
            for (int i = 0; i < n_sets; i++) {
                profiled *p = &sets[(r + i) % n_sets];
                timed = p->kernels;
                spent = p->spent;
                session->kernels = timed_run ? &p->wrapped : p->kernels;
                p->fields[timed_run ? REST : STEP] += pass_ms(session, ids, position, tokens);
            }
    for (int i = 0; i < n_sets; i++) {
        double *fields = sets[i].fields;
        fields[STEP] /= repeats;
        fields[REST] /= repeats;
        for (int k = 0; k < N_KERNELS; k++) {
            fields[KERNEL_TIMES + k] = sets[i].spent[k] / repeats;
            fields[REST] -= fields[KERNEL_TIMES + k];
        }
    }
}

#ifndef __wasm__
/* One-token matrix products with the session's kernels and its last pass's
 * activations: the megabytes of all the model's matrices, and the GB/s of
 * weights the products take in, [0] through every matrix a pass multiplies by
 * (from wherever they stay cached between passes), [1] through the largest
 * matrix again and again, as many bytes (from the caches nearest the core).
 * Alike, the products are bound by compute rather than by memory. The two take
 * turns, repeats times each; the mean, as the profile's fields. */
static double product_mb, product_gbps[2];

static void measure_product_rates(ttc_session *session, int repeats)
{
    const ttc_model *model = session->model;
    const int n_matrices = ttc_multiplied_count(model);
    const ttc_q8_matrix *largest = ttc_multiplied_matrix(model, 0);
    double bytes = 0.0;
    int most_rows = 0;
    for (int i = 0; i < n_matrices; i++) {
        const ttc_q8_matrix *m = ttc_multiplied_matrix(model, i);
        bytes += (double)m->rows * m->cols;
        most_rows = m->rows > most_rows ? m->rows : most_rows;
        if (m->rows * m->cols > largest->rows * largest->cols)
            largest = m;
    }
    const double largest_bytes = (double)largest->rows * largest->cols;
    const int again = (int)(bytes / largest_bytes + 0.5);
    float *out = malloc((size_t)most_rows * sizeof *out);
    double spent_ms[2] = {0.0, 0.0};
    for (int r = 0; r < repeats; r++) {
        double start = now_ms();
        for (int i = 0; i < n_matrices; i++)
            ttc_matmul(session, out, 1, ttc_multiplied_matrix(model, i));
        spent_ms[0] += now_ms() - start;
        start = now_ms();
        for (int i = 0; i < again; i++)
            ttc_matmul(session, out, 1, largest);
        spent_ms[1] += (now_ms() - start) * bytes / (again * largest_bytes);
    }
    free(out);
    product_mb = bytes / 1e6;
    for (int i = 0; i < 2; i++)
        product_gbps[i] = bytes * repeats / (spent_ms[i] * 1e6);
}
#endif

/* PROFILE_FIELDS doubles for the kernels as the engine runs them, then as many
 * without the packed copies where the kernels keep them (ttc_kernels.pack_q8,
 * pack_key), else -1s; NULL when the model or arguments are bad. */
EXPORT("kernel_profile")
double *kernel_profile(const void *data, size_t size, const char *kernels, int position,
                       int repeats, int tokens)
{
    static double fields[2 * PROFILE_FIELDS];
    static const char code[] =
        "def merge(left, right):\n    result = []\n    while left and right:\n"
        "        if left[0] <= right[0]:\n            result.append(left.pop(0))\n"
        "        else:\n            result.append(right.pop(0))\n    return result + left + right\n";
    ttc_model *model = NULL;
    ttc_session *session = NULL;
    ttc_session_options options;
    ttc_session_options_init(&options);
    options.kernels = kernels[0] == '\0' ? NULL : kernels; /* "": the best of this CPU */
    if (position < 1 || repeats < 1 || tokens < 1 ||
        ttc_model_load(data, size, &model) != TTC_OK ||
        (size_t)position + (size_t)tokens > (size_t)model->info.window ||
        ttc_session_create(model, &options, &session) != TTC_OK) {
        ttc_model_free(model);
        return NULL;
    }
    const int length = position + tokens;
    int *ids = malloc((size_t)length * sizeof *ids);
    ids[0] = TTC_TOKEN_BOS;
    for (int i = 1; i < length; i++)
        ids[i] = code[(i - 1) % (sizeof code - 1)];

    const ttc_kernels *engine_kernels = session->kernels;
    pass_ms(session, ids, position, tokens); /* the first call runs the whole prefix */
    /* Without packed copies, forward.c multiplies by the file's matrices and
     * reads the plain key cache. */
    ttc_kernels unpacked = *engine_kernels;
    unpacked.pack_q8 = NULL;
    unpacked.pack_key = NULL;
    profiled sets[2] = {{.kernels = engine_kernels, .fields = fields},
                        {.kernels = &unpacked, .fields = fields + PROFILE_FIELDS}};
    if (engine_kernels->pack_q8 || engine_kernels->pack_key) {
        profile(session, sets, 2, ids, position, tokens, repeats);
    } else {
        profile(session, sets, 1, ids, position, tokens, repeats);
        for (int i = 0; i < PROFILE_FIELDS; i++)
            fields[PROFILE_FIELDS + i] = -1.0;
    }
    /* Both pointed at copies that end with this block; main prints timed's name. */
    session->kernels = engine_kernels;
    timed = engine_kernels;
#ifndef __wasm__
    measure_product_rates(session, repeats);
#endif

    free(ids);
    ttc_session_free(session);
    ttc_model_free(model);
    return fields;
}

#ifndef __wasm__
int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: kernel_profile MODEL KERNELS POSITION REPEATS [TOKENS]\n");
        return 2;
    }
    FILE *file = fopen(argv[1], "rb");
    if (file == NULL) {
        perror(argv[1]);
        return 1;
    }
    fseek(file, 0, SEEK_END);
    const long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    void *data = malloc((size_t)size);
    const size_t read = fread(data, 1, (size_t)size, file);
    fclose(file);
    const double *fields = read == (size_t)size
                               ? kernel_profile(data, read, argv[2], atoi(argv[3]), atoi(argv[4]),
                                                argc == 6 ? atoi(argv[5]) : 1)
                               : NULL;
    free(data);
    if (fields == NULL) {
        fprintf(stderr, "kernel_profile: cannot profile %s with kernels %s\n", argv[1], argv[2]);
        return 1;
    }
    printf("{\"kernels\": \"%s\", \"fields\": [%.6f", timed->name, fields[0]);
    for (int i = 1; i < PROFILE_FIELDS; i++)
        printf(", %.6f", fields[i]);
    if (fields[PROFILE_FIELDS] < 0.0) {
        printf("], \"unpacked\": null");
    } else {
        printf("], \"unpacked\": [%.6f", fields[PROFILE_FIELDS]);
        for (int i = PROFILE_FIELDS + 1; i < 2 * PROFILE_FIELDS; i++)
            printf(", %.6f", fields[i]);
        printf("]");
    }
    printf(", \"products\": {\"mb\": %.3f, \"gbps\": [%.2f, %.2f]}}\n", product_mb,
           product_gbps[0], product_gbps[1]);
    return 0;
}
#endif
