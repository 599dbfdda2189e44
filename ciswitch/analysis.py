"""From the CI model to facts: which places set ``:local``, which jobs reach them, and which
werf commands would be left with no stages storage at all.

The walk follows what a GitLab runner does: for each job, ``before_script`` and ``script`` run
in one shell (so ``export`` and ``werf ci-env`` carry over), ``after_script`` in another; the
job's effective ``variables`` are the starting environment. Every shell text (a YAML scalar, or
a whole script file) is a :class:`ShellSite`, analysed once however many jobs run it, and every
place is keyed by identity so a flag inside an anchor used by three jobs is one place with three
jobs.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ciswitch.gitlab import SCRIPT_KEYS, Job, Pipeline, ScriptLine, Variable
from ciswitch.model import Notice
from ciswitch.source import SourceFile
from ciswitch.yaml.nodes import MERGE_TAG, is_map, is_scalar, is_seq

if TYPE_CHECKING:
    from ciswitch.scripts.runs import NotFollowed, ScriptRun
    from ciswitch.shell import Assignment, FlagUse, ShellAnalysis, WerfCall, Word
    from ciswitch.workspace import Workspace

STAGES_VAR = "WERF_STAGES_STORAGE"
SYNC_VAR = "WERF_SYNCHRONIZATION"
LOCAL = ":local"
_VAR_REF = re.compile(r"^\$(?:\{(\w+)\}|(\w+))$")
_WERF_1_2 = re.compile(r"trdl use werf|multiwerf use 1\.2|werf converge|--repo[ =]|WERF_REPO=")


class ShellSite:
    """A stretch of shell: a YAML scalar's value, or a whole script file."""

    def __init__(self, file: SourceFile, node: Any | None, text: str) -> None:
        self.file = file
        self.node = node
        self.text = text
        self._analysis: ShellAnalysis | None = None
        #: the YAML sequence holding this scalar as an item, when it is one
        self.parent: Any = None
        #: where each value character comes from in the file: start and end offsets, kept as
        #: two compact integer arrays (a list of tuples costs ~9x the memory)
        self._starts: array[int] | None = None
        self._ends: array[int] | None = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.file.path, -1 if self.node is None else id(self.node))

    @property
    def worth_parsing(self) -> bool:
        """Only texts that mention werf, its variables or ``:local`` are parsed at all."""
        text = self.text
        return "werf" in text or "WERF_" in text or LOCAL in text

    @property
    def analysis(self) -> ShellAnalysis:
        if self._analysis is None:
            from ciswitch.shell import analyse

            self._analysis = analyse(self.text)
        return self._analysis

    def to_file(self, start: int, end: int) -> tuple[int, int]:
        """Map a range of the shell text to a range of the file text.

        Raises ``ciswitch.yaml.spans.SpanError`` when the scalar cannot be mapped (callers
        then offer no fix for the place).
        """
        if self.node is None:
            return start, end
        if self._starts is None or self._ends is None:
            from ciswitch.yaml.spans import value_extents

            extents = value_extents(self.file.text, self.node)
            self._starts = array("q", (s for s, _ in extents))
            self._ends = array("q", (e for _, e in extents))
        starts, ends = self._starts, self._ends
        if start == end:
            if start < len(starts):
                pos = starts[start]
            else:
                pos = ends[-1] if ends else int(self.node.start_mark.index)
            return pos, pos
        if not 0 <= start < end <= len(starts):
            raise ValueError(f"value range {start}..{end} is empty or outside 0..{len(starts)}")
        return starts[start], ends[end - 1]

    def scalar_style(self) -> str | None:
        return None if self.node is None else self.node.style


@dataclass
class Place:
    """One source place that sets ``:local`` (or, for CSW004, one werf command)."""

    code: str
    file: SourceFile
    start: int  # file offsets of the place itself (for the report)
    end: int
    site: ShellSite | None = None
    flag: FlagUse | None = None
    assignment: Assignment | None = None
    call: WerfCall | None = None
    variable: Variable | None = None
    #: jobs (real ones) reaching the place, and hidden templates reaching it
    jobs: set[str] = field(default_factory=set)
    hidden_jobs: set[str] = field(default_factory=set)
    #: jobs where this place feeds a werf command that would have no storage without it
    blocked_jobs: set[str] = field(default_factory=set)
    hidden_blocked: set[str] = field(default_factory=set)
    #: what the value was when reached through a variable, for the message
    via: str | None = None

    def add_job(self, job: Job) -> None:
        if job.name:
            (self.hidden_jobs if job.hidden else self.jobs).add(job.name)

    def block(self, job: Job) -> None:
        if job.name:
            (self.hidden_blocked if job.hidden else self.blocked_jobs).add(job.name)

    @property
    def affected_jobs(self) -> tuple[str, ...]:
        """Real jobs when any reach the place, else the templates that hold it."""
        return tuple(sorted(self.jobs or self.hidden_jobs))

    @property
    def blocked(self) -> tuple[str, ...]:
        return tuple(sorted(self.blocked_jobs if self.jobs else self.hidden_blocked))


