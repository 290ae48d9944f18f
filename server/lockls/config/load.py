"""Reading `.lockls.toml`: discovery, loading, validation, the built-in presets,
and showing a configuration.

Reading a file goes: TOML text -> `tomllib` -> a table-driven validator (one
validator per key, `_DOCUMENT` at the top) that collects every problem with its
key path; the same for each file it `extends` (`_Layers`, each file's problems kept
apart) -> `_merge` (the files' sections laid over one another, their path globs
made relative to the configuration's directory) -> `_assemble` (presets merged
under the user's entries, cross-references checked, a problem sent back to the file
that wrote the entry) -> `Config`. Problems get their line from `_KeyLocator`, a small scanner
of the TOML text, because `tomllib` forgets positions. A new section is a new
entry in `_DOCUMENT` plus a field on `Config`.

The schema is documented for users in docs/configuration.md; keep them in step.
Must not know about tree-sitter, the analysis or output formats.
"""

from __future__ import annotations

import bisect
import dataclasses
import difflib
import functools
import json
import logging
import os
import re
import sys
from dataclasses import dataclass
from importlib import resources
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Union

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

from lockls.catalogue import RULES
from lockls.config.model import (ACTIONS, ANNOTATION_MEANINGS, CONFIG_FILE_NAMES, HELD_TESTS, MAX_LOCK_ARG, OUTCOMES,
                                 SCOPES, SEVERITIES, Config, GuardedData, LockClass, LockFunction, LockKind,
                                 LockPattern, case_constant, is_name_glob, parent_steps)
# --------------------------------------------------------------------------- errors

KeyPath = tuple[Union[str, int], ...]


class ConfigError(Exception):
    """A configuration problem at `path:line`, under `key`; `.errors` lists them all.

    `str()` is `path:line: key: message` (without `line` when unknown, without `key: `
    when empty), one line per error when there are several.
    """

    def __init__(
        self,
        path: str,
        line: Optional[int] = None,
        key: str = "",
        message: str = "",
        errors: Optional[Sequence["ConfigError"]] = None,
    ) -> None:
        super().__init__(path, line, key, message)
        self.path = path
        self.line = line
        self.key = key
        self.message = message
        self.errors: list[ConfigError] = list(errors) if errors else [self]

    @classmethod
    def combine(cls, errors: Sequence["ConfigError"]) -> "ConfigError":
        """One error standing for all of `errors` (ordered by line, those of one file
        together, the files in the order they first come); its attributes are the first's."""
        rank: dict[str, int] = {}
        for error in errors:
            rank.setdefault(error.path, len(rank))
        ordered = sorted(errors, key=lambda e: (rank[e.path], e.line is None, e.line or 0))
        if len(ordered) == 1:
            return ordered[0]
        first = ordered[0]
        return cls(first.path, first.line, first.key, first.message, ordered)

    def __str__(self) -> str:
        if len(self.errors) > 1:
            return "\n".join(e._one_line() for e in self.errors)
        return self._one_line()

    def _one_line(self) -> str:
        from lockls.files import printable

        shown = printable(_shown_path(self.path))
        where = shown if self.line is None else f"{shown}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"

    def __reduce__(self):  # keep it picklable despite the keyword-rich __init__
        errors = None if self.errors == [self] else self.errors
        return (type(self), (self.path, self.line, self.key, self.message, errors))


def _shown_path(path: str) -> str:
    """A file's name as messages show it: relative to the current directory when under
    it (as findings are), else as given."""
    try:
        relative = os.path.relpath(os.path.abspath(path))
    except (ValueError, OSError):  # another drive (Windows); no current directory
        return path
    return path if relative == os.pardir or relative.startswith(os.pardir + os.sep) else relative


