"""`lockls init`: a starting `.lockls.toml` for a project, written from what its C
files use: the presets of the lock APIs they call, the project's own lock wrappers
(as lockls infers them from their bodies, suggested in comments), the annotation
macros it defines or uses, and the usual settings, commented out, each line
explained.

Owns the scan of the tree and the text of the file; what a key means is `config`'s,
what a wrapper does is the engine's inference (`engine.project.infer`), read back
rather than re-derived.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional, TextIO

from lockls.config import (CONFIG_FILE_NAMES, ConfigError, LockFunction, available_presets, config_from_text,
                           preset_functions, show_function, toml_key, toml_value)
from lockls.files import printable, read_bytes, walk_c_files

MAX_FILES = 2000  # C files read (in the walk's order): enough to see a project's habits, quick on a big tree
DOCS = "https://github.com/lockls/lockls/blob/main/docs/configuration.md"

# clang's thread-safety attributes (and their older names, and sparse's `context`): a
# macro defined to one of these is recognised without configuration
ATTRIBUTES = frozenset({
    "capability", "shared_capability", "lockable", "scoped_lockable", "reentrant_capability",
    "guarded_by", "pt_guarded_by", "guarded_var", "pt_guarded_var", "acquired_before", "acquired_after",
    "acquire_capability", "acquire_shared_capability", "release_capability", "release_shared_capability",
    "release_generic_capability", "try_acquire_capability", "try_acquire_shared_capability",
    "requires_capability", "requires_shared_capability", "locks_excluded", "assert_capability",
    "assert_shared_capability", "no_thread_safety_analysis", "exclusive_lock_function", "shared_lock_function",
    "unlock_function", "exclusive_trylock_function", "shared_trylock_function", "exclusive_locks_required",
    "shared_locks_required", "lock_returned", "context",
})
# the kernel's (and sparse's) spellings, understood without configuration
KERNEL_ANNOTATIONS = ("__acquires", "__acquires_shared", "__releases", "__releases_shared", "__must_hold",
                      "__must_hold_shared", "__must_not_hold", "__cond_acquires", "__cond_acquires_shared",
                      "__cond_releases", "__guarded_by", "__pt_guarded_by", "context_unsafe")
# Open vSwitch's macros (lib/compiler.h): what `[annotations]` maps them to when their
# definitions are not in the tree
OVS_ANNOTATIONS = {
    "OVS_ACQUIRES": "acquire", "OVS_ACQ_WRLOCK": "acquire", "OVS_ACQ_RDLOCK": "acquire-shared",
    "OVS_RELEASES": "release", "OVS_TRY_LOCK": "try-acquire", "OVS_TRY_WRLOCK": "try-acquire",
    "OVS_TRY_RDLOCK": "try-acquire-shared", "OVS_REQUIRES": "requires", "OVS_REQ_WRLOCK": "requires",
    "OVS_REQ_RDLOCK": "requires-shared", "OVS_EXCLUDED": "excludes", "OVS_GUARDED_BY": "guarded-by",
    "OVS_PT_GUARDED_BY": "pt-guarded-by", "OVS_GUARDED": "guarded-var", "OVS_PT_GUARDED": "pt-guarded-var",
    "OVS_ACQ_BEFORE": "acquired-before", "OVS_ACQ_AFTER": "acquired-after",
    "OVS_NO_THREAD_SAFETY_ANALYSIS": "no-analysis",
}
WRAPPER_ACTIONS = ("acquire", "release", "try-acquire")

# comments and string literals, blanked out (offsets and line numbers stay right)
_NOT_CODE = re.compile(rb'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
_BLANK = re.compile(rb"[^\n]")
_CALL = re.compile(rb"\b([A-Za-z_]\w*)\s*\(")
_OVS_WORD = re.compile(rb"\b(OVS_[A-Z_]+)\b")
_DEFINE = re.compile(rb"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)", re.M)
_ATTRIBUTE = re.compile(rb"__attribute__\s*\(\(\s*(\w+)")


@dataclass
class _Scan:
    """What the C files of the tree say, read as text (and their definitions, parsed)."""

    directory: str
    files: list = field(default_factory=list)  # absolute paths, in the walk's order
    more: bool = False  # more C files than MAX_FILES
    sources: dict = field(default_factory=dict)  # path -> bytes
    calls: Counter = field(default_factory=Counter)  # name -> calls in code (macros' too)
    body_calls: Counter = field(default_factory=Counter)  # name -> calls in function bodies
    ovs: Counter = field(default_factory=Counter)  # OVS_* macro -> uses
    defined: dict = field(default_factory=dict)  # function -> [(path, line)] of its definitions
    macros: set = field(default_factory=set)  # names #define'd in the tree
    attribute_macros: dict = field(default_factory=dict)  # macro -> (attribute, path, line)

    def where(self, path: str, line: int) -> str:
        return f"{printable(os.path.relpath(path, self.directory))}:{line}"


def _scan(directory: str, stderr: TextIO) -> _Scan:
    from lockls.engine.function import function_nodes
    from lockls.syntax import nodes as syntax

    scan = _Scan(directory)
    parser = syntax.new_parser()
    unreadable: list = []
    for path, _, _ in walk_c_files(os.path.abspath(directory), directory, unreadable):
        if len(scan.files) == MAX_FILES:
            scan.more = True
            break
        try:
            source = read_bytes(path)
        except OSError as error:
            print(f"lockls: warning: {printable(path)}: not read: {error.strerror or error}", file=stderr)
            continue
        scan.files.append(path)
        scan.sources[path] = source
        code = _NOT_CODE.sub(lambda m: _BLANK.sub(b" ", m.group()), source)
        scan.calls.update(name.decode() for name in _CALL.findall(code))
        scan.ovs.update(name.decode() for name in _OVS_WORD.findall(code))
        for m in _DEFINE.finditer(code):
            name = m.group(1).decode()
            scan.macros.add(name)
            end = m.end()
            while True:  # the directive's logical line, over `\`-continued lines
                newline = code.find(b"\n", end)
                if newline < 0 or code[:newline].rstrip(b" \t\r")[-1:] != b"\\":
                    break
                end = newline + 1
            body = code[m.end(): newline if newline >= 0 else len(code)]
            attribute = _ATTRIBUTE.search(body)
            if attribute is not None and attribute.group(1).decode().strip("_") in ATTRIBUTES:
                line = code.count(b"\n", 0, m.start()) + 1
                scan.attribute_macros.setdefault(name, (attribute.group(1).decode().strip("_"), path, line))
        for fn, body in function_nodes(parser.parse(source).root_node, source):
            scan.defined.setdefault(syntax.function_name(fn, source), []).append((path, fn.start_point[0] + 1))
            if body is not None:
                scan.body_calls.update(name.decode() for name in _CALL.findall(code, body.start_byte, body.end_byte))
    for where, why in unreadable:
        print(f"lockls: warning: {printable(where)}: cannot read this directory ({why}); its files are not scanned",
              file=stderr)
    return scan


def _presets(scan: _Scan) -> dict[str, list[tuple[str, int]]]:
    """preset -> [(its lock function, calls)] the tree calls (most called first), for the
    presets whose functions the project calls and does not define itself."""
    found = {}
    for preset in available_presets():
        used = [(name, scan.calls[name]) for name, fn in preset_functions(preset).items()
                if (fn.action != "call" or fn.steps or fn.cases) and scan.calls[name]
                and name not in scan.defined and name not in scan.macros]
        if used:
            found[preset] = sorted(used, key=lambda item: (-item[1], item[0]))
    return found


@dataclass
class _Wrapper:
    name: str
    function: LockFunction
    static: bool  # defined `static` (in each file defining it)


def _wrappers(scan: _Scan, config, stderr: TextIO) -> tuple[list[_Wrapper], tuple]:
    """The project's functions that take, try or drop a lock for their callers, as the
    engine infers them, that some function calls; and the capitalised macros called
    outside function bodies (where annotation macros are used)."""
    from lockls.engine.project import infer, scan_source

    try:
        contracts = {path: scan_source(source, path, config) for path, source in scan.sources.items()}

        def rescan(paths, project):
            return {p: scan_source(scan.sources[p], p, config, own=contracts[p].own,
                                   extra=project.relevant(scan.sources[p], contracts[p].own, contracts[p].static,
                                                          path=p))
                    for p in paths}

        project = infer(contracts, config, rescan)
    except Exception as error:  # an analysis bug must not cost the user the rest of the file
        print(f"lockls: warning: the project's lock wrappers were not inferred: {type(error).__name__}: {error}",
              file=stderr)
        return [], ()
    called = {name for fc in contracts.values() for name in fc.calls}
    found: dict[str, _Wrapper] = {name: _Wrapper(name, fn, False) for name, fn in project.contracts.functions}
    for fc in contracts.values():
        for name, fn in fc.own.functions:
            if name in fc.static:
                found.setdefault(name, _Wrapper(name, fn, True))
    wrappers = [w for name, w in sorted(found.items())
                if w.function.inferred and w.function.action in WRAPPER_ACTIONS and name in called
                and name not in config.functions]
    macro_calls = tuple(sorted({m for fc in contracts.values() for m in fc.macro_calls}))
    return wrappers, macro_calls


def _guessed_meaning(macro: str) -> Optional[str]:
    """What a project's annotation macro probably means, from its name (a suggestion only)."""
    name = macro.upper()
    shared = "-shared" if any(w in name for w in ("SHARED", "RDLOCK", "READER")) else ""
    if "BEFORE" in name and ("ACQ" in name or "LOCK" in name):
        return "acquired-before"
    if "AFTER" in name and ("ACQ" in name or "LOCK" in name):
        return "acquired-after"
    if "PT_GUARDED_BY" in name:
        return "pt-guarded-by"
    if "GUARDED_BY" in name:
        return "guarded-by"
    if "TRY" in name and ("LOCK" in name or "ACQ" in name):
        return "try-acquire" + shared
    if "EXCLUDE" in name or "NOT_HOLD" in name:
        return "excludes"
    if "REQUIRE" in name or "MUST_HOLD" in name:
        return "requires" + shared
    if "ACQUIRE" in name:
        return "acquire" + shared
    if "RELEASE" in name:
        return "release" + shared
    return None


