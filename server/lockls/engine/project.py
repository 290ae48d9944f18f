"""Contracts across the files of a project, shared by `--check` and the language server.

Owns: what one file tells the others (`FileContracts`: its own contracts, the part
it exports, and what its wrapper-sized functions call), merging the files of one
configuration into a `Project`, the inference rounds that find wrappers of
wrappers defined in other files, which part of the project a given file needs
(`Project.relevant`), the configuration and cache fingerprint a file is analysed
under, and a JSON codec for caching contracts. Must not know about LSP, output
formats or worker processes.

The model (see `contracts` for what a `Contracts` holds):
- every file's *own* contracts are computed under the configuration alone
  (`function.file_contracts`); they always apply to the file itself;
- a header exports all of them; a `.c` file all but those of its `static`
  functions (a static wrapper in one file says nothing about a function of the
  same name elsewhere);
- the exports of every file of the run (or of the workspace) that has the same
  configuration are merged (`Contracts.merge`, headers first, then by path: the
  first file that names a function wins), then up to `INFERENCE_ROUNDS` times the
  files whose small functions call a function the project just learnt about are
  read again under the project's contracts, so that a wrapper of another file's
  wrapper is a wrapper too;
- a file is analysed under `apply(config, merge([own, relevant]))`: its own
  contracts first (after the rounds), then the project's contracts it can be
  affected by, and its cached result is keyed by both. A contract
  about a function, an entry point or guarded data named by a field or a
  variable is *relevant* only when that word occurs in the file's text (the
  analysis never looks up anything else); everything else (declared lock order,
  guarded types, fields `Contracts` may gain) is always relevant. So a file that
  uses nothing from other files is analysed exactly as if it were alone (same
  results, same cache key), and editing a wrapper re-analyses only its users.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Optional

from lockls.config import Config
from lockls.dataflow import lockgraph
from lockls.dataflow.contracts import Contracts, apply
from lockls.dataflow.ordergraph import OrderCycle

INFERENCE_ROUNDS = 4  # rounds after the first: summaries of callers of other files' summaries
HEADER_SUFFIXES = (".h",)
_WORD = re.compile(r"[A-Za-z_]\w*")
_CALL = re.compile(rb"\b([A-Za-z_]\w*)\s*\(")
_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class FileContracts:
    """What one file says about locks beyond its function bodies."""

    own: Contracts = Contracts()  # applies to the file itself
    exported: Contracts = Contracts()  # what it tells the other files of the project
    calls: tuple = ()  # sorted names called in its function bodies and macros (summaries of summaries)
    static: tuple = ()  # sorted names of its `static` functions: the project says nothing about them here
    macro_calls: tuple = ()  # sorted capitalised names called outside function bodies (annotation macros?)


EMPTY = FileContracts()


def is_header(path: str) -> bool:
    return path.endswith(HEADER_SUFFIXES)


# -- one file -------------------------------------------------------------------------

def scan_tree(tree, source: bytes, path: str, config: Config, extra: Optional[Contracts] = None,
              own: Optional[Contracts] = None, analyzed: Optional[dict] = None, functions: Optional[list] = None,
              outside: Optional[bytes] = None) -> FileContracts:
    """The contracts of the file `path` (parsed as `tree`) under `config`.

    With `extra` (project contracts the file uses) and `own` (its contracts from the
    previous round), the file is read again under the project's contracts: its
    summaries are computed afresh (a caller of another file's summary may gain one,
    or lose the one it seemed to have). `analyzed` collects the
    functions analysed under `config` on the way (see `function.file_contracts`).
    `functions`, `outside`: the file's functions and text outside their bodies, when
    the caller has them."""
    from lockls.engine.function import function_nodes, outside_bodies, recursive_globals, file_contracts

    root = tree.root_node
    functions = functions if functions is not None else function_nodes(root, source)
    outside = outside if outside is not None else outside_bodies(source, functions)
    rec = recursive_globals(source)
    if own is None or not extra:
        own = own if own is not None else file_contracts(root, source, config, rec, analyzed, functions,
                                                         outside=outside)
    else:
        # read afresh: a summary may change (or go) now that its callees' are known
        own = file_contracts(root, source, apply(config, extra), rec, functions=functions, outside=outside)
    return with_own(root, source, path, own, functions, outside)


def with_own(root, source: bytes, path: str, own: Contracts, functions: Optional[list] = None,
             outside: Optional[bytes] = None) -> FileContracts:
    """The `FileContracts` of a file whose own contracts are `own` (already computed);
    `outside`: the text outside its functions' bodies, when the caller has it."""
    from lockls.engine.function import function_nodes, outside_bodies

    functions = functions if functions is not None else function_nodes(root, source)
    outside = outside if outside is not None else outside_bodies(source, functions)
    static = static_functions(root, source)
    return FileContracts(own, _exported(own, static, path), _calls(functions, source), tuple(sorted(static)),
                         _macro_calls(outside))


