"""The ``variables:`` places of the replay: every definition of ``WERF_STAGES_STORAGE`` (or the
synchronization) that is ``:local``, with the jobs that may run with it."""

from __future__ import annotations

from ciswitch.analysis.facts import Facts, Kind, Place, Reach, VariableEntry
from ciswitch.analysis.values import is_local
from ciswitch.gitlab import Pipeline, Variable, resolve_value
from ciswitch.model import LOCAL, STAGES_VAR, SYNC_VAR
from ciswitch.yaml.nodes import Entry

#: the kind of a ``:local`` definition of each variable
VARIABLE_KIND = {STAGES_VAR: Kind.STORAGE_VARIABLE, SYNC_VAR: Kind.SYNCHRONIZATION}


def record_variable_places(facts: Facts, pipeline: Pipeline) -> None:
    """A job reaches each definition that may be in effect for it (``Job.candidates``),
    resolved through the job's own variables; a trigger job reaches the ones it passes down. A
    definition no job may use (a template's, an overridden one) is still a place, resolved
    through the global variables."""
    names = (STAGES_VAR, SYNC_VAR)
    global_scope = {name: (var,) for name, var in pipeline.global_variables.items()}
    for var in pipeline.variable_definitions:
        if var.name in names:
            value = resolve_value(var, global_scope)
            if is_local(value):
                _variable_place(facts, var)
    # most jobs reach the same few definitions (the global one): each one's place is looked
    # up once (by the definition's identity; the pipeline holds every definition meanwhile)
    placed: dict[int, Place] = {}
    for job in pipeline.jobs.values():
        who = Reach(job.name, job.hidden)
        for name in names:
            for var in job.candidates.get(name, ()):
                if not is_local(resolve_value(var, job.candidates)):
                    continue
                place = placed.get(id(var))
                if place is None:
                    place = placed[id(var)] = _variable_place(facts, var)
                place.add_job(who)
                if var.source is not None:
                    # ``!reference [.tpl, variables, KEY]``: the value's home is used too
                    home = entry_place(facts, var.source, VARIABLE_KIND[name])
                    if home is not None:
                        home.add_job(who)


def entry_span(entry: Entry) -> tuple[int, int]:
    """Where a ``variables:`` entry is reported: its key through its value."""
    return int(entry.key.start_mark.index), int(entry.value.end_mark.index)


def entry_place(facts: Facts, entry: Entry, kind: Kind) -> Place | None:
    """The place already recorded for an entry."""
    start, end = entry_span(entry)
    return facts.places.get((kind, entry.file.path, start, end))


def _variable_place(facts: Facts, var: Variable) -> Place:
    start, end = entry_span(var.entry)
    place = facts.place(VARIABLE_KIND[var.name], var.entry.file, start, end, VariableEntry(var))
    if var.text is not None and var.text.strip() != LOCAL and place.via is None:
        place.via = var.text
    return place
