"""Paths on disk as plain strings, with the meaning :mod:`pathlib` gives them.

A plain ``ciswitch lint`` names a repository or a file and reads it: nothing on that path needs
path objects, and importing :mod:`pathlib` (with the URL parsing and the IP address classes it
imports for ``Path.as_uri``) is a twentieth of a small file's whole lint, once per commit under
pre-commit. The lint path therefore speaks of disk paths as strings through these functions;
each gives what the :mod:`pathlib` expression named in its description gives (on POSIX, as a
string), which the tests check against :mod:`pathlib` itself. Commands that write (``fix``)
and everything else keep using :class:`pathlib.Path`.
"""

from __future__ import annotations

import os


def as_given(path: str | os.PathLike[str]) -> str:
    """``str(Path(path))``: the path as the user gave it, with pathlib's spelling (repeated
    and trailing slashes and ``.`` parts dropped, ``..`` kept, an empty path ``.``; a leading
    ``//``, exactly two, kept as POSIX allows)."""
    text = os.fspath(path)
    if text.startswith("/"):
        root = "//" if text.startswith("//") and not text.startswith("///") else "/"
    else:
        root = ""
    parts = [part for part in text.split("/") if part and part != "."]
    return root + "/".join(parts) if root or parts else "."


def resolved(path: str | os.PathLike[str]) -> str:
    """``str(Path(path).resolve())``: absolute, every symlink followed as far as it goes (a
    missing part is kept as it is)."""
    return os.path.realpath(path)


def _below(root: str) -> str:
    """What every path below the resolved ``root`` starts with."""
    return root if root.endswith("/") else root + "/"


def within(path: str, root: str) -> bool:
    """``root == path or root in path.parents`` for two resolved paths: ``path`` is ``root``
    or below it."""
    return path == root or path.startswith(_below(root))


def upward(path: str) -> list[str]:
    """``[path, *path.parents]`` of a resolved path: it, its parent, and so on up to ``/``."""
    found = [path]
    while True:
        parent = os.path.dirname(path)
        if parent == path:
            return found
        found.append(parent)
        path = parent


def joined(directory: str, name: str) -> str:
    """``str(Path(directory) / name)`` for a normalized relative ``name`` (``ci/x.yml``; ``.``
    is the directory itself)."""
    if name == ".":
        return directory
    return directory + name if directory.endswith("/") else f"{directory}/{name}"


def posix_relative(path: str, start: str) -> str:
    """``Path(path).relative_to(start).as_posix()`` for a ``path`` :func:`within` ``start``."""
    return "." if path == start else path[len(_below(start)):]
