"""Tie every process of a fleet run to the run: when it dies, nothing goes on pushing.

A ``fleet run -j N`` is a main process (the only journal writer), multiprocessing's fork
server, N workers and their git processes. Killed with SIGKILL, the main process cannot tell
anyone; without help the others would live on and finish their pushes while nobody records
them, racing the rerun. So, on Linux, each process asks the kernel to kill it when its parent
dies (``prctl(PR_SET_PDEATHSIG, SIGKILL)``): the fork server when the main process dies,
workers when the fork server dies, git when its worker (or the main process) dies. Each then
checks that its parent did not die before the request took effect. Everywhere, a worker also
checks before every push that the main process is still there (:func:`check_parent`).

The fork server arms itself when it imports this module (it is in its preload list), which it
recognises by :data:`ENV` naming its parent; workers arm in :func:`worker_init`.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

from ciswitch.errors import CiswitchError

#: the pid of the main process of a fleet run, for the processes it starts
ENV = "CISWITCH_FLEET_PID"
_PR_SET_PDEATHSIG = 1

#: the pid of the run's main process, in the processes tied to it
_main_pid: int | None = None


def _prctl() -> Callable[[int, int], int] | None:
    """``prctl`` from the C library, resolved once (never between fork and exec)."""
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


def _exec_hook() -> Callable[[], None]:
    """What a git child runs between fork and exec: die with the process that started it."""
    parent = os.getpid()

    def setup() -> None:
        if _PRCTL is not None:
            _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
        if os.getppid() != parent:
            os._exit(1)

    return setup


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


def tie_main() -> None:
    """In the main process: git processes die with it; the processes it starts (the fork
    server) know its pid."""
    from ciswitch import gitops

    os.environ[ENV] = str(os.getpid())
    gitops.tie_children(_exec_hook(), None)


def untie_main() -> None:
    from ciswitch import gitops

    os.environ.pop(ENV, None)
    gitops.tie_children(None, None)


def worker_init(main_pid: int) -> None:
    """Initializer of every worker process: ^C is the main process's business (it stops the
    workers itself, so they print no traceback), die with the fork server, check the main
    process before every push, and tie git to the worker."""
    from ciswitch import gitops

    global _main_pid
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _main_pid = main_pid
    die_with_parent(os.getppid())
    if not main_alive():
        os._exit(1)
    gitops.tie_children(_exec_hook(), check_parent)


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
