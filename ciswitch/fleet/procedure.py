"""The runner half of the procedure for a whole GitLab: ``fleet sync`` and ``fleet switch``.

``sync`` copies every project's local stages to its registry address (the long part, safe, in
parallel); ``switch`` then takes the projects strictly one at a time: verify (the guard of
``plan --run switch``), ``werf stages switch-from-local``, check the block file, merge the merge
request through GitLab's API at once with the commit its pipeline ran on, and record the window
between switch and merge. Both facts per project (werf project name, address) are the ones
``plan`` derives, read from the project's clone under the fleet's workdir.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ciswitch.errors import CiswitchError
from ciswitch.fleet import steps as st
from ciswitch.fleet.project_facts import (
    Facts,
    last_line,
    names_of,
    project_facts,
    werf_names,
)
from ciswitch.fleet.settings_step import SettingsFix, before_switch
from ciswitch.fleet.sources import RepoSpec, auth_env
from ciswitch.redact import redact

if TYPE_CHECKING:
    from ciswitch.fleet.steps import Steps
    from ciswitch.gitlab_api import GitLabClient, MergeRequestInfo, ProjectInfo

#: words in werf's or docker's output that mean the registry refused the credentials: never
#: retried (the same login fails the same way, and repeated failures can lock the account)
AUTH_WORDS = ("unauthorized", "authentication required", "denied", "no basic auth credentials",
              "401", "403", "incorrect username or password")


def _log_path(workdir: Path, step: str, spec: RepoSpec) -> Path:
    path = workdir / "logs" / step / f"{spec.slug}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def run_logged(argv: Sequence[str], cwd: Path, log: Path) -> tuple[int, str]:
    """Run a command, appending the command line and its output to ``log``; the exit code and
    the output (redacted)."""
    import shlex

    try:
        proc = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, check=False,
                              stdin=subprocess.DEVNULL)
        code, output = proc.returncode, proc.stdout + proc.stderr
    except OSError as err:
        code, output = 127, f"{argv[0]}: {err}\n"
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {shlex.join(argv)}\n{redact(output)}[exit {code}]\n")
    return code, redact(output)


def is_auth_failure(output: str) -> bool:
    low = output.lower()
    return any(word in low for word in AUTH_WORDS)


# --------------------------------------------------------------------------- sync


@dataclass(frozen=True)
class SyncOptions:
    workdir: Path
    werf: str
    docker: str
    branch: str
    registry_host: str | None = None
    jobs: int = 1
    retries: int = 2
    retry_delay: float = 5.0
    retry_failed: bool = False
    #: say what would run; run no werf command and journal nothing
    dry_run: bool = False
    #: werf project names given on the command line, by project key (``--werf-project``)
    projects: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SyncResult:
    key: str
    name: str
    status: str
    detail: str
    log: Path | None = None


def has_local_stages(docker: str, project: str, log: Path, cwd: Path) -> bool | str:
    """Whether this host keeps local stages of ``project`` (werf 1.1 keeps them as docker
    images ``werf-stages-storage/PROJECT``); a string says why it could not be told."""
    if shutil.which(docker) is None:
        return f"{docker} not found: cannot tell whether {project} has local stages here"
    code, output = run_logged([docker, "image", "ls", "-q", f"werf-stages-storage/{project}"],
                              cwd, log)
    if code != 0:
        return f"{docker} image ls failed: {last_line(output)}"
    return bool(output.strip())


def sync_one(facts: Facts, options: SyncOptions,
             sleep: Callable[[float], None] = time.sleep) -> SyncResult:
    """Sync one project's local stages to its address; never raises."""
    from ciswitch.runbook.facts import block_file, werf_sync_args

    spec = facts.spec
    if facts.clone is None and facts.problem == "empty repository":
        return SyncResult(spec.key, spec.name, st.SKIPPED, facts.problem)
    if (facts.clone is not None and facts.project is None and facts.runbook is not None
            and facts.runbook.project.config_path is None):
        # no werf.yaml: not a werf project, so nothing of it can be on this host
        return SyncResult(spec.key, spec.name, st.SKIPPED, facts.problem or "no werf project")
    if facts.clone is None or facts.project is None or facts.address is None:
        # a clone that failed or an address that cannot be derived is not "nothing to sync"
        return SyncResult(spec.key, spec.name, st.FAILED, facts.problem or "no facts")
    log = _log_path(options.workdir, "sync", spec)
    block = block_file(facts.project)
    if block.exists():
        return SyncResult(spec.key, spec.name, st.SKIPPED,
                          f"already switched on this host ({block} exists)", log)
    found = has_local_stages(options.docker, facts.project, log, facts.clone)
    if isinstance(found, str):
        # not knowing whether there are local stages is no reason to skip the project
        return SyncResult(spec.key, spec.name, st.FAILED, found, log)
    if not found:
        return SyncResult(spec.key, spec.name, st.SKIPPED,
                          f"no local stages of {facts.project} on this host", log)
    argv = [options.werf, *werf_sync_args(":local", facts.address)]
    if options.dry_run:
        import shlex

        return SyncResult(spec.key, spec.name, "dry-run",
                          f"would run `{shlex.join(argv)}` in {facts.clone}", log)
    attempts = 0
    while True:
        attempts += 1
        code, output = run_logged(argv, facts.clone, log)
        if code == 0:
            return SyncResult(spec.key, spec.name, st.DONE,
                              f"synced to {facts.address} ({attempts} attempt(s))", log)
        if is_auth_failure(output):
            return SyncResult(spec.key, spec.name, st.FAILED,
                              f"authentication failed (not retried): {last_line(output)}", log)
        if attempts > options.retries:
            return SyncResult(spec.key, spec.name, st.FAILED,
                              f"failed after {attempts} attempt(s): {last_line(output)}", log)
        sleep(options.retry_delay * attempts)


