"""``ciswitch fleet run`` and ``fleet sync`` against plain shell loops doing the same, in one run.

Both sides get their own copies of the same N bare repositories (a werf 1.1 project with
``:local`` flags and a werf.yaml), addressed as ``file://`` URLs (so clones go through git's
pack transfer as over a network, not a local hardlinking copy), serving partial clones
(``uploadpack.allowFilter``, as GitLab does), and work at the same concurrency.

* ``fleet run``: the shell side runs ``git clone`` (a full clone), ``sed``, ``git commit`` and
  ``git push -o merge_request.create`` per repository under ``xargs -P J``; the fleet side runs
  ``ciswitch fleet run -j J`` (which also lints, verifies the fix, writes the marker and
  journals every outcome).
* ``fleet sync``, the procedure's own overhead: werf and docker are stubs that answer at once
  (the same stubs for both sides), so what is measured is everything around
  ``werf stages sync``. The shell side clones, reads ``project:`` of werf.yaml, asks
  ``docker image ls`` and runs the stub; the fleet side runs ``ciswitch fleet sync -j J``
  (clone, derive the werf project name and the address as ``plan`` does, check the block file,
  ask docker, run werf with a log file, journal every step).

The machine may be loaded (other work on two cores): every measurement is repeated in
``--pairs`` interleaved pairs (the side that goes first alternates), each pair on fresh clones
and a fresh journal, and the figure is the median of the per-pair ratios, with their spread.
CPU time counts every process each side ran (orphans included); it is the steadier figure on
a busy machine, and wall time is shown beside it.

Two kinds of repositories:

* tiny (default): one commit, three small files;
* ``--realistic``: a history of ``--commits`` commits carrying ``--blob-mb`` MB of blobs
  (incompressible assets, plus source files edited along the way), written with
  ``git fast-import``. Generated remotes are kept in ``--workdir`` and reused by later runs
  (the pushed branch is deleted before each pair).

After each pair the clones are deleted and the timing waits ``--settle`` seconds: deleting
thousands of files makes creating files right afterwards slower (ext4 passes over recently
freed inodes), and alternating the order spreads what is left of that over both sides.

    python bench/fleet_bench.py --repos 40 --pairs 7
    python bench/fleet_bench.py --realistic --repos 40 --commits 200 --blob-mb 50 --workdir DIR
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchlib import (
    Figure,
    add_install_options,
    ciswitch_command,
    fmt_seconds,
    install_line,
    installed_env,
    reexec_installed,
    summary,
)

TARGET_TINY = 1.0
TARGET_REALISTIC = 0.3
#: fleet sync against the shell loop around the same werf stub: the procedure's own overhead
TARGET_SYNC = 1.0
BRANCH = "ciswitch/remote-stages-storage"
REGISTRY_IMAGE = "registry.example.test/bench/project"
WERF_YAML = "project: bench-project\nconfigVersion: 1\n"

CI_FILE = """\
stages: [build, deploy]

build:
  stage: build
  script:
    - source $(multiwerf use 1.1 stable --as-file)
    - source $(werf ci-env gitlab --as-file)
    - werf build-and-publish --stages-storage :local

deploy:
  stage: deploy
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf deploy --stages-storage :local --env production
"""

SHELL_STEP = r"""
set -e
d=$(mktemp -d -p "$SHELL_WORK")
git clone -q --no-tags "$1" "$d"
sed -i 's/ --stages-storage :local//' "$d/.gitlab-ci.yml"
git -C "$d" commit -q -a -m "Use remote werf stages storage instead of :local"
git -C "$d" push -q -o merge_request.create -o merge_request.target=main \
    origin HEAD:refs/heads/ciswitch/remote-stages-storage
"""

#: what the shell loops of the migration guide did per project on a runner host
SHELL_SYNC_STEP = r"""
set -e
d=$(mktemp -d -p "$SHELL_WORK")
git clone -q --no-tags "$1" "$d"
cd "$d"
project=$(sed -n 's/^project: *//p' werf.yaml)
if [ -n "$("$BENCH_DOCKER" image ls -q "werf-stages-storage/$project")" ]; then
    "$BENCH_WERF" stages sync --from :local --to "$CI_REGISTRY_IMAGE/stages" >> "$d.log" 2>&1
