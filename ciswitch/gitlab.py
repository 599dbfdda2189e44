"""The GitLab CI model: which script lines and variables every job really runs with.

GitLab builds a job from many places: included files (merged deeply, the including file last),
``extends`` chains (mappings merged deeply, lists replaced), YAML anchors and ``<<:`` merges,
``!reference`` tags, ``default:`` and the legacy top-level ``before_script``/``after_script``,
``inherit:``, global and job ``variables``. This module follows all of it while keeping, for
every script line and variable, the exact node (and so the exact file position) it came from.
Values are never copied: a merged configuration is a tree of :class:`Merged` mappings whose
leaves are :class:`Loc` references to the original nodes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ciswitch.config import DEFAULT_CI_CONFIG
from ciswitch.errors import CiswitchError
from ciswitch.model import NotChecked, NotCheckedKind, Notice, Problem
from ciswitch.source import SourceFile, read_source
from ciswitch.workspace import Workspace, glob_files, normalize
from ciswitch.yaml.nodes import (
    REFERENCE_TAG,
    Entry,
    Loc,
    is_map,
    is_null,
    is_scalar,
    is_seq,
    mapping_entries,
)

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
MAX_REFERENCE_DEPTH = 10


@dataclass(slots=True)
class Merged:
    """A mapping assembled from one or more YAML mappings (includes, extends, merges)."""

    entries: dict[str, Entry] = field(default_factory=dict)
    children: dict[str, Merged] = field(default_factory=dict)

    def get(self, key: str) -> Value | None:
        if key in self.children:
            return self.children[key]
        entry = self.entries.get(key)
        return None if entry is None else entry.value_loc

    def names(self) -> list[str]:
        return list(dict.fromkeys([*self.entries, *self.children]))


Value = Merged | Loc


def to_merged(
    file: SourceFile, node: Any, notices: list[Notice], parents: dict[int, Entry] | None = None
) -> Merged:
    """Turn a YAML mapping (with ``<<:`` resolved) into a :class:`Merged` tree.

    ``parents`` collects, for every mapping node, the entry that holds it (keyed by identity),
    so that a fix emptying a mapping can remove its key too."""
    merged = Merged()
    for name, entry in mapping_entries(file, node, notices).items():
        merged.entries[name] = entry
        if is_map(entry.value):
            if parents is not None:
                parents.setdefault(id(entry.value), entry)
            merged.children[name] = to_merged(file, entry.value, notices, parents)
    return merged


def deep_merge(base: Merged, over: Merged) -> Merged:
    """GitLab's deep merge: mappings merge key by key, anything else is replaced."""
    result = Merged(dict(base.entries), dict(base.children))
    for name in over.names():
        if name in over.children and name in result.children:
            result.children[name] = deep_merge(result.children[name], over.children[name])
        elif name in over.children:
            result.children[name] = over.children[name]
        else:
            result.children.pop(name, None)
        if name in over.entries:
            result.entries[name] = over.entries[name]
    return result


@dataclass(frozen=True, slots=True)
class ScriptLine:
    """One script item a job runs, with the section it runs in."""

    loc: Loc
    section: str  # before_script | script | after_script
    #: the sequence node holding this item (None for a bare string script)
    parent: Any = None


@dataclass(frozen=True, slots=True)
class Variable:
    """A CI variable definition: the entry (for removal) and the scalar holding its value."""

    name: str
    entry: Entry
    value: Loc | None  # the value scalar (plain value or the ``value:`` of the long form)
    scope: str  # "global" | "default" | "job"

    @property
    def text(self) -> str | None:
        if self.value is None or not is_scalar(self.value.node) or is_null(self.value.node):
            return None
        return str(self.value.node.value)


@dataclass(slots=True)
class Job:
    """A job (or hidden template) with its effective configuration after all merging."""

    name: str
    file: SourceFile
    config: Merged
    hidden: bool
    before_script: list[ScriptLine] = field(default_factory=list)
    script: list[ScriptLine] = field(default_factory=list)
    after_script: list[ScriptLine] = field(default_factory=list)
    variables: dict[str, Variable] = field(default_factory=dict)


