"""``ciswitch fleet survey``: how many :local places are left, per repository and branch.

Merge requests being open or merged says little about the migration: a branch created before
the switch still builds with ``:local``. The survey reads each branch's tree straight from the
object database (:class:`~ciswitch.git_tree.GitTreeWorkspace`, no checkout) and counts the
findings left. It is read-only toward the remotes: it clones or fetches into the workdir and
never commits or pushes.

A branch it could not read counts as unknown (``?`` with the reason), never as 0; one with
places it could not check (an include from another project, an unreadable script) shows its
count as a lower bound (``2+?``). The survey exits 1 when any repository was not fully
checked.

With ``--gitlab-url`` and ``GITLAB_TOKEN``, each project's CI/CD variables in GitLab's settings
are read too (its own, its groups', the instance's, its schedules'): a ``:local`` among them
that reaches a job is a place left like any other, counted on every branch it reaches and named
in the note. Without them the summary says once that they were not checked; like ``lint
--strict``, levels of the settings that could not be read (the instance's without an
administrator's token) are named in the note but do not make a count a lower bound.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ciswitch.errors import CiswitchError
from ciswitch.fleet.sources import DEFAULT_CI_CONFIG, RepoSpec
from ciswitch.model import counted
from ciswitch.record import replace
from ciswitch.redact import redact


@dataclass(frozen=True)
class SurveyRow:
    """One branch of one repository (picklable)."""

    url: str
    branch: str
    #: None when the branch could not be read (see ``error``): unknown, not 0
    findings: int | None
    fixable: int | None
    default: bool
    error: str = ""
    #: places on the branch that could not be checked, and what they are
    not_checked: int = 0
    not_checked_summary: str = ""
    #: :local CI/CD variables of GitLab's settings reaching the branch's jobs (counted in
    #: ``findings``); None when the settings were not read
    settings: int | None = None
    #: levels of the settings that could not be read
    settings_note: str = ""

    @property
    def complete(self) -> bool:
        """Whether every place of the branch was read and checked."""
        return not self.error and self.findings is not None and not self.not_checked

    @property
    def count_text(self) -> str:
        """``3``, ``3+?`` when some places were not checked, ``?`` when nothing was read."""
        if self.findings is None or self.error:
            return "?"
        return f"{self.findings}+?" if self.not_checked else str(self.findings)

    @property
    def note(self) -> str:
        held = f"{self.settings} in GitLab's CI/CD settings" if self.settings else ""
        return "; ".join(t for t in (self.error, held, self.not_checked_summary,
                                     self.settings_note) if t)


def survey_repo(spec: RepoSpec, workdir: Path, all_branches: bool,
                gitlab_url: str | None = None) -> list[SurveyRow]:
    """Lint the default branch (or every branch) of one repository, with its project's CI/CD
    settings when ``gitlab_url`` is given (``GITLAB_TOKEN`` from the environment); never
    raises."""
    from ciswitch.fleet.sources import auth_env

    with auth_env(spec):
        return _survey_repo(spec, workdir, all_branches, gitlab_url)


def _survey_repo(spec: RepoSpec, workdir: Path, all_branches: bool,
                 gitlab_url: str | None) -> list[SurveyRow]:
    from ciswitch import gitops
    from ciswitch.config import load_config
    from ciswitch.fleet.clones import sync_clone
    from ciswitch.git_tree import GitTreeWorkspace
    from ciswitch.lint import analyse_workspace
    from ciswitch.model import not_checked_summary
    from ciswitch.rules import SETTINGS_CODE, about_ci

    try:
        settings = None
        if gitlab_url is not None:
            from ciswitch.fleet.api import client_for, project_path
            from ciswitch.runbook.settings import read_settings

            try:
                settings = read_settings(client_for(gitlab_url), project_path(spec, gitlab_url))
            except CiswitchError as err:
                raise CiswitchError(f"GitLab's CI/CD settings could not be read: {err}") from err
        clone = sync_clone(spec, workdir)
        if clone is None:
            return [SurveyRow(spec.display, "", None, None, True, "empty repository")]
        repo = gitops.open_repo(clone)
        default = gitops.default_branch(repo, "origin")
        branches = gitops.remote_branches(repo, "origin")
        if not all_branches:
            branches = [b for b in branches if b.name == default]
        rows = []
        for branch in branches:
            try:
                ws = GitTreeWorkspace(repo, branch.sha, label=f"{spec.display}@{branch.name}")
                config = load_config(ws)
                if spec.ci_config and spec.ci_config != DEFAULT_CI_CONFIG:
                    config = replace(config, ci_config=spec.ci_config.lstrip("/"))
                result = analyse_workspace(ws, config, settings=settings).result
                # a :local of the settings counts where it reaches a job of this branch
                found = [f for f in result.findings if about_ci(f.code)
                         and (f.code != SETTINGS_CODE or f.jobs)]
                error = "; ".join(p.one_line() for p in result.problems)
                gaps = [e for e in result.not_checked if e.in_file]
                rows.append(SurveyRow(
                    spec.display, branch.name, None if error else len(found),
                    None if error else sum(1 for f in found if f.fix is not None),
                    branch.name == default, redact(error), len(gaps),
                    redact(not_checked_summary(gaps)),
                    None if settings is None else sum(1 for f in found
                                                      if f.code == SETTINGS_CODE),
                    redact("; ".join(e.message for e in result.not_checked if not e.in_file)),
                ))
            except CiswitchError as err:
                rows.append(SurveyRow(spec.display, branch.name, None, None,
                                      branch.name == default, redact(str(err))))
        repo.close()
        if not rows:
            return [SurveyRow(spec.display, "", None, None, True,
                              f"no branch {default!r} on the remote")]
        return rows
    except CiswitchError as err:
        return [SurveyRow(spec.display, "", None, None, True, redact(str(err)))]
    except Exception as err:  # one broken repository must not stop the survey
        return [SurveyRow(spec.display, "", None, None, True,
                          redact(f"{type(err).__name__}: {err}"))]


def incomplete_repositories(rows: list[SurveyRow]) -> set[str]:
    """The repositories with a branch that was not fully checked."""
    return {r.url for r in rows if not r.complete}


def render_survey(rows: list[SurveyRow], fmt: str) -> str:
    rows = sorted(rows, key=lambda r: (r.url, not r.default, r.branch))
    left = sum(r.findings or 0 for r in rows if r.default and not r.error)
    done = sum(1 for r in rows if r.default and r.complete and r.findings == 0)
    repos = len({r.url for r in rows})
    unread = len({r.url for r in rows if r.error or r.findings is None})
    partial = len({r.url for r in rows if r.not_checked and not r.error})
    if fmt == "json":
        return json.dumps({
            "summary": {"repositories": repos, "default_branches_without_local": done,
                        "findings_on_default_branches": left,
                        "repositories_not_read": unread,
                        "repositories_partly_checked": partial},
            "branches": [asdict(r) for r in rows],
        }, indent=2) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(asdict(rows[0]) if rows else
                                                     ["url", "branch", "findings"]),
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)
        return out.getvalue()
    table = [("REPOSITORY", "BRANCH", "LOCAL", "FIXABLE", "NOTE")] + [
        (r.url, r.branch + (" (default)" if r.default and r.branch else ""), r.count_text,
         "?" if r.fixable is None else str(r.fixable), r.note) for r in rows
    ]
    foot = (f"{done} of {repos} repositories have no :local left on the default branch; "
            f"{counted(left, 'place')} left there")
    gaps = [f"{n} could not be read" for n in (unread,) if n]
    gaps += [f"{n} not fully checked (places not checked)" for n in (partial,) if n]
    if gaps:
        foot += f"; {', '.join(gaps)}: their counts are unknown or a lower bound"
    if any(r.settings is None and not r.error for r in rows):
        foot += ("; CI/CD variables in GitLab's settings were not checked: pass --gitlab-url "
                 "with GITLAB_TOKEN")
    if fmt == "markdown":
        lines = ["| " + " | ".join(table[0]) + " |", "| --- | --- | ---: | ---: | --- |"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"
                  for row in table[1:]]
        return "\n".join([*lines, "", f"**{foot}**"]) + "\n"
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    lines = ["  ".join(c.ljust(widths[i]) if i < 4 else c for i, c in enumerate(row)).rstrip()
             for row in table]
    return "\n".join([*lines, "", foot]) + "\n"
