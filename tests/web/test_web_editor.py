"""The demo's editor (CodeMirror 6, web_demo/editor.js) in headless Chromium: the keys,
multi-line ghost text, the touch chip, the keystrokes-saved counter, every language's
highlighting and suggestions, accessibility, page weight and the committed bundle."""

from __future__ import annotations

import gzip
import subprocess

import pytest
from playwright import sync_api

from tests.web.conftest import ROOT, WEB_DEMO
from tests.web.test_web_demo import (
    editor,
    editor_text,
    ghost_on_screen,
    open_demo,
    settled,
    type_code,
    type_text,
)
from training.evaluate import next_word_length
from ttcc.engine import Model
from ttcc.languages import LANGUAGES

SAMPLES = ROOT / "ttcc" / "models" / "samples"
NODE_MODULES = WEB_DEMO / "codemirror" / "node_modules"
PAGE_WEIGHT_LIMIT = 300 * 1024  # bytes, gzip, everything the page loads but the model


def savings_line(page: sync_api.Page) -> str:
    return page.locator("#savings").text_content()


def test_ctrl_right_accepts_the_next_word(page: sync_api.Page, site: str) -> None:
    open_demo(page, site, "model=../ttcc/models/javascript.ttc")
    assert type_text(page, "xs.") == "map(f)"
    page.keyboard.press("Control+ArrowRight")
    # The rest stays on screen, and the next Ctrl+Right takes its next word.
    assert editor(page) == ("xs.map", "") and ghost_on_screen(page) == "(f)"
    assert settled(page) == "(f)"
    page.keyboard.press("Control+ArrowRight")
    assert editor(page) == ("xs.map(f", "")
    # Each word is an undo step of its own.
    page.keyboard.press("Control+z")
    assert editor(page) == ("xs.map", "")
    # Without a suggestion, Ctrl+Right moves by a word as always.
    page.keyboard.press("Escape")
    page.keyboard.press("Home")
    page.keyboard.press("Control+ArrowRight")
    assert editor(page) == ("xs", ".map")


def test_the_next_word_is_the_one_training_evaluate_counts(page: sync_api.Page, site: str) -> None:
    open_demo(page, site)
    cases = ["ab c", " cd(e)", "(bar)", ")", "", "x_1.y", "  return x", "\n    y", "::a::b"]
    lengths = page.evaluate(
        "async (cases) => { const { nextWordLength } = await import('./editor.js');"
        " return cases.map(nextWordLength); }", cases)  # fmt: skip
    assert lengths == [next_word_length(case) for case in cases]


def test_escape_then_tab_leaves_the_editor(page: sync_api.Page, site: str) -> None:
    open_demo(page, site)
    assert type_text(page, "x =") == " 42"
    page.keyboard.press("Escape")
    assert ghost_on_screen(page) == ""
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") != "code"
    assert editor_text(page) == "x ="


@pytest.mark.parametrize(("query", "shown"), [("", "\n 42"), ("multiline=1", "\n 42"),
                                              ("multiline=0", "")])
def test_a_multi_line_suggestion_is_drawn_as_a_block(
    page: sync_api.Page, site: str, query: str, shown: str
) -> None:
    """After a block opener the default (automatic) mode suggests the block; line mode not."""
    open_demo(page, site, query)
    assert type_text(page, "if x:") == shown
    if shown:
        assert page.locator(".cm-ghost-block").text_content() == " 42"
        page.keyboard.press("Tab")
        assert editor(page) == ("if x:\n 42", "")


