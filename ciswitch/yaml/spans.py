"""Map every character of a YAML scalar's value back to the file text that produced it.

Fixes edit the file, never a re-emitted document: to delete ``-s :local`` from a script line the
edit engine needs the file range behind those value characters. Between value and file stand
quoting, escapes, line folding, block indentation and chomping, so this module replays what the
YAML scanner does (libyaml's algorithm, which ruamel.yaml's C composer runs) over the node's
part of the text and records, for each value character, the half-open file range it came from.

The rules for text that produces no character of its own:

* A double-quoted escape covers the whole escape sequence; ``''`` in single quotes covers both
  quotes.
* An escaped line break (``\\`` at the end of a line) and the next line's leading whitespace
  produce nothing: that text is attached to the start of the next produced character.
* A line break folded into a space covers the whitespace YAML strips before it, the break itself
  (``\\n`` or ``\\r\\n``) and the next line's stripped indentation.
* Every kept line break (literal and folded blocks, and the ``\\n`` that a run of line breaks
  folds into) covers the break plus the stripped indentation of the next line. When that break
  ends a blank line, it takes only as much of the next line's indentation as the blank line had
  itself; the rest stays uncovered. With that, deleting the file range of a whole value line
  (its first character up to and including its ``\\n``) removes exactly one file line's worth of
  text and leaves the following line's indentation intact. For the last line of a block scalar
  (nothing of the scalar follows its ``\\n``) delete the preceding ``\\n`` and the line's
  characters instead.
* When breaks fold into fewer ``\\n``, the folded-away first break (with the whitespace around it)
  is attached to the start of the first ``\\n``.

Text that belongs to no character (quotes, block headers, chomped trailing lines, part of a blank
line's indentation) lies in gaps between extents. Extents are non-empty, increasing and never
overlap. The map is replayed, then checked: if the replay does not reproduce ``node.value``
exactly, :class:`SpanError` is raised, so a caller never edits through a wrong map.

Offsets are character offsets into the decoded text (BOM removed), like the node marks.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ciswitch.patterns import lazy_compile
from ciswitch.yaml.extents import Extent, Segments

if TYPE_CHECKING:
    from ruamel.yaml.nodes import ScalarNode

__all__ = [
    "Extent", "SpanError", "check_extents", "file_range", "value_extents", "value_segments",
]


class SpanError(Exception):
    """The text does not reproduce the node's value: the place cannot be fixed by text edits."""


# libyaml's line breaks: CR LF, CR, LF and NEL read as "\n"; LS and PS stay what they are.
_BREAK_CHARS = "\r\n\x85\u2028\u2029"
_BLANKS = " \t"
_KEPT_BREAKS = "\u2028\u2029"

_NEXT_BREAK = lazy_compile("[\r\n\x85\u2028\u2029]")
# Where an ordinary run of characters ends, per style.
_PLAIN_STOP = lazy_compile("[ \t\r\n\x85\u2028\u2029]")
_SINGLE_STOP = lazy_compile("[ \t\r\n\x85\u2028\u2029']")
_DOUBLE_STOP = lazy_compile('[ \t\r\n\x85\u2028\u2029"\\\\]')

_SIMPLE_ESCAPES = {
    "0": "\0",
    "a": "\a",
    "b": "\b",
    "t": "\t",
    "\t": "\t",
    "n": "\n",
    "v": "\v",
    "f": "\f",
    "r": "\r",
    "e": "\x1b",
    " ": " ",
    '"': '"',
    "/": "/",
    "\\": "\\",
    "N": "\x85",
    "_": "\xa0",
    "L": "\u2028",
    "P": "\u2029",
}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _break_len(text: str, i: int) -> int:
    """Length of the line break at ``i`` (2 for CR LF), 0 if there is none."""
    if i >= len(text):
        return 0
    c = text[i]
    if c == "\r":
        return 2 if text.startswith("\n", i + 1) else 1
    return 1 if c in _BREAK_CHARS else 0


def _break_value(c: str) -> str:
    """What a line break starting with ``c`` becomes in a value."""
    return c if c in _KEPT_BREAKS else "\n"


def _decode_escape(text: str, i: int, stop: int) -> tuple[str, int]:
    """Decode the double-quoted escape at ``text[i] == '\\'``; return (character, end)."""
    if i + 1 >= stop:
        raise SpanError(f"dangling escape at offset {i}")
    code = text[i + 1]
    simple = _SIMPLE_ESCAPES.get(code)
    if simple is not None:
        return simple, i + 2
    width = _HEX_ESCAPES.get(code)
    if width is None:
        raise SpanError(f"unknown escape \\{code} at offset {i}")
    digits = text[i + 2 : i + 2 + width]
    if len(digits) != width or not _HEX_DIGITS.issuperset(digits):
        raise SpanError(f"bad \\{code} escape at offset {i}")
    point = int(digits, 16)
    if 0xD800 <= point <= 0xDFFF or point > 0x10FFFF:
        raise SpanError(f"escape outside Unicode scalar values at offset {i}")
    return chr(point), i + 2 + width


