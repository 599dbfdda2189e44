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


@pytest.mark.parametrize(
    ("before", "after", "reason", "group"),
    [
        (BEFORE, BEFORE.replace('  KEEP: "1"\n', ""),
         "the variables of job build would change (KEEP); change it by hand",
         "would change the variables of a job; change it by hand"),
        (BEFORE.replace("    - type werf && source $(werf ci-env gitlab --as-file)\n", ""),
         BEFORE.replace("    - type werf && source $(werf ci-env gitlab --as-file)\n", "")
         .replace('  WERF_STAGES_STORAGE: ":local"\n', ""),
         "job build gets WERF_STAGES_STORAGE=:local from here and runs werf without werf ci-env:"
         " it would have no stages storage; pass --to ADDRESS",
         "would take WERF_STAGES_STORAGE=:local from a job that runs werf without werf ci-env: it"
         " would have no stages storage; pass --to ADDRESS"),
    ],
)
def test_a_refusal_names_its_job_and_is_summed_up_without_it(
    tmp_path: Path, before: str, after: str, reason: str, group: str,
) -> None:
    """fix's summary counts one refusal about many jobs once, by the reason without the job."""
    from ciswitch.model import group_of

    blocked = pipeline_error(pipeline_view(_facts(tmp_path, before)), _facts(tmp_path, after),
                             None)
    assert isinstance(blocked, Blocked)
    assert blocked.reason == reason
    assert group_of(blocked.reason) == group
