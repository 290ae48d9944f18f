"""`$/progress` for the workspace index: "Indexing C files", 120/480 files, done.

Owns turning the index's progress calls (`workspace.ProjectIndex.progress`: begin,
report, end or stopped, per walk) into LSP work-done progress, on the event loop:
a token per walk created with `window/workDoneProgress/create`, `begin` sent only
once the client has answered (then one `report` for what came meanwhile), then
`report`s and one `end`. Used only when the client advertises
`window.workDoneProgress`. Sending goes through the two callables the server
gives (pygls stays in `server.py`).
"""

from __future__ import annotations

import itertools
from typing import Callable, Optional

from lsprotocol import types as T

TITLE = "Indexing C files"


def _count(done: int, total: int) -> str:
    return f"{done}/{total} files"


def _percentage(done: int, total: int) -> int:
    return 100 * done // total if total else 100


class IndexProgress:
    """The progress of the index's walks, as `$/progress` (see the module docstring).

    `create(token, answered)` sends `window/workDoneProgress/create` and calls
    `answered(ok)` with the client's answer; `send(token, value)` sends `$/progress`."""

    def __init__(self, create: Callable[[str, Callable[[bool], None]], None],
                 send: Callable[[str, object], None]):
        self._create = create
        self._send = send
        self._tokens = (f"lockls-index-{n}" for n in itertools.count(1))
        self._token: Optional[str] = None  # the current walk's
        self._created = False  # the client answered the create request of `_token`
        self._begun: tuple[int, int] = (0, 0)  # the walk's begin: (done, total)
        self._latest: Optional[tuple[int, int, str]] = None  # the last call before the answer

    def update(self, done: int, total: int, stage: str) -> None:
        """One progress call of the index (on the event loop)."""
        if stage == "begin":
            if self._token is not None:
                self._abandon(self._token)  # a walk that never said it ended
            token = self._token = next(self._tokens)
            self._created = False
            self._begun, self._latest = (done, total), None
            self._create(token, lambda ok: self._answered(token, ok))
            return
        token = self._token
        if token is None:
            return
        if not self._created:
            self._latest = (done, total, stage)  # sent once the client has the token
            return
        if stage == "report":
            self._send(token, T.WorkDoneProgressReport(message=_count(done, total),
                                                       percentage=_percentage(done, total)))
        else:
            self._end(token, done, total, stage)

    def _answered(self, token: str, ok: bool) -> None:
        if token != self._token:
            return  # a newer walk has begun
        if not ok:
            self._token = None  # the client refused: no progress for this walk
            return
        self._created = True
        self._send(token, T.WorkDoneProgressBegin(title=TITLE, message=_count(*self._begun),
                                                  percentage=_percentage(*self._begun), cancellable=False))
        if self._latest is not None:  # what the walk did meanwhile
            self.update(*self._latest)

    def _end(self, token: str, done: int, total: int, stage: str) -> None:
        self._token = None
        if stage == "end":
            message = f"{total} file indexed" if total == 1 else f"{total} files indexed"
        else:
            message = f"stopped at {_count(done, total)}: indexing again"
        self._send(token, T.WorkDoneProgressEnd(message=message))

    def _abandon(self, token: str) -> None:
        if self._created:
            self._send(token, T.WorkDoneProgressEnd(message="stopped: indexing again"))
        self._token = None
