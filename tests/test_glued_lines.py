"""Glued assignment lines (``A=1 B=2`` then a command on the next line): the shortcut that
replaces them before the first parse gives the tree of the plain method (parse, find the glued
line ends in the tree, replace them by ``;``, parse again until none is left), up to the ``;``
tokens themselves: where tree-sitter-bash happened not to glue a line (it depends on what
follows, even lines later), the plain method keeps the newline and the shortcut has a ``;``,
which bash reads the same way after a statement. Every other node, and every byte range, is
the same."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ciswitch.shell import parse

LINES = [
    "A=1 B=2",
    "A=1 B=2 ",
    "X=a Y=b Z=c",
    "C=3",
    "C=3 D=4",
    "A=\"1 2\" B=2",
    "echo x",
    "  echo indented",
    "werf build --stages-storage :local",
    "# a comment",
    "",
    "if true; then",
    "fi",
    "for i in 1 2; do",
    "done",
    "cat <<EOF",
    "EOF",
    "echo 'open",
    "close'",
    "echo \"open",
    "close\"",
    "echo a \\",
    "X=$(",
    ")",
    "f() {",
    "}",
    "E=1 F=2 # trailing",
    "G=x.y H=/p/q",
    "echo x > out",
    "echo x | tee log",
    "true && echo ok",
    "cat <<-END",
    "END",
    "case $x in",
    "a) A=1 B=2;;",
    "esac",
    "{ echo a; }",
    "(echo sub)",
    "! echo not",
    "A=1 B=2 echo prefixed",
    "export E=1",
    "echo ${A}",
    "werf ci-env gitlab --as-file",
    "A=1 | x | y",
    "export B=2",
    "cat f | grep x | sort",
]


def _shape(tree: Any) -> list[tuple[str, int, int]]:
    """Every node of the tree: its type and byte range, in document order."""
    found: list[tuple[str, int, int]] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == ";" and not node.is_named:
            continue
        found.append((node.type, node.start_byte, node.end_byte))
        stack.extend(reversed(node.children))
    return found


def _plain(text: str) -> list[tuple[str, int, int]]:
    """The text the plain method parses last (its loop, as it was before the shortcut)."""
    tree = parse.parser().parse(text.encode("utf-8", "surrogatepass"))
    return _shape(parse._unglue(text, tree))


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(LINES), min_size=1, max_size=12), st.sampled_from(["\n", "\r\n"]))
def test_shortcut_gives_the_plain_tree(lines: list[str], newline: str) -> None:
    text = newline.join(lines) + newline
    assert _shape(parse.parse_unglued(text)) == _plain(text)


def test_glued_lines_are_replaced_before_the_first_parse() -> None:
    text = "A=1 B=2\nC=3 D=4\necho x\n"
    guessed = parse._unglued_guess(text)
    assert guessed is not None
    assert guessed[0] == "A=1 B=2;C=3 D=4;echo x\n"
    assert _shape(guessed[1]) == _plain(text)


def test_a_here_document_is_parsed_as_it_is() -> None:
    assert parse._unglued_guess("cat <<EOF\nA=1 B=2\necho x\nEOF\n") is None


CONTINUED = [
    *LINES,
    "werf run --stages-storage :local app \\",
    "  -- ./report.sh 1 \\",
    "  --verbose",
    "A=1 B=2 \\",
    "echo \\\\",
    "echo 'a \\",
    "   ",
    "\t",
    "ls",
]


@settings(max_examples=1500, deadline=None)
@given(
    st.lists(st.sampled_from(CONTINUED), min_size=1, max_size=8),
    st.sampled_from(["\n", "\r\n"]),
    st.sampled_from(["", "\n", "\n\n", " \n"]),
)
def test_skipping_texts_without_a_real_line_end_skips_no_glued_one(
    lines: list[str], newline: str, tail: str,
) -> None:
    """A text whose only line ends are continuations or trailing is not walked: the walk
    would have found nothing there either (errors in the tree included)."""
    text = newline.join(lines) + tail.replace("\n", newline)
    tree = parse.parser().parse(text.encode("utf-8", "surrogatepass"))
    assert parse._glued_line_ends(tree, text) == parse._walked_glued_line_ends(tree, text)


def test_a_glued_line_between_continued_ones_is_found() -> None:
    text = "X=1 Y=2 \\\n  Z=3\nwerf build \\\n  --stages-storage :local\n"
    tree = parse.parser().parse(text.encode())
    assert parse._walked_glued_line_ends(tree, text)
    assert parse._glued_line_ends(tree, text) == parse._walked_glued_line_ends(tree, text)
