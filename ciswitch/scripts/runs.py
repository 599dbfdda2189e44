"""Which repository files a shell text runs: scripts it executes or sources, Python helpers.

Real projects hide their werf calls in ``ci/build.sh`` or ``deploy.py``; cleaning
``.gitlab-ci.yml`` alone would leave ``-s :local`` in them and break the first pipeline after the
switch.
GitLab starts a job's shell in the repository root; relative paths resolve from the working
directory the shell has reached (``cd``, ``pushd``/``popd``, carried across the script items of
one session by the replay, kept inside ``( )``), ``$CI_PROJECT_DIR/...`` from the root. Every
read goes through the :class:`Workspace`, which refuses paths that leave the repository; what
cannot be resolved is reported as "not followed" rather than guessed.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from ciswitch.errors import CiswitchError
from ciswitch.model import NotCheckedKind
from ciswitch.patterns import lazy_compile
from ciswitch.record import Record, setf
from ciswitch.scripts.prefilter import (
    MAKES,
    PYTHON,
    SHELLS,
    SOURCERS,
    changes_directory,
    may_run_files,
)
from ciswitch.scripts.suffixes import PYTHON_SUFFIXES, SHELL_SUFFIXES
from ciswitch.scripts.task_runners import TASK_RUNNERS, not_followed
from ciswitch.workspace import Workspace, normalize

if TYPE_CHECKING:
    from ciswitch.shell.commands import CommandInfo
    from ciswitch.shell.model import Word

ScriptKind = Literal["shell", "python"]
#: records a command that runs something not followed: its message and why
Skip = Callable[[str, NotCheckedKind], None]

_PROJECT_DIR = lazy_compile(r"\$\{CI_PROJECT_DIR\}|\$CI_PROJECT_DIR(?![A-Za-z0-9_])")
_SHEBANG_SHELL = lazy_compile(r"^#!\s*\S*?(?:/env\s+(?:-\S+\s+)*)?\S*?\b(?:ba|da|z|k|a|mk)?sh\b")
_SHEBANG_PYTHON = lazy_compile(r"^#!.*\bpython[\d.]*\b")
#: a word that is, or starts with, the project directory (so not relative to a ``cd``)
_FROM_PROJECT_DIR = lazy_compile(r"^[\"']?\$(?:\{CI_PROJECT_DIR\}|CI_PROJECT_DIR)(?![A-Za-z0-9_])")
_DIRECTORY_COMMANDS = frozenset({"cd", "pushd", "popd"})
#: shell options that take a value
_SHELL_VALUE_OPTIONS = frozenset({"-o", "+o", "-O", "+O", "--rcfile", "--init-file"})
_PYTHON_VALUE_OPTIONS = frozenset({"-W", "-X", "--check-hash-based-pycs"})


class ScriptRun(Record, frozen=True):
    """A command of a shell text that runs a repository file."""

    path: str  # repository-relative POSIX path
    kind: ScriptKind
    start: int  # the command's span in the shell text
    end: int
    sourced: bool
    #: the working directory it runs in (repository-relative, "" for the root; None when
    #: a ``cd`` went somewhere computed)
    cwd: str | None

    def __init__(self, path: str, kind: ScriptKind, start: int, end: int,
                 sourced: bool = False, cwd: str | None = "") -> None:
        setf(self, "path", path)
        setf(self, "kind", kind)
        setf(self, "start", start)
        setf(self, "end", end)
        setf(self, "sourced", sourced)
        setf(self, "cwd", cwd)


class NotFollowed(Record, frozen=True):
    """A command that runs something the replay does not read (``make``, a missing file)."""

    start: int
    message: str
    kind: NotCheckedKind

    def __init__(self, start: int, message: str,
                 kind: NotCheckedKind = NotCheckedKind.MISSING_SCRIPT) -> None:
        setf(self, "start", start)
        setf(self, "message", message)
        setf(self, "kind", kind)


_UNKNOWN_DIRECTORY = "the working directory is computed at run time (cd), not followed"

def script_kind(ws: Workspace, rel: str) -> ScriptKind | None:
    """``shell`` or ``python`` by the file's suffix, else by its shebang; None otherwise."""
    lower = rel.lower()
    if lower.endswith(SHELL_SUFFIXES):
        return "shell"
    if lower.endswith(PYTHON_SUFFIXES):
        return "python"
    try:
        head = ws.read_bytes(rel)[:200].split(b"\n", 1)[0].decode("utf-8", "replace")
    except CiswitchError:
        return None
    if _SHEBANG_PYTHON.match(head):
        return "python"
    if _SHEBANG_SHELL.match(head):
        return "shell"
    return None


