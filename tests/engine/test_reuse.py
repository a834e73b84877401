"""State reuse across keystrokes: invisible in the results, and cheap."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ttcc import shipped_models_dir
from ttcc.engine import EngineError, Model

PIECES = [*"abcdefxyz_ ()[]{}:;=.,'\"\n\t\ré😀", "\r\n", "    "]
TEXT = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)
EDIT = st.one_of(
    st.tuples(st.just("type"), TEXT),
    st.tuples(st.just("delete"), st.integers(1, 8)),
    st.tuples(st.just("paste"), st.text(min_size=50, max_size=400)),
    st.tuples(st.just("move"), st.floats(0, 1)),
    st.tuples(st.just("accept"), st.integers(1, 8)),
)
OPTIONS = st.fixed_dictionaries(
    {
        "multiline": st.sampled_from([False, True, "auto"]),
        "max_chars": st.integers(1, 12),
        "document_memory": st.booleans(),
        # other open documents the memory also reads
        "memory_text": st.sampled_from(["", "abc(x) = [y]\n", "abc(x) = [y]\n\tz\r\n"]),
    },
)


@pytest.fixture(scope="module")
def model(tiny_model_path: Path) -> Model:
    return Model.load(tiny_model_path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=st.text(max_size=300), edits=st.lists(EDIT, min_size=1, max_size=12), data=st.data())
def test_reused_session_equals_fresh_session(model: Model, start: str, edits: list, data) -> None:
    """Also with drafts (a reused session that checks 8 drafted tokens a pass) and with
    idle work between requests, any part of it: for the request just answered (the
    suggestions after its likeliest next characters) and for a document typed on (the
    window's next prompt)."""
    reused = model.session(draft_tokens=1)
    drafting = model.session(draft_tokens=8)
    preparing = model.session()
    document, cursor, suggestion = start, len(start), ""
    for kind, argument in edits:
        if kind in ("type", "paste"):
            document = document[:cursor] + argument + document[cursor:]
            cursor += len(argument)
        elif kind == "delete":
            removed = min(argument, cursor)
            document = document[: cursor - removed] + document[cursor:]
            cursor -= removed
        elif kind == "move":
            cursor = int(argument * len(document))
        elif kind == "accept":
            typed = suggestion[:argument]
            document = document[:cursor] + typed + document[cursor:]
            cursor += len(typed)
        options = data.draw(OPTIONS)
        prefix, suffix = document[:cursor], document[cursor:]
        suggestion = reused.complete(prefix, suffix, min_confidence=0.0, **options)
        fresh = model.session(draft_tokens=1).complete(prefix, suffix, min_confidence=0.0,
                                                       **options)
        assert suggestion == fresh
        assert drafting.complete(prefix, suffix, min_confidence=0.0, **options) == fresh
        assert preparing.complete(prefix, suffix, min_confidence=0.0, **options) == fresh
        for _ in range(data.draw(st.integers(0, 3))):
            preparing.prepare(prefix, suffix, max_tokens=data.draw(st.integers(1, 40)),
                              min_confidence=0.0, **options)
        # as if the user typed on: their next request may be anywhere in the next step
        ahead = prefix + data.draw(st.sampled_from(PIECES)) * data.draw(st.integers(0, 250))
        preparing.prepare(ahead, suffix, max_tokens=data.draw(st.integers(1, 300)))


def test_drafts_accepted_or_rejected_change_no_suggestion() -> None:
    """A shipped model typing its sample file, at the end and in the middle, with the
    server's defaults: checking drafted tokens 8 a pass suggests what one token a pass
    does, keystroke after keystroke (so what rejected drafts left in the cache changes
    nothing later), and some drafts were rejected (more tokens run)."""
    model = Model.load(shipped_models_dir() / "python.ttc")
    text = (shipped_models_dir() / "samples" / "python.py").read_text()[:2500]
    plain, drafting = model.session(draft_tokens=1), model.session(draft_tokens=8)
    for cursor in range(100, len(text), 3):
        for suffix in ("", text[cursor:cursor + 80]):
            assert (drafting.complete(text[:cursor], suffix)
                    == plain.complete(text[:cursor], suffix)), (cursor, suffix)
    assert drafting.forwarded_tokens > plain.forwarded_tokens


# The kernel sets that check drafts by default: those whose pass of several tokens costs
# little more than one (bench/bench_drafts.py; docs/RESULTS.md, "Drafted decoding").
DEFAULT_DRAFT_TOKENS = {"avx512vnni": 4}


@pytest.mark.parametrize("kernels", ["generic", "avx2", "avx512", "avx512vnni", "neon"])
def test_the_kernels_choose_how_many_drafted_tokens_a_pass_checks(kernels: str) -> None:
    """A session that leaves draft_tokens to the engine runs exactly the tokens of one
    that asks for its kernels' choice (drafts rejected cost tokens, so the counts tell
    the choices apart)."""
    model = Model.load(shipped_models_dir() / "python.ttc")
    text = (shipped_models_dir() / "samples" / "python.py").read_text()[:600]
    try:
        default = model.session(kernels=kernels)
    except EngineError:
        pytest.skip(f"no {kernels} kernels on this CPU")
    chosen = DEFAULT_DRAFT_TOKENS.get(kernels, 1)
    other = 1 if chosen > 1 else 4
    sessions = {"default": default, chosen: model.session(kernels=kernels, draft_tokens=chosen),
                other: model.session(kernels=kernels, draft_tokens=other)}
    for cursor in range(100, len(text), 10):
        for session in sessions.values():
            session.complete(text[:cursor])
    runs = {name: session.forwarded_tokens for name, session in sessions.items()}
    assert runs["default"] == runs[chosen] != runs[other], runs


def long_suggestion(model: Model, max_chars: int) -> tuple[str, str]:
    """A prefix for which the random model suggests max_chars characters."""
    for i in range(200):
        prefix = f"x{i} = compute("
        suggestion = model.session().complete(prefix, min_confidence=0.0, max_chars=max_chars)
        if len(suggestion) == max_chars:
            return prefix, suggestion
    pytest.fail("no prefix gave a full-length suggestion")


def test_typing_through_a_suggestion_runs_nothing(model: Model) -> None:
    prefix, suggestion = long_suggestion(model, 16)
    session = model.session()
    session.complete(prefix, min_confidence=0.0, max_chars=16)
    for k in range(1, len(suggestion)):
        before = session.forwarded_tokens
        rest = session.complete(
            prefix + suggestion[:k], min_confidence=0.0, max_chars=len(suggestion) - k
        )
        assert rest == suggestion[k:].rstrip()
        assert session.forwarded_tokens == before, f"typing {k} characters ran the model"


def test_typing_through_runs_only_what_is_new(model: Model) -> None:
    prefix, suggestion = long_suggestion(model, 16)
    session = model.session()
    session.complete(prefix, min_confidence=0.0, max_chars=16)
    for k in range(1, 6):
        before = session.forwarded_tokens
        rest = session.complete(prefix + suggestion[:k], min_confidence=0.0, max_chars=16)
        # The suggestion now reaches k characters further than the first one did:
        # at most those k are new; the k typed characters cost nothing.
        assert rest.startswith(suggestion[k:].rstrip())
        assert session.forwarded_tokens - before <= 1


def test_keystrokes_in_a_long_document_are_cheap(model: Model) -> None:
    window = model.info.window
    line = "item = table[index] + 1\n"
    document = line * (3 * window // len(line))
    session = model.session()
    costs = []
    for end in range(window, 3 * window):
        before = session.forwarded_tokens
        session.complete(document[:end], max_chars=1, min_confidence=1.0)
        costs.append(session.forwarded_tokens - before)
    # The window start moves in steps of window/4: a full re-run about every
    # window/4 keystrokes, one token otherwise.
    reruns = sum(cost > 1 for cost in costs)
    assert reruns <= len(costs) // (window // 4) + 1
    assert sorted(costs)[len(costs) // 2] == 1


def test_a_prepared_window_move_runs_only_what_was_typed() -> None:
    """A shipped model typing its sample with the server's defaults, preparing while
    idle: the same suggestions as without, and no keystroke re-reads the window (without
    preparing, every window/4 characters one runs about 160 tokens)."""
    model = Model.load(shipped_models_dir() / "python.ttc")
    text = (shipped_models_dir() / "samples" / "python.py").read_text()[:1500]
    plain, preparing = model.session(), model.session()
    plain_costs, prepared_costs, prepared = [], [], 0
    for end in range(1, len(text)):
        before = plain.forwarded_tokens, preparing.forwarded_tokens
        assert preparing.complete(text[:end]) == plain.complete(text[:end]), end
        plain_costs.append(plain.forwarded_tokens - before[0])
        prepared_costs.append(preparing.forwarded_tokens - before[1])
        while ran := preparing.prepare(text[:end], max_tokens=32):
            assert ran <= 32
            prepared += ran
    longest_suggestion = 64 + 2
    assert max(plain_costs) > 100
    assert max(prepared_costs) <= longest_suggestion
    assert prepared > 100


def test_prepare_waits_for_the_window_and_allocates_only_then(model: Model) -> None:
    window = model.info.window
    session = model.session()
    held = session.memory_bytes
    assert session.prepare("x" * (window // 2)) == 0
    assert session.memory_bytes == held
    near_the_move = "x" * (window - 40)
    assert session.prepare(near_the_move, max_tokens=5) == 5
    assert session.memory_bytes > held
    while session.prepare(near_the_move):
        pass
    assert session.prepare(near_the_move) == 0
    with pytest.raises(ValueError):
        session.prepare(near_the_move, max_tokens=0)


def test_typing_a_guessed_character_runs_nothing() -> None:
    """A shipped model typing its sample with the server's defaults, doing its idle work
    after each keystroke: the same suggestions as without, and many keystrokes that did
    not type the suggestion's first character (which runs a suggestion, without idle work)
    run nothing, because idle work ran the request after that character."""
    model = Model.load(shipped_models_dir() / "python.ttc")
    text = (shipped_models_dir() / "samples" / "python.py").read_text()[:1200]
    plain, preparing = model.session(), model.session()
    decoded, guessed = 0, 0
    for end in range(101, len(text)):
        before = plain.forwarded_tokens, preparing.forwarded_tokens
        assert preparing.complete(text[:end]) == plain.complete(text[:end]), end
        if plain.forwarded_tokens > before[0]:
            decoded += 1
            guessed += preparing.forwarded_tokens == before[1]
        while preparing.prepare(text[:end]):
            pass
    assert guessed > decoded // 3, (guessed, decoded)


@pytest.mark.parametrize("sample", ["python.py", "go.go", "rust.rs"])
def test_typing_the_suggestions_first_character_after_idle_work_runs_nothing(sample: str) -> None:
    """Typing the suggestion's first character runs what the rest of the suggestion, a
    character shorter and so more confident, now decodes further; idle work runs that
    in the session's own state. A shipped model typing the start of a sample that stays
    inside its window (no move of the window's start, which idle work does elsewhere)."""
    model = Model.load(shipped_models_dir() / f"{sample.split('.')[0]}.ttc")
    window = model.info.window
    text = (shipped_models_dir() / "samples" / sample).read_text()[: window - window // 8 - 1]
    session = model.session()
    suggestion, typed_through = session.complete(text[:20]), 0
    for end in range(21, len(text) + 1):
        while session.prepare(text[: end - 1]):
            pass
        before = session.forwarded_tokens
        if suggestion[:1] == text[end - 1]:
            typed_through += 1
            suggestion = session.complete(text[:end])
            assert session.forwarded_tokens == before, (end, suggestion)
        else:
            suggestion = session.complete(text[:end])
    assert typed_through > len(text) // 4
