"""Advice names options the command really has: git code raises typed errors, and each
command (``branch``, ``revert``, ``status``) adds its own words. Real repositories and bare
remotes, the installed CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from gitrepos import git, isolate_git, make_project, project_files, run_ciswitch


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)


def options_of(command: str, cwd: Path) -> str:
    done = run_ciswitch(command, "--help", cwd=cwd)
    assert done.returncode == 0
    return done.stdout


def unborn_head(tmp_path: Path) -> Path:
    work, bare = make_project(tmp_path, project_files("fixable"), origin_head=False)
    git(bare, "symbolic-ref", "HEAD", "refs/heads/unborn")
    return work


def test_branch_without_default_branch_names_target(tmp_path: Path) -> None:
    work = unborn_head(tmp_path)
    done = run_ciswitch("branch", cwd=work)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "it has no HEAD; pass --target BRANCH" in done.stderr
    assert "--target" in options_of("branch", work)
    assert run_ciswitch("branch", "--target", "main", cwd=work).returncode == 0


def test_status_without_default_branch_names_no_missing_option(tmp_path: Path) -> None:
    work = unborn_head(tmp_path)
    done = run_ciswitch("status", "--no-branches", cwd=work)
    assert done.returncode == 0, done.stderr
    assert "--target" not in done.stdout + done.stderr
    assert "--target" not in options_of("status", work)
    assert "git remote set-head origin BRANCH" in done.stdout


def test_branch_without_identity_names_author(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    work, _bare = make_project(tmp_path, project_files("fixable"))
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
                 "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(name, raising=False)
    git(work, "config", "user.useConfigOnly", "true")
    done = run_ciswitch("branch", "--no-push", cwd=work)
    assert done.returncode == 2
    assert "git does not know who you are" in done.stderr
    assert "or pass --author 'Name <email>'" in done.stderr
    assert "--author" in options_of("branch", work)
    done = run_ciswitch("branch", "--no-push", "--author", "Bot <bot@example.test>", cwd=work)
    assert done.returncode == 0, done.stderr


def test_fleet_run_journals_the_author_advice(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from test_fleet_common import fleet, make_repo, status_json, write_list

    bare = make_repo(tmp_path / "src", "shop", "flag")
    listing = write_list(tmp_path / "repos.txt", [bare])
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
                 "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(name, raising=False)
    git(tmp_path, "config", "--global", "user.useConfigOnly", "true")
    proc = fleet("run", "--repos", str(listing), "--workdir", str(tmp_path / "work"),
                 cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    row = status_json(tmp_path / "work", tmp_path)[str(bare)]
    assert row["status"] == "failed"
    assert "git does not know who you are" in str(row["detail"])
    assert "or pass --author 'Name <email>'" in str(row["detail"])
    assert "--author" in options_of_fleet_run(tmp_path)


def options_of_fleet_run(cwd: Path) -> str:
    done = run_ciswitch("fleet", "run", "--help", cwd=cwd)
    assert done.returncode == 0
    return done.stdout
