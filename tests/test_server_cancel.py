"""The server never blocks its message loop on a stale version: a document is analysed
in slices, other messages are answered between them, and a newer text drops the run
of an older one (nothing is published for it; the functions it did are reused).

End-to-end tests drive a real `lockls` process with a document of 3,000 functions
(a few seconds of analysis); unit tests stop the engine's and the session's runs
with `should_stop`. Orders of messages are asserted, never times."""

from __future__ import annotations

import asyncio

import pytest

from lsprotocol import types as T
from lsprotocol.types import LSPErrorCodes
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from lockls.config import default_config
from lockls.engine.driver import Engine, analyze_source
from lockls.lsp.session import Session

from lsp.fixtures import make_client_fixture
from lsp.helpers import TIMEOUT, Editor, expect_diagnostics, reference, summary, wait

LEAK = "    if (x) return;\n"
LOCK = "    pthread_mutex_lock(&m);\n"


def many_functions(n: int = 3000, lock: str = "m") -> str:
    """`n` small functions taking the mutex `lock`; every hundredth leaks it at an early return."""
    parts = [f"#include <pthread.h>\n\npthread_mutex_t {lock};\nint counter;\n"]
    for i in range(n):
        leak = LEAK if i % 100 == 0 else ""
        parts.append(f"\nvoid f{i}(int x)\n{{\n    pthread_mutex_lock(&{lock});\n{leak}    counter += x;\n"
                     f"    pthread_mutex_unlock(&{lock});\n}}\n")
    return "".join(parts)


def lock_line_of(text: str, i: int) -> int:
    """The string index just after the lock line of function f`i`."""
    return text.index(LOCK, text.index(f"void f{i}(int x)\n")) + len(LOCK)


def send_change(ed: Editor, start: int, end: int, new: str) -> None:
    """Editor.change without waiting for the diagnostics."""
    rng = T.Range(ed.position_of(start), ed.position_of(end))
    ed.text = ed.text[:start] + new + ed.text[end:]
    ed.version += 1
    ed.client.text_document_did_change(T.DidChangeTextDocumentParams(
        T.VersionedTextDocumentIdentifier(uri=ed.uri, version=ed.version),
        [T.TextDocumentContentChangePartial(range=rng, text=new)]))


def send_open(ed: Editor) -> None:
    ed.path.write_text(ed.text, encoding="utf-8")
    ed.client.text_document_did_open(T.DidOpenTextDocumentParams(
        T.TextDocumentItem(uri=ed.uri, language_id="c", version=ed.version, text=ed.text)))


def hover(ed: Editor, needle: str):
    return ed.client.text_document_hover_async(T.HoverParams(T.TextDocumentIdentifier(ed.uri), ed.pos(needle)))


async def round_trip(client, tmp_path) -> None:
    """A request the server answers at once (a hover in a document that is not open)."""
    assert await wait(client.text_document_hover_async(T.HoverParams(
        T.TextDocumentIdentifier((tmp_path / "not-open.c").as_uri()), T.Position(0, 0)))) is None


client = make_client_fixture(["visual_studio_code"])


async def test_only_the_last_version_is_published(client: LanguageClient, tmp_path):
    """A document opened and edited four times at once: the runs of the older texts are
    dropped, and the one publication is of the last text, equal to `--check`'s."""
    ed = Editor(client, tmp_path / "big.c", many_functions(), client.encoding)
    final = expect_diagnostics(client, lambda p: p.uri == ed.uri and p.version == 4)
    send_open(ed)
    # answered once the server read the text, so the edits below come while it is analysed
    await round_trip(client, tmp_path)
    at = lock_line_of(ed.text, 1)
    send_change(ed, at, at, LEAK)  # v1: f1 leaks
    at = lock_line_of(ed.text, 0)
    send_change(ed, at, at + len(LEAK), "")  # v2: f0 no longer does
    await round_trip(client, tmp_path)
    at = lock_line_of(ed.text, 2999)
    send_change(ed, at, at, LEAK)  # v3: f2999 leaks
    at = lock_line_of(ed.text, 1500)
    send_change(ed, at, at, LEAK)  # v4: f1500 leaks
    diagnostics = list((await asyncio.wait_for(final, TIMEOUT * 3)).diagnostics)
    assert [p.version for p in client.published if p.uri == ed.uri] == [4]
    assert len(diagnostics) == 32 and {d.code for d in diagnostics} == {"lock-leak"}
    assert summary(diagnostics) == reference(ed)
    lines = sorted(d.range.start.line for d in diagnostics)
    assert lines[:2] == [ed.pos(LEAK, nth=0).line, ed.pos(LEAK, nth=1).line]  # f1's leak, then f100's


