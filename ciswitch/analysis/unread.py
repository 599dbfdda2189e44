"""The net under the reader: ``:local`` given to werf where no werf command was read.

The replay finds werf where the shell would run it. Some texts run it in ways it does not
follow: a here-document fed to a shell, a container (``docker run ... werf build``), ``eval``,
a remote shell (``ssh host "werf ..."``), ``find -exec``, a bash array of flags. There the
text still spells ``werf ... --stages-storage :local`` (or ``args=(-s :local)``, or
``WERF_STAGES_STORAGE=:local``), and no place covers it: saying "No findings" would be saying
clean where ciswitch did not look. Each such setting is a place not checked, at its line,
naming the construct when it is one of those. So is each interpolation of GitLab's CI/CD
inputs (``$[[ inputs.storage ]]``), which GitLab fills in before it reads a file and ciswitch
does not, and each line of a ``hooks: pre_get_sources_script`` that mentions werf, a script
the replay does not play. An ``echo``/``printf`` of a werf command line prints it and is not
counted, unless its line writes it to a file (``>> build.env``, ``| tee deploy.sh``): a
dotenv report passes it to later jobs as variables, a script written so may be run; flags
after `` -- `` are the argument list of the command werf runs. A flag given to a shell
function that runs werf with its arguments (``publish -s :local`` after ``publish() { werf
publish "$@"; }``, defined in the text or in a sourced file) is a place not checked as well.
Settings that reach werf through what a command prints (``export $(cat .env | xargs)``) are
:mod:`ciswitch.analysis.through_output`'s.
"""

from __future__ import annotations

import bisect
import re
from typing import TYPE_CHECKING, Any

from ciswitch.analysis.mapping import safe_map
from ciswitch.analysis.python_code import PythonCodeSite
from ciswitch.analysis.sites import PythonFileSite
from ciswitch.model import LOCAL, STAGES_VAR, SYNC_VAR, NotChecked, NotCheckedKind
from ciswitch.patterns import lazy_compile

if TYPE_CHECKING:
    from ciswitch.analysis.facts import Facts
    from ciswitch.analysis.sites import Site
    from ciswitch.source import SourceFile

#: the sites read as Python: their own reader answers for them
PYTHON_SITES = (PythonFileSite, PythonCodeSite)
#: the variables whose :local the replay places wherever the reader finds them set
_SETTING_NAMES = (STAGES_VAR, SYNC_VAR)
#: werf's name as a word of its own (not ``werf_build``, ``./werf.yaml``)
WERF_WORD = r"(?<![\w./-])werf(?![\w-])"
#: a stages-storage or synchronization flag with the value :local, quoted or not (group
#: ``flag``)
LOCAL_FLAG = (r"(?<![\w-])(?P<flag>(?:--stages-storage|--synchronization|-[sS])"
              r"(?:=|[ \t]+|(?=['\"]|:))['\"]?:local(?![\w-]))")
#: a werf word, then (on its line or its continued lines, before any ``--``) such a flag
_FLAG_AFTER_WERF = lazy_compile(
    rf"(?:{WERF_WORD}|\$\{{?WERF\w*\}}?)(?:\\\n|(?! -- )[^\n])*?" + LOCAL_FLAG
)
#: werf's variable set to :local, in any form (``export``, ``-e`` of a container, ``env``, a
#: line of a ``.env`` file; group ``flag``)
WERF_VARIABLE = lazy_compile(
    r"(?<![\w$])(?P<flag>WERF_(?:STAGES_STORAGE|SYNCHRONIZATION)=['\"]?:local(?![\w-]))"
)
#: what prints a command line instead of running it, before the werf word on its line
_PRINTS = lazy_compile(r"(?<![\w-])(?:echo|printf)(?![\w-])[^\n]*$")
#: the constructs the message names, by what stands before the werf word on its line
_CONSTRUCTS = (
    (lazy_compile(r"<<"), "a here-document"),
    (lazy_compile(r"(?<![\w-])(?:docker|podman|nerdctl)\s+(?:\S+\s+)*?(?:run|exec)\b"),
     "a container's command (its environment is the container's)"),
    (lazy_compile(r"(?<![\w-])eval(?![\w-])"), "an eval"),
    (lazy_compile(r"(?<![\w-])ssh(?![\w-])"), "a remote shell's command"),
    (lazy_compile(r"-exec(?:dir)?\b|-ok\b"), "a find -exec"),
    (lazy_compile(r"(?:\$\(|`)[^()`\n]*$"), "a command that a command substitution names"),
)
#: a bash array holding the flag (``args=(--stages-storage :local)``), expanded elsewhere
_ARRAY = lazy_compile(
    r"(?<![\w])(?P<name>[A-Za-z_]\w*)\+?=\((?P<body>[^()]*?)(?<![\w-])"
    r"(?P<flag>(?:--stages-storage|--synchronization|-[sS])(?:=|\s+|(?=['\"]|:))['\"]?"
    r":local(?![\w-]))"
)


