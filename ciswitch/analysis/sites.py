"""Sites: the stretches of text the replay plays, and how each one is located, mapped, edited
and verified.

A :class:`Site` is a YAML scalar holding shell (:class:`YamlScalarSite`), a whole shell script
(:class:`ShellFileSite`) or a whole Python helper (:class:`PythonFileSite`). Each one says which
werf commands and assignments its text holds (``commands``), where a character of that text is
in the file (``to_file``), how a flag or an assignment is removed or pointed elsewhere
(``flag_fix``, ``assignment_fix``) and how a fixed file of its kind is checked (``file_kind``,
read by :mod:`ciswitch.verify`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ciswitch.edits import (
    NoFix,
    line_end,
    line_start,
    only_space_before,
    rest_is_trailing,
    tidy_range,
)
from ciswitch.model import LOCAL, Edit, FileKind, Fix
from ciswitch.source import SourceFile
from ciswitch.yaml.extents import ExtentMap

if TYPE_CHECKING:
    from ciswitch.scripts.python import PythonReading
    from ciswitch.shell import Assignment, FlagUse, ShellReading, WerfCall
    from ciswitch.shell.model import CommandString


class Site(Protocol):
    """A stretch of text that runs: what it holds, where, and how it is edited."""

    file: SourceFile
    text: str

    @property
    def key(self) -> tuple[str, int]:
        """(path, node identity or -1 for a whole file): one site however many jobs run it."""
        ...

    @property
    def file_kind(self) -> FileKind:
        """How a fixed file holding this site is verified."""
        ...

    @property
    def runs_files(self) -> bool:
        """Whether the text can run other files of the repository (shell can)."""
        ...

    @property
    def worth_parsing(self) -> bool:
        """Only texts that mention werf, its variables or ``:local`` are parsed at all."""
        ...

    def commands(self) -> ShellReading:
        """The werf calls and assignments of the text (offsets into ``text``)."""
        ...

    def to_file(self, start: int, end: int) -> tuple[int, int]:
        """Map a range of ``text`` to a range of the file's text (``SpanError`` when a YAML
        scalar cannot be mapped)."""
        ...

    def anchor(self) -> int:
        """The file offset a place falls back to when its range cannot be mapped."""
        ...

    def flag_fix(self, flag: FlagUse, call: WerfCall, to: str | None) -> Fix:
        """Remove a flag and its value, or point it at ``to`` (:class:`NoFix` with why not)."""
        ...

    def assignment_fix(self, assignment: Assignment, to: str | None) -> Fix:
        """Remove an assignment, or set it to ``to`` (:class:`NoFix` with why not)."""
        ...


def _first_analyse(text: str) -> ShellReading:
    """The shell reader (it loads tree-sitter) on first use, put in :data:`_analyse`'s place:
    an import statement costs 0.6 us even when loaded, and a big file's sites ask thousands
    of times."""
    global _analyse
    from ciswitch.shell import analyse as _analyse
    return _analyse(text)


_analyse: Callable[[str], ShellReading] = _first_analyse


def mentions_werf(text: str) -> bool:
    return "werf" in text or "WERF_" in text or LOCAL in text


class YamlScalarSite:
    """A YAML scalar whose value is shell (a ``script:`` line, or a value a rule points)."""

    file_kind = FileKind.YAML
    runs_files = True
    # a big file has tens of thousands of sites: no per-instance dict
    __slots__ = ("_extents", "_reading", "file", "key", "node", "parent", "text")

    def __init__(self, file: SourceFile, node: Any, text: str) -> None:
        self.file = file
        self.node = node
        self.text = text
        #: (path, node identity): one site however many jobs run it (one tuple, kept once)
        self.key: tuple[str, int] = (file.path, id(node))
        self._reading: ShellReading | None = None
        #: the YAML sequence holding this scalar as an item, when it is one
        self.parent: Any = None
        #: where each value character comes from in the file (a compact map: a list of tuples
        #: costs 16 bytes a character and more)
        self._extents: ExtentMap | None = None

    @property
    def worth_parsing(self) -> bool:
        return mentions_werf(self.text)

    def commands(self) -> ShellReading:
        if self._reading is None:
            self._reading = _analyse(self.text)
        return self._reading

    def to_file(self, start: int, end: int) -> tuple[int, int]:
        extents = self._extents
        if extents is None:
            extents = self._extents = ExtentMap.of_text(self.file.text, self.node)
        size = len(extents)
        if start == end:
            if start < size:
                pos = extents.start(start)
            else:
                pos = extents.end(size - 1) if size else int(self.node.start_mark.index)
            return pos, pos
        if not 0 <= start < end <= size:
            raise ValueError(f"value range {start}..{end} is empty or outside 0..{size}")
        return extents.start(start), extents.end(end - 1)

    def anchor(self) -> int:
        return int(self.node.start_mark.index)

    def text_edit(self, start: int, end: int, replacement: str) -> Edit:
        """The file edit that replaces ``text[start:end]`` (shell text) by ``replacement``."""
        return _shell_edit(self, self.node.style, start, end, replacement)

    def flag_fix(self, flag: FlagUse, call: WerfCall, to: str | None) -> Fix:
        if to is None and not (self.text[: flag.start] + self.text[flag.end :]).strip():
            # The flag is the whole value (a variable of werf arguments): an empty string,
            # as a bare empty value would read as null.
            start, end = int(self.node.start_mark.index), int(self.node.end_mark.index)
            removed = _words(self.text)
            return Fix((Edit(self.file.path, start, end, '""'),), True, "remove the flag", removed)
        return _shell_flag_fix(self, self.node.style, flag, call, to)

    def assignment_fix(self, assignment: Assignment, to: str | None) -> Fix:
        from ciswitch.shell import assignment_removal

        if to is not None:
            return _shell_assignment_to(self, self.node.style, assignment, to)
        start, end, repl = assignment_removal(self.text, assignment)
        removed_text = self.text[start:end]
        if self.text.strip() == removed_text.strip() and repl.strip() == "":
            try:
                return Fix((self._item_edit(),), True, "remove the list item", _words(self.text))
            except NoFix:
                pass
            # the only item of its list, or one whose line cannot simply go (it shares its
            # line, spans lines, or is the whole script): it becomes the no-op ``true`` (a
            # script list may not be empty), quoted when plain (a plain ``true`` is a YAML
            # boolean)
            start = self.anchor()
            if not self.node.style:  # the whole plain scalar, over all its lines
                edit = Edit(self.file.path, start, self._end, "'true'")
                return Fix((edit,), True, "replace the only item by true", _words(self.text),
                           ("true",))
            return _assignment_removal_fix(
                self, self.node.style, assignment.statement_start, assignment.statement_end,
                "true",
            )
        return _assignment_removal_fix(self, self.node.style, start, end, repl)

    def replace_local(self, to: str, what: str) -> Fix:
        """Point the ``:local`` of this scalar's value at ``to``."""
        index = self.text.find(LOCAL)
        if index < 0:
            raise NoFix(f"the value is {self.text!r}, set elsewhere")
        return _replacement_fix(self, self.node.style, index, index + len(LOCAL), to, what)

    @property
    def _end(self) -> int:
        return int(self.node.end_mark.index)

    def _item_edit(self) -> Edit:
        """Remove a whole one-line YAML list item holding only the assignment."""
        text = self.file.text
        node = self.node
        parent = self.parent
        start = int(node.start_mark.index)
        end = int(node.end_mark.index)
        if parent is None or getattr(parent, "flow_style", False):
            raise NoFix("the assignment is the whole script; remove it by hand")
        if len(parent.value) < 2:
            raise NoFix("it is the only command of its list; remove the list by hand")
        head = text[line_start(text, start) : start]
        if not re.fullmatch(r"[ \t]*-[ \t]+", head) or "\n" in text[start:end]:
            raise NoFix("the list item shares its line; remove it by hand")
        if not rest_is_trailing(text, end):
            raise NoFix("the list item shares its line; remove it by hand")
        return Edit(self.file.path, line_start(text, start), line_end(text, end), "")


