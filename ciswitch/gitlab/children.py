"""Child pipelines: ``trigger: include:`` with local files, followed as pipelines of their own.

Followed from GitLab's "Downstream pipelines" documentation: ``trigger: include:`` takes a
path, a list, ``local:`` items (and ``project:``/``file:``, ``template:``, ``artifact:``,
``remote:`` ones, from outside the repository); the trigger job's YAML variables, the global
ones it inherits among them, are passed down as trigger variables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ciswitch.errors import CiswitchError
from ciswitch.gitlab.model import Job, Merged, Pipeline, Variable
from ciswitch.model import NotChecked, NotCheckedKind
from ciswitch.source import SourceFile
from ciswitch.workspace import Workspace, normalize
from ciswitch.yaml.nodes import Entry, Loc, is_map, is_scalar, is_seq, mapping_entries

#: how deep child pipelines nest (GitLab allows two levels below the parent)
MAX_CHILD_DEPTH = 2

#: loads a child pipeline: (workspace, [(path, including file, line)], files known, the
#: trigger job's name, the variables passed down, depth) -> the pipeline
LoadChild = Callable[
    [
        Workspace,
        list[tuple[str, str, int]],
        Mapping[str, SourceFile],
        str,
        dict[str, tuple[Variable, ...]],
        int,
    ],
    "Pipeline | None",
]


def follow_children(
    pipeline: Pipeline,
    workspace: Workspace,
    known: Mapping[str, SourceFile] | None,
    depth: int,
    load: LoadChild,
) -> None:
    """Follow ``trigger: include:`` with local files as pipelines of their own.

    A child pipeline starts from its own files (the parent's are not merged in); its jobs get
    the trigger job's variables, and the parent's global ones it inherits, as *trigger
    variables*: the highest precedence, above the child's own job variables (GitLab's
    "Downstream pipelines: pass YAML-defined CI/CD variables" and "CI/CD variable
    precedence"). ``trigger: forward: yaml_variables: false`` passes none.
    """
    for job in list(pipeline.jobs.values()):
        if not job.bridge or job.hidden:
            continue
        trigger = job.config.get("trigger")
        if not isinstance(trigger, Merged):
            continue  # ``trigger: group/project``: another project's pipeline
        targets: list[tuple[str, str, int]] = []
        for path, origin, line in _child_targets(pipeline, job, trigger.entries.get("include")):
            try:
                norm = normalize(path)
            except CiswitchError:
                norm = ""
            if norm and ((known is not None and norm in known) or workspace.is_file(norm)):
                targets.append((path, origin, line))
            else:
                pipeline.not_checked.append(
                    NotChecked(origin, line, NotCheckedKind.CHILD_PIPELINE,
                               f"child pipeline of job {job.name}: no file {path!r} in this "
                               "repository, not followed")
                )
        if not targets:
            continue
        if depth >= MAX_CHILD_DEPTH:
            pipeline.not_checked.append(
                NotChecked(job.file.path, targets[0][2], NotCheckedKind.CHILD_PIPELINE,
                           f"child pipeline of job {job.name} nested deeper than "
                           f"{MAX_CHILD_DEPTH} levels: not followed")
            )
            continue
        upstream: dict[str, tuple[Variable, ...]] = {}
        forward = trigger.get("forward")
        yaml_variables = True
        if isinstance(forward, Merged):
            flag = forward.get("yaml_variables")
            if isinstance(flag, Loc) and is_scalar(flag.node):
                yaml_variables = str(flag.node.value).lower() != "false"
        if yaml_variables:
            upstream = {
                name: tuple(var.passed_down() for var in found)
                for name, found in job.candidates.items()
            }
        files: dict[str, SourceFile] = dict(known or {})
        files.update((file.path, file) for file in pipeline.files)
        child = load(workspace, targets, files, job.name, upstream, depth + 1)
        if child is None:
            continue
        pipeline.children.append(child)
        pipeline.problems.extend(child.problems)
        pipeline.notices.extend(child.notices)
        pipeline.not_checked.extend(child.not_checked)
        pipeline.parents.update(child.parents)
        for file in child.files:
            if all(file.path != seen.path for seen in pipeline.files):
                pipeline.files.append(file)


def _child_targets(
    pipeline: Pipeline, job: Job, include: Entry | None
) -> list[tuple[str, str, int]]:
    """The local files of a ``trigger: include:`` (a string, a list, ``local:``/``file:``
    items); remote, template, project and artifact children are notices."""
    if include is None:
        return []
    node = include.value
    items: list[Any] = list(node.value) if is_seq(node) else [node]
    targets: list[tuple[str, str, int]] = []
    origin = include.file.path
    for item in items:
        line = int(item.start_mark.line) + 1
        if is_scalar(item):
            value = str(item.value)
            if value.startswith(("http://", "https://")):
                _child_not_followed(pipeline, job, origin, line, f"remote {value}")
            else:
                targets.append((value, origin, line))
            continue
        if not is_map(item):
            continue
        entries = mapping_entries(include.file, item)
        local = entries.get("local")
        if local is not None and is_scalar(local.value):
            targets.append((str(local.value.value), origin, line))
            continue
        if "project" not in entries and "file" in entries and is_scalar(entries["file"].value):
            targets.append((str(entries["file"].value.value), origin, line))
            continue
        kinds = [k for k in ("project", "remote", "template", "artifact", "component")
                 if k in entries]
        what = kinds[0] if kinds else "unknown"
        detail = entries[what].value.value if kinds and is_scalar(entries[what].value) else ""
        _child_not_followed(pipeline, job, origin, line, f"{what}: {detail}")
    return targets


def _child_not_followed(pipeline: Pipeline, job: Job, path: str, line: int, what: str) -> None:
    pipeline.not_checked.append(
        NotChecked(
            path,
            line,
            NotCheckedKind.CHILD_PIPELINE,
            f"child pipeline of job {job.name} from include {what.rstrip(': ')}: not in this "
            "repository, not followed",
        )
    )
