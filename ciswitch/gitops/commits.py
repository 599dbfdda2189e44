"""Commits and the ciswitch trailer: identities, the fix commit, reading files and history."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ciswitch.errors import CiswitchError
from ciswitch.gitops.pack import _NewObjects, _read_object, _write_tree
from ciswitch.gitops.refs import resolve_commit
from ciswitch.gitops.run import (
    _git_env,
    _object_format,
    _stderr_error,
    git_error,
    git_process,
    run_git,
    work_tree,
)

if TYPE_CHECKING:
    import git


#: the trailer that marks the commit switching a project to remote stages storage
TRAILER_KEY = "Ciswitch-Change"
TRAILER_VALUE = "remote-stages-storage"
TRAILER = f"{TRAILER_KEY}: {TRAILER_VALUE}"


@dataclass(frozen=True)
class Identity:
    """A commit author (and committer) given on the command line."""

    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class UnknownIdentity(CiswitchError):
    """git has no author or committer identity for the commit; each command adds the option
    it has to give one."""


def parse_identity(text: str) -> Identity | None:
    """``"Name <mail@host>"`` as ``git commit --author`` takes it; None when it is not one."""
    match = re.fullmatch(r"\s*([^<>]*?)\s*<([^<>\s]+@[^<>\s]+|[^<>\s]+)>\s*", text)
    if not match or not match.group(1):
        return None
    return Identity(match.group(1), match.group(2))


def commit_files(
    repo: git.Repo,
    parent: str,
    files: Mapping[str, bytes],
    message: str,
    author: Identity | None = None,
) -> str:
    """Create a commit whose tree is ``parent``'s with ``files`` (path -> content) replaced.

    Nothing outside the object database changes: the work tree, the index and every ref stay
    as they were (set a branch with :func:`set_branch`). Contents are stored as given, without
    clean filters: they are repository (blob) form, computed from ``parent``'s own blobs. Modes
    are kept from ``parent`` (new files get 100644). The committer is ``author`` too when given,
    else both come from git's configuration.

    Blobs and trees are written here (one small pack), so the only git process is
    ``commit-tree``, which knows the identity, date and signing rules of the user's
    configuration.
    """
    if not files:
        raise CiswitchError("nothing to commit")
    object_format = _object_format(repo)
    if object_format != "sha1":
        raise CiswitchError(
            f"the repository uses the {object_format} object format; ciswitch writes sha1 "
            "objects only", str(work_tree(repo)),
        )
    if re.fullmatch(r"[0-9a-f]{40}", parent) is None:
        named = resolve_commit(repo, parent)
        if named is None:
            raise CiswitchError(f"cannot read the parent tree: no commit {parent}")
        parent = named
    env: dict[str, str] = {}
    if author is not None:
        env.update(
            GIT_AUTHOR_NAME=author.name, GIT_AUTHOR_EMAIL=author.email,
            GIT_COMMITTER_NAME=author.name, GIT_COMMITTER_EMAIL=author.email,
        )
    what = "cannot read the parent tree"
    try:
        head = _read_object(repo, bytes.fromhex(parent)).split(b"\n", 1)[0]
    except ValueError as err:
        raise git_error(err, what) from err
    if not head.startswith(b"tree "):
        raise CiswitchError(f"{what}: {parent} is not a commit")
    new = _NewObjects()
    tree = _write_tree(repo, new, bytes.fromhex(head[len(b"tree "):].decode("ascii")), files)
    try:
        new.write(repo)
    except OSError as err:
        raise CiswitchError(
            f"cannot write to the object database: {err.strerror or err}", str(repo.common_dir)
        ) from err
    text = message if message.endswith("\n") else message + "\n"
    proc = git_process(
        ["commit-tree", tree.hex(), "-p", parent],
        cwd=repo.working_dir, env=_git_env(env), input=text.encode("utf-8"),
    )
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", "replace")
        if "identity" in stderr.lower() or "who you are" in stderr.lower():
            raise UnknownIdentity(
                "git does not know who you are: set user.name and user.email (git config)"
            )
        raise _stderr_error(stderr, "cannot create the commit")
    return proc.stdout.decode("ascii").strip()


def file_at(repo: git.Repo, rev: str, path: str) -> bytes | None:
    """The content of ``path`` at ``rev``, or None when the file is not there."""
    import git

    try:
        blob = repo.commit(rev).tree / path
    except (KeyError, ValueError, git.BadName):
        return None
    if blob.type != "blob":
        return None
    data: bytes = blob.data_stream.read()
    return data


def commit_message(subject: str, body: str = "") -> str:
    """Subject, blank line, body, blank line, the ciswitch trailer."""
    parts = [subject.strip()]
    if body.strip():
        parts.append(body.strip())
    parts.append(TRAILER)
    return "\n\n".join(parts) + "\n"


def trailer_commits(
    repo: git.Repo, rev: str, *, value: str = TRAILER_VALUE, max_count: int | None = None
) -> list[str]:
    """Commits reachable from ``rev`` (newest first) carrying ``Ciswitch-Change: <value>``.

    ``git log --grep`` narrows the walk; each hit is then checked for the trailer as a line
    of its own, so a message merely quoting the text elsewhere does not count.
    """
    args = [
        "log", "--format=%H%x00%B%x00", "-E", "-i",
        f"--grep=^{TRAILER_KEY}:[[:space:]]*{re.escape(value)}[[:space:]]*$",
    ]
    if max_count is not None:
        args.append(f"--max-count={max_count}")
    out = run_git(repo, f"cannot read the history of {rev}", *args, rev, "--")
    found = []
    fields = out.split("\0")
    for sha, body in zip(fields[0::2], fields[1::2], strict=False):
        sha = sha.strip()
        pattern = rf"(?im)^{re.escape(TRAILER_KEY)}:[ \t]*{re.escape(value)}[ \t]*$"
        if sha and re.search(pattern, body):
            found.append(sha)
    return found


def has_trailer_commit(repo: git.Repo, rev: str, *, value: str = TRAILER_VALUE) -> bool:
    return bool(trailer_commits(repo, rev, value=value, max_count=1))


def refs_with_trailer(repo: git.Repo, prefix: str, *, value: str = TRAILER_VALUE) -> set[str]:
    """The refs under ``prefix`` (``refs/remotes/origin/``) that contain a trailer commit.

    One history walk over all those refs finds the trailer commits, one ``for-each-ref
    --contains`` maps them to refs: far cheaper than walking every branch's history in turn.
    """
    prefix = prefix.rstrip("/") + "/"
    shas = trailer_commits(repo, f"--glob={prefix}*", value=value)
    if not shas:
        return set()
    out = run_git(
        repo, "cannot list branches",
        "for-each-ref", "--format=%(refname)", *(f"--contains={sha}" for sha in shas), prefix,
    )
    return {line.strip() for line in out.splitlines() if line.strip()}


@dataclass(frozen=True)
class CommitInfo:
    """What ``branches`` shows about a branch tip."""

    sha: str
    date: str  #: committer date, strict ISO 8601 with offset
    timestamp: int
    author: str


def commit_info(repo: git.Repo, rev: str) -> CommitInfo:
    out = run_git(
        repo, f"cannot read {rev}", "log", "-1", "--format=%H%x00%cI%x00%ct%x00%an", rev, "--"
    )
    sha, date, stamp, author = out.strip("\n").split("\0")
    return CommitInfo(sha, date, int(stamp), author)
