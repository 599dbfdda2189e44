"""The text report, for people: each finding as ``path:line:col: CODE message`` (the message
names the jobs it affects) followed by the source line with the span underlined, then input
errors, then a summary.

The underline must sit under the right characters even when the line holds tabs, CJK or
combining characters (werf projects often carry Cyrillic and other non-ASCII text), so the
excerpt is laid out by display width, not by character count. Control characters are shown as
their Unicode pictures so that a hostile file cannot drive the terminal.
"""

from __future__ import annotations

import functools
import os
from typing import TextIO

from ciswitch.model import Finding, LintResult, Severity, not_checked_summary

TAB_WIDTH = 4

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_STYLE = {
    Severity.ERROR: "\x1b[1;31m",
    Severity.WARNING: "\x1b[1;33m",
    Severity.INFO: "\x1b[1;36m",
}
_GUTTER = "\x1b[1;34m"
_HELP = "\x1b[1;32m"


COLOR_MODES = ("auto", "always", "never")


def use_color(stream: TextIO, mode: str = "auto") -> bool:
    """Whether to colour what goes to ``stream``: ``always`` and ``never`` decide; ``auto``
    colours a terminal only, except that ``NO_COLOR`` (set to anything non-empty, as
    https://no-color.org asks) turns colours off and ``FORCE_COLOR`` (non-empty, not ``0``)
    turns them on, even into a pipe. ``NO_COLOR`` wins when both are set."""
    if mode == "always":
        return True
    if mode == "never":
        return False
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR", "0") not in ("", "0"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


@functools.lru_cache(maxsize=4096)
def char_width(char: str) -> int:
    """Terminal cells taken by one character (tabs are handled by the caller). The character
    database is loaded on the first call: most reports are ASCII (:func:`layout` calls this only
    for a line that is not)."""
    import unicodedata

    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def layout(line: str) -> tuple[str, list[int]]:
    """The line as displayed, and the display column where each character (and the end of the
    line, at index ``len(line)``) starts."""
    if line.isascii() and line.isprintable():
        return line, list(range(len(line) + 1))  # one cell per character (most lines)
    shown: list[str] = []
    starts: list[int] = []
    col = 0
    for char in line:
        starts.append(col)
        if char == "\t":
            width = TAB_WIDTH - col % TAB_WIDTH
            shown.append(" " * width)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            width = 1
            shown.append(chr(0x2400 + ord(char)) if ord(char) < 0x20 else "\u2421")
        else:
            width = char_width(char)
            shown.append(char)
        col += width
    starts.append(col)
    return "".join(shown), starts


def underline(finding: Finding) -> tuple[str, int, int]:
    """The displayed source line, and the display columns ``[start, end)`` to underline."""
    line = finding.source_line.rstrip("\r\n")
    first = min(max(finding.begin.column - 1, 0), len(line))
    if finding.finish.line == finding.begin.line:
        last = min(max(finding.finish.column - 1, first), len(line))
    else:
        last = len(line)  # the span goes on below: underline to the end of this line
    if line.isascii() and line.isprintable():
        return line, first, max(last, first + 1)  # one cell per character (most lines)
    shown, starts = layout(line)
    start, end = starts[first], starts[last]
    return shown, start, max(end, start + 1)


class _Painter:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, style: str, text: str) -> str:
        return f"{style}{text}{_RESET}" if self.color and text else text


def render_finding(finding: Finding, paint: _Painter) -> str:
    head = (f"{finding.path}:{finding.begin.line}:{finding.begin.column}:" if finding.in_file
            else f"{finding.path}:")
    style = _STYLE[finding.severity]
    out = f"{paint(_BOLD, head)} {paint(style, finding.code)} {finding.message}\n"
    if finding.source_line.strip():
        number = str(finding.begin.line)
        pad = " " * len(number)
        shown, start, end = underline(finding)
        bar = paint(_GUTTER, "|")
        out += f"{pad} {bar}\n"
        out += f"{paint(_GUTTER, number)} {bar} {shown}\n"
        out += f"{pad} {bar} {' ' * start}{paint(style, '^' * (end - start))}\n"
        eq = paint(_GUTTER, "=")
        if finding.fix is not None:
            label = "help" if finding.fix.safe else "help (unsafe fix, needs --unsafe-fixes)"
            what = finding.fix.description or "ciswitch fix can correct this"
            out += f"{pad} {eq} {paint(_HELP, label)}: {what}\n"
        elif finding.unfixable_reason:
            out += f"{pad} {eq} {paint(_BOLD, 'note')}: not fixable: {finding.unfixable_reason}\n"
    return out


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def summary(result: LintResult, *, listed: bool = False) -> str:
    """The last line of every text report: findings, then the places not checked (``listed``:
    the report shows them above; otherwise ``-v`` does), then input errors."""
    findings = result.findings
    if findings:
        fixable = sum(1 for f in findings if f.fixable)
        files = len({f.path for f in findings if f.in_file})
        settings = len({f.path for f in findings if not f.in_file})
        places = [_plural(files, "file")] if files else []
        if settings:
            places.append(f"{_plural(settings, 'CI/CD variable')} of GitLab's settings")
        line = (f"Found {_plural(len(findings), 'finding')} ({fixable} fixable) "
                f"in {' and '.join(places)}.")
    elif result.files:
        line = f"No findings in {_plural(len(result.files), 'file')}."
    else:
        line = "No findings."
    gaps = not_checked_summary(result.not_checked)
    if gaps:
        where = "listed above" if listed else "-v lists them"
        line = f"{line.removesuffix('.')}; {gaps}: {where}."
    if result.problems:
        line += f" {_plural(len(result.problems), 'error')} prevented a complete check."
    return line


def render_text(
    result: LintResult, *, color: bool = False, verbose: bool = False, strict: bool = False
) -> str:
    """Findings, input errors, (with ``verbose`` or ``strict``) the places not checked and
    (with ``verbose``) the notices, then the summary line."""
    paint = _Painter(color)
    blocks = [render_finding(f, paint) for f in sorted(result.findings, key=lambda f: f.sort_key)]
    out = "\n".join(blocks)
    if blocks:
        out += "\n"
    for problem in result.problems:
        out += paint(_STYLE[Severity.ERROR], problem.one_line()) + "\n"
    listed = verbose or strict
    if listed:
        style = _STYLE[Severity.ERROR] if strict else _BOLD
        for entry in sorted(result.not_checked, key=lambda e: e.sort_key):
            out += paint(style, entry.one_line()) + "\n"
    if verbose:
        for notice in result.notices:
            where = notice.path if notice.line is None else f"{notice.path}:{notice.line}"
            out += f"{where}: note: {notice.message}\n"
    out += paint(_BOLD, summary(result, listed=listed and bool(result.not_checked))) + "\n"
    return out
