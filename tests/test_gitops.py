"""The git layer on real repositories: redaction, tree workspaces, plumbing commits, pushes."""

from __future__ import annotations

import os
from pathlib import Path

import git as gitpython
import pytest
from gitrepos import (
    AUTHOR,
    RECORD_OPTIONS_HOOK,
    SECRET,
    TOKEN_URL,
    commit_all,
    git,
    gitlab_mr_hook,
    isolate_git,
    make_bare,
    make_project,
    recorded_options,
    repo_state,
    write_files,
    write_hook,
)

from ciswitch import gitops
from ciswitch.cli.mr_options import parse_author
from ciswitch.errors import CiswitchError
from ciswitch.git_tree import GitTreeWorkspace
from ciswitch.redact import redact
from ciswitch.workspace import DirectoryWorkspace, glob_files


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)


# --------------------------------------------------------------------------- redact

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://user:token@gitlab.example.com/g/p.git",
         "https://***@gitlab.example.com/g/p.git"),
        ("https://oauth2:glpat-abcdefghij0123456789@host/group/sub/proj.git",
         "https://***@host/group/sub/proj.git"),
        ("https://abcdef0123456789@host/x", "https://***@host/x"),
        ("http://u:p@127.0.0.1:8080/x.git", "http://***@127.0.0.1:8080/x.git"),
        ("https://u:p%40ss@host", "https://***@host"),
        ("https://u:p@ss@host/x", "https://***@host/x"),
        ("fatal: unable to access 'https://oauth2:tok@host/g/p.git/': 403",
         "fatal: unable to access 'https://***@host/g/p.git/': 403"),
        ("To https://ci:tok@host/a.git and https://x:y@other/b.git",
         "To https://***@host/a.git and https://***@other/b.git"),
        ("https://host/api?private_token=abc123&x=1", "https://host/api?private_token=***&x=1"),
        ("token glpat-AbCdEfGhIjKlMnOpQrSt in text", "token *** in text"),
        ("ssh://git@host:2222/g/p.git", "ssh://git@host:2222/g/p.git"),
        ("ssh://git:pw@host/g/p.git", "ssh://***@host/g/p.git"),
        ("git@host:group/project.git", "git@host:group/project.git"),
        ("https://host/g/p.git", "https://host/g/p.git"),
        ("mail me at someone@example.com", "mail me at someone@example.com"),
        ("", ""),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_redact_is_idempotent() -> None:
    once = redact(TOKEN_URL)
    assert SECRET not in once
    assert "127.0.0.1:9/group/project.git" in once
    assert redact(once) == once


# --------------------------------------------------------------------------- GitTreeWorkspace

def _tree_repo(tmp_path: Path) -> Path:
    work = tmp_path / "tree"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    write_files(work, {
        ".gitlab-ci.yml": "include: ci/*.yml\n",
        "ci/a.yml": "a: 1\n",
        "ci/deep/b.yml": "b: 2\n",
        "scripts/build.sh": "#!/bin/sh\nwerf build\n",
        "outside-target.txt": "x\n",
    })
    (work / "scripts/build.sh").chmod(0o755)
    os.symlink("ci/a.yml", work / "link-inside.yml")
    os.symlink("../../etc/passwd", work / "ci/escape.yml")
    os.symlink("/etc/passwd", work / "absolute.yml")
    os.symlink("ci", work / "cidir")
    os.symlink("loop2", work / "loop1")
    os.symlink("loop1", work / "loop2")
    commit_all(work, "tree")
    return work


def test_git_tree_reads_blobs_without_checkout(tmp_path: Path) -> None:
    work = _tree_repo(tmp_path)
    sha = git(work, "rev-parse", "HEAD")
    # change the work tree: the tree workspace must keep reading the commit
    (work / "ci/a.yml").write_text("changed\n")
    repo = gitpython.Repo(work)
    ws = GitTreeWorkspace(repo, sha, label="origin/main@abc")
    assert ws.label == "origin/main@abc"
    assert ws.read_bytes("ci/a.yml") == b"a: 1\n"
    assert ws.read_bytes("/ci/deep/b.yml") == b"b: 2\n"
    assert ws.read_bytes("./ci//a.yml") == b"a: 1\n"
    assert ws.is_file("ci/a.yml") and not ws.is_file("ci") and not ws.is_file("nope.yml")
    assert ws.is_executable("scripts/build.sh")
    assert not ws.is_executable("ci/a.yml")
    with pytest.raises(CiswitchError, match="file not found"):
        ws.read_bytes("ci/missing.yml")
    with pytest.raises(CiswitchError, match="not a regular file"):
        ws.read_bytes("ci")
    with pytest.raises(CiswitchError, match="escapes"):
        ws.read_bytes("../x")


