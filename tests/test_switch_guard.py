"""The guard in front of ``werf stages switch-from-local``: real repositories and bare remotes,
the installed CLI, the werf stand-in recording every call, and the GitLab API stand-in."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gitlab_standin import GitLabStandin, running
from gitrepos import commit_all, git, isolate_git, make_project, run_ciswitch, write_files

from ciswitch.gitlab_api import GitLabClient, MergeRequestSpec
from ciswitch.runbook.guard import gitlab_location, verify_switch

STANDIN_DIR = Path(__file__).parent / "bin"
ADDR = "registry.example.com/web/shop/stages"
TOKEN = "glpat-guardSTANDINtoken0042"
MR_BRANCH = "ciswitch/remote-stages-storage"
CI_LOCAL = """\
before_script:
  - source $(werf ci-env gitlab --as-file)
build:
  script:
    - werf build --stages-storage :local
"""
CI_REMOTE = """\
before_script:
  - source $(werf ci-env gitlab --as-file)
build:
  script:
    - werf build
"""
WERF_YAML = "project: shop\nconfigVersion: 1\n"


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
    for name in ("CI_REGISTRY_IMAGE", "WERF_PROJECT_NAME", "GITLAB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return extra


@pytest.fixture
def api() -> Iterator[GitLabStandin]:
    with running({TOKEN: False}) as server:
        yield server


def werf_calls(env: dict[str, str]) -> list[list[str]]:
    log = Path(env["WERF_STANDIN_LOG"])
    if not log.exists():
        return []
    calls = [json.loads(line)["argv"] for line in log.read_text().splitlines()]
    return [c for c in calls if c != ["version"]]


def block_file(env: dict[str, str]) -> Path:
    return Path(env["WERF_HOME"]) / "service" / "stages_switch_from_local_block" / "shop"


def project(tmp_path: Path, ci: str = CI_LOCAL) -> tuple[Path, Path]:
    return make_project(tmp_path, {".gitlab-ci.yml": ci, "werf.yaml": WERF_YAML})


def open_change(work: Path) -> str:
    """``ciswitch branch`` pushes the change branch; returns its commit."""
    done = run_ciswitch("branch", "--to", ADDR, cwd=work)
    assert done.returncode == 0, done.stderr
    return git(work, "rev-parse", f"refs/heads/{MR_BRANCH}")


def switch(work: Path, *args: str, **env: str) -> Any:
    return run_ciswitch("plan", "--to", ADDR, "--run", "switch", "--yes", *args, cwd=work,
                        env=env)


# --- refusals ---------------------------------------------------------------------------------


def test_no_change_branch_and_local_in_the_tree_is_refused(tmp_path: Path,
                                                          env: dict[str, str]) -> None:
    work, _bare = project(tmp_path)
    done = switch(work)
    assert done.returncode == 2, done.stderr
    assert "done:" not in done.stderr
    err = done.stderr.splitlines()
    assert err[-1].startswith("ciswitch: error: --run switch refused, nothing ran: ")
    assert f"no branch {MR_BRANCH} on origin" in err[-1] and "ciswitch branch" in err[-1]
    assert "--force" in err[-1]
    assert any(line.strip().startswith("failed") for line in err)
    assert werf_calls(env) == []
    assert not block_file(env).exists()


def test_branch_still_using_local_is_refused_at_file_and_line(tmp_path: Path,
                                                            env: dict[str, str]) -> None:
    work, _bare = project(tmp_path)
    git(work, "switch", "-q", "-c", MR_BRANCH)
    write_files(work, {"README": "only a readme changed\n"})
    sha = commit_all(work, "not the change")
    git(work, "push", "-q", "origin", MR_BRANCH)
    git(work, "switch", "-q", "main")
    # the work tree is clean of :local: only the branch's own tree counts
    write_files(work, {".gitlab-ci.yml": CI_REMOTE})
    done = switch(work)
    assert done.returncode == 2
    last = done.stderr.splitlines()[-1]
    assert f"origin/{MR_BRANCH}@{sha[:10]} still uses :local in 1 place: " \
        ".gitlab-ci.yml:5 CSW001" in last
    assert werf_calls(env) == []


def test_unreadable_branch_config_is_not_clean(tmp_path: Path, env: dict[str, str]) -> None:
    work, _bare = project(tmp_path)
    git(work, "switch", "-q", "-c", MR_BRANCH)
    write_files(work, {".gitlab-ci.yml": CI_REMOTE + "oops: [\n"})
    commit_all(work, "broken")
    git(work, "push", "-q", "origin", MR_BRANCH)
    git(work, "switch", "-q", "main")
    done = switch(work)
    assert done.returncode == 2
    assert "not every file could be read" in done.stderr and ".gitlab-ci.yml:" in done.stderr
    assert werf_calls(env) == []


def test_no_storage_left_needs_an_address(tmp_path: Path, env: dict[str, str]) -> None:
    no_ci_env = ("build:\n  script:\n"
                 "    - werf build --stages-storage :local  # ciswitch: ignore[CSW001]\n")
    work, _bare = project(tmp_path)
    git(work, "switch", "-q", "-c", MR_BRANCH)
    write_files(work, {".gitlab-ci.yml": no_ci_env})
    commit_all(work, "a job with no werf ci-env")
    git(work, "push", "-q", "origin", MR_BRANCH)
    git(work, "switch", "-q", "main")
    done = run_ciswitch("plan", "--run", "switch", "--yes", cwd=work,
                        env={"CI_REGISTRY_IMAGE": "registry.example.com/web/shop"})
    assert done.returncode == 2
    assert "would have no stages storage: .gitlab-ci.yml:3 CSW004" in done.stderr
    assert werf_calls(env) == []
    done = switch(work)  # --to gives those commands an address
    assert done.returncode == 0, done.stderr
    assert f"addressed by {ADDR} (--to)" in done.stderr


# --- passing, and what the confirmation shows ---------------------------------------------------


def test_ready_change_branch_runs_the_switch_and_shows_what_was_verified(
        tmp_path: Path, env: dict[str, str]) -> None:
    work, _bare = project(tmp_path)
    sha = open_change(work)
    done = switch(work)
    assert done.returncode == 0, done.stderr
    err = done.stderr
    assert "verified before the switch:" in err
    assert f"passed      change branch: origin/{MR_BRANCH} is at {sha[:10]} (carries the " \
        "ciswitch commit)" in err
    assert f"passed      CI configuration of origin/{MR_BRANCH}: origin/{MR_BRANCH}@{sha[:10]}: " \
        "no :local stages storage left" in err
    assert "not-checked merge request: GITLAB_TOKEN is not set" in err
    assert err.index("verified before the switch:") < err.index("will run in")
    assert werf_calls(env) == [["stages", "switch-from-local", "--to", ADDR]]
    assert block_file(env).exists()


def test_merged_change_without_branch_passes(tmp_path: Path, env: dict[str, str]) -> None:
    work, bare = project(tmp_path)
    open_change(work)
    git(work, "merge", "-q", "--ff-only", MR_BRANCH)
    git(work, "push", "-q", "origin", "main", f":{MR_BRANCH}")
    assert git(bare, "branch", "--list", MR_BRANCH) == ""
    done = switch(work)
    assert done.returncode == 0, done.stderr
    assert "but origin/main" in done.stderr and "already carries the ciswitch commit" \
        in done.stderr
    assert werf_calls(env) == [["stages", "switch-from-local", "--to", ADDR]]


def test_force_runs_with_a_warning_naming_what_is_missing(tmp_path: Path,
                                                          env: dict[str, str]) -> None:
    work, _bare = project(tmp_path)
    done = switch(work, "--force")
    assert done.returncode == 0, done.stderr
    warning = [ln for ln in done.stderr.splitlines() if ln.startswith("WARNING: --force")]
    assert len(warning) == 1 and f"no branch {MR_BRANCH} on origin" in warning[0]
    assert werf_calls(env) == [["stages", "switch-from-local", "--to", ADDR]]


def test_other_steps_are_not_guarded(tmp_path: Path, env: dict[str, str]) -> None:
    work, _bare = project(tmp_path)
    done = run_ciswitch("plan", "--to", ADDR, "--run", "sync", "--yes", cwd=work)
    assert done.returncode == 0, done.stderr
    assert "verified" not in done.stderr
    assert werf_calls(env) == [["stages", "sync", "--from", ":local", "--to", ADDR]]


# --- GitLab: the merge request and its pipeline -------------------------------------------------


def gitlab_remote(work: Path, bare: Path, api: GitLabStandin, path: str = "web/shop") -> None:
    """Point origin at the stand-in's project URL; git itself still talks to the bare repo."""
    url = f"{api.url}/{path}.git"
    git(work, "remote", "set-url", "origin", url)
    git(work, "config", f"url.{bare.as_uri()}.insteadOf", url)


