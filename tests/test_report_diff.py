"""The unified diff ``fix --diff`` prints, checked against difflib and the real ``git apply``.

Small files must come out exactly as difflib writes them; long ones (matched between unique
lines, so the time stays near linear) must still apply with git and give the new text."""

from __future__ import annotations

import difflib
import itertools
import random
import subprocess
from collections import Counter
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


def _stretch_by_stretch(old: list[str], new: list[str]) -> list[tuple[str, int, int, int, int]]:
    """The opcodes as difflib gives them for every stretch between the anchors (the lines
    unique to both texts that :func:`diff.anchored_opcodes` pins), equal runs joined."""
    in_old, in_new = Counter(old), Counter(new)
    where = {line: j for j, line in enumerate(new) if in_new[line] == 1}
    anchors, last = [], -1
    for i, line in enumerate(old):
        j = where.get(line, -1) if in_old[line] == 1 else -1
        if j > last:
            anchors.append((i, j))
            last = j
    codes: list[tuple[str, int, int, int, int]] = []
    start_a = start_b = 0
    for i, j in [*anchors, (len(old), len(new))]:
        matcher = difflib.SequenceMatcher(None, old[start_a:i], new[start_b:j], autojunk=False)
        found = [(t, start_a + i1, start_a + i2, start_b + j1, start_b + j2)
                 for t, i1, i2, j1, j2 in matcher.get_opcodes()
                 if i > start_a or j > start_b]
        if i < len(old):
            found.append(("equal", i, i + 1, j, j + 1))
        for code in found:
            if codes and codes[-1][0] == code[0] == "equal":
                codes[-1] = ("equal", codes[-1][1], code[2], codes[-1][3], code[4])
            else:
                codes.append(code)
        start_a, start_b = i + 1, j + 1
    return codes


@pytest.mark.parametrize("seed", range(60))
def test_stretches_left_as_they_were_are_not_matched_again(seed: int) -> None:
    """The shortcut for stretches that are equal, all gone or all new gives what difflib
    gives for them (long runs of repeated lines, as every job's ``script:`` makes)."""
    rng = random.Random(seed)
    old = _text(rng, rng.randint(0, 400), unique=rng.random() < 0.8)
    new = _edited(rng, old)
    if rng.random() < 0.3:  # lines that appear, too
        for _ in range(rng.randint(1, 5)):
            new.insert(rng.randint(0, len(new)), rng.choice(LINES[:-1]))
    assert diff.anchored_opcodes(old, new) == _stretch_by_stretch(old, new)
