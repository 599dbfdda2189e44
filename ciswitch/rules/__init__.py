"""The lint rules: one module each, and the one table of them.

A rule module holds everything about its rule: the fact kinds it reports, its message, its fix
recipe and safety, the reason when it cannot fix, and its documentation (the module docstring;
the pages under ``docs/rules/`` are generated from it). It ends with a :class:`Rule` record,
``RULE``, listed below in code order. Nothing else in ciswitch spells a rule's code.
"""

from __future__ import annotations

from ciswitch.rules import (
    csw001_local_stages_storage_flag,
    csw002_local_stages_storage_variable,
    csw003_local_synchronization,
    csw004_no_stages_storage_left,
    csw005_local_in_gitlab_settings,
    csw100_unused_suppression,
)
from ciswitch.rules.base import Rule

ALL_RULES: tuple[Rule, ...] = (
    csw001_local_stages_storage_flag.RULE,
    csw002_local_stages_storage_variable.RULE,
    csw003_local_synchronization.RULE,
    csw004_no_stages_storage_left.RULE,
    csw005_local_in_gitlab_settings.RULE,
    csw100_unused_suppression.RULE,
)

BY_CODE: dict[str, Rule] = {rule.code: rule for rule in ALL_RULES}


def rule_of(code: str) -> Rule | None:
    return BY_CODE.get(code)


def is_suppressible(code: str) -> bool:
    """Whether ``# ciswitch: ignore[CODE]`` can silence the rule (an unknown code: yes)."""
    rule = BY_CODE.get(code)
    return rule is None or rule.suppressible


def about_ci(code: str) -> bool:
    """Whether findings of ``code`` are about the CI configuration (not suppressions)."""
    rule = BY_CODE.get(code)
    return rule is None or rule.about_ci


#: the rules whose findings keep the project's stages storage on ``:local`` (a flag, a variable)
STORAGE_CODES = frozenset({
    csw001_local_stages_storage_flag.CODE,
    csw002_local_stages_storage_variable.CODE,
})
#: the rule of ``:local`` in GitLab's CI/CD settings (a logical place, not a file line)
SETTINGS_CODE = csw005_local_in_gitlab_settings.CODE
#: why its findings are not fixed by ``fix`` (files only); any other reason blocks
#: ``fix --gitlab`` too (a job would have no stages storage without it)
SETTINGS_UNFIXABLE = csw005_local_in_gitlab_settings.UNFIXABLE
#: the rules whose findings mean ``:local`` is still set (stages storage or synchronization):
#: none may be left on a change before ``werf stages switch-from-local`` runs (nor in GitLab's
#: CI/CD settings, :data:`SETTINGS_CODE`)
LOCAL_CODES = STORAGE_CODES | {csw003_local_synchronization.CODE, SETTINGS_CODE}
#: the rule saying a werf command would be left with no stages storage (it needs an address)
NEEDS_ADDRESS_CODE = csw004_no_stages_storage_left.CODE