#: an interpolation of GitLab's CI/CD inputs (``$[[ inputs.storage ]]``, maybe with functions)
_INPUT = lazy_compile(r"\$\[\[\s*(inputs\.[\w-]+)[^\]\n]*\]\]")


def uninterpolated_inputs(facts: Facts) -> None:
    """A place not checked for each ``$[[ inputs.NAME ]]`` of the files read: GitLab puts the
    include's input (or its default) there before the file is read, which ciswitch does not,
    so a script or variable built from an input is not what ciswitch read."""
    if facts.pipeline is None:
        return
    for file in facts.pipeline.files:
        if "$[[" not in file.text:
            continue
        for match in _INPUT.finditer(file.text):
            facts.add_not_checked(NotChecked(
                file.path, file.position(match.start()).line, NotCheckedKind.CI_INPUT,
                f"{match.group()}: GitLab's CI/CD inputs are not interpolated, so what this "
                f"holds was not checked (the include's {match[1]}, or its default)",
            ))


def unread_hooks(facts: Facts) -> None:
    """A place not checked for each line of a ``hooks: pre_get_sources_script`` that runs
    werf: GitLab runs it before it fetches the sources, and the replay does not play it."""
    from ciswitch.yaml.nodes import is_map, is_scalar, is_seq

    if facts.pipeline is None:
        return
    for file in facts.pipeline.files:
        if "pre_get_sources_script" not in file.text:
            continue
        stack = list(file.yaml_documents())
        seen: set[int] = set()
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if is_seq(node):
                stack.extend(node.value)
            elif is_map(node):
                for key, value in node.value:
                    if is_scalar(key) and key.value == "pre_get_sources_script":
                        _hook_lines(facts, file, value)
                    else:
                        stack.append(value)


def _hook_lines(facts: Facts, file: SourceFile, value: Any) -> None:
    from ciswitch.yaml.nodes import is_scalar, is_seq

    for item in value.value if is_seq(value) else [value]:
        text = str(item.value) if is_scalar(item) else ""
        if "werf" in text or "WERF_" in text:
            facts.add_not_checked(NotChecked(
                file.path, file.position(int(item.start_mark.index)).line,
                NotCheckedKind.UNREAD_COMMAND,
                "hooks:pre_get_sources_script runs werf here, and ciswitch does not read "
                "that script: check it by hand",
            ))


#: a shell function's definition (``name() {``, ``function name {``): its body is searched
#: for werf run with the function's arguments
_FUNCTION = lazy_compile(
    r"(?:^|(?<=[\s;&|(]))(?:function[ \t]+(?P<named>[A-Za-z_][\w-]*)[ \t]*(?:\(\s*\))?"
    r"|(?P<name>[A-Za-z_][\w-]*)[ \t]*\(\s*\))\s*\{"
)
#: werf given the function's own arguments (``"$@"``, ``$*``, ``$1``...) in its body
_WERF_WITH_ARGUMENTS = lazy_compile(WERF_WORD + r"[^\n]*?\$(?:\{?[@*1-9]|\{?#)")


