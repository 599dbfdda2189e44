"""The work tree's state: clean or dirty, and the checked-out branch (refusing a detached HEAD)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ciswitch.errors import CiswitchError
from ciswitch.gitops.refs import _ref_present, head_target
from ciswitch.gitops.run import run_git, work_tree

if TYPE_CHECKING:
    import git


@dataclass(frozen=True)
class Dirt:
    """What keeps a work tree from being clean: changed tracked paths and untracked files."""

    changed: tuple[str, ...] = ()
    untracked: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.changed or self.untracked)


def dirt(repo: git.Repo) -> Dirt:
    """Tracked changes (staged or not) and untracked files that ``.gitignore`` does not hide."""
    out = run_git(
        repo, "cannot read the work tree status",
        "status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignore-submodules=none",
    )
    changed: list[str] = []
    untracked: list[str] = []
    records = out.split("\0")
    i = 0
    while i < len(records):
        record = records[i]
        i += 1
        if len(record) < 4:
            continue
        code, path = record[:2], record[3:]
        if code == "??":
            untracked.append(path)
        else:
            changed.append(path)
            if "R" in code or "C" in code:
                i += 1  # the rename's source path follows as its own record
    return Dirt(tuple(changed), tuple(untracked))


def _some(paths: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(paths[:limit])
    return shown if len(paths) <= limit else f"{shown} and {len(paths) - limit} more"


def ensure_clean(repo: git.Repo, found: Dirt | None = None) -> None:
    """Refuse a work tree with uncommitted changes or untracked files (``found``, read now
    when None), naming them."""
    found = dirt(repo) if found is None else found
    if not found:
        return
    parts = []
    if found.changed:
        parts.append(f"uncommitted changes in {_some(found.changed)}")
    if found.untracked:
        parts.append(f"untracked files {_some(found.untracked)}")
    raise CiswitchError(
        f"work tree is not clean: {'; '.join(parts)} (commit, stash or remove them first)",
        str(work_tree(repo)),
    )


def current_branch(repo: git.Repo) -> str:
    """The checked-out branch; refuses a detached HEAD and a branch without commits. HEAD's
    file says which branch it is, its ref files whether it has commits (GitPython is asked
    when they cannot tell)."""
    target = head_target(repo)
    if target is not None and target.startswith("refs/heads/"):
        present = _ref_present(repo, target)
        if present:
            return target[len("refs/heads/"):]
    if repo.head.is_detached:
        sha = repo.head.commit.hexsha[:10]
        raise CiswitchError(
            f"HEAD is detached at {sha}: check out a branch first", str(work_tree(repo))
        )
    ref = repo.head.ref
    present = _ref_present(repo, ref.path)
    if not (repo.head.is_valid() if present is None else present):
        raise CiswitchError(f"branch {ref.name} has no commits yet", str(work_tree(repo)))
    return ref.name


def branch_worktree(repo: git.Repo, branch: str) -> str | None:
    """The work tree (of this repository's worktrees, the main one included) that has
    ``branch`` checked out, or None: moving such a branch would move that tree's HEAD off
    its files, which ``git branch -f`` refuses too."""
    out = run_git(repo, "cannot list the worktrees", "worktree", "list", "--porcelain", "-z")
    path: str | None = None
    for field in out.split("\0"):
        if field.startswith("worktree "):
            path = field[len("worktree "):]
        elif field == f"branch refs/heads/{branch}" and path is not None:
            return path
    return None


def refuse_checked_out(repo: git.Repo, branch: str) -> None:
    """Refuse to move ``branch`` when a worktree has it checked out, naming that worktree."""
    where = branch_worktree(repo, branch)
    if where is not None:
        raise CiswitchError(
            f"branch {branch} is checked out in the worktree {where}: it is not moved (as "
            "`git branch -f` refuses too); switch that worktree to another branch first"
        )
