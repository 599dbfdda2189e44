"""A repository written from text and linted by the installed CLI: what ``lint -v`` lists as
not checked, GitLab's settings line left out (every lint without ``--gitlab-url`` names it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def not_checked_entries(repo: Path, ci: str, files: dict[str, str] | None = None) -> list[str]:
    """Write ``ci`` as the repository's ``.gitlab-ci.yml`` and ``files`` beside it (by path),
    lint it, and return its "not checked" lines; the lint must exit 0 (no findings)."""
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitlab-ci.yml").write_text(ci, encoding="utf-8")
    for rel, text in (files or {}).items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "ciswitch", "lint", "-v"], cwd=repo, capture_output=True,
        text=True, check=False, timeout=120, env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return [line for line in done.stdout.splitlines()
            if "not checked:" in line and not line.startswith("gitlab:")]
