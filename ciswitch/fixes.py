"""Turn a place into the smallest text edit that fixes it.

The shell layer says which characters of a shell text must go (flag, value, one run of
whitespace, a dangling continuation); :class:`ciswitch.analysis.ShellSite` maps them into the
file; this module adds the YAML-level cases (a whole ``variables:`` entry, a whole list item)
and tidies ranges so that lines which did not hold ``:local`` keep every byte, including
trailing whitespace.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from ciswitch.analysis import LOCAL, Place, ShellSite
from ciswitch.model import Edit, Fix
from ciswitch.yaml.nodes import is_map

_TRAILING = re.compile(r"[ \t]*(?:#[^\n]*)?\r?(?:\n|$)")


class NoFix(Exception):
    """The place cannot be fixed mechanically; the message says why (shown to the user)."""


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


def _shell_edit(site: ShellSite, start: int, end: int, replacement: str) -> Edit:
    from ciswitch.yaml.spans import SpanError

    try:
        fstart, fend = site.to_file(start, end)
    except SpanError as err:
        raise NoFix(f"cannot map this YAML scalar to its text ({err})") from err
    if replacement == "":
        fstart, fend = tidy_range(site.file.text, fstart, fend)
    elif site.scalar_style() in ('"', "'"):
        quote = site.scalar_style()
        if quote == '"':
            replacement = replacement.replace("\\", "\\\\").replace('"', '\\"')
        else:
            replacement = replacement.replace("'", "''")
    return Edit(site.file.path, fstart, fend, replacement)


def _replacement_fix(site: ShellSite, start: int, end: int, repl: str, what: str) -> Fix:
    """A fix replacing part of a shell text, with the words it takes away and brings in."""
    old = _words(site.text)
    new = _words(site.text[:start] + repl + site.text[end:])
    removed = tuple((Counter(old) - Counter(new)).elements())
    added = tuple((Counter(new) - Counter(old)).elements())
    return Fix((_shell_edit(site, start, end, repl),), True, what, removed, added)


def _words(text: str) -> tuple[str, ...]:
    from ciswitch.shell import words_of

    return tuple(words_of(text))


def flag_fix(place: Place, to: str | None) -> Fix:
    """Remove a ``--stages-storage :local``-style flag, or point it at ``to``."""
    from ciswitch.shell import flag_removal, replacement_for_value

    site, flag, call = place.site, place.flag, place.call
    if getattr(site, "is_python", False):
        return _python_fix(place, to)
    assert site is not None and flag is not None and call is not None
    if to is not None:
        start, end, repl = replacement_for_value(flag, to)
        return _replacement_fix(site, start, end, repl, f"point the flag at {to}")
    start, end, repl = flag_removal(site.text, call, flag)
    removed = _words(site.text[flag.start : flag.end])
    return Fix((_shell_edit(site, start, end, repl),), True, "remove the flag", removed)


def assignment_fix(place: Place, to: str | None) -> Fix:
    """Remove ``export VAR=:local`` / ``VAR=:local werf ...``, or point it at ``to``."""
    from ciswitch.shell import assignment_removal, replacement_for_value

    site, assignment = place.site, place.assignment
    if getattr(site, "is_python", False):
        return _python_fix(place, to)
    assert site is not None and assignment is not None
    if to is not None:
        start, end, repl = replacement_for_value(assignment, to)
        return _replacement_fix(site, start, end, repl, f"set it to {to}")
    start, end, repl = assignment_removal(site.text, assignment)
    removed_text = site.text[start:end]
    whole = site.text.strip() == removed_text.strip() and repl.strip() == ""
    if whole and site.node is not None:
        return Fix((_item_edit(site),), True, "remove the list item", _words(site.text))
    return Fix(
        (_shell_edit(site, start, end, repl),),
        True,
        "remove the assignment",
        _words(removed_text),
    )


def _python_fix(place: Place, to: str | None) -> Fix:
    """Places in Python helpers are fixed by :mod:`ciswitch.scripts.python` (libcst positions)."""
    from ciswitch.scripts.python import python_fix

    return python_fix(place, to)


def _item_edit(site: ShellSite) -> Edit:
    """Remove a whole one-line YAML list item holding only the assignment."""
    text = site.file.text
    node = site.node
    parent = site.parent
    assert node is not None
    start = int(node.start_mark.index)
    end = int(node.end_mark.index)
    if parent is None or getattr(parent, "flow_style", False):
        raise NoFix("the assignment is the whole script; remove it by hand")
    if len(parent.value) < 2:
        raise NoFix("it is the only command of its list; remove the list by hand")
    head = text[line_start(text, start) : start]
    if not re.fullmatch(r"[ \t]*-[ \t]+", head) or "\n" in text[start:end]:
        raise NoFix("the list item shares its line; remove it by hand")
    if not rest_is_trailing(text, end):
        raise NoFix("the list item shares its line; remove it by hand")
    return Edit(site.file.path, line_start(text, start), line_end(text, end), "")


def variable_fix(place: Place, to: str | None, parents: dict[int, Any]) -> Fix:
    """Remove a ``WERF_STAGES_STORAGE: ":local"`` entry (and an emptied ``variables:``)."""
    variable = place.variable
    assert variable is not None
    entry = variable.entry
    file = entry.file
    text = file.text
    if to is not None:
        scalar = variable.value
        if scalar is None:
            raise NoFix("the variable has no plain value")
        site = ShellSite(file, scalar.node, str(scalar.node.value))
        index = site.text.find(LOCAL)
        if index < 0:
            raise NoFix(f"the value is {site.text!r}, set elsewhere")
        return _replacement_fix(site, index, index + len(LOCAL), to, f"set it to {to}")
    owner = entry.owner
    removed = (variable.name,)
    if getattr(owner, "flow_style", False):
        if len(owner.value) > 1:
            return Fix(
                (_flow_pair_edit(text, file.path, owner, entry),), True, "remove the entry", removed
            )
    elif len(owner.value) > 1:
        return Fix(
            (_block_entry_edit(text, file.path, entry.key, entry.value),),
            True,
            "remove the entry",
            removed,
        )
    # The only entry: remove the whole ``variables:`` key, unless an anchor shares the mapping.
    holder = parents.get(id(owner))
    if holder is None or holder.file is not file:
        raise NoFix("it is the only entry of a mapping that cannot be removed")
    between = text[int(holder.key.end_mark.index) : int(owner.value[0][0].start_mark.index)]
    if "&" in between:
        raise NoFix("it is the only entry of an anchored mapping; remove it by hand")
    holder_owner = holder.owner
    if getattr(holder_owner, "flow_style", False) or len(holder_owner.value) < 2:
        raise NoFix("removing it would leave an empty mapping; remove it by hand")
    return Fix(
        (_block_entry_edit(text, file.path, holder.key, holder.value),),
        True,
        "remove the variables: key with its only entry",
        removed,
    )


def _value_end(text: str, node: Any) -> int:
    """The end of a value's text, before any whitespace a block collection's mark includes."""
    end = int(node.end_mark.index)
    if (is_map(node) and not getattr(node, "flow_style", False)) or type(
        node
    ).__name__ == "SequenceNode":
        while end > 0 and text[end - 1] in " \t\r\n":
            end -= 1
    return end


def _block_entry_edit(text: str, path: str, key: Any, value: Any) -> Edit:
    start = int(key.start_mark.index)
    end = _value_end(text, value)
    if not only_space_before(text, start) or not rest_is_trailing(text, end):
        raise NoFix("the entry shares its line with other content; remove it by hand")
    return Edit(path, line_start(text, start), line_end(text, end), "")


def _flow_pair_edit(text: str, path: str, owner: Any, entry: Any) -> Edit:
    pairs = owner.value
    index = next(i for i, (k, _) in enumerate(pairs) if k is entry.key)
    start = int(entry.key.start_mark.index)
    end = int(entry.value.end_mark.index)
    if index + 1 < len(pairs):
        next_start = int(pairs[index + 1][0].start_mark.index)
        return Edit(path, start, next_start, "")
    prev_end = int(pairs[index - 1][1].end_mark.index)
    return Edit(path, prev_end, end, "")
