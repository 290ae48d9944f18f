"""Open documents for the language server: bytes, line table and tree-sitter tree.

Owns: applying LSP content changes in order to our own copy of each document
(never pygls' `TextDocument`, whose `lines` also split on form feeds), editing
the tree-sitter tree and reparsing incrementally, and converting between LSP
positions (UTF-8 or UTF-16 code units) and byte offsets.

Lines follow the LSP: a line ends at `\\n`, `\\r\\n` or `\\r`, and nowhere else
(a form feed or U+2028 is an ordinary character). tree-sitter points use rows
counted by `\\n` and byte columns; they are computed separately for `tree.edit`.

Must not import pygls or lsprotocol: positions are plain (line, character) pairs.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import Optional

from lockls.syntax.nodes import lsp_line_breaks

_BREAK = re.compile(rb"\r\n|\r|\n")

UTF8 = "utf-8"
UTF16 = "utf-16"


def line_starts(data: bytes, base: int = 0, start: int = 0, end: Optional[int] = None) -> list[int]:
    """Offsets (plus `base`) at which a line starts after a break inside data[start:end]."""
    return [m.end() + base for m in _BREAK.finditer(data, start, len(data) if end is None else end)]


class LineIndex:
    """Byte offset of the start of every LSP line, kept up to date edit by edit."""

    def __init__(self, data: bytes):
        self.starts = [0] + line_starts(data)

    def line_of(self, offset: int) -> int:
        return bisect_right(self.starts, offset) - 1

    def update(self, new_data: bytes, start: int, old_end: int, new_end: int) -> None:
        """Bytes [start, old_end) of the old text became [start, new_end) of `new_data`."""
        starts = self.starts
        delta = new_end - old_end
        # Re-scan from the start of the line holding the byte before the edit (a
        # `\r` there may now be followed by `\n`) up to the first old line start X
        # with X > old_end + 1: whether X starts a line depends on bytes X-1 and X,
        # both after the edit, so it and every later start only shift.
        first = max(self.line_of(max(start - 1, 0)), 0)
        lo = starts[first]
        k = bisect_right(starts, old_end + 1)
        if k < len(starts):
            stop_new = starts[k] + delta
            tail = [x + delta for x in starts[k:]] if delta else starts[k:]
        else:
            stop_new = len(new_data)
            tail = []
        middle = [x for x in line_starts(new_data, 0, lo, stop_new) if x < stop_new or not tail]
        if tail and middle and middle[-1] == tail[0]:
            middle.pop()
        self.starts = starts[: first + 1] + middle + tail

    def line_count(self) -> int:
        return len(self.starts)


def _shifted(ranges: list[tuple[int, int]], start: int, delta: int) -> list[tuple[int, int]]:
    """Byte ranges after `delta` bytes were inserted (or removed) at `start`."""
    return [(a if a < start else a + delta, b if b < start else b + delta) for a, b in ranges]


# a broken top-level construct larger than this is not parsed again alone (see Document._diverged)
DIVERGENCE_CHECK_MAX_BYTES = 64 * 1024


class Document:
    """One open document: its bytes, LSP line table and (for C) tree-sitter tree."""

    def __init__(self, uri: str, text: str, version: Optional[int], language: str = "c", parser=None):
        self.uri = uri
        self.version = version
        self.language = language
        # `raw`: the client's bytes; `source`: the same with lone CRs made LFs, what is
        # parsed and analysed (same offsets and LSP lines; see `lsp_line_breaks`)
        self.raw = text.encode("utf-8", "surrogatepass")
        self.source = lsp_line_breaks(self.raw)
        self.lines = LineIndex(self.source)
        self.parser = parser
        self.tree = parser.parse(self.source) if parser is not None else None
        self.edited: list[tuple[int, int]] = []  # byte ranges (new coordinates) changed since last analysis
        self._unparsed: list[tuple[int, int]] = []  # the same, since the tree was last brought up to date

    # -- text ------------------------------------------------------------------

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", "replace")

    def line_bytes(self, line: int) -> bytes:
        """The bytes of LSP line `line`, without its line break."""
        starts = self.lines.starts
        begin = starts[line]
        end = starts[line + 1] if line + 1 < len(starts) else len(self.source)
        chunk = self.source[begin:end]
        if chunk.endswith(b"\r\n"):
            return chunk[:-2]
        if chunk.endswith((b"\n", b"\r")):
            return chunk[:-1]
        return chunk

    # -- positions -------------------------------------------------------------

    def offset_at(self, line: int, character: int, encoding: str = UTF16) -> int:
        """The byte offset of an LSP position, clamped to the line and the document."""
        starts = self.lines.starts
        if line < 0:
            return 0
        if line >= len(starts):
            return len(self.source)
        data = self.line_bytes(line)
        character = max(character, 0)
        if encoding == UTF8:
            col = min(character, len(data))
            # never split a UTF-8 sequence: back up to a character boundary
            while 0 < col < len(data) and (data[col] & 0xC0) == 0x80:
                col -= 1
            return starts[line] + col
        if data.isascii():
            return starts[line] + min(character, len(data))
        text = data.decode("utf-8", "replace")
        if encoding == "utf-32":
            return starts[line] + len(text[:character].encode("utf-8"))
        units = 0
        for i, ch in enumerate(text):
            if units >= character:
                return starts[line] + len(text[:i].encode("utf-8"))
            units += 2 if ord(ch) > 0xFFFF else 1
        return starts[line] + len(data)

    def position_of(self, offset: int, encoding: str = UTF16) -> tuple[int, int]:
        """The LSP (line, character) of a byte offset."""
        offset = min(max(offset, 0), len(self.source))
        line = self.lines.line_of(offset)
        begin = self.lines.starts[line]
        prefix = self.source[begin:offset]
        if encoding == UTF8 or prefix.isascii():
            return line, len(prefix)
        text = prefix.decode("utf-8", "replace")
        if encoding == "utf-32":
            return line, len(text)
        return line, len(text.encode("utf-16-le")) // 2

    def point_of(self, offset: int) -> tuple[int, int]:
        """The tree-sitter point (row by `\\n`, byte column) of a byte offset."""
        row = self.source.count(b"\n", 0, offset)
        return row, offset - (self.source.rfind(b"\n", 0, offset) + 1)

    # -- changes -----------------------------------------------------------------

    def apply_change(self, text: str, range_=None, encoding: str = UTF16) -> None:
        """Apply one content change; `range_` is ((line, char), (line, char)) or None (whole text)."""
        new = text.encode("utf-8", "surrogatepass")
        if range_ is None:
            self.raw = new
            self.source = lsp_line_breaks(new)
            self.lines = LineIndex(self.source)
            self.tree = None  # parsed from scratch in reparse()
            self.edited.append((0, len(new)))
            self._unparsed = []
            return
        (sl, sc), (el, ec) = range_
        start = self.offset_at(sl, sc, encoding)
        end = max(self.offset_at(el, ec, encoding), start)
        old = self.source
        raw = self.raw[:start] + new + self.raw[end:]
        if start and self.raw[start - 1:start] == b"\r":
            start -= 1  # a CR before the change may have become, or stopped being, half of a CRLF
            new = self.raw[start:start + 1] + new
        new = lsp_line_breaks(raw[start:start + len(new) + 1])[:len(new)]  # (+1: a CR's next byte decides)
        self.raw = raw
        if self.tree is not None:
            start_point = self.point_of(start)
            old_end_point = self.point_of(end)
            newlines = new.count(b"\n")
            if newlines:
                new_end_point = (start_point[0] + newlines, len(new) - (new.rfind(b"\n") + 1))
            else:
                new_end_point = (start_point[0], start_point[1] + len(new))
            self.tree.edit(
                start_byte=start, old_end_byte=end, new_end_byte=start + len(new),
                start_point=start_point, old_end_point=old_end_point, new_end_point=new_end_point,
            )
        self.source = old[:start] + new + old[end:]
        self.lines.update(self.source, start, end, start + len(new))
        delta = len(new) - (end - start)
        self.edited = _shifted(self.edited, start, delta) + [(start, start + len(new))]
        self._unparsed = _shifted(self._unparsed, start, delta) + [(start, start + len(new))]

    def reparse(self) -> None:
        """Bring the tree up to date with the bytes (incrementally when it was edited)."""
        if self.parser is None:
            return
        if self.tree is None:
            self.tree = self.parser.parse(self.source)
        else:
            self.tree = self.parser.parse(self.source, self.tree)
            if self._diverged():
                self.tree = self.parser.parse(self.source)
        self._unparsed = []

    def _diverged(self) -> bool:
        """Has the incremental parse recovered from an error differently than a fresh
        parse would? (On broken code tree-sitter's reuse of the old tree can split a
        definition where parsing the text afresh does not, and the editor would then
        disagree with `--check`.) Checked on the edited top-level constructs that
        contain an error, each parsed again alone: cheap, and only where it can matter."""
        root = self.tree.root_node
        if not root.has_error or not self._unparsed:
            return False
        for node in root.children:
            if not node.has_error or not any(a <= node.end_byte and b >= node.start_byte for a, b in self._unparsed):
                continue
            if node.end_byte - node.start_byte > DIVERGENCE_CHECK_MAX_BYTES:
                continue  # (an unclosed brace swallowed the rest of the file: as dear as a fresh parse)
            alone = self.parser.parse(self.source[node.start_byte:node.end_byte]).root_node
            if alone.child_count != 1:
                return True
            again = alone.children[0]
            # the whole shape, not only the sizes: a recovery can differ inside with the same counts
            if (again.type, again.descendant_count) != (node.type, node.descendant_count) or str(again) != str(node):
                return True
        return False