def script_runs(text: str, ws: Workspace) -> tuple[list[ScriptRun], list[NotFollowed]]:
    """The repository files ``text`` executes or sources from the repository root, and what
    it runs that is not followed. Only texts that :func:`may_run_files` are parsed."""
    found = script_runs_in(text, ws, "")
    return found.runs, found.skipped


class Runs(Record, frozen=True):
    """What a shell text runs, started in a working directory, and where it leaves it."""

    runs: list[ScriptRun]
    skipped: list[NotFollowed]
    #: the working directory after the text (None: somewhere computed)
    cwd: str | None
    #: False when the text was not parsed (so a ``cd`` in it, if any, was not read)
    parsed: bool
    #: the text may change directory (``cd``, ``pushd``, ``popd``)
    moves: bool

    def __init__(
        self,
        runs: list[ScriptRun],
        skipped: list[NotFollowed],
        cwd: str | None,
        parsed: bool,
        moves: bool = False,
    ) -> None:
        setf(self, "runs", runs)
        setf(self, "skipped", skipped)
        setf(self, "cwd", cwd)
        setf(self, "parsed", parsed)
        setf(self, "moves", moves)


def script_runs_in(text: str, ws: Workspace, cwd: str | None, force: bool = False) -> Runs:
    """:func:`script_runs` from the working directory ``cwd``, following ``cd``, ``pushd``
    and ``popd`` as the shell does: a ``cd`` inside ``( )``, ``$( )`` or a pipeline element
    stays in that child shell. ``force`` parses the text whatever its words."""
    if not force and not may_run_files(text, ws, cwd):
        return Runs([], [], cwd, False, changes_directory(text))
    from ciswitch.shell.commands import commands

    runs: list[ScriptRun] = []
    skipped: list[NotFollowed] = []
    directories: dict[tuple[int, ...], tuple[str | None, tuple[str | None, ...]]] = {(): (cwd, ())}
    for command in commands(text):
        scope = command.scope
        if scope not in directories:
            inherited = next(
                directories[scope[:k]] for k in range(len(scope), -1, -1)
                if scope[:k] in directories
            )
            directories[scope] = inherited
        here, stack = directories[scope]
        base = _base(command.name)
        if base in _DIRECTORY_COMMANDS and command.name.value == base:
            directories[scope] = _change_directory(base, list(command.args), here, stack)
            continue
        _classify(command, ws, runs, skipped, here)
    return Runs(runs, skipped, directories[()][0], True, True)


def _change_directory(
    command: str, args: list[Word], cwd: str | None, stack: tuple[str | None, ...]
) -> tuple[str | None, tuple[str | None, ...]]:
    """The working directory (and ``pushd`` stack) after ``cd``/``pushd``/``popd``."""
    while args and (args[0].value or "").startswith("-") and args[0].value not in ("-", "--"):
        args = args[1:]
    if args and args[0].value == "--":
        args = args[1:]
    if command == "popd":
        return (stack[-1], stack[:-1]) if stack else (None, ())
    if not args or args[0].value == "-":
        return None, stack  # $HOME, the previous directory, or pushd's swap
    target: str | None
    try:
        path = _resolve(args[0], cwd)
        target = None if path is None or path.startswith("/") else normalize(path)
    except (CiswitchError, _UnknownDirectory):
        target = None
    if command == "pushd":
        return target, (*stack, cwd)
    return target, stack


_SIMPLE_CD = lazy_compile(
    r"[ \t]*(cd|pushd)[ \t]+([A-Za-z0-9_][A-Za-z0-9_.+@-]*(?:/[A-Za-z0-9_.+@-]+)*/?)[ \t]*"
)


def directory_after(text: str, ws: Workspace, cwd: str | None) -> str | None:
    """The working directory after ``text`` (started in ``cwd``). A lone ``cd k8s`` is read
    without the shell parser; anything else is parsed."""
    match = _SIMPLE_CD.fullmatch(text.strip("\n"))
    if match is not None and match.group(1) == "cd":
        if cwd is None:
            return None
        try:
            return normalize(posixpath.join(cwd, match.group(2)))
        except CiswitchError:
            return None
    return script_runs_in(text, ws, cwd, force=True).cwd


class _UnknownDirectory(Exception):
    """A relative path where the working directory is not known."""


