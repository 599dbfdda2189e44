"""The values of the CI model: merged mappings, script lines, variable definitions, jobs and
pipelines (see :mod:`ciswitch.gitlab`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ruamel.yaml.nodes import MappingNode

from ciswitch.model import NotChecked, Notice, Problem
from ciswitch.record import Record, setf
from ciswitch.source import SourceFile
from ciswitch.yaml.nodes import Entry, Loc, is_null, is_scalar, mapping_entries

MAX_REFERENCE_DEPTH = 10


class Merged(Record):
    """A mapping assembled from one or more YAML mappings (includes, extends, merges)."""

    entries: dict[str, Entry]
    children: dict[str, Merged]

    def __init__(self, entries: dict[str, Entry] | None = None,
                 children: dict[str, Merged] | None = None) -> None:
        self.entries = {} if entries is None else entries
        self.children = {} if children is None else children

    def get(self, key: str) -> Value | None:
        child = self.children.get(key)
        if child is not None:
            return child
        entry = self.entries.get(key)
        return None if entry is None else Loc(entry.file, entry.value)

    def names(self) -> list[str]:
        return list(dict.fromkeys([*self.entries, *self.children]))


Value = Merged | Loc


def to_merged(
    file: SourceFile,
    node: Any,
    notices: list[Notice],
    parents: dict[int, Entry] | None = None,
    shared: dict[int, Merged] | None = None,
) -> Merged:
    """Turn a YAML mapping (with ``<<:`` resolved) into a :class:`Merged` tree.

    ``parents`` collects, for every mapping node, the entry that holds it (keyed by identity),
    so that a fix emptying a mapping can remove its key too. ``shared`` keeps, by identity,
    the trees of the mappings that come through a ``<<:`` merge (the same nodes in every job
    merging one anchor), so each is made once; like every merged tree, they are never changed
    afterwards. A reading that said something is not kept: it says it again."""
    # mapping_entries gives a dict of its own: it is the entries, not copied
    merged = Merged(mapping_entries(file, node, notices))
    for name, entry in merged.entries.items():
        value = entry.value
        if type(value) is MappingNode:
            if parents is not None:
                parents.setdefault(id(value), entry)
            if shared is None or entry.owner is node:
                merged.children[name] = to_merged(file, value, notices, parents, shared)
                continue
            child = shared.get(id(value))
            if child is None:
                said = len(notices)
                child = to_merged(file, value, notices, parents, shared)
                if len(notices) == said:
                    shared[id(value)] = child
            merged.children[name] = child
    return merged


def deep_merge(base: Merged, over: Merged) -> Merged:
    """GitLab's deep merge: mappings merge key by key, anything else is replaced.

    The result is never changed afterwards (only :func:`merge_into`'s own top level is), so
    merging with an empty mapping gives the other one itself rather than a copy: most jobs
    of a big file would otherwise carry a copy of their own mapping."""
    if not over.entries and not over.children:
        return base
    if not base.entries and not base.children:
        return over
    result = Merged(dict(base.entries), dict(base.children))
    merge_into(result, over)
    return result


def merge_into(result: Merged, over: Merged) -> None:
    """:func:`deep_merge` of ``over`` into ``result`` itself, which must be a tree the caller
    owns at its top level (the nested mappings are merged into copies, never changed): many
    includes merged one after the other into one configuration then cost their own size, not
    the size of what came before."""
    for name in over.names():
        if name in over.children and name in result.children:
            result.children[name] = deep_merge(result.children[name], over.children[name])
        elif name in over.children:
            result.children[name] = over.children[name]
        else:
            result.children.pop(name, None)
        if name in over.entries:
            result.entries[name] = over.entries[name]


class ScriptLine(Record, frozen=True):
    """One script item a job runs, with the section it runs in."""

    loc: Loc
    section: str  # before_script | script | after_script
    #: the sequence node holding this item (None for a bare string script)
    parent: Any

    def __init__(self, loc: Loc, section: str, parent: Any = None) -> None:
        setf(self, "loc", loc)
        setf(self, "section", section)
        setf(self, "parent", parent)


class Variable(Record, frozen=True, cached=('_text',)):
    """A CI variable definition: the entry (for removal) and the scalar holding its value."""

    name: str
    entry: Entry
    value: Loc | None  # the value scalar (plain value or the ``value:`` of the long form)
    #: where it is defined, in GitLab's words: "global", "default", "workflow rules", "job",
    #: "rules", "matrix", or "trigger" (passed down by the trigger job of a child pipeline)
    scope: str
    #: ``expand: false`` in the long form: GitLab does not expand ``$OTHER`` in the value
    expand: bool
    #: in effect only when a condition holds (a ``rules:`` entry matches, one ``parallel:
    #: matrix:`` combination): a lower definition of the same name may be in effect instead
    conditional: bool
    #: the entry a ``!reference [.tpl, variables, KEY]`` value points at (the value's home)
    source: Entry | None
    #: :attr:`text` once worked out (each job reads the values of all its variables)
    _text: str | None

    def __init__(self, name: str, entry: Entry, value: Loc | None, scope: str,
                 expand: bool = True, conditional: bool = False,
                 source: Entry | None = None) -> None:
        setf(self, "name", name)
        setf(self, "entry", entry)
        setf(self, "value", value)
        setf(self, "scope", scope)
        setf(self, "expand", expand)
        setf(self, "conditional", conditional)
        setf(self, "source", source)

    @property
    def text(self) -> str | None:
        """The value's text: None for no value, a collection or a null."""
        try:
            return self._text
        except AttributeError:
            value = self.value
            text = None
            if value is not None and is_scalar(value.node) and not is_null(value.node):
                text = str(value.node.value)
            setf(self, "_text", text)
            return text

    def passed_down(self) -> Variable:
        """The same definition as a child pipeline's jobs see it: a trigger variable."""
        return Variable(
            self.name, self.entry, self.value, "trigger", self.expand, self.conditional, self.source
        )


class Job(Record):
    """A job (or hidden template) with its effective configuration after all merging."""

    name: str
    file: SourceFile
    config: Merged
    hidden: bool
    before_script: list[ScriptLine]
    script: list[ScriptLine]
    after_script: list[ScriptLine]
    #: the value of every variable when every condition holds (the highest definition)
    variables: dict[str, Variable]
    #: every definition that may be in effect, the highest first, down to the first one that
    #: holds unconditionally (see :func:`job_candidates`)
    candidates: dict[str, tuple[Variable, ...]]
    #: every definition of each name the job has, the highest first (what is left in effect
    #: once the higher ones are removed)
    definitions: dict[str, tuple[Variable, ...]]
    #: a trigger job (``trigger:``): it runs no script, its variables go to the child pipeline
    bridge: bool

    def __init__(self, name: str, file: SourceFile, config: Merged, hidden: bool,
                 before_script: list[ScriptLine] | None = None,
                 script: list[ScriptLine] | None = None,
                 after_script: list[ScriptLine] | None = None,
                 variables: dict[str, Variable] | None = None,
                 candidates: dict[str, tuple[Variable, ...]] | None = None,
                 definitions: dict[str, tuple[Variable, ...]] | None = None,
                 bridge: bool = False) -> None:
        self.name = name
        self.file = file
        self.config = config
        self.hidden = hidden
        self.before_script = [] if before_script is None else before_script
        self.script = [] if script is None else script
        self.after_script = [] if after_script is None else after_script
        self.variables = {} if variables is None else variables
        self.candidates = {} if candidates is None else candidates
        self.definitions = {} if definitions is None else definitions
        self.bridge = bridge


class Pipeline(Record, unshown=('memo',), uncompared=('memo',)):
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
    parents: dict[int, Entry]
    #: what the pipeline takes from outside the repository (includes, child pipelines)
    not_checked: list[NotChecked]
    #: the child pipelines of ``trigger: include:`` jobs with local files
    children: list[Pipeline]
    #: the trigger job (its label) whose child this pipeline is; None for the main pipeline
    parent_job: str | None
    #: what the analysis computes once per pipeline and asks for many times (by a name of
    #: its own module); the pipeline's files do not change once it is loaded
    memo: dict[str, Any]

    def __init__(self, files: list[SourceFile], config: Merged, jobs: dict[str, Job],
                 global_variables: dict[str, Variable], problems: list[Problem],
                 notices: list[Notice], variable_definitions: list[Variable],
                 parents: dict[int, Entry] | None = None,
                 not_checked: list[NotChecked] | None = None,
                 children: list[Pipeline] | None = None, parent_job: str | None = None,
                 memo: dict[str, Any] | None = None) -> None:
        self.files = files
        self.config = config
        self.jobs = jobs
        self.global_variables = global_variables
        self.problems = problems
        self.notices = notices
        self.variable_definitions = variable_definitions
        self.parents = {} if parents is None else parents
        self.not_checked = [] if not_checked is None else not_checked
        self.children = [] if children is None else children
        self.parent_job = parent_job
        self.memo = {} if memo is None else memo

    def with_children(self) -> Iterator[Pipeline]:
        """This pipeline and its child pipelines, depth first."""
        yield self
        for child in self.children:
            yield from child.with_children()
