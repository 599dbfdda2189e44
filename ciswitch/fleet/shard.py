"""``--shard I/N``: a stable share of the fleet for one of N parallel CI jobs.

Each repository goes to shard ``hash(key) mod N``, so N jobs started with ``parallel: N`` split
the work with no coordination, and a repository stays in the same shard when others are added
to or removed from the list (a retried job redoes exactly its own share).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ciswitch.errors import CiswitchError

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    index: int  #: 1-based, like CI_NODE_INDEX
    total: int

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"

    def owns(self, key: str) -> bool:
        digest = hashlib.sha256(key.encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.total == self.index - 1


def parse_shard(text: str) -> Shard:
    index_text, sep, total_text = text.strip().partition("/")
    try:
        index, total = int(index_text), int(total_text)
    except ValueError:
        index = total = 0
    if not sep or total < 1 or not 1 <= index <= total:
        raise CiswitchError(f"invalid shard {text!r}: expected I/N with 1 <= I <= N")
    return Shard(index, total)


def shard_from_env(env: Mapping[str, str] | None = None) -> Shard | None:
    """The shard GitLab's ``parallel:`` gives this job (``CI_NODE_INDEX``/``CI_NODE_TOTAL``)."""
    env = os.environ if env is None else env
    index, total = env.get("CI_NODE_INDEX"), env.get("CI_NODE_TOTAL")
    if not index or not total:
        return None
    return parse_shard(f"{index}/{total}")


def select(items: Sequence[T], keys: Sequence[str], shard: Shard | None) -> list[T]:
    """The items (paired with their keys) that belong to ``shard`` (all without one)."""
    if shard is None:
        return list(items)
    return [item for item, key in zip(items, keys, strict=True) if shard.owns(key)]
