"""End-to-end: hover, quick-fixes, highlights, non-ASCII and form-feed positions."""

from __future__ import annotations

from lsprotocol import types as T
from pytest_lsp import LanguageClient

from lsp.fixtures import make_client_fixture
from lsp.helpers import Editor, _lsp_lines, reference, summary, wait

client = make_client_fixture()

SOURCE = """\
#include <pthread.h>
/* ロック 🔒 */
struct q { pthread_mutex_t lock; pthread_mutex_t other; int n; };

int push(struct q *q, int x)
{
    int rc = 0; /* 日本語 😀 */
    pthread_mutex_lock(&q->lock);
    if (x)
        pthread_mutex_lock(&q->other);
    rc = x + 1; /* 😀 */
    if (x)
        pthread_mutex_unlock(&q->other);
    if (rc < 0) { const char *s = "😀😀"; (void)s; return rc; }
    pthread_mutex_unlock(&q->lock);
    return rc;
}
\f
/* 😀 form feed above */ void twice(struct q *q)
{
    pthread_mutex_lock(&q->lock); /* é */ pthread_mutex_lock(&q->lock);
    pthread_mutex_unlock(&q->lock);
}
"""


def editor(client, tmp_path, text=SOURCE):
    return Editor(client, tmp_path / "src.c", text, client.encoding)


async def test_diagnostics_non_ascii_positions(client: LanguageClient, tmp_path):
    ed = editor(client, tmp_path)
    diags = await ed.open()
    assert summary(diags) == reference(ed)
    by_rule = {d.code: d for d in diags}
    assert set(by_rule) == {"lock-leak", "double-lock"}
    leak = by_rule["lock-leak"]
    assert leak.range == T.Range(ed.pos("return rc; }"), ed.pos("return rc; }", delta=len("return rc;")))
    second = "pthread_mutex_lock(&q->lock);"
    dbl = by_rule["double-lock"]
    assert dbl.range == T.Range(ed.pos(second, 2), ed.pos(second, 2, delta=len(second) - 1))
    assert dbl.related_information[0].location.range.start == ed.pos(second, 1)
    if client.encoding == "utf-8":
        # the byte column: the emoji and é count in bytes
        line = _lsp_lines(ed.text)[dbl.range.start.line]
        assert dbl.range.start.character == len(line[:line.index(second, 10)].encode())


async def test_edit_after_non_ascii_and_form_feed(client: LanguageClient, tmp_path):
    ed = editor(client, tmp_path)
    await ed.open()
    # type an emoji before the second lock call on the form-feed function's line, then delete it
    at = ed.find("/* é */")
    diags = await ed.change(at, at, "😀")
    assert summary(diags) == reference(ed)
    diags = await ed.change(at, at + 1, "")
    assert summary(diags) == reference(ed)
    # remove the double lock through an edit whose range follows CJK and emoji text
    start = ed.find("/* é */")
    diags = await ed.change(start, ed.text.index("\n", start), "")
    assert [d.code for d in diags] == ["lock-leak"]
    assert summary(diags) == reference(ed)


async def test_hover(client: LanguageClient, tmp_path):
    ed = editor(client, tmp_path)
    await ed.open()
    h = await ed.hover(ed.pos("rc = x + 1"))
    assert h.contents.kind == T.MarkupKind.Markdown
    assert h.contents.value == (
        "**Locks held here**\n- for sure: `&q->lock` (taken at line 8)\n- on some paths: `&q->other` (taken at line 10)")
    h = await ed.hover(ed.pos("int rc"))
    assert h.contents.value == "**Locks held here:** none"
    h = await ed.hover(ed.pos("(void)s;"))  # after the emoji string, same line
    assert "- for sure: `&q->lock` (taken at line 8)" in h.contents.value
    h = await ed.hover(ed.pos("pthread_mutex_unlock(&q->lock);", delta=4))
    assert "**`&q->lock`** — `pthread_mutex_unlock` releases it" in h.contents.value
    assert "acquire `pthread_mutex_lock` at line 8" in h.contents.value
    assert h.range == T.Range(ed.pos("pthread_mutex_unlock(&q->lock)"),
                              ed.pos("pthread_mutex_unlock(&q->lock)", delta=len("pthread_mutex_unlock(&q->lock)")))
    assert await ed.hover(ed.pos("struct q {")) is None
    assert await ed.hover(T.Position(500, 3)) is None
    unknown = await wait(client.text_document_hover_async(T.HoverParams(
        T.TextDocumentIdentifier((tmp_path / "nope.c").as_uri()), T.Position(0, 0))))
    assert unknown is None


async def test_highlight(client: LanguageClient, tmp_path):
    ed = editor(client, tmp_path)
    await ed.open()
    hs = await wait(client.text_document_document_highlight_async(T.DocumentHighlightParams(
        T.TextDocumentIdentifier(ed.uri), ed.pos("pthread_mutex_lock(&q->other)", delta=3))))
    assert [(h.range.start, h.kind) for h in hs] == [
        (ed.pos("pthread_mutex_lock(&q->other)"), T.DocumentHighlightKind.Read),
        (ed.pos("pthread_mutex_unlock(&q->other)"), T.DocumentHighlightKind.Write)]


async def _actions(client, ed, diag):
    return await wait(client.text_document_code_action_async(T.CodeActionParams(
        T.TextDocumentIdentifier(ed.uri), diag.range, T.CodeActionContext(diagnostics=[diag]))))


async def test_code_actions_applied(client: LanguageClient, tmp_path):
    ed = editor(client, tmp_path)
    diags = await ed.open()
    for rule, prefix in (("lock-leak", "Release `&q->lock`"), ("double-lock", "Remove")):
        diag = next(d for d in diags if d.code == rule)
        actions = await _actions(client, ed, diag)
        titles = [a.title for a in actions]
        assert any(t.startswith("Suppress") for t in titles)
        action = next(a for a in actions if a.title.startswith(prefix))
        assert action.kind == T.CodeActionKind.QuickFix
        diags = await ed.apply(action.edit)
        assert rule not in [d.code for d in diags]
        assert summary(diags) == reference(ed)
    assert diags == []
    assert "pthread_mutex_unlock(&q->lock); return rc; }" in ed.text


async def test_suppress_action_applied(client: LanguageClient, tmp_path):
    ed = editor(client, tmp_path)
    diags = await ed.open()
    diag = next(d for d in diags if d.code == "double-lock")
    action = next(a for a in await _actions(client, ed, diag) if a.title.startswith("Suppress"))
    diags = await ed.apply(action.edit)
    assert [d.code for d in diags] == ["lock-leak"]
    assert "/* lockls: ignore[double-lock] */\n" in ed.text
    h = await ed.hover(ed.pos("lockls: ignore[double-lock]", delta=3))
    assert h.contents.value.startswith("**double-lock**")
