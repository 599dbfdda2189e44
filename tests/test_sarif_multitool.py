"""``ciswitch lint --format sarif`` checked by an independent consumer: the SARIF multitool.

Each scenario is a real temporary repository linted by the installed CLI. Its SARIF log is
first loaded by the multitool's object model (``rewrite``: a log it cannot deserialize, say
an unknown enum value, would otherwise validate silently with no result at all), then
``validate`` runs the Sarif, Gh (GitHub) and Ghas (GitHub Advanced Security) rule kinds at
every level. Required: no error, no warning, and no note except those kept in ``KEPT_NOTES``
(each with the reason). What today's reports still miss is listed in ``MISSING`` and its tests
are strict xfails, so the report that adds it has to remove the mark.

The multitool is the npm package ``@microsoft/sarif-multitool`` (its Linux binary ships in
``@microsoft/sarif-multitool-linux``); ``.ci/run`` installs it and points
``CISWITCH_SARIF_MULTITOOL`` at the binary. Without it the tests skip, except under CI
(``CI`` set) or when the variable names a missing file: then they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from gitlab_standin import GitLabStandin, running
from gitrepos import git

DOCS = Path(__file__).resolve().parent.parent / "docs"
RULE_CODES = sorted(p.stem for p in DOCS.joinpath("rules").glob("CSW*.md"))

MULTITOOL_BINARY = "Sarif.Multitool"
RULE_KINDS = "Sarif;Gh;Ghas"
LEVELS = "Error;Warning;Note"


def _multitool() -> Path:
    configured = os.environ.get("CISWITCH_SARIF_MULTITOOL")
    if configured:
        path = Path(configured)
        if not (path.is_file() and os.access(path, os.X_OK)):
            pytest.fail(f"CISWITCH_SARIF_MULTITOOL={configured} is not an executable file")
        return path
    found = shutil.which(MULTITOOL_BINARY)
    if found:
        return Path(found)
    reason = (
        "SARIF multitool not installed: `npm install --prefix DIR @microsoft/sarif-multitool` "
        "and set CISWITCH_SARIF_MULTITOOL=DIR/node_modules/@microsoft/sarif-multitool-linux/"
        "Sarif.Multitool (.ci/run does this)"
    )
    if os.environ.get("CI"):
        pytest.fail(reason + " [required under CI]")
    pytest.skip(reason)


# --------------------------------------------------------------------------- repositories

EVERY_RULE: dict[str, str] = {
    ".gitlab-ci.yml": """\
# Сборка и выкладка: one finding of every rule
variables:
  WERF_STAGES_STORAGE: ":local"

build:
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf build-and-publish --stages-storage :local --synchronization :local

deploy:
  script:
    - werf deploy -s :local
    - ci/deploy.sh

lint:
  script:
    - echo ok  # ciswitch: ignore[CSW001]
""",
    "ci/deploy.sh": """\
#!/bin/bash
echo "выкладка 漢字" && werf cleanup --stages-storage :local
""",
}

CLEAN: dict[str, str] = {
    ".gitlab-ci.yml": """\
build:
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf build-and-publish
""",
}

SUPPRESSED: dict[str, str] = {
    ".gitlab-ci.yml": """\
# ciswitch: ignore-file[CSW002]
variables:
  WERF_STAGES_STORAGE: ":local"

old-runner:
  when: manual
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf cleanup --stages-storage :local  # ciswitch: ignore[CSW001]

build:
  script:
    - source $(werf ci-env gitlab --as-file)
    # ciswitch: ignore[CSW003]
    - werf build --synchronization :local
    - werf publish -s :local
""",
}

INVALID_YAML: dict[str, str] = {".gitlab-ci.yml": "build:\n  script: [\n"}

NOT_CHECKED: dict[str, str] = {
    ".gitlab-ci.yml": """\
include:
  - project: group/ci-templates
    file: /werf.yml
build:
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf build --stages-storage :local
    - make images
""",
}

#: CI/CD variables in GitLab's settings (the stand-in on 127.0.0.1): results at logical places
GITLAB_SETTINGS: dict[str, str] = {
    ".gitlab-ci.yml": """\
