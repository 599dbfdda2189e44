"""Real git repositories and bare remotes for the git tests (no mocks).

Every test that touches git calls :func:`isolate_git` first: it points git at an empty global
config inside ``tmp_path``, disables the system config and sets a fixed identity through the
``GIT_*`` environment, so neither the machine's configuration nor its credentials are used.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest

AUTHOR = ("Test Author", "author@example.test")
COMMITTER = ("Test Committer", "committer@example.test")

#: a remote URL with credentials that is never reachable (discard port on localhost)
SECRET = "glpat-SECRETtoken0123456789"
TOKEN_URL = f"https://oauth2:{SECRET}@127.0.0.1:9/group/project.git"


def isolate_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """Isolate git from the machine's configuration; returns the environment for subprocesses."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / ".gitconfig").write_text("")
    values = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": AUTHOR[0],
        "GIT_AUTHOR_EMAIL": AUTHOR[1],
        "GIT_COMMITTER_NAME": COMMITTER[0],
        "GIT_COMMITTER_EMAIL": COMMITTER[1],
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "true",
        "SSH_ASKPASS": "true",
        "LC_ALL": "C",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)
    return dict(os.environ)


def git(cwd: Path, *args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
    """Run git in ``cwd`` and return stdout (stripped)."""
    proc = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=False,
        env={**os.environ, **(env or {})},
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {shlex.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def commit_all(work: Path, message: str, *, date: str | None = None) -> str:
    env = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date} if date else None
    git(work, "add", "-A")
    git(work, "commit", "-q", "--allow-empty", "-m", message, env=env)
    return git(work, "rev-parse", "HEAD")


def make_bare(path: Path, *, push_options: bool = True) -> Path:
    git(path.parent, "init", "-q", "--bare", "-b", "main", str(path))
    if push_options:
        git(path, "config", "receive.advertisePushOptions", "true")
    return path


def write_hook(bare: Path, name: str, body: str) -> Path:
    """Install an executable hook script (``body`` is POSIX sh)."""
    hook = bare / "hooks" / name
    hook.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return hook


RECORD_OPTIONS_HOOK = """\
out="$(dirname "$0")/../push-options.txt"
: > "$out"
i=0
while [ "$i" -lt "${GIT_PUSH_OPTION_COUNT:-0}" ]; do
    eval "printf '%s\\n' \\"\\$GIT_PUSH_OPTION_$i\\"" >> "$out"
    i=$((i + 1))
done
cat > /dev/null
"""


def recorded_options(bare: Path) -> list[str]:
    path = bare / "push-options.txt"
    if not path.exists():
        return []
    return path.read_text(encoding="utf-8").splitlines()


def gitlab_mr_hook(url_base: str = "https://gitlab.example.test/group/project") -> str:
    """A pre-receive hook printing what GitLab prints after ``merge_request.create``."""
    return f"""\
while read old new ref; do
    branch="${{ref#refs/heads/}}"
    echo "View merge request for $branch:"
    echo "  {url_base}/-/merge_requests/12"
done
"""


def make_project(
    tmp_path: Path,
    files: dict[str, str | bytes],
    *,
    name: str = "work",
    push_options: bool = True,
    origin_head: bool = True,
) -> tuple[Path, Path]:
    """A work repository on ``main`` with one commit of ``files``, pushed to a bare remote
    ``origin``. Returns ``(work, bare)``."""
    work = tmp_path / name
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    write_files(work, files)
    commit_all(work, "initial")
    bare = make_bare(tmp_path / f"{name}-remote.git", push_options=push_options)
    git(work, "remote", "add", "origin", bare.as_uri())
    git(work, "push", "-q", "-u", "origin", "main")
    if origin_head:
        git(work, "remote", "set-head", "origin", "main")
    return work, bare


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under ``root`` (``.git`` included, lock-free) with a content hash."""
    out: dict[str, str] = {}
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_symlink():
                out[path.relative_to(root).as_posix()] = "link:" + os.readlink(path)
                continue
            data = path.read_bytes()
            out[path.relative_to(root).as_posix()] = hashlib.sha256(data).hexdigest()
    return out


def repo_state(work: Path, bare: Path | None = None) -> dict[str, object]:
    """Refs, status, work tree and remote refs: equal before and after a no-op command."""
    state: dict[str, object] = {
        "refs": git(work, "for-each-ref", "--format=%(refname) %(objectname)"),
        "head": git(work, "symbolic-ref", "-q", "HEAD", check=False),
        "status": git(work, "status", "--porcelain=v1", "--untracked-files=all"),
        "files": {k: v for k, v in tree_digest(work).items() if not k.startswith(".git/")},
        "config": (work / ".git" / "config").read_text(),
        "index": hashlib.sha256((work / ".git" / "index").read_bytes()).hexdigest(),
    }
    if bare is not None:
        state["remote"] = git(bare, "for-each-ref", "--format=%(refname) %(objectname)")
        state["objects"] = git(bare, "count-objects", "-v")
    return state


def run_ciswitch(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The installed CLI as a real subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "ciswitch", *args], cwd=cwd, capture_output=True, text=True,
        env={**os.environ, **(env or {})}, check=False, timeout=120,
    )


PROJECTS = Path(__file__).parent / "fixtures" / "git" / "projects"


def project_files(name: str) -> dict[str, str | bytes]:
    """The files of fixture project ``name`` (``tests/fixtures/git/projects/<name>``)."""
    root = PROJECTS / name
    return {
        p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
        if p.is_file()
    }
