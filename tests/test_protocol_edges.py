"""The language server survives malformed JSON-RPC input (lsp/transport.py, LocklsProtocol).

The real server runs as a subprocess and is fed raw bytes: out-of-schema params,
huge and wrong Content-Length headers, garbage between messages. Every read has a
timeout, and the process is always killed, so no test can hang.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading

import pytest

from lockls.lsp.transport import MAX_MESSAGE, MessageReader

TIMEOUT = 20  # seconds, for any one answer
URI = "file:///tmp/protocol-edges/a.c"
TEXT = "#include <pthread.h>\n\nint x;\n"


def frame(message: dict, delta: int = 0) -> bytes:
    """A message with its header; delta makes the Content-Length wrong by that much."""
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % (len(body) + delta) + body


def request(id, method, params) -> dict:
    return {"jsonrpc": "2.0", "id": id, "method": method, "params": params}


def notification(method, params) -> dict:
    return {"jsonrpc": "2.0", "method": method, "params": params}


def hover(id, line=1, character=0) -> dict:
    return request(id, "textDocument/hover",
                   {"textDocument": {"uri": URI}, "position": {"line": line, "character": character}})


def did_open() -> dict:
    return notification("textDocument/didOpen",
                        {"textDocument": {"uri": URI, "languageId": "c", "version": 1, "text": TEXT}})


class Server:
    """`python -m lockls` on pipes; a thread cuts its stdout into messages, another collects stderr."""

    def __init__(self, cwd):
        self.proc = subprocess.Popen([sys.executable, "-m", "lockls"], cwd=cwd,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.messages: queue.Queue = queue.Queue()
        self.stderr = b""
        self.threads = [threading.Thread(target=self._read_stdout, daemon=True),
                        threading.Thread(target=self._read_stderr, daemon=True)]
        for t in self.threads:
            t.start()

    def _read_stdout(self):
        out = self.proc.stdout
        while True:
            length = None
            while (line := out.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if not line or length is None:
                self.messages.put(None)  # end of output
                return
            self.messages.put(json.loads(out.read(length)))

    def _read_stderr(self):
        self.stderr = self.proc.stderr.read()

    def send(self, data: bytes | dict) -> None:
        self.proc.stdin.write(data if isinstance(data, bytes) else frame(data))
        self.proc.stdin.flush()

    def answer(self, id) -> dict:
        """The next response (a message without a method), skipping notifications; it must be to `id`."""
        while True:
            message = self.messages.get(timeout=TIMEOUT)
            assert message is not None, f"the server stopped; stderr:\n{self.stderr.decode(errors='replace')}"
            if "method" not in message:
                assert message.get("id") == id, message
                return message

    def initialize(self) -> dict:
        self.send(request(1, "initialize", {"processId": None, "rootUri": None, "capabilities": {}}))
        result = self.answer(1)
        self.send(notification("initialized", {}))
        return result

    def stop(self) -> int:
        """shutdown and exit, as a client does; the exit code, once stderr is all read."""
        self.send(request("stop", "shutdown", None))
        assert self.answer("stop") == {"jsonrpc": "2.0", "id": "stop", "result": None}
        self.send(notification("exit", None))
        code = self.proc.wait(timeout=TIMEOUT)
        for t in self.threads:
            t.join(timeout=TIMEOUT)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path)
    try:
        yield s
    finally:
        s.kill()


def clean(stderr: bytes) -> bool:
    return b"Traceback" not in stderr and b"MemoryError" not in stderr


def test_initialize_handshake(server):
    result = server.initialize()
    assert result["result"]["serverInfo"]["name"] == "lockls"
    assert result["result"]["capabilities"]["hoverProvider"] is True
    assert server.stop() == 0
    assert clean(server.stderr), server.stderr


@pytest.mark.parametrize("line", [-1, 2**53, "one"])
def test_out_of_schema_params_get_invalid_params(server, line):
    server.initialize()
    server.send(did_open())
    server.send(hover(2, line=line))
    error = server.answer(2)
    assert set(error) == {"jsonrpc", "id", "error"}
    assert error["error"]["code"] == -32602
    assert error["error"]["message"].startswith("Invalid params for textDocument/hover: ")
    # a notification cannot be answered: ignored, and the server goes on
    server.send(notification("textDocument/didChange", {"textDocument": {"uri": URI, "version": "two"},
                                                          "contentChanges": []}))
    server.send(hover(3))
    assert server.answer(3) == {"jsonrpc": "2.0", "id": 3, "result": None}
    assert server.stop() == 0
    assert clean(server.stderr), server.stderr
    assert b"ignored textDocument/didChange: invalid params" in server.stderr


def test_huge_content_length_is_skipped(server):
    server.initialize()
    server.send(b"Content-Length: 1000000000000\r\n\r\n")
    server.send(hover(2))
    assert server.answer(2) == {"jsonrpc": "2.0", "id": 2, "result": None}
    assert server.proc.poll() is None
    assert server.stop() == 0
    assert clean(server.stderr), server.stderr
    assert b"skipped a message of 1000000000000 bytes: more than the limit of %d bytes" % MAX_MESSAGE in server.stderr


def test_content_length_one_too_small(server):
    """The short message is read up to the next header, so both are answered, in order."""
    server.initialize()
    server.send(frame(hover(2), delta=-1))
    server.send(hover(3))
    assert server.answer(2) == {"jsonrpc": "2.0", "id": 2, "result": None}
    assert server.answer(3) == {"jsonrpc": "2.0", "id": 3, "result": None}
    assert server.stop() == 0
    assert clean(server.stderr), server.stderr
    assert b"a message had a wrong Content-Length" in server.stderr


def test_content_length_too_large(server):
    """Answered though the client sends nothing more (it waits for the answer), then the next one too."""
    server.initialize()
    server.send(frame(hover(2), delta=10))
    assert server.answer(2) == {"jsonrpc": "2.0", "id": 2, "result": None}
    server.send(hover(3))
    assert server.answer(3) == {"jsonrpc": "2.0", "id": 3, "result": None}
    assert server.stop() == 0
    assert clean(server.stderr), server.stderr


def test_garbage_between_messages(server):
    server.initialize()
    server.send(b"hello\r\n\r\n")  # no header at all
    server.send(b"Content-Length: 7\r\n\r\n{nope!}")  # not JSON
    server.send(b"Content-Length: 4\r\n\r\n[1]\n")  # JSON, not JSON-RPC
    server.send(b"Content-Length: 30000\r\n\r\n" + b"[" * 30000)  # deep enough to overflow a recursive parser
    server.send(hover(2))
    assert server.answer(2) == {"jsonrpc": "2.0", "id": 2, "result": None}
    assert server.stop() == 0
    assert clean(server.stderr), server.stderr


def _stream():
    """Good and broken messages, with the ids that must come out of them."""
    m = lambda i: request(i, "x", {"text": "Content-Length: 5\r\n\r\n{}"})  # a header's text, escaped, inside a body
    s = frame(m(1)) + frame(m(2), -3) + frame(m(3), 5) + frame(m(4))  # too small, too large: both recovered
    s += frame(m(5), -1) + b"}junk" + frame(m(6))  # too small, and garbage after it: lost
    s += b"Content-Length: 99999999999999999999\r\n\r\n" + frame(m(7))
    s += b"Content-Length: 4\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{} \n" + frame(m(8))
    return s, [1, 2, 3, 4, 6, 7, {}, 8]


def test_reader_framing_does_not_depend_on_how_the_bytes_arrive():
    stream, expected = _stream()
    whole = MessageReader().feed(stream)
    reader, one_by_one = MessageReader(), []
    for i in range(len(stream)):
        one_by_one += reader.feed(stream[i:i + 1])
    ids = lambda values: [v.get("id", v) for v in values]
    assert ids(whole) == expected
    assert ids(one_by_one) == expected
