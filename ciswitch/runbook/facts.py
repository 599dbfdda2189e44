"""The facts a project's migration commands depend on, learnt without running werf's renderer.

* the werf project name: it names the block file that ``werf stages switch-from-local`` writes
  (and that the rollback removes), so it must be exact or clearly unknown, never guessed;
* the remote stages address: the ``--to`` of ``stages sync`` and ``switch-from-local``. It must
  be the address ``werf ci-env gitlab`` will use afterwards (``$CI_REGISTRY_IMAGE/stages``),
  otherwise the synced stages sit where no job looks for them;
* the werf version on this host: remote stages storage needs v1.1.10, and werf 1.2 has no
  ``stages`` commands at all.

``werf.yaml`` is a Go template, so it is read leniently, line by line, with the template actions
masked out: a full YAML parser would fail on most real files, and rendering needs werf.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ciswitch.errors import CiswitchError
from ciswitch.redact import redact
from ciswitch.workspace import Workspace

#: werf 1.1 looks for these at the project root, in this order (werf.yml wins)
WERF_CONFIG_NAMES = ("werf.yml", "werf.yaml")
#: the first werf release with remote stages storage
MIN_WERF = (1, 1, 10)
#: werf's rule for project names: lowercase letters, digits and dashes, at most 50 characters
_PROJECT_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?")
_HOW_TO_PASS = "pass --project NAME (or set WERF_PROJECT_NAME)"

# ---------------------------------------------------------------------------------------------
# werf project name


@dataclass(frozen=True)
class ProjectName:
    """The werf project name, where it came from, and why it is unknown when it is."""

    name: str | None
    #: "--project", "WERF_PROJECT_NAME", or the config file it was read from
    source: str
    #: the werf config file found at the root, if any
    config_path: str | None = None
    #: why ``name`` is None: one sentence that says how to supply it
    problem: str = ""


_ACTION_RE = re.compile(r"\{\{.*?\}\}", re.DOTALL)
#: stands in for a template action so that a line keeps its shape and templated values show
_MASK = "\x00"
_KEY_RE = re.compile(r"(?P<key>[A-Za-z_][\w-]*|\"[^\"]*\"|'[^']*')[ \t]*:(?:[ \t]+(?P<value>.*))?$")


def _mask_actions(text: str) -> str:
    """Replace every ``{{ ... }}`` action by one mask character, keeping its newlines so that
    line numbers stay true."""
    return _ACTION_RE.sub(lambda m: _MASK + "\n" * m.group(0).count("\n"), text)


def _documents(text: str) -> list[list[tuple[int, str]]]:
    """Split masked text into YAML documents of (line number, line); template-only lines and
    comment lines are dropped."""
    docs: list[list[tuple[int, str]]] = [[]]
    for number, line in enumerate(text.splitlines(), start=1):
        bare = line.replace(_MASK, "").rstrip()
        if re.fullmatch(r"---(?:[ \t].*)?|\.\.\.", bare):
            docs.append([])
            continue
        if not bare.strip() or bare.lstrip().startswith("#"):
            continue
        docs[-1].append((number, line))
    return [d for d in docs if d]


def _scalar(raw: str) -> str | None:
    """The plain or quoted scalar at the start of ``raw`` (comment stripped); ``None`` when
    it is not a simple scalar (flow collections, block scalars, anchors)."""
    raw = raw.strip()
    if raw[:1] in ('"', "'"):
        quote = raw[0]
        end = raw.find(quote, 1)
        if end < 0:
            return None
        rest = raw[end + 1 :].strip()
        if rest and not rest.startswith("#"):
            return None
        return raw[1:end]
    raw = re.split(r"[ \t]#", raw, maxsplit=1)[0].strip()
    if not raw or raw[0] in "[{|>&*!%@`":
        return None
    return raw


def _top_level(doc: list[tuple[int, str]], key: str) -> list[tuple[int, str]]:
    """(line, raw value) of every top-level ``key:`` of one document."""
    found = []
    for number, line in doc:
        if line[:1] in (" ", "\t"):
            continue
        match = _KEY_RE.match(line.lstrip(_MASK))
        if match and match.group("key").strip("\"'") == key:
            found.append((number, match.group("value") or ""))
    return found


def parse_werf_project(text: str, path: str) -> tuple[str | None, str]:
    """The ``project:`` of the ``configVersion: 1`` document of werf config ``text``.

    Returns ``(name, "")`` or ``(None, reason)``; the reason names ``path`` and the line.
    Templated values, conditional alternatives that differ, and a meta document built by an
    included template all yield ``None``: a wrong name would make the rollback remove the wrong
    block file, so nothing is guessed.
    """
    masked = _mask_actions(text.lstrip("\ufeff"))
    metas = [
        doc for doc in _documents(masked)
        if any(_scalar(v.replace(_MASK, "")) == "1" and _MASK not in v
               for _, v in _top_level(doc, "configVersion"))
    ]
    if not metas:
        return None, (
            f"{path}: no document with `configVersion: 1` (it may be produced by a template), "
            "so the werf project name cannot be known statically"
        )
    values: dict[str, int] = {}
    for doc in metas:
        for number, raw in _top_level(doc, "project"):
            if _MASK in raw:
                return None, (
                    f"{path}:{number}: `project:` is set by a Go template, so the werf project "
                    "name cannot be known statically"
                )
            value = _scalar(raw)
            if value is None:
                return None, f"{path}:{number}: `project:` is not a plain value"
            values.setdefault(value, number)
    if not values:
        return None, (
            f"{path}: the `configVersion: 1` document has no `project:` line (it may come from "
            "an included template), so the werf project name cannot be known statically"
        )
    if len(values) > 1:
        where = ", ".join(f"{name!r} (line {line})" for name, line in values.items())
        return None, (
            f"{path}: `project:` depends on template conditions ({where}), so the werf project "
            "name cannot be known statically"
        )
    return next(iter(values)), ""


def find_werf_config(ws: Workspace) -> str | None:
    """The werf config file werf 1.1 would read at the repository root, if any."""
    for name in WERF_CONFIG_NAMES:
        if ws.is_file(name):
            return name
    return None


def validate_project_name(name: str, source: str) -> str:
    """``name`` when werf would accept it; :class:`CiswitchError` otherwise.

    The name becomes a file name under ``$WERF_HOME`` that the rollback removes, so anything
    that is not a plain werf project name (a ``/``, ``..``) is refused here.
    """
    if not _PROJECT_RE.fullmatch(name):
        raise CiswitchError(
            f"{source}: {name!r} is not a werf project name (lowercase letters, digits and "
            "dashes, at most 50 characters)"
        )
    return name


def project_name(
    ws: Workspace, *, explicit: str | None = None, environ: Mapping[str, str] | None = None,
) -> ProjectName:
    """The werf project name: ``--project``, else ``WERF_PROJECT_NAME`` (werf's own override),
    else ``project:`` of werf.yml/werf.yaml at the root."""
    env = os.environ if environ is None else environ
    config_path = find_werf_config(ws)
    if explicit:
        return ProjectName(validate_project_name(explicit, "--project"), "--project", config_path)
    override = env.get("WERF_PROJECT_NAME", "")
    if override:
        return ProjectName(
            validate_project_name(override, "WERF_PROJECT_NAME"), "WERF_PROJECT_NAME", config_path,
        )
    if config_path is None:
        return ProjectName(
            None, "", None,
            f"no werf.yaml or werf.yml at the repository root; {_HOW_TO_PASS}",
        )
    raw = ws.read_bytes(config_path)
    name, reason = parse_werf_project(raw.decode("utf-8", errors="replace"), config_path)
    if name is None:
        return ProjectName(None, "", config_path, f"{reason}; {_HOW_TO_PASS}")
    return ProjectName(validate_project_name(name, config_path), config_path, config_path)


def werf_home(environ: Mapping[str, str] | None = None) -> Path:
    """werf's home directory on this host: ``$WERF_HOME``, else ``~/.werf``."""
    env = os.environ if environ is None else environ
    value = env.get("WERF_HOME", "")
    return Path(os.path.expanduser(value)) if value else Path.home() / ".werf"


def block_file(project: str, environ: Mapping[str, str] | None = None) -> Path:
    """The file ``werf stages switch-from-local`` leaves behind to refuse ``:local`` from then
    on, for ``project`` on this host."""
    return werf_home(environ) / "service" / "stages_switch_from_local_block" / project


def block_file_display(project: str, environ: Mapping[str, str] | None = None) -> str:
    """:func:`block_file` as shown in a runbook: ``~/.werf/...`` unless ``WERF_HOME`` is set."""
    env = os.environ if environ is None else environ
    if env.get("WERF_HOME"):
        return str(block_file(project, env))
    return f"~/.werf/service/stages_switch_from_local_block/{project}"


# ---------------------------------------------------------------------------------------------
# remote stages address


@dataclass(frozen=True)
class RemoteUrl:
    """The parts of a git remote URL that locate a GitLab project."""

    host: str
    #: project path below the host: ``group/subgroup/project`` (no ``.git``)
    path: str
    #: the URL with any credentials replaced by ``***``
    redacted: str


_SCP_RE = re.compile(r"(?:(?P<user>[^@/:]+)@)?(?P<host>[^@/:]+):(?P<path>(?!//).+)")


def parse_remote_url(url: str) -> RemoteUrl:
    """Host and project path of a git remote: ``git@host:group/proj.git``,
    ``ssh://git@host:2222/group/proj.git``, ``https://[user[:token]@]host/group/proj.git``."""
    redacted = redact(url)
    if "://" in url:
        split = urlsplit(url)
        if split.scheme.lower() not in ("ssh", "git+ssh", "http", "https", "git"):
            raise CiswitchError(f"remote URL {redacted} is not a GitLab server URL")
        host = split.hostname or ""
        path = split.path
    else:
        scp = _SCP_RE.fullmatch(url)
        if not scp:
            raise CiswitchError(f"remote URL {redacted} is not a GitLab server URL")
        host, path = scp.group("host"), scp.group("path")
    path = path.strip("/")
    path = path.removesuffix(".git").strip("/")
    if not host or path.count("/") < 1:
        raise CiswitchError(
            f"remote URL {redacted} has no group/project path to derive the registry path from"
        )
    return RemoteUrl(host.lower(), path, redacted)


#: registries whose host is known from the git host without asking
_KNOWN_REGISTRIES = {"gitlab.com": "registry.gitlab.com"}


@dataclass(frozen=True)
class StagesAddress:
    """The remote stages storage address and how it was found."""

    address: str | None
    #: "--to", "CI_REGISTRY_IMAGE", or "remote <name> + registry <host>"
    source: str
    #: why ``address`` is None: says how to supply it
    problem: str = ""


def _check_address(address: str, source: str) -> str:
    from ciswitch.stages_address import check_address

    return check_address(address, source)


def stages_address(
    *,
    to: str | None = None,
    environ: Mapping[str, str] | None = None,
    remote_url: str | None = None,
    remote_name: str = "origin",
    registry_host: str | None = None,
) -> StagesAddress:
    """Where the stages go: ``--to``, else ``$CI_REGISTRY_IMAGE/stages`` (what ``werf ci-env
    gitlab`` will use), else GitLab's registry path derived from the git remote: the project
    path lowercased (as GitLab names registry repositories) under ``registry_host``."""
    env = os.environ if environ is None else environ
    if to is not None:
        return StagesAddress(_check_address(to.rstrip("/") or to, "--to"), "--to")
    image = env.get("CI_REGISTRY_IMAGE", "").rstrip("/")
    if image:
        return StagesAddress(
            _check_address(f"{image}/stages", "CI_REGISTRY_IMAGE"), "CI_REGISTRY_IMAGE",
        )
    how = "pass --to ADDR (the project's Container Registry path + /stages)"
    if not remote_url:
        return StagesAddress(None, "", f"no git remote {remote_name!r} to derive it from; {how}")
    try:
        remote = parse_remote_url(remote_url)
    except CiswitchError as err:
        return StagesAddress(None, "", f"{err}; {how}")
    host = (registry_host or _KNOWN_REGISTRIES.get(remote.host, "")).strip().rstrip("/")
    if not host:
        return StagesAddress(
            None, "",
            f"the registry host of {remote.host} is not known; pass --registry-host HOST "
            f"(see the project's Packages > Container Registry page) or {how}",
        )
    if "://" in host or "/" in host:
        raise CiswitchError(
            f"--registry-host: {host!r} must be a host name (with an optional port)"
        )
    address = f"{host.lower()}/{remote.path.lower()}/stages"
    return StagesAddress(
        address, f"git remote {remote_name}: {remote.host}/{remote.path}, registry {host}",
    )


def git_remote_url(repo: Path, remote: str = "origin") -> str | None:
    """The URL of ``remote`` as git resolves it (``insteadOf`` applied), or None."""
    from ciswitch.gitops import git_text

    try:
        done = git_text(["-C", str(repo), "remote", "get-url", remote])
    except OSError:
        return None
    url = done.stdout.strip()
    return url if done.returncode == 0 and url else None


# ---------------------------------------------------------------------------------------------
# werf version


@dataclass(frozen=True, order=True)
class WerfVersion:
    """A werf release number; ``raw`` keeps the suffix (``+fix2``, ``-alpha.3``) for display."""

    major: int
    minor: int
    patch: int
    raw: str = ""

    @property
    def triple(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def __str__(self) -> str:
        return self.raw or f"v{self.major}.{self.minor}.{self.patch}"


_VERSION_RE = re.compile(r"(?<![\w.])v?(\d+)\.(\d+)\.(\d+)((?:[-+][0-9A-Za-z.+-]*)?)")


def parse_werf_version(output: str) -> WerfVersion | None:
    """The version in ``werf version`` output (``v1.1.23+fix2``, ``1.1.10``, ``v1.2.0-rc.1``)."""
    match = _VERSION_RE.search(output)
    if not match:
        return None
    major, minor, patch = (int(g) for g in match.groups()[:3])
    raw = match.group(0)
    return WerfVersion(major, minor, patch, raw if raw.startswith("v") else f"v{raw}")


def version_problem(version: WerfVersion) -> str:
    """Why this werf cannot run the runbook, or "" when it can."""
    if version.triple < MIN_WERF:
        return (
            f"werf {version} is too old: remote stages storage needs werf v1.1.10 or newer "
            "(e.g. `source $(multiwerf use 1.1 stable --as-file)`, or --werf PATH)"
        )
    if (version.major, version.minor) >= (1, 2):
        return (
            f"werf {version} uses --repo / WERF_REPO instead of stages storage and has no "
            "`werf stages` commands; this runbook is for werf 1.1 projects "
            "(use werf 1.1 here, e.g. `source $(multiwerf use 1.1 stable --as-file)`, "
            "or --werf PATH)"
        )
    return ""


@dataclass(frozen=True)
class WerfInfo:
    """werf as found on this host."""

    #: the executable, or None when werf is not installed here
    path: str | None
    version: WerfVersion | None = None
    #: the output when it could not be parsed, or why werf could not be run
    detail: str = ""

    @property
    def problem(self) -> str:
        if self.path is None:
            return "werf is not on PATH on this host (run the runner steps where werf is installed)"
        if self.version is None:
            return f"cannot tell the werf version from `werf version` ({self.detail})"
        return version_problem(self.version)


def detect_werf(werf: str | None = None, environ: Mapping[str, str] | None = None) -> WerfInfo:
    """Find werf (``werf`` on PATH, or the given path) and ask it for its version."""
    import shutil

    env = dict(os.environ if environ is None else environ)
    found = shutil.which(werf or "werf", path=env.get("PATH"))
    if found is None:
        if werf:
            raise CiswitchError(f"--werf: {werf}: not an executable")
        return WerfInfo(None)
    try:
        done = subprocess.run(
            [found, "version"], capture_output=True, text=True, check=False, env=env, timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return WerfInfo(found, None, str(err))
    output = (done.stdout + done.stderr).strip()
    version = parse_werf_version(done.stdout) if done.returncode == 0 else None
    detail = output.splitlines()[0] if output else f"exit code {done.returncode}"
    return WerfInfo(found, version, "" if version else detail)


# ---------------------------------------------------------------------------------------------
# everything together


@dataclass(frozen=True)
class ProjectFacts:
    """What the runbook of one repository is built from."""

    #: the repository as given (for messages)
    repo: str
    project: ProjectName
    address: StagesAddress
    #: None when werf was not looked for (the plan is then host-independent)
    werf: WerfInfo | None
    #: the block file of this project on this host, when the project name is known
    block_file: Path | None
    #: how the block file is written in the runbook (``~/.werf/...``)
    block_file_display: str


def gather_facts(
    ws: Workspace,
    *,
    repo: str,
    project: str | None = None,
    to: str | None = None,
    registry_host: str | None = None,
    remote_url: str | None = None,
    remote_name: str = "origin",
    werf: WerfInfo | None = None,
    environ: Mapping[str, str] | None = None,
) -> ProjectFacts:
    """Collect the facts for one repository; unknown facts carry the reason and the option
    that supplies them, so that the plan can still be shown with placeholders."""
    env = os.environ if environ is None else environ
    name = project_name(ws, explicit=project, environ=env)
    address = stages_address(
        to=to, environ=env, remote_url=remote_url, remote_name=remote_name,
        registry_host=registry_host,
    )
    shown = name.name or "PROJECT"
    return ProjectFacts(
        repo=repo,
        project=name,
        address=address,
        werf=werf,
        block_file=block_file(name.name, env) if name.name else None,
        block_file_display=block_file_display(shown, env),
    )


def werf_sync_args(source: str, target: str) -> list[str]:
    """``werf stages sync`` arguments (without the executable)."""
    return ["stages", "sync", "--from", source, "--to", target]


def werf_switch_args(address: str) -> list[str]:
    """``werf stages switch-from-local`` arguments (without the executable)."""
    return ["stages", "switch-from-local", "--to", address]
