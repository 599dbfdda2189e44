"""``ciswitch status`` through a whole migration and its rollback: real repositories, a bare
remote, the werf stand-in writing the block file into a temporary WERF_HOME."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from gitrepos import commit_all, git, isolate_git, make_project, run_ciswitch, write_files

STANDIN_DIR = Path(__file__).parent / "bin"
ADDR = "registry.example.com/web/shop/stages"
CI_LOCAL = """\
before_script:
  - source $(werf ci-env gitlab --as-file)
build:
  script:
    - werf build --stages-storage :local
deploy:
  script:
    - werf deploy --stages-storage :local --env production
"""
CI_REMOTE = """\
before_script:
  - source $(werf ci-env gitlab --as-file)
build:
  script:
    - werf build
deploy:
  script:
    - werf deploy --env production
"""
WERF_YAML = "project: shop\nconfigVersion: 1\n"
MARKER = f'stages-storage = "remote"\nstages-storage-address = "{ADDR}"\n'
SWITCH = ("Use remote werf stages storage instead of :local\n\n"
          "Ciswitch-Change: remote-stages-storage\n")
MR_BRANCH = "ciswitch/remote-stages-storage"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    isolate_git(monkeypatch, tmp_path)
    extra = {
        "PATH": f"{STANDIN_DIR}{os.pathsep}{os.environ['PATH']}",
        "WERF_HOME": str(tmp_path / "werf-home"),
        "WERF_STANDIN_PROJECT": "shop",
        "WERF_STANDIN_LOG": str(tmp_path / "werf.log"),
    }
    for name, value in extra.items():
        monkeypatch.setenv(name, value)
    for name in ("CI_REGISTRY_IMAGE", "WERF_PROJECT_NAME"):
        monkeypatch.delenv(name, raising=False)
    return extra


_HELP: dict[str, str] = {}
_COMMAND_SPAN = re.compile(r"ciswitch (\w+)([^;()`]*)")
_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def options_of(command: str, cwd: Path) -> set[str]:
    if command not in _HELP:
        done = run_ciswitch(command, "--help", cwd=cwd)
        assert done.returncode == 0, done.stderr
        _HELP[command] = done.stdout
    return set(_OPTION.findall(_HELP[command]))


def assert_hints_name_real_options(data: dict[str, Any], cwd: Path) -> None:
    """Every option a hint names exists: on the ``ciswitch CMD`` it follows, else on status."""
    for text in [data["next_step"], *data["problems"]]:
        for match in _COMMAND_SPAN.finditer(text):
            missing = set(_OPTION.findall(match.group(2))) - options_of(match.group(1), cwd)
            assert not missing, f"{text!r} names {missing} that `ciswitch {match.group(1)}` lacks"
        rest = _COMMAND_SPAN.sub("", text)
        missing = set(_OPTION.findall(rest)) - options_of("status", cwd)
        assert not missing, f"{text!r} names {missing} that `ciswitch status` lacks"


def status(work: Path, *args: str) -> dict[str, Any]:
    done = run_ciswitch("status", "--format", "json", *args, cwd=work)
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    assert_hints_name_real_options(data, work)
    return data


def block_file(env: dict[str, str]) -> Path:
    return Path(env["WERF_HOME"]) / "service" / "stages_switch_from_local_block" / "shop"


def test_status_follows_the_whole_migration_and_rollback(tmp_path: Path,
                                                         env: dict[str, str]) -> None:
    work, _bare = make_project(tmp_path, {".gitlab-ci.yml": CI_LOCAL, "werf.yaml": WERF_YAML})
    git(work, "switch", "-q", "-c", "feature")
    write_files(work, {"app.txt": "feature work\n"})
    commit_all(work, "Feature work")
    git(work, "push", "-q", "origin", "feature")
    git(work, "switch", "-q", "main")

    # before anything: steps 1 and 2 ahead
    data = status(work)
    assert data["phase"] == "local"
    assert "ciswitch branch" in data["next_step"]
    assert data["work_tree"]["local_places"] == [".gitlab-ci.yml:5 CSW001",
                                                 ".gitlab-ci.yml:8 CSW001"]
    assert data["default_branch"] == {"remote": "origin", "name": "main",
                                      "ciswitch_commit": None, "revert_commit": None}
    assert data["block_file"] == {"path": str(block_file(env)), "exists": False}
    assert sorted(b["branch"] for b in data["branches_with_local"]) == ["feature", "main"]
    assert data["project"] == "shop" and data["werf"] == "v1.1.23"

    # step 2: the merge request branch carries the change
    git(work, "switch", "-q", "-c", MR_BRANCH)
    write_files(work, {".gitlab-ci.yml": CI_REMOTE, ".ciswitch.toml": MARKER})
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", SWITCH)
    switch_sha = git(work, "rev-parse", "HEAD")
    git(work, "push", "-q", "origin", MR_BRANCH)
    git(work, "switch", "-q", "main")
    data = status(work)
    assert data["phase"] == "merge-request"
    assert data["change_branches"] == [MR_BRANCH]
    assert f"werf stages switch-from-local --to {ADDR}" not in data["next_step"]  # unknown yet
    data = status(work, "--to", ADDR)
    assert f"werf stages switch-from-local --to {ADDR}" in data["next_step"]

    # step 3 on this host, through the runbook runner and the werf stand-in
    ran = run_ciswitch("plan", "--to", ADDR, "--run", "switch", "--yes", cwd=work)
    assert ran.returncode == 0, ran.stderr
    assert block_file(env).exists()
    data = status(work)
    assert data["phase"] == "switched"
    assert data["next_step"].startswith("4: merge the merge request now")

    # step 4: merged; the feature branch still carries :local
    git(work, "merge", "-q", "--ff-only", MR_BRANCH)
    git(work, "push", "-q", "origin", "main")
    data = status(work)
    assert data["phase"] == "merged"
    assert data["default_branch"]["ciswitch_commit"] == switch_sha
    assert data["work_tree"]["local_places"] == []
    assert data["config"]["stages_storage"] == "remote"
    assert [b["branch"] for b in data["branches_with_local"]] == ["feature"]
    assert data["next_step"].startswith("5: merge or rebase 1 branch(es) onto main: feature")
    text = run_ciswitch("status", cwd=work)
    assert text.returncode == 0
    assert f"ciswitch commit {switch_sha[:10]} (Use remote werf stages storage" in text.stdout
    assert "1 of 3 branch(es) of origin still use :local" in text.stdout

    # step 5: the feature branch is rebased
    git(work, "switch", "-q", "feature")
    git(work, "rebase", "-q", "main")
    git(work, "push", "-q", "--force", "origin", "feature")
    git(work, "switch", "-q", "main")
    data = status(work)
    assert data["phase"] == "done"
    assert data["branches_with_local"] == []

    # rollback: the revert is merged, the block file still exists on this host
    reverted = run_ciswitch("revert", cwd=work)
    assert reverted.returncode == 0, reverted.stderr
    git(work, "merge", "-q", "--ff-only", "ciswitch/revert-remote-stages-storage")
    git(work, "push", "-q", "origin", "main")
    data = status(work)
    assert data["phase"] == "rolled-back"
    assert data["default_branch"]["revert_commit"] is not None
    assert "remove the block file" in data["next_step"]
    assert run_ciswitch("plan", "--run", "unblock", "--yes", cwd=work).returncode == 0
    assert status(work)["next_step"].startswith("rollback 5")


def test_merged_without_switch_on_this_runner(tmp_path: Path, env: dict[str, str]) -> None:
    work, _bare = make_project(tmp_path, {".gitlab-ci.yml": CI_LOCAL, "werf.yaml": WERF_YAML})
    write_files(work, {".gitlab-ci.yml": CI_REMOTE, ".ciswitch.toml": MARKER})
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", SWITCH)
    git(work, "push", "-q", "origin", "main")
    data = status(work, "--no-branches")
    assert data["phase"] == "merged"
    assert data["branches_with_local"] is None
    # the address comes from .ciswitch.toml, werf is on PATH, the block file is missing here
    assert data["stages_address"] == ADDR
    assert data["next_step"].startswith("3 has not run on this host")
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                           if p != str(STANDIN_DIR))
    done = run_ciswitch("status", "--format", "json", "--no-branches", cwd=work,
                        env={"PATH": path})
    assert json.loads(done.stdout)["phase"] == "done"


def test_templated_project_name_and_no_remote(tmp_path: Path, env: dict[str, str]) -> None:
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    write_files(work, {".gitlab-ci.yml": CI_LOCAL,
                       "werf.yaml": 'configVersion: 1\nproject: {{ env "P" }}\n'})
    commit_all(work, "initial")
    done = run_ciswitch("status", cwd=work)
    assert done.returncode == 0, done.stderr
    assert "block file:" in done.stdout and "werf.yaml:2" in done.stdout
    assert "! no remote named 'origin'" in done.stdout
    assert "next step: 1 (optional)" in done.stdout
    assert "werf project" not in done.stdout.splitlines()[0]
    data = status(work, "--project", "shop")
    assert data["block_file"]["path"] == str(block_file(env))


def test_work_tree_places_not_checked_are_shown(tmp_path: Path, env: dict[str, str]) -> None:
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    write_files(work, {".gitlab-ci.yml": CI_LOCAL + "images:\n  script:\n    - make images\n",
                       "werf.yaml": WERF_YAML})
    commit_all(work, "initial")
    done = run_ciswitch("status", cwd=work)
    assert done.returncode == 0, done.stderr
    line = CI_LOCAL.count("\n") + 3
    entry = f".gitlab-ci.yml:{line}: not checked: make images: make targets are not followed"
    row = next(ln for ln in done.stdout.splitlines() if ln.strip().startswith("not checked:"))
    assert row.split(":", 1)[1].strip() == (
        f"1 place of the work tree could not be checked (first: {entry})")
    assert status(work)["work_tree"]["not_checked"] == [entry]


def test_not_a_repository(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "plain").mkdir()
    done = run_ciswitch("status", str(tmp_path / "plain"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("ciswitch: error: ") and "not a git repository" in done.stderr


def test_status_changes_nothing(tmp_path: Path, env: dict[str, str]) -> None:
    work, bare = make_project(tmp_path, {".gitlab-ci.yml": CI_LOCAL, "werf.yaml": WERF_YAML})
    before = (git(work, "status", "--porcelain"), git(bare, "for-each-ref"),
              git(work, "rev-parse", "HEAD"))
    status(work)
    after = (git(work, "status", "--porcelain"), git(bare, "for-each-ref"),
             git(work, "rev-parse", "HEAD"))
    assert before == after
    assert not subprocess.run(["git", "worktree", "list"], cwd=work, capture_output=True,
                              text=True, check=True).stdout.count("\n") > 1


CI_HALF = """\
build:
  before_script:
    - source $(werf ci-env gitlab --as-file)
  script:
    - werf build --stages-storage :local
