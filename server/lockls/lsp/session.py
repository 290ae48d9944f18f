"""The state of a language-server session: documents, configuration, analyses, workspace.

Owns everything the server knows between two messages: the open documents (in
the position encoding negotiated at `initialize`), the settings
(initializationOptions / didChangeConfiguration), which configuration each
document uses (the last good one while a file of it is broken), the files each
configuration was read from (any name: `extends`) and the problems of configuration
files, the last analysis of each
document (re-analysed when stale, reusing per-function results), and the glue to
the workspace index (`workspace.py`: the contracts of the project's other files).

`Session` is also the one entry point of the features; each lives in a module of
its own and takes the session as its first argument:
`lsp_diagnostics` (findings and configuration errors as diagnostics), `lsp_hover`
(with `lsp_probe`, the lock state at a position), `lsp_highlight`,
`lsp_code_actions`, `lsp_inlay_hints` (the locks held after each line that changes
them); `lsp_lock_events` finds the lock calls they share.
`server.py` only wires pygls to these methods and decides when to publish.
Nothing here imports pygls.
"""

from __future__ import annotations

import contextlib
import os
from typing import Callable, Generator, Optional

from lsprotocol import types as T

from lockls.lsp import code_actions as lsp_code_actions
from lockls.lsp import diagnostics as lsp_diagnostics
from lockls.lsp import highlight as lsp_highlight
from lockls.lsp import hover as lsp_hover
from lockls.lsp import inlay_hints as lsp_inlay_hints
from lockls.syntax import nodes as syntax
from lockls.report.related import read_source
from lockls.config import (Config, ConfigError, clear_config_cache, config_for, config_from_text, default_config,
                           find_config_file)
from lockls.dataflow.contracts import Contracts
from lockls.lsp.documents import UTF8, UTF16, Document
from lockls.engine.driver import Engine, FileAnalysis, run_steps
from lockls.lsp.uris import is_config_uri, path_to_uri, uri_to_path
from lockls.engine.project import static_among, with_own
from lockls.rules import RULES

C_LANGUAGES = {"c", "cpp", "objective-c", "objective-cpp", "cuda", "cuda-cpp"}
C_SUFFIXES = (".c", ".h", ".inc", ".cc", ".cpp", ".hpp")


