"""An oracle for ``fix`` that shares no code with ciswitch: PyYAML, a small shell tokenizer, bash.

:func:`compare` takes a repository before and after a fix and says whether the after-version
*means* the before-version minus exactly the stages-storage ``:local`` occurrences (and, when the
run was asked for unsafe fixes, the ``:local`` synchronization):

1. every YAML file loads with ``yaml.safe_load`` (``!reference`` accepted as a tagged list);
   the GitLab model is built from them: local includes merged under the main file,
   ``!reference`` resolved (a dangling one is a failure), ``extends`` deep-merged, and
   hidden jobs (``.name``) dropped once resolved;
2. both models are *normalised*: every stages-storage ``:local`` is taken out (flags with their
   value in werf commands, ``WERF_STAGES_STORAGE`` entries whose value is ``:local``, exports,
   ``VAR=:local`` prefixes, and the flags in the value of a variable a werf command of the
   same text expands unquoted, ``A="-s :local"; werf build $A``), an ``export`` left with no
   word, a command left empty and its ``&&``/``||``/``|`` operator are dropped, and an empty
   ``variables:`` equals none; script strings are compared as statement structure (statements
   -> and-or chains -> pipelines -> commands -> raw words, continuations joined); the two
   normalised models must be equal;
3. every job's script (``before_script`` + ``script`` joined) and every ``.sh`` file passes
   ``bash -n`` before and after;
4. where a job's lines are only echo/true/false/export/werf (and ``eval $(werf ci-env ...)``),
   both versions run in bash with ``set -eo pipefail`` and the werf stand-in of ``tests/bin``;
   standard output (stand-in lines excepted), the exit status and the werf argument vectors
   with the removed flags taken out must be equal;
5. :func:`count_local` counts the ``:local`` occurrences still in a repository, node by node
   (an anchored scalar counts once), for the caller to compare with what fix said it left.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

STANDIN_BIN = Path(__file__).resolve().parent / "bin"
SCRIPT_KEYS = ("before_script", "script", "after_script")
LOCAL = ":local"


# --------------------------------------------------------------------------- YAML


@dataclass(frozen=True)
class Ref:
    """A ``!reference [a, b, ...]``."""

    path: tuple[str, ...]


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with the merge key of the YAML spec: in ``<<: [*a, *b]`` the
    earlier mapping wins, and the mapping's own keys win over merged ones (as GitLab's Ruby
    parser and gitlab-ci-local's js-yaml merge). PyYAML 6.0.4's own merge lets the later
    mapping win whenever the key is a string Python does not intern (``variables``), so it is
    not used."""

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        own: list[tuple[yaml.Node, yaml.Node]] = []
        for key, value in node.value:
            if key.tag != "tag:yaml.org,2002:merge":
                if key.tag == "tag:yaml.org,2002:value":
                    key.tag = "tag:yaml.org,2002:str"
                own.append((key, value))
                continue
            sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"expected a mapping for merging, but found {source.id}",
                        source.start_mark,
                    )
                self.flatten_mapping(source)
                merged.extend(source.value)
        # construct_mapping lets the last of equal keys win: put the winners last
        seen: set[object] = set()
        first_wins: list[tuple[yaml.Node, yaml.Node]] = []
        for key, value in merged:
            name = (key.tag, key.value) if isinstance(key, yaml.ScalarNode) else id(key)
            if name not in seen:
                seen.add(name)
                first_wins.append((key, value))
        node.value = first_wins + own


def _construct_ref(loader: yaml.SafeLoader, node: yaml.Node) -> Ref:
    assert isinstance(node, yaml.SequenceNode)
    return Ref(tuple(str(x) for x in loader.construct_sequence(node)))


_Loader.add_constructor("!reference", _construct_ref)


class OracleError(Exception):
    """The repository is not a valid GitLab configuration (after a fix: a wrong fix)."""


def _read(path: Path) -> str:
    data = path.read_bytes().decode("utf-8")
    return data[1:] if data.startswith("\ufeff") else data


def load(path: Path) -> Any:
    try:
        return yaml.load(_read(path), Loader=_Loader)
    except yaml.YAMLError as error:
        raise OracleError(
            f"{path.name}: YAML does not load: {str(error).splitlines()[0]}"
        ) from None


