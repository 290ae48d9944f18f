"""The `lockls` command line: --check, exit statuses, formats, cache, jobs, --explain.

Most tests run `main([...])` in-process with a fake analysis (`fake_analysis`)
that reports `BUG(rule)` markers found in the C text, so expectations do not
depend on the real analysis. Tests named `test_e2e_*` run the real analysis on C
written to tmp_path; extend them as rules land.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from cli_support import run
import lockls.engine.function
import lockls.cli.check
from lockls import __version__
from lockls.main import main
from lockls.report.findings import FileResult, Finding, Pos, Related, Span
from lockls.rules import RULES

LEAK_C = """\
void leak(pthread_mutex_t *m)
{
    pthread_mutex_lock(m);
    return; /* BUG(lock-leak) */
}
"""

DOUBLE_C = """\
void twice(pthread_mutex_t *m)
{
    pthread_mutex_lock(m);
    pthread_mutex_lock(m); /* BUG(double-lock) */
}
"""

CLEAN_C = """\
void fine(pthread_mutex_t *m)
{
    pthread_mutex_lock(m);
    pthread_mutex_unlock(m);
}
"""

MARKER = re.compile(r"BUG\(([a-z-]+)\)")


def fake_analyze_source(source: bytes, path: str, config) -> FileResult:
    """A stand-in analysis: one finding per `BUG(rule)` marker, severity from RULES.

    Reports every rule whatever `config.select` says (like the real one, which
    the driver runs with all rules on). `CRASH` in the text raises, `DIE` ends
    the process; `SKIP` adds a skipped function.
    """
    fake_analyze_source.calls.append(path)
    if b"CRASH" in source:
        raise RuntimeError("boom")
    if b"DIE" in source:  # a crash in native code, as far as the parent can tell
        os._exit(3)
    text = source.decode("utf-8", "replace")
    findings = []
    for line_no, line in enumerate(text.splitlines()):
        for match in MARKER.finditer(line):
            rule = match.group(1)
            col = match.start()
            where = Span(Pos(line_no, col, col, col), Pos(line_no, match.end(), match.end(), match.end()), 0, 0)
            taken = Span(Pos(2, 4, 4, 4), Pos(2, 25, 25, 25), 0, 0)
            findings.append(
                Finding(rule, RULES[rule], f"{rule} on m (held: m)", path, where, "f", (Related(path, taken, "m acquired here"),))
            )
    skipped = ["g (line 1): too many paths"] if "SKIP" in text else []
    return FileResult(path, findings, functions=text.count("\n{"), skipped=skipped)


fake_analyze_source.calls = []


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test: its own cache dir and working directory; fresh config discovery."""
    monkeypatch.setenv("LOCKLS_CACHE_DIR", str(tmp_path / "cache"))
    project = tmp_path / "proj"
    project.mkdir()
    monkeypatch.chdir(project)
    from lockls.config import clear_config_cache

    clear_config_cache()
    yield project
    clear_config_cache()


@pytest.fixture
def fake_analysis(monkeypatch):
    fake_analyze_source.calls = []
    monkeypatch.setattr(lockls.cli.check, "_analyze", lambda task, source: fake_analyze_source(source, task.path, task.config))
    return fake_analyze_source.calls


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# -- exit status ------------------------------------------------------------------------

def test_findings_exit_1_and_text_output(capsys, isolated, fake_analysis):
    write(isolated / "src" / "leak.c", LEAK_C)
    write(isolated / "src" / "ok.c", CLEAN_C)
    status, out, err = run(capsys, "--check")
    assert status == 1
    assert out == "src/leak.c:4:16: warning: lock-leak on m (held: m) [lock-leak]\n"
    assert re.fullmatch(r"lockls: 2 files, 2 functions, 1 finding \(1 warning\) in \d+\.\d\d s\n", err)


def test_no_findings_exit_0(capsys, isolated, fake_analysis):
    write(isolated / "ok.c", CLEAN_C)
    status, out, err = run(capsys, "--check", "ok.c")
    assert (status, out) == (0, "")
    assert err.startswith("lockls: 1 file, 1 function, 0 findings in ")


def test_fail_on_never(capsys, isolated, fake_analysis):
    write(isolated / "a.c", DOUBLE_C)
    status, out, _ = run(capsys, "--check", "--fail-on", "never")
    assert status == 0 and "[double-lock]" in out


