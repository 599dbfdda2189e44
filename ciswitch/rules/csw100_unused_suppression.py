"""A `# ciswitch: ignore` comment suppresses nothing.

## What it does
Reports suppression comments (`# ciswitch: ignore`, `# ciswitch: ignore[CSW001]`,
`# ciswitch: ignore-file`) that match no finding, and the codes in a suppression list that
match none.

## Why is this bad?
A suppression outlives the problem it was written for. Left in place, it silently hides the
next `:local` that someone adds on the same line or in the same file.

## Example
```yaml
build:
  script:
    - werf build-and-publish  # ciswitch: ignore[CSW001]
```

## Use instead
```yaml
build:
  script:
    - werf build-and-publish
```

## Fix safety
Safe: the fix removes the comment (or only the unused codes from its list) and keeps the rest
of the line; comments do not change what the pipeline does.
"""

from __future__ import annotations

from collections.abc import Collection

from ciswitch.model import Edit, Finding, Fix, Position, Severity
from ciswitch.rules.base import Rule
from ciswitch.suppress import Directive, list_text, match_suppressions, unused_codes

CODE = "CSW100"
SEVERITY = Severity.WARNING


def apply_suppressions(
    findings: list[Finding], texts: dict[str, str], *, enabled: Collection[str] | None = None,
) -> tuple[list[Finding], list[Finding]]:
    """Drop the findings that a suppression comment covers; return those that remain and one
    finding of this rule per suppression that suppressed nothing. Codes of rules that did not
    run (not in ``enabled``, when given) are never called unused, since ``--select`` must not
    turn valid suppressions into findings."""
    kept, directives = match_suppressions(findings, texts, exempt=CODE)
    unused: list[Finding] = []
    for path, directive in directives:
        report = _unused(path, directive, enabled)
        if report is not None:
            unused.append(report)
    unused.sort(key=lambda f: f.sort_key)
    return kept, unused


def _review(
    findings: list[Finding], texts: dict[str, str], enabled: Collection[str]
) -> tuple[list[Finding], list[Finding]]:
    return apply_suppressions(findings, texts, enabled=enabled)


def _unused(path: str, directive: Directive, enabled: Collection[str] | None) -> Finding | None:
    """The finding for a directive that suppressed nothing (or some unused codes)."""
    unused = unused_codes(directive, enabled)
    if unused is None:
        return None
    label = "ignore-file" if directive.file_level else "ignore"
    if directive.misplaced:
        message = "`ciswitch: ignore-file` suppresses nothing here: it must stand on a line " \
                  "of its own"
    elif directive.codes is None:
        message = f"unused suppression `ciswitch: {label}`: nothing to suppress"
    else:
        names = ", ".join(code for code, _, _ in unused)
        message = f"unused suppression `ciswitch: {label}` (unused: {names})"
    remaining = [] if directive.codes is None else [
        item for item in directive.codes if item not in unused
    ]
    if remaining:
        separator = ", " if ", " in list_text(directive) else ","
        edit = Edit(path, directive.list_start, directive.list_end,
                    separator.join(code for code, _, _ in remaining))
        description = "remove the unused codes from the suppression"
    else:
        edit = Edit(path, directive.remove_start, directive.remove_end, "")
        description = "remove the unused suppression comment"
    begin_col = directive.start - directive.line_start + 1
    end_col = directive.end - directive.line_start + 1
    return Finding(
        code=CODE,
        message=message,
        path=path,
        start=directive.start,
        end=directive.end,
        begin=Position(directive.line, begin_col),
        finish=Position(directive.line, end_col),
        severity=SEVERITY,
        fix=Fix(edits=(edit,), safe=True, description=description),
        source_line=directive.source_line,
    )


RULE = Rule(
    code=CODE,
    name="unused-suppression",
    summary="suppression comment that suppresses nothing",
    severity=SEVERITY,
    fix_safety="safe",
    doc=__doc__ or "",
    source=__name__,
    review=_review,
    suppressible=False,
)
