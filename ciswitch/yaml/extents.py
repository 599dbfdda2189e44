"""A compact form of a scalar's extents (:func:`ciswitch.yaml.spans.value_extents`), kept by
the analysis for every site it maps: a list of tuples costs 16 bytes a character and more."""

from __future__ import annotations

from array import array
from bisect import bisect_right
from typing import TYPE_CHECKING

from ciswitch.yaml.spans import Extent, value_segments

if TYPE_CHECKING:
    from ruamel.yaml.nodes import ScalarNode

__all__ = ["ExtentMap"]


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
        found = value_segments(text, node)
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
