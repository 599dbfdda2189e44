"""``ciswitch fleet``: run the switch over many repositories, resumably, in shards.

Subcommands: ``run`` (clone, fix, commit, push with merge request options; journal every
outcome), ``status`` (the journal as a table), ``survey`` (read-only: :local findings left per
branch), ``pipeline`` (a GitLab CI child pipeline running ``run`` in ``parallel:`` shards) and
``merge-reports`` (one table from the shards' journals or JSON reports).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from ciswitch.cli import SuggestingGroup
from ciswitch.cli.color_option import color_option
from ciswitch.cli.mr_options import merge_request_options_without_dry_run, parse_author
from ciswitch.cli.to_option import to_option

if TYPE_CHECKING:
    from ciswitch.branching import BranchRequest
    from ciswitch.fleet.api import ApiSettings
    from ciswitch.fleet.settings_step import SettingsFix
    from ciswitch.fleet.shard import Shard
    from ciswitch.fleet.sources import RepoSpec

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_WORKDIR = "ciswitch-fleet"


def _fail(err: Exception) -> None:
    from ciswitch.redact import redact

    click.echo(f"ciswitch: error: {redact(str(err))}", err=True)
    sys.exit(2)


def _source_options(func: F) -> F:
    for decorator in reversed([
        click.option("--repos", "repos_file", type=click.Path(path_type=Path, dir_okay=False),
                     help="File with one clone URL or local path per line (# comments)."),
        click.option("--gitlab-url", metavar="URL",
                     help="GitLab instance whose group to work on, or whose API to use for "
                          "the projects of --repos; git gets $GITLAB_TOKEN (from the "
                          "environment only) for its URLs."),
        click.option("--group", metavar="PATH", help="GitLab group (subgroups included)."),
        click.option("--workdir", type=click.Path(path_type=Path, file_okay=False),
                     default=DEFAULT_WORKDIR, show_default=True,
                     help="Where clones (and by default the journal) live."),
        click.option("--shard", "shard_text", metavar="I/N",
                     help="Work on share I of N (default: $CI_NODE_INDEX/$CI_NODE_TOTAL)."),
    ]):
        func = decorator(func)
    return func


def _state_option(func: F) -> F:
    return click.option(
        "--state", type=click.Path(path_type=Path, dir_okay=False),
        help="Journal file (default: <workdir>/ciswitch-fleet.sqlite).",
    )(func)


def _state_path(workdir: Path, state: Path | None) -> Path:
    from ciswitch.fleet.journal import DEFAULT_STATE

    return state if state is not None else workdir / DEFAULT_STATE


def _gitlab_auth(gitlab_url: str, token: str) -> None:
    """Let git authenticate to the GitLab host with the token, without putting it in a URL
    or on disk: a host-scoped ``http.extraHeader`` through git's ``GIT_CONFIG_*`` variables."""
    import base64

    basic = base64.b64encode(f"oauth2:{token}".encode()).decode("ascii")
    count = int(os.environ.get("GIT_CONFIG_COUNT", "0") or "0")
    os.environ[f"GIT_CONFIG_KEY_{count}"] = f"http.{gitlab_url.rstrip('/')}/.extraHeader"
    os.environ[f"GIT_CONFIG_VALUE_{count}"] = f"Authorization: Basic {basic}"
    os.environ["GIT_CONFIG_COUNT"] = str(count + 1)


def _load_specs(
    repos_file: Path | None, gitlab_url: str | None, group: str | None, shard_text: str | None,
) -> tuple[list[RepoSpec], Shard | None]:
    from ciswitch.errors import CiswitchError
    from ciswitch.fleet import shard as sharding
    from ciswitch.fleet import sources

    if repos_file is not None and group:
        raise CiswitchError("give one source: --repos FILE or --gitlab-url URL --group PATH")
    if repos_file is None and gitlab_url is None:
        raise CiswitchError(
            "give exactly one source: --repos FILE or --gitlab-url URL --group PATH"
        )
    if repos_file is None and not group:
        raise CiswitchError("--gitlab-url needs --group PATH (or --repos FILE)")
    if group and gitlab_url is None:
        raise CiswitchError("--group needs --gitlab-url URL")
    shard = sharding.parse_shard(shard_text) if shard_text else sharding.shard_from_env()
    token = os.environ.get("GITLAB_TOKEN") or None
    if repos_file is not None:
        specs = sources.read_repos_file(repos_file)
        token = os.environ.get("GITLAB_TOKEN") or None
        if gitlab_url is not None and token:
            _gitlab_auth(gitlab_url, token)
    else:
        assert gitlab_url is not None and group is not None
        specs = sources.gitlab_group(gitlab_url, group, token=token)
    if token and gitlab_url is not None:
        _gitlab_auth(gitlab_url, token)
    return sharding.select(specs, [s.key for s in specs], shard), shard


