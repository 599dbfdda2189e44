"""``ciswitch fleet run`` against a plain shell loop doing the same pushes, in one run.

Both sides get their own copies of the same N bare repositories (a werf 1.1 project with
``:local`` flags), addressed as ``file://`` URLs (so clones go through git's pack transfer as
over a network, not a local hardlinking copy), and work at the same
concurrency: the shell side runs ``git clone`` (a full
clone), ``sed``, ``git commit`` and ``git push -o merge_request.create`` per repository under
``xargs -P J``; the fleet side runs ``ciswitch fleet run -j J`` (which also lints, verifies the
fix, writes the marker and journals every outcome). Both are timed in the same run: wall time
and the CPU time of every process each side ran; each ratio is printed against its target.

Two kinds of repositories:

* tiny (default): one commit, one file;
* ``--realistic``: a history of ``--commits`` commits carrying ``--blob-mb`` MB of blobs
  (incompressible assets, plus source files edited along the way), written with
  ``git fast-import``. Generated remotes are kept in ``--workdir`` and reused by later runs
  (the pushed branch is deleted before each run).

Both sides keep their clones until both are timed, as ``fleet run`` keeps its workdir: deleting
thousands of files makes creating files right afterwards slower (ext4 passes over recently
freed inodes for half a minute). For the same reason the timing starts ``--settle`` seconds
after a ``sync``.

    python bench/fleet_bench.py --repos 200
    python bench/fleet_bench.py --realistic --repos 200 --commits 200 --blob-mb 50 --workdir DIR
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import (
    Figure,
    add_install_options,
    ciswitch_command,
    fmt_seconds,
    install_line,
    installed_env,
    ratio,
    reexec_installed,
    summary,
)

TARGET_TINY = 1.0
TARGET_REALISTIC = 0.3
BRANCH = "ciswitch/remote-stages-storage"

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


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=200, help="repositories per side")
    parser.add_argument("--jobs", type=int, default=2, help="concurrency of both sides")
    parser.add_argument(
        "--settle",
        type=float,
        default=30.0,
        help="seconds to wait after a sync before timing (0: do not wait)",
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
    parser.add_argument("--quick", action="store_true", help="3 repositories, tiny history")
    add_install_options(parser)
    args = parser.parse_args(raw)
    if args.quick:
        args.repos, args.settle, args.commits, args.blob_mb = 3, 0.0, 10, 0.5
    if args.repos < 1 or args.jobs < 1 or args.commits < 1 or args.blob_mb < 0:
        parser.error("--repos, --jobs and --commits must be positive, --blob-mb not negative")
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
            }
        )
        if args.realistic:
            kind = f"realistic-c{args.commits}-m{args.blob_mb:g}"
            label = (
                f"{args.repos} repositories with {args.commits} commits, "
                f"{args.blob_mb:g} MB of blobs each"
            )
        else:
            kind, label = "tiny", f"{args.repos} tiny repositories"
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
        print(f"prepared in {time.perf_counter() - started:.1f} s", file=sys.stderr)

        env = installed_env()
        (tmp / "shell-work").mkdir()
        env["SHELL_WORK"] = str(tmp / "shell-work")
        os.sync()
        time.sleep(args.settle)
        shell_wall, shell_cpu = timed(
            ["xargs", "-P", str(args.jobs), "-n", "1", "sh", "-c", SHELL_STEP, "step"],
            env,
            "".join(f"{b.as_uri()}\n" for b in shell_bares),
        )
        listing = tmp / "repos.txt"
        listing.write_text("".join(f"{b.as_uri()}\n" for b in fleet_bares))
        fleet_wall, fleet_cpu = timed(
            [
                *ciswitch_command(),
                "fleet",
                "run",
                "--repos",
                str(listing),
                "--workdir",
                str(tmp / "work"),
                "-j",
                str(args.jobs),
            ],
            env,
        )
        shell_done, fleet_done = pushed(shell_bares), pushed(fleet_bares)
        shutil.rmtree(tmp / "work", ignore_errors=True)
        shutil.rmtree(tmp / "shell-work", ignore_errors=True)

    print(f"ciswitch fleet benchmark: {label}, concurrency {args.jobs}; {install_line()}")
    print(
        f"shell loop (full clone + sed + commit + push, xargs -P {args.jobs}): "
        f"wall {fmt_seconds(shell_wall)}, CPU {fmt_seconds(shell_cpu)}, "
        f"{shell_done}/{args.repos} pushed"
    )
    print(
        f"ciswitch fleet run -j {args.jobs}: wall {fmt_seconds(fleet_wall)}, "
        f"CPU {fmt_seconds(fleet_cpu)}, {fleet_done}/{args.repos} pushed"
    )
    target = TARGET_REALISTIC if args.realistic else TARGET_TINY
    figures = [
        Figure(
            f"fleet run / shell loop, {label} (wall)",
            ratio(fleet_wall, shell_wall),
            target,
            f"concurrency {args.jobs}",
        ),
        Figure(
            f"fleet run / shell loop, {label} (CPU)",
            ratio(fleet_cpu, shell_cpu),
            target,
            "CPU of every process of each side",
        ),
    ]
    print(summary("fleet_bench", figures))
    if not shell_done == fleet_done == args.repos:
        print(
            "not every repository was pushed: the figures do not compare like with like",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
