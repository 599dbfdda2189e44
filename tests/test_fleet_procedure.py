"""The whole procedure over a fleet of 10 projects, through the GitLab API stand-in.

Real bare remotes on disk stand behind GitLab's clone URLs (git's ``insteadOf``), the werf
stand-in plays werf and docker on the runner host, and the API stand-in records every request,
so the order the procedure requires can be checked: every merge request is opened before the
first switch, and the projects are switched and merged strictly one after the other.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from gitlab_standin import GitLabStandin
from gitrepos import commit_all, git, isolate_git, make_bare, run_ciswitch, write_files

TOKEN = "glpat-standin-user-token"
BIN = Path(__file__).parent / "bin"
BRANCH = "ciswitch/remote-stages-storage"
REGISTRY = "registry.example.test"
CI = """\
stages: [build]
build:
  stage: build
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf build-and-publish --stages-storage :local
"""


def _project_files(name: str) -> dict[str, str | bytes]:
    return {".gitlab-ci.yml": CI, "werf.yaml": f"project: {name}\nconfigVersion: 1\n"}


@pytest.fixture
def api() -> Iterator[GitLabStandin]:
    with GitLabStandin({TOKEN: False}) as server:
        yield server


class Fleet:
    """Ten projects on GitLab (the stand-in) with their repositories on disk."""

    def __init__(self, tmp: Path, api: GitLabStandin, env: dict[str, str], count: int) -> None:
        self.tmp, self.api = tmp, api
        self.remotes = tmp / "remotes"
        self.names = [f"p{i}" for i in range(count)]
        self.projects: dict[str, dict[str, Any]] = {}
        for name in self.names:
            work = tmp / "work" / name
            work.mkdir(parents=True)
            git(work, "init", "-q", "-b", "main")
            write_files(work, _project_files(name))
            commit_all(work, "initial")
            (self.remotes / "fleet").mkdir(parents=True, exist_ok=True)
            bare = make_bare(self.remotes / "fleet" / f"{name}.git")
            git(work, "remote", "add", "origin", str(bare))
            git(work, "push", "-q", "origin", "main")
            self.projects[name] = api.add_project(
                f"fleet/{name}", http_url_to_repo=f"{api.url}/fleet/{name}.git")
        git(tmp, "config", "--global", f"url.file://{self.remotes}/.insteadOf", f"{api.url}/")
        self.werf_home = tmp / "werf-home"
        self.stages = tmp / "local-stages"
        self.stages.mkdir()
        self.log = tmp / "werf.log"
        self.env = {
            **env, "GITLAB_TOKEN": TOKEN, "WERF_HOME": str(self.werf_home),
            "WERF_STANDIN_STAGES": str(self.stages), "WERF_STANDIN_LOG": str(self.log),
            "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        }
        api.on_merge = self._merge_on_disk

    def project_of(self, path: str) -> str | None:
        """The project a request of the API stand-in was about (by id or by path)."""
        parts = path.split("/")  # /api/v4/projects/<id or group%2Fname>/...
        if len(parts) < 5 or parts[3] != "projects":
            return None
        ref = unquote(parts[4])
        by_id = {str(p["id"]): n for n, p in self.projects.items()}
        return by_id.get(ref) or (ref.removeprefix("fleet/") if ref.startswith("fleet/")
                                  else None)

    def bare(self, name: str) -> Path:
        return self.remotes / "fleet" / f"{name}.git"

    def _merge_on_disk(self, project: dict[str, Any], mr: dict[str, Any]) -> None:
        """What GitLab's merge does to the repository: the target moves to the source (a
        fast-forward here), the source branch goes when asked."""
        bare = self.remotes / f"{project['path_with_namespace']}.git"
        tip = git(bare, "rev-parse", f"refs/heads/{mr['source_branch']}")
        git(bare, "update-ref", f"refs/heads/{mr['target_branch']}", tip)
        if mr["force_remove_source_branch"]:
            git(bare, "update-ref", "-d", f"refs/heads/{mr['source_branch']}")

    def cli(self, *args: str) -> Any:
        return run_ciswitch(*args, cwd=self.tmp, env=self.env)

    def fleet(self, command: str, *args: str) -> Any:
        return self.cli("fleet", command, "--gitlab-url", self.api.url, "--group", "fleet",
                        "--workdir", str(self.tmp / "fleet"), *args)

    def pipelines(self, failed: tuple[str, ...] = ()) -> None:
        """Each change branch's pipeline ran on its tip (GitLab learns of the push)."""
        for name, project in self.projects.items():
            tip = git(self.bare(name), "rev-parse", f"refs/heads/{BRANCH}")
            self.api.push(project, BRANCH, tip)
            self.api.add_pipeline(project, BRANCH, "failed" if name in failed else "success",
                                  sha=tip)

    def werf_calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line)["argv"] for line in self.log.read_text().splitlines()]


