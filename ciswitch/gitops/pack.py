"""The object writer: blobs and trees written as one small pack, without an index or a work tree."""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ciswitch.errors import CiswitchError

if TYPE_CHECKING:
    import git


_MODE_TREE = 0o040000
_MODE_FILE = 0o100644
_MODE_EXEC = 0o100755


def _read_object(repo: git.Repo, binsha: bytes) -> bytes:
    """An object's content: read from the object database directly, else through
    GitPython's long-running ``cat-file --batch`` (which a partial clone fetches through)."""
    from ciswitch.gitops.objects import read_object

    found = read_object(repo, binsha)
    if found is not None:
        return found[1]
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