def _classify(
    command: CommandInfo,
    ws: Workspace,
    runs: list[ScriptRun],
    skipped: list[NotFollowed],
    cwd: str | None = "",
) -> None:
    from ciswitch.shell.werf import Arg, wrapped_command

    words = [command.name, *command.args]
    # behind ``timeout 600 sudo -E env A=1 ...``: werf's list of wrappers, read the same way
    at = wrapped_command([Arg(w.value, w.raw if w.value is None else w.value) for w in words], [])
    if at is None or at >= len(words):
        return
    words = words[at:]
    name, args = words[0], words[1:]
    base = _base(name)
    start, end = command.start, command.end

    def skip(message: str, kind: NotCheckedKind) -> None:
        skipped.append(NotFollowed(start, message, kind))

    if base in MAKES:
        target = " ".join(w.raw for w in args if not w.raw.startswith("-")) or "default target"
        skip(f"{base} {target}: make targets are not followed", NotCheckedKind.MAKE_TARGET)
        return
    if base in TASK_RUNNERS:
        reason = not_followed(base, [w.value for w in args], ws, cwd)
        if reason is not None:
            shown = " ".join([base, *(w.raw for w in args[:3])]) + (" ..." if args[3:] else "")
            skip(f"{shown}: {reason}", NotCheckedKind.TASK_RUNNER)
        return
    if base in SOURCERS and name.value in SOURCERS:
        if not args or _is_substitution(args[0]):
            return
        _add(args[0], "shell", True, ws, runs, skip, start, end, cwd)
        return
    if base in SHELLS:
        script = _shell_target(args, skip, base)
        if script == "stdin":
            # ``bash < ci/deploy.sh``, ``cat ci/deploy.sh | bash``: the shell runs the file
            script = command.stdin
        if script is not None:
            _add(script, "shell", False, ws, runs, skip, start, end, cwd)
        return
    if PYTHON.fullmatch(base):
        _python(args, ws, runs, skip, start, end, cwd)
        return
    raw = name.value if name.value is not None else name.raw
    if "/" in raw and base != "werf":
        try:
            path = _resolve(name, cwd)
        except _UnknownDirectory:
            skip(f"{name.raw}: {_UNKNOWN_DIRECTORY}", NotCheckedKind.COMPUTED_PATH)
            return
        if path is None or path.startswith("/"):
            return  # a system binary, or a path built at run time
        found = _repository_file(
            name.raw,
            path,
            ws,
            skip,
            missing=bool(_PROJECT_DIR.search(name.raw))
            or raw.startswith("./")
            or not raw.startswith("/"),
        )
        if found is None:
            return
        path = found
        kind = script_kind(ws, path)
        if kind is not None:
            runs.append(ScriptRun(path, kind, start, end, cwd=cwd))
        elif _is_binary(ws, path):
            skip(f"{name.raw}: a binary program, not read", NotCheckedKind.UNREADABLE_SCRIPT)


def _base(word: Word) -> str:
    return posixpath.basename(word.value) if word.value is not None else ""


def _is_substitution(word: Word) -> bool:
    raw = word.raw.lstrip('"')
    return raw.startswith(("$(", "<(", "`"))


def _shell_target(args: list[Word], skip: Skip, shell: str) -> Word | Literal["stdin"] | None:
    """What a shell given ``args`` runs: its script operand, ``"stdin"`` when it reads its
    commands from standard input (``-s``, or no operand), or None (a ``-c`` string, which is
    read as shell of its own or said to be built at run time)."""
    index = 0
    while index < len(args):
        value = args[index].value
        if value is None:
            return args[index]
        if value == "--":
            return args[index + 1] if index + 1 < len(args) else None
        if value in _SHELL_VALUE_OPTIONS:
            index += 2
            continue
        if (value.startswith("-") and not value.startswith("--") and "s" in value
                and "c" not in value):
            return "stdin"  # ``bash -s ARG...``: the ARGs are the script's arguments
        if value.startswith(("-", "+")) and len(value) > 1:
            if "c" in value and not value.startswith("--"):
                from ciswitch.shell.werf import command_string_index

                at = command_string_index([a.value for a in args])
                if at is None or args[at].value is None:
                    skip(
                        f"{shell} -c: a command string built at run time, not followed",
                        NotCheckedKind.COMMAND_STRING,
                    )
                return None  # a static string is read as shell of its own
            index += 1
            continue
        return args[index]
    return "stdin"


