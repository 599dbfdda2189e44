"""tree-sitter-bash's parse of a shell text: lazily built parsers, the byte-to-character map of
its node boundaries, and the way round the grammar's glued assignment lines.

tree-sitter reports UTF-8 *byte* offsets; everything above :mod:`ciswitch.shell.syntax` speaks
*characters*, so :class:`CharMap` converts them. The parse itself is kept apart from the
reading of words so that each module has one job.
"""

from __future__ import annotations

import _thread
import re
import sys
from bisect import bisect_right
from itertools import pairwise
from typing import TYPE_CHECKING

from ciswitch.patterns import lazy_compile

if TYPE_CHECKING:
    from tree_sitter import Language, Parser, Tree

#: tree-sitter-bash's grammar, loaded once
_LANGUAGE: list[Language] = []
#: a parser per thread (by thread id)
_PARSER: dict[int, Parser] = {}

_NON_ASCII = lazy_compile(r"[^\x00-\x7f]")


def parser() -> Parser:
    """This thread's tree-sitter-bash parser, built on first use (the import of the grammar
    is the expensive part and ``ciswitch lint`` must not pay it for werf-free files). One per
    thread: a parser holds the state of the parse it is doing (``fleet run`` lints in several
    threads); the grammar is shared."""
    thread = _thread.get_ident()
    found = _PARSER.get(thread)
    if found is None:
        from tree_sitter import Language, Parser

        if not _LANGUAGE:
            _LANGUAGE.append(Language(_bash_language()))
        found = _PARSER[thread] = Parser(_LANGUAGE[0])
    return found


def _bash_language() -> object:
    """tree-sitter-bash's grammar, from its compiled module alone.

    The package's ``__init__`` imports :mod:`importlib.resources` (for highlight queries
    ciswitch never reads), and with it tempfile, shutil, lzma and bz2: a good part of a small
    file's lint. Its ``_binding`` extension is loaded directly when it is where the package's
    spec says; otherwise the package is imported as usual."""
    import importlib.machinery
    import importlib.util

    binding = sys.modules.get("tree_sitter_bash._binding")
    if binding is None:
        package = importlib.util.find_spec("tree_sitter_bash")
        locations = package.submodule_search_locations if package is not None else None
        spec = importlib.machinery.PathFinder.find_spec(
            "tree_sitter_bash._binding", list(locations or ())
        )
        if spec is None or not isinstance(spec.loader, importlib.machinery.ExtensionFileLoader):
            import tree_sitter_bash

            return tree_sitter_bash.language()
        binding = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(binding)
    return binding.language()


def parse_unglued(text: str) -> Tree:
    """Parse, working around a tree-sitter-bash (0.25) bug.

    It reads ``A=1 B=2<newline>echo x`` as *one* command with two env prefixes, and after
    ``A=1 B=2<newline># comment<newline>if x; then y; fi`` even makes ``if`` a command name,
    where bash sees an assignment statement and then the next one; after a pipeline that
    starts with an assignment (``A=1 | x | y``) the next line's words become arguments of
    ``y``. Each such line end is re-parsed as the ``;`` it means: the blank or newline right
    after the word before it becomes a ``;`` in a copy of the text (one ASCII character for
    another, so byte and character offsets stay those of the original text).
    """
    guessed = _unglued_guess(text)
    if guessed is not None:
        tree = _unglue(*guessed)
        if not tree.root_node.has_error:
            return tree
        # a script that does not parse cleanly: its tree is the one of the plain method
    return _unglue(text, parser().parse(text.encode("utf-8", "surrogatepass")))


def _unglue(current: str, tree: Tree) -> Tree:
    """Replace the glued line ends the tree shows and parse again, until none is left."""
    for _ in range(64):
        positions = _glued_line_ends(tree, current)
        if not positions:
            break
        chars = list(current)
        for position in positions:
            chars[position] = ";"
        current = "".join(chars)
        tree = parser().parse(current.encode("utf-8", "surrogatepass"))
    return tree


#: A line of two or more plain assignments (``A=1 B=2``, nothing quoted or expanded), with
#: the next line starting with a plain command word or an assignment: the glued shape.
#: Group 1 ends where the last assignment does.
_GLUED_LINE = lazy_compile(
    r"^([ \t]*(?:[A-Za-z_][A-Za-z0-9_]*=[A-Za-z0-9_./:,@%+-]*[ \t]+)+"
    r"[A-Za-z_][A-Za-z0-9_]*=[A-Za-z0-9_./:,@%+-]*)[ \t]*\r?\n"
    r"(?=[ \t]*(?!(?:if|then|else|elif|fi|case|esac|for|select|while|until|do|done|in|"
    r"function|time|coproc)(?![A-Za-z0-9_./-]))(?:[A-Za-z_./][A-Za-z0-9_./-]*(?:[ \t;]|\r?\n|$)"
    r"|[A-Za-z_][A-Za-z0-9_]*=))",
    re.M,
)


