"""Python helpers that jobs run (``deploy.py``): their werf calls and ``WERF_*`` settings.

A helper reaches werf through ``subprocess``/``os.exec*`` argument lists, shell strings
(``shell=True``, ``os.system``), ``env=`` dicts and ``os.environ``. This module reads them with
libcst (imported only when a job actually runs a Python file, or one is named on the command
line) and presents them to the replay as the shell layer's values -- :class:`WerfCall`,
:class:`FlagUse`, :class:`Assignment` with offsets into the Python file -- so the same rules
and the same job/session logic apply. Fixes are plain text edits that remove list or dict
elements (with their comma, and a trailing comment that belonged to them) so the list keeps
its layout; they are verified by re-parsing and comparing the module's string literals.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ciswitch.edits import NoFix
from ciswitch.model import LOCAL, STAGES_VAR, SYNC_VAR, Edit, Fix
from ciswitch.record import replace
from ciswitch.shell import werf
from ciswitch.shell.model import Assignment, FlagForm, FlagUse, ShellReading, WerfCall, Word

_RUNNERS = frozenset({"run", "call", "check_call", "check_output", "Popen", "getoutput",
                      "getstatusoutput", "system", "popen"})
_EXEC_LIST = frozenset({"execv", "execve", "execvp", "execvpe", "spawnv", "spawnvp",
                        "spawnve", "spawnvpe"})
_EXEC_ARGS = frozenset({"execl", "execle", "execlp", "execlpe"})
_ENV_VARS = frozenset({STAGES_VAR, SYNC_VAR})
_LINE_REST = re.compile(r"[ \t]*,?[ \t]*(?:#[^\r\n]*)?(?:\r?\n|$)")

#: builds the fix of a place from the ``--to`` address (None: remove)
FixMaker = Callable[[str | None], Fix]


@dataclass
class PythonReading:
    """What a Python helper does with werf, as shell-layer values, and how to fix each place."""

    calls: list[WerfCall] = field(default_factory=list)
    assignments: list[Assignment] = field(default_factory=list)
    fixes: dict[tuple[int, int], FixMaker] = field(default_factory=dict)
    #: why nothing was read: the text is not valid Python; empty otherwise
    error: str = ""
    #: the line of the text the error is on (1-based; 0 when there is none)
    error_line: int = 0

    def shell_reading(self, text: str) -> ShellReading:
        """What the replay reads of the Python ``text``: its werf calls and assignments."""
        return ShellReading(text, tuple(self.calls), tuple(self.assignments), (), False)


# -- reading --------------------------------------------------------------------------------------
def analyse_python(path: str, text: str) -> PythonReading:
    """Read a Python helper (a file libcst cannot parse yields nothing but its error)."""
    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider

    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as err:
        # the native parser names its place in the message; the fields hold the statement's
        found = re.search(r"error at (\d+):", err.message)
        line = int(found[1]) if found else err.raw_line
        return PythonReading(error=f"a syntax error on line {line}", error_line=line)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    reader = _Reader(path, text, positions)
    reader.constants(module)
    reader.blocks(module)
    wrapper.visit(_visitor(reader))
    return reader.result


def _func_name(node: Any) -> str:
    import libcst as cst

    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return ""


def _is_environ(node: Any) -> bool:
    import libcst as cst

    return (isinstance(node, cst.Attribute) and node.attr.value == "environ") or (
        isinstance(node, cst.Name) and node.value == "environ"
    )


def _visitor(reader: _Reader) -> Any:
    """A libcst visitor (the class is built on first use, libcst being imported lazily) that
    hands statement lines and calls to the reader, statements first."""
    import libcst as cst

    class Visitor(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            reader.call(node)

        def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
            reader.statement_line(node)

    return Visitor()


class _Reader:
    def __init__(self, path: str, text: str, positions: Any) -> None:
        self.path = path
        self.text = text
        self.positions = positions
        self.result = PythonReading()
        self.consts: dict[str, str] = {}
        self.block_sizes: dict[int, int] = {}
        #: expression statements that are one call: the call's id -> its statement line
        self.call_lines: dict[int, Any] = {}
        starts = [0]
        for index, char in enumerate(text):
            if char == "\n":
                starts.append(index + 1)
        self.line_starts = starts

    # positions
    def offset(self, line: int, column: int) -> int:
        return self.line_starts[line - 1] + column

    def span(self, node: Any) -> tuple[int, int]:
        code_range = self.positions[node]
        return (
            self.offset(code_range.start.line, code_range.start.column),
            self.offset(code_range.end.line, code_range.end.column),
        )

    # module facts
    def constants(self, module: Any) -> None:
        import libcst as cst

        for stmt in module.body:
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            for small in stmt.body:
                if (
                    isinstance(small, cst.Assign)
                    and len(small.targets) == 1
                    and isinstance(small.targets[0].target, cst.Name)
                    and isinstance(small.value, cst.SimpleString)
                ):
                    value = small.value.evaluated_value
                    if isinstance(value, str):
                        self.consts[small.targets[0].target.value] = value

    def blocks(self, module: Any) -> None:
        import libcst as cst

        class Blocks(cst.CSTVisitor):
            def __init__(self, sizes: dict[int, int]) -> None:
                super().__init__()
                self.sizes = sizes

            def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
                for stmt in node.body:
                    self.sizes[id(stmt)] = len(node.body)

        for stmt in module.body:
            self.block_sizes[id(stmt)] = len(module.body) + 1  # a module may become empty
        module.visit(Blocks(self.block_sizes))

    def value_of(self, node: Any) -> str | None:
        import libcst as cst

        if isinstance(node, cst.SimpleString):
            value = node.evaluated_value
            return value if isinstance(value, str) else None
        if isinstance(node, cst.Name):
            return self.consts.get(node.value)
        return None

    def word(self, node: Any) -> Word:
        start, end = self.span(node)
        return Word(self.text[start:end], self.value_of(node), None, start, end)

    # werf calls
    def call(self, node: Any) -> None:
        import libcst as cst

        name = _func_name(node.func)
        positional = [a for a in node.args if a.keyword is None and a.star == ""]
        keywords = {a.keyword.value: a for a in node.args if a.keyword is not None}
        env = keywords.get("env")
        if name in _RUNNERS:
            target = positional[0].value if positional else None
            if target is None and "args" in keywords:
                target = keywords["args"].value
            if isinstance(target, (cst.List, cst.Tuple)):
                self.arg_list(node, list(target.elements), env)
            elif isinstance(target, cst.SimpleString):
                self.string_command(node, target)
        elif name in _EXEC_LIST and len(positional) >= 2:
            target = positional[1].value
            if isinstance(target, (cst.List, cst.Tuple)):
                self.arg_list(node, list(target.elements), None)
        elif (
            name == "setdefault"
            and isinstance(node.func, cst.Attribute)
            and _is_environ(node.func.value)
            and len(positional) == 2
        ):
            self.environ_set(positional[0].value, positional[1].value, node)

    def arg_list(self, call: Any, elements: list[Any], env: Any) -> None:
        import libcst as cst

        if not elements or any(isinstance(e, cst.StarredElement) for e in elements):
            return
        words = [self.word(e.value) for e in elements]
        # ``["timeout", "600", "werf", ...]``: the same wrappers as in shell
        at = werf.wrapped_command([werf.Arg(w.value, w.value or "") for w in words], [])
        if at is None or at >= len(words):
            return
        first = words[at].value
        if first is None or not werf.is_werf_name(first):
            return
        args = words[at + 1 :]
        sub = werf.subcommand([w.value for w in args])
        takes_storage = sub in werf.TAKES_STAGES_STORAGE
        takes_sync = sub in werf.TAKES_SYNCHRONIZATION
        flags: list[FlagUse] = []
        index = 0
        while index < len(args):
            word = args[index]
            value = word.value
            index += 1
            if value is None or value == "--":
                if value == "--":
                    break
                continue
            found = _flag_of(value, takes_storage, takes_sync)
            if found is None:
                continue
            flag_name, spelling, rest = found
            if rest is None:
                if index >= len(args):
                    continue
                value_word = args[index]
                index += 1
                flag = FlagUse(flag_name, spelling, "separate", value_word, (word, value_word),
                               word.start, value_word.end)
                self.list_fix(flag.start, flag.end, elements, index - 1 + at, index + at)
            else:
                form: FlagForm = "equals" if value[len(spelling):].startswith("=") else "attached"
                flag = FlagUse(flag_name, spelling, form, replace(word, value=rest), (word,),
                               word.start, word.end)
                self.list_fix(flag.start, flag.end, elements, index + at, index + at)
            flags.append(flag)
        prefixes = self.env_prefixes(env, call)
        quote = len(words[at].raw) - len(words[at].raw.lstrip("rRbBuU\"'"))
        start = words[at].start + quote
        _, end = self.span(call)
        self.result.calls.append(WerfCall(
            start, end, sub, tuple(args), tuple(prefixes), tuple(flags), takes_storage,
            sub[:1] == ("ci-env",), takes_sync,
        ))

    def list_fix(
        self, start: int, end: int, elements: list[Any], first: int, last: int
    ) -> None:
        """Register the fix of elements[first..last] (inclusive) of a list literal."""
        spans = [self.span(e.value) for e in elements]
        nodes = [e.value for e in elements[first : last + 1]]

        def make(to: str | None) -> Fix:
            if to is not None:
                return self.replace_value(nodes[-1], to)
            a, b = _element_range(self.text, spans, first, last)
            removed = tuple(v for v in (self.literal(n) for n in nodes) if v is not None)
            return Fix((Edit(self.path, a, b, ""),), True, "remove the list elements", removed)

        self.result.fixes[(start, end)] = make

    def literal(self, node: Any) -> str | None:
        import libcst as cst

        if isinstance(node, cst.SimpleString):
            value = node.evaluated_value
            return value if isinstance(value, str) else None
        return None

    def replace_value(self, node: Any, to: str) -> Fix:
        """Point a value element (``":local"``, ``"--stages-storage=:local"``, a constant) at
        ``to``."""
        import libcst as cst

        start, end = self.span(node)
        if isinstance(node, cst.SimpleString):
            raw = node.value
            old = node.evaluated_value
            index = raw.rfind(LOCAL)
            if not isinstance(old, str) or index < 0 or not old.endswith(LOCAL):
                raise NoFix("the value is not a plain string literal")
            new = old[: -len(LOCAL)] + to
            edit = Edit(self.path, start + index, start + index + len(LOCAL), to)
            return Fix((edit,), True, f"point it at {to}", (old,), (new,))
        return Fix((Edit(self.path, start, end, _py_string(to)),), True, f"point it at {to}",
                   (), (to,))

    def env_prefixes(self, env: Any, call: Any) -> list[Assignment]:
        import libcst as cst

        if env is None or not isinstance(env.value, cst.Dict):
            return []
        elements = list(env.value.elements)
        found: list[Assignment] = []
        stmt = self.span(call)
        for index, element in enumerate(elements):
            if not isinstance(element, cst.DictElement):
                continue
            key = self.value_of(element.key)
            if key not in _ENV_VARS:
                continue
            start, _ = self.span(element.key)
            _, end = self.span(element.value)
            assignment = Assignment(key, self.word(element.value), "prefix", start, end,
                                    stmt[0], stmt[1], len(elements))
            found.append(assignment)
            self.entry_fix(assignment, elements, index)
        return found

    def entry_fix(self, assignment: Assignment, elements: list[Any], index: int) -> None:
        spans = [(self.span(e.key if hasattr(e, "key") else e.value)[0],
                  self.span(e.value)[1]) for e in elements]
        element = elements[index]

        def make(to: str | None) -> Fix:
            if to is not None:
                return self.replace_value(element.value, to)
            a, b = _element_range(self.text, spans, index, index)
            removed = tuple(
                v for v in (self.literal(element.key), self.literal(element.value))
                if v is not None
            )
            return Fix((Edit(self.path, a, b, ""),), True, "remove the dict entry", removed)

        self.result.fixes[(assignment.start, assignment.end)] = make

    def string_command(self, call: Any, node: Any) -> None:
        """``"werf build -s :local"`` run by a shell: the shell layer reads the string."""
        from ciswitch.shell import analyse, flag_removal, replacement_for_value

        value = node.evaluated_value
        raw = node.value
        if not isinstance(value, str) or "werf" not in value:
            return
        prefix = len(raw) - len(raw.lstrip("rRbBuUfF"))
        quote = raw[prefix : prefix + 3] if raw[prefix : prefix + 3] in ('"""', "'''") else raw[
            prefix
        ]
        inner = raw[prefix + len(quote) : len(raw) - len(quote)]
        if inner != value:
            return  # escapes: offsets would not map one to one
        base = self.span(node)[0] + prefix + len(quote)
        shell = analyse(value)
        for call_ in shell.werf_calls:
            self.result.calls.append(_shift_call(call_, base))
            for flag in call_.flags:
                shifted = _shift_flag(flag, base)

                def make(to: str | None, flag: FlagUse = flag, c: WerfCall = call_) -> Fix:
                    if to is not None:
                        a, b, repl = replacement_for_value(flag, to)
                    else:
                        a, b, repl = flag_removal(value, c, flag)
                    new = value[:a] + repl + value[b:]
                    edit = Edit(self.path, base + a, base + b, repl)
                    return Fix((edit,), True, "edit the command string", (value,), (new,))

                self.result.fixes[(shifted.start, shifted.end)] = make
        for assignment in shell.assignments:
            self.result.assignments.append(_shift_assignment(assignment, base))

    # os.environ
    def statement_line(self, node: Any) -> None:
        import libcst as cst

        if len(node.body) != 1:
            return
        small = node.body[0]
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            self.call_lines[id(small.value)] = node
        if (
            isinstance(small, cst.Assign)
            and len(small.targets) == 1
            and isinstance(small.targets[0].target, cst.Subscript)
            and _is_environ(small.targets[0].target.value)
            and len(small.targets[0].target.slice) == 1
        ):
            index = small.targets[0].target.slice[0].slice
            if isinstance(index, cst.Index):
                self.environ_set(index.value, small.value, node, small.targets[0].target)

    def environ_set(self, key_node: Any, value_node: Any, where: Any, target: Any = None) -> None:
        """``os.environ[KEY] = VALUE`` or ``os.environ.setdefault(KEY, VALUE)``."""
        import libcst as cst

        key = self.value_of(key_node)
        if key not in _ENV_VARS:
            return
        start, _ = self.span(target if target is not None else where)
        _, end = self.span(value_node)
        assignment = Assignment(key, self.word(value_node), "export", start, end, start, end, 1)
        self.result.assignments.append(assignment)
        line: Any
        if isinstance(where, cst.SimpleStatementLine):
            line = where
        else:
            line = self.call_lines.get(id(where))
        line_id = id(line) if line is not None else 0

        def make(to: str | None) -> Fix:
            if to is not None:
                return self.replace_value(value_node, to)
            if line is None:
                raise NoFix("the call is part of a larger expression; remove it by hand")
            if self.block_sizes.get(line_id, 1) < 2:
                raise NoFix("it is the only statement of its block; remove it by hand")
            a, b = self.span(line)
            if not _only_space_before(self.text, a) or _LINE_REST.match(self.text, b) is None:
                raise NoFix("the statement shares its line; remove it by hand")
            a = self.text.rfind("\n", 0, a) + 1
            rest = _LINE_REST.match(self.text, b)
            assert rest is not None
            removed = tuple(
                v for v in (self.literal(key_node), self.literal(value_node)) if v is not None
            )
            return Fix((Edit(self.path, a, rest.end(), ""),), True, "remove the statement",
                       removed)

        self.result.fixes[(assignment.start, assignment.end)] = make

