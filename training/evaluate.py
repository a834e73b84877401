"""Measure a model the way users meet it: through the engine, keystroke by keystroke.

    python -m training.evaluate --model runs/base/model.ttc --corpus data/corpus
    python -m training.evaluate --models-dir models --corpus data/corpus --json eval.json
    python -m training.evaluate --model ttcc/models/python.ttc --dir ~/src/project --language python

Per language, on the corpus's validation files (or on a directory of files):

- bits per character of the model (the engine's int8 weights and int8 cache), next to
  `xz -9e` bits per character of the same text (all files in one stream);
- keystrokes saved: type each file left to right; at every keystroke ask the engine
  for a suggestion with the server's default options; when it is exactly what comes
  next, accept it with one keystroke (Tab). Saved = 1 - keystrokes / characters;
- the share of shown suggestions that were fully correct, their mean length, and the
  prefix-match score: the share of suggested characters that were right, counted from
  the start of each suggestion up to its first wrong character;
- keystroke latency: median and 90th percentile time of one suggestion;
- typing inside brackets whose closing bracket is already there (as editors insert it):
  keystrokes saved, fully correct, and the share of suggestions that would leave a
  balanced line unbalanced.
"""

from __future__ import annotations

import argparse
import json
import lzma
import math
import re
import statistics
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from ttcc.engine import DEFAULT_OPTIONS, Model, ModelError, Session, retyped_length
from ttcc.languages import BASE_MODEL, LANGUAGES, language_of


def default_options() -> dict:
    """The suggestion options editors use unless their user changes them."""
    return dict(DEFAULT_OPTIONS)


