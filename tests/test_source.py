"""Source files give back their exact bytes, and refuse what is not UTF-8 text."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ciswitch.errors import CiswitchError
from ciswitch.source import read_source
from ciswitch.workspace import DirectoryWorkspace


@given(text=st.text(), bom=st.booleans(), crlf=st.booleans())
def test_raw_bytes_round_trip_exactly(tmp_path_factory: pytest.TempPathFactory, text: str,
                                      bom: bool, crlf: bool) -> None:
    root: Path = tmp_path_factory.mktemp("src")
    if crlf:
        text = text.replace("\n", "\r\n")
    data = (("\ufeff" if bom else "") + text).encode("utf-8", "surrogatepass")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return  # lone surrogates are not UTF-8: refused elsewhere
    if b"\x00" in data:
        return
    (root / "f.yml").write_bytes(data)
    source = read_source(DirectoryWorkspace(root), "f.yml")
    assert source.raw == data
    assert source.bom == (bom or text.startswith("\ufeff"))


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"a: 1\n\x00", "binary file"), (b"a: \xff\n", "not valid UTF-8")],
)
def test_not_text_is_refused(tmp_path: Path, data: bytes, message: str) -> None:
    (tmp_path / "f.yml").write_bytes(data)
    with pytest.raises(CiswitchError, match=message):
        read_source(DirectoryWorkspace(tmp_path), "f.yml")


def _node_shape(node: object, out: list[tuple[str, str, int, int]]) -> None:
    out.append(
        (
            type(node).__name__,
            str(node.tag),  # type: ignore[attr-defined]
            node.start_mark.index,  # type: ignore[attr-defined]
            node.end_mark.index,  # type: ignore[attr-defined]
        )
    )
    value = node.value  # type: ignore[attr-defined]
    if isinstance(value, list):
        for item in value:
            for child in item if isinstance(item, tuple) else (item,):
                _node_shape(child, out)


def _yaml_texts() -> list[str]:
    root = Path(__file__).resolve().parents[1]
    paths = sorted((root / "tests" / "fixtures").rglob("*.y*ml"))
    corpus = root.parent / "shared" / "corpus"
    if corpus.is_dir():
        paths += sorted(corpus.rglob("*.y*ml"))
    texts = [
        "%YAML 1.1\n---\na: yes\nb: 0777\nc: on\nd: 1_000\n",
        "a: yes\nb: 0o777\nc: ~\nd: 2001-12-14\ne: .inf\nf: 0x1F\n",
        "a: 1\n---\nb: [yes, no, null, '1', 1.5]\n",
    ]
    texts += _scalar_texts()
    for path in paths:
        try:
            texts.append(path.read_text(encoding="utf-8-sig"))
        except UnicodeDecodeError:
            continue
    return texts


#: plain texts the implicit resolvers of YAML 1.1 or 1.2 take for something else than a string,
#: and look-alikes they do not
_SCALARS = [
    "yes", "Yes", "YES", "no", "No", "on", "On", "off", "OFF", "y", "Y", "n", "N", "true",
    "True", "TRUE", "false", "False", "tRUE", "0", "-0", "+1", "017", "0o17", "0x1F", "0X1f",
    "0b101", "1_000", "1:20", "190:20:30", "1.5", ".5", "-.5", "1.", "1e3", "1E+3", "6.8523e+5",
    "1_0.5", "+.inf", ".Inf", "-.INF", ".nan", ".NaN", ".NAN", "~", "null", "Null", "NULL",
    "nULL", "2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5",
    "2001-12-14T21:59:43Z", "2002-1-1", "<<", "=", "a", "-a", "0.1.2", "1,000", "$CI_JOB",
]


def _scalar_texts() -> list[str]:
    """Every scalar of :data:`_SCALARS` as a key and a value, plain, quoted, in a block
    scalar, behind the non-specific tag ``!`` and in flow collections (the same text in
    several styles one after the other), under YAML 1.1 and 1.2 directives and none."""
    lines = []
    for number, text in enumerate(_SCALARS):
        lines += [
            f"{text}: {text}",
            f"k{number}:\n- {text}\n- '{text}'\n- \"{text}\"\n- ! {text}\n- {text}",
            f"b{number}: |\n  {text}",
            f"p{number}: {text}",
        ]
        if ":" not in text:  # libyaml takes no ``:`` in a plain scalar of a flow collection
            lines.append(f"'{text}': {{{text}: {text}, q: '{text}', s: [{text}, '{text}']}}")
    merges = "base: &base {a: 1}\nm1:\n  <<: *base\nm2: {<<: [*base], b: 2}\n"
    body = "\n".join(lines) + "\n" + merges
    return [body, f"%YAML 1.1\n---\n{body}", f"%YAML 1.2\n---\n{body}", f"{body}---\n{body}"]


def test_composed_nodes_are_those_of_the_stock_resolver() -> None:
    """The resolver that keeps its version table and the tags of the plain texts it met gives
    every node the tag and marks the stock one gives, over every fixture, the corpus, YAML
    1.1/1.2 look-alikes and every scalar of :data:`_SCALARS` in every style."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    from ciswitch import source

    compared = 0
    for text in _yaml_texts():
        shapes = []
        for resolver in (None, source._fixed_version_resolver()):
            yaml = YAML(typ="safe", pure=False)
            if resolver is not None:
                yaml.Resolver = resolver
            try:
                docs = [d for d in yaml.compose_all(text) if d is not None]
            except YAMLError as err:
                shapes.append([("error", str(err), 0, 0)])
                continue
            found: list[tuple[str, str, int, int]] = []
            for doc in docs:
                _node_shape(doc, found)
            shapes.append(found)
        assert shapes[0] == shapes[1]
        compared += 1
    assert compared > 50


