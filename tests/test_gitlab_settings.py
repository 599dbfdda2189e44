"""``lint --gitlab-url``: the CI/CD variables GitLab keeps outside the repository.

Each case is a real repository (real git, real YAML) linted by the installed CLI as a
subprocess against the GitLab API stand-in on 127.0.0.1 (tests/gitlab_standin.py), which
answers the documented project, group, instance and pipeline schedule endpoints. The cases
cover every level (project, each parent group, instance with and without an administrator's
token, schedules), environment scopes (``*``, exact, wildcard, a name holding a variable),
protected and masked variables, pagination, and GitLab's precedence against the files'
``variables:`` (a settings value wins over every file value; CSW004 follows what is left).
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gitlab_standin import GitLabStandin, running
from gitrepos import git, isolate_git, make_project, run_ciswitch
from hypothesis import given
from hypothesis import strategies as st

from ciswitch.analysis.settings import scope_match

USER = "glpat-settings-user-token-1234"
ADMIN = "glpat-settings-admin-token-5678"
PROJECT = "web/team/shop"
STAGES = "WERF_STAGES_STORAGE"
SYNC = "WERF_SYNCHRONIZATION"
NOT_READ = ("CI/CD variables in GitLab's settings were not checked: pass --gitlab-url with "
            "GITLAB_TOKEN")

CI = """\
build:
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf build-and-publish
deploy-production:
  environment: production
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf deploy
deploy-staging:
  environment:
    name: staging
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf deploy
review:
  environment: review/$CI_COMMIT_REF_SLUG
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf deploy
cleanup:
  only: [schedules]
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf cleanup
mr-check:
  only: [merge_requests]
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf build
no-schedule:
  except: [schedules]
  script:
    - echo not in scheduled pipelines
