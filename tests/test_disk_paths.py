"""The string path functions against :mod:`pathlib` itself, the oracle they stand for: random
spellings of paths (repeated slashes, ``.``, ``..``, leading ``//``), and real directory trees
with symlinks inside, pointing out, dangling and looping."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ciswitch import disk_paths
from ciswitch.errors import CiswitchError
from ciswitch.lint import default_target, find_root, resolve_target
from ciswitch.report.display import prefix_for
from ciswitch.workspace import DirectoryWorkspace

_SPELLINGS = st.text(alphabet="/.ab", max_size=12)


@given(_SPELLINGS)
def test_as_given_is_pathlibs_spelling(text: str) -> None:
    assert disk_paths.as_given(text) == str(PurePosixPath(text))
    assert disk_paths.as_given(PurePosixPath(text)) == str(PurePosixPath(text))


@given(st.lists(st.sampled_from(["a", "b", "c d", "é"]), max_size=5))
def test_upward_is_the_path_and_its_parents(parts: list[str]) -> None:
    path = "/" + "/".join(parts)
    expected = [str(p) for p in (Path(path), *Path(path).parents)]
    assert disk_paths.upward(str(PurePosixPath(path))) == expected


@given(st.lists(st.sampled_from(["a", "ab", "b"]), max_size=4),
       st.lists(st.sampled_from(["a", "ab", "b"]), max_size=4))
def test_within_is_an_ancestor_or_the_path_itself(one: list[str], two: list[str]) -> None:
    path, root = Path("/" + "/".join(one)), Path("/" + "/".join(two))
    assert disk_paths.within(str(path), str(root)) == (path == root or root in path.parents)
    if disk_paths.within(str(path), str(root)):
        assert disk_paths.posix_relative(str(path), str(root)) == \
            path.relative_to(root).as_posix()


@given(st.lists(st.sampled_from(["a", "b.yml", "c"]), max_size=3))
def test_joined_is_pathlibs_join(parts: list[str]) -> None:
    for directory in ("/", "/r", "/r/s"):
        name = "/".join(parts) or "."
        assert disk_paths.joined(directory, name) == str(Path(directory) / name)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A repository with a subdirectory, a file, and symlinks: to a file inside, to the
    outside, dangling, and in a loop."""
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "ci").mkdir()
    (repo / "ci" / "x.yml").write_text("a: 1\n")
    (repo / ".gitlab-ci.yml").write_text("a: 1\n")
    (tmp_path / "outside.yml").write_text("a: 1\n")
    os.symlink("ci/x.yml", repo / "inside-link.yml")
    os.symlink(tmp_path / "outside.yml", repo / "outside-link.yml")
    os.symlink("nowhere.yml", repo / "dangling.yml")
    os.symlink("loop-b", repo / "loop-a")
    os.symlink("loop-a", repo / "loop-b")
    os.symlink(repo / "ci", tmp_path / "ci-link")
    return tmp_path


_ENTRIES = [".", "ci", "ci/x.yml", "inside-link.yml", "outside-link.yml", "dangling.yml",
            "loop-a", "missing", "ci/../ci/x.yml", "./ci//x.yml"]


def test_resolved_is_pathlibs_resolve(tree: Path) -> None:
    for entry in _ENTRIES:
        path = tree / "repo" / entry
        try:
            expected = str(path.resolve())
        except RuntimeError:  # pathlib refuses a symlink loop; realpath stops in it
            assert entry == "loop-a"
            continue
        assert disk_paths.resolved(path) == expected, entry


def test_the_workspace_refuses_what_leaves_the_root(tree: Path) -> None:
    ws = DirectoryWorkspace(tree / "repo")
    assert ws.root == (tree / "repo").resolve() and ws.label == str(ws.root)
    assert ws.path_of("ci/x.yml") == ws.root / "ci" / "x.yml"
    assert ws.path_of(".") == ws.root
    assert ws.read_bytes("inside-link.yml") == b"a: 1\n"
    with pytest.raises(CiswitchError, match="escapes the repository"):
        ws.read_bytes("outside-link.yml")
    with pytest.raises(CiswitchError, match="file not found"):
        ws.read_bytes("dangling.yml")
    with pytest.raises(CiswitchError, match="cannot read"):
        ws.read_bytes("loop-a")
    assert [ws.is_file(e) for e in ("ci/x.yml", "inside-link.yml", "outside-link.yml",
                                    "dangling.yml", "loop-a", "ci")] == \
        [True, True, False, False, False, False]
    # every name that is a file once its links are followed (reading still refuses the one
    # leaving the root)
    assert sorted(ws.files()) == [".gitlab-ci.yml", "ci/x.yml", "inside-link.yml",
                                  "outside-link.yml"]


def test_targets_and_roots_as_pathlib_found_them(tree: Path, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    repo = tree / "repo"
    monkeypatch.chdir(repo / "ci")
    assert default_target() == str(repo)
    assert find_root(Path("x.yml")) == str(repo.resolve())
    assert find_root(str(tree / "ci-link" / "x.yml")) == str(repo.resolve())
    ws, entry = resolve_target("x.yml")
    assert (ws.root_dir, entry) == (str(repo.resolve()), "ci/x.yml")
    ws, entry = resolve_target(tree / "ci-link" / "x.yml")
    assert (ws.root_dir, entry) == (str(repo.resolve()), "ci/x.yml")
    ws, entry = resolve_target(f"{repo}//")
    assert (ws.root_dir, entry) == (str(repo.resolve()), None)
    with pytest.raises(CiswitchError) as missing:
        resolve_target("./nothing//here/")
    assert missing.value.path == "nothing/here"
    with pytest.raises(CiswitchError, match="escapes the repository") as out:
        resolve_target(repo / "outside-link.yml")
    assert out.value.path == str(repo / "outside-link.yml")


@settings(max_examples=50)
@given(st.sampled_from(["", "ci", "..", "../..", "ci/../.."]),
       st.sampled_from(["", "ci", "..", "ci/.."]))
def test_prefix_for_is_what_pathlib_gave(root: str, cwd: str) -> None:
    base = Path("/tmp/ciswitch-prefix/a/b")
    there, here = (base / root).resolve(), (base / cwd).resolve()
    if there == here:
        expected = ""
    elif here in there.parents or there in here.parents:
        expected = Path(os.path.relpath(there, here)).as_posix()
    else:
        expected = there.as_posix()
    assert prefix_for(str(base / root), base / cwd) == expected
