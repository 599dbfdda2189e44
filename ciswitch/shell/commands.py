"""Every simple command of a shell text, with its name and argument words.

The werf walk only looks at werf commands; following the scripts a job runs needs the others
too (``bash ci/build.sh``, ``. ci/env.sh``, ``python3 -m ci.deploy``). This is a separate,
generic reading of the same tree-sitter-bash tree so that the werf walk stays untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from ciswitch.shell.model import Word
from ciswitch.shell.syntax import Source, lazy_word_of

if TYPE_CHECKING:
    from tree_sitter import Node


@dataclass(frozen=True)
class CommandInfo:
    """One simple command: its name word, its argument words, and its span in the text."""

    name: Word
    args: tuple[Word, ...]
    start: int
    end: int
    #: the child shells it runs in, outermost first (each a subshell ``( )``, a command or
    #: process substitution, or a pipeline element), by their start: ``cd`` there stays there
    scope: tuple[int, ...] = ()
    #: the file its standard input is read from: ``< FILE`` (written before or after it), or
    #: the one file of a ``cat FILE`` piped into it (a shell given no script reads it)
    stdin: Word | None = None


@lru_cache(maxsize=1024)
def commands(text: str) -> tuple[CommandInfo, ...]:
    """Every command of ``text`` in source order, nested ones (``$(...)``, function bodies,
    conditionals, pipelines) included; heredoc bodies and comments are not commands."""
    src = Source(text)
    found: list[CommandInfo] = []
    stack: list[Node] = [src.root]
    while stack:
        node = stack.pop()
        if node.type == "command":
            info = _command(src, node)
            if info is not None:
                found.append(info)
        if node.child_count:
            stack.extend(reversed(node.children))
    found.sort(key=lambda c: c.start)
    return tuple(found)


#: nodes whose commands run in a child shell of their own
_CHILD_SHELLS = frozenset({"subshell", "command_substitution", "process_substitution"})


def _scope(node: Node) -> tuple[int, ...]:
    """The child shells around a command, outermost first (read from its ancestors: only
    commands pay for it)."""
    found: list[int] = []
    previous = node
    current = node.parent
    while current is not None:
        kind = current.type
        if kind in _CHILD_SHELLS:
            found.append(current.start_byte)
        elif kind == "pipeline":
            found.append(previous.start_byte)
        previous, current = current, current.parent
    found.reverse()
    return tuple(found)


def _command(src: Source, node: Node) -> CommandInfo | None:
    name = node.child_by_field_name("name")
    if name is None:
        return None
    name_word, _ = lazy_word_of(src, name.named_children[0] if name.named_child_count else name)
    args = tuple(lazy_word_of(src, a)[0] for a in node.children_by_field_name("argument"))
    return CommandInfo(name_word, args, src.start(name), src.end(node), _scope(node),
                       _stdin(src, node))


def _stdin(src: Source, node: Node) -> Word | None:
    """The file ``node``'s standard input comes from (see :attr:`CommandInfo.stdin`); the last
    redirection wins, as in the shell."""
    found: Word | None = None
    for child in node.children:  # ``< FILE bash``
        if child.type == "file_redirect":
            found = _input_file(src, child) or found
    element = node
    parent = node.parent
    if parent is not None and parent.type == "redirected_statement":
        body = parent.child_by_field_name("body")
        if body is not None and body.id == node.id:  # ``bash < FILE``
            for child in parent.children_by_field_name("redirect"):
                found = _input_file(src, child) or found
            element, parent = parent, parent.parent
    if found is None and parent is not None and parent.type == "pipeline":
        previous = element.prev_named_sibling
        if previous is not None and previous.type == "command":
            found = _cat_file(src, previous)
    return found


def _input_file(src: Source, redirect: Node) -> Word | None:
    """The file of a ``< FILE`` (or ``0< FILE``) redirection."""
    if redirect.type != "file_redirect":
        return None
    descriptor = redirect.child_by_field_name("descriptor")
    if descriptor is not None and src.node_text(descriptor) != "0":
        return None
    if not any(child.type == "<" for child in redirect.children):
        return None
    destination = redirect.child_by_field_name("destination")
    return None if destination is None else lazy_word_of(src, destination)[0]


def _cat_file(src: Source, command: Node) -> Word | None:
    """The one file ``cat FILE`` prints (None for any other command, or other arguments)."""
    name = command.child_by_field_name("name")
    if name is None or src.node_text(name) not in ("cat", "/bin/cat", "/usr/bin/cat"):
        return None
    args = command.children_by_field_name("argument")
    if len(args) != 1 or src.node_text(args[0]).startswith("-"):
        return None
    return lazy_word_of(src, args[0])[0]