def _werf_functions(facts: Facts) -> re.Pattern[str] | None:
    """A call of a shell function of the texts read that runs werf with its arguments, with
    a :local flag among the call's (``publish -s :local`` after ``publish() { werf publish
    "$@"; }``, in the same text or a sourced one); None when no such function is defined."""
    names: set[str] = set()
    for site in facts.sites.values():
        text = site.text
        if "werf" not in text or "$" not in text or "{" not in text or isinstance(
                site, PYTHON_SITES):
            continue
        for match in _FUNCTION.finditer(text):
            if _WERF_WITH_ARGUMENTS.search(_body(text, match.end())):
                names.add(match["name"] or match["named"])
    if not names:
        return None
    alternatives = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    return re.compile(
        rf"(?<![\w./-])(?P<function>{alternatives})(?![\w(-])(?:\\\n|(?! -- )[^\n])*?"
        + LOCAL_FLAG
    )


def _body(text: str, start: int) -> str:
    """A function's body: from ``start`` (after its ``{``) to the brace that closes it."""
    depth = 1
    for at in range(start, len(text)):
        char = text[at]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if not depth:
                return text[start:at]
    return text[start:]


def unread_flags(facts: Facts) -> None:
    """Add a place not checked for each such flag of the sites read (see the module)."""
    covered: dict[str, tuple[list[int], list[int]]] | None = None  # made when first asked
    functions = _werf_functions(facts)
    for site in list(facts.sites.values()):
        text = site.text
        if LOCAL not in text or not ("werf" in text or "WERF" in text or functions is not None
                                     ) or isinstance(site, PYTHON_SITES):
            continue  # Python code has its reader's places, or its own not-checked entry
        if _read_all(site):
            continue
        found: list[tuple[int, int, str]] = []
        for match in functions.finditer(text) if functions is not None else ():
            found.append((match.start("flag"), match.end("flag"),
                          f"{shown(match)} passed to the shell function {match['function']},"
                          " which runs werf with its arguments"))
        for pattern, what, otherwise in _SETTINGS:
            for match in pattern.finditer(text):
                where = _where(text, match, otherwise)
                if where is not None:
                    found.append((match.start("flag"), match.end("flag"),
                                  f"{shown(match)}{what} {where}"))
        for match in _ARRAY.finditer(text):
            found.append((match.start("flag"), match.end("flag"),
                          f"{shown(match)} in the bash array {match['name']}"))
        if found and covered is None:
            covered = _covered(facts)
        for start, end, what in found:
            assert covered is not None
            offset, _ = safe_map(site, start, end)
            if _is_covered(covered, site.file.path, offset):
                continue
            facts.add_not_checked(NotChecked(
                site.file.path, site.file.position(offset).line, NotCheckedKind.UNREAD_COMMAND,
                f"{what}, not read: werf may get :local there; check it by hand",
            ))

#: the settings searched: pattern, what stands after the setting in the message, and what is
#: said where no construct is recognised
_SETTINGS = (
    (_FLAG_AFTER_WERF, " after werf", "where ciswitch reads no werf command"),
    (WERF_VARIABLE, "", "where ciswitch reads no assignment"),
)


def _where(text: str, match: re.Match[str], otherwise: str) -> str | None:
    """Where the setting is, as the message says it; None for a command line that is only
    printed (``echo "werf build -s :local"``)."""
    line_start = text.rfind("\n", 0, match.start()) + 1
    before = text[line_start:match.start()]
    printed = _PRINTS.search(before)
    if printed and not _leaves_print(before):
        target = _written_to(text, match.end())
        if target is None:
            return None
        return (f"written to {target} by {printed.group().split()[0]} (a file made at run time,"
                " which a later line, script or job may read)")
    if match.group().startswith("$"):
        return "in a command named by a variable not known to hold werf's path"
    construct = next((name for pattern, name in _CONSTRUCTS
                      if pattern.search(_context(text, match.start()))), None)
    return f"in {construct}" if construct else otherwise


def shown(match: re.Match[str]) -> str:
    """The setting as the message names it, without the quotes its value may open."""
    return match["flag"].replace('"', "").replace("'", "")