@dataclass
class Facts:
    """Everything the rules look at."""

    pipeline: Pipeline | None
    places: dict[tuple[str, str, int, int], Place] = field(default_factory=dict)
    #: the project is marked as switched (``.ciswitch.toml``): :local now breaks CI
    switched: bool = False
    #: jobs that use werf 1.1 stages storage at all (a flag or WERF_STAGES_STORAGE in effect)
    storage_jobs: set[str] = field(default_factory=set)
    sites: dict[tuple[str, int], ShellSite] = field(default_factory=dict)
    #: jobs that show werf 1.2 (WERF_REPO, --repo, converge, trdl/multiwerf 1.2)
    v12_jobs: set[str] = field(default_factory=set)
    #: sites that at least one real (not hidden) job runs
    real_sites: set[tuple[str, int]] = field(default_factory=set)
    #: script files (shell, Python) that jobs run, by repository path
    script_files: dict[str, SourceFile] = field(default_factory=dict)
    #: commands that run files this analysis does not follow (``make``, missing files)
    notices: list[Notice] = field(default_factory=list)

    def place(self, code: str, file: SourceFile, start: int, end: int, **kw: Any) -> Place:
        key = (code, file.path, start, end)
        found = self.places.get(key)
        if found is None:
            found = Place(code, file, start, end, **kw)
            self.places[key] = found
        return found

    def of_code(self, code: str) -> Iterator[Place]:
        for place in self.places.values():
            if place.code == code:
                yield place


@dataclass(slots=True)
class _Setting:
    """A variable's value in a shell session and where it was set."""

    value: str | None
    variable: Variable | None = None
    site: ShellSite | None = None
    assignment: Assignment | None = None


class _Session:
    """The state of one shell session of a job."""

    def __init__(self, env: dict[str, _Setting]) -> None:
        self.env = dict(env)
        self.ci_env = False

    def resolve(self, word: Word) -> tuple[str | None, _Setting | None]:
        if word.value is not None:
            return word.value, None
        if word.var is not None:
            setting = self.env.get(word.var)
            if setting is not None:
                return setting.value, setting
        return None, None


def _resolve_variable_value(value: str | None, variables: dict[str, Variable]) -> str | None:
    """GitLab expands ``$OTHER`` in variable values: follow one plain reference chain."""
    seen: set[str] = set()
    while value is not None:
        match = _VAR_REF.match(value)
        if not match:
            return value
        name = match.group(1) or match.group(2)
        if name in seen or name not in variables:
            return value
        seen.add(name)
        value = variables[name].text
    return value


