"""The state of one shell session of a job during the replay: each variable's value and
where it was set, the working directory, and the texts not parsed yet."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ciswitch.record import Record

if TYPE_CHECKING:
    from ciswitch.analysis.facts import Place
    from ciswitch.analysis.sites import Site
    from ciswitch.gitlab import Variable
    from ciswitch.shell import Assignment, Word


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
        if word.value is not None:
            return word.value, None
        if word.var is not None:
            setting = self.env.get(word.var)
            if setting is not None:
                return setting.value, setting
        return None, None