_CAPS_CALL = re.compile(rb"\b([A-Z_][A-Z0-9_]*)\s*\(")


def _macro_calls(outside: bytes) -> tuple:
    """Capitalised names called outside function bodies (`outside`): where annotation
    macros are used (`void f(struct q *q) MY_REQUIRES(q->mu);`, `int n MY_GUARDED_BY(mu);`)."""
    return tuple(sorted({n.decode() for n in _CAPS_CALL.findall(outside)}))


def scan_source(source: bytes, path: str, config: Config, parser=None, **kwargs) -> FileContracts:
    from lockls.syntax import nodes as syntax

    tree = (parser or syntax.new_parser()).parse(source)
    return scan_tree(tree, source, path, config, **kwargs)


def _exported(own: Contracts, static: frozenset, path: str) -> Contracts:
    """What a file tells the others. A header: everything, each guard and order
    stamped with the header's path (for related information). A `.c` file: its
    non-static lock functions and the entry points its method tables and registrar
    calls name but its static functions (the same name elsewhere is another
    function); the data it declares (structs, their guards, lock types) is its own."""
    # stamped with the file's path, for related information in the files that use them
    stamped = tuple((n, f if f.origin else dataclasses.replace(f, origin=path)) for n, f in own.functions)
    if own.order_edges:  # the lock graph is the whole project's, statics named by their file
        own = dataclasses.replace(own, order_edges=lockgraph.exported(own.order_edges, path))
    if is_header(path):
        return dataclasses.replace(
            own, functions=stamped,
            guarded=tuple(g if g.origin else dataclasses.replace(g, origin=path) for g in own.guarded),
            order=tuple(p if p[2] else (p[0], p[1], path) for p in own.order))
    if static and own.entry_points:
        own = dataclasses.replace(own, entry_points=tuple(n for n in own.entry_points if n not in static))
    if not (own.functions or own.guarded or own.order or own.locks or own.macros):
        return own
    return dataclasses.replace(own, functions=tuple((n, f) for n, f in stamped if n not in static),
                               guarded=(), order=(), locks=(), macros=(),
                               noreturn=tuple(n for n in own.noreturn if n not in static))


_CONTAINERS = ("preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif", "linkage_specification",
               "declaration_list")


def static_functions(root, source: bytes) -> frozenset:
    """Names of the functions the file declares or defines `static` (at file scope,
    also inside `#if` blocks and in prototypes the parser wrapped in an ERROR)."""
    if b"static" not in source:
        return frozenset()
    from lockls.syntax.nodes import text

    names = set()
    stack = [root]
    while stack:
        node = stack.pop()
        for child in node.children:
            t = child.type
            if t in _CONTAINERS:
                stack.append(child)
            elif t in ("function_definition", "declaration", "ERROR"):
                is_static = False
                for part in child.children:
                    if part.type == "storage_class_specifier":
                        is_static = is_static or text(part, source) == "static"
                    elif part.type in ("function_declarator", "pointer_declarator", "init_declarator"):
                        if is_static:
                            name = _function_name(part)
                            if name is not None:
                                names.add(text(name, source))
                        if t == "ERROR":
                            is_static = False  # an ERROR may hold several prototypes
                if t == "ERROR":
                    stack.append(child)  # definitions swallowed by the damage
    return frozenset(names)