fi
"""

#: werf and docker for both sides of the sync: they answer at once
STUB = """#!/bin/sh
case "$1 $2" in
    "image ls") echo sha256:0123456789ab ;;
    *) echo "stub: $*" ;;
esac
"""


def git(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def tiny_template(root: Path) -> Path:
    bare = root / "template.git"
    if bare.is_dir():
        return bare
    work = root / "template-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=work)
    (work / ".gitlab-ci.yml").write_text(CI_FILE)
    (work / "werf.yaml").write_text(WERF_YAML)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "initial", cwd=work)
    git("clone", "-q", "--bare", str(work), str(bare))
    shutil.rmtree(work)
    return bare


def realistic_template(root: Path, commits: int, blob_mb: float) -> Path:
    """A bare repository with ``commits`` commits and about ``blob_mb`` MB of blobs, written by
    one ``git fast-import`` (seconds, where porcelain commits would take minutes)."""
    bare = root / "template.git"
    if (bare / "bench-complete").is_file():
        return bare
    shutil.rmtree(bare, ignore_errors=True)
    git("init", "-q", "--bare", "-b", "main", str(bare))
    rng = random.Random(20201)
    per_commit = int(blob_mb * 2**20 / max(commits, 1))
    proc = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=bare, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    out = proc.stdin

    def data(payload: bytes) -> None:
        out.write(b"data %d\n" % len(payload))
        out.write(payload)
        out.write(b"\n")

    stamp = 1_600_000_000
    for k in range(commits):
        out.write(b"commit refs/heads/main\n")
        out.write(b"committer Bench <bench@example.test> %d +0000\n" % (stamp + k * 3600))
        data(f"change {k}: module {k % 40}, asset {k}".encode())
        if k == 0:
            out.write(b"M 100644 inline .gitlab-ci.yml\n")
            data(CI_FILE.encode())
            out.write(b"M 100644 inline README.md\n")
            data(b"# project\n")
            out.write(b"M 100644 inline werf.yaml\n")
            data(WERF_YAML.encode())
        source = "".join(f"def f{k}_{j}(x):\n    return x + {j}\n" for j in range(40))
        out.write(f"M 100644 inline src/mod{k % 40}.py\n".encode())
        data(source.encode())
        if per_commit:
            out.write(f"M 100644 inline assets/asset{k:04d}.bin\n".encode())
            data(rng.randbytes(per_commit))
        out.write(b"\n")
    out.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")
    (bare / "bench-complete").write_text("")
    return bare


def remotes(root: Path, side: str, count: int, template: Path) -> list[Path]:
    """``count`` bare copies of ``template`` (kept and reused), the pushed branch deleted."""
    bares = []
    for i in range(count):
        bare = root / side / f"p{i:04d}.git"
        if not (bare / "bench-complete").is_file():
            shutil.rmtree(bare, ignore_errors=True)
            git("clone", "-q", "--bare", "--no-hardlinks", str(template), str(bare))
            git("config", "receive.advertisePushOptions", "true", cwd=bare)
            (bare / "bench-complete").write_text("")
        if "allowfilter = true" not in (bare / "config").read_text().lower():
            # as GitLab does: partial clones are served (both sides; the shell loop asks
            # for none)
            git("config", "uploadpack.allowFilter", "true", cwd=bare)
        subprocess.run(
            ["git", "update-ref", "-d", f"refs/heads/{BRANCH}"],
            cwd=bare,
            capture_output=True,
            check=False,
        )
        bares.append(bare)
    return bares


def pushed(bares: list[Path]) -> int:
    done = 0
    for bare in bares:
        proc = subprocess.run(
            ["git", "rev-parse", "--verify", "-q", f"refs/heads/{BRANCH}"],
            cwd=bare,
            capture_output=True,
            check=False,
        )
        done += proc.returncode == 0
    return done


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux), so that the CPU time
    of a process whose parent never waited for it still reaches ``RUSAGE_CHILDREN``."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(36, 1, 0, 0, 0)) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def reap_orphans(deadline: float = 15.0) -> None:
    """Wait for the descendants left behind (reparented to us), up to ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.05)


