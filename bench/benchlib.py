"""Shared parts of the benchmark scripts: inputs, timers, peers, and the printed table.

Times are the best of N runs: the minimum is the run least disturbed by the rest of the
machine, which is what a ratio between two programs measured in the same run should compare.
Both wall-clock and CPU time are taken; on a busy machine CPU time is the steadier of the two.
"""

from __future__ import annotations

import gc
import hashlib
import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def write_inputs(
    workdir: Path, sizes: Sequence[int], *, werf_every_job: bool = False
) -> dict[int, Path]:
    """One generated CI file per size, in its own directory (its own repository root)."""
    paths: dict[int, Path] = {}
    for size in sizes:
        folder = workdir / f"jobs-{size}{'-werf-every-job' if werf_every_job else ''}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / ".gitlab-ci.yml"
        path.write_text(generate(size, werf_every_job=werf_every_job), encoding="utf-8")
        paths[size] = path
    return paths


#: the two generators the figures are measured on
GENERATORS = {"bench generator": False, "werf in every job": True}


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


REPO = Path(__file__).resolve().parent.parent


# --- the in-process lint entry point ------------------------------------------------------


def lint_entry() -> Callable[[Path], int]:
    """The in-process lint of one file: ``lint(path) -> findings``, its directory being the
    repository root.

    This is the one place that knows where ciswitch's lint entry point lives (today
    ``ciswitch.lint.analyse_workspace`` with ``ciswitch.config.load_config`` and
    ``ciswitch.workspace.DirectoryWorkspace``). If it moves, update it here."""
    try:
        from ciswitch.config import load_config
        from ciswitch.lint import analyse_workspace
        from ciswitch.workspace import DirectoryWorkspace
    except ImportError as error:
        raise SystemExit(
            "bench: cannot find ciswitch's in-process lint entry point "
            f"(ciswitch.lint.analyse_workspace and friends): {error}; "
            "update benchlib.lint_entry to its new place"
        ) from error

    def lint(path: Path) -> int:
        clear_caches()
        ws = DirectoryWorkspace(path.parent)
        analysis = analyse_workspace(ws, load_config(ws, None), entry=path.name)
        problems = analysis.result.problems
        if problems:  # a benchmark of the error path would measure nothing useful
            raise SystemExit(f"{path}: lint reported a problem: {problems[0].message}")
        return len(analysis.result.findings)

    return lint


#: the parts of an in-process lint :func:`lint_phases` times: (module, function, label). Each
#: runs once per lint of a one-file pipeline, so a timer around it costs nothing measurable.
#: Loading holds composing and the model; the three are printed apart.
LINT_PHASES = (
    ("ciswitch.source", "compose_documents", "compose (C compose, compaction, checks)"),
    ("ciswitch.gitlab", "_build", "model (jobs, variables, script lines)"),
    ("ciswitch.lint", "load_pipeline", "loading"),
    ("ciswitch.lint", "collect_facts", "replay (facts)"),
    ("ciswitch.lint", "run_rules", "rules"),
    ("ciswitch.lint", "_reviewed", "suppression comments"),
)


def lint_phases(lint: Callable[[Path], int], path: Path, repeat: int) -> dict[str, float]:
    """CPU time of each part of ``lint(path)`` (:data:`LINT_PHASES`; 0 for a part it did not
    run) and of the whole lint (``"lint"``), from the fastest of ``repeat`` lints, so that
    the parts add up to the lint they were part of. This is the one place that knows those
    functions' names: a part whose function is gone stops the bench with what to update,
    rather than printing a part that was not measured."""
    spent: dict[str, float] = {}
    best: dict[str, float] = {}
    with _parts_timed(LINT_PHASES, spent, "LINT_PHASES"):
        for _ in range(repeat):
            spent.clear()
            gc.collect()
            start = time.process_time()
            lint(path)
            spent["lint"] = time.process_time() - start
            if not best or spent["lint"] < best["lint"]:
                best = {label: spent.get(label, 0.0) for _, _, label in LINT_PHASES}
                best["lint"] = spent["lint"]
    return best


#: the parts of an in-process ``fix`` :func:`fix_phases` times: (module, function, label)
FIX_PHASES = (
    ("ciswitch.fix", "analyse_workspace", "lint"),
    ("ciswitch.fix", "_analyse", "second lint"),
    ("ciswitch.fix", "verify_meaning", "meaning check"),
    ("ciswitch.source", "compose_documents", "compose"),
    ("ciswitch.fix", "pipeline_view", "pipeline view"),
    ("ciswitch.fix", "pipeline_error", "pipeline check"),
)


