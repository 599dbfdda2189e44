"""CI/CD variables GitLab keeps in its settings, as the replay meets them in each job.

GitLab's documented precedence ("CI/CD variable precedence"), highest first: pipeline variables
(a pipeline schedule's among them, for scheduled pipelines only), project variables, group
variables (the nearest subgroup first), instance variables, then the ``.gitlab-ci.yml``
variables (a job's own, then the global ones). So any settings variable wins over every
``variables:`` entry of the files. A variable with an environment scope other than ``*``
reaches only the jobs whose ``environment:`` matches it (``*`` is a wildcard anywhere in the
scope, as in ``review/*``); a job with no ``environment:`` gets only ``*`` ones. A protected
variable reaches only pipelines on protected branches and tags.

In a child pipeline (``trigger: include:``), the variables its trigger job passes down rank
with the pipeline variables, above the settings; a schedule's variables are not passed down
(GitLab forwards pipeline variables only with ``forward: pipeline_variables: true``, which is
not the default), so they do not reach its jobs.

So a settings variable is *definite* for a job when it holds in every pipeline of the job: not
protected, not a schedule's, and its scope matches the job's environment for certain (a scope
against an environment name holding ``$VARIABLES`` may match: then it is not definite). The
variables in effect for a job are the matching ones, highest first, down to the first definite
one (with the others of that level whose scope matches too: GitLab does not document which of
several matching scopes wins); each ``:local`` among them is a place reaching the job.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from ciswitch.analysis.facts import Facts, Kind, Place, Reach, SettingAt
from ciswitch.analysis.values import is_local, keeps_storage
from ciswitch.model import STAGES_VAR, SYNC_VAR, SettingPlace
from ciswitch.record import Record, setf
from ciswitch.source import SourceFile

if TYPE_CHECKING:
    from ciswitch.gitlab import Job
    from ciswitch.gitlab.model import Value
    from ciswitch.gitlab_api.values import VariableInfo, VariableSurvey

#: the names that matter here
NAMES = (STAGES_VAR, SYNC_VAR)
#: what stands for a masked value (GitLab refuses to mask a value shorter than 8 characters,
#: so a masked one is never ``:local``: it is some address, not known here)
MASKED_VALUE = "$MASKED"
#: ``only:``/``except:`` keywords that are not ref names; a scheduled pipeline is
#: ``schedules`` and runs on a branch (``branches``) or a tag (``tags``)
_REF_KEYWORDS = frozenset({
    "api", "branches", "chat", "external", "external_pull_requests", "merge_requests",
    "pipelines", "pushes", "schedules", "tags", "triggers", "web",
})
_IN_SCHEDULES = frozenset({"schedules", "branches", "tags"})


class GitLabSettings(Record, frozen=True):
    """The settings variables of one project that may reach its pipelines (only
    ``WERF_STAGES_STORAGE`` and ``WERF_SYNCHRONIZATION`` are kept)."""

    project: str
    variables: tuple[VariableInfo, ...]
    #: the group paths, nearest first (their order is their precedence)
    groups: tuple[str, ...]
    #: levels that could not be read, with why (instance variables without an admin's token)
    not_checked: tuple[tuple[str, str], ...]

    def __init__(self, project: str, variables: tuple[VariableInfo, ...],
                 groups: tuple[str, ...] = (),
                 not_checked: tuple[tuple[str, str], ...] = ()) -> None:
        setf(self, "project", project)
        setf(self, "variables", variables)
        setf(self, "groups", groups)
        setf(self, "not_checked", not_checked)

    @classmethod
    def from_survey(cls, project: str, survey: VariableSurvey) -> GitLabSettings:
        kept = tuple(v for v in survey.variables if v.key in NAMES)
        return cls(project, kept, survey.groups,
                   tuple((n.level, n.reason) for n in survey.not_checked))

    def rank(self, variable: VariableInfo) -> int:
        """Precedence, lower first: schedule, project, groups nearest first, instance."""
        if variable.level == "schedule":
            return 0
        if variable.level == "project":
            return 1
        if variable.level == "group":
            try:
                return 2 + self.groups.index(variable.owner)
            except ValueError:
                return 2 + len(self.groups)
        return 3 + len(self.groups)

    def in_effect(self, job: Job, name: str,
                  child: bool = False) -> list[tuple[VariableInfo, bool]]:
        """The variables of ``name`` in effect for ``job``, highest first, each with whether
        it is definite; it ends with the level of the first definite one. ``child``: the job
        is in a child pipeline."""
        if child and _passed_down(job, name):
            return []
        environment = job_environment(job)
        scheduled = runs_in_schedules(job) and not child
        found: list[tuple[VariableInfo, bool]] = []
        last: int | None = None
        for variable in sorted((v for v in self.variables if v.key == name), key=self.rank):
            if last is not None and self.rank(variable) > last:
                break
            if variable.level == "schedule" and not scheduled:
                continue
            match = scope_match(variable.environment_scope, environment)
            if match == "no":
                continue
            definite = (match == "yes" and not variable.protected
                        and variable.level != "schedule")
            found.append((variable, definite))
            if definite:
                # the others of this level whose scope matches too may win (GitLab does not
                # document which scope wins among matching ones): they stay candidates
                last = self.rank(variable)
        return found


class SettingsEffect(Record, frozen=True):
    """What the settings make of one variable of one job: the value it starts with, the
    ``:local`` places in effect, and whether it keeps a stages storage without them."""

    value: str
    places: tuple[Place, ...]
    fallback: bool

    def __init__(self, value: str, places: tuple[Place, ...] = (), fallback: bool = False) -> None:
        setf(self, "value", value)
        setf(self, "places", places)
        setf(self, "fallback", fallback)


def setting_place(variable: VariableInfo) -> SettingPlace:
    return SettingPlace(
        name=f"gitlab: {variable.place}", level=variable.level, owner=variable.owner,
        key=variable.key, environment_scope=variable.environment_scope,
        protected=variable.protected, masked=variable.masked,
        schedule_id=variable.schedule_id,
    )


def _place(facts: Facts, variable: VariableInfo) -> Place:
    where = setting_place(variable)
    kind = Kind.SETTINGS_VARIABLE
    found = facts.places.get((kind, where.name, 0, 0))
    if found is None:
        file = SourceFile(where.name, None, "", False)
        found = facts.place(kind, file, 0, 0, SettingAt(variable, where))
    return found


def _passed_down(job: Job, name: str) -> bool:
    """Whether the job's value of ``name`` comes down from its trigger job for certain."""
    found = job.candidates.get(name, ())
    return bool(found) and found[0].scope == "trigger" and not found[0].conditional


