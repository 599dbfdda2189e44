"""The ordered migration steps of one project, with the exact commands, and the rollback.

The order is the point: syncing first is harmless, the merge request must exist and have built
before ``switch-from-local`` (which breaks every branch still on ``:local``), and the merge must
follow the switch quickly. Each step says where it runs (runner host, workstation, GitLab) so the
platform engineer can hand the runner steps to whoever has a shell there. Unknown facts appear
as ``<ADDR>`` / ``<PROJECT>``: pasted into a shell they fail instead of doing something wrong.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ciswitch.model import Finding, counted
from ciswitch.rules import NEEDS_ADDRESS_CODE
from ciswitch.runbook.facts import ProjectFacts, werf_switch_args, werf_sync_args

ADDR_PLACEHOLDER = "<ADDR>"
PROJECT_PLACEHOLDER = "<PROJECT>"
REGISTRY_PLACEHOLDER = "<REGISTRY>"
_PLACEHOLDERS = (ADDR_PLACEHOLDER, PROJECT_PLACEHOLDER, REGISTRY_PLACEHOLDER)
#: the ``--run`` keys, in the order they appear in the runbook
RUNNABLE = ("sync", "switch", "rollback-sync", "unblock")
#: where the markdown plan is written for ``ciswitch branch --description-file``; outside the
#: work tree, because ``branch`` refuses a dirty tree
DESCRIPTION_FILE = '"${TMPDIR:-/tmp}/ciswitch-plan.md"'
FORMATS = ("text", "markdown", "json")


@dataclass(frozen=True)
class Step:
    """One step of the runbook or of its rollback."""

    key: str
    number: int
    title: str
    #: "runner" (the GitLab runner host that ran the :local jobs), "workstation", or "gitlab"
    where: str
    commands: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    warning: str = ""
    optional: bool = False
    #: the ``ciswitch plan --run`` key that executes this step, if any
    run: str | None = None
    #: for step 2: the places the merge request changes
    changes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """The runbook of one project: facts, steps, rollback, and what is still unknown."""

    facts: ProjectFacts
    steps: tuple[Step, ...]
    rollback: tuple[Step, ...]
    #: facts that are missing or wrong, each saying how to fix it
    problems: tuple[str, ...] = field(default=())

    def step(self, run_key: str) -> Step:
        """The step that ``--run run_key`` executes."""
        for step in (*self.steps, *self.rollback):
            if step.run == run_key:
                return step
        raise KeyError(run_key)


def _cmd(*args: str) -> str:
    return " ".join(a if a in _PLACEHOLDERS else shlex.quote(a) for a in args)


def _rm_command(display: str, project: str | None) -> str:
    """``rm`` of the block file, keeping ``~/`` unquoted so that the shell expands it."""
    directory = display.rsplit("/", 1)[0] + "/"
    prefix = ""
    if directory.startswith("~/"):
        prefix, directory = "~/", directory[2:]
    name = shlex.quote(project) if project else PROJECT_PLACEHOLDER
    return f"rm {prefix}{shlex.quote(directory)}{name}"


def _finding_line(finding: Finding) -> str:
    where = f"{finding.path}:{finding.begin.line}:{finding.begin.column}"
    if finding.fix is not None:
        what = finding.fix.description or "fixed"
    else:
        what = f"left for you: {finding.unfixable_reason}" if finding.unfixable_reason else \
            "left for you"
    return f"{where}: {finding.code} {finding.message} ({what})"


def _ciswitch_options(facts: ProjectFacts, address: str) -> list[str]:
    opts = ["--to", address]
    if facts.project.source == "--project" and facts.project.name:
        opts += ["--project", facts.project.name]
    return opts


def _branch_step(facts: ProjectFacts, addr: str, findings: list[Finding] | None) -> Step:
    """Step 2: the ``ciswitch branch`` command fitting the findings, and what it changes."""
    notes: list[str] = []
    branch_opts: list[str] = []
    changes: tuple[str, ...] = ()
    if findings is None:
        notes.append("The merge request removes every :local stages storage from the CI "
                     "configuration (run `ciswitch lint` to see the places).")
    elif not findings:
        notes.append("Nothing to change: the CI configuration has no :local stages storage "
                     "left; `ciswitch branch` will say so and only the switch remains.")
    else:
        ordered = sorted(findings, key=lambda f: f.sort_key)
        changes = tuple(_finding_line(f) for f in ordered)
        fixable = sum(1 for f in ordered if f.fix is not None)
        if fixable == len(ordered):
            notes.append(f"The merge request fixes the {counted(len(ordered), 'place')} below.")
        else:
            notes.append(f"The merge request fixes {fixable} of the "
                         f"{counted(len(ordered), 'place')} below; "
                         "fix the others by hand on the branch before step 3.")
        if any(f.fix is not None and not f.fix.safe for f in ordered):
            branch_opts.append("--unsafe-fixes")
            notes.append("--unsafe-fixes also removes :local synchronization: with a remote "
                         "stages storage it would let werf run on a single host only.")
        if any(f.code == NEEDS_ADDRESS_CODE for f in ordered):
            notes.append(
                "Jobs without `werf ci-env` would be left with no stages storage: add "
                "`source $(werf ci-env gitlab --as-file)` to them, or add `--to "
                f"{addr}` to the branch command, which points every :local at that address "
                "instead of removing it."
            )
    notes += [
        "The commit also records the switch in .ciswitch.toml (stages-storage = \"remote\"), "
        "so that `ciswitch lint` treats :local as a regression afterwards.",
        "CI/CD variables GitLab keeps for the project (its own, its groups', the instance's, "
        "its schedules') win over the files: with GITLAB_TOKEN, `ciswitch lint --gitlab-url "
        "URL` names any :local among them (CSW005), and `ciswitch fix --gitlab --gitlab-url "
        "URL` deletes them, journaled, before step 3.",
        "Wait until the merge request's pipeline has passed its build stage.",
    ]
    plan_cmd = _cmd("ciswitch", "plan", *_ciswitch_options(facts, addr), "--format", "markdown")
    branch_cmd = _cmd("ciswitch", "branch", *branch_opts, "--description-file")
    return Step(
        "branch", 2, "Open the merge request that removes :local", "workstation",
        commands=(f"{plan_cmd} > {DESCRIPTION_FILE}", f"{branch_cmd} {DESCRIPTION_FILE}"),
        notes=tuple(notes), changes=changes,
    )


def build_plan(
    facts: ProjectFacts, findings: list[Finding] | None, extra_problems: Sequence[str] = (),
) -> Plan:
    """The runbook for the project behind ``facts``.

    ``findings`` are what ``ciswitch branch`` will change: each with a fix is changed by the
    merge request, each without one is left for a person (its ``unfixable_reason`` says why).
    ``None`` means they were not computed, and step 2 says so. ``extra_problems`` are shown
    with the missing facts (a CI file that does not parse, say).
    """
    addr = facts.address.address or ADDR_PLACEHOLDER
    project = facts.project.name or PROJECT_PLACEHOLDER
    block = facts.block_file_display.rsplit("/", 1)[0] + "/" + project
    registry = addr.split("/", 1)[0] if facts.address.address else REGISTRY_PLACEHOLDER
    runner_note = (
        "Run in the project's directory on the runner host that ran its :local jobs, as the user "
        "the jobs run as (shell executor: gitlab-runner), so that werf uses that user's "
        "~/.werf and docker credentials."
    )

    problems: list[str] = []
    if facts.address.problem:
        problems.append(f"stages address unknown: {facts.address.problem}")
    if facts.project.problem:
        problems.append(f"werf project name unknown: {facts.project.problem}")
    if facts.werf is not None and facts.werf.problem:
        problems.append(facts.werf.problem)
    if findings is None:
        problems.append("the changes of step 2 were not computed")
    problems.extend(extra_problems)
    branch_step = _branch_step(facts, addr, findings)

    steps = (
        Step(
            "sync", 1, "Copy the existing stages to the registry", "runner",
            commands=(
                _cmd("docker", "login", registry, "-u", "USER", "-p", "TOKEN"),
                _cmd("werf", *werf_sync_args(":local", addr)),
            ),
            notes=(
                "Safe: CI/CD keeps working as before. It speeds up step 3 and saves rebuilding "
                "stages for the merge request of step 2.",
                "TOKEN: a GitLab access token of USER with the read_registry and "
                "write_registry scopes (or use --password-stdin).",
                runner_note,
            ),
            optional=True, run="sync",
        ),
        branch_step,
        Step(
            "switch", 3, "Switch the project from :local to the registry", "runner",
            commands=(_cmd("werf", *werf_switch_args(addr)),),
            warning=(
                "From here on every branch without the change of step 2 fails in CI: werf "
                "refuses :local for this project on this host. Merge right after this step."
            ),
            notes=(
                "It syncs the remaining stages, writes the block file "
                f"{block} and deletes the local stages.",
                "If several runner hosts ran this project's jobs with :local, run steps 1 and 3 "
                "on each of them.",
                runner_note,
            ),
            run="switch",
        ),
        Step(
            "merge", 4, "Merge the merge request of step 2", "gitlab",
            notes=("`ciswitch status` then shows the change on the default branch.",),
        ),
        Step(
            "rebase", 5, "Bring every active branch onto the change", "workstation",
            commands=(_cmd("ciswitch", "branches"),),
            notes=("Lists the branches whose CI configuration still uses :local; merge or "
                   "rebase each onto the default branch.",),
        ),
    )
    rollback = (
        Step(
            "rollback-sync", 1, "Restore the local stages from the registry", "runner",
            commands=(_cmd("werf", *werf_sync_args(addr, ":local")),),
            notes=("Needed when step 3 ran: switch-from-local deleted the local stages.",
                   runner_note),
            run="rollback-sync",
        ),
        Step(
            "unblock", 2, "Remove the block file that refuses :local", "runner",
            commands=(_rm_command(facts.block_file_display, facts.project.name),),
            notes=(f"With WERF_HOME set on the runner, the file is "
                   f"$WERF_HOME/service/stages_switch_from_local_block/{project}."
                   if facts.block_file_display.startswith("~/") else
                   "The block file is under WERF_HOME as set here; on the runner it is under "
                   "that host's WERF_HOME (default ~/.werf).",),
            run="unblock",
        ),
        Step(
            "revert", 3, "Open the merge request that reverts step 2", "workstation",
            commands=(_cmd("ciswitch", "revert"),),
            notes=("When `ciswitch fix --gitlab` changed CI/CD variables in GitLab's settings, "
                   "`ciswitch revert --gitlab` puts them back from this clone's journal "
                   "(GITLAB_TOKEN from the environment).",),
        ),
        Step(
            "stop-jobs", 4, "Stop the project's running werf jobs and hold new ones", "gitlab",
            notes=("Cancel running pipelines, so that no job uses the registry while the "
                   "project goes back to :local.",),
        ),
        Step(
            "rollback-merge", 5, "Merge the revert and bring it into the active branches",
            "gitlab",
            notes=("Every active branch that already uses the remote stages storage needs it.",),
        ),
    )
    return Plan(facts, steps, rollback, tuple(problems))


# ---------------------------------------------------------------------------------------------
# rendering

_WHERE = {"runner": "on the runner", "workstation": "in the repository", "gitlab": "in GitLab"}


def _fact_rows(plan: Plan) -> list[tuple[str, str]]:
    facts = plan.facts
    rows = [
        ("werf project", f"{facts.project.name} (from {facts.project.source})"
         if facts.project.name else "unknown"),
        ("stages address", f"{facts.address.address} (from {facts.address.source})"
         if facts.address.address else "unknown"),
    ]
    if facts.werf is not None:
        if facts.werf.path is None:
            rows.append(("werf here", "not installed"))
        else:
            version = str(facts.werf.version) if facts.werf.version else "unknown version"
            rows.append(("werf here", f"{version} ({facts.werf.path})"))
    return rows


def _label(step: Step) -> str:
    tags = ["optional" if step.optional else "required", _WHERE[step.where]]
    return f"[{', '.join(tags)}]"


def _text_section(title: str, steps: tuple[Step, ...], prefix: str) -> list[str]:
    out = ["", title]
    for step in steps:
        out.append(f"  {prefix}{step.number}. {step.title} {_label(step)}")
        out.extend(f"       $ {c}" for c in step.commands)
        if step.warning:
            out.append(f"     WARNING: {step.warning}")
        out.extend(f"     {n}" for n in step.notes)
        out.extend(f"       - {c}" for c in step.changes)
        if step.run:
            out.append(f"     (runs with: ciswitch plan --run {step.run})")
    return out


def render_text(plan: Plan) -> str:
    """The plan for a terminal."""
    name = plan.facts.project.name or plan.facts.repo
    out = [f"Switching {name} to remote stages storage", ""]
    rows = _fact_rows(plan)
    width = max(len(k) for k, _ in rows) + 1
    out.extend(f"  {k + ':':<{width}} {v}" for k, v in rows)
    if plan.problems:
        out.append("")
        out.extend(f"  ! {p}" for p in plan.problems)
    out += _text_section("Steps", plan.steps, "")
    out += _text_section("Rollback", plan.rollback, "R")
    return "\n".join(out) + "\n"


def _markdown_section(title: str, steps: tuple[Step, ...]) -> list[str]:
    out = ["", f"### {title}", ""]
    for step in steps:
        tag = "optional" if step.optional else "required"
        out.append(f"{step.number}. **{step.title}** ({tag}, {_WHERE[step.where]})")
        if step.commands:
            out += ["", "   ```shell", *(f"   {c}" for c in step.commands), "   ```"]
        if step.warning:
            out += ["", f"   > **Warning:** {step.warning}"]
        if step.notes:
            out += ["", *(f"   {n}" if i == 0 else f"   <br>{n}"
                          for i, n in enumerate(step.notes))]
        if step.changes:
            out += ["", *(f"   - `{c}`" for c in step.changes)]
        out.append("")
    return out


def render_markdown(plan: Plan) -> str:
    """The plan as a merge request description."""
    name = plan.facts.project.name or "this project"
    out = [f"## Switching {name} to remote stages storage", "", "| | |", "|---|---|"]
    # werf on the host that rendered the plan says nothing to the merge request's reviewers
    out.extend(f"| {k} | {v} |" for k, v in _fact_rows(plan) if k != "werf here")
    if plan.problems:
        out.append("")
        out.extend(f"- :warning: {p}" for p in plan.problems)
    out += _markdown_section("Steps", plan.steps)
    out += _markdown_section("Rollback", plan.rollback)
    return "\n".join(out).rstrip("\n") + "\n"


def _step_json(step: Step) -> dict[str, Any]:
    return {
        "key": step.key,
        "number": step.number,
        "title": step.title,
        "where": step.where,
        "optional": step.optional,
        "commands": list(step.commands),
        "warning": step.warning or None,
        "notes": list(step.notes),
        "changes": list(step.changes),
        "run": step.run,
    }


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The plan as plain data (stable keys, for scripts and the fleet report)."""
    facts = plan.facts
    werf: dict[str, Any] | None = None
    if facts.werf is not None:
        werf = {
            "path": facts.werf.path,
            "version": str(facts.werf.version) if facts.werf.version else None,
            "problem": facts.werf.problem or None,
        }
    return {
        "repository": facts.repo,
        "project": {"name": facts.project.name, "source": facts.project.source or None,
                    "config": facts.project.config_path, "problem": facts.project.problem or None},
        "stages_address": {"address": facts.address.address,
                           "source": facts.address.source or None,
                           "problem": facts.address.problem or None},
        "werf": werf,
        "block_file": facts.block_file_display if facts.project.name else None,
        "problems": list(plan.problems),
        "steps": [_step_json(s) for s in plan.steps],
        "rollback": [_step_json(s) for s in plan.rollback],
    }


def render(plan: Plan, fmt: str) -> str:
    """``plan`` in one of :data:`FORMATS`."""
    if fmt == "text":
        return render_text(plan)
    if fmt == "markdown":
        return render_markdown(plan)
    if fmt == "json":
        return json.dumps(plan_to_json(plan), indent=2, ensure_ascii=False) + "\n"
    raise ValueError(fmt)
