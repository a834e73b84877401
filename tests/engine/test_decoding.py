"""Decoding and its stop rules, on scripted models whose greedy choices are known."""

import math
from pathlib import Path

import pytest

from tests.scripted_model import export_scripted
from ttcc.engine import Model


def scripted(tmp_path: Path, successors: dict[str, str], probability: float = 0.999) -> Model:
    return Model.load(export_scripted(tmp_path / "scripted.ttc", successors, probability))


def test_follows_the_script_up_to_max_chars(tmp_path: Path) -> None:
    model = scripted(tmp_path, {"Q": "a", "a": "b", "b": "a"})
    assert model.session().complete("Q", max_chars=5) == "ababa"


def test_confidence_floor_is_cumulative(tmp_path: Path) -> None:
    # Each step is 80% likely: 0.8, 0.64, 0.512 stay above 0.5; 0.41 does not.
    model = scripted(tmp_path, {"Q": "a", "a": "b", "b": "a"}, probability=0.8)
    session = model.session()
    assert session.complete("Q", min_confidence=0.5) == "aba"
    assert session.complete("Q", min_confidence=0.7) == "a"
    assert session.complete("Q", min_confidence=0.9) == ""
    assert session.complete("Q", min_confidence=0.0, max_chars=7) == "abababa"


@pytest.mark.parametrize("stop", ["<EOS>", "<END>"])
def test_end_tokens_stop(tmp_path: Path, stop: str) -> None:
    model = scripted(tmp_path, {"Q": "a", "a": "b", "b": stop})
    assert model.session().complete("Q") == "ab"
    assert model.session().complete("Q", "suffix") == "ab"


def test_automatic_multiline_suggests_the_block_only_after_a_block_opener(
        tmp_path: Path) -> None:
    model = scripted(tmp_path, {":": "a", "{": "a", "Q": "a", "a": "\n", "\n": "b", "b": "\n"})
    session = model.session()
    options = {"multiline": "auto", "max_chars": 6, "document_memory": False}
    assert session.complete("x:", **options) == "a\nb\nb"
    assert session.complete("x {", **options) == "a\nb\nb"
    assert session.complete("x {", "  \nnext line", **options) == "a\nb\nb"
    assert session.complete("x:\n\n", **options) == "b\nb\nb"  # blank lines after it too
    assert session.complete("x:", " y", **options) == "a"  # text follows on the line
    assert session.complete("xQ", **options) == "a"  # no opener
    with pytest.raises(ValueError):
        session.complete("x:", multiline="always")


def test_single_line_stops_at_the_newline(tmp_path: Path) -> None:
    model = scripted(tmp_path, {"Q": "a", "a": "\n", "\n": "b", "b": "\n"})
    assert model.session().complete("Q") == "a"
    assert model.session().complete("Q", multiline=True, max_chars=6) == "a\nb\nb"


def test_multiline_stops_at_a_less_indented_line(tmp_path: Path) -> None:
    # Q -> "a", then lines indented by one space: " b".
    model = scripted(tmp_path, {"Q": "a", "a": "\n", "\n": " ", " ": "b", "b": "\n"})
    session = model.session()
    assert session.complete("Q", multiline=True, max_chars=8) == "a\n b\n b"
    # The cursor's line is indented by 4: a line indented by 1 ends the block.
    assert session.complete("    Q", multiline=True, max_chars=8) == "a"


def test_multiline_block_from_a_blank_line(tmp_path: Path) -> None:
    # On a blank line the first suggested line sets the block's indentation.
    model = scripted(tmp_path, {"\t": "x", "x": "\n", "\n": "y", "y": "\n"})
    session = model.session()
    # "\tx" sets the block at one tab; "y" at column 0 ends it.
    assert session.complete("def f():\n\t", multiline=True, max_chars=12) == "x"
    # From an empty line, "y" at column 0 sets the block: every "y" line is inside.
    assert session.complete("def f():\n", multiline=True, max_chars=5) == "y\ny\ny"


def test_multiline_stops_before_a_bracket_closed_from_outside(tmp_path: Path) -> None:
    model = scripted(tmp_path, {"Q": "(", "(": "a", "a": ")", ")": "b", "b": "}", "}": "c"})
    # "(a)" is balanced; "}" closes a block opened before the cursor.
    assert model.session().complete("Q", multiline=True) == "(a)b"
    # Single-line mode has no block rule; after "c" nothing is scripted: all logits
    # tie and the first allowed token, EOS, ends it.
    assert model.session().complete("Q", multiline=False) == "(a)b}c"