def _feature_branch(fleet: Fleet, name: str) -> str:
    """An active branch of a team, still on :local, pushed to the remote."""
    work = fleet.tmp / "work" / name
    git(work, "switch", "-q", "-c", "feature/login")
    write_files(work, {"app.txt": "work in progress\n"})
    commit_all(work, "work in progress")
    git(work, "push", "-q", "origin", "feature/login")
    return git(work, "rev-parse", "HEAD")


def _survey_left(fleet: Fleet) -> int:
    proc = fleet.fleet("survey", "--all-branches", "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    data = json.loads(proc.stdout)
    rows = data["rows"] if isinstance(data, dict) and "rows" in data else data
    if isinstance(rows, dict):
        rows = rows.get("repositories", rows.get("branches", []))
    return sum(int(r.get("findings", r.get("left", 0)) or 0) for r in rows)


def test_the_whole_procedure_over_ten_projects(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: GitLabStandin) -> None:
    env = isolate_git(monkeypatch, tmp_path)
    fleet = Fleet(tmp_path, api, env, 10)
    feature_tips = {name: _feature_branch(fleet, name) for name in ("p1", "p7")}
    for name in fleet.names[:9]:  # p9 never ran a :local job on this host
        (fleet.stages / name).write_text("stages\n")
    (fleet.stages / "fail-p3").write_text("1 1 connection reset by peer")

    # survey: every project carries :local
    assert _survey_left(fleet) >= 10

    # sync: nine projects synced (p3 after one transient failure), p9 skipped with the reason
    proc = fleet.fleet("sync", "--registry-host", REGISTRY, "--retry-delay", "0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "p9: skipped: no local stages of p9 on this host" in proc.stdout
    syncs = [c for c in fleet.werf_calls() if c[:2] == ["stages", "sync"]]
    assert sorted(c[-1] for c in syncs) == sorted(
        [f"{REGISTRY}/fleet/{n}/stages" for n in fleet.names[:9]] + [f"{REGISTRY}/fleet/p3/stages"])
    assert (tmp_path / "fleet" / "logs" / "sync").is_dir()
    again = fleet.fleet("sync", "--registry-host", REGISTRY)
    assert again.returncode == 0 and "done before" in again.stdout
    assert len([c for c in fleet.werf_calls() if c[:2] == ["stages", "sync"]]) == len(syncs)

    # run: the merge requests through the API, with the plan's markdown as description
    proc = fleet.fleet("run", "--label", "ciswitch", "--registry-host", REGISTRY)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    creates = [r for r in api.requests if r.method == "POST" and r.path.endswith(
        "/merge_requests")]
    assert len(creates) == 10
    body = creates[0].body
    assert "\n" in body["description"] and "werf stages switch-from-local" in body["description"]
    assert body["labels"] == "ciswitch" and body["remove_source_branch"] is True

    # status --refresh: every merge request opened, pipelines as GitLab has them
    fleet.pipelines(failed=("p5",))
    proc = fleet.cli("fleet", "status", "--workdir", str(tmp_path / "fleet"), "--refresh",
                     "--gitlab-url", api.url, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)["repositories"]}
    assert len(rows) == 10 and {r["mr_state"] for r in rows.values()} == {"opened"}
    assert rows["fleet/p5"]["pipeline"].endswith("failed")
    assert rows["fleet/p0"]["pipeline"].endswith("success")

    # switch: one at a time; p5's pipeline failed, so it stops there, nothing switched for p5
    first_switch_request = len(api.requests)
    proc = fleet.fleet("switch", "--registry-host", REGISTRY)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "p5: failed: not verified" in proc.stdout
    merges = [r.path for r in api.requests[first_switch_request:]
              if r.method == "PUT" and r.path.endswith("/merge")]
    ids = {str(fleet.projects[n]["id"]): n for n in fleet.names}
    assert [ids[p.split("/")[4]] for p in merges] == ["p0", "p1", "p2", "p3", "p4"]
    for request in api.requests[first_switch_request:]:
        if request.path.endswith("/merge"):
            assert request.body["sha"] == git(fleet.bare(ids[request.path.split("/")[4]]),
                                              "rev-parse", "refs/heads/main")
    # strictly one project after the other: p0's requests, then p1's, ...; and the merge
    # follows the lookup of its merge request with nothing in between (werf ran there)
    during = api.requests[first_switch_request:]
    touched = [name for name in (fleet.project_of(r.path) for r in during) if name]
    order = [name for i, name in enumerate(touched) if i == 0 or touched[i - 1] != name]
    assert order == ["p0", "p1", "p2", "p3", "p4", "p5"], order
    for i, request in enumerate(during):
        if request.path.endswith("/merge"):
            before = during[i - 1]
            assert before.method == "GET" and before.path.endswith("/merge_requests")
            assert fleet.project_of(before.path) == fleet.project_of(request.path)
    switches = [c for c in fleet.werf_calls() if c[:2] == ["stages", "switch-from-local"]]
    assert len(switches) == 5
    blocks = fleet.werf_home / "service" / "stages_switch_from_local_block"
    assert sorted(p.name for p in blocks.iterdir()) == ["p0", "p1", "p2", "p3", "p4"]

    # the pipeline of p5 is fixed; the switch resumes at p5 and never switches p0..p4 again
    api.add_pipeline(fleet.projects["p5"], BRANCH, "success",
                     sha=git(fleet.bare("p5"), "rev-parse", f"refs/heads/{BRANCH}"))
    proc = fleet.fleet("switch", "--registry-host", REGISTRY)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "p0: merged before" in proc.stdout
    switched = [c[-1] for c in fleet.werf_calls() if c[:2] == ["stages", "switch-from-local"]]
    assert len(switched) == len(set(switched)) == 10
    assert "between switch and merge" in proc.stdout

    # status without --refresh: every merge request merged, as switch journaled it
    proc = fleet.cli("fleet", "status", "--workdir", str(tmp_path / "fleet"), "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    table = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert len(table) == 10 and {r["mr_state"] for r in table} == {"merged"}
    assert {r["mr"] for r in table} == {"!1"}
    assert all(r["switch_window"] and float(r["switch_window"]) >= 0 for r in table)
    assert {r["mr_url"] for r in table} == {
        f"{api.state.host}/fleet/{n}/-/merge_requests/1" for n in fleet.names}

    # branches: the active branches still on :local get the fix on top, no force push
    proc = fleet.fleet("branches", "--active-since", "30d")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name, old_tip in feature_tips.items():
        new_tip = git(fleet.bare(name), "rev-parse", "refs/heads/feature/login")
        assert git(fleet.bare(name), "rev-parse", f"{new_tip}^") == old_tip
        assert ":local" not in git(fleet.bare(name), "show", f"{new_tip}:.gitlab-ci.yml")
    again = fleet.fleet("branches", "--active-since", "30d")
    assert again.returncode == 0 and "pushed" not in again.stdout

    # survey: nothing left on any branch of any project
    assert _survey_left(fleet) == 0

    # the order: every merge request was opened before the first merge
    calls = api.calls()
    last_create = max(i for i, c in enumerate(calls) if c.startswith("POST") and
                      c.endswith("/merge_requests"))
    first_merge = min(i for i, c in enumerate(calls) if c.endswith("/merge"))
    assert last_create < first_merge


def _opened(fleet: Fleet, *, sync: bool = True) -> None:
    """The merge requests of every project, opened through the API, pipelines green, and
    (unless told) every project's local stages synced."""
    proc = fleet.fleet("run", "--registry-host", REGISTRY)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fleet.pipelines()
    if sync:
        for name in fleet.names:
            (fleet.stages / name).write_text("stages\n")
        proc = fleet.fleet("sync", "--registry-host", REGISTRY)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def _werf(fleet: Fleet, command: str) -> list[str]:
    """The addresses of every ``werf stages COMMAND`` call so far, in order."""
    return [c[-1] for c in fleet.werf_calls() if c[:2] == ["stages", command]]


def test_sync_retries_a_transient_failure_but_never_an_authentication_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: GitLabStandin) -> None:
    fleet = Fleet(tmp_path, api, isolate_git(monkeypatch, tmp_path), 3)
    for name in fleet.names:
        (fleet.stages / name).write_text("stages\n")
    (fleet.stages / "fail-p0").write_text("5 1 unauthorized: authentication required")
    (fleet.stages / "fail-p1").write_text("2 1 net/http: TLS handshake timeout")
    proc = fleet.fleet("sync", "--registry-host", REGISTRY, "--retry-delay", "0", "-j", "1")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    calls = [c for c in fleet.werf_calls() if c[:2] == ["stages", "sync"]]
    per_project = {n: sum(1 for c in calls if f"/{n}/" in c[-1]) for n in fleet.names}
    assert per_project == {"p0": 1, "p1": 3, "p2": 1}
    assert "p0: failed: authentication failed (not retried)" in proc.stdout
    assert "p1: done" in proc.stdout and "sync: 2 done, 1 failed" in proc.stdout
    log = (tmp_path / "fleet" / "logs" / "sync")
    assert len(list(log.glob("*.log"))) == 3
    # the rerun leaves what is done, and redoes the failed one only when asked
    again = fleet.fleet("sync", "--registry-host", REGISTRY, "--retry-delay", "0")
    assert "p0: failed before" in again.stdout and again.returncode == 1
    (fleet.stages / "fail-p0").unlink()
    again = fleet.fleet("sync", "--registry-host", REGISTRY, "--retry-failed")
    assert again.returncode == 0, again.stdout + again.stderr
    assert len([c for c in fleet.werf_calls() if c[:2] == ["stages", "sync"]]) == len(calls) + 1


def test_a_refused_merge_stops_with_the_rollback_and_the_rerun_merges_without_switching(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: GitLabStandin) -> None:
    fleet = Fleet(tmp_path, api, isolate_git(monkeypatch, tmp_path), 3)
    _opened(fleet)
    mr = api.state.merge_requests[fleet.projects["p1"]["id"]][0]
    mr["has_conflicts"] = True  # GitLab answers 406 to the merge
    proc = fleet.fleet("switch", "--registry-host", REGISTRY)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "p1: failed: merge of !1 refused: conflicts" in proc.stdout
    assert "rollback of fleet/p1:" in proc.stdout
    assert f"werf stages sync --from {REGISTRY}/fleet/p1/stages --to :local" in proc.stdout
    assert "p2" not in proc.stdout  # stopped at the first failure
    switched = [c[-1] for c in fleet.werf_calls() if c[:2] == ["stages", "switch-from-local"]]
    assert switched == [f"{REGISTRY}/fleet/p0/stages", f"{REGISTRY}/fleet/p1/stages"]

    mr["has_conflicts"] = False
    proc = fleet.fleet("switch", "--registry-host", REGISTRY)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(("fleet/p1", "fleet/p2")))
    assert lines[first] == "fleet/p1: switched before, not merged: merging now"
    switched = [c[-1] for c in fleet.werf_calls() if c[:2] == ["stages", "switch-from-local"]]
    assert switched.count(f"{REGISTRY}/fleet/p1/stages") == 1 and len(switched) == 3
    assert mr["state"] == "merged"


