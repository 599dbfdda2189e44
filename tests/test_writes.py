"""Writes that never lose work: compare-and-swap, all or nothing, no writing through symlinks.

Faults are real: a file really changed between ``fix``'s read and its write (in process, the
change lands exactly between the two; through the CLI, another process edits the file as soon
as the kernel says ciswitch has read it, while the big file keeps ciswitch busy), a real full
tmpfs and a real read-only mount (both need root and ``mount``; skipped otherwise), a real
symlink.
"""

from __future__ import annotations

import ctypes
import os
import select
import shutil
import stat
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ciswitch.atomic import PlannedWrite, WriteError, changed_since, read_stamped, write_all
from ciswitch.config import load_config
from ciswitch.fix import FixOutcome, plan_fix, write_changes
from ciswitch.workspace import DirectoryWorkspace

CISWITCH = Path(sys.executable).with_name("ciswitch")
FIXABLE = """\
build:
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf build --stages-storage :local
"""
FIXED = FIXABLE.replace(" --stages-storage :local", "")
INCLUDING = "include:\n  - local: big.yml\n" + FIXABLE
DEPLOY = """\
deploy:
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf deploy --stages-storage :local --env production
"""


def _ciswitch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CISWITCH), *args], cwd=cwd, capture_output=True, text=True, timeout=120,
        check=False,
    )


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    }


def _plan(root: Path) -> tuple[DirectoryWorkspace, FixOutcome]:
    ws = DirectoryWorkspace(root)
    outcome = plan_fix(ws, load_config(ws, None))
    assert outcome.changes and not outcome.problems, outcome.problems
    return ws, outcome


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / ".gitlab-ci.yml").write_text(INCLUDING, encoding="utf-8")
    (root / "big.yml").write_text(DEPLOY, encoding="utf-8")
    return root


# --- compare-and-swap ------------------------------------------------------------------------


def test_an_unchanged_file_is_written(repo: Path) -> None:
    ws, outcome = _plan(repo)
    write_changes(ws, outcome)
    expected = "include:\n  - local: big.yml\n" + FIXED
    assert (repo / ".gitlab-ci.yml").read_text(encoding="utf-8") == expected
    assert "--stages-storage" not in (repo / "big.yml").read_text(encoding="utf-8")
    assert sorted(p.name for p in repo.iterdir()) == [".gitlab-ci.yml", "big.yml"]


def test_an_append_between_read_and_write_is_kept_and_nothing_is_written(repo: Path) -> None:
    ws, outcome = _plan(repo)
    with open(repo / "big.yml", "a", encoding="utf-8") as handle:  # a colleague's edit
        handle.write("# added while fix was working\n")
    before = _snapshot(repo)
    with pytest.raises(WriteError) as caught:
        write_changes(ws, outcome)
    assert caught.value.path == "big.yml"
    assert "changed on disk" in caught.value.message and "size changed" in caught.value.message
    assert _snapshot(repo) == before  # the other file was not written either


def test_an_editor_save_by_rename_is_kept_and_nothing_is_written(repo: Path) -> None:
    ws, outcome = _plan(repo)
    saved = repo / ".gitlab-ci.yml.swp"
    saved.write_text(INCLUDING, encoding="utf-8")  # the same text, but a new file
    os.replace(saved, repo / ".gitlab-ci.yml")
    before = _snapshot(repo)
    with pytest.raises(WriteError) as caught:
        write_changes(ws, outcome)
    assert caught.value.path == ".gitlab-ci.yml"
    assert "replaced by another file" in caught.value.message
    assert _snapshot(repo) == before


def test_a_same_size_edit_with_the_old_time_is_caught_by_the_hash(tmp_path: Path) -> None:
    path = tmp_path / "ci.yml"
    path.write_bytes(b"a: 1\n")
    _, stamp = read_stamped(path)
    with open(path, "r+b") as handle:  # same inode, same size
        handle.write(b"a: 2\n")
    os.utime(path, ns=(stamp.mtime_ns, stamp.mtime_ns))  # and the old modification time
    assert changed_since(path, stamp) == "its content changed"
    with pytest.raises(WriteError, match="its content changed"):
        write_all([PlannedWrite(path, b"a: 3\n", stamp)])
    assert path.read_bytes() == b"a: 2\n"
    assert os.listdir(tmp_path) == ["ci.yml"]


