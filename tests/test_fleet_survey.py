"""``ciswitch fleet survey``: :local places left per branch, read without pushing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gitrepos import git, isolate_git
from test_fleet_common import fleet, make_repo, remote_branches, write_list


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)


def test_survey_counts_local_places_per_branch_and_changes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "src"
    flag = make_repo(src, "flag", "flag")
    clean = make_repo(src, "clean", "clean")
    broken = make_repo(src, "broken", "invalid-yaml")
    # an old branch of the clean project still builds with :local
    work = src / "clean"
    git(work, "switch", "-q", "-c", "old-feature")
    (work / ".gitlab-ci.yml").write_text(
        "build:\n  script:\n    - source $(werf ci-env gitlab --as-file)\n"
        "    - werf build -s :local\n"
    )
    git(work, "commit", "-qam", "old")
    git(work, "push", "-q", "origin", "old-feature")
    listing = write_list(tmp_path / "repos.txt", [flag, clean, broken])
    before = {b: remote_branches(b) for b in (flag, clean, broken)}

    proc = fleet("survey", "--repos", str(listing), "--workdir", str(tmp_path / "w"),
                 "--format", "json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr  # the broken repository was not checked
    data = json.loads(proc.stdout)
    by = {(r["url"], r["branch"]): r for r in data["branches"]}
    assert by[(str(flag), "main")]["findings"] == 2
    assert by[(str(clean), "main")]["findings"] == 0
    assert (str(clean), "old-feature") not in by
    assert "invalid YAML" in by[(str(broken), "main")]["error"]
    assert by[(str(broken), "main")]["findings"] is None  # unknown, never 0
    assert data["summary"]["default_branches_without_local"] == 1
    assert data["summary"]["repositories_not_read"] == 1

    every = fleet("survey", "--repos", str(listing), "--workdir", str(tmp_path / "w"),
                  "--all-branches", "-j", "2", cwd=tmp_path)
    assert every.returncode == 1, every.stderr
    line = next(ln for ln in every.stdout.splitlines() if "old-feature" in ln)
    assert line.split()[2] == "1"
    broken_line = next(ln for ln in every.stdout.splitlines() if ln.startswith(str(broken)))
    assert broken_line.split()[3:5] == ["?", "?"] and "invalid YAML" in broken_line
    # without --gitlab-url, the summary says once that GitLab's settings were not read
    assert every.stdout.rstrip().endswith(
        "; 1 could not be read: their counts are unknown or a lower bound; CI/CD variables in "
        "GitLab's settings were not checked: pass --gitlab-url with GITLAB_TOKEN")
    assert {b: remote_branches(b) for b in (flag, clean, broken)} == before

    # the honest measure: pushing the merge request branch does not lower the count,
    # merging it does
    run = fleet("run", "--repos", str(listing), "--workdir", str(tmp_path / "w"), cwd=tmp_path)
    assert "pushed" in run.stdout
    again = json.loads(fleet("survey", "--repos", str(listing), "--workdir",
                             str(tmp_path / "w"), "--format", "json", cwd=tmp_path).stdout)
    assert {(r["url"], r["branch"]): r for r in again["branches"]}[
        (str(flag), "main")]["findings"] == 2
    git(flag, "update-ref", "refs/heads/main", "refs/heads/ciswitch/remote-stages-storage")
    merged = json.loads(fleet("survey", "--repos", str(listing), "--workdir",
                              str(tmp_path / "w"), "--format", "json", cwd=tmp_path).stdout)
    assert {(r["url"], r["branch"]): r for r in merged["branches"]}[
        (str(flag), "main")]["findings"] == 0


def test_places_not_checked_make_the_count_a_lower_bound(tmp_path: Path) -> None:
    src = tmp_path / "src"
    clean = make_repo(src, "clean", "clean")
    work = src / "clean"
    git(work, "switch", "-q", "main")
    (work / ".gitlab-ci.yml").write_text(
        "include:\n  - project: group/ci-templates\n    file: /werf.yml\n"
        "build:\n  script:\n    - source $(werf ci-env gitlab --as-file)\n    - werf build\n"
    )
    git(work, "commit", "-qam", "shared templates")
    git(work, "push", "-q", "origin", "main")
    listing = write_list(tmp_path / "repos.txt", [clean])
    proc = fleet("survey", "--repos", str(listing), "--workdir", str(tmp_path / "w"),
                 cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    row = next(ln for ln in proc.stdout.splitlines() if ln.startswith(str(clean)))
    assert row.split()[3] == "0+?"
    assert "1 place not checked (1 include from another project)" in row
    assert "0 of 1 repositories have no :local left" in proc.stdout
    assert "1 not fully checked (places not checked)" in proc.stdout
    data = json.loads(fleet("survey", "--repos", str(listing), "--workdir",
                            str(tmp_path / "w"), "--format", "json", cwd=tmp_path).stdout)
    [branch] = data["branches"]
    assert (branch["findings"], branch["not_checked"]) == (0, 1)
    assert data["summary"]["repositories_partly_checked"] == 1


def test_a_fully_checked_fleet_exits_0(tmp_path: Path) -> None:
    src = tmp_path / "src"
    listing = write_list(tmp_path / "repos.txt", [make_repo(src, "clean", "clean")])
    proc = fleet("survey", "--repos", str(listing), "--workdir", str(tmp_path / "w"),
                 cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "could not be read" not in proc.stdout and "+?" not in proc.stdout
