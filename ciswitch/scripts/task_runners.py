"""Task runners a CI line may call: ``npm run deploy``, ``yarn build``, ``just images``,
``task publish``.

ciswitch does not read what they run (``package.json``'s scripts, a justfile's recipes, a
Taskfile's tasks). So a runner whose file in the repository may run werf (the file mentions
werf, a ``WERF_`` variable or ``:local``, or names a script file that could) makes its line a
place not checked, with that reason. A runner whose file mentions none of those cannot reach
werf through it, and a runner with no file in the repository runs nothing of the project's:
neither is reported. Like make, npm, yarn and pnpm run their file's commands whatever the
subcommand (``npm ci`` runs the ``prepare`` and ``postinstall`` scripts), so every call counts.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence

from ciswitch.errors import CiswitchError
from ciswitch.patterns import lazy_compile
from ciswitch.scripts.suffixes import SCRIPT_SUFFIXES
from ciswitch.workspace import Workspace

#: the files each runner reads, looked for in its working directory, then upward to the root
RUNNER_FILES: dict[str, tuple[str, ...]] = {
    "npm": ("package.json",),
    "yarn": ("package.json",),
    "pnpm": ("package.json",),
    "just": ("justfile", "Justfile", "JUSTFILE", ".justfile"),
    "task": (
        "Taskfile.yml", "taskfile.yml", "Taskfile.yaml", "taskfile.yaml",
        "Taskfile.dist.yml", "taskfile.dist.yml", "Taskfile.dist.yaml", "taskfile.dist.yaml",
    ),
}
TASK_RUNNERS = frozenset(RUNNER_FILES)
#: what each runner calls the commands its file holds
_WHAT = {"npm": "scripts", "yarn": "scripts", "pnpm": "scripts", "just": "recipes",
         "task": "tasks"}
#: options naming the directory a runner works in (its file is looked for from there)
_DIRECTORY_OPTIONS: dict[str, frozenset[str]] = {
    "npm": frozenset({"--prefix", "-C"}),
    "yarn": frozenset({"--cwd"}),
    "pnpm": frozenset({"-C", "--dir"}),
    "just": frozenset({"-d", "--working-directory"}),
    "task": frozenset({"-d", "--dir"}),
}
#: options naming the runner's file itself
_FILE_OPTIONS: dict[str, frozenset[str]] = {
    "just": frozenset({"-f", "--justfile"}),
    "task": frozenset({"-t", "--taskfile"}),
}
#: every option above, for the prefilter: a line naming one is parsed whatever files exist
CHOOSING_OPTIONS = frozenset(
    option for table in (_DIRECTORY_OPTIONS, _FILE_OPTIONS) for options in table.values()
    for option in options
)
#: arguments that only ask the runner about itself
_ASKS_ONLY = frozenset({"-v", "--version", "version", "-h", "--help", "help"})
#: a word of a runner's file naming a script that could run werf
_SCRIPT_NAME = lazy_compile(
    r"(?:" + "|".join(re.escape(suffix) for suffix in SCRIPT_SUFFIXES) + r")\b"
)


def has_runner_file(runner: str, ws: Workspace, cwd: str | None) -> bool:
    """Whether ``runner`` (a key of :data:`RUNNER_FILES`) has a file from ``cwd`` upward (from
    the root when the directory is not known): which files exist, never what they hold."""
    return _find(runner, ws, cwd or "") is not None


def not_followed(
    runner: str, args: Sequence[str | None], ws: Workspace, cwd: str | None
) -> str | None:
    """Why a call of ``runner`` with ``args`` (their values; None for a word computed at run
    time) is a place not checked, or None when it cannot reach werf through its file."""
    if args and all(arg in _ASKS_ONLY for arg in args):
        return None  # ``npm --version``: the runner runs nothing of its file
    chosen = _chosen(runner, args, cwd or "")
    if isinstance(chosen, str):
        return (f"{runner} is pointed at a {chosen} computed at run time; what it runs"
                " is not followed")
    directory, file, explicit = chosen
    if file is not None:
        path = _existing(ws, file)
    elif explicit:  # a directory the runner is told to use: its file is there or nowhere
        path = _file_in(runner, ws, directory)
    else:
        path = _find(runner, ws, directory)
    if path is None:
        return None
    try:
        text = ws.read_bytes(path).decode("utf-8", "replace")
    except CiswitchError as err:
        return f"{path} cannot be read ({err.message}); its {_WHAT[runner]} are not followed"
    if "werf" in text or "WERF_" in text or ":local" in text:
        why = "it mentions werf"
    elif _SCRIPT_NAME.search(text):
        why = "it names a script that may run werf"
    else:
        return None
    return f"{path}'s {_WHAT[runner]} are not followed ({why})"


def _chosen(
    runner: str, args: Sequence[str | None], cwd: str
) -> tuple[str, str | None, bool] | str:
    """The directory the runner looks from, the file it was given (None: looked for) and
    whether an option named the directory, as its options say (the last option of each kind
    wins, as in the runners' own parsing); or what an option points it at that is computed at
    run time (``"directory"``, ``"file"``)."""
    directory, file, explicit = cwd, None, False
    directories = _DIRECTORY_OPTIONS.get(runner, frozenset())
    files = _FILE_OPTIONS.get(runner, frozenset())
    for index, value in enumerate(args):
        if value == "--":
            break  # the rest are the script's own arguments
        if value is None:
            continue
        name, equals, inline = value.partition("=")
        if name not in directories and name not in files:
            continue
        target = inline if equals else (args[index + 1] if index + 1 < len(args) else None)
        if not target:
            return "directory" if name in directories else "file"
        joined = posixpath.normpath(posixpath.join(cwd, target))
        if name in directories:
            directory, explicit = joined, True
        else:
            file = joined
    return directory, file, explicit


def _find(runner: str, ws: Workspace, directory: str) -> str | None:
    """The runner's file in ``directory`` or the nearest directory above it in the
    repository."""
    here = posixpath.normpath(directory) if directory else ""
    here = "" if here == "." else here
    while not _outside(here):
        found = _file_in(runner, ws, here)
        if found is not None or not here:
            return found
        here = posixpath.dirname(here)
    return None  # outside the repository: not the project's file


def _file_in(runner: str, ws: Workspace, directory: str) -> str | None:
    """The runner's file in ``directory`` itself."""
    for name in RUNNER_FILES[runner]:
        found = _existing(ws, posixpath.join(directory, name) if directory else name)
        if found is not None:
            return found
    return None


def _outside(path: str) -> bool:
    return path == ".." or path.startswith(("../", "/"))


def _existing(ws: Workspace, path: str) -> str | None:
    if _outside(path):
        return None
    try:
        return path if ws.is_file(path) else None
    except CiswitchError:
        return None