def static_among(root, source: bytes, names: Iterable[str], functions: Optional[list] = None) -> frozenset:
    """Those of `names` the file declares static: `static_functions`, read only when
    one of them is mentioned outside the functions' bodies after a `static` in the
    same declaration (cheap while typing: calls are skipped by position)."""
    from bisect import bisect_right

    if functions is None:
        from lockls.engine.function import function_nodes

        functions = function_nodes(root, source)
    starts = [body.start_byte for _, body in functions]
    names = list(names)
    for name in names:
        word = name.encode("utf-8", "surrogatepass")
        at = source.find(word)
        while at >= 0:
            end = at + len(word)
            if (at == 0 or not _is_word_byte(source[at - 1])) and (end == len(source) or not _is_word_byte(source[end])):
                i = bisect_right(starts, at) - 1
                if i < 0 or at >= functions[i][1].end_byte:  # not in a body: a declaration
                    head = max(source.rfind(b";", 0, at), source.rfind(b"{", 0, at), source.rfind(b"}", 0, at)) + 1
                    if re.search(rb"\bstatic\b", source[head:at]):
                        return static_functions(root, source).intersection(names)
            at = source.find(word, at + 1)
    return frozenset()


def _function_name(declarator):
    node = declarator
    while node is not None and node.type != "function_declarator":
        node = node.child_by_field_name("declarator")
    if node is None:
        return None
    name = node.child_by_field_name("declarator")
    return name if name is not None and name.type == "identifier" else None


_NAME_CALL = re.compile(r"\b([A-Za-z_]\w*)\s*\(")


def _calls(functions, source: bytes) -> tuple:
    """Names called in the file's function bodies and macro definitions: when the
    project learns what one of them does, the file's own summaries may change."""
    names = set()
    for _, body in functions:
        names.update(m.group(1).decode("utf-8", "replace") for m in _CALL.finditer(source, body.start_byte, body.end_byte))
    from lockls.syntax.nodes import define_directives

    for _, _, body in define_directives(source):
        names.update(_NAME_CALL.findall(body))
    return tuple(sorted(names))


# -- the project ------------------------------------------------------------------------

def merge_order(path: str) -> tuple:
    """Headers (the interface) first, then the other files, by path."""
    return (not is_header(path), path)


def merge_files(files: Mapping[str, FileContracts]) -> Contracts:
    return Contracts.merge(files[p].exported for p in sorted(files, key=merge_order))


