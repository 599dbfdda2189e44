"""The cheap bound in front of the exact nesting scan: a text it lets through has no flow
collection at all, as the C parser's own events show (the oracle), and deep flow nesting in
every place a flow collection can start is still refused."""

from __future__ import annotations

import itertools

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import MappingStartEvent, SequenceStartEvent

from ciswitch.errors import CiswitchError
from ciswitch.source import MAX_DEPTH, _flow_may_start, check_nesting, compose_documents


def _flow_events(text: str) -> int | None:
    """How many flow collections the C parser starts in ``text`` (None: invalid YAML)."""
    yaml = YAML(typ="safe", pure=False)
    count = 0
    try:
        for event in yaml.parse(text):
            if isinstance(event, (MappingStartEvent, SequenceStartEvent)) and event.flow_style:
                count += 1
    except YAMLError:
        return None
    return count


#: pieces of lines: where a node may start, properties, and what follows
_LEADS = ["", "  ", "- ", "-\t", "- - ", "key: ", "key:\t", "? ", ": ", "--- ", "key:", "-",
          "echo a ", "echo ${A} ", "x: a ", '"q" ', "x: 'a ", "x: |\n  ", "# c ", "a-", "a:b "]
_PROPS = ["", "&a ", "!t ", "!!seq ", "&a !t ", "!t &a ", "&a", "!<tag:x> ", "&a\t"]
_OPENERS = ["[", "{", "[ ", "{ "]
_TAILS = ["a]", "a: b}", " -f x ]", "x}", "]", "}", "a, [b]]", "VAR}"]


def _cases() -> list[str]:
    cases = []
    for lead, prop, opener, tail in itertools.product(_LEADS, _PROPS, _OPENERS, _TAILS):
        cases.append(lead + prop + opener + tail + "\n")
        cases.append("job:\n  script:\n    " + lead + prop + opener + tail + "\n")
    return cases


@pytest.mark.parametrize("chunk", range(8))
def test_a_text_the_bound_lets_through_has_no_flow_collection(chunk: int) -> None:
    cases = _cases()
    checked = 0
    for text in cases[chunk::8]:
        if _flow_may_start(text):
            continue
        checked += 1
        assert _flow_events(text) in (0, None), text
    assert checked > 100  # the bound does let texts through


def test_script_brackets_are_let_through_and_flow_lists_are_not() -> None:
    script = 'job:\n  script:\n    - |\n      if [ -f "${A}/x" ]; then echo "${B}"; fi\n'
    assert not _flow_may_start(script * 200)
    assert _flow_may_start(script * 200 + "other:\n  only: [main]\n")


@pytest.mark.parametrize(
    "lead",
    ["x: ", "- ", "x: &a ", "x: !!seq ", "? ", "", "x:\n  ", "- &a !!seq ", "--- "],
)
def test_deep_flow_nesting_in_every_starting_place_is_refused(lead: str) -> None:
    # beside many brackets of scripts (another document), so that the count alone would
    # not decide
    scripts = "---\ns:\n  - |\n" + '    [ -f "${A}" ]\n' * 120
    depth = MAX_DEPTH + 5
    text = lead + "[" * depth + "x" + "]" * depth + "\n" + scripts
    assert _flow_events(text)
    with pytest.raises(CiswitchError, match="nested deeper than"):
        check_nesting(text, "deep.yml")


def test_many_script_brackets_compose_without_the_exact_scan() -> None:
    text = "job:\n  script:\n" + '    - if [ -f "${A}" ]; then echo "${B}"; fi\n' * 500
    check_nesting(text, "ok.yml")
    assert len(compose_documents(text, "ok.yml")) == 1


@pytest.mark.parametrize("before", ["", "a: 1\n", "a: 1\r\n", "# c\n\n"])
@pytest.mark.parametrize(
    "indent",
    [
        "  " * (MAX_DEPTH // 4),
        "- " * (MAX_DEPTH // 4),
        "\t" * (MAX_DEPTH // 2),
        # every character of the quick line test counts: each indicator, space and tab
        "-\t" * (MAX_DEPTH // 4),
        "? " * (MAX_DEPTH // 4),
        ": " * (MAX_DEPTH // 4),
        "- ? : \t" * (MAX_DEPTH // 14) + " " * (MAX_DEPTH // 2 - 7 * (MAX_DEPTH // 14)),
    ],
)
def test_a_deep_block_line_is_scanned_on_the_first_line_and_later_ones(
    before: str, indent: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Indentation and block indicators half the limit long send a text to the exact scan,
    on its first line as on a later one; one column less does not."""
    from ciswitch import source

    scanned: list[str] = []
    monkeypatch.setattr(source, "safe_yaml", lambda: scanned.append("scan") or YAML(typ="safe"))
    check_nesting(before + indent + "x\n", "f.yml")
    check_nesting(before + indent[1:] + "x\n", "f.yml")
    assert scanned == ["scan"]


def test_a_long_line_start_without_indicators_followed_by_a_space_is_not_scanned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The quick line test takes ``-``, ``?`` and ``:`` without looking at what follows;
    the exact one still does: ``--`` and ``::`` are no block indicators, nothing is
    nested."""
    from ciswitch import source

    scanned: list[str] = []
    monkeypatch.setattr(source, "safe_yaml", lambda: scanned.append("scan") or YAML(typ="safe"))
    for run in ("-" * MAX_DEPTH, ":" * MAX_DEPTH, "?-" * (MAX_DEPTH // 2)):
        check_nesting("a: 1\n" + run + "x\n", "f.yml")
    assert scanned == []


@pytest.mark.parametrize("opener", ["[", "{"])
def test_each_opener_is_looked_at_when_the_other_fills_the_text(opener: str) -> None:
    """Openers are looked for one kind after the other: a flow collection of either kind
    after many of the other, in scripts, is still a place where one starts."""
    other = "{" if opener == "[" else "["
    script = f"job:\n  script:\n    - echo {other}{other}{other}\n" * 100
    closer = "]" if opener == "[" else "}"
    flow = f"other: {opener}a{closer}\n"
    assert not _flow_may_start(script)
    assert _flow_may_start(script + flow)
    assert _flow_may_start(flow + script)
