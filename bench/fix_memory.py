"""Peak memory of ``ciswitch fix`` on one big CI file against the bare C compose of that file.

Each side runs in a fresh interpreter: ``fix`` is the command's whole path in process (plan,
both verifications, the write of the fixed file into a copy), the compose is ruamel.yaml's C
``compose`` of the same text. Both are measured as the growth of the resident set (VmHWM minus
VmRSS before, Linux; C buffers included), after a warm-up on a tiny file. Prints the ratio
fix / compose; the target is <= 3x.

Usage: ``python bench/fix_memory.py [--mb 50 | --jobs N] [--seed S] [--werf-every-job]
[--keep FILE]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import _reset_peak_rss, _status_kib, compose_once
from generate import generate

TARGET = 3.0


def fix_once(path: Path) -> int:
    """Plan and write the fix of ``path`` (its directory is the repository root)."""
    from ciswitch.config import load_config
    from ciswitch.fix import plan_fix, write_changes
    from ciswitch.workspace import DirectoryWorkspace

    ws = DirectoryWorkspace(path.parent)
    outcome = plan_fix(ws, load_config(ws, None), entry=path.name)
    if outcome.problems:
        raise SystemExit(f"fix refused: {outcome.problems[0].one_line()}")
    write_changes(ws, outcome)
    return len(outcome.fixed)


def measure_here(what: str, path: Path) -> dict[str, float]:
    """RSS growth of one ``fix`` or compose of ``path`` in this fresh process."""
    import gc

    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / ".gitlab-ci.yml"
        warm.write_text(generate(3), encoding="utf-8")
        (fix_once if what == "fix" else compose_once)(warm)
    gc.collect()
    if not _reset_peak_rss():
        raise SystemExit("needs Linux's /proc/self/clear_refs to measure a peak")
    before = _status_kib("VmRSS") or 0
    result = fix_once(path) if what == "fix" else compose_once(path)
    peak = (_status_kib("VmHWM") or 0) - before
    fixed = result if isinstance(result, int) else 0
    return {"peak": float(peak) * 1024, "fixed": float(fixed)}


def in_subprocess(what: str, path: Path) -> dict[str, float]:
    code = (
        "import json, sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
        "from fix_memory import measure_here;"
        "print(json.dumps(measure_here(sys.argv[2], Path(sys.argv[3]))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).resolve().parent), what, str(path)],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{what} of {path} failed:\n{done.stderr[-3000:]}")
    data: dict[str, float] = json.loads(done.stdout)
    return data


def sized_text(mb: float, seed: int, werf_every_job: bool) -> tuple[str, int]:
    """A generated CI file of about ``mb`` megabytes (within a job's size): its text and its
    number of jobs. The generator's output grows linearly with the jobs, so the count is
    scaled from a sample and corrected once."""
    sample = 1000
    per_job = len(generate(sample, seed, werf_every_job=werf_every_job).encode("utf-8")) / sample
    jobs = max(1, round(mb * 1e6 / per_job))
    text = generate(jobs, seed, werf_every_job=werf_every_job)
    size = len(text.encode("utf-8"))
    if abs(size - mb * 1e6) > 0.01 * mb * 1e6:
        jobs = max(1, round(jobs * mb * 1e6 / size))
        text = generate(jobs, seed, werf_every_job=werf_every_job)
    return text, jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0, help="size of the generated file")
    parser.add_argument(
        "--jobs", type=int, default=0, help="generate this many jobs instead of --mb megabytes"
    )
    parser.add_argument("--seed", type=int, default=20201, help="the generator's seed")
    parser.add_argument(
        "--werf-every-job", action="store_true", help="werf in every job (more to fix)"
    )
    parser.add_argument(
        "--keep", type=Path, default=None, help="also write the generated file to this path"
    )
    args = parser.parse_args()
    if args.jobs:
        jobs = args.jobs
        text = generate(jobs, args.seed, werf_every_job=args.werf_every_job)
    else:
        text, jobs = sized_text(args.mb, args.seed, args.werf_every_job)
    if args.keep is not None:
        args.keep.write_text(text, encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        compose_dir, fix_dir = Path(tmp) / "compose", Path(tmp) / "fix"
        compose_dir.mkdir()
        (compose_dir / ".gitlab-ci.yml").write_text(text, encoding="utf-8")
        shutil.copytree(compose_dir, fix_dir)
        size = len(text.encode("utf-8"))
        lines = text.count("\n")
        del text
        compose = in_subprocess("compose", compose_dir / ".gitlab-ci.yml")
        fix = in_subprocess("fix", fix_dir / ".gitlab-ci.yml")
    ratio = fix["peak"] / compose["peak"]
    print(
        f"file: {size / 1e6:.1f} MB, {lines:,} lines, {jobs:,} jobs;"
        f" fix fixed {int(fix['fixed']):,} place(s)"
    )
    print(f"peak memory: compose {compose['peak'] / 2**20:,.0f} MiB,"
          f" fix {fix['peak'] / 2**20:,.0f} MiB")
    print(f"fix / compose: {ratio:.2f}x (target <= {TARGET:.0f}x):"
          f" {'met' if ratio <= TARGET else 'MISSED'}")


if __name__ == "__main__":
    main()
