"""Every case under tests/fixtures/rules/: lint findings, fix output, and fix idempotence.

A case is a folder:
- ``input/``: the repository files;
- ``findings.txt``: the expected findings, one per line: ``path:line:col CODE jobs`` (jobs
  comma-separated, ``-`` for none), blank lines and ``#`` comments ignored;
- ``output/``: the expected content of every file the fix changes (files not there must stay
  byte-identical);
- ``args.txt`` (optional): extra ``fix`` options, e.g. ``--to registry.example.com/p/stages``;
- ``exit.txt`` (optional): the expected exit code of ``fix`` (default: 0 when no finding is
  left, else 1);
- ``reasons.txt`` (optional): places ``fix`` must leave, each with the reason it shows there,
  one per line: ``path:line:col CODE | reason``.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from ciswitch.cli import main
from ciswitch.config import load_config
from ciswitch.lint import analyse_workspace
from ciswitch.workspace import DirectoryWorkspace

CASES_ROOT = Path(__file__).parent / "fixtures" / "rules"
CASES = sorted(p for p in CASES_ROOT.glob("*/*") if (p / "input").is_dir())


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _expected_findings(case: Path) -> list[str]:
    lines = (case / "findings.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _finding_lines(repo: Path, to: str | None = None) -> list[str]:
    ws = DirectoryWorkspace(repo)
    analysis = analyse_workspace(ws, load_config(ws), to=to)
    assert not analysis.result.problems, [p.one_line() for p in analysis.result.problems]
    return [
        f"{f.path}:{f.begin.line}:{f.begin.column} {f.code} {','.join(f.jobs) or '-'}"
        for f in analysis.result.findings
    ]


def test_there_are_cases() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_case(case: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(case / "input", repo, symlinks=True)
    before = _tree(repo)
    assert _finding_lines(repo) == _expected_findings(case)

    args = shlex.split((case / "args.txt").read_text()) if (case / "args.txt").exists() else []
    runner = CliRunner()
    result = runner.invoke(main, ["fix", str(repo), *args])
    expected_exit = (
        int((case / "exit.txt").read_text()) if (case / "exit.txt").exists() else None
    )
    after = _tree(repo)
    expected = dict(before)
    if (case / "output").is_dir():
        expected.update(_tree(case / "output"))
    for path in sorted(set(after) | set(expected)):
        assert after.get(path) == expected.get(path), f"{path} after fix:\n{after.get(path)!r}"
    if expected_exit is not None:
        assert result.exit_code == expected_exit, result.output
    else:
        assert result.exit_code in (0, 1), result.output

    if (case / "reasons.txt").exists():
        for line in (case / "reasons.txt").read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            place, reason = (part.strip() for part in line.split("|", 1))
            where, code = place.split()
            header = f"{where}: {code} "
            assert header in result.output, result.output
            block = result.output.split(header, 1)[1].split("\n\n", 1)[0]
            assert f"not fixable: {reason}" in block, block

    again = runner.invoke(main, ["fix", str(repo), *args])
    assert _tree(repo) == after, "a second fix changed the files again"
    assert "Fixed 0 places in 0 files" in again.output, again.output
