"""The VS Code extension (vscode_client/).

Its own logic runs under node's test runner (`npm test`, no editor); here its manifest
is also checked against the server's settings and language tables. End to end, the
packaged .vsix is installed into code-server (VS Code in a browser), which Debian's
Chromium drives through Playwright: open a Python file, type, see the ghost text the
server suggests, accept it with Tab, and read the saved file back.

scripts/setup.sh installs the npm packages and code-server (scripts/setup_vscode.sh).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright import sync_api

from server.languages import LANGUAGES
from server.settings import _FIELDS, Settings
from tests.browser import chromium
from tests.scripted_model import export_scripted

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / "vscode_client"
CODE_SERVER = CLIENT / "e2e" / "node_modules" / "code-server" / "out" / "node" / "entry.js"
SETUP_HINT = "run `bash scripts/setup.sh` first (it installs vscode_client's npm packages)"

# python.ttc: after "=" the model says " ", then "4", "2", end: typing "x = " shows "42".
PYTHON_SCRIPT = {"=": " ", " ": "4", "4": "2", "2": "<EOS>"}


def npm(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    if not (CLIENT / "node_modules").is_dir():
        pytest.fail(SETUP_HINT)
    return subprocess.run(
        ["npm", "run", "--silent", *args],
        cwd=CLIENT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def unit_tests() -> subprocess.CompletedProcess[str]:
    """`npm test`: compiles the editor-free modules to out-test/ and runs their tests."""
    return npm("test")


def test_unit_tests_pass(unit_tests: subprocess.CompletedProcess[str]) -> None:
    assert unit_tests.returncode == 0, unit_tests.stdout + unit_tests.stderr
    assert re.search(r"^# fail 0$", unit_tests.stdout, re.M), unit_tests.stdout


def test_typecheck() -> None:
    result = npm("typecheck")
    assert result.returncode == 0, result.stdout + result.stderr


def manifest_settings() -> dict[str, dict]:
    manifest = json.loads((CLIENT / "package.json").read_text())
    return manifest["contributes"]["configuration"]["properties"]


def test_contributed_settings_match_the_server() -> None:
    """Every server setting is contributed under its name, with the server's default."""
    properties = manifest_settings()
    defaults = Settings()
    for key, (field, _) in _FIELDS.items():
        assert f"ttcc.{key}" in properties, key
        default = getattr(defaults, field)
        expected = list(default) if isinstance(default, tuple) else default
        assert properties[f"ttcc.{key}"]["default"] == expected, key
    server_side = {f"ttcc.{key}" for key in _FIELDS}
    client_side = {key for key in properties if not key.startswith(("ttcc.server.", "ttcc.trace."))}
    assert client_side == server_side
    assert properties["ttcc.enabledLanguages"]["items"]["enum"] == list(LANGUAGES)
    assert {f.name for f in dataclasses.fields(Settings)} >= {f for f, _ in _FIELDS.values()}


# ---------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def vsix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The extension packaged by its own npm script."""
    result = npm("package")
    assert result.returncode == 0, result.stdout + result.stderr
    out = tmp_path_factory.mktemp("vsix") / "ttcc.vsix"
    shutil.copy(CLIENT / "ttcc.vsix", out)
    return out


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclasses.dataclass
class CodeServer:
    url: str
    workspace: Path
    user_data: Path
    models: Path

    def logs(self) -> str:
        """The extension host's and the ttcc output channel's logs, for failure messages."""
        parts = []
        for path in sorted((self.user_data / "logs").rglob("*.log")):
            if "exthost" in path.parts[-2:] or "ttcc" in path.name or "exthost" in path.name:
                parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)


