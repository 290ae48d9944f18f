"""End-to-end tests of the language server: a real `lockls` process driven by pytest-lsp."""

from __future__ import annotations

from lsprotocol import types as T
from pytest_lsp import LanguageClient

from lsp.fixtures import make_client_fixture
from lsp.helpers import Editor, reference, summary

LEAKY = """\
#include <pthread.h>

struct queue { pthread_mutex_t lock; int len, cap; };

void queue_push(struct queue *q, int job)
{
    pthread_mutex_lock(&q->lock);
    if (q->len == q->cap)
        return;
    q->len++;
    pthread_mutex_unlock(&q->lock);
}
"""

client = make_client_fixture()


def editor(client, tmp_path, text, name="q.c"):
    return Editor(client, tmp_path / name, text, client.encoding)


async def test_encoding_negotiated(client: LanguageClient):
    expected = {"visual_studio_code": "utf-16", "neovim": "utf-8", "emacs": "utf-8"}[client.client_name]
    assert client.encoding == expected


async def test_open_reports_leak_with_related(client: LanguageClient, tmp_path):
    ed = editor(client, tmp_path, LEAKY)
    diags = await ed.open()
    assert len(diags) == 1
    d = diags[0]
    assert d.code == "lock-leak"
    assert d.source == "lockls"
    assert d.severity == T.DiagnosticSeverity.Warning
    assert d.code_description.href.endswith("/lock-leak.md")
    assert d.range == T.Range(ed.pos("return;"), ed.pos("return;", delta=len("return;")))
    assert d.message == "`&q->lock` taken at line 7 is still held at this return (held: &q->lock)"
    (rel,) = d.related_information
    assert rel.location.uri == ed.uri
    call = "pthread_mutex_lock(&q->lock)"
    assert rel.location.range == T.Range(ed.pos(call), ed.pos(call, delta=len(call)))
    assert d.data["rule"] == "lock-leak" and d.data["lock"] == "&q->lock"


async def test_incremental_edits_introduce_and_remove_leak(client: LanguageClient, tmp_path):
    fixed = LEAKY.replace("        return;", "    {\n        pthread_mutex_unlock(&q->lock);\n        return;\n    }")
    fixed = fixed.replace("if (q->len == q->cap)\n    {", "if (q->len == q->cap) {")
    ed = editor(client, tmp_path, fixed)
    assert await ed.open() == []
    # delete the unlock line inside the if: a leak appears
    at = ed.find("        pthread_mutex_unlock(&q->lock);\n")
    diags = await ed.change(at, at + len("        pthread_mutex_unlock(&q->lock);\n"), "")
    assert [d.code for d in diags] == ["lock-leak"]
    assert diags[0].range.start == ed.pos("return;")
    # type it back, character by character for the last few
    diags = await ed.change(at, at, "        pthread_mutex_unlock(&q->lock")
    assert summary(diags) == reference(ed)
    diags = await ed.change(at + len("        pthread_mutex_unlock(&q->lock"), at + len("        pthread_mutex_unlock(&q->lock"), ");\n")
    assert diags == []
    # a line inserted above the function moves nothing but the positions
    diags = await ed.change(0, 0, "/* header */\n\n")
    assert diags == []
    at = ed.find("        pthread_mutex_unlock(&q->lock);\n")
    diags = await ed.change(at, at + len("        pthread_mutex_unlock(&q->lock);\n"), "")
    assert [(d.code, d.range.start.line) for d in diags] == [("lock-leak", ed.pos("return;").line)]
    assert "taken at line 9 " in diags[0].message
    # full-document sync works too
    assert await ed.replace_all(fixed) == []


async def test_close_clears_diagnostics(client: LanguageClient, tmp_path):
    ed = editor(client, tmp_path, LEAKY)
    assert len(await ed.open()) == 1
    assert await ed.close() == []
