"""Merge request push options, the push itself, and what git and the remote said about it."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ciswitch.errors import CiswitchError
from ciswitch.gitops.refs import check_remote, delete_branch, remote_url, set_branch
from ciswitch.gitops.run import _git_env, _stderr_error, check_push_allowed, git_process
from ciswitch.redact import redact

if TYPE_CHECKING:
    import git


def fold_line(text: str) -> str:
    """One line of text: git refuses newlines in push options, so lines are joined by spaces."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


@dataclass(frozen=True)
class MergeRequestOptions:
    """The GitLab ``merge_request.*`` push options (documented in GitLab's push options)."""

    target: str
    title: str
    description: str = ""
    remove_source_branch: bool = True
    draft: bool = False
    labels: Sequence[str] = ()
    assignees: Sequence[str] = ()
    extra: Sequence[str] = ()

    def push_options(self) -> list[str]:
        options = [
            "merge_request.create",
            f"merge_request.target={self.target}",
            f"merge_request.title={fold_line(self.title)}",
        ]
        if self.description.strip():
            options.append(f"merge_request.description={fold_line(self.description)}")
        if self.remove_source_branch:
            options.append("merge_request.remove_source_branch")
        if self.draft:
            options.append("merge_request.draft")
        options += [f"merge_request.label={fold_line(label)}" for label in self.labels]
        options += [f"merge_request.assign={fold_line(user)}" for user in self.assignees]
        options += self.extra
        for option in options:
            if "\n" in option or "\r" in option or "\0" in option:
                raise CiswitchError(f"push option may not contain a line break: {option!r}")
        return options


def push_command(
    remote: str, branch: str, options: Iterable[str], *, force_with_lease: str | None = None,
    source: str | None = None,
) -> list[str]:
    """The ``git push`` command line :func:`push_branch` runs (shown by ``--dry-run``).

    ``source`` pushes that commit to the remote's ``branch`` instead of the local branch of
    the same name: a plain push, which the remote refuses unless it is a fast-forward."""
    cmd = ["git", "push", "--porcelain"] + ([] if source else ["--set-upstream"])
    if force_with_lease is not None:
        cmd.append(f"--force-with-lease=refs/heads/{branch}:{force_with_lease}")
    for option in options:
        cmd += ["--push-option", option]
    cmd += [remote, f"{source or 'refs/heads/' + branch}:refs/heads/{branch}"]
    return cmd


@dataclass(frozen=True)
class PushResult:
    """A successful push: the remote's messages and the merge request URL found in them."""

    remote_lines: tuple[str, ...]
    merge_request_url: str | None
    up_to_date: bool = False
    #: where git pushed to, as git said (``To <url>``, without credentials), redacted
    url: str | None = None


def _remote_messages(lines: Iterable[str]) -> list[str]:
    """The ``remote:`` lines of git's stderr without the prefix (progress lines dropped)."""
    out = []
    for raw in lines:
        for piece in raw.split("\r"):
            line = piece.rstrip()
            if not line.startswith("remote:"):
                continue
            text = line[len("remote:"):].rstrip()
            if re.match(r"\s*(Resolving deltas|Counting objects|Compressing objects)\b", text):
                continue
            out.append(text)
    return out


_MR_URL = re.compile(r"https?://\S+?/-/merge_requests/\S+|https?://\S+?/pull/new/\S+")


def merge_request_url(messages: Sequence[str]) -> str | None:
    """The merge request URL GitLab prints after a push, redacted; None when there is none.

    GitLab prints ``View merge request for B:`` plus the URL of an existing or just created
    merge request, or ``To create a merge request for B, visit:`` plus a ``.../new?...`` URL.
    The first kind wins: it is the merge request that ``merge_request.create`` opened.
    """
    created: str | None = None
    proposed: str | None = None
    for text in messages:
        match = _MR_URL.search(text)
        if not match:
            continue
        url = match.group(0)
        if "/merge_requests/new" in url or "/pull/new/" in url:
            proposed = proposed or url
        else:
            created = created or url
    best = created or proposed
    return redact(best) if best else None


