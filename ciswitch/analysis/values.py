"""What a CI variable's value means to werf: ``:local`` or not, whether a job keeps a stages
storage without its ``:local`` definitions, and the flags in a value the shell splits into
words (``werf deploy $WERF_EXTRA_ARGS``), and whether a text gives a shell a command string."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Literal

from ciswitch.gitlab import Variable, resolve_value
from ciswitch.model import LOCAL
from ciswitch.patterns import lazy_compile

if TYPE_CHECKING:
    from ciswitch.shell import FlagUse, WerfCall
    from ciswitch.workspace import Workspace


def is_local(value: str | None) -> bool:
    """Whether a value is ``:local`` (GitLab keeps a quoted value's spaces; werf reads the
    value either way, so spaces around it do not hide it)."""
    return value is not None and value.strip() == LOCAL


def keeps_storage(
    definitions: tuple[Variable, ...], candidates: Mapping[str, tuple[Variable, ...]]
) -> bool:
    """Whether a definition that always holds and is not :local is left once the :local
    ones above it are removed (the child job's own value under a trigger one)."""
    for var in definitions:
        if var.conditional:
            continue
        value = resolve_value(var, candidates)
        if is_local(value):
            continue
        return value is not None and bool(value.strip())
    return False


def flags_in_words(text: str, call: WerfCall) -> Iterator[FlagUse]:
    """The stages-storage and synchronization flags among the blank-separated words of a
    value, the way werf's flag parser reads them."""
    from ciswitch.shell import FlagUse, Word  # the shell parser loads only when needed
    from ciswitch.shell.werf import split_flag

    words = [
        Word(m.group(), m.group(), None, m.start(), m.end()) for m in re.finditer(r"\S+", text)
    ]
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word.raw == "--":
            return
        found = split_flag(word.raw, call.takes_stages_storage, call.takes_synchronization)
        if found is None:
            continue
        name, spelling, equals = found
        if word.raw == spelling:
            if i >= len(words):
                return
            value = words[i]
            i += 1
            yield FlagUse(name, spelling, "separate", value, (word, value), word.start, value.end)
            continue
        cut = len(spelling) + (1 if equals else 0)
        rest = word.raw[cut:]
        value = Word(rest, rest, None, word.start + cut, word.end)
        form: Literal["equals", "attached"] = "equals" if equals else "attached"
        yield FlagUse(name, spelling, form, value, (word,), word.start, word.end)


#: a shell given a command string (``bash -c``, ``sh -ec``): worth parsing when the string may
#: run a repository file, though it does not mention werf
_COMMAND_STRING = lazy_compile(r"\b(?:ba|da|z|k|a|mk)?sh\s+(?:[-+]\S+\s+)*-[A-Za-z]*c")


def string_runs_files(text: str, workspace: Workspace) -> bool:
    """Whether a text may give a shell a command string that runs a repository file."""
    if not (("sh -" in text or "sh\t" in text) and _COMMAND_STRING.search(text) is not None):
        return False
    from ciswitch.scripts.prefilter import may_run_files

    return may_run_files(text, workspace)
