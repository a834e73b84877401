"""Builds the cffi extension (engine_c -> ttcc._engine); metadata lives in pyproject.toml.

The extension uses only Python's limited API, so one wheel serves CPython 3.11 and later:
the wheel is tagged cp311-abi3."""

from setuptools import setup

setup(
    cffi_modules=["engine_c/build_ffi.py:ffibuilder"],
    options={"bdist_wheel": {"py_limited_api": "cp311"}},
)
