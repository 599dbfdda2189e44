"""The house rules of the code's layout that a reader can check by eye, checked here by code.

The import layers themselves are checked by ``lint-imports`` (the contract in pyproject.toml);
these are the rules it cannot express.
"""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ciswitch"
CODE_STRING = re.compile(r"""["']CSW\d{3}["']""")
#: a module grows past this only by taking on a second job: split it instead
MAX_LINES = 550


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_a_rule_code_is_spelled_only_in_its_own_rule_module() -> None:
    rules = PACKAGE / "rules"
    offenders: list[str] = []
    for path in _modules():
        inside_rules = path.parent == rules
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if CODE_STRING.search(line) and not inside_rules:
                offenders.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert not offenders, "rule codes spelled outside ciswitch/rules/:\n" + "\n".join(offenders)


def test_each_rule_module_spells_only_its_own_code() -> None:
    for path in sorted((PACKAGE / "rules").glob("csw*.py")):
        own = path.name[:6].upper()
        spelled = {m.group(0).strip("\"'") for m in CODE_STRING.finditer(path.read_text())}
        assert spelled <= {own}, f"{path.name} spells {sorted(spelled - {own})}"


def test_no_module_takes_on_a_second_job() -> None:
    long = [
        f"{path.relative_to(PACKAGE)}: {count} lines"
        for path in _modules()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    ]
    assert not long, "modules over the limit:\n" + "\n".join(long)
