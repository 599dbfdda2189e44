"""The replay: from the CI model to :mod:`facts <ciswitch.analysis.facts>`: which places set
``:local``, which jobs reach them, and which werf commands would be left with no stages storage
at all.

The walk follows what a GitLab runner does: for each job, ``before_script`` and ``script`` run
in one shell (so ``export`` and ``werf ci-env`` carry over), ``after_script`` in another; the
job's effective ``variables`` are the starting environment. Every shell text (a YAML scalar, or
a whole script file) is a :class:`~ciswitch.analysis.sites.Site`, read once however many jobs
run it, and every place is keyed by identity so a flag inside an anchor used by three jobs is
one place with three jobs.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from typing import TYPE_CHECKING, Any

from ciswitch.analysis.facts import (
    AssignmentAt,
    CallAt,
    Facts,
    FilesRead,
    FlagAt,
    Kind,
    Payload,
    Place,
    Reach,
)
from ciswitch.analysis.mapping import safe_map
from ciswitch.analysis.orphans import orphan_candidates
from ciswitch.analysis.python_code import PythonCodeSite, unread_python
from ciswitch.analysis.session import Session, Setting, StartingEnvs
from ciswitch.analysis.settings import NAMES, record_settings_places, settings_effect
from ciswitch.analysis.sites import (
    CommandStringSite,
    PythonFileSite,
    ShellFileSite,
    ShellTextSite,
    Site,
    YamlScalarSite,
)
from ciswitch.analysis.through_output import through_output
from ciswitch.analysis.unread import uninterpolated_inputs, unread_flags, unread_hooks
from ciswitch.analysis.values import split_flags, string_runs_files
from ciswitch.analysis.variables import VARIABLE_KIND, entry_place, record_variable_places
from ciswitch.gitlab import Job, Pipeline, ScriptLine
from ciswitch.model import LOCAL, STAGES_VAR, SYNC_VAR, FileKind, NotChecked, NotCheckedKind
from ciswitch.patterns import lazy_compile
from ciswitch.source import SourceFile

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ciswitch.analysis.settings import GitLabSettings
    from ciswitch.scripts.runs import NotFollowed, Runs, ScriptRun
    from ciswitch.shell import Assignment, FlagUse, WerfCall
    from ciswitch.shell.model import CommandString
    from ciswitch.workspace import Workspace

_WERF_1_2 = lazy_compile(r"trdl use werf|multiwerf use 1\.2|werf converge|--repo[ =]|WERF_REPO=")
#: the kind of a ``:local`` setting of each variable
_SETTING_KIND = {STAGES_VAR: Kind.STORAGE_ASSIGNMENT, SYNC_VAR: Kind.SYNCHRONIZATION}
_DISMISS = ("dismiss",)


class Replay:
    """Walks jobs and shell sites and fills :class:`Facts`."""

    def __init__(
        self,
        facts: Facts,
        workspace: Workspace | None = None,
        known: Mapping[str, SourceFile] | None = None,
    ) -> None:
        self.facts = facts
        #: files already decoded (``fix`` checking its own result), by path
        self.known = known
        #: where script files that jobs run are read from (None: scripts are not followed)
        self.workspace = workspace
        self._running: set[str] = set()
        #: script runs per site: a site shared by many jobs is looked into once
        #: what a text runs that was not parsed (nothing), by working directory and moves
        self._unparsed: dict[tuple[str | None, bool], Runs] = {}
        #: (site, working directory) whose skipped script runs were reported
        self._reported: set[tuple[tuple[str, int], str | None]] = set()
        self._runs_by_text: dict[tuple[str, str | None], Runs] = {}
        #: the variables each job starts with
        self.starting = StartingEnvs()
        #: whether a text has a werf 1.2 sign, by text
        self._v12: dict[str, bool] = {}

    def site_for(self, file: SourceFile, node: Any, text: str) -> YamlScalarSite:
        site = self.facts.sites.get((file.path, id(node)))
        if site is None:
            site = YamlScalarSite(file, node, text)
            self.facts.sites[site.key] = site
        assert isinstance(site, YamlScalarSite)
        return site

    # -- variables: entries -------------------------------------------------------------
    def variable_places(self, pipeline: Pipeline) -> None:
        record_variable_places(self.facts, pipeline)

    # -- jobs -------------------------------------------------------------------------------
    def job(self, job: Job) -> None:
        if job.bridge:
            return  # a trigger job runs no script: its child pipeline's jobs do
        who = Reach(job.name, job.hidden)
        env = self.starting.of(job)
        if self.facts.settings is not None:
            env = dict(env)  # the shared table stays as it is
        for name in NAMES if self.facts.settings is not None else ():
            effect = settings_effect(self.facts, job, who, name)
            if effect is not None:
                below = env.get(name) or Setting(None)
                env[name] = Setting(effect.value, below.variable if below.value == LOCAL
                                     else None, fallback=effect.fallback, settings=effect.places)
        if STAGES_VAR in env:
            self.facts.storage_jobs.add(job.name)
        if "WERF_REPO" in env:
            self.facts.v12_jobs.add(job.name)
        for lines in ([*job.before_script, *job.script], job.after_script):
            session = Session(env)
            for line in lines:
                self._line(who, session, line)

    def _line(self, job: Reach, session: Session, line: ScriptLine) -> None:
        node = line.loc.node
        site = self.site_for(line.loc.file, node, str(node.value))
        if line.parent is not None:
            site.parent = line.parent
        self.run_site(job, session, site)

    def run_site(self, job: Reach, session: Session, site: Site) -> None:
        """Play one shell text in a session: assignments, ``werf ci-env``, werf commands."""
        runs = self._script_runs(site, session)
        parse = site.worth_parsing or (
            self.workspace is not None and isinstance(site, ShellTextSite)
            and string_runs_files(site.text, self.workspace)
        )
        if parse and job.name and not job.hidden:  # asked only of a parsed site's werf calls
            self.facts.real_sites.add(site.key)
        if not parse and not runs:
            return
        v12 = self._v12.get(site.text)
        if v12 is None:
            v12 = self._v12[site.text] = _WERF_1_2.search(site.text) is not None
        if v12:
            self.facts.v12_jobs.add(job.name)
        events: list[tuple[int, int, Any]] = [(run.start, 2, run) for run in runs]
        if parse:
            reading = site.commands()
            if isinstance(site, (PythonFileSite, PythonCodeSite)):
                unread = unread_python(site)
                if unread is not None:
                    self.facts.add_not_checked(unread)
            for assignment in reading.assignments:
                events.append((assignment.start, 0, assignment))
            for call in reading.werf_calls:
                events.append((call.start, 1, call))
            if isinstance(site, ShellTextSite):
                for string in reading.command_strings:
                    events.append((string.start, 3, string))
        events.sort(key=lambda e: (e[0], e[1]))
        for _, kind, obj in events:
            if kind == 0:
                self._assignment(job, session, site, obj)
            elif kind == 1:
                self._call(job, session, site, obj)
            elif kind == 2:
                fstart, _ = safe_map(site, obj.start, obj.start)
                origin = (site.file.path, site.file.position(fstart).line)
                self.run_script(job, session, obj, origin)
            else:
                assert isinstance(site, ShellTextSite)
                self.command_string(job, session, site, obj)

    def command_string(
        self, job: Reach, session: Session, site: ShellTextSite, string: CommandString
    ) -> None:
        """Play ``bash -c STRING`` in a child shell: it sees the session's variables, and
        what it sets goes with it."""
        inner: CommandStringSite | PythonCodeSite = (
            PythonCodeSite(site, string) if string.shell.startswith("python")
            else CommandStringSite(site, string)
        )
        known = self.facts.sites.get(inner.key)
        if isinstance(known, (CommandStringSite, PythonCodeSite)):
            inner = known
        else:
            self.facts.sites[inner.key] = inner
        if session.pending:
            self._settle_directory(None, session)
        child = Session(session.env, session.cwd)
        child.ci_env = session.ci_env
        self.run_site(job, child, inner)

    # -- script files a job runs --------------------------------------------------------------
    def _script_runs(self, site: Site, session: Session) -> list[ScriptRun]:
        """The repository files a site executes or sources (none for Python sites), from the
        session's working directory, which the site's ``cd``s then move."""
        if self.workspace is None or not site.runs_files:
            return []
        if session.pending:
            self._settle_directory(site.text, session)
        cwd = session.cwd
        # The same line text recurs in many jobs (as distinct nodes): look it up once.
        known = self._runs_by_text.get((site.text, cwd))
        if known is None:
            known = _script_runs_in(site.text, self.workspace, cwd)
            if not known.parsed:  # runs nothing: one value for the many texts of a big file
                known = self._unparsed.setdefault((cwd, known.moves), known)
            self._runs_by_text[(site.text, cwd)] = known
        if known.skipped:
            where = (site.key, cwd)
            if where not in self._reported:  # each site's own places, once
                self._reported.add(where)
                self._report_skipped(site, known.skipped)
        if known.parsed:
            session.cwd = known.cwd
        elif known.moves:
            session.pending.append(site.text)
        return known.runs

    def _settle_directory(self, text: str | None, session: Session) -> None:
        """Read the pending ``cd`` texts of the session when ``text`` may name a path (always
        when ``text`` is None)."""
        from ciswitch.scripts.prefilter import may_name_path
        from ciswitch.scripts.runs import directory_after

        if self.workspace is None or (text is not None and not may_name_path(text)):
            return
        for earlier in session.pending:
            session.cwd = directory_after(earlier, self.workspace, session.cwd)
        session.pending.clear()

    def _report_skipped(self, site: Site, skipped: list[NotFollowed]) -> None:
        for item in skipped:
            fstart, _ = safe_map(site, item.start, item.start)
            line = site.file.position(fstart).line
            self.facts.add_not_checked(NotChecked(site.file.path, line, item.kind, item.message))

    def script_file(
        self, path: str, kind: FileKind, origin: tuple[str, int | None] | None = None
    ) -> SourceFile | None:
        """Read a script file once; a file that cannot be read is not checked, at the place
        that runs it (``origin``: path and line) or at the file itself."""
        found = self.facts.files.script(path)
        if found is None and self.workspace is not None:
            from ciswitch.errors import CiswitchError
            from ciswitch.source import read_source

            try:
                found = read_source(self.workspace, path, self.known)
            except CiswitchError as err:
                where, line = origin if origin is not None else (path, err.line)
                message = f"{path}: {err.message}, not read" if origin else f"{err.message}"
                self.facts.add_not_checked(
                    NotChecked(where, line, NotCheckedKind.UNREADABLE_SCRIPT, message)
                )
                return None
            self.facts.files.add_script(found, kind)
        return found

    def run_script(
        self,
        job: Reach,
        session: Session,
        run: ScriptRun,
        origin: tuple[str, int | None] | None = None,
    ) -> None:
        """Play a script file in the job's session (sourced files share it; executed ones
        inherit its exports, which for werf's settings amounts to the same)."""
        if run.path in self._running:
            return  # a script that runs itself again: once is enough
        kind = FileKind.PYTHON if run.kind == "python" else FileKind.SHELL
        file = self.script_file(run.path, kind, origin)
        if file is None:
            return
        key = (file.path, -1)
        site = self.facts.sites.get(key)
        if site is None:
            site = PythonFileSite(file) if run.kind == "python" else ShellFileSite(file)
            self.facts.sites[key] = site
        self._running.add(run.path)
        # A sourced file runs in the session and moves its directory; an executed one starts
        # where it is run and its cd stays in its own process.
        saved = (session.cwd, list(session.pending))
        session.cwd, session.pending = run.cwd, []
        try:
            self.run_site(job, session, site)
        finally:
            self._running.discard(run.path)
            if not run.sourced:
                session.cwd, session.pending = saved[0], saved[1]

    def _assignment(
        self, job: Reach, session: Session, site: Site, assignment: Assignment
    ) -> None:
        if assignment.value is None:
            return
        value, _ = session.resolve(assignment.value)
        session.env[assignment.name] = Setting(value, site=site, assignment=assignment)
        if assignment.name == STAGES_VAR:
            self.facts.storage_jobs.add(job.name)
        if assignment.name in (STAGES_VAR, SYNC_VAR) and value == LOCAL:
            place = self._shell_place(
                _SETTING_KIND[assignment.name],
                site,
                assignment.start,
                assignment.end,
                AssignmentAt(site, assignment),
            )
            place.add_job(job)

    def _shell_place(self, kind: Kind, site: Site, start: int, end: int, what: Payload) -> Place:
        fstart, fend = safe_map(site, start, end)
        return self.facts.place(kind, site.file, fstart, fend, what)

    def _call(self, job: Reach, session: Session, site: Site, call: WerfCall) -> None:
        if call.binary_var is not None and not _holds_werf(session, call.binary_var):
            return  # ``"$X" build`` where X is not known to be werf's path
        if call.is_ci_env:
            session.ci_env = True
            if STAGES_VAR not in session.env:
                session.env[STAGES_VAR] = Setting("$CI_REGISTRY_IMAGE/stages")
            return
        feeding: list[Place] = []
        storage: str | None = None
        storage_flag = False
        flags: list[tuple[Site, FlagUse, Assignment | None, bool]] = [
            (site, flag, None, True) for flag in call.flags
        ]
        flags.extend(split_flags(session, call, self.site_for))
        for flag_site, flag, held, exact in flags:
            value, setting = session.resolve(flag.value)
            if flag.name == "stages-storage":
                self.facts.storage_jobs.add(job.name)
                storage_flag = True
                storage = value
                if value == LOCAL and (call.takes_stages_storage or flag.spelling.startswith("--")):
                    at = FlagAt(flag_site, flag, call, held, exact)
                    place = self._shell_place(
                        Kind.STORAGE_FLAG, flag_site, flag.start, flag.end, at
                    )
                    place.add_job(job)
                    if setting is not None and flag.value.value is None:
                        place.via = f"${flag.value.var}"
                    elif flag.value.value is None and flag.value.var is not None:
                        place.via = f"the default of ${flag.value.var}"
                    elif held is not None:
                        place.via = f"${held.name}"
                    feeding.append(place)
            elif flag.name == "synchronization" and value == LOCAL:
                at = FlagAt(flag_site, flag, call, held, exact)
                place = self._shell_place(
                    Kind.SYNCHRONIZATION, flag_site, flag.start, flag.end, at
                )
                place.add_job(job)
        # a copy only when the command's own prefixes add to what it sees
        prefix_env = dict(session.env) if call.prefixes else session.env
        for prefix in call.prefixes:
            if prefix.value is None:
                continue
            value, _ = session.resolve(prefix.value)
            prefix_env[prefix.name] = Setting(value, site=site, assignment=prefix)
            if prefix.name == STAGES_VAR:
                self.facts.storage_jobs.add(job.name)
            if prefix.name in (STAGES_VAR, SYNC_VAR) and value == LOCAL:
                place = self._shell_place(
                    _SETTING_KIND[prefix.name],
                    site,
                    prefix.start,
                    prefix.end,
                    AssignmentAt(site, prefix),
                )
                place.add_job(job)
                if prefix.name == STAGES_VAR:
                    feeding.append(place)
        if not call.takes_stages_storage:
            return
        env_setting = prefix_env.get(STAGES_VAR)
        if env_setting is not None and env_setting.value == LOCAL:
            for env_place in (self._setting_place(env_setting), *env_setting.settings):
                if env_place is not None and env_place not in feeding:
                    feeding.append(env_place)
            if not storage_flag:
                storage = LOCAL
        elif not storage_flag and env_setting is not None:
            storage = env_setting.value
        if storage != LOCAL or call.subcommand == _DISMISS:
            # werf dismiss reads the stages storage only to choose its synchronization
            # default, :local either way: without it the command still runs the same
            return
        # Without its :local settings, would this command still have a storage?
        alternative = session.ci_env or (
            env_setting is not None and env_setting.fallback and not storage_flag
        )
        if not alternative:
            if job.hidden and site.key in self.facts.real_sites:
                return  # real jobs run this line; a template's own view does not count
            # the werf word itself is underlined, not a wrapper or assignment before it
            word_start, word_end = call.werf_span or (call.start, call.start + 4)
            werf_call_place = self._shell_place(
                Kind.STORAGELESS_CALL, site, word_start, word_end, CallAt(site, call)
            )
            werf_call_place.add_job(job)
            for place in feeding:
                place.block(job)

    def _setting_place(self, setting: Setting) -> Place | None:
        """The place (already recorded) where a :local setting came from."""
        if setting.variable is not None:
            variable = setting.variable
            kind = VARIABLE_KIND.get(variable.name, Kind.STORAGE_VARIABLE)
            return entry_place(self.facts, variable.entry, kind)
        if setting.site is not None and setting.assignment is not None:
            start, end = safe_map(setting.site, setting.assignment.start, setting.assignment.end)
            key = (Kind.STORAGE_ASSIGNMENT, setting.site.file.path, start, end)
            return self.facts.places.get(key)
        return None

    # -- sites no job reaches -----------------------------------------------------------
    def orphans(
        self, pipeline: Pipeline, visited: set[tuple[str, int]], names: Container[str]
    ) -> None:
        """Script-like scalars no job runs (templates never used, files linted alone): analyse
        them on their own so that no werf invocation goes unseen."""
        orphan = Reach("", hidden=True)
        for file in pipeline.files:
            for doc in file.yaml_documents():
                for node in orphan_candidates(doc, names):
                    if (file.path, id(node)) in visited:
                        continue
                    site = self.site_for(file, node, str(node.value))
                    self.run_site(orphan, Session({}), site)


