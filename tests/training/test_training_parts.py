"""Unit tests of the training pipeline's parts: examples, schedule, evaluation counting."""

import json
import lzma
import math

import numpy as np
import pytest
from scripted_model import export_scripted

from training import data, evaluate, memory_bounds
from training.tokens import BOS, EOS, FIM_END, FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX
from training.train import TrainConfig, learning_rate
from ttcc.engine import Model

# ---- examples ---------------------------------------------------------------


def stream_of(text: str, copies: int = 20) -> np.ndarray:
    one = [BOS, *map(ord, text), EOS]
    return np.array(one * copies, dtype=np.uint8)


def test_plain_examples_start_with_bos_and_targets_are_shifted_inputs():
    maker = data.ExampleMaker([stream_of("def f(x):\n    return x\n")], length=32, fim_rate=0.0)
    inputs, targets = maker.batch(4, seed=1, rank=0, step=0)
    assert inputs.shape == targets.shape == (4, 32)
    assert (inputs[:, 0] == BOS).all()
    assert (inputs[:, 1:] == targets[:, :-1]).all()


def test_fim_examples_are_laid_out_suffix_first_like_the_engine_prompt():
    text = "".join(chr(33 + i % 90) for i in range(400))  # no sentinels inside
    stream = stream_of(text, 3)
    maker = data.ExampleMaker([stream], length=128, fim_rate=1.0)
    inputs, targets = maker.batch(8, seed=3, rank=0, step=5)
    for row_in, row_target in zip(inputs.tolist(), targets.tolist(), strict=True):
        row = row_in + row_target[-1:]
        assert len(row) == 129
        assert row[:2] == [FIM_PREFIX, FIM_SUFFIX] and row[-1] == FIM_END
        middle_at = row.index(FIM_MIDDLE)
        suffix = row[2:middle_at]
        assert 1 <= len(suffix) <= 128 // data.SUFFIX_SHARE
        prefix_and_middle = row[middle_at + 1 : -1]
        # The suffix is what follows prefix + middle in the stream.
        original = "".join(map(chr, prefix_and_middle + suffix))
        assert original in "".join(map(chr, stream))


def test_batches_depend_only_on_seed_rank_and_step():
    maker = data.ExampleMaker([stream_of("abc" * 50), stream_of("xyz" * 50)], length=32)
    first = maker.batch(4, seed=7, rank=0, step=11)
    again = maker.batch(4, seed=7, rank=0, step=11)
    assert all((a == b).all() for a, b in zip(first, again, strict=True))
    other_rank = maker.batch(4, seed=7, rank=1, step=11)
    other_step = maker.batch(4, seed=7, rank=0, step=12)
    assert not (first[0] == other_rank[0]).all()
    assert not (first[0] == other_step[0]).all()


def test_too_short_streams_and_bad_rates_are_clear_errors():
    with pytest.raises(data.DataError, match="too short"):
        data.ExampleMaker([stream_of("ab", 1)], length=64)
    with pytest.raises(data.DataError, match="fim_rate"):
        data.ExampleMaker([stream_of("abc" * 50)], length=32, fim_rate=1.5)


def test_missing_or_empty_corpus_is_a_clear_error(tmp_path):
    with pytest.raises(data.DataError, match="no corpus directory"):
        data.corpus_languages(tmp_path / "nowhere")
    with pytest.raises(data.DataError, match="train.bin"):
        data.corpus_languages(tmp_path)


# ---- schedule -----------------------------------------------------------------


def test_learning_rate_warms_up_then_decays_to_the_floor():
    cfg = TrainConfig(steps=1000, warmup_steps=100, lr=1e-3, min_lr_ratio=0.1)
    warmup = [learning_rate(cfg, s) for s in range(100)]
    assert warmup == sorted(warmup) and warmup[0] < 2e-5
    assert learning_rate(cfg, 100) == pytest.approx(1e-3)
    decay = [learning_rate(cfg, s) for s in range(100, 1001)]
    assert decay == sorted(decay, reverse=True)
    assert learning_rate(cfg, 1000) == pytest.approx(1e-4)
    assert learning_rate(cfg, 550) == pytest.approx(0.55e-3)  # halfway down the cosine