class Analyzer:
    """Walks jobs and shell sites and fills :class:`Facts`."""

    def __init__(self, facts: Facts, workspace: Workspace | None = None) -> None:
        self.facts = facts
        #: where script files that jobs run are read from (None: scripts are not followed)
        self.workspace = workspace
        self._running: set[str] = set()
        #: script runs per site: a site shared by many jobs is looked into once
        self._runs: dict[tuple[str, int], list[ScriptRun]] = {}
        self._runs_by_text: dict[str, tuple[list[ScriptRun], list[NotFollowed]]] = {}
        self._noticed: set[Notice] = set()

    def site_for(self, file: SourceFile, node: Any | None, text: str) -> ShellSite:
        key = (file.path, -1 if node is None else id(node))
        site = self.facts.sites.get(key)
        if site is None:
            site = ShellSite(file, node, text)
            self.facts.sites[key] = site
        return site

    # -- variables: entries -------------------------------------------------------------
    def variable_places(self, pipeline: Pipeline) -> None:
        for var in pipeline.variable_definitions:
            if var.name not in (STAGES_VAR, SYNC_VAR):
                continue
            value = _resolve_variable_value(var.text, pipeline.global_variables)
            if value != LOCAL:
                continue
            code = "CSW002" if var.name == STAGES_VAR else "CSW003"
            entry = var.entry
            start = int(entry.key.start_mark.index)
            end = int(entry.value.end_mark.index)
            place = self.facts.place(code, entry.file, start, end, variable=var)
            if var.text != value:
                place.via = var.text
        # Index the places by their entry: jobs x variables x places is quadratic in big files.
        by_entry: dict[int, list[Place]] = {}
        for place in self.facts.places.values():
            if place.variable is not None:
                by_entry.setdefault(id(place.variable.entry), []).append(place)
        if not by_entry:
            return
        for job in pipeline.jobs.values():
            for var in job.variables.values():
                for place in by_entry.get(id(var.entry), ()):
                    place.add_job(job)

    # -- jobs -------------------------------------------------------------------------------
    def job(self, job: Job) -> None:
        env: dict[str, _Setting] = {}
        for name, var in job.variables.items():
            value = _resolve_variable_value(var.text, job.variables)
            env[name] = _Setting(value, variable=var)
        if STAGES_VAR in env:
            self.facts.storage_jobs.add(job.name)
        if "WERF_REPO" in env:
            self.facts.v12_jobs.add(job.name)
        for lines in ([*job.before_script, *job.script], job.after_script):
            session = _Session(env)
            for line in lines:
                self._line(job, session, line)

    def _line(self, job: Job, session: _Session, line: ScriptLine) -> None:
        node = line.loc.node
        site = self.site_for(line.loc.file, node, str(node.value))
        if line.parent is not None:
            site.parent = line.parent
        self.run_site(job, session, site)

    def run_site(self, job: Job, session: _Session, site: ShellSite) -> None:
        """Play one shell text in a session: assignments, ``werf ci-env``, werf commands."""
        if job.name and not job.hidden:
            self.facts.real_sites.add(site.key)
        runs = self._script_runs(site)
        if not site.worth_parsing and not runs:
            return
        if _WERF_1_2.search(site.text):
            self.facts.v12_jobs.add(job.name)
        events: list[tuple[int, int, Any]] = [(run.start, 2, run) for run in runs]
        if site.worth_parsing:
            analysis = site.analysis
            for assignment in analysis.assignments:
                events.append((assignment.start, 0, assignment))
            for call in analysis.werf_calls:
                events.append((call.start, 1, call))
        events.sort(key=lambda e: (e[0], e[1]))
        for _, kind, obj in events:
            if kind == 0:
                self._assignment(job, session, site, obj)
            elif kind == 1:
                self._call(job, session, site, obj)
            else:
                self.run_script(job, session, obj)

    # -- script files a job runs --------------------------------------------------------------
    def _script_runs(self, site: ShellSite) -> list[ScriptRun]:
        """The repository files a site executes or sources (none for Python sites)."""
        if self.workspace is None or getattr(site, "is_python", False):
            return []
        known = self._runs.get(site.key)
        if known is not None:
            return known
        from ciswitch.scripts.runs import script_runs

        # The same line text recurs in many jobs (as distinct nodes): look it up once.
        found = self._runs_by_text.get(site.text)
        if found is None:
            found = script_runs(site.text, self.workspace)
            self._runs_by_text[site.text] = found
        runs, skipped = found
        self._runs[site.key] = runs
        for item in skipped:
            fstart, _ = _safe_map(site, item.start, item.start)
            notice = Notice(site.file.path, item.message, site.file.position(fstart).line)
            if notice not in self._noticed:
                self._noticed.add(notice)
                self.facts.notices.append(notice)
        return runs

    def script_file(self, path: str) -> SourceFile | None:
        """Read a script file once; a file that cannot be read becomes a notice."""
        found = self.facts.script_files.get(path)
        if found is None and self.workspace is not None:
            from ciswitch.errors import CiswitchError
            from ciswitch.source import read_source

            try:
                found = read_source(self.workspace, path)
            except CiswitchError as err:
                self.facts.notices.append(Notice(path, f"not followed: {err.message}"))
                return None
            self.facts.script_files[path] = found
        return found

    def run_script(self, job: Job, session: _Session, run: ScriptRun) -> None:
        """Play a script file in the job's session (sourced files share it; executed ones
        inherit its exports, which for werf's settings amounts to the same)."""
        if run.path in self._running:
            return  # a script that runs itself again: once is enough
        file = self.script_file(run.path)
        if file is None:
            return
        key = (file.path, -1)
        site = self.facts.sites.get(key)
        if site is None:
            if run.kind == "python":
                from ciswitch.scripts.python import PythonSite

                site = PythonSite(file)
            else:
                site = ShellSite(file, None, file.text)
            self.facts.sites[key] = site
        self._running.add(run.path)
        try:
            self.run_site(job, session, site)
        finally:
            self._running.discard(run.path)

    def _assignment(
        self, job: Job, session: _Session, site: ShellSite, assignment: Assignment
    ) -> None:
        if assignment.value is None:
            return
        value, _ = session.resolve(assignment.value)
        session.env[assignment.name] = _Setting(value, site=site, assignment=assignment)
        if assignment.name == STAGES_VAR:
            self.facts.storage_jobs.add(job.name)
        if assignment.name in (STAGES_VAR, SYNC_VAR) and value == LOCAL:
            code = "CSW002" if assignment.name == STAGES_VAR else "CSW003"
            place = self._shell_place(
                code, site, assignment.start, assignment.end, assignment=assignment
            )
            place.add_job(job)

    def _shell_place(self, code: str, site: ShellSite, start: int, end: int, **kw: Any) -> Place:
        fstart, fend = _safe_map(site, start, end)
        return self.facts.place(code, site.file, fstart, fend, site=site, **kw)

    def _call(self, job: Job, session: _Session, site: ShellSite, call: WerfCall) -> None:
        if call.is_ci_env:
            session.ci_env = True
            if STAGES_VAR not in session.env:
                session.env[STAGES_VAR] = _Setting("$CI_REGISTRY_IMAGE/stages")
            return
        feeding: list[Place] = []
        storage: str | None = None
        storage_flag = False
        for flag in call.flags:
            value, setting = session.resolve(flag.value)
            if flag.name == "stages-storage":
                self.facts.storage_jobs.add(job.name)
                storage_flag = True
                storage = value
                if value == LOCAL and (call.takes_stages_storage or flag.spelling.startswith("--")):
                    place = self._shell_place(
                        "CSW001", site, flag.start, flag.end, flag=flag, call=call
                    )
                    place.add_job(job)
                    if setting is not None and flag.value.value is None:
                        place.via = f"${flag.value.var}"
                    feeding.append(place)
            elif flag.name == "synchronization" and value == LOCAL:
                place = self._shell_place(
                    "CSW003", site, flag.start, flag.end, flag=flag, call=call
                )
                place.add_job(job)
        prefix_env = dict(session.env)
        for prefix in call.prefixes:
            if prefix.value is None:
                continue
            value, _ = session.resolve(prefix.value)
            prefix_env[prefix.name] = _Setting(value, site=site, assignment=prefix)
            if prefix.name == STAGES_VAR:
                self.facts.storage_jobs.add(job.name)
            if prefix.name in (STAGES_VAR, SYNC_VAR) and value == LOCAL:
                code = "CSW002" if prefix.name == STAGES_VAR else "CSW003"
                place = self._shell_place(code, site, prefix.start, prefix.end, assignment=prefix)
                place.add_job(job)
                if prefix.name == STAGES_VAR:
                    feeding.append(place)
        if not call.takes_stages_storage:
            return
        env_setting = prefix_env.get(STAGES_VAR)
        if env_setting is not None and env_setting.value == LOCAL:
            env_place = self._setting_place(env_setting)
            if env_place is not None and env_place not in feeding:
                feeding.append(env_place)
            if not storage_flag:
                storage = LOCAL
        elif not storage_flag and env_setting is not None:
            storage = env_setting.value
        if storage != LOCAL:
            return
        # Without its :local settings, would this command still have a storage?
        alternative = session.ci_env
        if not alternative:
            if job.hidden and site.key in self.facts.real_sites:
                return  # real jobs run this line; a template's own view does not count
            werf_call_place = self._shell_place(
                "CSW004", site, call.start, call.start + 4, call=call
            )
            werf_call_place.add_job(job)
            for place in feeding:
                place.block(job)

    def _setting_place(self, setting: _Setting) -> Place | None:
        """The place (already recorded) where a :local setting came from."""
        if setting.variable is not None:
            for place in self.facts.places.values():
                if place.variable is not None and place.variable.entry is setting.variable.entry:
                    return place
            return None
        if setting.site is not None and setting.assignment is not None:
            start, end = _safe_map(setting.site, setting.assignment.start, setting.assignment.end)
            return self.facts.places.get(("CSW002", setting.site.file.path, start, end))
        return None

    # -- sites no job reaches -----------------------------------------------------------
    def orphans(self, pipeline: Pipeline, visited: set[tuple[str, int]]) -> None:
        """Script-like scalars no job runs (templates never used, files linted alone): analyse
        them on their own so that no werf invocation goes unseen."""
        orphan = Job("", pipeline.files[0] if pipeline.files else None, None, True)  # type: ignore[arg-type]
        for file in pipeline.files:
            for doc in file.yaml_documents():
                for node in _orphan_candidates(doc, pipeline.jobs):
                    if (file.path, id(node)) in visited:
                        continue
                    site = self.site_for(file, node, str(node.value))
                    self.run_site(orphan, _Session({}), site)


