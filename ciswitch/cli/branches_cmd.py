"""``ciswitch branches [REPO]``: the remote branches whose CI still uses :local."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("branches")
@click.argument("repo", default=".", type=click.Path(path_type=Path))
@click.option("--remote", default="origin", show_default=True, metavar="NAME",
              help="Remote whose branches are checked.")
@click.option("--no-fetch", is_flag=True, help="Use the remote-tracking branches as they are.")
@click.option("--active-since", metavar="AGE",
              help="Only branches with a commit in the last AGE (12h, 30d, 2w).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
@click.option("--all", "show_all", is_flag=True,
              help="List every branch, not only those that still use :local (text format).")
def branches(
    repo: Path, remote: str, no_fetch: bool, active_since: str | None, fmt: str, show_all: bool,
) -> None:
    """List the branches of the remote whose CI configuration still uses :local.

    Each branch is read straight from its commit (no checkout), with its own .ciswitch.toml.
    Exits 1 when any branch still carries :local stages storage.
    """
    import json

    from ciswitch import branch_scan, gitops
    from ciswitch.errors import CiswitchError
    from ciswitch.redact import redact

    try:
        age = None
        if active_since is not None:
            try:
                age = branch_scan.parse_age(active_since)
            except ValueError as err:
                raise CiswitchError(f"--active-since: {err}") from err
        result = branch_scan.scan_branches(
            gitops.open_repo(repo), remote, fetch=not no_fetch, active_since=age
        )
    except CiswitchError as err:
        click.echo(f"ciswitch: error: {redact(str(err))}", err=True)
        sys.exit(2)
    if fmt == "json":
        click.echo(redact(json.dumps(branch_scan.render_json(result), indent=2)))
    else:
        click.echo(redact(branch_scan.render_text(result, show_all=show_all)), nl=False)
    sys.exit(result.exit_code)
