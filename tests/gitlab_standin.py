"""A small stand-in for GitLab's REST API v4, served on 127.0.0.1 for the tests.

GitLab itself cannot run in the test environment, so this server implements the documented
endpoints ciswitch calls, with GitLab's documented JSON shapes and status codes, state in
memory, and a record of every request in order. It is data-driven: the routes are one table of
``(method, pattern, handler)`` and each handler's docstring names the documented behaviour it
follows. Nothing here is GitLab's code; it is written from the public API reference.

Documented behaviour followed throughout:

- Authentication (REST API, "Authentication"): ``PRIVATE-TOKEN: <token>`` or
  ``Authorization: Bearer <token>``; a missing or wrong token answers
  ``401 {"message": "401 Unauthorized"}``.
- Namespaced paths (REST API, "Namespaced paths"): ``:id`` is a numeric id or the URL-encoded
  full path (``group%2Fsub%2Fproject``).
- Offset pagination (REST API, "Pagination"): ``page`` (default 1) and ``per_page`` (default 20,
  at most 100); headers ``X-Page``, ``X-Per-Page``, ``X-Total``, ``X-Total-Pages``,
  ``X-Next-Page``, ``X-Prev-Page`` (empty when none) and ``Link`` with ``rel`` next/prev/first/
  last.
- Rate limits ("User and IP rate limits", response headers): ``429`` with ``Retry-After`` in
  seconds and ``RateLimit-*`` headers; the body is plain text ``Retry later``.
- Errors: a missing resource is ``404 {"message": "404 <Thing> Not Found"}``, a missing
  required parameter ``400 {"error": "<name> is missing"}`` (Grape's validation message).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

JSON = dict[str, Any]
Reply = tuple[int, Any]

MERGED_COMMIT_PREFIX = "c0ffee"
DRAFT_PREFIXES = ("draft:", "[draft]", "(draft)", "draft -")


class ApiError(Exception):
    """A documented error answer: status and JSON body."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def not_found(thing: str) -> ApiError:
    return ApiError(404, {"message": f"404 {thing} Not Found"})


def missing(name: str) -> ApiError:
    return ApiError(400, {"error": f"{name} is missing"})


@dataclass(frozen=True)
class Request:
    """One request as the server saw it; ``token`` is the token value whichever header sent it."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    token: str | None
    auth_header: str | None
    status: int = 0


@dataclass
class State:
    """Everything the fake GitLab knows, in GitLab's own JSON shapes."""

    host: str = ""
    users: list[JSON] = field(default_factory=list)
    groups: dict[int, JSON] = field(default_factory=dict)
    projects: dict[int, JSON] = field(default_factory=dict)
    branches: dict[int, dict[str, str]] = field(default_factory=dict)
    merge_requests: dict[int, list[JSON]] = field(default_factory=dict)
    approvals: dict[tuple[int, int], list[str]] = field(default_factory=dict)
    pipelines: dict[int, JSON] = field(default_factory=dict)
    project_variables: dict[int, list[JSON]] = field(default_factory=dict)
    group_variables: dict[int, list[JSON]] = field(default_factory=dict)
    instance_variables: list[JSON] = field(default_factory=list)
    schedules: dict[int, list[JSON]] = field(default_factory=dict)


