"""Project configuration: ``.ciswitch.toml`` at the repository root, else ``[tool.ciswitch]``
in ``pyproject.toml``; ``--config FILE`` overrides discovery.

A configuration mistake must never be silently ignored (a misspelt ``ignore`` would otherwise
re-enable a rule the team switched off, or a wrong ``ci-config`` would lint nothing), so every
unknown key, wrong type or malformed rule code is a :class:`CiswitchError` that names the file
and the key. The file also records the project's switch state (``stages-storage = "remote"``),
written by ``ciswitch branch`` through :mod:`ciswitch.marker`, which edits the text in place
so that the team's own lines and comments stay exactly as they were.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ciswitch.errors import CiswitchError
from ciswitch.patterns import lazy_compile
from ciswitch.record import Record
from ciswitch.workspace import Workspace, normalize

if TYPE_CHECKING:
    import os

CONFIG_FILE = ".ciswitch.toml"
PYPROJECT_FILE = "pyproject.toml"
DEFAULT_CI_CONFIG = ".gitlab-ci.yml"
STAGES_STORAGE_VALUES = ("local", "remote")

_CODE_RE = lazy_compile(r"CSW\d{3}")


class Config(Record):
    """The settings that shape one lint or fix run."""

    #: rule codes to run; ``None`` means every rule
    select: list[str] | None
    #: rule codes never reported
    ignore: list[str]
    #: repository-relative path of the CI configuration (GitLab's "custom CI configuration path")
    ci_config: str
    #: globs of further files to lint (scripts that no job names literally)
    extra_files: list[str]
    #: ``"remote"`` once ``ciswitch branch`` marked the project as switched
    stages_storage: str | None
    stages_storage_address: str | None
    #: any place not checked (an include from another project, an unreadable script) fails
    #: the lint (exit 1), as ``--strict`` does
    strict: bool
    #: the file the settings came from (repository-relative when discovered), ``None`` for defaults
    source: str | None
    #: the settings came from ``[tool.ciswitch]`` of a pyproject file
    source_in_pyproject: bool
    #: the line of each key in the file, where it could be found (for error messages)
    key_lines: dict[str, int]

    def __init__(self, select: list[str] | None = None, ignore: list[str] | None = None,
                 ci_config: str = DEFAULT_CI_CONFIG, extra_files: list[str] | None = None,
                 stages_storage: str | None = None,
                 stages_storage_address: str | None = None, strict: bool = False,
                 source: str | None = None, source_in_pyproject: bool = False,
                 key_lines: dict[str, int] | None = None) -> None:
        self.select = select
        self.ignore = [] if ignore is None else ignore
        self.ci_config = ci_config
        self.extra_files = [] if extra_files is None else extra_files
        self.stages_storage = stages_storage
        self.stages_storage_address = stages_storage_address
        self.strict = strict
        self.source = source
        self.source_in_pyproject = source_in_pyproject
        self.key_lines = {} if key_lines is None else key_lines

    def is_enabled(self, code: str) -> bool:
        """Whether findings of rule ``code`` are reported under this configuration."""
        if code in self.ignore:
            return False
        return self.select is None or code in self.select


def load_config(ws: Workspace, explicit: str | os.PathLike[str] | None = None) -> Config:
    """Read the configuration for the repository behind ``ws``.

    ``explicit`` (``--config FILE``) is a path on disk, read as a ``pyproject.toml`` when it is
    named so and as a ``.ciswitch.toml`` otherwise. Without it, ``.ciswitch.toml`` at the root
    wins over ``[tool.ciswitch]`` in ``pyproject.toml``; with neither, the defaults apply.
    """
    if explicit is not None:
        from pathlib import Path

        explicit = Path(explicit)
        label = str(explicit)
        try:
            data = explicit.read_bytes()
        except FileNotFoundError as err:
            raise CiswitchError("configuration file not found", label) from err
        except OSError as err:
            raise CiswitchError(f"cannot read configuration: {err.strerror}", label) from err
        if explicit.name == PYPROJECT_FILE:
            table = _pyproject_table(data, label)
            return _from_table(table or {}, label, data, in_pyproject=True)
        return _from_table(_parse(data, label), label, data, in_pyproject=False)
    if ws.is_file(CONFIG_FILE):
        data = ws.read_bytes(CONFIG_FILE)
        return _from_table(_parse(data, CONFIG_FILE), CONFIG_FILE, data, in_pyproject=False)
    if ws.is_file(PYPROJECT_FILE):
        data = ws.read_bytes(PYPROJECT_FILE)
        table = _pyproject_table(data, PYPROJECT_FILE)
        if table is not None:
            return _from_table(table, PYPROJECT_FILE, data, in_pyproject=True)
    return Config()


def _decode(data: bytes, label: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise CiswitchError("configuration is not valid UTF-8", label) from err


_TOML_POS_RE = lazy_compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")


def _parse(data: bytes, label: str) -> dict[str, Any]:
    """Parse TOML, turning tomllib's error into one line that names the file and the line."""
    import tomllib  # only when there is a file to read: most repositories have none

    text = _decode(data, label)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        message = str(err)
        match = _TOML_POS_RE.search(message)
        if match is None:
            raise CiswitchError(f"invalid TOML: {message}", label) from err
        reason = message[: match.start()]
        if match.group(1) is None:
            last = max(1, len(text.rstrip().splitlines()))
            raise CiswitchError(f"invalid TOML: {reason} at end of file", label, last) from err
        raise CiswitchError(
            f"invalid TOML: {reason}", label, int(match.group(1)), int(match.group(2))
        ) from err


