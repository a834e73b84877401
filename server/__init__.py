"""ttcc language server and the Python binding of the C engine."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ttcc")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+checkout"