class GitLabStandin:
    """The server, its state and the helpers tests use to arrange GitLab's side.

    ``tokens`` maps each accepted token to whether it is an administrator's.
    """

    def __init__(self, tokens: dict[str, bool] | None = None) -> None:
        self.tokens = dict(tokens or {"glpat-standin-user-token": False})
        self.state = State()
        self.requests: list[Request] = []
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._throttle: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._routes = self.routes()
        #: called with (project, merge request) after every merge: tests make the merge real
        #: in the repository on disk
        self.on_merge: Callable[[JSON, JSON], None] | None = None
        #: seconds every answer waits (a slow GitLab, for progress shown on a terminal)
        self.delay = 0.0

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """The instance URL as users give it (python-gitlab adds ``/api/v4``)."""
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> GitLabStandin:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.state.host = self.url
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> GitLabStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ arranging state

    def next_id(self) -> int:
        return next(self._ids)

    def rate_limit(self, count: int, retry_after: int = 1) -> None:
        """Answer the next ``count`` requests with ``429`` and ``Retry-After: retry_after``."""
        with self._lock:
            self._throttle.extend([str(retry_after)] * count)

    def add_user(self, username: str) -> JSON:
        uid = self.next_id()
        user = {"id": uid, "username": username, "name": username.title(), "state": "active",
                "avatar_url": None, "web_url": f"{self.state.host}/{username}"}
        self.state.users.append(user)
        return user

    def add_group(self, full_path: str) -> JSON:
        """A group and, as GitLab requires, every missing parent group of its path."""
        parent_path, _, path = full_path.rpartition("/")
        parent = self.find_group(parent_path) if parent_path else None
        if parent_path and parent is None:
            parent = self.add_group(parent_path)
        gid = self.next_id()
        group = {"id": gid, "name": path, "path": path, "full_path": full_path,
                 "full_name": full_path.replace("/", " / "),
                 "parent_id": parent["id"] if parent else None, "visibility": "private",
                 "web_url": f"{self.state.host}/groups/{full_path}"}
        self.state.groups[gid] = group
        return group

    def find_group(self, full_path: str) -> JSON | None:
        return next((g for g in self.state.groups.values() if g["full_path"] == full_path), None)

    def add_project(self, path_with_namespace: str, *, default_branch: str = "main",
                    pipeline_must_succeed: bool = True, **extra: Any) -> JSON:
        namespace_path, _, path = path_with_namespace.rpartition("/")
        group = self.find_group(namespace_path) or self.add_group(namespace_path)
        pid = self.next_id()
        web_url = f"{self.state.host}/{path_with_namespace}"
        project = {
            "id": pid, "name": path, "path": path, "path_with_namespace": path_with_namespace,
            "name_with_namespace": path_with_namespace.replace("/", " / "),
            "namespace": {"id": group["id"], "name": group["name"], "path": group["path"],
                          "kind": "group", "full_path": group["full_path"],
                          "parent_id": group["parent_id"], "web_url": group["web_url"]},
            "default_branch": default_branch, "web_url": web_url,
            "http_url_to_repo": f"{web_url}.git", "archived": False, "empty_repo": False,
            "ci_config_path": None,
            "only_allow_merge_if_pipeline_succeeds": pipeline_must_succeed, **extra,
        }
        self.state.projects[pid] = project
        self.state.branches[pid] = {default_branch: _sha(pid, default_branch, 0)}
        return project

    def push(self, project: JSON, branch: str, sha: str | None = None) -> str:
        """Move ``branch`` to ``sha`` (a new commit when omitted); MRs follow their branch."""
        heads = self.state.branches[project["id"]]
        sha = sha or _sha(project["id"], branch, len(self.requests) + self.next_id())
        heads[branch] = sha
        return sha

    def add_pipeline(self, project: JSON, ref: str, status: str = "running",
                     sha: str | None = None) -> JSON:
        pid = self.next_id()
        sha = sha or self.state.branches[project["id"]].get(ref) or _sha(project["id"], ref, 0)
        pipeline = {"id": pid, "iid": pid, "project_id": project["id"], "sha": sha, "ref": ref,
                    "status": status, "source": "push",
                    "web_url": f"{project['web_url']}/-/pipelines/{pid}",
                    "created_at": "2026-01-01T00:00:00.000Z",
                    "updated_at": "2026-01-01T00:00:00.000Z"}
        self.state.pipelines[pid] = pipeline
        return pipeline

    def finish_pipeline(self, pipeline: JSON, status: str) -> None:
        """Set a pipeline's status; a success merges MRs set to merge when it succeeds."""
        with self._lock:
            pipeline["status"] = status
            for mr in self.state.merge_requests.get(pipeline["project_id"], []):
                if (mr["merge_when_pipeline_succeeds"] and status == "success"
                        and mr["state"] == "opened"
                        and self._source_sha(mr) == pipeline["sha"]):
                    self._do_merge(mr)

    def approve(self, project: JSON, iid: int, username: str) -> None:
        self.state.approvals.setdefault((project["id"], iid), []).append(username)

    def add_variable(self, owner: JSON | None, key: str, value: str, **flags: Any) -> JSON:
        """A CI/CD variable of a project, a group (``owner``) or the instance (``None``)."""
        body = {"key": key, "value": value, **flags}
        if owner is None:
            return self._create_variable(self.state.instance_variables, body, scoped=False)
        table = (self.state.project_variables if "path_with_namespace" in owner
                 else self.state.group_variables)
        return self._create_variable(table.setdefault(owner["id"], []), body, scoped=True)

    def add_schedule(self, project: JSON, description: str, ref: str,
                     variables: dict[str, str] | None = None) -> JSON:
        sid = self.next_id()
        schedule = {"id": sid, "description": description, "ref": ref, "cron": "0 3 * * *",
                    "cron_timezone": "UTC", "next_run_at": "2026-01-02T03:00:00.000Z",
                    "active": True, "created_at": "2026-01-01T00:00:00.000Z",
                    "updated_at": "2026-01-01T00:00:00.000Z", "owner": None,
                    "variables": [{"key": k, "variable_type": "env_var", "value": v,
                                   "raw": False} for k, v in (variables or {}).items()]}
        self.state.schedules.setdefault(project["id"], []).append(schedule)
        return schedule

    def calls(self, method: str | None = None) -> list[str]:
        """``"METHOD /path"`` of every recorded request, in order (for order assertions)."""
        return [f"{r.method} {r.path}" for r in self.requests
                if method is None or r.method == method]

    # ------------------------------------------------------------------ lookups

    def _project(self, ref: str) -> JSON:
        """``:id`` of a project: numeric or URL-encoded ``path_with_namespace``."""
        for project in self.state.projects.values():
            if ref in (str(project["id"]), project["path_with_namespace"]):
                return project
        raise not_found("Project")

    def _group(self, ref: str) -> JSON:
        for group in self.state.groups.values():
            if ref in (str(group["id"]), group["full_path"]):
                return group
        raise not_found("Group")

    def _mr(self, project: JSON, iid: str) -> JSON:
        for mr in self.state.merge_requests.get(project["id"], []):
            if str(mr["iid"]) == iid:
                return mr
        raise not_found("Merge Request")

    def _source_sha(self, mr: JSON) -> str:
        branch = self.state.branches[mr["project_id"]].get(mr["source_branch"])
        return branch or str(mr["sha"])

    def _mr_pipelines(self, mr: JSON) -> list[JSON]:
        refs = {mr["source_branch"], f"refs/merge-requests/{mr['iid']}/head"}
        found = [p for p in self.state.pipelines.values()
                 if p["project_id"] == mr["project_id"] and p["ref"] in refs]
        return sorted(found, key=lambda p: p["id"], reverse=True)

    def _head_pipeline(self, mr: JSON) -> JSON | None:
        sha = self._source_sha(mr)
        return next((p for p in self._mr_pipelines(mr) if p["sha"] == sha), None)

    def _mr_view(self, mr: JSON) -> JSON:
        """The merge request object of "Get single MR": computed fields follow the state.

        ``detailed_merge_status`` uses the documented values ``not_open``, ``draft_status``,
        ``conflict``, ``ci_still_running``, ``ci_must_pass`` and ``mergeable``.
        """
        head = self._head_pipeline(mr)
        must_pass = self.state.projects[mr["project_id"]]["only_allow_merge_if_pipeline_succeeds"]
        if mr["state"] != "opened":
            detailed = "not_open"
        elif mr["draft"]:
            detailed = "draft_status"
        elif mr["has_conflicts"]:
            detailed = "conflict"
        elif must_pass and head is not None and head["status"] in ("created", "pending",
                                                                      "running"):
            detailed = "ci_still_running"
        elif must_pass and (head is None or head["status"] != "success"):
            detailed = "ci_must_pass"
        else:
            detailed = "mergeable"
        view = dict(mr)
        view.update(
            sha=self._source_sha(mr) if mr["state"] == "opened" else mr["sha"],
            work_in_progress=mr["draft"], detailed_merge_status=detailed,
            merge_status="cannot_be_merged" if mr["has_conflicts"] else "can_be_merged",
            head_pipeline=dict(head) if head else None,
            assignee=mr["assignees"][0] if mr["assignees"] else None,
        )
        return view

    # ------------------------------------------------------------------ handlers: projects

    def get_project(self, q: JSON, pid: str) -> Reply:
        """Projects API, "Get a single project": ``GET /projects/:id``."""
        return 200, self._project(pid)

    def get_group(self, q: JSON, gid: str) -> Reply:
        """Groups API, "Get a single group": ``GET /groups/:id`` (``parent_id`` chains up)."""
        return 200, self._group(gid)

    def group_projects(self, q: JSON, gid: str) -> Reply:
        """Groups API, "List projects": ``include_subgroups`` adds descendants' projects."""
        group = self._group(gid)
        prefix = group["full_path"] + "/"
        deep = _truthy(q.get("include_subgroups"))
        found = [p for p in self.state.projects.values()
                 if p["namespace"]["id"] == group["id"]
                 or (deep and p["path_with_namespace"].startswith(prefix))]
        if str(q.get("archived", "")).lower() == "false":
            found = [p for p in found if not p["archived"]]
        return 200, sorted(found, key=lambda p: p["id"])

    def list_users(self, q: JSON) -> Reply:
        """Users API, "List users": ``?username=`` returns a list of zero or one user."""
        users = self.state.users
        if "username" in q:
            users = [u for u in users if u["username"].lower() == q["username"].lower()]
        return 200, users

    # ------------------------------------------------------------------ handlers: merge requests

    def list_mrs(self, q: JSON, pid: str) -> Reply:
        """MR API, "List project merge requests": filters ``state`` (``all`` by default),
        ``source_branch`` and ``target_branch``; newest first."""
        project = self._project(pid)
        found = [self._mr_view(mr) for mr in self.state.merge_requests.get(project["id"], [])]
        for name in ("source_branch", "target_branch"):
            if name in q:
                found = [mr for mr in found if mr[name] == q[name]]
        if q.get("state", "all") != "all":
            found = [mr for mr in found if mr["state"] == q["state"]]
        return 200, sorted(found, key=lambda mr: mr["iid"], reverse=True)

    def create_mr(self, q: JSON, pid: str) -> Reply:
        """MR API, "Create MR": ``source_branch``, ``target_branch``, ``title`` required (400);
        an open MR for the same source and target branch answers 409 with the message list
        GitLab sends; 201 with the new MR."""
        project = self._project(pid)
        for name in ("source_branch", "target_branch", "title"):
            if not q.get(name):
                raise missing(name)
        mrs = self.state.merge_requests.setdefault(project["id"], [])
        for other in mrs:
            if (other["state"] == "opened" and other["source_branch"] == q["source_branch"]
                    and other["target_branch"] == q["target_branch"]):
                raise ApiError(409, {"message": [
                    "Another open merge request already exists for this source branch: "
                    f"!{other['iid']}"]})
        iid = max((mr["iid"] for mr in mrs), default=0) + 1
        mr = {"id": self.next_id(), "iid": iid, "project_id": project["id"], "state": "opened",
              "title": "", "description": "", "source_branch": q["source_branch"],
              "target_branch": q["target_branch"], "labels": [], "assignees": [],
              "reviewers": [], "draft": False, "has_conflicts": False,
              "sha": self.state.branches[project["id"]].get(q["source_branch"])
              or _sha(project["id"], q["source_branch"], iid),
              "merge_commit_sha": None, "merged_at": None,
              "merge_when_pipeline_succeeds": False, "force_remove_source_branch": False,
              "web_url": f"{project['web_url']}/-/merge_requests/{iid}",
              "references": {"short": f"!{iid}",
                             "full": f"{project['path_with_namespace']}!{iid}"},
              "created_at": "2026-01-01T00:00:00.000Z"}
        self._apply_mr_fields(mr, q)
        mrs.append(mr)
        return 201, self._mr_view(mr)

    def _apply_mr_fields(self, mr: JSON, q: JSON) -> None:
        """Fields shared by create and update. Draft follows the documented title prefixes
        (``Draft:``, ``[Draft]``, ``(Draft)``) or an explicit ``draft`` boolean."""
        for name in ("title", "description", "target_branch"):
            if name in q:
                mr[name] = q[name]
        if "labels" in q:
            labels = q["labels"]
            mr["labels"] = [x for x in (labels.split(",") if isinstance(labels, str)
                                        else labels) if x]
        for name, target in (("assignee_ids", "assignees"), ("reviewer_ids", "reviewers")):
            if name in q:
                ids = [int(x) for x in q[name]] if isinstance(q[name], list) else [int(q[name])]
                mr[target] = [u for u in self.state.users if u["id"] in ids]
        if "remove_source_branch" in q:
            mr["force_remove_source_branch"] = _truthy(q["remove_source_branch"])
        if "state_event" in q:
            mr["state"] = {"close": "closed", "reopen": "opened"}[q["state_event"]]
        mr["draft"] = mr["title"].lower().startswith(DRAFT_PREFIXES)
        if "draft" in q:
            mr["draft"] = _truthy(q["draft"])

    def get_mr(self, q: JSON, pid: str, iid: str) -> Reply:
        """MR API, "Get single MR": includes ``head_pipeline``, ``sha``, ``has_conflicts``,
        ``merge_status`` and ``detailed_merge_status``."""
        return 200, self._mr_view(self._mr(self._project(pid), iid))

    def update_mr(self, q: JSON, pid: str, iid: str) -> Reply:
        """MR API, "Update MR": the given attributes change; 200 with the MR."""
        mr = self._mr(self._project(pid), iid)
        self._apply_mr_fields(mr, q)
        return 200, self._mr_view(mr)

    def merge_mr(self, q: JSON, pid: str, iid: str) -> Reply:
        """MR API, "Merge a merge request", checked in the documented order:

        - 405 ``Method Not Allowed``: not open, draft, or its pipeline still running or failed
          while the project requires success (``merge_when_pipeline_succeeds``/``auto_merge``
          skips the running-pipeline check: the merge is then set to happen on success);
        - 406 ``Branch cannot be merged``: the branch has conflicts;
        - 409 ``SHA does not match HEAD of source branch``: ``sha`` given and not the head.
        """
        mr = self._mr(self._project(pid), iid)
        view = self._mr_view(mr)
        auto = _truthy(q.get("merge_when_pipeline_succeeds")) or _truthy(q.get("auto_merge"))
        running = view["detailed_merge_status"] == "ci_still_running"
        if view["detailed_merge_status"] in ("not_open", "draft_status", "ci_must_pass") or (
                running and not auto):
            raise ApiError(405, {"message": "405 Method Not Allowed"})
        if mr["has_conflicts"]:
            raise ApiError(406, {"message": "Branch cannot be merged"})
        if q.get("sha") and q["sha"] != view["sha"]:
            raise ApiError(409, {"message": "SHA does not match HEAD of source branch: "
                                            f"{view['sha']}"})
        if "should_remove_source_branch" in q:
            mr["force_remove_source_branch"] = _truthy(q["should_remove_source_branch"])
        if auto and running:
            mr["merge_when_pipeline_succeeds"] = True
        else:
            self._do_merge(mr)
        return 200, self._mr_view(mr)

    def _do_merge(self, mr: JSON) -> None:
        mr["sha"] = self._source_sha(mr)
        mr.update(state="merged", merged_at="2026-01-01T00:00:00.000Z",
                  merge_commit_sha=MERGED_COMMIT_PREFIX + mr["sha"][len(MERGED_COMMIT_PREFIX):])
        heads = self.state.branches[mr["project_id"]]
        heads[mr["target_branch"]] = str(mr["merge_commit_sha"])
        if self.on_merge is not None:
            self.on_merge(self.state.projects[mr["project_id"]], mr)
        if mr["force_remove_source_branch"]:
            heads.pop(mr["source_branch"], None)

    def mr_pipelines(self, q: JSON, pid: str, iid: str) -> Reply:
        """MR API, "List MR pipelines": basic pipeline objects, newest first."""
        mr = self._mr(self._project(pid), iid)
        keys = ("id", "iid", "project_id", "sha", "ref", "status", "source", "web_url")
        return 200, [{k: p[k] for k in keys} for p in self._mr_pipelines(mr)]

    def mr_approvals(self, q: JSON, pid: str, iid: str) -> Reply:
        """MR approvals API, "Single MR approval state": ``approved``, ``approved_by``."""
        project = self._project(pid)
        mr = self._mr(project, iid)
        names = self.state.approvals.get((project["id"], mr["iid"]), [])
        users = [{"user": u} for u in self.state.users if u["username"] in names]
        return 200, {"id": mr["id"], "iid": mr["iid"], "project_id": project["id"],
                     "title": mr["title"], "state": mr["state"], "approved": bool(users),
                     "approvals_required": 0, "approvals_left": 0, "approved_by": users}

    def get_pipeline(self, q: JSON, pid: str, pipeline_id: str) -> Reply:
        """Pipelines API, "Get a single pipeline": ``id``, ``status``, ``sha``, ``ref``."""
        project = self._project(pid)
        pipeline = self.state.pipelines.get(int(pipeline_id)) if pipeline_id.isdigit() else None
        if pipeline is None or pipeline["project_id"] != project["id"]:
            raise not_found("Pipeline")
        return 200, pipeline

    # ------------------------------------------------------------------ handlers: variables

    def _variables(self, level: str, owner: str, admin: bool) -> tuple[list[JSON], bool]:
        """The variable list of a level; instance variables are documented as admin-only."""
        if level == "projects":
            return self.state.project_variables.setdefault(self._project(owner)["id"], []), True
        if level == "groups":
            return self.state.group_variables.setdefault(self._group(owner)["id"], []), True
        if not admin:
            raise ApiError(403, {"message": "403 Forbidden"})
        return self.state.instance_variables, False

    def _one_variable(self, table: list[JSON], key: str, q: JSON) -> JSON:
        """``filter[environment_scope]`` picks among same-key variables; several without a
        filter answer 409 as GitLab does ("There are multiple variables ...")."""
        found = [v for v in table if v["key"] == key]
        scope = q.get("filter[environment_scope]")
        if scope is not None:
            found = [v for v in found if v.get("environment_scope") == scope]
        if not found:
            raise not_found("Variable")
        if len(found) > 1:
            raise ApiError(409, {"message": "There are multiple variables with provided "
                                            "parameters. Please use 'filter[environment_scope]'"})
        return found[0]

    def _create_variable(self, table: list[JSON], q: JSON, *, scoped: bool) -> JSON:
        for name in ("key", "value"):
            if name not in q:
                raise missing(name)
        scope = str(q.get("environment_scope", "*"))
        if any(v["key"] == q["key"] and v.get("environment_scope", "*") == scope for v in table):
            raise ApiError(400, {"message": {"key": [f"({q['key']}) has already been taken"]}})
        variable = {"key": q["key"], "value": str(q["value"]),
                    "variable_type": q.get("variable_type", "env_var"),
                    "protected": _truthy(q.get("protected", False)),
                    "masked": _truthy(q.get("masked", False)),
                    "raw": _truthy(q.get("raw", False)),
                    "description": q.get("description")}
        if scoped:
            variable["environment_scope"] = scope
        table.append(variable)
        return variable

    def list_variables(self, q: JSON, level: str, owner: str = "", *, admin: bool) -> Reply:
        """Project-, group- and instance-level CI/CD variables APIs, "List variables"."""
        return 200, self._variables(level, owner, admin)[0]

    def get_variable(self, q: JSON, level: str, owner: str, key: str, *, admin: bool) -> Reply:
        """... "Get a single variable" (``filter[environment_scope]``)."""
        return 200, self._one_variable(self._variables(level, owner, admin)[0], key, q)

    def create_variable(self, q: JSON, level: str, owner: str = "", *, admin: bool) -> Reply:
        """... "Create a variable": 201; a taken key (in the same scope) is 400."""
        table, scoped = self._variables(level, owner, admin)
        return 201, self._create_variable(table, q, scoped=scoped)

    def update_variable(self, q: JSON, level: str, owner: str, key: str, *,
                        admin: bool) -> Reply:
        """... "Update a variable": 200 with the variable as it is now."""
        variable = self._one_variable(self._variables(level, owner, admin)[0], key, q)
        for name in ("value", "variable_type", "description", "environment_scope"):
            if name in q:
                variable[name] = q[name]
        for name in ("protected", "masked", "raw"):
            if name in q:
                variable[name] = _truthy(q[name])
        return 200, variable

    def delete_variable(self, q: JSON, level: str, owner: str, key: str, *,
                        admin: bool) -> Reply:
        """... "Delete a variable": 204 No Content."""
        table = self._variables(level, owner, admin)[0]
        table.remove(self._one_variable(table, key, q))
        return 204, None

    # ------------------------------------------------------------------ handlers: schedules

    def _schedule(self, pid: str, sid: str) -> JSON:
        for schedule in self.state.schedules.get(self._project(pid)["id"], []):
            if str(schedule["id"]) == sid:
                return schedule
        raise not_found("Pipeline Schedule")

    def list_schedules(self, q: JSON, pid: str) -> Reply:
        """Pipeline schedules API, "Get all pipeline schedules": without ``variables``."""
        schedules = self.state.schedules.get(self._project(pid)["id"], [])
        return 200, [{k: v for k, v in s.items() if k != "variables"} for s in schedules]

    def get_schedule(self, q: JSON, pid: str, sid: str) -> Reply:
        """... "Get a single pipeline schedule": includes ``variables``."""
        return 200, self._schedule(pid, sid)

    def _schedule_variable(self, pid: str, sid: str, key: str) -> tuple[JSON, JSON]:
        schedule = self._schedule(pid, sid)
        for variable in schedule["variables"]:
            if variable["key"] == key:
                return schedule, variable
        raise not_found("Variable")

    def create_schedule_variable(self, q: JSON, pid: str, sid: str) -> Reply:
        """... "Create a new pipeline schedule variable": ``key`` and ``value`` required; a
        taken key is 400; 201 with the variable."""
        for name in ("key", "value"):
            if name not in q:
                raise missing(name)
        schedule = self._schedule(pid, sid)
        if any(v["key"] == q["key"] for v in schedule["variables"]):
            raise ApiError(400, {"message": {"key": [f"({q['key']}) has already been taken"]}})
        variable = {"key": q["key"], "variable_type": q.get("variable_type", "env_var"),
                    "value": str(q["value"]), "raw": False}
        schedule["variables"].append(variable)
        return 201, variable

    def update_schedule_variable(self, q: JSON, pid: str, sid: str, key: str) -> Reply:
        """... "Edit a pipeline schedule variable": ``value`` required; 200 with it."""
        if "value" not in q:
            raise missing("value")
        _, variable = self._schedule_variable(pid, sid, key)
        variable["value"] = str(q["value"])
        variable["variable_type"] = q.get("variable_type", variable["variable_type"])
        return 200, variable

    def delete_schedule_variable(self, q: JSON, pid: str, sid: str, key: str) -> Reply:
        """... "Delete a pipeline schedule variable": 202 with the deleted variable."""
        schedule, variable = self._schedule_variable(pid, sid, key)
        schedule["variables"].remove(variable)
        return 202, variable

    # ------------------------------------------------------------------ dispatch

    def routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Reply]]]:
        seg = r"([^/]+)"
        table: list[tuple[str, str, Callable[..., Reply]]] = [
            ("GET", "/users", self.list_users),
            ("GET", f"/projects/{seg}", self.get_project),
            ("GET", f"/groups/{seg}", self.get_group),
            ("GET", f"/groups/{seg}/projects", self.group_projects),
            ("GET", f"/projects/{seg}/merge_requests", self.list_mrs),
            ("POST", f"/projects/{seg}/merge_requests", self.create_mr),
            ("GET", f"/projects/{seg}/merge_requests/{seg}", self.get_mr),
            ("PUT", f"/projects/{seg}/merge_requests/{seg}", self.update_mr),
            ("PUT", f"/projects/{seg}/merge_requests/{seg}/merge", self.merge_mr),
            ("GET", f"/projects/{seg}/merge_requests/{seg}/pipelines", self.mr_pipelines),
            ("GET", f"/projects/{seg}/merge_requests/{seg}/approvals", self.mr_approvals),
            ("GET", f"/projects/{seg}/pipelines/{seg}", self.get_pipeline),
            ("GET", f"/projects/{seg}/pipeline_schedules", self.list_schedules),
            ("GET", f"/projects/{seg}/pipeline_schedules/{seg}", self.get_schedule),
            ("POST", f"/projects/{seg}/pipeline_schedules/{seg}/variables",
             self.create_schedule_variable),
            ("PUT", f"/projects/{seg}/pipeline_schedules/{seg}/variables/{seg}",
             self.update_schedule_variable),
            ("DELETE", f"/projects/{seg}/pipeline_schedules/{seg}/variables/{seg}",
             self.delete_schedule_variable),
        ]
        for level, prefix in (("projects", f"/projects/{seg}"), ("groups", f"/groups/{seg}"),
                              ("admin", "/admin/ci")):
            def bind(handler: Callable[..., Reply], level: str = level) -> Callable[..., Reply]:
                def call(q: JSON, *args: str, admin: bool) -> Reply:
                    owner_args = args if level != "admin" else ("", *args)
                    return handler(q, level, *owner_args, admin=admin)
                call.wants_admin = True  # type: ignore[attr-defined]
                return call
            table += [
                ("GET", f"{prefix}/variables", bind(self.list_variables)),
                ("POST", f"{prefix}/variables", bind(self.create_variable)),
                ("GET", f"{prefix}/variables/{seg}", bind(self.get_variable)),
                ("PUT", f"{prefix}/variables/{seg}", bind(self.update_variable)),
                ("DELETE", f"{prefix}/variables/{seg}", bind(self.delete_variable)),
            ]
        return [(m, re.compile(f"^{p}$"), h) for m, p, h in table]

    def handle(self, method: str, raw_path: str, query: dict[str, str], body: Any,
               token: str | None) -> tuple[int, Any, dict[str, str]]:
        """Authenticate, throttle, route; lists are paginated."""
        with self._lock:
            if self._throttle:
                retry_after = self._throttle.pop(0)
                return 429, "Retry later\n", {"Retry-After": retry_after,
                                              "RateLimit-Limit": "600",
                                              "RateLimit-Remaining": "0"}
            if token is None or token not in self.tokens:
                return 401, {"message": "401 Unauthorized"}, {}
            if not raw_path.startswith("/api/v4/"):
                return 404, {"error": "404 Not Found"}, {}
            path = raw_path[len("/api/v4"):]
            params = {**query, **(body if isinstance(body, dict) else {})}
            for route_method, pattern, handler in self._routes:
                match = pattern.match(path)
                if route_method != method or match is None:
                    continue
                args = [unquote(a) for a in match.groups()]
                try:
                    if getattr(handler, "wants_admin", False):
                        status, data = handler(params, *args, admin=self.tokens[token])
                    else:
                        status, data = handler(params, *args)
                except ApiError as err:
                    return err.status, err.body, {}
                if method == "GET" and isinstance(data, list):
                    return self._paginate(raw_path, query, data)
                return status, data, {}
            return 404, {"error": "404 Not Found"}, {}

    def _paginate(self, path: str, query: dict[str, str],
                  items: list[Any]) -> tuple[int, Any, dict[str, str]]:
        page = max(1, int(query.get("page", "1")))
        per_page = min(100, max(1, int(query.get("per_page", "20"))))
        total_pages = max(1, -(-len(items) // per_page))

        def link(number: int) -> str:
            return f"{self.state.host}{path}?{urlencode({**query, 'page': str(number)})}"

        rels = {"first": 1, "last": total_pages}
        if page < total_pages:
            rels["next"] = page + 1
        if page > 1:
            rels["prev"] = page - 1
        headers = {
            "X-Page": str(page), "X-Per-Page": str(per_page), "X-Total": str(len(items)),
            "X-Total-Pages": str(total_pages),
            "X-Next-Page": str(rels["next"]) if "next" in rels else "",
            "X-Prev-Page": str(rels["prev"]) if "prev" in rels else "",
            "Link": ", ".join(f'<{link(n)}>; rel="{rel}"' for rel, n in rels.items()),
        }
        return 200, items[(page - 1) * per_page: page * per_page], headers


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1", "yes")


def _sha(*parts: object) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()


def _handler_for(api: GitLabStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _serve(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body: Any = None
            if raw:
                ctype = self.headers.get("Content-Type", "")
                if "json" in ctype:
                    body = json.loads(raw)
                else:
                    body = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
            token, header = self.headers.get("PRIVATE-TOKEN"), "PRIVATE-TOKEN"
            if token is None:
                bearer = self.headers.get("Authorization", "")
                token, header = (bearer[7:], "Authorization") if bearer.startswith(
                    "Bearer ") else (None, None)  # type: ignore[assignment]
            if api.delay:
                time.sleep(api.delay)
            status, data, headers = api.handle(self.command, url.path, query, body, token)
            with api._lock:
                api.requests.append(Request(self.command, url.path, query, body,
                                            token, header, status))
            payload = b"" if data is None else (
                data.encode() if isinstance(data, str) else json.dumps(data).encode())
            self.send_response(status)
            ctype = "text/plain" if isinstance(data, str) else "application/json"
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

    return Handler


@contextmanager
def running(tokens: dict[str, bool] | None = None) -> Iterator[GitLabStandin]:
    """A started stand-in that stops when the block ends."""
    api = GitLabStandin(tokens)
    with api:
        yield api


def encoded(path: str) -> str:
    """A namespaced path as GitLab expects it in a URL (``group%2Fproject``)."""
    return quote(path, safe="")
