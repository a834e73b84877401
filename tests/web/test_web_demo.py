"""The browser demo (web_demo/) end to end in headless Chromium through Playwright.

A static server serves a temporary tree laid out like the repository (web_demo/
linked in, ttcc/models/ holding test models), so the page loads ../ttcc/models/NAME.ttc as
it does when the repository root is served. Scripted models make the suggestions
known in advance; a random tiny model checks that the WebAssembly engine (the
relaxed SIMD module, which Chromium runs) suggests exactly what the native engine
does for the same text. The main-thread test serves the repository itself, so the
page runs a shipped model (ttcc/models/python.ttc) on real code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright import sync_api

from tests.web.main_thread import MainThread, traced
from ttcc.engine import Model, ModelError

ROOT = Path(__file__).resolve().parents[2]

# The options that make the random model suggest something at every keystroke.
NATIVE_OPTIONS = {"min_confidence": 0.0, "max_chars": 16}
NATIVE_QUERY = "model=../ttcc/models/tiny.ttc&minConfidence=0&maxChars=16"

# The main-thread test: the page as a visitor opens it (Python: the shipped model, its
# highlighting, the demo's own options), on real code.
SHIPPED_QUERY = ""
SAMPLE = ROOT / "ttcc" / "models" / "samples" / "python.py"
# Between keydown and keyup: about 100 keys a second here, faster than anyone
# types, yet with time between keys for suggestions to arrive and show.
TYPING_DELAY_MS = 5


# ---- helpers ---------------------------------------------------------------


def open_demo(page: sync_api.Page, site: str, query: str = "") -> str:
    """Opens the demo, waits until its model loaded or failed; returns "ready" or "error"."""
    page.goto(f"{site}/web_demo/index.html" + (f"?{query}" if query else ""))
    page.wait_for_function("window.ttcDemo && ttcDemo.state() !== 'loading'")
    page.locator("#code").focus()
    return page.evaluate("ttcDemo.state()")


def settled(page: sync_api.Page) -> str:
    """Waits for the answer to the latest keystroke; returns the ghost text on screen."""
    suggestion = page.evaluate("ttcDemo.settled()")
    assert ghost_on_screen(page) == suggestion
    return suggestion


def ghost_on_screen(page: sync_api.Page) -> str:
    """The grey text drawn: its first line at the caret, the others in a block below."""
    return "\n".join(page.locator(".cm-ghost").all_text_contents())


def editor(page: sync_api.Page) -> tuple[str, str]:
    """(text before the caret, text after it)."""
    text, caret = page.evaluate("[ttcDemo.text(), ttcDemo.caret()]")
    assert caret is not None, "text is selected"
    return text[:caret], text[caret:]


def editor_text(page: sync_api.Page) -> str:
    return page.evaluate("ttcDemo.text()")


def set_text(page: sync_api.Page, text: str) -> None:
    """Replaces the editor's text as a paste would, with the caret at its end."""
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(text) if text else page.keyboard.press("Delete")
    assert editor(page) == (text, "")


def type_text(page: sync_api.Page, text: str) -> str:
    page.keyboard.type(text)
    return settled(page)


def type_code(page: sync_api.Page, text: str, delay_ms: float = 0) -> None:
    """Types text exactly, with real key events. After each Enter, Shift+Home selects the
    indentation the editor added, and the line's own indentation is typed over it."""
    assert "\t" not in text, "Tab would accept a suggestion instead of typing"
    for number, line in enumerate(text.split("\n")):
        if number:
            page.keyboard.press("Enter", delay=delay_ms)
            page.keyboard.press("Shift+Home", delay=delay_ms)
        page.keyboard.type(line, delay=delay_ms)


def assert_ghost_in_view(page: sync_api.Page) -> None:
    ghost = page.locator(".cm-ghost").first.bounding_box()
    scroller = page.locator(".cm-scroller").bounding_box()
    assert ghost and scroller
    bottom = scroller["y"] + scroller["height"]
    assert scroller["y"] <= ghost["y"] and ghost["y"] + ghost["height"] <= bottom


def long_document(length: int) -> str:
    text, number = "", 0
    while len(text) < length:
        text += f"def function_{number}(value):\n    return value * {number} + offset\n"
        number += 1
    return text