def _holds_werf(session: Session, name: str) -> bool:
    """Whether a variable of the session holds ``werf`` or a path ending in ``/werf``."""
    from ciswitch.shell.werf import is_werf_name

    setting = session.env.get(name)
    return setting is not None and setting.value is not None and is_werf_name(setting.value)


def _first_script_runs_in(text: str, ws: Workspace, cwd: str | None) -> Runs:
    """``script_runs_in`` on first use, put in :data:`_script_runs_in`'s place: an import
    statement costs 0.6 us even when loaded, and a big file asks for the script runs of each
    of its texts (19,694 in the werf bench file)."""
    global _script_runs_in
    from ciswitch.scripts.runs import script_runs_in as _script_runs_in
    return _script_runs_in(text, ws, cwd)


_script_runs_in: Callable[[str, Workspace, str | None], Runs] = _first_script_runs_in


def collect_facts(
    pipeline: Pipeline,
    switched: bool = False,
    workspace: Workspace | None = None,
    known: Mapping[str, SourceFile] | None = None,
    settings: GitLabSettings | None = None,
) -> Facts:
    """Replay a whole pipeline (following the scripts its jobs run when a workspace is
    given), with the CI/CD variables of GitLab's ``settings`` when they were read."""
    facts = Facts(pipeline, switched=switched, files=FilesRead(pipeline.files),
                  settings=settings)
    record_settings_places(facts)
    analyzer = Replay(facts, workspace, known)
    pipelines = list(pipeline.with_children())
    for each in pipelines:
        analyzer.variable_places(each)
    ordered = sorted(
        (job for each in pipelines for job in each.jobs.values()), key=lambda j: j.hidden
    )
    analyzer.starting.share(ordered)
    for job in ordered:
        analyzer.job(job)
    visited = {key for key in facts.sites}
    names = {name for each in pipelines for name in each.jobs}
    analyzer.orphans(pipeline, visited, names)
    # what the pipeline's files hold that the replay does not play (once per pipeline, not
    # again for the script files a lint adds to it)
    uninterpolated_inputs(facts)
    unread_hooks(facts)
    unread_flags(facts)
    through_output(facts, workspace)
    return facts


def collect_script_facts(
    workspace: Workspace,
    runs: list[ScriptRun],
    switched: bool = False,
    facts: Facts | None = None,
    known: Mapping[str, SourceFile] | None = None,
) -> Facts:
    """Analyse script files on their own (named on the command line, or ``extra-files`` no job
    runs): each in a fresh session of a job with no name, so findings list no jobs and scripts
    they run are followed. With ``facts``, adds to an existing analysis."""
    facts = facts if facts is not None else Facts(None, switched=switched)
    analyzer = Replay(facts, workspace, known)
    for run in runs:
        # A hidden job named after the script: removing :local from a script with no werf
        # ci-env of its own must stay blocked (a storage-less call), yet findings list no job.
        alone = Reach(run.path, hidden=True)
        analyzer.run_script(alone, Session({}), run)
        for place in facts.places.values():
            place.forget_hidden(run.path)
    unread_flags(facts)
    through_output(facts, workspace)
    return facts
