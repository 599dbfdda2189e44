"""Run ``ciswitch fix`` on a generated repository and classify the outcome with the oracle.

ciswitch is driven only through its command line: in-process with click's ``CliRunner`` (fast),
or as the installed ``ciswitch`` executable in a subprocess. The judging is done by
:mod:`fixoracle`, which shares no code with ciswitch.

Outcome classes (:data:`CLASSES`): ``nothing-to-fix`` (no ``:local``, files untouched),
``correct-fix`` (everything removed, meaning kept), ``left-with-reason`` (meaning kept, some
``:local`` left and reported: CSW004, needs ``--to``, unsafe), ``wrong-fix:<kind>`` (the oracle
found a difference), ``needs-second-run``, ``refused-internal-error``, ``refused-with-reason``,
``refused-by-proof`` (exit 1, but a place left only because fix's own proof rejected its fix),
``refused-unsettled`` (a place left only because its fix overlapped others that never settled),
``crash`` (a traceback), and ``oracle-vs-truth`` (the oracle's count disagrees with the
generator's record: a defect of the test tools themselves).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fixgen
import fixoracle

LOCAL_CODES = {"CSW001", "CSW002", "CSW003"}
GOOD = {"nothing-to-fix", "correct-fix", "left-with-reason"}


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str
    crashed: str = ""


def run_inprocess(args: list[str]) -> CliResult:
    from click.testing import CliRunner

    from ciswitch.cli import main

    result = CliRunner().invoke(main, args, catch_exceptions=True)
    crashed = ""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        crashed = f"{type(result.exception).__name__}: {result.exception}"
    return CliResult(result.exit_code, result.stdout, result.stderr, crashed)


def run_subprocess(args: list[str]) -> CliResult:
    exe = shutil.which("ciswitch")
    assert exe, "the ciswitch executable is not installed"
    result = subprocess.run([exe, *args], capture_output=True, text=True, check=False)
    crashed = "traceback" if "Traceback (most recent call last)" in result.stderr else ""
    return CliResult(result.returncode, result.stdout, result.stderr, crashed)


Runner = Callable[[list[str]], CliResult]


@dataclass
class Outcome:
    cls: str
    detail: str
    fix: CliResult | None = None
    #: why each place fix left was left, as its summary line says (one entry per place)
    reasons: list[str] = field(default_factory=list)


#: what fix's summary line says about the places it left: ``N left (2 why; 1 why).``
LEFT = re.compile(r"; (\d+) left \((.*)\)\.$", re.MULTILINE)


def left_reasons(output: str) -> list[str]:
    """The reason of every place left, from fix's summary line (one entry per place)."""
    match = LEFT.search(output)
    if match is None:
        return []
    reasons: list[str] = []
    for part in re.split(r"; (?=\d+ )", match.group(2)):
        count, _, reason = part.partition(" ")
        if count.isdigit():
            # a reason with a subject of its own is given as "N places: reason"
            reason = re.sub(r"^places?: ", "", reason)
            reasons.extend([reason] * int(count))
    return reasons


#: a reason's first word as the summary line puts it after a count above 1, and as it is alone
SINGULAR = {"need": "needs", "are": "is", "have": "has", "use": "uses", "take": "takes",
            "overlap": "overlaps", "were": "was", "keep": "keeps", "run": "runs",
            "carry": "carries"}


def reason_class(reason: str) -> str:
    """A reason without its job names, files, numbers and lists, in the singular: its class."""
    first, _, rest = reason.partition(" ")
    reason = f"{SINGULAR.get(first, first)} {rest}".strip()
    reason = re.sub(r"^unsafe fixes\b", "unsafe fix", reason)
    text = re.sub(r"\[[^\]]*\]|\([^()]*\.(?:yml|yaml|sh)\)", "", reason)
    text = re.sub(r"(?<!\ba )\b(jobs?) (?!that\b|with\b)[\w.:-]+(?:, [\w.:-]+)*", r"\1 J",
                  text)
    text = re.sub(r"\d+", "N", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text[:100]


#: reasons that are no real unsafety: a place left for one of them is a refusal
UNJUSTIFIED = ("overlaps another fix", "not settled within", "the fix would change more than")


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _left(report: Path) -> int:
    if not report.exists():
        return -1
    data = json.loads(report.read_text())
    return sum(1 for f in data["findings"] if f["code"] in LOCAL_CODES)


def classify(repo: fixgen.Repo, run: Runner = run_inprocess, max_runs: int = 2) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="fixoracle-") as tmp:
        return _classify(repo, Path(tmp), run, max_runs)