def test_gitlab_checks(tmp_path: Path, env: dict[str, str], api: GitLabStandin) -> None:
    work, bare = project(tmp_path)
    gl_project = api.add_project("web/shop")
    gitlab_remote(work, bare, api)
    sha = open_change(work)
    with_token = {"GITLAB_TOKEN": TOKEN}

    done = switch(work, **with_token)  # no merge request yet
    assert done.returncode == 2
    assert f"no open merge request from {MR_BRANCH} in web/shop" in done.stderr
    assert all(r.token == TOKEN for r in api.requests)

    client = GitLabClient(api.url, TOKEN)
    info = client.project("web/shop")
    api.push(gl_project, MR_BRANCH, sha)
    mr = client.create_merge_request(info, MergeRequestSpec(MR_BRANCH, "main", "switch"))
    pipeline = api.add_pipeline(gl_project, MR_BRANCH, status="running", sha=sha)
    done = switch(work, **with_token)
    assert done.returncode == 2
    assert f"passed      merge request: !{mr.iid} (opened)" in done.stderr
    assert f"#{pipeline['id']} running" in done.stderr and "wait until it has succeeded" \
        in done.stderr.splitlines()[-1]
    assert werf_calls(env) == []

    api.finish_pipeline(pipeline, "success")
    newer = api.add_pipeline(gl_project, MR_BRANCH, status="success", sha="ab" * 20)
    done = switch(work, **with_token)
    assert done.returncode == 2
    assert f"#{newer['id']} success" in done.stderr and f"{MR_BRANCH} is at {sha[:10]}" \
        in done.stderr

    api.add_pipeline(gl_project, MR_BRANCH, status="success", sha=sha)
    done = switch(work, **with_token)
    assert done.returncode == 0, done.stderr
    assert "passed      its latest pipeline: #" in done.stderr
    assert werf_calls(env) == [["stages", "switch-from-local", "--to", ADDR]]
    assert TOKEN not in done.stdout + done.stderr


