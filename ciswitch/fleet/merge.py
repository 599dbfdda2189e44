"""``ciswitch fleet merge-reports``: one table from the journals or JSON reports of shards.

Each shard of a fanned-out run keeps its own journal; the merged view keeps, per repository,
the newest row found in any input, so a shard retried later wins over its earlier attempt.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ciswitch.errors import CiswitchError
from ciswitch.fleet.journal import Row, open_existing

_SQLITE_MAGIC = b"SQLite format 3\x00"


def read_rows(path: Path) -> list[Row]:
    """The latest rows of one journal (SQLite) or one ``status --format json`` report."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
    except OSError as err:
        raise CiswitchError(f"cannot read report: {err.strerror}", str(path)) from err
    if head == _SQLITE_MAGIC:
        with open_existing(path) as journal:
            return list(journal.latest().values())
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [_from_record(r) for r in data["repositories"]]
    except (ValueError, KeyError, TypeError) as err:
        raise CiswitchError(
            "not a fleet journal or a `fleet status --format json` report", str(path)
        ) from err


def _from_record(r: dict[str, Any]) -> Row:
    return Row(
        run=int(r["run"]), key=str(r["key"]), url=str(r["url"]), name=str(r["name"]),
        status=str(r["status"]), detail=str(r.get("detail") or ""), mr_url=r.get("mr_url"),
        fixed=int(r["fixed"]), left=int(r["left"]), branch=r.get("branch"),
        commit_sha=r.get("commit"), dry_run=bool(r.get("dry_run")),
        started_at=float(r.get("started_at", r["updated_at"])),
        updated_at=float(r["updated_at"]),
    )


def merge(paths: Sequence[Path]) -> list[Row]:
    """The newest row per repository over all inputs."""
    newest: dict[str, Row] = {}
    for path in paths:
        for row in read_rows(path):
            seen = newest.get(row.key)
            if seen is None or row.updated_at >= seen.updated_at:
                newest[row.key] = row
    return list(newest.values())
