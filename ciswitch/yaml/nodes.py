"""Helpers over ruamel.yaml's composed nodes, so that no other module needs to know their shape.

Nodes are composed, never constructed: an alias is the *same* node object as its anchor, which
is how one source place reached by many jobs is analysed and fixed once (key by ``id``).
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.nodes import MappingNode, SequenceNode

from ciswitch.model import Notice
from ciswitch.record import Record, slot_setters
from ciswitch.source import SourceFile

MERGE_TAG = "tag:yaml.org,2002:merge"
REFERENCE_TAG = "!reference"


# These run hundreds of thousands of times on a big file: plain identity tests on the class.
def is_map(node: Any) -> bool:
    return type(node) is MappingNode


def is_seq(node: Any) -> bool:
    return type(node) is SequenceNode


def is_scalar(node: Any) -> bool:
    cls = type(node)
    return cls is not MappingNode and cls is not SequenceNode


def tag_of(node: Any) -> str | None:
    """The node's resolved tag, as ``node.tag`` gives it.

    ruamel's ``node.tag`` URI-decodes the tag character by character the first time it is
    read, once per node: on a big file that was a fifth of the lint time. A tag without ``%``
    escapes and without a handle (all the C composer makes) decodes to itself."""
    try:
        ctag = node.ctag
    except AttributeError:  # older node classes keep a plain string
        plain: str | None = node.tag
        return plain
    if ctag is None:
        return None
    suffix = ctag.suffix
    if ctag.handle is None and isinstance(suffix, str) and "%" not in suffix:
        return suffix
    return str(ctag)


def is_null(node: Any) -> bool:
    return is_scalar(node) and (
        tag_of(node) == "tag:yaml.org,2002:null"
        or (node.style is None and node.value in ("", "~", "null", "Null", "NULL"))
    )


class Loc(Record, frozen=True):
    """A node together with the file it was composed from."""

    file: SourceFile
    node: Any

    def __init__(self, file: SourceFile, node: Any) -> None:
        _set_loc_file(self, file)
        _set_loc_node(self, node)

    @property
    def start(self) -> int:
        return int(self.node.start_mark.index)

    @property
    def end(self) -> int:
        return int(self.node.end_mark.index)


class Entry(Record, frozen=True):
    """A mapping entry: the key node and the value node, with their file."""

    file: SourceFile
    key: Any
    value: Any
    #: the mapping node that holds this entry textually (for removing the entry)
    owner: Any

    def __init__(self, file: SourceFile, key: Any, value: Any, owner: Any) -> None:
        _set_entry_file(self, file)
        _set_entry_key(self, key)
        _set_entry_value(self, value)
        _set_entry_owner(self, owner)

    @property
    def value_loc(self) -> Loc:
        return Loc(self.file, self.value)


# (a big file has a location and an entry for each of its hundred thousand keys)
_set_loc_file, _set_loc_node = slot_setters(Loc, "file", "node")
_set_entry_file, _set_entry_key, _set_entry_value, _set_entry_owner = slot_setters(
    Entry, "file", "key", "value", "owner"
)


def mapping_entries(
    file: SourceFile, node: Any, notices: list[Notice] | None = None
) -> dict[str, Entry]:
    """The entries of a mapping with ``<<:`` merge keys resolved (explicit keys win; among
    several merged mappings the first wins) and duplicate keys resolved as GitLab does (the
    last wins), reporting duplicates as notices."""
    explicit: dict[str, Entry] = {}
    merged: dict[str, Entry] | None = None
    # the keys of a mapping mostly share one tag object (the resolver's and the compaction's
    # sharing, which reads ``ctag`` of every composed scalar too): a tag object that is not
    # the merge tag is looked at once
    plain: Any = None
    for key, value in node.value:
        tag = key.ctag
        if (tag is None or tag is not plain) and tag_of(key) == MERGE_TAG:
            sources = value.value if type(value) is SequenceNode else [value]
            for source in sources:
                if type(source) is not MappingNode:
                    continue
                if merged is None:
                    merged = {}
                for name, entry in mapping_entries(file, source, notices).items():
                    merged.setdefault(name, entry)
            continue
        plain = tag
        kind = type(key)
        if kind is MappingNode or kind is SequenceNode:
            continue
        name = str(key.value)
        if name in explicit and notices is not None:
            notices.append(
                Notice(
                    file.path,
                    f"duplicate key {name!r}: the last one wins (as in GitLab)",
                    key.start_mark.line + 1,
                )
            )
        explicit[name] = Entry(file, key, value, node)
    if merged is None:
        return explicit
    result = dict(merged)
    result.update(explicit)
    return result
