"""The runbook's steps and their rendering, built from facts and findings values."""

from __future__ import annotations

import json
from pathlib import Path

from ciswitch.model import Edit, Finding, Fix, Position
from ciswitch.runbook.facts import (
    ProjectFacts,
    ProjectName,
    StagesAddress,
    WerfInfo,
    parse_werf_version,
)
from ciswitch.runbook.plan import build_plan, plan_to_json, render

ADDR = "registry.example.com/web/shop/stages"


def _facts(*, name: str | None = "shop", address: str | None = ADDR,
           werf_home: str | None = None, werf: WerfInfo | None = None) -> ProjectFacts:
    shown = name or "PROJECT"
    base = f"{werf_home}/service" if werf_home else "~/.werf/service"
    display = f"{base}/stages_switch_from_local_block/{shown}"
    return ProjectFacts(
        repo="shop",
        project=ProjectName(name, "werf.yaml" if name else "", "werf.yaml",
                            "" if name else "werf.yaml:2: templated; pass --project NAME"),
        address=StagesAddress(address, "--to" if address else "",
                              "" if address else "pass --to ADDR"),
        werf=werf,
        block_file=Path(display.replace("~", str(Path.home()), 1)) if name else None,
        block_file_display=display,
    )


def _finding(line: int, *, fixable: bool, code: str = "CSW001", safe: bool = True) -> Finding:
    fix = Fix((Edit(".gitlab-ci.yml", 10, 20, ""),), safe=safe,
              description="remove --stages-storage :local")
    return Finding(
        code=code, message="werf build uses :local stages storage", path=".gitlab-ci.yml",
        start=10, end=20, begin=Position(line, 14), finish=Position(line, 38), jobs=("build",),
        fix=fix if fixable else None,
        unfixable_reason="" if fixable else "no stages storage would be left: pass --to",
    )


def test_steps_in_the_seed_order_with_exact_commands() -> None:
    plan = build_plan(_facts(), [])
    assert [s.key for s in plan.steps] == ["sync", "branch", "switch", "merge", "rebase"]
    assert [s.key for s in plan.rollback] == [
        "rollback-sync", "unblock", "revert", "stop-jobs", "rollback-merge"]
    sync, branch, switch, merge, rebase = plan.steps
    assert sync.optional and sync.where == "runner" and sync.run == "sync"
    assert sync.commands == (
        "docker login registry.example.com -u USER -p TOKEN",
        f"werf stages sync --from :local --to {ADDR}",
    )
    assert branch.commands == (
        f'ciswitch plan --to {ADDR} --format markdown > "${{TMPDIR:-/tmp}}/ciswitch-plan.md"',
        'ciswitch branch --description-file "${TMPDIR:-/tmp}/ciswitch-plan.md"',
    )
    assert switch.commands == (f"werf stages switch-from-local --to {ADDR}",)
    assert "stop" in switch.warning or "fails" in switch.warning
    assert not merge.commands and merge.where == "gitlab"
    assert rebase.commands == ("ciswitch branches",)
    rb_sync, unblock, revert, _, _ = plan.rollback
    assert rb_sync.commands == (f"werf stages sync --from {ADDR} --to :local",)
    assert unblock.commands == ("rm ~/.werf/service/stages_switch_from_local_block/shop",)
    assert revert.commands == ("ciswitch revert",)
    assert plan.problems == ()


def test_unblock_under_werf_home() -> None:
    plan = build_plan(_facts(werf_home="/srv/werf home"), [])
    assert plan.step("unblock").commands == (
        "rm '/srv/werf home/service/stages_switch_from_local_block/'shop",)


def test_unknown_facts_become_placeholders_and_problems() -> None:
    plan = build_plan(_facts(name=None, address=None), None)
    assert plan.step("switch").commands == ("werf stages switch-from-local --to <ADDR>",)
    assert plan.step("unblock").commands == (
        "rm ~/.werf/service/stages_switch_from_local_block/<PROJECT>",)
    assert plan.step("sync").commands[0].startswith("docker login <REGISTRY> ")
    joined = "\n".join(plan.problems)
    assert "pass --to ADDR" in joined and "pass --project NAME" in joined
    assert "not computed" in joined