def _deep_merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _deep_merge(base[key], value) if key in base else value
        return out
    return over


def _resolve_refs(value: Any, root: dict[str, Any], depth: int = 0) -> Any:
    if depth > 10:
        raise OracleError("!reference nested too deep")
    if isinstance(value, Ref):
        target: Any = root
        for key in value.path:
            if not isinstance(target, dict) or key not in target:
                raise OracleError(f"!reference {list(value.path)} is undefined")
            target = target[key]
        return _resolve_refs(target, root, depth + 1)
    if isinstance(value, dict):
        return {k: _resolve_refs(v, root, depth) for k, v in value.items()}
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            resolved = _resolve_refs(item, root, depth)
            # GitLab flattens a referenced list inside a script list
            if isinstance(item, Ref) and isinstance(resolved, list):
                out.extend(resolved)
            else:
                out.append(resolved)
        return out
    return value


def _flatten(items: Any) -> Any:
    if not isinstance(items, list):
        return items
    out: list[Any] = []
    for item in items:
        out.extend(_flatten(item) if isinstance(item, list) else [item])
    return out


def model(root: Path) -> dict[str, Any]:
    """The GitLab model of the repository at ``root``: jobs resolved, hidden jobs dropped."""
    main = load(root / ".gitlab-ci.yml")
    if not isinstance(main, dict):
        raise OracleError(".gitlab-ci.yml: not a mapping")
    merged: dict[str, Any] = {}
    for entry in main.get("include") or []:
        local = entry.get("local") if isinstance(entry, dict) else entry
        doc = load(root / str(local).lstrip("/"))
        if not isinstance(doc, dict):
            raise OracleError(f"{local}: an included file must be a non-empty mapping")
        merged = _deep_merge(merged, doc)
    merged = _deep_merge(merged, {k: v for k, v in main.items() if k != "include"})
    resolved = _resolve_refs(merged, merged)

    def expand(name: str, seen: tuple[str, ...]) -> dict[str, Any]:
        job = resolved[name]
        if not isinstance(job, dict):
            raise OracleError(f"{name}: a job must be a mapping")
        parents = job.get("extends")
        if parents is None:
            return job
        out: dict[str, Any] = {}
        for parent in [parents] if isinstance(parents, str) else parents:
            if parent not in resolved or parent in seen:
                raise OracleError(f"{name}: extends {parent!r} is undefined")
            out = _deep_merge(out, expand(parent, (*seen, name)))
        out = _deep_merge(out, {k: v for k, v in job.items() if k != "extends"})
        return out

    out: dict[str, Any] = {}
    for key, value in resolved.items():
        if key.startswith("."):
            continue
        if key in ("variables", "default", "stages", "workflow"):
            out[key] = value
            continue
        job = expand(key, ())
        job.pop("extends", None)
        for script_key in SCRIPT_KEYS:
            if script_key in job:
                job[script_key] = _flatten(job[script_key])
        out[key] = job
    _validate(out)
    return out


