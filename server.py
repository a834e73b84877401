"""`python -m server`: ttcc's language server, under the name the project promises.

The server itself is the package ttcc.server; this module only starts it."""

from ttcc.server.__main__ import main

if __name__ == "__main__":
    main()
