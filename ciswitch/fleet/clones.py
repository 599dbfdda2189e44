"""The fleet's clones: one per repository in ``<workdir>/repos``, made without a work tree.

Clones land there through a temporary directory renamed into place, so an interrupted clone
never looks like a finished one; a later run fetches instead of cloning again. Git gets the
URL without credentials (:attr:`~ciswitch.fleet.sources.RepoSpec.clone_url`); they travel as
a header (:func:`~ciswitch.fleet.sources.auth_env`).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ciswitch.errors import CiswitchError
from ciswitch.fleet.sources import DEFAULT_CI_CONFIG, RepoSpec


def _git(args: Sequence[str], cwd: Path | None = None) -> str:
    """Run git; failures become a redacted one-line CiswitchError."""
    from ciswitch.gitops import git_output

    return git_output(args, cwd)


@functools.cache
def _template_option() -> tuple[str, ...]:
    """``--template=`` (copy no templates) when the templates git would copy are its stock
    ones, else nothing.

    Stock templates are sample hooks, a description and a commented ``info/exclude``: nothing
    a clone of ciswitch's uses, yet a score of files to create in every clone. Templates of
    one's own (``init.templateDir``, ``$GIT_TEMPLATE_DIR``, hooks added to the system's) are
    copied as usual. Found out once per process, by comparing two scratch repositories.
    """
    try:
        with tempfile.TemporaryDirectory(prefix="ciswitch-templates-") as tmp:
            full, bare = Path(tmp, "full"), Path(tmp, "bare")
            _git(["init", "--quiet", "--bare", str(full)])
            _git(["init", "--quiet", "--bare", "--template=", str(bare)])
            if (full / "config").read_bytes() != (bare / "config").read_bytes():
                return ()
            for path in full.rglob("*"):
                rel = path.relative_to(full).as_posix()
                if (bare / rel).exists() or rel in ("hooks", "info", "branches", "description"):
                    continue
                if not (path.is_file() and not path.is_symlink() and _stock_template(rel, path)):
                    return ()
    except (CiswitchError, OSError):
        return ()
    return ("--template=",)


def _stock_template(rel: str, path: Path) -> bool:
    """Whether a template file is one git ships that does nothing: a sample hook, or an
    ``info/exclude`` of comments only."""
    if rel.startswith("hooks/") and rel.endswith(".sample"):
        return True
    if rel != "info/exclude":
        return False
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return all(not line.strip() or line.lstrip().startswith("#") for line in lines)


#: blobs at least this big are left on the remote by a fleet run's clone (``blob:limit``);
#: git fetches one when something reads it. CI files, settings and scripts are smaller.
BLOB_LIMIT = "100k"
#: what git says when the remote does not serve partial clones (it then sends everything)
_NO_FILTER = "filtering not recognized by server"


def _transported(url: str) -> bool:
    """Whether git clones ``url`` through a transport (``file://``, ``https://``, ssh), not as
    a local copy of the directory, which takes neither ``--depth`` nor ``--filter``."""
    if "://" in url:
        return True
    return re.match(r"^(?:[^@/\s]+@)?[^:/\s]+:[^/]", url) is not None and not os.path.exists(url)


def sync_clone(spec: RepoSpec, workdir: Path, *, checkout: bool = False,
               history: bool = True) -> Path | None:
    """A clone of the remote's default branch in ``workdir``; None for an empty one.

    A new clone gets no work tree: everything ciswitch does reads the object database, and
    writing every file of every repository of a fleet would be the run's biggest cost. With
    ``checkout`` (``fleet sync`` and ``switch``: werf reads werf.yaml from the working
    directory) the default branch is checked out as the clone is made. Without ``history``
    (``fleet run`` and ``sync``, which read the branch tips only) a new clone is shallow: the
    tip of every branch, no older commits; without ``checkout`` it is partial too, without
    the blobs of :data:`BLOB_LIMIT` or more (git fetches one when it is read). A remote that
    serves no partial clone gets a shallow full one, a remote that serves neither a plain
    full clone.
    An existing clone (an earlier or interrupted run) is fetched and its default branch reset
    to the remote's tip: the clone belongs to ciswitch, and the fix must start from what the
    remote has now. A shallow one gets its whole history back when ``history`` is asked for.
    Local ciswitch branches stay, so an interrupted push is simply redone.
    """
    from ciswitch import gitops

    root = workdir / "repos"
    dest = root / spec.slug
    if not (dest / ".git").is_dir():
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f".tmp-{spec.slug}-{os.getpid()}"
        try:
            _clone(spec, tmp, checkout=checkout, history=history)
            os.replace(tmp, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if not _has_commits(dest):
            return None
        return dest
    repo = gitops.open_repo(dest)
    if spec.clone_url != spec.url:  # a clone from before credentials left URLs: drop them
        _git(["remote", "set-url", "origin", spec.clone_url], dest)
    if history and (dest / ".git" / "shallow").is_file():
        gitops.run_git(repo, "cannot fetch from origin", "fetch", "--quiet", "--prune",
                       "--no-tags", "--unshallow", "origin")
    else:
        gitops.fetch(repo, "origin")
    if _git(["ls-remote", "--symref", "origin", "HEAD"], dest).strip() == "":
        return None
    _git(["remote", "set-head", "origin", "--auto"], dest)
    branch = gitops.default_branch(repo, "origin")
    if not checkout and not (dest / ".git" / "index").is_file():
        # a clone without a work tree stays without one (a checkout would fetch every blob
        # a partial clone left out)
        _git(["update-ref", f"refs/heads/{branch}", f"refs/remotes/origin/{branch}"], dest)
        _git(["symbolic-ref", "HEAD", f"refs/heads/{branch}"], dest)
        return dest
    _git(["checkout", "--quiet", "--force", "-B", branch, f"refs/remotes/origin/{branch}"], dest)
    _git(["clean", "--quiet", "-d", "--force", "-x"], dest)
    return dest


def _clone(spec: RepoSpec, dest: Path, *, checkout: bool, history: bool) -> None:
    """``git clone`` into ``dest`` (see :func:`sync_clone`)."""
    from ciswitch.gitops import git_text
    from ciswitch.redact import redact

    plain = ["clone", "--quiet", "--no-tags", *(() if checkout else ("--no-checkout",)),
             *_template_option()]
    tries = [plain]
    if not history and _transported(spec.clone_url):
        # a checkout reads every blob of the tip: a filter would only fetch them in a second
        # round trip
        blobs = () if checkout else (f"--filter=blob:limit={BLOB_LIMIT}",)
        tries.insert(0, [*plain, *blobs, "--depth", "1", "--no-single-branch"])
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    for number, args in enumerate(tries, 1):
        shutil.rmtree(dest, ignore_errors=True)
        proc = git_text([*args, "--", spec.clone_url, str(dest)], env=env)
        if proc.returncode == 0:
            if args is not plain and _NO_FILTER in proc.stderr:
                # git asked for a partial clone, got everything, and still marked the clone
                # as partial: make it a plain (shallow) one, which fetches no filter later
                for key in ("remote.origin.promisor", "remote.origin.partialclonefilter"):
                    _git(["config", "--unset-all", key], dest)
            return
        said = "; ".join(ln.strip() for ln in proc.stderr.splitlines() if ln.strip())
        if number < len(tries) and any(word in said.lower() for word in ("shallow", "filter")):
            continue  # a remote that serves no shallow clone: a full one
        raise CiswitchError(redact(f"git clone failed: {said or proc.returncode}"))


def _has_commits(path: Path) -> bool:
    """Whether a fresh clone checked out a branch: an empty remote leaves no local head (read
    from the ref store directly, one process less per repository)."""
    heads = path / ".git" / "refs" / "heads"
    if heads.is_dir() and any(p.is_file() for p in heads.rglob("*")):
        return True
    packed = path / ".git" / "packed-refs"
    if not packed.is_file():
        return False
    return " refs/heads/" in packed.read_text(encoding="utf-8", errors="replace")


def _head_files(clone: Path, *names: str) -> list[bytes | None]:
    """The contents of files at the clone's HEAD (None: not a file there); clones have no
    work tree to read them from."""
    from ciswitch import gitops
    from ciswitch.git_tree import GitTreeWorkspace

    repo = gitops.open_repo(clone)
    try:
        ws = GitTreeWorkspace(repo, gitops.commit_object(repo, gitops.head_sha(repo)))
        return [ws.read_bytes(name) if ws.is_file(name) else None for name in names]
    finally:
        repo.close()


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return str(value)


def config_for(spec: RepoSpec, clone: Path, workdir: Path, explicit: Path | None) -> Path | None:
    """The ``--config`` file that makes the project's custom CI configuration path count.

    GitLab's ``ci_config_path`` lives in the project settings, not in the repository; the
    repository's own settings (``.ciswitch.toml`` or ``[tool.ciswitch]``) are kept and only
    ``ci-config`` is set, in a file under the workdir.
    """
    if explicit is not None or not spec.ci_config or spec.ci_config == DEFAULT_CI_CONFIG:
        return explicit
    import tomllib

    table: dict[str, object] = {}
    own, pyproject = _head_files(clone, ".ciswitch.toml", "pyproject.toml")
    try:
        if own is not None:
            table = dict(tomllib.loads(own.decode("utf-8")))
        elif pyproject is not None:
            tool = tomllib.loads(pyproject.decode("utf-8")).get("tool", {})
            found = tool.get("ciswitch") if isinstance(tool, dict) else None
            table = dict(found) if isinstance(found, dict) else {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise CiswitchError(f"invalid configuration: {err}", ".ciswitch.toml") from err
    table["ci-config"] = spec.ci_config.lstrip("/")
    out = workdir / "configs" / f"{spec.slug}.toml"
    out.parent.mkdir(parents=True, exist_ok=True)
    from ciswitch.atomic import PlannedWrite, WriteError, write_all

    text = "".join(f"{key} = {_toml_value(value)}\n" for key, value in table.items())
    try:
        write_all([PlannedWrite(out, text.encode("utf-8"))])
    except WriteError as err:
        raise CiswitchError(err.message, str(out)) from err
    return out
