"""GitLab's REST API v4 for ciswitch: a typed facade over python-gitlab (the ``gitlab`` extra).

Importing this package loads neither python-gitlab nor ``requests``; they load when a client is
built with :func:`from_environment` (``--gitlab-url`` and ``GITLAB_TOKEN``) or
:class:`GitLabClient`.
"""

from __future__ import annotations

from ciswitch.gitlab_api.client import (
    NEEDS_ADMIN,
    TOKEN_ENV,
    GitLabAPIError,
    GitLabClient,
    check_url,
    from_environment,
)
from ciswitch.gitlab_api.values import (
    Approvals,
    GroupInfo,
    MergeOutcome,
    MergeRequestInfo,
    MergeRequestSpec,
    NotChecked,
    PipelineInfo,
    ProjectInfo,
    ScheduleInfo,
    VariableChange,
    VariableInfo,
    VariableSurvey,
)

__all__ = [
    "NEEDS_ADMIN",
    "TOKEN_ENV",
    "Approvals",
    "GitLabAPIError",
    "GitLabClient",
    "GroupInfo",
    "MergeOutcome",
    "MergeRequestInfo",
    "MergeRequestSpec",
    "NotChecked",
    "PipelineInfo",
    "ProjectInfo",
    "ScheduleInfo",
    "VariableChange",
    "VariableInfo",
    "VariableSurvey",
    "check_url",
    "from_environment",
]
