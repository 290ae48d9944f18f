"""The package layout is the architecture: each layer imports only the layers below it.

    files, lru, catalogue      (shared utilities)
    config                     what a configuration says, and reading it
    syntax                     tree-sitter: nodes, queries, annotations, declarations, suppressions
    ir                         events, messages, the CFG model, violations
    lowering                   C syntax -> lock events and CFGs
    dataflow                   path facts, lock states, the fixpoint, contracts, summaries, the lock graph
    rules                      one module per rule
    report                     findings, positions, related places, output formats, rule pages
    engine                     analysing functions and files, projects, the result cache
    cli | lsp                  the two front-ends (never importing each other)
    main, __main__             the `lockls` command: `--check` or the language server

Every import counts, also those inside functions: a function-local import is
still a dependency. Imports under `if TYPE_CHECKING:` are for type checkers only
(the server's feature modules name the session they are handed).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "server" / "lockls"

ORDER = ["base", "config", "syntax", "ir", "lowering", "dataflow", "rules", "report", "engine", "front", "entry"]
LAYER = {"files": "base", "lru": "base", "catalogue": "base", "__init__": "base", "main": "entry", "__main__": "entry",
         "config": "config", "syntax": "syntax", "ir": "ir", "lowering": "lowering", "dataflow": "dataflow",
         "rules": "rules", "report": "report", "engine": "engine", "cli": "front", "lsp": "front"}
# where third-party packages may be imported
TREE_SITTER = {"syntax", "lowering", "engine", "lsp"}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        yield ".".join(("lockls",) + parts), parts, path


def _imports(path: Path, module: str, is_package: bool):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                 and getattr(block.test, "id", None) == "TYPE_CHECKING" for n in ast.walk(block)}
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            yield name, node.lineno
            for alias in node.names:  # `from lockls.engine import function`
                yield f"{name}.{alias.name}", node.lineno


def _top(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] != "lockls":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _edges():
    for module, parts, path in _modules():
        for name, line in _imports(path, module, parts[-1] == "__init__"):
            yield module, parts, path, name, line


def test_every_module_has_a_layer():
    assert [m for m, parts, _ in _modules() if parts[0].removesuffix(".py") not in LAYER] == []


def test_each_layer_imports_only_layers_below_it():
    wrong = []
    for module, parts, path, name, line in _edges():
        target = _top(name)
        if target is None or target not in LAYER:
            continue
        here, there = ORDER.index(LAYER[parts[0]]), ORDER.index(LAYER[target])
        same_package = target == parts[0]
        if there > here or (there == here and not same_package and LAYER[parts[0]] not in ("base", "entry")):
            wrong.append(f"{path.relative_to(PACKAGE)}:{line}: {module} imports {name}")
    assert wrong == []


def test_no_import_cycles_between_modules():
    graph: dict[str, set[str]] = {}
    known = {m for m, _, _ in _modules()}
    for module, _, _, name, _ in _edges():
        if name in known and name != module:
            graph.setdefault(module, set()).add(name)
    # a package's __init__ re-exporting its modules is not a cycle of meaning
    graph = {m: {n for n in deps if not (n.endswith("__init__") or m.startswith(n + "."))}
             for m, deps in graph.items()}
    cycles, state = [], {}

    def visit(m, stack):
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n, stack)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [])
    assert cycles == []


def test_third_party_packages_stay_in_their_layers():
    wrong = []
    for module, parts, path, name, line in _edges():
        root = name.split(".")[0]
        if root in ("tree_sitter", "tree_sitter_c") and parts[0] not in TREE_SITTER:
            wrong.append(f"{path.relative_to(PACKAGE)}:{line}: {name}")
        if root in ("pygls", "lsprotocol") and parts[0] != "lsp":
            wrong.append(f"{path.relative_to(PACKAGE)}:{line}: {name}")
    assert wrong == []


def test_the_front_ends_do_not_import_each_other():
    wrong = [f"{path.relative_to(PACKAGE)}:{line}: {name}" for module, parts, path, name, line in _edges()
             if {parts[0], _top(name)} == {"cli", "lsp"}]
    assert wrong == []
