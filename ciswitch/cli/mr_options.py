"""The merge-request options ``branch`` and ``revert`` share: one definition, so both commands
accept and document them the same way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from ciswitch.gitops import Identity
    from ciswitch.runbook.branch_fix import MergeRequestWay

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = (
    click.option("--author", metavar="'NAME <EMAIL>'",
                 help="Author and committer of the commit (default: git configuration)."),
    click.option("--title", default=None, metavar="TEXT",
                 help="Merge request and commit title."),
    click.option("--description-file", type=click.Path(path_type=Path, dir_okay=False),
                 help="Merge request description from FILE (folded to one line)."),
    click.option("--draft", is_flag=True, help="Open the merge request as a draft."),
    click.option("--label", "labels", multiple=True, metavar="LABEL",
                 help="Merge request label (repeatable)."),
    click.option("--assign", "assignees", multiple=True, metavar="USER",
                 help="Merge request assignee (repeatable)."),
    click.option("--push-option", "push_options", multiple=True, metavar="OPTION",
                 help="Further git push option passed through (repeatable)."),
    click.option("--no-push", is_flag=True, help="Stop after the commit."),
)
_DRY_RUN = click.option(
    "--dry-run", is_flag=True, help="Print the diff and the push command; change nothing."
)


def merge_request_options(command: F) -> F:
    """Add the shared options (applied in reverse so ``--help`` lists them in this order)."""
    return merge_request_options_without_dry_run(_DRY_RUN(command))


def merge_request_options_without_dry_run(command: F) -> F:
    """The same options for ``fleet run``, whose ``--dry-run`` means more (clone, fix, journal)."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def parse_author(text: str | None) -> Identity | None:
    """The ``--author`` value as an identity (None when not given); a malformed one is a
    one-line error saying what the option takes."""
    if text is None:
        return None
    from ciswitch.errors import CiswitchError
    from ciswitch.gitops import parse_identity

    found = parse_identity(text)
    if found is None:
        raise CiswitchError(f"--author must look like 'Name <email>', got {text!r}")
    return found


_FIX_MR_OPTIONS = (
    click.option("--open-mr", "open_mr", type=click.Choice(["auto", "api", "push-options"]),
                 default="auto", show_default=True,
                 help="With --mr: open merge requests through GitLab's API (auto: when "
                      "--gitlab-url and GITLAB_TOKEN are there) or with git push options."),
    click.option("--label", "labels", multiple=True, metavar="LABEL",
                 help="With --mr: merge request label (repeatable)."),
    click.option("--assign", "assignees", multiple=True, metavar="USER",
                 help="With --mr: merge request assignee (repeatable)."),
    click.option("--reviewer", "reviewers", multiple=True, metavar="USER",
                 help="With --mr: merge request reviewer (repeatable; through the API only)."),
    click.option("--draft", is_flag=True, help="With --mr: open the merge requests as drafts."),
    click.option("--keep-source-branch", is_flag=True,
                 help="With --mr: keep the fix branch when its merge request is merged."),
)

#: the parameters of :func:`fix_merge_request_options`, for commands that check their use
FIX_MR_PARAMS = ("labels", "assignees", "reviewers", "draft", "keep_source_branch")


def fix_merge_request_options(command: F) -> F:
    """The merge request options of ``branches --fix --mr`` and ``fleet branches --mr``."""
    for option in reversed(_FIX_MR_OPTIONS):
        command = option(command)
    return command


def merge_request_way(params: dict[str, Any], gitlab_url: str | None, *,
                      project_path: str | None = None) -> MergeRequestWay:
    """How ``--mr`` opens its merge requests: through the API with --gitlab-url and a token
    (unless --open-mr push-options), else push options; API-only options without the API
    are a one-line error."""
    import os

    from ciswitch.errors import CiswitchError
    from ciswitch.gitlab_api import TOKEN_ENV
    from ciswitch.runbook.branch_fix import MergeRequestWay

    has_api = bool(gitlab_url) and bool(os.environ.get(TOKEN_ENV, "").strip())
    if params["open_mr"] == "api" and not has_api:
        raise CiswitchError(f"--open-mr api needs --gitlab-url URL and {TOKEN_ENV}")
    use_api = has_api and params["open_mr"] != "push-options"
    if params["reviewers"] and not use_api:
        raise CiswitchError(f"--reviewer needs GitLab's API: --gitlab-url URL and {TOKEN_ENV}")
    return MergeRequestWay(
        gitlab_url=gitlab_url if use_api else None, project_path=project_path,
        labels=tuple(params["labels"]), assignees=tuple(params["assignees"]),
        reviewers=tuple(params["reviewers"]), draft=params["draft"],
        remove_source_branch=not params["keep_source_branch"])
