"""Stress: ``ciswitch fleet run -j 2`` under faults, many trials, counting what went wrong.

Each trial builds its own bare remotes (a werf 1.1 project with ``:local`` flags; the
pre-receive hook sleeps a random 0-0.3 s so that pushes are in flight when the fault lands;
every branch update is in the remote's reflog) and then one of:

* ``kill``: SIGKILL of the run's main pid only (as the OOM killer or a runner does) at a random
  moment, then at once the same command again, as a user or a retrying CI job would;
* ``concurrent``: two runs of the same command on the same journal, started together;
* ``sigint``: ^C to the whole process group at a random moment, then the same command again.

Counted per kind: pushed-but-journaled-failed (the remote has the branch, the journal's latest
row says ``failed``), journaled pushed without the branch, branches written twice, repositories
left unpushed after the rerun, orphans (run processes alive 1 s after the kill: Python and its
git commands), runs with an unexpected exit code, tracebacks.

    python bench/fleet_faults.py --trials 10 --repos 10
    python bench/fleet_faults.py --src /path/to/other/checkout   # the same trials, other code
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

BRANCH = "ciswitch/remote-stages-storage"
CI_FILE = """\
stages: [build, deploy]

build:
  stage: build
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf build-and-publish --stages-storage :local

deploy:
  stage: deploy
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf deploy -s :local --env production
"""
SLOW_HOOK = """#!/bin/sh
sleep {delay}
cat > /dev/null
"""
PUSHED = {"pushed", "mr-opened", "partial"}


def git(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True)
    return done.stdout


def isolated_env(root: Path, src: Path | None) -> dict[str, str]:
    home = root / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("")
    env = {
        **os.environ, "HOME": str(home), "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "b@x.test",
        "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "b@x.test",
        "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C",
    }
    if src is not None:
        env["PYTHONPATH"] = str(src)
    return env


def make_fleet(root: Path, count: int, env: dict[str, str], rng: random.Random) -> list[Path]:
    seed = root / "seed"
    seed.mkdir()
    git("init", "-q", "-b", "main", cwd=seed, env=env)
    (seed / ".gitlab-ci.yml").write_text(CI_FILE)
    git("add", "-A", cwd=seed, env=env)
    git("commit", "-q", "-m", "initial", cwd=seed, env=env)
    bares = []
    for i in range(count):
        bare = root / "remotes" / f"p{i:02d}.git"
        git("clone", "-q", "--bare", str(seed), str(bare), env=env)
        git("config", "receive.advertisePushOptions", "true", cwd=bare, env=env)
        git("config", "core.logAllRefUpdates", "always", cwd=bare, env=env)
        hook = bare / "hooks" / "pre-receive"
        hook.write_text(SLOW_HOOK.format(delay=f"{rng.uniform(0, 0.3):.2f}"))
        hook.chmod(0o755)
        bares.append(bare)
    (root / "repos.txt").write_text("".join(f"{b}\n" for b in bares))
    return bares


def journal_latest(state: Path) -> dict[str, str]:
    """url -> status of the newest row from a real run (read-only, as `fleet status` reads)."""
    if not state.exists():
        return {}
    db = sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=10)
    try:
        rows = db.execute(
            "SELECT repos.url, repos.status FROM repos JOIN runs ON runs.id = repos.run "
            "WHERE runs.dry_run = 0 ORDER BY repos.run, repos.updated_at"
        ).fetchall()
    except sqlite3.OperationalError:
        return {}
    finally:
        db.close()
    return {str(url): str(status) for url, status in rows}


def journal_statuses(state: Path) -> list[str]:
    return list(journal_latest(state).values())


def updates(bare: Path, env: dict[str, str]) -> int:
    refs = git("for-each-ref", "--format=%(refname)", "refs/heads/", cwd=bare, env=env)
    if f"refs/heads/{BRANCH}" not in refs.split():
        return 0
    return len(git("reflog", "show", "--format=%H", f"refs/heads/{BRANCH}", cwd=bare,
                   env=env).splitlines())


def client_processes(pgid: int) -> int:
    """Live processes of the run's group on the client side (Python and its git commands)."""
    alive = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            words = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if fields[0] == "Z" or int(fields[2]) != pgid or not words or not words[0]:
            continue
        program = Path(words[0].decode(errors="replace")).name
        sub = words[1].decode(errors="replace") if len(words) > 1 else ""
        if program.startswith("python") or (program == "git" and sub in (
                "push", "clone", "fetch", "ls-remote", "commit-tree", "update-ref")):
            alive += 1
    return alive


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


