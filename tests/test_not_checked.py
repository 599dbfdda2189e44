"""Places ciswitch cannot read or follow are a result, never a silent "No findings".

Each case is a real repository written at run time (the FIFO, the binary file, the NUL file and
the symlink that leaves the root are made here, not stored), linted by the installed CLI. What
the script would really do is checked independently where it can be: the bytes ciswitch
refuses to read do hold ``:local`` (``grep -a``), and bash itself reads the unreadable scripts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

CISWITCH = [sys.executable, "-m", "ciswitch"]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CISWITCH, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )


def _ci(repo: Path, *lines: str) -> None:
    (repo / ".gitlab-ci.yml").write_text(
        "build:\n  script:\n    - source $(werf ci-env gitlab --as-file)\n"
        + "".join(f"    - {line}\n" for line in lines),
        encoding="utf-8",
    )


def _script(repo: Path, rel: str, data: bytes) -> Path:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o755)
    return path


LOCAL_SCRIPT = b"#!/bin/bash\nwerf build --stages-storage :local\n"


@dataclass(frozen=True)
class Case:
    name: str
    setup: Callable[[Path], None]
    line: int
    kind: str
    message: str  # a part of the entry's message
    #: the file that holds :local although ciswitch could not read it (checked with grep -a)
    holds_local: str | None = None


def _binary(repo: Path) -> None:
    _script(repo, "ci/build.sh", b"\x7fELF\x02\x01\x01\x00\x00" + LOCAL_SCRIPT)
    _ci(repo, "./ci/build.sh")


def _nul(repo: Path) -> None:
    _script(repo, "ci/build.sh", LOCAL_SCRIPT + b"# \x00\n")
    _ci(repo, "bash ci/build.sh")


def _latin1(repo: Path) -> None:
    _script(repo, "ci/build.sh", "#!/bin/bash\n# Café\n".encode("latin-1") + LOCAL_SCRIPT)
    _ci(repo, "ci/build.sh")


def _fifo(repo: Path) -> None:
    (repo / "ci").mkdir()
    os.mkfifo(repo / "ci" / "build.sh")
    _ci(repo, "./ci/build.sh")


def _symlink_out(repo: Path) -> None:
    outside = repo.parent / "outside"
    outside.mkdir()
    _script(outside, "build.sh", LOCAL_SCRIPT)
    (repo / "ci").mkdir()
    (repo / "ci" / "build.sh").symlink_to("../../outside/build.sh")
    _ci(repo, "./ci/build.sh")


def _binary_program(repo: Path) -> None:
    _script(repo, "bin/tool", b"\x7fELF\x02\x01\x01\x00\x00\x00werf build -s :local\n")
    _ci(repo, "./bin/tool")


def _computed(repo: Path) -> None:
    _script(repo, "ci/build.sh", LOCAL_SCRIPT)
    _ci(repo, 'bash "$BUILD_SCRIPT"')


def _run_from(rel: str, text: str, line: str) -> Callable[[Path], None]:
    """A repository whose CI line runs ``rel`` (holding ``text``) through a runner."""
    def setup(repo: Path) -> None:
        (repo / rel).write_text(text)
        _ci(repo, line)
    return setup


_make = _run_from("Makefile", "images:\n\twerf build -s :local\n", "make images")
_npm = _run_from(
    "package.json",
    '{"scripts": {"deploy": "werf deploy --stages-storage :local --env production"}}\n',
    "npm run deploy")
_just = _run_from("justfile", "images:\n    werf build --stages-storage :local\n",
                  "just images")
_task = _run_from(
    "Taskfile.yml",
    "version: '3'\ntasks:\n  publish:\n    cmds:\n      - werf publish -s :local\n",
    "task publish")


def _missing(repo: Path) -> None:
    _ci(repo, "./ci/generated.sh")


def _include(kind: str, value: str) -> Callable[[Path], None]:
    def setup(repo: Path) -> None:
        (repo / ".gitlab-ci.yml").write_text(
            f"include:\n  - {kind}: {value}\n"
            "build:\n  script:\n    - source $(werf ci-env gitlab --as-file)\n"
            "    - werf build\n",
            encoding="utf-8",
        )
    return setup


def _project_include(repo: Path) -> None:
    (repo / ".gitlab-ci.yml").write_text(
        "include:\n  - local: ci/werf.yml\n  - project: group/ci-templates\n"
        "    ref: v1\n    file: /werf.yml\n"
        "build:\n  script:\n    - werf build\n",
        encoding="utf-8",
    )
    (repo / "ci").mkdir()
    (repo / "ci" / "werf.yml").write_text("before_script:\n  - source $(werf ci-env gitlab)\n")


def _computed_include(repo: Path) -> None:
    (repo / "ci").mkdir()
    (repo / "ci" / "production.yml").write_text("deploy:\n  script:\n    - werf deploy -s :local\n")
    _include("local", "ci/$DEPLOY_ENV.yml")(repo)


def _conditional_include(repo: Path) -> None:
    (repo / ".gitlab-ci.yml").write_text(
        "include:\n  - local: ci/optional.yml\n    rules:\n      - exists: [ci/optional.yml]\n"
        "build:\n  script:\n    - source $(werf ci-env gitlab --as-file)\n    - werf build\n",
        encoding="utf-8",
    )


def _python_code(repo: Path) -> None:
    _ci(repo, """python3 -c "print 'werf build -s :local'" """)


CASES = [
    Case("binary-script", _binary, 4, "unreadable-script", "ci/build.sh: binary file",
         holds_local="ci/build.sh"),
    Case("nul-script", _nul, 4, "unreadable-script", "ci/build.sh: binary file",
         holds_local="ci/build.sh"),
    Case("non-utf8-script", _latin1, 4, "unreadable-script", "ci/build.sh: not valid UTF-8",
         holds_local="ci/build.sh"),
    Case("fifo-script", _fifo, 4, "unreadable-script", "./ci/build.sh: not a regular file"),
    Case("symlink-leaving-the-root", _symlink_out, 4, "unreadable-script",
         "./ci/build.sh: path escapes the repository (symlink)"),
    Case("binary-program", _binary_program, 4, "unreadable-script",
         "./bin/tool: a binary program", holds_local="bin/tool"),
    Case("computed-path", _computed, 4, "computed-path", '"$BUILD_SCRIPT": computed path'),
    Case("make-target", _make, 4, "make-target", "make images: make targets are not followed",
         holds_local="Makefile"),
    Case("npm-script", _npm, 4, "task-runner",
         "npm run deploy: package.json's scripts are not followed (it mentions werf)",
         holds_local="package.json"),
    Case("just-recipe", _just, 4, "task-runner",
         "just images: justfile's recipes are not followed (it mentions werf)",
         holds_local="justfile"),
    Case("taskfile-task", _task, 4, "task-runner",
         "task publish: Taskfile.yml's tasks are not followed (it mentions werf)",
         holds_local="Taskfile.yml"),
    Case("missing-script", _missing, 4, "missing-script",
         "./ci/generated.sh: no such file in the repository"),
    Case("project-include", _project_include, 3, "project-include",
         "include project: group/ci-templates: not in this repository"),
    Case("remote-include", _include("remote", "https://example.com/werf.yml"), 2,
         "remote-include", "include remote: https://example.com/werf.yml"),
    Case("template-include", _include("template", "Auto-DevOps.gitlab-ci.yml"), 2,
         "template-include", "include template: Auto-DevOps.gitlab-ci.yml"),
    Case("computed-include", _computed_include, 2, "computed-include",
         "include ci/$DEPLOY_ENV.yml: the path holds a variable",
         holds_local="ci/production.yml"),
    Case("conditional-include-not-there", _conditional_include, 2, "include-rules",
         "include ci/optional.yml: not in the repository, and its rules: may leave it out"),
    Case("python-code-not-python-3", _python_code, 4, "command-string",
         "python3 -c: the code is not valid Python (a syntax error on line 1), not read",
         holds_local=".gitlab-ci.yml"),
    Case("component-include",
         _include("component", "gitlab.example.com/group/werf/build@1.0"), 2,
         "component-include", "include component: gitlab.example.com/group/werf/build@1.0"),
]

#: every lint run without --gitlab-url also names GitLab's CI/CD settings, once, last
SETTINGS_PHRASE = "1 place in GitLab's CI/CD settings"
SETTINGS_LINE = ("gitlab: CI/CD variables in GitLab's settings were not checked: pass "
                 "--gitlab-url with GITLAB_TOKEN")
SETTINGS_JSON = {"path": None, "line": None, "location": "gitlab", "kind": "gitlab-settings",
                 "message": SETTINGS_LINE.removeprefix("gitlab: ")}
SUMMARY = {
    "unreadable-script": "1 place not checked (1 unreadable script)",
    "computed-path": "1 place not checked (1 computed script path)",
    "make-target": "1 place not checked (1 make target)",
    "task-runner": "1 place not checked (1 task runner call)",
    "missing-script": "1 place not checked (1 script not in the repository)",
    "project-include": "1 place not checked (1 include from another project)",
    "remote-include": "1 place not checked (1 remote include)",
    "template-include": "1 place not checked (1 template include)",
    "component-include": "1 place not checked (1 component include)",
    "computed-include": "1 place not checked (1 include with a variable in its path)",
    "include-rules": "1 place not checked (1 conditional include not in the repository)",
    "command-string": "1 place not checked (1 command string)",
}


@pytest.fixture(params=CASES, ids=lambda c: c.name)
def case_repo(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Case, Path]:
    case: Case = request.param
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    case.setup(repo)
    return case, repo


def test_the_unread_file_really_holds_local(case_repo: tuple[Case, Path]) -> None:
    """The oracle for the cases that matter most: what ciswitch could not read does set
    :local, so a bare "No findings" would be a false clean."""
    case, repo = case_repo
    if case.holds_local is None:
        pytest.skip("nothing in the repository to grep")
    grep = subprocess.run(["grep", "-a", "-c", ":local", case.holds_local], cwd=repo,
                          capture_output=True, text=True, check=False)
    assert grep.returncode == 0 and int(grep.stdout) >= 1


def test_text_summary_says_what_was_not_checked(case_repo: tuple[Case, Path]) -> None:
    case, repo = case_repo
    done = _run("lint", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.splitlines()[-1]
    assert not last.startswith("No findings.") and "No findings in" in last
    one = SUMMARY[case.kind].removeprefix("1 place not checked (").removesuffix(")")
    assert f"; 2 places not checked ({one}, {SETTINGS_PHRASE}): -v lists them." in last, last
    assert case.message not in done.stdout  # listed only with -v (or --strict)


def test_verbose_lists_the_place_and_its_reason(case_repo: tuple[Case, Path]) -> None:
    case, repo = case_repo
    done = _run("lint", "-v", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines.count(SETTINGS_LINE) == 1, done.stdout
    entry = [line for line in lines if "not checked:" in line and line != SETTINGS_LINE]
    assert len(entry) == 1, done.stdout
    assert entry[0].startswith(f".gitlab-ci.yml:{case.line}: not checked: "), entry
    assert case.message in entry[0]
    assert done.stdout.splitlines()[-1].endswith(": listed above.")


def test_strict_fails_with_the_reason(case_repo: tuple[Case, Path]) -> None:
    case, repo = case_repo
    done = _run("lint", "--strict", cwd=repo)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f".gitlab-ci.yml:{case.line}: not checked: " in done.stdout
    assert case.message in done.stdout


def test_npm_really_runs_werf_with_local_from_its_scripts(tmp_path: Path) -> None:
    """The oracle for the task runner entries: the real npm runs the package's script, and
    the werf stand-in it calls gets ``:local``; so a bare "No findings" there would be a
    false clean. npm runs ``prepare`` on ``npm install`` too: any npm call counts."""
    import shutil

    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: the oracle for package.json's scripts needs it")
    repo = tmp_path / "repo"
    repo.mkdir()
    _npm(repo)
    log = tmp_path / "werf.log"
    stand_in = Path(__file__).parent / "bin"
    ran = subprocess.run(
        [npm, "run", "deploy"], cwd=repo, capture_output=True, text=True, check=False,
        timeout=120, env={**os.environ, "PATH": f"{stand_in}:{os.environ['PATH']}",
                          "WERF_STANDIN_LOG": str(log), "HOME": str(tmp_path),
                          "npm_config_update_notifier": "false"},
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    calls = [json.loads(x)["argv"] for x in log.read_text().splitlines()]
    assert ["deploy", "--stages-storage", ":local", "--env", "production"] in calls, calls


def test_strict_in_the_config_fails_too(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _fifo(repo)
    (repo / ".ciswitch.toml").write_text("strict = true\n")
    done = _run("lint", cwd=repo)
    assert done.returncode == 1, done.stdout + done.stderr
    assert ".gitlab-ci.yml:4: not checked: ./ci/build.sh: not a regular file" in done.stdout
    assert _run("lint", "--exit-zero", cwd=repo).returncode == 0


def test_json_lists_not_checked(case_repo: tuple[Case, Path]) -> None:
    case, repo = case_repo
    done = _run("lint", "--format", "json", cwd=repo)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["findings"] == [] and report["errors"] == []
    assert report["not_checked"].count(SETTINGS_JSON) == 1, report["not_checked"]
    [entry] = [e for e in report["not_checked"] if e != SETTINGS_JSON]
    assert entry["path"] == ".gitlab-ci.yml"
    assert entry["line"] == case.line
    assert entry["kind"] == case.kind
    assert case.message in entry["message"]


def test_bash_reads_what_ciswitch_reports_unreadable(tmp_path: Path) -> None:
    """The non-UTF-8 script is a real script to bash: it runs its werf line (the stand-in
    werf prints its arguments), so it must not be skipped silently."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _latin1(repo)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "werf"
    fake.write_text('#!/bin/sh\necho "werf $*"\n')
    fake.chmod(0o755)
    ran = subprocess.run(["bash", "ci/build.sh"], cwd=repo, capture_output=True, text=True,
                         check=False, env={**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"})
    assert "werf build --stages-storage :local" in ran.stdout


def test_every_place_is_counted_once_by_kind(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _script(repo, "ci/a.sh", b"\x00")
    _script(repo, "ci/b.sh", b"\xff\xfe")
    (repo / ".gitlab-ci.yml").write_text(
        "include:\n  - project: group/ci\n    file: /a.yml\n"
        "  - project: group/ci\n    file: /b.yml\n"
        ".common:\n  script:\n    - ./ci/a.sh\n"
        "build:\n  extends: .common\n"
        "deploy:\n  extends: .common\n"
        "test:\n  script:\n    - ./ci/b.sh\n    - make test\n",
        encoding="utf-8",
    )
    done = _run("lint", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == (
        "No findings in 1 file; 6 places not checked (2 includes from other projects, "
        f"2 unreadable scripts, 1 make target, {SETTINGS_PHRASE}): -v lists them."
    )


def test_findings_and_not_checked_in_one_summary(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _ci(repo, "werf build -s :local", "make images")
    done = _run("lint", cwd=repo)
    assert done.returncode == 1
    assert done.stdout.splitlines()[-1] == (
        "Found 1 finding (1 fixable) in 1 file; 2 places not checked (1 make target, "
        f"{SETTINGS_PHRASE}): -v lists them."
    )


def test_a_clean_repository_names_only_gitlabs_settings(tmp_path: Path) -> None:
    """Every file read and clean: what is left unread is GitLab's settings, which --strict does
    not fail on (only --gitlab-url can read them; the bare summary is in
    tests/test_gitlab_settings.py)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _ci(repo, "werf build")
    done = _run("lint", "--strict", cwd=repo)
    assert done.returncode == 0
    assert done.stdout == (f"{SETTINGS_LINE}\nNo findings in 1 file; 1 place not checked "
                           f"({SETTINGS_PHRASE}): listed above.\n")
    report = json.loads(_run("lint", "--format", "json", cwd=repo).stdout)
    assert report["not_checked"] == [SETTINGS_JSON]


def test_strict_must_be_a_boolean(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _ci(repo, "werf build")
    (repo / ".ciswitch.toml").write_text('strict = "yes"\n')
    done = _run("lint", cwd=repo)
    assert done.returncode == 2
    assert "key 'strict' must be true or false, not a string" in done.stdout + done.stderr


def test_statistics_count_the_places_not_checked(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _script(repo, "ci/a.sh", b"\x00")
    _ci(repo, "werf build -s :local", "make images", "make test", "./ci/a.sh")
    done = _run("lint", "--statistics", cwd=repo)
    assert done.returncode == 1
    rows = done.stdout.splitlines()[-4:]
    assert rows == [
        "1\tCSW001\t[*] local-stages-storage-flag",
        "2\tnot-checked\t    make-target",
        "1\tnot-checked\t    unreadable-script",
        "1\tnot-checked\t    gitlab-settings",
    ]


def test_fix_says_what_it_did_not_check(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _fifo(repo)
    with (repo / ".gitlab-ci.yml").open("a") as ci:
        ci.write("    - werf build -s :local\n")
    checked = _run("fix", "--check", cwd=repo)
    assert checked.returncode == 1
    assert checked.stderr.splitlines()[-1].endswith(
        "; 1 place not checked (1 unreadable script): -v lists them."
    ), checked.stderr
    done = _run("fix", "-v", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert ".gitlab-ci.yml:4: not checked: ./ci/build.sh: not a regular file, not read" in lines
    assert lines[-1].endswith("; 1 place not checked (1 unreadable script): listed above.")
    assert "werf build\n" in (repo / ".gitlab-ci.yml").read_text()


# --------------------------------------------------------------------------------------------
# GitLab Code Quality: an errored or partial lint never looks clean in the widget

#: what GitLab's Code Quality documentation requires of every entry
CODE_QUALITY_SEVERITIES = {"info", "minor", "major", "critical", "blocker"}


def _code_quality(repo: Path, exit_code: int) -> list[dict[str, object]]:
    """The report file, as the CI job writes it (``--output``); input errors also go to
    standard error, and nothing else to standard output."""
    report = repo.parent / "gl-code-quality-report.json"
    done = _run("lint", "--format", "gitlab", "--output", str(report), cwd=repo)
    assert done.returncode == exit_code, done.stdout + done.stderr
    if exit_code == 2:
        assert done.stdout == ""
        assert done.stderr and all(": error: " in line for line in done.stderr.splitlines())
    entries = json.loads(report.read_text(encoding="utf-8"))
    assert isinstance(entries, list)
    for entry in entries:
        for key in ("description", "check_name", "fingerprint"):
            assert isinstance(entry[key], str) and entry[key], (key, entry)
        assert entry["severity"] in CODE_QUALITY_SEVERITIES
        location = entry["location"]
        assert isinstance(location["path"], str) and not location["path"].startswith("./")
        begin = location["lines"]["begin"]
        assert isinstance(begin, int) and begin >= 1
    assert len({e["fingerprint"] for e in entries}) == len(entries)
    # without --gitlab-url, GitLab's CI/CD settings are one info entry at the logical path
    settings = [e for e in entries if e["check_name"] == "not-checked/gitlab-settings"]
    assert len(settings) == 1, entries
    assert settings[0]["severity"] == "info"
    assert settings[0]["location"] == {"path": "gitlab", "lines": {"begin": 1, "end": 1}}
    assert settings[0]["description"] == SETTINGS_JSON["message"]
    return [e for e in entries if e is not settings[0]]


def test_code_quality_has_input_errors_as_blockers(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".gitlab-ci.yml").write_text("build:\n  script:\n    - werf build\n  - bad\n")
    [entry] = _code_quality(repo, 2)
    assert entry["severity"] == "blocker"
    assert entry["check_name"] == "input-error"
    assert entry["location"] == {"path": ".gitlab-ci.yml", "lines": {"begin": 4, "end": 4}}
    assert "invalid YAML" in str(entry["description"])


def test_code_quality_has_a_missing_include_as_a_blocker(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".gitlab-ci.yml").write_text(
        "include:\n  - local: ci/gone.yml\nbuild:\n  script:\n    - werf build -s :local\n")
    entries = _code_quality(repo, 2)
    blockers = [e for e in entries if e["severity"] == "blocker"]
    assert len(blockers) == 1, entries
    assert blockers[0]["location"] == {"path": ".gitlab-ci.yml", "lines": {"begin": 2, "end": 2}}
    assert "ci/gone.yml" in str(blockers[0]["description"])


def test_code_quality_has_a_bad_configuration_as_a_blocker(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _ci(repo, "werf build")
    (repo / ".ciswitch.toml").write_text("# settings\nselct = []\n")
    [entry] = _code_quality(repo, 2)
    assert entry["severity"] == "blocker"
    assert entry["location"] == {"path": ".ciswitch.toml", "lines": {"begin": 2, "end": 2}}


def test_code_quality_has_not_checked_places_as_info(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _script(repo, "ci/a.sh", b"\x00")
    _ci(repo, "werf build -s :local", "make images", "./ci/a.sh")
    entries = _code_quality(repo, 1)
    assert [(e["check_name"], e["severity"], e["location"]["lines"]["begin"])  # type: ignore[index]
            for e in entries] == [
        ("CSW001", "major", 4),
        ("not-checked/make-target", "info", 5),
        ("not-checked/unreadable-script", "info", 6),
    ]
    # like a finding's, the fingerprint of a place not checked survives lines added above
    ci = repo / ".gitlab-ci.yml"
    ci.write_text("stages: [build]\n\n" + ci.read_text())
    moved = _code_quality(repo, 1)
    assert [e["fingerprint"] for e in moved] == [e["fingerprint"] for e in entries]
    assert [e["location"]["lines"]["begin"] for e in moved] == [6, 7, 8]  # type: ignore[index]


def test_code_quality_of_a_clean_repository_is_empty(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _ci(repo, "werf build")
    assert _code_quality(repo, 0) == []


def test_github_annotations_have_a_notice_per_place_not_checked(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _ci(repo, "werf build -s :local", "make images")
    done = _run("lint", "--format", "github", cwd=repo)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0].startswith("::error file=.gitlab-ci.yml,line=4,")
    assert lines[1] == (
        "::notice file=.gitlab-ci.yml,line=5,title=ciswitch%3A not checked::"
        "not checked: make images: make targets are not followed"
    )


def test_switch_guard_lists_a_place_not_checked(tmp_path: Path) -> None:
    """The guard before ``switch-from-local`` reads the branch's tree: a place not checked
    there is its coverage check's reason, never "every include and script was read"."""
    from ciswitch import gitops
    from ciswitch.runbook.guard import lint_checks

    repo_dir = tmp_path / "repo"
    repo_dir.mkdir()
    _ci(repo_dir, "werf build", "make images")
    env = {**os.environ, "GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@example.test",
           "GIT_COMMITTER_NAME": "A", "GIT_COMMITTER_EMAIL": "a@example.test"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "ci"]):
        subprocess.run(["git", *args], cwd=repo_dir, check=True, env=env)
    repo = gitops.open_repo(repo_dir)
    sha = gitops.head_sha(repo)
    checks = {c.key: c for c in lint_checks(repo, "origin", "main", sha, None)}
    coverage = checks["coverage"]
    assert coverage.state == "not-checked"
    assert coverage.detail == ".gitlab-ci.yml:5: make images: make targets are not followed"


def test_a_python_helper_python_cannot_compile_is_not_checked(tmp_path: Path) -> None:
    """A Python 2 helper that runs werf: its reader finds nothing in it, which is said at the
    line Python itself names (the oracle: ``python3`` refuses to compile it there)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    helper = _script(repo, "ci/build.py", b"import os\n\nprint 'werf build -s :local'\n")
    _ci(repo, "python ci/build.py")
    python = subprocess.run([sys.executable, "-c", f"compile(open({str(helper)!r}).read(), "
                             "'ci/build.py', 'exec')"], capture_output=True, text=True,
                            check=False)
    assert python.returncode == 1 and 'line 3' in python.stderr, python.stderr
    done = _run("lint", "-v", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert ("ci/build.py:3: not checked: not valid Python (a syntax error on line 3), not "
            "read") in done.stdout.splitlines(), done.stdout
    assert "1 unreadable script" in done.stdout.splitlines()[-1]


#: werf run where no werf command is read: (name, script lines, line of the entry, what the
#: entry says, whether bash can run it with the werf stand-in)
UNREAD = [
    ("here-document", ["bash <<'SCRIPT'", "werf build --stages-storage :local", "SCRIPT"], 6,
     "--stages-storage :local after werf in a here-document", True),
    ("eval", ['eval "werf build -s :local"'], 5, "-s :local after werf in an eval", True),
    # another variable's :local, which the reader reads, does not stand for werf's
    ("here-document-after-another-local", ["FOO=:local", "bash <<SCRIPT",
                                           "werf build -s :local", "SCRIPT"], 7,
     "-s :local after werf in a here-document", True),
    ("find-exec", ["mkdir -p images/app",
                   "find images -mindepth 1 -type d -exec werf cleanup -s :local --dir {} \\;"],
     6, "-s :local after werf in a find -exec", True),
    ("bash-array", ["args=(--log-verbose --stages-storage :local)", 'werf build "${args[@]}"'],
     5, "--stages-storage :local in the bash array args", True),
    ("container", ["docker run --rm ghcr.io/werf/werf:1.1 werf build --stages-storage=:local"],
     5, "--stages-storage=:local after werf in a container's command (its environment is the"
     " container's)", False),
    ("remote-shell", ['ssh deploy@host "werf deploy -s :local"'], 5,
     "-s :local after werf in a remote shell's command", False),
    ("command-substitution", ["$(command -v werf) build -s :local"], 5,
     "-s :local after werf in a command that a command substitution names", True),
    ("unknown-binary-variable", ["$WERF_BIN build -s :local"], 5,
     "-s :local after werf in a command named by a variable not known to hold werf's path",
     False),
    ("shell-function", ['build_images() {', '  werf build "$@"', '}',
                        "build_images --stages-storage :local"], 8,
     "--stages-storage :local passed to the shell function build_images, which runs werf with"
     " its arguments", True),
    ("one-line-shell-function", ['function publish { werf publish --log-verbose "$@"; }',
                                 "publish -s :local"], 6,
     "-s :local passed to the shell function publish, which runs werf with its arguments",
     True),
    # werf's variable, which the stand-in does not log: the grep of the other tests suffices
    ("here-document-variable", ["bash <<'SCRIPT'", 'export WERF_STAGES_STORAGE=":local"',
                                "werf build", "SCRIPT"], 6,
     "WERF_STAGES_STORAGE=:local in a here-document", False),
    ("container-variable", ["docker run --rm -e WERF_SYNCHRONIZATION=:local img werf build"], 5,
     "WERF_SYNCHRONIZATION=:local in a container's command (its environment is the"
     " container's)", False),
]


def _block_ci(repo: Path, lines: list[str]) -> None:
    body = "".join(f"      {line}\n" for line in lines)
    (repo / ".gitlab-ci.yml").write_text(
        "build:\n  script:\n    - source $(werf ci-env gitlab --as-file)\n    - |\n" + body,
        encoding="utf-8",
    )


@pytest.mark.parametrize(("name", "lines", "line", "message", "runs"), UNREAD,
                         ids=[case[0] for case in UNREAD])
def test_werf_run_where_no_command_is_read_is_not_checked(
    tmp_path: Path, name: str, lines: list[str], line: int, message: str, runs: bool,
) -> None:
    """Never "No findings" for these; where bash can run the script, the werf stand-in shows
    that werf really gets :local there (the oracle for the entry being needed)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    _block_ci(repo, lines)
    done = _run("lint", "-v", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    entries = [x for x in done.stdout.splitlines() if "not checked:" in x and x != SETTINGS_LINE]
    assert entries == [f".gitlab-ci.yml:{line}: not checked: {message}, not read: werf may get "
                       ":local there; check it by hand"], done.stdout
    assert "1 werf command not read" in done.stdout.splitlines()[-1]
    if runs:
        log = tmp_path / "werf.log"
        stand_in = Path(__file__).parent / "bin"
        bash = subprocess.run(
            ["bash", "-c", "set -e\n" + "\n".join(lines)], cwd=repo, capture_output=True,
            text=True, check=False, timeout=60,
            env={"PATH": f"{stand_in}:{os.environ['PATH']}", "WERF_STANDIN_LOG": str(log),
                 "HOME": str(tmp_path)},
        )
        assert bash.returncode == 0, bash.stderr
        calls = [json.loads(x)["argv"] for x in log.read_text().splitlines()]
        assert any(":local" in " ".join(argv) for argv in calls), calls


def test_a_function_from_a_sourced_file_that_runs_werf_is_followed_to_its_call(
    tmp_path: Path,
) -> None:
    """The library defines the function, the CI line calls it with the flag; bash, sourcing
    the same file, runs werf with :local. A function that does not hand werf its arguments
    is not reported."""
    repo = tmp_path / "repo"
    (repo / "ci").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "ci" / "lib.sh").write_text(
        'publish() {\n  if [ -n "$CI" ]; then\n    werf publish "$@"\n  fi\n}\n'
        "cleanup() { werf cleanup; }\n")
    _ci(repo, "source ci/lib.sh", "publish -s :local", "cleanup -s :local")
    done = _run("lint", "-v", cwd=repo)
    entries = [x for x in done.stdout.splitlines() if "not checked:" in x and x != SETTINGS_LINE]
    assert entries == [".gitlab-ci.yml:5: not checked: -s :local passed to the shell function"
                       " publish, which runs werf with its arguments, not read: werf may get"
                       " :local there; check it by hand"], done.stdout
    log = tmp_path / "werf.log"
    stand_in = Path(__file__).parent / "bin"
    subprocess.run(["bash", "-c", "source ci/lib.sh\npublish -s :local"], cwd=repo, check=True,
                   timeout=60, env={"PATH": f"{stand_in}:{os.environ['PATH']}", "CI": "true",
                                    "WERF_STANDIN_LOG": str(log), "HOME": str(tmp_path)})
    assert [json.loads(x)["argv"] for x in log.read_text().splitlines()] == [
        ["publish", "-s", ":local"]]


def test_printing_a_werf_command_line_is_no_unread_command(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    _block_ci(repo, ['echo "run: werf build --stages-storage :local"',
                     'echo "or set WERF_STAGES_STORAGE=:local"',
                     "printf '%s\\n' 'werf cleanup -s :local'",
                     "werf run app -- ls -s :local"])
    done = _run("lint", "-v", cwd=repo)
    assert "werf command not read" not in done.stdout, done.stdout


def test_an_input_gitlab_fills_in_is_not_checked(tmp_path: Path) -> None:
    """``$[[ inputs.storage ]]`` is a place not checked at its line. The oracle, gitlab-ci-local,
    fills the input in as GitLab does, and the job it gives does pass werf ``:local``."""
    from oracles.gitlab_ci_local import LOCAL_IN_SCRIPT, expand_pipeline, required_tool

    repo = tmp_path / "repo"
    (repo / "ci").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitlab-ci.yml").write_text(
        'include:\n  - local: ci/build.yml\n    inputs:\n      storage: ":local"\n',
        encoding="utf-8")
    (repo / "ci" / "build.yml").write_text(
        'spec:\n  inputs:\n    storage:\n      default: "$CI_REGISTRY_IMAGE/stages"\n---\n'
        "build:\n  script:\n    - type werf && source $(werf ci-env gitlab --as-file)\n"
        "    - werf build --stages-storage $[[ inputs.storage ]]\n", encoding="utf-8")
    done = _run("lint", "-v", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert ("ci/build.yml:9: not checked: $[[ inputs.storage ]]: GitLab's CI/CD inputs are not "
            "interpolated, so what this holds was not checked (the include's inputs.storage, "
            "or its default)") in done.stdout.splitlines(), done.stdout
    assert "1 CI/CD input not interpolated" in done.stdout.splitlines()[-1]
    (job,) = expand_pipeline(repo, tmp_path / "oracle", required_tool()).jobs
    assert any(LOCAL_IN_SCRIPT.search(line) for line in job.script), job.script


def test_a_hook_script_that_runs_werf_is_not_checked(tmp_path: Path) -> None:
    """``hooks: pre_get_sources_script`` (a job's or ``default:``'s) is not played: a line of
    it that runs werf is a place not checked, once however many jobs inherit it."""
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitlab-ci.yml").write_text(
        "default:\n  hooks:\n    pre_get_sources_script:\n      - echo fetching\n"
        "      - werf cleanup --stages-storage :local\n"
        "a:\n  script:\n    - echo a\n"
        "b:\n  hooks:\n    pre_get_sources_script: werf purge -s :local\n"
        "  script:\n    - echo b\n", encoding="utf-8")
    done = _run("lint", "-v", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    entries = [x for x in done.stdout.splitlines() if "not checked:" in x and x != SETTINGS_LINE]
    message = ("not checked: hooks:pre_get_sources_script runs werf here, and ciswitch does not "
               "read that script: check it by hand")
    assert entries == [f".gitlab-ci.yml:5: {message}", f".gitlab-ci.yml:11: {message}"], entries
