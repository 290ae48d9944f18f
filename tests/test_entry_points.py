"""Entry points wherever real code names them: `[entry-points] table-macros` and
`registrars` in the configuration and the presets, tables and registered callbacks
found in one file for functions defined in another (`--check` and the server), and
a registrar call typed into a body while editing.

The fixture project is tests/crossfile/registrars/: src/pool.c defines the pool's
functions, src/start.c starts one as a thread (`pthread_create`, from the pthread
preset) and registers another (`pool_on`, configured), src/ops.c lists a third in a
table built by a macro; each of pool.c's findings needs one of the other files.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as T
from pytest_lsp import ClientServerConfig, LanguageClient

from lockls.config import ConfigError, clear_config_cache, default_config, load_config, show_config
from lockls.engine.driver import Engine
from lockls.main import main
from lockls.syntax.declarations import registered_functions, table_entry_points

from lsp.helpers import SERVER_COMMAND, wait
from test_cross_file import SERVER_ENV, _serve_project, check_findings, published

REGISTRARS = Path(__file__).parent / "crossfile" / "registrars"
EXPECTED = (
    "src/pool.c:8:5: warning: `p->jobs` is used but its lock `p->lock` is not held (held: none) [unguarded-access]\n"
    "src/pool.c:16:5: error: `&p->lock` is released but it is not held (pool_event is an entry point: nothing is "
    "held when it starts) (held: none) [unlock-unheld]\n"
    "src/pool.c:21:12: warning: `p->jobs` is used but its lock `p->lock` is not held (held: none) [unguarded-access]\n")


def write(directory: Path, text: str) -> str:
    path = directory / ".lockls.toml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return str(path)


# -- configuration ----------------------------------------------------------------------

def test_registrars_and_table_macros(tmp_path):
    config = load_config(write(tmp_path, """
        presets = ["pthread"]

        [entry-points]
        table-macros = ["DEFINE_OPS", "DEFINE_*_HOOKS"]
        registrars = ["register_handler:0", "g_*_add: 1"]
        """))
    assert config.entry_table_macros == ("DEFINE_OPS", "DEFINE_*_HOOKS")
    # the pthread preset's with the project's
    assert config.entry_registrars == (("g_*_add", 1), ("pthread_create", 2), ("register_handler", 0))
    again = tmp_path / "again"
    again.mkdir()
    reloaded = load_config(write(again, show_config(config)))
    assert reloaded.fingerprint() == config.fingerprint()
    assert reloaded.entry_registrars == config.entry_registrars


def test_presets_carry_thread_start_routines(tmp_path):
    assert ("pthread_create", 2) in default_config().entry_registrars
    assert ("thrd_create", 1) in default_config().entry_registrars
    assert load_config(write(tmp_path, "presets = []\n")).entry_registrars == ()
    text = show_config(default_config())
    assert 'registrars = ["pthread_create:2", "thrd_create:1"]' in text
    assert load_config(write(tmp_path, text)).fingerprint() == default_config().fingerprint()


def test_registrar_errors(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, '[entry-points]\nregistrars = ["pthread_create"]\n'))
    ((line, key, message),) = [(e.line, e.key, e.message) for e in info.value.errors]
    assert (line, key) == (2, "entry-points.registrars")
    assert message == ('expected a function name (or glob) and the index, from 0, of the argument that is the '
                       'callback, like "pthread_create:2", got "pthread_create"')
    for bad in ('"f:x"', '"f:99"', '"a b:1"', '":1"'):
        with pytest.raises(ConfigError):
            load_config(write(tmp_path, f"[entry-points]\nregistrars = [{bad}]\n"))
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, '[entry-points]\ntable-macros = ["DEFINE OPS"]\n'))
    assert info.value.errors[0].message == 'expected macro names or globs like "DEFINE_*_OPS", got "DEFINE OPS"'


# -- reading them ------------------------------------------------------------------------

def test_registered_callbacks_as_written():
    text = (b"void f(void) {\n"
            b"  pthread_create(&t, NULL, worker, arg);\n"
            b"  pthread_create(&t, &attr, (void *(*)(void *)) cast_worker, NULL);\n"
            b"  g_idle_add(G_SOURCE_FUNC (on_idle), data);\n"
            b"  g_timeout_add(10, &on_timeout, data);\n"
            b"  /* pthread_create(&t, NULL, in_comment, NULL); */\n"
            b"  s->pthread_create(&t, NULL, a_member, NULL);\n"
            b"  pthread_create(&t, NULL, NULL, NULL);\n"
            b"  pthread_create(&t, NULL, make_worker(1), NULL);\n"
            b"  pthread_create(&t, NULL, \"x,y\" ? early : late, NULL);\n"
            b"}\n")
    found = registered_functions(text, (("pthread_create", 2), ("g_idle_add", 0), ("g_timeout_*", 1)))
    assert found == {"worker", "cast_worker", "on_idle", "on_timeout"}


def test_tables_in_conditionals_and_macros():
    source = (b"struct ops { int (*a)(void); int (*b)(void); };\n"
              b"#if A\n"
              b"static const struct ops one = { .a = f1, .b = &f2 };\n"
              b"#elif B\n"
              b"static const struct ops one = { f3, (op_fn) f4 };\n"
              b"#endif\n"
              b"static const struct ops many[2] __attribute__((unused)) = { { .a = f5 }, [1] = { .b = f6 } };\n"
              b"/* static const struct ops c = { .a = in_comment }; */\n"
              b"static const struct ops *pointers[] = { &one };\n"
              b"DEFINE_OPS(built, .a = f7, .b = (op_fn) f8)\n"
              b"DEFINE_OPS(named_only, 0);\n"
              b"#define DEFINE_OPS(name, ...) static const struct ops name = { .a = in_define, __VA_ARGS__ }\n"
              b"module_init(f9);\n")
    found = table_entry_points(source, ("struct ops",), ("DEFINE_OPS",), (("module_init", 0),))
    assert set(found) - {"one"} == {f"f{i}" for i in range(1, 10)}


# -- across files ------------------------------------------------------------------------

def test_entry_points_registered_and_tabled_in_other_files(tmp_path, monkeypatch, capsys):
    """pool.c's functions are entry points because of start.c (a thread and a handler)
    and ops.c (a macro's table); start.c's static `pool_helper` says nothing about
    pool.c's function of that name."""
    root = tmp_path / "registrars"
    shutil.copytree(REGISTRARS, root)
    monkeypatch.setenv("LOCKLS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(root)
    clear_config_cache()
    assert main(["--check", "."]) == 1
    assert capsys.readouterr().out == EXPECTED
    # alone, pool.c has no entry points
    assert main(["--check", "--no-project-context", "src/pool.c"]) == 0
    assert capsys.readouterr().out == ""
    # the registration gone, so is the finding it made
    start = root / "src" / "start.c"
    start.write_text(start.read_text().replace("    pool_on(1, pool_event, p);\n", ""))
    assert main(["--check", "."]) == 1
    assert "pool_event" not in capsys.readouterr().out
    clear_config_cache()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND, server_env=SERVER_ENV))
