"""What the replay found, in neutral terms: places of a few kinds, the jobs reaching each, and
the files read. No rule codes: the rules (:mod:`ciswitch.rules`) decide what a kind means.

A place's payload is one of five small classes (a flag on a werf command, a shell or Python
assignment, a ``variables:`` entry, a werf command left with no stages storage, a CI/CD
variable of GitLab's settings), so code that looks at a place narrows it with ``isinstance`` or
``match`` instead of asserting on optional fields.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING

from ciswitch.model import FileKind, NotChecked, Notice
from ciswitch.record import Record, setf
from ciswitch.source import SourceFile

if TYPE_CHECKING:
    from ciswitch.analysis.settings import GitLabSettings
    from ciswitch.analysis.sites import Site
    from ciswitch.gitlab import Pipeline, Variable
    from ciswitch.gitlab_api.values import VariableInfo
    from ciswitch.model import SettingPlace
    from ciswitch.shell import Assignment, FlagUse, WerfCall


class Kind(enum.Enum):
    """What a place is."""

    #: ``--stages-storage :local`` (or ``-s``) on a werf command that takes it
    STORAGE_FLAG = "storage flag"
    #: ``WERF_STAGES_STORAGE=:local`` in shell or Python (export, plain, prefix, env dict)
    STORAGE_ASSIGNMENT = "storage assignment"
    #: ``WERF_STAGES_STORAGE: ":local"`` in ``variables:``
    STORAGE_VARIABLE = "storage variable"
    #: ``:local`` synchronization: a flag, an assignment or a variable
    SYNCHRONIZATION = "synchronization setting"
    #: a werf command that would be left with no stages storage without its ``:local``
    STORAGELESS_CALL = "storage-less call"
    #: ``:local`` stages storage or synchronization in a CI/CD variable of GitLab's settings
    SETTINGS_VARIABLE = "settings variable"


class FlagAt(Record, frozen=True):
    """A flag of a werf command in a site."""

    site: Site
    flag: FlagUse
    call: WerfCall
    #: the script's assignment whose value holds the flag (``ARGS="-s :local"``, then ``werf
    #: build $ARGS``); None: the flag is on the command line or in a CI variable's value
    held: Assignment | None
    #: False when the flag could not be placed at its own characters of the variable's value
    #: (a word quoted so that its characters are not its value): it covers the whole word
    exact: bool

    def __init__(self, site: Site, flag: FlagUse, call: WerfCall,
                 held: Assignment | None = None, exact: bool = True) -> None:
        setf(self, "site", site)
        setf(self, "flag", flag)
        setf(self, "call", call)
        setf(self, "held", held)
        setf(self, "exact", exact)


class AssignmentAt(Record, frozen=True):
    """An assignment (``export``, plain, command prefix, Python ``env``/``os.environ``)."""

    site: Site
    assignment: Assignment

    def __init__(self, site: Site, assignment: Assignment) -> None:
        setf(self, "site", site)
        setf(self, "assignment", assignment)


class VariableEntry(Record, frozen=True):
    """A ``variables:`` entry of the CI configuration."""

    variable: Variable

    def __init__(self, variable: Variable) -> None:
        setf(self, "variable", variable)


class CallAt(Record, frozen=True):
    """A werf command as a whole."""

    site: Site
    call: WerfCall

    def __init__(self, site: Site, call: WerfCall) -> None:
        setf(self, "site", site)
        setf(self, "call", call)


class SettingAt(Record, frozen=True):
    """A CI/CD variable of GitLab's settings (its place is logical: no file, no line)."""

    variable: VariableInfo
    where: SettingPlace

    def __init__(self, variable: VariableInfo, where: SettingPlace) -> None:
        setf(self, "variable", variable)
        setf(self, "where", where)


Payload = FlagAt | AssignmentAt | VariableEntry | CallAt | SettingAt


class Reach(Record, frozen=True):
    """Who runs a site: a job, a hidden template, or nobody in particular (an empty name: a
    text no job runs, or a script linted on its own)."""

    name: str
    hidden: bool

    def __init__(self, name: str, hidden: bool) -> None:
        setf(self, "name", name)
        setf(self, "hidden", hidden)


