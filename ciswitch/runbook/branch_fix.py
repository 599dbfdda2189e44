"""Step 5 of the procedure, automated: the same fix on every active branch still on ``:local``.

For each remote branch whose CI configuration still carries ``:local`` (see
:mod:`ciswitch.branch_scan`), the fix is computed from that branch's own tree and committed on
top of its tip, then pushed to the branch as a plain push: never a force push. The tip read is
the lease: right before the push the remote is asked again, and a branch that moved is refused
(and a push that is not a fast-forward would be refused by the remote anyway). With ``mr`` the
commit goes to a new branch ``ciswitch/fix/<branch>`` instead, with a merge request into the
branch. Running it again changes nothing: fixed branches no longer carry ``:local``, and a fix
branch that already carries the change is left as it is.

The merge request of ``mr`` opens through GitLab's API when a :class:`MergeRequestWay` names the
instance (``--gitlab-url`` with ``GITLAB_TOKEN``): the fix branch is pushed without push
options, then the merge request is found or created with a markdown description listing the
places fixed, labels, assignees, reviewers, draft and remove-source-branch, and its URL, iid and
state are reported. A run interrupted between the push and the merge request finds the branch
pushed and opens the merge request. Without the API, git push options open it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ciswitch import gitops
from ciswitch.errors import CiswitchError
from ciswitch.model import counted
from ciswitch.redact import redact

if TYPE_CHECKING:
    import git

    from ciswitch.gitlab_api import GitLabClient, MergeRequestInfo, ProjectInfo

FIX_PREFIX = "ciswitch/fix/"
TITLE = "Use remote werf stages storage instead of :local"


@dataclass(frozen=True)
class BranchFix:
    """What happened to one branch: ``pushed``, ``mr-opened``, ``up-to-date``, ``refused``,
    ``unfixable``, ``failed`` or ``dry-run``."""

    branch: str
    status: str
    detail: str
    commit: str | None = None
    #: the merge request of ``--mr`` as GitLab's API answered (None with push options)
    mr_url: str | None = None
    mr_iid: int | None = None
    mr_state: str | None = None

    def line(self) -> str:
        return f"{self.branch}: {self.status}: {self.detail}"


@dataclass(frozen=True)
class MergeRequestWay:
    """How the merge requests of ``mr`` open and what they say: through GitLab's API when
    ``gitlab_url`` is set (the token stays in the environment), else with git push options
    (labels, assignees and draft only; reviewers need the API)."""

    gitlab_url: str | None = None
    #: the project's path on GitLab; from the remote's URL when None
    project_path: str | None = None
    labels: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    draft: bool = False
    remove_source_branch: bool = True
    _api: list[tuple[GitLabClient, ProjectInfo]] = field(default_factory=list, compare=False,
                                                         repr=False)

    def api(self, repo: git.Repo, remote: str) -> tuple[GitLabClient, ProjectInfo] | None:
        """The client and the project (asked once, then kept); None without the API."""
        if self.gitlab_url is None:
            return None
        if not self._api:
            from ciswitch.gitlab_api import from_environment
            from ciswitch.runbook.guard import gitlab_location

            path = self.project_path
            if path is None:
                # the URL as configured (``git remote get-url`` would apply insteadOf)
                url = gitops.run_git(repo, f"cannot read the URL of remote {remote}",
                                     "config", "--get", f"remote.{remote}.url").strip()
                path = gitlab_location(url, self.gitlab_url)[1]
            client = from_environment(self.gitlab_url)
            self._api.append((client, client.project(path)))
        return self._api[0]


def _description(branch: str, places: list[str]) -> str:
    """The merge request description (markdown; folded to one line as a push option)."""
    return "\n".join([
        f"The same change as on the default branch, for `{branch}`: its CI no longer uses "
        "`:local` stages storage, which werf refuses after `werf stages switch-from-local`.",
        "", "Places fixed:", "", *(f"- `{p}`" for p in places), "",
        f"Merge it into `{branch}` (or rebase `{branch}` onto the default branch).",
    ]) + "\n"


def _fix_commit(repo: git.Repo, tip: str, to: str | None, unsafe: bool,
                author: gitops.Identity | None) -> tuple[str | None, str, list[str]]:
    """The fix as a new commit on ``tip`` (None when nothing can be fixed), what it did, and
    the places fixed."""
    from ciswitch.config import load_config
    from ciswitch.fix import plan_fix
    from ciswitch.git_tree import GitTreeWorkspace

    ws = GitTreeWorkspace(repo, tip)
    config = load_config(ws)
    plan = plan_fix(ws, config, to=to or config.stages_storage_address, unsafe=unsafe)
    if plan.problems:
        return None, plan.problems[0].one_line(), []
    if not plan.changes:
        return None, (f"{counted(len(plan.remaining), 'place')} "
                      f"{'needs' if len(plan.remaining) == 1 else 'need'} a manual change"), []
    files = {change.path: change.new for change in plan.changes}
    places = [f"{f.path}:{f.begin.line}:{f.begin.column} {f.code}" for f in plan.fixed]
    body = ["The same change as on the default branch: this branch's CI no longer uses",
            ":local stages storage, which werf refuses after switch-from-local.", "",
            "Places fixed:", *(f"- {p}" for p in places)]
    message = gitops.commit_message(TITLE, "\n".join(body))
    sha = gitops.commit_files(repo, tip, files, message, author)
    return sha, f"{counted(len(plan.fixed), 'place')} fixed", places


def _same_tree(repo: git.Repo, one: str, other: str) -> bool:
    """Whether two commits (both fetched) have the same tree."""
    try:
        return bool(gitops.commit_object(repo, one).tree.hexsha
                    == gitops.commit_object(repo, other).tree.hexsha)
    except CiswitchError:
        return False


def fix_branch(repo: git.Repo, remote: str, branch: str, tip: str, *, mr: bool = False,
               to: str | None = None, unsafe: bool = False, dry_run: bool = False,
               author: gitops.Identity | None = None,
               way: MergeRequestWay | None = None) -> BranchFix:
    """Fix one branch whose tip was read as ``tip``; never raises for that branch's trouble."""
    try:
        sha, what, places = _fix_commit(repo, tip, to, unsafe, author)
        if sha is None:
            return BranchFix(branch, "unfixable", what)
        if mr:
            return _fix_by_merge_request(repo, remote, branch, sha, what, places,
                                         way or MergeRequestWay(), dry_run)
        if dry_run:
            return BranchFix(branch, "dry-run", f"{what}; would push a commit on top of "
                                                f"{tip[:10]}", sha)
        now = gitops.remote_branch_sha(repo, remote, branch)
        if now != tip:
            return BranchFix(branch, "refused",
                             f"moved since it was read ({tip[:10]} -> "
                             f"{(now or 'deleted')[:10]}): run again to fix the new tip")
        gitops.push_branch(repo, remote, branch, (), source=sha)
        return BranchFix(branch, "pushed", f"{what}; {tip[:10]} -> {sha[:10]}", sha)
    except CiswitchError as err:
        return BranchFix(branch, "failed", redact(str(err)))


