"""Showing the fleet: live progress while a run works, tables of the journal afterwards.

On a terminal a rich progress bar carries live counts per status; anywhere else (CI logs) each
repository gets one plain line as it finishes, which stays readable when the log is cut or
interleaved. Tables come as aligned text, JSON, CSV or Markdown (for a merge request or a wiki
page). Everything printed passes through :func:`ciswitch.redact.redact`.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

from ciswitch.fleet.journal import RepoOutcome, Row, Status
from ciswitch.fleet.sources import RepoSpec
from ciswitch.redact import redact

if TYPE_CHECKING:
    from ciswitch.fleet.steps import MergeRequestFacts

FORMATS = ("text", "json", "csv", "markdown")
ORDER = [s.value for s in Status]
_FIELDS = ["name", "url", "status", "fixed", "left", "mr", "mr_state", "mr_url",
           "mr_refreshed", "switch_window", "detail", "run", "dry_run", "updated"]


def _record(row: Row, mr: MergeRequestFacts | None = None) -> dict[str, Any]:
    url = mr.url if mr is not None and mr.url else row.mr_url
    return {
        "name": redact(row.name), "url": redact(row.url), "key": redact(row.key),
        "status": row.status, "fixed": row.fixed, "left": row.left,
        "mr": f"!{mr.iid}" if mr is not None else None,
        "mr_iid": mr.iid if mr is not None else None,
        "mr_state": mr.state if mr is not None else None,
        "mr_url": redact(url) if url else None,
        "mr_recorded": _iso(mr.recorded_at) if mr is not None else None,
        "mr_refreshed": (_iso(mr.refreshed_at) if mr is not None and mr.refreshed_at
                         else None),
        #: seconds between switch-from-local and the merge (fleet switch)
        "switch_window": (round(mr.window, 1) if mr is not None and mr.window is not None
                          else None),
        "detail": redact(row.detail), "run": row.run, "dry_run": row.dry_run,
        "branch": row.branch, "commit": row.commit_sha,
        "started": _iso(row.started_at), "updated": _iso(row.updated_at),
        "started_at": row.started_at, "updated_at": row.updated_at,
    }


def _iso(stamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


def counts(statuses: Iterable[str]) -> dict[str, int]:
    """Counts per status, in the order of :class:`Status`, zeros left out."""
    found = Counter(statuses)
    return {status: found[status] for status in ORDER if found[status]}


def summary_line(statuses: Iterable[str]) -> str:
    found = counts(statuses)
    return ", ".join(f"{n} {s}" for s, n in found.items()) or "nothing to do"


def refreshed_line(mrs: Mapping[str, MergeRequestFacts]) -> str:
    """When GitLab was last asked about the merge requests shown (empty without any)."""
    if not mrs:
        return ""
    stamps = [m.refreshed_at for m in mrs.values() if m.refreshed_at is not None]
    if not stamps:
        return ("merge requests as journaled when opened or merged; never refreshed "
                "(fleet status --refresh asks GitLab)")
    oldest, newest = min(stamps), max(stamps)
    when = _iso(newest) if newest - oldest < 60 else f"between {_iso(oldest)} and {_iso(newest)}"
    never = len(mrs) - len(stamps)
    also = f"; {never} never refreshed" if never else ""
    return f"merge requests as GitLab last said, refreshed {when}{also}"


def render(rows: Sequence[Row], fmt: str,
           mrs: Mapping[str, MergeRequestFacts] | None = None) -> str:
    """The journal's rows as a table in ``fmt`` (one of :data:`FORMATS`); ``mrs``: each
    project's merge request as the step table journaled it."""
    mrs = mrs or {}
    rows = sorted(rows, key=lambda r: (ORDER.index(r.status) if r.status in ORDER else 99,
                                       r.name, r.key))
    shown = {r.key: mrs[r.key] for r in rows if r.key in mrs}
    records = [_record(r, mrs.get(r.key)) for r in rows]
    if fmt == "json":
        payload: dict[str, Any] = {"summary": counts(r.status for r in rows),
                                   "repositories": records}
        if shown:
            payload["merge_requests"] = refreshed_line(shown)
        return json.dumps(payload, indent=2) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=_FIELDS, extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        return out.getvalue()
    if fmt == "markdown":
        return _markdown(records, rows, refreshed_line(shown))
    return _text(records, rows, refreshed_line(shown))


def _result(record: dict[str, Any]) -> str:
    text = record["mr_url"] or record["detail"]
    return f"{text} (dry run)" if record["dry_run"] and "dry run" not in text else str(text)


def _mr(record: dict[str, Any]) -> str:
    return f"{record['mr']} {record['mr_state']}" if record["mr"] else ""


