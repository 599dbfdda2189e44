"""``!reference`` tags and the script lines they stand for."""

from __future__ import annotations

from typing import Any

from ciswitch.gitlab.model import MAX_REFERENCE_DEPTH, Merged, Pipeline, ScriptLine, Value
from ciswitch.model import Notice, Problem
from ciswitch.yaml.nodes import REFERENCE_TAG, Loc, is_null, is_scalar, is_seq


def script_lines(
    value: Value | None,
    section: str,
    jobs: dict[str, Merged],
    pipeline: Pipeline,
    depth: int,
    parent: Any = None,
) -> list[ScriptLine]:
    """Flatten a script value: a string, a list, nested lists, ``!reference`` tags."""
    if not isinstance(value, Loc):
        return []
    node = value.node
    if is_scalar(node):
        return [] if is_null(node) else [ScriptLine(value, section, parent)]
    if not is_seq(node):
        return []
    if node.tag == REFERENCE_TAG:
        target = resolve_reference(value, jobs, pipeline, depth)
        return script_lines(target, section, jobs, pipeline, depth + 1)
    lines: list[ScriptLine] = []
    for item in node.value:
        lines.extend(script_lines(Loc(value.file, item), section, jobs, pipeline, depth, node))
    return lines


def resolve_reference(
    value: Loc, jobs: dict[str, Merged], pipeline: Pipeline, depth: int
) -> Value | None:
    """``!reference [job, key, ...]``: the node it points at, or None (with a problem)."""
    path = [str(n.value) for n in value.node.value if is_scalar(n)]
    return resolve_path(path, value, jobs, pipeline, depth)


def resolve_path(
    path: list[str], value: Loc, jobs: dict[str, Merged], pipeline: Pipeline, depth: int
) -> Value | None:
    line = int(value.node.start_mark.line) + 1
    if depth >= MAX_REFERENCE_DEPTH:
        pipeline.problems.append(Problem(value.file.path, "!reference nesting too deep", line))
        return None
    if not path:
        return None
    current: Value | None = jobs.get(path[0]) or pipeline.config.get(path[0])
    for key in path[1:]:
        current = current.get(key) if isinstance(current, Merged) else None
    if current is None:
        pipeline.notices.append(
            Notice(value.file.path, f"!reference [{', '.join(path)}] points at nothing", line)
        )
    return current
