"""How far real CI files are from the hostile-input limits of ``ciswitch.source``.

For every YAML file of a corpus directory (default: ``../shared/corpus`` beside the checkout)
and for the generated benchmark files, prints the nodes reached through aliases (each use of
an anchor counting its subtree again) and the nesting depth through aliases, then the maxima
against :data:`~ciswitch.source.ALIAS_ALLOWANCE` (the limit is that plus the document's own
nodes; the fixed part alone is compared here) and :data:`~ciswitch.source.MAX_DEPTH`.

Usage: ``python bench/yaml_limits.py [--corpus DIR] [--sizes 100,1000,10000]``
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from benchlib import parse_sizes
from generate import generate
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, SequenceNode

from ciswitch.source import ALIAS_ALLOWANCE, MAX_DEPTH

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


def measure(root: Any) -> tuple[int, int]:
    """(nodes reached through aliases, depth through aliases) of a composed document:
    computed independently of ciswitch, by expanding the tree outright."""
    reached = 0
    depth = 0
    seen: set[int] = set()
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, level = stack.pop()
        if id(node) in seen:
            reached += 1
        seen.add(id(node))
        depth = max(depth, level)
        if type(node) is MappingNode:
            stack.extend((part, level + 1) for pair in node.value for part in pair)
        elif type(node) is SequenceNode:
            stack.extend((child, level + 1) for child in node.value)
    return reached, depth


def files_of(corpus: Path) -> list[tuple[str, str]]:
    return [
        (str(p.relative_to(corpus)), p.read_text(encoding="utf-8"))
        for p in sorted(corpus.rglob("*"))
        if p.suffix in (".yml", ".yaml") and p.is_file()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--sizes", type=parse_sizes, default=[100, 1000, 10000])
    args = parser.parse_args()
    inputs = files_of(args.corpus) if args.corpus.is_dir() else []
    inputs += [(f"generated {n} jobs", generate(n)) for n in args.sizes]
    yaml = YAML(typ="safe", pure=False)
    most_reached = most_depth = most_reached_real = 0
    for name, text in inputs:
        reached = depth = 0
        try:
            documents = [d for d in yaml.compose_all(text) if d is not None]
        except YAMLError as err:
            print(f"{name}: not valid YAML ({str(err).splitlines()[0]}), skipped")
            continue
        for document in documents:
            r, d = measure(document)
            reached, depth = reached + r, max(depth, d)
        most_reached, most_depth = max(most_reached, reached), max(most_depth, depth)
        if not name.startswith("generated"):
            most_reached_real = max(most_reached_real, reached)
        print(f"{name}: {reached} node(s) through aliases, depth {depth}")
    print(
        f"maximum over {len(inputs)} file(s): {most_reached} node(s) through aliases"
        f" (allowance {ALIAS_ALLOWANCE} plus the file's own nodes;"
        f" {ALIAS_ALLOWANCE // max(most_reached_real, 1)}x the largest real file's"
        f" {most_reached_real}),"
        f" depth {most_depth} (limit {MAX_DEPTH})"
    )


if __name__ == "__main__":
    main()
