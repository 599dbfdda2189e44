"""``fleet status --refresh``: every project's merge request as GitLab has it now.

For each project of the journal: the merge request's state (opened, merged, closed), its
latest pipeline's status, whether it has conflicts, and its approvals, read through the API;
the refreshed state is written back to the journal's step table, and the table is printed in
the same formats as ``fleet status``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from ciswitch.errors import CiswitchError
from ciswitch.fleet import steps as st
from ciswitch.fleet.journal import Row
from ciswitch.fleet.sources import RepoSpec
from ciswitch.redact import redact

FIELDS = ["name", "status", "mr", "mr_state", "pipeline", "conflicts", "approvals", "mr_url",
          "detail"]


@dataclass(frozen=True)
class Refreshed:
    name: str
    status: str
    mr: str
    mr_state: str
    pipeline: str
    conflicts: str
    approvals: str
    mr_url: str
    detail: str


def refresh_row(row: Row, steps: st.Steps, gitlab_url: str, branch: str) -> Refreshed:
    """Ask GitLab about one journal row's merge request; a failure is that row's detail."""
    from ciswitch.fleet.api import client_for, find_merge_request, project_path

    spec = RepoSpec(url=row.url, key=row.key)
    try:
        client = client_for(gitlab_url)
        project = client.project(project_path(spec, gitlab_url))
        mr = find_merge_request(client, project, row.branch or branch)
        if mr is None:
            return Refreshed(row.name, row.status, "", "none", "", "", "", "",
                             f"no merge request from {row.branch or branch}")
        info = client.merge_request(project, mr.iid, with_approvals=True)
        pipeline = client.latest_pipeline(project, mr.iid)
    except CiswitchError as err:
        return Refreshed(row.name, row.status, "", "unknown", "", "", "", "", redact(str(err)))
    approvals = info.approvals
    approved = ("" if approvals is None else
                ("approved by " + ", ".join(approvals.approved_by) if approvals.approved
                 else f"{approvals.approvals_left} left"))
    steps.put(row.key, "merge-request", st.DONE, f"!{info.iid} {info.state}", name=row.name,
              mr_url=info.url, mr_iid=info.iid, mr_state=info.state)
    steps.put(row.key, st.REFRESH_STEP, st.DONE, f"!{info.iid} {info.state}", name=row.name)
    return Refreshed(
        row.name, row.status, f"!{info.iid}", info.state,
        f"#{pipeline.id} {pipeline.status}" if pipeline else "none",
        "yes" if info.has_conflicts else "no", approved, redact(info.url), info.merge_status,
    )


def refresh(rows: Sequence[Row], steps: st.Steps, gitlab_url: str, branch: str,
            tick: Callable[[], None]) -> list[Refreshed]:
    found: list[Refreshed] = []
    for row in sorted(rows, key=lambda r: (r.name, r.key)):
        found.append(refresh_row(row, steps, gitlab_url, branch))
        tick()
    return found


def render(rows: Sequence[Refreshed], fmt: str) -> str:
    records = [asdict(r) for r in rows]
    if fmt == "json":
        return json.dumps({"repositories": records}, indent=2) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        return out.getvalue()
    if fmt == "markdown":
        lines = ["| " + " | ".join(FIELDS) + " |", "|" + "---|" * len(FIELDS)]
        lines += ["| " + " | ".join(str(r[f]).replace("|", "\\|") for f in FIELDS) + " |"
                  for r in records]
        return "\n".join(lines) + "\n"
    shown = FIELDS[:-2]
    table = [shown] + [[str(r[f]) for f in shown] for r in records]
    widths = [max(len(line[i]) for line in table) for i in range(len(shown))]
    return "".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)
                             ).rstrip() + "\n" for line in table)


__all__ = ["FIELDS", "Refreshed", "refresh", "refresh_row", "render"]
