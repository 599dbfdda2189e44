"""Fingerprints that follow a finding when unrelated lines move.

GitLab compares the Code Quality report of a merge request with the target branch's by
fingerprint: a fingerprint built from line numbers would show every finding below an added
line as "fixed" and "new" at once. So it hashes what identifies the place instead: the path,
the rule code, the source line's text with whitespace normalized, and a counter that tells
identical lines apart (the second identical finding in a file gets another fingerprint).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence

from ciswitch.model import Finding


def normalized_line(finding: Finding) -> str:
    """The finding's source line with runs of whitespace collapsed (re-indenting a file does
    not change its fingerprints); the message when the line is unknown; a setting's name for
    one in GitLab's settings (its message changes with the jobs it reaches)."""
    text = finding.source_line or (finding.message if finding.in_file else finding.path)
    return " ".join(text.split())


def fingerprints(findings: Sequence[Finding]) -> list[str]:
    """One fingerprint per finding, in the order given, all different from each other."""
    order = sorted(range(len(findings)), key=lambda i: findings[i].sort_key)
    seen: Counter[tuple[str, str, str]] = Counter()
    result = [""] * len(findings)
    for index in order:
        finding = findings[index]
        key = (finding.path.removeprefix("./"), finding.code, normalized_line(finding))
        occurrence = seen[key]
        seen[key] += 1
        payload = "\0".join((*key, str(occurrence)))
        result[index] = hashlib.sha256(payload.encode("utf-8")).hexdigest()
    return result
