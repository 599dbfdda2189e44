"""The unified diff ``fix --diff`` prints, checked against difflib and the real ``git apply``.

Small files must come out exactly as difflib writes them; long ones (matched between unique
lines, so the time stays near linear) must still apply with git and give the new text."""

from __future__ import annotations

import difflib
import itertools
import random
import subprocess
from pathlib import Path

import pytest

from ciswitch.report import diff

LINES = ["build:\n", "  script:\n", "    - werf build --stages-storage :local\n",
         "    - echo done\n", "  stage: test\n", "\n", "x"]


def _edited(rng: random.Random, old: list[str]) -> list[str]:
    """What a fix does to a text: lines cut out and words removed from some lines."""
    new = [line for line in old if rng.random() > 0.15]
    return [line.replace(" --stages-storage :local", "") if rng.random() < 0.5 else line
            for line in new]


def _text(rng: random.Random, size: int, unique: bool) -> list[str]:
    lines = [rng.choice(LINES[:-1]) for _ in range(size)]
    if unique:
        for index in range(0, size, 7):
            lines[index] = f"job-{index}:\n"
    if lines and lines[-1] != "\n" and rng.random() < 0.3:
        lines[-1] = lines[-1].rstrip("\n")  # no final newline
    return lines


@pytest.mark.parametrize("seed", range(200))
def test_a_small_file_is_diffed_exactly_as_difflib_does(seed: int) -> None:
    rng = random.Random(seed)
    old = _text(rng, rng.randint(0, 60), unique=rng.random() < 0.5)
    new = _edited(rng, old)
    expected = "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
        for line in difflib.unified_diff(old, new, "a/ci.yml", "b/ci.yml"))
    assert diff.unified_diff("ci.yml", "".join(old).encode(), "".join(new).encode()) == expected


@pytest.mark.parametrize("seed", range(12))
def test_a_long_file_diff_applies_with_git(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    old = _text(rng, diff.ANCHORED_FROM + rng.randint(0, 3000), unique=seed % 3 != 0)
    new = _edited(rng, old)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    target = tmp_path / "ci.yml"
    target.write_bytes("".join(old).encode())
    patch = diff.unified_diff("ci.yml", target.read_bytes(), "".join(new).encode(),
                              git_header=True)
    assert patch.count("\n@@ ") + patch.startswith("@@") > 0
    subprocess.run(["git", "apply", "-"], cwd=tmp_path, input=patch.encode(), check=True)
    assert target.read_bytes() == "".join(new).encode()


def test_opcodes_cover_both_texts_in_order() -> None:
    rng = random.Random(7)
    old = _text(rng, 500, unique=True)
    new = _edited(rng, old)
    codes = diff.anchored_opcodes(old, new)
    assert codes[0][1] == codes[0][3] == 0
    assert (codes[-1][2], codes[-1][4]) == (len(old), len(new))
    for before, after in itertools.pairwise(codes):
        assert (before[2], before[4]) == (after[1], after[3])
        assert not before[0] == after[0] == "equal"