def test_git_tree_symlinks_match_directory_workspace(tmp_path: Path) -> None:
    work = _tree_repo(tmp_path)
    repo = gitpython.Repo(work)
    tree_ws = GitTreeWorkspace(repo, repo.head.commit)
    git(work, "checkout", "-q", "--", ".")
    dir_ws = DirectoryWorkspace(work)
    for ws in (tree_ws, dir_ws):
        assert ws.read_bytes("link-inside.yml") == b"a: 1\n"
        assert ws.read_bytes("cidir/deep/b.yml") == b"b: 2\n"
        with pytest.raises(CiswitchError, match="escapes the repository"):
            ws.read_bytes("ci/escape.yml")
        with pytest.raises(CiswitchError, match="escapes the repository"):
            ws.read_bytes("absolute.yml")
        assert not ws.is_file("ci/escape.yml")
        assert not ws.is_executable("absolute.yml")
    with pytest.raises(CiswitchError, match="symbolic links"):
        tree_ws.read_bytes("loop1")
    assert glob_files(tree_ws, "ci/*.yml") == ["ci/a.yml"]
    assert glob_files(tree_ws, "ci/**.yml") == ["ci/a.yml", "ci/deep/b.yml"]
    assert sorted(tree_ws.files()) == [
        ".gitlab-ci.yml", "ci/a.yml", "ci/deep/b.yml", "link-inside.yml",
        "outside-target.txt", "scripts/build.sh",
    ]


def test_git_tree_accepts_branch_names(tmp_path: Path) -> None:
    work = _tree_repo(tmp_path)
    git(work, "checkout", "-q", "-b", "other")
    write_files(work, {"ci/a.yml": "other\n"})
    commit_all(work, "other")
    repo = gitpython.Repo(work)
    assert GitTreeWorkspace(repo, "main").read_bytes("ci/a.yml") == b"a: 1\n"
    assert GitTreeWorkspace(repo, "other").read_bytes("ci/a.yml") == b"other\n"
    assert GitTreeWorkspace(repo, "other").label.endswith(repo.head.commit.hexsha[:10])


# --------------------------------------------------------------------------- repository state