def test_settings_still_holding_local_refuse_the_switch(tmp_path: Path, env: dict[str, str],
                                                        api: GitLabStandin) -> None:
    """Everything else is ready; a CI/CD variable of the project's group still sets :local
    for its jobs (werf ci-env would not override it): refused, naming it; deleted, allowed."""
    work, bare = project(tmp_path)
    gl_project = api.add_project("web/shop")
    gitlab_remote(work, bare, api)
    sha = open_change(work)
    client = GitLabClient(api.url, TOKEN)
    api.push(gl_project, MR_BRANCH, sha)
    client.create_merge_request(client.project("web/shop"),
                                MergeRequestSpec(MR_BRANCH, "main", "switch"))
    api.add_pipeline(gl_project, MR_BRANCH, status="success", sha=sha)
    group = api.find_group("web")
    api.add_variable(group, "WERF_STAGES_STORAGE", ":local", protected=True)
    # a masked address no job takes (the group's :local is higher for none: same key,
    # another scope) is never printed
    api.add_variable(gl_project, "WERF_SYNCHRONIZATION", "redis-SeCrEt-lock-address",
                     masked=True, environment_scope="production")
    done = switch(work, GITLAB_TOKEN=TOKEN)
    assert done.returncode == 2, done.stderr
    line = next(x for x in done.stderr.splitlines() if "CI/CD variables in GitLab's" in x)
    assert line.strip() == (
        "failed      CI/CD variables in GitLab's settings: 1 variable still set :local for "
        "jobs of the branch: gitlab: group web/ variable WERF_STAGES_STORAGE (environment "
        "scope *) (build); delete them first (ciswitch fix --gitlab)")
    assert "redis-SeCrEt" not in done.stderr + done.stdout
    assert TOKEN not in done.stderr + done.stdout
    assert werf_calls(env) == []
    verdict = verify_switch(work, branch=MR_BRANCH, environ={"GITLAB_TOKEN": TOKEN})
    assert verdict.check("settings").state == "failed"
    assert verdict.check("lint").state == "passed"

    api.state.group_variables[group["id"]].clear()
    verdict = verify_switch(work, branch=MR_BRANCH, environ={"GITLAB_TOKEN": TOKEN})
    # the instance's variables need an administrator's token: named, not blocking
    assert verdict.check("settings").state == "not-checked"
    assert "instance's CI/CD variables were not checked" in verdict.check("settings").detail
    assert verdict.allowed
    done = switch(work, GITLAB_TOKEN=TOKEN)
    assert done.returncode == 0, done.stderr
    assert werf_calls(env) == [["stages", "switch-from-local", "--to", ADDR]]


