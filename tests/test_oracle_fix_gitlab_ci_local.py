"""Differential test of ``ciswitch fix`` against gitlab-ci-local's expansion of the pipeline.

For every fixture pipeline whose YAML ``fix`` changes, gitlab-ci-local (an independent
implementation of GitLab's include / ``extends`` / ``!reference`` / anchor / ``<<:`` /
``parallel: matrix:`` semantics) expands the pipeline before and after the fix. The expanded
jobs must be the same jobs, and each job's expanded script and variables after the fix must equal
those before minus exactly what the fix removes. Both sides are normalised the same way
(:func:`normal_script`, :func:`normal_bindings`):

- in a werf command, the stages-storage flags whose value is ``:local`` (``--stages-storage
  :local``, ``--stages-storage=:local``, ``-s :local``, ``-s=:local``, ``-s:local``, quoted
  values) and ``WERF_STAGES_STORAGE=:local`` assignments (exports, command prefixes) are taken
  out; with ``--unsafe-fixes``, the ``:local`` synchronization too (``--synchronization``,
  ``-S``, ``WERF_SYNCHRONIZATION=:local``); with ``--to ADDRESS``, ``:local`` becomes the
  address instead;
- a command left with no word (or a bare ``export``) is the no-op ``true``; ``true && b`` is
  ``b``, and a statement that is only ``true`` is dropped (what bash runs the same);
- scripts are compared as the oracle's shell tokens (words and operators, continuations
  joined, comments dropped), so the statement structure (``&&``, ``||``, ``|``, lines) counts;
- variables: ``WERF_STAGES_STORAGE`` whose value (variables expanded) is ``:local`` is dropped
  (``WERF_SYNCHRONIZATION`` with unsafe fixes), a value carrying such flags loses them.

Since both sides are normalised alike, a place fix leaves stays equal on both sides; anything
else the fix changed (a job gone, a variable appearing through a ``<<:`` merge, a line joining a
chain, a ``!reference`` left pointing at nothing) makes them differ. The shell tokens come from
the property test's oracle (``fixoracle``), which shares no code with ciswitch.

Where gitlab-ci-local cannot expand a fixture, the case is an exception of
``test_oracle_gitlab_ci_local.ORACLE_EXCEPTIONS`` (strict xfail on ``OracleError``).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import fixoracle
import pytest
from oracles.gitlab_ci_local import (
    Job,
    OracleError,
    expand_pipeline,
    expand_vars,
    required_tool,
)
from test_oracle_gitlab_ci_local import ORACLE_EXCEPTIONS

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
LOCAL = ":local"
STORAGE = "WERF_STAGES_STORAGE"
SYNCHRONIZATION = "WERF_SYNCHRONIZATION"

#: exceptions of this test alone: case -> why gitlab-ci-local cannot judge it
FIX_ORACLE_EXCEPTIONS: dict[str, str] = {}


# --- the cases -------------------------------------------------------------------------------


def _yaml_changed(case: Path) -> bool:
    output = case / "output"
    return output.is_dir() and any(
        p.suffix in (".yml", ".yaml") for p in output.rglob("*") if p.is_file()
    )


def _cases() -> list[tuple[str, Path, list[str]]]:
    """(id, input directory, fix options): the rules cases whose expected output changes a
    YAML file, and every oracle case (plain ``fix``; the test runs it and compares)."""
    cases: list[tuple[str, Path, list[str]]] = []
    for case in sorted((FIXTURES / "rules").glob("*/*")):
        root = case / "input"
        if (root / ".gitlab-ci.yml").is_file() and _yaml_changed(case):
            args_file = case / "args.txt"
            args = shlex.split(args_file.read_text(encoding="utf-8")) if args_file.exists() else []
            cases.append((f"rules/{case.relative_to(FIXTURES / 'rules')}", root, args))
    for case in sorted((FIXTURES / "oracle").glob("*")):
        root = case / "input"
        if (root / ".gitlab-ci.yml").is_file():
            cases.append((f"oracle/{case.name}", root, []))
    return cases


def _params() -> list[object]:
    params: list[object] = []
    for case_id, root, args in _cases():
        marks = []
        reason = ORACLE_EXCEPTIONS.get(case_id) or FIX_ORACLE_EXCEPTIONS.get(case_id)
        if reason:
            marks.append(pytest.mark.xfail(strict=True, raises=OracleError, reason=reason))
        params.append(pytest.param(root, args, id=case_id, marks=marks))
    return params


@pytest.fixture(scope="module")
def glci() -> str:
    return required_tool()


# --- normalisation ---------------------------------------------------------------------------


def _ansi_c(body: str) -> str:
    """The text of a ``$'...'`` word's body (the escapes scripts use)."""
    escapes = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"', "r": "\r"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), "\\" + m.group(1)), body)


