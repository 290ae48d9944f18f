"""Inlay hints with the locks held after each line that changes them (lsp.inlay_hints;
the setting `inlayHints.heldLocks`): positions and labels in-process, then over the
protocol (capability, settings, refresh)."""

from __future__ import annotations

import asyncio

from lsprotocol import types as T
from pytest_lsp import LanguageClient

from lockls.lsp.session import Session
from lsp.fixtures import make_client_fixture
from lsp.helpers import Editor, wait

URI = "file:///tmp/lockls-test/hints.c"

SOURCE = """\
#include <pthread.h>
struct q { pthread_mutex_t lock; int n; };
pthread_mutex_t m;
static void q_lock(struct q *q) { pthread_mutex_lock(&q->lock); }
static void q_unlock(struct q *q) { pthread_mutex_unlock(&q->lock); }

int work(struct q *q, int flag)
{
    q_lock(q);
    if (flag)
        pthread_mutex_lock(&m);
    q->n++;
    if (flag)
        pthread_mutex_unlock(&m);
    for (int i = 0; i < q->n; i++) {
        pthread_mutex_lock(&m);
        q->n--;
        pthread_mutex_unlock(&m); /* é 😀 */
    }
    if (pthread_mutex_trylock(&m) == 0) {
        q->n++;
        pthread_mutex_unlock(&m);
    }
    q_unlock(q);
    return 0;
    pthread_mutex_lock(&m);
}
"""

# (0-based line, label): after the wrapper `q_lock(q)` its lock as the summary names
# it; the conditional acquire and release; each turn of the loop; the trylock (held
# only where it succeeded); nothing on the dead line after the return
EXPECTED = [
    (3, "held: &q->lock"),
    (4, "held: none"),
    (8, "held: q->lock"),
    (10, "held: q->lock, &m"),
    (13, "held: q->lock"),
    (15, "held: q->lock, &m"),
    (17, "held: q->lock"),
    (19, "held: q->lock, maybe &m"),
    (21, "held: q->lock"),
    (23, "held: none"),
]


def session_with(text: str, encoding: str = "utf-16", on: bool = True) -> Session:
    s = Session()
    s.encoding = encoding
    s.index_workspace = False
    s.apply_settings({"lockls": {"inlayHints": {"heldLocks": on}}})
    s.open(URI, text, 1, "c")
    return s


def whole(text: str) -> T.Range:
    return T.Range(T.Position(0, 0), T.Position(text.count("\n") + 1, 0))


def end_of(text: str, line: int, encoding: str) -> int:
    units = text.split("\n")[line]
    return len(units.encode("utf-16-le")) // 2 if encoding == "utf-16" else len(units.encode())


def summary(hints) -> list:
    return [(h.position.line, h.position.character, h.label, h.padding_left, h.kind) for h in hints]


def test_hints_positions_and_labels():
    for encoding in ("utf-16", "utf-8"):
        s = session_with(SOURCE, encoding)
        hints = s.inlay_hints(URI, whole(SOURCE))
        assert summary(hints) == [(line, end_of(SOURCE, line, encoding), label, True, None)
                                  for line, label in EXPECTED]
    # the non-ASCII comment counts in the negotiated unit: 44 UTF-16 units, 47 bytes
    assert end_of(SOURCE, 17, "utf-16") == 44 and end_of(SOURCE, 17, "utf-8") == 47


def test_hints_only_in_the_requested_range():
    s = session_with(SOURCE)
    hints = s.inlay_hints(URI, T.Range(T.Position(13, 0), T.Position(17, 0)))
    assert [(h.position.line, h.label) for h in hints] == [(13, "held: q->lock"), (15, "held: q->lock, &m"),
                                                           (17, "held: q->lock")]


def test_hints_of_a_range_past_the_end():
    s = session_with(SOURCE)
    assert s.inlay_hints(URI, T.Range(T.Position(200, 0), T.Position(300, 0))) == []
    assert [h.position.line for h in s.inlay_hints(URI, T.Range(T.Position(23, 0), T.Position(300, 0)))] == [23]


def test_hints_bounded(monkeypatch):
    from lockls.lsp import inlay_hints

    monkeypatch.setattr(inlay_hints, "MAX_HINTS", 3)
    s = session_with(SOURCE)
    assert [h.position.line for h in s.inlay_hints(URI, whole(SOURCE))] == [3, 4, 8]


