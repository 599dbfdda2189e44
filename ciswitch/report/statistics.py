"""``--statistics``: how many findings each rule produced, to size a migration at a glance."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

from ciswitch.model import LintResult
from ciswitch.report.meta import RuleMeta


def counts(result: LintResult) -> list[tuple[str, int, int]]:
    """``(code, findings, fixable findings)`` per rule, most frequent first."""
    total: Counter[str] = Counter(f.code for f in result.findings)
    fixable: Counter[str] = Counter(f.code for f in result.findings if f.fixable)
    return [(code, n, fixable[code]) for code, n in
            sorted(total.items(), key=lambda item: (-item[1], item[0]))]


def render_statistics(
    result: LintResult, rules_meta: Sequence[RuleMeta] | None = None, *, fmt: str = "text"
) -> str:
    """One line per rule: count, code, ``[*]`` when every finding is fixable (``[-]`` when
    some are), and the rule's name. ``fmt="json"`` gives a list of objects instead."""
    if rules_meta is None:
        from ciswitch.report.meta import load_rules_meta

        rules_meta = load_rules_meta()
    names = {meta.code: meta.name for meta in rules_meta}
    rows = counts(result)
    if fmt == "json":
        return json.dumps([
            {"code": code, "name": names.get(code, ""), "count": n, "fixable": fix}
            for code, n, fix in rows
        ], indent=2) + "\n"
    if not rows:
        return ""
    width = max(len(str(n)) for _, n, _ in rows)
    out = []
    for code, n, fix in rows:
        mark = "[*]" if fix == n else "[-]" if fix else "   "
        out.append(f"{n:>{width}}\t{code}\t{mark} {names.get(code, '')}".rstrip())
    return "\n".join(out) + "\n"
