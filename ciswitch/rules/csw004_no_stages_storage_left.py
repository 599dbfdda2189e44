"""A werf command would have no stages storage once ``:local`` is removed.

## What it does
Finds werf commands that take a stages storage, get `:local` (by flag or variable), and run
in a job (or script) with no `werf ci-env` before them and no other stages storage. Not
`werf dismiss`: it reads the stages storage only to choose its synchronization default, which
is `:local` with or without it, so it runs the same once `:local` is removed.

## Why is this bad?
werf 1.1 has no default stages storage: removing `:local` alone makes the command fail with
`--stages-storage=ADDRESS param required`. Such a job needs an address.

## Example
```yaml
build:
  script:
    - werf build --stages-storage :local
```

## Use instead
```yaml
build:
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf build
```
or run `ciswitch fix --to registry.example.com/group/project/stages`.

## Fix safety
No automatic fix: ciswitch leaves the `:local` places such a command depends on alone unless
`--to ADDRESS` is given, in which case they are pointed at that address.
"""

from __future__ import annotations

from collections.abc import Iterator

from ciswitch.analysis.facts import CallAt, Facts, Kind
from ciswitch.model import Finding, Severity
from ciswitch.rules.base import Rule, RuleOptions, finding, reached

CODE = "CSW004"
SEVERITY = Severity.ERROR
KINDS = (Kind.STORAGELESS_CALL,)


def check(facts: Facts, options: RuleOptions) -> Iterator[Finding]:
    if options.to is not None:
        return
    for place in facts.of_kinds(KINDS):
        what = place.what
        assert isinstance(what, CallAt)
        command = " ".join(("werf", *what.call.subcommand))
        where = reached(place) + ("," if place.only_templates else "")
        message = (
            f"{command}{where} has no werf ci-env and no "
            "other stages storage: removing :local would leave it with none; add "
            "`source $(werf ci-env gitlab --as-file)` or pass --to ADDRESS"
        )
        yield finding(
            CODE,
            place,
            message,
            SEVERITY,
            None,
            "needs an address: add werf ci-env or pass --to ADDRESS",
        )


RULE = Rule(
    code=CODE,
    name="no-stages-storage-left",
    summary="werf command would have no stages storage without :local",
    severity=SEVERITY,
    fix_safety="none",
    doc=__doc__ or "",
    source=__name__,
    check=check,
)