def value_extents(text: str, node: ScalarNode) -> list[Extent]:
    """For each character i of ``node.value``, the half-open range [s, e) of ``text`` that
    produced it. Raises :class:`SpanError` when the text at the node's marks does not
    reproduce the value (then the place must be left alone)."""
    out = value_segments(text, node)
    return out.extents() if out is not None else []


def value_segments(text: str, node: ScalarNode) -> Segments | None:
    """:func:`value_extents` as segments (``firsts``, ``spans`` and ``size`` of the result;
    None for an empty value), which :class:`~ciswitch.yaml.extents.ExtentMap` keeps as
    they are."""
    value: str = node.value
    if not value:
        return None
    start: int = node.start_mark.index
    end: int = node.end_mark.index
    if not 0 <= start < end <= len(text):
        raise SpanError(f"node marks {start}..{end} lie outside the text")
    begin = _skip_properties(text, start, end)
    style = node.style or ""
    if style == "" and end - begin == len(value) and text.startswith(value, begin):
        # a plain scalar written as its value (one line, no folding): every character
        # produces itself, which is what the scan below would find, in one run
        out = Segments()
        out.run(text, begin, end)
    elif style == "":
        out = _scan_flow(text, begin, end, "")
    elif style in ("'", '"'):
        if text[begin] != style or end - begin < 2 or text[end - 1] != style:
            raise SpanError(f"quoted scalar at offset {begin} is not delimited by {style}")
        out = _scan_flow(text, begin + 1, end - 1, style)
    elif style in ("|", ">"):
        if text[begin] != style:
            raise SpanError(f"block scalar at offset {begin} does not start with {style}")
        out = _scan_block(text, begin, end, style == ">", value)
    else:
        raise SpanError(f"unknown scalar style {style!r}")
    if out.size != len(value) or "".join(out.chars) != value:
        raise SpanError(f"text at offsets {start}..{end} does not reproduce the scalar's value")
    return out


def file_range(extents: list[Extent], start: int, end: int) -> tuple[int, int]:
    """The file range covering value characters [start, end) (start < end)."""
    if not 0 <= start < end <= len(extents):
        raise ValueError(f"value range {start}..{end} is empty or outside 0..{len(extents)}")
    return extents[start][0], extents[end - 1][1]


def _skip_properties(text: str, pos: int, end: int) -> int:
    """Skip the anchor and tag that a node's start mark includes (and the whitespace, line
    breaks and comments after them) to the scalar's first character."""
    while pos < end and text[pos] in "&!":
        if text.startswith("!<", pos):  # a verbatim tag may hold any URI character
            pos = text.find(">", pos, end) + 1 or end
        while pos < end and text[pos] not in " \t,[]{}" and _break_len(text, pos) == 0:
            pos += 1
        while pos < end:
            c = text[pos]
            if c in _BLANKS:
                pos += 1
            elif c == "#":
                found = _NEXT_BREAK.search(text, pos, end)
                pos = found.start() if found else end
            else:
                n = _break_len(text, pos)
                if n == 0:
                    break
                pos += n
    if pos >= end:
        raise SpanError(f"no scalar text after the node properties at offset {pos}")
    return pos


def _scan_flow(text: str, pos: int, stop: int, quote: str) -> Segments:
    """Replay a plain ('' quote), single- or double-quoted scalar over ``text[pos:stop]``
    (between the quotes) and return what it produces."""
    out = Segments()
    stopper = _DOUBLE_STOP if quote == '"' else _SINGLE_STOP if quote == "'" else _PLAIN_STOP
    i = pos
    while True:
        escaped_break = False
        # Non-blank characters.
        while i < stop:
            found = stopper.search(text, i, stop)
            j = found.start() if found else stop
            out.run(text, i, j)
            i = j
            if i >= stop:
                break
            c = text[i]
            if c in _BLANKS or c in _BREAK_CHARS:
                break
            if quote == "'":  # c == "'"
                if i + 1 < stop and text[i + 1] == "'":
                    out.add("'", i, i + 2)
                    i += 2
                    continue
                raise SpanError(f"lone quote inside a single-quoted scalar at offset {i}")
            if c == '"':
                raise SpanError(f"unescaped quote inside a double-quoted scalar at offset {i}")
            # c == "\\"
            n = _break_len(text, i + 1) if i + 1 < stop else 0
            if n:
                out.skip_from(i)
                i += 1 + n
                escaped_break = True
                break
            char, after = _decode_escape(text, i, stop)
            out.add(char, i, after)
            i = after
        if i >= stop and not escaped_break:
            break
        i = _blanks_and_breaks(text, i, stop, escaped_break, out)
        if i > stop:
            raise SpanError(f"scalar text runs past offset {stop}")
    if i != stop:
        raise SpanError(f"scalar text ends at {i}, not at {stop}")
    return out


