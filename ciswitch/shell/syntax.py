"""Shell words over tree-sitter-bash's parse (:mod:`ciswitch.shell.parse`): character offsets of
nodes, and words read as pieces.

Everything above this module speaks *characters* (YAML marks count characters, and a third of
werf projects carry Cyrillic text before their flags), so :class:`Source` converts every node
boundary explicitly.

A word is read as a list of :class:`Atom` pieces (literal text, variable references, command
substitutions) that remember whether they were quoted and where each produced character came
from. That is what lets the flag scanner cut ``--stages-storage=":local"`` after the ``=`` and
still know the value, its quoting, and its exact span.
"""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING

from ciswitch.patterns import lazy_compile
from ciswitch.record import replace
from ciswitch.shell.model import Atom, Word
from ciswitch.shell.parse import CharMap, parse_unglued, real_newline

if TYPE_CHECKING:
    from collections.abc import Callable

    from tree_sitter import Node, Tree

#: node types that make up one shell word (its maximal node is the word)
WORD_TYPES = frozenset({
    "word", "string", "raw_string", "concatenation", "simple_expansion", "expansion", "number",
    "ansi_c_string", "translated_string", "command_substitution", "process_substitution",
    "arithmetic_expansion", "brace_expression", "extglob_pattern",
})
#: operators of ``${NAME<op>default}`` that still make the word "that variable" for our purposes
_DEFAULT_OPERATORS = frozenset({":-", "-", ":=", "="})
_DQ_ESCAPABLE = frozenset('$`"\\')
_IDENTIFIER = lazy_compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ANSI_ESCAPES = {
    "n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
    "e": "\x1b", "E": "\x1b", "\\": "\\", "'": "'", '"': '"', "?": "?",
}


_START_BYTE: Callable[[Node], int] = attrgetter("start_byte")
_END_BYTE: Callable[[Node], int] = attrgetter("end_byte")


class Source:
    """A shell text, its syntax tree and the byte-to-character map of its node boundaries.

    The tree may come from a copy of the text with glued assignment lines cut by ``;`` (see
    :func:`~ciswitch.shell.parse.parse_unglued`); offsets are the same, and ``text`` is always
    the original.
    """

    #: where a node starts and ends, in characters
    start: Callable[[Node], int]
    end: Callable[[Node], int]

    def __init__(self, text: str) -> None:
        self.text = text
        self.tree: Tree = parse_unglued(text)
        char = self.char = CharMap(text).char
        if text.isascii():
            # bytes are characters: a node's own offsets, read without a Python call (a
            # walk asks for them at every word)
            self.start = _START_BYTE
            self.end = _END_BYTE
        else:
            self.start = lambda node: char(node.start_byte)
            self.end = lambda node: char(node.end_byte)

    @property
    def root(self) -> Node:
        return self.tree.root_node

    def node_text(self, node: Node) -> str:
        return self.text[self.start(node) : self.end(node)]


def _unescape(
    raw: str, base: int, escapable: frozenset[str] | None = None
) -> tuple[str, tuple[int, ...] | None]:
    """Backslash removal with each kept character's offset: outside quotes a backslash
    escapes any character (``escapable`` None); inside double quotes only ``$ ` " \\``, and
    other backslashes stay. A backslash-newline is a line continuation and vanishes."""
    if "\\" not in raw:
        return raw, None
    out: list[str] = []
    offsets: list[int] = []
    i = 0
    while i < len(raw):
        char = raw[i]
        if char == "\\" and i + 1 < len(raw):
            following = raw[i + 1]
            if following == "\n":
                i += 2
                continue
            if escapable is None or following in escapable:
                out.append(following)
                offsets.append(base + i)
                i += 2
                continue
        out.append(char)
        offsets.append(base + i)
        i += 1
    return "".join(out), tuple(offsets)


def _ansi_c(raw: str, base: int) -> tuple[str | None, tuple[int, ...] | None]:
    """Decode the body of ``$'...'``; None for escapes whose result we do not model."""
    out: list[str] = []
    offsets: list[int] = []
    i = 0
    while i < len(raw):
        char = raw[i]
        if char != "\\" or i + 1 >= len(raw):
            out.append(char)
            offsets.append(base + i)
            i += 1
            continue
        following = raw[i + 1]
        if following in _ANSI_ESCAPES:
            out.append(_ANSI_ESCAPES[following])
            offsets.append(base + i)
            i += 2
            continue
        if following in "xuUc01234567":
            return None, ()
        out.append(char)
        offsets.append(base + i)
        i += 1
    return "".join(out), tuple(offsets)


