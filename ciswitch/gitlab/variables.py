"""Variable definitions from everywhere GitLab has them, and which of them a job may run with.

Followed from GitLab's documentation: "CI/CD variable precedence" (trigger variables above a
job's own, the job's own above global ones), the keyword pages of ``rules:variables`` (they
override the job's variables when the rule matches), ``workflow:rules:variables`` (they
override global variables for every job), ``parallel:matrix`` (one job per combination, each
with its values) and ``!reference`` tags (a whole ``variables:`` mapping or one value).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TypeVar

from ciswitch.gitlab.model import (
    MAX_REFERENCE_DEPTH,
    Merged,
    Pipeline,
    Value,
    Variable,
    to_merged,
)
from ciswitch.gitlab.references import resolve_path, resolve_reference
from ciswitch.model import Notice
from ciswitch.patterns import lazy_compile
from ciswitch.yaml.nodes import (
    REFERENCE_TAG,
    Entry,
    Loc,
    is_map,
    is_scalar,
    is_seq,
    mapping_entries,
)

_VAR_REF = lazy_compile(r"^\$(?:\{(\w+)\}|(\w+))$")


def variables_of(
    value: Value | None,
    scope: str,
    notices: list[Notice],
    pipeline: Pipeline | None = None,
    jobs: dict[str, Merged] | None = None,
    conditional: bool = False,
) -> dict[str, Variable]:
    """The definitions of a ``variables:`` value: a mapping, or ``!reference [.tpl,
    variables]`` standing for one; an entry's value is a scalar, the ``{value:, expand:}``
    form, or ``!reference [.tpl, variables, KEY]`` (GitLab's "!reference tags")."""
    if isinstance(value, Loc) and is_seq(value.node) and value.node.tag == REFERENCE_TAG:
        if pipeline is None:
            return {}
        value = resolve_reference(value, jobs or {}, pipeline, 0)
    if not isinstance(value, Merged):
        return {}
    result: dict[str, Variable] = {}
    for name, entry in value.entries.items():
        node = entry.value
        file = entry.file
        source: Entry | None = None
        if is_seq(node) and node.tag == REFERENCE_TAG and pipeline is not None:
            source = reference_entry(Loc(file, node), jobs or {}, pipeline)
            if source is not None:
                node, file = source.value, source.file
        scalar: Loc | None = None
        expand = True
        if is_scalar(node):
            scalar = Loc(file, node)
        elif is_map(node):
            inner = mapping_entries(file, node)
            found = inner.get("value")
            if found is not None and is_scalar(found.value):
                scalar = Loc(file, found.value)
            flag = inner.get("expand")
            if flag is not None and is_scalar(flag.value):
                expand = str(flag.value.value).lower() != "false"
        result[name] = Variable(name, entry, scalar, scope, expand, conditional, source)
    return result


def reference_entry(
    value: Loc, jobs: dict[str, Merged], pipeline: Pipeline
) -> Entry | None:
    """``!reference [.tpl, variables, KEY]``: the entry it points at."""
    path = [str(n.value) for n in value.node.value if is_scalar(n)]
    if len(path) < 2:
        return None
    holder = resolve_path(path[:-1], value, jobs, pipeline, 0)
    if isinstance(holder, Merged) and path[-1] in holder.entries:
        return holder.entries[path[-1]]
    line = int(value.node.start_mark.line) + 1
    pipeline.notices.append(
        Notice(value.file.path, f"!reference [{', '.join(path)}] points at nothing", line)
    )
    return None


def rules_variables(
    rules: Value | None,
    scope: str,
    pipeline: Pipeline,
    jobs: dict[str, Merged],
    notices: list[Notice] | None = None,
) -> list[Variable]:
    """The ``variables:`` of every ``rules:`` entry (an entry may be a ``!reference``)."""
    if not isinstance(rules, Loc):
        return []
    found: list[Variable] = []
    for item in _rule_items(rules, pipeline, jobs, 0):
        if not is_map(item.node):
            continue
        entries = mapping_entries(item.file, item.node)
        holder = entries.get("variables")
        if holder is None:
            continue
        if is_map(holder.value):
            pipeline.parents.setdefault(id(holder.value), holder)
        value: Value = (
            to_merged(item.file, holder.value, [] if notices is None else notices,
                      pipeline.parents)
            if is_map(holder.value)
            else holder.value_loc
        )
        found.extend(
            variables_of(value, scope, pipeline.notices, pipeline, jobs, True).values()
        )
    return found


def _rule_items(
    rules: Loc, pipeline: Pipeline, jobs: dict[str, Merged], depth: int
) -> Iterator[Loc]:
    node = rules.node
    if not is_seq(node) or depth > MAX_REFERENCE_DEPTH:
        return
    if node.tag == REFERENCE_TAG:
        target = resolve_reference(rules, jobs, pipeline, depth)
        if isinstance(target, Loc):
            yield from _rule_items(target, pipeline, jobs, depth + 1)
        return
    for item in node.value:
        loc = Loc(rules.file, item)
        if is_seq(item):
            yield from _rule_items(loc, pipeline, jobs, depth + 1)
        else:
            yield loc


def matrix_variables(parallel: Value | None, notices: list[Notice]) -> list[Variable]:
    """``parallel: matrix:``: every value of every entry, each in effect in the generated
    jobs of its combination (GitLab's "parallel:matrix": one job per combination, named
    ``build: [a, b]``, each with the combination's variables)."""
    if not isinstance(parallel, Merged):
        return []
    matrix = parallel.get("matrix")
    if not isinstance(matrix, Loc) or not is_seq(matrix.node):
        return []
    found: list[Variable] = []
    for item in matrix.node.value:
        if not is_map(item):
            continue
        for name, entry in mapping_entries(matrix.file, item, notices).items():
            values = entry.value.value if is_seq(entry.value) else [entry.value]
            for value in values:
                if is_scalar(value):
                    scalar = Loc(entry.file, value)
                    found.append(Variable(name, entry, scalar, "matrix", True, True))
    return found


#: tuples of definitions by the identities of their members: the jobs of a big file mostly hold
#: the same few (the global variables each job inherits), so they share one tuple each
Shared = dict[tuple[int, ...], tuple[Variable, ...]]


def _shared(found: tuple[Variable, ...], shared: Shared | None) -> tuple[Variable, ...]:
    if shared is None:
        return found
    return shared.setdefault(tuple(map(id, found)), found)


#: a table of a job's variables as :func:`one_of` knows it: its names and their objects' ids
TableKey = tuple[tuple[str, ...], tuple[int, ...]]
_T = TypeVar("_T")


def one_of(table: dict[str, _T], known: dict[TableKey, dict[str, _T]]) -> dict[str, _T]:
    """``table``, or the equal one seen before (same names, same objects, same order)."""
    return known.setdefault((tuple(table), tuple(map(id, table.values()))), table)


def job_definitions(
    layers: list[list[Variable]], shared: Shared | None = None
) -> dict[str, tuple[Variable, ...]]:
    """Every definition of each name, from ``layers`` given lowest precedence first: the
    highest first. Equal tuples are taken from ``shared`` (and added to it)."""
    by_name: dict[str, list[Variable]] = {}
    for layer in layers:
        for var in layer:
            by_name.setdefault(var.name, []).append(var)
    return {name: _shared(tuple(reversed(found)), shared) for name, found in by_name.items()}


def job_candidates(
    definitions: dict[str, tuple[Variable, ...]], shared: Shared | None = None
) -> dict[str, tuple[Variable, ...]]:
    """The definitions of each name that may be in effect (``definitions`` highest first):
    down to the first that holds unconditionally (conditional ones above it win when their
    condition holds, so all of them may be in effect; anything below it never is). Equal
    tuples are taken from ``shared`` (and added to it)."""
    return {name: _candidates_of(found, shared) for name, found in definitions.items()}


def _candidates_of(
    found: tuple[Variable, ...], shared: Shared | None
) -> tuple[Variable, ...]:
    """The candidates of one name (:func:`job_candidates`)."""
    chosen: list[Variable] = []
    for var in found:
        node = var.value.node if var.value is not None else None
        if any(
            var.entry.key is seen.entry.key
            and (seen.value.node if seen.value is not None else None) is node
            for seen in chosen
        ):
            continue
        chosen.append(var)
        if not var.conditional:
            break
    return found if len(chosen) == len(found) else _shared(tuple(chosen), shared)


def tables_over(
    below: tuple[dict[str, tuple[Variable, ...]], dict[str, tuple[Variable, ...]]],
    layers: list[list[Variable]],
    shared: Shared | None = None,
) -> tuple[dict[str, tuple[Variable, ...]], dict[str, tuple[Variable, ...]]]:
    """:func:`job_definitions` and :func:`job_candidates` of a lowest layer under ``layers``,
    made from that layer's own two tables (``below``): the jobs of a big file share their
    lowest layer (the variables they inherit), so only the names their own layers define
    are made again; the others keep the lowest layer's tuples, which are what both functions
    would make of them, in the same order."""
    by_name: dict[str, list[Variable]] = {}
    for layer in layers:
        for var in layer:
            by_name.setdefault(var.name, []).append(var)
    definitions, candidates = below
    if not by_name:
        return definitions, candidates
    definitions = dict(definitions)
    candidates = dict(candidates)
    for name, found in by_name.items():
        made = definitions[name] = _shared(
            (*reversed(found), *definitions.get(name, ())), shared
        )
        candidates[name] = _candidates_of(made, shared)
    return definitions, candidates


def resolve_value(
    var: Variable, candidates: Mapping[str, tuple[Variable, ...]]
) -> str | None:
    """A variable's value as a job sees it: GitLab expands a whole-value ``$OTHER`` /
    ``${OTHER}`` through the job's other variables (never in an ``expand: false``
    definition). Follows the chain through each name's first candidate."""
    value = var.text
    expand = var.expand
    if value is None or not expand or "$" not in value:
        return value  # nothing to expand (most values)
    seen: set[str] = set()
    while value is not None and expand:
        match = _VAR_REF.match(value.strip())
        if not match:
            return value
        name = match.group(1) or match.group(2)
        found = candidates.get(name)
        if name in seen or not found:
            return value
        seen.add(name)
        value, expand = found[0].text, found[0].expand
    return value
