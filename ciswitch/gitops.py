"""The git operations behind ``ciswitch branch`` and ``ciswitch branches``, on GitPython.

Three properties matter more than convenience here, because the same code runs unattended over
whole fleets of repositories:

* **Nothing the user did not ask for changes.** The fix commit is built without an index: the
  changed blobs and trees are written straight into the object database, ``commit-tree`` and
  ``update-ref`` do the rest. The work tree, the index and the checked-out branch stay
  untouched, and only the named files differ from the parent commit.
* **Failures are loud.** GitPython does not raise when a push is rejected; every ``PushInfo``
  is checked and the remote's own words (hook output) are reported.
* **No credentials leak.** Every message that may contain a URL or git's stderr goes through
  :func:`ciswitch.redact.redact`.

GitPython is imported inside functions: this module is only imported by commands that need
git, and even then ``git`` loads on first use.

``fleet run`` calls all of this once per repository, so each git process counts: what the ref
store (loose ref files, ``packed-refs``) can answer without git is read directly, and git is
asked only when the answer is not certain from the files alone.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import subprocess
import tempfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ciswitch.errors import CiswitchError
from ciswitch.redact import redact

if TYPE_CHECKING:
    import git

#: the trailer that marks the commit switching a project to remote stages storage
TRAILER_KEY = "Ciswitch-Change"
TRAILER_VALUE = "remote-stages-storage"
TRAILER = f"{TRAILER_KEY}: {TRAILER_VALUE}"

_ZERO_SHA = "0" * 40


# --------------------------------------------------------------------------- running git


def git_error(err: Exception, what: str) -> CiswitchError:
    """A one-line, redacted :class:`CiswitchError` from a failed git command."""
    stderr = getattr(err, "stderr", "") or str(err)
    if isinstance(stderr, bytes):
        stderr = stderr.decode("utf-8", "replace")
    return _stderr_error(str(stderr), what)


def _stderr_error(stderr: str, what: str) -> CiswitchError:
    """:func:`git_error` from the standard error text of a git process."""
    lines = [ln.strip() for ln in stderr.splitlines()]
    lines = [re.sub(r"^stderr: '?", "", ln).rstrip("'").strip() for ln in lines]
    detail = "; ".join(ln for ln in lines if ln)
    return CiswitchError(redact(f"{what}: {detail}" if detail else what))


def _git_executable() -> str:
    """The git GitPython was told to use (``GIT_PYTHON_GIT_EXECUTABLE``), else ``git``."""
    import git

    return str(git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git")


def run_git(repo: git.Repo, what: str, *args: str, env: Mapping[str, str] | None = None) -> str:
    """``git <args>`` in ``repo``; a git failure becomes a CiswitchError saying ``what``."""
    import git

    try:
        out: str = repo.git.execute(
            [_git_executable(), *args], env=dict(env) if env else None,
            strip_newline_in_stdout=False,
        )
    except git.GitCommandError as err:
        raise git_error(err, what) from err
    return out


def _git_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a git process started without GitPython: the same C locale it sets,
    so that the messages matched below (identity, push options) are git's English ones."""
    return {**os.environ, **(env or {}), "LANGUAGE": "C", "LC_ALL": "C"}


# --------------------------------------------------------------------------- the ref store


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


def commit_object(repo: git.Repo, sha: str) -> git.Commit:
    """The commit ``sha`` (a full hex id known to name a commit) without asking git for its
    type first, as :meth:`git.Repo.commit` would."""
    import git

    return git.Commit(repo, bytes.fromhex(sha))


# --------------------------------------------------------------------------- repository state


def open_repo(path: Path) -> git.Repo:
    """The repository whose work tree contains ``path``; one-line error when there is none."""
    import git

    if not path.exists():
        raise CiswitchError("no such directory", str(path))
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as err:
        raise CiswitchError("not a git repository", str(path)) from err
    if repo.bare or repo.working_tree_dir is None:
        raise CiswitchError("bare repository: ciswitch needs a work tree", str(path))
    return repo


def work_tree(repo: git.Repo) -> Path:
    """The root of the work tree."""
    if repo.working_tree_dir is None:  # pragma: no cover - open_repo refuses bare repos
        raise CiswitchError("bare repository: ciswitch needs a work tree", str(repo.git_dir))
    return Path(repo.working_tree_dir)


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


def ensure_clean(repo: git.Repo) -> None:
    """Refuse a work tree with uncommitted changes or untracked files, naming them.

    The fix is computed from the work tree but committed on top of HEAD: any difference
    between the two would either leak into the commit or be silently dropped from it.
    """
    found = dirt(repo)
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
    """The checked-out branch; refuses a detached HEAD and a branch without commits."""
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


