"""The pipeline proof's last net: after a fix, every job has the variables it had, apart from
the stages storage and synchronization ones the fix takes or re-points. A fix that made any
other variable come or go (none of ciswitch's may) is refused with the job and the names."""

from __future__ import annotations

from pathlib import Path

import pytest

from ciswitch.analysis.facts import Facts
from ciswitch.analysis.proof import Blocked, pipeline_error, pipeline_view
from ciswitch.config import load_config
from ciswitch.lint import analyse_workspace
from ciswitch.workspace import DirectoryWorkspace

BEFORE = """\
variables:
  WERF_STAGES_STORAGE: ":local"
  KEEP: "1"
build:
  variables:
    OWN: "x"
  script:
    - type werf && source $(werf ci-env gitlab --as-file)
    - werf build-and-publish
"""


def _facts(root: Path, text: str) -> Facts:
    (root / ".gitlab-ci.yml").write_text(text, encoding="utf-8")
    ws = DirectoryWorkspace(root)
    return analyse_workspace(ws, load_config(ws, None), entry=".gitlab-ci.yml").facts


@pytest.mark.parametrize(
    ("after", "reason"),
    [
        # what a fix does: the storage variable goes, nothing else changes
        (BEFORE.replace('  WERF_STAGES_STORAGE: ":local"\n', ""), None),
        (BEFORE.replace('":local"', '"registry.example.com/stages"'), None),
        # what no fix may do
        (BEFORE.replace('  KEEP: "1"\n', ""), "the variables of job build would change (KEEP)"),
        (BEFORE.replace('    OWN: "x"\n', '    OWN: "x"\n    NEW: "y"\n'),
         "the variables of job build would change (NEW)"),
    ],
)
def test_only_the_storage_variables_may_come_or_go(
    tmp_path: Path, after: str, reason: str | None,
) -> None:
    view = pipeline_view(_facts(tmp_path, BEFORE))
    blocked = pipeline_error(view, _facts(tmp_path, after), None)
    if reason is None:
        assert blocked is None
    else:
        assert isinstance(blocked, Blocked)
        assert blocked.reason.startswith(reason)
