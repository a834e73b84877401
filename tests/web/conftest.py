"""The browser demo's fixtures: a static site laid out like the repository with test
models, the repository itself, and Chromium pages that fail a test on a script error."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright import sync_api

from tests.browser import chromium, static_site
from tests.scripted_model import export_scripted
from ttcc.engine import Model

ROOT = Path(__file__).resolve().parents[2]
WEB_DEMO = ROOT / "web_demo"

# python.ttc: "x = " -> "42"; "(" -> "a)"; "if x:" -> "\n 42" (the line only, unless
# multi-line).   javascript.ttc: "x = " -> "7"; "xs." -> "map(f)".
PYTHON_SCRIPT = {"=": " ", " ": "4", "4": "2", "2": "<EOS>", "(": "a", "a": ")", ")": "<END>",
                 ":": "\n", "\n": " "}
JAVASCRIPT_SCRIPT = {"=": " ", " ": "7", "7": "<EOS>",
                     ".": "m", "m": "a", "a": "p", "p": "(", "(": "f", "f": ")", ")": "<EOS>"}


@pytest.fixture(scope="module")
def site_root(tmp_path_factory: pytest.TempPathFactory, tiny_model_path: Path) -> Path:
    """A tree laid out like the repository: web_demo/ (the repository's), ttcc/models/ (test
    models)."""
    root = tmp_path_factory.mktemp("site")
    (root / "web_demo").symlink_to(WEB_DEMO, target_is_directory=True)
    models = root / "ttcc" / "models"
    models.mkdir(parents=True)
    export_scripted(models / "python.ttc", PYTHON_SCRIPT)
    export_scripted(models / "javascript.ttc", JAVASCRIPT_SCRIPT)
    shutil.copy(tiny_model_path, models / "tiny.ttc")
    damaged = bytearray((models / "python.ttc").read_bytes())
    damaged[len(damaged) // 2] ^= 0x40
    (models / "damaged.ttc").write_bytes(damaged)
    return root


@pytest.fixture(scope="module")
def site(site_root: Path) -> Iterator[str]:
    """Base URL of a static server over site_root on 127.0.0.1."""
    with static_site(site_root) as url:
        yield url


@pytest.fixture(scope="module")
def repository_site() -> Iterator[str]:
    """Base URL of a static server over the repository: the demo with the shipped models."""
    with static_site(ROOT) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: sync_api.Browser) -> Iterator[sync_api.Page]:
    """A fresh page (its own storage) that fails the test on any uncaught script error."""
    context = browser.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, errors


@pytest.fixture(scope="module")
def tiny(tiny_model_path: Path) -> Model:
    return Model.load(tiny_model_path)
