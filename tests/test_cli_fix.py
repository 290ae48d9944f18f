"""`--fix`, `--diff`, `--unsafe-fixes`, the `fix` and `url` of JSON findings, and the
fixes they share with the editor (lockls.cli.fixing, lockls.cli.adoption,
lockls.report.quickfixes, lockls.report.fixes)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import lockls.cli.check
from lockls.main import build_parser
from lockls.report.findings import FileResult, Finding, Fix, Pos, Span, TextEdit
from lockls.report.fixes import APPLICABILITY, KINDS_BY_RULE
from lockls.report.ruledocs import sections
from lockls.rules import RULES
from cli_support import enter_project, run
from lockls.config import clear_config_cache

FIXTURES = Path(__file__).parent / "fixtures"
HEAD = "#include <pthread.h>\nstruct q { pthread_mutex_t lock; pthread_mutex_t other; int n; };\nint check(struct q *q);\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    yield enter_project(tmp_path, monkeypatch)
    clear_config_cache()



def summary_free(err: str) -> str:
    """stderr without the timing of the summary line."""
    return re.sub(r" in \d+\.\d\d s$", " in T s", err, flags=re.M)


TWICE = """void twice(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    pthread_mutex_lock(&q->lock);
    q->n++;
    pthread_mutex_unlock(&q->lock);
}
"""
TWICE_FIXED = """void twice(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    q->n++;
    pthread_mutex_unlock(&q->lock);
}
"""
LEAK = """int leak(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    if (q->n)
        return -1; /* why */
    pthread_mutex_unlock(&q->lock);
    return 0;
}
"""
LEAK_FIXED = """int leak(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    if (q->n) {
        pthread_mutex_unlock(&q->lock);
        return -1; /* why */
    }
    pthread_mutex_unlock(&q->lock);
    return 0;
}
"""


# -- --fix ------------------------------------------------------------------------------

def test_fix_applies_a_safe_fix_and_reports_what_is_left(project, capsys):
    (project / "a.c").write_text(HEAD + TWICE + LEAK)
    status, out, err = run(capsys, "--check", "--fix")
    assert (project / "a.c").read_text() == HEAD + TWICE_FIXED + LEAK  # the leak's fix is unsafe: left
    assert status == 1
    assert out == "a.c:14:9: warning: `&q->lock` taken at line 12 is still held at this return (held: &q->lock) [lock-leak]\n"
    assert summary_free(err) == ("lockls: 1 fix applied in 1 file\n"
                                 "lockls: 1 file, 2 functions, 1 finding (1 warning) in T s\n")


def test_unsafe_fixes_apply_the_rest(project, capsys):
    (project / "a.c").write_text(HEAD + TWICE + LEAK)
    status, out, err = run(capsys, "--check", "--fix", "--unsafe-fixes")
    assert (project / "a.c").read_text() == HEAD + TWICE_FIXED + LEAK_FIXED
    assert (status, out) == (0, "")
    assert summary_free(err) == "lockls: 2 fixes applied in 1 file\nlockls: 1 file, 2 functions, 0 findings in T s\n"


def test_text_output_says_what_fix_could_do(project, capsys):
    (project / "a.c").write_text(HEAD + TWICE + LEAK)
    status, out, err = run(capsys, "--check")
    assert status == 1
    assert err.endswith("lockls: 1 finding fixable with --fix, 1 more with --fix --unsafe-fixes (--diff shows the changes)\n")


def test_fix_keeps_crlf_line_breaks(project, capsys):
    (project / "a.c").write_bytes((HEAD + LEAK).replace("\n", "\r\n").encode())
    status, _, _ = run(capsys, "--check", "--fix", "--unsafe-fixes")
    assert status == 0
    assert (project / "a.c").read_bytes() == (HEAD + LEAK_FIXED).replace("\n", "\r\n").encode()


def test_fixes_that_touch_each_other_are_applied_in_rounds(project, capsys):
    # two leaks at one return: both releases go before it, one a round
    (project / "a.c").write_text(HEAD + """int two(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    pthread_mutex_lock(&q->other);
    if (q->n)
        return -1;
    pthread_mutex_unlock(&q->other);
    pthread_mutex_unlock(&q->lock);
    return 0;
}
""")
    status, out, err = run(capsys, "--check", "--fix", "--unsafe-fixes")
    assert (status, out) == (0, "")
    assert "lockls: 2 fixes applied in 1 file\n" in err
    assert (project / "a.c").read_text() == HEAD + """int two(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    pthread_mutex_lock(&q->other);
    if (q->n) {
        pthread_mutex_unlock(&q->lock);
        pthread_mutex_unlock(&q->other);
        return -1;
    }
    pthread_mutex_unlock(&q->other);
    pthread_mutex_unlock(&q->lock);
    return 0;
}
"""


def test_one_fix_a_function_a_round(project, capsys):
    # the second lock before the destroy is also why the lock leaks: its fix (an unlock
    # instead) fixes both, and the leak's own fix (an unlock at the end) is not applied
    (project / "a.c").write_text(HEAD + """void end(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    q->n = 0;
    pthread_mutex_lock(&q->lock);
    pthread_mutex_destroy(&q->lock);
}
""")
    status, out, err = run(capsys, "--check", "--fix", "--unsafe-fixes")
    assert (status, out) == (0, "")
    assert "lockls: 1 fix applied in 1 file\n" in err
    assert (project / "a.c").read_text() == HEAD + """void end(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    q->n = 0;
    pthread_mutex_unlock(&q->lock);
    pthread_mutex_destroy(&q->lock);
}
"""


def test_a_fix_that_does_not_fix_is_not_applied_again(project, capsys, monkeypatch):
    path = project / "a.c"
    path.write_text("void f(void) { }\n")
    start = Pos(0, 0, 0, 0)
    span = Span(start, start, 0, 0)

    def stubborn(task, source):  # a finding whose fix leaves it where it was
        fix = Fix("add a comment", (TextEdit(span, "/* x */\n"),), "safe", True)
        return FileResult(task.path, [Finding("lock-leak", "", "m is leaked", task.path, span, "f", (), (fix,))],
                          functions=1)

    monkeypatch.setattr(lockls.cli.check, "_analyze", stubborn)
    status, out, err = run(capsys, "--check", "--fix", "--no-cache")
    assert path.read_text() == "/* x */\nvoid f(void) { }\n"
    assert status == 1 and "lockls: 1 fix applied in 1 file\n" in err


# -- --diff -----------------------------------------------------------------------------

def test_diff_prints_the_changes_and_writes_nothing(project, capsys):
    (project / "a.c").write_text(HEAD + TWICE + LEAK)
    status, out, err = run(capsys, "--check", "--diff", "--unsafe-fixes")
    assert (project / "a.c").read_text() == HEAD + TWICE + LEAK
    assert status == 1
    assert out == """\