def test_fail_on_error_ignores_warnings(capsys, isolated, fake_analysis):
    write(isolated / "a.c", LEAK_C)
    assert run(capsys, "--check", "--fail-on", "error")[0] == 0
    write(isolated / "b.c", DOUBLE_C)
    assert run(capsys, "--check", "--fail-on", "error")[0] == 1


def test_config_severity_applies(capsys, isolated, fake_analysis):
    write(isolated / ".lockls.toml", '[rules.severity]\nlock-leak = "error"\n')
    write(isolated / "a.c", LEAK_C)
    status, out, _ = run(capsys, "--check", "--fail-on", "error")
    assert status == 1
    assert out == "a.c:4:16: error: lock-leak on m (held: m) [lock-leak]\n"


def test_bad_config_exits_2_naming_file_and_line(capsys, isolated, fake_analysis):
    write(isolated / ".lockls.toml", 'presets = ["pthread"]\n\n[rules]\nselect = ["no-such-rule"]\n')
    write(isolated / "a.c", LEAK_C)
    status, out, err = run(capsys, "--check")
    assert status == 2 and out == ""
    assert err.startswith(".lockls.toml:4: rules.select")  # relative to the current directory, as findings are
    assert fake_analysis == []


def test_explicit_config_file(capsys, isolated, fake_analysis):
    write(isolated / "a.c", LEAK_C + DOUBLE_C)
    write(isolated / "conf" / "mine.toml", '[rules]\nselect = ["double-lock"]\n')
    status, out, _ = run(capsys, "--check", "--config", "conf/mine.toml")
    assert status == 1 and out.count("\n") == 1 and "[double-lock]" in out


def test_missing_explicit_config_exits_2(capsys, isolated, fake_analysis):
    write(isolated / "a.c", LEAK_C)
    status, _, err = run(capsys, "--check", "--config", "nope.toml")
    assert status == 2 and "nope.toml" in err


def test_unknown_rule_exits_2(capsys, isolated):
    status, _, err = run(capsys, "--check", "--select", "lock-leak,no-such-rule")
    assert status == 2 and "--select: unknown rule 'no-such-rule'" in err
    status, _, err = run(capsys, "--check", "--ignore", "bogus")
    assert status == 2 and "--ignore: unknown rule 'bogus'" in err


def test_missing_path_exits_2(capsys, isolated, fake_analysis):
    write(isolated / "a.c", LEAK_C)
    status, out, err = run(capsys, "--check", "a.c", "missing.c")
    assert (status, out) == (2, "")
    assert err == "lockls: error: missing.c: no such file or directory\n"


def test_usage_errors_exit_2(capsys, isolated):
    assert run(capsys, "--check", "--format", "xml")[0] == 2
    assert run(capsys, "--check", "--jobs", "0")[0] == 2
    status, _, err = run(capsys, "--format", "json")
    assert status == 2 and "--format needs --check" in err
    status, _, err = run(capsys, "a.c")
    assert status == 2 and "PATH needs --check" in err


def test_version(capsys):
    status, out, _ = run(capsys, "--version")
    assert (status, out) == (0, f"lockls {__version__}\n")


# -- rule selection -----------------------------------------------------------------------

@pytest.fixture
def both_bugs(isolated):
    write(isolated / "a.c", LEAK_C + DOUBLE_C)


def rules_reported(out: str) -> list[str]:
    return re.findall(r"\[([a-z-]+)\]$", out, re.M)


def test_select(capsys, both_bugs, fake_analysis):
    status, out, _ = run(capsys, "--check", "--select", "double-lock")
    assert status == 1 and rules_reported(out) == ["double-lock"]


def test_ignore(capsys, both_bugs, fake_analysis):
    status, out, _ = run(capsys, "--check", "--ignore", "double-lock,unlock-unheld")
    assert status == 1 and rules_reported(out) == ["lock-leak"]
    status, out, _ = run(capsys, "--check", "--ignore", "double-lock", "--ignore", "lock-leak")
    assert (status, out) == (0, "")


def test_config_select_and_cli_select_override(capsys, isolated, both_bugs, fake_analysis):
    write(isolated / ".lockls.toml", '[rules]\nignore = ["lock-leak"]\n')
    assert rules_reported(run(capsys, "--check")[1]) == ["double-lock"]
    # --select replaces the configured rule set (as in ruff).
    assert rules_reported(run(capsys, "--check", "--select", "lock-leak")[1]) == ["lock-leak"]


