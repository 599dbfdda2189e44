"""Configuration discovery, validation errors and the switch marker, driven by fixture files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ciswitch.config import Config, load_config
from ciswitch.errors import CiswitchError
from ciswitch.marker import render_marker
from ciswitch.record import fields_of
from ciswitch.workspace import DirectoryWorkspace

FIXTURES = Path(__file__).parent / "fixtures" / "config"
ERROR_CASES = sorted((FIXTURES / "errors").glob("*.toml"))
VALID_CASES = sorted(p for p in (FIXTURES / "valid").iterdir() if p.is_dir())
CISWITCH = Path(sys.executable).with_name("ciswitch")
MARKER_CASES = sorted(p for p in (FIXTURES / "marker").iterdir() if p.is_dir())


@pytest.mark.parametrize("case", VALID_CASES, ids=lambda p: p.name)
def test_valid_configuration(case: Path) -> None:
    expected = json.loads((case / "expected.json").read_text())
    config = load_config(DirectoryWorkspace(case))
    assert fields_of(config) == expected


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda p: p.name)
def test_configuration_error_is_one_line_naming_file_and_key(
    case: Path, tmp_path: Path
) -> None:
    text = case.read_text()
    expected = text.splitlines()[0].removeprefix("# expect: ")
    name = "pyproject.toml" if case.name.endswith(".pyproject.toml") else ".ciswitch.toml"
    (tmp_path / name).write_text(text)
    with pytest.raises(CiswitchError) as caught:
        load_config(DirectoryWorkspace(tmp_path))
    assert str(caught.value) == expected
    assert "\n" not in str(caught.value)


def test_explicit_file_overrides_discovery(tmp_path: Path) -> None:
    (tmp_path / ".ciswitch.toml").write_text('select = ["CSW001"]\n')
    other = tmp_path / "elsewhere" / "strict.toml"
    other.parent.mkdir()
    other.write_text('ignore = ["CSW003"]\n')
    config = load_config(DirectoryWorkspace(tmp_path), other)
    assert config.select is None
    assert config.ignore == ["CSW003"]
    assert config.source == str(other)


def test_explicit_pyproject_reads_its_tool_table(tmp_path: Path) -> None:
    explicit = tmp_path / "shared" / "pyproject.toml"
    explicit.parent.mkdir()
    explicit.write_text('[tool.ciswitch]\nextra-files = ["bin/*"]\n')
    config = load_config(DirectoryWorkspace(tmp_path), explicit)
    assert config.extra_files == ["bin/*"]


def test_explicit_file_errors_name_the_given_path(tmp_path: Path) -> None:
    explicit = tmp_path / "ci.toml"
    explicit.write_text("selct = []\n")
    with pytest.raises(CiswitchError, match=r"ci\.toml:1: unknown key 'selct'"):
        load_config(DirectoryWorkspace(tmp_path), explicit)
    with pytest.raises(CiswitchError, match=r"missing\.toml: configuration file not found"):
        load_config(DirectoryWorkspace(tmp_path), tmp_path / "missing.toml")


def test_non_utf8_configuration_is_an_error(tmp_path: Path) -> None:
    (tmp_path / ".ciswitch.toml").write_bytes(b'select = ["\xff"]\n')
    expected = r"^\.ciswitch\.toml: configuration is not valid UTF-8$"
    with pytest.raises(CiswitchError, match=expected):
        load_config(DirectoryWorkspace(tmp_path))


def test_is_enabled_combines_select_and_ignore() -> None:
    everything = Config()
    assert everything.is_enabled("CSW003")
    chosen = Config(select=["CSW001", "CSW002"], ignore=["CSW002"])
    assert chosen.is_enabled("CSW001")
    assert not chosen.is_enabled("CSW002")
    assert not chosen.is_enabled("CSW003")


@pytest.mark.parametrize("case", MARKER_CASES, ids=lambda p: p.name)
def test_render_marker(case: Path) -> None:
    before_file = case / "before.toml"
    address_file = case / "address.txt"
    before = before_file.read_bytes().decode() if before_file.exists() else None
    address = address_file.read_text() if address_file.exists() else None
    after = render_marker(before, address)
    assert after == (case / "after.toml").read_bytes().decode()

    # The top-level keys now say "switched" (tables of the same name do not count).
    parsed = tomllib.loads(after)
    assert parsed["stages-storage"] == "remote"
    if address is not None:
        assert parsed["stages-storage-address"] == address
    # Every line that does not set the marker keys is kept byte for byte, in order.
    if before is not None:
        kept = [ln for ln in before.splitlines() if "stages-storage" not in ln]
        remaining = iter(after.splitlines())
        assert all(line in remaining for line in kept)  # an ordered subsequence


def test_marked_configuration_loads_as_switched(tmp_path: Path) -> None:
    text = render_marker('select = ["CSW001"]\n', "registry.example.com/a/stages")
    (tmp_path / ".ciswitch.toml").write_text(text)
    config = load_config(DirectoryWorkspace(tmp_path))
    assert config.select == ["CSW001"]
    assert config.stages_storage == "remote"
    assert config.stages_storage_address == "registry.example.com/a/stages"


def test_render_marker_is_idempotent() -> None:
    once = render_marker('ignore = ["CSW004"]\n', "registry.example.com/a/stages")
    assert render_marker(once, "registry.example.com/a/stages") == once
    assert render_marker(once, None) == once


def test_render_marker_keeps_a_byte_order_mark() -> None:
    marked = render_marker("\ufeffignore = []\n", None)
    assert marked == '\ufeffignore = []\nstages-storage = "remote"\n'


def test_render_marker_refuses_invalid_toml() -> None:
    with pytest.raises(CiswitchError, match=r"^\.ciswitch\.toml:1:\d+: invalid TOML"):
        render_marker("select = = 1\n", None)


def test_render_marker_output_parses_with_tomllib() -> None:
    text = render_marker(None, 'odd\x7f"address\\')
    assert tomllib.loads(text)["stages-storage-address"] == 'odd\x7f"address\\'


@pytest.mark.parametrize(
    ("config_text", "expected"),
    [
        ("selct = []\n", ".ciswitch.toml:1: error: unknown key 'selct' (expected one of select, "
         "ignore, ci-config, extra-files, stages-storage, stages-storage-address, strict)"),
        ("ignore = 'CSW001'\n", ".ciswitch.toml:1: error: key 'ignore' must be an array of rule "
         "codes, not a string"),
        ('ignore "CSW002"\n', ".ciswitch.toml:1:8: error: invalid TOML: Expected '=' after a key "
         "in a key/value pair"),
    ],
)
def test_cli_exits_2_on_configuration_errors(
    tmp_path: Path, config_text: str, expected: str
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / "cli-repo", repo)
    (repo / ".ciswitch.toml").write_text(config_text)
    before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()}
    run = subprocess.run([str(CISWITCH), "lint"], cwd=repo, capture_output=True, text=True,
                         check=False)
    assert run.returncode == 2
    assert expected in (run.stdout + run.stderr).splitlines()
    assert {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()} == before


def test_cli_config_option_overrides_discovery(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / "cli-repo", repo)
    (repo / ".ciswitch.toml").write_text("selct = []\n")  # would fail if it were read
    explicit = tmp_path / "ignore-all.toml"
    explicit.write_text('ignore = ["CSW001", "CSW002", "CSW003", "CSW004"]\n')
    run = subprocess.run([str(CISWITCH), "lint", "--config", str(explicit)], cwd=repo,
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    plain = subprocess.run([str(CISWITCH), "lint", "--config", str(tmp_path / "none.toml")],
                           cwd=repo, capture_output=True, text=True, check=False)
    assert plain.returncode == 2
