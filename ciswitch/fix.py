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

from ciswitch.analysis.facts import Facts
from ciswitch.analysis.proof import pipeline_error, pipeline_view
from ciswitch.config import Config
from ciswitch.edits import EditConflict, apply_edits, group_edits, overlaps
from ciswitch.lint import LintRun, analyse_workspace
from ciswitch.model import Edit, Finding, LintResult, NotChecked, Problem, Reason
from ciswitch.rules import rule_of
from ciswitch.rules.base import names_text
from ciswitch.scripts.prefilter import answers_kept
from ciswitch.shell.analyse import readings_kept
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
    #: places the lint behind the fix could not read or follow (nothing there was fixed)
    not_checked: list[NotChecked] = field(default_factory=list)


class OverlayWorkspace:
    """A workspace seen as if some files already had their new content (the same files:
    only what some of them hold differs)."""

    def __init__(self, base: Workspace, overlay: dict[str, bytes]) -> None:
        #: the workspace whose files these are
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


#: rounds of planning on the new text before the run gives up on the fixed point
MAX_ROUNDS = 32

#: a finding as it is found again on the new text of a later round (offsets move, this does not)
FindingKey = tuple[str, str, str, str]


def _key(finding: Finding) -> FindingKey:
    return (finding.path, finding.code, finding.message, finding.source_line)


def _select(
    findings: list[Finding], unsafe: bool, refused: dict[FindingKey, str] | None = None
) -> tuple[list[Finding], list[Finding]]:
    """Which fixes to apply: safe ones (and unsafe ones when allowed), never overlapping (an
    overlapping one waits for the next round, planned on the new text)."""
    chosen: list[Finding] = []
    left: list[Finding] = []
    accepted: list[Edit] = []
    taken: set[Edit] = set()
    refused = refused or {}
    for finding in findings:
        fix = finding.fix
        if fix is None:
            left.append(finding)
            continue
        if _key(finding) in refused:
            finding.unfixable_reason = refused[_key(finding)]
            finding.fix = None  # the report shows the reason at the place, not the recipe
            left.append(finding)
            continue
        if not fix.safe and not unsafe:
            rule = rule_of(finding.code)
            finding.unfixable_reason = rule.unsafe_reason if rule is not None else "unsafe fix"
            left.append(finding)
            continue
        fresh = [e for e in fix.edits if e not in taken]
        if any(_overlaps_any(e, accepted) for e in fresh):
            finding.unfixable_reason = "overlaps another fix"
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


def _refusal(error: str) -> str:
    """What the user is told about a fix the proof rejected (the place is left as it is)."""
    return f"the fix would change more than the :local ({error}); change it by hand"


@dataclass
class _Round:
    """One round of planning: the findings of the current text and what they became."""

    run: LintRun
    overlay: dict[str, SourceFile]
    #: each changed file's bytes before the first change (the only copy ``fix`` keeps of them)
    originals: dict[str, bytes] = field(default_factory=dict)


def plan_fix(
    ws: DirectoryWorkspace | Workspace,
    config: Config,
    *,
    to: str | None = None,
    unsafe: bool = False,
    entry: str | None = None,
    keep: list[object] | None = None,
) -> FixOutcome:
    """Compute and verify the fix of a repository; nothing is written.

    Planned in rounds: the fixes of one round are applied to the text in memory, each file's
    change proved (:func:`verify_meaning`, then a lint of the new text must report exactly the
    fixed places fewer), and the next round plans again on the new text, until nothing is left
    to fix. A fix the proof rejects is left with that reason; the other fixes of its file are
    still applied.

    ``keep`` receives the last round's analysis (the lint of the new text), for a caller
    about to leave the process: it is let go of then, not freed object by object here."""
    with readings_kept(), answers_kept(ws):
        return _plan_fix(ws, config, to=to, unsafe=unsafe, entry=entry, keep=keep)