def _classify(repo: fixgen.Repo, tmp: Path, run: Runner, max_runs: int) -> Outcome:
    before, work = tmp / "before", tmp / "work"
    repo.write(before)
    shutil.copytree(before, work)
    truth_count = repo.truth.count()
    oracle_count = fixoracle.count_local(before)
    if oracle_count != truth_count:
        return Outcome(
            "oracle-vs-truth", f"oracle counts {oracle_count}, generator wrote {truth_count}"
        )
    flags = ["--unsafe-fixes"] if repo.unsafe else []
    report = tmp / "left.json"
    fix = run(["fix", *flags, "--format", "json", "-o", str(report), str(work)])
    if fix.crashed:
        return Outcome("crash", fix.crashed, fix)
    unchanged = _snapshot(before) == _snapshot(work)
    if fix.code == 2:
        first = (fix.stderr.strip().splitlines() or [""])[-1]
        if not unchanged:
            return Outcome("wrong-fix:refused-but-wrote", first, fix)
        if "internal error" in fix.stderr:
            return Outcome("refused-internal-error:" + _signature(first), first, fix)
        return Outcome("refused-with-reason", first, fix)
    if truth_count == 0:
        if not unchanged or fix.code != 0:
            return Outcome("wrong-fix:touched-clean-file", f"exit {fix.code}", fix)
        return Outcome("nothing-to-fix", "", fix)
    for name, data in _snapshot(work).items():
        old = (before / name).read_bytes()
        if old.startswith(b"\xef\xbb\xbf") != data.startswith(b"\xef\xbb\xbf"):
            return Outcome("wrong-fix:encoding", f"{name}: BOM changed", fix)
        if b"\r\n" in old and data.replace(b"\r\n", b"").count(b"\n"):
            return Outcome("wrong-fix:encoding", f"{name}: line endings mixed", fix)
    runnable = fixoracle.runnable_jobs(before)
    verdict = fixoracle.compare(before, work, repo.unsafe, runnable, max_runs=max_runs)
    if not verdict.ok:
        return Outcome("wrong-fix:" + verdict.kind, verdict.detail, fix)
    left = _left(report)
    after_count = fixoracle.count_local(work, references=True)
    if left < 0:
        return Outcome("crash", "fix wrote no report", fix)
    if after_count != left:
        return Outcome(
            "wrong-fix:left-count",
            f"{after_count} :local still in the files, fix reported {left} left",
            fix,
        )
    run(["lint", "--format", "json", "-o", str(tmp / "lint.json"), str(work)])
    linted = _left(tmp / "lint.json")
    if linted != left:
        return Outcome("lint-after-differs", f"lint reports {linted}, fix said {left} left", fix)
    again = tmp / "again"
    shutil.copytree(work, again)
    second = run(["fix", *flags, str(again)])
    if _snapshot(again) != _snapshot(work):
        return Outcome("needs-second-run", f"second fix exit {second.code}", fix)
    reasons = left_reasons(fix.stdout + fix.stderr)
    if PROOF_REFUSAL in fix.stdout + fix.stderr:
        # a place left because the proof rejected its fix: a defect of the fix recipe, even
        # though the user is told why
        return Outcome("refused-by-proof", _proof_detail(fix.stdout + fix.stderr), fix, reasons)
    unsettled = [r for r in reasons if reason_class(r).startswith(UNJUSTIFIED)]
    if unsettled:
        return Outcome("refused-unsettled", unsettled[0], fix, reasons)
    if left:
        return Outcome("left-with-reason", f"{left} left", fix, reasons)
    return Outcome("correct-fix", "", fix)


#: what fix says about a place whose fix its own proof rejected
PROOF_REFUSAL = "the fix would change more than the :local"


def _proof_detail(output: str) -> str:
    start = output.find(PROOF_REFUSAL)
    return output[start : output.find(")", start) + 1]


def _signature(message: str) -> str:
    """A short name for an internal error's message, without its line numbers and lists."""
    text = message.split("fix not applied:", 1)[-1]
    text = re.sub(r"\s+at line \d+|\[.*|'.*", "", text)
    words = re.findall(r"[a-z]+", text.lower())[:5]
    return "-".join(words) or "unnamed"


def minimise(
    plan: fixgen.Plan, cls: str, run: Runner = run_inprocess, budget: int = 150, seconds: float = 60
) -> fixgen.Plan:
    """Greedily shrink ``plan`` while its outcome stays ``cls``."""
    tries = 0
    start = time.monotonic()
    improved = True
    while improved and tries < budget and time.monotonic() - start < seconds:
        improved = False
        for candidate in fixgen.shrink_candidates(plan):
            if tries >= budget or time.monotonic() - start > seconds:
                break
            if fixgen.plan_size(candidate) >= fixgen.plan_size(plan):
                continue
            tries += 1
            try:
                outcome = classify(fixgen.render(candidate), run)
            except Exception:
                continue
            if outcome.cls == cls:
                plan = candidate
                improved = True
                break
    return plan


def save(root: Path, plan: fixgen.Plan, outcome: Outcome) -> None:
    repo = fixgen.render(plan)
    inp = root / "input"
    if inp.exists():
        shutil.rmtree(inp)
    repo.write(inp)
    (root / "plan.json").write_text(json.dumps(plan, indent=1, sort_keys=True) + "\n")
    notes = [
        f"class: {outcome.cls}",
        f"unsafe fixes: {repo.unsafe}",
        f"detail: {outcome.detail}",
    ]
    if outcome.fix is not None:
        notes.append(f"fix exit: {outcome.fix.code}")
        notes.extend("stderr: " + ln for ln in outcome.fix.stderr.strip().splitlines()[-3:])
    (root / "notes.txt").write_text("\n".join(notes) + "\n")


def summary(counts: dict[str, int]) -> list[str]:
    total = sum(counts.values())
    return [f"{name:56s} {n:6d}  {100 * n / total:5.1f}%" for name, n in sorted(counts.items())]


def plan_json(plan: Any) -> str:
    return json.dumps(plan, sort_keys=True)
