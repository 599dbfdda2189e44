"""The part of a fix's proof that looks at the whole pipeline, job by job.

:mod:`ciswitch.verify` proves each changed file on its own; a shared definition (an anchor, a
``!reference`` target, a template reached by ``<<:`` or ``extends``) reaches other jobs, so
here the pipeline before and after the fix is compared as GitLab assembles it: no
``!reference`` may be left pointing at nothing, no job's variables may change besides the
removed (or re-pointed) ``WERF_STAGES_STORAGE=:local`` and ``WERF_SYNCHRONIZATION=:local``, and
the stages storage may not be taken from a job that runs werf without ``werf ci-env`` (it
would have no stages storage), however the job reaches it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ciswitch.analysis.facts import Facts
from ciswitch.errors import CiswitchError
from ciswitch.gitlab import Job
from ciswitch.model import LOCAL
from ciswitch.source import SourceFile
from ciswitch.yaml.nodes import REFERENCE_TAG, is_map, is_scalar, is_seq, tag_of

STORAGE = "WERF_STAGES_STORAGE"
SYNCHRONIZATION = "WERF_SYNCHRONIZATION"


@dataclass(frozen=True)
class Blocked:
    """Why a fix of a shared place is not applied: the reason shown at the place."""

    reason: str


def pipeline_error(before: Facts, after: Facts, to: str | None) -> Blocked | None:
    """None when every job means after the fix what it meant before minus the removed
    ``:local``; else what differs (shown to the user as the reason the place is left)."""
    old, new = before.pipeline, after.pipeline
    if old is None or new is None:
        return None
    old_tops, new_tops = tops_of(old.files), tops_of(new.files)
    old_refs = dict(_references(old.files, old_tops))
    for where, (path, resolved) in _references(new.files, new_tops):
        if resolved is None and old_refs.get(where, (path, None))[1] is not None:
            return Blocked(
                f"!reference [{', '.join(path)}] in {where[1]} ({where[0]}) would point at"
                " nothing: remove both by hand"
            )
    for name, job in old.jobs.items():
        if job.hidden or name not in new.jobs:
            continue
        was = _variables(job, old_tops)
        now = _variables(new.jobs[name], new_tops)
        taken = was.get(STORAGE) == LOCAL and now.get(STORAGE) != LOCAL
        if taken and to is None and _needs_storage(job, before):
            return Blocked(
                f"job {name} gets {STORAGE}=:local from here and runs werf without werf"
                " ci-env: it would have no stages storage; pass --to ADDRESS"
            )
        for local_name in (STORAGE, SYNCHRONIZATION):  # what the fixes may take or re-point
            if was.get(local_name) == LOCAL:
                was.pop(local_name)
                now.pop(local_name, None)
        if was != now:
            changed = sorted({k for k, _ in set(was.items()) ^ set(now.items())})
            return Blocked(
                f"the variables of job {name} would change ({', '.join(changed)}); change it"
                " by hand"
            )
    return None


def _variables(job: Job, tops: dict[str, Any]) -> dict[str, str | None]:
    """A job's variables as GitLab gives them, a ``!reference``d mapping's included."""
    out: dict[str, str | None] = {}
    node = getattr(job.config.get("variables"), "node", None)
    if node is not None and tag_of(node) == REFERENCE_TAG and is_seq(node):
        target = resolve_reference([str(n.value) for n in node.value if is_scalar(n)], tops)
        if is_map(target):
            for key, value in target.value:
                out[str(key.value)] = str(value.value) if is_scalar(value) else repr(value)
    for name, var in job.variables.items():
        value = var.entry.value
        if tag_of(value) == REFERENCE_TAG and is_seq(value):
            target = resolve_reference([str(n.value) for n in value.value if is_scalar(n)], tops)
            out[name] = str(target.value) if is_scalar(target) else None
        else:
            out[name] = var.text
    return out


def _needs_storage(job: Job, facts: Facts) -> bool:
    """Whether a job runs werf with no ``werf ci-env`` in sight (its script lines and the
    script files they name): then only its ``:local`` gives it a stages storage."""
    texts = [
        str(line.loc.node.value)
        for line in (*job.before_script, *job.script)
        if is_scalar(line.loc.node)
    ]
    joined = "\n".join(texts)
    for path in facts.files.paths():
        script = facts.files.script(path)
        if script is not None and path in joined:
            texts.append(script.text)
    return any("werf" in t for t in texts) and not any("ci-env" in t for t in texts)


Where = tuple[str, str, int]


def documents_of(files: list[SourceFile]) -> Iterator[tuple[SourceFile, Any]]:
    for file in files:
        try:
            docs = file.yaml_documents()
        except CiswitchError:
            continue
        yield from ((file, doc) for doc in docs if is_map(doc))


def tops_of(files: list[SourceFile]) -> dict[str, Any]:
    """The top-level keys of all the pipeline's files (a later file's win)."""
    tops: dict[str, Any] = {}
    for _, doc in documents_of(files):
        tops.update((str(k.value), v) for k, v in doc.value if is_scalar(k))
    return tops


def _references(
    files: list[SourceFile], tops: dict[str, Any]
) -> Iterator[tuple[Where, tuple[list[str], Any]]]:
    """Every ``!reference`` of the pipeline's files, by (file, top-level key, index), with
    its path and what it resolves to among the top-level keys (None: nothing)."""
    for file, doc in documents_of(files):
        for key, value in doc.value:
            for index, ref in enumerate(_reference_nodes(value, set())):
                path = [str(n.value) for n in ref.value if is_scalar(n)]
                yield (file.path, str(key.value), index), (path, resolve_reference(path, tops))


def _reference_nodes(node: Any, seen: set[int]) -> Iterator[Any]:
    if id(node) in seen:
        return
    seen.add(id(node))
    if tag_of(node) == REFERENCE_TAG and is_seq(node):
        yield node
        return
    if is_seq(node):
        for item in node.value:
            yield from _reference_nodes(item, seen)
    elif is_map(node):
        for _, item in node.value:
            yield from _reference_nodes(item, seen)


def resolve_reference(path: list[str], tops: dict[str, Any]) -> Any:
    if not path:
        return None
    current: Any = tops.get(path[0])
    for name in path[1:]:
        if not is_map(current):
            return None
        current = next(
            (v for k, v in current.value if is_scalar(k) and str(k.value) == name), None
        )
    return current
