"""``WERF_STAGES_STORAGE`` is set to ``:local``.

## What it does
Finds `WERF_STAGES_STORAGE: ":local"` wherever GitLab defines variables: global `variables:`,
`default:`, a job or a hidden template (also through `extends`, `<<:` with one anchor or a list
of them, `variables: !reference [.tpl, variables]` and a value
`!reference [.tpl, variables, KEY]`), the `variables:` of a job's `rules:` entries and of
`workflow: rules:` entries, `parallel: matrix:` entries, and the variables a trigger job passes
to its child pipeline. Keys may be quoted, the value plain or in the
`{value:, description:, expand:}` form, with spaces or a comment after it, or a `$VAR` /
`${VAR}` that resolves to `:local` through other variables (not with `expand: false`). It also
finds `WERF_STAGES_STORAGE=:local` set in a script: `export`, `declare -x`, a plain assignment,
or an environment prefix (`WERF_STAGES_STORAGE=:local werf build`).

Which definition a job runs with follows GitLab's "CI/CD variable precedence": global
variables < `workflow: rules:` variables < the job's own < its `rules:` and `parallel: matrix:`
variables < trigger variables from the parent pipeline (a child job's own value does not win
over them; `inherit: variables: false` and `trigger: forward: yaml_variables: false` pass none
down). A definition that holds only when a rule matches (or in one matrix combination) is
reported with the jobs it may reach, together with the lower definitions that hold otherwise.

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
whole `variables:` key when it was the only entry; `variables: {}` when a `<<:`-merged mapping
could bring its own `variables:` or the key is the only one of its mapping), with the entries
that take it by `!reference`, the list item (the only item of a list becomes `'true'`), or only
the assignment (one inside an and-or list or a pipeline becomes `true`, so the list keeps its
shape). A job that reaches the entry through a shared definition and runs werf without
`werf ci-env` blocks the fix, and the message names it.
Otherwise the fix is offered only with `--to ADDRESS`, which sets the variable to that address.
A job that keeps another stages storage once the `:local` definitions are gone (its own value
under a `rules:` or trigger one) does not block the removal. One value of a matrix list
(`WERF_STAGES_STORAGE: [":local", other]`) and the only entry of an anchored mapping are left
for a hand edit.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ciswitch.analysis.entries import variable_fix
from ciswitch.analysis.facts import AssignmentAt, Facts, Kind, Payload, VariableEntry
from ciswitch.analysis.values import refuse_default
from ciswitch.gitlab import Pipeline
from ciswitch.model import Finding, Fix, Severity
from ciswitch.rules.base import Rule, RuleOptions, finding, reached, storage_tail

CODE = "CSW002"
SEVERITY = Severity.ERROR
KINDS = (Kind.STORAGE_ASSIGNMENT, Kind.STORAGE_VARIABLE)
_ASSIGNED = {"prefix": "as a command prefix", "export": "exported", "plain": "assigned"}


def fix_recipe(
    what: Payload, to: str | None, parents: dict[int, Any], pipeline: Pipeline | None = None
) -> Fix:
    """Remove the variable entry (with the entries taking it by ``!reference``) or the
    assignment, or point it at ``to``."""
    if isinstance(what, VariableEntry):
        return variable_fix(what.variable, to, parents, pipeline)
    assert isinstance(what, AssignmentAt)
    refuse_default(what.assignment.value)
    return what.site.assignment_fix(what.assignment, to)


def check(facts: Facts, options: RuleOptions) -> Iterator[Finding]:
    parents = facts.pipeline.parents if facts.pipeline is not None else {}
    for place in facts.of_kinds(KINDS):
        what = place.what
        if isinstance(what, VariableEntry):
            where = f"in {what.variable.scope} variables"
        else:
            assert isinstance(what, AssignmentAt)
            where = _ASSIGNED[what.assignment.kind]

        def make(what: Payload = what) -> Fix:
            return fix_recipe(what, options.to, parents, facts.pipeline)
        via = f" (through {place.via})" if place.via else ""
        tail, blocked = storage_tail(
            place,
            options,
            "werf ci-env does not override a variable that is already set, "
            "so this keeps the project on :local; remove it",
        )
        message = (
            f"WERF_STAGES_STORAGE=:local{via} {where}"
            f"{',' if place.affected_jobs or place.only_templates else ''}"
            f"{reached(place, 'used by')}: {tail}"
        )
        yield finding(CODE, place, message, SEVERITY, make, blocked)


RULE = Rule(
    code=CODE,
    name="local-stages-storage-variable",
    summary="WERF_STAGES_STORAGE is set to :local",
    severity=SEVERITY,
    fix_safety="safe",
    doc=__doc__ or "",
    source=__name__,
    check=check,
)
