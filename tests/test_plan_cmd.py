"""``ciswitch plan`` end to end: the installed CLI in a subprocess, a real git repository, and
the werf stand-in under tests/bin recording the exact command lines."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

STANDIN_DIR = Path(__file__).parent / "bin"
FIXTURES = Path(__file__).parent / "fixtures" / "runbook" / "werf_config"
CISWITCH = str(Path(sys.executable).parent / "ciswitch")
TOKEN = "glpat-V3ryS3cretTokenValue"
REMOTE = f"https://oauth2:{TOKEN}@gitlab.example.com/Web/Shop.git"
ADDR = "registry.example.com/web/shop/stages"
BLOCK_DIR = Path("service") / "stages_switch_from_local_block"


@dataclass
class Env:
    repo: Path
    home: Path
    log: Path
    vars: dict[str, str]

    def run(self, *args: str, stdin: Any = subprocess.DEVNULL, **extra: str
            ) -> subprocess.CompletedProcess[str]:
        env = dict(self.vars, **extra)
        return subprocess.run([CISWITCH, "plan", *args], cwd=self.repo, env=env, stdin=stdin,
                              capture_output=True, text=True, check=False, timeout=60)

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line)["argv"] for line in self.log.read_text().splitlines()]

    def werf_calls(self) -> list[list[str]]:
        """The calls other than the version probe."""
        return [c for c in self.calls() if c != ["version"]]


@pytest.fixture
def env(tmp_path: Path) -> Env:
    repo = tmp_path / "shop"
    shutil.copytree(FIXTURES / "plain", repo)
    (repo / "case.json").unlink()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "remote", "add", "origin", REMOTE], check=True)
    home = tmp_path / "werf-home"
    log = tmp_path / "werf.log"
    keep = {k: v for k, v in os.environ.items()
            if k not in ("CI_REGISTRY_IMAGE", "WERF_PROJECT_NAME", "WERF_HOME", "GITLAB_TOKEN")
            and not k.startswith("WERF_STANDIN_")}
    keep.update({
        "PATH": f"{STANDIN_DIR}{os.pathsep}{os.environ['PATH']}",
        "WERF_HOME": str(home),
        "WERF_STANDIN_LOG": str(log),
        "WERF_STANDIN_PROJECT": "shop",
        "HOME": str(tmp_path / "user-home"),
    })
    return Env(repo, home, log, keep)


# --- showing the plan -------------------------------------------------------------------------


def test_text_plan(env: Env) -> None:
    done = env.run("--registry-host", "registry.example.com")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "werf project:   shop (from werf.yaml)" in out
    assert f"stages address: {ADDR} (from git remote origin: gitlab.example.com/Web/Shop" in out
    assert f"werf here:      v1.1.23 ({STANDIN_DIR / 'werf'})" in out
    assert f"$ werf stages sync --from :local --to {ADDR}" in out
    assert f"$ werf stages switch-from-local --to {ADDR}" in out
    assert f"$ rm {env.home / BLOCK_DIR / 'shop'}" in out
    assert TOKEN not in out + done.stderr
    assert env.werf_calls() == []  # showing the plan runs nothing but `werf version`


def test_markdown_plan_for_the_merge_request(env: Env) -> None:
    done = env.run("--to", ADDR, "--format", "markdown")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("## Switching shop to remote stages storage\n")
    assert f"   werf stages switch-from-local --to {ADDR}\n" in done.stdout
    assert "> **Warning:**" in done.stdout


def test_json_plan(env: Env) -> None:
    done = env.run("--format", "json", "--registry-host", "registry.example.com",
                   "--project", "shop-eu")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["project"] == {"name": "shop-eu", "source": "--project", "config": "werf.yaml",
                               "problem": None}
    assert data["stages_address"]["address"] == ADDR
    assert data["werf"]["version"] == "v1.1.23"
    assert data["block_file"] == str(env.home / BLOCK_DIR / "shop-eu")
    assert [s["key"] for s in data["steps"]] == ["sync", "branch", "switch", "merge", "rebase"]
    assert TOKEN not in done.stdout


def test_plan_lists_what_the_merge_request_changes(env: Env) -> None:
    shutil.copytree(FIXTURES.parent / "project", env.repo, dirs_exist_ok=True)
    before = (env.repo / ".gitlab-ci.yml").read_bytes()
    done = env.run("--to", ADDR)
    assert done.returncode == 0, done.stderr
    assert "The merge request fixes the 2 places below." in done.stdout
    assert "       - .gitlab-ci.yml:10:" in done.stdout
    assert "       - .gitlab-ci.yml:16:" in done.stdout
    assert "$ ciswitch branch --description-file" in done.stdout
    assert (env.repo / ".gitlab-ci.yml").read_bytes() == before  # planning writes nothing


def test_ci_registry_image_gives_the_address(env: Env) -> None:
    done = env.run("--format", "json", CI_REGISTRY_IMAGE="registry.example.com/web/shop")
    assert json.loads(done.stdout)["stages_address"] == {
        "address": ADDR, "source": "CI_REGISTRY_IMAGE", "problem": None}


def test_unknown_address_still_plans_with_placeholders(env: Env) -> None:
    done = env.run()
    assert done.returncode == 0, done.stderr
    assert "werf stages switch-from-local --to <ADDR>" in done.stdout
    assert "--registry-host" in done.stdout
    assert TOKEN not in done.stdout


def test_old_werf_is_flagged_in_the_plan(env: Env) -> None:
    done = env.run("--to", ADDR, WERF_STANDIN_VERSION="v1.1.4")
    assert done.returncode == 0
    assert "! werf v1.1.4 is too old" in done.stdout


def test_not_a_directory(env: Env) -> None:
    done = env.run("missing-dir")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "missing-dir" in done.stderr


# --- running steps ----------------------------------------------------------------------------

CI_REMOTE = "build:\n  script:\n    - source $(werf ci-env gitlab --as-file)\n    - werf build\n"
IDENTITY = {"GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.test",
            "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.test",
            "GIT_CONFIG_NOSYSTEM": "1"}


def ready_for_switch(env: Env) -> None:
    """Make origin a real bare repository whose change branch has no :local left, so that the
    switch's guard passes (no GitLab token: the merge request is not asked about)."""
    bare = env.repo.parent / "shop-remote.git"
    genv = dict(env.vars, **IDENTITY)

    def git(*args: str, cwd: Path = env.repo) -> None:
        subprocess.run(["git", *args], cwd=cwd, env=genv, check=True, capture_output=True)

    git("init", "-q", "--bare", str(bare), cwd=env.repo.parent)
    git("remote", "set-url", "origin", bare.as_uri())
    git("add", "-A")
    git("commit", "-q", "-m", "initial")
    git("switch", "-q", "-c", "ciswitch/remote-stages-storage")
    (env.repo / ".gitlab-ci.yml").write_text(CI_REMOTE)
    git("add", "-A")
    git("commit", "-q", "-m", "switch\n\nCiswitch-Change: remote-stages-storage")
    git("push", "-q", "origin", "HEAD")
    git("switch", "-q", "-")