def test_switch_dry_run_only_and_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: GitLabStandin) -> None:
    fleet = Fleet(tmp_path, api, isolate_git(monkeypatch, tmp_path), 3)
    _opened(fleet)
    before = len(api.requests)
    proc = fleet.fleet("switch", "--registry-host", REGISTRY, "--dry-run")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("would run `werf stages switch-from-local --to") == 3
    assert not [c for c in fleet.werf_calls() if c[:2] == ["stages", "switch-from-local"]]
    assert not [r for r in api.requests[before:] if r.method != "GET"]
    proc = fleet.fleet("switch", "--registry-host", REGISTRY, "--only", "fleet/p2")
    assert proc.returncode == 0 and "fleet/p2: merged !1" in proc.stdout
    assert "fleet/p0" not in proc.stdout
    proc = fleet.fleet("switch", "--registry-host", REGISTRY, "--limit", "1")
    assert "fleet/p0: merged" in proc.stdout and "fleet/p1: merged" not in proc.stdout
    assert "fleet/p2: merged before" in proc.stdout
    bad = fleet.fleet("switch", "--only", "nope")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    no_token = run_ciswitch("fleet", "switch", "--gitlab-url", api.url, "--group", "fleet",
                            cwd=tmp_path, env={**fleet.env, "GITLAB_TOKEN": ""})
    assert no_token.returncode == 2 and "GITLAB_TOKEN" in no_token.stderr


