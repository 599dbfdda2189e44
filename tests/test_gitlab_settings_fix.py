"""``fix --gitlab`` and ``revert --gitlab``: the :local CI/CD variables of GitLab's settings
changed through the API (the stand-in on 127.0.0.1), journaled with their old values in the
clone, and put back.

Real git repositories, the installed CLI as a subprocess; what GitLab holds is read from the
stand-in's own state, which the CLI reaches only over HTTP.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gitlab_standin import GitLabStandin, running
from gitrepos import git

USER = "glpat-fixsettings-user-0001"
ADMIN = "glpat-fixsettings-admin-0002"
PROJECT = "web/shop"
STAGES = "WERF_STAGES_STORAGE"
SYNC = "WERF_SYNCHRONIZATION"
ADDR = "registry.example.com/web/shop/stages"
CI = """\
build:
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf build-and-publish
deploy:
  environment: production
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf deploy
"""
BARE_JOB = "old:\n  script:\n    - werf build-and-publish\n"


@pytest.fixture()
def api() -> Iterator[GitLabStandin]:
    with running({USER: False, ADMIN: True}) as server:
        yield server


def _repo(tmp_path: Path, ci: str = CI) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".gitlab-ci.yml").write_text(ci, encoding="utf-8")
    git(repo, "init", "-q", "-b", "main")
    return repo


def _run(repo: Path, api: GitLabStandin, *args: str, token: str = USER
         ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GITLAB_TOKEN": token, "NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-m", "ciswitch", *args], cwd=repo,
                          capture_output=True, text=True, env=env, check=False, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    assert token not in done.stdout + done.stderr
    return done


def _fix(repo: Path, api: GitLabStandin, *args: str, token: str = USER
         ) -> subprocess.CompletedProcess[str]:
    return _run(repo, api, "fix", "--gitlab", "--gitlab-url", api.url, "--gitlab-project",
                PROJECT, *args, token=token)


def _revert(repo: Path, api: GitLabStandin, *args: str, token: str = USER
            ) -> subprocess.CompletedProcess[str]:
    return _run(repo, api, "revert", "--gitlab", *args, token=token)


def _changes(api: GitLabStandin) -> list[str]:
    return [c for c in api.calls() if not c.startswith("GET ")]


def _journal(repo: Path) -> list[dict[str, Any]]:
    path = repo / ".git" / "ciswitch" / "gitlab-settings.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def _arrange(api: GitLabStandin) -> dict[str, Any]:
    project = api.add_project(PROJECT)
    api.add_variable(project, STAGES, ":local", protected=True)
    api.add_variable(project, SYNC, ":local", environment_scope="production")
    api.add_variable(api.find_group("web"), STAGES, ":local", environment_scope="review/*")
    api.add_schedule(project, "nightly", "main", {STAGES: ":local", "OTHER": "kept"})
    return project


def _state(api: GitLabStandin) -> dict[str, Any]:
    return copy.deepcopy({"project": api.state.project_variables,
                          "group": api.state.group_variables,
                          "schedules": api.state.schedules})


def test_dry_run_shows_every_change_and_makes_none(tmp_path: Path, api: GitLabStandin) -> None:
    project = _arrange(api)
    sid = api.state.schedules[project["id"]][0]["id"]
    repo = _repo(tmp_path)
    before = _state(api)
    done = _fix(repo, api, "--dry-run")
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"GitLab's CI/CD settings of {PROJECT}: 4 variables set :local"
    assert sorted(lines[1:5]) == sorted([
        "  leave gitlab: group web/ variable WERF_STAGES_STORAGE (environment scope review/*): "
        "shared by every project of group web/: pass --shared to change it for all of them",
        f"  delete gitlab: project {PROJECT} variable WERF_STAGES_STORAGE (environment scope *)",
        f"  leave gitlab: project {PROJECT} variable WERF_SYNCHRONIZATION (environment scope "
        "production): unsafe (changes the locking backend): use --unsafe-fixes",
        f"  delete gitlab: project {PROJECT} schedule {sid} (nightly) variable "
        "WERF_STAGES_STORAGE",
    ])
    assert "dry run: nothing changed" in lines
    assert _changes(api) == [] and _state(api) == before
    assert not (repo / ".git" / "ciswitch" / "gitlab-settings.jsonl").exists()


def test_fix_then_revert_puts_every_variable_back(tmp_path: Path, api: GitLabStandin) -> None:
    project = _arrange(api)
    repo = _repo(tmp_path)
    before = _state(api)
    done = _fix(repo, api, "--unsafe-fixes", "--shared")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [line for line in done.stdout.splitlines() if line.startswith("  done: ")] \
        and "failed" not in done.stdout
    assert api.state.project_variables[project["id"]] == []
    assert api.state.group_variables[api.find_group("web")["id"]] == []
    schedule = api.state.schedules[project["id"]][0]
    assert [v["key"] for v in schedule["variables"]] == ["OTHER"]
    journal = _journal(repo)
    intents = [e for e in journal if e["state"] == "intent"]
    assert len(intents) == 4 and all(e["old_value"] == ":local" for e in intents)
    assert {e["state"] for e in journal} == {"intent", "done"}
    assert oct((repo / ".git" / "ciswitch" / "gitlab-settings.jsonl").stat().st_mode)[-3:] \
        == "600"
    # lint agrees: nothing left in the settings
    lint = _run(repo, api, "lint", "--gitlab-url", api.url, "--gitlab-project", PROJECT,
                "--format", "json", token=ADMIN)
    assert json.loads(lint.stdout)["findings"] == []

    shown = _revert(repo, api, "--dry-run")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0] == "GitLab's CI/CD settings: 4 changes to put back"
    assert all(line.startswith("  create ") for line in shown.stdout.splitlines()[1:5])
    assert _state(api)["project"][project["id"]] == []
    put = _revert(repo, api)
    assert put.returncode == 0, put.stdout + put.stderr
    after = _state(api)
    # the same variables with the same flags and scopes (a schedule's order aside)
    for level in ("project", "group"):
        for owner, variables in before[level].items():
            assert sorted(after[level][owner], key=lambda v: (v["key"], v["environment_scope"])
                          ) == sorted(variables, key=lambda v: (v["key"],
                                                                 v["environment_scope"]))
    assert sorted(v["key"] for v in after["schedules"][project["id"]][0]["variables"]) == [
        "OTHER", STAGES]
    again = _revert(repo, api)
    assert again.stdout.splitlines()[0] == "GitLab's CI/CD settings: 0 changes to put back"


def test_a_job_left_without_storage_blocks_the_deletion_and_to_sets_an_address(
    tmp_path: Path, api: GitLabStandin
) -> None:
    project = api.add_project(PROJECT)
    api.add_variable(project, STAGES, ":local")
    repo = _repo(tmp_path, CI + BARE_JOB)
    done = _fix(repo, api)
    assert done.returncode == 1
    assert (f"  leave gitlab: project {PROJECT} variable WERF_STAGES_STORAGE (environment "
            "scope *): job old would have no stages storage without it (no werf ci-env): pass "
            "--to ADDRESS") in done.stdout.splitlines()
    assert _changes(api) == []
    done = _fix(repo, api, "--to", ADDR)
    assert done.returncode == 0, done.stdout + done.stderr
    assert api.state.project_variables[project["id"]][0]["value"] == ADDR
    put = _revert(repo, api)
    assert put.returncode == 0, put.stderr
    assert (f"  set gitlab: project {PROJECT} variable WERF_STAGES_STORAGE (environment scope "
            "*) back to :local") in put.stdout.splitlines()
    assert api.state.project_variables[project["id"]][0]["value"] == ":local"


def test_revert_leaves_a_variable_changed_since(tmp_path: Path, api: GitLabStandin) -> None:
    project = api.add_project(PROJECT)
    api.add_variable(project, STAGES, ":local")
    repo = _repo(tmp_path)
    assert _fix(repo, api).returncode == 0
    api.add_variable(project, STAGES, "registry.example.com/someone/else")
    put = _revert(repo, api)
    assert put.returncode == 1
    assert "it exists again (created since): left as it is" in put.stdout
    assert api.state.project_variables[project["id"]][0]["value"] == \
        "registry.example.com/someone/else"


def test_fix_gitlab_needs_its_options(tmp_path: Path, api: GitLabStandin) -> None:
    repo = _repo(tmp_path)
    alone = _run(repo, api, "fix", "--gitlab")
    assert alone.returncode == 2 and "--gitlab needs --gitlab-url" in alone.stderr
    stray = _run(repo, api, "fix", "--shared")
    assert stray.returncode == 2 and "go with --gitlab" in stray.stderr
    api.add_project(PROJECT)
    outside = tmp_path / "plain"
    outside.mkdir()
    (outside / ".gitlab-ci.yml").write_text(CI)
    nogit = _run(outside, api, "fix", "--gitlab", "--gitlab-url", api.url, "--gitlab-project",
                 PROJECT)
    assert nogit.returncode == 2 and "journals every change" in nogit.stderr
    assert _revert(outside, api).stdout.startswith(
        "GitLab's CI/CD settings: nothing journaled")
