"""Suppression comments in every placement, and the CSW100 findings for unused ones.

Each case under ``tests/fixtures/suppress/<case>/`` is one file as it would sit in a
repository, a ``case.json`` naming the findings the rules would report on it (code, line and
the text they point at), the findings that must survive, the expected CSW100 findings, and
(when there are any) ``fixed.*``: the file after applying every CSW100 fix.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ciswitch.model import Edit, Finding, Position, Severity
from ciswitch.rules.csw100_unused_suppression import apply_suppressions
from ciswitch.suppress import comment_start

FIXTURES = Path(__file__).parent / "fixtures" / "suppress"
CASES = sorted(p for p in FIXTURES.iterdir() if (p / "case.json").is_file())
CISWITCH = Path(sys.executable).with_name("ciswitch")


def _source(case: Path) -> Path:
    [source] = [p for p in case.iterdir() if p.name != "case.json" and p.stem != "fixed"]
    return source


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def _position(text: str, offset: int) -> Position:
    line_start = text.rfind("\n", 0, offset) + 1
    return Position(text.count("\n", 0, offset) + 1, offset - line_start + 1)


def make_finding(path: str, text: str, code: str, line: int, match: str) -> Finding:
    """A finding as the rules build it: at the first ``match`` on ``line``."""
    line_start = 0
    for _ in range(line - 1):
        line_start = text.index("\n", line_start) + 1
    start = text.index(match, line_start)
    assert text.count("\n", line_start, start) == 0, f"{match!r} not on line {line}"
    end = start + len(match)
    begin = _position(text, start)
    line_end = text.find("\n", line_start)
    source_line = text[line_start:line_end if line_end >= 0 else len(text)].rstrip("\r")
    return Finding(code, f"{code} here", path, start, end, begin, _position(text, end),
                   source_line=source_line)


def apply_edits(text: str, edits: list[Edit]) -> str:
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        text = text[:edit.start] + edit.replacement + text[edit.end:]
    return text


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_suppression_case(case: Path) -> None:
    spec: dict[str, Any] = json.loads((case / "case.json").read_text())
    source = _source(case)
    path = f"ci/{source.name}"
    text = _read(source)
    findings = [make_finding(path, text, f["code"], f["line"], f["match"])
                for f in spec["findings"]]

    kept, unused = apply_suppressions(findings, {path: text})

    assert [[f.code, f.begin.line] for f in kept] == spec["kept"]
    assert [
        {"line": f.begin.line, "column": f.begin.column, "message": f.message} for f in unused
    ] == spec["unused"]
    for report in unused:
        assert report.code == "CSW100"
        assert report.severity is Severity.WARNING
        assert report.path == path
        assert report.fix is not None and report.fix.safe
        assert text[report.start:report.end].startswith("#")
        assert report.source_line == text.splitlines()[report.begin.line - 1]
    fixed = [p for p in case.iterdir() if p.stem == "fixed"]
    if unused:
        edits = [edit for report in unused for edit in report.fix.edits]  # type: ignore[union-attr]
        assert apply_edits(text, edits) == _read(fixed[0])
    else:
        assert not fixed


def test_unused_suppressions_across_files_without_findings() -> None:
    texts = {
        "a.yml": "x: 1  # ciswitch: ignore[CSW001]\n",
        "b.sh": "echo fine\n",
    }
    kept, unused = apply_suppressions([], texts)
    assert kept == []
    assert [(f.path, f.begin.line, f.begin.column) for f in unused] == [("a.yml", 1, 7)]


def test_codes_of_rules_that_did_not_run_are_not_unused() -> None:
    text = "build:\n  script:\n    - werf build -s :local  # ciswitch: ignore[CSW001,CSW003]\n"
    finding = make_finding("ci.yml", text, "CSW001", 3, "-s :local")
    kept, unused = apply_suppressions([finding], {"ci.yml": text}, enabled={"CSW001"})
    assert (kept, unused) == ([], [])
    kept, unused = apply_suppressions([finding], {"ci.yml": text}, enabled={"CSW001", "CSW003"})
    assert kept == []
    assert [f.message for f in unused] == ["unused suppression `ciswitch: ignore` (unused: CSW003)"]


def test_findings_in_files_without_text_are_kept() -> None:
    text = "- werf build -s :local  # ciswitch: ignore\n"
    finding = make_finding("elsewhere.yml", text, "CSW001", 1, "-s :local")
    kept, unused = apply_suppressions([finding], {})
    assert kept == [finding]
    assert unused == []


def test_redundant_suppression_is_reported_once_the_first_one_applies() -> None:
    text = "# ciswitch: ignore[CSW001]\n- werf build -s :local  # ciswitch: ignore[CSW001]\n"
    finding = make_finding("ci.yml", text, "CSW001", 2, "-s :local")
    kept, unused = apply_suppressions([finding], {"ci.yml": text})
    assert kept == []
    assert [(f.begin.line, f.begin.column) for f in unused] == [(1, 1)]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("# whole line", 0),
        ("  - werf build  # note", 16),
        ("key: value#not a comment", None),
        ("echo '# no' # yes", 12),
        ('echo "a \\" # still quoted" # yes', 27),
        ("echo ${#array[@]} # count", 18),
        ("echo \\# literal # comment", 16),
        ("echo it's # comment", 10),
        ("\t# tab-indented", 1),
        ("", None),
    ],
)
def test_comment_start(line: str, expected: int | None) -> None:
    assert comment_start(line) == expected


def test_cli_applies_suppressions_and_reports_unused(tmp_path: Path) -> None:
    """Through the real command: end-of-line, line above, inside a literal block."""
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / "cli" / "repo", repo)
    run = subprocess.run([str(CISWITCH), "lint", "--format", "json"], cwd=repo,
                         capture_output=True, text=True, check=False)
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)
    expected = json.loads((FIXTURES / "cli" / "expected.json").read_text())
    assert [[f["code"], f["line"]] for f in report["findings"]] == expected["findings"]
    assert report["errors"] == []



#: for each letter of the name, the characters a search without case takes for it and some it
#: does not (the Kelvin sign is a k, the dotted capital I lowers to two characters)
_NAME_LETTERS = [
    st.sampled_from(list(options)) for options in (
        "cCxK", "iI\u0130\u0131j\u0307", "sS\u017fz", "wWv", "iI\u0130\u0131l", "tTf",
        "cC\u212a", "hHn",
    )
]


@settings(max_examples=3000, deadline=None)
@given(st.text(max_size=3), st.tuples(*_NAME_LETTERS), st.text(max_size=3))
def test_the_quick_search_for_the_name_is_the_search_without_case(
    before: str, letters: tuple[str, ...], after: str
) -> None:
    """Only a text naming ciswitch is scanned for directives: the quick search finds the name
    wherever a search without case does (the dotted and dotless i and the long s included)."""
    import re

    from ciswitch.suppress import NAMES_CISWITCH

    text = before + "".join(letters) + after
    assert (NAMES_CISWITCH.search(text) is None) is (
        re.search("ciswitch", text, re.IGNORECASE) is None
    )