async def registrars_client(lsp_client: LanguageClient, tmp_path):
    """A server on a copy of tests/crossfile/registrars."""
    async for _ in _serve_project(lsp_client, "registrars", tmp_path):
        yield


async def test_server_knows_entry_points_of_other_files(registrars_client: LanguageClient):
    """Only pool.c is open: its entry points come from the background index, as
    `--check` sees them."""
    client = registrars_client
    expected = check_findings(client.root, "src/pool.c")
    assert [e[2] for e in expected] == ["unguarded-access", "unlock-unheld", "unguarded-access"]
    path = client.root / "src" / "pool.c"
    done = published(client, path.as_uri(), expected)
    client.text_document_did_open(T.DidOpenTextDocumentParams(
        T.TextDocumentItem(uri=path.as_uri(), language_id="c", version=0, text=path.read_text())))
    await wait(done)


# -- while editing -----------------------------------------------------------------------

def test_a_registrar_call_typed_into_a_body_makes_an_entry_point():
    """The file's contracts are re-read for the one function edited when nothing else
    changed: a `pthread_create` typed into a body must still make its start routine an
    entry point (and deleting it, no longer one)."""
    config = default_config()
    before = (b"#include <pthread.h>\n"
              b"struct q { pthread_mutex_t lock; };\n"
              b"static void *worker(void *arg)\n{\n    struct q *q = arg;\n\n"
              b"    pthread_mutex_unlock(&q->lock);\n    return NULL;\n}\n\n"
              b"void start(struct q *q)\n{\n    pthread_t t;\n\n    (void)q;\n}\n")
    call = b"    pthread_create(&t, NULL, worker, q);\n"
    after = before.replace(b"    (void)q;\n", b"    (void)q;\n" + call)
    engine = Engine()
    memo: dict = {}

    def rules(text: bytes, edited) -> list:
        result = engine.analyze("edited.c", text, config, memo=memo, edited=edited)
        return [f.rule for f in result.findings]

    assert rules(before, None) == []
    at = after.index(call)
    assert rules(after, [(at, at + len(call))]) == ["unlock-unheld"]
    assert rules(before, [(at, at)]) == []
