"""The gate in front of ``werf stages switch-from-local``: what must be true before it runs.

The switch deletes the runner's local stages and makes werf refuse ``:local`` for the project
from then on, so every pipeline still on ``:local`` fails. It is safe only once the change that
removes ``:local`` is ready to merge:

1. ``branch``: the change branch exists on the remote now (asked live with ``ls-remote``);
   when it does not, the remote's default branch counts if it already carries the ciswitch
   commit (the merge request was merged before the switch ran on this host);
2. ``lint``: that branch's CI configuration, linted from the branch's own tree with the
   configuration found there (as a pipeline on it sees it), has no ``:local`` left: no CSW001,
   CSW002 or CSW003 finding, and no CSW004 unless an address is known for those commands
   (``stages-storage-address`` in that tree's ``.ciswitch.toml``, or ``--to``); a file that
   cannot be read fails the check, since ``:local`` may hide there;
3. ``coverage``: includes and scripts the lint could not follow are listed, never counted as
   clean (``not-checked``, which does not block unless the branch's configuration says
   ``strict = true``);
4. ``settings``, with a GitLab token (``GITLAB_TOKEN``): no CI/CD variable GitLab keeps for the
   project (its own, its groups', the instance's, its schedules') still sets ``:local`` for a
   job of that branch (they win over the files' variables, and ``werf ci-env`` does not
   override them); without a token this is ``not-checked``. The lint of 2 runs with them, so
   a registry address in the settings counts for the commands without ``werf ci-env``;
5. ``merge-request`` and ``pipeline``, with a GitLab token (``GITLAB_TOKEN``): the merge request
   from that branch exists and its latest pipeline succeeded on the commit linted in 2.

The GitLab instance and project path come from the remote's URL as configured
(``remote.<name>.url``, before any ``insteadOf``): ``https://HOST`` for ssh remotes, the URL's
own scheme, host and port for http(s) ones; ``gitlab_url`` (``--gitlab-url``) names the instance
instead, and a path prefix it has (``https://host/gitlab``) is taken off the project path.

:func:`verify_switch` returns a :class:`SwitchVerdict` listing every check as ``passed``,
``failed`` or ``not-checked`` with the reason; it never raises for a failed check, so any
command (``plan --run switch`` today, a fleet-wide switch later) can show it, refuse, or, when
forced, name what is missing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from ciswitch import rules
from ciswitch.errors import CiswitchError
from ciswitch.model import counted
from ciswitch.redact import redact

if TYPE_CHECKING:
    import git

    from ciswitch.analysis.settings import GitLabSettings
    from ciswitch.gitlab_api import GitLabClient, MergeRequestInfo, ProjectInfo
    from ciswitch.model import Finding, NotChecked

CheckState = Literal["passed", "failed", "not-checked"]
#: what blocks the switch unless forced
BLOCKING: CheckState = "failed"
#: codes that mean ``:local`` is still set on the branch (in its files; GitLab's settings are
#: their own check), and the one needing an address
LOCAL_CODES = rules.LOCAL_CODES - {rules.SETTINGS_CODE}
NO_STORAGE_CODE = rules.NEEDS_ADDRESS_CODE
SETTINGS_CODE = rules.SETTINGS_CODE
SETTINGS_TITLE = "CI/CD variables in GitLab's settings"
#: findings named in a check's reason before "and N more"
_SHOWN = 3


@dataclass(frozen=True)
class Check:
    """One thing verified before the switch, and what was found."""

    key: str
    title: str
    state: CheckState
    detail: str

    def line(self) -> str:
        return f"{self.state:<11} {self.title}: {self.detail}"


@dataclass(frozen=True)
class SwitchVerdict:
    """Every check, in order; the switch may run when none has failed."""

    remote: str
    branch: str
    #: the commit whose tree was linted (the tip of ``checked_branch`` on the remote)
    sha: str | None
    #: the branch actually checked: ``branch``, or the default branch carrying the change
    checked_branch: str | None
    checks: tuple[Check, ...]

    @property
    def allowed(self) -> bool:
        return not self.failed

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.state == BLOCKING)

    def check(self, key: str) -> Check:
        return next(c for c in self.checks if c.key == key)

    def lines(self) -> list[str]:
        """The verdict for a terminal: one line per check."""
        return [c.line() for c in self.checks]

    def missing(self) -> str:
        """What failed, on one line (for the refusal and the ``--force`` warning)."""
        return "; ".join(f"{c.title}: {c.detail}" for c in self.failed)

    def as_json(self) -> dict[str, object]:
        return {
            "allowed": self.allowed, "remote": self.remote, "branch": self.branch,
            "checked_branch": self.checked_branch, "commit": self.sha,
            "checks": [{"key": c.key, "title": c.title, "state": c.state, "detail": c.detail}
                       for c in self.checks],
        }


# ---------------------------------------------------------------------------------------------
# where GitLab is


def gitlab_location(remote_url: str, gitlab_url: str | None = None) -> tuple[str, str]:
    """The GitLab instance URL and the project path for a remote URL (see the module
    docstring); a one-line :class:`CiswitchError` when the URL does not name a project."""
    from ciswitch.runbook.facts import parse_remote_url

    remote = parse_remote_url(remote_url)
    path = remote.path
    if gitlab_url:
        prefix = urlsplit(gitlab_url).path.strip("/")
        if prefix and path.lower().startswith(prefix.lower() + "/"):
            path = path[len(prefix) + 1:]
        return gitlab_url.rstrip("/"), path
    if "://" in remote_url:
        split = urlsplit(remote_url)
        if split.scheme.lower() in ("http", "https"):
            port = f":{split.port}" if split.port else ""
            return f"{split.scheme.lower()}://{remote.host}{port}", path
    return f"https://{remote.host}", path


# ---------------------------------------------------------------------------------------------
# the checks


def _settings_alone(settings: GitLabSettings) -> Check:
    """Check 4 with no branch to lint: any ``:local`` among the settings blocks."""
    from ciswitch.analysis.values import is_local

    held = [f"gitlab: {v.place}" for v in settings.variables if is_local(v.value)]
    if held:
        return Check("settings", SETTINGS_TITLE, "failed",
                     f"{counted(len(held), 'variable')} still set :local: "
                     f"{'; '.join(held[:_SHOWN])}; "
                     "delete them "
                     "first (ciswitch fix --gitlab)")
    return Check("settings", SETTINGS_TITLE, "passed", "no :local among them")


def _configured_url(repo: git.Repo, remote: str) -> str | None:
    from ciswitch import gitops

    try:
        out = gitops.run_git(repo, f"cannot read the URL of remote {remote}", "config", "--get",
                             f"remote.{remote}.url")
    except CiswitchError:
        return None
    return out.strip() or None


def _tip(repo: git.Repo, remote: str, branch: str) -> str | None:
    """The branch's commit on the remote now, its objects fetched (no ref written)."""
    from ciswitch import gitops

    sha = gitops.remote_branch_sha(repo, remote, branch)
    if sha is not None and gitops.resolve_commit(repo, sha) is None:
        gitops.fetch_objects(repo, remote, branch)
        if gitops.resolve_commit(repo, sha) is None:
            raise CiswitchError(f"branch {branch} moved on {remote} while reading it: run again")
    return sha


