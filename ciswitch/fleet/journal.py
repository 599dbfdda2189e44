"""The fleet journal: one SQLite row per repository and run, committed at every transition.

A run over hundreds of repositories takes long enough to be interrupted (a cancelled CI job, a
laptop lid, ``kill -9``). The journal is what makes running the same command again safe: a
repository whose branch was pushed is never pushed again, an interrupted one (still
``pending``) is redone, and a failed one waits for ``--retry-failed``. Only the standard
library's :mod:`sqlite3` is used, in WAL mode so that ``fleet status`` can read while a run
writes. Nothing secret is stored: URLs and errors are redacted before they get here.

Only what happened on the remote counts as done: a ``--no-push`` run records ``prepared`` (the
branch is committed in the clone, a later run pushes it), a ``--dry-run`` records ``dry-run``,
and neither keeps a later real run from doing the work. One run at a time works on a journal
(:func:`run_lock`): a second one stops at once, naming the process that holds it.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from ciswitch.errors import CiswitchError
from ciswitch.redact import redact

DEFAULT_STATE = "ciswitch-fleet.sqlite"


class Status(StrEnum):
    """Where one repository stands in one run."""

    PENDING = "pending"
    CLEAN = "clean"
    PUSHED = "pushed"
    MR_OPENED = "mr-opened"
    #: the branch reached the remote but carries only part of the change (places are left for
    #: a manual change)
    PARTIAL = "partial"
    #: committed in the clone, not pushed (``--no-push``): a later run pushes it
    PREPARED = "prepared"
    #: what a ``--dry-run`` would have done; nothing was committed or pushed
    DRY_RUN = "dry-run"
    SKIPPED = "skipped"
    FAILED = "failed"


#: statuses that mean the branch reached the remote: never pushed a second time
PUSHED = frozenset({Status.PUSHED, Status.MR_OPENED, Status.PARTIAL})
#: statuses of work that is not finished: a later real run does it
UNFINISHED = frozenset({Status.PENDING, Status.PREPARED, Status.DRY_RUN})


@dataclass(frozen=True)
class RepoOutcome:
    """What happened to one repository (a worker thread returns it to the journal's writer)."""

    key: str
    status: Status
    detail: str = ""
    mr_url: str | None = None
    fixed: int = 0
    left: int = 0
    branch: str | None = None
    commit: str | None = None
    #: output shown for the repository (the diff of a dry run), already redacted
    output: str = ""
    #: the merge request as GitLab's API answered (``fleet run`` with a token)
    mr_iid: int | None = None
    mr_state: str | None = None


@dataclass(frozen=True)
class Row:
    """One journal row as read back (for status tables and merged reports)."""

    run: int
    key: str
    url: str
    name: str
    status: str
    detail: str
    mr_url: str | None
    fixed: int
    left: int
    branch: str | None
    commit_sha: str | None
    dry_run: bool
    started_at: float
    updated_at: float


_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at REAL NOT NULL,
    finished_at REAL,
    dry_run INTEGER NOT NULL DEFAULT 0,
    shard TEXT,
    command TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS repos (
    run INTEGER NOT NULL REFERENCES runs(id),
    key TEXT NOT NULL,
    url TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    mr_url TEXT,
    fixed INTEGER NOT NULL DEFAULT 0,
    left_over INTEGER NOT NULL DEFAULT 0,
    branch TEXT,
    commit_sha TEXT,
    started_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (run, key)
);
CREATE INDEX IF NOT EXISTS repos_key ON repos(key);
"""


def connect(path: Path, schema: str, synchronous: str | None = None) -> sqlite3.Connection:
    """An autocommit connection to the journal file at ``path`` (made when missing, in WAL
    mode so readers never wait for the run), with ``schema`` created; one line on failure."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), isolation_level=None, timeout=30, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        if synchronous is not None:
            db.execute(f"PRAGMA synchronous={synchronous}")
        db.executescript(schema)
    except (sqlite3.Error, OSError) as err:
        raise CiswitchError(f"cannot open the fleet journal: {err}", str(path)) from err
    return db


class Journal:
    """An open journal file. Each method commits before returning (autocommit mode)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = connect(path, _SCHEMA, synchronous="NORMAL")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            yield self._db
            self._db.execute("COMMIT")
        except sqlite3.Error as err:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise CiswitchError(f"cannot write the fleet journal: {err}", str(self.path)) from err

    # ------------------------------------------------------------------ runs

    def start_run(self, *, dry_run: bool, shard: str | None, command: str) -> int:
        with self._write() as db:
            cur = db.execute(
                "INSERT INTO runs (started_at, dry_run, shard, command) VALUES (?, ?, ?, ?)",
                (time.time(), int(dry_run), shard, redact(command)),
            )
            run = cur.lastrowid
        assert run is not None
        return run

    def finish_run(self, run: int) -> None:
        with self._write() as db:
            db.execute("UPDATE runs SET finished_at = ? WHERE id = ?", (time.time(), run))

    # ------------------------------------------------------------------ repositories

    def mark_pending(self, run: int, key: str, url: str, name: str) -> None:
        now = time.time()
        with self._write() as db:
            db.execute(
                "INSERT INTO repos (run, key, url, name, status, started_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(run, key) DO UPDATE SET "
                "status = excluded.status, updated_at = excluded.updated_at",
                (run, key, redact(url), redact(name), Status.PENDING.value, now, now),
            )

    def record(self, run: int, outcome: RepoOutcome) -> None:
        with self._write() as db:
            cur = db.execute(
                "UPDATE repos SET status = ?, detail = ?, mr_url = ?, fixed = ?, left_over = ?, "
                "branch = ?, commit_sha = ?, updated_at = ? WHERE run = ? AND key = ?",
                (
                    outcome.status.value, redact(outcome.detail),
                    redact(outcome.mr_url) if outcome.mr_url else None,
                    outcome.fixed, outcome.left, outcome.branch, outcome.commit, time.time(),
                    run, outcome.key,
                ),
            )
            if cur.rowcount != 1:
                raise CiswitchError(
                    f"journal has no pending row for {redact(outcome.key)} in run {run}",
                    str(self.path),
                )

    def latest_real(self) -> dict[str, Row]:
        """The newest row of every repository from runs that were not dry runs."""
        return self._latest(real_only=True)

    def pushed_keys(self) -> set[str]:
        """Repositories whose branch any real run pushed: never pushed a second time."""
        sql = (
            "SELECT DISTINCT repos.key FROM repos JOIN runs ON runs.id = repos.run "
            f"WHERE runs.dry_run = 0 AND repos.status IN ({', '.join('?' * len(PUSHED))})"
        )
        try:
            with closing(self._db.execute(sql, tuple(s.value for s in PUSHED))) as cur:
                return {str(values[0]) for values in cur.fetchall()}
        except sqlite3.Error as err:
            raise CiswitchError(f"cannot read the fleet journal: {err}", str(self.path)) from err

    def latest(self) -> dict[str, Row]:
        """The newest row of every repository (dry runs included): the status table."""
        return self._latest(real_only=False)

    def _latest(self, *, real_only: bool) -> dict[str, Row]:
        where = "WHERE runs.dry_run = 0" if real_only else ""
        rows = self._rows(
            f"SELECT {_COLUMNS} FROM repos JOIN runs ON runs.id = repos.run {where} "
            "ORDER BY repos.run, repos.updated_at"
        )
        return {row.key: row for row in rows}

    def rows(self) -> list[Row]:
        """Every row of every run, oldest first."""
        return self._rows(
            f"SELECT {_COLUMNS} FROM repos JOIN runs ON runs.id = repos.run "
            "ORDER BY repos.run, repos.started_at"
        )

    def _rows(self, sql: str) -> list[Row]:
        try:
            with closing(self._db.execute(sql)) as cur:
                return [_row(values) for values in cur.fetchall()]
        except sqlite3.Error as err:
            raise CiswitchError(f"cannot read the fleet journal: {err}", str(self.path)) from err


_COLUMNS = (
    "repos.run, repos.key, repos.url, repos.name, repos.status, repos.detail, repos.mr_url, "
    "repos.fixed, repos.left_over, repos.branch, repos.commit_sha, runs.dry_run, "
    "repos.started_at, repos.updated_at"
)


def _row(values: tuple[object, ...]) -> Row:
    (run, key, url, name, status, detail, mr_url, fixed, left, branch, commit,
     dry_run, started, updated) = values
    return Row(
        run=int(str(run)), key=str(key), url=str(url), name=str(name), status=str(status),
        detail=str(detail or ""), mr_url=None if mr_url is None else str(mr_url),
        fixed=int(str(fixed)), left=int(str(left)),
        branch=None if branch is None else str(branch),
        commit_sha=None if commit is None else str(commit), dry_run=bool(dry_run),
        started_at=float(str(started)), updated_at=float(str(updated)),
    )


def lock_path(path: Path) -> Path:
    """The lock file next to a journal."""
    return path.with_name(path.name + ".lock")


@contextmanager
def run_lock(path: Path) -> Iterator[None]:
    """Hold the journal's run lock for a ``fleet run``; a second run fails at once.

    An advisory ``flock`` on ``<journal>.lock``, which the kernel drops when the holder dies
    (even by SIGKILL), so a killed run never leaves a stale lock behind. The file holds the
    holder's pid, which the refusal names. The descriptor is not inherited by git (it is
    opened close-on-exec).
    """
    import fcntl

    lock = lock_path(path)
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as err:
        raise CiswitchError(f"cannot open the fleet journal lock: {err.strerror}",
                            str(lock)) from err
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CiswitchError(
                f"another fleet run (pid {_holder(lock)}) is working on this journal: wait "
                "for it to end, or give this run its own --state", str(path),
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)


def _holder(lock: Path) -> str:
    """The pid written by the lock's holder (it writes it right after taking the lock)."""
    deadline = time.monotonic() + 1.0
    while True:
        try:
            text = lock.read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            text = ""
        if text.isdigit() or time.monotonic() > deadline:
            return text or "unknown"
        time.sleep(0.02)


def open_existing(path: Path) -> Journal:
    """A journal that must already exist (``status``, ``merge-reports``)."""
    if not path.is_file():
        raise CiswitchError("no fleet journal here (run `ciswitch fleet run` first)", str(path))
    return Journal(path)