def _plan_fix(
    ws: DirectoryWorkspace | Workspace,
    config: Config,
    *,
    to: str | None,
    unsafe: bool,
    entry: str | None,
    keep: list[object] | None = None,
) -> FixOutcome:
    run = analyse_workspace(ws, config, entry=entry, to=to)
    outcome = FixOutcome(
        problems=list(run.result.problems), not_checked=list(run.result.not_checked)
    )
    if outcome.problems:
        outcome.remaining = list(run.result.findings)
        return outcome
    state = _Round(run, {})
    del run  # the rounds hold one analysis at a time (memory: see _prove)
    refused: dict[FindingKey, str] = {}
    left: list[Finding] = []
    for _ in range(MAX_ROUNDS):
        chosen, left = _select(state.run.result.findings, unsafe, refused)
        if not chosen:
            break
        progressed = False
        for path in sorted({f.path for f in chosen}):
            mine = [f for f in chosen if f.path == path]
            proof = _prove(ws, config, entry, to, state, mine, release=True)
            if isinstance(proof, _Proved):
                _commit(state, proof, outcome)
                progressed = True
                continue
            # One by one, each with those already kept: a fix the proof rejects even alone is
            # left with the reason; one that only clashes with the others waits for the next
            # round (planned on the new text).
            kept: _Proved | None = None
            for finding in mine:
                trial = (kept.findings if kept else []) + [finding]
                proof = _prove(ws, config, entry, to, state, trial)
                if isinstance(proof, _Proved):
                    kept = proof
                    continue
                if kept is not None:
                    alone = _prove(ws, config, entry, to, state, [finding])
                    if isinstance(alone, _Proved):
                        continue
                    proof = alone
                refused[_key(finding)] = proof
            if kept is not None:
                _commit(state, kept, outcome)
                progressed = True
        if not progressed:
            chosen, left = _select(state.run.result.findings, unsafe, refused)
            break
    else:
        chosen, left = _select(state.run.result.findings, unsafe, refused)
        for finding in chosen:
            finding.unfixable_reason = f"not settled within {MAX_ROUNDS} rounds of fixes"
        left = [*left, *chosen]
    for finding in left:
        if finding.unfixable_reason == "overlaps another fix":
            finding.unfixable_reason = "overlaps another fix that could not be settled"
    outcome.remaining = sorted(left, key=lambda f: f.sort_key)
    for path, source in state.overlay.items():
        original = state.originals[path]
        if source.raw != original:
            outcome.changes.append(FileChange(path, original, source.raw))
    if keep is not None:
        keep.append(state)
    return outcome


@dataclass
class _Proved:
    """Fixes proved on the current text: the new text and its lint."""

    findings: list[Finding]
    overlay: dict[str, SourceFile]
    run: LintRun
    path: str
    #: the file's bytes before its first change
    original: bytes
    #: other findings whose whole place these fixes' edits delete (a ``!reference`` entry
    #: removed with the entry it takes): fixed by them too
    along: list[Finding] = field(default_factory=list)


def _commit(state: _Round, proof: _Proved, outcome: FixOutcome) -> None:
    state.run = proof.run
    state.overlay = proof.overlay
    state.originals.setdefault(proof.path, proof.original)
    outcome.fixed.extend(proof.findings)
    outcome.fixed.extend(proof.along)


def _absorbed(findings: list[Finding]) -> tuple[list[Finding], list[Finding]]:
    """``findings`` without those whose edits are all among the others' (an entry taking a
    variable by ``!reference``, whose removal the fix of the variable's own entry includes
    with its word): those are fixed by the others, and are not counted twice."""
    keep: list[Finding] = []
    absorbed: list[Finding] = []
    covered: set[Edit] = set()
    ranked = sorted(findings, key=lambda f: -len(f.fix.edits) if f.fix is not None else 0)
    for finding in ranked:
        edits = set(finding.fix.edits) if finding.fix is not None else set()
        if keep and edits and edits <= covered:
            absorbed.append(finding)
            continue
        keep.append(finding)
        covered |= edits
    order = {id(f): n for n, f in enumerate(findings)}
    keep.sort(key=lambda f: order[id(f)])
    return keep, absorbed


def _taken_along(before: list[Finding], fixed: list[Finding], edits: list[Edit]) -> list[Finding]:
    """The findings of the current text, other than ``fixed``, whose whole place one of the
    fixes' edits deletes or replaces (the ``!reference`` entry that goes with the entry it
    takes): the relint no longer sees them, and they are fixed as well."""
    chosen = {(f.code, f.start, f.end) for f in fixed}
    starts = [e.start for e in edits]
    along: list[Finding] = []
    for finding in before:
        if not edits or finding.path != edits[0].path:
            continue
        if (finding.code, finding.start, finding.end) in chosen:
            continue
        index = bisect.bisect_right(starts, finding.start) - 1
        if index >= 0:
            edit = edits[index]
            if edit.start <= finding.start and finding.end <= edit.end and edit.start < edit.end:
                along.append(finding)
    return along


