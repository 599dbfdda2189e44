"""Source files give back their exact bytes, and refuse what is not UTF-8 text."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
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
    for path in paths:
        try:
            texts.append(path.read_text(encoding="utf-8-sig"))
        except UnicodeDecodeError:
            continue
    return texts


def test_composed_nodes_are_those_of_the_stock_resolver() -> None:
    """The resolver that keeps its version table gives every node the tag and marks the
    stock one gives, over every fixture, the corpus and YAML 1.1/1.2 look-alikes."""
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
