"""Neovim's built-in LSP client (Debian's neovim) with the README's configuration, against
the server of an installed wheel (tests/packaging/test_packaging.py's `installed`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.installation import PYTHON_PREFIX, expected_python_suggestion

ROOT = Path(__file__).resolve().parents[2]

# Opens the file (the README's autocommand starts and attaches the client), waits for
# the server, asks for completions at the end of the file and writes both answers to
# TTCC_NVIM_OUT.
DRIVER = r"""
vim.cmd('edit ' .. vim.fn.fnameescape(os.getenv('TTCC_NVIM_FILE')))
local ready = vim.wait(60000, function()
  for _, client in pairs(vim.lsp.buf_get_clients(0)) do
    if client.name == 'ttcc' and client.initialized then return true end
  end
  return false
end, 50)
-- The end of the file, where insert mode's cursor would be (normal mode's stops on the
-- last character).
local last = vim.fn.line('$')
local position = {
  textDocument = vim.lsp.util.make_text_document_params(),
  position = { line = last - 1, character = #vim.fn.getline(last) },
}
local answers = { ready = ready, omnifunc = vim.bo.omnifunc }
answers.completion = vim.lsp.buf_request_sync(0, 'textDocument/completion', position, 30000)
position.context = { triggerKind = 2 }
answers.inline = vim.lsp.buf_request_sync(0, 'textDocument/inlineCompletion', position, 30000)
local file = io.open(os.getenv('TTCC_NVIM_OUT'), 'w')
file:write(vim.fn.json_encode(answers))
file:close()
vim.cmd('qa!')
"""


def readme_snippet() -> str:
    """The Neovim configuration the README gives users: its first lua block."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"```lua\n(.*?)```", readme, re.S)
    assert match, "README.md has no ```lua block"
    return match.group(1)


def only_answer(answers: dict | list) -> dict:
    """buf_request_sync's {client id: {result = ...}} for the one client (a JSON list when
    that id is 1)."""
    (answer,) = answers.values() if isinstance(answers, dict) else answers
    assert "err" not in answer, answer
    return answer["result"]


def test_neovim_gets_completions_from_the_installed_server(
    installed: Path, tmp_path: Path
) -> None:
    if shutil.which("nvim") is None:
        pytest.fail("neovim is not installed: run `bash scripts/setup.sh` first")
    (tmp_path / "init.lua").write_text(readme_snippet())
    (tmp_path / "driver.lua").write_text(DRIVER)
    source = tmp_path / "main.py"
    source.write_text(PYTHON_PREFIX)
    out = tmp_path / "answers.json"
    environment = {
        **os.environ,
        "PATH": f"{installed.parent}:/usr/bin:/bin",  # ttcc-server from the installed wheel
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "TTCC_NVIM_FILE": str(source),
        "TTCC_NVIM_OUT": str(out),
    }
    result = subprocess.run(
        ["nvim", "--headless", "-n", "-u", str(tmp_path / "init.lua"),
         "-c", f"luafile {tmp_path / 'driver.lua'}"],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert out.is_file(), result.stdout + result.stderr
    answers = json.loads(out.read_text())
    assert answers["ready"] is True, answers
    assert answers["omnifunc"] == "v:lua.vim.lsp.omnifunc"
    expected = expected_python_suggestion()
    (item,) = only_answer(answers["completion"])["items"]
    assert item["textEdit"]["newText"].endswith(expected), item
    (inline,) = only_answer(answers["inline"])["items"]
    assert inline["insertText"] == expected
