"""``ciswitch branches --fix``: the fix on top of each active branch, with a lease, no force."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gitlab_standin import GitLabStandin
from gitrepos import (
    RECORD_OPTIONS_HOOK,
    commit_all,
    git,
    isolate_git,
    make_bare,
    recorded_options,
    run_ciswitch,
    write_files,
    write_hook,
)

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
    write_hook(bare, "pre-receive", RECORD_OPTIONS_HOOK)
    dry = run_ciswitch("branches", str(work), "--fix", "--mr", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0 and dry.stdout.count("would push ciswitch/fix/") == 2
    assert dry.stdout.count("with push options") == 2
    assert FIX_PREFIX not in git(bare, "for-each-ref", "--format=%(refname)")
    proc = run_ciswitch("branches", str(work), "--fix", "--mr", "--label", "ciswitch",
                        "--draft", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("mr-opened") == 2
    options = recorded_options(bare)  # the last push's options, as git handed them over
    assert "merge_request.create" in options and "merge_request.label=ciswitch" in options
    assert "merge_request.draft" in options
    assert any(o.startswith("merge_request.target=feature/") for o in options)
    assert any(o.startswith("merge_request.description=") and ".gitlab-ci.yml:" in o
               for o in options)
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


TOKEN = "glpat-standin-user-token"


def _on_gitlab(tmp_path: Path, api: GitLabStandin, work: Path, bare: Path) -> dict[str, object]:
    """The clone's remote becomes the GitLab project's URL (git rewrites it to the bare
    repository on disk); the bare repository refuses push options, so a push that carried
    any would fail."""
    project = api.add_project("team/app")
    git(work, "remote", "set-url", "origin", f"{api.url}/team/app.git")
    git(tmp_path, "config", "--global", f"url.file://{bare}.insteadOf",
        f"{api.url}/team/app.git")
    git(bare, "config", "receive.advertisePushOptions", "false")
    return project


def test_mr_mode_opens_the_merge_requests_through_the_api(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch, tmp_path)
    work, bare = _repo(tmp_path)
    with GitLabStandin({TOKEN: False}) as api:
        alice = api.add_user("alice")
        project = _on_gitlab(tmp_path, api, work, bare)
        env = {"GITLAB_TOKEN": TOKEN}
        args = ("branches", str(work), "--fix", "--mr", "--gitlab-url", api.url)

        dry = run_ciswitch(*args, "--dry-run", cwd=tmp_path, env=env)
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert dry.stdout.count("through GitLab's API") == 2
        assert [r.method for r in api.requests if r.method != "GET"] == []
        assert FIX_PREFIX not in git(bare, "for-each-ref", "--format=%(refname)")

        proc = run_ciswitch(*args, "--label", "ciswitch", "--reviewer", "alice", "--draft",
                            "--format", "json", cwd=tmp_path, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        fixes = {f["branch"]: f for f in json.loads(proc.stdout)}
        assert {f["status"] for f in fixes.values()} == {"mr-opened"}
        creates = [r for r in api.requests if r.method == "POST"]
        assert [(r.body["source_branch"], r.body["target_branch"]) for r in creates] == [
            (f"{FIX_PREFIX}feature/a", "feature/a"), (f"{FIX_PREFIX}feature/b", "feature/b")]
        for request in creates:
            assert request.token == TOKEN
            assert request.path == f"/api/v4/projects/{project['id']}/merge_requests"
            assert request.body["labels"] == "ciswitch"
            assert request.body["reviewer_ids"] == [alice["id"]]
            assert request.body["title"].startswith("Draft: ")
            assert request.body["remove_source_branch"] is True
            lines = request.body["description"].splitlines()
            assert "Places fixed:" in lines and any(".gitlab-ci.yml:4:" in x for x in lines)
        mrs = api.state.merge_requests[project["id"]]
        assert fixes["feature/a"]["mr_iid"] == mrs[0]["iid"]
        assert fixes["feature/a"]["mr_url"] == mrs[0]["web_url"]
        assert fixes["feature/a"]["mr_state"] == "opened"
        fix_a = git(bare, "rev-parse", f"refs/heads/{FIX_PREFIX}feature/a")
        assert git(bare, "rev-parse", f"{fix_a}^") == git(bare, "rev-parse", "feature/a")

        # a run stopped between the push and the merge request: the next one opens it
        mrs.pop()
        before = len(api.requests)
        again = run_ciswitch(*args, cwd=tmp_path, env=env)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "feature/a: up-to-date:" in again.stdout
        assert "feature/b: mr-opened:" in again.stdout
        assert [(r.method, r.body.get("source_branch")) for r in api.requests[before:]
                if r.method != "GET"] == [("POST", f"{FIX_PREFIX}feature/b")]
        assert git(bare, "rev-parse", f"refs/heads/{FIX_PREFIX}feature/a") == fix_a

        # a merge request somebody closed is not opened again
        mrs[0]["state"] = "closed"
        closed = run_ciswitch(*args, cwd=tmp_path, env=env)
        assert closed.returncode == 1
        assert "feature/a: refused: merge request !1 from ciswitch/fix/feature/a was closed" \
            in closed.stdout
        assert len(api.state.merge_requests[project["id"]]) == 2


@pytest.mark.parametrize("extra", [("--open-mr", "api"), ("--reviewer", "alice")])
def test_api_only_options_without_a_token_are_one_line_errors(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: tuple[str, str]) -> None:
    isolate_git(monkeypatch, tmp_path)
    work, bare = _repo(tmp_path)
    tips = git(bare, "for-each-ref")
    proc = run_ciswitch("branches", str(work), "--fix", "--mr", *extra, cwd=tmp_path,
                        env={"GITLAB_TOKEN": ""})
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "GITLAB_TOKEN" in proc.stderr
    assert git(bare, "for-each-ref") == tips
    proc = run_ciswitch("branches", str(work), "--fix", "--label", "x", cwd=tmp_path)
    assert proc.returncode == 2 and "--fix --mr" in proc.stderr
