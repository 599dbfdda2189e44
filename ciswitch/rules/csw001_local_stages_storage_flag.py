"""A werf command is given ``:local`` stages storage by a flag.

## What it does
Finds `--stages-storage :local`, `--stages-storage=:local`, `-s :local`, `-s=:local` and
`-s:local` (quoted or not, or through a variable such as `-s $STORAGE` whose value is `:local`,
or a default such as `-s "${STORAGE:-:local}"` where STORAGE is not set)
on werf 1.1 commands that take a stages storage (`build`, `publish`, `build-and-publish`, `run`,
`deploy`, `dismiss`, `cleanup`, `purge`, `stages`/`images`/`managed-images` subcommands, ...),
in `.gitlab-ci.yml`, its local includes, the child pipelines of `trigger: include:` local
files and the scripts its jobs run. A list of flags held in a CI variable and expanded unquoted
(`werf deploy $WERF_EXTRA_ARGS` with `WERF_EXTRA_ARGS: "--stages-storage :local --log-verbose"`)
is split into words by the shell, so the flag inside the value counts too; it is reported and
fixed inside the variable's value (a quoted `"$WERF_EXTRA_ARGS"` is one word, never a flag).
So is a variable the script sets itself (`ARGS="--stages-storage :local"`, then
`werf build $ARGS`, in the same shell: `before_script` and `script` share one, `after_script`
has its own): the finding points at the flag's characters inside the assignment. Python
code given on the command line (`python3 -c "subprocess.run(['werf', 'build', '-s',
':local'])"`) is read as Python, and its flags are found at their characters.

A finding names the jobs that run the place, also when they reach it through `extends`,
`!reference`, an anchor or `<<:`; job Y of the child pipeline of trigger job X is named
"Y of the child pipeline of X". A hidden template is never named as a job: a place only a
template holds says that no job runs it.

## Why is this bad?
`:local` keeps werf's stages on one runner, so only that host can build. Once
`werf stages switch-from-local` has run, werf refuses `:local` for the project and every job
still passing it fails.

## Example
```yaml
build:
  script:
    - werf build-and-publish --stages-storage :local
```

## Use instead
```yaml
build:
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf build-and-publish
```
`werf ci-env gitlab` sets `WERF_STAGES_STORAGE=$CI_REGISTRY_IMAGE/stages`.

## Fix safety
Safe when the job runs `werf ci-env` (or sets another stages storage): the fix removes the flag
and its value and nothing else (a variable's value left with no word becomes `""`; a script's
`ARGS="--env prod -s :local"` becomes `ARGS="--env prod"`, in its own quoting). When it
does not, the fix is offered only with `--to ADDRESS`, which replaces `:local` by that address
(inside a script's own variable, the address is left to you: the place says so). A flag in
`python3 -c` code, or whose :local is a default (`${STORAGE:-:local}`: dropping it would also
change what werf gets while STORAGE is set), is never fixed automatically: the place says to
change it by hand.
Only real jobs decide: a template no job uses does not block the fix. On `werf dismiss` the flag
only chooses the synchronization default (`:local` with or without it), so removing it is
always safe there. A flag anywhere on the command line counts, also between a group and its
subcommand (`werf stages -s :local cleanup`), behind wrappers (`timeout 600 sudo -E`, `nice`,
`ionice`, `stdbuf`, `env A=1`, `xargs`, ...), through a variable holding werf's path
(`"$WERF_BIN" build`) and inside `bash -c '...'` strings.
"""

from __future__ import annotations

from collections.abc import Iterator

from ciswitch.analysis.facts import Facts, FlagAt, Kind
from ciswitch.analysis.held import flag_fix
from ciswitch.model import Finding, Fix, Severity
from ciswitch.rules.base import Rule, RuleOptions, finding, reached, storage_tail

CODE = "CSW001"
SEVERITY = Severity.ERROR
KINDS = (Kind.STORAGE_FLAG,)
_DISMISS_ADVICE = (
    "remove it; werf dismiss reads it only to choose the synchronization default, "
    "which is :local either way"
)


def fix_recipe(what: FlagAt, to: str | None) -> Fix:
    """Remove the flag and its value, or point it at ``to``."""
    return flag_fix(what, to)


def check(facts: Facts, options: RuleOptions) -> Iterator[Finding]:
    for place in facts.of_kinds(KINDS):
        what = place.what
        assert isinstance(what, FlagAt)
        spelled = what.flag.spelling
        via = f" (through {place.via})" if place.via else ""
        advice = (
            _DISMISS_ADVICE if what.call.subcommand == ("dismiss",)
            else "remove it; werf ci-env gitlab sets $CI_REGISTRY_IMAGE/stages"
        )
        tail, blocked = storage_tail(place, options, advice)
        message = f"{spelled} :local{via}{reached(place)}: {tail}"
        yield finding(
            CODE,
            place,
            message,
            SEVERITY,
            lambda what=what: fix_recipe(what, options.to),  # type: ignore[misc]
            blocked,
        )


RULE = Rule(
    code=CODE,
    name="local-stages-storage-flag",
    summary="werf command uses :local stages storage through a flag",
    severity=SEVERITY,
    fix_safety="safe",
    doc=__doc__ or "",
    source=__name__,
    check=check,
)
