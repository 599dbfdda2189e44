"""werf-aware shell reading with tree-sitter-bash, for the lint rules and the fix engine.

All offsets are **character** offsets into the analysed ``str`` (tree-sitter's UTF-8 byte
offsets are converted in :mod:`ciswitch.shell.syntax`, over the parse of
:mod:`ciswitch.shell.parse`). tree-sitter is imported on first use.

Values (frozen dataclasses, :mod:`ciswitch.shell.model`)::

    Word(raw, value, var, start, end, enclosing_quote="")
        raw    source text ('":local"', '--stages-storage=:local', '$STORAGE')
        value  statically known value after quote removal, or None when it needs expansion
        var    'STORAGE' when the whole word is one reference: $STORAGE, ${STORAGE},
               "$STORAGE", "${STORAGE}", ${STORAGE:-default} (also -, :=, =)
        enclosing_quote  set when the span starts inside a quoted string (the value of
               "--stages-storage=:local" is the span ':local"', closing quote included)
    Assignment(name, value, kind, start, end, statement_start, statement_end, siblings)
        kind   'prefix' (VAR=x werf ..., env VAR=x werf, sudo VAR=x werf),
               'export' (export, declare/typeset/local -x), 'plain' (bare VAR=x, local, ...)
        value  None for ``export NAME`` without a value; an empty Word for ``NAME=``
    FlagUse(name, spelling, form, value, words, start, end)
        name 'stages-storage' | 'synchronization'; spelling as written ('--stages-storage',
        '-s', '--synchronization', '-S'); form 'separate' | 'equals' | 'attached'
    WerfCall(start, end, subcommand, args, prefixes, flags, takes_stages_storage, is_ci_env,
             takes_synchronization)
    ShellReading(text, werf_calls, assignments, ci_env_offsets, has_errors, command_strings)

Functions::

    mentions_werf(text) -> bool            cheap prefilter ('werf' or 'WERF_' in the text)
    analyse(text) -> ShellReading         cached per text
    flag_removal(text, call, flag) -> (start, end, replacement)
    assignment_removal(text, assignment) -> (start, end, replacement)
    replacement_for_value(flag_or_assignment, address) -> (start, end, replacement)
    words_of(text) -> list[str]            verification oracle: every word of every statement
    statements_of(text) -> list[tuple[str, ...]]   the same words grouped per statement

What counts as a werf call: a command whose name is ``werf`` or a literal path ending in
``/werf`` (``./werf``, ``$HOME/bin/werf``), also behind the wrappers of
:data:`ciswitch.shell.werf.WRAPPERS` (bats ``run``, ``exec``, ``command`` (not ``command -v``),
``time``, ``nohup``, ``sudo``, ``env``, ``nice``, ``ionice``, ``stdbuf``, ``timeout``,
``xargs``); ``env``/``sudo`` ``VAR=x`` words become prefixes. A command named by one variable
(``"$WERF_BIN" build``) is a call with ``binary_var`` set: the replay counts it where the
variable holds a path ending in ``/werf``. The subcommand is found as cobra finds it, stepping
over flags (``werf stages -s :local cleanup``). Calls are found wherever commands are:
``$(...)``, backquotes, ``<(...)``, if/for/while/case bodies, functions, pipelines, subshells,
``&&``/``||``/``;`` lists, and ``$(...)`` inside unquoted heredocs. Not calls: ``type werf``,
``which werf``, ``echo "werf ..."``, comments, heredoc text, ``multiwerf ...``, ``dapp ...``.
The static string of ``bash -c``/``sh -c`` (behind wrappers too) is a ``CommandString``: its
value and, per character, where it is written and in which quoting; the replay reads it as
shell of its own.

Flags are read as pflag reads them, up to ``--``: ``--stages-storage X``, ``--stages-storage=X``,
``-s X``, ``-s=X``, ``-sX`` (likewise ``--synchronization``/``-S``), values quoted or not. The
short spellings count only on subcommands that define them (:mod:`ciswitch.shell.werf` lists
them, with what werf's v1.1 source showed); ``werf stages sync --from :local`` has no
stages-storage flag. ``ci_env_offsets`` are the starts of the ``eval``/``source``/``.``
commands that apply ``werf ci-env`` output (``eval $(werf ci-env gitlab)``, ``source $(werf
ci-env gitlab --as-file)``, ``. <(...)``).
"""

from __future__ import annotations

from ciswitch.shell.analyse import analyse, mentions_werf
from ciswitch.shell.edits import assignment_removal, flag_removal, replacement_for_value
from ciswitch.shell.model import (
    Assignment,
    FlagUse,
    ShellReading,
    WerfCall,
    Word,
)
from ciswitch.shell.words import statements_of, words_of

__all__ = [
    "Assignment",
    "FlagUse",
    "ShellReading",
    "WerfCall",
    "Word",
    "analyse",
    "assignment_removal",
    "flag_removal",
    "mentions_werf",
    "replacement_for_value",
    "statements_of",
    "words_of",
]
