"""``WERF_STAGES_STORAGE`` is set to ``:local``.

## What it does
Finds `WERF_STAGES_STORAGE: ":local"` under `variables:` (global, `default:`, a job or a hidden
template, plain or `{value: ...}` form) and `WERF_STAGES_STORAGE=:local` set in a script:
`export`, `declare -x`, a plain assignment, or an environment prefix
(`WERF_STAGES_STORAGE=:local werf build`).

## Why is this bad?
`werf ci-env gitlab` exports `WERF_STAGES_STORAGE=$CI_REGISTRY_IMAGE/stages` but skips every
variable that is already set: a leftover `:local` silently keeps the project local, and after
`werf stages switch-from-local` every job fails.

## Example
```yaml
variables:
  WERF_STAGES_STORAGE: ":local"
```

## Use instead
Remove the variable and let `werf ci-env gitlab` set it.

## Fix safety
Safe when every job that reads the variable runs `werf ci-env`: the fix removes the entry (the
whole `variables:` key when it was the only entry), the list item, or only the assignment.
Otherwise the fix is offered only with `--to ADDRESS`, which sets the variable to that address.
"""

from __future__ import annotations

from collections.abc import Iterator

from ciswitch.analysis import Facts
from ciswitch.fixes import assignment_fix, variable_fix
from ciswitch.model import Finding, Severity
from ciswitch.rules.base import RuleOptions, finding, in_jobs, storage_tail

CODE = "CSW002"
NAME = "local-stages-storage-variable"
SUMMARY = "WERF_STAGES_STORAGE is set to :local"
SEVERITY = Severity.ERROR
FIX_SAFETY = "safe"


def check(facts: Facts, options: RuleOptions) -> Iterator[Finding]:
    parents = facts.pipeline.parents if facts.pipeline is not None else {}
    for place in facts.of_code(CODE):
        if place.variable is not None:
            where = f"in {place.variable.scope} variables"
            make = lambda place=place: variable_fix(place, options.to, parents)  # noqa: E731
        else:
            assert place.assignment is not None
            kinds = {"prefix": "as a command prefix", "export": "exported", "plain": "assigned"}
            where = kinds[place.assignment.kind]
            make = lambda place=place: assignment_fix(place, options.to)  # noqa: E731
        via = f" (through {place.via})" if place.via else ""
        tail, blocked = storage_tail(
            place,
            options,
            "werf ci-env does not override a variable that is already set, "
            "so this keeps the project on :local; remove it",
        )
        message = (
            f"WERF_STAGES_STORAGE=:local{via} {where}"
            f"{',' if place.affected_jobs else ''}{in_jobs(place.affected_jobs, 'used by')}: {tail}"
        )
        yield finding(CODE, place, message, SEVERITY, make, blocked)
