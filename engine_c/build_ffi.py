"""cffi build script: compiles engine_c into the extension module ttcc._engine.

Used by setup.py (`pip install -e .`); the declarations come from ttc.h itself so
the binding can never drift from the header.
"""

import os
import re
from pathlib import Path

from cffi import FFI

ENGINE_DIR = Path(__file__).resolve().parent


def source_lists() -> dict[str, list[str]]:
    """sources.mk's `NAME = files` lines: the engine's one list of its sources."""
    lists = {}
    for line in (ENGINE_DIR / "sources.mk").read_text().splitlines():
        name, equals, files = line.partition("=")
        if equals and not line.startswith("#"):
            lists[name.strip()] = files.split()
    return lists


_LISTS = source_lists()
SOURCES = _LISTS["CORE_SRCS"] + _LISTS["KERNEL_SRCS"]
# No -ffast-math and no fused multiply-add: results must be bit-identical to the
# WebAssembly build and across kernels (see kernels.h).
COMPILE_ARGS = ["-std=c11", "-O2", "-ffp-contract=off", "-fno-math-errno"]


def public_declarations() -> str:
    """ttc.h without its preprocessor lines and C++ guards, as cffi's cdef wants."""
    header = (ENGINE_DIR / "ttc.h").read_text()
    header = re.sub(r"#ifdef __cplusplus.*?#endif", "", header, flags=re.S)
    return "\n".join(line for line in header.splitlines() if not line.startswith("#"))


ffibuilder = FFI()
ffibuilder.cdef(public_declarations())
ffibuilder.set_source(
    "ttcc._engine",
    '#include "ttc.h"',
    # setuptools wants paths relative to setup.py's folder, the working directory.
    sources=[os.path.relpath(ENGINE_DIR / name) for name in SOURCES],
    include_dirs=[os.path.relpath(ENGINE_DIR)],
    extra_compile_args=COMPILE_ARGS,
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