# -- paths ------------------------------------------------------------------------------

def test_directory_walk_finds_c_and_h_skips_hidden(capsys, isolated, fake_analysis):
    for name in ["a.c", "inc/b.h", "sub/deeper/c.c", ".git/x.c", ".hidden/y.c", "notes.txt", "z.cc"]:
        write(isolated / name, LEAK_C)
    status, out, _ = run(capsys, "--check", "--format", "json")
    assert status == 1
    assert [f["path"] for f in json.loads(out)] == ["a.c", "inc/b.h", "sub/deeper/c.c"]


def test_explicit_file_is_checked_whatever_its_name(capsys, isolated, fake_analysis):
    write(isolated / "weird.inc", LEAK_C)
    assert rules_reported(run(capsys, "--check", "weird.inc")[1]) == ["lock-leak"]


def test_config_exclude_applies_to_walked_files(capsys, isolated, fake_analysis):
    write(isolated / ".lockls.toml", '[files]\nexclude = ["vendor/**"]\n')
    write(isolated / "a.c", LEAK_C)
    write(isolated / "vendor" / "v.c", LEAK_C)
    out = run(capsys, "--check", "--format", "json")[1]
    assert [f["path"] for f in json.loads(out)] == ["a.c"]


def test_paths_outside_cwd_shown_as_given(capsys, isolated, tmp_path, fake_analysis):
    write(tmp_path / "other" / "x.c", LEAK_C)
    sub = isolated / "sub"
    sub.mkdir()
    os.chdir(sub)
    out = run(capsys, "--check", "../../other/x.c")[1]
    assert out.startswith("../../other/x.c:4:16: warning:")


def test_output_sorted_by_path_line_column(capsys, isolated, fake_analysis):
    write(isolated / "b.c", "BUG(lock-leak) BUG(double-lock)\nBUG(unlock-unheld)\n")
    write(isolated / "a.c", "\n\nBUG(lock-leak)\n")
    out = run(capsys, "--check", "b.c", "a.c")[1]
    assert [line.split(": ")[0] for line in out.splitlines()] == ["a.c:3:1", "b.c:1:1", "b.c:1:16", "b.c:2:1"]


# -- formats through the CLI -----------------------------------------------------------------

def test_json_format(capsys, isolated, fake_analysis):
    write(isolated / "a.c", LEAK_C)
    status, out, err = run(capsys, "--check", "--format", "json")
    assert status == 1 and err == ""  # no summary: stdout is for machines, stderr stays quiet
    assert json.loads(out) == [
        {
            "path": "a.c",
            "line": 4,
            "column": 16,
            "end_line": 4,
            "end_column": 30,
            "rule": "lock-leak",
            "severity": "warning",
            "message": "lock-leak on m (held: m)",
            "related": [{"path": "a.c", "line": 3, "column": 5, "message": "m acquired here"}],
            "fix": [],
            "url": "https://github.com/lockls/lockls/blob/main/docs/rules/lock-leak.md",
        }
    ]


def test_sarif_format(capsys, isolated, fake_analysis):
    from test_formats import assert_valid_sarif

    write(isolated / "a.c", LEAK_C + DOUBLE_C)
    status, out, _ = run(capsys, "--check", "--format", "sarif")
    assert status == 1
    log = json.loads(out)
    assert_valid_sarif(log)
    run_ = log["runs"][0]
    assert [r["id"] for r in run_["tool"]["driver"]["rules"]] == ["double-lock", "lock-leak"]
    assert [r["ruleId"] for r in run_["results"]] == ["lock-leak", "double-lock"]
    assert run_["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "a.c",
        "uriBaseId": "%SRCROOT%",
    }


def test_github_format(capsys, isolated, fake_analysis):
    write(isolated / "a.c", DOUBLE_C)
    status, out, _ = run(capsys, "--check", "--format", "github")
    assert status == 1
    assert out == (
        "::error file=a.c,line=4,col=31,endLine=4,endColumn=47,title=lockls double-lock"
        "::double-lock on m (held: m)\n"
    )


# -- --explain, --show-config ----------------------------------------------------------------

