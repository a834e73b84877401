"""The special tokens are defined twice, in C and in Python: they must agree."""

import re
from pathlib import Path

from training import tokens

HEADER = Path(__file__).resolve().parents[2] / "engine_c" / "ttc_tokens.h"


def test_header_and_module_agree() -> None:
    in_c = {
        name: int(value)
        for name, value in re.findall(r"TTC_(?:TOKEN_)?(\w+)\s*=\s*(\d+)", HEADER.read_text())
    }
    in_python = {name: getattr(tokens, name) for name in in_c}
    assert in_c == in_python
    assert set(in_c) >= {
        "PAD",
        "UNK",
        "BOS",
        "EOS",
        "FIM_PREFIX",
        "FIM_SUFFIX",
        "FIM_MIDDLE",
        "FIM_END",
        "VOCAB_SIZE",
    }


def test_encode_maps_one_token_per_character() -> None:
    assert tokens.encode("a\tb\n") == [97, 9, 98, 10]
    assert tokens.encode("x\r\ny") == [120, 10, 121]
    assert tokens.encode("é😀\r\x00") == [tokens.UNK] * 4
    assert tokens.decode(tokens.encode("def f():\n\treturn 1")) == "def f():\n\treturn 1"
