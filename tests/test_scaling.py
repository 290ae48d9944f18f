"""Shapes that once took minutes, gigabytes or the recursion limit (issue: hostile input).

Nothing here is timed. What is asserted is structural and deterministic: a function
past its work budget is skipped with a reason (`[limits] function-steps`); a path
class keeps a bounded trail and bounded facts; deep nesting is analysed, not
skipped; a local name is searched for once. Two inputs whose old cost grew with
the square of their size (a long word beside a guarded field, a header of table
rows) run in a child process under a CPU-time limit a hundred times what they
need now and a fraction of what they took before (minutes to hours), so the old
code fails by being killed, not by a stopwatch. `bench/scaling.py` measures them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from lockls.config import default_config
from lockls.config.load import ConfigError, load_config
from lockls.dataflow import facts as F
from lockls.dataflow import lockstate
from lockls.engine import function
from lockls.engine.driver import analyze_source
from lockls.main import main
from lockls.syntax import nodes as syntax

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import scaling  # noqa: E402  (the bench's generators: one source of the shapes)

CONFIG = default_config()


def _function(source: bytes):
    tree = syntax.new_parser().parse(source)
    (fn, body), = function.function_nodes(tree.root_node)
    return fn, body


def _analyse(source: bytes, config=CONFIG):
    fn, body = _function(source)
    return function.analyze_function(fn, body, source, config)


def _rules(source: str, config=CONFIG):
    result = analyze_source(source.encode(), "shape.c", config)
    assert not result.skipped, result.skipped
    return sorted((f.rule, f.span.start.line + 1) for f in result.findings)


# -- the work budget ----------------------------------------------------------------

def test_a_function_over_its_budget_is_skipped_with_the_reason(tmp_path, capsys):
    """A switch taking a different lock in each case needs work that grows with the square
    of its cases (500 cases: 55 s): past the budget it is skipped, and -v, the summary
    line and the editor say why. (The default budget is far above any real function's
    needs; a small one here keeps the test quick.)"""
    (tmp_path / ".lockls.toml").write_text("[limits]\nfunction-steps = 20000\n")
    path = tmp_path / "switch.c"
    path.write_text(scaling.switch_cases(60))
    assert main(["--check", "--no-cache", "-v", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "1 function skipped" in err
    assert (f"{path}: skipped f (line 62): over its budget of 20,000 steps (`[limits] function-steps` raises it)"
            in err)

    from lsprotocol import types as T

    from lockls.lsp.diagnostics import document_diagnostics
    from lockls.lsp.session import Session

    session = Session()
    session.open(path.as_uri(), path.read_text(), 1, "c")
    _, diagnostics = document_diagnostics(session, path.as_uri())
    assert [(d.severity, d.range.start.line, d.message) for d in diagnostics] == [
        (T.DiagnosticSeverity.Information, 61,
         "lockls could not analyse `f`: over its budget of 20,000 steps (`[limits] function-steps` raises it)")]


def test_the_budget_is_configurable(tmp_path):
    source = scaling.cleanup_ladder(12)
    (tmp_path / ".lockls.toml").write_text("[limits]\nfunction-steps = 500\n")
    tight = load_config(str(tmp_path / ".lockls.toml"))
    assert tight.max_function_steps == 500 and CONFIG.max_function_steps == 4_000_000
    assert tight.fingerprint() != CONFIG.fingerprint()  # cached results depend on it
    assert _analyse(source.encode(), tight).skipped.startswith("over its budget of 500 steps")
    assert _analyse(source.encode()).skipped is None


def test_the_budget_must_be_a_positive_integer(tmp_path):
    for bad, got in (("0", "0"), ("-3", "-3"), ('"lots"', '"lots"'), ("1.5", "1.5")):
        (tmp_path / ".lockls.toml").write_text(f"[limits]\nfunction-steps = {bad}\n")
        try:
            load_config(str(tmp_path / ".lockls.toml"))
        except ConfigError as e:
            assert (e.line, e.key, e.message) == (2, "limits.function-steps", f"expected a positive integer, got {got}")
        else:
            raise AssertionError(f"function-steps = {bad} was accepted")


# -- bounded states --------------------------------------------------------------------

def test_a_path_through_thousands_of_branches_keeps_a_bounded_trail():
    """5,000 `if (e) goto out;` under a lock kept every branch in every state (1.2 GB)."""
    result = _analyse(scaling.forward_gotos(300).encode())
    assert result.skipped is None
    longest = max(len(c.trail) for state in result.states for c in state)
    assert longest == lockstate.MAX_TRAIL


def test_a_long_else_if_chain_keeps_bounded_facts():
    """2,000 `else if (c == N)` kept 2,000 facts in every state (quadratic time and memory)."""
    result = _analyse(scaling.else_if_chain(300).encode())
    assert result.skipped is None
    assert max(len(c.facts) for state in result.states for c in state) <= F.MAX_FACTS


def test_the_latest_branches_explain_a_finding_past_the_trail_bound():
    body = "".join(f"    if (a[{i}] > 7)\n        a[{i}] = 0;\n" for i in range(200))
    source = ("#include <pthread.h>\nstatic pthread_mutex_t m;\nint f(int *a, int err)\n{\n"
              f"{body}    if (err)\n        pthread_mutex_lock(&m);\n    return 0;\n}}\n")
    result = analyze_source(source.encode(), "trail.c", CONFIG)
    assert [(f.rule, f.span.start.line + 1, str(f.message)) for f in result.findings] == [
        ("lock-leak", 407, "`&m` taken at line 406 may still be held at this return when `err` at line 405 (held: &m)")]


def test_a_local_name_is_searched_for_once():
    """Every lock call asked whether its lock is a local alias, each time searching the
    whole body (1,600 `lock(&m)`: 1,600 scans of a 16,000-statement body)."""
    fn, body = _function(scaling.lock_pairs(200).encode())
    aliases = function.LazyAliases(body, scaling.lock_pairs(200).encode())
    compiled = []
    real = re.compile
    function.re.compile = lambda *a, **k: compiled.append(a) or real(*a, **k)
    try:
        assert not any("m" in aliases for _ in range(20))
    finally:
        function.re.compile = real
    assert len(compiled) == 1


# -- deep nesting ----------------------------------------------------------------------

def test_deep_nesting_is_analysed_not_skipped():
    """Past Python's recursion limit the builders run on a deep stack."""
    assert _rules(scaling.nested_ifs(400)) == [("lock-leak", 406), ("lock-leak", 408)]  # both returns
    assert _rules(scaling.else_if_chain(600)) == [("lock-leak", 606)]  # the last return
    assert _rules(scaling.and_chain(1500)) == [("lock-leak", 7)]
    assert sys.getrecursionlimit() < function.DEEP_RECURSION_LIMIT  # put back


