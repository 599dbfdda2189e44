"""Shards split the fleet exactly; the generated pipeline lints clean; reports merge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gitrepos import isolate_git, run_ciswitch
from ruamel.yaml import YAML
from test_fleet_common import fleet, make_repo, pushes, write_list

from ciswitch.fleet.shard import Shard, parse_shard, select, shard_from_env
from ciswitch.fleet.sources import normalize_url, read_repos_file


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)


@pytest.mark.parametrize("total", [1, 2, 3, 7])
def test_shards_cover_every_key_exactly_once(total: int) -> None:
    keys = [f"gitlab.example.test/group{i % 5}/project{i}" for i in range(300)]
    seen: list[str] = []
    for index in range(1, total + 1):
        share = select(keys, keys, Shard(index, total))
        seen += share
        if total > 1:
            assert 0 < len(share) < len(keys)
    assert sorted(seen) == sorted(keys)


def test_shard_parsing_and_environment() -> None:
    assert parse_shard("2/5") == Shard(2, 5)
    assert shard_from_env({"CI_NODE_INDEX": "3", "CI_NODE_TOTAL": "4"}) == Shard(3, 4)
    assert shard_from_env({}) is None
    for bad in ("0/3", "4/3", "x/3", "3", "1/0"):
        with pytest.raises(Exception, match="invalid shard"):
            parse_shard(bad)


def test_keys_ignore_credentials_and_spelling(tmp_path: Path) -> None:
    same = [
        "https://oauth2:glpat-SECRETtoken0123456789@GitLab.example.test/g/p.git",
        "https://gitlab.example.test/g/p/",
        "git@gitlab.example.test:g/p.git",
        "ssh://git@gitlab.example.test/g/p",
    ]
    assert {normalize_url(u) for u in same} == {"gitlab.example.test/g/p"}
    listing = tmp_path / "repos.txt"
    listing.write_text("# comment\n\n" + "\n".join(same) + "  # trailing comment\nlocal/x\n")
    specs = read_repos_file(listing)
    assert [s.key for s in specs] == ["gitlab.example.test/g/p", str(tmp_path / "local/x")]
    assert "SECRET" not in specs[0].display


def test_shard_runs_through_the_cli_cover_the_fleet_and_merge(tmp_path: Path) -> None:
    bares = [make_repo(tmp_path / "src", f"r{i:02d}", "flag" if i % 3 else "clean")
             for i in range(14)]
    listing = write_list(tmp_path / "repos.txt", bares)
    states = []
    for index in (1, 2, 3):
        state = tmp_path / f"shard-{index}.sqlite"
        states.append(state)
        proc = fleet(
            "run", "--repos", str(listing), "--workdir", str(tmp_path / "work"),
            "--state", str(state), cwd=tmp_path,
            env={"CI_NODE_INDEX": str(index), "CI_NODE_TOTAL": "3"},
        )
        assert proc.returncode == 0, proc.stderr
    assert [len(pushes(b)) for b in bares] == [0 if i % 3 == 0 else 1 for i in range(14)]
    shares = []
    for state in states:
        shown = fleet("status", "--state", str(state), "--format", "json", cwd=tmp_path)
        shares.append({r["url"] for r in json.loads(shown.stdout)["repositories"]})
    assert sum(len(s) for s in shares) == 14
    assert set().union(*shares) == {str(b) for b in bares}
    # journals and JSON reports merge into one table
    report = tmp_path / "shard-3.json"
    report.write_text(
        fleet("status", "--state", str(states[2]), "--format", "json", cwd=tmp_path).stdout
    )
    merged = fleet("merge-reports", str(states[0]), str(states[1]), str(report),
                   "--format", "json", cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr
    data = json.loads(merged.stdout)
    assert {r["url"] for r in data["repositories"]} == {str(b) for b in bares}
    assert data["summary"] == {"clean": 5, "pushed": 9}
    text = fleet("merge-reports", *map(str, states), "--format", "markdown", cwd=tmp_path)
    assert "| Repository | Status |" in text.stdout and "**14 repositories:**" in text.stdout
    bad = fleet("merge-reports", str(listing), cwd=tmp_path)
    assert bad.returncode == 2 and "repos.txt" in bad.stderr


def test_pipeline_passes_lint_and_runs_the_shards(tmp_path: Path) -> None:
    proc = fleet("pipeline", "--shards", "4", "--repos", "fleet.txt", "-j", "2",
                 "--label", "werf switch", "--draft", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    project = tmp_path / "child"
    project.mkdir()
    (project / ".gitlab-ci.yml").write_text(proc.stdout)
    linted = run_ciswitch("lint", str(project), cwd=tmp_path)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    config = YAML(typ="safe").load(proc.stdout)
    job = config["fleet-run"]
    assert job["parallel"] == 4
    script = job["script"][0]
    assert 'ciswitch fleet run --shard "$CI_NODE_INDEX/$CI_NODE_TOTAL"' in script
    assert "--repos fleet.txt -j 2 --label 'werf switch' --draft" in script
    assert "fleet-state/" in job["artifacts"]["paths"]
    assert job["artifacts"]["when"] == "always"
    report = config["fleet-report"]
    assert report["needs"][0]["job"] == "fleet-run"
    assert "ciswitch fleet merge-reports fleet-state/*.sqlite" in report["script"][0]


@pytest.mark.parametrize("args", [["--bogus"], ["--shard", "1/2"], ["--state=x.sqlite"]])
def test_pipeline_refuses_bad_run_options(tmp_path: Path, args: list[str]) -> None:
    proc = fleet("pipeline", "--shards", "2", *args, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("ciswitch: error: ") and proc.stdout == ""
