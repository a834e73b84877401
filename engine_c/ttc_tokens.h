/* Token ids shared by the engine and training (training/tokens.py mirrors this
 * file; tests/engine/test_tokens.py keeps the two in sync).
 *
 * A token is a 7-bit character code. Tab, newline and 32..126 stand for
 * themselves; the unused control codes hold the special tokens below. */
#ifndef TTC_TOKENS_H
#define TTC_TOKENS_H

enum {
    TTC_TOKEN_PAD = 0,
    TTC_TOKEN_UNK = 1,        /* any character outside the vocabulary */
    TTC_TOKEN_BOS = 2,
    TTC_TOKEN_EOS = 3,
    TTC_TOKEN_FIM_PREFIX = 4, /* fill in the middle, SPM order: */
    TTC_TOKEN_FIM_SUFFIX = 5, /*   PRE SUF suffix MID prefix middle END */
    TTC_TOKEN_FIM_MIDDLE = 6,
    TTC_TOKEN_FIM_END = 7,
    TTC_TOKEN_RESERVED = 8,   /* kept free for a future sentinel */
    TTC_VOCAB_SIZE = 128
};

#endif
