"""``ciswitch lint [PATH]...``: report every :local stages storage use."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ciswitch.cli.color_option import color_option
from ciswitch.errors import CiswitchError
from ciswitch.lint_command import (
    combine,
    emit_report,
    error_exit,
    exit_status,
    file_report_result,
    lint_with_settings,
    problems_exit,
    read_settings_of,
    report_write,
    run_lint,
    settings_client,
    write_or_exit,
)
from ciswitch.report import FORMATS

__all__ = [
    "combine",
    "emit_report",
    "error_exit",
    "exit_status",
    "file_report_result",
    "gitlab_url_option",
    "lint",
    "lint_with_settings",
    "problems_exit",
    "read_settings_of",
    "report_write",
    "settings_client",
    "write_or_exit",
]


def gitlab_url_option(ctx: click.Context, param: click.Parameter,
                      value: str | None) -> str | None:
    """``--gitlab-url`` checked while parsing: a bad URL is a one-line usage error."""
    if value is None:
        return None
    from ciswitch.gitlab_api import check_url

    try:
        return check_url(value)
    except CiswitchError as err:
        click.echo(f"ciswitch: error: {err}", err=True)
        ctx.exit(2)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="Report format.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the report to FILE; the text report still goes to the terminal.",
)
@click.option("--statistics", is_flag=True, help="Print the number of findings per rule.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Read settings from FILE instead of .ciswitch.toml / pyproject.toml.",
)
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option(
    "-v", "--verbose", is_flag=True,
    help="List the places not checked (includes from other projects, unreadable scripts...) "
    "and other notices.",
)
@click.option(
    "--strict", is_flag=True,
    help="Exit 1 when any place of the repository could not be checked (also `strict = true` "
    "in the config).",
)
@click.option(
    "--gitlab-url", metavar="URL", callback=gitlab_url_option,
    help="Also read the CI/CD variables GitLab keeps for the project (its own, its groups', "
    "the instance's, its schedules'), with GITLAB_TOKEN from the environment.",
)
@click.option(
    "--gitlab-project", "project", metavar="PATH",
    help="The project's full path on --gitlab-url (default: from the git remote origin).",
)
@color_option
def lint(
    paths: tuple[Path, ...],
    fmt: str,
    output: Path | None,
    statistics: bool,
    config_file: Path | None,
    exit_zero: bool,
    verbose: bool,
    strict: bool,
    gitlab_url: str | None,
    project: str | None,
    color: str,
) -> None:
    """Report every :local stages storage use in the CI configuration.

    PATH is a repository directory (its .gitlab-ci.yml is read, with local includes and the
    scripts jobs run) or a single file; the default is the current directory.

    With --gitlab-url (and GITLAB_TOKEN), the CI/CD variables GitLab keeps outside the
    repository are read too; without it the report says they were not checked.
    """
    if project is not None and gitlab_url is None:
        click.echo("ciswitch: error: --gitlab-project needs --gitlab-url", err=True)
        sys.exit(2)
    run_lint(list(paths), fmt, output, statistics, config_file, exit_zero, verbose, strict,
             color, gitlab_url, project)
