"""``ciswitch plan``: the project's migration runbook, and ``--run`` for its runner-side steps."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click

from ciswitch.config import Config, load_config
from ciswitch.errors import CiswitchError
from ciswitch.model import Finding
from ciswitch.runbook.facts import detect_werf, gather_facts, git_remote_url
from ciswitch.runbook.plan import RUNNABLE, Plan, build_plan, render
from ciswitch.runbook.runner import execute, prepare
from ciswitch.workspace import DirectoryWorkspace


def _branch_changes(ws: DirectoryWorkspace, config: Config) -> tuple[list[Finding], list[str]]:
    """What ``ciswitch branch`` will change: the places its fix takes (unsafe fixes included,
    the plan then adds ``--unsafe-fixes``) and the places left; plus input problems."""
    from ciswitch.fix import plan_fix

    outcome = plan_fix(ws, config, unsafe=True)
    left = [replace(f, fix=None) for f in outcome.remaining]
    return [*outcome.fixed, *left], [p.one_line() for p in outcome.problems]


def _fail(message: str) -> None:
    click.echo(f"ciswitch: error: {message}", err=True)
    sys.exit(2)


@click.command("plan")
@click.argument("repo", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--to", "to", metavar="ADDR",
              help="Remote stages storage address (default: $CI_REGISTRY_IMAGE/stages, else "
                   "derived from the git remote and --registry-host).")
@click.option("--registry-host", metavar="HOST",
              help="The GitLab Container Registry host, to derive the address from the remote.")
@click.option("--project", metavar="NAME",
              help="werf project name, when werf.yaml does not tell it statically.")
@click.option("--remote", default="origin", show_default=True,
              help="Git remote whose URL gives the project path.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]),
              default="text", show_default=True)
@click.option("--run", "run_key", type=click.Choice(RUNNABLE),
              help="Run this runner-side step here (asks first).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before --run (for scripts).")
@click.option("--werf", "werf_path", metavar="PATH", help="The werf executable (default: on PATH).")
def plan(
    repo: Path, to: str | None, registry_host: str | None, project: str | None, remote: str,
    fmt: str, run_key: str | None, yes: bool, werf_path: str | None,
) -> None:
    """Print the ordered steps that move REPO to remote stages storage, and the rollback.

    The address is --to, else the one .ciswitch.toml records, else $CI_REGISTRY_IMAGE/stages,
    else one derived from the git remote and --registry-host.

    Runner steps (sync, switch, rollback-sync, unblock) can be run here with --run, where werf
    is installed.
    """
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
        code = _run(build_plan(facts, None), run_key, ws.root, yes)
    except CiswitchError as err:
        _fail(str(err))
        return
    sys.exit(code)


def _run(the_plan: Plan, key: str, cwd: Path, yes: bool) -> int:
    """Confirm (or refuse without a terminal) and execute one runner-side step."""
    action = prepare(the_plan, key)

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
