"""Reading the CI/CD variables GitLab keeps for a project (``--gitlab-url`` with
``GITLAB_TOKEN``): which project a repository is, and its settings as the analysis takes them.

The project is ``--gitlab-project PATH`` when given, else the one the repository's ``origin`` remote
names on that GitLab (a remote on another host is an error: its project cannot be told).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ciswitch.errors import CiswitchError
from ciswitch.redact import redact

if TYPE_CHECKING:
    from ciswitch.analysis.settings import GitLabSettings
    from ciswitch.gitlab_api import GitLabClient

REMOTE = "origin"


def remote_url(root: Path, remote: str = REMOTE) -> str | None:
    """The configured URL of the repository's remote (before any ``insteadOf``), or None."""
    from ciswitch import gitops

    try:
        repo = gitops.open_repo(root)
    except CiswitchError:
        return None
    try:
        out = gitops.run_git(repo, f"cannot read the URL of remote {remote}", "config", "--get",
                             f"remote.{remote}.url")
    except CiswitchError:
        return None
    finally:
        repo.close()
    return out.strip() or None


def project_of(root: Path, gitlab_url: str, project: str | None = None) -> str:
    """The project's full path on the GitLab at ``gitlab_url``."""
    if project:
        return project.strip("/")
    from ciswitch.runbook.facts import parse_remote_url
    from ciswitch.runbook.guard import gitlab_location

    url = remote_url(root)
    if url is None:
        raise CiswitchError(f"no git remote {REMOTE} to tell the GitLab project from: "
                            "pass --gitlab-project PATH", str(root))
    host = parse_remote_url(url).host
    wanted = (urlsplit(gitlab_url).hostname or "").lower()
    if host != wanted:
        raise CiswitchError(f"remote {REMOTE} ({redact(url)}) is not on {redact(gitlab_url)}: "
                            "pass --gitlab-project PATH", str(root))
    return gitlab_location(url, gitlab_url)[1]


def read_settings(client: GitLabClient, project: str) -> GitLabSettings:
    """The project's variables, its groups', the instance's (where the token may) and its
    schedules', as the analysis takes them."""
    from ciswitch.analysis.settings import GitLabSettings

    info = client.project(project)
    return GitLabSettings.from_survey(info.path, client.survey_variables(info))


def settings_for(root: Path, gitlab_url: str, project: str | None = None,
                 client: GitLabClient | None = None) -> GitLabSettings:
    """The settings of the repository at ``root`` (``--gitlab-project`` or its remote)."""
    from ciswitch.gitlab_api import from_environment

    path = project_of(root, gitlab_url, project)
    return read_settings(client or from_environment(gitlab_url), path)