# Installed just before typing, so the model load is not measured. A suggestion counts
# as shown when the editor's data-suggestion changes to a text that is not what is left
# of the previous one as its characters are typed.
WATCH_SUGGESTIONS = """() => {
  const shownIn = document.querySelector("[data-suggestion]");
  const watch = { suggestions: 0, latencies: [] };
  let keyTime = 0;
  addEventListener("keydown", (event) => (keyTime = event.timeStamp), true);
  new MutationObserver((records) => {
    records.forEach((record, i) => {
      const shown = i + 1 < records.length ? records[i + 1].oldValue : shownIn.dataset.suggestion;
      if (shown && !(record.oldValue ?? "").endsWith(shown)) {
        watch.suggestions += 1;
        watch.latencies.push(performance.now() - keyTime);
      }
    });
  }).observe(shownIn, {
    attributes: true, attributeFilter: ["data-suggestion"], attributeOldValue: true,
  });
  window.ttcWatch = watch;
}"""

BLOCKING_MS = 50  # a frame in which the demo's scripts take this much CPU blocks typing


@dataclass
class Typing:
    main_thread: MainThread  # the demo's scripts per frame (its origin's URLs, CodeMirror too)
    suggestions: int  # suggestions shown while typing
    latencies: list[float]  # ms from a keydown to the suggestion it brought on screen

    def blocking_frames(self) -> list[float]:
        """The CPU ms of the demo's scripts in each frame where they reached BLOCKING_MS."""
        return [ms for ms in self.main_thread.script_cpu_ms if ms >= BLOCKING_MS]


def python_code(start: int, length: int) -> str:
    """length characters of the shipped Python sample, repeated, from offset start."""
    sample = SAMPLE.read_text()
    repeats = (start + length) // len(sample) + 1
    return (sample * repeats)[start : start + length]


def type_watching_the_main_thread(page: sync_api.Page, text: str, delay_ms: float) -> Typing:
    """Types text with real key events at the caret; what the main thread went through."""
    page.evaluate(WATCH_SUGGESTIONS)
    with traced(page) as main_thread:
        type_code(page, text, delay_ms)
        page.evaluate("ttcDemo.settled()")
    watch = page.evaluate("window.ttcWatch")
    return Typing(main_thread, watch["suggestions"], watch["latencies"])


# ---- tests -----------------------------------------------------------------


def test_typing_shows_the_scripted_suggestion(page: sync_api.Page, site: str) -> None:
    assert open_demo(page, site) == "ready"
    status = page.locator("#status").text_content()
    assert "python.ttc" in status and "parameters" in status and status.endswith("ready")
    # Chromium runs the relaxed SIMD module (engine-relaxed.wasm), and the status says so.
    assert "wasm relaxed-simd" in status
    assert page.evaluate("ttcDemo.engine()") == {"variant": "relaxed-simd", "fallbackReason": None}

    assert type_text(page, "x") == ""
    assert type_text(page, " =") == " 42"
    # The ghost sits at the caret, in the line.
    assert page.locator(".cm-activeLine").text_content() == "x = 42"
    assert type_text(page, " ") == "42"
    assert page.evaluate("ttcDemo.lastSuggestion()") == "42"
    assert editor(page) == ("x = ", "")
    assert " ms · ready" in page.locator("#status").text_content()


def test_tab_accepts_exactly_the_suggestion(page: sync_api.Page, site: str) -> None:
    open_demo(page, site)
    assert type_text(page, "x = ") == "42"
    page.keyboard.press("Tab")
    assert editor(page) == ("x = 42", "")
    # After "2" the script ends: no suggestion, so Tab indents.
    assert settled(page) == ""
    page.keyboard.press("Tab")
    assert editor(page) == ("x = 42    ", "")
    # Accepting is one undo step of its own: the indent, then the suggestion, go.
    page.keyboard.press("Control+z")
    assert editor(page) == ("x = 42", "")
    page.keyboard.press("Control+z")
    assert editor(page) == ("x = ", "")
    page.keyboard.press("Control+y")  # redo
    assert editor(page) == ("x = 42", "")


def test_escape_click_and_arrow_keys_clear_the_suggestion(page: sync_api.Page, site: str) -> None:
    open_demo(page, site)
    assert type_text(page, "x =") == " 42"
    page.keyboard.press("Escape")
    assert ghost_on_screen(page) == "" and settled(page) == ""

    assert type_text(page, " ") == "42"
    page.keyboard.press("ArrowLeft")
    assert ghost_on_screen(page) == "" and settled(page) == ""
    page.keyboard.press("ArrowRight")
    assert ghost_on_screen(page) == ""

    assert type_text(page, "y =") == " 42"
    page.locator("#code").click()
    assert ghost_on_screen(page) == "" and settled(page) == ""
    # Tab without a suggestion indents instead of accepting a cleared one.
    page.keyboard.press("End")
    page.keyboard.press("Tab")
    assert editor_text(page) == "x = y =    "


