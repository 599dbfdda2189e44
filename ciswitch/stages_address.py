"""The one check of a remote stages storage address, wherever one is given.

``--to`` of ``fix``, ``branch``, ``fleet run``, ``plan`` and ``status``, and
``stages-storage-address`` of ``.ciswitch.toml``, all end up in the same two places: a werf
command line in the CI configuration (``--stages-storage ADDRESS``) and ``werf stages sync`` /
``switch-from-local --to ADDRESS`` on a runner. An address that werf would not take, or that
the shell would split or read as an option, must be refused where it is given, in one line,
before anything is written. This module imports nothing but the error type, so that the CLI
can check an option while it parses it.
"""

from __future__ import annotations

from ciswitch.errors import CiswitchError

#: characters the shell would interpret inside an unquoted word (``$`` stays allowed:
#: ``$CI_REGISTRY_IMAGE/stages`` is a sensible address for a CI file)
_SHELL_SPECIAL = frozenset("'\"`\\;&|<>()*?[]#")


def address_problem(value: str) -> str | None:
    """Why ``value`` is not a stages storage address werf 1.1 takes, or None when it is one."""
    if not value.strip():
        return "is empty"
    if any(c.isspace() for c in value):
        return "contains a space or line break"
    if any(not c.isprintable() for c in value):
        return "contains a control character"
    if value.startswith("-"):
        return "starts with '-' and would be read as an option"
    if value == ":local" or value.strip("'\"") == ":local":
        return "is :local itself; give the registry address to move to"
    if value.startswith(":"):
        return "starts with ':' (werf's only such storage is :local); give a registry address"
    if "://" in value:
        return ("has a scheme; give the registry path without one "
                "(e.g. registry.example.com/group/project/stages)")
    special = sorted({c for c in value if c in _SHELL_SPECIAL})
    if special:
        return f"contains {''.join(special)!r}, which the shell would interpret"
    return None


def check_address(value: str, source: str = "--to") -> str:
    """``value`` when it is a usable stages storage address; else a one-line
    :class:`CiswitchError` naming ``source`` (the option or setting it came from)."""
    problem = address_problem(value)
    if problem is not None:
        raise CiswitchError(f"{source}: {value!r} {problem}")
    return value
