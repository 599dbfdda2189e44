"""ciswitch in a real terminal: tmux runs bash, the test types, ``capture-pane`` reads the screen.

``capture-pane -e`` keeps the escape sequences, so colours can be seen; every wait is a bounded
poll of the pane, never a fixed sleep. Each test has its own tmux server (``-S`` socket in
``tmp_path``), killed at the end whatever happens. Without tmux the tests skip, except under CI
(``CI`` set): there they fail (``.ci/run`` installs tmux from Debian).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gitrepos import isolate_git
from test_fleet_common import make_repo, write_list

PROMPT = "PROMPT$ "
ESC = "\x1b["
FLEET_SIZE = 20


def _tmux_binary() -> str:
    found = shutil.which("tmux")
    if found:
        return found
    reason = "tmux not installed (apt-get install tmux; .ci/run does this)"
    if os.environ.get("CI"):
        pytest.fail(reason + " [required under CI]")
    pytest.skip(reason)


class Terminal:
    """A tmux terminal running an interactive bash with a fixed prompt."""

    def __init__(self, binary: str, socket: Path, env: dict[str, str], cwd: Path) -> None:
        self.binary = binary
        self.socket = socket
        self.env = env
        bashrc = socket.parent / "bashrc"
        bashrc.write_text(
            f"PS1={shlex.quote(PROMPT)}\nPROMPT_COMMAND=\nunset HISTFILE\n"
            f"cd {shlex.quote(str(cwd))}\n", encoding="utf-8")
        self._tmux("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "160", "-y", "60",
                   f"bash --noprofile --rcfile {shlex.quote(str(bashrc))} -i")
        self.wait_for(lambda screen: screen.rstrip().endswith(PROMPT.rstrip()), "first prompt")

    def _tmux(self, *args: str) -> str:
        proc = subprocess.run([self.binary, "-S", str(self.socket), *args], env=self.env,
                              capture_output=True, text=True, check=False, timeout=30)
        assert proc.returncode == 0, f"tmux {' '.join(args)}: {proc.stderr}"
        return proc.stdout

    def screen(self, escapes: bool = False) -> str:
        args = ["capture-pane", "-p", "-J", "-t", "t"]
        if escapes:
            args.insert(2, "-e")
        return self._tmux(*args)

    def cursor(self) -> tuple[int, int, bool]:
        x, y, visible = self._tmux(
            "display-message", "-p", "-t", "t", "#{cursor_x} #{cursor_y} #{cursor_flag}"
        ).split()
        return int(x), int(y), visible == "1"

    def wait_for(self, done: object, what: str, timeout: float = 90.0,
                 escapes: bool = False) -> str:
        assert callable(done)
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen(escapes)
            if done(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; screen:\n{screen}")
            time.sleep(0.05)

    def clear(self) -> None:
        self.type("clear")
        self.wait_for(lambda s: s.strip() == PROMPT.strip(), "a cleared screen")
        self._tmux("clear-history", "-t", "t")

    def type(self, line: str) -> None:
        self._tmux("send-keys", "-t", "t", "-l", line)
        self._tmux("send-keys", "-t", "t", "Enter")

    def key(self, name: str) -> None:
        self._tmux("send-keys", "-t", "t", name)

    def run(self, line: str, timeout: float = 120.0) -> tuple[int, str, str]:
        """Type ``line`` on a cleared screen; its exit code, the screen, the screen with escapes."""
        self.clear()
        self.type(f"{line}; echo __RC__$?")
        screen = self.wait_for(lambda s: re.search(r"^__RC__\d+", s, re.M) is not None,
                               f"`{line}` to end", timeout)
        match = re.search(r"^__RC__(\d+)", screen, re.M)
        assert match
        return int(match.group(1)), screen, self.screen(escapes=True)

    def kill(self) -> None:
        subprocess.run([self.binary, "-S", str(self.socket), "kill-server"], env=self.env,
                       capture_output=True, check=False, timeout=30)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    environ = isolate_git(monkeypatch, tmp_path)
    for name in ("NO_COLOR", "FORCE_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "TMUX", "COLUMNS",
                 "LINES"):
        environ.pop(name, None)
    environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), environ["PATH"]])
    environ["TERM"] = "xterm-256color"
    return environ


@pytest.fixture
def term(env: dict[str, str], tmp_path: Path) -> Iterator[Terminal]:
    binary = _tmux_binary()
    sock_dir = tmp_path / "tmux"
    sock_dir.mkdir()
    terminal: Terminal | None = None
    try:
        terminal = Terminal(binary, sock_dir / "socket", env, tmp_path)
        yield terminal
    finally:
        if terminal is not None:
            terminal.kill()
        else:
            subprocess.run([binary, "-S", str(sock_dir / "socket"), "kill-server"],
                           capture_output=True, check=False, timeout=30)


LINT_REPO = {
    ".gitlab-ci.yml": """\
