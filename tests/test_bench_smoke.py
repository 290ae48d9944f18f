"""Smoke tests for the benchmark tools in bench/ (fast: no benchmark is run).

The generator must be deterministic, hit the requested size, and write C that
tree-sitter-c parses without a single ERROR or MISSING node (a parse error would
make the benchmark measure error recovery instead of real code). check_speed's
report formatting is checked on made-up timings.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys

import pytest
import tree_sitter_c
from tree_sitter import Language, Parser

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", os.path.join(BENCH, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generate():
    return _load("generate")


@pytest.fixture(scope="module")
def check_speed():
    return _load("check_speed")


def _read_tree(directory: str) -> dict[str, bytes]:
    return {name: open(os.path.join(directory, name), "rb").read() for name in sorted(os.listdir(directory))}


def _bad_nodes(tree) -> list:
    bad, stack = [], [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            bad.append((node.type, node.start_point))
        elif node.has_error:
            stack.extend(node.children)
    return bad


def test_same_seed_same_bytes(generate, tmp_path):
    generate.generate_corpus(str(tmp_path / "a"), lines=3000, files=3, seed=7)
    generate.generate_corpus(str(tmp_path / "b"), lines=3000, files=3, seed=7)
    generate.generate_corpus(str(tmp_path / "c"), lines=3000, files=3, seed=8)
    a, b, c = (_read_tree(str(tmp_path / d)) for d in "abc")
    assert a == b
    assert a != c


@pytest.mark.parametrize("lines, files", [(6000, 4), (2000, 1)])
def test_corpus_size_and_parse(generate, tmp_path, lines, files):
    summary = generate.generate_corpus(str(tmp_path), lines=lines, files=files, seed=1)
    sources = _read_tree(str(tmp_path))
    assert len(sources) == files == summary["files"]
    total = sum(src.count(b"\n") for src in sources.values())
    assert abs(total - lines) <= lines * 0.10
    parser = Parser(Language(tree_sitter_c.language()))
    for name, src in sources.items():
        tree = parser.parse(src)
        assert not tree.root_node.has_error, (name, _bad_nodes(tree)[:5])


def test_single_file(generate, tmp_path):
    path = tmp_path / "big.c"
    generate.main(["--single", str(path), "--lines", "4000", "--seed", "3"])
    src = path.read_bytes()
    assert abs(src.count(b"\n") - 4000) <= 400
    tree = Parser(Language(tree_sitter_c.language())).parse(src)
    assert not tree.root_node.has_error, _bad_nodes(tree)[:5]


def test_bug_markers_are_well_formed(generate, tmp_path):
    generate.generate_corpus(str(tmp_path), lines=20000, files=5, seed=1)
    rules = set()
    for src in _read_tree(str(tmp_path)).values():
        for m in re.finditer(rb"/\* BUG: ([a-z-]+) \*/", src):
            rules.add(m.group(1).decode())
    assert rules and rules <= {"lock-leak", "double-lock", "unlock-unheld"}


def test_report_formatting(check_speed):
    M = check_speed.Measurement
    parse = M("parse-only", [0.50, 0.40, 0.60])
    analysis = M("analysis", [0.8, 0.9, 0.7], note="12 findings")
    cold = M("check jobs 1", [1.2, 1.0, 1.1])
    warm = M("check warm", [0.05, 0.04, 0.06])
    jobs2 = M("check jobs 2", error="exit 2: no such option")
    startup = M("start-up", [0.12] * 5, comparable=False)

    table = check_speed.format_table([parse, analysis, cold, warm, jobs2, startup], parse)
    rows = table.splitlines()
    assert rows[0] == "| measurement | median | vs parse-only |"
    assert rows[2] == "| parse-only | 500 ms | 1.0× |"
    assert rows[3] == "| analysis | 800 ms (12 findings) | 1.6× |"
    assert rows[4] == "| check jobs 1 | 1.10 s | 2.2× |"
    assert "failed: exit 2" in rows[6]
    assert rows[7] == "| start-up | 120 ms | — |"

    targets = check_speed.format_targets(parse, analysis, cold, warm, startup)
    assert "analysis / parse-only: 1.6×" in targets and "PASS" in targets.splitlines()[0]
    assert "cold / warm cache: 22.0×" in targets and "PASS" in targets.splitlines()[1]
    assert "120 ms" in targets.splitlines()[2] and targets.splitlines()[2].endswith("PASS")

    # Without the in-process analysis, the CLI's time stands in for it.
    missing = M("analysis", error="cannot import")
    fallback = check_speed.format_targets(parse, missing, cold, warm, M("s", error="x"))
    assert "2.2×" in fallback and "FAIL" in fallback.splitlines()[0]
    assert fallback.splitlines()[2].endswith("n/a")