@pytest.fixture(scope="module")
def code_server(tmp_path_factory: pytest.TempPathFactory, vsix: Path) -> Iterator[CodeServer]:
    """code-server on 127.0.0.1 with the .vsix installed and a workspace folder; the
    extension runs the repository's server on a scripted python.ttc."""
    if not CODE_SERVER.is_file():
        pytest.fail(f"code-server is not installed: {SETUP_HINT}")
    base = tmp_path_factory.mktemp("code-server")
    models, workspace, user_data, extensions = (base / n for n in ("models", "work", "data", "ext"))
    for directory in (models, workspace, user_data / "User", user_data / "Machine"):
        directory.mkdir(parents=True)
    export_scripted(models / "python.ttc", PYTHON_SCRIPT)
    settings = {
        "ttcc.server.pythonPath": sys.executable,
        "ttcc.server.directory": str(ROOT),
        "ttcc.server.modelsDir": str(models),
        "ttcc.minConfidence": 0,
        "workbench.startupEditor": "none",
        "workbench.tips.enabled": False,
        "workbench.enableExperiments": False,
        "extensions.autoCheckUpdates": False,
        "extensions.autoUpdate": False,
        "extensions.ignoreRecommendations": True,
        "telemetry.telemetryLevel": "off",
        "update.mode": "none",
        "git.enabled": False,
        "files.autoSave": "off",
        "editor.quickSuggestions": {"other": False, "comments": False, "strings": False},
        "editor.suggestOnTriggerCharacters": False,
        "editor.wordBasedSuggestions": "off",
    }
    # The pythonPath etc. are machine-scoped: code-server reads those from Machine/.
    for scope in ("User", "Machine"):
        (user_data / scope / "settings.json").write_text(json.dumps(settings, indent=1))
    command = [
        "node",
        str(CODE_SERVER),
        "--config", str(base / "config.yaml"),
        "--user-data-dir", str(user_data),
        "--extensions-dir", str(extensions),
    ]  # fmt: skip
    env = {**os.environ, "XDG_CONFIG_HOME": str(base / "xdg"), "XDG_DATA_HOME": str(base / "xdg")}
    subprocess.run([*command, "--install-extension", str(vsix)], check=True, env=env,
                   capture_output=True, timeout=120)  # fmt: skip
    port = free_port()
    log = (base / "code-server.log").open("w")
    process = subprocess.Popen(
        [
            *command,
            "--auth",
            "none",
            "--bind-addr",
            f"127.0.0.1:{port}",
            "--disable-telemetry",
            "--disable-update-check",
            "--disable-workspace-trust",
            "--disable-getting-started-override",
            str(workspace),
        ],  # fmt: skip
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=2).close()
                break
            except OSError:
                assert process.poll() is None, (base / "code-server.log").read_text()
                assert time.monotonic() < deadline, "code-server did not come up within 60 s"
                time.sleep(0.5)
        yield CodeServer(url, workspace, user_data, models)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def open_file(page: sync_api.Page, name: str) -> sync_api.Locator:
    """Opens name through Quick Open; the focused editor."""
    page.locator(".monaco-workbench").wait_for(timeout=90_000)
    page.keyboard.press("Control+P")
    quick_open = page.locator(".quick-input-widget input")
    quick_open.wait_for()
    quick_open.fill(name)
    page.locator(".quick-input-list .monaco-list-row", has_text=name).first.wait_for()
    page.keyboard.press("Enter")
    editor = page.locator(".editor-instance .monaco-editor").first
    editor.wait_for()
    editor.locator(".view-lines").click()
    return editor


def server_pids(models: Path) -> set[int]:
    """The language servers the extension started on this test's models directory."""
    pids = set()
    for entry in Path("/proc").iterdir():
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if b"server" in arguments and str(models).encode() in arguments:
            pids.add(int(entry.name))
    return pids


def wait_for_server(page: sync_api.Page) -> sync_api.Locator:
    """The status-bar item, once it shows a running server for a Python file."""
    status = page.locator(".statusbar-item:has(.codicon-sparkle):not(:has(.codicon-loading))",
                          has_text="ttcc")
    status.wait_for(timeout=60_000)
    return status.first


def ghost_after_typing(page: sync_api.Page, text: str) -> str:
    page.keyboard.type(text, delay=60)
    ghost = page.locator(".ghost-text-decoration, .ghost-text").first
    ghost.wait_for(timeout=30_000)
    return ghost.inner_text().replace("\u00a0", " ")


def saved(page: sync_api.Page, path: Path, expected: str) -> str:
    page.keyboard.press("Control+S")
    deadline = time.monotonic() + 10
    while path.read_text() != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return path.read_text()


@pytest.mark.slow
def test_ghost_text_in_vscode(code_server: CodeServer) -> None:
    """Typing in a Python file shows the server's suggestion; Tab accepts it; the
    status bar names the model and times the suggestion; a killed server comes back;
    the status bar's toggle turns completions off."""
    source = code_server.workspace / "demo.py"
    source.write_text("import os\n\n")
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        try:
            page.goto(f"{code_server.url}/?folder={code_server.workspace}")
            editor = open_file(page, "demo.py")
            status = wait_for_server(page)  # the extension starts once startup finished
            page.keyboard.press("Control+End")

            assert ghost_after_typing(page, "x = ") == "42"
            shown = status.inner_text()
            assert re.search(r"ttcc python\.ttc [\d.]+ ms", shown), shown
            page.keyboard.press("Tab")
            assert saved(page, source, "import os\n\nx = 42") == "import os\n\nx = 42"

            (first,) = server_pids(code_server.models)
            os.kill(first, signal.SIGKILL)
            deadline = time.monotonic() + 30
            while not server_pids(code_server.models) - {first}:
                assert time.monotonic() < deadline, "the server was not restarted"
                time.sleep(0.2)
            wait_for_server(page)
            assert ghost_after_typing(page, "\ny = ") == "42"
            page.keyboard.press("Tab")

            status.click()  # ttcc.toggle: completions off (didChangeConfiguration)
            page.locator(".statusbar-item", has_text=re.compile(r"^\s*ttcc\s*$")).wait_for()
            editor.locator(".view-lines").click()  # the focus went to the status bar
            page.keyboard.press("Control+End")
            page.keyboard.type("\nz = ", delay=60)
            page.wait_for_timeout(1500)
            assert page.locator(".ghost-text-decoration, .ghost-text").count() == 0
            expected = "import os\n\nx = 42\ny = 42\nz = "
            assert saved(page, source, expected) == expected
        except (AssertionError, sync_api.Error) as error:
            page.screenshot(path=str(code_server.user_data / "failure.png"))
            raise AssertionError(f"{error}\n{code_server.logs()}") from error
