"""The part of a fix's proof that looks at the whole pipeline, job by job.

:mod:`ciswitch.verify` proves each changed file on its own; a shared definition (an anchor, a
``!reference`` target, a template reached by ``<<:`` or ``extends``) reaches other jobs, so
here the pipeline before and after the fix is compared as GitLab assembles it: no
``!reference`` may be left pointing at nothing, no variable may come into or leave a job
besides ``WERF_STAGES_STORAGE`` and ``WERF_SYNCHRONIZATION`` (what the fixes take), and the
stages storage may not be taken from a job that runs werf without ``werf ci-env`` (it
would have no stages storage), however the job reaches it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ciswitch.analysis.facts import Facts
from ciswitch.errors import CiswitchError
from ciswitch.gitlab import Job
from ciswitch.model import LOCAL, Reason
from ciswitch.record import Record, setf
from ciswitch.source import SourceFile
from ciswitch.yaml.nodes import REFERENCE_TAG, is_map, is_scalar, is_seq, tag_of

STORAGE = "WERF_STAGES_STORAGE"
SYNCHRONIZATION = "WERF_SYNCHRONIZATION"


class Blocked(Record, frozen=True):
    """Why a fix of a shared place is not applied: the reason shown at the place."""

    reason: str

    def __init__(self, reason: str) -> None:
        setf(self, "reason", reason)


class PipelineView(Record, frozen=True):
    """What the proof keeps of the pipeline before a fix (small: the analysis itself is let go
    while the new text is analysed)."""

    #: every ``!reference`` by (file, top-level key, index): whether it resolved
    references: dict[tuple[str, str, int], bool]
    #: every real job: its variables, and whether it runs werf with no ``werf ci-env``
    jobs: dict[str, tuple[dict[str, str | None], bool]]

    def __init__(self, references: dict[tuple[str, str, int], bool],
                 jobs: dict[str, tuple[dict[str, str | None], bool]]) -> None:
        setf(self, "references", references)
        setf(self, "jobs", jobs)


def pipeline_view(facts: Facts) -> PipelineView | None:
    pipeline = facts.pipeline
    if pipeline is None:
        return None
    tops = tops_of(pipeline.files)
    variables = _Variables(tops)
    scripts = _scripts_of(facts)
    return PipelineView(
        {where: resolved is not None for where, (_, resolved) in _references(pipeline.files, tops)},
        {
            name: (variables.of(job), _needs_storage(job, scripts))
            for name, job in pipeline.jobs.items()
            if not job.hidden
        },
    )


def pipeline_error(before: PipelineView | None, after: Facts, to: str | None) -> Blocked | None:
    """None when every job means after the fix what it meant before minus the removed
    ``:local``; else what differs (shown to the user as the reason the place is left)."""
    new = after.pipeline
    if before is None or new is None:
        return None
    new_tops = tops_of(new.files)
    for where, (path, resolved) in _references(new.files, new_tops):
        if resolved is None and before.references.get(where, False):
            return Blocked(
                f"!reference [{', '.join(path)}] in {where[1]} ({where[0]}) takes it and would"
                " point at nothing: it stays while that entry does (its reason is there)"
            )
    variables = _Variables(new_tops)
    for name, (was, needs_storage) in before.jobs.items():
        if name not in new.jobs:
            continue
        now = variables.of(new.jobs[name])
        taken = was.get(STORAGE) == LOCAL and STORAGE not in now
        if taken and to is None and needs_storage:
            return Blocked(Reason(
                f"job {name} gets {STORAGE}=:local from here and runs werf without werf"
                " ci-env: it would have no stages storage; pass --to ADDRESS",
                f"would take {STORAGE}=:local from a job that runs werf without werf ci-env:"
                " it would have no stages storage; pass --to ADDRESS",
            ))
        # The fixes take or re-point the storage and synchronization variables (verify proves
        # which), and edit flags inside others' values; no other variable may come or go.
        appeared = (set(now) - set(was)) - {STORAGE, SYNCHRONIZATION}
        gone = (set(was) - set(now)) - {STORAGE, SYNCHRONIZATION}
        if appeared or gone:
            return Blocked(Reason(
                f"the variables of job {name} would change ({', '.join(sorted(appeared | gone))});"
                " change it by hand",
                "would change the variables of a job; change it by hand",
            ))
    return None


class _Variables:
    """Reads jobs' variables as GitLab gives them, once per table of variables and once per
    definition: jobs share their tables and definitions (each is keyed by identity while the
    pipeline holding it is alive)."""

    def __init__(self, tops: dict[str, Any]) -> None:
        self._tops = tops
        self._tables: dict[tuple[int, int], dict[str, str | None]] = {}
        self._values: dict[int, str | None] = {}

    def of(self, job: Job) -> dict[str, str | None]:
        """A job's variables, a ``!reference``d mapping's included (the same dict for jobs
        with the same ``variables:`` node and table: not to be changed)."""
        node = getattr(job.config.get("variables"), "node", None)
        key = (id(node), id(job.variables))
        found = self._tables.get(key)
        if found is None:
            found = self._tables[key] = self._read(job, node)
        return found

    def _read(self, job: Job, node: Any) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        if node is not None and tag_of(node) == REFERENCE_TAG and is_seq(node):
            target = resolve_reference(
                [str(n.value) for n in node.value if is_scalar(n)], self._tops
            )
            if is_map(target):
                for key, value in target.value:
                    out[str(key.value)] = str(value.value) if is_scalar(value) else repr(value)
        values = self._values
        for name, var in job.variables.items():
            if id(var) in values:
                out[name] = values[id(var)]
                continue
            value = var.entry.value
            if tag_of(value) == REFERENCE_TAG and is_seq(value):
                target = resolve_reference(
                    [str(n.value) for n in value.value if is_scalar(n)], self._tops
                )
                text = str(target.value) if is_scalar(target) else None
            else:
                text = var.text
            out[name] = values[id(var)] = text
        return out


def _scripts_of(facts: Facts) -> list[tuple[str, str]]:
    """The script files the analysis read, by path with their text (the same for every job:
    listed once, not once per job)."""
    scripts = []
    for path in facts.files.paths():
        script = facts.files.script(path)
        if script is not None:
            scripts.append((path, script.text))
    return scripts


def _needs_storage(job: Job, scripts: list[tuple[str, str]]) -> bool:
    """Whether a job runs werf with no ``werf ci-env`` in sight (its script lines and the
    ``scripts`` (path, text) they name): then only its ``:local`` gives it a stages storage."""
    texts = [
        str(line.loc.node.value)
        for line in (*job.before_script, *job.script)
        if is_scalar(line.loc.node)
    ]
    if scripts:
        joined = "\n".join(texts)
        texts.extend(text for path, text in scripts if path in joined)
    if any("ci-env" in t for t in texts):
        return False
    return any(_runs_storage_command(t) for t in texts if "werf" in t)


def _runs_storage_command(text: str) -> bool:
    """Whether a shell text runs a werf command that needs a stages storage: ``werf
    dismiss`` reads it only to choose its synchronization default (``:local`` either way),
    and ``werf version`` or ``type werf`` none at all. A text the shell reader cannot read
    counts as needing one (refusing is the safe side)."""
    from ciswitch.shell import analyse

    try:
        calls = analyse(text).werf_calls
    except Exception:  # the reader's failure must only make the proof more careful
        return True
    return any(
        call.takes_stages_storage and call.subcommand != ("dismiss",) for call in calls
    )


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
        if not may_hold_reference(file.text):
            continue
        for key, value in doc.value:
            for index, ref in enumerate(_reference_nodes(value)):
                path = [str(n.value) for n in ref.value if is_scalar(n)]
                yield (file.path, str(key.value), index), (path, resolve_reference(path, tops))


def may_hold_reference(text: str) -> bool:
    """Whether a YAML text can give a node the ``!reference`` tag: only by writing it (also
    as ``!<!reference>``), by a ``%TAG`` handle or by ``%`` escapes in a tag."""
    return REFERENCE_TAG in text or "%" in text


def _reference_nodes(top: Any) -> list[Any]:
    """The ``!reference`` sequences under ``top``, depth first in document order, each node
    (an alias's anchor) looked into once."""
    found: list[Any] = []
    seen: set[int] = set()
    stack = [top]
    pop, push = stack.pop, stack.extend
    while stack:
        node = pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if is_seq(node):
            if tag_of(node) == REFERENCE_TAG:
                found.append(node)
            else:
                push(reversed(node.value))
        elif is_map(node):
            push([item for _, item in reversed(node.value)])
    return found


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
