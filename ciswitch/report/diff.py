"""Unified diffs in ``git diff`` form, as ``fix --diff`` and ``branch --dry-run`` print them."""

from __future__ import annotations


def unified_diff(path: str, old: bytes | None, new: bytes, *, git_header: bool = False) -> str:
    """A ``git diff``-style unified diff of one file (``/dev/null`` for a new file).

    ``git_header`` starts it with ``diff --git``: ``git apply`` then reads ``path`` from the top
    of the work tree wherever it runs, as it does for what ``git diff`` prints in a
    subdirectory."""
    import difflib

    old_lines = [] if old is None else old.decode("utf-8", "replace").splitlines(keepends=True)
    new_lines = new.decode("utf-8", "replace").splitlines(keepends=True)
    before = "/dev/null" if old is None else f"a/{path}"
    out = [f"diff --git a/{path} b/{path}\n"] if git_header else []
    for line in difflib.unified_diff(old_lines, new_lines, before, f"b/{path}"):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)
