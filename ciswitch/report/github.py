"""``--format github``: GitHub Actions workflow commands, which become annotations on the
changed lines of a pull request (for projects mirrored to GitHub or linted there). Input
errors are ``error`` annotations, places not checked ``notice`` annotations at their line. What
is in GitLab's CI/CD settings, in no file, is an annotation of the run without a file."""

from __future__ import annotations

from ciswitch.model import LintResult, Severity

COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    """Escape a command's message: ``%``, CR and LF, as the runner decodes them."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value: the message escapes plus ``:`` and ``,``, which separate
    properties and end the property list."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _command(name: str, properties: dict[str, str | int], message: str) -> str:
    props = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items())
    return f"::{name} {props}::{escape_data(message)}"


def render_github(result: LintResult) -> str:
    lines: list[str] = []
    for finding in sorted(result.findings, key=lambda f: f.sort_key):
        if not finding.in_file:  # in GitLab's settings: an annotation of the run, no file
            lines.append(_command(COMMAND[finding.severity], {"title": finding.code},
                                  f"{finding.path}: {finding.message}"))
            continue
        lines.append(_command(COMMAND[finding.severity], {
            "file": finding.path,
            "line": finding.begin.line,
            "col": finding.begin.column,
            "endLine": finding.finish.line,
            "endColumn": finding.finish.column,
            "title": finding.code,
        }, finding.message))
    for problem in result.problems:
        props: dict[str, str | int] = {"file": problem.path}
        if problem.line is not None:
            props["line"] = problem.line
            if problem.column is not None:
                props["col"] = problem.column
        props["title"] = "ciswitch"
        lines.append(_command("error", props, problem.message))
    for gap in sorted(result.not_checked, key=lambda e: e.sort_key):
        where: dict[str, str | int] = {"file": gap.path} if gap.in_file else {}
        if gap.line is not None:
            where["line"] = gap.line
        where["title"] = "ciswitch: not checked"
        lines.append(_command("notice", where, gap.text))
    return "".join(line + "\n" for line in lines)