def sync_fleet(specs: Sequence[RepoSpec], steps: Steps, options: SyncOptions,
               echo: Callable[[str], None]) -> list[SyncResult]:
    """Sync every project not synced yet (resumable), ``options.jobs`` at a time."""
    from concurrent.futures import ThreadPoolExecutor

    done = steps.of_step("sync")
    todo: list[RepoSpec] = []
    results: list[SyncResult] = []
    for spec in specs:
        row = done.get(spec.key)
        if row is not None and (row.status in (st.DONE, st.SKIPPED) or (
                row.status == st.FAILED and not options.retry_failed)):
            echo(f"{spec.name}: {row.status} before ({row.detail})")
            results.append(SyncResult(spec.key, spec.name, row.status, row.detail))
            continue
        todo.append(spec)

    def work(spec: RepoSpec) -> SyncResult:
        if not options.dry_run:
            steps.put(spec.key, "sync", st.RUNNING, name=spec.name)
        with auth_env(spec):  # this thread's git processes get this project's credentials
            facts = project_facts(spec, options.workdir, branch=options.branch,
                                  registry_host=options.registry_host,
                                  project=dict(options.projects).get(spec.key), history=False)
        result = sync_one(facts, options)
        if not options.dry_run:
            steps.put(spec.key, "sync", result.status, result.detail, name=spec.name)
        where = f" (log: {result.log})" if result.log else ""
        echo(f"{spec.name}: {result.status}: {result.detail}{where}")
        return result

    with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        results += list(pool.map(work, todo))
    return results


# --------------------------------------------------------------------------- switch


@dataclass(frozen=True)
class SwitchOptions:
    workdir: Path
    werf: str
    branch: str
    gitlab_url: str
    registry_host: str | None = None
    only: tuple[str, ...] = ()
    limit: int | None = None
    dry_run: bool = False
    #: werf project names given on the command line, by project key (``--werf-project``)
    projects: tuple[tuple[str, str], ...] = ()
    settings: SettingsFix | None = None  # --gitlab-settings: run before each verification


def rollback_text(facts: Facts) -> str:
    """The project's rollback, as ``plan`` writes it."""
    from ciswitch.runbook.plan import build_plan

    if facts.runbook is None:
        return f"rollback of {facts.spec.name}: see `ciswitch plan` in its repository\n"
    plan = build_plan(facts.runbook, None)
    lines = [f"rollback of {facts.spec.name}:"]
    for step in plan.rollback:
        lines.append(f"  {step.number}. {step.title}")
        lines += [f"       {command}" for command in step.commands]
    return "\n".join(lines) + "\n"


def _selected(specs: Sequence[RepoSpec], options: SwitchOptions) -> list[RepoSpec]:
    if not options.only:
        return list(specs)
    wanted = set(options.only)
    chosen = [s for s in specs if wanted & names_of(s)]
    unknown = wanted - {x for s in chosen for x in names_of(s)}
    if unknown:
        raise CiswitchError(f"--only: no project {sorted(unknown)[0]!r} in the fleet")
    return chosen


def switch_order(specs: Sequence[RepoSpec], steps: Steps,
                 options: SwitchOptions) -> tuple[list[RepoSpec], list[tuple[RepoSpec, str]]]:
    """Projects switched but not merged first, then the rest; merged ones are left."""
    rows = steps.of_step("switch")
    pending: list[RepoSpec] = []
    rest: list[RepoSpec] = []
    left: list[tuple[RepoSpec, str]] = []
    for spec in _selected(specs, options):
        row = rows.get(spec.key)
        if row is not None and row.status == st.MERGED:
            left.append((spec, f"merged before ({row.detail})"))
        elif row is not None and row.status in (st.SWITCHED, st.RUNNING):
            pending.append(spec)
        else:
            rest.append(spec)
    todo = pending + rest
    if options.limit is not None:
        todo = todo[: options.limit]
    return todo, left