def _branch_check(repo: git.Repo, remote: str, branch: str
                  ) -> tuple[Check, str | None, str | None, bool]:
    """Check 1: ``(check, branch checked, its sha, whether it is the merged default branch)``."""
    from ciswitch import gitops

    title = "change branch"
    try:
        sha = _tip(repo, remote, branch)
    except CiswitchError as err:
        return Check("branch", title, "failed", redact(err.message)), None, None, False
    if sha is not None:
        carries = gitops.has_trailer_commit(repo, sha)
        note = "carries the ciswitch commit" if carries else "no ciswitch commit on it"
        return (Check("branch", title, "passed", f"{remote}/{branch} is at {sha[:10]} ({note})"),
                branch, sha, False)
    try:
        default = gitops.default_branch(repo, remote)
        base = _tip(repo, remote, default)
    except CiswitchError as err:
        return (Check("branch", title, "failed",
                      f"no branch {branch} on {remote}, and its default branch cannot be read: "
                      f"{redact(err.message)}"), None, None, False)
    if base is not None and gitops.has_trailer_commit(repo, base):
        return (Check("branch", title, "passed",
                      f"no branch {branch} on {remote}, but {remote}/{default} ({base[:10]}) "
                      "already carries the ciswitch commit"), default, base, True)
    return (Check("branch", title, "failed",
                  f"no branch {branch} on {remote} and {remote}/{default} carries no ciswitch "
                  "commit: open the merge request first (ciswitch branch)"), None, None, False)


