"""The edits engine: merge text edits per file, refuse overlaps, apply them in one pass; and
the line-level helpers every fix recipe shares (:class:`NoFix` when a place cannot be fixed).

Edits are character ranges of a file's decoded text; everything outside them is copied as it
was, so newline style, tabs, trailing spaces and a missing final newline survive untouched.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from itertools import pairwise

from ciswitch.model import Edit
from ciswitch.patterns import lazy_compile


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


class NoFix(Exception):
    """A place cannot be fixed mechanically; the message says why (shown to the user)."""


_TRAILING = lazy_compile(r"[ \t]*(?:#[^\n]*)?\r?(?:\n|$)")


def line_start(text: str, offset: int) -> int:
    return text.rfind("\n", 0, offset) + 1


def line_end(text: str, offset: int) -> int:
    """Offset just after the line's newline (or the end of the text)."""
    nl = text.find("\n", offset)
    return len(text) if nl == -1 else nl + 1


def only_space_before(text: str, offset: int) -> bool:
    return text[line_start(text, offset) : offset].strip(" \t") == ""


def rest_is_trailing(text: str, offset: int) -> bool:
    """Nothing but whitespace and maybe a comment after ``offset`` on its line."""
    return _TRAILING.match(text, offset) is not None


def tidy_range(text: str, start: int, end: int) -> tuple[int, int]:
    """Keep the previous line intact when a removal starts in its trailing whitespace and
    crosses into the next line (a folded line break in a plain or folded scalar)."""
    nl = text.find("\n", start, end)
    if nl == -1 or text[start:nl].strip(" \t\r") != "" or text.find("\n", nl + 1, end) != -1:
        return start, end
    first = nl + 1
    content = first
    while content < end and text[content] in " \t":
        content += 1
    if rest_is_trailing(text, end):
        return first, line_end(text, end)
    after = end
    while after < len(text) and text[after] in " \t":
        after += 1
    return content, after
