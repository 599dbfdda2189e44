"""``fix --gitlab`` and ``revert --gitlab``: the ``:local`` CI/CD variables of GitLab's settings,
changed through the API, every change journaled with the old value so it can be put back.

What is changed comes from the lint with the settings (CSW005): a project's or a schedule's
variable is deleted (or, with ``--to ADDRESS``, set to that address); a group's or the
instance's variable reaches every project of the group (of the instance), so it is changed only
with ``shared``; a ``:local`` synchronization only with ``unsafe`` (it changes the locking
backend); a stages storage that a job would be left without (no ``werf ci-env``, no other
address) only with ``--to``.

The journal is ``<git dir>/ciswitch/gitlab-settings.jsonl`` of the project's clone: one JSON
line before each change (what is about to happen, with the value the variable has) and one
after it (done or failed). ``:local`` is never masked (GitLab masks only values of 8 characters
or more), so the journal holds no secret; it is written with mode 0600 all the same. ``revert
--gitlab`` reads it newest first and puts each variable back where its state is still the one
ciswitch left (a deleted one absent, an updated one at the value set); one changed since is
left alone, with the reason.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ciswitch.errors import CiswitchError
from ciswitch.redact import redact

if TYPE_CHECKING:
    from ciswitch.analysis.settings import GitLabSettings
    from ciswitch.gitlab_api import GitLabClient, VariableInfo
    from ciswitch.model import Finding

JOURNAL_FILE = Path("ciswitch") / "gitlab-settings.jsonl"
Action = Literal["delete", "update", "leave"]


@dataclass(frozen=True)
class SettingStep:
    """What ``fix --gitlab`` does to one variable."""

    variable: VariableInfo
    action: Action
    #: the value an ``update`` sets
    value: str | None = None
    reason: str = ""

    @property
    def place(self) -> str:
        return f"gitlab: {self.variable.place}"

    def line(self) -> str:
        if self.action == "delete":
            return f"delete {self.place}"
        if self.action == "update":
            return f"set {self.place} to {self.value}"
        return f"leave {self.place}: {self.reason}"


def plan_settings_fix(findings: list[Finding], settings: GitLabSettings, *, to: str | None,
                      unsafe: bool, shared: bool) -> list[SettingStep]:
    """One step per CSW005 finding, in report order."""
    from ciswitch.model import STAGES_VAR
    from ciswitch.rules import SETTINGS_CODE, SETTINGS_UNFIXABLE

    by_place = {f"gitlab: {v.place}": v for v in settings.variables}
    steps: list[SettingStep] = []
    for finding in sorted(findings, key=lambda f: f.sort_key):
        variable = by_place.get(finding.path)
        if finding.code != SETTINGS_CODE or variable is None:
            continue
        storage = variable.key == STAGES_VAR
        if variable.level in ("group", "instance") and not shared:
            who = (f"every project of group {variable.owner}/" if variable.level == "group"
                   else "every project of the instance")
            steps.append(SettingStep(variable, "leave", reason=(
                f"shared by {who}: pass --shared to change it for all of them")))
        elif not storage and not unsafe:
            steps.append(SettingStep(variable, "leave", reason=(
                "unsafe (changes the locking backend): use --unsafe-fixes")))
        elif storage and to is not None:
            steps.append(SettingStep(variable, "update", value=to))
        elif finding.unfixable_reason != SETTINGS_UNFIXABLE:
            steps.append(SettingStep(variable, "leave", reason=finding.unfixable_reason))
        else:
            steps.append(SettingStep(variable, "delete"))
    return steps


# -------------------------------------------------------------------------------- the journal

def journal_path(root: Path) -> Path | None:
    """The journal of the clone at ``root`` (None outside a git repository)."""
    from ciswitch.runbook.record import record_path

    found = record_path(root)
    return None if found is None else found.parent / JOURNAL_FILE.name


def _append(path: Path, entry: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8"))
        finally:
            os.close(fd)
    except OSError as err:
        raise CiswitchError(f"cannot journal the change: {err.strerror or err}",
                            str(path)) from err


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_journal(path: Path | None) -> list[dict[str, Any]]:
    """Every entry, oldest first; a line that cannot be read is skipped."""
    if path is None:
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as err:
        raise CiswitchError(f"cannot read the journal: {err}", str(path)) from err
    found: list[dict[str, Any]] = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            found.append(entry)
    return found


def _variable_of(entry: dict[str, Any]) -> VariableInfo:
    from ciswitch.gitlab_api import VariableInfo

    data = entry["variable"]
    return VariableInfo(level=data["level"], owner=data["owner"], key=data["key"], value=None,
                        protected=bool(data["protected"]), masked=bool(data["masked"]),
                        environment_scope=data["environment_scope"],
                        variable_type=data["variable_type"], schedule_id=data["schedule_id"],
                        schedule_description=data["schedule_description"])


# -------------------------------------------------------------------------------- applying

def apply_settings_fix(client: GitLabClient, steps: list[SettingStep], journal: Path,
                       echo: Any) -> list[str]:
    """Change each variable of ``steps`` (``leave`` ones are skipped), journaling before and
    after; returns the failures (the other changes still happen)."""
    failures: list[str] = []
    for step in steps:
        if step.action == "leave":
            continue
        variable = step.variable
        ident = f"{_now()} {os.getpid()} {variable.place}"
        described = {k: v for k, v in asdict(variable).items() if k != "value"}
        _append(journal, {"id": ident, "state": "intent", "at": _now(), "action": step.action,
                          "gitlab_url": client.url, "variable": described,
                          "old_value": variable.value, "new_value": step.value})
        try:
            if step.action == "delete":
                change = client.delete_variable(variable)
            else:
                assert step.value is not None
                change = client.update_variable(variable, step.value)
        except CiswitchError as err:
            _append(journal, {"id": ident, "state": "failed", "at": _now(),
                              "error": redact(str(err))})
            failures.append(f"{step.place}: {redact(str(err))}")
            echo(f"failed: {step.line()}: {redact(str(err))}")
            continue
        _append(journal, {"id": ident, "state": "done", "at": _now(),
                          "old_value": change.old_value})
        echo(f"done: {step.line()}")
    return failures


@dataclass(frozen=True)
class PutBack:
    """What ``revert --gitlab`` does for one journaled change."""

    ident: str
    variable: VariableInfo
    #: ``create`` (it was deleted), ``update`` (it was set), ``leave`` (see ``reason``)
    action: Literal["create", "update", "leave"]
    value: str
    reason: str = ""

    def line(self) -> str:
        place = f"gitlab: {self.variable.place}"
        if self.action == "create":
            return f"create {place} again with {self.value}"
        if self.action == "update":
            return f"set {place} back to {self.value}"
        return f"leave {place}: {self.reason}"


def plan_put_back(client: GitLabClient, journal: Path | None) -> list[PutBack]:
    """The journaled changes not put back yet, newest first, each checked against the state
    GitLab has now."""
    entries = read_journal(journal)
    closed = {e["id"] for e in entries if e.get("state") == "reverted"}
    failed = {e["id"] for e in entries if e.get("state") == "failed"}
    done = {e["id"]: e for e in entries if e.get("state") == "done"}
    steps: list[PutBack] = []
    for entry in reversed([e for e in entries if e.get("state") == "intent"]):
        ident = entry["id"]
        if ident in closed or ident in failed:
            continue
        variable = _variable_of(entry)
        old = done.get(ident, entry).get("old_value") or entry.get("old_value")
        if not isinstance(old, str):
            steps.append(PutBack(ident, variable, "leave", "", "the old value is not known"))
            continue
        now = client.current_value(variable)
        if entry["action"] == "delete":
            if now is None:
                steps.append(PutBack(ident, variable, "create", old))
            else:
                steps.append(PutBack(ident, variable, "leave", old,
                                     "it exists again (created since): left as it is"))
        elif now == entry.get("new_value"):
            steps.append(PutBack(ident, variable, "update", old))
        elif now == old:
            steps.append(PutBack(ident, variable, "leave", old,
                                 "it has its old value already (the change did not happen)"))
        else:
            steps.append(PutBack(ident, variable, "leave", old,
                                 "changed since ciswitch set it: left as it is"))
    return steps


def apply_put_back(client: GitLabClient, steps: list[PutBack], journal: Path,
                   echo: Any) -> list[str]:
    failures: list[str] = []
    for step in steps:
        if step.action == "leave":
            continue
        try:
            if step.action == "create":
                client.create_variable(step.variable, step.value)
            else:
                client.update_variable(step.variable, step.value)
        except CiswitchError as err:
            failures.append(f"gitlab: {step.variable.place}: {redact(str(err))}")
            echo(f"failed: {step.line()}: {redact(str(err))}")
            continue
        _append(journal, {"id": step.ident, "state": "reverted", "at": _now()})
        echo(f"done: {step.line()}")
    return failures


def has_changes(root: Path) -> bool:
    """Whether the clone's journal holds a change not put back yet (for the rollback)."""
    try:
        entries = read_journal(journal_path(root))
    except CiswitchError:
        return False
    closed = {e["id"] for e in entries if e.get("state") in ("reverted", "failed")}
    return any(e.get("state") == "intent" and e["id"] not in closed for e in entries)
