"""The ``lint`` command without its command line: run, report, exit status.

Both ways into ``ciswitch lint`` end here: the click command (:mod:`ciswitch.cli.lint_cmd`)
and the plain start (:func:`ciswitch.__main__.run`), which takes a ``ciswitch lint`` whose
arguments are all of the simple kinds and runs it without importing click at all (pre-commit
starts one such process per commit). Nothing here imports click unless it is already loaded or
the text to print needs it (see :func:`echo`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from ciswitch.errors import CiswitchError
from ciswitch.model import LintResult

if TYPE_CHECKING:
    from pathlib import Path

    from ciswitch.analysis.settings import GitLabSettings
    from ciswitch.atomic import PlannedWrite, WriteError
    from ciswitch.gitlab_api import GitLabClient
    from ciswitch.lint import LintRun


def echo(text: str, *, err: bool = False, nl: bool = True, color: bool | None = None) -> None:
    """Print ``text`` as ``click.echo`` does.

    Once click is loaded (the click command, a test's runner) this *is* ``click.echo``. Without
    it the text is written and flushed directly, which is what ``click.echo`` does with a text
    that has no ANSI escape on a stream that is UTF-8; anything else goes through click."""
    stream = sys.stderr if err else sys.stdout
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
    if "click" in sys.modules or "\x1b" in text or encoding != "utf8" or stream is None:
        import click

        click.echo(text, err=err, nl=nl, color=color)
        return
    stream.write(f"{text}\n" if nl else text)
    stream.flush()


def combine(results: list[LintResult]) -> LintResult:
    """One result for several PATH arguments."""
    if len(results) == 1:
        return results[0]
    combined = LintResult(root=", ".join(r.root for r in results))
    for result in results:
        combined.findings.extend(result.findings)
        combined.problems.extend(result.problems)
        combined.notices.extend(result.notices)
        combined.add_not_checked(result.not_checked)
        combined.files.extend(result.files)
        combined.provenance.extend(p for p in result.provenance if p not in combined.provenance)
    return combined


def exit_status(results: list[LintResult], strict: bool) -> int:
    """The worst exit status of the results, each under its own ``strict`` setting or
    ``--strict``."""
    return max((r.exit_status(strict=strict or r.strict) for r in results), default=0)


def report_write(result: LintResult, fmt: str, output: Path | None) -> PlannedWrite | None:
    """The ``--output`` file as a write of the run's transaction (None: no file, or ``-``).

    A missing directory is an error before anything is written."""
    if output is None or str(output) == "-":
        return None
    from pathlib import Path

    from ciswitch.atomic import PlannedWrite
    from ciswitch.report import render

    output = Path(output)
    if not output.parent.is_dir():
        raise CiswitchError(f"no such directory: {output.parent}", str(output))
    if output.is_dir():
        raise CiswitchError("is a directory", str(output))
    return PlannedWrite(output, render(fmt, result).encode("utf-8"))


def emit_report(
    result: LintResult,
    fmt: str,
    output: Path | None,
    statistics: bool,
    verbose: bool = False,
    strict: bool = False,
    color: str = "auto",
    file_result: LintResult | None = None,
) -> None:
    """The terminal's part of the report: with ``--output FILE`` the text form (the file gets
    the chosen format, written by :func:`report_write`); with ``-o -`` the chosen format
    (of ``file_result`` when given: the SARIF log keeps repository-relative paths)."""
    from ciswitch.report import render

    if output is not None and str(output) == "-":
        echo(render(fmt, file_result or result, verbose=verbose, strict=strict), nl=False)
        return
    if output is not None:
        fmt = "text"
    from ciswitch.report.text import use_color

    coloured = use_color(sys.stdout, color)
    chosen = result if fmt == "text" else file_result or result
    text = render(fmt, chosen, verbose=verbose, strict=strict, color=coloured)
    echo(text, nl=False, color=coloured)  # click strips escapes off a pipe otherwise
    if statistics:
        from ciswitch.report.statistics import render_statistics

        echo(render_statistics(result), nl=False)


def write_or_exit(files: list[PlannedWrite]) -> None:
    """Write a run's files all or nothing; an error is one line on stderr and exit 2."""
    from ciswitch.atomic import WriteError, write_all

    try:
        write_all(files)
    except WriteError as err:
        error_exit(err)


