"""``fix``: plan the findings' fixes as text edits, prove them, then write atomically.

Before anything is written, every changed file is checked by :mod:`ciswitch.verify` (it must
mean the original minus exactly what the fixes remove), then the rules run on the new text and
must report exactly the fixed places fewer. A file that fails either check is not written, and
the run reports an internal error naming it.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ciswitch.config import Config
from ciswitch.edits import apply_edits, group_edits, overlaps
from ciswitch.lint import analyse_workspace
from ciswitch.model import Edit, Finding, Problem
from ciswitch.rules import rule_of
from ciswitch.source import SourceFile
from ciswitch.verify import verify_meaning
from ciswitch.workspace import DirectoryWorkspace, Workspace

if TYPE_CHECKING:
    from ciswitch.atomic import PlannedWrite


@dataclass
class FileChange:
    """A file's bytes before and after the fix."""

    path: str
    old: bytes
    new: bytes


@dataclass
class FixOutcome:
    changes: list[FileChange] = field(default_factory=list)
    fixed: list[Finding] = field(default_factory=list)
    remaining: list[Finding] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


class OverlayWorkspace:
    """A workspace seen as if some files already had their new content."""

    def __init__(self, base: Workspace, overlay: dict[str, bytes]) -> None:
        self.base = base
        self.overlay = overlay

    @property
    def label(self) -> str:
        return self.base.label

    def read_bytes(self, rel: str) -> bytes:
        from ciswitch.workspace import normalize

        norm = normalize(rel)
        if norm in self.overlay:
            return self.overlay[norm]
        return self.base.read_bytes(rel)

    def is_file(self, rel: str) -> bool:
        return self.base.is_file(rel)

    def is_executable(self, rel: str) -> bool:
        return self.base.is_executable(rel)

    def files(self) -> Iterator[str]:
        return self.base.files()


def _select(findings: list[Finding], unsafe: bool) -> tuple[list[Finding], list[Finding]]:
    """Which fixes to apply: safe ones (and unsafe ones when allowed), never overlapping."""
    chosen: list[Finding] = []
    left: list[Finding] = []
    accepted: list[Edit] = []
    taken: set[Edit] = set()
    for finding in findings:
        fix = finding.fix
        if fix is None:
            left.append(finding)
            continue
        if not fix.safe and not unsafe:
            rule = rule_of(finding.code)
            finding.unfixable_reason = rule.unsafe_reason if rule is not None else "unsafe fix"
            left.append(finding)
            continue
        fresh = [e for e in fix.edits if e not in taken]
        if any(_overlaps_any(e, accepted) for e in fresh):
            finding.unfixable_reason = "overlaps another fix: run fix again"
            left.append(finding)
            continue
        for edit in fresh:
            bisect.insort(accepted, edit)
            taken.add(edit)
        chosen.append(finding)
    return chosen, left


def _overlaps_any(edit: Edit, accepted: list[Edit]) -> bool:
    """Whether ``edit`` overlaps one of the sorted ``accepted`` edits: only its neighbours
    in (path, start) order can."""
    index = bisect.bisect_left(accepted, edit)
    return any(overlaps(edit, other) for other in accepted[max(0, index - 1) : index + 1])


