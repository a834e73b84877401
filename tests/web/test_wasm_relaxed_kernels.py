"""The WebAssembly relaxed SIMD kernels (engine_c/kernels_wasm.c built with clang 16
and -mrelaxed-simd, as in web_demo/engine-relaxed.wasm) equal the generic kernels bit
for bit: the kernel test every build runs (engine_c/tests/test_kernels.c, natively, for
AArch64 under qemu, for WASI with SIMD128 under node), built for WASI with relaxed SIMD
and run in headless Chromium through tests/node/wasi.mjs. Not in node: node 20's
i32x4.relaxed_dot_i8x16_i7x16_add_s (behind a flag) sums 8 products and drops the
addend, so it cannot run these kernels.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import chromium, static_site

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "engine_c"
BUILD = ENGINE / "build"
RELAXED_CC = "clang-16"  # engine_c/Makefile's WASM_RELAXED_CC

# i32x4.relaxed_dot_i8x16_i7x16_add_s: prefix 0xfd, opcode 0x113 as LEB128
RELAXED_DOT_ADD = b"\xfd\x93\x02"

pytestmark = pytest.mark.skipif(
    shutil.which(RELAXED_CC) is None or shutil.which("clang") is None,
    reason=f"{RELAXED_CC} (with lld-16) and clang are needed to build the kernel test modules",
)


def build(target: str, name: str) -> Path:
    """engine_c/build/NAME, made by `make TARGET` in engine_c/."""
    completed = subprocess.run(
        ["make", "-s", "-C", str(ENGINE), target], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return BUILD / name


def leb128(data: bytes, pos: int) -> tuple[int, int]:
    """An unsigned LEB128 at pos: (value, position after it)."""
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def sections(module: bytes) -> dict[int | str, bytes]:
    """A wasm module's sections by id, and its custom sections by name."""
    assert module[:8] == b"\0asm\x01\0\0\0", "not a wasm module (version 1)"
    found: dict[int | str, bytes] = {}
    pos = 8
    while pos < len(module):
        section_id = module[pos]
        size, pos = leb128(module, pos + 1)
        body = module[pos : pos + size]
        assert len(body) == size, "truncated section"
        pos += size
        if section_id == 0:
            name_size, start = leb128(body, 0)
            found[body[start : start + name_size].decode()] = body[start + name_size :]
        else:
            found[section_id] = body
    return found


def target_features(module: bytes) -> set[str]:
    """The features the linker recorded (target_features section), e.g. "+simd128"."""
    body = sections(module).get("target_features", b"")
    features = set()
    if body:
        count, pos = leb128(body, 0)
        for _ in range(count):
            prefix = chr(body[pos])
            size, pos = leb128(body, pos + 1)
            features.add(prefix + body[pos : pos + size].decode())
            pos += size
    return features


@pytest.fixture(scope="module")
def relaxed_module() -> Path:
    return build("wasm-test-kernels-relaxed", "test_kernels_relaxed.wasm")


def test_the_relaxed_module_uses_relaxed_simd(relaxed_module: Path) -> None:
    """It is the relaxed build: the linker recorded relaxed SIMD, and its code has the
    relaxed dot product; the SIMD128 build (the same sources) has neither feature."""
    module = relaxed_module.read_bytes()
    assert {"+simd128", "+relaxed-simd"} <= target_features(module)
    assert RELAXED_DOT_ADD in sections(module)[10], "no i32x4.relaxed_dot_i8x16_i7x16_add_s"

    simd128 = target_features(build("wasm-test-kernels", "test_kernels.wasm").read_bytes())
    assert "+simd128" in simd128 and "+relaxed-simd" not in simd128


# The kernel test program in the page, as node runs the SIMD128 build.
RUN_TEST = """async (moduleName) => {
  const { runWasi } = await import('/tests/node/wasi.mjs');
  const response = await fetch('/' + moduleName);
  if (!response.ok) throw new Error(moduleName + ': HTTP ' + response.status);
  return await runWasi(await response.arrayBuffer());
}"""


@pytest.fixture(scope="module")
def site(relaxed_module: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A static site root with tests/node/ linked in and the relaxed module copied."""
    root = tmp_path_factory.mktemp("relaxed_kernels_site")
    (root / "tests").mkdir()
    (root / "tests" / "node").symlink_to(ROOT / "tests" / "node", target_is_directory=True)
    (root / "index.html").write_text("<!doctype html><title>relaxed kernels</title>\n")
    shutil.copy(relaxed_module, root / relaxed_module.name)
    yield root


def test_relaxed_simd_kernels_equal_generic_in_chromium(relaxed_module: Path, site: Path) -> None:
    with static_site(site) as base, chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(600_000)
        page.goto(f"{base}/index.html")
        result = page.evaluate(RUN_TEST, relaxed_module.name)
    output = result["output"]
    assert result["exitCode"] == 0, output[-4000:]
    assert re.search(r"^wasm: [1-9]\d* passed, 0 failed$", output, re.M), output[-4000:]
    assert re.search(r"^\d+ passed, 0 failed$", output, re.M), output[-4000:]
