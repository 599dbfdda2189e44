"""The GitLab group source against a local API server; credentials never shown or stored."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from gitrepos import SECRET, TOKEN_URL, isolate_git
from test_fleet_common import fleet, make_empty, make_repo, pushes, status_json, write_list

TOKEN = "glpat-FAKEfleetTOKEN123456"
PER_PAGE = 2


class GitLabAPI:
    """The two endpoints python-gitlab calls for a group's projects, with real pagination."""

    def __init__(self, projects: list[dict[str, Any]]) -> None:
        self.projects = projects
        self.requests: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                api.requests.append(self.path)
                if self.headers.get("PRIVATE-TOKEN") != TOKEN:
                    self._json(401, {"message": "401 Unauthorized"})
                    return
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                if url.path == "/api/v4/groups/fleet%2Fplatform":
                    self._json(200, {"id": 42, "full_path": "fleet/platform"})
                elif url.path == "/api/v4/groups/42/projects":
                    if query.get("include_subgroups") != ["true"]:
                        self._json(400, {"error": "subgroups not asked for"})
                        return
                    self._page(url.path, query)
                else:
                    self._json(404, {"message": "404 Group Not Found"})

            def _page(self, path: str, query: dict[str, list[str]]) -> None:
                page = int(query.get("page", ["1"])[0])
                total = (len(api.projects) + PER_PAGE - 1) // PER_PAGE
                items = api.projects[(page - 1) * PER_PAGE: page * PER_PAGE]
                headers = {"X-Page": str(page), "X-Per-Page": str(PER_PAGE),
                           "X-Total": str(len(api.projects)), "X-Total-Pages": str(total)}
                if page < total:
                    host = self.headers["Host"]
                    rest = "&".join(f"{k}={v[0]}" for k, v in query.items() if k != "page")
                    headers["X-Next-Page"] = str(page + 1)
                    headers["Link"] = f'<http://{host}{path}?{rest}&page={page + 1}>; rel="next"'
                self._json(200, items, headers)

            def _json(self, code: int, body: object, headers: dict[str, str] | None = None
                      ) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def api_server() -> Iterator[GitLabAPI]:
    api = GitLabAPI([])
    thread = threading.Thread(target=api.server.serve_forever, daemon=True)
    thread.start()
    yield api
    api.server.shutdown()
    api.server.server_close()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)


def _project(pid: int, bare: Path, **extra: object) -> dict[str, Any]:
    return {"id": pid, "path_with_namespace": f"fleet/platform/{bare.name}",
            "http_url_to_repo": str(bare), "archived": False, "empty_repo": False,
            "default_branch": "main", "ci_config_path": None, **extra}


def test_gitlab_group_source_pages_skips_and_honours_ci_config_path(
    tmp_path: Path, api_server: GitLabAPI,
) -> None:
    src = tmp_path / "src"
    flag = make_repo(src, "flag", "flag")
    custom = make_repo(src, "custom", "custom-path")
    clean = make_repo(src, "clean", "clean")
    archived = make_repo(src, "archived", "flag")
    elsewhere = make_repo(src, "elsewhere", "flag")
    empty = make_empty(src, "empty")
    api_server.projects = [
        _project(1, flag),
        _project(2, custom, ci_config_path="ci/pipeline.yml"),
        _project(3, archived, archived=True),
        _project(4, empty, empty_repo=True),
        _project(5, clean),
        _project(6, elsewhere, ci_config_path=".gitlab-ci.yml@ci/templates"),
    ]
    env = {"GITLAB_TOKEN": TOKEN}
    # this server serves the group's projects only: merge requests open by push options
    proc = fleet("run", "--gitlab-url", api_server.url, "--group", "fleet/platform",
                 "--open-mr", "push-options", "--workdir", str(tmp_path / "w"), cwd=tmp_path,
                 env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pages = [r for r in api_server.requests if "/projects" in r]
    assert len(pages) == 3  # six projects, two per page, followed through the Link header
    table = status_json(tmp_path / "w", tmp_path)
    assert set(table) == {str(flag), str(custom), str(clean), str(elsewhere)}
    assert table[str(flag)]["status"] == "pushed"
    assert table[str(custom)]["status"] == "pushed"  # found through ci/pipeline.yml
    assert table[str(clean)]["status"] == "clean"
    assert table[str(elsewhere)]["status"] == "skipped"
    assert "another project" in str(table[str(elsewhere)]["detail"])
    assert pushes(archived) == [] and len(pushes(custom)) == 1
    assert TOKEN not in proc.stdout + proc.stderr

    # nor the projects' CI/CD variables (tests/test_gitlab_settings.py reads them)
    survey = fleet("survey", "--gitlab-url", api_server.url, "--group", "fleet/platform",
                   "--workdir", str(tmp_path / "w"), "--format", "json",
                   "--no-gitlab-settings", cwd=tmp_path, env=env)
    rows = {r["url"]: r for r in json.loads(survey.stdout)["branches"]}
    assert rows[str(custom)]["findings"] == 1 and not rows[str(custom)]["error"]


def test_gitlab_errors_are_one_line_without_the_token(
    tmp_path: Path, api_server: GitLabAPI,
) -> None:
    proc = fleet("run", "--gitlab-url", api_server.url, "--group", "fleet/platform",
                 "--workdir", str(tmp_path / "w"), cwd=tmp_path,
                 env={"GITLAB_TOKEN": "glpat-WRONGtoken99999999"})
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "401" in proc.stderr
    assert "WRONGtoken" not in proc.stderr
    missing = fleet("run", "--gitlab-url", api_server.url, "--group", "nope",
                    "--workdir", str(tmp_path / "w"), cwd=tmp_path, env={"GITLAB_TOKEN": TOKEN})
    assert missing.returncode == 2 and "404" in missing.stderr
    assert not (tmp_path / "w").exists()


def test_credentials_are_redacted_in_logs_tables_journal_and_errors(tmp_path: Path) -> None:
    flag = make_repo(tmp_path / "src", "flag", "flag")
    listing = write_list(tmp_path / "repos.txt", [flag], header=f"# fleet\n{TOKEN_URL}\n")
    workdir = tmp_path / "w"
    proc = fleet("run", "--repos", str(listing), "--workdir", str(workdir), cwd=tmp_path)
    assert proc.returncode == 1
    assert "https://***@127.0.0.1:9/group/project.git" in proc.stdout
    seen = proc.stdout + proc.stderr
    for fmt in ("text", "json", "csv", "markdown"):
        shown = fleet("status", "--workdir", str(workdir), "--format", fmt, cwd=tmp_path)
        assert "127.0.0.1:9/group/project" in shown.stdout
        seen += shown.stdout + shown.stderr
    merged = fleet("merge-reports", str(workdir / "ciswitch-fleet.sqlite"), cwd=tmp_path)
    seen += merged.stdout + merged.stderr
    table = status_json(workdir, tmp_path)
    row = table["https://***@127.0.0.1:9/group/project.git"]
    assert row["status"] == "failed" and "clone" in str(row["detail"])
    assert SECRET not in seen and "oauth2" not in seen
    for path in workdir.glob("ciswitch-fleet.sqlite*"):
        assert SECRET.encode() not in path.read_bytes()