"""
ALL_JOBS = ["build", "cleanup", "deploy-production", "deploy-staging", "mr-check",
            "no-schedule", "review"]


@pytest.fixture()
def api() -> Iterator[GitLabStandin]:
    with running({USER: False, ADMIN: True}) as server:
        yield server


@pytest.fixture()
def project(api: GitLabStandin) -> dict[str, Any]:
    return api.add_project(PROJECT)


def _repo(tmp_path: Path, ci: str = CI, remote: str | None = None) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir(parents=True)
    (repo / ".gitlab-ci.yml").write_text(ci, encoding="utf-8")
    git(repo, "init", "-q", "-b", "main")
    if remote is not None:
        git(repo, "remote", "add", "origin", remote)
    return repo


def _lint(repo: Path, api: GitLabStandin | None, *args: str, token: str | None = USER,
          project: str | None = PROJECT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GITLAB_TOKEN"}
    env["NO_COLOR"] = "1"
    if token is not None:
        env["GITLAB_TOKEN"] = token
    command = [sys.executable, "-m", "ciswitch", "lint", *args]
    if api is not None:
        command += ["--gitlab-url", api.url]
        if project is not None:
            command += ["--gitlab-project", project]
    done = subprocess.run(command, cwd=repo, capture_output=True, text=True, env=env,
                          check=False, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    for secret in (USER, ADMIN):
        assert secret not in done.stdout + done.stderr
    return done


def _report(repo: Path, api: GitLabStandin | None, *args: str, **options: Any
            ) -> dict[str, Any]:
    done = _lint(repo, api, "--format", "json", *args, **options)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def _settings(report: dict[str, Any]) -> dict[str, list[str]]:
    """CSW005 findings: their logical location and the jobs they reach."""
    return {f["location"]: f["jobs"] for f in report["findings"] if f["code"] == "CSW005"}


def _codes(report: dict[str, Any]) -> list[tuple[str, int | None]]:
    return [(f["code"], f["line"]) for f in report["findings"]]


# --------------------------------------------------------------------------------------------
# each level


def test_a_project_variable_reaches_every_job(tmp_path: Path, api: GitLabStandin,
                                              project: dict[str, Any]) -> None:
    api.add_variable(project, STAGES, ":local")
    repo = _repo(tmp_path)
    report = _report(repo, api)
    assert _settings(report) == {
        f"gitlab: project {PROJECT} variable {STAGES} (environment scope *)": ALL_JOBS}
    [finding] = report["findings"]
    assert finding["path"] is None and finding["line"] is None
    assert finding["setting"] == {"level": "project", "owner": PROJECT, "key": STAGES,
                                  "environment_scope": "*", "protected": False,
                                  "masked": False, "schedule_id": None}
    assert not finding["fixable"]
    text = _lint(repo, api, token=ADMIN)
    assert text.returncode == 1
    assert text.stdout.startswith(
        f"gitlab: project {PROJECT} variable {STAGES} (environment scope *): CSW005 "
        ":local stages storage in the project's variable, used by jobs build, cleanup, ")
    assert text.stdout.splitlines()[-1] == (
        "Found 1 finding (0 fixable) in 1 CI/CD variable of GitLab's settings.")


def test_each_parent_group_is_read_nearest_first(tmp_path: Path, api: GitLabStandin,
                                                 project: dict[str, Any]) -> None:
    team, web = api.find_group("web/team"), api.find_group("web")
    api.add_variable(web, STAGES, ":local")
    api.add_variable(team, SYNC, ":local")
    report = _report(_repo(tmp_path), api)
    assert _settings(report) == {
        f"gitlab: group web/ variable {STAGES} (environment scope *)": ALL_JOBS,
        f"gitlab: group web/team/ variable {SYNC} (environment scope *)": ALL_JOBS,
    }
    # the nearer group wins: an address in web/team hides web's :local from every job
    api.add_variable(team, STAGES, "registry.example.com/shop/stages")
    report = _report(_repo(tmp_path / "again"), api)
    assert _settings(report)[f"gitlab: group web/ variable {STAGES} (environment scope *)"] == []


def test_instance_variables_need_an_administrators_token(tmp_path: Path, api: GitLabStandin,
                                                         project: dict[str, Any]) -> None:
    api.add_variable(None, STAGES, ":local")
    repo = _repo(tmp_path)
    user = _report(repo, api)
    assert user["findings"] == []
    assert user["not_checked"] == [{
        "path": None, "line": None, "location": "gitlab", "kind": "gitlab-settings",
        "message": "the instance's CI/CD variables were not checked: the token is not an "
                   "administrator's (GitLab answers 403)"}]
    text = _lint(repo, api)
    assert text.returncode == 0  # not a finding; the summary says what was not read
    assert text.stdout.splitlines()[-1] == (
        "No findings in 1 file; 1 place not checked (1 place in GitLab's CI/CD settings): "
        "-v lists them.")
    admin = _report(repo, api, token=ADMIN)
    assert _settings(admin) == {f"gitlab: instance variable {STAGES}": ALL_JOBS}
    assert admin["not_checked"] == []


def test_schedule_variables_reach_the_jobs_of_scheduled_pipelines(
    tmp_path: Path, api: GitLabStandin, project: dict[str, Any]
) -> None:
    schedule = api.add_schedule(project, "nightly cleanup", "main", {STAGES: ":local"})
    report = _report(_repo(tmp_path), api)
    where = (f"gitlab: project {PROJECT} schedule {schedule['id']} (nightly cleanup) "
             f"variable {STAGES}")
    # not the job that only runs in merge request pipelines, nor the one excepting schedules
    assert _settings(report) == {
        where: ["build", "cleanup", "deploy-production", "deploy-staging", "review"]}
    [finding] = report["findings"]
    assert finding["setting"]["schedule_id"] == schedule["id"]
    assert "scheduled pipelines only" in finding["message"]


# --------------------------------------------------------------------------------------------
# environment scopes


@pytest.mark.parametrize(("scope", "jobs"), [
    ("*", ALL_JOBS),
    ("production", ["deploy-production"]),
    ("staging", ["deploy-staging"]),
    ("review/*", ["review"]),  # review/$CI_COMMIT_REF_SLUG may be any review/ name
    ("*-production", ["review"]),  # review/$CI_COMMIT_REF_SLUG may end in -production
    ("prod-*", []),
    ("prod*", ["deploy-production"]),
    ("review/main", ["review"]),
    ("qa", []),
])
def test_environment_scopes_reach_only_matching_jobs(
    tmp_path: Path, api: GitLabStandin, project: dict[str, Any], scope: str, jobs: list[str]
) -> None:
    api.add_variable(project, STAGES, ":local", environment_scope=scope)
    report = _report(_repo(tmp_path), api)
    assert _settings(report) == {
        f"gitlab: project {PROJECT} variable {STAGES} (environment scope {scope})": jobs}


def test_same_key_in_several_scopes(tmp_path: Path, api: GitLabStandin,
                                    project: dict[str, Any]) -> None:
    api.add_variable(project, STAGES, "registry.example.com/shop/stages")
    api.add_variable(project, STAGES, ":local", environment_scope="production")
    report = _report(_repo(tmp_path), api)
    assert _settings(report) == {
        f"gitlab: project {PROJECT} variable {STAGES} (environment scope production)":
            ["deploy-production"]}


@given(scope=st.text("ab*/-", max_size=6), name=st.text("ab/-", max_size=6))
def test_scope_matching_agrees_with_fnmatch(scope: str, name: str) -> None:
    """GitLab's ``*`` wildcard against names without variables; fnmatch is the oracle (the
    alphabet has none of its other special characters)."""
    expected = "yes" if fnmatch.fnmatchcase(name, scope) else "no"
    assert scope_match(scope, name) == (expected if scope != "*" else "yes")


def test_a_name_with_a_variable_may_match() -> None:
    assert scope_match("review/*", "review/$CI_COMMIT_REF_SLUG") == "maybe"
    assert scope_match("review/feature", "review/${CI_COMMIT_REF_SLUG}") == "maybe"
    assert scope_match("staging", "review/$CI_COMMIT_REF_SLUG") == "no"
    assert scope_match("production", None) == "no"


# --------------------------------------------------------------------------------------------
# precedence against the files' variables (and CSW004)

NO_CI_ENV = """\
variables:
  WERF_STAGES_STORAGE: ":local"
