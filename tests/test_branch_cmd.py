"""``ciswitch branch`` as a real subprocess against real repositories and bare remotes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from gitrepos import (
    RECORD_OPTIONS_HOOK,
    SECRET,
    TOKEN_URL,
    commit_all,
    git,
    gitlab_mr_hook,
    isolate_git,
    make_project,
    project_files,
    recorded_options,
    repo_state,
    run_ciswitch,
    write_files,
    write_hook,
)

BRANCH = "ciswitch/remote-stages-storage"
DESCRIPTION = Path(__file__).parent / "fixtures" / "git" / "description.md"
TRAILER = "Ciswitch-Change: remote-stages-storage"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)


def branch(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_ciswitch("branch", *args, cwd=work)


def remote_sha(bare: Path, name: str = BRANCH) -> str:
    return git(bare, "rev-parse", "--verify", "--quiet", f"refs/heads/{name}", check=False)


def assert_error(proc: subprocess.CompletedProcess[str], *parts: str) -> None:
    """Exit 2 with one line on stderr that contains every part."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("ciswitch: error: ")
    for part in parts:
        assert part in lines[0]


# --------------------------------------------------------------------------- the happy path

def test_branch_commits_the_fix_and_pushes_merge_request_options(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, project_files("fixable"))
    write_hook(bare, "pre-receive", RECORD_OPTIONS_HOOK)
    head = git(work, "rev-parse", "HEAD")
    work_files = repo_state(work)["files"]

    proc = branch(
        work, "--draft", "--label", "ci", "--label", "werf", "--assign", "jane",
        "--push-option", "ci.skip", "--description-file", str(DESCRIPTION),
    )
    assert proc.returncode == 0, proc.stderr
    assert recorded_options(bare) == [
        "merge_request.create",
        "merge_request.target=main",
        "merge_request.title=Use remote werf stages storage instead of :local",
        "merge_request.description=Switch to remote storage. - step one - step two",
        "merge_request.remove_source_branch",
        "merge_request.draft",
        "merge_request.label=ci",
        "merge_request.label=werf",
        "merge_request.assign=jane",
        "ci.skip",
    ]
    sha = remote_sha(bare)
    assert sha and git(work, "rev-parse", BRANCH) == sha
    assert git(work, "rev-parse", f"{sha}^") == head
    # only the fixed files and the marker changed, and the fix removed exactly :local
    assert git(work, "diff", "--name-status", head, sha).splitlines() == [
        "A\t.ciswitch.toml", "M\t.gitlab-ci.yml", "M\tci/deploy.yml",
    ]
    diff = git(work, "diff", "-U0", head, sha, "--", ".gitlab-ci.yml", "ci/deploy.yml")
    removed = [ln for ln in diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    added = [ln for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    assert removed == [
        "-    - werf build --stages-storage :local",
        "-    - werf deploy --stages-storage=:local --env production",
    ]
    assert added == ["+    - werf build", "+    - werf deploy --env production"]
    marker = git(work, "show", f"{sha}:.ciswitch.toml")
    assert 'stages-storage = "remote"' in marker
    assert "stages-storage-address" not in marker
    message = git(work, "log", "-1", "--format=%B", sha)
    assert message.startswith("Use remote werf stages storage instead of :local\n\n")
    assert ".gitlab-ci.yml:12 CSW001" in message
    assert "ci/deploy.yml:5 CSW001" in message
    assert message.endswith(TRAILER)
    # the user's checkout is untouched
    assert git(work, "symbolic-ref", "--short", "HEAD") == "main"
    assert git(work, "status", "--porcelain") == ""
    assert repo_state(work)["files"] == work_files
    assert f"created branch {BRANCH}" in proc.stdout
    assert "pushed ciswitch/remote-stages-storage to origin" in proc.stdout
    assert (
        "fixed 2 places in 2 files: .gitlab-ci.yml, ci/deploy.yml; .ciswitch.toml marks "
        "the switch" in proc.stdout
    )


def test_default_description_lists_places(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, project_files("fixable"))
    write_hook(bare, "pre-receive", RECORD_OPTIONS_HOOK)
    proc = branch(work, "--target", "release", "--title", "Storage\nswitch")
    assert proc.returncode == 0, proc.stderr
    options = recorded_options(bare)
    assert "merge_request.target=release" in options
    assert "merge_request.title=Storage switch" in options
    description = next(o for o in options if o.startswith("merge_request.description="))
    assert ".gitlab-ci.yml:12 CSW001, ci/deploy.yml:5 CSW001" in description
    assert "switch-from-local" in description
    assert "merge_request.draft" not in options
    assert git(work, "log", "-1", "--format=%s", BRANCH) == "Storage switch"


def test_merge_request_url_is_printed_redacted(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, project_files("fixable"))
    write_hook(
        bare, "pre-receive",
        gitlab_mr_hook(f"https://oauth2:{SECRET}@gitlab.example.test/group/project"),
    )
    proc = branch(work)
    assert proc.returncode == 0, proc.stderr
    assert (
        "merge request: https://***@gitlab.example.test/group/project/-/merge_requests/12"
        in proc.stdout
    )
    assert SECRET not in proc.stdout + proc.stderr


def test_author_option_sets_author_and_committer(tmp_path: Path) -> None:
    work, _bare = make_project(tmp_path, project_files("fixable"))
    proc = branch(work, "--no-push", "--author", "Release Bot <bot@example.test>")
    assert proc.returncode == 0, proc.stderr
    assert git(work, "log", "-1", "--format=%an <%ae>|%cn <%ce>", BRANCH) == (
        "Release Bot <bot@example.test>|Release Bot <bot@example.test>"
    )
    bad = branch(work, "--no-push", "--branch", "other", "--author", "nobody")
    assert_error(bad, "--author")


def test_marker_with_address_updates_existing_file_in_place(tmp_path: Path) -> None:
    files = project_files("fixable")
    existing = "# team settings\nignore = [\"CSW003\"]  # keep\n\n# end of settings\n"
    files[".ciswitch.toml"] = existing
    work, _bare = make_project(tmp_path, files)
    proc = branch(work, "--no-push", "--to", "registry.example.test/g/p/stages")
    assert proc.returncode == 0, proc.stderr
    marker = git(work, "show", f"{BRANCH}:.ciswitch.toml") + "\n"
    assert marker == (
        "# team settings\nignore = [\"CSW003\"]  # keep\n"
        'stages-storage = "remote"\nstages-storage-address = "registry.example.test/g/p/stages"\n'
        "\n# end of settings\n"
    )
    # with --to, :local is replaced by the address rather than removed
    ci = git(work, "show", f"{BRANCH}:.gitlab-ci.yml")
    assert "werf build --stages-storage registry.example.test/g/p/stages" in ci
    message = git(work, "log", "-1", "--format=%B", BRANCH)
    assert "Replace :local stages storage by registry.example.test/g/p/stages" in message


def test_settings_in_pyproject_get_the_marker_in_their_table(tmp_path: Path) -> None:
    """A new .ciswitch.toml would hide [tool.ciswitch] (the dedicated file wins): the marker
    goes into that table instead, every other byte of pyproject.toml kept."""
    import tomllib

    files = project_files("fixable")
    pyproject = ('[project]\nname = "x"\n\n[tool.ciswitch]\nignore = ["CSW003"]  # ours\n\n'
                 '[tool.other]\nstages-storage = "elsewhere"\n')
    files["pyproject.toml"] = pyproject
    work, _bare = make_project(tmp_path, files)
    proc = branch(work, "--no-push", "--to", "registry.example.test/g/p/stages")
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr
    assert "pyproject.toml marks the switch" in proc.stdout
    names = git(work, "diff", "--name-only", "main", BRANCH).splitlines()
    assert names == [".gitlab-ci.yml", "ci/deploy.yml", "pyproject.toml"]
    marked = git(work, "show", f"{BRANCH}:pyproject.toml") + "\n"
    assert marked == pyproject.replace(
        '# ours\n', '# ours\nstages-storage = "remote"\n'
        'stages-storage-address = "registry.example.test/g/p/stages"\n')
    table = tomllib.loads(marked)["tool"]
    assert table["ciswitch"]["stages-storage"] == "remote"
    assert table["other"] == {"stages-storage": "elsewhere"}
    assert "pyproject.toml records that" in git(work, "log", "-1", "--format=%B", BRANCH)


def test_settings_in_pyproject_as_dotted_keys_are_left_to_the_user(tmp_path: Path) -> None:
    files = project_files("fixable")
    files["pyproject.toml"] = '[project]\nname = "x"\n\n[tool]\nciswitch.ignore = ["CSW003"]\n'
    work, _bare = make_project(tmp_path, files)
    proc = branch(work, "--no-push")
    assert proc.returncode == 0, proc.stderr
    assert "ciswitch: warning: settings live in [tool.ciswitch] of pyproject.toml" in proc.stderr
    names = git(work, "diff", "--name-only", "main", BRANCH).splitlines()
    assert names == [".gitlab-ci.yml", "ci/deploy.yml"]


def test_no_marker(tmp_path: Path) -> None:
    work, _bare = make_project(tmp_path, project_files("fixable"))
    proc = branch(work, "--no-push", "--no-marker")
    assert proc.returncode == 0, proc.stderr
    names = git(work, "diff", "--name-only", "main", BRANCH).splitlines()
    assert names == [".gitlab-ci.yml", "ci/deploy.yml"]
    assert ".ciswitch.toml" not in git(work, "log", "-1", "--format=%B", BRANCH)


def test_custom_branch_and_remote(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, project_files("fixable"))
    git(work, "remote", "rename", "origin", "upstream")
    proc = branch(work, "--branch", "ops/storage", "--remote", "upstream")
    assert proc.returncode == 0, proc.stderr
    assert remote_sha(bare, "ops/storage") == git(work, "rev-parse", "ops/storage")
    missing = branch(work, "--branch", "x")
    assert_error(missing, "no remote named 'origin'", "upstream")


# --------------------------------------------------------------------------- refusals

def test_nothing_to_fix_exits_zero(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, project_files("clean"))
    before = repo_state(work, bare)
    proc = branch(work)
    assert proc.returncode == 0, proc.stderr
    assert "nothing to fix" in proc.stdout
    assert repo_state(work, bare) == before


def test_only_unfixable_places_exits_one(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, project_files("unfixable"))
    before = repo_state(work, bare)
    proc = branch(work)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "nothing ciswitch can fix automatically" in proc.stdout
    assert ".gitlab-ci.yml:3" in proc.stdout
    assert repo_state(work, bare) == before


def test_dirty_work_tree_is_refused(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, project_files("fixable"))
    write_files(work, {".gitlab-ci.yml": "changed: {}\n"})
    before = repo_state(work, bare)
    assert_error(branch(work), "work tree is not clean", "uncommitted changes in .gitlab-ci.yml")
    assert repo_state(work, bare) == before


def test_untracked_files_the_change_does_not_touch_do_not_block(tmp_path: Path) -> None:
    files = project_files("fixable")
    files[".gitignore"] = "*.log\n"
    work, _bare = make_project(tmp_path, files)
    write_files(work, {"notes.txt": "x\n", "build.log": "ignored\n"})
    proc = branch(work, "--no-push")
    assert proc.returncode == 0, proc.stderr
    assert (work / "notes.txt").read_text() == "x\n"
    assert "notes.txt" not in git(work, "ls-tree", "-r", "--name-only",
                                  "ciswitch/remote-stages-storage")
    help_text = " ".join(run_ciswitch("branch", "--help", cwd=work).stdout.split())
    assert "untracked files are fine unless the change writes the same path" in help_text


def test_untracked_file_at_a_path_the_change_writes_is_refused(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, project_files("fixable"))
    write_files(work, {".ciswitch.toml": "# my own notes\n"})
    before = repo_state(work, bare)
    assert_error(branch(work), "untracked .ciswitch.toml in the work tree",
                 "the change writes the same path")
    assert repo_state(work, bare) == before


def test_force_update_never_moves_a_branch_checked_out_in_a_worktree(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, project_files("fixable"))
    other = tmp_path / "other-tree"
    git(work, "worktree", "add", "-q", "-b", "ciswitch/remote-stages-storage", str(other))
    write_files(other, {"mine.txt": "the user's work\n"})
    mine = commit_all(other, "The user's own work on that branch")
    before = repo_state(work, bare)
    proc = branch(work, "--force-update", "--no-push")
    assert_error(proc, "branch ciswitch/remote-stages-storage is checked out in the worktree",
                 str(other), "git branch -f")
    assert git(other, "rev-parse", "HEAD") == mine
    assert repo_state(work, bare) == before
    git(other, "switch", "-q", "--detach")
    proc = branch(work, "--force-update", "--no-push")
    assert proc.returncode == 0, proc.stderr
    assert git(work, "rev-parse", "ciswitch/remote-stages-storage") != mine


def test_sha256_repository_is_refused_in_one_line(tmp_path: Path) -> None:
    work = tmp_path / "s256"
    work.mkdir()
    git(work, "init", "-q", "--object-format=sha256", "-b", "main")
    write_files(work, project_files("fixable"))
    commit_all(work, "initial")
    for command in ("branch", "status", "branches"):
        proc = run_ciswitch(command, cwd=work)
        assert_error(proc, "uses the sha256 object format", "sha1 repositories only")
        assert "Traceback" not in proc.stderr


def test_detached_head_is_refused(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, project_files("fixable"))
    git(work, "checkout", "-q", "--detach")
    before = repo_state(work, bare)
    assert_error(branch(work), "HEAD is detached")
    assert repo_state(work, bare) == before


def test_not_a_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert_error(run_ciswitch("branch", str(plain), cwd=tmp_path), "not a git repository")


def test_invalid_branch_name(tmp_path: Path) -> None:
    work, _bare = make_project(tmp_path, project_files("fixable"))
    assert_error(branch(work, "--branch", "no..dots"), "invalid branch name")


# --------------------------------------------------------------------------- dry run

def test_dry_run_prints_diff_and_push_command_and_changes_nothing(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, project_files("fixable"))
    write_hook(bare, "pre-receive", RECORD_OPTIONS_HOOK)
    before = repo_state(work, bare)
    proc = branch(work, "--dry-run", "--label", "ci")
    assert proc.returncode == 0, proc.stderr
    assert repo_state(work, bare) == before
    assert recorded_options(bare) == []
    out = proc.stdout
    assert "--- a/.gitlab-ci.yml\n+++ b/.gitlab-ci.yml\n" in out
    assert "-    - werf build --stages-storage :local\n+    - werf build\n" in out
    assert "--- /dev/null\n+++ b/.ciswitch.toml\n" in out
    assert "push command:\n    git push --porcelain --set-upstream --push-option " in out
    assert "'merge_request.target=main'" in out or "merge_request.target=main" in out
    assert "merge_request.label=ci" in out
    assert f"origin refs/heads/{BRANCH}:refs/heads/{BRANCH}" in out
    assert TRAILER in out
    assert f"would create branch {BRANCH} from main" in out
    assert "would fix 2 places in 2 files" in out


def test_dry_run_no_push(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, project_files("fixable"))
    before = repo_state(work, bare)
    proc = branch(work, "--dry-run", "--no-push")
    assert proc.returncode == 0, proc.stderr
    assert "no push (--no-push)" in proc.stdout
    assert repo_state(work, bare) == before


# --------------------------------------------------------------------------- push failures

def test_rejected_push_exits_two_with_reason_and_leaves_no_branch(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, project_files("fixable"))
    write_hook(
        bare, "pre-receive",
        f'echo "GitLab: protected by policy, see {TOKEN_URL}" >&2\nexit 1\n',
    )
    before = repo_state(work, bare)
    proc = branch(work)
    assert_error(proc, "was rejected", "pre-receive hook declined", "protected by policy",
                 "https://***@127.0.0.1:9/group/project.git")
    assert SECRET not in proc.stdout + proc.stderr
    assert remote_sha(bare) == ""
    after = repo_state(work, bare)
    assert after["refs"] == before["refs"]
    assert after["files"] == before["files"]


def test_token_remote_is_redacted_in_every_message(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, project_files("fixable"))
    git(work, "remote", "set-url", "origin", TOKEN_URL)
    before = repo_state(work, bare)
    for args in ((), ("--dry-run",), ("--target", "main")):
        proc = branch(work, *args)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "127.0.0.1" in proc.stderr
        assert SECRET not in proc.stdout + proc.stderr
    # with a reachable fetch URL but a push URL carrying credentials
    git(work, "remote", "set-url", "origin", bare.as_uri())
    git(work, "remote", "set-url", "--push", "origin", TOKEN_URL)
    proc = branch(work)
    assert_error(proc, "push of ciswitch/remote-stages-storage to origin",
                 "https://***@127.0.0.1:9/group/project.git")
    assert SECRET not in proc.stdout + proc.stderr
    # the failed push left nothing behind
    assert repo_state(work, bare)["refs"] == before["refs"]


def test_remote_without_push_options_support(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, project_files("fixable"), push_options=False)
    proc = branch(work)
    assert_error(proc, "does not support push options", "plain `git push`",
                 "open its merge request in GitLab by hand")
    assert "--no-push" not in proc.stderr
    assert remote_sha(bare) == ""
    proc = branch(work, "--no-push")
    assert proc.returncode == 0, proc.stderr


# --------------------------------------------------------------------------- idempotency

def test_second_run_does_nothing(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, project_files("fixable"))
    first = branch(work)
    assert first.returncode == 0, first.stderr
    before = repo_state(work, bare)
    again = branch(work)
    assert again.returncode == 0, again.stderr
    assert f"nothing to do: branch {BRANCH} in origin already carries this change" in again.stdout
    assert repo_state(work, bare) == before


def test_remote_branch_with_same_change_but_no_local_branch(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, project_files("fixable"))
    assert branch(work).returncode == 0
    git(work, "branch", "-q", "-D", BRANCH)
    before = repo_state(work, bare)
    again = branch(work)
    assert again.returncode == 0, again.stderr
    assert "already carries this change" in again.stdout
    assert repo_state(work, bare) == before


def test_no_push_then_push_reuses_the_commit(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, project_files("fixable"))
    assert branch(work, "--no-push").returncode == 0
    local = git(work, "rev-parse", BRANCH)
    again_local = branch(work, "--no-push")
    assert again_local.returncode == 0
    assert "nothing to do" in again_local.stdout
    assert git(work, "rev-parse", BRANCH) == local
    pushed = branch(work)
    assert pushed.returncode == 0, pushed.stderr
    assert "already carries this change locally; pushing it" in pushed.stdout
    assert remote_sha(bare) == local


def test_existing_branch_with_different_change_needs_force_update(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, project_files("fixable"))
    assert branch(work).returncode == 0
    old = remote_sha(bare)
    # main moves on: the planned change differs from what the branch carries
    write_files(work, {"ci/deploy.yml": (work / "ci/deploy.yml").read_text().replace(
        "production", "staging")})
    commit_all(work, "deploy to staging")
    git(work, "push", "-q", "origin", "main")
    before = repo_state(work, bare)
    refused = branch(work)
    assert_error(refused, f"branch {BRANCH} already exists locally and on origin",
                 "--force-update")
    assert repo_state(work, bare) == before
    forced = branch(work, "--force-update")
    assert forced.returncode == 0, forced.stderr
    new = remote_sha(bare)
    assert new not in ("", old)
    assert git(work, "rev-parse", f"{new}^") == git(work, "rev-parse", "main")
    assert "werf deploy --env staging" in git(work, "show", f"{new}:ci/deploy.yml")
    assert f"replaced branch {BRANCH}" in forced.stdout


def test_remote_only_branch_with_different_change(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, project_files("fixable"))
    git(work, "push", "-q", "origin", f"main:{BRANCH}")
    refused = branch(work)
    assert_error(refused, "already exists on origin with a different change")
    assert git(work, "rev-parse", "--verify", "--quiet", BRANCH, check=False) == ""
    forced = branch(work, "--force-update")
    assert forced.returncode == 0, forced.stderr
    assert remote_sha(bare) == git(work, "rev-parse", BRANCH)


def test_refuses_when_the_branch_is_checked_out(tmp_path: Path) -> None:
    work, _bare = make_project(tmp_path, project_files("fixable"))
    git(work, "checkout", "-q", "-b", BRANCH)
    assert_error(branch(work, "--force-update"), f"{BRANCH} is checked out")


def test_missing_description_file(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, project_files("fixable"))
    before = repo_state(work, bare)
    assert_error(branch(work, "--description-file", str(tmp_path / "nope.md")),
                 "cannot read description", "nope.md")
    assert repo_state(work, bare) == before
