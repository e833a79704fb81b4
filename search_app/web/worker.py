"""The production server's worker: gunicorn's threaded worker, with each request read before a thread
takes it and each answer sent after the thread has let go of it.

gunicorn's gthread worker gives every new connection to a thread, which then blocks reading
the request: eight clients that connect and send nothing, or send their headers a byte at a
time, held the eight threads of 2 workers x 4 threads and /healthz went unanswered for 50 s.
This worker reads each request (its head, and a body up to ``max_body_bytes``) in the worker's
event loop without blocking, and hands the connection to a thread only once the whole request
is there. A request not complete within ``REQUEST_TIMEOUT`` seconds is dropped. A slow client
then costs a socket and a buffer, never a thread; gunicorn's ``worker_connections`` bounds the
sockets. Answers go the same way back: a thread sends what the client's socket takes at once and
leaves the rest to the event loop, which reads the connection's next request only once the answer
is out, and resets the connection if it is not out within ``SEND_TIMEOUT`` seconds. The kernel
holds at most ``KERNEL_UNSENT`` bytes of answer that a client has not taken (TCP_NOTSENT_LOWAT;
by default it takes up to 4 MiB, about a hundred pipelined searches computed for a client that
never reads). A client that never reads its answers then costs a socket and about two answers,
never a thread (eight such clients held every thread of 2 workers x 4 threads, 20 s at a time).
A chunked body that no thread could read to its end (a chunk size of more than 8 hex digits, one
past ``max_body_bytes``, a size line that never ends) is refused on the event loop at once. The
rare blocking read on a thread is bounded by a socket timeout.

gunicorn's own refusals (414 for a request line over ``limit_request_line``, 431 for too many or
too large header fields, 400 for a malformed request) are answered in the app's error shape:
JSON under ``/api/``, the plain error page elsewhere, with the security headers.

Use it with ``worker_class = "search_app.web.worker.RequestWorker"`` (as ``gunicorn.conf.py`` does).
TLS and cleartext HTTP/2 are left to gunicorn's own gthread code path (a reverse proxy terminates
TLS in front of this server; see docs/operations.md).
"""
from __future__ import annotations

import html
import re
import selectors
import socket
import struct
import sys
import threading
import time
from collections import deque
from functools import partial
from typing import NamedTuple
from urllib.parse import urlsplit

from gunicorn import http, util
from gunicorn.http2 import negotiation
from gunicorn.workers import base
from gunicorn.workers.gthread import ThreadWorker

from .errors import SECURITY_HEADERS, is_json_path, plain_error

REQUEST_TIMEOUT = 10.0   # seconds a client has to send a whole request (head and body) once it starts one
LINGER = 2.0             # seconds a closed connection is drained, so that the client reads the whole answer
SEND_TIMEOUT = 20        # seconds a client has to read the part of an answer its socket did not take at once
RECEIVE_TIMEOUT = 5      # seconds a thread waits for bytes it still needs (a request refused early)
KERNEL_UNSENT = 64 * 1024  # most bytes of answers the kernel holds unsent for a client, beyond what is in flight
HEAD_CAP = 32 * 1024     # most bytes of request line and headers held (nginx's default is 4 x 8 KiB)
READ_SIZE = 64 * 1024
DEFAULT_MAX_BODY = 16384
_HEX = re.compile(rb"[0-9A-Fa-f]+")


class _Waiting:
    """A connection on the event loop: the bytes of its request so far (or of its answer still to send)
    and when it must be done."""

    __slots__ = ("buffer", "deadline")

    def __init__(self, buffer: bytes, deadline: float):
        self.buffer = bytearray(buffer)
        self.deadline = deadline


WAIT, READY, READY_THEN_CLOSE = "wait", "ready", "ready-then-close"


class Refusal(NamedTuple):
    """A request answered on the event loop, without a thread: its status, reason phrase and message."""

    status: int
    reason: str
    message: str


HEAD_TOO_LARGE = Refusal(431, "Request Header Fields Too Large",
                         f"the request's header fields are over {HEAD_CAP} bytes in all")
