"""Unified diffs in ``git diff`` form, as ``fix --diff`` and ``branch --dry-run`` print them.

difflib's matcher looks for the longest matching block again inside every unmatched stretch;
over a long file with many edits and many repeated lines (every job's ``script:``) that grows
with the square of the file. A fix only cuts words and lines out of a file, so lines that occur
once in the old and once in the new text pin the two together: the matcher then runs only on
the short stretches between those anchors. Small files keep difflib's own alignment.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from difflib import SequenceMatcher

#: below this many lines (old and new together) the whole file goes to difflib's matcher
ANCHORED_FROM = 4000

Opcode = tuple[str, int, int, int, int]


class _AnchoredMatcher(SequenceMatcher):  # type: ignore[type-arg]
    """A matcher whose opcodes are found between lines unique to both texts."""

    def __init__(self, a: Sequence[str], b: Sequence[str]) -> None:
        # only the grouping of the opcodes is asked of the matcher: no index of ``b``
        super().__init__(None, [], [], autojunk=False)
        self._anchored = anchored_opcodes(a, b)

    def get_opcodes(self) -> list[Opcode]:  # type: ignore[override]
        return list(self._anchored)


def anchored_opcodes(a: Sequence[str], b: Sequence[str]) -> list[Opcode]:
    """Opcodes turning ``a`` into ``b``, matched between the lines that occur exactly once in
    each (taken in an order both texts agree on), each stretch between them by difflib."""
    in_a, in_b = Counter(a), Counter(b)
    where_b = {line: j for j, line in enumerate(b) if in_b[line] == 1}
    anchors: list[tuple[int, int]] = []
    last = -1
    for i, line in enumerate(a):
        j = where_b.get(line, -1) if in_a[line] == 1 else -1
        if j > last:
            anchors.append((i, j))
            last = j
    codes: list[Opcode] = []
    # the stretch of equal lines not yet written: from (equal_a, equal_b) up to the next
    # change (anchors and unchanged stretches only extend it)
    equal_a = equal_b = 0

    def change(tag: str, i1: int, i2: int, j1: int, j2: int) -> None:
        nonlocal equal_a, equal_b
        if tag == "equal":
            return
        if i1 > equal_a or j1 > equal_b:
            codes.append(("equal", equal_a, i1, equal_b, j1))
        codes.append((tag, i1, i2, j1, j2))
        equal_a, equal_b = i2, j2

    start_a = start_b = 0
    for i, j in [*anchors, (len(a), len(b))]:
        if i > start_a or j > start_b:
            old_gap, new_gap = a[start_a:i], b[start_b:j]
            # most stretches between anchors are repeated lines left as they were: the
            # matcher would find them equal as a whole (or all gone, or all new)
            if old_gap == new_gap:
                pass
            elif not new_gap:
                change("delete", start_a, i, start_b, j)
            elif not old_gap:
                change("insert", start_a, i, start_b, j)
            else:
                gap = SequenceMatcher(None, old_gap, new_gap, autojunk=False)
                for tag, i1, i2, j1, j2 in gap.get_opcodes():
                    change(tag, start_a + i1, start_a + i2, start_b + j1, start_b + j2)
        start_a, start_b = i + 1, j + 1
    if equal_a < len(a) or equal_b < len(b):
        codes.append(("equal", equal_a, len(a), equal_b, len(b)))
    return codes


def _range(start: int, stop: int) -> str:
    """A hunk's range as unified diffs write it (1-based; an empty range names the line
    before it)."""
    length = stop - start
    first = start + 1 if length else start
    return str(first) if length == 1 else f"{first},{length}"


def _diff_lines(old: list[str], new: list[str], before: str, after: str) -> list[str]:
    matcher = (
        SequenceMatcher(None, old, new)
        if len(old) + len(new) < ANCHORED_FROM
        else _AnchoredMatcher(old, new)
    )
    lines: list[str] = []
    for group in matcher.get_grouped_opcodes(3):
        if not lines:
            lines += [f"--- {before}\n", f"+++ {after}\n"]
        first, last = group[0], group[-1]
        lines.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [" " + line for line in old[i1:i2]]
                continue
            if tag in ("replace", "delete"):
                lines += ["-" + line for line in old[i1:i2]]
            if tag in ("replace", "insert"):
                lines += ["+" + line for line in new[j1:j2]]
    return lines


def unified_diff(path: str, old: bytes | None, new: bytes, *, git_header: bool = False) -> str:
    """A ``git diff``-style unified diff of one file (``/dev/null`` for a new file).

    ``git_header`` starts it with ``diff --git``: ``git apply`` then reads ``path`` from the top
    of the work tree wherever it runs, as it does for what ``git diff`` prints in a
    subdirectory."""
    old_lines = [] if old is None else old.decode("utf-8", "replace").splitlines(keepends=True)
    new_lines = new.decode("utf-8", "replace").splitlines(keepends=True)
    before = "/dev/null" if old is None else f"a/{path}"
    out = [f"diff --git a/{path} b/{path}\n"] if git_header else []
    for line in _diff_lines(old_lines, new_lines, before, f"b/{path}"):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)