def fix_phases(path: Path, repeat: int) -> dict[str, float]:
    """CPU time of the parts of an in-process ``fix --diff`` of ``path`` (its directory the
    repository), from the fastest of ``repeat`` runs: the lint of the old text, the meaning
    check (``"compose"`` is its composing of the new text), the lint of the new text, the
    pipeline checks, the rest of planning (``"rest"``), the diff, and ``"fix"`` for it all.
    Nothing is written. Like :func:`lint_phases`, the one place that knows those names."""
    from ciswitch.config import load_config
    from ciswitch.fix import plan_fix
    from ciswitch.report.diff import unified_diff
    from ciswitch.workspace import DirectoryWorkspace

    spent: dict[str, float] = {}
    best: dict[str, float] = {}
    with _parts_timed(FIX_PHASES, spent, "FIX_PHASES", skip=_not_a_fix_part):
        for _ in range(repeat):
            clear_caches()
            spent.clear()
            gc.collect()
            start = time.process_time()
            ws = DirectoryWorkspace(path.parent)
            outcome = plan_fix(ws, load_config(ws, None), entry=path.name)
            planned = time.process_time()
            for change in outcome.changes:
                unified_diff(change.path, change.old, change.new)
            done = time.process_time()
            if not outcome.changes:
                raise SystemExit(f"{path}: fix planned no change: nothing to time")
            parts = {label: spent.get(label, 0.0) for _, _, label in FIX_PHASES}
            parts["meaning check"] -= parts["compose"]
            parts["pipeline checks"] = parts.pop("pipeline view") + parts.pop("pipeline check")
            parts["rest"] = planned - start - sum(parts.values())
            parts["diff"] = done - planned
            parts["fix"] = done - start
            if not best or parts["fix"] < best["fix"]:
                best = parts
    return best


def _not_a_fix_part(label: str, inside: list[str]) -> bool:
    """A call :func:`fix_phases` does not time: the first lint's function as the second
    lint's inner call, and composing outside the meaning check (the old text, composed by the
    first lint; the meaning check composes the new one)."""
    return (label == "lint" and "second lint" in inside) or (
        label == "compose" and "meaning check" not in inside
    )