def test_hints_follow_the_current_text():
    s = session_with(SOURCE)
    assert len(s.inlay_hints(URI, whole(SOURCE))) == len(EXPECTED)
    # a line inserted in the function and the loop's unlock removed: the hints of version 2
    # (the loop's lock may now outlive the function)
    text = SOURCE.replace("    q_lock(q);\n", "    int unused = 0;\n    q_lock(q);\n")
    text = text.replace("        pthread_mutex_unlock(&m); /* é 😀 */\n", "")
    s.change(URI, 2, [T.TextDocumentContentChangeWholeDocument(text=text)])
    hints = s.inlay_hints(URI, whole(text))
    assert [(h.position.line, h.label) for h in hints] == [
        (3, "held: &q->lock"), (4, "held: none"), (9, "held: q->lock"), (11, "held: q->lock, &m"),
        (14, "held: q->lock"), (16, "held: q->lock, &m"),
        (19, "held: q->lock, maybe &m"), (21, "held: q->lock"), (23, "held: maybe &m")]
    assert all(h.position.character == end_of(text, h.position.line, "utf-16") for h in hints)


def test_hints_off_by_default_and_when_turned_off():
    s = Session()
    s.index_workspace = False
    s.open(URI, SOURCE, 1, "c")
    assert s.inlay_hints(URI, whole(SOURCE)) == []
    s.apply_settings({"inlayHints": {"heldLocks": True}})
    assert len(s.inlay_hints(URI, whole(SOURCE))) == len(EXPECTED)
    s.apply_settings({"lockls": {"inlayHints": {"heldLocks": False}}})
    assert s.inlay_hints(URI, whole(SOURCE)) == []
    s.apply_settings({"select": None})  # other settings leave it as it is
    assert s.inlay_hints(URI, whole(SOURCE)) == []


def test_hints_scoped_guard_and_two_operations_on_a_line():
    text = """\
#include <pthread.h>
pthread_mutex_t a, b, c;
void g(int x)
{
    pthread_mutex_lock(&a); pthread_mutex_lock(&b);
    {
        guard(mutex)(&c);
        x++;
    }
    pthread_mutex_unlock(&b); pthread_mutex_unlock(&a);
}
"""
    s = session_with(text)
    hints = s.inlay_hints(URI, whole(text))
    # the last operation of a line counts; a guard's lock is dropped at its block's brace
    assert [(h.position.line, h.position.character, h.label) for h in hints] == [
        (4, 51, "held: &a, &b"), (6, 25, "held: &a, &b, &c"), (8, 5, "held: &a, &b"), (9, 55, "held: none")]


LIGHT = """\
#include <pthread.h>
pthread_mutex_t m;
void f(void)
{
    pthread_mutex_lock(&m);
    pthread_mutex_unlock(&m);
}
"""

client = make_client_fixture(clients=["neovim"])  # its capabilities have workspace.inlayHint.refreshSupport


async def inlay_hints(client, ed):
    return await wait(client.text_document_inlay_hint_async(T.InlayHintParams(
        T.TextDocumentIdentifier(ed.uri), T.Range(T.Position(0, 0), T.Position(7, 0)))))


async def test_hints_over_the_protocol(client: LanguageClient, tmp_path):
    assert client.server_capabilities.inlay_hint_provider == T.InlayHintOptions(resolve_provider=False)
    ed = Editor(client, tmp_path / "f.c", LIGHT, client.encoding)
    await ed.open()
    assert list(await inlay_hints(client, ed)) == []  # off by default
    refreshed = asyncio.get_running_loop().create_future()

    @client.feature(T.WORKSPACE_INLAY_HINT_REFRESH)
    def refresh(params):
        if not refreshed.done():
            refreshed.set_result(True)

    client.workspace_did_change_configuration(T.DidChangeConfigurationParams(
        settings={"lockls": {"inlayHints": {"heldLocks": True}}}))
    assert await wait(refreshed)  # the client is asked to fetch the hints again
    hints = await inlay_hints(client, ed)
    assert [(h.position, h.label, h.padding_left) for h in hints] == [
        (T.Position(4, 27), "held: &m", True), (T.Position(5, 29), "held: none", True)]
