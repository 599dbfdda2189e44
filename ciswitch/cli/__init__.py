"""The ``ciswitch`` command line: a click group whose subcommands are imported on demand.

Each subcommand lives in its own module under :mod:`ciswitch.cli` and is imported only when it
is invoked, so ``ciswitch lint`` (run by pre-commit on every commit) never pays for GitPython,
libcst or rich.
"""

from __future__ import annotations

import difflib
import importlib
import sys
from typing import Any

import click

from ciswitch import __version__

#: command name -> "module:attribute" of the click command
COMMANDS: dict[str, str] = {
    "lint": "ciswitch.cli.lint_cmd:lint",
    "branch": "ciswitch.cli.branch_cmd:branch",
    "branches": "ciswitch.cli.branches_cmd:branches",
    "fix": "ciswitch.cli.fix_cmd:fix",
    "fleet": "ciswitch.cli.fleet_cmd:fleet",
    "plan": "ciswitch.cli.plan_cmd:plan",
    "revert": "ciswitch.cli.revert_cmd:revert",
    "status": "ciswitch.cli.status_cmd:status",
}


def _command_path(group: click.Group, args: list[str]) -> str:
    """``ciswitch fleet run``: the commands named at the start of ``args``."""
    path = ["ciswitch"]
    command: click.Command = group
    for word in args:
        if word.startswith("-") or not isinstance(command, click.Group):
            break
        sub = command.get_command(click.Context(command), word)
        if sub is None:
            break
        path.append(word)
        command = sub
    return " ".join(path)


def usage_line(err: click.UsageError, fallback: str = "ciswitch") -> str:
    """A usage error as one line: where, what, and where the help is."""
    where = err.ctx.command_path if err.ctx is not None else fallback
    message = " ".join(err.format_message().split())
    return f"{where}: error: {message} (see '{where} --help')"


class SuggestingGroup(click.Group):
    """A group whose unknown subcommand error names the closest known one."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError:
            name = args[0] if args else ""
            if name and not name.startswith("-") and self.get_command(ctx, name) is None:
                close = difflib.get_close_matches(name, self.list_commands(ctx), n=1, cutoff=0.5)
                if close:
                    raise click.UsageError(
                        f"no such command {name!r}. Did you mean {close[0]}?", ctx
                    ) from None
            raise


class LazyGroup(SuggestingGroup):
    """A group that imports a subcommand's module only when that subcommand runs.

    Usage errors (an unknown option, a missing value, a mistyped command) are one line on
    standard error with exit 2, not click's four (usage, hint, blank line, error)."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("standalone_mode", True):
            return super().main(*args, **kwargs)
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError as err:
            click.echo(err.format_message(), err=True)
            sys.exit(2)
        except click.UsageError as err:
            given = args[0] if args else kwargs.get("args")
            words = list(given) if given is not None else sys.argv[1:]
            click.echo(usage_line(err, _command_path(self, words)), err=True)
            sys.exit(2)
        except click.ClickException as err:
            click.echo(f"ciswitch: error: {' '.join(err.format_message().split())}", err=True)
            sys.exit(err.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command: Any = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        """^C anywhere: one line and exit 130, not click's "Aborted!" with exit 1."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("ciswitch: interrupted", err=True)
            ctx.exit(130)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ciswitch")
def main() -> None:
    """Move werf GitLab CI projects from :local to remote stages storage, and keep them there."""
