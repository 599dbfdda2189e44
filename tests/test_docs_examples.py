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
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from gitrepos import git, isolate_git
from ruamel.yaml import YAML
from test_fleet_gitlab import TOKEN, GitLabAPI
from test_precommit import LOCAL_CI, HookRepo, pre_commit, run_git
from test_precommit import hook_repo as hook_repo  # the session fixture, by its name

from ciswitch import __version__

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


def _pre_commit_block() -> dict[str, object]:
    """The ``.pre-commit-config.yaml`` that usage.md shows, parsed."""
    text = _text("docs/usage.md")
    section = text[text.index("## pre-commit"):]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block, "usage.md shows a .pre-commit-config.yaml"
    config = YAML(typ="safe").load(block.group(1))
    assert isinstance(config, dict)
    return config


def _documented_hooks(config: dict[str, object], url: str, rev: str) -> str:
    """The documented configuration with the hosting address (and rev) put where the test
    hosts ciswitch."""
    [repo] = config["repos"]  # type: ignore[misc]
    assert repo["repo"] == "https://gitlab.example.com/tools/ciswitch.git"
    hooks = "".join(f"      - id: {hook['id']}\n" for hook in repo["hooks"])
    return f"repos:\n  - repo: {url}\n    rev: {rev}\n    hooks:\n{hooks}"


def test_pre_commit_rev_in_usage_is_the_release_tag_form() -> None:
    [repo] = _pre_commit_block()["repos"]  # type: ignore[misc]
    assert repo["rev"] == f"v{__version__}", "releases are tagged v + the version"


@pytest.mark.parametrize("form", ["tag", "commit"])
def test_pre_commit_example_runs(form: str, tmp_path: Path, hook_repo: HookRepo) -> None:
    """usage.md's configuration, run by pre-commit against a clone of this checkout: with the
    documented tag (the clone is tagged as a release would be) and with the commit form the
    page documents (the id ``git ls-remote URL main`` prints)."""
    config = _pre_commit_block()
    [repo] = config["repos"]  # type: ignore[misc]
    url = hook_repo.path.as_uri()
    if form == "tag":
        run_git(hook_repo.path, "tag", "-f", str(repo["rev"]), hook_repo.rev, env=hook_repo.env)
        rev = str(repo["rev"])
    else:
        run_git(hook_repo.path, "branch", "-f", "main", hook_repo.rev, env=hook_repo.env)
        listed = run_git(tmp_path, "ls-remote", url, "main", env=hook_repo.env).split()
        rev = listed[0]
        assert re.fullmatch(r"[0-9a-f]{40}", rev)
    project = tmp_path / "project"
    project.mkdir()
    (project / ".pre-commit-config.yaml").write_text(_documented_hooks(config, url, rev))
    (project / ".gitlab-ci.yml").write_text(LOCAL_CI)
    for args in (("init", "-q"), ("add", "-A"), ("commit", "-q", "-m", "project")):
        run_git(project, *args, env=hook_repo.env)
    proc = pre_commit(project, hook_repo, "run", "ciswitch-lint", "--all-files")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert ".gitlab-ci.yml:4:30: CSW001" in output
    assert "mutable reference" not in output


def test_corpus_count_reads_the_manifest() -> None:
    assert _corpus_yaml_count() > 50


_CORPUS_CLAIM = re.compile(
    r"On the (\d+) real YAML files of the shared corpus \((\d+) of them invalid as committed "
    r"and (\d+) including files the corpus does not hold, each refused at its line\), `fix` "
    r"changed (\d+) lines in (\d+) files: the (\d+) "
    r"lines that hold a stages-storage `:local` there, and (\d+) `variables:` keys left with "
    r"no entry; no other line changed")


def _corpus_fix_counts() -> tuple[int, ...]:
    """(YAML files, invalid ones, ones with a missing include, lines changed, files changed,
    storage lines changed, emptied keys), by running fix on a copy of each corpus file; a
    storage line is found by the corpus test's own oracle (a regular expression), not by
    ciswitch."""
    import csv
    import difflib
    import shutil

    from test_corpus import STORAGE_LOCAL

    from ciswitch.config import Config
    from ciswitch.fix import plan_fix
    from ciswitch.workspace import DirectoryWorkspace

    corpus = CORPUS_MANIFEST.parent
    with CORPUS_MANIFEST.open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle, delimiter="\t")
                if r["file"].endswith((".yml", ".yaml"))]
    invalid = missing = lines = files = storage = keys = 0
    with tempfile.TemporaryDirectory() as scratch:
        for number, row in enumerate(rows):
            repo = Path(scratch) / str(number)
            repo.mkdir()
            shutil.copyfile(corpus / row["file"], repo / ".gitlab-ci.yml")
            outcome = plan_fix(DirectoryWorkspace(repo), Config())
            messages = [p.message for p in outcome.problems]
            if any("invalid YAML" in m for m in messages):
                invalid += 1
            elif messages:
                assert all("cannot include" in m for m in messages), messages
                missing += 1
            for change in outcome.changes:
                files += 1
                old = change.old.decode("utf-8-sig").splitlines()
                new = change.new.decode("utf-8-sig").splitlines()
                matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
                for tag, i1, i2, _, _ in matcher.get_opcodes():
                    if tag == "equal":
                        continue
                    for text in old[i1:i2]:
                        lines += 1
                        if not text.lstrip().startswith("#") and STORAGE_LOCAL.search(text):
                            storage += 1
                        else:
                            assert re.fullmatch(r"\s*variables:\s*", text), text
                            keys += 1
    return len(rows), invalid, missing, lines, files, storage, keys


def test_readme_corpus_claim_matches_the_corpus() -> None:
    if not CORPUS_MANIFEST.is_file():
        pytest.skip(f"corpus manifest not found at {CORPUS_MANIFEST}")
    claim = _CORPUS_CLAIM.search(" ".join(_text("README.md").split()))
    assert claim, "the README states what fix did on the corpus"
    assert tuple(int(n) for n in claim.groups()) == _corpus_fix_counts()


def _git_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return isolate_git(monkeypatch, tmp_path)


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