def test_a_touch_device_accepts_through_the_chip(browser: sync_api.Browser, site: str) -> None:
    context = browser.new_context(has_touch=True, is_mobile=True,
                                  viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        open_demo(page, site)
        assert type_text(page, "x = ") == "42"
        chip = page.locator(".cm-ghost-accept")
        assert chip.is_visible()
        chip.tap()
        assert editor(page) == ("x = 42", "")
        assert page.evaluate("document.activeElement.id") == "code"
        assert savings_line(page) == "typed 4 · accepted 2 · keystrokes saved 16.7 %"
        assert not errors, errors
    finally:
        context.close()


def test_no_chip_without_touch(page: sync_api.Page, site: str) -> None:
    open_demo(page, site)
    assert type_text(page, "x = ") == "42"
    assert page.locator(".cm-ghost-accept").count() == 0


def test_the_counter_counts_typed_and_accepted_characters(page: sync_api.Page, site: str) -> None:
    open_demo(page, site)
    assert savings_line(page) == "typed 0 · accepted 0 · keystrokes saved 0.0 %"
    assert type_text(page, "x = ") == "42"
    page.keyboard.press("Tab")
    # 6 characters for 5 keystrokes: 1 - 5/6.
    assert savings_line(page) == "typed 4 · accepted 2 · keystrokes saved 16.7 %"
    page.keyboard.press("Enter")
    assert type_text(page, "y = ") == "42"
    page.keyboard.press("Control+ArrowRight")
    # 13 characters (9 typed, 4 accepted) for 11 keystrokes.
    assert savings_line(page) == "typed 9 · accepted 4 · keystrokes saved 15.4 %"
    assert page.evaluate("ttcDemo.savings()") == {
        "typed": 9, "accepted": 4, "accepts": 2, "saved": pytest.approx(1 - 11 / 13)}
    # Deleting and dismissing count nothing.
    page.keyboard.press("Backspace")
    page.keyboard.press("Escape")
    assert page.evaluate("ttcDemo.savings().typed") == 9


@pytest.fixture(scope="module")
def shipped_models() -> dict[str, Model]:
    return {language: Model.load(ROOT / "ttcc" / "models" / f"{language}.ttc")
            for language in LANGUAGES}


def a_line_start_it_completes(model: Model, example: str) -> str:
    """A new line at the example's end: one of its lines (24 characters or more) again, up
    to eight characters past its indentation, after which the model suggests something."""
    start = "" if example.endswith("\n") else "\n"
    for line in example.splitlines():
        indentation = len(line) - len(line.lstrip())
        typed = start + line[: indentation + 8]
        if len(line) >= 24 and model.session().complete(example + typed):
            return typed
    raise AssertionError("no line start the model completes")


def test_every_language_highlights_and_completes(
    page: sync_api.Page, repository_site: str, shipped_models: dict[str, Model]
) -> None:
    assert open_demo(page, repository_site) == "ready"
    for language in LANGUAGES:
        page.select_option("#language", language)
        assert page.evaluate("ttcDemo.ready") == "ready"
        example = next(SAMPLES.glob(f"{language}.*")).read_text()
        page.wait_for_function("(text) => ttcDemo.text() === text", arg=example)
        # The highlighter gave the example's tokens classes of their own.
        page.wait_for_function("document.querySelectorAll('.cm-content .cm-line span[class]')"
                               ".length >= 10")
        page.locator("#code").focus()
        page.keyboard.press("Control+End")
        start = a_line_start_it_completes(shipped_models[language], example)
        type_code(page, start)
        shown = settled(page)
        prefix, suffix = editor(page)
        assert prefix == example + start and suffix == ""
        assert shown == shipped_models[language].session().complete(prefix, suffix), language
        assert shown, f"{language}: no suggestion"
        page.keyboard.press("Control+a")
        page.keyboard.press("Delete")


def test_no_serious_accessibility_violations(page: sync_api.Page, repository_site: str) -> None:
    """axe-core on the page with the example loaded and a suggestion on screen."""
    assert open_demo(page, repository_site) == "ready"
    example = (SAMPLES / "python.py").read_text()
    page.wait_for_function("(text) => ttcDemo.text() === text", arg=example)
    page.keyboard.press("Control+End")
    model = Model.load(ROOT / "ttcc" / "models" / "python.ttc")
    type_code(page, a_line_start_it_completes(model, example))
    assert settled(page)
    page.add_script_tag(path=str(NODE_MODULES / "axe-core" / "axe.min.js"))
    violations = page.evaluate(
        "async () => (await axe.run()).violations.map((v) =>"
        " ({id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.html)}))")
    assert [v for v in violations if v["impact"] in ("critical", "serious")] == []


def page_weight(browser: sync_api.Browser, site: str, language: str) -> int:
    """Bytes, gzip (level 6, as web servers compress), of all the page loads for a visitor
    whose language is `language`, but the model."""
    context = browser.new_context()
    context.add_init_script(f"localStorage.setItem('ttcc.language', '{language}')")
    responses: list[sync_api.Response] = []
    try:
        page = context.new_page()
        page.on("response", lambda response: responses.append(response))
        assert open_demo(page, site) == "ready"
        page.wait_for_function("ttcDemo.text().length > 0")  # the example, the last to load
        bodies = [response.body() for response in responses if not response.url.endswith(".ttc")]
    finally:
        context.close()
    return sum(len(gzip.compress(body, compresslevel=6)) for body in bodies)


def test_the_page_weighs_at_most_300_kb_without_the_model(
    browser: sync_api.Browser, repository_site: str
) -> None:
    weights = {language: page_weight(browser, repository_site, language) for language in LANGUAGES}
    assert max(weights.values()) <= PAGE_WEIGHT_LIMIT, weights


@pytest.mark.skipif(not (NODE_MODULES / ".bin" / "esbuild").exists(),
                    reason="esbuild is missing: bash scripts/setup.sh installs it")
def test_committed_bundle_is_up_to_date() -> None:
    completed = subprocess.run(["bash", str(WEB_DEMO / "codemirror" / "build.sh"), "--check"],
                               capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr

