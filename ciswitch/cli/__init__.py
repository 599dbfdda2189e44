"""The ``ciswitch`` command line: a click group whose subcommands are imported on demand.

Each subcommand lives in its own module under :mod:`ciswitch.cli` and is imported only when it
is invoked, so ``ciswitch lint`` (run by pre-commit on every commit) never pays for GitPython,
libcst or rich.
"""

from __future__ import annotations

import importlib
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


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that subcommand runs."""

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