@pytest.mark.parametrize(
    ("step", "argv"),
    [
        ("sync", ["stages", "sync", "--from", ":local", "--to", ADDR]),
        ("switch", ["stages", "switch-from-local", "--to", ADDR]),
        ("rollback-sync", ["stages", "sync", "--from", ADDR, "--to", ":local"]),
    ],
)
def test_run_step_runs_the_exact_werf_command(env: Env, step: str, argv: list[str]) -> None:
    ready_for_switch(env)
    done = env.run("--to", ADDR, "--run", step, "--yes")
    assert done.returncode == 0, done.stderr
    assert env.calls() == [["version"], argv]
    logged = json.loads(env.log.read_text().splitlines()[-1])
    assert Path(logged["cwd"]).resolve() == env.repo.resolve()
    # werf's output streams through; ciswitch's own lines go to stderr
    assert f"werf stand-in: {' '.join(argv)}" in done.stdout
    assert f"will run in {env.repo.resolve()}: {STANDIN_DIR / 'werf'} {' '.join(argv)}" \
        in done.stderr


def test_switch_then_unblock(env: Env) -> None:
    ready_for_switch(env)
    block = env.home / BLOCK_DIR / "shop"
    done = env.run("--to", ADDR, "--run", "switch", "--yes")
    assert done.returncode == 0, done.stderr
    assert "WARNING: From here on every branch" in done.stderr
    assert f"block file written: {block}" in done.stderr
    assert block.is_file()

    done = env.run("--run", "unblock", "--yes")
    assert done.returncode == 0, done.stderr
    assert f"removed {block}" in done.stderr
    assert not block.exists()

    done = env.run("--run", "unblock", "--yes")
    assert done.returncode == 0
    assert f"no block file at {block}: nothing to remove" in done.stderr


def test_switch_notices_a_missing_block_file(env: Env) -> None:
    ready_for_switch(env)
    done = env.run("--to", ADDR, "--run", "switch", "--yes", WERF_STANDIN_PROJECT="")
    assert done.returncode == 0
    assert "note: no block file at" in done.stderr


