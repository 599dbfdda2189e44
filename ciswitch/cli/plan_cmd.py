"""``ciswitch plan``: the project's migration runbook, and ``--run`` for its runner-side steps."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ciswitch.cli.to_option import to_option
from ciswitch.config import Config, load_config
from ciswitch.errors import CiswitchError
from ciswitch.model import Finding
from ciswitch.record import replace
from ciswitch.runbook.facts import detect_werf, gather_facts, git_remote_url
from ciswitch.runbook.plan import RUNNABLE, Plan, build_plan, render
from ciswitch.runbook.runner import SwitchRefused, check_ready, execute, prepare
from ciswitch.workspace import DirectoryWorkspace

if TYPE_CHECKING:
    from ciswitch.runbook.guard import SwitchVerdict

#: ``ciswitch branch``'s default branch name
CHANGE_BRANCH = "ciswitch/remote-stages-storage"


def _branch_changes(ws: DirectoryWorkspace, config: Config) -> tuple[list[Finding], list[str]]:
    """What ``ciswitch branch`` will change: the places its fix takes (unsafe fixes included,
    the plan then adds ``--unsafe-fixes``) and the places left; plus input problems."""
    from ciswitch.fix import plan_fix
    from ciswitch.lint import unreadable
    from ciswitch.report.display import problem_line

    outcome = plan_fix(ws, config, unsafe=True)
    broken = unreadable(outcome.problems)
    if broken:
        # a configuration that cannot be read has no plan: step 2 would say "nothing to
        # change" about files it never saw
        for problem in broken:
            click.echo(problem_line(problem, ws.root), err=True)
        sys.exit(2)
    left = [replace(f, fix=None) for f in outcome.remaining]
    return [*outcome.fixed, *left], [p.one_line() for p in outcome.problems]


def _fail(message: str) -> None:
    click.echo(f"ciswitch: error: {message}", err=True)
    sys.exit(2)


def _gitlab_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--gitlab-url`` checked while parsing: a bad URL is a one-line usage error."""
    if value is None:
        return None
    from ciswitch.gitlab_api import check_url

    try:
        return check_url(value)
    except CiswitchError as err:
        click.echo(f"ciswitch: error: {err}", err=True)
        ctx.exit(2)


@click.command("plan")
@click.argument("repo", default=".", type=click.Path(file_okay=False, path_type=Path))
@to_option("to",
           help_text="Remote stages storage address (default: $CI_REGISTRY_IMAGE/stages, "
                     "else derived from the git remote and --registry-host).")
@click.option("--registry-host", metavar="HOST",
              help="The GitLab Container Registry host, to derive the address from the remote.")
@click.option("--project", metavar="NAME",
              help="werf project name, when werf.yaml does not tell it statically.")
@click.option("--remote", default="origin", show_default=True, metavar="NAME",
              help="Git remote whose URL gives the project path.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]),
              default="text", show_default=True, help="Output format.")
@click.option("--run", "run_key", type=click.Choice(RUNNABLE),
              help="Run this runner-side step here (asks first).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before --run (for scripts).")
@click.option("--werf", "werf_path", metavar="PATH", help="The werf executable (default: on PATH).")
@click.option("--branch", "change_branch", default=CHANGE_BRANCH, show_default=True,
              metavar="NAME", help="The change branch that --run switch verifies first.")
@click.option("--gitlab-url", metavar="URL", callback=_gitlab_url,
              help="GitLab instance whose API --run switch asks about the merge request and "
                   "its pipeline, with GITLAB_TOKEN (default: derived from the remote URL).")
@click.option("--force", is_flag=True,
              help="Run --run switch although some of its checks failed (they are named).")
def plan(
    repo: Path, to: str | None, registry_host: str | None, project: str | None, remote: str,
    fmt: str, run_key: str | None, yes: bool, werf_path: str | None, change_branch: str,
    gitlab_url: str | None, force: bool,
) -> None:
    """Print the ordered steps that move REPO to remote stages storage, and the rollback.

    The address is --to, else the one .ciswitch.toml records, else $CI_REGISTRY_IMAGE/stages,
    else one derived from the git remote and --registry-host.

    Runner steps (sync, switch, rollback-sync, unblock) can be run here with --run, where werf
    is installed.

    --run switch first verifies the change (exit 2 and nothing runs when a check fails): the
    change branch (--branch) exists on the remote and its own tree has no :local left; with
    GITLAB_TOKEN set, its merge request exists and its latest pipeline succeeded on that
    commit. The GitLab instance is --gitlab-url, else https://HOST of the remote URL.
    """
    explicit_to = to
    try:
        if not repo.is_dir():
            raise CiswitchError("not a directory", str(repo))
        ws = DirectoryWorkspace(repo)
        config = load_config(ws)
        # After ``ciswitch branch --to``, .ciswitch.toml remembers the address.
        to = to or config.stages_storage_address
        facts = gather_facts(
            ws, repo=str(repo), project=project, to=to, registry_host=registry_host,
            remote_url=git_remote_url(repo, remote), remote_name=remote,
            werf=detect_werf(werf_path),
        )
        if run_key is None:
            findings, problems = _branch_changes(ws, config)
            click.echo(render(build_plan(facts, findings, problems), fmt), nl=False)
            return
        the_plan = build_plan(facts, None)
        check_ready(the_plan, run_key)
        verdict = None
        if run_key == "switch":
            from ciswitch.runbook.guard import verify_switch

            verdict = verify_switch(ws.root, remote=remote, branch=change_branch,
                                    to=explicit_to, gitlab_url=gitlab_url)
        code = _run(the_plan, run_key, ws.root, yes, verdict, force)
    except SwitchRefused as err:
        click.echo("verified before the switch:", err=True)
        for line in err.verdict.lines():
            click.echo(f"  {line}", err=True)
        _fail(str(err))
        return
    except CiswitchError as err:
        _fail(str(err))
        return
    sys.exit(code)


def _run(the_plan: Plan, key: str, cwd: Path, yes: bool, verdict: SwitchVerdict | None,
         force: bool) -> int:
    """Confirm (or refuse without a terminal) and execute one runner-side step."""
    action = prepare(the_plan, key, verdict=verdict, force=force)

    def confirm(question: str) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            raise CiswitchError(
                f"--run {key}: stdin is not a terminal, so nobody can confirm; "
                "pass --yes to run it unattended"
            )
        return click.confirm(question, default=False, err=True)

    def echo(line: str) -> None:
        click.echo(line, err=True)

    return execute(action, cwd=cwd, confirm=confirm, echo=echo)
