"""Tests for bench/realworld.py on a tiny tree of our own (no real tree needed).

The bench runs the real `lockls --check` as a subprocess on two small C files,
one with a mutex leaked on an early return, and must report the counts lockls
printed, write the findings and the summary, and compare two output
directories finding by finding.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import textwrap

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "realworld.py")

LEAKY = """\
#include <pthread.h>

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static int table[16];

int table_get(int i)
{
    int v;

    pthread_mutex_lock(&table_lock);
    if (i < 0 || i >= 16)
        return -1;
    v = table[i];
    pthread_mutex_unlock(&table_lock);
    return v;
}
"""

CLEAN = """\
#include <pthread.h>

struct counter {
    pthread_mutex_t lock;
    long n;
};

void counter_bump(struct counter *c)
{
    pthread_mutex_lock(&c->lock);
    c->n++;
    pthread_mutex_unlock(&c->lock);
}
"""

# CLEAN with a second unlock: one new unlock-unheld finding.
DOUBLE_UNLOCK = CLEAN.replace("    c->n++;\n", "    c->n++;\n    pthread_mutex_unlock(&c->lock);\n")
# LEAKY with the unlock before the early return: its finding goes away.
FIXED = LEAKY.replace("        return -1;\n", "    {\n        pthread_mutex_unlock(&table_lock);\n        return -1;\n    }\n")


@pytest.fixture(scope="module")
def realworld():
    spec = importlib.util.spec_from_file_location("bench_realworld", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tiny"
    root.mkdir()
    (root / "table.c").write_text(LEAKY)
    (root / "counter.c").write_text(CLEAN)
    return root


def write_manifest(path, tree_path, config=None):
    text = textwrap.dedent(f"""\
        [[tree]]
        name = "tiny"
        repository = "example/tiny"
        commit = "{'0' * 40}"
        path = "{tree_path}"
        """)
    if config is not None:
        text += f'config = """\n{config}"""\n'
    path.write_text(text)
    return str(path)


def run(realworld, capsys, *argv):
    status = realworld.main([str(a) for a in argv])
    return status, capsys.readouterr().out


def test_reports_counts_and_writes_json(realworld, tree, tmp_path, capsys):
    manifest = write_manifest(tmp_path / "trees.toml", tree)
    out = tmp_path / "out"
    status, printed = run(realworld, capsys, "--manifest", manifest, "--out", out, "--markdown")
    assert status == 0
    assert "files 2, functions 2, skipped 0" in printed
    assert "findings 1 (lock-leak 1); 500.0 per 1,000 functions" in printed
    assert "| tiny | 2 | 2 | 0 | 1 | 500.0 | lock-leak 1 |" in printed

    findings = json.loads((out / "tiny.json").read_text())
    assert [(f["path"], f["line"], f["rule"]) for f in findings] == [("table.c", 12, "lock-leak")]
    summary = json.loads((out / "summary.json").read_text())
    [stats] = summary["trees"]
    assert (stats["files"], stats["functions"], stats["findings"]) == (2, 2, 1)
    assert stats["findings_by_rule"] == {"lock-leak": 1}
    assert stats["wall_seconds"] > 0 and stats["parse_seconds"] > 0
    assert summary["absent"] == [] and summary["failed"] == {}


def test_config_is_passed_to_lockls(realworld, tree, tmp_path, capsys):
    manifest = write_manifest(tmp_path / "trees.toml", tree, config='[rules]\nignore = ["lock-leak"]\n')
    status, printed = run(realworld, capsys, "--manifest", manifest, "--out", tmp_path / "out")
    assert status == 0
    assert "files 2, functions 2, skipped 0" in printed
    assert "findings 0;" in printed


def test_absent_tree_is_skipped(realworld, tmp_path, capsys):
    manifest = write_manifest(tmp_path / "trees.toml", tmp_path / "nowhere")
    status, printed = run(realworld, capsys, "--manifest", manifest, "--out", tmp_path / "out")
    assert status == 0
    assert "no tree was checked" in printed
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["absent"] == ["tiny"]


def test_compare_two_runs(realworld, tree, tmp_path, capsys):
    manifest = write_manifest(tmp_path / "trees.toml", tree)
    before, after = tmp_path / "before", tmp_path / "after"
    assert run(realworld, capsys, "--manifest", manifest, "--out", before)[0] == 0
    (tree / "table.c").write_text(FIXED)
    (tree / "counter.c").write_text(DOUBLE_UNLOCK)

    status, printed = run(realworld, capsys, "--manifest", manifest, "--out", after, "--compare", before)
    assert status == 0
    assert "tiny: kept 0, gone 1, new 1" in printed
    assert "  - table.c:12 lock-leak " in printed
    assert "  + counter.c:13 unlock-unheld " in printed

    status, printed = run(realworld, capsys, "--manifest", manifest, "--no-run", "--out", after, "--compare", after)
    assert "tiny: kept 1, gone 0, new 0" in printed


def test_compare_ignores_line_numbers_in_messages(realworld, tmp_path, capsys):
    def finding(line, message, rule="lock-leak"):
        return {"path": "a.c", "line": line, "column": 1, "rule": rule, "severity": "warning",
                "message": message, "related": []}

    old = [finding(10, "`m` taken at line 7 is still held"), finding(20, "`m` taken at line 18 is still held"),
           finding(30, "`m` is released but it is not held", "unlock-unheld")]
    new = [finding(10, "`m` taken at line 8 is still held"), finding(21, "`m` taken at line 18 is still held"),
           finding(30, "`m` is released but it is not held", "unlock-unheld"),
           finding(30, "`m` is released but it is not held", "unlock-unheld")]
    for name, findings in (("old", old), ("new", new)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "tiny.json").write_text(json.dumps(findings))
    manifest = write_manifest(tmp_path / "trees.toml", tmp_path / "nowhere")

    status, printed = run(realworld, capsys, "--manifest", manifest, "--no-run",
                          "--out", tmp_path / "new", "--compare", tmp_path / "old")
    assert status == 0
    assert "tiny: kept 2, gone 1, new 2" in printed
    assert "  - a.c:20 lock-leak `m` taken at line 18 is still held" in printed
    assert "  + a.c:21 lock-leak `m` taken at line 18 is still held" in printed
    assert "  + a.c:30 unlock-unheld `m` is released but it is not held" in printed


def test_skip_reasons_and_summary_from_verbose_output(realworld):
    stderr = "\n".join([
        "lockls: cache: off (--no-cache)",
        "lockls: a.c: skipped f (line 3): unbalanced braces: the body does not end",
        "lockls: a.c: skipped g (line 9): the parser could not read this definition (unbalanced braces?)",
        "lockls: b.c: skipped h (line 1): internal error: KeyError: 'x'",
        "lockls: b.c: skipped k (line 5): unparsable code with a jump at line 7",
        "lockls: b.c: skipped m (line 8): something else",
        "c.c: error: cannot read file: Permission denied",
        "lockls: 2 files, 10 functions, 3 findings (1 error, 2 warnings), 5 functions skipped, "
        "2 functions partly analysed (-v says which), 1 file not analysed in 0.12 s",
    ])
    categories = [s["category"] for s in realworld.skipped_functions(stderr)]
    assert categories == ["unbalanced braces", "unreadable definition", "internal error", "unparsable code", "other"]
    assert realworld.parse_summary(stderr) == realworld.Summary(files=2, functions=10, skipped=5, files_not_analysed=1)
    assert realworld.file_errors(stderr) == ["c.c: error: cannot read file: Permission denied"]


def test_manifest_is_checked(realworld, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[tree]]\nname = "x"\nrepository = "a/b"\ncommit = "abc"\n')
    with pytest.raises(realworld.BenchError, match="commit"):
        realworld.load_manifest(str(bad))
    long_config = "\n".join(f"# {i}" for i in range(31))
    write_manifest(bad, tmp_path, config=long_config + "\n")
    with pytest.raises(realworld.BenchError, match="30 lines"):
        realworld.load_manifest(str(bad))


def test_shipped_manifest_lists_the_trees(realworld, monkeypatch):
    monkeypatch.setenv("LOCKLS_TREES", "/somewhere")
    trees = realworld.load_manifest(realworld.DEFAULT_MANIFEST)
    assert [t.name for t in trees] == ["memcached", "varnish-cache", "haproxy", "ovs", "glib", "frr", "zfs"]
    assert trees[0].path == "/somewhere/memcached"