BAD_CHUNK = Refusal(400, "Bad Request", "this is not a request the server can read (a chunk size over 8 hex "
                                        "digits, or a chunk size or trailer line that never ends)")


def request_state(buffer: bytes | bytearray, limit_request_line: int, max_body: int) -> str | Refusal:
    """Whether the bytes of a request are enough to hand it to a thread.

    READY: the head and any body are complete (or the request is malformed in a way gunicorn
    refuses from these bytes alone); READY_THEN_CLOSE: the app will refuse it without reading all
    of its body (over ``max_body``), so the connection closes after the answer; WAIT: more bytes
    are needed; a ``Refusal``: the event loop answers it (a head over ``HEAD_CAP``, a chunked body
    a thread would wait on in vain).
    """
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if buffer.find(b"\r\n") < 0 and len(buffer) > limit_request_line + 2:
            return READY  # gunicorn answers 414 from what is there
        return HEAD_TOO_LARGE if len(buffer) > HEAD_CAP else WAIT
    if end > HEAD_CAP:
        return HEAD_TOO_LARGE
    length, chunked = None, False
    for line in bytes(buffer[:end]).split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            if not value.isdigit() or length is not None:
                return READY_THEN_CLOSE  # gunicorn refuses it
            length = int(value)
        elif name == b"transfer-encoding":
            if value.split(b",")[-1].strip() != b"chunked" or chunked:
                return READY_THEN_CLOSE
            chunked = True
    body = memoryview(buffer)[end + 4:]
    if chunked:
        return READY_THEN_CLOSE if length is not None else _chunked_state(body, max_body)
    if not length:
        return READY
    if length > max_body:
        return READY_THEN_CLOSE  # 413 from the app, which reads none of it
    return READY if len(body) >= length else WAIT


def _chunked_state(body: memoryview, max_body: int) -> str | Refusal:
    """Walk the chunks buffered so far: READY at the last chunk or a malformed one; refused at a size
    no body has, past ``max_body``, or at a line that never ends (gunicorn would wait for the bytes)."""
    position, total = 0, 0
    data = body.tobytes()
    while True:
        line_end = data.find(b"\r\n", position)
        if line_end < 0:
            return BAD_CHUNK if len(data) - position > 1024 else WAIT  # a size line that never ends
        size = data[position:line_end].split(b";", 1)[0].strip()
        if not _HEX.fullmatch(size):
            return READY_THEN_CLOSE  # gunicorn raises InvalidChunkSize and the app answers 400
        if len(size) > 8:
            return BAD_CHUNK  # gunicorn takes any length of hex, then waits for that many bytes
        size_n = int(size, 16)
        if size_n == 0:  # the last chunk; trailers end at an empty line
            rest = data[line_end + 2:]
            if rest.startswith(b"\r\n") or b"\r\n\r\n" in rest:
                return READY
            return BAD_CHUNK if len(rest) > HEAD_CAP else WAIT
        total += size_n
        if total > max_body:  # what the app answers once it has read max_body + 1 bytes, said before they come
            return Refusal(413, "Request Entity Too Large", f"request bodies are limited to {max_body} bytes; "
                                                            "this API takes its parameters in the URL")
        position = line_end + 2 + size_n + 2
        if position > len(data):
            return WAIT


class _Answer:
    """Stands in for a client socket while a thread writes an answer: what the socket does not take at once
    is kept in ``unsent``, for the event loop to send; the thread never waits on the client."""

    def __init__(self, sock):
        self._sock = sock
        self.unsent = bytearray()

    def sendall(self, data):
        if not self.unsent:  # else in order, after what is already waiting
            try:
                data = memoryview(data)[self._sock.send(data, socket.MSG_DONTWAIT):]
            except (BlockingIOError, InterruptedError):
                pass
        self.unsent += data

    def send(self, data):
        self.sendall(data)
        return len(data)

    def sendfile(self, file, offset=0, count=None):
        file.seek(offset)
        self.sendall(file.read(count))

    def __getattr__(self, name):
        return getattr(self._sock, name)


