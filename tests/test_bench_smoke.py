"""Smoke tests for the benchmark tools in bench/ (fast: no benchmark is run).

The generator must be deterministic, hit the requested size, and write C that
tree-sitter-c parses without a single ERROR or MISSING node (a parse error would
make the benchmark measure error recovery instead of real code). The plain
profile must stay byte for byte what it was before profiles existed. The
annotated and kernel profiles (whose macros and annotations tree-sitter cannot
parse cleanly, as in the real code they imitate) must be deterministic too, and
lockls must find their deliberate bugs, with few other findings, on a small
corpus. check_speed's report formatting is checked on made-up timings, and
lsp_latency's choice of edit positions on generated files.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import subprocess
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


@pytest.fixture(scope="module")
def lsp_latency():
    return _load("lsp_latency")


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


# -- profiles --------------------------------------------------------------------------

PROFILES = ("plain", "annotated", "kernel")
# The rules of each profile's deliberate bugs.
PROFILE_RULES = {
    "plain": {"lock-leak", "double-lock", "unlock-unheld"},
    "annotated": {"lock-leak", "unguarded-access", "missing-required-lock", "excluded-lock-held"},
    "kernel": {"blocking-under-lock", "lock-leak", "unlock-unheld"},
}
# (seed, lines, files) of a small corpus that plants a bug of every rule of the profile.
SMALL_CORPUS = {"plain": (5, 3000, 2), "annotated": (1, 3000, 2), "kernel": (1, 3000, 2)}
# sha256 of generate_file(7, i, 1500)[0] for i = 0, 1, as written before profiles existed.
PLAIN_SHA256 = "b275e12d940ce4949bdeb3dc0540c3bea4d8600f30ced34f9b0b02f31d5530e3"


def test_plain_profile_is_unchanged(generate, tmp_path):
    digest = hashlib.sha256()
    for i in range(2):
        text, _ = generate.generate_file(7, i, 1500)
        assert generate.generate_file(7, i, 1500, "plain")[0] == text
        digest.update(text.encode())
    assert digest.hexdigest() == PLAIN_SHA256
    generate.main(["--single", str(tmp_path / "default.c"), "--lines", "1500", "--seed", "4"])
    generate.main(["--single", str(tmp_path / "plain.c"), "--lines", "1500", "--seed", "4", "--profile", "plain"])
    assert (tmp_path / "default.c").read_bytes() == (tmp_path / "plain.c").read_bytes()


@pytest.mark.parametrize("profile", ["annotated", "kernel"])
def test_profile_same_seed_same_bytes(generate, tmp_path, profile):
    for d, seed in (("a", 7), ("b", 7), ("c", 8)):
        generate.generate_corpus(str(tmp_path / d), lines=3000, files=2, seed=seed, profile=profile)
    a, b, c = (_read_tree(str(tmp_path / d)) for d in "abc")
    assert a == b
    assert a != c
    sources = [src for name, src in a.items() if name.endswith(".c")]
    assert len(sources) == 2
    assert abs(sum(src.count(b"\n") for src in sources) - 3000) <= 300
    # A kernel corpus says which preset it is written for; the others need no configuration.
    assert (".lockls.toml" in a) == (profile == "kernel")
    if profile == "kernel":
        assert b'presets = ["linux"]' in a[".lockls.toml"]
    for name in ("x.c", "y.c"):
        generate.main(["--single", str(tmp_path / name), "--lines", "2000", "--seed", "3", "--profile", profile])
    single = (tmp_path / "x.c").read_bytes()
    assert single == (tmp_path / "y.c").read_bytes()
    assert abs(single.count(b"\n") - 2000) <= 200
    assert single != generate.generate_file(3, 0, 2000, "plain")[0].encode()


def _markers(sources: dict[str, bytes]) -> set[tuple[str, int, str]]:
    """(file, line, rule) of every `/* BUG: rule */` marker."""
    out = set()
    for name, src in sources.items():
        for n, line in enumerate(src.split(b"\n"), 1):
            m = re.search(rb"/\* BUG: ([a-z-]+) \*/", line)
            if m:
                out.add((name, n, m.group(1).decode()))
    return out


def _lockls_check(directory: str) -> list[dict]:
    proc = subprocess.run([sys.executable, "-m", "lockls", "--check", "--no-cache", "--jobs", "1",
                           "--format", "json", directory], capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    return json.loads(proc.stdout)


@pytest.mark.parametrize("profile", PROFILES)
def test_profile_bugs_are_found(generate, tmp_path, profile):
    seed, lines, files = SMALL_CORPUS[profile]
    summary = generate.generate_corpus(str(tmp_path), lines=lines, files=files, seed=seed, profile=profile)
    sources = {name: src for name, src in _read_tree(str(tmp_path)).items() if name.endswith(".c")}
    planted = _markers(sources)
    assert {rule for _, _, rule in planted} == PROFILE_RULES[profile]
    assert len(planted) == sum(summary["bugs"].values())

    findings = _lockls_check(str(tmp_path))
    got = {(os.path.basename(f["path"]), f["line"], f["rule"]) for f in findings}
    assert {f["rule"] for f in findings} >= PROFILE_RULES[profile], sorted(got)
    # A sane count: most of the planted bugs, few findings anywhere else.
    found, others = planted & got, got - planted
    assert len(found) >= (len(planted) + 1) // 2, sorted(planted - got)
    assert len(others) <= max(2, len(planted) // 4), sorted(others)
    assert len(planted) // 2 <= len(findings) <= len(planted) + max(2, len(planted) // 4)


def test_lsp_latency_edit_positions(generate, lsp_latency):
    for profile in PROFILES:
        text, _ = generate.generate_file(1, 0, 2000, profile)
        lines = text.split("\n")
        body = lsp_latency.body_lines(text, 10)
        assert len(body) == 10
        for i in body:
            assert lines[i][0] in " \t" and lines[i].rstrip().endswith(";")
        gaps = lsp_latency.top_level_gaps(text, 10)
        assert len(gaps) == 10
        for blank, name_line, column in gaps:
            assert lines[blank] == "" and lines[blank - 1] == "}"
            assert name_line > blank
            assert re.match(r"[A-Za-z_]\w*\(", lines[name_line][column:]), lines[name_line]


def test_summary_formatting(check_speed):
    M = check_speed.Measurement

    def fake(parse, analysis, cold, warm, jobs2, findings):
        note = f"{findings} findings"
        return check_speed.CorpusRun("corpus", 3, 3000, 100_000, 1, M("p", [parse]), M("a", [analysis], note=note),
                                     M("c", [cold], note=note), M("w", [warm], note=note), M("j", [jobs2]), None)

    runs = {"plain": fake(0.1, 0.5, 1.0, 0.05, 0.6, 5), "kernel": fake(0.2, 0.4, 0.8, 0.1, 0.5, 6)}
    runs["kernel"].jobs2 = M("j", error="exit 2: boom")
    rows = check_speed.format_summary(runs).splitlines()
    assert rows[0].startswith("| profile | lines | parse-only | analysis |")
    assert rows[2] == "| plain | 3,000 | 100 ms | 500 ms | 5.0× | 1.00 s | 50 ms | 20.0× | 600 ms | 5 |"
    assert rows[3].startswith("| kernel | 3,000 | 200 ms | 400 ms | 2.0× |") and "failed: exit 2" in rows[3]
    assert rows[3].endswith("| 6 |")
    # A corpus without its own start-up measurement reports the one given.
    report = check_speed.format_run(runs["kernel"], M("s", [0.2]))
    assert "start-up on one small file: 200 ms" in report and "PASS" in report.splitlines()[-1]


@pytest.mark.parametrize("command", [
    ["scaling.py", "--quick", "--shape", "glob", "--shape", "word", "--timeout", "120"],
    ["fuzz.py", "--count", "4", "--cli-every", "2", "--out", "{tmp}/fuzz"],
    ["soak.py", "--edits", "20", "--lines", "300", "--every", "10", "--parity", "10", "--out", "{tmp}/soak"],
    ["soak.py", "--sequences", "5", "--out", "{tmp}/soak-seq"],
])
def test_the_hostile_input_scripts_run(command, tmp_path):
    """bench/scaling.py, fuzz.py and soak.py are not run in CI; they must still run."""
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    done = subprocess.run([sys.executable, os.path.join(BENCH, args[0]), *args[1:]], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr
