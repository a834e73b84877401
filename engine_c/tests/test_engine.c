/* The engine's C API on its own, meant to run under AddressSanitizer and
 * UndefinedBehaviorSanitizer: damaged model files, hostile text, misuse of
 * the API, and reuse of a session against fresh ones.
 *
 * usage: test_engine MODEL.ttc   (a small valid model, e.g. the "tiny" preset) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ttc.h"

static int passed, failed;

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (cond) {                                                           \
            passed++;                                                         \
        } else {                                                              \
            failed++;                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                     \
    } while (0)

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t next_random(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static unsigned char *read_file(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return NULL;
    fseek(file, 0, SEEK_END);
    long length = ftell(file);
    fseek(file, 0, SEEK_SET);
    unsigned char *data = malloc((size_t)length);
    if (data && fread(data, 1, (size_t)length, file) != (size_t)length) {
        free(data);
        data = NULL;
    }
    fclose(file);
    *size = (size_t)length;
    return data;
}

/* Loads a copy of data in a buffer of exactly size bytes, so that any read
 * past its end is caught by the sanitizer. */
static int load_exact(const unsigned char *data, size_t size)
{
    unsigned char *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    ttc_model *model = NULL;
    int status = ttc_model_load(copy, size, &model);
    free(copy);
    if (status == TTC_OK)
        ttc_model_free(model);
    else
        CHECK(model == NULL);
    return status;
}

static void test_damaged_files(const unsigned char *good, size_t size)
{
    CHECK(load_exact(good, size) == TTC_OK);
    for (size_t n = 0; n < size; n += n < 512 ? 1 : 997)
        CHECK(load_exact(good, n) != TTC_OK);

    unsigned char *damaged = malloc(size);
    for (int i = 0; i < 2000; i++) {
        memcpy(damaged, good, size);
        size_t at = i < 1024 ? (size_t)i / 8 : next_random() % size;
        damaged[at] ^= (unsigned char)(1u << (next_random() % 8));
        CHECK(load_exact(damaged, size) != TTC_OK);
    }
    free(damaged);

    unsigned char *longer = calloc(size + 64, 1);
    memcpy(longer, good, size);
    CHECK(load_exact(longer, size + 64) != TTC_OK);
    free(longer);

    ttc_model *model = (ttc_model *)1;
    CHECK(ttc_model_load(NULL, 10, &model) == TTC_ERR_INVALID_ARGUMENT);
    CHECK(ttc_model_load(good, size, NULL) == TTC_ERR_INVALID_ARGUMENT);
    for (int s = -1; s <= TTC_STATUS_COUNT; s++)
        CHECK(ttc_strerror(s) != NULL && ttc_strerror(s)[0] != '\0');
}

/* Random text with ASCII, control codes, CR LF, valid and broken UTF-8. */
static size_t random_text(char *out, size_t capacity)
{
    static const char *const pieces[] = {
        "def ", "return ", "(", ")", "{", "}", "\n", "\r\n", "\r", "\t", "    ", "x", "_1",
        "\xc3\xa9", "\xf0\x9f\x98\x80", "\x80", "\xff", "\x00", "\x07", "'", "\"", "#",
    };
    size_t length = 0, target = next_random() % capacity;
    while (length < target) {
        const char *piece = pieces[next_random() % (sizeof pieces / sizeof *pieces)];
        size_t n = piece[0] ? strlen(piece) : 1;
        if (length + n > capacity)
            break;
        memcpy(out + length, piece, n);
        length += n;
    }
    return length;
}