deploy:
  script:
    - werf deploy --stages-storage :local --env production
"""


def test_a_branch_with_part_of_the_change_is_partial(tmp_path: Path,
                                                   env: dict[str, str]) -> None:
    work, _bare = make_project(tmp_path, {".gitlab-ci.yml": CI_HALF, "werf.yaml": WERF_YAML})
    done = run_ciswitch("branch", cwd=work)
    assert done.returncode == 0, done.stderr
    assert "left for a manual change" in done.stdout and ".gitlab-ci.yml:8 CSW001" in done.stdout
    data = status(work)
    assert data["phase"] == "partial"
    assert data["change_branches"] == [MR_BRANCH]
    left = data["partial"][MR_BRANCH]
    assert ".gitlab-ci.yml:8 CSW001" in left
    assert data["next_step"].startswith("2 is not finished: ")
    assert "switch-from-local" not in data["next_step"]
    text = run_ciswitch("status", cwd=work).stdout
    assert f"branch {MR_BRANCH} carries part of the change: " in text
    assert "carries the change\n" not in text
    # the guard agrees: the switch is refused for the same reason
    refused = run_ciswitch("plan", "--to", ADDR, "--run", "switch", "--yes", cwd=work)
    assert refused.returncode == 2 and ".gitlab-ci.yml:8 CSW001" in refused.stderr
    # finishing the change by hand on the branch makes it a merge request ready to switch
    git(work, "switch", "-q", MR_BRANCH)
    write_files(work, {".gitlab-ci.yml": CI_REMOTE})
    commit_all(work, "Finish the switch by hand")
    git(work, "push", "-q", "origin", MR_BRANCH)
    git(work, "switch", "-q", "main")
    data = status(work)
    assert data["phase"] == "merge-request" and data["partial"] == {}


def test_the_phases_follow_the_rollback(tmp_path: Path, env: dict[str, str]) -> None:
    work, _bare = make_project(tmp_path, {".gitlab-ci.yml": CI_LOCAL, "werf.yaml": WERF_YAML})
    write_files(work, {".gitlab-ci.yml": CI_REMOTE, ".ciswitch.toml": MARKER})
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", SWITCH)
    git(work, "push", "-q", "origin", "main")
    assert run_ciswitch("plan", "--run", "switch", "--yes", cwd=work).returncode == 0
    assert block_file(env).exists()
    assert status(work, "--no-branches")["phase"] == "done"

    ran = run_ciswitch("plan", "--run", "rollback-sync", "--yes", cwd=work)
    assert ran.returncode == 0, ran.stderr
    data = status(work, "--no-branches")
    assert data["phase"] == "stages-restored"
    assert data["steps_run_here"] == ["switch", "rollback-sync"]
    assert data["next_step"].startswith("rollback 2: remove the block file")

    assert run_ciswitch("plan", "--run", "unblock", "--yes", cwd=work).returncode == 0
    data = status(work, "--no-branches")
    assert data["phase"] == "unblocked"
    assert data["next_step"].startswith("rollback 3:") and "ciswitch revert" in data["next_step"]
    assert "switch-from-local" not in data["next_step"]

    reverted = run_ciswitch("revert", cwd=work)
    assert reverted.returncode == 0, reverted.stderr
    data = status(work, "--no-branches")
    assert data["phase"] == "revert-opened"
    assert data["revert_branches"] == ["ciswitch/revert-remote-stages-storage"]
    assert data["next_step"].startswith("rollback 4-5: stop the project's running werf jobs")

    git(work, "fetch", "-q", "origin")
    git(work, "merge", "-q", "--ff-only", "origin/ciswitch/revert-remote-stages-storage")
    git(work, "push", "-q", "origin", "main", ":ciswitch/revert-remote-stages-storage")
    data = status(work, "--no-branches")
    assert data["phase"] == "rolled-back"
    assert data["next_step"].startswith("rollback 5")
    text = run_ciswitch("status", "--no-branches", cwd=work).stdout
    assert "run here:" in text and "switch, rollback-sync, unblock" in text

    # switching again later: the old rollback records belong to the earlier switch
    git(work, "switch", "-q", "-c", "later")
    write_files(work, {"app.txt": "work that includes the revert\n"})
    commit_all(work, "Later work")
    git(work, "push", "-q", "origin", "later")
    git(work, "switch", "-q", "main")
    write_files(work, {".gitlab-ci.yml": CI_REMOTE, ".ciswitch.toml": MARKER})
    git(work, "add", "-A")
    later = f"@{int(time.time()) + 3600} +0000"
    git(work, "commit", "-q", "-m", SWITCH, env={"GIT_AUTHOR_DATE": later,
                                                 "GIT_COMMITTER_DATE": later})
    git(work, "push", "-q", "origin", "main")
    data = status(work)
    assert data["phase"] == "merged", data
    assert data["revert_branches"] == []
    assert data["next_step"].startswith("3 has not run on this host")


def test_the_hint_check_catches_an_option_the_command_lacks(tmp_path: Path) -> None:
    assert_hints_name_real_options(
        {"next_step": "fix it (`ciswitch branch --to ADDRESS --force-update`), pass --to ADDR",
         "problems": []}, tmp_path)
    with pytest.raises(AssertionError, match="--target"):
        assert_hints_name_real_options(
            {"next_step": "x", "problems": ["no HEAD; pass --target BRANCH"]}, tmp_path)
    with pytest.raises(AssertionError, match="--no-such"):
        assert_hints_name_real_options(
            {"next_step": "run `ciswitch branches --no-such`", "problems": []}, tmp_path)
