"""Helpers for the language-server end-to-end tests (pytest-lsp)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from lsprotocol import types as T

SERVER_COMMAND = [sys.executable, "-m", "lockls"]
TIMEOUT = 20


async def wait(awaitable):
    return await asyncio.wait_for(awaitable, TIMEOUT)


def uri_of(path: Path) -> str:
    return path.resolve().as_uri()


def install_recorder(client) -> None:
    """Record every publishDiagnostics and let tests wait for one matching a predicate
    (wait_for_notification alone can miss one that arrives right after another)."""
    fm = client.protocol.fm
    method = T.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS
    original = fm.features[method]
    client.published = []
    client.waiters = []

    def handler(params):
        original(params)
        client.published.append(params)
        for waiter in list(client.waiters):
            predicate, future = waiter
            if not future.done() and predicate(params):
                future.set_result(params)
                client.waiters.remove(waiter)

    fm.features[method] = handler


def expect_diagnostics(client, predicate):
    """A future for the first publishDiagnostics (from now on) matching `predicate`."""
    future = asyncio.get_running_loop().create_future()
    client.waiters.append((predicate, future))
    return future


class Editor:
    """A client-side copy of one open document: sends changes, waits for versioned diagnostics."""

    def __init__(self, client, path: Path, text: str, encoding: str = "utf-16"):
        self.client = client
        self.path = path
        self.uri = uri_of(path)
        self.text = text
        self.version = 0
        self.encoding = encoding

    async def open(self):
        self.path.write_text(self.text, encoding="utf-8")
        waiter = self._waiter()
        self.client.text_document_did_open(T.DidOpenTextDocumentParams(
            T.TextDocumentItem(uri=self.uri, language_id="c", version=self.version, text=self.text)))
        return await self._wait(waiter)

    def _waiter(self):
        version = self.version
        return expect_diagnostics(self.client, lambda p: p.uri == self.uri and p.version == version)

    async def _wait(self, waiter):
        params = await asyncio.wait_for(waiter, TIMEOUT)
        return list(params.diagnostics)

    # -- positions in the negotiated encoding --------------------------------------
    def offset_of(self, line: int, character: int) -> int:
        lines = _lsp_lines(self.text)
        prefix = sum(len(l) for l in lines[:line])
        text = lines[line] if line < len(lines) else ""
        if self.encoding == "utf-8":
            data = text.encode("utf-8")[:character]
            return prefix + len(data.decode("utf-8", "ignore"))
        units, i = 0, 0
        while i < len(text) and units < character:
            units += 2 if ord(text[i]) > 0xFFFF else 1
            i += 1
        return prefix + i

    def position_of(self, index: int) -> T.Position:
        before = self.text[:index]
        lines = _lsp_lines(before)
        line = len(lines) - 1
        last = lines[-1] if lines else ""
        if last.endswith(("\n", "\r")):
            line += 1
            last = ""
        if self.encoding == "utf-8":
            return T.Position(line, len(last.encode("utf-8")))
        return T.Position(line, len(last.encode("utf-16-le")) // 2)

    def find(self, needle: str, nth: int = 0) -> int:
        at = -1
        for _ in range(nth + 1):
            at = self.text.index(needle, at + 1)
        return at

    def pos(self, needle: str, nth: int = 0, delta: int = 0) -> T.Position:
        return self.position_of(self.find(needle, nth) + delta)

    async def change(self, start: int, end: int, new: str):
        """Replace text[start:end] (string indices) with `new`; returns the diagnostics of the new version."""
        rng = T.Range(self.position_of(start), self.position_of(end))
        self.text = self.text[:start] + new + self.text[end:]
        self.version += 1
        waiter = self._waiter()
        self.client.text_document_did_change(T.DidChangeTextDocumentParams(
            T.VersionedTextDocumentIdentifier(uri=self.uri, version=self.version),
            [T.TextDocumentContentChangePartial(range=rng, text=new)]))
        return await self._wait(waiter)

    async def replace_all(self, new: str):
        self.text = new
        self.version += 1
        waiter = self._waiter()
        self.client.text_document_did_change(T.DidChangeTextDocumentParams(
            T.VersionedTextDocumentIdentifier(uri=self.uri, version=self.version),
            [T.TextDocumentContentChangeWholeDocument(text=new)]))
        return await self._wait(waiter)

    async def apply(self, edit: T.WorkspaceEdit):
        """Apply a WorkspaceEdit's text edits client-side (last first), as one change each."""
        edits = list(edit.changes[self.uri])
        spans = sorted(((self.offset_of(e.range.start.line, e.range.start.character),
                         self.offset_of(e.range.end.line, e.range.end.character), e.new_text) for e in edits),
                       reverse=True)
        diags = None
        for start, end, text in spans:
            diags = await self.change(start, end, text)
        return diags

    async def hover(self, position: T.Position):
        return await wait(self.client.text_document_hover_async(T.HoverParams(
            T.TextDocumentIdentifier(self.uri), position)))

    async def close(self):
        waiter = expect_diagnostics(self.client, lambda p: p.uri == self.uri)
        self.client.text_document_did_close(T.DidCloseTextDocumentParams(T.TextDocumentIdentifier(self.uri)))
        return await self._wait(waiter)


def _lsp_lines(text: str) -> list[str]:
    """Split like the LSP: on \\n, \\r\\n and \\r only (keeping the breaks)."""
    out, start, i = [], 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\r" and i + 1 < len(text) and text[i + 1] == "\n":
            out.append(text[start:i + 2]); i += 2; start = i; continue
        if ch in "\r\n":
            out.append(text[start:i + 1]); start = i + 1
        i += 1
    out.append(text[start:])
    return out


def reference(ed: "Editor", config=None):
    """What `lockls --check` finds in the editor's current text: [(rule, range, message)]."""
    from lockls.engine.driver import analyze_source
    from lockls.config import config_for

    data = ed.text.encode("utf-8")
    config = config or config_for(str(ed.path))
    result = analyze_source(data, str(ed.path), config)

    def pos(byte):
        return ed.position_of(len(data[:byte].decode("utf-8", "replace")))

    return sorted(
        ((f.rule, T.Range(pos(f.span.start_byte), pos(f.span.end_byte)), f.text)
         for f in result.findings if f.rule in config.select),
        key=repr)


def summary(diags):
    return sorted(((d.code, d.range, d.message) for d in diags), key=repr)