def lint_checks(repo: git.Repo, remote: str, branch: str, sha: str, to: str | None,
                settings: GitLabSettings | None = None) -> list[Check]:
    """Checks 2 and 3: lint the branch's own tree with the configuration found in it (and
    GitLab's CI/CD ``settings`` of the project when they were read: then a third check, 4)."""
    from ciswitch.config import load_config
    from ciswitch.git_tree import GitTreeWorkspace
    from ciswitch.lint import analyse_workspace

    title = f"CI configuration of {remote}/{branch}"
    ws = GitTreeWorkspace(repo, sha, label=f"{remote}/{branch}@{sha[:10]}")
    try:
        config = load_config(ws)
        result = analyse_workspace(ws, config, settings=settings).result
    except CiswitchError as err:
        return [Check("lint", title, "failed", f"cannot be linted: {redact(str(err))}"),
                Check("coverage", "places not followed", "not-checked",
                      "the configuration could not be read")]
    where = f"{remote}/{branch}@{sha[:10]}"
    ordered = sorted(result.findings, key=lambda f: f.sort_key)
    local = [f for f in ordered if f.code in LOCAL_CODES]
    no_storage = [f for f in ordered if f.code == NO_STORAGE_CODE]
    address = to or config.stages_storage_address
    source = "--to" if to else f"stages-storage-address of {config.source}"

    def places(found: list[Finding]) -> str:
        shown = ", ".join(f"{f.path}:{f.begin.line} {f.code}" for f in found[:_SHOWN])
        return shown + (f" and {len(found) - _SHOWN} more" if len(found) > _SHOWN else "")

    if result.problems:
        first = result.problems[0].one_line()
        more = f" (and {len(result.problems) - 1} more)" if len(result.problems) > 1 else ""
        lint = Check("lint", title, "failed", f"{where}: not every file could be read, "
                                              f"so :local may be left: {first}{more}")
    elif local:
        lint = Check("lint", title, "failed",
                     f"{where} still uses :local in {counted(len(local), 'place')}: "
                     f"{places(local)}")
    elif no_storage and not address:
        lint = Check("lint", title, "failed",
                     f"{where}: {counted(len(no_storage), 'werf command')} would have no "
                     "stages storage: "
                     f"{places(no_storage)}; give them `werf ci-env` or an address "
                     "(pass --to ADDR, or stages-storage-address in .ciswitch.toml)")
    elif no_storage:
        lint = Check("lint", title, "passed",
                     f"{where}: no :local left; {counted(len(no_storage), 'werf command')} without "
                     f"`werf ci-env` are addressed by {address} ({source})")
    else:
        lint = Check("lint", title, "passed",
                     f"{where}: no :local stages storage left "
                     f"({counted(len(result.files), 'file')} "
                     "linted from the branch's own tree)")
    gaps = [e for e in result.not_checked if e.in_file]
    if gaps:
        first_gap = gaps[0]
        more = f" (and {len(gaps) - 1} more)" if len(gaps) > 1 else ""
        # ``strict = true`` in the branch's configuration: every place must be checked
        state: CheckState = "failed" if result.strict else "not-checked"
        why = " (strict = true: every place must be checked)" if result.strict else ""
        coverage = Check("coverage", "places not followed", state,
                         f"{first_gap.where()}: {first_gap.message}{more}{why}")
    else:
        coverage = Check("coverage", "places not followed", "passed",
                         "every include and script of the branch was read")
    if settings is None:
        return [lint, coverage]
    return [lint, coverage, settings_check(settings, result.findings,
                                           [e for e in result.not_checked if not e.in_file])]