#: the jobs of a place that no job reached yet
_NO_JOBS: tuple[str, ...] = ()
#: up to this many names a place keeps them in a tuple (most places are reached by one job,
#: and tens of thousands of places on a big file each had four sets of 216 bytes and more)
_FEW_JOBS = 8


def _with(names: Collection[str], name: str) -> Collection[str]:
    """``names`` with ``name`` added: a short tuple, then a set of the place's own."""
    if isinstance(names, set):
        names.add(name)
        return names
    if name in names:
        return names
    if len(names) < _FEW_JOBS:
        return (*names, name)
    return {*names, name}


class Place(Record):
    """One source place the replay found."""

    kind: Kind
    file: SourceFile
    start: int  # file offsets of the place itself (for the report)
    end: int
    what: Payload
    #: jobs (real ones) reaching the place, and hidden templates reaching it
    jobs: Collection[str]
    hidden_jobs: Collection[str]
    #: jobs where this place feeds a werf command that would have no storage without it
    blocked_jobs: Collection[str]
    hidden_blocked: Collection[str]
    #: what the value was when reached through a variable, for the message
    via: str | None

    def __init__(self, kind: Kind, file: SourceFile, start: int, end: int, what: Payload,
                 jobs: Collection[str] = _NO_JOBS, hidden_jobs: Collection[str] = _NO_JOBS,
                 blocked_jobs: Collection[str] = _NO_JOBS,
                 hidden_blocked: Collection[str] = _NO_JOBS, via: str | None = None) -> None:
        self.kind = kind
        self.file = file
        self.start = start
        self.end = end
        self.what = what
        self.jobs = jobs
        self.hidden_jobs = hidden_jobs
        self.blocked_jobs = blocked_jobs
        self.hidden_blocked = hidden_blocked
        self.via = via

    def add_job(self, job: Reach) -> None:
        if job.name:
            if job.hidden:
                self.hidden_jobs = _with(self.hidden_jobs, job.name)
            else:
                self.jobs = _with(self.jobs, job.name)

    def block(self, job: Reach) -> None:
        if job.name:
            if job.hidden:
                self.hidden_blocked = _with(self.hidden_blocked, job.name)
            else:
                self.blocked_jobs = _with(self.blocked_jobs, job.name)

    def forget_hidden(self, name: str) -> None:
        """Drop a hidden job from the ones reaching the place."""
        if name in self.hidden_jobs:
            self.hidden_jobs = tuple(n for n in self.hidden_jobs if n != name)

    @property
    def affected_jobs(self) -> tuple[str, ...]:
        """The real jobs that run the place (reached through ``extends``, ``!reference``,
        ``<<:`` or an anchor); a hidden template is never named as a job."""
        return tuple(sorted(self.jobs))

    @property
    def only_templates(self) -> bool:
        """Whether only hidden templates hold the place: no job runs it."""
        return not self.jobs and bool(self.hidden_jobs)

    @property
    def blocked(self) -> tuple[str, ...]:
        return tuple(sorted(self.blocked_jobs if self.jobs else self.hidden_blocked))


class FilesRead:
    """Every file a run read, once: the pipeline's YAML files in include order, then the
    script files jobs run (each with the kind that says how a fix of it is verified)."""

    def __init__(self, yaml_files: list[SourceFile] | None = None) -> None:
        self._yaml: list[SourceFile] = list(yaml_files or ())
        self._yaml_by_path = {file.path: file for file in self._yaml}
        self._scripts: dict[str, tuple[SourceFile, FileKind]] = {}

    def add_script(self, file: SourceFile, kind: FileKind) -> None:
        self._scripts[file.path] = (file, kind)

    def script(self, path: str) -> SourceFile | None:
        found = self._scripts.get(path)
        return None if found is None else found[0]

    def is_script(self, path: str) -> bool:
        return path in self._scripts

    def __getitem__(self, path: str) -> SourceFile:
        found = self._scripts.get(path)
        return found[0] if found is not None else self._yaml_by_path[path]

    def __contains__(self, path: object) -> bool:
        return path in self._scripts or path in self._yaml_by_path

    def kind_of(self, path: str) -> FileKind:
        found = self._scripts.get(path)
        return found[1] if found is not None else FileKind.YAML

    def texts(self) -> dict[str, str]:
        """Every file's text by path (suppression comments are read from them)."""
        texts = {file.path: file.text for file in self._yaml}
        texts.update((path, file.text) for path, (file, _) in self._scripts.items())
        return texts

    def paths(self) -> list[str]:
        """The report's order: YAML files as included, then script files sorted."""
        return [file.path for file in self._yaml] + sorted(self._scripts)


