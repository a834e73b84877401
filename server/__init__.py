"""ttcc language server and the Python binding of the C engine."""