def test_status_refresh_formats_and_rate_limits(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: GitLabStandin) -> None:
    fleet = Fleet(tmp_path, api, isolate_git(monkeypatch, tmp_path), 2)
    api.add_user("alice")
    api.rate_limit(2, retry_after=0)
    proc = fleet.fleet("run", "--reviewer", "alice", "--draft")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sum(1 for r in api.requests if r.status == 429) == 2
    fleet.pipelines()
    # without --refresh: the merge requests as fleet run journaled them, never refreshed
    status = ("fleet", "status", "--workdir", str(tmp_path / "fleet"))
    asked = len(api.requests)
    journaled = json.loads(fleet.cli(*status, "--format", "json").stdout)
    assert len(api.requests) == asked  # the journal only: GitLab is not asked
    assert [(r["mr"], r["mr_state"], r["mr_refreshed"]) for r in journaled["repositories"]] \
        == [("!1", "opened", None)] * 2
    assert {r["mr_url"] for r in journaled["repositories"]} == {
        f"{api.state.host}/fleet/{n}/-/merge_requests/1" for n in fleet.names}
    assert "never refreshed" in journaled["merge_requests"]
    text = fleet.cli(*status).stdout
    assert text.splitlines()[0].split() == ["REPOSITORY", "STATUS", "FIXED", "LEFT", "MR",
                                            "RESULT"]
    assert text.count("!1 opened") == 2 and "never refreshed" in text
    api.approve(fleet.projects["p0"], 1, "alice")
    args = ("fleet", "status", "--workdir", str(tmp_path / "fleet"), "--refresh",
            "--gitlab-url", api.url)
    rows = list(csv.DictReader(io.StringIO(fleet.cli(*args, "--format", "csv").stdout)))
    assert [(r["name"], r["approvals"]) for r in rows] == [
        ("fleet/p0", "approved by alice"), ("fleet/p1", "0 left")]
    assert {r["mr_state"] for r in rows} == {"opened"}
    markdown = fleet.cli(*args, "--format", "markdown").stdout
    assert markdown.splitlines()[0].startswith("| name | status | mr |")
    text = fleet.cli(*args).stdout
    assert "success" in text and "draft_status" not in text
    mr = api.state.merge_requests[fleet.projects["p0"]["id"]][0]
    assert mr["draft"] and [u["username"] for u in mr["reviewers"]] == ["alice"]
    missing = run_ciswitch(*args[:4], "--refresh", cwd=tmp_path, env=fleet.env)
    assert missing.returncode == 2 and "--gitlab-url" in missing.stderr

    # GitLab's state changed since: status shows the refreshed state and when it was asked
    api.state.merge_requests[fleet.projects["p1"]["id"]][0]["state"] = "closed"
    assert fleet.cli(*args, "--format", "json").returncode == 0
    after = json.loads(fleet.cli(*status, "--format", "json").stdout)["repositories"]
    assert [(r["name"], r["mr_state"]) for r in after] == [("fleet/p0", "opened"),
                                                            ("fleet/p1", "closed")]
    assert all(r["mr_refreshed"] and r["mr_refreshed"].endswith("Z") for r in after)
    markdown = fleet.cli(*status, "--format", "markdown").stdout
    assert "| !1 closed |" in markdown and "_merge requests as GitLab last said, refreshed" \
        in markdown