def _commented(lines: list[str]) -> list[str]:
    return ["# " + line for line in lines]


def render(scan: _Scan, presets: dict, wrappers: list, macro_calls: tuple) -> tuple[str, dict]:
    """The text of the configuration file, and what it says (for the summary printed)."""
    from lockls.dataflow.summaries import describe

    said: dict = {"presets": list(presets), "wrappers": [], "suggested": [], "annotations": []}
    count = f"the first {len(scan.files):,} C files" if scan.more else \
        f"{len(scan.files):,} C file{'s' if len(scan.files) != 1 else ''}"
    out = [
        f"# lockls configuration, written by `lockls init` from {count} of this directory.",
        f"# Every key is explained in docs/configuration.md ({DOCS});",
        "# `lockls check --show-config` prints the configuration in effect, presets spelt out.",
        "",
    ]
    if presets:
        out.append("# The lock APIs the code calls (a preset teaches lockls their functions):")
        for preset, used in presets.items():
            shown = ", ".join(f"{name} ({calls} call{'s' if calls != 1 else ''})" for name, calls in used[:4])
            out.append(f"#   {preset}: {shown}{', ...' if len(used) > 4 else ''}")
        others = [p for p in available_presets() if p not in presets]
        if others:
            out.append(f"# Not used: {', '.join(others)}. Add one if the code calls its functions through "
                       "headers outside this tree.")
        out.append(f"presets = {toml_value(list(presets))}")
    else:
        out += ["# No call of a known lock API (pthread, C11, Linux, GLib, QEMU, libvirt) was found: every",
                "# preset stays on. To choose, uncomment and keep those the code uses:",
                f"# presets = {toml_value(list(available_presets()))}"]
    out += [
        "",
        "[rules]",
        "# Every rule is on, at its default severity (`lockls rule NAME` explains one). To change that:",
        '# ignore = ["lock-order"]                 # rules not to run',
        '# severity = { lock-leak = "error" }      # "error", "warning" or "info"',
        "",
        "[files]",
        "# Globs relative to this file; what .gitignore ignores is left out already.",
        '# include = ["src/**"]                    # only these files',
        '# exclude = ["third_party", "**/*_generated.c"]',
        "",
        "# Rules not reported in some files:",
        "# [per-file-ignores]",
        '# "tests/**" = ["lock-leak"]',
        "",
        "# Callbacks that start with no lock held (a driver's method table, thread start routines,",
        "# event handlers): their unlocks and guarded uses are checked as seen from nowhere.",
        "# [entry-points]",
        '# functions = ["*_ioctl"]',
        '# tables = ["struct file_operations"]',
    ]
    known = [w for w in wrappers if not w.function.tentative and not w.static]
    tentative = [w for w in wrappers if w.function.tentative and not w.static]
    static = [w for w in wrappers if w.static]
    definitions = scan.defined

    def header(w: _Wrapper) -> str:
        where = definitions.get(w.name, [])
        place = scan.where(*where[0]) if where else "a header"
        if len(where) > 1:
            place += f" and {len(where) - 1} other definition{'s' if len(where) > 2 else ''}"
        calls = scan.body_calls[w.name]
        return f"# {w.name} ({place}; {calls} call{'s' if calls != 1 else ''}): {describe(w.function)}"

    if known:
        out += ["", "# The project's lock wrappers. lockls recognises them from their bodies, without an entry;",
                "# uncomment one to state it here (an entry wins over what the body says):"]
        for w in known:
            out += ["", header(w)] + _commented(show_function(w.name, _stated(w.function)))
            said["wrappers"].append(w.name)
    if tentative:
        out += ["", "# These return holding a lock on every path, but nothing says they are meant to (no caller",
                "# releases it, no release function pairs with them), so lockls does not count them as lock",
                "# functions. If they are, uncomment their entry:"]
        for w in tentative:
            out += ["", header(w)] + _commented(show_function(w.name, _stated(w.function)))
            said["suggested"].append(w.name)
    if static:
        out += [""] + textwrap.wrap("Static lock wrappers, recognised in their own file (an entry here would "
                                    f"apply to every file): {', '.join(w.name for w in static)}",
                                    width=88, initial_indent="# ", subsequent_indent="# ", break_on_hyphens=False)
        said["wrappers"] += [w.name for w in static]
    out += _annotation_lines(scan, macro_calls, said)
    return "\n".join(out) + "\n", said


