"""Plain values shared by every layer: findings, the text edits that fix them, and input errors.

They live in one small module with no heavy imports so that the rules, the edits engine, the
report writers, the git layer and the fleet journal can all speak the same language without
importing each other. Offsets are *character* offsets into a file's decoded text (BOM removed);
lines and columns are 1-based, columns counted in characters.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

#: werf's environment variables behind ``--stages-storage`` and ``--synchronization``, and the
#: value this tool is about (here, not in :mod:`ciswitch.shell`, so that reading them does not
#: load the shell parser)
STAGES_VAR = "WERF_STAGES_STORAGE"
SYNC_VAR = "WERF_SYNCHRONIZATION"
LOCAL = ":local"


class Severity(enum.Enum):
    """How bad a finding is; maps onto the levels of every report format."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, order=True)
class Edit:
    """Replace ``text[start:end]`` of the file at ``path`` (repository-relative, POSIX) by
    ``replacement``. Offsets are character offsets in the decoded text without BOM."""

    path: str
    start: int
    end: int
    replacement: str = ""


@dataclass(frozen=True)
class Fix:
    """The edits that resolve one finding.

    ``safe`` is False for fixes that change behaviour beyond the storage switch (removing
    ``:local`` synchronization changes the locking backend): they need ``--unsafe-fixes``.
    ``removed_words`` lists the shell words (or ``NAME=value`` assignments, or variable names
    for ``variables:`` entries) that the fix takes away; the verifier checks that exactly these
    disappear from the file's meaning and nothing else changes.
    """

    edits: tuple[Edit, ...]
    safe: bool = True
    description: str = ""
    removed_words: tuple[str, ...] = ()
    #: words the fix brings in (the address given with ``--to``)
    added_words: tuple[str, ...] = ()


@dataclass(frozen=True)
class Position:
    """A 1-based line and column (in characters)."""

    line: int
    column: int


@dataclass
class Finding:
    """One problem at one source place, with every job that the place affects."""

    code: str
    message: str
    path: str
    start: int
    end: int
    begin: Position
    finish: Position
    jobs: tuple[str, ...] = ()
    severity: Severity = Severity.ERROR
    fix: Fix | None = None
    #: why no fix is offered (shown in ``fix``'s summary), when ``fix`` is None
    unfixable_reason: str = ""
    #: the source line (without its newline) for the text report's excerpt
    source_line: str = ""

    @property
    def fixable(self) -> bool:
        return self.fix is not None

    @property
    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.begin.line, self.begin.column, self.code)


@dataclass(frozen=True)
class Problem:
    """An input error (invalid YAML, missing include, ...): reported, never fatal to the rest."""

    path: str
    message: str
    line: int | None = None
    column: int | None = None

    def one_line(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: error: {self.message}"


@dataclass(frozen=True)
class Notice:
    """Something the user should know that is neither a finding nor an error: an include that
    cannot be followed from the repository, a duplicate key, a script not followed."""

    path: str
    message: str
    line: int | None = None


@dataclass
class LintResult:
    """Everything ``lint`` learnt about one repository (or one set of named files)."""

    root: str
    findings: list[Finding] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    #: repository-relative paths of every file that was read
    files: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.problems:
            return 2
        return 1 if self.findings else 0
