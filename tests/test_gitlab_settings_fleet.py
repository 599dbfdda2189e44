"""``fleet run --gitlab-settings`` and ``fleet switch --gitlab-settings``: the :local CI/CD
variables of GitLab's settings changed as a step of the procedure, on the API stand-in, with
real bare remotes behind GitLab's clone URLs and the werf stand-in on the runner host."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from gitlab_standin import GitLabStandin
from gitrepos import isolate_git
from test_fleet_procedure import REGISTRY, TOKEN, Fleet

STAGES = "WERF_STAGES_STORAGE"


@pytest.fixture
def api() -> Iterator[GitLabStandin]:
    with GitLabStandin({TOKEN: False}) as server:
        yield server


def _clone_of(journal: Path) -> Path:
    """``<workdir>/repos/CLONE`` of ``CLONE/.git/ciswitch/gitlab-settings.jsonl``."""
    return journal.parents[2]


def test_fleet_run_deletes_the_settings_after_the_merge_request(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: GitLabStandin) -> None:
    env = isolate_git(monkeypatch, tmp_path)
    fleet = Fleet(tmp_path, api, env, 2)
    api.add_variable(fleet.projects["p0"], STAGES, ":local")
    api.add_variable(api.find_group("fleet"), STAGES, ":local", environment_scope="review/*")
    refused = fleet.fleet("run", "--shared")
    assert refused.returncode == 2 and "--shared goes with --gitlab-settings" in refused.stderr

    proc = fleet.fleet("run", "--gitlab-settings", "--registry-host", REGISTRY)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the group's variable is left
    assert api.state.project_variables[fleet.projects["p0"]["id"]] == []
    assert len(api.state.group_variables[api.find_group("fleet")["id"]]) == 1
    status = fleet.cli("fleet", "status", "--workdir", str(tmp_path / "fleet"), "--format",
                       "json")
    rows = {r["name"]: r for r in json.loads(status.stdout)["repositories"]}
    assert rows["fleet/p0"]["status"] == "partial"
    assert "gitlab settings: 1 changed, 1 left: leave gitlab: group fleet/" in \
        rows["fleet/p0"]["detail"]
    assert "gitlab settings: 0 changed, 1 left" in rows["fleet/p1"]["detail"]
    # the change is journaled in p0's clone, and revert --gitlab there puts it back
    [journal] = [p for p in (tmp_path / "fleet").rglob("gitlab-settings.jsonl")
                 if any(json.loads(line).get("state") == "done"
                        for line in p.read_text().splitlines())]
    back = fleet.cli("revert", "--gitlab", str(_clone_of(journal)))
    assert back.returncode == 0, back.stdout + back.stderr
    [variable] = api.state.project_variables[fleet.projects["p0"]["id"]]
    assert (variable["key"], variable["value"]) == (STAGES, ":local")


def test_fleet_switch_deletes_the_settings_right_before_each_switch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: GitLabStandin) -> None:
    env = isolate_git(monkeypatch, tmp_path)
    fleet = Fleet(tmp_path, api, env, 2)
    for name in fleet.names:
        (fleet.stages / name).write_text("stages\n")
    p0, p1 = fleet.projects["p0"], fleet.projects["p1"]
    schedule = api.add_schedule(p0, "nightly cleanup", "main", {STAGES: ":local"})
    api.add_variable(p1, "WERF_SYNCHRONIZATION", ":local")
    assert fleet.fleet("sync", "--registry-host", REGISTRY).returncode == 0
    assert fleet.fleet("run", "--registry-host", REGISTRY).returncode == 0
    fleet.pipelines()
    # without the step, the guard refuses p0: its schedule still sets :local
    proc = fleet.fleet("switch", "--registry-host", REGISTRY, "--dry-run")
    assert "p0: failed: not verified" in proc.stdout and "schedule" in proc.stdout
    proc = fleet.fleet("switch", "--registry-host", REGISTRY, "--gitlab-settings",
                       "--dry-run")
    assert "p0:   would delete gitlab: project fleet/p0 schedule" in proc.stdout
    assert schedule["variables"] != []

    proc = fleet.fleet("switch", "--registry-host", REGISTRY, "--gitlab-settings")
    # p0: deleted, verified, switched, merged; p1: its synchronization needs --unsafe-fixes
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert schedule["variables"] == []
    assert "p1: failed: not verified" in proc.stdout
    switches = [c for c in fleet.werf_calls() if c[:2] == ["stages", "switch-from-local"]]
    assert [c[-1] for c in switches] == [f"{REGISTRY}/fleet/p0/stages"]
    proc = fleet.fleet("switch", "--registry-host", REGISTRY, "--gitlab-settings",
                       "--unsafe-fixes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert api.state.project_variables[p1["id"]] == []
    assert len([c for c in fleet.werf_calls() if c[:2] == ["stages", "switch-from-local"]]) \
        == 2
