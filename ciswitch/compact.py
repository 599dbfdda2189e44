"""Composed YAML nodes, kept small.

ruamel's C composer gives every node two marks of its own (offset, line, column and three
more fields: 80 bytes each), about a third of what a composed big CI file holds in memory, and
every scalar its own copy of its text (``script``, ``stage`` and the like repeat in every
job). :func:`compact_nodes` replaces the marks, once composing is done, with ints that find
their line and column in a table of the text's line starts when they are asked (rarely:
places are offsets), with the same answers as the C marks, and makes equal scalar texts and
equal tags one object.
"""

from __future__ import annotations

import bisect
from array import array
from typing import Any

from ciswitch.patterns import lazy_compile


class NodeMark(int):
    """Where a composed node starts or ends: its character offset into the text, as an int.

    ruamel's C composer gives every node two marks of its own, 80 bytes each with the offset,
    line and column (a third of a composed big file's memory); this is the offset alone with
    the same ``index``, ``line`` and ``column`` (0-based), and equal marks next to each other
    in the text are one object. The line and column come from a table of the text's line
    starts, made on first use and broken where libyaml breaks lines (``\\r\\n``, ``\\r``,
    ``\\n``, NEL, LS, PS). Each composed text has its own subclass holding the text."""

    __slots__ = ()
    _text: str = ""
    _starts: array[int] | None = None

    @classmethod
    def _line_starts(cls) -> array[int]:
        starts = cls._starts
        if starts is None:
            starts = array("q", [0])
            starts.extend(m.end() for m in _YAML_BREAK.finditer(cls._text))
            cls._starts = starts
        return starts

    @property
    def index(self) -> int:
        return int(self)

    @property
    def line(self) -> int:
        return bisect.bisect_right(self._line_starts(), self) - 1

    @property
    def column(self) -> int:
        starts = self._line_starts()
        return int(self) - starts[bisect.bisect_right(starts, self) - 1]

    def __repr__(self) -> str:
        return f"NodeMark(index={self.index}, line={self.line}, column={self.column})"


class _StreamEnd(NodeMark):
    """The end of a text that does not end with a line break, where libyaml ends the last
    line: column 0 of the line after it (the collections that end there say so; a scalar
    ending there says the last line's end, a plain :class:`NodeMark`)."""

    __slots__ = ()

    @property
    def index(self) -> int:
        return len(self._text)

    @property
    def line(self) -> int:
        return len(self._line_starts())

    @property
    def column(self) -> int:
        return 0


#: a line break as libyaml counts lines (``\r\n`` is one)
_YAML_BREAK = lazy_compile("\r\n|[\r\n\x85\u2028\u2029]")
#: the value of a :class:`_StreamEnd` (any int that no offset and no other mark has)
_STREAM_END = -2


def compact_nodes(documents: list[Any], text: str) -> None:
    """Give every node of ``documents`` (composed from ``text``) :class:`NodeMark` marks
    instead of ruamel's C marks, in the order of the text, so that a mark equal to the one
    before it is the same object (a mapping starts where its first key does, a value often
    ends where the next key starts); equal scalar texts become one string and equal tags of
    the resolver one tag. A node reached again through an alias is done once."""
    if not documents:
        return
    mark: type[NodeMark] = type("NodeMark", (NodeMark,), {"__slots__": (), "_text": text})
    stream_end: NodeMark = type("NodeMark", (_StreamEnd, mark), {"__slots__": ()})(_STREAM_END)
    c_mark = type(documents[0].start_mark)
    last = mark(-1)
    texts: dict[str, str] = {}
    share_text = texts.setdefault
    tags: dict[str, Any] = {}
    last_tag: Any = None
    # only a text without a final line break has marks where libyaml's line and column
    # differ for one offset
    open_end = len(text) if text and text[-1] not in "\r\n\x85\u2028\u2029" else -3

    def new(c: Any, index: int) -> NodeMark:
        if index == open_end and c.column == 0:
            return last if last == _STREAM_END else stream_end
        return mark(index)

    def scalar(node: Any) -> None:
        nonlocal last, last_tag
        value = node.value
        node.value = share_text(value, value)
        tag = node.ctag
        if tag is not last_tag:
            if tag.handle is None and tag.handles is None:
                # the resolver makes a new tag for every bool and merge key
                tag = node.ctag = tags.setdefault(tag.suffix, tag)
            last_tag = tag
        start = node.start_mark
        index = start.index
        if index != last or index == open_end:
            last = new(start, index)
        node.start_mark = last
        end = node.end_mark
        index = end.index
        if index != last or index == open_end:
            last = new(end, index)
        node.end_mark = last

    def walk(node: Any) -> None:
        nonlocal last
        start = node.start_mark
        index = start.index
        if index != last or index == open_end:
            last = new(start, index)
        node.start_mark = last
        value = node.value
        if type(value) is list:
            for child in value:
                if type(child) is tuple:
                    for part in child:
                        if type(part.start_mark) is c_mark:
                            if type(part.value) is str:
                                scalar(part)
                            else:
                                walk(part)
                elif type(child.start_mark) is c_mark:
                    if type(child.value) is str:
                        scalar(child)
                    else:
                        walk(child)
        end = node.end_mark
        index = end.index
        if index != last or index == open_end:
            last = new(end, index)
        node.end_mark = last

    for document in documents:
        if type(document.start_mark) is c_mark:
            walk(document)
