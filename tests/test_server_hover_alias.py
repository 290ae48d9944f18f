"""Hover on a lock call written through local aliases says which lock it is the same
as, and why (lsp.hover._alias_note): the assignments with their lines, linked when the
client renders Markdown."""

from __future__ import annotations

from lsprotocol import types as T
from pytest_lsp import LanguageClient

from lockls.lsp.session import Session
from lsp.fixtures import make_client_fixture
from lsp.helpers import Editor

URI = "file:///tmp/lockls-test/alias.c"

SOURCE = """\
#include <pthread.h>
struct vm { pthread_mutex_t lock; struct vm *peer; int n; };
int f(struct vm *p)
{
    struct vm *host = p;
    struct vm *c = NULL;
    pthread_mutex_t *l;
    c = p->peer;
    l = &c->lock;
    pthread_mutex_lock(&host->lock);
    pthread_mutex_lock(l);
    pthread_mutex_unlock(&p->peer->lock);
    pthread_mutex_unlock(&p->lock);
    return 0;
}
"""


def hover_text(s: Session, needle: str) -> str:
    line = SOURCE[:SOURCE.index(needle)].count("\n")
    return s.hover(URI, line, 8).contents.value


def session(markdown: bool) -> Session:
    s = Session()
    s.index_workspace = False
    s.hover_markdown = markdown
    s.open(URI, SOURCE, 1, "c")
    return s


def test_alias_explained_plain():
    s = session(markdown=False)
    assert hover_text(s, "pthread_mutex_lock(&host->lock)").split("\n\n")[:2] == [
        "**`&host->lock`** — `pthread_mutex_lock` acquires it",
        "- lock: `p->lock`\n"
        "- same lock as `p->lock`: `host = p` at line 5\n"
        "- kind: `pthread_mutex`\n"
        "- in `f`:\n"
        "  - acquire `pthread_mutex_lock` at line 10 (this call)\n"
        "  - release `pthread_mutex_unlock` at line 13"]
    # two aliases in a row, the NULL initialisation aside
    assert "\n- same lock as `p->peer->lock`: `l = &c->lock` at line 9, `c = p->peer` at line 8\n" in (
        hover_text(s, "pthread_mutex_lock(l)"))
    # written as the lock itself: nothing to explain
    assert "same lock as" not in hover_text(s, "pthread_mutex_unlock(&p->lock)")


def test_alias_lines_linked_for_markdown():
    s = session(markdown=True)
    assert "\n- same lock as `p->peer->lock`: `l = &c->lock` at [line 9](" + URI + "#L9), `c = p->peer` at [line 8]("\
           + URI + "#L8)\n" in hover_text(s, "pthread_mutex_lock(l)")


def test_reassigned_name_is_not_explained():
    text = SOURCE.replace("    return 0;", "    host = p->peer;\n    return 0;")
    s = Session()
    s.index_workspace = False
    s.open(URI, text, 1, "c")
    line = text[:text.index("pthread_mutex_lock(&host->lock)")].count("\n")
    value = s.hover(URI, line, 8).contents.value
    assert "- lock: `host->lock`" in value and "same lock as" not in value


client = make_client_fixture(clients=["visual_studio_code"])


async def test_alias_hover_over_the_protocol(client: LanguageClient, tmp_path):
    ed = Editor(client, tmp_path / "alias.c", SOURCE, client.encoding)
    await ed.open()
    hover = await ed.hover(ed.pos("pthread_mutex_lock(&host->lock)"))
    assert hover.contents.kind == T.MarkupKind.Markdown  # the client renders it: lines are links
    assert f"- same lock as `p->lock`: `host = p` at [line 5]({ed.uri}#L5)\n" in hover.contents.value
