"""The lockls language server: pygls wiring only.

Owns: the pygls server object, the handlers that forward to `session.Session`,
position-encoding negotiation (utf-8 when the client offers it, else utf-16),
publishing diagnostics (debounced, versioned, never stale) and logging setup.
The only module that imports pygls.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import Optional

from lsprotocol import types as T
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from lockls import __version__
from lockls.lsp.session import Session
from lockls.lsp.uris import is_config_uri, path_to_uri, uri_to_path

log = logging.getLogger("lockls.server")

DEBOUNCE_MIN = 0.0  # seconds; raised towards the last analysis time on slow files
DEBOUNCE_MAX = 0.05


class LocklsProtocol(LanguageServerProtocol):
    """pygls' protocol without its own copy of documents (we keep ours, see documents.py)
    and with our choice of position encoding."""

    @lsp_method(T.INITIALIZE)
    def lsp_initialize(self, params: T.InitializeParams):
        general = params.capabilities.general
        offered = general.position_encodings if general is not None else None
        chosen = self._server.session.choose_encoding(offered)
        if general is not None:
            general.position_encodings = [T.PositionEncodingKind.Utf8 if chosen == "utf-8" else T.PositionEncodingKind.Utf16]
        return (yield from super().lsp_initialize(params))

    @lsp_method(T.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params):
        if (handler := self.fm.features.get(T.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield handler, (params,), None

    @lsp_method(T.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params):
        if (handler := self.fm.features.get(T.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None

    @lsp_method(T.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params):
        if (handler := self.fm.features.get(T.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield handler, (params,), None


class LocklsServer(LanguageServer):
    def __init__(self):
        super().__init__("lockls", __version__, protocol_cls=LocklsProtocol,
                         text_document_sync_kind=T.TextDocumentSyncKind.Incremental)
        self.session = Session()
        self.pending: dict[str, asyncio.TimerHandle] = {}
        self.last_cost = 0.0
        self.watch_registered = False

    # -- publishing ------------------------------------------------------------------

    def schedule(self, uri: str) -> None:
        """Analyse and publish soon; a newer change before then just re-uses the same timer."""
        if uri in self.pending:
            return
        delay = min(DEBOUNCE_MAX, max(DEBOUNCE_MIN, self.last_cost / 2 if self.last_cost > 0.03 else 0.0))
        loop = asyncio.get_running_loop()
        self.pending[uri] = loop.call_later(delay, self.publish, uri)

    def publish(self, uri: str) -> None:
        self.pending.pop(uri, None)
        started = time.perf_counter()
        try:
            out = self.session.diagnostics(uri)
        except Exception:
            log.exception("analysing %s", uri)
            out = None
        self.last_cost = time.perf_counter() - started
        if out is not None:
            version, diagnostics = out
            doc = self.session.documents.get(uri)
            if doc is not None and doc.version == version:  # never publish over a newer text
                self.text_document_publish_diagnostics(
                    T.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version))
        self.flush_config_reports()

    def flush_config_reports(self) -> None:
        for uri, diagnostics in self.session.config_diagnostics():
            doc = self.session.documents.get(uri)
            self.text_document_publish_diagnostics(T.PublishDiagnosticsParams(
                uri=uri, diagnostics=diagnostics, version=doc.version if doc is not None else None))
        for level, text in self.session.take_messages():
            kind = {"error": T.MessageType.Error, "warning": T.MessageType.Warning}.get(level, T.MessageType.Info)
            self.window_show_message(T.ShowMessageParams(type=kind, message=text))

    def reanalyse_all(self) -> None:
        self.session.invalidate()
        for uri in self.session.c_documents():
            self.schedule(uri)
        self.flush_config_reports()

    def project_updated(self) -> None:
        """The index published new project contracts (on the event loop, from its thread):
        analyse again the open documents they change."""
        try:
            stale = self.session.stale_documents()
        except Exception:
            log.exception("project contracts")
            return
        for uri in stale:
            self.schedule(uri)


server = LocklsServer()


@server.feature(T.INITIALIZE)
def initialize(ls: LocklsServer, params: T.InitializeParams):
    root = params.root_uri or (path_to_uri(params.root_path) if params.root_path else None)
    if params.workspace_folders:
        root = params.workspace_folders[0].uri
    ls.session.root = uri_to_path(root) if root else None
    ls.session.apply_settings(params.initialization_options)
    # the other files' contracts (annotated prototypes, wrappers), indexed in the background
    roots = [uri_to_path(f.uri) for f in params.workspace_folders or ()] or ([ls.session.root] if ls.session.root else [])
    loop = asyncio.get_running_loop()
    ls.session.start_index([r for r in roots if r], lambda: loop.call_soon_threadsafe(ls.project_updated))
    caps = params.capabilities.workspace
    ls.watch_registered = bool(caps and caps.did_change_watched_files and caps.did_change_watched_files.dynamic_registration)


@server.feature(T.INITIALIZED)
def initialized(ls: LocklsServer, params):
    if ls.watch_registered:
        watchers = [T.FileSystemWatcher(glob_pattern="**/.lockls.toml"), T.FileSystemWatcher(glob_pattern="**/lockls.toml")]
        if ls.session.index is not None:  # C files changed outside the editor: their contracts
            watchers.append(T.FileSystemWatcher(glob_pattern="**/*.{c,h}"))
        ls.client_register_capability(T.RegistrationParams(registrations=[T.Registration(
            id="lockls-config-watch", method=T.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            register_options=T.DidChangeWatchedFilesRegistrationOptions(watchers=watchers))]))


@server.feature(T.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: LocklsServer, params: T.DidOpenTextDocumentParams):
    d = params.text_document
    ls.session.open(d.uri, d.text, d.version, d.language_id)
    _text_changed(ls, d.uri)


@server.feature(T.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: LocklsServer, params: T.DidChangeTextDocumentParams):
    d = params.text_document
    ls.session.change(d.uri, d.version, params.content_changes)
    _text_changed(ls, d.uri)


def _text_changed(ls: LocklsServer, uri: str) -> None:
    """A document's text is new: a configuration file is validated as typed, C is analysed."""
    if is_config_uri(uri):
        ls.flush_config_reports()
    else:
        ls.schedule(uri)


