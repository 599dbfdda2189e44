"""Source files: decoded text plus everything needed to write them back byte for byte.

A :class:`SourceFile` remembers the BOM, the newline style and whether the file ended with a
newline, because the fix engine promises that every byte it did not have to change stays as it
was. YAML is composed (never constructed) with ruamel.yaml's C composer: nodes keep character
offsets into :attr:`SourceFile.text`, which is the decoded text *without* the BOM, so marks and
text agree (the C reader skips a BOM without counting it).
"""

from __future__ import annotations

import bisect
import functools
import gc
import re
from array import array
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from operator import is_
from types import MethodType
from typing import Any

from ciswitch.compact import Compaction
from ciswitch.errors import CiswitchError
from ciswitch.model import Position
from ciswitch.node_factory import (
    SCALAR_KINDS,
    SCALAR_PARTS,
    SEQUENCE_KINDS,
    fast_node_classes,
)
from ciswitch.patterns import lazy_compile
from ciswitch.record import Record
from ciswitch.ruamel_c import compose_all
from ciswitch.workspace import Workspace

BOM = "\ufeff"
#: a line feed: lines of a file (positions, line texts) end there
_NEWLINE = lazy_compile("\n")


class SourceFile(Record, unshown=('_line_starts', '_documents')):
    """One file of the repository, decoded."""

    path: str
    #: the bytes as read; None when they are not kept (see :attr:`raw`)
    _raw: bytes | None
    text: str
    bom: bool
    executable: bool
    _line_starts: array[int] | None
    _documents: list[Any] | None

    def __init__(self, path: str, _raw: bytes | None, text: str, bom: bool,
                 executable: bool = False, _line_starts: array[int] | None = None,
                 _documents: list[Any] | None = None) -> None:
        self.path = path
        self._raw = _raw
        self.text = text
        self.bom = bom
        self.executable = executable
        self._line_starts = _line_starts
        self._documents = _documents

    @property
    def raw(self) -> bytes:
        """The file's bytes. Decoding is strict UTF-8, so encoding the text again (with the
        BOM it had) gives them back exactly; files read from a workspace keep only the text,
        which halves what a big CI file costs in memory."""
        return self._raw if self._raw is not None else self.encode(self.text)

    @property
    def newline(self) -> str:
        """The file's dominant line ending (``\\r\\n`` or ``\\n``)."""
        crlf = self.text.count("\r\n")
        return "\r\n" if crlf and crlf * 2 >= self.text.count("\n") else "\n"

    @property
    def line_starts(self) -> array[int]:
        """Offsets where lines start (a compact array: big CI files have 10^5 lines)."""
        if self._line_starts is None:
            starts = array("q", [0])
            # (the pattern's matches cost a quarter less than a loop of str.find)
            starts.extend(match.end() for match in _NEWLINE.finditer(self.text))
            self._line_starts = starts
        return self._line_starts

    def position(self, offset: int) -> Position:
        """1-based line and column (in characters) of a character offset."""
        starts = self.line_starts
        index = bisect.bisect_right(starts, offset) - 1
        return Position(index + 1, offset - starts[index] + 1)

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its line ending."""
        starts = self.line_starts
        start = starts[line - 1]
        end = starts[line] if line < len(starts) else len(self.text)
        return self.text[start:end].rstrip("\r\n")

    def encode(self, text: str) -> bytes:
        """Encode a new version of this file's text the way the file was encoded."""
        return ((BOM if self.bom else "") + text).encode("utf-8")

    def yaml_documents(self) -> list[Any]:
        """The composed YAML documents (ruamel nodes), parsed once and cached.

        Raises :class:`CiswitchError` with the file, line and column for invalid YAML.
        """
        if self._documents is None:
            self._documents = compose_documents(self.text, self.path)
        return self._documents