def _stated(fn: LockFunction) -> LockFunction:
    """An inferred summary as a configuration entry states it: its action, lock, kind and outcome."""
    return LockFunction(name=fn.name, action=fn.action, lock=fn.lock, path=fn.path, shared=fn.shared,
                        success=fn.success, failure=fn.failure, kind=fn.kind, unheld_ok=fn.unheld_ok, when=fn.when)


def _annotation_lines(scan: _Scan, macro_calls: tuple, said: dict) -> list[str]:
    out: list[str] = []
    recognised = sorted(scan.attribute_macros.items())
    kernel = [name for name in KERNEL_ANNOTATIONS if scan.calls[name]]
    if recognised or kernel:
        out += ["", "# Annotations in the source, recognised without configuration:"]
        out += [f"#   {name} ({scan.where(path, line)}): {attribute}" for name, (attribute, path, line) in recognised]
        if kernel:
            out.append(f"#   the kernel's (and sparse's) {', '.join(kernel)}")
    ovs = {name: meaning for name, meaning in OVS_ANNOTATIONS.items()
           if scan.ovs[name] and name not in scan.attribute_macros}
    guessed = {name: meaning for name in macro_calls
               if name not in scan.macros and name not in OVS_ANNOTATIONS and name not in KERNEL_ANNOTATIONS
               and (meaning := _guessed_meaning(name)) is not None}
    if ovs or guessed:
        out += ["", "# Annotation macros used but not defined in this tree: what they mean."]
        if ovs:
            out.append("# Open vSwitch's (lib/compiler.h):")
        out.append("[annotations]")
        out += [f"{toml_key(name)} = {toml_value(meaning)}" for name, meaning in ovs.items()]
        if guessed:
            out.append("# guessed from their names; uncomment those that are right:")
            out += [f"# {toml_key(name)} = {toml_value(meaning)}" for name, meaning in sorted(guessed.items())]
        said["annotations"] = list(ovs)
    return out