def test_with_no_branch_any_local_in_the_settings_fails_the_check(
    tmp_path: Path, env: dict[str, str], api: GitLabStandin
) -> None:
    work, bare = project(tmp_path)
    gl_project = api.add_project("web/shop")
    gitlab_remote(work, bare, api)
    api.add_schedule(gl_project, "cleanup", "main", {"WERF_STAGES_STORAGE": ":local"})
    verdict = verify_switch(work, branch=MR_BRANCH, environ={"GITLAB_TOKEN": TOKEN})
    check = verdict.check("settings")
    assert check.state == "failed"
    assert "gitlab: project web/shop schedule " in check.detail


def test_unreachable_gitlab_with_a_token_fails_the_check(tmp_path: Path,
                                                        env: dict[str, str]) -> None:
    work, _bare = project(tmp_path)
    open_change(work)
    done = switch(work, "--gitlab-url", "http://127.0.0.1:9", GITLAB_TOKEN=TOKEN)
    assert done.returncode == 2
    assert "GITLAB_TOKEN is set but GitLab could not be asked" in done.stderr
    assert TOKEN not in done.stderr
    assert werf_calls(env) == []


def test_verdict_is_a_typed_value(tmp_path: Path, env: dict[str, str]) -> None:
    work, _bare = project(tmp_path)
    verdict = verify_switch(work, branch=MR_BRANCH, environ={})
    assert not verdict.allowed
    assert [(c.key, c.state) for c in verdict.checks] == [
        ("branch", "failed"), ("lint", "not-checked"), ("coverage", "not-checked"),
        ("settings", "not-checked"), ("merge-request", "not-checked"),
        ("pipeline", "not-checked")]
    sha = open_change(work)
    verdict = verify_switch(work, branch=MR_BRANCH, environ={})
    assert verdict.allowed and verdict.sha == sha and verdict.checked_branch == MR_BRANCH
    assert verdict.as_json()["allowed"] is True


@pytest.mark.parametrize(("remote", "given", "expected"), [
    ("git@gitlab.example.com:web/shop.git", None, ("https://gitlab.example.com", "web/shop")),
    ("ssh://git@gitlab.example.com:2222/web/shop.git", None,
     ("https://gitlab.example.com", "web/shop")),
    ("https://oauth2:glpat-x1234567890@gitlab.example.com:8443/Web/Shop.git", None,
     ("https://gitlab.example.com:8443", "Web/Shop")),
    ("https://example.com/gitlab/web/shop.git", "https://example.com/gitlab",
     ("https://example.com/gitlab", "web/shop")),
])
def test_gitlab_location(remote: str, given: str | None, expected: tuple[str, str]) -> None:
    assert gitlab_location(remote, given) == expected