def _plain(word: str) -> str:
    """A word without its quotes (``$'...'`` decoded)."""
    if word.startswith("$'") and word.endswith("'") and len(word) > 2:
        return _ansi_c(word[2:-1])
    try:
        return fixoracle.unquote(word)
    except (ValueError, IndexError):
        return word


class Removal:
    """What the fix takes out (or, with ``to``, replaces by the address)."""

    def __init__(self, unsafe: bool, to: str | None) -> None:
        self.unsafe = unsafe
        self.to = to

    @staticmethod
    def flag_kind(word: str) -> tuple[str, str | None] | None:
        """(kind, attached value or None) of a stages-storage / synchronization flag word
        (unquoted)."""
        long = re.fullmatch(r"--(stages-storage|synchronization)(?:=(.*))?", word, re.DOTALL)
        if long:
            kind = "storage" if long.group(1) == "stages-storage" else "sync"
            return kind, long.group(2)
        short = re.fullmatch(r"-([sS])(?:=?(.+))?", word, re.DOTALL)
        if short:
            return ("storage" if short.group(1) == "s" else "sync"), short.group(2)
        return None

    def taken(self, kind: str, value: str, env: dict[str, str]) -> bool:
        """Whether a ``kind`` setting to ``value`` (variables expanded) is what fix removes."""
        plain = expand_vars(_plain(value), env).strip()
        return _plain(plain) == LOCAL and (kind == "storage" or self.unsafe)

    def words(self, words: list[str], env: dict[str, str], werf_only: bool = True) -> list[str]:
        """``words`` (raw, quotes kept) without the removed flags and assignments; nested
        scripts (``$(...)``, ``bash -c STRING``) normalised in place."""
        out: list[str] = []
        in_werf = not werf_only
        shell = False
        i = 0
        while i < len(words):
            word = words[i]
            plain = _plain(word)
            assignment = re.fullmatch(r"(WERF_STAGES_STORAGE|WERF_SYNCHRONIZATION)=(.*)", plain,
                                      re.DOTALL)
            if assignment:
                kind = "storage" if assignment.group(1) == STORAGE else "sync"
                if self.taken(kind, assignment.group(2), env):
                    if kind == "storage" and self.to:
                        out.append(f"{STORAGE}={self.to}")
                    i += 1
                    continue
            name = expand_vars(plain, env)
            if re.search(r"(?:^|/)werf$", name):
                in_werf = True
            if re.search(r"(?:^|/)(?:ba|z|da)?sh$", name):
                shell = True
            if shell and re.fullmatch(r"-[a-z]*c", plain) and i + 1 < len(words):
                inner = normal_script((_plain(words[i + 1]),), self, env)
                out.extend([word, "<sh " + _serial(inner) + ">"])
                i += 2
                continue
            flag = self.flag_kind(plain) if in_werf else None
            if flag is not None:
                kind, attached = flag
                value = attached if attached is not None else (
                    words[i + 1] if i + 1 < len(words) else "")
                if value and self.taken(kind, value, env):
                    if kind == "storage" and self.to:
                        out.extend(["--stages-storage", self.to])
                    i += 1 if attached is not None else 2
                    continue
            out.append(self._substitutions(word, env))
            i += 1
        return out

    def _substitutions(self, word: str, env: dict[str, str]) -> str:
        """``word`` with each ``$(...)`` inside it normalised as a script."""
        out = ""
        i = 0
        while True:
            start = word.find("$(", i)
            if start < 0:
                return out + word[i:]
            depth, j = 0, start + 1
            while j < len(word):
                depth += {"(": 1, ")": -1}.get(word[j], 0)
                if depth == 0:
                    break
                j += 1
            try:
                inner = _serial(normal_script((word[start + 2 : j],), self, env))
            except ValueError:
                inner = word[start + 2 : j]
            out += word[i:start] + "$(" + inner + ")"
            i = j + 1


Token = tuple[str, str]

#: commands that set nothing once their assignments are gone
EMPTY = (["export"], ["declare", "-x"], ["typeset", "-x"], ["readonly"], ["local"])


def _serial(tokens: list[Token]) -> str:
    return " ".join(raw if kind != "end" else "," for kind, raw in tokens)


