"""Hostile HTTP against the real production server (gunicorn from gunicorn.conf.py) over raw sockets on 127.0.0.1.

Hosts, chunked bodies, gunicorn's own refusals, a seeded fuzz of the raw request layer, 100 slow
clients and 8 that never read their answers: no answer is a 5xx, every answer has the security
headers and the one error shape, and /healthz keeps answering while slow clients hold connections.
"""
from __future__ import annotations

import json
import random
import select
import socket
import threading
import time

import pytest

from .test_gunicorn import Server

SECURITY = ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy")
BAD_HOSTS = [b"a" * 64 + b".example.org", b"a..b", b"xn--zz", b"under_score.org", b"[::1", b"ex ample.org",
             b"a." * 130 + b"org", b"host:99999", b"host:", b"caf\xe9.org", b".", b"-lead.org", b"evil.org:80:80"]
APP_REFUSES = BAD_HOSTS[:3]
ROUTES = [b"/", b"/search?q=cramps", b"/articles/ibuprofen", b"/api/v1/search?q=cramps", b"/api/search?q=cramps",
          b"/api/v1/articles/ibuprofen", b"/healthz", b"/suggest?q=ibu", b"/api/docs", b"/no-such-page",
          b"/static/style.css"]
JSON_ROUTES = (b"/api/", b"/healthz", b"/suggest")


