"""A job's tables of variable definitions made over the lowest layer's own tables
(:func:`tables_over`, what the model builder uses for every job) are those made from all the
layers at once (:func:`job_definitions` and :func:`job_candidates`): the same names in the
same order, the same definitions in each tuple, in the same order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ciswitch.gitlab.model import Variable
from ciswitch.gitlab.variables import Shared, job_candidates, job_definitions, tables_over
from ciswitch.source import SourceFile
from ciswitch.yaml.nodes import Entry, Loc, mapping_entries

_TEXT = "A: '1'\nB: '2'\nC: '3'\nA2: '4'\nD: '5'\n"
_FILE = SourceFile("vars.yml", _TEXT.encode(), _TEXT, False)
_ENTRIES: list[Entry] = list(mapping_entries(_FILE, _FILE.yaml_documents()[0]).values())


def _variable(index: int, name: str, conditional: bool, own_value: bool) -> Variable:
    """A definition of ``name`` from one of the file's entries; with ``own_value`` False, the
    first entry's value node, so that two definitions may share a key and a value (the same
    entry read twice, which the candidates take once)."""
    entry = _ENTRIES[index % len(_ENTRIES)]
    value = entry.value if own_value else _ENTRIES[0].value
    return Variable(name, entry, Loc(_FILE, value), "job", True, conditional)


_VARIABLES = st.builds(
    _variable,
    st.integers(0, 4),
    st.sampled_from(["A", "B", "C", "D", "E"]),
    st.booleans(),
    st.booleans(),
)
_LAYER = st.lists(_VARIABLES, max_size=5)


def _shape(table: dict[str, tuple[Variable, ...]]) -> list[tuple[str, list[int]]]:
    return [(name, [id(var) for var in found]) for name, found in table.items()]


@settings(max_examples=800, deadline=None)
@given(_LAYER, st.lists(_LAYER, max_size=4), st.booleans())
def test_tables_over_the_lowest_layer_are_those_of_all_layers(
    lowest: list[Variable], upper: list[list[Variable]], with_shared: bool
) -> None:
    shared: Shared | None = {} if with_shared else None
    below_definitions = job_definitions([lowest], shared)
    below = (below_definitions, job_candidates(below_definitions, shared))
    definitions, candidates = tables_over(below, upper, shared)
    expected = job_definitions([lowest, *upper])
    assert _shape(definitions) == _shape(expected)
    assert _shape(candidates) == _shape(job_candidates(expected))


def test_the_lowest_tables_are_kept_when_no_layer_defines_anything() -> None:
    lowest = [_variable(0, "A", False, True), _variable(1, "B", True, True)]
    below_definitions = job_definitions([lowest])
    below = (below_definitions, job_candidates(below_definitions))
    definitions, candidates = tables_over(below, [[], []])
    assert definitions is below[0] and candidates is below[1]
