"""The benchmark scripts still run and still print their ratios (timings are not checked).

They import ciswitch's internals (``analyse_workspace``, ``plan_fix``) directly, so a change of
those signatures would otherwise go unnoticed until someone wants the figures.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
RATIO = re.compile(r"^  ratio (?P<what>.+): (?P<value>\d+\.\d+)x \(target <= [\d.]+x\): ", re.M)


def _run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_lint_bench_prints_every_ratio() -> None:
    out = _run("lint_bench.py", "--sizes", "100", "--repeat", "1", "--small-repeat", "1")
    ratios = {m["what"]: float(m["value"]) for m in RATIO.finditer(out)}
    assert set(ratios) == {
        "lint process / yamllint on 100 jobs",
        "lint / C compose on 100 jobs",
        "peak memory lint / compose on 100 jobs",
        "small file (203 lines, werf jobs): lint process / yamllint process",
        "small file (213 lines, no werf): lint process / yamllint process",
    }, out
    assert all(value > 0 for value in ratios.values()), out
    # The generated file is linted for real: its :local places are found.
    row = re.search(r"^\| 100 +\| 1,225 +\| (\d+) +\|", out, re.M)
    assert row is not None and int(row.group(1)) > 0, out


def test_fix_bench_prints_the_ratio() -> None:
    out = _run("fix_bench.py", "--sizes", "100", "--repeat", "1")
    ratios = {m["what"]: float(m["value"]) for m in RATIO.finditer(out)}
    assert list(ratios) == ["fix / lint on 100 jobs"], out
    assert ratios["fix / lint on 100 jobs"] > 0
    row = re.search(r"^\| 100 +\| 1,225 +\| (\d+) +\| 0 +\|", out, re.M)
    assert row is not None and int(row.group(1)) > 0, out  # places fixed, none left
    assert "warning" not in out


@pytest.mark.parametrize("werf", [True, False])
def test_generated_files_are_deterministic(werf: bool) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        from generate import generate
    finally:
        sys.path.remove(str(BENCH))
    first = generate(50, werf=werf)
    assert first == generate(50, werf=werf)
    assert first != generate(50, seed=2, werf=werf)
    assert ("--stages-storage :local" in first) is werf


def test_fleet_faults_bench_counts_nothing_wrong_on_one_trial_of_each_kind() -> None:
    out = _run("fleet_faults.py", "--trials", "1", "--repos", "3")
    lines = {ln.split(":")[0].strip(): ln for ln in out.splitlines() if ln.startswith("  ")}
    assert set(lines) == {"kill", "concurrent", "sigint"}, out
    for kind in ("kill", "sigint"):
        for bad in ("pushed-but-journaled-failed", "branch-written-twice", "left-unpushed",
                    "orphans", "tracebacks", "rerun-exit-not-0"):
            assert bad not in lines[kind], out
    assert "second-refused-exit-2 1" in lines["concurrent"], out
