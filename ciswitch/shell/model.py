"""The values the shell layer hands out: words, assignments, flag uses, werf calls.

They are frozen and hashable so that rules can key places by them and an analysis can be cached
and shared by every job that runs the same script text. All offsets are character offsets into
the analysed ``str`` (never tree-sitter's UTF-8 byte offsets).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FlagName = Literal["stages-storage", "synchronization"]
FlagForm = Literal["separate", "equals", "attached"]
AssignmentKind = Literal["prefix", "export", "plain"]


@dataclass(frozen=True, slots=True)
class Word:
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
    enclosing_quote: str = ""


@dataclass(frozen=True, slots=True)
class Assignment:
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


@dataclass(frozen=True, slots=True)
class FlagUse:
    """One ``--stages-storage``/``-s`` or ``--synchronization``/``-S`` on a werf command line."""

    name: FlagName
    spelling: str
    form: FlagForm
    value: Word
    words: tuple[Word, ...]
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class WerfCall:
    """One werf invocation (possibly behind ``sudo``, ``env``, bats ``run``, ...)."""

    start: int
    end: int
    subcommand: tuple[str, ...]
    args: tuple[Word, ...]
    prefixes: tuple[Assignment, ...]
    flags: tuple[FlagUse, ...]
    takes_stages_storage: bool
    is_ci_env: bool
    takes_synchronization: bool = False
    #: the variable the command name is (``"$WERF_BIN" build``): a werf call only where that
    #: variable holds werf's path (the replay knows); None for a literal werf name
    binary_var: str | None = None
    #: the span of the word that names werf (``werf``, ``/usr/bin/werf``), after any
    #: assignments and wrappers (``X=1 sudo -E werf``); None when it starts the call
    werf_span: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class CommandString:
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


@dataclass(frozen=True, slots=True)
class ShellReading:
    """Everything the rules need to know about one shell text."""

    text: str
    werf_calls: tuple[WerfCall, ...]
    assignments: tuple[Assignment, ...]
    ci_env_offsets: tuple[int, ...]
    has_errors: bool
    #: strings run by ``bash -c``/``sh -c`` (also behind wrappers), read as shell of their own
    command_strings: tuple[CommandString, ...] = ()
