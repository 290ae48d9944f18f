"""`source.fixAll.lockls`: the safe fixes of a whole document as one code action, for
editors' "fix all on save" (lockls.lsp.code_actions), and the quick-fixes' preferences."""

from __future__ import annotations

from lsprotocol import types as T
from pytest_lsp import LanguageClient

from lockls.lsp.session import Session
from lsp.fixtures import make_client_fixture
from lsp.helpers import Editor, wait

URI = "file:///tmp/lockls-test/fixall.c"
HEAD = "#include <pthread.h>\nstruct q { pthread_mutex_t lock; int n; };\n"
SOURCE = HEAD + """void twice(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    pthread_mutex_lock(&q->lock);
    q->n++;
    pthread_mutex_unlock(&q->lock);
    pthread_mutex_unlock(&q->lock);
}

int leak(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    if (q->n)
        return -1;
    pthread_mutex_unlock(&q->lock);
    return 0;
}

void again(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    pthread_mutex_unlock(&q->lock);
    pthread_mutex_unlock(&q->lock);
}
"""
# the safe fixes: the repeated calls, one a function (`twice`'s second unlock, which repeats
# the first too, waits for the next save)
FIXED = HEAD + """void twice(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    q->n++;
    pthread_mutex_unlock(&q->lock);
    pthread_mutex_unlock(&q->lock);
}

int leak(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    if (q->n)
        return -1;
    pthread_mutex_unlock(&q->lock);
    return 0;
}

void again(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    pthread_mutex_unlock(&q->lock);
}
"""


def session_with(text: str) -> Session:
    s = Session()
    s.open(URI, text, 1, "c")
    return s


def applied(s: Session, edits) -> str:
    doc = s.documents[URI]
    data = doc.source
    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        a = doc.offset_at(e.range.start.line, e.range.start.character)
        b = doc.offset_at(e.range.end.line, e.range.end.character)
        data = data[:a] + e.new_text.encode() + data[b:]
    return data.decode()


WHOLE = T.Range(T.Position(0, 0), T.Position(0, 0))


def test_fix_all_is_one_action_with_the_safe_fixes():
    s = session_with(SOURCE)
    for only in (["source.fixAll"], ["source.fixAll.lockls"], [T.CodeActionKind.SourceFixAll], ["source"]):
        (action,) = s.code_actions(URI, WHOLE, only)
        assert action.kind == "source.fixAll.lockls"
        assert action.title == "Fix all safely fixable lockls findings (2)"
    assert applied(s, action.edit.changes[URI]) == FIXED


def test_fix_all_only_when_asked():
    s = session_with(SOURCE)
    assert [a.kind for a in s.code_actions(URI, WHOLE)] == []  # no finding at the cursor, and no fixAll
    assert s.code_actions(URI, WHOLE, [T.CodeActionKind.QuickFix]) == []
    assert s.code_actions(URI, WHOLE, [T.CodeActionKind.Refactor]) == []


def test_fix_all_without_safe_fixes_offers_nothing():
    s = session_with(HEAD + """int leak(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    return -1;
}
""")
    assert s.code_actions(URI, WHOLE, ["source.fixAll"]) == []


def test_second_lock_before_a_return_prefers_the_unlock():
    s = session_with(HEAD + """void f(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    pthread_mutex_lock(&q->lock);
    return;
}
""")
    result = s.analysis(URI)
    (finding,) = [f for f in result.findings if f.rule == "double-lock"]
    doc = s.documents[URI]
    actions = s.code_actions(URI, s.lsp_range(doc, finding.site.start_byte, finding.site.end_byte))
    assert [(a.title, a.is_preferred) for a in actions] == [
        ("Release `&q->lock` with `pthread_mutex_unlock` instead of taking it again before this return", True),
        ("Remove this `pthread_mutex_lock` call", None),
        ("Suppress `double-lock` on this line", None),
    ]


# -- end to end ------------------------------------------------------------------------------

client = make_client_fixture(clients=["visual_studio_code"])


async def test_fix_all_on_save_end_to_end(client: LanguageClient, tmp_path):
    kinds = client.server_capabilities.code_action_provider.code_action_kinds
    assert "source.fixAll.lockls" in kinds and T.CodeActionKind.QuickFix in kinds
    ed = Editor(client, tmp_path / "src.c", SOURCE, client.encoding)
    diags = await ed.open()
    assert sorted(d.code for d in diags) == ["double-lock", "lock-leak", "unlock-unheld", "unlock-unheld"]
    (action,) = await wait(client.text_document_code_action_async(T.CodeActionParams(
        T.TextDocumentIdentifier(ed.uri), T.Range(T.Position(0, 0), T.Position(0, 0)),
        T.CodeActionContext(diagnostics=[], only=[T.CodeActionKind.SourceFixAll]))))
    assert action.kind == "source.fixAll.lockls"
    diags = await ed.apply(action.edit)
    assert ed.text == FIXED
    assert sorted(d.code for d in diags) == ["lock-leak", "unlock-unheld"]
