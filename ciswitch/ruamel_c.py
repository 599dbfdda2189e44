"""ruamel.yaml's C composer without the rest of ruamel.yaml.

ciswitch only composes (nodes with their marks, never Python objects), and only with the C
parser. Importing any part of ruamel.yaml runs the package's ``__init__``, which imports its
whole API (``main``: the ``YAML`` class, the loaders and dumpers, typing, glob): a sixteenth of
a small file's whole ``lint`` (pre-commit starts one process per commit), for nothing that
composing uses.

:func:`defer_package` therefore puts the ``ruamel.yaml`` package into ``sys.modules`` without
running its ``__init__``: its submodules (nodes, the C parser's ``_ruamel_yaml`` and what that
imports) load as usual, and the package's ``__init__`` runs, in the same module object, the
first time anything asks the package for a name it does not have yet (``from ruamel.yaml
import YAML``, ``ruamel.yaml.__version__``). Whoever uses ruamel.yaml's API after that gets
exactly the package it would have had; ``import ruamel.yaml.main`` works at any time. Nothing
is deferred when ruamel.yaml is already imported or is not laid out as a package of Python
source files (then it is imported the usual way, on its first use).

:func:`compose_all` composes with a loader made as ruamel's ``YAML(typ="safe", pure=False)``
makes its own (the C parser and the resolver given; the constructor left out, composing never
calls it), calling the C parser's composer as ``YAML.compose_all`` does: the nodes are the
same.
"""

from __future__ import annotations

import _thread
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any


def defer_package(name: str = "ruamel.yaml") -> None:
    """Put the package ``name`` into ``sys.modules`` with its ``__init__`` deferred (see the
    module's description); nothing when it is imported already or cannot be deferred."""
    if name in sys.modules:
        return
    from importlib import import_module
    from importlib.machinery import PathFinder, SourceFileLoader

    parent_name, _, child = name.rpartition(".")
    parent: Any = None
    search: list[str] | None = None
    if parent_name:
        try:
            parent = import_module(parent_name)
        except ImportError:
            return
        search = list(getattr(parent, "__path__", ()))
    spec = PathFinder.find_spec(name, search)
    if (
        spec is None
        or not isinstance(spec.loader, SourceFileLoader)
        or not spec.submodule_search_locations
    ):
        return
    loader = spec.loader
    # what importlib.util.module_from_spec makes of a source package's spec (that module's
    # import is a start-up cost a lint of a file without werf would not otherwise pay)
    module = ModuleType(name)
    module.__spec__ = spec
    module.__loader__ = loader
    module.__package__ = name
    module.__path__ = list(spec.submodule_search_locations)
    module.__file__ = spec.origin
    module.__cached__ = spec.cached  # type: ignore[attr-defined]
    lock = _thread.RLock()
    loading: list[bool] = []  # not empty while the package's __init__ runs

    def load() -> None:
        """Run the package's ``__init__`` unless it ran (in one thread; the others wait)."""
        with lock:
            if loading or "__getattr__" not in module.__dict__:
                return
            loading.append(True)
            try:
                loader.exec_module(module)
            finally:
                loading.clear()
            module.__dict__.pop("__getattr__", None)
            module.__dict__.pop("__dir__", None)

    def complete(attribute: str) -> Any:
        """The package's ``__getattr__`` until its ``__init__`` has run: run it, then answer."""
        with lock:
            if loading:  # asked by the __init__ itself: the package is being initialised
                raise AttributeError(
                    f"partially initialized module {name!r} has no attribute {attribute!r}"
                )
            load()
        try:
            return module.__dict__[attribute]
        except KeyError:
            raise AttributeError(f"module {name!r} has no attribute {attribute!r}") from None

    def listing() -> list[str]:
        """The package's ``__dir__`` until its ``__init__`` has run: every name it will have."""
        load()
        return sorted(module.__dict__)

    module.__dict__["__getattr__"] = complete
    module.__dict__["__dir__"] = listing
    sys.modules[name] = module
    if parent is not None:
        setattr(parent, child, module)  # as the import system binds a submodule


def _c_parser() -> Any:
    """The C parser class ruamel.yaml's ``cyaml`` uses, or None without one."""
    from importlib import import_module

    for name in ("_ruamel_yaml", "_ruamel_yaml_clibz"):  # ruamel.yaml.clib's, clibz's
        try:
            return import_module(name).CParser
        except ImportError:
            continue
    return None


#: loader classes made so far, by resolver class
_LOADERS: dict[type, type | None] = {}


def loader_class(resolver: type) -> type | None:
    """The class of a loader composing with the C parser and ``resolver``, made as
    ``YAML(typ="safe", pure=False)`` makes its own but for the constructor, which composing
    never calls (and whose set-up asks the package for its version); None without a C
    parser."""
    if resolver in _LOADERS:
        return _LOADERS[resolver]
    parser = _c_parser()
    base: Any = resolver
    made: type | None = None
    if parser is not None:

        class CComposer(parser, base):  # type: ignore[misc,valid-type]
            def __init__(self, stream: str) -> None:
                parser.__init__(self, stream)
                self._parser = self._composer = self
                base.__init__(self, version=None, loadumper=self)

        made = CComposer
    _LOADERS[resolver] = made
    return made


def compose_all(
    text: str, resolver: type, document_done: Callable[[], None] | None = None
) -> list[Any] | None:
    """Every document of ``text`` composed (``None`` documents left out), as
    ``YAML.compose_all`` composes them, calling ``document_done`` after each one kept; None
    when there is no C parser (compose with ruamel's ``YAML`` then). Errors are ruamel's own
    (:class:`ruamel.yaml.error.YAMLError`).

    The loader refers to itself in several ways, so it would be freed only by the cycle
    collector, with the text and the C parser's copy of it inside: its attributes are dropped
    when it is done, so reference counting frees it at once (a process composing file after
    file, a fleet worker, keeps none of them)."""
    made = loader_class(resolver)
    if made is None:
        return None
    loader = made(text)
    try:
        documents = []
        while loader.check_node():
            document = loader.get_node()
            if document is not None:
                documents.append(document)
                if document_done is not None:
                    document_done()
        return documents
    finally:
        loader.dispose()
        loader.__dict__.clear()
