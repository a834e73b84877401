/* libFuzzer target: the model loader, ttc_model_load, on arbitrary bytes.
 *
 * Each input is loaded twice: as it is, and with its checksum field set to
 * the input's true CRC-32. Without the second load almost every mutation
 * would stop at the checksum, and the checks behind it (dimensions, layout,
 * weights) would never see a damaged file. A model that loads is used: a
 * session, one short completion and a few log-probabilities, so that what
 * the loader accepts is safe to compute with.
 *
 * Built and run by scripts/fuzz.sh; see engine_c/fuzz/README.md. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../internal.h" /* ttc.h, and the file's checksum */

static void check(int condition)
{
    if (!condition)
        abort();
}

static void use_model(const ttc_model *model, ttc_kv_precision precision)
{
    ttc_model_info info;
    ttc_model_get_info(model, &info);
    check(info.vocab_size == 128 && info.file_size >= TTC_FILE_HEADER_SIZE);
    size_t length = 0;
    const char *metadata = ttc_model_metadata(model, &length);
    char *copy = malloc(length + 1); /* copying makes AddressSanitizer check its bounds */
    memcpy(copy, metadata, length);
    free(copy);

    ttc_session_options options;
    ttc_session_options_init(&options);
    options.kv_precision = precision;
    ttc_session *session = NULL;
    int status = ttc_session_create(model, &options, &session);
    if (status == TTC_ERR_OUT_OF_MEMORY)
        return;
    check(status == TTC_OK);

    static const char prefix[] = "def f(x):\n    return ", suffix[] = "\n\nf(1)\n";
    ttc_complete_options complete;
    ttc_complete_options_init(&complete);
    complete.max_chars = 8;
    complete.min_confidence = 0.0f;
    char out[TTC_MAX_SUGGESTION + 1];
    size_t out_length = 0;
    status = ttc_session_complete(session, prefix, sizeof prefix - 1, suffix, sizeof suffix - 1,
                                  &complete, out, sizeof out, &out_length);
    check(status == TTC_OK && out_length <= 8 && strlen(out) == out_length);

    float logprobs[8];
    size_t count = 0;
    status = ttc_session_logprobs(session, "x = 1\n", 6, 1, logprobs, 8, &count);
    check(status == TTC_OK && count == 6);
    ttc_session_free(session);
}

static void load(const uint8_t *data, size_t size)
{
    ttc_model *model = (ttc_model *)&model; /* the loader must set it to NULL on failure */
    if (ttc_model_load(data, size, &model) != TTC_OK) {
        check(model == NULL);
        return;
    }
    use_model(model, TTC_KV_INT8);
    use_model(model, TTC_KV_F32);
    ttc_model_free(model);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load(data, size);
    if (size >= TTC_FILE_HEADER_SIZE) {
        uint8_t *repaired = malloc(size);
        memcpy(repaired, data, size);
        const uint32_t crc = ttc_file_checksum(repaired, size);
        for (int i = 0; i < 4; i++)
            repaired[TTC_FILE_CHECKSUM_OFFSET + i] = (uint8_t)(crc >> (8 * i));
        load(repaired, size);
        free(repaired);
    }
    return 0;
}
