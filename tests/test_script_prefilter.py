"""The cheap test in front of the script follower: a text it turns away would have run no
file and left nothing "not followed" had it been parsed (the parse itself is the oracle),
while a script word that may be a command's name or a runner's operand is still parsed."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ciswitch.scripts.prefilter import (
    _runs_variable,
    _word_starts,
    answers_kept,
    candidate_words,
    may_run_files,
)
from ciswitch.scripts.runs import script_runs_in
from ciswitch.workspace import DirectoryWorkspace

_COMMANDS = ["pytest -q", "bash", "sh -e", "source", ".", "python3 -u", "timeout 60", "sudo -E",
             "env A=1", "make", "echo", "", "2>/dev/null", ">out", "A=1", "if", "!", "2>&1",
             "exec", "xargs -n 1", "cat <", "builtin", ">>log", "<<<x", "&>>all"]
_WORDS = ["tests/test_a.py", "x.sh", "./y.sh", "ci/z.bash", "lib.py", "ci/build.sh",
          "./ci/build.sh", "run.py"]
_AFTER = ["", " --flag", " > log.txt", "; echo done", " && pytest tests/test_b.py", " | tee x"]


def _workspace(tmp_path: Path) -> DirectoryWorkspace:
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "build.sh").write_text("#!/bin/sh\necho hi\n")
    (tmp_path / "run.py").write_text("print(1)\n")
    return DirectoryWorkspace(tmp_path)


def _texts() -> list[str]:
    texts = []
    for first, second, word, after in itertools.product(_COMMANDS, _COMMANDS, _WORDS, _AFTER):
        texts.append(" ".join(x for x in (first, second, word) if x) + after)
    return texts


@pytest.mark.parametrize("cwd", ["", "ci"])
def test_a_text_turned_away_runs_nothing_when_parsed(tmp_path: Path, cwd: str) -> None:
    ws = _workspace(tmp_path)
    turned_away = 0
    for text in _texts():
        if may_run_files(text, ws, cwd):
            continue
        turned_away += 1
        parsed = script_runs_in(text, ws, cwd, force=True)
        assert (parsed.runs, parsed.skipped) == ([], []), text
    assert turned_away > 500  # the cheap test does turn texts away


@pytest.mark.parametrize(
    "text",
    [
        "pytest -q tests/unit/test_x.py",
        "2>/dev/null pytest tests/x.py",
        "A=1 pytest tests/x.py --cov",
        "if pytest tests/x.py; then echo ok; fi",
    ],
)
def test_a_test_file_given_to_pytest_is_not_parsed(tmp_path: Path, text: str) -> None:
    assert not may_run_files(text, _workspace(tmp_path), "")


@pytest.mark.parametrize(
    "text",
    [
        "tests/x.py",
        "2>&1 ./x.sh",
        ">&2 tests/x.py",
        "A=1 ./missing.sh",
        "timeout 60 ./missing.sh",
        "bash -e missing.sh",
        '"ba"sh missing.sh',
        "echo a; ./missing.sh",
        "pytest run.py",  # a file of the repository
        ">>log ./missing.sh",
        "<<<x ./missing.sh",
        "2>>err <<-END ./missing.sh",
        "&>>all ./missing.sh",
    ],
)
def test_a_script_word_that_may_run_is_parsed(tmp_path: Path, text: str) -> None:
    ws = _workspace(tmp_path)
    assert may_run_files(text, ws, "")


class _Counting(DirectoryWorkspace):
    """A real directory whose file lookups are counted."""

    asked = 0

    def is_file(self, rel: str) -> bool:
        type(self).asked += 1
        return super().is_file(rel)


class _Overlay:
    """The same files as ``base`` (as ``fix`` sees its new text): lookups go to it."""

    def __init__(self, base: DirectoryWorkspace) -> None:
        self.base = base
        self.label = base.label

    def is_file(self, rel: str) -> bool:
        return self.base.is_file(rel)

    def is_executable(self, rel: str) -> bool:
        return self.base.is_executable(rel)

    def read_bytes(self, rel: str) -> bytes:
        return self.base.read_bytes(rel)

    def files(self) -> Iterator[str]:
        return self.base.files()


def test_kept_answers_are_shared_with_the_same_files_only(tmp_path: Path) -> None:
    """Inside ``answers_kept(ws)`` each text is looked into once for ``ws`` and a view of
    its files; another repository (where ``tools/go`` is a file) gets its own answer."""
    (tmp_path / "one").mkdir()
    one = _Counting(_workspace(tmp_path / "one").root)
    other_root = tmp_path / "other"
    (other_root / "tools").mkdir(parents=True)
    (other_root / "tools" / "go").write_text("#!/bin/sh\n")
    other = DirectoryWorkspace(other_root)
    text = "cd build && tools/go --fast"
    with answers_kept(one):
        _Counting.asked = 0
        first = may_run_files("tools/go --fast", one, "")
        asked = _Counting.asked
        assert asked > 0 and not first
        assert may_run_files("tools/go --fast", _Overlay(one), "") is False
        assert may_run_files("tools/go --fast", one, "") is False
        assert _Counting.asked == asked  # answered from what was kept
        assert may_run_files("tools/go --fast", other, "") is True
        assert may_run_files(text, one, None) is True  # another working directory
    assert may_run_files("tools/go --fast", one, "") is False
    assert _Counting.asked > asked  # outside the block, asked again


def test_kept_answers_are_per_thread(tmp_path: Path) -> None:
    """A block in another thread (``fleet run`` fixes in threads) neither sees this thread's
    answers nor ends this thread's block."""
    (tmp_path / "one").mkdir()
    one = _Counting(_workspace(tmp_path / "one").root)
    seen: list[bool] = []

    def other_thread() -> None:
        with answers_kept(one):
            _Counting.asked = 0
            seen.append(may_run_files("tools/go --fast", one, ""))
            seen.append(_Counting.asked > 0)  # asked anew: nothing kept in this thread yet

    with answers_kept(one):
        may_run_files("tools/go --fast", one, "")
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
        _Counting.asked = 0
        assert may_run_files("tools/go --fast", one, "") is False
        assert _Counting.asked == 0  # this thread's block is still in force
    assert seen == [False, True]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bash tool", True),
        ("source tool --x", True),
        ("a && . tool", True),
        ("$CI_PROJECT_DIR/bash tool", True),
        ("${CI_PROJECT_DIR}/bash tool", True),
        ('"${CI_PROJECT_DIR}/bash" tool', True),
        ("echo tool", False),
        ("bashx tool", False),
        ("xbash tool", False),
        ("${CI_PROJECT_DIR}/bashx tool", False),
        ("bash", False),
        ("bash -x", False),
        ("bash absent", False),
    ],
)
def test_the_word_after_a_runner_is_looked_up(tmp_path: Path, text: str, expected: bool) -> None:
    """The word after a runner (``bash tool``, the runner written with the project directory
    in braces or not) is looked up as a file even without a slash or a suffix; the same word
    after any other command is not (``tool`` is a file of the repository's root)."""
    ws = _workspace(tmp_path)
    (tmp_path / "tool").write_text("echo hi\n")
    assert may_run_files(text, ws, "") is expected


