"""End-to-end: project configuration in the language server (.lockls.toml discovery,
watched-file changes, malformed configurations, editor settings)."""

from __future__ import annotations

import asyncio

from lsprotocol import types as T
from pytest_lsp import LanguageClient

from lsp.fixtures import make_client_fixture
from lsp.helpers import Editor, expect_diagnostics, uri_of, wait

client = make_client_fixture(clients=["visual_studio_code", "neovim"])

GOOD = """\
[functions.q_lock]
acquire = "arg0"

[functions.q_unlock]
release = "arg0"
"""
BAD = GOOD + """
[functions.q_trylock]
try-acquire = 3
"""

SOURCE = """\
struct q { int lock; int n; };
void q_lock(int *l);
void q_unlock(int *l);

void f(struct q *q)
{
    q_lock(&q->lock);
    if (q->n)
        return;
    q_unlock(&q->lock);
}
"""


def notify_watched(client, path, kind=T.FileChangeType.Changed):
    client.workspace_did_change_watched_files(T.DidChangeWatchedFilesParams(
        changes=[T.FileEvent(uri=uri_of(path), type=kind)]))


async def test_config_discovered_reloaded_and_malformed(client: LanguageClient, tmp_path):
    config = tmp_path / ".lockls.toml"
    # no config yet: q_lock is not a lock function
    ed = Editor(client, tmp_path / "q.c", SOURCE, client.encoding)
    assert await ed.open() == []
    if client.client_name == "visual_studio_code":  # registered at `initialized`, before the diagnostics
        assert any(r.method == T.WORKSPACE_DID_CHANGE_WATCHED_FILES for r in client.registrations)

    # the config appears: the open document is re-analysed
    config.write_text(GOOD)
    waiter = expect_diagnostics(client, lambda p: p.uri == ed.uri)
    notify_watched(client, config, T.FileChangeType.Created)
    params = await wait(waiter)
    assert [d.code for d in params.diagnostics] == ["lock-leak"]

    # the config breaks: diagnostics on the config file, a message, the last good config kept
    config.write_text(BAD)
    on_config = expect_diagnostics(client, lambda p: p.uri == uri_of(config) and p.diagnostics)
    message = asyncio.ensure_future(client.wait_for_notification(T.WINDOW_SHOW_MESSAGE))
    on_source = expect_diagnostics(client, lambda p: p.uri == ed.uri)
    notify_watched(client, config)
    params = await wait(on_config)
    d = next(d for d in params.diagnostics if "try-acquire:" in d.message)
    assert d.range.start.line == 7  # `try-acquire = 3`, 0-based
    assert d.range.end.character == len("try-acquire = 3")
    assert "functions.q_trylock.try-acquire" in d.message and d.severity == T.DiagnosticSeverity.Error
    shown = await wait(message)
    assert shown.type == T.MessageType.Error and ".lockls.toml:" in shown.message
    assert [d.code for d in (await wait(on_source)).diagnostics] == ["lock-leak"]

    # fixed again: the config's diagnostics are cleared
    config.write_text(GOOD.replace("q_unlock", "q_release"))
    cleared = expect_diagnostics(client, lambda p: p.uri == uri_of(config) and not p.diagnostics)
    on_source = expect_diagnostics(client, lambda p: p.uri == ed.uri)
    notify_watched(client, config)
    await wait(cleared)
    # q_unlock is no longer a release: q_lock leaks on both returns (or is an acquire function)
    params = await wait(on_source)
    assert all(d.code == "lock-leak" for d in params.diagnostics)


async def test_config_buffer_diagnostics(client: LanguageClient, tmp_path):
    config = tmp_path / ".lockls.toml"
    config.write_text(GOOD)
    ed = Editor(client, config, BAD, client.encoding)
    ed.path.write_text(GOOD)  # the buffer is not saved
    waiter = expect_diagnostics(client, lambda p: p.uri == ed.uri)
    client.text_document_did_open(T.DidOpenTextDocumentParams(
        T.TextDocumentItem(uri=ed.uri, language_id="toml", version=0, text=BAD)))
    d = next(d for d in (await wait(waiter)).diagnostics if "try-acquire:" in d.message)
    assert d.range.start.line == 7 and d.source == "lockls"
    # fixing the buffer clears them
    start = ed.find("try-acquire = 3")
    ed.version = 0
    diags = await ed.change(start + len("try-acquire = "), start + len("try-acquire = 3"), '"arg0"\nsuccess = "zero"')
    assert diags == []


async def test_settings_select(client: LanguageClient, tmp_path):
    text = SOURCE.replace("q_lock", "pthread_mutex_lock").replace("q_unlock", "pthread_mutex_unlock")
    ed = Editor(client, tmp_path / "s.c", text, client.encoding)
    assert [d.code for d in await ed.open()] == ["lock-leak"]
    waiter = expect_diagnostics(client, lambda p: p.uri == ed.uri)
    client.workspace_did_change_configuration(T.DidChangeConfigurationParams(
        settings={"lockls": {"select": ["double-lock"]}}))
    assert list((await wait(waiter)).diagnostics) == []
    waiter = expect_diagnostics(client, lambda p: p.uri == ed.uri)
    client.workspace_did_change_configuration(T.DidChangeConfigurationParams(settings={"lockls": {"select": None}}))
    assert [d.code for d in (await wait(waiter)).diagnostics] == ["lock-leak"]


explicit = make_client_fixture(clients=["neovim"], init_options=lambda tmp: {
    "configFile": str(tmp / "conf" / "locks.toml"), "select": ["lock-leak"]})


async def test_initialization_options(explicit: LanguageClient, tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "locks.toml").write_text(GOOD)
    ed = Editor(explicit, tmp_path / "q.c", SOURCE + "void g(struct q *q) { q_lock(&q->lock); q_lock(&q->lock); q_unlock(&q->lock); }\n",
                explicit.encoding)
    assert [d.code for d in await ed.open()] == ["lock-leak"]  # double-lock not selected