class Project:
    """The merged contracts of the files sharing one configuration, and the part of
    them each file needs. Immutable once built."""

    def __init__(self, contracts: Contracts, config: Config):
        self.contracts = contracts
        self.config = config
        self.digest = digest(contracts)
        self._always: list[tuple[int, str, object]] = []  # (rank, field, element) relevant to every file
        self._by_word: dict[str, list[tuple[int, str, object]]] = {}
        # the lock graph: each file is given the cycles its own edges close (`relevant`)
        self._cycles = lockgraph.cycle_index(lockgraph.cycles_among(contracts.order_edges))
        self._edges_from: dict[str, list] = {}  # file -> its edges in the graph
        for e in contracts.order_edges:
            self._edges_from.setdefault(e.origin or "", []).append(e)
        rank = 0
        for f in dataclasses.fields(Contracts):
            if f.name in ("order_edges", "cycles"):
                continue
            for element in getattr(contracts, f.name):
                rank += 1
                if _in_config(f.name, element, config):
                    continue  # apply() would not change the configuration's own entry
                words = _words(f.name, element)
                if words is None:
                    self._always.append((rank, f.name, element))
                else:
                    for w in words:
                        self._by_word.setdefault(w, []).append((rank, f.name, element))
        self._regex = None
        if self._by_word:
            from lockls.engine.function import _trie_regex

            self._regex = re.compile(rb"\b" + _trie_regex(sorted(self._by_word)).encode() + rb"\b")

    def __bool__(self) -> bool:
        return bool(self._always or self._by_word or self._edges_from)

    @property
    def function_names(self) -> frozenset:
        """Functions the project adds to the configuration (but those that only take and
        drop locks themselves: their callers' summaries do not change with them)."""
        functions = (n for n, fn in self.contracts.functions if n not in self.config.functions and not fn.only_takes)
        # a call that never returns ends the paths through it: its callers' summaries change
        ends = (n for n in self.contracts.noreturn if n not in getattr(self.config, "noreturn", ()))
        return frozenset((*functions, *ends))

    def words_in(self, source: bytes, start: int = 0, end: Optional[int] = None) -> set:
        """The project's words that occur in source[start:end]."""
        if self._regex is None:
            return set()
        end = len(source) if end is None else end
        return {m.decode("utf-8", "replace") for m in self._regex.findall(source, start, end)}

    def words_after_edits(self, source: bytes, before: set, edited: Iterable[tuple[int, int]]) -> set:
        """`words_in(source)` when it was `before` until the byte ranges `edited`
        (in `source`'s offsets) changed: cheap on a large document."""
        words = {w for w in before if _has_word(source, w.encode("utf-8", "surrogatepass"))}
        for start, end in edited:
            while start > 0 and _is_word_byte(source[start - 1]):
                start -= 1
            while end < len(source) and _is_word_byte(source[end]):
                end += 1
            words |= self.words_in(source, start, end)
        return words

    def relevant(self, source: bytes, own: Contracts, static=(), found: Optional[set] = None,
                 path: str = "", defined: frozenset = frozenset()) -> Contracts:
        """The part of the project a file with text `source` and own contracts `own`
        needs beyond them. `static`: the file's static functions, which shadow the
        project's functions of the same name (a collection, or a function that takes
        the names in question and returns those of them that are static);
        `found`: `words_in(source)`, when the caller has it; `path`: the file's path
        as the project knows it (its static locks are named by it in the lock graph);
        `defined`: the functions the text defines, whose bodies say what they do (what
        the project read of them, from another version of the file, does not count)."""
        if not self:
            return Contracts()
        cycles = self._cycles_closed(own, path)
        if found is None:
            found = self.words_in(source)
        chosen = {}
        for item in self._always:
            chosen[item[0]] = item
        for w in found:
            for item in self._by_word.get(w, ()):
                chosen[item[0]] = item
        if not chosen:
            return Contracts(cycles=cycles)
        # the file's own contracts win, but a declared one elsewhere (a header's annotated
        # prototype) wins over what the file's body of that function suggests
        own_functions = {n for n, _ in own.functions}
        inferred = {n for n, f in own.functions if f.inferred}
        named = {e[0] for _, f, e in chosen.values() if f == "functions"} - own_functions
        if named:
            own_functions.update(static(named) if callable(static) else static)
        parts: dict[str, list] = {f.name: [] for f in dataclasses.fields(Contracts)}
        for _, f, e in sorted(chosen.values(), key=lambda item: item[0]):  # the project's order
            if path and _declared_in(f, e, path):
                continue  # what this very file declares, as another version of it said: its text now decides
            if f == "functions":
                if e[1].inferred and e[0] in defined and e[0] not in own_functions and e[1].action != "acquire":
                    # a summary of this very function, read from another version of the file (an
                    # acquire is the exception: the file's own reading drops it until a caller
                    # elsewhere relies on it, which the project's version says)
                    continue
                if e[0] not in own_functions or (e[0] in inferred and not e[1].inferred):
                    parts[f].append(e)
            elif e not in getattr(own, f):
                parts[f].append(e)
        parts["cycles"] = cycles
        return Contracts(**{f: tuple(v) for f, v in parts.items()})

    def _cycles_closed(self, own: Contracts, path: str) -> tuple:
        """The file's own lock-graph edges that close a cycle of the project's graph,
        in the file's own names of its nodes."""
        if not own.order_edges or not self._edges_from:
            return ()  # (cycles among the file's own edges alone: `contracts.apply` finds them)
        mine = lockgraph.exported(own.order_edges, path)
        cycles = self._cycles
        if set(mine) != set(self._edges_from.get(path, ())):
            # the file has changed since the project read it (an editor's buffer): its
            # edges as they are now, instead of those the project knows
            others = tuple(e for e in self.contracts.order_edges if e.origin != path)
            cycles = lockgraph.cycle_index(lockgraph.cycles_among(others + mine))
        if not cycles:
            return ()
        out = []
        for e in own.order_edges:
            cycle = cycles.get((lockgraph.stamp(e.first, path), lockgraph.stamp(e.then, path)))
            if cycle is not None:
                out.append(OrderCycle(e.first, e.then, cycle.reverse))
        return tuple(out)