def timed(argv: list[str], env: dict[str, str], stdin: str | None = None) -> tuple[float, float]:
    """Wall time, and the CPU time of the process and of every descendant (orphans included:
    see ``become_subreaper``)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        argv,
        env=env,
        input=stdin,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    wall = time.perf_counter() - start
    reap_orphans()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        print(f"{argv[0]} exited {proc.returncode}:\n{proc.stderr[-2000:]}", file=sys.stderr)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


@dataclass
class Pairs:
    """The interleaved pairs of one measurement: each side's wall and CPU per pair."""

    shell_wall: list[float] = field(default_factory=list)
    shell_cpu: list[float] = field(default_factory=list)
    fleet_wall: list[float] = field(default_factory=list)
    fleet_cpu: list[float] = field(default_factory=list)
    baseline_wall: list[float] = field(default_factory=list)
    baseline_cpu: list[float] = field(default_factory=list)

    def add(self, side: str, wall: float, cpu: float) -> None:
        getattr(self, f"{side}_wall").append(wall)
        getattr(self, f"{side}_cpu").append(cpu)

    def ratios(self, kind: str, peer: str = "shell") -> list[float]:
        fleet, other = getattr(self, f"fleet_{kind}"), getattr(self, f"{peer}_{kind}")
        return [f / s for f, s in zip(fleet, other, strict=True) if s > 0]

    def median_ratio(self, kind: str, peer: str = "shell") -> float | None:
        found = self.ratios(kind, peer)
        return statistics.median(found) if found else None

    def spread(self, kind: str, peer: str = "shell") -> str:
        found = sorted(self.ratios(kind, peer))
        if not found:
            return "no pairs"
        low, _mid, high = statistics.quantiles(found, n=4) if len(found) > 1 else found * 3
        return (f"median of {len(found)} interleaved pairs; ratios "
                f"{found[0]:.2f}..{found[-1]:.2f}, quartiles {low:.2f}..{high:.2f}")

    def line(self, side: str) -> str:
        walls, cpus = getattr(self, f"{side}_wall"), getattr(self, f"{side}_cpu")
        return (f"median wall {fmt_seconds(statistics.median(walls))}, "
                f"median CPU {fmt_seconds(statistics.median(cpus))} "
                f"(CPU {fmt_seconds(min(cpus))}..{fmt_seconds(max(cpus))})")


def write_stubs(bin_dir: Path) -> tuple[Path, Path]:
    bin_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in ("werf", "docker"):
        path = bin_dir / name
        path.write_text(STUB)
        path.chmod(0o755)
        paths.append(path)
    return paths[0], paths[1]


