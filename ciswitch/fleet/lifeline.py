"""Tie every process of a fleet run to the run: when it dies, nothing goes on pushing.

A ``fleet run -j N`` is a main process (the only journal writer), multiprocessing's fork
server, N workers and their git processes. Killed with SIGKILL, the main process cannot tell
anyone; without help the others would live on and finish their pushes while nobody records
them, racing the rerun. So:

* **git processes** (of the main process and of the workers) are started in one process
  group, that of a small watchdog the main process starts once per run (``sh``, reading a
  pipe only the main process holds). When the main process dies, however it dies, the
  kernel closes the pipe; the watchdog then sends the group SIGTERM (git removes its lock
  files and exits, as on ^C) and, a moment later, SIGKILL. Joining a group costs git
  nothing: the kernel does it between fork and exec, so Python still starts git with
  ``vfork``, where running code in the child (a ``preexec_fn``) would make every git
  process a full ``fork`` of the interpreter. On ^C or SIGTERM the main process stops the
  workers and lets the watchdog stop the group the same way; at a normal end it tells the
  watchdog to leave.
* **the fork server and the workers**, on Linux, ask the kernel to kill them when their
  parent dies (``prctl(PR_SET_PDEATHSIG, SIGKILL)``, once per process): the fork server when
  the main process dies, workers when the fork server dies. Each then checks that its parent
  did not die before the request took effect.
* everywhere, a worker checks before every push that the main process is still there
  (:func:`check_parent`): a push is what must never happen for a run that is gone.

The fork server arms itself when it imports this module (it is in its preload list), which it
recognises by :data:`ENV` naming its parent; workers arm in :func:`worker_init`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable

from ciswitch.errors import CiswitchError

#: the pid of the main process of a fleet run, for the processes it starts
ENV = "CISWITCH_FLEET_PID"
_PR_SET_PDEATHSIG = 1
#: seconds between the watchdog's SIGTERM and its SIGKILL of the group
GRACE = 2
#: the watchdog: ignore the signals it sends its own group, wait for the pipe to close, then
#: stop the group; the line ``exit`` (a normal end of the run) makes it leave quietly
WATCHDOG = (
    "trap '' TERM INT HUP; read -r line; [ \"$line\" = exit ] && exit 0; "
    f"kill -s TERM 0; sleep {GRACE}; kill -s KILL 0"
)

#: the pid of the run's main process, in the processes tied to it
_main_pid: int | None = None
#: the main process's watchdog (None: not tied)
_watchdog: subprocess.Popen[bytes] | None = None


def _prctl() -> Callable[[int, int], int] | None:
    """``prctl`` from the C library, resolved once."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        function: Callable[[int, int], int] = libc.prctl
    except (OSError, AttributeError):
        return None
    return function


_PRCTL = _prctl()


def die_with_parent(expected_parent: int) -> bool:
    """Ask to be killed when the parent dies; exit at once when it already has.

    Returns whether the kernel took the request (Linux); elsewhere only the parent checks
    protect the run.
    """
    armed = _PRCTL is not None and _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGKILL)) == 0
    if os.getppid() != expected_parent:
        os._exit(1)
    return armed


def main_alive() -> bool:
    """Whether the run's main process still exists (always true outside a worker)."""
    if _main_pid is None:
        return True
    try:
        os.kill(_main_pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_parent() -> None:
    """Raise before a push when the run that asked for it is gone."""
    if not main_alive():
        raise CiswitchError(
            f"the fleet run (pid {_main_pid}) that started this worker is gone: not pushing"
        )


def group() -> int | None:
    """The process group of the run's git processes (the watchdog's), in the main process."""
    return None if _watchdog is None else _watchdog.pid


def tie_main() -> None:
    """In the main process: start the watchdog, start git in its group; the processes it
    starts (the fork server) know the main process's pid."""
    from ciswitch import gitops

    global _watchdog
    try:
        _watchdog = subprocess.Popen(
            ["/bin/sh", "-c", WATCHDOG], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, process_group=0,
        )
    except OSError as err:
        raise CiswitchError(f"cannot start the run's watchdog (/bin/sh): {err}") from err
    os.environ[ENV] = str(os.getpid())
    gitops.tie_children(_watchdog.pid, None)


def untie_main(*, stop: bool = False) -> None:
    """The run is over: git starts in no group any more. With ``stop`` (^C, SIGTERM) the
    watchdog stops what is left of the group (SIGTERM, then SIGKILL); else it just leaves."""
    from ciswitch import gitops

    global _watchdog
    os.environ.pop(ENV, None)
    gitops.tie_children(None, None)
    watchdog, _watchdog = _watchdog, None
    if watchdog is None or watchdog.stdin is None:
        return
    with contextlib.suppress(OSError):
        if not stop:
            watchdog.stdin.write(b"exit\n")
        watchdog.stdin.close()
    if not stop:
        with contextlib.suppress(subprocess.TimeoutExpired):
            watchdog.wait(5)
        return
    with contextlib.suppress(OSError):  # the group, now, without waiting for the watchdog
        os.killpg(watchdog.pid, signal.SIGTERM)


def worker_init(main_pid: int, process_group: int | None) -> None:
    """Initializer of every worker process: ^C is the main process's business (it stops the
    workers itself, so they print no traceback), die with the fork server, check the main
    process before every push, and start git in the run's group."""
    from ciswitch import gitops

    global _main_pid
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _main_pid = main_pid
    die_with_parent(os.getppid())
    if not main_alive():
        os._exit(1)
    gitops.tie_children(process_group, check_parent)


def _arm_fork_server() -> None:
    """Run at import: in the fork server of a fleet run (the run's main process started it
    and named itself in :data:`ENV`), die with the main process, or exit at once when the
    main process is already gone."""
    parent = os.environ.get(ENV)
    if (parent is None or not parent.isdigit() or parent == str(os.getpid())
            or "multiprocessing.forkserver" not in sys.modules):
        return
    die_with_parent(int(parent))


_arm_fork_server()
