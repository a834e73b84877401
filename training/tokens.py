"""Token ids shared with the engine (engine_c/ttc_tokens.h; a test keeps them in sync).

A token is a 7-bit character code: tab, newline and 32..126 stand for themselves,
the unused control codes hold the special tokens, and every other character
becomes one UNK so that offsets still line up.
"""

PAD = 0
UNK = 1
BOS = 2
EOS = 3
FIM_PREFIX = 4
FIM_SUFFIX = 5
FIM_MIDDLE = 6
FIM_END = 7
RESERVED = 8
VOCAB_SIZE = 128

_PLAIN = frozenset([9, 10, *range(32, 127)])


def encode(text: str) -> list[int]:
    """Map text to tokens: '\\r\\n' reads as '\\n', anything outside the vocabulary is UNK."""
    text = text.replace("\r\n", "\n")
    return [code if code in _PLAIN else UNK for code in map(ord, text)]


def decode(tokens: list[int]) -> str:
    """Inverse of encode for plain characters; special tokens are dropped."""
    return "".join(chr(t) for t in tokens if t in _PLAIN)