build:
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf build-and-publish
deploy:
  environment: production
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf deploy
""",
}
GITLAB_PROJECT = "web/shop"
ADMIN_TOKEN = "glpat-sarif-admin-token"


def _arrange_gitlab(api: GitLabStandin) -> None:
    project = api.add_project(GITLAB_PROJECT)
    group = api.find_group("web")
    api.add_variable(project, "WERF_STAGES_STORAGE", ":local")
    api.add_variable(group, "WERF_SYNCHRONIZATION", ":local", environment_scope="production",
                     protected=True)
    api.add_schedule(project, "nightly cleanup", "main", {"WERF_STAGES_STORAGE": ":local"})


BAD_CONFIG: dict[str, str] = {
    ".gitlab-ci.yml": CLEAN[".gitlab-ci.yml"],
    ".ciswitch.toml": "selec = [\"CSW001\"]\n",
}


@dataclass(frozen=True)
class Scenario:
    name: str
    files: dict[str, str]
    git: bool
    exit_code: int
    has_results: bool
    input_error: str | None = None  # the file an input error must be reported at
    gitlab: bool = False  # lint with --gitlab-url against the stand-in (_arrange_gitlab)


SCENARIOS = [
    Scenario("every-rule", EVERY_RULE, git=False, exit_code=1, has_results=True),
    Scenario("every-rule-git", EVERY_RULE, git=True, exit_code=1, has_results=True),
    Scenario("clean-git", CLEAN, git=True, exit_code=0, has_results=False),
    Scenario("suppressions", SUPPRESSED, git=False, exit_code=1, has_results=True),
    Scenario("not-checked-git", NOT_CHECKED, git=True, exit_code=1, has_results=True),
    Scenario("invalid-yaml", INVALID_YAML, git=False, exit_code=2, has_results=False,
             input_error=".gitlab-ci.yml"),
    Scenario("bad-config-git", BAD_CONFIG, git=True, exit_code=2, has_results=False,
             input_error=".ciswitch.toml"),
    Scenario("gitlab-settings-git", GITLAB_SETTINGS, git=True, exit_code=1, has_results=True,
             gitlab=True),
]
BY_NAME = {s.name: s for s in SCENARIOS}


def _git_env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    (home / ".gitconfig").write_text("")
    return {
        **os.environ, "HOME": str(home), "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Test Author",
        "GIT_AUTHOR_EMAIL": "author@example.test", "GIT_COMMITTER_NAME": "Test Committer",
        "GIT_COMMITTER_EMAIL": "committer@example.test", "LC_ALL": "C",
    }


def _build(scenario: Scenario, base: Path, env: dict[str, str]) -> Path:
    root = base / scenario.name
    for rel, text in scenario.files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if rel.endswith(".sh"):
            path.chmod(0o755)
    if scenario.git:
        bare = base / f"{scenario.name}-remote.git"
        git(base, "init", "-q", "--bare", "-b", "main", str(bare), env=env)
        for args in (("init", "-q", "-b", "main"), ("add", "-A"),
                     ("commit", "-q", "-m", "initial"),
                     ("remote", "add", "origin", bare.as_uri()), ("push", "-q", "origin", "main")):
            git(root, *args, env=env)
    return root


# --------------------------------------------------------------------------- validation

@dataclass
class Validated:
    scenario: Scenario
    root: Path
    lint: subprocess.CompletedProcess[str]
    log: dict[str, Any]
    #: the multitool's results: (ruleId, level, message id, arguments)
    results: list[tuple[str, str, str, list[str]]] = field(default_factory=list)

    def notes(self) -> list[tuple[str, str, list[str]]]:
        return [(r, m, a) for r, level, m, a in self.results if level == "note"]


def _run_multitool(tool: Path, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "DOTNET_CLI_TELEMETRY_OPTOUT": "1"}
    return subprocess.run([str(tool), *args], capture_output=True, text=True, env=env,
                          check=False, timeout=300)


def validate_file(tool: Path, sarif: Path, work: Path) -> list[tuple[str, str, str, list[str]]]:
    """Load ``sarif`` with the multitool's object model, then validate it; the results."""
    work.mkdir(parents=True, exist_ok=True)
    home = work / "home"
    home.mkdir(exist_ok=True)
    rewritten = work / "rewritten.sarif"
    proc = _run_multitool(tool, "rewrite", str(sarif), "-o", str(rewritten), home=home)
    assert proc.returncode == 0 and rewritten.is_file(), (
        f"the SARIF SDK cannot load {sarif.name}:\n{proc.stdout}{proc.stderr}")
    out = work / "validation.sarif"
    proc = _run_multitool(tool, "validate", "--rule-kind", RULE_KINDS, "--level", LEVELS,
                          "-o", str(out), str(sarif), home=home)
    assert proc.returncode == 0 and out.is_file(), (
        f"sarif-multitool validate failed to run:\n{proc.stdout}{proc.stderr}")
    log = json.loads(out.read_text(encoding="utf-8"))
    results: list[tuple[str, str, str, list[str]]] = []
    for run in log["runs"]:
        for inv in run.get("invocations", []):
            assert inv.get("executionSuccessful", True), inv
        for result in run.get("results", []):
            message = result.get("message", {})
            results.append((
                result["ruleId"],
                result.get("level", "warning"),  # SARIF's default level
                str(message.get("id", message.get("text", ""))),
                [str(a) for a in message.get("arguments", [])],
            ))
    return results


