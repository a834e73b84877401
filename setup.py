"""Builds the cffi extension (engine_c -> server._ttc_engine); metadata lives in pyproject.toml."""

from setuptools import setup

setup(cffi_modules=["engine_c/build_ffi.py:ffibuilder"])