def test_mid_line_suggestion_replaces_the_retyped_bracket(page: sync_api.Page, site: str) -> None:
    open_demo(page, site)
    page.keyboard.type("g)")
    page.keyboard.press("ArrowLeft")
    assert type_text(page, "(") == "a)"
    assert editor(page) == ("g(", ")")
    assert page.locator(".cm-activeLine").text_content() == "g(a))"
    page.keyboard.press("Tab")
    assert editor(page) == ("g(a)", "")


def test_switching_language_loads_the_other_model(page: sync_api.Page, site: str) -> None:
    open_demo(page, site)
    assert type_text(page, "x = ") == "42"

    page.select_option("#language", "javascript")
    assert page.evaluate("ttcDemo.ready") == "ready"
    assert "javascript.ttc" in page.locator("#status").text_content()
    page.locator("#code").focus()
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    assert type_text(page, "y = ") == "7"

    # The choice persists.
    page.reload()
    page.wait_for_function("window.ttcDemo && ttcDemo.state() === 'ready'")
    assert page.locator("#language").input_value() == "javascript"
    assert "javascript.ttc" in page.locator("#status").text_content()


@pytest.mark.parametrize(
    ("query", "name", "reason"),
    [
        # None: the native engine's words
        ("model=../ttcc/models/damaged.ttc", "damaged.ttc", None),
        ("model=../ttcc/models/missing.ttc", "missing.ttc", "HTTP 404"),
        # No network but this site: a model from elsewhere is refused, not fetched.
        ("model=http://example.invalid/x.ttc", "x.ttc", "from this site only"),
    ],
)
def test_a_model_that_fails_to_load_leaves_the_editor_usable(
    page: sync_api.Page, site: str, site_root: Path, query: str, name: str, reason: str | None
) -> None:
    if reason is None:
        with pytest.raises(ModelError) as error:
            Model.load(site_root / "ttcc" / "models" / name)
        reason = str(error.value).split(": ", 1)[1]
        assert "checksum" in reason

    assert open_demo(page, site, query) == "error"
    banner = page.locator("#error")
    assert banner.is_visible()
    assert name in banner.text_content() and reason in banner.text_content()
    assert page.locator("#status").text_content().endswith("error")

    page.keyboard.type("x = é")
    page.keyboard.press("Tab")
    assert editor_text(page) == "x = é    "
    assert ghost_on_screen(page) == ""

    # Choosing a language retries and clears the banner.
    page.select_option("#language", "python")
    assert page.evaluate("ttcDemo.ready") == "ready"
    assert not banner.is_visible()
    page.locator("#code").focus()
    page.keyboard.press("Control+End")
    page.keyboard.press("Enter")
    assert type_text(page, "y = ") == "42"


@pytest.mark.parametrize(("multiline", "query_value"),
                         [(False, "0"), (True, "1"), ("auto", "auto"), ("auto", None)])
def test_suggestions_equal_the_native_engine(
    page: sync_api.Page, site: str, tiny: Model, multiline: bool | str, query_value: str | None
) -> None:
    # No ?multiline: the engine's default, automatic.
    query = NATIVE_QUERY + (f"&multiline={query_value}" if query_value else "")
    assert open_demo(page, site, query) == "ready"
    native = tiny.session()
    text = "def add(a, b):\n    return a + b\n\nfor i in range(10):\n    print(add(i, 1))"
    shown = []
    for char in text:
        suggestion = type_text(page, char)
        prefix, suffix = editor(page)
        assert suggestion == native.complete(prefix, suffix, multiline=multiline, **NATIVE_OPTIONS)
        shown.append(suggestion)
    assert any(shown), "the random model should suggest something with min_confidence 0"

    # Mid-line, with text after the caret.
    for _ in range(6):
        page.keyboard.press("ArrowLeft")
    for char in "x, ":
        suggestion = type_text(page, char)
        prefix, suffix = editor(page)
        assert suffix == "i, 1))"
        assert suggestion == native.complete(prefix, suffix, multiline=multiline, **NATIVE_OPTIONS)


def test_a_document_longer_than_the_window(page: sync_api.Page, site: str, tiny: Model) -> None:
    assert open_demo(page, site, NATIVE_QUERY) == "ready"
    window = page.evaluate("ttcDemo.info().window")
    assert window == tiny.info.window == 256
    document = long_document(6 * window)
    set_text(page, document)
    native = tiny.session()
    for char in "def more(x):":
        suggestion = type_text(page, char)
        prefix, suffix = editor(page)
        assert len(prefix) > 6 * window
        assert suggestion == native.complete(prefix, suffix, **NATIVE_OPTIONS)

    # The editor scrolled to the caret, and the ghost is drawn there, in view.
    assert page.evaluate("document.querySelector('.cm-scroller').scrollTop") > 0
    assert_ghost_in_view(page)

    # An edit near the start of the long document.
    page.keyboard.press("Control+Home")
    page.keyboard.press("End")
    suggestion = type_text(page, " # first")
    prefix, suffix = editor(page)
    assert len(suffix) > 6 * window
    assert suggestion == native.complete(prefix, suffix, **NATIVE_OPTIONS)


