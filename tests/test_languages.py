"""The language table lives in ttcc/languages.py. The files that cannot import it (the
demo's page and script, the extension's manifest, the models' README) and the corpus
builder's file patterns keep copies, held equal to it here."""

from __future__ import annotations

import json
import re
from pathlib import Path

from training.corpus import EXTENSIONS
from ttcc.languages import BASE_MODEL, LANGUAGES, language_of

ROOT = Path(__file__).resolve().parent.parent


def test_the_corpus_builds_every_language_and_no_other() -> None:
    assert set(EXTENSIONS) == set(LANGUAGES)


def test_the_demo_offers_every_language_and_the_base_model() -> None:
    script = (ROOT / "web_demo" / "app.js").read_text()
    (listed,) = re.findall(r"^const LANGUAGES = (\[.*?\]);$", script, re.M)
    assert json.loads(listed) == [*LANGUAGES, BASE_MODEL]
    page = (ROOT / "web_demo" / "index.html").read_text()
    picker = re.search(r'<select id="language">(.*?)</select>', page, re.S)
    assert picker, "index.html has no language picker"
    assert re.findall(r'<option value="([^"]+)"', picker.group(1)) == [*LANGUAGES, BASE_MODEL]


def test_the_extension_offers_every_language() -> None:
    manifest = json.loads((ROOT / "vscode_client" / "package.json").read_text())
    setting = manifest["contributes"]["configuration"]["properties"]["ttcc.enabledLanguages"]
    assert setting["items"]["enum"] == list(LANGUAGES)
    assert setting["default"] == list(LANGUAGES)


def test_the_models_readme_routes_as_the_server_does() -> None:
    """Each row names the language's file, LSP ids and file extensions; the server sends
    each of those ids and extensions to that file."""
    readme = (ROOT / "ttcc" / "models" / "README.md").read_text()
    rows = re.findall(r"^\| `(\w+)\.ttc` \| [^|]+ \| (.+) \|$", readme, re.M)
    assert [name for name, _ in rows] == [*LANGUAGES, BASE_MODEL]
    for name, routes in rows[:-1]:
        ids, _, extensions = routes.partition("(")
        for language_id in re.findall(r"`([^`]+)`", ids):
            assert language_of(language_id, "untitled:x") == name, language_id
        for extension in re.findall(r"`(\.[^`]+)`", extensions):
            assert language_of(None, f"file:///x{extension}") == name, extension


def test_a_model_ships_for_every_language_and_the_base() -> None:
    shipped = {path.stem for path in (ROOT / "ttcc" / "models").glob("*.ttc")}
    assert shipped == {*LANGUAGES, BASE_MODEL}
