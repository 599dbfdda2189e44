"""Random valid GitLab CI repositories with ``:local`` stages storage in random forms and places.

A hypothesis strategy (:func:`plans`) draws a *plan*: plain data (dicts, lists, strings, bools)
describing jobs, templates, variables, script lines and how each is spelled. :func:`render`
turns a plan into files (``.gitlab-ci.yml``, an optional included file, an optional ``.sh``
script) and a :class:`Truth` recording what the files contain: every ``:local`` occurrence with
its kind and spelling, and which jobs run ``werf ci-env``. Plans are plain data so that a failing
one can be shrunk by :func:`shrink_candidates` (drop list items, turn options off) and saved.

Nothing here imports ciswitch: the generator and the oracle are independent of the code tested.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

Plan = dict[str, Any]

#: spellings of the stages-storage flag (the value is always ``:local``)
FLAG_SPELLINGS = [
    "--stages-storage :local",
    "--stages-storage=:local",
    "-s :local",
    "-s=:local",
    "-s:local",
    '--stages-storage ":local"',
    "--stages-storage ':local'",
    '--stages-storage=":local"',
    "-s ':local'",
    '-s=":local"',
]
SYNC_SPELLINGS = ["--synchronization :local", "--synchronization=:local", "-S :local"]
#: spellings of the flag inside a shell variable's value (``A="-s :local"; werf build $A``):
#: werf is given the value's words, so the quoted spellings would give it ``":local"``
HELD_SPELLINGS = FLAG_SPELLINGS[:5]
HELD_QUOTES = ['"', "'", ""]
WERF_COMMANDS = [
    "werf build",
    "werf publish --tag-git-branch main",
    "werf deploy --env prod",
    "werf cleanup",
    "werf stages purge --force",
    "werf build-and-publish",
]
ECHO_TEXTS = ["echo start", 'echo "two words"', "echo 'single q'", "echo Сборка", "echo done"]
EXPORT_LOCAL = [
    "export WERF_STAGES_STORAGE=:local",
    'export WERF_STAGES_STORAGE=":local"',
    "export WERF_STAGES_STORAGE=':local'",
]
CI_ENV = {
    "source": "source $(werf ci-env gitlab --as-file)",
    "eval": "eval $(werf ci-env gitlab --verbose)",
}
STYLES = ["plain", "single", "double", "literal", "folded", "plain-multiline"]
VAR_QUOTES = ["plain", "single", "double"]
CHAIN_OPS = ["&&", "||", "|"]

#: line kinds whose behaviour a run in bash shows (the werf stand-in prints its arguments)
RUNNABLE_KINDS = {"werf", "echo", "true", "false", "export", "chain", "comment", "sync_from",
                  "held"}


# --------------------------------------------------------------------------- strategy


def _werf_line(draw: st.DrawFn) -> Plan:
    return {
        "k": "werf",
        "cmd": draw(st.integers(0, len(WERF_COMMANDS) - 1)),
        "flag": draw(st.one_of(st.none(), st.integers(0, len(FLAG_SPELLINGS) - 1))),
        "sync": draw(st.one_of(st.none(), st.integers(0, len(SYNC_SPELLINGS) - 1))),
        "sync_first": draw(st.booleans()),
        "prefix": draw(st.booleans()) and draw(st.booleans()),
        "verbose": draw(st.booleans()),
    }


@st.composite
def simple_lines(draw: st.DrawFn) -> Plan:
    kind = draw(
        st.sampled_from(
            ["werf", "werf", "werf", "echo", "true", "false", "export", "curl", "sync_from",
             "held"]
        )
    )
    if kind == "werf":
        return _werf_line(draw)
    if kind == "held":
        return {
            "k": "held",
            "cmd": draw(st.integers(0, len(WERF_COMMANDS) - 1)),
            "flag": draw(st.integers(0, len(HELD_SPELLINGS) - 1)),
            "quote": draw(st.integers(0, len(HELD_QUOTES) - 1)),
            "extra": draw(st.sampled_from([None, "before", "after"])),
        }
    if kind == "echo":
        return {"k": "echo", "text": draw(st.integers(0, len(ECHO_TEXTS) - 1))}
    if kind == "export":
        return {
            "k": "export",
            "local": draw(st.booleans()),
            "spelling": draw(st.integers(0, len(EXPORT_LOCAL) - 1)),
            "other": draw(st.booleans()),
        }
    return {"k": kind}


@st.composite
def lines(draw: st.DrawFn) -> Plan:
    kind = draw(st.sampled_from(["simple", "simple", "simple", "chain", "cont", "comment"]))
    if kind == "chain":
        parts = draw(st.lists(simple_lines(), min_size=2, max_size=3))
        ops = [draw(st.sampled_from(CHAIN_OPS)) for _ in parts[1:]]
        return {"k": "chain", "parts": parts, "ops": ops, "cont": draw(st.booleans())}
    if kind == "cont":
        # a werf command with its flags on continued lines
        line = _werf_line(draw)
        line["cont"] = True
        return line
    if kind == "comment":
        return {"k": "comment"}
    return draw(simple_lines())


@st.composite
def items(draw: st.DrawFn) -> Plan:
    body = draw(st.lists(lines(), min_size=1, max_size=3))
    return {"style": draw(st.sampled_from(STYLES)), "lines": body, "comment": draw(st.booleans())}


@st.composite
def variables(draw: st.DrawFn, allow_desc: bool = False) -> list[Plan]:
    out = []
    for _ in range(draw(st.integers(0, 2))):
        out.append(
            {
                "local": draw(st.booleans()),
                "quote": draw(st.sampled_from(VAR_QUOTES)),
                "desc": allow_desc and draw(st.booleans()),
            }
        )
    return out


@st.composite
def jobs(draw: st.DrawFn, templates: int) -> Plan:
    merge: list[int] = []
    if templates and draw(st.booleans()):
        merge = draw(st.lists(st.integers(0, templates - 1), min_size=1, max_size=2, unique=True))
    return {
        "ci_env": draw(st.sampled_from([None, "source", "eval", "eval"])),
        "merge": merge,
        "merge_list": draw(st.booleans()),
        "extends": draw(st.one_of(st.none(), st.integers(0, templates - 1))) if templates else None,
        "vars": draw(variables()),
        "vars_ref": draw(st.sampled_from([None, None, "whole", "entry"])),
        "script_ref": templates > 0 and draw(st.booleans()),
        "items": draw(st.lists(items(), min_size=1, max_size=3)),
        "call_sh": draw(st.booleans()),
    }


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    """A random plan of a valid CI repository."""
    n_templates = draw(st.integers(0, 2))
    templates = [
        {
            "vars": draw(variables()),
            "before": draw(st.lists(items(), max_size=2)),
            "ci_env": draw(st.sampled_from([None, None, "eval", "source"])),
        }
        for _ in range(n_templates)
    ]
    default = None
    if draw(st.booleans()):
        default = {
            "ci_env": draw(st.sampled_from([None, "eval", "source"])),
            "items": draw(st.lists(items(), max_size=2)),
        }
    return {
        "crlf": draw(st.integers(0, 5)) == 0,
        "bom": draw(st.integers(0, 7)) == 0,
        "comments": draw(st.booleans()),
        "unsafe": draw(st.booleans()),
        "include": draw(st.integers(0, 3)) == 0,
        "global_vars": draw(variables(allow_desc=True)),
        "vars_tpl": draw(variables()),
        "default": default,
        "templates": templates,
        "sh": draw(st.one_of(st.none(), st.lists(lines(), min_size=1, max_size=4))),
        "jobs": draw(st.lists(jobs(len(templates)), min_size=1, max_size=3)),
    }


# --------------------------------------------------------------------------- ground truth


@dataclass
class Occurrence:
    """One ``:local`` the files contain, at one place in the text."""

    kind: str  # flag | sync | variable | export | prefix
    spelling: str
    file: str
    place: str  # e.g. "job1 script", ".tpl0 variables"


@dataclass
class Truth:
    occurrences: list[Occurrence] = field(default_factory=list)
    ci_env_jobs: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)
    features: set[str] = field(default_factory=set)

    def count(self, *kinds: str) -> int:
        return sum(1 for o in self.occurrences if not kinds or o.kind in kinds)

    def as_json(self) -> dict[str, Any]:
        return {
            "occurrences": [o.__dict__ for o in self.occurrences],
            "ci_env_jobs": self.ci_env_jobs,
            "jobs": self.jobs,
            "features": sorted(self.features),
        }


@dataclass
class Repo:
    files: dict[str, str]  # relative path -> text (with BOM / CRLF applied)
    truth: Truth
    unsafe: bool

    def write(self, root: Path) -> None:
        for name, text in self.files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text.encode("utf-8"))
            if name.endswith(".sh"):
                path.chmod(0o755)


# --------------------------------------------------------------------------- rendering


class _Ctx:
    def __init__(self, truth: Truth, file: str, place: str) -> None:
        self.truth = truth
        self.file = file
        self.place = place

    def add(self, kind: str, spelling: str) -> None:
        self.truth.occurrences.append(Occurrence(kind, spelling, self.file, self.place))


def _shell_werf(line: Plan, ctx: _Ctx) -> list[str]:
    """The werf command as shell words grouped in segments (a segment may go on its own line)."""
    words = WERF_COMMANDS[line["cmd"]].split(" ")
    cut = 3 if words[1] == "stages" else 2
    head = words[:cut]
    segments: list[str] = []
    if line.get("prefix"):
        segments.append("WERF_STAGES_STORAGE=:local")
        ctx.add("prefix", "WERF_STAGES_STORAGE=:local")
        ctx.truth.features.add("prefix")
    segments.append(" ".join(head))
    flags: list[str] = []
    if line["flag"] is not None:
        spelling = FLAG_SPELLINGS[line["flag"]]
        flags.append(spelling)
        ctx.add("flag", spelling)
        ctx.truth.features.add("flag:" + spelling)
    if line["sync"] is not None:
        spelling = SYNC_SPELLINGS[line["sync"]]
        ctx.add("sync", spelling)
        ctx.truth.features.add("sync")
        if line.get("sync_first"):
            flags.insert(0, spelling)
        else:
            flags.append(spelling)
    if line.get("verbose"):
        flags.insert(len(flags) // 2, "--verbose")
    segments.extend(flags)
    if words[cut:]:
        segments.append(" ".join(words[cut:]))
    return segments


def _shell_simple(line: Plan, ctx: _Ctx) -> str:
    kind = line["k"]
    if kind == "werf":
        return " ".join(_shell_werf(line, ctx))
    if kind == "echo":
        return ECHO_TEXTS[line["text"]]
    if kind in ("true", "false"):
        return str(kind)
    if kind == "export":
        if line["local"]:
            spelling = EXPORT_LOCAL[line["spelling"]]
            ctx.add("export", spelling)
            ctx.truth.features.add("export")
            if line.get("other"):
                return spelling + " OTHER_VAR=1"
            return spelling
        return "export OTHER_VAR=1"
    if kind == "held":
        spelling = HELD_SPELLINGS[line["flag"]]
        words = {"before": ["--verbose", spelling], "after": [spelling, "--verbose"]}.get(
            line["extra"] or "", [spelling])
        value = " ".join(words)
        quote = HELD_QUOTES[line["quote"]] or ('"' if " " in value else "")
        ctx.add("flag", spelling)
        ctx.truth.features.add("held:" + (quote or "plain"))
        return f"WERF_ARGS={quote}{value}{quote}; {WERF_COMMANDS[line['cmd']]} $WERF_ARGS"
    if kind == "curl":
        ctx.truth.features.add("curl")
        return "curl -s https://example.test/health"
    if kind == "sync_from":
        ctx.truth.features.add("stages-sync")
        return "werf stages sync --from :local --to $CI_REGISTRY_IMAGE/stages"
    if kind == "comment":
        return "# a comment: with a colon"
    raise ValueError(kind)


def _shell_line(line: Plan, ctx: _Ctx) -> str:
    """One line of shell (it may contain ``\\``-newline continuations)."""
    kind = line["k"]
    if kind == "werf" and line.get("cont"):
        ctx.truth.features.add("continuation")
        return " \\\n  ".join(_shell_werf(line, ctx))
    if kind == "chain":
        ctx.truth.features.add("chain")
        out = _shell_simple(line["parts"][0], ctx)
        for op, part in zip(line["ops"], line["parts"][1:], strict=True):
            if line["cont"]:
                ctx.truth.features.add("chain-continuation")
                out += f" {op} \\\n  " + _shell_simple(part, ctx)
            else:
                out += f" {op} " + _shell_simple(part, ctx)
        return out
    return _shell_simple(line, ctx)


def _is_plain_safe(text: str) -> bool:
    if not text or text[0] in "!&*-?:,[]{}#|>@`\"'%" or text != text.strip():
        return False
    if text.lower() in _YAML_WORDS or text.replace(".", "").isdigit():
        return False
    return ": " not in text and " #" not in text and "\n" not in text and not text.endswith(":")


_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _dq(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _yaml_item(text: str, style: str, indent: str, truth: Truth) -> str:
    """``text`` as the value of a sequence item at ``indent`` (the text after ``- ``)."""
    multi = "\n" in text
    inner = indent + "  "
    if style == "literal" or (multi and style != "double"):
        truth.features.add("style:literal")
        return "|\n" + "".join(inner + ln + "\n" for ln in text.split("\n"))
    if style == "double":
        truth.features.add("style:double")
        return _dq(text) + "\n"
    if style == "single":
        truth.features.add("style:single")
        return "'" + text.replace("'", "''") + "'\n"
    if style == "folded" and " " in text:
        truth.features.add("style:folded")
        words = text.split(" ")
        return ">-\n" + "".join(inner + w + "\n" for w in _fold(words))
    if style == "plain-multiline" and _is_plain_safe(text) and " " in text:
        truth.features.add("style:plain-multiline")
        parts = list(_fold(text.split(" ")))
        return parts[0] + "\n" + "".join(inner + p + "\n" for p in parts[1:])
    if _is_plain_safe(text):
        truth.features.add("style:plain")
        return text + "\n"
    truth.features.add("style:single")
    return "'" + text.replace("'", "''") + "'\n"


def _fold(words: list[str]) -> Iterator[str]:
    # one word per line, except that words must not start with a space-sensitive char
    chunk: list[str] = []
    for word in words:
        chunk.append(word)
        if len(chunk) == 2:
            yield " ".join(chunk)
            chunk = []
    if chunk:
        yield " ".join(chunk)


def _yaml_scalar_value(value: str, quote: str) -> str:
    if quote == "double":
        return _dq(value)
    if quote == "single" or not _is_plain_safe(value):
        return "'" + value + "'"
    return value


def _render_items(item_plans: list[Plan], indent: str, ctx: _Ctx, comments: bool) -> str:
    out = ""
    for item in item_plans:
        text = "\n".join(_shell_line(line, ctx) for line in item["lines"])
        if comments and item.get("comment"):
            out += f"{indent}# item comment\n"
            ctx.truth.features.add("yaml-comment")
        out += f"{indent}- " + _yaml_item(text, item["style"], indent, ctx.truth)
    return out


def _render_vars(var_plans: list[Plan], indent: str, ctx: _Ctx, prefix: str) -> str:
    out = ""
    for number, var in enumerate(var_plans):
        if var["local"]:
            name, value = "WERF_STAGES_STORAGE", ":local"
            ctx.add(
                "variable", f"WERF_STAGES_STORAGE: {var['quote']}{' desc' if var['desc'] else ''}"
            )
            ctx.truth.features.add("variable:" + ctx.place.split(" ")[0])
        else:
            name, value = f"{prefix}_VAR{number}", "some value"
        rendered = _yaml_scalar_value(value, var["quote"])
        if var.get("desc"):
            ctx.truth.features.add("variable:value-description")
            out += (
                f"{indent}{name}:\n{indent}  value: {rendered}\n{indent}  description: a setting\n"
            )
        else:
            out += f"{indent}{name}: {rendered}\n"
    return out


def _dedupe_local(var_plans: list[Plan]) -> list[Plan]:
    """At most one WERF_STAGES_STORAGE key per mapping (duplicate keys are invalid YAML)."""
    seen = False
    out = []
    for var in var_plans:
        if var["local"]:
            if seen:
                continue
            seen = True
        out.append(var)
    return out


def render(plan: Plan) -> Repo:
    """The files of ``plan`` and what they contain."""
    truth = Truth()
    comments = bool(plan.get("comments"))
    include = bool(plan.get("include"))
    main = ""
    side = ""  # included file
    if include:
        main += "include:\n  - local: ci/common.yml\n"
        truth.features.add("include")
    if comments:
        main += "# CI configuration\n"

    global_vars = _dedupe_local(plan["global_vars"])
    if global_vars:
        ctx = _Ctx(truth, ".gitlab-ci.yml", "global variables")
        main += "variables:\n" + _render_vars(global_vars, "  ", ctx, "GLOBAL")

    if plan.get("default") is not None:
        default = plan["default"]
        ctx = _Ctx(truth, ".gitlab-ci.yml", "default before_script")
        body = ""
        if default["ci_env"]:
            body += "    - " + CI_ENV[default["ci_env"]] + "\n"
        body += _render_items(default["items"], "    ", ctx, comments)
        if body:
            main += "default:\n  before_script:\n" + body
            truth.features.add("default")

    templates = plan["templates"]
    vars_tpl = _dedupe_local(plan["vars_tpl"])
    uses_vars_ref = any(job.get("vars_ref") for job in plan["jobs"])
    target = ".gitlab-ci.yml" if not include else "ci/common.yml"
    text = ""
    if uses_vars_ref:
        ctx = _Ctx(truth, target, ".vars variables")
        # an entry reference needs the entry to exist
        refvars = vars_tpl or [{"local": True, "quote": "double", "desc": False}]
        if not any(v["local"] for v in refvars):
            refvars = [*refvars, {"local": True, "quote": "double", "desc": False}]
        text += ".vars:\n  variables:\n" + _render_vars(refvars, "    ", ctx, "REF")
    for number, tpl in enumerate(templates):
        ctx = _Ctx(truth, target, f".tpl{number}")
        anchor = "" if include else f" &tpl{number}"
        body = ""
        tvars = _dedupe_local(tpl["vars"])
        if tvars:
            ctx.place = f".tpl{number} variables"
            body += "  variables:\n" + _render_vars(tvars, "    ", ctx, f"TPL{number}")
        before = ""
        if tpl.get("ci_env"):
            before += "    - " + CI_ENV[tpl["ci_env"]] + "\n"
        ctx.place = f".tpl{number} before_script"
        before += _render_items(tpl["before"], "    ", ctx, comments)
        if not before:
            before = "    - echo template\n"
        body += "  before_script:\n" + before
        text += f".tpl{number}:{anchor}\n" + body
    if include:
        side = text or ".empty:\n  script:\n    - echo empty\n"
    else:
        main += text

    for number, job in enumerate(plan["jobs"]):
        name = f"job{number}"
        truth.jobs.append(name)
        ctx = _Ctx(truth, ".gitlab-ci.yml", f"{name}")
        body = ""
        merge = [m for m in job["merge"] if m < len(templates)] if not include else []
        if merge:
            truth.features.add(
                "merge-list" if job["merge_list"] or len(merge) > 1 else "merge-single"
            )
            if len(merge) == 1 and not job["merge_list"]:
                body += f"  <<: *tpl{merge[0]}\n"
            else:
                body += "  <<: [" + ", ".join(f"*tpl{m}" for m in merge) + "]\n"
        extends = job["extends"]
        if extends is not None and extends < len(templates):
            truth.features.add("extends")
            body += f"  extends: .tpl{extends}\n"
        else:
            extends = None
        jvars = _dedupe_local(job["vars"])
        if job.get("vars_ref") == "whole":
            truth.features.add("reference:variables")
            body += "  variables: !reference [.vars, variables]\n"
        elif job.get("vars_ref") == "entry" or jvars:
            ctx.place = f"{name} variables"
            body += "  variables:\n"
            if job.get("vars_ref") == "entry":
                truth.features.add("reference:variable-entry")
                jvars = [v for v in jvars if not v["local"]]
                body += (
                    "    WERF_STAGES_STORAGE: !reference [.vars, variables, WERF_STAGES_STORAGE]\n"
                )
            body += _render_vars(jvars, "    ", ctx, name.upper())
        ctx.place = f"{name} script"
        script = ""
        if job["ci_env"]:
            script += "    - " + CI_ENV[job["ci_env"]] + "\n"
        if job.get("script_ref") and templates:
            truth.features.add("reference:script")
            script += "    - !reference [.tpl0, before_script]\n"
        script += _render_items(job["items"], "    ", ctx, comments)
        calls = job.get("call_sh") or (
            number == 0 and not any(j.get("call_sh") for j in plan["jobs"])
        )
        if calls and plan.get("sh") is not None:
            script += "    - bash ci/build.sh\n"
        body += "  script:\n" + script
        if comments:
            main += f"{name}:  # job {number}\n" + body
        else:
            main += f"{name}:\n" + body
        if _job_has_ci_env(plan, job, merge, extends):
            truth.ci_env_jobs.append(name)

    files = {".gitlab-ci.yml": main}
    if include:
        files["ci/common.yml"] = side
    if plan.get("sh") is not None:
        ctx = _Ctx(truth, "ci/build.sh", "build.sh")
        files["ci/build.sh"] = "#!/usr/bin/env bash\nset -eo pipefail\n" + "".join(
            _shell_line(line, ctx) + "\n" for line in plan["sh"]
        )
        truth.features.add("sh-script")
    for name in list(files):
        text = files[name]
        if plan.get("crlf") and not name.endswith(".sh"):  # bash reads CR as a character
            text = text.replace("\n", "\r\n")
            truth.features.add("crlf")
        if plan.get("bom") and name == ".gitlab-ci.yml":
            text = "\ufeff" + text
            truth.features.add("bom")
        files[name] = text
    return Repo(files, truth, bool(plan.get("unsafe")))


def _job_has_ci_env(plan: Plan, job: Plan, merge: list[int], extends: int | None) -> bool:
    if job["ci_env"]:
        return True
    templates = plan["templates"]
    # the job's before_script comes from <<: (first template wins), extends, or default
    if merge:
        return bool(templates[merge[0]].get("ci_env"))
    if extends is not None:
        return bool(templates[extends].get("ci_env"))
    default = plan.get("default")
    return bool(default and default.get("ci_env"))


def is_runnable_line(line: Plan) -> bool:
    if line["k"] == "chain":
        return all(is_runnable_line(part) for part in line["parts"])
    return line["k"] in RUNNABLE_KINDS


# --------------------------------------------------------------------------- shrinking


MIN_SIZES = {"jobs": 1, "items": 1, "lines": 1, "parts": 2, "sh": 1}


def shrink_candidates(value: Any, key: str = "") -> Iterator[Any]:
    """Smaller variants of a plan (or of any part of it), simplest changes first."""
    if isinstance(value, list):
        if len(value) > MIN_SIZES.get(key, 0):
            for index in range(len(value)):
                yield value[:index] + value[index + 1 :]
        for index, item in enumerate(value):
            for smaller in shrink_candidates(item):
                yield [*value[:index], smaller, *value[index + 1 :]]
    elif isinstance(value, dict):
        for key in sorted(value):
            item = value[key]
            if item is True:
                yield {**value, key: False}
            elif isinstance(item, int) and not isinstance(item, bool) and item > 0:
                yield {**value, key: 0}
            elif (
                isinstance(item, (dict, list))
                and key not in ("parts",)
                and value.get("k") != "chain"
            ):
                if key in ("default", "sh"):
                    yield {**value, key: None}
            elif isinstance(item, str) and key in ("style",) and item != "plain":
                yield {**value, key: "plain"}
            elif (isinstance(item, str) and key in ("ci_env", "vars_ref")) or (
                item is not None and key in ("flag", "sync", "extends")
            ):
                yield {**value, key: None}
        for key in sorted(value):
            item = value[key]
            if isinstance(item, (dict, list)):
                for smaller in shrink_candidates(item, key):
                    if key == "ops":
                        continue
                    new = {**value, key: smaller}
                    if key == "parts":
                        new["ops"] = value["ops"][: len(smaller) - 1]
                    yield new


def plan_size(plan: Any) -> int:
    return len(json.dumps(plan, sort_keys=True))
