"""``ciswitch branches`` as a real subprocess over a bare remote with several branches."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from gitrepos import (
    AUTHOR,
    SECRET,
    TOKEN_URL,
    commit_all,
    git,
    isolate_git,
    make_project,
    project_files,
    repo_state,
    run_ciswitch,
    write_files,
)

from ciswitch.branch_scan import parse_age

OLD_DATE = "2001-02-03T04:05:06+00:00"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)


def replace_tree(work: Path, name: str) -> None:
    """Make the work tree hold exactly fixture project ``name`` (tracked files only)."""
    for rel in git(work, "ls-files").splitlines():
        (work / rel).unlink()
    write_files(work, project_files(name))


def new_branch(work: Path, name: str, project: str, *, date: str | None = None) -> str:
    git(work, "checkout", "-q", "-b", name, "main")
    replace_tree(work, project)
    sha = commit_all(work, f"{name}: {project}", date=date)
    git(work, "push", "-q", "origin", name)
    git(work, "checkout", "-q", "main")
    return sha


@pytest.fixture
def fleet(tmp_path: Path) -> tuple[Path, Path]:
    """A remote with: main (:local, unfixed), fixed (the ciswitch commit), included (:local
    only in an included file), manual (clean without the trailer), stale (old, :local)."""
    work, bare = make_project(tmp_path, project_files("fixable"))
    proc = run_ciswitch("branch", "--branch", "fixed", cwd=work)
    assert proc.returncode == 0, proc.stderr
    new_branch(work, "included", "included-only")
    new_branch(work, "manual", "clean")
    new_branch(work, "stale", "fixable", date=OLD_DATE)
    return work, bare


def branches(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_ciswitch("branches", *args, cwd=work)


def test_json_lists_every_branch_with_its_state(fleet: tuple[Path, Path]) -> None:
    work, _bare = fleet
    proc = branches(work, "--format", "json")
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    rows = {row["branch"]: row for row in data["branches"]}
    assert sorted(rows) == ["fixed", "included", "main", "manual", "stale"]
    assert data["carrying_local"] == ["included", "main", "stale"]
    assert data["remote"] == "origin"
    assert rows["main"]["findings"] == 2
    assert rows["main"]["first"] == ".gitlab-ci.yml:12"
    assert rows["main"]["ciswitch_commit"] is False
    assert rows["fixed"]["findings"] == 0
    assert rows["fixed"]["first"] is None
    assert rows["fixed"]["ciswitch_commit"] is True
    assert rows["included"]["findings"] == 1
    assert rows["included"]["first"] == "ci/build.yml:4"
    assert rows["manual"] == {**rows["manual"], "findings": 0, "ciswitch_commit": False}
    assert rows["stale"]["date"] == OLD_DATE
    assert rows["stale"]["author"] == AUTHOR[0]
    assert rows["stale"]["commit"] == git(work, "rev-parse", "origin/stale")
    assert all(row["problems"] == [] for row in rows.values())


def test_text_table_shows_branches_that_still_carry_local(fleet: tuple[Path, Path]) -> None:
    work, _bare = fleet
    proc = branches(work)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["BRANCH", "LAST", "COMMIT", "AUTHOR", "FINDINGS", "FIRST",
                                "CISWITCH", "COMMIT"]
    names = [line.split()[0] for line in lines[1:-1]]
    assert names == ["included", "main", "stale"]
    stale = next(line for line in lines if line.startswith("stale"))
    assert "2001-02-03 04:05" in stale
    assert stale.split()[-3:] == ["2", ".gitlab-ci.yml:12", "no"]
    assert all(line == line.rstrip() for line in lines)
    assert lines[-1].startswith("3 of 5 branch(es) of origin (")
    everything = branches(work, "--all")
    fixed = next(line for line in everything.stdout.splitlines() if line.startswith("fixed"))
    assert fixed.split()[-3:] == ["0", "-", "yes"]


def test_active_since_filters_old_branches(fleet: tuple[Path, Path]) -> None:
    work, _bare = fleet
    proc = branches(work, "--active-since", "30d", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert [row["branch"] for row in data["branches"]] == ["fixed", "included", "main", "manual"]
    assert data["skipped_inactive"] == 1
    text = branches(work, "--active-since", "2w")
    assert "1 inactive branch(es) not checked" in text.stdout


def test_fetch_and_no_fetch(fleet: tuple[Path, Path], tmp_path: Path) -> None:
    work, bare = fleet
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", bare.as_uri(), str(other))
    git(other, "checkout", "-q", "-b", "late", "origin/included")
    git(other, "push", "-q", "origin", "late")
    git(other, "push", "-q", "origin", "--delete", "stale")
    stale_view = json.loads(branches(work, "--no-fetch", "--format", "json").stdout)
    assert [r["branch"] for r in stale_view["branches"]] == [
        "fixed", "included", "main", "manual", "stale",
    ]
    fresh = json.loads(branches(work, "--format", "json").stdout)
    assert [r["branch"] for r in fresh["branches"]] == [
        "fixed", "included", "late", "main", "manual",
    ]


def test_reads_trees_without_touching_the_checkout(fleet: tuple[Path, Path]) -> None:
    work, bare = fleet
    write_files(work, {".gitlab-ci.yml": "dirty: {}\n"})
    before = repo_state(work, bare)
    proc = branches(work, "--no-fetch", "--format", "json")
    assert proc.returncode == 1
    assert repo_state(work, bare) == before
    rows = {row["branch"]: row for row in json.loads(proc.stdout)["branches"]}
    assert rows["main"]["findings"] == 2


def test_all_branches_switched_exits_zero(tmp_path: Path) -> None:
    work, _bare = make_project(tmp_path, project_files("clean"))
    new_branch(work, "feature", "clean")
    proc = branches(work)
    assert proc.returncode == 0, proc.stderr
    url = (tmp_path / "work-remote.git").as_uri()
    assert proc.stdout == f"0 of 2 branch(es) of origin ({url}) still use :local stages storage\n"


def test_branch_with_broken_configuration_is_reported(tmp_path: Path) -> None:
    work, _bare = make_project(tmp_path, project_files("clean"))
    git(work, "checkout", "-q", "-b", "broken")
    write_files(work, {".ciswitch.toml": "select = 3\n"})
    commit_all(work, "broken config")
    git(work, "push", "-q", "origin", "broken")
    git(work, "checkout", "-q", "main")
    proc = branches(work, "--format", "json")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    rows = {row["branch"]: row for row in json.loads(proc.stdout)["branches"]}
    assert rows["broken"]["problems"] and ".ciswitch.toml" in rows["broken"]["problems"][0]
    assert rows["main"]["problems"] == []


def test_branch_with_places_not_checked_is_never_shown_as_clean(tmp_path: Path) -> None:
    work, _bare = make_project(tmp_path, project_files("clean"))
    git(work, "checkout", "-q", "-b", "shared")
    ci = work / ".gitlab-ci.yml"
    ci.write_text("include:\n  - project: group/ci-templates\n    file: /werf.yml\n"
                  + ci.read_text())
    commit_all(work, "shared templates")
    git(work, "push", "-q", "origin", "shared")
    git(work, "checkout", "-q", "main")
    proc = branches(work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    row = next(line for line in proc.stdout.splitlines() if line.startswith("shared "))
    assert " 0+? " in row
    assert ("shared: .gitlab-ci.yml:2: not checked: include project: group/ci-templates: "
            "not in this repository, not followed") in proc.stdout
    assert "; 1 branch(es) with places not checked (listed above)" in proc.stdout
    rows = {r["branch"]: r for r in json.loads(branches(work, "--format", "json").stdout)[
        "branches"]}
    assert len(rows["shared"]["not_checked"]) == 1 and rows["main"]["not_checked"] == []


def test_token_url_is_redacted(fleet: tuple[Path, Path]) -> None:
    work, _bare = fleet
    git(work, "remote", "set-url", "origin", TOKEN_URL)
    offline = branches(work, "--no-fetch")
    assert offline.returncode == 1
    assert "of origin (https://***@127.0.0.1:9/group/project.git)" in offline.stdout
    assert SECRET not in offline.stdout + offline.stderr
    as_json = branches(work, "--no-fetch", "--format", "json")
    assert json.loads(as_json.stdout)["url"] == "https://***@127.0.0.1:9/group/project.git"
    assert SECRET not in as_json.stdout + as_json.stderr
    online = branches(work)
    assert online.returncode == 2
    assert "cannot fetch from origin" in online.stderr
    assert "127.0.0.1" in online.stderr
    assert SECRET not in online.stdout + online.stderr


def test_errors(tmp_path: Path) -> None:
    work, _bare = make_project(tmp_path, project_files("clean"))
    bad_age = branches(work, "--active-since", "3 months")
    assert bad_age.returncode == 2
    assert "--active-since" in bad_age.stderr
    no_remote = branches(work, "--remote", "upstream")
    assert no_remote.returncode == 2
    assert "no remote named 'upstream'" in no_remote.stderr
    plain = tmp_path / "plain"
    plain.mkdir()
    not_repo = run_ciswitch("branches", str(plain), cwd=tmp_path)
    assert not_repo.returncode == 2
    assert "not a git repository" in not_repo.stderr


@pytest.mark.parametrize(("text", "seconds"), [("12h", 43200), ("30d", 2592000), ("2w", 1209600)])
def test_parse_age(text: str, seconds: int) -> None:
    assert parse_age(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "d", "1y", "-3d", "1.5d"])
def test_parse_age_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not an age"):
        parse_age(text)
