"""gitlab-ci-local as an independent oracle of GitLab's pipeline semantics.

Given a repository directory, :func:`expand_pipeline` copies it into a fresh temporary git
repository (the original is never written to), runs ``gitlab-ci-local --list-json`` (the real job
names, ``parallel: matrix:`` jobs as ``build: [a, b]``) and ``--preview`` (the configuration with
includes, ``extends``, ``!reference``, anchors and ``default:`` expanded) and returns, per job, its
expanded script (``before_script`` + ``script`` + ``after_script``) and every variable binding
that can apply to it.

Offline: includes that are not local are stubbed by pre-filling gitlab-ci-local's include cache
(``.gitlab-ci-local/includes/`` of the copy; it reads a cached file instead of fetching it) with
a file holding one hidden key, so the local part of the pipeline is expanded and nothing is
fetched. Paths (from gitlab-ci-local's own layout):

- ``remote: https://host/p/f.yml`` -> ``includes/host/p/f.yml``
- ``project: g/p`` + ``file: f.yml`` (+ ``ref: r``, default ``HEAD``) ->
  ``includes/<origin host>/g/p/r/f.yml``
- ``template: T.yml`` ->
  ``includes/gitlab.com/gitlab-org/gitlab/-/raw/HEAD/lib/gitlab/ci/templates/T.yml``

A local include whose file is not in the repository (a corpus file alone) gets the same stub
in the copy (a glob gets one matching file). The stub also defines, as hidden jobs with a no-op
script, the templates that ``extends`` / ``!reference`` name but no local file defines: they
are the stubbed includes' content, which neither ciswitch nor the oracle can see. Stubs are
committed with the copy, as gitlab-ci-local resolves local includes among git's files.

Child pipelines: a job with ``trigger: include:`` of local files is expanded again with
``--file`` set to each child file; the child's jobs get the trigger job's variables (and the
parent's global ones it inherits) over their own, as GitLab passes them down (none with
``trigger: forward: yaml_variables: false``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ENV_VAR = "CISWITCH_GITLAB_CI_LOCAL"
ORIGIN = "https://gitlab.example.test/group/project.git"
ORIGIN_HOST = "gitlab.example.test"
STUB = ".ciswitch-oracle-stub:\n  script: ['true']\n"


class OracleError(Exception):
    """gitlab-ci-local could not expand the pipeline (its message is the reason)."""


def tool() -> str | None:
    """The gitlab-ci-local wrapper named by ``$CISWITCH_GITLAB_CI_LOCAL``, when it runs."""
    path = os.environ.get(ENV_VAR, "")
    return path if path and os.access(path, os.X_OK) else None


def required_tool() -> str:
    """The wrapper for a test that needs it: skipped with the reason when it is missing, failed
    under CI (where the oracle must run)."""
    import pytest

    exe = tool()
    if exe is None:
        reason = (f"gitlab-ci-local not available (${ENV_VAR} unset or not executable; "
                  "tests/oracles/install.sh DIR installs it)")
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: CI must not skip the oracle")
        pytest.skip(reason)
    return exe


@dataclass(frozen=True)
class Job:
    """One real job as gitlab-ci-local expands it."""

    name: str
    script: tuple[str, ...]
    #: every variable mapping that can be in effect for the job: the default one (global <
    #: job < matrix entry) and that mapping overlaid with each ``rules:`` entry's variables
    bindings: tuple[dict[str, str], ...]
    #: the trigger job whose child pipeline holds this job ("" in the top pipeline)
    parent: str = ""


@dataclass
class Pipeline:
    jobs: list[Job] = field(default_factory=list)

    def names(self) -> set[str]:
        return {j.name for j in self.jobs}


# --- running gitlab-ci-local -----------------------------------------------------------------


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)


def _make_repo(source: Path, work: Path) -> None:
    shutil.copytree(source, work, ignore=shutil.ignore_patterns(".git", ".gitlab-ci-local"),
                    symlinks=True)
    _stub_includes(work)  # before the commit: gitlab-ci-local resolves local includes in git
    _git(work, "init", "-q", "-b", "main")
    _git(work, "add", "-A")
    _git(work, "config", "user.name", "Oracle")
    _git(work, "config", "user.email", "oracle@example.test")
    _git(work, "commit", "-q", "--allow-empty", "-m", "oracle copy")
    _git(work, "remote", "add", "origin", ORIGIN)
    # gitlab-ci-local asks for the remote's default branch: give it one without a fetch
    _git(work, "update-ref", "refs/remotes/origin/main", "HEAD")
    _git(work, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")


def _run(exe: str, work: Path, home: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CI_", "GITLAB_"))}
    env.update({"HOME": str(home), "NO_COLOR": "1", "FORCE_COLOR": "0"})
    proc = subprocess.run(
        [exe, "--no-color", "--no-json-schema-validation", *args],
        cwd=work, capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines()
                 if ln.strip() and not ln.strip().startswith("at ")]
        raise OracleError(" | ".join(lines[-3:]) or f"exit {proc.returncode}")
    return proc.stdout


def _include_entries(value: Any) -> Iterator[Any]:
    if isinstance(value, list):
        yield from value
    elif value is not None:
        yield value


def _stub_paths(config: Any) -> Iterator[str]:
    """Cache paths (under ``.gitlab-ci-local/includes/``) of a config's non-local includes."""
    if not isinstance(config, dict):
        return
    for entry in _include_entries(config.get("include")):
        if isinstance(entry, str):
            if re.match(r"https?://", entry):
                yield re.sub(r"^https?://", "", entry)
            continue
        if not isinstance(entry, dict):
            continue
        if isinstance(entry.get("remote"), str):
            yield re.sub(r"^https?://", "", entry["remote"])
        elif isinstance(entry.get("template"), str):
            yield ("gitlab.com/gitlab-org/gitlab/-/raw/HEAD/lib/gitlab/ci/templates/"
                   + entry["template"])
        elif isinstance(entry.get("project"), str):
            ref = str(entry.get("ref") or "HEAD")
            for file in _include_entries(entry.get("file")):
                yield f"{ORIGIN_HOST}/{entry['project']}/{ref}/{str(file).lstrip('/')}"