@pytest.fixture(scope="module")
def multitool() -> Path:
    return _multitool()


@pytest.fixture(scope="module")
def gitlab_api() -> Any:
    with running({ADMIN_TOKEN: True}) as api:
        _arrange_gitlab(api)
        yield api


@pytest.fixture(scope="module")
def validated(multitool: Path, tmp_path_factory: pytest.TempPathFactory,
              gitlab_api: GitLabStandin) -> Callable[[str], Validated]:
    base = tmp_path_factory.mktemp("sarif")
    env = _git_env(base / "home")
    cache: dict[str, Validated] = {}

    def get(name: str) -> Validated:
        if name in cache:
            return cache[name]
        scenario = BY_NAME[name]
        root = _build(scenario, base, env)
        extra: list[str] = []
        run_env = env
        if scenario.gitlab:
            extra = ["--gitlab-url", gitlab_api.url, "--gitlab-project", GITLAB_PROJECT]
            run_env = {**env, "GITLAB_TOKEN": ADMIN_TOKEN}
        sarif = base / f"{name}.sarif"
        # the log as a CI job writes it: a file (input errors go into it as notifications and
        # to standard error as one line each; without --output standard output stays empty)
        lint = subprocess.run(
            [sys.executable, "-m", "ciswitch", "lint", "--format", "sarif", "--output",
             str(sarif), *extra], cwd=root,
            capture_output=True, text=True, env=run_env, check=False, timeout=120,
        )
        assert "Traceback" not in lint.stderr, lint.stderr
        assert lint.returncode == scenario.exit_code, (lint.returncode, lint.stderr)
        log = json.loads(sarif.read_text(encoding="utf-8"))
        results = validate_file(multitool, sarif, base / f"{name}-validation")
        cache[name] = Validated(scenario, root, lint, log, results)
        return cache[name]

    return get


# --------------------------------------------------------------------------- kept notes

#: notes the multitool gives that we keep on purpose: (rule, message id) -> reason
KEPT_NOTES: dict[tuple[str, str], str] = {
    ("SARIF2002", "Note_Default"):
        "results carry message.text, not message.id + arguments: GitHub code scanning rejects "
        "results without a flattened message.text (the Gh rule kind asks for it)",
    ("SARIF2006", "Note_Default"):
        "the multitool checks every absolute URI with an HTTP GET, and the test machine has no "
        "general network access; the URIs are checked by the docs and report tests instead",
}

#: the same, only where the scenario explains it
KEPT_IN_SCENARIO: dict[tuple[str, str], tuple[Callable[[Scenario], bool], str]] = {
    ("SARIF2003", "Note_Default"): (
        lambda s: not s.git,
        "not a git repository: there is no revision for versionControlProvenance to name",
    ),
}


@dataclass(frozen=True)
class Missing:
    """Something today's SARIF lacks: the multitool notes it gives, and a direct check."""

    notes: tuple[tuple[str, str], ...]
    reason: str
    applies: Callable[[Scenario], bool]


#: nothing is missing today; a gap found later goes here, with the strict xfail of its test
MISSING: dict[str, Missing] = {}


def _allowed(scenario: Scenario, key: tuple[str, str]) -> bool:
    if key in KEPT_NOTES:
        return True
    kept = KEPT_IN_SCENARIO.get(key)
    if kept is not None and kept[0](scenario):
        return True
    return any(key in m.notes and m.applies(scenario) for m in MISSING.values())


# --------------------------------------------------------------------------- the harness

def _every_rule_log(validated: Callable[[str], Validated]) -> dict[str, Any]:
    log = validated("every-rule").log
    assert log["runs"][0]["results"], "the every-rule scenario must have results"
    copy: dict[str, Any] = json.loads(json.dumps(log))
    return copy


