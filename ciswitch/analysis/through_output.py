"""werf's ``:local`` that reaches it through what a command prints, from a file of the
repository: variables set from a command's output (``export $(grep -v '^#' .env | xargs)``,
``env $(cat .env) werf build``, ``eval "$(sed ... .env)"``, ``source <(cat .env)``), and werf's
own arguments made so (``werf build $(cat ci/werf-flags)``, ``xargs -a ci/werf-flags werf
build``).

The replay sources files and runs the scripts a job runs, but runs no command to see what it
prints. So where such a line reads a repository file that sets werf's variable to ``:local``
(or, for werf's arguments, holds a ``--stages-storage :local`` or ``--synchronization
:local`` flag), the line is a place not checked, naming the file; a file holding no such
setting cannot give werf ``:local`` and is not reported. Files are looked for from the
repository's root.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ciswitch.analysis.mapping import safe_map
from ciswitch.analysis.unread import LOCAL_FLAG, PYTHON_SITES, WERF_VARIABLE, WERF_WORD, shown
from ciswitch.errors import CiswitchError
from ciswitch.model import NotChecked, NotCheckedKind
from ciswitch.patterns import lazy_compile

if TYPE_CHECKING:
    from ciswitch.analysis.facts import Facts
    from ciswitch.analysis.sites import Site
    from ciswitch.workspace import Workspace

#: variables read into the shell from a command's output
_VARIABLES_FROM_OUTPUT = lazy_compile(
    r"(?<![\w-])(?P<command>export|env|eval|declare|typeset|readonly)(?![\w-])[^\n]*?"
    r"(?:\$\(|`)(?P<inner>[^)`\n]*)"
    r"|(?<![\w-])(?P<sourcer>source|\.)[ \t]+<\((?P<sourced>[^)\n]*)"
)
#: a line running werf with words a command prints (a substitution, or werf run by xargs)
_WERF_WORD = lazy_compile(WERF_WORD)
#: what separates the words of a command's text (``$(``, quotes, pipes, redirections)
_WORD_BREAKS = lazy_compile(r"[\s|<>;&'\"()`$]+")
#: a stages-storage or synchronization flag with the value :local, as the net finds it
_FLAG = lazy_compile(LOCAL_FLAG)


def through_output(facts: Facts, workspace: Workspace | None) -> None:
    """Add a place not checked for each such line of the sites read (see the module)."""
    if workspace is None:
        return
    files = _Files(workspace)
    for site in list(facts.sites.values()):
        text = site.text
        if isinstance(site, PYTHON_SITES):
            continue
        if _may_set_variables(text):
            _variables(facts, files, site)
        if "werf" in text and ("$(" in text or "`" in text or "xargs" in text):
            _arguments(facts, files, site)


def _may_set_variables(text: str) -> bool:
    """Whether :data:`_VARIABLES_FROM_OUTPUT` may match (cheap: the search costs some 15 us a
    text)."""
    if "<(" in text:
        return True
    return ("$(" in text or "`" in text) and (
        "export" in text or "eval" in text or "env " in text or "declare" in text
        or "typeset" in text or "readonly" in text
    )


def _variables(facts: Facts, files: _Files, site: Site) -> None:
    for match in _VARIABLES_FROM_OUTPUT.finditer(site.text):
        inner = match["inner"] if match["command"] else match["sourced"]
        found = files.first_holding(_WORD_BREAKS.split(inner), WERF_VARIABLE)
        if found is not None:
            command = match["command"] or match["sourcer"]
            _add(facts, site, match.start(), f"{command} sets variables from what a command"
                 f" prints, and {found[0]}, which it reads, sets {found[1]}")


def _arguments(facts: Facts, files: _Files, site: Site) -> None:
    text = site.text
    at = 0
    for line in text.splitlines(keepends=True):
        start, at = at, at + len(line)
        if not ("$(" in line or "`" in line or "xargs" in line):
            continue
        werf = _WERF_WORD.search(line)
        if werf is None:
            continue
        found = files.first_holding(_WORD_BREAKS.split(line), _FLAG)
        if found is not None:
            _add(facts, site, start + werf.start(), f"werf's arguments come from what a"
                 f" command prints, and {found[0]}, which it reads, holds {found[1]}")


class _Files:
    """The repository's files as the lines name them, each read once however many lines
    name it (a ``.env`` read by every job's ``export $(...)``)."""

    def __init__(self, workspace: Workspace) -> None:
        self._workspace = workspace
        self._texts: dict[str, str | None] = {}

    def first_holding(
        self, words: list[str], setting: re.Pattern[str]
    ) -> tuple[str, str] | None:
        """The first of ``words`` that is a file of the repository holding ``setting``, and
        the setting as it is written there (its quotes left out)."""
        for word in words:
            if not word or word.startswith("-") or "=" in word:
                continue
            text = self._text(word)
            found = None if text is None else setting.search(text)
            if found is not None:
                return word, shown(found)
        return None

    def _text(self, word: str) -> str | None:
        if word not in self._texts:
            text = None
            try:
                if self._workspace.is_file(word):
                    text = self._workspace.read_bytes(word).decode("utf-8", "replace")
            except CiswitchError:
                pass
            self._texts[word] = text
        return self._texts[word]


def _add(facts: Facts, site: Site, at: int, what: str) -> None:
    offset, _ = safe_map(site, at, at)
    facts.add_not_checked(NotChecked(
        site.file.path, site.file.position(offset).line, NotCheckedKind.THROUGH_OUTPUT,
        f"{what}: not read; werf may get :local there, check it by hand",
    ))
