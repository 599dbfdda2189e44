"""Plain values shared by every layer: findings, the text edits that fix them, and input errors.

They live in one small module with no heavy imports so that the rules, the edits engine, the
report writers, the git layer and the fleet journal can all speak the same language without
importing each other. Offsets are *character* offsets into a file's decoded text (BOM removed);
lines and columns are 1-based, columns counted in characters.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable

from ciswitch.record import OrderedRecord, Record, setf

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


class FileKind(enum.Enum):
    """How a file is read (as CI YAML, a shell script, a Python helper), and so how a fix of
    it is verified (:mod:`ciswitch.verify`)."""

    YAML = "yaml"
    SHELL = "shell"
    PYTHON = "python"


class Edit(OrderedRecord, frozen=True):
    """Replace ``text[start:end]`` of the file at ``path`` (repository-relative, POSIX) by
    ``replacement``. Offsets are character offsets in the decoded text without BOM."""

    path: str
    start: int
    end: int
    replacement: str

    def __init__(self, path: str, start: int, end: int, replacement: str = "") -> None:
        setf(self, "path", path)
        setf(self, "start", start)
        setf(self, "end", end)
        setf(self, "replacement", replacement)


class Fix(Record, frozen=True):
    """The edits that resolve one finding.

    ``safe`` is False for fixes that change behaviour beyond the storage switch (removing
    ``:local`` synchronization changes the locking backend): they need ``--unsafe-fixes``.
    ``removed_words`` lists the shell words (or ``NAME=value`` assignments, or variable names
    for ``variables:`` entries) that the fix takes away; the verifier checks that exactly these
    disappear from the file's meaning and nothing else changes.
    """

    edits: tuple[Edit, ...]
    safe: bool
    description: str
    removed_words: tuple[str, ...]
    #: words the fix brings in (the address given with ``--to``)
    added_words: tuple[str, ...]

    def __init__(self, edits: tuple[Edit, ...], safe: bool = True, description: str = "",
                 removed_words: tuple[str, ...] = (), added_words: tuple[str, ...] = ()) -> None:
        setf(self, "edits", edits)
        setf(self, "safe", safe)
        setf(self, "description", description)
        setf(self, "removed_words", removed_words)
        setf(self, "added_words", added_words)


class Position(Record, frozen=True):
    """A 1-based line and column (in characters)."""

    line: int
    column: int

    def __init__(self, line: int, column: int) -> None:
        setf(self, "line", line)
        setf(self, "column", column)


class Reason(str):
    """A reason a place is left that names its jobs, with the form a summary counts it under,
    its jobs left out (:attr:`group`). Reasons travel as text: through the fix's refusals, into
    every report. Only ``fix``'s summary asks for the group, so that a big pipeline's 7,000
    places blocked each for its own job read as one clause instead of 7,000."""

    group: str

    def __new__(cls, text: str, group: str = "") -> Reason:
        made = super().__new__(cls, text)
        made.group = group or text
        return made


def group_of(reason: str) -> str:
    """The form a summary counts ``reason`` under: its group, or the reason itself."""
    return reason.group if isinstance(reason, Reason) else reason


class Finding(Record):
    """One problem at one source place, with every job that the place affects."""

    code: str
    message: str
    path: str
    start: int
    end: int
    begin: Position
    finish: Position
    jobs: tuple[str, ...]
    severity: Severity
    fix: Fix | None
    #: why no fix is offered (shown in ``fix``'s summary), when ``fix`` is None
    unfixable_reason: str
    #: the source line (without its newline) for the text report's excerpt
    source_line: str
    #: every source line from ``begin`` to ``finish`` (without newlines), for the snippets of
    #: reports; empty when only :attr:`source_line` is known
    source_lines: tuple[str, ...]
    #: a place outside the repository's files (a CI/CD variable GitLab keeps in its settings):
    #: reported by this logical location, never at a file line; ``path`` is its name then
    setting: SettingPlace | None

    def __init__(self, code: str, message: str, path: str, start: int, end: int,
                 begin: Position, finish: Position, jobs: tuple[str, ...] = (),
                 severity: Severity = Severity.ERROR, fix: Fix | None = None,
                 unfixable_reason: str = "", source_line: str = "",
                 source_lines: tuple[str, ...] = (), setting: SettingPlace | None = None) -> None:
        self.code = code
        self.message = message
        self.path = path
        self.start = start
        self.end = end
        self.begin = begin
        self.finish = finish
        self.jobs = jobs
        self.severity = severity
        self.fix = fix
        self.unfixable_reason = unfixable_reason
        self.source_line = source_line
        self.source_lines = source_lines
        self.setting = setting

    @property
    def snippet(self) -> str:
        """The text of the finding's span, as far as its source lines are known."""
        lines = self.source_lines or (self.source_line,)
        if self.finish.line == self.begin.line or len(lines) == 1:
            first = lines[0]
            end = self.finish.column - 1 if self.finish.line == self.begin.line else len(first)
            return first[self.begin.column - 1:end]
        inner = [lines[0][self.begin.column - 1:], *lines[1:-1], lines[-1][:self.finish.column - 1]]
        return "\n".join(inner)

    @property
    def fixable(self) -> bool:
        return self.fix is not None

    @property
    def in_file(self) -> bool:
        """Whether the finding is at a file line (not a setting kept outside the files)."""
        return self.setting is None

    @property
    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.begin.line, self.begin.column, self.code)


