/* Loading a model file: validation of every header field, the layout and the
 * checksum before any weight is used (engine_c/FORMAT.md), then pointers into
 * an aligned private copy of the file. */
#include "internal.h"

enum {
    HEADER_SIZE = TTC_FILE_HEADER_SIZE,
    FORMAT_VERSION = 1,
    ALIGNMENT = 64,
    CHECKSUM_OFFSET = TTC_FILE_CHECKSUM_OFFSET,
    FLAG_TIED_CLASSIFIER = 1,
    FLAG_MEMORY_BLEND = 2,
    MEMORY_BLEND_OFFSET = 100,
};

static const char *const status_messages[TTC_STATUS_COUNT] = {
    [TTC_OK] = "ok",
    [TTC_ERR_INVALID_ARGUMENT] = "invalid argument",
    [TTC_ERR_OUT_OF_MEMORY] = "out of memory",
    [TTC_ERR_TRUNCATED] = "model file is truncated",
    [TTC_ERR_BAD_MAGIC] = "not a ttc model file (bad magic)",
    [TTC_ERR_BAD_VERSION] = "unsupported model file version",
    [TTC_ERR_BAD_HEADER] = "model header has invalid dimensions",
    [TTC_ERR_BAD_LAYOUT] = "model file sizes or offsets do not match its dimensions",
    [TTC_ERR_BAD_CHECKSUM] = "model file checksum mismatch (file is damaged)",
    [TTC_ERR_BAD_WEIGHTS] = "model weights are invalid (non-finite scale or int8 value -128)",
    [TTC_ERR_BUFFER_TOO_SMALL] = "output buffer too small",
    [TTC_ERR_UNSUPPORTED] = "not supported by this build or CPU",
};

const char *ttc_strerror(ttc_status status)
{
    if ((unsigned)status >= (unsigned)TTC_STATUS_COUNT) /* any int may arrive here */
        return "unknown status";
    return status_messages[status];
}

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

const char *ttc_version(void)
{
    return STRINGIFY(TTC_VERSION_MAJOR) "." STRINGIFY(TTC_VERSION_MINOR) "." STRINGIFY(
        TTC_VERSION_PATCH);
}

static uint32_t read_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t read_u64(const uint8_t *p)
{
    return (uint64_t)read_u32(p) | (uint64_t)read_u32(p + 4) << 32;
}

static float read_f32(const uint8_t *p)
{
    uint32_t bits = read_u32(p);
    float value;
    ttc_memcpy(&value, &bits, sizeof value);
    return value;
}

static int is_finite(float x)
{
    return x - x == 0.0f;
}

/* CRC-32 with zlib's (reflected 0xEDB88320) polynomial, table built on the stack. */
static uint32_t crc32_update(uint32_t crc, const uint32_t *table, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return crc;
}

