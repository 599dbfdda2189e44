"""``ciswitch fix`` against ``ciswitch lint`` on the same generated files, in one run.

The fix is measured as ``ciswitch.fix.plan_fix``: lint, edits, and both verifications (the
re-composed file compared with the original, and a second lint of the new text), without
writing anything, so the figure is the cost of a *proven* fix. Lint is
``ciswitch.lint.analyse_workspace`` on the same file. Module caches are cleared before every
run of either, as in a fresh process.

Usage: ``python bench/fix_bench.py [--sizes 100,1000,10000] [--repeat 3] [--clock wall|cpu]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchlib import (
    DEFAULT_SIZES,
    Timing,
    best_of,
    environment_line,
    fmt_ratio,
    fmt_seconds,
    line_count,
    markdown_table,
    parse_sizes,
    ratio,
    verdict,
    write_inputs,
)
from lint_bench import clear_caches, lint_once

TARGET_FIX_VS_LINT = 1.5


@dataclass
class FixCounts:
    fixed: int
    remaining: int
    changed_files: int
    problems: int


def fix_once(path: Path) -> FixCounts:
    """One fix plan of ``path`` (its directory is the repository root); nothing is written."""
    from ciswitch.config import load_config
    from ciswitch.fix import plan_fix
    from ciswitch.workspace import DirectoryWorkspace

    clear_caches()
    ws = DirectoryWorkspace(path.parent)
    outcome = plan_fix(ws, load_config(ws, None), entry=path.name)
    return FixCounts(
        len(outcome.fixed), len(outcome.remaining), len(outcome.changes), len(outcome.problems)
    )


@dataclass
class Row:
    size: int
    lines: int
    counts: FixCounts
    lint: Timing
    fix: Timing


def measure(path: Path, size: int, repeat: int) -> Row:
    before = path.read_bytes()
    counts = fix_once(path)
    lint = best_of(repeat, lambda: lint_once(path))
    fix = best_of(repeat, lambda: fix_once(path))
    if path.read_bytes() != before:  # plan_fix must never write
        raise SystemExit(f"{path} changed during the benchmark")
    return Row(size, line_count(path), counts, lint, fix)


def report(rows: list[Row], clock: str) -> str:
    header = [
        "jobs",
        "lines",
        "places fixed",
        "left",
        "lint (in-process)",
        "fix plan (lint + edits + verification)",
        "fix / lint",
    ]
    table = [
        [
            f"{r.size:,}",
            f"{r.lines:,}",
            str(r.counts.fixed),
            str(r.counts.remaining),
            fmt_seconds(r.lint.get(clock)),
            fmt_seconds(r.fix.get(clock)),
            fmt_ratio(ratio(r.fix.get(clock), r.lint.get(clock))),
        ]
        for r in rows
    ]
    out = [
        f"ciswitch fix benchmark ({clock} time, best of the runs; {environment_line()})",
        "GC: process default; analyse_workspace and every compose pause the collector.",
        "",
        markdown_table(header, table),
        "",
        "Ratios against the targets:",
    ]
    for r in rows:
        value = ratio(r.fix.get(clock), r.lint.get(clock))
        out.append(
            f"  ratio fix / lint on {r.size:,} jobs: {fmt_ratio(value)} "
            f"(target <= {TARGET_FIX_VS_LINT}x): {verdict(value, TARGET_FIX_VS_LINT)}"
        )
    problems = [r for r in rows if r.counts.problems]
    for r in problems:
        out.append(f"  warning: {r.counts.problems} problem(s) reported on {r.size:,} jobs")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default=list(DEFAULT_SIZES))
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best kept)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--workdir", type=Path, help="keep the generated files here")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        inputs = write_inputs(args.workdir or Path(tmp), args.sizes)
        rows = []
        for size, path in inputs.items():
            started = time.perf_counter()
            rows.append(measure(path, size, args.repeat))
            print(
                f"measured {size:,} jobs in {time.perf_counter() - started:.1f} s", file=sys.stderr
            )
    print(report(rows, args.clock))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
