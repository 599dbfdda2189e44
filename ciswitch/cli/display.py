"""Paths as the user sees them: :mod:`ciswitch.report.display` (kept there so that the plain
``ciswitch lint``, which does not load click, can use it too)."""

from __future__ import annotations

from ciswitch.report.display import prefix_for, rebased, shown

__all__ = ["prefix_for", "rebased", "shown"]
