"""The pre-commit hooks of ``.pre-commit-hooks.yaml``, run by the real pre-commit.

pre-commit installs a hook repository by cloning it at a revision and pip-installing it into a
fresh virtualenv. To test the hooks as they are in the working tree (committed or not), the
tracked and untracked files of this checkout are copied into a temporary git repository and
committed there; the checkout's own git state is only read. The hook environment is built once
per test session (it needs PyPI for the dependencies: some seconds with a warm pip cache, about
a minute without); every test then runs ``pre-commit run`` in its own temporary project.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / ".pre-commit-hooks.yaml"
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")

LOCAL_CI = """\
build:
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf build-and-publish --stages-storage :local
"""
FIXED_CI = """\
build:
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf build-and-publish
"""
HOOK_IDS = ("ciswitch-lint", "ciswitch-fix")


def run_git(cwd: Path, *args: str, env: dict[str, str]) -> str:
    proc = subprocess.run(
        ["git", "-C", str(cwd), *args], capture_output=True, text=True, check=False, env=env
    )
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def git_env(base: Path) -> dict[str, str]:
    """The environment for git and pre-commit: an empty global git config, a fixed identity,
    and a private PRE_COMMIT_HOME. HOME stays, so that pip keeps its cache and settings."""
    base.mkdir(parents=True, exist_ok=True)
    gitconfig = base / "gitconfig"
    gitconfig.write_text("")
    env = dict(os.environ)
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(name, None)
    env.update(
        GIT_CONFIG_GLOBAL=str(gitconfig),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Test Author",
        GIT_AUTHOR_EMAIL="author@example.test",
        GIT_COMMITTER_NAME="Test Committer",
        GIT_COMMITTER_EMAIL="committer@example.test",
        GIT_TERMINAL_PROMPT="0",
        PRE_COMMIT_HOME=str(base / "pre-commit-home"),
        NO_COLOR="1",
    )
    return env


def snapshot_checkout(dest: Path, env: dict[str, str]) -> str:
    """Commit the working tree of this checkout (tracked and untracked, not ignored files)
    into a new repository at ``dest``; returns the commit id."""
    listed = run_git(
        ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard", env=env
    )
    dest.mkdir(parents=True)
    for rel in sorted(set(filter(None, listed.split("\0")))):
        source = ROOT / rel
        if not source.is_file() and not source.is_symlink():
            continue  # deleted in the working tree, or a directory entry
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    run_git(dest, "init", "-q", env=env)
    run_git(dest, "add", "-A", env=env)
    run_git(dest, "commit", "-q", "-m", "snapshot of the working tree", env=env)
    return run_git(dest, "rev-parse", "HEAD", env=env).strip()


@dataclass(frozen=True)
class HookRepo:
    path: Path
    rev: str
    env: dict[str, str]


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> HookRepo:
    """The hook repository, with the hook environment already installed by pre-commit."""
    base = tmp_path_factory.mktemp("precommit")
    env = git_env(base / "env")
    path = base / "ciswitch"
    rev = snapshot_checkout(path, env)
    repo = HookRepo(path, rev, env)
    # Install once, from a throwaway project, so that the tests below time only their runs.
    project = make_project(base / "warmup", repo, {"README.md": "warm-up\n"})
    proc = pre_commit(project, repo, "install-hooks")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return repo


def make_project(path: Path, repo: HookRepo, files: dict[str, str]) -> Path:
    """A git repository with ``files`` and a .pre-commit-config.yaml using both hooks."""
    path.mkdir(parents=True)
    hooks = "".join(f"      - id: {hook}\n" for hook in HOOK_IDS)
    config = f"repos:\n  - repo: {repo.path.as_uri()}\n    rev: {repo.rev}\n    hooks:\n{hooks}"
    for rel, text in {".pre-commit-config.yaml": config, **files}.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text, encoding="utf-8")
    run_git(path, "init", "-q", env=repo.env)
    run_git(path, "add", "-A", env=repo.env)
    run_git(path, "commit", "-q", "-m", "project", env=repo.env)
    return path


def pre_commit(project: Path, repo: HookRepo, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PRE_COMMIT), *args], cwd=project, capture_output=True, text=True, check=False,
        env=repo.env,
    )


def run_hook(project: Path, repo: HookRepo, hook: str, *files: str) -> tuple[int, str]:
    """``pre-commit run HOOK`` on all files, or on ``files`` only; (exit code, output)."""
    selection = ["--files", *files] if files else ["--all-files"]
    proc = pre_commit(project, repo, "run", hook, *selection)
    return proc.returncode, proc.stdout + proc.stderr


# --------------------------------------------------------------------------------------------
# the manifest itself


def load_manifest() -> dict[str, dict[str, object]]:
    hooks = YAML(typ="safe").load(MANIFEST.read_text(encoding="utf-8"))
    return {hook["id"]: hook for hook in hooks}


def test_manifest_is_valid_for_pre_commit() -> None:
    proc = subprocess.run(
        [str(PRE_COMMIT), "validate-manifest", str(MANIFEST)],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_manifest_hooks() -> None:
    hooks = load_manifest()
    assert set(hooks) == set(HOOK_IDS)
    assert hooks["ciswitch-lint"]["entry"] == "ciswitch lint"
    assert hooks["ciswitch-fix"]["entry"] == "ciswitch fix"
    for hook in hooks.values():
        assert hook["language"] == "python"
        assert hook["pass_filenames"] is False
        assert hook["always_run"] is False


@pytest.mark.parametrize(
    ("name", "runs"),
    [
        (".gitlab-ci.yml", True),
        ("ci/templates/build.yaml", True),
        ("werf.yaml", True),
        ("scripts/deploy.sh", True),
        ("scripts/deploy.bash", True),
        ("tests/deploy.bats", True),
        ("tools/publish.py", True),
        ("README.md", False),
        ("Dockerfile", False),
        ("deploy.sh.orig", False),
        ("pyproject.toml", False),
    ],
)
def test_manifest_files_pattern(name: str, runs: bool) -> None:
    for hook in load_manifest().values():
        pattern = hook["files"]
        assert isinstance(pattern, str)
        assert bool(re.search(pattern, name)) is runs  # pre-commit uses re.search


# --------------------------------------------------------------------------------------------
# the hooks, run by pre-commit


def test_lint_hook_fails_on_local_stages_storage(tmp_path: Path, hook_repo: HookRepo) -> None:
    project = make_project(tmp_path / "project", hook_repo, {".gitlab-ci.yml": LOCAL_CI})
    code, output = run_hook(project, hook_repo, "ciswitch-lint")
    assert code == 1, output
    assert "Failed" in output
    assert ".gitlab-ci.yml:4:30: CSW001" in output
    assert (project / ".gitlab-ci.yml").read_text() == LOCAL_CI  # lint changes nothing


def test_lint_hook_passes_on_a_clean_project(tmp_path: Path, hook_repo: HookRepo) -> None:
    project = make_project(tmp_path / "project", hook_repo, {".gitlab-ci.yml": FIXED_CI})
    code, output = run_hook(project, hook_repo, "ciswitch-lint")
    assert code == 0, output
    assert "Passed" in output


def test_lint_hook_checks_the_whole_configuration(tmp_path: Path, hook_repo: HookRepo) -> None:
    """Changing only a helper script still checks .gitlab-ci.yml: filenames are not passed."""
    project = make_project(
        tmp_path / "project", hook_repo,
        {".gitlab-ci.yml": LOCAL_CI, "ci/notes.sh": "echo unrelated\n"},
    )
    code, output = run_hook(project, hook_repo, "ciswitch-lint", "ci/notes.sh")
    assert code == 1, output
    assert ".gitlab-ci.yml:4:30: CSW001" in output


def test_hooks_skip_commits_without_matching_files(tmp_path: Path, hook_repo: HookRepo) -> None:
    project = make_project(
        tmp_path / "project", hook_repo, {".gitlab-ci.yml": LOCAL_CI, "README.md": "docs\n"}
    )
    for hook in HOOK_IDS:
        code, output = run_hook(project, hook_repo, hook, "README.md")
        assert code == 0, output
        assert "Skipped" in output
    assert (project / ".gitlab-ci.yml").read_text() == LOCAL_CI


def test_fix_hook_rewrites_and_fails_then_passes(tmp_path: Path, hook_repo: HookRepo) -> None:
    project = make_project(tmp_path / "project", hook_repo, {".gitlab-ci.yml": LOCAL_CI})
    code, output = run_hook(project, hook_repo, "ciswitch-fix")
    assert code == 1, output
    assert "files were modified by this hook" in output
    assert (project / ".gitlab-ci.yml").read_text() == FIXED_CI
    run_git(project, "add", ".gitlab-ci.yml", env=hook_repo.env)

    code, output = run_hook(project, hook_repo, "ciswitch-fix")
    assert code == 0, output
    assert "Passed" in output
    assert (project / ".gitlab-ci.yml").read_text() == FIXED_CI
    code, output = run_hook(project, hook_repo, "ciswitch-lint")
    assert code == 0, output
