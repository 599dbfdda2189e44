"""werf uses ``:local`` synchronization with a stages storage.

## What it does
Finds `--synchronization :local` / `-S :local` and `WERF_SYNCHRONIZATION=:local` (variables,
exports, prefixes) in jobs that use werf 1.1 stages storage.

## Why is this bad?
With a remote stages storage werf locks through Kubernetes (or its HTTP synchronization
service) so that several hosts can build at once. `:local` synchronization "allows execution of
werf processes from a single host only": two runners building the same project can then corrupt
the stages storage.

## Example
```yaml
variables:
  WERF_SYNCHRONIZATION: ":local"
```

## Use instead
Remove it and let werf use its default distributed lock, or set
`kubernetes://NAMESPACE` explicitly.

## Fix safety
Unsafe: removing it changes the locking backend (werf will need access to the Kubernetes
cluster), so it is applied only with `--unsafe-fixes`. werf 1.2 projects (no stages storage)
are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ciswitch.analysis.entries import variable_fix
from ciswitch.analysis.facts import (
    AssignmentAt,
    Facts,
    FlagAt,
    Kind,
    Payload,
    Place,
    VariableEntry,
)
from ciswitch.analysis.held import flag_fix
from ciswitch.analysis.values import refuse_default
from ciswitch.model import Finding, Fix, Severity
from ciswitch.record import replace
from ciswitch.rules.base import Rule, RuleOptions, finding, reached

CODE = "CSW003"
SEVERITY = Severity.WARNING
KINDS = (Kind.SYNCHRONIZATION,)


def fix_recipe(what: Payload, parents: dict[int, Any]) -> Fix:
    """Remove the setting, whatever its form; unsafe (it changes the locking backend)."""
    match what:
        case FlagAt():
            fix = flag_fix(what, None)
        case VariableEntry():
            fix = variable_fix(what.variable, None, parents)
        case AssignmentAt():
            refuse_default(what.assignment.value)
            fix = what.site.assignment_fix(what.assignment, None)
        case _:
            raise AssertionError(f"no synchronization setting: {what!r}")
    return replace(fix, safe=False, description="remove :local synchronization")


def _relevant(place: Place, facts: Facts) -> bool:
    """Stages storage (werf 1.1) jobs only: werf 1.2 has no stages storage to protect."""
    jobs = set(place.jobs or place.hidden_jobs)
    if not jobs:
        return not facts.v12_jobs
    return bool(jobs - facts.v12_jobs)


def check(facts: Facts, options: RuleOptions) -> Iterator[Finding]:
    parents = facts.pipeline.parents if facts.pipeline is not None else {}
    for place in facts.of_kinds(KINDS):
        if not _relevant(place, facts):
            continue

        def make(what: Payload = place.what) -> Fix:
            return fix_recipe(what, parents)

        message = (
            f":local synchronization{reached(place)}: only one host "
            "may run werf for the project; remove it to use the distributed lock "
            "(unsafe fix: changes the locking backend)"
        )
        yield finding(CODE, place, message, SEVERITY, make)


RULE = Rule(
    code=CODE,
    name="local-synchronization",
    summary="werf uses :local synchronization with a stages storage",
    severity=SEVERITY,
    fix_safety="unsafe",
    doc=__doc__ or "",
    source=__name__,
    check=check,
    unsafe_reason="unsafe fix (changes the locking backend): use --unsafe-fixes",
    unsafe_note=":local synchronization removed",
)
