"""What findings say: before the switch how to migrate, after it that werf refuses :local."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "rules"


def _lint_json(repo: Path) -> dict[str, list[dict[str, object]]]:
    result = subprocess.run(
        [sys.executable, "-m", "ciswitch", "lint", "--format", "json", str(repo)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 1, result.stderr
    data: dict[str, list[dict[str, object]]] = json.loads(result.stdout)
    return data


def test_after_the_switch_findings_say_werf_refuses_local() -> None:
    data = _lint_json(FIXTURES / "CSW002" / "switched-project-message" / "input")
    [finding] = data["findings"]
    assert "reintroduces :local after the switch" in str(finding["message"])
    assert finding["severity"] == "error"


def test_before_the_switch_findings_explain_the_migration() -> None:
    data = _lint_json(FIXTURES / "CSW002" / "ci-env-does-not-override" / "input")
    [finding] = data["findings"]
    assert "werf ci-env does not override a variable that is already set" in str(
        finding["message"]
    )
    assert finding["jobs"] == ["build"] and finding["fixable"] is True
    assert str(finding["message"]).startswith(
        "WERF_STAGES_STORAGE=:local in global variables, used by job build: "
    )


def test_one_finding_names_every_job_of_a_shared_anchor() -> None:
    data = _lint_json(FIXTURES / "CSW001" / "anchor-three-jobs" / "input")
    [finding] = data["findings"]
    assert finding["jobs"] == ["production", "review", "staging"]
    assert (finding["line"], finding["column"], finding["end_column"]) == (5, 19, 42)


def test_a_job_without_ci_env_is_told_to_pass_an_address() -> None:
    data = _lint_json(FIXTURES / "CSW004" / "no-ci-env-left-alone" / "input")
    codes = {(f["code"], f["fixable"]) for f in data["findings"]}
    assert codes == {("CSW004", False), ("CSW001", False), ("CSW002", False)}
    flag = next(f for f in data["findings"] if f["code"] == "CSW001")
    assert "pass --to ADDRESS" in str(flag["message"])
