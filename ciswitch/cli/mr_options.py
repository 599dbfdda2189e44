"""The merge-request options ``branch`` and ``revert`` share: one definition, so both commands
accept and document them the same way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from ciswitch.gitops import Identity

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