build:
  script:
    - werf build-and-publish
"""


def test_without_settings_a_files_local_with_no_ci_env_needs_an_address(tmp_path: Path) -> None:
    report = _report(_repo(tmp_path, NO_CI_ENV), None)
    assert _codes(report) == [("CSW002", 2), ("CSW004", 5)]
    assert not report["findings"][0]["fixable"]


def test_a_settings_address_wins_over_the_files_local(tmp_path: Path, api: GitLabStandin,
                                                      project: dict[str, Any]) -> None:
    api.add_variable(project, STAGES, "registry.example.com/shop/stages")
    report = _report(_repo(tmp_path, NO_CI_ENV), api)
    # the job runs with the project's address: removing the file's :local leaves it one
    assert _codes(report) == [("CSW002", 2)]
    assert report["findings"][0]["fixable"]


def test_a_protected_address_does_not_cover_other_branches(tmp_path: Path, api: GitLabStandin,
                                                          project: dict[str, Any]) -> None:
    api.add_variable(project, STAGES, "registry.example.com/shop/stages", protected=True)
    report = _report(_repo(tmp_path, NO_CI_ENV), api)
    assert _codes(report) == [("CSW002", 2), ("CSW004", 5)]


def test_a_masked_address_wins_and_is_never_printed(tmp_path: Path, api: GitLabStandin,
                                                    project: dict[str, Any]) -> None:
    secret = "registry.example.com/shop/stages-SeCrEt"
    api.add_variable(project, STAGES, secret, masked=True)
    repo = _repo(tmp_path, NO_CI_ENV)
    report = _report(repo, api)
    assert _codes(report) == [("CSW002", 2)]
    for fmt in ("text", "json", "gitlab", "sarif", "github"):
        done = _lint(repo, api, "--format", fmt, "-v")
        assert secret not in done.stdout + done.stderr, fmt


def test_a_settings_local_wins_over_the_files_address(tmp_path: Path, api: GitLabStandin,
                                                      project: dict[str, Any]) -> None:
    ci = """\