static void test_sessions(const ttc_model *model)
{
    enum { DOC = 3000 };
    static char document[DOC];
    char reused_out[TTC_MAX_SUGGESTION + 1], fresh_out[TTC_MAX_SUGGESTION + 1];
    ttc_session *reused = NULL;
    CHECK(ttc_session_create(model, NULL, &reused) == TTC_OK);

    for (int round = 0; round < 60; round++) {
        size_t length = random_text(document, DOC);
        size_t cursor = length ? next_random() % (length + 1) : 0;
        ttc_complete_options options;
        ttc_complete_options_init(&options);
        options.multiline = (int)(next_random() % 2);
        options.max_chars = 1 + (int)(next_random() % 40);
        options.min_confidence = 0.0f;
        options.document_memory = (int)(next_random() % 4 != 0);
        if (next_random() % 2) { /* other text for the memory: a slice of the document */
            options.memory_text = document + length / 2;
            options.memory_text_length = length - length / 2;
        }

        size_t reused_length = 0, fresh_length = 0;
        CHECK(ttc_session_complete(reused, document, cursor, document + cursor, length - cursor,
                                   &options, reused_out, sizeof reused_out,
                                   &reused_length) == TTC_OK);
        ttc_session *fresh = NULL;
        CHECK(ttc_session_create(model, NULL, &fresh) == TTC_OK);
        CHECK(ttc_session_complete(fresh, document, cursor, document + cursor, length - cursor,
                                   &options, fresh_out, sizeof fresh_out,
                                   &fresh_length) == TTC_OK);
        ttc_session_free(fresh);
        CHECK(reused_length == fresh_length && memcmp(reused_out, fresh_out, fresh_length) == 0);
        CHECK(strlen(reused_out) == reused_length);
        size_t run = 0, limit = 1 + next_random() % 200; /* idle time: changes no result */
        CHECK(ttc_session_prepare(reused, document, cursor, document + cursor, length - cursor,
                                  &options, limit, &run) == TTC_OK);
        CHECK(run <= limit);

        float logprobs[DOC];
        size_t count = 0;
        CHECK(ttc_session_logprobs(reused, document, length, round % 2, logprobs, DOC,
                                   &count) == TTC_OK);
        for (size_t i = 0; i < count; i++)
            CHECK(logprobs[i] <= 0.0f && logprobs[i] > -1000.0f);
        static float features[DOC * TTC_MEMORY_FEATURES];
        CHECK(ttc_session_memory_features(reused, document, length, features, DOC,
                                          &count) == TTC_OK);
        for (size_t i = 0; i < count; i++) {
            const float *f = features + i * TTC_MEMORY_FEATURES;
            CHECK(f[0] > 0.0f && f[0] <= 1.0f && f[1] >= 0.0f && f[1] <= 1.0f);
            CHECK((f[3] == 0.0f) == (f[2] == 0.0f) && f[2] <= 32.0f);
        }
    }

    size_t out_length;
    ttc_complete_options bad;
    ttc_complete_options_init(&bad);
    CHECK(ttc_session_complete(reused, "x", 1, "", 0, NULL, reused_out, 2,
                               &out_length) == TTC_ERR_BUFFER_TOO_SMALL);
    bad.max_chars = 0;
    CHECK(ttc_session_complete(reused, "x", 1, "", 0, &bad, reused_out, sizeof reused_out,
                               &out_length) == TTC_ERR_INVALID_ARGUMENT);
    CHECK(ttc_session_complete(reused, NULL, 5, "", 0, NULL, reused_out, sizeof reused_out,
                               &out_length) == TTC_ERR_INVALID_ARGUMENT);
    CHECK(ttc_session_complete(reused, NULL, 0, NULL, 0, NULL, reused_out, sizeof reused_out,
                               &out_length) == TTC_OK);
    bad.max_chars = 8;
    bad.memory_text_length = 3; /* with no memory_text */
    CHECK(ttc_session_complete(reused, "x", 1, "", 0, &bad, reused_out, sizeof reused_out,
                               &out_length) == TTC_ERR_INVALID_ARGUMENT);
    size_t run = 1;
    CHECK(ttc_session_prepare(reused, "x", 1, "", 0, NULL, 0, &run) == TTC_ERR_INVALID_ARGUMENT);
    CHECK(ttc_session_prepare(reused, "x", 1, "", 0, NULL, 8, NULL) == TTC_ERR_INVALID_ARGUMENT);
    CHECK(ttc_session_prepare(reused, NULL, 5, "", 0, NULL, 8, &run) ==
          TTC_ERR_INVALID_ARGUMENT);
    CHECK(ttc_session_prepare(NULL, "x", 1, "", 0, NULL, 8, &run) == TTC_ERR_INVALID_ARGUMENT);
    CHECK(ttc_session_prepare(reused, "x", 1, "", 0, &bad, 8, &run) == TTC_ERR_INVALID_ARGUMENT);
    CHECK(ttc_session_prepare(reused, "x", 1, NULL, 0, NULL, 8, &run) == TTC_OK);

    int bad_tokens[] = {2, 200};
    float logits[2 * 128];
    CHECK(ttc_session_logits(reused, bad_tokens, 2, logits, 2) == TTC_ERR_INVALID_ARGUMENT);
    bad_tokens[1] = 'a';
    CHECK(ttc_session_logits(reused, bad_tokens, 2, logits, 3) == TTC_ERR_INVALID_ARGUMENT);
    CHECK(ttc_session_logits(reused, bad_tokens, 2, logits, 0) == TTC_ERR_INVALID_ARGUMENT);
    CHECK(ttc_session_logits(reused, bad_tokens, 2, logits, 2) == TTC_OK);
    float last[128];
    CHECK(ttc_session_logits(reused, bad_tokens, 2, last, 1) == TTC_OK);
    CHECK(memcmp(last, logits + 128, sizeof last) == 0);
    float small[1];
    size_t count;
    CHECK(ttc_session_logprobs(reused, "abc", 3, 1, small, 1, &count) ==
          TTC_ERR_BUFFER_TOO_SMALL);
    CHECK(ttc_session_memory_features(reused, "abc", 3, small, 0, &count) ==
          TTC_ERR_BUFFER_TOO_SMALL);

    ttc_session_options options;
    ttc_session_options_init(&options);
    options.kernels = "no-such-kernels";
    ttc_session *none = (ttc_session *)1;
    CHECK(ttc_session_create(model, &options, &none) == TTC_ERR_UNSUPPORTED && none == NULL);
    options.kernels = NULL;
    options.max_batch = 0;
    CHECK(ttc_session_create(model, &options, &none) == TTC_ERR_INVALID_ARGUMENT);
    ttc_session_free(reused);
    ttc_session_free(NULL);
    ttc_model_free(NULL);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.ttc\n", argv[0]);
        return 2;
    }
    size_t size = 0;
    unsigned char *data = read_file(argv[1], &size);
    if (!data) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    test_damaged_files(data, size);
    ttc_model *model = NULL;
    CHECK(ttc_model_load(data, size, &model) == TTC_OK);
    free(data);
    if (model)
        test_sessions(model);
    ttc_model_free(model);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
