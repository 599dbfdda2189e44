"""``ciswitch lint`` against its peers on the same generated files, measured in one run.

For each size (visible jobs in the generated file):

* ciswitch lint in-process (``ciswitch.lint.analyse_workspace``, module caches cleared first so
  every run is as cold as a fresh process) and as a whole process (``ciswitch lint FILE``);
* ``yamllint -d relaxed FILE`` as a whole process (the peer users already run in pre-commit);
* a bare C compose of the same text (``ruamel.yaml``'s ``YAML(typ="safe").compose`` with the
  garbage collector paused): the floor for anything that needs node positions;
* peak memory of the in-process lint against the bare compose, each in a fresh subprocess
  (tracemalloc peak of the Python heap, and the growth of the peak RSS).

Then whole-process ``ciswitch lint`` against ``yamllint`` on a ~200-line file, where start-up
is everything. Prints a Markdown table and the ratios against the targets.

GC setting: the compose is timed with the collector paused; ``analyse_workspace`` pauses it
itself for its whole run, so the two ratios compare the same setting. The processes run with
the interpreter's default (the collector on).

Usage: ``python bench/lint_bench.py [--sizes 100,1000,10000] [--repeat 3] [--clock wall|cpu]``
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchlib import (
    DEFAULT_SIZES,
    Timing,
    best_of,
    best_of_process,
    ciswitch_command,
    environment_line,
    fmt_mib,
    fmt_ratio,
    fmt_seconds,
    line_count,
    markdown_table,
    parse_sizes,
    process_env,
    ratio,
    tool,
    verdict,
    write_inputs,
    write_small_input,
)

TARGET_VS_YAMLLINT = 0.2
TARGET_VS_COMPOSE = 2.0
TARGET_MEMORY = 2.0
TARGET_SMALL = 1.0
SMALL_LINES = 200


def clear_caches() -> None:
    """Empty every ``functools`` cache of ciswitch's modules (a fresh process has none)."""
    for name, module in list(sys.modules.items()):
        if not name.startswith("ciswitch"):
            continue
        for value in list(vars(module).values()):
            clear = getattr(value, "cache_clear", None)
            if callable(clear):
                clear()


def lint_once(path: Path) -> int:
    """One in-process lint of ``path`` (its directory is the repository root)."""
    from ciswitch.config import load_config
    from ciswitch.lint import analyse_workspace
    from ciswitch.workspace import DirectoryWorkspace

    clear_caches()
    ws = DirectoryWorkspace(path.parent)
    analysis = analyse_workspace(ws, load_config(ws, None), entry=path.name)
    if analysis.result.problems:  # a benchmark of the error path would measure nothing useful
        first = analysis.result.problems[0]
        raise SystemExit(f"{path}: lint reported a problem: {first.message}")
    return len(analysis.result.findings)


def compose_once(path: Path) -> Any:
    """The bare C compose of the file's text, collector paused."""
    from ruamel.yaml import YAML

    text = path.read_text(encoding="utf-8")
    enabled = gc.isenabled()
    gc.disable()
    try:
        return YAML(typ="safe", pure=False).compose(text)
    finally:
        if enabled:
            gc.enable()