variables:
  WERF_STAGES_STORAGE: ":local"
build:
  script:
    - source $(werf ci-env gitlab --as-file)
    - werf build-and-publish --stages-storage :local
""",
}


@pytest.fixture
def lint_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    for rel, text in LINT_REPO.items():
        (repo / rel).write_text(text, encoding="utf-8")
    return repo


def _has_colour(screen_with_escapes: str) -> bool:
    return re.search(r"\x1b\[[0-9;]*[1-9][0-9;]*m", screen_with_escapes) is not None


# --------------------------------------------------------------------------- lint


def test_lint_is_coloured_on_a_terminal(term: Terminal, lint_repo: Path) -> None:
    code, screen, raw = term.run(f"ciswitch lint {lint_repo}")
    assert code == 1
    assert ".gitlab-ci.yml:2:3: CSW002" in screen
    assert "Found 2 findings" in screen
    assert _has_colour(raw), raw


def test_lint_into_a_pipe_has_no_escape_codes(term: Terminal, lint_repo: Path) -> None:
    # cat -v shows an escape character as ^[ on the screen
    code, screen, _raw = term.run(f"ciswitch lint {lint_repo} | cat -v; (exit ${{PIPESTATUS[0]}})")
    assert code == 1
    assert ".gitlab-ci.yml:2:3: CSW002" in screen
    assert "^[" not in screen


def test_no_color_turns_colours_off_on_a_terminal(term: Terminal, lint_repo: Path) -> None:
    code, screen, raw = term.run(f"NO_COLOR=1 ciswitch lint {lint_repo}")
    assert code == 1 and "CSW002" in screen
    assert not _has_colour(raw.split("NO_COLOR=1", 1)[1]), raw


def test_force_color_colours_a_pipe(term: Terminal, lint_repo: Path) -> None:
    _code, screen, _raw = term.run(f"FORCE_COLOR=1 ciswitch lint {lint_repo} | cat -v")
    assert "CSW002" in screen
    assert "^[[" in screen


def test_color_never_turns_colours_off(term: Terminal, lint_repo: Path) -> None:
    code, screen, raw = term.run(f"ciswitch lint --color never {lint_repo}")
    assert code == 1 and "CSW002" in screen
    assert not _has_colour(raw.split("--color never", 1)[1])


def test_color_always_colours_a_pipe(term: Terminal, lint_repo: Path) -> None:
    _code, screen, _raw = term.run(f"ciswitch lint --color always {lint_repo} | cat -v")
    assert "CSW002" in screen
    assert "^[[" in screen


def test_force_color_does_not_beat_color_never(term: Terminal, lint_repo: Path) -> None:
    _code, screen, _raw = term.run(f"FORCE_COLOR=1 ciswitch lint --color never {lint_repo} "
                                   "| cat -v")
    assert "CSW002" in screen
    assert "^[" not in screen


def test_fix_is_coloured_on_a_terminal_unless_never(term: Terminal, lint_repo: Path) -> None:
    (lint_repo / ".gitlab-ci.yml").write_text(
        "build:\n  script:\n    - werf build --synchronization :local\n", encoding="utf-8")
    code, _screen, raw = term.run(f"ciswitch fix --check {lint_repo}")
    assert code == 1 and _has_colour(raw), raw
    code, _screen, raw = term.run(f"ciswitch fix --check --color never {lint_repo}")
    assert code == 1 and not _has_colour(raw.split("--color never", 1)[1]), raw


# --------------------------------------------------------------------------- fleet run


@pytest.fixture
def fleet_list(tmp_path: Path, env: dict[str, str]) -> Path:
    kinds = ["flag", "clean", "variable", "include"]
    repos = [make_repo(tmp_path / "src", f"r{i:02d}", kinds[i % len(kinds)])
             for i in range(FLEET_SIZE)]
    return write_list(tmp_path / "repos.txt", repos)


def _progress_counts(screen: str) -> set[int]:
    return {int(m) for m in re.findall(rf"fleet .*?(\d+)/{FLEET_SIZE}\b", screen)}


def test_fleet_run_shows_progress_and_the_summary(
    term: Terminal, fleet_list: Path, tmp_path: Path
) -> None:
    term.clear()
    term.type(f"ciswitch fleet run --repos {fleet_list} --workdir {tmp_path / 'w'}; "
              "echo __RC__$?")
    seen: set[int] = set()
    deadline = time.monotonic() + 180
    while True:
        screen = term.screen()
        seen |= _progress_counts(screen)
        if re.search(r"^__RC__\d+", screen, re.M):
            break
        assert time.monotonic() < deadline, screen
        time.sleep(0.05)
    assert "__RC__0" in screen, screen
    assert FLEET_SIZE in seen, f"the bar reaches {FLEET_SIZE}/{FLEET_SIZE}: {screen}"
    assert len(seen) >= 2, f"the bar advanced through several counts: {sorted(seen)}"
    assert "done: 5 clean, 15 pushed" in screen
    # the prompt comes back at the start of its own line
    last = [line for line in screen.splitlines() if line.strip()][-1]
    assert last == PROMPT.rstrip() or last.startswith(PROMPT.rstrip())
    assert term.cursor()[0] == len(PROMPT)

    code, table, _raw = term.run(f"ciswitch fleet status --workdir {tmp_path / 'w'}")
    assert code == 0
    assert f"{FLEET_SIZE} repositories: 5 clean, 15 pushed" in table
    assert sum(1 for line in table.splitlines() if re.search(r"\br\d\d-remote\.git\b", line)) \
        == FLEET_SIZE


def test_fleet_run_ends_with_the_status_table(
    term: Terminal, fleet_list: Path, tmp_path: Path
) -> None:
    code, screen, _raw = term.run(
        f"ciswitch fleet run --repos {fleet_list} --workdir {tmp_path / 'w'}", timeout=180)
    assert code == 0
    rows = [line for line in screen.splitlines() if re.search(r"\br\d\d-remote\.git\b", line)]
    assert len(rows) >= FLEET_SIZE, screen
    assert f"{FLEET_SIZE} repositories: 5 clean, 15 pushed" in screen
    # the table is the last thing before the prompt
    lines = [line for line in screen.splitlines() if line.strip()]
    assert lines[-3].startswith(f"{FLEET_SIZE} repositories: "), screen


@pytest.mark.parametrize(("option", "coloured"), [
    pytest.param("", True, id="auto"),
    pytest.param("--color never", False, id="never"),
])
def test_fleet_run_colours_follow_color(
    option: str, coloured: bool, term: Terminal, fleet_list: Path, tmp_path: Path
) -> None:
    code, _screen, raw = term.run(
        f"ciswitch fleet run {option} --repos {fleet_list} --workdir {tmp_path / 'w'}",
        timeout=180)
    assert code == 0
    assert _has_colour(raw.split("ciswitch fleet run", 1)[1]) == coloured, raw


def _interrupt_slow_run(term: Terminal, fleet_list: Path, tmp_path: Path) -> str:
    term.clear()
    term.type(f"ciswitch fleet run --repos {fleet_list} --workdir {tmp_path / 'w'} "
              "--batch-size 2 --pause 600")
    term.wait_for(lambda s: 2 in _progress_counts(s), "the first batch to finish")
    term.key("C-c")
    return term.wait_for(lambda s: s.rstrip().endswith(PROMPT.rstrip()), "the prompt after "
                         "Ctrl-C", timeout=30)


def test_ctrl_c_during_fleet_run_stops_it_without_a_traceback(
    term: Terminal, fleet_list: Path, tmp_path: Path
) -> None:
    screen = _interrupt_slow_run(term, fleet_list, tmp_path)
    assert "Traceback" not in screen and "KeyboardInterrupt" not in screen, screen
    # the terminal still works: the next command prints normally
    term.type("echo still-here")
    term.wait_for(lambda s: re.search(r"^still-here$", s, re.M) is not None, "echo")


def test_ctrl_c_during_fleet_run_shows_the_cursor_again(
    term: Terminal, fleet_list: Path, tmp_path: Path
) -> None:
    _interrupt_slow_run(term, fleet_list, tmp_path)
    assert term.cursor()[2]


def test_ctrl_c_during_fleet_run_leaves_the_prompt_on_its_own_line(
    term: Terminal, fleet_list: Path, tmp_path: Path
) -> None:
    screen = _interrupt_slow_run(term, fleet_list, tmp_path)
    assert term.cursor()[0] == len(PROMPT), screen


def test_ctrl_c_during_fleet_run_exits_130(
    term: Terminal, fleet_list: Path, tmp_path: Path
) -> None:
    _interrupt_slow_run(term, fleet_list, tmp_path)
    term.type("echo __RC__$?")
    screen = term.wait_for(lambda s: re.search(r"^__RC__\d+", s, re.M) is not None, "echo $?")
    assert re.search(r"^__RC__130$", screen, re.M), screen
    assert "Aborted!" not in screen


# --------------------------------------------------------------------------- fleet status


def test_fleet_status_refresh_shows_a_bar_on_the_terminal_and_a_clean_table_in_the_file(
    term: Terminal, tmp_path: Path
) -> None:
    import json

    from gitlab_standin import GitLabStandin

    from ciswitch.fleet.journal import Journal, RepoOutcome, Status
    from ciswitch.gitlab_api import GitLabClient, MergeRequestSpec

    token = "glpat-standin-user-token"
    branch = "ciswitch/remote-stages-storage"
    with GitLabStandin({token: False}) as api:
        client = GitLabClient(api.url, token)
        workdir = tmp_path / "w"
        with Journal(workdir / "ciswitch-fleet.sqlite") as journal:
            run = journal.start_run(dry_run=False, shard=None, command="fleet run")
            for i in range(6):
                project = api.add_project(f"fleet/p{i}")
                api.push(project, branch)
                client.create_merge_request(client.project(f"fleet/p{i}"), MergeRequestSpec(
                    source_branch=branch, target_branch="main", title="switch"))
                url = f"{api.url}/fleet/p{i}.git"
                journal.mark_pending(run, url, url, f"fleet/p{i}")
                journal.record(run, RepoOutcome(url, Status.MR_OPENED, branch=branch))
            journal.finish_run(run)
        api.delay = 0.2  # a slow GitLab: about 6 s in all, long enough to see the bar
        out = tmp_path / "refreshed.json"
        term.clear()
        term.type(f"GITLAB_TOKEN={token} ciswitch fleet status --workdir {workdir} --refresh "
                  f"--gitlab-url {api.url} --format json > {out}; echo __RC__$?")
        term.wait_for(lambda s: "asking GitLab" in s, "the progress bar")
        screen = term.wait_for(lambda s: re.search(r"^__RC__\d+", s, re.M) is not None,
                               "the refresh to end")
    assert "__RC__0" in screen, screen
    assert "asking GitLab" not in screen  # the bar is gone once done
    text = out.read_text(encoding="utf-8")
    assert ESC not in text and "\r" not in text
    rows = json.loads(text)["repositories"]
    assert [(r["name"], r["mr"], r["mr_state"]) for r in rows] == [
        (f"fleet/p{i}", "!1", "opened") for i in range(6)]