def problems_exit(result: LintResult) -> None:
    """Input errors: each on one line on standard error, then exit 2 (nothing else is printed:
    a report without them would look like a clean or a partial run)."""
    if not result.problems:
        return
    for problem in result.problems:
        echo(problem.one_line(), err=True)
    sys.exit(2)


def file_report_result(runs: list[LintRun], shown: LintResult, fmt: str) -> LintResult:
    """What the report file holds: the paths as shown, except that a SARIF log of one
    repository keeps them relative to its root (``uriBaseId`` ``%SRCROOT%``, which
    ``versionControlProvenance`` maps to the repository)."""
    roots = {run.root for run in runs}
    if fmt == "sarif" and len(roots) == 1 and None not in roots:
        return combine([run.result for run in runs])
    return shown


def error_exit(err: CiswitchError | WriteError) -> NoReturn:
    """One line naming the file and the error on stderr, then exit 2."""
    from ciswitch.model import Problem

    line = err.line if isinstance(err, CiswitchError) else None
    echo(Problem(err.path or "ciswitch", err.message, line).one_line(), err=True)
    sys.exit(2)


def settings_client(gitlab_url: str | None) -> GitLabClient | None:
    """The API client of ``--gitlab-url`` (token from ``GITLAB_TOKEN``), None without it."""
    if gitlab_url is None:
        return None
    from ciswitch.gitlab_api import from_environment

    try:
        return from_environment(gitlab_url)
    except CiswitchError as err:
        error_exit(err)


def read_settings_of(path: str | os.PathLike[str], client: GitLabClient | None,
                     project: str | None) -> GitLabSettings | None:
    """GitLab's CI/CD settings of the repository at ``path`` (None without a client)."""
    if client is None:
        return None
    from pathlib import Path

    from ciswitch.lint import find_root
    from ciswitch.runbook.settings import settings_for

    path = Path(path)
    root = path if path.is_dir() else Path(find_root(path))
    try:
        return settings_for(root, client.url, project, client)
    except CiswitchError as err:
        error_exit(err)


def lint_with_settings(
    paths: Sequence[str | os.PathLike[str]], config_file: Path | None, gitlab_url: str | None,
    project: str | None,
) -> list[LintRun]:
    """Lint each PATH with its project's CI/CD settings when ``--gitlab-url`` is given."""
    from ciswitch.lint import lint_paths

    client = settings_client(gitlab_url)
    if client is None:
        return lint_paths(paths, config_file)
    runs: list[LintRun] = []
    for path in paths:
        runs.extend(lint_paths([path], config_file,
                               settings=read_settings_of(path, client, project)))
    return runs


def run_lint(
    paths: Sequence[str | os.PathLike[str]],
    fmt: str = "text",
    output: Path | None = None,
    statistics: bool = False,
    config_file: Path | None = None,
    exit_zero: bool = False,
    verbose: bool = False,
    strict: bool = False,
    color: str = "auto",
    gitlab_url: str | None = None,
    project: str | None = None,
) -> NoReturn:
    """``ciswitch lint`` with its options parsed: lint, write ``--output``, print, exit."""
    from ciswitch.lint import SETTINGS_NOT_CHECKED, default_target
    from ciswitch.report.display import prefix_for, rebased

    runs = lint_with_settings(paths or [default_target()], config_file, gitlab_url, project)
    results = [a.result for a in runs]
    if fmt == "sarif":
        from pathlib import Path

        from ciswitch.gitops import provenance

        for one in results:
            found = provenance(Path(one.root))
            if found is not None:
                one.provenance.append(found)
    result = combine([rebased(run.result, prefix_for(run.root)) for run in runs])
    in_file = file_report_result(runs, result, fmt)
    if gitlab_url is None:  # once per run, in every report
        for one in {id(result): result, id(in_file): in_file}.values():
            one.add_not_checked([SETTINGS_NOT_CHECKED])
    try:
        report = report_write(in_file, fmt, output)
    except CiswitchError as err:
        error_exit(err)
    if report is not None:
        write_or_exit([report])  # a report file carries the input errors too
    if not (output is not None and str(output) == "-"):
        problems_exit(result)
    strict_any = strict or any(r.strict for r in results)
    emit_report(result, fmt, output, statistics, verbose, strict_any, color, in_file)
    problems_exit(result)
    code = exit_status(results, strict)
    if exit_zero and code == 1:
        code = 0
    sys.exit(code)
