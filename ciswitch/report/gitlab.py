"""``--format gitlab``: GitLab Code Quality, shown in the merge request widget.

GitLab requires ``description``, ``check_name``, ``fingerprint``, ``severity`` and
``location.path`` with ``location.lines.begin`` for every entry; the path is relative to the
repository root, without ``./``. Input errors are not findings and are left out: they make the
job fail (exit code 2) and appear in its log.
"""

from __future__ import annotations

import json
from typing import Any

from ciswitch.model import LintResult, Severity
from ciswitch.report.fingerprint import fingerprints

SEVERITY = {Severity.ERROR: "major", Severity.WARNING: "minor", Severity.INFO: "info"}


def gitlab_path(path: str) -> str:
    """A repository-relative path as GitLab wants it: POSIX, no leading ``./`` or ``/``."""
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


def render_gitlab(result: LintResult) -> str:
    findings = sorted(result.findings, key=lambda f: f.sort_key)
    entries: list[dict[str, Any]] = []
    for finding, fingerprint in zip(findings, fingerprints(findings), strict=True):
        entries.append({
            "description": f"{finding.code} {finding.message}",
            "check_name": finding.code,
            "fingerprint": fingerprint,
            "severity": SEVERITY[finding.severity],
            "location": {
                "path": gitlab_path(finding.path),
                "lines": {"begin": finding.begin.line, "end": finding.finish.line},
            },
        })
    return json.dumps(entries, indent=2, ensure_ascii=False) + "\n"