def plan_fix(
    ws: DirectoryWorkspace | Workspace,
    config: Config,
    *,
    to: str | None = None,
    unsafe: bool = False,
    entry: str | None = None,
) -> FixOutcome:
    """Compute and verify the fix of a repository; nothing is written."""
    run = analyse_workspace(ws, config, entry=entry, to=to)
    outcome = FixOutcome(problems=list(run.result.problems))
    if outcome.problems:
        outcome.remaining = list(run.result.findings)
        return outcome
    chosen, left = _select(run.result.findings, unsafe)
    outcome.remaining = left
    if not chosen:
        return outcome
    sources = run.facts.files
    edits = group_edits(e for f in chosen if f.fix is not None for e in f.fix.edits)
    new_texts: dict[str, str] = {}
    for path, file_edits in edits.items():
        source = sources[path]
        new_texts[path] = apply_edits(source.text, file_edits)
    failed: set[str] = set()
    new_sources: dict[str, SourceFile] = {}
    for path, new_text in new_texts.items():
        old = sources[path]
        new_sources[path] = SourceFile(
            path, old.encode(new_text), new_text, old.bom, old.executable
        )
        mine = [f for f in chosen if f.path == path]
        error = verify_meaning(sources.kind_of(path), old, new_sources[path], mine)
        if error is not None:
            outcome.problems.append(Problem(path, f"internal error: fix not applied: {error}"))
            failed.add(path)
    overlay = {p: s for p, s in new_sources.items() if p not in failed}
    if overlay:
        error_paths = _verify_relint(
            OverlayWorkspace(ws, {p: s.raw for p, s in overlay.items()}),
            overlay,
            config,
            entry,
            to,
            run.result.findings,
            chosen,
        )
        for path, message in error_paths.items():
            outcome.problems.append(Problem(path, f"internal error: fix not applied: {message}"))
            failed.add(path)
    for finding in chosen:
        if finding.path in failed:
            finding.unfixable_reason = "verification failed"
            outcome.remaining.append(finding)
        else:
            outcome.fixed.append(finding)
    for path, new_source in new_sources.items():
        if path not in failed:
            outcome.changes.append(FileChange(path, sources[path].raw, new_source.raw))
    outcome.remaining.sort(key=lambda f: f.sort_key)
    return outcome


def _verify_relint(
    ws: Workspace,
    overlay: dict[str, SourceFile],
    config: Config,
    entry: str | None,
    to: str | None,
    before: list[Finding],
    fixed: list[Finding],
) -> dict[str, str]:
    """Lint the new text (the changed files taken from ``overlay``): per file and rule,
    exactly the fixed places must be gone."""
    after = analyse_workspace(ws, config, entry=entry, to=to, known=overlay)
    if after.result.problems:
        return {p.path or "?": p.message for p in after.result.problems}
    expected = Counter((f.path, f.code) for f in before) - Counter((f.path, f.code) for f in fixed)
    actual = Counter((f.path, f.code) for f in after.result.findings)
    fixed_keys = {(f.path, f.code) for f in fixed}
    errors: dict[str, str] = {}
    for key in set(expected) | set(actual):
        # Fixed rules must lose exactly the fixed places; no rule may gain a finding. (A rule
        # whose context the fix removed may report fewer: that is not a failure.)
        if actual[key] > expected[key] or (key in fixed_keys and actual[key] != expected[key]):
            path, code = key
            errors[path] = (
                f"{code}: expected {expected[key]} finding(s) after the fix, found {actual[key]}"
            )
    return errors


def unsafe_notes(fixed: list[Finding]) -> list[str]:
    """What the rules say about the unsafe fixes that were applied, once each."""
    notes: list[str] = []
    for finding in fixed:
        if finding.fix is None or finding.fix.safe:
            continue
        rule = rule_of(finding.code)
        note = rule.unsafe_note if rule is not None and rule.unsafe_note else finding.code
        if note not in notes:
            notes.append(note)
    return notes


def planned_writes(ws: DirectoryWorkspace, outcome: FixOutcome) -> list[PlannedWrite]:
    """The verified changes as writes of one transaction (:func:`ciswitch.atomic.write_all`):
    each is checked, just before the renames, to be still the file that was read."""
    from ciswitch.atomic import PlannedWrite

    return [
        PlannedWrite(
            ws.write_target(change.path),
            change.new,
            ws.stamp_of(change.path),
            change.path,
            change.old,
        )
        for change in outcome.changes
    ]


def write_changes(ws: DirectoryWorkspace, outcome: FixOutcome) -> None:
    """Write every verified change, all or nothing (:mod:`ciswitch.atomic`)."""
    from ciswitch.atomic import write_all

    write_all(planned_writes(ws, outcome))