def _branch_options(func: F) -> F:
    for decorator in reversed([
        click.option("--branch", "branch", default="ciswitch/remote-stages-storage",
                     show_default=True, metavar="NAME", help="Name of the branch to create."),
        click.option("--target", metavar="BRANCH",
                     help="Merge request target (default: each remote's default branch)."),
        to_option("address", "Replace :local by this stages storage address instead of "
                  "removing it."),
        click.option("--unsafe-fixes", is_flag=True, help="Also apply unsafe fixes."),
        click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False),
                     help="Settings for every repository instead of each one's own."),
        merge_request_options_without_dry_run,
        click.option("--no-marker", is_flag=True, help="Do not write the .ciswitch.toml marker."),
        click.option("--force-update", is_flag=True,
                     help="Replace existing branches that carry a different change."),
    ]):
        func = decorator(func)
    return func


def _request(params: dict[str, Any], dry_run: bool) -> BranchRequest:
    from ciswitch import branching

    description = None
    if params["description_file"] is not None:
        description = branching.read_description(params["description_file"])
    config_file = params["config_file"]
    return branching.BranchRequest(
        branch=params["branch"], remote="origin", target=params["target"],
        to=params["address"], unsafe=params["unsafe_fixes"],
        config_file=config_file.resolve() if config_file is not None else None,
        author=parse_author(params["author"] or None),
        title=params["title"] or branching.DEFAULT_TITLE, description=description,
        draft=params["draft"], labels=tuple(params["labels"]),
        assignees=tuple(params["assignees"]), push_options=tuple(params["push_options"]),
        push=not params["no_push"], dry_run=dry_run, marker=not params["no_marker"],
        force_update=params["force_update"],
    )


@click.group("fleet", cls=SuggestingGroup)
def fleet() -> None:
    """Switch many repositories at once: merge requests everywhere, a journal, a table."""


@fleet.command("run")
@_source_options
@_state_option
@_branch_options
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Repositories worked on at the same time.")
@click.option("--batch-size", type=click.IntRange(0), default=0, metavar="N",
              help="Pause after every N repositories (0: no batches).")
@click.option("--pause", type=click.FloatRange(0), default=0.0, metavar="SECONDS",
              help="How long to pause between batches.")
@click.option("--dry-run", is_flag=True,
              help="Clone and fix, show each diff, record the would-be outcome; no commit/push.")
@click.option("--limit", type=click.IntRange(1), default=None, metavar="N",
              help="Work on at most N repositories (a first trial).")
@click.option("--retry-failed", is_flag=True, help="Also redo repositories that failed before.")
@click.option("--open-mr", "open_mr", type=click.Choice(["auto", "api", "push-options"]),
              default="auto", show_default=True,
              help="How merge requests open: through GitLab's API (auto: when --gitlab-url and "
                   "GITLAB_TOKEN are there) or with git push options.")
@click.option("--reviewer", "reviewers", multiple=True, metavar="USER",
              help="Merge request reviewer (repeatable; through the API only).")
@click.option("--keep-source-branch", is_flag=True,
              help="Do not delete the change branch when the merge request is merged.")
@click.option("--auto-merge", is_flag=True,
              help="Set each merge request to merge when its pipeline succeeds (API only).")
@click.option("--registry-host", metavar="HOST",
              help="Container Registry host, for the address in the plan the description "
                   "carries.")
@click.option("--gitlab-settings", is_flag=True,
              help="After the merge request, delete (with --to: set) each project's :local "
                   "CI/CD variables in GitLab's settings, as `fix --gitlab` does, journaled in "
                   "its clone (needs --gitlab-url and GITLAB_TOKEN).")
@click.option("--shared", is_flag=True,
              help="With --gitlab-settings, also change group and instance variables.")
