"""Execute a runner-side step of the runbook: the three werf commands and the block file removal.

Each of these changes shared state (the registry, the runner's local stages, the block file that
decides whether branches on ``:local`` still build), so the exact command is always shown and
confirmed first, werf's own output streams through untouched (it is long-running and its
progress matters), and werf's exit code is the result: a failed sync must stop a script.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ciswitch.errors import CiswitchError
from ciswitch.runbook.facts import WerfInfo, werf_switch_args, werf_sync_args
from ciswitch.runbook.guard import SwitchVerdict
from ciswitch.runbook.plan import RUNNABLE, Plan

#: exit code when the user declines the confirmation (nothing ran)
DECLINED = 1
#: exit code when the guard refuses the switch (nothing ran), like every other refusal of a
#: step whose preconditions are not met
REFUSED = 2


class SwitchRefused(CiswitchError):
    """The guard found the switch unsafe; ``verdict`` says what failed."""

    def __init__(self, verdict: SwitchVerdict) -> None:
        super().__init__(
            f"--run switch refused, nothing ran: {verdict.missing()} "
            "(--force runs it anyway)"
        )
        self.verdict = verdict


@dataclass(frozen=True)
class Action:
    """What ``--run KEY`` will do: a werf command, or removing a file."""

    key: str
    #: the full argv for werf steps (executable first); empty for ``unblock``
    argv: tuple[str, ...] = ()
    #: the block file for ``unblock`` (and the one ``switch`` is expected to create)
    path: Path | None = None
    warning: str = ""
    #: a doubt worth printing that does not stop the step (an unparsable werf version)
    notice: str = ""
    #: for ``switch``: what was verified before it (see :mod:`ciswitch.runbook.guard`)
    verdict: SwitchVerdict | None = None
    #: ``--force``: run the switch although checks of ``verdict`` failed
    forced: bool = False

    def shown(self) -> str:
        """The command as shown before confirmation."""
        import shlex

        if self.argv:
            return shlex.join(self.argv)
        return f"rm {shlex.quote(str(self.path))}"


def _need_werf(werf: WerfInfo | None) -> str:
    if werf is None or werf.path is None:
        raise CiswitchError(
            "werf is not on PATH: run this step on the runner host where werf is installed, "
            "or pass --werf PATH"
        )
    if werf.version is not None and werf.problem:
        raise CiswitchError(werf.problem)
    return werf.path


def check_ready(plan: Plan, key: str) -> None:
    """The facts ``--run key`` needs on this host (the step exists, the address or project
    name is known, werf is suitable), checked before anything slower: a one-line
    :class:`CiswitchError` naming what is missing."""
    if key not in RUNNABLE:
        raise CiswitchError(f"--run: unknown step {key!r} (one of {', '.join(RUNNABLE)})")
    facts = plan.facts
    if key == "unblock":
        if facts.block_file is None:
            raise CiswitchError(f"--run unblock: {facts.project.problem}")
        return
    if facts.address.address is None:
        raise CiswitchError(f"--run {key}: the stages address is unknown: {facts.address.problem}")
    _need_werf(facts.werf)


def prepare(
    plan: Plan, key: str, *, verdict: SwitchVerdict | None = None, force: bool = False,
) -> Action:
    """Check that ``key`` can run with the facts at hand and say exactly what it will do.

    Raises :class:`CiswitchError` (one line: what is missing and which option supplies it)
    before anything is touched. ``switch`` needs the guard's ``verdict``
    (:func:`ciswitch.runbook.guard.verify_switch`): without one, or with a failed check and
    no ``force``, it is refused (:class:`SwitchRefused`).
    """
    check_ready(plan, key)
    facts = plan.facts
    if key == "unblock":
        assert facts.block_file is not None
        return Action(key, path=facts.block_file)
    if key == "switch":
        if verdict is None:
            raise CiswitchError("--run switch: the change was not verified, so it does not run")
        if not verdict.allowed and not force:
            raise SwitchRefused(verdict)
    werf = _need_werf(facts.werf)
    address = facts.address.address
    assert address is not None
    if key == "sync":
        args = werf_sync_args(":local", address)
    elif key == "rollback-sync":
        args = werf_sync_args(address, ":local")
    else:
        args = werf_switch_args(address)
    notice = facts.werf.problem if facts.werf is not None and facts.werf.version is None else ""
    return Action(key, (werf, *args), facts.block_file, plan.step(key).warning, notice,
                  verdict=verdict if key == "switch" else None,
                  forced=force and verdict is not None and not verdict.allowed)


def _record(cwd: Path, action: Action, echo: Callable[[str], None]) -> None:
    """Note the step in this clone's runbook record, which ``status`` follows."""
    from ciswitch.runbook.record import record_step

    problem = record_step(cwd, action.key, action.path)
    if problem:
        echo(f"note: {problem}")


def execute(
    action: Action,
    *,
    cwd: Path,
    confirm: Callable[[str], bool],
    echo: Callable[[str], None],
    environ: Mapping[str, str] | None = None,
) -> int:
    """Show, confirm and run ``action``; returns the exit code for the CLI.

    ``confirm`` gets the question and returns the answer (the CLI passes ``click.confirm`` or,
    with ``--yes``, a function that says yes). ``echo`` prints ciswitch's own lines (to
    stderr, so that werf's stdout stays clean for whoever pipes it).
    """
    env = dict(os.environ if environ is None else environ)
    if action.key == "switch":
        if action.verdict is None:
            raise CiswitchError("--run switch: the change was not verified, so it does not run")
        if not action.verdict.allowed and not action.forced:
            raise SwitchRefused(action.verdict)
        echo("verified before the switch:")
        for line in action.verdict.lines():
            echo(f"  {line}")
        if action.forced:
            echo(f"WARNING: --force: switching without: {action.verdict.missing()}")
    if action.notice:
        echo(f"note: {action.notice}")
    if action.warning:
        echo(f"WARNING: {action.warning}")
    if action.key == "unblock":
        assert action.path is not None
        if not action.path.exists():
            echo(f"no block file at {action.path}: nothing to remove")
            return 0
        echo(f"will run: {action.shown()}")
        if not confirm("Remove the block file?"):
            echo("not run")
            return DECLINED
        try:
            action.path.unlink()
        except OSError as err:
            raise CiswitchError(f"cannot remove: {err.strerror}", str(action.path)) from err
        echo(f"removed {action.path}")
        _record(cwd, action, echo)
        return 0

    echo(f"will run in {cwd}: {action.shown()}")
    if not confirm("Run it?"):
        echo("not run")
        return DECLINED
    try:
        done = subprocess.run(list(action.argv), cwd=cwd, env=env, check=False)
    except OSError as err:
        raise CiswitchError(f"cannot run werf: {err.strerror}", action.argv[0]) from err
    if done.returncode != 0:
        echo(f"werf failed with exit code {done.returncode}; stopped here")
        return done.returncode
    echo(f"done: {action.shown()}")
    _record(cwd, action, echo)
    if action.key == "switch":
        if action.path is None:
            echo("the werf project name is unknown: cannot check for the block file")
        elif action.path.exists():
            echo(f"block file written: {action.path} (:local is refused on this host from now on)")
        else:
            echo(f"note: no block file at {action.path}; werf wrote it under another WERF_HOME "
                 "or project name")
    return 0
