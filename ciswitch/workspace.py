"""Where files come from: a directory on disk, or a git tree read without checking it out.

Every read goes through a :class:`Workspace` so that ``lint`` on a work tree and ``branches``
on a remote branch share the same CI model, and so that no code path can read outside the
repository (``..``, absolute paths, symlinks that leave the root are refused).
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from ciswitch.atomic import Stamp, read_stamped
from ciswitch.disk_paths import joined, posix_relative, resolved, within
from ciswitch.errors import CiswitchError

if TYPE_CHECKING:
    from pathlib import Path


def normalize(rel: str) -> str:
    """Turn a repository path (``/ci/x.yml``, ``./ci//x.yml``) into ``ci/x.yml``.

    A leading ``/`` means the repository root (as in GitLab's ``include: local``). Raises
    :class:`CiswitchError` for paths that climb above the root.
    """
    path = rel.replace("\\", "/").lstrip("/")
    norm = posixpath.normpath(path) if path else "."
    if norm == ".." or norm.startswith("../"):
        raise CiswitchError(f"path {rel!r} escapes the repository")
    return norm


class Workspace(Protocol):
    """Read-only access to the files of one repository snapshot."""

    @property
    def label(self) -> str:
        """A human name for messages: the directory, or ``branch@sha``."""
        ...

    def read_bytes(self, rel: str) -> bytes:
        """The file's bytes; :class:`CiswitchError` when missing, not a file, or outside."""
        ...

    def is_file(self, rel: str) -> bool: ...

    def is_executable(self, rel: str) -> bool: ...

    def files(self) -> Iterator[str]:
        """Every regular file, repository-relative POSIX paths, in no particular order."""
        ...


def glob_files(workspace: Workspace, pattern: str) -> list[str]:
    """GitLab ``include: local`` glob semantics: ``*`` stays inside one directory level,
    ``**`` crosses levels. Returns sorted repository-relative paths."""
    pat = normalize(pattern)
    regex = _glob_regex(pat)
    return sorted(p for p in workspace.files() if regex.fullmatch(p))


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


_SKIP_DIRS = {".git"}


class DirectoryWorkspace:
    """A repository work tree on disk.

    It works with its paths as strings (:mod:`ciswitch.disk_paths`): a lint never needs path
    objects. :attr:`root` and the paths of :meth:`path_of` and :meth:`write_target` are
    :class:`pathlib.Path` objects, for the commands that write."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        #: the root, resolved, as a string
        self.root_dir = resolved(root)
        #: is_file answers: CI lines name the same paths thousands of times
        self._is_file: dict[str, bool] = {}
        #: the root's entries, lower-cased, once an is_file needs them (None: not read yet)
        self._top: frozenset[str] | None = None
        #: what each file was when first read, by normalized path (checked before writing)
        self._stamps: dict[str, Stamp] = {}

    @property
    def root(self) -> Path:
        """The root, resolved, as a path object."""
        from pathlib import Path

        return Path(self.root_dir)

    @property
    def label(self) -> str:
        return self.root_dir

    def path_of(self, rel: str) -> Path:
        """The absolute path of ``rel``, after checking it stays inside the root."""
        from pathlib import Path

        return Path(self.disk_path(rel))

    def disk_path(self, rel: str) -> str:
        """:meth:`path_of` as a string."""
        norm = normalize(rel)
        path = joined(self.root_dir, norm)
        if not within(resolved(path), self.root_dir):
            raise CiswitchError("path escapes the repository (symlink)", norm)
        return path

    def read_bytes(self, rel: str) -> bytes:
        norm = normalize(rel)
        if norm != ".":
            # A path whose first part is nothing in the root (not even a dangling link) can
            # only be missing: no symlink can take it elsewhere, so it needs no resolve. CI
            # lines name such paths many times (``python manage.py`` in a repository without).
            try:
                os.lstat(os.path.join(self.root_dir, norm.split("/", 1)[0]))
            except FileNotFoundError as err:
                raise CiswitchError("file not found", norm) from err
            except OSError:
                pass
        path = self.disk_path(rel)
        try:
            st = os.stat(path)
        except FileNotFoundError as err:
            raise CiswitchError("file not found", norm) from err
        except OSError as err:
            raise CiswitchError(f"cannot read: {err.strerror}", norm) from err
        if not stat.S_ISREG(st.st_mode):
            raise CiswitchError("not a regular file", norm)
        try:
            data, stamp = read_stamped(path)
        except OSError as err:
            raise CiswitchError(f"cannot read: {err.strerror}", norm) from err
        self._stamps.setdefault(norm, stamp)
        return data

    def stamp_of(self, rel: str) -> Stamp | None:
        """What ``rel`` was when this workspace first read it (None if it never did)."""
        return self._stamps.get(normalize(rel))

    def write_target(self, rel: str) -> Path:
        """Where a new content of ``rel`` goes: the file itself, through a symlink that stays
        inside the repository (the link is kept); one that leaves it is refused."""
        self._top = None  # the write may make a new entry of the root
        return self.path_of(rel).resolve()

    def is_file(self, rel: str) -> bool:
        known = self._is_file.get(rel)
        if known is None:
            try:
                # A plain stat first: most words asked about are not files at all, and only
                # an existing file needs the (costlier) check that it stays inside the root.
                norm = normalize(rel)
                known = (
                    self._may_hold(norm)
                    and os.path.isfile(joined(self.root_dir, norm))
                    and os.path.isfile(self.disk_path(rel))
                )
            except CiswitchError:
                known = False
            self._is_file[rel] = known
        return known

    def _may_hold(self, norm: str) -> bool:
        """False when the first part of ``norm`` is no entry of the root (so nothing under it
        can be a file), without a stat per path: CI lines name many paths that are not there
        (``reports/x.xml``). An ASCII name is compared without case, as a case-insensitive
        file system would; anything else is left to the stat."""
        first = norm.split("/", 1)[0]
        if not first.isascii():
            return True
        if self._top is None:
            try:
                self._top = frozenset(name.lower() for name in os.listdir(self.root_dir))
            except OSError:
                self._top = None
                return True
        return first.lower() in self._top

    def is_executable(self, rel: str) -> bool:
        try:
            return os.access(self.disk_path(rel), os.X_OK)
        except CiswitchError:
            return False

    def files(self) -> Iterator[str]:
        for dirpath, dirnames, filenames in os.walk(self.root_dir):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
            base = posix_relative(dirpath, self.root_dir)
            for name in filenames:
                rel = name if base == "." else f"{base}/{name}"
                if os.path.isfile(joined(dirpath, name)):
                    yield rel
