"""Project configuration: ``.ciswitch.toml`` at the repository root, else ``[tool.ciswitch]``
in ``pyproject.toml``; ``--config FILE`` overrides discovery.

A configuration mistake must never be silently ignored (a misspelt ``ignore`` would otherwise
re-enable a rule the team switched off, or a wrong ``ci-config`` would lint nothing), so every
unknown key, wrong type or malformed rule code is a :class:`CiswitchError` that names the file
and the key. The file also records the project's switch state (``stages-storage = "remote"``),
written by ``ciswitch branch`` through :func:`render_marker`, which edits the text in place so
that the team's own lines and comments stay exactly as they were.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ciswitch.errors import CiswitchError
from ciswitch.workspace import Workspace, normalize

CONFIG_FILE = ".ciswitch.toml"
PYPROJECT_FILE = "pyproject.toml"
DEFAULT_CI_CONFIG = ".gitlab-ci.yml"
STAGES_STORAGE_VALUES = ("local", "remote")

_CODE_RE = re.compile(r"CSW\d{3}")


@dataclass
class Config:
    """The settings that shape one lint or fix run."""

    #: rule codes to run; ``None`` means every rule
    select: list[str] | None = None
    #: rule codes never reported
    ignore: list[str] = field(default_factory=list)
    #: repository-relative path of the CI configuration (GitLab's "custom CI configuration path")
    ci_config: str = DEFAULT_CI_CONFIG
    #: globs of further files to lint (scripts that no job names literally)
    extra_files: list[str] = field(default_factory=list)
    #: ``"remote"`` once ``ciswitch branch`` marked the project as switched
    stages_storage: str | None = None
    stages_storage_address: str | None = None
    #: any place not checked (an include from another project, an unreadable script) fails
    #: the lint (exit 1), as ``--strict`` does
    strict: bool = False
    #: the file the settings came from (repository-relative when discovered), ``None`` for defaults
    source: str | None = None
    #: the settings came from ``[tool.ciswitch]`` of a pyproject file
    source_in_pyproject: bool = False
    #: the line of each key in the file, where it could be found (for error messages)
    key_lines: dict[str, int] = field(default_factory=dict)

    def is_enabled(self, code: str) -> bool:
        """Whether findings of rule ``code`` are reported under this configuration."""
        if code in self.ignore:
            return False
        return self.select is None or code in self.select


def load_config(ws: Workspace, explicit: Path | None = None) -> Config:
    """Read the configuration for the repository behind ``ws``.

    ``explicit`` (``--config FILE``) is a path on disk, read as a ``pyproject.toml`` when it is
    named so and as a ``.ciswitch.toml`` otherwise. Without it, ``.ciswitch.toml`` at the root
    wins over ``[tool.ciswitch]`` in ``pyproject.toml``; with neither, the defaults apply.
    """
    if explicit is not None:
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


_TOML_POS_RE = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")


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


_HEADER_RE = re.compile(r"\s*\[")


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


# --------------------------------------------------------------------------------------------
# The switch marker written by ``ciswitch branch``


_MARKER_HEADER = (
    "# ciswitch settings. `ciswitch branch` records here that this project's werf stages\n"
    "# storage is remote, so that `ciswitch lint` treats any return to :local as an error.\n"
)


def render_marker(existing: str | None, address: str | None) -> str:
    """The text of ``.ciswitch.toml`` with ``stages-storage = "remote"`` (and
    ``stages-storage-address`` when ``address`` is given) set at the top level.

    Only the values of those keys change, or their lines are added after the last top-level
    setting; every other character of ``existing`` is kept, so the commit that marks the
    switch shows a one- or two-line diff. An existing address is left alone when ``address``
    is None. Raises :class:`CiswitchError` when ``existing`` is not valid TOML.
    """
    if existing is not None and existing.startswith("\ufeff"):
        return "\ufeff" + render_marker(existing[1:], address)
    wanted: dict[str, str] = {"stages-storage": _toml_string("remote")}
    if address is not None:
        wanted["stages-storage-address"] = _toml_string(address)
    if existing is None or not existing.strip():
        prefix = existing or ""
        newline = "\r\n" if "\r\n" in prefix else "\n"
        body = _MARKER_HEADER + "".join(f"{k} = {v}\n" for k, v in wanted.items())
        return prefix + body.replace("\n", newline)

    _parse(existing.encode("utf-8"), CONFIG_FILE)
    statements = _scan_statements(existing)
    newline = "\r\n" if "\r\n" in existing else "\n"
    replacements: list[tuple[int, int, str]] = []
    missing: list[str] = []
    for key, value in wanted.items():
        stmt = next((s for s in statements if s.top_level and s.key == key), None)
        if stmt is None:
            missing.append(f"{key} = {value}")
        elif existing[stmt.value_start:stmt.value_end] != value:
            replacements.append((stmt.value_start, stmt.value_end, value))
    if missing:
        insert_at, text = _insertion(existing, statements, newline)
        lines = newline.join(missing)
        replacements.append((insert_at, insert_at, text.format(lines=lines)))
    result = existing
    for start, end, value in sorted(replacements, reverse=True):
        result = result[:start] + value + result[end:]
    parsed = _parse(result.encode("utf-8"), CONFIG_FILE)
    assert parsed.get("stages-storage") == "remote"
    return result


_TOOL_HEADER_RE = re.compile(r"\s*\[\s*tool\s*\.\s*ciswitch\s*\]\s*")


def render_pyproject_marker(existing: str, address: str | None) -> str | None:
    """The text of ``pyproject.toml`` with ``stages-storage = "remote"`` (and
    ``stages-storage-address``) set in its ``[tool.ciswitch]`` table, every other character
    kept; None when the settings are not under a plain ``[tool.ciswitch]`` header (dotted
    keys or an inline table): the user then adds the lines by hand."""
    if existing.startswith("\ufeff"):
        inner = render_pyproject_marker(existing[1:], address)
        return None if inner is None else "\ufeff" + inner
    _parse(existing.encode("utf-8"), PYPROJECT_FILE)
    wanted: dict[str, str] = {"stages-storage": _toml_string("remote")}
    if address is not None:
        wanted["stages-storage-address"] = _toml_string(address)
    statements = _scan_statements(existing)
    header: _Statement | None = None
    inside: list[_Statement] = []
    in_table = False
    for stmt in statements:
        if stmt.header:
            in_table = _TOOL_HEADER_RE.fullmatch(existing[stmt.start:stmt.value_end]) is not None
            if in_table:
                header = stmt
            continue
        if in_table:
            inside.append(stmt)
    if header is None:
        return None
    newline = "\r\n" if "\r\n" in existing else "\n"
    replacements: list[tuple[int, int, str]] = []
    missing: list[str] = []
    for key, value in wanted.items():
        found = next((s for s in inside if s.key == key), None)
        if found is None:
            missing.append(f"{key} = {value}")
        elif existing[found.value_start:found.value_end] != value:
            replacements.append((found.value_start, found.value_end, value))
    if missing:
        keyed = [s for s in inside if s.key is not None]
        end = (keyed[-1] if keyed else header).end
        if end > 0 and existing[end - 1] == "\r":
            end -= 1
        replacements.append((end, end, newline + newline.join(missing)))
    result = existing
    for start, end, value in sorted(replacements, reverse=True):
        result = result[:start] + value + result[end:]
    table = _pyproject_table(result.encode("utf-8"), PYPROJECT_FILE)
    if table is None or table.get("stages-storage") != "remote":
        return None
    return result


def _toml_string(value: str) -> str:
    """A TOML basic string for ``value``."""
    out = ['"']
    for char in value:
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


@dataclass(frozen=True)
class _Statement:
    """One logical TOML line: a ``key = value`` pair (possibly spanning lines) or a header."""

    start: int
    end: int  # offset of the newline that ends it (or len(text))
    key: str | None
    value_start: int
    value_end: int
    top_level: bool
    header: bool


def _insertion(text: str, statements: list[_Statement], newline: str) -> tuple[int, str]:
    """Where new top-level lines go, and a template (``{lines}``) for the inserted text."""
    top = [s for s in statements if s.top_level and s.key is not None]
    if top:
        end = top[-1].end
        if end > 0 and text[end - 1] == "\r":
            end -= 1  # keep a CRLF pair together
        return end, newline + "{lines}"
    header = next((s for s in statements if s.header), None)
    if header is not None:
        return header.start, "{lines}" + newline + newline
    if text.endswith("\n"):
        return len(text), "{lines}" + newline
    return len(text), newline + "{lines}" + newline


_BARE_KEY_RE = re.compile(r"[A-Za-z0-9_-]+")


def _scan_statements(text: str) -> list[_Statement]:
    """Split valid TOML text into logical statements, tracking strings and brackets so that a
    multi-line array or string is one statement and a ``[`` inside it is not a header."""
    statements: list[_Statement] = []
    pos = 0
    top_level = True
    n = len(text)
    while pos < n:
        line_end = text.find("\n", pos)
        if line_end < 0:
            line_end = n
        stripped_start = pos
        while stripped_start < line_end and text[stripped_start] in " \t":
            stripped_start += 1
        first = text[stripped_start] if stripped_start < line_end else ""
        if first in ("", "#", "\r"):
            pos = line_end + 1
            continue
        if first == "[":
            end = _value_end(text, stripped_start)
            statements.append(_Statement(pos, _line_end(text, end), None, end, end, False, True))
            top_level = False
            pos = _line_end(text, end) + 1
            continue
        key, after_key = _read_key(text, stripped_start)
        eq = after_key
        while eq < n and text[eq] in " \t":
            eq += 1
        value_start = eq + 1
        while value_start < n and text[value_start] in " \t":
            value_start += 1
        value_end = _value_end(text, value_start)
        end = _line_end(text, value_end)
        statements.append(
            _Statement(pos, end, key, value_start, value_end, top_level, False)
        )
        pos = end + 1
    return statements


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


def _read_key(text: str, pos: int) -> tuple[str | None, int]:
    """The key (``None`` for dotted keys, which never name our settings) and where it ends."""
    parts: list[str] = []
    while True:
        if text[pos] in "\"'":
            quote = text[pos]
            close = text.index(quote, pos + 1)
            parts.append(text[pos + 1:close])
            pos = close + 1
        else:
            match = _BARE_KEY_RE.match(text, pos)
            assert match is not None
            parts.append(match.group())
            pos = match.end()
        probe = pos
        while text[probe] in " \t":
            probe += 1
        if text[probe] != ".":
            return (parts[0] if len(parts) == 1 else None), pos
        pos = probe + 1
        while text[pos] in " \t":
            pos += 1


def _value_end(text: str, pos: int) -> int:
    """The offset just past the value (or header) that starts at ``pos``; stops before
    trailing whitespace and comments on the value's last line."""
    depth = 0
    n = len(text)
    last = pos
    while pos < n:
        char = text[pos]
        if char in "\"'":
            pos = last = _string_end(text, pos)
            continue
        if char == "#":
            pos = _line_end(text, pos)
            continue
        if char == "\n":
            if depth == 0:
                return last
            pos += 1
            continue
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        if char not in " \t\r":
            last = pos + 1
        pos += 1
    return last


def _string_end(text: str, pos: int) -> int:
    """The offset just past the TOML string starting at ``pos`` (any of the four kinds)."""
    quote = text[pos]
    escapes = quote == '"'
    if text.startswith(quote * 3, pos):
        pos += 3
        while not text.startswith(quote * 3, pos):
            pos += 2 if escapes and text[pos] == "\\" else 1
        pos += 3
        for _ in range(2):  # a closing run may be up to five quotes long
            if text.startswith(quote, pos):
                pos += 1
        return pos
    pos += 1
    while text[pos] != quote:
        pos += 2 if escapes and text[pos] == "\\" else 1
    return pos + 1
