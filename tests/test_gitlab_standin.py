"""The GitLab API stand-in, checked with an independent client: python-gitlab itself."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import gitlab
import gitlab.exceptions
import pytest
import requests
from gitlab_standin import GitLabStandin, encoded, running

USER = "glpat-standinUSERtoken0001"
ADMIN = "glpat-standinADMINtoken001"


@pytest.fixture
def api() -> Iterator[GitLabStandin]:
    with running({USER: False, ADMIN: True}) as server:
        yield server


def client(api: GitLabStandin, token: str = USER, **options: Any) -> Any:
    return gitlab.Gitlab(api.url, private_token=token, **options)


def test_pagination_over_several_pages_follows_the_link_headers(api: GitLabStandin) -> None:
    project = api.add_project("web/shop")
    for number in range(47):
        api.add_variable(project, f"VAR_{number:02d}", str(number))
    found = client(api).projects.get(project["id"]).variables.list(get_all=True, per_page=10)
    assert [v.key for v in found] == [f"VAR_{n:02d}" for n in range(47)]
    pages = [r.query.get("page", "1") for r in api.requests if r.path.endswith("/variables")]
    assert pages == ["1", "2", "3", "4", "5"]


def test_pagination_headers_match_the_documented_ones(api: GitLabStandin) -> None:
    project = api.add_project("web/shop")
    for number in range(5):
        api.add_variable(project, f"V{number}", "x")
    answer = requests.get(f"{api.url}/api/v4/projects/{project['id']}/variables",
                          params={"per_page": 2, "page": 2}, headers={"PRIVATE-TOKEN": USER},
                          timeout=5)
    assert answer.status_code == 200
    assert [v["key"] for v in answer.json()] == ["V2", "V3"]
    headers = answer.headers
    assert (headers["X-Page"], headers["X-Per-Page"], headers["X-Total"],
            headers["X-Total-Pages"], headers["X-Next-Page"], headers["X-Prev-Page"]) == (
        "2", "2", "5", "3", "3", "1")
    assert answer.links["next"]["url"].endswith("page=3")
    assert answer.links["last"]["url"].endswith("page=3")
    last = requests.get(answer.links["last"]["url"], headers={"PRIVATE-TOKEN": USER}, timeout=5)
    assert last.headers["X-Next-Page"] == "" and "next" not in last.links


def test_iterator_lists_lazily_page_by_page(api: GitLabStandin) -> None:
    group = api.add_group("fleet")
    for number in range(7):
        api.add_project(f"fleet/sub{number % 2}/p{number}")
    listed = client(api).groups.get("fleet").projects.list(
        iterator=True, include_subgroups=True, per_page=3)
    assert listed.total == 7 and listed.total_pages == 3
    assert sorted(p.path for p in listed) == [f"p{n}" for n in range(7)]
    direct = client(api).groups.get(group["id"]).projects.list(get_all=True)
    assert direct == []  # without include_subgroups only the group's own projects


def test_bearer_token_is_accepted_and_recorded(api: GitLabStandin) -> None:
    api.add_project("web/shop")
    gl = gitlab.Gitlab(api.url, oauth_token=USER)
    assert gl.projects.get("web/shop").path == "shop"
    assert (api.requests[-1].auth_header, api.requests[-1].token) == ("Authorization", USER)


@pytest.mark.parametrize("token", ["glpat-wrongTOKEN00000000", None])
def test_missing_or_wrong_token_is_401(api: GitLabStandin, token: str | None) -> None:
    api.add_project("web/shop")
    with pytest.raises(gitlab.exceptions.GitlabAuthenticationError) as err:
        gitlab.Gitlab(api.url, private_token=token).projects.get("web/shop")
    assert err.value.response_code == 401
    assert err.value.error_message == "401 Unauthorized"


def test_unknown_project_group_and_merge_request_are_404(api: GitLabStandin) -> None:
    project = api.add_project("web/shop")
    gl = client(api)
    for call, message in (
        (lambda: gl.projects.get("web/none"), "404 Project Not Found"),
        (lambda: gl.groups.get("nobody"), "404 Group Not Found"),
        (lambda: gl.projects.get(project["id"], lazy=True).mergerequests.get(9),
         "404 Merge Request Not Found"),
    ):
        with pytest.raises(gitlab.exceptions.GitlabGetError) as err:
            call()
        assert (err.value.response_code, err.value.error_message) == (404, message)


def test_project_by_encoded_path_and_group_parent_chain(api: GitLabStandin) -> None:
    project = api.add_project("web/team/shop")
    gl = client(api)
    assert gl.projects.get("web/team/shop").id == project["id"]
    assert api.requests[-1].path == f"/api/v4/projects/{encoded('web/team/shop')}"
    team = gl.groups.get(project["namespace"]["id"])
    top = gl.groups.get(team.parent_id)
    assert (team.full_path, top.full_path, top.parent_id) == ("web/team", "web", None)


def test_instance_variables_need_an_admin_token(api: GitLabStandin) -> None:
    api.add_variable(None, "WERF_STAGES_STORAGE", ":local")
    with pytest.raises(gitlab.exceptions.GitlabListError) as err:
        client(api).variables.list(get_all=True)
    assert (err.value.response_code, err.value.error_message) == (403, "403 Forbidden")
    found = client(api, ADMIN).variables.list(get_all=True)
    assert [(v.key, v.value) for v in found] == [("WERF_STAGES_STORAGE", ":local")]
    assert "environment_scope" not in found[0].attributes


def test_429_with_retry_after_then_success(api: GitLabStandin) -> None:
    api.add_project("web/shop")
    api.rate_limit(2, retry_after=1)
    started = time.monotonic()
    assert client(api).projects.get("web/shop").path == "shop"
    waited = time.monotonic() - started
    statuses = [r.status for r in api.requests]
    assert statuses == [429, 429, 200]
    assert waited >= 2  # python-gitlab slept Retry-After (1 s) twice


def test_429_is_an_error_when_the_client_does_not_obey(api: GitLabStandin) -> None:
    project = api.add_project("web/shop")
    api.rate_limit(1, retry_after=0)
    with pytest.raises(gitlab.exceptions.GitlabGetError) as err:
        client(api).projects.get("web/shop", obey_rate_limit=False)
    assert err.value.response_code == 429
    answer = requests.get(f"{api.url}/api/v4/projects/{project['id']}",
                          headers={"PRIVATE-TOKEN": USER}, timeout=5)
    assert answer.status_code == 200  # the hook answered only the next request


def test_merge_request_create_update_get(api: GitLabStandin) -> None:
    project = api.add_project("web/shop")
    alice, bob = api.add_user("alice"), api.add_user("bob")
    head = api.push(project, "ciswitch/remote-stages")
    gl_project = client(api).projects.get(project["id"])
    mr = gl_project.mergerequests.create({
        "source_branch": "ciswitch/remote-stages", "target_branch": "main",
        "title": "Draft: Move werf stages to the registry", "description": "# Plan\n\n- one",
        "labels": ["ciswitch", "werf"], "assignee_ids": [alice["id"]],
        "reviewer_ids": [bob["id"]], "remove_source_branch": True,
    })
    assert (mr.iid, mr.state, mr.draft, mr.sha) == (1, "opened", True, head)
    assert mr.labels == ["ciswitch", "werf"] and mr.force_remove_source_branch is True
    assert [u["username"] for u in mr.assignees] == ["alice"]
    assert [u["username"] for u in mr.reviewers] == ["bob"]
    assert mr.web_url == f"{project['web_url']}/-/merge_requests/1"
    assert mr.detailed_merge_status == "draft_status"

    mr.title = "Move werf stages to the registry"
    mr.save()
    again = gl_project.mergerequests.get(1)
    assert (again.draft, again.description, again.head_pipeline) == (False, "# Plan\n\n- one",
                                                                     None)
    listed = gl_project.mergerequests.list(source_branch="ciswitch/remote-stages",
                                           state="opened", get_all=True)
    assert [m.iid for m in listed] == [1]
    assert gl_project.mergerequests.list(state="merged", get_all=True) == []

    with pytest.raises(gitlab.exceptions.GitlabCreateError) as err:
        gl_project.mergerequests.create({"source_branch": "ciswitch/remote-stages",
                                         "target_branch": "main", "title": "again"})
    assert err.value.response_code == 409
    answer = requests.post(f"{api.url}/api/v4/projects/{project['id']}/merge_requests",
                           json={"source_branch": "x", "target_branch": "main"},
                           headers={"PRIVATE-TOKEN": USER}, timeout=5)
    assert (answer.status_code, answer.json()) == (400, {"error": "title is missing"})


def _ready_mr(api: GitLabStandin, status: str = "success") -> tuple[Any, Any, dict[str, Any]]:
    project = api.add_project("web/shop")
    api.push(project, "fix")
    gl_project = client(api).projects.get(project["id"])
    mr = gl_project.mergerequests.create({"source_branch": "fix", "target_branch": "main",
                                          "title": "fix"})
    pipeline = api.add_pipeline(project, "fix", status)
    return gl_project, gl_project.mergerequests.get(mr.iid), pipeline


def test_merge_with_the_right_sha_merges(api: GitLabStandin) -> None:
    gl_project, mr, pipeline = _ready_mr(api)
    assert mr.head_pipeline["id"] == pipeline["id"]
    assert mr.head_pipeline["status"] == "success" and mr.detailed_merge_status == "mergeable"
    mr.merge(sha=pipeline["sha"])
    assert mr.state == "merged" and mr.merge_commit_sha
    assert gl_project.mergerequests.get(mr.iid).state == "merged"
    with pytest.raises(gitlab.exceptions.GitlabMRClosedError) as err:
        mr.merge()
    assert err.value.response_code == 405


def test_merge_with_a_moved_sha_is_409_and_changes_nothing(api: GitLabStandin) -> None:
    gl_project, mr, pipeline = _ready_mr(api)
    api.push(api.state.projects[gl_project.id], "fix")  # someone pushed after the pipeline
    api.add_pipeline(api.state.projects[gl_project.id], "fix", "success")
    with pytest.raises(gitlab.exceptions.GitlabMRClosedError) as err:
        mr.merge(sha=pipeline["sha"])
    assert err.value.response_code == 409
    assert "SHA does not match HEAD of source branch" in err.value.error_message
    assert gl_project.mergerequests.get(mr.iid).state == "opened"


@pytest.mark.parametrize(("status", "draft", "conflicts", "code"), [
    ("failed", False, False, 405), ("running", False, False, 405),
    ("success", True, False, 405), ("success", False, True, 406),
])
def test_merge_refusals_use_the_documented_codes(api: GitLabStandin, status: str, draft: bool,
                                                  conflicts: bool, code: int) -> None:
    gl_project, mr, pipeline = _ready_mr(api, status)
    stored = api.state.merge_requests[gl_project.id][0]
    stored["has_conflicts"] = conflicts
    if draft:
        mr.title = "Draft: fix"
        mr.save()
    with pytest.raises(gitlab.exceptions.GitlabMRClosedError) as err:
        mr.merge(sha=pipeline["sha"])
    assert err.value.response_code == code
    assert gl_project.mergerequests.get(mr.iid).state == "opened"


def test_merge_when_pipeline_succeeds_waits_for_the_pipeline(api: GitLabStandin) -> None:
    gl_project, mr, pipeline = _ready_mr(api, "running")
    mr.merge(merge_when_pipeline_succeeds=True, sha=pipeline["sha"])
    assert (mr.state, mr.merge_when_pipeline_succeeds) == ("opened", True)
    api.finish_pipeline(pipeline, "success")
    assert gl_project.mergerequests.get(mr.iid).state == "merged"


def test_merge_request_pipelines_and_approvals(api: GitLabStandin) -> None:
    gl_project, mr, first = _ready_mr(api, "failed")
    second = api.add_pipeline(api.state.projects[gl_project.id], "fix", "success")
    api.add_user("carol")
    api.approve(api.state.projects[gl_project.id], mr.iid, "carol")
    pipelines = mr.pipelines.list(get_all=True)
    assert [p.id for p in pipelines] == [second["id"], first["id"]]
    full = gl_project.pipelines.get(second["id"])
    assert (full.status, full.sha) == ("success", second["sha"])
    approvals = mr.approvals.get()
    assert approvals.approved is True
    assert [a["user"]["username"] for a in approvals.approved_by] == ["carol"]


def test_project_and_group_variables_crud_with_environment_scope(api: GitLabStandin) -> None:
    project = api.add_project("web/shop")
    group = api.find_group("web")
    assert group is not None
    gl = client(api)
    variables = gl.projects.get(project["id"]).variables
    variables.create({"key": "WERF_STAGES_STORAGE", "value": ":local",
                      "environment_scope": "production", "protected": True})
    variables.create({"key": "WERF_STAGES_STORAGE", "value": ":local"})
    with pytest.raises(gitlab.exceptions.GitlabCreateError) as err:
        variables.create({"key": "WERF_STAGES_STORAGE", "value": "x"})
    assert err.value.response_code == 400
    with pytest.raises(gitlab.exceptions.GitlabGetError) as err:
        variables.get("WERF_STAGES_STORAGE")
    assert err.value.response_code == 409
    scoped = variables.get("WERF_STAGES_STORAGE",
                           **{"filter[environment_scope]": "production"})
    assert (scoped.environment_scope, scoped.protected) == ("production", True)
    variables.update("WERF_STAGES_STORAGE", {"value": "registry/stages"},
                     **{"filter[environment_scope]": "production"})
    variables.delete("WERF_STAGES_STORAGE", **{"filter[environment_scope]": "*"})
    left = variables.list(get_all=True)
    assert [(v.environment_scope, v.value) for v in left] == [("production", "registry/stages")]
    assert api.requests[-2].method == "DELETE" and api.requests[-2].status == 204

    group_vars = gl.groups.get("web").variables
    group_vars.create({"key": "WERF_SYNCHRONIZATION", "value": ":local", "masked": True})
    assert group_vars.get("WERF_SYNCHRONIZATION").masked is True
    with pytest.raises(gitlab.exceptions.GitlabGetError) as err:
        group_vars.get("NOPE")
    assert (err.value.response_code, err.value.error_message) == (404, "404 Variable Not Found")


def test_pipeline_schedules_and_their_variables(api: GitLabStandin) -> None:
    project = api.add_project("web/shop")
    schedule = api.add_schedule(project, "cleanup", "main",
                                {"WERF_STAGES_STORAGE": ":local", "OTHER": "1"})
    schedules = client(api).projects.get(project["id"]).pipelineschedules
    listed = schedules.list(get_all=True)
    assert [s.description for s in listed] == ["cleanup"]
    assert "variables" not in listed[0].attributes
    one = schedules.get(schedule["id"])
    assert [v["key"] for v in one.attributes["variables"]] == ["WERF_STAGES_STORAGE", "OTHER"]
    manager = one.variables  # the manager; the listed values are in ``attributes``
    manager.update("WERF_STAGES_STORAGE", {"value": "registry/stages"})
    manager.delete("OTHER")
    assert schedules.get(schedule["id"]).attributes["variables"] == [
        {"key": "WERF_STAGES_STORAGE", "variable_type": "env_var", "value": "registry/stages",
         "raw": False}]
    with pytest.raises(gitlab.exceptions.GitlabDeleteError) as err:
        manager.delete("OTHER")
    assert err.value.response_code == 404


def test_every_request_is_recorded_in_order(api: GitLabStandin) -> None:
    project = api.add_project("web/shop")
    gl = client(api)
    gl.projects.get("web/shop")
    gl.projects.get(project["id"]).variables.create({"key": "A", "value": "1"})
    assert api.calls() == [
        f"GET /api/v4/projects/{encoded('web/shop')}",
        f"GET /api/v4/projects/{project['id']}",
        f"POST /api/v4/projects/{project['id']}/variables",
    ]
    assert api.requests[-1].body == {"key": "A", "value": "1"}
    assert {r.token for r in api.requests} == {USER}