class Session:
    """Everything the server knows between two messages."""

    def __init__(self):
        self.encoding = UTF16
        self.parser = syntax.new_parser()
        self.probe_parser = syntax.new_parser()
        self.documents: dict[str, Document] = {}
        self.analyses: dict[str, FileAnalysis] = {}
        self.engine = Engine()
        self.cache = self.engine.functions
        self.explicit_config: Optional[str] = None
        self.select: Optional[frozenset] = None
        self.root: Optional[str] = None
        self.last_good: dict[str, Config] = {}  # config file -> last configuration that loaded (unscoped)
        # config file -> the files its configuration was read from (itself, those it extends, however
        # named): a change to any of them is a configuration change (see `config_files`)
        self.chains: dict[str, frozenset] = {}
        self.config_problems: dict[str, list] = {}  # config file path -> its ConfigErrors (from disk)
        self.buffer_problems: dict[str, list] = {}  # open config document uri -> errors in the buffer
        self.messages: list[tuple[str, str]] = []  # (level, text) for window/showMessage
        self._shown: set = set()
        self.index = None  # workspace.ProjectIndex: the contracts of the other files of the project
        self.found: dict = {}  # uri -> (project, its words in the document's text at the last analysis)
        self.shared: dict = {}  # uri -> project.FileContracts last given to the index
        self.index_workspace = True  # read the other files of the workspace for their contracts
        self.static_memo: dict = {}  # uri -> what Engine.analyze remembers of its static functions
        self.held_lock_hints = False  # setting inlayHints.heldLocks: the `held: ...` inlay hints
        # what the client can do (see `client_capabilities`)
        self.work_done_progress = False  # window/workDoneProgress/create and $/progress
        self.inlay_hint_refresh = False  # workspace/inlayHint/refresh
        self.hover_markdown = False  # renders Markdown in hovers (links to lines)

    # -- settings ------------------------------------------------------------------

    def choose_encoding(self, offered) -> str:
        offered = [str(getattr(e, "value", e)) for e in (offered or ())]
        self.encoding = UTF8 if UTF8 in offered else UTF16
        return self.encoding

    def client_capabilities(self, caps) -> None:
        """What the client says it can do, at `initialize` (an lsprotocol ClientCapabilities)."""
        window = getattr(caps, "window", None)
        self.work_done_progress = bool(window is not None and window.work_done_progress)
        workspace = getattr(caps, "workspace", None)
        hints = workspace.inlay_hint if workspace is not None else None
        self.inlay_hint_refresh = bool(hints is not None and hints.refresh_support)
        document = getattr(caps, "text_document", None)
        hover = document.hover if document is not None else None
        formats = [str(getattr(f, "value", f)) for f in (hover.content_format or ())] if hover is not None else []
        self.hover_markdown = T.MarkupKind.Markdown.value in formats

    def apply_settings(self, options) -> None:
        """initializationOptions or didChangeConfiguration settings: {"configFile", "select",
        "indexWorkspace", "inlayHints": {"heldLocks"}} (indexWorkspace is read at start-up
        only: it decides whether the workspace is indexed for other files' contracts)."""
        if not isinstance(options, dict):
            return
        if isinstance(options.get("lockls"), dict):
            options = options["lockls"]
        if "configFile" in options:
            value = options.get("configFile")
            if value:
                value = os.path.expanduser(str(value))
                if not os.path.isabs(value) and self.root:
                    value = os.path.join(self.root, value)
            self.explicit_config = value or None
        if "indexWorkspace" in options and self.index is None:
            self.index_workspace = options.get("indexWorkspace") is not False
        if "select" in options:
            value = options.get("select")
            if value is None:
                self.select = None
            else:
                rules = frozenset(str(r) for r in value)
                unknown = sorted(rules - RULES.keys())
                if unknown:
                    self._message("warning", f"lockls: unknown rule(s) in settings: {', '.join(unknown)}")
                self.select = rules & frozenset(RULES)
        hints = options.get("inlayHints")
        if isinstance(hints, dict) and "heldLocks" in hints:
            self.held_lock_hints = hints.get("heldLocks") is True

    def _message(self, level: str, text: str) -> None:
        if text not in self._shown:
            self._shown.add(text)
            self.messages.append((level, text))

    def take_messages(self) -> list[tuple[str, str]]:
        out, self.messages = self.messages, []
        return out

    # -- configuration -----------------------------------------------------------------

    def config_for_uri(self, uri: str) -> Config:
        path = uri_to_path(uri)
        try:
            config = config_for(path, self.explicit_config)
        except ConfigError as error:
            self._file_problems(error.errors)
            self._message("error", f"lockls: invalid configuration, using the last good one: {error.errors[0]}")
            # the error may be in a file it extends: the last good one is the document's configuration file's
            top = self._config_file_of(path) or os.path.abspath(error.path)
            self.chains[top] = self.chains.get(top, frozenset({top})) | {os.path.abspath(e.path) for e in error.errors}
            good = self.last_good.get(top)
            return good.for_file(path) if good is not None else default_config()
        except OSError as error:
            self._message("error", f"lockls: cannot read the configuration: {error}")
            return default_config()
        if config.source is not None:
            self.last_good[config.source] = config.unscoped()
            self.chains[config.source] = frozenset((config.source, *config.bases))
            self.config_problems.pop(config.source, None)
            for base in config.bases:  # an extended file fixed (maybe unwatched): its diagnostics cleared once
                if self.config_problems.get(base):
                    self.config_problems[base] = []
        return config

    def _config_file_of(self, path: str) -> Optional[str]:
        """The configuration file of the file `path` (the configFile setting, else the one discovered)."""
        if self.explicit_config:
            return os.path.abspath(self.explicit_config)
        try:
            return find_config_file(path)
        except OSError:
            return None

    def config_files(self) -> set:
        """Every file a configuration in use was read from: the configuration files (discovered
        or set), the files they extend, whatever their names, and those with problems."""
        files = set().union(*self.chains.values())
        files.update(os.path.abspath(p) for p in self.config_problems)
        if self.explicit_config:
            files.add(os.path.abspath(self.explicit_config))
        return files

    def is_config_document(self, uri: str) -> bool:
        """A configuration file: named .lockls.toml or lockls.toml, or read as one (see `config_files`)."""
        if is_config_uri(uri):
            return True
        path = uri_to_path(uri)
        return not path.endswith(C_SUFFIXES) and os.path.abspath(path) in self.config_files()

    def check_config_documents(self) -> None:
        """Validate the open documents that became known as configuration files (a file
        `extends` names, opened before the configuration was read)."""
        for uri in list(self.documents):
            if uri not in self.buffer_problems and self.is_config_document(uri):
                self.check_config_buffer(uri)

    def config_changed(self) -> None:
        """A configuration file changed on disk (or the settings did): reload everything."""
        clear_config_cache()
        self._shown.clear()
        if self.index is not None:
            self.index.restart(self.explicit_config)  # contracts depend on the configuration
            self.shared.clear()
        for path in list(self.config_problems):
            self.config_problems[path] = []  # re-checked on the next analysis; [] clears

    def _file_problems(self, errors: list, but: str = "") -> None:
        """Record each configuration file's problems (a file may extend others, which
        have their own), but those of the file `but` (an open buffer's)."""
        grouped: dict[str, list] = {}
        for problem in errors:
            if os.path.abspath(problem.path) != but:
                grouped.setdefault(problem.path, []).append(problem)
        self.config_problems.update(grouped)

    def check_config_buffer(self, uri: str) -> None:
        doc = self.documents.get(uri)
        if doc is None:
            return
        try:
            config_from_text(doc.text, uri_to_path(uri))
            self.buffer_problems[uri] = []
        except ConfigError as error:
            path = os.path.abspath(uri_to_path(uri))
            self.buffer_problems[uri] = [e for e in error.errors if os.path.abspath(e.path) == path]
            self._file_problems(error.errors, but=path)  # (the files it extends)
            self._message("error", f"lockls: invalid configuration: {error.errors[0]}")

    def take_config_problems(self) -> dict[str, list]:
        """uri -> ConfigErrors of every config file with a problem or a problem just
        fixed ([]: reported once, then forgotten)."""
        out = {}
        for path, errors in list(self.config_problems.items()):
            out[path_to_uri(path)] = errors
            if not errors:
                del self.config_problems[path]
        for uri, errors in list(self.buffer_problems.items()):
            out[uri] = errors  # the editor's buffer wins over the file on disk
        return out

    # -- documents -----------------------------------------------------------------

    def is_c(self, uri: str, language: Optional[str] = None) -> bool:
        if is_config_uri(uri):
            return False
        if language:
            return language.lower() in C_LANGUAGES
        return uri_to_path(uri).endswith(C_SUFFIXES)

    def open(self, uri: str, text: str, version: Optional[int], language: Optional[str]) -> None:
        c = self.is_c(uri, language)
        self.documents[uri] = Document(uri, text, version, language or "", self.parser if c else None)
        self.analyses.pop(uri, None)
        self.static_memo.pop(uri, None)
        if self.index is not None:
            self.index.touch()
        if self.is_config_document(uri):
            self.check_config_buffer(uri)

    def change(self, uri: str, version: Optional[int], changes) -> None:
        doc = self.documents.get(uri)
        if doc is None:
            return
        if self.index is not None:
            self.index.touch()
        for change in changes:
            rng = getattr(change, "range", None)
            if rng is None:
                doc.apply_change(change.text)
            else:
                doc.apply_change(change.text, ((rng.start.line, rng.start.character),
                                               (rng.end.line, rng.end.character)), self.encoding)
        doc.version = version
        doc.reparse()
        if self.is_config_document(uri):
            self.check_config_buffer(uri)

    def close(self, uri: str) -> None:
        self.documents.pop(uri, None)
        self.analyses.pop(uri, None)
        self.buffer_problems.pop(uri, None)
        self.found.pop(uri, None)
        self.static_memo.pop(uri, None)
        self.shared.pop(uri, None)
        self.engine.release_document(uri_to_path(uri))
        if self.index is not None and uri_to_path(uri).endswith((".c", ".h")):
            self.index.close(uri_to_path(uri))  # the file on disk counts again

    def c_documents(self) -> list[str]:
        return [u for u, d in self.documents.items() if d.tree is not None]

    def read_open_or_disk(self, path: str):
        """The bytes of a file: the open document's text, else the file on disk (or None)."""
        for uri, doc in list(self.documents.items()):
            if os.path.abspath(uri_to_path(uri)) == os.path.abspath(path):
                return doc.source
        return read_source(path)

    def lsp_range(self, doc: Document, start: int, end: int) -> T.Range:
        """Byte offsets of `doc` as an LSP range, in the negotiated encoding."""
        sl, sc = doc.position_of(start, self.encoding)
        el, ec = doc.position_of(end, self.encoding)
        return T.Range(T.Position(sl, sc), T.Position(el, ec))

    # -- analysis ------------------------------------------------------------------

    def analysis(self, uri: str, should_stop: Optional[Callable[[], bool]] = None) -> Optional[FileAnalysis]:
        """The analysis of the document's current text (computed when stale); None when
        `should_stop` (asked after each function) stops it (see `analysis_steps`)."""
        current = self.current_analysis(uri)
        if current is not None:
            return current
        with self.index_paused():
            return run_steps(self.analysis_steps(uri), should_stop)

    def current_analysis(self, uri: str) -> Optional[FileAnalysis]:
        """The document's analysis if it is of its current text."""
        doc = self.documents.get(uri)
        current = self.analyses.get(uri)
        if doc is not None and current is not None and current.version == doc.version and current.source is doc.source:
            return current
        return None

    def index_paused(self):
        """A context manager pausing the workspace index (a thread) while the loop analyses."""
        return self.index.busy() if self.index is not None else contextlib.nullcontext()

    def analysis_steps(self, uri: str) -> Generator[None, None, Optional[FileAnalysis]]:
        """`analysis` as a generator yielding after each function analysed, for the server
        to answer other messages between them (the caller pauses the index while it runs
        steps: `index_paused`). Between two steps the caller must drop it (`close()`)
        when the document changed: the run holds nodes of the tree analysed.
        A dropped run leaves no analysis of the document; what it read of the text for
        the next one (the memo and words, which follow `doc.edited`) is of the text it
        read, and `doc.edited` counts the edits since that text."""
        doc = self.documents.get(uri)
        if doc is None or doc.tree is None:
            return None
        current = self.current_analysis(uri)
        if current is not None:
            return current
        config = self.config_for_uri(uri)
        if config.source is not None and not config.is_included(uri_to_path(uri)):
            result = FileAnalysis(doc.version, config=config)
            self.static_memo.pop(uri, None)  # it follows the edits of analysed texts only
            doc.edited = []
        else:
            project = self.index.project_for(config) if self.index is not None else None
            found = self._found_words(uri, doc, project) if project else None
            edited, doc.edited = doc.edited, []  # the memo and words below follow them: from now on, from this text
            steps = self.engine.analyze_steps(uri_to_path(uri), doc.source, config, doc.tree, project=project,
                                              found=found, select=config.selected_rules(uri_to_path(uri), self.select),
                                              version=doc.version, edited=edited,
                                              memo=self.static_memo.setdefault(uri, {}))
            try:
                result = yield from steps
            except GeneratorExit:  # dropped: the memo and words are of this text, as `doc.edited` now says
                raise
            except BaseException:  # failed: the memo and words may be half way to this text; read afresh next time
                self.static_memo.pop(uri, None)
                self.found.pop(uri, None)
                raise
            finally:
                steps.close()
        result.source = doc.source
        self.analyses[uri] = result
        self._share(uri, doc, result)
        return result

    def invalidate(self) -> None:
        """Forget every analysis (and what incremental analysis remembers): the next request analyses afresh."""
        self.analyses.clear()
        self.static_memo.clear()

    # -- the project (contracts of the other files) ------------------------------------------

    def start_index(self, roots: list, notify, progress=None) -> None:
        """Index the workspace folders in the background; `notify()` is called (from the
        index's thread) whenever a configuration's project contracts change, and
        `progress(done, total, stage)` as each walk goes (see `workspace.ProjectIndex`)."""
        from lockls.lsp.workspace import ProjectIndex

        if self.index is not None or not roots or not self.index_workspace:
            return
        self.index = ProjectIndex(roots, notify, self.explicit_config, progress=progress)
        self.index.start()

    def _found_words(self, uri: str, doc: Document, project) -> set:
        previous = self.found.get(uri)
        current = self.analyses.get(uri)
        if previous is not None and previous[0] is project and current is not None and current.source is not None:
            words = project.words_after_edits(doc.source, previous[1], doc.edited)
        else:
            words = project.words_in(doc.source)
        self.found[uri] = (project, words)
        return words

    def _share(self, uri: str, doc: Document, result: FileAnalysis, saved: bool = False) -> None:
        """Give the index the document's contracts as typed, when they changed
        (its own contracts on every analysis; everything, on save)."""
        if self.index is None or result.base is None or doc.tree is None:
            return
        path = uri_to_path(uri)
        if not self.index.in_scope(path, result.base):
            return
        shared = self.shared.get(uri)
        if shared is not None and shared.own == result.own and not saved:
            return
        contracts = with_own(doc.tree.root_node, doc.source, path, result.own,
                             [(slot.fn, slot.body) for slot in result.slots], result.outside.text)
        if contracts != shared:
            self.shared[uri] = contracts
            self.index.update_live(path, contracts, doc.source)

    def saved(self, uri: str) -> None:
        """didSave: what the buffer says beyond its own contracts (its small functions'
        calls: wrappers of other files' wrappers) counts too."""
        result = self.analysis(uri)
        doc = self.documents.get(uri)
        if result is not None and doc is not None:
            self._share(uri, doc, result, saved=True)

    def stale_documents(self) -> list:
        """After the project changed: the open documents whose contracts from other
        files changed (their analyses are dropped; the caller republishes them)."""
        out = []
        if self.index is None:
            return out
        for uri, result in list(self.analyses.items()):
            doc = self.documents.get(uri)
            if doc is None or doc.tree is None or result.base is None:
                continue
            project = self.index.project_for(result.base)
            if project is result.project:
                continue
            if result.source is not doc.source:
                del self.analyses[uri]  # edited since: analysed again anyway, under the new project
                out.append(uri)
                continue
            relevant = Contracts()
            if project:
                words = project.words_in(doc.source)
                self.found[uri] = (project, words)
                relevant = project.relevant(doc.source, result.own,
                                            lambda names: static_among(doc.tree.root_node, doc.source, names), words,
                                            uri_to_path(uri))
            if relevant != result.relevant:
                del self.analyses[uri]
                out.append(uri)
            else:
                result.project = project
        return out

    # -- features (one module each) ---------------------------------------------------

    def diagnostics(self, uri: str, should_stop: Optional[Callable[[], bool]] = None
                    ) -> Optional[tuple[Optional[int], list]]:
        with self.index_paused():
            return run_steps(self.diagnostics_steps(uri), should_stop)

    def diagnostics_steps(self, uri: str) -> Generator[None, None, Optional[tuple[Optional[int], list]]]:
        """`diagnostics` in steps, as `analysis_steps`."""
        if (yield from self.analysis_steps(uri)) is None:
            return None
        return lsp_diagnostics.document_diagnostics(self, uri)  # (the analysis just made)

    def config_diagnostics(self) -> list[tuple[str, list]]:
        """(uri, diagnostics) for every config file with a problem or a problem just fixed."""
        return lsp_diagnostics.config_file_diagnostics(self, self.take_config_problems())

    def hover(self, uri: str, line: int, character: int) -> Optional[T.Hover]:
        return lsp_hover.hover(self, uri, line, character)

    def highlights(self, uri: str, line: int, character: int) -> Optional[list]:
        return lsp_highlight.highlights(self, uri, line, character)

    def code_actions(self, uri: str, rng: T.Range, only=None) -> Optional[list]:
        return lsp_code_actions.code_actions(self, uri, rng, only)

    def inlay_hints(self, uri: str, rng: T.Range) -> list:
        return lsp_inlay_hints.inlay_hints(self, uri, rng)
