"""werf's :local setting passed through a file the replay does not read: a line that prints it
into a file (a dotenv report GitLab hands to later jobs as variables, a script run later), a
line that sets variables from a command's output reading a ``.env`` file of the repository,
and werf's arguments read from a file the same way. Each is a place not checked at its line,
never "No findings"; bash itself shows that the setting does get through (the file it writes
holds it, the variable it exports is set). Lines that print to the log or to nowhere are not
reported."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from lintrun import not_checked_entries

ENV_FILE = "# deploy settings\nWERF_STAGES_STORAGE=:local\nAPP_ENV=production\n"


def _lint(repo: Path, lines: list[str], files: dict[str, str] | None = None) -> list[str]:
    return not_checked_entries(
        repo,
        "build:\n  script:\n    - source $(werf ci-env gitlab --as-file)\n"
        + "".join(f"    - {line}\n" for line in lines)
        + "  artifacts:\n    reports:\n      dotenv: build.env\n",
        files,
    )


def _bash(repo: Path, script: str) -> str:
    ran = subprocess.run(["bash", "-c", script], cwd=repo, capture_output=True, text=True,
                         check=True, timeout=60)
    return ran.stdout


WRITTEN = [
    ('echo "WERF_STAGES_STORAGE=:local" >> build.env', "build.env",
     "WERF_STAGES_STORAGE=:local written to build.env by echo"),
    ("printf 'WERF_SYNCHRONIZATION=:local\\n' | tee -a build.env", "build.env",
     "WERF_SYNCHRONIZATION=:local written to build.env by printf"),
    ('echo "werf build --stages-storage :local" > deploy.sh', "deploy.sh",
     "--stages-storage :local after werf written to deploy.sh by echo"),
]


@pytest.mark.parametrize(("line", "target", "message"), WRITTEN, ids=["dotenv", "tee", "script"])
def test_a_setting_printed_into_a_file_is_not_checked(tmp_path: Path, line: str, target: str,
                                                      message: str) -> None:
    entries = _lint(tmp_path, [line])
    assert entries == [f".gitlab-ci.yml:4: not checked: {message} (a file made at run time,"
                       " which a later line, script or job may read), not read: werf may get"
                       " :local there; check it by hand"], entries
    _bash(tmp_path, line)  # bash writes the file, and the setting is in it
    assert ":local" in (tmp_path / target).read_text()


def test_a_setting_printed_to_the_log_is_not_reported(tmp_path: Path) -> None:
    entries = _lint(tmp_path, ['echo "WERF_STAGES_STORAGE=:local" >&2',
                               'echo "werf build -s :local" > /dev/null',
                               'echo "set WERF_STAGES_STORAGE=:local"; date > stamp.txt'])
    assert entries == []


FROM_OUTPUT = [
    ("export $(grep -v '^#' .env | xargs)", "export"),
    ("export $(xargs < .env)", "export"),
    ("eval \"$(sed -e '/^#/d' -e 's/^/export /' .env)\"", "eval"),
    ("source <(grep -v '^#' .env)", "source"),
    ("set -a; . <(cat ./.env); set +a", "."),
]


@pytest.mark.parametrize(("line", "command"), FROM_OUTPUT,
                         ids=["export-xargs", "export-redirect", "eval-sed", "source", "dot"])
def test_variables_set_from_a_file_through_a_command_are_not_checked(
    tmp_path: Path, line: str, command: str
) -> None:
    entries = _lint(tmp_path, [line, "werf build"], {".env": ENV_FILE})
    assert len(entries) == 1, entries
    assert entries[0].startswith(f".gitlab-ci.yml:4: not checked: {command} sets variables from"
                                 " what a command prints, and "), entries
    assert "sets WERF_STAGES_STORAGE=:local: not read; werf may get :local there" in entries[0]
    # bash: the line does set werf's variable in the shell that then runs werf (exported, or
    # a shell variable that werf gets once the name is exported, as in a GitLab job that has
    # it as a CI variable: the replay takes a bare assignment so too)
    assert _bash(tmp_path, f'{line}\necho "$WERF_STAGES_STORAGE"').strip() == ":local"


def test_a_file_without_werf_s_settings_is_not_reported(tmp_path: Path) -> None:
    entries = _lint(tmp_path, ["export $(grep -v '^#' .env | xargs)", "werf build"],
                    {".env": "APP_ENV=production\n"})
    assert entries == []


FLAGS_FILE = "--log-verbose\n--stages-storage :local\n"
ARGUMENTS = [
    "werf build $(cat ci/werf-flags)",
    "werf build `cat ci/werf-flags`",
    "werf build $(< ci/werf-flags)",
    "xargs -a ci/werf-flags werf build",
    "cat ci/werf-flags | xargs werf build",
]


@pytest.mark.parametrize("line", ARGUMENTS,
                         ids=["substitution", "backticks", "redirect", "xargs-a", "xargs-pipe"])
def test_werf_s_arguments_from_a_file_through_a_command_are_not_checked(
    tmp_path: Path, line: str
) -> None:
    """The werf stand-in, run by bash on the same line, does get ``--stages-storage :local``
    from the file."""
    (tmp_path / "ci").mkdir()
    entries = _lint(tmp_path, [line], {"ci/werf-flags": FLAGS_FILE})
    assert entries == [
        ".gitlab-ci.yml:4: not checked: werf's arguments come from what a command prints, and"
        " ci/werf-flags, which it reads, holds --stages-storage :local: not read; werf may get"
        " :local there, check it by hand"], entries
    log = tmp_path / "werf.log"
    stand_in = Path(__file__).parent / "bin"
    subprocess.run(["bash", "-c", line], cwd=tmp_path, check=True, timeout=60,
                   env={**os.environ, "PATH": f"{stand_in}:{os.environ['PATH']}",
                        "WERF_STANDIN_LOG": str(log), "HOME": str(tmp_path)})
    [call] = [json.loads(x)["argv"] for x in log.read_text().splitlines()]
    assert call == ["build", "--log-verbose", "--stages-storage", ":local"], call


def test_werf_s_arguments_from_a_file_without_local_are_not_reported(tmp_path: Path) -> None:
    (tmp_path / "ci").mkdir()
    entries = _lint(tmp_path, ["werf build $(cat ci/werf-flags)",
                               "werf deploy --set url=$(echo $CI_ENVIRONMENT_URL | cut -d / -f 3)"],
                    {"ci/werf-flags": "--log-verbose\n"})
    assert entries == []
