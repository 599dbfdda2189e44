"""The real, public CI files of ../shared/corpus: lint finds every stages-storage ``:local``
at its line, finds nothing in files without werf, and ``fix`` changes only those lines.

The corpus is not part of the project; the test reads it from beside the repository (CI has
it) and skips, saying so, when it is not there.
"""

from __future__ import annotations

import csv
import difflib
import re
import shutil
from pathlib import Path

import pytest

from ciswitch.config import Config
from ciswitch.fix import plan_fix, write_changes
from ciswitch.lint import analyse_workspace
from ciswitch.workspace import DirectoryWorkspace

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
if not CORPUS.is_dir():
    pytest.skip(f"corpus not found at {CORPUS}: corpus tests skipped", allow_module_level=True)

# An independent oracle: a line holds :local in a stages-storage sense when one of these
# spellings is on it outside a comment line.
STORAGE_LOCAL = re.compile(
    r"""(--stages-storage|(?<![\w-])-s)(=|\s+)?["']?:local\b|WERF_STAGES_STORAGE["']?\s*[=:]\s*["']?:local\b"""
)


def _manifest() -> list[dict[str, str]]:
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


ROWS = [r for r in _manifest() if r["file"].endswith((".yml", ".yaml"))]


def _storage_lines(text: str) -> set[int]:
    lines = set()
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue
        if STORAGE_LOCAL.search(line):
            lines.add(number)
    return lines


def _repo_with(row: dict[str, str], tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copyfile(CORPUS / row["file"], repo / ".gitlab-ci.yml")
    return repo


def test_manifest_has_files() -> None:
    assert len(ROWS) >= 50


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r["file"])
def test_lint_finds_exactly_the_storage_lines(row: dict[str, str], tmp_path: Path) -> None:
    repo = _repo_with(row, tmp_path)
    text = (repo / ".gitlab-ci.yml").read_text(encoding="utf-8-sig")
    analysis = analyse_workspace(DirectoryWorkspace(repo), Config())
    result = analysis.result
    yaml_errors = [p for p in result.problems if "invalid YAML" in p.message]
    if yaml_errors:
        # Invalid as committed: one clear located error, no crash.
        assert all(p.line is not None for p in yaml_errors)
        return
    found = {f.begin.line for f in result.findings if f.code in ("CSW001", "CSW002")}
    if row["uses_local"] == "yes":
        assert found, "a file that uses :local yields findings"
        assert found == _storage_lines(text)
    else:
        assert not [f for f in result.findings if f.code != "CSW003"], [
            f"{f.path}:{f.begin.line} {f.code}" for f in result.findings
        ]
        if row["file"].startswith("plain/"):
            assert not result.findings


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r["file"])
def test_fix_touches_only_storage_lines(row: dict[str, str], tmp_path: Path) -> None:
    repo = _repo_with(row, tmp_path)
    before = (repo / ".gitlab-ci.yml").read_bytes()
    ws = DirectoryWorkspace(repo)
    outcome = plan_fix(ws, Config())
    if outcome.problems:
        assert not outcome.changes
        return
    write_changes(ws, outcome)
    after = (repo / ".gitlab-ci.yml").read_bytes()
    if row["uses_local"] != "yes":
        assert after == before
        return
    left = analyse_workspace(ws, Config()).result
    assert not left.problems
    assert all(f.code in ("CSW004", "CSW003") or not f.fixable for f in left.findings)
    old_lines = before.decode("utf-8-sig").splitlines()
    storage = _storage_lines(before.decode("utf-8-sig"))
    allowed = storage | {n - 1 for n in storage}
    matcher = difflib.SequenceMatcher(a=old_lines, b=after.decode("utf-8-sig").splitlines())
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag != "equal":
            touched = set(range(i1 + 1, i2 + 1))
            assert touched <= allowed, f"lines {sorted(touched - allowed)} changed"
