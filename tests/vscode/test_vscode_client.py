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
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright import sync_api

from tests.browser import chromium
from tests.conftest import export_random
from tests.network import NO_NETWORK
from tests.sample_project import make_project, python_file
from tests.scripted_model import export_scripted
from ttcc.server.settings import _FIELDS, Settings

ROOT = Path(__file__).resolve().parents[2]
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
    own = ("ttcc.server.", "ttcc.trace.", "ttcc.adapt.")  # the extension's, not the server's
    client_side = {key for key in properties if not key.startswith(own)}
    assert client_side == server_side


def test_the_adaptation_budget_defaults_to_training_adapts() -> None:
    from training.adapt import DEFAULT_MINUTES

    assert manifest_settings()["ttcc.adapt.minutes"]["default"] == DEFAULT_MINUTES
    assert {f.name for f in dataclasses.fields(Settings)} >= {f for f, _ in _FIELDS.values()}


# ---------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def vsix(dist: Path) -> Path:
    """The product: scripts/package.sh's linux-x64 .vsix, with the ttcc wheel and its
    dependencies' wheels (and pip's) inside: packaged around the test run's wheelhouse."""
    command = ["bash", str(ROOT / "scripts" / "package.sh"), "--out", str(dist), "--vsix-only"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    (path,) = dist.glob("ttcc-linux-x64-*.vsix")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]




class UnixForwarder:
    """127.0.0.1:port to a unix socket, byte for byte (HTTP and websockets alike): how
    Chromium, outside code-server's network namespace, reaches it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            upstream = socket.socket(socket.AF_UNIX)
            try:
                upstream.connect(str(self.path))
            except OSError:
                client.close()
                upstream.close()
                continue
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
            target.shutdown(socket.SHUT_WR)
        except OSError:
            source.close()
            target.close()

    def close(self) -> None:
        self.listener.close()


@dataclasses.dataclass
class CodeServer:
    url: str
    workspace: Path
    user_data: Path
    extensions: Path
    pid: int

    @property
    def storage(self) -> Path:
        """The extension's global storage folder (context.globalStorageUri)."""
        return self.user_data / "User" / "globalStorage" / "ttcc.ttcc"

    def logs(self, tail: int = 4000) -> str:
        """The extension host's and the ttcc output channel's logs (their last `tail`
        characters), for failure messages."""
        parts = []
        for path in sorted((self.user_data / "logs").rglob("*.log")):
            if "exthost" in path.parts[-2:] or "ttcc" in path.name or "exthost" in path.name:
                parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-tail:]}")
        return "\n".join(parts)

    def ttcc_log(self) -> str:
        """The whole ttcc output channel."""
        return "\n".join(
            p.read_text(errors="replace") for p in (self.user_data / "logs").rglob("*ttcc.log")
        )