@server.feature(T.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: LocklsServer, params: T.DidSaveTextDocumentParams):
    if is_config_uri(params.text_document.uri):
        ls.session.config_changed()
        ls.reanalyse_all()
    else:
        try:
            ls.session.saved(params.text_document.uri)
        except Exception:
            log.exception("didSave")


@server.feature(T.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: LocklsServer, params: T.DidCloseTextDocumentParams):
    uri = params.text_document.uri
    handle = ls.pending.pop(uri, None)
    if handle is not None:
        handle.cancel()
    was_config = is_config_uri(uri)
    ls.session.close(uri)
    ls.text_document_publish_diagnostics(T.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
    if was_config:
        ls.session.config_changed()
        ls.reanalyse_all()


@server.feature(T.WORKSPACE_DID_CHANGE_WATCHED_FILES)
def did_change_watched_files(ls: LocklsServer, params: T.DidChangeWatchedFilesParams):
    sources = [c for c in params.changes if uri_to_path(c.uri).endswith((".c", ".h"))]
    if ls.session.index is not None:
        for change in sources:
            ls.session.index.file_changed(uri_to_path(change.uri))
    if len(sources) < len(params.changes):  # a configuration file
        ls.session.config_changed()
        ls.reanalyse_all()


@server.feature(T.WORKSPACE_DID_CHANGE_CONFIGURATION)
def did_change_configuration(ls: LocklsServer, params: T.DidChangeConfigurationParams):
    ls.session.apply_settings(params.settings)
    ls.session.config_changed()
    ls.reanalyse_all()


@server.feature(T.TEXT_DOCUMENT_HOVER)
def hover(ls: LocklsServer, params: T.HoverParams) -> Optional[T.Hover]:
    try:
        return ls.session.hover(params.text_document.uri, params.position.line, params.position.character)
    except Exception:
        log.exception("hover")
        return None


@server.feature(T.TEXT_DOCUMENT_DOCUMENT_HIGHLIGHT)
def highlight(ls: LocklsServer, params: T.DocumentHighlightParams):
    try:
        return ls.session.highlights(params.text_document.uri, params.position.line, params.position.character)
    except Exception:
        log.exception("documentHighlight")
        return None


@server.feature(T.TEXT_DOCUMENT_CODE_ACTION,
                T.CodeActionOptions(code_action_kinds=[T.CodeActionKind.QuickFix], resolve_provider=False))
def code_action(ls: LocklsServer, params: T.CodeActionParams):
    try:
        return ls.session.code_actions(params.text_document.uri, params.range, params.context.only)
    except Exception:
        log.exception("codeAction")
        return None


class _Once(logging.Filter):
    """Log an internal error about the same thing once, not on every keystroke."""

    def __init__(self):
        super().__init__()
        self.seen: set = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR:
            return True
        key = (record.msg, repr(record.args))
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


def _setup_logging(log_file: Optional[str]) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    once = _Once()
    for h in handlers:
        h.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
        h.addFilter(once)
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(logging.INFO if log_file else logging.WARNING)
    logging.getLogger("pygls").setLevel(logging.WARNING)


def main(log_file: Optional[str] = None) -> int:
    _setup_logging(log_file)
    import gc

    gc.freeze()  # the tree-sitter allocations of a big file make full collections slow
    server.start_io()
    return 0