@pytest.mark.parametrize("size", [0, 5, (1 << 18) - 1, 1 << 18, (1 << 18) + 1, 3 << 20])
def test_the_stamp_is_the_sha256_of_the_bytes_read_at_every_size(tmp_path: Path,
                                                                   size: int) -> None:
    """Small files are hashed by the interpreter's own module, big ones by OpenSSL's: the
    same digest either way, and a same-size edit is caught on both sides of the limit."""
    import hashlib

    path = tmp_path / "ci.yml"
    data = (b"a: 1\n" * (size // 5 + 1))[:size]
    path.write_bytes(data)
    _, stamp = read_stamped(path)
    assert stamp.sha256 == hashlib.sha256(data).hexdigest()
    assert changed_since(path, stamp) is None
    if size:
        with open(path, "r+b") as handle:
            handle.seek(size - 1)
            handle.write(b"#")
        os.utime(path, ns=(stamp.mtime_ns, stamp.mtime_ns))
        assert changed_since(path, stamp) == "its content changed"


def test_a_file_deleted_meanwhile_is_not_written_again(tmp_path: Path) -> None:
    path = tmp_path / "ci.yml"
    path.write_bytes(b"a: 1\n")
    _, stamp = read_stamped(path)
    path.unlink()
    with pytest.raises(WriteError, match="deleted"):
        write_all([PlannedWrite(path, b"a: 3\n", stamp)])
    assert os.listdir(tmp_path) == []


def test_the_mode_is_kept_and_a_symlink_inside_the_repository_stays_a_link(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "ci").mkdir(parents=True)
    (root / "ci" / "real.yml").write_text(FIXABLE, encoding="utf-8")
    os.chmod(root / "ci" / "real.yml", 0o640)
    (root / ".gitlab-ci.yml").symlink_to("ci/real.yml")
    proc = _ciswitch("fix", ".", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert (root / ".gitlab-ci.yml").is_symlink()
    assert (root / "ci" / "real.yml").read_text(encoding="utf-8") == FIXED
    assert stat.S_IMODE((root / "ci" / "real.yml").stat().st_mode) == 0o640


# --- symlinks that leave the repository ------------------------------------------------------


@pytest.mark.parametrize("command", ["fix", "lint"])
def test_a_named_symlink_leaving_the_repository_is_refused(tmp_path: Path, command: str) -> None:
    outside = tmp_path / "outside.yml"
    outside.write_text(FIXABLE, encoding="utf-8")
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitlab-ci.yml").write_text(FIXABLE, encoding="utf-8")
    (root / "link.yml").symlink_to(outside)
    proc = _ciswitch(command, "link.yml", cwd=root)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "link.yml" in proc.stdout + proc.stderr
    assert "escapes the repository" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert outside.read_text(encoding="utf-8") == FIXABLE
    assert (root / ".gitlab-ci.yml").read_text(encoding="utf-8") == FIXABLE
    if command == "fix":
        assert len(proc.stderr.splitlines()) == 1, proc.stderr


# --- a full disk, a read-only file system -----------------------------------------------------


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 400 KiB tmpfs (root and mount needed: skipped otherwise)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a tmpfs needs root and mount")
    mnt = tmp_path / f"fs-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mnt)],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _two_file_repo(root: Path, padding: int) -> None:
    root.mkdir()
    (root / ".gitlab-ci.yml").write_text(INCLUDING, encoding="utf-8")
    # the included file is big: its temporary cannot fit beside it on the small disk
    (root / "big.yml").write_text(DEPLOY + ("#" + "x" * 99 + "\n") * padding, encoding="utf-8")


def test_a_full_disk_writes_nothing_and_says_so_on_one_line(small_fs: Path) -> None:
    root = small_fs / "repo"
    _two_file_repo(root, padding=2500)  # 250 KB of 400: a second copy cannot fit
    before = _snapshot(root)
    proc = _ciswitch("fix", ".", cwd=root)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("big.yml: error: ") and "No space left on device" in lines[0]
    assert "nothing was written" in lines[0]
    assert _snapshot(root) == before  # .gitlab-ci.yml, which fitted, is not half-migrated
    assert sorted(p.name for p in root.iterdir()) == [".gitlab-ci.yml", "big.yml"]
    # the same run with room enough writes both: the test above can fail
    (root / "big.yml").write_text(DEPLOY, encoding="utf-8")
    assert _ciswitch("fix", ".", cwd=root).returncode == 0
    assert "--stages-storage" not in (root / "big.yml").read_text(encoding="utf-8")


def test_a_read_only_file_system_writes_nothing(small_fs: Path) -> None:
    root = small_fs / "repo"
    _two_file_repo(root, padding=1)
    before = _snapshot(root)
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    proc = _ciswitch("fix", ".", "--format", "json", "-o", "report.json", cwd=root)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "Read-only file system" in lines[0], proc.stderr
    assert _snapshot(root) == before


def test_a_read_only_directory_writes_nothing(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes into a read-only directory (the read-only mount test covers it)")
    root = tmp_path / "repo"
    _two_file_repo(root, padding=1)
    before = _snapshot(root)
    os.chmod(root, 0o555)
    try:
        proc = _ciswitch("fix", ".", cwd=root)
    finally:
        os.chmod(root, 0o755)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "Permission denied" in lines[0], proc.stderr
    assert _snapshot(root) == before


def test_the_report_is_part_of_the_run(repo: Path) -> None:
    """The --output report of fix goes into the same transaction: no report for a run that
    wrote nothing, and -o - is standard output."""
    (repo / "sub").mkdir()
    proc = _ciswitch("fix", ".", "--format", "json", "-o", "missing/report.json", cwd=repo)
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert "werf build --stages-storage :local" in (repo / ".gitlab-ci.yml").read_text("utf-8")
    proc = _ciswitch("fix", ".", "--format", "json", "-o", "-", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.lstrip().startswith("{") and not (repo / "-").exists()


# --- a real concurrent writer -----------------------------------------------------------------

IN_CLOSE_NOWRITE = 0x10


def _wait_until_read(
    path: Path, start: Callable[[], subprocess.Popen[str]]
) -> subprocess.Popen[str]:
    """Start a process and return once it has read ``path`` to the end and closed it (the
    kernel's inotify tells: no polling, no sleeping)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init()
    if fd < 0:
        pytest.skip("no inotify here")
    try:
        if libc.inotify_add_watch(fd, os.fsencode(path), IN_CLOSE_NOWRITE) < 0:
            pytest.skip("cannot watch the file")
        proc = start()
        ready, _, _ = select.select([fd], [], [], 60)
        assert ready, "ciswitch never read the file"
        os.read(fd, 4096)
        return proc
    finally:
        os.close(fd)


@pytest.mark.parametrize("how", ["append", "save by rename"])
def test_a_concurrent_writer_during_a_slow_fix_keeps_its_edit(tmp_path: Path, how: str) -> None:
    """Another process changes the file after ``ciswitch fix`` read it and long before it
    could have written it (the file is big enough to take seconds): the edit survives, the
    fix is refused on one line, exit 2."""
    root = tmp_path / "repo"
    root.mkdir()
    ci = root / ".gitlab-ci.yml"
    jobs = "".join(FIXABLE.replace("build:", f"build{i}:") for i in range(1000))
    ci.write_text(jobs, encoding="utf-8")
    proc = _wait_until_read(
        ci,
        lambda: subprocess.Popen(
            [str(CISWITCH), "fix", "."], cwd=root, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        ),
    )
    edited = jobs + "# a colleague's edit\n"
    if how == "append":
        with open(ci, "a", encoding="utf-8") as handle:
            handle.write("# a colleague's edit\n")
    else:
        (root / ".gitlab-ci.yml.new").write_text(edited, encoding="utf-8")
        os.replace(root / ".gitlab-ci.yml.new", ci)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(".gitlab-ci.yml: error: changed on disk"), err
    assert ci.read_text(encoding="utf-8") == edited
    assert sorted(p.name for p in root.iterdir()) == [".gitlab-ci.yml"]