def settle(seconds: float) -> None:
    os.sync()
    time.sleep(seconds)


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=40, help="repositories per side")
    parser.add_argument("--pairs", type=int, default=7,
                        help="interleaved pairs per measurement (the figure is their median)")
    parser.add_argument("--jobs", type=int, default=2, help="concurrency of both sides")
    parser.add_argument(
        "--settle",
        type=float,
        default=5.0,
        help="seconds to wait after deleting a pair's clones (0: do not wait)",
    )
    parser.add_argument(
        "--realistic",
        action="store_true",
        help="repositories with a realistic history instead of one commit",
    )
    parser.add_argument("--commits", type=int, default=200, help="history length (realistic)")
    parser.add_argument("--blob-mb", type=float, default=50.0, help="MB of blobs (realistic)")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep the generated remotes here and reuse them (default: temp)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="the source tree of another ciswitch (an older checkout): its fleet run is a "
        "third side of every pair, and the bench prints fleet run / that fleet run",
    )
    parser.add_argument("--quick", action="store_true",
                        help="3 repositories, 2 pairs, tiny history (a smoke test, not a figure)")
    add_install_options(parser)
    args = parser.parse_args(raw)
    if args.quick:
        args.repos, args.pairs, args.settle, args.commits, args.blob_mb = 3, 2, 0.0, 10, 0.5
    if (args.repos < 1 or args.jobs < 1 or args.commits < 1 or args.blob_mb < 0
            or args.pairs < 1):
        parser.error("--repos, --pairs, --jobs and --commits must be positive, --blob-mb not "
                     "negative")
    reexec_installed(args, raw)
    if not become_subreaper():
        print(
            "cannot become a subreaper: CPU of orphaned processes is not counted", file=sys.stderr
        )

    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp_text:
        tmp = Path(tmp_text)
        home = tmp / "home"
        home.mkdir()
        (home / ".gitconfig").write_text("")
        os.environ.update(
            {
                "HOME": str(home),
                "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
                "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_AUTHOR_NAME": "Bench",
                "GIT_AUTHOR_EMAIL": "bench@example.test",
                "GIT_COMMITTER_NAME": "Bench",
                "GIT_COMMITTER_EMAIL": "bench@example.test",
                "GIT_TERMINAL_PROMPT": "0",
                "WERF_HOME": str(tmp / "werf-home"),
            }
        )
        if args.realistic:
            kind = f"realistic-werf-c{args.commits}-m{args.blob_mb:g}"
            label = (
                f"{args.repos} repositories with {args.commits} commits, "
                f"{args.blob_mb:g} MB of blobs each"
            )
        else:
            kind, label = "tiny-werf", f"{args.repos} tiny repositories"
        root = (args.workdir.resolve() if args.workdir else tmp / "remotes") / kind
        root.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        template = (
            realistic_template(root, args.commits, args.blob_mb)
            if args.realistic
            else tiny_template(root)
        )
        print(
            f"preparing 2 x {args.repos} bare repositories in {root} ...",
            file=sys.stderr,
            flush=True,
        )
        shell_bares = remotes(root, "shell", args.repos, template)
        fleet_bares = remotes(root, "fleet", args.repos, template)
        baseline_bares = remotes(root, "baseline", args.repos, template) if args.baseline else []
        print(f"prepared in {time.perf_counter() - started:.1f} s", file=sys.stderr)

        werf, docker = write_stubs(tmp / "stubs")
        env = installed_env()
        env.update({"BENCH_WERF": str(werf), "BENCH_DOCKER": str(docker),
                    "CI_REGISTRY_IMAGE": REGISTRY_IMAGE})
        listing = tmp / "repos.txt"
        listing.write_text("".join(f"{b.as_uri()}\n" for b in fleet_bares))
        shell_listing = "".join(f"{b.as_uri()}\n" for b in shell_bares)
        baseline_listing = tmp / "baseline-repos.txt"
        baseline_listing.write_text("".join(f"{b.as_uri()}\n" for b in baseline_bares))

        def run_side(side: str, pair: int) -> tuple[float, float]:
            work = tmp / f"{side}-run-{pair}"
            if side == "shell":
                work.mkdir()
                return timed(["xargs", "-P", str(args.jobs), "-n", "1", "sh", "-c", SHELL_STEP,
                              "step"], {**env, "SHELL_WORK": str(work)}, shell_listing)
            if side == "baseline":
                assert args.baseline is not None
                older = {**env, "PYTHONPATH": str(args.baseline.resolve())}
                # -P: the current directory must not come before the baseline on the path
                return timed([sys.executable, "-P", "-m", "ciswitch", "fleet", "run", "--repos",
                              str(baseline_listing), "--workdir", str(work), "-j",
                              str(args.jobs)], older)
            return timed([*ciswitch_command(), "fleet", "run", "--repos", str(listing),
                          "--workdir", str(work), "-j", str(args.jobs)], env)

        def sync_side(side: str, pair: int) -> tuple[float, float]:
            work = tmp / f"{side}-sync-{pair}"
            if side == "shell":
                work.mkdir()
                return timed(["xargs", "-P", str(args.jobs), "-n", "1", "sh", "-c",
                              SHELL_SYNC_STEP, "step"], {**env, "SHELL_WORK": str(work)},
                             "".join(f"{b.as_uri()}\n" for b in fleet_bares))
            return timed([*ciswitch_command(), "fleet", "sync", "--repos", str(listing),
                          "--workdir", str(work), "-j", str(args.jobs), "--werf", str(werf),
                          "--docker", str(docker)], env)

        run_pairs, sync_pairs = Pairs(), Pairs()
        complete = True
        settle(args.settle)
        for pair in range(args.pairs):
            order = ("shell", "fleet") if pair % 2 == 0 else ("fleet", "shell")
            remotes(root, "shell", args.repos, template)
            remotes(root, "fleet", args.repos, template)
            run_order: tuple[str, ...] = order
            if args.baseline:
                remotes(root, "baseline", args.repos, template)
                sides = ("shell", "fleet", "baseline")
                run_order = sides[pair % 3:] + sides[:pair % 3]
            for side in run_order:
                run_pairs.add(side, *run_side(side, pair))
            shell_done, fleet_done = pushed(shell_bares), pushed(fleet_bares)
            complete = complete and shell_done == fleet_done == args.repos
            if args.baseline:
                complete = complete and pushed(baseline_bares) == args.repos
            for side in order:
                sync_pairs.add(side, *sync_side(side, pair))
            synced = len(list((tmp / f"fleet-sync-{pair}" / "logs" / "sync").glob("*.log")))
            shell_synced = len(list((tmp / f"shell-sync-{pair}").glob("*.log")))
            complete = complete and synced == shell_synced == args.repos
            print(f"pair {pair + 1}/{args.pairs}: run {fleet_done}+{shell_done} pushed, "
                  f"sync {synced}+{shell_synced} synced", file=sys.stderr, flush=True)
            for path in tmp.glob("*-*-[0-9]*"):
                shutil.rmtree(path, ignore_errors=True)
            settle(args.settle)

    print(f"ciswitch fleet benchmark: {label}, concurrency {args.jobs}, {args.pairs} "
          f"interleaved pairs; {install_line()}")
    print(f"shell loop (full clone + sed + commit + push, xargs -P {args.jobs}): "
          f"{run_pairs.line('shell')}")
    print(f"ciswitch fleet run -j {args.jobs}: {run_pairs.line('fleet')}")
    if args.baseline:
        print(f"ciswitch fleet run -j {args.jobs} of {args.baseline}: "
              f"{run_pairs.line('baseline')}")
    print(f"shell sync loop (clone + docker image ls + werf stub, xargs -P {args.jobs}): "
          f"{sync_pairs.line('shell')}")
    print(f"ciswitch fleet sync -j {args.jobs} (same stubs): {sync_pairs.line('fleet')}")
    print(f"every pair pushed and synced all {args.repos} repositories on both sides: "
          f"{'yes' if complete else 'NO'}")
    target = TARGET_REALISTIC if args.realistic else TARGET_TINY
    figures = [
        Figure(f"fleet run / shell loop, {label} (CPU)", run_pairs.median_ratio("cpu"), target,
               f"{run_pairs.spread('cpu')}; CPU of every process of each side"),
        Figure(f"fleet run / shell loop, {label} (wall)", run_pairs.median_ratio("wall"),
               target, f"{run_pairs.spread('wall')}; concurrency {args.jobs}"),
        Figure(f"fleet sync / shell sync loop, {label} (CPU)", sync_pairs.median_ratio("cpu"),
               TARGET_SYNC, f"{sync_pairs.spread('cpu')}; the procedure's own overhead"),
    ]
    if args.baseline:
        figures.append(Figure(
            f"fleet run / the fleet run of {args.baseline.name}, {label} (CPU)",
            run_pairs.median_ratio("cpu", "baseline"), 1.0,
            f"{run_pairs.spread('cpu', 'baseline')}; not slower than that ciswitch",
        ))
    print(summary("fleet_bench", figures))
    if not complete:
        print(
            "not every repository was pushed and synced in every pair: the figures do not "
            "compare like with like",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
