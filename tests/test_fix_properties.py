"""Property tests of ``fix``: CI files generated with ``:local`` in random forms and places.

The oracle does not reuse any fix code: each file is generated twice from one random plan, once
with the ``:local`` flags and variables and once without; after ``fix`` the first must *mean*
the second (YAML loaded, every string split into shell words with continuations joined), lint
must be clean, and a second ``fix`` must change nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from ciswitch.config import Config
from ciswitch.fix import plan_fix, write_changes
from ciswitch.lint import analyse_workspace
from ciswitch.workspace import DirectoryWorkspace

FLAGS = [
    "--stages-storage :local",
    "--stages-storage=:local",
    "-s :local",
    "-s=:local",
    "-s:local",
    '--stages-storage ":local"',
    "-s ':local'",
    '--stages-storage=":local"',
]
COMMANDS = [
    "werf build",
    "werf publish --tag-git-branch main",
    "werf deploy --env prod",
    "werf cleanup",
    "werf stages purge --force",
]
STYLES = ["plain", "double", "single", "literal", "folded", "plain-multiline"]


@st.composite
def plans(draw: st.DrawFn) -> list[dict[str, Any]]:
    jobs = []
    for index in range(draw(st.integers(1, 4))):
        lines = []
        for _ in range(draw(st.integers(1, 3))):
            lines.append(
                {
                    "command": draw(st.sampled_from(COMMANDS)),
                    "flag": draw(st.one_of(st.none(), st.sampled_from(FLAGS))),
                    "style": draw(st.sampled_from(STYLES)),
                    "cyrillic": draw(st.booleans()),
                }
            )
        jobs.append({"name": f"job{index}", "lines": lines, "var": draw(st.booleans())})
    return jobs


def _script_item(line: dict[str, Any], with_flags: bool) -> str:
    words = line["command"].split(" ")
    # flags go after the whole subcommand (``werf stages purge``)
    cut = 3 if words[1] == "stages" else 2
    flag = line["flag"] if with_flags and line["flag"] else None
    echo = 'echo "Сборка" && ' if line["cyrillic"] else ""
    style = line["style"]
    if style == "literal":
        parts = [*words[:cut], *([flag] if flag else []), *words[cut:]]
        body = " \\\n      ".join(parts)
        return f"|\n      {echo}{body}\n"
    if style == "folded":
        parts = [*words, *([flag] if flag else [])]
        return ">-\n      " + echo + "\n      ".join(parts) + "\n"
    if style == "plain-multiline":
        parts = [*words[:cut], *([flag] if flag else []), *words[cut:]]
        return echo + "\n      ".join(parts) + "\n"
    text = " ".join([*words[:cut], *([flag] if flag else []), *words[cut:]])
    text = echo + text
    if style == "double":
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"\n'
    if style == "single":
        return "'" + text.replace("'", "''") + "'\n"
    return text + "\n"


def _render(plan: list[dict[str, Any]], with_flags: bool) -> str:
    out = ["variables:\n", '  GIT_DEPTH: "5"\n']
    if with_flags:
        out.append('  WERF_STAGES_STORAGE: ":local"\n')
    for job in plan:
        out.append(f"{job['name']}:\n")
        out.append("  variables:\n    A: b\n")
        if with_flags and job["var"]:
            out.append("    WERF_STAGES_STORAGE: ':local'\n")
        out.append("  before_script:\n    - source $(werf ci-env gitlab --as-file)\n")
        out.append("  script:\n")
        for line in job["lines"]:
            out.append("    - " + _script_item(line, with_flags))
    return "".join(out)


def _meaning(text: str) -> Any:
    data = YAML(typ="safe").load(text)

    def norm(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("\\\n", " ").split()
        if isinstance(value, list):
            return [norm(v) for v in value]
        if isinstance(value, dict):
            return {k: norm(v) for k, v in value.items()}
        return value

    return norm(data)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=plans())
def test_fix_means_the_file_without_local(
    plan: list[dict[str, Any]], tmp_path_factory: Any
) -> None:
    repo: Path = tmp_path_factory.mktemp("repo")
    ci = repo / ".gitlab-ci.yml"
    ci.write_text(_render(plan, True), encoding="utf-8")
    expected = _render(plan, False)
    ws = DirectoryWorkspace(repo)
    outcome = plan_fix(ws, Config())
    assert not outcome.problems, [p.one_line() for p in outcome.problems]
    assert not outcome.remaining, [
        f"{f.begin} {f.code} {f.unfixable_reason}" for f in outcome.remaining
    ]
    write_changes(ws, outcome)
    fixed = ci.read_text(encoding="utf-8")
    assert _meaning(fixed) == _meaning(expected)
    assert not analyse_workspace(ws, Config()).result.findings
    again = plan_fix(ws, Config())
    assert not again.changes and not again.remaining
