"""Hostile YAML gets a one-line error and exit 2, in bounded time, through the installed CLI.

The guard against slowness is the subprocess timeout (a hang or a runaway expansion fails the
test); no wall-clock time is asserted. Each refused case has a neighbour just inside the limits
that must still be fixed, so the limits cannot be set so low that they refuse real files.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml as pyyaml

from ciswitch.source import MAX_DEPTH

CISWITCH = Path(sys.executable).with_name("ciswitch")
TIMEOUT = 60
JOB = "build:\n  script:\n    - source $(werf ci-env gitlab --as-file)\n"
FLAG = "werf build --stages-storage :local"


def _laughs(levels: int, width: int = 10, merge: bool = False) -> str:
    """The classic alias bomb: each level names the previous one ``width`` times."""
    lines = ["l0: &l0 {" + ", ".join(f"k{i}: x" for i in range(width)) + "}"]
    for level in range(1, levels + 1):
        if merge:
            body = "{" + ", ".join(f"m{i}: {{<<: *l{level - 1}}}" for i in range(width)) + "}"
        else:
            body = "[" + ", ".join([f"*l{level - 1}"] * width) + "]"
        lines.append(f"l{level}: &l{level} {body}")
    return "\n".join(lines) + "\n" + JOB + f"    - {FLAG}\n"


def _nested_maps(depth: int) -> str:
    return "".join("  " * i + f"k{i}:\n" for i in range(depth)) + "  " * depth + "v\n" + JOB


def _nested_script_lists(depth: int) -> str:
    return JOB + "    - " + "[" * depth + f"'{FLAG}'" + "]" * depth + "\n"


def _nested_block_lists(depth: int) -> str:
    lines = ["    " + "  " * i + "-" for i in range(depth)]
    return JOB + "\n".join(lines) + "\n    " + "  " * depth + f"- {FLAG}\n"


HOSTILE = {
    "alias bomb, 9 levels": (_laughs(9), "alias bomb"),
    "alias bomb of <<: merges, 7 levels": (_laughs(7, merge=True), "alias bomb"),
    "1,000 nested mappings": (_nested_maps(1000), "nested deeper than"),
    "5,000 nested script lists": (_nested_script_lists(5000), "nested deeper than"),
    "5,000 nested block lists": (_nested_block_lists(5000), "nested deeper than"),
    "30,000 nested [": ("x: " + "[" * 30000 + "]" * 30000 + "\n" + JOB, "nested deeper than"),
    "recursive alias": ("a: &a {b: *a}\n" + JOB, "recursive alias"),
    "recursive alias in a list": ("a: &a [x, [y, *a]]\n" + JOB, "recursive alias"),
    "deep through aliases": (
        "a: &a " + "[" * 150 + "x" + "]" * 150 + "\nb: " + "[" * 150 + "*a" + "]" * 150 + "\n"
        + JOB,
        "through aliases",
    ),
}


def _run(command: str, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CISWITCH), command, "."], cwd=root, capture_output=True, text=True,
        timeout=TIMEOUT, check=False,
    )


@pytest.mark.parametrize(("text", "said"), HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_input_is_one_line_and_exit_2(tmp_path: Path, text: str, said: str) -> None:
    (tmp_path / ".gitlab-ci.yml").write_text(text, encoding="utf-8")
    proc = _run("fix", tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr[-2000:]
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr[-2000:]
    assert lines[0].startswith(".gitlab-ci.yml:") and said in lines[0], lines[0]
    assert (tmp_path / ".gitlab-ci.yml").read_text(encoding="utf-8") == text
    linted = _run("lint", tmp_path)
    assert linted.returncode == 2 and "Traceback" not in linted.stderr
    assert said in linted.stdout + linted.stderr


NEAR_LIMITS = {
    "alias bomb of 3 levels (23,000 nodes reached)": _laughs(3),
    f"{MAX_DEPTH - 5} nested mappings": _nested_maps(MAX_DEPTH - 5) + f"    - {FLAG}\n",
    f"{MAX_DEPTH - 5} nested script lists": _nested_script_lists(MAX_DEPTH - 5),
    f"{MAX_DEPTH - 10} nested block lists": _nested_block_lists(MAX_DEPTH - 10),
}


@pytest.mark.parametrize("text", NEAR_LIMITS.values(), ids=NEAR_LIMITS.keys())
def test_inside_the_limits_the_file_is_fixed(tmp_path: Path, text: str) -> None:
    pyyaml.safe_load(text)  # valid YAML, by an independent parser
    (tmp_path / ".gitlab-ci.yml").write_text(text, encoding="utf-8")
    proc = _run("fix", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert "Fixed 1 place in 1 file" in proc.stdout
    assert FLAG not in (tmp_path / ".gitlab-ci.yml").read_text(encoding="utf-8")
