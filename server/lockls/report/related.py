"""A violation made a `Finding`: positions in bytes, characters and UTF-16 units, and
related places found (sites in the function; declarations in this file, another
source file, or the configuration file).
"""

from __future__ import annotations

import os
from typing import Callable, Optional

from lockls.config import Config, locate_entry
from lockls.files import read_bytes
from lockls.ir.events import Declared, Site
from lockls.ir.results import Violation
from lockls.report.findings import Finding, Pos, Related, Span
from lockls.lru import Lru
from lockls.syntax.declarations import locate
from lockls.syntax.nodes import Outside


def position(source: bytes, byte: int, point: tuple[int, int]) -> Pos:
    row, col = point
    prefix = source[byte - col:byte]
    if prefix.isascii():
        return Pos(row, col, col, col)
    text = prefix.decode("utf-8", "replace")
    return Pos(row, col, len(text), len(text.encode("utf-16-le")) // 2)


def span_of(site: Site, source: bytes) -> Span:
    return Span(position(source, site.start_byte, site.start), position(source, site.end_byte, site.end),
                site.start_byte, site.end_byte)


def make_finding(v: Violation, path: str, function: str, source: bytes, config: Config,
                 outside: Optional[Outside] = None) -> Finding:
    return Finding(
        rule=v.rule,
        severity="",  # the configuration's, applied when the finding is reported
        message=v.message,
        path=path,
        span=span_of(v.site, source),
        function=function,
        related=related_locations(v.related, path, source, config, outside=outside),
    )


def related_locations(related, path: str, source: bytes, config: Config,
                      read: Optional[Callable[[str], Optional[bytes]]] = None, outside: Optional[Outside] = None) -> tuple:
    """A rule's related places as `Related`s: sites in the function, and declarations
    (`Declared`) found in the analysed file, another source file or the configuration
    file. `read(path)` gives a file's current text (an editor's open buffer); by
    default the file on disk. `outside`: the analysed file's text outside function
    bodies, where its declarations are looked for (found once while that text stays
    the same, whatever is typed inside bodies). A declaration that cannot be found is
    left out."""
    out = []
    for place, message in related:
        if isinstance(place, Site):
            out.append(Related(path, span_of(place, source), str(message)))
        elif isinstance(place, Declared):
            found = _declaration_span(place, path, source, config, read or read_source, outside)
            if found is not None:
                out.append(Related(found[0], found[1], str(message)))
    return tuple(out)


_LOCATED: Lru = Lru(1024)  # (text, what, name, macros) -> (start, end) or None


def _located(text: bytes, place: Declared, config: Config) -> Optional[tuple[int, int]]:
    macros = config.annotations
    return _LOCATED.get((text, place.what, place.name, tuple(sorted(macros.items()))),
                        lambda: locate(text, place.what, place.name, macros))


def _declaration_span(place: Declared, path: str, source: bytes, config: Config, read,
                      outside: Optional[Outside] = None) -> Optional[tuple[str, Span]]:
    origin = place.origin or path
    here = place.origin is None or os.path.abspath(place.origin) == os.path.abspath(path)
    text = source if here else read(origin)
    if text is None:
        return None
    if origin.endswith(".toml"):
        line = locate_entry(text.decode("utf-8", "replace"), place.what, place.name)
        if line is None:
            return None
        start = 0 if line == 1 else _nth_line_start(text, line)
        end = text.find(b"\n", start)
        end = len(text) if end < 0 else end
    else:
        found = None
        if here and outside is not None and place.what != "site":  # declarations live outside bodies
            found = _located(outside.text, place, config)
            if found is not None:
                found = outside.in_file(found[0]), outside.in_file(found[1])
        if found is None:
            found = _located(text, place, config)
        if found is None:
            return None
        start, end = found
    row = text.count(b"\n", 0, start)
    line_start = text.rfind(b"\n", 0, start) + 1
    end_row = text.count(b"\n", 0, end)
    end_line_start = text.rfind(b"\n", 0, end) + 1
    return origin, Span(position(text, start, (row, start - line_start)), position(text, end, (end_row, end - end_line_start)),
                        start, end)


def _nth_line_start(text: bytes, line: int) -> int:
    start = 0
    for _ in range(line - 1):
        start = text.index(b"\n", start) + 1
    return start


def read_source(path: str) -> Optional[bytes]:
    """A file's bytes on disk, or None when it cannot be read."""
    try:
        return read_bytes(path)
    except OSError:
        return None