QUIET_WORKBENCH = {
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


@contextmanager
def running_code_server(
    base: Path,
    vsix: Path,
    settings: dict[str, object],
    env: dict[str, str] | None = None,
    prefix: list[str] | None = None,
) -> Iterator[CodeServer]:
    """code-server with the .vsix installed, a workspace folder and these settings, in
    env (default: this process's); with a command prefix (a network namespace), it listens
    on a unix socket that a UnixForwarder serves on 127.0.0.1."""
    if not CODE_SERVER.is_file():
        pytest.fail(f"code-server is not installed: {SETUP_HINT}")
    workspace, user_data, extensions = (base / n for n in ("work", "data", "ext"))
    for directory in (workspace, user_data / "User", user_data / "Machine"):
        directory.mkdir(parents=True)
    # The server.* settings are machine-scoped: code-server reads those from Machine/.
    for scope in ("User", "Machine"):
        (user_data / scope / "settings.json").write_text(
            json.dumps({**QUIET_WORKBENCH, **settings}, indent=1)
        )
    env = {
        **(os.environ if env is None else env),
        "XDG_CONFIG_HOME": str(base / "xdg"),
        "XDG_DATA_HOME": str(base / "xdg"),
        # The extension host gets this environment as it is; else code-server takes the
        # PATH of the user's login shell, here one with pyenv's Python first.
        "VSCODE_CLI": "1",
    }
    command = [
        shutil.which("node", path=env.get("PATH")) or "node",
        str(CODE_SERVER),
        "--config", str(base / "config.yaml"),
        "--user-data-dir", str(user_data),
        "--extensions-dir", str(extensions),
    ]  # fmt: skip
    subprocess.run([*command, "--install-extension", str(vsix)], check=True, env=env, cwd=base,
                   capture_output=True, timeout=120)  # fmt: skip
    forwarder = None
    if prefix:
        listen = ["--socket", str(base / "code-server.sock")]
        forwarder = UnixForwarder(base / "code-server.sock")
        url = forwarder.url
    else:
        port = free_port()
        listen = ["--bind-addr", f"127.0.0.1:{port}"]
        url = f"http://127.0.0.1:{port}"
    log = (base / "code-server.log").open("w")
    process = subprocess.Popen(
        [
            *(prefix or []),
            *command,
            *listen,
            "--auth",
            "none",
            "--disable-telemetry",
            "--disable-update-check",
            "--disable-workspace-trust",
            "--disable-getting-started-override",
            str(workspace),
        ],  # fmt: skip
        env=env,
        cwd=base,  # not the checkout, whose ttcc package a Python there would import
        stdout=log,
        stderr=subprocess.STDOUT,
    )
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
        yield CodeServer(url, workspace, user_data, extensions, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        if forwarder:
            forwarder.close()


@pytest.fixture(scope="module")
def code_server(tmp_path_factory: pytest.TempPathFactory, vsix: Path) -> Iterator[CodeServer]:
    """code-server on 127.0.0.1 whose extension runs this checkout's server (the expert
    override ttcc.server.pythonPath) on a scripted python.ttc."""
    base = tmp_path_factory.mktemp("code-server")
    models = base / "models"
    models.mkdir()
    export_scripted(models / "python.ttc", PYTHON_SCRIPT)
    settings = {
        "ttcc.server.pythonPath": sys.executable,
        "ttcc.server.directory": str(ROOT),
        "ttcc.server.modelsDir": str(models),
        "ttcc.minConfidence": 0,
    }
    with running_code_server(base, vsix, settings) as server:
        yield server


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


def server_pids(marker: Path) -> set[int]:
    """The language servers whose command line mentions marker (their models directory,
    or the user-data directory their Python environment is in)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if b"ttcc.server" in arguments and any(str(marker).encode() in a for a in arguments):
            pids.add(int(entry.name))
    return pids


def wait_for_server(page: sync_api.Page, timeout: float = 60_000) -> sync_api.Locator:
    """The status-bar item, once it shows a running server for a Python file."""
    status = page.locator(".statusbar-item:has(.codicon-sparkle):not(:has(.codicon-loading))",
                          has_text="ttcc")  # fmt: skip
    status.wait_for(timeout=timeout)
    return status.first


def ghost_after_typing(page: sync_api.Page, text: str) -> str:
    page.keyboard.type(text, delay=60)
    page.locator(".ghost-text-decoration, .ghost-text").first.wait_for(timeout=30_000)
    # One span per syntax-highlighted token.
    parts = page.locator(".ghost-text-decoration").all_inner_texts()
    return "".join(parts).replace("\u00a0", " ")


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
    models = code_server.workspace.parent / "models"
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

            (first,) = server_pids(models)
            os.kill(first, signal.SIGKILL)
            deadline = time.monotonic() + 30
            while not server_pids(models) - {first}:
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
        finally:
            page.close()


def run_command(page: sync_api.Page, title: str) -> None:
    """Runs a command through the command palette."""
    page.keyboard.press("Control+Shift+P")
    palette = page.locator(".quick-input-widget input")
    palette.wait_for()
    palette.fill(f">{title}")
    page.locator(".quick-input-list .monaco-list-row", has_text=title).first.wait_for()
    page.keyboard.press("Enter")


def toast(page: sync_api.Page, text: str, timeout: float) -> str:
    found = page.locator(".notifications-toasts .notification-toast", has_text=text)
    found.wait_for(timeout=timeout)
    return found.first.inner_text()


@pytest.mark.slow
def test_adapting_to_the_workspace_in_vscode(tmp_path: Path, vsix: Path) -> None:
    """ttcc: Adapt to This Workspace offers the workspace's languages, adapts the python
    model with a progress notification, and the running server completes the workspace's
    files with it (the status bar says "adapted"); ttcc: Forget Adapted Models undoes it."""
    models = tmp_path / "models"
    models.mkdir()
    export_random("tiny", models / "python.ttc")
    cache = tmp_path / "cache"
    settings = {
        "ttcc.server.pythonPath": sys.executable,
        "ttcc.server.directory": str(ROOT),
        "ttcc.server.modelsDir": str(models),
        "ttcc.minConfidence": 0,
        "ttcc.adapt.minutes": 1,
    }
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    with running_code_server(tmp_path, vsix, settings, env=env) as server:
        make_project(server.workspace, files=16)
        (server.workspace / "notes.rs").write_text("fn main() {}\n")  # one file: not offered
        lines = python_file(40).split("\n")
        (server.workspace / "new_module.py").write_text("\n".join(lines[:2]) + "\n")
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            try:
                page.goto(f"{server.url}/?folder={server.workspace}")
                open_file(page, "new_module.py")
                status = wait_for_server(page)
                page.keyboard.press("Control+End")
                assert ghost_after_typing(page, "    ")
                assert "adapted" not in status.inner_text()

                run_command(page, "ttcc: Adapt to This Workspace")
                offered = page.locator(".quick-input-list .monaco-list-row")
                offered.first.wait_for()
                assert offered.all_inner_texts()[0].startswith("python"), offered.all_inner_texts()
                assert offered.count() == 1  # rust has one file only
                page.keyboard.press("Enter")
                toast(page, "ttcc: adapting to work", timeout=60_000)
                said = toast(page, "python: adapted", timeout=240_000)
                assert "bits/char" in said, said
                (adapted,) = cache.glob("ttcc/adapted/*/python.ttc")

                page.keyboard.press("Escape")
                open_file(page, "new_module.py")
                page.keyboard.press("Control+End")
                assert ghost_after_typing(page, "x")
                shown = status.inner_text()
                assert re.search(r"ttcc python\.ttc adapted [\d.]+ ms", shown), shown

                run_command(page, "ttcc: Forget Adapted Models")
                toast(page, "forgot the python model adapted to", timeout=30_000)
                assert not adapted.exists()
                open_file(page, "new_module.py")
                page.keyboard.press("Control+End")
                ghost_after_typing(page, "x")
                shown = status.inner_text()
                assert re.search(r"ttcc python\.ttc [\d.]+ ms", shown), shown
            except (AssertionError, sync_api.Error) as error:
                page.screenshot(path=str(tmp_path / "failure.png"))
                raise AssertionError(f"{error}\n{server.logs()}") from error
            finally:
                page.close()


# The extension's own Python environment: a user with only a plain python3.

SYSTEM_PYTHON = Path("/usr/bin/python3")


def plain_python(base: Path, hidden: str) -> dict[str, str]:
    """An environment whose PATH has python3 = Debian's /usr/bin/python3 (no ttcc) with the
    standard library module `hidden` made unimportable, and no other Python before it:
    no checkout .venv, no pyenv shims, no PYTHONPATH or virtualenv variables."""
    shim, bin_dir = base / "shim" / hidden, base / "bin"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(
        f"raise ImportError('no module named {hidden} (hidden by the test)')\n"
    )
    bin_dir.mkdir()
    wrapper = bin_dir / "python3"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH={shim.parent} exec {SYSTEM_PYTHON} "$@"\n')
    wrapper.chmod(0o755)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "PYENV", "VIRTUAL_ENV", "CONDA", "PIP_"))
    }
    node = Path(shutil.which("node") or "/usr/bin/node").parent
    env["PATH"] = os.pathsep.join(
        dict.fromkeys([str(bin_dir), str(node), "/usr/sbin", "/usr/bin", "/sbin", "/bin"])
    )
    # What a user's pip configuration might say; the extension's pip must hear none of it.
    env["PIP_INDEX_URL"] = "http://192.0.2.1/simple"
    env["PIP_FIND_LINKS"] = str(base / "elsewhere")
    return env


def in_path(env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    """`python3 -c code` as that environment's PATH finds python3."""
    return subprocess.run(
        ["python3", "-c", code], env=env, cwd="/", capture_output=True, text=True, timeout=60
    )


def in_namespace(pid: int, code: str) -> subprocess.CompletedProcess[str]:
    """`python3 -c code` inside the network namespace of process pid."""
    command = ["nsenter", f"--net=/proc/{pid}/ns/net", str(SYSTEM_PYTHON), "-c", code]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


@pytest.mark.slow
@pytest.mark.skipif(
    not SYSTEM_PYTHON.is_file(), reason="needs a system python3 at /usr/bin/python3"
)
@pytest.mark.skipif(
    NO_NETWORK is None or shutil.which("nsenter") is None,
    reason="`unshare --net` (root or user namespaces) and nsenter are not available here",
)
def test_the_vsix_sets_up_its_own_python_offline(tmp_path: Path, vsix: Path) -> None:
    """No pythonPath, no modelsDir, only Debian's python3 without ttcc (nor ensurepip,
    as without python3-venv) on PATH, and no network: on first activation the extension
    makes its own environment from its wheels, and ghost text comes from the shipped models."""
    env = plain_python(tmp_path, hidden="ensurepip")
    assert "No module named 'ttcc'" in in_path(env, "import ttcc").stderr
    assert "hidden by the test" in in_path(env, "import ensurepip").stderr
    assert in_path(env, "import venv, sys; print(sys.version_info >= (3, 11))").stdout == "True\n"

    settings = {"ttcc.minConfidence": 0}
    with running_code_server(tmp_path, vsix, settings, env=env, prefix=NO_NETWORK) as server:
        # The namespace code-server (and so the extension, its pip and the server) runs in
        # has no network; this one has.
        assert os.readlink(f"/proc/{server.pid}/ns/net") != os.readlink("/proc/self/ns/net")
        unreachable = in_namespace(
            server.pid, "import socket; socket.create_connection(('192.0.2.1', 80), 5)"
        )
        assert "Network is unreachable" in unreachable.stderr, unreachable.stderr
        no_dns = in_namespace(server.pid, "import socket; socket.getaddrinfo('pypi.org', 443)")
        assert "gaierror" in no_dns.stderr, no_dns.stderr

        source = server.workspace / "demo.py"
        source.write_text("import os\n\n")
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            try:
                opened = time.monotonic()
                page.goto(f"{server.url}/?folder={server.workspace}")
                open_file(page, "demo.py")
                wait_for_server(page, timeout=180_000)
                ready = time.monotonic() - opened
                page.keyboard.press("Control+End")
                ghost = ghost_after_typing(page, "x = ")
                first_ghost = time.monotonic() - opened
                assert ghost.strip(), "an empty suggestion"
                page.keyboard.press("Tab")
                expected = "import os\n\nx = " + ghost
                assert saved(page, source, expected) == expected
                assert server_pids(server.storage), "no server runs from the environment"
            except (AssertionError, sync_api.Error) as error:
                page.screenshot(path=str(tmp_path / "failure.png"))
                raise AssertionError(f"{error}\n{server.logs()}") from error
            finally:
                page.close()

        # The environment: in the extension's global storage, ttcc installed, stamped, and
        # nothing half-made left beside it; the server runs from it.
        environment = server.storage / "python"
        stamp = json.loads((environment / "ttcc-environment.json").read_text())
        assert (
            stamp["extensionVersion"]
            == json.loads((CLIENT / "package.json").read_text())["version"]
        )
        assert (stamp["basePython"], stamp["pythonVersion"]) == (
            str(SYSTEM_PYTHON),
            platform_version(),
        )
        assert sorted(p.name for p in server.storage.iterdir()) == ["python"]
        python = environment / "bin" / "python"
        installed = subprocess.run(
            [str(python), "-I", "-c", "import ttcc.server, pygls"], capture_output=True, text=True
        )
        assert installed.returncode == 0, installed.stderr
        # pip looked in the extension's wheels only, not at the index or links its
        # environment named.
        log = server.ttcc_log()
        (links,) = re.findall(r"Looking in links: (.*)", log)
        assert Path(links.strip()).parent.parent == server.extensions, links
        assert "Looking in indexes" not in log and "192.0.2.1" not in log and "elsewhere" not in log
        assert "Successfully installed" in log
        setup = seconds_between(
            server.logs(tail=10**6),
            r"_doActivateExtension ttcc\.ttcc",
            r"the Python environment .* is ready",
        )

    print(
        f"vscode: first activation (page open to a running server, environment made) "
        f"{ready:.1f} s (of which activation to environment ready {setup:.1f} s), "
        f"to the first ghost text {first_ghost:.1f} s; "
        f".vsix {vsix.stat().st_size / 2**20:.1f} MiB"
    )


def seconds_between(logs: str, start: str, end: str) -> float:
    """Seconds from the first log line matching start to the first matching end."""
    stamp = r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) .*"
    times = []
    for pattern in (start, end):
        found = re.search(stamp + pattern, logs, re.M)
        assert found, pattern
        times.append(datetime.datetime.fromisoformat(found.group(1)))
    return (times[1] - times[0]).total_seconds()


def platform_version() -> str:
    code = "import platform; print(platform.python_version())"
    command = [str(SYSTEM_PYTHON), "-c", code]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.slow
@pytest.mark.skipif(
    not SYSTEM_PYTHON.is_file(), reason="needs a system python3 at /usr/bin/python3"
)
def test_a_python_without_venv_gets_a_message(tmp_path: Path, vsix: Path) -> None:
    """python3 on PATH lacks the venv module: a notification says to install python3-venv
    (or set the settings), with buttons, and no server starts; once venv is there, its
    Retry sets the environment up and starts the server."""
    env = plain_python(tmp_path, hidden="venv")
    assert "hidden by the test" in in_path(env, "import venv").stderr
    with running_code_server(tmp_path, vsix, {}, env=env) as server:
        (server.workspace / "demo.py").write_text("import os\n\n")
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            try:
                page.goto(f"{server.url}/?folder={server.workspace}")
                open_file(page, "demo.py")
                toast = page.locator(
                    ".notifications-toasts .notification-toast", has_text="python3-venv"
                )
                toast.wait_for(timeout=90_000)
                text = toast.inner_text()
                assert "has no venv module" in text and "/usr/bin/python3" in text, text
                assert "ttcc.server.basePython" in text, text
                for button in ("Open Settings", "Show Log", "Retry"):
                    assert toast.get_by_role("button", name=button).count() == 1, button
                page.locator(".statusbar-item:has(.codicon-warning)", has_text="ttcc").wait_for()
                progress = page.locator(".notification-toast", has_text="setting up its Python")
                progress.wait_for(state="hidden")
                assert not (server.storage / "python").exists()
                assert not server_pids(server.user_data)

                shutil.rmtree(tmp_path / "shim" / "venv")  # the user installs python3-venv
                toast.get_by_role("button", name="Retry").click()
                wait_for_server(page)
                assert (server.storage / "python" / "ttcc-environment.json").is_file()
                assert server_pids(server.storage)
            except (AssertionError, sync_api.Error) as error:
                page.screenshot(path=str(tmp_path / "failure.png"))
                raise AssertionError(f"{error}\n{server.logs()}") from error
            finally:
                page.close()
