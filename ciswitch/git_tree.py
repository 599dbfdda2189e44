"""A :class:`~ciswitch.workspace.Workspace` over one commit's tree, read without checkout.

``ciswitch branches`` lints every branch of a remote; checking each one out would touch the
user's work tree and cost a full write per branch. Reading blobs straight from the object
database gives the linter the same files at a fraction of the cost, and keeps the same safety
rules as :class:`~ciswitch.workspace.DirectoryWorkspace`: symlinks are followed only while they
stay inside the tree, so a branch cannot make ciswitch read outside the repository.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ciswitch.errors import CiswitchError
from ciswitch.workspace import normalize

#: a full commit id, as given by callers that resolved the commit already
_FULL_SHA = re.compile(r"[0-9a-f]{40}")

if TYPE_CHECKING:
    import git

_MODE_TREE = 0o040000
_MODE_FILE = 0o100644
_MODE_EXEC = 0o100755
_MODE_LINK = 0o120000
_MODE_GITLINK = 0o160000
#: the same bound the kernel puts on nested symlinks (ELOOP)
_MAX_LINKS = 40


@dataclass(frozen=True)
class _Entry:
    mode: int
    sha: str


class GitTreeWorkspace:
    """The files of ``commit`` in ``repo``; ``label`` defaults to ``<repo dir>@<short sha>``."""

    def __init__(
        self, repo: git.Repo, commit: str | git.Commit, label: str | None = None
    ) -> None:
        self.repo = repo
        #: the commit's full id (a full id given is taken as it is: no git object to build)
        self.sha = (commit if _FULL_SHA.fullmatch(commit) else repo.commit(commit).hexsha
                    ) if isinstance(commit, str) else commit.hexsha
        self._label = label or f"{repo.working_tree_dir or repo.git_dir}@{self.sha[:10]}"
        self._entries: dict[str, _Entry] | None = None

    @property
    def label(self) -> str:
        return self._label

    def _index(self) -> dict[str, _Entry]:
        """Every entry of the tree (directories included), from one ``git ls-tree`` call."""
        if self._entries is None:
            from ciswitch.gitops import tree_listing
            from ciswitch.gitops.objects import tree_listing as read_tree

            entries: dict[str, _Entry] = {}
            found = read_tree(self.repo, self.sha)
            if found is not None:  # read from the object database, no git process
                for number, hexsha, name in found:
                    entries[name] = _Entry(number, hexsha)
                self._entries = entries
                return entries
            out = tree_listing(self.repo, self.sha)
            for record in out.split("\0"):
                if not record:
                    continue
                meta, _, path = record.partition("\t")
                mode, _kind, sha = meta.split(" ")
                entries[path] = _Entry(int(mode, 8), sha)
            self._entries = entries
        return self._entries

    def _resolve(self, rel: str) -> tuple[str, _Entry | None]:
        """Follow symlinks component by component; returns the final path and its entry.

        Raises :class:`CiswitchError` when a link points outside the tree (absolute targets
        included) or links nest too deep.
        """
        entries = self._index()
        path = normalize(rel)
        hops = 0
        while True:
            if path == ".":
                return path, _Entry(_MODE_TREE, "")
            parts = path.split("/")
            restart = False
            for i in range(len(parts)):
                prefix = "/".join(parts[: i + 1])
                entry = entries.get(prefix)
                if entry is None:
                    return path, None
                if entry.mode == _MODE_LINK:
                    hops += 1
                    if hops > _MAX_LINKS:
                        raise CiswitchError("too many levels of symbolic links", normalize(rel))
                    target = self._blob(entry.sha).decode("utf-8", "surrogateescape")
                    if target.startswith("/"):
                        raise CiswitchError("path escapes the repository (symlink)", normalize(rel))
                    joined = posixpath.join(posixpath.dirname(prefix), target, *parts[i + 1 :])
                    try:
                        path = normalize(joined)
                    except CiswitchError as err:
                        raise CiswitchError(
                            "path escapes the repository (symlink)", normalize(rel)
                        ) from err
                    restart = True
                    break
                if i < len(parts) - 1 and entry.mode != _MODE_TREE:
                    return path, None
            if not restart:
                return path, entries[path]

    def _blob(self, sha: str) -> bytes:
        from ciswitch.gitops.objects import read_object

        found = read_object(self.repo, bytes.fromhex(sha))
        if found is not None:
            return found[1]
        import git

        data: bytes = git.Blob(self.repo, bytes.fromhex(sha)).data_stream.read()
        return data

    def read_bytes(self, rel: str) -> bytes:
        _path, entry = self._resolve(rel)
        if entry is None:
            raise CiswitchError("file not found", normalize(rel))
        if entry.mode not in (_MODE_FILE, _MODE_EXEC):
            raise CiswitchError("not a regular file", normalize(rel))
        return self._blob(entry.sha)

    def is_file(self, rel: str) -> bool:
        try:
            _path, entry = self._resolve(rel)
        except CiswitchError:
            return False
        return entry is not None and entry.mode in (_MODE_FILE, _MODE_EXEC)

    def is_executable(self, rel: str) -> bool:
        try:
            _path, entry = self._resolve(rel)
        except CiswitchError:
            return False
        return entry is not None and entry.mode == _MODE_EXEC

    def files(self) -> Iterator[str]:
        """Regular files, plus symlinks that resolve to a regular file inside the tree (as a
        directory walk would list them); submodules and escaping links are left out."""
        for path, entry in sorted(self._index().items()):
            regular = entry.mode in (_MODE_FILE, _MODE_EXEC)
            if regular or (entry.mode == _MODE_LINK and self.is_file(path)):
                yield path