class ShellFileSite:
    """A whole shell script a job runs (or one named on the command line)."""

    file_kind = FileKind.SHELL
    runs_files = True

    def __init__(self, file: SourceFile) -> None:
        self.file = file
        self.text = file.text
        self._reading: ShellReading | None = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.file.path, -1)

    @property
    def worth_parsing(self) -> bool:
        return mentions_werf(self.text)

    def commands(self) -> ShellReading:
        if self._reading is None:
            from ciswitch.shell import analyse

            self._reading = analyse(self.text)
        return self._reading

    def to_file(self, start: int, end: int) -> tuple[int, int]:
        return start, end

    def anchor(self) -> int:
        return 0

    def text_edit(self, start: int, end: int, replacement: str) -> Edit:
        """The file edit that replaces ``text[start:end]`` by ``replacement``."""
        return _shell_edit(self, None, start, end, replacement)

    def flag_fix(self, flag: FlagUse, call: WerfCall, to: str | None) -> Fix:
        return _shell_flag_fix(self, None, flag, call, to)

    def assignment_fix(self, assignment: Assignment, to: str | None) -> Fix:
        from ciswitch.shell import assignment_removal

        if to is not None:
            return _shell_assignment_to(self, None, assignment, to)
        start, end, repl = assignment_removal(self.text, assignment)
        return _assignment_removal_fix(self, None, start, end, repl)