class SettingPlace(Record, frozen=True):
    """A CI/CD variable in GitLab's settings, as reports name it: its logical location
    (``gitlab: group web/ variable WERF_STAGES_STORAGE (environment scope *)``) and its flags.
    Never its value: a masked one is not known, and the others need not be printed."""

    name: str
    #: ``project``, ``group``, ``instance`` or ``schedule``
    level: str
    #: the project's or group's full path ("" for the instance)
    owner: str
    key: str
    environment_scope: str
    protected: bool
    masked: bool
    schedule_id: int | None

    def __init__(self, name: str, level: str, owner: str, key: str,
                 environment_scope: str = "*", protected: bool = False,
                 masked: bool = False, schedule_id: int | None = None) -> None:
        setf(self, "name", name)
        setf(self, "level", level)
        setf(self, "owner", owner)
        setf(self, "key", key)
        setf(self, "environment_scope", environment_scope)
        setf(self, "protected", protected)
        setf(self, "masked", masked)
        setf(self, "schedule_id", schedule_id)

    @property
    def flags(self) -> str:
        """``protected, masked``, or ""."""
        return ", ".join(f for f, on in (("protected", self.protected),
                                         ("masked", self.masked)) if on)


class Problem(Record, frozen=True):
    """An input error (invalid YAML, missing include, ...): reported, never fatal to the rest."""

    path: str
    message: str
    line: int | None
    column: int | None

    def __init__(self, path: str, message: str, line: int | None = None,
                 column: int | None = None) -> None:
        setf(self, "path", path)
        setf(self, "message", message)
        setf(self, "line", line)
        setf(self, "column", column)

    def one_line(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: error: {self.message}"


class Notice(Record, frozen=True):
    """Something the user should know that is neither a finding nor an error: an include that
    cannot be followed from the repository, a duplicate key, a script not followed."""

    path: str
    message: str
    line: int | None

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        setf(self, "path", path)
        setf(self, "message", message)
        setf(self, "line", line)


class NotCheckedKind(enum.Enum):
    """Why a place was not checked: each kind has a phrase for the summary (singular,
    plural) so that the reports can count them by what they are."""

    PROJECT_INCLUDE = "project-include"
    REMOTE_INCLUDE = "remote-include"
    TEMPLATE_INCLUDE = "template-include"
    COMPONENT_INCLUDE = "component-include"
    UNKNOWN_INCLUDE = "unknown-include"
    INCLUDE_RULES = "include-rules"
    COMPUTED_INCLUDE = "computed-include"
    CHILD_PIPELINE = "child-pipeline"
    UNREADABLE_SCRIPT = "unreadable-script"
    MISSING_SCRIPT = "missing-script"
    OUTSIDE_SCRIPT = "outside-script"
    COMPUTED_PATH = "computed-path"
    MAKE_TARGET = "make-target"
    TASK_RUNNER = "task-runner"
    COMMAND_STRING = "command-string"
    UNREAD_COMMAND = "unread-command"
    THROUGH_OUTPUT = "through-output"
    CI_INPUT = "ci-input"
    PYTHON_MODULE = "python-module"
    GITLAB_SETTINGS = "gitlab-settings"

    @property
    def phrase(self) -> tuple[str, str]:
        """``(singular, plural)`` as the summary counts them."""
        return _PHRASES[self]

    def counted(self, count: int) -> str:
        """``1 unreadable script``, ``2 unreadable scripts``."""
        one, many = self.phrase
        return f"{count} {one if count == 1 else many}"


_PHRASES: dict[NotCheckedKind, tuple[str, str]] = {
    NotCheckedKind.PROJECT_INCLUDE: (
        "include from another project", "includes from other projects"),
    NotCheckedKind.REMOTE_INCLUDE: ("remote include", "remote includes"),
    NotCheckedKind.TEMPLATE_INCLUDE: ("template include", "template includes"),
    NotCheckedKind.COMPONENT_INCLUDE: ("component include", "component includes"),
    NotCheckedKind.UNKNOWN_INCLUDE: ("include of an unknown kind", "includes of unknown kinds"),
    NotCheckedKind.INCLUDE_RULES: (
        "conditional include not in the repository",
        "conditional includes not in the repository"),
    NotCheckedKind.COMPUTED_INCLUDE: (
        "include with a variable in its path", "includes with variables in their paths"),
    NotCheckedKind.CHILD_PIPELINE: (
        "child pipeline from outside the repository",
        "child pipelines from outside the repository"),
    NotCheckedKind.UNREADABLE_SCRIPT: ("unreadable script", "unreadable scripts"),
    NotCheckedKind.MISSING_SCRIPT: (
        "script not in the repository", "scripts not in the repository"),
    NotCheckedKind.OUTSIDE_SCRIPT: (
        "script outside the repository", "scripts outside the repository"),
    NotCheckedKind.COMPUTED_PATH: ("computed script path", "computed script paths"),
    NotCheckedKind.MAKE_TARGET: ("make target", "make targets"),
    NotCheckedKind.TASK_RUNNER: ("task runner call", "task runner calls"),
    NotCheckedKind.COMMAND_STRING: ("command string", "command strings"),
    NotCheckedKind.UNREAD_COMMAND: ("werf command not read", "werf commands not read"),
    NotCheckedKind.THROUGH_OUTPUT: (
        "file read through a command's output", "files read through commands' output"),
    NotCheckedKind.CI_INPUT: ("CI/CD input not interpolated", "CI/CD inputs not interpolated"),
    NotCheckedKind.PYTHON_MODULE: ("Python module not found", "Python modules not found"),
    NotCheckedKind.GITLAB_SETTINGS: (
        "place in GitLab's CI/CD settings", "places in GitLab's CI/CD settings"),
}


class NotChecked(Record, frozen=True):
    """A place ciswitch could not read or follow, so whatever it holds was not checked: an
    include from another project, a script it cannot read, a computed path, a ``make``
    target. Never silent: every report shows it, and ``--strict`` fails on it."""

    path: str
    line: int | None
    kind: NotCheckedKind
    #: what it is and why it was not checked, e.g. ``include project: group/ci: not in this
    #: repository``
    message: str
    column: int | None

    def __init__(self, path: str, line: int | None, kind: NotCheckedKind, message: str,
                 column: int | None = None) -> None:
        setf(self, "path", path)
        setf(self, "line", line)
        setf(self, "kind", kind)
        setf(self, "message", message)
        setf(self, "column", column)

    @property
    def in_file(self) -> bool:
        """Whether the place is in the repository's files; GitLab's CI/CD settings are not
        (``path`` is then a logical name such as ``gitlab``), and ``--strict`` does not count
        them: only ``--gitlab-url`` with a token can check them."""
        return self.kind is not NotCheckedKind.GITLAB_SETTINGS

    def where(self) -> str:
        """``path:line`` (or the path alone)."""
        return self.path if self.line is None else f"{self.path}:{self.line}"

    @property
    def text(self) -> str:
        """``not checked: MESSAGE``; a settings entry's message says it already."""
        return f"not checked: {self.message}" if self.in_file else self.message

    def one_line(self) -> str:
        return f"{self.where()}: {self.text}"

    @property
    def sort_key(self) -> tuple[str, int, str]:
        return (self.path, self.line or 0, self.message)


def not_checked_summary(entries: list[NotChecked]) -> str:
    """``2 places not checked (1 include from another project, 1 unreadable script)``, or
    ``""`` when everything was checked."""
    if not entries:
        return ""
    counts: dict[NotCheckedKind, int] = {}
    for entry in entries:
        counts[entry.kind] = counts.get(entry.kind, 0) + 1
    # the places of the repository first, most frequent first; GitLab's settings last
    parts = ", ".join(kind.counted(n) for kind, n in sorted(
        counts.items(), key=lambda item: (item[0] is NotCheckedKind.GITLAB_SETTINGS,
                                          -item[1], item[0].value)))
    places = "place" if len(entries) == 1 else "places"
    return f"{len(entries)} {places} not checked ({parts})"


class Provenance(Record, frozen=True):
    """Where the linted files come from in version control (SARIF's
    ``versionControlProvenance``): the repository's address without credentials and the
    commit checked out."""

    repository_uri: str
    revision: str
    branch: str | None

    def __init__(self, repository_uri: str, revision: str, branch: str | None = None) -> None:
        setf(self, "repository_uri", repository_uri)
        setf(self, "revision", revision)
        setf(self, "branch", branch)


class LintResult(Record):
    """Everything ``lint`` learnt about one repository (or one set of named files)."""

    root: str
    findings: list[Finding]
    problems: list[Problem]
    notices: list[Notice]
    #: places that could not be read or followed, in file order
    not_checked: list[NotChecked]
    #: repository-relative paths of every file that was read
    files: list[str]
    #: the configuration asks for every place to be checked (``strict = true``)
    strict: bool
    #: the git repositories of the files linted (filled only for the reports that say it)
    provenance: list[Provenance]

    def __init__(self, root: str, findings: list[Finding] | None = None,
                 problems: list[Problem] | None = None,
                 notices: list[Notice] | None = None,
                 not_checked: list[NotChecked] | None = None,
                 files: list[str] | None = None, strict: bool = False,
                 provenance: list[Provenance] | None = None) -> None:
        self.root = root
        self.findings = [] if findings is None else findings
        self.problems = [] if problems is None else problems
        self.notices = [] if notices is None else notices
        self.not_checked = [] if not_checked is None else not_checked
        self.files = [] if files is None else files
        self.strict = strict
        self.provenance = [] if provenance is None else provenance

    @property
    def exit_code(self) -> int:
        return self.exit_status(strict=self.strict)

    def exit_status(self, *, strict: bool = False) -> int:
        """2 for input errors, 1 for findings (and, with ``strict``, for any place of the
        repository not checked), else 0."""
        if self.problems:
            return 2
        if self.findings or (strict and any(e.in_file for e in self.not_checked)):
            return 1
        return 0

    def add_not_checked(self, entries: list[NotChecked]) -> None:
        """Add entries, each place once, keeping file order."""
        seen = set(self.not_checked)
        for entry in entries:
            if entry not in seen:
                seen.add(entry)
                self.not_checked.append(entry)
        self.not_checked.sort(key=lambda e: e.sort_key)


def counted(count: int, one: str, many: str | None = None) -> str:
    """``1 place``, ``2 places`` (``many`` for an irregular plural)."""
    return f"{count} {one if count == 1 else (many or one + 's')}"


#: verbs that open the reasons and messages counted in summaries, singular -> plural
_VERBS = {"needs": "need", "is": "are", "has": "have", "uses": "use", "takes": "take",
          "overlaps": "overlap", "was": "were", "would": "would", "keeps": "keep",
          "runs": "run", "still": "still", "carries": "carry"}


def counted_clause(count: int, clause: str) -> str:
    """``1 needs an address``, ``2 need an address``: a clause whose first word is a verb in
    the singular, after its count (so are ``unsafe fix ...`` and ``not ...``). A clause with
    a subject of its own (``jobs a, b would have ...``, ``the fix would change ...``) is what
    the counted places are left for: ``2 places: jobs a, b would have ...``, where ``2 jobs
    a, b, c`` would read as a count of its jobs."""
    first, _, rest = clause.partition(" ")
    if clause.startswith("unsafe fix"):
        if count != 1 and not clause.startswith("unsafe fixes"):
            clause = "unsafe fixes" + clause.removeprefix("unsafe fix")
    elif first in _VERBS:
        if count != 1:
            clause = f"{_VERBS[first]} {rest}" if rest else _VERBS[first]
    elif first != "not":
        return f"{counted(count, 'place')}: {clause}"
    return f"{count} {clause}"


def reason_counts(reasons: Iterable[str]) -> list[tuple[str, int]]:
    """How many places are left for each reason, the most common first (ties in the order
    they come). Reasons of one group (the same reason about different jobs) are counted
    together under the group, unless the group has only one of them: then the reason itself,
    with its jobs, says more."""
    counts = Counter(reasons)
    sizes = Counter(group_of(reason) for reason in counts)
    merged: Counter[str] = Counter()
    for reason, count in counts.items():
        group = group_of(reason)
        merged[group if sizes[group] > 1 else reason] += count
    return merged.most_common()
