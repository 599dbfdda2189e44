"""DirectoryWorkspace.is_file answers as a stat of the path would (the oracle), also where
the first part of the path is no entry of the root, which it answers without a stat."""

from __future__ import annotations

import os
from pathlib import Path

from ciswitch.workspace import DirectoryWorkspace

PATHS = [
    "ci/build.sh", "ci/missing.sh", "reports/x.xml", "build.sh", "ci", "ci/", "./ci/build.sh",
    "ci/../build.sh", "../outside.sh", "/ci/build.sh", "Ci/build.sh", "CI/BUILD.SH",
    "деплой/run.sh", "деплой/нет.sh", "a/b/c/d.sh", ".hidden/x.sh", "", ".", "link/build.sh",
]


def _tree(root: Path) -> None:
    (root / "ci").mkdir()
    (root / "ci" / "build.sh").write_text("echo\n")
    (root / "build.sh").write_text("echo\n")
    (root / "деплой").mkdir()
    (root / "деплой" / "run.sh").write_text("echo\n")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "x.sh").write_text("echo\n")
    (root / "link").symlink_to("ci")


def test_is_file_agrees_with_a_stat_of_each_path(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    _tree(root)
    ws = DirectoryWorkspace(root)
    for rel in PATHS:
        inside = os.path.normpath(os.path.join(root, rel.lstrip("/"))).startswith(str(root))
        expected = inside and bool(rel) and os.path.isfile(root / rel.lstrip("/"))
        assert ws.is_file(rel) is expected, rel
    assert ws.is_file("reports/x.xml") is False


def test_an_entry_written_through_the_workspace_is_seen(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    _tree(root)
    ws = DirectoryWorkspace(root)
    assert not ws.is_file("new/x.sh")  # the root's entries are read now
    target = ws.write_target("fresh.sh")
    (root / "new").mkdir()
    (root / "new" / "y.sh").write_text("echo\n")
    target.write_text("echo\n")
    assert ws.is_file("new/y.sh")
    assert ws.is_file("fresh.sh")


def test_a_read_of_what_is_not_there_says_why(tmp_path: Path) -> None:
    """Paths that differ only in what stands at their first part: nothing (missing), a
    directory (missing below it), a dangling link leaving the root, one staying inside, a
    file (read)."""
    import pytest

    from ciswitch.errors import CiswitchError

    root = tmp_path / "repo"
    (root / "dir").mkdir(parents=True)
    (root / "file.py").write_text("print(1)\n")
    os.symlink(tmp_path / "outside" / "gone", root / "away")
    os.symlink("nothing-here", root / "inside")
    ws = DirectoryWorkspace(root)

    def reason(rel: str) -> str:
        with pytest.raises(CiswitchError) as caught:
            ws.read_bytes(rel)
        return caught.value.message

    assert reason("manage.py") == "file not found"
    assert reason("absent/x.py") == "file not found"
    assert reason("dir/x.py") == "file not found"
    assert reason("away") == "path escapes the repository (symlink)"
    assert reason("away/x.py") == "path escapes the repository (symlink)"
    assert reason("inside") == "file not found"
    assert reason("dir") == "not a regular file"
    assert reason("/") == "not a regular file"
    assert ws.read_bytes("file.py") == b"print(1)\n"
    assert ws.read_bytes("./dir/../file.py") == b"print(1)\n"
