"""``ciswitch status``: which step of the runbook a project is at, and the next one to take.

The state of a migration is spread over four places that nobody looks at together: the CI
files (do they still say ``:local``?), the default branch on the remote (is the ciswitch commit
merged, or reverted?), the runner host (does werf's block file exist?) and the other branches
(which still carry ``:local`` and break after the switch?). With ``GITLAB_TOKEN`` it also reads
the CI/CD variables GitLab keeps for the project, which win over the files' (a ``:local`` there
keeps the project local after the merge). This module reads them all, without changing
anything but remote-tracking refs (``git fetch``), and names the one next step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ciswitch.errors import CiswitchError
from ciswitch.model import Problem, counted
from ciswitch.runbook.facts import ProjectName, StagesAddress, WerfInfo

if TYPE_CHECKING:
    import git

    from ciswitch.analysis.settings import GitLabSettings

#: the phases, in runbook order
PHASES = (
    "no-local",        # nothing uses :local and no switch happened: nothing to migrate
    "local",           # step 1-2 ahead
    "partial",         # a branch carries the change, but :local is left on it: finish it
    "merge-request",   # the change is on a branch: step 3 next
    "switched",        # the block file exists here but the change is not merged: step 4, now
    "merged",          # the change is on the default branch: step 5 or done
    "done",
    # the rollback, in its order
    "stages-restored",  # R1 ran here after the switch: R2 (remove the block file) next
    "unblocked",        # the block file is gone after R1: R3 (open the revert) next
    "revert-opened",    # a branch on the remote carries the revert: R4-R5 next
    "rolled-back",      # the revert is on the default branch
)


@dataclass
class BranchLeft:
    """A remote branch whose CI still uses :local."""

    name: str
    findings: int
    first: str | None


@dataclass
class ProjectStatus:
    """Everything ``status`` found; ``phase`` and ``next_step`` sum it up."""

    repo: str
    project: ProjectName
    address: StagesAddress
    werf: WerfInfo | None
    #: places in the work tree that still use :local as stages storage (``path:line CODE``)
    work_tree_findings: list[str] = field(default_factory=list)
    #: every lint finding of the work tree (synchronization and the like included)
    work_tree_total: int = 0
    #: places of the work tree's CI that could not be checked (``path:line: not checked: ...``)
    work_tree_not_checked: list[str] = field(default_factory=list)
    #: CI/CD variables of GitLab's settings still setting :local for jobs (``PLACE (jobs)``);
    #: None when they were not read (``settings_note`` says why)
    settings_local: list[str] | None = None
    settings_note: str = ""
    config_state: str | None = None
    config_address: str | None = None
    config_source: str | None = None
    remote: str = "origin"
    #: the address given with --to (it addresses CSW004 places when a branch is checked)
    to: str | None = None
    default_branch: str | None = None
    switch_commit: str | None = None
    switch_subject: str = ""
    revert_commit: str | None = None
    #: remote branches (other than the default one) that carry the ciswitch commit
    change_branches: list[str] = field(default_factory=list)
    #: change branch -> what is left on it (the guard's lint check failed there)
    partial: dict[str, str] = field(default_factory=dict)
    #: remote branches (other than the default one) that carry a ciswitch revert
    revert_branches: list[str] = field(default_factory=list)
    #: the runner steps ``plan --run`` recorded in this clone, oldest first
    steps_run: list[str] = field(default_factory=list)
    #: when each of ``steps_run`` ran (seconds since the epoch; None when unreadable)
    steps_at: list[float | None] = field(default_factory=list)
    #: the committer time of ``switch_commit``: steps recorded before it belong to an
    #: earlier switch (the project switched again after a rollback)
    switch_time: int | None = None
    block_file: Path | None = None
    block_exists: bool | None = None
    #: None when the branches were not scanned
    branches_left: list[BranchLeft] | None = None
    branches_scanned: int = 0
    problems: list[str] = field(default_factory=list)
    #: the work tree's CI configuration could not be read (then nothing about it is known)
    input_errors: list[Problem] = field(default_factory=list)
    phase: str = "local"
    next_step: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "repository": self.repo,
            "phase": self.phase,
            "next_step": self.next_step,
            "project": self.project.name,
            "stages_address": self.address.address,
            "werf": (str(self.werf.version) if self.werf and self.werf.version else None),
            "work_tree": {"local_places": self.work_tree_findings,
                          "findings": self.work_tree_total,
                          "not_checked": self.work_tree_not_checked},
            "gitlab_settings": {"local": self.settings_local, "note": self.settings_note},
            "config": {"stages_storage": self.config_state, "address": self.config_address,
                       "source": self.config_source},
            "default_branch": {"remote": self.remote, "name": self.default_branch,
                               "ciswitch_commit": self.switch_commit,
                               "revert_commit": self.revert_commit},
            "change_branches": self.change_branches,
            "partial": self.partial,
            "revert_branches": self.revert_branches,
            "steps_run_here": self.steps_run,
            "block_file": {"path": str(self.block_file) if self.block_file else None,
                           "exists": self.block_exists},
            "branches_with_local": (None if self.branches_left is None else
                                    [{"branch": b.name, "findings": b.findings,
                                      "first": b.first} for b in self.branches_left]),
            "branches_scanned": self.branches_scanned,
            "problems": self.problems,
        }


def _work_tree(status: ProjectStatus, root: Path, settings: GitLabSettings | None) -> None:
    """Lint the work tree (with GitLab's CI/CD settings when read) and read its
    ``.ciswitch.toml``."""
    from ciswitch.branch_scan import STORAGE_CODES
    from ciswitch.config import load_config
    from ciswitch.lint import analyse_workspace, unreadable
    from ciswitch.runbook.guard import SETTINGS_CODE
    from ciswitch.workspace import DirectoryWorkspace

    ws = DirectoryWorkspace(root)
    config = load_config(ws)
    status.config_state = config.stages_storage
    status.config_address = config.stages_storage_address
    status.config_source = config.source
    result = analyse_workspace(ws, config, settings=settings).result
    if settings is not None:
        status.settings_local = [f"{f.path} ({', '.join(f.jobs)})" for f in result.findings
                                 if f.code == SETTINGS_CODE and f.jobs]
        status.settings_note = "; ".join(e.message for e in result.not_checked
                                         if not e.in_file)
        result.findings = [f for f in result.findings if f.code != SETTINGS_CODE]
    status.work_tree_total = len(result.findings)
    status.work_tree_findings = [
        f"{f.path}:{f.begin.line} {f.code}"
        for f in sorted(result.findings, key=lambda f: f.sort_key) if f.code in STORAGE_CODES
    ]
    status.problems += [p.one_line() for p in result.problems]
    status.input_errors = unreadable(result.problems)
    status.work_tree_not_checked = [e.one_line() for e in result.not_checked if e.in_file]


def _read_settings(status: ProjectStatus, root: Path, gitlab_url: str | None,
                   env: Mapping[str, str]) -> GitLabSettings | None:
    from ciswitch import gitops
    from ciswitch.runbook.guard import read_project_settings

    repo = gitops.open_repo(root)
    try:
        settings, unread = read_project_settings(repo, status.remote, gitlab_url, env)
    finally:
        repo.close()
    if unread is not None:
        status.settings_note = unread.detail
    return settings


def _settings_step(status: ProjectStatus) -> None:
    """A :local left in GitLab's settings comes before the rest: it wins over the files."""
    if not status.settings_local:
        return
    first = status.settings_local[0]
    more = f" and {len(status.settings_local) - 1} more" if len(status.settings_local) > 1 \
        else ""
    delete = (f"delete the :local CI/CD variables GitLab keeps for the project ({first}{more}): "
              "they win over the files and werf ci-env does not override them "
              "(ciswitch fix --gitlab)")
    if status.phase in ("no-local", "done"):
        status.phase = "local" if status.phase == "no-local" else "merged"
        status.next_step = delete
    elif status.phase in ("local", "partial", "merge-request"):
        status.next_step = f"{delete}; then {status.next_step}"
    elif status.phase in ("switched", "merged"):
        status.next_step = f"{status.next_step}; and {delete}"

def _remote_side(status: ProjectStatus, root: Path, *, fetch: bool, scan: bool) -> None:
    """The default branch (switch and revert commits) and the other branches."""
    from ciswitch import branch_scan, gitops
    from ciswitch.runbook.guard import lint_checks
    from ciswitch.runbook.revert import reverted_by

    repo = gitops.open_repo(root)
    try:
        gitops.get_remote(repo, status.remote)
    except CiswitchError as err:
        status.problems.append(err.message)
        return
    try:
        status.default_branch = gitops.default_branch(repo, status.remote)
    except gitops.NoDefaultBranch as err:
        status.problems.append(
            f"{err.message}; tell git with `git remote set-head {status.remote} BRANCH`")
        return
    if scan:
        result = branch_scan.scan_branches(repo, status.remote, fetch=fetch)
        status.branches_scanned = len(result.branches)
        status.branches_left = [BranchLeft(b.name, b.findings, b.first)
                                for b in result.branches if b.carries_local]
        status.change_branches = [b.name for b in result.branches
                                  if b.has_change and b.name != status.default_branch]
        status.problems += [f"{b.name}: {p}" for b in result.branches for p in b.problems]
        by_name = {b.name: b for b in result.branches}
        for name in status.change_branches:
            check = lint_checks(repo, status.remote, name, by_name[name].sha, status.to)[0]
            if check.state != "passed":
                status.partial[name] = check.detail
    elif fetch:
        gitops.fetch_branch(repo, status.remote, status.default_branch)
    base = gitops.resolve_commit(repo, f"refs/remotes/{status.remote}/{status.default_branch}")
    if base is None:
        status.problems.append(f"{status.remote}/{status.default_branch} is not fetched")
        return
    found = gitops.trailer_commits(repo, base, max_count=1)
    if found:
        status.switch_commit = found[0]
        subject, _, stamp = gitops.run_git(repo, "cannot read the commit", "log", "-1",
                                           "--format=%s%x00%ct", found[0]).strip().rpartition("\0")
        status.switch_subject = subject
        status.switch_time = int(stamp) if stamp.isdigit() else None
        status.revert_commit = reverted_by(repo, base, found[0])
        if status.revert_commit is None:
            status.revert_branches = _revert_branches(repo, status, base, found[0])


def _revert_branches(repo: git.Repo, status: ProjectStatus, base: str, switch: str
                     ) -> list[str]:
    """Remote branches carrying a ciswitch revert of ``switch`` that is not on the default
    branch yet (the revert's merge request is open)."""
    from ciswitch import gitops
    from ciswitch.runbook.revert import REVERT_VALUE

    prefix = f"refs/remotes/{status.remote}/"
    names: list[str] = []
    for ref in sorted(gitops.refs_with_trailer(repo, prefix, value=REVERT_VALUE)):
        name = ref[len(prefix):]
        if name in (status.default_branch, "HEAD"):
            continue
        pending = gitops.trailer_commits(repo, f"{base}..{ref}", value=REVERT_VALUE,
                                         max_count=1)
        if pending and gitops.is_ancestor(repo, switch, pending[0]):
            names.append(name)
    return names


def _rollback_step(status: ProjectStatus) -> bool:
    """The rollback phases (see :data:`PHASES`); False when no rollback is under way."""
    current = [step for step, at in zip(status.steps_run, status.steps_at, strict=True)
               if status.switch_time is None or at is None or at >= status.switch_time]
    after_switch = since_last_switch(current)
    restored = "rollback-sync" in after_switch
    unblocked = "unblock" in after_switch
    if status.switch_commit and status.revert_commit:
        status.phase = "rolled-back"
        if status.block_exists:
            status.next_step = ("rollback 2: remove the block file on this host "
                                "(ciswitch plan --run unblock)")
        else:
            status.next_step = ("rollback 5: bring the revert into every active branch that "
                                "already uses the remote stages storage")
        return True
    if status.revert_branches:
        status.phase = "revert-opened"
        first = status.revert_branches[0]
        before = ""
        if status.block_exists:
            before = ("first remove the block file on this host (rollback 2: ciswitch plan "
                      "--run unblock), then ")
        status.next_step = (f"rollback 4-5: {before}stop the project's running werf jobs and "
                            f"merge the revert merge request of {first}")
        return True
    if not (restored or unblocked):
        return False
    if status.block_exists:
        status.phase = "stages-restored"
        status.next_step = ("rollback 2: remove the block file on this host "
                            "(ciswitch plan --run unblock)")
        return True
    status.phase = "unblocked"
    if not restored:
        status.next_step = ("rollback 1 is not recorded here: restore the local stages "
                            "(ciswitch plan --run rollback-sync), then open the revert "
                            "(ciswitch revert)")
    else:
        status.next_step = "rollback 3: open the merge request that reverts the switch " \
                           "(ciswitch revert)"
    return True


def since_last_switch(steps: list[str]) -> list[str]:
    """The steps recorded after the last ``switch`` (all of them when none is recorded)."""
    for index in range(len(steps) - 1, -1, -1):
        if steps[index] == "switch":
            return steps[index + 1:]
    return steps


def decide(status: ProjectStatus) -> None:
    """Set ``phase`` and ``next_step`` from the facts gathered."""
    addr = status.address.address or "<ADDR>"
    on_runner = status.werf is not None and status.werf.path is not None
    left = status.branches_left or []
    if _rollback_step(status):
        return
    if status.switch_commit:
        status.phase = "merged"
        if on_runner and status.block_exists is False:
            status.next_step = (
                "3 has not run on this host: run `werf stages switch-from-local --to "
                f"{addr}` here (ciswitch plan --run switch), or on the runner that ran the "
                ":local jobs"
            )
        elif left:
            names = ", ".join(b.name for b in left[:5])
            more = f" and {len(left) - 5} more" if len(left) > 5 else ""
            status.next_step = (f"5: merge or rebase {len(left)} branch(es) onto "
                                f"{status.default_branch}: {names}{more} (ciswitch branches)")
        else:
            status.phase = "done"
            status.next_step = ("nothing left: the project uses the remote stages storage; "
                                "keep `ciswitch lint` in CI so that :local does not come back")
        return
    if status.block_exists:
        status.phase = "switched"
        status.next_step = ("4: merge the merge request now: werf refuses :local for this "
                            "project on this host, so every pipeline without the change fails")
        return
    ready = [b for b in status.change_branches if b not in status.partial]
    if status.change_branches and not ready:
        name = status.change_branches[0]
        status.phase = "partial"
        status.next_step = (
            f"2 is not finished: {status.partial[name]}; fix those places on {name} (by hand, "
            "or `ciswitch branch --to ADDRESS --force-update` for commands without `werf "
            "ci-env`), push, and let its pipeline build before step 3"
        )
        return
    if ready:
        status.phase = "merge-request"
        status.next_step = (
            f"3: once the pipeline of {ready[0]} has built, run `werf stages "
            f"switch-from-local --to {addr}` on the runner (ciswitch plan --run switch), then "
            "merge"
        )
        return
    if status.work_tree_findings:
        status.phase = "local"
        status.next_step = ("1 (optional): copy the stages (ciswitch plan --run sync on the "
                            "runner); 2: open the merge request with `ciswitch branch` "
                            "(ciswitch plan shows the exact commands)")
        return
    if status.config_state == "remote":
        status.phase = "done"
        status.next_step = (".ciswitch.toml says the project switched and nothing uses :local "
                            "here; no ciswitch commit was found on the default branch (squashed?)")
        return
    status.phase = "no-local"
    status.next_step = "nothing to migrate: no :local stages storage found in the CI configuration"


def project_status(
    root: Path,
    *,
    remote: str = "origin",
    project: str | None = None,
    to: str | None = None,
    registry_host: str | None = None,
    fetch: bool = True,
    scan_branches: bool = True,
    werf: WerfInfo | None = None,
    environ: Mapping[str, str] | None = None,
    gitlab_url: str | None = None,
) -> ProjectStatus:
    """Gather the status of the repository at ``root`` (see the module docstring);
    ``gitlab_url`` names the GitLab whose API ``GITLAB_TOKEN`` is for (default: the
    remote's)."""
    from ciswitch.runbook.facts import gather_facts, git_remote_url
    from ciswitch.workspace import DirectoryWorkspace

    env = os.environ if environ is None else environ
    ws = DirectoryWorkspace(root)
    from ciswitch.runbook.record import read_steps

    status = ProjectStatus(str(root), ProjectName(None, ""), StagesAddress(None, ""), werf,
                           remote=remote, to=to)
    records = read_steps(root)
    status.steps_run = [r.step for r in records]
    status.steps_at = [r.timestamp() for r in records]
    _work_tree(status, root, _read_settings(status, root, gitlab_url, env))
    facts = gather_facts(
        ws, repo=str(root), project=project, to=to or status.config_address,
        registry_host=registry_host, remote_url=git_remote_url(root, remote),
        remote_name=remote, werf=werf, environ=env,
    )
    status.project, status.address = facts.project, facts.address
    status.block_file = facts.block_file
    status.block_exists = facts.block_file.exists() if facts.block_file else None
    _remote_side(status, root, fetch=fetch, scan=scan_branches)
    decide(status)
    _settings_step(status)
    return status


def render_text(status: ProjectStatus) -> str:
    """The status for a terminal: one line per place looked at, then the next step."""
    name = f" (werf project {status.project.name})" if status.project.name else ""
    rows: list[tuple[str, str]] = []
    if status.work_tree_findings:
        rows.append(("work tree", f"{counted(len(status.work_tree_findings), 'place')} still "
                      f"{'uses' if len(status.work_tree_findings) == 1 else 'use'} :local "
                                  f"(first: {status.work_tree_findings[0]})"))
    if status.work_tree_not_checked:
        count = len(status.work_tree_not_checked)
        rows.append(("not checked", f"{counted(count, 'place')} of the work tree could not "
                                    "be checked "
                                    f"(first: {status.work_tree_not_checked[0]})"))
    else:
        rows.append(("work tree", "no :local stages storage"))
    if status.settings_local:
        rows.append(("gitlab settings", f"{counted(len(status.settings_local), 'CI/CD variable')} "
                                        "still "
                                        f"set :local (first: {status.settings_local[0]})"))
    elif status.settings_local is not None:
        rows.append(("gitlab settings", "no :local for the project's jobs"
                     + (f" ({status.settings_note})" if status.settings_note else "")))
    else:
        rows.append(("gitlab settings", status.settings_note))
    if status.config_state:
        where = f", address {status.config_address}" if status.config_address else ""
        rows.append((status.config_source or ".ciswitch.toml",
                     f'stages-storage = "{status.config_state}"{where}'))
    else:
        rows.append((".ciswitch.toml", "no switch recorded"))
    if status.default_branch:
        where = f"{status.remote}/{status.default_branch}"
        if status.switch_commit:
            text = f"ciswitch commit {status.switch_commit[:10]} ({status.switch_subject})"
            if status.revert_commit:
                text += f", reverted by {status.revert_commit[:10]}"
        else:
            text = "no ciswitch commit"
        rows.append((where, text))
    for name in status.change_branches:
        if name in status.partial:
            rows.append(("merge request", f"branch {name} carries part of the change: "
                                          f"{status.partial[name]}"))
        else:
            rows.append(("merge request", f"branch {name} carries the change"))
    for name in status.revert_branches:
        rows.append(("rollback", f"branch {name} carries the revert"))
    if status.steps_run:
        rows.append(("run here", ", ".join(status.steps_run[-5:])
                     + " (ciswitch plan --run, as recorded in this clone)"))
    if status.block_file is None:
        rows.append(("block file", f"unknown: {status.project.problem}"))
    else:
        state = "exists" if status.block_exists else "absent"
        rows.append(("block file", f"{status.block_file} {state} on this host"))
    if status.werf is not None:
        rows.append(("werf here", str(status.werf.version) if status.werf.version else
                     ("not installed" if status.werf.path is None else "unknown version")))
    if status.branches_left is not None:
        rows.append(("branches", f"{len(status.branches_left)} of {status.branches_scanned} "
                                 f"branch(es) of {status.remote} still use :local"))
    width = max(len(k) for k, _ in rows) + 1
    out = [f"{status.repo}{name}: {status.phase}"]
    out += [f"  {k + ':':<{width}} {v}" for k, v in rows]
    out += [f"  ! {p}" for p in status.problems]
    out.append(f"next step: {status.next_step}")
    return "\n".join(out) + "\n"
