"""Flags a script keeps in a variable of its own (``ARGS="-s :local"; werf build $ARGS``).

A flag is placed at its characters inside the assignment's word, which needs each value
character's offset in the word: bash is the judge of what a word's value is. The lint and the
fix are held to real files by the fixtures under ``rules/CSW001/through-shell-variable*`` and
``rules/CSW003/through-shell-variable``, and to bash runs by the fix property test (``fixgen``
draws such lines).
"""

from __future__ import annotations

import subprocess

from hypothesis import given, settings
from hypothesis import strategies as st

from ciswitch.analysis.held import _less, _removal
from ciswitch.analysis.values import _value_offsets, flags_in_assigned_value, value_of_raw
from ciswitch.shell import analyse

#: characters a plain (unquoted) part of a word may hold as themselves
_PLAIN = st.text(st.sampled_from("abz019-_=:./,+%@^АЯ"), min_size=1, max_size=6)
_ANY = st.text(st.sampled_from("ab -:$\"'\\`!*?#;&|()<>{}~\tЯ"), max_size=6)


@st.composite
def _part(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["plain", "escaped", "single", "double", "ansi", "locale"]))
    if kind == "plain":
        return draw(_PLAIN)
    if kind == "escaped":
        return "\\" + draw(st.sampled_from("a -:$\"'\\`*;&|Я"))
    if kind == "single":
        return "'" + draw(_ANY).replace("'", "") + "'"
    if kind in ("double", "locale"):
        body = ""
        for piece in draw(st.lists(st.one_of(
            st.text(st.sampled_from("ab -:*';&|Я!"), min_size=1, max_size=4),
            st.sampled_from(["\\$", '\\"', "\\\\", "\\`", "\\a", "\\-", "\\\n"]),
        ), max_size=4)):
            body += piece
        return ("$" if kind == "locale" else "") + '"' + body + '"'
    return "$'" + draw(_ANY).replace("'", "").replace("\\", "") + "'"


_WORDS = st.lists(st.lists(_part(), min_size=1, max_size=4).map("".join), min_size=1,
                  max_size=8)


def _bash_values(words: list[str]) -> list[str]:
    done = subprocess.run(["bash", "-c", "printf '%s\\0' " + " ".join(words)],
                          capture_output=True, check=True, timeout=30,
                          env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    return done.stdout.decode("utf-8").split("\0")[:-1]


@settings(max_examples=120, deadline=None, derandomize=True, database=None)
@given(_WORDS)
def test_a_words_value_is_what_bash_makes_of_it(words: list[str]) -> None:
    """Each offset is a character of the word, and in order they are the value bash gives."""
    assert [value_of_raw(w) for w in words] == _bash_values(words)


def test_words_that_are_not_their_characters() -> None:
    assert _value_offsets("$'a\\tb'") is None  # an ANSI-C escape is one character of two
    assert _value_offsets('"open') is None
    assert _value_offsets("x\\") is None
    assert value_of_raw('a"b\\"c"\'d e\'') == 'ab"cd e'


def _held(text: str) -> tuple[str, list[tuple[int, int]], bool]:
    reading = analyse(text)
    (assignment,) = reading.assignments
    (call,) = reading.werf_calls
    assert assignment.value is not None
    flags, exact = flags_in_assigned_value(assignment.value, call)
    return text, [(f.start, f.end) for f in flags], exact


def test_flags_are_placed_at_their_characters() -> None:
    text, spans, exact = _held('A="--log-verbose -s \\"x\\" --stages-storage=:local"; '
                               "werf build $A")
    assert exact
    assert [text[s:e] for s, e in spans] == ["-s \\\"x\\\"", "--stages-storage=:local"]
    text, spans, exact = _held("A=$'-s :local\\t-x'; werf build $A")
    assert not exact  # the flag covers the whole word, and its fix is left to a person
    assert [text[s:e] for s, e in spans] == ["$'-s :local\\t-x'"]


def test_the_removal_takes_one_side_of_blanks() -> None:
    for word, flag, expected in [
        ('"-s :local"', "-s :local", '""'),
        ('"-s :local --x"', "-s :local", '"--x"'),
        ('"--x -s :local"', "-s :local", '"--x"'),
        ('"--x  -s :local  --y"', "-s :local", '"--x  --y"'),
        ("-s:local", "-s:local", ""),
    ]:
        start = word.index(flag)
        low, high = _removal(word, 0, len(word), start, start + len(flag))
        assert word[:low] + word[high:] == expected, word


def test_the_words_left_are_the_old_ones_less_the_flag() -> None:
    assert _less(["--x", "-s", ":local", "--y"], ["--x", "--y"], ["-s", ":local"])
    assert not _less(["--x", "-s", ":local"], ["--x", ":local"], ["-s", ":local"])
    assert not _less(["-s", ":local", "--y"], ["--y", "-s"], ["-s", ":local"])
    assert not _less(["-s", ":local"], [], ["-s"])


def test_the_default_of_an_expansion_is_what_bash_gives_when_unset() -> None:
    from ciswitch.analysis.values import default_of
    from ciswitch.shell import Word

    words = ['"${S:-:local}"', "${S-:local}", "${S:-':local'}", '"${S:-x y}"', "${S:=:local}"]
    done = subprocess.run(["bash", "-c", "unset S; printf '%s\\0' " + " ".join(words)],
                          capture_output=True, check=True, text=True, timeout=30)
    assert [default_of(Word(w, None, "S", 0, len(w))) for w in words] == \
        done.stdout.split("\0")[:-1]
    for word in ["${S:-$OTHER}", "${S}", "$S", '"${S:-x}', "${S:+:local}", "${S#:local}"]:
        assert default_of(Word(word, None, "S", 0, len(word))) is None, word