def test_explain_prints_the_rule_doc(capsys, monkeypatch):
    import lockls.report.ruledocs as ruledocs

    monkeypatch.setattr(ruledocs, "rule_doc", lambda rule: f"{rule}: the doc.\n\nMore.\n")
    status, out, _ = run(capsys, "--explain", "lock-leak")
    assert (status, out) == (0, "lock-leak: the doc.\n\nMore.\n")


def test_explain_real_doc(capsys):
    status, out, _ = run(capsys, "--check", "--explain", "lock-leak")
    assert status == 0 and out.startswith("lock-leak: ")


def test_explain_unknown_rule(capsys):
    status, out, err = run(capsys, "--explain", "nope")
    assert (status, out) == (2, "") and "unknown rule 'nope'" in err


def test_show_config(capsys, isolated):
    from lockls.config import config_for, show_config

    write(isolated / ".lockls.toml", 'presets = ["pthread"]\n')
    status, out, _ = run(capsys, "--show-config")
    assert status == 0
    assert out == show_config(config_for(str(isolated)))
    assert out.startswith(f"# Effective lockls configuration (from {isolated / '.lockls.toml'}).")


def test_show_config_bad_config(capsys, isolated):
    write(isolated / ".lockls.toml", "presets = 3\n")
    status, _, err = run(capsys, "--check", "--show-config")
    assert status == 2 and err.startswith(".lockls.toml:1: presets")


# -- cache --------------------------------------------------------------------------------

def test_second_run_reads_the_cache(capsys, isolated, fake_analysis):
    write(isolated / "a.c", LEAK_C)
    write(isolated / "b.c", CLEAN_C)
    first = run(capsys, "--check", "-v")
    assert len(fake_analysis) == 2 and "cache hit" not in first[2]
    second = run(capsys, "--check", "-v")
    assert len(fake_analysis) == 2  # nothing re-analysed
    assert "lockls: a.c: cache hit, 1 function(s), 1 finding(s)" in second[2]
    assert "lockls: b.c: cache hit" in second[2]
    assert first[:2] == second[:2]


def test_lockls_own_sources_are_hashed_once_per_process(capsys, isolated, fake_analysis, monkeypatch):
    """A warm run costs a lookup per file, not a hash of lockls' sources per file."""
    from lockls.engine import cache

    cache.code_fingerprint.cache_clear()
    reads = []
    real = cache._source_files
    monkeypatch.setattr(cache, "_source_files", lambda d: reads.append(d) or real(d))
    for i in range(5):
        write(isolated / f"f{i}.c", CLEAN_C)
    run(capsys, "--check")
    run(capsys, "--check")
    assert len(reads) == len(cache.query_dirs()) + 1  # lockls itself and each query directory, once


def test_cache_ignores_select_but_not_content_or_config(capsys, isolated, fake_analysis):
    source = write(isolated / "a.c", LEAK_C + DOUBLE_C)
    run(capsys, "--check", "--select", "double-lock")
    status, out, _ = run(capsys, "--check", "--select", "lock-leak")  # a hit, other rules
    assert len(fake_analysis) == 1 and rules_reported(out) == ["lock-leak"]
    write(source, LEAK_C)
    run(capsys, "--check")
    assert len(fake_analysis) == 2
    write(isolated / ".lockls.toml", 'presets = ["pthread"]\n')  # another fingerprint
    run(capsys, "--check")
    assert len(fake_analysis) == 3


def test_no_cache_bypasses_it(capsys, isolated, fake_analysis):
    write(isolated / "a.c", LEAK_C)
    run(capsys, "--check")
    status, out, err = run(capsys, "--check", "--no-cache", "-v")
    assert len(fake_analysis) == 2 and status == 1
    assert "cache: off" in err and "cache hit" not in err


def test_cache_dir_option_and_location(capsys, isolated, tmp_path, fake_analysis):
    write(isolated / "a.c", LEAK_C)
    run(capsys, "--check", "--cache-dir", str(tmp_path / "mycache"))
    entries = list((tmp_path / "mycache").rglob("*.json"))
    assert len(entries) == 1
    assert (tmp_path / "mycache" / "CACHEDIR.TAG").is_file()
    assert not (tmp_path / "cache").exists()
    assert not any(p.suffix == ".json" for p in isolated.rglob("*"))  # never in the checked tree


def test_default_cache_dir_environment(monkeypatch, tmp_path):
    from lockls.engine.cache import default_cache_dir

    monkeypatch.setenv("LOCKLS_CACHE_DIR", "/x/lockls-cache")
    assert default_cache_dir() == "/x/lockls-cache"
    monkeypatch.delenv("LOCKLS_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", "/xdg")
    assert default_cache_dir() == "/xdg/lockls"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir() == str(tmp_path / ".cache" / "lockls")