def _safe_map(site: ShellSite, start: int, end: int) -> tuple[int, int]:
    from ciswitch.yaml.spans import SpanError

    try:
        return site.to_file(start, end)
    except SpanError:
        base = 0 if site.node is None else int(site.node.start_mark.index)
        return base, base


def _orphan_candidates(doc: Any, jobs: dict[str, Job]) -> Iterator[Any]:
    """Script scalars of a document outside the jobs: a job's own script lines were played
    with the job (and a definition another file overrides never runs), so only the other
    top-level keys (``default:``, hidden lists of commands, anchors) are walked."""
    if not is_map(doc):
        return
    for key, value in _latest_entries(doc):
        name = str(key.value) if is_scalar(key) else ""
        if name in jobs and is_map(value):
            continue
        script = name in SCRIPT_KEYS or name.startswith(".")
        yield from _script_scalars(value, in_script=script)


def _latest_entries(node: Any) -> list[tuple[Any, Any]]:
    """A mapping's entries, the last one winning for duplicate keys (as in GitLab: a
    shadowed value is never run); merge keys are all kept."""
    latest: dict[object, tuple[Any, Any]] = {}
    for key, value in node.value:
        plain = is_scalar(key) and key.tag != MERGE_TAG
        latest[str(key.value) if plain else id(key)] = (key, value)
    return list(latest.values())


