"""``bash -c STRING``: the string is read as shell of its own, checked against real bash.

Real bash is the oracle twice: it says what value a ``-c`` string word has (so the reading of
quotes and escapes is bash's), and it says what the inner werf command's arguments are after
word splitting. Positions are checked by editing the enclosing text at the mapped range and
asking bash for the word's new value.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from ciswitch.cli import main
from ciswitch.shell import analyse

BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="bash is not installed")

LINES = [
    "bash -c 'werf build -s :local'",
    'sh -c "werf build --stages-storage=:local --log-verbose"',
    'timeout 600 sudo -E bash -c "werf build \\"-s:local\\" && werf publish -s :local"',
    "bash -ec \"werf build -s ':local'\"",
    "nice -n 5 bash -o pipefail -c $'werf build\\t-s :local'",
    "bash -c werf\\ build\\ -s\\ :local",
    "bash -c 'werf build '\"-s :local\"",
    "env A=1 bash --norc -xc 'cd app && werf build -s:local'",
    "bash -c \"werf build -s \\$STORAGE\"",
]


def _bash_value(word_text: str) -> str:
    """The value bash gives a word written as ``word_text``."""
    assert BASH is not None
    out = subprocess.run(
        [BASH, "-c", "printf '%s\\0' " + word_text], capture_output=True, check=True
    ).stdout.decode()
    values = out.split("\0")[:-1]
    assert len(values) == 1, values
    return values[0]


def _bash_werf_args(script: str) -> list[list[str]]:
    """The arguments each werf command of ``script`` receives from real bash."""
    assert BASH is not None
    prelude = "werf() { printf '%s\\0' \"$@\"; printf '\\1'; }; STORAGE=:local; cd() { :; }; "
    out = subprocess.run(
        [BASH, "-c", prelude + script], capture_output=True, check=True
    ).stdout.decode()
    return [chunk.split("\0")[:-1] for chunk in out.split("\1")[:-1]]


@pytest.mark.parametrize("line", LINES)
def test_string_value_is_bash_s(line: str) -> None:
    (string,) = analyse(line).command_strings
    assert string.text == _bash_value(line[string.word_start : string.word_end])


@pytest.mark.parametrize("line", LINES)
def test_inner_words_are_bash_s(line: str) -> None:
    (string,) = analyse(line).command_strings
    inner = analyse(string.text)
    expected = _bash_werf_args(string.text)
    seen = [[w.value for w in call.args] for call in inner.werf_calls]
    assert len(seen) == len(expected)
    for ours, theirs in zip(seen, expected, strict=True):
        assert [v for v in ours if v is not None] == [
            t for t, v in zip(theirs, ours, strict=True) if v is not None
        ]
    assert any(call.flags for call in inner.werf_calls)


@pytest.mark.parametrize("line", LINES)
def test_flag_ranges_map_back_exactly(line: str) -> None:
    """Removing the mapped characters of a flag from the enclosing text removes exactly the
    flag from the string's value, as bash reads it (where the flag is written in one piece)."""
    (string,) = analyse(line).command_strings
    inner = analyse(string.text)
    checked = 0
    for call in inner.werf_calls:
        for flag in call.flags:
            s, e = flag.start, flag.end
            if any(string.ends[k] != string.starts[k + 1] for k in range(s, e - 1)):
                continue  # written across quoted parts: the fix refuses it (tested below)
            outer_s, outer_e = string.starts[s], string.ends[e - 1]
            word = line[string.word_start : outer_s] + line[outer_e : string.word_end]
            assert _bash_value(word) == string.text[:s] + string.text[e:]
            checked += 1
    if "'werf build '\"" not in line:
        assert checked


def _repo(tmp_path: Path, script: str) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".gitlab-ci.yml").write_text(
        "default:\n  before_script:\n    - source $(werf ci-env gitlab --as-file)\n"
        f"build:\n  script:\n    - {script}\n",
        encoding="utf-8",
    )
    return repo


def test_fix_across_quoted_parts_is_refused_with_a_reason(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "bash -c 'werf build '\"-s :local\"")
    before = (repo / ".gitlab-ci.yml").read_bytes()
    result = CliRunner().invoke(main, ["fix", str(repo)])
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output
    assert "several quoted parts of the bash -c string" in result.output
    assert (repo / ".gitlab-ci.yml").read_bytes() == before


def test_two_fixes_in_one_string(tmp_path: Path) -> None:
    """Each fix of a string claims the string up to its change, so two fixes of one string
    are planned one after the other (never added up into a wrong proof)."""
    repo = _repo(tmp_path, "bash -c 'werf build -s :local && werf publish -s :local'")
    result = CliRunner().invoke(main, ["fix", str(repo)])
    assert result.exit_code == 0, result.output
    assert "internal error" not in result.output
    text = (repo / ".gitlab-ci.yml").read_text(encoding="utf-8")
    assert "    - bash -c 'werf build && werf publish'\n" in text


@pytest.mark.parametrize(("args", "index"), [
    (["-c", "CODE"], 1),
    (["-u", "-W", "error", "-X", "dev", "-c", "CODE", "arg"], 6),
    (["-Bc", "CODE"], 1),
    (["-Werror", "-c", "CODE"], 2),
    (["--version", "-c", "CODE"], 2),
    (["-cCODE"], None),  # attached: Python reads it, ciswitch does not
    (["-m", "pkg", "-c", "x"], None),
    (["-uc"], None),  # no code word
    (["script.py", "-c", "x"], None),
    (["-", "-c"], None),
    (["--", "-c", "x"], None),
    ([None, "-c", "x"], None),
])
def test_the_code_python_c_runs(args: list[str | None], index: int | None) -> None:
    from ciswitch.shell.werf import python_code_index

    assert python_code_index(args) == index


def test_python_c_code_is_a_command_string_of_its_own() -> None:
    from ciswitch.shell import analyse

    text = "nice python3.11 -u -c 'import os; os.system(\"werf build\")' && python -V"
    (string,) = analyse(text).command_strings
    assert (string.shell, string.text) == ("python3.11", 'import os; os.system("werf build")')
    assert text[string.starts[0]:string.ends[-1]] == string.text
