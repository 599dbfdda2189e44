"""The cheap test before a shell text is parsed for the files it runs.

Most CI lines (``pytest tests/unit``, ``docker build .``) run no repository file; parsing each
with tree-sitter-bash would cost most of a big pipeline's lint. :func:`may_run_files` looks at
a text's words only: a text it turns away cannot run a file nor leave a "not followed", and
every text it lets through is parsed by :mod:`ciswitch.scripts.runs`. The names of runners,
shells live here because both modules read them (script suffixes in
:mod:`ciswitch.scripts.suffixes`).
"""

from __future__ import annotations

import _thread
import posixpath
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ciswitch.errors import CiswitchError
from ciswitch.patterns import lazy_compile
from ciswitch.scripts.suffixes import SCRIPT_SUFFIXES
from ciswitch.scripts.task_runners import CHOOSING_OPTIONS, TASK_RUNNERS, has_runner_file
from ciswitch.workspace import Workspace

SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash", "mksh", "bats"})
PYTHON = lazy_compile(r"python(?:\d+(?:\.\d+)?)?")
MAKES = frozenset({"make", "gmake"})
SOURCERS = frozenset({"source", "."})

#: cheap prefilter: a text that may run a file (a path, a sourcing dot, an interpreter, make)
#: lines that are parsed whatever their words: make (to say it is not followed)
_ALWAYS_PARSE = lazy_compile(r"\bg?make\b")
#: a shell, ``source``/``.`` or Python running a path held in a variable (a computed path, to
#: say it is not followed); searched only in texts holding ``$``
_RUNS_VARIABLE = lazy_compile(r"\$\{?[A-Za-z_]")
#: a runner's name as a word of its own (what :func:`_runner_ends` looks for)
_RUNNER_NAME = lazy_compile(r"(?:ba|da|z|k|a|mk)?sh|source|\.|python[\d.]*")
#: ``python -m package.module``: parsed when the module is a file of the repository
_PYTHON_MODULE = lazy_compile(r"python[\d.]*\s(?:\s*-[^m\s]\S*)*\s*-m\s*([\w.]+)")
#: candidate words of a line: what could name a repository file (maximal runs of anything but
#: white space and these, which :func:`candidate_words` splits on without a regular expression)
_SEPARATORS = ";&|()<>`'\"{}"
#: a character of a candidate word
_WORD_CHAR = r"[^\s" + re.escape(_SEPARATORS) + "]"
_CANDIDATE = lazy_compile(_WORD_CHAR + "+")
_PROJECT_PREFIX = lazy_compile(r"^\$(?:\{CI_PROJECT_DIR\}|CI_PROJECT_DIR)/")
_CHANGES_DIRECTORY = lazy_compile(r"(?:^|[\s;&|(`{])(?:cd|pushd|popd)(?=$|[\s;&|)`}])")

_RUNNERS = frozenset({*SOURCERS, *SHELLS, "python", "python3", "python2"})
#: a candidate word that is a runner (``bash``, ``source``, ``.``, ``python3``), written with
#: the project directory or not
_RUNNER_WORD = lazy_compile(
    f"(?<!{_WORD_CHAR})" + r"(?:\$(?:\{CI_PROJECT_DIR\}|CI_PROJECT_DIR)/)?(?:"
    + "|".join(re.escape(name) for name in sorted(_RUNNERS, key=len, reverse=True))
    + f")(?!{_WORD_CHAR})"
)


class _ThreadState(_thread._local):
    """What :func:`answers_kept` keeps, per thread (``fleet run`` fixes in several threads,
    each in its own repository)."""

    #: the repository the answers are about and the answers by (text, working directory)
    kept: tuple[Workspace, dict[tuple[str, str | None], bool]] | None = None


_state = _ThreadState()


