"""The plain value classes (``ciswitch.record.Record``) behave as the dataclasses they replace.

Every record class of the package is compared with a dataclass made from the same fields and
options by ``dataclasses.make_dataclass`` (the oracle): the same ``__init__`` parameters and
defaults, equality, hash, order, repr, frozenness, ``replace``, copying and pickling.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import pickle
import pkgutil
from typing import Any

import pytest

import ciswitch
from ciswitch.record import (
    FrozenError,
    OrderedRecord,
    Record,
    fields_of,
    replace,
    setf,
    slot_setters,
)


def _record_classes() -> list[type[Record]]:
    for info in pkgutil.walk_packages(ciswitch.__path__, "ciswitch."):
        importlib.import_module(info.name)
    found: list[type[Record]] = []
    todo: list[type[Record]] = [Record]
    while todo:
        klass = todo.pop()
        for sub in klass.__subclasses__():
            todo.append(sub)
            if sub is not OrderedRecord:
                found.append(sub)
    return sorted(found, key=lambda k: (k.__module__, k.__qualname__))


RECORDS = _record_classes()
#: the classes a plain lint creates, all of which were dataclasses
EXPECTED = {
    "ciswitch.model": {"Edit", "Fix", "Position", "Finding", "SettingPlace", "Problem",
                       "Notice", "NotChecked", "Provenance", "LintResult"},
    "ciswitch.shell.model": {"Word", "Assignment", "FlagUse", "WerfCall", "CommandString",
                             "ShellReading", "Atom"},
    "ciswitch.gitlab.model": {"Merged", "ScriptLine", "Variable", "Job", "Pipeline"},
    "ciswitch.analysis.facts": {"FlagAt", "AssignmentAt", "VariableEntry", "CallAt",
                                "SettingAt", "Reach", "Place", "Facts"},
}


#: the records that are frozen (hashable, no assignment) as their dataclasses were, and those
#: that are mutable (and unhashable); each record class is in one of them
FROZEN = {
    "Edit", "Fix", "Position", "SettingPlace", "Problem", "Notice", "NotChecked", "Provenance",
    "Stamp", "PlannedWrite", "Loc", "Entry", "FlagAt", "AssignmentAt", "VariableEntry",
    "CallAt", "SettingAt", "Reach", "_Statement", "ScriptLine", "Variable", "GitLabSettings",
    "SettingsEffect", "RuleOptions", "Rule", "Blocked", "PipelineView", "ScriptRun",
    "NotFollowed", "Word", "Assignment", "FlagUse", "WerfCall", "CommandString",
    "ShellReading", "Atom", "Runs", "Arg",
}
MUTABLE = {
    "Finding", "LintResult", "SourceFile", "Place", "Facts", "Config", "Merged", "Job",
    "Pipeline", "Setting", "Directive", "_Line", "LintRun",
}
ORDERED = {"Edit"}


def test_each_record_keeps_its_frozenness_and_order() -> None:
    for klass in RECORDS:
        name = klass.__qualname__
        assert (name in FROZEN) != (name in MUTABLE), f"{klass}: classify it here"
        assert _frozen(klass) == (name in FROZEN), klass
        assert issubclass(klass, OrderedRecord) == (name in ORDERED), klass


def _frozen(klass: type[Record]) -> bool:
    return klass.__hash__ is not None


def _uncompared(klass: type[Record]) -> set[str]:
    """The fields that do not take part in equality (``_key`` ignores them)."""
    one = _samples(klass, 1)
    base = klass._key(klass(**one))
    return {n for n in klass._fields if klass._key(klass(**{**one, n: ("changed",)})) == base}


def _oracle(klass: type[Record]) -> Any:
    """The dataclass the record class stands for."""
    uncompared = _uncompared(klass)
    params = list(inspect.signature(klass.__init__).parameters.values())[1:]
    assert [p.name for p in params] == list(klass._fields), klass
    fields: list[Any] = []
    for p in params:
        spec: dict[str, Any] = {}
        if p.name not in klass._shown:
            spec["repr"] = False
        if p.name in uncompared:
            spec["compare"] = False
        if p.default is not inspect.Parameter.empty:
            spec["default"] = p.default
        fields.append((p.name, Any, dataclasses.field(**spec)))
    oracle = dataclasses.make_dataclass(
        klass.__name__, fields, frozen=_frozen(klass),
        order=issubclass(klass, OrderedRecord))
    oracle.__qualname__ = klass.__qualname__
    return oracle


def _samples(klass: type[Record], seed: int) -> dict[str, Any]:
    """Hashable, distinct values for every field (the records take them as they are)."""
    return {name: (f"v{seed}", index, seed) for index, name in enumerate(klass._fields)}


def test_the_classes_a_lint_creates_are_records() -> None:
    names: dict[str, set[str]] = {}
    for klass in RECORDS:
        names.setdefault(klass.__module__, set()).add(klass.__qualname__)
    for module, expected in EXPECTED.items():
        assert expected <= names.get(module, set()), module
    for klass in RECORDS:
        assert not dataclasses.is_dataclass(klass), klass


@pytest.mark.parametrize("klass", RECORDS, ids=lambda k: f"{k.__module__}.{k.__qualname__}")
def test_a_record_behaves_as_its_dataclass(klass: type[Record]) -> None:
    oracle = _oracle(klass)
    one, two = _samples(klass, 1), _samples(klass, 2)
    a, a2, b = klass(**one), klass(**one), klass(**two)
    oa, oa2, ob = oracle(**one), oracle(**one), oracle(**two)

    assert fields_of(a) == dataclasses.asdict(oa) == one
    assert not hasattr(a, "__dict__"), "a record keeps its fields in slots"
    assert repr(a) == repr(oa)
    uncompared = _uncompared(klass)
    assert (a == a2, a == b, a != b) == (oa == oa2, oa == ob, oa != ob) == (True, False, True)
    assert a != oa and (a == object()) is False
    if _frozen(klass):
        assert hash(a) == hash(a2) == hash(tuple(one[n] for n in klass._fields
                                                   if n not in uncompared))
        assert hash(a) == hash(oa)
        with pytest.raises(FrozenError):
            a.__setattr__(klass._fields[0], "x")
        with pytest.raises(dataclasses.FrozenInstanceError):
            oa.__setattr__(klass._fields[0], "x")
        with pytest.raises(AttributeError):
            a.__delattr__(klass._fields[0])
        assert {a, a2, b} == {a, b}
    else:
        with pytest.raises(TypeError):
            hash(a)
        with pytest.raises(TypeError):
            hash(oa)
        setattr(a2, klass._fields[0], "x")
        assert getattr(a2, klass._fields[0]) == "x"

    changed = replace(a, **{klass._fields[-1]: ("other",)})
    expected = dataclasses.replace(oa, **{klass._fields[-1]: ("other",)})
    assert type(changed) is klass and fields_of(changed) == dataclasses.asdict(expected)
    assert fields_of(a) == one, "replace leaves the original as it was"
    with pytest.raises(TypeError):
        replace(a, no_such_field=1)

    for twin in (copy.copy(a), copy.deepcopy(a), pickle.loads(pickle.dumps(a))):
        assert type(twin) is klass and fields_of(twin) == one
        assert twin == a


def test_defaults_are_the_dataclass_defaults() -> None:
    """Each default is fresh where the dataclass had a factory (two records never share a
    list), and a record made with defaults only has no field left unset."""
    for klass in RECORDS:
        params = list(inspect.signature(klass.__init__).parameters.values())[1:]
        required = {p.name: ("x",) for p in params if p.default is inspect.Parameter.empty}
        first, second = klass(**required), klass(**required)
        for name in klass._fields:
            value = getattr(first, name)
            if isinstance(value, (list, dict, set)):
                assert value is not getattr(second, name), (klass, name)


def test_edits_order_by_their_fields_as_a_tuple() -> None:
    from ciswitch.model import Edit

    edits = [Edit("b", 1, 2), Edit("a", 5, 6, "x"), Edit("a", 5, 6), Edit("a", 1, 9)]
    assert sorted(edits) == [Edit("a", 1, 9), Edit("a", 5, 6), Edit("a", 5, 6, "x"),
                             Edit("b", 1, 2)]
    assert Edit("a", 1, 2) < Edit("a", 1, 3) <= Edit("a", 1, 3)
    assert Edit("b", 0, 0) > Edit("a", 9, 9) >= Edit("a", 9, 9)
    with pytest.raises(TypeError):
        assert Edit("a", 1, 2) < ("a", 1, 2, "")  # type: ignore[operator]



class _Squared(Record, frozen=True, cached=("_square",)):
    """A record keeping a value worked out from its field."""

    side: int
    _square: int

    def __init__(self, side: int) -> None:
        setf(self, "side", side)

    @property
    def square(self) -> int:
        try:
            return self._square
        except AttributeError:
            setf(self, "_square", self.side * self.side)
            return self._square


def test_a_cached_slot_is_no_field() -> None:
    one = _Squared(3)
    assert _Squared._fields == ("side",)
    assert list(inspect.signature(_Squared.__init__).parameters) == ["self", "side"]
    assert one.square == 9
    assert one == _Squared(3) and hash(one) == hash(_Squared(3))
    assert repr(one) == "_Squared(side=3)"
    for made in (copy.copy(one), copy.deepcopy(one), pickle.loads(pickle.dumps(one))):
        assert made == one and not hasattr(made, "_square")
    changed = replace(one, side=4)
    assert not hasattr(changed, "_square") and changed.square == 16
    with pytest.raises(FrozenError):
        one._square = 1


def test_a_variable_s_text_follows_its_value() -> None:
    from ciswitch.gitlab.model import Variable
    from ciswitch.source import SourceFile
    from ciswitch.yaml.nodes import Loc, mapping_entries

    text = "A: one\nB: two\nC: ~\nD: [x]\n"
    file = SourceFile("v.yml", text.encode(), text, False)
    entries = mapping_entries(file, file.yaml_documents()[0])
    var = Variable("A", entries["A"], Loc(file, entries["A"].value), "job")
    assert var.text == "one" and var.text == "one"
    assert replace(var, value=Loc(file, entries["B"].value)).text == "two"
    assert replace(var, value=Loc(file, entries["C"].value)).text is None
    assert replace(var, value=Loc(file, entries["D"].value)).text is None
    assert replace(var, value=None).text is None


class _Base(Record, frozen=True):
    first: int

    def __init__(self, first: int) -> None:
        setf(self, "first", first)


class _Derived(_Base, frozen=True):
    second: int

    def __init__(self, first: int, second: int) -> None:
        set_first(self, first)
        set_second(self, second)


set_first, set_second = slot_setters(_Derived, "first", "second")


def test_slot_setters_set_fields_of_the_class_and_its_bases() -> None:
    made = _Derived(1, 2)
    assert (made.first, made.second) == (1, 2)
    assert made == _Derived(1, 2) and made != _Derived(1, 3)
    with pytest.raises(FrozenError):
        made.second = 3
    with pytest.raises(AttributeError, match="no field 'third'"):
        slot_setters(_Derived, "third")