def test_the_runner_refuses_a_switch_that_was_not_verified(tmp_path: Path,
                                                          env: dict[str, str]) -> None:
    """Every path to switch-from-local goes through runner.prepare/execute, which need the
    guard's verdict: none, or a failed one without force, runs nothing."""
    from dataclasses import replace

    from ciswitch.errors import CiswitchError
    from ciswitch.runbook.facts import ProjectFacts, ProjectName, StagesAddress, detect_werf
    from ciswitch.runbook.plan import build_plan
    from ciswitch.runbook.runner import Action, SwitchRefused, execute, prepare

    facts = ProjectFacts(repo=str(tmp_path), project=ProjectName("shop", "werf.yaml"),
                         address=StagesAddress(ADDR, "--to"), werf=detect_werf(None),
                         block_file=block_file(env), block_file_display=str(block_file(env)))
    plan = build_plan(facts, [])
    work, _bare = project(tmp_path)
    failed = verify_switch(work, branch=MR_BRANCH, environ={})
    with pytest.raises(CiswitchError, match="not verified"):
        prepare(plan, "switch")
    with pytest.raises(SwitchRefused, match=f"no branch {MR_BRANCH} on origin"):
        prepare(plan, "switch", verdict=failed)
    forced = prepare(plan, "switch", verdict=failed, force=True)
    assert forced.forced and forced.verdict is failed
    said: list[str] = []
    for action in (Action("switch", ("werf", "stages", "switch-from-local", "--to", ADDR)),
                   replace(forced, forced=False)):
        with pytest.raises(CiswitchError):
            execute(action, cwd=work, confirm=lambda _q: True, echo=said.append)
    assert werf_calls(env) == []
    assert execute(forced, cwd=work, confirm=lambda _q: True, echo=said.append) == 0
    assert any(line.startswith("WARNING: --force: switching without: change branch")
               for line in said)
    assert werf_calls(env) == [["stages", "switch-from-local", "--to", ADDR]]


@pytest.mark.parametrize("url", ["ftp://gitlab.example.com",
                                 "https://oauth2:glpat-S3cretS3cret42@gitlab.example.com"])
def test_bad_gitlab_url_is_a_usage_error(tmp_path: Path, env: dict[str, str], url: str) -> None:
    work, _bare = project(tmp_path)
    done = switch(work, "--gitlab-url", url)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--gitlab-url" in done.stderr
    assert "S3cretS3cret42" not in done.stderr
    assert werf_calls(env) == []


def test_places_not_checked_block_only_a_strict_branch(tmp_path: Path,
                                                      env: dict[str, str]) -> None:
    work, _bare = project(tmp_path)
    git(work, "switch", "-q", "-c", MR_BRANCH)
    write_files(work, {".gitlab-ci.yml": "include:\n  - project: platform/ci\n    file: w.yml\n"
                                         + CI_REMOTE})
    commit_all(work, "include a template from another project")
    git(work, "push", "-q", "origin", MR_BRANCH)
    verdict = verify_switch(work, branch=MR_BRANCH, environ={})
    assert verdict.allowed
    assert verdict.check("coverage").state == "not-checked"
    assert ".gitlab-ci.yml:2" in verdict.check("coverage").detail
    write_files(work, {".ciswitch.toml": "strict = true\n"})
    commit_all(work, "every place must be checked")
    git(work, "push", "-q", "origin", MR_BRANCH)
    verdict = verify_switch(work, branch=MR_BRANCH, environ={})
    assert not verdict.allowed
    assert verdict.check("coverage").state == "failed"
    assert "strict = true" in verdict.missing()
