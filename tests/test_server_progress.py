"""`$/progress` while the language server indexes the workspace (lsp.progress,
lsp.workspace's progress calls, lsp.server's wiring): begin "Indexing C files",
reports "k/N files", end "N files indexed"; nothing for a client without
`window.workDoneProgress`."""

from __future__ import annotations

import asyncio
import re

import pytest_lsp
from lsprotocol import types as T
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from lockls.lsp.progress import IndexProgress
from lockls.lsp.workspace import ProjectIndex
from lsp.helpers import SERVER_COMMAND, Editor, expect_diagnostics, install_recorder, wait

FILES = 12  # generated files
TOTAL = FILES + 2  # and wrappers.c and user.c: the files of the walk

WRAPPERS = """\
#include <pthread.h>
struct q { pthread_mutex_t lock; int n; };
void q_lock(struct q *q) { pthread_mutex_lock(&q->lock); }
void q_unlock(struct q *q) { pthread_mutex_unlock(&q->lock); }
"""
# leaks only for a server that read q_lock's summary in wrappers.c (the index's work)
USER = """\
struct q;
void q_lock(struct q *q);
int use(struct q *q)
{
    q_lock(q);
    return 0;
}
"""


def write_workspace(root):
    for i in range(FILES):
        (root / f"gen{i:02}.c").write_text(f"int gen{i}(int x)\n{{\n    return x + {i};\n}}\n")
    (root / "wrappers.c").write_text(WRAPPERS)
    (root / "user.c").write_text(USER)


@pytest_lsp.fixture(params=[True, False], ids=["progress", "no-progress"],
                    config=ClientServerConfig(server_command=SERVER_COMMAND))
async def client(lsp_client: LanguageClient, request, tmp_path):
    write_workspace(tmp_path)
    caps = client_capabilities("visual_studio_code")
    caps.window.work_done_progress = request.param
    install_recorder(lsp_client)
    lsp_client.shows_progress = request.param

    @lsp_client.feature(T.CLIENT_REGISTER_CAPABILITY)
    def register(params: T.RegistrationParams):
        return None

    await wait(lsp_client.initialize_session(T.InitializeParams(
        capabilities=caps, root_uri=tmp_path.as_uri(),
        workspace_folders=[T.WorkspaceFolder(tmp_path.as_uri(), "ws")])))
    yield
    await wait(lsp_client.shutdown_session())


async def indexed(client, tmp_path):
    """Open a file whose finding needs the index: its diagnostics say the walk is done."""
    ed = Editor(client, tmp_path / "user.c", USER)
    leak = expect_diagnostics(client, lambda p: p.uri == ed.uri and any(d.code == "lock-leak" for d in p.diagnostics))
    await ed.open()
    await wait(leak)


async def test_progress_while_indexing(client: LanguageClient, tmp_path):
    await indexed(client, tmp_path)
    if not client.shows_progress:
        assert client.progress_reports == {}
        return
    for _ in range(200):  # the end may come just after the diagnostics
        values = [v for vs in client.progress_reports.values() for v in vs]
        if values and isinstance(values[-1], T.WorkDoneProgressEnd):
            break
        await asyncio.sleep(0.05)
    (token, values), = client.progress_reports.items()  # one walk, one token
    assert token == "lockls-index-1"
    total = TOTAL
    begin, *reports, end = values
    assert begin == T.WorkDoneProgressBegin(title="Indexing C files", message=f"0/{total} files", percentage=0,
                                            cancellable=False)
    counts = []
    for report in reports:  # at most one every 0.2 s: how many depends on the machine
        m = re.fullmatch(rf"(\d+)/{total} files", report.message)
        assert m and report.percentage == 100 * int(m[1]) // total, report
        counts.append(int(m[1]))
    assert counts == sorted(counts) and all(0 < c < total for c in counts)
    assert end == T.WorkDoneProgressEnd(message=f"{total} files indexed")


def test_index_progress_calls(tmp_path):
    """The index thread's calls: begin with the count, reports in order, end."""
    write_workspace(tmp_path)
    calls = []
    index = ProjectIndex([str(tmp_path)], use_cache=False, progress=lambda *call: calls.append(call))
    index._quiet_after = 0.0
    assert index._walk()
    total = TOTAL
    assert calls[0] == (0, total, "begin") and calls[-1] == (total, total, "end")
    assert all(stage == "report" and 0 < done < total for done, _, stage in calls[1:-1])


def test_index_progress_stopped_by_restart(tmp_path):
    write_workspace(tmp_path)
    calls = []
    index = ProjectIndex([str(tmp_path)], use_cache=False, progress=lambda *call: calls.append(call))
    index._restart.set()  # a newer configuration: this walk gives up at once
    assert not index._walk()
    assert calls == [(0, TOTAL, "begin"), (0, TOTAL, "stopped")]


class FakeClient:
    """The two callables IndexProgress sends through; create requests are answered by hand."""

    def __init__(self):
        self.created: list = []  # (token, answer callback)
        self.sent: list = []  # (token, value)

    def create(self, token, answered):
        self.created.append((token, answered))

    def send(self, token, value):
        self.sent.append((token, value))


def test_progress_waits_for_the_created_token():
    c = FakeClient()
    p = IndexProgress(c.create, c.send)
    p.update(0, 480, "begin")
    p.update(60, 480, "report")  # before the client answered: only the last one is sent, after the begin
    p.update(120, 480, "report")
    assert [t for t, _ in c.created] == ["lockls-index-1"] and c.sent == []
    c.created[0][1](True)
    p.update(240, 480, "report")
    p.update(480, 480, "end")
    assert c.sent == [
        ("lockls-index-1", T.WorkDoneProgressBegin(title="Indexing C files", message="0/480 files", percentage=0,
                                                   cancellable=False)),
        ("lockls-index-1", T.WorkDoneProgressReport(message="120/480 files", percentage=25)),
        ("lockls-index-1", T.WorkDoneProgressReport(message="240/480 files", percentage=50)),
        ("lockls-index-1", T.WorkDoneProgressEnd(message="480 files indexed")),
    ]


def test_progress_ended_before_the_answer_and_refused():
    c = FakeClient()
    p = IndexProgress(c.create, c.send)
    p.update(0, 1, "begin")
    p.update(1, 1, "end")
    c.created[0][1](True)
    assert c.sent == [  # begun, and ended at once
        ("lockls-index-1", T.WorkDoneProgressBegin(title="Indexing C files", message="0/1 files", percentage=0,
                                                   cancellable=False)),
        ("lockls-index-1", T.WorkDoneProgressEnd(message="1 file indexed")),
    ]
    # the next walk: the client refuses the token, so nothing is sent for it
    c.sent.clear()
    p.update(0, 3, "begin")
    c.created[1][1](False)
    p.update(1, 3, "report")
    p.update(3, 3, "end")
    assert c.created[1][0] == "lockls-index-2" and c.sent == []


def test_progress_of_an_interrupted_walk():
    c = FakeClient()
    p = IndexProgress(c.create, c.send)
    p.update(0, 10, "begin")
    c.created[0][1](True)
    p.update(4, 10, "stopped")
    p.update(0, 10, "begin")  # walking again: a new token
    assert c.sent[-1] == ("lockls-index-1", T.WorkDoneProgressEnd(message="stopped at 4/10 files: indexing again"))
    assert [t for t, _ in c.created] == ["lockls-index-1", "lockls-index-2"]
