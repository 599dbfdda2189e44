"""What the runner steps know of one project: its clone, werf project name and address.

The facts are the ones ``plan`` derives, read from the project's clone under the fleet's
workdir with fewer processes than the shell loop they replace: a clone with the default
branch checked out (read from the files), and the change branch's settings read from the
object database.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ciswitch.errors import CiswitchError
from ciswitch.fleet.sources import RepoSpec
from ciswitch.redact import redact

if TYPE_CHECKING:
    from ciswitch.runbook.facts import ProjectFacts


def last_line(output: str) -> str:
    """The last non-blank line of a command's output: what a one-line failure quotes."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


@dataclass(frozen=True)
class Facts:
    """What the runner steps need of one project, or why it cannot be had."""

    spec: RepoSpec
    clone: Path | None
    project: str | None
    address: str | None
    problem: str = ""
    runbook: ProjectFacts | None = None


def names_of(spec: RepoSpec) -> set[str]:
    """What ``--only`` and ``--werf-project`` may call a project by."""
    return {spec.name, spec.key, spec.project_path or "", spec.url} - {""}


def werf_names(specs: Sequence[RepoSpec], given: Sequence[str]) -> dict[str, str]:
    """``--werf-project PROJECT=NAME`` values as {project key: werf project name}; a malformed
    value or one naming no project of the fleet is a one-line error."""
    from ciswitch.runbook.facts import validate_project_name

    found: dict[str, str] = {}
    for text in given:
        which, sep, name = text.rpartition("=")
        if not sep or not which or not name:
            raise CiswitchError(f"--werf-project takes PROJECT=NAME, got {text!r}")
        chosen = [s for s in specs if which in names_of(s)]
        if not chosen:
            raise CiswitchError(f"--werf-project: no project {which!r} in the fleet")
        for spec in chosen:
            found[spec.key] = validate_project_name(name, "--werf-project")
    return found


class _Files:
    """A few files of one commit, read ahead (the change branch's settings): a workspace of
    just those files."""

    def __init__(self, label: str, found: dict[str, bytes]) -> None:
        self._label, self._found = label, found

    @property
    def label(self) -> str:
        return self._label

    def read_bytes(self, rel: str) -> bytes:
        if rel not in self._found:
            raise CiswitchError("file not found", rel)
        return self._found[rel]

    def is_file(self, rel: str) -> bool:
        return rel in self._found

    def is_executable(self, rel: str) -> bool:
        return False

    def files(self) -> Iterator[str]:
        return iter(self._found)


def files_at(clone: Path, rev: str, names: Sequence[str]) -> dict[str, bytes]:
    """The files ``names`` of ``rev`` (a full ref name) that are there: read from the object
    database, else by one ``git cat-file --batch``."""
    from ciswitch.gitops.objects import files_at as read_here

    here = read_here(clone / ".git", rev, names)
    if here is not None:
        return here
    from ciswitch.gitops.run import git_process

    wanted = "".join(f"{rev}:{name}\n" for name in names).encode()
    try:  # through the runner: the run's process group, the URL's credentials (lazy fetch)
        done = git_process(["cat-file", "--batch"], cwd=clone, input=wanted)
    except OSError as err:
        raise CiswitchError(f"cannot run git: {err}", str(clone)) from err
    if done.returncode != 0:
        raise CiswitchError(f"cannot read {', '.join(names)} of {rev}: "
                            f"{last_line(done.stderr.decode(errors='replace'))}", str(clone))
    out, pos, found = done.stdout, 0, {}
    for name in names:
        end = out.index(b"\n", pos)
        header, pos = out[pos:end].split(b" "), end + 1
        if len(header) == 3 and header[2].isdigit():  # "<sha> <type> <size>", else missing
            size = int(header[2])
            if header[1] == b"blob":
                found[name] = out[pos:pos + size]
            pos += size + 1
    return found


def _checked_out(clone: Path) -> bool:
    """Whether the clone has a work tree checked out (an index); a ``--no-checkout`` clone
    has none."""
    return (clone / ".git" / "index").is_file()


def _remote_head(clone: Path) -> str | None:
    """The remote's default branch as the clone recorded it (``refs/remotes/origin/HEAD``, a
    loose symbolic ref, read as git reads it); None when it is not there."""
    try:
        text = (clone / ".git" / "refs" / "remotes" / "origin" / "HEAD").read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    prefix = "ref: refs/remotes/origin/"
    return text.strip()[len(prefix):] or None if text.startswith(prefix) else None


def project_facts(spec: RepoSpec, workdir: Path, *, branch: str,
                  registry_host: str | None, project: str | None = None,
                  history: bool = True) -> Facts:
    """Clone or fetch the project, check out its default branch (werf reads werf.yaml from the
    working directory) and derive the werf project name and the address as ``plan`` does:
    the change branch's ``.ciswitch.toml`` address, else the default branch's, else derived
    from the remote and ``registry_host``. The default branch is read from the checked-out
    files, the change branch's settings from the object database. Without ``history`` (sync)
    a shallow clone of ``fleet run`` stays shallow; ``switch`` looks for the ciswitch commit
    in the history."""
    from ciswitch import gitops
    from ciswitch.config import CONFIG_FILE, PYPROJECT_FILE, load_config
    from ciswitch.fleet.clones import sync_clone
    from ciswitch.runbook.facts import gather_facts
    from ciswitch.workspace import DirectoryWorkspace

    try:
        # a new clone checks the default branch out as it is made, an existing one is reset
        # to the remote's default branch and cleaned: the work tree is the default branch
        clone = sync_clone(spec, workdir, checkout=True, history=history)
        if clone is None:
            return Facts(spec, None, None, None, "empty repository")
        if not _checked_out(clone):
            # a clone an earlier fleet run made without a work tree
            default = _remote_head(clone)
            if default is None:
                repo = gitops.open_repo(clone)
                try:
                    default = gitops.default_branch(repo, "origin")
                finally:
                    repo.close()
            gitops.git_output(["checkout", "--quiet", "--force", "-B", default,
                               f"refs/remotes/origin/{default}"], clone)
        ws = DirectoryWorkspace(clone)
        address = load_config(ws).stages_storage_address
        # no change branch (yet): cat-file says "missing", and no settings are found
        change = files_at(clone, f"refs/remotes/origin/{branch}", (CONFIG_FILE, PYPROJECT_FILE))
        if change:
            address = load_config(_Files(f"origin/{branch}", change)
                                  ).stages_storage_address or address
        facts = gather_facts(ws, repo=spec.name, project=project, to=address,
                             registry_host=registry_host, remote_url=spec.url)
    except CiswitchError as err:
        return Facts(spec, None, None, None, redact(str(err)))
    # the fleet names a project's werf project name with --werf-project PROJECT=NAME
    named = facts.project.problem.replace("pass --project NAME",
                                          "pass --werf-project PROJECT=NAME")
    problems = [p for p in (named, facts.address.problem) if p]
    return Facts(spec, clone, facts.project.name, facts.address.address, "; ".join(problems),
                 facts)


__all__ = ["Facts", "files_at", "names_of", "project_facts", "werf_names"]
