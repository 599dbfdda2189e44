"""``--format sarif``: SARIF 2.1.0, read by code-scanning dashboards and IDE viewers.

The driver lists every rule with its documentation, so a viewer can explain a result without
network access. Columns are counted in Unicode code points (declared with ``columnKind``), as
ciswitch counts them; ``endColumn`` is the column just past the region, as SARIF defines it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from ciswitch import __version__
from ciswitch.model import Finding, LintResult, Problem, Severity
from ciswitch.report.fingerprint import fingerprints
from ciswitch.report.meta import RuleMeta

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/ciswitch/"
LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _artifact(path: str) -> dict[str, str]:
    return {"uri": quote(path.removeprefix("./"), safe="/"), "uriBaseId": "%SRCROOT%"}


def _rule(meta: RuleMeta) -> dict[str, Any]:
    return {
        "id": meta.code,
        "name": meta.name,
        "shortDescription": {"text": meta.summary},
        "fullDescription": {"text": meta.description},
        "help": {"text": meta.doc or meta.summary, "markdown": meta.doc or meta.summary},
        "defaultConfiguration": {"level": LEVEL[meta.severity]},
        "properties": {"fixSafety": meta.fix_safety},
    }


def _result(finding: Finding, index: int, fingerprint: str) -> dict[str, Any]:
    return {
        "ruleId": finding.code,
        "ruleIndex": index,
        "level": LEVEL[finding.severity],
        "message": {"text": finding.message},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": _artifact(finding.path),
                "region": {
                    "startLine": finding.begin.line,
                    "startColumn": finding.begin.column,
                    "endLine": finding.finish.line,
                    "endColumn": finding.finish.column,
                },
            },
        }],
        "partialFingerprints": {"ciswitch/v1": fingerprint},
        "properties": {"jobs": list(finding.jobs), "fixable": finding.fixable},
    }


def _notification(problem: Problem) -> dict[str, Any]:
    note: dict[str, Any] = {"level": "error", "message": {"text": problem.message}}
    location: dict[str, Any] = {"artifactLocation": _artifact(problem.path)}
    if problem.line is not None:
        region: dict[str, int] = {"startLine": problem.line}
        if problem.column is not None:
            region["startColumn"] = problem.column
        location["region"] = region
    note["locations"] = [{"physicalLocation": location}]
    return note


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
            "toolExecutionNotifications": [_notification(p) for p in result.problems],
        }],
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def render_sarif(result: LintResult, rules_meta: Sequence[RuleMeta]) -> str:
    return json.dumps(sarif_document(result, rules_meta), indent=2, ensure_ascii=False) + "\n"
