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

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ciswitch.config import DEFAULT_CI_CONFIG
from ciswitch.errors import CiswitchError
from ciswitch.model import Notice, Problem
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
    #: where it is defined, in GitLab's words: "global", "default", "workflow rules", "job",
    #: "rules", "matrix", or "trigger" (passed down by the trigger job of a child pipeline)
    scope: str
    #: ``expand: false`` in the long form: GitLab does not expand ``$OTHER`` in the value
    expand: bool = True
    #: in effect only when a condition holds (a ``rules:`` entry matches, one ``parallel:
    #: matrix:`` combination): a lower definition of the same name may be in effect instead
    conditional: bool = False
    #: the entry a ``!reference [.tpl, variables, KEY]`` value points at (the value's home)
    source: Entry | None = None

    @property
    def text(self) -> str | None:
        if self.value is None or not is_scalar(self.value.node) or is_null(self.value.node):
            return None
        return str(self.value.node.value)

    def passed_down(self) -> Variable:
        """The same definition as a child pipeline's jobs see it: a trigger variable."""
        return Variable(
            self.name, self.entry, self.value, "trigger", self.expand, self.conditional, self.source
        )


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
    #: the value of every variable when every condition holds (the highest definition)
    variables: dict[str, Variable] = field(default_factory=dict)
    #: every definition that may be in effect, the highest first, down to the first one that
    #: holds unconditionally (see :func:`job_candidates`)
    candidates: dict[str, tuple[Variable, ...]] = field(default_factory=dict)
    #: every definition of each name the job has, the highest first (what is left in effect
    #: once the higher ones are removed)
    definitions: dict[str, tuple[Variable, ...]] = field(default_factory=dict)
    #: a trigger job (``trigger:``): it runs no script, its variables go to the child pipeline
    bridge: bool = False


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
    #: the child pipelines of ``trigger: include:`` jobs with local files
    children: list[Pipeline] = field(default_factory=list)
    #: the trigger job (its label) whose child this pipeline is; None for the main pipeline
    parent_job: str | None = None


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
                    self._not_followed(file, line, f"remote include {value}")
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
                    self._not_followed(file, line, f"include {what}: {detail}".rstrip(": "))
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

    def _not_followed(self, file: SourceFile, line: int, what: str) -> None:
        self.notices.append(
            Notice(file.path, f"{what}: not in this repository, not followed", line)
        )


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


#: how deep child pipelines nest (GitLab allows two levels below the parent)
MAX_CHILD_DEPTH = 2


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
                config = deep_merge(config, sub)
    pipeline = Pipeline(
        loader.files, config, {}, {}, loader.problems, loader.notices, [], loader.parents
    )
    pipeline.parent_job = parent_job
    _build(pipeline, upstream)
    if parent_job is not None:
        for job in pipeline.jobs.values():
            job.name = f"{job.name} of the child pipeline of {parent_job}"
    _children(pipeline, workspace, known, depth)
    return pipeline


def _children(
    pipeline: Pipeline,
    workspace: Workspace,
    known: Mapping[str, SourceFile] | None,
    depth: int,
) -> None:
    """Follow ``trigger: include:`` with local files as pipelines of their own.

    A child pipeline starts from its own files (the parent's are not merged in); its jobs get
    the trigger job's variables, and the parent's global ones it inherits, as *trigger
    variables*: the highest precedence, above the child's own job variables (GitLab's
    "Downstream pipelines: pass YAML-defined CI/CD variables" and "CI/CD variable
    precedence"). ``trigger: forward: yaml_variables: false`` passes none.
    """
    for job in list(pipeline.jobs.values()):
        if not job.bridge or job.hidden:
            continue
        trigger = job.config.get("trigger")
        if not isinstance(trigger, Merged):
            continue  # ``trigger: group/project``: another project's pipeline
        targets: list[tuple[str, str, int]] = []
        for path, origin, line in _child_targets(pipeline, job, trigger.entries.get("include")):
            try:
                norm = normalize(path)
            except CiswitchError:
                norm = ""
            if norm and ((known is not None and norm in known) or workspace.is_file(norm)):
                targets.append((path, origin, line))
            else:
                pipeline.notices.append(
                    Notice(origin, f"child pipeline of job {job.name}: no file {path!r} in "
                           "this repository, not followed", line)
                )
        if not targets:
            continue
        if depth >= MAX_CHILD_DEPTH:
            pipeline.notices.append(
                Notice(job.file.path, f"child pipeline of job {job.name} nested deeper than "
                       f"{MAX_CHILD_DEPTH} levels: not followed")
            )
            continue
        upstream: dict[str, tuple[Variable, ...]] = {}
        forward = trigger.get("forward")
        yaml_variables = True
        if isinstance(forward, Merged):
            flag = forward.get("yaml_variables")
            if isinstance(flag, Loc) and is_scalar(flag.node):
                yaml_variables = str(flag.node.value).lower() != "false"
        if yaml_variables:
            upstream = {
                name: tuple(var.passed_down() for var in found)
                for name, found in job.candidates.items()
            }
        files: dict[str, SourceFile] = dict(known or {})
        files.update((file.path, file) for file in pipeline.files)
        child = _load(workspace, targets, files, job.name, upstream, depth + 1)
        if child is None:
            continue
        pipeline.children.append(child)
        pipeline.problems.extend(child.problems)
        pipeline.notices.extend(child.notices)
        pipeline.parents.update(child.parents)
        for file in child.files:
            if all(file.path != seen.path for seen in pipeline.files):
                pipeline.files.append(file)


