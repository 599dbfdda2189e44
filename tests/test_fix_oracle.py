"""``fix`` on random valid CI repositories, judged by an oracle that shares no code with ciswitch.

The generator is ``fixgen``, the oracle ``fixoracle`` (PyYAML, a shell tokenizer, ``bash -n``,
runs in bash with the werf stand-in), the driver ``fixdrive`` (the command line, in-process).
``bench/fix_stress.py`` runs the same property at scale and saves shrunk reproducers; the
known failure classes are under ``tests/fixtures/fixsafety/``.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import fixdrive
import fixgen
import fixoracle
import pytest
from hypothesis import HealthCheck, Phase, given, settings

#: the suite's profile: reproducible (derandomized), no shrinking (the stress script shrinks)
SUITE = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)

@SUITE
@given(fixgen.plans())
def test_fix_means_the_same_minus_local(plan: fixgen.Plan) -> None:
    """Targets: no wrong fix, no second run, no crash, no internal-error refusal, no place
    left only because fix's own proof rejected its recipe."""
    outcome = fixdrive.classify(fixgen.render(plan))
    assert not outcome.cls.startswith("wrong-fix"), outcome
    assert outcome.cls != "needs-second-run", outcome
    assert outcome.cls != "crash", outcome
    assert not outcome.cls.startswith("refused-internal-error"), outcome
    assert outcome.cls != "refused-by-proof", outcome
    assert outcome.cls in fixdrive.GOOD | {"refused-with-reason"}, outcome