async def test_a_hover_is_answered_while_a_large_document_is_analysed(client: LanguageClient, tmp_path):
    """A hover sent right after an edit that makes a large document's analysis start
    over (its mutex renamed: every function is new) is answered before that document's
    diagnostics are published when it is on another document. One on the document
    itself waits for its analysis without blocking the others: a hover on the small
    document sent after it is answered first."""
    small = Editor(client, tmp_path / "small.c", many_functions(3), client.encoding)
    assert [d.code for d in await small.open()] == ["lock-leak"]
    big = Editor(client, tmp_path / "big.c", many_functions(), client.encoding)
    assert len(await big.open()) == 30
    # (a quick analysis last, so the next one starts without waiting for more changes)
    at = lock_line_of(small.text, 1)
    assert len(await small.change(at, at, LEAK)) == 2
    renamed = expect_diagnostics(client, lambda p: p.uri == big.uri and p.version == 1)
    big.text = many_functions(lock="big_lock")
    big.version = 1
    client.text_document_did_change(T.DidChangeTextDocumentParams(
        T.VersionedTextDocumentIdentifier(uri=big.uri, version=1), [T.TextDocumentContentChangeWholeDocument(text=big.text)]))
    # answered once the change was read, before the new analysis starts (the two came together)
    await wait(hover(small, "pthread_mutex_lock(&m)"))
    # these come while the analysis runs
    on_small = await wait(hover(small, "counter += x"))
    assert not [p for p in client.published if p.uri == big.uri and p.version == 1]
    assert "`&m`" in on_small.contents.value
    answered = []
    on_big = asyncio.ensure_future(hover(big, "counter += x"))
    on_big.add_done_callback(lambda _: answered.append("big"))
    on_small = asyncio.ensure_future(hover(small, "counter += x"))
    on_small.add_done_callback(lambda _: answered.append("small"))
    assert "`&m`" in (await wait(on_small)).contents.value
    assert answered == ["small"] and not [p for p in client.published if p.uri == big.uri and p.version == 1]
    assert "`&big_lock`" in (await wait(on_big)).contents.value
    diagnostics = list((await asyncio.wait_for(renamed, TIMEOUT * 3)).diagnostics)
    assert summary(diagnostics) == reference(big) and len(diagnostics) == 30


async def test_a_hover_on_a_text_replaced_while_it_waits_is_content_modified(client: LanguageClient, tmp_path):
    """A hover waiting for its document's analysis when a newer text comes gets
    ContentModified (the client asks again); the newer text is analysed and published."""
    big = Editor(client, tmp_path / "big.c", many_functions(), client.encoding)
    assert len(await big.open()) == 30
    latest = expect_diagnostics(client, lambda p: p.uri == big.uri and p.version == 2)
    big.text = many_functions(lock="big_lock")
    big.version = 1
    client.text_document_did_change(T.DidChangeTextDocumentParams(
        T.VersionedTextDocumentIdentifier(uri=big.uri, version=1), [T.TextDocumentContentChangeWholeDocument(text=big.text)]))
    waiting = asyncio.ensure_future(hover(big, "counter += x"))
    await round_trip(client, tmp_path)
    at = big.text.index(LEAK)
    send_change(big, at, at + len(LEAK), "")  # v2: f0 no longer leaks
    with pytest.raises(JsonRpcException) as raised:
        await wait(waiting)
    assert raised.value.code == LSPErrorCodes.ContentModified
    diagnostics = list((await asyncio.wait_for(latest, TIMEOUT * 3)).diagnostics)
    assert len(diagnostics) == 29 and [p.version for p in client.published if p.uri == big.uri] == [0, 2]


# -- the engine and the session, stopped -----------------------------------------------

def findings_of(analysis) -> list:
    return [(r.rule, r.site.start_byte, str(r.message)) for r in analysis.findings]


def test_engine_stops_after_n_functions_and_a_later_run_reuses_them():
    source = many_functions(300).encode()
    engine = Engine()
    asked = []

    def after_ten() -> bool:
        asked.append(engine.functions.misses)
        return len(asked) >= 10

    assert engine.analyze("/p/big.c", source, default_config(), memo={}, should_stop=after_ten) is None
    assert asked == list(range(1, 11))  # asked after each function
    assert engine.functions.misses == 10 and len(engine.functions) == 10
    assert engine.functions._holders == {}  # a dropped run holds nothing for the document
    whole = engine.analyze("/p/big.c", source, default_config(), memo={}, should_stop=lambda: False)
    assert (engine.functions.hits, engine.functions.misses) == (10, 300)  # the ten done are reused
    fresh = Engine().analyze("/p/big.c", source, default_config())
    assert findings_of(whole) == findings_of(fresh)
    assert [f[0] for f in findings_of(whole)] == ["lock-leak"] * 3
    assert findings_of(whole) == [(f.rule, f.span.start_byte, f.text)
                                  for f in analyze_source(source, "/p/big.c", default_config()).findings]


def test_session_dropped_run_publishes_nothing_and_the_next_sees_every_edit(tmp_path):
    """A run stopped half way leaves no analysis of the document; edits before and after
    it are all seen by the next run (what the stopped run read of the text follows them)."""
    uri = (tmp_path / "big.c").as_uri()
    text = many_functions(200)
    session = Session()
    session.open(uri, text, 1, "c")
    assert len(session.diagnostics(uri)[1]) == 2

    def edit(version: int, i: int, new: str, remove: bool = False) -> None:
        nonlocal text
        at = lock_line_of(text, i)
        end = at + len(LEAK) if remove else at
        doc = session.documents[uri]
        start, stop = doc.position_of(at, session.encoding), doc.position_of(end, session.encoding)
        text = text[:at] + new + text[end:]
        session.change(uri, version, [T.TextDocumentContentChangePartial(
            range=T.Range(T.Position(*start), T.Position(*stop)), text=new)])

    edit(2, 7, LEAK)  # f7 leaks
    stops = iter([False] * 4 + [True])
    assert session.diagnostics(uri, should_stop=lambda: next(stops)) is None
    assert session.analyses[uri].version == 1  # the last whole run's, for nobody to publish
    edit(3, 0, "", remove=True)  # f0 no longer leaks
    edit(4, 150, LEAK)  # f150 leaks
    version, diagnostics = session.diagnostics(uri)
    assert version == 4
    expected = analyze_source(text.encode(), str(tmp_path / "big.c"), default_config())
    assert sorted((d.code, d.range.start.line + 1) for d in diagnostics) == \
        sorted((f.rule, f.span.start.line + 1) for f in expected.findings)
    assert len(diagnostics) == 3
