"""The state of one shell session of a job during the replay: each variable's value and
where it was set, the working directory, and the texts not parsed yet."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ciswitch.analysis.values import default_of, is_local, keeps_storage
from ciswitch.gitlab import resolve_value
from ciswitch.model import LOCAL, STAGES_VAR, SYNC_VAR
from ciswitch.record import Record

if TYPE_CHECKING:
    from ciswitch.analysis.facts import Place
    from ciswitch.analysis.sites import Site
    from ciswitch.gitlab import Job, Variable
    from ciswitch.shell import Assignment, Word

    #: a job's variables by name, each name's definitions in order
    _Table = dict[str, tuple[Variable, ...]]


class Setting(Record):
    """A variable's value in a shell session and where it was set."""

    value: str | None
    variable: Variable | None
    site: Site | None
    assignment: Assignment | None
    #: for a :local CI variable: whether the job keeps a stages storage without its :local
    #: definitions (a lower one that always holds, e.g. the child's own under a trigger one)
    fallback: bool
    #: the :local places of GitLab's settings in effect (they win over the files' variables)
    settings: tuple[Place, ...]

    def __init__(self, value: str | None, variable: Variable | None = None,
                 site: Site | None = None, assignment: Assignment | None = None,
                 fallback: bool = False, settings: tuple[Place, ...] = ()) -> None:
        self.value = value
        self.variable = variable
        self.site = site
        self.assignment = assignment
        self.fallback = fallback
        self.settings = settings


#: the prefixes of the variables GitLab predefines in every job
_PREDEFINED = ("CI_", "GITLAB_")


class Session:
    """The state of one shell session of a job."""

    def __init__(self, env: dict[str, Setting], cwd: str | None = "") -> None:
        self.env = dict(env)
        self.ci_env = False
        #: the working directory (repository-relative; None: somewhere computed)
        self.cwd: str | None = cwd
        #: texts that may change directory and were not parsed yet: read when a later text
        #: names a path (so a werf-free pipeline never loads the shell parser for them)
        self.pending: list[str] = []

    def resolve(self, word: Word) -> tuple[str | None, Setting | None]:
        """A word's value in the session and the setting it comes from; a ``${NAME:-X}``
        whose NAME the session does not set (and GitLab does not predefine) gives its literal
        default X."""
        if word.value is not None:
            return word.value, None
        if word.var is not None:
            setting = self.env.get(word.var)
            if setting is not None:
                return setting.value, setting
            if word.var.startswith(_PREDEFINED):
                return None, None  # GitLab sets these in every job: the default never applies
            return default_of(word), None
        return None, None


class StartingEnvs:
    """The session variables each job starts with, from its CI variables. They are a function
    of the job's variable tables alone, and the jobs of a big file share equal tables (one
    object each): a pair of tables that several jobs have is read once (only those are kept:
    the many jobs with variables of their own would each keep one). Shared: change a copy."""

    def __init__(self) -> None:
        #: by the identity of the tables, kept with them (an id is only theirs while they live)
        self._envs: dict[tuple[int, int], tuple[_Table, _Table, dict[str, Setting]]] = {}
        #: the pairs of tables that more than one job has
        self._shared: set[tuple[int, int]] = set()

    def share(self, jobs: list[Job]) -> None:
        """Note the pairs of tables that more than one of ``jobs`` has (they live as long as
        the jobs, so their ids are theirs while the jobs are replayed)."""
        seen: set[tuple[int, int]] = set()
        for job in jobs:
            key = (id(job.candidates), id(job.definitions))
            if key in seen:
                self._shared.add(key)
            seen.add(key)

    def of(self, job: Job) -> dict[str, Setting]:
        key = (id(job.candidates), id(job.definitions))
        if key not in self._shared:
            return _starting_env(job)
        known = self._envs.get(key)
        if known is not None and known[0] is job.candidates and known[1] is job.definitions:
            return known[2]
        env = _starting_env(job)
        self._envs[key] = (job.candidates, job.definitions, env)
        return env


def _starting_env(job: Job) -> dict[str, Setting]:
    env: dict[str, Setting] = {}
    for name, found in job.candidates.items():
        var = found[0]
        value = resolve_value(var, job.candidates)
        if name in (STAGES_VAR, SYNC_VAR) and not is_local(value):
            # A :local definition that may be in effect is the one to replay.
            for other in found[1:]:
                other_value = resolve_value(other, job.candidates)
                if is_local(other_value):
                    var, value = other, other_value
                    break
        fallback = False
        if is_local(value):
            value = LOCAL
            fallback = keeps_storage(job.definitions.get(name, ()), job.candidates)
        env[name] = Setting(value, variable=var, fallback=fallback)
    return env
