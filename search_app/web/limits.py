"""Limits on what one client may ask: a per-client rate limit, a body size limit, clean paths.

The rate limit is a token bucket per client address, kept in a small table of shared
memory made before the server forks its workers, so that N workers enforce one limit
rather than N separate ones (flask-limiter's offline storage is per process). The table
is guarded by a thread lock and a POSIX record lock, which the OS releases if a worker dies
holding it.
"""
from __future__ import annotations

import fcntl
import hashlib
import math
import mmap
import tempfile
import threading
import time

import numpy as np
from flask import Flask, abort, request
from werkzeug.exceptions import TooManyRequests
from werkzeug.middleware.proxy_fix import ProxyFix

from indexer.errors import BadQuery

from . import hosts
from .settings import ServerSettings

SLOTS = 4096   # clients tracked at once; the least recently seen one in a probe window makes room
PROBE = 16     # slots searched for a client before evicting
MAX_PATH_CHARS = 2048
EXEMPT = ("/healthz", "/static/")  # load balancers and assets are never throttled
_SLOT = np.dtype([("key", "<u8"), ("tokens", "<f8"), ("stamp", "<f8")])


class RateLimiter:
    """Token buckets per client: ``burst`` requests at once, refilled at ``per_minute`` a minute."""

    def __init__(self, per_minute: float, burst: int, slots: int = SLOTS):
        self.rate = per_minute / 60.0
        self.burst = float(max(1, burst))
        self._file = tempfile.TemporaryFile()  # unlinked at once; mapped shared, so forked workers see one table
        self._file.truncate(slots * _SLOT.itemsize)
        self._map = mmap.mmap(self._file.fileno(), slots * _SLOT.itemsize)
        self._table = np.frombuffer(self._map, dtype=_SLOT)
        self._thread_lock = threading.Lock()

    def take(self, client: str, now: float | None = None) -> float:
        """Spend one token of ``client``'s bucket: 0.0 if allowed, else seconds until a token is back."""
        key = int.from_bytes(hashlib.blake2b(client.encode("utf-8", "replace"), digest_size=8).digest(), "little") or 1
        now = time.monotonic() if now is None else now  # CLOCK_MONOTONIC is one clock for every process
        with self._thread_lock:
            fcntl.lockf(self._file, fcntl.LOCK_EX)
            try:
                slot = self._slot(key)
                tokens = self.burst if slot["key"] != key else min(
                    self.burst, float(slot["tokens"]) + (now - float(slot["stamp"])) * self.rate)
                slot["key"], slot["stamp"] = key, now
                if tokens >= 1.0:
                    slot["tokens"] = tokens - 1.0
                    return 0.0
                slot["tokens"] = tokens
                return (1.0 - tokens) / self.rate if self.rate > 0 else math.inf
            finally:
                fcntl.lockf(self._file, fcntl.LOCK_UN)

    def _slot(self, key: int) -> np.ndarray:
        start = key % len(self._table)
        window = [(start + i) % len(self._table) for i in range(PROBE)]
        for i in window:
            if self._table[i]["key"] == key:
                return self._table[i:i + 1][0]
        for i in window:
            if self._table[i]["key"] == 0:
                return self._table[i:i + 1][0]
        oldest = min(window, key=lambda i: self._table[i]["stamp"])
        return self._table[oldest:oldest + 1][0]


def check_path(path: str) -> None:
    """Refuse paths no route of ours takes: NUL or control characters, backslashes, ``..`` segments, huge ones."""
    if len(path) > MAX_PATH_CHARS:
        raise BadQuery("bad_path", f"the address is {len(path)} characters long; the limit is {MAX_PATH_CHARS}")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in path) or "\\" in path or ".." in path.split("/"):
        raise BadQuery("bad_path", "the address holds characters or '..' segments that no page or API route takes")


def _drain(stream, limit: int) -> int:
    """Read and drop a body, stopping once it is over ``limit`` bytes; the bytes read.

    A body the server cannot decode (a chunk size that is not hexadecimal, a missing chunk end,
    a client gone mid-body) is the client's error: 400, never a 500.
    """
    total = 0
    while total <= limit:
        try:
            chunk = stream.read(min(1 << 16, limit + 1 - total))
        except Exception as exc:  # gunicorn's InvalidChunkSize & co., werkzeug's ClientDisconnected, a timeout
            raise BadQuery("bad_body", "the request body could not be read: it is not valid chunked transfer "
                                       f"coding or it ended early ({type(exc).__name__})") from None
        if not chunk:
            break
        total += len(chunk)
    return total


def install(app: Flask, server: ServerSettings) -> None:
    """Check every request's Host, path and body size, and throttle clients when a rate is set."""
    if server.trusted_proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=server.trusted_proxies)  # type: ignore[method-assign]
    hosts.install(app, server)  # first: its check is the first thing a request meets
    max_body = server.max_body_bytes
    app.config["MAX_CONTENT_LENGTH"] = max_body
    limiter = RateLimiter(server.rate_limit_per_minute, server.rate_limit_burst) \
        if server.rate_limit_per_minute > 0 else None

    @app.before_request
    def limit_request():
        check_path(request.path)
        if request.content_length is not None and request.content_length > max_body:
            abort(413, description=f"request bodies are limited to {max_body} bytes; "
                                   "this API takes its parameters in the URL")
        if request.content_length is None and request.environ.get("wsgi.input_terminated"):
            # A body sent without a length (chunked): read it, at most one byte past the limit, so that an
            # endless body gets 413 instead of holding a worker.
            if _drain(request.environ["wsgi.input"], max_body) > max_body:
                abort(413, description=f"request bodies are limited to {max_body} bytes; "
                                       "this API takes its parameters in the URL")
        if limiter is not None and not request.path.startswith(EXEMPT):
            wait = limiter.take(request.remote_addr or "-")
            if wait:
                seconds = max(1, math.ceil(wait))
                raise TooManyRequests(description=f"too many requests from your address; try again in {seconds} s",
                                      retry_after=seconds)