def settings_check(settings: GitLabSettings, findings: list[Finding],
                   unread: list[NotChecked]) -> Check:
    """Check 4 from the lint with the settings: a ``:local`` that reaches a job of the branch
    fails; one no job reaches (a higher value wins) is named but does not block."""
    held = [f for f in findings if f.code == SETTINGS_CODE]
    reaching = [f for f in held if f.jobs]
    if reaching:
        shown = "; ".join(f"{f.path} ({', '.join(f.jobs)})" for f in reaching[:_SHOWN])
        more = f" and {len(reaching) - _SHOWN} more" if len(reaching) > _SHOWN else ""
        return Check("settings", SETTINGS_TITLE, "failed",
                     f"{counted(len(reaching), 'variable')} still set :local for jobs of the "
                     "branch: "
                     f"{shown}{more}; "
                     "delete them first (ciswitch fix --gitlab)")
    reach = "reaches" if len(held) == 1 else "reach"
    idle = f"; {len(held)} :local {reach} no job of it: {held[0].path}" if held else ""
    if unread:
        return Check("settings", SETTINGS_TITLE, "not-checked",
                     f"no :local for the project's jobs among those read{idle}; "
                     f"{unread[0].message}")
    levels = 2 + len(settings.groups)
    return Check("settings", SETTINGS_TITLE, "passed",
                 f"no :local reaches the project's jobs ({counted(levels, 'level')} and the "
                 f"schedules read){idle}")


def read_project_settings(repo: git.Repo, remote: str, gitlab_url: str | None,
                          env: Mapping[str, str]) -> tuple[GitLabSettings | None, Check | None]:
    """The project's CI/CD settings through the API, or the check saying why they were not
    read (``not-checked`` without a token, ``failed`` when GitLab could not answer)."""
    from ciswitch.gitlab_api import TOKEN_ENV, from_environment
    from ciswitch.runbook.settings import read_settings

    if not env.get(TOKEN_ENV, "").strip():
        return None, Check("settings", SETTINGS_TITLE, "not-checked",
                           f"{TOKEN_ENV} is not set, so GitLab's CI/CD variables were not read")
    try:
        url = _configured_url(repo, remote)
        if url is None:
            raise CiswitchError(f"remote {remote} has no URL")
        instance, path = gitlab_location(url, gitlab_url)
        return read_settings(from_environment(instance, env), path), None
    except CiswitchError as err:
        return None, Check("settings", SETTINGS_TITLE, "failed",
                           f"{TOKEN_ENV} is set but they could not be read: {redact(str(err))} "
                           "(--gitlab-url URL names the instance)")


def _find_mr(client: GitLabClient, project: ProjectInfo, branch: str, merged: bool
             ) -> MergeRequestInfo | None:
    if not merged:
        found = client.find_merge_request(project, branch, state="opened")
        if found is not None:
            return found
    return client.find_merge_request(project, branch, state="merged")


