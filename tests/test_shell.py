"""The shell layer: werf calls, flags and assignments found in shell text, and the removals that
take them out without touching anything else.

Cases are data under ``tests/fixtures/shell``: ``analyse/<case>.sh`` with the expected facts in
``<case>.sh.json`` (positions as ``line:column``, 1-based, in characters), ``removal/<case>/``
with ``before``/``after`` texts and the removed words, ``replace.json`` for value replacements,
and ``corpus_expectations.json`` for the real scripts of the shared corpus.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ciswitch.shell import (
    Assignment,
    FlagUse,
    ShellReading,
    Word,
    analyse,
    assignment_removal,
    flag_removal,
    mentions_werf,
    replacement_for_value,
    statements_of,
    words_of,
)

FIXTURES = Path(__file__).parent / "fixtures" / "shell"
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
ANALYSE_CASES = sorted(p for p in (FIXTURES / "analyse").iterdir() if p.suffix != ".json")
REMOVAL_CASES = sorted(p for p in (FIXTURES / "removal").iterdir() if p.is_dir())


# -- helpers -------------------------------------------------------------------------------------
def position(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"{line}:{column}"


def describe_word(text: str, word: Word) -> dict[str, Any]:
    assert text[word.start : word.end] == word.raw
    found: dict[str, Any] = {
        "at": position(text, word.start), "raw": word.raw, "value": word.value, "var": word.var,
    }
    if word.enclosing_quote:
        found["enclosing_quote"] = word.enclosing_quote
    return found


def describe_assignment(text: str, a: Assignment) -> dict[str, Any]:
    return {
        "at": position(text, a.start), "text": text[a.start : a.end], "name": a.name,
        "kind": a.kind, "value": None if a.value is None else describe_word(text, a.value),
        "statement": text[a.statement_start : a.statement_end], "siblings": a.siblings,
    }


def describe(text: str, analysis: ShellReading) -> dict[str, Any]:
    """The analysis in the fixture's shape (every span shown as the text it covers)."""
    calls = []
    for call in analysis.werf_calls:
        calls.append({
            "at": position(text, call.start), "text": text[call.start : call.end],
            "subcommand": list(call.subcommand),
            "takes_stages_storage": call.takes_stages_storage,
            "takes_synchronization": call.takes_synchronization,
            "is_ci_env": call.is_ci_env,
            "flags": [
                {"name": f.name, "spelling": f.spelling, "form": f.form,
                 "at": position(text, f.start), "text": text[f.start : f.end],
                 "value": describe_word(text, f.value)}
                for f in call.flags
            ],
            "prefixes": [describe_assignment(text, p) for p in call.prefixes],
            **({"binary_var": call.binary_var} if call.binary_var else {}),
        })
    return {
        "has_errors": analysis.has_errors,
        "calls": calls,
        "assignments": [describe_assignment(text, a) for a in analysis.assignments],
        "ci_env": [position(text, offset) for offset in analysis.ci_env_offsets],
    }


def all_flags(analysis: ShellReading) -> list[tuple[Any, FlagUse]]:
    return [(call, flag) for call in analysis.werf_calls for flag in call.flags]


def all_assignments(analysis: ShellReading) -> list[Assignment]:
    prefixes = [p for call in analysis.werf_calls for p in call.prefixes]
    return sorted([*analysis.assignments, *prefixes], key=lambda a: a.start)


def apply(text: str, change: tuple[int, int, str]) -> str:
    start, end, replacement = change
    return text[:start] + replacement + text[end:]


def removal_consistent(before: str, after: str, removed: list[str], added: list[str]) -> bool:
    """Whether ``after`` says what ``before`` said, except that one statement lost exactly the
    ``removed`` words (contiguously) and gained ``added`` in their place; a statement left with
    no words disappears. Statement boundaries count: a line glued onto a command fails this."""
    old, new = statements_of(before), statements_of(after)
    for index, statement in enumerate(old):
        for at in range(len(statement) - len(removed) + 1):
            if list(statement[at : at + len(removed)]) != removed:
                continue
            rest = [*statement[:at], *added, *statement[at + len(removed) :]]
            if old[:index] + ([tuple(rest)] if rest else []) + old[index + 1 :] == new:
                return True
    return False


# -- analysis fixtures ---------------------------------------------------------------------------
@pytest.mark.parametrize("case", ANALYSE_CASES, ids=lambda p: p.name)
def test_analysis_matches_fixture(case: Path) -> None:
    text = case.read_text(encoding="utf-8")
    expected = json.loads(case.with_name(case.name + ".json").read_text(encoding="utf-8"))
    assert describe(text, analyse(text)) == expected