@contextmanager
def answers_kept(ws: Workspace) -> Iterator[None]:
    """Keep every answer of :func:`may_run_files` about ``ws``'s files until the block ends.

    An answer is a function of the text, the working directory and which files exist (never
    of what they hold), so a workspace showing ``ws``'s files with some of them rewritten
    (its ``base`` is ``ws``: ``fix`` linting its new text) gets the same answers. ``fix``
    lints twice, and a big file has more distinct lines than any cache of recent ones
    holds: each unchanged line is asked about once for both lints."""
    outer = _state.kept
    if outer is None:
        _state.kept = (ws, {})
    try:
        yield
    finally:
        _state.kept = outer


def may_run_files(text: str, ws: Workspace, cwd: str | None = "") -> bool:
    """:func:`_may_run_files`, answered once per text and working directory while
    :func:`answers_kept` is in force for the workspace's files."""
    kept = _state.kept
    if kept is None or (ws is not kept[0] and getattr(ws, "base", None) is not kept[0]):
        return _may_run_files(text, ws, cwd)
    answers = kept[1]
    key = (text, cwd)
    found = answers.get(key)
    if found is None:
        found = answers[key] = _may_run_files(text, ws, cwd)
    return found


def _may_run_files(text: str, ws: Workspace, cwd: str | None = "") -> bool:
    """Whether ``text`` is worth parsing for script runs at all: one of its words names a
    script (by suffix) or a file of the repository (a path, or the word after ``bash``,
    ``source``, ``python``...), or it runs make or ``python -m``. Most CI lines
    (``pytest tests/unit``, ``docker build .``) fail this cheap test, so tree-sitter is not
    loaded for them. Paths are looked up from the working directory ``cwd`` too, and a
    text that changes directory (``cd k8s && ./build.sh``) is parsed when it names a path."""
    if "make" in text and _ALWAYS_PARSE.search(text):
        return True
    if "$" in text and _runs_variable(text):
        return True
    moves = cwd is None or changes_directory(text)
    if "-m" in text:
        for module in _PYTHON_MODULE.findall(text):
            base = module.replace(".", "/")
            if ws.is_file(f"{base}.py") or ws.is_file(f"{base}/__main__.py"):
                return True
    # Only two kinds of words can answer yes: one holding a dot or a slash, and the word
    # after a runner (``bash x``). Both are candidate words (maximal runs of the characters
    # a path may hold), so one scan finds them all and the rest is set and string tests.
    words = candidate_words(text)
    if ("npm" in text or "yarn" in text or "just" in text or "task" in text) and _runs_runner(
        text, words, ws, cwd, moves
    ):
        return True
    if "." in text or "/" in text:
        for raw in {word for word in words if "/" in word or "." in word}:
            word = _PROJECT_PREFIX.sub("", raw) if raw[0] == "$" else raw
            if "." in word and word.lower().endswith(SCRIPT_SUFFIXES) and any(
                _may_be_run(text, at, word, ws, cwd) for at in _word_starts(text, raw)
            ):
                return True
            if "/" in word and not word.startswith(("-", "$")) and (
                moves or _names_file(word, ws, cwd)
            ):
                return True
    if _feeds_shell(text, words) and any(
        moves or word.lower().endswith(SCRIPT_SUFFIXES) or _names_file(word, ws, cwd)
        for word in words if not word.startswith(("-", "$"))
    ):
        return True  # ``bash < deploy``, ``cat deploy | bash``: a shell runs a file it is fed
    for following in _after_runners(text, words):
        word = _PROJECT_PREFIX.sub("", following) if following[0] == "$" else following
        if word.lower().endswith(SCRIPT_SUFFIXES):
            return True
        if not word.startswith(("-", "$")) and (moves or _names_file(word, ws, cwd)):
            return True
    return False