def exchange(port: int, data: bytes, timeout: float = 20) -> bytes:
    """Send raw bytes, read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        out = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
    return out


def parse(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and body of an answer, after any interim 1xx (a 100 Continue)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    while head.startswith(b"HTTP/1.1 1"):
        head, _, body = body.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1."), raw[:200]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def get(port: int, target: bytes, host: bytes = b"127.0.0.1", extra: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    return parse(exchange(port, b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n" +
                          extra + b"\r\n"))


def assert_error_shape(target: bytes, status: int, headers: dict, body: bytes, code: str | None = None) -> None:
    assert all(name in headers for name in SECURITY), (target, headers)
    if target.startswith(JSON_ROUTES):
        assert headers["content-type"].startswith("application/json"), (target, headers)
        error = json.loads(body)["error"]
        assert error["message"] and (code is None or error["code"] == code), error
    else:
        assert headers["content-type"].startswith("text/html"), (target, headers)
        assert b"Please check your request" in body or b"Page not found" in body, body[:300]


@pytest.fixture(scope="module")
def servers(index_dir, tmp_path_factory):
    """The default server (no allow-list) and one with MEDSEARCH_ALLOWED_HOSTS set."""
    plain = Server(index_dir, tmp_path_factory.mktemp("plain"))
    listed = Server(index_dir, tmp_path_factory.mktemp("listed"),
                    env={"MEDSEARCH_ALLOWED_HOSTS": "medsearch.example.org,.example.net"})
    try:
        yield plain, listed
    finally:
        plain.stop()
        listed.stop()


def port(server: Server) -> int:
    return int(server.base.rpartition(":")[2])


def errors_logged(server: Server) -> list[dict]:
    return [line for line in server.lines(server.err) if line["level"] in ("error", "critical")]


def test_bad_hosts_get_400_in_the_error_shape_on_every_route(servers):
    plain, _ = servers
    for host in BAD_HOSTS:
        for target in ROUTES:
            status, headers, body = get(port(plain), target, host)
            assert status == 400, (host, target, status, body[:300])
            # The app refuses a bad name; gunicorn refuses bytes no header may hold (a space, a NUL) first.
            assert_error_shape(target, status, headers, body, "bad_host" if host in APP_REFUSES else None)
    # A request with no Host at all: refused in HTTP/1.1, answered in HTTP/1.0.
    status, headers, body = parse(exchange(port(plain), b"GET /api/v1/search?q=cramps HTTP/1.1\r\n\r\n"))
    assert status == 400 and json.loads(body)["error"]["code"] == "bad_host"
    status, _, _ = parse(exchange(port(plain), b"GET /healthz HTTP/1.0\r\n\r\n"))
    assert status == 200
    assert not errors_logged(plain)


def test_citations_never_use_the_clients_host(servers):
    plain, listed = servers
    # No public_url and no allow-list: any well-formed Host is answered, but absolute URLs use the listening address.
    status, _, body = get(port(plain), b"/api/v1/search?q=ibuprofen+indigestion&k=1", b"evil.example")
    top = json.loads(body)["results"][0]
    assert status == 200 and top["permalink_url"].startswith(f"http://127.0.0.1:{port(plain)}/articles/")
    assert "evil" not in body.decode()
    status, _, page = get(port(plain), b"/api/docs", b"evil.example")
    assert status == 200 and b"evil" not in page and f"http://127.0.0.1:{port(plain)}/api/v1/search".encode() in page
    # With an allow-list: a listed host (or a subdomain of a listed .domain) is answered and used; others are 400.
    status, _, body = get(port(listed), b"/api/v1/search?q=ibuprofen+indigestion&k=1", b"MedSearch.Example.org")
    assert status == 200
    assert json.loads(body)["results"][0]["permalink_url"].startswith("http://medsearch.example.org/articles/")
    assert get(port(listed), b"/healthz", b"www.example.net:8080")[0] == 200
    for host in (b"evil.example", b"example.org", b"medsearch.example.org.evil.net", b"127.0.0.1"):
        status, headers, body = get(port(listed), b"/search?q=cramps", host)
        assert status == 400 and b"does not answer for the host" in body, host
        assert_error_shape(b"/search", status, headers, body)


@pytest.mark.parametrize("body", [
    b"zz\r\nabc\r\n0\r\n\r\n",            # a chunk size that is not hexadecimal
    b"-1\r\nabc\r\n0\r\n\r\n",
    b"ffffffffffffffffff\r\nabc\r\n0\r\n\r\n",  # a size no body has
    b"5\r\nabcdefgh\r\n0\r\n\r\n",        # more data than the size said, no chunk end where it should be
    b"3;\x00=\x01\r\nabc\r\n0\r\n\r\n",   # a control character in a chunk extension
])
def test_malformed_chunked_bodies_get_400_not_500(servers, body):
    plain, _ = servers
    for target in (b"/api/v1/search?q=cramps", b"/search?q=cramps"):
        raw = exchange(port(plain), b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked"
                       b"\r\nConnection: close\r\n\r\n" + body)
        status, headers, answer = parse(raw)
        assert status == 400, (body, answer[:300])
        assert_error_shape(target, status, headers, answer)
    # A well-formed chunked body is read (and ignored: parameters travel in the URL).
    status, _, _ = parse(exchange(port(plain), b"GET /api/v1/search?q=cramps HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                  b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n"))
    assert status == 200
    assert not errors_logged(plain)


@pytest.mark.parametrize("body, status", [
    (b"ffffffffffffffffff\r\nabc", 400),  # a chunk size no body has
    (b"ffffffff\r\nabc", 413),            # 4 GiB, over max_body_bytes
    (b"a" * 2000, 400),                   # a chunk size line that never ends
])
def test_a_chunked_body_no_thread_could_finish_is_refused_at_once(servers, body, status):
    plain, _ = servers
    # The client sends nothing more and waits: the worker answered only after its 5 s receive timeout.
    raw = exchange(port(plain), b"GET /api/v1/search?q=cramps HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n" + body, timeout=2)
    answer_status, headers, answer = parse(raw)
    assert answer_status == status, answer[:300]
    assert_error_shape(b"/api/v1/search", status, headers, answer)
    assert not errors_logged(plain)


def test_the_servers_own_refusals_come_in_the_error_shape(servers):
    plain, _ = servers
    cases = [
        (b"GET /api/v1/search?q=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"/api/v1/search", 414),
        (b"GET /search?q=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"/search", 414),
        (b"GET /api/v1/search?q=x HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", b"/api/v1/search", 431),
        (b"GET /api/v1/search?q=x HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(60)) + b"\r\n",
         b"/api/v1/search", 431),
        (b"GET /api/v1/search?q=x HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"b" * 8000)
                                                                     for i in range(5)) + b"\r\n", b"/api/v1/search", 431),
        (b"GET /api/v1/search?q=x HTTP/1.1\r\nHost x\r\n\r\n", b"/api/v1/search", 400),
        (b"GET /search?q=x HTTP/1.1\r\nHo\x00st: x\r\n\r\n", b"/search", 400),
        (b"GET /api/v1/search?q=x HTTP/9.9\r\nHost: x\r\n\r\n", b"/api/v1/search", 400),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcde", b"/healthz", 400),
        (b"GET /api/v1/search?q=x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", b"/api/v1/search", 400),
    ]
    for request, target, expected in cases:
        status, headers, body = parse(exchange(port(plain), request))
        assert status == expected, (request[:80], status, body[:300])
        assert_error_shape(target, status, headers, body)
    assert not errors_logged(plain)


def _fuzz_request(rng: random.Random) -> tuple[bytes, bytes, bytes]:
    """One random request: (method, target, whole request bytes); always complete, never waiting on the server."""
    method = rng.choice([b"GET"] * 6 + [b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"TRACE", b"PATCH", b"get",
                                        b"G\xc9T", b"X" * 40])
    path = rng.choice([r.split(b"?")[0] for r in ROUTES] + [b"/api/v1/passages/ibuprofen:x:0", b"/api/v1/openapi.json",
                                                           b"/articles/" + bytes(rng.randrange(33, 256) for _ in range(5))])
    pieces = [b"q=" + rng.choice([b"cramps", b"%zz", b"%", b"%c0%af", b"%ed%a0%80", b"%ff%fe", b"\xe9\xff", b"%00",
                                  b"a+b", b"%E2%80%AE", bytes(rng.randrange(33, 127) for _ in range(rng.randrange(30)))]),
              b"k=" + rng.choice([b"5", b"-1", b"%d9%a5", b"5_0", b"1e3", b"9" * 50, b""]),
              rng.choice([b"offset=x", b"mode=zz", b"drug=%00", b"section_type=\xff", b"spell=maybe", b"build=..", b""])]
    target = path + (b"?" + b"&".join(p for p in pieces if p) if rng.random() < 0.8 else b"")
    host = rng.choice([b"127.0.0.1", b"localhost:1", b"medsearch.example.org"] * 3 + BAD_HOSTS)
    headers = [b"Host: " + host, b"Connection: close"]
    for _ in range(rng.randrange(5)):
        headers.append(rng.choice([
            b"Accept-Language: \xff\xfe", b"Cookie: a=\xe9; b", b"Content-Type: multipart/form-data; boundary=",
            b"Content-Type: application/x-www-form-urlencoded", b"X-Forwarded-For: not an address, ::zz",
            b"X-Forwarded-Host: evil.example", b"X-Forwarded-Proto: gopher", b"If-Modified-Since: yesterday",
            b"Range: bytes=-x", b"Accept-Encoding: gzip;q=x", b"Authorization: Basic !!!", b"Accept: */*;q=\xff",
            b"Referer: javascript:alert(1)", b"User-Agent: " + bytes(rng.randrange(32, 256) for _ in range(20)),
            b"Origin: null", b"X-Empty:", b"Forwarded: for=\"[zz\"", b"Expect: 100-continue"]))
    body = b""
    if rng.random() < 0.3:
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        if rng.random() < 0.5:
            headers.append(b"Content-Length: %d" % len(data))
            body = data
        else:
            headers.append(b"Transfer-Encoding: chunked")
            body = rng.choice([b"%x\r\n" % len(data) + data + b"\r\n0\r\n\r\n", b"zz\r\n" + data + b"\r\n0\r\n\r\n"])
    return method, target, method + b" " + target + b" HTTP/1.1\r\n" + b"\r\n".join(headers) + b"\r\n\r\n" + body


def test_a_fuzz_of_the_raw_http_layer_gets_no_5xx(servers):
    plain, listed = servers
    rng = random.Random(18)
    seen: dict[int, int] = {}
    for i in range(300):
        method, target, request = _fuzz_request(rng)
        raw = exchange(port(plain if i % 2 else listed), request)
        assert raw, request[:200]
        status, headers, body = parse(raw)
        seen[status] = seen.get(status, 0) + 1
        assert status < 500, (request[:300], body[:300])
        assert all(name in headers for name in SECURITY), (request[:300], headers)
        if status >= 400 and method == b"GET" and target.startswith(JSON_ROUTES):
            assert json.loads(body)["error"]["code"], (request[:300], body[:300])
    assert seen.get(200) and seen.get(400) and len(seen) >= 4, seen  # the fuzz reached the app and its refusals
    assert not errors_logged(plain) and not errors_logged(listed)


class SlowClients:
    """``count`` connections held open: a third send nothing, a third trickle a header line a second,
    a third trickle a body byte a second."""

    def __init__(self, port: int, count: int):
        self.port, self.stopping, self.open, self.lock = port, threading.Event(), 0, threading.Lock()
        self.threads = [threading.Thread(target=self._hold, args=(i % 3,), daemon=True) for i in range(count)]
        for thread in self.threads:
            thread.start()

    def _hold(self, kind: int) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            with self.lock:
                self.open += 1
            try:
                if kind == 1:
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                elif kind == 2:
                    sock.sendall(b"POST /api/v1/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 9000\r\n\r\n")
                sock.settimeout(1.0)
                while not self.stopping.is_set():
                    try:
                        if not sock.recv(1024):
                            break  # dropped by the server
                    except TimeoutError:
                        pass
                    if kind:
                        sock.sendall(b"X-Slow: 1\r\n" if kind == 1 else b"x")
            except OSError:
                pass
            finally:
                with self.lock:
                    self.open -= 1

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=10)


def test_healthz_and_searches_answer_while_100_slow_clients_hold_connections(servers):
    plain, _ = servers
    clients = SlowClients(port(plain), 100)
    try:
        deadline = time.monotonic() + 10
        while clients.open < 100 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert clients.open == 100
        time.sleep(1)  # every slow client has sent what it sends first
        answered = []
        for i in range(20):  # each within 5 s; gunicorn's stock gthread answers none within 30 s (bench/README.md)
            target = b"/healthz" if i % 4 else b"/api/v1/search?q=cramps&k=2"
            with socket.create_connection(("127.0.0.1", port(plain)), timeout=5) as sock:
                sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                raw = b""
                while chunk := sock.recv(65536):
                    raw += chunk
            answered.append(parse(raw)[0])
        assert answered == [200] * 20
        assert clients.open >= 95  # still held while those were answered (a request has 10 s to arrive whole)
        # A request that never completes is dropped after its 10 s: the slow clients do not hold sockets forever.
        deadline = time.monotonic() + 20
        while clients.open and time.monotonic() < deadline:
            time.sleep(0.2)
        assert clients.open == 0
    finally:
        clients.stop()
    assert not errors_logged(plain)


def hung_up(sock: socket.socket) -> bool:
    """Whether the server closed the connection, seen without reading what it sent."""
    poller = select.poll()
    poller.register(sock, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
    return bool(poller.poll(0))


def test_clients_that_never_read_their_answers_hold_no_thread(servers):
    plain, _ = servers
    non_readers = []
    try:
        for _ in range(8):  # as many as the 2 workers x 2 threads, twice over
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.settimeout(5)
            sock.connect(("127.0.0.1", port(plain)))
            non_readers.append(sock)
            # More large answers than the kernel buffers of both sides hold (about 40 KiB each here).
            sock.sendall(b"GET /api/v1/search?q=missed+dose&k=50 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 200)
        time.sleep(3)  # their answers fill the buffers: the old worker's threads then waited 20 s on each
        started = time.monotonic()
        answered = []
        for i in range(10):
            target = b"/api/v1/search?q=cramps&k=2" if i % 2 else b"/healthz"
            answered.append(parse(exchange(port(plain), b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                           b"Connection: close\r\n\r\n", timeout=5))[0])
        assert answered == [200] * 10
        assert not any(hung_up(sock) for sock in non_readers)  # still held while those were answered
        # An answer not taken within the worker's 20 s send timeout: the connection is dropped.
        deadline = started + 30
        while not all(hung_up(sock) for sock in non_readers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert all(hung_up(sock) for sock in non_readers)
    finally:
        for sock in non_readers:
            sock.close()
    assert not errors_logged(plain)
