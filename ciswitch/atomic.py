"""Every file ciswitch writes goes through here: all or nothing, and never over someone's edit.

:func:`write_all` writes one run's files as a transaction:

1. every new content goes to a temporary file in its target's directory (flushed to disk, the
   target's permission bits copied, or for a new file the mode the umask gives);
2. every target that was read (a :class:`Stamp` was taken) is checked to be still exactly what
   was read: same inode, size, modification time and SHA-256 of the content. A file another
   process changed meanwhile (an append, an editor saving by rename) stops the run;
3. only then are the temporaries renamed over their targets, one after the other.

Any error before the renames (no space left, a read-only file system, a permission, a changed
file) removes every temporary and raises :class:`WriteError` naming the file: nothing was
written. A rename cannot run out of space; should one fail all the same, the targets already
renamed get their old content back the same way, and the error says so.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ciswitch.record import Record, setf

if TYPE_CHECKING:
    from pathlib import Path

_CHUNK = 1 << 20


class WriteError(Exception):
    """A write that did not happen: ``path`` (as the caller named it) and a one-line reason.

    The CLI turns it into its one-line error and exit 2. (This module sits beside
    ``ciswitch.errors`` in the lowest layer, so it has a type of its own.)"""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(f"{path}: {message}")
        self.message = message
        self.path = path


#: up to this many bytes, hash with the interpreter's own SHA-256 module: it loads in a
#: fraction of the time ``hashlib`` takes to load OpenSSL (a small file's whole lint notices),
#: while OpenSSL's is several times faster on big files
_SMALL = 1 << 18


def _sha256(data: bytes = b"", size: int | None = None) -> Any:
    """A SHA-256 hash object for ``data`` (and ``size`` bytes in all, when more will be fed).
    Either implementation gives the same digest."""
    if (len(data) if size is None else size) <= _SMALL:
        try:
            import _sha256 as own  # type: ignore[import-not-found]

            return own.sha256(data)
        except ImportError:  # an interpreter built without it
            pass
    import hashlib

    return hashlib.sha256(data)


class Stamp(Record, frozen=True):
    """What a file was when it was read: enough to tell that it is still the same file."""

    device: int
    inode: int
    size: int
    mtime_ns: int
    sha256: str

    def __init__(self, device: int, inode: int, size: int, mtime_ns: int, sha256: str) -> None:
        setf(self, "device", device)
        setf(self, "inode", inode)
        setf(self, "size", size)
        setf(self, "mtime_ns", mtime_ns)
        setf(self, "sha256", sha256)

    @staticmethod
    def of(st: os.stat_result, data: bytes) -> Stamp:
        return Stamp(
            st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, _sha256(data).hexdigest()
        )


def read_stamped(path: str | os.PathLike[str]) -> tuple[bytes, Stamp]:
    """The file's bytes and its stamp, both from one open file (so they agree)."""
    with open(path, "rb") as handle:
        before = os.fstat(handle.fileno())
        data = handle.read()
    return data, Stamp.of(before, data)


class PlannedWrite(Record, frozen=True):
    """One file of a transaction: where, what, and (for a file that was read) its stamp."""

    path: Path
    data: bytes
    #: the target as it was read; None for a file written without reading it (a report)
    expect: Stamp | None
    #: a name for messages (the repository-relative path); defaults to ``path``
    label: str | None
    #: the content it had, to put back should a later rename of the same run fail
    previous: bytes | None

    def __init__(self, path: Path, data: bytes, expect: Stamp | None = None,
                 label: str | None = None, previous: bytes | None = None) -> None:
        setf(self, "path", path)
        setf(self, "data", data)
        setf(self, "expect", expect)
        setf(self, "label", label)
        setf(self, "previous", previous)

    @property
    def name(self) -> str:
        return self.label if self.label is not None else str(self.path)


def changed_since(path: Path, expect: Stamp) -> str | None:
    """Why ``path`` is no longer what ``expect`` recorded, or None when it still is."""
    try:
        with open(path, "rb") as handle:
            st = os.fstat(handle.fileno())
            if (st.st_dev, st.st_ino) != (expect.device, expect.inode):
                return "it was replaced by another file"
            if st.st_size != expect.size:
                return f"its size changed from {expect.size} to {st.st_size} bytes"
            if st.st_mtime_ns != expect.mtime_ns:
                return "its modification time changed"
            digest = _sha256(size=st.st_size)
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        return "it was deleted"
    if digest.hexdigest() != expect.sha256:
        return "its content changed"
    return None


def write_all(files: Sequence[PlannedWrite]) -> None:
    """Write ``files`` all or nothing (see the module's description)."""
    temps: list[tuple[PlannedWrite, Path]] = []
    try:
        for planned in files:
            temps.append((planned, _write_temporary(planned)))
        for planned in files:
            if planned.expect is None:
                continue
            why = changed_since(planned.path, planned.expect)
            if why is not None:
                raise WriteError(
                    f"changed on disk while ciswitch was working ({why}); nothing was written: "
                    "run again",
                    planned.name,
                )
    except BaseException:
        _remove(tmp for _, tmp in temps)
        raise
    done: list[PlannedWrite] = []
    for index, (planned, tmp) in enumerate(temps):
        try:
            os.replace(tmp, planned.path)
        except OSError as err:
            _remove(t for _, t in temps[index:])
            restored = _restore(done, files)
            raise WriteError(
                f"cannot replace the file: {err.strerror}; {restored}", planned.name
            ) from err
        done.append(planned)


def _write_temporary(planned: PlannedWrite) -> Path:
    """The content in a new file beside the target, on disk, with the target's mode."""
    target = planned.path
    try:
        mode: int | None = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None
    except OSError as err:
        raise WriteError(_cannot("write", err), planned.name) from err
    if not target.parent.is_dir():
        raise WriteError(
            f"no such directory: {target.parent}; nothing was written", planned.name
        )
    tmp = target.parent / f".{target.name}.{os.urandom(4).hex()}.ciswitch-tmp"
    try:
        # 0o666 and the umask for a new file, as any program creating a file gets.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as err:
        raise WriteError(_cannot("write", err), planned.name) from err
    try:
        with os.fdopen(fd, "wb") as handle:
            view = memoryview(planned.data)
            for start in range(0, len(view), _CHUNK):
                handle.write(view[start : start + _CHUNK])
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
    except OSError as err:
        _remove([tmp])
        raise WriteError(_cannot("write", err), planned.name) from err
    except BaseException:
        _remove([tmp])
        raise
    return tmp


def _cannot(what: str, err: OSError) -> str:
    return f"cannot {what}: {err.strerror or err}; nothing was written"


def _remove(paths: Iterable[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"


def _restore(done: list[PlannedWrite], files: Sequence[PlannedWrite]) -> str:
    """Give the already renamed targets their old content back (best effort); a sentence."""
    if not done:
        return "nothing was written"
    lost: list[str] = []
    for planned in done:
        if planned.previous is None:
            lost.append(planned.name)
            continue
        try:
            tmp = _write_temporary(PlannedWrite(planned.path, planned.previous, None, planned.name))
            os.replace(tmp, planned.path)
        except (OSError, WriteError):
            lost.append(planned.name)
    if not lost:
        return f"the {_files(len(done))} already replaced got their old content back"
    keep = "keeps" if len(lost) == 1 else "keep"
    return f"{_files(len(lost))} of {len(files)} {keep} the new content: " + ", ".join(lost)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically, keeping the permission bits it had."""
    write_all([PlannedWrite(path, data)])


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
