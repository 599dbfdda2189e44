"""CSW004 underlines the word that names werf, not the wrapper or assignment before it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FORMS = [
    "run werf build -s :local",  # bats
    "sudo werf build -s :local",
    "sudo -E werf build -s :local",
    "env A=1 werf build -s :local",
    "time werf build -s :local",
    "X=1 werf build -s :local",
    "X=1 Y=2 nice -n 5 werf build -s :local",
    "/usr/local/bin/werf build -s :local",
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], list[dict[str, object]]]:
    repo = tmp_path_factory.mktemp("csw004")
    lines = ["# one job per form"]
    for index, form in enumerate(FORMS):
        lines += [f"job{index}:", "  script:", f"    - {form}"]
    (repo / ".gitlab-ci.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "ciswitch", "lint", "--format", "json"],
                          cwd=repo, capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stderr
    findings = [f for f in json.loads(done.stdout)["findings"] if f["code"] == "CSW004"]
    return lines, findings


@pytest.mark.parametrize("index", range(len(FORMS)), ids=FORMS)
def test_csw004_underlines_the_werf_word(
    report: tuple[list[str], list[dict[str, object]]], index: int
) -> None:
    lines, findings = report
    line_number = 2 + 3 * index + 2  # the script line of job<index>
    [found] = [f for f in findings if f["line"] == line_number]
    text = lines[line_number - 1]
    form = FORMS[index]
    werf = form.split(" build")[0].split()[-1]  # "werf" or "/usr/local/bin/werf"
    column = text.index(werf + " build") + 1
    assert (found["column"], found["end_line"], found["end_column"]) == (
        column, line_number, column + len(werf)), (text, found)
