"""Reading objects straight from the object database: pack files and loose objects.

``fleet run`` reads a few trees and blobs of every clone it makes; a ``git ls-tree`` and a
``git cat-file --batch`` process per repository cost more than reading those objects here.
:class:`ObjectReader` understands what a clone, a fetch and ciswitch's own writes leave in
``.git/objects``: version 2 pack indexes, packs with offset and reference deltas, and loose
objects. Every object read is checked against its id (the SHA-1 of its type, size and content).
Anything else (an alternate object store, a multi-pack index without the packs' own
indexes, an object the repository does not have, as in a partial clone, damaged bytes) is
not guessed at: :meth:`ObjectReader.read` returns None and the caller asks git, which also
fetches what a partial clone left out.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import re
import struct
import weakref
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import git

#: object type numbers of the pack format
_TYPES = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}
_OFS_DELTA = 6
_REF_DELTA = 7
#: deltas chained deeper than this are left to git (git's default depth is 50, its
#: ``--aggressive`` one 250)
_MAX_CHAIN = 400


class _Corrupt(Exception):
    """The bytes read do not make an object: git is asked instead."""


@dataclass
class _Pack:
    """One pack and its version 2 index, mapped into memory."""

    index: mmap.mmap
    pack: mmap.mmap
    count: int

    def offset(self, binsha: bytes) -> int | None:
        """The pack offset of ``binsha``, by binary search in its fan-out range."""
        index = self.index
        first = binsha[0]
        low = 0 if first == 0 else struct.unpack_from(">I", index, 8 + 4 * (first - 1))[0]
        high = struct.unpack_from(">I", index, 8 + 4 * first)[0]
        base = 8 + 1024
        while low < high:
            mid = (low + high) // 2
            found = index[base + 20 * mid:base + 20 * mid + 20]
            if found < binsha:
                low = mid + 1
            elif found > binsha:
                high = mid
            else:
                at = base + 24 * self.count + 4 * mid
                value: int = struct.unpack_from(">I", index, at)[0]
                if value & 0x80000000:
                    large = base + 28 * self.count + 8 * (value & 0x7FFFFFFF)
                    value = struct.unpack_from(">Q", index, large)[0]
                return value
        return None


def _inflate(data: mmap.mmap | bytes, start: int, size: int) -> bytes:
    """``size`` bytes inflated from the zlib stream at ``start`` (to its end: zlib checks
    the stream's checksum there)."""
    inflater = zlib.decompressobj()
    out = bytearray()
    pos = start
    step = size + 64
    while not inflater.eof:
        chunk = data[pos:pos + step]
        if not chunk:
            raise _Corrupt("truncated object")
        pos += len(chunk)
        out += inflater.decompress(chunk)
        if len(out) > size:
            raise _Corrupt("object size mismatch")
        step = 65536
    if len(out) != size:
        raise _Corrupt("object size mismatch")
    return bytes(out)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """A delta header size (little-endian base 128) and the position after it."""
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def apply_delta(base: bytes, delta: bytes) -> bytes:
    """The object a git delta makes of ``base``."""
    source_size, pos = _varint(delta, 0)
    target_size, pos = _varint(delta, pos)
    if source_size != len(base):
        raise _Corrupt("delta base size mismatch")
    out = bytearray()
    end = len(delta)
    while pos < end:
        op = delta[pos]
        pos += 1
        if op & 0x80:
            offset = size = 0
            for bit in range(4):
                if op & (1 << bit):
                    offset |= delta[pos] << (8 * bit)
                    pos += 1
            for bit in range(3):
                if op & (0x10 << bit):
                    size |= delta[pos] << (8 * bit)
                    pos += 1
            size = size or 0x10000
            if offset + size > len(base):
                raise _Corrupt("delta copies past its base")
            out += base[offset:offset + size]
        elif op:
            out += delta[pos:pos + op]
            pos += op
        else:
            raise _Corrupt("delta opcode 0")
    if len(out) != target_size:
        raise _Corrupt("delta result size mismatch")
    return bytes(out)


def reader_of(repo: git.Repo) -> ObjectReader:
    """The :class:`ObjectReader` of a GitPython repository, made on first use and kept for
    as long as the repository object lives."""
    reader = _READERS.get(repo)
    if reader is None:
        reader = ObjectReader(Path(repo.common_dir) / "objects")
        _READERS[repo] = reader
    return reader


def read_object(repo: git.Repo, binsha: bytes) -> tuple[bytes, bytes] | None:
    """``(type, content)`` of an object read without git, or None: ask git."""
    return reader_of(repo).read(binsha)


def tree_listing(repo: git.Repo, commit: str) -> list[tuple[int, str, str]] | None:
    """``(mode, hex id, path)`` of every entry of commit ``commit``'s tree, directories
    included and submodules not entered (what ``git ls-tree -r -t`` lists); None when an
    object of it cannot be read here (ask git)."""
    reader = reader_of(repo)
    found = reader.read(bytes.fromhex(commit))
    if found is None or found[0] != b"commit" or not found[1].startswith(b"tree "):
        return None
    out: list[tuple[int, str, str]] = []
    pending = [(bytes.fromhex(found[1][5:45].decode("ascii")), "")]
    while pending:
        binsha, prefix = pending.pop()
        tree = reader.read(binsha)
        if tree is None or tree[0] != b"tree":
            return None
        data, pos = tree[1], 0
        while pos < len(data):
            space = data.index(b" ", pos)
            nul = data.index(b"\0", space)
            mode = int(data[pos:space], 8)
            name = data[space + 1:nul].decode("utf-8", "surrogateescape")
            sha = data[nul + 1:nul + 21]
            pos = nul + 21
            path = prefix + name
            out.append((mode, sha.hex(), path))
            if mode == 0o040000:
                pending.append((sha, path + "/"))
    return out


def ref_target(git_dir: Path, ref: str) -> tuple[bool, str | None]:
    """``(known, commit id or None when absent)`` of the full ref name ``ref``, read from the
    files ref store (a loose ref file, else ``packed-refs``); not known for a symbolic ref or
    another ref backend (ask git)."""
    if (git_dir / "reftable").exists():
        return False, None
    try:
        text = (git_dir / ref).read_text("ascii").strip()
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError):
        return False, None
    if text:
        return (True, text) if re.fullmatch(r"[0-9a-f]{40}", text) else (False, None)
    try:
        packed = (git_dir / "packed-refs").read_text("utf-8", "surrogateescape")
    except FileNotFoundError:
        return True, None
    except OSError:
        return False, None
    for line in packed.splitlines():
        sha, _space, name = line.partition(" ")
        if name == ref and re.fullmatch(r"[0-9a-f]{40}", sha):
            return True, sha
    return True, None


