"""A ``variables:`` entry taking a removed ``:local`` entry by ``!reference`` goes with it,
however the tag is spelled: the walk for such entries skips only files where no node can
carry the tag (no ``!reference`` and no ``%TAG`` handle that could spell it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CISWITCH = Path(sys.executable).with_name("ciswitch")
PIPELINE = """\
.vars:
  variables:
    WERF_STAGES_STORAGE: ":local"

build:
  variables:
    WERF_STAGES_STORAGE: {tag} [.vars, variables, WERF_STAGES_STORAGE]
  script:
    - type werf && source $(werf ci-env gitlab --as-file)
    - werf build-and-publish
"""


@pytest.mark.parametrize(
    ("head", "tag"), [("", "!reference"), ("%TAG !e! !ref\n---\n", "!e!erence")]
)
def test_the_referring_entry_is_removed_too(tmp_path: Path, head: str, tag: str) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    ci = tmp_path / ".gitlab-ci.yml"
    ci.write_text(head + PIPELINE.format(tag=tag), encoding="utf-8")
    done = subprocess.run(
        [str(CISWITCH), "fix", "--diff", "."], cwd=tmp_path, capture_output=True, text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    removed = [line[1:].strip() for line in done.stdout.splitlines()
               if line.startswith("-") and not line.startswith("---")]
    assert f"WERF_STAGES_STORAGE: {tag} [.vars, variables, WERF_STAGES_STORAGE]" in removed
    assert 'WERF_STAGES_STORAGE: ":local"' in removed


@pytest.mark.parametrize(
    ("head", "tag", "found"),
    [("", "!reference", 1), ("%TAG !e! !ref\n---\n", "!e!erence", 1), ("", "!ref", 0)],
)
def test_the_index_of_references_sees_every_spelling(
    tmp_path: Path, head: str, tag: str, found: int
) -> None:
    from ciswitch.analysis.entries import _references_by_file
    from ciswitch.gitlab import load_pipeline
    from ciswitch.workspace import DirectoryWorkspace

    (tmp_path / ".gitlab-ci.yml").write_text(head + PIPELINE.format(tag=tag), encoding="utf-8")
    pipeline = load_pipeline(DirectoryWorkspace(tmp_path), ".gitlab-ci.yml")
    index = _references_by_file(pipeline)
    assert sum(len(entries) for entries in index.values()) == found
