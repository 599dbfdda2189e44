"""Which repository files a shell text runs: scripts it executes or sources, Python helpers.

Real projects hide their werf calls in ``ci/build.sh`` or ``deploy.py``; cleaning
``.gitlab-ci.yml`` alone would leave ``-s :local`` in them and break the first pipeline after the
switch. GitLab runs a job's script from the repository root, so relative paths (and
``$CI_PROJECT_DIR/...``) resolve from there. Every read goes through the :class:`Workspace`,
which refuses paths that leave the repository; what cannot be resolved is reported as "not
followed" rather than guessed.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ciswitch.errors import CiswitchError
from ciswitch.model import NotCheckedKind
from ciswitch.workspace import Workspace, normalize

if TYPE_CHECKING:
    from ciswitch.shell.commands import CommandInfo
    from ciswitch.shell.model import Word

ScriptKind = Literal["shell", "python"]
#: records a command that runs something not followed: its message and why
Skip = Callable[[str, NotCheckedKind], None]

SHELL_SUFFIXES = (".sh", ".bash", ".bats", ".ksh", ".zsh", ".dash")
PYTHON_SUFFIXES = (".py",)
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash", "mksh", "bats"})
_PYTHON = re.compile(r"python(?:\d+(?:\.\d+)?)?")
_MAKES = frozenset({"make", "gmake"})
_SOURCERS = frozenset({"source", "."})
#: commands that run their arguments as a command line
_WRAPPERS = frozenset({"exec", "command", "time", "nohup", "sudo", "env", "xargs"})
_PROJECT_DIR = re.compile(r"\$\{CI_PROJECT_DIR\}|\$CI_PROJECT_DIR(?![A-Za-z0-9_])")
_SHEBANG_SHELL = re.compile(r"^#!\s*\S*?(?:/env\s+(?:-\S+\s+)*)?\S*?\b(?:ba|da|z|k|a|mk)?sh\b")
_SHEBANG_PYTHON = re.compile(r"^#!.*\bpython[\d.]*\b")
#: cheap prefilter: a text that may run a file (a path, a sourcing dot, an interpreter, make)
#: lines that are parsed whatever their words: make (to say it is not followed)
_ALWAYS_PARSE = re.compile(
    r"\bg?make\b"
    # a shell, ``source``/``.`` or Python running a path held in a variable (computed path)
    r"|(?:^|[\s;&|(])(?:(?:ba|da|z|k|a|mk)?sh|source|\.|python[\d.]*)\s+[\"']?\$\{?[A-Za-z_]"
)
#: ``python -m package.module``: parsed when the module is a file of the repository
_PYTHON_MODULE = re.compile(r"python[\d.]*\s(?:\s*-[^m\s]\S*)*\s*-m\s*([\w.]+)")
#: candidate words of a line: what could name a repository file
_CANDIDATE = re.compile(r"[^\s;&|()<>`'\"{}]+")
_PROJECT_PREFIX = re.compile(r"^\$(?:\{CI_PROJECT_DIR\}|CI_PROJECT_DIR)/")
#: shell options that take a value
_SHELL_VALUE_OPTIONS = frozenset({"-o", "+o", "-O", "+O", "--rcfile", "--init-file"})
_PYTHON_VALUE_OPTIONS = frozenset({"-W", "-X", "--check-hash-based-pycs"})


@dataclass(frozen=True)
class ScriptRun:
    """A command of a shell text that runs a repository file."""

    path: str  # repository-relative POSIX path
    kind: ScriptKind
    start: int  # the command's span in the shell text
    end: int
    sourced: bool = False


@dataclass(frozen=True)
class NotFollowed:
    """A command that runs something the replay does not read (``make``, a missing file)."""

    start: int
    message: str
    kind: NotCheckedKind = NotCheckedKind.MISSING_SCRIPT


_RUNNERS = frozenset({*_SOURCERS, *_SHELLS, "python", "python3", "python2"})


def may_run_files(text: str, ws: Workspace) -> bool:
    """Whether ``text`` is worth parsing for script runs at all: one of its words names a
    script (by suffix) or a file of the repository (a path, or the word after ``bash``,
    ``source``, ``python``...), or it runs make or ``python -m``. Most CI lines
    (``pytest tests/unit``, ``docker build .``) fail this cheap test, so tree-sitter is not
    loaded for them."""
    if _ALWAYS_PARSE.search(text):
        return True
    for module in _PYTHON_MODULE.findall(text):
        base = module.replace(".", "/")
        if ws.is_file(f"{base}.py") or ws.is_file(f"{base}/__main__.py"):
            return True
    previous = ""
    for word in _CANDIDATE.findall(text):
        word = _PROJECT_PREFIX.sub("", word)
        after_runner, previous = previous in _RUNNERS, word
        if word.lower().endswith((*SHELL_SUFFIXES, *PYTHON_SUFFIXES)):
            return True
        if word.startswith(("-", "$")) or not ("/" in word or after_runner):
            continue
        try:
            if ws.is_file(word.lstrip("/")):
                return True
        except CiswitchError:
            continue
    return False


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
    """The repository files ``text`` executes or sources, and what it runs that is not
    followed. Only texts that :func:`may_run_files` are parsed."""
    if not may_run_files(text, ws):
        return [], []
    from ciswitch.shell.commands import commands

    runs: list[ScriptRun] = []
    skipped: list[NotFollowed] = []
    for command in commands(text):
        _classify(command, ws, runs, skipped)
    return runs, skipped


def _classify(
    command: CommandInfo, ws: Workspace, runs: list[ScriptRun], skipped: list[NotFollowed]
) -> None:
    words = [command.name, *command.args]
    while words and _base(words[0]) in _WRAPPERS:
        wrapper = _base(words[0])
        words = words[1:]
        while words and (
            (words[0].value or "").startswith("-")
            or (wrapper in ("env", "sudo") and "=" in (words[0].value or "").split("/")[0])
        ):
            words = words[1:]
    if not words:
        return
    name, args = words[0], words[1:]
    base = _base(name)
    start, end = command.start, command.end

    def skip(message: str, kind: NotCheckedKind) -> None:
        skipped.append(NotFollowed(start, message, kind))

    if base in _MAKES:
        target = " ".join(w.raw for w in args if not w.raw.startswith("-")) or "default target"
        skip(f"{base} {target}: make targets are not followed", NotCheckedKind.MAKE_TARGET)
        return
    if base in _SOURCERS and name.value in _SOURCERS:
        if not args or _is_substitution(args[0]):
            return
        _add(args[0], "shell", True, ws, runs, skip, start, end)
        return
    if base in _SHELLS:
        script = _shell_target(args, skip, base)
        if script is not None:
            _add(script, "shell", False, ws, runs, skip, start, end)
        return
    if _PYTHON.fullmatch(base):
        _python(args, ws, runs, skip, start, end)
        return
    raw = name.value if name.value is not None else name.raw
    if "/" in raw and base != "werf":
        path = _resolve(name)
        if path is None or path.startswith("/"):
            return  # a system binary, or a path built at run time
        try:
            path = normalize(path)
        except CiswitchError:
            skip(f"{name.raw}: outside the repository, not followed", NotCheckedKind.OUTSIDE_SCRIPT)
            return
        if not ws.is_file(path):
            unreadable = unreadable_reason(ws, path)
            if unreadable is not None:
                skip(f"{name.raw}: {unreadable}, not read", NotCheckedKind.UNREADABLE_SCRIPT)
            elif _PROJECT_DIR.search(name.raw) or raw.startswith("./") or not raw.startswith("/"):
                skip(
                    f"{name.raw}: no such file in the repository, not followed",
                    NotCheckedKind.MISSING_SCRIPT,
                )
            return
        kind = script_kind(ws, path)
        if kind is not None:
            runs.append(ScriptRun(path, kind, start, end))
        elif _is_binary(ws, path):
            skip(f"{name.raw}: a binary program, not read", NotCheckedKind.UNREADABLE_SCRIPT)


def _base(word: Word) -> str:
    return posixpath.basename(word.value) if word.value is not None else ""


def _is_substitution(word: Word) -> bool:
    raw = word.raw.lstrip('"')
    return raw.startswith(("$(", "<(", "`"))


def _shell_target(args: list[Word], skip: Skip, shell: str) -> Word | None:
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
        if value.startswith(("-", "+")) and len(value) > 1:
            if "c" in value and not value.startswith("--"):
                skip(f"{shell} -c: a command string, not followed", NotCheckedKind.COMMAND_STRING)
                return None
            index += 1
            continue
        return args[index]
    return None


def _python(
    args: list[Word],
    ws: Workspace,
    runs: list[ScriptRun],
    skip: Skip,
    start: int,
    end: int,
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
            base = module.replace(".", "/")
            for candidate in (f"{base}.py", f"{base}/__main__.py"):
                if ws.is_file(candidate):
                    runs.append(ScriptRun(candidate, "python", start, end))
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
        _add(args[index], "python", False, ws, runs, skip, start, end)


def _resolve(word: Word) -> str | None:
    """The repository path a word names, or None when the shell would have to compute it.

    Absolute paths are returned as they are (``/...``) for the caller to ignore.
    """
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


def _add(
    word: Word,
    kind: ScriptKind,
    sourced: bool,
    ws: Workspace,
    runs: list[ScriptRun],
    skip: Skip,
    start: int,
    end: int,
) -> None:
    path = _resolve(word)
    if path is None:
        skip(f"{word.raw}: computed path, not followed", NotCheckedKind.COMPUTED_PATH)
        return
    if path.startswith("/"):
        skip(
            f"{word.raw}: absolute path outside the repository, not followed",
            NotCheckedKind.OUTSIDE_SCRIPT,
        )
        return
    try:
        rel = normalize(path)
    except CiswitchError:
        skip(f"{word.raw}: outside the repository, not followed", NotCheckedKind.OUTSIDE_SCRIPT)
        return
    if not ws.is_file(rel):
        unreadable = unreadable_reason(ws, rel)
        if unreadable is not None:
            skip(f"{word.raw}: {unreadable}, not read", NotCheckedKind.UNREADABLE_SCRIPT)
        else:
            skip(
                f"{word.raw}: no such file in the repository, not followed",
                NotCheckedKind.MISSING_SCRIPT,
            )
        return
    runs.append(ScriptRun(rel, script_kind(ws, rel) or kind, start, end, sourced))
