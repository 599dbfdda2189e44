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
