"""Command-line conventions over every command and subcommand, through the installed CLI.

The command tree is walked from ``ciswitch.cli.main`` (click), so a new command is checked
without being listed here.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import click
import pytest

from ciswitch.cli import main

CISWITCH = Path(sys.executable).with_name("ciswitch")  # the installed console script
LOCAL_JOB = """\
build:
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf build --stages-storage :local
"""


def _walk(command: click.Command, path: tuple[str, ...]) -> list[tuple[str, ...]]:
    found = [path]
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, name
            found += _walk(sub, (*path, name))
    return found


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        sub = command.get_command(click.Context(command), name)
        assert sub is not None
        command = sub
    return command


COMMANDS = _walk(main, ())
IDS = [" ".join(p) or "ciswitch" for p in COMMANDS]

def test_the_walk_finds_every_command() -> None:
    names = set(IDS)
    assert {"lint", "fix", "branch", "branches", "plan", "status", "revert", "fleet",
            "fleet run", "fleet status", "fleet survey", "fleet pipeline",
            "fleet merge-reports"} <= names


@pytest.mark.parametrize("path", COMMANDS, ids=IDS)
def test_every_option_has_a_help_text(path: tuple[str, ...]) -> None:
    command = _command(path)
    missing = [
        "/".join(p.opts) for p in command.params
        if isinstance(p, click.Option) and not (p.help or "").strip()
    ]
    assert missing == []


def _run(*args: str, cwd: Path, umask: int | None = None
         ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}

    def preexec() -> None:
        if umask is not None:
            os.umask(umask)

    return subprocess.run(
        [str(CISWITCH), *args], cwd=cwd, env=env, capture_output=True,
        text=True, check=False, timeout=120, preexec_fn=preexec,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / ".gitlab-ci.yml").write_text(LOCAL_JOB, encoding="utf-8")
    return root


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


BAD_OPTION = "--no-such-option-anywhere"
#: what a command needs before an unknown option is what is wrong
REQUIRED_FIRST: dict[tuple[str, ...], tuple[str, ...]] = {("fleet", "pipeline"): ("--shards", "2")}


@pytest.mark.parametrize("path", COMMANDS, ids=IDS)
def test_a_bad_option_is_a_usage_error_on_stderr(path: tuple[str, ...], repo: Path) -> None:
    before = _snapshot(repo)
    proc = _run(*path, *REQUIRED_FIRST.get(path, ()), BAD_OPTION, cwd=repo)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert BAD_OPTION in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _snapshot(repo) == before


@pytest.mark.parametrize("path", COMMANDS, ids=IDS)
def test_a_bad_option_is_one_line(path: tuple[str, ...], repo: Path) -> None:
    proc = _run(*path, *REQUIRED_FIRST.get(path, ()), BAD_OPTION, cwd=repo)
    assert len(proc.stderr.splitlines()) == 1, proc.stderr


def test_a_mistyped_command_suggests_the_right_one(repo: Path) -> None:
    proc = _run("lnt", cwd=repo)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "Did you mean lint?" in proc.stderr or "Did you mean 'lint'?" in proc.stderr


def test_a_mistyped_command_is_a_usage_error(repo: Path) -> None:
    proc = _run("lnt", cwd=repo)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "lnt" in proc.stderr


@pytest.mark.parametrize("command", ["lint", "fix", "plan", "status"])
def test_an_input_error_is_one_line_on_stderr(command: str, repo: Path) -> None:
    """plan and status too: a plan or state of a configuration never read would say "no
    :local left" about it."""
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitlab-ci.yml").write_text("build:\n  script: [\n", encoding="utf-8")
    proc = _run(command, cwd=repo)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(".gitlab-ci.yml:3:"), proc.stderr


@pytest.mark.parametrize("command", ["plan", "status"])
def test_an_input_error_names_the_file_from_the_current_directory(
    command: str, repo: Path
) -> None:
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitlab-ci.yml").write_text("build:\n  script: [\n", encoding="utf-8")
    proc = _run(command, "repo", cwd=repo.parent)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("repo/.gitlab-ci.yml:3:"), proc.stderr


@pytest.mark.parametrize("key", ["select", "ignore"])
def test_an_unknown_code_in_the_config_is_an_error_naming_the_key(key: str, repo: Path) -> None:
    (repo / ".ciswitch.toml").write_text(f'{key} = ["CSW999"]\n', encoding="utf-8")
    proc = _run("lint", cwd=repo)
    assert proc.returncode == 2
    assert key in proc.stderr and "CSW999" in proc.stderr
    assert len(proc.stderr.splitlines()) == 1, proc.stderr


@pytest.mark.parametrize("command", ["lint", "fix"])
def test_output_into_a_missing_directory_is_a_one_line_error(command: str, repo: Path) -> None:
    before = _snapshot(repo)
    proc = _run(command, "--format", "json", "--output", "missing/report.json", cwd=repo)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "missing" in lines[0], proc.stderr
    assert _snapshot(repo) == before


def test_output_dash_is_stdout(repo: Path) -> None:
    proc = _run("lint", "--format", "json", "-o", "-", cwd=repo)
    assert proc.returncode == 1
    assert not (repo / "-").exists()
    assert proc.stdout.lstrip().startswith("{"), proc.stdout[:200]


@pytest.mark.parametrize(("umask", "mode"), [
    pytest.param(0o022, 0o644, id="022"),
    pytest.param(0o002, 0o664, id="002"),
    pytest.param(0o077, 0o600, id="077"),
])
def test_report_file_mode_follows_the_umask(umask: int, mode: int, repo: Path) -> None:
    proc = _run("lint", "--format", "json", "-o", "report.json", cwd=repo, umask=umask)
    assert proc.returncode == 1, proc.stderr
    assert stat.S_IMODE((repo / "report.json").stat().st_mode) == mode


# --------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize(("args", "expected"), [
    pytest.param(("lnt",), "Did you mean lint?", id="lnt"),
    pytest.param(("fleet", "statsu"), "Did you mean status?", id="fleet-statsu"),
    pytest.param(("brnch",), "Did you mean branch?", id="brnch"),
])
def test_a_mistyped_command_is_one_line_with_the_suggestion(
    args: tuple[str, ...], expected: str, repo: Path
) -> None:
    proc = _run(*args, cwd=repo)
    assert proc.returncode == 2 and proc.stdout == ""
    [line] = proc.stderr.splitlines()
    assert expected in line and args[-1] in line