class _Capture:
    """Stands in for a client socket while gunicorn writes its own error page, so it can be rewritten."""

    def __init__(self, sock):
        self._sock = sock
        self.data = b""

    def gettimeout(self):
        return 0.0

    def setblocking(self, flag):
        pass

    def sendall(self, data):
        self.data += bytes(data)

    def send(self, data):
        self.data += bytes(data)
        return len(data)

    def __getattr__(self, name):
        return getattr(self._sock, name)


def error_bytes(status: int, reason: str, message: str, path: str) -> bytes:
    """A whole HTTP answer in the app's error shape, for a request the app never saw."""
    code = reason.lower().replace(" ", "_") or "error"
    as_json = is_json_path(path)
    body = plain_error(status, code, message, as_json)
    head = [f"HTTP/1.1 {status} {reason}", "Connection: close",
            f"Content-Type: {'application/json' if as_json else 'text/html; charset=utf-8'}",
            f"Content-Length: {len(body)}", *(f"{name}: {value}" for name, value in SECURITY_HEADERS.items())]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def path_of(first_line: bytes) -> str:
    """The path of a request line (``GET /api/v1/search?q=x HTTP/1.1``), or "" if there is none."""
    parts = first_line.split(b" ")
    if len(parts) < 2:
        return ""
    target = parts[1].decode("latin-1")
    if not target.startswith("/"):
        try:
            return urlsplit(target).path
        except ValueError:
            return ""
    return target.split("?", 1)[0]


# This worker is an adapter over gunicorn's ThreadWorker internals, locked to the version it was written and tested
# against (pyproject.toml and requirements.txt pin it). ``ADAPTS`` names what it overrides or calls on the base, with
# the parameters it relies on: tests/test_worker_contract.py checks them against the installed gunicorn, so an
# upgrade that moves them fails there, by name, rather than in production.
GUNICORN_VERSION = "27.0.1"
ADAPTS = {"__init__": "(self, *args, **kwargs)", "load_wsgi": "(self)", "enqueue_req": "(self, conn)",
          "finish_request": "(self, conn, fs)", "murder_pending": "(self)", "handle": "(self, conn)",
          "_keepalive_after": "(self, conn, keepalive)", "handle_error": "(self, req, client, addr, exc)",
          "handle_quit": "(self, sig, frame)"}
ADAPTS_STATE = ("poller", "nr_conns")  # the base's attributes it reads (set in ThreadWorker.init_process)