def untimed(result: tuple[int, str, str]) -> tuple[int, str, str]:
    """A run's result with the elapsed time of its summary line blanked (it varies)."""
    status, out, err = result
    return status, out, re.sub(r" in \d+\.\d+ s$", " in … s", err, flags=re.M)


def test_corrupt_cache_entry_is_ignored(capsys, isolated, tmp_path, fake_analysis):
    write(isolated / "a.c", LEAK_C)
    expected = untimed(run(capsys, "--check"))
    (entry,) = (tmp_path / "cache").rglob("*.json")
    entry.write_text('{"path": ')
    assert untimed(run(capsys, "--check")) == expected
    assert len(fake_analysis) == 2
    entry.write_text('{"path": "elsewhere.c", "findings": [], "functions": 0, "skipped": []}')
    assert untimed(run(capsys, "--check")) == expected
    assert len(fake_analysis) == 3


def test_unwritable_cache_dir_means_no_cache(capsys, isolated, tmp_path, fake_analysis):
    blocker = write(tmp_path / "not-a-dir", "")
    write(isolated / "a.c", LEAK_C)
    status, out, err = run(capsys, "--check", "--cache-dir", str(blocker))
    assert status == 1 and "[lock-leak]" in out and "cache" not in err
    status, _, err = run(capsys, "--check", "-v", "--cache-dir", str(blocker))
    assert status == 1 and "cache: disabled, cannot write" in err


def test_analysis_errors_are_not_cached(capsys, isolated, fake_analysis):
    write(isolated / "a.c", "CRASH\n")
    run(capsys, "--check")
    run(capsys, "--check")
    assert len(fake_analysis) == 2


# -- robustness -----------------------------------------------------------------------------

def test_internal_error_is_reported_and_the_run_continues(capsys, isolated, fake_analysis):
    write(isolated / "a.c", "CRASH\n")
    write(isolated / "b.c", LEAK_C)
    status, out, err = run(capsys, "--check")
    assert status == 1 and rules_reported(out) == ["lock-leak"]
    assert "a.c: error: internal error: RuntimeError: boom\n" in err
    assert "Traceback" not in err
    assert ", 1 file not analysed in " in err


def test_internal_error_alone_does_not_fail_the_run(capsys, isolated, fake_analysis):
    write(isolated / "a.c", "CRASH\n")
    status, out, err = run(capsys, "--check")
    assert (status, out) == (0, "") and "a.c: error: internal error" in err


def test_unreadable_file_is_reported(capsys, isolated, fake_analysis):
    (isolated / "dangling.c").symlink_to(isolated / "missing-target.c")
    write(isolated / "b.c", CLEAN_C)
    status, _, err = run(capsys, "--check")
    assert status == 0
    assert "dangling.c: error: cannot read file: No such file or directory" in err


def test_skipped_functions_in_summary_and_verbose(capsys, isolated, fake_analysis):
    write(isolated / "a.c", CLEAN_C + "/* SKIP */\n")
    _, _, err = run(capsys, "--check")
    assert ", 1 function skipped in " in err
    _, _, err = run(capsys, "--check", "-v")
    assert "lockls: a.c: skipped g (line 1): too many paths" in err


# -- parallelism -----------------------------------------------------------------------------

def test_jobs_2_gives_the_same_output_as_jobs_1(capsys, isolated, monkeypatch, fake_analysis):
    monkeypatch.setattr(lockls.cli.check, "PARALLEL_MIN_FILES", 2)
    monkeypatch.setattr(lockls.cli.check, "PARALLEL_MIN_BYTES", 0)
    for i in range(12):
        write(isolated / f"d{i % 3}" / f"f{i}.c", (LEAK_C if i % 2 else DOUBLE_C) * (i + 1))
    write(isolated / "crash.c", "CRASH\n")
    serial = run(capsys, "--check", "--no-cache", "--jobs", "1", "--format", "json")
    parallel = run(capsys, "--check", "--no-cache", "--jobs", "2", "--format", "json", "-v")
    assert serial[0] == parallel[0] == 1
    assert serial[1] == parallel[1]
    assert len(json.loads(serial[1])) == sum(range(1, 13))
    assert "in 2 worker processes" in parallel[2]
    assert "crash.c: error: internal error: RuntimeError: boom" in parallel[2]