def _runs_runner(
    text: str, words: list[str], ws: Workspace, cwd: str | None, moves: bool
) -> bool:
    """Whether a word names a task runner (:mod:`ciswitch.scripts.task_runners`) that has a
    file of the repository to read from ``cwd`` (any directory, when the text moves), or is
    pointed at one by an option."""
    runners = TASK_RUNNERS.intersection(words)
    if "/" in text:  # ``/usr/bin/npm``
        runners = runners | TASK_RUNNERS.intersection(w.rpartition("/")[2] for w in words)
    if not runners:
        return False
    if moves or any(word.partition("=")[0] in CHOOSING_OPTIONS for word in words):
        return True
    return any(has_runner_file(runner, ws, cwd) for runner in runners)


def _feeds_shell(text: str, words: list[str]) -> bool:
    """Whether a shell word of ``text`` may read its commands from a redirection or a
    ``cat`` piped into it."""
    return ("<" in text or ("|" in text and "cat" in words)) and not SHELLS.isdisjoint(words)


def candidate_words(text: str) -> list[str]:
    """The candidate words of ``text`` in order: what ``_CANDIDATE.findall`` finds, made by
    ``str.replace`` and ``str.split`` (a tenth of the regular expression's time on CI lines;
    both take white space as :meth:`str.isspace` does)."""
    for separator in _SEPARATORS:
        if separator in text:
            text = text.replace(separator, " ")
    return text.split()


def _word_starts(text: str, word: str) -> Iterator[int]:
    """Where ``word`` (a candidate word) stands in ``text`` as a whole candidate word."""
    size = len(text)
    at = text.find(word)
    while at >= 0:
        end = at + len(word)
        if (at == 0 or _separates(text[at - 1])) and (end == size or _separates(text[end])):
            yield at
        at = text.find(word, at + 1)


def _separates(char: str) -> bool:
    return char.isspace() or char in _SEPARATORS


def _after_runners(text: str, words: list[str]) -> list[str]:
    """The candidate word after each runner word of ``text`` (``words`` are its candidate
    words in order). A runner written with the project directory in braces
    (``${CI_PROJECT_DIR}/bash``) spans several candidate words, so a text naming the project
    directory is searched with :data:`_RUNNER_WORD`; any other runner is a candidate word of
    its own, found by set membership without a scan of the text."""
    if "CI_PROJECT_DIR" in text:
        found: list[str] = []
        for runner in _RUNNER_WORD.finditer(text):
            following = _CANDIDATE.search(text, runner.end())
            if following is not None:
                found.append(following.group())
        return found
    if _RUNNERS.isdisjoint(words):
        return []
    return [words[i + 1] for i in range(len(words) - 1) if words[i] in _RUNNERS]


#: a word that names a path as it is written (nothing for the shell to expand)
_LITERAL_PATH = lazy_compile(r"[A-Za-z0-9_./+@%,:=-]+")
#: where a command may start (``&`` and ``|`` of a redirection excepted): the words between
#: the last one and a script word tell whether the script word is a command's name
_COMMAND_BOUNDARY = lazy_compile(r"[;(){}`\n]|(?<![<>])&(?!>)|(?<!>)\|")
#: words that may stand before a command's name in a simple command
_KEYWORDS = frozenset({
    "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "in", "case",
    "esac", "!", "time", "function", "select", "coproc", "[[", "]]",
})
_ASSIGNMENT_WORD = lazy_compile(r"[A-Za-z_][A-Za-z0-9_]*\+?=")
_REDIRECTION = lazy_compile(r"\d*(?:<<<|<<-?|>>|&>>?|<>|[<>]&?|>\|)")


