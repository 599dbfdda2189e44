"""``ciswitch lint [PATH]...``: report every :local stages storage use."""

from __future__ import annotations

from pathlib import Path

import click

from ciswitch.cli.color_option import color_option
from ciswitch.lint_command import (
    combine,
    emit_report,
    error_exit,
    exit_status,
    file_report_result,
    problems_exit,
    report_write,
    run_lint,
    write_or_exit,
)
from ciswitch.report import FORMATS

__all__ = [
    "combine",
    "emit_report",
    "error_exit",
    "exit_status",
    "file_report_result",
    "lint",
    "problems_exit",
    "report_write",
    "write_or_exit",
]


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
    help="Exit 1 when any place could not be checked (also `strict = true` in the config).",
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
    color: str,
) -> None:
    """Report every :local stages storage use in the CI configuration.

    PATH is a repository directory (its .gitlab-ci.yml is read, with local includes and the
    scripts jobs run) or a single file; the default is the current directory.
    """
    run_lint(list(paths), fmt, output, statistics, config_file, exit_zero, verbose, strict,
             color)
