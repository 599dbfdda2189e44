"""The plain start of ``ciswitch lint`` (no click) against the click command, as processes.

``python -m ciswitch`` takes a plain ``lint`` command line without importing click; the oracle
is the click command tree itself (``ciswitch.cli.main``), run in its own process on the same
repository: stdout, stderr and exit status must be the same bytes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ciswitch.__main__ import plain_lint

FIXTURES = Path(__file__).parent / "fixtures" / "rules"
PLAIN = [sys.executable, "-m", "ciswitch"]
CLICK = [
    sys.executable,
    "-c",
    "import sys; from ciswitch.cli import main; sys.exit(main(prog_name='ciswitch'))",
]
#: the installed console command (its usage lines name it "ciswitch", as the oracle's do)
COMMAND = [str(Path(sys.executable).with_name("ciswitch"))]

CASES = [
    ["lint"],
    ["lint", "."],
    ["lint", "--format", "json", "."],
    ["lint", "--format=sarif", "--statistics", "."],
    ["lint", "--format", "gitlab", "--exit-zero"],
    ["lint", "-v", "--strict", "."],
    ["lint", ".", "--verbose", "--statistics", "--format", "github"],
    ["lint", "missing-dir"],
    ["lint", "--color", "always", "."],
    ["lint", "--color=never", "--format", "json"],
    ["lint", "--color", "always", "--statistics", "--format", "text"],
    ["lint", ".", ".gitlab-ci.yml"],
]


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False, env=env)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    source = FIXTURES / "CSW001" / "include-local-and-glob" / "input"
    work = tmp_path / "repo"
    shutil.copytree(source, work, symlinks=True)
    return work


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c) for c in CASES])
def test_plain_lint_prints_what_the_click_command_prints(args: list[str], repo: Path) -> None:
    assert plain_lint(args) is not None  # the case does take the plain start
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    plain = _run([*PLAIN, *args], repo, env)
    clicked = _run([*CLICK, *args], repo, env)
    assert plain == clicked
    assert plain[0] in (0, 1, 2)


#: modules a plain lint of a small repository does without: click (the plain start), the
#: dataclass machinery (the value classes are records), OpenSSL's hashing (small files are
#: stamped by the interpreter's own SHA-256), ruamel.yaml's API (composing uses its C composer
#: straight away, :mod:`ciswitch.ruamel_c`)
NOT_LOADED = {
    "click", "dataclasses", "inspect", "hashlib", "_hashlib",
    "ruamel.yaml.main", "ruamel.yaml.loader", "ruamel.yaml.dumper", "ruamel.yaml.cyaml",
}


def test_plain_lint_does_not_import_click(repo: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ciswitch", "lint", "."],
        cwd=repo, capture_output=True, text=True, check=False,
    )
    names = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
             if line.startswith("import time:") and "|" in line}
    assert "ciswitch.lint" in names  # the measurement works
    assert not names & NOT_LOADED, sorted(names & NOT_LOADED)


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["fix", "."],
        ["lint", "--help"],
        ["lint", "-o", "report.json"],
        ["lint", "--format", "bogus"],
        ["lint", "--format"],
        ["lint", "--format", "json", "--format", "text"],
        ["lint", "--", "."],
        ["lint", ""],
        ["lint", "-vx"],
        ["lint", "--config", "x.toml"],
        ["lint", "--color", "sometimes"],
        ["lint", "--color"],
        ["lint", "--color", "never", "--color", "always"],
        ["lint", "--colour", "never"],
        ["--version"],
    ],
)
def test_everything_else_goes_to_click(args: list[str]) -> None:
    assert plain_lint(args) is None


def test_a_usage_error_is_clicks_own(repo: Path) -> None:
    env = dict(os.environ)
    plain = _run([*COMMAND, "lint", "--format", "bogus", "."], repo, env)
    assert plain == _run([*CLICK, "lint", "--format", "bogus", "."], repo, env)
    assert plain[0] == 2 and "Invalid value for '--format'" in plain[2]


def test_output_closed_early_is_exit_1_without_a_traceback(repo: Path) -> None:
    (repo / ".gitlab-ci.yml").write_text(
        "".join(f"j{i}:\n  script: werf build --stages-storage :local\n" for i in range(3000))
    )
    proc = subprocess.Popen([*PLAIN, "lint", "."], cwd=repo, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait() == 1
    assert "Traceback" not in err


FIX_CASES = [
    ["fix", "--diff", "."],
    ["fix", "--check", "."],
    ["fix", "."],
    ["fix", "--format", "json", "--diff"],
    ["fix", "missing-dir"],
    ["fix", "--bogus"],
]


@pytest.mark.parametrize("args", FIX_CASES, ids=[" ".join(c) for c in FIX_CASES])
def test_fix_leaves_as_the_click_command_does(args: list[str], repo: Path, tmp_path: Path) -> None:
    """``fix`` leaves without the interpreter's teardown: the same output, exit status and
    written files as the click command tree run in its own process."""
    twin = tmp_path / "twin"
    shutil.copytree(repo, twin, symlinks=True)
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    left = _run([*COMMAND, *args], repo, env)
    clicked = _run([*CLICK, *args], twin, env)
    assert left == clicked
    assert left[0] in (0, 1, 2)
    assert (repo / ".gitlab-ci.yml").read_bytes() == (twin / ".gitlab-ci.yml").read_bytes()


#: ``python -m ciswitch ARGS``, reporting on stderr whether the collector was on when the
#: report was printed (after the plan, when a big file's heap is largest)
_COLLECTOR_PROBE = (
    "import gc, sys\n"
    "from ciswitch.cli import fix_cmd\n"
    "summary = fix_cmd.summary\n"
    "def probe(*args, **kwargs):\n"
    "    print(f'collector on: {gc.isenabled()}', file=sys.stderr)\n"
    "    return summary(*args, **kwargs)\n"
    "fix_cmd.summary = probe\n"
    "sys.argv = ['ciswitch', *sys.argv[1:]]\n"
    "from ciswitch.__main__ import run\n"
    "run()\n"
)


@pytest.mark.parametrize("args", [["fix", "--diff", "."], ["fix", "."]])
def test_fix_keeps_the_collector_off(args: list[str], repo: Path) -> None:
    """A whole-process ``fix`` leaves without the teardown, so nothing it made needs the
    collector: a full collection after the plan walked the whole heap of a big file (most of
    a second with werf in every job of 10,000)."""
    code, _, err = _run([sys.executable, "-c", _COLLECTOR_PROBE, *args], repo, dict(os.environ))
    assert code in (0, 1)
    assert "collector on: False" in err


#: ``python -m ciswitch ARGS``, counting the collections that run from the start of the
#: command (the interpreter's own start-up and the import of ``ciswitch.__main__`` before it)
_COLLECTIONS_PROBE = (
    "import gc, sys\n"
    "sys.argv = ['ciswitch', *sys.argv[1:]]\n"
    "from ciswitch.__main__ import run\n"
    "seen = []\n"
    "gc.callbacks.append(lambda phase, info: seen.append(info['generation']))\n"
    "import atexit, os\n"
    "real_exit = os._exit\n"
    "def leave(code):\n"
    "    print(f'collections: {len(seen)}', file=sys.stderr, flush=True)\n"
    "    real_exit(code)\n"
    "os._exit = leave\n"
    "run()\n"
)


def test_plain_lint_runs_no_collection(repo: Path) -> None:
    """The plain lint switches the collector off before importing the lint: those imports
    make many objects, and each collection among them walks ruamel's and typing's too."""
    code, _, err = _run([sys.executable, "-c", _COLLECTIONS_PROBE, "lint", "."], repo,
                        dict(os.environ))
    assert code in (0, 1)
    assert "collections: 0" in err, err


#: ``python -m ciswitch ARGS`` reporting which of ``pathlib`` and what it imports were loaded
#: by the command itself (an editable install's import hook may have loaded them at start-up)
_PATHLIB_PROBE = (
    "import sys, os\n"
    "for name in ('pathlib', 'urllib.parse', 'ipaddress'):\n"
    "    sys.modules.pop(name, None)\n"
    "sys.argv = ['ciswitch', *sys.argv[1:]]\n"
    "real_exit = os._exit\n"
    "def leave(code):\n"
    "    loaded = [n for n in ('pathlib', 'urllib.parse', 'ipaddress') if n in sys.modules]\n"
    "    print(f'loaded: {loaded}', file=sys.stderr, flush=True)\n"
    "    real_exit(code)\n"
    "os._exit = leave\n"
    "from ciswitch.__main__ import run\n"
    "run()\n"
)


@pytest.mark.parametrize("args", [["lint", "."], ["lint", "--format", "gitlab", "."],
                                  ["lint", ".gitlab-ci.yml", "--statistics"]])
def test_plain_lint_does_without_pathlib(args: list[str], repo: Path) -> None:
    """A plain lint speaks of disk paths as strings (:mod:`ciswitch.disk_paths`): pathlib and
    the URL parsing it imports are a twentieth of a small file's lint. (A SARIF report needs
    the URL parsing for the repository's address in its provenance.)"""
    code, _, err = _run([sys.executable, "-c", _PATHLIB_PROBE, *args], repo, dict(os.environ))
    assert code in (0, 1), err
    assert "loaded: []" in err, err