def test_harness_fails_a_log_the_sdk_cannot_load(
    multitool: Path, validated: Callable[[str], Validated], tmp_path: Path
) -> None:
    log = _every_rule_log(validated)
    log["runs"][0]["results"][0]["level"] = "fatal"
    bad = tmp_path / "bad-level.sarif"
    bad.write_text(json.dumps(log, indent=2), encoding="utf-8")
    with pytest.raises(AssertionError, match="cannot load"):
        validate_file(multitool, bad, tmp_path / "v")


def test_harness_sees_schema_errors(
    multitool: Path, validated: Callable[[str], Validated], tmp_path: Path
) -> None:
    log = _every_rule_log(validated)
    log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    bad = tmp_path / "line-zero.sarif"
    bad.write_text(json.dumps(log, indent=2), encoding="utf-8")
    errors = [r for r in validate_file(multitool, bad, tmp_path / "v") if r[1] == "error"]
    assert errors, "the multitool must report startLine 0 as an error"


def test_scenarios_cover_every_rule(validated: Callable[[str], Validated]) -> None:
    assert RULE_CODES == ["CSW001", "CSW002", "CSW003", "CSW004", "CSW005", "CSW100"]
    reported = {r["ruleId"] for r in validated("every-rule").log["runs"][0]["results"]}
    # CSW005 needs GitLab's settings: the stand-in's scenario has it, and only it
    in_settings = {r["ruleId"] for r in validated("gitlab-settings-git").log["runs"][0]["results"]}
    assert reported == set(RULE_CODES) - {"CSW005"}
    assert in_settings == {"CSW005"}


def test_settings_results_have_a_logical_location_and_no_file(
    validated: Callable[[str], Validated]
) -> None:
    run = validated("gitlab-settings-git").log["runs"][0]
    places = []
    for result in run["results"]:
        [location] = result["locations"]
        assert "physicalLocation" not in location
        [logical] = location["logicalLocations"]
        assert logical["kind"] == "variable"
        assert logical["name"] in ("WERF_STAGES_STORAGE", "WERF_SYNCHRONIZATION")
        assert logical["fullyQualifiedName"].endswith(
            f"variable {logical['name']}" if "schedule" in logical["fullyQualifiedName"]
            else f"variable {logical['name']} (environment scope "
            f"{'production' if 'group' in logical['fullyQualifiedName'] else '*'})")
        places.append(logical["fullyQualifiedName"])
    assert sorted(places) == sorted([
        "gitlab: group web/ variable WERF_SYNCHRONIZATION (environment scope production)",
        f"gitlab: project {GITLAB_PROJECT} variable WERF_STAGES_STORAGE (environment scope *)",
        f"gitlab: project {GITLAB_PROJECT} schedule 3 (nightly cleanup) variable "
        "WERF_STAGES_STORAGE",
    ])
    # an admin's token read every level: nothing is left unread
    assert run["invocations"][0]["toolExecutionNotifications"] == []


@pytest.mark.parametrize("name", [s.name for s in SCENARIOS])
def test_no_errors_and_no_warnings(validated: Callable[[str], Validated], name: str) -> None:
    got = validated(name)
    bad = [r for r in got.results if r[1] != "note"]
    assert bad == []


@pytest.mark.parametrize("name", [s.name for s in SCENARIOS])
def test_no_note_we_have_not_decided_to_keep(
    validated: Callable[[str], Validated], name: str
) -> None:
    got = validated(name)
    unexpected = [n for n in got.notes() if not _allowed(got.scenario, (n[0], n[1]))]
    assert unexpected == []


def _missing_cases() -> list[Any]:
    cases = []
    for item, missing in MISSING.items():
        for scenario in SCENARIOS:
            if missing.applies(scenario):
                cases.append(pytest.param(
                    scenario.name, item, id=f"{scenario.name}-{item}",
                    marks=pytest.mark.xfail(strict=True, reason=missing.reason),
                ))
    return cases


@pytest.mark.parametrize(("name", "item"), _missing_cases())
def test_multitool_has_no_note_for(
    validated: Callable[[str], Validated], name: str, item: str
) -> None:
    got = validated(name)
    keys = MISSING[item].notes
    assert [n for n in got.notes() if (n[0], n[1]) in keys] == []


def _rules(log: dict[str, Any]) -> list[dict[str, Any]]:
    return list(log["runs"][0]["tool"]["driver"].get("rules", []))


