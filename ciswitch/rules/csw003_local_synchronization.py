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
from dataclasses import replace

from ciswitch.analysis import Facts, Place
from ciswitch.fixes import assignment_fix, flag_fix, variable_fix
from ciswitch.model import Finding, Fix, Severity
from ciswitch.rules.base import RuleOptions, finding, in_jobs

CODE = "CSW003"
NAME = "local-synchronization"
SUMMARY = "werf uses :local synchronization with a stages storage"
SEVERITY = Severity.WARNING
FIX_SAFETY = "unsafe"


def _relevant(place: Place, facts: Facts) -> bool:
    """Stages storage (werf 1.1) jobs only: werf 1.2 has no stages storage to protect."""
    jobs = set(place.jobs or place.hidden_jobs)
    if not jobs:
        return not facts.v12_jobs
    return bool(jobs - facts.v12_jobs)


def check(facts: Facts, options: RuleOptions) -> Iterator[Finding]:
    parents = facts.pipeline.parents if facts.pipeline is not None else {}
    for place in facts.of_code(CODE):
        if not _relevant(place, facts):
            continue

        def make(place: Place = place) -> Fix:
            if place.flag is not None:
                fix = flag_fix(place, None)
            elif place.variable is not None:
                fix = variable_fix(place, None, parents)
            else:
                fix = assignment_fix(place, None)
            return replace(fix, safe=False, description="remove :local synchronization")

        message = (
            f":local synchronization{in_jobs(place.affected_jobs)}: only one host "
            "may run werf for the project; remove it to use the distributed lock "
            "(unsafe fix: changes the locking backend)"
        )
        yield finding(CODE, place, message, SEVERITY, make)
