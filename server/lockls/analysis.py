"""Analyse one C file: parse, find functions, build CFGs, run the dataflow, run rules.

(Stub until the core lands: returns no findings.)
"""

from __future__ import annotations

from .config import Config
from .findings import FileResult


def analyze_source(source: bytes, path: str, config: Config) -> FileResult:
    """Analyse the C text `source` (named `path` in findings) under `config`."""
    return FileResult(path=path)
