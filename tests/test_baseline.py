"""`--baseline FILE` and `--update-baseline` (lockls.cli.baseline, lockls.cli.adoption)."""

from __future__ import annotations

import json
import re

import pytest

from cli_support import enter_project, run
from lockls.config import clear_config_cache

HEAD = "#include <pthread.h>\nstruct q { pthread_mutex_t lock; int n; };\n"
LEAK = """int leak(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    if (q->n)
        return -1;
    pthread_mutex_unlock(&q->lock);
    return 0;
}
"""
TWICE = """void twice(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    pthread_mutex_lock(&q->lock);
    pthread_mutex_unlock(&q->lock);
}
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    yield enter_project(tmp_path, monkeypatch, "src")
    clear_config_cache()



def recorded(project, capsys, name="lockls-baseline.json"):
    status, out, err = run(capsys, "--check", "--baseline", name, "--update-baseline")
    assert (status, out) == (0, ""), err
    return err


def test_update_writes_a_stable_sorted_file_and_exits_0(project, capsys):
    (project / "src" / "a.c").write_text(HEAD + TWICE + LEAK)
    assert recorded(project, capsys) == "lockls: baseline lockls-baseline.json: 2 findings recorded\n"
    text = (project / "lockls-baseline.json").read_text()
    assert json.loads(text) == {"version": 1, "findings": [
        {"path": "src/a.c", "function": "leak", "rule": "lock-leak", "lock": "&q->lock", "statement": "return -1;",
         "count": 1},
        {"path": "src/a.c", "function": "twice", "rule": "double-lock", "lock": "&q->lock",
         "statement": "pthread_mutex_lock(&q->lock)", "count": 1},
    ]}
    recorded(project, capsys)
    assert (project / "lockls-baseline.json").read_text() == text  # the same findings: the same bytes


def test_baselined_findings_are_hidden_even_after_edits_above_them(project, capsys):
    source = project / "src" / "a.c"
    source.write_text(HEAD + TWICE + LEAK)
    recorded(project, capsys)
    source.write_text(HEAD + "/* a comment\n   of three lines */\nint unrelated;\n" + TWICE + "\n\n" + LEAK.replace(
        "    if (q->n)\n", "    if (q->n)   \n"))
    status, out, err = run(capsys, "--check", "--baseline", "lockls-baseline.json")
    assert (status, out) == (0, "")
    assert err.splitlines()[-1] == "lockls: baseline lockls-baseline.json: 2 findings hidden, 0 gone (fixed)"


def test_new_findings_are_reported_and_fail(project, capsys):
    source = project / "src" / "a.c"
    source.write_text(HEAD + LEAK)
    recorded(project, capsys)
    source.write_text(HEAD + LEAK + TWICE)
    status, out, err = run(capsys, "--check", "--baseline", "lockls-baseline.json")
    assert status == 1
    assert out == ("src/a.c:14:5: error: `&q->lock` is taken but it is already held (taken at line 13) "
                   "(held: &q->lock) [double-lock]\n")
    assert "lockls: baseline lockls-baseline.json: 1 finding hidden, 0 gone (fixed)\n" in err


def test_fixed_findings_are_counted_as_gone(project, capsys):
    source = project / "src" / "a.c"
    source.write_text(HEAD + TWICE + LEAK)
    recorded(project, capsys)
    source.write_text(HEAD + LEAK)
    status, out, err = run(capsys, "--check", "--baseline", "lockls-baseline.json")
    assert (status, out) == (0, "")
    assert "lockls: baseline lockls-baseline.json: 1 finding hidden, 1 gone (fixed); --update-baseline forgets it\n" in err


def test_identical_findings_are_counted(project, capsys):
    source = project / "src" / "a.c"
    source.write_text(HEAD + TWICE)
    recorded(project, capsys)
    # the same double lock a second time in the same function: one more than recorded
    source.write_text(HEAD + TWICE.replace("    pthread_mutex_unlock", "    pthread_mutex_lock(&q->lock);\n"
                                                                        "    pthread_mutex_unlock"))
    status, out, err = run(capsys, "--check", "--baseline", "lockls-baseline.json")
    assert status == 1
    assert [line.split(": ")[0] for line in out.splitlines()] == ["src/a.c:7:5"]  # the later one is the new one
    assert "1 finding hidden, 0 gone" in err


def test_paths_are_relative_to_the_baseline_file(project, capsys, monkeypatch):
    (project / "src" / "a.c").write_text(HEAD + LEAK)
    monkeypatch.chdir(project / "src")
    status, _, _ = run(capsys, "--check", "--baseline", "../lockls-baseline.json", "--update-baseline", "a.c")
    assert status == 0
    assert json.loads((project / "lockls-baseline.json").read_text())["findings"][0]["path"] == "src/a.c"
    monkeypatch.chdir(project)
    assert run(capsys, "--check", "--baseline", "lockls-baseline.json")[:2] == (0, "")


def test_a_partial_update_keeps_the_other_files(project, capsys):
    (project / "src" / "a.c").write_text(HEAD + LEAK)
    (project / "src" / "b.c").write_text(HEAD + TWICE)
    recorded(project, capsys)
    (project / "src" / "a.c").write_text(HEAD)  # fixed
    status, _, err = run(capsys, "--check", "--baseline", "lockls-baseline.json", "src/a.c")
    assert status == 0 and "0 findings hidden, 1 gone (fixed)" in err  # b.c was not checked: not gone
    run(capsys, "--check", "--baseline", "lockls-baseline.json", "--update-baseline", "src/a.c")
    assert [e["path"] for e in json.loads((project / "lockls-baseline.json").read_text())["findings"]] == ["src/b.c"]


def test_works_with_every_format_and_statistics(project, capsys):
    source = project / "src" / "a.c"
    source.write_text(HEAD + LEAK)
    recorded(project, capsys)
    source.write_text(HEAD + LEAK + TWICE)
    _, out, err = run(capsys, "--check", "--baseline", "lockls-baseline.json", "--format", "json")
    assert [f["rule"] for f in json.loads(out)] == ["double-lock"]
    assert err == "lockls: baseline lockls-baseline.json: 1 finding hidden, 0 gone (fixed)\n"
    _, out, _ = run(capsys, "--check", "--baseline", "lockls-baseline.json", "--format", "sarif")
    assert [r["ruleId"] for r in json.loads(out)["runs"][0]["results"]] == ["double-lock"]
    _, out, _ = run(capsys, "--check", "--baseline", "lockls-baseline.json", "--format", "github")
    assert out.startswith("::error file=src/a.c,line=14,") and out.count("\n") == 1
    _, out, _ = run(capsys, "--check", "--baseline", "lockls-baseline.json", "--statistics")
    assert re.fullmatch(r"\s+1  double-lock  .*\n", out)


def test_a_missing_baseline_is_an_error(project, capsys):
    (project / "src" / "a.c").write_text(HEAD + LEAK)
    assert run(capsys, "--check", "--baseline", "nope.json") == (
        2, "", "lockls: error: --baseline: nope.json: no such file (write it with --update-baseline)\n")


@pytest.mark.parametrize("text,why", [
    ('{"version": 1, "findings": [', "nope.json:1:29: not a lockls baseline: Expecting value"),
    ('[]', "nope.json: not a lockls baseline: expected a JSON object with `version` and `findings`"),
    ('{"version": 7, "findings": []}', "nope.json: not a lockls baseline: `version` is 7, expected 1"),
    ('{"version": 1, "findings": [{"path": "a.c"}]}', "nope.json: not a lockls baseline: findings[0].function must be a string"),
    ('{"version": 1, "findings": [{"path": "a", "function": "f", "rule": "r", "lock": "", "statement": "", "count": 0}]}',
     "nope.json: not a lockls baseline: findings[0].count must be a positive integer"),
])
def test_a_malformed_baseline_is_an_error_naming_the_file(project, capsys, text, why):
    (project / "src" / "a.c").write_text(HEAD + LEAK)
    (project / "nope.json").write_text(text)
    assert run(capsys, "--check", "--baseline", "nope.json") == (2, "", f"lockls: error: {why}\n")


def test_update_needs_a_baseline_file(project, capsys):
    status, _, err = run(capsys, "--check", "--update-baseline")
    assert status == 2 and err.endswith("lockls: error: --update-baseline needs --baseline FILE\n")


def test_findings_of_rules_turned_off_in_their_file_are_not_gone(project, capsys):
    # baselined leaks in src/ and tests/; then the configuration stops reporting lock-leak
    # in tests/ ([per-file-ignores]) and double-lock everywhere ([rules] select): those
    # findings are no longer looked for, which is not the same as fixed
    (project / "tests").mkdir()
    (project / "src" / "a.c").write_text(HEAD + LEAK)
    (project / "tests" / "t.c").write_text(HEAD + LEAK + TWICE)
    assert recorded(project, capsys) == "lockls: baseline lockls-baseline.json: 3 findings recorded\n"
    (project / ".lockls.toml").write_text('[rules]\nselect = ["lock-leak"]\n\n'
                                          '[per-file-ignores]\n"tests/**" = ["lock-leak"]\n')
    status, out, err = run(capsys, "--check", "--baseline", "lockls-baseline.json")
    assert (status, out) == (0, "")
    assert err.splitlines()[-1] == "lockls: baseline lockls-baseline.json: 1 finding hidden, 0 gone (fixed)"
    # the one in src/ fixed: that one is gone
    (project / "src" / "a.c").write_text(HEAD)
    status, out, err = run(capsys, "--check", "--baseline", "lockls-baseline.json")
    assert err.splitlines()[-1] == ("lockls: baseline lockls-baseline.json: 0 findings hidden, 1 gone (fixed); "
                                    "--update-baseline forgets it")
    # updating forgets it, and keeps what the run did not look for
    run(capsys, "--check", "--baseline", "lockls-baseline.json", "--update-baseline")
    kept = [(e["path"], e["rule"]) for e in json.loads((project / "lockls-baseline.json").read_text())["findings"]]
    assert kept == [("tests/t.c", "lock-leak"), ("tests/t.c", "double-lock")]
