"""The procedure's steps per project, kept in the fleet journal's file.

``fleet run`` journals the merge request half in its own table; the other steps of the
procedure (the merge request as GitLab has it, ``sync``, ``switch``, ``merge`` and the branch
fixes) are one row per project and step here, in the same SQLite file, so that every command
of the procedure resumes from the same place. A row is written before a step starts
(``running``) and again when it ends, committed each time: after a crash the last row of a
step says how far it got.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from ciswitch.errors import CiswitchError
from ciswitch.fleet.journal import connect
from ciswitch.redact import redact

#: step statuses
RUNNING = "running"
DONE = "done"
SKIPPED = "skipped"
FAILED = "failed"
#: ``switch`` ran (the block file is there) but the merge request is not merged yet
SWITCHED = "switched"
MERGED = "merged"

#: the steps whose rows carry the change's merge request (``branch:NAME`` rows carry the
#: merge requests of branch fixes, not this one)
MR_STEPS = ("merge-request", "switch")
#: the row ``fleet status --refresh`` writes each time it asked GitLab about a project
REFRESH_STEP = "mr-refresh"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS procedure_steps (
    key TEXT NOT NULL,
    step TEXT NOT NULL,
    status TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    mr_url TEXT,
    mr_iid INTEGER,
    mr_state TEXT,
    sha TEXT,
    started_at REAL NOT NULL,
    switched_at REAL,
    updated_at REAL NOT NULL,
    window REAL,
    PRIMARY KEY (key, step)
);
"""


@dataclass(frozen=True)
class StepRow:
    key: str
    step: str
    status: str
    detail: str
    name: str
    mr_url: str | None
    mr_iid: int | None
    mr_state: str | None
    sha: str | None
    started_at: float
    switched_at: float | None
    updated_at: float
    window: float | None


_COLUMNS = ("key, step, status, detail, name, mr_url, mr_iid, mr_state, sha, started_at, "
            "switched_at, updated_at, window")


@dataclass(frozen=True)
class MergeRequestFacts:
    """A project's merge request as last journaled: by ``fleet run`` (through the API),
    ``fleet switch`` (merged) or ``fleet status --refresh``."""

    iid: int
    state: str
    url: str | None
    #: when this state was written
    recorded_at: float
    #: when ``fleet status --refresh`` last asked GitLab about the project (None: never)
    refreshed_at: float | None
    #: seconds between ``switch-from-local`` and the merge, as ``fleet switch`` measured them
    window: float | None = None


def merge_request_facts(path: Path) -> dict[str, MergeRequestFacts]:
    """Every project's merge request as the journal has it, read without writing (a journal
    from before the step table has none)."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as err:
        raise CiswitchError(f"cannot open the fleet journal: {err}", str(path)) from err
    try:
        with closing(db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND "
                                "name = 'procedure_steps'")) as cur:
            if cur.fetchone() is None:
                return {}
        marks = ", ".join("?" * len(MR_STEPS))
        with closing(db.execute(
                f"SELECT {_COLUMNS} FROM procedure_steps WHERE (step IN ({marks}) AND "
                "mr_iid IS NOT NULL) OR step = ? ORDER BY updated_at",
                (*MR_STEPS, REFRESH_STEP))) as cur:
            rows = [StepRow(*values) for values in cur.fetchall()]
    except sqlite3.Error as err:
        raise CiswitchError(f"cannot read the fleet journal: {err}", str(path)) from err
    finally:
        db.close()
    refreshed = {row.key: row.updated_at for row in rows if row.step == REFRESH_STEP}
    windows = {row.key: row.window for row in rows if row.step == "switch" and row.window}
    found: dict[str, MergeRequestFacts] = {}
    for row in rows:  # oldest first: the newest state wins
        if row.step != REFRESH_STEP and row.mr_iid is not None:
            found[row.key] = MergeRequestFacts(row.mr_iid, row.mr_state or "unknown",
                                               row.mr_url, row.updated_at,
                                               refreshed.get(row.key), windows.get(row.key))
    return found


class Steps:
    """The step table of one journal file (its own connection; autocommit)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        # WAL with synchronous=NORMAL: a commit survives the process being killed (what
        # resuming needs), without an fsync per row
        self._db = connect(path, _SCHEMA, synchronous="NORMAL")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Steps:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                self._db.execute("COMMIT")
            except sqlite3.Error as err:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise CiswitchError(f"cannot write the fleet journal: {err}",
                                    str(self.path)) from err

    def put(self, key: str, step: str, status: str, detail: str = "", *, name: str = "",
            mr_url: str | None = None, mr_iid: int | None = None, mr_state: str | None = None,
            sha: str | None = None, switched_at: float | None = None,
            window: float | None = None) -> None:
        """Write the step's row; fields given as None keep what the row had."""
        now = time.time()
        with self._write() as db:
            db.execute(
                f"INSERT INTO procedure_steps ({_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(key, step) DO UPDATE SET status = excluded.status, "
                "detail = excluded.detail, "
                "name = CASE WHEN excluded.name = '' THEN name ELSE excluded.name END, "
                "mr_url = COALESCE(excluded.mr_url, mr_url), "
                "mr_iid = COALESCE(excluded.mr_iid, mr_iid), "
                "mr_state = COALESCE(excluded.mr_state, mr_state), "
                "sha = COALESCE(excluded.sha, sha), "
                "switched_at = COALESCE(excluded.switched_at, switched_at), "
                "window = COALESCE(excluded.window, window), updated_at = excluded.updated_at",
                (key, step, status, redact(detail), redact(name),
                 redact(mr_url) if mr_url else None, mr_iid, mr_state, sha, now, switched_at,
                 now, window),
            )

    def get(self, key: str, step: str) -> StepRow | None:
        found = self._select("WHERE key = ? AND step = ?", (key, step))
        return found[0] if found else None

    def of_step(self, step: str) -> dict[str, StepRow]:
        return {row.key: row for row in self._select("WHERE step = ?", (step,))}

    def _select(self, where: str, args: tuple[str, ...]) -> list[StepRow]:
        try:
            with self._lock, closing(self._db.execute(
                    f"SELECT {_COLUMNS} FROM procedure_steps {where} ORDER BY key", args)) as cur:
                return [StepRow(*values) for values in cur.fetchall()]
        except sqlite3.Error as err:
            raise CiswitchError(f"cannot read the fleet journal: {err}", str(self.path)) from err
