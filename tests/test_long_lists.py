"""A big pipeline's messages and summaries stay lines a person reads.

A global ``WERF_STAGES_STORAGE=:local`` reaches every job; each job left without stages
storage is its own reason for leaving a place. Named in full, one message of a 10,000-job file
was 216 KB and ``fix``'s summary 761 KB on one line. A message names at most ten jobs (the
JSON, SARIF and GitLab reports still carry every job in their ``jobs`` field), and the summary
names the most common reasons and counts the rest, which the report gives at each place.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from gitrepos import commit_all, git, isolate_git

CISWITCH = [sys.executable, "-m", "ciswitch"]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CISWITCH, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Eight jobs with their own ``--stages-storage :local`` and no ``werf ci-env`` (eight
    reasons, one per job), and a global ``:local`` that twenty jobs use."""
    isolate_git(monkeypatch, tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    own = "".join(
        f"build{k}:\n  script:\n    - werf build --stages-storage :local\n" for k in range(8)
    )
    shared = "".join(f"use{k:02d}:\n  script:\n    - werf build\n" for k in range(12))
    (work / ".gitlab-ci.yml").write_text(
        own + 'variables:\n  WERF_STAGES_STORAGE: ":local"\n' + shared, encoding="utf-8"
    )
    commit_all(work, "ci")
    return work


def test_a_message_names_ten_jobs_and_counts_the_rest(repo: Path) -> None:
    text = _run("lint", ".", cwd=repo).stdout
    (line,) = [x for x in text.splitlines() if "in global variables" in x]
    named = [f"build{k}" for k in range(8)] + ["use00", "use01"]
    assert f"used by jobs {', '.join(named)} and 10 more:" in line
    assert "use02" not in line

    report = json.loads(_run("lint", "--format", "json", ".", cwd=repo).stdout)
    (finding,) = [f for f in report["findings"] if "in global variables" in f["message"]]
    assert len(finding["jobs"]) == 20  # the machine-readable list is whole
    assert "and 10 more" in finding["message"]


def test_ten_jobs_are_named_in_full(repo: Path) -> None:
    ci = repo / ".gitlab-ci.yml"
    text = ci.read_text(encoding="utf-8")
    kept = text.split("use02:")[0]  # build0..7 + use00, use01: exactly ten jobs use it
    ci.write_text(kept, encoding="utf-8")
    out = _run("lint", ".", cwd=repo).stdout
    (line,) = [x for x in out.splitlines() if "in global variables" in x]
    assert "more" not in line
    assert "build0, build1" in line and "use01:" in line


def test_the_fix_summary_names_the_common_reasons_and_counts_the_others(repo: Path) -> None:
    done = _run("fix", ".", cwd=repo)
    assert done.returncode == 1, done.stderr
    summary = done.stdout.strip().splitlines()[-1]
    assert summary.startswith("Fixed 0 places in 0 files; 29 left (20 need an address")
    # eight one-job reasons and the shared one: five clauses are named, four counted
    assert summary.count("would have no stages storage without it") == 4
    assert summary.endswith("; 5 more for 5 other reasons, each given at its place).")
    # every reason left out of the summary is still given at its place in the report
    report = _run("lint", ".", cwd=repo).stdout
    for k in range(8):
        assert f"job build{k} would have no stages storage without it" in report


def test_six_reasons_are_all_named(repo: Path) -> None:
    # five one-job reasons and "needs an address" (the five werf commands): six in all
    own = "".join(
        f"build{k}:\n  script:\n    - werf build --stages-storage :local\n" for k in range(5)
    )
    (repo / ".gitlab-ci.yml").write_text(own, encoding="utf-8")
    commit_all(repo, "five")
    summary = _run("fix", ".", cwd=repo).stdout.strip().splitlines()[-1]
    assert "other reason" not in summary
    assert summary.count("would have no stages storage without it") == 5
    assert "5 need an address" in summary
