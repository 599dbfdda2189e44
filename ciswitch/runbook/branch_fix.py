"""Step 5 of the procedure, automated: the same fix on every active branch still on ``:local``.

For each remote branch whose CI configuration still carries ``:local`` (see
:mod:`ciswitch.branch_scan`), the fix is computed from that branch's own tree and committed on
top of its tip, then pushed to the branch as a plain push: never a force push. The tip read is
the lease: right before the push the remote is asked again, and a branch that moved is refused
(and a push that is not a fast-forward would be refused by the remote anyway). With ``mr`` the
commit goes to a new branch ``ciswitch/fix/<branch>`` instead, with a merge request into the
branch. Running it again changes nothing: fixed branches no longer carry ``:local``, and a fix
branch that already carries the change is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ciswitch import gitops
from ciswitch.errors import CiswitchError
from ciswitch.model import counted
from ciswitch.redact import redact

if TYPE_CHECKING:
    import git

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

    def line(self) -> str:
        return f"{self.branch}: {self.status}: {self.detail}"


def _fix_commit(repo: git.Repo, tip: str, to: str | None, unsafe: bool,
                author: gitops.Identity | None) -> tuple[str | None, str]:
    """The fix as a new commit on ``tip`` (None when nothing can be fixed) and what it did."""
    from ciswitch.config import load_config
    from ciswitch.fix import plan_fix
    from ciswitch.git_tree import GitTreeWorkspace

    ws = GitTreeWorkspace(repo, tip)
    config = load_config(ws)
    plan = plan_fix(ws, config, to=to or config.stages_storage_address, unsafe=unsafe)
    if plan.problems:
        return None, plan.problems[0].one_line()
    if not plan.changes:
        return None, (f"{counted(len(plan.remaining), 'place')} "
                      f"{'needs' if len(plan.remaining) == 1 else 'need'} a manual change")
    files = {change.path: change.new for change in plan.changes}
    places = [f"- {f.path}:{f.begin.line}:{f.begin.column} {f.code}" for f in plan.fixed]
    body = ["The same change as on the default branch: this branch's CI no longer uses",
            ":local stages storage, which werf refuses after switch-from-local.", "",
            "Places fixed:", *places]
    message = gitops.commit_message(TITLE, "\n".join(body))
    sha = gitops.commit_files(repo, tip, files, message, author)
    return sha, f"{counted(len(plan.fixed), 'place')} fixed"


def _same_tree(repo: git.Repo, one: str, other: str) -> bool:
    """Whether two commits (both fetched) have the same tree."""
    try:
        return bool(gitops.commit_object(repo, one).tree.hexsha
                    == gitops.commit_object(repo, other).tree.hexsha)
    except CiswitchError:
        return False


def fix_branch(repo: git.Repo, remote: str, branch: str, tip: str, *, mr: bool = False,
               to: str | None = None, unsafe: bool = False, dry_run: bool = False,
               author: gitops.Identity | None = None) -> BranchFix:
    """Fix one branch whose tip was read as ``tip``; never raises for that branch's trouble."""
    try:
        sha, what = _fix_commit(repo, tip, to, unsafe, author)
        if sha is None:
            return BranchFix(branch, "unfixable", what)
        target = f"{FIX_PREFIX}{branch}" if mr else branch
        if dry_run:
            how = f"push {target} and open a merge request into {branch}" if mr else (
                f"push a commit on top of {tip[:10]}")
            return BranchFix(branch, "dry-run", f"{what}; would {how}", sha)
        if mr:
            existing = gitops.remote_branch_sha(repo, remote, target)
            if existing is not None and _same_tree(repo, existing, sha):
                return BranchFix(branch, "up-to-date", f"{target} already carries the fix",
                                 existing)
            if existing is not None:
                return BranchFix(branch, "refused",
                                 f"{target} exists with another change: left as it is")
            options = gitops.MergeRequestOptions(target=branch, title=TITLE).push_options()
            result = gitops.push_branch(repo, remote, target, options, source=sha)
            url = result.merge_request_url or ""
            return BranchFix(branch, "mr-opened", f"{what}; pushed {target} {url}".rstrip(),
                             sha)
        now = gitops.remote_branch_sha(repo, remote, branch)
        if now != tip:
            return BranchFix(branch, "refused",
                             f"moved since it was read ({tip[:10]} -> "
                             f"{(now or 'deleted')[:10]}): run again to fix the new tip")
        gitops.push_branch(repo, remote, branch, (), source=sha)
        return BranchFix(branch, "pushed", f"{what}; {tip[:10]} -> {sha[:10]}", sha)
    except CiswitchError as err:
        return BranchFix(branch, "failed", redact(str(err)))


def fix_branches(repo: git.Repo, remote: str, *, active_since: int | None = None,
                 mr: bool = False, to: str | None = None, unsafe: bool = False,
                 dry_run: bool = False, fetch: bool = True,
                 author: gitops.Identity | None = None) -> list[BranchFix]:
    """Fix every active branch of ``remote`` that still carries ``:local``."""
    from ciswitch.branch_scan import scan_branches

    scan = scan_branches(repo, remote, fetch=fetch, active_since=active_since)
    found: list[BranchFix] = []
    for status in scan.branches:
        if status.name.startswith(FIX_PREFIX) or not status.carries_local:
            continue
        found.append(fix_branch(repo, remote, status.name, status.sha, mr=mr, to=to,
                                unsafe=unsafe, dry_run=dry_run, author=author))
    return found


__all__ = ["FIX_PREFIX", "BranchFix", "fix_branch", "fix_branches"]
