"""The values the shell layer hands out: words, assignments, flag uses, werf calls, and the
atoms (pieces) that :mod:`ciswitch.shell.syntax` reads a word as.

They are frozen and hashable so that rules can key places by them and an analysis can be cached
and shared by every job that runs the same script text. All offsets are character offsets into
the analysed ``str`` (never tree-sitter's UTF-8 byte offsets).
"""

from __future__ import annotations

from typing import Literal

from ciswitch.record import Record, setf, slot_setters

FlagName = Literal["stages-storage", "synchronization"]
FlagForm = Literal["separate", "equals", "attached"]
AssignmentKind = Literal["prefix", "export", "plain"]
AtomKind = Literal["lit", "exp", "sub", "other"]


class Word(Record, frozen=True):
    """One shell word, or the value part of one (``--x=VALUE``, ``-sVALUE``, ``NAME=VALUE``).

    ``value`` is the word after quote removal when nothing in it needs the shell to expand
    (None otherwise); ``var`` names the variable when the whole word is a single reference
    (``$X``, ``${X}``, ``"$X"``, ``"${X}"``, ``${X:-default}``). ``enclosing_quote`` is ``'"'``
    or ``"'"`` when the span starts *inside* a quoted string (``"--stages-storage=:local"``
    gives the value span ``:local"``, closing quote included); it is empty otherwise.
    """

    raw: str
    value: str | None
    var: str | None
    start: int
    end: int
    enclosing_quote: str

    def __init__(self, raw: str, value: str | None, var: str | None, start: int, end: int,
                 enclosing_quote: str = "") -> None:
        _set_raw(self, raw)
        _set_value(self, value)
        _set_var(self, var)
        _set_start(self, start)
        _set_end(self, end)
        _set_quote(self, enclosing_quote)


# (a big file's readings make tens of thousands of words)
_set_raw, _set_value, _set_var, _set_start, _set_end, _set_quote = slot_setters(
    Word, "raw", "value", "var", "start", "end", "enclosing_quote"
)


class Assignment(Record, frozen=True):
    """``NAME=value`` as an env prefix of a command, in an export-like declaration, or bare.

    ``start``/``end`` cover ``NAME=value``; ``statement_start``/``statement_end`` the whole
    statement that holds it (the command for prefixes, the ``export ...`` declaration, or the
    bare assignment list), and ``siblings`` counts the assignments that statement holds.
    """

    name: str
    value: Word | None
    kind: AssignmentKind
    start: int
    end: int
    statement_start: int
    statement_end: int
    siblings: int

    def __init__(self, name: str, value: Word | None, kind: AssignmentKind, start: int,
                 end: int, statement_start: int, statement_end: int, siblings: int) -> None:
        setf(self, "name", name)
        setf(self, "value", value)
        setf(self, "kind", kind)
        setf(self, "start", start)
        setf(self, "end", end)
        setf(self, "statement_start", statement_start)
        setf(self, "statement_end", statement_end)
        setf(self, "siblings", siblings)


class FlagUse(Record, frozen=True):
    """One ``--stages-storage``/``-s`` or ``--synchronization``/``-S`` on a werf command line."""

    name: FlagName
    spelling: str
    form: FlagForm
    value: Word
    words: tuple[Word, ...]
    start: int
    end: int

    def __init__(self, name: FlagName, spelling: str, form: FlagForm, value: Word,
                 words: tuple[Word, ...], start: int, end: int) -> None:
        setf(self, "name", name)
        setf(self, "spelling", spelling)
        setf(self, "form", form)
        setf(self, "value", value)
        setf(self, "words", words)
        setf(self, "start", start)
        setf(self, "end", end)


class WerfCall(Record, frozen=True):
    """One werf invocation (possibly behind ``sudo``, ``env``, bats ``run``, ...)."""

    start: int
    end: int
    subcommand: tuple[str, ...]
    args: tuple[Word, ...]
    prefixes: tuple[Assignment, ...]
    flags: tuple[FlagUse, ...]
    takes_stages_storage: bool
    is_ci_env: bool
    takes_synchronization: bool
    #: the variable the command name is (``"$WERF_BIN" build``): a werf call only where that
    #: variable holds werf's path (the replay knows); None for a literal werf name
    binary_var: str | None
    #: the span of the word that names werf (``werf``, ``/usr/bin/werf``), after any
    #: assignments and wrappers (``X=1 sudo -E werf``); None when it starts the call
    werf_span: tuple[int, int] | None

    def __init__(self, start: int, end: int, subcommand: tuple[str, ...],
                 args: tuple[Word, ...], prefixes: tuple[Assignment, ...],
                 flags: tuple[FlagUse, ...], takes_stages_storage: bool, is_ci_env: bool,
                 takes_synchronization: bool = False, binary_var: str | None = None,
                 werf_span: tuple[int, int] | None = None) -> None:
        setf(self, "start", start)
        setf(self, "end", end)
        setf(self, "subcommand", subcommand)
        setf(self, "args", args)
        setf(self, "prefixes", prefixes)
        setf(self, "flags", flags)
        setf(self, "takes_stages_storage", takes_stages_storage)
        setf(self, "is_ci_env", is_ci_env)
        setf(self, "takes_synchronization", takes_synchronization)
        setf(self, "binary_var", binary_var)
        setf(self, "werf_span", werf_span)