def _prove(
    ws: DirectoryWorkspace | Workspace,
    config: Config,
    entry: str | None,
    to: str | None,
    state: _Round,
    findings: list[Finding],
    *,
    release: bool = False,
) -> _Proved | str:
    """Apply ``findings``' fixes (all in one file) to the current text and prove them: the
    new text and its lint, or the reason shown to the user when the proof fails.

    With ``release``, the analysis of the current text is let go (but for the file being
    proved and a small summary of the pipeline) before the new text is composed and analysed,
    so that fix never holds two: a big file's peak memory would double. Should the proof fail,
    the current text is analysed again."""
    path = findings[0].path
    findings, absorbed = _absorbed(findings)
    sources = state.run.facts.files
    old = sources[path]
    # The other files as this analysis read them (includes, scripts): the fix leaves their
    # text as it is, and their reading is a function of it, so the new text's lint takes
    # them as read (composed once) rather than reading and composing them again.
    unchanged = {p: sources[p] for p in sources.paths() if p != path and p not in state.overlay}
    edits = group_edits(e for f in findings if f.fix is not None for e in f.fix.edits)
    try:
        new_text = apply_edits(old.text, edits.get(path, []))
    except EditConflict as err:
        return _refusal(str(err))
    new = SourceFile(path, old.encode(new_text), new_text, old.bom, old.executable)
    kind = sources.kind_of(path)
    before = state.run.result.findings
    view = pipeline_view(state.run.facts)
    original = state.originals.get(path)
    if original is None:
        original = old.raw
    del sources
    if release:
        state.run = LintRun(LintResult(root=state.run.result.root), Facts(None))
    result: _Proved | str
    error = verify_meaning(kind, old, new, findings)
    del old
    if error is not None:
        result = _refusal(error)
    else:
        overlay = {**state.overlay, path: new}
        after = _analyse(ws, config, entry, to, overlay, unchanged)
        along = absorbed + _taken_along(before, [*findings, *absorbed], edits.get(path, []))
        relint = _relint_error(after, before, [*findings, *along])
        blocked = pipeline_error(view, after.facts, to)
        result = (
            (blocked.reason if blocked is not None else None)
            or _unfixable_gained(after, before)
            or (_refusal(relint) if relint is not None else None)
            or _Proved(list(findings), overlay, after, path, original, along)
        )
        del after
    if release and not isinstance(result, _Proved):
        state.run = _analyse(ws, config, entry, to, state.overlay, unchanged)
    return result


def _unfixable_gained(after: LintRun, before: list[Finding]) -> str | None:
    """The reason a fix is left when the new text has a finding no fix can resolve that the old
    one did not (a werf command left with no stages storage): the fix itself causes it."""
    was = Counter((f.path, f.code) for f in before)
    now = Counter((f.path, f.code) for f in after.result.findings)
    for path, code in sorted(now - was):
        rule = rule_of(code)
        if rule is not None and rule.fix_safety == "none" and rule.about_ci:
            jobs = sorted({j for f in after.result.findings if (f.path, f.code) == (path, code)
                           for j in f.jobs})
            where = f" in {names_text(jobs)}" if jobs else ""
            return Reason(f"after this fix, {rule.summary}{where} ({code}); pass --to ADDRESS",
                          f"after this fix, {rule.summary} ({code}); pass --to ADDRESS")
    return None


def _analyse(
    ws: DirectoryWorkspace | Workspace,
    config: Config,
    entry: str | None,
    to: str | None,
    overlay: dict[str, SourceFile],
    unchanged: dict[str, SourceFile] | None = None,
) -> LintRun:
    """The analysis of the repository with ``overlay``'s files in their new text (and
    ``unchanged`` files taken as an earlier analysis read them)."""
    return analyse_workspace(
        OverlayWorkspace(ws, {p: s.raw for p, s in overlay.items()}),
        config,
        entry=entry,
        to=to,
        known={**(unchanged or {}), **overlay},
    )


def _relint_error(after: LintRun, before: list[Finding], fixed: list[Finding]) -> str | None:
    """Per file and rule, exactly the fixed places must be gone from the new text's lint."""
    if after.result.problems:
        return "; ".join(p.message for p in after.result.problems)
    expected = Counter((f.path, f.code) for f in before) - Counter((f.path, f.code) for f in fixed)
    actual = Counter((f.path, f.code) for f in after.result.findings)
    fixed_keys = {(f.path, f.code) for f in fixed}
    for key in sorted(set(expected) | set(actual)):
        # Fixed rules must lose exactly the fixed places; no rule may gain a finding. (A rule
        # whose context the fix removed may report fewer: that is not a failure.)
        if actual[key] > expected[key] or (key in fixed_keys and actual[key] != expected[key]):
            path, code = key
            return f"{code}: expected {expected[key]} finding(s) in {path}, found {actual[key]}"
    return None


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
