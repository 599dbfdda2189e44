"""Report writers for lint results: text for people, and the machine formats that CI systems
read (JSON, GitLab Code Quality, SARIF, GitHub workflow commands).

Each format is its own module, imported only when chosen, so that the default text report
costs nothing extra at start-up. All writers return the complete report as a string; the
command decides where it goes (terminal, ``--output FILE`` or both).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ciswitch.model import LintResult

if TYPE_CHECKING:
    from ciswitch.report.meta import RuleMeta

FORMATS = ("text", "json", "gitlab", "sarif", "github")


def render(
    fmt: str,
    result: LintResult,
    *,
    rules_meta: Sequence[RuleMeta] | None = None,
    color: bool = False,
    verbose: bool = False,
    strict: bool = False,
) -> str:
    """The report of ``result`` in format ``fmt`` (one of :data:`FORMATS`).

    ``rules_meta`` describes the rules (SARIF lists them with their documentation); when None
    it is read from :mod:`ciswitch.rules`. ``color`` (text only) adds ANSI colours: pass
    :func:`ciswitch.report.text.use_color` of the stream the report is written to.
    ``verbose`` (text only) also lists the places not checked and the notices; ``strict``
    (text only) lists the places not checked, as the reason for the exit status.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r} (expected one of {', '.join(FORMATS)})")
    if fmt == "text":
        from ciswitch.report.text import render_text

        return render_text(result, color=color, verbose=verbose, strict=strict)
    if fmt == "sarif":
        from ciswitch.report.meta import load_rules_meta
        from ciswitch.report.sarif import render_sarif

        return render_sarif(result, rules_meta if rules_meta is not None else load_rules_meta())
    module = importlib.import_module(f"ciswitch.report.{fmt}")
    text: str = getattr(module, f"render_{fmt}")(result)
    return text




def __getattr__(name: str) -> Any:
    """``RuleMeta`` on first use (only SARIF and the docs need the rules' descriptions)."""
    if name == "RuleMeta":
        from ciswitch.report.meta import RuleMeta

        return RuleMeta
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["FORMATS", "RuleMeta", "render"]
