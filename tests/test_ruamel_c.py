"""ruamel.yaml's package with its ``__init__`` deferred, and the C composer called directly.

The oracle is ruamel.yaml itself: the package imported the usual way in a process of its own
(its names, its version from the installed distribution's metadata), and the nodes ruamel's
``YAML(typ="safe", pure=False).compose_all`` makes with the same resolver, slot by slot, over
every fixture, the corpus and the scalar look-alikes; errors word for word.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from importlib.metadata import version
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from test_node_factory import _state
from test_source import _yaml_texts

from ciswitch import ruamel_c, source


def _run(code: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, check=False, cwd=cwd,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_composing_loads_none_of_ruamels_api() -> None:
    """What a lint needs of ruamel.yaml is its nodes and its C composer: composing imports
    neither the ``YAML`` class's module nor the loaders, dumpers and plug-in search."""
    out = _run("""
        import json, sys
        import ciswitch
        from ciswitch.source import compose_documents
        compose_documents("a: [1, {b: c}]\\nd: &x e\\nf: *x\\n", "x.yml")
        print(json.dumps(sorted(m for m in sys.modules if m.startswith("ruamel"))))
    """)
    loaded = set(json.loads(out))
    assert {"ruamel.yaml", "ruamel.yaml.nodes", "ruamel.yaml.resolver"} <= loaded
    assert not loaded & {"ruamel.yaml.main", "ruamel.yaml.loader", "ruamel.yaml.dumper"}


def test_the_deferred_package_becomes_the_package_ruamel_makes() -> None:
    """After its first use the package object (the same one) holds exactly the names of the
    package imported the usual way, and its ``__getattr__`` is gone."""
    listing = "print(json.dumps(sorted(n for n in vars(ruamel.yaml) if not n.startswith('_')" \
        " or n in ('__version__', '__with_libyaml__'))))"
    usual = json.loads(_run(f"import json, ruamel.yaml\n{listing}"))
    deferred = _run(f"""
        import json, sys
        import ciswitch
        import ruamel.yaml.nodes
        package = sys.modules["ruamel.yaml"]
        assert "YAML" not in vars(package) and "__getattr__" in vars(package)
        from ruamel.yaml import YAML
        assert sys.modules["ruamel.yaml"] is package and "__getattr__" not in vars(package)
        assert YAML is sys.modules["ruamel.yaml.main"].YAML
        assert package.nodes is ruamel.yaml.nodes
        {listing}
        print(ruamel.yaml.__version__)
    """).splitlines()
    assert json.loads(deferred[0]) == usual
    assert deferred[1] == version("ruamel.yaml")


def test_listing_or_star_importing_the_package_completes_it() -> None:
    """``dir()`` and ``from ruamel.yaml import *`` see what the usual package holds."""
    usual = _run("import ruamel.yaml; print(len(dir(ruamel.yaml)))")
    out = _run("""
        import ciswitch, ruamel.yaml, sys
        print(len(dir(ruamel.yaml)))
        print("__dir__" in vars(ruamel.yaml), "__getattr__" in vars(ruamel.yaml))
    """).split()
    assert out == [usual.strip(), "False", "False"]
    star = _run("""
        import ciswitch, ruamel.yaml.nodes
        from ruamel.yaml import *
        print(YAML.__module__, CommentedMap.__module__)
    """)
    assert star.split() == ["ruamel.yaml.main", "ruamel.yaml.comments"]


def test_a_package_imported_already_is_left_alone() -> None:
    out = _run("""
        import sys, ruamel.yaml
        package = sys.modules["ruamel.yaml"]
        import ciswitch
        print(sys.modules["ruamel.yaml"] is package, "__getattr__" in vars(package))
    """)
    assert out.split() == ["True", "False"]


def test_threads_asking_at_once_all_get_the_package() -> None:
    """The first thread runs the ``__init__``; the others wait for it instead of seeing a
    package half made."""
    out = _run("""
        import sys, threading
        import ciswitch
        barrier = threading.Barrier(8)
        got, errors = [], []
        def ask():
            barrier.wait()
            try:
                got.append(sys.modules["ruamel.yaml"].YAML)
            except Exception as err:
                errors.append(repr(err))
        threads = [threading.Thread(target=ask) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(len(got), len(set(got)), errors)
    """)
    assert out.strip().split(None, 2) == ["8", "1", "[]"]


def _fake_package(root: Path, init: str) -> None:
    package = root / "fakepkg" / "inner"
    package.mkdir(parents=True)
    (root / "fakepkg" / "__init__.py").write_text("")
    (package / "__init__.py").write_text(textwrap.dedent(init))
    (package / "part.py").write_text("VALUE = 7\n")


