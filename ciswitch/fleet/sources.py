"""Where the fleet's repositories come from: a list file or a GitLab group.

Each repository is a :class:`RepoSpec`: the URL git clones from (which may carry credentials,
so it is never printed or stored as is), a stable ``key`` (the normalized URL without
credentials) that the journal and the shards use, and the project's custom CI configuration
path when GitLab has one.

Credentials in a listed URL (``https://oauth2:TOKEN@host/g/p.git``) never reach git's command
line or a clone's ``.git/config``: git gets the URL without them and the credentials as an
``Authorization`` header scoped to that URL, through ``GIT_CONFIG_*`` variables
(:func:`auth_env`), the same route a ``GITLAB_TOKEN`` takes for a GitLab group.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from ciswitch.config import DEFAULT_CI_CONFIG as DEFAULT_CI_CONFIG
from ciswitch.errors import CiswitchError
from ciswitch.redact import redact


@dataclass(frozen=True)
class RepoSpec:
    """One repository of the fleet (picklable)."""

    url: str
    key: str
    ci_config: str | None = None
    #: the project's full path on GitLab (``group/sub/name``) when the source knows it
    project_path: str | None = None

    @property
    def display(self) -> str:
        """The URL as shown to people: credentials redacted."""
        return redact(self.url)

    @property
    def clone_url(self) -> str:
        """The URL git is given: without credentials (they go in a header, :func:`auth_env`)."""
        return split_credentials(self.url)[0]

    @property
    def name(self) -> str:
        """A short name: the last two path components of the key."""
        parts = [p for p in re.split(r"[/:]", self.key) if p]
        return "/".join(parts[-2:]) if parts else self.key

    @property
    def slug(self) -> str:
        """A directory name for the clone: readable and unique (hash of the key)."""
        readable = re.sub(r"[^A-Za-z0-9._-]+", "-", self.name).strip("-.") or "repo"
        return f"{readable[:60]}-{hashlib.sha256(self.key.encode()).hexdigest()[:10]}"


#: schemes whose credentials are HTTP basic authentication
_HTTP_SCHEMES = ("http", "https")
_ENCODE_HINT = "percent-encode '/', '?', '#', '@' and ':' in user names and passwords"


def _masked(url: str) -> str:
    """A malformed URL for a message: everything up to its last ``@`` hidden, whatever the
    parser would have made of it."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        return f"{scheme}://***@{rest.rpartition('@')[2]}"
    return redact(url)


def check_url(url: str) -> None:
    """Raise a one-line CiswitchError (credentials hidden) when a URL cannot be read as git
    would read it: a bad port, an ``@`` after the host (a password with an unencoded ``/``,
    ``?`` or ``#``), a broken IPv6 address."""
    if "://" not in url:
        return
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as err:
        why = str(err).split(" as ", 1)[0].split(":", 1)[0]
        raise CiswitchError(f"malformed URL {_masked(url)}: {why} ({_ENCODE_HINT})") from None
    if not parts.hostname and parts.scheme.lower() != "file":
        raise CiswitchError(f"malformed URL {_masked(url)}: no host")
    if "@" in parts.path + parts.query + parts.fragment:
        raise CiswitchError(f"malformed URL {_masked(url)}: '@' after the host ({_ENCODE_HINT})")


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """``(url without credentials, (user, password) or None)`` of an HTTP(S) URL; other URLs
    are returned as they are (an SSH user name is no secret)."""
    if "://" not in url:
        return url, None
    parts = urlsplit(url)
    if parts.scheme.lower() not in _HTTP_SCHEMES or "@" not in parts.netloc:
        return url, None
    userinfo, _at, host = parts.netloc.rpartition("@")
    user, _colon, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return clean, (unquote(user), unquote(password))


@contextmanager
def auth_env(spec: RepoSpec) -> Iterator[None]:
    """While inside, git sends the spec's credentials as a header for its URL only.

    ``http.<url>.extraHeader`` as a ``GIT_CONFIG_KEY_n``/``VALUE_n`` pair of each git
    process's own environment (:func:`ciswitch.gitops.run.git_config`): no command line
    (``ps``), no file and not this process's environment ever holds the credentials, so
    repositories worked on at once by threads each send their own.
    """
    from ciswitch.gitops.run import git_config

    clean, credentials = split_credentials(spec.url)
    if credentials is None:
        yield
        return
    basic = base64.b64encode(":".join(credentials).encode()).decode("ascii")
    with git_config([(f"http.{clean}.extraHeader", f"Authorization: Basic {basic}")]):
        yield


_SCP_LIKE = re.compile(r"^(?:[^@/\s]+@)?(?P<host>[^:/\s]+):(?P<path>[^/].*)$")


