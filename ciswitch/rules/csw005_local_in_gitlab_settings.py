"""`:local` stages storage or synchronization in a CI/CD variable of GitLab's settings.

## What it does
With `--gitlab-url` and `GITLAB_TOKEN`, reads the CI/CD variables GitLab keeps outside the
repository for the project: its own, every parent group's, the instance's (with an
administrator's token) and those of its pipeline schedules. Finds `WERF_STAGES_STORAGE` or
`WERF_SYNCHRONIZATION` set to `:local` among them, reported at a logical place such as
`gitlab: group web/ variable WERF_STAGES_STORAGE (environment scope *)`, with the jobs it
reaches. GitLab's precedence decides which value a job runs with: a schedule's variables (in
scheduled pipelines) over the project's, over its groups' (the nearest first), over the
instance's, over every `variables:` of the files. A variable with an environment scope reaches
only the jobs whose `environment:` matches the scope (`*` matches any text, as in `review/*`);
a protected one only pipelines on protected branches and tags. Without `--gitlab-url` the
report says that these were not checked.

## Why is this bad?
No file shows these values, yet every job they reach starts with them, and `werf ci-env
gitlab` does not override a variable that is already set: the project stays on `:local` after
its merge request is merged, and after `werf stages switch-from-local` its pipelines fail. A
registry address in the settings, in turn, wins over a `:local` in the files: a job that reads
it keeps a stages storage once the files' `:local` is removed.

## Example
A project variable `WERF_STAGES_STORAGE` with the value `:local` (Settings > CI/CD >
Variables), and:
```yaml
build:
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf build-and-publish
```

## Use instead
Delete the variable (`ciswitch fix --gitlab`), so that `werf ci-env gitlab` sets the registry.

## Fix safety
`ciswitch fix` never changes GitLab's settings by itself; `ciswitch fix --gitlab` deletes the
variable through GitLab's API after showing what it will do (`--dry-run` only shows), and with
`--to ADDRESS` sets it to that address instead. A job that would be left with no stages
storage without it (no `werf ci-env` and no other address) blocks the deletion: `--to` is
needed then. A `:local` synchronization is deleted only with `--unsafe-fixes` (it changes the
locking backend). Every change is journaled with the old value, so `ciswitch revert` puts it
back. Masked values are never printed.
"""

from __future__ import annotations

from collections.abc import Iterator

from ciswitch.analysis.facts import Facts, Kind, SettingAt
from ciswitch.model import STAGES_VAR, Finding, Position, Severity
from ciswitch.rules.base import (
    SWITCHED_NOTE,
    Rule,
    RuleOptions,
    blocked_jobs_reason,
    jobs_text,
)

CODE = "CSW005"
SEVERITY = Severity.ERROR
KINDS = (Kind.SETTINGS_VARIABLE,)
UNFIXABLE = "in GitLab's settings, not in a file: `ciswitch fix --gitlab` changes it"
_LEVEL = {
    "project": "the project's variable", "group": "a group's variable",
    "instance": "the instance's variable",
    "schedule": "a pipeline schedule's variable (scheduled pipelines only)",
}


def _reach(jobs: tuple[str, ...]) -> str:
    if not jobs:
        return "reaching no job of this project (a higher value wins, or no job matches)"
    return f"used by {jobs_text(jobs)}"


def check(facts: Facts, options: RuleOptions) -> Iterator[Finding]:
    for place in facts.of_kinds(KINDS):
        what = place.what
        assert isinstance(what, SettingAt)
        reason = UNFIXABLE
        where = what.where
        flags = f", {where.flags}" if where.flags else ""
        storage = where.key == STAGES_VAR
        name = ":local stages storage" if storage else ":local synchronization"
        head = f"{name} in {_LEVEL[where.level]}{flags}, {_reach(place.affected_jobs)}"
        if storage and options.switched:
            tail = SWITCHED_NOTE
        elif storage and place.blocked and options.to is None:
            reason = blocked_jobs_reason(place.blocked)
            tail = (f"{jobs_text(place.blocked)} would have no stages storage without it "
                    "(no werf ci-env): set it to an address with "
                    "`ciswitch fix --gitlab --to ADDRESS`")
        elif storage:
            tail = ("it wins over the files' variables and werf ci-env does not override it, "
                    "so this keeps the project on :local; delete it (`ciswitch fix --gitlab`)")
        else:
            tail = ("only one host may run werf for the project; delete it to use the "
                    "distributed lock (`ciswitch fix --gitlab --unsafe-fixes`)")
        yield Finding(
            code=CODE, message=f"{head}: {tail}", path=where.name, start=0, end=0,
            begin=Position(1, 1), finish=Position(1, 1), jobs=place.affected_jobs,
            severity=SEVERITY, unfixable_reason=reason, setting=where,
        )


RULE = Rule(
    code=CODE,
    name="local-in-gitlab-settings",
    summary="a CI/CD variable in GitLab's settings sets :local",
    severity=SEVERITY,
    fix_safety="none",
    doc=__doc__ or "",
    source=__name__,
    check=check,
    suppressible=False,
)
