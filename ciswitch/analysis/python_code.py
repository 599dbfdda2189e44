"""The code of ``python3 -c CODE`` inside a shell site, read as Python.

Its werf calls and settings (``subprocess.run(["werf", "build", "-s", ":local"])``) are found
by the same reader as a Python helper's, and reported at the exact characters of the file:
each character of the code maps to where the shell word writes it. They are left for a person
to change, with that reason: a fix would have to be written as Python inside shell quoting
inside YAML, and proven at each level. Code that is not valid Python is a place not checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ciswitch.analysis.mapping import safe_map
from ciswitch.edits import NoFix
from ciswitch.model import FileKind, NotChecked, NotCheckedKind
from ciswitch.source import SourceFile

if TYPE_CHECKING:
    from ciswitch.analysis.sites import PythonFileSite, ShellTextSite
    from ciswitch.model import Fix
    from ciswitch.scripts.python import PythonReading
    from ciswitch.shell import Assignment, FlagUse, ShellReading, WerfCall
    from ciswitch.shell.model import CommandString


class PythonCodeSite:
    """The code of ``python -c`` in a shell text: offsets are the code's own."""

    runs_files = False

    def __init__(self, parent: ShellTextSite, string: CommandString) -> None:
        self.parent = parent
        self.string = string
        self.file: SourceFile = parent.file
        self.text: str = string.text
        self._python: PythonReading | None = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.file.path, hash((self.parent.key, "python", self.string.word_start)))

    @property
    def file_kind(self) -> FileKind:
        return self.parent.file_kind

    @property
    def worth_parsing(self) -> bool:
        from ciswitch.analysis.sites import mentions_werf

        return mentions_werf(self.text)

    @property
    def python(self) -> PythonReading:
        if self._python is None:
            from ciswitch.scripts.python import analyse_python

            self._python = analyse_python(self.file.path, self.text)
        return self._python

    def commands(self) -> ShellReading:
        return self.python.shell_reading(self.text)

    def to_file(self, start: int, end: int) -> tuple[int, int]:
        return self.parent.to_file(*self.string.outer(start, end))

    def anchor(self) -> int:
        return self.parent.anchor()

    def _refused(self) -> NoFix:
        return NoFix(f"it is in the code of {self.string.shell} -c: change it by hand")

    def flag_fix(self, flag: FlagUse, call: WerfCall, to: str | None) -> Fix:
        raise self._refused()

    def assignment_fix(self, assignment: Assignment, to: str | None) -> Fix:
        raise self._refused()


def unread_python(site: PythonFileSite | PythonCodeSite) -> NotChecked | None:
    """The place not checked when a Python text mentioning werf is not valid Python (its
    reader finds nothing in it), or None."""
    error = site.python.error
    if not error:
        return None
    if isinstance(site, PythonCodeSite):
        start, _ = safe_map(site.parent, site.string.word_start, site.string.word_start)
        return NotChecked(
            site.file.path, site.file.position(start).line, NotCheckedKind.COMMAND_STRING,
            f"{site.string.shell} -c: the code is not valid Python ({error}), not read",
        )
    return NotChecked(site.file.path, site.python.error_line or None,
                      NotCheckedKind.UNREADABLE_SCRIPT, f"not valid Python ({error}), not read")
