"""``ciswitch branches [REPO]``: the remote branches whose CI still uses :local."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ciswitch.cli.mr_options import FIX_MR_PARAMS, fix_merge_request_options


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
@click.option("--fix", is_flag=True,
              help="Push the fix as a new commit on top of each such branch (never a force "
                   "push; refused when the branch moved since it was read).")
@click.option("--mr", is_flag=True,
              help="With --fix: push it to ciswitch/fix/BRANCH with a merge request into the "
                   "branch instead.")
@click.option("--dry-run", is_flag=True, help="With --fix: say what would be pushed.")
@click.option("--gitlab-url", metavar="URL",
              help="With --mr: open the merge requests through this GitLab's API "
                   "(GITLAB_TOKEN from the environment).")
@fix_merge_request_options
def branches(
    repo: Path, remote: str, no_fetch: bool, active_since: str | None, fmt: str, show_all: bool,
    fix: bool, mr: bool, dry_run: bool, gitlab_url: str | None, **mr_params: Any,
) -> None:
    """List the branches of the remote whose CI configuration still uses :local.

    Each branch is read straight from its commit (no checkout), with its own .ciswitch.toml.
    Exits 1 when any branch still carries :local stages storage.

    With --fix, each of them gets the same fix as a new commit on top, pushed (one report line
    per branch; exit 1 when any could not be fixed). Running it again changes nothing.

    With --fix --mr the fix goes to ciswitch/fix/BRANCH with a merge request into the branch:
    through GitLab's API with --gitlab-url and GITLAB_TOKEN (a markdown description listing
    the places fixed, labels, assignees, reviewers, draft; its URL, iid and state reported),
    else with git push options.
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
        if (mr or dry_run) and not fix:
            raise CiswitchError("--mr and --dry-run go with --fix")
        given = [name for name in FIX_MR_PARAMS if mr_params[name]]
        if (given or gitlab_url or mr_params["open_mr"] != "auto") and not mr:
            raise CiswitchError("--gitlab-url, --open-mr and the merge request options go with "
                                "--fix --mr")
        if fix:
            from ciswitch.cli.mr_options import merge_request_way
            from ciswitch.runbook.branch_fix import fix_branches

            way = merge_request_way(mr_params, gitlab_url) if mr else None
            fixes = fix_branches(gitops.open_repo(repo), remote, active_since=age, mr=mr,
                                 dry_run=dry_run, fetch=not no_fetch, way=way)
            if fmt == "json":
                click.echo(redact(json.dumps([vars(f) for f in fixes], indent=2)))
            else:
                for found in fixes:
                    click.echo(redact(found.line()))
                if not fixes:
                    click.echo("no active branch carries :local")
            bad = ("failed", "refused", "unfixable")
            sys.exit(1 if any(f.status in bad for f in fixes) else 0)
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