uint32_t ttc_file_checksum(const uint8_t *data, size_t size)
{
    uint32_t table[256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int bit = 0; bit < 8; bit++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    static const uint8_t zeros[4] = {0, 0, 0, 0};
    uint32_t crc = 0xFFFFFFFFu;
    crc = crc32_update(crc, table, data, CHECKSUM_OFFSET);
    crc = crc32_update(crc, table, zeros, 4);
    crc = crc32_update(crc, table, data + CHECKSUM_OFFSET + 4, size - CHECKSUM_OFFSET - 4);
    return crc ^ 0xFFFFFFFFu;
}

static uint64_t align_up(uint64_t n)
{
    return (n + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
}

typedef struct {
    uint32_t flags, dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, window, group_size;
    float rope_theta, norm_eps;
    uint64_t metadata_offset, metadata_size, weights_offset, weights_size, file_size;
    uint32_t checksum;
    float memory_blend[TTC_MEMORY_BLEND_PARAMS];
} file_header;

static void parse_header(const uint8_t *p, file_header *h)
{
    h->flags = read_u32(p + 12);
    for (int i = 0; i < TTC_MEMORY_BLEND_PARAMS; i++)
        h->memory_blend[i] = read_f32(p + MEMORY_BLEND_OFFSET + 4 * i);
    h->dim = read_u32(p + 16);
    h->hidden_dim = read_u32(p + 20);
    h->n_layers = read_u32(p + 24);
    h->n_heads = read_u32(p + 28);
    h->n_kv_heads = read_u32(p + 32);
    h->vocab_size = read_u32(p + 36);
    h->window = read_u32(p + 40);
    h->group_size = read_u32(p + 44);
    h->rope_theta = read_f32(p + 48);
    h->norm_eps = read_f32(p + 52);
    h->metadata_offset = read_u64(p + 56);
    h->metadata_size = read_u64(p + 64);
    h->weights_offset = read_u64(p + 72);
    h->weights_size = read_u64(p + 80);
    h->file_size = read_u64(p + 88);
    h->checksum = read_u32(p + 96);
}

static int in_range(uint32_t v, uint32_t lo, uint32_t hi)
{
    return v >= lo && v <= hi;
}

static int check_dimensions(const file_header *h)
{
    if (!in_range(h->dim, 1, 4096) || !in_range(h->hidden_dim, 1, 16384) ||
        !in_range(h->n_layers, 1, 64) || !in_range(h->n_heads, 1, 64) ||
        !in_range(h->n_kv_heads, 1, 64) || !in_range(h->window, 16, 65536) ||
        !in_range(h->group_size, 32, 256) || h->vocab_size != TTC_VOCAB_SIZE)
        return TTC_ERR_BAD_HEADER;
    if (h->group_size % 32 || h->dim % h->group_size || h->hidden_dim % h->group_size)
        return TTC_ERR_BAD_HEADER;
    if (h->dim % h->n_heads || (h->dim / h->n_heads) % 2 || h->n_heads % h->n_kv_heads)
        return TTC_ERR_BAD_HEADER;
    if ((h->flags & ~(uint32_t)(FLAG_TIED_CLASSIFIER | FLAG_MEMORY_BLEND)) != 0)
        return TTC_ERR_BAD_HEADER;
    for (int i = 0; (h->flags & FLAG_MEMORY_BLEND) && i < TTC_MEMORY_BLEND_PARAMS; i++)
        if (!is_finite(h->memory_blend[i]) || h->memory_blend[i] < -100.0f ||
            h->memory_blend[i] > 100.0f)
            return TTC_ERR_BAD_HEADER;
    if (!is_finite(h->rope_theta) || h->rope_theta <= 1.0f ||
        !is_finite(h->norm_eps) || h->norm_eps <= 0.0f || h->norm_eps >= 1.0f)
        return TTC_ERR_BAD_HEADER;
    return TTC_OK;
}

/* Walks the tensors in file order. With a model it also fills in the
 * pointers; without one it only measures. Returns the bytes the tensors take. */
typedef struct {
    const file_header *header;
    const uint8_t *base; /* NULL when only measuring */
    uint64_t offset;
} tensor_cursor;

static const float *take_vector(tensor_cursor *c, uint32_t n)
{
    const float *p = c->base ? (const float *)(const void *)(c->base + c->offset) : NULL;
    c->offset += align_up((uint64_t)n * sizeof(float));
    return p;
}

static ttc_q8_matrix take_matrix(tensor_cursor *c, uint32_t rows, uint32_t cols)
{
    ttc_q8_matrix m = {.rows = (int)rows, .cols = (int)cols};
    uint64_t n = (uint64_t)rows * cols;
    if (c->base)
        m.values = (const int8_t *)(c->base + c->offset);
    c->offset += align_up(n);
    if (c->base)
        m.scales = (const float *)(const void *)(c->base + c->offset);
    c->offset += align_up(n / c->header->group_size * sizeof(float));
    return m;
}

static void take_layer(tensor_cursor *c, ttc_layer *layer)
{
    const file_header *h = c->header;
    uint32_t head_dim = h->dim / h->n_heads;
    uint32_t kv_dim = h->n_kv_heads * head_dim;
    layer->attention_norm = take_vector(c, h->dim);
    layer->wq = take_matrix(c, h->dim, h->dim);
    layer->wk = take_matrix(c, kv_dim, h->dim);
    layer->wv = take_matrix(c, kv_dim, h->dim);
    layer->wo = take_matrix(c, h->dim, h->dim);
    layer->ffn_norm = take_vector(c, h->dim);
    layer->w1 = take_matrix(c, h->hidden_dim, h->dim);
    layer->w2 = take_matrix(c, h->dim, h->hidden_dim);
    layer->w3 = take_matrix(c, h->hidden_dim, h->dim);
}

/* Walks every tensor; model may be NULL to only measure the layout. */
static uint64_t walk_tensors(const file_header *h, const uint8_t *base, ttc_model *model)
{
    tensor_cursor c = {.header = h, .base = base, .offset = h->weights_offset};
    ttc_layer scratch_layer;
    ttc_q8_matrix embedding = take_matrix(&c, h->vocab_size, h->dim);
    for (uint32_t l = 0; l < h->n_layers; l++)
        take_layer(&c, model ? &model->layers[l] : &scratch_layer);
    const float *final_norm = take_vector(&c, h->dim);
    ttc_q8_matrix classifier = embedding;
    if (!(h->flags & FLAG_TIED_CLASSIFIER))
        classifier = take_matrix(&c, h->vocab_size, h->dim);
    if (model) {
        model->token_embedding = embedding;
        model->final_norm = final_norm;
        model->classifier = classifier;
    }
    return c.offset - h->weights_offset;
}

static int check_layout(const file_header *h, size_t size)
{
    if (h->file_size != size)
        return size < h->file_size ? TTC_ERR_TRUNCATED : TTC_ERR_BAD_LAYOUT;
    if (h->metadata_offset != HEADER_SIZE || h->metadata_size > size ||
        h->weights_offset % ALIGNMENT ||
        h->weights_offset < align_up(HEADER_SIZE + h->metadata_size) ||
        h->weights_offset > size || h->weights_size != size - h->weights_offset)
        return TTC_ERR_BAD_LAYOUT;
    if (walk_tensors(h, NULL, NULL) != h->weights_size)
        return TTC_ERR_BAD_LAYOUT;
    return TTC_OK;
}

static int check_matrix(const ttc_q8_matrix *m, int group_size)
{
    size_t n = (size_t)m->rows * m->cols;
    for (size_t i = 0; i < n; i++)
        if (m->values[i] == -128)
            return TTC_ERR_BAD_WEIGHTS;
    for (size_t i = 0; i < n / group_size; i++)
        if (!is_finite(m->scales[i]) || m->scales[i] < 0.0f)
            return TTC_ERR_BAD_WEIGHTS;
    return TTC_OK;
}

static int check_vector(const float *v, int n)
{
    for (int i = 0; i < n; i++)
        if (!is_finite(v[i]))
            return TTC_ERR_BAD_WEIGHTS;
    return TTC_OK;
}

static int check_weights(const ttc_model *m)
{
    int gs = m->info.group_size, dim = m->info.dim, status = TTC_OK;
    status |= check_matrix(&m->token_embedding, gs);
    status |= check_matrix(&m->classifier, gs);
    status |= check_vector(m->final_norm, dim);
    for (int l = 0; l < m->info.n_layers; l++) {
        const ttc_layer *layer = &m->layers[l];
        const ttc_q8_matrix *matrices[] = {&layer->wq, &layer->wk, &layer->wv, &layer->wo,
                                           &layer->w1, &layer->w2, &layer->w3};
        for (size_t i = 0; i < sizeof matrices / sizeof *matrices; i++)
            status |= check_matrix(matrices[i], gs);
        status |= check_vector(layer->attention_norm, dim);
        status |= check_vector(layer->ffn_norm, dim);
    }
    return status ? TTC_ERR_BAD_WEIGHTS : TTC_OK;
}

static size_t count_parameters(const file_header *h)
{
    size_t head_dim = h->dim / h->n_heads, kv_dim = h->n_kv_heads * head_dim;
    size_t per_layer = 2 * (size_t)h->dim + 2 * (size_t)h->dim * h->dim +
                       2 * kv_dim * h->dim + 3 * (size_t)h->dim * h->hidden_dim;
    size_t embedding = (size_t)h->vocab_size * h->dim;
    size_t classifier = (h->flags & FLAG_TIED_CLASSIFIER) ? 0 : embedding;
    return embedding + classifier + h->n_layers * per_layer + h->dim;
}

/* The cosine and sine of every (position, rotated pair) of the window, made
 * once at load: a pass only reads them. */
static int build_rope_tables(ttc_model *m, float theta)
{
    const int pairs = m->head_dim / 2, window = m->info.window;
    m->rope_cos = malloc(sizeof(float) * (size_t)window * (size_t)pairs);
    m->rope_sin = malloc(sizeof(float) * (size_t)window * (size_t)pairs);
    if (!m->rope_cos || !m->rope_sin)
        return TTC_ERR_OUT_OF_MEMORY;
    const double log_theta = ttc_log((double)theta);
    for (int i = 0; i < pairs; i++) {
        const double frequency = ttc_exp(-log_theta * (2.0 * i) / m->head_dim);
        for (int position = 0; position < window; position++) {
            double sin_angle, cos_angle;
            ttc_sincos((double)position * frequency, &sin_angle, &cos_angle);
            m->rope_cos[(size_t)position * pairs + i] = (float)cos_angle;
            m->rope_sin[(size_t)position * pairs + i] = (float)sin_angle;
        }
    }
    return TTC_OK;
}

static void fill_info(ttc_model *m, const file_header *h, size_t size)
{
    m->info = (ttc_model_info){
        .dim = (int)h->dim, .hidden_dim = (int)h->hidden_dim, .n_layers = (int)h->n_layers,
        .n_heads = (int)h->n_heads, .n_kv_heads = (int)h->n_kv_heads,
        .vocab_size = (int)h->vocab_size, .window = (int)h->window,
        .group_size = (int)h->group_size,
        .tied_classifier = (h->flags & FLAG_TIED_CLASSIFIER) != 0,
        .parameters = count_parameters(h), .file_size = size,
    };
    m->head_dim = (int)(h->dim / h->n_heads);
    m->kv_dim = (int)h->n_kv_heads * m->head_dim;
    m->norm_eps = h->norm_eps;
    const float *blend = (h->flags & FLAG_MEMORY_BLEND) ? h->memory_blend
                                                        : ttc_memory_default_blend;
    ttc_memcpy(m->memory_blend, blend, sizeof m->memory_blend);
}

static int validate(const uint8_t *bytes, size_t size, file_header *h)
{
    if (size >= 4 && (bytes[0] != 'T' || bytes[1] != 'T' || bytes[2] != 'C' || bytes[3] != 'M'))
        return TTC_ERR_BAD_MAGIC;
    if (size < HEADER_SIZE)
        return TTC_ERR_TRUNCATED;
    if (read_u32(bytes + 4) != FORMAT_VERSION)
        return TTC_ERR_BAD_VERSION;
    if (read_u32(bytes + 8) != HEADER_SIZE)
        return TTC_ERR_BAD_HEADER;
    parse_header(bytes, h);
    int status = check_dimensions(h);
    if (status == TTC_OK)
        status = check_layout(h, size);
    if (status == TTC_OK && ttc_file_checksum(bytes, size) != h->checksum)
        status = TTC_ERR_BAD_CHECKSUM;
    return status;
}

enum { LAYER_MATRICES = 7 };

int ttc_multiplied_count(const ttc_model *m)
{
    return m->info.n_layers * LAYER_MATRICES + 1;
}

const ttc_q8_matrix *ttc_multiplied_matrix(const ttc_model *m, int index)
{
    if (index == m->info.n_layers * LAYER_MATRICES)
        return &m->classifier;
    const ttc_layer *layer = &m->layers[index / LAYER_MATRICES];
    const ttc_q8_matrix *each[LAYER_MATRICES] = {&layer->wq, &layer->wk, &layer->wv, &layer->wo,
                                                 &layer->w1, &layer->w2, &layer->w3};
    return each[index % LAYER_MATRICES];
}

/* Copies the weights in the layout of this CPU's best kernels, when they have
 * one of their own; without the memory for it, the file's layout serves. */
static void pack_weights(ttc_model *m)
{
    const ttc_kernels *k = ttc_kernels_best();
    if (!k->pack_q8)
        return;
    const int group_size = m->info.group_size;
    size_t total = 0;
    for (int i = 0; i < ttc_multiplied_count(m); i++) {
        const ttc_q8_matrix *matrix = ttc_multiplied_matrix(m, i);
        total += k->packed_q8_size(matrix->rows, matrix->cols, group_size);
    }
    m->packed_allocation = malloc(total);
    if (!m->packed_allocation)
        return;
    uint8_t *at = m->packed_allocation;
    for (int i = 0; i < ttc_multiplied_count(m); i++) {
        /* m is the model being loaded, not yet shared: its matrices may change */
        ttc_q8_matrix *matrix = (ttc_q8_matrix *)ttc_multiplied_matrix(m, i);
        k->pack_q8(at, matrix->values, matrix->scales, matrix->rows, matrix->cols, group_size);
        matrix->packed = at;
        at += k->packed_q8_size(matrix->rows, matrix->cols, group_size);
    }
    m->weights_packed_by = k->pack_q8;
}

ttc_status ttc_model_load(const void *data, size_t size, ttc_model **out)
{
    if (!out)
        return TTC_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (!data && size)
        return TTC_ERR_INVALID_ARGUMENT;
    file_header h;
    int status = validate(data, size, &h);
    if (status != TTC_OK)
        return status;

    ttc_model *m = malloc(sizeof *m);
    if (!m)
        return TTC_ERR_OUT_OF_MEMORY;
    ttc_memset(m, 0, sizeof *m);
    m->allocation = malloc(size + ALIGNMENT);
    m->layers = malloc(sizeof(ttc_layer) * h.n_layers);
    if (!m->allocation || !m->layers) {
        ttc_model_free(m);
        return TTC_ERR_OUT_OF_MEMORY;
    }
    uint8_t *file = (uint8_t *)align_up((uintptr_t)m->allocation);
    ttc_memcpy(file, data, size);
    m->file = file;
    m->metadata = (const char *)file + h.metadata_offset;
    m->metadata_size = (size_t)h.metadata_size;
    fill_info(m, &h, size);
    walk_tensors(&h, file, m);

    status = check_weights(m);
    if (status == TTC_OK)
        status = build_rope_tables(m, h.rope_theta);
    if (status != TTC_OK) {
        ttc_model_free(m);
        return status;
    }
    pack_weights(m);
    *out = m;
    return TTC_OK;
}

void ttc_model_free(ttc_model *model)
{
    if (!model)
        return;
    free(model->rope_cos);
    free(model->rope_sin);
    free(model->packed_allocation);
    free(model->layers);
    free(model->allocation);
    free(model);
}

void ttc_model_get_info(const ttc_model *model, ttc_model_info *info)
{
    if (model && info)
        *info = model->info;
}

const char *ttc_model_metadata(const ttc_model *model, size_t *length)
{
    if (length)
        *length = model ? model->metadata_size : 0;
    return model ? model->metadata : NULL;
}
