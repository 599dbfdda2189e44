"""``ciswitch lint`` against its peers on the same generated files, every figure in one run.

Figures (each a ratio printed against its target; CPU time throughout):

* start-up: whole-process ``ciswitch lint`` of a ~200-line werf file / the ``yamllint`` CLI;
* lint of the N-job file / the bare C compose of it (``ruamel.yaml`` safe C loader, collector
  paused), timed interleaved in this process (lint, compose, lint, compose...), best of N;
* whole-process ``ciswitch lint`` / ``yamllint -d relaxed`` on the N-job file, for the bench
  generator and for the variant with werf or ``:local`` in every job;
* peak memory of the in-process lint / the compose (tracemalloc peak, each in a fresh
  interpreter), for both generators.

Beside the figures, where each big file's in-process lint spends its time, part by part
(composing, the model, the rest of loading, the replay, the rules, suppression comments, the
rest), and what the lint / C compose target leaves after loading for the parts after it.

Whole processes are timed interleaved too (ciswitch, yamllint, ciswitch...), CPU time of the
child. By default the script first installs ciswitch from this checkout into a virtual
environment as pre-commit would (a wheel, not editable, bytecode compiled; yamllint and the
dependencies pinned to the running environment's versions), reuses it while the package
sources are unchanged, and runs itself again there.

Usage: ``python bench/lint_bench.py [--jobs 10000] [--repeat 5] [--install-into DIR]``
``--quick`` is a small, fast run (for the smoke test: it checks that the script runs);
``--startup-only`` measures the start-up figure alone (with the spread of its pair ratios).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

from benchlib import (
    GENERATORS,
    LINT_PHASES,
    Figure,
    add_install_options,
    ciswitch_command,
    compose_once,
    environment_line,
    fmt_mib,
    fmt_seconds,
    install_line,
    installed_env,
    interleaved,
    interleaved_processes,
    line_count,
    lint_entry,
    lint_phases,
    memory_in_subprocess,
    pair_spread,
    ratio,
    reexec_installed,
    summary,
    tool,
    write_inputs,
    write_small_input,
)

TARGET_STARTUP = 0.6
TARGET_VS_COMPOSE = 1.5
TARGET_VS_YAMLLINT = 0.12
TARGET_MEMORY = 2.0
SMALL_LINES = 200


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10000, help="jobs of the big file")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds (big file)")
    parser.add_argument("--small-repeat", type=int, default=20, help="rounds (small file)")
    parser.add_argument("--small-lines", type=int, default=SMALL_LINES)
    parser.add_argument("--workdir", type=Path, help="keep the generated files here")
    parser.add_argument("--quick", action="store_true", help="small sizes, few rounds")
    parser.add_argument(
        "--startup-only", action="store_true", help="only the start-up figure (small file)"
    )
    add_install_options(parser)
    args = parser.parse_args(raw)
    if args.quick:
        args.jobs, args.repeat, args.small_repeat = 100, 1, 2
    if args.repeat < 1 or args.small_repeat < 1 or args.jobs < 1:
        parser.error("--jobs, --repeat and --small-repeat must be at least 1")
    reexec_installed(args, raw)

    yamllint = tool("yamllint")
    if yamllint is None:
        print("yamllint not found: its figures are not measured", file=sys.stderr)
    ciswitch = ciswitch_command()
    env = installed_env()
    lint = lint_entry()
    print(f"ciswitch lint benchmark (CPU time; {environment_line()})")
    print(f"{install_line()}; ciswitch command {' '.join(ciswitch)}; yamllint {yamllint}")
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)

        # 1. start-up: a small werf file, whole processes
        small = write_small_input(workdir, args.small_lines, werf=True)
        commands = {"ciswitch": [*ciswitch, "lint", "--exit-zero", str(small)]}
        if yamllint:
            commands["yamllint"] = [*yamllint, "-d", "relaxed", str(small)]
        got = interleaved_processes(args.small_repeat, commands, env)
        peer = got["yamllint"].median() if yamllint else None
        print(
            f"\nsmall file ({line_count(small)} lines, werf jobs), median of "
            f"{args.small_repeat}: ciswitch lint {fmt_seconds(got['ciswitch'].median())}, "
            f"yamllint {fmt_seconds(peer)}"
        )
        figures.append(
            Figure(
                f"whole-process ciswitch lint / yamllint CLI, {line_count(small)}-line werf file",
                ratio(got["ciswitch"].median(), peer),
                TARGET_STARTUP,
                "median CPU, interleaved",
            )
        )
        if yamllint:
            print(pair_spread(got["ciswitch"], got["yamllint"]))
        if args.startup_only:
            print(summary("lint_bench", figures))
            return 0

        # 2. the big files, both generators
        inputs = {
            label: write_inputs(workdir, [args.jobs], werf_every_job=every)[args.jobs]
            for label, every in GENERATORS.items()
        }
        print(
            f"\n{args.jobs:,} jobs | lines | findings | lint (in-process) | C compose | "
            "lint process | yamllint process | lint peak | compose peak"
        )
        rows: dict[str, dict[str, float | None]] = {}
        for label, path in inputs.items():
            findings = lint(path)
            here = interleaved(
                args.repeat,
                {"lint": partial(lint, path), "compose": partial(compose_once, path)},
            )
            commands = {"ciswitch": [*ciswitch, "lint", "--exit-zero", str(path)]}
            if yamllint:
                commands["yamllint"] = [*yamllint, "-d", "relaxed", str(path)]
            procs = interleaved_processes(args.repeat, commands, env)
            lint_mem = memory_in_subprocess("lint", path)["traced_peak"]
            compose_mem = memory_in_subprocess("compose", path)["traced_peak"]
            yl = procs["yamllint"].best() if yamllint else None
            rows[label] = {
                "lint": here["lint"].best(),
                "compose": here["compose"].best(),
                "lint_median": here["lint"].median(),
                "compose_median": here["compose"].median(),
                "process": procs["ciswitch"].best(),
                "yamllint": yl,
                "lint_mem": lint_mem,
                "compose_mem": compose_mem,
            }
            print(
                f"{label} | {line_count(path):,} | {findings} | "
                f"{fmt_seconds(here['lint'].best())} | {fmt_seconds(here['compose'].best())} | "
                f"{fmt_seconds(procs['ciswitch'].best())} | {fmt_seconds(yl)} | "
                f"{fmt_mib(lint_mem)} | {fmt_mib(compose_mem)}",
                flush=True,
            )
        print(
            f"(best of {args.repeat} interleaved rounds; in-process medians: "
            + ", ".join(
                f"{label}: lint {fmt_seconds(r['lint_median'])} / compose "
                f"{fmt_seconds(r['compose_median'])}"
                for label, r in rows.items()
            )
            + ")"
        )
        print_phases(lint, inputs, rows, args.repeat)
        for label, r in rows.items():
            figures.append(
                Figure(
                    f"lint / bare C compose, {args.jobs:,} jobs, {label} (interleaved, in-process)",
                    ratio(r["lint"], r["compose"]),
                    TARGET_VS_COMPOSE,
                    "best CPU",
                )
            )
        for label, r in rows.items():
            figures.append(
                Figure(
                    f"whole-process lint / yamllint, {args.jobs:,} jobs, {label}",
                    ratio(r["process"], r["yamllint"]),
                    TARGET_VS_YAMLLINT,
                    "best CPU",
                )
            )
        for label, r in rows.items():
            figures.append(
                Figure(
                    f"peak memory lint / compose, {args.jobs:,} jobs, {label}",
                    ratio(r["lint_mem"], r["compose_mem"]),
                    TARGET_MEMORY,
                    "tracemalloc peak",
                )
            )
    print(summary("lint_bench", figures))
    return 0


def print_phases(
    lint: Callable[[Path], int],
    inputs: dict[str, Path],
    rows: dict[str, dict[str, float | None]],
    repeat: int,
) -> None:
    """Where each big file's in-process lint spends its time, part by part, and what the
    lint / C compose target leaves for the parts after loading (which is already about one
    bare compose): the budget of the parts the target asks to shrink, as a number."""
    runs = f"the fastest of {repeat} lints" if repeat > 1 else "one lint"
    print(f"\nwhere the in-process lint's time goes (CPU, {runs} of each file, timed by part):")
    composing, model, loading, replay, rules, review = (part for _, _, part in LINT_PHASES)
    for label, path in inputs.items():
        parts = lint_phases(lint, path, repeat)
        compose = rows[label]["compose"]
        loaded = parts[loading]
        after = parts["lint"] - loaded
        shown = [
            (composing, parts[composing]),
            (model, parts[model]),
            ("the rest of loading (reading, includes, merging)",
             loaded - parts[composing] - parts[model]),
            (replay, parts[replay]),
            (rules, parts[rules]),
            (review, parts[review]),
            ("the rest (the configuration, the results; the analysis freed as it returns)",
             after - parts[replay] - parts[rules] - parts[review]),
        ]
        print(f"{label}: lint {fmt_seconds(parts['lint'])}")
        for name, seconds in shown:
            print(f"  {name}: {fmt_seconds(seconds)} ({seconds / parts['lint']:.0%})")
        if compose:
            budget = TARGET_VS_COMPOSE * compose
            print(
                f"  the target, {TARGET_VS_COMPOSE}x the bare C compose "
                f"({fmt_seconds(compose)}), is {fmt_seconds(budget)}: after loading "
                f"({fmt_seconds(loaded)}) it leaves {fmt_seconds(max(budget - loaded, 0.0))} "
                f"for what takes {fmt_seconds(after)} now"
            )


if __name__ == "__main__":
    raise SystemExit(main())
