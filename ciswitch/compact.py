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
import itertools
from array import array
from collections.abc import Iterable
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


#: what :func:`compact_nodes` found of a document's aliases: the nodes it reaches counting
#: each use of an alias as its whole subtree again, its height (collections on the longest
#: path down, through aliases), its distinct nodes, and whether an alias names a collection
#: inside which it is used (then the first two mean nothing)
Reach = tuple[int, int, int, bool]


def compact_nodes(documents: list[Any], text: str) -> list[Reach]:
    """Give every node of ``documents`` (composed from ``text``) :class:`NodeMark` marks
    instead of ruamel's C marks, in the order of the text, so that a mark equal to the one
    before it is the same object (a mapping starts where its first key does, a value often
    ends where the next key starts); equal scalar texts become one string and equal tags of
    the resolver one tag. A node reached again through an alias is done once.

    The same walk measures what each document's aliases reach (:data:`Reach`), with each
    collection's expanded size and height computed once: walking the nodes is the costly
    part of both, so the alias limits cost no walk of their own."""
    reaches: list[Reach] = []
    if not documents:
        return reaches
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
    #: a walked collection's id -> (expanded size, height), for the aliases naming it
    done: dict[int, tuple[int, int]] = {}
    scalars = 0
    recursive = False
    chain = itertools.chain.from_iterable

    def at_end(c: Any) -> NodeMark:
        if c.column == 0:
            return last if last == _STREAM_END else stream_end
        return mark(open_end)

    def visit(parts: Iterable[Any]) -> tuple[int, int]:
        """Compact ``parts`` (the nodes of a collection, or a document), each node not done
        yet and what it holds: their expanded size and their height."""
        nonlocal last, last_tag, scalars, recursive
        size = 0
        height = 0
        fresh = 0
        for part in parts:
            start = part.start_mark
            if type(start) is not c_mark:  # done: met again through an alias
                if type(part.value) is str:
                    size += 1
                    continue
                seen = done.get(id(part))
                if seen is None:  # a collection still being walked: it holds itself
                    recursive = True
                    continue
                part_size, part_height = seen
            else:
                index = start.index
                if index != last or index == open_end:
                    last = mark(index) if index != open_end else at_end(start)
                part.start_mark = last
                value = part.value
                if type(value) is str:
                    fresh += 1
                    size += 1
                    part.value = share_text(value, value)
                    tag = part.ctag
                    if tag is not last_tag:
                        if tag.handle is None and tag.handles is None:
                            # the resolver makes a tag for every distinct text
                            tag = part.ctag = tags.setdefault(tag.suffix, tag)
                        last_tag = tag
                    end = part.end_mark
                    index = end.index
                    if index != last or index == open_end:
                        last = mark(index) if index != open_end else at_end(end)
                    part.end_mark = last
                    continue
                part_size, part_height = visit(
                    chain(value) if value and type(value[0]) is tuple else value
                )
                part_size += 1
                part_height += 1
                end = part.end_mark
                index = end.index
                if index != last or index == open_end:
                    last = mark(index) if index != open_end else at_end(end)
                part.end_mark = last
                done[id(part)] = (part_size, part_height)
            size += part_size
            if part_height > height:
                height = part_height
        scalars += fresh
        return size, height

    for document in documents:  # each has its own anchors: no node is in two
        done.clear()
        scalars = 0
        recursive = False
        size, height = visit((document,))
        reaches.append((size, height, len(done) + scalars, recursive))
    return reaches
