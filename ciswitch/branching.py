"""``ciswitch branch``: the merge request that removes :local (step 2 of the switch).

The fix is computed from the commit at HEAD (read through a
:class:`~ciswitch.git_tree.GitTreeWorkspace`, so it is exactly what gets committed), committed
on a new branch with plumbing (the work tree and the checked-out branch are never touched),
and pushed with GitLab's ``merge_request.*`` push options so that the merge request opens
itself. Running it again is safe: a branch that already carries the same change is left alone,
and one with a different change is only replaced on request (``--force-update``).

Every step that can fail runs before anything is written; when the push fails, the local
branch this run created or moved is put back, so an error leaves the repository as it was.
"""

from __future__ import annotations

import shlex
import textwrap
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from ciswitch import gitops
from ciswitch.errors import CiswitchError
from ciswitch.merge_request import MergeRequestSettings
from ciswitch.model import Finding, counted
from ciswitch.redact import redact

if TYPE_CHECKING:
    import git

    from ciswitch.fix import FixOutcome
    from ciswitch.workspace import Workspace

DEFAULT_BRANCH = "ciswitch/remote-stages-storage"
DEFAULT_TITLE = "Use remote werf stages storage instead of :local"
MARKER_FILE = ".ciswitch.toml"
#: places listed in a merge request description before "and N more"
_DESCRIPTION_PLACES = 20


@dataclass(frozen=True)
class BranchRequest(MergeRequestSettings):
    """Everything ``ciswitch branch`` was asked to do."""

    branch: str = DEFAULT_BRANCH
    title: str = DEFAULT_TITLE
    to: str | None = None
    unsafe: bool = False
    config_file: Path | None = None
    marker: bool = True
    #: the repository is a clone ciswitch made or synced just now (``fleet run``): its work
    #: tree is clean and its remote-tracking refs are what the remote has, so git is not asked
    #: about either again
    fresh_clone: bool = False
    #: open the merge request with GitLab's push options; False when the caller opens it
    #: through GitLab's API after the push (``fleet run`` with a token)
    merge_request_by_push: bool = True


class BranchStatus(StrEnum):
    """How ``ciswitch branch`` ended for one repository."""

    NOTHING_TO_FIX = "nothing-to-fix"
    #: findings remain, none of them fixable automatically
    UNFIXABLE = "unfixable"
    #: the branch already carries the change (locally, on the remote, or both)
    UP_TO_DATE = "up-to-date"
    DRY_RUN = "dry-run"
    #: committed on the branch, not pushed (``--no-push``)
    COMMITTED = "committed"
    PUSHED = "pushed"


@dataclass
class BranchOutcome:
    """What happened (or, with ``--dry-run``, would happen); the CLI prints it."""

    status: BranchStatus
    branch: str
    messages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    fixed: list[Finding] = field(default_factory=list)
    remaining: list[Finding] = field(default_factory=list)
    #: path -> (old bytes or None for a new file, new bytes)
    files: dict[str, tuple[bytes | None, bytes]] = field(default_factory=dict)
    commit: str | None = None
    message: str = ""
    push_command: list[str] | None = None
    merge_request_url: str | None = None
    #: the file that records the switch (``.ciswitch.toml``, or ``pyproject.toml`` when the
    #: settings live in its ``[tool.ciswitch]``), when the change writes it
    marker_file: str | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.status == BranchStatus.UNFIXABLE else 0


