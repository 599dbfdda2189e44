"""Paths as the user sees them: relative to the current directory, as ruff prints them.

The analysis speaks in repository-relative paths (``.gitlab-ci.yml``); the command line shows
each relative to where it was run, so ``ciswitch lint repo-a repo-b`` prints
``repo-a/.gitlab-ci.yml:5:3`` and a ``fix --diff`` applies with ``git apply`` from there. A
repository below the current directory is shown as a relative path, one above it (run from a
subdirectory) with ``../``, any other by its absolute path.
"""

from __future__ import annotations

import os
import posixpath

from ciswitch.disk_paths import resolved, within
from ciswitch.model import LintResult, Problem
from ciswitch.record import replace


def prefix_for(
    root: str | os.PathLike[str] | None, cwd: str | os.PathLike[str] | None = None
) -> str:
    """What goes before a path relative to ``root`` ("" when ``root`` is the current
    directory or unknown)."""
    if root is None:
        return ""
    here = resolved(cwd or os.getcwd())
    there = resolved(root)
    if there == here:
        return ""
    if within(there, here) or within(here, there):
        return os.path.relpath(there, here)
    return there


def shown(prefix: str, rel: str) -> str:
    """``rel`` (repository-relative) behind ``prefix``."""
    if not prefix or rel.startswith("/"):
        return rel
    return posixpath.normpath(posixpath.join(prefix, rel.removeprefix("./")))


def problem_line(problem: Problem, root: str | os.PathLike[str] | None) -> str:
    """One input error as the command line prints it, its path relative to the current
    directory."""
    return replace(problem, path=shown(prefix_for(root), problem.path)).one_line()


def rebased(result: LintResult, prefix: str) -> LintResult:
    """A copy of ``result`` whose paths are relative to the current directory."""
    if not prefix:
        return result
    paths: dict[str, str] = {}  # the many findings of a file share its path

    def path(rel: str) -> str:
        found = paths.get(rel)
        if found is None:
            found = paths[rel] = shown(prefix, rel)
        return found

    # a place of GitLab's settings is a logical name, not a path: it stays as it is
    return replace(
        result,
        findings=[replace(f, path=path(f.path)) if f.in_file else f for f in result.findings],
        problems=[replace(p, path=path(p.path)) for p in result.problems],
        notices=[replace(n, path=path(n.path)) for n in result.notices],
        not_checked=[replace(e, path=path(e.path)) if e.in_file else e
                     for e in result.not_checked],
        files=[path(f) for f in result.files],
    )
