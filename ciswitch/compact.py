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
from collections.abc import Callable, Iterable
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
class Compaction:
    """The compaction of one text's nodes: the text's own :class:`NodeMark` class, and the
    shared texts and tags.

    It is done in two steps when ciswitch makes the composer's nodes itself
    (:mod:`ciswitch.node_factory`): the function of :meth:`scalar_maker` gives a scalar its
    compact marks, text and tag as it makes it, so that :meth:`walk`, after composing, only
    has the collections left and counts what aliases reach. With ruamel's own classes,
    :meth:`walk` does all of it. A big file's scalars are most of its nodes: compacting each
    as it is made saves a walk of every one of them again."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.mark: type[NodeMark] = type(
            "NodeMark", (NodeMark,), {"__slots__": (), "_text": text}
        )
        self.stream_end: NodeMark = type(
            "NodeMark", (_StreamEnd, self.mark), {"__slots__": ()}
        )(_STREAM_END)
        # only a text without a final line break has marks where libyaml's line and column
        # differ for one offset
        self.open_end = (
            len(text) if text and text[-1] not in "\r\n\x85\u2028\u2029" else -3
        )
        self.texts: dict[str, str] = {}
        self.tags: dict[str, Any] = {}
        #: the scalars the scalar maker made in each document composed so far, in order
        #: (none when the C composer made ruamel's nodes: the walk counts those itself)
        self.scalars_made: list[int] = []
        #: what closes the scalar maker's count of a document (None before
        #: :meth:`scalar_maker`)
        self._document_done: Callable[[], None] | None = None

    def document_done(self) -> None:
        """Close the count of scalars the scalar maker made for the document just composed."""
        if self._document_done is not None:
            self._document_done()

    def scalar_maker(self, scalar: type, tag_type: type,
                     to_tag: Callable[[Any], Any]) -> Callable[..., Any]:
        """A function making the very scalar nodes ruamel's class ``scalar`` makes (every
        slot set to what its ``__init__`` sets; a tag that is not a ``tag_type`` made one by
        ``to_tag``), compacted as they are made."""
        mark = self.mark
        open_end = self.open_end
        share_text = self.texts.setdefault
        share_tag = self.tags.setdefault
        new = object.__new__
        last: NodeMark = mark(-1)
        last_tag: Any = None
        made = 0

        def document_done() -> None:
            nonlocal made
            self.scalars_made.append(made)
            made = 0

        self._document_done = document_done

        def make_scalar(
            tag: Any, value: Any, start_mark: Any = None, end_mark: Any = None,
            style: Any = None, comment: Any = None, anchor: Any = None,
        ) -> Any:
            nonlocal last, last_tag, made
            node: Any = new(scalar)
            if tag is not last_tag:
                if type(tag) is not tag_type:
                    tag = to_tag(tag)
                if tag.handle is None and tag.handles is None:
                    # ciswitch's resolver shares its tags already; a tag the text spells
                    # (``!!str x``) is made anew for each scalar
                    tag = share_tag(tag.suffix, tag)
                last_tag = tag
            node.ctag = tag
            node.value = share_text(value, value) if type(value) is str else value
            index = start_mark.index
            if index != last or index == open_end:
                last = mark(index) if index != open_end else self._at_end(start_mark, last)
            node.start_mark = last
            index = end_mark.index
            if index != last or index == open_end:
                last = mark(index) if index != open_end else self._at_end(end_mark, last)
            node.end_mark = last
            node.comment = comment
            node.anchor = anchor
            node.style = style
            made += 1
            return node

        return make_scalar

    def _at_end(self, c: Any, last: NodeMark) -> NodeMark:
        """The mark of a C mark at the end of a text without a final line break."""
        if c.column == 0:
            return last if last == _STREAM_END else self.stream_end
        return self.mark(self.open_end)

    def walk(self, documents: list[Any]) -> list[Reach]:
        """Give every node of ``documents`` not compacted yet :class:`NodeMark` marks instead
        of ruamel's C marks, in the order of the text, so that a mark equal to the one
        before it is the same object (a mapping starts where its first key does, a value
        often ends where the next key starts); equal scalar texts become one string and
        equal tags of the resolver one tag. A node reached again through an alias is done
        once.

        The same walk measures what each document's aliases reach (:data:`Reach`), with
        each collection's expanded size and height computed once: walking the nodes is the
        costly part of both, so the alias limits cost no walk of their own."""
        reaches: list[Reach] = []
        c_mark: Any = next(
            (type(d.end_mark) for d in documents if not isinstance(d.end_mark, NodeMark)),
            _NoMark,
        )
        mark = self.mark
        open_end = self.open_end
        at_end = self._at_end
        last = mark(-1)
        share_text = self.texts.setdefault
        tags = self.tags
        last_tag: Any = None
        #: a walked collection's id -> (expanded size, height), for the aliases naming it
        done: dict[int, tuple[int, int]] = {}
        scalars = 0
        recursive = False
        chain = itertools.chain.from_iterable

        def visit(parts: Iterable[Any]) -> tuple[int, int]:
            """Compact ``parts`` (the nodes of a collection, or a document), each node not
            done yet and what it holds: their expanded size and their height."""
            nonlocal last, last_tag, scalars, recursive
            size = 0
            height = 0
            fresh = 0
            for part in parts:
                end = part.end_mark
                if type(end) is not c_mark:  # made compact, or met again through an alias
                    if type(part.value) is str:
                        size += 1
                        # a scalar made compact starts where the walk's last mark is (the
                        # end of the collection before it): one object, as the walk makes
                        start = part.start_mark
                        if start == last and start is not last:
                            part.start_mark = last
                        last = end
                        continue
                    seen = done.get(id(part))
                    if seen is None:  # a collection still being walked: it holds itself
                        recursive = True
                        continue
                    part_size, part_height = seen
                else:
                    part.end_mark = None  # being walked (an alias inside it is recursive)
                    value = part.value
                    start = part.start_mark
                    index = start.index
                    if index != last or index == open_end:
                        if index == open_end:
                            last = at_end(start, last)
                        else:
                            # a mapping starts where its first key does, which may be made
                            # compact already: one object
                            first = value[0] if value and type(value) is list else None
                            if type(first) is tuple:
                                first = first[0]
                            held = None if first is None else first.start_mark
                            last = held if type(held) is not c_mark and held == index else (
                                mark(index)
                            )
                    part.start_mark = last
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
                        index = end.index
                        if index != last or index == open_end:
                            last = mark(index) if index != open_end else at_end(end, last)
                        part.end_mark = last
                        continue
                    part_size, part_height = visit(
                        chain(value) if value and type(value[0]) is tuple else value
                    )
                    part_size += 1
                    part_height += 1
                    index = end.index
                    if index != last or index == open_end:
                        last = mark(index) if index != open_end else at_end(end, last)
                    part.end_mark = last
                    done[id(part)] = (part_size, part_height)
                size += part_size
                if part_height > height:
                    height = part_height
            scalars += fresh
            return size, height

        made = self.scalars_made
        for number, document in enumerate(documents):  # each has its own anchors
            done.clear()
            scalars = made[number] if number < len(made) else 0
            recursive = False
            size, height = visit((document,))
            reaches.append((size, height, len(done) + scalars, recursive))
        return reaches


class _NoMark:
    """No node has a mark of this class (what :meth:`Compaction.walk` looks for when every
    document is a scalar made compact)."""


def compact_nodes(documents: list[Any], text: str) -> list[Reach]:
    """:meth:`Compaction.walk` of nodes composed from ``text`` with ruamel's own classes."""
    return Compaction(text).walk(documents)