class _Loader(yaml.SafeLoader):
    """PyYAML that reads GitLab's ``!reference`` tag (only to find includes and templates)."""


@dataclass(frozen=True)
class _Ref:
    path: tuple[str, ...]


def _reference(loader: yaml.SafeLoader, node: yaml.Node) -> _Ref:
    items = loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode) else []
    return _Ref(tuple(str(i) for i in items))


_Loader.add_constructor("!reference", _reference)


def _local_includes(config: Any) -> Iterator[str]:
    if not isinstance(config, dict):
        return
    for entry in _include_entries(config.get("include")):
        if isinstance(entry, str) and not re.match(r"https?://", entry):
            yield entry
        elif isinstance(entry, dict) and isinstance(entry.get("local"), str):
            yield entry["local"]


def _undefined(configs: list[Any]) -> dict[str, dict[str, Any]]:
    """Hidden templates that ``extends`` / ``!reference`` name but no local file defines: they
    come from a stubbed include, so the stub defines them (empty, a no-op script)."""
    defined = {k for c in configs if isinstance(c, dict) for k in c}
    wanted: dict[str, dict[str, Any]] = {}

    def visit(node: Any) -> None:
        if isinstance(node, _Ref) and node.path and node.path[0] not in defined:
            body = wanted.setdefault(node.path[0], {"script": ["true"]})
            if len(node.path) > 1:
                body[node.path[1]] = {} if node.path[1] == "variables" else ["true"]
        elif isinstance(node, dict):
            ext = node.get("extends")
            for name in ext if isinstance(ext, list) else [ext] if isinstance(ext, str) else []:
                if name not in defined:
                    wanted.setdefault(name, {"script": ["true"]})
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    for config in configs:
        visit(config)
    return wanted


