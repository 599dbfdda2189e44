"""Reading and moving refs: the ref store read directly where it can answer, branches, remotes,
the remote's default branch, ``ls-remote`` and fetches."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ciswitch.errors import CiswitchError
from ciswitch.gitops.run import _git_executable, git_process, run_git, work_tree
from ciswitch.redact import redact

if TYPE_CHECKING:
    import git


_ZERO_SHA = "0" * 40


def _ref_present(repo: git.Repo, ref: str) -> bool | None:
    """Whether the full ref name ``ref`` exists, read from the files ref store; None when the
    files cannot tell (another ref backend, an unreadable ``packed-refs``).

    A loose ref file or a ``packed-refs`` line is all git itself would look at, so "absent"
    here saves a git process per question without guessing.
    """
    common = Path(repo.common_dir)
    if (common / "reftable").exists():
        return None
    if (common / ref).is_file():
        return True
    try:
        packed = (common / "packed-refs").read_bytes()
    except FileNotFoundError:
        return False
    except OSError:
        return None
    needle = f" {ref}".encode()
    return needle + b"\n" in packed or packed.endswith(needle)


def ref_commit(repo: git.Repo, ref: str) -> str | None:
    """The commit the full ref name ``ref`` (``refs/remotes/origin/x``) points to, or None.

    An absent ref is told from the ref store without starting git.
    """
    if _ref_present(repo, ref) is False:
        return None
    return resolve_commit(repo, ref)


def tree_listing(repo: git.Repo, sha: str) -> str:
    """Every entry of commit ``sha``'s tree, directories included (``ls-tree -r -t -z``)."""
    out: str = repo.git.ls_tree("-r", "-t", "-z", "--full-tree", sha)
    return out


def commit_object(repo: git.Repo, sha: str) -> git.Commit:
    """The commit ``sha`` (a full hex id known to name a commit) without asking git for its
    type first, as :meth:`git.Repo.commit` would."""
    import git

    return git.Commit(repo, bytes.fromhex(sha))