def _script_scalars(node: Any, in_script: bool = False) -> Iterator[Any]:
    if is_scalar(node):
        if in_script:
            yield node
        return
    if is_seq(node):
        for item in node.value:
            yield from _script_scalars(item, in_script=in_script)
        return
    if is_map(node):
        for key, value in _latest_entries(node):
            name = str(key.value) if is_scalar(key) else ""
            script = in_script or name in SCRIPT_KEYS
            yield from _script_scalars(value, in_script=script)


def collect_facts(
    pipeline: Pipeline, switched: bool = False, workspace: Workspace | None = None
) -> Facts:
    """Run the analysis over a whole pipeline (following the scripts its jobs run when a
    workspace is given)."""
    facts = Facts(pipeline, switched=switched)
    analyzer = Analyzer(facts, workspace)
    analyzer.variable_places(pipeline)
    ordered = sorted(pipeline.jobs.values(), key=lambda j: j.hidden)
    for job in ordered:
        analyzer.job(job)
    visited = {key for key in facts.sites}
    analyzer.orphans(pipeline, visited)
    return facts


def collect_script_facts(
    workspace: Workspace,
    runs: list[ScriptRun],
    switched: bool = False,
    facts: Facts | None = None,
) -> Facts:
    """Analyse script files on their own (named on the command line, or ``extra-files`` no job
    runs): each in a fresh session of a job with no name, so findings list no jobs and scripts
    they run are followed. With ``facts``, adds to an existing analysis."""
    facts = facts if facts is not None else Facts(None, switched=switched)
    analyzer = Analyzer(facts, workspace)
    for run in runs:
        # A hidden job named after the script: removing :local from a script with no werf
        # ci-env of its own must stay blocked (CSW004), yet findings list no job.
        alone = Job(run.path, None, None, True)  # type: ignore[arg-type]
        analyzer.run_script(alone, _Session({}), run)
        for place in facts.places.values():
            place.hidden_jobs.discard(run.path)
    return facts