def head_sha(repo: git.Repo) -> str:
    """The commit at HEAD, read from the ref store (git is asked only when that fails)."""
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
    import git

    if branch in _VALID_BRANCH_NAMES:
        return
    try:
        repo.git.check_ref_format("--branch", branch)
    except git.GitCommandError as err:
        raise CiswitchError(f"invalid branch name {branch!r}") from err
    if "@" not in branch:  # "@{-1}" and friends depend on the repository
        _VALID_BRANCH_NAMES.add(branch)


# --------------------------------------------------------------------------- remotes


def get_remote(repo: git.Repo, name: str) -> git.Remote:
    """The remote called ``name``; the error lists the remotes that exist."""
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


def default_branch(repo: git.Repo, remote: str) -> str:
    """The remote's default branch: its ``HEAD`` symref, local copy first, else asked live."""
    import git

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
        try:
            ref = str(repo.git.symbolic_ref("--quiet", f"{prefix}HEAD"))
        except git.GitCommandError:
            ref = ""
    if ref.strip().startswith(prefix):
        return ref.strip()[len(prefix):]
    try:
        out = str(repo.git.ls_remote("--symref", remote, "HEAD"))
    except git.GitCommandError as err:
        raise CiswitchError(
            redact(
                f"cannot tell the default branch of remote {remote} "
                f"({remote_url(repo, remote, push=False)}): "
                f"{git_error(err, 'ls-remote failed').message}; pass --target BRANCH"
            )
        ) from err
    for line in out.splitlines():
        match = re.match(r"ref:\s+refs/heads/(\S+)\s+HEAD$", line.strip())
        if match:
            return match.group(1)
    raise CiswitchError(
        redact(
            f"cannot tell the default branch of remote {remote} "
            f"({remote_url(repo, remote, push=False)}): it has no HEAD; pass --target BRANCH"
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


# --------------------------------------------------------------------------- commits


@dataclass(frozen=True)
class Identity:
    """A commit author (and committer) given on the command line."""

    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


def parse_identity(text: str) -> Identity:
    """``"Name <mail@host>"`` as ``git commit --author`` takes it."""
    match = re.fullmatch(r"\s*([^<>]*?)\s*<([^<>\s]+@[^<>\s]+|[^<>\s]+)>\s*", text)
    if not match or not match.group(1):
        raise CiswitchError(f"--author must look like 'Name <email>', got {text!r}")
    return Identity(match.group(1), match.group(2))



_MODE_TREE = 0o040000
_MODE_FILE = 0o100644
_MODE_EXEC = 0o100755


def _read_object(repo: git.Repo, binsha: bytes) -> bytes:
    """An object's content, through GitPython's long-running ``cat-file --batch``."""
    data: bytes = repo.odb.stream(binsha).read()
    return data


#: pack entry type numbers of the object kinds written here
_PACK_TYPES = {b"commit": 1, b"tree": 2, b"blob": 3}


class _NewObjects:
    """Objects to add to the repository, written together as one small pack.

    One pack file and its index are two files, where loose objects would be a file and
    often a new fan-out directory each: on a fleet's worth of clones, file creation is what
    this step costs. Both files are written under temporary names and renamed into place,
    read-only, the index last: git looks for packs through their index, so a reader never
    sees a partial pack.
    """

    def __init__(self) -> None:
        self._objects: dict[bytes, tuple[bytes, bytes]] = {}

    def add(self, kind: bytes, data: bytes) -> bytes:
        """Queue an object; returns its binary id."""
        binsha = hashlib.sha1(kind + b" %d\0" % len(data) + data).digest()
        self._objects.setdefault(binsha, (kind, data))
        return binsha

    def write(self, repo: git.Repo) -> None:
        if not self._objects:
            return
        entries: list[tuple[bytes, int, int, bytes]] = []  # id, offset, crc32, entry bytes
        offset = 12
        for binsha, (kind, data) in self._objects.items():
            size = len(data)
            header = bytearray([(_PACK_TYPES[kind] << 4) | (size & 0x0F)])
            size >>= 4
            while size:
                header[-1] |= 0x80
                header.append(size & 0x7F)
                size >>= 7
            entry = bytes(header) + zlib.compress(data, 1)
            entries.append((binsha, offset, zlib.crc32(entry), entry))
            offset += len(entry)
        pack = b"PACK" + struct.pack(">II", 2, len(entries)) + b"".join(e[3] for e in entries)
        pack += hashlib.sha1(pack).digest()
        entries.sort()
        fanout = [0] * 256
        for binsha, *_rest in entries:
            fanout[binsha[0]] += 1
        total = 0
        for i in range(256):
            total += fanout[i]
            fanout[i] = total
        index = b"".join([
            b"\377tOc", struct.pack(">I", 2), struct.pack(">256I", *fanout),
            *(e[0] for e in entries),
            *(struct.pack(">I", e[2]) for e in entries),
            *(struct.pack(">I", e[1]) for e in entries),
            pack[-20:],
        ])
        index += hashlib.sha1(index).digest()
        packs = Path(repo.common_dir) / "objects" / "pack"
        packs.mkdir(exist_ok=True)
        name = f"pack-{pack[-20:].hex()}"
        for data, suffix in ((pack, ".pack"), (index, ".idx")):
            fd, tmp = tempfile.mkstemp(prefix="tmp_pack_", dir=packs)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                os.chmod(tmp, 0o444)
                os.replace(tmp, packs / f"{name}{suffix}")
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise


def _tree_entries(data: bytes) -> dict[bytes, tuple[bytes, bytes]]:
    """A tree object's entries: name -> (mode as written, binary id)."""
    entries: dict[bytes, tuple[bytes, bytes]] = {}
    pos = 0
    while pos < len(data):
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        entries[data[space + 1:nul]] = (data[pos:space], data[nul + 1:nul + 21])
        pos = nul + 21
    return entries


def _write_tree(
    repo: git.Repo, new: _NewObjects, tree: bytes | None, files: Mapping[str, bytes],
    prefix: str = "",
) -> bytes:
    """Queue the tree ``tree`` (None: empty) with ``files`` (paths below it) replaced or added.

    Untouched entries are kept byte for byte; changed files keep an executable bit, new ones
    are 100644. Anything but a regular file in the way (a directory, a symlink, a submodule)
    is refused, as git's index would.
    """
    entries = _tree_entries(_read_object(repo, tree)) if tree is not None else {}
    here: dict[str, bytes] = {}
    below: dict[str, dict[str, bytes]] = {}
    for path, content in files.items():
        head, sep, rest = path.partition("/")
        if head in ("", ".", "..") or head.lower() == ".git" or "\0" in head or (sep and not rest):
            raise CiswitchError("cannot commit a file at this path", prefix + path)
        if sep:
            below.setdefault(head, {})[rest] = content
        else:
            here[head] = content
    for name, content in here.items():
        if name in below:
            raise CiswitchError("cannot commit a file and a directory of one name", prefix + name)
        key = name.encode("utf-8", "surrogateescape")
        mode = b"100644"
        if key in entries:
            number = int(entries[key][0], 8)
            if number not in (_MODE_FILE, _MODE_EXEC):
                raise CiswitchError(f"cannot commit over a {number:06o} entry", prefix + name)
            mode = b"100755" if number == _MODE_EXEC else b"100644"
        entries[key] = (mode, new.add(b"blob", content))
    for name, subfiles in below.items():
        key = name.encode("utf-8", "surrogateescape")
        subtree = None
        if key in entries:
            number = int(entries[key][0], 8)
            if number != _MODE_TREE:
                raise CiswitchError(f"cannot commit over a {number:06o} entry", prefix + name)
            subtree = entries[key][1]
        entries[key] = (b"40000", _write_tree(repo, new, subtree, subfiles, f"{prefix}{name}/"))

    def order(item: tuple[bytes, tuple[bytes, bytes]]) -> bytes:
        name, (mode, _sha) = item
        return name + b"/" if int(mode, 8) == _MODE_TREE else name

    data = b"".join(
        mode + b" " + name + b"\0" + sha for name, (mode, sha) in sorted(entries.items(), key=order)
    )
    return new.add(b"tree", data)


def _object_format(repo: git.Repo) -> str:
    """The repository's object hash (``extensions.objectFormat``; sha1 when unset)."""
    try:
        value = repo.config_reader("repository").get_value("extensions", "objectformat", "sha1")
    except Exception:  # an unreadable config: let git itself report it later
        return "sha1"
    return str(value).lower()


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
    proc = subprocess.run(
        [_git_executable(), "commit-tree", tree.hex(), "-p", parent],
        cwd=repo.working_dir, env=_git_env(env), input=text.encode("utf-8"),
        capture_output=True, check=False,
    )
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", "replace")
        if "identity" in stderr.lower() or "who you are" in stderr.lower():
            raise CiswitchError(
                "git does not know who you are: set user.name and user.email "
                "(git config) or pass --author 'Name <email>'"
            )
        raise _stderr_error(stderr, "cannot create the commit")
    return proc.stdout.decode("ascii").strip()


def set_branch(repo: git.Repo, branch: str, sha: str, *, old: str | None) -> None:
    """Point ``refs/heads/<branch>`` at ``sha``, only if it is still at ``old`` (None: absent).

    The compare-and-swap keeps a concurrent run (or the user) from being overwritten.
    """
    run_git(
        repo, f"cannot update branch {branch}",
        "update-ref", "-m", "ciswitch: remote stages storage",
        f"refs/heads/{branch}", sha, old or _ZERO_SHA,
    )


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


# --------------------------------------------------------------------------- push


def fold_line(text: str) -> str:
    """One line of text: git refuses newlines in push options, so lines are joined by spaces."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


@dataclass
class MergeRequestSettings:
    """What ``branch`` and ``revert`` are asked about the branch and its merge request (each
    command's request extends it with its own fields and defaults)."""

    path: Path = Path(".")
    branch: str = ""
    remote: str = "origin"
    target: str | None = None
    author: Identity | None = None
    title: str = ""
    description: str | None = None
    draft: bool = False
    labels: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    push_options: list[str] = field(default_factory=list)
    push: bool = True
    dry_run: bool = False
    force_update: bool = False

    def refuse_other_change(
        self,
        local: tuple[str | None, bool],
        remote: tuple[str | None, bool],
        path: str | None = None,
    ) -> None:
        """Refuse, unless ``--force-update``, when the branch already exists (locally or on
        the remote: ``(sha, carries the same change)``) with a different change."""
        where = []
        if local[0] is not None and not local[1]:
            where.append("locally")
        if remote[0] is not None and not remote[1]:
            where.append(f"on {self.remote}")
        if where and not self.force_update:
            raise CiswitchError(
                f"branch {self.branch} already exists {' and '.join(where)} with a different "
                "change: pass --force-update to replace it, or --branch NAME",
                path,
            )

    def merge_request_push_options(self, target: str, description: str) -> list[str]:
        """The push options of this request's merge request into ``target``."""
        return MergeRequestOptions(
            target=target, title=self.title, description=description, draft=self.draft,
            labels=list(self.labels), assignees=list(self.assignees),
            extra=list(self.push_options),
        ).push_options()


@dataclass
class MergeRequestOptions:
    """The GitLab ``merge_request.*`` push options (documented in GitLab's push options)."""

    target: str
    title: str
    description: str = ""
    remove_source_branch: bool = True
    draft: bool = False
    labels: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

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
    remote: str, branch: str, options: Iterable[str], *, force_with_lease: str | None = None
) -> list[str]:
    """The ``git push`` command line :func:`push_branch` runs (shown by ``--dry-run``)."""
    cmd = ["git", "push", "--porcelain", "--set-upstream"]
    if force_with_lease is not None:
        cmd.append(f"--force-with-lease=refs/heads/{branch}:{force_with_lease}")
    for option in options:
        cmd += ["--push-option", option]
    cmd += [remote, f"refs/heads/{branch}:refs/heads/{branch}"]
    return cmd


@dataclass
class PushResult:
    """A successful push: the remote's messages and the merge request URL found in them."""

    remote_lines: list[str]
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


def push_branch(
    repo: git.Repo,
    remote: str,
    branch: str,
    options: Sequence[str],
    *,
    force_with_lease: str | None = None,
) -> PushResult:
    """Push ``refs/heads/<branch>`` to the same name on ``remote`` with push options.

    Raises :class:`CiswitchError` (redacted, one line, with the remote's reason) when git
    fails or any ref update is rejected. ``force_with_lease`` is the remote sha expected to be
    replaced (an update of an earlier ciswitch branch).

    One ``git push --porcelain`` process: its ref lines (stdout) tell what happened to the
    branch, its standard error carries the remote's own words (hook output, merge request
    links), which are kept whole because that is what a rejected push must show.
    """
    get_remote(repo, remote)
    command = push_command(remote, branch, options, force_with_lease=force_with_lease)
    proc = subprocess.run(
        [_git_executable(), *command[1:-2], "--", *command[-2:]],
        cwd=repo.working_dir, env=_git_env(), stdin=subprocess.DEVNULL,
        capture_output=True, check=False,
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
            detail += " (the remote is not GitLab or too old: use --no-push and push by hand)"
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
        [redact(m) for m in messages], merge_request_url(messages), up_to_date=up_to_date,
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