_NO_ROW = st.StepRow("", "", "", "", "", None, None, None, None, 0.0, None, 0.0, None)


@dataclass(frozen=True)
class SwitchResult:
    key: str
    name: str
    status: str
    detail: str
    window: float | None = None


def switch_fleet(specs: Sequence[RepoSpec], steps: Steps, options: SwitchOptions,
                 echo: Callable[[str], None]) -> list[SwitchResult]:
    """Switch and merge one project after the other; stop at the first failure (a dry run
    goes on, to show every project's verdict)."""
    todo, left = switch_order(specs, steps, options)
    for spec, why in left:
        echo(f"{spec.name}: {why}")
    results: list[SwitchResult] = []
    for spec in todo:
        result = switch_one(spec, steps, options, echo)
        results.append(result)
        if result.status == st.FAILED:
            if not options.dry_run:
                break
            echo(f"{spec.name}: a real run would stop here")
    return results


def _merge_request_of(spec: RepoSpec, options: SwitchOptions
                      ) -> tuple[GitLabClient, ProjectInfo, MergeRequestInfo | None]:
    from ciswitch.fleet.api import client_for, find_merge_request, project_path

    client = client_for(options.gitlab_url)
    project = client.project(project_path(spec, options.gitlab_url))
    return client, project, find_merge_request(client, project, options.branch)


def _synced(steps: Steps, spec: RepoSpec) -> str | None:
    """Why the project's stages are not synced on this host yet (None: they are, or it had
    none here)."""
    row = steps.get(spec.key, "sync")
    if row is not None and row.status in (st.DONE, st.SKIPPED):
        return None
    said = f"sync {row.status}: {row.detail}" if row is not None else "fleet sync never ran for it"
    return (f"not synced on this host yet ({said}): run `ciswitch fleet sync` first, so that "
            "switch-from-local has only the newest stages left to copy")


def switch_one(spec: RepoSpec, steps: Steps, options: SwitchOptions,
               echo: Callable[[str], None]) -> SwitchResult:
    """Verify, switch and merge one project; the merge request is looked up before werf runs,
    so that only the merge itself comes between switch-from-local and the merge. Its git
    processes (clone, fetch) send the URL's credentials."""
    with auth_env(spec):
        return _switch_one(spec, steps, options, echo)


