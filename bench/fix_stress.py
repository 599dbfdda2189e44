"""Stress ``ciswitch fix`` with random valid CI repositories judged by an independent oracle.

Each example is a repository drawn by ``tests/fixgen.py`` (hypothesis); ``ciswitch fix`` runs on
it in-process through its command line, and ``tests/fixoracle.py`` (PyYAML, a shell tokenizer,
bash, the werf stand-in; no ciswitch code) judges the result. The counts per outcome class are
printed; for each failing class a few reproducers, shrunk, are written under
``--save-failures DIR/<class>/<n>/`` (``input/``, ``plan.json``, ``notes.txt``).

Usage: ``python bench/fix_stress.py [--examples 2000] [--seed 0] [--save-failures DIR]
[--per-class 3] [--subprocess 5]``
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import fixdrive
import fixgen
from hypothesis import HealthCheck, Phase, given, seed, settings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-failures", type=Path, default=None)
    parser.add_argument("--per-class", type=int, default=3, help="reproducers kept per class")
    parser.add_argument(
        "--subprocess", type=int, default=5, help="examples also run through the installed CLI"
    )
    parser.add_argument(
        "--shrink-seconds", type=float, default=30, help="time spent shrinking each reproducer"
    )
    args = parser.parse_args()

    counts: Counter[str] = Counter()
    #: refusals (files) by the class of their reason; places left by the class of theirs
    refusal_reasons: Counter[str] = Counter()
    left_reasons: Counter[str] = Counter()
    failures: dict[str, list[fixgen.Plan]] = {}
    features: Counter[str] = Counter()
    fixable = 0
    mismatched_runs: list[str] = []
    checked = 0

    @seed(args.seed)
    @settings(
        max_examples=args.examples,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(fixgen.plans())
    def one(plan: fixgen.Plan) -> None:
        nonlocal fixable, checked
        repo = fixgen.render(plan)
        try:
            outcome = fixdrive.classify(repo)
        except Exception as error:
            outcome = fixdrive.Outcome("test-tool-error", f"{type(error).__name__}: {error}")
        counts[outcome.cls] += 1
        if outcome.cls.startswith("refused"):
            refusal_reasons[f"{outcome.cls}: {fixdrive.reason_class(outcome.detail)}"] += 1
        left_reasons.update(fixdrive.reason_class(r) for r in outcome.reasons)
        features.update(repo.truth.features)
        if repo.truth.count():
            fixable += 1
        if outcome.cls not in fixdrive.GOOD:
            failures.setdefault(outcome.cls, []).append(plan)
        if checked < args.subprocess:
            checked += 1
            other = fixdrive.classify(repo, fixdrive.run_subprocess)
            if other.cls != outcome.cls:
                mismatched_runs.append(f"{outcome.cls} in-process, {other.cls} as a process")

    start = time.monotonic()
    one()
    elapsed = time.monotonic() - start
    total = sum(counts.values())
    print(
        f"examples: {total}  seed: {args.seed}  time: {elapsed:.1f} s "
        f"({1000 * elapsed / max(total, 1):.0f} ms each)"
    )
    print(f"files with :local: {fixable}")
    for line in fixdrive.summary(dict(counts)):
        print("  " + line)
    groups: Counter[str] = Counter()
    for cls, n in counts.items():
        groups[cls.split(":")[0]] += n
    print("per class group:")
    for line in fixdrive.summary(dict(groups)):
        print("  " + line)
    refusals = sum(n for cls, n in counts.items() if cls.startswith("refused"))
    # A fixable file is one with a :local (the generator's record); a refusal is a file that
    # fix refused (exit 2) or where it left a place for no real unsafety (its own proof
    # rejected its recipe, or overlapping fixes never settled).
    print(
        f"refusals: {refusals} of {fixable} fixable files (files with :local) "
        f"= {100 * refusals / max(fixable, 1):.2f}% (target <= 1%)"
    )
    for reason, n in sorted(refusal_reasons.items(), key=lambda item: (-item[1], item[0])):
        print(f"  {n:6d}  {reason}")
    print(f"places left, by the class of their reason ({sum(left_reasons.values())} places):")
    for reason, n in sorted(left_reasons.items(), key=lambda item: (-item[1], item[0])):
        mark = "  (no real unsafety)" if reason.startswith(fixdrive.UNJUSTIFIED) else ""
        print(f"  {n:6d}  {reason}{mark}")
    print(
        f"in-process vs installed CLI: {args.subprocess} compared, "
        f"{len(mismatched_runs)} differ {mismatched_runs}"
    )
    print("generator coverage (examples containing each feature):")
    for name, n in sorted(features.items()):
        print(f"  {name:40s} {n:6d}")

    if args.save_failures is not None:
        for cls, plans in sorted(failures.items()):
            plans.sort(key=fixgen.plan_size)
            for number, plan in enumerate(plans[: args.per_class]):
                small = fixdrive.minimise(plan, cls, seconds=args.shrink_seconds)
                outcome = fixdrive.classify(fixgen.render(small))
                folder = args.save_failures / cls.replace(":", "-") / str(number)
                fixdrive.save(folder, small, outcome)
                print(f"saved {folder} ({fixgen.plan_size(plan)} -> {fixgen.plan_size(small)})")
    bad = sum(n for cls, n in counts.items() if cls not in fixdrive.GOOD)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