def _stub_includes(work: Path) -> list[str]:
    """Write the stub of every include that is not in the copy; returns their paths."""
    configs: dict[Path, Any] = {}
    for path in sorted(work.rglob("*")):
        if path.suffix not in (".yml", ".yaml") or ".gitlab-ci-local" in path.parts:
            continue
        try:
            configs[path] = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
        except (yaml.YAMLError, UnicodeDecodeError):
            continue
    missing = _undefined(list(configs.values()))
    stub = STUB + (yaml.safe_dump(missing, sort_keys=True) if missing else "")
    targets: list[Path] = []
    for config in configs.values():
        targets.extend(work / ".gitlab-ci-local" / "includes" / rel for rel in _stub_paths(config))
        for local in _local_includes(config):
            rel = local.lstrip("/")
            if "$" in rel:
                continue
            if "*" in rel:
                if not list(work.glob(rel)):
                    targets.append(work / rel.replace("**/", "").replace("*", "ciswitch-stub"))
            elif not (work / rel).exists():
                targets.append(work / rel)
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(stub, encoding="utf-8")
    return [t.relative_to(work).as_posix() for t in targets]


# --- reading the expansion -------------------------------------------------------------------


def _value(raw: Any) -> str:
    if isinstance(raw, dict):  # {value:, description:, expand:} form
        raw = raw.get("value", "")
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return str(raw)


