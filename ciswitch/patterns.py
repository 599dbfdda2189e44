"""Regular expressions compiled on first use.

A module-level ``re.compile`` runs when its module is imported, and a plain ``lint`` of a small
file imports some forty of them while using fewer than half (pre-commit starts one process per
commit, so this is part of every commit). :func:`lazy_compile` stands for ``re.compile`` at
module level: the pattern is compiled the first time one of its attributes is used, and each
attribute (``search``, ``match``...) is then kept on the object, so later uses cost what a
compiled pattern's own do.
"""

from __future__ import annotations

import re
from typing import Any, cast


class _LazyPattern:
    """A pattern that compiles itself when first used (see the module's description)."""

    def __init__(self, regex: str, flags: int) -> None:
        self._regex = regex
        self._flags = flags

    def __getattr__(self, name: str) -> Any:
        state = self.__dict__
        compiled = state.get("_compiled")
        if compiled is None:
            compiled = state["_compiled"] = re.compile(self._regex, self._flags)
        value = getattr(compiled, name)
        if not name.startswith("__"):
            state[name] = value
        return value

    def __repr__(self) -> str:
        return f"lazy_compile({self._regex!r}, {self._flags!r})"


def lazy_compile(regex: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile(regex, flags)``, done when the pattern is first used."""
    return cast("re.Pattern[str]", _LazyPattern(regex, flags))