def decode(path: str, raw: bytes) -> tuple[str, bool]:
    """UTF-8 with or without BOM; anything else (binary, other encodings) is an error."""
    if b"\x00" in raw:
        raise CiswitchError("binary file (contains NUL bytes), not a text file", path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise CiswitchError(
            f"not valid UTF-8 (byte 0x{raw[err.start]:02x} at offset {err.start})", path, line
        ) from err
    if text.startswith(BOM):
        return text[1:], True
    return text, False


def read_source(
    workspace: Workspace, path: str, known: Mapping[str, SourceFile] | None = None
) -> SourceFile:
    """Read and decode ``path`` from the workspace, or take it from ``known`` (files already
    decoded and composed, by path: ``fix`` checking its own result)."""
    if known is not None:
        found = known.get(path)
        if found is not None:
            return found
    raw = workspace.read_bytes(path)
    text, bom = decode(path, raw)
    return SourceFile(path, None, text, bom, workspace.is_executable(path))


#: the YAML class of :func:`safe_yaml`, made on first use
_SAFE_YAML: list[type[Any]] = []


def safe_yaml() -> Any:
    """A new ``YAML(typ="safe", pure=False)`` (C parser), without ruamel's search for
    plug-ins: each new ``YAML`` globs its package directory for them, a millisecond per
    file read, and plug-ins only ever add other ``typ`` values (a ``safe`` one uses none)."""
    if not _SAFE_YAML:
        from ruamel.yaml import YAML

        class SafeYAML(YAML):
            def official_plug_ins(self) -> list[str]:
                return []

        _SAFE_YAML.append(SafeYAML)
    return _SAFE_YAML[0](typ="safe", pure=False)


def compose_documents(text: str, path: str) -> list[Any]:
    """Compose every YAML document of ``text`` with the C composer, GC paused (much faster on
    big files: composing allocates many small objects the collector would scan again and
    again)."""
    check_nesting(text, path)
    resolver = _fixed_version_resolver()
    # ruamel's own resolver (a loader made while path resolvers are registered) knows the
    # kinds of nodes by ruamel's classes only: then the C composer keeps them
    path_resolvers: object = getattr(resolver, "yaml_path_resolvers", None)
    compaction = Compaction(text)
    making = (nullcontext(False) if path_resolvers
              else fast_node_classes(compaction.scalar_maker(*SCALAR_PARTS)))
    with gc_paused():
        with making as made:
            documents = _compose_all(
                resolver, text, path, compaction.document_done if made else None
            )
        reaches = compaction.walk(documents)
        for document, reach in zip(documents, reaches, strict=True):
            size, height, distinct, recursive = reach
            if recursive or height > MAX_DEPTH or size - distinct > ALIAS_ALLOWANCE + distinct:
                check_aliases(document, path)  # it says which limit, and where
    return documents


#: Deepest nesting of YAML collections accepted, counted through aliases. Real CI files stay
#: under 20; ruamel's C composer overflows the C stack (a crash, not an error) past some ten
#: thousand levels, and ciswitch's own walks recurse once or twice a level.
MAX_DEPTH = 200
#: Nodes a document may reach through aliases (each use of an anchor counts its whole subtree
#: again) beyond its own distinct nodes: the limit is this plus the number of distinct nodes,
#: so expansion may at most double a big file. Real files are far below (see the README);
#: an alias bomb of a kilobyte is far above, and is refused in well under a second.
ALIAS_ALLOWANCE = 100_000

#: Leading indentation and block indicators this long could nest deeper than half the limit
#: (a block level costs at least one column): at the start of the text (``_DEEP_FIRST_LINE``,
#: matched there) or of a later line (``_DEEP_LINE``, searched: its line break first lets the
#: regular expression engine skip to each line break instead of trying every character).
_DEEP_BODY = r"(?:[ \t]|[-?:](?=[ \t]|$)){" + str(MAX_DEPTH // 2) + "}"
_DEEP_FIRST_LINE = lazy_compile(_DEEP_BODY, re.M)
_DEEP_LINE = lazy_compile("\n" + _DEEP_BODY, re.M)
#: a later line starting with as many of those characters, lookahead or not: what
#: ``_DEEP_LINE`` matches starts so, and a run of one character class costs the regular
#: expression engine a fifth of the alternation with its lookahead (a big file's lines are
#: each tried once), so only a text with such a line is searched for ``_DEEP_LINE`` itself
_DEEP_LINE_CHARS = lazy_compile(r"\n[ \t?:\-]{" + str(MAX_DEPTH // 2) + "}")


def check_nesting(text: str, path: str) -> None:
    """Refuse YAML nested deeper than :data:`MAX_DEPTH` *before* composing it.

    A cheap bound first: flow nesting needs one ``[`` or ``{`` per level (and none at all
    without a place where a flow collection can start), block nesting a column per level.
    Only a file where that bound is too high is scanned exactly, with the C parser's events
    (a loop, no recursion: it cannot overflow)."""
    if (
        _DEEP_FIRST_LINE.match(text) is None
        and (_DEEP_LINE_CHARS.search(text) is None or _DEEP_LINE.search(text) is None)
        and (text.count("[") + text.count("{") < MAX_DEPTH // 2 or not _flow_may_start(text))
    ):
        return
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.events import (
        CollectionEndEvent,
        MappingStartEvent,
        SequenceStartEvent,
    )

    yaml = safe_yaml()
    depth = 0
    try:
        for event in yaml.parse(text):
            if isinstance(event, (MappingStartEvent, SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise CiswitchError(
                        f"YAML nested deeper than {MAX_DEPTH} levels: refused",
                        path,
                        event.start_mark.line + 1,
                    )
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except YAMLError:
        return  # invalid YAML: composing reports it with its place
    finally:
        _release(yaml)


def _flow_may_start(text: str) -> bool:
    """Whether a flow collection may start somewhere in ``text`` (an over-approximation).

    In block context a ``[`` or ``{`` starts one only where a node starts: after a line's
    indentation, after ``-``, ``?`` or ``:`` (``---`` too), behind any anchors and tags.
    Anywhere else (``${VAR}`` and ``[ -f x ]`` in scripts, a quoted text, a block scalar)
    it is part of a scalar, or follows a finished node, where the parser stops with an error
    before any event. Inside a flow collection everything is flow, but that collection's
    own start was such a place.

    The openers are found with ``str.find``, ``[`` first and then ``{`` (the answer does not
    depend on the order): on a big file that is a twentieth of a regular expression's scan
    for either of them."""
    find = text.find
    rfind = text.rfind
    for opener in "[{":
        at = find(opener)
        while at != -1:
            head = text[rfind("\n", 0, at) + 1:at].rstrip(" \t")
            while head:
                word = max(head.rfind(" "), head.rfind("\t")) + 1
                if head[word] not in "&!":
                    break
                head = head[:word].rstrip(" \t")  # an anchor or a tag: peel it off
            if not head or head[-1] in "-?:":
                return True
            at = find(opener, at + 1)
    return False


def check_aliases(root: Any, path: str) -> None:
    """Refuse a document whose aliases reach more than :data:`ALIAS_ALLOWANCE` nodes beyond
    its distinct ones (plus their number), nest deeper than :data:`MAX_DEPTH` through
    aliases, or refer to themselves.

    Composed nodes share what an alias names, so each node's expanded size and height are
    computed once (a loop with its own stack, no recursion): the cost is the file's size, never
    the expansion's. :func:`compose_documents` runs it only on a document where the compaction
    walk measured a limit passed (:data:`ciswitch.compact.Reach`), for the words and the place
    of the refusal."""
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    done: dict[int, tuple[int, int]] = {}  # id -> (expanded size, expanded height)
    open_: set[int] = set()
    leaf = (1, 0)
    # a collection is on the stack twice: first with None (its children not done yet), then
    # with its children once they are pushed; scalars are done as soon as they are seen
    stack: list[tuple[Any, list[Any] | None]] = []
    cls = type(root)
    if cls is not MappingNode and cls is not SequenceNode:
        done[id(root)] = leaf
    else:
        stack.append((root, None))
    while stack:
        node, children = stack.pop()
        key = id(node)
        if key in done:
            continue
        if children is None:
            if key in open_:
                raise CiswitchError(
                    "recursive alias (an anchor used inside itself): refused",
                    path,
                    node.start_mark.line + 1,
                )
            open_.add(key)
            children = (
                [part for pair in node.value for part in pair]
                if type(node) is MappingNode else node.value
            )
            stack.append((node, children))
            for child in children:
                child_key = id(child)
                if child_key in done:
                    continue
                cls = type(child)
                if cls is MappingNode or cls is SequenceNode:
                    stack.append((child, None))
                else:
                    done[child_key] = leaf
            continue
        size = 1
        height = 0
        for child in children:
            child_size, child_height = done[id(child)]
            size += child_size
            if child_height > height:
                height = child_height
        open_.discard(key)
        done[key] = (size, height + 1)
        if height + 1 > MAX_DEPTH:
            raise CiswitchError(
                f"YAML nested deeper than {MAX_DEPTH} levels through aliases: refused",
                path,
                node.start_mark.line + 1,
            )
    distinct = len(done)
    reached = done[id(root)][0] - distinct
    if reached > ALIAS_ALLOWANCE + distinct:
        raise CiswitchError(
            f"aliases reach {reached:,} nodes beyond the document's {distinct:,}"
            f" (at most {ALIAS_ALLOWANCE:,} more than that): refused as an alias bomb",
            path,
            root.start_mark.line + 1,
        )


@functools.cache
def _fixed_version_resolver() -> type:
    """ruamel's resolver with its YAML-version table looked up once per composed text, and the
    tag of each distinct plain scalar text found once.

    The stock resolver finds the YAML version anew for every scalar (twice), through two
    attribute lookups that fail with ``AttributeError`` under the C composer: that is about
    half of composing a big file. Under the C composer the version never comes from the
    document (its ``%YAML`` directive is not passed to the resolver), so it is the same for
    every node and the table can be kept: the nodes and their tags are exactly the same.

    With the table fixed and no path resolvers (ruamel's registrations by the place of a node
    in the document; ciswitch registers none), a plain scalar's tag is a function of its text
    alone, and any other node's tag is the default tag of its kind: a big file repeats its
    plain texts (``script``, ``stage``, ``true``) in every job, so each distinct text goes
    through the implicit resolvers' regular expressions once per composed text. The C
    composer also calls the path resolvers' bookkeeping (``descend_resolver``,
    ``ascend_resolver``) around every node, which does nothing without them: here it does
    nothing at once. A loader made while path resolvers are registered uses ruamel's own
    three methods.
    """
    from ruamel.yaml.nodes import ScalarNode
    from ruamel.yaml.resolver import VersionedResolver

    table_of = VersionedResolver.__dict__["versioned_resolver"].fget
    assert table_of is not None
    stock_resolve = VersionedResolver.resolve
    stock_descend = VersionedResolver.descend_resolver
    stock_ascend = VersionedResolver.ascend_resolver

    class FixedVersionResolver(VersionedResolver):
        _table: Any = None
        #: the tag of each plain scalar text met so far (this composed text's own)
        _plain: dict[str, Any]
        #: the plain scalars' tags met so far, by suffix
        _by_suffix: dict[str, Any]

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._plain = {}
            self._by_suffix = {}
            if self.yaml_path_resolvers:  # ruamel's own methods, bound to this loader
                self.resolve = MethodType(stock_resolve, self)  # type: ignore[method-assign]
                self.descend_resolver = MethodType(stock_descend, self)
                self.ascend_resolver = MethodType(stock_ascend, self)

        @property
        def versioned_resolver(self) -> Any:
            table = self._table
            if table is None:
                table = self._table = table_of(self)
            return table

        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            # the C composer names the kind by what it makes nodes with: ruamel's class,
            # or the function standing for it (:mod:`ciswitch.node_factory`)
            if kind in SCALAR_KINDS:
                if implicit[0]:
                    plain = self._plain
                    tag = plain.get(value)
                    if tag is None:
                        tag = stock_resolve(self, ScalarNode, value, implicit)
                        if tag.handle is None and tag.handles is None:
                            # one tag object for every text of a kind (the compaction's
                            # sharing, done once per text here rather than per node)
                            tag = self._by_suffix.setdefault(tag.suffix, tag)
                        plain[value] = tag
                    return tag
                return self.DEFAULT_SCALAR_TAG
            if kind in SEQUENCE_KINDS:
                return self.DEFAULT_SEQUENCE_TAG
            return self.DEFAULT_MAPPING_TAG

        # Path resolvers aside (they get ruamel's methods above), descending and ascending
        # do nothing; the C composer calls both for every node. Built-in functions that
        # take the same arguments and change nothing cost it no Python frame (they are no
        # descriptors either: the instance hands them over unbound).
        descend_resolver: Any = is_  # (node, index) -> a bool, ignored
        ascend_resolver: Any = tuple  # () -> the empty tuple

    return FixedVersionResolver


def _release(yaml: Any) -> None:
    """Drop what ruamel's loader keeps of the text once the nodes are out.

    The loader ruamel makes per call refers to itself (and its class to the ``YAML`` object),
    so it is freed by the cycle collector only, with the text and the C parser's copy of it
    inside. :func:`gc_paused` hands such garbage to the oldest generation, which is collected
    rarely: a process that composes file after file (a fleet worker) would keep every text.
    Breaking the loader's self references lets reference counting free it at once. The
    attributes are ruamel's private ones: when they are not there, nothing is done.
    """
    loader = getattr(yaml, "_scanner", None)
    for name in ("_scanner", "_stream"):
        if hasattr(yaml, name):
            setattr(yaml, name, None)
    state = getattr(loader, "__dict__", None)
    if isinstance(state, dict):
        state.clear()


def _compose_all(
    resolver: type, text: str, path: str, document_done: Callable[[], None] | None = None
) -> list[Any]:
    """Every document of ``text`` (none of them empty), composed with ruamel's C composer
    straight away (:mod:`ciswitch.ruamel_c`; ``document_done`` is called after each), or
    through ruamel's ``YAML`` without one."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        documents = compose_all(text, resolver, document_done)
        if documents is None:
            yaml = safe_yaml()
            yaml.Resolver = resolver
            try:
                documents = [doc for doc in yaml.compose_all(text) if doc is not None]
            finally:
                _release(yaml)
        return documents
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        what = err.problem or err.context or "invalid YAML"
        if mark is not None:
            raise CiswitchError(
                f"invalid YAML: {what}", path, mark.line + 1, mark.column + 1
            ) from err
        raise CiswitchError(f"invalid YAML: {what}", path) from err
    except YAMLError as err:
        raise CiswitchError(f"invalid YAML: {str(err).splitlines()[0]}", path) from err


@contextmanager
def gc_paused() -> Iterator[None]:
    """Keep the cyclic garbage collector off while building big object graphs.

    A composed 10,000-job file is half a million tracked objects; every full collection walks
    all of them (about as long as composing the file), and building the CI model on top of it
    would trigger several. When the block ends, the objects it made are handed straight to the
    oldest generation (``freeze`` + ``unfreeze``, no walk), so the next young collection does
    not walk them either; they are still collected normally in later full collections. Nested
    uses are free: only the outermost one switches the collector back on.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if gc.get_freeze_count() == 0:  # never unfreeze what someone else froze
                gc.freeze()
                gc.unfreeze()
            gc.enable()