def _flag_of(value: str, storage: bool, sync: bool) -> tuple[Any, str, str | None] | None:
    """(flag name, spelling, attached value or None when the value is the next element)."""
    found = werf.split_flag(value, storage, sync)
    if found is None:
        return None
    name, spelling, equals = found
    return name, spelling, None if value == spelling else value[len(spelling) + len(equals) :]


def _py_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _only_space_before(text: str, offset: int) -> bool:
    return text[text.rfind("\n", 0, offset) + 1 : offset].strip(" \t") == ""


def _element_range(text: str, spans: list[tuple[int, int]], first: int, last: int) -> tuple[
    int, int
]:
    """The text to remove for elements ``first..last`` of a list or dict literal, keeping the
    layout: whole lines when they hold only those elements (trailing comment included), else
    the elements with the separator before them (or after them, when they lead the list)."""
    start, end = spans[first][0], spans[last][1]
    rest = _LINE_REST.match(text, end)
    if _only_space_before(text, start) and rest is not None and "\n" in rest.group():
        return text.rfind("\n", 0, start) + 1, rest.end()
    same_line_before = first > 0 and "\n" not in text[spans[first - 1][1] : start]
    if same_line_before:
        if rest is not None and "#" in rest.group():
            comma = text.find(",", spans[first - 1][1], start)
            line_end = rest.end() - (2 if rest.group().endswith("\r\n") else 1)
            if "\n" not in rest.group():
                line_end = rest.end()
            return comma + 1, line_end
        return spans[first - 1][1], end
    if last + 1 < len(spans):
        return start, spans[last + 1][0]
    if first > 0:
        return spans[first - 1][1], end
    raise NoFix("the list would be left empty; remove it by hand")


def _shift_word(word: Word, by: int) -> Word:
    return replace(word, start=word.start + by, end=word.end + by)


def _shift_flag(flag: FlagUse, by: int) -> FlagUse:
    return replace(
        flag,
        value=_shift_word(flag.value, by),
        words=tuple(_shift_word(w, by) for w in flag.words),
        start=flag.start + by,
        end=flag.end + by,
    )


def _shift_assignment(assignment: Assignment, by: int) -> Assignment:
    value = None if assignment.value is None else _shift_word(assignment.value, by)
    return replace(
        assignment,
        value=value,
        start=assignment.start + by,
        end=assignment.end + by,
        statement_start=assignment.statement_start + by,
        statement_end=assignment.statement_end + by,
    )


def _shift_call(call: WerfCall, by: int) -> WerfCall:
    return replace(
        call,
        start=call.start + by,
        end=call.end + by,
        args=tuple(_shift_word(w, by) for w in call.args),
        prefixes=tuple(_shift_assignment(p, by) for p in call.prefixes),
        flags=tuple(_shift_flag(f, by) for f in call.flags),
        werf_span=None if call.werf_span is None else (call.werf_span[0] + by,
                                                       call.werf_span[1] + by),
    )

