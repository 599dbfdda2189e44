"""Walk a shell syntax tree and collect werf calls, their flags, and variable assignments."""

from __future__ import annotations

import _thread
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING

from ciswitch.patterns import lazy_compile
from ciswitch.record import replace
from ciswitch.shell import werf
from ciswitch.shell.model import (
    Assignment,
    AssignmentKind,
    Atom,
    CommandString,
    FlagForm,
    FlagUse,
    ShellReading,
    WerfCall,
    Word,
)
from ciswitch.shell.syntax import (
    Source,
    lazy_word_of,
    parts_of,
    prefix_of,
    slice_word,
    split_prefixes,
    suffix_of,
)

if TYPE_CHECKING:
    from tree_sitter import Node

_NAME = lazy_compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DECLARATION_KEYWORDS = frozenset({"export", "declare", "typeset", "local", "readonly"})
#: commands that apply the output of ``werf ci-env`` to the running shell
_APPLIERS = frozenset({"eval", "source", "."})
#: nodes that sit between a command substitution and the command that uses its output
_PASS_THROUGH = frozenset({
    "command_substitution", "process_substitution", "string", "concatenation", "command_name",
})


def mentions_werf(text: str) -> bool:
    """Cheap prefilter: only texts mentioning werf or a ``WERF_`` variable are worth parsing."""
    return "werf" in text or "WERF_" in text


class _ThreadState(_thread._local):
    """What :func:`readings_kept` keeps, per thread: one thread's block ending must not end
    another's (``fleet run`` fixes in several threads)."""

    #: every reading made while :func:`readings_kept` is in force (None: only recent ones)
    kept: dict[str, ShellReading] | None = None


_state = _ThreadState()


@contextmanager
def readings_kept() -> Iterator[None]:
    """Keep every reading made inside, by text, until the block ends (nested uses share it).

    ``fix`` lints twice: the lint of the new text must read every text again, but a reading
    is a pure function of its text, so each unchanged text is parsed once for both (a big
    file has more distinct texts than the cache of recent ones holds). Changed texts are new
    texts: they are parsed anew, so the proof is the same."""
    outer = _state.kept
    if outer is None:
        _state.kept = {}
    try:
        yield
    finally:
        _state.kept = outer


def analyse(text: str) -> ShellReading:
    """Parse ``text`` and report its werf calls (source order, nested ones included), its
    export/bare assignments, where ``werf ci-env`` output is applied, and parse errors."""
    kept = _state.kept
    if kept is None:
        return _analyse(text)
    found = kept.get(text)
    if found is None:
        found = kept[text] = _analyse(text)
    return found


@lru_cache(maxsize=2048)
def _analyse(text: str) -> ShellReading:
    """:func:`analyse`, cached for the recent texts."""
    plain = _plain_werf_reading(text)
    return plain if plain is not None else _parsed_reading(text)


def _parsed_reading(text: str) -> ShellReading:
    """The reading of ``text`` from its syntax tree."""
    src = Source(text)
    walker = _Walker(src)
    walker.walk()
    return ShellReading(
        text=text,
        werf_calls=tuple(walker.calls),
        assignments=tuple(walker.assignments),
        ci_env_offsets=tuple(sorted(set(walker.ci_env))),
        has_errors=src.root.has_error,
        command_strings=tuple(sorted(walker.strings, key=lambda c: c.start)),
    )


#: the characters of a word with nothing for the shell to do: no quote, escape, expansion,
#: glob, comment, operator or tilde
_PLAIN_CHARS = "[A-Za-z0-9_./:,@%+=-]"
#: such a word (``=`` only after its first character: ``A=1`` first is a prefix). The patterns
#: below never give back what a repetition took (possessive, atomic): a text they turn away is
#: turned away in linear time (``A=1 A=1 ... x"``, read either as prefixes or words, took
#: quadratic time).
_PLAIN = rf"[A-Za-z0-9_./:,@%+-]{_PLAIN_CHARS}*+"
#: an env prefix whose value is such characters, quoted or not, or nothing
_PLAIN_PREFIX = (
    rf"[A-Za-z_][A-Za-z0-9_]*+=(?:\"{_PLAIN_CHARS}*+\"|'{_PLAIN_CHARS}*+'|{_PLAIN_CHARS}*+)"
)
_BETWEEN = r"(?:[ \t]|\\\n)++"
#: a text that is one command of plain words and prefixes (blanks and ``\\``-continued line
#: breaks between them), after whole-line comments and blank lines, with only blanks and line
#: breaks after it
_PLAIN_COMMAND = lazy_compile(
    r"(?:[ \t]*+(?:#[^\x00-\x08\n-\x1f\x7f]*+)?\n)*+[ \t]*+"
    rf"(?P<words>(?>(?:{_PLAIN_PREFIX}{_BETWEEN})*+){_PLAIN}(?:{_BETWEEN}{_PLAIN})*+)"
    r"[ \t\n]*+"
)
_PREFIX_TOKEN = lazy_compile(_PLAIN_PREFIX)
#: the words of such a command, prefixes included
_TOKEN = lazy_compile(r"[^ \t\n\\]+")