def head_target(repo: git.Repo) -> str | None:
    """The full ref name HEAD points to (``refs/heads/main``), read from its file; None when
    HEAD is detached or the file does not say it plainly."""
    try:
        text = (Path(repo.git_dir) / "HEAD").read_text("utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text[len("ref: "):].strip() if text.startswith("ref: refs/") else None


def head_sha(repo: git.Repo) -> str:
    """The commit at HEAD, read from the ref store (git is asked only when that fails)."""
    from ciswitch.gitops.objects import ref_target

    target = head_target(repo)
    found = ref_target(Path(repo.common_dir), target)[1] if target is not None else None
    if found is not None:
        return found
    import git

    try:
        return str(git.SymbolicReference.dereference_recursive(repo, "HEAD"))
    except ValueError:
        return repo.head.commit.hexsha


def resolve_commit(repo: git.Repo, rev: str) -> str | None:
    """The commit ``rev`` names, or None when it names none (or the object is missing)."""
    import git

    try:
        sha: str = repo.git.rev_parse("--verify", "--quiet", f"{rev}^{{commit}}")
    except git.GitCommandError:
        return None
    return sha.strip() or None


def is_ancestor(repo: git.Repo, older: str, newer: str) -> bool:
    """Whether commit ``older`` is reachable from ``newer`` (a commit is its own ancestor)."""
    import git

    try:
        repo.git.merge_base("--is-ancestor", older, newer)
    except git.GitCommandError:
        return False
    return True


def branch_sha(repo: git.Repo, branch: str) -> str | None:
    """The commit of local branch ``branch``, or None when it does not exist."""
    return ref_commit(repo, f"refs/heads/{branch}")


def delete_branch(repo: git.Repo, branch: str, *, expected: str) -> None:
    """Delete ``refs/heads/<branch>`` if it still points at ``expected``."""
    run_git(
        repo, f"cannot delete branch {branch}",
        "update-ref", "-d", f"refs/heads/{branch}", expected,
    )


#: branch names git accepted in this process (a fleet checks the same name in every clone)
_VALID_BRANCH_NAMES: set[str] = set()


def check_branch_name(repo: git.Repo, branch: str) -> None:
    """Refuse names git would refuse, before anything is written."""
    if branch in _VALID_BRANCH_NAMES:
        return
    done = git_process(["check-ref-format", "--branch", branch], cwd=repo.working_dir)
    if done.returncode != 0:
        raise CiswitchError(f"invalid branch name {branch!r}")
    if "@" not in branch:  # "@{-1}" and friends depend on the repository
        _VALID_BRANCH_NAMES.add(branch)


def set_branch(repo: git.Repo, branch: str, sha: str, *, old: str | None) -> None:
    """Point ``refs/heads/<branch>`` at ``sha``, only if it is still at ``old`` (None: absent).

    The compare-and-swap keeps a concurrent run (or the user) from being overwritten.
    """
    run_git(
        repo, f"cannot update branch {branch}",
        "update-ref", "-m", "ciswitch: remote stages storage",
        f"refs/heads/{branch}", sha, old or _ZERO_SHA,
    )


def check_remote(repo: git.Repo, name: str) -> None:
    """Refuse a remote that does not exist (:func:`get_remote`'s error), without GitPython
    when the repository's own configuration file names it."""
    try:
        text = (Path(repo.common_dir) / "config").read_text("utf-8", "surrogateescape")
    except OSError:
        text = ""
    if not re.search(rf'^\s*\[remote\s+"{re.escape(name)}"\s*\]', text, re.MULTILINE):
        get_remote(repo, name)


def get_remote(repo: git.Repo, name: str) -> git.Remote:
    """The remote called ``name``; the error lists the remotes that exist. A remote of the
    repository's own configuration file is found in its text; else every level of the
    configuration is read."""
    import git

    try:
        text = (Path(repo.common_dir) / "config").read_text("utf-8", "surrogateescape")
    except OSError:
        text = ""
    if re.search(rf'^\s*\[remote\s+"{re.escape(name)}"\s*\]', text, re.MULTILINE):
        return git.Remote(repo, name)
    remotes = {r.name: r for r in repo.remotes}
    if name not in remotes:
        known = ", ".join(remotes) if remotes else "none"
        raise CiswitchError(
            f"no remote named {name!r} (remotes: {known})", str(work_tree(repo))
        )
    return remotes[name]


def remote_url(repo: git.Repo, name: str, *, push: bool = True) -> str:
    """The (push) URL of remote ``name``, redacted for display."""
    import git

    args = ["remote", "get-url", *(["--push"] if push else []), name]
    try:
        url: str = repo.git.execute([_git_executable(), *args])
    except git.GitCommandError:
        return name
    return redact(url.strip())


class NoDefaultBranch(CiswitchError):
    """The remote's default branch cannot be told (no ``HEAD`` symref, or ``ls-remote``
    failed). The message says what git found; each command adds the option it has."""


def default_branch(repo: git.Repo, remote: str) -> str:
    """The remote's default branch: its ``HEAD`` symref, local copy first, else asked live."""
    prefix = f"refs/remotes/{remote}/"
    ref: str | None = None
    present = _ref_present(repo, f"{prefix}HEAD")
    if present is False:
        ref = ""
    elif present:
        try:  # a symref is a loose file (never packed): read it as git does
            text = (Path(repo.common_dir) / prefix / "HEAD").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""
        if text.startswith("ref: "):
            ref = text[len("ref: "):]
    if ref is None:
        import git

        try:
            ref = str(repo.git.symbolic_ref("--quiet", f"{prefix}HEAD"))
        except git.GitCommandError:
            ref = ""
    if ref.strip().startswith(prefix):
        return ref.strip()[len(prefix):]
    try:  # through the runner: a fleet's credentials and process group apply
        out = run_git(repo, "ls-remote failed", "ls-remote", "--symref", remote, "HEAD")
    except CiswitchError as err:
        raise NoDefaultBranch(
            redact(
                f"cannot tell the default branch of remote {remote} "
                f"({remote_url(repo, remote, push=False)}): {err.message}"
            )
        ) from err
    for line in out.splitlines():
        match = re.match(r"ref:\s+refs/heads/(\S+)\s+HEAD$", line.strip())
        if match:
            return match.group(1)
    raise NoDefaultBranch(
        redact(
            f"cannot tell the default branch of remote {remote} "
            f"({remote_url(repo, remote, push=False)}): it has no HEAD"
        )
    )


def remote_branch_sha(repo: git.Repo, remote: str, branch: str) -> str | None:
    """The commit ``branch`` points to on the remote right now (``ls-remote``), or None."""
    out = run_git(
        repo, f"cannot reach remote {remote}",
        "ls-remote", "--heads", remote, f"refs/heads/{branch}",
    )
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        if ref.strip() == f"refs/heads/{branch}":
            return sha.strip()
    return None


def fetch_branch(repo: git.Repo, remote: str, branch: str) -> None:
    """Bring ``branch`` of ``remote`` into ``refs/remotes/<remote>/<branch>``."""
    run_git(
        repo, f"cannot fetch {branch} from {remote}",
        "fetch", "--quiet", "--no-tags", remote,
        f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}",
    )


def fetch_objects(repo: git.Repo, remote: str, branch: str) -> None:
    """Download ``branch``'s commits from ``remote`` without writing any ref (dry runs and
    comparisons must not change what the user sees)."""
    run_git(
        repo, f"cannot fetch {branch} from {remote}",
        "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", remote, f"refs/heads/{branch}",
    )


def fetch(repo: git.Repo, remote: str) -> None:
    """Update every remote-tracking branch of ``remote`` and drop the deleted ones."""
    run_git(repo, f"cannot fetch from {remote}", "fetch", "--quiet", "--prune", "--no-tags", remote)


@dataclass(frozen=True)
class RemoteBranch:
    """One ``refs/remotes/<remote>/<name>`` with its tip commit."""

    name: str
    ref: str
    sha: str


def remote_branches(repo: git.Repo, remote: str) -> list[RemoteBranch]:
    """The remote-tracking branches of ``remote`` (its ``HEAD`` symref left out), by name."""
    prefix = f"refs/remotes/{remote}/"
    out = run_git(
        repo, "cannot list branches",
        "for-each-ref", "--format=%(objectname) %(objecttype) %(refname)", prefix,
    )
    found = []
    for line in out.splitlines():
        sha, kind, ref = line.split(" ", 2)
        name = ref[len(prefix):]
        if name == "HEAD" or kind != "commit":
            continue
        found.append(RemoteBranch(name, ref, sha))
    return sorted(found, key=lambda b: b.name)
