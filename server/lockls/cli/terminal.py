"""What the command line does differently on a terminal: colour, source excerpts, the
help shown instead of waiting for JSON-RPC.

Owns: the `--color auto|always|never` decision (with the `NO_COLOR`, `FORCE_COLOR` and
`CLICOLOR_FORCE` conventions), whether text findings show their source line and notes
(`--show-context`), and the short help `lockls` prints when started by hand on a
terminal. Rendering itself is `report.formats.render_text`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TextIO

COLOR_CHOICES = ("auto", "always", "never")

SHORT_HELP = """\
lockls: standard input is a terminal, and without a command lockls runs the language
server, which reads JSON-RPC from its standard input (editors start it so, from a pipe).
Try:
  lockls check [PATH ...]   find lock bugs in C files and directories (default .)
  lockls rule NAME          print a rule's documentation
  lockls init [PATH]        write a starting .lockls.toml
  lockls server             run the language server here anyway
  lockls --help             every option
"""


def is_terminal(stream: TextIO | None) -> bool:
    """True when `stream` is a terminal (False for a closed, missing or fake stream)."""
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def _set(environ: Mapping[str, str], name: str) -> bool:
    # FORCE_COLOR=0 and CLICOLOR_FORCE=0 mean "not forced" in both conventions
    value = environ.get(name, "")
    return value != "" and value != "0"


def use_color(choice: str | None, stream: TextIO | None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether text output to `stream` is coloured. `always`/`never` decide; `auto` (the
    default) follows, in order (as Python 3.13 does for its own tracebacks): `NO_COLOR`
    set and non-empty -> no; `FORCE_COLOR` or `CLICOLOR_FORCE` set and not `0` -> yes;
    `TERM=dumb` -> no; else yes when `stream` is a terminal."""
    environ = os.environ if environ is None else environ
    if choice == "always":
        return True
    if choice == "never":
        return False
    if environ.get("NO_COLOR", ""):
        return False
    if _set(environ, "FORCE_COLOR") or _set(environ, "CLICOLOR_FORCE"):
        return True
    if environ.get("TERM") == "dumb":
        return False
    return is_terminal(stream)


def show_context(choice: bool | None, color: bool, stream: TextIO | None,
                 environ: Mapping[str, str] | None = None) -> bool:
    """Whether each text finding is followed by its source line, a caret under its
    range and `note:` lines for its related places. `--show-context` /
    `--no-show-context` decide; by default yes on a terminal (not `TERM=dumb`) or when
    colour is on, and no in a pipe or a file, where tools read one finding a line."""
    environ = os.environ if environ is None else environ
    if choice is not None:
        return choice
    return color or (is_terminal(stream) and environ.get("TERM") != "dumb")