def test_unblock_needs_the_project_name(env: Env) -> None:
    (env.repo / "werf.yaml").write_text("configVersion: 1\nproject: {{ env \"P\" }}\n")
    block = env.home / BLOCK_DIR / "shop"
    block.parent.mkdir(parents=True)
    block.write_text("")
    done = env.run("--run", "unblock", "--yes")
    assert done.returncode == 2
    assert "werf.yaml:2" in done.stderr and "--project NAME" in done.stderr
    assert block.exists()
    done = env.run("--run", "unblock", "--yes", "--project", "shop")
    assert done.returncode == 0 and not block.exists()


def test_refuses_without_yes_when_stdin_is_not_a_terminal(env: Env) -> None:
    ready_for_switch(env)
    done = env.run("--to", ADDR, "--run", "switch")
    assert done.returncode == 2
    assert "stdin is not a terminal" in done.stderr and "--yes" in done.stderr
    assert env.werf_calls() == []
    assert not (env.home / BLOCK_DIR / "shop").exists()


def test_failure_exit_code_is_werf_s(env: Env) -> None:
    done = env.run("--to", ADDR, "--run", "sync", "--yes", WERF_STANDIN_EXIT="3")
    assert done.returncode == 3
    assert "werf failed with exit code 3; stopped here" in done.stderr
    assert "failing as asked" in done.stderr


@pytest.mark.parametrize(("version", "says"), [("v1.1.9", "too old"), ("v1.2.7", "--repo")])
def test_refuses_unsuitable_werf(env: Env, version: str, says: str) -> None:
    done = env.run("--to", ADDR, "--run", "switch", "--yes", WERF_STANDIN_VERSION=version)
    assert done.returncode == 2
    assert says in done.stderr and version in done.stderr
    assert env.werf_calls() == []


def test_unknown_werf_version_runs_with_a_note(env: Env) -> None:
    done = env.run("--to", ADDR, "--run", "sync", "--yes", WERF_STANDIN_VERSION="dev")
    assert done.returncode == 0, done.stderr
    assert "note: cannot tell the werf version from `werf version` (dev)" in done.stderr
    assert env.werf_calls() == [["stages", "sync", "--from", ":local", "--to", ADDR]]


def test_refuses_without_address(env: Env) -> None:
    done = env.run("--run", "sync", "--yes")
    assert done.returncode == 2
    assert "stages address is unknown" in done.stderr and "--registry-host" in done.stderr
    assert TOKEN not in done.stderr
    assert env.werf_calls() == []


def test_refuses_without_werf(env: Env) -> None:
    path = os.pathsep.join(p for p in env.vars["PATH"].split(os.pathsep)
                           if p != str(STANDIN_DIR))
    done = env.run("--to", ADDR, "--run", "sync", "--yes", PATH=path)
    assert done.returncode == 2
    assert "werf is not on PATH" in done.stderr


def test_explicit_werf_path(env: Env, tmp_path: Path) -> None:
    other = tmp_path / "tools" / "werf"
    other.parent.mkdir()
    shutil.copy2(STANDIN_DIR / "werf", other)
    path = os.pathsep.join(p for p in env.vars["PATH"].split(os.pathsep)
                           if p != str(STANDIN_DIR))
    done = env.run("--to", ADDR, "--run", "sync", "--yes", "--werf", str(other), PATH=path)
    assert done.returncode == 0, done.stderr
    assert env.werf_calls() == [["stages", "sync", "--from", ":local", "--to", ADDR]]


def _run_on_terminal(env: Env, answer: str, *args: str) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdin and type ``answer``."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([CISWITCH, "plan", *args], cwd=env.repo, env=env.vars,
                                stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        os.write(master, answer.encode())
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    return proc.returncode, out + err


def test_confirmation_declined_runs_nothing(env: Env) -> None:
    ready_for_switch(env)
    code, output = _run_on_terminal(env, "n\n", "--to", ADDR, "--run", "switch")
    assert code == 1
    assert "Run it?" in output and "not run" in output
    # the question comes after what was verified
    assert output.index("verified before the switch:") < output.index("Run it?")
    assert "passed      change branch: origin/ciswitch/remote-stages-storage" in output
    assert env.werf_calls() == []


def test_confirmation_accepted_runs(env: Env) -> None:
    code, output = _run_on_terminal(env, "y\n", "--to", ADDR, "--run", "rollback-sync")
    assert code == 0, output
    assert env.werf_calls() == [["stages", "sync", "--from", ADDR, "--to", ":local"]]


def test_address_recorded_in_ciswitch_toml_is_used(env: Env) -> None:
    (env.repo / ".ciswitch.toml").write_text(
        f'stages-storage = "remote"\nstages-storage-address = "{ADDR}"\n'
    )
    done = env.run("--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["stages_address"]["address"] == ADDR
