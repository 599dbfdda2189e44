"""A typed facade over python-gitlab for the calls ciswitch makes to GitLab's REST API v4.

python-gitlab is imported when a :class:`GitLabClient` is built, never when this module is, so
commands that do not talk to GitLab never load it (nor ``requests``). Every answer is turned into
the frozen values of :mod:`ciswitch.gitlab_api.values`; every failure into a one-line
:class:`GitLabAPIError` (a :class:`~ciswitch.errors.CiswitchError`, exit 2) that names the call
and GitLab's status and message, with the token scrubbed out.

Rate limits: python-gitlab sleeps for the ``Retry-After`` GitLab sends with a ``429`` and tries
again, at most ``max_retries`` times per call; after that the ``429`` is an error. Lists are read
page by page through the ``Link``/``X-Next-Page`` headers (``per_page`` items a page).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from ciswitch.errors import CiswitchError
from ciswitch.gitlab_api.values import (
    Approvals,
    GroupInfo,
    MergeOutcome,
    MergeRequestInfo,
    MergeRequestSpec,
    NotChecked,
    PipelineInfo,
    ProjectInfo,
    RefusalReason,
    ScheduleInfo,
    VariableChange,
    VariableInfo,
    VariableLevel,
    VariableSurvey,
)
from ciswitch.redact import MASK, redact

T = TypeVar("T")

TOKEN_ENV = "GITLAB_TOKEN"
NEEDS_ADMIN = "not checked: needs admin"

#: documented answers of "Merge a merge request" that refuse without changing anything
_MERGE_REFUSALS: dict[int, RefusalReason] = {
    405: "not mergeable", 406: "conflicts", 409: "sha moved", 422: "merge failed",
}


class GitLabAPIError(CiswitchError):
    """A GitLab API call failed; ``status`` is the HTTP status when there was an answer."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def from_environment(url: str | None, env: Mapping[str, str] | None = None,
                     **options: Any) -> GitLabClient:
    """The client for ``--gitlab-url URL`` with the token from ``GITLAB_TOKEN`` (and only there:
    a command-line option would show in ``ps`` and CI logs)."""
    if not url:
        raise CiswitchError(f"talking to GitLab needs --gitlab-url URL (with {TOKEN_ENV} set)")
    token = (os.environ if env is None else env).get(TOKEN_ENV, "").strip()
    if not token:
        raise CiswitchError(f"{TOKEN_ENV} is not set: GitLab's API at {redact(url)} needs a "
                            "token with the api scope")
    return GitLabClient(url, token, **options)


