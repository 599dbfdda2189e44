"""Credentials in a fleet's repository list: never printed, never stored, and still used.

Against real git over HTTP (``git http-backend`` behind a server that demands basic
authentication) and malformed URLs as people paste them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from git_http import GitHttpServer
from gitrepos import git, isolate_git
from test_fleet_common import fleet, make_repo, pushes, status_json

SECRET = "glpat-S3cr3tFleetToken42"
BRANCH = "ciswitch/remote-stages-storage"
BIN = Path(__file__).parent / "bin"


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


def _werf_env(tmp_path: Path, projects: list[str]) -> dict[str, str]:
    """The werf and docker stand-ins, with local stages here for ``projects``."""
    stages = tmp_path / "local-stages"
    stages.mkdir()
    for name in projects:
        (stages / name).write_text("stages\n")
    return {
        "WERF_HOME": str(tmp_path / "werf-home"), "WERF_STANDIN_STAGES": str(stages),
        "WERF_STANDIN_LOG": str(tmp_path / "werf.log"),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }


def test_sync_clones_token_urls_with_the_credentials_as_a_header(tmp_path: Path) -> None:
    """``fleet sync`` clones on the runner host: private projects need the credentials too."""
    served = tmp_path / "served"
    bare = make_repo(served / "g", "p", "flag")
    listing = tmp_path / "repos.txt"
    with GitHttpServer(served, "oauth2", SECRET) as server:
        listing.write_text(f"http://oauth2:{SECRET}@127.0.0.1:{server.port}/g/{bare.name}\n")
        proc = fleet("sync", "--repos", str(listing), "--workdir", str(tmp_path / "work"),
                     "--registry-host", "registry.example.test", "--werf-project", "g/p-remote=p",
                     "--retry-delay", "0", cwd=tmp_path, env=_werf_env(tmp_path, ["p"]))
        requests = list(server.requests)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "g/p-remote: done: synced to registry.example.test/g/p-remote/stages" in proc.stdout, (
        proc.stdout)
    assert requests and all(auth is not None for _path, auth in requests[1:])
    assert SECRET not in proc.stdout + proc.stderr
    for path in (tmp_path / "work").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("command", ["run", "survey", "sync"])
def test_concurrent_repositories_each_send_their_own_credentials(
    tmp_path: Path, command: str,
) -> None:
    """Two servers, each with its own secret, worked on at once (``-j 2``), several
    repositories each: every request carries the credentials of its own URL, never the
    other's, and every repository succeeds."""
    secrets = {"a": "glpat-FirstServerToken11", "b": "glpat-SecondServerToken22"}
    served = {key: tmp_path / f"served-{key}" for key in secrets}
    names = {key: [f"{key}{n}" for n in range(4)] for key in secrets}
    bares = {key: [make_repo(served[key] / "g", name, "flag") for name in names[key]]
             for key in secrets}
    listing = tmp_path / "repos.txt"
    with GitHttpServer(served["a"], "oauth2", secrets["a"]) as first, \
            GitHttpServer(served["b"], "oauth2", secrets["b"]) as second:
        servers = {"a": first, "b": second}
        lines = [f"http://oauth2:{secrets[key]}@127.0.0.1:{servers[key].port}/g/{bare.name}"
                 for n in range(4) for key in secrets for bare in [bares[key][n]]]
        listing.write_text("\n".join(lines) + "\n")
        extra: list[str] = []
        env: dict[str, str] | None = None
        if command == "sync":
            extra = ["--registry-host", "registry.example.test", "--retry-delay", "0",
                     "--retries", "0"]
            for key in secrets:
                extra += [f"--werf-project=g/{name}-remote={name}" for name in names[key]]
            env = _werf_env(tmp_path, [n for key in secrets for n in names[key]])
        proc = fleet(command, "--repos", str(listing), "--workdir", str(tmp_path / "work"),
                     "-j", "2", *extra, cwd=tmp_path, env=env)
        seen = {key: list(server.requests) for key, server in servers.items()}
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for key, server in servers.items():
        assert seen[key], key
        wrong = [(path, auth) for path, auth in seen[key]
                 if auth is not None and auth != server.expected]
        assert not wrong, wrong
    if command == "run":
        assert all(len(pushes(bare)) == 1 for key in secrets for bare in bares[key])
    for secret in secrets.values():
        assert secret not in proc.stdout + proc.stderr
