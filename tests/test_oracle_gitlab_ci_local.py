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
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from oracles.gitlab_ci_local import (
    Job,
    OracleError,
    carries_local,
    expand_pipeline,
    required_tool,
)

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


#: where today's ciswitch fails (a) or (b): case -> precise reason (the lint to-do list)
KNOWN_GAPS: dict[str, str] = {}

#: where gitlab-ci-local cannot expand the file: case -> why (the case then expects OracleError)
ORACLE_EXCEPTIONS: dict[str, str] = {
    "rules/fixsafety/block-last-line-keeps-next-key": (
        "starts with a UTF-8 BOM, which gitlab-ci-local's YAML parser (js-yaml) rejects; the "
        "same fault as rules/CSW001/bom-and-no-final-newline"
    ),
    "rules/CSW001/bom-and-no-final-newline": (
        "gitlab-ci-local's YAML parser (js-yaml) rejects a file starting with a UTF-8 BOM"
        " (1:2 'end of the stream or a document separator is expected'); GitLab and YAML "
        "1.2 allow the BOM"
    ),
    "rules/CSW002/only-variable-removes-key": (
        "the fixture has stages: [build] while job build uses the default stage test; "
        "gitlab-ci-local, like GitLab, rejects it: 'stage:test not found for build' (the "
        "fixture only exercises the variable's removal)"
    ),
    "rules/model/include-file-linted-alone-with-includes": (
        "ci/werf.yml and ci/werf-init.yml include each other; gitlab-ci-local follows the"
        " cycle to its 'Maximum of 150 nested includes' error"
    ),
    "corpus/werf/008-demos-nodejs-database.yml": (
        "not valid YAML for js-yaml: 'bad indentation of a mapping entry (6:3)', "
        "before_script: indented under the stages: list"
    ),
    "corpus/werf/023-saas-frontend-root.yml": (
        "its trigger: include: child files (.gitlab-ci/variables/_Review_Variables.yml "
        "...) are not in the corpus; gitlab-ci-local fails on the missing child file"
    ),
    "corpus/werf/032-deckhouse-modules-cleanup.yml": (
        "an include fragment: !reference [.setup, before_script] names a template of the "
        "pipeline that includes it, which the corpus does not hold"
    ),
    "corpus/plain/004-gitlab-tpl-opentofu.yml": (
        "its stages: come from the stubbed template include: 'stage:test not found for "
        "fmt'"
    ),
    "corpus/plain/007-lfuuu-stattest.yml": (
        "its stages: come from the stubbed project include: 'stage:test not found for "
        "build_stage'"
    ),
    "corpus/plain/008-lfuuu-voipguiaprel.yml": (
        "not valid YAML: at line 69 'needs:' is indented under the plain scalar of "
        "'extends:' (js-yaml: bad indentation)"
    ),
    "corpus/plain/009-auth-proxy.yml": (
        "dependencies: [prod&compose] names a job of the stubbed include: 'cannot be "
        "found'"
    ),
    "corpus/plain/013-ppv-decision-tool.yml": (
        "job Build gets its script from the stubbed project include: 'Build must have "
        "script specified'"
    ),
    "corpus/plain/016-wally-rommaster-test-include.yml": (
        "an include fragment: extends .docker defined by the including pipeline, absent "
        "from the corpus"
    ),
    "corpus/plain/018-cdts-dotnet-test-include.yml": (
        "an include fragment: extends .secrets defined by the including pipeline, absent "
        "from the corpus"
    ),
    "corpus/plain/020-permifrost.yml": (
        "job sast gets its script from the stubbed SAST template include: 'sast must have"
        " script specified'"
    ),
    "corpus/plain/023-libvirt-python.yml": (
        "needs: [x86_64-centos-stream-9-git] names a job of the stubbed include: 'could "
        "not be found'"
    ),
    "corpus/plain/024-libvirt-python-ci-gitlab.yml": (
        "an include fragment: stage sanity_checks is declared by the including pipeline"
    ),
    "corpus/plain/026-libvirt-python-builds.yml": (
        "an include fragment: extends .native_build_job defined in a sibling include, "
        "absent here"
    ),
    "corpus/plain/027-yunohost.yml": (
        "gitlab-ci-local cannot evaluate rules: if: $CI_COMMIT_REF_NAME == "
        "\"ci-format-$CI_DEFAULT_BRANCH\" (a variable inside a quoted string): it builds "
        "the invalid JavaScript '\"main\" == \"ci-format-\"main\"\"'"
    ),
    "corpus/plain/028-yunohost-build-include.yml": (
        "an include fragment: needs: [actionsmap] names a job of another fragment"
    ),
    "corpus/plain/029-yunohost-test-include.yml": (
        "an include fragment: needs: [build-yunohost] names a job of another fragment"
    ),
    "corpus/plain/030-yunohost-bot-include.yml": (
        "an include fragment: stage bot is declared by the including pipeline"
    ),
    "corpus/plain/031-yunohost-install-include.yml": (
        "an include fragment: stage install is declared by the including pipeline"
    ),
}


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
    return required_tool()


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


# --- the oracle's own semantics (no gitlab-ci-local needed) ----------------------------------


@pytest.mark.parametrize(("script", "variables", "expected"), [
    ("werf build -s :local", {}, True),
    ("werf build --stages-storage=':local'", {}, True),
    ('werf build -s":local"', {}, True),
    ("werf stages -s :local cleanup", {}, True),
    ("export WERF_STAGES_STORAGE=:local", {}, True),
    ("werf deploy $ARGS", {"ARGS": "--stages-storage :local --log-verbose"}, True),
    ('"$WERF_BIN" build -s :local', {"WERF_BIN": "/usr/local/bin/werf"}, True),
    ("werf", {"WERF_STAGES_STORAGE": "${S}", "S": ":local"}, True),
    ("werf stages sync --from :local --to $R && werf build -s :local", {}, True),
    ("werf stages sync --from :local --to $R", {}, False),
    ("werf stages switch-from-local --to $R", {}, False),
    ('echo "werf build -s :local"', {}, False),
    ("echo production | xargs -I{} werf deploy --stages-storage :local", {}, True),
    ("sh -c 'werf build -s:local'", {}, True),
    ("helm upgrade -s :local x", {}, False),
    ("helm upgrade -s :local x && werf deploy", {}, False),
    ("cat <<EOF werf build -s :local EOF", {}, False),
    ("werf build --stages-storage :localhost", {}, False),
    ("werf", {"WERF_STAGES_STORAGE": "registry.example.test/stages"}, False),
])
def test_oracle_semantics(script: str, variables: dict[str, str], expected: bool,
                          tmp_path: Path) -> None:
    job = Job("build", (script,), (variables,))
    assert carries_local(job, tmp_path) is expected


def test_finding_names() -> None:
    matrix = Job("build: [a,b]", (), ({},))
    child = Job("child-build", (), ({},), parent="kid")
    assert names_job("build", matrix) and names_job("build: [a,b]", matrix)
    assert not names_job("build: [a]", matrix)
    assert names_job("child-build", child) and names_job("child-build of the child of kid", child)
    assert not names_job("kid", child) and not names_job(".template", matrix)