def test_parallel_run_fills_the_cache(capsys, isolated, monkeypatch, fake_analysis):
    monkeypatch.setattr(lockls.cli.check, "PARALLEL_MIN_FILES", 2)
    monkeypatch.setattr(lockls.cli.check, "PARALLEL_MIN_BYTES", 0)
    for i in range(6):
        write(isolated / f"f{i}.c", LEAK_C)
    first = run(capsys, "--check", "--jobs", "3")
    second = run(capsys, "--check", "--jobs", "3", "-v")
    assert second[2].count("cache hit") == 6
    assert first[:2] == second[:2]


def test_a_dying_worker_is_reported_not_fatal(capsys, isolated, monkeypatch, fake_analysis):
    monkeypatch.setattr(lockls.cli.check, "PARALLEL_MIN_FILES", 2)
    monkeypatch.setattr(lockls.cli.check, "PARALLEL_MIN_BYTES", 0)
    for i in range(4):
        write(isolated / f"f{i}.c", CLEAN_C)
    write(isolated / "die.c", "DIE\n")
    status, out, err = run(capsys, "--check", "--no-cache", "--jobs", "2")
    assert (status, out) == (0, "")
    assert "die.c: error: internal error: worker failed: BrokenProcessPool" in err
    assert "Traceback" not in err


def test_small_runs_stay_in_process(capsys, isolated, fake_analysis):
    write(isolated / "a.c", LEAK_C)
    _, _, err = run(capsys, "--check", "--jobs", "8", "-v", "--no-cache")
    assert "in-process" in err


def test_chunks_balance_by_size():
    from lockls.cli.check import _chunks, _Task

    tasks = [_Task(f"f{i}", None, "") for i in range(10)]
    sizes = {f"f{i}": size for i, size in enumerate([100, 1, 1, 1, 1, 50, 50, 1, 1, 1])}
    chunks = _chunks(tasks, sizes, 3)
    assert sorted(t.path for c in chunks for t in c) == sorted(t.path for t in tasks)
    assert sorted(sum(sizes[t.path] for t in c) for c in chunks) == [53, 54, 100]


# -- the language server branch -------------------------------------------------------------

def test_no_arguments_starts_the_server(monkeypatch):
    calls = []
    fake = types.ModuleType("lockls.lsp.server")
    fake.main = lambda log_file=None: calls.append(log_file) or 0
    monkeypatch.setitem(sys.modules, "lockls.lsp.server", fake)
    assert main([]) == 0
    assert main(["--stdio", "--log-file", "/tmp/x.log"]) == 0
    assert calls == [None, "/tmp/x.log"]


def test_server_unavailable_is_a_clear_error(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "lockls.lsp.server", None)  # import fails
    status, _, err = run(capsys, "--stdio")
    assert status == 2 and err.startswith("lockls: error: cannot start the language server")


# -- subprocesses: imports and the installed entry points --------------------------------------