def _blanks_and_breaks(text: str, i: int, stop: int, escaped: bool, out: Segments) -> int:
    """Consume the whitespace and line breaks of a flow scalar from ``i`` and produce what
    they fold into; return the offset after them. ``escaped``: an escaped line break was just
    consumed (it produces nothing; its text is already pending in ``out``)."""
    ws_start = i
    while i < stop and text[i] in _BLANKS:
        i += 1
    if escaped:
        line_start = ws_start
    else:
        n = _break_len(text, i) if i < stop else 0
        if n == 0:
            out.run(text, ws_start, i)  # whitespace inside a line is content
            return i
        leading = _break_value(text[i])
        line_start = i + n
    j = line_start
    while j < stop and text[j] in _BLANKS:
        j += 1
    if not escaped:
        # The first break takes the whitespace before it and all indentation after it.
        if leading != "\n":
            out.add(leading, ws_start, j)
        elif j < stop and _break_len(text, j):
            out.skip_from(ws_start)  # folded away: it joins the first newline below
        else:
            out.add(" ", ws_start, j)
    # Every further break ends a blank line and produces a newline that takes the next line's
    # whitespace, but no more of it than the blank line had itself.
    own = j - line_start
    while j < stop:
        n = _break_len(text, j)
        if n == 0:
            break
        line_start = j + n
        after = line_start
        while after < stop and text[after] in _BLANKS:
            after += 1
        out.add(_break_value(text[j]), j, line_start + min(own, after - line_start))
        own = after - line_start
        j = after
    return j


class _Line:
    """One physical line of a block scalar's body."""

    __slots__ = ("blank", "break_end", "content_end", "content_start", "start")

    def __init__(
        self, start: int, content_start: int, content_end: int, break_end: int, blank: bool,
    ) -> None:
        self.start = start
        #: after the stripped indentation
        self.content_start = content_start
        #: where the line break starts (or the end of the text)
        self.content_end = content_end
        self.break_end = break_end
        self.blank = blank


def _parse_block_header(text: str, pos: int, end: int) -> tuple[str, int]:
    """Read ``|``/``>`` with its indicators, comment and line break; return (chomping, body
    start). Chomping is "", "-" or "+"."""
    pos += 1
    chomp = ""
    if pos < end and text[pos] in "+-":
        chomp = text[pos]
        pos += 1
        if pos < end and text[pos] in "123456789":
            pos += 1
    elif pos < end and text[pos] in "123456789":
        pos += 1
        if pos < end and text[pos] in "+-":
            chomp = text[pos]
            pos += 1
    while pos < end and text[pos] in _BLANKS:
        pos += 1
    if pos < end and text[pos] == "#":
        found = _NEXT_BREAK.search(text, pos, end)
        pos = found.start() if found else end
    n = _break_len(text, pos)
    if n == 0 and pos < len(text):
        raise SpanError(f"unexpected text after the block scalar header at offset {pos}")
    return chomp, pos + n


def _block_indent(text: str, body: int, value: str) -> int | None:
    """The block's indentation (the spaces YAML strips from every line), derived from the
    first content line and the value: the replay then checks it. None if there is no
    content line (only blank lines, whose whitespace is stripped whatever it is)."""
    blank_lines = len(value) - len(value.lstrip("\n" + _KEPT_BREAKS))
    if blank_lines == len(value):
        return None
    pos = body
    for _ in range(blank_lines):
        found = _NEXT_BREAK.search(text, pos)
        if found is None:
            raise SpanError("block scalar has fewer lines than its value")
        pos = found.start() + _break_len(text, found.start())
    spaces = pos
    while spaces < len(text) and text[spaces] == " ":
        spaces += 1
    value_line = value[blank_lines:]
    kept_spaces = len(value_line) - len(value_line.lstrip(" "))
    indent = spaces - pos - kept_spaces
    if indent < 1:
        raise SpanError(f"cannot determine the block indentation at offset {pos}")
    return indent


def _block_lines(text: str, body: int, end: int, indent: int | None) -> list[_Line]:
    """Split the block body ``text[body:end]`` into lines, checking each against the
    indentation the scanner requires."""
    lines: list[_Line] = []
    pos = body
    size = len(text)
    while pos < end:
        limit = size if indent is None else min(size, pos + indent)
        q = pos
        while q < limit and text[q] == " ":
            q += 1
        if q < size and text[q] == "\t" and (indent is None or q - pos < indent):
            raise SpanError(f"tab in block scalar indentation at offset {q}")
        n = _break_len(text, q)
        if n:
            lines.append(_Line(pos, q, q, q + n, True))
            pos = q + n
            continue
        if indent is None or q - pos != indent or q >= size:
            raise SpanError(f"block scalar line at offset {pos} is not indented as expected")
        found = _NEXT_BREAK.search(text, q)
        content_end = found.start() if found else size
        lines.append(_Line(pos, q, content_end, content_end + _break_len(text, content_end), False))
        pos = lines[-1].break_end
    if pos != end:
        raise SpanError(f"block scalar ends at {pos}, not at its end mark {end}")
    return lines


