"""docs/gitlab-ci-lint.yml, the copy-paste GitLab job: it is a clean CI file itself, its shape
is what GitLab needs for the Code Quality widget, and the exact ``ciswitch lint`` line of its
script, run through a shell, writes a report GitLab accepts.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from test_report_formats import validate_gitlab

TEMPLATE = Path(__file__).resolve().parent.parent / "docs" / "gitlab-ci-lint.yml"
BIN = Path(sys.executable).parent
CISWITCH = BIN / "ciswitch"
JOB = "ciswitch-lint"

LOCAL_CI = """\
stages: [build]

build:
  stage: build
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf build-and-publish --stages-storage :local
"""


def load_job() -> dict[str, Any]:
    document = YAML(typ="safe").load(TEMPLATE.read_text(encoding="utf-8"))
    assert isinstance(document, dict) and list(document) == [JOB]
    job: dict[str, Any] = document[JOB]
    return job


def lint_command_line() -> str:
    """The one script line of the job that runs ``ciswitch lint``, exactly as written."""
    lines = [line for line in load_job()["script"] if line.split()[:2] == ["ciswitch", "lint"]]
    assert len(lines) == 1, lines
    line: str = lines[0]
    return line


def run_in_shell(line: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a script line as the job's shell would, with the installed ciswitch on PATH."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        ["sh", "-c", line], cwd=cwd, capture_output=True, text=True, check=False, env=env
    )


def make_repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir()
    for rel, text in files.items():
        (path / rel).write_text(text, encoding="utf-8")
    env = {
        **os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.test",
        "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.test",
    }
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "project"]):
        subprocess.run(["git", "-C", str(path), *args], check=True, env=env)
    return path


# --------------------------------------------------------------------------------------------
# the template as a CI file


def test_template_lints_clean_with_the_cli() -> None:
    proc = subprocess.run(
        [str(CISWITCH), "lint", str(TEMPLATE)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # without --gitlab-url, GitLab's CI/CD settings are named as not checked
    assert proc.stdout == ("No findings in 1 file; 1 place not checked (1 place in GitLab's "
                           "CI/CD settings): -v lists them.\n")


def test_template_job_shape() -> None:
    job = load_job()
    assert job["stage"] == "test"
    assert job["image"].startswith("python:")
    spec = job["variables"]["CISWITCH_PIP_SPEC"]
    assert spec.startswith("git+https://")
    assert any(
        shlex.split(line)[:2] == ["pip", "install"] and '"$CISWITCH_PIP_SPEC"' in line
        for line in job["script"]
    )
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always"  # the job fails on findings; the report must upload
    assert artifacts["reports"] == {"codequality": "gl-code-quality-report.json"}
    conditions = [rule["if"] for rule in job["rules"]]
    assert conditions == [
        '$CI_PIPELINE_SOURCE == "merge_request_event"',
        "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH",
    ]


def test_lint_line_writes_the_uploaded_report() -> None:
    argv = shlex.split(lint_command_line())
    assert argv[argv.index("--format") + 1] == "gitlab"
    assert argv[argv.index("--output") + 1] == load_job()["artifacts"]["reports"]["codequality"]


# --------------------------------------------------------------------------------------------
# the exact command, run


def test_lint_line_reports_a_local_finding(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "project", {".gitlab-ci.yml": LOCAL_CI})
    proc = run_in_shell(lint_command_line(), repo)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the job fails ...
    assert ".gitlab-ci.yml:7:30: CSW001" in proc.stdout  # ... with the findings in its log
    report = repo / load_job()["artifacts"]["reports"]["codequality"]
    entries = json.loads(report.read_text(encoding="utf-8"))
    validate_gitlab(entries)
    assert [(e["check_name"], e["location"]["path"], e["location"]["lines"]["begin"])
            for e in entries] == [("CSW001", ".gitlab-ci.yml", 7),
                                  ("not-checked/gitlab-settings", "gitlab", 1)]
    assert entries[0]["description"].startswith("CSW001 ")
    assert entries[0]["severity"] == "major"


def test_lint_line_on_a_clean_project(tmp_path: Path) -> None:
    clean = LOCAL_CI.replace(" --stages-storage :local", "")
    repo = make_repo(tmp_path / "project", {".gitlab-ci.yml": clean})
    proc = run_in_shell(lint_command_line(), repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = repo / "gl-code-quality-report.json"
    # no GITLAB_TOKEN: the one entry says that GitLab's settings were not read
    [entry] = json.loads(report.read_text(encoding="utf-8"))
    assert (entry["check_name"], entry["severity"]) == ("not-checked/gitlab-settings", "info")