def python(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


IMPORTS_AFTER_CHECK = """
import sys
from lockls.main import main
status = main(sys.argv[1:])
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"pygls", "lsprotocol", "tree_sitter", "tree_sitter_c", "multiprocessing"})
print("status", status, "heavy", ",".join(heavy), file=sys.stderr)
"""


def test_check_does_not_import_pygls_or_lsprotocol(isolated):
    write(isolated / "a.c", CLEAN_C)
    proc = python("-c", IMPORTS_AFTER_CHECK, "--check", "a.c", cwd=isolated)
    heavy = re.search(r"heavy (\S*)", proc.stderr).group(1).split(",")
    assert "pygls" not in heavy and "lsprotocol" not in heavy, proc.stderr


def test_cache_hits_import_neither_the_parser_nor_a_pool(isolated):
    write(isolated / "a.c", CLEAN_C)
    python("-c", IMPORTS_AFTER_CHECK, "--check", "a.c", cwd=isolated)  # fill the cache
    proc = python("-c", IMPORTS_AFTER_CHECK, "--check", "-v", "a.c", cwd=isolated)
    assert "a.c: cache hit" in proc.stderr
    assert re.search(r"heavy $", proc.stderr, re.M), proc.stderr


def test_python_dash_m_smoke(isolated):
    write(isolated / "a.c", CLEAN_C)
    assert python("-m", "lockls", "--version", cwd=isolated).stdout == f"lockls {__version__}\n"
    proc = python("-m", "lockls", "--check", "--format", "json", cwd=isolated)
    assert proc.returncode in (0, 1) and isinstance(json.loads(proc.stdout), list), proc.stderr


# -- end to end with the real analysis (C in tmp_path) -----------------------------------------

def test_e2e_invalid_utf8_and_binary_do_not_crash(capsys, isolated):
    write(isolated / "latin1.c", "/* caf\xe9 */\nvoid f(void) { }\n".encode("latin-1"))
    write(isolated / "garbage.c", bytes(range(256)) * 64)
    write(isolated / "empty.h", b"")
    status, out, err = run(capsys, "--check", "--no-cache")
    assert status in (0, 1)
    assert "Traceback" not in err and "internal error" not in err, err
    assert "lockls: 3 files" in err


def test_e2e_lock_leak_is_reported_on_the_return(capsys, isolated):
    write(
        isolated / "leak.c",
        "#include <pthread.h>\n"
        "int f(pthread_mutex_t *m, int x)\n"
        "{\n"
        "    pthread_mutex_lock(m);\n"
        "    if (x)\n"
        "        return -1;\n"
        "    pthread_mutex_unlock(m);\n"
        "    return 0;\n"
        "}\n",
    )
    status, out, err = run(capsys, "--check", "--no-cache", "--format", "json")
    if "0 functions" in run(capsys, "--check", "--no-cache")[2]:
        pytest.skip("the analysis is still a stub")
    (leak,) = json.loads(out)
    assert status == 1
    assert (leak["rule"], leak["line"], leak["column"]) == ("lock-leak", 6, 9)
    assert leak["related"][0]["line"] == 4


def test_json_related_points_at_declarations(capsys):
    """Related places outside the function: the guard in the configuration file,
    the declared order, and where the held lock was taken."""
    entry = Path(__file__).parent / "fixtures" / "entry"
    assert main(["--check", "--no-cache", "--format", "json", str(entry / "driver.c")]) == 1
    findings = {(f["line"], f["rule"]): f["related"] for f in json.loads(capsys.readouterr().out)}
    config = str(entry / ".lockls.toml")
    assert [(r["path"], r["line"], r["column"], r["message"]) for r in findings[(74, "unguarded-access")]] == [
        (config, 15, 1, "`struct demo_driver` is declared guarded here")]
    assert [(os.path.basename(r["path"]), r["line"], r["column"], r["message"])
            for r in findings[(100, "lock-order")]] == [
        ("driver.c", 96, 10, "`vm` taken here"), (".lockls.toml", 3, 1, "the lock order is declared here")]


def test_json_related_points_at_the_declared_contract(capsys):
    """missing-required-lock / excluded-lock-held point at the callee's annotated
    prototype in the file, or at its [functions.NAME] table in the configuration."""
    ovs = Path(__file__).parent / "fixtures" / "ovs"
    assert main(["--check", "--no-cache", "--format", "json", str(ovs / "ovs_style.c")]) == 1
    related = {(f["line"], f["rule"]): [(os.path.basename(r["path"]), r["line"], r["column"], r["message"])
                                        for r in f["related"]] for f in json.loads(capsys.readouterr().out)}
    assert related[(31, "missing-required-lock")][-1] == (
        "ovs_style.c", 11, 6, "`table_insert_locked()` declared to require `t->mutex` here")
    assert related[(39, "excluded-lock-held")][-1] == (
        "ovs_style.c", 12, 6, "`table_destroy()` declared to exclude `t->mutex` here")
    assert related[(41, "missing-required-lock")][-1] == (
        ".lockls.toml", 13, 1, "`table_rehash()` declared to require `t->mutex` here")


def test_output_does_not_depend_on_the_hash_seed(tmp_path):
    """Path classes are ordered by hash; a message must not depend on that order
    (it once named the site of whichever path came first)."""
    fixture = Path(__file__).parent / "fixtures" / "both_branches.c"
    outputs = set()
    for seed in ("1", "2", "3", "4"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "LOCKLS_CACHE_DIR": str(tmp_path)}
        run = subprocess.run([sys.executable, "-m", "lockls", "--check", "--no-cache", "--format", "json", str(fixture)],
                             capture_output=True, text=True, env=env)
        outputs.add(run.stdout)
    assert len(outputs) == 1
    related = {f["rule"]: [r["line"] for r in f["related"]] for f in json.loads(outputs.pop())}
    assert related == {"excluded-lock-held": [12, 14, 7], "blocking-under-lock": [25, 27]}


def test_misspelt_rule_in_a_suppression_is_a_warning(tmp_path, capsys):
    """A suppression naming no rule suppresses nothing and says so, with the nearest name."""
    source = tmp_path / "a.c"
    source.write_text("#include <pthread.h>\nstatic pthread_mutex_t m;\nint f(int x)\n{\n"
                      "    pthread_mutex_lock(&m);\n    if (x) return -1; // lockls: ignore[lock-lek]\n"
                      "    pthread_mutex_unlock(&m);\n    return 0;\n}\n")
    assert main(["--check", "--no-cache", str(source)]) == 1
    out, err = capsys.readouterr()
    assert "[lock-leak]" in out
    assert (f"{source}:6: warning: unknown rule `lock-lek` in a suppression comment (did you mean `lock-leak`?): "
            "it suppresses nothing") in err

    from lsprotocol import types as T

    from lockls.lsp.diagnostics import document_diagnostics
    from lockls.lsp.session import Session

    session = Session()
    session.open(source.as_uri(), source.read_text(), 1, "c")
    _, diagnostics = document_diagnostics(session, source.as_uri())
    warning = [d for d in diagnostics if d.code is None]
    assert [(d.severity, d.range.start.line) for d in warning] == [(T.DiagnosticSeverity.Warning, 5)]
    assert "did you mean `lock-leak`?" in warning[0].message


def test_statistics_counts_findings_per_rule(capsys):
    """--statistics: one line per rule, most findings first, instead of the findings;
    the exit status is the same as without it."""
    import json

    examples = str(Path(__file__).resolve().parent.parent / "examples")
    assert main(["--check", "--no-cache", "--statistics", examples]) == 1
    out, err = capsys.readouterr()
    assert out == ("    4  lock-leak      A lock taken in the function may still be held when it returns.\n"
                   "    2  unlock-unheld  Releasing a lock that may not be held.\n"
                   "    1  double-lock    Taking a non-recursive lock that may already be held.\n")
    assert "7 findings" in err
    assert main(["--check", "--no-cache", "--statistics", "--format", "json", examples]) == 1
    assert [(r["rule"], r["count"]) for r in json.loads(capsys.readouterr().out)] == [
        ("lock-leak", 4), ("unlock-unheld", 2), ("double-lock", 1)]


def test_unused_suppressions_are_reported_on_request(tmp_path, capsys):
    """--report-unused-suppressions: comments that silence nothing are warnings (exit 1);
    the editor shows them faded (a hint tagged unnecessary) on the comment."""
    source = tmp_path / "u.c"
    source.write_text("#include <pthread.h>\nstatic pthread_mutex_t m;\nint f(int x)\n{\n"
                      "    pthread_mutex_lock(&m);\n    if (x) return -1; // lockls: ignore[lock-leak]\n"
                      "    if (x > 1) return -2; // lockls: ignore[double-lock, lock-leak]\n"
                      "    pthread_mutex_unlock(&m); // lockls: ignore\n    return 0;\n}\n")
    assert main(["--check", "--no-cache", str(source)]) == 0
    assert capsys.readouterr().out == ""
    assert main(["--check", "--no-cache", "--report-unused-suppressions", str(source)]) == 1
    assert capsys.readouterr().out == (
        f"{source}:7:1: warning: unused suppression of `double-lock`: no such finding here to silence "
        "[unused-suppression]\n"
        f"{source}:8:1: warning: unused suppression: no finding here to silence [unused-suppression]\n")

    from lsprotocol import types as T

    from lockls.lsp.diagnostics import document_diagnostics
    from lockls.lsp.session import Session

    session = Session()
    session.open(source.as_uri(), source.read_text(), 1, "c")
    _, diagnostics = document_diagnostics(session, source.as_uri())
    hints = [(d.range.start.line, d.range.start.character, d.severity, d.tags) for d in diagnostics]
    assert hints == [(6, 26, T.DiagnosticSeverity.Hint, [T.DiagnosticTag.Unnecessary]),
                     (7, 30, T.DiagnosticSeverity.Hint, [T.DiagnosticTag.Unnecessary])]
