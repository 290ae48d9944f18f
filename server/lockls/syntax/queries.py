"""Where the tree-sitter queries (`queries/*.scm`) live. Apart from `nodes`, so that
the result cache's code fingerprint reads the same list without importing tree-sitter."""

from __future__ import annotations

import os
import sys
from functools import lru_cache


@lru_cache(maxsize=1)
def query_dirs() -> list[str]:
    """The directories to look in, in order: an override, the source tree, an installed copy."""
    # server/lockls/syntax/queries.py -> the repository
    source_tree = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__)))))
    dirs = [os.environ["LOCKLS_QUERIES"]] if os.environ.get("LOCKLS_QUERIES") else []
    dirs.append(os.path.join(source_tree, "queries"))  # editable / source tree
    dirs.append(os.path.join(sys.prefix, "share", "lockls", "queries"))  # wheel install (data-files)
    return dirs