def _switch_one(spec: RepoSpec, steps: Steps, options: SwitchOptions,
                echo: Callable[[str], None]) -> SwitchResult:
    from ciswitch.runbook.facts import block_file, werf_switch_args
    from ciswitch.runbook.guard import verify_switch

    def fail(detail: str, *, rollback: Facts | None = None) -> SwitchResult:
        if not options.dry_run:
            # switched but not merged stays ``switched``: the next run merges it first and
            # never runs switch-from-local for it again
            switched = facts.project is not None and block_file(facts.project).exists() and (
                (steps.get(spec.key, "switch") or _NO_ROW).status in (st.SWITCHED, st.RUNNING))
            steps.put(spec.key, "switch", st.SWITCHED if switched else st.FAILED,
                      f"merge pending: {detail}" if switched else detail, name=spec.name)
        echo(f"{spec.name}: failed: {detail}")
        if rollback is not None:
            echo(rollback_text(rollback).rstrip("\n"))
        return SwitchResult(spec.key, spec.name, st.FAILED, detail)

    facts = project_facts(spec, options.workdir, branch=options.branch,
                          registry_host=options.registry_host,
                          project=dict(options.projects).get(spec.key))
    if facts.clone is None or facts.project is None or facts.address is None:
        return fail(facts.problem or "project facts unknown")
    block = block_file(facts.project)
    row = steps.get(spec.key, "switch")
    if row is not None and row.status in (st.SWITCHED, st.RUNNING) and block.exists():
        echo(f"{spec.name}: switched before, not merged: merging now")
        if options.dry_run:
            echo(f"{spec.name}: would merge its merge request at {(row.sha or '?')[:10]}")
            return SwitchResult(spec.key, spec.name, "dry-run", "switched before")
        switched_at = row.switched_at or row.updated_at
        if row.status == st.RUNNING:
            steps.put(spec.key, "switch", st.SWITCHED, "switched; merge pending",
                      switched_at=switched_at)
        if row.sha is None:
            return fail("the journal has no verified commit to merge at", rollback=facts)
        try:
            client, project, mr = _merge_request_of(spec, options)
        except CiswitchError as err:
            return fail(f"merge through the API failed: {err}", rollback=facts)
        return _merge(spec, steps, (client, project, mr), row.sha, switched_at, echo, fail,
                      facts)
    not_synced = _synced(steps, spec)
    if not_synced is not None:
        return fail(not_synced)
    if options.settings is not None:
        before_switch(spec, facts.clone, options.branch, options.settings, steps, echo)
    verdict = verify_switch(facts.clone, branch=options.branch, to=facts.address,
                            gitlab_url=options.gitlab_url)
    for line in verdict.lines():
        echo(f"{spec.name}:   {line}")
    if not verdict.allowed:
        return fail(f"not verified: {verdict.missing()}")
    sha = verdict.sha
    if sha is None or verdict.check("pipeline").state != "passed":
        return fail("not verified: no succeeded pipeline on the change's commit")
    try:
        client, project, mr = _merge_request_of(spec, options)
    except CiswitchError as err:
        return fail(f"GitLab's API: {err}")
    if mr is None:
        return fail(f"no merge request from {options.branch}")
    if mr.state == "opened" and mr.sha and mr.sha != sha:
        return fail(f"!{mr.iid} is at {mr.sha[:10]} now, not at the verified {sha[:10]}: "
                    "wait for its pipeline and run again")
    if block.exists():
        # switched on this host before, not through this journal (plan --run switch, by
        # hand): switch-from-local is not run a second time, the merge follows at once
        echo(f"{spec.name}: already switched on this host ({block} exists): merging now")
        if options.dry_run:
            echo(f"{spec.name}: would merge !{mr.iid} at once at {sha[:10]}")
            return SwitchResult(spec.key, spec.name, "dry-run", "switched before")
        switched_at = block.stat().st_mtime
        steps.put(spec.key, "switch", st.SWITCHED, "switched before; merge pending",
                  name=spec.name, sha=sha, switched_at=switched_at)
        return _merge(spec, steps, (client, project, mr), sha, switched_at, echo, fail, facts)
    argv = [options.werf, *werf_switch_args(facts.address)]
    if options.dry_run:
        import shlex

        echo(f"{spec.name}: would run `{shlex.join(argv)}` in its clone, check {block}, "
             f"and merge !{mr.iid} at once at {sha[:10]}")
        return SwitchResult(spec.key, spec.name, "dry-run", "verified")
    steps.put(spec.key, "switch", st.RUNNING, "switch-from-local running", name=spec.name,
              sha=sha)
    code, output = run_logged(argv, facts.clone, _log_path(options.workdir, "switch", spec))
    if code != 0:
        return fail(f"werf stages switch-from-local failed: {last_line(output)}",
                    rollback=facts if block.exists() else None)
    if not block.exists():
        return fail(f"werf exited 0 but wrote no block file {block}", rollback=facts)
    switched_at = time.time()
    steps.put(spec.key, "switch", st.SWITCHED, "switched; merge pending", sha=sha,
              switched_at=switched_at)
    return _merge(spec, steps, (client, project, mr), sha, switched_at, echo, fail, facts)


def _merge(spec: RepoSpec, steps: Steps,
           found: tuple[GitLabClient, ProjectInfo, MergeRequestInfo | None], sha: str,
           switched_at: float, echo: Callable[[str], None], fail: Callable[..., SwitchResult],
           facts: Facts) -> SwitchResult:
    """Merge at ``sha`` (the verified commit) right away; a refusal prints the rollback."""
    client, project, mr = found
    if mr is None:
        return fail("no merge request to merge", rollback=facts)
    try:
        if mr.state == "merged":
            outcome_text, merged = f"!{mr.iid} was merged already", True
        else:
            outcome = client.merge(project, mr.iid, sha)
            merged = outcome.merged
            outcome_text = (f"merged !{mr.iid} at {sha[:10]}" if merged else
                            f"merge of !{mr.iid} refused: {outcome.reason}: {outcome.message}")
    except CiswitchError as err:
        return fail(f"merge through the API failed: {err}", rollback=facts)
    if not merged:
        return fail(outcome_text, rollback=facts)
    window = time.time() - switched_at
    detail = f"{outcome_text}; {window:.1f}s between switch and merge"
    steps.put(spec.key, "switch", st.MERGED, detail, mr_url=mr.url, mr_iid=mr.iid,
              mr_state="merged", window=window)
    echo(f"{spec.name}: {detail}")
    return SwitchResult(spec.key, spec.name, st.MERGED, detail, window)


__all__ = [
    "Facts",
    "SwitchOptions",
    "SwitchResult",
    "SyncOptions",
    "SyncResult",
    "is_auth_failure",
    "names_of",
    "project_facts",
    "rollback_text",
    "switch_fleet",
    "switch_one",
    "switch_order",
    "sync_fleet",
    "sync_one",
    "werf_names",
]
