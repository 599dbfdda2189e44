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
