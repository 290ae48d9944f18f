"""End-to-end tests of the language server: a real `lockls` process driven by pytest-lsp."""

from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types as T
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from lsp.helpers import SERVER_COMMAND, Editor, install_recorder, reference, summary, wait

LEAKY = """\
#include <pthread.h>

struct queue { pthread_mutex_t lock; int len, cap; };

int queue_push(struct queue *q, int job)
{
    pthread_mutex_lock(&q->lock);
    if (q->len == q->cap)
        return -1;
    q->len++;
    pthread_mutex_unlock(&q->lock);
    return 0;
}
"""

CLIENTS = ["visual_studio_code", "neovim", "emacs"]


@pytest_lsp.fixture(params=CLIENTS, config=ClientServerConfig(server_command=SERVER_COMMAND))
async def client(lsp_client: LanguageClient, request, tmp_path):
    caps = client_capabilities(request.param)
    install_recorder(lsp_client)
    lsp_client.registrations = []

    @lsp_client.feature(T.CLIENT_REGISTER_CAPABILITY)
    def register(params: T.RegistrationParams):
        lsp_client.registrations.extend(params.registrations)
        return None
    result = await wait(lsp_client.initialize_session(T.InitializeParams(
        capabilities=caps, root_uri=tmp_path.as_uri(), workspace_folders=[T.WorkspaceFolder(tmp_path.as_uri(), "ws")])))
    lsp_client.encoding = result.capabilities.position_encoding or "utf-16"
    lsp_client.client_name = request.param
    yield
    await wait(lsp_client.shutdown_session())


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
    assert d.range == T.Range(ed.pos("return -1;"), ed.pos("return -1;", delta=len("return -1;")))
    assert d.message == "`&q->lock` taken at line 7 is still held at this return (held: &q->lock)"
    (rel,) = d.related_information
    assert rel.location.uri == ed.uri
    call = "pthread_mutex_lock(&q->lock)"
    assert rel.location.range == T.Range(ed.pos(call), ed.pos(call, delta=len(call)))
    assert d.data["rule"] == "lock-leak" and d.data["lock"] == "&q->lock"


async def test_incremental_edits_introduce_and_remove_leak(client: LanguageClient, tmp_path):
    fixed = LEAKY.replace("        return -1;", "    {\n        pthread_mutex_unlock(&q->lock);\n        return -1;\n    }")
    fixed = fixed.replace("if (q->len == q->cap)\n    {", "if (q->len == q->cap) {")
    ed = editor(client, tmp_path, fixed)
    assert await ed.open() == []
    # delete the unlock line inside the if: a leak appears
    at = ed.find("        pthread_mutex_unlock(&q->lock);\n")
    diags = await ed.change(at, at + len("        pthread_mutex_unlock(&q->lock);\n"), "")
    assert [d.code for d in diags] == ["lock-leak"]
    assert diags[0].range.start == ed.pos("return -1;")
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
    assert [(d.code, d.range.start.line) for d in diags] == [("lock-leak", ed.pos("return -1;").line)]
    assert "taken at line 9 " in diags[0].message
    # full-document sync works too
    assert await ed.replace_all(fixed) == []


async def test_close_clears_diagnostics(client: LanguageClient, tmp_path):
    ed = editor(client, tmp_path, LEAKY)
    assert len(await ed.open()) == 1
    assert await ed.close() == []
