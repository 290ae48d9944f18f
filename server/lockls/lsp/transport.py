"""Reading the client's JSON-RPC messages from a byte stream, robustly.

Owns: cutting the stream into messages (`Content-Length` framing), the size cap,
resynchronising after a framing error, and the loop that hands each message to
the pygls protocol. It replaces pygls' `io_.run_async`, which trusts the header:
it reads as many bytes as announced (a MemoryError, and the server dies, on
`Content-Length: 1000000000000`) and after a wrong length every following message
is read out of step and lost.

The resynchronisation rule. The bytes `Content-Length: <digits>` CR LF never occur
inside a well-formed JSON body: outside strings JSON has no letters but those of
true/false/null, and inside strings CR and LF must be escaped. So a header found
by searching the stream is a real header, and:
  - bytes before a header are not a well-framed message: if they are exactly one
    JSON value (a message whose Content-Length was too small: read again up to
    the next header) it is handled, else they are skipped, with a warning;
  - a body that is not valid JSON is read again in that way;
  - a header before the announced end of a body means the length was too large:
    the body ends at that header;
  - so does a complete JSON value received before the announced end when the
    stream then goes quiet (QUIET): without this the server would wait for bytes
    that a client waiting for the answer never sends (an object has no complete
    prefix, so a well-framed body is never cut short: only trailing whitespace
    could follow, and no client pads with it);
  - a message announced larger than MAX_MESSAGE is skipped (logged) without
    reading it: its body, if it comes, is skipped as bytes before the next header.
Memory stays bounded by about MAX_MESSAGE whatever arrives.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import TYPE_CHECKING, Any, Callable, Optional

from pygls.exceptions import JsonRpcException

if TYPE_CHECKING:
    import threading
    from concurrent.futures import Executor
    from typing import BinaryIO

    from pygls.protocol import JsonRPCProtocol

log = logging.getLogger("lockls.transport")

MAX_MESSAGE = 64 * 1024 * 1024  # bytes; larger messages are skipped
MAX_HEADERS = 4096  # bytes from a Content-Length header to the empty line ending the headers
QUIET = 0.05  # seconds without bytes in the middle of a body after which MessageReader.quiet is asked
READ_SIZE = 1 << 20  # at most this much per read; a read returns what is available
# spelled as the LSP spec does (as pygls requires): ignoring case would make the search 30 times slower
HEADER = re.compile(rb"Content-Length:[ \t]*(\d+)[ \t]*\r\n")
_OVERLAP = 64  # searching again from a little before where the last search ended finds a header cut in two
_INVALID = object()


def _decode(data) -> Any:
    try:
        return json.loads(bytes(data).decode("utf-8"))
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested deeply enough to overflow the stack
        return _INVALID


class MessageReader:
    """Cuts a byte stream into JSON values: `feed` it bytes as they come, it returns the
    messages they complete. Pure (no I/O), so the framing rule is testable by itself."""

    def __init__(self, max_message: int = MAX_MESSAGE):
        self.max_message = max_message
        self.buf = bytearray()
        self.length: Optional[int] = None  # the announced length of the body being read; None: between messages
        self.scanned = 0  # self.buf was searched for a header up to here
        self.dropped = 0  # bytes skipped since the last header, not yet reported

    def feed(self, data: bytes) -> list[Any]:
        self.buf += data
        out: list[Any] = []
        while self._body(out) if self.length is not None else self._header(out):
            pass
        return out

    def _header(self, out: list[Any]) -> bool:
        """Between messages: take a header block off the buffer. False when more bytes are needed."""
        m = HEADER.search(self.buf, max(0, self.scanned - _OVERLAP))
        if m is None:
            self.scanned = len(self.buf)
            if len(self.buf) > self.max_message + _OVERLAP:  # too many to be a message: keep only what may start a header
                self.dropped += len(self.buf) - _OVERLAP
                del self.buf[:-_OVERLAP]
                self.scanned = _OVERLAP
            return False
        if m.start() or self.dropped:
            self._unframed(m.start(), out)
            return True
        end = self.buf.find(b"\r\n\r\n", 0, MAX_HEADERS)
        if end < 0:
            if len(self.buf) < MAX_HEADERS:
                self.scanned = 0  # the headers' end is still to come: read this header again then
                return False
            self.dropped += m.end()  # no end to these headers: the next header may start a real message
            del self.buf[:m.end()]
            self.scanned = 0
            return True
        digits = HEADER.findall(self.buf, 0, end + 2)[-1]  # the last one, if several: it is next to the body
        del self.buf[:end + 4]
        self.scanned = 0
        if len(digits) > 15 or int(digits) > self.max_message:
            log.error("skipped a message of %s bytes: more than the limit of %d bytes", digits.decode(), self.max_message)
            return True
        self.length = int(digits)
        return True

    def _body(self, out: list[Any]) -> bool:
        """Inside a message: take its body off the buffer. False when more bytes are needed."""
        n = self.length
        assert n is not None
        m = HEADER.search(self.buf, max(0, self.scanned - _OVERLAP), n + _OVERLAP)
        if m is not None and m.start() < n:
            end = m.start()  # the next message starts before the announced end: the length was too large
        elif len(self.buf) >= n:
            end = n
        else:
            self.scanned = len(self.buf)
            return False
        value = _decode(self.buf[:end])
        self.length, self.scanned = None, 0
        if value is _INVALID:
            return True  # left in the buffer, to be read again as bytes before the next header
        if end < n:
            log.warning("a message had Content-Length %d but was %d bytes long: read as such", n, end)
        del self.buf[:end]
        out.append(value)
        return True

    def quiet(self) -> list[Any]:
        """The stream went quiet in the middle of a body: if what came of it is a whole JSON
        value, the announced length was too large and the client is likely waiting for the
        answer before sending more; take it rather than wait for bytes that may never come."""
        if self.length is None or (value := _decode(self.buf)) is _INVALID:
            return []
        log.warning("a message had Content-Length %d but was %d bytes long: read as such", self.length, len(self.buf))
        self.buf.clear()
        self.length, self.scanned = None, 0
        return [value]

    def _unframed(self, n: int, out: list[Any]) -> None:
        """The first n bytes of the buffer (and self.dropped before them) end at a header
        without being a well-framed message: handle them if they are one message, else skip them."""
        value = _decode(self.buf[:n]) if not self.dropped and self.buf[:n].strip() else _INVALID
        if value is not _INVALID:
            log.warning("a message had a wrong Content-Length: read up to the next header instead")
            out.append(value)
        elif self.dropped or self.buf[:n].strip():
            log.warning("skipped %d bytes that are not a well-framed JSON-RPC message "
                        "(invalid JSON or a wrong Content-Length)", self.dropped + n)
        del self.buf[:n]
        self.scanned = self.dropped = 0


def dispatch(protocol: JsonRPCProtocol, value: Any,
             error_handler: Optional[Callable[[Exception, type], Any]] = None) -> None:
    """Hand one decoded message to pygls, as `io_.run_async` does (minus its `object_hook`:
    only the message itself is structured, so a nested object with a "jsonrpc" key stays data)."""
    if not isinstance(value, dict) or "jsonrpc" not in value:
        log.error("ignored a message that is not a JSON-RPC 2.0 object: %.200r", value)
        return
    try:
        protocol.handle_message(protocol.structure_message(value))
    except Exception as exc:
        log.exception("Unable to handle message")
        if error_handler:
            error_handler(exc, JsonRpcException)


async def serve(stop_event: threading.Event, stdin: BinaryIO, protocol: JsonRPCProtocol,
                executor: Optional[Executor] = None,
                error_handler: Optional[Callable[[Exception, type], Any]] = None) -> None:
    """The main loop: read what arrives (in a thread, like pygls), handle the messages it completes."""
    loop = asyncio.get_running_loop()
    read = getattr(stdin, "read1", None) or stdin.read  # read1: what is available, without waiting for READ_SIZE bytes
    reader = MessageReader()
    while not stop_event.is_set():
        reading = loop.run_in_executor(executor, read, READ_SIZE)
        if reader.length is not None and not (await asyncio.wait({reading}, timeout=QUIET))[0]:
            for value in reader.quiet():  # checked once per quiet spell, not on every read: decoding is not free
                dispatch(protocol, value, error_handler)
        data = await reading
        if not data:
            break
        for value in reader.feed(data):
            dispatch(protocol, value, error_handler)