@SUITE
@given(plan=fixgen.plans())
def test_generator_and_oracle_agree(
    plan: fixgen.Plan, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Not xfail: the test tools themselves must be right (valid input, counts agree)."""
    repo = fixgen.render(plan)
    root = tmp_path_factory.mktemp("gen")
    repo.write(root)
    doc = fixoracle.model(root)  # valid GitLab configuration as far as the oracle checks
    assert fixoracle.count_local(root) == repo.truth.count()
    scripts = fixoracle.job_scripts(doc)
    assert set(scripts) == set(repo.truth.jobs)
    assert fixoracle.bash_syntax_errors(scripts) == {}


# --------------------------------------------------------------------------- the oracle can fail

CI_ENV = "    - source $(werf ci-env gitlab --as-file)\n"


def _pair(tmp_path: Path, before: str, after: str) -> tuple[Path, Path]:
    b, a = tmp_path / "before", tmp_path / "after"
    for root, text in ((b, before), (a, after)):
        root.mkdir()
        (root / ".gitlab-ci.yml").write_text(text)
    return b, a


def test_oracle_accepts_the_right_fix(tmp_path: Path) -> None:
    before = "build:\n  script:\n" + CI_ENV + "    - werf build -s :local --verbose\n"
    after = "build:\n  script:\n" + CI_ENV + "    - werf build --verbose\n"
    verdict = fixoracle.compare(*_pair(tmp_path, before, after), unsafe=False)
    assert verdict.ok, verdict
    assert fixoracle.count_local(tmp_path / "before") == 1
    assert fixoracle.count_local(tmp_path / "after") == 0


def test_oracle_catches_a_removed_extra_word(tmp_path: Path) -> None:
    before = "build:\n  script:\n" + CI_ENV + "    - werf build -s :local --verbose\n"
    after = "build:\n  script:\n" + CI_ENV + "    - werf build\n"
    verdict = fixoracle.compare(*_pair(tmp_path, before, after), unsafe=False)
    assert not verdict.ok
    assert verdict.kind == "shell-structure-changed"


def test_oracle_catches_a_joined_chain(tmp_path: Path) -> None:
    before = (
        "build:\n  script:\n    - |\n      false && \\\n"
        "        export WERF_STAGES_STORAGE=:local\n      echo second\n"
    )
    wrong = "build:\n  script:\n    - |\n      false && \\\n      echo second\n"
    b, a = _pair(tmp_path, before, wrong)
    verdict = fixoracle.compare(b, a, unsafe=False)
    assert not verdict.ok
    assert verdict.kind == "shell-structure-changed"
    # the run in bash tells the same story on its own: 'second' is no longer printed
    run_b = fixoracle.run_script(fixoracle.job_scripts(fixoracle.model(b))["build"], b, False)
    run_a = fixoracle.run_script(fixoracle.job_scripts(fixoracle.model(a))["build"], a, False)
    assert run_b.stdout == ["second"]
    assert run_a.stdout == []
    # 'false' alone is wrong too: under set -e it stops the job, 'false && ...' does not
    for text, ok in (("false && true", True), ("false", False)):
        shutil.rmtree(a)
        a.mkdir()
        (a / ".gitlab-ci.yml").write_text(
            f"build:\n  script:\n    - |\n      {text}\n      echo second\n"
        )
        assert fixoracle.compare(b, a, unsafe=False, runnable_jobs={"build"}).ok is ok, text
        assert fixoracle.compare(b, a, unsafe=False).ok is ok, text


def test_oracle_merges_the_earlier_mapping_first(tmp_path: Path) -> None:
    """``<<: [*a, *b]``: the earlier mapping wins, the job's own keys win over both (GitLab's
    Ruby parser and js-yaml agree; PyYAML 6.0.4 lets the later win for ``variables``)."""
    (tmp_path / ".gitlab-ci.yml").write_text(
        ".a: &a\n  variables:\n    A: x\n  stage: test\n"
        ".b: &b\n  variables:\n    WERF_STAGES_STORAGE: ':local'\n  image: b\n"
        "build:\n  <<: [*a, *b]\n  stage: build\n  script:\n" + CI_ENV
    )
    job = fixoracle.model(tmp_path)["build"]
    assert (job["variables"], job["stage"], job["image"]) == ({"A": "x"}, "build", "b")


def test_oracle_counts_a_reference_to_an_included_file(tmp_path: Path) -> None:
    """An entry taking ``:local`` by ``!reference`` from a template of an included file sets
    ``:local`` as much as one taking it from the same file."""
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "common.yml").write_text(
        ".vars:\n  variables:\n    WERF_STAGES_STORAGE: ':local'\n"
    )
    (tmp_path / ".gitlab-ci.yml").write_text(
        "include:\n  - local: ci/common.yml\nbuild:\n  variables:\n"
        "    WERF_STAGES_STORAGE: !reference [.vars, variables, WERF_STAGES_STORAGE]\n"
        "  script:\n" + CI_ENV
    )
    assert fixoracle.count_local(tmp_path) == 1
    assert fixoracle.count_local(tmp_path, references=True) == 2


def test_oracle_catches_a_dangling_reference_and_a_changed_merge(tmp_path: Path) -> None:
    before = (
        ".vars:\n  variables:\n    WERF_STAGES_STORAGE: ':local'\n    OTHER: x\n"
        "build:\n  variables:\n"
        "    WERF_STAGES_STORAGE: !reference [.vars, variables, WERF_STAGES_STORAGE]\n"
        "  script:\n" + CI_ENV
    )
    after = (
        ".vars:\n  variables:\n    OTHER: x\n"
        "build:\n  variables:\n"
        "    WERF_STAGES_STORAGE: !reference [.vars, variables, WERF_STAGES_STORAGE]\n"
        "  script:\n" + CI_ENV
    )
    verdict = fixoracle.compare(*_pair(tmp_path, before, after), unsafe=False)
    assert (verdict.ok, verdict.kind) == (False, "dangling-reference")

    merged = tmp_path / "merged"
    merged.mkdir()
    before = (
        ".t: &t\n  variables:\n    OTHER: x\n"
        "build:\n  <<: *t\n  variables:\n    WERF_STAGES_STORAGE: ':local'\n  script:\n" + CI_ENV
    )
    after = ".t: &t\n  variables:\n    OTHER: x\nbuild:\n  <<: *t\n  script:\n" + CI_ENV
    verdict = fixoracle.compare(*_pair(merged, before, after), unsafe=False)
    assert (verdict.ok, verdict.kind) == (False, "variables-changed")


def test_oracle_catches_a_changed_run_the_structure_allows(tmp_path: Path) -> None:
    """A werf argument vector differing only in a flag that must stay: the run sees it."""
    before = "build:\n  script:\n    - werf build --synchronization :local -s :local\n"
    after = "build:\n  script:\n    - werf build\n"
    b, a = _pair(tmp_path, before, after)
    assert not fixoracle.compare(b, a, unsafe=False).ok  # synchronization kept without --unsafe
    assert fixoracle.compare(b, a, unsafe=True, runnable_jobs={"build"}).ok


# --------------------------------------------------------------------------- same CLI both ways


@settings(max_examples=3, deadline=None, derandomize=True, database=None, phases=[Phase.generate])
@given(plan=fixgen.plans())
def test_inprocess_runs_equal_the_installed_cli(
    plan: fixgen.Plan, tmp_path_factory: pytest.TempPathFactory
) -> None:
    repo = fixgen.render(plan)
    results = []
    for run in (fixdrive.run_inprocess, fixdrive.run_subprocess):
        root = tmp_path_factory.mktemp("cli")
        repo.write(root)
        flags = ["--unsafe-fixes"] if repo.unsafe else []
        result = run(["fix", *flags, str(root)])
        files = {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}
        results.append((result.code, files))
    assert results[0] == results[1]


FIXSAFETY = Path(__file__).parent / "fixtures" / "fixsafety"


@pytest.mark.parametrize(
    "case", sorted(p.name for p in FIXSAFETY.iterdir()) if FIXSAFETY.is_dir() else []
)
def test_fixsafety_inputs_are_valid(case: str) -> None:
    """Each saved reproducer is a valid configuration with ``:local`` in it (the oracle's view)."""
    root = FIXSAFETY / case / "input"
    scripts = fixoracle.job_scripts(fixoracle.model(root))
    assert fixoracle.bash_syntax_errors(scripts) == {}
    assert fixoracle.count_local(root) > 0
    assert (FIXSAFETY / case / "notes.txt").read_text().strip()


def test_stress_script_counts_and_saves(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = Path(__file__).resolve().parent.parent / "bench" / "fix_stress.py"
    result = subprocess.run(
        [
            sys.executable,
            str(script),
            "--examples",
            "12",
            "--seed",
            "3",
            "--subprocess",
            "1",
            "--save-failures",
            str(tmp_path),
            "--per-class",
            "1",
            "--shrink-seconds",
            "2",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode in (0, 1), result.stderr
    assert "examples: 12" in result.stdout
    counted = re.findall(r"^  (\S+)\s+(\d+)\s+[\d.]+%$", result.stdout, re.MULTILINE)
    groups = {name: int(n) for name, n in counted if ":" not in name}
    assert sum(groups.values()) >= 12  # per class, then per group: each example counted
    saved = [p for p in tmp_path.rglob("notes.txt")]
    assert (result.returncode == 1) == bool(saved)