def _status_kib(field: str) -> int | None:
    """A ``VmRSS``/``VmHWM`` figure of this process from ``/proc`` (Linux), in KiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset this process's RSS high-water mark (Linux), so that VmHWM then measures the run
    alone. ``ru_maxrss`` cannot be used: it keeps the parent's peak across fork and exec."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return _status_kib("VmHWM") is not None


def measure_memory(what: str, path: Path) -> dict[str, float]:
    """Peak memory of one lint or compose of ``path`` in this (fresh) process, after a warm-up
    on a tiny file so that imports and first-use set-up are not counted: the tracemalloc peak
    (Python heap) and the growth of the resident set (everything, C buffers included)."""
    from generate import generate

    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / ".gitlab-ci.yml"
        warm.write_text(generate(3), encoding="utf-8")
        run = lint_once if what == "lint" else compose_once
        run(warm)
    gc.collect()
    precise = _reset_peak_rss()
    rss_before = _status_kib("VmRSS") if precise else None
    max_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    result = run(path)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    if precise and rss_before is not None:
        growth = (_status_kib("VmHWM") or 0) - rss_before
    else:
        growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - max_before
    del result
    return {"traced_peak": float(traced_peak), "rss_growth": float(growth) * 1024}


def memory_in_subprocess(what: str, path: Path) -> dict[str, float]:
    argv = [sys.executable, str(Path(__file__).resolve()), "--measure-memory", what, str(path)]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    data: dict[str, float] = json.loads(done.stdout)
    return data


@dataclass
class Row:
    size: int
    lines: int
    findings: int
    lint: Timing
    lint_process: Timing
    yamllint: Timing | None
    compose: Timing
    lint_memory: dict[str, float]
    compose_memory: dict[str, float]


@dataclass
class SmallRow:
    label: str
    lines: int
    lint_process: Timing
    yamllint: Timing | None


def measure(
    path: Path, size: int, repeat: int, yamllint: list[str] | None, env: dict[str, str]
) -> Row:
    findings = lint_once(path)
    lint = best_of(repeat, lambda: lint_once(path))
    compose = best_of(repeat, lambda: compose_once(path))
    lint_process = best_of_process(repeat, [*ciswitch_command(), "lint", str(path)], env)
    peer = None
    if yamllint is not None:
        peer = best_of_process(repeat, [*yamllint, "-d", "relaxed", str(path)], env)
    return Row(
        size,
        line_count(path),
        findings,
        lint,
        lint_process,
        peer,
        compose,
        memory_in_subprocess("lint", path),
        memory_in_subprocess("compose", path),
    )


def measure_small(
    label: str, path: Path, repeat: int, yamllint: list[str] | None, env: dict[str, str]
) -> SmallRow:
    lint = best_of_process(repeat, [*ciswitch_command(), "lint", str(path)], env)
    peer = None
    if yamllint is not None:
        peer = best_of_process(repeat, [*yamllint, "-d", "relaxed", str(path)], env)
    return SmallRow(label, line_count(path), lint, peer)


def _per(top: Timing | None, bottom: Timing | None, clock: str) -> float | None:
    if top is None or bottom is None:
        return None
    return ratio(top.get(clock), bottom.get(clock))


def report(rows: list[Row], small: list[SmallRow], clock: str) -> str:
    """The tables and the ratios against the targets."""

    def t(timing: Timing | None) -> str:
        return fmt_seconds(None if timing is None else timing.get(clock))

    header = [
        "jobs",
        "lines",
        "findings",
        "lint (in-process)",
        "lint (process)",
        "yamllint -d relaxed",
        "C compose (GC paused)",
        "lint peak mem",
        "compose peak mem",
    ]
    table = [
        [
            f"{r.size:,}",
            f"{r.lines:,}",
            str(r.findings),
            t(r.lint),
            t(r.lint_process),
            t(r.yamllint),
            t(r.compose),
            fmt_mib(r.lint_memory["traced_peak"]),
            fmt_mib(r.compose_memory["traced_peak"]),
        ]
        for r in rows
    ]
    ratio_header = [
        "jobs",
        "lint process / yamllint",
        "lint / C compose",
        "peak mem lint / compose (traced)",
        "peak RSS growth lint / compose",
    ]
    ratio_rows = [
        [
            f"{r.size:,}",
            fmt_ratio(_per(r.lint_process, r.yamllint, clock)),
            fmt_ratio(_per(r.lint, r.compose, clock)),
            fmt_ratio(ratio(r.lint_memory["traced_peak"], r.compose_memory["traced_peak"])),
            fmt_ratio(ratio(r.lint_memory["rss_growth"], r.compose_memory["rss_growth"])),
        ]
        for r in rows
    ]
    small_rows = [
        [
            f"{s.lines} lines, {s.label}",
            t(s.lint_process),
            t(s.yamllint),
            fmt_ratio(_per(s.lint_process, s.yamllint, clock)),
        ]
        for s in small
    ]
    out = [
        f"ciswitch lint benchmark ({clock} time, best of the runs; {environment_line()})",
        "GC: the C compose is timed with the collector paused; analyse_workspace pauses it for"
        " its whole run (same setting); whole processes run with the default (collector on)"
        " and a warm bytecode cache.",
        "",
        markdown_table(header, table),
        "",
        markdown_table(ratio_header, ratio_rows),
        "",
        markdown_table(
            ["small file", "ciswitch lint (process)", "yamllint (process)", "ratio"], small_rows
        ),
        "",
    ]
    checks: list[tuple[str, float | None, float]] = []
    if rows:
        big = max(rows, key=lambda r: r.size)
        on = f"on {big.size:,} jobs"
        checks += [
            (
                f"lint process / yamllint {on}",
                _per(big.lint_process, big.yamllint, clock),
                TARGET_VS_YAMLLINT,
            ),
            (f"lint / C compose {on}", _per(big.lint, big.compose, clock), TARGET_VS_COMPOSE),
            (
                f"peak memory lint / compose {on}",
                ratio(big.lint_memory["traced_peak"], big.compose_memory["traced_peak"]),
                TARGET_MEMORY,
            ),
        ]
    for s in small:
        checks.append(
            (
                f"small file ({s.lines} lines, {s.label}): lint process / yamllint process",
                _per(s.lint_process, s.yamllint, clock),
                TARGET_SMALL,
            )
        )
    out.append("Ratios against the targets:")
    for label, value, target in checks:
        out.append(
            f"  ratio {label}: {fmt_ratio(value)} (target <= {target}x): {verdict(value, target)}"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default=list(DEFAULT_SIZES))
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best kept)")
    parser.add_argument("--small-repeat", type=int, default=10, help="runs per small-file process")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--small-lines", type=int, default=SMALL_LINES)
    parser.add_argument("--workdir", type=Path, help="keep the generated files here")
    parser.add_argument(
        "--measure-memory", nargs=2, metavar=("WHAT", "FILE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.measure_memory:
        what, file = args.measure_memory
        print(json.dumps(measure_memory(what, Path(file))))
        return 0
    if args.repeat < 1 or args.small_repeat < 1:
        parser.error("--repeat and --small-repeat must be at least 1")
    yamllint = tool("yamllint")
    if yamllint is None:
        print("yamllint not found: its columns are n/a", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        env = process_env(workdir)
        rows = []
        for size, path in write_inputs(workdir, args.sizes).items():
            started = time.perf_counter()
            rows.append(measure(path, size, args.repeat, yamllint, env))
            print(
                f"measured {size:,} jobs in {time.perf_counter() - started:.1f} s", file=sys.stderr
            )
        small = [
            measure_small(
                label,
                write_small_input(workdir, args.small_lines, werf=werf),
                args.small_repeat,
                yamllint,
                env,
            )
            for label, werf in (("werf jobs", True), ("no werf", False))
        ]
    print(report(rows, small, args.clock))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