def _pyproject_table(data: bytes, label: str) -> dict[str, Any] | None:
    """``[tool.ciswitch]`` of a pyproject file, or ``None`` when it has none."""
    tool = _parse(data, label).get("tool")
    if not isinstance(tool, dict):
        return None
    table = tool.get("ciswitch")
    if table is None:
        return None
    if not isinstance(table, dict):
        raise CiswitchError(
            f"'tool.ciswitch' must be a table, not {_type_name(table)}", label,
            _key_line(_decode(data, label), "ciswitch", section="tool")
            or _key_line(_decode(data, label), "tool", section=None),
        )
    return table


def _type_name(value: object) -> str:
    names: dict[type, str] = {
        str: "a string", int: "an integer", float: "a float", bool: "a boolean",
        list: "an array", dict: "a table",
    }
    return names.get(type(value), f"a {type(value).__name__}")


_HEADER_RE = lazy_compile(r"\s*\[")


def _key_line(text: str, key: str, *, section: str | None) -> int | None:
    """Best-effort line of ``key = ...`` for error messages: among the top-level lines of a
    ``.ciswitch.toml`` (``section`` None) or inside the ``[tool.ciswitch]`` table."""
    key_re = re.compile(rf"\s*(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')\s*[=.]")
    inside = section is None
    for number, line in enumerate(text.splitlines(), start=1):
        if _HEADER_RE.match(line):
            header = line.strip().strip("[]").strip()
            if section is None:
                return None
            inside = header == section
            continue
        if inside and key_re.match(line):
            return number
    return None


class _Invalid(Exception):
    """A value that fails validation; turned into a CiswitchError naming file and key."""


def _code_list(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Invalid(f"must be an array of rule codes, not {_type_name(value)}")
    for code in value:
        if not _CODE_RE.fullmatch(code):
            raise _Invalid(
                f"has an invalid rule code {code!r} (expected CSW followed by three digits)"
            )
    return list(value)


def _ci_config(value: object) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"must be a string, not {_type_name(value)}")
    if not value.strip():
        raise _Invalid("must not be empty")
    if "://" in value or "@" in value:
        raise _Invalid(
            f"{value!r} is outside the repository; only a repository path can be linted"
        )
    try:
        return normalize(value)
    except CiswitchError as err:
        raise _Invalid(f"{value!r} escapes the repository") from err


def _globs(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Invalid(f"must be an array of glob strings, not {_type_name(value)}")
    for pattern in value:
        if not pattern.strip():
            raise _Invalid("must not contain an empty pattern")
        try:
            normalize(pattern)
        except CiswitchError as err:
            raise _Invalid(f"pattern {pattern!r} escapes the repository") from err
    return list(value)


def _stages_storage(value: object) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"must be a string, not {_type_name(value)}")
    if value not in STAGES_STORAGE_VALUES:
        raise _Invalid(f"must be \"local\" or \"remote\", not {value!r}")
    return value


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"must be true or false, not {_type_name(value)}")
    return value


def _address(value: object) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"must be a string, not {_type_name(value)}")
    from ciswitch.stages_address import address_problem

    problem = address_problem(value)
    if problem is not None:
        raise _Invalid(f"must be a stages storage address: {value!r} {problem}")
    return value


_KEYS: dict[str, tuple[str, Callable[[object], object]]] = {
    "select": ("select", _code_list),
    "ignore": ("ignore", _code_list),
    "ci-config": ("ci_config", _ci_config),
    "extra-files": ("extra_files", _globs),
    "stages-storage": ("stages_storage", _stages_storage),
    "stages-storage-address": ("stages_storage_address", _address),
    "strict": ("strict", _bool),
}


def _from_table(table: dict[str, Any], label: str, data: bytes, *, in_pyproject: bool) -> Config:
    section = "tool.ciswitch" if in_pyproject else None
    where = " in [tool.ciswitch]" if in_pyproject else ""
    config = Config(source=label, source_in_pyproject=in_pyproject)
    for key, value in table.items():
        line = None
        if key in ("select", "ignore"):
            found = _key_line(_decode(data, label), key, section=section)
            if found is not None:
                config.key_lines[key] = found
        if key not in _KEYS:
            line = _key_line(_decode(data, label), key, section=section)
            expected = ", ".join(_KEYS)
            raise CiswitchError(f"unknown key {key!r}{where} (expected one of {expected})",
                                label, line)
        attr, validate = _KEYS[key]
        try:
            setattr(config, attr, validate(value))
        except _Invalid as err:
            line = _key_line(_decode(data, label), key, section=section)
            raise CiswitchError(f"key {key!r}{where} {err}", label, line) from None
    return config
