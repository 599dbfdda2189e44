"""A site's range as a range of its file, for places and not-checked entries: the site's
anchor where a YAML scalar's value cannot be mapped to its text (the place is still
reported, at the scalar)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ciswitch.analysis.sites import Site


def safe_map(site: Site, start: int, end: int) -> tuple[int, int]:
    """The file range of ``site``'s range, or its anchor twice. (Called for every place of
    every job: the module naming the error is imported only when one is raised.)"""
    try:
        return site.to_file(start, end)
    except Exception as err:
        from ciswitch.yaml.spans import SpanError

        if not isinstance(err, SpanError):
            raise
        base = site.anchor()
        return base, base
