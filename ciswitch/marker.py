"""The switch marker written by ``ciswitch branch``: ``stages-storage = "remote"`` (and its
address) set in ``.ciswitch.toml`` or ``[tool.ciswitch]`` of ``pyproject.toml`` by editing the
text in place, so that the team's own lines and comments stay exactly as they were
(:mod:`ciswitch.config` reads it back).
"""

from __future__ import annotations

import re

from ciswitch.config import CONFIG_FILE, PYPROJECT_FILE, _parse, _pyproject_table
from ciswitch.record import Record, setf

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


class _Statement(Record, frozen=True):
    """One logical TOML line: a ``key = value`` pair (possibly spanning lines) or a header."""

    start: int
    end: int  # offset of the newline that ends it (or len(text))
    key: str | None
    value_start: int
    value_end: int
    top_level: bool
    header: bool

    def __init__(self, start: int, end: int, key: str | None, value_start: int,
                 value_end: int, top_level: bool, header: bool) -> None:
        setf(self, "start", start)
        setf(self, "end", end)
        setf(self, "key", key)
        setf(self, "value_start", value_start)
        setf(self, "value_end", value_end)
        setf(self, "top_level", top_level)
        setf(self, "header", header)


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
