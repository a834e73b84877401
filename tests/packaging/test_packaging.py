"""What users install, tested as they get it: the wheel, the sdist and the wheelhouse
that scripts/package.sh builds (the .vsix is tested in test_vscode_client.py).

Each installation is a fresh virtual environment in a temporary folder outside the
checkout, installed from the wheelhouse with no index, and run with that folder as its
working directory, so nothing can come from the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.installation import (
    PYTHON_PREFIX,
    ROOT,
    RUNTIME_DEPENDENCIES,
    expected_python_suggestion,
    install,
    python_named,
)
from tests.sample_project import make_project
from ttcc.languages import BASE_MODEL, LANGUAGES


@pytest.fixture(scope="session")
def wheel(dist: Path) -> Path:
    (path,) = dist.glob("ttcc-*.whl")
    return path


async def start(command: list[str], cwd: Path) -> LanguageClient:
    client = await ClientServerConfig(server_command=["env", "-C", str(cwd), *command]).start()
    await client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(
                text_document=types.TextDocumentClientCapabilities(
                    inline_completion=types.InlineCompletionClientCapabilities()
                ),
                window=types.WindowClientCapabilities(),
            )
        )
    )
    return client


async def inline_suggestion(client: LanguageClient, text: str, uri: str) -> str | None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=text
            )
        )
    )
    lines = text.split("\n")
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=len(lines) - 1, character=len(lines[-1])),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic
            ),
        )
    )
    return None if result is None else result.items[0].insert_text


def test_the_wheel_is_one_abi3_manylinux_wheel_with_the_models(wheel: Path) -> None:
    name, version, python_tag, abi_tag, platform_tag = wheel.stem.split("-")
    assert (python_tag, abi_tag) == ("cp311", "abi3")
    assert "manylinux" in platform_tag and platform_tag.endswith("x86_64")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = Parser().parsestr(archive.read(f"ttcc-{version}.dist-info/METADATA").decode())
        entry_points = archive.read(f"ttcc-{version}.dist-info/entry_points.txt").decode()
    top_level = {n.split("/")[0] for n in names if not n.startswith(f"ttcc-{version}.dist-info")}
    assert top_level == {"ttcc", "server.py", "training"}
    for model in (*LANGUAGES, BASE_MODEL):
        assert f"ttcc/models/{model}.ttc" in names
    assert "ttcc/_engine.abi3.so" in names
    assert "training/adapt.py" in names  # python -m training.adapt, with the train extra
    assert not any("samples" in n or n.startswith(("training/size_study", "tests"))
                   for n in names)  # fmt: skip
    required = {r.split(";")[0].split("[")[0].split(">")[0].split("<")[0].split("=")[0].strip()
                for r in metadata.get_all("Requires-Dist") if "extra ==" not in r}  # fmt: skip
    assert required == RUNTIME_DEPENDENCIES
    assert "ttcc-server = ttcc.server.__main__:main" in entry_points


def test_the_sdist_holds_the_engine_sources_the_package_and_the_models(dist: Path) -> None:
    (sdist,) = dist.glob("ttcc-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    engine = {path.relative_to(ROOT).as_posix() for pattern in ("*.c", "*.h")
              for path in (ROOT / "engine_c").glob(pattern)}  # fmt: skip
    assert engine | {"engine_c/build_ffi.py", "server.py", "ttcc/engine.py"} <= names
    assert {f"ttcc/models/{model}.ttc" for model in (*LANGUAGES, BASE_MODEL)} <= names
    assert "training/adapt.py" in names
    assert not any(name.startswith(("tests", "training/size_study", "bench")) or "samples" in name
                   for name in names)  # fmt: skip


def test_the_installation_holds_ttcc_its_dependencies_and_models(installed: Path) -> None:
    folder = installed.parents[2]  # FOLDER/venv/bin/python
    packages = subprocess.run([str(installed), "-m", "pip", "list", "--format=freeze"],
                              capture_output=True, text=True, check=True).stdout  # fmt: skip
    names = {line.split("==")[0].lower() for line in packages.splitlines()}
    assert names - {"pip", "setuptools"} == {"ttcc", *RUNTIME_DEPENDENCIES, "pycparser", "attrs",
                                             "cattrs", "typing_extensions"}  # fmt: skip
    where = subprocess.run(
        [str(installed), "-c", "import ttcc; print(ttcc.shipped_models_dir())"],
        capture_output=True, text=True, check=True, cwd=folder,
    ).stdout.strip()  # fmt: skip
    assert Path(where).is_relative_to(folder / "venv")


def test_the_installation_counts_a_projects_code_and_says_what_adapting_needs(
        installed: Path, tmp_path: Path) -> None:
    """Without the train extra: the language counts the VS Code command offers, and
    python -m training.adapt's message on how to install PyTorch."""
    project = make_project(tmp_path / "project", files=3)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(installed), *args], capture_output=True, text=True,
                              cwd=tmp_path)  # fmt: skip

    counted = run("-m", "training.project_files", str(project))
    assert counted.returncode == 0, counted.stderr
    assert [entry["language"] for entry in json.loads(counted.stdout)] == ["python"]
    adapting = run("-m", "training.adapt", str(project), "--language", "python")
    assert adapting.returncode == 3, adapting.stderr
    assert "pip install torch==2.13.0" in adapting.stderr
    forgetting = run("-m", "ttcc.adapted", "--forget", str(project))
    assert forgetting.stdout.startswith("no model was adapted to"), forgetting.stderr


