"""What the reports say about each rule: code, name, summary, level and documentation.

Read from the rule table of :mod:`ciswitch.rules` (imported on demand, since only SARIF,
``--statistics`` and the docs need it).
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ciswitch.model import Severity

if TYPE_CHECKING:
    from ciswitch.rules.base import Rule


@dataclass(frozen=True)
class RuleMeta:
    """One rule as the reports describe it."""

    code: str
    name: str
    summary: str
    severity: Severity
    fix_safety: str
    #: the rule's documentation (Markdown with the headings "What it does", "Why is this bad?",
    #: "Example", "Use instead", "Fix safety")
    doc: str

    def section(self, heading: str) -> str:
        """The text under ``## heading`` in :attr:`doc`, or ``""``."""
        return doc_sections(self.doc).get(heading.lower(), "")

    @property
    def description(self) -> str:
        """A paragraph saying what the rule reports: "What it does", else the summary."""
        return self.section("What it does") or self.summary


_HEADING_RE = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)


def doc_sections(doc: str) -> dict[str, str]:
    """Split Markdown documentation into ``{lower-cased heading: body}``; the text before the
    first heading is stored under ``""``. Headings inside fenced code blocks do not count."""
    sections: dict[str, list[str]] = {"": []}
    current = ""
    fenced = False
    for line in doc.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        match = None if fenced else _HEADING_RE.match(line)
        if match is not None:
            current = match.group(1).strip().lower()
            sections[current] = []
        else:
            sections[current].append(line)
    return {key: "\n".join(lines).strip() for key, lines in sections.items()}


def meta_of(rule: Rule) -> RuleMeta:
    """The metadata of one rule."""
    return RuleMeta(
        code=rule.code,
        name=rule.name,
        summary=rule.summary,
        severity=rule.severity,
        fix_safety=rule.fix_safety,
        doc=inspect.cleandoc(rule.doc),
    )


def load_rules_meta() -> list[RuleMeta]:
    """Every rule in code order."""
    from ciswitch.rules import ALL_RULES

    return sorted((meta_of(rule) for rule in ALL_RULES), key=lambda meta: meta.code)
