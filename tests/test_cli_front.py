"""The command line people expect: `lockls check|server|rule|init`, the help on a
terminal, `--stdin-filename`, "did you mean" for rule names, the exit status through a
broken pipe, and text output on a terminal (colour, the source line with a caret, gcc's
`note:` lines; byte columns).

The real analysis runs on C written to tmp_path; the terminal tests run `lockls` in a
subprocess with a pseudo-terminal.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from cli_support import enter_project, run
from lockls.cli.terminal import SHORT_HELP, show_context, use_color
from lockls.config import clear_config_cache
from lockls.main import main

BUMP_C = """\
#include <pthread.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static int counter;

int bump(int fail)
{
    pthread_mutex_lock(&m);
    counter++;
    if (fail)
        return -1;
    pthread_mutex_unlock(&m);
    return 0;
}
"""

FIXED_C = BUMP_C.replace("        return -1;\n", "        counter--;\n")

LEAK_LINE = "bump.c:11:9: warning: `&m` taken at line 8 is still held at this return (held: &m) [lock-leak]\n"
NOTE_LINE = "bump.c:8:5: note: `&m` taken here\n"
WITH_CONTEXT = (
    LEAK_LINE
    + "   11 |         return -1;\n"
    + "      |         ^~~~~~~~~~\n"
    + NOTE_LINE
    + "    8 |     pthread_mutex_lock(&m);\n"
    + "      |     ^~~~~~~~~~~~~~~~~~~~~~\n"
)

COLOR_ENV = ("NO_COLOR", "FORCE_COLOR", "CLICOLOR_FORCE", "TERM")


@pytest.fixture(autouse=True)
def project(tmp_path, monkeypatch):
    """Every test: a project directory as cwd, its own cache, no colour variables."""
    for name in COLOR_ENV:
        monkeypatch.delenv(name, raising=False)
    yield enter_project(tmp_path, monkeypatch)
    clear_config_cache()


def feed_stdin(monkeypatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode("utf-8")), encoding="utf-8"))


def lockls(*argv: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in COLOR_ENV}
    env.update(kwargs.pop("env", {}))
    return subprocess.run([sys.executable, "-m", "lockls", *argv], cwd=cwd, env=env, timeout=60, **kwargs)


# -- subcommands -------------------------------------------------------------------------

def test_check_subcommand_is_the_check_flag(capsys, project):
    (project / "bump.c").write_text(BUMP_C)
    flag = run(capsys, "--check", "--format", "json", "bump.c")
    command = run(capsys, "check", "bump.c", "--format", "json")
    assert command == flag and command[0] == 1
    assert [(f["rule"], f["line"]) for f in json.loads(command[1])] == [("lock-leak", 11)]
    assert run(capsys, "check", "bump.c")[1] == LEAK_LINE  # plain text: not a terminal


def test_check_subcommand_takes_check_options_only(capsys, project):
    status, _, err = run(capsys, "check", "--stdio")
    assert status == 2 and "lockls check: error: unrecognized arguments: --stdio" in err
    status, out, _ = run(capsys, "check", "--help")
    assert status == 0 and out.startswith("usage: lockls check ") and "--stdin-filename PATH" in out


def test_rule_subcommand_is_explain(capsys):
    assert run(capsys, "rule", "lock-leak") == run(capsys, "--explain", "lock-leak")
    assert run(capsys, "rule", "lock-leak")[1].startswith("lock-leak: a lock taken in the function")


def test_server_subcommand_runs_the_server(monkeypatch, capsys):
    calls = []
    fake = types.ModuleType("lockls.lsp.server")
    fake.main = lambda log_file=None: calls.append(log_file) or 0
    monkeypatch.setitem(sys.modules, "lockls.lsp.server", fake)
    assert main(["server"]) == 0
    assert main(["server", "--log-file", "/tmp/x.log"]) == 0
    assert main(["server", "--stdio"]) == 0  # clients that add --stdio themselves
    assert calls == [None, "/tmp/x.log", None]
    status, _, err = run(capsys, "server", "--format", "json")
    assert status == 2 and "lockls server: error: unrecognized arguments: --format json" in err


def test_init_subcommand_dispatches_to_run_init(monkeypatch):
    calls = []
    fake = types.ModuleType("lockls.cli.init")
    fake.run_init = lambda path, force, stdout, stderr: calls.append((path, force, stdout, stderr)) or 0
    monkeypatch.setitem(sys.modules, "lockls.cli.init", fake)
    assert main(["init"]) == 0
    assert main(["init", "sub", "--force"]) == 0
    assert calls == [(".", False, sys.stdout, sys.stderr), ("sub", True, sys.stdout, sys.stderr)]


def test_help_names_the_commands(capsys):
    status, out, _ = run(capsys, "--help")
    assert status == 0
    assert out.startswith("usage: lockls {check,server,rule,init} ...\n")
    for line in ("  check [PATH ...]  analyse files and directories (default .) and print findings",
                 "  rule NAME         print a rule's documentation (= --explain NAME)",
                 "  init [PATH]       write a starting .lockls.toml in PATH (default .); --force"):
        assert line in out.splitlines()


# -- lockls alone on a terminal ------------------------------------------------------------

def test_lockls_alone_on_a_terminal_prints_help_instead_of_waiting(project):
    import pty

    leader, follower = pty.openpty()
    try:
        proc = lockls(cwd=project, stdin=follower, capture_output=True, text=True)
    finally:
        os.close(follower)
        os.close(leader)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", SHORT_HELP)


def test_lockls_alone_on_a_pipe_runs_the_server(project):
    proc = lockls(cwd=project, input="", capture_output=True, text=True)  # EOF at once: the server stops
    assert proc.returncode == 0 and "Try:" not in proc.stderr


def test_terminal_check_is_made_on_stdin_and_stdio_overrides_it(monkeypatch, capsys):
    calls = []
    fake = types.ModuleType("lockls.lsp.server")
    fake.main = lambda log_file=None: calls.append(log_file) or 0
    monkeypatch.setitem(sys.modules, "lockls.lsp.server", fake)
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(isatty=lambda: True))
    assert run(capsys, "--log-file", "x.log") == (2, "", SHORT_HELP)
    assert main(["--stdio"]) == 0 and main(["server"]) == 0  # asked for: served
    assert calls == [None, None]


# -- did you mean -----------------------------------------------------------------------------

def test_misspelt_rule_names_suggest_the_nearest(capsys, project):
    (project / "bump.c").write_text(BUMP_C)
    cases = {
        ("check", "--select", "lock-lek", "bump.c"): "lockls: error: --select: unknown rule 'lock-lek' (did you mean 'lock-leak'?)",
        ("--check", "--ignore", "double_lock"): "lockls: error: --ignore: unknown rule 'double_lock' (did you mean 'double-lock'?)",
        ("--explain", "Lock-Order"): "lockls: error: --explain: unknown rule 'Lock-Order' (did you mean 'lock-order'?)",
        ("rule", "nested-locks"): "lockls rule: error: unknown rule 'nested-locks' (did you mean 'nested-lock'?)",
    }
    for argv, message in cases.items():
        status, out, err = run(capsys, *argv)
        assert (status, out, err.splitlines()[-1]) == (2, "", message), argv
    status, _, err = run(capsys, "rule", "xyzzy")
    assert status == 2 and err == ("lockls rule: error: unknown rule 'xyzzy' (known rules: lock-leak, double-lock, "
                                   "unlock-unheld, blocking-under-lock, missing-required-lock, excluded-lock-held, "
                                   "lock-order, nested-lock, unguarded-access)\n")


# -- --stdin-filename ---------------------------------------------------------------------------

def test_stdin_text_replaces_the_file_on_disk(capsys, monkeypatch, project):
    (project / "bump.c").write_text(FIXED_C)
    assert run(capsys, "check", "bump.c")[:2] == (0, "")
    feed_stdin(monkeypatch, BUMP_C)
    status, out, _ = run(capsys, "check", "--stdin-filename", "bump.c")
    assert (status, out) == (1, LEAK_LINE)
    feed_stdin(monkeypatch, FIXED_C)  # and the other way round
    (project / "bump.c").write_text(BUMP_C)
    assert run(capsys, "check", "--stdin-filename", "bump.c")[:2] == (0, "")


def test_stdin_file_need_not_exist_and_takes_its_directory_configuration(capsys, monkeypatch, project):
    (project / "sub").mkdir()
    (project / "sub" / ".lockls.toml").write_text('[rules]\nseverity = { lock-leak = "error" }\n')
    feed_stdin(monkeypatch, BUMP_C)
    status, out, _ = run(capsys, "check", "--stdin-filename", "sub/new.c")
    assert (status, out) == (1, "sub/new.c:11:9: error: `&m` taken at line 8 is still held at this return "
                                "(held: &m) [lock-leak]\n")
    assert not (project / "sub" / "new.c").exists()


WRAPPER_C = """\
#include <pthread.h>

