"""``lint``: from a repository (or named files) to findings, problems, places not checked and
notices.

This is the one pipeline both ``lint`` and ``fix`` run: load the CI model, collect facts, run
the enabled rules, drop suppressed findings. ``fix`` then takes the findings' fixes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from ciswitch.analysis.facts import Facts
from ciswitch.analysis.replay import collect_facts
from ciswitch.analysis.settings import GitLabSettings
from ciswitch.config import Config, load_config
from ciswitch.disk_paths import as_given, joined, posix_relative, resolved, upward
from ciswitch.errors import CiswitchError
from ciswitch.gitlab import Pipeline, load_pipeline
from ciswitch.model import Finding, LintResult, NotChecked, NotCheckedKind, Problem
from ciswitch.record import Record
from ciswitch.rules.base import RuleOptions
from ciswitch.source import SourceFile, gc_paused
from ciswitch.workspace import DirectoryWorkspace, Workspace

YAML_SUFFIXES = (".yml", ".yaml")
#: the logical path of the places in GitLab's CI/CD settings that were not checked
SETTINGS_PATH = "gitlab"
#: the coverage entry of a run that did not read GitLab's CI/CD settings
SETTINGS_NOT_CHECKED = NotChecked(
    SETTINGS_PATH, None, NotCheckedKind.GITLAB_SETTINGS,
    "CI/CD variables in GitLab's settings were not checked: pass --gitlab-url with GITLAB_TOKEN",
)

#: the start of the problem of a repository without its CI configuration file: a plan or status
#: of such a repository is still one (it has nothing to migrate), unlike one whose file is broken
NO_CI_FILE = "no such CI configuration file"


def unreadable(problems: list[Problem]) -> list[Problem]:
    """The problems that mean a CI configuration was there but could not be read (a missing
    CI file is not one of them: such a repository has nothing to migrate)."""
    return [p for p in problems if not p.message.startswith(NO_CI_FILE)]


def settings_not_checked(settings: GitLabSettings) -> list[NotChecked]:
    """The levels of the settings that could not be read (the instance's, without an
    administrator's token)."""
    def why(reason: str) -> str:
        reason = reason.removeprefix("not checked: ")
        return ("the token is not an administrator's (GitLab answers 403)"
                if reason == "needs admin" else reason)

    return [NotChecked(SETTINGS_PATH, None, NotCheckedKind.GITLAB_SETTINGS,
                       f"the {level}'s CI/CD variables were not checked: {why(reason)}")
            for level, reason in settings.not_checked]


class LintRun(Record):
    """A lint run's result together with the facts behind it (``fix`` needs both; the files
    read are ``facts.files``)."""

    result: LintResult
    facts: Facts
    #: the repository root on disk (resolved) that the result's paths are relative to; None
    #: when the paths are already as the user gave them (a PATH or ``--config`` that cannot be
    #: read)
    root: str | None

    def __init__(self, result: LintResult, facts: Facts, root: str | None = None) -> None:
        self.result = result
        self.facts = facts
        self.root = root


def run_rules(facts: Facts, config: Config, options: RuleOptions) -> list[Finding]:
    """Every enabled rule over the facts, one finding per place, in file order."""
    from ciswitch.rules import ALL_RULES

    findings: list[Finding] = []
    for rule in ALL_RULES:
        if rule.check is not None and config.is_enabled(rule.code):
            findings.extend(rule.check(facts, options))
    findings.sort(key=lambda f: f.sort_key)
    return findings


@gc_paused()  # a big file makes ~10^6 objects: keep the collector from walking them
def analyse_workspace(
    ws: Workspace,
    config: Config,
    *,
    entry: str | None = None,
    to: str | None = None,
    label: str | None = None,
    known: Mapping[str, SourceFile] | None = None,
    settings: GitLabSettings | None = None,
) -> LintRun:
    """Lint the CI configuration of ``ws`` (``entry`` or the configured CI file). ``known``
    holds files already decoded and composed, by path (``fix`` checking its own result);
    ``settings`` the CI/CD variables GitLab keeps for the project, when they were read."""
    ci_file = entry or config.ci_config
    result = LintResult(root=label or ws.label, strict=config.strict)
    unknown = unknown_rule_codes(config)
    if unknown is not None:
        result.problems.append(unknown)
        return LintRun(result, Facts(None))
    if entry is not None and not entry.lower().endswith(YAML_SUFFIXES):
        from ciswitch.scripts.runs import script_kind

        kind = script_kind(ws, entry) if ws.is_file(entry) else None
        if kind is not None:
            return _analyse_named_script(ws, config, entry, kind, to, result, known)
    if not ws.is_file(ci_file):
        result.problems.append(Problem(ci_file, missing_ci_message(ws, ci_file, entry is None)))
        return LintRun(result, Facts(None))
    pipeline: Pipeline = load_pipeline(ws, ci_file, known)
    switched = config.stages_storage == "remote"
    facts = collect_facts(pipeline, switched=switched, workspace=ws, known=known,
                          settings=settings)
    if config.extra_files:
        _add_extra_files(ws, config, facts, known)
    options = RuleOptions(to=to, switched=switched)
    findings = run_rules(facts, config, options)
    result.findings = _reviewed(findings, facts.files.texts(), config)
    result.problems.extend(pipeline.problems)
    result.notices.extend(pipeline.notices)
    result.notices.extend(facts.notices)
    result.add_not_checked([*pipeline.not_checked, *facts.not_checked])
    if settings is not None:
        result.add_not_checked(settings_not_checked(settings))
    result.files = facts.files.paths()
    return LintRun(result, facts)


def _analyse_named_script(
    ws: Workspace,
    config: Config,
    entry: str,
    kind: str,
    to: str | None,
    result: LintResult,
    known: Mapping[str, SourceFile] | None,
) -> LintRun:
    """Lint a shell script or Python helper named on the command line, without any YAML."""
    from ciswitch.analysis.replay import collect_script_facts
    from ciswitch.scripts.runs import ScriptRun

    switched = config.stages_storage == "remote"
    run = ScriptRun(entry, "python" if kind == "python" else "shell", 0, 0)
    facts = collect_script_facts(ws, [run], switched=switched, known=known)
    findings = run_rules(facts, config, RuleOptions(to=to, switched=switched))
    result.findings = _reviewed(findings, facts.files.texts(), config)
    result.notices.extend(facts.notices)
    result.files = facts.files.paths()
    if entry not in facts.files:
        # the file named on the command line cannot be read: an input error, not a gap
        result.problems.extend(
            Problem(n.path, n.message, n.line) for n in facts.not_checked if n.path == entry
        )
    result.add_not_checked([n for n in facts.not_checked if entry in facts.files
                            or n.path != entry])
    return LintRun(result, facts)


def _add_extra_files(
    ws: Workspace, config: Config, facts: Facts, known: Mapping[str, SourceFile] | None
) -> None:
    """Scripts matched by ``extra-files`` that no job runs are linted on their own."""
    from ciswitch.analysis.replay import collect_script_facts
    from ciswitch.scripts.runs import ScriptRun, script_kind
    from ciswitch.workspace import glob_files

    paths = sorted({p for pattern in config.extra_files for p in glob_files(ws, pattern)})
    runs = []
    for path in paths:
        kind = script_kind(ws, path)
        if kind is not None and not facts.files.is_script(path):
            runs.append(ScriptRun(path, "python" if kind == "python" else "shell", 0, 0))
    if runs:
        collect_script_facts(ws, runs, switched=facts.switched, facts=facts, known=known)


def _reviewed(findings: list[Finding], texts: dict[str, str], config: Config) -> list[Finding]:
    """The findings after the rules that review findings (suppression comments): what they
    keep, plus their own findings when they are enabled."""
    from ciswitch.rules import ALL_RULES

    enabled = [rule.code for rule in ALL_RULES if config.is_enabled(rule.code)]
    kept = findings
    for rule in ALL_RULES:
        if rule.review is None:
            continue
        kept, own = rule.review(kept, texts, enabled)
        if config.is_enabled(rule.code):
            kept.extend(own)
    kept.sort(key=lambda f: f.sort_key)
    return kept


def lint_workspace(ws: Workspace, config: Config) -> LintResult:
    """Lint a repository snapshot (a work tree or a git tree)."""
    return analyse_workspace(ws, config).result


def unknown_rule_codes(config: Config) -> Problem | None:
    """An input error for a rule code in ``select`` or ``ignore`` that no rule has (a typo
    would otherwise switch a rule off, or every rule, without a word)."""
    from ciswitch.rules import ALL_RULES

    known = {rule.code for rule in ALL_RULES}
    where = " in [tool.ciswitch]" if config.source_in_pyproject else ""
    for key, codes in (("select", config.select or []), ("ignore", config.ignore)):
        unknown = [code for code in codes if code not in known]
        if unknown:
            return Problem(
                config.source or "ciswitch",
                f"key {key!r}{where} names an unknown rule code {unknown[0]!r} "
                f"(known: {', '.join(sorted(known))})",
                config.key_lines.get(key),
            )
    return None


#: CI configuration paths GitLab projects use besides the default, looked for in a hint
_CI_CANDIDATES = (".gitlab-ci.yaml", ".gitlab/ci.yml", ".gitlab/.gitlab-ci.yml",
                  "ci/.gitlab-ci.yml", ".ci/.gitlab-ci.yml", "gitlab-ci.yml")


def missing_ci_message(ws: Workspace, ci_file: str, configured: bool) -> str:
    """Why ``ci_file`` cannot be linted: what it is when it exists but is no regular file (a
    directory, a FIFO, a symlink), else that it is missing, with a hint to set ``ci-config``
    when the CI file is the configured one."""
    import errno
    import stat

    root = getattr(ws, "root_dir", None)
    if isinstance(root, str):
        path = os.path.join(root, as_given(ci_file))
        try:
            st = os.lstat(path)
        except OSError:
            st = None
        if st is not None and stat.S_ISLNK(st.st_mode):
            target = os.readlink(path)
            try:
                os.stat(path)
            except OSError as err:
                if err.errno == errno.ELOOP:
                    return f"is a symlink to {target}, in a loop of symlinks"
                return f"is a symlink to {target}, which does not exist"
            return f"is a symlink to {target}, which is not a regular file in the repository"
        if st is not None:
            kind = ("a directory" if stat.S_ISDIR(st.st_mode)
                    else "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode)
                    else "a socket" if stat.S_ISSOCK(st.st_mode)
                    else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                    else "not a regular file")
            return f"is {kind}, not a CI configuration file"
    message = NO_CI_FILE
    if not configured:
        return message
    found = next((c for c in _CI_CANDIDATES if c != ci_file and ws.is_file(c)), None)
    if found is not None:
        return (f"{message}; the repository has {found}: set ci-config = \"{found}\" in "
                ".ciswitch.toml")
    return (f"{message}; for a custom CI configuration path set ci-config in .ciswitch.toml "
            "(or [tool.ciswitch] of pyproject.toml)")


#: what marks the top of a repository when ``lint`` or ``fix`` is run without a PATH
ROOT_MARKERS = (".git", ".ciswitch.toml")


def default_target(cwd: str | os.PathLike[str] | None = None) -> str:
    """The repository to lint when no PATH is given: the current directory when it holds the
    CI file, else the nearest directory upward holding ``.git`` or ``.ciswitch.toml``, else
    the current directory."""
    from ciswitch.config import DEFAULT_CI_CONFIG

    start = os.path.abspath(cwd or os.getcwd())
    if os.path.exists(joined(start, DEFAULT_CI_CONFIG)):
        return start
    for candidate in upward(start):
        if any(os.path.exists(joined(candidate, marker)) for marker in ROOT_MARKERS):
            return candidate
    return start


def find_root(path: str | os.PathLike[str]) -> str:
    """The repository root of a file (resolved): the nearest parent with ``.git``, else its
    directory.

    The file's own name is not resolved: a symlink is looked at from where it is, so one that
    points outside the repository is refused when read (and never written through)."""
    return _repository_above(resolved(os.path.dirname(os.path.abspath(path))))


def _repository_above(directory: str) -> str:
    """The nearest of the resolved ``directory`` and its parents holding ``.git``, else the
    directory itself."""
    for candidate in upward(directory):
        if os.path.exists(joined(candidate, ".git")):
            return candidate
    return directory


def resolve_target(path: str | os.PathLike[str]) -> tuple[DirectoryWorkspace, str | None]:
    """A PATH argument as (workspace, entry file or None for the configured CI file)."""
    given = as_given(path)
    if os.path.isdir(given):
        return DirectoryWorkspace(given), None
    if not os.path.exists(given):
        raise CiswitchError("no such file or directory", given)
    directory = resolved(os.path.dirname(os.path.abspath(given)))
    root = _repository_above(directory)
    rel = posix_relative(joined(directory, os.path.basename(given)), root)
    ws = DirectoryWorkspace(root)
    try:
        ws.disk_path(rel)  # a symlink leaving the repository: refused here, with its name
    except CiswitchError as err:
        raise CiswitchError(err.message, given) from err
    return ws, rel


def lint_paths(
    paths: Sequence[str | os.PathLike[str]],
    config_file: str | os.PathLike[str] | None = None,
    *,
    to: str | None = None,
    settings: GitLabSettings | None = None,
) -> list[LintRun]:
    """Lint each PATH (a repository directory or a single CI file), with GitLab's CI/CD
    ``settings`` of the project when they were read. Each run's ``root`` says what its paths
    are relative to."""
    runs: list[LintRun] = []
    for path in paths:
        try:
            ws, entry = resolve_target(path)
        except CiswitchError as err:
            runs.append(_failed(path, err))
            continue
        try:
            config = load_config(ws, config_file)
        except CiswitchError as err:
            if config_file is not None:  # named on the command line: shown as given
                runs.append(_failed(path, err))
                continue
            result = LintResult(root=ws.label)
            result.problems.append(Problem(err.path or ".", err.message, err.line, err.column))
            runs.append(LintRun(result, Facts(None), ws.root_dir))
            continue
        run = analyse_workspace(ws, config, entry=entry, to=to, settings=settings)
        run.root = ws.root_dir
        if config_file is not None:
            run.result.problems = settings_problems(run.result.problems, config_file,
                                                    ws.root_dir)
        runs.append(run)
    return runs


def settings_problems(
    problems: list[Problem], config_file: str | os.PathLike[str], root: str | os.PathLike[str]
) -> list[Problem]:
    """``problems`` with the ``--config FILE`` ones made relative to ``root`` (as every other
    path of a run is), so that they are shown relative to the current directory too."""
    from ciswitch.record import replace

    label = as_given(config_file)
    rel = os.path.relpath(config_file, root)
    return [replace(p, path=rel) if p.path == label else p for p in problems]


def _failed(path: str | os.PathLike[str], err: CiswitchError) -> LintRun:
    given = as_given(path)
    result = LintResult(root=given)
    result.problems.append(Problem(err.path or given, err.message, err.line, err.column))
    return LintRun(result, Facts(None))
