"""The fix of a werf flag that a script keeps in a variable of its own and expands unquoted on
werf's command line (``ARGS="--stages-storage :local --env prod"``, then ``werf deploy
$ARGS``): the flag's words leave the assignment's value, which keeps its other words and its
quoting (``ARGS="--env prod"``).

The proof sees the assignment's word change (``ARGS=-s :local`` becomes ``ARGS=``), so this
module first checks that the new value splits into the old one's words less the flag's, the
words werf would have been given."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ciswitch.analysis.values import refuse_default, value_of_raw
from ciswitch.edits import NoFix
from ciswitch.model import Fix

if TYPE_CHECKING:
    from ciswitch.analysis.facts import FlagAt
    from ciswitch.shell import Assignment

_BLANKS = " \t"


def flag_fix(what: FlagAt, to: str | None) -> Fix:
    """Remove a flag and its value (or point it at ``to``), wherever the flag is written (not
    a ``${NAME:-:local}`` default, which the place is left with the reason for)."""
    refuse_default(what.flag.value)
    if what.held is None:
        return what.site.flag_fix(what.flag, what.call, to)
    return _held_flag_fix(what, what.held, to)


def _held_flag_fix(what: FlagAt, held: Assignment, to: str | None) -> Fix:
    name = f"${held.name}"
    if to is not None:
        raise NoFix(f"the flag is in the value of {name}, set here: point it at {to} by hand")
    if not what.exact:
        raise NoFix(f"the value of {name} is quoted so that its characters are not the words "
                    "werf is given: remove the flag by hand")
    edit_at = getattr(what.site, "text_edit", None)
    word = held.value
    text = what.site.text
    if edit_at is None or word is None or word.value is None:
        raise NoFix(f"the flag is in the value of {name}, which this text cannot rewrite")
    if text[held.start:word.start] != f"{held.name}=":
        raise NoFix(f"{name} is not set by a plain NAME=VALUE here: remove the flag by hand")
    start, end = _removal(text, word.start, word.end, what.flag.start, what.flag.end)
    if (start, end) != (what.flag.start, what.flag.end) and _folds(what, start, end):
        start, end = what.flag.start, what.flag.end  # a blank that is a line of the file
    old = word.value
    new = value_of_raw(text[word.start:start] + text[end:word.end])
    gone = [w.value for w in what.flag.words]
    if new is None:
        raise NoFix(f"the flag's words cross the quotes of {name}'s value: remove it by hand")
    if not _less(old.split(), new.split(), gone):
        raise NoFix(f"removing the flag from the value of {name} would change its other "
                    "words: remove it by hand")
    return Fix((edit_at(start, end, ""),), True, f"remove the flag from {name}",
               (f"{held.name}={old}",), (f"{held.name}={new}",))


def _folds(what: FlagAt, start: int, end: int) -> bool:
    """Whether the range holds a blank that the file writes as a line break (a folded or plain
    YAML scalar over several lines): taking it would join the file's lines differently, so
    only the flag's own words go."""
    from ciswitch.yaml.spans import SpanError

    try:
        low, high = what.site.to_file(start, end)
    except SpanError:  # not mapped: the safe answer (anything else is a bug, and is raised)
        return True
    return "\n" in what.site.file.text[low:high]


def _removal(text: str, low: int, high: int, start: int, end: int) -> tuple[int, int]:
    """The range that removes the flag at ``start:end`` of the word at ``low:high``, with the
    blanks after it when more follows, else with the blanks before it."""
    after = end
    while after < high and text[after] in _BLANKS:
        after += 1
    before = start
    while before > low and text[before - 1] in _BLANKS:
        before -= 1
    closes = after >= high or text[after] in "\"'"
    if before < start and closes:
        return before, end
    if after > end and not closes:
        return start, after
    return start, end


def _less(old: list[str], new: list[str], gone: list[str | None]) -> bool:
    """Whether ``new`` is ``old`` with the run of words ``gone`` taken out at one place."""
    size = len(gone)
    return len(old) == len(new) + size and any(
        old[i:i + size] == gone and old[:i] + old[i + size:] == new
        for i in range(len(new) + 1)
    )
