"""Include/exclude globs, matched in linear time (a pattern from a pull request's
configuration must not stall CI)."""

from __future__ import annotations

import functools
import os
import re
from typing import Optional


def relative_posix(path: str, root: Optional[str]) -> Optional[str]:
    """`path` relative to `root` with "/" separators; None when it lies outside `root`."""
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute, root) if root else absolute
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return None
    return relative.replace(os.sep, "/")


def glob_matches(pattern: str, relative_path: str) -> bool:
    """Whether an include/exclude glob matches a "/"-separated relative path.

    `*` and `?` stay within one path segment, `[...]` is a character class, and a
    `**` segment matches any number of directories (`src/**`, `**/gen_*.c`). A
    pattern without "/" matches at any depth (`*.gen.c`), a leading "/" anchors it
    to the root, and a pattern matching a directory matches everything inside it
    (`third_party` is `third_party/**`).
    """
    return _glob(pattern)(relative_path)


# Matched segment by segment and character by character with the classic greedy
# wildcard algorithm (back to the last `*` / `**` on a mismatch): time linear in the
# path for each star, never the exponential backtracking a regex of several `*`
# has (`*a*a*a*a*a*a*b` against a 60-character name took seconds per path).

@functools.lru_cache(maxsize=1024)
def _glob(pattern: str):
    anchored = pattern.startswith("/")
    segments = pattern.strip("/").split("/")
    if not anchored and len(segments) == 1:
        segments = ["**"] + segments  # a bare name matches at any depth
    if segments[-1] != "**":
        segments.append("**")  # a pattern matching a directory matches everything inside
    compiled = tuple(seg if seg == "**" else _segment_tokens(seg) for seg in segments)
    return lambda path: _wildcard(compiled, path.split("/"), lambda p, t: _segment_matches(p, t), "**")


def _wildcard(pattern, text, item_matches, star) -> bool:
    """Does the sequence `text` match `pattern`, whose `star` items match any run of items?"""
    i = j = 0
    back, mark = -1, 0
    while j < len(text):
        if i < len(pattern) and pattern[i] == star:
            back, mark = i, j
            i += 1
        elif i < len(pattern) and item_matches(pattern[i], text[j]):
            i += 1
            j += 1
        elif back >= 0:
            i, mark = back + 1, mark + 1
            j = mark
        else:
            return False
    while i < len(pattern) and pattern[i] == star:
        i += 1
    return i == len(pattern)


def _segment_matches(tokens: tuple, name: str) -> bool:
    return _wildcard(tokens, name, _char_matches, "*")


def _char_matches(token, ch: str) -> bool:
    if token == "?":
        return ch != "/"
    if isinstance(token, re.Pattern):
        return token.fullmatch(ch) is not None
    return token == ch


def _segment_tokens(segment: str) -> tuple:
    """One path segment of a glob: "*", "?", a one-character class (as a compiled
    regex) or a literal character; fnmatch's syntax, minus crossing "/"."""
    out: list = []
    i = 0
    while i < len(segment):
        ch = segment[i]
        end = _class_end(segment, i) if ch == "[" else -1
        if ch == "*":
            if not out or out[-1] != "*":
                out.append("*")
        elif ch == "?":
            out.append("?")
        elif end > 0:
            inner = segment[i + 1 : end]
            negate = inner.startswith("!")
            inner = "".join("\\" + c if c in "\\^[]" else c for c in (inner[1:] if negate else inner))
            out.append(re.compile("[^/" + inner + "]" if negate else "[" + inner + "]"))
            i = end
        else:
            out.append(ch)
        i += 1
    return tuple(out)


def _class_end(segment: str, start: int) -> int:
    """The index of the "]" closing the class opened at `start`, or -1 (then "[" is literal)."""
    i = start + 1
    if segment[i : i + 1] == "!":
        i += 1
    if segment[i : i + 1] == "]":  # a leading "]" is part of the class
        i += 1
    return segment.find("]", i)