def normal_script(lines: tuple[str, ...], removal: Removal,
                  env: dict[str, str] | None = None) -> list[Token]:
    """A job's expanded script as shell tokens, minus what the fix takes out. ``env``: the
    job's variables; assignments the script makes (``NAME=value`` alone, ``export``) are
    added as they come, to read command names and flag values."""
    env = dict(env or {})
    tokens = fixoracle.tokenize("\n".join(lines))
    items: list[Token] = []
    run: list[str] = []
    split = _split_on_werf(tokens, env)

    def flush() -> None:
        if run:
            words = removal.words(run, env)
            if all("=" in w for w in run) or run[0] == "export":
                words = [_split_value(w, split, removal, env) for w in words]
            for word in run:
                match = re.fullmatch(r"([A-Za-z_]\w*)=(.*)", _plain(word), re.DOTALL)
                if match and (all("=" in w for w in run) or run[0] == "export"):
                    env[match.group(1)] = expand_vars(match.group(2), env)
            if not words or words in EMPTY:
                words = ["true"]
            items.extend(("w", w) for w in words)
            items.append(("end", ""))
            run.clear()

    for kind, raw in tokens:
        if kind == "w":
            run.append(raw)
        else:
            if not run and raw in ("&&", "||", "|"):
                items.extend([("w", "true"), ("end", "")])  # an empty command before it
            flush()
            items.append(("op", ";" if raw == "\n" else raw))
    flush()
    return _simplified(items)


def _split_on_werf(tokens: list[Token], env: dict[str, str]) -> set[str]:
    """The names a werf command of the script expands unquoted (``werf build $ARGS``): the
    shell splits their values into werf's words."""
    names: set[str] = set()
    run: list[str] = []
    for kind, raw in [*tokens, ("op", ";")]:
        if kind == "w":
            run.append(raw)
            continue
        at = [i for i, w in enumerate(run)
              if re.search(r"(?:^|/)werf$", expand_vars(_plain(w), env))]
        if at:
            names.update(m.group(1) for w in run[at[0] + 1:]
                         if (m := re.fullmatch(r"\$\{?([A-Za-z_]\w*)\}?", w)))
        run = []
    return names


def _split_value(word: str, split: set[str], removal: Removal, env: dict[str, str]) -> str:
    """An assignment of a name werf's command line splits, as ``NAME=<its words>`` without the
    flags the fix takes out (the words werf is given, whatever the quoting); other words as
    they are."""
    match = re.fullmatch(r"([A-Za-z_]\w*)=(.*)", word, re.DOTALL)
    if match is None or match.group(1) not in split:
        return word
    words = _plain(match.group(2)).split()
    return f"{match.group(1)}=<{' '.join(removal.words(words, env, werf_only=False))}>"


def _simplified(items: list[Token]) -> list[Token]:
    """``true && b`` -> ``b`` and statements that are only ``true`` dropped, until stable;
    separators collapsed."""
    true_cmd: list[Token] = [("w", "true"), ("end", "")]
    changed = True
    while changed:
        changed = False
        out: list[Token] = []
        i = 0
        while i < len(items):
            head = not out or out[-1] in (("op", ";"), ("op", "("), ("op", "&"))
            if head and items[i:i + 2] == true_cmd:
                after = items[i + 2] if i + 2 < len(items) else ("op", ";")
                if after == ("op", "&&"):
                    i += 3
                    changed = True
                    continue
                if after in (("op", ";"), ("op", ")")):
                    i += 2
                    changed = True
                    continue
            if items[i] == ("op", ";") and (not out or out[-1] == ("op", ";")):
                i += 1
                continue
            out.append(items[i])
            i += 1
        while out and out[-1] == ("op", ";"):
            out.pop()
        items = out
    return items


SETTINGS = {STORAGE: "storage", SYNCHRONIZATION: "sync"}


def _normal_binding(binding: dict[str, str], removal: Removal) -> dict[str, str]:
    """A binding with the flags the fix takes out taken out of every value, and the stages
    storage / synchronization settings the fix takes marked ``<taken>``."""
    normal: dict[str, str] = {}
    for name, value in binding.items():
        if name in SETTINGS and removal.taken(SETTINGS[name], value, binding):
            normal[name] = "<taken>"
        elif LOCAL in value:
            try:
                words = [raw for kind, raw in fixoracle.tokenize(value) if kind == "w"]
            except ValueError:
                words = [value]
            normal[name] = " ".join(removal.words(words, binding, werf_only=False))
        else:
            normal[name] = value
    return normal


def binding_kept(before: dict[str, str], after: dict[str, str], removal: Removal) -> bool:
    """Whether ``after`` is ``before`` minus what the fix takes out: the same variables with
    the same values (flags taken out), except a stages storage or synchronization the fix
    took, which may be gone or show the value it shadowed (a job's own, a ``--to``
    address)."""
    old, new = _normal_binding(before, removal), _normal_binding(after, removal)
    for name in set(old) | set(new):
        if old.get(name) == "<taken>" and name in SETTINGS:
            continue
        if old.get(name) != new.get(name):
            return False
    return True


