"""A werf command of plain words is read without the parser: the reading made from its words
must be the one the parser's walk makes, for every text the shortcut takes, and the texts it
cannot read exactly (quotes, expansions, operators, prefixes, ``werf ci-env``...) must go to
the parser."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ciswitch.shell.analyse import _parsed_reading, _plain_werf_reading, analyse

WORDS = [
    "werf", "build", "run", "cleanup", "purge", "deploy", "converge", "build-and-publish",
    "stages", "sync", "switch-from-local", "ci-env", "gitlab", "--stages-storage", ":local",
    "--stages-storage=:local", "-s", "-s:local", "-S", ":local", "--synchronization",
    "--synchronization=:local", "--dir", "images/app1", "--", "./report.sh", "0", "12",
    "--tag-custom", "v1.2.3", "--set", "a=b", "x=1", "X=1", "--env=prod", "@x", "%y", "+z",
    "a,b", ".", "..", "-", "--log-project-dir", "werf", "env", "sudo", "bash", "-c",
    "/usr/bin/werf", "--repo=registry.example.com:5000/app", "9a", "_a",
]
#: words that are not plain: the parser must read the texts holding them
OTHER_WORDS = [
    "'q'", '"q"', "$X", "${X}", "a*b", "a?b", "[ab]", "{a,b}", "~/x", "a\\b", "a#b", "#x",
    "!", ";", "&&", "|", ">", "2>&1", "$(echo x)", "`x`", "(x)", "é", "a\u3000b",
]
SEPARATORS = [" ", "  ", "\t", " \\\n  ", "\\\n", " \\\n", "\\\r\n", "\n"]
HEADS = ["", "# comment\n", "WERF_STAGES_STORAGE=\":local\" ", "A= ", "A=1 B='x' ",
         "A=b\\\n  ", "A=\"\" ", "A='' ", "A=\"$X\" ", "A=~/x ", "A=\"a b\" ", "9A=1 ",
         "A+=1 ", "A=(x) ", "# Запуск тестов (медленно)\n", "\n", "  # x \\\n", "#\n\n",
         "  \n", "# \x00 nul\n", "#!/bin/sh\n", "A=1 "]
TAILS = ["", "\n", " \n\n", "\t", " # trailing", "\n# after\n", " \\\n"]


@st.composite
def commands(draw: st.DrawFn) -> str:
    head = draw(st.sampled_from(HEADS))
    pool = WORDS if draw(st.booleans()) else WORDS + OTHER_WORDS
    words = draw(st.lists(st.sampled_from(pool), min_size=0, max_size=8))
    first = draw(st.sampled_from(["werf", "werf", "werf", " werf", "\twerf", "WERF", "xwerf", "",
                                  "A=1"]))
    text = head + first
    for word in words:
        text += draw(st.sampled_from(SEPARATORS)) + word
    return text + draw(st.sampled_from(TAILS))


@settings(max_examples=3000, deadline=None)
@given(commands())
def test_a_plain_reading_is_the_parsed_one(text: str) -> None:
    plain = _plain_werf_reading(text)
    if plain is not None:
        assert plain == _parsed_reading(text)


def test_the_common_shapes_are_read_without_the_parser() -> None:
    """Not vacuous: the shapes a werf pipeline is full of take the shortcut."""
    for text in [
        "werf cleanup --stages-storage :local --dir images/extra1",
        "werf run --stages-storage :local extra1 \\\n  -- ./report.sh 1\n",
        "# Сборка\nwerf run --stages-storage :local app1 \\\n  -- ./check.sh --module m1 \\\n"
        "  --verbose\n",
        "werf build-and-publish --stages-storage=:local --tag-custom v1",
        "werf",
        'WERF_STAGES_STORAGE=":local" werf purge --dir images/extra1',
        "A= B=x WERF_SYNCHRONIZATION=':local' werf build",
    ]:
        plain = _plain_werf_reading(text)
        assert plain is not None, text
        assert plain == _parsed_reading(text)
        assert plain.werf_calls


def test_other_texts_go_to_the_parser() -> None:
    for text in [
        "werf ci-env gitlab --as-file",  # where its output is applied depends on the command
        'werf build --stages-storage ":local"',
        'WERF_STAGES_STORAGE="$X" werf build',
        "A=1 echo werf",
        "A=1",
        "A=1 B=2\n",
        "WERF_STAGES_STORAGE=:local",
        "werf build $ARGS",
        "werf build; werf run",
        "werf build \\\n",
        "werf build # comment",
        "env werf build",
        "werf build\necho done",
    ]:
        assert _plain_werf_reading(text) is None, text


def test_analyse_reads_plain_and_other_texts_alike() -> None:
    text = "werf cleanup --stages-storage :local --dir images/extra1"
    assert analyse(text) == _parsed_reading(text)
    other = 'WERF_STAGES_STORAGE=":local" werf purge --dir images/extra1'
    assert analyse(other) == _parsed_reading(other)


def test_a_long_text_of_prefix_like_words_is_turned_away_at_once() -> None:
    """``A=1`` is both a prefix and a plain word: a pattern that tried both readings of each
    took quadratic time to turn such a text away (20,000 of them: minutes)."""
    assert _plain_werf_reading("A=1 " * 20_000 + 'x"') is None
    assert _plain_werf_reading("A=1 " * 20_000 + "werf build") is not None