#: pieces of shell text where the string functions of the prefilter could part from the
#: regular expressions that define them: every separator, white space of several kinds
#: (Unicode's included, which ``\s`` and ``str.split`` both take), runners and variables
_PIECES = st.sampled_from([
    "bash", "sh", "source", ".", "python3", "python3.11", "mksh", "xsh", "$X", "${X}", "$1",
    "$CI_PROJECT_DIR/", " ", "  ", "\n", "\t", "\r", "\x0b", "\x1c", "\x85", "\u00a0",
    "\u2028", "\u3000", ";", "&", "|", "(", ")", "<", ">", "`", "'", '"', "{", "}", "x",
    "ci/a.sh", "=", "\\", "-e", "a.py",
])
_TEXTS = st.lists(_PIECES, max_size=14).map("".join)
#: the definitions: candidate words, and a runner given a variable's value
_CANDIDATE_WORD = re.compile(r"[^\s;&|()<>`'\"{}]+")
_RUNNER_BEFORE = re.compile(
    r"(?:^|[\s;&|(])(?:(?:ba|da|z|k|a|mk)?sh|source|\.|python[\d.]*)\s+[\"']?$"
)


@settings(max_examples=3000, deadline=None)
@given(_TEXTS)
def test_candidate_words_are_the_regular_expression_s(text: str) -> None:
    assert candidate_words(text) == _CANDIDATE_WORD.findall(text)
    for word in set(_CANDIDATE_WORD.findall(text)):
        expected = [m.start() for m in _CANDIDATE_WORD.finditer(text) if m.group() == word]
        assert list(_word_starts(text, word)) == expected


@settings(max_examples=3000, deadline=None)
@given(_TEXTS)
def test_a_runner_given_a_variable_is_the_regular_expression_s(text: str) -> None:
    expected = any(
        _RUNNER_BEFORE.search(text, 0, m.start()) for m in re.finditer(r"\$\{?[A-Za-z_]", text)
    )
    assert _runs_variable(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bash $X", True),
        ("sh '\n$X", True),  # ``$`` of the definition stands before a final line break
        ("a;b(bash ${X}", True),
        ("x)bash $X", False),
        ("bash$X", False),
        ("bashx $X", False),
        ("echo $X", False),
    ],
)
def test_a_runner_given_a_variable(text: str, expected: bool) -> None:
    assert _runs_variable(text) is expected


#: (the first six run a file; a missing one with a script's suffix is parsed, to say so)
STDIN_TEXTS = ["bash < deploy", "cat deploy | bash", "sh -s -- a < deploy",
               "cat deploy | bash -e", "< deploy bash", "bash -s <deploy",
               "cat deploy | grep x", "bash -c 'echo' < deploy", "cat made-later.sh | bash"]


@pytest.mark.parametrize("cwd", ["", "ci"])
def test_a_script_a_shell_reads_from_standard_input_is_parsed(tmp_path: Path, cwd: str) -> None:
    """``bash < FILE`` and ``cat FILE | bash`` run FILE: the prefilter lets those through
    (also for a file with no suffix and no slash), and what it turns away runs nothing."""
    ws = _workspace(tmp_path)
    (tmp_path / "deploy").write_text("#!/bin/sh\nwerf build\n")
    (tmp_path / "ci" / "deploy").write_text("#!/bin/sh\nwerf build\n")
    ran = []
    for text in STDIN_TEXTS:
        parsed = script_runs_in(text, ws, cwd, force=True)
        if parsed.runs:
            ran.append(text)
            assert may_run_files(text, ws, cwd), text
        elif not may_run_files(text, ws, cwd):
            assert parsed.skipped == [], text
    assert ran == STDIN_TEXTS[:6], ran
    assert may_run_files(STDIN_TEXTS[-1], ws, cwd)
    assert [s.kind.value for s in script_runs_in(STDIN_TEXTS[-1], ws, cwd).skipped] == [
        "missing-script"]
