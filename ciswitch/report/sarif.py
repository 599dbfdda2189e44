"""``--format sarif``: SARIF 2.1.0, read by code-scanning dashboards and IDE viewers.

The driver lists every rule with its documentation and a ``helpUri`` to its page, so a viewer
can explain a result without network access; rule names are PascalCase as SARIF asks. Columns
are counted in Unicode code points (declared with ``columnKind``), as ciswitch counts them;
``endColumn`` is the column just past the region, as SARIF defines it. Each result carries the
text of its region as a snippet and the lines around it as a context region. A git repository
is named with its commit (``versionControlProvenance``). Input errors are ``error``
notifications of the invocation and the places not checked ``note`` notifications, each at its
file and line. A CI/CD variable of GitLab's settings is in no file: its result has a logical
location (``kind`` variable, the place's name as ``fullyQualifiedName``) and no physical one;
the settings not checked are a notification without a location.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from ciswitch import __version__
from ciswitch.model import Finding, LintResult, NotChecked, Problem, Provenance, Severity
from ciswitch.report.fingerprint import fingerprints
from ciswitch.report.meta import RuleMeta

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/ciswitch/"
#: where the rule pages (``docs/rules/CODE.md``) are published: the address the docs use for
#: the project (usage.md, gitlab-ci-lint.yml)
RULES_URI = "https://gitlab.example.com/tools/ciswitch/-/blob/main/docs/rules/"
LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _artifact(path: str) -> dict[str, str]:
    return {"uri": quote(path.removeprefix("./"), safe="/"), "uriBaseId": "%SRCROOT%"}


def pascal_case(name: str) -> str:
    """``local-stages-storage-flag`` as ``LocalStagesStorageFlag``."""
    return "".join(part[:1].upper() + part[1:] for part in name.replace("_", "-").split("-"))


def _rule(meta: RuleMeta) -> dict[str, Any]:
    return {
        "id": meta.code,
        "name": pascal_case(meta.name),
        "helpUri": f"{RULES_URI}{meta.code}.md",
        "shortDescription": {"text": meta.summary},
        "fullDescription": {"text": meta.description},
        "help": {"text": meta.doc or meta.summary, "markdown": meta.doc or meta.summary},
        "defaultConfiguration": {"level": LEVEL[meta.severity]},
        "properties": {"fixSafety": meta.fix_safety},
    }


def _physical(finding: Finding) -> dict[str, Any]:
    region: dict[str, Any] = {
        "startLine": finding.begin.line,
        "startColumn": finding.begin.column,
        "endLine": finding.finish.line,
        "endColumn": finding.finish.column,
    }
    location: dict[str, Any] = {"artifactLocation": _artifact(finding.path), "region": region}
    snippet = finding.snippet
    if snippet.strip():
        region["snippet"] = {"text": snippet}
    lines = finding.source_lines or (finding.source_line,)
    if any(line.strip() for line in lines):
        location["contextRegion"] = {
            "startLine": finding.begin.line,
            "endLine": finding.begin.line + len(lines) - 1,
            "snippet": {"text": "\n".join(lines)},
        }
    return location


def _location(finding: Finding) -> dict[str, Any]:
    if finding.setting is None:
        return {"physicalLocation": _physical(finding)}
    where = finding.setting
    return {"logicalLocations": [
        {"name": where.key, "fullyQualifiedName": where.name, "kind": "variable"}]}


def _result(finding: Finding, index: int, fingerprint: str) -> dict[str, Any]:
    return {
        "ruleId": finding.code,
        "ruleIndex": index,
        "level": LEVEL[finding.severity],
        "message": {"text": finding.message},
        "locations": [_location(finding)],
        "partialFingerprints": {"ciswitch/v1": fingerprint},
        "properties": {"jobs": list(finding.jobs), "fixable": finding.fixable},
    }


def _notification(
    level: str, message: str, path: str, line: int | None, column: int | None
) -> dict[str, Any]:
    note: dict[str, Any] = {"level": level, "message": {"text": message}}
    location: dict[str, Any] = {"artifactLocation": _artifact(path)}
    if line is not None:
        region: dict[str, int] = {"startLine": line}
        if column is not None:
            region["startColumn"] = column
        location["region"] = region
    note["locations"] = [{"physicalLocation": location}]
    return note


def _problem(problem: Problem) -> dict[str, Any]:
    return _notification("error", problem.message, problem.path, problem.line, problem.column)


def _not_checked(entry: NotChecked) -> dict[str, Any]:
    if not entry.in_file:
        return {"level": "note", "message": {"text": entry.text},
                "properties": {"notChecked": entry.kind.value}}
    note = _notification(
        "note", entry.text, entry.path, entry.line, entry.column
    )
    note["properties"] = {"notChecked": entry.kind.value}
    return note


def _provenance(item: Provenance) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "repositoryUri": item.repository_uri,
        "revisionId": item.revision,
        "mappedTo": {"uriBaseId": "%SRCROOT%"},
    }
    if item.branch:
        entry["branch"] = item.branch
    return entry


def sarif_document(result: LintResult, rules_meta: Sequence[RuleMeta]) -> dict[str, Any]:
    """The SARIF log as a JSON-ready dictionary."""
    metas = list(rules_meta)
    known = {meta.code for meta in metas}
    for code in sorted({f.code for f in result.findings} - known):
        # A finding of a rule the metadata does not know still needs a rule entry to index.
        metas.append(RuleMeta(code, code.lower(), code, Severity.ERROR, "none", ""))
    index = {meta.code: i for i, meta in enumerate(metas)}
    findings = sorted(result.findings, key=lambda f: f.sort_key)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "ciswitch",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": [_rule(meta) for meta in metas],
            },
        },
        "columnKind": "unicodeCodePoints",
        "results": [
            _result(finding, index[finding.code], fingerprint)
            for finding, fingerprint in zip(findings, fingerprints(findings), strict=True)
        ],
        "invocations": [{
            "executionSuccessful": not result.problems,
            "toolExecutionNotifications": [
                *(_problem(p) for p in result.problems),
                *(_not_checked(e) for e in sorted(result.not_checked, key=lambda e: e.sort_key)),
            ],
        }],
    }
    if result.provenance:
        run["versionControlProvenance"] = [_provenance(p) for p in result.provenance]
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def render_sarif(result: LintResult, rules_meta: Sequence[RuleMeta]) -> str:
    return json.dumps(sarif_document(result, rules_meta), indent=2, ensure_ascii=False) + "\n"
