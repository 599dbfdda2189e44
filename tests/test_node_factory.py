"""ruamel's nodes made in one Python call: the very nodes ruamel's classes make (every slot,
over every fixture, the corpus and the scalar look-alikes), ruamel's classes back in the C
composer's module after every compose, and ruamel's constructors kept where the functions
would not make the same nodes."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from test_source import _scalar_texts, _yaml_texts

from ciswitch import node_factory, source
from ciswitch.errors import CiswitchError
from ciswitch.node_factory import EXPECTED_SLOTS, fast_node_classes, fits, slots_of

C_MODULE = importlib.import_module("_ruamel_yaml")
CLASSES = {"ScalarNode": ScalarNode, "SequenceNode": SequenceNode, "MappingNode": MappingNode}


def _state(node: Any, seen: dict[int, int], out: list[object]) -> None:
    """Every slot of ``node`` and of what it holds, an alias as the number of its first
    appearance (so that sharing is compared too)."""
    if id(node) in seen:
        out.append(("alias", seen[id(node)]))
        return
    seen[id(node)] = len(seen)
    tag = node.ctag
    slots: list[object] = [type(node)]
    for name in sorted(slots_of(type(node)) - {"ctag", "value", "start_mark", "end_mark"}):
        slots.append((name, getattr(node, name)))
    slots.append((type(tag), tag.handle, tag.suffix, tag.handles, str(tag)))
    for mark in (node.start_mark, node.end_mark):
        slots.append(None if mark is None else (mark.index, mark.line, mark.column))
    out.append(tuple(slots))
    value = node.value
    if isinstance(value, str):
        out.append(value)
        return
    out.append(len(value))
    for item in value:
        for child in item if isinstance(item, tuple) else (item,):
            _state(child, seen, out)


def _composed(text: str, fast: bool) -> list[object]:
    yaml = source.safe_yaml()
    yaml.Resolver = source._fixed_version_resolver()
    if not fast:
        yaml = YAML(typ="safe", pure=False)
    out: list[object] = []
    try:
        if fast:
            with fast_node_classes():
                docs = list(yaml.compose_all(text))
        else:
            docs = list(yaml.compose_all(text))
    except YAMLError as err:
        return ["error", str(err)]
    for doc in docs:
        if doc is not None:
            _state(doc, {}, out)
    return out


def test_the_functions_make_the_nodes_ruamels_classes_make() -> None:
    compared = 0
    for text in [
        *_yaml_texts(),
        "a: !reference [.t, script]\nb: !!str 1\nc: !<tag:x,1:y> z\nd: !e%41 v\n",
        "a: &x {b: [1, {c: d}]}\ne: *x\nf: [*x, *x]\n? [k]\n: v\n",
        "- &s scalar\n- *s\n- !!map {a: 1}\n- !!seq [1]\n- ? complex\n",
        "s: &q [1, 2]\nt: *q\nu: &r\n  - 1\nv: *r\nw: &m\n  k: 1\nx: *m\n",
    ]:
        assert _composed(text, True) == _composed(text, False), text[:200]
        compared += 1
    assert compared > 50


def test_ruamels_classes_are_back_after_composing_and_after_an_error() -> None:
    source.compose_documents("a: [1, {b: c}]\n", "ok.yml")
    assert {name: getattr(C_MODULE, name) for name in CLASSES} == CLASSES
    with pytest.raises(CiswitchError, match="invalid YAML"):
        source.compose_documents("a: [1\n", "bad.yml")
    assert {name: getattr(C_MODULE, name) for name in CLASSES} == CLASSES
    with fast_node_classes():
        assert C_MODULE.ScalarNode is node_factory.make_scalar
        with fast_node_classes():  # nested: the inner block puts ruamel's classes back
            pass
    assert {name: getattr(C_MODULE, name) for name in CLASSES} == CLASSES


def test_the_functions_fit_ruamels_classes_only_with_their_exact_slots() -> None:
    for cls, expected in EXPECTED_SLOTS.items():
        assert fits(cls, expected)

    class MoreSlots(ScalarNode):
        __slots__ = ("extra",)

    class WithDict(ScalarNode):
        pass

    class OwnNew(ScalarNode):
        __slots__ = ()

        def __new__(cls, *args: Any, **kwargs: Any) -> OwnNew:
            return super().__new__(cls)

    expected = EXPECTED_SLOTS[ScalarNode]
    assert not fits(MoreSlots, expected)
    assert not fits(WithDict, expected)
    assert not fits(OwnNew, expected)
    assert not fits(ScalarNode, expected - {"style"})


def test_a_path_resolver_keeps_ruamels_classes_and_gets_its_tag() -> None:
    """ruamel's resolver knows node kinds by ruamel's classes: with a path resolver
    registered, composing keeps them, and the path resolver's tag is there."""
    resolver = source._fixed_version_resolver()
    had = "yaml_path_resolvers" in vars(resolver)
    resolver.add_path_resolver("!picked", [(None, "x"), (None, "y")], ScalarNode)
    try:
        text = _scalar_texts()[0] + "x:\n  y: yes\n"
        documents = source.compose_documents(text, "p.yml")
        stock = YAML(typ="safe", pure=False)
        stock.Resolver = type("Stock", (resolver.__mro__[1],), {})
        stock.Resolver.add_path_resolver("!picked", [(None, "x"), (None, "y")], ScalarNode)
        expected = list(stock.compose_all(text))
    finally:
        if not had:
            del resolver.yaml_path_resolvers
    assert [str(n.tag) for n in _walk(documents[0])] == [str(n.tag) for n in _walk(expected[0])]
    assert "!picked" in {str(n.tag) for n in _walk(documents[0])}
    assert {name: getattr(C_MODULE, name) for name in CLASSES} == CLASSES


def _walk(node: Any) -> list[Any]:
    found = [node]
    if not isinstance(node.value, str):
        for item in node.value:
            for child in item if isinstance(item, tuple) else (item,):
                found.extend(_walk(child))
    return found
