"""The edits engine: merge text edits per file, refuse overlaps, apply them in one pass.

Edits are character ranges of a file's decoded text; everything outside them is copied as it
was, so newline style, tabs, trailing spaces and a missing final newline survive untouched.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from itertools import pairwise

from ciswitch.model import Edit


class EditConflict(Exception):
    """Two different edits touch the same characters."""


def group_edits(edits: Iterable[Edit]) -> dict[str, list[Edit]]:
    """Edits per file, sorted, identical duplicates dropped (a place reached twice)."""
    grouped: dict[str, set[Edit]] = defaultdict(set)
    for edit in edits:
        grouped[edit.path].add(edit)
    return {path: sorted(items) for path, items in grouped.items()}


def overlaps(a: Edit, b: Edit) -> bool:
    """Whether two edits of one file touch the same characters (or insert at one point)."""
    if a.path != b.path:
        return False
    if a.start == a.end or b.start == b.end:
        return a.start == b.start or (a.start < b.start < a.end) or (b.start < a.start < b.end)
    return a.start < b.end and b.start < a.end


def check_disjoint(edits: list[Edit]) -> None:
    """Raise :class:`EditConflict` when sorted edits overlap."""
    for before, after in pairwise(edits):
        if overlaps(before, after):
            raise EditConflict(
                f"overlapping edits at {before.start}-{before.end} and {after.start}-{after.end}"
            )


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply disjoint edits (sorted by start) to ``text`` in one pass."""
    check_disjoint(edits)
    parts: list[str] = []
    position = 0
    for edit in edits:
        parts.append(text[position : edit.start])
        parts.append(edit.replacement)
        position = edit.end
    parts.append(text[position:])
    return "".join(parts)
