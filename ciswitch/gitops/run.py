"""Running git: the one runner every git process of ciswitch goes through, and its errors.

GitPython is imported inside functions, so importing this package does not load ``git``."""

from __future__ import annotations

import contextvars
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ciswitch.errors import CiswitchError
from ciswitch.redact import redact

if TYPE_CHECKING:
    import git


#: the process group every git process joins (set by :func:`tie_children`; None: its own)
_process_group: int | None = None
#: called before every push; raises CiswitchError when pushing must not happen any more
_push_guard: Callable[[], None] | None = None


#: configuration entries (key, value) every git process started in this context gets, after
#: those of the environment: one repository's credentials, while a worker thread works on it
_context_config: contextvars.ContextVar[tuple[tuple[str, str], ...]] = contextvars.ContextVar(
    "ciswitch_git_config", default=())


@contextmanager
def git_config(entries: Sequence[tuple[str, str]]) -> Iterator[None]:
    """While inside, every git process this thread starts here gets ``entries`` as
    ``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n`` of its own environment (never of this
    process's: threads of a fleet run work on different repositories at once, each with its
    own credentials, and nothing but the git process may see them)."""
    token = _context_config.set(_context_config.get() + tuple(entries))
    try:
        yield
    finally:
        _context_config.reset(token)


def _context_variables(base: Mapping[str, str]) -> dict[str, str]:
    """The ``GIT_CONFIG_*`` variables that give git the entries of :func:`git_config`,
    numbered after any ``GIT_CONFIG_COUNT`` of ``base`` (empty when there are none)."""
    entries = _context_config.get()
    if not entries:
        return {}
    count = int(base.get("GIT_CONFIG_COUNT", "0") or "0")
    out: dict[str, str] = {}
    for key, value in entries:
        out[f"GIT_CONFIG_KEY_{count}"] = key
        out[f"GIT_CONFIG_VALUE_{count}"] = value
        count += 1
    out["GIT_CONFIG_COUNT"] = str(count)
    return out


def _with_context_config(env: Mapping[str, str] | None) -> dict[str, str] | None:
    """``env`` (None: this process's environment) plus the entries of :func:`git_config`;
    None when it is this process's environment as it is."""
    base = os.environ if env is None else env
    added = _context_variables(base)
    if not added:
        return None if env is None else dict(env)
    return {**base, **added}


def tie_children(process_group: int | None, push_guard: Callable[[], None] | None) -> None:
    """Start every git process of this process in ``process_group`` (the fleet's watchdog
    kills that group when the run dies), and have every push ask ``push_guard`` first (it
    raises when the run that asked for the push is gone).

    Joining a group is done by the kernel between fork and exec without running Python code
    in the child, so git is still started with ``vfork``: a ``preexec_fn`` would make every
    git process a full ``fork`` of this interpreter (3 ms more per process, measured)."""
    global _process_group, _push_guard
    _process_group, _push_guard = process_group, push_guard


def _spawn_refused(err: OSError) -> CiswitchError | None:
    """The error to raise when git could not join the tied group: the group is gone, so the
    run that owned it is over (None: another failure, raised as it is)."""
    if _process_group is None or not isinstance(err, PermissionError):
        return None
    return CiswitchError(
        f"the run's process group {_process_group} is gone (the run was stopped): not "
        "starting git"
    )


def check_push_allowed() -> None:
    """Raise when the push guard of :func:`tie_children` says no push may start now."""
    if _push_guard is not None:
        _push_guard()


def git_error(err: Exception, what: str) -> CiswitchError:
    """A one-line, redacted :class:`CiswitchError` from a failed git command."""
    stderr = getattr(err, "stderr", "") or str(err)
    if isinstance(stderr, bytes):
        stderr = stderr.decode("utf-8", "replace")
    return _stderr_error(str(stderr), what)


def _stderr_error(stderr: str, what: str) -> CiswitchError:
    """:func:`git_error` from the standard error text of a git process."""
    lines = [ln.strip() for ln in stderr.splitlines()]
    lines = [re.sub(r"^stderr: '?", "", ln).rstrip("'").strip() for ln in lines]
    detail = "; ".join(ln for ln in lines if ln)
    return CiswitchError(redact(f"{what}: {detail}" if detail else what))


