"""Suppression comments: ``# ciswitch: ignore[CSW001]`` and friends.

They are recognised on the text of a file, line by line, not through the YAML or shell parse:
the same comment then works at the end of a YAML line, on a shell line inside a block scalar,
in a ``.sh`` script and in a Python helper alike, and needs no knowledge of where a finding came
from beyond its path and line. Placements:

* at the end of the finding's line: ``- werf build -s :local  # ciswitch: ignore[CSW001]``;
* alone on the line directly above the finding (a comment-only line);
* ``# ciswitch: ignore-file`` (optionally ``ignore-file[CSW001]``) on a comment-only line
  anywhere: the whole file.

``ignore`` without a list means every rule. A suppression that suppresses nothing is itself
reported by a rule of its own (:mod:`ciswitch.rules.csw100_unused_suppression`), with a fix
that removes it, because stale suppressions hide the next real ``:local`` that lands on the
same line.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from ciswitch.model import Finding
from ciswitch.patterns import lazy_compile
from ciswitch.record import Record

_LINE_BREAK_RE = lazy_compile(r"(\r?\n)")
_DIRECTIVE_RE = lazy_compile(
    r"#[ \t]*ciswitch[ \t]*:[ \t]*ignore(?P<file>-file)?"
    r"(?:[ \t]*\[(?P<codes>[^\]\r\n]*)\])?(?=$|[\s#:,.;)-])",
    re.IGNORECASE,
)
_CODE_ITEM_RE = lazy_compile(r"[^,\s]+")

#: "ciswitch" as ``re.IGNORECASE`` matches it, each letter written with what that flag takes
#: for it (the dotted and dotless i and the long s too): a pattern starting with a class of
#: characters is searched a third faster than one matched without case
NAMES_CISWITCH = lazy_compile("[cC][iI\u0130\u0131][sS\u017f][wW][iI\u0130\u0131][tT][cC][hH]")


class Directive(Record):
    """One suppression comment found in a file."""

    path: str
    line: int
    #: offset of the start of the directive's line (whose text is ``source_line``)
    line_start: int
    #: offsets of the directive (from its ``#`` to the end of its explanation)
    start: int
    end: int
    #: the listed codes with their offsets; ``None`` for a bare ``ignore`` (all rules)
    codes: list[tuple[str, int, int]] | None
    #: offsets of the text between the brackets
    list_start: int
    list_end: int
    file_level: bool
    own_line: bool
    #: what removing the whole directive takes away (a whole line when it stands alone)
    remove_start: int
    remove_end: int
    source_line: str
    #: a file-level directive written after code: it cannot apply to anything
    misplaced: bool
    used: set[str]
    used_all: bool

    def __init__(self, path: str, line: int, line_start: int, start: int, end: int,
                 codes: list[tuple[str, int, int]] | None, list_start: int, list_end: int,
                 file_level: bool, own_line: bool, remove_start: int, remove_end: int,
                 source_line: str, misplaced: bool = False, used: set[str] | None = None,
                 used_all: bool = False) -> None:
        self.path = path
        self.line = line
        self.line_start = line_start
        self.start = start
        self.end = end
        self.codes = codes
        self.list_start = list_start
        self.list_end = list_end
        self.file_level = file_level
        self.own_line = own_line
        self.remove_start = remove_start
        self.remove_end = remove_end
        self.source_line = source_line
        self.misplaced = misplaced
        self.used = set() if used is None else used
        self.used_all = used_all

    def matches(self, code: str) -> bool:
        if self.misplaced:
            return False
        return self.codes is None or any(c == code for c, _, _ in self.codes)

    def mark(self, code: str) -> None:
        if self.codes is None:
            self.used_all = True
        else:
            self.used.add(code)


class _Line(Record):
    number: int
    start: int  # offset of the first character
    next_start: int  # offset of the next line
    text: str
    comment: int | None  # offset inside ``text`` of the ``#`` that starts a comment

    def __init__(self, number: int, start: int, next_start: int, text: str,
                 comment: int | None) -> None:
        self.number = number
        self.start = start
        self.next_start = next_start
        self.text = text
        self.comment = comment

    @property
    def comment_only(self) -> bool:
        return self.comment is not None and not self.text[: self.comment].strip()


def match_suppressions(
    findings: list[Finding], texts: dict[str, str], *, exempt: str
) -> tuple[list[Finding], list[tuple[str, Directive]]]:
    """Drop the findings that a suppression comment covers.

    ``texts`` maps repository-relative paths to the decoded text (BOM removed) of every file
    that was read: suppressions in files without findings are checked for use too. Returns
    the findings that remain and every directive found, by path, marked with what it
    suppressed. Findings of the rule ``exempt`` (the one reviewing suppressions) are never
    suppressed.
    """
    # Only a text that names ciswitch can hold a directive: skipping the line scan of the
    # others saves a tenth of a big file's lint.
    files = {
        path: _scan(path, text) for path, text in texts.items() if NAMES_CISWITCH.search(text)
    }
    kept: list[Finding] = []
    for finding in findings:
        scanned = files.get(finding.path)
        if scanned is None or finding.code == exempt:
            kept.append(finding)
            continue
        directive = _covering(finding, scanned)
        if directive is None:
            kept.append(finding)
        else:
            directive.mark(finding.code)
    found = [(path, d) for path, directives in files.items() for d in directives.values()]
    return kept, found


def _covering(finding: Finding, directives: dict[int, Directive]) -> Directive | None:
    """The directive that suppresses ``finding``: its own line's first, then the line above,
    then a file-level one."""
    candidates: list[Directive] = []
    for number in dict.fromkeys((finding.begin.line, finding.finish.line)):
        own = directives.get(number)
        if own is not None and not own.own_line:
            candidates.append(own)
    above = directives.get(finding.begin.line - 1)
    if above is not None and above.own_line and not above.file_level:
        candidates.append(above)
    candidates.extend(d for d in directives.values() if d.file_level)
    for directive in candidates:
        if directive.matches(finding.code):
            return directive
    return None


def unused_codes(
    directive: Directive, enabled: Collection[str] | None
) -> list[tuple[str, int, int]] | None:
    """The listed codes a directive did not use (codes of rules that did not run excepted),
    ``[]`` for a bare ``ignore`` that suppressed nothing, None when nothing is unused."""
    if directive.codes is None:
        return None if directive.used_all else []
    unused = [
        item for item in directive.codes
        if item[0] not in directive.used and (enabled is None or item[0] in enabled
                                              or not looks_like_code(item[0]))
    ]
    return unused or None


def list_text(directive: Directive) -> str:
    """The text between the brackets of a directive's code list."""
    return directive.source_line[
        directive.list_start - directive.line_start:directive.list_end - directive.line_start
    ]


