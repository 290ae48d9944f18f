"""No input, however broken, crashes the analysis or `--check`.

Truncations and byte mutations of the real fixtures (unbalanced braces, ERROR
and MISSING nodes everywhere, invalid UTF-8) must give a FileResult: findings
for what is analysable, skipped functions for the rest, and never an internal
error. Functions before the damage keep their findings.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from lockls.engine.driver import analyze_source
from lockls.main import main
from lockls.config import default_config

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("*.c"))
SOURCES = [p.read_bytes() for p in FIXTURES]
CONFIG = default_config()


def _check(source: bytes):
    result = analyze_source(source, "broken.c", CONFIG)
    assert result.error is None
    assert not any("internal error" in s for s in result.skipped), result.skipped
    return result


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(SOURCES))), st.floats(0, 1))
def test_truncated_files_never_crash(index, fraction):
    source = SOURCES[index]
    cut = int(len(source) * fraction)
    _check(source[:cut])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(SOURCES))),
       st.lists(st.tuples(st.floats(0, 1), st.sampled_from([b"{", b"}", b"(", b")", b";", b"#if X\n", b"\xff\xfe",
                                                             b"goto ", b"return", b"/*", b"\"", b"\x00", b":"])),
                min_size=1, max_size=6))
def test_mutated_files_never_crash(index, edits):
    source = bytearray(SOURCES[index])
    for where, text in edits:
        pos = int(len(source) * where)
        source[pos:pos] = text
    _check(bytes(source))


def test_functions_before_the_damage_keep_their_findings():
    source = (Path(__file__).parent / "fixtures" / "basics.c").read_bytes()
    whole = _check(source)
    # cut in the middle of the last function: an unclosed brace, as while typing
    cut = source.rindex(b"pthread_mutex_unlock(&q->lock);")
    damaged = _check(source[:cut])
    before = [f for f in whole.findings if f.span.start_byte < source.rindex(b"/* clean: the same lock spelled differently")]
    assert [(f.rule, f.span.start.line) for f in damaged.findings] == [(f.rule, f.span.start.line) for f in before]
    assert any("queue_spellings" in s for s in damaged.skipped)


def test_check_on_garbage_files(tmp_path, capsys):
    (tmp_path / "binary.c").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "empty.c").write_bytes(b"")
    (tmp_path / "braces.h").write_bytes(b"}}}{{{ int f( { pthread_mutex_lock(&m); ")
    status = main(["--check", "--no-cache", "--jobs", "1", str(tmp_path)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "Traceback" not in captured.err


# -- nothing is read without bounds ------------------------------------------------------

LEAK = b"#include <pthread.h>\nstatic pthread_mutex_t m;\nint f(int x)\n{\n    pthread_mutex_lock(&m);\n" \
       b"    if (x)\n        return -1;\n    pthread_mutex_unlock(&m);\n    return 0;\n}\n"


def _hostile_tree(tmp_path):
    """A tree with a real finding next to what a repository (or an unlucky user) can
    hold: symlinks to endless devices, a FIFO nobody writes, a file over the limit."""
    import os

    (tmp_path / "ok.c").write_bytes(LEAK)
    os.symlink("/dev/zero", tmp_path / "zero.c")
    os.symlink("/dev/urandom", tmp_path / "random.h")
    os.mkfifo(tmp_path / "fifo.c")
    (tmp_path / "big.c").write_bytes(b"int x;\n" * 200)
    return tmp_path


def test_devices_fifos_and_large_files_are_skipped_with_a_message(tmp_path, capsys, monkeypatch):
    """`--check` on such a tree returns (no endless read, no blocked open), reports the
    real finding, and says why each of the others was not read."""
    root = _hostile_tree(tmp_path)
    monkeypatch.chdir(root)
    monkeypatch.setenv("LOCKLS_MAX_FILE_SIZE", "1000")
    status = main(["--check", "--no-cache", "--jobs", "1", "."])
    out, err = capsys.readouterr()
    assert status == 1
    assert out == "ok.c:7:9: warning: `&m` taken at line 5 is still held at this return (held: &m) [lock-leak]\n"
    assert "zero.c: error: cannot read file: not a regular file (a character device)" in err
    assert "random.h: error: cannot read file: not a regular file (a character device)" in err
    assert "fifo.c: error: cannot read file: not a regular file (a FIFO)" in err
    assert "big.c: error: cannot read file: larger than the limit of 1000 bytes (1400 bytes;" in err
    # named explicitly, the same
    assert main(["--check", "--no-cache", "fifo.c"]) == 0
    assert "fifo.c: error: cannot read file: not a regular file (a FIFO)" in capsys.readouterr().err


def test_a_device_or_fifo_as_configuration_is_an_error(tmp_path, capsys):
    root = _hostile_tree(tmp_path)
    for config in ("/dev/zero", str(root / "fifo.c")):
        assert main(["--check", "--no-cache", "--config", config, str(root / "ok.c")]) == 2
        assert "cannot read the configuration: not a regular file" in capsys.readouterr().err


def test_the_server_index_skips_devices_and_fifos(tmp_path):
    """The workspace index reads the same tree without blocking or filling memory, and
    keeps the contracts of the files it can read."""
    from lockls.config import default_config
    from lockls.lsp.workspace import ProjectIndex

    root = _hostile_tree(tmp_path)
    (root / "helpers.c").write_bytes(b"#include <pthread.h>\nstruct q { pthread_mutex_t mu; };\n"
                                     b"void q_lock(struct q *q) { pthread_mutex_lock(&q->mu); }\n"
                                     b"void q_unlock(struct q *q) { pthread_mutex_unlock(&q->mu); }\n")
    import time

    index = ProjectIndex([str(root)], use_cache=False)
    index.start()
    try:
        deadline = time.monotonic() + 60
        while not index.ready and time.monotonic() < deadline:
            time.sleep(0.05)
        assert index.ready
        project = index.project_for(default_config())
        assert project is not None and "q_lock" in dict(project.contracts.functions)
        assert index.files == 3  # ok.c, helpers.c and big.c (under the default limit)
    finally:
        index.stop()


def test_file_names_cannot_inject_lines(tmp_path, capsys, monkeypatch):
    """A file name with a line break (a dangling symlink is enough) is printed escaped:
    it cannot start a line of its own (a GitHub workflow command, a fake finding)."""
    import os

    name = "z\n::stop-commands::pause\n.c"
    os.symlink("missing-target", tmp_path / name)
    (tmp_path / ("w\nfake.c:1:1: error: injected [lock-leak]\n.c")).write_bytes(LEAK)
    monkeypatch.chdir(tmp_path)
    for fmt in ("text", "github", "json", "sarif"):
        main(["--check", "--no-cache", "--format", fmt, "."])
        out, err = capsys.readouterr()
        for line in (out + err).splitlines():
            assert not line.startswith("::stop-commands") and not line.startswith("fake.c"), (fmt, line)
    main(["--check", "--no-cache", "."])
    out, err = capsys.readouterr()
    assert out.startswith("w\\x0afake.c:1:1: error: injected [lock-leak]\\x0a.c:7:9: warning:")
    assert "z\\x0a::stop-commands::pause\\x0a.c: error: cannot read file" in err


# -- no silent loss of findings ----------------------------------------------------------

def _conditional_locks(n: int) -> bytes:
    """`if (cI) lock(&mI);` for n locks, an early return, then the matching unlocks:
    2^n combinations of held locks, more than the analysis keeps apart when n = 5."""
    params = ", ".join(f"int c{i}" for i in range(n))
    lines = ["#include <pthread.h>", f"pthread_mutex_t {', '.join(f'm{i}' for i in range(n))};",
             f"int juggle({params}, int err)", "{"]
    lines += [f"    if (c{i}) pthread_mutex_lock(&m{i});" for i in range(n)]
    lines += ["    if (err)", "        return -1;"]
    lines += [f"    if (c{i}) pthread_mutex_unlock(&m{i});" for i in range(n)]
    lines += ["    return 0;", "}"]
    return "\n".join(lines).encode() + b"\n"


def test_a_function_past_the_precision_bound_says_so(tmp_path, capsys):
    """With 4 locks every leak is found; with 5 the analysis has to forget which are
    held: it says so (the summary line, -v and the editor) instead of going quiet."""
    four, five = tmp_path / "four.c", tmp_path / "five.c"
    four.write_bytes(_conditional_locks(4))
    five.write_bytes(_conditional_locks(5))
    assert main(["--check", "--no-cache", str(four)]) == 1
    out, err = capsys.readouterr()
    assert out.count("[lock-leak]") == 4 and "partly analysed" not in err
    assert main(["--check", "--no-cache", "-v", str(five)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "lockls: 1 file, 1 function, 0 findings, 1 function partly analysed (-v says which)" in err
    assert (f"{five}: partly analysed juggle (line 3): paths disagree on more than 24 combinations of held locks: "
            "whether `&m0`, `&m1`, `&m2`, `&m3` and 1 more are held was forgotten on some of them, so findings "
            "about them may be missing") in err

    from lsprotocol import types as T

    from lockls.lsp.diagnostics import document_diagnostics
    from lockls.lsp.session import Session

    session = Session()
    uri = five.as_uri()
    session.open(uri, five.read_text(), 1, "c")
    version, diagnostics = document_diagnostics(session, uri)
    assert [(d.severity, d.range.start.line, d.range.start.character, d.range.end.character) for d in diagnostics] == [
        (T.DiagnosticSeverity.Information, 2, 4, 10)]
    assert diagnostics[0].message.startswith("lockls analysed `juggle` only in part: paths disagree on more than 24")


def test_a_definition_swallowed_by_many_unclosed_braces_is_counted_as_skipped():
    """From 16 unclosed `{` on, the whole file's root is the parser's ERROR node; the
    definition it swallowed went uncounted (the function after it is still found)."""
    source = ("int g(void) {\n" + "{\n" * 16 + "int f(int a)\n{\n    pthread_mutex_lock(&m);\n    if (a)\n"
              "        return 1;\n    pthread_mutex_unlock(&m);\n    return 0;\n}\n").encode()
    result = _check(source)
    assert result.skipped == ["g (line 1): the parser could not read this definition (unbalanced braces?)"]
    assert [(f.rule, f.span.start.line + 1) for f in result.findings] == [("lock-leak", 22)]


def test_an_unreadable_directory_is_reported(tmp_path, capsys, monkeypatch):
    import os

    from lockls import files

    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "a.c").write_text("int a(void) { return 0; }\n")
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "b.c").write_text("int b(void) { return 0; }\n")
    real = os.scandir

    def scandir(path):
        if str(path).endswith("secret"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(files.os, "scandir", scandir)
    monkeypatch.chdir(tmp_path)
    assert main(["--check", "--no-cache", "."]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[0] == ("lockls: warning: secret: cannot read this directory (Permission denied); "
                                   "its files are not checked")
    assert "1 file, 1 function" in err


def test_configuration_nested_too_deeply_is_a_configuration_error(tmp_path, capsys):
    """tomllib recurses per `[` or `{`: a traceback and exit 1 (read by CI as findings)."""
    (tmp_path / "a.c").write_text("int a(void) { return 0; }\n")
    for text, line in (("a = 1\nb = " + "[" * 2000 + "]" * 2000 + "\n", 2),
                       ("x = " + "{ y = " * 2000 + "1" + " }" * 2000 + "\n", 1)):
        (tmp_path / ".lockls.toml").write_text(text)
        assert main(["--check", "--no-cache", str(tmp_path / "a.c")]) == 2
        out, err = capsys.readouterr()
        assert (out, err) == ("", f"{tmp_path / '.lockls.toml'}:{line}: invalid TOML: nested too deeply\n")


def test_a_cache_entry_nested_too_deeply_is_computed_again(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LOCKLS_CACHE_DIR", str(tmp_path / "cache"))
    source = tmp_path / "leak.c"
    source.write_text("#include <pthread.h>\nstatic pthread_mutex_t m;\nint f(int a)\n{\n    pthread_mutex_lock(&m);\n"
                      "    if (a)\n        return 1;\n    pthread_mutex_unlock(&m);\n    return 0;\n}\n")
    assert main(["--check", str(source)]) == 1
    first, _ = capsys.readouterr()
    entries = [p for p in (tmp_path / "cache").rglob("*.json")]
    assert entries
    for entry in entries:
        entry.write_text("[" * 100_000 + "]" * 100_000)
    assert main(["--check", str(source)]) == 1
    again, _ = capsys.readouterr()
    assert again == first and "lock-leak" in first


def test_a_lone_cr_ends_a_line_for_check_and_the_editor_alike(tmp_path, capsys):
    """LSP clients (and C compilers) end a line at a lone CR, tree-sitter does not: the
    CLI read such a file as one long `#include` line, the editor as nine lines."""
    from lsprotocol import types as T

    from lockls.lsp.diagnostics import document_diagnostics
    from lockls.lsp.session import Session

    lines = ["#include <pthread.h>", "static pthread_mutex_t m;", "int f(int a)", "{", "    pthread_mutex_lock(&m);",
             "    if (a)", "        return 1;", "    pthread_mutex_unlock(&m);", "    return 0;", "}", ""]
    path = tmp_path / "cr.c"
    session = Session()
    uri = path.as_uri()

    def check(text: str) -> list:
        path.write_bytes(text.encode())
        main(["--check", "--no-cache", "--format", "json", str(path)])
        import json
        return [(f["line"] - 1, f["column"] - 1, f["rule"]) for f in json.loads(capsys.readouterr()[0])]

    def editor() -> list:
        _, diagnostics = document_diagnostics(session, uri)
        return [(d.range.start.line, d.range.start.character, d.code) for d in diagnostics]

    text = "\r".join(lines)
    session.open(uri, text, 1, "c")
    assert check(text) == editor() == [(6, 8, "lock-leak")]
    # the CR ending line 0 becomes half of a CRLF, then a lone CR again: still one line break
    edits = [((1, 0), (1, 0), "\n", "\r\n"), ((0, 20), (1, 0), "\r", "\r")]
    for version, (start, end, inserted, joint) in enumerate(edits, 2):
        session.change(uri, version, [T.TextDocumentContentChangePartial(
            range=T.Range(T.Position(*start), T.Position(*end)), text=inserted)])
        text = lines[0] + joint + "\r".join(lines[1:])
        assert session.documents[uri].text == text
        assert check(text) == editor() == [(6, 8, "lock-leak")]


def test_the_editor_does_not_wait_for_the_index(tmp_path):
    """The event loop's analysis took the index's lock and waited while the index read a
    file (a header it never opened froze the editor for 68 s)."""
    import threading

    from lockls.lsp.session import Session
    from lockls.lsp.workspace import ProjectIndex

    path = tmp_path / "leak.c"
    path.write_text("#include <pthread.h>\nstatic pthread_mutex_t m;\nint f(int a)\n{\n    pthread_mutex_lock(&m);\n"
                    "    if (a)\n        return 1;\n    pthread_mutex_unlock(&m);\n    return 0;\n}\n")
    session = Session()
    session.index = ProjectIndex([str(tmp_path)], use_cache=False)  # not started: this test plays its part
    session.open(path.as_uri(), path.read_text(), 1, "c")
    session.index.lock.acquire()  # the index is in the middle of a long file
    try:
        done = []
        worker = threading.Thread(target=lambda: done.append(session.analysis(path.as_uri())), daemon=True)
        worker.start()
        worker.join(60)  # a liveness bound, not a speed one: before, this waited for the lock forever
        assert done and [f.rule for f in done[0].findings] == ["lock-leak"]
    finally:
        session.index.lock.release()


def test_definitions_swallowed_by_the_parser_are_parsed_again_alone():
    """A block opened in each branch of an `#ifdef` makes the parser lose the definition,
    and after a few of them the rest of the file too (its root is one ERROR): such a
    definition is parsed again over its own bytes, first branch only, and analysed."""
    broken = ("void take(int x)\n{\n#ifdef A\n    if (x) {\n#else\n    if (!x) {\n#endif\n"
              "        pthread_mutex_lock(&m);\n    }\n}\n\n")
    clean = ("int poll_once(int x)\n{\n    pthread_mutex_lock(&m);\n#if defined(A)\n    if (x > 1) {\n"
             "#elif defined(B)\n    if (x > 2) {\n#else\n    if (x > 3) {\n#endif\n        pthread_mutex_unlock(&m);\n"
             "        return 1;\n    }\n    pthread_mutex_unlock(&m);\n    return 0;\n}\n")
    source = ("#include <pthread.h>\nstatic pthread_mutex_t m;\n" + broken * 4 + clean).encode()
    from lockls.syntax import nodes as syntax

    assert syntax.new_parser().parse(source).root_node.type == "ERROR"
    result = _check(source)
    assert result.skipped == [] and result.functions == 5
    # each `take` leaks (the lock is taken and never dropped); `poll_once` is clean
    assert [(f.rule, f.function, f.span.start.line + 1) for f in result.findings] == [
        ("lock-leak", "take", line) for line in (12, 23, 34, 45)]


def test_a_macro_parameter_list_of_invalid_utf8_is_read():
    """Found by bench/fuzz.py: a `#define` whose parameter list holds a byte that is not
    UTF-8 (a multi-byte character cut in two) raised UnicodeDecodeError."""
    source = (b"#include <pthread.h>\n#define NO_TSA(a\xe6\x97) __attribute__((no_thread_safety_analysis))\n"
              b"static pthread_mutex_t m;\nvoid f(void)\n{\n    pthread_mutex_lock(&m);\n}\n")
    result = _check(source)
    assert [f.rule for f in result.findings] == ["lock-leak"]


def test_a_lock_wrapper_with_a_name_of_thousands_of_characters():
    """Found by bench/fuzz.py: the lock functions' names are matched by a regex built as a
    prefix tree, a level of recursion per character: a 5,000-character wrapper raised
    RecursionError."""
    name = "q_lock_" + "x" * 5000
    source = (f"#include <pthread.h>\nstruct q {{ pthread_mutex_t lock; }};\nvoid {name}(struct q *q)\n{{\n"
              f"    pthread_mutex_lock(&q->lock);\n}}\nvoid use(struct q *q)\n{{\n    {name}(q);\n"
              f"    {name}(q);\n    pthread_mutex_unlock(&q->lock);\n}}\n").encode()
    result = _check(source)
    assert [(f.rule, f.span.start.line + 1) for f in result.findings] == [("double-lock", 10)]