class CommandStringSite:
    """The string of ``bash -c '...'`` inside another shell site, read as shell of its own.

    Its offsets are those of the string's value; :attr:`string` says where each value
    character is written in the enclosing site's text, so places map back to the exact file
    characters and a fix is written back in the string's own quoting. A fix is proven where
    it is made: the enclosing text, changed, must hold a command string whose value is the
    inner text changed the same way.
    """

    runs_files = True

    def __init__(self, parent: ShellTextSite, string: CommandString) -> None:
        self.parent = parent
        self.string = string
        self.file: SourceFile = parent.file
        self.text: str = string.text
        self._reading: ShellReading | None = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.file.path, hash((self.parent.key, self.string.word_start)))

    @property
    def file_kind(self) -> FileKind:
        return self.parent.file_kind

    @property
    def worth_parsing(self) -> bool:
        return mentions_werf(self.text)

    def commands(self) -> ShellReading:
        if self._reading is None:
            from ciswitch.shell import analyse

            self._reading = analyse(self.text)
        return self._reading

    def _outer(self, start: int, end: int, strict: bool) -> tuple[int, int]:
        """A range of the string's value as a range of the enclosing text. ``strict``: the
        characters must be written one after the other (not across a closing and an opening
        quote), as an edit needs."""
        string = self.string
        if strict and start != end and any(
            string.ends[k] != string.starts[k + 1] for k in range(start, end - 1)
        ):
            raise NoFix(
                f"the change spans several quoted parts of the {string.shell} -c string; "
                "edit it by hand"
            )
        return string.outer(start, end)

    def to_file(self, start: int, end: int) -> tuple[int, int]:
        return self.parent.to_file(*self._outer(start, end, strict=False))

    def anchor(self) -> int:
        return self.parent.anchor()

    def _requote(self, start: int, end: int, replacement: str) -> str:
        """``replacement`` written in the quoting of the string at ``start``."""
        if not replacement:
            return ""
        quotes = self.string.quotes
        index = min(start, len(quotes) - 1)
        quote = quotes[index] if quotes else ""
        if any(q != quote for q in quotes[start:end]):
            raise NoFix(f"the change spans differently quoted parts of the {self.string.shell} "
                        "-c string; edit it by hand")
        if quote == '"':
            return re.sub(r'([\\"$`])', r"\\\1", replacement)
        if quote == "'":
            if "'" in replacement:
                raise NoFix(f"the new text would need a quote inside the single-quoted "
                            f"{self.string.shell} -c string; edit it by hand")
            return replacement
        if quote == "$'":
            return replacement.replace("\\", "\\\\").replace("'", "\\'")
        if "\n" in replacement:
            raise NoFix(f"the new text would break the {self.string.shell} -c word; "
                        "edit it by hand")
        return re.sub(r"([^\w./:@%+,=~-])", r"\\\1", replacement)

    def text_change(
        self, start: int, end: int, replacement: str
    ) -> tuple[YamlScalarSite | ShellFileSite, int, int, str]:
        """The same change of the outermost enclosing site's text, proven on the way out."""
        from ciswitch.shell import analyse

        outer_start, outer_end = self._outer(start, end, strict=True)
        outer_repl = self._requote(start, end, replacement)
        parent = self.parent
        new_parent = parent.text[:outer_start] + outer_repl + parent.text[outer_end:]
        new_inner = self.text[:start] + replacement + self.text[end:]
        if not any(
            s.word_start == self.string.word_start and s.text == new_inner
            for s in analyse(new_parent).command_strings
        ):
            raise NoFix(f"cannot prove the change of the {self.string.shell} -c string; "
                        "edit it by hand")
        if isinstance(parent, CommandStringSite):
            return parent.text_change(outer_start, outer_end, outer_repl)
        return parent, outer_start, outer_end, outer_repl

    def _fix(self, start: int, end: int, replacement: str, what: str) -> Fix:
        root, rstart, rend, rrepl = self.text_change(start, end, replacement)
        old = _words(root.text)
        new = _words(root.text[:rstart] + rrepl + root.text[rend:])
        removed = tuple((Counter(old) - Counter(new)).elements())
        added = tuple((Counter(new) - Counter(old)).elements())
        edit = root.text_edit(rstart, rend, rrepl)
        # The words of a fix are the string's whole word before and after: a second fix of
        # the same string would not add up with them, so each fix also claims the string up to
        # its change (an edit that keeps those characters) and the next one waits for the
        # next run.
        outermost = self._outermost_word()
        claim_start, _ = root.to_file(outermost, outermost)
        text = self.file.text
        claim = Edit(self.file.path, claim_start, edit.start, text[claim_start : edit.start])
        edits = (claim, edit) if claim_start < edit.start else (edit,)
        return Fix(edits, True, what, removed, added)

    def _outermost_word(self) -> int:
        site: CommandStringSite = self
        while isinstance(site.parent, CommandStringSite):
            site = site.parent
        return site.string.word_start

    def flag_fix(self, flag: FlagUse, call: WerfCall, to: str | None) -> Fix:
        from ciswitch.shell import flag_removal, replacement_for_value

        if to is not None:
            start, end, repl = replacement_for_value(flag, to)
            return self._fix(start, end, repl, f"point the flag at {to}")
        start, end, repl = flag_removal(self.text, call, flag)
        return self._fix(start, end, repl, "remove the flag")

    def assignment_fix(self, assignment: Assignment, to: str | None) -> Fix:
        from ciswitch.shell import assignment_removal, replacement_for_value

        if to is not None:
            start, end, repl = replacement_for_value(assignment, to)
            return self._fix(start, end, repl, f"set it to {to}")
        start, end, repl = assignment_removal(self.text, assignment)
        if self.text.strip() == self.text[start:end].strip() and repl.strip() == "":
            raise NoFix(f"the assignment is the whole {self.string.shell} -c string; "
                        "remove it by hand")
        return self._fix(start, end, repl, "remove the assignment")