def _python(
    args: list[Word],
    ws: Workspace,
    runs: list[ScriptRun],
    skip: Skip,
    start: int,
    end: int,
    cwd: str | None = "",
) -> None:
    index = 0
    while index < len(args):
        value = args[index].value
        if value is None:
            break
        if value == "-m":
            if index + 1 >= len(args) or args[index + 1].value is None:
                return
            module = str(args[index + 1].value)
            if cwd is None:
                skip(f"python -m {module}: {_UNKNOWN_DIRECTORY}", NotCheckedKind.COMPUTED_PATH)
                return
            base = posixpath.join(cwd, module.replace(".", "/"))
            for candidate in (f"{base}.py", f"{base}/__main__.py"):
                if ws.is_file(candidate):
                    runs.append(ScriptRun(candidate, "python", start, end, cwd=cwd))
                    return
            if ws.is_file(f"{base.split('/')[0]}/__init__.py") or "." in module:
                skip(
                    f"python -m {module}: module not found in the repository, not followed",
                    NotCheckedKind.PYTHON_MODULE,
                )
            return
        if value in ("-c", "-"):
            return
        if value in _PYTHON_VALUE_OPTIONS:
            index += 2
            continue
        if value.startswith("-") and len(value) > 1:
            index += 1
            continue
        break
    if index < len(args):
        _add(args[index], "python", False, ws, runs, skip, start, end, cwd)


def _resolve(word: Word, cwd: str | None = "") -> str | None:
    """The repository path a word names, or None when the shell would have to compute it.

    Relative paths are taken from the working directory ``cwd`` (``_UnknownDirectory`` when
    it is not known); ``$CI_PROJECT_DIR/...`` from the root. Absolute paths are returned as
    they are (``/...``) for the caller to ignore.
    """
    path = _resolve_word(word)
    if path is None or path.startswith("/") or not cwd or _FROM_PROJECT_DIR.match(word.raw):
        if path is not None and cwd is None and not path.startswith("/") and not (
            _FROM_PROJECT_DIR.match(word.raw)
        ):
            raise _UnknownDirectory
        return path
    return posixpath.join(cwd, path)


def _resolve_word(word: Word) -> str | None:
    if word.value is not None:
        value = word.value
    else:
        raw = _PROJECT_DIR.sub(".", word.raw)
        if "$" in raw or "`" in raw:
            return None
        value = raw.replace('"', "").replace("'", "")
        if word.raw.startswith(('"$CI', '"${CI', "$CI", "${CI")):
            value = value.lstrip("/")
    if value.startswith("/"):
        return value
    if value.startswith("~"):
        return None
    return value


def unreadable_reason(ws: Workspace, rel: str) -> str | None:
    """Why a path that is not a readable regular file of the repository still names
    something (a FIFO, a directory, a symlink leaving the root), or None when nothing is
    there. Only the workspace's checks run: a FIFO is never opened."""
    try:
        ws.read_bytes(rel)
    except CiswitchError as err:
        if err.message == "file not found":
            return None
        return err.message
    return None


def _is_binary(ws: Workspace, rel: str) -> bool:
    try:
        return b"\x00" in ws.read_bytes(rel)[:8192]
    except CiswitchError:
        return False


def _repository_file(
    raw: str, path: str, ws: Workspace, skip: Skip, *, missing: bool
) -> str | None:
    """The repository file a script word names, or None after saying why it is not followed
    (outside the repository, unreadable; missing only when ``missing``: a bare absolute name
    that is no repository file is a program of the system, not a script that went astray)."""
    try:
        rel = normalize(path)
    except CiswitchError:
        skip(f"{raw}: outside the repository, not followed", NotCheckedKind.OUTSIDE_SCRIPT)
        return None
    if ws.is_file(rel):
        return rel
    unreadable = unreadable_reason(ws, rel)
    if unreadable is not None:
        skip(f"{raw}: {unreadable}, not read", NotCheckedKind.UNREADABLE_SCRIPT)
    elif missing:
        skip(f"{raw}: no such file in the repository, not followed", NotCheckedKind.MISSING_SCRIPT)
    return None


def _add(
    word: Word,
    kind: ScriptKind,
    sourced: bool,
    ws: Workspace,
    runs: list[ScriptRun],
    skip: Skip,
    start: int,
    end: int,
    cwd: str | None = "",
) -> None:
    try:
        path = _resolve(word, cwd)
    except _UnknownDirectory:
        skip(f"{word.raw}: {_UNKNOWN_DIRECTORY}", NotCheckedKind.COMPUTED_PATH)
        return
    if path is None:
        skip(f"{word.raw}: computed path, not followed", NotCheckedKind.COMPUTED_PATH)
        return
    if path.startswith("/"):
        skip(
            f"{word.raw}: absolute path outside the repository, not followed",
            NotCheckedKind.OUTSIDE_SCRIPT,
        )
        return
    rel = _repository_file(word.raw, path, ws, skip, missing=True)
    if rel is None:
        return
    runs.append(ScriptRun(rel, script_kind(ws, rel) or kind, start, end, sourced, cwd))
