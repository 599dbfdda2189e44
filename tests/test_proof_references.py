"""The pipeline proof's ``!reference`` index: every spelling of the tag is found (a file is
only skipped when it cannot hold the tag at all), in document order, an anchor's references
once however many aliases reach it."""

from __future__ import annotations

from typing import Any

import pytest

from ciswitch.analysis.proof import _references, may_hold_reference, tops_of
from ciswitch.source import SourceFile

TEMPLATES = ".tpl:\n  variables:\n    A: one\n    B: two\n  script: [echo]\n"


def _found(text: str) -> list[tuple[tuple[str, str, int], list[str], Any]]:
    file = SourceFile("ci.yml", None, text, False)
    return [
        (where, path, None if target is None else target.value)
        for where, (path, target) in _references([file], tops_of([file]))
    ]


@pytest.mark.parametrize(
    "tag",
    ["!reference", "!<!reference>", "!re%66erence", "!g!reference"],
)
def test_every_spelling_of_the_tag_is_found(tag: str) -> None:
    head = "%TAG !g! !\n---\n" if tag.startswith("!g!") else ""
    text = f"{head}{TEMPLATES}job:\n  variables:\n    A: {tag} [.tpl, variables, A]\n"
    assert may_hold_reference(text)
    assert _found(text) == [(("ci.yml", "job", 0), [".tpl", "variables", "A"], "one")]


def test_a_file_without_the_tag_is_skipped_and_holds_none() -> None:
    text = f"{TEMPLATES}job:\n  variables:\n    A: reference\n  script: [echo !ref]\n"
    assert not may_hold_reference(text)
    assert _found(text) == []


def test_references_in_document_order_an_anchor_once() -> None:
    text = (
        f"{TEMPLATES}"
        "job:\n"
        "  before_script: &pre\n"
        "    - !reference [.tpl, script]\n"
        "    - [x, !reference [.tpl, variables, B]]\n"
        "  script:\n"
        "    - *pre\n"
        "    - {k: !reference [.nothing, here]}\n"
        "    - !reference [.tpl, variables, A]\n"
        "other:\n"
        "  script: *pre\n"
    )
    assert [(where, path) for where, path, _ in _found(text)] == [
        (("ci.yml", "job", 0), [".tpl", "script"]),
        (("ci.yml", "job", 1), [".tpl", "variables", "B"]),
        (("ci.yml", "job", 2), [".nothing", "here"]),
        (("ci.yml", "job", 3), [".tpl", "variables", "A"]),
        (("ci.yml", "other", 0), [".tpl", "script"]),
        (("ci.yml", "other", 1), [".tpl", "variables", "B"]),
    ]
    assert [target for _, _, target in _found(text)][2] is None