@dataclass
class Pipeline:
    """The whole CI configuration of a repository as GitLab would assemble it."""

    files: list[SourceFile]
    config: Merged
    jobs: dict[str, Job]
    global_variables: dict[str, Variable]
    problems: list[Problem]
    notices: list[Notice]
    #: every variables: entry defined anywhere (global, default, each job's own, hidden jobs)
    variable_definitions: list[Variable]
    #: mapping node id -> the entry holding it (see :func:`to_merged`)
    parents: dict[int, Entry] = field(default_factory=dict)
    #: what the pipeline takes from outside the repository (includes, child pipelines)
    not_checked: list[NotChecked] = field(default_factory=list)


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
        self._stack: list[str] = []
        self.parents: dict[int, Entry] = {}

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
            own = to_merged(file, doc, self.notices, self.parents)
            combined = Merged()
            include = own.entries.get("include")
            if include is not None:
                for target in self._include_targets(include):
                    sub = self.load(target[0], (file.path, target[1]))
                    if sub is not None:
                        combined = deep_merge(combined, sub)
            return deep_merge(combined, own)
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
                    targets.extend((p, line) for p in self._expand(file, value, line))
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
    decoded and composed, by path, taken instead of reading the workspace)."""
    loader = _Loader(workspace, known)
    config = loader.load(ci_config, None) or Merged()
    pipeline = Pipeline(
        loader.files, config, {}, {}, loader.problems, loader.notices, [], loader.parents,
        loader.not_checked,
    )
    _build(pipeline)
    return pipeline


def _variables_of(value: Value | None, scope: str, notices: list[Notice]) -> dict[str, Variable]:
    if not isinstance(value, Merged):
        return {}
    result: dict[str, Variable] = {}
    for name, entry in value.entries.items():
        node = entry.value
        scalar: Loc | None = None
        if is_scalar(node):
            scalar = Loc(entry.file, node)
        elif is_map(node):
            inner = mapping_entries(entry.file, node).get("value")
            if inner is not None and is_scalar(inner.value):
                scalar = Loc(entry.file, inner.value)
        result[name] = Variable(name, entry, scalar, scope)
    return result


def _build(pipeline: Pipeline) -> None:
    config = pipeline.config
    notices = pipeline.notices
    global_vars = _variables_of(config.get("variables"), "global", notices)
    pipeline.global_variables = global_vars
    pipeline.variable_definitions.extend(global_vars.values())
    default = config.get("default")
    default_map = default if isinstance(default, Merged) else Merged()
    default_vars = _variables_of(default_map.get("variables"), "default", notices)
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

    for name, merged in resolved.items():
        own = raw_jobs[name]
        job = Job(name, _file_of(own), merged, name.startswith("."))
        inherit = merged.get("inherit")
        inherit_default = _inherit(inherit, "default")
        inherit_vars = _inherit(inherit, "variables")
        for section in SCRIPT_KEYS:
            value = merged.get(section)
            if value is None and section != "script" and _allows(inherit_default, section):
                value = default_map.get(section) or config.get(section)
            lines = _script_lines(value, section, resolved, pipeline, 0)
            setattr(job, section, lines)
        variables: dict[str, Variable] = {}
        for var_name, var in {**global_vars, **default_vars}.items():
            if _allows(inherit_vars, var_name):
                variables[var_name] = var
        own_vars = _variables_of(merged.get("variables"), "job", notices)
        variables.update(own_vars)
        job.variables = variables
        for var in _variables_of(own.get("variables"), "job", notices).values():
            pipeline.variable_definitions.append(var)
        pipeline.jobs[name] = job


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


def _script_lines(
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
        target = _resolve_reference(value, jobs, pipeline, depth)
        return _script_lines(target, section, jobs, pipeline, depth + 1)
    lines: list[ScriptLine] = []
    for item in node.value:
        lines.extend(_script_lines(Loc(value.file, item), section, jobs, pipeline, depth, node))
    return lines


def _resolve_reference(
    value: Loc, jobs: dict[str, Merged], pipeline: Pipeline, depth: int
) -> Value | None:
    """``!reference [job, key, ...]``: the node it points at, or None (with a problem)."""
    path = [str(n.value) for n in value.node.value if is_scalar(n)]
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