def files_at(git_dir: Path, ref: str, names: Sequence[str]) -> dict[str, bytes] | None:
    """The regular files ``names`` of the commit at ``ref`` that are there (an absent ref
    has none); None when something cannot be read here (ask git). Symlinks are not
    followed: a path through one is read by git."""
    known, sha = ref_target(git_dir, ref)
    if not known:
        return None
    if sha is None:
        return {}
    reader = ObjectReader(git_dir / "objects")
    try:
        commit = reader.read(bytes.fromhex(sha))
        if commit is None or commit[0] != b"commit" or not commit[1].startswith(b"tree "):
            return None
        root = bytes.fromhex(commit[1][5:45].decode("ascii"))
        found: dict[str, bytes] = {}
        for name in names:
            tree: bytes | None = root
            entry: tuple[int, bytes] | None = None
            for part in name.split("/"):
                if tree is None:
                    entry = None
                    break
                listing = reader.read(tree)
                if listing is None or listing[0] != b"tree":
                    return None
                entry = _tree_entry(listing[1], part.encode("utf-8", "surrogateescape"))
                tree = entry[1] if entry is not None and entry[0] == 0o040000 else None
            if entry is None or entry[0] == 0o040000 or entry[0] == 0o160000:
                continue
            if entry[0] == 0o120000:
                return None
            blob = reader.read(entry[1])
            if blob is None or blob[0] != b"blob":
                return None
            found[name] = blob[1]
        return found
    finally:
        reader.close()


def _tree_entry(data: bytes, name: bytes) -> tuple[int, bytes] | None:
    """``(mode, binary id)`` of entry ``name`` of a tree object's content."""
    pos = 0
    while pos < len(data):
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        if data[space + 1:nul] == name:
            return int(data[pos:space], 8), data[nul + 1:nul + 21]
        pos = nul + 21
    return None


