"""The document memory (engine_c/memory.c) through the Python API: on a random model,
which knows nothing of identifiers, it copies what followed earlier occurrences of
the text before the cursor, from the prefix, the suffix or memory_text."""

from __future__ import annotations

from pathlib import Path

import pytest

from ttcc.engine import MEMORY_TEXT_BYTES, Model

REPEATED = "alpha_beta_gamma = 1\nx = 2\nalpha_b"


@pytest.fixture(scope="module")
def tiny(tiny_model_path: Path) -> Model:
    return Model.load(tiny_model_path)


# The confidence floor at which the lengths of the copies below are pinned, unless a
# test gives its own (the engine's default is 0.6).
FLOOR = 0.5


def complete(model: Model, prefix: str, suffix: str = "", **options: object) -> str:
    options.setdefault("min_confidence", FLOOR)
    return model.session().complete(prefix, suffix, **options)


def test_an_identifier_before_the_cursor_is_copied_only_with_the_memory(tiny: Model) -> None:
    assert complete(tiny, REPEATED).startswith("eta_")
    assert complete(tiny, REPEATED, min_confidence=0.0).startswith("eta_gamma")
    assert complete(tiny, REPEATED, document_memory=False) == ""
    assert "eta" not in complete(tiny, REPEATED, document_memory=False, min_confidence=0.0)


def test_a_copy_is_as_trusted_as_the_typed_match_that_started_it(tiny: Model) -> None:
    # The suggestion's own characters match the source ever longer; only the
    # user's part of the match counts, so a shallow match makes a short suggestion.
    source = "copy_source_identifier_that_is_long = 1\nx = 2\n"
    rest = "source_identifier_that_is_long = 1"
    shallow = complete(tiny, source + "cop", min_confidence=0.05)
    assert 1 <= len(shallow) < 12 and rest.startswith(shallow[2:])
    assert complete(tiny, source + "copy_source_id", min_confidence=0.05) == rest[9:]
    assert complete(tiny, source + "cop", min_confidence=0.0) == "y_" + rest


def test_the_memory_reads_the_suffix(tiny: Model) -> None:
    suffix = "\n\ndef compute_total(values):\n    return sum(values)\n"
    assert complete(tiny, "result = compute_t", suffix).startswith("otal(")
    assert complete(tiny, "result = compute_t", suffix, document_memory=False) == ""


def test_the_memory_reads_memory_text_up_to_its_limit(tiny: Model) -> None:
    other = "other_identifier_name = 3\n"
    assert complete(tiny, "y = other_i", memory_text=other).startswith("dent")
    assert complete(tiny, "y = other_i") == ""
    assert complete(tiny, "y = other_i", memory_text=other, document_memory=False) == ""
    # Only the first MEMORY_TEXT_BYTES bytes count.
    fits = "#" * (MEMORY_TEXT_BYTES - len(other)) + other
    assert complete(tiny, "y = other_i", memory_text=fits).startswith("dent")
    assert complete(tiny, "y = other_i", memory_text="#" * MEMORY_TEXT_BYTES + other) == ""


def test_logprobs_of_repeated_text_rise_with_the_memory(tiny: Model) -> None:
    line = "total_count = compute_total(values)\n"
    text = line * 3
    with_memory = tiny.logprobs(text)
    without = tiny.logprobs(text, document_memory=False)
    first, repeats = slice(0, len(line)), slice(len(line), None)
    assert with_memory[first][:3] == without[first][:3]  # nothing to remember yet
    assert sum(with_memory[repeats]) > sum(without[repeats]) + len(line)