def expansion_var(src: Source, node: Node) -> str | None:
    """``NAME`` for ``$NAME``, ``${NAME}`` and ``${NAME:-default}``-style references
    (positional and special parameters are not variables a CI file can set)."""
    if node.type == "simple_expansion":
        names = [c for c in node.named_children if c.type == "variable_name"]
        if len(names) != 1:
            return None
        name = src.node_text(names[0])
        return name if _IDENTIFIER.fullmatch(name) else None
    if node.type != "expansion":
        return None
    children = node.children
    if len(children) < 3 or children[1].type != "variable_name":
        return None
    name = src.node_text(children[1])
    if not _IDENTIFIER.fullmatch(name):
        return None
    if len(children) == 3:
        return name
    operator = node.child_by_field_name("operator")
    if operator is not None and src.node_text(operator) in _DEFAULT_OPERATORS:
        return name
    return None


def atoms(src: Source, node: Node) -> list[Atom]:
    """The pieces of a word node, in order."""
    out: list[Atom] = []
    _collect(src, node, out)
    if out and out[0].kind == "lit" and not out[0].quote and (out[0].value or "").startswith("~"):
        first = out[0]
        out[0] = Atom("other", first.start, first.end, None)
    return out


def _collect(src: Source, node: Node, out: list[Atom]) -> None:
    kind = node.type
    start, end = src.start(node), src.end(node)
    if kind == "concatenation":
        for child in node.children:
            _collect(src, child, out)
    elif kind in ("simple_expansion", "expansion"):
        out.append(Atom("exp", start, end, None, expansion_var(src, node)))
    elif kind in ("command_substitution", "process_substitution"):
        out.append(Atom("sub", start, end, None))
    elif kind == "string":
        _collect_double_quoted(src, node, start, out)
    elif kind == "translated_string":
        inner = [c for c in node.children if c.type == "string"]
        if inner:
            _collect_double_quoted(src, inner[0], start, out)
        else:
            out.append(Atom("other", start, end, None))
    elif kind == "raw_string":
        body = src.text[start + 1 : end - 1]
        if body:
            out.append(Atom("lit", start + 1, end - 1, body, None, "'", start, True))
    elif kind == "ansi_c_string":
        value, offsets = _ansi_c(src.text[start + 2 : end - 1], start + 2)
        if value is None:
            out.append(Atom("other", start, end, None, quote="$'", group_start=start))
        elif value:
            out.append(Atom("lit", start + 2, end - 1, value, None, "$'", start, True, offsets))
    elif kind in ("word", "number") or (node.child_count == 0 and kind not in WORD_TYPES):
        value, offsets = _unescape(src.text[start:end], start)
        out.append(Atom("lit", start, end, value, None, "", start, True, offsets))
    else:
        out.append(Atom("other", start, end, None))


def _collect_double_quoted(src: Source, node: Node, group_start: int, out: list[Atom]) -> None:
    start, end = src.start(node), src.end(node)
    inner_start, inner_end = start + 1, end - 1
    pieces: list[Atom] = []
    cursor = inner_start

    def literal(a: int, b: int) -> None:
        if b > a:
            value, offsets = _unescape(src.text[a:b], a, _DQ_ESCAPABLE)
            pieces.append(Atom("lit", a, b, value, None, '"', group_start, False, offsets))

    for child in node.children:
        c_start, c_end = src.start(child), src.end(child)
        if c_start < inner_start or c_end > inner_end or c_end <= c_start:
            continue  # the quotes themselves
        literal(cursor, c_start)
        if child.type in ("simple_expansion", "expansion"):
            pieces.append(Atom("exp", c_start, c_end, None, expansion_var(src, child), '"',
                               group_start, False))
        elif child.type in ("command_substitution", "process_substitution"):
            pieces.append(Atom("sub", c_start, c_end, None, None, '"', group_start, False))
        elif child.type == "string_content" or child.child_count == 0:
            literal(c_start, c_end)
        else:
            pieces.append(Atom("other", c_start, c_end, None, None, '"', group_start, False))
        cursor = c_end
    literal(cursor, inner_end)
    pieces = [p for p in pieces if p.kind != "lit" or p.value]
    if pieces:
        pieces[0] = replace(pieces[0], first_in_group=True)
    out.extend(pieces)


def static_value(parts: list[Atom]) -> str | None:
    if len(parts) == 1:
        return parts[0].value
    values = [a.value for a in parts]
    if any(v is None for v in values):
        return None
    return "".join(v for v in values if v is not None)


