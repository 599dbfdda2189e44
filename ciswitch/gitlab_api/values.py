"""Typed, frozen values read from GitLab's REST API; importing this loads no HTTP library."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

VariableLevel = Literal["project", "group", "instance", "schedule"]
MergeStatus = Literal["merged", "scheduled", "refused"]
RefusalReason = Literal["sha moved", "not mergeable", "conflicts", "merge failed"]


@dataclass(frozen=True)
class ProjectInfo:
    """A project: its numeric id, full path and the full paths of its groups, nearest first."""

    id: int
    path: str
    web_url: str
    default_branch: str | None
    namespace_id: int | None
    only_allow_merge_if_pipeline_succeeds: bool = False


@dataclass(frozen=True)
class GroupInfo:
    id: int
    path: str
    parent_id: int | None


@dataclass(frozen=True)
class PipelineInfo:
    id: int
    status: str
    sha: str
    web_url: str | None = None


@dataclass(frozen=True)
class Approvals:
    approved: bool
    approved_by: tuple[str, ...]
    approvals_left: int


@dataclass(frozen=True)
class MergeRequestInfo:
    """A merge request as GitLab reports it.

    ``merge_status`` is GitLab's ``detailed_merge_status`` when the server sends it (``mergeable``,
    ``ci_must_pass``, ``conflict``, ...), else its older ``merge_status``. ``approvals`` is
    ``None`` until asked for.
    """

    iid: int
    url: str
    state: str
    sha: str | None
    source_branch: str
    target_branch: str
    title: str
    draft: bool
    has_conflicts: bool
    merge_status: str
    auto_merge: bool
    labels: tuple[str, ...] = ()
    head_pipeline: PipelineInfo | None = None
    approvals: Approvals | None = None


@dataclass(frozen=True)
class MergeRequestSpec:
    """What ciswitch wants a merge request to say; assignees and reviewers are user names."""

    source_branch: str
    target_branch: str
    title: str
    description: str = ""
    labels: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    draft: bool = False
    remove_source_branch: bool = True
    auto_merge: bool = False

    def full_title(self) -> str:
        """The title with GitLab's documented ``Draft:`` prefix when ``draft`` is set."""
        bare = self.title
        for prefix in ("Draft:", "[Draft]", "(Draft)"):
            if bare.lower().startswith(prefix.lower()):
                bare = bare[len(prefix):].lstrip()
        return f"Draft: {bare}" if self.draft else bare


@dataclass(frozen=True)
class MergeOutcome:
    """What a merge through the API did: ``merged``, ``scheduled`` (auto-merge set) or
    ``refused`` with a reason and GitLab's own message."""

    status: MergeStatus
    reason: RefusalReason | None = None
    message: str = ""
    merge_request: MergeRequestInfo | None = None

    @property
    def merged(self) -> bool:
        return self.status == "merged"


@dataclass(frozen=True)
class VariableInfo:
    """One CI/CD variable where GitLab keeps it.

    ``owner`` is the project's or group's full path ("" for the instance); ``value`` is ``None``
    when the variable is masked or hidden, so it can never be printed by mistake.
    """

    level: VariableLevel
    owner: str
    key: str
    value: str | None
    protected: bool = False
    masked: bool = False
    environment_scope: str = "*"
    variable_type: str = "env_var"
    schedule_id: int | None = None
    schedule_description: str | None = None

    @property
    def place(self) -> str:
        """Where it is, for messages: ``group web/ variable KEY (environment scope *)``."""
        if self.level == "instance":
            where = "instance"
        elif self.level == "group":
            where = f"group {self.owner}/"
        elif self.level == "schedule":
            where = f"project {self.owner} schedule {self.schedule_id}"
            if self.schedule_description:
                where += f" ({self.schedule_description})"
        else:
            where = f"project {self.owner}"
        scope = "" if self.level in ("instance", "schedule") else (
            f" (environment scope {self.environment_scope})")
        return f"{where} variable {self.key}{scope}"


@dataclass(frozen=True)
class NotChecked:
    """A level that could not be read, and why (``needs admin``); never an error."""

    level: VariableLevel
    reason: str


@dataclass(frozen=True)
class VariableSurvey:
    """Every variable that reaches a project's pipelines, and the levels that were not read."""

    variables: tuple[VariableInfo, ...]
    not_checked: tuple[NotChecked, ...] = field(default_factory=tuple)
    #: the project's groups, nearest first (the order of their precedence)
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScheduleInfo:
    id: int
    description: str
    ref: str
    active: bool
    variables: tuple[VariableInfo, ...]


@dataclass(frozen=True)
class VariableChange:
    """A change made to a variable: what it was (for the journal) and what it is now
    (``None`` once deleted). The old value is kept even when masked: the journal needs it to
    put the variable back; it is never part of ``str()``."""

    before: VariableInfo
    old_value: str = field(repr=False)
    new_value: str | None = field(repr=False)

    def __str__(self) -> str:
        action = "deleted" if self.new_value is None else "updated"
        return f"{action} {self.before.place}"
