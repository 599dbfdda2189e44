"""The fleet's side of GitLab's API: which project a repository is, its merge request, its plan.

With ``--gitlab-url`` and ``GITLAB_TOKEN``, ``fleet run`` pushes the change branch without
merge request push options and then creates or updates the merge request through the API, so
that the description is the full markdown of ``ciswitch plan --format markdown`` (push options
fold it into one line) and reviewers, remove-source-branch and auto-merge can be set. Without a
token the push options stay.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ciswitch.errors import CiswitchError

if TYPE_CHECKING:
    from ciswitch.branching import BranchOutcome, BranchRequest
    from ciswitch.fleet.journal import RepoOutcome
    from ciswitch.fleet.sources import RepoSpec
    from ciswitch.gitlab_api import GitLabClient, MergeRequestInfo, ProjectInfo
    from ciswitch.workspace import Workspace


@dataclass(frozen=True)
class ApiSettings:
    """How the fleet talks to GitLab's API (picklable: workers get it); the token stays in
    the environment."""

    url: str
    reviewers: tuple[str, ...] = ()
    remove_source_branch: bool = True
    auto_merge: bool = False
    registry_host: str | None = None


def token_present() -> bool:
    from ciswitch.gitlab_api import TOKEN_ENV

    return bool(os.environ.get(TOKEN_ENV, "").strip())


def client_for(url: str) -> GitLabClient:
    from ciswitch.gitlab_api import from_environment

    return from_environment(url)


def project_path(spec: RepoSpec, gitlab_url: str) -> str:
    """The project's full path on GitLab: from the source when it said, else from the URL."""
    if spec.project_path:
        return spec.project_path
    from ciswitch.runbook.guard import gitlab_location

    try:
        return gitlab_location(spec.url, gitlab_url)[1]
    except CiswitchError as err:
        raise CiswitchError(f"cannot tell the GitLab project of {spec.display}: {err}") from err


def head_workspace(clone: Path, rev: str = "HEAD") -> Workspace:
    """The clone's tree at ``rev`` as a workspace (clones have no work tree)."""
    from ciswitch import gitops
    from ciswitch.git_tree import GitTreeWorkspace

    repo = gitops.open_repo(clone)
    sha = gitops.resolve_commit(repo, rev)
    if sha is None:
        raise CiswitchError(f"no commit {rev} in the clone", str(clone))
    return GitTreeWorkspace(repo, sha)


def plan_markdown(spec: RepoSpec, clone: Path, *, to: str | None,
                  registry_host: str | None) -> str:
    """``ciswitch plan --format markdown`` of the project, as its default branch has it."""
    from ciswitch.config import load_config
    from ciswitch.fix import plan_fix
    from ciswitch.record import replace
    from ciswitch.runbook.facts import gather_facts
    from ciswitch.runbook.plan import build_plan, render_markdown

    ws = head_workspace(clone)
    config = load_config(ws)
    facts = gather_facts(ws, repo=spec.name, to=to or config.stages_storage_address,
                         registry_host=registry_host, remote_url=spec.url)
    outcome = plan_fix(ws, config, unsafe=True)
    findings = [*outcome.fixed, *(replace(f, fix=None) for f in outcome.remaining)]
    return render_markdown(build_plan(facts, findings, [p.one_line() for p in outcome.problems]))


def open_merge_request(spec: RepoSpec, clone: Path, request: BranchRequest, target: str,
                       api: ApiSettings) -> MergeRequestInfo:
    """Create or update the merge request of ``request.branch`` through the API."""
    from ciswitch.gitlab_api import MergeRequestSpec

    description = request.description or plan_markdown(
        spec, clone, to=request.to, registry_host=api.registry_host)
    client = client_for(api.url)
    project = client.project(project_path(spec, api.url))
    wanted = MergeRequestSpec(
        source_branch=request.branch, target_branch=target, title=request.title,
        description=description, labels=request.labels, assignees=request.assignees,
        reviewers=api.reviewers, draft=request.draft,
        remove_source_branch=api.remove_source_branch, auto_merge=api.auto_merge,
    )
    info, _created = client.ensure_merge_request(project, wanted)
    return info


def with_api(spec: RepoSpec, clone: Path, request: BranchRequest, result: BranchOutcome,
              outcome: RepoOutcome, api: ApiSettings) -> RepoOutcome:
    """Create or update the merge request through the API once the branch is on the remote;
    a failure of the API is the repository's failure (a later run finds the branch pushed)."""
    from dataclasses import replace

    from ciswitch import gitops
    from ciswitch.branching import BranchStatus
    from ciswitch.fleet.journal import Status
    from ciswitch.redact import redact

    if (request.dry_run or not request.push
            or result.status not in (BranchStatus.PUSHED, BranchStatus.UP_TO_DATE)):
        return outcome
    repo = gitops.open_repo(clone)
    try:
        target = request.target or gitops.default_branch(repo, "origin")
    finally:
        repo.close()
    try:
        info = open_merge_request(spec, clone, request, target, api)
    except CiswitchError as err:
        return replace(outcome, status=Status.FAILED,
                       detail=redact(f"{outcome.detail}; merge request: {err}"))
    detail = f"{outcome.detail}; merge request !{info.iid} {info.state}"
    # a partial change keeps saying so: its merge request carries only part of the switch
    status = Status.PARTIAL if outcome.status == Status.PARTIAL else Status.MR_OPENED
    return replace(outcome, status=status, detail=detail, mr_url=redact(info.url),
                   mr_iid=info.iid, mr_state=info.state)


def record_mr(journal: Path, outcome: RepoOutcome, spec: RepoSpec) -> None:
    """The merge request's URL, iid and state as the API answered, in the step table."""
    if outcome.mr_iid is None:
        return
    from ciswitch.fleet.steps import DONE, Steps

    with Steps(journal) as steps:
        steps.put(spec.key, "merge-request", DONE, f"!{outcome.mr_iid} {outcome.mr_state}",
                  name=spec.name, mr_url=outcome.mr_url, mr_iid=outcome.mr_iid,
                  mr_state=outcome.mr_state, sha=outcome.commit)


def find_merge_request(client: GitLabClient, project: ProjectInfo,
                       branch: str) -> MergeRequestInfo | None:
    """The open merge request from ``branch``, else the newest one in any state."""
    return (client.find_merge_request(project, branch, state="opened")
            or client.find_merge_request(project, branch, state="all"))


__all__ = ["ApiSettings", "client_for", "find_merge_request", "head_workspace",
           "open_merge_request", "plan_markdown", "project_path", "record_mr", "token_present",
           "with_api"]
