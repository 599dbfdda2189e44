"""Every command example in README.md and docs/ runs, and the docs' factual claims hold.

Convention for examples:

* Fenced blocks marked ``sh``, ``shell``, ``bash`` or ``console`` are read. In them, a logical
  line (``\\``-continuations joined, a ``$ `` prompt dropped) that starts with ``ciswitch `` is
  an example; so is the ``ciswitch ...`` part after ``&&`` of an install line such as
  ``pip install -e . && ciswitch lint ...`` (the test environment did the install). Comment
  lines and every other command (``werf``, ``docker``, ``cd`` ...) are prose for the reader.
* ``<!-- docs-example: skip REASON -->`` on the line before a fence opts the whole block out.
* Examples of one page run in order, with real bash, in one sandbox: a git repository holding
  ``docs/examples/switch-me`` (also at the paths the examples name) whose ``origin`` is a bare
  remote, the GitLab API stand-in for ``--gitlab-url`` (``SUBSTITUTIONS``) and the werf
  stand-in on PATH.
* An example passes when it ends without a usage or input error (exit code not 2) and without
  a traceback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from gitrepos import git, isolate_git
from test_fleet_gitlab import TOKEN, GitLabAPI

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
EXAMPLE = DOCS / "examples" / "switch-me"
CORPUS_MANIFEST = ROOT.parent / "shared" / "corpus" / "MANIFEST.tsv"
BIN = Path(__file__).resolve().parent / "bin"

LANGS = {"sh", "shell", "bash", "console"}
FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
SKIP = re.compile(r"<!--\s*docs-example:\s*skip\s+(.+?)\s*-->")

#: what the sandbox puts where the docs name outside services
SUBSTITUTIONS = {
    "--gitlab-url https://gitlab.example.com": "--gitlab-url {gitlab_url}",
    "--group web": "--group fleet/platform",
}


@dataclass(frozen=True)
class Example:
    page: str  # relative to the repository
    line: int  # 1-based line of the command in the page
    command: str

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def _blocks(text: str) -> Iterator[tuple[int, str, list[tuple[int, str]], str | None]]:
    """Fenced blocks: (line of the fence, language, [(line, text)], skip reason)."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, lang = match.group(1), match.group(2)
        skip = SKIP.search(lines[i - 1]) if i > 0 else None
        body: list[tuple[int, str]] = []
        j = i + 1
        while j < len(lines) and not re.match(rf"^{indent}```\s*$", lines[j]):
            body.append((j + 1, lines[j][len(indent):] if lines[j].startswith(indent)
                         else lines[j]))
            j += 1
        yield i + 1, lang, body, skip.group(1) if skip else None
        i = j + 1


def _logical_lines(body: list[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    start, parts = 0, list[str]()
    for number, text in body:
        if not parts:
            start = number
        if text.rstrip().endswith("\\"):
            parts.append(text.rstrip()[:-1].strip())
            continue
        parts.append(text.strip())
        yield start, " ".join(p for p in parts if p)
        parts = []
    if parts:
        yield start, " ".join(parts)


def _command(line: str) -> str | None:
    line = line.removeprefix("$ ")
    if line.startswith("#"):
        return None
    if line.startswith("ciswitch "):
        return line
    match = re.search(r"&&\s+(ciswitch .*)$", line)
    return match.group(1) if match else None


def examples() -> tuple[list[Example], list[tuple[str, str]]]:
    found: list[Example] = []
    skipped: list[tuple[str, str]] = []
    for page in PAGES:
        rel = page.relative_to(ROOT).as_posix()
        for fence, lang, body, skip in _blocks(page.read_text(encoding="utf-8")):
            if lang not in LANGS:
                continue
            if skip:
                skipped.append((f"{rel}:{fence}", skip))
                continue
            for number, line in _logical_lines(body):
                command = _command(line)
                if command:
                    found.append(Example(rel, number, command))
    return found, skipped


EXAMPLES, SKIPPED = examples()


def test_the_extraction_finds_the_examples() -> None:
    ids = {e.id: e.command for e in EXAMPLES}
    assert ids["README.md:19"] == "ciswitch lint docs/examples/switch-me"
    assert any(c.startswith("ciswitch fix --diff") for c in ids.values())
    assert any(c.startswith("ciswitch fleet run --gitlab-url") and "--dry-run" in c
               for c in ids.values())  # continuation lines joined
    assert not any("pip install" in c for c in ids.values())
    assert len(EXAMPLES) >= 15
    for where, reason in SKIPPED:
        assert len(reason) > 10, f"{where}: a skip needs a reason"


# --------------------------------------------------------------------------- the sandbox

@dataclass
class Ran:
    proc: subprocess.CompletedProcess[str]
    cwd: Path


def _sandbox(base: Path, api: GitLabAPI) -> tuple[Path, dict[str, str]]:
    home = base / "home"
    home.mkdir(parents=True)
    (home / ".gitconfig").write_text("")
    tmp = base / "tmp"
    tmp.mkdir()
    env = {
        **os.environ, "HOME": str(home), "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Docs Author",
        "GIT_AUTHOR_EMAIL": "docs@example.test", "GIT_COMMITTER_NAME": "Docs Author",
        "GIT_COMMITTER_EMAIL": "docs@example.test", "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C", "TMPDIR": str(tmp), "GITLAB_TOKEN": TOKEN,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), str(BIN),
                                 os.environ.get("PATH", "")]),
        "WERF_STANDIN_LOG": str(base / "werf-calls.jsonl"),
    }
    for name in ("GIT_DIR", "GIT_WORK_TREE", "CI_REGISTRY_IMAGE", "NO_COLOR", "FORCE_COLOR"):
        env.pop(name, None)
    work = base / "project"
    work.mkdir()
    ci = (EXAMPLE / ".gitlab-ci.yml").read_text(encoding="utf-8")
    files = {
        ".gitlab-ci.yml": ci,
        "werf.yaml": "project: shop\nconfigVersion: 1\n---\nimage: app\nfrom: alpine\n",
        "docs/examples/switch-me/.gitlab-ci.yml": ci,
        "path/to/repo/.gitlab-ci.yml": ci,
        "ci/build.sh": "#!/bin/sh\nwerf build --stages-storage :local\n",
    }
    for rel, text in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text, encoding="utf-8")
    bare = base / "shop.git"
    git(base, "init", "-q", "--bare", "-b", "main", str(bare), env=env)
    git(bare, "config", "receive.advertisePushOptions", "true", env=env)
    for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-q", "-m", "initial"),
                 ("remote", "add", "origin", bare.as_uri()), ("push", "-q", "origin", "main"),
                 ("remote", "set-head", "origin", "main")):
        git(work, *args, env=env)
    api.projects = [{
        "id": 1, "path_with_namespace": "fleet/platform/shop", "http_url_to_repo": str(bare),
        "archived": False, "empty_repo": False, "default_branch": "main",
        "ci_config_path": None,
    }]
    return work, env


