"""What ``branch``, ``revert`` and ``fleet run`` are asked about the branch they push and the
merge request it opens: one frozen request, shared, so that the three accept the same settings
and refuse an existing branch with the same words."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ciswitch.errors import CiswitchError
from ciswitch.gitops import Identity, MergeRequestOptions


@dataclass(frozen=True)
class MergeRequestSettings:
    """The branch and its merge request (each command's request extends it with its own
    fields and defaults)."""

    path: Path = Path(".")
    branch: str = ""
    remote: str = "origin"
    target: str | None = None
    author: Identity | None = None
    title: str = ""
    description: str | None = None
    draft: bool = False
    labels: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    push_options: tuple[str, ...] = ()
    push: bool = True
    dry_run: bool = False
    force_update: bool = False

    def refuse_other_change(
        self,
        local: tuple[str | None, bool],
        remote: tuple[str | None, bool],
        path: str | None = None,
    ) -> None:
        """Refuse, unless ``--force-update``, when the branch already exists (locally or on
        the remote: ``(sha, carries the same change)``) with a different change."""
        where = []
        if local[0] is not None and not local[1]:
            where.append("locally")
        if remote[0] is not None and not remote[1]:
            where.append(f"on {self.remote}")
        if where and not self.force_update:
            raise CiswitchError(
                f"branch {self.branch} already exists {' and '.join(where)} with a different "
                "change: pass --force-update to replace it, or --branch NAME",
                path,
            )

    def merge_request_push_options(self, target: str, description: str) -> list[str]:
        """The push options of this request's merge request into ``target``."""
        return MergeRequestOptions(
            target=target, title=self.title, description=description, draft=self.draft,
            labels=self.labels, assignees=self.assignees, extra=self.push_options,
        ).push_options()


def advise(err: CiswitchError) -> str:
    """The message of ``err`` with the advice that fits ``branch``, ``revert`` and ``fleet
    run``: git code raises typed errors without advice, since only the command knows its
    options (all three have ``--target`` and ``--author``)."""
    from ciswitch.gitops import NoDefaultBranch, PushOptionsRefused, UnknownIdentity

    text = str(err)
    if isinstance(err, NoDefaultBranch):
        return f"{text}; pass --target BRANCH"
    if isinstance(err, UnknownIdentity):
        return f"{text}, or pass --author 'Name <email>'"
    if isinstance(err, PushOptionsRefused):
        return (f"{text}: push the branch with a plain `git push` and open its merge request "
                "in GitLab by hand")
    return text