pthread_mutex_t big = PTHREAD_MUTEX_INITIALIZER;

void big_lock(void)
{
    pthread_mutex_lock(&big);
}
"""

USER_C = """\
#include <pthread.h>

extern pthread_mutex_t big;
void big_lock(void);

int work(int fail)
{
    big_lock();
    if (fail)
        return -1;
    pthread_mutex_unlock(&big);
    return 0;
}
"""


def test_stdin_file_is_checked_with_the_rest_of_its_project_from_disk(capsys, monkeypatch, project):
    (project / ".git").mkdir()
    (project / "src").mkdir()
    (project / "src" / "lock.c").write_text(WRAPPER_C)
    (project / "src" / "user.c").write_text("int unrelated;\n")  # replaced by stdin's text
    feed_stdin(monkeypatch, USER_C)
    status, out, _ = run(capsys, "check", "--stdin-filename", "src/user.c", "--format", "json")
    assert status == 1
    assert [(f["path"], f["line"], f["column"], f["rule"]) for f in json.loads(out)] == [
        ("src/user.c", 10, 9, "lock-leak")]
    feed_stdin(monkeypatch, USER_C)
    assert run(capsys, "check", "--stdin-filename", "src/user.c", "--no-project-context")[:2] == (0, "")


def test_stdin_text_is_never_cached(capsys, monkeypatch, project, tmp_path):
    def cached_entries():
        return sorted(str(p) for p in (tmp_path / "cache").rglob("*.json"))

    for _ in range(2):
        feed_stdin(monkeypatch, BUMP_C)
        assert run(capsys, "check", "--stdin-filename", "bump.c")[:2] == (1, LEAK_LINE)
    assert cached_entries() == []
    (project / "bump.c").write_text(BUMP_C)
    assert run(capsys, "check", "bump.c")[:2] == (1, LEAK_LINE)
    assert cached_entries() != []  # (the same file from disk is)


def test_stdin_filename_takes_no_path(capsys, monkeypatch, project):
    (project / "bump.c").write_text(BUMP_C)
    feed_stdin(monkeypatch, BUMP_C)
    status, out, err = run(capsys, "check", "--stdin-filename", "bump.c", "bump.c")
    assert (status, out) == (2, "")
    assert err.splitlines()[-1] == "lockls: error: --stdin-filename: no PATH with it (the file is read from stdin)"
    status, _, err = run(capsys, "--stdin-filename", "bump.c")
    assert status == 2 and err.splitlines()[-1] == "lockls: error: --stdin-filename needs --check"


def test_stdin_through_a_real_pipe(project):
    (project / "bump.c").write_text(FIXED_C)
    proc = lockls("check", "--stdin-filename", "bump.c", "--show-context", cwd=project, input=BUMP_C,
                  capture_output=True, text=True)
    assert (proc.returncode, proc.stdout) == (1, WITH_CONTEXT)  # the quoted lines are stdin's


# -- text on a terminal: source lines, carets, notes, colour ---------------------------------------

def test_plain_text_when_not_a_terminal(capsys, project):
    (project / "bump.c").write_text(BUMP_C)
    assert run(capsys, "check", "bump.c")[:2] == (1, LEAK_LINE)
    assert run(capsys, "check", "--no-show-context", "--color", "never", "bump.c")[:2] == (1, LEAK_LINE)


def test_show_context_adds_the_source_line_caret_and_notes(capsys, project):
    (project / "bump.c").write_text(BUMP_C)
    assert run(capsys, "check", "--show-context", "bump.c")[:2] == (1, WITH_CONTEXT)


def test_color_always_is_gcc_coloured(capsys, project):
    (project / "bump.c").write_text(BUMP_C)
    status, out, _ = run(capsys, "check", "--color", "always", "bump.c")
    assert status == 1
    assert out == (
        "\x1b[1mbump.c:11:9:\x1b[0m \x1b[1;35mwarning:\x1b[0m `&m` taken at line 8 is still held at this return "
        "(held: &m) [\x1b[1;35mlock-leak\x1b[0m]\n"
        "   11 |         return -1;\n"
        "      |         \x1b[1;32m^~~~~~~~~~\x1b[0m\n"
        "\x1b[1mbump.c:8:5:\x1b[0m \x1b[1;36mnote:\x1b[0m `&m` taken here\n"
        "    8 |     pthread_mutex_lock(&m);\n"
        "      |     \x1b[1;32m^~~~~~~~~~~~~~~~~~~~~~\x1b[0m\n"
    )
    # colour without the context lines, on request
    status, out, _ = run(capsys, "check", "--color", "always", "--no-show-context", "bump.c")
    assert out.splitlines() == ["\x1b[1mbump.c:11:9:\x1b[0m \x1b[1;35mwarning:\x1b[0m `&m` taken at line 8 is still "
                                "held at this return (held: &m) [\x1b[1;35mlock-leak\x1b[0m]"]


def _on_a_terminal(*argv: str, cwd: Path, env: dict | None = None) -> tuple[int, str]:
    """Run lockls with stdout a pseudo-terminal; its status and what the terminal got."""
    import pty

    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "lockls", *argv], cwd=cwd, stdout=follower,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                env={**{k: v for k, v in os.environ.items() if k not in COLOR_ENV}, **(env or {})})
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed its end
                break
            if not chunk:
                break
            chunks.append(chunk)
        status = proc.wait(timeout=60)
    finally:
        os.close(leader)
    return status, b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def test_a_terminal_gets_colour_and_context_by_default(project):
    (project / "bump.c").write_text(BUMP_C)
    status, shown = _on_a_terminal("check", "bump.c", cwd=project)
    assert status == 1 and shown.startswith("\x1b[1mbump.c:11:9:\x1b[0m \x1b[1;35mwarning:\x1b[0m ")
    assert "      |         \x1b[1;32m^~~~~~~~~~\x1b[0m\n" in shown
    status, shown = _on_a_terminal("check", "bump.c", cwd=project, env={"NO_COLOR": "1"})
    assert (status, shown) == (1, WITH_CONTEXT)  # no colour, still the source lines


def test_force_color_and_no_color(capsys, monkeypatch, project):
    (project / "bump.c").write_text(BUMP_C)
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert run(capsys, "check", "bump.c")[1].startswith("\x1b[1mbump.c:11:9:\x1b[0m")
    monkeypatch.setenv("NO_COLOR", "1")  # wins over FORCE_COLOR, as in Python's own
    assert run(capsys, "check", "bump.c")[1] == LEAK_LINE
    assert run(capsys, "check", "--color", "always", "bump.c")[1].startswith("\x1b[1m")  # the option wins


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("choice, environ, tty, expected", [
    ("auto", {}, True, True),
    ("auto", {}, False, False),
    ("auto", {"NO_COLOR": "1"}, True, False),
    ("auto", {"NO_COLOR": ""}, True, True),  # empty: not set
    ("auto", {"FORCE_COLOR": "1"}, False, True),
    ("auto", {"FORCE_COLOR": "0"}, False, False),
    ("auto", {"CLICOLOR_FORCE": "1"}, False, True),
    ("auto", {"NO_COLOR": "1", "FORCE_COLOR": "1"}, False, False),
    ("auto", {"TERM": "dumb"}, True, False),
    (None, {}, True, True),
    ("always", {"NO_COLOR": "1"}, False, True),
    ("never", {"FORCE_COLOR": "1"}, True, False),
])
def test_color_choice(choice, environ, tty, expected):
    assert use_color(choice, _Tty() if tty else io.StringIO(), environ) is expected


def test_context_follows_the_terminal_unless_told():
    assert show_context(None, False, _Tty(), {}) is True  # NO_COLOR on a terminal: carets, no colour
    assert show_context(None, False, io.StringIO(), {}) is False
    assert show_context(None, True, io.StringIO(), {}) is True  # --color always into less -R
    assert show_context(None, False, _Tty(), {"TERM": "dumb"}) is False  # Emacs' M-x compile, M-x shell
    assert show_context(False, True, _Tty(), {}) is False
    assert show_context(True, False, io.StringIO(), {}) is True


def test_text_columns_are_bytes_and_carets_line_up_with_tabs_and_wide_characters(capsys, project):
    source = BUMP_C.replace("    if (fail)\n        return -1;\n",
                            "\tif (fail)\n\t\t/* é 中 */ return -1;\n")
    (project / "wide.c").write_text(source, encoding="utf-8")
    status, out, _ = run(capsys, "check", "--show-context", "wide.c")
    # bytes before `return`: 2 tabs, "/* " 3, "é" 2, " " 1, "中" 3, " */ " 4 = 15: column 16
    assert status == 1
    assert out.splitlines()[:3] == [
        "wide.c:11:16: warning: `&m` taken at line 8 is still held at this return (held: &m) [lock-leak]",
        "   11 |                 /* é 中 */ return -1;",
        "      |                            ^~~~~~~~~~",  # 16 + 11 display columns: 中 is 2 wide
    ]
    status, out, _ = run(capsys, "check", "--format", "json", "wide.c")
    assert json.loads(out)[0]["column"] == 13  # json still counts characters


def test_control_characters_in_a_quoted_line_do_not_reach_the_terminal(capsys, project):
    source = BUMP_C.replace("        return -1;\n", "        return -1; /* \x1b[2J */\n")
    (project / "esc.c").write_text(source)
    out = run(capsys, "check", "--show-context", "esc.c")[1]
    assert "\x1b" not in out and "   11 |         return -1; /* ?[2J */\n" in out


# -- a reader that goes away ---------------------------------------------------------------------

@pytest.mark.parametrize("fmt, fail_on, status", [("text", "warning", 1), ("json", "warning", 1), ("text", "never", 0)])
def test_broken_pipe_keeps_the_exit_status(project, fmt, fail_on, status):
    (project / "bump.c").write_text(BUMP_C)
    reader, writer = os.pipe()
    os.close(reader)  # `| head -1` that has already exited: every write fails with EPIPE
    try:
        proc = lockls("check", "--format", fmt, "--fail-on", fail_on, "bump.c", cwd=project, stdout=writer,
                      stderr=subprocess.PIPE, text=True)
    finally:
        os.close(writer)
    assert proc.returncode == status
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr and "Exception" not in proc.stderr
    if fmt == "text":  # the summary still comes, on stderr
        assert proc.stderr.startswith("lockls: 1 file, 1 function, 1 finding (1 warning) in ")


def test_broken_pipe_with_explain(project):
    reader, writer = os.pipe()
    os.close(reader)
    try:
        proc = lockls("rule", "lock-leak", cwd=project, stdout=writer, stderr=subprocess.PIPE, text=True)
    finally:
        os.close(writer)
    assert proc.returncode == 0 and proc.stderr == ""