def record_settings_places(facts: Facts) -> None:
    """Every ``:local`` among the settings is a place, even one no job of this project
    reaches (it still reaches the group's other projects)."""
    if facts.settings is None:
        return
    if facts.pipeline is not None:
        facts.child_jobs = {id(job) for child in list(facts.pipeline.with_children())[1:]
                            for job in child.jobs.values()}
    for variable in facts.settings.variables:
        if variable.value is not None and is_local(variable.value):
            _place(facts, variable)


def settings_effect(facts: Facts, job: Job, who: Reach, name: str) -> SettingsEffect | None:
    """How the settings change the job's starting value of ``name`` (None: they do not)."""
    settings = facts.settings
    if settings is None:
        return None
    child = id(job) in facts.child_jobs
    found = settings.in_effect(job, name, child)
    if not found:
        return None
    local = [v for v, _ in found if v.value is not None and is_local(v.value)]
    if local:
        places = tuple(_place(facts, v) for v in local)
        for place in places:
            place.add_job(who)
        file_keeps = keeps_storage(job.definitions.get(name, ()), job.candidates)
        return SettingsEffect(":local", places,
                              fallback=_address_below(settings, job, name, child) or file_keeps)
    definite = [v for v, sure in found if sure]
    if definite:
        return SettingsEffect(definite[0].value if definite[0].value is not None
                              else MASKED_VALUE)
    return None


