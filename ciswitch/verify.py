"""The proof that a fixed file means the old one minus exactly the fixes.

Every changed file is compared with its original by meaning, the way its kind is read: a YAML
file is composed again and walked node by node with scalars turned into shell words, a shell
script by its words and statements, a Python helper by its string literals. The only
differences allowed are exactly the words and entries the fixes said they remove (or, with
``--to``, replace). :mod:`ciswitch.fix` plans the fix and runs this check (and a second lint)
before anything is written.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ciswitch.errors import CiswitchError
from ciswitch.model import FileKind, Finding
from ciswitch.source import SourceFile
from ciswitch.yaml.nodes import is_map, is_scalar, is_seq, tag_of


def verify_meaning(
    kind: FileKind, source: SourceFile, new: SourceFile | str, fixes: list[Finding]
) -> str | None:
    """None when ``new`` means ``source`` minus exactly what the fixes remove; else what
    differs. ``kind`` (the file's, from the site that read it) chooses the comparison. (Given
    as a SourceFile, the new version keeps its composed documents for the second lint.)"""
    if isinstance(new, str):
        new = SourceFile(source.path, source.encode(new), new, source.bom, source.executable)
    new_text = new.text
    expected_removed: Counter[str] = Counter()
    expected_added: Counter[str] = Counter()
    for finding in fixes:
        assert finding.fix is not None
        expected_removed.update(finding.fix.removed_words)
        expected_added.update(finding.fix.added_words)
    if kind is FileKind.PYTHON:
        return compare_literals(source.text, new_text, expected_removed, expected_added)
    groups = frozenset(
        tuple(f.fix.removed_words) for f in fixes if f.fix is not None and f.fix.removed_words
    )
    if kind is FileKind.SHELL:
        return _compare_words(source.text, new_text, expected_removed, expected_added, groups)
    try:
        new_docs = new.yaml_documents()
    except CiswitchError as err:
        return f"the result is not valid YAML ({err})"
    old_docs = source.yaml_documents()
    if len(old_docs) != len(new_docs):
        return "the number of YAML documents changed"
    walker = _MeaningDiff(source.text, new_text, groups)
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


def _compare_words(
    old: str,
    new: str,
    removed: Counter[str],
    added: Counter[str],
    groups: frozenset[tuple[str, ...]] = frozenset(),
) -> str | None:
    from ciswitch.shell import words_of

    old_words, new_words = Counter(words_of(old)), Counter(words_of(new))
    if old_words - new_words != removed or new_words - old_words != added:
        return "the script's words changed beyond the removed flags"
    if not statements_kept(old, new, old_words - new_words, groups):
        return "the script's statements changed (a line continuation would swallow a line)"
    return None


_NOOP = ("<no-op>",)


def statements_kept(
    old: str, new: str, removed: Counter[str], groups: frozenset[tuple[str, ...]] = frozenset()
) -> bool:
    """Flat words cannot see a dangling ``\\`` gluing the next line onto a command, nor a line
    joining a continued ``a && \\``: the statements of the new text, each with the operator
    that joins it to the one before (``&&``, ``||``, ``|``), must be the old ones minus the
    removed words, where a statement left empty goes as bash would run it: alone, it goes; at
    the head of an and-or list before ``&&``, it goes with the ``&&``; anywhere else it must
    have become a no-op (``true`` or ``:``). When words were replaced (``--to``), the
    statements and their operators must stay as they were."""
    from ciswitch.shell.words import chain_of

    old_chain, new_chain = chain_of(old), chain_of(new)
    new_words = Counter(w for _, s in new_chain for w in s)
    old_words = Counter(w for _, s in old_chain for w in s)
    if +(new_words - old_words - Counter({"true": len(new_chain), ":": len(new_chain)})):
        return [op for op, _ in old_chain] == [op for op, _ in new_chain]
    # Statements are aligned by a sequence diff; when it is ambiguous (two equal statements,
    # one of them changed) and no statement went, also one to one by position. One statement
    # on each side (a script line's usual edit) has only the one-to-one alignment, which is
    # what the sequence diff gives it: it is tried once, without the matcher.
    if len(old_chain) == len(new_chain):
        alignments = [True] if len(old_chain) == 1 else [False, True]
    else:
        alignments = [False]
    new_kept = _without_lone_noops(new_chain)
    return any(
        _expected_chain(_take_removed(old_chain, new_chain, Counter(removed), groups, by_index))
        == new_kept
        for by_index in alignments
    )


def _expected_chain(
    kept_chain: list[tuple[str, tuple[str, ...] | None]],
) -> list[tuple[str, tuple[str, ...]]]:
    """The old statements minus the removed words as bash runs them (see
    :func:`statements_kept`), lone no-ops left out."""
    from ciswitch.shell.words import CHAIN_OPERATORS

    expected: list[tuple[str, tuple[str, ...]]] = []
    for index, (op, words) in enumerate(kept_chain):
        following = kept_chain[index + 1][0] if index + 1 < len(kept_chain) else ""
        if words is not None:
            expected.append((op, words))
        elif op in CHAIN_OPERATORS:
            expected.append((op, _NOOP))
        elif following == "&&":
            kept_chain[index + 1] = ("", kept_chain[index + 1][1])
        elif following in CHAIN_OPERATORS:
            expected.append(("", _NOOP))
    return _without_lone_noops(expected)


def _take_removed(
    old_chain: list[tuple[str, tuple[str, ...]]],
    new_chain: list[tuple[str, tuple[str, ...]]],
    budget: Counter[str],
    groups: frozenset[tuple[str, ...]] = frozenset(),
    by_index: bool = False,
) -> list[tuple[str, tuple[str, ...] | None]]:
    """The old statements minus the removed words (None: a statement left empty). The words
    are taken from the statements that changed (``--from :local`` of an untouched ``werf
    stages sync`` keeps its ``:local`` when the next line's flag goes): a changed statement
    that is its old self with some of the fixes' word runs cut out (``--synchronization
    :local`` taken whole, never its ``:local`` alone) is taken as it is; the rest from the first
    statements holding them."""
    from difflib import SequenceMatcher

    changed: set[int] = set(range(len(old_chain)))
    opcodes: list[tuple[str, int, int, int, int]]
    if by_index:  # one to one (the chains have the same length)
        opcodes = [
            ("equal" if old_chain[i][1] == new_chain[i][1] else "replace", i, i + 1, i, i + 1)
            for i in range(len(old_chain))
        ]
    else:
        opcodes = list(
            SequenceMatcher(
                None, [w for _, w in old_chain], [w for _, w in new_chain], autojunk=False
            ).get_opcodes()
        )
    for tag, i1, i2, _, _ in opcodes:
        if tag == "equal":
            changed -= set(range(i1, i2))
    words = [list(statement) for _, statement in old_chain]
    for tag, i1, i2, j1, j2 in opcodes:
        if tag != "replace" or i2 - i1 != j2 - j1:
            continue
        for index, other in zip(range(i1, i2), range(j1, j2), strict=True):
            before, after = old_chain[index][1], new_chain[other][1]
            gone = Counter(before) - Counter(after)
            if gone and not gone - budget and _cut_out(before, after, groups):
                words[index] = list(after)
                budget -= gone
                changed.discard(index)
    for pass_over in (sorted(changed), range(len(old_chain))):
        for index in pass_over:
            kept = []
            for word in words[index]:
                if budget[word] > 0:
                    budget[word] -= 1
                else:
                    kept.append(word)
            words[index] = kept
    return [(op, tuple(w) if w else None) for (op, _), w in zip(old_chain, words, strict=True)]


def _cut_out(
    before: tuple[str, ...], after: tuple[str, ...], groups: frozenset[tuple[str, ...]]
) -> bool:
    """Whether ``after`` is ``before`` with some runs of words cut out, each run one of
    ``groups`` (the words a fix removes, in their order)."""
    seen: set[tuple[int, int]] = set()
    stack = [(0, 0)]
    while stack:
        i, j = stack.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(before) and j == len(after):
            return True
        if i < len(before) and j < len(after) and before[i] == after[j]:
            stack.append((i + 1, j + 1))
        for group in groups:
            if group and before[i : i + len(group)] == group:
                stack.append((i + len(group), j))
    return False


def _without_lone_noops(
    chain: list[tuple[str, tuple[str, ...]]],
) -> list[tuple[str, tuple[str, ...]]]:
    """``true`` and ``:`` as the no-op they are; one standing alone (no operator joins it to
    another statement) does nothing and is left out."""
    from ciswitch.shell.words import CHAIN_OPERATORS

    norm = [(op, _NOOP if words in (("true",), (":",)) else words) for op, words in chain]
    out = []
    for index, (op, words) in enumerate(norm):
        following = norm[index + 1][0] if index + 1 < len(norm) else ""
        if words == _NOOP and op not in CHAIN_OPERATORS and following not in CHAIN_OPERATORS:
            continue
        out.append((op, words))
    return out


def _shape(node: Any) -> Any:
    """A comparable value of a node (for aligning list items)."""
    if is_scalar(node):
        return ("s", node.value)
    if is_seq(node):
        return ("q", tuple(_shape(n) for n in node.value))
    return ("m", tuple((_shape(k), _shape(v)) for k, v in node.value))


class _MeaningDiff:
    """Walks old and new trees together and collects the words that went and came."""

    def __init__(
        self,
        old_text: str = "",
        new_text: str = "",
        groups: frozenset[tuple[str, ...]] = frozenset(),
    ) -> None:
        self._groups = groups
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
                gone = before - after
                self.removed.update(gone)
                self.added.update(after - before)
                if not statements_kept(str(old.value), str(new.value), gone, self._groups):
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


def string_literals(text: str) -> list[str]:
    """Every string literal's value in source order (f-strings by their source text)."""
    import libcst as cst

    values: list[str] = []

    class Collect(cst.CSTVisitor):
        def visit_SimpleString(self, node: cst.SimpleString) -> None:
            value = node.evaluated_value
            values.append(value if isinstance(value, str) else repr(value))

        def visit_FormattedString(self, node: cst.FormattedString) -> bool:
            values.append(cst.Module([]).code_for_node(node))
            return False

    cst.parse_module(text).visit(Collect())
    return values


def compare_literals(
    old: str, new: str, removed: Counter[str], added: Counter[str]
) -> str | None:
    """None when ``new`` parses and holds ``old``'s string literals minus exactly ``removed``
    plus exactly ``added``, the rest in the same order."""
    from difflib import SequenceMatcher

    import libcst as cst

    try:
        after = string_literals(new)
    except cst.ParserSyntaxError as err:
        return f"the result is not valid Python ({err.message})"
    before = string_literals(old)
    gone: Counter[str] = Counter()
    came: Counter[str] = Counter()
    matcher = SequenceMatcher(None, before, after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            gone.update(before[i1:i2])
            came.update(after[j1:j2])
    if gone != removed or came != added:
        return (
            f"the module's string literals changed: removed {sorted(gone.elements())}, "
            f"added {sorted(came.elements())}"
        )
    return None
