"""File URIs of the language server: URI <-> path, and which URIs are configuration files.

Owns only these conversions, so that every `lsp_*` module can use them without
importing the session. Must not import pygls.
"""

from __future__ import annotations

import os
from urllib.parse import quote, unquote, urlparse

from lockls.config import CONFIG_FILE_NAMES


def uri_to_path(uri: str) -> str:
    parsed = urlparse(uri)
    if parsed.scheme not in ("file", ""):
        return uri
    return unquote(parsed.path)


def path_to_uri(path: str) -> str:
    return "file://" + quote(os.path.abspath(path))


def is_config_uri(uri: str) -> bool:
    return os.path.basename(uri_to_path(uri)) in CONFIG_FILE_NAMES
