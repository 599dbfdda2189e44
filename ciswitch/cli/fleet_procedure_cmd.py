"""``ciswitch fleet sync``, ``switch`` and ``branches``: the runner half of the procedure
for a whole GitLab, and the table ``fleet status --refresh`` prints."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ciswitch.cli.fleet_cmd import _fail, _load_specs, _source_options, _state_option, _state_path
from ciswitch.cli.mr_options import FIX_MR_PARAMS, fix_merge_request_options


def refreshed(rows: list[Any], state: Path, gitlab_url: str | None, branch: str,
               fmt: str) -> str:
    from ciswitch.fleet import refresh
    from ciswitch.fleet.steps import Steps
    from ciswitch.gitlab_api import from_environment

    from_environment(gitlab_url)  # a missing URL or token is an error before any request
    assert gitlab_url is not None
    with Steps(state) as steps:
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import Progress

            # the bar goes to the terminal, the table to standard output (maybe a file)
            with Progress(transient=True, console=Console(file=sys.stderr)) as bar:
                task = bar.add_task("asking GitLab", total=len(rows))
                found = refresh.refresh(rows, steps, gitlab_url, branch,
                                        lambda: bar.advance(task))
        else:
            found = refresh.refresh(rows, steps, gitlab_url, branch, lambda: None)
    return refresh.render(found, fmt)


@click.command("sync")
@_source_options
@_state_option
@click.option("-j", "--jobs", type=click.IntRange(1, 32), default=2, show_default=True,
              help="Projects synced at the same time.")
@click.option("--registry-host", metavar="HOST",
              help="Container Registry host, to derive each project's address as plan does.")
@click.option("--branch", default="ciswitch/remote-stages-storage", show_default=True,
              metavar="NAME", help="Change branch whose .ciswitch.toml may name the address.")
@click.option("--werf", "werf_path", default="werf", show_default=True, metavar="PATH",
              help="The werf 1.1 executable on this runner host.")
@click.option("--docker", "docker_path", default="docker", show_default=True, metavar="PATH",
              help="docker, asked which projects have local stages on this host.")
@click.option("--werf-project", "werf_projects", multiple=True, metavar="PROJECT=NAME",
              help="The werf project name of PROJECT (name, path or URL) when its werf.yaml "
                   "does not say it plainly (a templated name); repeatable.")
@click.option("--retries", type=click.IntRange(0, 10), default=2, show_default=True,
              help="Retries of a failed sync (never after an authentication error).")
@click.option("--retry-delay", type=click.FloatRange(0), default=5.0, show_default=True,
              metavar="SECONDS", help="Wait before retry N: N times this.")
@click.option("--retry-failed", is_flag=True, help="Also redo projects that failed before.")
@click.option("--dry-run", is_flag=True,
              help="Say which projects would be synced with which command; run no werf "
                   "command, journal nothing.")
def sync(**params: Any) -> None:
    """On a runner host: copy every project's local stages to its registry address.

    For each project with local stages here, `werf stages sync --from :local --to ADDRESS`
    with the werf project name and address plan derives, in its clone; one log file per
    project under <workdir>/logs/sync/. Resumable: projects synced or skipped before are left.
    Projects without local stages here are skipped with the reason; one whose clone failed,
    whose address cannot be derived, or for which docker cannot tell, failed. Exit 1 when
    any failed.
    """
    from ciswitch.errors import CiswitchError
    from ciswitch.fleet import procedure
    from ciswitch.fleet.steps import FAILED, Steps

    try:
        workdir: Path = params["workdir"].resolve()
        specs, _shard = _load_specs(params["repos_file"], params["gitlab_url"],
                                    params["group"], params["shard_text"])
        options = procedure.SyncOptions(
            workdir=workdir, werf=params["werf_path"], docker=params["docker_path"],
            branch=params["branch"], registry_host=params["registry_host"],
            jobs=params["jobs"], retries=params["retries"],
            retry_delay=params["retry_delay"], retry_failed=params["retry_failed"],
            dry_run=params["dry_run"],
            projects=tuple(procedure.werf_names(specs, params["werf_projects"]).items()))
        with Steps(_state_path(workdir, params["state"])) as steps:
            results = procedure.sync_fleet(specs, steps, options, click.echo)
    except CiswitchError as err:
        _fail(err)
    click.echo(f"sync: {_counts(r.status for r in results) or 'nothing to do'}")
    sys.exit(1 if any(r.status == FAILED for r in results) else 0)


def _switch_settings(params: dict[str, Any]) -> Any:
    """``--gitlab-settings`` of ``fleet switch`` (the address is each project's own)."""
    from ciswitch.errors import CiswitchError
    from ciswitch.fleet.settings_step import SettingsFix

    if not params["gitlab_settings"]:
        if params["shared"] or params["unsafe_fixes"]:
            raise CiswitchError("--shared and --unsafe-fixes go with --gitlab-settings")
        return None
    return SettingsFix(params["gitlab_url"], unsafe=params["unsafe_fixes"],
                       shared=params["shared"], dry_run=params["dry_run"])


def _counts(statuses: Any) -> str:
    from collections import Counter

    found = Counter(statuses)
    return ", ".join(f"{n} {s}" for s, n in sorted(found.items()))


@click.command("switch")
@_source_options
@_state_option
@click.option("--registry-host", metavar="HOST",
              help="Container Registry host, to derive each project's address as plan does.")
@click.option("--branch", default="ciswitch/remote-stages-storage", show_default=True,
              metavar="NAME", help="The change branch of every merge request.")
@click.option("--werf", "werf_path", default="werf", show_default=True, metavar="PATH",
              help="The werf 1.1 executable on this runner host.")
@click.option("--werf-project", "werf_projects", multiple=True, metavar="PROJECT=NAME",
              help="The werf project name of PROJECT (name, path or URL) when its werf.yaml "
                   "does not say it plainly (a templated name); repeatable.")
@click.option("--only", multiple=True, metavar="PROJECT",
              help="Only this project (name, path or URL; repeatable).")
@click.option("--limit", type=click.IntRange(1), default=None, metavar="N",
              help="Switch at most N projects.")
@click.option("--dry-run", is_flag=True, help="Verify and show what would run; change nothing.")
@click.option("--gitlab-settings", is_flag=True,
              help="Right before each switch, delete the project's :local CI/CD variables in "
                   "GitLab's settings, as `fix --gitlab` does (journaled in its clone).")
@click.option("--shared", is_flag=True,
              help="With --gitlab-settings, also change group and instance variables.")
@click.option("--unsafe-fixes", is_flag=True,
              help="With --gitlab-settings, also delete :local synchronization.")
def switch(**params: Any) -> None:
    """On a runner host: switch and merge each project, strictly one at a time.

    Per project: verify (its merge request exists, its branch lints clean from its own tree,
    its latest pipeline succeeded on that commit), run `werf stages switch-from-local --to
    ADDRESS` in its clone, check the block file, then merge the merge request through the API
    at once with the commit the pipeline ran on. The window between switch and merge is
    recorded. It stops at the first failure; when the merge fails it prints that project's
    rollback. Resumable: a project switched but not merged is merged first, never switched
    twice. Needs --gitlab-url and GITLAB_TOKEN.

    With --gitlab-settings, the project's :local CI/CD variables in GitLab's settings are
    deleted right before its verification (journaled in its clone); the verification refuses
    the switch while one still reaches a job.
    """
    from ciswitch.errors import CiswitchError
    from ciswitch.fleet import procedure
    from ciswitch.fleet.steps import FAILED, Steps
    from ciswitch.gitlab_api import from_environment

    try:
        workdir: Path = params["workdir"].resolve()
        from_environment(params["gitlab_url"])
        specs, _shard = _load_specs(params["repos_file"], params["gitlab_url"],
                                    params["group"], params["shard_text"])
        options = procedure.SwitchOptions(
            workdir=workdir, werf=params["werf_path"], branch=params["branch"],
            gitlab_url=params["gitlab_url"], registry_host=params["registry_host"],
            only=tuple(params["only"]), limit=params["limit"], dry_run=params["dry_run"],
            projects=tuple(procedure.werf_names(specs, params["werf_projects"]).items()),
            settings=_switch_settings(params))
        with Steps(_state_path(workdir, params["state"])) as steps:
            results = procedure.switch_fleet(specs, steps, options, click.echo)
    except CiswitchError as err:
        _fail(err)
    click.echo(f"switch: {_counts(r.status for r in results) or 'nothing to do'}")
    sys.exit(1 if any(r.status == FAILED for r in results) else 0)


@click.command("branches")
@_source_options
@_state_option
@click.option("--active-since", metavar="AGE",
              help="Only branches with a commit in the last AGE (12h, 30d, 2w).")
@click.option("--mr", is_flag=True,
              help="Open a merge request into each branch instead of pushing onto it.")
@fix_merge_request_options
@click.option("--dry-run", is_flag=True, help="Say what would be pushed; push nothing.")
def branches(repos_file: Path | None, gitlab_url: str | None, group: str | None,
             workdir: Path, shard_text: str | None, state: Path | None,
             active_since: str | None, mr: bool, dry_run: bool, **mr_params: Any) -> None:
    """After the switch: `ciswitch branches --fix` over every repository of the fleet.

    Each active branch still carrying :local gets the same fix as a new commit on top (or,
    with --mr, a merge request into it: through GitLab's API with --gitlab-url and
    GITLAB_TOKEN, else with push options); never a force push, refused when the branch moved
    since it was read. One line per branch, each journaled with its merge request's URL, iid
    and state; exit 1 when any could not be fixed.
    """
    from ciswitch import branch_scan, gitops
    from ciswitch.cli.mr_options import merge_request_way
    from ciswitch.errors import CiswitchError
    from ciswitch.fleet.runner import sync_clone
    from ciswitch.fleet.sources import auth_env
    from ciswitch.fleet.steps import Steps
    from ciswitch.redact import redact
    from ciswitch.runbook.branch_fix import fix_branches

    bad = False
    try:
        age = branch_scan.parse_age(active_since) if active_since else None
    except ValueError as err:
        _fail(CiswitchError(f"--active-since: {err}"))
    try:
        given = [name for name in FIX_MR_PARAMS if mr_params[name]]
        if (given or mr_params["open_mr"] != "auto") and not mr:
            raise CiswitchError("--open-mr and the merge request options go with --mr")
        way = merge_request_way(mr_params, gitlab_url) if mr else None
        specs, _shard = _load_specs(repos_file, gitlab_url, group, shard_text)
        root = workdir.resolve()
        with Steps(_state_path(root, state)) as steps:
            for spec in specs:
                try:
                    with auth_env(spec):  # clone, fetch and push with the URL's credentials
                        clone = sync_clone(spec, root)
                        if clone is None:
                            click.echo(f"{spec.name}: skipped: empty repository")
                            continue
                        this_way = way
                        if way is not None and way.gitlab_url is not None:
                            from dataclasses import replace

                            from ciswitch.fleet.api import project_path

                            this_way = replace(
                                way, project_path=project_path(spec, way.gitlab_url), _api=[])
                        fixes = fix_branches(gitops.open_repo(clone), "origin",
                                             active_since=age, mr=mr, dry_run=dry_run,
                                             fetch=False, way=this_way)
                except CiswitchError as err:
                    click.echo(f"{spec.name}: failed: {redact(str(err))}")
                    bad = True
                    continue
                if not fixes:
                    click.echo(f"{spec.name}: no active branch carries :local")
                for found in fixes:
                    click.echo(redact(f"{spec.name}: {found.line()}"))
                    bad = bad or found.status in ("failed", "refused", "unfixable")
                    if not dry_run:
                        steps.put(spec.key, f"branch:{found.branch}", found.status,
                                  found.detail, name=spec.name, mr_url=found.mr_url,
                                  mr_iid=found.mr_iid, mr_state=found.mr_state,
                                  sha=found.commit)
    except CiswitchError as err:
        _fail(err)
    sys.exit(1 if bad else 0)