class Facts(Record, unshown=('_not_checked_seen',)):
    """Everything the rules look at."""

    pipeline: Pipeline | None
    places: dict[tuple[Kind, str, int, int], Place]
    #: the project is marked as switched (``.ciswitch.toml``): :local now breaks CI
    switched: bool
    #: jobs that use werf 1.1 stages storage at all (a flag or WERF_STAGES_STORAGE in effect)
    storage_jobs: set[str]
    sites: dict[tuple[str, int], Site]
    #: jobs that show werf 1.2 (WERF_REPO, --repo, converge, trdl/multiwerf 1.2)
    v12_jobs: set[str]
    #: sites parsed for werf calls that at least one real (not hidden) job runs
    real_sites: set[tuple[str, int]]
    #: every file read (the pipeline's and the scripts jobs run)
    files: FilesRead
    #: notes for ``-v`` that are not about coverage
    notices: list[Notice]
    #: what the jobs run that this analysis could not read or follow (``make``, missing or
    #: unreadable scripts, computed paths), each place once
    not_checked: list[NotChecked]
    #: the CI/CD variables GitLab keeps for the project (None: not read)
    settings: GitLabSettings | None
    #: the jobs (by identity) of child pipelines: a schedule's variables do not reach them,
    #: and their trigger variables win over the settings
    child_jobs: set[int]

    def add_not_checked(self, entry: NotChecked) -> None:
        if entry not in self._not_checked_seen:
            self._not_checked_seen.add(entry)
            self.not_checked.append(entry)

    _not_checked_seen: set[NotChecked]

    def __init__(self, pipeline: Pipeline | None,
                 places: dict[tuple[Kind, str, int, int], Place] | None = None,
                 switched: bool = False, storage_jobs: set[str] | None = None,
                 sites: dict[tuple[str, int], Site] | None = None,
                 v12_jobs: set[str] | None = None,
                 real_sites: set[tuple[str, int]] | None = None,
                 files: FilesRead | None = None, notices: list[Notice] | None = None,
                 not_checked: list[NotChecked] | None = None,
                 settings: GitLabSettings | None = None,
                 child_jobs: set[int] | None = None,
                 _not_checked_seen: set[NotChecked] | None = None) -> None:
        self.pipeline = pipeline
        self.places = {} if places is None else places
        self.switched = switched
        self.storage_jobs = set() if storage_jobs is None else storage_jobs
        self.sites = {} if sites is None else sites
        self.v12_jobs = set() if v12_jobs is None else v12_jobs
        self.real_sites = set() if real_sites is None else real_sites
        self.files = FilesRead() if files is None else files
        self.notices = [] if notices is None else notices
        self.not_checked = [] if not_checked is None else not_checked
        self.settings = settings
        self.child_jobs = set() if child_jobs is None else child_jobs
        self._not_checked_seen = set() if _not_checked_seen is None else _not_checked_seen

    def place(
        self, kind: Kind, file: SourceFile, start: int, end: int, what: Payload
    ) -> Place:
        key = (kind, file.path, start, end)
        found = self.places.get(key)
        if found is None:
            found = Place(kind, file, start, end, what)
            self.places[key] = found
        return found

    def of_kinds(self, kinds: Collection[Kind]) -> Iterator[Place]:
        for place in self.places.values():
            if place.kind in kinds:
                yield place