def _is_word_byte(b: int) -> bool:
    return b == 95 or 48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122  # as `\b` in a bytes regex


def _has_word(source: bytes, word: bytes) -> bool:
    at = source.find(word)
    while at >= 0:
        end = at + len(word)
        if (at == 0 or not _is_word_byte(source[at - 1])) and (end == len(source) or not _is_word_byte(source[end])):
            return True
        at = source.find(word, at + 1)
    return False


def _declared_in(field: str, element, path: str) -> bool:
    """Is the project's `element` of `field` a declaration (not an inferred summary) that
    the file `path` itself makes?"""
    if field == "functions":
        return element[1].origin == path and not element[1].inferred
    if field == "guarded":
        return getattr(element, "origin", None) == path
    return False


def _in_config(field: str, element, config: Config) -> bool:
    if field == "functions":
        # as `contracts.apply` decides: a preset's entry (no origin) gives way to what the
        # source declares (a header's `#define mutex_trylock(x) pthread_mutex_trylock(x)`)
        name, fn = element
        old = config.functions.get(name)
        return old is not None and not (old.origin is None and not fn.inferred and not fn.tentative)
    if field == "guarded":
        return element in getattr(config, "guarded", ())
    if field == "order":
        return element in getattr(config, "order_pairs", ())
    if field == "entry_points":
        return element in getattr(config, "entry_points", ())
    if field == "locks":
        return element in getattr(config, "locks", ())
    if field == "macros":
        return config.annotations.get(element[0]) == element[1]
    if field == "noreturn":
        return element in getattr(config, "noreturn", ())
    return False


def _words(field: str, element) -> Optional[tuple]:
    """The words one of which a file must contain for `element` to matter to it;
    None: it may matter to any file."""
    if field in ("functions", "macros"):
        return (element[0],)
    if field == "noreturn":  # matters where it is called
        return (element,)
    if field == "relied":  # confirms the file's own acquire function of that name
        return (element,)
    if field == "entry_points" and isinstance(element, str) and not _GLOB.search(element):
        return tuple(_WORD.findall(element)) or None
    if field == "guarded" and not getattr(element, "type", None):
        word = getattr(element, "field", None) or getattr(element, "variable", None)
        if isinstance(word, str) and _WORD.fullmatch(word):
            return (word,)
    return None


def infer(files: dict[str, FileContracts], config: Config,
          rescan: Callable[[list[str], Project], Mapping[str, FileContracts]],
          rounds: int = INFERENCE_ROUNDS) -> Project:
    """The project of `files` (path -> contracts; updated in place by the rounds).

    `rescan(paths, project)` reads those files again under the project's contracts
    (see `scan_tree`'s `extra`). Only files whose wrapper-sized functions call a
    function the project added in the previous round are read again."""
    project = Project(merge_files(files), config)
    # annotation macros a header defines: the files that use them are read again
    # under them first (their annotated prototypes are then exported)
    macros = {m for m, meaning in project.contracts.macros if config.annotations.get(m) != meaning}
    if macros:
        todo = [p for p, fc in files.items() if macros.intersection(fc.macro_calls) - {m for m, _ in fc.own.macros}]
        if todo:
            for p, fc in rescan(todo, project).items():
                files[p] = fc
            project = Project(merge_files(files), config)
    offered: set = set()
    for _ in range(rounds):
        names = project.function_names - offered
        offered |= names
        if not names:
            break
        todo = [p for p, fc in files.items()
                if names.intersection(fc.calls) - {n for n, _ in fc.own.functions}]
        if not todo:
            break
        changed = False
        for p, fc in rescan(todo, project).items():
            changed |= fc.exported != files[p].exported
            files[p] = fc
        if not changed:
            break
        project = Project(merge_files(files), config)
    return project