build:
  variables:
    WERF_STAGES_STORAGE: registry.example.com/shop/stages
  script:
    - werf build-and-publish
only-settings:
  script:
    - werf build-and-publish
"""
    assert _report(_repo(tmp_path / "before", ci), None)["findings"] == []
    api.add_variable(project, STAGES, ":local")
    report = _report(_repo(tmp_path, ci), api)
    # both jobs run with the project's :local; build keeps its own address without it, and
    # only-settings has none: it blocks the deletion, and its werf command needs an address
    assert _codes(report) == [("CSW004", 8), ("CSW005", None)]
    setting = report["findings"][1]
    assert setting["jobs"] == ["build", "only-settings"]
    assert "job only-settings would have no stages storage without it" in setting["message"]


def test_a_settings_local_alone_with_no_ci_env_leaves_no_storage(
    tmp_path: Path, api: GitLabStandin, project: dict[str, Any]
) -> None:
    api.add_variable(project, STAGES, ":local")
    ci = "build:\n  script:\n    - werf build-and-publish\n"
    report = _report(_repo(tmp_path, ci), api)
    assert _codes(report) == [("CSW004", 3), ("CSW005", None)]
    assert "job build would have no stages storage without it" in report["findings"][1][
        "message"]


def test_variables_passed_to_a_child_pipeline_win_over_the_settings(
    tmp_path: Path, api: GitLabStandin, project: dict[str, Any]
) -> None:
    repo = _repo(tmp_path, """\
trigger-child:
  variables:
    WERF_STAGES_STORAGE: registry.example.com/shop/stages
  trigger:
    include: child.yml
