"""What the replay learns from a text once and keeps for the analysis (whether it shows werf
1.2) is told by the text: lines that differ only in that sign give their jobs different
answers, and every job running an equal text or the same line gets the same one."""

from __future__ import annotations

from pathlib import Path

from ciswitch.config import load_config
from ciswitch.lint import analyse_workspace
from ciswitch.workspace import DirectoryWorkspace

_CI = """\
.converge: &converge
  - werf converge --repo registry.example/app
one:
  script: *converge
two:
  script: *converge
three:
  script:
    - werf converge --repo registry.example/app
plain:
  script:
    - werf build --stages-storage :local
    - werf build --repository registry.example/app
plain_too:
  script:
    - werf build --stages-storage :local
"""


def test_werf_1_2_signs_are_told_by_each_text(tmp_path: Path) -> None:
    (tmp_path / ".gitlab-ci.yml").write_text(_CI, encoding="utf-8")
    ws = DirectoryWorkspace(tmp_path)
    run = analyse_workspace(ws, load_config(ws, None), entry=".gitlab-ci.yml")
    assert {"one", "two", "three"} <= run.facts.v12_jobs
    assert not {"plain", "plain_too"} & run.facts.v12_jobs