def run_init(path: str, force: bool, stdout: TextIO, stderr: TextIO) -> int:
    """`lockls init [PATH] [--force]`: write a starting configuration in the directory
    PATH; exit status 0, or 2 when PATH is no directory, a configuration is there
    already (without `force`) or the file cannot be written."""
    directory = path or "."
    if not os.path.isdir(directory):
        print(f"lockls: error: {printable(directory)}: not a directory", file=stderr)
        return 2
    existing = [name for name in CONFIG_FILE_NAMES if os.path.lexists(os.path.join(directory, name))]
    target = os.path.join(directory, existing[0] if existing else CONFIG_FILE_NAMES[0])
    shown = printable(os.path.normpath(target))
    if existing and not force:
        print(f"lockls: error: {shown} exists already; `lockls init --force` replaces it", file=stderr)
        return 2
    scan = _scan(directory, stderr)
    if len(scan.files) > 200:  # (reading a big tree's summaries takes a while: say what is going on)
        print(f"lockls: reading {len(scan.files):,} C files for their lock wrappers...", file=stderr)
    presets = _presets(scan)
    config = config_from_text(f"presets = {toml_value(list(presets))}\n" if presets else "", target)
    wrappers, macro_calls = _wrappers(scan, config, stderr) if scan.sources else ([], ())
    text, said = render(scan, presets, wrappers, macro_calls)
    try:
        config_from_text(text, target)  # what init writes must load
    except ConfigError as error:
        print(f"lockls: error: internal error, the configuration written would not load:\n{error}", file=stderr)
        return 2
    try:
        with open(target, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as error:
        print(f"lockls: error: {shown}: cannot write: {error.strerror or error}", file=stderr)
        return 2
    count = f"the first {len(scan.files):,}" if scan.more else f"{len(scan.files):,}"
    print(f"Wrote {shown} (from {count} C file{'s' if len(scan.files) != 1 else ''}):", file=stdout)
    print(f"  presets: {', '.join(said['presets']) or 'all (no known lock API called)'}", file=stdout)
    if said["wrappers"]:
        print(f"  lock wrappers recognised: {', '.join(said['wrappers'])}", file=stdout)
    if said["suggested"]:
        print(f"  lock functions to confirm (commented out): {', '.join(said['suggested'])}", file=stdout)
    if said["annotations"]:
        print(f"  annotation macros mapped: {', '.join(said['annotations'])}", file=stdout)
    where = "" if os.path.abspath(directory) == os.getcwd() else f" {printable(directory)}"
    print(f"Next: run `lockls check{where}`, and read {shown}: each setting is explained there.", file=stdout)
    return 0
