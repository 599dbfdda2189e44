"""The facts the runbook rests on: werf project name, stages address, werf version."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ciswitch.errors import CiswitchError
from ciswitch.runbook.facts import (
    WerfVersion,
    block_file,
    block_file_display,
    detect_werf,
    gather_facts,
    git_remote_url,
    parse_remote_url,
    parse_werf_version,
    project_name,
    stages_address,
    version_problem,
)
from ciswitch.workspace import DirectoryWorkspace

FIXTURES = Path(__file__).parent / "fixtures" / "runbook" / "werf_config"
STANDIN = Path(__file__).parent / "bin"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "case.json").is_file())


# --- werf project name ------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_project_name_from_werf_config(case: str) -> None:
    folder = FIXTURES / case
    expected = json.loads((folder / "case.json").read_text(encoding="utf-8"))
    ws = DirectoryWorkspace(folder)
    if "error" in expected:
        with pytest.raises(CiswitchError) as caught:
            project_name(ws, environ={})
        for part in expected["error"]:
            assert part in str(caught.value)
        return
    found = project_name(ws, environ={})
    assert found.name == expected["name"]
    assert found.config_path == expected["config"]
    if expected["name"] is None:
        assert found.source == ""
        for part in expected["problem"]:
            assert part in found.problem, found.problem
    else:
        assert found.source == expected["config"]
        assert found.problem == ""


def test_fixture_set_covers_the_variants() -> None:
    # guards against a renamed folder silently dropping a case
    assert {"plain", "templates_around", "werf_yml", "missing", "templated_name",
            "multi_documents"} <= set(CASES)


def test_werf_project_name_overrides_the_config() -> None:
    ws = DirectoryWorkspace(FIXTURES / "plain")
    found = project_name(ws, environ={"WERF_PROJECT_NAME": "shop-staging"})
    assert (found.name, found.source, found.config_path) == (
        "shop-staging", "WERF_PROJECT_NAME", "werf.yaml")


def test_override_makes_a_templated_name_known() -> None:
    ws = DirectoryWorkspace(FIXTURES / "templated_name")
    assert project_name(ws, environ={"WERF_PROJECT_NAME": "shop"}).name == "shop"


def test_explicit_project_wins_over_everything() -> None:
    ws = DirectoryWorkspace(FIXTURES / "plain")
    found = project_name(ws, explicit="other", environ={"WERF_PROJECT_NAME": "env-name"})
    assert (found.name, found.source) == ("other", "--project")


def test_empty_override_is_ignored() -> None:
    ws = DirectoryWorkspace(FIXTURES / "plain")
    assert project_name(ws, environ={"WERF_PROJECT_NAME": ""}).name == "shop"


@pytest.mark.parametrize("bad", ["../x", "Shop", "a/b", "-x", "x" * 51])
def test_unsafe_explicit_names_are_refused(bad: str) -> None:
    ws = DirectoryWorkspace(FIXTURES / "plain")
    with pytest.raises(CiswitchError, match="not a werf project name"):
        project_name(ws, explicit=bad, environ={})


def test_project_name_reads_a_git_tree(tmp_path: Path) -> None:
    """The facts read through the Workspace protocol, so a commit works as well as a tree."""
    from ciswitch.git_tree import GitTreeWorkspace

    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / "templates_around", repo)
    git = ["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    (repo / "werf.yaml").write_text("configVersion: 1\nproject: changed\n", encoding="utf-8")
    import git as gitpython

    ws = GitTreeWorkspace(gitpython.Repo(repo), "HEAD")
    assert project_name(ws, environ={}).name == "catalog-api"
    assert project_name(DirectoryWorkspace(repo), environ={}).name == "changed"


def test_block_file_under_werf_home(tmp_path: Path) -> None:
    env = {"WERF_HOME": str(tmp_path / "wh")}
    assert block_file("shop", env) == tmp_path / "wh/service/stages_switch_from_local_block/shop"
    assert block_file_display("shop", env) == str(block_file("shop", env))
    home_block = Path.home() / ".werf/service/stages_switch_from_local_block/shop"
    assert block_file("shop", {}) == home_block
    assert block_file_display("shop", {}) == "~/.werf/service/stages_switch_from_local_block/shop"


# --- stages address ---------------------------------------------------------------------------

TOKEN = "glpat-s3cr3tT0kenValue"


@pytest.mark.parametrize(
    ("url", "host", "path"),
    [
        ("git@gitlab.example.com:Web/Catalog/MyProject.git", "gitlab.example.com",
         "Web/Catalog/MyProject"),
        ("gitlab.example.com:web/shop", "gitlab.example.com", "web/shop"),
        ("ssh://git@gitlab.example.com:2222/web/shop.git", "gitlab.example.com", "web/shop"),
        ("ssh://git@gitlab.example.com/web/shop.git/", "gitlab.example.com", "web/shop"),
        ("https://gitlab.example.com/web/shop.git", "gitlab.example.com", "web/shop"),
        ("https://GitLab.Example.com:8443/web/sub/shop", "gitlab.example.com", "web/sub/shop"),
        (f"https://oauth2:{TOKEN}@gitlab.example.com/web/shop.git", "gitlab.example.com",
         "web/shop"),
        (f"https://{TOKEN}@gitlab.example.com/web/shop.git", "gitlab.example.com", "web/shop"),
    ],
)
def test_parse_remote_url(url: str, host: str, path: str) -> None:
    remote = parse_remote_url(url)
    assert (remote.host, remote.path) == (host, path)
    assert TOKEN not in remote.redacted
    if "@" in url and url.startswith("https"):
        assert "***@" in remote.redacted


@pytest.mark.parametrize("url", ["/srv/git/shop.git", "file:///srv/git/shop.git",
                                 "https://gitlab.example.com/shop.git"])
def test_unusable_remote_urls(url: str) -> None:
    with pytest.raises(CiswitchError):
        parse_remote_url(url)


def test_address_from_to_wins() -> None:
    found = stages_address(to="reg.example.com/a/b/stages/", environ={
        "CI_REGISTRY_IMAGE": "reg.example.com/x/y"}, remote_url="git@h:a/b.git")
    assert (found.address, found.source) == ("reg.example.com/a/b/stages", "--to")


@pytest.mark.parametrize("bad", [":local", "https://reg.example.com/a/stages", "a b"])
def test_address_to_is_checked(bad: str) -> None:
    with pytest.raises(CiswitchError, match="--to"):
        stages_address(to=bad, environ={})


def test_address_from_ci_registry_image() -> None:
    found = stages_address(environ={"CI_REGISTRY_IMAGE": "registry.example.com/web/shop"},
                           remote_url="git@gitlab.example.com:other/thing.git",
                           registry_host="ignored.example.com")
    assert (found.address, found.source) == (
        "registry.example.com/web/shop/stages", "CI_REGISTRY_IMAGE")


@pytest.mark.parametrize(
    "url",
    [
        "git@gitlab.example.com:Web/Catalog/MyProject.git",
        "ssh://git@gitlab.example.com:2222/Web/Catalog/MyProject.git",
        f"https://oauth2:{TOKEN}@gitlab.example.com/Web/Catalog/MyProject.git",
        "https://gitlab.example.com/Web/Catalog/MyProject",
    ],
)
def test_address_derived_from_remote_and_registry_host(url: str) -> None:
    found = stages_address(environ={}, remote_url=url, registry_host="Registry.Example.com:5050")
    # GitLab names registry repositories by the lowercased project path
    assert found.address == "registry.example.com:5050/web/catalog/myproject/stages"
    assert TOKEN not in found.source
    assert found.problem == ""


def test_gitlab_com_registry_is_known() -> None:
    found = stages_address(environ={}, remote_url="git@gitlab.com:Group/Proj.git")
    assert found.address == "registry.gitlab.com/group/proj/stages"


def test_address_unknown_without_registry_host() -> None:
    found = stages_address(environ={},
                           remote_url=f"https://u:{TOKEN}@gitlab.example.com/web/shop.git")
    assert found.address is None
    assert "--registry-host" in found.problem and "--to" in found.problem
    assert TOKEN not in found.problem


def test_address_unknown_without_remote() -> None:
    found = stages_address(environ={}, remote_url=None, remote_name="upstream")
    assert found.address is None
    assert "'upstream'" in found.problem


def test_bad_remote_is_reported_redacted() -> None:
    found = stages_address(environ={}, remote_url=f"https://{TOKEN}@gitlab.example.com/shop",
                           registry_host="r.example.com")
    assert found.address is None
    assert TOKEN not in found.problem and "***@" in found.problem


def test_git_remote_url_reads_the_repository(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert git_remote_url(tmp_path) is None
    subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin",
                    "git@gitlab.example.com:web/shop.git"], check=True)
    assert git_remote_url(tmp_path) == "git@gitlab.example.com:web/shop.git"
    assert git_remote_url(tmp_path, "upstream") is None


# --- werf version -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "triple", "raw"),
    [
        ("v1.1.23+fix2\n", (1, 1, 23), "v1.1.23+fix2"),
        ("v1.1.10", (1, 1, 10), "v1.1.10"),
        ("1.1.21+fix16", (1, 1, 21), "v1.1.21+fix16"),
        ("v1.2.0-rc.1\n", (1, 2, 0), "v1.2.0-rc.1"),
        ("v1.0.13-beta.9", (1, 0, 13), "v1.0.13-beta.9"),
        ("werf version v1.1.8\nsome other line 2.3.4", (1, 1, 8), "v1.1.8"),
    ],
)
def test_parse_werf_version(output: str, triple: tuple[int, int, int], raw: str) -> None:
    version = parse_werf_version(output)
    assert version is not None
    assert version.triple == triple
    assert str(version) == raw


@pytest.mark.parametrize("output", ["dev", "", "v1.1"])
def test_unparsable_versions(output: str) -> None:
    assert parse_werf_version(output) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("v1.1.9+fix3", "too old"),
        ("v1.0.13", "too old"),
        ("v1.1.10", ""),
        ("v1.1.23+fix2", ""),
        ("v1.2.3", "--repo"),
        ("v2.0.1", "--repo"),
    ],
)
def test_version_problem(raw: str, expected: str) -> None:
    version = parse_werf_version(raw)
    assert version is not None
    problem = version_problem(version)
    if expected:
        assert expected in problem
        assert raw in problem
    else:
        assert problem == ""


def test_versions_order_numerically() -> None:
    assert WerfVersion(1, 1, 9) < WerfVersion(1, 1, 10) < WerfVersion(1, 2, 0)


def _standin_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {"PATH": f"{STANDIN}{os.pathsep}{os.environ['PATH']}",
           "WERF_STANDIN_LOG": str(tmp_path / "werf.log")}
    env.update(extra)
    return env


def test_detect_werf_asks_the_binary(tmp_path: Path) -> None:
    info = detect_werf(environ=_standin_env(tmp_path, WERF_STANDIN_VERSION="v1.1.21+fix16"))
    assert info.path == str(STANDIN / "werf")
    assert str(info.version) == "v1.1.21+fix16"
    assert info.problem == ""
    calls = [json.loads(line) for line in (tmp_path / "werf.log").read_text().splitlines()]
    assert [c["argv"] for c in calls] == [["version"]]


def test_detect_werf_reports_old_and_unknown(tmp_path: Path) -> None:
    old = detect_werf(environ=_standin_env(tmp_path, WERF_STANDIN_VERSION="v1.1.3"))
    assert "too old" in old.problem
    odd = detect_werf(environ=_standin_env(tmp_path, WERF_STANDIN_VERSION="dev"))
    assert odd.version is None and "dev" in odd.problem


def test_detect_werf_absent(tmp_path: Path) -> None:
    info = detect_werf(environ={"PATH": str(tmp_path)})
    assert info.path is None and "not on PATH" in info.problem
    with pytest.raises(CiswitchError, match="--werf"):
        detect_werf(str(tmp_path / "nope"), environ={"PATH": str(tmp_path)})


def test_gather_facts_with_unknowns() -> None:
    facts = gather_facts(DirectoryWorkspace(FIXTURES / "templated_name"), repo="x",
                         environ={"WERF_HOME": "/srv/werf"})
    assert facts.project.name is None and facts.block_file is None
    assert facts.address.address is None
    assert facts.block_file_display == "/srv/werf/service/stages_switch_from_local_block/PROJECT"
