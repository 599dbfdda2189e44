"""How ``ciswitch lint`` grows with its input, in one run: every figure against its target.

* 50,000 jobs / 10,000 jobs (the generator with werf or ``:local`` in every job): lint time
  (in-process, CPU, the two sizes interleaved) and peak memory (tracemalloc peak, each in a
  fresh interpreter); the target is at most 5.5x for five times the jobs. The bare C compose
  of the same two files is timed in the same rounds and printed beside it, for reference: it
  shows what the machine's caches and allocator alone make of five times the input;
* the suspects of super-linear growth, each at doubling sizes so the slope shows, with the
  slope time(2n) / time(n) printed (2.0x is linear):
  - local include count: a ``.gitlab-ci.yml`` including N local files of one job each;
  - "glued" assignment lines: one werf job whose block script has N lines alternating
    ``A=1 B=2`` and a command.

By default it installs ciswitch non-editable first and runs there (see ``lint_bench.py``).

Usage: ``python bench/scaling_bench.py [--small 10000 --big 50000] [--repeat 1]``
``--quick`` is a small, fast run (for the smoke test: it checks that the script runs).
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import tempfile
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from benchlib import (
    Figure,
    add_install_options,
    compose_once,
    environment_line,
    fmt_mib,
    fmt_ratio,
    fmt_seconds,
    install_line,
    interleaved,
    line_count,
    lint_entry,
    memory_in_subprocess,
    ratio,
    reexec_installed,
    summary,
    write_inputs,
)

TARGET_GROWTH = 5.5
LINEAR_GUIDE = 2.2  # a slope above this per doubling is flagged as super-linear
INCLUDES = (1000, 2000, 4000)
GLUED = (5000, 10000, 20000, 40000)


def write_includes(workdir: Path, count: int) -> Path:
    """A repository whose CI file includes ``count`` local files, one werf job each."""
    root = workdir / f"includes-{count}"
    parts = root / "ci"
    parts.mkdir(parents=True, exist_ok=True)
    entry = ["stages: [build]", "include:"]
    for k in range(count):
        entry.append(f"  - local: ci/part{k}.yml")
        (parts / f"part{k}.yml").write_text(
            f"build:part{k}:\n  stage: build\n  script:\n"
            f"    - werf build --stages-storage :local --dir images/part{k}\n",
            encoding="utf-8",
        )
    path = root / ".gitlab-ci.yml"
    path.write_text("\n".join(entry) + "\n", encoding="utf-8")
    return path


def write_glued(workdir: Path, lines: int) -> Path:
    """One werf job whose block script alternates glued assignment lines and commands."""
    root = workdir / f"glued-{lines}"
    root.mkdir(parents=True, exist_ok=True)
    out = ["build:", "  stage: build", "  script:", "    - |"]
    for k in range(lines // 2):
        out.append(f"      A{k}=1 B{k}=2")
        out.append(f"      echo step{k}")
    out.append("      werf build --stages-storage :local")
    path = root / ".gitlab-ci.yml"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def series(
    label: str,
    sizes: Sequence[int],
    make: Callable[[int], Path],
    repeat: int,
    lint: Callable[[Path], int],
) -> list[str]:
    """Lint times at each size (interleaved across sizes) and the slope per doubling."""
    paths = {size: make(size) for size in sizes}
    runs = {str(size): partial(lint, path) for size, path in paths.items()}
    got = interleaved(repeat, runs)
    times = [got[str(size)].best() for size in sizes]
    lines = [
        f"{label}: "
        + ", ".join(f"{size:,}: {fmt_seconds(t)}" for size, t in zip(sizes, times, strict=True))
    ]
    for (n, tn), (m, tm) in itertools.pairwise(zip(sizes, times, strict=True)):
        slope = ratio(tm, tn)
        per_doubling = None if slope is None else slope ** (1 / math.log2(m / n))
        flag = (
            "n/a"
            if per_doubling is None
            else ("linear" if per_doubling <= LINEAR_GUIDE else "SUPER-LINEAR")
        )
        lines.append(
            f"SLOPE {label} {n:,} -> {m:,}: time ratio {fmt_ratio(slope)}, "
            f"per doubling {fmt_ratio(per_doubling)} (linear is 2.00x; flagged above "
            f"{LINEAR_GUIDE}x): {flag}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10000, help="jobs of the smaller file")
    parser.add_argument("--big", type=int, default=50000, help="jobs of the bigger file")
    parser.add_argument("--repeat", type=int, default=1, help="interleaved rounds")
    parser.add_argument("--includes", default=",".join(map(str, INCLUDES)))
    parser.add_argument("--glued", default=",".join(map(str, GLUED)))
    parser.add_argument("--workdir", type=Path, help="keep the generated files here")
    parser.add_argument("--quick", action="store_true", help="small sizes, one round")
    add_install_options(parser)
    args = parser.parse_args(raw)
    if args.quick:
        args.small, args.big, args.repeat = 100, 500, 1
        args.includes, args.glued = "25,50,100", "250,500,1000"
    includes = [int(x) for x in args.includes.split(",")]
    glued = [int(x) for x in args.glued.split(",")]
    if min([args.small, args.big, args.repeat, *includes, *glued]) < 1:
        parser.error("sizes and --repeat must be positive")
    reexec_installed(args, raw)

    lint = lint_entry()
    print(f"ciswitch scaling benchmark (CPU time, in-process lint; {environment_line()})")
    print(install_line())
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        files = write_inputs(workdir, [args.small, args.big], werf_every_job=True)
        small, big = files[args.small], files[args.big]
        got = interleaved(
            args.repeat,
            {
                "small": lambda: lint(small),
                "big": lambda: lint(big),
                "compose small": partial(compose_once, small),
                "compose big": partial(compose_once, big),
            },
        )
        mem_small = memory_in_subprocess("lint", small)
        mem_big = memory_in_subprocess("lint", big)
        t_small, t_big = got["small"].best(), got["big"].best()
        c_small, c_big = got["compose small"].best(), got["compose big"].best()
        print(
            f"\nwerf in every job: {args.small:,} jobs {fmt_seconds(t_small)}, "
            f"peak {fmt_mib(mem_small['traced_peak'])}; {args.big:,} jobs "
            f"{fmt_seconds(t_big)}, peak {fmt_mib(mem_big['traced_peak'])} "
            f"(best of {args.repeat}; peak RSS growth {fmt_mib(mem_small['rss_growth'])}"
            f" / {fmt_mib(mem_big['rss_growth'])})",
            flush=True,
        )
        # The peer's growth on the same two files in the same rounds: what the machine's
        # caches and allocator make of five times the input, for reading the lint's figure.
        lines = ratio(line_count(big), line_count(small))
        print(
            f"for reference, the bare C compose of the same files in the same rounds: "
            f"{fmt_seconds(c_small)} and {fmt_seconds(c_big)}, {fmt_ratio(ratio(c_big, c_small))}"
            f" (the big file has {fmt_ratio(lines)} the lines)",
            flush=True,
        )
        print(
            "\n".join(
                [
                    "",
                    *series(
                        "local includes",
                        includes,
                        lambda n: write_includes(workdir, n),
                        args.repeat,
                        lint,
                    ),
                ]
            ),
            flush=True,
        )
        print(
            "\n".join(
                [
                    "",
                    *series(
                        "glued assignment lines",
                        glued,
                        lambda n: write_glued(workdir, n),
                        args.repeat,
                        lint,
                    ),
                ]
            ),
            flush=True,
        )
    growth = f"{args.big:,} / {args.small:,} jobs, werf in every job"
    figures = [
        Figure(f"lint time {growth}", ratio(t_big, t_small), TARGET_GROWTH, "best CPU"),
        Figure(
            f"lint peak memory {growth}",
            ratio(mem_big["traced_peak"], mem_small["traced_peak"]),
            TARGET_GROWTH,
            "tracemalloc peak",
        ),
    ]
    print(summary("scaling_bench", figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
