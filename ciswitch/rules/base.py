"""What every rule shares: the :class:`Rule` record, its options and how a place becomes a
:class:`Finding`."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence

from ciswitch.analysis.facts import Facts, Place
from ciswitch.edits import NoFix
from ciswitch.model import Finding, Fix, Reason, Severity
from ciswitch.record import Record, setf

SWITCHED_NOTE = (
    "reintroduces :local after the switch: werf refuses it "
    '("stages storage has been switched from :local")'
)


class RuleOptions(Record, frozen=True):
    """What a rule needs beyond the facts."""

    #: replace :local by this address instead of removing it
    to: str | None
    #: the project is marked as switched to a remote stages storage
    switched: bool

    def __init__(self, to: str | None = None, switched: bool = False) -> None:
        setf(self, "to", to)
        setf(self, "switched", switched)


#: a rule over the facts: one finding per place it reports
Check = Callable[[Facts, RuleOptions], Iterator[Finding]]
#: a rule over the other rules' findings and the files' texts (suppression comments): the
#: findings kept and its own; ``enabled`` are the codes that ran
Review = Callable[
    [list[Finding], dict[str, str], Collection[str]], tuple[list[Finding], list[Finding]]
]


class Rule(Record, frozen=True):
    """One rule: what the reports and the docs say about it, and how it runs."""

    code: str
    name: str
    summary: str
    severity: Severity
    #: "safe", "unsafe" or "none"
    fix_safety: str
    #: Markdown with the headings "What it does", "Why is this bad?", "Example", "Use
    #: instead", "Fix safety" (the pages under ``docs/rules/`` are generated from it), as the
    #: module's docstring has it (indented: :mod:`ciswitch.report.meta` cleans it)
    doc: str
    #: the module that defines the rule (where its documentation is edited)
    source: str
    check: Check | None
    review: Review | None
    #: whether ``# ciswitch: ignore[CODE]`` can silence it
    suppressible: bool
    #: why an unsafe fix was left alone without ``--unsafe-fixes``
    unsafe_reason: str
    #: what ``fix`` says after applying the rule's unsafe fixes
    unsafe_note: str

    def __init__(self, code: str, name: str, summary: str, severity: Severity,
                 fix_safety: str, doc: str, source: str, check: Check | None = None,
                 review: Review | None = None, suppressible: bool = True,
                 unsafe_reason: str = "", unsafe_note: str = "") -> None:
        setf(self, "code", code)
        setf(self, "name", name)
        setf(self, "summary", summary)
        setf(self, "severity", severity)
        setf(self, "fix_safety", fix_safety)
        setf(self, "doc", doc)
        setf(self, "source", source)
        setf(self, "check", check)
        setf(self, "review", review)
        setf(self, "suppressible", suppressible)
        setf(self, "unsafe_reason", unsafe_reason)
        setf(self, "unsafe_note", unsafe_note)

    @property
    def about_ci(self) -> bool:
        """Whether its findings are about the CI configuration itself (a rule reviewing
        suppression comments is not)."""
        return self.review is None


def in_jobs(jobs: tuple[str, ...], word: str = "in") -> str:
    """`` in job a`` / `` in jobs a, b``, or nothing for a place no job reaches (a script
    linted on its own)."""
    return f" {word} {jobs_text(jobs)}" if jobs else ""


def reached(place: Place, word: str = "in") -> str:
    """Who runs a place, for a message: `` in jobs a, b``; for a place only hidden templates
    hold (no job extends or references them, or every job overrides it) that no job does,
    naming the templates as templates, never as jobs; nothing for a script linted alone."""
    if place.jobs or not place.hidden_jobs:
        return in_jobs(place.affected_jobs, word)
    names = sorted(place.hidden_jobs)
    what = f"template{'s' if len(names) > 1 else ''} {', '.join(names)}"
    if word == "in":
        return f" in {what}, which no job runs"
    return f" {word} no job (only {what})"


#: the jobs a message names at most; the JSON, SARIF and GitLab reports carry every one in their
#: ``jobs`` field, and a message naming the 7,000 jobs of a big pipeline is a line no one reads
NAMED_JOBS = 10


def names_text(names: Sequence[str]) -> str:
    """``a, b``; past :data:`NAMED_JOBS` names, ``a, b, ... j and 3,612 more``."""
    if len(names) > NAMED_JOBS:
        return f"{', '.join(names[:NAMED_JOBS])} and {len(names) - NAMED_JOBS:,} more"
    return ", ".join(names)


def jobs_text(jobs: tuple[str, ...]) -> str:
    """``job a``, ``jobs a, b``, ``jobs a, b, ... j and 3,612 more``."""
    if not jobs:
        return "no job runs it"
    if len(jobs) == 1:
        return f"job {jobs[0]}"
    return f"jobs {names_text(jobs)}"


def finding(
    code: str,
    place: Place,
    message: str,
    severity: Severity,
    make_fix: Callable[[], Fix] | None,
    blocked_reason: str = "",
) -> Finding:
    """Build the finding for a place; a fix that cannot be built becomes the reason why."""
    fix: Fix | None = None
    reason = blocked_reason
    if make_fix is not None and not reason:
        try:
            fix = make_fix()
        except NoFix as err:
            reason = str(err)
    elif make_fix is None and not reason:
        reason = "not fixable automatically"
    file = place.file
    begin = file.position(place.start)
    # most places are a word or two of one line
    finish = begin if place.end <= place.start else file.position(place.end)
    if finish.line == begin.line:
        lines: tuple[str, ...] = (file.line_text(begin.line),)
    else:
        lines = tuple(file.line_text(n) for n in range(begin.line, finish.line + 1))
    return Finding(
        code=code,
        message=message,
        path=file.path,
        start=place.start,
        end=place.end,
        begin=begin,
        finish=finish,
        jobs=place.affected_jobs,
        severity=severity,
        fix=fix,
        unfixable_reason=reason,
        source_line=lines[0],
        source_lines=lines,
    )


def storage_tail(place: Place, options: RuleOptions, advice: str) -> tuple[str, str]:
    """The end of a storage flag's or assignment's message and the reason the place is left
    alone (if any): after the switch, werf refuses :local; a place a job still depends on
    needs an address; otherwise ``advice`` says how to migrate."""
    blocked = blocked_reason(place, options.to)
    if options.switched:
        return SWITCHED_NOTE, blocked
    return (blocked or advice), blocked


#: what :func:`blocked_reason` says, its jobs left out (the summary's form of many such places)
BLOCKED_GROUP = "would leave a job with no stages storage (no werf ci-env): pass --to ADDRESS"


def blocked_reason(place: Place, to: str | None) -> str:
    """Why removing this place would leave a werf command with no stages storage."""
    if to is not None or not place.blocked:
        return ""
    if not place.affected_jobs:
        return ("the werf command here would have no stages storage without it (no werf "
                "ci-env): pass --to ADDRESS")
    return blocked_jobs_reason(place.blocked)


def blocked_jobs_reason(jobs: tuple[str, ...]) -> Reason:
    """Why a :local place stays while ``jobs`` (which run werf without ``werf ci-env``) need
    it; summed up as :data:`BLOCKED_GROUP`."""
    return Reason(f"{jobs_text(jobs)} would have no stages storage without it (no werf ci-env):"
                  " pass --to ADDRESS", BLOCKED_GROUP)