@color_option
def run(**params: Any) -> None:
    """Clone each repository and do what `ciswitch branch` does; journal every outcome.

    Outcomes: clean, pushed, mr-opened, partial (pushed, places left for a manual change),
    prepared (--no-push: committed in the clone), dry-run, skipped, failed. Running the same
    command again resumes: a branch on a remote is never pushed again; prepared, dry-run and
    interrupted (pending) repositories are done again; failed ones only with --retry-failed,
    or when their remote has the branch (a push that landed is then found, not repeated).
    One run at a time per journal. Exit 1 when a repository failed or is partial, 130 on ^C.
    The run ends with the status table of its repositories (as `fleet status` prints it).

    With --gitlab-url and GITLAB_TOKEN the merge request is created or updated through
    GitLab's API: its description is the project's `ciswitch plan --format markdown`, with
    labels, assignees, reviewers, draft, remove-source-branch and --auto-merge; the journal
    records its URL, iid and state. Without a token, git push options open it.

    With --gitlab-settings, each project's :local CI/CD variables in GitLab's settings are
    then deleted as `ciswitch fix --gitlab` does (journaled in its clone: `ciswitch revert
    --gitlab CLONE` puts them back); `fleet switch --gitlab-settings` does it right before
    each switch instead, which keeps the jobs on :local until then.
    """
    from ciswitch.errors import CiswitchError
    from ciswitch.fleet import report, runner
    from ciswitch.fleet.journal import Journal, run_lock

    stopped_by: list[int] = []
    try:
        workdir: Path = params["workdir"].resolve()
        request = _request(params, params["dry_run"])
        specs, shard = _load_specs(
            params["repos_file"], params["gitlab_url"], params["group"], params["shard_text"]
        )
        options = runner.RunOptions(
            workdir=workdir, request=request, jobs=params["jobs"],
            batch_size=params["batch_size"], pause=params["pause"], limit=params["limit"],
            retry_failed=params["retry_failed"], shard=str(shard) if shard else None,
            command=shlex.join(["ciswitch", "fleet", *sys.argv[2:]]),
            api=_api_settings(params),
            settings=settings_fix(params),
        )
        state = _state_path(workdir, params["state"])
        with run_lock(state), Journal(state) as journal, _interruptible(stopped_by):
            progress = report.progress_for(sys.stdout, params["color"])
            _run_id, outcomes = runner.run_fleet(specs, journal, options, progress)
            latest = journal.latest()
            table = [latest[spec.key] for spec in specs if spec.key in latest]
        click.echo("")
        click.echo(report.render(table, "text"), nl=False)
    except runner.Interrupted as stop:
        signum = stopped_by[0] if stopped_by else int(signal.SIGINT)
        click.echo(
            f"ciswitch: interrupted: {stop.finished} repositories finished (journaled), "
            f"{stop.unfinished} not done; run the same command again to resume", err=True,
        )
        _leave_now(128 + signum)
    except KeyboardInterrupt:
        click.echo("ciswitch: interrupted before any repository was worked on", err=True)
        sys.exit(128 + (stopped_by[0] if stopped_by else int(signal.SIGINT)))
    except CiswitchError as err:
        _fail(err)
    sys.exit(runner.exit_code(outcomes))


def settings_fix(params: dict[str, Any]) -> SettingsFix | None:
    """``--gitlab-settings`` (and ``--shared``): how the step changes the settings."""
    from ciswitch.errors import CiswitchError
    from ciswitch.fleet.api import token_present
    from ciswitch.fleet.settings_step import SettingsFix

    if not params["gitlab_settings"]:
        if params["shared"]:
            raise CiswitchError("--shared goes with --gitlab-settings")
        return None
    if not (params["gitlab_url"] and token_present()):
        raise CiswitchError("--gitlab-settings needs --gitlab-url URL and GITLAB_TOKEN")
    return SettingsFix(params["gitlab_url"], to=params.get("address"),
                       unsafe=bool(params.get("unsafe_fixes")), shared=params["shared"],
                       dry_run=bool(params.get("dry_run")))


def _api_settings(params: dict[str, Any]) -> ApiSettings | None:
    """The API settings of ``fleet run``: with --gitlab-url and a token, else None (push
    options); API-only options without a token are an error."""
    from ciswitch.errors import CiswitchError
    from ciswitch.fleet.api import ApiSettings, token_present

    if params["open_mr"] == "api" and not (params["gitlab_url"] and token_present()):
        raise CiswitchError("--open-mr api needs --gitlab-url URL and GITLAB_TOKEN")
    if params["open_mr"] != "push-options" and params["gitlab_url"] and token_present():
        return ApiSettings(params["gitlab_url"], tuple(params["reviewers"]),
                           not params["keep_source_branch"], params["auto_merge"],
                           params["registry_host"])
    for name, flag in (("reviewers", "--reviewer"), ("auto_merge", "--auto-merge")):
        if params[name]:
            raise CiswitchError(f"{flag} needs GitLab's API: --gitlab-url URL and GITLAB_TOKEN")
    return None


