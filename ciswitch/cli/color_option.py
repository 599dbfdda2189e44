"""``--color auto|always|never``: one definition for every command that colours its output."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

COLOR_HELP = ("Colour the output: auto (on a terminal only; NO_COLOR turns it off, FORCE_COLOR "
              "on), always or never.")


def color_option(command: F) -> F:
    """The ``--color`` option, stored as ``color``."""
    option = click.option(
        "--color", "color", type=click.Choice(["auto", "always", "never"]), default="auto",
        show_default=True, help=COLOR_HELP,
    )
    return option(command)