def read_description(path: Path) -> str:
    """The text of ``--description-file`` (folded to one line when pushed)."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise CiswitchError("description is not valid UTF-8", str(path)) from err
    except OSError as err:
        raise CiswitchError(f"cannot read description: {err.strerror}", str(path)) from err


def place(finding: Finding) -> str:
    return f"{finding.path}:{finding.begin.line}"


def _places(findings: list[Finding], *, reasons: bool) -> list[str]:
    out = []
    for finding in findings:
        line = f"{place(finding)} {finding.code}"
        if reasons and finding.unfixable_reason:
            line += f" ({finding.unfixable_reason})"
        out.append(line)
    return out


def _what(to: str | None) -> str:
    if to is not None:
        return f"Replace :local stages storage by {to} in the CI configuration."
    return (
        "Remove :local stages storage from the CI configuration, so that werf uses the "
        "remote stages storage (werf ci-env sets $CI_REGISTRY_IMAGE/stages)."
    )


def commit_message(
    outcome: FixOutcome, title: str, *, marker: bool | str, to: str | None = None
) -> str:
    """Subject, a body listing the places fixed (and left), and the ciswitch trailer."""
    body = [
        *textwrap.wrap(_what(to), 72),
        "",
        "Places fixed:",
        *(f"- {p}" for p in _places(outcome.fixed, reasons=False)),
    ]
    if outcome.remaining:
        body += ["", "Places left for a manual change:"]
        body += [f"- {p}" for p in _places(outcome.remaining, reasons=True)]
    if marker:
        where = marker if isinstance(marker, str) else MARKER_FILE
        body += ["", f"{where} records that the project now uses a remote stages storage."]
    return gitops.commit_message(title, "\n".join(body))


def default_description(outcome: FixOutcome, *, to: str | None = None) -> str:
    """The merge request description (one line once folded for the push option)."""
    fixed = _places(outcome.fixed, reasons=False)
    shown = ", ".join(fixed[:_DESCRIPTION_PLACES])
    if len(fixed) > _DESCRIPTION_PLACES:
        shown += f" and {len(fixed) - _DESCRIPTION_PLACES} more"
    text = f"{_what(to)} Places fixed: {shown}."
    if outcome.remaining:
        text += (
            f" {counted(len(outcome.remaining), 'place')} still "
            f"{'needs' if len(outcome.remaining) == 1 else 'need'} a manual change: "
            + ", ".join(_places(outcome.remaining[:_DESCRIPTION_PLACES], reasons=False))
            + "."
        )
    text += (
        " Let the pipeline build, run `werf stages switch-from-local --to <registry>/stages`, "
        "then merge; other active branches must merge or rebase onto this change."
    )
    return text


def _marker(
    ws: Workspace, to: str | None, warnings: list[str]
) -> tuple[str, bytes | None, bytes] | None:
    """The marker file's (path, old bytes, new bytes), or None when nothing needs to change.

    A new ``.ciswitch.toml`` would hide ``[tool.ciswitch]`` of ``pyproject.toml`` (the
    dedicated file wins), dropping the team's settings: then the marker goes into that table.
    """
    from ciswitch.config import CONFIG_FILE, PYPROJECT_FILE, load_config
    from ciswitch.marker import render_marker, render_pyproject_marker

    old = ws.read_bytes(CONFIG_FILE) if ws.is_file(CONFIG_FILE) else None
    if old is None and load_config(ws).source == PYPROJECT_FILE:
        data = ws.read_bytes(PYPROJECT_FILE)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise CiswitchError("configuration is not valid UTF-8", PYPROJECT_FILE) from err
        marked = render_pyproject_marker(text, to)
        if marked is None:
            warnings.append(
                f"settings live in [tool.ciswitch] of {PYPROJECT_FILE} as dotted keys or an "
                f'inline table: add stages-storage = "remote" there by hand'
            )
            return None
        new_py = marked.encode("utf-8")
        return None if new_py == data else (PYPROJECT_FILE, data, new_py)
    try:
        old_text = None if old is None else old.decode("utf-8")
    except UnicodeDecodeError as err:
        raise CiswitchError("configuration is not valid UTF-8", CONFIG_FILE) from err
    new = render_marker(old_text, to).encode("utf-8")
    return None if new == old else (CONFIG_FILE, old, new)


def _carries(repo: git.Repo, sha: str, files: dict[str, tuple[bytes | None, bytes]]) -> bool:
    """Whether commit ``sha`` already has every planned file content."""
    return all(gitops.file_at(repo, sha, path) == new for path, (_old, new) in files.items())


def _remote_tip(repo: git.Repo, request: BranchRequest) -> str | None:
    """The remote's tip of the branch with its objects available locally, or None.

    With a push ahead (or a dry run of one) the remote is asked live; objects are fetched
    without writing any ref. With ``--no-push``, or right after a clone or fetch, the local
    remote-tracking ref is used.
    """
    if request.push and not request.fresh_clone:
        sha = gitops.remote_branch_sha(repo, request.remote, request.branch)
        if sha is not None and gitops.resolve_commit(repo, sha) is None:
            gitops.fetch_objects(repo, request.remote, request.branch)
            if gitops.resolve_commit(repo, sha) is None:
                raise CiswitchError(
                    f"branch {request.branch} moved on {request.remote} while reading it: "
                    "run again"
                )
        return sha
    return gitops.ref_commit(repo, f"refs/remotes/{request.remote}/{request.branch}")


def prepare_branch(request: BranchRequest) -> BranchOutcome:
    """Fix, commit on a branch and push (see the module docstring); raises CiswitchError.

    GitPython's long-running ``cat-file`` helpers end with the repository object here, not
    whenever the garbage collector gets to it: a fleet run would otherwise gather dozens.
    """
    repo = gitops.open_repo(request.path, plain=request.fresh_clone)
    try:
        return _prepare(repo, request)
    finally:
        repo.close()


def _prepare(repo: git.Repo, request: BranchRequest) -> BranchOutcome:
    from ciswitch.config import load_config
    from ciswitch.fix import plan_fix
    from ciswitch.git_tree import GitTreeWorkspace

    root = gitops.work_tree(repo)
    gitops.check_branch_name(repo, request.branch)
    current = gitops.current_branch(repo)
    untracked: tuple[str, ...] = ()
    if not request.fresh_clone:
        # The change is computed from HEAD's tree and committed on it: edits of tracked files
        # would silently stay out of it, so they are refused; untracked files do not matter
        # unless the change writes the same path.
        found = gitops.dirt(repo)
        if found.changed:
            gitops.ensure_clean(repo, found)
        untracked = found.untracked
    if current == request.branch:
        raise CiswitchError(
            f"{request.branch} is checked out: switch to the branch the change should start "
            "from (usually the default branch)", str(root),
        )
    if request.push:
        gitops.check_remote(repo, request.remote)
    head = gitops.head_sha(repo)
    ws = GitTreeWorkspace(repo, head, label=str(root))
    config = load_config(ws, request.config_file)
    plan = plan_fix(ws, config, to=request.to, unsafe=request.unsafe)
    if plan.problems:
        first = plan.problems[0]
        others = len(plan.problems) - 1
        more = f" (and {counted(others, 'more problem')})" if others else ""
        raise CiswitchError(first.message + more, first.path, first.line, first.column)
    outcome = BranchOutcome(BranchStatus.NOTHING_TO_FIX, request.branch,
                            fixed=list(plan.fixed), remaining=list(plan.remaining))
    if not plan.changes:
        if plan.remaining:
            outcome.status = BranchStatus.UNFIXABLE
            outcome.messages.append(
                f"nothing ciswitch can fix automatically in {root}: "
                f"{counted(len(plan.remaining), 'place')} "
                f"{'needs' if len(plan.remaining) == 1 else 'need'} a manual change"
            )
        else:
            outcome.messages.append(f"nothing to fix in {root}: no :local stages storage found")
        return outcome

    for change in plan.changes:
        outcome.files[change.path] = (change.old, change.new)
    if request.marker:
        marked = _marker(ws, request.to, outcome.warnings)
        if marked is not None:
            outcome.marker_file, old_marker, new_marker = marked
            outcome.files[outcome.marker_file] = (old_marker, new_marker)
    outcome.message = commit_message(
        plan, request.title, marker=outcome.marker_file or False, to=request.to
    )
    clash = sorted(set(untracked) & set(outcome.files))
    if clash:
        raise CiswitchError(
            f"untracked {', '.join(clash)} in the work tree: the change writes the same path, "
            "so checking the branch out would fail; move it away or commit it first", str(root),
        )

    local_sha = gitops.branch_sha(repo, request.branch)
    remote_sha = _remote_tip(repo, request)
    local_same = local_sha is not None and _carries(repo, local_sha, outcome.files)
    remote_same = remote_sha is not None and _carries(repo, remote_sha, outcome.files)
    request.refuse_other_change((local_sha, local_same), (remote_sha, remote_same), str(root))
    remote_done = remote_sha is not None and remote_same
    if (local_same and (not request.push or remote_done)) or (local_sha is None and remote_done):
        outcome.status = BranchStatus.UP_TO_DATE
        there = f"{request.remote}" if remote_done else "the local repository"
        outcome.messages.append(
            f"nothing to do: branch {request.branch} in {there} already carries this change"
        )
        outcome.commit = remote_sha if remote_done and local_sha is None else local_sha
        return outcome

    reuse = local_sha if local_same else None
    if local_sha is not None and reuse is None:
        gitops.refuse_checked_out(repo, request.branch)
    # a fresh commit from HEAD never fast-forwards an existing remote branch, and reaching
    # this point with a remote branch means --force-update allowed replacing it
    lease = remote_sha
    options: list[str] = []
    if request.push:
        target = request.target or gitops.default_branch(repo, request.remote)
        description = request.description or default_description(plan, to=request.to)
        options = (request.merge_request_push_options(target, description)
                   if request.merge_request_by_push else list(request.push_options))
        outcome.push_command = gitops.push_command(
            request.remote, request.branch, options, force_with_lease=lease
        )
    if request.dry_run:
        outcome.status = BranchStatus.DRY_RUN
        if reuse is not None:
            outcome.messages.append(
                f"would push the existing local branch {request.branch}, which carries this change"
            )
        else:
            verb = "replace" if local_sha is not None or lease is not None else "create"
            outcome.messages.append(f"would {verb} branch {request.branch} from {current}")
        return outcome

    if reuse is not None:
        outcome.commit = reuse
        outcome.messages.append(
            f"branch {request.branch} already carries this change locally; pushing it"
        )
        created_ref = False
    else:
        files = {path: new for path, (_old, new) in outcome.files.items()}
        outcome.commit = gitops.commit_files(repo, head, files, outcome.message, request.author)
        # a clone of ciswitch's own (fleet run) needs no local branch to push from: the
        # commit is pushed as it is, and the push sets the remote-tracking ref, which is what
        # later runs read (one git process less per repository); a local branch already
        # there is still moved, so that nothing stale stays behind
        created_ref = not (request.fresh_clone and request.push) or local_sha is not None
        if created_ref:
            gitops.set_branch(repo, request.branch, outcome.commit, old=local_sha)
            verb = "replaced" if local_sha is not None else "created"
            outcome.messages.append(
                f"{verb} branch {request.branch} ({outcome.commit[:10]}) from {current}; "
                f"your work tree is unchanged (git switch {request.branch} to see it)"
            )
        else:
            outcome.messages.append(f"committed {outcome.commit[:10]} on {current}")
    if not request.push:
        outcome.status = BranchStatus.COMMITTED
        return outcome
    try:
        result = gitops.push_branch(
            repo, request.remote, request.branch, options, force_with_lease=lease,
            source=None if reuse is not None or created_ref else outcome.commit,
        )
    except CiswitchError:
        if created_ref:
            gitops.restore_branch(repo, request.branch, outcome.commit, local_sha)
        raise
    outcome.status = BranchStatus.PUSHED
    url = result.url or gitops.remote_url(repo, request.remote)
    outcome.messages.append(f"pushed {request.branch} to {request.remote} ({url})")
    outcome.merge_request_url = result.merge_request_url
    return outcome


def render_outcome(outcome: BranchOutcome) -> str:
    """The text ``ciswitch branch`` prints on standard output."""
    from ciswitch.report.diff import unified_diff

    lines: list[str] = []
    if outcome.status == BranchStatus.DRY_RUN:
        for path, (old, new) in sorted(outcome.files.items()):
            lines.append(unified_diff(path, old, new).rstrip("\n"))
        lines.append("")
        lines.append("commit message:")
        lines += ["    " + ln if ln else "" for ln in outcome.message.rstrip("\n").splitlines()]
        lines.append("")
        if outcome.push_command is not None:
            lines.append("push command:")
            lines.append("    " + shlex.join(outcome.push_command))
        else:
            lines.append("no push (--no-push)")
    if outcome.fixed and outcome.status != BranchStatus.UP_TO_DATE:
        verb = "would fix" if outcome.status == BranchStatus.DRY_RUN else "fixed"
        files = sorted(p for p in outcome.files if p != outcome.marker_file)
        text = (f"{verb} {counted(len(outcome.fixed), 'place')} in "
                f"{counted(len(files), 'file')}: {', '.join(files)}")
        if outcome.marker_file in outcome.files:
            text += f"; {outcome.marker_file} marks the switch"
        lines.append(text)
    for message in outcome.messages:
        lines.append(message)
    if outcome.remaining:
        lines.append(f"{counted(len(outcome.remaining), 'place')} left for a manual change:")
        lines += [f"  {p}" for p in _places(outcome.remaining, reasons=True)]
    if outcome.merge_request_url:
        lines.append(f"merge request: {outcome.merge_request_url}")
    return redact("\n".join(lines) + "\n")
