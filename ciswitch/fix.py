"""``fix``: apply the findings' fixes as text edits, prove them, then write atomically.

Before anything is written, every changed file is composed again and compared with the original
node by node, with scalars turned into shell words: the only differences allowed are exactly the
words and entries the fixes said they remove (or, with ``--to``, replace). Then the rules run on
the new text and must report exactly the fixed places fewer. A file that fails either check is
not written, and the run reports an internal error naming it.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ciswitch.config import Config
from ciswitch.edits import apply_edits, group_edits, overlaps
from ciswitch.errors import CiswitchError
from ciswitch.lint import analyse_workspace
from ciswitch.model import Edit, Finding, Problem
from ciswitch.source import SourceFile
from ciswitch.workspace import DirectoryWorkspace, Workspace
from ciswitch.yaml.nodes import is_map, is_scalar, is_seq, tag_of

UNSAFE_REASON = "unsafe fix (changes the locking backend): use --unsafe-fixes"


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

    def __init__(
        self,
        base: Workspace,
        overlay: dict[str, bytes],
        sources: dict[str, SourceFile] | None = None,
    ) -> None:
        self.base = base
        self.overlay = overlay
        self.sources = sources or {}

    def source_of(self, rel: str) -> SourceFile | None:
        """The new version of a changed file, already decoded and composed by the check of
        its meaning (see :func:`ciswitch.source.read_source`)."""
        return self.sources.get(rel)

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

    def files(self) -> Any:
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
            finding.unfixable_reason = UNSAFE_REASON
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
    analysis = analyse_workspace(ws, config, entry=entry, to=to)
    outcome = FixOutcome(problems=list(analysis.result.problems))
    if outcome.problems:
        outcome.remaining = list(analysis.result.findings)
        return outcome
    chosen, left = _select(analysis.result.findings, unsafe)
    outcome.remaining = left
    if not chosen:
        return outcome
    sources = {
        f.path: f for f in (analysis.facts.pipeline.files if analysis.facts.pipeline else [])
    }
    sources.update(analysis.facts.script_files)
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
        error = verify_meaning(old, new_sources[path], mine)
        if error is not None:
            outcome.problems.append(Problem(path, f"internal error: fix not applied: {error}"))
            failed.add(path)
    overlay = {p: s.raw for p, s in new_sources.items() if p not in failed}
    if overlay:
        error_paths = _verify_relint(
            OverlayWorkspace(ws, overlay, {p: new_sources[p] for p in overlay}),
            config,
            entry,
            to,
            analysis.result.findings,
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
    overlay: OverlayWorkspace,
    config: Config,
    entry: str | None,
    to: str | None,
    before: list[Finding],
    fixed: list[Finding],
) -> dict[str, str]:
    """Lint the new text: per file and rule, exactly the fixed places must be gone."""
    after = analyse_workspace(overlay, config, entry=entry, to=to)
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


def verify_meaning(source: SourceFile, new: SourceFile | str, fixes: list[Finding]) -> str | None:
    """None when ``new`` means ``source`` minus exactly what the fixes remove. (Given as a
    SourceFile, the new version keeps its composed documents for the second lint.)"""
    if isinstance(new, str):
        new = SourceFile(source.path, source.encode(new), new, source.bom, source.executable)
    new_text = new.text
    expected_removed: Counter[str] = Counter()
    expected_added: Counter[str] = Counter()
    for finding in fixes:
        assert finding.fix is not None
        expected_removed.update(finding.fix.removed_words)
        expected_added.update(finding.fix.added_words)
    if source.path.endswith(".py"):
        from ciswitch.scripts.python import compare_literals

        return compare_literals(source.text, new_text, expected_removed, expected_added)
    if not source.path.endswith((".yml", ".yaml")) and source._documents is None:
        return _compare_words(source.text, new_text, expected_removed, expected_added)
    try:
        new_docs = new.yaml_documents()
    except CiswitchError as err:
        return f"the result is not valid YAML ({err})"
    old_docs = source.yaml_documents()
    if len(old_docs) != len(new_docs):
        return "the number of YAML documents changed"
    walker = _MeaningDiff(source.text, new_text)
    for old, new in zip(old_docs, new_docs, strict=True):
        if not walker.compare(old, new):
            return walker.error or "the structure changed"
    if walker.removed != expected_removed or walker.added != expected_added:
        return (
            f"removed {sorted(walker.removed.elements())} / "
            f"added {sorted(walker.added.elements())}, "
            f"expected removed {sorted(expected_removed.elements())} / "
            f"added {sorted(expected_added.elements())}"
        )
    return None


def _compare_words(old: str, new: str, removed: Counter[str], added: Counter[str]) -> str | None:
    from ciswitch.shell import words_of

    old_words, new_words = Counter(words_of(old)), Counter(words_of(new))
    if old_words - new_words != removed or new_words - old_words != added:
        return "the script's words changed beyond the removed flags"
    if not statements_kept(old, new, old_words - new_words):
        return "the script's statements changed (a line continuation would swallow a line)"
    return None


def statements_kept(old: str, new: str, removed: Counter[str]) -> bool:
    """Flat words cannot see a dangling ``\\`` gluing the next line onto a command: the
    statements of the new text must be the old ones minus the removed words (a statement left
    empty disappears), or, when words were replaced, at least as many."""
    from ciswitch.shell import statements_of

    old_statements, new_statements = statements_of(old), statements_of(new)
    if Counter(w for s in new_statements for w in s) - Counter(
        w for s in old_statements for w in s
    ):
        return len(old_statements) == len(new_statements)
    budget = Counter(removed)
    expected: list[tuple[str, ...]] = []
    for statement in old_statements:
        kept = []
        for word in statement:
            if budget[word] > 0:
                budget[word] -= 1
            else:
                kept.append(word)
        if kept:
            expected.append(tuple(kept))
    return expected == [s for s in new_statements if s]


def _shape(node: Any) -> Any:
    """A comparable value of a node (for aligning list items)."""
    if is_scalar(node):
        return ("s", node.value)
    if is_seq(node):
        return ("q", tuple(_shape(n) for n in node.value))
    return ("m", tuple((_shape(k), _shape(v)) for k, v in node.value))


class _MeaningDiff:
    """Walks old and new trees together and collects the words that went and came."""

    def __init__(self, old_text: str = "", new_text: str = "") -> None:
        self.removed: Counter[str] = Counter()
        self.added: Counter[str] = Counter()
        self.error: str | None = None
        self._seen: set[int] = set()
        self._old_text = old_text
        self._new_text = new_text

    def _same_text(self, old: Any, new: Any) -> bool:
        """Nodes written with the very same characters mean the same: no edit touched them,
        so their subtree need not be walked. (An alias inside points at a node that is
        compared where its anchor stands.)"""
        old_start, old_end = old.start_mark.index, old.end_mark.index
        new_start, new_end = new.start_mark.index, new.end_mark.index
        return (
            old_end - old_start == new_end - new_start
            and self._old_text[old_start:old_end] == self._new_text[new_start:new_end]
        )

    def _words(self, text: str) -> Counter[str]:
        from ciswitch.shell import words_of

        return Counter(words_of(text))

    def _gone(self, node: Any) -> None:
        """Count what a removed node held: a variable's name, or a script item's words."""
        if is_scalar(node):
            self.removed.update(self._words(str(node.value)))
        elif is_seq(node):
            for item in node.value:
                self._gone(item)

    def _gone_entry(self, key: Any, value: Any) -> None:
        name = str(key.value)
        if is_map(value) and not any(str(k.value) == "value" for k, _ in value.value):
            for k, v in value.value:
                self._gone_entry(k, v)
        else:
            self.removed[name] += 1

    def compare(self, old: Any, new: Any) -> bool:
        if id(old) in self._seen:
            return True
        self._seen.add(id(old))
        if type(old) is not type(new) or tag_of(old) != tag_of(new):
            self.error = f"a node changed kind at line {old.start_mark.line + 1}"
            return False
        if not is_scalar(old) and self._same_text(old, new):
            return True
        if is_scalar(old):
            if old.value != new.value:
                before, after = self._words(str(old.value)), self._words(str(new.value))
                self.removed.update(before - after)
                self.added.update(after - before)
                if not statements_kept(str(old.value), str(new.value), before - after):
                    self.error = f"shell statements changed at line {old.start_mark.line + 1}"
                    return False
            return True
        if is_seq(old):
            return self._compare_seq(old, new)
        return self._compare_map(old, new)

    def _compare_seq(self, old: Any, new: Any) -> bool:
        new_items = list(new.value)
        j = 0
        for item in old.value:
            if j < len(new_items) and (
                len(old.value) == len(new_items)
                or _shape(item) == _shape(new_items[j])
                or self._similar(item, new_items[j])
            ):
                if not self.compare(item, new_items[j]):
                    return False
                j += 1
            else:
                self._gone(item)
        if j != len(new_items):
            self.error = f"list items appeared at line {new.start_mark.line + 1}"
            return False
        return True

    def _similar(self, old: Any, new: Any) -> bool:
        """An edited item is still 'the same item': a collection of the same kind, or a
        scalar whose words are the old ones minus some (plus at most an address)."""
        if type(old) is not type(new):
            return False
        if not is_scalar(old):
            return True
        before, after = self._words(str(old.value)), self._words(str(new.value))
        return bool(before & after) and sum((after - before).values()) <= 1

    def _compare_map(self, old: Any, new: Any) -> bool:
        if [str(k.value) for k, _ in old.value] == [str(k.value) for k, _ in new.value]:
            return all(
                self.compare(o, n) for (_, o), (_, n) in zip(old.value, new.value, strict=True)
            )
        new_entries = {str(k.value): (k, v) for k, v in new.value}
        old_keys = set()
        for key, value in old.value:
            name = str(key.value)
            old_keys.add(name)
            if name in new_entries:
                if not self.compare(value, new_entries[name][1]):
                    return False
            else:
                self._gone_entry(key, value)
        extra = set(new_entries) - old_keys
        if extra:
            self.error = f"keys appeared: {sorted(extra)}"
            return False
        return True


def write_changes(ws: DirectoryWorkspace, outcome: FixOutcome) -> None:
    """Write every verified change atomically (temporary file + rename, mode kept)."""
    from ciswitch.atomic import atomic_write_bytes

    for change in outcome.changes:
        atomic_write_bytes(ws.path_of(change.path), change.new)
