"""The script-like scalars of a CI file outside its jobs (``default:``, hidden lists of
commands, anchors): the replay reads them on their own so no werf command goes unseen."""

from __future__ import annotations

from collections.abc import Container, Iterator
from typing import Any

from ciswitch.gitlab import SCRIPT_KEYS
from ciswitch.yaml.nodes import MERGE_TAG, is_map, is_scalar, is_seq


def orphan_candidates(doc: Any, jobs: Container[str]) -> Iterator[Any]:
    """Script scalars of a document outside the jobs: a job's own script lines were played
    with the job (and a definition another file overrides never runs), so only the other
    top-level keys (``default:``, hidden lists of commands, anchors) are walked."""
    if not is_map(doc):
        return
    for key, value in latest_entries(doc):
        name = str(key.value) if is_scalar(key) else ""
        if name in jobs and is_map(value):
            continue
        script = name in SCRIPT_KEYS or name.startswith(".")
        yield from _script_scalars(value, in_script=script)


def latest_entries(node: Any) -> list[tuple[Any, Any]]:
    """A mapping's entries, the last one winning for duplicate keys (as in GitLab: a
    shadowed value is never run); merge keys are all kept."""
    latest: dict[object, tuple[Any, Any]] = {}
    for key, value in node.value:
        plain = is_scalar(key) and key.tag != MERGE_TAG
        latest[str(key.value) if plain else id(key)] = (key, value)
    return list(latest.values())


def _script_scalars(node: Any, in_script: bool = False) -> Iterator[Any]:
    if is_scalar(node):
        if in_script:
            yield node
        return
    if is_seq(node):
        for item in node.value:
            yield from _script_scalars(item, in_script=in_script)
        return
    if is_map(node):
        for key, value in latest_entries(node):
            name = str(key.value) if is_scalar(key) else ""
            script = in_script or name in SCRIPT_KEYS
            yield from _script_scalars(value, in_script=script)
