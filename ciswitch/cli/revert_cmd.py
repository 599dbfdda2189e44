"""``ciswitch revert [REPO]``: the merge request that reverts the switch (rollback step 3)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ciswitch.cli.mr_options import merge_request_options, parse_author
from ciswitch.runbook.revert import DEFAULT_BRANCH


@click.command("revert")
@click.argument("repo", default=".", type=click.Path(path_type=Path))
@click.option("--branch", "branch", default=DEFAULT_BRANCH, show_default=True, metavar="NAME",
              help="Name of the branch to create.")
@click.option("--remote", default="origin", show_default=True, metavar="NAME",
              help="Remote to read the default branch from and to push to.")
@click.option("--target", metavar="BRANCH",
              help="Branch carrying the switch, and merge request target (default: the "
                   "remote's default branch).")
@click.option("--commit", "commit", metavar="SHA",
              help="The commit to revert, when its trailer was lost (squashed merge request); "
                   "without the trailer it may change only :local places and .ciswitch.toml.")
@merge_request_options
@click.option("--force-update", is_flag=True,
              help="Replace an existing branch that carries a different change.")
def revert(
    repo: Path, branch: str, remote: str, target: str | None, commit: str | None,
    author: str | None, title: str | None, description_file: Path | None, draft: bool,
    labels: tuple[str, ...], assignees: tuple[str, ...], push_options: tuple[str, ...],
    no_push: bool, dry_run: bool, force_update: bool,
) -> None:
    """Open the merge request that takes REPO back to :local stages storage.

    Finds the ciswitch commit on the default branch by its trailer, reverts it on a new branch
    (in a temporary worktree: your work tree is not touched) and pushes it with GitLab merge
    request push options, like `ciswitch branch`.
    """
    from ciswitch.errors import CiswitchError
    from ciswitch.redact import redact
    from ciswitch.runbook import revert as reverting

    try:
        description = None
        if description_file is not None:
            try:
                description = description_file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as err:
                reason = getattr(err, "strerror", None) or str(err)
                raise CiswitchError(f"cannot read description: {reason}",
                                    str(description_file)) from err
        request = reverting.RevertRequest(
            path=repo, branch=branch, remote=remote, target=target, commit=commit,
            author=parse_author(author),
            title=title or reverting.DEFAULT_TITLE, description=description, draft=draft,
            labels=tuple(labels), assignees=tuple(assignees), push_options=tuple(push_options),
            push=not no_push, dry_run=dry_run, force_update=force_update,
        )
        outcome = reverting.prepare_revert(request)
    except CiswitchError as err:
        from ciswitch.merge_request import advise

        click.echo(f"ciswitch: error: {redact(advise(err))}", err=True)
        sys.exit(2)
    click.echo(reverting.render_outcome(outcome), nl=False)
