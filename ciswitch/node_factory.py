"""Node constructors for ruamel's C composer without ruamel's chain of ``__init__`` methods.

The C composer (``_ruamel_yaml.CParser``) makes every node by calling what its module holds
under ``ScalarNode``, ``SequenceNode`` and ``MappingNode``: ruamel's classes, whose
constructors run two or three Python ``__init__`` levels per node (keyword arguments and a
type test included), a sixth of composing a big CI file. :func:`fast_node_classes` puts
there, for the length of a ``with`` block, functions making the very same objects (ruamel's
own classes, every slot set to what their ``__init__`` sets) in one Python call, and puts
ruamel's classes back afterwards, whatever happened: any other composing, and composing with
another library's composer, sees ruamel's classes.

The C composer also names the kind of node to its resolver by the same name (``resolve(
ScalarNode, value, implicit)``): within the block the resolver is handed these functions, so
only a resolver that knows them may be used with them (ciswitch's, in :mod:`ciswitch.source`).
The functions are used only when ruamel's classes have exactly the slots they set, with
ruamel's own allocation (another ruamel version keeps its constructors). Putting ruamel's
classes back, never what was there before, keeps nested blocks harmless.

A block may also hand the composer a scalar maker of its own (:mod:`ciswitch.compact`'s,
made from :data:`SCALAR_PARTS`: scalars made compact as they are made, for one text). That
belongs to one compose, so the blocks of different threads take turns (the composer holds
the interpreter lock all along anyway, but for the maker's own Python code);
:data:`SCALAR_KINDS` holds whatever the composer may name a scalar's kind by, for the
resolver (:data:`SEQUENCE_KINDS` a sequence's).
"""

from __future__ import annotations

import _thread
import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.tag import Tag

#: the slots ruamel's ``__init__`` methods set, by class (inherited slots included)
_NODE_SLOTS = frozenset({"ctag", "value", "start_mark", "end_mark", "comment", "anchor"})
EXPECTED_SLOTS: dict[type, frozenset[str]] = {
    ScalarNode: _NODE_SLOTS | {"style"},
    SequenceNode: _NODE_SLOTS | {"flow_style"},
    MappingNode: _NODE_SLOTS | {"flow_style", "merge"},
}
_NAMES = {"ScalarNode": ScalarNode, "SequenceNode": SequenceNode, "MappingNode": MappingNode}

_new = object.__new__


def _ctag(tag: Any) -> Any:
    return tag if isinstance(tag, Tag) else Tag(suffix=tag)


def make_scalar(
    tag: Any, value: Any, start_mark: Any = None, end_mark: Any = None, style: Any = None,
    comment: Any = None, anchor: Any = None,
) -> Any:
    """``ScalarNode(...)`` as ruamel's ``ScalarNode.__init__`` and ``Node.__init__`` make it."""
    node = _new(ScalarNode)
    node.ctag = tag if type(tag) is Tag else _ctag(tag)
    node.value = value
    node.start_mark = start_mark
    node.end_mark = end_mark
    node.comment = comment
    node.anchor = anchor
    node.style = style
    return node


def make_sequence(
    tag: Any, value: Any, start_mark: Any = None, end_mark: Any = None,
    flow_style: Any = None, comment: Any = None, anchor: Any = None,
) -> Any:
    """``SequenceNode(...)`` as ruamel's ``CollectionNode.__init__`` makes it."""
    node = _new(SequenceNode)
    node.ctag = tag if type(tag) is Tag else _ctag(tag)
    node.value = value
    node.start_mark = start_mark
    node.end_mark = end_mark
    node.comment = comment
    node.anchor = anchor
    node.flow_style = flow_style
    return node


def make_mapping(
    tag: Any, value: Any, start_mark: Any = None, end_mark: Any = None,
    flow_style: Any = None, comment: Any = None, anchor: Any = None,
) -> Any:
    """``MappingNode(...)`` as ruamel's ``MappingNode.__init__`` makes it (``merge`` None)."""
    node = _new(MappingNode)
    node.ctag = tag if type(tag) is Tag else _ctag(tag)
    node.value = value
    node.start_mark = start_mark
    node.end_mark = end_mark
    node.comment = comment
    node.anchor = anchor
    node.flow_style = flow_style
    node.merge = None
    return node


_MAKERS: dict[str, Callable[..., Any]] = {
    "ScalarNode": make_scalar, "SequenceNode": make_sequence, "MappingNode": make_mapping,
}
#: what the C composer may name a scalar's or a sequence's kind by, to its resolver: ruamel's
#: class, this module's function, or the scalar maker a block in progress installed
SCALAR_KINDS: set[Any] = {ScalarNode, make_scalar}
SEQUENCE_KINDS: frozenset[Any] = frozenset({SequenceNode, make_sequence})
#: held by the block that installed a maker of one compose
_TURN = _thread.RLock()


#: ruamel's scalar class, its tag class and how a tag given as text becomes one: what a maker
#: of the very same scalars needs
SCALAR_PARTS = (ScalarNode, Tag, _ctag)


def slots_of(cls: type) -> frozenset[str]:
    """Every slot of ``cls`` and its bases."""
    found: set[str] = set()
    for klass in cls.__mro__:
        slots = vars(klass).get("__slots__", ())
        found.update((slots,) if isinstance(slots, str) else slots)
    return frozenset(found)


def fits(cls: type, expected: frozenset[str]) -> bool:
    """Whether ``cls`` is made the way the functions here make it: exactly ``expected`` as
    its slots, no ``__dict__``, plain ``object`` allocation."""
    return (
        slots_of(cls) == expected
        and "__dict__" not in dir(cls)
        and vars(object)["__new__"] is getattr(cls, "__new__", None)
    )


def _composer_module() -> ModuleType | None:
    """The C composer's module, when the functions here fit its node classes."""
    try:
        module = importlib.import_module("_ruamel_yaml")
    except ImportError:
        return None
    for name, cls in _NAMES.items():
        if getattr(module, name, None) is not cls or not fits(cls, EXPECTED_SLOTS[cls]):
            return None
    return module


_MODULE: list[ModuleType | None] = []


@contextmanager
def fast_node_classes(scalar: Callable[..., Any] | None = None) -> Iterator[bool]:
    """Within the block, the C composer makes its nodes with :func:`make_scalar` (or
    ``scalar``), :func:`make_sequence` and :func:`make_mapping` (when they fit, see the
    module); the block is given whether they do."""
    if not _MODULE:
        _MODULE.append(_composer_module())
    module = _MODULE[0]
    if module is None:
        yield False
        return
    chosen = _MAKERS if scalar is None else {**_MAKERS, "ScalarNode": scalar}
    with _TURN:
        added = scalar is not None and scalar not in SCALAR_KINDS
        if added:
            SCALAR_KINDS.add(scalar)
        for name, maker in chosen.items():
            setattr(module, name, maker)
        try:
            yield True
        finally:
            for name, cls in _NAMES.items():
                setattr(module, name, cls)
            if added:
                SCALAR_KINDS.discard(scalar)