def bindings_kept(before: Job, after: Job, removal: Removal) -> bool:
    """Every binding of ``after`` is one of ``before`` minus what the fix takes out, and each
    of ``before`` has one in ``after`` (a ``rules:`` entry whose only variable went is the
    job's default binding again)."""
    return all(any(binding_kept(b, a, removal) for b in before.bindings)
               for a in after.bindings) and all(
        any(binding_kept(b, a, removal) for a in after.bindings) for b in before.bindings)


def normal_name(job: Job) -> tuple[str, str]:
    """(parent, name) with the ``:local`` values taken out of a matrix job's name: removing a
    ``parallel: matrix:`` entry's ``WERF_STAGES_STORAGE: ":local"`` renames its job."""
    match = re.fullmatch(r"(.*): \[(.*)\]", job.name)
    if not match:
        return job.parent, job.name
    values = [v for v in re.split(r",\s*", match.group(2)) if v.strip() != LOCAL]
    return job.parent, f"{match.group(1)}: [{','.join(values)}]" if values else match.group(1)


# --- running ---------------------------------------------------------------------------------


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _fix(repo: Path, args: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ciswitch", "fix", *args, str(repo)],
        capture_output=True, text=True, check=False, timeout=120,
    )
    assert proc.returncode in (0, 1), f"ciswitch fix exit {proc.returncode}: {proc.stderr}"