class Trial:
    def __init__(self, root: Path, repos: int, src: Path | None, rng: random.Random) -> None:
        self.root = root
        self.env = isolated_env(root, src)
        self.bares = make_fleet(root, repos, self.env, rng)
        self.state = root / "work" / "ciswitch-fleet.sqlite"
        self.cmd = [sys.executable, "-m", "ciswitch", "fleet", "run", "--repos",
                    str(root / "repos.txt"), "--workdir", str(root / "work"), "-j", "2"]

    def start(self) -> subprocess.Popen[str]:
        return subprocess.Popen(self.cmd, cwd=self.root, env=self.env, text=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)

    def rerun(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.cmd, cwd=self.root, env=self.env, text=True,
                              capture_output=True, check=False, timeout=300)

    def wait_until(self, pushed: int, limit: float = 120) -> None:
        """Until the run works (a journal row) and ``pushed`` repositories are pushed."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            statuses = journal_statuses(self.state)
            if statuses and sum(s in PUSHED for s in statuses) >= pushed:
                return
            time.sleep(0.02)

    def audit(self, counts: Counter[str]) -> None:
        """Compare every remote with the journal."""
        latest = journal_latest(self.state)
        for bare in self.bares:
            written = updates(bare, self.env)
            status = latest.get(str(bare), "")
            if written and status == "failed":
                counts["pushed-but-journaled-failed"] += 1
            if not written and status in PUSHED:
                counts["journaled-pushed-without-branch"] += 1
            if written > 1:
                counts["branch-written-twice"] += 1
            if not written:
                counts["left-unpushed"] += 1


def trial_kill(trial: Trial, rng: random.Random, counts: Counter[str]) -> None:
    child = trial.start()
    trial.wait_until(rng.randrange(len(trial.bares)))
    time.sleep(rng.uniform(0, 0.3))
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.stderr is not None
    child.stderr.close()
    time.sleep(1.0)
    orphans = client_processes(child.pid)
    counts["trials-with-orphans"] += orphans > 0
    counts["orphan-processes"] += orphans
    again = trial.rerun()  # at once, orphans or not, as a retrying job would
    counts["rerun-exit-not-0"] += again.returncode != 0
    counts["tracebacks"] += "Traceback" in again.stderr
    kill_group(child.pid)
    trial.audit(counts)


def trial_concurrent(trial: Trial, rng: random.Random, counts: Counter[str]) -> None:
    first, second = trial.start(), trial.start()
    outs = [p.communicate(timeout=300)[1] for p in (first, second)]
    codes = sorted(p.returncode for p in (first, second))
    counts["both-ran"] += codes == [0, 0]
    counts["second-refused-exit-2"] += codes == [0, 2]
    counts["refusal-without-pid"] += codes == [0, 2] and not any(
        f"pid {p.pid}" in out for p, out in zip((first, second), reversed(outs), strict=True))
    counts["tracebacks"] += any("Traceback" in out for out in outs)
    trial.audit(counts)


def trial_sigint(trial: Trial, rng: random.Random, counts: Counter[str]) -> None:
    child = trial.start()
    trial.wait_until(rng.randrange(len(trial.bares)))
    time.sleep(rng.uniform(0, 0.3))
    os.killpg(child.pid, signal.SIGINT)
    try:
        _out, err = child.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        kill_group(child.pid)
        _out, err = child.communicate()
        counts["hung-after-sigint"] += 1
    finished = "pending" not in journal_statuses(trial.state)
    if child.returncode == -signal.SIGINT and finished and not err:
        counts["sigint-while-exiting-after-the-work"] += 1  # the journal is complete
    elif child.returncode not in (130, 0, 1):  # 0/1: it had finished
        counts[f"exit-{child.returncode}"] += 1
        if not SAMPLES:
            SAMPLES.append(f"exit {child.returncode}, stderr: {err!r}")
    counts["tracebacks"] += "Traceback" in err
    if "Traceback" in err and not SAMPLES:
        SAMPLES.append(err)
    time.sleep(1.0)
    counts["trials-with-orphans"] += client_processes(child.pid) > 0
    again = trial.rerun()
    counts["rerun-exit-not-0"] += again.returncode != 0
    kill_group(child.pid)
    trial.audit(counts)


#: the first traceback seen, printed at the end
SAMPLES: list[str] = []

KINDS = {"kill": trial_kill, "concurrent": trial_concurrent, "sigint": trial_sigint}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10, help="trials per kind")
    parser.add_argument("--repos", type=int, default=10, help="repositories per trial")
    parser.add_argument("--kinds", default="kill,concurrent,sigint")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--src", type=Path, help="run the ciswitch of this checkout instead")
    parser.add_argument("--quick", action="store_true",
                        help="one trial of each kind on 3 repositories (a smoke run)")
    parser.add_argument("--no-install", action="store_true",
                        help="accepted for symmetry with the other scripts: this one always "
                             "runs the ciswitch of this interpreter (or of --src)")
    args = parser.parse_args()
    if args.quick:
        args.trials, args.repos = 1, 3
    rng = random.Random(args.seed)
    print(f"fleet faults: {args.trials} trials per kind, {args.repos} repositories each, "
          f"-j 2, seed {args.seed}" + (f", code from {args.src}" if args.src else ""))
    for kind in args.kinds.split(","):
        counts: Counter[str] = Counter()
        started = time.monotonic()
        for _ in range(args.trials):
            with tempfile.TemporaryDirectory(prefix=f"ciswitch-faults-{kind}-") as tmp:
                KINDS[kind](Trial(Path(tmp), args.repos, args.src, rng), rng, counts)
        shown = ", ".join(f"{name} {value}" for name, value in sorted(counts.items()) if value)
        print(f"  {kind}: {shown or 'nothing went wrong'} "
              f"({time.monotonic() - started:.0f} s)")
    for sample in SAMPLES:
        print("first traceback seen:\n" + sample)
    return 0


if __name__ == "__main__":
    sys.exit(main())