def test_an_unknown_command_far_from_any_gets_no_suggestion(repo: Path) -> None:
    proc = _run("zzzzqqq", cwd=repo)
    assert proc.returncode == 2
    [line] = proc.stderr.splitlines()
    assert "zzzzqqq" in line and "Did you mean" not in line


@pytest.mark.parametrize("args", [
    pytest.param(("lint", "--format"), id="missing-value"),
    pytest.param(("lint", "--format", "xml"), id="bad-choice"),
    pytest.param(("fleet", "survey", "-j", "0"), id="out-of-range"),
])
def test_a_bad_value_is_one_line(args: tuple[str, ...], repo: Path) -> None:
    proc = _run(*args, cwd=repo)
    assert proc.returncode == 2 and proc.stdout == ""
    [line] = proc.stderr.splitlines()
    where = "ciswitch " + " ".join(a for a in args[:2] if not a.startswith("-"))
    assert line.startswith(f"{where}: error: ") and line.endswith(f"(see '{where} --help')"), line


def test_help_still_prints_the_whole_help(repo: Path) -> None:
    proc = _run("lint", "--help", cwd=repo)
    assert proc.returncode == 0
    assert proc.stdout.startswith("Usage: ciswitch lint")
    assert "--color" in proc.stdout


# --------------------------------------------------------------------------- one spelling