def test_fleet_branches_mr_opens_each_merge_request_through_the_api_and_journals_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: GitLabStandin) -> None:
    import sqlite3

    fleet = Fleet(tmp_path, api, isolate_git(monkeypatch, tmp_path), 2)
    tips = {name: _feature_branch(fleet, name) for name in fleet.names}
    for name in fleet.names:  # the default branch is switched already
        work = tmp_path / "work" / name
        git(work, "switch", "-q", "main")
        write_files(work, {".gitlab-ci.yml": CI.replace(" --stages-storage :local", "")})
        commit_all(work, "switched")
        git(work, "push", "-q", "origin", "main")
        git(fleet.bare(name), "config", "receive.advertisePushOptions", "false")
    dry = fleet.fleet("branches", "--mr", "--dry-run")
    assert dry.returncode == 0 and dry.stdout.count("through GitLab's API") == 2, dry.stdout
    assert not [r for r in api.requests if r.method != "GET"]
    proc = fleet.fleet("branches", "--mr", "--label", "ciswitch")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    creates = [r for r in api.requests if r.method == "POST"]
    assert sorted(r.path for r in creates) == sorted(
        f"/api/v4/projects/{fleet.projects[n]['id']}/merge_requests" for n in fleet.names)
    assert {(r.body["source_branch"], r.body["target_branch"], r.body["labels"])
            for r in creates} == {("ciswitch/fix/feature/login", "feature/login", "ciswitch")}
    for name, tip in tips.items():  # the branch itself is left; the fix branch is on top
        assert git(fleet.bare(name), "rev-parse", "refs/heads/feature/login") == tip
        fix = git(fleet.bare(name), "rev-parse", "refs/heads/ciswitch/fix/feature/login")
        assert git(fleet.bare(name), "rev-parse", f"{fix}^") == tip
    with sqlite3.connect(tmp_path / "fleet" / "ciswitch-fleet.sqlite") as db:
        rows = db.execute("SELECT name, status, mr_iid, mr_state, mr_url FROM procedure_steps "
                          "WHERE step = 'branch:feature/login' ORDER BY name").fetchall()
    assert rows == [(f"fleet/{n}", "mr-opened", 1, "opened",
                     f"{api.state.host}/fleet/{n}/-/merge_requests/1") for n in fleet.names]
    before = len(api.requests)
    again = fleet.fleet("branches", "--mr")
    assert again.returncode == 0 and again.stdout.count("up-to-date") == 2, again.stdout
    assert not [r for r in api.requests[before:] if r.method != "GET"]
    bad = fleet.fleet("branches", "--label", "x")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_switch_refuses_a_project_not_synced_and_one_whose_merge_request_moved(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: GitLabStandin) -> None:
    fleet = Fleet(tmp_path, api, isolate_git(monkeypatch, tmp_path), 2)
    _opened(fleet, sync=False)
    proc = fleet.fleet("switch", "--registry-host", REGISTRY)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "fleet/p0: failed: not synced on this host yet (fleet sync never ran for it)" \
        in proc.stdout
    assert "fleet/p1" not in proc.stdout and not _werf(fleet, "switch-from-local")
    assert not [r for r in api.requests if r.path.endswith("/merge")]

    # sync, dry run first: it says what it would run, runs nothing, journals nothing
    for name in fleet.names:
        (fleet.stages / name).write_text("stages\n")
    dry = fleet.fleet("sync", "--registry-host", REGISTRY, "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert dry.stdout.count("would run `werf stages sync --from :local --to") == 2
    assert not _werf(fleet, "sync")
    proc = fleet.fleet("sync", "--registry-host", REGISTRY)
    assert proc.returncode == 0 and "done before" not in proc.stdout, proc.stdout
    assert len(_werf(fleet, "sync")) == 2

    # somebody pushed onto p0's change branch after its pipeline: no switch, no merge
    api.push(fleet.projects["p0"], BRANCH, "f" * 40)
    proc = fleet.fleet("switch", "--registry-host", REGISTRY)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "fleet/p0: failed: !1 is at ffffffffff now, not at the verified" in proc.stdout
    assert not _werf(fleet, "switch-from-local")
    assert not [r for r in api.requests if r.path.endswith("/merge")]


def test_sync_without_docker_fails_rather_than_skips(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: GitLabStandin) -> None:
    fleet = Fleet(tmp_path, api, isolate_git(monkeypatch, tmp_path), 1)
    proc = fleet.fleet("sync", "--registry-host", REGISTRY, "--docker",
                       str(tmp_path / "no-docker"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "fleet/p0: failed: " in proc.stdout and "cannot tell whether p0" in proc.stdout


def test_every_step_resumes_after_the_runner_is_killed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: GitLabStandin) -> None:
    fleet = Fleet(tmp_path, api, isolate_git(monkeypatch, tmp_path), 3)
    # the change branches name their address in .ciswitch.toml: sync and switch take it
    address = f"{REGISTRY}/shared/stages"
    proc = fleet.fleet("run", "--to", address)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fleet.pipelines()
    for name in fleet.names:
        (fleet.stages / name).write_text("stages\n")

    # sync: killed right after p1's werf ended, before the journal heard of it
    (fleet.stages / "kill-p1").write_text("sync")
    proc = fleet.fleet("sync", "--registry-host", REGISTRY, "-j", "1")
    assert proc.returncode == -9, proc.stdout + proc.stderr
    proc = fleet.fleet("sync", "--registry-host", REGISTRY, "-j", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "fleet/p0: done before" in proc.stdout and "fleet/p1: done: synced" in proc.stdout
    synced = _werf(fleet, "sync")
    assert synced == [address] * 4  # p1 redone: it was not journaled

    # switch: killed right after p0's switch-from-local, before the merge
    (fleet.stages / "kill-p0").write_text("switch-from-local")
    proc = fleet.fleet("switch", "--registry-host", REGISTRY)
    assert proc.returncode == -9, proc.stdout + proc.stderr
    assert not [r for r in api.requests if r.path.endswith("/merge")]
    # ... and killed again after p1's switch, whose merge GitLab had already done
    (fleet.stages / "kill-p1").write_text("switch-from-local")
    proc = fleet.fleet("switch", "--registry-host", REGISTRY)
    assert proc.returncode == -9, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "fleet/p0: switched before, not merged: merging now"
    assert any(line.startswith("fleet/p0: merged !1 at ") for line in lines)
    p1 = api.state.merge_requests[fleet.projects["p1"]["id"]][0]
    p1["state"] = "merged"  # as if the merge landed before the crash

    proc = fleet.fleet("switch", "--registry-host", REGISTRY)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "fleet/p0: merged before" in proc.stdout
    assert "fleet/p1: switched before, not merged: merging now" in proc.stdout
    assert "fleet/p1: !1 was merged already" in proc.stdout
    assert "fleet/p2: merged !1 at " in proc.stdout
    switched = _werf(fleet, "switch-from-local")
    assert switched == [address] * 3
    merges = [r for r in api.requests if r.path.endswith("/merge")]
    assert [r.path.split("/")[4] for r in merges] == [
        str(fleet.projects[n]["id"]) for n in ("p0", "p2")]
    for request in merges:  # each at the commit its pipeline ran on
        pid = int(request.path.split("/")[4])
        name = next(n for n, p in fleet.projects.items() if p["id"] == pid)
        assert request.body["sha"] == git(fleet.bare(name), "rev-parse", "refs/heads/main")


def test_a_templated_werf_project_name_fails_the_sync_until_project_names_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: GitLabStandin) -> None:
    fleet = Fleet(tmp_path, api, isolate_git(monkeypatch, tmp_path), 2)
    work = tmp_path / "work" / "p0"
    write_files(work, {"werf.yaml": 'project: {{ env "PROJECT" }}\nconfigVersion: 1\n'})
    commit_all(work, "templated name")
    git(work, "push", "-q", "origin", "main")
    (tmp_path / "work" / "p1" / "werf.yaml").unlink()  # p1 is no werf project at all
    commit_all(tmp_path / "work" / "p1", "no werf")
    git(tmp_path / "work" / "p1", "push", "-q", "origin", "main")
    for name in fleet.names:
        (fleet.stages / name).write_text("stages\n")
    proc = fleet.fleet("sync", "--registry-host", REGISTRY)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "fleet/p0: failed: " in proc.stdout
    assert "pass --werf-project PROJECT=NAME" in proc.stdout
    assert "fleet/p1: skipped: no werf.yaml" in proc.stdout
    assert not _werf(fleet, "sync")
    bad = fleet.fleet("sync", "--registry-host", REGISTRY, "--werf-project", "nope=p0")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr
    proc = fleet.fleet("sync", "--registry-host", REGISTRY, "--retry-failed",
                       "--werf-project", "fleet/p0=p0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _werf(fleet, "sync") == [f"{REGISTRY}/fleet/p0/stages"]


def test_a_project_switched_by_hand_is_merged_without_a_second_switch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: GitLabStandin) -> None:
    fleet = Fleet(tmp_path, api, isolate_git(monkeypatch, tmp_path), 2)
    _opened(fleet)
    block = fleet.werf_home / "service" / "stages_switch_from_local_block" / "p0"
    block.parent.mkdir(parents=True)
    block.write_text("")  # `plan --run switch` ran for p0 on this host, outside the journal
    dry = fleet.fleet("switch", "--registry-host", REGISTRY, "--dry-run")
    assert "fleet/p0: would merge !1 at once at " in dry.stdout, dry.stdout
    proc = fleet.fleet("switch", "--registry-host", REGISTRY)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "fleet/p0: already switched on this host" in proc.stdout
    assert "fleet/p0: merged !1 at " in proc.stdout and "fleet/p1: merged !1 at " in proc.stdout
    assert _werf(fleet, "switch-from-local") == [f"{REGISTRY}/fleet/p1/stages"]
