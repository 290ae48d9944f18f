"""What the language server does, without the transport: documents, configuration,
diagnostics, hover, code actions and document highlights.

Owns: the state of a session (open documents, their last analysis, the
configuration in force and its problems) and turning analysis results into
`lsprotocol` values. `server.py` only wires pygls to these methods and decides
when to publish. Nothing here imports pygls; positions are converted with
`documents.Document`, in the encoding negotiated at `initialize`.

Hover on a plain statement uses a *probe*: the function's text is analysed
again (alone) with a call to a pseudo lock function inserted just before the
innermost statement holding the hover position (wrapped in braces when that
statement is the body of a braceless `if`/loop). The lock state just before the
probe is exactly the state at the start of that statement on every path, with
no mapping from source ranges to CFG blocks. The approximation: a position in
the middle of a statement reports the state at the start of that statement
(before its first lock call); a position between statements, the state before
the next statement of the block (or at the block's closing brace).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import pathlib
import re
from typing import Optional
from urllib.parse import unquote, urlparse

from lsprotocol import types as T

from . import analysis, syntax
from .config import (CONFIG_FILE_NAMES, Config, ConfigError, LockFunction, clear_config_cache, config_for,
                     config_from_text, default_config)
from .documents import UTF8, UTF16, Document
from .analysis import related_locations
from .events import Acquire, Declared, Release, Return, Site, TryAcquire
from .contracts import Contracts
from .incremental import DocumentAnalysis, FunctionCache, Reported, Slot, analyze_document
from .project import static_among, with_own
from .lockstate import held_anywhere
from .ruledocs import help_uri, rule_doc
from .rules import RULES

log = logging.getLogger("lockls.server")

SOURCE = "lockls"
C_LANGUAGES = {"c", "cpp", "objective-c", "objective-cpp", "cuda", "cuda-cpp"}
C_SUFFIXES = (".c", ".h", ".inc", ".cc", ".cpp", ".hpp")
PROBE = "__lockls_probe__"
PROBE_LOCK = "__lockls_probe_lock__"
_SEVERITY = {"error": T.DiagnosticSeverity.Error, "warning": T.DiagnosticSeverity.Warning,
             "info": T.DiagnosticSeverity.Information, "hint": T.DiagnosticSeverity.Hint}
_SUPPRESS = re.compile(r"lockls:\s*ignore(?:\[([^\]\n]*)\])?")
_STATEMENT_PARENTS = {"compound_statement", "case_statement", "labeled_statement"}
_BODY_FIELDS = {"if_statement": "consequence", "while_statement": "body", "for_statement": "body",
                "do_statement": "body"}


def uri_to_path(uri: str) -> str:
    parsed = urlparse(uri)
    if parsed.scheme not in ("file", ""):
        return uri
    return unquote(parsed.path)


def path_to_uri(path: str) -> str:
    from urllib.parse import quote

    return "file://" + quote(os.path.abspath(path))


def is_config_uri(uri: str) -> bool:
    return os.path.basename(uri_to_path(uri)) in CONFIG_FILE_NAMES


class Session:
    """Everything the server knows between two messages."""

    def __init__(self):
        self.encoding = UTF16
        self.parser = syntax.new_parser()
        self.probe_parser = syntax.new_parser()
        self.documents: dict[str, Document] = {}
        self.analyses: dict[str, DocumentAnalysis] = {}
        self.cache = FunctionCache()
        self.explicit_config: Optional[str] = None
        self.select: Optional[frozenset] = None
        self.root: Optional[str] = None
        self.last_good: dict[str, Config] = {}  # config file -> last configuration that loaded
        self.config_problems: dict[str, list] = {}  # config file path -> its ConfigErrors (from disk)
        self.buffer_problems: dict[str, list] = {}  # open config document uri -> errors in the buffer
        self.messages: list[tuple[str, str]] = []  # (level, text) for window/showMessage
        self._shown: set = set()
        self.index = None  # workspace.ProjectIndex: the contracts of the other files of the project
        self.found: dict = {}  # uri -> (project, its words in the document's text at the last analysis)
        self.shared: dict = {}  # uri -> project.FileContracts last given to the index
        self.static_memo: dict = {}  # uri -> what incremental.analyze_document remembers of its static functions

    # -- settings ------------------------------------------------------------------

    def choose_encoding(self, offered) -> str:
        offered = [str(getattr(e, "value", e)) for e in (offered or ())]
        self.encoding = UTF8 if UTF8 in offered else UTF16
        return self.encoding

    def apply_settings(self, options) -> None:
        """initializationOptions or didChangeConfiguration settings: {"configFile", "select"}."""
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
            source = error.path
            self.config_problems[source] = list(error.errors)
            self._message("error", f"lockls: invalid configuration, using the last good one: {error.errors[0]}")
            return self.last_good.get(os.path.abspath(source)) or default_config()
        except OSError as error:
            self._message("error", f"lockls: cannot read the configuration: {error}")
            return default_config()
        if config.source is not None:
            self.last_good[config.source] = config
            self.config_problems.pop(config.source, None)
        return config

    def config_changed(self) -> None:
        """A configuration file changed on disk (or the settings did): reload everything."""
        clear_config_cache()
        self._shown.clear()
        if self.index is not None:
            self.index.restart(self.explicit_config)  # contracts depend on the configuration
            self.shared.clear()
        for path in list(self.config_problems):
            self.config_problems[path] = []  # re-checked on the next analysis; [] clears

    def check_config_buffer(self, uri: str) -> None:
        doc = self.documents.get(uri)
        if doc is None:
            return
        try:
            config_from_text(doc.text, uri_to_path(uri))
            self.buffer_problems[uri] = []
        except ConfigError as error:
            self.buffer_problems[uri] = list(error.errors)
            self._message("error", f"lockls: invalid configuration: {error.errors[0]}")

    def config_diagnostics(self) -> list[tuple[str, list]]:
        """(uri, diagnostics) for every config file with a problem or a problem just fixed."""
        out = {}
        for path, errors in list(self.config_problems.items()):
            out[path_to_uri(path)] = errors
            if not errors:
                del self.config_problems[path]
        for uri, errors in list(self.buffer_problems.items()):
            out[uri] = errors  # the editor's buffer wins over the file on disk
        result = []
        for uri, errors in out.items():
            doc = self.documents.get(uri)
            if doc is None:
                try:
                    with open(uri_to_path(uri), encoding="utf-8", errors="replace") as fh:
                        doc = Document(uri, fh.read(), None)
                except OSError:
                    doc = None
            diags = []
            for e in errors:
                line = (e.line - 1) if e.line else 0
                end_char = 0
                if doc is not None and line < doc.lines.line_count():
                    end_char = doc.position_of(doc.lines.starts[line] + len(doc.line_bytes(line)), self.encoding)[1]
                diags.append(T.Diagnostic(
                    range=T.Range(T.Position(line, 0), T.Position(line, end_char)),
                    message=f"{e.key}: {e.message}" if e.key else e.message,
                    severity=T.DiagnosticSeverity.Error, source=SOURCE))
            result.append((uri, diags))
        return result

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
        if is_config_uri(uri):
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
        if is_config_uri(uri):
            self.check_config_buffer(uri)

    def close(self, uri: str) -> None:
        self.documents.pop(uri, None)
        self.analyses.pop(uri, None)
        self.buffer_problems.pop(uri, None)
        self.found.pop(uri, None)
        self.static_memo.pop(uri, None)
        self.shared.pop(uri, None)
        if self.index is not None and uri_to_path(uri).endswith((".c", ".h")):
            self.index.close(uri_to_path(uri))  # the file on disk counts again

    def c_documents(self) -> list[str]:
        return [u for u, d in self.documents.items() if d.tree is not None]

    # -- analysis ------------------------------------------------------------------

    def analysis(self, uri: str) -> Optional[DocumentAnalysis]:
        """The analysis of the document's current text (computed when stale)."""
        doc = self.documents.get(uri)
        if doc is None or doc.tree is None:
            return None
        current = self.analyses.get(uri)
        if current is not None and current.version == doc.version and current.source is doc.source:
            return current
        config = self.config_for_uri(uri)
        if config.source is not None and not config.is_included(uri_to_path(uri)):
            result = DocumentAnalysis(doc.version, config=config)
            self.static_memo.pop(uri, None)  # it follows the edits of analysed texts only
        else:
            project = self.index.project_for(config) if self.index is not None else None
            found = self._found_words(uri, doc, project) if project else None
            with self.index.busy() if self.index is not None else contextlib.nullcontext():
                result = analyze_document(doc.tree, doc.source, config, self.cache, self.select, doc.version,
                                          project=project, found=found, edited=doc.edited,
                                          memo=self.static_memo.setdefault(uri, {}))
        result.source = doc.source
        doc.edited = []
        self.analyses[uri] = result
        self._share(uri, doc, result)
        return result

    # -- the project (contracts of the other files) ------------------------------------------

    def start_index(self, roots: list, notify) -> None:
        """Index the workspace folders in the background; `notify()` is called (from the
        index's thread) whenever a configuration's project contracts change."""
        from .workspace import ProjectIndex

        if self.index is not None or not roots:
            return
        self.index = ProjectIndex(roots, notify, self.explicit_config)
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

    def _share(self, uri: str, doc: Document, result: DocumentAnalysis, saved: bool = False) -> None:
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
        contracts = with_own(doc.tree.root_node, doc.source, path, result.own)
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
                                            lambda names: static_among(doc.tree.root_node, doc.source, names), words)
            if relevant != result.relevant:
                del self.analyses[uri]
                out.append(uri)
            else:
                result.project = project
        return out

    def invalidate(self) -> None:
        self.analyses.clear()
        self.static_memo.clear()

    def diagnostics(self, uri: str) -> Optional[tuple[Optional[int], list]]:
        result = self.analysis(uri)
        if result is None:
            return None
        doc = self.documents[uri]
        return result.version, [self._diagnostic(doc, f) for f in result.findings]

    def _range(self, doc: Document, start: int, end: int) -> T.Range:
        sl, sc = doc.position_of(start, self.encoding)
        el, ec = doc.position_of(end, self.encoding)
        return T.Range(T.Position(sl, sc), T.Position(el, ec))

    def _diagnostic(self, doc: Document, f: Reported) -> T.Diagnostic:
        related = [
            T.DiagnosticRelatedInformation(T.Location(doc.uri, self._range(doc, s.start_byte, s.end_byte)), m)
            for s, m in f.related if isinstance(s, Site)
        ]
        declared = [(s, m) for s, m in f.related if isinstance(s, Declared)]
        if declared:
            related += self._declared_locations(doc, declared)
        lock = self._finding_lock(f)
        data = {"rule": f.rule, "function": f.slot.name, "version": doc.version}
        if lock is not None:
            data["lock"] = lock.written
            data["key"] = lock.key
        return T.Diagnostic(
            range=self._range(doc, f.site.start_byte, f.site.end_byte),
            message=f.message,
            severity=_SEVERITY.get(f.severity, T.DiagnosticSeverity.Warning),
            code=f.rule,
            code_description=T.CodeDescription(href=help_uri(f.rule)),
            source=SOURCE,
            related_information=related or None,
            data=data,
        )

    def _declared_locations(self, doc: Document, declared: list) -> list:
        """Where guards, orders and classes were declared: in this document, another
        open one, a file on disk or the configuration file."""
        out = []
        path = uri_to_path(doc.uri)
        for rel in related_locations(declared, path, doc.source, self.config_for_uri(doc.uri), self._read_open_or_disk):
            start, end = rel.span.start, rel.span.end
            col = (lambda p: p.byte_col) if self.encoding == UTF8 else (lambda p: p.utf16_col)
            rng = T.Range(T.Position(start.line, col(start)), T.Position(end.line, col(end)))
            uri = doc.uri if os.path.abspath(rel.path) == os.path.abspath(path) else pathlib.Path(os.path.abspath(rel.path)).as_uri()
            out.append(T.DiagnosticRelatedInformation(T.Location(uri, rng), rel.message))
        return out

    def _read_open_or_disk(self, path: str):
        for uri, doc in list(self.documents.items()):
            if os.path.abspath(uri_to_path(uri)) == os.path.abspath(path):
                return doc.source
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except OSError:
            return None

    # -- events of a function ----------------------------------------------------------

    @staticmethod
    def _lock_events(slot: Slot) -> list:
        """Every lock/return event of the function, in source order, in *current* offsets."""
        cfg = slot.result.cfg
        if cfg is None:
            return []
        seen, out = set(), []
        for block in cfg.blocks:
            for ev in block.events:
                if isinstance(ev, (Acquire, TryAcquire, Release, Return)) and id(ev) not in seen:
                    seen.add(id(ev))
                    out.append(ev)
        out.sort(key=lambda e: e.site.start_byte)
        return out

    def _event_at(self, slot: Slot, start: int, end: Optional[int] = None):
        base = slot.to_base(start)
        for ev in self._lock_events(slot):
            if isinstance(ev, Return):
                continue
            if ev.site.start_byte == base and (end is None or ev.site.end_byte == slot.to_base(end)):
                return ev
        return None

    def _finding_lock(self, f: Reported):
        """The lock event a finding is about: the call itself, or the acquire of a leak."""
        if f.rule == "lock-leak":
            for s, _ in f.related:
                if isinstance(s, Site):
                    ev = self._event_at(f.slot, s.start_byte, s.end_byte)
                    if ev is not None:
                        return ev
            return None
        return self._event_at(f.slot, f.site.start_byte, f.site.end_byte)

    # -- hover -------------------------------------------------------------------------

    def hover(self, uri: str, line: int, character: int) -> Optional[T.Hover]:
        doc = self.documents.get(uri)
        if doc is None or doc.tree is None or line < 0 or line >= doc.lines.line_count():
            return None
        offset = doc.offset_at(line, character, self.encoding)
        node = doc.tree.root_node.descendant_for_byte_range(offset, offset)
        if node is not None and node.type == "comment":
            text = doc.source[node.start_byte:node.end_byte].decode("utf-8", "replace")
            m = _SUPPRESS.search(text)
            if m:
                return T.Hover(T.MarkupContent(T.MarkupKind.Markdown, self._suppression_doc(m.group(1))),
                               self._range(doc, node.start_byte, node.end_byte))
        result = self.analysis(uri)
        if result is None:
            return None
        slot = result.slot_at(offset)
        if slot is None or not (slot.body.start_byte < offset < slot.body.end_byte):
            return None
        parts = []
        call = self._lock_call_at(doc, slot, offset, result.config)
        if call is not None:
            parts.append(self._call_hover(doc, slot, call, result.config))
        parts.append(self._held_hover(doc, slot, offset, result))
        rng = self._range(doc, call.start_byte, call.end_byte) if call is not None else None
        return T.Hover(T.MarkupContent(T.MarkupKind.Markdown, "\n\n".join(p for p in parts if p)), rng)

    @staticmethod
    def _suppression_doc(rules_text: Optional[str]) -> str:
        if rules_text is None:
            return "**lockls: ignore** silences every rule on this line and the next."
        rules = [r.strip() for r in rules_text.split(",") if r.strip()]
        out = []
        for rule in rules:
            if rule in RULES:
                out.append(f"**{rule}** (silenced on this line and the next)\n\n{rule_doc(rule)}\n\n[Rule page]({help_uri(rule)})")
            else:
                out.append(f"**{rule}**: not a lockls rule (known rules: {', '.join(RULES)})")
        return "\n\n---\n\n".join(out)

    def _lock_call_at(self, doc: Document, slot: Slot, offset: int, config: Config):
        node = doc.tree.root_node.descendant_for_byte_range(offset, offset)
        while node is not None and node.start_byte >= slot.body.start_byte:
            if node.type == "call_expression":
                name = syntax.call_name(node, doc.source)
                if name in config.functions and name != PROBE:
                    return node
            if node.type.endswith("statement") or node.type == "declaration":
                return None
            node = node.parent
        return None

    def _call_hover(self, doc: Document, slot: Slot, call, config: Config) -> str:
        name = syntax.call_name(call, doc.source)
        spec: LockFunction = config.functions[name]
        ev = self._event_at(slot, call.start_byte, call.end_byte)
        action = {"acquire": "acquires", "release": "releases", "try-acquire": "tries to acquire"}.get(spec.action, spec.action)
        if spec.shared:
            action += " (shared)"
        if ev is None:
            return f"`{name}` {action} the lock `{spec.lock_spec}`"
        kind = config.lock_kind_for(ev.key, ev.fn)
        kind_name = kind.name if kind is not None else (spec.kind or "unspecified")
        recursive = " (recursive)" if kind is not None and kind.recursive else ""
        lines = [f"**`{ev.written}`** — `{name}` {action} it", "",
                 f"- lock: `{ev.key}`", f"- kind: `{kind_name}`{recursive}"]
        sites = []
        for other in self._lock_events(slot):
            if isinstance(other, Return) or other.key != ev.key:
                continue
            verb = "release" if isinstance(other, Release) else ("try-acquire" if isinstance(other, TryAcquire) else "acquire")
            line = doc.position_of(slot.from_base(other.site.start_byte), self.encoding)[0] + 1
            fname = other.fn.name if other.fn is not None else "?"
            here = " (this call)" if other is ev else ""
            sites.append(f"  - {verb} `{fname}` at line {line}{here}")
        if sites:
            lines.append(f"- in `{slot.name}`:")
            lines.extend(sites)
        return "\n".join(lines)

    def _held_hover(self, doc: Document, slot: Slot, offset: int, result: DocumentAnalysis) -> str:
        fr = slot.result
        if fr.skipped:
            return f"lockls could not analyse `{fr.name}`: {fr.skipped}"
        if fr.cfg is None:
            return "**Locks held here:** none"
        probe = self._probe_state(doc, slot, offset, result)
        if probe is None:
            return ""
        state, back = probe
        if not state:
            return "**Locks held here:** none (no path reaches this point)"
        sure, some = [], []
        for key, fact in held_anywhere(state):
            if key == PROBE_LOCK or getattr(fact, "written", "") == f"&{PROBE_LOCK}":
                continue
            everywhere = all((c.get(key) is not None and c.get(key).held) for c in state)
            lines = sorted({doc.position_of(back(s.start_byte), self.encoding)[0] + 1 for s in fact.sites})
            if fact.entry_held and not lines:
                where = "held by the caller on entry"
            elif fact.entry_held:
                where = "held by the caller on entry"
            else:
                where = "taken at line" + ("s " if len(lines) > 1 else " ") + ", ".join(map(str, lines))
            (sure if everywhere else some).append(f"`{fact.written}` ({where})")
        if not sure and not some:
            return "**Locks held here:** none"
        out = ["**Locks held here**"]
        if sure:
            out.append("- for sure: " + ", ".join(sure))
        if some:
            out.append("- on some paths: " + ", ".join(some))
        return "\n".join(out)

    def _probe_state(self, doc: Document, slot: Slot, offset: int, result: DocumentAnalysis):
        """(lock state at the start of the statement at `offset`, new-offset -> document-offset)."""
        where = self._probe_point(doc, slot, offset)
        if where is None:
            return None
        a, b, wrap = where
        probe = f"{PROBE}(&{PROBE_LOCK});".encode()
        pre, post = (b"{" + probe + b" ", b" }") if wrap else (probe + b" ", b"")
        s = slot.start
        text = doc.source[s:a] + pre + doc.source[a:b] + post + doc.source[b:slot.end]
        ra, rb = a - s, b - s

        def back(x: int) -> int:
            if x < ra:
                return s + x
            if x < ra + len(pre):
                return a
            if x < ra + len(pre) + (rb - ra):
                return s + x - len(pre)
            if x < ra + len(pre) + (rb - ra) + len(post):
                return b
            return s + x - len(pre) - len(post)

        tree = self.probe_parser.parse(text)
        fns = analysis.function_nodes(tree.root_node)
        if not fns:
            return None
        fn, body = fns[0]
        config = _probe_config(result.config)
        fr = analysis.analyze_function(fn, body, text, config, result.recursive_globals)
        if fr.cfg is None:
            return None

        def is_recursive(key, spec):
            return key in result.recursive_globals or config.is_recursive(key, spec)

        for ev, state in analysis.replay(fr.cfg, fr.states, is_recursive):
            if isinstance(ev, Release) and ev.fn is not None and ev.fn.name == PROBE:
                return state, back
        return (), back  # the probe was never reached: dead code

    @staticmethod
    def _probe_point(doc: Document, slot: Slot, offset: int):
        """(start, end, wrap) of the statement to put the probe before, or None."""
        body = slot.body
        node = doc.tree.root_node.named_descendant_for_byte_range(offset, offset)
        if node is None:
            return None
        # between statements: the next statement of the block, or its closing brace
        if node.type in ("compound_statement", "case_statement") and node.start_byte < offset:
            for child in node.named_children:
                if child.type == "comment":
                    continue
                if node.type == "case_statement" and child == node.child_by_field_name("value"):
                    continue
                if child.end_byte > offset:
                    return Session._statement_point(child)
            if node.type == "compound_statement":
                close = node.child(node.child_count - 1)
                return close.start_byte, close.start_byte, False
            return None
        while node is not None and node.start_byte >= body.start_byte:
            parent = node.parent
            if parent is None:
                return None
            if parent.type in _STATEMENT_PARENTS and node.type != "comment":
                if parent.type == "case_statement" and node == parent.child_by_field_name("value"):
                    node = parent
                    continue
                if parent.type == "labeled_statement" and node.type in ("statement_identifier", "identifier"):
                    node = parent
                    continue
                return Session._statement_point(node)
            field_name = _BODY_FIELDS.get(parent.type)
            if field_name and parent.child_by_field_name(field_name) == node:
                return node.start_byte, node.end_byte, True
            if parent.type == "else_clause" and node.type != "else":
                return node.start_byte, node.end_byte, True
            node = parent
        return None

    @staticmethod
    def _statement_point(node):
        while node.type == "labeled_statement":  # the probe goes after the label(s)
            inner = [c for c in node.named_children if c.type not in ("statement_identifier", "identifier", "comment")]
            if not inner:
                break
            node = inner[-1]
        if node.type == "case_statement":
            stmts = [c for c in node.named_children if c != node.child_by_field_name("value") and c.type != "comment"]
            if not stmts:
                return None
            node = stmts[0]
        return node.start_byte, node.end_byte, True

    # -- document highlight -------------------------------------------------------------

    def highlights(self, uri: str, line: int, character: int) -> Optional[list]:
        doc = self.documents.get(uri)
        if doc is None or doc.tree is None or line < 0 or line >= doc.lines.line_count():
            return None
        result = self.analysis(uri)
        if result is None:
            return None
        offset = doc.offset_at(line, character, self.encoding)
        slot = result.slot_at(offset)
        if slot is None:
            return None
        call = self._lock_call_at(doc, slot, offset, result.config)
        if call is None:
            return None
        ev = self._event_at(slot, call.start_byte, call.end_byte)
        if ev is None:
            return None
        out = []
        for other in self._lock_events(slot):
            if isinstance(other, Return) or other.key != ev.key:
                continue
            kind = T.DocumentHighlightKind.Write if isinstance(other, Release) else T.DocumentHighlightKind.Read
            out.append(T.DocumentHighlight(
                self._range(doc, slot.from_base(other.site.start_byte), slot.from_base(other.site.end_byte)), kind))
        return out

    # -- code actions ------------------------------------------------------------------

    def code_actions(self, uri: str, rng: T.Range, only=None) -> Optional[list]:
        doc = self.documents.get(uri)
        if doc is None or doc.tree is None:
            return None
        if only and not any(str(getattr(k, "value", k)).startswith("quickfix") for k in only):
            return []
        result = self.analysis(uri)
        if result is None:
            return None
        start = doc.offset_at(rng.start.line, rng.start.character, self.encoding)
        end = doc.offset_at(rng.end.line, rng.end.character, self.encoding)
        out = []
        for f in result.findings:
            if f.site.end_byte < start or f.site.start_byte > end:
                continue
            diag = self._diagnostic(doc, f)
            from . import fixes

            for title, edits, preferred in fixes.fixes_for(doc, f, self._finding_lock(f), result.config,
                                                          self._lock_events(f.slot)):
                text_edits = [T.TextEdit(self._range(doc, a, b), text) for a, b, text in edits]
                out.append(T.CodeAction(
                    title=title, kind=T.CodeActionKind.QuickFix, diagnostics=[diag], is_preferred=preferred or None,
                    edit=T.WorkspaceEdit(changes={uri: text_edits})))
        return out


_PROBE_CONFIGS: dict = {}


def _probe_config(config: Config) -> Config:
    key = config.fingerprint()
    if key not in _PROBE_CONFIGS:
        functions = dict(config.functions)
        functions[PROBE] = LockFunction(PROBE, "release", "arg0")
        _PROBE_CONFIGS[key] = dataclasses.replace(config, functions=functions)
    return _PROBE_CONFIGS[key]
