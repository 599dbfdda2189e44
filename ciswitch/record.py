"""Plain value classes, declared once and created without the dataclass machinery.

A class deriving from :class:`Record` lists its fields as annotations (they become its
``__slots__``) and writes its own ``__init__``. It gets, as a dataclass would: equality and
(when frozen) a hash over its fields as a tuple, ``order=True`` comparisons, the dataclass
``repr``, copying and pickling, and :func:`replace`. A frozen record refuses assignment after
its ``__init__`` (which sets its fields with :data:`setf`).

Why not dataclasses: ``dataclass()`` writes and compiles the methods of every class when its
module is imported, which for the few dozen classes a ``lint`` loads was a large part of a
small file's whole run (pre-commit starts one process per commit); these methods are written
once here and the per-class ``__init__`` is compiled with its module's bytecode.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any, ClassVar, TypeVar

#: sets a field of a frozen record in its ``__init__``
setf = object.__setattr__


def slot_setters(cls: type, *names: str) -> tuple[Callable[[Any, Any], None], ...]:
    """The setters of ``cls``'s slots ``names`` (a slot's own descriptor), for the
    ``__init__`` of a frozen record made by the hundred thousand: ``setter(self, value)``
    sets the field as :data:`setf` does, a third faster (no look-up of the name)."""
    found: list[Callable[[Any, Any], None]] = []
    for name in names:
        owner = next(
            (klass for klass in cls.__mro__ if name in vars(klass).get("__slots__", ())), None
        )
        if owner is None:
            raise AttributeError(f"{cls.__qualname__} has no field {name!r}")
        found.append(vars(owner)[name].__set__)
    return tuple(found)


class FrozenError(AttributeError):
    """An assignment to (or deletion of) a field of a frozen record."""


def _tuple_of(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """A function from a record to the tuple of its ``names`` (C-speed for two or more)."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        get = attrgetter(names[0])
        return lambda record: (get(record),)
    return lambda record: ()


class _RecordType(type):
    """Makes the annotations of a record's class body its ``__slots__``."""

    def __new__(
        mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **options: Any
    ) -> _RecordType:
        if "__slots__" not in namespace:
            namespace["__slots__"] = tuple(
                field
                for field, annotation in namespace.get("__annotations__", {}).items()
                if not str(annotation).startswith(("ClassVar", "typing.ClassVar"))
            )
        return super().__new__(mcls, name, bases, namespace, **options)


class Record(metaclass=_RecordType):
    """Base of the plain value classes (see the module's description). Class keywords:
    ``frozen`` (no assignment after ``__init__``, hashable), ``unshown`` (fields left
    out of the repr), ``uncompared`` (fields left out of equality, hash and order),
    ``cached`` (slots that are no fields: a value worked out from the fields when first
    asked for, kept there by the class's own code; no parameter of ``__init__``, and out of
    equality, the repr, copies, pickles and :func:`replace`, which make a record without
    it)."""

    __slots__ = ()
    #: every field, in the order of the class body (bases first)
    _fields: ClassVar[tuple[str, ...]] = ()
    #: the slots that are no fields (the ``cached`` of the class and its bases)
    _cached: ClassVar[tuple[str, ...]] = ()
    #: the record's fields as a tuple, in the order of ``_fields``
    _values: ClassVar[Callable[..., tuple[Any, ...]]]
    _shown: ClassVar[tuple[str, ...]] = ()
    _key: ClassVar[Callable[..., tuple[Any, ...]]]

    def __init_subclass__(
        cls,
        *,
        frozen: bool = False,
        unshown: tuple[str, ...] = (),
        uncompared: tuple[str, ...] = (),
        cached: tuple[str, ...] = (),
        **options: Any,
    ) -> None:
        super().__init_subclass__(**options)
        cls._cached = (*cls._cached, *cached)
        cls._fields = tuple(
            field for klass in reversed(cls.__mro__) for field in vars(klass).get("__slots__", ())
            if field not in cls._cached
        )
        cls._values = staticmethod(_tuple_of(cls._fields))
        cls._shown = tuple(f for f in cls._fields if f not in unshown)
        cls._key = staticmethod(_tuple_of(tuple(f for f in cls._fields if f not in uncompared)))
        if frozen:
            cls.__setattr__ = _refuse_set  # type: ignore[method-assign,assignment]
            cls.__delattr__ = _refuse_delete  # type: ignore[method-assign,assignment]
            cls.__hash__ = _hash  # type: ignore[method-assign,assignment]
        else:
            cls.__hash__ = None  # type: ignore[assignment]  # mutable and compared: unhashable

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return bool(self._key(self) == self._key(other))
        return NotImplemented

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._shown)
        return f"{self.__class__.__qualname__}({shown})"

    def __getstate__(self) -> tuple[Any, ...]:
        return self._values(self)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for name, value in zip(self._fields, state, strict=True):
            setf(self, name, value)


class OrderedRecord(Record):
    """A record ordered by its fields as a tuple (a dataclass's ``order=True``)."""

    __slots__ = ()

    def __lt__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return bool(self._key(self) < self._key(other))
        return NotImplemented

    def __le__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return bool(self._key(self) <= self._key(other))
        return NotImplemented

    def __gt__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return bool(self._key(self) > self._key(other))
        return NotImplemented

    def __ge__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return bool(self._key(self) >= self._key(other))
        return NotImplemented


def _refuse_set(self: Record, name: str, value: Any) -> None:
    raise FrozenError(f"cannot assign to field {name!r}")


def _refuse_delete(self: Record, name: str) -> None:
    raise FrozenError(f"cannot delete field {name!r}")


def _hash(self: Record) -> int:
    return hash(self._key(self))


R = TypeVar("R", bound=Record)


def replace(record: R, /, **changes: Any) -> R:
    """A new record of the same class, with ``changes`` to its fields (as
    ``dataclasses.replace``)."""
    values = dict(zip(record._fields, record._values(record), strict=True))
    values.update(changes)
    return record.__class__(**values)


def fields_of(record: Record) -> dict[str, Any]:
    """The record's fields by name, in their order (a shallow ``dataclasses.asdict``)."""
    return dict(zip(record._fields, record._values(record), strict=True))
