"""``fleet run`` reads only what lint needs: over a transport (``file://`` here, as over a
network) its clones are shallow and leave big blobs on the remote when the remote serves
partial clones, and are shallow full clones when it does not; both push the same fix on top
of the remote's history. Real bare remotes with a history and big blobs."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest
from gitrepos import git, isolate_git, make_bare
from test_fleet_common import fixture_files, fleet, status_json

BRANCH = "ciswitch/remote-stages-storage"
COMMITS = 6


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)


def remote_with_history(base: Path, name: str, *, filters: bool) -> tuple[Path, list[str]]:
    """A bare remote: the ``flag`` fixture project, then commits each adding a 300 kB asset
    (over the clone's blob limit) and editing a small file; returns it and the assets' ids."""
    work = base / name
    work.mkdir(parents=True)
    git(work, "init", "-q", "-b", "main")
    for rel, content in fixture_files("flag").items():
        path = work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    rng = random.Random(name)
    assets = []
    for k in range(COMMITS):
        (work / "assets").mkdir(exist_ok=True)
        (work / "assets" / f"a{k}.bin").write_bytes(rng.randbytes(300_000))
        (work / "notes.txt").write_text(f"note {k}\n")
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", f"commit {k}")
        assets.append(git(work, "rev-parse", f"HEAD:assets/a{k}.bin"))
    git(work, "branch", "other")  # a second branch: its tip comes along (shallow, all tips)
    bare = make_bare(base / f"{name}.git")
    git(work, "push", "-q", bare.as_uri(), "main", "other")
    git(bare, "symbolic-ref", "HEAD", "refs/heads/main")
    if filters:
        git(bare, "config", "uploadpack.allowFilter", "true")
    return bare, assets


def missing_objects(clone: Path) -> set[str]:
    """Objects the clone's history names but does not have (listed, never fetched)."""
    out = git(clone, "rev-list", "--objects", "--missing=print", "--all")
    return {line[1:] for line in out.splitlines() if line.startswith("?")}


def clone_of(workdir: Path) -> Path:
    (found,) = [p for p in (workdir / "repos").iterdir() if not p.name.startswith(".")]
    return found


def run_and_check_push(tmp_path: Path, bare: Path) -> Path:
    listing = tmp_path / "repos.txt"
    listing.write_text(f"{bare.as_uri()}\n")
    workdir = tmp_path / "work"
    proc = fleet("run", "--repos", str(listing), "--workdir", str(workdir), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [str(r["status"]) for r in status_json(workdir, tmp_path).values()] == ["pushed"]
    # the fix is one commit on top of the remote's whole history, and the remote is sound
    main = git(bare, "rev-parse", "main")
    assert git(bare, "rev-parse", f"{BRANCH}^") == main
    assert git(bare, "rev-list", "--count", BRANCH) == str(COMMITS + 1)
    git(bare, "fsck", "--strict", "--no-dangling")
    fixed = git(bare, "show", f"{BRANCH}:.gitlab-ci.yml")
    assert ":local" not in fixed and ":local" in git(bare, "show", "main:.gitlab-ci.yml")
    assert git(bare, "diff", "--name-only", "main", BRANCH).split() == [
        ".ciswitch.toml", ".gitlab-ci.yml"]
    return workdir


def test_a_remote_serving_partial_clones_gets_a_shallow_clone_without_big_blobs(
    tmp_path: Path,
) -> None:
    bare, assets = remote_with_history(tmp_path / "src", "p", filters=True)
    workdir = run_and_check_push(tmp_path, bare)
    clone = clone_of(workdir)
    assert (clone / ".git" / "shallow").is_file()
    assert git(clone, "rev-list", "--count", "refs/remotes/origin/main") == "1"
    assert git(clone, "rev-parse", "refs/remotes/origin/other") == git(bare, "rev-parse", "other")
    assert git(clone, "config", "remote.origin.promisor") == "true"
    # the tip's assets were not downloaded (older ones are not even named: no history)
    assert assets[-1] in missing_objects(clone)
    assert not set(assets) & {line.split()[0] for line in git(
        clone, "cat-file", "--batch-all-objects", "--batch-check").splitlines()}
    # git still fetches one when it is read
    size = subprocess.run(["git", "cat-file", "-s", assets[-1]], cwd=clone,
                          capture_output=True, text=True, check=True).stdout.strip()
    assert size == "300000"
    # a rerun on the same clones finds the fleet done, and puts no work tree there
    again = fleet("run", "--repos", str(tmp_path / "repos.txt"), "--workdir", str(workdir),
                  cwd=tmp_path)
    assert again.returncode == 0 and "already pushed" in again.stdout, again.stdout
    assert not (clone / ".git" / "index").exists()


def test_a_remote_without_partial_clones_gets_a_shallow_full_clone(tmp_path: Path) -> None:
    bare, assets = remote_with_history(tmp_path / "src", "p", filters=False)
    workdir = run_and_check_push(tmp_path, bare)
    clone = clone_of(workdir)
    assert (clone / ".git" / "shallow").is_file()
    assert git(clone, "rev-list", "--count", "refs/remotes/origin/main") == "1"
    # git sent everything and the clone is an ordinary one: nothing missing, no filter kept
    assert missing_objects(clone) == set()
    assert git(clone, "config", "--get-all", "remote.origin.promisor", check=False) == ""
    assert git(clone, "config", "--get-all", "remote.origin.partialclonefilter",
               check=False) == ""
    have = subprocess.run(["git", "cat-file", "--batch-check"], cwd=clone, capture_output=True,
                          text=True, check=True, input=f"{assets[-1]}\n").stdout.strip()
    assert have.endswith("blob 300000")
    assert assets[0] in git(clone, "cat-file", "--batch-all-objects", "--batch-check")


def test_a_shallow_clone_gets_its_history_back_where_history_is_read(tmp_path: Path) -> None:
    """``fleet branches`` and ``switch`` look for the ciswitch commit in the history: the
    shallow clone of a run becomes a whole one for them."""
    from ciswitch.fleet.clones import sync_clone
    from ciswitch.fleet.sources import RepoSpec, normalize_url

    bare, _assets = remote_with_history(tmp_path / "src", "p", filters=True)
    workdir = run_and_check_push(tmp_path, bare)
    spec = RepoSpec(bare.as_uri(), normalize_url(bare.as_uri()))
    clone = sync_clone(spec, workdir)
    assert clone == clone_of(workdir)
    assert not (clone / ".git" / "shallow").exists()
    assert git(clone, "rev-list", "--count", f"refs/remotes/origin/{BRANCH}") == str(COMMITS + 1)


def test_a_checked_out_clone_for_the_runner_steps_is_shallow_and_whole(tmp_path: Path) -> None:
    """``fleet sync`` checks the tip out (werf reads it): every blob of the tip comes in the
    clone itself, without a filter, and no history."""
    from ciswitch.fleet.clones import sync_clone
    from ciswitch.fleet.sources import RepoSpec, normalize_url

    bare, assets = remote_with_history(tmp_path / "src", "p", filters=True)
    spec = RepoSpec(bare.as_uri(), normalize_url(bare.as_uri()))
    clone = sync_clone(spec, tmp_path / "work", checkout=True, history=False)
    assert clone is not None and (clone / ".git" / "shallow").is_file()
    assert (clone / "assets" / f"a{COMMITS - 1}.bin").stat().st_size == 300_000
    assert missing_objects(clone) == set()
    assert git(clone, "config", "--get-all", "remote.origin.promisor", check=False) == ""
    assert assets[0] in git(clone, "cat-file", "--batch-all-objects", "--batch-check")


def test_a_rerun_works_in_the_shallow_partial_clone_it_left(tmp_path: Path) -> None:
    """``--no-push`` commits in the clone only; the next run fetches into that clone (no work
    tree put there, nothing big fetched) and pushes the commit it left."""
    bare, assets = remote_with_history(tmp_path / "src", "p", filters=True)
    listing = tmp_path / "repos.txt"
    listing.write_text(f"{bare.as_uri()}\n")
    workdir = tmp_path / "work"
    first = fleet("run", "--repos", str(listing), "--workdir", str(workdir), "--no-push",
                  cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert [str(r["status"]) for r in status_json(workdir, tmp_path).values()] == ["prepared"]
    clone = clone_of(workdir)
    committed = git(clone, "rev-parse", f"refs/heads/{BRANCH}")
    assert BRANCH not in git(bare, "for-each-ref", "--format=%(refname)")
    again = fleet("run", "--repos", str(listing), "--workdir", str(workdir), cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert [str(r["status"]) for r in status_json(workdir, tmp_path).values()] == ["pushed"]
    assert git(bare, "rev-parse", BRANCH) == committed
    assert git(bare, "rev-parse", f"{BRANCH}^") == git(bare, "rev-parse", "main")
    assert (clone / ".git" / "shallow").is_file() and not (clone / ".git" / "index").exists()
    assert assets[-1] in missing_objects(clone)
    git(bare, "fsck", "--strict", "--no-dangling")
