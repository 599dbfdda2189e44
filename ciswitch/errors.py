"""The one exception type that carries a user-facing, one-line error message."""

from __future__ import annotations


class CiswitchError(Exception):
    """An error the user can act on; the CLI prints ``str(err)`` on one line and exits 2.

    ``path`` (repository-relative) and ``line``/``column`` locate it when known.
    """

    def __init__(
        self,
        message: str,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.column = column

    def __str__(self) -> str:
        if self.path is None:
            return self.message
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.message}"