def _variables(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        return {}
    return {str(k): _value(v) for k, v in raw.items()}


def _script(job: dict[str, Any]) -> tuple[str, ...]:
    lines: list[str] = []
    for key in ("before_script", "script", "after_script"):
        value = job.get(key)
        items = value if isinstance(value, list) else [value] if value is not None else []
        for item in items:
            if isinstance(item, list):  # nested lists from !reference are flattened by GitLab
                lines.extend(str(x) for x in item)
            else:
                lines.append(str(item))
    return tuple(lines)


def _matrix(name: str, job: dict[str, Any]) -> dict[str, str]:
    """The matrix variables of generated job ``name`` (``base: [v1, v2]``)."""
    match = re.fullmatch(r".*: \[(.*)\]", name)
    parallel = job.get("parallel")
    if not match or not isinstance(parallel, dict):
        return {}
    wanted = re.sub(r",\s*", ",", match.group(1))  # gitlab-ci-local writes "build: [a,b]"
    for entry in parallel.get("matrix") or []:
        if not isinstance(entry, dict):
            continue
        combos: list[dict[str, str]] = [{}]
        for key, values in entry.items():
            options = values if isinstance(values, list) else [values]
            combos = [{**c, str(key): _value(v)} for c in combos for v in options]
        for combo in combos:
            if ",".join(combo.values()) == wanted:
                return combo
    raise OracleError(f"no parallel: matrix: entry gives the job name {name!r}")


def _base_name(name: str, preview: dict[str, Any]) -> str:
    if name in preview:
        return name
    match = re.fullmatch(r"(.*): \[.*\]", name)
    return match.group(1) if match else name


def _jobs(listed: list[dict[str, Any]], preview: dict[str, Any], passed: dict[str, str],
          parent: str) -> list[Job]:
    global_vars = _variables(preview.get("variables"))
    jobs = []
    for entry in listed:
        name = str(entry["name"])
        data = preview.get(_base_name(name, preview))
        if not isinstance(data, dict):
            raise OracleError(f"job {name!r} of --list-json is not in --preview")
        inherit = data.get("inherit")
        inherited = inherit.get("variables", True) if isinstance(inherit, dict) else True
        if inherited is False:
            globals_used = {}
        elif isinstance(inherited, list):
            globals_used = {k: v for k, v in global_vars.items() if k in inherited}
        else:
            globals_used = global_vars
        default = {**globals_used, **_variables(data.get("variables")), **_matrix(name, data),
                   **passed}
        bindings = [default]
        for rule in data.get("rules") or []:
            if isinstance(rule, dict) and isinstance(rule.get("variables"), dict):
                bindings.append({**default, **_variables(rule["variables"])})
        jobs.append(Job(name, _script(data), tuple(bindings), parent))
    return jobs


def _trigger_files(data: dict[str, Any]) -> list[str]:
    trigger = data.get("trigger")
    if not isinstance(trigger, dict):
        return []
    files = []
    for entry in _include_entries(trigger.get("include")):
        if isinstance(entry, str) and not re.match(r"https?://", entry):
            files.append(entry)
        elif isinstance(entry, dict) and isinstance(entry.get("local"), str):
            files.append(entry["local"])
    return [f.lstrip("/") for f in files]


def _passed_down(preview: dict[str, Any], data: dict[str, Any]) -> dict[str, str]:
    """The variables a trigger job passes to its child: its own and the global ones it
    inherits (``inherit: variables:``), none with ``trigger: forward: yaml_variables: false``
    (GitLab's "Downstream pipelines" page)."""
    trigger = data.get("trigger")
    forward = trigger.get("forward") if isinstance(trigger, dict) else None
    if isinstance(forward, dict) and forward.get("yaml_variables") is False:
        return {}
    global_vars = _variables(preview.get("variables"))
    inherit = data.get("inherit")
    inherited = inherit.get("variables", True) if isinstance(inherit, dict) else True
    if inherited is False:
        global_vars = {}
    elif isinstance(inherited, list):
        global_vars = {k: v for k, v in global_vars.items() if k in inherited}
    return {**global_vars, **_variables(data.get("variables"))}


def _expand(exe: str, work: Path, home: Path, file: str, passed: dict[str, str],
            parent: str, depth: int) -> list[Job]:
    out = _run(exe, work, home, "--file", file, "--list-json")
    start = out.find("\n[") + 1 if not out.startswith("[") else 0
    try:
        listed = json.loads(out[start:])
    except json.JSONDecodeError as exc:
        raise OracleError(f"--list-json printed no JSON: {out[:200]!r}") from exc
    text = _run(exe, work, home, "--file", file, "--preview")
    start = text.find("---\n")
    try:
        preview = yaml.load(text[max(start, 0):], Loader=_Loader)
    except yaml.YAMLError as exc:
        raise OracleError(f"--preview printed no YAML: {exc}") from exc
    if not isinstance(preview, dict):
        raise OracleError("--preview printed no mapping")
    jobs = _jobs(listed, preview, passed, parent)
    if depth < 2:
        for job in list(jobs):
            data = preview.get(_base_name(job.name, preview))
            assert isinstance(data, dict)
            for child in _trigger_files(data):
                down = _passed_down(preview, data)
                jobs.extend(_expand(exe, work, home, child, down, job.name, depth + 1))
    return jobs


#: expansions already made in this test run, by the content of the tree expanded: the lint
#: oracle and the fix oracle expand the same fixtures (a node process of seconds each)
_EXPANDED: dict[tuple[str, str], Pipeline | OracleError] = {}


def _tree_key(repo: Path) -> str:
    """A digest of what :func:`_make_repo` copies of ``repo`` (paths, bytes, symlink targets)."""
    digest = hashlib.sha256()
    for path in sorted(repo.rglob("*")):
        rel = path.relative_to(repo)
        if rel.parts[0] in (".git", ".gitlab-ci-local"):
            continue
        digest.update(rel.as_posix().encode("utf-8", "surrogateescape") + b"\0")
        if path.is_symlink():
            digest.update(b"link:" + os.fsencode(os.readlink(path)))
        elif path.is_file():
            digest.update(b"file:" + path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def expand_pipeline(repo: Path, tmp: Path, exe: str) -> Pipeline:
    """The jobs of ``repo``'s ``.gitlab-ci.yml`` as gitlab-ci-local expands them (in a copy)."""
    key = (exe, _tree_key(repo))
    known = _EXPANDED.get(key)
    if known is None:
        work = tmp / "oracle-repo"
        home = tmp / "oracle-home"
        home.mkdir(parents=True, exist_ok=True)
        _make_repo(repo, work)
        try:
            known = Pipeline(_expand(exe, work, home, ".gitlab-ci.yml", {}, "", 0))
        except OracleError as err:
            known = err
        _EXPANDED[key] = known
    if isinstance(known, OracleError):
        raise OracleError(str(known))
    return Pipeline(list(known.jobs))


# --- the stages-storage :local oracle --------------------------------------------------------

#: a stages-storage ``:local`` in shell text (after the job's variables are expanded)
LOCAL_IN_SCRIPT = re.compile(
    r"""(?:--stages-storage(?:=|\s+)|(?<![\w-])-s(?:=|\s*))(?:["']?)[ \t]*:local(?![\w-])"""
    r"""|\bWERF_STAGES_STORAGE=["']?:local(?![\w-])"""
)
VAR_REF = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def expand_vars(text: str, variables: dict[str, str], depth: int = 5) -> str:
    """``$VAR`` / ``${VAR}`` replaced by their values (chains followed ``depth`` levels)."""
    for _ in range(depth):
        new = VAR_REF.sub(
            lambda m: variables.get(m.group(1) or m.group(2), m.group(0)), text)
        if new == text:
            break
        text = new
    return text


def _helper_texts(repo: Path, script: Iterable[str]) -> Iterator[str]:
    """Text of the repository's shell files a script names (``./build.sh``, ``bash k8s/x.sh``);
    a bare name is looked for in every directory, as a ``cd`` may have gone there."""
    for token in re.findall(r"[\w./$-]+\.(?:sh|bash)\b", "\n".join(script)):
        rel = re.sub(r"^(?:\$\{?CI_PROJECT_DIR\}?/|\./)", "", token)
        for path in sorted(repo.rglob(Path(rel).name)):
            if path.is_file() and path.relative_to(repo).as_posix().endswith(rel):
                try:
                    yield path.read_text(encoding="utf-8")
                except UnicodeDecodeError:
                    continue


def carries_local(job: Job, repo: Path) -> bool:
    """Does the expanded job set a stages-storage ``:local`` (script flag or variable)?"""
    for variables in job.bindings:
        if expand_vars(variables.get("WERF_STAGES_STORAGE", ""), variables).strip() == ":local":
            return True
        texts = [expand_vars(line, variables) for line in job.script]
        texts.extend(_helper_texts(repo, job.script))
        if any(_local_line(line) for text in texts for line in _shell_lines(text)):
            return True
    return False


def _shell_lines(text: str) -> Iterator[str]:
    """Lines of shell text, without comment lines and without here-document bodies."""
    end = ""
    for line in text.splitlines():
        if end:
            if line.strip() == end:
                end = ""
            continue
        if line.lstrip().startswith("#"):
            continue
        heredoc = re.search(r"<<-?\s*['\"]?(\w+)", line)
        if heredoc:
            end = heredoc.group(1)
        yield line


def _local_line(line: str) -> bool:
    """A ``:local`` flag after a ``werf`` word on a line that does not print text (an
    approximation of "werf gets this flag" that the fixtures' look-alikes hold to)."""
    line = line.split("<<", 1)[0]  # a here-document's words (folded onto its line) are text
    for segment in re.split(r"&&|\|\||[;|]", line):
        if re.match(r"\s*(?:echo|printf)\b", segment):
            continue
        for match in LOCAL_IN_SCRIPT.finditer(segment):
            if match.group(0).startswith("WERF_STAGES_STORAGE"):
                return True
            if re.search(r"(?:^|[\s/'\"(`])werf\b", segment[: match.start()]):
                return True
    return False