def _git_executable() -> str:
    """The git GitPython was told to use (``GIT_PYTHON_GIT_EXECUTABLE``), else ``git``; read
    from the environment as GitPython does when it is not loaded (a command that only starts
    git processes need not import it)."""
    if "git" not in sys.modules:
        return os.environ.get("GIT_PYTHON_GIT_EXECUTABLE") or "git"
    import git

    return str(git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git")


def run_git(repo: git.Repo, what: str, *args: str, env: Mapping[str, str] | None = None) -> str:
    """``git <args>`` in ``repo``; a git failure becomes a CiswitchError saying ``what``."""
    import git

    try:
        out: str = repo.git.execute(
            [_git_executable(), *args], env=_with_context_config(env),
            strip_newline_in_stdout=False, process_group=_process_group,
        )
    except git.GitCommandError as err:
        raise git_error(err, what) from err
    except OSError as err:
        refused = _spawn_refused(err)
        if refused is None:
            raise
        raise refused from err
    return out


def git_process(
    args: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
    stdin: int | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """``git <args>`` as its own process (not GitPython's), with the git GitPython would use;
    output captured as bytes, the exit code left to the caller."""
    done: subprocess.CompletedProcess[bytes] = _started(
        [_git_executable(), *args], cwd=cwd, env=env, input=input, stdin=stdin,
    )
    return done


def git_text(
    args: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``git <args>`` (the ``git`` on ``PATH``) with text output, the exit code left to the
    caller; may raise :class:`OSError` when git cannot be started."""
    done: subprocess.CompletedProcess[str] = _started(["git", *args], cwd=cwd, env=env,
                                                      text=True)
    return done


def _started(argv: list[str], *, env: Mapping[str, str] | None = None,
             **options: Any) -> subprocess.CompletedProcess[Any]:
    """Run ``argv`` to its end in the run's process group (see :func:`tie_children`), with the
    entries of :func:`git_config`, output captured; a refusal to start it (too many
    processes, no memory) is a one-line error."""
    try:
        return subprocess.run(
            argv, capture_output=True, check=False, process_group=_process_group,
            env=_with_context_config(env), **options
        )
    except OSError as err:
        refused = _spawn_refused(err)
        if refused is None:
            raise
        raise refused from err


def git_output(args: Sequence[str], cwd: Path | None = None) -> str:
    """``git <args>`` without a terminal prompt; its standard output, or a redacted one-line
    :class:`CiswitchError` naming the subcommand and git's own words."""
    proc = git_text(args, cwd=cwd, env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    if proc.returncode != 0:
        detail = "; ".join(ln.strip() for ln in proc.stderr.splitlines() if ln.strip())
        raise CiswitchError(redact(f"git {args[0]} failed: {detail or proc.returncode}"))
    return proc.stdout


def _git_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a git process started without GitPython: the same C locale it sets,
    so that the messages matched below (identity, push options) are git's English ones."""
    return {**os.environ, **(env or {}), "LANGUAGE": "C", "LC_ALL": "C"}


class PlainRepo:
    """A repository ciswitch made itself (a fleet clone: ``<path>/.git`` a directory, no
    linked worktree), opened without GitPython: its directories are all most operations ask
    for, and importing GitPython and reading its configuration cost more than a small
    repository's whole fix. Anything else is asked of a GitPython ``Repo`` made on first
    use, so every caller gets what it would have got."""

    bare = False

    def __init__(self, path: Path) -> None:
        self.working_dir = self.working_tree_dir = str(path)
        self.git_dir = self.common_dir = str(path / ".git")
        self._full: git.Repo | None = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if self._full is None:
            import git

            self._full = git.Repo(self.working_dir)
            _pass_context_config(self._full)
        return getattr(self._full, name)

    def close(self) -> None:
        if self._full is not None:
            self._full.close()


def _plain_repo(path: Path) -> PlainRepo | None:
    """A :class:`PlainRepo` of ``path`` when nothing makes GitPython's discovery matter: a
    ``.git`` directory right there, no ``GIT_DIR``-like variable, no ``core.worktree`` or
    ``core.bare`` and no linked worktree in its configuration; else None."""
    if any(key in os.environ for key in ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR")):
        return None
    dot = path / ".git"
    try:
        config = (dot / "config").read_bytes().lower()
    except OSError:
        return None
    if (not dot.is_dir() or (dot / "commondir").exists() or b"worktree" in config
            or re.search(rb"^\s*bare\s*=\s*(?:true|yes|on|1)\s*$", config, re.M)):
        return None
    return PlainRepo(path)


def _pass_context_config(repo: git.Repo) -> None:
    """Give GitPython's own git processes (cat-file, which a partial clone fetches through)
    the entries of :func:`git_config` in force now."""
    added = _context_variables(os.environ)
    if added:
        repo.git.update_environment(**added)


def open_repo(path: Path, *, plain: bool = False) -> git.Repo:
    """The repository whose work tree contains ``path``; one-line error when there is none.

    With ``plain`` (a clone ciswitch made, at ``path`` itself) a :class:`PlainRepo` when it
    can stand in for GitPython's repository."""
    if plain:
        found = _plain_repo(path)
        if found is not None:
            if _object_format(found) == "sha1":  # type: ignore[arg-type]
                return found  # type: ignore[return-value]
            found.close()
    import git

    if not path.exists():
        raise CiswitchError("no such directory", str(path))
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as err:
        raise CiswitchError("not a git repository", str(path)) from err
    if repo.bare or repo.working_tree_dir is None:
        raise CiswitchError("bare repository: ciswitch needs a work tree", str(path))
    _pass_context_config(repo)
    object_format = _object_format(repo)
    if object_format != "sha1":
        repo.close()
        raise CiswitchError(
            f"the repository uses the {object_format} object format; ciswitch reads and writes "
            "sha1 repositories only", str(repo.working_tree_dir),
        )
    return repo


def _object_format(repo: git.Repo) -> str:
    """The repository's object hash (``extensions.objectFormat``; sha1 when unset), read from
    its configuration file without starting git (git reads extensions from that one file,
    includes left aside: a file that does not name the key is sha1 without parsing it)."""
    try:
        text = (Path(repo.common_dir) / "config").read_bytes()
    except OSError:
        text = b"objectformat"
    if b"objectformat" not in text.lower():
        return "sha1"
    try:
        value = repo.config_reader("repository").get_value("extensions", "objectformat", "sha1")
    except Exception:  # an unreadable config: let git itself report it later
        return "sha1"
    return str(value).lower()


def work_tree(repo: git.Repo) -> Path:
    """The root of the work tree."""
    if repo.working_tree_dir is None:  # pragma: no cover - open_repo refuses bare repos
        raise CiswitchError("bare repository: ciswitch needs a work tree", str(repo.git_dir))
    return Path(repo.working_tree_dir)
