"""The GitLab CI model: which script lines and variables every job really runs with.

GitLab builds a job from many places: included files (merged deeply, the including file last),
``extends`` chains (mappings merged deeply, lists replaced), YAML anchors and ``<<:`` merges,
``!reference`` tags, ``default:`` and the legacy top-level ``before_script``/``after_script``,
``inherit:``, variables from everywhere GitLab has them (global, ``workflow: rules:``, the
job's own, its ``rules:`` and ``parallel: matrix:``, trigger variables from a parent pipeline)
and child pipelines of ``trigger: include:``. This module follows all of it while keeping, for
every script line and variable, the exact node (and so the exact file position) it came from.
Values are never copied: a merged configuration is a tree of :class:`Merged` mappings whose
leaves are :class:`Loc` references to the original nodes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ciswitch.config import DEFAULT_CI_CONFIG
from ciswitch.errors import CiswitchError
from ciswitch.gitlab.children import follow_children
from ciswitch.gitlab.model import (
    MAX_REFERENCE_DEPTH,
    Job,
    Merged,
    Pipeline,
    ScriptLine,
    Value,
    Variable,
    deep_merge,
    merge_into,
    to_merged,
)
from ciswitch.gitlab.references import resolve_reference, script_lines
from ciswitch.gitlab.variables import (
    Shared,
    TableKey,
    job_candidates,
    job_definitions,
    matrix_variables,
    one_of,
    resolve_value,
    rules_variables,
    tables_over,
    variables_of,
)
from ciswitch.model import NotChecked, NotCheckedKind, Notice, Problem
from ciswitch.source import SourceFile, read_source
from ciswitch.workspace import Workspace, glob_files, normalize
from ciswitch.yaml.nodes import Entry, Loc, is_map, is_scalar, is_seq, mapping_entries

__all__ = [
    "MAX_REFERENCE_DEPTH",
    "RESERVED_KEYS",
    "SCRIPT_KEYS",
    "Job",
    "Merged",
    "Pipeline",
    "ScriptLine",
    "Value",
    "Variable",
    "config_document",
    "deep_merge",
    "job_candidates",
    "job_definitions",
    "load_pipeline",
    "resolve_reference",
    "resolve_value",
    "to_merged",
]

#: top-level keys that are not jobs
RESERVED_KEYS = frozenset(
    {
        "stages",
        "variables",
        "include",
        "default",
        "workflow",
        "image",
        "services",
        "cache",
        "before_script",
        "after_script",
        "spec",
        "types",
        "pages:deploy",
    }
)
SCRIPT_KEYS = ("before_script", "script", "after_script")
MAX_EXTENDS_DEPTH = 11


def config_document(file: SourceFile) -> Any | None:
    """The CI content of a file: the single document, or the one after a ``spec:`` header."""
    docs = file.yaml_documents()
    if not docs:
        return None
    if len(docs) > 1:
        first = docs[0]
        if is_map(first) and [k.value for k, _ in first.value] == ["spec"]:
            return docs[1]
    return docs[-1] if len(docs) > 1 else docs[0]


class _Loader:
    """Reads the root CI file and its local includes, depth first, each file once."""

    def __init__(
        self, workspace: Workspace, known: Mapping[str, SourceFile] | None = None
    ) -> None:
        self.workspace = workspace
        self.known = known
        self.files: list[SourceFile] = []
        self.problems: list[Problem] = []
        self.notices: list[Notice] = []
        self.not_checked: list[NotChecked] = []
        self._seen: set[str] = set()
        #: includes (path, line) guarded by ``rules:``: GitLab may leave them out
        self._conditional: set[tuple[str, int]] = set()
        self._stack: list[str] = []
        self.parents: dict[int, Entry] = {}
        #: the trees of mappings merged by ``<<:`` (see :func:`to_merged`)
        self._shared: dict[int, Merged] = {}

    def load(self, path: str, origin: tuple[str, int] | None) -> Merged | None:
        """The merged configuration of ``path`` with its includes merged under it."""
        try:
            norm = normalize(path)
        except CiswitchError as err:
            self._problem(origin, f"include {path!r} escapes the repository", err)
            return None
        if norm in self._stack:
            chain = " -> ".join([*self._stack, norm])
            path, line = origin if origin else (norm, None)
            self.notices.append(Notice(path, f"include cycle, not followed again: {chain}", line))
            return None
        if norm in self._seen:
            return None
        self._seen.add(norm)
        try:
            file = read_source(self.workspace, norm, self.known)
            doc = config_document(file)
        except CiswitchError as err:
            if origin is not None and (path, origin[1]) in self._conditional and (
                err.message == "file not found"
            ):
                self.not_checked.append(NotChecked(
                    origin[0], origin[1], NotCheckedKind.INCLUDE_RULES,
                    f"include {norm}: not in the repository, and its rules: may leave it out "
                    "(rules are not evaluated), not followed",
                ))
                return None
            if origin is None:
                self.problems.append(Problem(err.path or norm, err.message, err.line, err.column))
            else:
                self._problem(origin, f"cannot include {norm!r}: {err.message}", err)
            return None
        self.files.append(file)
        if doc is None:
            return Merged()
        if not is_map(doc):
            self.problems.append(Problem(norm, "the CI configuration must be a mapping", 1))
            return None
        self._stack.append(norm)
        try:
            own = to_merged(file, doc, self.notices, self.parents, self._shared)
            combined = Merged()  # this call's own: the includes are merged into it in place
            include = own.entries.get("include")
            if include is not None:
                for target in self._include_targets(include):
                    sub = self.load(target[0], (file.path, target[1]))
                    if sub is not None:
                        merge_into(combined, sub)
            merge_into(combined, own)
            return combined
        finally:
            self._stack.pop()

    def _problem(self, origin: tuple[str, int] | None, message: str, err: Exception | None) -> None:
        path, line = origin if origin else ("", None)
        self.problems.append(Problem(path, message, line))

    def _include_targets(self, include: Entry) -> list[tuple[str, int]]:
        """Local paths (globs expanded) named by an ``include:`` value, with their lines."""
        file = include.file
        node = include.value
        items: list[Any] = list(node.value) if is_seq(node) else [node]
        targets: list[tuple[str, int]] = []
        for item in items:
            line = item.start_mark.line + 1
            if is_scalar(item):
                value = str(item.value)
                if value.startswith(("http://", "https://")):
                    self._not_followed(file, line, "remote", value)
                    continue
                targets.extend((p, line) for p in self._expand(file, value, line))
            elif is_map(item):
                entries = mapping_entries(file, item)
                if "local" in entries and is_scalar(entries["local"].value):
                    value = str(entries["local"].value.value)
                    expanded = self._expand(file, value, line)
                    if "rules" in entries:
                        self._conditional.update((p, line) for p in expanded)
                    targets.extend((p, line) for p in expanded)
                else:
                    kinds = [
                        k for k in ("project", "remote", "template", "component") if k in entries
                    ]
                    what = kinds[0] if kinds else "unknown"
                    detail = (
                        entries[what].value.value
                        if kinds and is_scalar(entries[what].value)
                        else ""
                    )
                    self._not_followed(file, line, what, str(detail))
        return targets

    def _expand(self, file: SourceFile, value: str, line: int) -> list[str]:
        if "$" in value:
            self.not_checked.append(NotChecked(
                file.path, line, NotCheckedKind.COMPUTED_INCLUDE,
                f"include {value}: the path holds a variable, not followed",
            ))
            return []
        if "*" in value or "?" in value:
            try:
                matches = glob_files(self.workspace, value)
            except CiswitchError:
                self.problems.append(
                    Problem(file.path, f"include {value!r} escapes the repository", line)
                )
                return []
            if not matches:
                self.notices.append(
                    Notice(file.path, f"include pattern {value!r} matches no file", line)
                )
            return [m for m in matches if m.endswith((".yml", ".yaml"))]
        return [value]

    def _not_followed(self, file: SourceFile, line: int, what: str, detail: str) -> None:
        kind = _INCLUDE_KINDS.get(what, NotCheckedKind.UNKNOWN_INCLUDE)
        named = f"include {what}: {detail}" if detail else f"include {what}"
        self.not_checked.append(
            NotChecked(file.path, line, kind, f"{named}: not in this repository, not followed")
        )


_INCLUDE_KINDS = {
    "project": NotCheckedKind.PROJECT_INCLUDE,
    "remote": NotCheckedKind.REMOTE_INCLUDE,
    "template": NotCheckedKind.TEMPLATE_INCLUDE,
    "component": NotCheckedKind.COMPONENT_INCLUDE,
}


def load_pipeline(
    workspace: Workspace,
    ci_config: str = DEFAULT_CI_CONFIG,
    known: Mapping[str, SourceFile] | None = None,
) -> Pipeline:
    """Assemble the pipeline of ``ci_config`` and its includes (``known``: files already
    decoded and composed, by path, taken instead of reading the workspace), with the child
    pipelines its ``trigger: include:`` jobs start from local files."""
    pipeline = _load(workspace, ci_config, known, None, {}, 0)
    assert pipeline is not None
    return pipeline


def _load(
    workspace: Workspace,
    ci_config: str | list[tuple[str, str, int]],
    known: Mapping[str, SourceFile] | None,
    parent_job: str | None,
    upstream: dict[str, tuple[Variable, ...]],
    depth: int,
) -> Pipeline | None:
    loader = _Loader(workspace, known)
    if isinstance(ci_config, str):
        config = loader.load(ci_config, None) or Merged()
    else:
        config = Merged()
        for path, origin_path, origin_line in ci_config:
            sub = loader.load(path, (origin_path, origin_line))
            if sub is not None:
                merge_into(config, sub)
    pipeline = Pipeline(
        loader.files, config, {}, {}, loader.problems, loader.notices, [], loader.parents,
        not_checked=loader.not_checked,
    )
    pipeline.parent_job = parent_job
    _build(pipeline, upstream)
    if parent_job is not None:
        for job in pipeline.jobs.values():
            job.name = f"{job.name} of the child pipeline of {parent_job}"
    follow_children(pipeline, workspace, known, depth, _load)
    return pipeline


def _build(pipeline: Pipeline, upstream: dict[str, tuple[Variable, ...]] | None = None) -> None:
    """Resolve every job. A job's variables, lowest precedence first (GitLab's "CI/CD
    variable precedence" and the ``rules:variables`` / ``workflow:rules:variables``
    keyword pages): global (and ``default:``) variables it inherits, ``workflow: rules:``
    variables (they override global ones), the job's own (with ``extends``), its ``rules:``
    and ``parallel: matrix:`` variables (they override the job's), then the trigger
    variables a parent pipeline passes down (the highest)."""
    config = pipeline.config
    notices = pipeline.notices
    global_vars = variables_of(config.get("variables"), "global", notices, pipeline, {})
    pipeline.global_variables = global_vars
    pipeline.variable_definitions.extend(global_vars.values())
    default = config.get("default")
    default_map = default if isinstance(default, Merged) else Merged()
    default_vars = variables_of(default_map.get("variables"), "default", notices, pipeline, {})
    pipeline.variable_definitions.extend(default_vars.values())

    raw_jobs: dict[str, Merged] = {}
    for name in config.names():
        if name in RESERVED_KEYS:
            continue
        value = config.get(name)
        if isinstance(value, Merged):
            raw_jobs[name] = value
    resolved: dict[str, Merged] = {}

    for name in raw_jobs:
        _resolve_job(name, 0, (name,), raw_jobs, resolved, pipeline)

    workflow = config.get("workflow")
    workflow_vars = rules_variables(
        workflow.get("rules") if isinstance(workflow, Merged) else None,
        "workflow rules",
        pipeline,
        resolved,
        pipeline.notices,
    )
    pipeline.variable_definitions.extend(workflow_vars)
    passed = [var for found in (upstream or {}).values() for var in reversed(found)]
    passed_key = tuple(map(id, passed))
    every_inherited = [*global_vars.values(), *default_vars.values(), *workflow_vars]
    every_key = tuple(map(id, every_inherited))
    shared: Shared = {}
    lines_of: dict[tuple[int, str], list[ScriptLine]] = {}
    tables: dict[TableKey, dict[str, tuple[Variable, ...]]] = {}
    values: dict[TableKey, dict[str, Variable]] = {}
    vars_of: dict[int, dict[str, Variable]] = {}
    #: the two tables of the variables jobs inherit, by the identities of those variables
    lowest: dict[tuple[int, ...], tuple[
        dict[str, tuple[Variable, ...]], dict[str, tuple[Variable, ...]]
    ]] = {}
    made_of: dict[tuple[tuple[int, ...], ...], tuple[
        dict[str, tuple[Variable, ...]], dict[str, tuple[Variable, ...]], dict[str, Variable]
    ]] = {}

    # what a job without a before_script or after_script of its own inherits (when it does)
    inherited_scripts = {
        section: default_map.get(section) or config.get(section)
        for section in SCRIPT_KEYS if section != "script"
    }
    for name, merged in resolved.items():
        own = raw_jobs[name]
        job = Job(name, _file_of(own), merged, name.startswith("."))
        job.bridge = "trigger" in merged.children or "trigger" in merged.entries
        inherit = merged.get("inherit")
        inherit_default = _inherit(inherit, "default")
        inherit_vars = _inherit(inherit, "variables")
        for section in SCRIPT_KEYS:
            value = merged.get(section)
            if value is None and section != "script" and _allows(inherit_default, section):
                value = inherited_scripts[section]
            setattr(job, section, _script_lines(value, section, resolved, pipeline, lines_of))
        inherited = every_inherited if inherit_vars is True else [
            var for var in every_inherited if _allows(inherit_vars, var.name)
        ]
        own_vars = _job_variables(merged.get("variables"), pipeline, resolved, vars_of)
        rules_vars = rules_variables(
            merged.get("rules"), "rules", pipeline, resolved, pipeline.notices
        )
        matrix_vars = matrix_variables(merged.get("parallel"), notices)
        # Jobs of a big file mostly run with the same variables: equal tables are one table
        # (nothing changes a job's tables once they are built), and the same definitions
        # (by identity, layer by layer: the tables hold them, so the ids stay theirs) make
        # the same tables without building them again.
        layers = [inherited, list(own_vars.values()), rules_vars, matrix_vars, passed]
        layers_key = (
            every_key if inherited is every_inherited else tuple(map(id, inherited)),
            *[tuple(map(id, layer)) for layer in layers[1:4]],
            passed_key,
        )
        made = made_of.get(layers_key)
        if made is None:
            below = lowest.get(layers_key[0])
            if below is None:
                lowest_definitions = job_definitions([inherited], shared)
                below = lowest[layers_key[0]] = (
                    lowest_definitions, job_candidates(lowest_definitions, shared)
                )
            definitions, candidates = tables_over(below, layers[1:], shared)
            definitions = one_of(definitions, tables)
            candidates = one_of(candidates, tables)
            made = made_of[layers_key] = (definitions, candidates, one_of(
                {var_name: found[0] for var_name, found in candidates.items()}, values
            ))
        job.definitions, job.candidates, job.variables = made
        if own is merged:  # nothing extended: the job's definitions as written are these
            pipeline.variable_definitions.extend(layers[1])
            pipeline.variable_definitions.extend(rules_vars)
            pipeline.variable_definitions.extend(matrix_vars)
        else:
            pipeline.variable_definitions.extend(
                variables_of(own.get("variables"), "job", notices, pipeline, resolved).values()
            )
            pipeline.variable_definitions.extend(
                rules_variables(own.get("rules"), "rules", pipeline, resolved)
            )
            pipeline.variable_definitions.extend(matrix_variables(own.get("parallel"), []))
        pipeline.jobs[name] = job
    # A job's own definitions are read twice (merged and as written): say each thing once.
    pipeline.notices[:] = dict.fromkeys(pipeline.notices)


def _job_variables(
    value: Value | None,
    pipeline: Pipeline,
    resolved: dict[str, Merged],
    known: dict[int, dict[str, Variable]],
) -> dict[str, Variable]:
    """A job's own variables (with what it extends), one table for every job whose
    ``variables:`` is the same merged mapping (jobs extending one template without variables
    of their own); as for script lines, only a reading that said nothing is shared."""
    if not isinstance(value, Merged):
        return variables_of(value, "job", pipeline.notices, pipeline, resolved)
    found = known.get(id(value))
    if found is None:
        said = len(pipeline.problems), len(pipeline.notices)
        found = variables_of(value, "job", pipeline.notices, pipeline, resolved)
        if (len(pipeline.problems), len(pipeline.notices)) == said:
            known[id(value)] = found
    return found


def _script_lines(
    value: Value | None,
    section: str,
    resolved: dict[str, Merged],
    pipeline: Pipeline,
    known: dict[tuple[int, str], list[ScriptLine]],
) -> list[ScriptLine]:
    """The script lines of ``value``, one list for every job running the same node (a
    ``default:`` script runs in every job of a big file). Only a flattening that said nothing
    (no problem, no notice) is shared: one that did says it again for every job."""
    if not isinstance(value, Loc):
        return []
    key = (id(value.node), section)
    found = known.get(key)
    if found is None:
        said = len(pipeline.problems), len(pipeline.notices)
        found = script_lines(value, section, resolved, pipeline, 0)
        if (len(pipeline.problems), len(pipeline.notices)) == said:
            known[key] = found
    return found


def _resolve_job(
    name: str,
    depth: int,
    chain: tuple[str, ...],
    raw_jobs: dict[str, Merged],
    resolved: dict[str, Merged],
    pipeline: Pipeline,
) -> Merged:
    """A job merged with everything it ``extends`` (memoised in ``resolved``).

    A module-level function rather than a closure in :func:`_build`: a recursive closure refers
    to itself, and that cycle kept the whole pipeline alive until the cycle collector ran.
    """
    if name in resolved:
        return resolved[name]
    own = raw_jobs[name]
    extends = own.get("extends")
    parents: list[str] = []
    if isinstance(extends, Loc):
        if is_scalar(extends.node):
            parents = [str(extends.node.value)]
        elif is_seq(extends.node):
            parents = [str(n.value) for n in extends.node.value if is_scalar(n)]
    merged = Merged()
    for parent in parents:
        if parent in chain:
            pipeline.problems.append(
                Problem(_file_of(own).path, f"extends cycle: {' -> '.join([*chain, parent])}")
            )
            continue
        if parent not in raw_jobs:
            pipeline.notices.append(
                Notice(
                    _file_of(own).path,
                    f"job {name!r} extends {parent!r}, which is not in the files read",
                    _line_of(extends),
                )
            )
            continue
        if depth >= MAX_EXTENDS_DEPTH:
            pipeline.problems.append(
                Problem(
                    _file_of(own).path,
                    f"extends nesting deeper than {MAX_EXTENDS_DEPTH} at {name!r}",
                )
            )
            continue
        merged = deep_merge(
            merged, _resolve_job(parent, depth + 1, (*chain, parent), raw_jobs, resolved, pipeline)
        )
    result = deep_merge(merged, own)
    resolved[name] = result
    return result


def _file_of(merged: Merged) -> SourceFile:
    for entry in merged.entries.values():
        return entry.file
    for child in merged.children.values():
        return _file_of(child)
    raise CiswitchError("empty job")  # pragma: no cover - jobs always have a key


def _line_of(value: Value | None) -> int | None:
    if isinstance(value, Loc):
        return int(value.node.start_mark.line) + 1
    return None


def _inherit(inherit: Value | None, key: str) -> bool | list[str]:
    if not isinstance(inherit, Merged):
        return True
    value = inherit.get(key)
    if isinstance(value, Loc):
        node = value.node
        if is_scalar(node):
            return str(node.value).lower() != "false"
        if is_seq(node):
            return [str(n.value) for n in node.value if is_scalar(n)]
    return True


def _allows(inherit: bool | list[str], key: str) -> bool:
    return inherit if isinstance(inherit, bool) else key in inherit