def format_key(path: KeyPath) -> str:
    """A key path as users write it: `functions.my_lock.acquire`, `locks[0].match`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + toml_key(part)
    return out


class _Problems:
    """Collects the problems found in one TOML document, each with its line."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self.errors: list[ConfigError] = []
        self._locator: Optional[_KeyLocator] = None  # built on the first problem only

    def add(self, key: KeyPath, message: str, at: Optional[KeyPath] = None) -> None:
        """Report `message` about `key`; `at` (e.g. a list item) places it more precisely."""
        if self._locator is None:
            self._locator = _KeyLocator(self.text)
        line = self._locator.line_of(at if at is not None else key)
        self.errors.append(ConfigError(self.path, line, format_key(key), message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise ConfigError.combine(self.errors)


# -------------------------------------------------------------------- key locator


class _KeyLocator:
    """Maps the key paths of a valid TOML document to the 1-based lines defining them.

    `tomllib` gives no positions, so this scans the text: table headers (with the
    index of each `[[array]]` element), `key = value` lines (dotted and quoted keys),
    and, inside values, inline-table keys and array items. The text has already
    been accepted by `tomllib`, so the scanner may assume it is well formed.
    """

    _BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
    _SCALAR_END = re.compile(r"[,\]}\n#]")  # a scalar (number, date, bool) ends here

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.lines: dict[KeyPath, int] = {}
        self._newlines = [i for i, ch in enumerate(text) if ch == "\n"]
        self._array_sizes: dict[KeyPath, int] = {}  # [[array]] path -> elements so far
        self._scan()

    def line_of(self, path: KeyPath) -> Optional[int]:
        """The line of `path`, else of its nearest enclosing key or table; None if unknown."""
        for end in range(len(path), 0, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None

    # The scanner proper.

    def _line(self) -> int:
        return bisect.bisect_left(self._newlines, self.pos) + 1

    def _record(self, path: KeyPath, line: int) -> None:
        self.lines.setdefault(path, line)

    def _peek(self, n: int = 1) -> str:
        return self.text[self.pos : self.pos + n]

    def _skip_blank(self, newlines: bool = True) -> None:
        """Skip spaces, comments and (if `newlines`) line ends."""
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch in " \t\r" or (newlines and ch == "\n"):
                self.pos += 1
            elif ch == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            else:
                return

    def _scan(self) -> None:
        table: KeyPath = ()
        while True:
            self._skip_blank()
            if self.pos >= len(self.text):
                return
            if self._peek() == "[":
                table = self._header()
            else:
                self._key_value(table)

    def _header(self) -> KeyPath:
        line = self._line()
        is_array = self._peek(2) == "[["
        self.pos += 2 if is_array else 1
        parts = self._key()
        self.pos += 2 if is_array else 1  # "]]" or "]" (no blanks allowed in between)
        path = self._resolve(parts, is_array)
        self._record(path, line)
        return path

    def _resolve(self, parts: list[str], new_array_element: bool) -> KeyPath:
        """The key path of a header: each array of tables on the way adds its current index."""
        path: KeyPath = ()
        for i, part in enumerate(parts):
            path += (part,)
            if new_array_element and i == len(parts) - 1:
                index = self._array_sizes.get(path, 0)
                self._array_sizes[path] = index + 1
                path += (index,)
            elif path in self._array_sizes:
                path += (self._array_sizes[path] - 1,)
        return path

    def _key_value(self, table: KeyPath) -> None:
        line = self._line()
        parts = self._key()
        for end in range(1, len(parts) + 1):  # a dotted key defines its prefixes too
            self._record(table + tuple(parts[:end]), line)
        self._skip_blank(newlines=False)
        self.pos += 1  # "="
        self._skip_blank(newlines=False)
        self._value(table + tuple(parts))

    def _key(self) -> list[str]:
        parts = []
        while True:
            self._skip_blank(newlines=False)
            ch = self._peek()
            if ch in "\"'":
                parts.append(self._string())
            else:
                bare = self._BARE_KEY.match(self.text, self.pos)
                if bare is None:  # not expected in valid TOML; stop rather than loop
                    self.pos = len(self.text)
                    return parts
                parts.append(bare.group())
                self.pos = bare.end()
            self._skip_blank(newlines=False)
            if self._peek() != ".":
                return parts
            self.pos += 1

    def _value(self, path: KeyPath) -> None:
        ch = self._peek()
        if ch == "{":
            self._inline_table(path)
        elif ch == "[":
            self._array(path)
        elif ch in "\"'":
            self._string()
        else:
            end = self._SCALAR_END.search(self.text, self.pos)
            self.pos = len(self.text) if end is None else end.start()

    def _inline_table(self, path: KeyPath) -> None:
        self.pos += 1  # "{"
        while True:
            self._skip_blank()
            if self.pos >= len(self.text) or self._peek() == "}":
                self.pos += 1
                return
            if self._peek() == ",":
                self.pos += 1
                continue
            self._key_value(path)

    def _array(self, path: KeyPath) -> None:
        self.pos += 1  # "["
        index = 0
        while True:
            self._skip_blank()
            if self.pos >= len(self.text) or self._peek() == "]":
                self.pos += 1
                return
            if self._peek() == ",":
                self.pos += 1
                continue
            self._record(path + (index,), self._line())
            self._value(path + (index,))
            index += 1

    def _string(self) -> str:
        """Skip a string of any of the four TOML forms; return its (decoded) contents."""
        quote = self._peek()
        if self._peek(3) == quote * 3:
            end = self.pos + 3
            while end < len(self.text) and self.text[end : end + 3] != quote * 3:
                end += 2 if quote == '"' and self.text[end] == "\\" else 1
            while self.text[end + 3 : end + 4] == quote:  # up to two quotes may end the body
                end += 1
            body = self.text[self.pos + 3 : end]
            self.pos = end + 3
            return body
        if quote == "'":
            end = self.text.find("'", self.pos + 1)
            end = len(self.text) if end < 0 else end
            body = self.text[self.pos + 1 : end]
            self.pos = end + 1
            return body
        start = self.pos
        self.pos += 1
        while self.pos < len(self.text) and self.text[self.pos] not in '"\n':
            self.pos += 2 if self.text[self.pos] == "\\" else 1
        self.pos += 1
        raw = self.text[start : self.pos]
        try:  # let tomllib decode the escapes: it is the reference
            return tomllib.loads(f"k = {raw}")["k"]
        except tomllib.TOMLDecodeError:
            return raw[1:-1]


# ---------------------------------------------------------------------- validators

# A validator checks one value at a key path, reports problems and returns the
# parsed value, or _INVALID when the value is unusable (already reported).
_INVALID: Any = object()
Validator = Callable[[Any, KeyPath, _Problems], Any]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _type_name(value: Any) -> str:
    """The TOML name of a value's type, for "expected X, got Y" messages."""
    if isinstance(value, bool):
        return "boolean"
    names = {int: "integer", float: "float", str: "string", list: "array", dict: "table"}
    for python_type, name in names.items():
        if isinstance(value, python_type):
            return name
    return "date/time"


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _got(value: Any) -> str:
    """A value as a message shows what it got: strings verbatim, others by type."""
    return _quoted(value) if isinstance(value, str) else _type_name(value)


def _joined(names: Iterable[str]) -> str:
    return ", ".join(names)


def _boolean(value: Any, path: KeyPath, problems: _Problems) -> Any:
    if isinstance(value, bool):
        return value
    problems.add(path, f"expected true or false, got {_type_name(value)}")
    return _INVALID


def _positive_integer(value: Any, path: KeyPath, problems: _Problems) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    problems.add(path, f"expected a positive integer, got {_quoted(value) if isinstance(value, str) else value}")
    return _INVALID


def _string(value: Any, path: KeyPath, problems: _Problems) -> Any:
    if isinstance(value, str) and value:
        return value
    problems.add(path, f"expected a non-empty string, got {_got(value)}")
    return _INVALID


def _identifier(value: Any, path: KeyPath, problems: _Problems) -> Any:
    if isinstance(value, str) and _IDENTIFIER.match(value):
        return value
    problems.add(path, f"expected an identifier, got {_got(value)}")
    return _INVALID


def _string_list(value: Any, path: KeyPath, problems: _Problems) -> Any:
    if not isinstance(value, list):
        problems.add(path, f"expected a list of strings, got {_type_name(value)}")
        return _INVALID
    ok = True
    for index, item in enumerate(value):
        if not isinstance(item, str):
            problems.add(path, f"expected a list of strings, got {_type_name(item)} at index {index}", at=path + (index,))
            ok = False
    return tuple(value) if ok else _INVALID


def _names_list(noun: str, known: Callable[[], Sequence[str]]) -> Validator:
    """A list of names, each one of `known()`, e.g. preset or rule names."""

    def check(value: Any, path: KeyPath, problems: _Problems) -> Any:
        names = _string_list(value, path, problems)
        if names is _INVALID:
            return _INVALID
        choices = known()
        ok = True
        for index, name in enumerate(names):
            if name not in choices:
                problems.add(path, f"unknown {noun} {_quoted(name)}; expected one of {_joined(choices)}", at=path + (index,))
                ok = False
        return tuple(dict.fromkeys(names)) if ok else _INVALID  # without duplicates

    return check


def _one_of(choices: Sequence[str]) -> Validator:
    def check(value: Any, path: KeyPath, problems: _Problems) -> Any:
        if value in choices:
            return value
        problems.add(path, f"expected one of {_joined(map(_quoted, choices))}, got {_got(value)}")
        return _INVALID

    return check


_FIELDS = r"((?:(?:->|\.)[A-Za-z_]\w*)*)"  # a path of fields: "->lock", ".inner.lock"
_LOCK_SPEC_ARG = re.compile(r"(?i)(arg_?)([0-9]+)(.*)\Z", re.S)  # "ARG0", "arg_1": misspelt, not globals
# a global lock's name; `{arg0}` stands for an argument's text (`G_LOCK(name)` takes `g__name_lock`)
_LOCK_SPEC_GLOBAL = re.compile(r"(?:[A-Za-z_]|\{arg[0-9]+\})(?:\w|\{arg[0-9]+\})*" + _FIELDS + r"\Z")
_LOCK_SPEC_EXPECTED = 'expected a lock spec like "arg0", "arg0->lock", "return" or a global lock\'s name like "RCU"'


# an element of an array of locks indexed by an argument: `lru_locks[arg0]`, `arg0->locks[arg1]`
_LOCK_SPEC_INDEX = re.compile(r"\[\{?arg([0-9]+)\}?\]")


def _indexed(value: str) -> tuple[str, str, bool]:
    """(the spec with its indexes written `[{argN}]`, the spec without them, whether every
    index names an argument there is: arg0 to arg15)."""
    if "[" not in value:
        return value, value, True
    ok = all(int(m.group(1)) <= MAX_LOCK_ARG and str(int(m.group(1))) == m.group(1)
             for m in _LOCK_SPEC_INDEX.finditer(value))
    return (_LOCK_SPEC_INDEX.sub(lambda m: "[{arg" + m.group(1) + "}]", value), _LOCK_SPEC_INDEX.sub("", value), ok)


def _lock_spec(value: Any, path: KeyPath, problems: _Problems) -> Any:
    """A lock spec -> (lock, path): ("arg0", ""), ("arg0", "->lock"), ("return", ""),
    or ("global", NAME) for a lock named without an argument (`rcu_read_lock()` takes "RCU").
    An element of an array of locks is indexed by an argument: "lru_locks[arg0]" is
    ("global", "lru_locks[{arg0}]"), "arg0->locks[arg1]" is ("arg0", "->locks[{arg1}]")."""
    if value == "return":
        return ("return", "")
    hint = ""
    if isinstance(value, str):
        indexed, plain, indexes_ok = _indexed(value)
        arg = _LOCK_SPEC_ARG.match(plain)
        if not indexes_ok:
            hint = f" (arguments are arg0 to arg{MAX_LOCK_ARG})"
        elif arg:
            prefix, number, fields = arg.groups()
            if prefix != "arg" or int(number) > MAX_LOCK_ARG or str(int(number)) != number:
                hint = f" (arguments are arg0 to arg{MAX_LOCK_ARG})"
            elif re.fullmatch(_FIELDS, fields):
                return (f"arg{number}", indexed[len(prefix) + len(number):].replace(".", "->"))
            else:
                hint = ' (a field of an argument is written like "arg0->lock")'
        elif _LOCK_SPEC_GLOBAL.match(plain) and not plain.startswith(("return.", "return-")):
            return ("global", indexed)
        elif value[:1] in ("&", "*") and _LOCK_SPEC_GLOBAL.match(value[1:].strip()):
            hint = f" (name the lock without {_quoted(value[0])})"
    problems.add(path, f"{_LOCK_SPEC_EXPECTED}, got {_got(value)}{hint}")
    return _INVALID


def _outcome(value: Any, path: KeyPath, problems: _Problems) -> Any:
    if value in OUTCOMES or (isinstance(value, str) and _IDENTIFIER.match(value)):
        return value
    problems.add(path, f'expected one of {_joined(OUTCOMES)} or a constant\'s name like "thrd_success", got {_got(value)}')
    return _INVALID


def _misplaced(key: str, value: Any, path: KeyPath) -> bool:
    """Is `key` under a table one of the top-level keys, with a value of its kind?"""
    if not path or key not in _SECTIONS:
        return False
    return isinstance(value, (list, str)) if key in _TOP_LEVEL_VALUES else isinstance(value, dict)


def _unknown_key(key: str, value: Any, keys: Mapping[str, Validator], path: KeyPath) -> str:
    """What to say of an unknown key: a top-level key written under a table (TOML reads
    `lock-order = [...]` after `[functions.x]` as `functions.x.lock-order`), or the
    nearest valid key."""
    if _misplaced(key, value, path):
        return f"`{key}` belongs at the top level; move it above the first `[table]`"
    return f"unknown key; {_did_you_mean(key, keys)}expected one of {_joined(keys)}"


def _table(keys: Mapping[str, Validator]) -> Validator:
    """A table with known keys: returns {key: parsed value or _INVALID} for the keys present."""

    def check(value: Any, path: KeyPath, problems: _Problems) -> Any:
        if not isinstance(value, dict):
            problems.add(path, f"expected a table, got {_type_name(value)}")
            return _INVALID
        parsed = {}
        for key, item in value.items():
            validator = keys.get(key)
            if validator is None:
                problems.add(path + (key,), _unknown_key(key, item, keys, path))
            else:
                parsed[key] = validator(item, path + (key,), problems)
        return parsed

    return check


def _named_tables(entry: Validator, name_check: Callable[[str, KeyPath, _Problems], bool]) -> Validator:
    """A table whose keys are names the user chooses (functions, kinds), each an `entry`.

    Returns {name: parsed entry}, leaving out invalid entries (already reported).
    """

    def check(value: Any, path: KeyPath, problems: _Problems) -> Any:
        if not isinstance(value, dict):
            problems.add(path, f"expected a table, got {_type_name(value)}")
            return _INVALID
        parsed = {}
        for name, item in value.items():
            # (only a list: a function may be named `files`, a rule is named `lock-order`)
            if _misplaced(name, item, path) and isinstance(item, list):
                problems.add(path + (name,), _unknown_key(name, item, {}, path))
            elif name_check(name, path + (name,), problems):
                result = entry(item, path + (name,), problems)
                if result is not _INVALID:
                    parsed[name] = result
        return parsed

    return check


def _array_of_tables(entry: Validator) -> Validator:
    def check(value: Any, path: KeyPath, problems: _Problems) -> Any:
        if not isinstance(value, list):
            problems.add(path, f"expected an array of tables ([[{format_key(path)}]]), got {_type_name(value)}")
            return _INVALID
        # Invalid items stay as _INVALID so that later checks still name the right index.
        return tuple(entry(item, path + (index,), problems) for index, item in enumerate(value))

    return check


def _c_identifier_name(noun: str) -> Callable[[str, KeyPath, _Problems], bool]:
    def check(name: str, path: KeyPath, problems: _Problems) -> bool:
        if _IDENTIFIER.match(name):
            return True
        problems.add(path, f"expected a C identifier as the {noun}, got {_quoted(name)}")
        return False

    return check


def _did_you_mean(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`? " if close else ""


def _extends(value: Any, path: KeyPath, problems: _Problems) -> Any:
    """`extends = "../.lockls.toml"` or a list of such paths -> a tuple of paths."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) and item.strip() for item in items):
        problems.add(path, f'expected the path of a configuration file like "../.lockls.toml", or a list of them, '
                           f'got {_got(value) if not isinstance(value, list) else "a list of other values"}')
        return _INVALID
    return tuple(items)


def _per_file_ignores(value: Any, path: KeyPath, problems: _Problems) -> Any:
    """`{ "tests/**" = ["lock-leak"] }` -> ((glob, (rule, ...)), ...), in the order written."""
    if not isinstance(value, dict):
        problems.add(path, f'expected a table of globs and rule lists like {{ "tests/**" = ["lock-leak"] }}, '
                           f"got {_type_name(value)}")
        return _INVALID
    entries = []
    for glob, rules in value.items():
        key = path + (glob,)
        if _misplaced(glob, rules, path) and not (isinstance(rules, list) and set(rules) <= set(RULES)):
            problems.add(key, _unknown_key(glob, rules, {}, path))  # `lock-order = [...]` after the header
            continue
        if not glob.strip("/"):
            problems.add(key, f'expected a glob of files like "tests/**", got {_quoted(glob)}')
            continue
        names = _string_list(rules, key, problems)
        if names is _INVALID:
            continue
        ok = True
        for index, name in enumerate(names):
            if name not in RULES:
                problems.add(key, f"unknown rule {_quoted(name)}; {_did_you_mean(name, RULES)}"
                                  f"expected one of {_joined(RULES)}", at=key + (index,))
                ok = False
        if ok:
            entries.append((glob, tuple(dict.fromkeys(names))))
    return tuple(entries)


def _rule_name(name: str, path: KeyPath, problems: _Problems) -> bool:
    if name in RULES:
        return True
    problems.add(path, f"unknown rule {_quoted(name)}; expected one of {_joined(RULES)}")
    return False


# ------------------------------------------------------------------------- sections

def _may_sleep(value: Any, path: KeyPath, problems: _Problems) -> Any:
    if value is True:
        return "always"
    if isinstance(value, str) and _IDENTIFIER.match(value):
        return value
    problems.add(path, f'expected true, or the argument that makes the call sleep like "GFP_KERNEL", got {_got(value)}')
    return _INVALID


_LOCK_REF = re.compile(r"^(arg\d+|[A-Za-z_]\w*)((->|\.)[A-Za-z_]\w*)*$")
CLASS_REF = "class:"  # `excludes = ["class:driver"]`: every lock of a class


def _lock_refs(value: Any, path: KeyPath, problems: _Problems) -> Any:
    """["arg0->lock", "big_lock", "lru_locks[arg0]"]: locks through an argument, or global
    locks (an element of an array indexed by an argument); in `excludes`, also
    "class:NAME": any lock of a class."""
    items = _string_list(value, path, problems)
    if items is _INVALID:
        return _INVALID
    refs = []
    for index, item in enumerate(items):
        if item.startswith(CLASS_REF) and path[-1] == "excludes":
            if not _IDENTIFIER.match(item[len(CLASS_REF):]):
                problems.add(path, f'expected a class\'s name after "class:", got {_quoted(item)}', at=path + (index,))
                return _INVALID
            refs.append(item)
            continue
        indexed, plain, indexes_ok = _indexed(item)
        if not _LOCK_REF.match(plain) or not indexes_ok:
            also = ', or "class:NAME" (any lock of a class)' if path[-1] == "excludes" else ""
            problems.add(path, f'expected lock refs like "arg0->lock", a global lock\'s name or "locks[arg0]"{also}, '
                               f'got {_quoted(item)}', at=path + (index,))
            return _INVALID
        ref = indexed.replace(".", "->")
        # "arg0->lock" is argument 0's lock; "arg0_lock" is a global's name, not argument 0
        refs.append(ref if re.match(r"arg\d+(?:->|\[|$)", ref) else "=" + ref)
    return tuple(refs)


def _argument(value: Any, path: KeyPath, problems: _Problems) -> Any:
    """"arg1" -> 1."""
    m = re.fullmatch(r"arg([0-9]+)", value) if isinstance(value, str) else None
    if m and int(m.group(1)) <= MAX_LOCK_ARG and str(int(m.group(1))) == m.group(1):
        return int(m.group(1))
    problems.add(path, f'expected an argument like "arg1" (arg0 to arg{MAX_LOCK_ARG}), got {_got(value)}')
    return _INVALID


def _name_globs(value: Any, path: KeyPath, problems: _Problems) -> Any:
    """Function names or globs: `["*_init", "queue_destroy"]`."""
    names = _string_list(value, path, problems)
    if names is _INVALID:
        return _INVALID
    for index, name in enumerate(names):
        if not _FUNCTION_GLOB.match(name):
            problems.add(path, f'expected function names or globs like "*_init", got {_quoted(name)}', at=path + (index,))
            return _INVALID
    return names


def _path_globs(value: Any, path: KeyPath, problems: _Problems) -> Any:
    """Globs of files, relative to the configuration's directory, as in [files]."""
    globs = _string_list(value, path, problems)
    if globs is _INVALID:
        return _INVALID
    for index, glob in enumerate(globs):
        if not glob.strip("/"):
            problems.add(path, f'expected globs of files like "src/net/**", got {_quoted(glob)}', at=path + (index,))
            return _INVALID
    return globs


# The keys of a [functions.NAME] table, in the order error messages list them.
_FUNCTION_KEYS: dict[str, Validator] = {
    **{action: _lock_spec for action in ACTIONS},
    "kind": _identifier,
    "success": _outcome,
    "failure": _outcome,
    "scope": _one_of(SCOPES),
    "unheld-ok": _boolean,
    "may-sleep": _may_sleep,
    "requires": _lock_refs,
    "excludes": _lock_refs,
    "when": _outcome,
    "actions": lambda v, p, pr: _steps(v, p, pr),
    "by-arg": _argument,
    "cases": lambda v, p, pr: _cases(v, p, pr),
    "paths": _path_globs,
    "clears": _argument,
}
# what one of several actions (`actions = [...]`, `cases = {...}`) may say
_STEP_ACTIONS = tuple(action for action in ACTIONS if action not in HELD_TESTS)
_STEP_KEYS: dict[str, Validator] = {
    **{action: _lock_spec for action in _STEP_ACTIONS},
    "kind": _identifier,
    "success": _outcome,
    "failure": _outcome,
    "when": _outcome,
    "unheld-ok": _boolean,
}
# keys that say what a function does besides taking or dropping locks
_CONTRACT_KEYS = ("may-sleep", "requires", "excludes", "clears", "paths")
# with several actions, these belong to each action
_ONE_ACTION_KEYS = ("success", "failure", "scope", "unheld-ok", "when")
_CONDITIONAL = ("acquire", "acquire-shared", "release")  # the actions `when` is valid with
_FUNCTION_GLOB = re.compile(r"^[A-Za-z_*?\[][\w*?\[\]!-]*$")


def _function_entry(value: Any, path: KeyPath, problems: _Problems) -> Any:
    """A [functions.NAME] table -> LockFunction (the cross-key rules live here)."""
    fields = _table(_FUNCTION_KEYS)(value, path, problems)
    if fields is _INVALID or len(fields) < len(value):
        return _INVALID  # an unknown key (reported) may be a misspelt action: say no more
    name = str(path[-1])
    actions = [action for action in ACTIONS if action in fields]
    several = [key for key in ("actions", "cases") if key in fields]
    if not actions and not several and "by-arg" not in fields and any(k in fields for k in _CONTRACT_KEYS[:4]):
        if _INVALID in fields.values():
            return _INVALID
        extra = [k for k in fields if k not in _CONTRACT_KEYS]
        for key in extra:
            problems.add(path + (key,), "only valid with an action (acquire, release, ...)")
        if extra:
            return _INVALID
        return LockFunction(name=name, action="call", lock="", may_sleep=fields.get("may-sleep"),
                            requires=fields.get("requires", ()), excludes=fields.get("excludes", ()),
                            paths=fields.get("paths", ()), clears=fields.get("clears"))
    if several or "by-arg" in fields:
        return _several_actions(fields, actions, several, path, problems)
    if len(actions) != 1:
        found = "none" if not actions else _found_list(actions)
        problems.add(path, f"expected exactly one of {_joined(ACTIONS)}, found {found}")
        return _INVALID
    return _one_action(fields, actions[0], name, path, problems)


def _one_action(fields: Mapping[str, Any], action: str, name: str, path: KeyPath, problems: _Problems) -> Any:
    """The LockFunction of a table with one action key (a function's, or one of its
    several actions'), its keys already validated one by one."""
    problems_before = len(problems.errors)
    is_try = action.startswith("try-")
    if fields[action] is not _INVALID and fields[action][0] == "return" and action == "release":
        problems.add(path + (action,), '"return" is only valid for acquire and try-acquire functions; expected a lock spec like "arg0"')
    if not is_try:
        for key in ("success", "failure"):
            if key in fields:
                problems.add(path + (key,), "only valid with try-acquire")
    elif "success" not in fields:
        problems.add(path + ("success",), f'required with {action}; expected one of {_joined(OUTCOMES)} or a constant\'s name like "thrd_success"')
    elif fields.get("failure") is not None and fields.get("failure") == fields["success"]:
        problems.add(path + ("failure",), f"must differ from success ({_quoted(fields['success'])})")
    if action in HELD_TESTS and fields[action] is not _INVALID and fields[action][0] == "return":
        problems.add(path + (action,), f'"return" is not valid for {action}; expected a lock spec like "arg0"')
    if "scope" in fields and action not in ("acquire", "acquire-shared"):
        problems.add(path + ("scope",), "only valid with acquire and acquire-shared")
    if "unheld-ok" in fields and action != "release":
        problems.add(path + ("unheld-ok",), "only valid with release")
    if "when" in fields:
        if is_try:
            problems.add(path + ("when",), f"not valid with {action}: `success` says when it took the lock")
        elif action not in _CONDITIONAL:
            problems.add(path + ("when",), "only valid with acquire, acquire-shared and release")
        elif "scope" in fields:
            problems.add(path + ("when",), "not valid with scope: a scoped acquisition always takes the lock")
    if len(problems.errors) > problems_before or _INVALID in fields.values():
        return _INVALID
    lock, lock_path = fields[action]
    return LockFunction(
        name=name,
        action=action.removesuffix("-shared"),
        lock=lock,
        path=lock_path,
        shared=action.endswith("-shared"),
        success=fields.get("success"),
        failure=fields.get("failure"),
        kind=fields.get("kind"),
        scope=fields.get("scope"),
        unheld_ok=fields.get("unheld-ok", False),
        may_sleep=fields.get("may-sleep"),
        requires=fields.get("requires", ()),
        excludes=fields.get("excludes", ()),
        when=fields.get("when"),
        paths=fields.get("paths", ()),
        clears=fields.get("clears"),
    )


def _several_actions(fields: Mapping[str, Any], actions: list, several: list, path: KeyPath,
                     problems: _Problems) -> Any:
    """A function with `actions = [...]`, or `by-arg` and `cases`: a "call" whose steps
    (or the steps of the case its argument chooses) are the lock actions."""
    problems_before = len(problems.errors)
    if actions or len(several) > 1:
        found = _found_list(actions + several)
        problems.add(path, f"expected one of an action key ({_joined(ACTIONS)}), actions, or by-arg with cases; "
                           f"found {found}")
    elif "cases" in fields and "by-arg" not in fields:
        problems.add(path + ("by-arg",), 'required with cases; expected the argument that chooses the case, like "arg1"')
    elif "by-arg" in fields and "cases" not in fields:
        problems.add(path + ("by-arg",), 'only valid with cases (like cases = { 1 = { acquire = "arg0" }, '
                                         '0 = { release = "arg0" } })')
    if "actions" in fields and "by-arg" in fields:
        problems.add(path + ("by-arg",), "only valid with cases")
    for key in _ONE_ACTION_KEYS:
        if key in fields:
            problems.add(path + (key,), f"not valid with {several[0] if several else 'by-arg'}: write it in the "
                                        "action it belongs to")
    if len(problems.errors) > problems_before or _INVALID in fields.values():
        return _INVALID
    kind = fields.get("kind")  # the default kind of the actions

    def kinded(steps: tuple) -> tuple:
        return tuple(dataclasses.replace(s, kind=s.kind or kind) for s in steps)

    return LockFunction(
        name=str(path[-1]), action="call", lock="",
        steps=kinded(fields.get("actions", ())),
        case_arg=fields.get("by-arg"),
        cases=tuple((constant, kinded(steps)) for constant, steps in fields.get("cases", ())),
        kind=kind,
        may_sleep=fields.get("may-sleep"),
        requires=fields.get("requires", ()),
        excludes=fields.get("excludes", ()),
        paths=fields.get("paths", ()),
        clears=fields.get("clears"),
    )


def _step(value: Any, path: KeyPath, problems: _Problems) -> Any:
    """One of several actions: `{ release = "arg1" }` -> LockFunction (named after the function)."""
    fields = _table(_STEP_KEYS)(value, path, problems)
    if fields is _INVALID or len(fields) < len(value):
        return _INVALID
    actions = [action for action in _STEP_ACTIONS if action in fields]
    if len(actions) != 1:
        found = "none" if not actions else _found_list(actions)
        problems.add(path, f"expected exactly one of {_joined(_STEP_ACTIONS)}, found {found}")
        return _INVALID
    return _one_action(fields, actions[0], str(path[1]), path, problems)


def _steps(value: Any, path: KeyPath, problems: _Problems) -> Any:
    """`[{ release = "arg1" }, { acquire = "arg0" }]`, or one table alone -> a tuple of LockFunctions."""
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, list) or not items or not all(isinstance(item, dict) for item in items):
        got = "an empty array" if value == [] else "an array of other values" if isinstance(value, list) \
            else _type_name(value)
        problems.add(path, f'expected a list of actions like [{{ release = "arg1" }}, {{ acquire = "arg0" }}], got {got}')
        return _INVALID
    if isinstance(value, dict):
        steps = (_step(value, path, problems),)
    else:
        steps = tuple(_step(item, path + (index,), problems) for index, item in enumerate(items))
    return _INVALID if _INVALID in steps else steps


_CASE = re.compile(r"(?:[+-]?(?:0[xX][0-9a-fA-F]+|[0-9]+)|[A-Za-z_]\w*)\Z")


def _cases(value: Any, path: KeyPath, problems: _Problems) -> Any:
    """`{ 1 = { acquire = "arg0" }, 0 = { release = "arg0" } }` -> ((constant, steps), ...)."""
    if not isinstance(value, dict) or not value:
        problems.add(path, 'expected a table of constants and their actions like { 1 = { acquire = "arg0" }, '
                           f'0 = {{ release = "arg0" }} }}, got {_type_name(value) if value else "an empty table"}')
        return _INVALID
    cases = []
    ok = True
    for constant, action in value.items():
        if not _CASE.match(constant):
            problems.add(path + (constant,), f'expected a constant (a number or a name like "LOCK_EX"), got {_quoted(constant)}')
            ok = False
            continue
        steps = _steps(action, path + (constant,), problems)
        ok = ok and steps is not _INVALID
        cases.append((case_constant(constant), steps))
    return tuple(cases) if ok else _INVALID


def _guarded_entry(value: Any, path: KeyPath, problems: _Problems) -> Any:
    fields = _table({"field": _identifier, "variable": _identifier, "type": _string, "by": _string,
                     "everywhere": _boolean, "pointee": _boolean, "except": _string_list,
                     "paths": _path_globs, "exempt-functions": _name_globs})(value, path, problems)
    if fields is _INVALID or _INVALID in fields.values():
        return _INVALID
    if sum(k in fields for k in ("field", "variable", "type")) != 1:
        problems.add(path, 'expected exactly one of "field" (a struct field), "variable" (a global) and '
                           '"type" (every use of a variable of a struct type, like "struct driver")')
        return _INVALID
    by = fields.get("by", "")
    if not re.match(r"^(self|[A-Za-z_]\w*(->[A-Za-z_]\w*)*)$", by.replace(".", "->")):
        problems.add(path + ("by",), 'expected the guarding lock: a sibling field like "lock", "self", or a global lock\'s name')
        return _INVALID
    if "variable" in fields:
        if by == "self":
            problems.add(path + ("by",), 'a global is guarded by a global lock: expected its name, not "self"')
            return _INVALID
        by = "=" + by  # a global's guard is a global lock
    elif by != "self":
        by = by.replace(".", "->")
    if "except" in fields and "type" not in fields:
        problems.add(path + ("except",), 'only valid with "type"')
        return _INVALID
    type_name = " ".join(fields["type"].split()) if "type" in fields else None
    if type_name is not None and (not re.match(r"^(struct |union )?[A-Za-z_]\w*$", type_name)
                                  or type_name in ("struct", "union")):
        problems.add(path + ("type",), f'expected a type name like "struct driver" or "virDomainObjPtr", got {_quoted(fields["type"])}')
        return _INVALID
    return GuardedData(field=fields.get("field"), variable=fields.get("variable"), type=type_name, by=by,
                       everywhere=fields.get("everywhere", False), pointee=fields.get("pointee", False),
                       exceptions=tuple(fields.get("except", ())), paths=tuple(fields.get("paths", ())),
                       exempt=tuple(fields.get("exempt-functions", ())))


_NAME_OR_GLOB = re.compile(r"^[A-Za-z_*?\[][\w*?\[\]!-]*$")
MAX_REGISTRAR_ARG = 31  # "NAME:0".."NAME:31"


def _entry_points_entry(value: Any, path: KeyPath, problems: _Problems) -> Any:
    fields = _table({"functions": _string_list, "tables": _string_list, "table-macros": _string_list,
                     "registrars": _string_list, "paths": _path_globs})(value, path, problems)
    if fields is _INVALID or _INVALID in fields.values():
        return _INVALID
    for key, example in (("functions", "*_ioctl"), ("table-macros", "DEFINE_*_OPS")):
        for name in fields.get(key, ()):
            if not _NAME_OR_GLOB.match(name):
                what = "function" if key == "functions" else "macro"
                problems.add(path + (key,), f'expected {what} names or globs like "{example}", got {_quoted(name)}')
                return _INVALID
    tables = tuple(" ".join(t.split()) for t in fields.get("tables", ()))
    for name in tables:
        if not re.match(r"^(struct |union )?[A-Za-z_]\w*$", name):
            problems.add(path + ("tables",), f'expected type names like "struct file_operations", got {_quoted(name)}')
            return _INVALID
    registrars = []
    for spec in fields.get("registrars", ()):
        name, colon, index = (part.strip() for part in spec.rpartition(":"))
        if not colon or not _NAME_OR_GLOB.match(name) or not re.fullmatch(r"[0-9]+", index) or int(index) > MAX_REGISTRAR_ARG:
            problems.add(path + ("registrars",), 'expected a function name (or glob) and the index, from 0, of the '
                                                 f'argument that is the callback, like "pthread_create:2", got {_quoted(spec)}')
            return _INVALID
        registrars.append((name, int(index)))
    entry = {"functions": tuple(fields.get("functions", ())), "tables": tables,
             "table-macros": tuple(fields.get("table-macros", ())), "registrars": tuple(registrars)}
    if fields.get("paths"):
        entry["paths"] = tuple(fields["paths"])
    return entry


def _entry_fields(entry: Mapping[str, tuple]) -> dict:
    """`[entry-points]` lists as the Config fields they fill."""
    return {"entry_points": tuple(dict.fromkeys(entry.get("functions", ()))),
            "entry_tables": tuple(dict.fromkeys(entry.get("tables", ()))),
            "entry_table_macros": tuple(dict.fromkeys(entry.get("table-macros", ()))),
            "entry_registrars": tuple(sorted(set(entry.get("registrars", ()))))}


def _class_entry(value: Any, path: KeyPath, problems: _Problems) -> Any:
    fields = _table({"match": _string_list, "types": _string_list, "nests": _boolean, "needs": _identifier})(
        value, path, problems)
    if fields is _INVALID or _INVALID in fields.values():
        return _INVALID
    if not fields.get("match") and not fields.get("types"):
        problems.add(path, 'expected "match" (globs over lock expressions) or "types" (like "struct driver"), found neither')
        return _INVALID
    return LockClass(name=str(path[-1]), match=tuple(fields.get("match", ())),
                     types=tuple(" ".join(t.split()) for t in fields.get("types", ())),
                     nests=fields.get("nests", True), needs=fields.get("needs"))


def _found_list(names: Sequence[str]) -> str:
    if len(names) == 2:
        return f"both {names[0]} and {names[1]}"
    return f"{_joined(names[:-1])} and {names[-1]}"


def _kind_entry(value: Any, path: KeyPath, problems: _Problems) -> Any:
    fields = _table({"recursive": _boolean, "spinning": _boolean, "sleeping": _boolean})(value, path, problems)
    if fields is _INVALID or _INVALID in fields.values():
        return _INVALID
    if fields.get("spinning") and fields.get("sleeping"):
        problems.add(path + ("sleeping",), "a spinning kind never sleeps; expected false or no sleeping key")
        return _INVALID
    return LockKind(name=str(path[-1]), recursive=fields.get("recursive", False),
                    spinning=fields.get("spinning", False), sleeping=fields.get("sleeping"))


def _lock_entry(value: Any, path: KeyPath, problems: _Problems) -> Any:
    fields = _table({"match": _string, "kind": _identifier, "recursive": _boolean})(value, path, problems)
    if fields is _INVALID:
        return _INVALID
    if "match" not in fields:
        problems.add(path + ("match",), 'required; expected a glob over lock expressions like "*->lock"')
        return _INVALID
    if _INVALID in fields.values():
        return _INVALID
    return LockPattern(match=fields["match"], kind=fields.get("kind"), recursive=fields.get("recursive"))


def _presets_directory():
    # One joinpath argument at a time: several arrived in Python 3.11.
    return resources.files("lockls.config").joinpath("presets")


@functools.lru_cache(maxsize=None)
def available_presets() -> tuple[str, ...]:
    """The built-in presets: every `presets/NAME.toml` shipped with lockls, sorted."""
    directory = _presets_directory()
    return tuple(sorted(entry.name[: -len(".toml")] for entry in directory.iterdir() if entry.name.endswith(".toml")))


def _function_name(name: str, path: KeyPath, problems: _Problems) -> bool:
    """A function's name, or a glob of names (`do_item_*`: every function it matches)."""
    if _IDENTIFIER.match(name) or (is_name_glob(name) and _FUNCTION_GLOB.match(name)):
        return True
    if is_name_glob(name):
        problems.add(path, f'expected a glob of function names like "do_item_*", got {_quoted(name)}')
    else:
        problems.add(path, f"expected a C identifier as the function name, got {_quoted(name)}")
    return False


_FUNCTIONS = _named_tables(_function_entry, _function_name)
_KINDS = _named_tables(_kind_entry, _c_identifier_name("kind name"))

# The whole document, section by section. Presets use only `functions`, `kinds` and `entry-points`.
_SECTIONS: dict[str, Validator] = {
    "extends": _extends,
    "presets": _names_list("preset", available_presets),
    "rules": _table(
        {
            "select": _names_list("rule", lambda: tuple(RULES)),
            "extend-select": _names_list("rule", lambda: tuple(RULES)),
            "ignore": _names_list("rule", lambda: tuple(RULES)),
            "severity": _named_tables(_one_of(SEVERITIES), _rule_name),
            "thread-safety-pointer": _boolean,
        }
    ),
    "files": _table({"include": _string_list, "exclude": _string_list}),
    "functions": _FUNCTIONS,
    "kinds": _KINDS,
    "locks": _array_of_tables(_lock_entry),
    "annotations": _named_tables(_one_of(ANNOTATION_MEANINGS), _c_identifier_name("macro name")),
    "classes": _named_tables(lambda v, p, pr: _class_entry(v, p, pr), _c_identifier_name("class name")),
    "lock-order": _string_list,
    "guarded": _array_of_tables(lambda v, p, pr: _guarded_entry(v, p, pr)),
    "entry-points": lambda v, p, pr: _entry_points_entry(v, p, pr),
    "limits": _table({"function-steps": lambda v, p, pr: _positive_integer(v, p, pr)}),
    "per-file-ignores": _per_file_ignores,
}
_DOCUMENT = _table(_SECTIONS)
# the top-level keys whose values are not tables (arrays of tables are arrays)
_TOP_LEVEL_VALUES = frozenset({"extends", "presets", "lock-order", "guarded", "locks"})
_PRESET_DOCUMENT = _table({"functions": _FUNCTIONS, "kinds": _KINDS, "entry-points": _SECTIONS["entry-points"]})


def _valid(parsed: Mapping[str, Any], key: str, default: Any) -> Any:
    """parsed[key], or `default` when absent or invalid (invalid ones were reported)."""
    value = parsed.get(key, _INVALID)
    return default if value is _INVALID else value


def _check_kind_references(
    functions: Mapping[str, LockFunction],
    locks: Sequence[LockPattern],
    kinds: Mapping[str, LockKind],
    problems: _Problems,
) -> None:
    """Every `kind = ...` must name a kind that exists (from a preset or [kinds])."""

    def check(kind: Optional[str], path: KeyPath) -> None:
        if kind is None or kind in kinds:
            return
        others = f" or use one of {_joined(sorted(kinds))}" if kinds else ""
        problems.add(path, f"unknown kind {_quoted(kind)}; define it under [kinds.{kind}]{others}")

    for name, function in functions.items():
        check(function.kind, ("functions", name, "kind"))
        for step in function.steps + tuple(s for _, steps in function.cases for s in steps):
            if step.kind != function.kind:
                check(step.kind, ("functions", name, "actions" if function.steps else "cases"))
    for index, pattern in enumerate(locks):
        if pattern is not _INVALID:
            check(pattern.kind, ("locks", index, "kind"))


# -------------------------------------------------------------------------- presets


@dataclass(frozen=True)
class _Preset:
    name: str
    functions: Mapping[str, LockFunction]
    kinds: Mapping[str, LockKind]
    entry_points: Mapping[str, tuple] = dataclasses.field(default_factory=dict)  # as `_entry_points_entry` gives


@functools.lru_cache(maxsize=None)
def _load_preset(name: str) -> _Preset:
    """Parse and validate a built-in preset; a broken preset is a lockls bug (ConfigError)."""
    resource = _presets_directory().joinpath(f"{name}.toml")
    path = f"<preset {name}>"
    text = resource.read_text(encoding="utf-8")
    data = _parse_toml(text, path)
    problems = _Problems(path, text)
    parsed = _PRESET_DOCUMENT(data, (), problems)
    functions = _valid(parsed, "functions", {})
    kinds = _valid(parsed, "kinds", {})
    _check_kind_references(functions, (), kinds, problems)
    problems.raise_if_any()
    return _Preset(name, functions, kinds, _valid(parsed, "entry-points", {}))


def preset_functions(name: str) -> Mapping[str, LockFunction]:
    """The lock functions (and calls that may sleep) of the built-in preset `name`."""
    return _load_preset(name).functions


# -------------------------------------------------------------------------- loading


def _parse_toml(text: str, path: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise _syntax_error(error, text, path) from None
    except RecursionError:  # tomllib recurses once per `[` or `{`
        raise ConfigError(path, _deepest_line(text), "", "invalid TOML: nested too deeply") from None


def _deepest_line(text: str) -> int:
    """The line where arrays and inline tables nest deepest (brackets in strings count
    too: this only places an error message)."""
    depth, deepest, line, number = 0, 0, 1, 1
    for ch in text:
        if ch in "[{":
            depth += 1
            if depth > deepest:
                deepest, line = depth, number
        elif ch in "]}":
            depth -= 1
        elif ch == "\n":
            number += 1
    return line


def _syntax_error(error: Exception, text: str, path: str) -> ConfigError:
    """tomllib's message says where: "... (at line N, column M)" or "(at end of document)"."""
    message = str(error)
    position = re.search(r"\s*\(at line (\d+), column (\d+)\)", message)
    if position:
        reason = message[: position.start()]
        return ConfigError(path, int(position.group(1)), "", f"invalid TOML: {reason} (column {position.group(2)})")
    end = re.search(r"\s*\(at end of document\)", message)
    if end:
        return ConfigError(path, text.count("\n") + 1, "", f"invalid TOML: {message[: end.start()]} (at end of file)")
    return ConfigError(path, None, "", f"invalid TOML: {message}")


def _read_text(path: str) -> str:
    from lockls.files import MAX_SMALL_FILE_BYTES, read_bytes

    try:
        data = read_bytes(path, MAX_SMALL_FILE_BYTES)
    except OSError as error:
        raise ConfigError(path, None, "", f"cannot read the configuration: {error.strerror or error}") from None
    return _decoded(data, path)


def _decoded(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ConfigError(path, line, "", "invalid TOML: not valid UTF-8") from None


def load_config(path: str) -> Config:
    """Read, validate and merge (with its presets and the files it extends) the
    configuration file at `path`."""
    return _raised(_load(path)[0])


def config_from_text(text: str, path: str) -> Config:
    """The configuration a file at `path` holding `text` means (e.g. an unsaved editor buffer).

    Raises ConfigError, naming `path` (or the extended file at fault), with every problem found.
    """
    return _raised(_from_text(text, path)[0])


def _raised(result: Union[Config, ConfigError]) -> Config:
    if isinstance(result, ConfigError):
        raise result
    return result


def _load(path: str) -> tuple[Union[Config, ConfigError], tuple[str, ...]]:
    """(the configuration of the file at `path` or why there is none, every file it was read from)."""
    try:
        text = _read_text(path)
    except ConfigError as error:
        return error, (os.path.abspath(path),)
    return _from_text(text, path)


def _from_text(text: str, path: str) -> tuple[Union[Config, ConfigError], tuple[str, ...]]:
    source = os.path.abspath(path)
    layers = _Layers()
    layers.files.append(source)
    layers.read(text, source)
    files = tuple(dict.fromkeys(layers.files))
    top = layers.layers[-1] if layers.layers and layers.layers[-1].path == source else None
    if top is None:  # the file itself is not TOML
        return ConfigError.combine(layers.errors), files
    router = _Router(top.problems)
    config = _assemble(_merge(layers.layers, os.path.dirname(source), router), source, router,
                       bases=tuple(layer.path for layer in layers.layers[:-1]))
    errors = layers.errors + [e for layer in layers.layers for e in layer.problems.errors]
    if errors:  # the file's own problems first, then each extended file's (each by line)
        rank = {name: index for index, name in enumerate(files)}
        errors.sort(key=lambda e: rank.get(os.path.abspath(e.path), len(rank)))
        return ConfigError.combine(errors), files
    return config, files


# ------------------------------------------------------------------------ extends

MAX_EXTENDS_DEPTH = 10  # files extending one another in a row (a.toml -> b.toml -> ...)


@dataclass
class _Layer:
    """One file of a configuration: its sections, validated, and where its problems go."""

    path: str  # absolute
    parsed: Mapping[str, Any]
    problems: _Problems


class _Layers:
    """Reads a configuration file and, first, the files it extends (depth first, each
    file once): `layers` has the extended files first and the file itself last,
    `files` every file read or looked for (a change to any of them changes the
    configuration), `errors` the TOML syntax errors (each layer has its other problems)."""

    def __init__(self) -> None:
        self.layers: list[_Layer] = []
        self.errors: list[ConfigError] = []
        self.files: list[str] = []

    def read(self, text: str, path: str, trail: tuple = ()) -> None:
        try:
            data = _parse_toml(text, path)
        except ConfigError as error:
            self.errors.extend(error.errors)
            return
        problems = _Problems(path, text)
        parsed = _DOCUMENT(data, (), problems)
        for index, base in enumerate(_valid(parsed, "extends", ())):
            at = ("extends",) if isinstance(data.get("extends"), str) else ("extends", index)
            self._extend(base, path, trail + (path,), problems, at)
        self.layers.append(_Layer(path, parsed, problems))

    def _extend(self, base: str, path: str, trail: tuple, problems: _Problems, at: KeyPath) -> None:
        from lockls.files import MAX_SMALL_FILE_BYTES, read_bytes

        target = os.path.normpath(os.path.join(os.path.dirname(path), os.path.expanduser(base)))
        if target in trail:
            chain = " -> ".join(os.path.relpath(p, os.path.dirname(path)) for p in trail[trail.index(target):] + (target,))
            problems.add(("extends",), f"{_quoted(base)} makes a cycle: {chain}", at=at)
            return
        if target in self.files:
            return  # extended twice (a extends b and c, both extend d): its settings are in already
        if len(trail) >= MAX_EXTENDS_DEPTH:
            problems.add(("extends",), f"{_quoted(base)}: more than {MAX_EXTENDS_DEPTH} files extend one another "
                                       f"in a row", at=at)
            return
        self.files.append(target)
        try:
            data = read_bytes(target, MAX_SMALL_FILE_BYTES)
        except OSError as error:
            problems.add(("extends",), f"cannot read {_quoted(base)}: {error.strerror or error}", at=at)
            return
        if _owned_by_someone_else(target):
            problems.add(("extends",), f"cannot use {_quoted(base)}: owned by another user (a configuration "
                                       "file must be owned by you or root)", at=at)
            return
        try:
            text = _decoded(data, target)
        except ConfigError as error:
            self.errors.append(error)
            return
        self.read(text, target, trail)


class _Router:
    """Sends a problem found in the merged configuration (an unknown kind, class, ...)
    to the file, and the key in it, that wrote the entry at fault; else to `fallback`."""

    def __init__(self, fallback: _Problems) -> None:
        self.fallback = fallback
        self.routes: dict[KeyPath, tuple[_Problems, KeyPath]] = {}

    def route(self, key: KeyPath, problems: _Problems, original: Optional[KeyPath] = None) -> None:
        self.routes[key] = (problems, key if original is None else original)

    def add(self, key: KeyPath, message: str, at: Optional[KeyPath] = None) -> None:
        for end in range(len(key), 0, -1):
            hit = self.routes.get(key[:end])
            if hit is not None:
                problems, original = hit
                problems.add(original + key[end:], message, None if at is None else original + at[end:])
                return
        self.fallback.add(key, message, at)


def _merge(layers: Sequence[_Layer], root: str, router: _Router) -> dict[str, Any]:
    """The sections of several files (the extended ones first) as one file's, each
    file's path globs made relative to `root`. A file's setting replaces the one of
    a file it extends, but for: `[rules] ignore` and `extend-select`, which change
    the rules selected so far; `[files] exclude`, `[[guarded]]`, `[[locks]]` (a
    later file's first: the first match wins) and `[entry-points]` lists, which add;
    and the tables of named entries (`[functions]`, `[kinds]`, `[classes]`,
    `[annotations]`, `[rules.severity]`, `[limits]`, `[per-file-ignores]`), where an
    entry replaces the entry of the same name, whole."""
    merged: dict[str, Any] = {}
    selected = list(RULES)
    severity: dict = {}
    named: dict[str, dict] = {"functions": {}, "kinds": {}, "classes": {}, "annotations": {}, "limits": {}}
    exclude: list = []
    guarded: list = []
    locks: list = []  # (pattern, the problems of its file, its index there)
    entry: dict = {}
    entry_paths: Optional[tuple] = None  # the [entry-points] paths of the files that have the section
    entry_file = ""
    ignores: dict = {}
    pointer = None  # `[rules] thread-safety-pointer`, the last file that says
    for layer in layers:
        parsed, problems = layer.parsed, layer.problems

        def rebased(globs: Iterable[str], key: KeyPath) -> tuple:
            return tuple(_rebased_glob(g, os.path.dirname(layer.path), root, key, problems) for g in globs)

        if _valid(parsed, "presets", None) is not None:
            merged["presets"] = parsed["presets"]
        rules = _valid(parsed, "rules", {})
        if _valid(rules, "select", None) is not None:
            selected = list(rules["select"])
        selected += [r for r in _valid(rules, "extend-select", ()) if r not in selected]
        selected = [r for r in selected if r not in _valid(rules, "ignore", ())]
        severity.update(_valid(rules, "severity", {}))
        if _valid(rules, "thread-safety-pointer", None) is not None:
            pointer = rules["thread-safety-pointer"]
        files = _valid(parsed, "files", {})
        if _valid(files, "include", None) is not None:
            merged["include"] = rebased(files["include"], ("files", "include"))
        exclude += [g for g in rebased(_valid(files, "exclude", ()), ("files", "exclude")) if g not in exclude]
        for section, entries in named.items():
            for name, value in _valid(parsed, section, {}).items():
                if section == "functions":
                    value = dataclasses.replace(value, origin=layer.path,
                                                paths=rebased(value.paths, ("functions", name, "paths")))
                entries[name] = value
                router.route((section, name), problems)
        if _valid(parsed, "lock-order", None) is not None:
            merged["lock-order"] = parsed["lock-order"]
            router.route(("lock-order",), problems)
        locks = [(p, problems, i) for i, p in enumerate(_valid(parsed, "locks", ()))] + locks
        guarded += [dataclasses.replace(g, origin=layer.path, paths=rebased(g.paths, ("guarded", i, "paths")))
                    for i, g in enumerate(_valid(parsed, "guarded", ())) if g is not _INVALID]
        points = _valid(parsed, "entry-points", None)
        if points is not None:
            paths = rebased(points.get("paths", ()), ("entry-points", "paths"))
            if entry_paths is not None and paths != entry_paths:
                problems.add(("entry-points", "paths") if "paths" in points else ("entry-points",),
                             f"the [entry-points] of {os.path.relpath(entry_file, os.path.dirname(layer.path))} apply to "
                             f"{'other files' if entry_paths else 'every file'}; files that extend one another "
                             "must give their [entry-points] the same paths")
            entry_paths, entry_file = paths, layer.path
            for key, values in points.items():
                if key != "paths":
                    entry[key] = entry.get(key, ()) + values
        for glob, rules_off in _valid(parsed, "per-file-ignores", ()):
            ignores[rebased((glob,), ("per-file-ignores", glob))[0]] = rules_off
    merged["rules"] = {"select": tuple(selected), "severity": severity}
    if pointer is not None:
        merged["rules"]["thread-safety-pointer"] = pointer
    merged["files"] = {"include": merged.pop("include", ()), "exclude": tuple(exclude)}
    merged.update((section, entries) for section, entries in named.items() if entries)
    for index, (_, problems, original) in enumerate(locks):
        router.route(("locks", index), problems, ("locks", original))
    merged["locks"] = tuple(pattern for pattern, _, _ in locks)
    merged["guarded"] = tuple(guarded)
    if entry_paths is not None:
        merged["entry-points"] = {**entry, **({"paths": entry_paths} if entry_paths else {})}
    merged["per-file-ignores"] = tuple(ignores.items())
    return merged


_GLOB_CHARACTER = re.compile(r"([*?\[])")


def _rebased_glob(glob: str, directory: str, root: str, key: KeyPath, problems: _Problems) -> str:
    """A path glob written in a file of `directory`, as the same glob relative to `root`
    (the configuration's directory): `src/**` written in `../base.toml` is
    `../src/**`, `*.gen.c` is `../**/*.gen.c`; one written in `sub/base.toml` is
    `/sub/src/**` (see `Config.is_included` for globs starting with `../`)."""
    if directory == root:
        return glob
    try:
        prefix = os.path.relpath(directory, root).split(os.sep)
    except ValueError:  # another drive (Windows)
        problems.add(key, f"{_quoted(glob)} is written in a file on another drive than the configuration it "
                          "is used in; expected the files on one drive")
        return glob
    ups, rest = parent_steps(glob)
    segments = [s for s in rest.split("/") if s] if ups else glob.strip("/").split("/")
    if not ups and not glob.startswith("/") and len(segments) == 1:
        segments = ["**"] + segments  # a bare name matches at any depth below its own directory
    prefix = [p if p == os.pardir else _GLOB_CHARACTER.sub(r"[\1]", p) for p in prefix]
    for _ in range(ups):
        if prefix and prefix[-1] != os.pardir:
            prefix.pop()
        else:
            prefix.append(os.pardir)
    ups = len(prefix) if all(p == os.pardir for p in prefix) else 0
    names = root.replace(os.sep, "/").split("/")[-ups:] if ups else []
    if ups and len(segments) > ups and segments[:ups] == names and not any(_GLOB_CHARACTER.search(s) for s in segments[:ups]):
        prefix, segments = [], segments[ups:]  # `../sub/src/**` used in sub/ is `/src/**`
    out = "/".join(prefix + segments)
    return out if out.startswith(os.pardir) else "/" + out


def _assemble(parsed: Mapping[str, Any], source: Optional[str], problems: Union[_Problems, _Router],
              bases: tuple = ()) -> Config:
    """Merge the validated sections (of one file, or of several: see `_merge`) over the
    presets they enable into a Config."""
    presets = _valid(parsed, "presets", available_presets())
    functions: dict[str, LockFunction] = {}
    kinds: dict[str, LockKind] = {}
    entry: dict[str, tuple] = {}  # [entry-points]: the presets' and the project's, together
    for name in presets:
        preset = _load_preset(name)
        functions.update(preset.functions)
        kinds.update(preset.kinds)
        for key, values in preset.entry_points.items():
            entry[key] = entry.get(key, ()) + values
    preset_entry = dict(entry)  # (what applies outside the project's `[entry-points] paths`)
    project_entry = dict(_valid(parsed, "entry-points", {}))
    entry_paths = project_entry.pop("paths", ())
    for key, values in project_entry.items():
        entry[key] = entry.get(key, ()) + values
    user_functions = _valid(parsed, "functions", {})
    user_locks = _valid(parsed, "locks", ())
    kinds.update(_valid(parsed, "kinds", {}))
    # the project's entry replaces a preset's (outside its `paths`, the preset's applies)
    fallbacks = {n: functions[n] for n, f in user_functions.items() if f.paths and n in functions}
    functions.update((n, dataclasses.replace(f, origin=f.origin or source)) for n, f in user_functions.items())
    _check_kind_references(user_functions, user_locks, kinds, problems)

    classes = _valid(parsed, "classes", {})
    for name, function in user_functions.items():
        for ref in function.excludes:
            if ref.startswith(CLASS_REF) and ref[len(CLASS_REF):] not in classes:
                cls = ref[len(CLASS_REF):]
                problems.add(("functions", name, "excludes"), f"unknown class {_quoted(cls)}; define it under [classes.{cls}]")
    for index, name in enumerate(_valid(parsed, "lock-order", ())):
        if name not in classes:
            problems.add(("lock-order",), f"unknown class {_quoted(name)}; define it under [classes.{name}]")
    for cls in classes.values():
        if cls.needs is not None and cls.needs not in classes:
            problems.add(("classes", cls.name, "needs"), f"unknown class {_quoted(cls.needs)}; define it under [classes.{cls.needs}]")
    rules = _valid(parsed, "rules", {})
    select = frozenset(_valid(rules, "select", tuple(RULES))) | frozenset(_valid(rules, "extend-select", ()))
    ignore = _valid(rules, "ignore", ())
    files = _valid(parsed, "files", {})
    return Config(
        source=source,
        presets=tuple(presets),
        functions=functions,
        kinds=kinds,
        locks=tuple(pattern for pattern in user_locks if pattern is not _INVALID),
        select=select - frozenset(ignore),
        severities={**RULES, **_valid(rules, "severity", {})},
        include=_valid(files, "include", ()),
        exclude=_valid(files, "exclude", ()),
        root=None if source is None else os.path.dirname(source),
        annotations=_valid(parsed, "annotations", {}),
        classes=_valid(parsed, "classes", {}),
        lock_order=tuple(_valid(parsed, "lock-order", ())),
        guarded=tuple(dataclasses.replace(g, origin=g.origin or source, configured=True)
                      for g in _valid(parsed, "guarded", ()) if g is not _INVALID),
        entry_points=tuple(dict.fromkeys(entry.get("functions", ()))),
        entry_tables=tuple(dict.fromkeys(entry.get("tables", ()))),
        entry_table_macros=tuple(dict.fromkeys(entry.get("table-macros", ()))),
        entry_registrars=tuple(sorted(set(entry.get("registrars", ())))),
        entry_paths=tuple(entry_paths),
        entry_fallback=_entry_fields(preset_entry) if entry_paths else {},
        function_steps=_valid(_valid(parsed, "limits", {}), "function-steps", 0),
        fallbacks=fallbacks,
        per_file_ignores=tuple(_valid(parsed, "per-file-ignores", ())),
        bases=bases,
        thread_safety_pointer=bool(_valid(rules, "thread-safety-pointer", False)),
    )


@functools.lru_cache(maxsize=None)
def default_config() -> Config:
    """The configuration without a file: every built-in preset, every rule."""
    return _assemble({}, None, _Problems("<defaults>", ""))


# ------------------------------------------------------------------------ discovery


# configuration files found but not used (owned by another user), for the front-ends to show
DISCOVERY_WARNINGS: list[str] = []


def find_config_file(start: str) -> Optional[str]:
    """The nearest `.lockls.toml` (preferred) or `lockls.toml` walking up from `start`.

    `start` is a file or a directory; returns an absolute path, or None. The walk
    stops at the repository's root (a directory with `.git`) or the user's home, and
    passes over a file owned by another user than the current one (or root), as
    git's `safe.directory` does: a `/tmp/.lockls.toml` someone else wrote must not
    configure (or silence) a project under `/tmp`. Those are recorded in
    `DISCOVERY_WARNINGS`.
    """
    directory = _directory_of(start)
    home = os.path.expanduser("~")
    while True:
        for name in CONFIG_FILE_NAMES:
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate):
                if _owned_by_someone_else(candidate):
                    warning = (f"{candidate}: not used: owned by another user (a configuration file must be "
                               "owned by you or root)")
                    if warning not in DISCOVERY_WARNINGS:
                        DISCOVERY_WARNINGS.append(warning)
                        logging.getLogger("lockls").warning("%s", warning)
                    continue
                return candidate
        parent = os.path.dirname(directory)
        if parent == directory or directory == home or os.path.exists(os.path.join(directory, ".git")):
            return None
        directory = parent


def _owned_by_someone_else(path: str) -> bool:
    getuid = getattr(os, "getuid", None)
    if getuid is None:
        return False  # no owners to speak of (Windows)
    try:
        owner = os.stat(path).st_uid
    except OSError:
        return False
    return owner not in (getuid(), 0)


def _directory_of(path: str) -> str:
    path = os.path.abspath(path)
    return path if os.path.isdir(path) else os.path.dirname(path)


# Caches for config_for. The language server calls it for every analysis, so the
# walk up the tree is done once per directory, and a file is re-read only when its
# (mtime_ns, size), or that of a file it extends, changes. clear_config_cache()
# forgets both (e.g. when a config file is created where there was none).
_CONFIG_FILE_BY_DIR: dict[str, Optional[str]] = {}
# config file -> (the files it was read from, their stamps, the configuration or its error)
_LOADED: dict[str, tuple[tuple[str, ...], tuple, Union[Config, ConfigError]]] = {}


def config_for(path: str, explicit: Optional[str] = None) -> Config:
    """The configuration for the file or directory `path`: `explicit` if given, else discovered,
    without the entries whose `paths` do not match `path` (see `Config.for_file`).

    Raises ConfigError when the configuration file is invalid.
    """
    if explicit is not None:
        return _load_cached(explicit).for_file(path)
    directory = _directory_of(path)
    if directory not in _CONFIG_FILE_BY_DIR:
        _CONFIG_FILE_BY_DIR[directory] = find_config_file(directory)
    config_file = _CONFIG_FILE_BY_DIR[directory]
    if config_file is not None and not os.path.isfile(config_file):  # deleted since: look again
        config_file = _CONFIG_FILE_BY_DIR[directory] = find_config_file(directory)
    return default_config() if config_file is None else _load_cached(config_file).for_file(path)


def _load_cached(config_file: str) -> Config:
    key = os.path.abspath(config_file)
    if _stamp(key) is None:
        return load_config(config_file)  # raises the ConfigError saying why
    cached = _LOADED.get(key)
    if cached is None or tuple(map(_stamp, cached[0])) != cached[1]:
        result, files = _load(key)
        cached = _LOADED[key] = (files, tuple(map(_stamp, files)), result)
    return _raised(cached[2])


def _stamp(path: str) -> Optional[tuple[int, int]]:
    """What tells that a file changed: its (mtime_ns, size); None when it is not there."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_mtime_ns, status.st_size)


def clear_config_cache() -> None:
    """Forget discovered and loaded configuration files (the next config_for looks again)."""
    _CONFIG_FILE_BY_DIR.clear()
    _LOADED.clear()

# ---------------------------------------------------------------- where an entry is


def locate_entry(text: str, what: str, name: str) -> Optional[int]:
    """The 1-based line of a configuration file that declares a guard (`field =
    "len"`, `variable = ...`, `type = ...`), a class (`[classes.NAME]`) or the
    lock order (`lock-order = [...]`), for related information; None if absent."""
    if what == "guarded":
        pattern = r'^\s*(?:field|variable|type)\s*=\s*"' + re.escape(name) + '"'
    elif what == "class":
        pattern = r"^\s*\[\s*classes\s*\.\s*\"?" + re.escape(name) + r'"?\s*\]'
    elif what == "function":
        pattern = r"^\s*\[\s*functions\s*\.\s*\"?" + re.escape(name) + r'"?\s*\]'
    elif what == "lock-order":
        pattern = r"^\s*\"?lock-order\"?\s*="
    else:
        return None
    m = re.search(pattern, text, re.M)
    return text.count("\n", 0, m.start()) + 1 if m else None


# ---------------------------------------------------------------------- show-config


def show_config(config: Config) -> str:
    """The effective configuration as TOML in the file schema, presets spelled out.

    `load_config` accepts the text back and gives the same fingerprint, rules and
    severities.
    """
    config = config.unscoped()  # every entry, whatever its `paths`
    origin = "built-in defaults" if config.source is None else config.source
    lines = [f"# Effective lockls configuration (from {origin}).", f"presets = {toml_value(list(config.presets))}", ""]
    if config.bases:  # spelt out below: the output extends nothing
        lines.insert(1, f"# Extends {', '.join(config.bases)} (merged in below).")
    lines += ["[rules]", f"select = {toml_value(_rule_order(config.select))}"]
    if config.thread_safety_pointer:
        lines += ["thread-safety-pointer = true"]
    lines += [""]
    lines += ["[rules.severity]"]
    lines += [f"{toml_key(rule)} = {toml_value(config.severity(rule))}" for rule in _rule_order(config.severities)]
    lines += ["", "[files]"]
    if config.root is not None:
        lines.append(f"# relative to {config.root}")
    lines += [f"include = {toml_value(list(config.include))}", f"exclude = {toml_value(list(config.exclude))}"]
    if config.per_file_ignores:
        lines += ["", "[per-file-ignores]"]
        lines += [f"{toml_key(glob)} = {toml_value(list(rules))}" for glob, rules in config.per_file_ignores]
    if config.lock_order:
        lines.insert(1, f"lock-order = {toml_value(list(config.lock_order))}")
    for name in sorted(config.classes):
        cls = config.classes[name]
        lines += ["", f"[classes.{toml_key(name)}]"]
        if cls.match:
            lines.append(f"match = {toml_value(list(cls.match))}")
        if cls.types:
            lines.append(f"types = {toml_value(list(cls.types))}")
        if not cls.nests:
            lines.append("nests = false")
        if cls.needs:
            lines.append(f"needs = {toml_value(cls.needs)}")
    for g in config.guarded:
        lines += ["", "[[guarded]]"]
        if g.field:
            lines.append(f"field = {toml_value(g.field)}")
        elif g.variable:
            lines.append(f"variable = {toml_value(g.variable)}")
        else:
            lines.append(f"type = {toml_value(g.type)}")
        lines.append(f"by = {toml_value(g.by.lstrip('='))}")
        if g.everywhere:
            lines.append("everywhere = true")
        if g.pointee:
            lines.append("pointee = true")
        if g.exceptions:
            lines.append(f"except = {toml_value(list(g.exceptions))}")
        if getattr(g, "paths", ()):
            lines.append(f"paths = {toml_value(list(g.paths))}")
        if getattr(g, "exempt", ()):
            lines.append(f"exempt-functions = {toml_value(list(g.exempt))}")
    if config.entry_points or config.entry_tables or config.entry_table_macros or config.entry_registrars:
        lines += ["", "[entry-points]", f"functions = {toml_value(list(config.entry_points))}",
                  f"tables = {toml_value(list(config.entry_tables))}",
                  f"table-macros = {toml_value(list(config.entry_table_macros))}",
                  f"registrars = {toml_value([f'{name}:{index}' for name, index in config.entry_registrars])}"]
        if config.entry_paths:
            lines.append(f"paths = {toml_value(list(config.entry_paths))}")
    if config.annotations:
        lines += ["", "[annotations]"] + [f"{toml_key(k)} = {toml_value(v)}" for k, v in sorted(config.annotations.items())]
    for name in sorted(config.kinds):
        kind = config.kinds[name]
        lines += ["", f"[kinds.{toml_key(name)}]", f"recursive = {toml_value(kind.recursive)}"]
        if kind.spinning:
            lines.append("spinning = true")
        if kind.sleeping is not None:
            lines.append(f"sleeping = {toml_value(kind.sleeping)}")
    origins = _preset_origins(config)
    for name in sorted(config.functions):
        lines.append("")
        if name in origins:
            lines.append(f"# from preset {origins[name]}")
        lines += show_function(name, config.functions[name])
    for pattern in config.locks:
        lines += ["", "[[locks]]", f"match = {toml_value(pattern.match)}"]
        if pattern.kind is not None:
            lines.append(f"kind = {toml_value(pattern.kind)}")
        if pattern.recursive is not None:
            lines.append(f"recursive = {toml_value(pattern.recursive)}")
    return "\n".join(lines) + "\n"


def show_function(name: str, function: LockFunction) -> list[str]:
    """A `[functions.NAME]` table as a configuration file writes it, line by line."""
    return [f"[functions.{toml_key(name)}]"] + [f"{toml_key(key)} = {toml_value(value)}"
                                                 for key, value in _function_fields(function)]


def _rule_order(rules: Iterable[str]) -> list[str]:
    """Rules in catalogue order (unknown ones last, sorted), for stable output."""
    chosen = set(rules)
    return [r for r in RULES if r in chosen] + sorted(chosen - set(RULES))


def _shown_ref(ref: str) -> str:
    """A lock ref as a configuration writes it: "=big_lock" -> "big_lock", "=locks[{arg0}]" -> "locks[arg0]"."""
    ref = ref[1:] if ref.startswith("=") else ref
    return re.sub(r"\[\{(arg[0-9]+)\}\]", r"[\1]", ref) if "[{" in ref else ref


def _function_fields(function: LockFunction) -> list[tuple[str, Any]]:
    refs = [(k, [_shown_ref(r) for r in getattr(function, k)]) for k in ("requires", "excludes") if getattr(function, k)]
    paths = [("paths", list(function.paths))] if function.paths else []
    if function.clears is not None:
        paths = [("clears", f"arg{function.clears}")] + paths
    if function.action == "call":
        sleeps = [("may-sleep", True if function.may_sleep == "always" else function.may_sleep)] if function.may_sleep else []
        several: list[tuple[str, Any]] = []
        if function.steps:
            several.append(("actions", [dict(_function_fields(step)) for step in function.steps]))
        if function.cases:
            several.append(("by-arg", f"arg{function.case_arg}"))
            several.append(("cases", {constant: [dict(_function_fields(step)) for step in steps]
                                      for constant, steps in function.cases}))
        if several and function.kind is not None:
            several.append(("kind", function.kind))  # (the actions' default)
        return several + sleeps + refs + paths
    fields = [(function.config_action, function.lock_spec)] + refs
    if function.may_sleep:
        fields.append(("may-sleep", True if function.may_sleep == "always" else function.may_sleep))
    if function.unheld_ok:
        fields.append(("unheld-ok", True))
    for key in ("kind", "success", "failure", "scope", "when"):
        value = getattr(function, key)
        if value is not None:
            fields.append((key, value))
    return fields + paths


def _preset_origins(config: Config) -> dict[str, str]:
    """Function name -> the preset it comes from unchanged."""
    origins = {}
    for preset in config.presets:
        for name, function in _load_preset(preset).functions.items():
            if config.functions.get(name) == function:
                origins[name] = preset
    return origins


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")
_STRING_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def toml_key(key: str) -> str:
    """A TOML key: bare when it can be, else a quoted string."""
    return key if _BARE_KEY.match(key) else toml_string(key)


def toml_string(text: str) -> str:
    """A TOML basic string; control characters (and DEL) escaped as TOML requires."""
    out = []
    for ch in text:
        if ch in _STRING_ESCAPES:
            out.append(_STRING_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(value: Any) -> str:
    """A TOML value for a bool, int, str, list or dict (inline table)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")