def _plain_werf_reading(text: str) -> ShellReading | None:
    """The reading of a text that is one werf command of plain words (``werf cleanup
    --stages-storage :local --dir images/app``, over several lines with ``\\``), maybe after
    env prefixes of plain values (``WERF_STAGES_STORAGE=":local" werf purge``), made without
    the parser; None for any other text, which the parser reads.

    Such a text is a single simple command whose every word is its own value: the reading
    is the werf call made from those words, as the walk makes it from the parsed command
    (the same :func:`werf_call`), and nothing else (``werf ci-env``, whose reading depends on
    the command around it, is left to the parser)."""
    if "$" in text or "&" in text or "|" in text or ";" in text or "`" in text:
        return None  # an expansion or an operator, seen without the pattern
    match = _PLAIN_COMMAND.fullmatch(text)
    if match is None:
        return None
    tokens = list(_TOKEN.finditer(text, match.start("words"), match.end("words")))
    first = 0
    while first < len(tokens) and _PREFIX_TOKEN.fullmatch(tokens[first].group()) is not None:
        first += 1
    if first == len(tokens) or tokens[first].group() != "werf":
        return None  # assignments alone (``A=1 B=2``), or another command
    # named ``werf`` itself (no wrapper before it), the command's werf word is its first
    words: list[tuple[Word, list[Atom] | None]] = []
    for token in tokens[first:]:
        raw = token.group()
        words.append((Word(raw, raw, None, token.start(), token.end(), ""), None))
    statement = (tokens[0].start(), tokens[-1].end())
    prefixes = tuple(_plain_prefix(token, statement, first) for token in tokens[:first])
    call = werf_call(text, words, 0, prefixes, statement, None)
    if call.is_ci_env:
        return None
    return ShellReading(text, (call,), (), (), False, ())


def _plain_prefix(token: re.Match[str], statement: tuple[int, int], siblings: int) -> Assignment:
    """The env prefix ``NAME=value`` of a plain command, as the walk reads it."""
    name, _, raw = token.group().partition("=")
    end = token.end()
    at = end - len(raw)
    if raw[:1] in ("'", '"'):
        value = Word(raw, raw[1:-1], None, at, end, "")
    else:
        value = Word(raw, raw, None, at, end, "")
    return Assignment(name, value, "prefix", token.start(), end, statement[0], statement[1],
                      siblings)


