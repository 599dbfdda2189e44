"""A big pipeline's messages and summaries stay lines a person reads.

A global ``WERF_STAGES_STORAGE=:local`` reaches every job; each job left without stages
storage is its own reason for leaving a place. Named in full, one message of a 10,000-job file
was 216 KB and ``fix``'s summary 761 KB on one line. A message names at most ten jobs (the
JSON, SARIF and GitLab reports still carry every job in their ``jobs`` field). The summary
counts the places left for the same reason about different jobs as one clause, names the most
common reasons and counts the rest, which the report gives at each place.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from gitrepos import commit_all, git, isolate_git

from ciswitch.cli.fix_cmd import summary
from ciswitch.fix import FixOutcome
from ciswitch.model import Finding, Position, Reason, group_of, reason_counts

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


def test_the_fix_summary_counts_one_reason_about_many_jobs_once(repo: Path) -> None:
    done = _run("fix", ".", cwd=repo)
    assert done.returncode == 1, done.stderr
    summary = done.stdout.strip().splitlines()[-1]
    # eight one-job reasons and the shared one's (twelve jobs): one clause, without job names
    assert summary == (
        "Fixed 0 places in 0 files; 29 left (20 need an address: add werf ci-env or pass --to "
        "ADDRESS; 9 would leave a job with no stages storage (no werf ci-env): pass --to "
        "ADDRESS)."
    ), summary
    # every reason is still given, with its jobs, at its place in the report
    report = _run("lint", ".", cwd=repo).stdout
    for k in range(8):
        assert f"job build{k} would have no stages storage without it" in report
    named = ", ".join([*(f"build{k}" for k in range(8)), "use00", "use01"])
    assert f"not fixable: jobs {named} and 10 more would have no stages storage" in report


def _left(*reasons: str) -> list[Finding]:
    at = Position(1, 1)
    return [Finding("CSW001", "m", ".gitlab-ci.yml", 0, 0, at, at, unfixable_reason=r)
            for r in reasons]


def test_the_fix_summary_names_the_common_reasons_and_counts_the_others() -> None:
    # eight reasons of their own (no group), the first twice: five named, three counted
    reasons = [f"the fix would change more than the :local (change {k}); change it by hand"
               for k in range(8)]
    outcome = FixOutcome(remaining=_left(reasons[0], *reasons))
    text = summary(outcome, wrote=False)
    assert text.startswith("Would fix 0 places in 0 files; 9 left (2 places: the fix would "
                           "change more than the :local (change 0)"), text
    assert text.count("the fix would change more than") == 5
    assert text.endswith("; 3 more for 3 other reasons, each given at its place).")


def test_a_group_of_one_reason_keeps_its_jobs() -> None:
    alone = Reason("job a would have no stages storage without it", "would leave a job")
    pair = [Reason(f"job {j} would have no stages storage without it", "would leave jobs")
            for j in "bc"]
    text = summary(FixOutcome(remaining=_left(alone, *pair, "needs an address")), wrote=False)
    assert text == ("Would fix 0 places in 0 files; 4 left (2 would leave jobs; 1 place: job a "
                    "would have no stages storage without it; 1 needs an address)."), text


def test_reasons_keep_their_group_through_copies_and_pickles() -> None:
    import copy
    import pickle

    reason = Reason("job a would have no stages storage", "would leave a job")
    assert reason == "job a would have no stages storage"
    for again in (pickle.loads(pickle.dumps(reason)), copy.deepcopy(reason)):
        assert again == reason and group_of(again) == "would leave a job"
    assert json.dumps([reason]) == '["job a would have no stages storage"]'
    assert group_of("plain") == "plain"
    assert reason_counts(["x", reason, Reason("job b would ...", "would leave a job"), "x"]) \
        == [("x", 2), ("would leave a job", 2)]


def test_six_reasons_are_all_named() -> None:
    reasons = [f"the fix would change more than the :local (change {k}); change it by hand"
               for k in range(6)]
    text = summary(FixOutcome(remaining=_left(*reasons)), wrote=False)
    assert "other reason" not in text
    assert text.count("the fix would change more than") == 6


def test_a_finding_a_fix_would_cause_is_summed_up_without_its_jobs() -> None:
    """The proof's last net (a fix that leaves a werf command with no stages storage): its
    reason names the jobs, and the summary's form of it leaves them out."""
    from ciswitch.fix import _unfixable_gained
    from ciswitch.lint import LintRun
    from ciswitch.model import LintResult

    at = Position(1, 1)
    gained = [Finding("CSW004", "m", ".gitlab-ci.yml", 0, 0, at, at, jobs=jobs)
              for jobs in (("b",), ("a", "b"))]
    after = LintRun(LintResult(".", findings=gained), facts=None)  # type: ignore[arg-type]
    reason = _unfixable_gained(after, [])
    assert reason == ("after this fix, werf command would have no stages storage without "
                      ":local in a, b (CSW004); pass --to ADDRESS")
    assert group_of(reason) == ("after this fix, werf command would have no stages storage "
                                "without :local (CSW004); pass --to ADDRESS")
    assert _unfixable_gained(after, gained) is None  # the old text had them too