def _option(args: list[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


# --- the test --------------------------------------------------------------------------------


def test_cases_found() -> None:
    ids = [case_id for case_id, _, _ in _cases()]
    assert sum(i.startswith("rules/") for i in ids) >= 50
    assert sum(i.startswith("oracle/") for i in ids) >= 10
    for case_id in FIX_ORACLE_EXCEPTIONS:
        assert case_id in ids, case_id


@pytest.mark.parametrize(("root", "args"), _params())
def test_fix_agrees_with_gitlab_ci_local(root: Path, args: list[str], tmp_path: Path,
                                         glci: str) -> None:
    before = tmp_path / "before"
    shutil.copytree(root, before, symlinks=True)
    old = expand_pipeline(before, tmp_path / "oracle-before", glci)
    after = tmp_path / "after"
    shutil.copytree(root, after, symlinks=True)
    _fix(after, args)
    changed = [p for p, data in _tree(after).items() if _tree(before).get(p) != data]
    if not any(p.endswith((".yml", ".yaml")) for p in changed):
        assert root.parent.parent.name != "rules", f"fix changed no YAML file ({changed})"
        return  # an oracle case whose fix is only in scripts: the expansion cannot differ
    new = expand_pipeline(after, tmp_path / "oracle-after", glci)
    removal = Removal("--unsafe-fixes" in args, _option(args, "--to"))

    assert sorted(map(normal_name, old.jobs)) == sorted(map(normal_name, new.jobs)), (
        f"the jobs changed: {sorted(j.name for j in old.jobs)} became "
        f"{sorted(j.name for j in new.jobs)}"
    )
    jobs_after = {normal_name(j): j for j in new.jobs}
    for job in old.jobs:
        other = jobs_after[normal_name(job)]
        env_before, env_after = job.bindings[0], other.bindings[0]
        assert normal_script(other.script, removal, env_after) == normal_script(
            job.script, removal, env_before
        ), f"job {job.name}: script {job.script!r} became {other.script!r}"
        assert bindings_kept(job, other, removal), (
            f"job {job.name}: variables {job.bindings!r} became {other.bindings!r}"
        )


# --- the normalisation can fail (no gitlab-ci-local needed) ----------------------------------


SAFE = Removal(unsafe=False, to=None)


@pytest.mark.parametrize(("before", "after", "same"), [
    (("werf build -s :local --verbose",), ("werf build --verbose",), True),
    (("werf build --stages-storage=':local'",), ("werf build",), True),
    (("werf build -s:local", "echo x"), ("werf build", "echo x"), True),
    (("export WERF_STAGES_STORAGE=:local", "echo x"), ("echo x",), True),
    (("export WERF_STAGES_STORAGE=:local && echo x",), ("echo x",), True),
    (("export WERF_STAGES_STORAGE=:local || echo x",), ("true || echo x",), True),
    (("export WERF_STAGES_STORAGE=:local || echo x",), ("echo x",), False),
    (("false && \\\n  export WERF_STAGES_STORAGE=:local\necho second",),
     ("false && \\\necho second",), False),
    (("false && \\\n  export WERF_STAGES_STORAGE=:local\necho second",),
     ("false && true\necho second",), True),
    (("werf build -s :local --verbose",), ("werf build",), False),
    (("werf build --synchronization :local -s :local",), ("werf build",), False),
    (("helm upgrade -s :local x",), ("helm upgrade x",), False),
    (("WERF_STAGES_STORAGE=:local werf build",), ("werf build",), True),
])
def test_normal_script(before: tuple[str, ...], after: tuple[str, ...], same: bool) -> None:
    assert (normal_script(before, SAFE) == normal_script(after, SAFE)) is same


def test_normal_script_unsafe_and_to() -> None:
    unsafe = Removal(unsafe=True, to=None)
    assert normal_script(("werf build --synchronization :local -s :local",), unsafe) == (
        normal_script(("werf build",), unsafe))
    to = Removal(unsafe=False, to="registry.example.test/stages")
    assert normal_script(("werf build -s :local",), to) == normal_script(
        ("werf build --stages-storage registry.example.test/stages",), to)
    assert normal_script(("werf build -s :local",), to) != normal_script(("werf build",), to)


def test_normal_script_nested_and_through_variables() -> None:
    env = {"STORAGE": ":local", "WERF_BIN": "/usr/local/bin/werf"}
    for before, after in [
        ("werf build --stages-storage $STORAGE", "werf build"),
        ('"$WERF_BIN" build -s :local', '"$WERF_BIN" build'),
        ("MY=./bin/werf; $MY build -s :local", "MY=./bin/werf; $MY build"),
        ("export D=$(werf run -s :local app | tail -n1)", "export D=$(werf run app | tail -n1)"),
        ("bash -c 'werf build -s:local'", "bash -c 'werf build'"),
        ("bash -ec $'werf cleanup\\t-s :local'", "bash -ec $'werf cleanup'"),
        ('sudo -E bash -c "werf build \\"-s:local\\" --v"', 'sudo -E bash -c "werf build --v"'),
        ("declare -x WERF_STAGES_STORAGE=:local", ""),
        ('A="-s :local"; werf cleanup $A', 'A=""; werf cleanup $A'),
        ("export A='--env x -s :local'\nwerf deploy ${A}", 'export A="--env x"\nwerf deploy ${A}'),
    ]:
        assert normal_script((before,), SAFE, env) == normal_script((after,), SAFE, env), before
    for before, after in [
        ("bash -c 'werf build -s:local && echo x'", "bash -c 'werf build echo x'"),
        ("$DOCKER build -s :local .", "$DOCKER build ."),
        ("export D=$(werf run -s :local app)", "export D=$(werf run -s x app)"),
        # quoted, the value is one word and no flag; not expanded by werf, it is no flag either
        ('A="-s :local"; werf cleanup "$A"', 'A=""; werf cleanup "$A"'),
        ('A="-s :local"; echo $A', 'A=""; echo $A'),
        ('A="-s :local --env x"; werf cleanup $A', 'A="-s :local"; werf cleanup $A'),
    ]:
        assert normal_script((before,), SAFE, env) != normal_script((after,), SAFE, env), before


def test_bindings_kept() -> None:
    def job(*bindings: dict[str, str]) -> Job:
        return Job("build", (), bindings)

    before = job({STORAGE: ":local", "A": "x", "ARGS": "--stages-storage :local --verbose"})
    assert bindings_kept(before, job({"A": "x", "ARGS": "--verbose"}), SAFE)
    assert not bindings_kept(before, job({"ARGS": "--verbose"}), SAFE)
    assert not bindings_kept(before, job({"A": "x", "B": "y", "ARGS": "--verbose"}), SAFE)
    assert not bindings_kept(before, job({"A": "y", "ARGS": "--verbose"}), SAFE)
    # the value the removed :local shadowed shows through; one that was not :local stays
    shadowed = job({STORAGE: "${S}", "S": ":local"})
    assert bindings_kept(shadowed, job({STORAGE: "r/s", "S": ":local"}), SAFE)
    assert not bindings_kept(job({STORAGE: "r/s"}), job({}), SAFE)
    # a rules: entry whose only variable went is the default binding again
    assert bindings_kept(job({}, {STORAGE: ":local"}), job({}), SAFE)
    assert not bindings_kept(job({}, {STORAGE: ":local", "V": "1"}), job({}), SAFE)


def test_matrix_names() -> None:
    assert normal_name(Job("build: [frontend, :local]", (), ({},))) == ("", "build: [frontend]")
    assert normal_name(Job("build: [a,b]", (), ({},))) == ("", "build: [a,b]")