def test_fixture_cases_cover_every_flag_form() -> None:
    """Guard the fixtures themselves: each pflag form of both flags occurs somewhere."""
    seen = set()
    for case in ANALYSE_CASES:
        text = case.read_text(encoding="utf-8")
        for _, flag in all_flags(analyse(text)):
            seen.add((flag.spelling, flag.form))
    for spelling in ("--stages-storage", "-s"):
        for form in ("separate", "equals"):
            assert (spelling, form) in seen
    assert ("-s", "attached") in seen
    assert {("--synchronization", "separate"), ("-S", "equals"), ("-S", "attached")} <= seen


# -- words ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "value", "var"),
    [
        (":local", ":local", None),
        ('":local"', ":local", None),
        ("':local'", ":local", None),
        ("a\\ b", "a b", None),
        ('"a\\"b"', 'a"b', None),
        ("'a\\b'", "a\\b", None),
        ("$'a\\tb'", "a\tb", None),
        ('"\\$HOME"', "$HOME", None),
        ('"a"\'b\'c', "abc", None),
        ('""', "", None),
        ("$X", None, "X"),
        ('"$X"', None, "X"),
        ("${X}", None, "X"),
        ('"${X}"', None, "X"),
        ("${X:-:local}", None, "X"),
        ("${X-d}", None, "X"),
        ("${X:+d}", None, None),
        ("${#X}", None, None),
        ('"a$X"', None, None),
        ("$1", None, None),
        ('"$(cmd)"', None, None),
        ("~/stages", None, None),
    ],
)
def test_word_value_and_variable(raw: str, value: str | None, var: str | None) -> None:
    text = f"werf build -s {raw} --dir ."
    (_, flag), = all_flags(analyse(text))
    assert flag.value.raw == raw
    assert (flag.value.value, flag.value.var) == (value, var)
    assert text[flag.value.start : flag.value.end] == raw


def test_offsets_are_characters_not_bytes() -> None:
    prefixes = ["", "# Сборка\n", "echo 🙂🚀; ", "echo 'ß' \"日本\" 👩‍💻\n\t"]
    for prefix in prefixes:
        text = prefix + 'werf build --stages-storage=":local" -s :local'
        analysis = analyse(text)
        (call,) = analysis.werf_calls
        assert call.start == len(prefix)
        spans = [text[f.start : f.end] for f in call.flags]
        assert spans == ['--stages-storage=":local"', "-s :local"]
        assert [f.value.start - len(prefix) for f in call.flags] == [28, 40]


def test_words_of_drops_comments_and_continuations() -> None:
    text = 'werf build \\\n  --dir . # comment\necho "a \\\nb" \'c \\\nd\''
    assert words_of(text) == ["werf", "build", "--dir", ".", "echo", "a b", "c \\\nd"]


def test_words_of_shows_substitutions_once_and_their_commands_as_statements() -> None:
    text = 'image=$(werf stage image -s :local app) && echo "$image"'
    assert statements_of(text) == [
        ("image=$(…)",), ("werf", "stage", "image", "-s", ":local", "app"), ("echo", '"$image"'),
    ]


def test_words_of_heredoc_body_is_one_word_but_its_substitutions_are_commands() -> None:
    text = "cat <<EOF > v.yaml\ntag: $(werf stage image -s :local)\nEOF\n"
    assert statements_of(text) == [
        ("cat", "EOF", "v.yaml", "tag: $(…)\n", "EOF"),
        ("werf", "stage", "image", "-s", ":local"),
    ]


def test_assignment_lines_glued_onto_a_command_are_statements_of_their_own() -> None:
    # tree-sitter-bash parses this as one command with two env prefixes; bash does not
    text = "A=1 WERF_STAGES_STORAGE=:local\nwerf build -s :local\n"
    assert statements_of(text) == [("A=1", "WERF_STAGES_STORAGE=:local"),
                                   ("werf", "build", "-s", ":local")]
    analysis = analyse(text)
    (call,) = analysis.werf_calls
    assert call.prefixes == ()
    assert call.start == text.index("werf")
    assert [(a.name, a.kind, a.siblings) for a in analysis.assignments] == [
        ("A", "plain", 2), ("WERF_STAGES_STORAGE", "plain", 2),
    ]
    # with a comment in between, tree-sitter even made ``if`` a command name
    text = "A=1 B=2 # два\n# werf\nif true; then werf build -s :local; fi\n"
    assert statements_of(text) == [("A=1", "B=2"), ("true",), ("werf", "build", "-s", ":local")]
    (call,) = analyse(text).werf_calls
    assert text[call.start : call.end] == "werf build -s :local"