def test_non_ascii_text_is_accepted_as_typed(page: sync_api.Page, site: str, tiny: Model) -> None:
    open_demo(page, site)
    assert type_text(page, "naïve = '日本' 🙂 =") == " 42"
    page.keyboard.press("Tab")
    assert editor(page) == ("naïve = '日本' 🙂 = 42", "")

    # Each non-ASCII character is one unknown token, in WebAssembly as natively.
    page.goto("about:blank")
    assert open_demo(page, site, NATIVE_QUERY) == "ready"
    native = tiny.session()
    for chunk in ["s = 'héllo", " wörld'", "  # 🙂 ok", "\nprint(s"]:
        suggestion = type_text(page, chunk)
        prefix, suffix = editor(page)
        assert suggestion == native.complete(prefix, suffix, **NATIVE_OPTIONS)


def test_the_document_memory_switch(page: sync_api.Page, site: str, tiny: Model) -> None:
    """On by default; off, the random model no longer copies the repeated identifier."""
    assert open_demo(page, site, NATIVE_QUERY) == "ready"
    switch = page.locator("#memory")
    assert switch.is_visible() and switch.is_checked()
    set_text(page, "alpha_beta_gamma = 1\nx = 2\nalpha_")
    with_memory = type_text(page, "b")
    prefix, suffix = editor(page)
    assert with_memory == tiny.session().complete(prefix, suffix, **NATIVE_OPTIONS)
    assert with_memory.startswith("eta_gamma")

    # Toggling asks again for the same text.
    switch.uncheck()
    without = settled(page)
    assert without == tiny.session().complete(
        prefix, suffix, document_memory=False, **NATIVE_OPTIONS
    )
    assert without != with_memory
    switch.check()
    assert settled(page) == with_memory
    assert editor(page) == (prefix, suffix)


def test_memory_0_in_the_query_turns_the_memory_off(
    page: sync_api.Page, site: str, tiny: Model
) -> None:
    assert open_demo(page, site, NATIVE_QUERY + "&memory=0") == "ready"
    assert not page.locator("#memory").is_checked()
    set_text(page, "alpha_beta_gamma = 1\nx = 2\nalpha_")
    suggestion = type_text(page, "b")
    prefix, suffix = editor(page)
    assert suggestion == tiny.session().complete(
        prefix, suffix, document_memory=False, **NATIVE_OPTIONS
    )
    assert not suggestion.startswith("eta")


def test_typing_into_a_long_document_never_blocks_the_main_thread(
    page: sync_api.Page, repository_site: str
) -> None:
    """2,000 characters typed at the end of a 2,000-character document, suggestions on:
    no animation frame in which the demo's own scripts take 50 ms of CPU or more."""
    typing = type_into_a_long_document(page, repository_site)
    assert typing.blocking_frames() == [], "frames with 50 CPU ms or more of the demo's scripts"
    # The suggestions ran all along: at least one shown every 20 characters.
    assert typing.suggestions >= len(LONG_TYPED) // 20


def test_the_main_thread_watch_catches_a_stall_in_the_input_handler(
    page: sync_api.Page, repository_site: str
) -> None:
    """The same typing with 80 ms of busy work added to what app.js runs on every edit:
    the watch above must see it, attributed to the demo's script."""
    app = (ROOT / "web_demo" / "app.js").read_text()
    handler = "function requestSuggestion() {"
    assert app.count(handler) == 1
    stalled = app.replace(handler, handler + STALL_MS_80)
    page.route("**/web_demo/app.js", lambda route: route.fulfill(
        body=stalled, content_type="text/javascript"))  # fmt: skip
    typing = type_into_a_long_document(page, repository_site, typed_length=40)
    assert len(typing.blocking_frames()) >= 20, typing.main_thread.script_cpu_ms


STALL_MS_80 = "\n  for (const until = performance.now() + 80; performance.now() < until; );"
LONG_TYPED = python_code(2000, 2000)


def type_into_a_long_document(page: sync_api.Page, site: str,
                              typed_length: int = len(LONG_TYPED)) -> Typing:
    assert open_demo(page, site, SHIPPED_QUERY) == "ready"
    document, typed = python_code(0, 2000), LONG_TYPED[:typed_length]
    set_text(page, document)
    settled(page)
    typing = type_watching_the_main_thread(page, typed, TYPING_DELAY_MS)
    assert editor_text(page) == document + typed
    return typing