#: the option names of concepts several commands share, and the spellings that must not come
#: back for them
CONCEPTS = {"--to": ("--address", "--stages-storage", "--stages-storage-address"),
            "--remote": ("--origin", "--remote-name", "--git-remote")}


def _options() -> list[tuple[str, click.Option, click.Context]]:
    found = []
    for path, name in zip(COMMANDS, IDS, strict=True):
        command = _command(path)
        ctx = click.Context(command)
        found += [(name, p, ctx) for p in command.params if isinstance(p, click.Option)]
    return found


def test_one_spelling_per_concept() -> None:
    names = {opt for _, p, _ in _options() for opt in p.opts if not p.hidden}
    for wanted, others in CONCEPTS.items():
        assert wanted in names
        assert not set(others) & names, (wanted, set(others) & names)
    metavars: dict[str, set[str]] = {}
    for _, p, ctx in _options():
        if p.is_flag or isinstance(p.type, click.Choice):
            continue
        metavars.setdefault(max(p.opts, key=len), set()).add(p.make_metavar(ctx))
    assert metavars["--to"] == {"ADDRESS"}
    assert metavars["--remote"] == {"NAME"}
    assert {k: v for k, v in metavars.items() if len(v) > 1} == {}


COLOURING = {("lint",), ("fix",), ("fleet", "run")}


@pytest.mark.parametrize("path", sorted(COLOURING), ids=[" ".join(p) for p in sorted(COLOURING)])
def test_commands_that_colour_take_color(path: tuple[str, ...]) -> None:
    [option] = [p for p in _command(path).params if "--color" in getattr(p, "opts", ())]
    assert isinstance(option.type, click.Choice)
    assert list(option.type.choices) == ["auto", "always", "never"]
    assert option.default == "auto"


# --------------------------------------------------------------------------- colours in a pipe


