"""Bad input through the real installed CLI: one clear line, exit 2, nothing changed on disk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

LOCAL_JOB = (
    "build:\n  script:\n    - source $(werf ci-env gitlab --as-file)\n    - werf build -s :local\n"
)


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ciswitch", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


CASES: dict[str, tuple[dict[str, bytes], str]] = {
    "invalid-yaml": (
        {".gitlab-ci.yml": LOCAL_JOB.encode() + b"  bad: [\n"},
        ".gitlab-ci.yml:6:1: error: invalid YAML",
    ),
    "not-utf8": ({".gitlab-ci.yml": LOCAL_JOB.encode() + b"# \xff\n"}, "not valid UTF-8"),
    "binary": ({".gitlab-ci.yml": b"a\x00b"}, "binary file"),
    "missing-include": (
        {".gitlab-ci.yml": b"include: ci/missing.yml\n" + LOCAL_JOB.encode()},
        "cannot include 'ci/missing.yml': file not found",
    ),
    "include-escapes": (
        {".gitlab-ci.yml": b"include: ../outside.yml\n" + LOCAL_JOB.encode()},
        "escapes the repository",
    ),
    "no-ci-file": ({"README": b"nothing\n"}, "no such CI configuration file"),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("command", ["lint", "fix"])
def test_bad_input(name: str, command: str, tmp_path: Path) -> None:
    files, message = CASES[name]
    repo = tmp_path / "repo"
    repo.mkdir()
    (tmp_path / "outside.yml").write_text(LOCAL_JOB)
    for rel, data in files.items():
        (repo / rel).write_bytes(data)
    before = _snapshot(tmp_path)
    result = _run(command, str(repo), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in (result.stdout + result.stderr).splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0], result.stdout + result.stderr
    assert _snapshot(tmp_path) == before


def test_symlink_escaping_the_root_is_refused(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (tmp_path / "secret.yml").write_text(LOCAL_JOB)
    os.symlink(tmp_path / "secret.yml", repo / "x.yml")
    (repo / ".gitlab-ci.yml").write_text("include: x.yml\n" + LOCAL_JOB)
    before = _snapshot(tmp_path)
    result = _run("fix", str(repo), cwd=tmp_path)
    assert result.returncode == 2
    assert "escapes the repository" in result.stdout + result.stderr
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("command", ["lint", "fix"])
@pytest.mark.parametrize(("ci_file", "message"), [
    (None, ".gitlab-ci.yml: error: is a symlink to loop-a, in a loop of symlinks"),
    ("include: loop-a\n" + LOCAL_JOB,
     ".gitlab-ci.yml:1: error: cannot include 'loop-a': cannot read: Too many levels of "
     "symbolic links"),
], ids=["ci-file", "include"])
def test_a_loop_of_symlinks_is_a_one_line_error(
    command: str, ci_file: str | None, message: str, tmp_path: Path
) -> None:
    """Reading through a loop of symlinks is an input error with its place (it was a
    traceback: pathlib's resolve raises RuntimeError on a loop)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    os.symlink("loop-b", repo / "loop-a")
    os.symlink("loop-a", repo / "loop-b")
    if ci_file is None:
        os.symlink("loop-a", repo / ".gitlab-ci.yml")
    else:
        (repo / ".gitlab-ci.yml").write_text(ci_file)
    before = _snapshot(tmp_path)
    result = _run(command, ".", cwd=repo)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == [message]
    assert "Traceback" not in result.stdout + result.stderr
    assert _snapshot(tmp_path) == before


def test_lint_exit_codes_and_fix_roundtrip(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    ci = repo / ".gitlab-ci.yml"
    ci.write_text(LOCAL_JOB)
    ci.chmod(0o640)
    assert _run("lint", cwd=repo).returncode == 1
    diff = _run("fix", "--diff", cwd=repo)
    assert diff.returncode == 0 and "-    - werf build -s :local" in diff.stdout
    assert ci.read_text() == LOCAL_JOB
    assert _run("fix", "--check", cwd=repo).returncode == 1
    fixed = _run("fix", cwd=repo)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "Fixed 1 place in 1 file" in fixed.stdout
    assert ci.read_text() == LOCAL_JOB.replace(" -s :local", "")
    assert oct(ci.stat().st_mode & 0o777) == oct(0o640)
    assert _run("lint", cwd=repo).returncode == 0
    assert not list(repo.glob(".*ciswitch-tmp"))


def test_one_bad_path_means_nothing_is_written_anywhere(tmp_path: Path) -> None:
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    (good / ".gitlab-ci.yml").write_text(LOCAL_JOB)
    (bad / ".gitlab-ci.yml").write_text(LOCAL_JOB + "  oops: [\n")
    before = _snapshot(tmp_path)
    result = _run("fix", str(good), str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert "invalid YAML" in result.stderr
    assert _snapshot(tmp_path) == before


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
@pytest.mark.parametrize("args", [
    ("lint", "."), ("lint", "--format", "json", "."), ("lint", "--format", "sarif", "."),
    ("lint", "--format", "gitlab", "."), ("lint", "-v", "--statistics", "."),
    ("fix", "--diff", "."), ("plan",), ("status",), ("lint", "--help"),
])
def test_output_on_a_full_disk_is_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...]
                                                        ) -> None:
    """Standard output on a full device (``> /dev/full``): git and the files untouched, one
    line on stderr naming the failure, exit 2, no traceback."""
    (tmp_path / ".gitlab-ci.yml").write_text(LOCAL_JOB)
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    for step in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "ci"]):
        subprocess.run(["git", *step], cwd=tmp_path, check=True, env=env)
    before = _snapshot(tmp_path)
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "ciswitch", *args], cwd=tmp_path,
                              stdout=full, stderr=subprocess.PIPE, text=True, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == "ciswitch: error: cannot write the output: No space left on device\n"
    assert _snapshot(tmp_path) == before
