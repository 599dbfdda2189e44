"""``ciswitch fleet run``: clone or fetch each repository, do what ``ciswitch branch`` does.

The per-repository work is :func:`process_repo`, a plain function that returns a
:class:`~ciswitch.fleet.journal.RepoOutcome` and never raises: worker threads (``-j N``) run
it while only the main thread writes the journal, so every transition is committed by one
writer, in order, as it happens. The clones are :mod:`ciswitch.fleet.clones`' business.

Threads, not processes: a repository's work is mostly waiting for git (clone, push), and
its Python part (lint, fix, proof, commit objects) is a few milliseconds. Worker processes
cost more than they saved: a fork server importing everything again, multiprocessing's
resource tracker, and a copy of the interpreter per worker, about a third of a second of CPU
per run before the first repository. What made processes necessary is per thread now: each
repository's credentials go to its own git processes only
(:func:`ciswitch.gitops.run.git_config`), and the tree-sitter parser is one per thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ciswitch.branching import BranchOutcome, BranchRequest, BranchStatus
from ciswitch.errors import CiswitchError
from ciswitch.fleet.api import record_mr, with_api
from ciswitch.fleet.clones import config_for, sync_clone
from ciswitch.fleet.journal import PUSHED, RepoOutcome, Status
from ciswitch.fleet.settings_step import SettingsFix, with_settings
from ciswitch.fleet.sources import RepoSpec
from ciswitch.model import counted
from ciswitch.redact import redact

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

    from ciswitch.fleet.api import ApiSettings
    from ciswitch.fleet.journal import Journal, Row


class Progress(Protocol):
    """What the runner tells the person watching (see :mod:`ciswitch.fleet.report`)."""

    def start(self, total: int) -> None: ...
    def begin(self, spec: RepoSpec) -> None: ...
    def done(self, spec: RepoSpec, outcome: RepoOutcome) -> None: ...
    def note(self, spec: RepoSpec, text: str) -> None: ...
    def pause(self, seconds: float, batch: int, batches: int) -> None: ...
    def interrupted(self) -> None: ...
    def finish(self) -> None: ...


@dataclass(frozen=True)
class RunOptions:
    """How ``fleet run`` goes about the repositories."""

    workdir: Path
    request: BranchRequest
    jobs: int = 1
    batch_size: int = 0
    pause: float = 0.0
    limit: int | None = None
    retry_failed: bool = False
    shard: str | None = None
    command: str = ""
    #: open merge requests through GitLab's API instead of push options
    api: ApiSettings | None = None
    #: ``--gitlab-settings``: change the :local CI/CD variables of GitLab's settings too
    settings: SettingsFix | None = None


# --------------------------------------------------------------------------- one repository


def outcome_of(spec: RepoSpec, result: BranchOutcome, request: BranchRequest,
               *, on_remote: bool | None = None) -> RepoOutcome:
    """The journal's view of what ``prepare_branch`` did.

    Only a branch on the remote is ``pushed`` (``partial`` when places are left for a manual
    change); a branch committed in the clone only is ``prepared`` and a dry run ``dry-run``:
    neither is done, so a later run does the work. ``on_remote`` says, for a branch found
    already up to date without pushing (``--no-push``), whether the remote has it too.
    What ``branch`` would warn about (the marker left to the user) is part of the detail.
    """
    from ciswitch.branching import render_outcome

    fixed, left = len(result.fixed), len(result.remaining)
    notes = "".join(f"; {warning}" for warning in result.warnings)
    counts = f"{fixed} fixed, {left} left"

    def make(status: Status, detail: str, *, mr_url: str | None = None,
             output: str = "") -> RepoOutcome:
        return RepoOutcome(
            spec.key, status, detail + notes, mr_url=mr_url, fixed=fixed, left=left,
            branch=result.branch, commit=result.commit, output=output,
        )

    def reached(detail: str, mr_url: str | None = None) -> RepoOutcome:
        if left:
            return make(Status.PARTIAL, f"{detail} ({counts} for a manual change)",
                        mr_url=mr_url)
        return make(Status.MR_OPENED if mr_url else Status.PUSHED, detail, mr_url=mr_url)

    if result.status == BranchStatus.NOTHING_TO_FIX:
        return make(Status.CLEAN, "no :local stages storage")
    if result.status == BranchStatus.UNFIXABLE:
        return make(Status.SKIPPED, (f"{counted(left, 'place')} "
                                   f"{'needs' if left == 1 else 'need'} a manual change"))
    if result.status == BranchStatus.DRY_RUN:
        what = "would push" if request.push else "would commit"
        return make(
            Status.DRY_RUN, f"dry run: {what} {result.branch} ({counts})",
            output=render_outcome(result),
        )
    prepared = (
        f"committed {result.branch} in the clone, not pushed (--no-push; {counts}): "
        "run again without --no-push to push it"
    )
    if result.status == BranchStatus.COMMITTED:
        return make(Status.PREPARED, prepared)
    if result.status == BranchStatus.UP_TO_DATE:
        if not request.push and not on_remote:
            return make(Status.PREPARED, prepared)
        return reached(f"{result.branch} already carries the change")
    if result.merge_request_url:
        return reached(f"pushed {result.branch}", redact(result.merge_request_url))
    return reached(f"pushed {result.branch}")


def _on_remote(clone: Path, branch: str, commit: str | None) -> bool:
    """Whether the clone's copy of the remote's ``branch`` (fetched just now) is ``commit``."""
    from ciswitch import gitops

    repo = gitops.open_repo(clone)
    try:
        return commit is not None and gitops.ref_commit(
            repo, f"refs/remotes/origin/{branch}") == commit
    finally:
        repo.close()


def process_repo(spec: RepoSpec, workdir: Path, request: BranchRequest,
                 api: ApiSettings | None = None,
                 settings: SettingsFix | None = None) -> RepoOutcome:
    """Clone or fetch, then fix, commit and push like ``ciswitch branch`` (with ``api``: no
    merge request push options, the API opens it after the push; with ``settings``: then the
    :local CI/CD variables of GitLab's settings); never raises."""
    from ciswitch.fleet.sources import auth_env

    with auth_env(spec):
        return _process_repo(spec, workdir, request, api, settings)


def _process_repo(spec: RepoSpec, workdir: Path, request: BranchRequest,
                  api: ApiSettings | None = None,
                  settings: SettingsFix | None = None) -> RepoOutcome:
    from ciswitch.branching import prepare_branch

    try:
        if spec.ci_config and "@" in spec.ci_config:
            return RepoOutcome(
                spec.key, Status.SKIPPED,
                f"CI configuration lives in another project ({spec.ci_config})",
            )
        clone = sync_clone(spec, workdir, history=False)
        if clone is None:
            return RepoOutcome(spec.key, Status.SKIPPED, "empty repository")
        config = config_for(spec, clone, workdir, request.config_file)
        result = prepare_branch(
            replace(request, path=clone, remote="origin", config_file=config, fresh_clone=True,
                    merge_request_by_push=api is None)
        )
        on_remote = None
        if result.status == BranchStatus.UP_TO_DATE and not request.push:
            on_remote = _on_remote(clone, result.branch, result.commit)
        outcome = outcome_of(spec, result, request, on_remote=on_remote)
        outcome = outcome if api is None else with_api(spec, clone, request, result, outcome,
                                                       api)
        return with_settings(spec, clone, request, outcome, settings)
    except CiswitchError as err:
        from ciswitch.merge_request import advise

        return RepoOutcome(spec.key, Status.FAILED, redact(advise(err)))
    except Exception as err:  # one broken repository must not stop the fleet
        return RepoOutcome(spec.key, Status.FAILED, redact(f"{type(err).__name__}: {err}"))


# --------------------------------------------------------------------------- the fleet


class Interrupted(Exception):
    """The run was stopped (^C, SIGTERM); what it finished is in the journal."""

    def __init__(self, finished: int, unfinished: int) -> None:
        super().__init__(f"interrupted: {finished} finished, {unfinished} not")
        self.finished = finished
        self.unfinished = unfinished


@dataclass
class Plan:
    """Which repositories this run works on, and which it leaves (with why)."""

    todo: list[RepoSpec]
    left: list[tuple[RepoSpec, str]]


def remote_has_branch(spec: RepoSpec, branch: str) -> bool:
    """Whether the repository's remote has ``branch`` (one ``git ls-remote``); False when the
    remote cannot be asked (the run then leaves the repository as journaled)."""
    from ciswitch.fleet.sources import auth_env
    from ciswitch.gitops import git_output

    try:
        with auth_env(spec):
            out = git_output(["ls-remote", "--heads", "--", spec.clone_url, f"refs/heads/{branch}"])
    except CiswitchError:
        return False
    return any(line.endswith(f"\trefs/heads/{branch}") for line in out.splitlines())


def plan_run(
    specs: Sequence[RepoSpec], journal: Journal, options: RunOptions,
    *, has_branch: Callable[[RepoSpec, str], bool] = remote_has_branch,
) -> Plan:
    """Resume: pushed repositories never again, finished ones not again, failed on request.

    Unfinished work (``pending`` of an interrupted run, ``prepared`` by ``--no-push``, a dry
    run's ``dry-run``) is always done again. A failed repository whose remote has the branch
    is done again too (reconciled): when the branch there carries the change, the push did
    happen and the repository becomes ``pushed`` without a second push.
    """
    latest = journal.latest_real()
    pushed = journal.pushed_keys()
    todo: list[RepoSpec] = []
    left: list[tuple[RepoSpec, str]] = []
    failed: list[tuple[RepoSpec, Row]] = []
    for spec in specs:
        row = latest.get(spec.key)
        if spec.key in pushed:
            left.append((spec, f"already pushed in run {row.run if row else '?'}"))
        elif row is not None and row.status == Status.FAILED and not options.retry_failed:
            failed.append((spec, row))
        elif row is not None and row.status in (Status.CLEAN, Status.SKIPPED):
            left.append((spec, f"{row.status} in run {row.run}"))
        else:
            todo.append(spec)
    if failed:
        branch = options.request.branch
        found = _each(lambda item: has_branch(item[0], branch), failed, options.jobs)
        for (spec, row), there in zip(failed, found, strict=True):
            if there:
                todo.append(spec)
            else:
                left.append((spec, f"failed in run {row.run} (use --retry-failed)"))
        order = {spec.key: n for n, spec in enumerate(specs)}
        todo.sort(key=lambda spec: order[spec.key])
    if options.limit is not None:
        todo = todo[: options.limit]
    return Plan(todo, left)


def _each(func: Callable[[tuple[RepoSpec, Row]], bool], items: list[tuple[RepoSpec, Row]],
          jobs: int) -> list[bool]:
    if jobs <= 1 or len(items) <= 1:
        return [func(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=jobs) as threads:
        return list(threads.map(func, items))


def _batches(items: list[RepoSpec], size: int) -> Iterator[list[RepoSpec]]:
    if size <= 0:
        yield items
        return
    for start in range(0, len(items), size):
        yield items[start:start + size]


def run_fleet(
    specs: Sequence[RepoSpec],
    journal: Journal,
    options: RunOptions,
    progress: Progress,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[int, list[RepoOutcome]]:
    """Work through the fleet; returns the run id and this run's outcomes.

    Raises :class:`Interrupted` on ^C (or SIGTERM, which the CLI turns into one): the workers
    are stopped at once, what finished is journaled, and what was in flight stays
    ``pending``, which the next run does again (finding a push that did land as done).
    """
    from ciswitch.fleet import lifeline

    plan = plan_run(specs, journal, options)
    run = journal.start_run(
        dry_run=options.request.dry_run, shard=options.shard, command=options.command
    )
    progress.start(len(plan.todo))
    for spec, why in plan.left:
        progress.note(spec, why)
    outcomes: list[RepoOutcome] = []
    pool: ThreadPoolExecutor | None = None
    lifeline.tie_main()
    stopped = False
    try:
        if options.jobs > 1 and len(plan.todo) > 1:
            from concurrent.futures import ThreadPoolExecutor

            pool = ThreadPoolExecutor(max_workers=options.jobs, thread_name_prefix="fleet")
        batches = list(_batches(plan.todo, options.batch_size))
        for number, batch in enumerate(batches):
            if number and options.pause > 0:
                progress.pause(options.pause, number + 1, len(batches))
                sleep(options.pause)
            outcomes += _run_batch(batch, journal, run, options, progress, pool)
    except KeyboardInterrupt:
        stopped = True
        # no push starts any more, the git processes in flight are stopped (the watchdog's
        # group), queued work is dropped; a thread still in Python code finds its next git
        # process refused and ends, and the caller leaves without waiting for it
        lifeline.untie_main(stop=True)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
            pool = None
        progress.interrupted()
        raise Interrupted(len(outcomes), len(plan.todo) - len(outcomes)) from None
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if not stopped:
            lifeline.untie_main()
    journal.finish_run(run)
    progress.finish()
    return run, outcomes


def _run_batch(
    batch: list[RepoSpec], journal: Journal, run: int, options: RunOptions,
    progress: Progress, pool: ThreadPoolExecutor | None,
) -> list[RepoOutcome]:
    from concurrent.futures import as_completed

    outcomes: list[RepoOutcome] = []
    if pool is None:
        for spec in batch:
            journal.mark_pending(run, spec.key, spec.display, spec.name)
            progress.begin(spec)
            outcome = process_repo(spec, options.workdir, options.request, options.api,
                                   options.settings)
            journal.record(run, outcome)
            record_mr(journal.path, outcome, spec)
            progress.done(spec, outcome)
            outcomes.append(outcome)
        return outcomes
    futures: dict[Future[RepoOutcome], RepoSpec] = {}
    for spec in batch:
        journal.mark_pending(run, spec.key, spec.display, spec.name)
        progress.begin(spec)
        futures[pool.submit(process_repo, spec, options.workdir, options.request,
                            options.api, options.settings)] = spec
    for future in as_completed(futures):
        spec = futures[future]
        try:
            outcome = future.result()
        except Exception as err:  # process_repo catches everything; this is a bug's last line
            outcome = RepoOutcome(spec.key, Status.FAILED, redact(f"worker failed: {err}"))
        journal.record(run, outcome)
        record_mr(journal.path, outcome, spec)
        progress.done(spec, outcome)
        outcomes.append(outcome)
    return outcomes


def exit_code(outcomes: Sequence[RepoOutcome]) -> int:
    """1 when any repository failed or was only partly switched this run, else 0."""
    return 1 if any(o.status in (Status.FAILED, Status.PARTIAL) for o in outcomes) else 0


__all__ = [
    "PUSHED", "Interrupted", "Plan", "Progress", "RunOptions", "config_for", "exit_code",
    "outcome_of", "plan_run", "process_repo", "run_fleet", "sync_clone",
]