def normalize_url(url: str, *, base: Path | None = None) -> str:
    """The key of a repository: the same project gives the same key however it is spelled.

    Credentials, a trailing ``.git`` or ``/`` and the case of scheme and host are dropped;
    ``git@host:g/p`` and ``ssh://git@host/g/p`` both become ``host/g/p``, ``https`` URLs keep no
    scheme either, so an SSH and an HTTPS clone URL of one project share a key. Local paths
    (and ``file://`` URLs) become absolute paths.
    """
    text = url.strip()
    if "://" in text:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme == "file":
            return _local_key(Path(parts.path))
        host = (parts.hostname or "").lower()
        if parts.port is not None and scheme not in ("ssh", "git+ssh", "ssh+git"):
            host += f":{parts.port}"
        path = parts.path
    else:
        match = _SCP_LIKE.match(text)
        if match is None or os.path.exists(text) or text.startswith((".", "/", "~")):
            return _local_key(Path(text).expanduser(), base)
        host, path = match.group("host").lower(), "/" + match.group("path")
    path = re.sub(r"/+", "/", path).rstrip("/")
    path = path.removesuffix(".git")
    return f"{host}{path}"


def _local_key(path: Path, base: Path | None = None) -> str:
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    text = os.path.normpath(str(path)).rstrip("/")
    return text.removesuffix(".git") if text != "/" else text


def read_repos_file(path: Path) -> list[RepoSpec]:
    """One clone URL or local path per line; ``#`` starts a comment; duplicates dropped.

    Relative local paths are relative to the file's directory, so the list can live next to
    the repositories it names.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise CiswitchError("repository list not found", str(path)) from err
    except (OSError, UnicodeDecodeError) as err:
        raise CiswitchError(f"cannot read the repository list: {err}", str(path)) from err
    base = path.resolve().parent
    specs: list[RepoSpec] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = re.split(r"\s#", line, maxsplit=1)[0].strip()
        if any(ch.isspace() for ch in line):
            raise CiswitchError(
                f"expected one URL or path per line, got {redact(line)!r}", str(path), number
            )
        try:
            check_url(line)
        except CiswitchError as err:
            raise CiswitchError(err.message, str(path), number) from None
        url = line
        local = ("://" not in url and _SCP_LIKE.match(url) is None) or (base / url).exists()
        if local and not Path(url).is_absolute():
            url = str(base / url)
        key = normalize_url(url, base=base)
        if key in seen:
            continue
        seen.add(key)
        specs.append(RepoSpec(url=url, key=key))
    return specs


# --------------------------------------------------------------------------- GitLab


def gitlab_group(url: str, group: str, *, token: str | None = None) -> list[RepoSpec]:
    """The projects of ``group`` and its subgroups, through the GitLab API (python-gitlab).

    Archived projects and projects without a repository (``empty_repo``) are skipped. The
    token comes from ``GITLAB_TOKEN`` only (never a command-line option, which ``ps`` and CI
    logs would show). Projects whose CI configuration lives in another project
    (``path@group/project``) keep that path: the runner skips them with the reason.
    """
    try:
        import gitlab
        import gitlab.exceptions
    except ImportError as err:
        raise CiswitchError(
            "the GitLab source needs python-gitlab: pip install 'ciswitch[gitlab]'"
        ) from err
    if token is None:
        token = os.environ.get("GITLAB_TOKEN") or None
    client: Any = gitlab.Gitlab(url, private_token=token, per_page=100, retry_transient_errors=True)
    try:
        found = client.groups.get(group)
        projects = found.projects.list(
            include_subgroups="true", archived="false", iterator=True, order_by="id",
            sort="asc",
        )
        specs: list[RepoSpec] = []
        seen: set[str] = set()
        for project in projects:
            attrs: dict[str, Any] = project.attributes
            if attrs.get("archived") or attrs.get("empty_repo"):
                continue
            clone = attrs.get("http_url_to_repo")
            if not clone:
                continue
            ci_config = attrs.get("ci_config_path") or None
            key = normalize_url(str(clone))
            if key in seen:
                continue
            seen.add(key)
            path = attrs.get("path_with_namespace")
            specs.append(RepoSpec(url=str(clone), key=key, ci_config=ci_config,
                                  project_path=str(path) if path else None))
    except gitlab.exceptions.GitlabError as err:
        code = getattr(err, "response_code", None)
        what = f"HTTP {code}: " if code else ""
        raise CiswitchError(
            redact(f"GitLab API at {url} failed for group {group}: {what}{err.error_message}")
        ) from err
    except (OSError, ValueError) as err:
        raise CiswitchError(redact(f"cannot reach the GitLab API at {url}: {err}")) from err
    return specs
