"""Which commit of which repository a directory holds, for reports that name it (SARIF's
``versionControlProvenance``). Read-only: ``rev-parse`` and ``remote get-url``, nothing else."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ciswitch.errors import CiswitchError
from ciswitch.gitops.run import git_output
from ciswitch.model import Provenance

#: ``user@host:path`` (git's scp-like form of an ssh address)
_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[^/:]+):(?P<path>(?!/).*)$")


def repository_uri(url: str) -> str:
    """A remote's address as an absolute URI without credentials: user-info dropped (an
    ssh account name too), the scp-like form ``git@host:group/p.git`` as ``ssh://host/...``,
    a local path as a ``file:`` URI."""
    scp = _SCP_LIKE.match(url)
    if "://" not in url and scp is not None:
        return f"ssh://{scp.group('host')}/{scp.group('path')}"
    if "://" not in url:
        return Path(url).resolve().as_uri()
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def provenance(root: Path) -> Provenance | None:
    """The commit checked out at ``root`` and its repository's address (the ``origin``
    remote, else the only remote, else the directory), or None when ``root`` is not the top
    of a git work tree with a commit."""
    if not (root / ".git").exists():
        return None
    try:
        head = git_output(["rev-parse", "--verify", "-q", "HEAD"], cwd=root).strip()
        branch = git_output(["rev-parse", "--abbrev-ref", "HEAD"], cwd=root).strip()
        remotes = git_output(["remote"], cwd=root).split()
        name = "origin" if "origin" in remotes else remotes[0] if len(remotes) == 1 else None
        url = (
            git_output(["remote", "get-url", name], cwd=root).strip() if name else str(root)
        )
    except (CiswitchError, OSError):
        return None
    if not head:
        return None
    return Provenance(repository_uri(url), head, None if branch == "HEAD" else branch)
