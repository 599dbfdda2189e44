"""Benchmark: ``ciswitch fleet run -j 2`` against a plain shell loop doing the same pushes.

Both sides get their own copies of the same N bare repositories (a werf 1.1 project with
``:local`` flags) and work at the same concurrency: the shell side runs ``git clone``, ``sed``,
``git commit`` and ``git push -o merge_request.create`` per repository under ``xargs -P 2``;
the fleet side runs ``ciswitch fleet run -j 2`` (which also lints, verifies the fix, writes the
marker, journals every outcome). Both are timed in the same run and the ratio is printed.

Both sides keep their clones until both are timed, as ``fleet run`` keeps its workdir: deleting
thousands of files makes creating files right afterwards slower (ext4 passes over recently
freed inodes for half a minute), so a shell loop removing each clone as it goes would slow
down the side timed after it, by a third in our measurements. For the same reason the timing
starts ``--settle`` seconds after a ``sync``, so that an earlier run's clean-up does not slow
down the side timed first.

    python bench/fleet_bench.py --repos 200
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def make_remotes(root: Path, count: int, template: Path) -> list[Path]:
    bares = []
    for i in range(count):
        bare = root / f"p{i:04d}.git"
        git("clone", "-q", "--bare", "--no-hardlinks", str(template), str(bare))
        git("config", "receive.advertisePushOptions", "true", cwd=bare)
        bares.append(bare)
    return bares


def pushed(bares: list[Path]) -> int:
    done = 0
    for bare in bares:
        proc = subprocess.run(
            ["git", "rev-parse", "--verify", "-q", "refs/heads/ciswitch/remote-stages-storage"],
            cwd=bare, capture_output=True, check=False,
        )
        done += proc.returncode == 0
    return done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=200, help="repositories per side")
    parser.add_argument("--jobs", type=int, default=2, help="concurrency of both sides")
    parser.add_argument("--settle", type=float, default=30.0,
                        help="seconds to wait after a sync before timing (0: do not wait)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp_text:
        tmp = Path(tmp_text)
        home = tmp / "home"
        home.mkdir()
        (home / ".gitconfig").write_text("")
        os.environ.update({
            "HOME": str(home), "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
            "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Bench",
            "GIT_AUTHOR_EMAIL": "bench@example.test", "GIT_COMMITTER_NAME": "Bench",
            "GIT_COMMITTER_EMAIL": "bench@example.test", "GIT_TERMINAL_PROMPT": "0",
        })
        template = tmp / "template"
        template.mkdir()
        git("init", "-q", "-b", "main", cwd=template)
        (template / ".gitlab-ci.yml").write_text(CI_FILE)
        git("add", "-A", cwd=template)
        git("commit", "-q", "-m", "initial", cwd=template)
        print(f"creating 2 x {args.repos} bare repositories ...", flush=True)
        shell_bares = make_remotes(tmp / "shell", args.repos, template)
        fleet_bares = make_remotes(tmp / "fleet", args.repos, template)

        (tmp / "shell-work").mkdir()
        os.environ["SHELL_WORK"] = str(tmp / "shell-work")
        os.sync()
        time.sleep(args.settle)
        start = time.perf_counter()
        subprocess.run(
            ["xargs", "-P", str(args.jobs), "-n", "1", "sh", "-c", SHELL_STEP, "step"],
            input="".join(f"{b}\n" for b in shell_bares), text=True, check=True,
        )
        shell_time = time.perf_counter() - start

        listing = tmp / "repos.txt"
        listing.write_text("".join(f"{b}\n" for b in fleet_bares))
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "ciswitch", "fleet", "run", "--repos", str(listing),
             "--workdir", str(tmp / "work"), "-j", str(args.jobs)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False,
        )
        fleet_time = time.perf_counter() - start
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)

        shell_done, fleet_done = pushed(shell_bares), pushed(fleet_bares)
        shutil.rmtree(tmp / "work", ignore_errors=True)
        shutil.rmtree(tmp / "shell-work", ignore_errors=True)
    print(f"shell loop  (xargs -P {args.jobs}): {shell_time:7.2f} s, {shell_done} pushed")
    print(f"fleet run   (-j {args.jobs}):       {fleet_time:7.2f} s, {fleet_done} pushed")
    ratio = fleet_time / shell_time
    print(f"ratio fleet/shell: {ratio:.2f} (target <= 1.2)")
    return 0 if shell_done == fleet_done == args.repos else 1


if __name__ == "__main__":
    sys.exit(main())