def _fix_by_merge_request(repo: git.Repo, remote: str, branch: str, sha: str, what: str,
                          places: list[str], way: MergeRequestWay,
                          dry_run: bool) -> BranchFix:
    """Push the fix to ``ciswitch/fix/BRANCH`` and open its merge request into ``branch``."""
    target = f"{FIX_PREFIX}{branch}"
    api = way.api(repo, remote)
    how = "through GitLab's API" if api is not None else "with push options"
    existing = gitops.remote_branch_sha(repo, remote, target)
    if existing is not None and not _same_tree(repo, existing, sha):
        return BranchFix(branch, "refused", f"{target} exists with another change: left as it is")
    found: MergeRequestInfo | None = None
    if api is not None:
        client, project = api
        found = client.find_merge_request(project, target, target_branch=branch, state="all")
        if found is not None and found.state == "closed":
            return BranchFix(branch, "refused",
                             f"merge request !{found.iid} from {target} was closed: left as it "
                             "is", existing, redact(found.url), found.iid, found.state)
        if found is not None and found.state != "opened":
            found = None
    if dry_run:
        verb = ("push" if existing is None else "keep") + f" {target}"
        opens = (f"merge request !{found.iid} is open" if found is not None
                 else f"open a merge request into {branch} {how}")
        return BranchFix(branch, "dry-run", f"{what}; would {verb}; {opens}", sha)
    description = _description(branch, places)
    if existing is None:
        options = [] if api is not None else gitops.MergeRequestOptions(
            target=branch, title=TITLE, description=description,
            remove_source_branch=way.remove_source_branch, draft=way.draft,
            labels=way.labels, assignees=way.assignees).push_options()
        result = gitops.push_branch(repo, remote, target, options, source=sha)
        pushed = f"{what}; pushed {target}"
    else:
        result, sha, pushed = None, existing, f"{target} already carries the fix"
    if api is None:
        if result is None:
            return BranchFix(branch, "up-to-date", pushed, sha)
        url = result.merge_request_url or ""
        return BranchFix(branch, "mr-opened", f"{pushed} {url}".rstrip(), sha, url or None)
    if found is not None and result is None:
        return BranchFix(branch, "up-to-date", f"{pushed}; merge request !{found.iid} "
                         f"{found.state}", sha, redact(found.url), found.iid, found.state)
    from ciswitch.gitlab_api import MergeRequestSpec

    client, project = api
    info, _created = client.ensure_merge_request(project, MergeRequestSpec(
        source_branch=target, target_branch=branch, title=TITLE, description=description,
        labels=way.labels, assignees=way.assignees, reviewers=way.reviewers, draft=way.draft,
        remove_source_branch=way.remove_source_branch))
    return BranchFix(branch, "mr-opened", f"{pushed}; merge request !{info.iid} {info.state} "
                     f"{redact(info.url)}", sha, redact(info.url), info.iid, info.state)


def fix_branches(repo: git.Repo, remote: str, *, active_since: int | None = None,
                 mr: bool = False, to: str | None = None, unsafe: bool = False,
                 dry_run: bool = False, fetch: bool = True,
                 author: gitops.Identity | None = None,
                 way: MergeRequestWay | None = None) -> list[BranchFix]:
    """Fix every active branch of ``remote`` that still carries ``:local``."""
    from ciswitch.branch_scan import scan_branches

    scan = scan_branches(repo, remote, fetch=fetch, active_since=active_since)
    found: list[BranchFix] = []
    for status in scan.branches:
        if status.name.startswith(FIX_PREFIX) or not status.carries_local:
            continue
        found.append(fix_branch(repo, remote, status.name, status.sha, mr=mr, to=to,
                                unsafe=unsafe, dry_run=dry_run, author=author, way=way))
    return found


__all__ = ["FIX_PREFIX", "BranchFix", "MergeRequestWay", "fix_branch", "fix_branches"]