def _leave_now(status: int) -> NoReturn:
    """End an interrupted run at once. Its outcomes are journaled, the journal and the lock
    closed and its git processes stopped; what is left is worker threads ending the work
    they were given (their git refused, their pushes forbidden), which the interpreter's exit
    would wait for."""
    with contextlib.suppress(OSError):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(status)


@contextlib.contextmanager
def _interruptible(stopped_by: list[int]) -> Iterator[None]:
    """SIGTERM (a cancelled CI job) stops the run as ^C does; ``stopped_by`` says which."""

    def stop(signum: int, _frame: object) -> None:
        stopped_by.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@fleet.command("status")
@click.option("--workdir", type=click.Path(path_type=Path, file_okay=False),
              default=DEFAULT_WORKDIR, show_default=True, help="The fleet run's workdir.")
@_state_option
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv", "markdown"]),
              default="text", show_default=True, help="Table format.")
@click.option("--all-runs", is_flag=True, help="Every row of every run, not the latest only.")
@click.option("--refresh", is_flag=True,
              help="Ask GitLab's API (--gitlab-url, GITLAB_TOKEN) about each merge request: "
                   "state, latest pipeline, conflicts, approvals.")
@click.option("--gitlab-url", metavar="URL", help="GitLab instance for --refresh.")
@click.option("--branch", default="ciswitch/remote-stages-storage", show_default=True,
              metavar="NAME", help="Change branch, for rows that do not name one.")
def status(workdir: Path, state: Path | None, fmt: str, all_runs: bool, refresh: bool,
           gitlab_url: str | None, branch: str) -> None:
    """Print the journal: where every repository stands.

    Merge requests opened through GitLab's API show their iid, state and URL as journaled
    (by `fleet run`, `fleet switch` or the last --refresh), and when they were last refreshed.
    With --refresh, each project's merge request is read from GitLab's API (a progress bar on
    a terminal) and its state is written back to the journal.
    """
    from ciswitch.errors import CiswitchError
    from ciswitch.fleet import journal, report
    from ciswitch.fleet.steps import merge_request_facts

    try:
        with journal.open_existing(_state_path(workdir, state)) as opened:
            rows = opened.rows() if all_runs else list(opened.latest().values())
        if refresh:
            from ciswitch.cli.fleet_procedure_cmd import refreshed

            click.echo(refreshed(rows, _state_path(workdir, state), gitlab_url, branch, fmt),
                       nl=False)
            return
        if gitlab_url:
            raise CiswitchError("--gitlab-url goes with --refresh")
        mrs = merge_request_facts(_state_path(workdir, state))
    except CiswitchError as err:
        _fail(err)
    click.echo(report.render(rows, fmt, mrs), nl=False)


#: run options the pipeline sets itself
_PIPELINE_OWNED = ("--shard", "--state", "--workdir")


