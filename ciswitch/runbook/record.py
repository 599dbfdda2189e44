"""What ``plan --run`` did in this clone: one JSON line per runner step that succeeded.

The runner-side steps leave little trace that ``status`` can read back: ``switch-from-local``
writes the block file, but ``stages sync`` back to ``:local`` writes nothing ciswitch can see,
and removing the block file looks exactly like a switch that never ran on this host. So each
step that ran to the end through ``ciswitch plan --run`` is appended to
``<git dir>/ciswitch/runbook.jsonl`` of the clone it ran in (per host, since clones are), and
``status`` follows the rollback from it. Outside a git repository nothing is recorded.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

RECORD_FILE = Path("ciswitch") / "runbook.jsonl"


@dataclass(frozen=True)
class StepRecord:
    """One runner step that ran to the end here."""

    step: str
    at: str
    block_file: str | None = None

    def timestamp(self) -> float | None:
        """``at`` in seconds since the epoch (None when it cannot be read)."""
        try:
            return datetime.fromisoformat(self.at).timestamp()
        except ValueError:
            return None


def record_path(root: Path) -> Path | None:
    """The record file of the clone at ``root`` (None outside a git repository)."""
    from ciswitch.gitops import git_text

    try:
        done = git_text(["-C", str(root), "rev-parse", "--path-format=absolute",
                         "--git-common-dir"])
    except OSError:
        return None
    out = done.stdout.strip()
    if done.returncode != 0 or not out:
        return None
    return Path(out) / RECORD_FILE


def record_step(root: Path, step: str, block_file: Path | None) -> str | None:
    """Append ``step`` to the record; returns why it could not be written, else None."""
    path = record_path(root)
    if path is None:
        return None
    line = json.dumps({"step": step, "at": datetime.now(UTC).isoformat(timespec="seconds"),
                       "block_file": str(block_file) if block_file else None})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
        finally:
            os.close(fd)
    except OSError as err:
        return f"cannot record the step in {path}: {err.strerror or err}"
    return None


def read_steps(root: Path) -> list[StepRecord]:
    """Every recorded step, oldest first; unreadable lines are skipped."""
    path = record_path(root)
    if path is None:
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    found: list[StepRecord] = []
    for line in text.splitlines():
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get("step"), str):
            found.append(StepRecord(data["step"], str(data.get("at") or ""),
                                    data.get("block_file")))
    return found

