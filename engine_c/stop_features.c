/* What decoding knows at each character of a suggestion, beyond the product of
 * probabilities that the stop rule uses: the inputs of the learned stop rules
 * that training/stop_study.py fits and measures against that product. */
#include "internal.h"

static int is_word_character(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '$';
}

static int is_space(int c)
{
    return c == ' ' || c == '\t';
}

static float log_plus_one(int n)
{
    return (float)ttc_log(1.0 + (double)n);
}

/* ln(p / (1 - p)), p clamped so that it stays finite: with weight 1 on it and 0
 * elsewhere, a logistic rule's estimate is p itself. */
static float logit(float p)
{
    const double q = p < 1e-13f ? 1e-13 : p > 1.0f - 1e-7f ? 1.0 - 1e-7 : (double)p;
    return (float)(ttc_log(q) - ttc_log(1.0 - q));
}

void ttc_stop_context_init(ttc_stop_context *c, const char *prefix, size_t prefix_length)
{
    size_t line = prefix_length;
    while (line > 0 && prefix[line - 1] != '\n')
        line--;
    ttc_memset(c, 0, sizeof *c);
    c->column = (int)(prefix_length - line);
    c->in_indent = 1;
    for (size_t i = line; i < prefix_length && c->in_indent; i++) {
        if (is_space((unsigned char)prefix[i]))
            c->indent++;
        else
            c->in_indent = 0;
    }
    c->previous = prefix_length ? (unsigned char)prefix[prefix_length - 1] : '\n';
}

void ttc_stop_context_advance(ttc_stop_context *c, int token, float probability)
{
    c->log_confidence += (float)ttc_log(probability > 1e-30f ? (double)probability : 1e-30);
    c->position++;
    if (token == '\n') {
        c->column = 0;
        c->indent = 0;
        c->in_indent = 1;
    } else {
        c->column++;
        if (c->in_indent && is_space(token))
            c->indent++;
        else
            c->in_indent = 0;
    }
    c->previous = token;
}

void ttc_stop_features(const ttc_stop_context *c, const float *probabilities, int vocab,
                       int token, const ttc_memory_prediction *memory, float *out)
{
    const float p = probabilities[token];
    float second = 0.0f, collision = 0.0f;
    for (int t = 0; t < vocab; t++) {
        collision += probabilities[t] * probabilities[t];
        if (t != token && probabilities[t] > second)
            second = probabilities[t];
    }
    const int voted = memory && memory->votes > 0;
    const int open = token == '(' || token == '[' || token == '{';
    const int close = token == ')' || token == ']' || token == '}';
    const int quote = token == '"' || token == '\'' || token == '`';
    const int word = is_word_character(token);
    const int other = !word && !is_space(token) && token != '\n' && !open && !close && !quote;

    out[0] = 1.0f;                       /* a constant, for the bias */
    out[1] = logit(p);                   /* the character's probability */
    out[2] = p - second;                 /* its lead over the runner-up */
    out[3] = (float)ttc_log(collision > 1e-30f ? (double)collision : 1e-30); /* peakedness */
    out[4] = c->log_confidence;          /* ln of the product before it */
    out[5] = (float)voted;               /* the document memory: has a vote, */
    out[6] = voted ? (float)memory->counts[token] / (float)memory->votes : 0.0f; /* agrees, */
    out[7] = voted ? log_plus_one(memory->match_length) : 0.0f; /* how long a match, */
    out[8] = voted ? log_plus_one(memory->votes) : 0.0f;        /* how many votes */
    out[9] = (float)is_space(token);     /* the character's class (a word character: none) */
    out[10] = (float)open;
    out[11] = (float)close;
    out[12] = (float)quote;
    out[13] = (float)other;
    out[14] = (float)(token == '\n');
    out[15] = (float)(word && is_word_character(c->previous)); /* inside a word */
    out[16] = log_plus_one(c->position); /* place in the suggestion, */
    out[17] = log_plus_one(c->column);   /* in the line, */
    out[18] = log_plus_one(c->indent);   /* the line's indentation */
}