def static_prefix(parts: list[Atom]) -> str:
    """The statically known beginning of a word (up to its first expansion)."""
    if len(parts) == 1:  # most words: one piece
        return parts[0].value or ""
    out: list[str] = []
    for atom in parts:
        if atom.value is None:
            break
        out.append(atom.value)
    return "".join(out)


def static_suffix(parts: list[Atom]) -> str:
    if len(parts) == 1:
        return parts[0].value or ""
    out: list[str] = []
    for atom in reversed(parts):
        if atom.value is None:
            break
        out.append(atom.value)
    return "".join(reversed(out))


def make_word(text: str, parts: list[Atom], start: int, end: int, quote: str = "") -> Word:
    var = parts[0].var if len(parts) == 1 and parts[0].kind == "exp" else None
    raw = text[start:end]
    value = static_value(parts)
    # most words are literal: their value is their text, kept once
    return Word(raw, raw if value == raw else value, var, start, end, quote)


def lazy_word_of(src: Source, node: Node) -> tuple[Word, list[Atom] | None]:
    """The word of ``node`` and its pieces (:func:`atoms`), the pieces of a plain word left
    unmade (None): most words of a command line (``--dir``, ``:local``) are one literal piece
    whose value is their text, and only a flag cut inside one (``--dir=x``) needs that piece
    (:func:`parts_of` makes it)."""
    if node.type == "word":
        start, end = src.start(node), src.end(node)
        raw = src.text[start:end]
        if raw and "\\" not in raw and raw[0] != "~":
            return Word(raw, raw, None, start, end, ""), None
    parts = atoms(src, node)
    return make_word(src.text, parts, src.start(node), src.end(node)), parts


def parts_of(word: Word, parts: list[Atom] | None) -> list[Atom]:
    """The pieces of a word read by :func:`lazy_word_of` (a plain word's one literal piece,
    as :func:`atoms` makes it)."""
    if parts is not None:
        return parts
    return [Atom("lit", word.start, word.end, word.raw, None, "", word.start, True, None)]


def prefix_of(word: Word, parts: list[Atom] | None) -> str:
    """:func:`static_prefix` of a word read by :func:`lazy_word_of`."""
    return word.raw if parts is None else static_prefix(parts)


def suffix_of(word: Word, parts: list[Atom] | None) -> str:
    """:func:`static_suffix` of a word read by :func:`lazy_word_of`."""
    return word.raw if parts is None else static_suffix(parts)


def slice_word(text: str, parts: list[Atom], word: Word, index: int) -> Word | None:
    """The part of ``word`` after its first ``index`` value characters, as a :class:`Word`.

    Used for ``--flag=VALUE``, ``-sVALUE`` and ``env NAME=VALUE``: the cut must fall in the
    statically known prefix. A cut right before a quoted string keeps the whole string (quotes
    included); a cut inside one starts inside it and records the quote.
    """
    position = 0
    for i, atom in enumerate(parts):
        if index == position:
            if atom.quote and atom.first_in_group:
                return make_word(text, parts[i:], atom.group_start, word.end)
            return make_word(text, parts[i:], atom.start, word.end, atom.quote)
        if atom.value is None:
            return None
        length = len(atom.value)
        if index < position + length:
            cut = index - position
            start = atom.offset(cut)
            rest = None if atom.offsets is None else atom.offsets[cut:]
            first = replace(atom, start=start, value=atom.value[cut:], offsets=rest,
                            first_in_group=False)
            return make_word(text, [first, *parts[i + 1 :]], start, word.end, atom.quote)
        position += length
    if index != position:
        return None
    if not parts:
        return make_word(text, [], word.start, word.end)
    last = parts[-1]
    return make_word(text, [], last.end, word.end, last.quote)




def split_prefixes(src: Source, command: Node) -> tuple[list[list[Node]], list[Node]]:
    """Separate a command's real env prefixes from bare assignment lines glued onto it.

    tree-sitter-bash (0.25) parses ``A=1 B=2<newline>echo x`` as *one* command with two
    prefixes, where bash sees an assignment statement and then ``echo x``. Returns the bare
    assignment groups (one per line) and the prefixes really on the command's line.
    """
    assignments = [c for c in command.children if c.type == "variable_assignment"]
    name = command.child_by_field_name("name")
    groups: list[list[Node]] = []
    current: list[Node] = []
    previous_end = 0
    for node in assignments:
        if current and real_newline(src.text, previous_end, src.start(node)):
            groups.append(current)
            current = []
        current.append(node)
        previous_end = src.end(node)
    if current and name is not None and real_newline(src.text, previous_end, src.start(name)):
        groups.append(current)
        current = []
    return groups, current