def test_findings_listed_under_step_two() -> None:
    plan = build_plan(_facts(), [_finding(12, fixable=False), _finding(7, fixable=True)])
    branch = plan.steps[1]
    assert branch.changes == (
        ".gitlab-ci.yml:7:14: CSW001 werf build uses :local stages storage "
        "(remove --stages-storage :local)",
        ".gitlab-ci.yml:12:14: CSW001 werf build uses :local stages storage "
        "(left for you: no stages storage would be left: pass --to)",
    )
    assert "fixes 1 of the 2 places below" in branch.notes[0]


def test_unsafe_fixes_add_the_flag() -> None:
    plan = build_plan(_facts(), [_finding(3, fixable=True, code="CSW003", safe=False)])
    assert plan.steps[1].commands[1].startswith("ciswitch branch --unsafe-fixes --description")
    assert any("synchronization" in n for n in plan.steps[1].notes)


def test_jobs_without_ci_env_get_advice() -> None:
    plan = build_plan(_facts(), [_finding(3, fixable=False, code="CSW004")])
    assert plan.steps[1].commands[1].startswith("ciswitch branch --description-file")
    assert any(f"--to {ADDR}" in n and "werf ci-env" in n for n in plan.steps[1].notes)


def test_extra_problems_are_listed() -> None:
    plan = build_plan(_facts(), [], [".gitlab-ci.yml:3: error: bad YAML"])
    assert plan.problems == (".gitlab-ci.yml:3: error: bad YAML",)


def test_no_findings_says_nothing_to_change() -> None:
    assert "Nothing to change" in build_plan(_facts(), []).steps[1].notes[0]


def test_werf_problem_is_listed() -> None:
    old = WerfInfo("/usr/bin/werf", parse_werf_version("v1.1.5"))
    plan = build_plan(_facts(werf=old), [])
    assert any("too old" in p for p in plan.problems)


def test_text_rendering() -> None:
    werf = WerfInfo("/usr/local/bin/werf", parse_werf_version("v1.1.23+fix2"))
    text = render(build_plan(_facts(werf=werf), [_finding(7, fixable=True)]), "text")
    assert text.startswith("Switching shop to remote stages storage\n")
    assert "werf here:      v1.1.23+fix2 (/usr/local/bin/werf)" in text
    assert f"       $ werf stages switch-from-local --to {ADDR}\n" in text
    assert "     WARNING: From here on every branch without the change" in text
    assert "(runs with: ciswitch plan --run unblock)" in text
    assert text.index("Steps") < text.index("Rollback")
    assert "       - .gitlab-ci.yml:7:14: CSW001" in text


def test_markdown_rendering() -> None:
    werf = WerfInfo("/usr/local/bin/werf", parse_werf_version("v1.1.23"))
    md = render(build_plan(_facts(werf=werf), [_finding(7, fixable=True)]), "markdown")
    assert md.startswith("## Switching shop to remote stages storage\n")
    assert f"| stages address | {ADDR} (from --to) |" in md
    assert "werf here" not in md  # the rendering host is no business of the reviewers
    assert "   ```shell\n   werf stages switch-from-local --to " in md
    assert "   > **Warning:** From here on" in md
    assert "### Rollback" in md
    assert md.count("```shell") == md.count("```") // 2


def test_json_rendering_round_trips() -> None:
    plan = build_plan(_facts(name=None), [])
    data = json.loads(render(plan, "json"))
    assert data == plan_to_json(plan)
    assert data["project"]["name"] is None and "--project" in data["project"]["problem"]
    assert data["stages_address"] == {"address": ADDR, "source": "--to", "problem": None}
    assert [s["run"] for s in data["steps"]] == ["sync", None, "switch", None, None]
    assert data["steps"][2]["warning"].startswith("From here on")
    assert data["block_file"] is None