def _may_be_run(text: str, at: int, word: str, ws: Workspace, cwd: str | None) -> bool:
    """Whether a word with a script's suffix (at ``at`` in ``text``) may make the text run a
    file or say that one is not followed: always, unless it is a literal path that is no
    file of the repository (from the root or from ``cwd``) and an argument of a command that
    is neither a runner, a wrapper nor make (``pytest tests/test_x.py``). That command is the
    first word since the last place where one may start that is not a keyword, an
    assignment or a redirection; anything quoted, escaped or expanded there answers yes."""
    if cwd is None or not _LITERAL_PATH.fullmatch(word):
        return True
    try:
        if ws.is_file(word.lstrip("/")) or (
            cwd and not word.startswith("/") and ws.is_file(posixpath.join(cwd, word))
        ):
            return True
    except CiswitchError:
        return True
    begin = max((m.end() for m in _COMMAND_BOUNDARY.finditer(text, 0, at)), default=0)
    if any(c in text[begin:at] for c in "'\"\\$"):
        return True
    for match in _CANDIDATE.finditer(text, begin, at):
        name = match.group()
        before = text[begin:match.start()].split()
        if before and _REDIRECTION.fullmatch(before[-1]):
            continue  # a redirection's target
        if name in _KEYWORDS or _ASSIGNMENT_WORD.match(name) or (
            name.isdigit() and text.startswith((">", "<"), match.end())
        ):
            continue  # a keyword, ``A=1``, the ``2`` of ``2>``
        base = name.rsplit("/", 1)[-1]
        return (base in _RUNNERS or base in MAKES or _is_wrapper(base)
                or PYTHON.fullmatch(base) is not None)
    return True  # the word itself is the command's name


def _first_is_wrapper(name: str) -> bool:
    """Whether ``name`` is one of :mod:`ciswitch.shell.werf`'s wrappers, on first use: the
    test is put in :data:`_is_wrapper`'s place (the shell package loads tree-sitter, which a
    file without script words never needs; an import statement costs 0.6 us even when
    loaded)."""
    global _is_wrapper
    from ciswitch.shell.werf import WRAPPERS

    _is_wrapper = WRAPPERS.__contains__
    return _is_wrapper(name)


_is_wrapper: Callable[[str], bool] = _first_is_wrapper


def _names_file(word: str, ws: Workspace, cwd: str | None) -> bool:
    """Whether a word names a file of the repository, from the root or from ``cwd``."""
    try:
        return ws.is_file(word.lstrip("/")) or bool(
            cwd and not word.startswith("/") and ws.is_file(posixpath.join(cwd, word))
        )
    except CiswitchError:
        return False


def may_name_path(text: str) -> bool:
    """Whether a word of ``text`` could name a file (a path, a script suffix, the word after
    an interpreter) or is a task runner: the texts for which the working directory
    matters."""
    previous = ""
    for word in candidate_words(text):
        after_runner, previous = previous in _RUNNERS, word
        if word.lower().endswith(SCRIPT_SUFFIXES):
            return True
        if not word.startswith("-") and ("/" in word or after_runner):
            return True
        if word.rpartition("/")[2] in TASK_RUNNERS:  # its file is looked for from there
            return True
    return bool(_PYTHON_MODULE.search(text) or _ALWAYS_PARSE.search(text))


def changes_directory(text: str) -> bool:
    """Whether ``text`` may run ``cd``, ``pushd`` or ``popd`` (cheap, no parsing)."""
    return ("cd" in text or "pushd" in text or "popd" in text) and (
        _CHANGES_DIRECTORY.search(text) is not None
    )


def _runs_variable(text: str) -> bool:
    """Whether a shell, ``source`` or Python is given a path held in a variable: a ``$NAME``
    or ``${NAME`` right after a runner's name, white space and at most one quote (a line
    break may follow the quote)."""
    for match in _RUNS_VARIABLE.finditer(text):
        head = text[: match.start()]
        if _runner_ends(head) or (head.endswith("\n") and _runner_ends(head[:-1])):
            return True
    return False


def _runner_ends(head: str) -> bool:
    """Whether ``head`` ends with a runner's name, white space and an optional quote, the
    name being the whole run of characters since the start, white space or one of
    ``;&|(``."""
    if head.endswith(("'", '"')):
        head = head[:-1]
    bare = head.rstrip()
    if not bare or len(bare) == len(head):
        return False
    name = bare.rsplit(None, 1)[-1]
    for separator in ";&|(":
        if separator in name:
            name = name.rpartition(separator)[2]
    return _RUNNER_NAME.fullmatch(name) is not None