class RequestWorker(ThreadWorker):
    """gthread, except that a connection reaches a thread only with a whole request read."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reading: deque = deque()    # connections whose request is being read, oldest deadline first
        self.writing: deque = deque()    # connections whose answer is being sent, oldest deadline first
        self.lingering: deque = deque()  # connections being closed, oldest deadline first
        self.first_lines = threading.local()
        self.max_body = DEFAULT_MAX_BODY
        self.quitting = False

    def load_wsgi(self):
        super().load_wsgi()
        settings = getattr(self.wsgi, "config", {}).get("MEDSEARCH")  # the app's AppSettings
        self.max_body = settings.server.max_body_bytes if settings is not None else DEFAULT_MAX_BODY

    def handle_quit(self, sig, frame):
        """Stop at once on the first SIGINT or SIGQUIT; ignore the ones after it.

        Ctrl-C signals a worker twice: SIGINT from the terminal (to the whole process group), then SIGQUIT from
        the arbiter. gthread's handler ran again wherever the second signal landed: inside the first one's
        ``tpool.shutdown``, which holds the thread pool's lock (a plain Lock), it waited on that lock forever and
        the arbiter killed the worker after ``graceful_timeout`` (30 s, with an error line); inside the exit
        hook, it ended the worker before its ``os._exit``. The pool is left alone (a signal handled while this
        thread holds its lock in ``tpool.submit`` would wait the same way): the exit hook ends the process, its
        threads with it.
        """
        if self.quitting:
            return
        self.quitting = True
        base.Worker.handle_quit(self, sig, frame)  # alive = False, the worker_int hook, then sys.exit(0)

    # -- reading on the event loop ---------------------------------------------------------
    def enqueue_req(self, conn):
        """Read the connection's next request on the event loop; a thread takes it when it is complete."""
        if self.cfg.is_ssl or negotiation.prior_knowledge_allowed(self.cfg, conn.client):
            return super().enqueue_req(conn)
        if not hasattr(conn, "medsearch"):  # a new connection: bound what a thread may wait on it
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", RECEIVE_TIMEOUT, 0))
            if hasattr(socket, "TCP_NOTSENT_LOWAT"):
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NOTSENT_LOWAT, KERNEL_UNSENT)
        held = conn.parser.unreader.take_buffered() if conn.parser is not None else b""  # pipelined bytes
        conn.medsearch = _Waiting(held, time.monotonic() + REQUEST_TIMEOUT)
        if held and self._advance(conn):
            return
        conn.sock.setblocking(False)
        self.reading.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))

    @staticmethod
    def _receive(conn) -> bytes | None:
        """What a ready socket holds: b"" when the client left or reset, None when nothing is there after all."""
        try:
            return conn.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            return b""

    def _on_readable(self, conn, _sock):
        data = self._receive(conn)
        if data is None:
            return
        if not data:  # the client left (or reset) before finishing a request
            self._stop_reading(conn)
            self._close(conn)
            return
        conn.medsearch.buffer += data
        self._advance(conn, registered=True)

    def _advance(self, conn, registered: bool = False) -> bool:
        """Hand the request on if its bytes are enough; False while more are needed."""
        state = request_state(conn.medsearch.buffer, self.cfg.limit_request_line, self.max_body)
        if state == WAIT:
            return False
        if registered:
            self._stop_reading(conn)
        if isinstance(state, Refusal):
            first_line = bytes(conn.medsearch.buffer[:conn.medsearch.buffer.find(b"\r\n")][:2048])
            self.log.warning("Invalid request from ip=%s: %s", conn.client[0] if isinstance(conn.client, tuple)
                             else conn.client, state.message)
            self._send_now(conn, error_bytes(*state, path_of(first_line)))
            self._linger(conn)
            return True
        buffer = bytes(conn.medsearch.buffer)
        conn.medsearch_close = state == READY_THEN_CLOSE
        conn.medsearch_first_line = buffer[:buffer.find(b"\r\n")][:2048] if b"\r\n" in buffer else buffer[:2048]
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        conn.parser.unreader.unread(buffer)
        conn.data_ready = True  # gthread's handle() must not wait for data: it is all here
        super().enqueue_req(conn)
        return True

    def _stop_reading(self, conn):
        self._stop(conn, self.reading)

    def _stop(self, conn, waiting: deque):
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        try:
            waiting.remove(conn)
        except ValueError:
            pass

    def _close(self, conn):
        self.nr_conns -= 1
        conn.close()

    def _send_now(self, conn, data: bytes):
        try:
            conn.sock.setblocking(False)
            conn.sock.send(data)  # a small answer; whatever does not fit at once is dropped with the client
        except OSError:
            pass

    # -- sending and closing on the event loop ----------------------------------------------------
    def finish_request(self, conn, fs):
        """The rest of an answer is sent on the event loop, before the connection's next request is read;
        a connection to close lingers there (gthread's graceful close waits up to 2 s on the loop itself,
        for every client that does not close its side)."""
        try:
            result = fs.result() if not fs.cancelled() else False
        except Exception:
            self._close(conn)
            return
        if getattr(conn, "unsent", None):
            self._send_later(conn, fs)
            return
        if result is False or result is None:
            self._linger(conn)
            return
        super().finish_request(conn, fs)

    def _send_later(self, conn, fs):
        """Send ``conn.unsent`` as the client takes it, within ``SEND_TIMEOUT``; then finish as the thread said."""
        conn.medsearch, conn.unsent = _Waiting(conn.unsent, time.monotonic() + SEND_TIMEOUT), None
        conn.medsearch_done = fs
        try:
            conn.sock.setblocking(False)
            self.poller.register(conn.sock, selectors.EVENT_WRITE, partial(self._on_writable, conn))
        except (OSError, ValueError):  # closed on the thread (an error after the headers were sent)
            self._close(conn)
            return
        self.writing.append(conn)

    def _on_writable(self, conn, _sock):
        try:
            sent = conn.sock.send(conn.medsearch.buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # the client left
            self._stop(conn, self.writing)
            self._close(conn)
            return
        del conn.medsearch.buffer[:sent]
        if not conn.medsearch.buffer:
            self._stop(conn, self.writing)
            self.finish_request(conn, conn.medsearch_done)

    def _linger(self, conn):
        """Send FIN, then read and drop what the client still sends until it closes, for ``LINGER`` s at most."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
            conn.sock.setblocking(False)
        except OSError:
            self._close(conn)
            return
        conn.medsearch = _Waiting(b"", time.monotonic() + LINGER)
        self.lingering.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_linger_readable, conn))

    def _on_linger_readable(self, conn, _sock):
        data = self._receive(conn)
        if data is None:
            return
        conn.medsearch.buffer += data[:1]  # counts the reads, not the bytes
        if not data or len(conn.medsearch.buffer) > 16:
            self._stop(conn, self.lingering)
            self._close(conn)

    def murder_pending(self):
        """Also drop requests not complete and answers not sent by their deadline, and end lingering closes."""
        super().murder_pending()
        now = time.monotonic()
        for waiting in (self.reading, self.writing, self.lingering):
            while waiting and waiting[0].medsearch.deadline <= now:
                conn = waiting.popleft()
                try:
                    self.poller.unregister(conn.sock)
                    if waiting is self.writing:  # a reset: a FIN would wait behind the answer in the kernel
                        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except (KeyError, ValueError, OSError):
                    pass
                self._close(conn)

    # -- on a thread -------------------------------------------------------------------------
    def handle(self, conn):
        self.first_lines.value = getattr(conn, "medsearch_first_line", b"")
        if not hasattr(conn, "medsearch"):  # TLS or HTTP/2: gthread's own code path
            return super().handle(conn)
        client, conn.sock = conn.sock, _Answer(conn.sock)
        try:
            return super().handle(conn)
        finally:
            conn.sock, conn.unsent = client, conn.sock.unsent

    def _keepalive_after(self, conn, keepalive):
        if getattr(conn, "medsearch_close", False):
            return False  # the body was refused unread: where the next request starts is unknown
        return super()._keepalive_after(conn, keepalive)

    def handle_error(self, req, client, addr, exc):
        """gunicorn's own answer (its status, log line and access line), rewritten in the app's error shape."""
        capture = _Capture(client)
        super().handle_error(req, capture, addr, exc)
        head, _, page = capture.data.partition(b"\r\n\r\n")
        status_line = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
        status = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else 500
        reason = status_line[2] if len(status_line) > 2 else "Error"
        found = re.search(rb"</h1>\s*(.*?)\s*</body>", page, re.S)
        detail = html.unescape(found.group(1).decode("latin-1")) if found else ""
        message = _MESSAGES.get(status, "the request could not be read")
        if detail and status < 500:
            message += f" ({detail[:200]})"
        path = getattr(req, "path", None) or path_of(getattr(self.first_lines, "value", b""))
        try:
            util.write_nonblock(client, error_bytes(status, reason, message, path or ""))
        except Exception:
            self.log.debug("Failed to send error message.")


_MESSAGES = {
    400: "this is not a request the server can read",
    403: "this request is not allowed",
    414: "the address is too long",
    417: "the server cannot meet the request's Expect header",
    431: "the request's header fields are too many or too large",
    500: "something went wrong on our side; please try again",
    501: "the server does not support this transfer coding",
}


def production_app():
    """The app gunicorn serves (``wsgi_app`` in gunicorn.conf.py): a missing or broken index stops the server
    with one ``error:`` line, as ``python -m search_app serve`` does, not a traceback."""
    from indexer.errors import MedsearchError

    from . import create_app

    try:
        return create_app()
    except MedsearchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
