"""The lint rules, one module each, listed in code order.

Each module carries ``CODE``, ``NAME``, ``SUMMARY``, ``SEVERITY``, ``FIX_SAFETY``, its
documentation as the module docstring (the pages under ``docs/rules/`` are generated from it)
and ``check(facts, options)``.
"""

from __future__ import annotations

from types import ModuleType

from ciswitch.rules import (
    csw001_local_stages_storage_flag,
    csw002_local_stages_storage_variable,
    csw003_local_synchronization,
    csw004_no_stages_storage_left,
)

ALL_RULES: tuple[ModuleType, ...] = (
    csw001_local_stages_storage_flag,
    csw002_local_stages_storage_variable,
    csw003_local_synchronization,
    csw004_no_stages_storage_left,
)

BY_CODE: dict[str, ModuleType] = {rule.CODE: rule for rule in ALL_RULES}