def _validate(doc: dict[str, Any]) -> None:
    def check_vars(where: str, value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            raise OracleError(f"{where}: variables must be a mapping")
        for name, entry in value.items():
            if isinstance(entry, dict):
                if set(entry) - {"value", "description", "expand", "options"}:
                    raise OracleError(f"{where}: variable {name} has invalid keys")
            elif not isinstance(entry, (str, int, float, bool)):
                raise OracleError(f"{where}: variable {name} has an invalid value {entry!r}")

    if "variables" in doc:
        check_vars("global", doc["variables"])
    for name, job in doc.items():
        if name in ("variables", "stages", "workflow"):
            continue
        for key in SCRIPT_KEYS:
            if key in job:
                items = job[key]
                if isinstance(items, str):
                    continue
                if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                    raise OracleError(f"{name}: {key} must be a string or a list of strings")
                if key == "script" and not items:
                    raise OracleError(f"{name}: script can't be blank")
        if name == "default":
            continue
        if "script" not in job:
            raise OracleError(f"{name}: a job needs a script")
        if "variables" in job:
            check_vars(name, job["variables"])


# --------------------------------------------------------------------------- shell


OPERATORS = ("&&", "||", ";;", "|", ";", "&", "\n", "(", ")")


def tokenize(text: str) -> list[tuple[str, str]]:
    """Shell tokens as ``(kind, raw)``: kind ``w`` (word, raw text with quotes) or ``op``.

    Backslash-newline outside single quotes is a continuation (removed); ``#`` at the start of
    a word begins a comment; ``$(...)`` and ``${...}`` stay inside their word.
    """
    out: list[tuple[str, str]] = []
    word = ""
    i = 0
    n = len(text)

    def flush() -> None:
        nonlocal word
        if word:
            out.append(("w", word))
            word = ""

    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            if text[i + 1] == "\n":
                i += 2
                continue
            word += text[i : i + 2]
            i += 2
            continue
        if c == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise ValueError("unterminated single quote")
            word += text[i : end + 1]
            i = end + 1
            continue
        if c == '"':
            j = i + 1
            buf = '"'
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    if text[j + 1] == "\n":
                        j += 2
                        continue
                    buf += text[j : j + 2]
                    j += 2
                    continue
                buf += text[j]
                j += 1
            if j >= n:
                raise ValueError("unterminated double quote")
            word += buf + '"'
            i = j + 1
            continue
        if c == "$" and i + 1 < n and text[i + 1] in "({":
            close = ")" if text[i + 1] == "(" else "}"
            depth = 0
            j = i + 1
            while j < n:
                if text[j] == text[i + 1]:
                    depth += 1
                elif text[j] == close:
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            word += text[i : j + 1]
            i = j + 1
            continue
        if c == "#" and not word:
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if c in " \t\r":
            flush()
            i += 1
            continue
        matched = next((op for op in OPERATORS if text.startswith(op, i)), None)
        if matched:
            flush()
            out.append(("op", matched))
            i += len(matched)
            continue
        word += c
        i += 1
    flush()
    return out


def unquote(raw: str) -> str:
    out = ""
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == "'":
            end = raw.index("'", i + 1)
            out += raw[i + 1 : end]
            i = end + 1
        elif c == '"':
            i += 1
            while raw[i] != '"':
                if raw[i] == "\\" and raw[i + 1] in '"\\$`':
                    out += raw[i + 1]
                    i += 2
                else:
                    out += raw[i]
                    i += 1
            i += 1
        elif c == "\\" and i + 1 < len(raw):
            out += raw[i + 1]
            i += 2
        else:
            out += c
            i += 1
    return out


Command = tuple[str, ...]
Pipeline = tuple[Command, ...]
AndOr = tuple[tuple[str, Pipeline], ...]  # (operator before it or "", pipeline)
Structure = tuple[tuple[AndOr, str], ...]  # (and-or list, terminator)


def structure(text: str) -> Structure:
    """Statements -> and-or lists -> pipelines -> commands (raw words)."""
    statements: list[tuple[AndOr, str]] = []
    andor: list[tuple[str, Pipeline]] = []
    pipeline: list[Command] = []
    command: list[str] = []
    pending_op = ""
    for kind, raw in tokenize(text):
        if kind == "w":
            command.append(raw)
            continue
        if raw == "|":
            pipeline.append(tuple(command))
            command = []
        elif raw in ("&&", "||"):
            pipeline.append(tuple(command))
            andor.append((pending_op, tuple(pipeline)))
            pipeline, command, pending_op = [], [], raw
        elif raw in ("\n", ";", "&"):
            if not command and not pipeline and pending_op:
                continue  # an operator at a line's end continues onto the next line
            if command or pipeline:
                pipeline.append(tuple(command))
                andor.append((pending_op, tuple(pipeline)))
            if andor:
                statements.append((tuple(andor), "&" if raw == "&" else ";"))
            andor, pipeline, command, pending_op = [], [], [], ""
        else:
            command.append(raw)  # ( ) kept as words: not generated in scripts
    if command or pipeline:
        pipeline.append(tuple(command))
        andor.append((pending_op, tuple(pipeline)))
    if andor:
        statements.append((tuple(andor), ";"))
    return tuple(statements)


def _strip_werf_args(args: list[str], unsafe: bool) -> list[str]:
    """werf's arguments without the stages-storage (and, if ``unsafe``, synchronization) :local."""
    out: list[str] = []
    i = 0
    is_sync = (
        len(args) >= 2
        and unquote(args[0]) == "stages"
        and unquote(args[1])
        in (
            "sync",
            "switch-from-local",
        )
    )
    long_names = ["--stages-storage"] + (["--synchronization"] if unsafe else [])
    short_names = ["-s"] + (["-S"] if unsafe else [])
    while i < len(args):
        word = unquote(args[i])
        nxt = unquote(args[i + 1]) if i + 1 < len(args) else None
        if not is_sync:
            if word in long_names + short_names and nxt == LOCAL:
                i += 2
                continue
            if any(word == f"{name}={LOCAL}" for name in long_names + short_names):
                i += 1
                continue
            if any(word == f"{name}{LOCAL}" for name in short_names):
                i += 1
                continue
        out.append(args[i])
        i += 1
    return out


def _is_local_assignment(raw: str) -> bool:
    return unquote(raw) == f"WERF_STAGES_STORAGE={LOCAL}"


_EXPANSION = re.compile(r"\$\{?([A-Za-z_]\w*)\}?")
_ASSIGNMENT = re.compile(r"([A-Za-z_]\w*)=(.*)", re.DOTALL)


def split_names(struct: Structure) -> set[str]:
    """The variables a werf command of ``struct`` expands unquoted (``werf build $ARGS``): the
    shell splits their values into werf's arguments."""
    names: set[str] = set()
    for andor, _ in struct:
        for _, pipeline in andor:
            for command in pipeline:
                words = [w for w in command if not _ASSIGNMENT.fullmatch(w)]
                if words and unquote(words[0]) == "werf":
                    names.update(m.group(1) for w in words[1:] if (m := _EXPANSION.fullmatch(w)))
    return names


def _sets_only(words: list[str]) -> bool:
    """A command that only assigns (``A=1 B=2``) or exports."""
    return bool(words) and (unquote(words[0]) == "export" or all(
        _ASSIGNMENT.fullmatch(w) for w in words))


def _held_words(word: str, split: set[str]) -> list[str] | None:
    """The words werf is given from an assignment of a name it splits, else None."""
    match = _ASSIGNMENT.fullmatch(word)
    if match is None or match.group(1) not in split:
        return None
    return unquote(match.group(2)).split()


def _normalise_held(word: str, split: set[str], unsafe: bool) -> str:
    words = _held_words(word, split)
    if words is None:
        return word
    return f"{word.split('=', 1)[0]}=<{' '.join(_strip_werf_args(words, unsafe))}>"


def _normalise_command(words: Command, unsafe: bool, split: set[str] | None = None) -> Command:
    ws = list(words)
    if split and _sets_only(ws):
        ws = [_normalise_held(w, split, unsafe) for w in ws]
    # VAR=:local prefixes
    head: list[str] = []
    while ws and "=" in ws[0] and not ws[0].startswith("-") and ws[0].split("=")[0].isidentifier():
        if not _is_local_assignment(ws[0]):
            head.append(ws[0])
        ws.pop(0)
    if ws and unquote(ws[0]) == "export":
        rest = [w for w in ws[1:] if not _is_local_assignment(w)]
        return tuple(head + ([ws[0], *rest] if rest else []))
    if ws and unquote(ws[0]) == "werf":
        return (*head, ws[0], *_strip_werf_args(ws[1:], unsafe))
    return tuple(head + ws)


NOOP: Command = ("<no-op>",)


def _noop(command: Command) -> Command:
    return NOOP if command in (("true",), (":",)) else command


def normalise_structure(struct: Structure, unsafe: bool) -> Structure:
    """``struct`` without the ``:local`` occurrences, keeping what bash does.

    A command left empty (an ``export`` of only ``WERF_STAGES_STORAGE=:local``) always
    succeeded, so: a statement made only of such commands goes; at the head of an and-or list
    followed by ``&&`` it goes with that operator (``X && b`` runs like ``b``); anywhere else it
    becomes a no-op (``a && X`` runs like ``a && true``, not like ``a``: under ``set -e`` a
    failing ``a`` stops the job only in the second form). ``true`` and ``:`` are that no-op;
    a statement that is only a no-op does nothing and goes too.
    """
    out: list[tuple[AndOr, str]] = []
    split = split_names(struct)
    for andor, term in struct:
        items: list[tuple[str, Pipeline | None]] = []
        for op, pipeline in andor:
            cmds = [_normalise_command(c, unsafe, split) for c in pipeline]
            if not any(cmds):
                items.append((op, None))  # removed
            else:
                items.append((op, tuple(_noop(c) if c else NOOP for c in cmds)))
        if all(p is None for _, p in items):
            continue
        if len(items) == 1 and items[0][1] is not None and set(items[0][1]) == {NOOP}:
            continue  # a lone ``true`` (or ``:``) statement does nothing: same as none
        while items[0][1] is None and len(items) > 1 and items[1][0] == "&&":
            items = [("", items[1][1]), *items[2:]]
        new = tuple((op, p if p is not None else (NOOP,)) for op, p in items)
        out.append((new, term))
    return tuple(out)


def normalise_script(text: str, unsafe: bool) -> Structure:
    return normalise_structure(structure(text), unsafe)


def count_in_script(text: str) -> int:
    """Stages-storage and synchronization ``:local`` occurrences in a shell text."""
    total = 0
    struct = structure(text)
    split = split_names(struct)
    for andor, _ in struct:
        for _, pipeline in andor:
            for command in pipeline:
                words = list(command)
                if split and _sets_only(words):
                    total += sum(_count_flags(held) for w in words
                                 if (held := _held_words(w, split)) is not None)
                total += sum(1 for w in words if _is_local_assignment(w))
                rest = [w for w in words if not _is_local_assignment(w)]
                if rest and unquote(rest[0]) == "werf":
                    total += _count_flags(rest[1:])
    return total


def _count_flags(args: list[str]) -> int:
    if (
        len(args) >= 2
        and unquote(args[0]) == "stages"
        and unquote(args[1])
        in (
            "sync",
            "switch-from-local",
        )
    ):
        return 0
    names = ("--stages-storage", "--synchronization", "-s", "-S")
    count = 0
    i = 0
    while i < len(args):
        word = unquote(args[i])
        nxt = unquote(args[i + 1]) if i + 1 < len(args) else None
        if word in names and nxt == LOCAL:
            count += 1
            i += 2
            continue
        if any(word == f"{n}={LOCAL}" for n in names) or word in ("-s" + LOCAL, "-S" + LOCAL):
            count += 1
        i += 1
    return count


# --------------------------------------------------------------------------- normalised model


def _normalise_vars(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    out = {}
    for name, entry in value.items():
        raw = entry.get("value") if isinstance(entry, dict) else entry
        if name == "WERF_STAGES_STORAGE" and raw == LOCAL:
            continue
        out[name] = entry
    return out


def normalise_model(doc: dict[str, Any], unsafe: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in doc.items():
        if name == "variables":
            value = _normalise_vars(value)
            if value:
                out[name] = value
            continue
        if not isinstance(value, dict):
            out[name] = value
            continue
        job: dict[str, Any] = {}
        for key, item in value.items():
            if key in SCRIPT_KEYS:
                items = [item] if isinstance(item, str) else item
                # an item left with no statement runs nothing: it equals no item
                job[key] = [n for n in (normalise_script(s, unsafe) for s in items) if n]
            elif key == "variables":
                item = _normalise_vars(item)
                if item:
                    job[key] = item
            else:
                job[key] = item
        out[name] = job
    return out


def job_scripts(doc: dict[str, Any]) -> dict[str, str]:
    """Each job's shell text as the runner would run it (default before_script applies)."""
    default = doc.get("default") if isinstance(doc.get("default"), dict) else {}
    out = {}
    for name, job in doc.items():
        if name in ("variables", "default", "stages", "workflow") or not isinstance(job, dict):
            continue
        before = job.get("before_script", default.get("before_script", []) if default else [])
        items = [*_as_list(before), *_as_list(job.get("script", []))]
        out[name] = "\n".join(items)
    return out


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


# --------------------------------------------------------------------------- counting


def count_local(root: Path, references: bool = False) -> int:
    """``:local`` occurrences in a repository's YAML files (node by node) and ``.sh`` files.

    With ``references``, a ``WERF_STAGES_STORAGE: !reference [.x, variables, KEY]`` entry
    whose target is ``:local`` counts as a place too: GitLab puts the referenced value there,
    so the job's own entry sets ``:local`` (the places a report lists; the literal count is
    what a generator wrote)."""
    total = 0
    documents: list[yaml.Node] = []
    for path in sorted(root.rglob("*")):
        if path.suffix in (".yml", ".yaml"):
            node = yaml.compose(_read(path), Loader=_Loader)
            if node is not None:
                documents.append(node)
        elif path.suffix == ".sh":
            total += count_in_script(_read(path))
    # a !reference may name a template of any file of the pipeline (an included one too)
    tops = yaml.MappingNode(
        "tag:yaml.org,2002:map",
        [pair for doc in documents if isinstance(doc, yaml.MappingNode) for pair in doc.value],
    )
    return total + sum(_count_yaml(doc, tops if references else None) for doc in documents)


def _count_yaml(node: yaml.Node, tops: yaml.MappingNode | None) -> int:
    """``:local`` in one composed file; with ``tops`` (every file's top-level keys), an entry
    taking ``:local`` by ``!reference`` counts too."""
    references = tops is not None
    seen: set[int] = set()
    total = 0

    def walk(n: yaml.Node, script: bool) -> None:
        nonlocal total
        if id(n) in seen:
            return
        seen.add(id(n))
        if isinstance(n, yaml.ScalarNode):
            if script:
                total += count_in_script(n.value)
            return
        if isinstance(n, yaml.SequenceNode):
            for child in n.value:
                walk(child, script)
            return
        if isinstance(n, yaml.MappingNode):
            for key, value in n.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else None
                if name == "WERF_STAGES_STORAGE" and id(value) not in seen:
                    raw = _referenced(value, tops) if references else value
                    if isinstance(value, yaml.MappingNode):
                        raw = next((v for k, v in value.value if k.value == "value"), value)
                    if isinstance(raw, yaml.ScalarNode) and raw.value == LOCAL:
                        total += 1
                walk(value, script or name in SCRIPT_KEYS)

    walk(node, False)
    return total


def _referenced(value: yaml.Node, top: yaml.Node | None) -> yaml.Node:
    """The node a ``!reference [.x, variables, KEY]`` value stands for (GitLab puts the
    referenced value there, so an entry taking ``:local`` this way sets ``:local`` itself);
    any other value as it is."""
    if not (isinstance(value, yaml.SequenceNode) and value.tag == "!reference"):
        return value
    target: yaml.Node | None = top
    for part in value.value:
        if not isinstance(target, yaml.MappingNode) or not isinstance(part, yaml.ScalarNode):
            return value
        target = next(
            (v for k, v in reversed(target.value) if getattr(k, "value", None) == part.value),
            None,
        )
    return target if target is not None else value


# --------------------------------------------------------------------------- bash


def bash_syntax_errors(scripts: dict[str, str]) -> dict[str, str]:
    """``bash -n`` on each script; the failing ones with bash's message."""
    bad = {}
    with tempfile.TemporaryDirectory() as tmp:
        for number, (name, text) in enumerate(scripts.items()):
            path = Path(tmp) / f"s{number}.sh"
            path.write_text(text)
            result = subprocess.run(
                ["bash", "-n", str(path)], capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                bad[name] = result.stderr.strip().replace(str(path), name)
    return bad


@dataclass
class RunResult:
    status: int
    stdout: list[str]
    werf: list[list[str]]


def run_script(text: str, cwd: Path, unsafe: bool) -> RunResult:
    """Run ``text`` in bash (``set -eo pipefail``) with the werf stand-in first on PATH."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "werf.log"
        env = {
            "PATH": f"{STANDIN_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": tmp,
            "WERF_STANDIN_LOG": str(log),
            "LANG": "C.UTF-8",
        }
        result = subprocess.run(
            ["bash", "-c", "set -eo pipefail\n" + text],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        calls = []
        if log.exists():
            for line in log.read_text().splitlines():
                argv = json.loads(line)["argv"]
                calls.append(_strip_werf_args(argv, unsafe))
        stdout = [ln for ln in result.stdout.splitlines() if "werf stand-in:" not in ln]
        return RunResult(result.returncode, stdout, calls)


# --------------------------------------------------------------------------- the comparison


@dataclass
class Verdict:
    ok: bool
    kind: str  # "" when ok; else a short failure kind
    detail: str


def compare(
    before: Path,
    after: Path,
    unsafe: bool,
    runnable_jobs: set[str] | None = None,
    max_runs: int = 2,
) -> Verdict:
    """Does ``after`` mean ``before`` minus exactly the ``:local`` occurrences?"""
    doc_before = model(before)  # the generator only makes valid files: let errors raise
    try:
        doc_after = model(after)
    except OracleError as error:
        text = str(error)
        kind = "dangling-reference" if "!reference" in text else "invalid-gitlab-config"
        return Verdict(False, kind, text)
    for name in sorted(p.name for p in after.glob("ci/*.sh")):
        b, a = _read(before / "ci" / name), _read(after / "ci" / name)
        if normalise_script(b, unsafe) != normalise_script(a, unsafe):
            return Verdict(False, "shell-structure-changed", f"ci/{name}: {_diff(b, a, unsafe)}")
    norm_b, norm_a = normalise_model(doc_before, unsafe), normalise_model(doc_after, unsafe)
    if norm_b != norm_a:
        return Verdict(False, _model_diff_kind(norm_b, norm_a), _model_diff(norm_b, norm_a))
    scripts_b, scripts_a = job_scripts(doc_before), job_scripts(doc_after)
    for path in after.glob("ci/*.sh"):
        scripts_a["ci/" + path.name] = _read(path)
        scripts_b["ci/" + path.name] = _read(before / "ci" / path.name)
    bad_before = bash_syntax_errors(scripts_b)
    if bad_before:
        raise AssertionError(f"generated script does not parse: {bad_before}")
    bad_after = bash_syntax_errors(scripts_a)
    if bad_after:
        return Verdict(False, "bash-syntax", json.dumps(bad_after, ensure_ascii=False))
    runs = 0
    for name in sorted(runnable_jobs or ()):
        if runs >= max_runs or name not in scripts_a:
            continue
        runs += 1
        rb = run_script(scripts_b[name], before, unsafe)
        ra = run_script(scripts_a[name], after, unsafe)
        if (rb.status, rb.stdout, rb.werf) != (ra.status, ra.stdout, ra.werf):
            return Verdict(False, "run-differs", f"{name}: before {rb} / after {ra}")
    return Verdict(True, "", "")


def _diff(b: str, a: str, unsafe: bool) -> str:
    return f"{normalise_script(b, unsafe)!r} != {normalise_script(a, unsafe)!r}"


def _model_diff(b: dict[str, Any], a: dict[str, Any]) -> str:
    for key in sorted(set(b) | set(a)):
        if b.get(key) != a.get(key):
            return f"{key}: {b.get(key)!r} != {a.get(key)!r}"[:600]
    return ""


def _model_diff_kind(b: dict[str, Any], a: dict[str, Any]) -> str:
    for key in sorted(set(b) | set(a)):
        jb, ja = b.get(key), a.get(key)
        if jb == ja:
            continue
        if isinstance(jb, dict) and isinstance(ja, dict):
            for sub in sorted(set(jb) | set(ja)):
                if jb.get(sub) != ja.get(sub):
                    if sub in SCRIPT_KEYS:
                        return "shell-structure-changed"
                    return f"{sub}-changed"
        return "variables-changed" if key == "variables" else "job-changed"
    return "model-changed"


# --------------------------------------------------------------------------- runnable jobs

_RUNNABLE_COMMANDS = {"echo", "true", "false", "export", "werf"}


def _script_runnable(text: str, root: Path, depth: int = 0) -> bool:
    for andor, term in structure(text):
        if term == "&":
            return False
        for _, pipeline in andor:
            if len(pipeline) > 1:
                return False  # a writer racing a reader that exits (EPIPE): not deterministic
            for command in pipeline:
                words = [w for w in command if not ("=" in w and w.split("=")[0].isidentifier())]
                if not words:
                    continue
                first = unquote(words[0])
                if first in _RUNNABLE_COMMANDS:
                    if first == "werf" and any("$(" in w for w in words):
                        return False
                    continue
                if first == "eval" and words[1:] == ["$(werf ci-env gitlab --verbose)"]:
                    continue
                if first == "bash" and len(words) == 2 and depth == 0:
                    path = root / words[1]
                    if path.is_file() and _script_runnable(_read(path), root, depth + 1):
                        continue
                return False
    return True


def runnable_jobs(root: Path) -> set[str]:
    """Jobs whose lines are only echo/true/false/export/werf (and eval of werf ci-env)."""
    scripts = job_scripts(model(root))
    return {name for name, text in scripts.items() if _script_runnable(text, root)}