# -- what a file is analysed under -------------------------------------------------------

def fingerprint(config_fingerprint: str, relevant: Optional[Contracts], own: Optional[Contracts] = None) -> str:
    """The result cache's configuration fingerprint for a file analysed under
    `Engine.analyze` with `contracts=(own, relevant)`: the bare configuration's when it
    needs nothing from the project, else a hash of everything that decides it."""
    if not relevant and own is None:
        return config_fingerprint
    parts = (config_fingerprint, digest(relevant or Contracts()), digest(own) if own is not None else "")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


# -- a JSON codec (cache entries; never pickle: a cache directory may be shared) -------------

def digest(contracts: Contracts) -> str:
    if not contracts:
        return ""
    text = json.dumps(encode(contracts), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def encode(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"@": type(value).__name__, **{f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, (tuple, list)):
        return [encode(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return {"@set": sorted((encode(v) for v in value), key=repr)}
    if isinstance(value, Mapping):
        return {"@map": [[encode(k), encode(v)] for k, v in value.items()]}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cannot encode {type(value).__name__}")


def _classes() -> dict:
    from lockls import config as config_module
    from lockls.dataflow import contracts as contracts_module

    out = {}
    for module in (config_module, contracts_module):
        for name, obj in vars(module).items():
            if isinstance(obj, type) and dataclasses.is_dataclass(obj):
                out[name] = obj
    out["FileContracts"] = FileContracts
    return out


_CLASSES: Optional[dict] = None


def decode(data):
    """The inverse of `encode`, building only lockls' own dataclasses."""
    global _CLASSES
    if isinstance(data, list):
        return tuple(decode(v) for v in data)
    if isinstance(data, dict):
        if "@set" in data:
            return frozenset(decode(v) for v in data["@set"])
        if "@map" in data:
            return {decode(k): decode(v) for k, v in data["@map"]}
        if _CLASSES is None:
            _CLASSES = _classes()
        cls = _CLASSES.get(data.get("@"))
        if cls is None:
            raise ValueError(f"unknown type {data.get('@')!r}")
        return cls(**{k: decode(v) for k, v in data.items() if k != "@"})
    return data


def decode_file_contracts(data) -> Optional[FileContracts]:
    """A cached `FileContracts`, or None when `data` is not exactly one (a cache entry
    is data read back: a value of the wrong shape must not change what is reported)."""
    try:
        found = decode(data)
    except (ValueError, TypeError, KeyError):
        return None
    return found if isinstance(found, FileContracts) and _well_formed(found) else None


def _well_formed(fc: FileContracts) -> bool:
    from lockls.config import GuardedData, LockFunction, LockPattern
    from lockls.dataflow.ordergraph import OrderCycle, OrderEdge

    def strings(value) -> bool:
        return isinstance(value, tuple) and all(isinstance(v, str) for v in value)

    def of(value, kind) -> bool:
        return isinstance(value, tuple) and all(isinstance(v, kind) for v in value)

    def contracts(c) -> bool:
        return (isinstance(c, Contracts)
                and isinstance(c.functions, tuple)
                and all(isinstance(e, tuple) and len(e) == 2 and isinstance(e[0], str) and isinstance(e[1], LockFunction)
                        for e in c.functions)
                and of(c.guarded, GuardedData) and strings(c.entry_points) and of(c.locks, LockPattern)
                and isinstance(c.order, tuple) and all(isinstance(p, tuple) and len(p) == 3 for p in c.order)
                and isinstance(c.macros, tuple) and all(isinstance(m, tuple) and len(m) == 2 for m in c.macros)
                and strings(c.relied) and of(c.order_edges, OrderEdge) and of(c.cycles, OrderCycle)
                and strings(c.noreturn))

    return (contracts(fc.own) and contracts(fc.exported) and strings(fc.calls) and strings(fc.static)
            and strings(fc.macro_calls))
