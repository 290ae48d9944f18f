"""Contracts across the files of a project: annotated prototypes in a header, wrappers
defined in one .c file and used in another, in `lockls --check` and in the server.

The fixture project is tests/crossfile/shop/ (not under tests/fixtures/, whose
harness analyses each file alone): include/queue.h declares lock contracts
(`__acquires`, `__releases`, `__must_hold`, and clang attributes through macros
defined there, plus a static inline wrapper), src/queue.c defines them, src/table.c
defines unannotated wrappers (and a static one), src/pair.c wraps those wrappers,
src/stats.c exports a wrapper whose name src/user.c uses for a static function of
its own, and src/user.c uses all of it: each of its findings needs another file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as T
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

import lockls.cli.check
from lockls.engine import project as proj
from lockls.main import main
from lockls.config import clear_config_cache, config_for
from lockls.dataflow.contracts import Contracts

from lsp.helpers import SERVER_COMMAND, Editor, expect_diagnostics, install_recorder, uri_of, wait

SHOP = Path(__file__).parent / "crossfile" / "shop"

# (path, line, column, severity, rule, message), as `lockls --check .` prints them in the project
EXPECTED = [
    ("src/queue.c", 24, 5, "error", "double-lock",
     "`&q->lock` is taken but it is already held (taken at entry) (held: q->lock)"),
    ("src/user.c", 27, 9, "warning", "lock-leak",
     "`q->lock` taken at line 25 is still held at this return (held: q->lock)"),
    ("src/user.c", 48, 5, "warning", "missing-required-lock",
     "`queue_drain_locked()` requires `q->lock`, which is not held here (held: none)"),
    ("src/user.c", 55, 5, "error", "unlock-unheld",
     "`q->lock` is released but it is not held (released at line 54) (held: none)"),
    ("src/user.c", 62, 9, "warning", "lock-leak",
     "`q->lock` taken at line 60 is still held at this return (held: q->lock)"),
    ("src/user.c", 70, 5, "error", "double-lock",
     "`t->mu` is taken but it is already held (taken at line 69) (held: t->mu)"),
    ("src/user.c", 78, 9, "warning", "lock-leak",
     "`p->left->mu` taken at line 76 is still held at this return (held: p->left->mu)"),
]
EXPECTED_TEXT = "".join(f"{p}:{l}:{c}: {s}: {m} [{r}]\n" for p, l, c, s, r, m in EXPECTED)
USER_C = [e for e in EXPECTED if e[0] == "src/user.c"]
CALLS_TO_REQUIRES = "void queue_drain_locked(struct queue *q) REQUIRES(&q->lock);"


def working_copy(project: Path, tmp_path, monkeypatch, repository: bool = False):
    """A copy of a fixture project (tests edit it), as the working directory, with its
    own cache; `repository`: with a `.git` directory, so the rest of it is read for context."""
    root = tmp_path / project.name
    shutil.copytree(project, root)
    if repository:
        (root / ".git").mkdir()
    monkeypatch.setenv("LOCKLS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(root)
    clear_config_cache()
    yield root
    clear_config_cache()


@pytest.fixture
def shop(tmp_path, monkeypatch):
    yield from working_copy(SHOP, tmp_path, monkeypatch)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def parallel(monkeypatch):
    """Let --jobs 2 start worker processes even for this small project."""
    monkeypatch.setattr(lockls.cli.check, "PARALLEL_MIN_FILES", 2)
    monkeypatch.setattr(lockls.cli.check, "PARALLEL_MIN_BYTES", 0)


# -- lockls --check ----------------------------------------------------------------------------

def test_check_text_uses_every_file_of_the_run(capsys, shop):
    status, out, err = run(capsys, "--check", "--no-cache")
    assert (status, out) == (1, EXPECTED_TEXT)
    assert "6 files, 24 functions, 7 findings (3 errors, 4 warnings)" in err


def test_check_json(capsys, shop):
    status, out, _ = run(capsys, "--check", "--no-cache", "--format", "json")
    found = json.loads(out)
    assert [(f["path"], f["line"], f["column"], f["severity"], f["rule"], f["message"]) for f in found] == EXPECTED
    leak = found[1]
    assert (leak["end_line"], leak["end_column"]) == (27, 19)
    assert leak["related"] == [{"path": "src/user.c", "line": 25, "column": 5, "message": "`q->lock` taken here"}]
    required = found[2]  # the contract was declared in the header
    assert required["related"][-1] == {"path": "include/queue.h", "line": 26, "column": 6,
                                       "message": "`queue_drain_locked()` declared to require `q->lock` here"}


def test_a_file_alone_knows_nothing_of_the_others(capsys, shop):
    """With --no-project-context the contracts come from the files of the run only:
    user.c alone has no finding; without the header, only the wrappers defined in
    src/ count (queue_lock is one) and queue.c's definition is fine without the
    header's __must_hold. By default (the project being the configuration's
    directory) one file is checked as in the whole project."""
    assert run(capsys, "--check", "--no-cache", "src/user.c")[1] == "".join(
        f"{p}:{l}:{c}: {s}: {m} [{r}]\n" for p, l, c, s, r, m in EXPECTED if p == "src/user.c")
    assert run(capsys, "--check", "--no-cache", "--no-project-context", "src/user.c")[:2] == (0, "")
    # without the header, queue_push_locked's body takes q->lock (its __must_hold is unknown):
    # calling it with q->lock held is a self-deadlock
    found = [(p, l, c, s, r, m) for p, l, c, s, r, m in EXPECTED if p == "src/user.c" and l in (27, 70, 78)]
    found.insert(1, ("src/user.c", 28, 5, "error", "double-lock",
                     "`queue_push_locked()` takes `q->lock`, which is already held here (taken at line 25): "
                     "a self-deadlock (held: q->lock)"))
    assert run(capsys, "--check", "--no-cache", "--no-project-context", "src")[1] == "".join(
        f"{p}:{l}:{c}: {s}: {m} [{r}]\n" for p, l, c, s, r, m in found)
    # the header's static inline acquire function has no caller in this run that relies on it
    assert run(capsys, "--check", "--no-cache", "--no-project-context", "src/queue.c", "include/queue.h")[1] == (
        "include/queue.h:32:1: warning: `&q->lock` taken at line 31 is still held at the end of the function "
        "(held: &q->lock); if `queue_lock_inline` is meant to return holding it, say so: an annotation "
        "(`__acquires`, `ACQUIRE`) or `[functions.queue_lock_inline]` in .lockls.toml [lock-leak]\n"
        + EXPECTED_TEXT.splitlines(True)[0])


def test_jobs_1_and_2_agree(capsys, shop, monkeypatch):
    parallel(monkeypatch)
    for fmt in ("text", "json"):
        serial = run(capsys, "--check", "--no-cache", "--jobs", "1", "--format", fmt)
        two = run(capsys, "--check", "--no-cache", "--jobs", "2", "--format", fmt, "-v")
        assert serial[:2] == two[:2]
        assert "reading the contracts of 6 files in 2 worker processes" in two[2]
        assert "analysing 6 files in 2 worker processes" in two[2]
    assert serial[1].count('"rule"') == len(EXPECTED)


def test_warm_cache_equals_cold(capsys, shop, monkeypatch):
    parallel(monkeypatch)
    cold = run(capsys, "--check", "--jobs", "2", "--format", "json")
    warm = run(capsys, "--check", "--jobs", "1", "--format", "json", "-v")
    assert cold[:2] == warm[:2]
    assert warm[2].count("cache hit") == 6
    assert "contracts:" not in warm[2]  # what each file was analysed under is cached too
    assert run(capsys, "--check", "--no-cache", "--format", "json")[:2] == cold[:2]


def test_editing_the_header_invalidates_its_users_only(capsys, shop):
    assert run(capsys, "--check")[1] == EXPECTED_TEXT
    header = shop / "include" / "queue.h"
    text = header.read_text()
    header.write_text(text.replace(CALLS_TO_REQUIRES, "void queue_drain_locked(struct queue *q);"))
    status, out, err = run(capsys, "--check", "-v")
    assert out == "".join(line for line in EXPECTED_TEXT.splitlines(True) if "missing-required-lock" not in line)
    # user.c did not change, but what it uses did (and queue.c defines it, under the
    # contract); the files that do not mention queue_drain_locked are cached
    for affected in ("src/user.c", "src/queue.c", "include/queue.h"):
        assert f"lockls: {affected}: analysed" in err
    for unaffected in ("src/table.c", "src/pair.c", "src/stats.c"):
        assert f"lockls: {unaffected}: cache hit" in err
    assert "contracts: 1 file(s) to read, 5 from the cache" in err
    # and back: the first results are served from the cache again
    header.write_text(text)
    status, out, err = run(capsys, "--check", "-v")
    assert out == EXPECTED_TEXT and err.count("cache hit") == 6


def test_editing_a_wrapper_reaches_the_wrapper_of_the_wrapper(capsys, shop):
    run(capsys, "--check")
    table = shop / "src" / "table.c"
    table.write_text(table.read_text().replace("""void table_lock(struct table *t)
{
    pthread_mutex_lock(&t->mu);
}""", """void table_lock(struct table *t)
{
    t->n++;
}"""))
    status, out, err = run(capsys, "--check", "-v")
    assert out == "".join(line for line in EXPECTED_TEXT.splitlines(True) if "t->mu" not in line and "p->left" not in line)
    assert "lockls: include/queue.h: cache hit" in err and "lockls: src/queue.c: cache hit" in err


def test_each_configuration_is_its_own_project(capsys, shop):
    """Files under another .lockls.toml do not share contracts with the others."""
    (shop / "src" / "pair.c").rename(shop / "pair.c")
    other = shop / "other"
    other.mkdir()
    (shop / "src" / "table.c").rename(other / "table.c")
    (other / ".lockls.toml").write_text('presets = ["pthread", "c11"]\n')
    out = run(capsys, "--check", "--no-cache")[1]
    assert "t->mu" not in out and "p->left" not in out and "`q->lock` taken at line 25" in out


# -- the project module ------------------------------------------------------------------------

def scan(text: str, path: str = "x.c") -> proj.FileContracts:
    return proj.scan_source(text.encode(), path, config_for(str(SHOP / "src" / "x.c")))


def test_static_functions_are_not_exported_by_c_files():
    text = """
