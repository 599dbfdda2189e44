"""``ciswitch status [REPO]``: where the project stands in the migration, and what is next."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ciswitch.cli.lint_cmd import gitlab_url_option
from ciswitch.cli.to_option import to_option


@click.command("status")
@click.argument("repo", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--remote", default="origin", show_default=True, metavar="NAME",
              help="Remote whose default branch and branches are checked.")
@click.option("--no-fetch", is_flag=True, help="Use the remote-tracking branches as they are.")
@click.option("--no-branches", is_flag=True,
              help="Do not lint the other branches (faster on big repositories).")
@click.option("--project", metavar="NAME",
              help="werf project name, when werf.yaml does not tell it statically.")
@to_option("to",
           help_text="Remote stages storage address, for the commands of the next step.")
@click.option("--registry-host", metavar="HOST",
              help="The GitLab Container Registry host, to derive the address from the remote.")
@click.option("--werf", "werf_path", metavar="PATH", help="The werf executable (default: on PATH).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
@click.option("--gitlab-url", metavar="URL", callback=gitlab_url_option,
              help="GitLab instance whose API GITLAB_TOKEN is for, to read the project's CI/CD "
                   "variables (default: derived from the remote URL).")
def status(
    repo: Path, remote: str, no_fetch: bool, no_branches: bool, project: str | None,
    to: str | None, registry_host: str | None, werf_path: str | None, fmt: str,
    gitlab_url: str | None,
) -> None:
    """Show which step of the switch REPO is at, and the next step to take.

    Looks at the work tree (:local left, .ciswitch.toml), the remote's default branch (the
    ciswitch commit, a revert), the other branches, this host's werf block file and the steps
    `ciswitch plan --run` recorded in this clone.

    With GITLAB_TOKEN set, the CI/CD variables GitLab keeps for the project (its own, its
    groups', the instance's, its schedules') are read too: a :local among them is a step of
    its own (ciswitch fix --gitlab).

    Phases: no-local, local, partial (a change branch with :local left), merge-request,
    switched, merged, done; during a rollback: stages-restored, unblocked, revert-opened,
    rolled-back.
    """
    import json

    from ciswitch import gitops
    from ciswitch.errors import CiswitchError
    from ciswitch.redact import redact
    from ciswitch.runbook.facts import detect_werf
    from ciswitch.runbook.status import project_status, render_text

    try:
        root = gitops.work_tree(gitops.open_repo(repo))
        result = project_status(
            root, remote=remote, project=project, to=to, registry_host=registry_host,
            fetch=not no_fetch, scan_branches=not no_branches, werf=detect_werf(werf_path),
            gitlab_url=gitlab_url,
        )
    except CiswitchError as err:
        click.echo(f"ciswitch: error: {redact(str(err))}", err=True)
        sys.exit(2)
    if result.input_errors:
        # no state to show: "no :local stages storage" would be said of files never read
        from ciswitch.report.display import problem_line

        for problem in result.input_errors:
            click.echo(redact(problem_line(problem, root)), err=True)
        sys.exit(2)
    if fmt == "json":
        click.echo(redact(json.dumps(result.as_json(), indent=2, ensure_ascii=False)))
    else:
        click.echo(redact(render_text(result)), nl=False)