def test_every_rule_has_a_help_uri_to_its_page(validated: Callable[[str], Validated]) -> None:
    rules = _rules(validated("every-rule").log)
    assert {r["id"] for r in rules} == set(RULE_CODES)
    for rule in rules:
        assert str(rule.get("helpUri", "")).endswith(f"rules/{rule['id']}.md"), rule["id"]


def test_rule_names_are_pascal_case(validated: Callable[[str], Validated]) -> None:
    names = {r["id"]: r.get("name", "") for r in _rules(validated("every-rule").log)}
    assert names["CSW001"] == "LocalStagesStorageFlag"
    assert all(re.fullmatch(r"(?:[A-Z][a-z0-9]*)+", n) for n in names.values()), names


def _line(root: Path, uri: str, number: int) -> str:
    return root.joinpath(uri).read_text(encoding="utf-8").splitlines()[number - 1]


def test_every_result_has_a_snippet_from_the_file(validated: Callable[[str], Validated]) -> None:
    got = validated("every-rule")
    for result in got.log["runs"][0]["results"]:
        loc = result["locations"][0]["physicalLocation"]
        region = loc["region"]
        line = _line(got.root, loc["artifactLocation"]["uri"], region["startLine"])
        assert region.get("snippet", {}).get("text", "") in line
        assert region["snippet"]["text"].strip()


def test_every_result_has_a_context_region(validated: Callable[[str], Validated]) -> None:
    got = validated("every-rule")
    for result in got.log["runs"][0]["results"]:
        loc = result["locations"][0]["physicalLocation"]
        context = loc.get("contextRegion", {})
        assert context.get("startLine", 0) <= loc["region"]["startLine"]
        line = _line(got.root, loc["artifactLocation"]["uri"], loc["region"]["startLine"])
        assert line in context.get("snippet", {}).get("text", "")


def test_git_repository_has_version_control_provenance(
    validated: Callable[[str], Validated]
) -> None:
    got = validated("every-rule-git")
    head = git(got.root, "rev-parse", "HEAD")
    provenance = got.log["runs"][0].get("versionControlProvenance", [])
    assert provenance and provenance[0].get("revisionId") == head
    assert provenance[0].get("repositoryUri")


def test_non_git_repository_has_no_version_control_provenance(
    validated: Callable[[str], Validated]
) -> None:
    assert "versionControlProvenance" not in validated("every-rule").log["runs"][0]


@pytest.mark.parametrize("name", [s.name for s in SCENARIOS if s.input_error])
def test_input_error_is_an_error_notification_at_the_file(
    validated: Callable[[str], Validated], name: str
) -> None:
    got = validated(name)
    run = got.log["runs"][0]
    assert run["results"] == []
    invocations = run.get("invocations", [])
    assert invocations and invocations[0]["executionSuccessful"] is False
    notes = invocations[0].get("toolExecutionNotifications", [])
    errors = [n for n in notes if n.get("level") == "error"]
    assert len(errors) == 1, notes
    loc = errors[0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == got.scenario.input_error
    assert loc["region"]["startLine"] >= 1
    assert errors[0]["message"]["text"]


def test_places_not_checked_are_note_notifications_at_their_line(
    validated: Callable[[str], Validated]
) -> None:
    run = validated("not-checked-git").log["runs"][0]
    [invocation] = run["invocations"]
    assert invocation["executionSuccessful"] is True
    *notes, settings = invocation["toolExecutionNotifications"]
    assert [(n["level"], n["locations"][0]["physicalLocation"]["region"]["startLine"],
             n["properties"]["notChecked"]) for n in notes] == [
        ("note", 2, "project-include"), ("note", 8, "make-target")]
    assert all(n["message"]["text"].startswith("not checked: ") for n in notes)
    # GitLab's settings (no --gitlab-url): a note of the run, at no file
    assert settings == {"level": "note", "properties": {"notChecked": "gitlab-settings"},
                        "message": {"text": "CI/CD variables in GitLab's settings were not "
                                            "checked: pass --gitlab-url with GITLAB_TOKEN"}}


def test_suppressed_findings_are_not_results(validated: Callable[[str], Validated]) -> None:
    got = validated("suppressions")
    lines = sorted(
        r["locations"][0]["physicalLocation"]["region"]["startLine"]
        for r in got.log["runs"][0]["results"]
    )
    # only `werf publish -s :local` (line 16) is left: the rest is suppressed
    assert lines == [16]