#include <pthread.h>
struct t { pthread_mutex_t mu; };
static void a_lock(struct t *t) { pthread_mutex_lock(&t->mu); }
static inline void b_lock(struct t *t) { pthread_mutex_lock(&t->mu); }
void c_lock(struct t *t) { pthread_mutex_lock(&t->mu); }
static void d_lock(struct t *t) __acquires(&t->mu);
#ifdef X
static void e_lock(struct t *t) __attribute__((acquire_capability(&t->mu)));
#endif
"""
    c = scan(text)
    assert [n for n, _ in c.own.functions] == ["a_lock", "b_lock", "c_lock", "d_lock", "e_lock"]
    assert [n for n, _ in c.exported.functions] == ["c_lock"]
    assert c.static == ("a_lock", "b_lock", "d_lock", "e_lock")
    assert scan(text, "x.h").exported == c.own  # a header's static inline functions are everyone's


def test_merge_order_headers_first_then_paths():
    def fc(name, lock):
        from lockls.config import LockFunction

        fn = LockFunction(name, "acquire", lock)
        return proj.FileContracts(Contracts((( name, fn),)), Contracts(((name, fn),)))

    files = {"/p/b.c": fc("f", "arg1"), "/p/a.c": fc("f", "arg2"), "/p/z.h": fc("f", "arg0")}
    assert proj.merge_files(files).functions[0][1].lock == "arg0"
    del files["/p/z.h"]
    assert proj.merge_files(files).functions[0][1].lock == "arg2"


def test_relevant_contracts_are_those_the_file_names():
    config = config_for(str(SHOP / "src" / "x.c"))
    header = scan((SHOP / "include" / "queue.h").read_text(), "queue.h")
    project = proj.Project(proj.merge_files({"queue.h": header}), config)
    assert project.relevant(b"int f(void) { return 0; }", Contracts()) == Contracts()
    used = project.relevant(b"void f(struct queue *q) { queue_lock(q); queue_lock_inline(q); }", Contracts())
    assert [n for n, _ in used.functions] == ["queue_lock", "queue_lock_inline"]
    # a word inside a longer identifier is not a use; the file's own or static functions win
    assert project.relevant(b"void f(void) { my_queue_lock(); }", Contracts()) == Contracts()
    mine = scan("void queue_lock(int *l) __acquires(l);")
    assert project.relevant(b"void f(struct queue *q) { queue_lock(q); }", mine.own) == Contracts()
    # what the file's body of a function suggests yields to what another file declares of it
    inferred = scan("void queue_lock(struct queue *q) { pthread_mutex_lock(&q->lock); }")
    assert [n for n, _ in project.relevant(b"void f(struct queue *q) { queue_lock(q); }", inferred.own).functions] \
        == ["queue_lock"]
    assert project.relevant(b"void f(struct queue *q) { queue_lock(q); }", Contracts(), static={"queue_lock"}) == Contracts()
    # the fingerprint: the configuration's when nothing is used
    assert proj.fingerprint("abc", Contracts()) == "abc" and proj.fingerprint("abc", used) != "abc"


def test_words_after_edits_match_a_full_scan():
    config = config_for(str(SHOP / "src" / "x.c"))
    header = scan((SHOP / "include" / "queue.h").read_text(), "queue.h")
    project = proj.Project(proj.merge_files({"queue.h": header}), config)
    before = b"void f(struct queue *q) { queue_lock(q); queue_unlock(q); }"
    words = project.words_in(before)
    assert words == {"queue_lock", "queue_unlock"}
    at = before.index(b"queue_unlock")
    after = before[:at] + b"x" + before[at:]  # `xqueue_unlock`: no longer a use
    assert project.words_after_edits(after, words, [(at, at + 1)]) == {"queue_lock"} == project.words_in(after)
    after = before[:at + 5] + before[at + 7:]  # `queueunlock` ... then typed back
    assert project.words_after_edits(before, project.words_in(after), [(at + 5, at + 7)]) == words


def test_codec_round_trip():
    c = scan((SHOP / "include" / "queue.h").read_text(), "queue.h")
    data = json.loads(json.dumps(proj.encode(c)))
    assert proj.decode(data) == c
    with pytest.raises(ValueError):
        proj.decode({"@": "os.system"})


# -- the language server -------------------------------------------------------------------------

SERVER_ENV = {**os.environ, "LOCKLS_CACHE_DIR": tempfile.mkdtemp(prefix="lockls-test-cache-")}


@pytest_lsp.fixture(params=["visual_studio_code", "neovim"],
                    config=ClientServerConfig(server_command=SERVER_COMMAND, server_env=SERVER_ENV))
async def client(lsp_client: LanguageClient, request, tmp_path):
    """A server whose workspace is a copy of the project, there before `initialize`."""
    shutil.copytree(SHOP, tmp_path, dirs_exist_ok=True)
    install_recorder(lsp_client)
    lsp_client.registrations = []

    @lsp_client.feature(T.CLIENT_REGISTER_CAPABILITY)
    def register(params: T.RegistrationParams):
        lsp_client.registrations.extend(params.registrations)
    result = await wait(lsp_client.initialize_session(T.InitializeParams(
        capabilities=client_capabilities(request.param), root_uri=tmp_path.as_uri(),
        workspace_folders=[T.WorkspaceFolder(tmp_path.as_uri(), "shop")])))
    lsp_client.encoding = result.capabilities.position_encoding or "utf-16"
    lsp_client.client_name = request.param
    lsp_client.root = tmp_path
    lsp_client.initialized(T.InitializedParams())
    yield
    await wait(lsp_client.shutdown_session())


def as_check(diagnostics) -> list:
    return sorted((d.range.start.line + 1, d.range.start.character + 1, d.code, d.message) for d in diagnostics)


def check_findings(root: Path, path: str) -> list:
    clear_config_cache()
    cwd = os.getcwd()
    os.chdir(root)
    try:
        report = lockls.cli.check.collect(lockls.cli.check.CheckOptions(paths=["."], use_cache=False, jobs=1), lambda m: None)
    finally:
        os.chdir(cwd)
    return sorted((f.span.start.line + 1, f.span.start.char_col + 1, f.rule, f.text)
                  for f in report.findings if os.path.relpath(f.path, root) == path)


async def open_file(client, relative: str) -> Editor:
    path = client.root / relative
    ed = Editor(client, path, path.read_text(), client.encoding)
    ed.waiter = expect_diagnostics(client, lambda p: p.uri == ed.uri)
    client.text_document_did_open(T.DidOpenTextDocumentParams(
        T.TextDocumentItem(uri=ed.uri, language_id="c", version=ed.version, text=ed.text)))
    return ed


def published(client, uri: str, expected: list):
    return expect_diagnostics(client, lambda p: p.uri == uri and as_check(p.diagnostics) == expected)


async def test_server_shows_what_check_shows(client: LanguageClient):
    """Only user.c is open: the rest of the project is read from disk in the background."""
    expected = check_findings(client.root, "src/user.c")
    assert [e[2] for e in expected] == [e[4] for e in USER_C]
    ed = Editor(client, client.root / "src" / "user.c", (client.root / "src" / "user.c").read_text(), client.encoding)
    done = published(client, ed.uri, expected)
    client.text_document_did_open(T.DidOpenTextDocumentParams(
        T.TextDocumentItem(uri=ed.uri, language_id="c", version=0, text=ed.text)))
    params = await wait(done)
    assert params.version == 0
    leak = next(d for d in params.diagnostics if d.range.start.line == 26)
    assert leak.related_information[0].location.range.start == T.Position(24, 4)
    # queue.c's definition starts with the lock held: the header's __must_hold
    queue = Editor(client, client.root / "src" / "queue.c", (client.root / "src" / "queue.c").read_text(), client.encoding)
    done = published(client, queue.uri, check_findings(client.root, "src/queue.c"))
    client.text_document_did_open(T.DidOpenTextDocumentParams(
        T.TextDocumentItem(uri=queue.uri, language_id="c", version=0, text=queue.text)))
    assert [d.code for d in (await wait(done)).diagnostics] == ["double-lock"]


async def test_editing_an_open_wrapper_updates_its_users(client: LanguageClient):
    user = client.root / "src" / "user.c"
    user_uri = uri_of(user)
    everything = check_findings(client.root, "src/user.c")
    done = published(client, user_uri, everything)
    client.text_document_did_open(T.DidOpenTextDocumentParams(
        T.TextDocumentItem(uri=user_uri, language_id="c", version=0, text=user.read_text())))
    await wait(done)

    # table.c's buffer: table_lock no longer takes the lock (not saved)
    table = Editor(client, client.root / "src" / "table.c", (client.root / "src" / "table.c").read_text(), client.encoding)
    assert await table.open() == []
    without = [e for e in everything if "t->mu" not in e[3] and "p->left" not in e[3]]
    done = published(client, user_uri, without)
    at = table.find("pthread_mutex_lock(&t->mu);")
    assert await table.change(at, at + len("pthread_mutex_lock(&t->mu);"), "t->n++;") == []
    await wait(done)

    # typed back: the double lock and the leak through pair_lock (a wrapper of it) return
    done = published(client, user_uri, everything)
    await table.change(at, at + len("t->n++;"), "pthread_mutex_lock(&t->mu);")
    await wait(done)

    # the header's buffer: REQUIRES() removed from the prototype
    header = Editor(client, client.root / "include" / "queue.h",
                    (client.root / "include" / "queue.h").read_text(), client.encoding)
    await header.open()
    done = published(client, user_uri, [e for e in everything if e[2] != "missing-required-lock"])
    at = header.find(" REQUIRES(&q->lock);")
    await header.change(at, at + len(" REQUIRES(&q->lock)"), "")
    await wait(done)

    # closed without saving: the file on disk counts again
    done = published(client, user_uri, everything)
    await header.close()
    await wait(done)


async def test_files_changed_on_disk_are_read_again(client: LanguageClient):
    """A C file that is not open changes on disk (a checkout, another editor): the
    client's watcher tells the server, which reads its contracts again."""
    user = client.root / "src" / "user.c"
    user_uri = uri_of(user)
    everything = check_findings(client.root, "src/user.c")
    done = published(client, user_uri, everything)
    client.text_document_did_open(T.DidOpenTextDocumentParams(
        T.TextDocumentItem(uri=user_uri, language_id="c", version=0, text=user.read_text())))
    await wait(done)
    if client.client_name == "visual_studio_code":  # dynamic registration: C files are watched too
        options = [r.register_options for r in client.registrations if r.method == T.WORKSPACE_DID_CHANGE_WATCHED_FILES]
        assert "**/*.{c,h}" in repr(options)

    pair = client.root / "src" / "pair.c"
    pair.write_text(pair.read_text().replace("table_lock(p->left);", "(void)p;"))
    done = published(client, user_uri, [e for e in everything if "p->left" not in e[3]])
    client.workspace_did_change_watched_files(T.DidChangeWatchedFilesParams(
        changes=[T.FileEvent(uri=uri_of(pair), type=T.FileChangeType.Changed)]))
    await wait(done)
    assert check_findings(client.root, "src/user.c") == [e for e in everything if "p->left" not in e[3]]


