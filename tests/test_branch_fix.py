"""``ciswitch branches --fix``: the fix on top of each active branch, with a lease, no force."""

from __future__ import annotations

from pathlib import Path

import pytest
from gitrepos import commit_all, git, isolate_git, make_bare, run_ciswitch, write_files

from ciswitch import gitops
from ciswitch.runbook.branch_fix import FIX_PREFIX, fix_branch

LOCAL_CI = """\
build:
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf build-and-publish --stages-storage :local
"""
CLEAN_CI = LOCAL_CI.replace(" --stages-storage :local", "")


def _repo(tmp_path: Path) -> tuple[Path, Path]:
    """A clone whose remote has main (switched), feature/a and feature/b (still :local)."""
    bare = make_bare(tmp_path / "remote.git")
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    write_files(work, {".gitlab-ci.yml": LOCAL_CI})
    commit_all(work, "initial")
    git(work, "remote", "add", "origin", str(bare))
    for branch in ("feature/a", "feature/b"):
        git(work, "switch", "-q", "-c", branch, "main")
        write_files(work, {f"{branch.replace('/', '-')}.txt": "work\n"})
        commit_all(work, f"work on {branch}")
    git(work, "switch", "-q", "main")
    write_files(work, {".gitlab-ci.yml": CLEAN_CI})
    commit_all(work, "switched")
    git(work, "push", "-q", "origin", "main", "feature/a", "feature/b")
    return work, bare


def test_fix_pushes_a_commit_on_top_and_a_rerun_changes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch, tmp_path)
    work, bare = _repo(tmp_path)
    old = {b: git(bare, "rev-parse", f"refs/heads/{b}") for b in ("feature/a", "feature/b")}
    git(bare, "config", "receive.denyNonFastForwards", "true")
    proc = run_ciswitch("branches", str(work), "--fix", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count(": pushed: 1 place fixed") == 2
    for branch, tip in old.items():
        new = git(bare, "rev-parse", f"refs/heads/{branch}")
        assert git(bare, "rev-parse", f"{new}^") == tip
        assert git(bare, "show", f"{new}:.gitlab-ci.yml") == CLEAN_CI.rstrip("\n")
        assert git(bare, "diff", "--name-only", tip, new) == ".gitlab-ci.yml"
    assert git(work, "rev-parse", "--abbrev-ref", "HEAD") == "main"  # the work tree untouched
    again = run_ciswitch("branches", str(work), "--fix", cwd=tmp_path)
    assert again.returncode == 0 and "no active branch carries :local" in again.stdout
    listed = run_ciswitch("branches", str(work), cwd=tmp_path)
    assert listed.returncode == 0, listed.stdout


def test_a_branch_that_moved_since_it_was_read_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch, tmp_path)
    work, bare = _repo(tmp_path)
    repo = gitops.open_repo(work)
    gitops.fetch(repo, "origin")
    read = git(work, "rev-parse", "refs/remotes/origin/feature/a")
    git(work, "switch", "-q", "feature/a")
    write_files(work, {"more.txt": "more\n"})
    commit_all(work, "a teammate pushed meanwhile")
    git(work, "push", "-q", "origin", "feature/a")
    moved = git(bare, "rev-parse", "refs/heads/feature/a")
    found = fix_branch(repo, "origin", "feature/a", read)
    assert found.status == "refused" and "moved since it was read" in found.detail
    assert git(bare, "rev-parse", "refs/heads/feature/a") == moved


def test_mr_mode_opens_a_fix_branch_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch, tmp_path)
    work, bare = _repo(tmp_path)
    old = git(bare, "rev-parse", "refs/heads/feature/a")
    dry = run_ciswitch("branches", str(work), "--fix", "--mr", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0 and dry.stdout.count("would push ciswitch/fix/") == 2
    assert FIX_PREFIX not in git(bare, "for-each-ref", "--format=%(refname)")
    proc = run_ciswitch("branches", str(work), "--fix", "--mr", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("mr-opened") == 2
    assert git(bare, "rev-parse", "refs/heads/feature/a") == old  # the branch itself unchanged
    fix = git(bare, "rev-parse", f"refs/heads/{FIX_PREFIX}feature/a")
    assert git(bare, "rev-parse", f"{fix}^") == old
    again = run_ciswitch("branches", str(work), "--fix", "--mr", cwd=tmp_path)
    assert again.stdout.count("up-to-date") == 2 and again.returncode == 0
    assert git(bare, "rev-parse", f"refs/heads/{FIX_PREFIX}feature/a") == fix


def test_fix_options_need_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch, tmp_path)
    work, _bare = _repo(tmp_path)
    proc = run_ciswitch("branches", str(work), "--mr", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
