"""What every rule shares: its options and how a place becomes a :class:`Finding`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ciswitch.analysis import Place
from ciswitch.fixes import NoFix
from ciswitch.model import Finding, Fix, Severity

SWITCHED_NOTE = (
    "reintroduces :local after the switch: werf refuses it "
    '("stages storage has been switched from :local")'
)


@dataclass(frozen=True)
class RuleOptions:
    """What a rule needs beyond the facts."""

    #: replace :local by this address instead of removing it
    to: str | None = None
    #: the project is marked as switched to a remote stages storage
    switched: bool = False


def in_jobs(jobs: tuple[str, ...], word: str = "in") -> str:
    """`` in job a`` / `` in jobs a, b``, or nothing for a place no job reaches (a script
    linted on its own)."""
    return f" {word} {jobs_text(jobs)}" if jobs else ""


def jobs_text(jobs: tuple[str, ...]) -> str:
    if not jobs:
        return "no job runs it"
    if len(jobs) == 1:
        return f"job {jobs[0]}"
    return "jobs " + ", ".join(jobs)


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
    begin = place.file.position(place.start)
    finish = place.file.position(max(place.start, place.end))
    return Finding(
        code=code,
        message=message,
        path=place.file.path,
        start=place.start,
        end=place.end,
        begin=begin,
        finish=finish,
        jobs=place.affected_jobs,
        severity=severity,
        fix=fix,
        unfixable_reason=reason,
        source_line=place.file.line_text(begin.line),
    )


def storage_tail(place: Place, options: RuleOptions, advice: str) -> tuple[str, str]:
    """The end of a CSW001/CSW002 message and the reason the place is left alone (if any):
    after the switch, werf refuses :local; a place a job still depends on needs an address;
    otherwise ``advice`` says how to migrate."""
    blocked = blocked_reason(place, options.to)
    if options.switched:
        return SWITCHED_NOTE, blocked
    return (blocked or advice), blocked


def blocked_reason(place: Place, to: str | None) -> str:
    """Why removing this place would leave a werf command with no stages storage."""
    if to is not None or not place.blocked:
        return ""
    who = jobs_text(place.blocked) if place.affected_jobs else "the werf command here"
    return f"{who} would have no stages storage without it (no werf ci-env): pass --to ADDRESS"
