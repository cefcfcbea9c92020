"""Exception families raised to users.

Each problem family has one type. Scripts catch :class:`ContextureError` at the boundary
(:func:`contexture.runner.run`) and print the message as one readable paragraph in the
rule's log and on the console; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["ConfigError", "ContextureError", "InputError", "Problem", "QCError", "raise_problems"]

from dataclasses import dataclass


class ContextureError(Exception):
    """Base class of every error meant for a user rather than a developer."""


class ConfigError(ContextureError):
    """The workflow configuration is invalid (unknown key, wrong type, bad value)."""


class InputError(ContextureError):
    """An input file is missing, unreadable or does not match its schema."""


class QCError(ContextureError):
    """Data passed validation but fails a quality rule that makes analysis impossible."""


@dataclass(frozen=True)
class Problem:
    """One problem found in an input table: where it is and what was expected.

    ``row`` is the 1-based data row (the header is not counted); ``line`` is the line in
    the file as an editor shows it (header = line 1), so users can jump to it.
    """

    file: str
    row: int | None
    column: str | None
    value: object
    expected: str

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row} (line {self.row + 1})")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        value = "" if self.value is None else f": got {self.value!r}"
        return f"{', '.join(where)}{value}; expected {self.expected}"


def raise_problems(problems: list[Problem], what: str) -> None:
    """Raise one :class:`InputError` listing every problem, or return if there are none."""
    if not problems:
        return
    shown = problems[:50]
    lines = [f"{len(problems)} problem(s) in {what}:"] + [f"  - {p}" for p in shown]
    if len(problems) > len(shown):
        lines.append(f"  ... and {len(problems) - len(shown)} more")
    raise InputError("\n".join(lines))
