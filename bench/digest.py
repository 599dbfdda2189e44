"""Digest of what ciswitch prints over every fixture repository and the shared corpus.

A refactoring that promises "no behaviour change" is held to it by this script: run it before
and after, and the digests must be identical. Each input is copied to a fixed temporary
directory (so the paths printed are the same from run to run), then the installed CLI runs as a
subprocess: ``ciswitch lint --format json .`` and ``ciswitch fix --diff .``. Exit code, stdout
and stderr of both go into the digest.

    python bench/digest.py                 # one line per input and a total digest
    python bench/digest.py --save FILE     # also write the per-input lines to FILE
    python bench/digest.py --compare FILE  # exit 1 and name every input that differs
    python bench/digest.py --workdir DIR   # copy the inputs there (default: a fixed temp dir)
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
CORPUS = ROOT.parent / "shared" / "corpus"
COMMANDS = (["lint", "--format", "json", "."], ["fix", "--diff", "."])


def _inputs() -> list[tuple[str, Path, str | None]]:
    """(name, source, as): a fixture's input folder, or a corpus file and the name it takes."""
    found: list[tuple[str, Path, str | None]] = []
    for folder in sorted(FIXTURES.rglob("input")):
        if folder.is_dir():
            found.append((folder.parent.relative_to(FIXTURES).as_posix(), folder, None))
    if CORPUS.is_dir():
        with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                name = row["file"]
                target = ".gitlab-ci.yml" if name.endswith((".yml", ".yaml")) else Path(name).name
                found.append((f"corpus/{name}", CORPUS / name, target))
    return found


def _digest_one(base: Path, index: int, name: str, source: Path, target: str | None) -> str:
    work = base / f"case{index:04d}"
    hasher = hashlib.sha256()
    for command in COMMANDS:
        if work.exists():
            shutil.rmtree(work)
        if target is None:
            shutil.copytree(source, work, symlinks=True)
            args = command
        else:
            work.mkdir(parents=True)
            shutil.copyfile(source, work / target)
            args = command if target == ".gitlab-ci.yml" else [*command[:-1], target]
        done = subprocess.run(
            ["ciswitch", *args], cwd=work, capture_output=True, check=False
        )
        hasher.update(f"{args}\0{done.returncode}\0".encode())
        hasher.update(done.stdout + b"\0" + done.stderr + b"\0")
    return f"{hasher.hexdigest()[:16]} {name}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", type=Path)
    parser.add_argument("--compare", type=Path)
    parser.add_argument(
        "--workdir",
        type=Path,
        # one per checkout: two checkouts digesting at once must not empty each other's
        # (what is printed names no path above the input's own)
        default=Path(tempfile.gettempdir())
        / f"ciswitch-digest-{hashlib.sha256(str(ROOT).encode()).hexdigest()[:10]}",
        help="where the inputs are copied (emptied first; default: one per checkout)",
    )
    options = parser.parse_args()
    base = options.workdir
    if base.exists():
        shutil.rmtree(base)
    base.mkdir()
    inputs = _inputs()
    with ThreadPoolExecutor(max_workers=2) as pool:
        lines = list(
            pool.map(
                lambda item: _digest_one(base, item[0], *item[1]), enumerate(inputs)
            )
        )
    total = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    print("\n".join(lines))
    print(f"total {total} over {len(lines)} inputs")
    if options.save:
        options.save.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if options.compare:
        before = options.compare.read_text(encoding="utf-8").splitlines()
        changed = sorted(set(before) ^ set(lines))
        for line in changed:
            print(f"differs: {line}", file=sys.stderr)
        return 1 if changed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