class _Walker:
    def __init__(self, src: Source) -> None:
        self.src = src
        self.calls: list[WerfCall] = []
        self.assignments: list[Assignment] = []
        self.ci_env: list[int] = []
        self.strings: list[CommandString] = []

    def walk(self) -> None:
        stack: list[tuple[Node, str]] = [(self.src.root, "")]
        while stack:
            node, parent = stack.pop()
            kind = node.type
            if kind == "command":
                self.command(node)
            elif kind == "declaration_command":
                self.declaration(node)
            elif kind == "variable_assignments":
                self.bare(list(node.named_children))
            elif kind == "variable_assignment" and parent not in (
                "command", "declaration_command", "variable_assignments",
            ):
                self.bare([node])
            if node.child_count:
                # a node without children (a word, an operator) holds no command or
                # assignment: it is not visited
                stack.extend(
                    (child, kind) for child in reversed(node.children) if child.child_count
                )

    # -- assignments ------------------------------------------------------------------------
    def assignment(
        self, node: Node, kind: AssignmentKind, statement: tuple[int, int], siblings: int,
    ) -> Assignment | None:
        src = self.src
        name_node = node.child_by_field_name("name")
        if name_node is None:
            return None
        name = src.node_text(name_node)
        value_node = node.child_by_field_name("value")
        value: Word | None
        if value_node is not None:
            value, _ = lazy_word_of(src, value_node)
        else:
            equals = [c for c in node.children if c.type in ("=", "+=")]
            at = src.end(equals[0]) if equals else src.end(node)
            value = Word("", "", None, at, at)
        return Assignment(
            name, value, kind, src.start(node), src.end(node), statement[0], statement[1],
            siblings,
        )

    def span(self, node: Node) -> tuple[int, int]:
        return self.src.start(node), self.src.end(node)

    def bare(self, nodes: list[Node]) -> None:
        assignments = [n for n in nodes if n.type == "variable_assignment"]
        if not assignments:
            return
        statement = (self.src.start(assignments[0]), self.src.end(assignments[-1]))
        for node in assignments:
            found = self.assignment(node, "plain", statement, len(assignments))
            if found is not None:
                self.assignments.append(found)

    def declaration(self, node: Node) -> None:
        src = self.src
        children = node.children
        keyword = src.node_text(children[0]) if children else ""
        if keyword not in _DECLARATION_KEYWORDS:
            return
        options = [
            src.node_text(c) for c in children[1:]
            if c.type == "word" and src.node_text(c).startswith(("-", "+"))
        ]
        exported = (keyword == "export" and not any("n" in o for o in options)) or any(
            o.startswith("-") and "x" in o for o in options
        )
        kind: AssignmentKind = "export" if exported else "plain"
        targets = [c for c in children[1:] if c.type in ("variable_assignment", "variable_name")]
        for child in targets:
            if child.type == "variable_assignment":
                found = self.assignment(child, kind, self.span(node), len(targets))
                if found is not None:
                    self.assignments.append(found)
            elif keyword == "export" or exported:
                start, end = src.start(child), src.end(child)
                self.assignments.append(Assignment(
                    src.node_text(child), None, kind, start, end,
                    src.start(node), src.end(node), len(targets),
                ))

    # -- commands ---------------------------------------------------------------------------
    def command(self, node: Node) -> None:
        src = self.src
        glued, prefix_nodes = split_prefixes(src, node)
        for group in glued:
            self.bare(group)
        name = node.child_by_field_name("name")
        if name is None:
            return
        head = lazy_word_of(src, name.named_children[0] if name.named_child_count else name)
        if not _may_run_werf(head):
            return  # most commands: no need to read their arguments
        words = [
            head, *(lazy_word_of(src, w) for w in node.children_by_field_name("argument"))
        ]
        values = [w.value for w, _ in words]
        start = src.start(prefix_nodes[0]) if prefix_nodes else src.start(name)
        statement = (start, src.end(node))
        if values[0] in _DECLARATION_KEYWORDS:
            # ``export`` parsed as a plain command (after glued assignment lines)
            self.declaration_words(values[0], words[1:], statement)
            return
        suffixes = [suffix_of(w, parts) for w, parts in words]
        env_indexes: list[int] = []
        args_seen = [werf.Arg(w.value, prefix_of(w, parts)) for w, parts in words]
        at = werf.find_werf(args_seen, suffixes, env_indexes)
        if at is None:
            self.command_string(node, words, args_seen, statement)
            return
        binary = words[at][0]
        binary_var: str | None = None
        if binary.value is None and not suffixes[at].endswith("/werf"):
            if binary.var is None:
                return
            binary_var = binary.var
        sibling_count = len(prefix_nodes) + len(env_indexes)
        prefixes: list[Assignment] = []
        for child in prefix_nodes:
            found = self.assignment(child, "prefix", statement, sibling_count)
            if found is not None:
                prefixes.append(found)
        for index in env_indexes:
            word, parts = words[index]
            prefixes.append(self.env_assignment(word, parts, statement, sibling_count))
        call = werf_call(src.text, words, at, tuple(prefixes), statement, binary_var)
        self.calls.append(call)
        if call.is_ci_env:
            applier = self.applier(node)
            if applier is not None:
                self.ci_env.append(applier)

    def command_string(
        self, node: Node, words: list[tuple[Word, list[Atom] | None]], args: list[werf.Arg],
        statement: tuple[int, int],
    ) -> None:
        """Record the string of ``bash -c STRING`` or the code of ``python3 -c CODE`` (behind
        wrappers too) when it is static."""
        at = werf.wrapped_command(args, [])
        if at is None or at >= len(words):
            return
        name = words[at][0].value
        shell = name.rsplit("/", 1)[-1] if name is not None else ""
        rest = words[at + 1 :]
        if shell in werf.SHELLS:
            index = werf.command_string_index([w.value for w, _ in rest])
        elif werf.PYTHONS.fullmatch(shell):
            index = werf.python_code_index([w.value for w, _ in rest])
        else:
            return
        if index is None:
            return
        word, lazy_parts = rest[index]
        if word.value is None:
            return  # built at run time: not read
        starts: list[int] = []
        ends: list[int] = []
        quotes: list[str] = []
        for atom in parts_of(word, lazy_parts):
            value = atom.value or ""
            for i in range(len(value)):
                starts.append(atom.offset(i))
                ends.append(atom.offset(i + 1) if i + 1 < len(value) else atom.end)
                quotes.append(atom.quote)
        self.strings.append(CommandString(
            shell, statement[0], statement[1], word.start, word.end, word.value,
            tuple(starts), tuple(ends), tuple(quotes),
        ))

    def declaration_words(
        self, keyword: str, words: list[tuple[Word, list[Atom] | None]],
        statement: tuple[int, int],
    ) -> None:
        options = [w.value for w, _ in words if w.value and w.value.startswith(("-", "+"))]
        exported = (keyword == "export" and not any("n" in o for o in options)) or any(
            o.startswith("-") and "x" in o for o in options
        )
        kind: AssignmentKind = "export" if exported else "plain"
        targets: list[tuple[Word, list[Atom] | None, bool]] = []
        for word, parts in words:
            prefix = prefix_of(word, parts)
            match = _NAME.match(prefix)
            if match is None:
                continue
            if prefix[match.end() : match.end() + 1] == "=":
                targets.append((word, parts, True))
            elif word.value == match.group() and exported:
                targets.append((word, parts, False))
        for word, parts, has_value in targets:
            if has_value:
                found = self.env_assignment(word, parts, statement, len(targets))
                self.assignments.append(replace(found, kind=kind))
            else:
                self.assignments.append(Assignment(
                    word.raw, None, kind, word.start, word.end, statement[0], statement[1],
                    len(targets),
                ))

    def env_assignment(
        self, word: Word, parts: list[Atom] | None, statement: tuple[int, int], siblings: int,
    ) -> Assignment:
        prefix = prefix_of(word, parts)
        name = prefix.split("=", 1)[0]
        value = slice_word(self.src.text, parts_of(word, parts), word, len(name) + 1)
        return Assignment(
            name, value, "prefix", word.start, word.end, statement[0], statement[1], siblings,
        )

    def applier(self, node: Node) -> int | None:
        """The start of the ``eval``/``source``/``.`` command that applies a ci-env output."""
        src = self.src
        current = node.parent
        while current is not None and current.type in _PASS_THROUGH:
            current = current.parent
        if current is None or current.type != "command":
            return None
        name = current.child_by_field_name("name")
        if name is None:
            return None
        word, _ = lazy_word_of(src, name.named_children[0] if name.named_child_count else name)
        if word.value in _APPLIERS:
            return src.start(current)
        return None


