"""``ciswitch revert``: the merge request that takes a project back to ``:local`` (rollback 3).

The commit to undo is found by its trailer (``Ciswitch-Change: remote-stages-storage``) on the
remote's default branch, so nobody has to dig for a sha in a hurry. ``git revert`` runs in a
temporary worktree on that branch's tip: git's own three-way revert handles later edits of the
same files, while the user's work tree, index and checked-out branch are never touched. The
result is pushed with the same merge request push options as ``ciswitch branch``.

Everything that can fail (finding the commit, conflicts) happens before any ref is written;
a rejected push puts the local branch back.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from ciswitch import gitops
from ciswitch.errors import CiswitchError
from ciswitch.merge_request import MergeRequestSettings
from ciswitch.redact import redact

if TYPE_CHECKING:
    import git

#: the trailer value of a revert made by ciswitch, so that ``status`` can tell it rolled back
REVERT_VALUE = "revert-remote-stages-storage"
DEFAULT_BRANCH = "ciswitch/revert-remote-stages-storage"
DEFAULT_TITLE = "Go back to :local werf stages storage"


@dataclass(frozen=True)
class RevertRequest(MergeRequestSettings):
    """Everything ``ciswitch revert`` was asked to do (the options mirror ``branch``)."""

    branch: str = DEFAULT_BRANCH
    title: str = DEFAULT_TITLE
    #: the commit to revert when the trailer cannot find it (a squashed merge request)
    commit: str | None = None


class RevertStatus(StrEnum):
    """How ``ciswitch revert`` ended."""

    #: a ciswitch revert of the switch is already on the default branch
    ALREADY_REVERTED = "already-reverted"
    #: the branch already carries this revert
    UP_TO_DATE = "up-to-date"
    DRY_RUN = "dry-run"
    #: committed on the branch, not pushed (``--no-push``)
    COMMITTED = "committed"
    PUSHED = "pushed"


@dataclass
class RevertOutcome:
    """What happened; the CLI prints it."""

    status: RevertStatus
    branch: str
    target: str
    reverted: str
    subject: str = ""
    commit: str | None = None
    diff: str = ""
    messages: list[str] = field(default_factory=list)
    push_command: list[str] | None = None
    merge_request_url: str | None = None


def _base(repo: git.Repo, request: RevertRequest, target: str) -> str:
    """The tip of the default branch to revert on: live from the remote when pushing."""
    ref = f"refs/remotes/{request.remote}/{target}"
    if request.push:
        sha = gitops.remote_branch_sha(repo, request.remote, target)
        if sha is None:
            raise CiswitchError(f"branch {target} does not exist on {request.remote}")
        if gitops.resolve_commit(repo, sha) is None:
            gitops.fetch_objects(repo, request.remote, target)
        return sha
    for rev in (ref, f"refs/heads/{target}"):
        sha = gitops.resolve_commit(repo, rev)
        if sha is not None:
            return sha
    raise CiswitchError(f"no branch {target} here (neither {request.remote}/{target} nor local)")


#: the files a switch commit may change besides the CI configuration's ``:local`` places
MARKER_FILES = frozenset({".ciswitch.toml"})
#: where the marker goes when the settings live in ``[tool.ciswitch]``: only its lines count
PYPROJECT_MARKER = "pyproject.toml"
_MARKER_LINE_RE = re.compile(r"\s*stages-storage(?:-address)?\s*=")
#: foreign changes named in a refusal before "and N more"
_SHOWN = 3
_HUNK_RE = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def carries_trailer(repo: git.Repo, sha: str) -> bool:
    """Whether commit ``sha`` itself (not its history) carries the switch trailer."""
    body = gitops.run_git(repo, "cannot read the commit", "log", "-1", "--format=%B", sha, "--")
    key, value = re.escape(gitops.TRAILER_KEY), re.escape(gitops.TRAILER_VALUE)
    pattern = rf"(?im)^{key}:[ \t]*{value}[ \t]*$"
    return re.search(pattern, body) is not None


def _hunks(diff: str) -> list[tuple[int, int, list[str], list[str]]]:
    """``(old line, new line, removed lines, added lines)`` of a ``-U0`` diff of one file."""
    hunks: list[tuple[int, int, list[str], list[str]]] = []
    for line in diff.splitlines():
        match = _HUNK_RE.match(line)
        if match:
            hunks.append((int(match.group(1)), int(match.group(3)), [], []))
        elif hunks and line.startswith("-"):
            hunks[-1][2].append(line[1:])
        elif hunks and line.startswith("+"):
            hunks[-1][3].append(line[1:])
    return hunks


def foreign_changes(repo: git.Repo, sha: str) -> list[str]:
    """What commit ``sha`` changes besides ``:local`` places and the marker, at file:line.

    A change counts as a ``:local`` place when its hunk removes or rewrites lines, one of them
    holding ``:local``, and adds no more lines than it removes (a removal, or a ``--to``
    replacement); any other edit, any file added, deleted or binary (the marker may be added)
    is foreign. The diff is taken against the first parent, as ``git revert -m 1`` reverts it.
    """
    parents = gitops.run_git(repo, "cannot read the commit", "rev-list", "--parents", "-n", "1",
                             sha).split()[1:]
    if not parents:
        return [f"{sha[:10]} is the first commit: there is nothing before it to go back to"]
    parent = parents[0]
    listing = gitops.run_git(repo, "cannot read the commit's changes", "diff", "--no-renames",
                             "--no-ext-diff", "--name-status", "-z", parent, sha, "--")
    fields = [f for f in listing.split("\0") if f]
    foreign: list[str] = []
    for status, path in zip(fields[0::2], fields[1::2], strict=False):
        if path in MARKER_FILES and status in ("A", "M"):
            continue
        if status != "M":
            what = {"A": "added", "D": "deleted", "T": "changed type"}.get(status, status)
            foreign.append(f"{path}: file {what}")
            continue
        diff = gitops.run_git(repo, "cannot read the commit's changes", "diff", "--no-color",
                              "--no-ext-diff", "--no-renames", "-U0", parent, sha, "--", path)
        hunks = _hunks(diff)
        if not hunks:
            foreign.append(f"{path}: binary or mode change")
            continue
        if path == PYPROJECT_MARKER and all(
            _MARKER_LINE_RE.match(line) for _, _, removed, added in hunks
            for line in (*removed, *added)
        ):
            continue  # the marker written into [tool.ciswitch]
        for old_line, new_line, removed, added in hunks:
            bad = _foreign_in_hunk(removed, added)
            if bad is not None:
                offset, side = bad
                line = (old_line if side == "old" else new_line) + offset
                foreign.append(f"{path}:{line}: a change without :local")
    return foreign


#: the words a removal or replacement of one ``:local`` setting may take out of a line
_STORAGE_TOKENS = frozenset({
    ":local", "--stages-storage", "-s", "--synchronization", "-S", "\\",
    "WERF_STAGES_STORAGE", "WERF_SYNCHRONIZATION", "export",
})
#: words next to ``:local`` that a fix may take with it (a flag split from its value)
_STORAGE_WORDS = ("stages-storage", "STAGES_STORAGE", "synchronization", "SYNCHRONIZATION")


def _storage_text(text: str) -> bool:
    """Whether removed ``text`` is part of a ``:local`` setting: the value, its flag or
    variable, or a line continuation the removal joined."""
    bare = text.strip()
    return (":local" in text or any(w in text for w in _STORAGE_WORDS)
            or bare in ("-s", "-S", "\\") or bare.endswith("\\"))


def _edit_is_storage(old: str, new: str) -> bool:
    """Whether ``new`` is ``old`` with one span of whole words changed, and that span is
    storage text (see :data:`_STORAGE_TOKENS`) replaced by nothing or by one word."""

    def boundary(i: int) -> bool:
        return i <= 0 or i >= len(old) or old[i].isspace() or old[i] == "=" \
            or old[i - 1].isspace() or old[i - 1] == "="

    limit = min(len(old), len(new))
    prefix = 0
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    while not boundary(prefix):
        prefix -= 1
    suffix = 0
    while suffix < limit - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    while suffix and not boundary(len(old) - suffix):
        suffix -= 1
    old_span, new_span = old[prefix:len(old) - suffix], new[prefix:len(new) - suffix]
    if any(c.isspace() for c in new_span.strip()):
        return False  # an address replaces :local as one word; anything else is new text
    words = [w.strip("'\"") for w in re.split(r"[\s=]+", old_span.strip()) if w]
    return bool(words) and all(w in _STORAGE_TOKENS or w.startswith(("-s:", "-S:"))
                               for w in words)


def _foreign_in_hunk(removed: list[str], added: list[str]) -> tuple[int, str] | None:
    """The first line of a hunk that is not a ``:local`` removal or replacement, as
    ``(offset in the hunk, "old" or "new")``; None when the whole hunk is one.

    Each added line must be a removed line (in order) with one storage span changed; the
    removed lines it skips must be storage text themselves.
    """
    if not any(":local" in line for line in removed):
        return (0, "old") if removed else (0, "new")
    at = 0
    for index, new in enumerate(added):
        while at < len(removed) and not _edit_is_storage(removed[at], new):
            if not _storage_text(removed[at]):
                return at, "old"
            at += 1
        if at == len(removed):
            return index, "new"
        at += 1
    for offset in range(at, len(removed)):
        if not _storage_text(removed[offset]):
            return offset, "old"
    return None


def find_switch_commit(repo: git.Repo, base: str, target: str, explicit: str | None) -> str:
    """The ciswitch commit on ``base`` (``explicit`` when given, checked to be on it and to be
    a switch: it carries the trailer, or changes nothing but ``:local`` places and the
    marker)."""
    if explicit is not None:
        sha = gitops.resolve_commit(repo, explicit)
        if sha is None:
            raise CiswitchError(f"--commit: {explicit!r} is not a commit here")
        if not gitops.is_ancestor(repo, sha, base):
            raise CiswitchError(f"--commit: {sha[:10]} is not on {target}")
        if not carries_trailer(repo, sha):
            foreign = foreign_changes(repo, sha)
            if foreign:
                more = f" (and {len(foreign) - _SHOWN} more)" if len(foreign) > _SHOWN else ""
                raise CiswitchError(
                    f"--commit: {sha[:10]} carries no '{gitops.TRAILER}' trailer and changes "
                    f"more than :local places and {', '.join(sorted(MARKER_FILES))}: "
                    f"{'; '.join(foreign[:_SHOWN])}{more}; revert it by hand"
                )
        return sha
    found = gitops.trailer_commits(repo, base, max_count=1)
    if not found:
        raise CiswitchError(
            f"no commit with the trailer '{gitops.TRAILER}' on {target}: nothing to revert "
            "(if the merge request was squashed without its trailer, pass --commit SHA)"
        )
    return found[0]


def reverted_by(repo: git.Repo, base: str, switch: str) -> str | None:
    """A ciswitch revert on ``base`` that came after ``switch``, if any."""
    for sha in gitops.trailer_commits(repo, base, value=REVERT_VALUE):
        if gitops.is_ancestor(repo, switch, sha):
            return sha
    return None


def revert_message(title: str, switch: str, subject: str) -> str:
    """Subject, what is reverted, and the revert trailer (not the switch trailer: a revert
    must never be mistaken for the switch itself)."""
    body = (
        f"This reverts commit {switch} (\"{subject}\"): the CI configuration goes back to "
        ":local stages storage."
    )
    return f"{title.strip()}\n\n{body}\n\n{gitops.TRAILER_KEY}: {REVERT_VALUE}\n"


def default_description(switch: str, subject: str) -> str:
    """The merge request description: what it undoes and what must happen around it."""
    return (
        f"Reverts {switch[:10]} ({subject}): back to `:local` werf stages storage. Before "
        "merging: on the runner, `werf stages sync --from <registry>/stages --to :local` "
        "(ciswitch plan --run rollback-sync) and remove the block file "
        "~/.werf/service/stages_switch_from_local_block/<project> (ciswitch plan --run "
        "unblock); stop the project's running werf jobs. After merging, bring the change into "
        "every active branch."
    )


def _identity_env(author: gitops.Identity | None) -> dict[str, str]:
    if author is None:
        return {}
    return {
        "GIT_AUTHOR_NAME": author.name, "GIT_AUTHOR_EMAIL": author.email,
        "GIT_COMMITTER_NAME": author.name, "GIT_COMMITTER_EMAIL": author.email,
    }


def _conflicts(repo: git.Repo, worktree: Path) -> list[str]:
    out = gitops.run_git(repo, "cannot read the revert's state", "-C", str(worktree),
                      "diff", "--name-only", "--diff-filter=U")
    return [line for line in out.splitlines() if line.strip()]


def make_revert_commit(
    repo: git.Repo, base: str, switch: str, message: str, author: gitops.Identity | None,
) -> str:
    """``git revert`` of ``switch`` on top of ``base`` in a throw-away worktree; the commit.

    No ref of the repository moves and the user's work tree is untouched; a conflict is a
    one-line error naming the files.
    """
    parents = gitops.run_git(repo, "cannot read the commit", "rev-list", "--parents", "-n", "1",
                          switch).split()
    mainline = ["-m", "1"] if len(parents) > 2 else []
    env = _identity_env(author)
    with tempfile.TemporaryDirectory(prefix="ciswitch-revert-") as tmp:
        worktree = Path(tmp) / "tree"
        gitops.run_git(repo, "cannot create a temporary worktree",
                    "worktree", "add", "--quiet", "--detach", str(worktree), base)
        try:
            try:
                gitops.run_git(repo, f"git revert of {switch[:10]} failed",
                               "-C", str(worktree), "revert", "--no-commit", *mainline, switch)
            except CiswitchError as err:
                files = _conflicts(repo, worktree)
                if files:
                    raise CiswitchError(
                        f"cannot revert {switch[:10]} cleanly: later changes conflict in "
                        f"{', '.join(files)}; revert it by hand"
                    ) from err
                raise
            message_file = Path(tmp) / "message"
            message_file.write_text(message, encoding="utf-8")
            try:
                gitops.run_git(repo, "cannot commit the revert", "-C", str(worktree),
                            "commit", "--quiet", "--no-verify", "-F", str(message_file), env=env)
            except CiswitchError as err:
                low = err.message.lower()
                if "identity" in low or "who you are" in low:
                    raise gitops.UnknownIdentity(
                        "git does not know who you are: set user.name and user.email "
                        "(git config)"
                    ) from err
                if "nothing to commit" in low or "nothing added" in low:
                    raise CiswitchError(
                        f"reverting {switch[:10]} changes nothing on the default branch"
                    ) from err
                raise
            return gitops.run_git(repo, "cannot read the revert commit", "-C", str(worktree),
                               "rev-parse", "HEAD").strip()
        finally:
            gitops.run_git(repo, "cannot remove the temporary worktree",
                        "worktree", "remove", "--force", str(worktree))


def _tree(repo: git.Repo, sha: str) -> str:
    return gitops.run_git(repo, "cannot read a tree", "rev-parse", f"{sha}^{{tree}}").strip()


def _same_change(repo: git.Repo, sha: str | None, base: str, ours: str) -> bool:
    """Whether ``sha`` is a revert like ours: same tree, on the same base."""
    if sha is None:
        return False
    parents = gitops.run_git(repo, "cannot read the commit", "rev-list", "--parents", "-n", "1",
                          sha).split()[1:]
    return parents == [base] and _tree(repo, sha) == _tree(repo, ours)


def prepare_revert(request: RevertRequest) -> RevertOutcome:
    """Find the ciswitch commit, revert it on a branch, push it (see the module docstring)."""
    repo = gitops.open_repo(request.path)
    gitops.check_branch_name(repo, request.branch)
    if request.push:
        gitops.get_remote(repo, request.remote)
    target = request.target or gitops.default_branch(repo, request.remote)
    base = _base(repo, request, target)
    switch = find_switch_commit(repo, base, target, request.commit)
    subject = gitops.run_git(repo, "cannot read the commit", "log", "-1", "--format=%s",
                          switch).strip()
    outcome = RevertOutcome(RevertStatus.DRY_RUN, request.branch, target, switch, subject)
    undone = reverted_by(repo, base, switch)
    if undone is not None:
        outcome.status = RevertStatus.ALREADY_REVERTED
        outcome.messages.append(
            f"nothing to do: {switch[:10]} is already reverted on {target} by {undone[:10]}"
        )
        return outcome

    message = revert_message(request.title, switch, subject)
    ours = make_revert_commit(repo, base, switch, message, request.author)
    outcome.diff = gitops.run_git(repo, "cannot show the change", "diff", base, ours)

    local_sha = gitops.branch_sha(repo, request.branch)
    remote_sha = (gitops.remote_branch_sha(repo, request.remote, request.branch)
                  if request.push else None)
    if remote_sha is not None and gitops.resolve_commit(repo, remote_sha) is None:
        gitops.fetch_objects(repo, request.remote, request.branch)
    local_same = _same_change(repo, local_sha, base, ours)
    remote_same = _same_change(repo, remote_sha, base, ours)
    request.refuse_other_change((local_sha, local_same), (remote_sha, remote_same))
    if remote_same and (local_same or local_sha is None):
        outcome.status = RevertStatus.UP_TO_DATE
        outcome.commit = remote_sha
        outcome.messages.append(
            f"nothing to do: branch {request.branch} on {request.remote} already reverts "
            f"{switch[:10]}"
        )
        return outcome
    if local_same and not request.push:
        outcome.status = RevertStatus.UP_TO_DATE
        outcome.commit = local_sha
        outcome.messages.append(
            f"nothing to do: local branch {request.branch} already reverts {switch[:10]}"
        )
        return outcome

    commit = local_sha if local_same else ours
    if local_sha is not None and not local_same:
        gitops.refuse_checked_out(repo, request.branch)
    options: list[str] = []
    if request.push:
        options = request.merge_request_push_options(
            target, request.description or default_description(switch, subject)
        )
        outcome.push_command = gitops.push_command(
            request.remote, request.branch, options, force_with_lease=remote_sha,
        )
    if request.dry_run:
        outcome.messages.append(
            f"would {'replace' if local_sha or remote_sha else 'create'} branch "
            f"{request.branch} reverting {switch[:10]} on {target}"
        )
        return outcome

    assert commit is not None
    outcome.commit = commit
    moved = commit != local_sha
    if moved:
        gitops.set_branch(repo, request.branch, commit, old=local_sha)
        outcome.messages.append(
            f"{'replaced' if local_sha else 'created'} branch {request.branch} "
            f"({commit[:10]}) reverting {switch[:10]} on {target}; your work tree is unchanged"
        )
    if not request.push:
        outcome.status = RevertStatus.COMMITTED
        return outcome
    try:
        result = gitops.push_branch(repo, request.remote, request.branch, options,
                                    force_with_lease=remote_sha)
    except CiswitchError:
        if moved:
            gitops.restore_branch(repo, request.branch, commit, local_sha)
        raise
    outcome.status = RevertStatus.PUSHED
    outcome.messages.append(
        f"pushed {request.branch} to {request.remote} ({gitops.remote_url(repo, request.remote)})"
    )
    outcome.merge_request_url = result.merge_request_url
    return outcome



def render_outcome(outcome: RevertOutcome) -> str:
    """What ``ciswitch revert`` prints."""
    import shlex

    lines: list[str] = []
    if outcome.status == RevertStatus.DRY_RUN:
        lines.append(outcome.diff.rstrip("\n"))
        lines.append("")
        if outcome.push_command is not None:
            lines += ["push command:", "    " + shlex.join(outcome.push_command)]
        else:
            lines.append("no push (--no-push)")
    lines += outcome.messages
    if outcome.merge_request_url:
        lines.append(f"merge request: {outcome.merge_request_url}")
    if outcome.status in (RevertStatus.PUSHED, RevertStatus.COMMITTED, RevertStatus.UP_TO_DATE):
        lines.append("before merging: restore the local stages and remove the block file on "
                     "the runner (ciswitch plan --run rollback-sync, --run unblock), and stop "
                     "the project's running werf jobs")
    return redact("\n".join(lines) + "\n")