def test_open_repo_errors(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(CiswitchError, match="not a git repository"):
        gitops.open_repo(plain)
    with pytest.raises(CiswitchError, match="no such directory"):
        gitops.open_repo(tmp_path / "missing")
    bare = make_bare(tmp_path / "b.git")
    with pytest.raises(CiswitchError, match="bare repository"):
        gitops.open_repo(bare)


def test_open_repo_from_subdirectory(tmp_path: Path) -> None:
    work, _bare = make_project(tmp_path, {"sub/x.txt": "x\n"})
    repo = gitops.open_repo(work / "sub")
    assert gitops.work_tree(repo) == work.resolve()


def test_dirt_names_changed_and_untracked_but_not_ignored(tmp_path: Path) -> None:
    work, _bare = make_project(tmp_path, {"a.txt": "a\n", "b.txt": "b\n", ".gitignore": "*.log\n"})
    repo = gitops.open_repo(work)
    assert not gitops.dirt(repo)
    gitops.ensure_clean(repo)
    (work / "build.log").write_text("ignored\n")
    assert not gitops.dirt(repo)
    (work / "a.txt").write_text("changed\n")
    (work / "new dir").mkdir()
    (work / "new dir" / "n.txt").write_text("n\n")
    write_files(work, {"b.txt": "staged\n"})
    git(work, "add", "b.txt")
    found = gitops.dirt(repo)
    assert sorted(found.changed) == ["a.txt", "b.txt"]
    assert found.untracked == ("new dir/n.txt",)
    with pytest.raises(CiswitchError) as info:
        gitops.ensure_clean(repo)
    message = str(info.value)
    assert "uncommitted changes in a.txt, b.txt" in message
    assert "untracked files new dir/n.txt" in message
    assert "\n" not in message


def test_dirt_sees_renames(tmp_path: Path) -> None:
    work, _bare = make_project(tmp_path, {"a.txt": "a\n", "z.txt": "z\n"})
    git(work, "mv", "a.txt", "c.txt")
    found = gitops.dirt(gitops.open_repo(work))
    assert found.changed == ("c.txt",)
    assert found.untracked == ()


def test_current_branch_and_detached_head(tmp_path: Path) -> None:
    work, _bare = make_project(tmp_path, {"a.txt": "a\n"})
    repo = gitops.open_repo(work)
    assert gitops.current_branch(repo) == "main"
    git(work, "checkout", "-q", "--detach")
    with pytest.raises(CiswitchError, match=r"HEAD is detached at [0-9a-f]{10}"):
        gitops.current_branch(repo)


def test_current_branch_without_commits(tmp_path: Path) -> None:
    work = tmp_path / "empty"
    work.mkdir()
    git(work, "init", "-q", "-b", "trunk")
    with pytest.raises(CiswitchError, match="branch trunk has no commits"):
        gitops.current_branch(gitops.open_repo(work))


def test_get_remote_lists_known(tmp_path: Path) -> None:
    work, _bare = make_project(tmp_path, {"a.txt": "a\n"})
    with pytest.raises(CiswitchError, match=r"no remote named 'upstream' \(remotes: origin\)"):
        gitops.get_remote(gitops.open_repo(work), "upstream")


def test_default_branch_from_remote_head_then_ls_remote(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, {"a.txt": "a\n"})
    repo = gitops.open_repo(work)
    git(work, "push", "-q", "origin", "main:develop")
    # the local copy of the remote HEAD wins
    git(work, "remote", "set-head", "origin", "develop")
    assert gitops.default_branch(repo, "origin") == "develop"
    # without it, the remote is asked
    git(work, "remote", "set-head", "origin", "--delete")
    git(bare, "symbolic-ref", "HEAD", "refs/heads/develop")
    assert gitops.default_branch(repo, "origin") == "develop"
    git(bare, "symbolic-ref", "HEAD", "refs/heads/main")
    assert gitops.default_branch(repo, "origin") == "main"
    # a remote whose HEAD names no branch: a typed error, without any command's advice
    git(bare, "symbolic-ref", "HEAD", "refs/heads/unborn")
    with pytest.raises(gitops.NoDefaultBranch, match=r"it has no HEAD$") as info:
        gitops.default_branch(repo, "origin")
    assert "--" not in str(info.value).split("):", 1)[1]


def test_default_branch_unreachable_remote_is_redacted(tmp_path: Path) -> None:
    work, _bare = make_project(tmp_path, {"a.txt": "a\n"}, origin_head=False)
    git(work, "remote", "add", "secret", TOKEN_URL)
    with pytest.raises(CiswitchError) as info:
        gitops.default_branch(gitops.open_repo(work), "secret")
    message = str(info.value)
    assert isinstance(info.value, gitops.NoDefaultBranch)
    assert "pass --" not in message
    assert "127.0.0.1:9/group/project.git" in message
    assert SECRET not in message


# --------------------------------------------------------------------------- commits

def test_parse_identity() -> None:
    assert parse_author("Jane Doe <jane@example.com>") == gitops.Identity(
        "Jane Doe", "jane@example.com"
    )
    for bad in ("jane@example.com", "<jane@example.com>", "Jane <a> <b>"):
        with pytest.raises(CiswitchError, match="--author"):
            parse_author(bad)


def test_commit_files_touches_nothing_but_the_object_database(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, {
        ".gitlab-ci.yml": "build:\n  script: werf build -s :local\n",
        "run.sh": "#!/bin/sh\nwerf build --stages-storage :local\n",
        "other.txt": "untouched\n",
    })
    (work / "run.sh").chmod(0o755)
    commit_all(work, "exec bit")
    repo = gitops.open_repo(work)
    parent = gitops.head_sha(repo)
    before = repo_state(work, bare)
    message = gitops.commit_message("Use remote stages storage", "- .gitlab-ci.yml:2")
    sha = gitops.commit_files(repo, parent, {
        ".gitlab-ci.yml": b"build:\n  script: werf build\n",
        "run.sh": b"#!/bin/sh\nwerf build\n",
        ".ciswitch.toml": b'stages-storage = "remote"\n',
    }, message)
    assert repo_state(work, bare) == before
    assert git(work, "rev-parse", f"{sha}^") == parent
    changed = git(work, "diff", "--name-status", parent, sha).splitlines()
    assert changed == ["A\t.ciswitch.toml", "M\t.gitlab-ci.yml", "M\trun.sh"]
    assert git(work, "ls-tree", sha, "run.sh").startswith("100755 ")
    assert git(work, "ls-tree", sha, ".ciswitch.toml").startswith("100644 ")
    assert git(work, "show", f"{sha}:run.sh") == "#!/bin/sh\nwerf build"
    assert git(work, "log", "-1", "--format=%an <%ae>|%cn <%ce>", sha) == (
        "Test Author <author@example.test>|Test Committer <committer@example.test>"
    )
    assert git(work, "log", "-1", "--format=%B", sha) == (
        "Use remote stages storage\n\n- .gitlab-ci.yml:2\n\nCiswitch-Change: remote-stages-storage"
    )
    assert git(work, "log", "-1", "--format=%(trailers:key=Ciswitch-Change,valueonly)", sha) == (
        "remote-stages-storage"
    )


def test_commit_files_with_author_sets_committer_too(tmp_path: Path) -> None:
    work, _bare = make_project(tmp_path, {"a.txt": "a\n"})
    repo = gitops.open_repo(work)
    sha = gitops.commit_files(
        repo, gitops.head_sha(repo), {"a.txt": b"b\n"}, "m",
        gitops.Identity("Bot", "bot@example.test"),
    )
    assert git(work, "log", "-1", "--format=%an <%ae>|%cn <%ce>", sha) == (
        "Bot <bot@example.test>|Bot <bot@example.test>"
    )


def test_commit_files_without_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work, _bare = make_project(tmp_path, {"a.txt": "a\n"})
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
                 "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(name, raising=False)
    git(work, "config", "user.useConfigOnly", "true")
    repo = gitops.open_repo(work)
    with pytest.raises(gitops.UnknownIdentity, match=r"set user\.name and user\.email") as info:
        gitops.commit_files(repo, gitops.head_sha(repo), {"a.txt": b"b\n"}, "m")
    assert "--author" not in str(info.value)  # the command adds its own option


def test_set_branch_is_compare_and_swap(tmp_path: Path) -> None:
    work, _bare = make_project(tmp_path, {"a.txt": "a\n"})
    repo = gitops.open_repo(work)
    head = gitops.head_sha(repo)
    sha = gitops.commit_files(repo, head, {"a.txt": b"b\n"}, "m")
    assert gitops.branch_sha(repo, "fix") is None
    gitops.set_branch(repo, "fix", sha, old=None)
    assert gitops.branch_sha(repo, "fix") == sha
    with pytest.raises(CiswitchError, match="cannot update branch fix"):
        gitops.set_branch(repo, "fix", head, old=None)
    gitops.set_branch(repo, "fix", head, old=sha)
    assert gitops.branch_sha(repo, "fix") == head
    assert gitops.file_at(repo, sha, "a.txt") == b"b\n"
    assert gitops.file_at(repo, sha, "missing") is None


def test_check_branch_name(tmp_path: Path) -> None:
    work, _bare = make_project(tmp_path, {"a.txt": "a\n"})
    repo = gitops.open_repo(work)
    gitops.check_branch_name(repo, "ciswitch/remote-stages-storage")
    with pytest.raises(CiswitchError, match="invalid branch name"):
        gitops.check_branch_name(repo, "bad..name")


def test_trailer_commits(tmp_path: Path) -> None:
    work, _bare = make_project(tmp_path, {"a.txt": "a\n"})
    repo = gitops.open_repo(work)
    write_files(work, {"a.txt": "quoted\n"})
    git(work, "commit", "-qam", "mentions Ciswitch-Change: remote-stages-storage in the subject")
    assert gitops.trailer_commits(repo, "HEAD") == []
    assert not gitops.has_trailer_commit(repo, "HEAD")
    write_files(work, {"a.txt": "fixed\n"})
    git(work, "commit", "-qam", gitops.commit_message("switch", "body"))
    fixed = git(work, "rev-parse", "HEAD")
    write_files(work, {"a.txt": "later\n"})
    git(work, "commit", "-qam", "later")
    assert gitops.trailer_commits(repo, "HEAD") == [fixed]
    assert gitops.has_trailer_commit(repo, "HEAD")
    assert not gitops.has_trailer_commit(repo, "HEAD~3")


def test_refs_with_trailer(tmp_path: Path) -> None:
    work, _bare = make_project(tmp_path, {"a.txt": "a\n"})
    repo = gitops.open_repo(work)
    git(work, "checkout", "-q", "-b", "team/feature/x")
    write_files(work, {"a.txt": "fixed\n"})
    git(work, "commit", "-qam", gitops.commit_message("switch"))
    git(work, "checkout", "-q", "-b", "team/later")
    write_files(work, {"a.txt": "later\n"})
    git(work, "commit", "-qam", "later")
    git(work, "checkout", "-q", "-b", "picked", "main")
    git(work, "cherry-pick", "team/feature/x")
    git(work, "push", "-q", "origin", "team/feature/x", "team/later", "picked", "main:plain")
    gitops.fetch(repo, "origin")
    assert gitops.refs_with_trailer(repo, "refs/remotes/origin/") == {
        "refs/remotes/origin/team/feature/x", "refs/remotes/origin/team/later",
        "refs/remotes/origin/picked",
    }
    assert gitops.refs_with_trailer(repo, "refs/heads") == {
        "refs/heads/team/feature/x", "refs/heads/team/later", "refs/heads/picked",
    }
    assert gitops.refs_with_trailer(repo, "refs/remotes/nothing/") == set()


def test_commit_info_and_remote_branches(tmp_path: Path) -> None:
    work, _bare = make_project(tmp_path, {"a.txt": "a\n"})
    git(work, "checkout", "-q", "-b", "feature/x")
    write_files(work, {"a.txt": "x\n"})
    sha = commit_all(work, "x", date="2021-03-04T05:06:07+03:00")
    git(work, "push", "-q", "origin", "feature/x")
    repo = gitops.open_repo(work)
    gitops.fetch(repo, "origin")
    names = [(b.name, b.ref) for b in gitops.remote_branches(repo, "origin")]
    assert names == [
        ("feature/x", "refs/remotes/origin/feature/x"), ("main", "refs/remotes/origin/main"),
    ]
    info = gitops.commit_info(repo, "refs/remotes/origin/feature/x")
    assert info.sha == sha
    assert info.date == "2021-03-04T05:06:07+03:00"
    assert info.author == AUTHOR[0]
    git(work, "push", "-q", "origin", "--delete", "feature/x")
    gitops.fetch(repo, "origin")
    assert [b.name for b in gitops.remote_branches(repo, "origin")] == ["main"]


# --------------------------------------------------------------------------- push

def test_fold_line_and_options() -> None:
    assert gitops.fold_line("Title\n\n  - a\r\n  - b\n") == "Title - a - b"
    options = gitops.MergeRequestOptions(
        target="main", title="T", description="line 1\nline 2", draft=True,
        labels=["ci", "werf"], assignees=["jane"], extra=["ci.skip"],
    ).push_options()
    assert options == [
        "merge_request.create", "merge_request.target=main", "merge_request.title=T",
        "merge_request.description=line 1 line 2", "merge_request.remove_source_branch",
        "merge_request.draft", "merge_request.label=ci", "merge_request.label=werf",
        "merge_request.assign=jane", "ci.skip",
    ]
    with pytest.raises(CiswitchError, match="line break"):
        gitops.MergeRequestOptions(target="main", title="T", extra=["a\nb"]).push_options()


def test_merge_request_url() -> None:
    created = [
        "",
        " View merge request for ciswitch/remote-stages-storage:",
        "   https://gitlab.example.com/g/p/-/merge_requests/12",
        "",
    ]
    assert gitops.merge_request_url(created) == "https://gitlab.example.com/g/p/-/merge_requests/12"
    proposed = [
        " To create a merge request for b, visit:",
        "   https://gitlab.example.com/g/p/-/merge_requests/new?merge_request%5Bsource_branch%5D=b",
    ]
    assert gitops.merge_request_url(proposed) == (
        "https://gitlab.example.com/g/p/-/merge_requests/new?merge_request%5Bsource_branch%5D=b"
    )
    assert gitops.merge_request_url([*proposed, *created]) == (
        "https://gitlab.example.com/g/p/-/merge_requests/12"
    )
    assert gitops.merge_request_url(["   https://u:tok@h/g/p/-/merge_requests/3"]) == (
        "https://***@h/g/p/-/merge_requests/3"
    )
    assert gitops.merge_request_url(["nothing here"]) is None


def _pushable(tmp_path: Path) -> tuple[Path, Path, gitpython.Repo, str]:
    work, bare = make_project(tmp_path, {"a.txt": "a\n"})
    repo = gitops.open_repo(work)
    sha = gitops.commit_files(repo, gitops.head_sha(repo), {"a.txt": b"b\n"}, "m")
    gitops.set_branch(repo, "fix", sha, old=None)
    return work, bare, repo, sha


def test_push_delivers_push_options(tmp_path: Path) -> None:
    _work, bare, repo, sha = _pushable(tmp_path)
    write_hook(bare, "pre-receive", RECORD_OPTIONS_HOOK)
    options = gitops.MergeRequestOptions(
        target="main", title="Use remote stages storage", description="a\nb 'quoted' $HOME",
        labels=["ci"], assignees=["jane"],
    ).push_options()
    result = gitops.push_branch(repo, "origin", "fix", options)
    assert recorded_options(bare) == options
    assert git(bare, "rev-parse", "refs/heads/fix") == sha
    assert result.merge_request_url is None
    # pushing again is a no-op that succeeds
    again = gitops.push_branch(repo, "origin", "fix", options)
    assert again.up_to_date


def test_push_reports_merge_request_url(tmp_path: Path) -> None:
    _work, bare, repo, _sha = _pushable(tmp_path)
    write_hook(bare, "pre-receive", gitlab_mr_hook())
    result = gitops.push_branch(repo, "origin", "fix", ["merge_request.create"])
    assert result.merge_request_url == "https://gitlab.example.test/group/project/-/merge_requests/12"
    assert any("View merge request for fix:" in line for line in result.remote_lines)


def test_push_rejected_by_hook_raises_with_reason(tmp_path: Path) -> None:
    _work, bare, repo, _sha = _pushable(tmp_path)
    write_hook(
        bare, "pre-receive",
        f'echo "GitLab: You are not allowed to push code to {TOKEN_URL}"\n'
        'echo "Rejected: 3 checks failed"\n'
        "exit 1\n",
    )
    with pytest.raises(CiswitchError) as info:
        gitops.push_branch(repo, "origin", "fix", ["merge_request.create"])
    message = str(info.value)
    assert "was rejected" in message
    assert "pre-receive hook declined" in message
    assert "You are not allowed to push code" in message
    assert "Rejected: 3 checks failed" in message
    assert "127.0.0.1:9/group/project.git" in message
    assert SECRET not in message
    assert "\n" not in message
    assert git(bare, "rev-parse", "--verify", "--quiet", "refs/heads/fix", check=False) == ""


def test_push_rejected_non_fast_forward(tmp_path: Path) -> None:
    work, _bare, repo, _sha = _pushable(tmp_path)
    gitops.push_branch(repo, "origin", "fix", [])
    other = gitops.commit_files(repo, gitops.head_sha(repo), {"a.txt": b"c\n"}, "other")
    gitops.set_branch(repo, "fix", other, old=gitops.branch_sha(repo, "fix"))
    with pytest.raises(CiswitchError, match="was rejected"):
        gitops.push_branch(repo, "origin", "fix", [])
    assert gitops.remote_branch_sha(repo, "origin", "fix") != other
    # with the lease on the remote's current sha the update goes through
    lease = gitops.remote_branch_sha(repo, "origin", "fix")
    gitops.push_branch(repo, "origin", "fix", [], force_with_lease=lease)
    assert gitops.remote_branch_sha(repo, "origin", "fix") == other
    assert git(work, "config", "branch.fix.remote") == "origin"


def test_push_to_remote_without_push_options(tmp_path: Path) -> None:
    work, bare = make_project(tmp_path, {"a.txt": "a\n"}, push_options=False)
    repo = gitops.open_repo(work)
    sha = gitops.commit_files(repo, gitops.head_sha(repo), {"a.txt": b"b\n"}, "m")
    gitops.set_branch(repo, "fix", sha, old=None)
    with pytest.raises(gitops.PushOptionsRefused, match=r"does not support push options") as info:
        gitops.push_branch(repo, "origin", "fix", ["merge_request.create"])
    assert "--no-push" not in str(info.value)
    assert git(bare, "rev-parse", "--verify", "--quiet", "refs/heads/fix", check=False) == ""


def test_push_to_unreachable_token_url_is_redacted(tmp_path: Path) -> None:
    _work, _bare, repo, _sha = _pushable(tmp_path)
    repo.git.remote("set-url", "--push", "origin", TOKEN_URL)
    with pytest.raises(CiswitchError) as info:
        gitops.push_branch(repo, "origin", "fix", ["merge_request.create"])
    message = str(info.value)
    assert "127.0.0.1" in message
    assert SECRET not in message
    assert "\n" not in message


def test_remote_branch_sha_and_fetch_branch(tmp_path: Path) -> None:
    work, _bare, repo, sha = _pushable(tmp_path)
    assert gitops.remote_branch_sha(repo, "origin", "fix") is None
    gitops.push_branch(repo, "origin", "fix", [])
    assert gitops.remote_branch_sha(repo, "origin", "fix") == sha
    git(work, "update-ref", "-d", "refs/remotes/origin/fix")
    gitops.fetch_branch(repo, "origin", "fix")
    assert git(work, "rev-parse", "refs/remotes/origin/fix") == sha
    with pytest.raises(CiswitchError, match="cannot fetch nope from origin"):
        gitops.fetch_branch(repo, "origin", "nope")


def test_push_command_text() -> None:
    cmd = gitops.push_command("origin", "b", ["merge_request.create"], force_with_lease="abc")
    assert cmd == [
        "git", "push", "--porcelain", "--set-upstream", "--force-with-lease=refs/heads/b:abc",
        "--push-option", "merge_request.create", "origin", "refs/heads/b:refs/heads/b",
    ]


def test_commit_files_keeps_work_tree_when_parent_is_not_head(tmp_path: Path) -> None:
    work, _bare = make_project(tmp_path, {"a.txt": "a\n"})
    first = git(work, "rev-parse", "HEAD")
    write_files(work, {"b.txt": "b\n"})
    commit_all(work, "second")
    repo = gitops.open_repo(work)
    sha = gitops.commit_files(repo, first, {"a.txt": b"z\n"}, "m")
    assert git(work, "ls-tree", "--name-only", sha).splitlines() == ["a.txt"]
    assert (work / "b.txt").read_text() == "b\n"


def test_sha256_repositories_are_refused_with_one_line(tmp_path: Path) -> None:
    import subprocess

    repo_dir = tmp_path / "sha256"
    subprocess.run(["git", "init", "-q", "--object-format=sha256", str(repo_dir)], check=True)
    (repo_dir / "a.txt").write_text("a\n")
    env = {**os.environ, "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", "-C", str(repo_dir), "add", "a.txt"], check=True, env=env)
    subprocess.run(["git", "-C", str(repo_dir), "commit", "-qm", "a"], check=True, env=env)
    repo = gitpython.Repo(repo_dir)
    head = repo.git.rev_parse("HEAD")
    with pytest.raises(CiswitchError, match="sha256 object format"):
        gitops.commit_files(repo, head, {"a.txt": b"b\n"}, "change")