# ---- evaluation counting --------------------------------------------------------


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    """After "x" the model suggests "abc" and then stops at the end of the line."""
    path = tmp_path_factory.mktemp("scripted") / "abc.ttc"
    return Model.load(export_scripted(path, {"x": "a", "a": "b", "b": "c", "c": "\n"}))


OPTIONS = {"multiline": False, "max_chars": 64, "min_confidence": 0.5, "document_memory": False}


def test_typing_accepts_a_correct_suggestion_with_one_keystroke(scripted):
    result = evaluate.simulate_typing(scripted.session(), "xabc\nxabc\n", **OPTIONS)
    # x, Tab (abc), newline - twice: 6 keystrokes for 10 characters.
    assert (result.characters, result.keystrokes) == (10, 6)
    assert (result.shown, result.fully_correct) == (2, 2)
    assert (result.shown_characters, result.matching_characters) == (6, 6)
    assert result.accepted_characters == 6


def test_a_word_by_word_user_takes_the_correct_words_of_a_wrong_suggestion(tmp_path):
    # After "x" the model suggests "ab c"; the text goes on "ab d".
    script = {"x": "a", "a": "b", "b": " ", " ": "c", "c": "\n"}
    model = Model.load(export_scripted(tmp_path / "words.ttc", script))
    whole = evaluate.simulate_typing(model.session(), "xab d\n", **OPTIONS)
    assert (whole.characters, whole.keystrokes, whole.accepted_characters) == (6, 6, 0)
    by_word = evaluate.simulate_typing(model.session(), "xab d\n", word_by_word=True, **OPTIONS)
    # x, Ctrl+Right ("ab"), space, d, newline: " c" is a word whose "c" is wrong.
    assert (by_word.characters, by_word.keystrokes, by_word.accepted_characters) == (6, 5, 2)


@pytest.mark.parametrize(
    ("suggestion", "word"),
    [("ab c", 2), (" cd(e)", 3), ("(bar)", 4), (")", 1), ("", 0), ("x_1.y", 3)],
)
def test_one_accepted_word_is_separators_then_a_word(suggestion, word):
    assert evaluate.next_word_length(suggestion) == word


def test_next_line_exact_match_asks_at_every_non_blank_line_start(tmp_path):
    # After a newline the model suggests the line "xabc".
    script = {"\n": "x", "x": "a", "a": "b", "b": "c", "c": "\n"}
    model = Model.load(export_scripted(tmp_path / "lines.ttc", script))
    # "q" (nothing suggested at the document's start), "xabc" (right), "xabd" (wrong); the
    # blank line is not asked.
    text = "q\nxabc\n\nxabd\n"
    assert evaluate.next_line_matches(model.session(), text, **OPTIONS) == (1, 3)


def test_typing_counts_wrong_suggestions_without_accepting_them(scripted):
    result = evaluate.simulate_typing(scripted.session(), "xabd", **OPTIONS)
    # "abc", "bc", "c" shown and all wrong at the end: every character typed by hand.
    assert (result.characters, result.keystrokes) == (4, 4)
    assert (result.shown, result.fully_correct) == (3, 0)
    assert (result.shown_characters, result.matching_characters) == (6, 3)


def test_a_perfect_stop_cuts_each_suggestion_at_its_first_wrong_character(scripted):
    result = evaluate.simulate_typing(scripted.session(), "xabd", perfect_stop=True, **OPTIONS)
    # x, Tab ("ab" of "abc"), d; then "c" is cut to nothing and not shown.
    assert (result.characters, result.keystrokes) == (4, 3)
    assert (result.shown, result.fully_correct) == (1, 1)
    assert (result.shown_characters, result.matching_characters) == (2, 2)