def _text(records: list[dict[str, Any]], rows: Sequence[Row], refreshed: str) -> str:
    header: tuple[str, ...] = ("REPOSITORY", "STATUS", "FIXED", "LEFT", "RESULT")
    table = [header] + [
        (r["url"], r["status"], str(r["fixed"]), str(r["left"]), _result(r)) for r in records
    ]
    if refreshed:  # the merge request column, before the result
        header = ("REPOSITORY", "STATUS", "FIXED", "LEFT", "MR", "RESULT")
        table = [header] + [(*line[:4], _mr(r), line[4])
                            for line, r in zip(table[1:], records, strict=True)]
    last = len(header) - 1
    widths = [max(len(line[i]) for line in table) for i in range(last)]
    lines = [
        "  ".join(cell.ljust(widths[i]) if i < last else cell for i, cell in enumerate(line))
        .rstrip()
        for line in table
    ]
    lines.append("")
    lines.append(f"{len(rows)} repositories: {summary_line(r.status for r in rows)}")
    if refreshed:
        lines.append(refreshed)
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(records: list[dict[str, Any]], rows: Sequence[Row], refreshed: str) -> str:
    mr_head, mr_rule = (" MR |", " --- |") if refreshed else ("", "")
    lines = [
        f"| Repository | Status | Fixed | Left |{mr_head} Result |",
        f"| --- | --- | ---: | ---: |{mr_rule} --- |",
    ]
    for r in records:
        mr = f" {_cell(_mr(r))} |" if refreshed else ""
        lines.append(
            f"| {_cell(r['url'])} | {r['status']} | {r['fixed']} | {r['left']} |{mr} "
            f"{_cell(_result(r))} |"
        )
    lines.append("")
    lines.append(f"**{len(rows)} repositories:** {summary_line(r.status for r in rows)}")
    if refreshed:
        lines.append("")
        lines.append(f"_{refreshed}_")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- progress


class PlainProgress:
    """One line per repository on ``stream``: ``[  3/40] pushed     group/project  detail``."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.total = 0
        self.finished = 0
        self.statuses: list[str] = []

    def start(self, total: int) -> None:
        self.total = total

    def begin(self, spec: RepoSpec) -> None:
        pass

    def note(self, spec: RepoSpec, text: str) -> None:
        self._write(f"[ earlier ] {'unchanged':<10} {spec.display}  {text}")

    def done(self, spec: RepoSpec, outcome: RepoOutcome) -> None:
        self.finished += 1
        self.statuses.append(outcome.status.value)
        width = len(str(self.total))
        if outcome.output:
            self._write(outcome.output.rstrip("\n"))
        result = outcome.mr_url or outcome.detail
        self._write(
            f"[{self.finished:>{width}}/{self.total}] {outcome.status.value:<10} "
            f"{spec.display}  {result}"
        )

    def pause(self, seconds: float, batch: int, batches: int) -> None:
        self._write(f"pausing {_seconds(seconds)} before batch {batch}/{batches}")

    def interrupted(self) -> None:
        self._write(f"interrupted after {self.finished}/{self.total}: "
                    f"{summary_line(self.statuses)}")

    def finish(self) -> None:
        self._write(f"done: {summary_line(self.statuses)}")

    def _write(self, text: str) -> None:
        self.stream.write(redact(text) + "\n")
        self.stream.flush()


class RichProgress(PlainProgress):
    """A progress bar with live counts per status, for a terminal."""

    def __init__(self, stream: IO[str], color: bool = True) -> None:
        super().__init__(stream)
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = Console(file=stream, color_system="auto" if color else None)
        self.bar = Progress(
            TextColumn("[bold]fleet"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.description}"), console=self.console, transient=False,
        )
        self.task = self.bar.add_task("", total=0)

    def start(self, total: int) -> None:
        super().start(total)
        self.bar.update(self.task, total=total)
        self.bar.start()

    def note(self, spec: RepoSpec, text: str) -> None:
        self.bar.console.print(redact(f"{spec.display}: {text}"), markup=False, highlight=False)

    def done(self, spec: RepoSpec, outcome: RepoOutcome) -> None:
        self.finished += 1
        self.statuses.append(outcome.status.value)
        if outcome.output:
            self.bar.console.print(redact(outcome.output.rstrip("\n")), markup=False,
                                   highlight=False)
        if outcome.status in (Status.FAILED, Status.SKIPPED, Status.PARTIAL, Status.PREPARED):
            self.bar.console.print(
                redact(f"{outcome.status.value}: {spec.display}: {outcome.detail}"),
                markup=False, highlight=False,
            )
        self.bar.update(self.task, advance=1, description=summary_line(self.statuses))

    def pause(self, seconds: float, batch: int, batches: int) -> None:
        self.bar.update(self.task, description=(
            f"{summary_line(self.statuses)}; pausing {_seconds(seconds)} before batch "
            f"{batch}/{batches}"
        ))
        self.bar.console.print(f"pausing {_seconds(seconds)} before batch {batch}/{batches}",
                               markup=False, highlight=False)

    def interrupted(self) -> None:
        self.bar.stop()  # leaves the bar's line ended by a newline
        self.console.print(
            redact(f"interrupted after {self.finished}/{self.total}: "
                   f"{summary_line(self.statuses)}"), markup=False, highlight=False,
        )

    def finish(self) -> None:
        self.bar.stop()
        self.console.print(redact(f"done: {summary_line(self.statuses)}"), markup=False,
                           highlight=False)


def _seconds(seconds: float) -> str:
    return f"{seconds:g}s" if seconds < 120 else f"{seconds / 60:.1f} min"


def progress_for(stream: IO[str], color: str = "auto") -> PlainProgress:
    """Rich on a terminal, plain lines otherwise; ``color`` (``--color``) says whether the bar
    is coloured (``auto``: unless ``NO_COLOR`` is set)."""
    import os

    if not stream.isatty():
        return PlainProgress(stream)
    coloured = color == "always" or (color == "auto" and not os.environ.get("NO_COLOR"))
    return RichProgress(stream, coloured)
