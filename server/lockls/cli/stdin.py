"""`--stdin-filename PATH`: the C source read from standard input, checked as PATH.

Owns: reading standard input whole (bytes, at most the size limit of a source file).
How the text stands in for PATH in a run (configuration found from PATH's directory,
the on-disk version replaced, nothing cached) is `check`'s.
"""

from __future__ import annotations

import sys
from typing import BinaryIO

from lockls.files import UsageError, max_file_bytes


def read_stdin(stream: BinaryIO | None = None, limit: int | None = None) -> bytes:
    """All of `stream` (default: standard input's bytes); UsageError past `limit`
    (default: `max_file_bytes()`, the limit of a file on disk)."""
    if stream is None:
        stdin = sys.stdin
        if stdin is None:
            raise UsageError("lockls: error: --stdin-filename: there is no standard input")
        stream = getattr(stdin, "buffer", stdin)
    limit = max_file_bytes() if limit is None else limit
    chunks, size = [], 0
    while True:
        chunk = stream.read(1 << 20)
        if not chunk:
            break
        if isinstance(chunk, str):  # a text stream without a buffer (tests, embedding)
            chunk = chunk.encode("utf-8", "surrogateescape")
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise UsageError(f"lockls: error: --stdin-filename: standard input is larger than the limit of "
                             f"{limit} bytes (LOCKLS_MAX_FILE_SIZE raises it)")
    return b"".join(chunks)