def test_language_report_combines_bits_xz_and_typing(scripted):
    texts = ["xabc\n" * 30, "xabd\n" * 30]
    report = evaluate.evaluate_language(scripted, "abc.ttc", "python", texts,
                                        score_chars=200, typing_chars=50, options=OPTIONS,
                                        progress=False)
    assert report.characters == 200 and report.files == 2
    assert report.typed_characters == 50
    expected_xz = 8 * len(lzma.compress((texts[0] + texts[1][:50]).encode(),
                                        preset=9 | lzma.PRESET_EXTREME)) / 200
    assert report.xz_bits_per_char == pytest.approx(expected_xz)
    expected_bits = -sum(scripted.logprobs(texts[0], document_memory=False)) - sum(
        scripted.logprobs(texts[1][:50], document_memory=False))
    assert report.bits_per_char == pytest.approx(expected_bits / math.log(2) / 200, rel=1e-5)
    # Typing "xabc\n" ten times: 3 keystrokes per 5 characters.
    assert report.keystrokes_saved == pytest.approx(1 - 30 / 50)
    assert report.fully_correct_share == 1.0 and report.mean_suggestion_length == 3.0
    assert report.prefix_match_score == 1.0  # every suggested character was right
    assert report.completed_share == pytest.approx(30 / 50)  # "abc" of every "xabc\n"
    assert report.keystrokes_saved_word_by_word == pytest.approx(report.keystrokes_saved)
    assert report.next_line_exact_match == 0.0  # nothing follows a newline in this script
    assert report.latency_ms_p90 >= report.latency_ms_median > 0


def test_memory_bounds_put_the_best_of_both_below_the_blend(tiny_model_path, tmp_path, capsys):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "python.ttc").write_bytes(tiny_model_path.read_bytes())
    (tmp_path / "corpus" / "python").mkdir(parents=True)
    text = "".join(f"value_{i % 7} = compute_total(items_{i % 5})\n" for i in range(40))
    (tmp_path / "corpus" / "python" / "val.jsonl").write_text(json.dumps({"text": text}))
    assert memory_bounds.main(["--models-dir", str(tmp_path / "models"), "--corpus",
                               str(tmp_path / "corpus"), "--languages", "python",
                               "--score-chars", "1000", "--typing-chars", "300",
                               "--no-progress"]) == 0
    row = capsys.readouterr().out.splitlines()[-1].strip("| ").split(" | ")
    alone, blend, best = map(float, row[1:4])
    off, on = (float(cell.rstrip("%")) for cell in row[6:8])
    # A random model knows nothing; the memory knows the repeated names.
    assert best <= blend < alone
    assert on > off


def test_take_characters_cuts_the_last_text_at_the_budget():
    assert list(evaluate.take_characters(["abcd", "efgh", "ij"], 6)) == ["abcd", "ef"]
    assert list(evaluate.take_characters(["abcd"], 10)) == ["abcd"]


@pytest.mark.parametrize(
    ("line", "pairs"),
    [("f(a, [b])", [(5, 7), (1, 8)]), ('f("(", x)', [(1, 8)]), ("x = 'a)' + b", []),
     ("f(a", None), ('f("a)', None), (")(", None), ("f(a]", None)],
)
def test_bracket_pairs_skip_string_literals_and_refuse_unbalanced_lines(line, pairs):
    assert evaluate.bracket_pairs(line) == pairs


def test_typing_inside_brackets_takes_a_suggestion_that_retypes_the_closing_one(tmp_path):
    # After "(" the model suggests "ab)": accepted, it replaces the ")" already there.
    script = {"(": "a", "a": "b", "b": ")", ")": "<EOS>"}
    model = Model.load(export_scripted(tmp_path / "brackets.ttc", script))
    right = evaluate.simulate_bracket_typing(model.session(), "f(ab)\n", **OPTIONS)
    assert (right.characters, right.keystrokes, right.shown, right.fully_correct) == (2, 1, 1, 1)
    assert (right.accepted_characters, right.unbalanced) == (2, 0)
    # The text inside is "ac": "ab)" and then "b)" are shown, both wrong.
    wrong = evaluate.simulate_bracket_typing(model.session(), "f(ac)\n", **OPTIONS)
    assert (wrong.characters, wrong.keystrokes, wrong.shown, wrong.fully_correct) == (2, 2, 2, 0)