@dataclass
class TypingResult:
    """What simulated typing of some text measured."""

    characters: int = 0
    keystrokes: int = 0
    shown: int = 0  # suggestions shown (non-empty)
    fully_correct: int = 0  # shown suggestions that were exactly what came next
    shown_characters: int = 0
    matching_characters: int = 0  # correct characters at the start of shown suggestions
    accepted_characters: int = 0  # characters that accepted suggestions inserted
    unbalanced: int = 0  # suggestions that would leave their line's brackets unbalanced
    latencies_ms: list[float] = field(default_factory=list)

    def add(self, other: TypingResult) -> None:
        for name in ("characters", "keystrokes", "shown", "fully_correct", "shown_characters",
                     "matching_characters", "accepted_characters", "unbalanced"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.latencies_ms += other.latencies_ms


def _common_prefix_length(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


# One "accept next word" (VS Code's Ctrl+Right): any separators, then one word; the
# separators alone where no word follows.
_NEXT_WORD = re.compile(r"\W*\w+|\W+")


def next_word_length(suggestion: str) -> int:
    """How many characters of a suggestion one "accept next word" inserts."""
    found = _NEXT_WORD.match(suggestion)
    return found.end() if found else 0


def simulate_typing(session: Session, text: str, perfect_stop: bool = False,
                    word_by_word: bool = False, **options) -> TypingResult:
    """Types `text` into an empty document, taking every fully correct suggestion with one
    keystroke.

    word_by_word: the user also takes the correct words at the start of a suggestion that
    is wrong further on, one keystroke per word ("accept next word"). perfect_stop cuts
    each suggestion at its first wrong character first: what a stop rule that knew the
    future would show (training.memory_bounds)."""
    result = TypingResult(characters=len(text))
    position = 0
    while position < len(text):
        started = time.perf_counter()
        suggestion = session.complete(text[:position], **options)
        result.latencies_ms.append((time.perf_counter() - started) * 1000)
        result.keystrokes += 1
        right = _common_prefix_length(suggestion, text[position:])
        if perfect_stop:
            suggestion = suggestion[:right]
        if suggestion:
            result.shown += 1
            result.shown_characters += len(suggestion)
            result.matching_characters += right
            if right == len(suggestion):
                result.fully_correct += 1
                result.accepted_characters += len(suggestion)
                position += len(suggestion)
                continue
            word = next_word_length(suggestion)
            if word_by_word and 0 < word <= right:
                result.accepted_characters += word
                position += word
                continue
        position += 1
    return result


_CLOSING = {")": "(", "]": "[", "}": "{"}
_QUOTES = "\"'`"


def bracket_pairs(line: str) -> list[tuple[int, int]] | None:
    """(opening, closing) offsets of the bracket pairs of a line, outside string literals;
    None when its brackets or quotes are unbalanced."""
    stack: list[int] = []
    pairs = []
    quote = None
    index = 0
    while index < len(line):
        char = line[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = None
        elif char in _QUOTES:
            quote = char
        elif char in "([{":
            stack.append(index)
        elif char in _CLOSING:
            if not stack or line[stack[-1]] != _CLOSING[char]:
                return None
            pairs.append((stack.pop(), index))
        index += 1
    return None if stack or quote else pairs


def simulate_bracket_typing(session: Session, text: str, max_inside: int = 64,
                            **options) -> TypingResult:
    """Types the inside of every bracket pair of text's balanced lines, as in an editor
    that inserts the closing bracket with the opening one: the document holds the text
    up to the cursor and from the closing bracket on. A suggestion is accepted when it
    is what comes next (the closing bracket it types again included). `unbalanced`
    counts suggestions that would leave unbalanced a line that was balanced."""
    result = TypingResult()
    start = 0
    for line in text.split("\n"):
        for opening, closing in bracket_pairs(line) or ():
            inside = closing - opening - 1
            if not 0 < inside <= max_inside:
                continue
            result.characters += inside
            cursor = start + opening + 1
            end = start + closing
            while cursor < end:
                suffix = text[end:]
                suggestion = session.complete(text[:cursor], suffix, **options)
                result.keystrokes += 1
                if not suggestion:
                    cursor += 1
                    continue
                result.shown += 1
                retyped = retyped_length(suggestion, suffix)
                line_before = text[start:cursor]
                line_after = suffix.split("\n", 1)[0]
                accepted_line = line_before + suggestion + line_after[retyped:]
                result.unbalanced += (bracket_pairs(line_before + line_after) is not None
                                      and bracket_pairs(accepted_line) is None)
                if text[cursor:].startswith(suggestion) and (
                        retyped or cursor + len(suggestion) <= end):
                    result.fully_correct += 1
                    result.accepted_characters += len(suggestion) - retyped
                    cursor += len(suggestion) - retyped
                    if retyped:
                        break
                else:
                    cursor += 1
        start += len(line) + 1
    return result


def next_line_matches(session: Session, text: str, **options) -> tuple[int, int]:
    """(lines matched, lines asked): at the start of every line that is not blank, whether
    the suggestion is that whole line (trailing whitespace aside): the next-line exact
    match that code-completion leaderboards quote."""
    matched = asked = 0
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        line = text[start:end]
        if line.strip():
            asked += 1
            suggestion = session.complete(text[:start], **options)
            matched += suggestion.rstrip() == line.rstrip()
        start = end + 1
    return matched, asked


def bits_per_character(model: Model, text: str, document_memory: bool = True
                       ) -> tuple[float, int]:
    """(total bits, characters) of text under the model, as the engine scores it."""
    logprobs = model.logprobs(text, document_memory=document_memory)
    return -sum(logprobs) / math.log(2), len(logprobs)


def xz_bits(text: str) -> int:
    """Bits of `xz -9e` output for text (UTF-8), container overhead included."""
    return 8 * len(lzma.compress(text.encode("utf-8", "replace"),
                                 preset=9 | lzma.PRESET_EXTREME))


@dataclass
class LanguageReport:
    language: str
    model: str
    files: int
    characters: int  # characters scored for bits/char
    bits_per_char: float
    xz_bits_per_char: float
    typed_characters: int  # characters typed in the keystroke simulation
    keystrokes_saved: float
    fully_correct_share: float
    mean_suggestion_length: float
    prefix_match_score: float
    latency_ms_median: float
    latency_ms_p90: float
    document_memory: bool = True
    sample_bits_per_char: float | None = None  # on the fixed sample of --samples
    # The same typing by a user who also accepts correct words one by one.
    keystrokes_saved_word_by_word: float | None = None
    # Characters inserted by accepted suggestions, of all typed ("ratio of completed code").
    completed_share: float | None = None
    next_line_exact_match: float | None = None  # of the typed files' non-blank lines
    # Typing inside brackets with the closing one already there (simulate_bracket_typing).
    brackets_keystrokes_saved: float | None = None
    brackets_fully_correct_share: float | None = None
    brackets_unbalanced_share: float | None = None  # of shown suggestions

    @property
    def bits_vs_xz(self) -> float:
        return self.bits_per_char / self.xz_bits_per_char


def take_characters(texts: Iterable[str], budget: int) -> Iterator[str]:
    """The texts in order, the last one cut so that the total is at most `budget`."""
    for text in texts:
        if budget <= 0:
            return
        yield text[:budget]
        budget -= len(text)


def evaluate_language(
    model: Model,
    model_name: str,
    language: str,
    texts: list[str],
    score_chars: int,
    typing_chars: int,
    options: dict,
    progress: bool = True,
) -> LanguageReport:
    scored = list(take_characters(texts, score_chars))
    if not scored or not any(scored):
        raise ValueError(f"{language}: no text to evaluate")
    total_bits = total_chars = 0.0
    for text in tqdm(scored, desc=f"{language} bits/char", unit="file", disable=not progress,
                     leave=False):
        bits, chars = bits_per_character(model, text, options["document_memory"])
        total_bits, total_chars = total_bits + bits, total_chars + chars
    xz = xz_bits("".join(scored)) / total_chars

    typing, by_word, brackets = TypingResult(), TypingResult(), TypingResult()
    lines_matched = lines_asked = 0
    typed = list(take_characters(texts, typing_chars))
    with tqdm(total=sum(map(len, typed)), desc=f"{language} typing", unit="char",
              disable=not progress, leave=False) as bar:
        for text in typed:
            typing.add(simulate_typing(model.session(), text, **options))
            by_word.add(simulate_typing(model.session(), text, word_by_word=True, **options))
            brackets.add(simulate_bracket_typing(model.session(), text, **options))
            matched, asked = next_line_matches(model.session(), text, **options)
            lines_matched, lines_asked = lines_matched + matched, lines_asked + asked
            bar.update(len(text))
    latencies = sorted(typing.latencies_ms)
    return LanguageReport(
        language=language,
        model=model_name,
        files=len(scored),
        characters=int(total_chars),
        bits_per_char=total_bits / total_chars,
        xz_bits_per_char=xz,
        typed_characters=typing.characters,
        keystrokes_saved=1 - typing.keystrokes / max(typing.characters, 1),
        fully_correct_share=typing.fully_correct / max(typing.shown, 1),
        mean_suggestion_length=typing.shown_characters / max(typing.shown, 1),
        prefix_match_score=typing.matching_characters / max(typing.shown_characters, 1),
        latency_ms_median=statistics.median(latencies) if latencies else 0.0,
        latency_ms_p90=latencies[int(0.9 * (len(latencies) - 1))] if latencies else 0.0,
        document_memory=options["document_memory"],
        keystrokes_saved_word_by_word=1 - by_word.keystrokes / max(by_word.characters, 1),
        completed_share=typing.accepted_characters / max(typing.characters, 1),
        next_line_exact_match=lines_matched / max(lines_asked, 1),
        brackets_keystrokes_saved=1 - brackets.keystrokes / max(brackets.characters, 1),
        brackets_fully_correct_share=brackets.fully_correct / max(brackets.shown, 1),
        brackets_unbalanced_share=brackets.unbalanced / max(brackets.shown, 1),
    )


def validation_texts(corpus: Path, language: str) -> list[str]:
    """The validation files that training.corpus set aside for `language`."""
    path = corpus / language / "val.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing (build it with python -m training.corpus)")
    with path.open(encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


def directory_texts(root: Path, language: str) -> list[str]:
    """Files under root that the server would give to `language`'s model, sorted by path."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a directory")
    texts = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if language_of(None, path.resolve().as_uri()) != language:
            continue
        try:
            texts.append(path.read_text(encoding="utf-8").replace("\r\n", "\n"))
        except (OSError, UnicodeDecodeError):
            continue
    if not texts:
        raise FileNotFoundError(f"{root}: no {language} files")
    return texts


def sample_bits_per_char(model: Model, samples: Path, language: str) -> float:
    """Bits/char (memory on) on the language's fixed sample in `samples`, all in one."""
    bits, chars = bits_per_character(model, "".join(directory_texts(samples, language)))
    return bits / chars


def percent(share: float | None) -> str:
    """A share as the tables print it; "–" for a measure the evaluation lacks."""
    return "–" if share is None else f"{100 * share:.1f} %"


def format_table(reports: list[LanguageReport]) -> str:
    header = ("| language | model | memory | bits/char | xz -9e | ratio | keystrokes saved "
              "| word by word | fully correct | completed | next line | mean length "
              "| prefix match | latency median / p90 (ms) | in brackets: saved "
              "| fully correct | unbalanced |")
    lines = [header, "|" + "---|" * 17]
    for r in reports:
        lines.append(
            f"| {r.language} | {r.model} | {'on' if r.document_memory else 'off'} "
            f"| {r.bits_per_char:.3f} | {r.xz_bits_per_char:.3f} "
            f"| {r.bits_vs_xz:.2f} | {100 * r.keystrokes_saved:.1f} % "
            f"| {percent(r.keystrokes_saved_word_by_word)} "
            f"| {100 * r.fully_correct_share:.1f} % | {percent(r.completed_share)} "
            f"| {percent(r.next_line_exact_match)} | {r.mean_suggestion_length:.1f} "
            f"| {100 * r.prefix_match_score:.1f} % "
            f"| {r.latency_ms_median:.2f} / {r.latency_ms_p90:.2f} "
            f"| {percent(r.brackets_keystrokes_saved)} "
            f"| {percent(r.brackets_fully_correct_share)} "
            f"| {percent(r.brackets_unbalanced_share)} |"
        )
    return "\n".join(lines)


def by_language(reports: list[LanguageReport]) -> dict[str, dict]:
    return {r.language: {**asdict(r), "bits_vs_xz": r.bits_vs_xz} for r in reports}


def _model_for(args: argparse.Namespace, language: str) -> Path:
    if args.model:
        return Path(args.model)
    own = Path(args.models_dir) / f"{language}.ttc"
    return own if own.is_file() else Path(args.models_dir) / f"{BASE_MODEL}.ttc"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.evaluate",
                                     description=__doc__.split("\n\n")[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", help="one model file for every language")
    which.add_argument("--models-dir", help="NAME.ttc per language (base.ttc when missing)")
    parser.add_argument("--corpus", default="data/corpus",
                        help="corpus whose validation files to use (default: data/corpus)")
    parser.add_argument("--dir", help="evaluate on the files of this directory instead")
    parser.add_argument("--languages", default="all",
                        help="comma-separated languages, or 'all' (default)")
    parser.add_argument("--score-chars", type=int, default=200_000,
                        help="characters per language for bits/char (default 200000)")
    parser.add_argument("--typing-chars", type=int, default=20_000,
                        help="characters per language typed in the simulation (default 20000)")
    parser.add_argument("--samples", help="also score each model on its language's file "
                        "in this directory (the shipped models' check sample)")
    parser.add_argument("--memory", choices=("on", "off", "both"), default="both",
                        help="document memory on, off, or each in turn (default both)")
    parser.add_argument("--multiline", choices=("off", "block", "auto"),
                        help="where suggestions end: the line, the block, or the block only "
                        "after a block opener (default: the engine's default)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.dir and args.languages == "all":
        parser.error("--dir needs --languages (which language the files are)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.languages == "all":
        corpus = Path(args.corpus)
        languages = [name for name in LANGUAGES if (corpus / name / "val.jsonl").is_file()]
    else:
        languages = [name.strip() for name in args.languages.split(",") if name.strip()]
    if not languages:
        print(f"error: no languages to evaluate in {args.corpus}", file=sys.stderr)
        return 2
    options = default_options()
    if args.multiline:
        options["multiline"] = {"off": False, "block": True, "auto": "auto"}[args.multiline]
    memory_modes = {"on": [True], "off": [False], "both": [True, False]}[args.memory]
    reports, models = [], {}
    for language in languages:
        try:
            path = _model_for(args, language)
            model = Model.load(path)
            texts = (directory_texts(Path(args.dir), language) if args.dir
                     else validation_texts(Path(args.corpus), language))
            for memory in memory_modes:
                report = evaluate_language(
                    model, path.name, language, texts, args.score_chars, args.typing_chars,
                    {**options, "document_memory": memory}, progress=not args.no_progress,
                )
                if args.samples and memory:
                    report.sample_bits_per_char = sample_bits_per_char(
                        model, Path(args.samples), language)
                reports.append(report)
        except (OSError, ModelError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        models[path.name] = {"info": asdict(model.info), "metadata": model.metadata}
    print(format_table(reports))
    base_samples = {}
    base_path = Path(args.models_dir or ".") / f"{BASE_MODEL}.ttc"
    if args.samples and args.models_dir and base_path.is_file():
        base = Model.load(base_path)
        base_samples = {lang: sample_bits_per_char(base, Path(args.samples), lang)
                        for lang in languages}
        models[base_path.name] = {"info": asdict(base.info), "metadata": base.metadata}
    if args.json:
        summary = Path(args.corpus) / "summary.json"
        payload = {
            "options": options,
            "score_chars": args.score_chars,
            "typing_chars": args.typing_chars,
            "corpus": None if args.dir or not summary.is_file()
            else json.loads(summary.read_text()),
            "models": models,
            # what users get (memory on, unless only off was asked), then the other mode
            "languages": by_language([r for r in reports if r.document_memory == memory_modes[0]]),
            "other_memory_mode": by_language(
                [r for r in reports if r.document_memory != memory_modes[0]]),
            "base_samples": base_samples,  # the base model's bits/char on each sample
        }
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