def _child_targets(
    pipeline: Pipeline, job: Job, include: Entry | None
) -> list[tuple[str, str, int]]:
    """The local files of a ``trigger: include:`` (a string, a list, ``local:``/``file:``
    items); remote, template, project and artifact children are notices."""
    if include is None:
        return []
    node = include.value
    items: list[Any] = list(node.value) if is_seq(node) else [node]
    targets: list[tuple[str, str, int]] = []
    origin = include.file.path
    for item in items:
        line = int(item.start_mark.line) + 1
        if is_scalar(item):
            value = str(item.value)
            if value.startswith(("http://", "https://")):
                _child_not_followed(pipeline, job, origin, line, f"remote {value}")
            else:
                targets.append((value, origin, line))
            continue
        if not is_map(item):
            continue
        entries = mapping_entries(include.file, item)
        local = entries.get("local")
        if local is not None and is_scalar(local.value):
            targets.append((str(local.value.value), origin, line))
            continue
        if "project" not in entries and "file" in entries and is_scalar(entries["file"].value):
            targets.append((str(entries["file"].value.value), origin, line))
            continue
        kinds = [k for k in ("project", "remote", "template", "artifact", "component")
                 if k in entries]
        what = kinds[0] if kinds else "unknown"
        detail = entries[what].value.value if kinds and is_scalar(entries[what].value) else ""
        _child_not_followed(pipeline, job, origin, line, f"{what}: {detail}")
    return targets


def _child_not_followed(pipeline: Pipeline, job: Job, path: str, line: int, what: str) -> None:
    pipeline.notices.append(
        Notice(
            path,
            f"child pipeline of job {job.name} from include {what.rstrip(': ')}: not in this "
            "repository, not followed",
            line,
        )
    )


