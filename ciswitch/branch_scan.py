"""``ciswitch branches``: which branches of a remote still run werf with :local (step 5).

After ``werf stages switch-from-local`` every branch whose CI still says ``:local`` fails, so
the team needs the list of branches to merge or rebase. Each remote-tracking branch is linted
straight from its tree (:class:`~ciswitch.git_tree.GitTreeWorkspace`, no checkout), with the
configuration found in that tree, exactly as a pipeline on that branch would see it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ciswitch import gitops, rules

if TYPE_CHECKING:
    import git

#: rules that mean "this branch's CI uses :local as its stages storage" (the rules' own table
#: says which); synchronization and "no storage left" findings matter for the fix, but do not
#: break a branch after the switch
STORAGE_CODES = rules.STORAGE_CODES

_AGE_RE = re.compile(r"\s*(\d+)\s*([hdw])\s*")
_AGE_UNITS = {"h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> int:
    """``12h``, ``30d`` or ``2w`` as seconds; :class:`ValueError` for anything else."""
    match = _AGE_RE.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not an age like 12h, 30d or 2w")
    return int(match.group(1)) * _AGE_UNITS[match.group(2)]


@dataclass
class BranchStatus:
    """One row of the ``branches`` table."""

    name: str
    sha: str
    date: str
    timestamp: int
    author: str
    findings: int = 0
    first: str | None = None
    has_change: bool = False
    problems: list[str] = field(default_factory=list)
    #: places of the branch's CI that could not be checked (``path:line: not checked: ...``)
    not_checked: list[str] = field(default_factory=list)

    @property
    def carries_local(self) -> bool:
        return self.findings > 0

    def as_json(self) -> dict[str, Any]:
        return {
            "branch": self.name,
            "commit": self.sha,
            "date": self.date,
            "author": self.author,
            "findings": self.findings,
            "first": self.first,
            "ciswitch_commit": self.has_change,
            "problems": self.problems,
            "not_checked": self.not_checked,
        }


@dataclass
class ScanResult:
    """Every scanned branch; ``shown`` are the ones listed (see :func:`scan_branches`)."""

    remote: str
    url: str
    branches: list[BranchStatus] = field(default_factory=list)
    skipped_inactive: int = 0

    @property
    def exit_code(self) -> int:
        """1 when a branch still carries :local, else 2 when one could not be read, else 0."""
        if any(b.carries_local for b in self.branches):
            return 1
        return 2 if any(b.problems for b in self.branches) else 0


def lint_branch(
    repo: git.Repo, remote: str, branch: gitops.RemoteBranch, has_change: bool | None = None
) -> BranchStatus:
    """Lint one remote branch's tree with the configuration found in that tree.

    ``has_change`` (whether the branch contains the ciswitch commit) is looked up when None.
    """
    from ciswitch.config import load_config
    from ciswitch.errors import CiswitchError
    from ciswitch.git_tree import GitTreeWorkspace
    from ciswitch.lint import lint_workspace

    info = gitops.commit_info(repo, branch.ref)
    status = BranchStatus(branch.name, info.sha, info.date, info.timestamp, info.author)
    ws = GitTreeWorkspace(repo, info.sha, label=f"{remote}/{branch.name}@{info.sha[:10]}")
    try:
        result = lint_workspace(ws, load_config(ws))
    except CiswitchError as err:
        status.problems.append(str(err))
    else:
        local = sorted(
            (f for f in result.findings if f.code in STORAGE_CODES), key=lambda f: f.sort_key
        )
        status.findings = len(local)
        if local:
            status.first = f"{local[0].path}:{local[0].begin.line}"
        status.problems += [p.one_line() for p in result.problems]
        status.not_checked = [e.one_line() for e in result.not_checked]
    if has_change is None:
        has_change = gitops.has_trailer_commit(repo, info.sha)
    status.has_change = has_change
    return status


def scan_branches(
    repo: git.Repo,
    remote: str,
    *,
    fetch: bool = True,
    active_since: int | None = None,
    now: float | None = None,
) -> ScanResult:
    """Lint every branch of ``remote`` (after ``git fetch --prune`` unless ``fetch`` is False).

    ``active_since`` (seconds) keeps only branches whose last commit is that recent.
    """
    gitops.get_remote(repo, remote)
    if fetch:
        gitops.fetch(repo, remote)
    result = ScanResult(remote, gitops.remote_url(repo, remote, push=False))
    moment = time.time() if now is None else now
    changed = gitops.refs_with_trailer(repo, f"refs/remotes/{remote}/")
    for branch in gitops.remote_branches(repo, remote):
        if active_since is not None:
            info = gitops.commit_info(repo, branch.ref)
            if info.timestamp < moment - active_since:
                result.skipped_inactive += 1
                continue
        result.branches.append(lint_branch(repo, remote, branch, branch.ref in changed))
    return result


def render_text(result: ScanResult, *, show_all: bool) -> str:
    """An aligned table of the branches that still carry :local (all with ``show_all``)."""
    rows = [b for b in result.branches
            if show_all or b.carries_local or b.problems or b.not_checked]
    header = ("BRANCH", "LAST COMMIT", "AUTHOR", "FINDINGS", "FIRST", "CISWITCH COMMIT")
    table: list[tuple[str, ...]] = [header]
    for b in rows:
        findings = (f"{b.findings} (error)" if b.problems
                    else f"{b.findings}+?" if b.not_checked else str(b.findings))
        table.append((
            b.name, b.date[:16].replace("T", " "), b.author, findings, b.first or "-",
            "yes" if b.has_change else "no",
        ))
    lines = []
    if rows:
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        for row in table:
            cells = (cell.ljust(w) for cell, w in zip(row, widths, strict=True))
            lines.append("  ".join(cells).rstrip())
    for b in rows:
        lines += [f"{b.name}: error: {p}" for p in b.problems]
        lines += [f"{b.name}: {entry}" for entry in b.not_checked]
    local = sum(1 for b in result.branches if b.carries_local)
    partial = sum(1 for b in result.branches if b.not_checked and not b.problems)
    summary = (
        f"{local} of {len(result.branches)} branch(es) of {result.remote} ({result.url}) "
        "still use :local stages storage"
    )
    if partial:
        summary += (f"; {partial} branch(es) with places not checked (listed above): "
                    "their count is a lower bound")
    if result.skipped_inactive:
        summary += f"; {result.skipped_inactive} inactive branch(es) not checked"
    lines.append(summary)
    return "\n".join(lines) + "\n"


def render_json(result: ScanResult) -> dict[str, Any]:
    return {
        "remote": result.remote,
        "url": result.url,
        "branches": [b.as_json() for b in result.branches],
        "carrying_local": [b.name for b in result.branches if b.carries_local],
        "skipped_inactive": result.skipped_inactive,
    }