def test_a_path_resolver_gets_the_stock_resolution() -> None:
    """The resolver's shortcuts hold only without path resolvers: a loader made while one is
    registered resolves as ruamel's own does, the tag it names included."""
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import ScalarNode
    from ruamel.yaml.resolver import VersionedResolver

    from ciswitch import source

    class Stock(VersionedResolver):
        pass

    class Fixed(source._fixed_version_resolver()):  # type: ignore[misc]
        pass

    text = _scalar_texts()[0] + "x:\n  y: yes\n"
    shapes = []
    for resolver in (Stock, Fixed):
        resolver.add_path_resolver("!picked", [(None, "x"), (None, "y")], ScalarNode)
        yaml = YAML(typ="safe", pure=False)
        yaml.Resolver = resolver
        found: list[tuple[str, str, int, int]] = []
        for doc in yaml.compose_all(text):
            _node_shape(doc, found)
        shapes.append(found)
    assert shapes[0] == shapes[1]
    assert ("ScalarNode", "!picked") in {shape[:2] for shape in shapes[1]}


def _marks(node: object, out: list[tuple[object, ...]], seen: set[int]) -> None:
    if id(node) in seen:
        return
    seen.add(id(node))
    value = node.value  # type: ignore[attr-defined]
    tag = str(node.tag)  # type: ignore[attr-defined]
    out.append((type(node).__name__, tag, value if isinstance(value, str) else None))
    for mark in (node.start_mark, node.end_mark):  # type: ignore[attr-defined]
        out.append((mark.index, mark.line, mark.column))
    if isinstance(value, list):
        for item in value:
            for child in item if isinstance(item, tuple) else (item,):
                _marks(child, out, seen)


def _stock_and_compact_marks(text: str) -> tuple[list[tuple[object, ...]], ...] | None:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    from ciswitch.source import compose_documents

    try:
        stock = [d for d in YAML(typ="safe", pure=False).compose_all(text) if d is not None]
    except YAMLError:
        return None
    try:
        compact = compose_documents(text, "f.yml")
    except CiswitchError:
        return None  # refused (too deep, alias bomb...): there are no nodes to compare
    found: list[list[tuple[object, ...]]] = []
    for docs in (stock, compact):
        marks: list[tuple[object, ...]] = []
        seen: set[int] = set()
        for doc in docs:
            _marks(doc, marks, seen)
        found.append(marks)
    return found[0], found[1]