def _substitute(command: str, gitlab_url: str) -> str:
    for old, new in SUBSTITUTIONS.items():
        command = command.replace(old, new.format(gitlab_url=gitlab_url))
    return command


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[Example], Ran]]:
    api = GitLabAPI([])
    thread = threading.Thread(target=api.server.serve_forever, daemon=True)
    thread.start()
    cache: dict[str, Ran] = {}

    def run_page(page: str) -> None:
        base = tmp_path_factory.mktemp(re.sub(r"\W", "-", page))
        work, env = _sandbox(base, api)
        for example in (e for e in EXAMPLES if e.page == page):
            command = _substitute(example.command, api.url)
            proc = subprocess.run(["bash", "-c", command], cwd=work, env=env,
                                  capture_output=True, text=True, check=False, timeout=300)
            cache[example.id] = Ran(proc, work)

    def get(example: Example) -> Ran:
        if example.id not in cache:
            run_page(example.page)
        return cache[example.id]

    yield get
    api.server.shutdown()
    api.server.server_close()


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_example_runs(ran: Callable[[Example], Ran], example: Example) -> None:
    got = ran(example).proc
    output = got.stdout + got.stderr
    assert "Traceback" not in output, output
    assert got.returncode != 2, f"$ {example.command}\nexit 2:\n{output}"
    assert got.returncode in (0, 1), f"$ {example.command}\nexit {got.returncode}:\n{output}"


def test_readme_quick_start_has_findings(ran: Callable[[Example], Ran]) -> None:
    quick = next(e for e in EXAMPLES if e.id == "README.md:19")
    got = ran(quick).proc
    assert got.returncode == 1, "the README says: exit code 1, it has findings"
    assert "Found 4 findings" in got.stdout


@pytest.mark.xfail(strict=True, reason="paths are printed relative to the linted directory "
                   "(.gitlab-ci.yml:5:3), not to the current directory as ruff does "
                   "(docs/examples/switch-me/.gitlab-ci.yml:5:3)")
def test_readme_quick_start_paths_are_relative_to_the_current_directory(
    ran: Callable[[Example], Ran]
) -> None:
    quick = next(e for e in EXAMPLES if e.id == "README.md:19")
    assert ran(quick).proc.stdout.startswith("docs/examples/switch-me/.gitlab-ci.yml:")


# --------------------------------------------------------------------------- claims

def _text(rel: str) -> str:
    return (ROOT / rel).read_text(encoding="utf-8")


def _corpus_yaml_count() -> int:
    if not CORPUS_MANIFEST.is_file():
        pytest.skip(f"corpus manifest not found at {CORPUS_MANIFEST}")
    rows = CORPUS_MANIFEST.read_text(encoding="utf-8").splitlines()[1:]
    return sum(1 for row in rows if row.split("\t")[0].endswith((".yml", ".yaml")))