# -- formerly quadratic text scans, killed by a CPU limit if they come back ------------

CHILD = r"""
import json, resource, sys
resource.setrlimit(resource.RLIMIT_CPU, (60, 60))
sys.path.insert(0, sys.argv[1])
import scaling
from lockls.config import default_config
from lockls.engine.driver import analyze_source
source = getattr(scaling, sys.argv[2])(int(sys.argv[3])).encode()
result = analyze_source(source, sys.argv[4], default_config())
print(json.dumps({"functions": result.functions, "skipped": result.skipped,
                  "findings": [[f.rule, f.span.start.line] for f in result.findings]}))
"""


def _in_child(shape: str, size: int, path: str) -> dict:
    bench = str(Path(__file__).resolve().parent.parent / "bench")
    done = subprocess.run([sys.executable, "-c", CHILD, bench, shape, str(size), path], capture_output=True,
                          text=True, env=dict(os.environ), timeout=300)
    assert done.returncode == 0, f"killed or failed ({done.returncode}): {done.stderr[-500:]}"
    return json.loads(done.stdout)


def test_a_long_word_beside_a_guarded_field():
    """The field-name pattern tried a long word from each of its letters (20 KB: 15 s;
    this one, 400 KB, would take hours)."""
    got = _in_child("long_word", 400_000, "word.c")
    assert got == {"functions": 1, "skipped": [], "findings": [["unguarded-access", 9]]}  # f requires no lock


def test_a_header_of_table_rows():
    """Each top-level ERROR re-ran the functions query from the root (8,000 rows: 53 s;
    these 40,000, about 20 minutes)."""
    got = _in_child("table_rows", 40_000, "rows.h")
    assert got == {"functions": 0, "skipped": [], "findings": []}


def test_an_open_attribute_before_a_run_of_semicolons():
    """The pattern for `__attribute__((..., noreturn))` tried every split of the run
    between its two `[^()]*` (100,000 semicolons: 29 s; these 400,000, about 8 minutes)."""
    got = _in_child("open_attribute", 400_000, "attribute.c")
    assert got == {"functions": 1, "skipped": [], "findings": [["lock-leak", 7]]}  # (0-based: the closing brace)


# -- long editor sessions ------------------------------------------------------------

def test_kept_results_are_bounded_by_weight():
    """Every edited version of a function was kept with its CFG and states (a function
    of 1,000 early returns: about 40 MB a keystroke) up to 20,000 entries."""
    from lockls.engine.driver import Engine, result_weight

    engine = Engine()
    engine.functions.max_weight = 20_000
    source = scaling.early_returns(300)
    weights = []
    for i in range(12):  # typing inside the function: a new version each time
        text = source.replace("return -1;", f"return -{i + 2};").encode()
        engine.analyze("typed.c", text, CONFIG)
        weights.append(engine.functions.weight)
    one = result_weight(next(iter(engine.functions._entries.values()))[0].result)
    assert one > 1_500  # a heavy function: the bound, not the entry count, decides
    assert max(weights) <= 20_000 and len(engine.functions) == 20_000 // one


