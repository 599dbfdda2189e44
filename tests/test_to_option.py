"""One check of ``--to`` for every command that takes it: a bad address is a one-line usage
error (exit 2) before anything is read, written or pushed."""

from __future__ import annotations

from pathlib import Path

import pytest
from gitrepos import isolate_git, make_project, repo_state, run_ciswitch, tree_digest

from ciswitch.errors import CiswitchError
from ciswitch.stages_address import address_problem, check_address

CI_LOCAL = ("before_script:\n  - source $(werf ci-env gitlab --as-file)\n"
            "build:\n  script:\n    - werf build --stages-storage :local\n")
BAD = {
    "": "is empty",
    "   ": "is empty",
    "registry.example.com/a b": "contains a space",
    "-s": "starts with '-'",
    "--stages-storage": "starts with '-'",
    ":local": "is :local itself",
    ":other": "starts with ':'",
    "https://registry.example.com/g/p/stages": "has a scheme",
    "reg.example.com/p;rm -rf x": "contains a space",
    "reg.example.com/p;x": "which the shell would interpret",
    "reg.example.com/`id`": "which the shell would interpret",
}
GOOD = ["registry.example.com/group/project/stages", "localhost:5000/stages",
        "$CI_REGISTRY_IMAGE/stages", "${CI_REGISTRY_IMAGE}/stages"]


@pytest.mark.parametrize("value", sorted(BAD))
def test_bad_addresses(value: str) -> None:
    problem = address_problem(value)
    assert problem is not None and BAD[value] in problem
    with pytest.raises(CiswitchError, match=r"^--to: "):
        check_address(value)


@pytest.mark.parametrize("value", GOOD)
def test_good_addresses(value: str) -> None:
    assert address_problem(value) is None
    assert check_address(value) == value


COMMANDS = {
    "fix": ["fix"],
    "branch": ["branch"],
    "fleet run": ["fleet", "run", "--repos", "repos.txt", "--workdir", "fleet-work"],
    "plan": ["plan"],
    "status": ["status"],
}


@pytest.mark.parametrize("value", ["", "a b", "-s", ":local"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_refuses_a_bad_to(command: str, value: str, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch, tmp_path)
    work, bare = make_project(tmp_path, {".gitlab-ci.yml": CI_LOCAL})
    (work / "repos.txt").write_text(f"{bare}\n")
    before, outside = repo_state(work, bare), tree_digest(tmp_path)
    done = run_ciswitch(*COMMANDS[command], "--to", value, cwd=work)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"ciswitch: error: --to: {value!r} "), done.stderr
    assert "internal error" not in done.stderr
    assert repo_state(work, bare) == before
    assert tree_digest(tmp_path) == outside
