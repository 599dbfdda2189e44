"""``--format json``: the findings and input errors as one JSON object, for scripts."""

from __future__ import annotations

import json
from typing import Any

from ciswitch.model import Finding, LintResult, NotChecked, Problem


def finding_json(finding: Finding) -> dict[str, Any]:
    """A finding; one in GitLab's CI/CD settings has no file: ``path`` and the line and
    columns are null, ``location`` names it and ``setting`` says what it is."""
    if finding.setting is not None:
        where = finding.setting
        return {
            "code": finding.code, "severity": finding.severity.value, "path": None,
            "line": None, "column": None, "end_line": None, "end_column": None,
            "location": where.name, "message": finding.message, "jobs": list(finding.jobs),
            "fixable": finding.fixable,
            "setting": {"level": where.level, "owner": where.owner, "key": where.key,
                        "environment_scope": where.environment_scope,
                        "protected": where.protected, "masked": where.masked,
                        "schedule_id": where.schedule_id},
        }
    return {
        "code": finding.code,
        "severity": finding.severity.value,
        "path": finding.path,
        "line": finding.begin.line,
        "column": finding.begin.column,
        "end_line": finding.finish.line,
        "end_column": finding.finish.column,
        "message": finding.message,
        "jobs": list(finding.jobs),
        "fixable": finding.fixable,
    }


def problem_json(problem: Problem) -> dict[str, Any]:
    return {"path": problem.path, "line": problem.line, "message": problem.message}


def not_checked_json(entry: NotChecked) -> dict[str, Any]:
    """A place not checked; GitLab's CI/CD settings have no file (``path`` is null)."""
    if not entry.in_file:
        return {"path": None, "line": None, "location": entry.path, "kind": entry.kind.value,
                "message": entry.message}
    return {
        "path": entry.path,
        "line": entry.line,
        "kind": entry.kind.value,
        "message": entry.message,
    }


def render_json(result: LintResult) -> str:
    """``{"findings": [...], "errors": [...], "not_checked": [...]}``, each in file order."""
    document = {
        "findings": [finding_json(f) for f in sorted(result.findings, key=lambda f: f.sort_key)],
        "errors": [problem_json(p) for p in result.problems],
        "not_checked": [
            not_checked_json(e) for e in sorted(result.not_checked, key=lambda e: e.sort_key)
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
