"""Tie every process of a fleet run to the run: when it dies, nothing goes on pushing.

A ``fleet run -j N`` is one process (its worker threads share it) and the git processes it
starts. Killed with SIGKILL, that process cannot tell anyone; without help its git processes
would live on and finish their pushes while nobody records them, racing the rerun. So:

* **git processes** are started in one process group, that of a small watchdog the run
  starts once (``sh``, reading a pipe only the run holds). When the run dies, however it
  dies, the kernel closes the pipe; the watchdog then sends the group SIGTERM (git removes
  its lock files and exits, as on ^C) and, a moment later, SIGKILL. Joining a group costs git
  nothing: the kernel does it between fork and exec, so Python still starts git with
  ``vfork``, where running code in the child (a ``preexec_fn``) would make every git process
  a full ``fork`` of the interpreter.
* **on ^C or SIGTERM** the run stops: no push starts any more (every push asks
  :func:`check_running` first), the watchdog is told to stop the group the same way, and a
  git process a worker thread tries to start afterwards is refused (its group is gone).
* **at a normal end** the run tells the watchdog to leave.

The worker threads need nothing of their own: they die with the process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading

from ciswitch.errors import CiswitchError

#: seconds between the watchdog's SIGTERM and its SIGKILL of the group
GRACE = 2
#: the watchdog: ignore the signals it sends its own group, wait for the pipe to close, then
#: stop the group; the line ``exit`` (a normal end of the run) makes it leave quietly
WATCHDOG = (
    "trap '' TERM INT HUP; read -r line; [ \"$line\" = exit ] && exit 0; "
    f"kill -s TERM 0; sleep {GRACE}; kill -s KILL 0"
)

#: the run's watchdog (None: not tied)
_watchdog: subprocess.Popen[bytes] | None = None
#: set when the run is being stopped: no push may start any more
_stopping = threading.Event()


def check_running() -> None:
    """Raise before a push when the run is being stopped (^C, SIGTERM)."""
    if _stopping.is_set():
        raise CiswitchError("the fleet run is being stopped: not pushing")


def tie_main() -> None:
    """Start the watchdog; from now on git starts in its group and every push asks
    :func:`check_running` first."""
    from ciswitch import gitops

    global _watchdog
    try:
        _watchdog = subprocess.Popen(
            ["/bin/sh", "-c", WATCHDOG], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, process_group=0,
        )
    except OSError as err:
        raise CiswitchError(f"cannot start the run's watchdog (/bin/sh): {err}") from err
    _stopping.clear()
    gitops.tie_children(_watchdog.pid, check_running)


def untie_main(*, stop: bool = False) -> None:
    """The run is over. With ``stop`` (^C, SIGTERM): no push starts any more, and the
    watchdog stops what is left of the group (SIGTERM, then SIGKILL); git processes the
    worker threads try to start later are refused, the group being gone. Else git starts in
    no group any more and the watchdog just leaves."""
    from ciswitch import gitops

    global _watchdog
    if stop:
        _stopping.set()  # before the group goes: a thread between two git calls must not push
    else:
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