def test_statements_catch_a_swallowed_line_that_flat_words_miss() -> None:
    before = "werf build \\\n  --dir . \\\n  -s :local\necho next\n"
    glued = "werf build \\\n  --dir . \\\necho next\n"  # the dangling \ a naive removal leaves
    assert words_of(glued) == [w for w in words_of(before) if w not in ("-s", ":local")]
    assert not removal_consistent(before, glued, ["-s", ":local"], [])
    (call, flag), = all_flags(analyse(before))
    assert removal_consistent(before, apply(before, flag_removal(before, call, flag)),
                              ["-s", ":local"], [])


# -- removals ------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", REMOVAL_CASES, ids=lambda p: p.name)
def test_removal_matches_fixture(case: Path) -> None:
    (before_path,) = case.glob("before.*")
    (after_path,) = case.glob("after.*")
    before = before_path.read_text(encoding="utf-8")
    expected = after_path.read_text(encoding="utf-8")
    meta = json.loads((case / "case.json").read_text(encoding="utf-8"))
    analysis = analyse(before)
    assert not analysis.has_errors
    if meta["target"] == "flag":
        call, flag = all_flags(analysis)[meta["index"]]
        change = flag_removal(before, call, flag)
        assert words_of(before[flag.start : flag.end]) == meta["removed"]
    else:
        named = [a for a in all_assignments(analysis) if a.name == meta["name"]]
        change = assignment_removal(before, named[meta["index"]])
    after = apply(before, change)
    assert after == expected
    assert not analyse(after).has_errors
    assert removal_consistent(before, after, meta["removed"], meta["added"])
    assert words_of(after) in _minus(words_of(before), meta["removed"], meta["added"])


def _minus(words: list[str], removed: list[str], added: list[str]) -> list[list[str]]:
    """``words`` with one contiguous run of ``removed`` replaced by ``added``, wherever the run
    occurs (the same flag may appear on several commands)."""
    return [
        [*words[:at], *added, *words[at + len(removed) :]]
        for at in range(len(words) - len(removed) + 1)
        if words[at : at + len(removed)] == removed
    ]


def test_removal_fixtures_cover_every_continuation_position() -> None:
    names = {case.name for case in REMOVAL_CASES}
    for needed in ("r01-middle", "r05-own-continued-line", "r06-last-continued",
                   "r07-first-with-more", "r08-before-continuation", "r12-value-continued",
                   "a01-export-alone", "a02-export-among", "a04-prefix", "a09-then-body"):
        assert needed in names


def test_removal_handles_crlf_continuations() -> None:
    text = "werf deploy \\\r\n  --stages-storage :local \\\r\n  --env dev\r\necho ok\r\n"
    (call, flag), = all_flags(analyse(text))
    after = apply(text, flag_removal(text, call, flag))
    assert after == "werf deploy \\\r\n  --env dev\r\necho ok\r\n"


def test_removing_every_flag_leaves_the_rest_of_the_command() -> None:
    text = "werf converge \\\n  -s :local \\\n  -S :local \\\n  --env prod\necho done\n"
    analysis = analyse(text)
    for call, flag in all_flags(analysis):
        after = apply(text, flag_removal(text, call, flag))
        assert removal_consistent(text, after, words_of(text[flag.start : flag.end]), [])
        (new_call,) = [c for c in analyse(after).werf_calls]
        assert len(new_call.flags) == 1


# -- replacements --------------------------------------------------------------------------------
REPLACE_CASES = json.loads((FIXTURES / "replace.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", REPLACE_CASES, ids=lambda c: c["expected"])
def test_replacement_keeps_quoting(case: dict[str, str]) -> None:
    text = case["text"]
    analysis = analyse(text)
    flags, assignments = all_flags(analysis), all_assignments(analysis)
    target: FlagUse | Assignment = flags[0][1] if case["target"] == "flag" else assignments[0]
    after = apply(text, replacement_for_value(target, case["address"]))
    assert after == case["expected"]
    assert not analyse(after).has_errors


def test_replacement_refuses_an_assignment_without_value() -> None:
    (assignment,) = analyse("export WERF_STAGES_STORAGE").assignments
    with pytest.raises(ValueError):
        replacement_for_value(assignment, "$CI_REGISTRY_IMAGE/stages")


# -- small API facts -----------------------------------------------------------------------------
def test_mentions_werf_prefilter() -> None:
    assert mentions_werf("werf build")
    assert mentions_werf("export WERF_STAGES_STORAGE=x")
    assert mentions_werf("multiwerf use 1.1 stable")
    assert not mentions_werf("docker build . && helm upgrade")


def test_analysis_is_cached_per_text() -> None:
    text = "werf build -s :local"
    assert analyse(text) is analyse(text)


def test_importing_the_shell_layer_does_not_load_tree_sitter() -> None:
    code = "import sys, ciswitch.shell; print('tree_sitter' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


# -- the shared corpus ---------------------------------------------------------------------------
def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is missing at {CORPUS}")
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".tsv")


