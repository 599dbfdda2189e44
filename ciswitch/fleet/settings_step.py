"""``--gitlab-settings`` of ``fleet run`` and ``fleet switch``: ``fix --gitlab`` for each project,
as a step of the procedure.

The project's CI/CD variables in GitLab's settings are read, the change branch's tree is
linted with them (what the project runs once the merge request is merged), and each ``:local``
among them is deleted (``--to``: set to the address) through the API as ``fix --gitlab`` does:
group and instance variables only with ``--shared``, synchronization only with
``--unsafe-fixes``, one a job would be left without storage by only with ``--to``. Every change
is journaled with the old value in the project's clone in the workdir
(``<clone>/ciswitch/gitlab-settings.jsonl``), so ``ciswitch revert --gitlab CLONE`` puts it
back. ``fleet switch`` runs the step right before the switch of each project, so its jobs leave
``:local`` when the switch makes them; ``fleet run`` right after opening the merge request.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ciswitch.errors import CiswitchError
from ciswitch.redact import redact

if TYPE_CHECKING:
    from collections.abc import Callable

    from ciswitch.branching import BranchRequest
    from ciswitch.fleet.journal import RepoOutcome
    from ciswitch.fleet.sources import RepoSpec
    from ciswitch.fleet.steps import Steps

#: the procedure step's name in the step table
STEP = "gitlab-settings"


@dataclass(frozen=True)
class SettingsFix:
    """How the step changes the settings (picklable: workers get it)."""

    gitlab_url: str
    to: str | None = None
    unsafe: bool = False
    shared: bool = False
    dry_run: bool = False


@dataclass(frozen=True)
class SettingsResult:
    """``clean`` (nothing to change), ``done``, ``left`` (some kept, with why), ``failed`` or
    ``dry-run``; ``lines`` say each variable's change."""

    status: str
    detail: str
    lines: tuple[str, ...] = ()


def fix_project_settings(spec: RepoSpec, clone: Path, fix: SettingsFix,
                         revs: tuple[str, ...] = ("HEAD",)) -> SettingsResult:
    """The step for one project; never raises. ``revs``: the trees to lint, the first that
    exists (the change branch, else the default branch)."""
    from ciswitch import gitops
    from ciswitch.config import load_config
    from ciswitch.fleet.api import client_for, head_workspace, project_path
    from ciswitch.lint import analyse_workspace
    from ciswitch.runbook.settings import read_settings
    from ciswitch.runbook.settings_fix import apply_settings_fix, journal_path, plan_settings_fix

    try:
        client = client_for(fix.gitlab_url)
        settings = read_settings(client, project_path(spec, fix.gitlab_url))
        repo = gitops.open_repo(clone)
        try:
            rev = next((r for r in revs if gitops.resolve_commit(repo, r) is not None), "HEAD")
        finally:
            repo.close()
        ws = head_workspace(clone, rev)
        findings = analyse_workspace(ws, load_config(ws), to=fix.to,
                                     settings=settings).result.findings
        steps = plan_settings_fix(findings, settings, to=fix.to, unsafe=fix.unsafe,
                                  shared=fix.shared)
        if not steps:
            return SettingsResult("clean", "gitlab settings: no :local")
        lines = tuple(step.line() for step in steps)
        changing = [s for s in steps if s.action != "leave"]
        left = [s for s in steps if s.action == "leave"]
        if fix.dry_run:
            return SettingsResult("dry-run", f"gitlab settings: would change {len(changing)}, "
                                             f"leave {len(left)}", lines)
        journal = journal_path(clone)
        if journal is None:
            raise CiswitchError("the clone has no git directory to journal the changes in")
        failures = apply_settings_fix(client, steps, journal, lambda _line: None)
    except CiswitchError as err:
        return SettingsResult("failed", redact(f"gitlab settings: {err}"))
    if failures:
        return SettingsResult("failed", f"gitlab settings: {len(failures)} change(s) failed: "
                                        f"{failures[0]}", lines)
    if left:
        return SettingsResult("left", f"gitlab settings: {len(changing)} changed, "
                                      f"{len(left)} left: {left[0].line()}", lines)
    return SettingsResult("done", f"gitlab settings: {len(changing)} changed (journaled)", lines)


def with_settings(spec: RepoSpec, clone: Path, request: BranchRequest, outcome: RepoOutcome,
                  fix: SettingsFix | None) -> RepoOutcome:
    """``fleet run``: the step after the merge request opened; its result in the outcome."""
    from ciswitch.fleet.journal import Status

    if fix is None or outcome.status not in (Status.MR_OPENED, Status.PARTIAL, Status.PUSHED,
                                             Status.CLEAN, Status.DRY_RUN):
        return outcome
    # the tree of the change: the local branch (--no-push), else the branch as pushed (a
    # fleet clone pushes its commit without a local branch), else the default branch
    revs = (f"refs/heads/{request.branch}",
            *((f"refs/remotes/origin/{request.branch}",) if outcome.status in (
                Status.MR_OPENED, Status.PARTIAL, Status.PUSHED) else ()),
            "HEAD")
    result = fix_project_settings(spec, clone, replace(fix, dry_run=request.dry_run), revs)
    if result.status == "clean":
        return outcome
    detail = f"{outcome.detail}; {result.detail}" if outcome.detail else result.detail
    if result.status == "failed":
        return replace(outcome, status=Status.FAILED, detail=detail)
    if result.status == "left" and outcome.status != Status.DRY_RUN:
        return replace(outcome, status=Status.PARTIAL, detail=detail)
    return replace(outcome, detail=detail)


def before_switch(spec: RepoSpec, clone: Path, branch: str, fix: SettingsFix,
                  steps: Steps, echo: Callable[[str], None]) -> None:
    """``fleet switch``: the step right before the project's verification, in the step
    table; the verification then refuses the switch while a ``:local`` still reaches a job."""
    from ciswitch.fleet import steps as st

    if not fix.dry_run:
        steps.put(spec.key, STEP, st.RUNNING, "changing GitLab's CI/CD settings",
                  name=spec.name)
    result = fix_project_settings(spec, clone, fix, (f"refs/remotes/origin/{branch}", "HEAD"))
    for line in result.lines:
        echo(f"{spec.name}:   {'would ' if fix.dry_run else ''}{line}")
    echo(f"{spec.name}: {result.detail}")
    if fix.dry_run:
        return
    status = {"clean": st.SKIPPED, "done": st.DONE, "left": st.DONE}.get(result.status,
                                                                         st.FAILED)
    steps.put(spec.key, STEP, status, result.detail, name=spec.name)