def _check_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise CiswitchError(f"--gitlab-url is not a URL: {redact(url)}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CiswitchError(f"--gitlab-url must be http(s)://HOST[/PATH]: {redact(url)}")
    if parts.username is not None or parts.password is not None:
        raise CiswitchError(f"--gitlab-url must not carry credentials (use {TOKEN_ENV}): "
                            f"{redact(url)}")
    return url.rstrip("/")


def check_url(url: str) -> str:
    """``--gitlab-url`` checked as a client checks it (http(s), a host, no credentials), for
    commands that take the option before they build a client."""
    return _check_url(url)


def _enc(ref: str | int) -> str:
    return quote(str(ref), safe="")


class GitLabClient:
    """GitLab's REST API v4 through python-gitlab, answering with typed values."""

    def __init__(self, url: str, token: str, *, max_retries: int = 5, per_page: int = 100,
                 timeout: float = 30.0) -> None:
        self.url = _check_url(url)
        self.max_retries = max_retries
        self.per_page = per_page
        self._token = token
        try:
            import gitlab
            import gitlab.exceptions
        except ImportError:
            raise CiswitchError("the GitLab API needs python-gitlab: "
                                "pip install 'ciswitch[gitlab]'") from None
        self._errors: Any = gitlab.exceptions
        self._gl: Any = gitlab.Gitlab(self.url, private_token=token, timeout=timeout,
                                      per_page=per_page, retry_transient_errors=True,
                                      keep_base_url=True)

    def __repr__(self) -> str:
        return f"GitLabClient({self.url!r})"

    # ------------------------------------------------------------------ plumbing

    def _scrub(self, text: str) -> str:
        return redact(text.replace(self._token, MASK) if self._token else text)

    def _call(self, what: str, call: Callable[[], T]) -> T:
        """Run one python-gitlab call; its failures become one-line errors naming ``what``."""
        try:
            return call()
        except self._errors.GitlabError as err:
            raise self._failure(what, err) from None
        except (OSError, ValueError) as err:
            raise self._unreachable(what, err) from None

    def _unreachable(self, what: str, err: Exception) -> GitLabAPIError:
        return GitLabAPIError(self._scrub(
            f"cannot reach GitLab's API at {self.url} to {what}: {type(err).__name__}: {err}"))

    def _failure(self, what: str, err: Any) -> GitLabAPIError:
        code: int | None = getattr(err, "response_code", None)
        message = str(getattr(err, "error_message", "") or "").strip()
        if code == 401:
            text = f"GitLab at {self.url} refused {TOKEN_ENV} (HTTP 401) while trying to {what}"
        elif code == 429:
            text = (f"GitLab at {self.url} kept rate-limiting (HTTP 429) after "
                    f"{self.max_retries} retries while trying to {what}")
        else:
            status = f"HTTP {code}" if code else "no answer"
            text = f"GitLab API at {self.url} could not {what}: {status}: {message}"
        return GitLabAPIError(self._scrub(" ".join(text.split())), code)

    def _options(self) -> dict[str, Any]:
        return {"max_retries": self.max_retries, "obey_rate_limit": True}

    def _get(self, what: str, path: str, **query: Any) -> dict[str, Any]:
        answer = self._call(what, lambda: self._gl.http_get(path, query_data=query,
                                                            **self._options()))
        if not isinstance(answer, dict):
            raise GitLabAPIError(self._scrub(f"GitLab API at {self.url} could not {what}: "
                                             "the answer is not a JSON object"))
        return answer

    def _list(self, what: str, path: str, **query: Any) -> list[dict[str, Any]]:
        """Every item of a list endpoint, reading one page after the other."""

        def read() -> list[dict[str, Any]]:
            pages: Iterator[dict[str, Any]] = self._gl.http_list(
                path, query_data=query, iterator=True, per_page=self.per_page,
                **self._options())
            return [dict(item) for item in pages]

        return self._call(what, read)

    def _send(self, what: str, method: str, path: str,
              data: dict[str, Any] | None = None, **query: Any) -> Any:
        send = {"post": self._gl.http_post, "put": self._gl.http_put,
                "delete": self._gl.http_delete}[method]
        if method == "delete":
            return self._call(what, lambda: send(path, query_data=query, **self._options()))
        return self._call(what, lambda: send(path, query_data=query, post_data=data or {},
                                             **self._options()))

    # ------------------------------------------------------------------ projects and groups

    def project(self, path: str) -> ProjectInfo:
        """The project at ``path`` (``group/sub/name``) or with that numeric id."""
        data = self._get(f"find project {path}", f"/projects/{_enc(path)}")
        namespace = data.get("namespace") or {}
        return ProjectInfo(
            id=int(data["id"]), path=str(data["path_with_namespace"]),
            web_url=str(data.get("web_url") or ""),
            default_branch=data.get("default_branch"),
            namespace_id=int(namespace["id"]) if namespace.get("kind") == "group" else None,
            only_allow_merge_if_pipeline_succeeds=bool(
                data.get("only_allow_merge_if_pipeline_succeeds")),
        )

    def group(self, ref: str | int) -> GroupInfo:
        data = self._get(f"find group {ref}", f"/groups/{_enc(ref)}")
        parent = data.get("parent_id")
        return GroupInfo(id=int(data["id"]), path=str(data["full_path"]),
                         parent_id=int(parent) if parent is not None else None)

    def group_chain(self, project: ProjectInfo) -> tuple[GroupInfo, ...]:
        """The project's group and every parent group, nearest first (none for a user's)."""
        chain: list[GroupInfo] = []
        next_id = project.namespace_id
        while next_id is not None and len(chain) < 32:
            group = self.group(next_id)
            chain.append(group)
            next_id = group.parent_id
        return tuple(chain)

    def user_ids(self, usernames: tuple[str, ...]) -> tuple[int, ...]:
        """Users' numeric ids, as merge requests take them; an unknown name is an error."""
        ids: list[int] = []
        for name in usernames:
            found = self._list(f"find user {name}", "/users", username=name)
            if not found:
                raise CiswitchError(f"GitLab at {self.url} has no user named {name!r}")
            ids.append(int(found[0]["id"]))
        return tuple(ids)

    # ------------------------------------------------------------------ merge requests

    @staticmethod
    def _pipeline(data: Mapping[str, Any]) -> PipelineInfo:
        return PipelineInfo(id=int(data["id"]), status=str(data["status"]),
                            sha=str(data.get("sha") or ""), web_url=data.get("web_url"))

    def _merge_request(self, data: Mapping[str, Any],
                       approvals: Approvals | None = None) -> MergeRequestInfo:
        head = data.get("head_pipeline")
        labels = data.get("labels") or []
        return MergeRequestInfo(
            iid=int(data["iid"]), url=str(data.get("web_url") or ""), state=str(data["state"]),
            sha=data.get("sha"), source_branch=str(data["source_branch"]),
            target_branch=str(data["target_branch"]), title=str(data.get("title") or ""),
            draft=bool(data.get("draft", data.get("work_in_progress", False))),
            has_conflicts=bool(data.get("has_conflicts")),
            merge_status=str(data.get("detailed_merge_status") or data.get("merge_status")
                             or "unchecked"),
            auto_merge=bool(data.get("merge_when_pipeline_succeeds")),
            labels=tuple(str(x) for x in labels),
            head_pipeline=self._pipeline(head) if head else None, approvals=approvals,
        )

    def _mr_path(self, project: ProjectInfo, iid: int | None = None) -> str:
        base = f"/projects/{project.id}/merge_requests"
        return base if iid is None else f"{base}/{iid}"

    def find_merge_request(self, project: ProjectInfo, source_branch: str, *,
                           target_branch: str | None = None,
                           state: str = "opened") -> MergeRequestInfo | None:
        """The newest merge request from ``source_branch`` (``state``: opened, merged, closed
        or all)."""
        query: dict[str, Any] = {"source_branch": source_branch, "state": state}
        if target_branch:
            query["target_branch"] = target_branch
        found = self._list(f"list merge requests of {project.path}", self._mr_path(project),
                           **query)
        return self._merge_request(found[0]) if found else None

    def merge_request(self, project: ProjectInfo, iid: int, *,
                      with_approvals: bool = False) -> MergeRequestInfo:
        what = f"read merge request !{iid} of {project.path}"
        data = self._get(what, self._mr_path(project, iid))
        approvals = self.approvals(project, iid) if with_approvals else None
        return self._merge_request(data, approvals)

    def approvals(self, project: ProjectInfo, iid: int) -> Approvals:
        data = self._get(f"read the approvals of !{iid} of {project.path}",
                         f"{self._mr_path(project, iid)}/approvals")
        names = tuple(str((entry.get("user") or {}).get("username", ""))
                      for entry in data.get("approved_by") or [])
        return Approvals(approved=bool(data.get("approved")), approved_by=names,
                         approvals_left=int(data.get("approvals_left") or 0))

    def _mr_fields(self, spec: MergeRequestSpec) -> dict[str, Any]:
        return {
            "title": spec.full_title(), "description": spec.description,
            "target_branch": spec.target_branch, "labels": ",".join(spec.labels),
            "assignee_ids": list(self.user_ids(spec.assignees)),
            "reviewer_ids": list(self.user_ids(spec.reviewers)),
            "remove_source_branch": spec.remove_source_branch,
        }

    def create_merge_request(self, project: ProjectInfo,
                             spec: MergeRequestSpec) -> MergeRequestInfo:
        fields = {"source_branch": spec.source_branch, **self._mr_fields(spec)}
        data = self._send(f"open a merge request from {spec.source_branch} in {project.path}",
                          "post", self._mr_path(project), fields)
        return self._merge_request(data)

    def update_merge_request(self, project: ProjectInfo, iid: int,
                             spec: MergeRequestSpec) -> MergeRequestInfo:
        data = self._send(f"update merge request !{iid} of {project.path}", "put",
                          self._mr_path(project, iid), self._mr_fields(spec))
        return self._merge_request(data)

    def ensure_merge_request(self, project: ProjectInfo,
                             spec: MergeRequestSpec) -> tuple[MergeRequestInfo, bool]:
        """Update the open merge request from ``spec.source_branch`` into its target, or open
        one; ``True`` when it was created. With ``spec.auto_merge`` it is set to merge when its
        pipeline succeeds (on the head it has now)."""
        found = self.find_merge_request(project, spec.source_branch,
                                        target_branch=spec.target_branch)
        if found is None:
            info, created = self.create_merge_request(project, spec), True
        else:
            info, created = self.update_merge_request(project, found.iid, spec), False
        if spec.auto_merge and not info.auto_merge and info.sha:
            outcome = self.merge(project, info.iid, info.sha, when_pipeline_succeeds=True)
            info = outcome.merge_request or self.merge_request(project, info.iid)
        return info, created

    def pipelines(self, project: ProjectInfo, iid: int) -> tuple[PipelineInfo, ...]:
        """The merge request's pipelines, newest first."""
        found = self._list(f"list the pipelines of !{iid} of {project.path}",
                           f"{self._mr_path(project, iid)}/pipelines")
        return tuple(self._pipeline(p) for p in sorted(found, key=lambda p: -int(p["id"])))

    def latest_pipeline(self, project: ProjectInfo, iid: int) -> PipelineInfo | None:
        found = self.pipelines(project, iid)
        return found[0] if found else None

    def pipeline(self, project: ProjectInfo, pipeline_id: int) -> PipelineInfo:
        return self._pipeline(self._get(f"read pipeline {pipeline_id} of {project.path}",
                                        f"/projects/{project.id}/pipelines/{pipeline_id}"))

    def merge(self, project: ProjectInfo, iid: int, sha: str, *,
              when_pipeline_succeeds: bool = False,
              remove_source_branch: bool | None = None) -> MergeOutcome:
        """Merge ``!iid`` only if its source branch is still at ``sha``.

        GitLab's documented refusals are outcomes, not errors: 405 (not mergeable: closed,
        draft, pipeline not passed), 406 (conflicts), 409 (the branch moved past ``sha``),
        422 (the merge failed). Other failures (401, 403, 404, ...) raise.
        """
        body: dict[str, Any] = {"sha": sha}
        if when_pipeline_succeeds:
            body["merge_when_pipeline_succeeds"] = True
        if remove_source_branch is not None:
            body["should_remove_source_branch"] = remove_source_branch
        what = f"merge !{iid} of {project.path}"
        try:
            data = self._gl.http_put(f"{self._mr_path(project, iid)}/merge", post_data=body,
                                     **self._options())
        except self._errors.GitlabError as err:
            code = getattr(err, "response_code", None)
            if code in _MERGE_REFUSALS:
                message = self._scrub(str(getattr(err, "error_message", "") or ""))
                return MergeOutcome("refused", _MERGE_REFUSALS[code], message)
            raise self._failure(what, err) from None
        except (OSError, ValueError) as err:
            raise self._unreachable(what, err) from None
        info = self._merge_request(data)
        if info.state == "merged":
            return MergeOutcome("merged", merge_request=info)
        if info.auto_merge:
            return MergeOutcome("scheduled", merge_request=info)
        return MergeOutcome("refused", "merge failed", f"state is {info.state}", info)

    # ------------------------------------------------------------------ CI/CD variables

    @staticmethod
    def _variable(level: VariableLevel, owner: str, data: Mapping[str, Any], *,
                  schedule: Mapping[str, Any] | None = None) -> VariableInfo:
        masked = bool(data.get("masked")) or bool(data.get("hidden"))
        value = data.get("value")
        return VariableInfo(
            level=level, owner=owner, key=str(data["key"]),
            value=None if masked or value is None else str(value),
            protected=bool(data.get("protected")), masked=masked,
            environment_scope=str(data.get("environment_scope") or "*"),
            variable_type=str(data.get("variable_type") or "env_var"),
            schedule_id=int(schedule["id"]) if schedule else None,
            schedule_description=str(schedule.get("description") or "") if schedule else None,
        )

    def project_variables(self, project: ProjectInfo) -> tuple[VariableInfo, ...]:
        found = self._list(f"list the CI/CD variables of {project.path}",
                           f"/projects/{project.id}/variables")
        return tuple(self._variable("project", project.path, v) for v in found)

    def group_variables(self, group: GroupInfo) -> tuple[VariableInfo, ...]:
        found = self._list(f"list the CI/CD variables of group {group.path}",
                           f"/groups/{group.id}/variables")
        return tuple(self._variable("group", group.path, v) for v in found)

    def instance_variables(self) -> tuple[VariableInfo, ...] | NotChecked:
        """The instance's variables, or :class:`NotChecked` when the token is not an admin's
        (GitLab answers 403: the endpoint is documented as admin-only)."""
        try:
            found = self._list("list the instance's CI/CD variables", "/admin/ci/variables")
        except GitLabAPIError as err:
            if err.status == 403:
                return NotChecked("instance", NEEDS_ADMIN)
            raise
        return tuple(self._variable("instance", "", v) for v in found)

    def schedules(self, project: ProjectInfo) -> tuple[ScheduleInfo, ...]:
        """The project's pipeline schedules with their variables (one read per schedule: the
        list does not carry them)."""
        listed = self._list(f"list the pipeline schedules of {project.path}",
                            f"/projects/{project.id}/pipeline_schedules")
        schedules: list[ScheduleInfo] = []
        for item in listed:
            data = self._get(f"read pipeline schedule {item['id']} of {project.path}",
                             f"/projects/{project.id}/pipeline_schedules/{item['id']}")
            variables = tuple(self._variable("schedule", project.path, v, schedule=data)
                              for v in data.get("variables") or [])
            schedules.append(ScheduleInfo(id=int(data["id"]),
                                          description=str(data.get("description") or ""),
                                          ref=str(data.get("ref") or ""),
                                          active=bool(data.get("active", True)),
                                          variables=variables))
        return tuple(schedules)

    def survey_variables(self, project: ProjectInfo) -> VariableSurvey:
        """Every variable GitLab keeps for the project's pipelines: the project's, each parent
        group's (nearest first), the instance's (where the token may) and its schedules'."""
        found: list[VariableInfo] = list(self.project_variables(project))
        groups = self.group_chain(project)
        for group in groups:
            found.extend(self.group_variables(group))
        not_checked: list[NotChecked] = []
        instance = self.instance_variables()
        if isinstance(instance, NotChecked):
            not_checked.append(instance)
        else:
            found.extend(instance)
        for schedule in self.schedules(project):
            found.extend(schedule.variables)
        return VariableSurvey(tuple(found), tuple(not_checked), tuple(g.path for g in groups))

    def _variable_path(self, variable: VariableInfo) -> tuple[str, dict[str, Any]]:
        key = _enc(variable.key)
        if variable.level == "instance":
            return f"/admin/ci/variables/{key}", {}
        if variable.level == "schedule":
            return (f"/projects/{_enc(variable.owner)}/pipeline_schedules/"
                    f"{variable.schedule_id}/variables/{key}"), {}
        kind = "projects" if variable.level == "project" else "groups"
        scope = {"filter[environment_scope]": variable.environment_scope}
        return f"/{kind}/{_enc(variable.owner)}/variables/{key}", scope

    def _current_value(self, variable: VariableInfo) -> str:
        """The stored value, read again (masked ones are never kept in :class:`VariableInfo`)."""
        what = f"read {variable.place}"
        if variable.level == "schedule":
            data = self._get(what, f"/projects/{_enc(variable.owner)}/pipeline_schedules/"
                                   f"{variable.schedule_id}")
            for item in data.get("variables") or []:
                if item.get("key") == variable.key:
                    return str(item.get("value") or "")
            raise GitLabAPIError(self._scrub(f"GitLab has no {variable.place} any more"), 404)
        path, scope = self._variable_path(variable)
        return str(self._get(what, path, **scope).get("value") or "")

    def update_variable(self, variable: VariableInfo, value: str) -> VariableChange:
        """Set the variable's value; the change carries the old value for the journal."""
        old = self._current_value(variable)
        path, scope = self._variable_path(variable)
        self._send(f"update {variable.place}", "put", path, {"value": value}, **scope)
        return VariableChange(variable, old, value)

    def create_variable(self, variable: VariableInfo, value: str) -> VariableInfo:
        """Create the variable again as ``variable`` describes it (key, environment scope,
        flags and type) with ``value``: how a journaled deletion is put back."""
        key = variable.key
        if variable.level == "schedule":
            path = (f"/projects/{_enc(variable.owner)}/pipeline_schedules/"
                    f"{variable.schedule_id}/variables")
            body: dict[str, Any] = {"key": key, "value": value,
                                    "variable_type": variable.variable_type}
        else:
            path = ("/admin/ci/variables" if variable.level == "instance" else
                    f"/{'projects' if variable.level == 'project' else 'groups'}/"
                    f"{_enc(variable.owner)}/variables")
            body = {"key": key, "value": value, "variable_type": variable.variable_type,
                    "protected": variable.protected, "masked": variable.masked}
            if variable.level != "instance":
                body["environment_scope"] = variable.environment_scope
        self._send(f"create {variable.place}", "post", path, body)
        return variable

    def current_value(self, variable: VariableInfo) -> str | None:
        """The variable's stored value now, or None when GitLab has no such variable."""
        try:
            return self._current_value(variable)
        except GitLabAPIError as err:
            if err.status == 404:
                return None
            raise

    def delete_variable(self, variable: VariableInfo) -> VariableChange:
        """Delete the variable; the change carries the old value for the journal."""
        old = self._current_value(variable)
        path, scope = self._variable_path(variable)
        self._send(f"delete {variable.place}", "delete", path, **scope)
        return VariableChange(variable, old, None)
