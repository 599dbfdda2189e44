"""Shards split the fleet exactly; the generated pipeline lints clean; reports merge."""

from __future__ import annotations

import json
import subprocess
import sys
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


@pytest.mark.parametrize("args", [
    [], ["-j", "2"], ["--gitlab-url", "https://gl.example"], ["--group", "web"],
    ["--repos", "f.txt", "--gitlab-url", "https://g", "--group", "w"],
])
def test_pipeline_refuses_without_one_source(tmp_path: Path, args: list[str]) -> None:
    proc = fleet("pipeline", "--shards", "2", *args, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("ciswitch: error: ") and proc.stderr.count("\n") == 1
    assert "--repos FILE" in proc.stderr


def _job_setup(text: str, job: str) -> list[str]:
    steps = YAML(typ="safe").load(text)[job]["before_script"]
    assert all(isinstance(step, str) for step in steps)
    return list(steps)


def _tiny_wheel(where: Path) -> Path:
    """A real (pure, tiny) wheel pip can install offline."""
    import zipfile

    path = where / "fleetprobe-1.0-py3-none-any.whl"
    files = {
        "fleetprobe/__init__.py": "",
        "fleetprobe-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: fleetprobe\n"
                                             "Version: 1.0\n",
        "fleetprobe-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\n"
                                          "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in files) + "fleetprobe-1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in {**files, "fleetprobe-1.0.dist-info/RECORD": record}.items():
            archive.writestr(name, text)
    return path


def _bash(steps: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The steps as GitLab's shell runs a job's lines: one bash script, stopping at a failure."""
    return subprocess.run(["bash", "-eo", "pipefail", "-c", "\n".join(steps)], cwd=cwd,
                          env=env, capture_output=True, text=True, check=False, timeout=60)


def test_pipeline_installs_from_the_variable_with_git_and_without_the_token(
    tmp_path: Path,
) -> None:
    proc = fleet("pipeline", "--shards", "3", "--repos", "fleet.txt", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    config = YAML(typ="safe").load(proc.stdout)
    assert "variables" not in config
    for job in ("fleet-run", "fleet-report"):
        assert config[job]["image"] == "python:3.11"  # the full image: git included
        steps = _job_setup(proc.stdout, job)
        assert steps[0].startswith("command -v git >/dev/null || {")
        (install,) = [s for s in steps if "pip install " in s]
        assert install == 'env -u GITLAB_TOKEN pip install --quiet "$CISWITCH_PIP_SPEC"'
    header = [ln for ln in proc.stdout.splitlines() if ln.startswith("#")]
    assert any("CISWITCH_PIP_SPEC" in ln for ln in header)
    assert any("GITLAB_TOKEN" in ln and "masked" in ln for ln in header)

    # the job's own lines in real bash: without the variable it stops and says what to set
    steps = [s for s in _job_setup(proc.stdout, "fleet-run") if not s.startswith("mkdir")]
    base = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path),
            "GITLAB_TOKEN": "glpat-NOTforPIP000000000"}
    missing = _bash(steps, base, tmp_path)
    assert missing.returncode == 1 and "CISWITCH_PIP_SPEC" in missing.stdout
    # with it, pip installs what it names (a wheel here, into a target directory, offline)
    wheel = _tiny_wheel(tmp_path)
    target = tmp_path / "target"
    ran = _bash(steps, {**base, "CISWITCH_PIP_SPEC": str(wheel), "PIP_NO_INDEX": "1",
                        "PIP_TARGET": str(target), "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
                tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert (target / "fleetprobe" / "__init__.py").is_file()

    spec = "ciswitch[gitlab] @ git+https://gitlab.example.test/tools/ciswitch.git@v1"
    given = fleet("pipeline", "--shards", "2", "--pip-spec", spec, "--gitlab-url",
                  "https://gitlab.example.test", "--group", "web", cwd=tmp_path)
    assert given.returncode == 0, given.stderr
    assert YAML(typ="safe").load(given.stdout)["variables"] == {"CISWITCH_PIP_SPEC": spec}
    own = fleet("pipeline", "--shards", "2", "--install", "pip install ./ciswitch.whl",
                "--repos", "fleet.txt", cwd=tmp_path)
    steps = _job_setup(own.stdout, "fleet-run")
    assert "pip install ./ciswitch.whl" in steps
    assert not any("CISWITCH_PIP_SPEC" in s for s in steps)
