"""``ciswitch branch [REPO]``: fix, commit on a branch, push with merge request options."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ciswitch.cli.mr_options import merge_request_options, parse_author
from ciswitch.cli.to_option import to_option


@click.command("branch")
@click.argument("repo", default=".", type=click.Path(path_type=Path))
@click.option("--branch", "branch", default="ciswitch/remote-stages-storage", show_default=True,
              metavar="NAME", help="Name of the branch to create.")
@click.option("--remote", default="origin", show_default=True, metavar="NAME",
              help="Remote to push to.")
@click.option("--target", metavar="BRANCH",
              help="Merge request target (default: the remote's default branch).")
@to_option("address", "Replace :local by this stages storage address instead of "
           "removing it; also recorded in .ciswitch.toml.")
@click.option("--unsafe-fixes", is_flag=True,
              help="Also apply unsafe fixes (removing :local synchronization).")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False),
              help="Read settings from FILE instead of .ciswitch.toml / pyproject.toml.")
@merge_request_options
@click.option("--no-marker", is_flag=True,
              help="Do not record the switch in .ciswitch.toml.")
@click.option("--force-update", is_flag=True,
              help="Replace an existing branch that carries a different change (never one "
                   "checked out in a worktree).")
def branch(
    repo: Path, branch: str, remote: str, target: str | None, address: str | None,
    unsafe_fixes: bool, config_file: Path | None, author: str | None, title: str | None,
    description_file: Path | None, draft: bool, labels: tuple[str, ...],
    assignees: tuple[str, ...], push_options: tuple[str, ...], no_push: bool, dry_run: bool,
    no_marker: bool, force_update: bool,
) -> None:
    """Prepare the merge request that moves REPO off :local stages storage.

    The fix is committed on a new branch (from HEAD; the work tree is not touched) together
    with a .ciswitch.toml marker, and pushed with GitLab merge request push options. Running
    it again when the branch already carries the change does nothing.

    The change is computed from HEAD's tree, not the work tree: uncommitted edits of tracked
    files are refused (they would stay out of it), untracked files are fine unless the change
    writes the same path. --force-update never moves a branch checked out in a worktree.
    """
    from ciswitch import branching
    from ciswitch.errors import CiswitchError
    from ciswitch.redact import redact

    try:
        description = None
        if description_file is not None:
            description = branching.read_description(description_file)
        request = branching.BranchRequest(
            path=repo, branch=branch, remote=remote, target=target, to=address,
            unsafe=unsafe_fixes, config_file=config_file,
            author=parse_author(author),
            title=title or branching.DEFAULT_TITLE, description=description, draft=draft,
            labels=tuple(labels), assignees=tuple(assignees), push_options=tuple(push_options),
            push=not no_push, dry_run=dry_run, marker=not no_marker, force_update=force_update,
        )
        outcome = branching.prepare_branch(request)
    except CiswitchError as err:
        from ciswitch.merge_request import advise

        click.echo(f"ciswitch: error: {redact(advise(err))}", err=True)
        sys.exit(2)
    click.echo(branching.render_outcome(outcome), nl=False)
    for warning in outcome.warnings:
        click.echo(f"ciswitch: warning: {redact(warning)}", err=True)
    sys.exit(outcome.exit_code)
