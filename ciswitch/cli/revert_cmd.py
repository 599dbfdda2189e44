"""``ciswitch revert [REPO]``: the merge request that reverts the switch (rollback step 3)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ciswitch.cli.lint_cmd import gitlab_url_option
from ciswitch.cli.mr_options import merge_request_options, parse_author
from ciswitch.model import counted
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
@click.option("--gitlab", "gitlab", is_flag=True,
              help="Instead of the merge request: put back the CI/CD variables of GitLab's "
                   "settings that `ciswitch fix --gitlab` changed (from the clone's journal).")
@click.option("--gitlab-url", metavar="URL", callback=gitlab_url_option,
              help="The GitLab of --gitlab (default: the one journaled; GITLAB_TOKEN from the "
                   "environment).")
def revert(
    repo: Path, branch: str, remote: str, target: str | None, commit: str | None,
    author: str | None, title: str | None, description_file: Path | None, draft: bool,
    labels: tuple[str, ...], assignees: tuple[str, ...], push_options: tuple[str, ...],
    no_push: bool, dry_run: bool, force_update: bool, gitlab: bool, gitlab_url: str | None,
) -> None:
    """Open the merge request that takes REPO back to :local stages storage.

    Finds the ciswitch commit on the default branch by its trailer, reverts it on a new branch
    (in a temporary worktree: your work tree is not touched) and pushes it with GitLab merge
    request push options, like `ciswitch branch`.

    With --gitlab it puts back, instead, the CI/CD variables `ciswitch fix --gitlab` (or a
    fleet run with --gitlab-settings) changed in GitLab's settings, newest first, each only
    where GitLab still has what ciswitch left.
    """
    from ciswitch.errors import CiswitchError
    from ciswitch.redact import redact
    from ciswitch.runbook import revert as reverting

    if gitlab:
        sys.exit(put_back_settings(repo, gitlab_url, dry_run))
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


def put_back_settings(repo: Path, gitlab_url: str | None, dry_run: bool) -> int:
    """``revert --gitlab``: show, then make, the changes that put the journaled variables
    back; the exit status (1: some left alone, 2: an error)."""
    from ciswitch.errors import CiswitchError
    from ciswitch.gitlab_api import from_environment
    from ciswitch.redact import redact
    from ciswitch.runbook.settings_fix import (
        apply_put_back,
        journal_path,
        plan_put_back,
        read_journal,
    )

    def fail(message: str) -> int:
        click.echo(f"ciswitch: error: {redact(message)}", err=True)
        return 2

    journal = journal_path(repo)
    try:
        entries = read_journal(journal)
    except CiswitchError as err:
        return fail(str(err))
    if journal is None or not entries:
        click.echo("GitLab's CI/CD settings: nothing journaled in this clone to put back")
        return 0
    url = gitlab_url or next((str(e["gitlab_url"]) for e in reversed(entries)
                              if e.get("gitlab_url")), None)
    try:
        client = from_environment(url)
        steps = plan_put_back(client, journal)
    except CiswitchError as err:
        return fail(str(err))
    click.echo(f"GitLab's CI/CD settings: {counted(len(steps), 'change')} to put back")
    for step in steps:
        click.echo(f"  {step.line()}")
    if dry_run:
        if any(step.action != "leave" for step in steps):
            click.echo("dry run: nothing changed")
        return 0
    try:
        failures = apply_put_back(client, steps, journal, lambda line: click.echo(f"  {line}"))
    except CiswitchError as err:
        return fail(str(err))
    if failures:
        return fail(f"{counted(len(failures), 'variable')} could not be put back: {failures[0]}")
    return 1 if any(step.action == "leave" for step in steps) else 0
