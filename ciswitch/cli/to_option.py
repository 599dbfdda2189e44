"""``--to ADDRESS``: one definition of the option and its check for every command that takes it.

The value is checked while click parses the command line (:func:`ciswitch.stages_address.
check_address`), so a bad address is a one-line usage error with exit 2 before the command
reads, writes or pushes anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def _check(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from ciswitch.errors import CiswitchError
    from ciswitch.stages_address import check_address

    if value is None:
        return None
    try:
        return check_address(value, "--to")
    except CiswitchError as err:
        click.echo(f"ciswitch: error: {err}", err=True)
        ctx.exit(2)


def to_option(dest: str, help_text: str, *, metavar: str = "ADDRESS") -> Callable[[F], F]:
    """The ``--to`` option stored as ``dest``, checked as it is parsed."""
    return click.option("--to", dest, metavar=metavar, help=help_text, callback=_check)
