"""The C engine through its Python API: agreement with PyTorch, the prompt
contracts, decoding rules and bad input."""

import math
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from training import tokens
from training.export import compute_checksum, dequantized_copy, export_ttc
from training.model import PRESETS, Transformer
from ttcc.engine import ENGINE_VERSION, Model, ModelError, retyped_length

KV_PRECISIONS = ["int8", "f32"]
STOP_TOKENS = (tokens.EOS, tokens.FIM_END)


def greedy_token(model: Model, prompt: list[int]) -> int:
    """The token greedy decoding picks after prompt: the likeliest one that may be suggested."""
    logits = model.session().logits(prompt)[-1]
    allowed = [9, 10, *range(32, 127), *STOP_TOKENS]
    return max(allowed, key=lambda token: logits[token])


def reference_logits(preset: str, seed: int, token_ids: list[int]) -> np.ndarray:
    """PyTorch logits of the int8 round trip of the weights the engine runs."""
    torch.manual_seed(seed)
    model = dequantized_copy(Transformer(PRESETS[preset])).eval()
    with torch.no_grad():
        logits, _ = model(torch.tensor([token_ids]))
    return logits[0].numpy()


def random_tokens(n: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    plain = [9, 10, *range(32, 127)]
    return [tokens.BOS, *rng.choice(plain, size=n - 1).tolist()]


@pytest.mark.parametrize("kv_precision", KV_PRECISIONS)
def test_engine_matches_pytorch_tiny(tiny_model_path: Path, kv_precision: str) -> None:
    ids = random_tokens(256, seed=1)
    expected = reference_logits("tiny", 0, ids)
    got = np.array(Model.load(tiny_model_path).session(kv_precision=kv_precision).logits(ids))
    # Activations are quantised to int8 (and keys/values too in the int8 cache):
    # the remaining error is a small fraction of the logits' spread.
    assert np.abs(got - expected).max() < 0.1 * expected.std()
    assert (got.argmax(1) == expected.argmax(1)).mean() > 0.98


@pytest.mark.parametrize("kv_precision", KV_PRECISIONS)
def test_engine_matches_pytorch_seed_past_1000(seed_model_path: Path, kv_precision: str) -> None:
    ids = random_tokens(1100, seed=2)
    expected = reference_logits("seed", 0, ids)
    got = np.array(Model.load(seed_model_path).session(kv_precision=kv_precision).logits(ids))
    for position in (0, 1, 100, 511, 1000, 1099):
        error = np.abs(got[position] - expected[position]).max()
        assert error < 0.1 * expected.std(), f"position {position}: {error}"
    assert (got.argmax(1) == expected.argmax(1)).mean() > 0.98


def test_logprobs_match_pytorch(tiny_model_path: Path) -> None:
    text = "def add(a, b):\n    return a + b\n"
    expected = torch.log_softmax(
        torch.tensor(reference_logits("tiny", 0, [tokens.BOS, *tokens.encode(text)])), dim=-1
    ).numpy()
    got = Model.load(tiny_model_path).logprobs(text, document_memory=False)
    assert len(got) == len(text)
    ids = tokens.encode(text)
    for i, value in enumerate(got):
        assert value == pytest.approx(expected[i, ids[i]], abs=0.02)


def test_logprobs_beyond_the_window(tiny_model_path: Path) -> None:
    model = Model.load(tiny_model_path)
    text = "x = 1\n" * 200  # 1200 characters, window 256
    values = model.logprobs(text)
    assert len(values) == len(text)
    assert all(math.isfinite(v) and v <= 0 for v in values)
    # The first window is scored exactly as a short text would be.
    assert values[:200] == pytest.approx(model.logprobs(text[:200]), abs=1e-6)


def test_logprobs_count_characters_not_bytes(tiny_model_path: Path) -> None:
    model = Model.load(tiny_model_path)
    assert len(model.logprobs("é€😀 ok")) == 6
    assert len(model.logprobs("a\r\nb")) == 3  # "\r\n" reads as one newline


def test_kernels_give_identical_suggestions(seed_model_path: Path) -> None:
    model = Model.load(seed_model_path)
    prefix = "import os\n\ndef main(argv):\n    for name in argv:\n        print("
    generic = model.session(kernels="generic").complete(prefix, min_confidence=0.0)
    best = model.session().complete(prefix, min_confidence=0.0)
    assert best == generic


def test_kernels_give_identical_logits_batched_and_one_by_one(seed_model_path: Path) -> None:
    """This CPU's best kernels (with their own weight layout where they have one: AVX-512
    VNNI) against the generic ones, bit for bit: a prefill of 301 tokens (batches, and
    blocks of 8 with a remainder), then tokens one at a time and a pass of 5."""
    model = Model.load(seed_model_path)
    tokens = [2, *map(ord, ("for name in names:\n    total += len(name)\n" * 8)[:300])]
    generic, best = model.session(kernels="generic"), model.session()
    assert best.logits(tokens) == generic.logits(tokens)
    for extra in ("x", "y", "z", " = 42"):
        tokens += map(ord, extra)
        assert best.logits(tokens, rows=len(extra)) == generic.logits(tokens, rows=len(extra))


def test_info_and_metadata(tiny_model_path: Path) -> None:
    model = Model.load(tiny_model_path)
    config = PRESETS["tiny"]
    assert model.info.dim == config.dim
    assert model.info.n_kv_heads == config.n_kv_heads
    assert model.info.window == config.window
    assert model.info.file_size == tiny_model_path.stat().st_size
    assert model.metadata["language"] == "test"


@pytest.fixture(scope="module")
def model(tiny_model_path: Path) -> Model:
    return Model.load(tiny_model_path)


@pytest.fixture(scope="module")
def good(tiny_model_path: Path) -> bytes:
    return tiny_model_path.read_bytes()


class TestDecoding:
    def test_suggestions_are_plain_text(self, model: Model) -> None:
        session = model.session()
        for prefix in ["", "a", "def f(x):\n    ", "int main() {\n", "é😀\x00\x07"]:
            for multiline in (False, True):
                text = session.complete(prefix, multiline=multiline, min_confidence=0.0)
                assert all(c in "\t\n" or " " <= c <= "~" for c in text)
                assert text == text.rstrip()
                assert multiline or "\n" not in text

    def test_max_chars_and_confidence_floor(self, model: Model) -> None:
        session = model.session()
        assert len(session.complete("x = ", max_chars=3, min_confidence=0.0)) <= 3
        # Random weights spread probability thinly: no character reaches 0.5.
        assert session.complete("x = ") == ""
        assert session.complete("x = ", min_confidence=1.0) == ""

    def test_bad_options(self, model: Model) -> None:
        session = model.session()
        for bad in (
            {"max_chars": 0},
            {"max_chars": 1000},
            {"min_confidence": -0.1},
            {"min_confidence": float("nan")},
        ):
            with pytest.raises(ValueError):
                session.complete("x", **bad)

    def test_crlf_reads_as_lf(self, model: Model) -> None:
        session = model.session()
        lf = session.complete("a = 1\nb = ", min_confidence=0.0)
        assert model.session().complete("a = 1\r\nb = ", min_confidence=0.0) == lf

    def test_blank_suffix_is_no_suffix(self, model: Model) -> None:
        plain = model.session().complete("if x:\n    y", min_confidence=0.0)
        assert model.session().complete("if x:\n    y", "  \n\n", min_confidence=0.0) == plain
        # Only the part of the suffix the prompt keeps (window/8 bytes) counts.
        far = " " * model.info.window + "tail()"
        assert model.session().complete("if x:\n    y", far, min_confidence=0.0) == plain

    def test_suffix_changes_the_prompt(self, model: Model) -> None:
        session = model.session()
        session.complete("value = compute(", min_confidence=0.0)
        before = session.forwarded_tokens
        session.complete("value = compute(", ")\nprint(value)\n", min_confidence=0.0)
        prompt_tokens = 3 + len(")\nprint(value)\n") + len("value = compute(")
        assert session.forwarded_tokens - before >= prompt_tokens

    def test_prompt_layout(self, model: Model) -> None:
        cases = [
            ("x = ", ""),
            ("x = ", "  \n"),
            ("call(", ")\nnext()"),
            ("", "tail"),
            ("a\r\nb", "c\r\n"),
            ("é = ", " + 1"),
        ]
        for prefix, suffix in cases:
            if suffix.strip():
                prompt = [
                    tokens.FIM_PREFIX,
                    tokens.FIM_SUFFIX,
                    *tokens.encode(suffix),
                    tokens.FIM_MIDDLE,
                    *tokens.encode(prefix),
                ]
            else:
                prompt = [tokens.BOS, *tokens.encode(prefix)]
            first = greedy_token(model, prompt)
            expected = chr(first) if chr(first) == "\t" or " " <= chr(first) <= "~" else ""
            # The greedy character before the filters that decide what is shown
            # (whitespace, balance, repeats: test_decoding.py).
            got, _ = model.session().stop_features(prefix, suffix, max_chars=1)
            assert got == expected, (prefix, suffix)

    def test_suggestion_that_repeats_the_suffix_is_dropped(self, model: Model) -> None:
        checked = 0
        for prefix in ["result = run(a, b", "x = [1, 2", "if (ready", "name = 'abc"]:
            for code in range(33, 127):
                suffix = chr(code) + "\nrest()"
                prompt = [
                    tokens.FIM_PREFIX,
                    tokens.FIM_SUFFIX,
                    *tokens.encode(suffix),
                    tokens.FIM_MIDDLE,
                    *tokens.encode(prefix),
                ]
                if greedy_token(model, prompt) == code:
                    got = model.session().complete(prefix, suffix, max_chars=1, min_confidence=0.0)
                    assert got == ""
                    checked += 1
        assert checked > 0, "no case where the model repeats the suffix"

    def test_one_megabyte_document(self, model: Model) -> None:
        line = "    value = compute(index, 'naïve')  # ok\n"
        document = line * (1_000_000 // len(line))
        session = model.session()
        middle = len(document) // 2
        text = session.complete(document[:middle], document[middle:], min_confidence=0.0)
        assert isinstance(text, str)
        # Only a window's worth is run, however long the document.
        assert session.forwarded_tokens <= model.info.window


class TestBadModelFiles:
    def test_truncated(self, good: bytes) -> None:
        for size in [0, 3, 4, 100, 127, 128, 129, 1000, len(good) // 2, len(good) - 1]:
            with pytest.raises(ModelError, match="truncated|magic"):
                Model.from_bytes(good[:size])

    def test_not_a_model(self) -> None:
        with pytest.raises(ModelError, match="magic"):
            Model.from_bytes(b"\x7fELF" + bytes(500))

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(ModelError, match="cannot read"):
            Model.load(tmp_path / "absent.ttc")

    def test_every_flipped_bit_in_the_header_is_caught(self, good: bytes) -> None:
        for bit in range(128 * 8):
            damaged = bytearray(good)
            damaged[bit // 8] ^= 1 << (bit % 8)
            with pytest.raises(ModelError):
                Model.from_bytes(bytes(damaged))

    def test_flipped_weight_bytes_are_caught(self, good: bytes) -> None:
        rng = np.random.default_rng(0)
        for offset in rng.integers(128, len(good), size=200):
            damaged = bytearray(good)
            damaged[offset] ^= 0x10
            with pytest.raises(ModelError, match="checksum"):
                Model.from_bytes(bytes(damaged))

    @staticmethod
    def with_field(good: bytes, offset: int, fmt: str, value: float | int) -> bytes:
        """The file with one header field changed and the checksum made valid again."""
        data = bytearray(good)
        struct.pack_into(fmt, data, offset, value)
        struct.pack_into("<I", data, 96, compute_checksum(data))
        return bytes(data)

    def test_wrong_version(self, good: bytes) -> None:
        with pytest.raises(ModelError, match="version"):
            Model.from_bytes(self.with_field(good, 4, "<I", 2))

    def test_oversized_header(self, good: bytes) -> None:
        with pytest.raises(ModelError, match="header"):
            Model.from_bytes(self.with_field(good, 8, "<I", 4096))

    @pytest.mark.parametrize(
        ("offset", "fmt", "value"),
        [
            (16, "<I", 0),  # dim
            (16, "<I", 1 << 30),  # dim
            (20, "<I", 100),  # hidden_dim not a multiple of the group size
            (24, "<I", 1000),  # n_layers
            (28, "<I", 3),  # n_heads does not divide dim
            (32, "<I", 3),  # n_kv_heads does not divide n_heads
            (36, "<I", 256),  # vocab_size
            (40, "<I", 8),  # window
            (44, "<I", 48),  # group_size
            (48, "<f", float("nan")),  # rope_theta
            (52, "<f", -1.0),  # norm_eps
        ],
    )
    def test_bad_dimensions(self, good: bytes, offset: int, fmt: str, value: float) -> None:
        with pytest.raises(ModelError, match="dimensions"):
            Model.from_bytes(self.with_field(good, offset, fmt, value))

    @pytest.mark.parametrize(
        ("offset", "value"),
        [(56, 0), (64, 1 << 40), (72, 129), (80, 1), (88, 1 << 40)],
    )
    def test_bad_layout(self, good: bytes, offset: int, value: int) -> None:
        with pytest.raises(ModelError, match="truncated|sizes or offsets"):
            Model.from_bytes(self.with_field(good, offset, "<Q", value))

    def test_invalid_weights(self, tmp_path: Path) -> None:
        torch.manual_seed(0)
        model = Transformer(PRESETS["tiny"])
        with torch.no_grad():
            model.layers[0].attention_norm.weight[3] = float("inf")
        path = tmp_path / "inf.ttc"
        try:
            export_ttc(model, path, {})
        except ValueError:
            return  # the exporter refuses it: just as good
        with pytest.raises(ModelError, match="weights"):
            Model.load(path)


@pytest.mark.parametrize(
    ("suggestion", "suffix", "expected"),
    [
        ("x)", ")", 1),
        ("a) {", ") {", 3),
        ("a", ")", 0),
        ("a, b)", ") + 1", 1),
        ("", ")", 0),
        ("f(x)", ")\nnext)", 1),  # only the cursor's line counts
        ("f(x)", "\r\n)", 0),
        ("x)", "é)", 0),
    ],
)
def test_retyped_length(suggestion: str, suffix: str, expected: int) -> None:
    assert retyped_length(suggestion, suffix) == expected


def test_the_engine_reports_its_header_s_version() -> None:
    header = (Path(__file__).resolve().parents[2] / "engine_c" / "ttc.h").read_text()
    parts = [re.search(rf"#define TTC_VERSION_{part} (\d+)", header) for part in
             ("MAJOR", "MINOR", "PATCH")]  # fmt: skip
    assert ".".join(part.group(1) for part in parts) == ENGINE_VERSION
