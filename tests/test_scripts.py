"""Scripts and Python helpers: named on the command line, file modes, what is not followed,
and that libcst is only imported when a Python helper is actually run."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "rules" / "scripts"
CISWITCH = [sys.executable, "-m", "ciswitch"]


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CISWITCH, *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def _repo(tmp_path: Path, case: str) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / case / "input", repo, symlinks=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


def test_named_shell_and_python_files_are_linted_without_yaml(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "shell-substitution-short-forms")
    shutil.copy(
        FIXTURES / "python-string-commands" / "input" / "ci" / "deploy.py", repo / "deploy.py"
    )
    (repo / ".gitlab-ci.yml").write_text("not: [valid yaml\n")  # never read
    result = _run("lint", "--format", "json", "ci/check.sh", "deploy.py", cwd=repo)
    assert result.returncode == 1, result.stderr
    import json

    report = json.loads(result.stdout)
    where = sorted((f["path"], f["line"], f["code"]) for f in report["findings"])
    assert ("ci/check.sh", 2, "CSW001") in where
    assert ("deploy.py", 4, "CSW001") in where
    assert {f["path"] for f in report["findings"]} == {"ci/check.sh", "deploy.py"}


def test_shell_file_recognised_by_its_shebang(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "bin").mkdir(parents=True)
    (repo / "bin" / "build").write_text("#!/usr/bin/env bash\nwerf build -s :local\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    result = _run("lint", "bin/build", cwd=repo)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "bin/build:2:12: CSW001" in result.stdout
    assert "bin/build:2:1: CSW004" in result.stdout
    assert "pass --to ADDRESS" in result.stdout  # no werf ci-env: not removed blindly


def test_fix_keeps_the_executable_bit(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "shell-continuation-function")
    script = repo / "ci" / "build.sh"
    script.chmod(0o750)
    result = _run("fix", str(repo))
    assert result.returncode == 0, result.stdout + result.stderr
    assert ":local" not in script.read_text()
    assert stat.S_IMODE(script.stat().st_mode) == 0o750


def test_fix_of_a_named_python_file_keeps_its_mode(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "python-no-ci-env-with-to")
    helper = repo / "deploy.py"
    before = stat.S_IMODE(helper.stat().st_mode)
    assert before & stat.S_IXUSR
    result = _run("fix", "deploy.py", "--to", "registry.example.com/p/stages", cwd=repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"registry.example.com/p/stages"' in helper.read_text()
    assert stat.S_IMODE(helper.stat().st_mode) == before


def test_make_missing_files_and_escapes_are_not_followed(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    outside = tmp_path / "outside.sh"
    outside.write_text("werf build --stages-storage :local\n")
    (repo / ".gitlab-ci.yml").write_text(
        "build:\n"
        "  script:\n"
        "    - make images\n"
        "    - bash ../outside.sh\n"
        "    - ./ci/missing.sh\n"
    )
    result = _run("lint", "-v", str(repo))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout + result.stderr
    assert ".gitlab-ci.yml:3: not checked: make images: make targets are not followed" in out
    assert (".gitlab-ci.yml:4: not checked: ../outside.sh: outside the repository, "
            "not followed") in out
    assert ".gitlab-ci.yml:5: not checked: ./ci/missing.sh: no such file in the repository" in out
    assert "CSW001" not in out
    # without --gitlab-url, GitLab's CI/CD settings are the fourth place not checked
    assert out.rstrip().endswith(
        "No findings in 1 file; 4 places not checked (1 make target, 1 script not in the "
        "repository, 1 script outside the repository, 1 place in GitLab's CI/CD settings): "
        "listed above."
    )


def _imported_modules(repo: Path) -> set[str]:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ciswitch", "lint", str(repo)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    names = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    assert "ciswitch.lint" in names  # the measurement itself works
    return names


def test_libcst_is_not_imported_without_python_helpers(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "script-run-by-two-jobs")
    assert "libcst" not in _imported_modules(repo)


def test_libcst_is_imported_when_a_job_runs_a_python_helper(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "python-environment")
    assert "libcst" in _imported_modules(repo)


@pytest.mark.parametrize("case", ["python-lists-and-constants", "python-environment"])
def test_fixed_python_still_compiles(case: str, tmp_path: Path) -> None:
    repo = _repo(tmp_path, case)
    assert _run("fix", str(repo)).returncode == 0
    for path in repo.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")


def test_no_heavy_import_for_a_pipeline_without_werf(tmp_path: Path) -> None:
    """The pre-commit path: a CI file that runs tests and builds but never werf loads neither
    tree-sitter nor git, libcst or rich."""
    repo = tmp_path / "plain"
    (repo / "tests" / "unit").mkdir(parents=True)
    (repo / ".gitlab-ci.yml").write_text(
        "test:\n  script:\n    - pip install -r requirements.txt\n"
        "    - pytest tests/unit --junitxml=report.xml\n"
        "    - docker build -t $CI_REGISTRY_IMAGE:$CI_COMMIT_SHA .\n"
        "    - npm ci && npm run lint -- --max-warnings=0\n"
    )
    names = _imported_modules(repo)
    assert not {"tree_sitter", "git", "libcst", "rich"} & names


def test_no_shell_parser_for_directory_changes_without_werf(tmp_path: Path) -> None:
    """``cd`` items are remembered, not parsed, until a later item names a path: a werf-free
    pipeline that moves around and runs tools by path still does not load tree-sitter."""
    repo = tmp_path / "plain"
    (repo / "frontend").mkdir(parents=True)
    (repo / ".gitlab-ci.yml").write_text(
        "test:\n  script:\n    - cd frontend\n    - npm ci\n"
        "    - ./node_modules/.bin/jest --ci\n    - cd ..\n    - pytest tests\n"
    )
    assert "tree_sitter" not in _imported_modules(repo)


def test_tree_sitter_loads_when_a_job_runs_a_repository_script(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "script-run-by-two-jobs")
    assert "tree_sitter" in _imported_modules(repo)


def test_a_shell_fed_a_script_on_standard_input_runs_it(tmp_path: Path) -> None:
    """The oracle for the ``shell-reading-standard-input`` fixture: bash, given the fixture's
    script lines, runs the files it is fed, and the werf stand-in gets their ``:local``."""
    import json

    case = Path(__file__).parent / "fixtures/rules/scripts/shell-reading-standard-input/input"
    repo = tmp_path / "repo"
    shutil.copytree(case, repo)
    log = tmp_path / "werf.log"
    stand_in = Path(__file__).parent / "bin"
    for line in ("bash < ci/build.sh", "cat ci/deploy | bash -s -- production"):
        subprocess.run(["bash", "-c", line], cwd=repo, check=True, timeout=60,
                       env={**os.environ, "PATH": f"{stand_in}:{os.environ['PATH']}",
                            "WERF_STANDIN_LOG": str(log), "HOME": str(tmp_path)})
    calls = [json.loads(x)["argv"] for x in log.read_text().splitlines()]
    assert calls == [["build", "--stages-storage", ":local"],
                     ["deploy", "--env", "production", "-s", ":local"]], calls
