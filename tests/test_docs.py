"""The generated reference pages under docs/ match the code they are generated from.

When one of these tests fails after a change to a rule's documentation or a command's options,
run ``python -m ciswitch.docgen`` and commit the pages it writes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from ciswitch import docgen
from ciswitch.cli import COMMANDS
from ciswitch.model import Severity
from ciswitch.report.meta import RuleMeta, load_rules_meta
from ciswitch.rules import SETTINGS_CODE
from ciswitch.rules import csw100_unused_suppression as suppress

DOCS = Path(__file__).resolve().parent.parent / "docs"
RULE_CODES = [meta.code for meta in load_rules_meta()]
REGENERATE = "out of date: run `python -m ciswitch.docgen`"


def _on_disk(rel: str) -> str:
    path = DOCS / rel
    assert path.is_file(), f"docs/{rel} is missing: run `python -m ciswitch.docgen`"
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("code", RULE_CODES)
def test_rule_page_is_up_to_date(code: str) -> None:
    meta = next(m for m in load_rules_meta() if m.code == code)
    page = _on_disk(f"rules/{code}.md")
    assert page == docgen.rule_page(meta), f"docs/rules/{code}.md {REGENERATE}"


def test_rules_index_is_up_to_date() -> None:
    expected = docgen.rules_index(load_rules_meta())
    assert _on_disk("rules/README.md") == expected, f"docs/rules/README.md {REGENERATE}"
    for code in RULE_CODES:
        assert f"[{code}]({code}.md)" in expected


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_page_is_up_to_date(name: str) -> None:
    page = _on_disk(f"commands/{name}.md")
    assert page == docgen.command_page(name), f"docs/commands/{name}.md {REGENERATE}"
    assert f"Usage: ciswitch {name} [OPTIONS]" in page


GROUPS = [n for n in sorted(COMMANDS) if isinstance(docgen.load_command(n), click.Group)]


@pytest.mark.parametrize("name", GROUPS)
def test_group_pages_document_every_subcommand(name: str) -> None:
    command = docgen.load_command(name)
    assert isinstance(command, click.Group)
    page = _on_disk(f"commands/{name}.md")
    ctx = click.Context(command, info_name=name)
    for sub in command.list_commands(ctx):
        assert f"\n## ciswitch {name} {sub}\n" in page
        assert f"Usage: ciswitch {name} {sub} " in page


def test_commands_index_is_up_to_date() -> None:
    expected = docgen.commands_index(sorted(COMMANDS))
    assert _on_disk("commands/README.md") == expected, f"docs/commands/README.md {REGENERATE}"
    for name in COMMANDS:
        assert f"]({name}.md)" in expected


def test_no_stale_generated_pages() -> None:
    assert docgen.stale_pages(DOCS, docgen.generate()) == []


def test_rule_pages_carry_every_section() -> None:
    for code in RULE_CODES:
        page = _on_disk(f"rules/{code}.md")
        headings = re.findall(r"^## (.+)$", page, re.MULTILINE)
        assert headings[: len(docgen.REQUIRED_SECTIONS)] == list(docgen.REQUIRED_SECTIONS), code
        assert f'`ignore = ["{code}"]`' in page
        # CSW100 reviews the comments themselves; CSW005 is in GitLab's settings, no file line
        suppressible = code not in (suppress.CODE, SETTINGS_CODE)
        assert (f"`# ciswitch: ignore[{code}]`" in page) is suppressible


# --------------------------------------------------------------------------------------------
# the generator on made-up rules


def _meta(doc: str) -> RuleMeta:
    return RuleMeta("CSW999", "made-up", "a made-up rule", Severity.WARNING, "unsafe", doc)


FULL_DOC = """Intro line.

## What it does
Finds things.

## Why is this bad?
Because.

## Example
```yaml
# a YAML comment, not a heading
build:
  script: [werf build -s :local]
```

## Use instead
Something else.

