"""Edits of ``variables:`` entries: remove one (and an emptied ``variables:`` key), or point
its value at another address."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ciswitch.analysis.proof import documents_of, resolve_reference, tops_of
from ciswitch.analysis.sites import YamlScalarSite
from ciswitch.edits import NoFix, line_end, line_start, only_space_before, rest_is_trailing
from ciswitch.gitlab import Pipeline, Variable
from ciswitch.model import Edit, Fix
from ciswitch.yaml.nodes import REFERENCE_TAG, Entry, is_map, is_scalar, is_seq, tag_of


def variable_fix(
    variable: Variable,
    to: str | None,
    parents: dict[int, Any],
    pipeline: Pipeline | None = None,
) -> Fix:
    """Remove a ``WERF_STAGES_STORAGE: ":local"`` entry (and an emptied ``variables:``), with
    the entries of the same file that take it by ``!reference`` (``NAME: !reference [.vars,
    variables, NAME]``): removing one without the other would leave the reference pointing at
    nothing. (Whether that is safe for every job is proved on the whole pipeline.)"""
    fix = _variable_fix(variable, to, parents)
    if to is not None or pipeline is None:
        return fix
    edits = list(fix.edits)
    removed = list(fix.removed_words)
    for entry in _referrers(pipeline, variable):
        if any(e.start <= int(entry.key.start_mark.index) < e.end for e in edits):
            continue
        other = _variable_fix(Variable(variable.name, entry, None, "job"), None, parents)
        edits.extend(other.edits)
        removed.extend(other.removed_words)
    if len(edits) == len(fix.edits):
        return fix
    return Fix(tuple(sorted(edits)), fix.safe, fix.description + " and the entries taking it by"
               " !reference", tuple(removed))


def _referrers(pipeline: Pipeline, variable: Variable) -> list[Entry]:
    """The ``variables:`` entries of the variable's file whose value is a ``!reference`` to
    its entry."""
    target = variable.entry.value
    file = variable.entry.file
    return [
        Entry(file, key, value, owner)
        for owner, key, value, resolved in _references_by_file(pipeline).get(id(file), ())
        if resolved is target
    ]


_MEMO_KEY = "entries.references"


def _references_by_file(pipeline: Pipeline) -> dict[int, list[tuple[Any, Any, Any, Any]]]:
    """Every mapping entry of the pipeline's files whose value is a ``!reference`` of three
    parts or more, by file (its id), in document order: (owner, key, value, the node the
    reference resolves to). Built once per pipeline: a pipeline with many variable findings
    would walk every file once per finding."""
    found: dict[int, list[tuple[Any, Any, Any, Any]]] | None = pipeline.memo.get(_MEMO_KEY)
    if found is not None:
        return found
    found = {}
    tops = tops_of(pipeline.files)
    for file, doc in documents_of(pipeline.files):
        here = found.setdefault(id(file), [])
        if REFERENCE_TAG not in file.text and "%TAG" not in file.text:
            continue  # no node of the file can have the tag (a %TAG handle could spell it)
        for owner, key, value in _mapping_pairs(doc, set()):
            if tag_of(value) == REFERENCE_TAG and is_seq(value):
                path = [str(n.value) for n in value.value if is_scalar(n)]
                if len(path) > 2:
                    here.append((owner, key, value, resolve_reference(path, tops)))
    pipeline.memo[_MEMO_KEY] = found
    return found


def _mapping_pairs(node: Any, seen: set[int]) -> Iterator[tuple[Any, Any, Any]]:
    if id(node) in seen:
        return
    seen.add(id(node))
    if is_map(node):
        for key, value in node.value:
            yield node, key, value
            yield from _mapping_pairs(value, seen)
    elif is_seq(node):
        for item in node.value:
            yield from _mapping_pairs(item, seen)


def _variable_fix(variable: Variable, to: str | None, parents: dict[int, Any]) -> Fix:
    entry = variable.entry
    file = entry.file
    text = file.text
    if to is not None:
        scalar = variable.value
        if scalar is None:
            raise NoFix("the variable has no plain value")
        site = YamlScalarSite(file, scalar.node, str(scalar.node.value))
        return site.replace_local(to, f"set it to {to}")
    if variable.scope == "matrix" and is_seq(entry.value):
        # A parallel: matrix: list: removing the entry would drop its other values' jobs too.
        raise NoFix("it is one value of a matrix list; remove it from the list by hand")
    owner = entry.owner
    removed = (variable.name,)
    if getattr(owner, "flow_style", False):
        if len(owner.value) > 1:
            return Fix(
                (_flow_pair_edit(text, file.path, owner, entry),), True, "remove the entry", removed
            )
    elif len(owner.value) > 1:
        return Fix(
            (_block_entry_edit(text, file.path, entry.key, entry.value),),
            True,
            "remove the entry",
            removed,
        )
    # The only entry: remove the whole ``variables:`` key, unless an anchor shares the mapping.
    holder = parents.get(id(owner))
    if holder is None or holder.file is not file:
        raise NoFix("it is the only entry of a mapping that cannot be removed")
    between = text[int(holder.key.end_mark.index) : int(owner.value[0][0].start_mark.index)]
    if "&" in between:
        raise NoFix("it is the only entry of an anchored mapping; remove it by hand")
    holder_owner = holder.owner
    if getattr(holder_owner, "flow_style", False):
        raise NoFix("removing it would leave an empty mapping; remove it by hand")
    merged = any(str(k.value) == "<<" for k, _ in holder_owner.value)
    if merged or len(holder_owner.value) < 2:
        # A ``<<:``-merged mapping may bring its own ``variables:`` (removing the key would let
        # them in), and the only key of a mapping cannot go: keep the key, empty.
        colon = text.find(":", int(holder.key.end_mark.index))
        if colon < 0 or "#" in text[colon : int(owner.value[0][0].start_mark.index)]:
            raise NoFix("the variables: key has a comment before its entry; remove it by hand")
        return Fix(
            (Edit(file.path, colon + 1, _value_end(text, owner), " {}"),),
            True,
            "leave the variables: key empty",
            removed,
        )
    return Fix(
        (_block_entry_edit(text, file.path, holder.key, holder.value),),
        True,
        "remove the variables: key with its only entry",
        removed,
    )


def _value_end(text: str, node: Any) -> int:
    """The end of a value's text, before any whitespace a block collection's mark includes."""
    end = int(node.end_mark.index)
    if (is_map(node) and not getattr(node, "flow_style", False)) or type(
        node
    ).__name__ == "SequenceNode":
        while end > 0 and text[end - 1] in " \t\r\n":
            end -= 1
    return end


def _block_entry_edit(text: str, path: str, key: Any, value: Any) -> Edit:
    start = int(key.start_mark.index)
    end = _value_end(text, value)
    if not only_space_before(text, start) or not rest_is_trailing(text, end):
        raise NoFix("the entry shares its line with other content; remove it by hand")
    return Edit(path, line_start(text, start), line_end(text, end), "")


def _flow_pair_edit(text: str, path: str, owner: Any, entry: Any) -> Edit:
    pairs = owner.value
    index = next(i for i, (k, _) in enumerate(pairs) if k is entry.key)
    start = int(entry.key.start_mark.index)
    end = int(entry.value.end_mark.index)
    if index + 1 < len(pairs):
        next_start = int(pairs[index + 1][0].start_mark.index)
        return Edit(path, start, next_start, "")
    prev_end = int(pairs[index - 1][1].end_mark.index)
    return Edit(path, prev_end, end, "")