@fleet.command(
    "pipeline", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
@click.option("--shards", type=click.IntRange(1, 200), required=True, metavar="N",
              help="Number of parallel jobs (GitLab's parallel: N).")
@click.option("--image", default="python:3.11", show_default=True,
              help="Image the jobs run in (git is installed when it has none).")
@click.option("--pip-spec", metavar="SPEC",
              help="Where pip installs ciswitch from, written as the CISWITCH_PIP_SPEC default "
                   "(a CI/CD variable of that name wins; without either the job stops).")
@click.option("--install", metavar="COMMAND",
              help="Install ciswitch with this command instead of pip and CISWITCH_PIP_SPEC.")
@click.argument("run_args", nargs=-1, type=click.UNPROCESSED)
def pipeline(shards: int, image: str, pip_spec: str | None, install: str | None,
             run_args: tuple[str, ...]) -> None:
    """Print a GitLab CI configuration running `fleet run` in N shards, then merging reports.

    Every further option is a `fleet run` option passed to each shard (checked here); a
    source (--repos FILE, committed in the project, or --gitlab-url URL --group PATH) is
    required. The jobs read the CI/CD variables CISWITCH_PIP_SPEC (where pip installs
    ciswitch from) and GITLAB_TOKEN (masked; kept out of the install's environment).
    """
    from ciswitch.errors import CiswitchError
    from ciswitch.fleet.pipeline import render_pipeline

    try:
        for arg in run_args:
            if arg.split("=", 1)[0] in _PIPELINE_OWNED:
                raise CiswitchError(f"{arg.split('=', 1)[0]} is set by the pipeline itself")
        try:
            ctx = run.make_context("run", list(run_args))
        except click.ClickException as err:
            raise CiswitchError(f"invalid run option: {err.format_message()}") from err
        given = ctx.params
        if given.get("repos_file") is None and not (given.get("gitlab_url") and given.get("group")):
            raise CiswitchError(
                "the pipeline needs a source for its shards: --repos FILE (a file committed in "
                "the project) or --gitlab-url URL --group PATH"
            )
        if given.get("repos_file") is not None and given.get("group"):
            raise CiswitchError("give one source: --repos FILE or --group PATH, not both")
        for text in (pip_spec, install):
            if text is not None and ("\n" in text or not text.strip()):
                raise CiswitchError("--pip-spec and --install take one non-empty line")
    except CiswitchError as err:
        _fail(err)
    click.echo(render_pipeline(shards, run_args, image=image, install=install,
                               pip_spec=pip_spec), nl=False)


@fleet.command("merge-reports")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(path_type=Path, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv", "markdown"]),
              default="text", show_default=True, help="Format of the merged table.")
def merge_reports(files: tuple[Path, ...], fmt: str) -> None:
    """Merge shard journals (or JSON status reports) into one table."""
    from ciswitch.errors import CiswitchError
    from ciswitch.fleet import merge, report

    try:
        rows = merge.merge(files)
    except CiswitchError as err:
        _fail(err)
    click.echo(report.render(rows, fmt), nl=False)


@fleet.command("survey")
@_source_options
@click.option("--all-branches", is_flag=True, help="Every branch, not only the default one.")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Repositories surveyed at the same time.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv", "markdown"]),
              default="text", show_default=True, help="Table format.")
@click.option("--no-gitlab-settings", is_flag=True,
              help="Do not read the projects' CI/CD variables in GitLab's settings (read by "
                   "default with --gitlab-url and GITLAB_TOKEN).")
def survey(
    repos_file: Path | None, gitlab_url: str | None, group: str | None, workdir: Path,
    shard_text: str | None, all_branches: bool, jobs: int, fmt: str,
    no_gitlab_settings: bool,
) -> None:
    """Count the :local places left per repository (read-only; nothing is pushed).

    A branch that could not be read shows ? with the reason, one with places not checked
    (includes from other projects, unreadable scripts) its count as a lower bound (2+?);
    the exit status is 1 when any repository was not fully checked.

    With --gitlab-url and GITLAB_TOKEN, each project's CI/CD variables in GitLab's settings
    are read too: a :local there that reaches a job counts as a place left.
    """
    from ciswitch.errors import CiswitchError
    from ciswitch.fleet.survey import (
        SurveyRow,
        incomplete_repositories,
        render_survey,
        survey_repo,
    )

    try:
        specs, _shard = _load_specs(repos_file, gitlab_url, group, shard_text)
    except CiswitchError as err:
        _fail(err)
    root = workdir.resolve()
    from ciswitch.fleet.api import token_present

    settings_url = (gitlab_url if gitlab_url is not None and token_present()
                    and not no_gitlab_settings else None)
    rows: list[SurveyRow] = []
    if jobs > 1 and len(specs) > 1:
        from concurrent.futures import ThreadPoolExecutor

        # threads, as fleet run: each repository's credentials reach its own git processes
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="survey") as pool:
            for found in pool.map(survey_repo, specs, [root] * len(specs),
                                  [all_branches] * len(specs), [settings_url] * len(specs)):
                rows += found
    else:
        for spec in specs:
            rows += survey_repo(spec, root, all_branches, settings_url)
    click.echo(render_survey(rows, fmt), nl=False)
    if incomplete_repositories(rows):
        sys.exit(1)  # a repository not fully checked is not a clean survey


def _register() -> None:
    """The procedure's runner-side commands live in their own module."""
    from ciswitch.cli import fleet_procedure_cmd as procedure

    for command in (procedure.sync, procedure.switch, procedure.branches):
        fleet.add_command(command)


_register()