DRIVER = Path(__file__).parent / "crossfile" / "driver"


def test_guards_order_and_entry_points_across_files(tmp_path, monkeypatch, capsys):
    """include/dev.h declares a guarded field and a lock order, src/ops.c a method
    table naming functions src/dev.c defines: each finding in dev.c needs both."""
    root = tmp_path / "driver"
    shutil.copytree(DRIVER, root)
    monkeypatch.setenv("LOCKLS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(root)
    clear_config_cache()
    status, out, _ = run(capsys, "--check", ".")
    assert status == 1
    assert out == (
        "src/dev.c:6:12: warning: `d->count` is used but its lock `d->lock` is not held (held: none) [unguarded-access]\n"
        "src/dev.c:12:5: error: `&d->lock` is released but it is not held (dev_reset is an entry point: nothing is "
        "held when it starts) (held: none) [unlock-unheld]\n"
        # the guard is an annotation in a header dev.c includes: checked in every function,
        # and dev_count_locked says it needs no lock (clang reports it too)
        "src/dev.c:17:12: warning: `d->count` is used but its lock `d->lock` is not held (held: none) [unguarded-access]\n"
        "src/dev.c:23:5: error: `&registry_lock` is taken while `&stats_lock`, declared to be acquired after it, "
        "is held (taken at line 22) (held: &stats_lock) [lock-order]\n")
    status, out, _ = run(capsys, "--check", "--format", "json", ".")
    related = {(f["line"], f["rule"]): [(r["path"], r["line"], r["column"], r["message"]) for r in f["related"]]
               for f in json.loads(out)}
    assert related[(6, "unguarded-access")] == [("include/dev.h", 13, 9, "`count` is declared guarded here")]
    assert related[(23, "lock-order")] == [
        ("src/dev.c", 22, 5, "`&stats_lock` taken here"),
        ("include/dev.h", 22, 24, "order of `registry_lock` and `stats_lock` declared here")]
    # alone, dev.c knows neither the guards, the order nor its entry points
    status, out, _ = run(capsys, "--check", "--no-project-context", "src/dev.c")
    assert (status, out) == (0, "")
    # by default the rest of the project (the configuration's directory) is read
    status, out, _ = run(capsys, "--check", "src/dev.c")
    assert status == 1 and "lock-order" in out
    clear_config_cache()


def test_cached_related_places_follow_the_header_they_point_into(tmp_path, monkeypatch, capsys):
    """A comment added at the top of the header changes no contract, so dev.c's result
    key stays the same; its related places in the header move down a line all the same."""
    root = tmp_path / "driver"
    shutil.copytree(DRIVER, root)
    monkeypatch.setenv("LOCKLS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(root)
    clear_config_cache()

    def related():
        status, out, _ = run(capsys, "--check", "--format", "json", ".")
        return {(f["line"], f["rule"]): [(r["path"], r["line"]) for r in f["related"] if r["path"] != f["path"]]
                for f in json.loads(out)}

    assert related()[(6, "unguarded-access")] == [("include/dev.h", 13)]
    header = root / "include" / "dev.h"
    header.write_text("/* a comment that moves every declaration down a line */\n" + header.read_text())
    assert related()[(6, "unguarded-access")] == [("include/dev.h", 14)]
    clear_config_cache()


SUMMARIES = Path(__file__).parent / "crossfile" / "summaries"
SUMMARIES_EXPECTED = (
    "src/bin.c:41:1: warning: `b->mu` taken at line 39 is still held at the end of the function (held: b->mu); "
    "if `bin_reset` is meant to return holding it, say so: an annotation (`__acquires`, `ACQUIRE`) or "
    "`[functions.bin_reset]` in .lockls.toml [lock-leak]\n"
    "src/use.c:17:9: warning: `b->mu` taken at line 15 is still held at this return (held: b->mu) [lock-leak]\n")


@pytest.fixture
def summaries(tmp_path, monkeypatch):
    yield from working_copy(SUMMARIES, tmp_path, monkeypatch)


def test_summaries_across_files(summaries, monkeypatch, capsys):
    """summaries/: lock macros over annotated `_at` functions whose annotation macros
    are written over two lines in another header; a releaser of any size in another
    file; an acquire function trusted because a caller in another file relies on it,
    and one reported because none does; a function opted out through a project macro.
    Cold, warm and with two workers alike."""
    root = summaries
    parallel(monkeypatch)
    assert run(capsys, "--check", ".")[:2] == (1, SUMMARIES_EXPECTED)
    assert run(capsys, "--check", ".")[:2] == (1, SUMMARIES_EXPECTED)  # from the cache
    assert run(capsys, "--check", "--no-cache", "--jobs", "2", ".")[:2] == (1, SUMMARIES_EXPECTED)
    # without the caller that relies on it, bin_open's own leak is reported too
    (root / "src" / "use.c").write_text((root / "src" / "use.c").read_text().replace("bin_open(b);", "bin_lock(b);"))
    out = run(capsys, "--check", ".")[1]
    assert "if `bin_open` is meant to return holding it" in out


def test_one_file_is_checked_as_in_the_tree(summaries, capsys):
    """In a project (here: a .git directory), checking one file reads the rest of the
    project for its contracts: the same findings as checking the tree, cold and
    warm; --no-project-context checks the file alone."""
    (summaries / ".git").mkdir()
    lines = SUMMARIES_EXPECTED.splitlines(True)
    for _ in range(2):  # cold, then from the cache
        assert run(capsys, "--check", "src/bin.c")[:2] == (1, lines[0])
        assert run(capsys, "--check", "src/use.c")[:2] == (1, lines[1])
    status, out, err = run(capsys, "--check", "--no-cache", "-v", "src/bin.c")
    assert "reading 3 other file(s) of the project for their contracts" in err
    assert "lockls: 1 file, 6 functions, 1 finding" in err
    # alone, the macros of include/ are unknown: bin_reset takes nothing
    assert run(capsys, "--check", "--no-cache", "--no-project-context", "src/bin.c")[:2] == (0, "")


def test_session_with_its_project_matches_check_after_random_edits(summaries, capsys):
    """The parity property across files: the server's session, with its workspace index
    of the other files, reports for an edited buffer exactly what `--check` reports for
    the same text saved in the project (seeded random edits inside function bodies)."""
    import random

    from lockls.lsp.session import Session
    from lockls.lsp.uris import path_to_uri

    use = summaries / "src" / "use.c"
    uri = path_to_uri(str(use))
    s = Session()
    s.start_index([str(summaries)], lambda: None)
    try:
        assert s.index.wait_ready(30)
        text = use.read_text()
        s.open(uri, text, 0, "c")
        s.analysis(uri)
        rnd = random.Random(11)
        compared = 0
        snippets = ["bin_lock(b);", "bin_unlock(b);", "return -1;", "", "b->count++;", "if (n)\n", "bin_put(b);"]
        for version in range(1, 25):
            bodies = [i for i in range(len(text)) if text.startswith("\n    ", i)]
            if not bodies:
                break
            start = rnd.choice(bodies) + 1
            end = start + rnd.choice([0, 0, 4, 12])
            new = rnd.choice(snippets)
            doc = s.documents[uri]
            rng = T.Range(T.Position(*doc.position_of(len(text[:start].encode()), s.encoding)),
                          T.Position(*doc.position_of(len(text[:end].encode()), s.encoding)))
            text = text[:start] + new + text[end:]
            s.change(uri, version, [T.TextDocumentContentChangePartial(range=rng, text=new)])
            if version % 4 == 0:
                got = sorted((f.site.start[0] + 1, f.site.start[1] + 1, f.rule, str(f.message))
                             for f in s.analysis(uri).findings)
                use.write_text(text)
                status, out, _ = run(capsys, "--check", "--no-cache", "--format", "json", ".")
                expected = sorted((f["line"], f["column"], f["rule"], f["message"])
                                  for f in json.loads(out) if f["path"] == "src/use.c")
                assert got == expected, f"after edit {version}:\n{got}\n{expected}"
                compared += 1
        assert compared >= 4
    finally:
        s.index.stop()


def test_show_summary_says_what_and_why(summaries, capsys):
    assert run(capsys, "--show-summary", "bin_open", ".")[:2] == (0, (
        "bin_open: acquire arg0->mu [every file: inferred from its body; a caller in the project releases what "
        "it returns holding]\n"))
    status, out, _ = run(capsys, "--show-summary", "bin_reset", ".")
    assert status == 0 and out.startswith("bin_reset: acquire arg0->mu [every file: inferred from its body, but not used")
    assert run(capsys, "--show-summary", "bin_put_and_unlock", ".")[:2] == (
        0, "bin_put_and_unlock: release arg0->mu [every file: inferred from its body]\n")
    assert run(capsys, "--show-summary", "bin_unlock_at", "include")[:2] == (
        0, f"bin_unlock_at: release arg0->mu [every file: declared in {os.path.join('include', 'inventory.h')}]\n")
    assert run(capsys, "--show-summary", "bin_add", ".")[:2] == (0, (
        "bin_add: takes and drops arg0->mu itself (calling it with that held is a self-deadlock) "
        "[every file: inferred from its body]\n"))
    status, out, _ = run(capsys, "--show-summary", "bin_count", ".")
    assert status == 1 and out.startswith("bin_count: does nothing lockls can see")


MACROS = Path(__file__).parent / "crossfile" / "macros"
MACROS_EXPECTED = (
    "src/checkout.c:8:9: warning: `c->mu` taken at line 6 is still held at this return (held: c->mu) [lock-leak]\n"
    "src/checkout.c:11:5: warning: `cart_add_locked()` requires `c->mu`, which is not held here (held: none) "
    "[missing-required-lock]\n"
    "src/checkout.c:12:12: warning: `c->items` is used but its lock `c->mu` is not held (held: none) "
    "[unguarded-access]\n")


def test_annotation_macros_defined_in_another_header(tmp_path, monkeypatch, capsys):
    """compiler.h defines SHOP_REQUIRES & co; cart.h uses them on prototypes and a
    field; checkout.c calls the functions: every finding needs both headers, cold,
    warm and with two workers alike."""
    root = tmp_path / "macros"
    shutil.copytree(MACROS, root)
    monkeypatch.setenv("LOCKLS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(root)
    parallel(monkeypatch)
    clear_config_cache()
    assert run(capsys, "--check", ".")[:2] == (1, MACROS_EXPECTED)
    assert run(capsys, "--check", ".")[:2] == (1, MACROS_EXPECTED)  # from the cache
    assert run(capsys, "--check", "--no-cache", "--jobs", "2", ".")[:2] == (1, MACROS_EXPECTED)
    # the definition annotated with the macro starts with the lock held: no finding in it
    (root / "include" / "compiler.h").write_text(
        (root / "include" / "compiler.h").read_text().replace("SHOP_GUARDED_BY(x) __attribute__((guarded_by(x)))",
                                                              "SHOP_GUARDED_BY(x)"))
    status, out, _ = run(capsys, "--check", ".")
    assert "unguarded-access" not in out and "missing-required-lock" in out
    clear_config_cache()


HEADER_WRAPPERS = Path(__file__).parent / "crossfile" / "header_wrappers"


def test_a_headers_macro_wins_over_a_presets_function_of_that_name(tmp_path, monkeypatch, capsys):
    """include/sync.h defines `mutex_trylock` as pthreads' (0: taken), a name the linux
    preset gives the kernel's meaning (non-zero: taken): the file that includes the header
    follows the header, also when it reads the header's contract from the project."""
    root = tmp_path / "header_wrappers"
    shutil.copytree(HEADER_WRAPPERS, root)
    monkeypatch.setenv("LOCKLS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(root)
    clear_config_cache()
    expected = ("src/table.c:24:9: warning: `&table_lock` taken at line 21 is still held at this return "
                "(held: &table_lock) [lock-leak]\n")
    assert run(capsys, "--check", ".")[:2] == (1, expected)
    assert run(capsys, "--check", ".")[:2] == (1, expected)  # from the cache
    assert run(capsys, "--check", "src/table.c")[:2] == (1, expected)  # the header read as project context
    clear_config_cache()


LOCKGRAPH = Path(__file__).parent / "crossfile" / "lockgraph"
LOCKGRAPH_EXPECTED = (
    "src/audit.c:16:5: error: `account_zero()` takes `a->lock` while `&l->lock` is held (taken at line 15), but "
    "`post()` (in post.c) takes `&l->lock` while holding `&a->lock`: a possible deadlock (lock cycle "
    "struct ledger->lock → struct account->lock → struct ledger->lock) (held: &l->lock) [lock-order]\n"
    "src/post.c:10:5: error: taking `&l->lock` while `&a->lock` is held (taken at line 9), but `audit()` "
    "(in audit.c) takes `a->lock` while holding `&l->lock` (through `account_zero()`): a possible deadlock "
    "(lock cycle struct account->lock → struct ledger->lock → struct account->lock) (held: &a->lock) [lock-order]\n")


@pytest.fixture
def lockgraph(tmp_path, monkeypatch):
    yield from working_copy(LOCKGRAPH, tmp_path, monkeypatch, repository=True)


def test_lock_order_cycle_across_files(lockgraph, monkeypatch, capsys):
    """post.c takes an account's lock then a ledger's; audit.c a ledger's then, through
    a static helper, an account's: both sides are reported, each pointing at the
    other; the two files' static `stats_lock`s are different locks. Cold, warm, with
    two workers, and one file at a time (the rest of the repository read for context)."""
    parallel(monkeypatch)
    assert run(capsys, "--check", ".")[:2] == (1, LOCKGRAPH_EXPECTED)
    assert run(capsys, "--check", ".")[:2] == (1, LOCKGRAPH_EXPECTED)  # from the cache
    assert run(capsys, "--check", "--no-cache", "--jobs", "2", ".")[:2] == (1, LOCKGRAPH_EXPECTED)
    audit, post = LOCKGRAPH_EXPECTED.splitlines(True)
    assert run(capsys, "--check", "src/audit.c")[:2] == (1, audit)
    assert run(capsys, "--check", "--no-cache", "src/post.c")[:2] == (1, post)
    assert run(capsys, "--check", "--no-project-context", "src/post.c")[:2] == (0, "")
    status, out, _ = run(capsys, "--check", "--format", "json", "src/post.c")
    related = json.loads(out)[0]["related"]
    assert [(r["path"], r["line"], r["column"]) for r in related] == [("src/post.c", 9, 5), ("src/audit.c", 16, 5)]
    # the same order on both sides: no cycle, no finding
    (lockgraph / "src" / "audit.c").write_text((lockgraph / "src" / "audit.c").read_text().replace(
        "    pthread_mutex_lock(&l->lock);\n    account_zero(a);\n    pthread_mutex_unlock(&l->lock);",
        "    account_zero(a);"))
    assert run(capsys, "--check", ".")[:2] == (0, "")


def test_lock_graph_is_drawn(lockgraph, capsys):
    """--lock-graph writes every edge once, labelled with a function, cycles in red,
    in Graphviz, Mermaid and SVG; an unknown suffix is a usage error."""
    assert run(capsys, "--check", "--lock-graph", "locks.dot", ".")[0] == 1
    dot = (lockgraph / "locks.dot").read_text()
    edges = sorted(line.strip() for line in dot.splitlines() if "->" in line and "[label=" in line and " -> " in line)
    assert edges == [
        '"stats_lock@' + str(lockgraph / "src" / "post.c") + '" -> "struct ledger->lock" '
        '[label="post_count() in src/post.c"];',
        '"struct account->lock" -> "struct ledger->lock" [label="post() in src/post.c", color=red, fontcolor=red, '
        'penwidth=2];',
        '"struct ledger->lock" -> "stats_lock@' + str(lockgraph / "src" / "audit.c") + '" '
        '[label="audit_count() in src/audit.c"];',
        '"struct ledger->lock" -> "struct account->lock" [label="audit() via account_zero() in src/audit.c", '
        'color=red, fontcolor=red, penwidth=2];',
    ]
    assert 'label="stats_lock (post.c)"' in dot and 'label="stats_lock (audit.c)"' in dot
    assert run(capsys, "--check", "--lock-graph", "locks.mmd", ".")[0] == 1
    mermaid = (lockgraph / "locks.mmd").read_text().splitlines()
    assert mermaid[0] == "flowchart LR" and mermaid[-1] == "  linkStyle 1,3 stroke:red,stroke-width:2px"
    assert sum("-->|" in line for line in mermaid) == 4
    assert run(capsys, "--check", "--lock-graph", "locks.svg", ".")[0] == 1
    svg = (lockgraph / "locks.svg").read_text()
    assert svg.startswith("<svg ") and svg.count('stroke="red"') == 2 and svg.count("<rect ") == 4
    status, _, err = run(capsys, "--check", "--lock-graph", "locks.png", ".")
    assert status == 2 and "--lock-graph: locks.png: unknown format" in err


@pytest_lsp.fixture(params=["macros", "driver", "summaries", "lockgraph"],
                    config=ClientServerConfig(server_command=SERVER_COMMAND, server_env=SERVER_ENV))
async def project_client(lsp_client: LanguageClient, request, tmp_path):
    """A server on a copy of tests/crossfile/<param> (VS Code's capabilities)."""
    async for _ in _serve_project(lsp_client, request.param, tmp_path):
        yield


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND, server_env=SERVER_ENV))
async def lockgraph_client(lsp_client: LanguageClient, tmp_path):
    """A server on a copy of tests/crossfile/lockgraph."""
    async for _ in _serve_project(lsp_client, "lockgraph", tmp_path):
        yield


async def _serve_project(lsp_client: LanguageClient, project: str, tmp_path: Path):
    shutil.copytree(Path(__file__).parent / "crossfile" / project, tmp_path, dirs_exist_ok=True)
    install_recorder(lsp_client)

    @lsp_client.feature(T.CLIENT_REGISTER_CAPABILITY)
    def register(params: T.RegistrationParams):
        pass
    result = await wait(lsp_client.initialize_session(T.InitializeParams(
        capabilities=client_capabilities("visual_studio_code"), root_uri=tmp_path.as_uri(),
        workspace_folders=[T.WorkspaceFolder(tmp_path.as_uri(), project)])))
    lsp_client.encoding = result.capabilities.position_encoding or "utf-16"
    lsp_client.root = tmp_path
    lsp_client.project = project
    lsp_client.initialized(T.InitializedParams())
    yield
    await wait(lsp_client.shutdown_session())


async def test_editing_one_side_of_a_lock_cycle_updates_the_other(lockgraph_client: LanguageClient):
    """audit.c is open with its side of the cycle; post.c is opened and edited (not
    saved) to take the two locks in audit.c's order: audit.c's finding goes; undone,
    it comes back. The server shows what `--check` shows at every step."""
    client = lockgraph_client
    audit_uri = uri_of(client.root / "src" / "audit.c")
    cycle = check_findings(client.root, "src/audit.c")
    assert [e[2] for e in cycle] == ["lock-order"]
    done = published(client, audit_uri, cycle)
    client.text_document_did_open(T.DidOpenTextDocumentParams(
        T.TextDocumentItem(uri=audit_uri, language_id="c", version=0, text=(client.root / "src" / "audit.c").read_text())))
    await wait(done)

    post = Editor(client, client.root / "src" / "post.c", (client.root / "src" / "post.c").read_text(), client.encoding)
    assert [d.code for d in await post.open()] == ["lock-order"]
    done = published(client, audit_uri, [])
    before = "    pthread_mutex_lock(&a->lock);\n    pthread_mutex_lock(&l->lock);"
    after = "    pthread_mutex_lock(&l->lock);\n    pthread_mutex_lock(&a->lock);"
    at = post.find(before)
    assert await post.change(at, at + len(before), after) == []
    await wait(done)

    done = published(client, audit_uri, cycle)
    await post.change(at, at + len(after), before)
    await wait(done)


async def test_server_knows_macros_guards_and_entry_points_of_other_files(project_client: LanguageClient):
    """Only one file open: macros defined in another header (macros/), guards and
    order in a header and entry points from another file's method table (driver/)
    come from the background index, as `--check` sees them."""
    client = project_client
    relative, rules = {"macros": ("src/checkout.c", ["lock-leak", "missing-required-lock", "unguarded-access"]),
                       "driver": ("src/dev.c", ["unguarded-access", "unguarded-access", "unlock-unheld", "lock-order"]),
                       # summaries/: bin_reset's forgotten unlock, but not bin_open's (use.c relies on it)
                       "summaries": ("src/bin.c", ["lock-leak"]),
                       # lockgraph/: the other side of the cycle is in post.c, not open
                       "lockgraph": ("src/audit.c", ["lock-order"])}[client.project]
    expected = check_findings(client.root, relative)
    assert sorted(e[2] for e in expected) == sorted(rules)
    path = client.root / relative
    done = published(client, path.as_uri(), expected)
    client.text_document_did_open(T.DidOpenTextDocumentParams(
        T.TextDocumentItem(uri=path.as_uri(), language_id="c", version=0, text=path.read_text())))
    await wait(done)


def test_functions_declared_noreturn_in_a_header(tmp_path, monkeypatch, capsys):
    """A function declared never to return in a header (through the project's macro)
    ends the paths of its callers in other files, as in its own."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "util.h").write_text("#define APP_NORETURN __attribute__((noreturn))\n"
                                     "APP_NORETURN void app_fatal(const char *why);\n")
    (tmp_path / "store.c").write_text(
        '#include <pthread.h>\n#include "util.h"\nstatic pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;\n'
        "static int items;\n"
        "int store_put(int n)\n{\n    pthread_mutex_lock(&mu);\n    if (n < 0)\n        app_fatal(\"negative\");\n"
        "    items += n;\n    pthread_mutex_unlock(&mu);\n    return 0;\n}\n"
        "int store_take(int n)\n{\n    pthread_mutex_lock(&mu);\n    if (n > items)\n        return -1;\n"
        "    items -= n;\n    pthread_mutex_unlock(&mu);\n    return 0;\n}\n")
    monkeypatch.setenv("LOCKLS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    clear_config_cache()
    expected = "store.c:18:9: warning: `&mu` taken at line 16 is still held at this return (held: &mu) [lock-leak]\n"
    assert run(capsys, "--check", ".")[:2] == (1, expected)
    assert run(capsys, "--check", "store.c")[:2] == (1, expected)
    clear_config_cache()


def _cache_entries(cache_dir: Path) -> list:
    return [p for p in cache_dir.rglob("*.json") if not p.name.startswith(".tmp-")]


def test_cache_is_private_and_not_forged(lockgraph, tmp_path, capsys):
    """The cache is the user's own (0700); an entry of the wrong shape (a contracts
    entry whose fields have the wrong types, a result with a wrong type) is ignored and
    computed again, never trusted to erase findings."""
    import json
    import stat

    assert run(capsys, "--check", ".")[:2] == (1, LOCKGRAPH_EXPECTED)
    cache_dir = Path(os.environ["LOCKLS_CACHE_DIR"])
    for directory in [d for d in cache_dir.rglob("*") if d.is_dir()]:
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    forged = 0
    for entry in _cache_entries(cache_dir):
        data = json.loads(entry.read_text())
        if isinstance(data, dict) and data.get("@") == "FileContracts":
            data["own"]["order_edges"] = ["not an edge"]  # type confusion
            data["exported"]["order_edges"] = {"@map": []}
        elif isinstance(data, dict) and "findings" in data:
            data["findings"] = []
            data["functions"] = "many"  # a planted result of the wrong shape
        else:
            continue
        entry.write_text(json.dumps(data))
        forged += 1
    assert forged >= 4
    assert run(capsys, "--check", ".")[:2] == (1, LOCKGRAPH_EXPECTED)


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root to give files away")
def test_cache_entries_of_another_user_are_not_read(lockgraph, capsys):
    """In a shared --cache-dir, an entry another user wrote (here: a well-formed
    result with no findings) is not used."""
    import json

    assert run(capsys, "--check", ".")[:2] == (1, LOCKGRAPH_EXPECTED)
    for entry in _cache_entries(Path(os.environ["LOCKLS_CACHE_DIR"])):
        data = json.loads(entry.read_text())
        if isinstance(data, dict) and "findings" in data:
            data["findings"] = []
            entry.write_text(json.dumps(data))
        os.chown(entry, 4242, 4242)
    assert run(capsys, "--check", ".")[:2] == (1, LOCKGRAPH_EXPECTED)
