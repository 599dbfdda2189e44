"""Task runners (npm, yarn, pnpm, just, task) in CI lines: a call whose runner file may run
werf is a place not checked at its line, found from the directory the shell is in when the
line runs; a runner file that cannot reach werf, and a word that only looks like a runner,
are not reported. Each case is a repository written here and linted by the installed CLI."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from lintrun import not_checked_entries as _lint

from ciswitch.scripts.prefilter import may_run_files
from ciswitch.scripts.runs import script_runs_in
from ciswitch.workspace import DirectoryWorkspace

WERF_SCRIPTS = '{"scripts": {"deploy": "werf deploy -s :local"}}\n'
SCRIPT_ONLY = '{"scripts": {"deploy": "bash ./ci/deploy.sh"}}\n'
PLAIN = '{"scripts": {"test": "jest", "build": "tsc"}}\n'


def _job(*lines: str, before: tuple[str, ...] = ()) -> str:
    text = "build:\n"
    if before:
        text += "  before_script:\n" + "".join(f"    - {x}\n" for x in before)
    return text + "  script:\n" + "".join(f"    - {x}\n" for x in lines)


def test_the_directory_a_cd_leaves_chooses_the_file(tmp_path: Path) -> None:
    """``cd web`` in before_script carries over to the script lines (one shell), so
    web/package.json is the one npm reads there, not the plain one at the root."""
    entries = _lint(tmp_path, _job("npm run deploy", "yarn build", before=("cd web",)),
                    {"package.json": PLAIN, "web/package.json": SCRIPT_ONLY})
    assert entries == [
        ".gitlab-ci.yml:5: not checked: npm run deploy: web/package.json's scripts are not "
        "followed (it names a script that may run werf)",
        ".gitlab-ci.yml:6: not checked: yarn build: web/package.json's scripts are not "
        "followed (it names a script that may run werf)",
    ]


def test_a_runner_file_is_looked_for_upward(tmp_path: Path) -> None:
    entries = _lint(tmp_path, _job("cd web/app && npm ci"), {"package.json": WERF_SCRIPTS,
                                                             "web/app/index.js": ""})
    assert entries == [".gitlab-ci.yml:3: not checked: npm ci: package.json's scripts are not "
                       "followed (it mentions werf)"]


def test_asking_a_runner_its_version_runs_nothing_of_its_file(tmp_path: Path) -> None:
    entries = _lint(tmp_path, _job("npm --version", "yarn -v", "just --help", "npm ci"),
                    {"package.json": WERF_SCRIPTS, "justfile": "x:\n    werf build\n"})
    assert entries == [".gitlab-ci.yml:6: not checked: npm ci: package.json's scripts are not "
                       "followed (it mentions werf)"]


def test_a_directory_option_is_where_the_file_is(tmp_path: Path) -> None:
    """``--prefix api`` is npm's directory: api/package.json or nothing (no walk up), and a
    directory computed at run time is a place not checked of its own."""
    entries = _lint(
        tmp_path,
        _job("npm --prefix api run deploy", "npm --prefix=docs run build", "pnpm -C api deploy",
             'yarn --cwd "$APP_DIR" deploy', "task -d ops publish", "just -f ops/justfile x"),
        {"package.json": WERF_SCRIPTS, "api/package.json": WERF_SCRIPTS, "docs/x.md": "",
         "ops/Taskfile.yml": "tasks:\n  publish:\n    cmds: [werf publish -s :local]\n",
         "ops/justfile": "x:\n    werf build -s :local\n"},
    )
    assert entries == [
        ".gitlab-ci.yml:3: not checked: npm --prefix api run ...: api/package.json's scripts"
        " are not followed (it mentions werf)",
        ".gitlab-ci.yml:5: not checked: pnpm -C api deploy: api/package.json's scripts are not"
        " followed (it mentions werf)",
        '.gitlab-ci.yml:6: not checked: yarn --cwd "$APP_DIR" deploy: yarn is pointed at a'
        " directory computed at run time; what it runs is not followed",
        ".gitlab-ci.yml:7: not checked: task -d ops publish: ops/Taskfile.yml's tasks are not"
        " followed (it mentions werf)",
        ".gitlab-ci.yml:8: not checked: just -f ops/justfile x: ops/justfile's recipes are not"
        " followed (it mentions werf)",
    ]


def test_nothing_is_said_where_the_runner_cannot_reach_werf(tmp_path: Path) -> None:
    """A package.json of plain tools, no runner file at all, and runner names that are only
    words of another command: nothing to report, and the summary says "No findings"."""
    entries = _lint(
        tmp_path,
        _job("npm test", "echo just do it", "echo 'task done'", "just build", "task x",
             "npx jest --ci", "yarn --version"),
        {"package.json": PLAIN},
    )
    assert entries == []


RUNNER_LINES = ["npm run deploy", "yarn deploy", "pnpm deploy", "just deploy", "task deploy",
                "npm --prefix web ci", "yarn --cwd=web build", "/usr/bin/npm ci",
                "sudo -E npm test", "echo npm", "cd web && npm ci", "task -t web/Taskfile.yml"]
LAYOUTS = {
    "root": {"package.json": WERF_SCRIPTS, "justfile": "deploy:\n    werf build -s :local\n"},
    "web": {"web/package.json": SCRIPT_ONLY, "web/Taskfile.yml": "x: [werf build]\n"},
    "plain": {"package.json": PLAIN},
    "none": {},
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_a_runner_line_turned_away_leaves_nothing_when_parsed(tmp_path: Path,
                                                               layout: str) -> None:
    """The prefilter's oracle is the parse: a runner line it turns away, from any working
    directory, says nothing when it is parsed after all."""
    for rel, text in LAYOUTS[layout].items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    ws = DirectoryWorkspace(tmp_path)
    turned_away = reported = 0
    for first, second, cwd in itertools.product(RUNNER_LINES, ["", "; echo ok"], ["", "web"]):
        text = first + second
        parsed = script_runs_in(text, ws, cwd, force=True)
        reported += bool(parsed.skipped)
        if not may_run_files(text, ws, cwd):
            turned_away += 1
            assert (parsed.runs, parsed.skipped) == ([], []), (text, cwd)
    assert turned_away > 0 or layout != "none"
    assert (reported > 0) == (layout in ("root", "web"))