""")
    (repo / "child.yml").write_text("child-build:\n  script:\n    - werf build-and-publish\n")
    api.add_variable(project, STAGES, ":local")
    api.add_schedule(project, "nightly", "main", {SYNC: ":local"})
    report = _report(repo, api)
    # the child job takes the trigger's address; the schedule's variables are not passed down
    assert _codes(report) == [("CSW005", None), ("CSW005", None)]
    assert list(_settings(report).values()) == [[], []]


# --------------------------------------------------------------------------------------------
# reading: pagination, the project from the remote, errors, no token


def test_every_page_of_variables_is_read(tmp_path: Path, api: GitLabStandin,
                                         project: dict[str, Any]) -> None:
    for n in range(130):
        api.add_variable(project, f"OTHER_{n:03}", "x")
    api.add_variable(project, STAGES, ":local")
    report = _report(_repo(tmp_path), api)
    assert list(_settings(report)) == [
        f"gitlab: project {PROJECT} variable {STAGES} (environment scope *)"]
    pages = [r.query.get("page", "1") for r in api.requests
             if r.path == f"/api/v4/projects/{project['id']}/variables"]
    assert pages == ["1", "2"]


def test_the_project_comes_from_the_git_remote(tmp_path: Path, api: GitLabStandin,
                                               project: dict[str, Any]) -> None:
    api.add_variable(project, STAGES, ":local")
    repo = _repo(tmp_path, remote=f"{api.url}/{PROJECT}.git")
    report = _report(repo, api, project=None)
    assert len(_settings(report)) == 1
    other = _repo(tmp_path / "other", remote="git@gitlab.elsewhere.test:web/team/shop.git")
    done = _lint(other, api, project=None)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert "is not on" in done.stderr and "pass --gitlab-project PATH" in done.stderr


def test_usage_errors_are_one_line(tmp_path: Path, api: GitLabStandin,
                                   project: dict[str, Any]) -> None:
    repo = _repo(tmp_path)
    no_token = _lint(repo, api, token=None)
    assert no_token.returncode == 2 and len(no_token.stderr.splitlines()) == 1
    assert "GITLAB_TOKEN is not set" in no_token.stderr
    wrong = _lint(repo, api, token="glpat-not-known-000000")
    assert wrong.returncode == 2 and "refused GITLAB_TOKEN (HTTP 401)" in wrong.stderr
    assert "glpat-not-known-000000" not in wrong.stderr
    missing = _lint(repo, api, project="web/none")
    assert missing.returncode == 2 and "HTTP 404" in missing.stderr
    alone = _lint(repo, None, "--gitlab-project", PROJECT)
    assert alone.returncode == 2 and "--gitlab-project needs --gitlab-url" in alone.stderr
    bad = _lint(repo, None, "--gitlab-url", "ftp://x")
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1


def test_without_a_url_one_entry_says_the_settings_were_not_read(tmp_path: Path) -> None:
    first = _repo(tmp_path / "a")
    second = _repo(tmp_path / "b")
    done = _lint(tmp_path, None, "-v", str(first), str(second), token=USER)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(NOT_READ) == 1  # once per run, whatever the number of PATHs
    assert f"gitlab: {NOT_READ}" in done.stdout.splitlines()
    strict = _lint(first, None, "--strict")
    assert strict.returncode == 0  # --strict counts the repository's places only


def test_everything_read_and_clean_is_a_bare_summary(tmp_path: Path, api: GitLabStandin,
                                                     project: dict[str, Any]) -> None:
    api.add_variable(project, STAGES, "registry.example.com/shop/stages")
    done = _lint(_repo(tmp_path), api, token=ADMIN)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "No findings in 1 file.\n"


def test_every_format_names_the_logical_place(tmp_path: Path, api: GitLabStandin,
                                              project: dict[str, Any]) -> None:
    api.add_variable(project, STAGES, ":local", environment_scope="production",
                     protected=True)
    repo = _repo(tmp_path)
    where = f"gitlab: project {PROJECT} variable {STAGES} (environment scope production)"
    quality = json.loads(_lint(repo, api, "--format", "gitlab", token=ADMIN).stdout)
    assert [(e["check_name"], e["location"]) for e in quality] == [
        ("CSW005", {"path": where, "lines": {"begin": 1, "end": 1}})]
    assert "protected" in quality[0]["description"]
    github = _lint(repo, api, "--format", "github", token=ADMIN).stdout.splitlines()
    assert github == [f"::error title=CSW005::{where}: " + json.loads(
        _lint(repo, api, "--format", "json", token=ADMIN).stdout)["findings"][0]["message"]]
    sarif = json.loads(_lint(repo, api, "--format", "sarif", token=ADMIN).stdout)
    [result] = sarif["runs"][0]["results"]
    assert result["locations"] == [{"logicalLocations": [
        {"name": STAGES, "fullyQualifiedName": where, "kind": "variable"}]}]


# --------------------------------------------------------------------------------------------
# status


def _gitlab_project(tmp_path: Path, api: GitLabStandin, ci: str) -> Path:
    """A work repository whose origin is the stand-in's project URL (git itself talks to a
    bare repository through ``insteadOf``)."""
    work, bare = make_project(tmp_path, {".gitlab-ci.yml": ci})
    url = f"{api.url}/{PROJECT}.git"
    git(work, "remote", "set-url", "origin", url)
    git(work, "config", f"url.{bare.as_uri()}.insteadOf", url)
    return work


def test_status_names_the_settings_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        api: GitLabStandin, project: dict[str, Any]) -> None:
    isolate_git(monkeypatch, tmp_path)
    clean = ("build:\n  script:\n    - source $(werf ci-env gitlab --as-file)\n"
             "    - werf build-and-publish\n")
    work = _gitlab_project(tmp_path, api, clean)
    api.add_variable(api.find_group("web/team"), STAGES, ":local")

    def status(**env: str) -> dict[str, Any]:
        done = run_ciswitch("status", "--format", "json", "--no-branches", cwd=work,
                            env={"GITLAB_TOKEN": "", **env})
        assert done.returncode == 0, done.stderr
        assert USER not in done.stdout + done.stderr
        data: dict[str, Any] = json.loads(done.stdout)
        return data

    without = status()
    assert without["phase"] == "no-local"  # the files hold no :local; GitLab was not asked
    assert without["gitlab_settings"] == {
        "local": None, "note": "GITLAB_TOKEN is not set, so GitLab's CI/CD variables were "
                               "not read"}
    found = status(GITLAB_TOKEN=USER)
    assert found["phase"] == "local"
    assert found["gitlab_settings"]["local"] == [
        f"gitlab: group web/team/ variable {STAGES} (environment scope *) (build)"]
    assert found["next_step"].startswith("delete the :local CI/CD variables GitLab keeps")
    assert "instance's CI/CD variables were not checked" in found["gitlab_settings"]["note"]
    text = run_ciswitch("status", "--no-branches", cwd=work, env={"GITLAB_TOKEN": USER})
    assert (f"  gitlab settings: 1 CI/CD variable still set :local (first: gitlab: group "
            f"web/team/ variable {STAGES} (environment scope *) (build))") in text.stdout
    api.state.group_variables[api.find_group("web/team")["id"]].clear()
    assert status(GITLAB_TOKEN=USER)["phase"] == "no-local"


# --------------------------------------------------------------------------------------------
# fleet survey


def test_the_survey_counts_a_local_of_the_settings_as_a_place_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: GitLabStandin,
    project: dict[str, Any]
) -> None:
    environ = isolate_git(monkeypatch, tmp_path)
    clean = ("build:\n  script:\n    - source $(werf ci-env gitlab --as-file)\n"
             "    - werf build-and-publish\n")
    other = api.add_project("web/other")
    listing = tmp_path / "repos.txt"
    lines = []
    for path, name in ((PROJECT, "shop"), ("web/other", "other")):
        _work, bare = make_project(tmp_path, {".gitlab-ci.yml": clean}, name=name)
        url = f"{api.url}/{path}.git"
        git(tmp_path, "config", "--global", f"url.{bare.as_uri()}.insteadOf", url,
            env=environ)
        lines.append(url)
    listing.write_text("\n".join(lines) + "\n")
    api.add_variable(project, STAGES, ":local", masked=False)
    api.add_variable(other, STAGES, ":local", environment_scope="production")  # no such job

    def survey(*args: str, token: str = ADMIN) -> subprocess.CompletedProcess[str]:
        return run_ciswitch("fleet", "survey", "--repos", str(listing), "--gitlab-url", api.url,
                            "--workdir", str(tmp_path / "w"), *args, cwd=tmp_path,
                            env={"GITLAB_TOKEN": token})

    done = survey("--format", "json")
    assert done.returncode == 0, done.stderr
    assert ADMIN not in done.stdout + done.stderr
    data = json.loads(done.stdout)
    rows = {r["url"].rsplit("/", 1)[-1]: r for r in data["branches"]}
    assert (rows["shop.git"]["findings"], rows["shop.git"]["settings"]) == (1, 1)
    # a :local no job of the project reaches is not a place left of this project
    assert (rows["other.git"]["findings"], rows["other.git"]["settings"]) == (0, 0)
    assert data["summary"]["default_branches_without_local"] == 1
    text = survey()
    assert "1 in GitLab's CI/CD settings" in text.stdout
    assert "were not checked" not in text.stdout
    skipped = survey("--no-gitlab-settings", "--format", "json")
    rows = {r["url"].rsplit("/", 1)[-1]: r for r in json.loads(skipped.stdout)["branches"]}
    assert (rows["shop.git"]["findings"], rows["shop.git"]["settings"]) == (0, None)
    assert survey("--no-gitlab-settings").stdout.rstrip().endswith(
        "CI/CD variables in GitLab's settings were not checked: pass --gitlab-url with "
        "GITLAB_TOKEN")
