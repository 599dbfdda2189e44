"""The benchmark scripts still run and still print every figure against its target.

Each script runs in ``--quick`` mode against the ciswitch of this interpreter (``--no-install``:
no virtual environment is built here). Only that it runs and prints its figure lines is
checked, never a timing.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
FIGURE = re.compile(
    r"^FIGURE (?P<what>.+): measured (?P<value>\d+\.\d+)x, target <= (?P<target>[\d.]+)x, "
    r"(?P<met>met|MISSED)  \[",
    re.M,
)
TOTAL = re.compile(r"^== (\d+) of (\d+) targets met ==$", re.M)


def _run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--quick", "--no-install", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _figures(out: str) -> dict[str, float]:
    figures = {m["what"]: float(m["value"]) for m in FIGURE.finditer(out)}
    total = TOTAL.search(out)
    assert total is not None and int(total.group(2)) == len(figures), out
    assert all(value > 0 for value in figures.values()), out
    return figures


def test_lint_bench_prints_every_figure() -> None:
    out = _run("lint_bench.py")
    figures = _figures(out)
    assert len(figures) == 7, out
    assert any(k.startswith("whole-process ciswitch lint / yamllint CLI") for k in figures)
    for generator in ("bench generator", "werf in every job"):
        assert f"lint / bare C compose, 100 jobs, {generator} (interleaved, in-process)" in figures
        assert f"whole-process lint / yamllint, 100 jobs, {generator}" in figures
        assert f"peak memory lint / compose, 100 jobs, {generator}" in figures
    # The generated files are linted for real: their :local places are found.
    row = re.search(r"^werf in every job \| [\d,]+ \| (\d+) \|", out, re.M)
    assert row is not None and int(row.group(1)) > 0, out
    # Each big file's lint is broken into its parts, each part timed (not a blank).
    assert "where the in-process lint's time goes" in out, out
    for generator in ("bench generator", "werf in every job"):
        part = out.split(f"\n{generator}: lint ", 1)[1].split("\n  the target", 1)[0]
        for name in ("compose (", "model (", "the rest of loading", "replay (facts)", "rules",
                     "suppression comments", "the rest ("):
            assert re.search(rf"^  {re.escape(name)}.*: [\d.]+ (?:ms|s) \(\d+%\)$", part, re.M), out


def test_scaling_bench_prints_figures_and_slopes() -> None:
    out = _run("scaling_bench.py")
    figures = _figures(out)
    assert set(figures) == {
        "lint time 500 / 100 jobs, werf in every job",
        "lint peak memory 500 / 100 jobs, werf in every job",
    }, out
    assert len(re.findall(r"^SLOPE local includes ", out, re.M)) == 2, out
    assert len(re.findall(r"^SLOPE glued assignment lines ", out, re.M)) == 2, out


def test_fix_bench_prints_both_generators() -> None:
    out = _run("fix_bench.py")
    assert set(_figures(out)) == {
        f"{command} / lint on the same file, 100 jobs, {generator}"
        for command in ("fix", "fix --diff")
        for generator in ("bench generator", "werf in every job")
    }, out
    # after the fix: nothing left to find (the generated helper scripts are not in the
    # repository, so the summary also counts them as not checked)
    assert re.search(r"^bench generator \| .* \| No findings in 1 file[.;]", out, re.M), out
    # Each file's in-process fix is broken into its parts, each one timed.
    assert out.count("in-process fix --diff ") == 2, out
    for name in ("the lint of the old text", "composing the new text", "comparing the meanings",
                 "the lint of the new text", "the pipeline checks", "the diff"):
        assert len(re.findall(rf"^    {re.escape(name)}.*: [\d.]+ (?:ms|s) \(\d+%\)$", out,
                              re.M)) == 2, out


def test_fix_bench_times_a_baseline_tree_beside() -> None:
    """``--baseline``: another source tree's lint and fixes in every round (here this tree's
    own), its ratios printed beside the figures."""
    out = _run("fix_bench.py", "--baseline", str(BENCH.parent))
    assert len(_figures(out)) == 4, out
    lines = re.findall(r"^  baseline \S+: (fix|fix --diff) / lint (\d+\.\d+)x \(median of 1 ", out,
                       re.M)
    assert sorted(name for name, _ in lines) == ["fix", "fix", "fix --diff", "fix --diff"], out
    assert all(float(value) > 0 for _, value in lines), out


@pytest.mark.parametrize("mode", [[], ["--realistic"]])
def test_fleet_bench_pushes_every_repository(mode: list[str]) -> None:
    out = _run("fleet_bench.py", *mode)
    figures = _figures(out)
    assert len(figures) == 3, out
    assert any(k.startswith("fleet sync / shell sync loop") for k in figures), out
    assert "every pair pushed and synced all 3 repositories on both sides: yes" in out, out
    assert "median of 2 interleaved pairs; ratios " in out, out


def test_fleet_bench_times_a_baseline_checkout_as_a_third_side() -> None:
    """``--baseline``: another source tree's fleet run in every pair (here this tree's own),
    pushing its own copies of the repositories."""
    out = _run("fleet_bench.py", "--baseline", str(BENCH.parent))
    figures = _figures(out)
    assert len(figures) == 4, out
    assert any(k.startswith(f"fleet run / the fleet run of {BENCH.parent.name}")
               for k in figures), out
    assert f"ciswitch fleet run -j 2 of {BENCH.parent}: median wall " in out, out
    assert "every pair pushed and synced all 3 repositories on both sides: yes" in out, out


@pytest.mark.parametrize("every", [False, True])
def test_generated_files_are_deterministic(every: bool) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        from generate import generate
    finally:
        sys.path.remove(str(BENCH))
    first = generate(50, werf_every_job=every)
    assert first == generate(50, werf_every_job=every)
    assert first != generate(50, seed=2, werf_every_job=every)
    assert "--stages-storage :local" in first


def test_werf_every_job_puts_werf_in_every_job() -> None:
    """Every visible job of the variant names werf or :local (PyYAML as the reader)."""
    yaml = pytest.importorskip("yaml")
    sys.path.insert(0, str(BENCH))
    try:
        from generate import generate
    finally:
        sys.path.remove(str(BENCH))

    def visible_jobs(text: str) -> dict[str, dict[str, object]]:
        data = yaml.safe_load(text)
        return {
            k: v
            for k, v in data.items()
            if isinstance(v, dict) and not k.startswith(".") and k not in ("variables", "default")
        }

    def has_werf(job: dict[str, object]) -> bool:
        return "werf" in repr(job) or job.get("extends") == ".werf_deploy"

    jobs = visible_jobs(generate(200, werf_every_job=True))
    assert len(jobs) == 200
    assert [name for name, job in jobs.items() if not has_werf(job)] == []
    assert not all(has_werf(job) for job in visible_jobs(generate(200)).values())


def test_fleet_faults_bench_counts_nothing_wrong_on_one_trial_of_each_kind() -> None:
    out = _run("fleet_faults.py")
    lines = {ln.split(":")[0].strip(): ln for ln in out.splitlines() if ln.startswith("  ")}
    assert set(lines) == {"kill", "concurrent", "sigint"}, out
    for kind in ("kill", "sigint"):
        for bad in ("pushed-but-journaled-failed", "branch-written-twice", "left-unpushed",
                    "orphans", "tracebacks", "rerun-exit-not-0"):
            assert bad not in lines[kind], out
    assert "second-refused-exit-2 1" in lines["concurrent"], out