#: ``git push --porcelain`` status flags (the first field of a ref line)
_PUSH_FLAGS = frozenset("X-*+ =!")


class PushOptionsRefused(CiswitchError):
    """The remote does not accept git push options, so the merge request cannot open itself;
    each command says what to do instead."""


def push_branch(
    repo: git.Repo,
    remote: str,
    branch: str,
    options: Sequence[str],
    *,
    force_with_lease: str | None = None,
    source: str | None = None,
) -> PushResult:
    """Push ``refs/heads/<branch>`` (or the commit ``source``) to ``branch`` on ``remote``
    with push options.

    Raises :class:`CiswitchError` (redacted, one line, with the remote's reason) when git
    fails or any ref update is rejected. ``force_with_lease`` is the remote sha expected to be
    replaced (an update of an earlier ciswitch branch).

    One ``git push --porcelain`` process: its ref lines (stdout) tell what happened to the
    branch, its standard error carries the remote's own words (hook output, merge request
    links), which are kept whole because that is what a rejected push must show.
    """
    check_remote(repo, remote)
    check_push_allowed()
    command = push_command(remote, branch, options, force_with_lease=force_with_lease,
                           source=source)
    proc = git_process(
        [*command[1:-2], "--", *command[-2:]],
        cwd=repo.working_dir, env=_git_env(), stdin=subprocess.DEVNULL,
    )
    lines = proc.stderr.decode("utf-8", "replace").split("\n")
    while lines and not lines[-1]:
        lines.pop()
    messages = _remote_messages(lines)
    infos: list[tuple[str, str]] = []
    pushed_to: str | None = None
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        fields = line.split("\t")
        if len(fields) == 3 and fields[0] in _PUSH_FLAGS:
            infos.append((fields[0], fields[2]))
        elif line.startswith("To ") and pushed_to is None:
            pushed_to = redact(line[len("To "):].strip())
    if proc.returncode != 0 and not infos:
        what = f"push of {branch} to {remote} ({remote_url(repo, remote)}) failed"
        other = [ln.strip() for ln in lines if not ln.startswith("remote:")]
        detail = "; ".join([*(m.strip() for m in messages if m.strip()), *filter(None, other)])
        if not detail:
            raise CiswitchError(redact(f"{what}: git push exited with {proc.returncode}"))
        if "does not support push options" in detail:
            raise PushOptionsRefused(redact(f"{what}: {detail} (the remote is not GitLab, or "
                                            "one too old for push options)"))
        raise CiswitchError(redact(f"{what}: {detail}"))
    reasons = [summary.strip() or "rejected" for flag, summary in infos if flag == "!"]
    errors = [ln.strip() for ln in lines if ln.startswith(("error:", "fatal:"))]
    if proc.returncode != 0 and errors and not reasons:
        reasons.append(_stderr_error("\n".join(errors), "git push failed").message)
    if not infos and not reasons:
        reasons.append("git reported no ref update")
    if reasons:
        said = "; ".join(m.strip() for m in messages if m.strip())
        detail = "; ".join(reasons) + (f"; remote: {said}" if said else "")
        url = remote_url(repo, remote)
        raise CiswitchError(redact(f"push of {branch} to {remote} ({url}) was rejected: {detail}"))
    up_to_date = all(flag == "=" for flag, _summary in infos)
    return PushResult(
        tuple(redact(m) for m in messages), merge_request_url(messages), up_to_date=up_to_date,
        url=pushed_to or None,
    )


def restore_branch(repo: git.Repo, branch: str, ours: str, previous: str | None) -> None:
    """Undo this run's update of ``branch`` after a failed push: delete it when it did not
    exist before, else move it back. Best effort: the push error is what the user must see."""
    try:
        if previous is None:
            delete_branch(repo, branch, expected=ours)
        else:
            set_branch(repo, branch, previous, old=ours)
    except CiswitchError:
        pass
