"""``ciswitch fleet run`` and ``status`` over 30+ real repositories with bare remotes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gitrepos import git, isolate_git
from test_fleet_common import (
    fleet,
    journal_statuses,
    make_empty,
    make_repo,
    pushes,
    remote_branches,
    status_json,
    write_list,
)

BRANCH = "ciswitch/remote-stages-storage"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)


def build_fleet(src: Path) -> dict[str, tuple[Path, str]]:
    """34 repositories: name -> (bare remote, expected status)."""
    plan: list[tuple[str, str, dict[str, bool], str]] = []
    for i in range(8):
        plan.append((f"clean{i}", "clean", {}, "clean"))
    for i in range(8):
        plan.append((f"flag{i}", "flag", {"mr_url": i % 2 == 0},
                     "mr-opened" if i % 2 == 0 else "pushed"))
    for i in range(6):
        plan.append((f"variable{i}", "variable", {}, "pushed"))
    for i in range(6):
        plan.append((f"include{i}", "include", {"mr_url": True}, "mr-opened"))
    plan.append(("unfixable0", "unfixable", {}, "skipped"))
    plan.append(("unfixable1", "unfixable", {}, "skipped"))
    plan.append(("invalid", "invalid-yaml", {}, "failed"))
    plan.append(("rejecting", "flag", {"reject": True}, "failed"))
    plan.append(("custom", "custom-path", {}, "failed"))
    fleet_map = {
        name: (make_repo(src, name, kind, **opts), expected)
        for name, kind, opts, expected in plan
    }
    fleet_map["empty"] = (make_empty(src, "empty"), "skipped")
    return fleet_map


def test_run_records_every_outcome_and_resumes_without_pushing_again(tmp_path: Path) -> None:
    repos = build_fleet(tmp_path / "src")
    assert len(repos) >= 30
    listing = write_list(tmp_path / "repos.txt", [bare for bare, _ in repos.values()])
    workdir = tmp_path / "work"

    proc = fleet("run", "--repos", str(listing), "--workdir", str(workdir), "-j", "2",
                 cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # some repositories failed
    table = status_json(workdir, tmp_path)
    assert len(table) == len(repos)
    for name, (bare, expected) in repos.items():
        row = table[str(bare)]
        assert row["status"] == expected, (name, row)
        branches = remote_branches(bare)
        if expected in ("pushed", "mr-opened"):
            assert pushes(bare) == [f"refs/heads/{BRANCH} {git(bare, 'rev-parse', BRANCH)}"]
            assert int(str(row["fixed"])) >= 1
        else:
            assert pushes(bare) == [], name
            assert BRANCH not in branches, name
        if expected == "mr-opened":
            assert str(row["mr_url"]).endswith(f"/fleet/{name}/-/merge_requests/12")
    assert table[str(repos["flag0"][0])]["fixed"] == 2
    assert "blocked by policy" in str(table[str(repos["rejecting"][0])]["detail"])
    assert "invalid YAML" in str(table[str(repos["invalid"][0])]["detail"])
    assert ".gitlab-ci.yml" in str(table[str(repos["invalid"][0])]["detail"])
    assert table[str(repos["empty"][0])]["detail"] == "empty repository"
    assert "manual change" in str(table[str(repos["unfixable0"][0])]["detail"])
    assert proc.stdout.count("\n") >= len(repos)  # one plain line per repository (no TTY)

    # the same command again: nothing is pushed, failed ones are left alone
    again = fleet("run", "--repos", str(listing), "--workdir", str(workdir), "-j", "2",
                  cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "already pushed" in again.stdout and "--retry-failed" in again.stdout
    for bare, _ in repos.values():
        assert len(pushes(bare)) <= 1

    # --retry-failed redoes only the failed ones; still one push at most per remote
    retry = fleet("run", "--repos", str(listing), "--workdir", str(workdir),
                  "--retry-failed", cwd=tmp_path)
    assert retry.returncode == 1
    assert retry.stdout.count("] failed") == 3, retry.stdout
    assert all(len(pushes(bare)) <= 1 for bare, _ in repos.values())

    # every format prints every repository
    for fmt in ("text", "csv", "markdown"):
        shown = fleet("status", "--workdir", str(workdir), "--format", fmt, cwd=tmp_path)
        assert shown.returncode == 0
        for bare, _ in repos.values():
            assert str(bare) in shown.stdout, fmt


def test_dry_run_shows_diffs_and_records_would_be_outcomes(tmp_path: Path) -> None:
    flag = make_repo(tmp_path / "src", "flag", "flag")
    clean = make_repo(tmp_path / "src", "clean", "clean")
    listing = write_list(tmp_path / "repos.txt", [flag, clean])
    workdir = tmp_path / "work"
    proc = fleet("run", "--repos", str(listing), "--workdir", str(workdir), "--dry-run",
                 cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "-    - werf build-and-publish --stages-storage :local" in proc.stdout
    assert "+    - werf build-and-publish" in proc.stdout
    assert pushes(flag) == [] and BRANCH not in remote_branches(flag)
    assert git(workdir / "repos" / next(iter(os.listdir(workdir / "repos"))),
               "branch", "--list", BRANCH) == ""
    table = status_json(workdir, tmp_path)
    assert table[str(flag)]["dry_run"] is True
    assert "dry run: would push" in str(table[str(flag)]["detail"])
    # a dry run does not count as done: the real run pushes
    real = fleet("run", "--repos", str(listing), "--workdir", str(workdir), cwd=tmp_path)
    assert real.returncode == 0, real.stdout + real.stderr
    assert len(pushes(flag)) == 1


def test_limit_and_batches(tmp_path: Path) -> None:
    bares = [make_repo(tmp_path / "src", f"p{i}", "flag") for i in range(5)]
    listing = write_list(tmp_path / "repos.txt", bares)
    workdir = tmp_path / "work"
    proc = fleet("run", "--repos", str(listing), "--workdir", str(workdir), "--limit", "2",
                 cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sum(len(pushes(b)) for b in bares) == 2
    proc = fleet("run", "--repos", str(listing), "--workdir", str(workdir),
                 "--batch-size", "2", "--pause", "0.01", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [len(pushes(b)) for b in bares] == [1] * 5


GATED_HOOK = """\
touch "{waiting}"
while [ ! -f "{release}" ]; do sleep 0.05; done
cat > /dev/null
"""


def test_sigkill_midway_then_rerun_pushes_every_repository_exactly_once(
    tmp_path: Path,
) -> None:
    """The run is killed while pushes are in flight; the rerun finishes the job."""
    src = tmp_path / "src"
    release = tmp_path / "release"
    bares = []
    for i in range(30):
        hook = None
        if i >= 10:  # from here on pushes wait until released: the kill lands mid-push
            hook = GATED_HOOK.format(waiting=tmp_path / f"waiting-{i}", release=release)
        bares.append(make_repo(src, f"p{i:02d}", "flag", pre_receive=hook))
    listing = write_list(tmp_path / "repos.txt", bares)
    workdir = tmp_path / "work"
    state = workdir / "ciswitch-fleet.sqlite"
    cmd = [sys.executable, "-m", "ciswitch", "fleet", "run", "--repos", str(listing),
           "--workdir", str(workdir), "-j", "2"]
    child = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            waiting = len(list(tmp_path.glob("waiting-*")))
            if journal_statuses(state).count("pushed") >= 10 and waiting >= 2:
                break
            assert child.poll() is None, "the run ended before it could be killed"
            time.sleep(0.05)
        else:
            pytest.fail("the run never reached the gated pushes")
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    assert journal_statuses(state).count("pending") >= 2
    assert sum(len(pushes(b)) for b in bares) == 10

    release.touch()
    again = fleet("run", "--repos", str(listing), "--workdir", str(workdir), "-j", "2",
                  cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert [len(pushes(b)) for b in bares] == [1] * 30
    table = status_json(workdir, tmp_path)
    assert {row["status"] for row in table.values()} == {"pushed"}
    runs = fleet("status", "--workdir", str(workdir), "--all-runs", "--format", "json",
                 cwd=tmp_path)
    rows = json.loads(runs.stdout)["repositories"]
    assert len([r for r in rows if r["status"] == "pending"]) >= 2  # the killed run's rows


def test_a_fleet_run_of_fresh_clones_loads_no_gitpython(tmp_path: Path) -> None:
    """GitPython's import (and its two ``git version`` processes) is a good part of a run's
    fixed cost: clones ciswitch made itself are read from their files and written through
    git's own commands. The fix still lands on each remote, each with the change."""
    bares = [make_repo(tmp_path / "src", f"r{n}", "flag") for n in range(3)]
    listing = write_list(tmp_path / "repos.txt", bares)
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ciswitch", "fleet", "run", "--repos",
         str(listing), "--workdir", str(tmp_path / "work"), "-j", "2"],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    loaded = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()
              if line.startswith("import time:")}
    assert "ciswitch.fix" in loaded and "git" not in loaded, sorted(loaded)
    for bare in bares:
        assert len(pushes(bare)) == 1
        tip = git(bare, "rev-parse", f"refs/heads/{BRANCH}")
        assert ":local" not in git(bare, "show", f"{tip}:.gitlab-ci.yml")