def _gitlab_checks(repo: git.Repo, remote: str, branch: str, sha: str | None, merged: bool,
                   gitlab_url: str | None, env: Mapping[str, str]) -> list[Check]:
    """Checks 4 and 5, through GitLab's API when a token is there."""
    from ciswitch.gitlab_api import TOKEN_ENV, from_environment

    mr_title, pipe_title = "merge request", "its latest pipeline"
    if not env.get(TOKEN_ENV, "").strip():
        why = f"{TOKEN_ENV} is not set, so GitLab was not asked"
        return [Check("merge-request", mr_title, "not-checked", why),
                Check("pipeline", pipe_title, "not-checked", why)]
    if sha is None:
        why = "no change branch to look up"
        return [Check("merge-request", mr_title, "not-checked", why),
                Check("pipeline", pipe_title, "not-checked", why)]
    try:
        url = _configured_url(repo, remote)
        if url is None:
            raise CiswitchError(f"remote {remote} has no URL")
        instance, path = gitlab_location(url, gitlab_url)
        client = from_environment(instance, env)
        project = client.project(path)
        mr = _find_mr(client, project, branch, merged)
    except CiswitchError as err:
        return [Check("merge-request", mr_title, "failed",
                      f"{TOKEN_ENV} is set but GitLab could not be asked: {redact(str(err))} "
                      "(--gitlab-url URL names the instance)"),
                Check("pipeline", pipe_title, "not-checked", "the merge request is unknown")]
    if mr is None:
        state = "merged or open" if merged else "open"
        return [Check("merge-request", mr_title, "failed",
                      f"no {state} merge request from {branch} in {project.path}"),
                Check("pipeline", pipe_title, "not-checked", "no merge request")]
    mr_check = Check("merge-request", mr_title, "passed",
                     f"!{mr.iid} ({mr.state}) {mr.url}".rstrip())
    try:
        pipeline = client.latest_pipeline(project, mr.iid)
    except CiswitchError as err:
        return [mr_check, Check("pipeline", pipe_title, "failed", redact(str(err)))]
    if pipeline is None:
        return [mr_check, Check("pipeline", pipe_title, "failed", f"!{mr.iid} has no pipeline")]
    said = f"#{pipeline.id} {pipeline.status}" + (f" {pipeline.web_url}" if pipeline.web_url
                                                  else "")
    if pipeline.status != "success":
        return [mr_check, Check("pipeline", pipe_title, "failed",
                                f"{said}: wait until it has succeeded")]
    if not merged and pipeline.sha and pipeline.sha != sha:
        return [mr_check, Check("pipeline", pipe_title, "failed",
                                f"{said}, but on {pipeline.sha[:10]}; {branch} is at {sha[:10]} "
                                "now: wait for its pipeline")]
    return [mr_check, Check("pipeline", pipe_title, "passed", said)]


def verify_switch(
    root: Path,
    *,
    remote: str = "origin",
    branch: str,
    to: str | None = None,
    gitlab_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> SwitchVerdict:
    """Run every check of the module docstring for the repository at ``root``.

    ``to`` is the address given on the command line (it addresses CSW004 findings);
    ``environ`` supplies ``GITLAB_TOKEN``. Only a missing remote is an error; everything
    else is a check's state.
    """
    from ciswitch import gitops

    env = os.environ if environ is None else environ
    repo = gitops.open_repo(root)
    try:
        gitops.get_remote(repo, remote)
        branch_check, checked, sha, merged = _branch_check(repo, remote, branch)
        checks = [branch_check]
        settings, unread = read_project_settings(repo, remote, gitlab_url, env)
        if checked is not None and sha is not None:
            checks += lint_checks(repo, remote, checked, sha, to, settings)
        else:
            checks += [Check("lint", "CI configuration of the change", "not-checked",
                             "no branch to lint"),
                       Check("coverage", "places not followed", "not-checked",
                             "no branch to lint")]
            if settings is not None:
                checks.append(_settings_alone(settings))
        if unread is not None:
            checks.append(unread)
        checks += _gitlab_checks(repo, remote, branch, sha, merged, gitlab_url, env)
    finally:
        repo.close()
    return SwitchVerdict(remote, branch, sha, checked, tuple(checks))
