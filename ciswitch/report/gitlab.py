"""``--format gitlab``: GitLab Code Quality, shown in the merge request widget.

GitLab requires ``description``, ``check_name``, ``fingerprint``, ``severity`` and
``location.path`` with ``location.lines.begin`` for every entry; the path is relative to the
repository root, without ``./``.

An errored lint never looks clean in the widget: each input error (invalid YAML, a missing
include, a bad configuration) is an issue of severity ``blocker`` at its file and line, and
each place that could not be checked (an include from another project, an unreadable script)
an ``info`` issue at the place, so a merge request shows what was not looked at.

A CI/CD variable of GitLab's settings is in no file: its issue's ``location.path`` is its
logical name (``gitlab: group web/ variable WERF_STAGES_STORAGE (environment scope *)``) with
``lines.begin`` 1, as the format requires a line; the settings not checked are at ``gitlab``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ciswitch.model import LintResult, NotChecked, Problem, Severity
from ciswitch.report.fingerprint import fingerprints

SEVERITY = {Severity.ERROR: "major", Severity.WARNING: "minor", Severity.INFO: "info"}
#: check names of the entries that are not findings of a rule
INPUT_ERROR = "input-error"
NOT_CHECKED = "not-checked"


def gitlab_path(path: str) -> str:
    """A repository-relative path as GitLab wants it: POSIX, no leading ``./`` or ``/``."""
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def _entry(
    description: str, check: str, fingerprint: str, severity: str, path: str,
    begin: int, end: int | None = None,
) -> dict[str, Any]:
    return {
        "description": description,
        "check_name": check,
        "fingerprint": fingerprint,
        "severity": severity,
        "location": {
            "path": gitlab_path(path) or ".",
            "lines": {"begin": max(begin, 1), "end": max(end or begin, 1)},
        },
    }


def _problem(problem: Problem, occurrence: int) -> dict[str, Any]:
    return _entry(
        f"ciswitch could not check this repository: {problem.message}",
        INPUT_ERROR,
        _fingerprint(INPUT_ERROR, gitlab_path(problem.path), problem.message, str(occurrence)),
        "blocker",
        problem.path,
        problem.line or 1,
    )


def _not_checked(entry: NotChecked, occurrence: int) -> dict[str, Any]:
    # Like a finding's, the fingerprint leaves the line out: it survives lines added above.
    return _entry(
        entry.text,
        f"{NOT_CHECKED}/{entry.kind.value}",
        _fingerprint(NOT_CHECKED, gitlab_path(entry.path), entry.kind.value, entry.message,
                     str(occurrence)),
        "info",
        entry.path,
        entry.line or 1,
    )


def render_gitlab(result: LintResult) -> str:
    findings = sorted(result.findings, key=lambda f: f.sort_key)
    entries: list[dict[str, Any]] = []
    for finding, fingerprint in zip(findings, fingerprints(findings), strict=True):
        entries.append(_entry(
            f"{finding.code} {finding.message}", finding.code, fingerprint,
            SEVERITY[finding.severity], finding.path, finding.begin.line, finding.finish.line,
        ))
    seen: dict[str, int] = {}
    for problem in result.problems:
        key = f"{problem.path}\0{problem.message}"
        entries.append(_problem(problem, seen.get(key, 0)))
        seen[key] = seen.get(key, 0) + 1
    for gap in sorted(result.not_checked, key=lambda e: e.sort_key):
        key = f"{gap.path}\0{gap.kind.value}\0{gap.message}"
        entries.append(_not_checked(gap, seen.get(key, 0)))
        seen[key] = seen.get(key, 0) + 1
    return json.dumps(entries, indent=2, ensure_ascii=False) + "\n"