#: the sites whose text is shell
ShellTextSite = YamlScalarSite | ShellFileSite | CommandStringSite


class PythonFileSite:
    """A whole Python helper: read with libcst, fixed by the edits its reader registered."""

    file_kind = FileKind.PYTHON
    runs_files = False

    def __init__(self, file: SourceFile) -> None:
        self.file = file
        self.text = file.text
        self._python: PythonReading | None = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.file.path, -1)

    @property
    def worth_parsing(self) -> bool:
        return mentions_werf(self.text)

    @property
    def python(self) -> PythonReading:
        if self._python is None:
            from ciswitch.scripts.python import analyse_python

            self._python = analyse_python(self.file.path, self.text)
        return self._python

    def commands(self) -> ShellReading:
        return self.python.shell_reading(self.text)

    def to_file(self, start: int, end: int) -> tuple[int, int]:
        return start, end

    def anchor(self) -> int:
        return 0

    def flag_fix(self, flag: FlagUse, call: WerfCall, to: str | None) -> Fix:
        return self._fix(flag.start, flag.end, to)

    def assignment_fix(self, assignment: Assignment, to: str | None) -> Fix:
        return self._fix(assignment.start, assignment.end, to)

    def _fix(self, start: int, end: int, to: str | None) -> Fix:
        maker = self.python.fixes.get((start, end))
        if maker is None:
            raise NoFix("this Python construct cannot be fixed automatically")
        return maker(to)