def looks_like_code(text: str) -> bool:
    return re.fullmatch(r"CSW\d{3}", text) is not None


def _scan(path: str, text: str) -> dict[int, Directive]:
    """The directives of ``text`` keyed by line number (the first one of a line counts).

    Lines end at ``\n`` (a preceding ``\r`` belongs to the line break), as in the positions
    of findings."""
    directives: dict[int, Directive] = {}
    offset = 0
    for number, raw in enumerate(_LINE_BREAK_RE.split(text)[::2], start=1):
        body = raw
        brk = _LINE_BREAK_RE.match(text, offset + len(body))
        next_start = offset + len(body) + (len(brk.group()) if brk else 0)
        line = _Line(number, offset, next_start, body, comment_start(body))
        offset = next_start
        directive = _directive(path, line)
        if directive is not None:
            directives[number] = directive
    return directives


def _directive(path: str, line: _Line) -> Directive | None:
    if line.comment is None:
        return None
    match = _DIRECTIVE_RE.search(line.text, line.comment)
    if match is None:
        return None
    # A directive must start a comment of its own: "# text # ciswitch: ignore" is fine,
    # "# see ciswitch: ignore docs" is not a directive.
    hash_at = match.start()
    if hash_at != line.comment and not line.text[hash_at - 1].isspace():
        return None
    end = _directive_end(line.text, match.end())
    own_line = line.comment_only
    file_level = match.group("file") is not None
    if own_line and hash_at == line.comment and not line.text[end:].strip():
        remove_start, remove_end = line.start, line.next_start
    else:
        cut = hash_at
        while cut > 0 and line.text[cut - 1] in " \t":
            cut -= 1
        if cut == 0:  # nothing but indentation before it: keep the indentation
            cut = hash_at
        remove_start, remove_end = line.start + cut, line.start + end
    codes: list[tuple[str, int, int]] | None = None
    list_start = list_end = line.start + match.end()
    if match.group("codes") is not None:
        base = line.start + match.start("codes")
        list_start, list_end = base, line.start + match.end("codes")
        codes = [
            (item.group().upper(), base + item.start(), base + item.end())
            for item in _CODE_ITEM_RE.finditer(match.group("codes"))
        ]
    return Directive(
        path=path, line=line.number, line_start=line.start, start=line.start + hash_at,
        end=line.start + end,
        codes=codes, list_start=list_start, list_end=list_end, file_level=file_level,
        own_line=own_line, remove_start=remove_start, remove_end=remove_end,
        source_line=line.text, misplaced=file_level and not own_line,
    )


def _directive_end(text: str, pos: int) -> int:
    """Where the directive's explanation ends: the end of the line, or before the whitespace
    that precedes a further ``#`` comment."""
    nxt = re.search(r"[ \t]+#", text[pos:])
    if nxt is None:
        return len(text.rstrip(" \t"))
    return pos + nxt.start()


def comment_start(line: str) -> int | None:
    """The index of the ``#`` that starts a comment on ``line``, or ``None``.

    A ``#`` starts a comment at the start of the line or after whitespace, outside quotes
    (YAML and shell agree on this). A quote that is never closed on the line is taken
    literally, so an apostrophe in prose (``don't``) does not hide the comment after it.
    """
    i = 0
    n = len(line)
    while i < n:
        char = line[i]
        if char == "#" and (i == 0 or line[i - 1] in " \t"):
            return i
        if char in "'\"":
            close = _closing_quote(line, i)
            if close is not None:
                i = close + 1
                continue
        elif char == "\\" and i + 1 < n:
            i += 2
            continue
        i += 1
    return None


def _closing_quote(line: str, start: int) -> int | None:
    quote = line[start]
    i = start + 1
    while i < len(line):
        if quote == '"' and line[i] == "\\":
            i += 2
            continue
        if line[i] == quote:
            return i
        i += 1
    return None