#: every way libyaml breaks a line, and characters that look like one but are not
_BREAKS = ["\n", "\r\n", "\r", "\x85", "\u2028", "\u2029", "\x0b", "\x0c", "\t"]
_ODD_TEXTS = [
    "a: 1\rb: [x,\r y]\r# c\u2028d: \"q\x85r\"\n",
    "a: |\r\n  x\r\n  y\r\n\r\nb: >\u2029  z\x85  w\nc: 'p\rq'\r",
    "- a\u2028- b: c\u2029  d: e\x85- [f, g]\r\n",
    "k: &x {a: 1}\rl: *x\rm: [*x, *x]\n",
    "a: \u0431\u2028b: \u2603 \U0001f600\rc: d\n",
]


def test_compact_marks_give_the_lines_and_columns_of_the_c_composer() -> None:
    """Nodes keep their offsets in small ints that find their line and column in a table of
    the text's line starts: every mark gives the index, line and column of ruamel's own C
    mark, and every node its kind, tag and text, over every fixture, the corpus and texts
    broken with every kind of line break."""
    compared = 0
    for text in [*_yaml_texts(), *_ODD_TEXTS]:
        found = _stock_and_compact_marks(text)
        if found is None:
            continue
        stock, compact = found
        assert compact == stock
        compared += len(stock)
    assert compared > 10_000


@given(parts=st.lists(st.sampled_from(
    ["a", "b:", " ", "- ", "'q", "\"", "|", ">", "#", "{", "}", "[", "]", ",", "&x ", "*x",
     "\u0431", "\U0001f600", *_BREAKS]), max_size=30))
def test_compact_marks_on_any_text(parts: list[str]) -> None:
    found = _stock_and_compact_marks("".join(parts))
    if found is not None:
        assert found[1] == found[0]


def test_a_compact_mark_is_shared_and_small() -> None:
    """A mapping starts where its first key does: the two marks are one object; a mark is an
    int (no per-node object of the C composer is kept); equal texts and tags are shared."""
    from ciswitch.compact import NodeMark
    from ciswitch.source import compose_documents

    (doc,) = compose_documents("a:\n  b: true\nb:\n- true\n", "f.yml")
    inner = doc.value[0][1]
    assert inner.start_mark is inner.value[0][0].start_mark
    assert doc.value[1][0].value is inner.value[0][0].value
    assert doc.value[1][1].value[0].tag is inner.value[0][1].tag
    assert isinstance(inner.start_mark, NodeMark)
    assert (inner.start_mark.index, inner.start_mark.line, inner.start_mark.column) == (5, 1, 2)


def _naive_reach(node: object, path: tuple[int, ...] = ()) -> tuple[int, int, bool]:
    """Expanded size, height and self-reference of ``node``, following every alias again."""
    value = node.value  # type: ignore[attr-defined]
    if isinstance(value, str):
        return 1, 0, False
    if id(node) in path:
        return 0, 0, True
    size, height, recursive = 1, 0, False
    for item in value:
        for child in item if isinstance(item, tuple) else (item,):
            child_size, child_height, child_recursive = _naive_reach(child, (*path, id(node)))
            size += child_size
            height = max(height, child_height)
            recursive = recursive or child_recursive
    return size, height + 1, recursive


def _distinct(node: object, seen: set[int]) -> None:
    if id(node) not in seen:
        seen.add(id(node))
        value = node.value  # type: ignore[attr-defined]
        if not isinstance(value, str):
            for item in value:
                for child in item if isinstance(item, tuple) else (item,):
                    _distinct(child, seen)


_ALIAS_TEXTS = [
    "a: &a {b: 1, c: [2, 3]}\nd: *a\ne: [*a, *a, {f: *a}]\n",
    "a: &a [x, &s y]\nb: &b [*a, *a, *s]\nc: [*b, *b, *b]\n",
    "a: &a {b: *a}\n",
    "a: &a [x, [y, *a]]\n",
    "- &x z\n- *x\n- [*x, *x]\n---\n- &x {a: [1]}\n- *x\n",
    "base: &base {a: 1}\nm1:\n  <<: *base\nm2: {<<: [*base], b: 2}\n",
    "&r x\n",
    "{}\n",
]