def _variables_of(
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
        value = _resolve_reference(value, jobs or {}, pipeline, 0)
    if not isinstance(value, Merged):
        return {}
    result: dict[str, Variable] = {}
    for name, entry in value.entries.items():
        node = entry.value
        file = entry.file
        source: Entry | None = None
        if is_seq(node) and node.tag == REFERENCE_TAG and pipeline is not None:
            source = _reference_entry(Loc(file, node), jobs or {}, pipeline)
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


def _reference_entry(
    value: Loc, jobs: dict[str, Merged], pipeline: Pipeline
) -> Entry | None:
    """``!reference [.tpl, variables, KEY]``: the entry it points at."""
    path = [str(n.value) for n in value.node.value if is_scalar(n)]
    if len(path) < 2:
        return None
    holder = _resolve_path(path[:-1], value, jobs, pipeline, 0)
    if isinstance(holder, Merged) and path[-1] in holder.entries:
        return holder.entries[path[-1]]
    line = int(value.node.start_mark.line) + 1
    pipeline.notices.append(
        Notice(value.file.path, f"!reference [{', '.join(path)}] points at nothing", line)
    )
    return None


def _rules_variables(
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
            _variables_of(value, scope, pipeline.notices, pipeline, jobs, True).values()
        )
    return found


def _rule_items(
    rules: Loc, pipeline: Pipeline, jobs: dict[str, Merged], depth: int
) -> Iterator[Loc]:
    node = rules.node
    if not is_seq(node) or depth > MAX_REFERENCE_DEPTH:
        return
    if node.tag == REFERENCE_TAG:
        target = _resolve_reference(rules, jobs, pipeline, depth)
        if isinstance(target, Loc):
            yield from _rule_items(target, pipeline, jobs, depth + 1)
        return
    for item in node.value:
        loc = Loc(rules.file, item)
        if is_seq(item):
            yield from _rule_items(loc, pipeline, jobs, depth + 1)
        else:
            yield loc


def _matrix_variables(parallel: Value | None, notices: list[Notice]) -> list[Variable]:
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


def job_definitions(layers: list[list[Variable]]) -> dict[str, tuple[Variable, ...]]:
    """Every definition of each name, from ``layers`` given lowest precedence first: the
    highest first."""
    by_name: dict[str, list[Variable]] = {}
    for layer in layers:
        for var in layer:
            by_name.setdefault(var.name, []).append(var)
    return {name: tuple(reversed(found)) for name, found in by_name.items()}


def job_candidates(
    definitions: dict[str, tuple[Variable, ...]],
) -> dict[str, tuple[Variable, ...]]:
    """The definitions of each name that may be in effect (``definitions`` highest first):
    down to the first that holds unconditionally (conditional ones above it win when their
    condition holds, so all of them may be in effect; anything below it never is)."""
    result: dict[str, tuple[Variable, ...]] = {}
    for name, found in definitions.items():
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
        result[name] = tuple(chosen)
    return result


def resolve_value(
    var: Variable, candidates: Mapping[str, tuple[Variable, ...]]
) -> str | None:
    """A variable's value as a job sees it: GitLab expands a whole-value ``$OTHER`` /
    ``${OTHER}`` through the job's other variables (never in an ``expand: false``
    definition). Follows the chain through each name's first candidate."""
    seen: set[str] = set()
    value = var.text
    expand = var.expand
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


_VAR_REF = re.compile(r"^\$(?:\{(\w+)\}|(\w+))$")


def _build(pipeline: Pipeline, upstream: dict[str, tuple[Variable, ...]] | None = None) -> None:
    """Resolve every job. A job's variables, lowest precedence first (GitLab's "CI/CD
    variable precedence" and the ``rules:variables`` / ``workflow:rules:variables``
    keyword pages): global (and ``default:``) variables it inherits, ``workflow: rules:``
    variables (they override global ones), the job's own (with ``extends``), its ``rules:``
    and ``parallel: matrix:`` variables (they override the job's), then the trigger
    variables a parent pipeline passes down (the highest)."""
    config = pipeline.config
    notices = pipeline.notices
    global_vars = _variables_of(config.get("variables"), "global", notices, pipeline, {})
    pipeline.global_variables = global_vars
    pipeline.variable_definitions.extend(global_vars.values())
    default = config.get("default")
    default_map = default if isinstance(default, Merged) else Merged()
    default_vars = _variables_of(default_map.get("variables"), "default", notices, pipeline, {})
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
    workflow_vars = _rules_variables(
        workflow.get("rules") if isinstance(workflow, Merged) else None,
        "workflow rules",
        pipeline,
        resolved,
        pipeline.notices,
    )
    pipeline.variable_definitions.extend(workflow_vars)
    passed = [var for found in (upstream or {}).values() for var in reversed(found)]

    for name, merged in resolved.items():
        own = raw_jobs[name]
        job = Job(name, _file_of(own), merged, name.startswith("."))
        job.bridge = merged.get("trigger") is not None
        inherit = merged.get("inherit")
        inherit_default = _inherit(inherit, "default")
        inherit_vars = _inherit(inherit, "variables")
        for section in SCRIPT_KEYS:
            value = merged.get(section)
            if value is None and section != "script" and _allows(inherit_default, section):
                value = default_map.get(section) or config.get(section)
            lines = _script_lines(value, section, resolved, pipeline, 0)
            setattr(job, section, lines)
        inherited = [
            var
            for var in [*global_vars.values(), *default_vars.values(), *workflow_vars]
            if _allows(inherit_vars, var.name)
        ]
        own_vars = _variables_of(merged.get("variables"), "job", notices, pipeline, resolved)
        rules_vars = _rules_variables(
            merged.get("rules"), "rules", pipeline, resolved, pipeline.notices
        )
        matrix_vars = _matrix_variables(merged.get("parallel"), notices)
        job.definitions = job_definitions(
            [inherited, list(own_vars.values()), rules_vars, matrix_vars, passed]
        )
        job.candidates = job_candidates(job.definitions)
        job.variables = {var_name: found[0] for var_name, found in job.candidates.items()}
        for var in _variables_of(own.get("variables"), "job", notices, pipeline, resolved).values():
            pipeline.variable_definitions.append(var)
        pipeline.variable_definitions.extend(
            _rules_variables(own.get("rules"), "rules", pipeline, resolved)
        )
        pipeline.variable_definitions.extend(_matrix_variables(own.get("parallel"), []))
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
    return _resolve_path(path, value, jobs, pipeline, depth)


def _resolve_path(
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