class CommandString(Record, frozen=True):
    """The string a shell runs as a command line (``bash -c 'werf build -s :local'``).

    ``text`` is the string's value (what the inner shell parses); ``starts[i]``/``ends[i]``
    are where its i-th character is written in the analysed text (an escaped ``\\"`` is two
    characters there), and ``quotes[i]`` is the quoting it is written in (``''``, ``"'"``,
    ``'"'`` or ``"$'"``), so a change of the inner text can be written back exactly.
    """

    shell: str
    start: int  # the whole command (``bash -c ...``)
    end: int
    word_start: int  # the string word, quotes included
    word_end: int
    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    quotes: tuple[str, ...]

    def __init__(self, shell: str, start: int, end: int, word_start: int, word_end: int,
                 text: str, starts: tuple[int, ...], ends: tuple[int, ...],
                 quotes: tuple[str, ...]) -> None:
        setf(self, "shell", shell)
        setf(self, "start", start)
        setf(self, "end", end)
        setf(self, "word_start", word_start)
        setf(self, "word_end", word_end)
        setf(self, "text", text)
        setf(self, "starts", starts)
        setf(self, "ends", ends)
        setf(self, "quotes", quotes)

    def outer(self, start: int, end: int) -> tuple[int, int]:
        """A range of the string's value as a range of the analysed text (an empty range at
        the end: after the last character, or at the word of an empty string)."""
        count = len(self.starts)
        if start == end:
            if start < count:
                return self.starts[start], self.starts[start]
            at = self.ends[-1] if count else self.word_start
            return at, at
        return self.starts[start], self.ends[end - 1]


class ShellReading(Record, frozen=True):
    """Everything the rules need to know about one shell text."""

    text: str
    werf_calls: tuple[WerfCall, ...]
    assignments: tuple[Assignment, ...]
    ci_env_offsets: tuple[int, ...]
    has_errors: bool
    #: strings run by ``bash -c``/``sh -c`` (also behind wrappers), read as shell of their own
    command_strings: tuple[CommandString, ...]

    def __init__(self, text: str, werf_calls: tuple[WerfCall, ...],
                 assignments: tuple[Assignment, ...], ci_env_offsets: tuple[int, ...],
                 has_errors: bool, command_strings: tuple[CommandString, ...] = ()) -> None:
        setf(self, "text", text)
        setf(self, "werf_calls", werf_calls)
        setf(self, "assignments", assignments)
        setf(self, "ci_env_offsets", ci_env_offsets)
        setf(self, "has_errors", has_errors)
        setf(self, "command_strings", command_strings)


class Atom(Record, frozen=True):
    """One piece of a word.

    ``offset(i)`` is where the i-th character of ``value`` starts in the text (a backslash
    escape produces one character that starts at its backslash); ``offsets`` is None when that
    is simply ``start + i``. Quoted atoms know their quote
    (``'"'``, ``"'"`` or ``"$'"``), where the quoted string opens, and whether they are its
    first piece.
    """

    kind: AtomKind
    start: int
    end: int
    value: str | None
    var: str | None
    quote: str
    group_start: int
    first_in_group: bool
    offsets: tuple[int, ...] | None

    def __init__(self, kind: AtomKind, start: int, end: int, value: str | None,
                 var: str | None = None, quote: str = "", group_start: int = 0,
                 first_in_group: bool = True, offsets: tuple[int, ...] | None = None) -> None:
        setf(self, "kind", kind)
        setf(self, "start", start)
        setf(self, "end", end)
        setf(self, "value", value)
        setf(self, "var", var)
        setf(self, "quote", quote)
        setf(self, "group_start", group_start)
        setf(self, "first_in_group", first_in_group)
        setf(self, "offsets", offsets)

    def offset(self, index: int) -> int:
        return self.start + index if self.offsets is None else self.offsets[index]
