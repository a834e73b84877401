"""A small Python project with identifiers of its own, to adapt a model to."""

from pathlib import Path


def python_file(index: int) -> str:
    """A small Python module with identifiers of its own and a shared style."""
    return "".join(
        f"def handle_request_{index}_{n}(session, payload):\n"
        f"    result = session.lookup_record(payload.record_{n})\n"
        f"    if result is None:\n"
        f"        return session.default_answer({index} + {n})\n"
        f"    return result.render(indent={n % 4})\n\n"
        for n in range(12)
    )


def make_project(root: Path, files: int = 12) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for index in range(files):
        (root / f"module_{index}.py").write_text(python_file(index))
    return root
