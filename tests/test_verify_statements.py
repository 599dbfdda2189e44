"""The statement check of the fix's proof (:func:`ciswitch.verify.statements_kept`): how old and
new statements are aligned.

One statement on each side is aligned one to one, without the sequence diff (a script line's
usual edit); two or more on each side still try both alignments, and each is needed by a case
below (so the one-to-one shortcut cannot be taken past a single statement, nor the sequence
diff alone trusted)."""

from __future__ import annotations

from collections import Counter

from ciswitch.shell import words_of
from ciswitch.verify import statements_kept

GROUPS = frozenset({("--stages-storage", ":local")})


def _kept(old: str, new: str) -> bool:
    removed = Counter(words_of(old)) - Counter(words_of(new))
    return statements_kept(old, new, removed, GROUPS)


def test_one_statement_with_its_flag_cut_out_is_kept() -> None:
    assert _kept("werf build --stages-storage :local --dir x", "werf build --dir x")
    assert _kept("werf build --stages-storage :local && \\\n  echo", "werf build && \\\n  echo")


def test_one_statement_whose_words_moved_is_not_kept() -> None:
    assert not _kept("werf build --stages-storage :local --dir x", "werf --dir x build")


def test_two_statements_need_the_sequence_alignment() -> None:
    # one to one, the first statement would have lost words it kept; the sequence diff pairs
    # the build with itself and the cleanup with the no-op left in its place
    assert _kept(
        "werf build --stages-storage :local; werf cleanup --stages-storage :local",
        "true; werf build --stages-storage :local",
    )


def test_two_statements_need_the_one_to_one_alignment() -> None:
    # the sequence diff pairs the two equal ``werf build``: only position says which went
    assert _kept("werf build --stages-storage :local || werf build", "werf build || true")
