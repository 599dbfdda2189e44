"""The text report: header line, source excerpt with the span underlined, errors, summary."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_report_formats import load_result

from ciswitch.model import Finding, Fix, LintResult, Position, Problem, Severity
from ciswitch.report import render
from ciswitch.report.text import layout, summary, use_color

FIXTURES = Path(__file__).parent / "fixtures" / "report"


def test_text_report_snapshot() -> None:
    expected = (FIXTURES / "expected-text.txt").read_text(encoding="utf-8")
    assert render("text", load_result(), verbose=True) == expected


def test_notices_only_when_verbose() -> None:
    quiet = render("text", load_result())
    assert "not followed" not in quiet
    assert "not followed" in render("text", load_result(), verbose=True)


def _one(source_line: str, column: int, end_column: int, end_line: int = 1) -> Finding:
    return Finding("CSW001", "m", "ci.yml", 0, 0, Position(1, column),
                   Position(end_line, end_column), source_line=source_line)


def _excerpt(finding: Finding) -> list[str]:
    """The source and underline rows of the excerpt, without the gutter."""
    out = render("text", LintResult(root=".", findings=[finding])).splitlines()
    return [row[4:] for row in out[2:4]]


def _span(source: str, needle: str) -> tuple[int, int]:
    start = source.index(needle)
    return start + 1, start + len(needle) + 1


@pytest.mark.parametrize(
    ("source", "needle", "shown", "underline"),
    [
        ("- werf build -s :local", "-s :local",
         "- werf build -s :local", "             ^^^^^^^^^"),
        # a tab expands to the next multiple of four columns
        ("\twerf build -s :local", "-s :local",
         "    werf build -s :local", "               ^^^^^^^^^"),
        ("a\tb -s :local", "-s :local",
         "a   b -s :local", "      ^^^^^^^^^"),
        # CJK characters take two cells, combining marks none
        ("echo 漢字 && werf -s :local", "-s :local",
         "echo 漢字 && werf -s :local", "                  ^^^^^^^^^"),
        ("echo e\u0301t\u00e9 ; werf -s :local", "-s :local",
         "echo e\u0301t\u00e9 ; werf -s :local", "                ^^^^^^^^^"),
        ("echo '漢' -s :local", "漢",
         "echo '漢' -s :local", "      ^^"),
        # control characters are shown as their pictures, one cell each
        ("echo \x1b[31m; werf -s :local", "-s :local",
         "echo \u241b[31m; werf -s :local", "                 ^^^^^^^^^"),
    ],
)
def test_underline_alignment(source: str, needle: str, shown: str, underline: str) -> None:
    start, end = _span(source, needle)
    assert _excerpt(_one(source, start, end)) == [shown, underline]


def test_span_continuing_on_the_next_line_is_underlined_to_the_end() -> None:
    assert _excerpt(_one("werf build --stages-storage \\", 12, 10, end_line=2)) == [
        "werf build --stages-storage \\", "           ^^^^^^^^^^^^^^^^^^"]


def test_empty_span_and_span_past_the_end_get_one_caret() -> None:
    assert _excerpt(_one("werf build", 6, 6))[1] == "     ^"
    assert _excerpt(_one("werf build", 11, 11))[1] == "          ^"
    assert _excerpt(_one("werf build", 40, 44))[1] == "          ^"


def test_layout_maps_every_character() -> None:
    shown, starts = layout("a\t漢b")
    assert shown == "a   漢b"
    assert starts == [0, 1, 4, 6, 7]


def test_header_line_and_help() -> None:
    finding = Finding(
        "CSW001", "-s :local in job build: remove it", "ci/main.yml", 10, 19,
        Position(7, 18), Position(7, 27), ("build", "deploy"),
        fix=Fix((), safe=False, description="remove `-s :local`"),
        source_line="    - werf build -s :local",
    )
    lines = render("text", LintResult(root=".", findings=[finding])).splitlines()
    assert lines[0] == "ci/main.yml:7:18: CSW001 -s :local in job build: remove it"
    assert lines[1] == "  |"
    assert lines[2] == "7 |     - werf build -s :local"
    assert lines[4] == "  = help (unsafe fix, needs --unsafe-fixes): remove `-s :local`"
    assert lines[-1] == "Found 1 finding (1 fixable) in 1 file."


def test_finding_without_source_line_has_no_excerpt() -> None:
    finding = Finding("CSW004", "no stages storage", "a.yml", 0, 0, Position(1, 1),
                      Position(1, 1))
    out = render("text", LintResult(root=".", findings=[finding]))
    assert out == "a.yml:1:1: CSW004 no stages storage\n\nFound 1 finding (0 fixable) in 1 file.\n"


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (LintResult(root="."), "No findings."),
        (LintResult(root=".", files=["a.yml", "b.sh"]), "No findings in 2 files."),
        (LintResult(root=".", files=["a.yml"], problems=[Problem("a.yml", "bad")]),
         "No findings in 1 file. 1 error prevented a complete check."),
    ],
)
def test_summary_without_findings(result: LintResult, expected: str) -> None:
    assert summary(result) == expected
    assert render("text", result).splitlines()[-1] == expected


def test_colour_only_when_asked() -> None:
    result = load_result()
    plain = render("text", result)
    coloured = render("text", result, color=True)
    assert "\x1b[" not in plain
    assert "\x1b[1;31mCSW001\x1b[0m" in coloured
    assert "\x1b[1;33mCSW003\x1b[0m" in coloured
    stripped = coloured
    for code in ("\x1b[0m", "\x1b[1m", "\x1b[1;31m", "\x1b[1;33m", "\x1b[1;34m", "\x1b[1;32m"):
        stripped = stripped.replace(code, "")
    assert stripped == plain


def test_use_color_needs_a_terminal_and_no_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert not use_color(io.StringIO())
    leader, follower = os.openpty()
    try:
        with open(follower, "w", closefd=False) as terminal:
            assert use_color(terminal)
            monkeypatch.setenv("NO_COLOR", "1")
            assert not use_color(terminal)
            monkeypatch.setenv("NO_COLOR", "")
            assert use_color(terminal)
    finally:
        os.close(leader)
        os.close(follower)


def _lint_on_terminal(repo: Path, *args: str, no_color: str | None = None) -> str:
    """Run ``ciswitch lint`` with its standard output on a pseudo-terminal; what it showed."""
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    if no_color is not None:
        env["NO_COLOR"] = no_color
    leader, follower = os.openpty()
    try:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("ciswitch")), "lint", *args],
            cwd=repo, stdout=follower, stderr=subprocess.DEVNULL, env=env,
        )
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal closed when the command exited
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait() == 1
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)
    return b"".join(chunks).decode("utf-8")


def test_cli_colours_the_terminal_report_only(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / "cli-repo", repo)
    shown = _lint_on_terminal(repo, "--format", "json", "--output", "report.json")
    assert "\x1b[1;31mCSW001\x1b[0m" in shown  # the text report on the terminal
    assert "\x1b[" not in (repo / "report.json").read_text()  # the file keeps its format
    assert "\x1b[" not in _lint_on_terminal(repo, no_color="1")
    piped = subprocess.run([str(Path(sys.executable).with_name("ciswitch")), "lint"], cwd=repo,
                           capture_output=True, text=True, check=False)
    assert "CSW001" in piped.stdout and "\x1b[" not in piped.stdout


def test_severity_info_is_rendered() -> None:
    finding = Finding("CSW100", "unused", "a.yml", 0, 1, Position(1, 1), Position(1, 2),
                      severity=Severity.INFO, source_line="# ciswitch: ignore")
    assert "\x1b[1;36mCSW100" in render("text", LintResult(root=".", findings=[finding]),
                                       color=True)


def test_layout_of_a_plain_ascii_line_is_one_cell_per_character() -> None:
    # every printable ASCII character, as the general path of the layout counts it
    line = "".join(chr(c) for c in range(0x20, 0x7F))
    shown, starts = layout(line)
    assert (shown, starts) == (line, list(range(len(line) + 1)))
    wide = line + "ж"  # the same characters on the per-character path
    shown_wide, starts_wide = layout(wide)
    assert shown_wide == wide and starts_wide[: len(line) + 1] == starts
    assert layout("a\tb")[0] == "a   b" and layout("a\x7fb")[0] == "a\u2421b"


@pytest.mark.parametrize("line", ["- werf build -s :local", "x", "", "  a b  ", "~!@#$%^&*()"])
@pytest.mark.parametrize("columns", [(1, 1), (1, 2), (3, 9), (0, 0), (5, 200), (9, 3), (40, 50)])
@pytest.mark.parametrize("end_line", [1, 2])
def test_a_plain_line_is_underlined_as_its_laid_out_columns_say(
    line: str, columns: tuple[int, int], end_line: int,
) -> None:
    """An ASCII printable line is underlined without its layout: the same columns."""
    from ciswitch.report.text import underline

    finding = _one(line, columns[0], columns[1], end_line)
    shown, starts = layout(line)
    first = min(max(columns[0] - 1, 0), len(line))
    last = min(max(columns[1] - 1, first), len(line)) if end_line == 1 else len(line)
    assert underline(finding) == (shown, starts[first], max(starts[last], starts[first] + 1))
