"""What a variable's value means to werf: ``:local`` or not, whether a job keeps a stages
storage without its ``:local`` definitions, the flags in a value the shell splits into words
(``werf deploy $WERF_EXTRA_ARGS``, of a CI variable or one the script sets), and whether a
text gives a shell a command string."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from ciswitch.gitlab import Variable, resolve_value
from ciswitch.model import LOCAL
from ciswitch.patterns import lazy_compile
from ciswitch.record import replace

if TYPE_CHECKING:
    from collections.abc import Callable

    from ciswitch.analysis.session import Session
    from ciswitch.analysis.sites import Site, YamlScalarSite
    from ciswitch.shell import Assignment, FlagUse, WerfCall, Word
    from ciswitch.source import SourceFile
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


def _value_offsets(raw: str) -> list[int] | None:
    """Where each character of a literal shell word's value is written in the word: quotes
    and the backslashes that escape are left out (``"a\\"b"`` -> the offsets of ``a``, ``"``,
    ``b``). None for a word whose characters are not its value one for one (``$'\\n'``)."""
    offsets: list[int] = []
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == "'" or raw.startswith("$'", i):
            i += 1 if c == "'" else 2
            close = raw.find("'", i)
            if close < 0 or (c == "$" and "\\" in raw[i:close]):
                return None
            offsets.extend(range(i, close))
            i = close + 1
        elif c == '"' or raw.startswith('$"', i):
            i += 1 if c == '"' else 2
            while i < n and raw[i] != '"':
                if raw[i] == "\\" and i + 1 < n and raw[i + 1] in '$`"\\\n':
                    if raw[i + 1] != "\n":  # a continued line is no character at all
                        offsets.append(i + 1)
                    i += 2
                    continue
                offsets.append(i)
                i += 1
            if i >= n:
                return None
            i += 1
        elif c == "\\":
            if i + 1 >= n:
                return None
            if raw[i + 1] != "\n":
                offsets.append(i + 1)
            i += 2
        else:
            offsets.append(i)
            i += 1
    return offsets


def value_of_raw(raw: str) -> str | None:
    """A literal shell word's value (its quotes and escaping backslashes removed); None when
    its characters are not its value one for one."""
    offsets = _value_offsets(raw)
    return None if offsets is None else "".join(raw[k] for k in offsets)


def flags_in_assigned_value(word: Word, call: WerfCall) -> tuple[list[FlagUse], bool]:
    """The flags in a shell variable's literal value that ``werf ... $ARGS`` splits into words
    (``ARGS="--stages-storage :local"``), placed at their characters in the assignment's
    text, and whether they could be: when the word's characters are not its value one for
    one, each flag is placed over the whole word (reported, never rewritten)."""
    from ciswitch.shell import FlagUse, Word

    value = word.value
    if value is None:
        return [], True
    offsets = _value_offsets(word.raw)
    exact = offsets is not None and "".join(word.raw[k] for k in offsets) == value
    found: list[FlagUse] = []
    for flag in flags_in_words(value, call):
        if not exact:
            found.append(replace(flag, start=word.start, end=word.end))
            continue
        assert offsets is not None

        def moved(item: Word) -> Word:
            assert offsets is not None
            start = word.start + offsets[item.start]
            end = word.start + offsets[item.end - 1] + 1 if item.end > item.start else start
            return Word(word.raw[start - word.start:end - word.start], item.value, None,
                        start, end)

        words = tuple(moved(w) for w in flag.words)
        found.append(FlagUse(flag.name, flag.spelling, flag.form, moved(flag.value), words,
                             words[0].start, words[-1].end))
    return found, exact


def split_flags(
    session: Session, call: WerfCall, site_for: Callable[[SourceFile, Any, str], YamlScalarSite]
) -> list[tuple[Site, FlagUse, Assignment | None, bool]]:
    """Flags inside a variable expanded unquoted on werf's command line (``werf deploy
    $WERF_EXTRA_ARGS``): the shell splits the value into words at blanks (no quote removal, as
    for any expansion), so ``--stages-storage :local`` in it is a flag of the command. They
    are placed inside the variable's value, where a fix edits them: a CI variable's value (its
    site from ``site_for``), or the word of the script's own assignment (``ARGS="-s :local"``),
    then with the assignment and whether they could be placed at their characters."""
    found: list[tuple[Site, FlagUse, Assignment | None, bool]] = []
    for arg in call.args:
        if arg.var is None or not arg.raw.startswith("$"):
            continue  # a literal word, or a quoted expansion: one word, never a flag
        setting = session.env.get(arg.var)
        if setting is None:
            continue
        if setting.variable is None:
            held = setting.assignment
            word = held.value if held is not None else None
            if (setting.site is None or word is None or word.value is None
                    or setting.value != word.value or "-" not in word.value):
                continue
            flags, exact = flags_in_assigned_value(word, call)
            found.extend((setting.site, flag, held, exact) for flag in flags)
            continue
        scalar = setting.variable.value
        text = setting.variable.text
        if scalar is None or text is None or setting.value != text or "-" not in text:
            continue
        value_site = site_for(scalar.file, scalar.node, text)
        found.extend((value_site, flag, None, True) for flag in flags_in_words(text, call))
    return found


#: ``${NAME:-DEFAULT}``, ``${NAME-DEFAULT}`` or ``${NAME:=DEFAULT}``, the whole word (maybe in
#: double quotes)
_DEFAULTED = lazy_compile(r'"?\$\{[A-Za-z_]\w*:?[-=](?P<default>[^${}`]*)\}"?')


def default_of(word: Word) -> str | None:
    """The literal default of a word that is one ``${NAME:-DEFAULT}`` expansion: what the shell
    gives when NAME is not set; None for any other word."""
    if word.var is None or ("-" not in word.raw and "=" not in word.raw):
        return None
    found = _DEFAULTED.fullmatch(word.raw)
    if found is None or found.group().startswith('"') != found.group().endswith('"'):
        return None
    return value_of_raw(found["default"])


def refuse_default(word: Word | None) -> None:
    """A fix may not drop the ``:local`` a ``${NAME:-:local}`` defaults to: while NAME is set,
    werf gets NAME's value, which the fix would change too (:class:`NoFix` with why)."""
    if word is None or word.value is not None or word.var is None:
        return
    if default_of(word) == LOCAL:
        from ciswitch.edits import NoFix

        shown = word.raw.strip('"')
        raise NoFix(f"the :local is the default of {shown}, which werf gets "
                    f"while {word.var} is not set: change it by hand")
