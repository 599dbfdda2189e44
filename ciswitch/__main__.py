"""The ``ciswitch`` command (also ``python -m ciswitch``).

A ``ciswitch lint`` whose arguments are all plain (paths, and the options without a file
argument, spelled out in full) runs straight away: no click, whose import is a large part of a
small file's lint (pre-commit starts one process per commit). Anything else, including every
usage error, help and completion, goes to the click command tree, :data:`ciswitch.cli.main`.
"""

from __future__ import annotations

import errno
import gc
import os
import sys
from typing import Any, NoReturn

#: flags of ``lint`` taking no value, as accepted by the plain start -> keyword of run_lint
_LINT_FLAGS = {
    "--statistics": "statistics",
    "--exit-zero": "exit_zero",
    "-v": "verbose",
    "--verbose": "verbose",
    "--strict": "strict",
}

#: options of ``lint`` taking one of a few values -> (keyword of run_lint, the values; None:
#: the report formats)
_LINT_CHOICES: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "--format": ("fmt", None),
    "--color": ("color", ("auto", "always", "never")),
}


def plain_lint(argv: list[str]) -> dict[str, Any] | None:
    """The keyword arguments of :func:`ciswitch.lint_command.run_lint` for a plain
    ``lint`` command line, or None for anything the click command must read."""
    if not argv or argv[0] != "lint":
        return None
    from ciswitch.report import FORMATS

    options: dict[str, Any] = {"paths": []}
    words = iter(argv[1:])
    for word in words:
        if word in _LINT_FLAGS:
            options[_LINT_FLAGS[word]] = True
        elif word.split("=", 1)[0] in _LINT_CHOICES:
            name, equals, value = word.partition("=")
            keyword, choices = _LINT_CHOICES[name]
            if not equals:
                value = next(words, "")
            if value not in (FORMATS if choices is None else choices) or keyword in options:
                return None
            options[keyword] = value
        elif word and not word.startswith("-"):
            options["paths"].append(word)
        else:
            return None
    return options


#: failures to write the output that are the machine's and not a bug: a full disk or quota,
#: a file grown too large, an I/O error
_OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})


def run() -> None:
    """The console command; output that cannot be written (stdout on a full disk) is a
    one-line error and exit 2, not a traceback."""
    try:
        _start()
    except OSError as err:
        if err.errno not in _OUTPUT_ERRNOS or err.filename is not None:
            raise
        _output_failed(err)


def _output_failed(err: OSError) -> None:
    """Say that the output could not be written and leave at once: the interpreter's own
    teardown would try to flush the same output again."""
    import contextlib

    with contextlib.suppress(OSError):
        os.write(2, f"ciswitch: error: cannot write the output: {err.strerror}\n".encode())
    os._exit(2)


def _start() -> None:
    argv = sys.argv[1:]
    completing = any(k.startswith("_CISWITCH_COMPLETE") for k in os.environ)
    if argv[:1] == ["lint"] and not completing:
        # A lint pauses the collector anyway; the imports before it make many objects, and a
        # collection among them walks all of ruamel's and typing's as well.
        gc.disable()
    plain = None if completing else plain_lint(argv)
    if plain is None:
        from ciswitch.cli import main

        if argv[:1] == ["fix"] and not completing:
            # Leave without the teardown, as a lint does (a big file's fix made a large heap),
            # and keep the collector off as a lint does: the analyses pause it, but between
            # and after them a full collection would walk the whole heap of a big file.
            gc.disable()
            try:
                main()
            except SystemExit as done:
                _leave(done.code)
            return
        main()
        return
    _run_plain_lint(plain)


def _run_plain_lint(options: dict[str, Any]) -> None:
    """Run the plain lint; at the end leave without the interpreter's teardown (every file is
    closed and the output flushed first), which is a sizeable part of a small file's lint.

    The lint's exit leaves from within its handler: the analysis is held by the frames of
    the exit's traceback until the handler ends, and freeing a big file's analysis object by
    object, just before the process ends, was a twentieth of its lint."""
    from ciswitch.lint_command import echo, run_lint

    try:
        run_lint(**options)
    except SystemExit as done:
        _leave(done.code)
    except KeyboardInterrupt:
        echo("ciswitch: interrupted", err=True)
        _leave(130)
    except BrokenPipeError:
        os._exit(1)  # as click does when the reader went away


def _leave(code: object) -> NoReturn:
    """Exit with ``code`` as ``sys.exit`` would, but without the interpreter's teardown:
    every file is closed and the output flushed first."""
    status = code if isinstance(code, int) else (0 if code is None else 1)
    if not isinstance(code, int) and code is not None:
        print(code, file=sys.stderr)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError as err:
        if err.errno in _OUTPUT_ERRNOS:
            _output_failed(err)
        raise SystemExit(status) from None
    os._exit(status)


if __name__ == "__main__":
    run()