def _composed_compacting(text: str) -> tuple[list[Any], list[tuple[int, int, int, bool]]]:
    """The documents of ``text`` as lint composes them (its makers compacting each scalar as
    it is made) and what the walk after composing finds they reach."""
    from ciswitch.compact import Compaction
    from ciswitch.node_factory import SCALAR_PARTS, fast_node_classes
    from ciswitch.source import _compose_all, _fixed_version_resolver

    compaction = Compaction(text)
    with fast_node_classes(compaction.scalar_maker(*SCALAR_PARTS)) as made:
        assert made
        docs = _compose_all(_fixed_version_resolver(), text, "f.yml", compaction.document_done)
    return docs, compaction.walk(docs)


@pytest.mark.parametrize("making", ["ruamel's classes", "compacting makers"])
@pytest.mark.parametrize("text", _ALIAS_TEXTS)
def test_the_compact_walk_measures_what_aliases_reach(text: str, making: str) -> None:
    """The size, height and self-reference the compact walk finds for each document (from
    which the alias limits refuse a document) are those of following every alias again,
    whether the walk compacts every node or the composer's makers compacted the scalars."""
    from ruamel.yaml import YAML

    from ciswitch.compact import compact_nodes

    docs = [d for d in YAML(typ="safe", pure=False).compose_all(text) if d is not None]
    expected = []
    for doc in docs:
        seen: set[int] = set()
        _distinct(doc, seen)
        size, height, recursive = _naive_reach(doc)
        expected.append((size, height, len(seen), recursive))
    if making == "compacting makers":
        reaches = _composed_compacting(text)[1]
    else:
        reaches = compact_nodes(docs, text)
    assert [reach[3] for reach in reaches] == [e[3] for e in expected]
    assert [reach[2] for reach in reaches] == [e[2] for e in expected]
    assert [reach[:2] for reach in reaches if not reach[3]] == [
        e[:2] for e in expected if not e[3]
    ]


def test_alias_limits_are_refused_just_past_them() -> None:
    """A document reaching exactly its allowance is composed; one alias more is refused."""
    from ciswitch.source import ALIAS_ALLOWANCE, compose_documents

    def text(uses: int) -> str:
        # each use of a list of 1,086 scalars reaches 1,087 nodes again; the document has
        # 1,091 distinct nodes
        return f"a: &a [{', '.join(['x'] * 1_086)}]\nb: [{', '.join(['*a'] * uses)}]\n"

    assert ALIAS_ALLOWANCE + 1_091 == 93 * 1_087
    assert len(compose_documents(text(93), "f.yml")) == 1
    with pytest.raises(CiswitchError, match="alias bomb"):
        compose_documents(text(94), "f.yml")


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "é", " ", "\n", "\r", "\r\n", "\u2028", "\x85"])).map("".join)
)
def test_positions_and_line_texts_count_line_feeds(text: str) -> None:
    """Lines end at ``\\n`` alone: a finding's line is one plus the line feeds before it, its
    column one plus the characters since the last of them."""
    from ciswitch.source import SourceFile

    file = SourceFile("f.yml", text.encode(), text, False)
    for offset in range(len(text) + 1):
        line_start = text.rfind("\n", 0, offset) + 1
        position = file.position(offset)
        assert (position.line, position.column) == (
            text.count("\n", 0, offset) + 1, offset - line_start + 1
        )
    for number, line in enumerate(text.split("\n"), start=1):
        assert file.line_text(number) == line.rstrip("\r\n")


def test_composes_in_several_threads_keep_their_own_marks() -> None:
    """The makers that compact nodes as they are made belong to one text: texts composed in
    several threads at once (``fleet run``) each get marks of their own text, with the lines
    and columns of ruamel's own C marks."""
    from concurrent.futures import ThreadPoolExecutor

    from ruamel.yaml import YAML

    from ciswitch.source import compose_documents

    texts = [
        "".join(f"job{i}_{n}:\n  script:\n    - echo {n} {'x' * i}\n" for n in range(400))
        for i in range(1, 5)
    ]

    def marks(docs: list[Any]) -> list[tuple[object, ...]]:
        found: list[tuple[object, ...]] = []
        for doc in docs:
            _marks(doc, found, set())
        return found

    expected = [marks(list(YAML(typ="safe", pure=False).compose_all(t))) for t in texts]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns within each compose
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            for _ in range(3):
                got = list(pool.map(lambda t: marks(compose_documents(t, "f.yml")), texts * 2))
                assert got == expected * 2
    finally:
        sys.setswitchinterval(interval)
