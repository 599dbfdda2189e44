"""What a fix reads: the lint of the new text takes the files the fix leaves as they are
(includes, scripts) as the lint before it read them, and reads and composes only what changed.
Checked on real files with a directory workspace that counts its reads."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ciswitch.config import Config
from ciswitch.fix import plan_fix
from ciswitch.workspace import DirectoryWorkspace


class _Counting(DirectoryWorkspace):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads: Counter[str] = Counter()

    def read_bytes(self, rel: str) -> bytes:
        self.reads[rel] += 1
        return super().read_bytes(rel)


def _repo(tmp_path: Path, include_local: bool) -> Path:
    (tmp_path / "ci").mkdir()
    (tmp_path / ".gitlab-ci.yml").write_text(
        "include:\n  - local: ci/jobs.yml\n"
        "default:\n  before_script:\n    - source $(werf ci-env gitlab --as-file)\n"
        "build:\n  script:\n    - werf build --stages-storage :local\n    - ./deploy.sh\n"
    )
    storage = " --stages-storage :local" if include_local else ""
    (tmp_path / "ci" / "jobs.yml").write_text(
        f"test:\n  script:\n    - werf run{storage} -- echo ok\n"
    )
    (tmp_path / "deploy.sh").write_text("#!/bin/sh\nwerf deploy --env prod\n")
    return tmp_path


def test_files_the_fix_leaves_are_read_once(tmp_path: Path) -> None:
    ws = _Counting(_repo(tmp_path, include_local=False))
    outcome = plan_fix(ws, Config())
    assert [c.path for c in outcome.changes] == [".gitlab-ci.yml"]
    assert b":local" not in outcome.changes[0].new
    assert not outcome.remaining and len(outcome.fixed) == 1
    # the include and the script: read by the first lint only; the CI file is not read
    # again either (its new text is in memory)
    assert ws.reads == Counter({".gitlab-ci.yml": 1, "ci/jobs.yml": 1, "deploy.sh": 1})


def test_an_include_the_fix_changes_is_relinted_in_its_new_text(tmp_path: Path) -> None:
    ws = _Counting(_repo(tmp_path, include_local=True))
    outcome = plan_fix(ws, Config())
    changed = {c.path: c.new for c in outcome.changes}
    assert set(changed) == {".gitlab-ci.yml", "ci/jobs.yml"}
    assert all(b":local" not in new for new in changed.values())
    assert not outcome.remaining and len(outcome.fixed) == 2
    assert ws.reads == Counter({".gitlab-ci.yml": 1, "ci/jobs.yml": 1, "deploy.sh": 1})