def _yaml_strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _yaml_strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in _yaml_strings(item)]
    return []


def _corpus_texts() -> list[tuple[str, str]]:
    """Every corpus file as shell text, and every werf-mentioning YAML string of it."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    texts = []
    for path in _corpus_files():
        text = path.read_text(encoding="utf-8")
        name = str(path.relative_to(CORPUS))
        texts.append((name, text))
        if path.suffix in (".yml", ".yaml"):
            try:
                documents = list(YAML(typ="safe").load_all(text))
            except YAMLError:
                continue  # the corpus holds invalid YAML on purpose; the YAML layer reports it
            for string in _yaml_strings(documents):
                if mentions_werf(string):
                    texts.append((name, string))
    return texts


def test_analyse_runs_over_the_whole_corpus() -> None:
    texts = _corpus_texts()
    assert len(texts) > 100
    calls = 0
    for _, text in texts:
        analysis = analyse(text)
        calls += len(analysis.werf_calls)
        for call in analysis.werf_calls:
            assert 0 <= call.start < call.end <= len(text)
            for flag in call.flags:
                assert text[flag.value.start : flag.value.end] == flag.value.raw
    assert calls > 100


def test_every_local_flag_of_the_corpus_can_be_removed_cleanly() -> None:
    removed = 0
    for name, text in _corpus_texts():
        analysis = analyse(text)
        for call, flag in all_flags(analysis):
            if flag.value.value != ":local" or not call.takes_stages_storage:
                continue
            after = apply(text, flag_removal(text, call, flag))
            words = words_of(text[flag.start : flag.end])
            assert removal_consistent(text, after, words, []), (name, flag)
            assert analyse(after).has_errors <= analysis.has_errors, (name, flag)
            removed += 1
    assert removed >= 30


def test_shell_scripts_of_the_corpus_use_local_where_the_manifest_says() -> None:
    _corpus_files()
    expectations = json.loads((FIXTURES / "corpus_expectations.json").read_text("utf-8"))
    expectations.pop("_comment")
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        manifest = {row["file"]: row for row in csv.DictReader(handle, delimiter="\t")}
    shell_files = {f for f, row in manifest.items() if row["kind"] == "shell"}
    assert shell_files == set(expectations)
    for name, expected in expectations.items():
        row = manifest[name]
        assert row["uses_local"] == "yes"
        text = (CORPUS / name).read_text(encoding="utf-8")
        analysis = analyse(text)
        flags = [
            [text.count("\n", 0, f.start) + 1, f.spelling, f.form]
            for _, f in all_flags(analysis) if f.name == "stages-storage"
        ]
        assert flags == expected["flags"], name
        assert all(f.value.value == ":local" for _, f in all_flags(analysis))
        assignments = [
            [text.count("\n", 0, a.start) + 1, a.name, a.kind]
            for a in analysis.assignments if a.name == "WERF_STAGES_STORAGE"
        ]
        assert assignments == expected["assignments"], name
        # the notes name the spelling the file uses
        for _, spelling, _ in expected["flags"]:
            assert f"{spelling} :local" in row["notes"] or f"{spelling}=:local" in row["notes"]


# -- property: removing a flag from any layout of a werf command --------------------------------
_OTHER_ARGS = [["--dir", "."], ["--log-verbose"], ["--tag-custom", "$TAG"],
               ["--images-repo", ":minikube"], ["--env", '"прод"'], ["--set", "a=b"]]
_FLAGS = [["--stages-storage", ":local"], ["--stages-storage=:local"], ["-s", ":local"],
          ["-s=:local"], ["-s:local"], ["-s", '":local"'], ["--stages-storage", "':local'"],
          ['--stages-storage=":local"'], ["-S", ":local"], ["--synchronization=:local"]]
_GAPS = [" ", "  ", "\t", " \\\n  ", " \\\n\t", "\\\n    "]


@st.composite
def werf_scripts(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(st.sampled_from(_OTHER_ARGS + _FLAGS), min_size=1, max_size=6))
    if not any(p in _FLAGS for p in pieces):
        pieces.append(draw(st.sampled_from(_FLAGS)))
    words = [w for piece in pieces for w in piece]
    line = "werf " + draw(st.sampled_from(["build", "converge", "stages purge"]))
    for word in words:
        line += draw(st.sampled_from(_GAPS)) + word
    head = draw(st.sampled_from(["", "echo before\n", "  ", "\t", "run ", "x=$("]))
    if head == "x=$(":
        line += ")"
    tail = draw(st.sampled_from(["\necho after\n", "", "\n", " # комментарий\necho after",
                                 " && echo after\n", "; echo after"]))
    return head + line + tail


@settings(max_examples=300, deadline=None)
@given(werf_scripts())
def test_any_flag_removal_keeps_everything_else(text: str) -> None:
    analysis = analyse(text)
    assert not analysis.has_errors
    flags = all_flags(analysis)
    assert flags
    for call, flag in flags:
        after = apply(text, flag_removal(text, call, flag))
        assert not analyse(after).has_errors
        assert removal_consistent(text, after, words_of(text[flag.start : flag.end]), [])
        (new_call,) = analyse(after).werf_calls
        assert len(new_call.flags) == len(call.flags) - 1
        assert new_call.subcommand == call.subcommand


_ASSIGNMENT_LINES = [
    "export WERF_STAGES_STORAGE=:local", "export A=1 WERF_STAGES_STORAGE=':local' B=2",
    "WERF_STAGES_STORAGE=:local werf build", "env -i WERF_STAGES_STORAGE=:local werf build",
    "if [ -z \"$X\" ]; then export WERF_STAGES_STORAGE=:local; fi",
    "cd app && export WERF_STAGES_STORAGE=\":local\"",
    "export WERF_STAGES_STORAGE=:local; werf build",
    "declare -x WERF_STAGES_STORAGE=:local", "WERF_STAGES_STORAGE=:local B=2",
    "  export WERF_STAGES_STORAGE=:local  # локально",
    "for d in a b; do\n  export WERF_STAGES_STORAGE=:local\ndone",
]
_OTHER_LINES = ["echo start", "werf build -s :local", "cd \"$DIR\"", "B=1 C=2", "# werf"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(_OTHER_LINES), max_size=2),
    st.sampled_from(_ASSIGNMENT_LINES),
    st.lists(st.sampled_from(_OTHER_LINES), max_size=2),
    st.sampled_from(["\n", ""]),
)
def test_any_assignment_removal_keeps_everything_else(
    before_lines: list[str], line: str, after_lines: list[str], end: str,
) -> None:
    text = "\n".join([*before_lines, line, *after_lines]) + end
    analysis = analyse(text)
    assert not analysis.has_errors
    (target,) = [a for a in all_assignments(analysis) if a.name == "WERF_STAGES_STORAGE"]
    change = assignment_removal(text, target)
    after = apply(text, change)
    assert not analyse(after).has_errors
    statement = words_of(text[target.statement_start : target.statement_end])
    if change[2] in (":", "true"):
        assert removal_consistent(text, after, statement, [change[2]])
    elif target.kind == "prefix" or target.siblings > 1:
        assert removal_consistent(text, after, words_of(text[target.start : target.end]), [])
    else:
        assert removal_consistent(text, after, statement, [])
    assert "WERF_STAGES_STORAGE" not in "".join(words_of(after))


@pytest.mark.parametrize("before", ["# note\n", "# заметка\n", "# 🚀\n", "echo 'é' && "])
def test_offsets_are_characters_whatever_comes_before(before: str) -> None:
    """Texts that differ only in whether something before the werf call is ASCII: each flag,
    word and assignment is where its characters are (tree-sitter counts bytes)."""
    text = before + 'A=1 werf build --stages-storage=":local" -s x "$X"'
    reading = analyse(text)
    (call,) = reading.werf_calls
    flag = call.flags[0]
    assert text[flag.start : flag.end] == '--stages-storage=":local"'
    assert text[flag.value.start : flag.value.end] == '":local"'
    assert [text[w.start : w.end] for w in call.args][-1] == '"$X"'
    (prefix,) = call.prefixes
    assert text[prefix.start : prefix.end] == "A=1"
    assert call.werf_span == (text.index("werf"), text.index("werf") + 4)
