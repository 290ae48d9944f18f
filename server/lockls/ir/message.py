"""Messages as data: text with references to lines of the analysed file.

A rule's message says "taken at line 12"; the 12 is not text but a `LineRef`, so
a finding reused after its function moved shifts the reference (`shifted`), and
a fingerprint that must survive unrelated edits leaves it out (`blanked`). Text
is made only at the edges (CLI formats, LSP), with `str(message)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union


@dataclass(frozen=True, slots=True)
class LineRef:
    """A 1-based line of the analysed file, rendered as `line N`."""

    line: int

    def __str__(self) -> str:
        return f"line {self.line}"


Part = Union[str, LineRef]


@dataclass(frozen=True, slots=True)
class Message:
    """Text and line references, in order. Hashable and comparable to nothing but
    itself; `str()` renders it."""

    parts: tuple = ()

    @staticmethod
    def of(*pieces) -> Message:
        """A message from strings, line references, other messages and `None`
        (left out); adjacent strings are joined."""
        parts: list = []
        for piece in pieces:
            for p in (piece.parts if isinstance(piece, Message) else (piece,)):
                if p is None or p == "":
                    continue
                if isinstance(p, str) and parts and isinstance(parts[-1], str):
                    parts[-1] += p
                else:
                    parts.append(p)
        return Message(tuple(parts))

    def __str__(self) -> str:
        return "".join(map(str, self.parts))

    def __add__(self, other) -> Message:
        return Message.of(self, other)

    def __radd__(self, other) -> Message:
        return Message.of(other, self)

    def __bool__(self) -> bool:
        return bool(self.parts)

    def shifted(self, rows: int) -> Message:
        """The message of a function that moved `rows` lines down."""
        if not rows or all(isinstance(p, str) for p in self.parts):
            return self
        return Message(tuple(LineRef(p.line + rows) if isinstance(p, LineRef) else p for p in self.parts))

    def blanked(self) -> str:
        """The text without its line numbers: the same finding after lines were added above."""
        return "".join(p for p in self.parts if isinstance(p, str))

    def lines(self) -> tuple[int, ...]:
        return tuple(p.line for p in self.parts if isinstance(p, LineRef))

    def encode(self) -> list:
        """JSON data: strings, and {"line": N} for references."""
        return [p if isinstance(p, str) else {"line": p.line} for p in self.parts]

    @staticmethod
    def decode(data) -> Message:
        """`encode`'s inverse; TypeError on anything else (cache entries are data read back)."""
        if isinstance(data, str):
            return Message((data,))
        if not isinstance(data, list):
            raise TypeError("message: expected a list")
        parts: list = []
        for p in data:
            if isinstance(p, str):
                parts.append(p)
            elif isinstance(p, dict) and set(p) == {"line"} and type(p["line"]) is int:
                parts.append(LineRef(p["line"]))
            else:
                raise TypeError("message: expected strings and line references")
        return Message(tuple(parts))


def as_message(value) -> Message:
    return value if isinstance(value, Message) else Message.of(value)
