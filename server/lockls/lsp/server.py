"""The lockls language server: pygls wiring only.

Owns: the pygls server object, the handlers that forward to `session.Session`,
position-encoding negotiation (utf-8 when the client offers it, else utf-16),
publishing diagnostics (debounced, versioned, never stale; analysed in slices
between which other messages are handled, a newer text dropping the older run),
the file watchers it asks the client for (configuration files, whatever their
names, C files) and logging setup.
The only module that imports pygls.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, BinaryIO, Optional

from lsprotocol import types as T
from pygls.exceptions import JsonRpcContentModified
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import JsonRPCNotification, JsonRPCRequestMessage
from pygls.protocol.language_server import lsp_method

from lockls import __version__
from lockls.engine.driver import advance
from lockls.lsp.code_actions import FIX_ALL
from lockls.lsp.progress import IndexProgress
from lockls.lsp.session import Session
from lockls.lsp.transport import serve
from lockls.lsp.uris import is_config_uri, path_to_uri, uri_to_path

log = logging.getLogger("lockls.server")

DEBOUNCE_MIN = 0.0  # seconds; raised towards the last analysis time on slow files
DEBOUNCE_MAX = 0.05
SLICE = 0.02  # seconds of analysis between two looks at the messages waiting (see `publish`)


@dataclass
class _Unstructurable:
    """A request or notification whose params do not fit the LSP schema (see structure_message)."""

    id: Any
    method: str
    reason: str
    jsonrpc: str = "2.0"


def _innermost(exc: BaseException) -> str:
    """The reason cattrs gives deepest in its exception groups, e.g. "Position.line should be in range ..."."""
    while getattr(exc, "exceptions", None):
        exc = exc.exceptions[0]
    if isinstance(exc, KeyError):
        return f"missing {exc}"
    return str(exc) or type(exc).__name__


class LocklsProtocol(LanguageServerProtocol):
    """pygls' protocol without its own copy of documents (we keep ours, see documents.py),
    with our choice of position encoding, and answering requests whose params are invalid."""

    def structure_message(self, data):
        """pygls raises when a message's params do not fit the schema (a line of -1 or 2**53, a
        word for a number) and the message is dropped: the client waits forever for the answer.
        Here such a request or notification becomes an _Unstructurable, for handle_message."""
        if not (isinstance(data, dict) and "jsonrpc" in data and "method" in data):
            return super().structure_message(data)  # responses, and the nested objects of pygls' object_hook
        fallback = JsonRPCRequestMessage if "id" in data else JsonRPCNotification
        try:  # get_message_type too: it is cached, and raises on a method that is not hashable
            return self._converter.structure(data, self.get_message_type(data["method"]) or fallback)
        except Exception as exc:
            return _Unstructurable(data.get("id"), str(data["method"]), _innermost(exc))

    def handle_message(self, message):
        """A request with invalid params is answered with InvalidParams (-32602); a notification,
        or a request without an id to answer, is ignored with a log line. (After `shutdown`,
        pygls ignores them as it does every message but `exit`.)"""
        if not isinstance(message, _Unstructurable) or self._shutdown:
            return super().handle_message(message)
        if isinstance(message.id, (int, str)) and not isinstance(message.id, bool):
            self._send_response(message.id, error=T.ResponseError(
                code=T.ErrorCodes.InvalidParams, message=f"Invalid params for {message.method}: {message.reason}"))
        else:
            log.error("ignored %s: invalid params: %s", message.method, message.reason)

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
        self.running: dict[str, asyncio.Task] = {}  # uri -> its analysis under way (see `publish`)
        self.last_cost = 0.0
        self.watch_registered = False
        self.relative_patterns = False  # the client takes RelativePattern watchers (LSP 3.17)
        self.watched_config_files: set[str] = set()  # watched one by one (see watch_config_files)
        self.index_roots: list[str] = []  # the workspace folders, indexed from `initialized` on

    def start_io(self, stdin: Optional[BinaryIO] = None, stdout: Optional[BinaryIO] = None):
        """pygls' `_start_io_async`, reading with our transport.serve instead of pygls' `io_.run_async`:
        it survives wrong or huge Content-Length headers (see transport.py)."""
        self._stop_event = threading.Event()
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        try:
            asyncio.run(serve(self._stop_event, stdin or sys.stdin.buffer, self.protocol,
                              self.thread_pool, self.report_server_error))
        except BrokenPipeError:
            log.error("Connection to the client is lost! Shutting down the server.")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()

    # -- publishing ------------------------------------------------------------------

    def schedule(self, uri: str) -> None:
        """Analyse and publish soon; a newer change before then just re-uses the same timer.
        An analysis of the document under way is of an older text (or configuration, or
        project): it is dropped."""
        self.cancel(uri, timer=False)
        if uri in self.pending:
            return
        delay = min(DEBOUNCE_MAX, max(DEBOUNCE_MIN, self.last_cost / 2 if self.last_cost > 0.03 else 0.0))
        loop = asyncio.get_running_loop()
        self.pending[uri] = loop.call_later(delay, self._start_publish, uri)

    def cancel(self, uri: str, timer: bool = True) -> None:
        """Drop the analysis of `uri` under way (and with `timer`, the one scheduled)."""
        task = self.running.pop(uri, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        handle = self.pending.pop(uri, None) if timer else None
        if handle is not None:
            handle.cancel()

    def _start_publish(self, uri: str) -> None:
        self.pending.pop(uri, None)
        task = asyncio.get_running_loop().create_task(self.publish(uri))
        self.running[uri] = task
        task.add_done_callback(lambda done: self.running.pop(uri) if self.running.get(uri) is done else None)

    async def publish(self, uri: str) -> None:
        """Analyse the document and publish its diagnostics, in slices of about SLICE
        seconds: between two, the loop handles the messages that came (the session and
        engine are used from this loop's thread only, so no locks). A newer text of the
        document makes `schedule` cancel this task at its next slice; the run is dropped
        (the functions it did are reused by the next) and nothing is published for it."""
        doc = self.session.documents.get(uri)
        if doc is None:
            return
        version, source = doc.version, doc.source
        steps = self.session.diagnostics_steps(uri)
        spent = 0.0
        out = None
        try:
            while True:
                started = time.perf_counter()
                with self.session.index_paused():  # (between slices the index may go on)
                    finished, out = advance(steps, lambda: time.perf_counter() >= started + SLICE)
                spent += time.perf_counter() - started
                if finished:
                    break
                await asyncio.sleep(0)
                if self.session.documents.get(uri) is not doc or doc.version != version or doc.source is not source:
                    return  # (cancelled already, unless the text changed without a schedule)
        except Exception:
            log.exception("analysing %s", uri)
            out = None
        finally:
            steps.close()
        self.last_cost = spent
        if out is not None:
            version, diagnostics = out
            if doc is self.session.documents.get(uri) and doc.version == version:  # never publish over a newer text
                self.text_document_publish_diagnostics(
                    T.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version))
        self.flush_config_reports()

    async def analysed(self, uri: str) -> None:
        """Wait, without blocking the loop, until the document has an analysis of its
        current text: the run under way, or one started now (a request about the
        document needs it, so no debounce), is made in slices as `publish` makes it.
        Raises ContentModified (the client asks again) when a newer text came meanwhile."""
        doc = self.session.documents.get(uri)
        if doc is None:
            return
        version = doc.version
        for _ in range(2):  # (a run dropped for a newer configuration or project: once more)
            if self.session.current_analysis(uri) is not None:
                return
            task = self.running.get(uri)
            if task is None:
                self.cancel(uri)
                self._start_publish(uri)
                task = self.running[uri]
            await asyncio.wait({task})  # (not `await task`: its cancellation is not ours)
            if self.session.documents.get(uri) is not doc or doc.version != version:
                raise JsonRpcContentModified(f"{uri} changed while it was analysed")
        # otherwise the request's own (synchronous) analysis is the answer

    def flush_config_reports(self) -> None:
        self.session.check_config_documents()
        self.watch_config_files()
        for uri, diagnostics in self.session.config_diagnostics():
            doc = self.session.documents.get(uri)
            self.text_document_publish_diagnostics(T.PublishDiagnosticsParams(
                uri=uri, diagnostics=diagnostics, version=doc.version if doc is not None else None))
        for level, text in self.session.take_messages():
            kind = {"error": T.MessageType.Error, "warning": T.MessageType.Warning}.get(level, T.MessageType.Info)
            self.window_show_message(T.ShowMessageParams(type=kind, message=text))

    def watch_config_files(self) -> None:
        """Watch the configuration files the `**/.lockls.toml` watchers miss, as they become
        known: files `extends` names (any name, maybe outside the workspace), the configFile
        setting, a .lockls.toml outside the workspace folders."""
        if not self.watch_registered:
            return
        roots = [os.path.join(os.path.abspath(r), "") for r in self.index_roots]
        new = sorted(path for path in self.session.config_files() - self.watched_config_files
                     if not (is_config_uri(path) and any(path.startswith(r) for r in roots)))
        if not new:
            return
        self.watched_config_files.update(new)
        watchers = [T.FileSystemWatcher(glob_pattern=self._file_pattern(path)) for path in new]
        options = T.DidChangeWatchedFilesRegistrationOptions(watchers=watchers)
        self.client_register_capability(T.RegistrationParams(registrations=[T.Registration(
            id=f"lockls-config-files-watch-{len(self.watched_config_files)}",
            method=T.WORKSPACE_DID_CHANGE_WATCHED_FILES, register_options=options)]))

    def _file_pattern(self, path: str):
        """A glob pattern matching the one file `path`: relative to its directory when the client
        takes that (it then watches outside the workspace too), else the absolute path."""
        if self.relative_patterns:
            return T.RelativePattern(base_uri=path_to_uri(os.path.dirname(path)),
                                     pattern=_glob_literal(os.path.basename(path)))
        return _glob_literal(path.replace(os.sep, "/"))

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
        if stale:
            self.refresh_inlay_hints()

    def refresh_inlay_hints(self, were_shown: bool = False) -> None:
        """The held-lock hints may have changed beyond the edited text: ask the client again."""
        if (self.session.held_lock_hints or were_shown) and self.session.inlay_hint_refresh:
            self.workspace_inlay_hint_refresh(None)

    def index_progress(self):
        """The index's progress callback (from its thread): `$/progress` when the client shows it."""
        if not self.session.work_done_progress:
            return None

        def create(token: str, answered) -> None:
            future = self.protocol.send_request(T.WINDOW_WORK_DONE_PROGRESS_CREATE,
                                                T.WorkDoneProgressCreateParams(token=token))
            future.add_done_callback(lambda f: answered(not f.cancelled() and f.exception() is None))

        progress = IndexProgress(create, lambda token, value: self.protocol.notify(
            T.PROGRESS, T.ProgressParams(token=token, value=value)))
        loop = asyncio.get_running_loop()
        return lambda done, total, stage: loop.call_soon_threadsafe(progress.update, done, total, stage)


def _glob_literal(text: str) -> str:
    """`text` as an LSP glob pattern matching only itself (`*`, `?`, `[`, `{` in a class)."""
    return re.sub(r"([*?\[{])", r"[\1]", text)


server = LocklsServer()


@server.feature(T.INITIALIZE)
def initialize(ls: LocklsServer, params: T.InitializeParams):
    root = params.root_uri or (path_to_uri(params.root_path) if params.root_path else None)
    if params.workspace_folders:
        root = params.workspace_folders[0].uri
    ls.session.root = uri_to_path(root) if root else None
    ls.session.apply_settings(params.initialization_options)
    ls.session.client_capabilities(params.capabilities)
    # the other files' contracts (annotated prototypes, wrappers), indexed in the background
    # from `initialized` on (its progress may be shown only then)
    roots = [uri_to_path(f.uri) for f in params.workspace_folders or ()] or ([ls.session.root] if ls.session.root else [])
    ls.index_roots = [r for r in roots if r]
    caps = params.capabilities.workspace
    watched = caps.did_change_watched_files if caps else None
    ls.watch_registered = bool(watched and watched.dynamic_registration)
    ls.relative_patterns = bool(watched and watched.relative_pattern_support)


@server.feature(T.INITIALIZED)
def initialized(ls: LocklsServer, params):
    loop = asyncio.get_running_loop()
    ls.session.start_index(ls.index_roots, lambda: loop.call_soon_threadsafe(ls.project_updated), ls.index_progress())
    if ls.watch_registered:
        watchers = [T.FileSystemWatcher(glob_pattern="**/.lockls.toml"), T.FileSystemWatcher(glob_pattern="**/lockls.toml")]
        if ls.session.index is not None:  # C files changed outside the editor: their contracts
            watchers.append(T.FileSystemWatcher(glob_pattern="**/*.{c,h}"))
            watchers.append(T.FileSystemWatcher(glob_pattern="**/.gitignore"))  # which files the index has
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
    if ls.session.is_config_document(uri):
        ls.flush_config_reports()
    else:
        ls.schedule(uri)


@server.feature(T.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: LocklsServer, params: T.DidSaveTextDocumentParams):
    # (a file another configuration file extends, whatever its name, too: clients that do
    # not watch files for us still tell when it is saved in the editor)
    if ls.session.is_config_document(params.text_document.uri):
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
    ls.cancel(uri)
    was_config = ls.session.is_config_document(uri)
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
    if len(sources) < len(params.changes):  # a configuration file or a .gitignore: walk again
        ls.session.config_changed()
        ls.reanalyse_all()


@server.feature(T.WORKSPACE_DID_CHANGE_CONFIGURATION)
def did_change_configuration(ls: LocklsServer, params: T.DidChangeConfigurationParams):
    hints = ls.session.held_lock_hints
    ls.session.apply_settings(params.settings)
    ls.session.config_changed()
    ls.reanalyse_all()
    ls.refresh_inlay_hints(were_shown=hints)  # shown, hidden, or under another configuration, at once


@server.feature(T.TEXT_DOCUMENT_HOVER)
async def hover(ls: LocklsServer, params: T.HoverParams) -> Optional[T.Hover]:
    await ls.analysed(params.text_document.uri)
    try:
        return ls.session.hover(params.text_document.uri, params.position.line, params.position.character)
    except Exception:
        log.exception("hover")
        return None


@server.feature(T.TEXT_DOCUMENT_DOCUMENT_HIGHLIGHT)
async def highlight(ls: LocklsServer, params: T.DocumentHighlightParams):
    await ls.analysed(params.text_document.uri)
    try:
        return ls.session.highlights(params.text_document.uri, params.position.line, params.position.character)
    except Exception:
        log.exception("documentHighlight")
        return None


@server.feature(T.TEXT_DOCUMENT_CODE_ACTION,
                T.CodeActionOptions(code_action_kinds=[T.CodeActionKind.QuickFix, FIX_ALL], resolve_provider=False))
async def code_action(ls: LocklsServer, params: T.CodeActionParams):
    await ls.analysed(params.text_document.uri)
    try:
        return ls.session.code_actions(params.text_document.uri, params.range, params.context.only)
    except Exception:
        log.exception("codeAction")
        return None


@server.feature(T.TEXT_DOCUMENT_INLAY_HINT, T.InlayHintOptions(resolve_provider=False))
async def inlay_hint(ls: LocklsServer, params: T.InlayHintParams):
    await ls.analysed(params.text_document.uri)
    try:
        return ls.session.inlay_hints(params.text_document.uri, params.range)
    except Exception:
        log.exception("inlayHint")
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