def _lint_colour(repo: Path, *args: str, **env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    proc = subprocess.run([str(CISWITCH), "lint", *args], cwd=repo, env={**base, **env},
                          capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 1, proc.stderr
    return proc.stdout


@pytest.mark.parametrize(("args", "env", "coloured"), [
    pytest.param((), {}, False, id="auto-pipe"),
    pytest.param((), {"FORCE_COLOR": "1"}, True, id="force-color"),
    pytest.param((), {"FORCE_COLOR": "0"}, False, id="force-color-0"),
    pytest.param((), {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False, id="no-color-wins"),
    pytest.param(("--color", "always"), {}, True, id="always"),
    pytest.param(("--color", "always"), {"NO_COLOR": "1"}, True, id="always-beats-no-color"),
    pytest.param(("--color", "never"), {"FORCE_COLOR": "1"}, False, id="never"),
])
def test_color_in_a_pipe(args: tuple[str, ...], env: dict[str, str], coloured: bool,
                         repo: Path) -> None:
    out = _lint_colour(repo, *args, **env)
    assert "CSW001" in out
    assert ("\x1b[" in out) == coloured, out


# --------------------------------------------------------------------------- input errors


@pytest.mark.parametrize("fmt", ["text", "json", "gitlab", "sarif", "github"])
def test_lint_input_errors_go_to_stderr_in_every_format(fmt: str, repo: Path) -> None:
    (repo / ".gitlab-ci.yml").write_text("build:\n  script: [\n", encoding="utf-8")
    proc = _run("lint", "--format", fmt, cwd=repo)
    assert proc.returncode == 2
    assert proc.stdout == ""
    [line] = proc.stderr.splitlines()
    assert line.startswith(".gitlab-ci.yml:3:") and "invalid YAML" in line


@pytest.mark.parametrize("fmt", ["gitlab", "sarif", "json"])
def test_a_report_file_still_carries_the_input_errors(fmt: str, repo: Path) -> None:
    (repo / ".gitlab-ci.yml").write_text("build:\n  script: [\n", encoding="utf-8")
    proc = _run("lint", "--format", fmt, "--output", "report.json", cwd=repo)
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    report = (repo / "report.json").read_text(encoding="utf-8")
    assert "invalid YAML" in report


@pytest.mark.parametrize(("config_name", "text", "key"), [
    pytest.param(".ciswitch.toml", '# ours\nignore = ["CSW001", "CSW998"]\n', "ignore",
                 id="ciswitch-toml"),
    pytest.param("pyproject.toml", '[project]\nname = "x"\n\n[tool.ciswitch]\nselect = ["CSW01"]\n',
                 "select", id="pyproject"),
])
@pytest.mark.parametrize("command", ["lint", "fix"])
def test_an_unknown_code_is_refused_at_its_line(
    command: str, config_name: str, text: str, key: str, repo: Path
) -> None:
    (repo / config_name).write_text(text, encoding="utf-8")
    before = _snapshot(repo)
    proc = _run(command, cwd=repo)
    assert proc.returncode == 2 and proc.stdout == ""
    [line] = proc.stderr.splitlines()
    line_no = text.splitlines().index(next(t for t in text.splitlines() if t.startswith(key)))
    assert line.startswith(f"{config_name}:{line_no + 1}: error: key '{key}'"), line
    assert "CSW998" in line or "CSW01" in line
    assert _snapshot(repo) == before


@pytest.mark.parametrize("command", ["lint", "fix"])
def test_an_unknown_code_in_an_explicit_config_is_refused(command: str, tmp_path: Path) -> None:
    work = _two_repos(tmp_path)
    (work / "settings.toml").write_text('select = ["CSW001", "CSW777"]\n', encoding="utf-8")
    proc = _run(command, "--config", "settings.toml", "repo-a", cwd=work)
    assert proc.returncode == 2 and proc.stdout == ""
    [line] = proc.stderr.splitlines()
    assert line.startswith("settings.toml:1: error: key 'select'") and "CSW777" in line, line


# --------------------------------------------------------------------------- what the CI file is


def test_a_directory_as_the_ci_file_says_so(repo: Path) -> None:
    (repo / ".gitlab-ci.yml").unlink()
    (repo / ".gitlab-ci.yml").mkdir()
    proc = _run("lint", cwd=repo)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == ".gitlab-ci.yml: error: is a directory, not a CI configuration file\n"


def test_a_fifo_as_the_ci_file_says_so(repo: Path) -> None:
    os.mkfifo(repo / "pipe.yml")
    proc = _run("lint", "pipe.yml", cwd=repo)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == "pipe.yml: error: is a FIFO (named pipe), not a CI configuration file\n"


def test_a_dangling_symlink_as_the_ci_file_says_so(repo: Path) -> None:
    (repo / ".gitlab-ci.yml").unlink()
    (repo / ".gitlab-ci.yml").symlink_to("ci/gone.yml")
    proc = _run("lint", cwd=repo)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (".gitlab-ci.yml: error: is a symlink to ci/gone.yml, which does not "
                           "exist\n")


def test_a_symlink_leaving_the_repository_says_so(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.yml"
    outside.write_text(LOCAL_JOB, encoding="utf-8")
    (repo / "link.yml").symlink_to(outside)
    proc = _run("lint", "link.yml", cwd=repo)
    assert proc.returncode == 2 and proc.stdout == ""
    [line] = proc.stderr.splitlines()
    assert line.startswith("link.yml: error:") and "symlink" in line


def test_a_yaml_spelt_ci_file_gets_a_hint(repo: Path) -> None:
    (repo / ".gitlab-ci.yml").rename(repo / ".gitlab-ci.yaml")
    proc = _run("lint", cwd=repo)
    assert proc.returncode == 2 and proc.stdout == ""
    [line] = proc.stderr.splitlines()
    assert line.startswith(".gitlab-ci.yml: error: no such CI configuration file")
    assert 'set ci-config = ".gitlab-ci.yaml"' in line
    # and the hint works
    (repo / ".ciswitch.toml").write_text('ci-config = ".gitlab-ci.yaml"\n', encoding="utf-8")
    assert _run("lint", cwd=repo).returncode == 1


def test_a_custom_ci_path_gets_a_hint(repo: Path) -> None:
    (repo / "ci").mkdir()
    (repo / ".gitlab-ci.yml").rename(repo / "ci" / "pipeline.yml")
    proc = _run("lint", cwd=repo)
    assert proc.returncode == 2
    [line] = proc.stderr.splitlines()
    assert "set ci-config in .ciswitch.toml" in line


# --------------------------------------------------------------------------- where paths point


def _two_repos(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    for name in ("repo-a", "repo-b"):
        (work / name).mkdir(parents=True)
        (work / name / ".gitlab-ci.yml").write_text(LOCAL_JOB, encoding="utf-8")
    return work


def test_paths_are_relative_to_the_current_directory(tmp_path: Path) -> None:
    work = _two_repos(tmp_path)
    proc = _run("lint", "repo-a", "repo-b", cwd=work)
    assert proc.returncode == 1
    heads = [line.split(" ", 1)[0] for line in proc.stdout.splitlines()
             if ": CSW" in line]
    assert heads == ["repo-a/.gitlab-ci.yml:4:18:", "repo-b/.gitlab-ci.yml:4:18:"]
    # without --gitlab-url the summary names GitLab's CI/CD settings as not checked, once
    assert proc.stdout.splitlines()[-1] == (
        "Found 2 findings (2 fixable) in 2 files; 1 place not checked (1 place in GitLab's "
        "CI/CD settings): -v lists them.")


@pytest.mark.parametrize(("fmt", "key"), [
    pytest.param("json", "path", id="json"),
    pytest.param("gitlab", "path", id="gitlab"),
])
def test_machine_report_paths_are_relative_to_the_current_directory(
    fmt: str, key: str, tmp_path: Path
) -> None:
    import json

    work = _two_repos(tmp_path)
    proc = _run("lint", "--format", fmt, "repo-a", "repo-b", cwd=work)
    assert proc.returncode == 1, proc.stderr
    document = json.loads(proc.stdout)
    entries = document["findings"] if fmt == "json" else document
    paths = sorted(e[key] if fmt == "json" else e["location"][key] for e in entries)
    # Code Quality also has the info entry of GitLab's settings, at its logical path
    assert paths == sorted(["repo-a/.gitlab-ci.yml", "repo-b/.gitlab-ci.yml"] + (
        [] if fmt == "json" else ["gitlab"]))


def test_github_annotations_name_the_file_from_the_current_directory(tmp_path: Path) -> None:
    work = _two_repos(tmp_path)
    proc = _run("lint", "--format", "github", "repo-a", cwd=work)
    assert "file=repo-a/.gitlab-ci.yml" in proc.stdout, proc.stdout


def test_input_errors_name_the_file_from_the_current_directory(tmp_path: Path) -> None:
    work = _two_repos(tmp_path)
    (work / "repo-b" / ".gitlab-ci.yml").write_text("build:\n  script: [\n", encoding="utf-8")
    for command in ("lint", "fix"):
        proc = _run(command, "repo-a", "repo-b", cwd=work)
        assert proc.returncode == 2 and proc.stdout == ""
        [line] = proc.stderr.splitlines()
        assert line.startswith("repo-b/.gitlab-ci.yml:3:"), line


def test_fix_diff_applies_with_git_apply_from_where_it_ran(tmp_path: Path) -> None:
    work = _two_repos(tmp_path)
    proc = _run("fix", "--diff", "repo-a", "repo-b", cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert "--- a/repo-a/.gitlab-ci.yml" in proc.stdout
    (work / "fix.patch").write_text(proc.stdout, encoding="utf-8")
    applied = subprocess.run(["git", "apply", "fix.patch"], cwd=work, capture_output=True,
                             text=True, check=False)
    assert applied.returncode == 0, applied.stderr
    # what git applied is what fix writes
    for name in ("repo-a", "repo-b"):
        assert ":local" not in (work / name / ".gitlab-ci.yml").read_text(encoding="utf-8")
    assert _run("lint", "repo-a", "repo-b", cwd=work).returncode == 0


def test_lint_from_a_subdirectory_finds_the_repository_root(repo: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "deploy" / "charts").mkdir(parents=True)
    proc = _run("lint", cwd=repo / "deploy" / "charts")
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith("../../.gitlab-ci.yml:4:18: CSW001"), proc.stdout
    fixed = _run("fix", cwd=repo / "deploy" / "charts")
    assert fixed.returncode == 0, fixed.stderr
    assert ":local" not in (repo / ".gitlab-ci.yml").read_text(encoding="utf-8")


def test_fix_diff_from_a_subdirectory_names_files_as_git_diff_does(repo: Path) -> None:
    """Run from a subdirectory, the diff names the files from the top of the work tree with a
    ``diff --git`` header, as ``git diff`` prints them there: ``git apply`` at the top applies
    it (git itself skips paths outside the current directory)."""
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "deploy").mkdir()
    proc = _run("fix", "--diff", cwd=repo / "deploy")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("diff --git a/.gitlab-ci.yml b/.gitlab-ci.yml\n"
                                  "--- a/.gitlab-ci.yml\n+++ b/.gitlab-ci.yml\n"), proc.stdout
    (repo / "fix.patch").write_text(proc.stdout, encoding="utf-8")
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=repo / "deploy",
                         capture_output=True, text=True, check=True).stdout.strip()
    applied = subprocess.run(["git", "-C", top, "apply", str(repo / "fix.patch")],
                             capture_output=True, text=True, check=False)
    assert applied.returncode == 0, applied.stderr
    assert ":local" not in (repo / ".gitlab-ci.yml").read_text(encoding="utf-8")


def test_the_root_may_be_marked_by_ciswitch_toml(repo: Path) -> None:
    (repo / ".ciswitch.toml").write_text('ignore = ["CSW003"]\n', encoding="utf-8")
    (repo / "sub").mkdir()
    proc = _run("lint", cwd=repo / "sub")
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith("../.gitlab-ci.yml:"), proc.stdout


# --------------------------------------------------------------------------- fix's words


def test_fix_check_names_the_files_it_would_change(tmp_path: Path) -> None:
    work = _two_repos(tmp_path)
    (work / "repo-c").mkdir()
    (work / "repo-c" / ".gitlab-ci.yml").write_text("build:\n  script: [werf build]\n")
    before = {n: (work / n / ".gitlab-ci.yml").read_bytes() for n in ("repo-a", "repo-b")}
    proc = _run("fix", "--check", "repo-a", "repo-b", "repo-c", cwd=work)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert lines[:2] == ["Would fix repo-a/.gitlab-ci.yml", "Would fix repo-b/.gitlab-ci.yml"]
    assert not any("repo-c" in line for line in lines)
    assert lines[-1] == "Would fix 2 places in 2 files; nothing left."
    assert before == {n: (work / n / ".gitlab-ci.yml").read_bytes() for n in before}


SYNC_JOB = """\
build:
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf build --synchronization :local
"""


def test_fix_diff_with_unsafe_fixes_does_not_say_applied(repo: Path) -> None:
    (repo / ".gitlab-ci.yml").write_text(SYNC_JOB, encoding="utf-8")
    proc = _run("fix", "--diff", "--unsafe-fixes", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "Applied" not in proc.stderr
    assert "Would apply unsafe fixes: " in proc.stderr
    assert (repo / ".gitlab-ci.yml").read_text(encoding="utf-8") == SYNC_JOB
    done = _run("fix", "--unsafe-fixes", cwd=repo)
    assert "Applied unsafe fixes: " in done.stderr


def test_fix_summary_plurals(repo: Path) -> None:
    proc = _run("fix", cwd=repo)
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[-1] == "Fixed 1 place in 1 file; nothing left."
    (repo / ".gitlab-ci.yml").write_text(
        "a:\n  script:\n    - werf build -s :local\nb:\n  script:\n    - werf run -s :local\n",
        encoding="utf-8")
    left = _run("fix", "--check", cwd=repo)
    assert left.returncode == 1
    summary = left.stderr.splitlines()[-1]
    assert summary.startswith("Would fix 0 places in 0 files; 4 left (2 need an address: "), summary
    # one reason about two jobs is one clause, counted in places
    assert "; 2 would leave a job with no stages storage (no werf ci-env)" in summary, summary
    (repo / ".gitlab-ci.yml").write_text(
        "a:\n  script:\n    - werf build -s :local\n", encoding="utf-8")
    alone = _run("fix", "--check", cwd=repo).stderr.splitlines()[-1]
    # a reason with a subject of its own counts places, not its jobs ("1 job a would ...")
    assert "; 1 place: job a would have no stages storage without it" in alone, alone


@pytest.mark.parametrize(("count", "reason", "expected"), [
    (1, "needs an address", "1 needs an address"),
    (2, "needs an address", "2 need an address"),
    (2, "overlaps another fix", "2 overlap another fix"),
    (1, "unsafe fix (changes the locking backend)", "1 unsafe fix (changes the locking backend)"),
    (3, "unsafe fix (changes the locking backend)", "3 unsafe fixes (changes the locking backend)"),
    (2, "not fixable automatically", "2 not fixable automatically"),
    (1, "jobs a, b would have no storage", "1 place: jobs a, b would have no storage"),
    (2, "job a would have no stages storage", "2 places: job a would have no stages storage"),
    (2, "the fix would change more than the :local (x); change it by hand",
     "2 places: the fix would change more than the :local (x); change it by hand"),
])
def test_left_reasons_are_counted_as_english(count: int, reason: str, expected: str) -> None:
    from ciswitch.model import counted_clause

    assert counted_clause(count, reason) == expected


def test_sarif_keeps_paths_relative_to_the_repository_root(repo: Path) -> None:
    """The one exception: SARIF's artifact URIs stay repository-relative under %SRCROOT%,
    which versionControlProvenance maps to the repository, wherever lint ran."""
    import json

    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "sub").mkdir()
    proc = _run("lint", "--format", "sarif", cwd=repo / "sub")
    assert proc.returncode == 1, proc.stderr
    [run] = json.loads(proc.stdout)["runs"]
    [location] = {json.dumps(r["locations"][0]["physicalLocation"]["artifactLocation"])
                  for r in run["results"]}
    assert json.loads(location) == {"uri": ".gitlab-ci.yml", "uriBaseId": "%SRCROOT%"}


def test_output_dash_carries_the_input_errors_too(repo: Path) -> None:
    import json

    (repo / ".gitlab-ci.yml").write_text("build:\n  script: [\n", encoding="utf-8")
    proc = _run("lint", "--format", "gitlab", "-o", "-", cwd=repo)
    assert proc.returncode == 2
    [entry] = [e for e in json.loads(proc.stdout) if e["severity"] == "blocker"]
    assert entry["location"]["path"] == ".gitlab-ci.yml"
    assert len(proc.stderr.splitlines()) == 1, proc.stderr


def test_places_not_checked_name_the_file_from_the_current_directory(tmp_path: Path) -> None:
    work = _two_repos(tmp_path)
    with (work / "repo-a" / ".gitlab-ci.yml").open("a", encoding="utf-8") as ci:
        ci.write("    - make images\n")
    proc = _run("lint", "-v", "repo-a", cwd=work)
    assert proc.returncode == 1
    assert "repo-a/.gitlab-ci.yml:5: not checked: make images" in proc.stdout, proc.stdout
