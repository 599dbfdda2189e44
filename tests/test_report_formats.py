"""The machine-readable reports: JSON, GitLab Code Quality, SARIF 2.1.0, GitHub workflow
commands and ``--statistics``.

The findings come from ``tests/fixtures/report/``: real files of a small repository and a
``result.json`` that says where the rules report (code, line and the text they point at).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ciswitch.model import Edit, Finding, Fix, LintResult, Notice, Position, Problem, Severity
from ciswitch.report import FORMATS, render
from ciswitch.report.fingerprint import fingerprints
from ciswitch.report.github import escape_data, escape_property
from ciswitch.report.meta import RuleMeta, doc_sections, load_rules_meta
from ciswitch.report.statistics import render_statistics

FIXTURES = Path(__file__).parent / "fixtures" / "report"
CISWITCH = Path(sys.executable).with_name("ciswitch")

RULE_DOC = """A werf command is given :local stages storage by a flag.

## What it does
Finds `--stages-storage :local`.

## Why is this bad?
Only one runner can build.

## Example
```yaml
# ## not a heading inside a code block
- werf build -s :local
```

## Use instead
```yaml
- werf build
```

## Fix safety
Safe.
"""

RULES_META = [
    RuleMeta("CSW001", "local-stages-storage-flag", "werf uses :local through a flag",
             Severity.ERROR, "safe", RULE_DOC),
    RuleMeta("CSW002", "local-stages-storage-variable", "WERF_STAGES_STORAGE is :local",
             Severity.ERROR, "safe", "## What it does\nFinds the variable."),
    RuleMeta("CSW003", "local-synchronization", ":local synchronization",
             Severity.WARNING, "unsafe", ""),
]


# --------------------------------------------------------------------------------------------
# building the result from the fixture files


def _position(text: str, offset: int) -> Position:
    line_start = text.rfind("\n", 0, offset) + 1
    return Position(text.count("\n", 0, offset) + 1, offset - line_start + 1)


def make_finding(text: str, spec: dict[str, Any]) -> Finding:
    """A finding at the first ``spec["match"]`` on line ``spec["line"]`` of ``text``."""
    line_start = 0
    for _ in range(spec["line"] - 1):
        line_start = text.index("\n", line_start) + 1
    start = text.index(spec["match"], line_start)
    assert text.count("\n", line_start, start) == 0, f"{spec['match']!r} not on line {spec['line']}"
    end = start + len(spec["match"])
    line_end = text.find("\n", line_start)
    fix = None
    if spec.get("fix"):
        fix = Fix((Edit(spec["path"], start, end, ""),), safe=spec["fix"]["safe"],
                  description=spec["fix"]["description"])
    return Finding(
        code=spec["code"], message=spec["message"], path=spec["path"], start=start, end=end,
        begin=_position(text, start), finish=_position(text, end), jobs=tuple(spec["jobs"]),
        severity=Severity(spec["severity"]), fix=fix,
        unfixable_reason=spec.get("unfixable_reason", ""),
        source_line=text[line_start:line_end if line_end >= 0 else None],
    )


def load_result(
    texts: dict[str, str] | None = None, shift: dict[str, int] | None = None
) -> LintResult:
    """The fixture's lint result; ``texts`` replaces file contents and ``shift`` says by how
    many lines their findings moved down (to move lines around)."""
    spec = json.loads((FIXTURES / "result.json").read_text(encoding="utf-8"))
    texts = dict(texts or {})
    findings = []
    for item in spec["findings"]:
        if item["path"] not in texts:
            texts[item["path"]] = (FIXTURES / item["path"]).read_text(encoding="utf-8")
        moved = {**item, "line": item["line"] + (shift or {}).get(item["path"], 0)}
        findings.append(make_finding(texts[item["path"]], moved))
    return LintResult(
        root=spec["root"],
        findings=findings,
        problems=[Problem(p["path"], p["message"], p["line"], p["column"])
                  for p in spec["problems"]],
        notices=[Notice(n["path"], n["message"], n["line"]) for n in spec["notices"]],
        files=spec["files"],
    )


# --------------------------------------------------------------------------------------------
# JSON


def test_json_report_fields() -> None:
    result = load_result()
    document = json.loads(render("json", result))
    assert set(document) == {"findings", "errors", "not_checked"}
    second = document["findings"][1]
    assert second == {
        "code": "CSW001", "severity": "error", "path": ".gitlab-ci.yml", "line": 6,
        "column": 28, "end_line": 6, "end_column": 51,
        "message": "--stages-storage :local in job build: remove it", "jobs": ["build"],
        "fixable": True,
    }
    assert [(f["path"], f["line"], f["code"]) for f in document["findings"]] == [
        (".gitlab-ci.yml", 3, "CSW002"), (".gitlab-ci.yml", 6, "CSW001"),
        ("ci/deploy.sh", 3, "CSW001"), ("ci/deploy.sh", 3, "CSW003"),
        ("ci/deploy.sh", 5, "CSW001"),
    ]
    assert [f["fixable"] for f in document["findings"]] == [True, True, False, True, True]
    multi_line = document["findings"][4]
    assert (multi_line["line"], multi_line["end_line"], multi_line["end_column"]) == (5, 6, 26)
    assert document["errors"] == [{"path": "ci/broken.yml", "line": 4,
                                   "message": "invalid YAML: mapping values are not allowed here"}]


def test_json_report_keeps_non_ascii_readable() -> None:
    result = load_result()
    result.findings[0].message = "переменная WERF_STAGES_STORAGE"
    assert "переменная" in render("json", result)


# --------------------------------------------------------------------------------------------
# GitLab Code Quality

GITLAB_SEVERITIES = {"info", "minor", "major", "critical", "blocker"}


def validate_gitlab(entries: object) -> None:
    """The fields GitLab requires of every Code Quality entry, with their types."""
    assert isinstance(entries, list)
    for entry in entries:
        assert isinstance(entry["description"], str) and entry["description"]
        assert isinstance(entry["check_name"], str) and entry["check_name"]
        assert isinstance(entry["fingerprint"], str) and entry["fingerprint"]
        assert entry["severity"] in GITLAB_SEVERITIES
        path = entry["location"]["path"]
        assert isinstance(path, str) and path
        assert not path.startswith(("./", "/")) and "\\" not in path
        begin = entry["location"]["lines"]["begin"]
        assert isinstance(begin, int) and not isinstance(begin, bool) and begin >= 1


def test_gitlab_report_has_the_required_fields() -> None:
    everything = json.loads(render("gitlab", load_result()))
    validate_gitlab(everything)
    entries = [e for e in everything if e["check_name"].startswith("CSW")]
    assert len(entries) == 5
    for entry in entries:
        assert entry["description"].startswith(entry["check_name"] + " ")
    by_code = {(e["check_name"], e["location"]["lines"]["begin"]): e for e in entries}
    assert by_code[("CSW001", 6)]["severity"] == "major"
    assert by_code[("CSW003", 3)]["severity"] == "minor"
    assert by_code[("CSW001", 3)]["location"]["path"] == "ci/deploy.sh"


def test_gitlab_paths_lose_leading_dot_slash() -> None:
    result = load_result()
    for finding in result.findings:
        finding.path = "./" + finding.path
    entries = json.loads(render("gitlab", result))
    validate_gitlab(entries)
    assert {e["location"]["path"] for e in entries if e["check_name"].startswith("CSW")} == {
        ".gitlab-ci.yml", "ci/deploy.sh"}


def test_gitlab_info_severity() -> None:
    result = load_result()
    result.findings[0].severity = Severity.INFO
    entries = json.loads(render("gitlab", result))
    assert entries[0]["severity"] == "info"


def _fingerprint_map(result: LintResult) -> dict[tuple[str, str, str], str]:
    entries = [e for e in json.loads(render("gitlab", result))
               if e["check_name"].startswith("CSW")]
    findings = sorted(result.findings, key=lambda f: f.sort_key)
    return {
        (f.path, f.code, f.source_line[f.begin.column - 1:f.begin.column + 8]): e["fingerprint"]
        for f, e in zip(findings, entries, strict=True)
    }


def test_fingerprints_are_stable_when_lines_are_inserted_above() -> None:
    before = load_result()
    ci = (FIXTURES / ".gitlab-ci.yml").read_text(encoding="utf-8")
    script = (FIXTURES / "ci/deploy.sh").read_text(encoding="utf-8")
    shifted_ci = "stages:\n  - build\n  - deploy\n\n" + ci
    shifted_script = script.replace("if true; then\n", "set -eu\nif true; then\n  : noop\n")
    shifted = load_result({".gitlab-ci.yml": shifted_ci, "ci/deploy.sh": shifted_script},
                          {".gitlab-ci.yml": 4, "ci/deploy.sh": 2})
    # The findings really moved ...
    assert [f.begin.line for f in shifted.findings] != [f.begin.line for f in before.findings]
    # ... and every one keeps its fingerprint.
    assert _fingerprint_map(shifted) == _fingerprint_map(before)


def _lint_gitlab(repo: Path, report: Path) -> list[dict[str, Any]]:
    run = subprocess.run(
        [str(CISWITCH), "lint", "--format", "gitlab", "--output", str(report)],
        cwd=repo, capture_output=True, text=True, check=False,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Found " in run.stdout  # the text report still goes to the terminal
    entries: list[dict[str, Any]] = json.loads(report.read_text())
    validate_gitlab(entries)
    # without --gitlab-url the report also says GitLab's settings were not read: once, last
    assert entries[-1]["check_name"] == "not-checked/gitlab-settings", entries
    assert [e["check_name"] for e in entries].count("not-checked/gitlab-settings") == 1
    return entries[:-1]


def test_cli_gitlab_fingerprints_survive_lines_inserted_above(tmp_path: Path) -> None:
    """Through the real command: three findings, two of them on identical lines."""
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / "cli-repo", repo)
    first = _lint_gitlab(repo, tmp_path / "before.json")
    assert len(first) == 3
    assert len({e["fingerprint"] for e in first}) == 3
    ci = repo / ".gitlab-ci.yml"
    ci.write_text("stages:\n  - build\n  - cleanup\n\n" + ci.read_text())
    second = _lint_gitlab(repo, tmp_path / "after.json")
    assert [e["location"]["lines"]["begin"] for e in second] == [
        e["location"]["lines"]["begin"] + 4 for e in first]
    assert [e["fingerprint"] for e in second] == [e["fingerprint"] for e in first]


def test_fingerprints_follow_reindentation_but_not_other_edits() -> None:
    before = load_result()
    ci = (FIXTURES / ".gitlab-ci.yml").read_text(encoding="utf-8")
    reindented = ci.replace("  - werf build-and-publish", "      - werf   build-and-publish")
    after = load_result({".gitlab-ci.yml": reindented.replace("      -", "  -")})
    assert _fingerprint_map(after) == _fingerprint_map(before)
    changed = ci.replace("werf build-and-publish", "werf build")
    assert _fingerprint_map(load_result({".gitlab-ci.yml": changed})) != _fingerprint_map(before)


def test_fingerprints_are_unique_for_identical_findings() -> None:
    text = "a:\n  script:\n    - werf build -s :local\nb:\n  script:\n    - werf build -s :local\n"
    specs: list[dict[str, Any]] = [
        {"path": "x.yml", "code": "CSW001", "line": line, "match": "-s :local", "jobs": [job],
         "severity": "error", "message": "-s :local"}
        for line, job in ((3, "a"), (6, "b"))
    ]
    findings = [make_finding(text, spec) for spec in specs]
    # The same normalized line, the same code, the same message: only the counter differs.
    prints = fingerprints(findings)
    assert len(set(prints)) == 2
    entries = json.loads(render("gitlab", LintResult(root=".", findings=findings)))
    validate_gitlab(entries)
    assert len({e["fingerprint"] for e in entries}) == 2
    # Inserting a line above both keeps both fingerprints.
    moved = [make_finding("# top\n" + text, {**spec, "line": spec["line"] + 1}) for spec in specs]
    assert fingerprints(moved) == prints


def test_fingerprints_do_not_depend_on_input_order() -> None:
    findings = load_result().findings
    prints = dict(zip((id(f) for f in findings), fingerprints(findings), strict=True))
    reversed_prints = fingerprints(findings[::-1])
    assert reversed_prints == [prints[id(f)] for f in findings[::-1]]


# --------------------------------------------------------------------------------------------
# SARIF


def test_sarif_structure() -> None:
    document = json.loads(render("sarif", load_result(), rules_meta=RULES_META))
    assert document["version"] == "2.1.0"
    assert document["$schema"].endswith("sarif-2.1.0.json")
    [run] = document["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "ciswitch"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", driver["version"])
    assert driver["informationUri"].startswith("https://")
    rules = driver["rules"]
    assert [r["id"] for r in rules] == ["CSW001", "CSW002", "CSW003"]
    first = rules[0]
    assert first["name"] == "LocalStagesStorageFlag"  # SARIF wants PascalCase names
    assert first["helpUri"].endswith("/docs/rules/CSW001.md")
    assert first["shortDescription"]["text"] == "werf uses :local through a flag"
    assert first["fullDescription"]["text"] == "Finds `--stages-storage :local`."
    assert "## Why is this bad?" in first["help"]["markdown"]
    assert first["help"]["text"]
    assert rules[2]["fullDescription"]["text"] == ":local synchronization"  # no docs: summary
    assert rules[2]["defaultConfiguration"]["level"] == "warning"

    results = run["results"]
    assert len(results) == 5
    for item in results:
        assert rules[item["ruleIndex"]]["id"] == item["ruleId"]
        assert item["level"] in {"error", "warning", "note"}
        assert item["message"]["text"]
        [location] = item["locations"]
        physical = location["physicalLocation"]
        assert not physical["artifactLocation"]["uri"].startswith(("/", "./"))
        region = physical["region"]
        for key in ("startLine", "startColumn", "endLine", "endColumn"):
            assert isinstance(region[key], int) and region[key] >= 1
    warning = next(r for r in results if r["ruleId"] == "CSW003")
    assert warning["level"] == "warning"
    line = (FIXTURES / "ci/deploy.sh").read_text(encoding="utf-8").splitlines()[2]
    assert warning["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "ci/deploy.sh", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 3, "startColumn": 46, "endLine": 3, "endColumn": 55,
                   "snippet": {"text": line[45:54]}},
        "contextRegion": {"startLine": 3, "endLine": 3, "snippet": {"text": line}},
    }
    assert line[45:54] == "-S :local"
    assert run["columnKind"] == "unicodeCodePoints"
    [invocation] = run["invocations"]
    assert invocation["executionSuccessful"] is False
    [notification] = invocation["toolExecutionNotifications"]
    assert notification["message"]["text"].startswith("invalid YAML")
    assert notification["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 4, "startColumn": 9}


def test_sarif_adds_a_rule_entry_for_unknown_codes() -> None:
    result = load_result()
    result.findings[0].code = "CSW100"
    result.findings[0].severity = Severity.WARNING
    document = json.loads(render("sarif", result, rules_meta=RULES_META[:1]))
    run = document["runs"][0]
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert set(ids) == {f.code for f in result.findings} | {"CSW001"}
    for item in run["results"]:
        assert ids[item["ruleIndex"]] == item["ruleId"]


def test_sarif_uris_are_percent_encoded() -> None:
    result = load_result()
    result.findings[0].path = "ci/with space#1.yml"
    document = json.loads(render("sarif", result, rules_meta=RULES_META))
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in document["runs"][0]["results"]]
    assert "ci/with%20space%231.yml" in uris


def test_sarif_with_the_real_rules_documents_every_rule() -> None:
    document = json.loads(render("sarif", load_result()))
    rules = document["runs"][0]["tool"]["driver"]["rules"]
    ids = [rule["id"] for rule in rules]
    assert {"CSW001", "CSW002", "CSW003", "CSW100"} <= set(ids)
    assert ids == sorted(ids)
    for rule in rules:
        assert rule["shortDescription"]["text"]
        assert rule["fullDescription"]["text"] != rule["shortDescription"]["text"]
        assert "## Fix safety" in rule["help"]["markdown"]


def test_doc_sections_ignore_headings_in_code_blocks() -> None:
    sections = doc_sections(RULE_DOC)
    assert list(sections) == ["", "what it does", "why is this bad?", "example", "use instead",
                              "fix safety"]
    assert "## not a heading" in sections["example"]


def test_rules_meta_includes_unused_suppression() -> None:
    metas = {meta.code: meta for meta in load_rules_meta()}
    assert metas["CSW100"].name == "unused-suppression"
    assert metas["CSW100"].section("Why is this bad?")


# --------------------------------------------------------------------------------------------
# GitHub


def test_github_annotations() -> None:
    lines = render("github", load_result()).splitlines()
    assert lines[0] == (
        "::error file=.gitlab-ci.yml,line=3,col=3,endLine=3,endColumn=32,title=CSW002::"
        "WERF_STAGES_STORAGE is :local for jobs build, deploy: werf ci-env does not override a "
        "variable that is already set"
    )
    assert lines[3].startswith("::warning file=ci/deploy.sh,line=3,col=46,")
    assert lines[4].startswith("::error file=ci/deploy.sh,line=5,col=14,endLine=6,endColumn=26,")
    assert lines[-1] == ("::error file=ci/broken.yml,line=4,col=9,title=ciswitch::"
                         "invalid YAML: mapping values are not allowed here")
    assert len(lines) == 6


def test_github_escaping() -> None:
    assert escape_data("100% done\r\nnext: a,b") == "100%25 done%0D%0Anext: a,b"
    assert escape_property("ci/a:b,c%.yml\n") == "ci/a%3Ab%2Cc%25.yml%0A"
    result = LintResult(root=".", findings=[Finding(
        "CSW001", "50% of\njobs: a,b", "dir,x/a:b.yml", 0, 1, Position(1, 1), Position(1, 2))])
    assert render("github", result) == (
        "::error file=dir%2Cx/a%3Ab.yml,line=1,col=1,endLine=1,endColumn=2,title=CSW001::"
        "50%25 of%0Ajobs: a,b\n"
    )


# --------------------------------------------------------------------------------------------
# statistics and dispatch


def test_statistics() -> None:
    result = load_result()
    text = render_statistics(result, RULES_META)
    assert text.splitlines() == [
        "3\tCSW001\t[-] local-stages-storage-flag",
        "1\tCSW002\t[*] local-stages-storage-variable",
        "1\tCSW003\t[*] local-synchronization",
    ]
    as_json = json.loads(render_statistics(result, RULES_META, fmt="json"))
    assert as_json[0] == {"code": "CSW001", "name": "local-stages-storage-flag", "count": 3,
                          "fixable": 2}
    assert render_statistics(LintResult(root="."), RULES_META) == ""


def test_statistics_marks_rules_without_fixes() -> None:
    result = load_result()
    result.findings = [f for f in result.findings if not f.fixable]
    assert render_statistics(result, RULES_META) == "1\tCSW001\t    local-stages-storage-flag\n"


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_an_empty_result(fmt: str) -> None:
    out = render(fmt, LintResult(root="."), rules_meta=RULES_META)
    if fmt in ("json", "gitlab", "sarif"):
        json.loads(out)
    assert out == "" or out.endswith("\n")


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown report format 'xml'"):
        render("xml", LintResult(root="."))
