"""What the fleet journal records is what happened on the remotes (real repositories and bare
remotes): work that did not reach a remote never counts as done, work that did is found again."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from gitrepos import git, isolate_git, run_ciswitch
from test_fleet_common import (
    fleet,
    make_repo,
    pushes,
    remote_branches,
    status_json,
    write_list,
)

BRANCH = "ciswitch/remote-stages-storage"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)


def test_no_push_is_prepared_and_a_later_run_pushes(tmp_path: Path) -> None:
    bares = [make_repo(tmp_path / "src", f"p{i}", "flag") for i in range(2)]
    listing = write_list(tmp_path / "repos.txt", bares)
    workdir = tmp_path / "work"
    first = fleet("run", "--repos", str(listing), "--workdir", str(workdir), "--no-push",
                  cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    table = status_json(workdir, tmp_path)
    assert [table[str(b)]["status"] for b in bares] == ["prepared", "prepared"]
    assert "without --no-push" in str(table[str(bares[0])]["detail"])
    assert all(pushes(b) == [] for b in bares)

    again = fleet("run", "--repos", str(listing), "--workdir", str(workdir), "--no-push",
                  cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert [status_json(workdir, tmp_path)[str(b)]["status"] for b in bares] == ["prepared"] * 2

    real = fleet("run", "--repos", str(listing), "--workdir", str(workdir), cwd=tmp_path)
    assert real.returncode == 0, real.stdout + real.stderr
    assert "nothing to do" not in real.stdout
    table = status_json(workdir, tmp_path)
    for bare in bares:
        assert table[str(bare)]["status"] == "pushed"
        assert pushes(bare) == [f"refs/heads/{BRANCH} {git(bare, 'rev-parse', BRANCH)}"]
    # the prepared commit itself is what reached the remote
    assert table[str(bares[0])]["commit"] == git(bares[0], "rev-parse", BRANCH)


def test_dry_run_never_shows_pushed_and_never_blocks(tmp_path: Path) -> None:
    flag = make_repo(tmp_path / "src", "flag", "flag")
    listing = write_list(tmp_path / "repos.txt", [flag])
    workdir = tmp_path / "work"
    for _ in range(2):
        dry = fleet("run", "--repos", str(listing), "--workdir", str(workdir), "--dry-run",
                    cwd=tmp_path)
        assert dry.returncode == 0, dry.stderr
    shown = fleet("status", "--workdir", str(workdir), cwd=tmp_path).stdout
    assert "pushed" not in shown and "dry-run" in shown, shown
    assert status_json(workdir, tmp_path)[str(flag)]["status"] == "dry-run"
    real = fleet("run", "--repos", str(listing), "--workdir", str(workdir), "--retry-failed",
                 cwd=tmp_path)
    assert real.returncode == 0 and len(pushes(flag)) == 1, real.stdout


def test_partial_outcome_is_counted_and_fails_the_run(tmp_path: Path) -> None:
    partial = make_repo(tmp_path / "src", "partial", "partial")
    flag = make_repo(tmp_path / "src", "flag", "flag")
    listing = write_list(tmp_path / "repos.txt", [partial, flag])
    workdir = tmp_path / "work"
    proc = fleet("run", "--repos", str(listing), "--workdir", str(workdir), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "done: 1 pushed, 1 partial" in proc.stdout
    row = status_json(workdir, tmp_path)[str(partial)]
    assert row["status"] == "partial" and row["fixed"] == 1 and int(str(row["left"])) >= 1
    assert f"1 fixed, {row['left']} left" in str(row["detail"])
    assert BRANCH in remote_branches(partial)  # what could be fixed was pushed
    shown = fleet("status", "--workdir", str(workdir), cwd=tmp_path).stdout
    assert "2 repositories: 1 pushed, 1 partial" in shown
    # pushed is pushed: a rerun leaves it alone and does not push again
    again = fleet("run", "--repos", str(listing), "--workdir", str(workdir), cwd=tmp_path)
    assert again.returncode == 0 and len(pushes(partial)) == 1, again.stdout


def test_a_failed_repository_whose_push_landed_heals_on_rerun(tmp_path: Path) -> None:
    """The push was journaled failed, yet the branch with the same change reached the remote
    (here: pushed by hand with `ciswitch branch` once the policy hook was lifted)."""
    landed = make_repo(tmp_path / "src", "landed", "flag", reject=True)
    still = make_repo(tmp_path / "src", "still", "flag", reject=True)
    listing = write_list(tmp_path / "repos.txt", [landed, still])
    workdir = tmp_path / "work"
    first = fleet("run", "--repos", str(listing), "--workdir", str(workdir), cwd=tmp_path)
    assert first.returncode == 1
    assert {r["status"] for r in status_json(workdir, tmp_path).values()} == {"failed"}

    (landed / "hooks" / "pre-receive").unlink()
    by_hand = tmp_path / "by-hand"
    git(tmp_path, "clone", "-q", str(landed), str(by_hand))
    proc = run_ciswitch("branch", str(by_hand), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(pushes(landed)) == 1

    again = fleet("run", "--repos", str(listing), "--workdir", str(workdir), cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    table = status_json(workdir, tmp_path)
    assert table[str(landed)]["status"] == "pushed"
    assert "already carries the change" in str(table[str(landed)]["detail"])
    assert len(pushes(landed)) == 1  # healed without a second push
    assert table[str(still)]["status"] == "failed"
    assert "failed in run 1 (use --retry-failed)" in again.stdout


def test_pyproject_settings_the_marker_is_decided_as_branch_does_and_reported(
    tmp_path: Path,
) -> None:
    bare = make_repo(tmp_path / "src", "deploys", "pyproject")
    listing = write_list(tmp_path / "repos.txt", [bare])
    workdir = tmp_path / "work"
    proc = fleet("run", "--repos", str(listing), "--workdir", str(workdir), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning" not in proc.stdout + proc.stderr
    row = status_json(workdir, tmp_path)[str(bare)]
    assert row["status"] == "pushed"
    files = git(bare, "ls-tree", "--name-only", BRANCH).splitlines()
    assert ".ciswitch.toml" not in files and "pyproject.toml" in files
    pushed = git(bare, "show", f"{BRANCH}:pyproject.toml")
    # the marker went into [tool.ciswitch], where the settings live
    assert tomllib.loads(pushed)["tool"]["ciswitch"]["stages-storage"] == "remote"

    # `ciswitch branch` in a clone of the same project decides the same way
    work = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(make_repo(tmp_path / "src2", "deploys", "pyproject")),
        str(work))
    branch = run_ciswitch("branch", str(work), "--no-push", cwd=tmp_path)
    assert branch.returncode == 0, branch.stderr
    assert "pyproject.toml marks the switch" in branch.stdout
    assert ".ciswitch.toml" not in git(work, "ls-tree", "--name-only", BRANCH).splitlines()
    assert git(work, "show", f"{BRANCH}:pyproject.toml") == pushed
