"""Fleet runs under faults, with real processes: SIGKILL of the main process at several
moments and a rerun, two runs on one journal, ^C. Every wait is bounded polling on a file or
on the journal; pushes that must stay in flight wait on a gate file in the remote's hook."""

from __future__ import annotations

import contextlib
import os
import pty
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gitrepos import git, isolate_git
from test_fleet_common import (
    client_processes,
    fleet,
    journal_statuses,
    make_repo,
    remote_branches,
    session_processes,
    status_json,
    write_list,
)

BRANCH = "ciswitch/remote-stages-storage"
GATED_HOOK = """\
touch "{waiting}"
while [ ! -f "{release}" ]; do sleep 0.05; done
cat > /dev/null
"""


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)


def wait_for(condition: Callable[[], bool], what: str, *, timeout: float = 60,
             child: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if child is not None and child.poll() is not None:
            pytest.fail(f"the run ended (exit {child.returncode}) before: {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for: {what}")
        time.sleep(0.05)


def build(tmp_path: Path, count: int, gated: int) -> tuple[list[Path], Path]:
    """``count`` fixable repositories; the last ``gated`` hold their push until released."""
    release = tmp_path / "release"
    bares = []
    for i in range(count):
        hook = None
        if i >= count - gated:
            hook = GATED_HOOK.format(waiting=tmp_path / f"waiting-{i}", release=release)
        bare = make_repo(tmp_path / "src", f"p{i:02d}", "flag", pre_receive=hook)
        git(bare, "config", "core.logAllRefUpdates", "always")
        bares.append(bare)
    return bares, release


def updates(bare: Path) -> int:
    """How often the branch was written on the remote (its reflog: a push the client no
    longer saw through still counts)."""
    if BRANCH not in remote_branches(bare):
        return 0
    return len(git(bare, "reflog", "show", "--format=%H", f"refs/heads/{BRANCH}").splitlines())


def start(tmp_path: Path, listing: Path, *extra: str, stdout: int | None = subprocess.DEVNULL,
          stderr: int | None = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "ciswitch", "fleet", "run", "--repos", str(listing),
           "--workdir", str(tmp_path / "work"), *extra]
    # ^C at its default in the run, as in a terminal's foreground job, whatever this process
    # was given: a background job of a non-interactive shell (pytest run with ``&``) ignores
    # SIGINT, and an ignored signal stays ignored across exec (a handler does not)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(cmd, cwd=tmp_path, stdout=stdout, stderr=stderr,
                                start_new_session=True)
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture
def session() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Children started in their own session; whatever is left of them is killed at the end."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for child in started:
        for pid, _cmd in session_processes(child.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if child.poll() is None:
            child.wait(10)


def waiting(tmp_path: Path) -> int:
    return len(list(tmp_path.glob("waiting-*")))


def assert_rerun_finishes_exactly_once(tmp_path: Path, listing: Path, bares: list[Path],
                                       release: Path, sid: int) -> None:
    """Release the gates; once the remotes' side is done, the rerun pushes what is missing,
    nothing twice, and the journal says pushed for every repository."""
    release.touch()
    wait_for(lambda: not session_processes(sid), "the remotes' hooks to finish", timeout=30)
    again = fleet("run", "--repos", str(listing), "--workdir", str(tmp_path / "work"),
                  "-j", "2", cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert [updates(b) for b in bares] == [1] * len(bares)
    table = status_json(tmp_path / "work", tmp_path)
    assert {str(row["status"]) for row in table.values()} == {"pushed"}, table
    for bare in bares:
        assert table[str(bare)]["commit"] == git(bare, "rev-parse", BRANCH)


@pytest.mark.parametrize("moment", ["first-clone", "after-pushes", "push-in-flight", "serial"])
def test_sigkill_of_the_main_process_leaves_nothing_pushing(
    tmp_path: Path, moment: str, session: list[subprocess.Popen[bytes]],
) -> None:
    """Only the run's pid is killed (as the OOM killer or a runner would): its git processes
    must go with it, and the rerun finishes the fleet."""
    bares, release = build(tmp_path, 6, gated=0 if moment == "after-pushes" else 3)
    listing = write_list(tmp_path / "repos.txt", bares)
    state = tmp_path / "work" / "ciswitch-fleet.sqlite"
    child = start(tmp_path, listing, "-j", "1" if moment == "serial" else "2")
    session.append(child)
    if moment == "first-clone":
        wait_for(lambda: "pending" in journal_statuses(state), "a pending row", child=child)
    elif moment == "after-pushes":
        wait_for(lambda: journal_statuses(state).count("pushed") >= 2, "two pushes",
                 child=child)
    else:
        wait_for(lambda: waiting(tmp_path) >= (1 if moment == "serial" else 2),
                 "pushes in flight", child=child)
        # the pushes are seen (in the watchdog's process group, in the run's session)
        pushes = [cmd for _pid, cmd in client_processes(child.pid) if " push " in cmd]
        assert len(pushes) >= (1 if moment == "serial" else 2), client_processes(child.pid)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    wait_for(lambda: not client_processes(child.pid), "the run's processes to die", timeout=10)
    # a remote may still complete a push it had accepted (its receive-pack outlives the
    # client); the rerun must then find it done rather than push again
    assert_rerun_finishes_exactly_once(tmp_path, listing, bares, release, child.pid)


def test_a_second_run_on_the_same_journal_stops_at_once_naming_the_holder(
    tmp_path: Path, session: list[subprocess.Popen[bytes]],
) -> None:
    bares, release = build(tmp_path, 4, gated=2)
    listing = write_list(tmp_path / "repos.txt", bares)
    first = start(tmp_path, listing, "-j", "2")
    session.append(first)
    wait_for(lambda: waiting(tmp_path) >= 1, "a push in flight", child=first)
    second = fleet("run", "--repos", str(listing), "--workdir", str(tmp_path / "work"),
                   cwd=tmp_path)
    assert second.returncode == 2
    assert second.stderr.count("\n") == 1 and f"pid {first.pid}" in second.stderr
    assert "another fleet run" in second.stderr and second.stdout == ""
    # a status read is no run: it works meanwhile
    assert fleet("status", "--workdir", str(tmp_path / "work"), cwd=tmp_path).returncode == 0
    release.touch()
    assert first.wait(60) == 0
    assert [updates(b) for b in bares] == [1] * 4
    table = status_json(tmp_path / "work", tmp_path)
    assert {str(row["status"]) for row in table.values()} == {"pushed"}
    runs = fleet("status", "--workdir", str(tmp_path / "work"), "--all-runs", "--format",
                 "json", cwd=tmp_path)
    assert {r["run"] for r in __import__("json").loads(runs.stdout)["repositories"]} == {1}
    # once the first run is over, the lock is free again
    after = fleet("run", "--repos", str(listing), "--workdir", str(tmp_path / "work"),
                  cwd=tmp_path)
    assert after.returncode == 0 and "already pushed" in after.stdout


def _stopped_within(child: subprocess.Popen[bytes], seconds: float, how: str) -> bytes:
    """The run's stderr once it has stopped; when it does not stop in time, the failure says
    which of its processes were still there and what it had printed."""
    try:
        return child.communicate(timeout=seconds)[1]
    except subprocess.TimeoutExpired:
        left = "\n".join(f"  {pid} {cmd}" for pid, cmd in session_processes(child.pid))
        for pid, _cmd in session_processes(child.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        err = child.communicate(timeout=10)[1].decode("utf-8", "replace")
        pytest.fail(f"the run did not stop within {seconds:g} s of {how}; its processes:\n"
                    f"{left}\nits stderr:\n{err}")


def _read_all(fd: int, sink: list[bytes]) -> None:
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            return
        if not data:
            return
        sink.append(data)


def test_ctrl_c_exits_130_cleanly_and_the_rerun_resumes(
    tmp_path: Path, session: list[subprocess.Popen[bytes]],
) -> None:
    """^C reaches the whole foreground group, as from a terminal; the run is on a terminal
    (the live progress bar)."""
    bares, release = build(tmp_path, 6, gated=3)
    listing = write_list(tmp_path / "repos.txt", bares)
    state = tmp_path / "work" / "ciswitch-fleet.sqlite"
    master, slave = pty.openpty()
    child = start(tmp_path, listing, "-j", "2", stdout=slave, stderr=subprocess.PIPE)
    session.append(child)
    os.close(slave)
    out: list[bytes] = []
    reader = threading.Thread(target=_read_all, args=(master, out), daemon=True)
    reader.start()
    wait_for(lambda: waiting(tmp_path) >= 2, "pushes in flight", child=child)
    os.killpg(child.pid, signal.SIGINT)
    raw = _stopped_within(child, 30, "^C")
    err = raw.decode()
    assert child.returncode == 130, err
    reader.join(10)
    os.close(master)
    text = b"".join(out).decode("utf-8", "replace")
    assert "Traceback" not in err + text
    assert err.startswith("ciswitch: interrupted: ") and err.count("\n") == 1, err
    assert text.endswith("\n"), repr(text[-200:])
    assert "interrupted after" in text
    wait_for(lambda: not client_processes(child.pid), "the run's processes to end", timeout=10)
    statuses = journal_statuses(state)
    assert set(statuses) <= {"pushed", "pending"} and statuses.count("pending") >= 2
    assert statuses.count("pushed") <= len([b for b in bares if updates(b)])
    assert_rerun_finishes_exactly_once(tmp_path, listing, bares, release, child.pid)


def test_pause_between_batches_says_so(tmp_path: Path) -> None:
    bares = [make_repo(tmp_path / "src", f"p{i}", "clean") for i in range(3)]
    listing = write_list(tmp_path / "repos.txt", bares)
    proc = fleet("run", "--repos", str(listing), "--workdir", str(tmp_path / "work"),
                 "--batch-size", "2", "--pause", "0.2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "pausing 0.2s before batch 2/2" in lines
    assert lines.index("pausing 0.2s before batch 2/2") == 2  # after the first batch's two


def test_sigterm_stops_like_ctrl_c_with_exit_143(
    tmp_path: Path, session: list[subprocess.Popen[bytes]],
) -> None:
    """A cancelled CI job gets SIGTERM (the main process only)."""
    bares, release = build(tmp_path, 4, gated=2)
    listing = write_list(tmp_path / "repos.txt", bares)
    child = start(tmp_path, listing, "-j", "2", stderr=subprocess.PIPE)
    session.append(child)
    wait_for(lambda: waiting(tmp_path) >= 1, "a push in flight", child=child)
    os.kill(child.pid, signal.SIGTERM)
    raw = _stopped_within(child, 30, "SIGTERM")
    assert child.returncode == 143, raw
    assert raw.decode().startswith("ciswitch: interrupted: ") and b"Traceback" not in raw
    wait_for(lambda: not client_processes(child.pid), "the run's processes to end", timeout=10)
    assert_rerun_finishes_exactly_once(tmp_path, listing, bares, release, child.pid)