def _scan_block(text: str, pos: int, end: int, folded: bool, value: str) -> Segments:
    """Replay a literal or folded block scalar starting at its indicator."""
    chomp, body = _parse_block_header(text, pos, end)
    indent = _block_indent(text, body, value)
    lines = _block_lines(text, body, end, indent)

    def tail(k: int) -> Extent:
        line = lines[k]
        if k + 1 >= len(lines):
            return line.content_end, line.break_end
        following = lines[k + 1]
        take = following.content_start - following.start
        if line.blank:
            take = min(take, line.content_start - line.start)
        return line.content_end, following.start + take

    out = Segments()
    leading = ""  # the value of the previous content line's break ("" before the first)
    prev = -1
    prev_blank_start = False
    trailing: list[int] = []
    for k, line in enumerate(lines):
        if line.blank:
            trailing.append(k)
            continue
        starts_blank = text[line.content_start] in _BLANKS
        if folded and leading == "\n" and not prev_blank_start and not starts_blank:
            s, e = tail(prev)
            if not trailing:
                out.add(" ", s, e)
            else:
                out.skip_from(s)
        elif leading:
            s, e = tail(prev)
            out.add(leading, s, e)
        for b in trailing:
            s, e = tail(b)
            out.add(_break_value(text[s]), s, e)
        trailing = []
        prev_blank_start = starts_blank
        out.run(text, line.content_start, line.content_end)
        prev = k
        leading = _break_value(text[line.content_end]) if line.break_end > line.content_end else ""
    if chomp != "-" and leading:
        s, e = tail(prev)
        out.add(leading, s, e)
    if chomp == "+":
        for b in trailing:
            s, e = tail(b)
            out.add(_break_value(text[s]), s, e)
    return out


_BREAK_RE = "(?:\r\n|[\r\n\x85\u2028\u2029])"
_FOLDED_BREAK_RE = "(?:\r\n|[\r\n\x85])"
# An escaped line break with the whitespace after it: produces nothing.
_SKIP_PREFIX = lazy_compile(rf"(?:\\{_BREAK_RE}[ \t]*)+")
_FOLD_SPACE = lazy_compile(rf"[ \t]*{_FOLDED_BREAK_RE}[ \t]*")
_FOLD_NEWLINE = lazy_compile(
    rf"[ \t]*(?:{_FOLDED_BREAK_RE}[ \t]*)?{_FOLDED_BREAK_RE}[ \t]*"
)


def check_extents(text: str, node: ScalarNode, extents: list[Extent]) -> None:
    """Check a map against the rules in this module's docstring, independently of how it was
    built; raise :class:`SpanError` naming the first character that breaks them."""
    value: str = node.value
    if len(extents) != len(value):
        raise SpanError(f"{len(extents)} extents for a value of {len(value)} characters")
    lo: int = node.start_mark.index
    hi: int = node.end_mark.index
    style = node.style or ""
    last = lo
    for i, (s, e) in enumerate(extents):
        if not last <= s < e <= hi:
            raise SpanError(f"extent {i} ({s}, {e}) overlaps, is empty or leaves {lo}..{hi}")
        last = e
        seg = text[s:e]
        if style == '"':
            skipped = _SKIP_PREFIX.match(seg)
            if skipped:
                seg = seg[skipped.end() :]
        if not _produces(seg, value[i], style):
            raise SpanError(f"value character {i} {value[i]!r} does not come from {seg!r}")


def _produces(seg: str, char: str, style: str) -> bool:
    """Whether file text ``seg`` may produce value character ``char`` in ``style``."""
    if seg == char and char not in _BREAK_CHARS:
        return True
    if style == '"' and seg.startswith("\\") and len(seg) >= 2:
        try:
            decoded, after = _decode_escape(seg, 0, len(seg))
        except SpanError:
            decoded, after = "", 0
        if after == len(seg) and decoded == char:
            return True
    if style == "'" and char == "'" and seg == "''":
        return True
    if char == " " and style != "|":
        return _FOLD_SPACE.fullmatch(seg) is not None
    if char == "\n":
        return _FOLD_NEWLINE.fullmatch(seg) is not None
    if char in _KEPT_BREAKS:
        return re.fullmatch(rf"[ \t]*(?:{_BREAK_RE}[ \t]*)?{char}[ \t]*", seg) is not None
    return False
