"""The smallest text changes that take a flag or an assignment out of a shell text.

Each function returns ``(start, end, replacement)`` in the analysed text; the fix engine maps
the range into the file. The rules keep everything else byte for byte and, above all, never
leave a dangling ``\\`` continuation that would glue the next shell line onto the command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ciswitch.patterns import lazy_compile
from ciswitch.shell.model import Assignment, FlagUse, WerfCall, Word
from ciswitch.shell.syntax import Source

if TYPE_CHECKING:
    from tree_sitter import Node

_SAFE_UNQUOTED = lazy_compile(r"(?:[\w./:@%+,=~-]|\$\{\w+\}|\$\w+)+")


# -- scanning helpers ------------------------------------------------------------------------------
def _continuation_at(text: str, index: int) -> int:
    """Length of a line continuation starting at ``index`` (0 when there is none)."""
    if text.startswith("\\\n", index):
        return 2
    if text.startswith("\\\r\n", index):
        return 3
    return 0


def _unescaped_backslash(text: str, index: int) -> bool:
    """Whether the backslash at ``index`` is not itself escaped by the ones before it."""
    count = 0
    while index >= 0 and text[index] == "\\":
        count += 1
        index -= 1
    return count % 2 == 1


def gap_after(text: str, position: int) -> int:
    """End of the run of blanks and line continuations starting at ``position``."""
    index = position
    while index < len(text):
        if text[index] in " \t":
            index += 1
            continue
        length = _continuation_at(text, index)
        if not length:
            break
        index += length
    return index


def gap_before(text: str, position: int) -> int:
    """Start of the run of blanks and line continuations ending at ``position``."""
    index = position
    while index > 0:
        char = text[index - 1]
        if char in " \t":
            index -= 1
            continue
        if char == "\n":
            back = index - 1
            if back > 0 and text[back - 1] == "\r":
                back -= 1
            if back > 0 and text[back - 1] == "\\" and _unescaped_backslash(text, back - 1):
                index = back - 1
                continue
        break
    return index


def _skip_blanks(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t":
        index += 1
    return index


def _skip_blanks_back(text: str, index: int) -> int:
    while index > 0 and text[index - 1] in " \t":
        index -= 1
    return index


def _at_line_end(text: str, index: int) -> bool:
    """Nothing but the end of the line (or a comment) at ``index``."""
    return index >= len(text) or text[index] in "\r\n#"


# -- flags -----------------------------------------------------------------------------------------
def flag_removal(text: str, call: WerfCall, flag: FlagUse) -> tuple[int, int, str]:
    """Remove a flag and its value from a werf command line.

    * in the middle or at the end of a line: the flag, its value and the whitespace before;
    * alone on a continued line: that whole line, through its own ``\\`` and newline;
    * last thing of a continued command: also the ``\\`` (and blanks) that led to its line, so
      the command still ends where it ended;
    * first on a continued line with more words after it: flag, value and the blanks after.
    """
    del call  # the span of the flag says it all; kept for a uniform signature
    start, end = flag.start, flag.end
    before = gap_before(text, start)
    if before == 0 and end < len(text.rstrip()) and "\n" not in text[end : gap_after(text, end)]:
        return start, gap_after(text, end), ""  # first word of a value: the blanks after go
    if "\n" not in text[before:start]:
        return before, end, ""
    after = gap_after(text, end)
    if _at_line_end(text, after):
        return before, end, ""
    if "\n" in text[end:after]:
        line_start = text.rfind("\n", before, start) + 1
        return line_start, text.index("\n", end, after) + 1, ""
    return start, after, ""


# -- assignments -----------------------------------------------------------------------------------
def assignment_removal(text: str, assignment: Assignment) -> tuple[int, int, str]:
    """Remove an assignment: an env prefix with the blanks after it, one of several assignments
    with one run of blanks, or a statement holding only this assignment as a whole (its line,
    when it is alone on it; its ``;``/``&&`` separator otherwise). Where removing the statement
    would leave an empty ``then``/``do`` body, it is replaced by ``:`` instead."""
    a = assignment
    if a.kind == "prefix":
        return a.start, gap_after(text, a.end), ""
    if a.siblings > 1:
        before = gap_before(text, a.start)
        if before > a.statement_start:
            return before, a.end, ""
        return a.start, gap_after(text, a.end), ""
    if _in_chain(text, a.statement_start, a.statement_end):
        return a.statement_start, a.statement_end, "true"
    start, end = _statement_range(text, a.statement_start, a.statement_end)
    if _breaks_syntax(text, text[:start] + text[end:]):
        return a.statement_start, a.statement_end, ":"
    return start, end, ""


def _in_chain(text: str, start: int, end: int) -> bool:
    """Whether the statement at ``start:end`` is a part of an and-or list or a pipeline that
    cannot simply go: after ``&&``, ``||`` or ``|`` (even across a continued line), or before
    ``||`` or ``|``. Only ``X && b`` at the head of its list may lose ``X &&`` (an assignment
    always succeeds); elsewhere the statement becomes the no-op ``true``, so the list keeps its
    shape (``a && X`` runs like ``a && true``, and ``X || b`` never runs ``b``)."""
    before = _skip_blanks_back(text, gap_before(text, start))
    if text.endswith(("&&", "||", "|"), 0, before):
        return True
    after = gap_after(text, end)
    return text.startswith(("||", "|"), after) and not text.startswith("|&", after)


def _breaks_syntax(before: str, after: str) -> bool:
    """Whether ``after`` has a parse error or an empty ``then``/``do``/``{}`` body that ``before``
    did not (tree-sitter accepts ``if x; then fi``; bash does not)."""
    old, new = Source(before), Source(after)
    if new.root.has_error and not old.root.has_error:
        return True
    return _empty_bodies(new.root) > _empty_bodies(old.root)


_BODY_KEYWORDS = frozenset({"then", "do", "{", "else"})
_NOT_STATEMENTS = frozenset({"comment", "elif_clause", "else_clause"})


def _empty_bodies(root: Node) -> int:
    """How many ``then``/``else``/``do``/``{`` keywords are followed by no statement."""
    count = 0
    stack = [root]
    while stack:
        node = stack.pop()
        children = node.children
        for index, child in enumerate(children):
            if child.is_named or child.type not in _BODY_KEYWORDS:
                continue
            following = [c for c in children[index + 1 :] if c.is_named]
            if not following or following[0].type in _NOT_STATEMENTS:
                count += 1
        stack.extend(c for c in children if c.is_named)
    return count


def _separator_at(text: str, index: int) -> str:
    for op in ("&&", "||"):
        if text.startswith(op, index):
            return op
    if text.startswith(";", index) and not text.startswith(";;", index):
        return ";"
    if text.startswith("&", index) and not text.startswith(("&>", "&&"), index):
        return "&"
    return ""


def _separator_before(text: str, index: int) -> str:
    for op in ("&&", "||"):
        if text.endswith(op, 0, index):
            return op
    if text.endswith(";", 0, index) and not text.endswith(";;", 0, index):
        return ";"
    return ""


def _statement_range(text: str, start: int, end: int) -> tuple[int, int]:
    tail = end
    op_at = _skip_blanks(text, end)
    op = _separator_at(text, op_at)
    if op:
        # the next statement may be on a continued line (``X && \``): it moves up to here
        following = gap_after(text, op_at + len(op))
        if not _at_line_end(text, following):
            return start, following
        tail = op_at + len(op)
    line_start = text.rfind("\n", 0, start) + 1
    if text[line_start:start].strip(" \t") == "" and _at_line_end(text, _skip_blanks(text, tail)):
        newline = text.find("\n", tail)
        if newline != -1:
            return line_start, newline + 1
        if line_start > 0:
            back = line_start - 1
            if back > 0 and text[back - 1] == "\r":
                back -= 1
            return back, len(text)
        return 0, len(text)
    before = _skip_blanks_back(text, start)
    op = _separator_before(text, before)
    if op:
        return _skip_blanks_back(text, before - len(op)), tail
    return start, tail


# -- values ----------------------------------------------------------------------------------------
def _double_quote_body(address: str) -> str:
    return address.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`")


def _expands(address: str) -> bool:
    return "$" in address or "`" in address


def _quote_like(raw: str, address: str) -> str:
    if raw.startswith('"') or raw.startswith('$"'):
        return '"' + _double_quote_body(address) + '"'
    if raw.startswith(("'", "$'")):
        if _expands(address):
            return '"' + _double_quote_body(address) + '"'
        return "'" + address.replace("'", "'\\''") + "'"
    if _SAFE_UNQUOTED.fullmatch(address):
        return address
    return '"' + _double_quote_body(address) + '"'


def _inside_quotes(quote: str, address: str) -> str:
    """Text that puts ``address`` at the end of a string opened by ``quote`` and closes it."""
    if quote == '"':
        return _double_quote_body(address) + '"'
    if _expands(address):
        return "'" + '"' + _double_quote_body(address) + '"'
    if quote == "$'":
        return address.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return address.replace("'", "'\\''") + "'"


def replacement_for_value(
    flag_or_assignment: FlagUse | Assignment, address: str,
) -> tuple[int, int, str]:
    """Replace the value (``:local``) of a flag or an assignment by ``address``, keeping the
    quoting style: ``":local"`` -> ``"ADDR"``, ``':local'`` -> ``'ADDR'``, ``:local`` ->
    ``ADDR``. ``address`` is shell text, so ``$CI_REGISTRY_IMAGE/stages`` expands (a single
    quoted value whose address expands is switched to double quotes)."""
    word: Word | None = flag_or_assignment.value
    if word is None:
        raise ValueError(f"{flag_or_assignment!r} has no value to replace")
    if word.enclosing_quote:
        return word.start, word.end, _inside_quotes(word.enclosing_quote, address)
    return word.start, word.end, _quote_like(word.raw, address)
