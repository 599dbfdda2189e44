"""``ciswitch fleet survey``: how many :local places are left, per repository and branch.

Merge requests being open or merged says little about the migration: a branch created before
the switch still builds with ``:local``. The survey reads each branch's tree straight from the
object database (:class:`~ciswitch.git_tree.GitTreeWorkspace`, no checkout) and counts the
findings left. It is read-only toward the remotes: it clones or fetches into the workdir and
never commits or pushes.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ciswitch.errors import CiswitchError
from ciswitch.fleet.sources import DEFAULT_CI_CONFIG, RepoSpec
from ciswitch.redact import redact


@dataclass(frozen=True)
class SurveyRow:
    """One branch of one repository (picklable)."""

    url: str
    branch: str
    findings: int
    fixable: int
    default: bool
    error: str = ""


def survey_repo(spec: RepoSpec, workdir: Path, all_branches: bool) -> list[SurveyRow]:
    """Lint the default branch (or every branch) of one repository; never raises."""
    from ciswitch.fleet.sources import auth_env

    with auth_env(spec):
        return _survey_repo(spec, workdir, all_branches)


def _survey_repo(spec: RepoSpec, workdir: Path, all_branches: bool) -> list[SurveyRow]:
    from ciswitch import gitops
    from ciswitch.config import load_config
    from ciswitch.fleet.runner import sync_clone
    from ciswitch.git_tree import GitTreeWorkspace
    from ciswitch.lint import lint_workspace
    from ciswitch.rules import about_ci

    try:
        clone = sync_clone(spec, workdir)
        if clone is None:
            return [SurveyRow(spec.display, "", 0, 0, True, "empty repository")]
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
                result = lint_workspace(ws, config)
                found = [f for f in result.findings if about_ci(f.code)]
                error = "; ".join(p.one_line() for p in result.problems)
                rows.append(SurveyRow(
                    spec.display, branch.name, len(found),
                    sum(1 for f in found if f.fix is not None), branch.name == default,
                    redact(error),
                ))
            except CiswitchError as err:
                rows.append(SurveyRow(spec.display, branch.name, 0, 0,
                                      branch.name == default, redact(str(err))))
        repo.close()
        return rows
    except CiswitchError as err:
        return [SurveyRow(spec.display, "", 0, 0, True, redact(str(err)))]
    except Exception as err:  # one broken repository must not stop the survey
        return [SurveyRow(spec.display, "", 0, 0, True, redact(f"{type(err).__name__}: {err}"))]


def render_survey(rows: list[SurveyRow], fmt: str) -> str:
    rows = sorted(rows, key=lambda r: (r.url, not r.default, r.branch))
    left = sum(r.findings for r in rows if r.default and not r.error)
    done = sum(1 for r in rows if r.default and not r.error and r.findings == 0)
    repos = len({r.url for r in rows})
    if fmt == "json":
        return json.dumps({
            "summary": {"repositories": repos, "default_branches_without_local": done,
                        "findings_on_default_branches": left},
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
        (r.url, r.branch + (" (default)" if r.default and r.branch else ""), str(r.findings),
         str(r.fixable), r.error) for r in rows
    ]
    foot = (f"{done} of {repos} repositories have no :local left on the default branch; "
            f"{left} place(s) left there")
    if fmt == "markdown":
        lines = ["| " + " | ".join(table[0]) + " |", "| --- | --- | ---: | ---: | --- |"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"
                  for row in table[1:]]
        return "\n".join([*lines, "", f"**{foot}**"]) + "\n"
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    lines = ["  ".join(c.ljust(widths[i]) if i < 4 else c for i, c in enumerate(row)).rstrip()
             for row in table]
    return "\n".join([*lines, "", foot]) + "\n"