@contextmanager
def _parts_timed(
    parts: Sequence[tuple[str, str, str]],
    spent: dict[str, float],
    table: str,
    skip: Callable[[str, list[str]], bool] | None = None,
) -> Iterator[None]:
    """Inside the block, each (module, function, label) of ``parts`` adds the CPU time of its
    calls to ``spent[label]`` (but for a call ``skip(label, labels being timed around it)``
    turns away); the functions are put back after it. A function that is gone stops the
    bench with the table (``table``) to update, rather than printing a part that was not
    measured."""
    import importlib

    #: the labels being timed right now, innermost last
    inside: list[str] = []

    def timed(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            if skip is not None and skip(label, inside):
                return function(*args, **kwargs)
            inside.append(label)
            start = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.process_time() - start
                inside.pop()
        return run

    replaced: list[tuple[Any, str, Any]] = []
    try:
        for module_name, name, label in parts:
            module = importlib.import_module(module_name)
            function = getattr(module, name, None)
            if function is None:
                raise SystemExit(f"bench: {module_name}.{name} is gone: update benchlib.{table}")
            replaced.append((module, name, function))
            setattr(module, name, timed(label, function))
        yield
    finally:
        for module, name, function in reversed(replaced):
            setattr(module, name, function)


def clear_caches() -> None:
    """Empty every ``functools`` cache of ciswitch's modules (a fresh process has none)."""
    for name, module in list(sys.modules.items()):
        if not name.startswith("ciswitch"):
            continue
        for value in list(vars(module).values()):
            clear = getattr(value, "cache_clear", None)
            if callable(clear):
                clear()


def compose_once(path: Path) -> Any:
    """The bare C compose of the file's text (ruamel.yaml safe, C loader), collector paused."""
    from ruamel.yaml import YAML

    text = path.read_text(encoding="utf-8")
    enabled = gc.isenabled()
    gc.disable()
    try:
        return YAML(typ="safe", pure=False).compose(text)
    finally:
        if enabled:
            gc.enable()


# --- interleaved CPU timing -----------------------------------------------------------------


@dataclass
class Samples:
    """CPU times (seconds) of the runs of one measurement."""

    cpu: list[float] = field(default_factory=list)

    def best(self) -> float:
        return min(self.cpu)

    def median(self) -> float:
        ordered = sorted(self.cpu)
        middle = len(ordered) // 2
        if len(ordered) % 2:
            return ordered[middle]
        return (ordered[middle - 1] + ordered[middle]) / 2


def pair_spread(top: Samples, bottom: Samples) -> str:
    """The ratios of the interleaved pairs (run i of ``top`` / run i of ``bottom``): their
    median, range and quartiles, as one line."""
    ratios = sorted(a / b for a, b in zip(top.cpu, bottom.cpu, strict=False) if b > 0)
    if not ratios:
        return "pair ratios: none"

    def at(share: float) -> float:
        return ratios[round(share * (len(ratios) - 1))]

    return (
        f"pair ratios ({len(ratios)} pairs): median {Samples(ratios).median():.2f}x, "
        f"range {ratios[0]:.2f}..{ratios[-1]:.2f}, quartiles {at(0.25):.2f}..{at(0.75):.2f}"
    )


def interleaved(repeat: int, runs: Mapping[str, Callable[[], object]]) -> dict[str, Samples]:
    """Run every callable once untimed, then ``repeat`` rounds of each in turn (a, b, a, b...),
    so a slow spell of the machine falls on both sides alike. CPU time of this process."""
    for run in runs.values():
        run()
    samples = {name: Samples() for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            gc.collect()
            start = time.process_time()
            run()
            samples[name].cpu.append(time.process_time() - start)
    return samples


def child_cpu(
    argv: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[float, int]:
    """CPU time (user + system) of one whole process and its exit status."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        list(argv),
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return used, done.returncode


def interleaved_processes(
    repeat: int,
    commands: Mapping[str, Sequence[str]],
    env: dict[str, str] | None = None,
    before_each: Callable[[str], None] | None = None,
) -> dict[str, Samples]:
    """Whole processes timed interleaved (one untimed warm-up each), CPU time of the child.
    ``before_each(name)`` runs untimed before every run (to restore an input a command edits)."""
    samples = {name: Samples() for name in commands}
    for index in range(repeat + 1):
        for name, argv in commands.items():
            if before_each is not None:
                before_each(name)
            used, _ = child_cpu(argv, env)
            if index:
                samples[name].cpu.append(used)
    return samples


# --- peak memory ----------------------------------------------------------------------------


def _status_kib(field_name: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset this process's RSS high-water mark (Linux), so VmHWM then measures one run."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return _status_kib("VmHWM") is not None


def measure_memory_here(what: str, path: Path) -> dict[str, float]:
    """Peak memory of one lint or compose of ``path`` in this (fresh) process, after a warm-up
    on a tiny file so imports and first-use set-up are not counted: the tracemalloc peak
    (Python heap) and the growth of the resident set (C buffers included)."""
    run: Callable[[Path], object] = lint_entry() if what == "lint" else compose_once
    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / ".gitlab-ci.yml"
        warm.write_text(generate(3), encoding="utf-8")
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
    """``measure_memory_here`` in a fresh interpreter (this one's), so runs do not share heaps."""
    code = (
        "import json, sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
        "from benchlib import measure_memory_here;"
        "print(json.dumps(measure_memory_here(sys.argv[2], Path(sys.argv[3]))))"
    )
    here = str(Path(__file__).resolve().parent)
    done = subprocess.run(
        [sys.executable, "-c", code, here, what, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"memory measurement of {what} {path} failed:\n{done.stderr}")
    data: dict[str, float] = json.loads(done.stdout)
    return data


# --- the installed ciswitch (non-editable, bytecode compiled) -------------------------------


def _source_stamp() -> str:
    """A digest of what an install of the checkout contains (package sources and metadata)."""
    digest = hashlib.sha256()
    for path in sorted([REPO / "pyproject.toml", *(REPO / "ciswitch").rglob("*")]):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(REPO)).encode())
            digest.update(path.read_bytes())
    digest.update(sys.version.encode())
    return digest.hexdigest()


def _pins() -> list[str]:
    """ciswitch's dependencies, plus yamllint, at the versions of the current environment."""
    from importlib import metadata

    pins = []
    names = [
        "ruamel.yaml",
        "ruamel.yaml.clib",
        "tree-sitter",
        "tree-sitter-bash",
        "click",
        "gitpython",
        "libcst",
        "rich",
        "yamllint",
    ]
    for name in names:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pins.append(name)
    return pins


def default_venv() -> Path:
    tag = hashlib.sha256(str(REPO).encode()).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / f"ciswitch-bench-venv-{tag}"


def ensure_installed(venv: Path) -> Path:
    """A virtual environment at ``venv`` with ciswitch installed from the checkout as a wheel
    (not editable), bytecode compiled, its dependencies and yamllint pinned to the versions of
    the running environment; reused while the checkout's package sources are unchanged.
    Returns its interpreter."""
    python = venv / "bin" / "python"
    stamp_file = venv / "ciswitch-bench.stamp"
    stamp = _source_stamp()
    if python.exists() and stamp_file.is_file() and stamp_file.read_text() == stamp:
        return python
    print(f"installing ciswitch (non-editable) into {venv} ...", file=sys.stderr, flush=True)
    if venv.exists():
        shutil.rmtree(venv)

    def step(*argv: str) -> None:
        done = subprocess.run(list(argv), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"bench: installing failed: {' '.join(argv)}\n{done.stderr}")

    step(sys.executable, "-m", "venv", str(venv))
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    step(*pip, *_pins())
    with tempfile.TemporaryDirectory() as build:
        # Build from a copy, so the checkout gets no build/ or egg-info directory.
        source = Path(build) / "src"
        shutil.copytree(
            REPO,
            source,
            ignore=shutil.ignore_patterns(
                ".git", "__pycache__", "*.egg-info", "build", ".venv", "node_modules"
            ),
        )
        step(*pip, "--no-deps", str(source))
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run(
        [str(python), "-m", "compileall", "-q", site], check=False, stdout=subprocess.DEVNULL
    )
    stamp_file.write_text(stamp)
    return python


def add_install_options(parser: Any) -> None:
    parser.add_argument(
        "--install-into",
        type=Path,
        metavar="DIR",
        help="virtual environment to install ciswitch into, non-editable with bytecode "
        f"compiled, reused while fresh (default: {default_venv()})",
    )
    parser.add_argument(
        "--no-install",
        action="store_true",
        help="measure the ciswitch of the running interpreter instead (e.g. editable)",
    )
    parser.add_argument("--in-bench-venv", action="store_true", help=argparse_suppress())


def argparse_suppress() -> str:
    import argparse

    return argparse.SUPPRESS


def reexec_installed(args: Any, argv: Sequence[str]) -> None:
    """Unless told otherwise, run this script again under the installed ciswitch's venv."""
    if args.no_install or args.in_bench_venv:
        return
    python = ensure_installed(args.install_into or default_venv())
    script = str(Path(sys.argv[0]).resolve())
    os.execv(str(python), [str(python), script, *argv, "--in-bench-venv"])


def install_line() -> str:
    import ciswitch

    where = Path(ciswitch.__file__).resolve().parent
    kind = "checkout" if REPO in where.parents else "installed"
    return f"ciswitch {kind} at {where}"


def installed_env() -> dict[str, str]:
    """Environment for whole processes of an installed tool: bytecode on, the installed
    ``.pyc`` files used (no cache prefix)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPYCACHEPREFIX", None)
    return env


# --- the summary ----------------------------------------------------------------------------


@dataclass
class Figure:
    """One figure of the issue's table: what it is, its measured value and its target."""

    name: str
    value: float | None
    target: float
    detail: str = ""


def figure_line(fig: Figure) -> str:
    met = "not measured" if fig.value is None else ("met" if fig.value <= fig.target else "MISSED")
    detail = f"  [{fig.detail}]" if fig.detail else ""
    return (
        f"FIGURE {fig.name}: measured {fmt_ratio(fig.value)}, "
        f"target <= {fig.target}x, {met}{detail}"
    )


def summary(title: str, figures: Sequence[Figure]) -> str:
    lines = ["", f"== Summary: {title} =="]
    lines += [figure_line(fig) for fig in figures]
    met = sum(1 for f in figures if f.value is not None and f.value <= f.target)
    lines.append(f"== {met} of {len(figures)} targets met ==")
    return "\n".join(lines)
