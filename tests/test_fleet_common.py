"""Shared builders for the fleet tests: many real repositories with bare remotes on disk.

Every remote counts the pushes it accepted in ``pushes.txt`` (one line per branch update,
written by ``post-receive``), so tests can prove that no repository was pushed twice.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

from gitrepos import git, gitlab_mr_hook, make_bare, make_project, run_ciswitch, write_hook

FIXTURES = Path(__file__).parent / "fixtures" / "fleet" / "projects"

COUNT_HOOK = """\
while read old new ref; do
    echo "$ref $new" >> "$(dirname "$0")/../pushes.txt"
done
"""

REJECT_HOOK = """\
echo "GL-HOOK-ERR: pushes to this project are blocked by policy"
exit 1
"""


def fixture_files(kind: str) -> dict[str, str | bytes]:
    root = FIXTURES / kind
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*")) if p.is_file()
    }


def make_repo(
    base: Path, name: str, kind: str, *, mr_url: bool = False, reject: bool = False,
    pre_receive: str | None = None,
) -> Path:
    """A bare remote holding one commit of fixture project ``kind``; returns its path."""
    base.mkdir(parents=True, exist_ok=True)
    _work, bare = make_project(base, fixture_files(kind), name=name)
    write_hook(bare, "post-receive", COUNT_HOOK)
    hook = ""
    if reject:
        hook = REJECT_HOOK
    elif pre_receive is not None:
        hook = pre_receive
    elif mr_url:
        hook = gitlab_mr_hook(f"https://gitlab.example.test/fleet/{name}")
    if hook:
        write_hook(bare, "pre-receive", hook)
    return bare


def make_empty(base: Path, name: str) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    return make_bare(base / f"{name}-remote.git")


def pushes(bare: Path) -> list[str]:
    path = bare / "pushes.txt"
    return path.read_text().splitlines() if path.exists() else []


def write_list(path: Path, repos: list[Path], header: str = "# the fleet\n") -> Path:
    path.write_text(header + "".join(f"{r}\n" for r in repos), encoding="utf-8")
    return path


def fleet(*args: str, cwd: Path, env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess[str]:
    return run_ciswitch("fleet", *args, cwd=cwd, env=env)


def status_json(workdir: Path, cwd: Path) -> dict[str, dict[str, object]]:
    """``fleet status --format json`` keyed by the repository's URL."""
    proc = fleet("status", "--workdir", str(workdir), "--format", "json", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    return {str(r["url"]): r for r in data["repositories"]}


def journal_statuses(state: Path) -> list[str]:
    """Statuses straight from the SQLite file (readable while a run writes: WAL)."""
    if not state.exists():
        return []
    db = sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=5)
    try:
        return [row[0] for row in db.execute("SELECT status FROM repos")]
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


def remote_branches(bare: Path) -> str:
    return git(bare, "for-each-ref", "--format=%(refname)", "refs/heads/")


def session_processes(sid: int) -> list[tuple[int, str]]:
    """``(pid, command line)`` of the live (not zombie) processes of session ``sid``, read
    from ``/proc``: a run started in a session of its own, whatever process groups its
    processes are in (the run's git processes are in its watchdog's group)."""
    found: list[tuple[int, str]] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                "utf-8", "replace").strip()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            found.append((int(entry.name), cmdline))
    return found


def client_processes(sid: int) -> list[tuple[int, str]]:
    """The processes of a fleet run's session on the client side: Python (the run) and the
    git commands it starts; a local remote's receive-pack and its hooks are the server's side
    and left out."""
    client = []
    for pid, cmdline in session_processes(sid):
        words = cmdline.split()
        if not words:
            continue
        program = Path(words[0]).name
        if program.startswith("python") or (
            program == "git" and len(words) > 1
            and words[1] in ("push", "clone", "fetch", "ls-remote", "commit-tree", "update-ref")
        ):
            client.append((pid, cmdline))
    return client