def _unglued_guess(text: str) -> tuple[str, Tree] | None:
    """The text with its glued line ends already replaced by ``;``, and its tree, when every
    line of the glued shape (:data:`_GLUED_LINE`) turns out to be a statement of its own;
    None when there is no such line or any of them is not (inside a here-document, a string):
    then the text is parsed as it is.

    tree-sitter-bash takes time growing faster than the text on glued lines (a script of many
    of them: seconds), and :func:`parse_unglued` would parse the glued text first; the text
    with ``;`` in their place parses in linear time. The lines found here are the ones the
    loop of :func:`parse_unglued` finds (a statement of assignments, then a command on the
    next line); it still runs on the tree returned, for any other kind of glued line."""
    if "=" not in text:
        return None
    positions = [m.end(1) for m in _GLUED_LINE.finditer(text)]
    if not positions:
        return None
    chars = list(text)
    for position in positions:
        if chars[position] not in " \t\r\n":
            return None
        chars[position] = ";"
    current = "".join(chars)
    tree = parser().parse(current.encode("utf-8", "surrogatepass"))
    root = tree.root_node
    if root.has_error:
        return None
    at = previous = 0
    replaced: list[int] = []
    for position in positions:
        at += len(current[previous:position].encode("utf-8", "surrogatepass"))
        previous = position
        replaced.append(at)
    ends = set(replaced)
    for at in replaced:
        node = root.descendant_for_byte_range(at, at + 1)
        if node is None or node.type != ";" or node.is_named:
            return None
        before, after = node.prev_sibling, node.next_named_sibling
        if (
            before is None
            or before.type != "variable_assignments"
            or before.end_byte != at
            or after is None
            or not (
                after.type == "command"
                # a chain of assignment lines glues only when a command ends it
                or (after.type == "variable_assignments" and after.end_byte in ends)
            )
        ):
            return None
    return current, tree


#: the nodes of a command's words: bash never continues a command's words over a newline
_WORDS = frozenset({
    "command_name", "word", "string", "raw_string", "ansi_c_string", "translated_string",
    "concatenation", "simple_expansion", "expansion", "number", "command_substitution",
    "arithmetic_expansion",
})


def _glued_line_ends(tree: Tree, text: str) -> list[int]:
    """Where a line ends inside a command node (character offsets): after an assignment line,
    or between two words (``A=1 | x | y<newline>export B=2`` makes ``export`` an argument of
    ``y``). A text without a newline has none (most script lines), and neither has one whose
    only newlines are line continuations or trailing (a werf command written over several
    lines with ``\\``): no walk. (A line end counts only between two children of a command,
    which an error-free tree never places after the last non-blank character.)"""
    if "\n" not in text or (
        "\n" not in real_newlines(text).rstrip(" \t\r\n") and not tree.root_node.has_error
    ):
        return []
    return _walked_glued_line_ends(tree, text)


def _walked_glued_line_ends(tree: Tree, text: str) -> list[int]:
    """:func:`_glued_line_ends` found by walking every command of the tree."""
    positions: list[int] = []
    char = CharMap(text).char

    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "command":
            children = [c for c in node.children if not c.is_extra]
            prefix = True
            for child, following in pairwise(children):
                prefix = prefix and child.type == "variable_assignment"
                if not prefix and not (child.type in _WORDS and following.type in _WORDS):
                    continue
                end = char(child.end_byte)
                if end < len(text) and text[end] in " \t\r\n" and real_newline(
                    text, end, char(following.start_byte)
                ):
                    positions.append(end)
                    break
        # a node without children (a word, an operator) is no command and holds none
        stack.extend(child for child in node.children if child.child_count)
    return positions


class CharMap:
    """Byte offset -> character offset for one text.

    Only non-ASCII characters make the two differ, so it keeps, for each of them, the byte
    where it ends and how many extra bytes the text holds up to there; a lookup is a bisect.
    """

    def __init__(self, text: str) -> None:
        self._ends: list[int] = []
        self._extra: list[int] = []
        extra = 0
        if text.isascii():  # every character one byte (most scripts): nothing to look up
            return
        for match in _NON_ASCII.finditer(text):
            code = ord(match.group())
            extra += 1 if code < 0x800 else 2 if code < 0x10000 else 3
            self._ends.append(match.end() + extra)
            self._extra.append(extra)

    def char(self, byte: int) -> int:
        if not self._ends:
            return byte
        index = bisect_right(self._ends, byte)
        return byte - (self._extra[index - 1] if index else 0)


def real_newline(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` ends a line (a newline that is not a line continuation)."""
    return "\n" in real_newlines(text[start:end])


def real_newlines(text: str) -> str:
    """``text`` without its line continuations (a backslash and the line break after it)."""
    return text.replace("\\\r\n", "").replace("\\\n", "")