def test_a_document_of_more_functions_than_the_cache_is_not_analysed_again_per_keystroke():
    """Past the cache's capacity every keystroke analysed every function again (a document
    of more than 20,000 functions: minutes per keystroke)."""
    from lockls.engine.driver import Engine

    engine = Engine(function_capacity=50)
    source = scaling.many_functions(120)
    memo: dict = {}
    for version in range(3):
        text = source.replace("int f7(int *a)\n{\n", "int f7(int *a)\n{\n" + "    a[1]++;\n" * version)
        before = engine.functions.misses
        engine.analyze("many.c", text.encode(), CONFIG, memo=memo, edited=None)
        analysed = engine.functions.misses - before
    assert analysed == 1  # the edited function only
    engine.release_document("many.c")
    assert len(engine.functions) == 50  # closed: back to the bound


def _module_caches():
    """Every cache lockls keeps outside an engine (`lru.Lru` at module level)."""
    import importlib
    import pkgutil

    import lockls
    from lockls.lru import Lru

    for info in pkgutil.walk_packages(lockls.__path__, "lockls."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if isinstance(value, Lru):
                yield f"{info.name}.{name}", value


def _texts_in(key, depth: int = 0):
    if isinstance(key, bytes):  # (a text of the source; a name may be long, and is kept)
        if len(key) > 200:
            yield key[:40]
    elif isinstance(key, (tuple, frozenset)) and depth < 3:
        for part in key:
            yield from _texts_in(part, depth + 1)


def test_caches_keyed_by_a_text_keep_its_digest_not_the_text():
    """The caches of summaries, called names, macro definitions, declarations outside
    bodies and recovered definitions were keyed by the texts themselves: every version
    of a function or of a file's text outside bodies typed in a long session stayed in
    memory (a 5,000-line file: +100 MB over 3,000 keystrokes, bench/soak.py)."""
    long_body = "".join(f"    counter += {i};\n" for i in range(40))
    source = ("#include <pthread.h>\npthread_mutex_t m;\nint counter;\n"
              "static void take(void) { pthread_mutex_lock(&m); }\n"
              "void f(int x)\n{\n    take();\n" + long_body + "    if (x) return;\n    pthread_mutex_unlock(&m);\n}\n"
              "int g(int a\n{ return a; }\n"  # a definition the parser recovers alone
              "void h(void)\n{\n    pthread_mutex_lock(&m);\n" + long_body + "    pthread_mutex_unlock(&m);\n}\n"
              "static void *worker(void *a) { counter++; return a; }\n"
              "void start(void)\n{\n    pthread_t t;\n" + long_body + "    pthread_create(&t, 0, worker, 0);\n}\n")
    for _, cache in _module_caches():
        cache.clear()
    assert analyze_source(source.encode(), "texts.c", CONFIG).findings
    held = {name: list(_texts_in(tuple(cache._entries))) for name, cache in _module_caches()}
    assert {name: texts for name, texts in held.items() if texts} == {}


def test_a_cache_bounded_by_weight_forgets_the_oldest_entries_past_it():
    from lockls.lru import Lru

    cache = Lru(100, max_weight=1_000, weigh=lambda key, value: len(value))
    for i in range(10):
        cache.get(i, lambda: "x" * 300)
    assert len(cache) == 3 and cache.weight == 900 and list(cache._entries) == [7, 8, 9]
    cache.get(7, lambda: "unused")  # a hit: the most recent now
    cache.get(10, lambda: "y" * 600)
    assert list(cache._entries) == [7, 10] and cache.weight == 900
    cache.get(11, lambda: "z" * 5_000)  # heavier than the bound alone: kept, alone
    assert list(cache._entries) == [11]
    cache.clear()
    assert cache.weight == 0 and len(cache) == 0


def test_where_a_leaked_lock_is_stored_is_asked_once_per_lock(monkeypatch):
    """The lock-leak rule searched the whole body for every return that leaks (2,000
    leaking returns: 20 s, found by bench/fuzz.py)."""
    asked = []
    real = function._stored_elsewhere
    monkeypatch.setattr(function, "_stored_elsewhere", lambda key, body, source: asked.append(key) or real(key, body, source))
    result = _analyse(scaling.leaking_returns(40).encode())
    assert len([v for v in result.findings if v.rule == "lock-leak"]) == 40
    assert asked == ["m"]


def test_nested_preprocessor_branches_in_a_body():
    """Each nested `#if` searched its whole range for lock calls, and empty blocks were
    followed to the end of their chain once per edge (4,000 levels: 20 s, found by
    bench/fuzz.py; these 9,000 would take minutes)."""
    got = _in_child("nested_preproc", 9_000, "preproc.c")
    assert got == {"functions": 1, "skipped": [], "findings": []}

