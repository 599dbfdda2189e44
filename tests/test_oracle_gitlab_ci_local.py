"""Differential test of ``ciswitch lint`` against gitlab-ci-local's expansion of the pipeline.

gitlab-ci-local is an independent implementation of GitLab's include / ``extends`` /
``!reference`` / anchor / ``parallel: matrix:`` semantics. For every fixture pipeline and every
YAML file of the corpus:

(a) every job a finding names is a real job of gitlab-ci-local's job list (never a hidden
    ``.template``);
(b) every real job whose expanded script or variables carry a stages-storage ``:local``
    (:func:`oracles.gitlab_ci_local.carries_local`) is named by at least one finding.

A finding names job J when it lists J, or the base name of a matrix job (``build`` for
``build: [a]``), or, for job Y of the child pipeline of trigger job X, a name holding both Y and X.

Where ciswitch fails today, the case is in ``KNOWN_GAPS`` (strict xfail: fixing ciswitch turns it
into an unexpected pass and the entry must go). Where gitlab-ci-local cannot expand a file, the
case is in ``ORACLE_EXCEPTIONS`` (strict xfail on ``OracleError``).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from oracles.gitlab_ci_local import ENV_VAR, Job, OracleError, carries_local, expand_pipeline, tool

HERE = Path(__file__).parent
CORPUS = HERE.resolve().parent.parent / "shared" / "corpus"

# --- the cases -------------------------------------------------------------------------------


def _fixture_cases() -> list[tuple[str, Path]]:
    cases = []
    for group in ("rules", "oracle"):
        for root in sorted((HERE / "fixtures" / group).glob("**/input")):
            if (root / ".gitlab-ci.yml").is_file():
                cases.append((f"{group}/{root.parent.relative_to(HERE / 'fixtures' / group)}",
                              root))
    return cases


def _corpus_cases() -> list[tuple[str, Path]]:
    if not (CORPUS / "MANIFEST.tsv").is_file():
        return []
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [(f"corpus/{r['file']}", CORPUS / r["file"]) for r in rows
            if r["file"].endswith((".yml", ".yaml"))]


#: where today's ciswitch fails (a) or (b): case -> precise reason
KNOWN_GAPS: dict[str, str] = {}

#: where gitlab-ci-local cannot expand the file: case -> why (the case then expects OracleError)
ORACLE_EXCEPTIONS: dict[str, str] = {}


def _params() -> list[object]:
    params: list[object] = []
    for case_id, path in _fixture_cases() + _corpus_cases():
        marks = []
        if case_id in ORACLE_EXCEPTIONS:
            marks.append(pytest.mark.xfail(strict=True, raises=OracleError,
                                           reason=ORACLE_EXCEPTIONS[case_id]))
        elif case_id in KNOWN_GAPS:
            marks.append(pytest.mark.xfail(strict=True, raises=AssertionError,
                                           reason=KNOWN_GAPS[case_id]))
        params.append(pytest.param(path, id=case_id, marks=marks))
    return params


# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def glci() -> str:
    exe = tool()
    if exe is None:
        reason = (f"gitlab-ci-local not available (${ENV_VAR} unset or not executable; "
                  "tests/oracles/install.sh DIR installs it)")
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: CI must not skip the oracle")
        pytest.skip(reason)
    return exe


def _repo_copy(path: Path, tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    if path.is_dir():
        shutil.copytree(path, repo, symlinks=True)
    else:
        repo.mkdir()
        shutil.copyfile(path, repo / ".gitlab-ci.yml")
    return repo


def _lint(repo: Path) -> list[dict[str, object]]:
    proc = subprocess.run(
        [sys.executable, "-m", "ciswitch", "lint", "--format", "json", str(repo)],
        capture_output=True, text=True, check=False, timeout=120,
    )
    assert proc.returncode in (0, 1), f"ciswitch lint exit {proc.returncode}: {proc.stderr}"
    findings = json.loads(proc.stdout)["findings"]
    assert isinstance(findings, list)
    return findings


def _base(name: str) -> str:
    head, sep, _ = name.partition(": [")
    return head if sep and name.endswith("]") else name


def names_job(named: str, job: Job) -> bool:
    """Does the job name ``named`` of a finding designate ``job``?"""
    if named in (job.name, _base(job.name)):
        return True
    return bool(job.parent) and job.name in named and job.parent in named


# --- the test --------------------------------------------------------------------------------


def test_cases_found() -> None:
    ids = [case_id for case_id, _ in _fixture_cases()]
    assert sum(i.startswith("rules/") for i in ids) >= 20
    assert sum(i.startswith("oracle/") for i in ids) >= 10
    for case_id in [*KNOWN_GAPS, *ORACLE_EXCEPTIONS]:
        assert case_id in {c for c, _ in _fixture_cases() + _corpus_cases()} or (
            case_id.startswith("corpus/") and not CORPUS.is_dir()), case_id


def test_corpus_present_or_skipped() -> None:
    if not (CORPUS / "MANIFEST.tsv").is_file():
        pytest.skip(f"corpus not found at {CORPUS}: its oracle cases are not run")
    assert len(_corpus_cases()) >= 50


@pytest.mark.parametrize("path", _params())
def test_lint_agrees_with_gitlab_ci_local(path: Path, tmp_path: Path, glci: str) -> None:
    repo = _repo_copy(path, tmp_path)
    pipeline = expand_pipeline(repo, tmp_path / "oracle", glci)
    findings = _lint(repo)
    named = sorted({str(j) for f in findings for j in f.get("jobs") or []})  # type: ignore[attr-defined]

    not_jobs = [n for n in named if not any(names_job(n, j) for j in pipeline.jobs)]
    missed = [j.name + (f" (child of {j.parent})" if j.parent else "")
              for j in pipeline.jobs
              if carries_local(j, repo) and not any(names_job(n, j) for n in named)]
    assert not not_jobs and not missed, (
        f"(a) named by findings but not real jobs: {not_jobs}; "
        f"(b) real jobs with :local named by no finding: {missed}; "
        f"real jobs: {sorted(pipeline.names())}; named: {named}"
    )