## Fix safety
Unsafe.
"""


def test_rule_page_keeps_the_documentation_verbatim() -> None:
    page = docgen.rule_page(_meta(FULL_DOC))
    assert page.startswith(docgen.MARKER + "\n")
    assert "# CSW999: made-up\n\nIntro line.\n" in page
    assert "- Severity: warning\n" in page
    assert "- Fix: unsafe, applied by `ciswitch fix --unsafe-fixes`\n" in page
    assert FULL_DOC[FULL_DOC.index("## What it does"):] in page


@pytest.mark.parametrize("heading", docgen.REQUIRED_SECTIONS)
def test_a_missing_section_is_an_error(heading: str) -> None:
    doc = FULL_DOC.replace(f"## {heading}\n", "")
    with pytest.raises(docgen.DocError, match=re.escape(f"'## {heading}'")):
        docgen.rule_page(_meta(doc))


def test_a_heading_inside_a_code_block_does_not_count() -> None:
    doc = FULL_DOC.replace("## Use instead\nSomething else.\n", "```\n## Use instead\n```\n")
    with pytest.raises(docgen.DocError, match="Use instead"):
        docgen.rule_page(_meta(doc))


# --------------------------------------------------------------------------------------------
# python -m ciswitch.docgen


def _docgen(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ciswitch.docgen", *args], capture_output=True, text=True,
        check=False, env={**os.environ, **(env or {})},
    )


def test_check_passes_on_the_repository_docs_whatever_the_terminal_width() -> None:
    for columns in ("40", "200"):
        proc = _docgen("--check", env={"COLUMNS": columns})
        assert proc.returncode == 0, proc.stderr


def test_write_then_check_then_stale_pages(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    proc = _docgen("--docs", str(docs))
    assert proc.returncode == 0, proc.stderr
    written = sorted(p.relative_to(docs).as_posix() for p in docs.rglob("*.md"))
    assert written == sorted(docgen.generate())
    assert _docgen("--docs", str(docs), "--check").returncode == 0

    # Running it again rewrites nothing.
    again = _docgen("--docs", str(docs))
    assert again.returncode == 0 and again.stdout == ""

    # An edited page, a page of a removed rule and a hand-written page.
    (docs / "rules/CSW001.md").write_text("edited\n")
    (docs / "rules/CSW999.md").write_text(docgen.MARKER + "\n# a rule that is gone\n")
    (docs / "rules/notes.md").write_text("# hand-written notes\n")
    check = _docgen("--docs", str(docs), "--check")
    assert check.returncode == 1
    assert f"{docs / 'rules/CSW001.md'}: out of date" in check.stderr
    assert f"{docs / 'rules/CSW999.md'}: out of date" in check.stderr
    assert "notes.md" not in check.stderr
    assert (docs / "rules/CSW001.md").read_text() == "edited\n"  # --check writes nothing

    fix = _docgen("--docs", str(docs))
    assert fix.returncode == 0, fix.stderr
    assert fix.stdout.splitlines() == [
        f"wrote {docs / 'rules/CSW001.md'}",
        f"removed {docs / 'rules/CSW999.md'}",
    ]
    assert not (docs / "rules/CSW999.md").exists()
    assert (docs / "rules/notes.md").read_text() == "# hand-written notes\n"
    assert _docgen("--docs", str(docs), "--check").returncode == 0


# --------------------------------------------------------------------------------------------
# links


_LINK_RE = re.compile(r"\]\(([^)\s]+)\)")


def _markdown_files() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


@pytest.mark.parametrize("page", _markdown_files(), ids=lambda p: p.relative_to(DOCS).as_posix())
def test_relative_links_resolve(page: Path) -> None:
    for target in _LINK_RE.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        path = (page.parent / target.split("#", 1)[0]).resolve()
        assert path.exists(), f"{page.relative_to(DOCS)}: broken link {target}"


# --------------------------------------------------------------------------------------------
# the examples of the usage guide work as shown


USAGE = DOCS / "usage.md"
CISWITCH = Path(sys.executable).with_name("ciswitch")
_FENCE_RE = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def _blocks(language: str) -> list[str]:
    text = USAGE.read_text(encoding="utf-8")
    return [body for lang, body in _FENCE_RE.findall(text) if lang == language]


def test_usage_pre_commit_snippet_names_the_real_hooks() -> None:
    from ruamel.yaml import YAML

    manifest = YAML(typ="safe").load((DOCS.parent / ".pre-commit-hooks.yaml").read_text())
    hook_ids = {hook["id"] for hook in manifest}
    snippets = [b for b in _blocks("yaml") if b.startswith("repos:")]
    assert len(snippets) == 1
    config = YAML(typ="safe").load(snippets[0])
    used = {hook["id"] for repo in config["repos"] for hook in repo["hooks"]}
    assert used and used <= hook_ids
    text = USAGE.read_text(encoding="utf-8")
    for hook_id in hook_ids:
        assert f"`{hook_id}`" in text


def test_usage_ci_command_is_the_template_command() -> None:
    template = (DOCS / "gitlab-ci-lint.yml").read_text(encoding="utf-8")
    shown = [b.strip() for b in _blocks("sh") if b.startswith("ciswitch lint --format gitlab")]
    assert len(shown) == 1
    assert f"- {shown[0]}\n" in template


def test_usage_config_examples_are_valid_and_cover_every_key(tmp_path: Path) -> None:
    import tomllib

    from ciswitch.config import _KEYS, load_config
    from ciswitch.workspace import DirectoryWorkspace

    seen: set[str] = set()
    for index, block in enumerate(_blocks("toml")):
        repo = tmp_path / f"repo{index}"
        repo.mkdir()
        table = tomllib.loads(block)
        if "tool" in table:
            (repo / "pyproject.toml").write_text(block, encoding="utf-8")
            table = table["tool"]["ciswitch"]
            expected_source = "pyproject.toml"
        else:
            (repo / ".ciswitch.toml").write_text(block, encoding="utf-8")
            expected_source = ".ciswitch.toml"
        config = load_config(DirectoryWorkspace(repo))  # raises on unknown keys or bad values
        assert config.source == expected_source
        seen |= set(table)
    assert seen == set(_KEYS)


def test_usage_suppression_example_suppresses(tmp_path: Path) -> None:
    examples = [b for b in _blocks("yaml") if "# ciswitch: ignore[" in b]
    assert len(examples) == 1
    ci = tmp_path / ".gitlab-ci.yml"

    ci.write_text(examples[0], encoding="utf-8")
    quiet = subprocess.run([str(CISWITCH), "lint"], cwd=tmp_path, capture_output=True,
                           text=True, check=False)
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr

    ci.write_text(re.sub(r"  # ciswitch: ignore\[[^\]]*\]", "", examples[0]), encoding="utf-8")
    loud = subprocess.run([str(CISWITCH), "lint"], cwd=tmp_path, capture_output=True,
                          text=True, check=False)
    assert loud.returncode == 1
    codes = re.findall(r"^\S+:\d+:\d+: (CSW\d{3}) ", loud.stdout, re.MULTILINE)
    suppressed = re.search(r"ignore\[([^\]]*)\]", examples[0])
    assert suppressed is not None
    assert sorted(set(codes)) == sorted(suppressed.group(1).split(","))