@pytest.mark.parametrize("command", [["-m", "server"], ["ttcc-server"]])
async def test_installed_server_answers_with_a_shipped_model(
    installed: Path, command: list[str]
) -> None:
    folder = installed.parents[2]  # FOLDER/venv/bin/python
    if command[0] == "-m":
        program = [str(installed), *command]
    else:  # a console script beside the venv's python
        program = [str(installed.parent / command[0])]
    client = await start(program, cwd=folder)
    try:
        got = await inline_suggestion(client, PYTHON_PREFIX, "file:///project/main.py")
    finally:
        await client.shutdown_session()
        await client.stop()
    expected = expected_python_suggestion()
    assert expected  # the shipped model has something to say here
    assert got == expected


async def test_missing_models_are_said_once_with_the_fix(
    installed: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "no-models"
    empty.mkdir()
    client = await start([str(installed), "-m", "server", "--models-dir", str(empty)], tmp_path)
    try:
        assert await inline_suggestion(client, "x = ", "file:///a.py") is None
        assert await inline_suggestion(client, "y = ", "file:///b.py") is None
        errors = [m.message for m in client.messages if m.type == types.MessageType.Error]
    finally:
        await client.shutdown_session()
        await client.stop()
    assert len(errors) == 1, errors
    assert "python.ttc" in errors[0] and "base.ttc" in errors[0] and str(empty) in errors[0]
    assert "Fix:" in errors[0] and "--models-dir" in errors[0]


def test_importing_the_server_imports_neither_torch_nor_numpy() -> None:
    """In the development environment, where both are installed (so this can fail)."""
    code = (
        "import importlib.util, sys\n"
        "assert importlib.util.find_spec('torch') and importlib.util.find_spec('numpy')\n"
        "import server, ttcc.server.lsp, ttcc.engine\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.slow
@pytest.mark.parametrize("version", ["3.12", "3.13"])
async def test_the_same_wheel_serves_other_pythons(
    version: str, dist: Path, tmp_path: Path
) -> None:
    python = python_named(version)
    if python is None:
        pytest.skip(f"no CPython {version} on this machine")
    venv_python = install(python, dist / "wheelhouse", tmp_path)
    client = await start([str(venv_python), "-m", "server"], tmp_path)
    try:
        got = await inline_suggestion(client, PYTHON_PREFIX, "file:///project/main.py")
    finally:
        await client.shutdown_session()
        await client.stop()
    assert got == expected_python_suggestion()


@pytest.mark.slow
@pytest.mark.parametrize("compiler", ["gcc", "clang"])
def test_the_sdist_builds_with_gcc_and_clang(compiler: str, dist: Path, tmp_path: Path) -> None:
    """The wheel built from the sdist with this compiler gives the same suggestion."""
    (sdist,) = dist.glob("ttcc-*.tar.gz")
    environment = {**os.environ, "CC": compiler}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                    str(tmp_path / "wheel"), str(sdist)], check=True, env=environment)  # fmt: skip
    (built,) = (tmp_path / "wheel").glob("ttcc-*.whl")
    with zipfile.ZipFile(built) as archive:
        archive.extractall(tmp_path / "site")
    comment = subprocess.run(
        ["readelf", "-p", ".comment", str(tmp_path / "site" / "ttcc" / "_engine.abi3.so")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert ("clang version" in comment) == (compiler == "clang"), comment
    code = (
        "import sys; from ttcc.engine import Model; from ttcc import "
        "shipped_models_dir as d; import ttcc; assert ttcc.__file__.startswith(sys.argv[1]); "
        f"print(repr(Model.load(d() / 'python.ttc').session().complete({PYTHON_PREFIX!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "site")], capture_output=True, text=True,
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path / "site")},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(expected_python_suggestion())