class ObjectReader:
    """The objects of one repository (``objects_dir``: its ``.git/objects``)."""

    def __init__(self, objects_dir: Path) -> None:
        self.objects_dir = objects_dir
        self._packs: dict[str, _Pack] = {}
        self._usable = not (objects_dir / "info" / "alternates").exists()

    def close(self) -> None:
        for pack in self._packs.values():
            pack.index.close()
            pack.pack.close()
        self._packs.clear()

    def _scan(self) -> bool:
        """Map the packs not mapped yet; whether any was new."""
        try:
            names = sorted(p for p in os.listdir(self.objects_dir / "pack") if p.endswith(".idx"))
        except OSError:
            return False
        new = False
        for name in names:
            if name in self._packs:
                continue
            stem = self.objects_dir / "pack" / name[:-4]
            try:
                with open(f"{stem}.idx", "rb") as idx_file, open(f"{stem}.pack", "rb") as pack_file:
                    index = mmap.mmap(idx_file.fileno(), 0, access=mmap.ACCESS_READ)
                    pack = mmap.mmap(pack_file.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError):
                continue
            if index[:8] != b"\377tOc\0\0\0\2" or pack[:4] != b"PACK":
                index.close()
                pack.close()
                continue
            count = struct.unpack_from(">I", index, 8 + 1020)[0]
            self._packs[name] = _Pack(index, pack, count)
            new = True
        return new

    def read(self, binsha: bytes) -> tuple[bytes, bytes] | None:
        """``(type, content)`` of the object, or None when git must be asked."""
        if not self._usable:
            return None
        try:
            found = self._find(binsha)
            if found is None and self._scan():  # a pack written since (a fetch, ciswitch)
                found = self._find(binsha)
        except (_Corrupt, zlib.error, IndexError, struct.error, ValueError, RecursionError):
            return None
        if found is None:
            return None
        kind, content = found
        if hashlib.sha1(kind + b" %d\0" % len(content) + content).digest() != binsha:
            return None  # damaged: git says what it makes of it
        return found

    def _find(self, binsha: bytes) -> tuple[bytes, bytes] | None:
        if not self._packs:
            self._scan()
        for pack in self._packs.values():
            offset = pack.offset(binsha)
            if offset is not None:
                return self._unpack(pack, offset, 0)
        return self._loose(binsha)

    def _loose(self, binsha: bytes) -> tuple[bytes, bytes] | None:
        hexsha = binsha.hex()
        try:
            raw = (self.objects_dir / hexsha[:2] / hexsha[2:]).read_bytes()
        except OSError:
            return None
        data = zlib.decompress(raw)
        header, nul, content = data.partition(b"\0")
        kind, _space, size = header.partition(b" ")
        if not nul or kind not in _TYPES.values() or int(size) != len(content):
            raise _Corrupt("bad loose object")
        return kind, content

    def _unpack(self, pack: _Pack, offset: int, depth: int) -> tuple[bytes, bytes]:
        if depth > _MAX_CHAIN:
            raise _Corrupt("delta chain too deep")
        data = pack.pack
        byte = data[offset]
        kind = (byte >> 4) & 7
        size = byte & 0x0F
        shift = 4
        pos = offset + 1
        while byte & 0x80:
            byte = data[pos]
            pos += 1
            size |= (byte & 0x7F) << shift
            shift += 7
        if kind in _TYPES:
            return _TYPES[kind], _inflate(data, pos, size)
        if kind == _OFS_DELTA:
            byte = data[pos]
            pos += 1
            distance = byte & 0x7F
            while byte & 0x80:
                byte = data[pos]
                pos += 1
                distance = ((distance + 1) << 7) | (byte & 0x7F)
            base_kind, base = self._unpack(pack, offset - distance, depth + 1)
        elif kind == _REF_DELTA:
            base_sha = bytes(data[pos:pos + 20])
            pos += 20
            found = self._find(base_sha)
            if found is None:
                raise _Corrupt("delta base missing")
            base_kind, base = found
        else:
            raise _Corrupt(f"pack object type {kind}")
        return base_kind, apply_delta(base, _inflate(data, pos, size))


_READERS: weakref.WeakKeyDictionary[git.Repo, ObjectReader] = weakref.WeakKeyDictionary()
