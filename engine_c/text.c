/* Characters to tokens (docs/DESIGN.md, "Tokens"). Every character is one
 * token: a byte that is not a UTF-8 continuation byte starts a character. */
#include "internal.h"

int ttc_is_continuation(unsigned char byte)
{
    return (byte & 0xC0) == 0x80;
}

int ttc_token_of_byte(unsigned char byte)
{
    if (byte == '\t' || byte == '\n' || (byte >= 32 && byte <= 126))
        return byte;
    return TTC_TOKEN_UNK;
}

size_t ttc_text_to_tokens(const char *text, size_t length, int *tokens, size_t capacity)
{
    const unsigned char *bytes = (const unsigned char *)text;
    size_t n = 0;
    for (size_t i = 0; i < length && n < capacity; i++) {
        if (ttc_is_continuation(bytes[i]))
            continue;
        if (bytes[i] == '\r' && i + 1 < length && bytes[i + 1] == '\n')
            continue; /* "\r\n" reads as "\n" */
        tokens[n++] = ttc_token_of_byte(bytes[i]);
    }
    return n;
}