def werf_call(
    text: str, words: list[tuple[Word, list[Atom] | None]], at: int,
    prefixes: tuple[Assignment, ...], statement: tuple[int, int], binary_var: str | None,
) -> WerfCall:
    """The werf call of a command whose words (name first) have werf at ``at``."""
    args = words[at + 1 :]
    sub = werf.subcommand([w.value for w, _ in args])
    takes_storage = sub in werf.TAKES_STAGES_STORAGE
    takes_sync = sub in werf.TAKES_SYNCHRONIZATION
    return WerfCall(
        start=statement[0],
        end=statement[1],
        subcommand=sub,
        args=tuple(w for w, _ in args),
        prefixes=prefixes,
        flags=tuple(_scan_flags(text, args, takes_storage, takes_sync)),
        takes_stages_storage=takes_storage,
        is_ci_env=sub[:1] == ("ci-env",),
        takes_synchronization=takes_sync,
        binary_var=binary_var,
        werf_span=(words[at][0].start, words[at][0].end),
    )


def _may_run_werf(head: tuple[Word, list[Atom] | None]) -> bool:
    """Whether a command named like this can be (or wrap) werf, run a command string that
    may (a shell's or Python's ``-c``), or declare variables."""
    word, parts = head
    value = word.value
    if value is None:
        # a literal path to werf, or a variable that may hold one (``"$WERF_BIN"``)
        return word.var is not None or suffix_of(word, parts).endswith("/werf")
    base = value.rsplit("/", 1)[-1]
    return (
        werf.is_werf_name(value) or base in werf.WRAPPERS or base in werf.SHELLS
        or value in _DECLARATION_KEYWORDS
        or (base.startswith("python") and werf.PYTHONS.fullmatch(base) is not None)
    )


def _scan_flags(
    text: str, args: list[tuple[Word, list[Atom] | None]], short_storage: bool,
    short_sync: bool,
) -> list[FlagUse]:
    """Stages-storage and synchronization flags the way pflag reads them (up to ``--``)."""
    found: list[FlagUse] = []
    i = 0
    while i < len(args):
        word, parts = args[i]
        if word.value == "--":
            break
        prefix = prefix_of(word, parts)
        whole = word.value is not None
        i += 1
        found_flag = werf.split_flag(prefix, short_storage, short_sync)
        if found_flag is None:
            continue
        name, spelling, equals = found_flag
        if spelling.startswith("--") and not (equals or whole):
            continue
        if prefix == spelling and whole:
            if i >= len(args):
                continue  # no value: werf itself refuses the command line
            value_word = args[i][0]
            i += 1
            found.append(FlagUse(name, spelling, "separate", value_word, (word, value_word),
                                 word.start, value_word.end))
            continue
        cut = len(spelling) + (1 if equals else 0)
        value = slice_word(text, parts_of(word, parts), word, cut)
        if value is None:
            continue
        form: FlagForm = "equals" if equals else "attached"
        found.append(FlagUse(name, spelling, form, value, (word,), word.start, word.end))
    return found