# -- shell text edits (YAML scalars and shell files) ---------------------------------------------
def _shell_edit(site: Site, style: str | None, start: int, end: int, replacement: str) -> Edit:
    from ciswitch.yaml.spans import SpanError

    try:
        fstart, fend = site.to_file(start, end)
    except SpanError as err:
        raise NoFix(f"cannot map this YAML scalar to its text ({err})") from err
    if replacement == "":
        text = site.file.text
        fstart, fend = tidy_range(text, fstart, fend)
        if fend > fstart and text[fend - 1] == "\n" and only_space_before(text, fstart):
            # a whole line of a block scalar goes with its indentation, which would otherwise
            # indent the next line (and move a key of the mapping into the scalar)
            fstart = line_start(text, fstart)
    elif style == '"':
        replacement = replacement.replace("\\", "\\\\").replace('"', '\\"')
    elif style == "'":
        replacement = replacement.replace("'", "''")
    return Edit(site.file.path, fstart, fend, replacement)


def _replacement_fix(
    site: Site, style: str | None, start: int, end: int, repl: str, what: str
) -> Fix:
    """A fix replacing part of a shell text, with the words it takes away and brings in."""
    old = _words(site.text)
    new = _words(site.text[:start] + repl + site.text[end:])
    removed = tuple((Counter(old) - Counter(new)).elements())
    added = tuple((Counter(new) - Counter(old)).elements())
    return Fix((_shell_edit(site, style, start, end, repl),), True, what, removed, added)


def _assignment_removal_fix(
    site: Site, style: str | None, start: int, end: int, repl: str
) -> Fix:
    """Remove an assignment (or replace its statement by a no-op), with the words that go and
    come as the whole text's words say (a removed ``&&`` or a kept ``:`` included)."""
    old = _words(site.text)
    new = _words(site.text[:start] + repl + site.text[end:])
    removed = tuple((Counter(old) - Counter(new)).elements())
    added = tuple((Counter(new) - Counter(old)).elements())
    what = "replace the assignment by true" if repl == "true" else "remove the assignment"
    return Fix((_shell_edit(site, style, start, end, repl),), True, what, removed, added)


def _words(text: str) -> tuple[str, ...]:
    from ciswitch.shell import words_of

    return tuple(words_of(text))


def _shell_flag_fix(
    site: Site, style: str | None, flag: FlagUse, call: WerfCall, to: str | None
) -> Fix:
    from ciswitch.shell import flag_removal, replacement_for_value

    if to is not None:
        start, end, repl = replacement_for_value(flag, to)
        return _replacement_fix(site, style, start, end, repl, f"point the flag at {to}")
    start, end, repl = flag_removal(site.text, call, flag)
    removed = _words(site.text[flag.start : flag.end])
    return Fix((_shell_edit(site, style, start, end, repl),), True, "remove the flag", removed)


def _shell_assignment_to(
    site: Site, style: str | None, assignment: Assignment, to: str
) -> Fix:
    from ciswitch.shell import replacement_for_value

    start, end, repl = replacement_for_value(assignment, to)
    return _replacement_fix(site, style, start, end, repl, f"set it to {to}")
