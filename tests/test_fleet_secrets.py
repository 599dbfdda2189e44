"""Credentials in a fleet's repository list: never printed, never stored, and still used.

Against real git over HTTP (``git http-backend`` behind a server that demands basic
authentication) and malformed URLs as people paste them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from git_http import GitHttpServer
from gitrepos import git, isolate_git
from test_fleet_common import fleet, make_repo, pushes, status_json

SECRET = "glpat-S3cr3tFleetToken42"
BRANCH = "ciswitch/remote-stages-storage"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)


@pytest.mark.parametrize(("line", "why"), [
    ("https://oauth2:S3cr3t#x@host:9/g/p.git", "Port could not be cast"),
    ("https://oauth2:S3/cr3t@gitlab.example.test/g/p.git", "Port could not be cast"),
    ("https://oauth2:S3cr?3t@gitlab.example.test/g/p.git", "Port could not be cast"),
    ("https://oauth2:123/S3cr3t@gitlab.example.test/g/p.git", "'@' after the host"),
    ("https://oauth2:S3cr3t@gitlab.example.test:99999/g/p.git", "Port out of range"),
    ("https://oauth2:S3cr3t@gitlab.example.test:http/g/p.git", "Port could not be cast"),
    ("https://oauth2:S3cr3t@[::1/g/p.git", "Invalid IPv6 URL"),
])
def test_malformed_urls_are_one_line_errors_without_the_secret(
    tmp_path: Path, line: str, why: str,
) -> None:
    listing = tmp_path / "repos.txt"
    listing.write_text(f"# fleet\n{tmp_path}/fine.git\n{line}\n", encoding="utf-8")
    for command in ("run", "survey"):
        proc = fleet(command, "--repos", str(listing), "--workdir", str(tmp_path / "w"),
                     cwd=tmp_path)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert proc.stdout == "" and proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stderr.startswith(f"ciswitch: error: {listing}:3: malformed URL https://***@")
        assert why in proc.stderr
        assert "S3cr" not in proc.stderr and "Traceback" not in proc.stderr
        assert not (tmp_path / "w").exists()


def test_token_urls_authenticate_through_a_header_and_are_never_stored(tmp_path: Path) -> None:
    served = tmp_path / "served"
    bare = make_repo(served / "g", "p", "flag")
    with GitHttpServer(served, "oauth2", SECRET) as server:
        url = f"http://oauth2:{SECRET}@127.0.0.1:{server.port}/g/{bare.name}"
        listing = tmp_path / "repos.txt"
        listing.write_text(url + "\n", encoding="utf-8")
        workdir = tmp_path / "work"
        proc = fleet("run", "--repos", str(listing), "--workdir", str(workdir), cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        survey = fleet("survey", "--repos", str(listing), "--workdir", str(workdir),
                       "--format", "json", cwd=tmp_path)
        assert survey.returncode == 0, survey.stderr
        requests = list(server.requests)
    assert len(pushes(bare)) == 1
    assert BRANCH in git(bare, "for-each-ref", "--format=%(refname)", "refs/heads/")
    table = status_json(workdir, tmp_path)
    (row,) = table.values()
    assert row["status"] == "pushed" and row["url"] == (
        f"http://***@127.0.0.1:{server.port}/g/{bare.name}")
    (surveyed,) = json.loads(survey.stdout)["branches"]  # the existing clone was fetched
    assert surveyed["error"] == "" and surveyed["findings"] == 2
    # git authenticated on every request (clone, push, the later fetch) with a header...
    assert requests and all(auth is not None for _path, auth in requests[1:])
    assert any("git-receive-pack" in path for path, _auth in requests)
    # ...and nothing on disk holds the secret: the clone's config, the journal, the rest
    (clone,) = (workdir / "repos").iterdir()
    config = (clone / ".git" / "config").read_text()
    assert f"url = http://127.0.0.1:{server.port}/g/{bare.name}\n" in config
    for path in workdir.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
            assert b"oauth2:" not in path.read_bytes(), path
    seen = proc.stdout + proc.stderr + survey.stdout + survey.stderr
    assert SECRET not in seen


def test_plain_urls_with_gitlab_url_get_the_gitlab_token_as_a_header(tmp_path: Path) -> None:
    served = tmp_path / "served"
    bare = make_repo(served / "g", "p", "flag")
    with GitHttpServer(served, "oauth2", SECRET) as server:
        base = f"http://127.0.0.1:{server.port}"
        listing = tmp_path / "repos.txt"
        listing.write_text(f"{base}/g/{bare.name}\n", encoding="utf-8")
        workdir = tmp_path / "work"
        without = fleet("run", "--repos", str(listing), "--workdir", str(workdir),
                        cwd=tmp_path)
        assert without.returncode == 1  # no token: git is refused (401)
        proc = fleet("run", "--repos", str(listing), "--gitlab-url", base, "--workdir",
                     str(workdir), "--retry-failed", "--open-mr", "push-options",
                     cwd=tmp_path, env={"GITLAB_TOKEN": SECRET})
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(pushes(bare)) == 1
    assert status_json(workdir, tmp_path)[f"{base}/g/{bare.name}"]["status"] == "pushed"
    assert SECRET not in proc.stdout + proc.stderr
    for path in workdir.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
