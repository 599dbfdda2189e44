"""Shared parts of the benchmark scripts: inputs, timers, peers, and the printed table.

Times are the best of N runs: the minimum is the run least disturbed by the rest of the
machine, which is what a ratio between two programs measured in the same run should compare.
Both wall-clock and CPU time are taken; on a busy machine CPU time is the steadier of the two.
"""

from __future__ import annotations

import gc
import importlib.util
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from generate import generate, generate_lines

DEFAULT_SIZES = (100, 1000, 10000)


@dataclass(frozen=True)
class Timing:
    """The best wall-clock and the best CPU time of several runs, in seconds."""

    wall: float
    cpu: float

    def get(self, clock: str) -> float:
        return self.cpu if clock == "cpu" else self.wall


def best_of(repeat: int, run: Callable[[], object]) -> Timing:
    """Time ``run`` in this process ``repeat`` times; a full collection first, so that one
    run's garbage is not collected on the next run's clock."""
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(repeat):
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return Timing(min(walls), min(cpus))


def process_env(workdir: Path) -> dict[str, str]:
    """The environment of the timed processes: bytecode caching on, in a directory of our own.

    An installed package has its ``.pyc`` files; a checkout run with ``PYTHONDONTWRITEBYTECODE``
    would compile every module on every start (30 ms for ciswitch here), which is not what users
    see. The cache lives under ``workdir`` so the checkout stays untouched; the untimed warm-up
    run of each command fills it, for ciswitch and its peers alike."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    return env


def best_of_process(repeat: int, argv: Sequence[str], env: dict[str, str] | None = None) -> Timing:
    """Time a whole process (start-up, imports, output included) ``repeat`` times, after one
    untimed warm-up run."""
    walls: list[float] = []
    cpus: list[float] = []
    for index in range(repeat + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter()
        subprocess.run(
            list(argv), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
        )
        elapsed = time.perf_counter() - wall
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if index == 0:
            continue
        walls.append(elapsed)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return Timing(min(walls), min(cpus))


def tool(name: str) -> list[str] | None:
    """The command of a console script: next to this interpreter first, then on PATH."""
    local = Path(sys.executable).parent / name
    if local.is_file() and os.access(local, os.X_OK):
        return [str(local)]
    found = shutil.which(name)
    return [found] if found else None


def ciswitch_command() -> list[str]:
    return tool("ciswitch") or [sys.executable, "-m", "ciswitch"]


def write_inputs(workdir: Path, sizes: Sequence[int]) -> dict[int, Path]:
    """One generated CI file per size, in its own directory (its own repository root)."""
    paths: dict[int, Path] = {}
    for size in sizes:
        folder = workdir / f"jobs-{size}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / ".gitlab-ci.yml"
        path.write_text(generate(size), encoding="utf-8")
        paths[size] = path
    return paths


def write_small_input(workdir: Path, lines: int, *, werf: bool = True) -> Path:
    folder = workdir / f"lines-{lines}-{'werf' if werf else 'plain'}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".gitlab-ci.yml"
    path.write_text(generate_lines(lines, werf=werf), encoding="utf-8")
    return path


def line_count(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def parse_sizes(value: str) -> list[int]:
    sizes = [int(part) for part in value.replace(",", " ").split()]
    if not sizes or any(size < 1 for size in sizes):
        raise ValueError(f"bad --sizes {value!r}: positive job counts, comma-separated")
    return sizes


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.2f} s"


def fmt_mib(value: float | None) -> str:
    return "n/a" if value is None else f"{value / 2**20:.1f} MiB"


def fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def ratio(top: float | None, bottom: float | None) -> float | None:
    if top is None or bottom is None or bottom <= 0:
        return None
    return top / bottom


def verdict(value: float | None, target: float) -> str:
    if value is None:
        return "not measured"
    return "meets target" if value <= target else "MISSES target"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table (pasteable into the README), columns padded for the terminal."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def environment_line() -> str:
    """What the figures were measured with (interpreter, collector, CPUs)."""
    from ruamel.yaml import __version__ as ruamel_version

    has_clib = importlib.util.find_spec("_ruamel_yaml") is not None
    clib = "with ruamel.yaml.clib" if has_clib else "WITHOUT ruamel.yaml.clib"
    threshold = "/".join(str(t) for t in gc.get_threshold())
    return (
        f"Python {sys.version.split()[0]}, ruamel.yaml {ruamel_version} {clib}, "
        f"{os.cpu_count()} CPUs, gc thresholds {threshold}"
    )