--- a/a.c
+++ b/a.c
@@ -3,7 +3,6 @@
 int check(struct q *q);
 void twice(struct q *q)
 {
-    pthread_mutex_lock(&q->lock);
     pthread_mutex_lock(&q->lock);
     q->n++;
     pthread_mutex_unlock(&q->lock);
@@ -11,8 +10,10 @@
 int leak(struct q *q)
 {
     pthread_mutex_lock(&q->lock);
-    if (q->n)
+    if (q->n) {
+        pthread_mutex_unlock(&q->lock);
         return -1; /* why */
+    }
     pthread_mutex_unlock(&q->lock);
     return 0;
 }
"""
    assert err == "lockls: 2 fixes would be applied in 1 file\n"


def test_diff_without_fixes_exits_0(project, capsys):
    (project / "a.c").write_text(HEAD + LEAK)
    assert run(capsys, "--check", "--diff") == (0, "", "lockls: 0 fixes would be applied\n")


def test_diff_of_a_file_without_final_newline(project, capsys):
    (project / "a.c").write_text((HEAD + TWICE).rstrip("\n"))
    status, out, _ = run(capsys, "--check", "--diff")
    assert status == 1
    assert out.endswith(" }\n\\ No newline at end of file\n")


# -- which fixes, and what they do ------------------------------------------------------------

def _fixed(project, capsys, body: str) -> str:
    (project / "a.c").write_text(HEAD + body)
    run(capsys, "--check", "--fix", "--unsafe-fixes")
    return (project / "a.c").read_text()[len(HEAD):]


def test_second_lock_before_a_return_becomes_the_unlock(project, capsys):
    assert _fixed(project, capsys, """void f(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    pthread_mutex_lock(&q->lock);
    return;
}
""") == """void f(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    pthread_mutex_unlock(&q->lock);
    return;
}
"""


def test_braceless_body_removed_with_its_if_when_the_condition_does_nothing(project, capsys):
    assert _fixed(project, capsys, """void f(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    if (q->n > 0)
        pthread_mutex_lock(&q->lock);
    q->n = 0;
    pthread_mutex_unlock(&q->lock);
}
""") == """void f(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    q->n = 0;
    pthread_mutex_unlock(&q->lock);
}
"""


def test_braceless_body_becomes_braces_when_the_condition_does_something(project, capsys):
    assert _fixed(project, capsys, """void f(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    if (check(q)) pthread_mutex_lock(&q->lock);
    pthread_mutex_unlock(&q->lock);
}
""") == """void f(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    if (check(q)) {}
    pthread_mutex_unlock(&q->lock);
}
"""


def test_else_body_removed_with_its_else(project, capsys):
    assert _fixed(project, capsys, """void f(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    if (q->n)
        q->n--;
    else
        pthread_mutex_lock(&q->lock);
    pthread_mutex_unlock(&q->lock);
}
""") == """void f(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    if (q->n)
        q->n--;
    pthread_mutex_unlock(&q->lock);
}
"""


def test_release_is_not_inserted_where_its_variable_is_out_of_scope(project, capsys):
    body = """int f(struct q *qs)
{
    {
        int i = qs[0].n;
        pthread_mutex_lock(&qs[i].lock);
    }
    return 0;
}
"""
    (project / "a.c").write_text(HEAD + body)
    _, out, _ = run(capsys, "--check", "--format", "json")
    assert [(f["rule"], f["line"], f["fix"]) for f in json.loads(out)] == [("lock-leak", 10, [])]
    assert _fixed(project, capsys, body) == body


def test_a_finding_on_some_paths_only_is_never_fixed(project, capsys):
    body = """void f(struct q *q, int x)
{
    if (x)
        pthread_mutex_lock(&q->lock);
    pthread_mutex_lock(&q->lock);
    pthread_mutex_unlock(&q->lock);
}
"""
    (project / "a.c").write_text(HEAD + body)
    run(capsys, "--check", "--format", "json")  # fill the cache
    status, out, _ = run(capsys, "--check", "--format", "json")
    (double,) = [f for f in json.loads(out) if f["rule"] == "double-lock"]
    assert "may already be held" in double["message"]
    assert [(x["title"], x["applicability"]) for x in double["fix"]] == [
        ("Remove this `pthread_mutex_lock` call", "display-only")]
    assert _fixed(project, capsys, body) == body


def test_a_call_that_takes_a_held_lock_is_not_removed(project, capsys):
    # double-lock on a call of a function that takes the lock: removing the call is no fix
    body = """static void bump(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    q->n++;
    pthread_mutex_unlock(&q->lock);
}

void f(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    bump(q);
    pthread_mutex_unlock(&q->lock);
}
"""
    (project / "a.c").write_text(HEAD + body)
    status, out, _ = run(capsys, "--check", "--format", "json")
    assert [(f["rule"], f["fix"]) for f in json.loads(out)] == [("double-lock", [])]


# -- JSON -------------------------------------------------------------------------------

def test_json_findings_carry_their_fixes_and_rule_page(project, capsys):
    (project / "a.c").write_text(HEAD + TWICE)
    status, out, _ = run(capsys, "--check", "--format", "json")
    (finding,) = json.loads(out)
    assert finding["url"] == "https://github.com/lockls/lockls/blob/main/docs/rules/double-lock.md"
    assert finding["fix"] == [{
        "title": "Remove this `pthread_mutex_lock` call",
        "applicability": "safe",
        "preferred": True,
        "edits": [{"path": "a.c", "line": 7, "column": 1, "end_line": 8, "end_column": 1, "new_text": ""}],
    }]


def test_json_fix_of_a_leak(project, capsys):
    (project / "a.c").write_text(HEAD + LEAK)
    _, out, _ = run(capsys, "--check", "--format", "json")
    (finding,) = json.loads(out)
    assert finding["fix"] == [{
        "title": "Release `&q->lock` with `pthread_mutex_unlock` before this return",
        "applicability": "unsafe",
        "preferred": True,
        "edits": [{"path": "a.c", "line": 7, "column": 14, "end_line": 8, "end_column": 29,
                   "new_text": " {\n        pthread_mutex_unlock(&q->lock);\n        return -1; /* why */\n    }"}],
    }]


# -- the command line ---------------------------------------------------------------------

@pytest.mark.parametrize("argv,message", [
    (["--unsafe-fixes"], "--unsafe-fixes needs --fix or --diff"),
    (["--fix", "--diff"], "--fix and --diff cannot be used together"),
    (["--fix", "--add-suppressions"], "--add-suppressions and --fix cannot be used together"),
    (["--fix", "--stdin-filename", "a.c"], "--fix cannot be used with --stdin-filename (it works on the files on disk)"),
])
def test_combinations_that_make_no_sense_are_usage_errors(project, capsys, argv, message):
    status, out, err = run(capsys, "--check", *argv)
    assert status == 2 and err.endswith(f"lockls: error: {message}\n")


def test_fix_options_need_check(project, capsys):
    status, _, err = run(capsys, "--fix")
    assert status == 2 and err.endswith("lockls: error: --fix needs --check\n")


def test_help_says_which_fixes_are_safe():
    text = " ".join(build_parser().format_help().split())
    assert "--fix apply the safe fixes" in text
    assert "removing a lock or unlock call that repeats the statement before it" in text
    assert ("--unsafe-fixes with --fix or --diff, also apply the unsafe fixes: inserting the missing release before a "
            "return, jumping to a cleanup label, replacing a second lock before a return or destroy with its unlock, "
            "removing a lock or unlock call. Never applied: the fixes of a finding on some paths only (\"may ...\"), "
            "suppression comments (--add-suppressions)") in text


@pytest.mark.parametrize("rule", RULES)
def test_rule_pages_say_which_fixes_are_safe(rule):
    fix = " ".join(sections(rule)["Fix"].split())
    kinds = KINDS_BY_RULE.get(rule, ())
    if not kinds:
        assert "No automatic fix (`lockls check --fix` leaves it)" in fix
        return
    for applicability in ("safe", "unsafe"):
        assert (f"**{applicability}**" in fix) == any(APPLICABILITY[k] == applicability for k in kinds), applicability
    assert "never applied by `--fix`" in fix  # a finding on some paths only


# -- fixed fixtures compile and lose their fixed findings ------------------------------------

# fixtures gcc compiles as they are, with many fixable findings of every kind
COMPILED = ["aliases.c", "basics.c", "c11.c", "cleanup.c", "loops.c", "recursive.c", "rwlock.c", "trylock.c"]


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_unsafe_fixes_of_fixtures_compile_and_recheck_clean(project, capsys):
    for name in COMPILED:
        shutil.copy(FIXTURES / name, project / name)
        assert _compiles(project / name), name
    assert run(capsys, "--check", "--baseline", "before.json", "--update-baseline")[0] == 0
    status, out, err = run(capsys, "--check", "--fix", "--unsafe-fixes")
    applied = int(re.search(r"lockls: (\d+) fixes applied", err).group(1))
    assert applied >= 30
    for name in COMPILED:
        assert _compiles(project / name), (project / name).read_text()
    # nothing new: every finding left was there before, and the fixed ones are gone
    status, out, err = run(capsys, "--check", "--baseline", "before.json")
    assert (status, out) == (0, "")
    gone = int(re.search(r"hidden, (\d+) gone \(fixed\)", err).group(1))
    assert gone >= applied


def _compiles(path: Path) -> bool:
    proc = subprocess.run(["gcc", "-fsyntax-only", "-w", str(path)], capture_output=True, text=True)
    return proc.returncode == 0