@pytest.mark.xfail(strict=True, reason="usage.md's pre-commit example pins rev: v0.1.0, which "
                   "is not a tag of the repository (tag the release or document the commit form)")
def test_pre_commit_rev_in_usage_is_a_tag() -> None:
    revs = re.findall(r"^\s*rev:\s*(\S+)", _text("docs/usage.md"), re.M)
    assert revs, "usage.md shows a pre-commit rev"
    tags = subprocess.run(["git", "tag", "--list"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.split()
    for rev in revs:
        assert rev in tags, f"rev {rev} is not a tag (tags: {tags})"


def test_corpus_count_reads_the_manifest() -> None:
    assert _corpus_yaml_count() > 50


@pytest.mark.xfail(strict=True, reason="README says '61 real YAML files' but the corpus "
                   "manifest lists 63")
def test_readme_corpus_count_matches_the_manifest() -> None:
    claimed = re.findall(r"On the (\d+) real YAML files of the shared corpus", _text("README.md"))
    assert claimed, "the README states the corpus size"
    assert int(claimed[0]) == _corpus_yaml_count()


def _git_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return isolate_git(monkeypatch, tmp_path)


@pytest.mark.xfail(strict=True, reason="usage.md says an input error is 'reported on one line "
                   "that names the file'; lint prints two lines, on standard output")
def test_input_error_is_one_line_on_stderr_as_usage_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "reported on one line that names the file" in " ".join(_text("docs/usage.md").split())
    env = _git_env(tmp_path, monkeypatch)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".gitlab-ci.yml").write_text("build:\n  script: [\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "ciswitch", "lint"], cwd=repo, env=env,
                          capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and ".gitlab-ci.yml" in lines[0], proc.stderr


def _marker_repo(tmp_path: Path, config_name: str | None, config: str = "") -> Path:
    repo = tmp_path / (config_name or "no-config").replace(".", "-")
    repo.mkdir()
    (repo / ".gitlab-ci.yml").write_text(
        "build:\n  script:\n    - source $(werf ci-env gitlab --as-file)\n"
        "    - werf build --stages-storage :local\n", encoding="utf-8")
    if config_name:
        (repo / config_name).write_text(config, encoding="utf-8")
    return repo


MARKER = 'stages-storage = "remote"\nstages-storage-address = "registry.example.com/g/a/stages"\n'


def test_marker_in_ciswitch_toml_makes_local_a_regression(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _git_env(tmp_path, monkeypatch)
    plain = _marker_repo(tmp_path, None)
    marked = _marker_repo(tmp_path, ".ciswitch.toml", MARKER)
    before = _lint_text(plain, env)
    after = _lint_text(marked, env)
    assert before != after and "refuse" in after.lower(), after


@pytest.mark.xfail(strict=True, reason="usage.md and migration.md: `ciswitch branch` records "
                   "the switch so that every later :local is reported as breaking; with "
                   "[tool.ciswitch] settings in pyproject.toml it records nothing (a warning only)")
def test_branch_records_the_marker_with_pyproject_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _git_env(tmp_path, monkeypatch)
    repo = _marker_repo(tmp_path, "pyproject.toml", '[tool.ciswitch]\nignore = ["CSW003"]\n')
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    proc = subprocess.run(
        [sys.executable, "-m", "ciswitch", "branch", "--no-push"], cwd=repo, env=env,
        capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    git(repo, "switch", "-q", "ciswitch/remote-stages-storage")
    ci = repo / ".gitlab-ci.yml"
    ci.write_text(ci.read_text() + "again:\n  script:\n    - werf build -s :local\n")
    assert "refuse" in _lint_text(repo, env).lower()


def _lint_text(repo: Path, env: dict[str, str]) -> str:
    proc = subprocess.run([sys.executable, "-m", "ciswitch", "lint"], cwd=repo, env=env,
                          capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    return proc.stdout


def test_migration_address_order_names_the_ciswitch_toml_address() -> None:
    text = " ".join(_text("docs/migration.md").split())
    start = text.index("**The address**")
    paragraph = text[start:text.index("**The project name**")]
    assert "stages-storage-address" in paragraph or ".ciswitch.toml" in paragraph


def test_every_skipped_block_says_why() -> None:
    for where, reason in SKIPPED:
        assert reason.strip(), where


def _example(prefix: str) -> Example:
    return next(e for e in EXAMPLES if e.command.startswith(prefix))


def test_migration_branch_example_pushed_the_branch(ran: Callable[[Example], Ran]) -> None:
    got = ran(_example("ciswitch branch --description-file"))
    bare = got.cwd.parent / "shop.git"
    heads = git(bare, "for-each-ref", "--format=%(refname)", "refs/heads/")
    assert "refs/heads/ciswitch/remote-stages-storage" in heads.split(), got.proc.stdout
