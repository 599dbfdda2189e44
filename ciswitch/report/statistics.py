"""``--statistics``: how many findings each rule produced, and how many places of each kind
could not be checked, to size a migration at a glance."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

from ciswitch.model import LintResult, NotCheckedKind
from ciswitch.report.meta import RuleMeta


def counts(result: LintResult) -> list[tuple[str, int, int]]:
    """``(code, findings, fixable findings)`` per rule, most frequent first."""
    total: Counter[str] = Counter(f.code for f in result.findings)
    fixable: Counter[str] = Counter(f.code for f in result.findings if f.fixable)
    return [(code, n, fixable[code]) for code, n in
            sorted(total.items(), key=lambda item: (-item[1], item[0]))]


def not_checked_counts(result: LintResult) -> list[tuple[NotCheckedKind, int]]:
    """``(kind, places)`` of the places not checked, most frequent first (GitLab's CI/CD
    settings last)."""
    total: Counter[NotCheckedKind] = Counter(e.kind for e in result.not_checked)
    return sorted(total.items(), key=lambda item: (item[0] is NotCheckedKind.GITLAB_SETTINGS,
                                                   -item[1], item[0].value))


def render_statistics(
    result: LintResult, rules_meta: Sequence[RuleMeta] | None = None, *, fmt: str = "text"
) -> str:
    """One line per rule: count, code, ``[*]`` when every finding is fixable (``[-]`` when
    some are), and the rule's name; then one line per kind of place not checked
(``not-checked``, the kind). ``fmt="json"`` gives a list of objects instead."""
    if rules_meta is None:
        from ciswitch.report.meta import load_rules_meta

        rules_meta = load_rules_meta()
    names = {meta.code: meta.name for meta in rules_meta}
    rows = counts(result)
    gaps = not_checked_counts(result)
    if fmt == "json":
        return json.dumps([
            *({"code": code, "name": names.get(code, ""), "count": n, "fixable": fix}
              for code, n, fix in rows),
            *({"not_checked": kind.value, "name": kind.phrase[1], "count": n}
              for kind, n in gaps),
        ], indent=2) + "\n"
    if not rows and not gaps:
        return ""
    width = max(len(str(n)) for n in [*(n for _, n, _ in rows), *(n for _, n in gaps)])
    out = []
    for code, n, fix in rows:
        mark = "[*]" if fix == n else "[-]" if fix else "   "
        out.append(f"{n:>{width}}\t{code}\t{mark} {names.get(code, '')}".rstrip())
    for kind, n in gaps:
        out.append(f"{n:>{width}}\tnot-checked\t    {kind.value}")
    return "\n".join(out) + "\n"
