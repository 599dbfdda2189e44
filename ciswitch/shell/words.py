"""The meaning of a shell text as the fix verifier compares it: its words, per statement.

It shares only the parsing with the werf-specific walk and reads every word of every
statement generically, so an edit that swallows a line (a dangling ``\\`` continuation), cuts a
word in half, or touches a neighbour shows up as a difference.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from ciswitch.shell.syntax import WORD_TYPES, Source, atoms, split_prefixes, static_value

if TYPE_CHECKING:
    from tree_sitter import Node

#: statements whose words form one group
_SIMPLE = frozenset({
    "command", "declaration_command", "unset_command", "variable_assignments", "test_command",
})
#: compound statements whose own words (loop lists, case patterns, names) form a group
_COMPOUND = frozenset({
    "for_statement", "c_style_for_statement", "select_statement", "case_statement", "case_item",
    "function_definition",
})
_EXTRA_WORDS = frozenset({
    "variable_assignment", "heredoc_body", "heredoc_start", "heredoc_end", "test_operator",
    "regex", "variable_name", "file_descriptor", "special_variable_name",
})
#: keywords that are words of their statement (``export A=1`` has two words)
_KEYWORD_WORDS = frozenset({"export", "declare", "typeset", "local", "readonly", "unset",
                            "unsetenv"})
_SUBSTITUTIONS = frozenset({"command_substitution", "process_substitution"})
_SUBSTITUTION_MARK = "$(…)"


def words_of(text: str) -> list[str]:
    """Every word of every statement, in order, comments excluded.

    A word is its value after quote removal when that is static (``":local"`` -> ``:local``,
    ``A=":local"`` -> ``A=:local``); otherwise its text with line continuations removed and each
    command substitution shown as ``$(…)``, the commands inside counting as statements of their
    own. So after an edit that removes words, ``words_of(new)`` is ``words_of(old)`` without
    exactly those words (compare with :func:`statements_of` to also catch statements merging).
    """
    return [word for statement in statements_of(text) for word in statement]


def statements_of(text: str) -> list[tuple[str, ...]]:
    """The words of :func:`words_of`, grouped by the statement they belong to."""
    return [words for _, words in chain_of(text)]


#: operators that join statements into one and-or list or pipeline
CHAIN_OPERATORS = frozenset({"&&", "||", "|", "|&"})


def chain_of(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """Every statement's words with the operator that joins it to the statement before it in
    its and-or list or pipeline (``&&``, ``||``, ``|``, ``|&``; ``""`` for the first statement
    of a list, a line or a ``;``-separated statement). So a removed line that lets the next
    line join a continued ``a && \\`` shows up: that line's operator changes."""
    return list(_chain(text))


@lru_cache(maxsize=256)
def _chain(text: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """:func:`chain_of`, kept for the few texts in hand: the verifier reads each changed text
    several times (its words, then its statements), a pure function of the text."""
    src = Source(text)
    groups: dict[tuple[int, int], list[str]] = {}
    heads: dict[tuple[int, int], str] = {}
    root = src.root
    stack: list[tuple[Node, tuple[int, int], str]] = [(root, (root.id, 0), "")]
    while stack:
        node, group, parent = stack.pop()
        kind = node.type
        if kind == "comment":
            continue
        if kind in _SIMPLE or kind in _COMPOUND or (
            kind == "variable_assignment"
            and parent not in ("command", "declaration_command", "variable_assignments")
        ):
            group = (node.id, 0)
            heads.setdefault(group, _joined_by(node))
        elif kind == "redirected_statement":
            body = node.child_by_field_name("body")
            group = (body.id, 0) if body is not None and body.type in _SIMPLE else (node.id, 0)
            heads.setdefault(group, _joined_by(node))
        if kind in WORD_TYPES or kind in _EXTRA_WORDS:
            rendered, nested = _render(src, node)
            groups.setdefault(group, []).append(rendered)
            for sub in reversed(nested):
                stack.extend((child, group, sub.type) for child in reversed(sub.children))
            continue
        if not node.is_named:
            if kind in _KEYWORD_WORDS:
                groups.setdefault(group, []).append(kind)
            continue
        children = node.children
        if kind == "command":
            # assignment lines tree-sitter glued onto the command are statements of their own
            glued, _ = split_prefixes(src, node)
            own = {child.id: (node.id, index + 1) for index, line in enumerate(glued)
                   for child in line}
            stack.extend((child, own.get(child.id, group), kind) for child in reversed(children))
            continue
        stack.extend((child, group, kind) for child in reversed(children))
    return tuple((heads.get(key, ""), tuple(words)) for key, words in groups.items() if words)


def _joined_by(node: Node) -> str:
    """The operator before ``node`` in the nearest and-or list or pipeline it is not the head
    of (``""`` when it heads them all)."""
    current = node
    parent = current.parent
    while parent is not None and parent.type in ("list", "pipeline", "redirected_statement",
                                                 "negated_command"):
        if parent.type in ("list", "pipeline"):
            previous = current.prev_sibling
            while previous is not None and previous.type == "comment":
                previous = previous.prev_sibling
            if previous is not None and not previous.is_named:
                return previous.type
        current, parent = parent, parent.parent
    return ""


def _render(src: Source, node: Node) -> tuple[str, list[Node]]:
    """A word's oracle form and the substitutions nested in it (walked as statements)."""
    if node.type == "variable_assignment":
        name = node.child_by_field_name("name")
        value = node.child_by_field_name("value")
        operator = [c for c in node.children if not c.is_named]
        head = (src.node_text(name) if name is not None else "") + (
            src.node_text(operator[0]) if operator else "="
        )
        if value is None:
            return head, []
        rendered, nested = _render(src, value)
        return head + rendered, nested
    if node.type in WORD_TYPES:
        static = static_value(atoms(src, node))
        if static is not None:
            return static, []
    return _raw_with_substitutions(src, node)


def _raw_with_substitutions(src: Source, node: Node) -> tuple[str, list[Node]]:
    nested: list[Node] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type in _SUBSTITUTIONS:
            nested.append(current)
            continue
        stack.extend(reversed(current.children))
    pieces: list[str] = []
    cursor = src.start(node)
    for sub in nested:
        pieces.append(src.text[cursor : src.start(sub)])
        pieces.append(_SUBSTITUTION_MARK)
        cursor = src.end(sub)
    pieces.append(src.text[cursor : src.end(node)])
    return "".join(pieces).replace("\\\n", ""), nested