def _read_all(site: Site) -> bool:
    """Whether the reader accounts for every ``:local`` of the text as a werf flag's or an
    assignment's value (the common case, answered without a search)."""
    reading = site.commands()  # read in the replay already: kept by the site
    # a call through a variable (``$WERF build``) is played only when the variable is known to
    # hold werf: its flags are not counted here
    calls = [call for call in reading.werf_calls if call.binary_var is None]
    seen = sum(1 for call in calls for flag in call.flags if flag.value.value == LOCAL)
    seen += sum(1 for call in calls for prefix in call.prefixes if prefix.name in _SETTING_NAMES
                and prefix.value is not None and prefix.value.value == LOCAL)
    seen += sum(1 for a in reading.assignments if a.name in _SETTING_NAMES
                and a.value is not None and a.value.value == LOCAL)
    return seen >= site.text.count(LOCAL)


#: where a printed line goes when it does not go to the job's log: a file (``> f``,
#: ``>> f``, ``| tee [-a] f``)
_WRITTEN = lazy_compile(
    r"(?:(?<![<>&\d])>>?(?!&)|\|\s*tee(?:\s+-a)?(?![\w-]))\s*(?P<target>[^\s;&|)]+)"
)
#: what ends a command on its line: ``;``, ``&&``, ``||``, a lone ``&``
_COMMAND_END = lazy_compile(r";|&&|\|\||(?<![>&])&(?![>&])")
#: files a printed line may go to that nothing reads back
_NOWHERE = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty"})


def _written_to(text: str, at: int) -> str | None:
    """The file that the rest of the line from ``at`` writes the printed text to (a
    dotenv report GitLab passes on as variables, a script run later), or None when it goes
    to the log."""
    end = text.find("\n", at)
    end = len(text) if end < 0 else end
    # up to the end of the printing command (a later command's redirection is its own)
    ends = _COMMAND_END.search(text, at, end)
    found = _WRITTEN.search(text, at, end if ends is None else ends.start())
    if found is None:
        return None
    target = found["target"].strip("'\"")
    return None if target in _NOWHERE or not target else target


def _leaves_print(before: str) -> bool:
    """Whether an ``echo`` before the werf word ends its command first (``echo x; werf``)."""
    found = _PRINTS.search(before)
    return found is not None and re.search(r"[;&|]", before[found.start():]) is not None


def _context(text: str, at: int) -> str:
    """The text before ``at`` that may run it: from the start of its block (a here-document
    opens lines above), back to a blank line."""
    block = text.rfind("\n\n", 0, at)
    return text[block + 1 if block >= 0 else 0:at]


def _covered(facts: Facts) -> dict[str, tuple[list[int], list[int]]]:
    """The places' file ranges, by path (and the words of ``python -c`` code, which its own
    reader answers for): their starts sorted, and the furthest end of the ranges up to each."""
    ranges: dict[str, list[tuple[int, int]]] = {}
    for place in facts.places.values():
        ranges.setdefault(place.file.path, []).append((place.start, place.end))
    for site in facts.sites.values():
        if isinstance(site, PythonCodeSite):  # read as Python: its places or its own entry
            word = site.string
            start, _ = safe_map(site.parent, word.word_start, word.word_start)
            end, _ = safe_map(site.parent, word.word_end, word.word_end)
            ranges.setdefault(site.file.path, []).append((start, end))
    out: dict[str, tuple[list[int], list[int]]] = {}
    for path, spans in ranges.items():
        spans.sort()
        furthest: list[int] = []
        for _, end in spans:
            furthest.append(max(end, furthest[-1]) if furthest else end)
        out[path] = ([s for s, _ in spans], furthest)
    return out


def _is_covered(covered: dict[str, tuple[list[int], list[int]]], path: str, at: int) -> bool:
    """Whether a place starts at ``at`` or reaches over it."""
    found = covered.get(path)
    if found is None:
        return False
    starts, furthest = found
    index = bisect.bisect_right(starts, at)
    return index > 0 and (starts[index - 1] == at or furthest[index - 1] > at)