@pytest.mark.parametrize(
    ("script", "multiline", "shown"),
    [
        ({"Q": "a", "a": " ", " ": "\t", "\t": "<EOS>"}, False, "a \t"),  # blanks after text
        ({"Q": "a", "a": "\n", "\n": " ", " ": "<EOS>"}, True, "a"),  # no line end after it
        ({"Q": " ", " ": "\t", "\t": "<EOS>"}, False, ""),  # only blanks
        ({"Q": ")", ")": " ", " ": "<EOS>"}, False, ""),  # a lone closing bracket
    ],
)
def test_blanks_after_the_last_character_stay_only_on_its_line(
        tmp_path: Path, script: dict[str, str], multiline: bool, shown: str) -> None:
    model = scripted(tmp_path, script)
    assert model.session().complete("Q", multiline=multiline, document_memory=False) == shown


def test_repeating_the_text_after_the_cursor_is_dropped(tmp_path: Path) -> None:
    model = scripted(tmp_path, {"Q": ";", ";": "<END>"})
    session = model.session()
    assert session.complete("Q", ";\nmore") == ""
    assert session.complete("Q", ",\nmore") == ";"


def test_never_suggests_unk_pad_or_sentinels(tmp_path: Path) -> None:
    # Q's likeliest successor is UNK (\x01): decoding takes the best allowed token.
    model = scripted(tmp_path, {"Q": "\x01", "\x01": "a"})
    text = model.session().complete("Q", min_confidence=0.0, max_chars=4)
    assert "\x01" not in text
    assert all(c in "\t\n" or " " <= c <= "~" for c in text)


def test_typing_the_suggestion_costs_nothing(tmp_path: Path) -> None:
    model = scripted(tmp_path, {"Q": "a", "a": "b", "b": "c", "c": "d", "d": "<EOS>"})
    session = model.session()
    assert session.complete("x = Q") == "abcd"
    before = session.forwarded_tokens
    for k in range(1, 5):
        assert session.complete("x = Q" + "abcd"[:k]) == "abcd"[k:]
    assert session.forwarded_tokens == before


# (language, text before the cursor, text after it, what the model would suggest,
# what is shown): a suggestion never leaves a balanced line unbalanced, counting the
# part it types again as replaced; it is cut to its longest start that keeps the
# balance, or shown not at all.
BALANCE_CASES = [
    ("python", "print(a", ")", "d(", "d"),
    ("python", "print(", ")", '"hel', ""),
    ("c", 'printf("%d", cou', ");", "nt[i", "nt"),
    ("cpp", "_getBestSize(int width, int height", ");", ") {", ""),
    ("go", "fmt.Println(x", ")", ", y)", ", y)"),
    ("java", "g.getRenderTarget(", ").getContentWidth();", ");", ""),
    ("javascript", "foo(a, b", ");", ", [c", ", "),
    ("kotlin", "listOf(1", ")", ", 2)}", ", 2)"),
    ("php", "echo strlen($s", ");", ").$x", ""),
    ("php", "echo strlen(", ");", "'ab", ""),
    ("rust", "let v = vec![1, 2", "];", ", 3]", ", 3]"),
    ("typescript", "const x = f<T>(a", ");", "{", ""),
    ("python", "x = (a + b", "", ")", ""),  # a lone closing bracket saves nothing
    ("python", "foo(a", "", "d(", "d("),  # nothing after the cursor: nothing to balance
    ("python", "foo(a", " + (", "d(", "d("),  # the line was not balanced before
]


@pytest.mark.parametrize(("language", "before", "after", "raw", "shown"), BALANCE_CASES,
                         ids=[f"{case[0]}-{case[3]}" for case in BALANCE_CASES])
def test_suggestions_keep_the_line_balanced(tmp_path: Path, language: str, before: str,
                                            after: str, raw: str, shown: str) -> None:
    chain = before[-1] + raw
    assert len(set(chain)) == len(chain), "a bigram script needs distinct characters"
    model = scripted(tmp_path, {**dict(zip(chain, raw, strict=False)), raw[-1]: "<EOS>"})
    session = model.session()
    unfiltered, _ = session.stop_features(before, after, document_memory=False)
    assert unfiltered == raw
    assert session.complete(before, after, document_memory=False) == shown


def test_stop_features_run_past_the_floor_and_describe_each_character(tmp_path: Path) -> None:
    model = scripted(tmp_path, {"Q": "a", "a": "b", "b": "a"}, probability=0.8)
    session = model.session()
    assert session.complete("Q", min_confidence=0.9, document_memory=False) == ""
    line, rows = session.stop_features("Q", max_chars=4, document_memory=False)
    assert line == "abab"
    assert [len(row) for row in rows] == [19] * 4
    assert [row[0] for row in rows] == [1.0] * 4
    # the logit of each character's probability (0.8, less int8 rounding), and the ln
    # of the product before it
    assert [row[1] for row in rows] == pytest.approx([math.log(0.8 / 0.2)] * 4, abs=0.01)
    assert [row[4] for row in rows] == pytest.approx([k * math.log(0.8) for k in range(4)],
                                                     abs=0.01)
    assert [row[15] for row in rows] == [1.0] * 4  # inside the word that Q starts