def test_the_init_asking_for_a_name_it_lacks_sees_a_partial_package(tmp_path: Path) -> None:
    """Inside the deferred ``__init__`` the package is being initialised: a name it does not
    hold yet is an AttributeError there (as in a package imported the usual way), and the
    ``__init__`` runs once."""
    _fake_package(tmp_path, """
        import fakepkg.inner
        RUNS = getattr(fakepkg.inner, "RUNS", 0) + 1
        try:
            fakepkg.inner.LATER
        except AttributeError as err:
            SEEN = str(err)
        LATER = 1
    """)
    out = _run("""
        import sys
        from ciswitch.ruamel_c import defer_package
        defer_package("fakepkg.inner")
        import fakepkg.inner.part
        package = sys.modules["fakepkg.inner"]
        assert fakepkg.inner.part.VALUE == 7 and "RUNS" not in vars(package)
        print(package.LATER, package.RUNS, package.RUNS)
        print(package.SEEN)
    """, cwd=tmp_path).splitlines()
    assert out[0] == "1 1 1"
    assert "partially initialized module 'fakepkg.inner'" in out[1]


def test_an_init_that_fails_fails_the_asker_and_runs_again_next_time(tmp_path: Path) -> None:
    _fake_package(tmp_path, """
        import os
        if not os.path.exists("ready"):
            raise ImportError("not ready")
        OK = True
    """)
    out = _run("""
        import pathlib, sys
        from ciswitch.ruamel_c import defer_package
        defer_package("fakepkg.inner")
        package = sys.modules["fakepkg.inner"]
        try:
            package.OK
        except ImportError as err:
            print("first:", err)
        pathlib.Path("ready").touch()
        print("then:", package.OK)
        try:
            package.MISSING
        except AttributeError as err:
            print("missing:", err)
    """, cwd=tmp_path).splitlines()
    assert out == [
        "first: not ready",
        "then: True",
        "missing: module 'fakepkg.inner' has no attribute 'MISSING'",
    ]


def _stock(text: str, resolver: type) -> list[object]:
    yaml = YAML(typ="safe", pure=False)
    yaml.Resolver = resolver
    out: list[object] = []
    try:
        docs = [d for d in yaml.compose_all(text) if d is not None]
    except YAMLError as err:
        return ["error", type(err), str(err)]
    for doc in docs:
        _state(doc, {}, out)
    return out


def _direct(text: str, resolver: type) -> list[object]:
    out: list[object] = []
    try:
        docs = ruamel_c.compose_all(text, resolver)
    except YAMLError as err:
        return ["error", type(err), str(err)]
    assert docs is not None
    for doc in docs:
        _state(doc, {}, out)
    return out


@pytest.mark.parametrize("fixed", [False, True], ids=["stock-resolver", "fixed-resolver"])
def test_the_direct_composer_makes_the_nodes_of_yaml_compose_all(fixed: bool) -> None:
    from ruamel.yaml.resolver import VersionedResolver

    resolver = source._fixed_version_resolver() if fixed else VersionedResolver
    compared = errors = 0
    for text in [
        *_yaml_texts(),
        "a: !reference [.t, script]\nb: !!str 1\nc: !<tag:x,1:y> z\n",
        "a: &x {b: [1, {c: d}]}\ne: *x\nf: [*x, *x]\n? [k]\n: v\n",
        "--- \n...\n---\na: 1\n...\n",
        "",
        "a: [1\n",
        "a: *missing\n",
        "a: b: c\n",
        "a: 1\na: 2\n",
        "\t- x\n",
        "a: b\x00c\n",
        "k: \x07\n",
    ]:
        expected = _stock(text, resolver)
        assert _direct(text, resolver) == expected, text[:200]
        compared += 1
        errors += expected[:1] == ["error"]
    assert compared > 50 and errors >= 6


def test_the_loader_is_freed_without_the_cycle_collector() -> None:
    """The loader refers to itself; emptied when it is done, nothing of it (the text's copy
    included) waits for a collection."""
    import gc
    import weakref

    made = ruamel_c.loader_class(source._fixed_version_resolver())
    assert made is not None
    seen: list[weakref.ref[object]] = []
    original_init = made.__init__

    def keep(self: object, stream: str) -> None:
        original_init(self, stream)
        seen.append(weakref.ref(self))

    made.__init__ = keep  # type: ignore[misc]
    enabled = gc.isenabled()
    gc.disable()
    try:
        ruamel_c.compose_all("a: [1, 2]\n", source._fixed_version_resolver())
        with pytest.raises(YAMLError):
            ruamel_c.compose_all("a: [1\n", source._fixed_version_resolver())
        assert len(seen) == 2 and all(ref() is None for ref in seen)
    finally:
        made.__init__ = original_init  # type: ignore[misc]
        if enabled:
            gc.enable()
