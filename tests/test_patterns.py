"""Patterns compiled on first use (``ciswitch.patterns.lazy_compile``) against ``re`` itself."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

import ciswitch
from ciswitch.patterns import _LazyPattern, lazy_compile

TEXT = "werf build --stages-storage :local\nWERF_STAGES_STORAGE=:local werf run\n"


def test_it_answers_as_the_compiled_pattern() -> None:
    for regex, flags in ((r"(\w+)=(\S+)", 0), (r"^werf (\w+)", re.M), (r"LOCAL", re.I)):
        lazy, real = lazy_compile(regex, flags), re.compile(regex, flags)
        assert lazy.pattern == real.pattern and lazy.flags == real.flags
        assert lazy.groups == real.groups
        got = lazy.search(TEXT)
        expected = real.search(TEXT)
        assert (got and got.span(), got and got.groups()) == (
            expected and expected.span(), expected and expected.groups())
        assert [m.span() for m in lazy.finditer(TEXT)] == [m.span() for m in real.finditer(TEXT)]
        assert lazy.findall(TEXT) == real.findall(TEXT)
        assert lazy.sub("X", TEXT) == real.sub("X", TEXT)
        assert lazy.split(TEXT) == real.split(TEXT)
        assert bool(lazy.match(TEXT)) == bool(real.match(TEXT))
        assert lazy.fullmatch("a=b") is not None or real.fullmatch("a=b") is None


def test_it_compiles_on_first_use_and_once() -> None:
    lazy = lazy_compile(r"a+")
    assert "_compiled" not in vars(lazy)
    assert lazy.search("baa") is not None
    compiled = vars(lazy)["_compiled"]
    assert isinstance(compiled, re.Pattern)
    assert lazy.search("caa") is not None and vars(lazy)["_compiled"] is compiled
    assert lazy.search == compiled.search


def test_a_bad_pattern_fails_on_first_use() -> None:
    lazy = lazy_compile(r"(unclosed")
    with pytest.raises(re.error):
        lazy.search("x")


def test_every_lazy_pattern_of_the_package_compiles() -> None:
    """A mistake in a pattern is no longer an import error: compile them all here."""
    found = 0
    for info in pkgutil.walk_packages(ciswitch.__path__, "ciswitch."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if isinstance(value, _LazyPattern):
                value.search("")
                assert isinstance(vars(value)["_compiled"], re.Pattern), f"{info.name}.{name}"
                found += 1
    assert found >= 39
