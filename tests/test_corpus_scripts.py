"""The shell and bats files of the real werf corpus, linted and fixed as named files.

Every line holding a stages-storage ``:local`` (flag in any spelling, or an exported
``WERF_STAGES_STORAGE=:local``) must carry a finding; ``fix --to`` on a copy must change those
lines and no other byte. These scripts have no ``werf ci-env``, so without ``--to`` nothing is
removed (their commands would be left with no stages storage).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ciswitch.config import Config
from ciswitch.lint import analyse_workspace
from ciswitch.workspace import DirectoryWorkspace

REPO_ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = [REPO_ROOT.parent / "shared" / "corpus"]
CORPUS = next((c / "werf" for c in CANDIDATES if (c / "werf").is_dir()), None)
SHELL_SUFFIXES = (".sh", ".bash", ".bats")
LOCAL_LINE = re.compile(
    r"(?:--stages-storage[ =]|(?<![\w-])-s[ =]?)[\"']?:local\b|WERF_STAGES_STORAGE=[\"']?:local\b"
)
CISWITCH = [sys.executable, "-m", "ciswitch"]
ADDRESS = "registry.example.com/x/stages"

FILES = sorted(p for p in CORPUS.iterdir() if p.name.endswith(SHELL_SUFFIXES)) if CORPUS else []
needs_corpus = pytest.mark.skipif(
    CORPUS is None, reason="the shared werf corpus (../shared/corpus) is not available"
)


def _local_lines(text: str) -> set[int]:
    return {n for n, line in enumerate(text.splitlines(), 1) if LOCAL_LINE.search(line)}


def _copy(path: Path, tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    shutil.copy2(path, repo / path.name)
    return repo


@needs_corpus
def test_corpus_has_the_shell_files() -> None:
    assert len(FILES) >= 11


@needs_corpus
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_local_line_has_a_finding(path: Path, tmp_path: Path) -> None:
    repo = _copy(path, tmp_path)
    text = path.read_text(encoding="utf-8")
    expected = _local_lines(text)
    assert expected, "the corpus file should hold :local"
    analysis = analyse_workspace(DirectoryWorkspace(repo), Config(), entry=path.name)
    assert not analysis.result.problems, analysis.result.problems
    storage = {
        f.begin.line for f in analysis.result.findings if f.code in ("CSW001", "CSW002")
    }
    assert storage == expected
    # without werf ci-env, removing :local would leave the commands with no storage
    assert all(f.fix is None for f in analysis.result.findings)


@needs_corpus
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_fix_to_changes_only_the_local_lines(path: Path, tmp_path: Path) -> None:
    repo = _copy(path, tmp_path)
    target = repo / path.name
    old = path.read_bytes()
    expected = _local_lines(old.decode("utf-8"))
    plain = subprocess.run(
        [*CISWITCH, "fix", path.name], cwd=repo, capture_output=True, text=True, check=False
    )
    assert target.read_bytes() == old, plain.stdout + plain.stderr
    result = subprocess.run(
        [*CISWITCH, "fix", path.name, "--to", ADDRESS],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    new = target.read_bytes()
    old_lines, new_lines = old.split(b"\n"), new.split(b"\n")
    assert len(old_lines) == len(new_lines)
    changed = {n for n, (a, b) in enumerate(zip(old_lines, new_lines, strict=True), 1) if a != b}
    assert changed == expected
    for n in changed:
        line = new_lines[n - 1].decode("utf-8")
        assert ADDRESS in line and not LOCAL_LINE.search(line)
