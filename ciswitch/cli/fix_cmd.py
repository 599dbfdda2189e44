"""``ciswitch fix [PATH]...``: remove :local stages storage, touching nothing else."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ciswitch.cli.color_option import color_option
from ciswitch.cli.lint_cmd import gitlab_url_option
from ciswitch.cli.to_option import to_option
from ciswitch.fix import FixOutcome, unsafe_notes
from ciswitch.model import counted, counted_clause, not_checked_summary, reason_counts
from ciswitch.report import FORMATS
from ciswitch.workspace import DirectoryWorkspace

#: the reasons a summary names at most, the most common first (past it, the rest are counted);
#: a big pipeline's places can be left for thousands of reasons, each naming its jobs, which
#: the report gives at each place
SUMMARY_REASONS = 6
#: what the last PATH's fix analysed, alive until the process leaves
_LEFT_AT_EXIT: list[object] = []


def summary(outcome: FixOutcome, wrote: bool, listed: bool = False) -> str:
    """One line: files changed, places fixed, places left and why, and the places not checked
    (``listed``: shown above; otherwise ``-v`` shows them)."""
    verb = "Fixed" if wrote else "Would fix"
    files = len(outcome.changes)
    text = f"{verb} {counted(len(outcome.fixed), 'place')} in {counted(files, 'file')}"
    if outcome.remaining:
        common = reason_counts(f.unfixable_reason or "not fixable" for f in outcome.remaining)
        shown = common if len(common) <= SUMMARY_REASONS else common[:SUMMARY_REASONS - 1]
        clauses = [counted_clause(n, r) for r, n in shown]
        rest = common[len(shown):]
        if rest:
            places = sum(n for _, n in rest)
            clauses.append(f"{places} more for {counted(len(rest), 'other reason')}, each given "
                           "at its place")
        text += f"; {len(outcome.remaining)} left ({'; '.join(clauses)})"
    else:
        text += "; nothing left"
    gaps = not_checked_summary(outcome.not_checked)
    if gaps:
        text += f"; {gaps}: {'listed above' if listed else '-v lists them'}"
    return text + "."


def fix_settings(path: Path, gitlab_url: str | None, project: str | None, address: str | None,
                 unsafe: bool, shared: bool, dry_run: bool) -> int:
    """``fix --gitlab``: show, then make, the changes of GitLab's CI/CD settings (journaled in
    the clone); the exit status they call for (1: some left, 2: a change failed)."""
    from ciswitch.cli.lint_cmd import error_exit, read_settings_of, settings_client
    from ciswitch.config import load_config
    from ciswitch.errors import CiswitchError
    from ciswitch.lint import analyse_workspace
    from ciswitch.runbook.settings_fix import apply_settings_fix, journal_path, plan_settings_fix

    if gitlab_url is None:
        click.echo("ciswitch: error: --gitlab needs --gitlab-url URL (with GITLAB_TOKEN)",
                   err=True)
        sys.exit(2)
    if not path.is_dir():
        click.echo(f"ciswitch: error: --gitlab fixes one project: {path} is not its directory",
                   err=True)
        sys.exit(2)
    journal = journal_path(path)
    if journal is None and not dry_run:
        click.echo(f"ciswitch: error: --gitlab journals every change in the project's git "
                   f"repository, and {path} is not in one", err=True)
        sys.exit(2)
    client = settings_client(gitlab_url)
    settings = read_settings_of(path, client, project)
    assert client is not None and settings is not None
    try:
        ws = DirectoryWorkspace(path)
        findings = analyse_workspace(ws, load_config(ws), to=address,
                                     settings=settings).result.findings
    except CiswitchError as err:
        error_exit(err)
    steps = plan_settings_fix(findings, settings, to=address, unsafe=unsafe, shared=shared)
    click.echo(f"GitLab's CI/CD settings of {settings.project}: "
               + (f"{counted(len(steps), 'variable')} set :local" if steps else "no :local"))
    for step in steps:
        click.echo(f"  {step.line()}")
    for level, reason in settings.not_checked:
        why = reason.removeprefix("not checked: ")
        click.echo(f"  not checked: the {level}'s variables: {why}")
    left = any(step.action == "leave" for step in steps)
    if dry_run:
        if any(step.action != "leave" for step in steps):
            click.echo("dry run: nothing changed")
        return 1 if steps else 0
    assert journal is not None
    try:
        failures = apply_settings_fix(client, steps, journal, lambda line: click.echo(f"  {line}"))
    except CiswitchError as err:
        error_exit(err)
    if failures:
        click.echo(f"ciswitch: error: {counted(len(failures), 'change')} of GitLab's settings "
                   f"failed (journaled in {journal}): {failures[0]}", err=True)
        return 2
    return 1 if left else 0


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff; write nothing.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if anything would change.")
@to_option("address", "Replace :local by this stages storage address instead of removing "
           "it.")
@click.option(
    "--unsafe-fixes",
    is_flag=True,
    help="Also apply unsafe fixes (removing :local synchronization).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Read settings from FILE.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="Format of the findings left.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the report of findings left to FILE.",
)
@click.option(
    "-v", "--verbose", is_flag=True,
    help="List the places not checked (includes from other projects, unreadable scripts...).",
)
@click.option(
    "--gitlab", "gitlab", is_flag=True,
    help="Also delete (with --to: set) the :local CI/CD variables of GitLab's settings through "
    "the API, after showing them; every change is journaled for `ciswitch revert --gitlab`.",
)
@click.option("--gitlab-url", metavar="URL", callback=gitlab_url_option,
              help="The GitLab of --gitlab (GITLAB_TOKEN from the environment).")
@click.option("--gitlab-project", "project", metavar="PATH",
              help="The project's full path on --gitlab-url (default: from the git remote).")
@click.option("--shared", is_flag=True,
              help="With --gitlab, also change group and instance variables (they reach every "
              "project of the group, or of the instance).")
@click.option("--dry-run", is_flag=True,
              help="Show what would change (files and, with --gitlab, GitLab's settings); "
              "change nothing.")
@color_option
def fix(
    paths: tuple[Path, ...],
    show_diff: bool,
    check: bool,
    address: str | None,
    unsafe_fixes: bool,
    config_file: Path | None,
    fmt: str,
    output: Path | None,
    verbose: bool,
    gitlab: bool,
    gitlab_url: str | None,
    project: str | None,
    shared: bool,
    dry_run: bool,
    color: str,
) -> None:
    """Remove every :local stages storage that can be removed safely.

    Only the characters that must go are changed: comments, quotes, indentation, line endings
    and every other byte stay as they were. Every changed file is re-parsed and verified before
    it is written, atomically.

    With --gitlab (never by default), the :local CI/CD variables GitLab keeps for the project
    are shown, then deleted through its API (--to sets them to that address instead); group
    and instance variables only with --shared, :local synchronization only with
    --unsafe-fixes. `ciswitch revert --gitlab` puts them back.
    """
    from ciswitch.atomic import PlannedWrite
    from ciswitch.cli.display import prefix_for, rebased, shown
    from ciswitch.cli.lint_cmd import emit_report, error_exit, report_write, write_or_exit
    from ciswitch.config import load_config
    from ciswitch.errors import CiswitchError
    from ciswitch.fix import plan_fix, planned_writes
    from ciswitch.lint import default_target, resolve_target, settings_problems
    from ciswitch.model import LintResult, Problem

    settings_code = 0
    if gitlab:
        if len(paths) > 1:
            click.echo("ciswitch: error: --gitlab fixes one project: give one PATH", err=True)
            sys.exit(2)
        settings_code = fix_settings(paths[0] if paths else Path(default_target()), gitlab_url,
                                     project, address, unsafe_fixes, shared,
                                     dry_run or check or show_diff)
        if settings_code == 2:
            sys.exit(2)
    elif gitlab_url is not None or project is not None or shared:
        click.echo("ciswitch: error: --gitlab-url, --gitlab-project and --shared go with --gitlab",
                   err=True)
        sys.exit(2)
    write = not (show_diff or check or dry_run)
    result = LintResult(root=", ".join(str(p) for p in paths) or ".")
    planned: list[tuple[DirectoryWorkspace, FixOutcome, str]] = []
    # Plan every PATH first: one bad input anywhere means nothing is written anywhere.
    for path in list(paths) or [Path(default_target())]:
        try:
            ws, entry = resolve_target(path)
        except CiswitchError as err:
            result.problems.append(Problem(err.path or str(path), err.message, err.line))
            continue
        prefix = prefix_for(ws.root)
        try:
            config = load_config(ws, config_file)
            # the process leaves without its teardown (ciswitch.__main__): the last
            # analysis is let go of then, not freed here (the one before is)
            _LEFT_AT_EXIT.clear()
            outcome = plan_fix(ws, config, to=address, unsafe=unsafe_fixes, entry=entry,
                               keep=_LEFT_AT_EXIT)
        except CiswitchError as err:
            named = config_file is not None and err.path == str(config_file)
            where = err.path if named else shown(prefix, err.path or ".")
            result.problems.append(Problem(where or str(path), err.message, err.line))
            continue
        problems = list(outcome.problems)
        if config_file is not None:
            problems = settings_problems(problems, config_file, ws.root)
        result.problems.extend(rebased(LintResult(root=ws.label, problems=problems),
                                       prefix).problems)
        planned.append((ws, outcome, prefix))
    if result.problems:
        for problem in result.problems:
            click.echo(problem.one_line(), err=True)
        sys.exit(2)
    outcomes = [outcome for _, outcome, _ in planned]
    any_change = any(outcome.changes for outcome in outcomes)
    writes: list[PlannedWrite] = []
    changed: list[str] = []
    for ws, outcome, prefix in planned:
        changed.extend(shown(prefix, change.path) for change in outcome.changes)
        if show_diff:
            from ciswitch.report.diff import unified_diff

            above = prefix.startswith("../") or prefix == ".."
            for change in outcome.changes:
                # a repository above the current directory (run from a subdirectory): its
                # paths from its top, as `git diff` prints them there, so `git apply` applies
                # them from here
                name = change.path if above else shown(prefix, change.path)
                click.echo(unified_diff(name, change.old, change.new, git_header=above),
                           nl=False)
        if write and outcome.changes:
            try:
                writes.extend(planned_writes(ws, outcome))
            except CiswitchError as err:
                error_exit(err)
        left = rebased(LintResult(root=ws.label, findings=list(outcome.remaining),
                                  not_checked=list(outcome.not_checked)), prefix)
        result.findings.extend(left.findings)
        result.add_not_checked(left.not_checked)
    show_report = bool(result.findings) or fmt != "text"
    if show_report:
        try:
            report = report_write(result, fmt, output)
        except CiswitchError as err:
            error_exit(err)
        if report is not None:
            writes.append(report)
    # Every changed file and the report in one transaction: all written, or none.
    write_or_exit(writes)
    if show_report:
        emit_report(result, fmt, output, False, color=color)
    merged = FixOutcome(
        changes=[c for o in outcomes for c in o.changes],
        fixed=[f for o in outcomes for f in o.fixed],
        remaining=[f for o in outcomes for f in o.remaining],
        not_checked=result.not_checked,
    )
    to_stderr = not write or str(output) == "-"  # -o - keeps standard output for the report
    if verbose:
        for gap in result.not_checked:
            click.echo(gap.one_line(), err=to_stderr)
    if check:
        for name in changed:
            click.echo(f"Would fix {name}", err=to_stderr)
    click.echo(summary(merged, write, listed=verbose), err=to_stderr)
    notes = unsafe_notes(merged.fixed)
    if notes:
        verb = "Applied" if write else "Would apply"
        click.echo(f"{verb} unsafe fixes: {'; '.join(notes)}.", err=True)
    if result.findings or (check and any_change) or settings_code:
        sys.exit(1)
    sys.exit(0)
