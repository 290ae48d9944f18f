"""End-to-end: the files a `.lockls.toml` extends (any name) in the language server:
watched when the client lets the server register watchers, a configuration change
when saved in the editor, and while only one of them is broken the last good
configuration stays in use, the error shown on that file."""

from __future__ import annotations

import asyncio

from lsprotocol import types as T
from pytest_lsp import LanguageClient

from lsp.fixtures import make_client_fixture
from lsp.helpers import Editor, expect_diagnostics, uri_of, wait
from test_server_e2e_config import BAD, GOOD, SOURCE, notify_watched

watching = make_client_fixture(clients=["visual_studio_code"])  # dynamic registration of file watchers
saving = make_client_fixture(clients=["neovim"])  # no file watchers (Neovim's default on Linux): saves only

# q_unlock no longer a release: both exits of f leak the lock (the config now says something else)
RELEASE_RENAMED = GOOD.replace("q_unlock", "q_release")
LEAKS_AFTER_RENAME = ["lock-leak", "lock-leak"]


def project(tmp_path):
    """A .lockls.toml that only extends base.toml (which says what q_lock and q_unlock do)."""
    root = tmp_path.resolve()
    (root / ".lockls.toml").write_text('extends = "base.toml"\n')
    base = root / "base.toml"
    base.write_text(GOOD)
    return root, base


async def registered_watchers(client, timeout: float = 20.0) -> list:
    """The glob patterns of the file watchers the server registered so far (waiting for one beyond `initialized`'s)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        # (the client gets register_options as JSON: {"watchers": [{"globPattern": ...}]})
        watchers = [w["globPattern"] for r in client.registrations if r.method == T.WORKSPACE_DID_CHANGE_WATCHED_FILES
                    for w in r.register_options["watchers"]]
        if any("base.toml" in str(w) for w in watchers) or loop.time() > deadline:
            return watchers
        await asyncio.sleep(0.05)


# BAD's [functions.q_trylock]: (0-based line, end column, the message's key, severity)
BAD_PROBLEMS = [(6, len("[functions.q_trylock]"), "functions.q_trylock.success", T.DiagnosticSeverity.Error),
                (7, len("try-acquire = 3"), "functions.q_trylock.try-acquire", T.DiagnosticSeverity.Error)]


def problems(params) -> list:
    return sorted((d.range.start.line, d.range.end.character, d.message.split(":")[0], d.severity)
                  for d in params.diagnostics)


def codes(params) -> list:
    return sorted(d.code for d in params.diagnostics)


async def test_an_extended_file_is_watched_and_a_broken_one_keeps_the_last_good_config(watching: LanguageClient,
                                                                                      tmp_path):
    root, base = project(tmp_path)
    ed = Editor(watching, root / "q.c", SOURCE, watching.encoding)
    assert [d.code for d in await ed.open()] == ["lock-leak"]  # base.toml's q_lock/q_unlock are used

    # base.toml is not named like a configuration file: watched on its own, by its path
    patterns = await registered_watchers(watching)
    assert str(base) in patterns, patterns
    assert "**/.lockls.toml" in patterns

    # base.toml breaks: the error on base.toml, a message, and the last good configuration kept
    # (not the built-in defaults, where q_lock is no lock function and f has no finding)
    base.write_text(BAD)
    on_base = expect_diagnostics(watching, lambda p: p.uri == uri_of(base) and p.diagnostics)
    message = asyncio.ensure_future(watching.wait_for_notification(T.WINDOW_SHOW_MESSAGE))
    on_source = expect_diagnostics(watching, lambda p: p.uri == ed.uri)
    notify_watched(watching, base)
    assert problems(await wait(on_base)) == BAD_PROBLEMS
    shown = await wait(message)
    assert shown.type == T.MessageType.Error and "invalid configuration, using the last good one" in shown.message
    assert f"{base}:7: functions.q_trylock.success: " in shown.message
    assert codes(await wait(on_source)) == ["lock-leak"]

    # fixed, and saying something else: base.toml's diagnostics cleared, the new configuration used
    base.write_text(RELEASE_RENAMED)
    cleared = expect_diagnostics(watching, lambda p: p.uri == uri_of(base) and not p.diagnostics)
    on_source = expect_diagnostics(watching, lambda p: p.uri == ed.uri)
    notify_watched(watching, base)
    await wait(cleared)
    assert codes(await wait(on_source)) == LEAKS_AFTER_RENAME


async def test_an_extended_file_saved_in_the_editor_is_a_configuration_change(saving: LanguageClient, tmp_path):
    root, base = project(tmp_path)
    assert not any(r.method == T.WORKSPACE_DID_CHANGE_WATCHED_FILES for r in saving.registrations)
    ed = Editor(saving, root / "q.c", SOURCE, saving.encoding)
    assert [d.code for d in await ed.open()] == ["lock-leak"]

    # opened, base.toml is known as a configuration file: validated as typed
    uri = uri_of(base)
    opened = expect_diagnostics(saving, lambda p: p.uri == uri and p.version == 0)
    saving.text_document_did_open(T.DidOpenTextDocumentParams(
        T.TextDocumentItem(uri=uri, language_id="toml", version=0, text=GOOD)))
    assert list((await wait(opened)).diagnostics) == []
    broken = expect_diagnostics(saving, lambda p: p.uri == uri and p.version == 1)
    saving.text_document_did_change(T.DidChangeTextDocumentParams(
        T.VersionedTextDocumentIdentifier(uri=uri, version=1), [T.TextDocumentContentChangeWholeDocument(text=BAD)]))
    assert problems(await wait(broken)) == BAD_PROBLEMS

    # saved broken: the C document is analysed again, under the last good configuration
    base.write_text(BAD)
    on_source = expect_diagnostics(saving, lambda p: p.uri == ed.uri)
    saving.text_document_did_save(T.DidSaveTextDocumentParams(T.TextDocumentIdentifier(uri)))
    assert codes(await wait(on_source)) == ["lock-leak"]

    # fixed and saved: the new configuration is used at once, not at the next edit of q.c
    fixed = expect_diagnostics(saving, lambda p: p.uri == uri and p.version == 2)
    saving.text_document_did_change(T.DidChangeTextDocumentParams(
        T.VersionedTextDocumentIdentifier(uri=uri, version=2),
        [T.TextDocumentContentChangeWholeDocument(text=RELEASE_RENAMED)]))
    assert list((await wait(fixed)).diagnostics) == []
    base.write_text(RELEASE_RENAMED)
    on_source = expect_diagnostics(saving, lambda p: p.uri == ed.uri)
    saving.text_document_did_save(T.DidSaveTextDocumentParams(T.TextDocumentIdentifier(uri)))
    assert codes(await wait(on_source)) == LEAKS_AFTER_RENAME


def test_the_pattern_of_one_watched_file():
    from lockls.lsp.server import LocklsServer

    ls = LocklsServer()
    # a client without RelativePattern (LSP 3.17): the absolute path, glob characters made literal
    assert ls._file_pattern("/home/u/proj [old]/conf*/base.toml") == "/home/u/proj [[]old]/conf[*]/base.toml"
    # with it: relative to the file's directory, which the client watches even outside the workspace
    ls.relative_patterns = True
    pattern = ls._file_pattern("/home/u/shared/lock{s}.toml")
    assert (pattern.base_uri, pattern.pattern) == ("file:///home/u/shared", "lock[{]s}.toml")
