"""A compact form of a scalar's extents (:func:`ciswitch.yaml.spans.value_extents`), kept by
the analysis for every site it maps: a list of tuples costs 16 bytes a character and more."""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ruamel.yaml.nodes import ScalarNode

__all__ = ["Extent", "ExtentMap", "Segments"]

#: the half-open range of file text [start, end) a value character comes from
Extent = tuple[int, int]


class Segments:
    """What the scanner of :mod:`ciswitch.yaml.spans` produces: the characters and their
    extents, kept as segments (an extent of any width followed by a run of characters each
    right after the previous one: three integers however long the run, as :class:`ExtentMap`
    keeps them), and the skipped text waiting for the next character."""

    __slots__ = ("chars", "firsts", "last", "pending", "size", "spans")

    def __init__(self) -> None:
        self.chars: list[str] = []
        #: the value index where each segment starts
        self.firsts: list[int] = []
        #: each segment's first extent, start and end
        self.spans: list[int] = []
        #: the characters produced so far
        self.size = 0
        #: where the last extent ends
        self.last = -1
        self.pending = -1

    def add(self, char: str, start: int, end: int) -> None:
        if self.pending >= 0:
            start = self.pending
            self.pending = -1
        self.chars.append(char)
        if start != self.last or end != start + 1:
            self.firsts.append(self.size)
            self.spans.append(start)
            self.spans.append(end)
        self.last = end
        self.size += 1

    def run(self, text: str, start: int, end: int) -> None:
        """Ordinary characters ``text[start:end]``, each producing itself."""
        if start >= end:
            return
        self.chars.append(text[start:end])
        first = start
        if self.pending >= 0:
            first = self.pending
            self.pending = -1
        # the first extent is (first, start + 1); every later one follows the one before
        if first != self.last or first != start:
            self.firsts.append(self.size)
            self.spans.append(first)
            self.spans.append(start + 1)
        self.last = end
        self.size += end - start

    def extents(self) -> list[Extent]:
        """Every extent, one per produced character."""
        out: list[Extent] = []
        firsts, spans = self.firsts, self.spans
        for k, index in enumerate(firsts):
            stop = firsts[k + 1] if k + 1 < len(firsts) else self.size
            start, end = spans[2 * k], spans[2 * k + 1]
            out.append((start, end))
            out.extend(zip(range(end, end + stop - index - 1),
                           range(end + 1, end + stop - index), strict=True))
        return out

    def skip_from(self, start: int) -> None:
        """Text from ``start`` on produces nothing: it joins the next produced character."""
        if self.pending < 0:
            self.pending = start


def _first_value_segments(text: str, node: ScalarNode) -> Segments | None:
    """``value_segments`` on first use, put in :data:`_value_segments`'s place: an import
    statement costs 0.6 us even when loaded, and a big file maps thousands of scalars."""
    global _value_segments
    from ciswitch.yaml.spans import value_segments as _value_segments
    return _value_segments(text, node)


_value_segments: Callable[[str, ScalarNode], Segments | None] = _first_value_segments


class ExtentMap:
    """The extents of a value (see :func:`value_extents`), kept compactly for lookups.

    Most value characters come from the one file character right after the previous one's
    extent: a segment is an extent of any width followed by such a run, stored as three
    integers (the value index where it starts, the first extent's start and end). A plain
    one-line scalar is one segment, a block scalar about one per line, where the extents
    themselves would cost 16 bytes per character."""

    __slots__ = ("_firsts", "_spans", "size")

    def __init__(self, extents: list[Extent]) -> None:
        code = "i" if not extents or extents[-1][1] < 2**31 else "q"
        firsts: list[int] = []
        spans: list[int] = []
        last = -1
        for index, (start, end) in enumerate(extents):
            if start == last and end == start + 1:
                last = end
                continue
            firsts.append(index)
            spans.append(start)
            spans.append(end)
            last = end
        self._firsts = array(code, firsts)
        self._spans = array(code, spans)
        self.size = len(extents)

    @classmethod
    def of_text(cls, text: str, node: ScalarNode) -> ExtentMap:
        """The map of a scalar's value (:func:`value_extents`), made from the scanner's
        segments without a tuple per character (``SpanError`` as there)."""
        found = _value_segments(text, node)
        self = cls.__new__(cls)
        if found is None:
            self._firsts = array("i")
            self._spans = array("i")
            self.size = 0
            return self
        code = "i" if found.last < 2**31 else "q"
        self._firsts = array(code, found.firsts)
        self._spans = array(code, found.spans)
        self.size = found.size
        return self

    def __len__(self) -> int:
        return self.size

    def start(self, index: int) -> int:
        """Where the extent of value character ``index`` starts (0 <= index < len)."""
        segment = bisect_right(self._firsts, index) - 1
        step = index - self._firsts[segment]
        return self._spans[2 * segment] if step == 0 else self._spans[2 * segment + 1] + step - 1

    def end(self, index: int) -> int:
        """Where the extent of value character ``index`` ends (0 <= index < len)."""
        segment = bisect_right(self._firsts, index) - 1
        return self._spans[2 * segment + 1] + index - self._firsts[segment]

    def extents(self) -> list[Extent]:
        """Every extent again, as :func:`value_extents` gave them."""
        return [(self.start(index), self.end(index)) for index in range(self.size)]