def _address_below(settings: GitLabSettings, job: Job, name: str, child: bool) -> bool:
    """Whether a definite address is left once the ``:local`` settings are deleted."""
    rest = GitLabSettings(settings.project, tuple(
        v for v in settings.variables if v.value is None or not is_local(v.value)),
        settings.groups)
    return any(sure for _, sure in rest.in_effect(job, name, child))


# -- what a job declares ------------------------------------------------------------------

def _scalar(value: Value | None) -> str | None:
    from ciswitch.gitlab.model import Merged
    from ciswitch.yaml.nodes import is_null, is_scalar

    if value is None or isinstance(value, Merged):
        return None
    node = value.node
    return None if not is_scalar(node) or is_null(node) else str(node.value)


def _strings(value: Value | None) -> list[str] | None:
    """A scalar or a list of scalars as strings (None: not given)."""
    from ciswitch.gitlab.model import Merged
    from ciswitch.yaml.nodes import is_scalar, is_seq

    if value is None:
        return None
    if isinstance(value, Merged):
        return _strings(value.get("refs")) if "refs" in value.names() else None
    if is_seq(value.node):
        return [str(item.value) for item in value.node.value if is_scalar(item)]
    text = _scalar(value)
    return None if text is None else [text]


def job_environment(job: Job) -> str | None:
    """The job's ``environment:`` name (``environment: NAME`` or its ``name:``)."""
    from ciswitch.gitlab.model import Merged

    value = job.config.get("environment")
    if isinstance(value, Merged):
        return _scalar(value.get("name"))
    return _scalar(value)


def runs_in_schedules(job: Job) -> bool:
    """Whether the job may run in a scheduled pipeline: not when ``except:`` names
    ``schedules``, nor when ``only:`` lists only other pipeline kinds (``merge_requests``,
    ``pushes``, ...) and no branch, tag or ref name."""
    excluded = _strings(job.config.get("except"))
    if excluded and "schedules" in excluded:
        return False
    only = _strings(job.config.get("only"))
    if only is None:
        return True
    return any(item in _IN_SCHEDULES or item not in _REF_KEYWORDS for item in only)


def scope_match(scope: str, environment: str | None) -> str:
    """``yes``, ``maybe`` or ``no``: whether an environment scope reaches a job with this
    environment name. ``*`` matches any characters, anywhere in the scope; a ``$VARIABLE`` in
    the name is not known here, so it may expand to anything."""
    if scope == "*":
        return "yes"
    if environment is None:
        return "no"
    if "$" not in environment:
        return "yes" if _glob_match(scope, environment) else "no"
    import re

    shape = re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", "\0", environment)
    return "maybe" if _intersect(scope, shape) else "no"


def _glob_match(scope: str, name: str) -> bool:
    import re

    pattern = ".*".join(re.escape(part) for part in scope.split("*"))
    return re.fullmatch(pattern, name, flags=re.DOTALL) is not None


def _intersect(scope: str, shape: str) -> bool:
    """Whether a scope (``*`` any text) and a name shape (NUL: any text) can match one
    string."""

    @cache
    def go(i: int, j: int) -> bool:
        if i == len(scope) and j == len(shape):
            return True
        if i < len(scope) and scope[i] == "*" and (go(i + 1, j) or (j < len(shape)
                                                                   and go(i, j + 1))):
            return True
        if j < len(shape) and shape[j] == "\0" and (go(i, j + 1) or (i < len(scope)
                                                                    and go(i + 1, j))):
            return True
        return (i < len(scope) and j < len(shape) and scope[i] == shape[j]
                and go(i + 1, j + 1))

    return go(0, 0)
