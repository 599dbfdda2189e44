"""ciswitch's GitLab API facade against the local GitLab API stand-in."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from gitlab_standin import GitLabStandin, encoded, running

from ciswitch.errors import CiswitchError
from ciswitch.gitlab_api import (
    NEEDS_ADMIN,
    GitLabAPIError,
    GitLabClient,
    MergeRequestSpec,
    NotChecked,
    VariableInfo,
    from_environment,
)

TOKEN = "glpat-facadeUSERtoken0042"
ADMIN = "glpat-facadeADMINtoken042"


@pytest.fixture
def api() -> Iterator[GitLabStandin]:
    with running({TOKEN: False, ADMIN: True}) as server:
        yield server


def connect(api: GitLabStandin, token: str = TOKEN, **options: int) -> GitLabClient:
    return from_environment(api.url, {"GITLAB_TOKEN": token}, **options)


def one_line_without_token(err: BaseException, *tokens: str) -> str:
    text = str(err)
    assert "\n" not in text
    for token in (TOKEN, ADMIN, *tokens):
        assert token not in text
    return text


# ---------------------------------------------------------------------- construction


def test_needs_url_and_token_from_the_environment(api: GitLabStandin) -> None:
    with pytest.raises(CiswitchError, match="--gitlab-url"):
        from_environment(None, {"GITLAB_TOKEN": TOKEN})
    with pytest.raises(CiswitchError, match="GITLAB_TOKEN is not set") as err:
        from_environment(api.url, {"GITLAB_TOKEN": "  "})
    one_line_without_token(err.value)
    assert api.requests == []


@pytest.mark.parametrize("url", [
    "https://oauth2:S3cr3tPass@gitlab.example:443",
    "https://oauth2:S3cr3tPass@gitlab.example:notaport/",
    "ftp://gitlab.example",
])
def test_bad_urls_are_one_line_errors_without_credentials(url: str) -> None:
    with pytest.raises(CiswitchError) as err:
        from_environment(url, {"GITLAB_TOKEN": TOKEN})
    assert "S3cr3tPass" not in one_line_without_token(err.value)


def test_python_gitlab_is_not_imported_until_a_client_is_built(api: GitLabStandin) -> None:
    timing = subprocess.run([sys.executable, "-X", "importtime", "-c",
                             "import ciswitch.gitlab_api"],
                            capture_output=True, text=True, check=True)
    loaded = [line.rsplit("|", 1)[-1].strip() for line in timing.stderr.splitlines()
              if line.startswith("import time:")]
    assert "ciswitch.gitlab_api.client" in loaded  # the check sees the facade's own imports
    assert not [m for m in loaded if re.match(r"(gitlab|requests)(\.|$)", m)]
    built = subprocess.run(
        [sys.executable, "-c",
         "import sys, ciswitch.gitlab_api as g\n"
         "before = 'gitlab' in sys.modules\n"
         f"g.from_environment({api.url!r}, {{'GITLAB_TOKEN': 'x'}})\n"
         "print(before, 'gitlab' in sys.modules)"],
        capture_output=True, text=True, check=True)
    assert built.stdout.split() == ["False", "True"]


# ---------------------------------------------------------------------- errors and limits


def test_wrong_token_is_a_401_error_that_does_not_show_it(api: GitLabStandin) -> None:
    api.add_project("web/shop")
    wrong = "glpat-wrongWRONGwrong0001"
    with pytest.raises(GitLabAPIError) as err:
        connect(api, wrong).project("web/shop")
    assert err.value.status == 401
    assert "refused GITLAB_TOKEN (HTTP 401)" in one_line_without_token(err.value, wrong)
    assert api.requests[-1].token == wrong  # it was sent, in a header


def test_unknown_project_is_a_404_error(api: GitLabStandin) -> None:
    with pytest.raises(GitLabAPIError) as err:
        connect(api).project("web/none")
    assert err.value.status == 404
    assert one_line_without_token(err.value).endswith(
        "could not find project web/none: HTTP 404: 404 Project Not Found")


def test_rate_limit_is_obeyed_then_bounded(api: GitLabStandin) -> None:
    project = api.add_project("web/shop")
    api.rate_limit(2, retry_after=0)
    assert connect(api, max_retries=2).project("web/shop").id == project["id"]
    assert [r.status for r in api.requests] == [429, 429, 200]
    api.rate_limit(3, retry_after=0)
    with pytest.raises(GitLabAPIError) as err:
        connect(api, max_retries=2).project("web/shop")
    assert err.value.status == 429
    assert "after 2 retries" in one_line_without_token(err.value)


def test_unreachable_gitlab_is_a_one_line_error() -> None:
    with running({TOKEN: False}) as gone:
        url = gone.url
    with pytest.raises(GitLabAPIError) as err:
        from_environment(url, {"GITLAB_TOKEN": TOKEN}, max_retries=0).project("web/shop")
    assert "cannot reach GitLab's API" in one_line_without_token(err.value)


# ---------------------------------------------------------------------- projects and groups


def test_project_and_its_group_chain(api: GitLabStandin) -> None:
    stored = api.add_project("web/team/shop")
    gl = connect(api)
    project = gl.project("web/team/shop")
    assert (project.id, project.path, project.default_branch) == (stored["id"], "web/team/shop",
                                                                 "main")
    assert [g.path for g in gl.group_chain(project)] == ["web/team", "web"]
    assert gl.project(str(stored["id"])).path == "web/team/shop"


# ---------------------------------------------------------------------- merge requests

SPEC = MergeRequestSpec(
    source_branch="ciswitch/remote-stages", target_branch="main",
    title="Move werf stages to the registry",
    description="## Plan\n\n1. sync\n2. switch\n\n| step | done |\n| --- | --- |\n",
    labels=("ciswitch", "werf"), assignees=("alice",), reviewers=("bob", "carol"), draft=True,
)


def test_ensure_merge_request_creates_then_updates(api: GitLabStandin) -> None:
    stored = api.add_project("web/shop")
    alice, bob, carol = (api.add_user(n) for n in ("alice", "bob", "carol"))
    head = api.push(stored, SPEC.source_branch)
    gl = connect(api)
    project = gl.project("web/shop")
    info, created = gl.ensure_merge_request(project, SPEC)
    assert created and (info.iid, info.state, info.sha, info.draft) == (1, "opened", head, True)
    assert info.title == "Draft: Move werf stages to the registry"
    assert info.labels == ("ciswitch", "werf")
    assert info.url == f"{stored['web_url']}/-/merge_requests/1"
    post = next(r for r in api.requests if r.method == "POST")
    assert post.body["description"] == SPEC.description  # the full markdown, not folded
    assert (post.body["assignee_ids"], post.body["reviewer_ids"]) == (
        [alice["id"]], [bob["id"], carol["id"]])
    assert post.body["remove_source_branch"] is True

    ready = MergeRequestSpec(**{**SPEC.__dict__, "draft": False, "labels": ("ciswitch",)})
    again, created = gl.ensure_merge_request(project, ready)
    assert not created and (again.iid, again.draft, again.labels) == (1, False, ("ciswitch",))
    assert len(api.state.merge_requests[stored["id"]]) == 1
    assert api.calls("PUT") == [f"PUT /api/v4/projects/{stored['id']}/merge_requests/1"]
    found = gl.find_merge_request(project, SPEC.source_branch)
    assert found is not None and found.iid == 1
    assert gl.find_merge_request(project, "other") is None


def test_unknown_assignee_is_an_error_before_anything_changes(api: GitLabStandin) -> None:
    api.add_project("web/shop")
    gl = connect(api)
    with pytest.raises(CiswitchError, match="no user named 'alice'"):
        gl.ensure_merge_request(gl.project("web/shop"), SPEC)
    assert api.calls("POST") == []


def test_auto_merge_is_set_when_the_pipeline_runs(api: GitLabStandin) -> None:
    stored = api.add_project("web/shop")
    api.push(stored, "fix")
    pipeline = api.add_pipeline(stored, "fix", "running")
    gl = connect(api)
    project = gl.project("web/shop")
    info, _ = gl.ensure_merge_request(project, MergeRequestSpec(
        "fix", "main", "Fix", auto_merge=True))
    assert (info.state, info.auto_merge) == ("opened", True)
    merge = api.requests[-1]
    assert merge.path.endswith("/merge") and merge.body == {
        "sha": pipeline["sha"], "merge_when_pipeline_succeeds": True}
    api.finish_pipeline(pipeline, "success")
    assert gl.merge_request(project, info.iid).state == "merged"


def _open(api: GitLabStandin, status: str) -> tuple[GitLabClient, dict[str, object], str]:
    stored = api.add_project("web/shop")
    api.push(stored, "fix")
    gl = connect(api)
    gl.ensure_merge_request(gl.project("web/shop"), MergeRequestSpec("fix", "main", "Fix"))
    pipeline = api.add_pipeline(stored, "fix", status)
    return gl, stored, str(pipeline["sha"])


def test_merge_with_the_pipeline_sha_merges(api: GitLabStandin) -> None:
    gl, _, sha = _open(api, "success")
    project = gl.project("web/shop")
    latest = gl.latest_pipeline(project, 1)
    assert latest is not None and (latest.status, latest.sha) == ("success", sha)
    assert gl.pipeline(project, latest.id) == latest
    outcome = gl.merge(project, 1, sha)
    assert outcome.merged and outcome.merge_request is not None
    assert outcome.merge_request.state == "merged"


@pytest.mark.parametrize(("status", "conflicts", "moved", "reason"), [
    ("success", False, True, "sha moved"),
    ("failed", False, False, "not mergeable"),
    ("success", True, False, "conflicts"),
])
def test_merge_refusals_are_outcomes(api: GitLabStandin, status: str, conflicts: bool,
                                     moved: bool, reason: str) -> None:
    gl, stored, sha = _open(api, status)
    api.state.merge_requests[int(str(stored["id"]))][0]["has_conflicts"] = conflicts
    if moved:
        api.push(stored, "fix")
        api.add_pipeline(stored, "fix", "success")
    project = gl.project("web/shop")
    outcome = gl.merge(project, 1, sha)
    assert (outcome.status, outcome.reason) == ("refused", reason)
    assert gl.merge_request(project, 1).state == "opened"


def test_merge_request_with_head_pipeline_and_approvals(api: GitLabStandin) -> None:
    gl, stored, sha = _open(api, "success")
    api.add_user("dave")
    api.approve(stored, 1, "dave")
    info = gl.merge_request(gl.project("web/shop"), 1, with_approvals=True)
    assert info.head_pipeline is not None and info.head_pipeline.sha == sha
    assert info.merge_status == "mergeable" and not info.has_conflicts
    assert info.approvals is not None and info.approvals.approved_by == ("dave",)


# ---------------------------------------------------------------------- CI/CD variables


def _settings(api: GitLabStandin) -> dict[str, object]:
    stored = api.add_project("web/team/shop")
    team, web = api.find_group("web/team"), api.find_group("web")
    api.add_variable(stored, "WERF_STAGES_STORAGE", ":local", environment_scope="production")
    for number in range(5):
        api.add_variable(stored, f"OTHER_{number}", "x")
    api.add_variable(team, "WERF_SYNCHRONIZATION", ":local", masked=True, protected=True)
    api.add_variable(web, "WERF_STAGES_STORAGE", ":local")
    api.add_variable(None, "WERF_STAGES_STORAGE", ":local")
    api.add_schedule(stored, "cleanup", "main", {"WERF_STAGES_STORAGE": ":local"})
    return stored


def test_survey_reads_every_level_and_pages(api: GitLabStandin) -> None:
    stored = _settings(api)
    schedule_id = api.state.schedules[int(str(stored["id"]))][0]["id"]
    gl = connect(api, per_page=2)
    survey = gl.survey_variables(gl.project("web/team/shop"))
    places = [v.place for v in survey.variables if v.key.startswith("WERF_")]
    assert places == [
        "project web/team/shop variable WERF_STAGES_STORAGE (environment scope production)",
        "group web/team/ variable WERF_SYNCHRONIZATION (environment scope *)",
        "group web/ variable WERF_STAGES_STORAGE (environment scope *)",
        f"project web/team/shop schedule {schedule_id} (cleanup) variable WERF_STAGES_STORAGE",
    ]
    assert len([v for v in survey.variables if v.level == "project"]) == 6  # over 3 pages
    masked = next(v for v in survey.variables if v.key == "WERF_SYNCHRONIZATION")
    assert (masked.value, masked.masked, masked.protected) == (None, True, True)
    assert survey.not_checked == (NotChecked("instance", NEEDS_ADMIN),)
    admin = connect(api, ADMIN).survey_variables(gl.project("web/team/shop"))
    assert admin.not_checked == ()
    assert [v.level for v in admin.variables if v.level == "instance"] == ["instance"]


def test_schedules_carry_their_variables(api: GitLabStandin) -> None:
    stored = _settings(api)
    gl = connect(api)
    [schedule] = gl.schedules(gl.project("web/team/shop"))
    assert (schedule.description, schedule.ref) == ("cleanup", "main")
    [variable] = schedule.variables
    assert (variable.level, variable.value, variable.schedule_id) == (
        "schedule", ":local", schedule.id)
    assert api.calls("GET")[-1] == (
        f"GET /api/v4/projects/{stored['id']}/pipeline_schedules/{schedule.id}")


def test_update_and_delete_return_the_old_value(api: GitLabStandin) -> None:
    stored = _settings(api)
    gl = connect(api)
    survey = gl.survey_variables(gl.project("web/team/shop"))

    def find(level: str, key: str) -> VariableInfo:
        return next(v for v in survey.variables if v.level == level and v.key == key)

    scoped = find("project", "WERF_STAGES_STORAGE")
    change = gl.update_variable(scoped, "registry.example/shop/stages")
    assert (change.old_value, change.new_value) == (":local", "registry.example/shop/stages")
    put = api.requests[-1]
    assert put.method == "PUT" and put.query == {"filter[environment_scope]": "production"}
    assert api.state.project_variables[int(str(stored["id"]))][0]["value"] == (
        "registry.example/shop/stages")

    masked = find("group", "WERF_SYNCHRONIZATION")
    removed = gl.delete_variable(masked)
    assert (removed.old_value, removed.new_value) == (":local", None)
    assert ":local" not in str(removed) and ":local" not in repr(removed)
    assert api.requests[-1].method == "DELETE" and api.requests[-1].status == 204

    scheduled = find("schedule", "WERF_STAGES_STORAGE")
    assert gl.update_variable(scheduled, "x").old_value == ":local"
    assert gl.delete_variable(scheduled).old_value == "x"
    assert gl.schedules(gl.project("web/team/shop"))[0].variables == ()
    with pytest.raises(GitLabAPIError) as err:
        gl.delete_variable(scheduled)
    assert err.value.status == 404
    one_line_without_token(err.value)


def test_instance_variable_changes_need_admin(api: GitLabStandin) -> None:
    _settings(api)
    variable = VariableInfo("instance", "", "WERF_STAGES_STORAGE", None)
    with pytest.raises(GitLabAPIError) as err:
        connect(api).delete_variable(variable)
    assert err.value.status == 403
    change = connect(api, ADMIN).delete_variable(variable)
    assert change.old_value == ":local" and api.state.instance_variables == []


def test_survey_requests_in_order(api: GitLabStandin) -> None:
    stored = _settings(api)
    gl = connect(api)
    gl.survey_variables(gl.project("web/team/shop"))
    team, web = api.find_group("web/team"), api.find_group("web")
    assert team is not None and web is not None
    pid = stored["id"]
    assert [c.split("?")[0] for c in api.calls()] == [
        f"GET /api/v4/projects/{encoded('web/team/shop')}",
        f"GET /api/v4/projects/{pid}/variables",
        f"GET /api/v4/groups/{team['id']}",
        f"GET /api/v4/groups/{web['id']}",
        f"GET /api/v4/groups/{team['id']}/variables",
        f"GET /api/v4/groups/{web['id']}/variables",
        "GET /api/v4/admin/ci/variables",
        f"GET /api/v4/projects/{pid}/pipeline_schedules",
        f"GET /api/v4/projects/{pid}/pipeline_schedules/"
        f"{api.state.schedules[int(str(pid))][0]['id']}",
    ]
    assert {r.auth_header for r in api.requests} == {"PRIVATE-TOKEN"}
